// The artifact cache's size and its pruning, least recently used first (`simtune cache`).
// Layout in builder.cc (Builder); a build that reuses an entry or a shared object touches
// it, so that an item's modification time is its last use.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <regex>

#include "simtune/build.h"
#include "simtune/strings.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

enum class Kind { kEntry, kObject, kScratch };

struct Item {
  fs::path path;
  Kind kind;
  bool failed = false;      // an entry without artifact.elf
  int64_t bytes = 0;
  double age_s = 0;         // since its last use
};

bool IsHex(const std::string& s, size_t n) {
  if (s.size() != n) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Allocated bytes of a file or a folder tree (links not followed); 0 where unreadable.
int64_t DiskBytes(const fs::path& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return 0;
  int64_t total = static_cast<int64_t>(st.st_blocks) * 512;
  if (!S_ISDIR(st.st_mode)) return total;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (lstat(it->path().c_str(), &st) == 0) total += static_cast<int64_t>(st.st_blocks) * 512;
  }
  return total;
}

double AgeSeconds(const fs::path& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return 0;
  double mtime = static_cast<double>(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec * 1e-9;
  double now = std::chrono::duration<double>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  return std::max(0.0, now - mtime);
}

void Count(CacheUsage& u, const Item& item) {
  switch (item.kind) {
    case Kind::kEntry:
      ++u.entries;
      if (item.failed) ++u.failed_entries;
      break;
    case Kind::kObject: ++u.objects; break;
    case Kind::kScratch: ++u.scratch; break;
  }
  u.bytes += item.bytes;
}

Result<std::vector<Item>> ListItems(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Error{"artifact cache '" + dir.string() + "': not a folder (--cache)"};
  std::vector<Item> items;
  fs::directory_iterator top(dir, ec);
  if (ec) return Error{"artifact cache '" + dir.string() + "': " + ec.message()};
  for (const auto& shard : top) {
    std::string name = shard.path().filename().string();
    std::error_code ec2;
    if (!shard.is_directory(ec2) || shard.is_symlink(ec2)) continue;
    if (name == "obj") {
      for (const auto& f : fs::directory_iterator(shard.path(), ec2)) {
        std::string fname = f.path().filename().string();
        if (fname.size() == 66 && fname.ends_with(".o") && IsHex(fname.substr(0, 64), 64))
          items.push_back({f.path(), Kind::kObject, false, DiskBytes(f.path()), AgeSeconds(f.path())});
      }
      continue;
    }
    if (!IsHex(name, 2)) continue;
    for (const auto& e : fs::directory_iterator(shard.path(), ec2)) {
      std::string ename = e.path().filename().string();
      std::error_code ec3;
      if (!e.is_directory(ec3) || e.is_symlink(ec3)) continue;
      if (IsHex(ename, 64) && ename.starts_with(name)) {
        bool failed = !fs::exists(e.path() / "artifact.elf", ec3);
        items.push_back({e.path(), Kind::kEntry, failed, DiskBytes(e.path()), AgeSeconds(e.path())});
      } else if (ename.starts_with(".tmp-")) {
        items.push_back({e.path(), Kind::kScratch, false, DiskBytes(e.path()), AgeSeconds(e.path())});
      }
    }
  }
  return items;
}

// Moves the item aside under a scratch name (one rename: readers see it whole or gone),
// then deletes it. Returns whether it is gone.
bool RemoveItem(const Item& item) {
  static std::atomic<uint64_t> counter{0};
  std::error_code ec;
  fs::path doomed = item.path;
  if (item.kind == Kind::kEntry) {
    doomed = item.path.parent_path() / (".tmp-prune-" + std::to_string(getpid()) + "-" +
                                        std::to_string(counter++));
    fs::rename(item.path, doomed, ec);
    if (ec) return false;
  }
  fs::remove_all(doomed, ec);
  return !ec;
}

}  // namespace

Result<CacheUsage> MeasureCache(const fs::path& cache_dir) {
  SIMTUNE_ASSIGN_OR_RETURN(auto items, ListItems(cache_dir));
  CacheUsage u;
  for (const auto& item : items) Count(u, item);
  return u;
}

Result<PruneResult> PruneCache(const fs::path& cache_dir, const PruneOptions& options) {
  if (options.max_bytes < 0)
    return Error{"prune: the size limit must be >= 0; got " + std::to_string(options.max_bytes)};
  SIMTUNE_ASSIGN_OR_RETURN(auto items, ListItems(cache_dir));
  PruneResult r;
  for (const auto& item : items) Count(r.before, item);
  std::vector<bool> gone(items.size(), false);
  int64_t bytes = r.before.bytes;
  auto remove = [&](size_t i) {
    if (!RemoveItem(items[i])) return;
    gone[i] = true;
    Count(r.removed, items[i]);
    bytes -= items[i].bytes;
  };
  // Leftovers of killed builds go first, whatever the limit.
  for (size_t i = 0; i < items.size(); ++i)
    if (items[i].kind == Kind::kScratch && items[i].age_s > options.keep_recent_s) remove(i);
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return items[a].age_s > items[b].age_s; });
  for (size_t i : order) {
    if (bytes <= options.max_bytes) break;
    if (gone[i] || items[i].kind == Kind::kScratch || items[i].age_s <= options.keep_recent_s)
      continue;
    remove(i);
  }
  for (size_t i = 0; i < items.size(); ++i)
    if (!gone[i]) Count(r.after, items[i]);
  return r;
}

std::string FormatBytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (std::fabs(v) >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  else std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

Result<int64_t> ParseBytes(const std::string& text, const std::string& what) {
  static const std::regex re(R"(^\s*([0-9]+(\.[0-9]+)?)\s*(([kKmMgGtT])(i?[bB])?|[bB])?\s*$)");
  std::smatch m;
  if (!std::regex_match(text, m, re))
    return Error{what + ": expected a size such as 4G, 500M or 2048 (bytes); got '" + text + "'"};
  double v = std::stod(m[1].str());
  if (m[4].matched) {
    int power = std::string("kmgt").find(static_cast<char>(std::tolower(m[4].str()[0]))) + 1;
    v *= std::pow(1024.0, power);
  }
  if (v > 9.0e18) return Error{what + ": size too large; got '" + text + "'"};
  return static_cast<int64_t>(v);
}

}  // namespace simtune
