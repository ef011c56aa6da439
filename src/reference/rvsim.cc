// The "rvsim" reference: ground truth from rvsim's cycle-level RISC-V models (PyPI package
// rvsim, installed into <repo>/.venv by scripts/setup-python) instead of a board.
//
// The measured machine is a model ("rocket", "p550", ...; see
// `python/simtune_rvsim_driver.py --list-models`). Reference targets name it in their
// reference_options (data/targets/riscv64-rvsim-p550.json: {"rvsim": "model=p550"}) and build
// as riscv64-baremetal (build_target), so rvsim runs the very ELF that Spike and the other
// simulators run. A model= given to the reference overrides the target's.
//
// Each candidate is one process: `<python> <driver> --model M [--verify off] [--max-cycles N]
// ELF`, run with a timeout; the driver prints one JSON object (format in the driver). The
// result is the model's cycles over the ROI (from a stats snapshot when simtune_roi_begin is
// the next instruction to retire to one when simtune_roi_end is), unit "cycles". A model is
// deterministic: one run, no noise (rounds = reps = 1, spread 0), so candidates run in
// parallel (jobs=N) without disturbing each other. extra_json holds the model, the rvsim
// version, the ROI's instructions, IPC, the harness's mcycle/minstret, the model's own
// non-zero ROI statistics ("stats": cache hits and misses per level, branch predictor,
// pipeline stalls, committed instruction classes, ...) and the run's host time and speed.
//
// Options ("key=value,..."):
//   model=NAME        the rvsim model (required here or in the target's reference_options)
//   verify=on|off     on (default): check the output. An artifact whose verification
//                     recorded its output checksums (verified-checksums.txt; every artifact
//                     simtune built and verified) runs only to simtune_sim_done, right after
//                     the harness's checksum line, which must equal the recorded one (extra
//                     verify "checksum"): the -O1 reference and the element-wise check are not
//                     cycle-simulated again. A checksum that differs is settled by a second,
//                     whole run whose verify line decides (extra checksum_mismatch). Without
//                     recorded checksums: run to the end and check the verify line.
//                     off: stop at the end of the ROI (about half the simulated work)
//   max_cycles=N      stop a run after N simulated cycles (a "timeout" row)
//   timeout=SECONDS   per candidate process (default 3600)
//   jobs=N            candidates simulated at once (default: the number of cores)
//   python=PATH       default $SIMTUNE_PYTHON, else <repo>/.venv/bin/python
//   driver=PATH       default <repo>/python/simtune_rvsim_driver.py
// options_key: model (when given here) and verify=off; the rest do not change a result.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "simtune/build.h"
#include "simtune/build_paths.h"
#include "simtune/process.h"
#include "simtune/reference.h"
#include "simtune/strings.h"
#include "src/reference/builtin.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kOptionNames = {"driver",  "jobs",   "max_cycles", "model",
                                               "python",  "timeout", "verify"};

struct RvsimOptions {
  std::string model;
  bool verify = true;
  int64_t max_cycles = 0;   // 0: no limit
  double timeout_s = 3600;
  int jobs = 0;             // <= 0: number of cores
  std::string python, driver;
};

Result<RvsimOptions> ParseRvsimOptions(const std::string& text) {
  RvsimOptions o;
  SIMTUNE_ASSIGN_OR_RETURN(auto items, ParseKeyValues(text, "rvsim reference option"));
  for (const auto& [key, val] : items) {
    std::string what = "rvsim reference option " + key;
    if (key == "model") {
      // Passed to the driver as an argument: nothing it could take for a flag.
      if (val.empty() || val[0] == '-' || val.find_first_of(" /") != std::string::npos)
        return Error{what + ": expected a model name; got '" + val + "'"};
      o.model = val;
    } else if (key == "verify") {
      if (val != "on" && val != "off")
        return Error{what + ": expected on or off; got '" + val + "'"};
      o.verify = val == "on";
    } else if (key == "max_cycles" || key == "jobs") {
      SIMTUNE_ASSIGN_OR_RETURN(int64_t v, ParseInt(val, what));
      if (v < 1) return Error{what + ": must be >= 1; got " + val};
      if (key == "max_cycles") o.max_cycles = v;
      else o.jobs = static_cast<int>(std::min<int64_t>(v, 1024));
    } else if (key == "timeout") {
      SIMTUNE_ASSIGN_OR_RETURN(o.timeout_s, ParseTimeout(val, what));
    } else if (key == "python" || key == "driver") {
      if (val.empty() || val[0] == '-')
        return Error{what + ": expected a path; got '" + val + "'"};
      (key == "python" ? o.python : o.driver) = val;
    } else {
      return UnknownName("rvsim reference option", key, kOptionNames);
    }
  }
  return o;
}

fs::path RepoDir() { return BuildSourceDir(); }

std::string Tail(const std::string& s, size_t n = 300) {
  std::string t = Trim(s);
  if (t.size() > n) t = "..." + t.substr(t.size() - n);
  for (char& c : t)
    if (c == '\n') c = ' ';
  return t;
}

class RvsimReference : public Reference {
 public:
  RvsimReference(RvsimOptions given, std::string given_text)
      : given_(std::move(given)), given_text_(std::move(given_text)) {}

  std::string name() const override { return "rvsim"; }
  // The model when given here (else the target's, which its name already implies) and
  // verify=off; max_cycles, timeout, jobs and the paths do not change a result.
  std::string options_key() const override {
    std::vector<std::string> parts;
    if (!given_.model.empty()) parts.push_back("model=" + given_.model);
    if (!given_.verify) parts.push_back("verify=off");
    return Join(parts, ",");
  }

  std::vector<RefResult> Measure(const std::vector<Artifact>& batch,
                                 const Target& target) override {
    std::vector<RefResult> results(batch.size());
    for (auto& r : results) r.unit = "cycles";
    auto fail_all = [&](const std::string& stage, const std::string& message) {
      for (size_t i = 0; i < batch.size(); ++i) {
        if (results[i].status == "failed") continue;
        Fail(results[i], stage, message);
      }
      return results;
    };
    for (size_t i = 0; i < batch.size(); ++i)
      if (!batch[i].ok()) Fail(results[i], "build", "artifact did not build: " + batch[i].message);
    // The target's defaults under the options given here.
    auto opts = ParseRvsimOptions(MergeReferenceOptions(target, "rvsim", given_text_));
    if (!opts.ok()) return fail_all("run", "target " + target.name + ": " + opts.message());
    if (opts->model.empty())
      return fail_all("run", "rvsim reference needs model=NAME: give it in the reference "
                             "options or in target " + target.name +
                             "'s reference_options (e.g. {\"rvsim\": \"model=p550\"})");
    if (target.isa != "riscv64" || !target.baremetal())
      return fail_all("run", "rvsim reference runs riscv64 bare-metal artifacts only; target " +
                                 target.name + " is " + target.isa + " " + target.os);
    auto python = FindPython(*opts);
    if (!python.ok()) return fail_all("missing-tool", python.message());
    std::string driver = opts->driver.empty()
                             ? (RepoDir() / "python" / "simtune_rvsim_driver.py").string()
                             : opts->driver;
    if (!fs::exists(driver)) return fail_all("missing-tool", "rvsim driver not found at " + driver);

    std::vector<size_t> todo;
    for (size_t i = 0; i < batch.size(); ++i)
      if (results[i].status != "failed") todo.push_back(i);
    int jobs = WorkerCount(opts->jobs, todo.size());
    std::atomic<size_t> next{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < jobs; ++w) {
      workers.emplace_back([&] {
        for (size_t k = next++; k < todo.size(); k = next++) {
          size_t i = todo[k];
          results[i] = RunOne(batch[i], *opts, *python, driver);
        }
      });
    }
    for (auto& t : workers) t.join();
    return results;
  }

 private:
  static void Fail(RefResult& r, const std::string& stage, const std::string& message) {
    r.status = "failed";
    r.stage = stage;
    r.message = message;
  }

  // python=PATH, else $SIMTUNE_PYTHON, else <repo>/.venv/bin/python.
  static Result<std::string> FindPython(const RvsimOptions& o) {
    const std::string how =
        "run scripts/setup-python (it installs rvsim into <repo>/.venv), or point the option "
        "python=PATH or $SIMTUNE_PYTHON at a Python >= 3.10 with rvsim 2.1 installed";
    if (!o.python.empty()) {
      if (ProgramExists(o.python)) return o.python;
      return Error{"python not found at '" + o.python + "' (option python); " + how};
    }
    if (const char* env = std::getenv("SIMTUNE_PYTHON"); env && *env) {
      if (ProgramExists(env)) return std::string(env);
      return Error{"python not found at '" + std::string(env) + "' ($SIMTUNE_PYTHON); " + how};
    }
    fs::path venv = RepoDir() / ".venv" / "bin" / "python";
    if (ProgramExists(venv.string())) return venv.string();
    return Error{"python not found at " + venv.string() + "; " + how};
  }

  // One candidate; with `checksum`, stopped after the checksum line when the artifact has
  // recorded checksums (see verify=on), else run whole.
  static RefResult RunOne(const Artifact& a, const RvsimOptions& o, const std::string& python,
                          const std::string& driver, bool checksum = true) {
    RefResult r;
    r.unit = "cycles";
    std::vector<std::string> argv = {python, driver, "--model", o.model};
    if (!o.verify) argv.insert(argv.end(), {"--verify", "off"});
    const std::string verified = o.verify && checksum ? VerifiedChecksums(a) : "";
    if (!verified.empty()) argv.push_back("--stop-after-checksum");
    if (o.max_cycles > 0) argv.insert(argv.end(), {"--max-cycles", std::to_string(o.max_cycles)});
    argv.push_back(a.elf.string());
    ProcessOptions popt;
    popt.timeout_s = o.timeout_s;
    popt.extra_env["PYTHONDONTWRITEBYTECODE"] = "1";
    auto proc = RunProcess(argv, popt);
    if (!proc.ok()) {
      Fail(r, "missing-tool", proc.message());
      return r;
    }
    if (proc->timed_out) {
      Fail(r, "timeout", "rvsim " + proc->Describe(o.timeout_s));
      return r;
    }
    // The driver prints one JSON line whenever it ran; anything else is its crash or usage.
    std::string line = Trim(proc->out);
    if (auto nl = line.rfind('\n'); nl != std::string::npos) line = line.substr(nl + 1);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      Fail(r, "run", "rvsim driver " + proc->Describe(o.timeout_s) + " without a result: " +
                         Tail(proc->out + proc->err));
      return r;
    }
    if (!j.is_object()) {
      Fail(r, "run", "rvsim driver printed " + Tail(line) + ", not an object");
      return r;
    }
    // Any field of an unexpected type (a driver of another version, a broken install) fails
    // this row, not the batch.
    try {
      r = ReadResult(j, o);
      if (!r.ok() || verified.empty() || j.value("verify", "") != "checksum") return r;
      std::string mismatch = CompareChecksums(ChecksumLine(j.value("checksum_line", "")), verified);
      if (mismatch.empty()) return r;
      // Not bit-exact on this model, or wrong: the whole run's element-wise check decides.
      RefResult whole = RunOne(a, o, python, driver, false);
      if (whole.ok()) {
        auto extra = nlohmann::json::parse(whole.extra_json);
        extra["checksum_mismatch"] = mismatch;
        whole.extra_json = DumpJson(extra);
      } else {
        whole.message += " (after the checksum differed: " + mismatch + ")";
      }
      return whole;
    } catch (const nlohmann::json::exception& e) {
      Fail(r, "run", "rvsim driver printed a malformed result (" + std::string(e.what()) +
                         "): " + Tail(line));
      return r;
    }
  }

  // The driver's result object (throws nlohmann::json::exception on a type it does not
  // expect).
  static RefResult ReadResult(const nlohmann::json& j, const RvsimOptions& o) {
    RefResult r;
    r.unit = "cycles";
    if (j.value("status", "") != "ok") {
      std::string stage = j.value("stage", "run");
      if (stage != "verify" && stage != "timeout" && stage != "missing-tool") stage = "run";
      Fail(r, stage, "rvsim (" + o.model + "): " + j.value("message", std::string("failed")));
      return r;
    }
    const nlohmann::json& roi = j.value("roi", nlohmann::json::object());
    if (!roi.contains("cycles") || !roi["cycles"].is_number() || roi["cycles"].get<double>() <= 0) {
      Fail(r, "run", "rvsim driver result has no ROI cycles");
      return r;
    }
    double cycles = roi["cycles"].get<double>();
    r.status = "ok";
    r.value = r.min = r.median = r.max = cycles;
    r.spread = 0;
    r.rounds = r.reps = 1;
    nlohmann::json extra;
    extra["model"] = o.model;
    extra["rvsim_version"] = j.value("rvsim_version", "");
    extra["verify"] = j.value("verify", "");
    for (const char* key : {"instructions", "ipc", "mcycle", "minstret", "stats"})
      if (roi.contains(key)) extra[std::string("roi_") + key] = roi[key];
    for (const char* key : {"total", "host_s", "host_cpu_s", "sim_insns_per_s",
                            "sim_insns_per_cpu_s", "segments_moved_to_paddr"})
      if (j.contains(key)) extra[key] = j[key];
    r.extra_json = DumpJson(extra);
    return r;
  }

  RvsimOptions given_;
  std::string given_text_;
};

}  // namespace

void RegisterRvsimReference(ReferenceRegistry& registry) {
  registry.Register(
      "rvsim",
      "cycles over the ROI on an rvsim cycle-level RISC-V model (riscv64 bare metal; "
      "model=rocket|p550|...; deterministic, one run per candidate)",
      [](const std::string& options) -> Result<std::unique_ptr<Reference>> {
        SIMTUNE_ASSIGN_OR_RETURN(RvsimOptions o, ParseRvsimOptions(options));
        return std::unique_ptr<Reference>(new RvsimReference(std::move(o), options));
      });
}

}  // namespace simtune
