// Native timing reference for the x86 host.
//
// Protocol (why each step): this VM has no performance counters and a noisy neighbour, so a
// single min-of-N is unstable (~50 % between rounds). We therefore
//  - time `inner` back-to-back kernel calls per rep, with inner chosen by the harness so a
//    rep lasts >= min_rep_ns: the clock's resolution and per-call overheads vanish; reps
//    stay short (0.25 ms) so that, on a loaded machine, some of them fall between
//    interruptions and the minimum finds them;
//  - warm up inside the harness (caches, page faults, frequency) before timing;
//  - optionally pin the child to one CPU (cpu=N; off by default, see NativeOptions::cpu);
//  - run `rounds` rounds, each visiting every candidate in a freshly shuffled order
//    (interleaving): slow drifts of the machine's state hit all candidates alike instead of
//    one candidate's whole measurement;
//  - take the minimum rep within a round (noise only ever adds time), then the minimum of
//    the per-round minima across rounds: each round is a fresh process, so a disturbance
//    that lasts (load, or data placed where the kernel runs slower) only ever slows some
//    rounds, possibly most of them; value=median takes their median instead (the protocol
//    before 2026-12-06: it reported such disturbances whenever they hit half the rounds).
// The spread we store is (max - min) / value of the per-round minima: the disagreement
// between rounds, which is what decides whether two candidates can be told apart.
// The protocol's pieces are shared with the ssh reference (src/reference/timing.h); this file
// adds starting the child here and pinning it.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "simtune/files.h"
#include "simtune/process.h"
#include "simtune/reference.h"
#include "simtune/strings.h"
#include "src/reference/builtin.h"
#include "src/reference/timing.h"

namespace simtune {
namespace {

using timing::TimingOptions;

struct NativeOptions {
  TimingOptions timing;             // rounds, reps, min_rep_ns, interleave, timeout, seed
  // -2: last CPU of the machine; -1 (default): no pinning. On a shared machine a pinned
  // child cannot escape a busy core: bench/native_noise measured a 167 % median round
  // spread pinned with 2 ms reps against 31 % unpinned with 0.25 ms reps under load.
  int cpu = -1;
  // A label naming the machine that measures (e.g. machine=server16): kept in the options
  // key, so results of two machines in one store stay apart and resume separately.
  std::string machine;
};

Result<NativeOptions> ParseNativeOptions(const std::string& text) {
  NativeOptions o;
  SIMTUNE_ASSIGN_OR_RETURN(auto items, ParseKeyValues(text, "native reference option"));
  for (const auto& [key, val] : items) {
    std::string what = "native reference option " + key;
    SIMTUNE_ASSIGN_OR_RETURN(bool timing_key, timing::ParseTimingOption(key, val, what, o.timing));
    if (timing_key) continue;
    if (key == "cpu") {
      SIMTUNE_ASSIGN_OR_RETURN(int64_t v, ParseInt(val, what));
      if (v < -1) return Error{what + ": out of range; got " + val};
      o.cpu = static_cast<int>(v);
    } else if (key == "machine") {
      if (val.empty() || val.find_first_of(",= ") != std::string::npos)
        return Error{what + ": expected a name without ',', '=' or spaces; got '" + val + "'"};
      o.machine = val;
    } else {
      std::vector<std::string> names = timing::TimingOptionNames();
      names.insert(names.end(), {"cpu", "machine"});
      std::sort(names.begin(), names.end());
      return UnknownName("native reference option", key, names);
    }
  }
  return o;
}

class NativeReference : public Reference {
 public:
  explicit NativeReference(NativeOptions o) : o_(o) {
    if (o_.cpu == -2) o_.cpu = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)) - 1;
  }
  std::string name() const override { return "native"; }
  bool wall_clock() const override { return true; }
  std::vector<std::string> Warnings(const Target& target) const override {
    if (!target.runner.empty() || target.baremetal()) return {};
    return CacheGeometryMismatches(target, "/sys/devices/system/cpu/cpu0/cache");
  }
  std::string options_key() const override { return Key(timing::TimingOptionsKey(o_.timing)); }
  std::string rereducible_key() const override {
    std::string timing_key = timing::RereducibleKey(o_.timing);
    return timing_key.empty() ? "" : Key(timing_key);
  }
  Result<RefResult> Rereduce(const RefResult& stored) const override {
    return timing::Rereduce(stored, o_.timing.value);
  }

  std::vector<RefResult> Measure(const std::vector<Artifact>& batch,
                                 const Target& target) override {
    timing::Rounds rounds(batch.size(), o_.timing.min_rep_ns, o_.timing.value);
    rounds.FailUnbuilt(batch);
    if (!target.runner.empty() || target.baremetal()) {
      for (size_t i = 0; i < batch.size(); ++i)
        rounds.Fail(i, "run",
                    "native reference cannot run target '" + target.name +
                        "' artifacts on this host");
    }
    ProcessOptions popt;
    popt.timeout_s = o_.timing.timeout_s;
    popt.cpu = o_.cpu;
    // Interleaved: round-major, shuffled per round. Otherwise candidate-major (the naive
    // protocol, kept for comparison experiments).
    std::vector<std::string> args = timing::TimingArgs(o_.timing);
    for (size_t i : timing::Schedule(batch.size(), o_.timing)) {
      if (!rounds.alive(i)) continue;
      std::vector<std::string> argv = {batch[i].elf.string()};
      argv.insert(argv.end(), args.begin(), args.end());
      auto proc = RunProcess(argv, popt);
      if (!proc.ok()) {
        rounds.Fail(i, "run", proc.message());
        continue;
      }
      rounds.Add(i, timing::ReadTimedRun(*proc, o_.timing.timeout_s));
    }
    return rounds.Finish({{"cpu", o_.cpu}});
  }

 private:
  std::string Key(const std::string& timing_key) const {
    return timing_key + (o_.cpu >= 0 ? ",cpu=" + std::to_string(o_.cpu) : "") +
           (o_.machine.empty() ? "" : ",machine=" + o_.machine);
  }

  NativeOptions o_;
};

// "32K", "1024K", "32M" (sysfs cache sizes) in bytes; 0 when unreadable.
int64_t SysfsSize(const std::string& text) {
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (...) {
    return 0;
  }
  std::string unit = Trim(text.substr(used));
  if (unit == "K") return v << 10;
  if (unit == "M") return v << 20;
  if (unit == "G") return v << 30;
  return unit.empty() ? v : 0;
}

std::string KiB(int64_t bytes) { return std::to_string(bytes >> 10) + " KiB"; }

}  // namespace

std::vector<std::string> CacheGeometryMismatches(const Target& target, const std::string& sysfs_cache_dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(sysfs_cache_dir, ec)) return out;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(sysfs_cache_dir, ec))
    if (e.path().filename().string().rfind("index", 0) == 0) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs) {
    std::string level = ReadFirstLine(dir / "level"), type = ReadFirstLine(dir / "type");
    std::string name = level == "1" ? (type == "Data" ? "l1d" : type == "Instruction" ? "l1i" : "")
                                    : (level == "2" || level == "3") ? "l" + level : "";
    const int64_t size = SysfsSize(ReadFirstLine(dir / "size"));
    int ways = 0;
    try {
      ways = std::stoi(ReadFirstLine(dir / "ways_of_associativity"));
    } catch (...) {
    }
    if (name.empty() || size <= 0) continue;
    const CacheLevel* it = target.Cache(name);
    if (!it) continue;
    if (it->size_bytes == size && (ways <= 0 || it->ways == ways)) continue;
    out.push_back("target '" + target.name + "' models " + name + " as " + KiB(it->size_bytes) + " " +
                  std::to_string(it->ways) + "-way, but this host's " + name + " is " + KiB(size) +
                  (ways > 0 ? " " + std::to_string(ways) + "-way" : "") + " (" + dir.string() +
                  "): the simulators' cache statistics describe another machine than the one measured; "
                  "correct \"caches\" in the target file");
  }
  return out;
}

void RegisterNativeReference(ReferenceRegistry& registry) {
  registry.Register(
      "native",
      "times artifacts on this host: interleaved rounds of short reps, minimum of per-round minima",
      [](const std::string& options) -> Result<std::unique_ptr<Reference>> {
        SIMTUNE_ASSIGN_OR_RETURN(NativeOptions o, ParseNativeOptions(options));
        return std::unique_ptr<Reference>(new NativeReference(o));
      });
}

}  // namespace simtune
