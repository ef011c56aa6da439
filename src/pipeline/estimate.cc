// The estimate job (`simtune estimate`): simulates executables built outside simtune (the TVM
// MetaSchedule runner in python/simtune_tvm builds them from TVM's object files) and predicts
// each one's run time on the target, without a store. The executables follow the harness
// contract of build.h (ROI markers, verify line); each gets one result row, failures included.
//
// Scores come from a trained-model file (`simtune train --no-rel`: relative features depend on
// the batch an ELF is scored with, so they are refused), or, without a model, from a baseline
// that needs no training: llvm-mca's cycle estimate when the "mca" simulator runs, else the
// instruction count of the first simulator.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <thread>

#include "simtune/features.h"
#include "simtune/files.h"
#include "simtune/pipeline.h"
#include "simtune/process.h"
#include "simtune/reference.h"
#include "simtune/store.h"
#include "simtune/strings.h"
#include "src/pipeline/sim_row.h"

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
  std::optional<std::string> bytes = ReadWholeFile(path);
  if (!bytes) return Error{"elf '" + path + "': cannot read it"};
  return std::move(*bytes);
}

// What the command needs before any simulation runs; every user error surfaces here.
struct Plan {
  Target target;
  Workload workload;
  double flops = 0;
  std::vector<std::string> sim_names;
  std::unique_ptr<SimulatorSet> sims;   // one qemu run serves qemu and mca
  std::unique_ptr<Predictor> predictor;
  FeatureOptions features;
  std::string model_label;     // "insn-count baseline (qemu.log_insn)" or the model path
  std::string unit;            // "ns", "cycles" or "score"
  double seconds_per_unit = 0; // 0: the score is not a time (see predicted_s)
  int group = kUnseenGroup;
  std::vector<Artifact> artifacts;
  std::unique_ptr<Reference> reference;  // when measure is not empty
  std::vector<size_t> measure;           // distinct indices into artifacts, ascending
  std::unique_ptr<Store> store;          // EstimateJobOptions::store
  std::vector<int64_t> candidate_ids;    // per artifact, when store
};

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
    SIMTUNE_ASSIGN_OR_RETURN(p.target, LoadTarget(target_name));
    if (p.target.name != spec.sim_target)
      return Error{"--target '" + f.target + "' differs from the target model " + f.model +
                   " was trained on (" + spec.sim_target + ")"};
    if (p.unit == "ns") {
      p.seconds_per_unit = 1e-9;
    } else if (p.unit != "score") {
      // --clock-hz, else the target's own clock (the rvsim targets give their model's).
      double hz = f.clock_hz > 0 ? f.clock_hz : p.target.clock_hz;
      if (!(hz > 0))
        return Error{"model " + f.model + " predicts " + p.unit + " (reference " + spec.reference +
                     "); pass --clock-hz to turn them into seconds (target " + p.target.name +
                     " gives no clock_hz)"};
      p.seconds_per_unit = 1.0 / hz;
    }
    p.predictor = std::move(m.predictor);
  } else {
    if (target_name.empty()) return Error{"pass --target (or --model, whose target is used)"};
    if (sims.empty()) sims = {"qemu"};
    SIMTUNE_ASSIGN_OR_RETURN(p.target, LoadTarget(target_name));
    // With the "mca" simulator among them, its cycle estimate (block costs of the target's
    // core model x executed block counts) ranks; else the first simulator's instruction count.
    bool mca = std::find(sims.begin(), sims.end(), "mca") != sims.end();
    std::string baseline = mca ? "mca" : "insn-count";
    std::string feature = mca ? "mca.log_cycles" : sims[0] + ".log_insn";
    SIMTUNE_ASSIGN_OR_RETURN(p.predictor, Predictors().Create(baseline, "feature=" + feature));
    SIMTUNE_RETURN_IF_ERROR(p.predictor->LoadJson({{"features", {feature}}, {"feature", feature}}));
    p.features.relative = false;
    p.model_label = baseline + " baseline (" + feature + ")";
    p.unit = "score";
  }
  if (!(f.clock_hz >= 0) || !std::isfinite(f.clock_hz))
    return Error{"--clock-hz must be a positive number; got " + std::to_string(f.clock_hz)};
  if (!(f.flops >= 0) || !std::isfinite(f.flops))
    return Error{"--flops must be >= 0; got " + std::to_string(f.flops)};

  std::vector<std::pair<std::string, std::string>> specs;
  for (const auto& name : sims) specs.emplace_back(name, "");
  SIMTUNE_ASSIGN_OR_RETURN(p.sims, SimulatorSet::Create(specs));
  SIMTUNE_RETURN_IF_ERROR(p.sims->CheckTarget(p.target));
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

  if (f.measure_top < 0)
    return Error{"--measure-top must be >= 0; got " + std::to_string(f.measure_top)};
  if (!f.measure.empty() || f.measure_top > 0) {
    for (int i : f.measure) {
      if (i < 0 || static_cast<size_t>(i) >= p.artifacts.size())
        return Error{"--measure index " + std::to_string(i) + " is out of range; " +
                     std::to_string(p.artifacts.size()) + " executables given"};
      p.measure.push_back(static_cast<size_t>(i));
    }
    std::sort(p.measure.begin(), p.measure.end());
    p.measure.erase(std::unique(p.measure.begin(), p.measure.end()), p.measure.end());
    std::string ref = f.reference;
    if (ref.empty()) {
      if (p.target.references.empty())
        return Error{"target '" + p.target.name + "' has no reference to measure on; pass --ref"};
      ref = p.target.references.front();
    }
    SIMTUNE_ASSIGN_OR_RETURN(p.reference, References().Create(ref, MergeReferenceOptions(
                                                                        p.target, ref, f.reference_options)));
  } else if (!f.reference.empty() || !f.reference_options.empty()) {
    return Error{"--ref and --ref-options need --measure or --measure-top (which executables to measure)"};
  }

  if (!f.labels.empty() && f.labels.size() != f.elfs.size())
    return Error{"--label: " + std::to_string(f.labels.size()) + " labels for " +
                 std::to_string(f.elfs.size()) + " executables"};
  if (!f.store.empty()) {
    SIMTUNE_ASSIGN_OR_RETURN(p.store, Store::Open(f.store, StoreMode::kCreate));
    SIMTUNE_ASSIGN_OR_RETURN(int64_t wid, p.store->AddWorkload(p.workload));
    for (size_t i = 0; i < p.artifacts.size(); ++i) {
      std::string label = f.labels.empty() ? p.artifacts[i].hash.substr(0, 16) : f.labels[i];
      if (label.empty() || label.find_first_of(", \t\n") != std::string::npos)
        return Error{"--label '" + label + "': expected a name without ',' or spaces"};
      SIMTUNE_ASSIGN_OR_RETURN(int64_t cid, p.store->AddCandidate(wid, kExternalConfigPrefix + label));
      SIMTUNE_ASSIGN_OR_RETURN(auto latest, p.store->LatestArtifact(cid, p.target.name));
      if (!latest || latest->artifact.hash != p.artifacts[i].hash || latest->artifact.elf != p.artifacts[i].elf) {
        SIMTUNE_RETURN_IF_ERROR(p.store->AddArtifact(cid, p.artifacts[i]));
      }
      p.candidate_ids.push_back(cid);
    }
  }
  return p;
}

// The store's ok simulation of artifact i on simulator s, if it holds one (resume).
Result<std::optional<SimResult>> StoredSim(Plan& p, size_t i, size_t s) {
  if (!p.store) return std::optional<SimResult>{};
  SIMTUNE_ASSIGN_OR_RETURN(auto row, p.store->LatestOkSim(p.candidate_ids[i], p.target.name, p.sim_names[s],
                                                          p.sims->at(s).options_key(), p.artifacts[i].hash));
  if (!row) return std::optional<SimResult>{};
  std::string where = "store " + p.sim_names[s] + " row " + std::to_string(row->id);
  nlohmann::json j = nlohmann::json::parse(row->stats_json, nullptr, false);
  if (j.is_discarded()) return Error{where + ": statistics are not JSON"};
  SimResult r;
  r.status = "ok";
  r.wall_s = row->wall_s;
  SIMTUNE_ASSIGN_OR_RETURN(r.stats, SimStats::FromJson(j, where));
  return std::optional<SimResult>{std::move(r)};
}

Status StoreSim(Plan& p, size_t i, size_t s, const SimResult& r) {
  auto id = p.store->AddSimResult(MakeSimRow(p.candidate_ids[i], p.target.name, p.sim_names[s],
                                             p.sims->at(s).options_key(), p.artifacts[i].hash, r));
  if (!id.ok()) return id.error();
  return {};
}

// Measures the ok rows among p.measure on the reference (reusing the store's results).
Status MeasureRows(Plan& p, std::vector<Estimate>& rows) {
  std::vector<size_t> todo;
  for (size_t i : p.measure) {
    if (rows[i].status != "ok") continue;
    if (p.store) {
      SIMTUNE_ASSIGN_OR_RETURN(auto stored, FindStoredRef(*p.reference, p.target, p.candidate_ids[i],
                                                          p.artifacts[i].hash, *p.store));
      if (stored) {
        rows[i].measured = stored->result;
        continue;
      }
    }
    todo.push_back(i);
  }
  if (todo.empty()) return {};
  std::vector<Artifact> batch;
  std::vector<int64_t> ids;
  for (size_t i : todo) {
    batch.push_back(p.artifacts[i]);
    if (p.store) ids.push_back(p.candidate_ids[i]);
  }
  std::vector<RefResult> measured;
  if (p.store) {
    SIMTUNE_ASSIGN_OR_RETURN(measured, MeasureAndStore(*p.reference, batch, ids, p.target, *p.store));
  } else {
    measured = p.reference->Measure(batch, p.target);
  }
  for (size_t k = 0; k < todo.size(); ++k) rows[todo[k]].measured = measured[k];
  return {};
}

}  // namespace

Result<EstimateJobResult> RunEstimate(const EstimateJobOptions& f) {
  SIMTUNE_ASSIGN_OR_RETURN(Plan p, MakePlan(f));

  // One job per executable that lacks statistics: all simulators as a set (one qemu run
  // serves qemu and mca), or those it lacks one by one. Simulators are thread-safe.
  size_t n_sims = p.sims->size(), n_jobs = p.artifacts.size() * n_sims;
  std::vector<SimResult> results(n_jobs);
  std::vector<size_t> todo;   // jobs the store does not hold yet
  std::vector<bool> reused(p.artifacts.size(), true);
  for (size_t j = 0; j < n_jobs; ++j) {
    SIMTUNE_ASSIGN_OR_RETURN(auto stored, StoredSim(p, j / n_sims, j % n_sims));
    if (stored) {
      results[j] = std::move(*stored);
    } else {
      todo.push_back(j);
      reused[j / n_sims] = false;
    }
  }
  std::vector<std::vector<size_t>> missing(p.artifacts.size());   // per executable
  for (size_t j : todo) missing[j / n_sims].push_back(j % n_sims);
  std::vector<size_t> unsimulated;
  for (size_t i = 0; i < missing.size(); ++i)
    if (!missing[i].empty()) unsimulated.push_back(i);
  int jobs = WorkerCount(f.jobs, unsimulated.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < jobs; ++w)
    workers.emplace_back([&] {
      for (size_t t = next++; t < unsimulated.size(); t = next++) {
        size_t i = unsimulated[t];
        std::vector<SimResult> got = p.sims->Simulate(p.artifacts[i], p.target, missing[i]);
        for (size_t s : missing[i]) results[i * n_sims + s] = std::move(got[s]);
      }
    });
  for (auto& w : workers) w.join();
  if (p.store)
    for (size_t j : todo) SIMTUNE_RETURN_IF_ERROR(StoreSim(p, j / n_sims, j % n_sims, results[j]));

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
  if (p.reference) {
    out.reference = p.reference->name();
    out.reference_options = p.reference->options_key();
  }
  for (size_t i = 0; i < p.artifacts.size(); ++i) {
    Estimate row;
    row.elf = p.artifacts[i].elf.string();
    row.reused = reused[i];
    if (p.store) row.candidate_id = p.candidate_ids[i];
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
  if (f.measure_top > 0) {
    std::vector<size_t> ok;
    for (size_t i = 0; i < out.estimates.size(); ++i)
      if (out.estimates[i].status == "ok") ok.push_back(i);
    size_t n = std::min(ok.size(), static_cast<size_t>(f.measure_top));
    std::partial_sort(ok.begin(), ok.begin() + n, ok.end(), [&](size_t a, size_t b) {
      return out.estimates[a].predicted < out.estimates[b].predicted;
    });
    p.measure.insert(p.measure.end(), ok.begin(), ok.begin() + n);
    std::sort(p.measure.begin(), p.measure.end());
    p.measure.erase(std::unique(p.measure.begin(), p.measure.end()), p.measure.end());
  }
  if (p.reference) {
    auto t0 = std::chrono::steady_clock::now();
    SIMTUNE_RETURN_IF_ERROR(MeasureRows(p, out.estimates));
    out.reference_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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
    if (row.measured) {
      const RefResult& m = *row.measured;
      nlohmann::json mj{{"status", m.status}};
      if (m.ok()) {
        mj["value"] = m.value;
        mj["unit"] = m.unit;
        mj["spread"] = m.spread;
        mj["rounds"] = m.rounds;
      } else {
        mj["stage"] = m.stage;
        mj["message"] = m.message;
      }
      j["measured"] = std::move(mj);
    }
    if (row.candidate_id) j["candidate_id"] = row.candidate_id;
    j["reused"] = row.reused;
    out_rows.push_back(std::move(j));
  }
  nlohmann::json doc{{"target", target},         {"workload", workload}, {"flops", flops},
                     {"simulators", simulators}, {"model", model},       {"results", out_rows}};
  if (!reference.empty()) {
    doc["reference"] = reference;
    doc["reference_options"] = reference_options;
    doc["reference_wall_s"] = reference_wall_s;
  }
  return doc;
}

}  // namespace simtune::pipeline
