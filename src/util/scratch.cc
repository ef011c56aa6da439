#include "simtune/scratch.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

namespace simtune {
namespace {

namespace fs = std::filesystem;

std::mutex g_live_mu;
std::set<std::string>& LiveDirs() {
  static auto* dirs = new std::set<std::string>;   // never destroyed: used at exit
  return *dirs;
}

// remove_all, retried briefly: a child killed a moment ago may still be closing its files.
void RemoveTree(const fs::path& path) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (!ec || !fs::exists(path, ec)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

}  // namespace

ScratchDir::ScratchDir(const std::string& tag) {
  std::error_code ec;
  fs::path tmp = fs::temp_directory_path(ec);
  if (ec) return;
  std::string tmpl =
      (tmp / ("simtune-" + std::to_string(getpid()) + "-" + tag + "-XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) return;
  lock_fd_ = open(tmpl.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lock_fd_ < 0 || flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (lock_fd_ >= 0) close(lock_fd_);
    lock_fd_ = -1;
    fs::remove_all(tmpl, ec);
    return;
  }
  path_ = tmpl;
  std::lock_guard<std::mutex> lock(g_live_mu);
  LiveDirs().insert(path_.string());
}

ScratchDir::~ScratchDir() {
  if (path_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(g_live_mu);
    LiveDirs().erase(path_.string());
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
  if (lock_fd_ >= 0) close(lock_fd_);
}

void RemoveLiveScratchDirs() {
  std::lock_guard<std::mutex> lock(g_live_mu);
  for (const auto& dir : LiveDirs()) RemoveTree(dir);
  LiveDirs().clear();
}

size_t SweepStaleScratchDirs(const fs::path& dir) {
  static const std::regex kName("simtune-([0-9]{1,10})-[A-Za-z0-9-]+-[A-Za-z0-9]{6}");
  std::error_code ec;
  fs::path where = dir.empty() ? fs::temp_directory_path(ec) : dir;
  if (ec) return 0;
  size_t removed = 0;
  for (fs::directory_iterator it(where, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::smatch m;
    if (!std::regex_match(name, m, kName)) continue;
    long pid = std::stol(m[1].str());
    if (pid == getpid()) continue;
    struct stat st;
    if (lstat(it->path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid())
      continue;
    // The owner is gone: its pid does not exist (here) and nobody holds its lock (anywhere).
    if (pid > 0 && pid <= INT32_MAX && !(kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH))
      continue;
    int fd = open(it->path().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      std::error_code rm;
      fs::remove_all(it->path(), rm);
      removed += !rm;
    }
    close(fd);
  }
  return removed;
}

}  // namespace simtune
