// Scratch folders for runs of external programs (a simulator's statistics file, a staging
// folder for scp), which must not outlive simtune:
//  - a ScratchDir is removed when destroyed;
//  - on SIGINT/SIGTERM/SIGHUP, InstallTerminationHandler (process.h) removes every live one
//    after killing the children that write into them;
//  - one left behind by a simtune that was killed (SIGKILL, a crash, a power cut) is removed
//    by the next simtune's SweepStaleScratchDirs.
// Folders are named <temp dir>/simtune-<pid>-<tag>-XXXXXX ($TMPDIR, else /tmp) and their
// owner holds an exclusive flock on the folder while it lives: the sweep removes a folder
// only when that lock is free and its pid is gone, so a live simtune (in this or another PID
// namespace sharing the folder) never loses its scratch folder.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace simtune {

class ScratchDir {
 public:
  // `tag` says what it is for ("qemu", "ssh-stage"): letters, digits and '-'. path() is
  // empty when the folder could not be created.
  explicit ScratchDir(const std::string& tag);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int lock_fd_ = -1;
};

// Removes the scratch folders in `dir` (default: the temp folder) of simtune processes that
// have ended; returns how many it removed. Cheap (one listing); simtune runs it at start.
size_t SweepStaleScratchDirs(const std::filesystem::path& dir = {});

// Removes every live ScratchDir of this process now (their destructors then do nothing).
// For the termination handler only, after the children using them are dead.
void RemoveLiveScratchDirs();

}  // namespace simtune
