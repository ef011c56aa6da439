// The "valgrind" simulator: callgrind with cache and branch simulation on x86_64 Linux
// artifacts, restricted to the ROI by dumping counters when simtune_roi_begin returns and
// when simtune_roi_end is entered; the dump between the two is the ROI.
//
// What the ROI dump covers, measured on the harness: everything after simtune_roi_begin's
// `ret` up to and including the `call simtune_roi_end` instruction, i.e. the kernel call
// plus 2-3 marker instructions (argument set-up of the kernel call and the call of
// simtune_roi_end, which also writes one return address). Set-up code before the ROI does
// not change these counts; the cache contents it leaves behind do carry over, as on
// hardware.
//
// callgrind models two cache levels: L1 and one last level (LL), which is given the
// geometry of the target's largest level beyond L1 and reported under that level's name
// (l3 on x86_64-host; its l2 is not modelled). Its branch predictor is fixed (2-bit
// counters for conditional branches, a branch target buffer for indirect ones) and ignores
// the target's branch_predictor.
//
// Options ("key=value,..."): timeout=SECONDS (default 300), valgrind=PATH (default: valgrind
// on PATH), mode=auto|full (default auto: stop after the ROI and compare output checksums
// with the verified run's; full: run the reference and element-wise check under valgrind
// too), debuginfo=hide|read (default hide, see below).
//
// Start-up: valgrind reads the debug information of every object it maps, and with Debian's
// libc6-dbg installed (/usr/lib/debug) that is most of its start-up, which is most of a
// simulation-mode run (measured: callgrind on /bin/true 0.27-0.35 s CPU with it, 0.14-0.20 s
// without). None of it is needed: the ROI markers are symbols of the artifact itself. With
// debuginfo=hide, valgrind runs in a private mount namespace (unshare -m, util-linux) where an
// empty folder covers /usr/lib/debug, when this machine allows one (root, or user namespaces;
// probed once per process); else it runs as before. The ROI statistics are the same (checked
// by ValgrindRun.HiddenDebugInfoGivesTheSameRoiStatistics); extra.debuginfo says which way
// it ran.
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "simtune/process.h"
#include "simtune/strings.h"
#include "src/simulators/builtin.h"
#include "src/simulators/run_util.h"
#include "src/simulators/valgrind_callgrind.h"

namespace simtune {
namespace {

using sim_util::Failed;
using sim_util::ReadFile;
using sim_util::Tail;
using sim_util::TempDir;

namespace fs = std::filesystem;

const std::vector<std::string> kOptionNames = {"debuginfo", "mode", "timeout", "valgrind"};

struct ValgrindOptions {
  double timeout_s = 300;
  std::string valgrind = "valgrind";
  bool full = false;   // mode=full
  bool hide_debuginfo = true;   // debuginfo=hide
};

Result<ValgrindOptions> ParseOptions(const std::string& text) {
  ValgrindOptions opts;
  if (Trim(text).empty()) return opts;
  std::set<std::string> seen;
  for (const auto& item : Split(text, ',')) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error{"valgrind option '" + item + "': expected key=value"};
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (!seen.insert(key).second) return Error{"valgrind option '" + key + "' given twice"};
    if (key == "timeout") {
      auto t = ParseDouble(value, "valgrind option timeout");
      if (!t.ok()) return t.error();
      if (*t <= 0) return Error{"valgrind option timeout: must be positive; got '" + value + "'"};
      opts.timeout_s = *t;
    } else if (key == "valgrind") {
      if (value.empty()) return Error{"valgrind option valgrind: expected a path; got ''"};
      opts.valgrind = value;
    } else if (key == "debuginfo") {
      if (value != "hide" && value != "read")
        return Error{"valgrind option debuginfo: expected hide or read; got '" + value + "'"};
      opts.hide_debuginfo = value == "hide";
    } else if (key == "mode") {
      if (auto why = sim_util::ParseModeOption("valgrind", value, opts.full); !why.empty())
        return Error{why};
    } else {
      return UnknownName("valgrind option", key, kOptionNames);
    }
  }
  return opts;
}





// The separate debug information that valgrind would read at start-up.
const char* const kDebugInfoDir = "/usr/lib/debug";

// `argv` run so that valgrind does not see kDebugInfoDir: in a private mount namespace with
// `empty` (an empty folder) mounted over it.
std::vector<std::string> WithoutDebugInfo(const std::vector<std::string>& argv,
                                          const std::string& empty) {
  std::vector<std::string> out = {"unshare", "--mount", "--propagation", "private", "sh", "-c",
                                  std::string("mount --bind \"$0\" ") + kDebugInfoDir +
                                      " && exec \"$@\"",
                                  empty};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// Whether WithoutDebugInfo works here (once per process): there is something to hide, and
// unshare may make a mount namespace and mount in it.
bool CanHideDebugInfo() {
  static const bool can = [] {
    std::error_code ec;
    if (!std::filesystem::is_directory(kDebugInfoDir, ec) || !ProgramExists("unshare"))
      return false;
    TempDir tmp("valgrind-probe");
    if (tmp.path().empty()) return false;
    ProcessOptions popts;
    popts.timeout_s = 10;
    auto probe = RunProcess(WithoutDebugInfo({"true"}, tmp.path().string()), popts);
    return probe.ok() && probe->Success();
  }();
  return can;
}

std::string HostCpuinfo() {
  static const std::string text = ReadFile("/proc/cpuinfo");
  return text;
}

class ValgrindSimulator : public Simulator {
 public:
  explicit ValgrindSimulator(ValgrindOptions options) : options_(std::move(options)) {}

  std::string name() const override { return "valgrind"; }

  // No option changes the statistics.
  std::string options_key() const override { return ""; }

  bool Supports(const Target& target) const override {
    return target.isa == "x86_64" && target.os == "linux" &&
           Avx512Reason(target, HostCpuinfo()).empty();
  }

  Status Available(const Target& target) const override {
    if (!ProgramExists(options_.valgrind))
      return Error{options_.valgrind +
                   " not found; install the Debian package valgrind (scripts/setup does)"};
    if (std::string why = Avx512Reason(target, HostCpuinfo()); !why.empty())
      return Error{Avx512Message(target, why)};
    return Status::Ok();
  }

  SimResult Simulate(const Artifact& artifact, const Target& target) const override {
    if (!artifact.ok())
      return Failed("build", "artifact did not build (" + artifact.stage + ": " +
                                 artifact.message + ")");
    if (!ProgramExists(options_.valgrind))
      return Failed("missing-tool", options_.valgrind +
                                        " not found; install the Debian package valgrind "
                                        "(scripts/setup does)");
    if (target.isa != "x86_64" || target.os != "linux")
      return Failed("run", "valgrind simulator runs x86_64 linux artifacts only; target " +
                               target.name + " is " + target.isa + " " + target.os);
    if (std::string why = Avx512Reason(target, HostCpuinfo()); !why.empty())
      return Failed("run", Avx512Message(target, why));
    auto cache_args = CallgrindCacheArgs(target);
    if (!cache_args.ok()) return Failed("run", cache_args.message());

    return sim_util::RunWithOutputCheck(
        artifact, options_.full, "valgrind", [&](bool sim, std::string& output) {
          return RunOnce(artifact, target, *cache_args, sim_util::HostedArg(artifact, sim), !sim, output);
        });
  }

 private:
  // One callgrind run; `arg` is the harness's argument (may be empty). `verify`: the run
  // must print the harness's verify ok line.
  SimResult RunOnce(const Artifact& artifact, const Target& target,
                    const std::vector<std::string>& cache_args, const std::string& arg,
                    bool verify, std::string& output) const {
    TempDir tmp("valgrind");
    if (tmp.path().empty()) return Failed("run", "cannot create a temporary folder");
    // No environment and a fixed program name (sim_util::PlaceProgram); valgrind's own
    // VALGRIND_LIB, where set, stays (the client does not see it).
    if (std::string why = sim_util::PlaceProgram(artifact.elf, tmp.path()); !why.empty())
      return Failed("run", why);
    std::vector<std::string> argv = {"env", "-i"};
    if (const char* lib = getenv("VALGRIND_LIB")) argv.push_back(std::string("VALGRIND_LIB=") + lib);
    for (std::string a : {sim_util::OnPath(options_.valgrind),
                          std::string("--tool=callgrind"), std::string("--cache-sim=yes"),
                          std::string("--branch-sim=yes"),
                          // No gdbserver: its FIFOs in /tmp outlive a run killed at its
                          // timeout (a hundred a day on a busy tuning machine).
                          std::string("--vgdb=no"),
                          std::string("--dump-after=simtune_roi_begin"),
                          std::string("--dump-before=simtune_roi_end"),
                          "--callgrind-out-file=" + (tmp.path() / "callgrind.out").string()})
      argv.push_back(std::move(a));
    argv.insert(argv.end(), cache_args.begin(), cache_args.end());
    argv.push_back(std::string("./") + sim_util::kGuestProgram);
    if (!arg.empty()) argv.push_back(arg);
    bool hidden = options_.hide_debuginfo && CanHideDebugInfo();
    if (hidden) {
      std::error_code ec;
      fs::create_directory(tmp.path() / "empty", ec);
      argv = WithoutDebugInfo(argv, (tmp.path() / "empty").string());
    }

    ProcessOptions popts;
    popts.cwd = tmp.path();
    popts.timeout_s = options_.timeout_s;
    popts.max_output_bytes = 1 << 16;
    auto run = RunProcess(argv, popts);
    if (!run.ok()) return Failed("missing-tool", run.message());
    const ProcessResult& p = *run;
    output = p.out + p.err;
    if (p.timed_out)
      return Failed("timeout", "valgrind " + p.Describe(options_.timeout_s), p.wall_s);
    std::string verdict = CheckVerifyLine(p.out);
    if (!p.Success()) {
      if (StartsWith(verdict, "verify failed")) return Failed("verify", verdict, p.wall_s);
      return Failed("run", "valgrind " + p.Describe(options_.timeout_s) + ": " +
                               Tail(p.out + p.err),
                    p.wall_s);
    }
    if (verify && !verdict.empty()) return Failed("verify", verdict, p.wall_s);

    std::vector<CallgrindDump> dumps;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(tmp.path(), ec)) {
      if (!StartsWith(entry.path().filename().string(), "callgrind.out")) continue;
      auto dump = ParseCallgrindDump(ReadFile(entry.path()), entry.path().filename().string());
      if (!dump.ok()) return Failed("parse", dump.message(), p.wall_s);
      dumps.push_back(std::move(dump).value());
    }
    auto roi = SelectRoiDump(dumps);
    if (!roi.ok()) return Failed("parse", roi.message(), p.wall_s);
    auto stats = CallgrindStats(*roi, target);
    if (!stats.ok()) return Failed("parse", stats.message(), p.wall_s);

    SimResult r;
    r.status = "ok";
    r.stats = std::move(stats).value();
    // Instructions of the whole simulated program (all dumps), for the ROI's share.
    uint64_t program_insns = 0;
    for (const auto& d : dumps)
      if (auto it = d.totals.find("Ir"); it != d.totals.end()) program_insns += it->second;
    r.stats.extra["program_insns"] = program_insns;
    r.stats.extra["debuginfo"] = hidden ? std::string("hidden (") + kDebugInfoDir + ")" : "read";
    r.wall_s = p.wall_s;
    return r;
  }

  static std::string Avx512Message(const Target& target, const std::string& why) {
    return "valgrind cannot run AVX-512 code, and target " + target.name + " asks for it (" +
           why + "); build with at most AVX2, e.g. -march=x86-64-v3";
  }

  ValgrindOptions options_;
};

}  // namespace

void RegisterValgrindSimulator(SimulatorRegistry& registry) {
  registry.Register(
      "valgrind",
      "callgrind with cache and branch simulation (x86_64 linux): instructions, data "
      "references, L1/last-level cache misses, branch mispredicts over the ROI",
      [](const std::string& options) -> Result<std::unique_ptr<Simulator>> {
        SIMTUNE_ASSIGN_OR_RETURN(ValgrindOptions opts, ParseOptions(options));
        return std::unique_ptr<Simulator>(new ValgrindSimulator(std::move(opts)));
      });
}

}  // namespace simtune
