// The dataset job: a training corpus for predictors that transfer to unseen workloads (issue
// 11). For every workload x reference target it runs the build, simulate and measure jobs of
// this layer on the same seeded sample, one step at a time, so that an interrupted or grown
// corpus resumes: each job skips what the store already holds, and a larger --sample with
// the same seed draws the same candidates first.
#include <algorithm>
#include <chrono>
#include <set>

#include "simtune/pipeline.h"
#include "simtune/strings.h"
#include "simtune/target.h"
#include "src/pipeline/sim_row.h"

namespace simtune::pipeline {
namespace {

constexpr const char* kCorpusPrefix = "corpus.";

struct SimOn {
  std::string simulator;
  std::string target;   // "" = the reference target itself
};

// "SIM" or "SIM@TARGET"; `flag` names the option in messages.
Result<SimOn> ParseSimOn(const std::string& text, const std::string& flag, bool need_target) {
  SimOn s;
  const size_t at = text.find('@');
  s.simulator = Trim(text.substr(0, at));
  if (at != std::string::npos) s.target = Trim(text.substr(at + 1));
  if (s.simulator.empty() || (at != std::string::npos && s.target.empty()) ||
      (need_target && s.target.empty()))
    return Error{flag + " '" + text + "': expected " + (need_target ? "SIM@TARGET" : "SIM or SIM@TARGET") +
                 " (e.g. qemu@riscv64-linux)"};
  return s;
}

std::string Describe(const DatasetStep& s) {
  std::string name = s.catalog_name.empty() ? s.workload : s.catalog_name;
  if (s.kind == "build") return "build " + name + " for " + s.target;
  if (s.kind == "simulate") return "simulate " + name + " on " + s.target + " with " + s.tool;
  return "measure " + name + " on " + s.target + " with " + s.tool;
}

}  // namespace

Result<DatasetJob> DatasetJob::Prepare(const DatasetJobOptions& options) {
  DatasetJob job;
  job.options_ = options;
  if (options.sample == 0) return Error{"--sample must be at least 1"};
  if (options.targets.empty()) return Error{"no target: pass --target (e.g. x86_64-host)"};

  // Workloads: as given, else the corpus entries of the catalog.
  std::vector<std::pair<std::string, std::string>> workloads;   // (key, catalog name)
  std::vector<std::string> names = options.workloads;
  if (names.empty()) {
    SIMTUNE_ASSIGN_OR_RETURN(auto catalog, LoadCatalog());
    for (const auto& e : catalog)
      if (StartsWith(e.name, kCorpusPrefix)) names.push_back(e.name);
    if (names.empty()) return Error{"the catalog has no '" + std::string(kCorpusPrefix) + "' entries; pass -w"};
  }
  std::set<std::string> seen;
  for (const auto& name : names) {
    SIMTUNE_ASSIGN_OR_RETURN(Workload w, ParseWorkload(name));
    if (!seen.insert(w.Key()).second) continue;
    workloads.push_back({w.Key(), w.catalog_name});
  }

  std::vector<SimOn> also;
  for (const auto& a : options.also) {
    SIMTUNE_ASSIGN_OR_RETURN(SimOn s, ParseSimOn(a, "--also", true));
    also.push_back(s);
  }
  std::vector<SimOn> given;
  for (const auto& g : options.simulators) {
    SIMTUNE_ASSIGN_OR_RETURN(SimOn s, ParseSimOn(g, "--sim", false));
    given.push_back(s);
  }

  // Steps per target, checked once (each job's Prepare validates names, options and tools).
  std::map<std::string, std::vector<DatasetStep>> per_target;
  for (const auto& target_name : options.targets) {
    SIMTUNE_ASSIGN_OR_RETURN(Target target, LoadTarget(target_name));
    if (target.references.empty())
      return Error{"target '" + target.name + "' has no reference to measure the corpus with"};
    std::vector<SimOn> sims = given;
    if (sims.empty())
      for (const auto& s : target.simulators) sims.push_back({s, ""});
    if (sims.empty() && also.empty())
      return Error{"target '" + target.name + "' lists no simulators; pass --sim or --also"};
    sims.insert(sims.end(), also.begin(), also.end());
    std::vector<DatasetStep> steps;
    steps.push_back({"", "", target_name, "build", ""});
    std::set<std::string> built = {target_name};
    for (const auto& s : sims) {
      const std::string on = s.target.empty() ? target_name : s.target;
      if (built.insert(on).second) steps.push_back({"", "", on, "build", ""});
      // Simulators on the same target run as one set (one qemu run serves qemu and mca).
      if (steps.back().kind == "simulate" && steps.back().target == on)
        steps.back().tool += "," + s.simulator;
      else
        steps.push_back({"", "", on, "simulate", s.simulator});
    }
    steps.push_back({"", "", target_name, "measure", target.references.front()});
    // Validate every step on the first workload (names, tools, options).
    for (const auto& step : steps) {
      const std::string& w = workloads.front().first;
      if (step.kind == "build") {
        BuildJobOptions o;
        o.selection.workload = w;
        o.selection.sample = options.sample;
        o.selection.seed = options.seed;
        o.target = step.target;
        if (auto r = BuildJob::Prepare(o); !r.ok()) return r.error();
      } else if (step.kind == "simulate") {
        SimulateJobOptions o;
        o.workload = w;
        o.target = step.target;
        o.simulator = step.tool;
        if (auto r = SimulateJob::Prepare(o); !r.ok()) return r.error();
      } else {
        MeasureJobOptions o;
        o.workload = w;
        o.target = step.target;
        o.reference = step.tool;
        o.reference_options = options.reference_options;
        if (auto r = MeasureJob::Prepare(o); !r.ok()) return r.error();
      }
    }
    per_target[target_name] = std::move(steps);
  }
  // Workload-major: an interrupted corpus covers whole workloads on every target.
  for (const auto& [key, catalog_name] : workloads)
    for (const auto& target_name : options.targets)
      for (DatasetStep step : per_target[target_name]) {
        step.workload = key;
        step.catalog_name = catalog_name;
        job.plan_.push_back(step);
      }
  return job;
}

Result<DatasetJobResult> DatasetJob::Run(Store& store, const ProgressFn& progress) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const DatasetJobOptions& f = options_;
  DatasetJobResult result;
  result.steps = plan_.size();
  DatasetCount* count = nullptr;
  for (size_t i = 0; i < plan_.size(); ++i) {
    const DatasetStep& step = plan_[i];
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    auto report = [&](const std::string& event, const std::string& message) {
      if (!progress) return;
      Progress p;
      p.job = "dataset";
      p.event = event;
      p.done = event == "step" ? i : i + 1;
      p.total = plan_.size();
      p.eta_s = i > 0 ? elapsed / i * (plan_.size() - i) : 0;
      p.message = message;
      p.stage = step.kind;
      progress(p);
    };
    report("step", Describe(step));
    if (step.kind == "build" && std::find(f.targets.begin(), f.targets.end(), step.target) != f.targets.end()) {
      result.counts.push_back({step.workload, step.target});
      count = &result.counts.back();
    }
    std::string did;
    if (step.kind == "build") {
      BuildJobOptions o;
      o.selection.workload = step.workload;
      o.selection.sample = f.sample;
      o.selection.seed = f.seed;
      o.target = step.target;
      o.cache = f.cache;
      o.jobs = f.jobs;
      for (const DatasetStep& later : plan_) {
        if (later.kind != "simulate" || later.target != step.target) continue;
        SIMTUNE_ASSIGN_OR_RETURN(auto names, ParseSimList(later.tool));
        if (std::find(names.begin(), names.end(), "spike") != names.end())
          o.bare_metal_verifier = BareMetalVerifier::kSpike;
      }
      SIMTUNE_ASSIGN_OR_RETURN(BuildJobResult r, RunBuild(store, o));
      size_t failed = 0;
      for (const auto& kv : r.failed_by_stage) failed += kv.second;
      if (count && step.target == count->target) count->built_ok = r.ok + r.skipped;
      count->new_rows += r.built.size();
      count->failed += failed;
      did = "built " + std::to_string(r.built.size()) + " (" + std::to_string(failed) + " failed), " +
            std::to_string(r.skipped) + " already built";
    } else if (step.kind == "simulate") {
      SimulateJobOptions o;
      o.workload = step.workload;
      o.target = step.target;
      o.simulator = step.tool;
      o.jobs = f.jobs;
      SIMTUNE_ASSIGN_OR_RETURN(SimulateJobResult r, RunSimulate(store, o));
      size_t failed = 0;
      for (const auto& kv : r.failed_by_stage) failed += kv.second;
      count->new_rows += r.rows.size();
      count->failed += failed;
      did = "simulated " + std::to_string(r.rows.size()) + " (" + std::to_string(failed) + " failed), " +
            std::to_string(r.skipped) + " already simulated";
      if (r.stale > 0)
        did += ", " + std::to_string(r.stale) + " again (stored from another cache, branch predictor or core configuration)";
    } else {
      MeasureJobOptions o;
      o.workload = step.workload;
      o.target = step.target;
      o.reference = step.tool;
      o.reference_options = f.reference_options;
      SIMTUNE_ASSIGN_OR_RETURN(MeasureJobResult r, RunMeasure(store, o));
      count->measured_ok = r.ranked.size();
      count->new_rows += r.measured + r.rereduced;
      count->failed += std::min(r.failed.size(), r.measured);
      did = "measured " + std::to_string(r.measured) +
            (r.rereduced ? " (" + std::to_string(r.rereduced) + " more reduced from stored runs)" : "") +
            "; " + std::to_string(r.ranked.size()) + " ok, " + std::to_string(r.failed.size()) + " failed in all";
      if (r.control.slow > 0)
        did += "; " + std::to_string(r.control.slow) + " of " + std::to_string(r.control.chunks) +
               " chunks slow against their control, measured again (" + std::to_string(r.control.still_slow) +
               " still slow)";
    }
    report("stepped", did);
  }
  result.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

Result<DatasetJobResult> RunDataset(Store& store, const DatasetJobOptions& options, const ProgressFn& progress) {
  SIMTUNE_ASSIGN_OR_RETURN(DatasetJob job, DatasetJob::Prepare(options));
  return job.Run(store, progress);
}

}  // namespace simtune::pipeline
