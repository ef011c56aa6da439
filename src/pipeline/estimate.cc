// The estimate job (`simtune estimate`): simulates executables built outside simtune (the TVM
// MetaSchedule runner in python/simtune_tvm builds them from TVM's object files) and predicts
// each one's run time on the target, without a store. The executables follow the harness
// contract of build.h (ROI markers, verify line); each gets one result row, failures included.
//
// Scores come from a trained-model file (`simtune train --no-rel`: relative features depend on
// the batch an ELF is scored with, so they are refused), or, without a model, from the
// instruction-count baseline of the first simulator, which needs no training.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "simtune/features.h"
#include "simtune/pipeline.h"
#include "simtune/process.h"
#include "simtune/strings.h"

namespace simtune::pipeline {
namespace {

namespace fs = std::filesystem;


// Group id of a workload that no model was trained on: Predict then restores the scale with
// the mean offset over the training workloads (store ids are >= 1).
constexpr int kUnseenGroup = -1;

// Useful flops of one call, from the operator's own generator (they do not depend on the
// candidate); 0 when the space has no valid candidate to generate.
Result<double> WorkloadFlops(const Workload& workload, const Target& target) {
  SIMTUNE_ASSIGN_OR_RETURN(auto space, MakeSpace(workload));
  auto configs = space->Sample(1, 1);
  if (configs.empty()) return 0.0;
  CodegenContext ctx;
  ctx.isa = target.isa;
  SIMTUNE_ASSIGN_OR_RETURN(KernelSource src, GenerateKernel(workload, configs[0], ctx));
  return src.flops;
}

Result<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"elf '" + path + "': cannot read it"};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// What the command needs before any simulation runs; every user error surfaces here.
struct Plan {
  Target target;
  Workload workload;
  double flops = 0;
  std::vector<std::string> sim_names;
  std::vector<std::unique_ptr<Simulator>> sims;
  std::unique_ptr<Predictor> predictor;
  FeatureOptions features;
  std::string model_label;     // "insn-count baseline (qemu.log_insn)" or the model path
  std::string unit;            // "ns", "cycles" or "score"
  double seconds_per_unit = 0; // 0: the score is not a time (see predicted_s)
  int group = kUnseenGroup;
  std::vector<Artifact> artifacts;
};

Result<std::vector<std::string>> ParseSimList(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& part : Split(text, ',')) {
    std::string name = Trim(part);
    if (name.empty()) return Error{"--sim '" + text + "': empty simulator name"};
    out.push_back(name);
  }
  std::vector<std::string> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    return Error{"--sim '" + text + "': a simulator is named twice"};
  return out;
}

Result<Plan> MakePlan(const EstimateJobOptions& f) {
  Plan p;
  std::string target_name = f.target;
  std::vector<std::string> sims;
  if (!f.simulators.empty()) {
    SIMTUNE_ASSIGN_OR_RETURN(sims, ParseSimList(f.simulators));
  }

  if (!f.model.empty()) {
    SIMTUNE_ASSIGN_OR_RETURN(TrainedModel m, LoadTrainedModel(f.model));
    const DataSpec& spec = m.data;
    if (spec.features.knobs)
      return Error{"model " + f.model + " uses knob features; executables built outside simtune have no "
                   "knobs: train without --knobs"};
    for (const auto& name : m.predictor->feature_names())
      if (name.ends_with(".rel"))
        return Error{"model " + f.model + " uses feature '" + name +
                     "', which is relative to the other candidates of its workload; estimate scores each "
                     "executable on its own: train with --no-rel"};
    if (target_name.empty()) target_name = spec.sim_target;
    if (sims.empty()) sims = spec.simulators;
    std::vector<std::string> want = spec.simulators, got = sims;
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    if (want != got)
      return Error{"--sim '" + f.simulators + "' differs from the simulators model " + f.model +
                   " was trained with (" + Join(spec.simulators, ",") + ")"};
    p.features = spec.features;
    p.features.relative = false;
    p.model_label = f.model;
    p.unit = m.unit;   // recorded at training (an ssh reference is in ns too)
    if (p.unit == "ns") {
      p.seconds_per_unit = 1e-9;
    } else if (p.unit != "score") {
      if (!(f.clock_hz > 0))
        return Error{"model " + f.model + " predicts " + p.unit + " (reference " + spec.reference +
                     "); pass --clock-hz to turn them into seconds"};
      p.seconds_per_unit = 1.0 / f.clock_hz;
    }
    p.predictor = std::move(m.predictor);
    SIMTUNE_ASSIGN_OR_RETURN(p.target, LoadTarget(target_name));
    if (p.target.name != spec.sim_target)
      return Error{"--target '" + f.target + "' differs from the target model " + f.model +
                   " was trained on (" + spec.sim_target + ")"};
  } else {
    if (target_name.empty()) return Error{"pass --target (or --model, whose target is used)"};
    if (sims.empty()) sims = {"qemu"};
    SIMTUNE_ASSIGN_OR_RETURN(p.target, LoadTarget(target_name));
    std::string feature = sims[0] + ".log_insn";
    SIMTUNE_ASSIGN_OR_RETURN(p.predictor, Predictors().Create("insn-count", "feature=" + feature));
    SIMTUNE_RETURN_IF_ERROR(p.predictor->LoadJson({{"features", {feature}}, {"feature", feature}}));
    p.features.relative = false;
    p.model_label = "insn-count baseline (" + feature + ")";
    p.unit = "score";
  }
  if (!(f.clock_hz >= 0) || !std::isfinite(f.clock_hz))
    return Error{"--clock-hz must be a positive number; got " + std::to_string(f.clock_hz)};
  if (!(f.flops >= 0) || !std::isfinite(f.flops))
    return Error{"--flops must be >= 0; got " + std::to_string(f.flops)};

  for (const auto& name : sims) {
    SIMTUNE_ASSIGN_OR_RETURN(auto sim, Simulators().Create(name, ""));
    if (!sim->Supports(p.target))
      return Error{"simulator '" + name + "' does not support target '" + p.target.name + "'"};
    SIMTUNE_RETURN_IF_ERROR(sim->Available(p.target));
    p.sims.push_back(std::move(sim));
  }
  p.sim_names = sims;

  SIMTUNE_ASSIGN_OR_RETURN(p.workload, ParseWorkload(f.workload));
  if (f.flops > 0) {
    p.flops = f.flops;
  } else {
    SIMTUNE_ASSIGN_OR_RETURN(p.flops, WorkloadFlops(p.workload, p.target));
  }
  if (!f.db.empty()) {
    if (!fs::exists(f.db)) return Error{"store '" + f.db + "' does not exist"};
    SIMTUNE_ASSIGN_OR_RETURN(auto store, Store::Open(f.db, StoreMode::kReadOnly));
    SIMTUNE_ASSIGN_OR_RETURN(auto wid, store->FindWorkload(p.workload.Key()));
    if (wid) p.group = static_cast<int>(*wid);
  }

  if (f.elfs.empty()) return Error{"no executable given"};
  for (const auto& path : f.elfs) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return Error{"elf '" + path + "': no such file"};
    SIMTUNE_ASSIGN_OR_RETURN(std::string bytes, ReadWhole(path));
    if (bytes.size() < 4 || bytes.compare(0, 4, "\x7f" "ELF") != 0)
      return Error{"elf '" + path + "': not an ELF file"};
    Artifact a;
    a.target = p.target.name;
    a.hash = Sha256Hex(bytes);
    a.elf = fs::absolute(path);
    a.status = "ok";
    a.flops = p.flops;
    p.artifacts.push_back(std::move(a));
  }
  return p;
}

}  // namespace

Result<EstimateJobResult> RunEstimate(const EstimateJobOptions& f) {
  SIMTUNE_ASSIGN_OR_RETURN(Plan p, MakePlan(f));

  // One job per (executable, simulator); simulators are safe to call from several threads.
  size_t n_sims = p.sims.size(), n_jobs = p.artifacts.size() * n_sims;
  std::vector<SimResult> results(n_jobs);
  int jobs = WorkerCount(f.jobs, n_jobs);
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < jobs; ++w)
    workers.emplace_back([&] {
      for (size_t j = next++; j < n_jobs; j = next++)
        results[j] = p.sims[j % n_sims]->Simulate(p.artifacts[j / n_sims], p.target);
    });
  for (auto& w : workers) w.join();

  // predicted_s: seconds when the model predicts a time; else 1e-9 * exp(score), a positive
  // stand-in that keeps the order (for the baseline: 1 ns per instruction) for tools that
  // rank by seconds.
  auto seconds = [&](double predicted) {
    return p.seconds_per_unit > 0 ? predicted * p.seconds_per_unit : 1e-9 * std::exp(predicted);
  };
  EstimateJobResult out;
  out.target = p.target.name;
  out.workload = p.workload.Key();
  out.flops = p.flops;
  out.simulators = p.sim_names;
  out.model = p.model_label;
  out.unit = p.unit;
  for (size_t i = 0; i < p.artifacts.size(); ++i) {
    Estimate row;
    row.elf = p.artifacts[i].elf.string();
    std::map<std::string, SimStats> stats;
    for (size_t s = 0; s < n_sims; ++s) {
      SimResult& r = results[i * n_sims + s];
      if (r.ok()) stats[p.sim_names[s]] = r.stats;
      else if (row.status == "ok") {
        row.status = "failed";
        row.stage = r.stage;
        row.message = p.sim_names[s] + ": " + r.message;
      }
      row.results[p.sim_names[s]] = std::move(r);
    }
    if (row.status == "ok") {
      // Scored one at a time so that one executable's missing feature fails only its row.
      FeatureInput in;
      in.candidate_id = static_cast<int64_t>(i);
      in.group = p.group;
      in.y = std::nan("");
      in.features = ExtractFeatures(stats, p.workload, Config{}, p.flops, p.features);
      Dataset x = BuildDataset({in}, p.predictor->feature_names(), false);
      auto score = p.predictor->Predict(x);
      if (!score.ok()) {
        row.status = "failed";
        row.stage = "predict";
        row.message = score.message();
      } else {
        row.predicted = (*score)[0];
        row.predicted_s = seconds(row.predicted);
      }
    }
    if (row.status != "ok") ++out.failed_by_stage[row.stage];
    out.estimates.push_back(std::move(row));
  }
  return out;
}

nlohmann::json EstimateJobResult::ToJson() const {
  nlohmann::json out_rows = nlohmann::json::array();
  for (const Estimate& row : estimates) {
    nlohmann::json j{{"elf", row.elf}, {"status", row.status}};
    nlohmann::json stats = nlohmann::json::object(), wall = nlohmann::json::object();
    for (const auto& [name, r] : row.results) {
      if (r.ok()) stats[name] = r.stats.ToJson();
      wall[name] = r.wall_s;
    }
    j["stats"] = stats;
    j["sim_wall_s"] = wall;
    if (row.status == "ok") {
      j["predicted"] = row.predicted;
      j["unit"] = unit;
      j["predicted_s"] = row.predicted_s;
    } else {
      j["stage"] = row.stage;
      j["message"] = row.message;
    }
    out_rows.push_back(std::move(j));
  }
  return {{"target", target},     {"workload", workload}, {"flops", flops},
          {"simulators", simulators}, {"model", model},   {"results", out_rows}};
}

}  // namespace simtune::pipeline
