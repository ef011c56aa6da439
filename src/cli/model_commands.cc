// `simtune train`, `simtune predict`, `simtune verify`, `simtune eval`: flags -> the model jobs
// of pipeline.h -> printed tables.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "simtune/metrics.h"
#include "simtune/pipeline.h"
#include "simtune/store.h"
#include "simtune/strings.h"
#include "src/cli/subcommands.h"

namespace simtune::cli {
namespace {

// Flags that choose the data: which simulators' statistics, which reference, which workloads.
struct DataFlags {
  std::string db = "simtune.db";
  std::string target = "x86_64-host";
  std::string sims = "qemu";
  std::string ref = "native";
  std::string ref_target;
  std::string ref_options;
  std::vector<std::string> workloads;
  bool knobs = false;
  bool no_shape = false;
  bool shape_params = false;
  bool no_rel = false;
};

void AddDataFlags(CLI::App* cmd, DataFlags& f) {
  cmd->add_option("--db", f.db, "store file");
  cmd->add_option("--target,-t", f.target, "target the candidates were simulated for");
  cmd->add_option("--sim", f.sims, "simulators whose statistics are the features, comma-separated");
  cmd->add_option("--ref", f.ref, "reference whose results are the run time to learn");
  cmd->add_option("--ref-target", f.ref_target, "target of the reference results (default: --target)");
  cmd->add_option("--ref-options", f.ref_options, "only reference rows with these options (default: latest ok row)");
  cmd->add_option("--workloads,-w", f.workloads,
                  "workloads (keys or catalog names), comma-separated or repeated (default: all in the store)");
  cmd->add_flag("--knobs", f.knobs, "add knob values as features (do not transfer across operators)");
  cmd->add_flag("--no-shape", f.no_shape, "leave out the workload's shape features");
  cmd->add_flag("--shape-params", f.shape_params,
                "add the operator's own shape parameters (do not transfer across operators)");
  cmd->add_flag("--no-rel", f.no_rel,
                "leave out per-workload relative features (needed to score candidates one at a time)");
}

pipeline::DataOptions DataOptionsOf(const DataFlags& f) {
  pipeline::DataOptions o;
  o.target = f.target;
  o.simulators = f.sims;
  o.reference = f.ref;
  o.ref_target = f.ref_target;
  o.ref_options = f.ref_options;
  for (const auto& text : f.workloads)
    for (auto& w : SplitList(text)) o.workloads.push_back(std::move(w));
  o.knobs = f.knobs;
  o.shape = !f.no_shape;
  o.shape_params = f.shape_params;
  o.relative = !f.no_rel;
  return o;
}

// Why a candidate with stored statistics was left out (LoadCandidateData's stale_sims).
std::string StaleNote(const std::string& target_file) {
  return "their statistics came from another cache, branch predictor or core configuration than " +
         target_file + " now gives (`simtune simulate` with that file simulates them again)";
}

std::string Cell(double v, const char* fmt) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

void PrintMetricsHeader() {
  std::printf("%-10s %-5s %-32s %6s %7s %7s %8s %6s %6s %7s %6s\n", "predictor", "proto", "workload",
              "n", "top-k%", "regret", "verify5", "rho", "tau", "ndcg10", "mape");
}

void PrintMetricsRow(const std::string& predictor, const std::string& protocol,
                     const std::string& workload, const WorkloadMetrics& m) {
  std::printf("%-10s %-5s %-32s %6lld %7s %7s %8s %6s %6s %7s %6s\n", predictor.c_str(),
              protocol.c_str(), workload.substr(0, 32).c_str(), static_cast<long long>(m.candidates),
              Cell(m.top_k_percent, "%.2f").c_str(), Cell(m.regret, "%.3f").c_str(),
              Cell(m.regret_verify_top_k, "%.3f").c_str(), Cell(m.spearman, "%.3f").c_str(),
              Cell(m.kendall_tau_b, "%.3f").c_str(), Cell(m.ndcg_at_k, "%.3f").c_str(),
              Cell(m.mape, "%.3f").c_str());
}

// ---- train ----
struct TrainFlags {
  DataFlags data;
  std::string predictor = "xgb-rank";
  std::string options;
  std::string out = "model.json";
};

int RunTrain(const TrainFlags& f) {
  pipeline::TrainJobOptions o;
  o.data = DataOptionsOf(f.data);
  o.predictor = f.predictor;
  o.predictor_options = f.options;
  o.out = f.out;
  auto job = pipeline::TrainJob::Prepare(o);
  if (!job.ok()) return Fail(job.message());
  auto store = Store::Open(f.data.db, StoreMode::kReadOnly);
  if (!store.ok()) return Fail(store.message());
  auto r = job->Run(**store);
  if (!r.ok()) return Fail(r.message());
  std::printf("trained %s (%s) on %lld measured candidates of %zu workloads, %lld features from %s on %s\n",
              r->predictor.c_str(), r->predictor_options.c_str(), static_cast<long long>(r->rows),
              r->workloads.size(), static_cast<long long>(r->features),
              Join(r->data.simulators, "+").c_str(), r->data.sim_target.c_str());
  if (!r->chosen.is_null()) std::printf("chosen by cross-validation: %s\n", r->chosen.dump().c_str());
  if (r->unit == "score")
    std::printf("predicts: a unitless score that orders candidates (not a run time)\n");
  else
    std::printf("predicts: run time in %s on %s (%s)\n", r->unit.c_str(), r->data.reference.c_str(),
                r->data.effective_ref_target().c_str());
  std::printf("in-sample (training rows, not a generalisation estimate):\n");
  PrintMetricsHeader();
  for (const auto& w : r->in_sample) PrintMetricsRow(f.predictor, "fit", w.workload, w.metrics);
  if (r->missing_sims > 0)
    std::printf("%zu candidates left out: they lack statistics from one of %s\n", r->missing_sims,
                Join(r->data.simulators, ", ").c_str());
  if (r->stale_sims > 0)
    std::printf("%zu candidates left out: %s\n", r->stale_sims,
                StaleNote(r->data.target_file).c_str());
  std::printf("wrote %s\n", f.out.c_str());
  return 0;
}

// ---- predict ----
struct PredictFlags {
  std::string db = "simtune.db";
  std::string model;
  std::string workload;
  size_t top = 20;
  std::string json;   // '-': stdout instead of the table
};

int RunPredict(const PredictFlags& f) {
  auto job = pipeline::PredictJob::Prepare({f.model, f.workload});
  if (!job.ok()) return Fail(job.message());
  auto store = Store::Open(f.db, StoreMode::kExisting);
  if (!store.ok()) return Fail(store.message());
  auto r = job->Run(**store);
  if (!r.ok()) return Fail(r.message());
  // The measured column is the model's reference on its target: the unit it was trained in.
  const std::string measured_unit = r->unit == "score" ? "" : r->unit;
  bool table = f.json != "-";
  if (table) {
    std::printf("%s: %zu candidates ranked by %s (%s) for %s\n", r->workload.c_str(), r->ranking.size(),
                r->predictor.c_str(), f.model.c_str(), r->target.c_str());
    std::printf("%4s  %8s  %18s  %18s  %s\n", "rank", "id", PredictionHeader(r->unit).c_str(), "measured",
                "config");
  }
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < r->ranking.size(); ++i) {
    const auto& c = r->ranking[i];
    if (table && i < f.top)
      std::printf("%4zu  %8lld  %18s  %18s  %s\n", i + 1, static_cast<long long>(c.candidate_id),
                  FormatPrediction(c.score, r->unit).c_str(),
                  c.measured ? FormatPrediction(*c.measured, measured_unit).c_str() : "-", c.config.c_str());
    out.push_back({{"rank", i + 1}, {"candidate_id", c.candidate_id}, {"config", c.config}, {"score", c.score},
                   {"measured", c.measured ? nlohmann::json(*c.measured) : nlohmann::json()}});
  }
  if (table && r->ranking.size() > f.top) std::printf("  ... %zu more\n", r->ranking.size() - f.top);
  if (table && r->missing_sims > 0)
    std::printf("%zu candidates not ranked: they lack statistics from one of %s\n", r->missing_sims,
                Join(r->simulators, ", ").c_str());
  for (const auto& w : r->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());

  if (!f.json.empty())
    return WriteJsonOutput(f.json, {{"workload", r->workload}, {"model", f.model}, {"target", r->target},
                                    {"unit", r->unit}, {"ranking", out}});
  return 0;
}

// ---- verify ----
struct VerifyFlags {
  std::string db = "simtune.db";
  std::string model;
  std::string workload;
  std::string ref_options;
  int k = 5;
};

int RunVerify(const VerifyFlags& f) {
  pipeline::VerifyJobOptions o;
  o.model = f.model;
  o.workload = f.workload;
  o.ref_options = f.ref_options;
  o.k = f.k;
  auto job = pipeline::VerifyJob::Prepare(o);
  if (!job.ok()) return Fail(job.message());
  auto store = Store::Open(f.db, StoreMode::kExisting);
  if (!store.ok()) return Fail(store.message());
  auto r = job->Run(**store);
  if (!r.ok()) return Fail(r.message());
  for (const auto& w : r->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  std::printf("verifying the %zu best predicted of %zu candidates of %s on %s (%s)\n", r->k, r->candidates,
              r->workload.c_str(), r->target.c_str(), r->reference_options.c_str());
  std::printf("%4s  %8s  %18s  %18s  %7s  %s\n", "pred", "id", PredictionHeader(r->unit).c_str(), "measured",
              "spread", "config");
  for (size_t j = 0; j < r->verified.size(); ++j) {
    const auto& c = r->verified[j];
    const RefResult& m = c.result;
    std::printf("%4s  %8lld  %18s  %18s  %6s  %s\n", j < r->k ? std::to_string(j + 1).c_str() : "(bb)",
                static_cast<long long>(c.candidate_id), FormatPrediction(c.score, r->unit).c_str(),
                m.ok() ? (Cell(m.value, "%.6g") + " " + m.unit).c_str() : ("failed [" + m.stage + "]").c_str(),
                m.ok() ? (Cell(100 * m.spread, "%.1f") + "%").c_str() : "-", c.config.c_str());
  }
  if (r->best < 0) return Fail("every verified candidate failed on the reference");
  const auto& w = r->verified[r->best];
  std::printf("best verified: candidate %lld, %.6g %s, predicted rank %d: %s\n",
              static_cast<long long>(w.candidate_id), w.result.value, w.result.unit.c_str(), r->best + 1,
              w.config.c_str());
  if (r->control >= 0) {
    const auto& c = r->verified[r->control];
    if (c.result.ok())
      std::printf("best of the %zu candidates measured before (bb): candidate %lld, %.6g then, %.6g in these rounds; "
                  "verified best / it = %.3f (same rounds)\n",
                  r->measured_before, static_cast<long long>(c.candidate_id), *c.measured_before, c.result.value,
                  w.result.value / c.result.value);
  }
  return 0;
}

// ---- eval ----
struct EvalFlags {
  DataFlags data;
  std::string predictors = "all";
  std::string protocols = "kfold,lowo";
  int folds = 5;
  uint64_t seed = 0;
  int verify_k = 5;
  std::string ref_repeat;   // options of a second, independent reference measurement
  std::vector<std::string> score_workloads;
  std::string json;
};

int RunEval(const EvalFlags& f) {
  pipeline::EvalJobOptions o;
  o.data = DataOptionsOf(f.data);
  o.predictors = f.predictors;
  o.protocols = f.protocols;
  o.folds = f.folds;
  o.seed = f.seed;
  o.verify_k = f.verify_k;
  o.ref_repeat = f.ref_repeat;
  o.score_workloads = f.score_workloads;
  auto job = pipeline::EvalJob::Prepare(o);
  if (!job.ok()) return Fail(job.message());
  auto store = Store::Open(f.data.db, StoreMode::kReadOnly);
  if (!store.ok()) return Fail(store.message());
  auto r = job->Run(**store);
  if (!r.ok()) return Fail(r.message());
  const DataSpec& spec = r->data;
  std::printf("evaluating on %lld measured candidates of %zu workloads; features: %lld from %s on %s; reference %s on %s\n",
              static_cast<long long>(r->rows), r->workloads.size(), static_cast<long long>(r->features),
              Join(spec.simulators, "+").c_str(), spec.sim_target.c_str(), spec.reference.c_str(),
              spec.effective_ref_target().c_str());
  for (const auto& key : r->workloads)
    std::printf("  workload %-40s reference median round spread %.1f%%\n", key.c_str(),
                100 * r->reference_spread.at(key));
  if (r->stale_sims > 0)
    std::printf("%zu candidates left out: %s\n", r->stale_sims, StaleNote(spec.target_file).c_str());
  if (!f.score_workloads.empty())
    std::printf("scoring only those named by --score-workloads; all %zu train\n", r->workloads.size());
  std::vector<std::pair<std::string, MetricsSummary>> summaries;   // "predictor proto"
  PrintMetricsHeader();
  for (const auto& run : r->runs) {
    bool repeat = run.predictor == "reference-repeat";
    std::string name = repeat ? "ref-again" : run.predictor;
    if (!run.skipped.empty()) {
      std::printf("%-10s %-5s skipped: %s\n", name.c_str(), run.protocol.c_str(), run.skipped.c_str());
      continue;
    }
    if (!run.error.empty()) {
      std::printf("%-10s %-5s failed: %s\n", name.c_str(), run.protocol.c_str(), run.error.c_str());
      continue;
    }
    for (const auto& w : run.per_workload) PrintMetricsRow(name, run.protocol, w.workload, w.metrics);
    PrintMetricsRow(name, run.protocol, "MEAN", run.summary.mean);
    PrintMetricsRow(name, run.protocol, "WORST", run.summary.worst);
    summaries.push_back({name + " " + run.protocol, run.summary});
  }
  // The goal of the predictor work, per predictor and protocol, judged on the worst workload:
  // true best within the top 1 %, Spearman rho >= 0.9, verify-top-k regret <= 1.02.
  const size_t scored = summaries.empty() ? r->workloads.size() : static_cast<size_t>(summaries.front().second.workloads);
  std::printf("\nsummary over %zu workloads (goal: worst top-k%% <= 1, worst rho >= 0.9, worst verify%d <= 1.02)\n",
              scored, f.verify_k);
  std::printf("%-16s %9s %9s %8s %8s %9s %9s  %s\n", "predictor proto", "top-k%", "worst", "rho", "worst", "verify",
              "worst", "goal");
  for (const auto& [label, sum] : summaries) {
    bool goal = sum.worst.top_k_percent <= 1.0 && sum.worst.spearman >= 0.9 && sum.worst.regret_verify_top_k <= 1.02;
    std::printf("%-16s %9s %9s %8s %8s %9s %9s  %s\n", label.c_str(), Cell(sum.mean.top_k_percent, "%.2f").c_str(),
                Cell(sum.worst.top_k_percent, "%.2f").c_str(), Cell(sum.mean.spearman, "%.3f").c_str(),
                Cell(sum.worst.spearman, "%.3f").c_str(), Cell(sum.mean.regret_verify_top_k, "%.3f").c_str(),
                Cell(sum.worst.regret_verify_top_k, "%.3f").c_str(), goal ? "met" : "missed");
  }
  if (!f.json.empty()) {
    cli::CreateParentFolder(f.json);
    std::ofstream out(f.json);
    out << DumpJson(r->ToJson(o), 1) << "\n";
    if (!out) return Fail("cannot write '" + f.json + "'");
    std::printf("wrote %s\n", f.json.c_str());
  }
  return r->failures == 0 ? 0 : 1;
}

}  // namespace

Subcommand AddTrainCommand(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  auto* cmd = app.add_subcommand("train", "fit a predictor on stored statistics and reference results; write a model file");
  AddDataFlags(cmd, f->data);
  cmd->add_option("--predictor,-p", f->predictor, "predictor name (see `simtune list predictors`)");
  cmd->add_option("--options", f->options, "predictor options, key=value,...");
  cmd->add_option("--out,-o", f->out, "model file to write");
  return {cmd, [f] { return RunTrain(*f); }};
}

Subcommand AddPredictCommand(CLI::App& app) {
  auto f = std::make_shared<PredictFlags>();
  auto* cmd = app.add_subcommand("predict", "rank a workload's simulated candidates with a trained model");
  cmd->add_option("workload", f->workload, "workload string or catalog name")->required();
  cmd->add_option("--model,-m", f->model, "model file from `simtune train`")->required();
  cmd->add_option("--db", f->db, "store file");
  cmd->add_option("--top", f->top, "rows of the ranking to print")->check(NonNegativeInteger());
  cmd->add_option("--json", f->json, "also write the full ranking as JSON to this file ('-': stdout, no table)");
  return {cmd, [f] { return RunPredict(*f); }};
}

Subcommand AddVerifyCommand(CLI::App& app) {
  auto f = std::make_shared<VerifyFlags>();
  auto* cmd = app.add_subcommand("verify", "measure the k best predicted candidates of a workload on the model's reference");
  cmd->add_option("workload", f->workload, "workload string or catalog name")->required();
  cmd->add_option("--model,-m", f->model, "model file from `simtune train`")->required();
  cmd->add_option("--db", f->db, "store file");
  cmd->add_option("--top", f->k, "how many of the best predicted to measure")->check(NonNegativeInteger());
  AddDeprecatedAlias(cmd, "--k", f->k, "--top");
  cmd->add_option("--ref-options", f->ref_options, "reference options, key=value,...");
  return {cmd, [f] { return RunVerify(*f); }};
}

Subcommand AddEvalCommand(CLI::App& app) {
  auto f = std::make_shared<EvalFlags>();
  auto* cmd = app.add_subcommand("eval", "evaluate predictors on measured candidates: k-fold within workloads and leave-one-workload-out");
  AddDataFlags(cmd, f->data);
  cmd->add_option("--predictors,-p", f->predictors,
                  "'all' or predictors, comma-separated, each 'name' or 'name:key=value,...'");
  cmd->add_option("--protocols", f->protocols, "kfold, lowo or both, comma-separated");
  cmd->add_option("--folds", f->folds, "k of the k-fold protocol");
  cmd->add_option("--seed", f->seed, "seed of the fold assignment")->check(NonNegativeInteger());
  cmd->add_option("--top", f->verify_k,
                  "how many of the best predicted count as verified on the reference (the k of the "
                  "verify-top-k regret)")
      ->check(NonNegativeInteger());
  AddDeprecatedAlias(cmd, "--verify-k", f->verify_k, "--top");
  cmd->add_option("--ref-repeat", f->ref_repeat,
                  "options of a second measurement of the same candidates (e.g. seed=2): adds the "
                  "reference's agreement with itself as a row, the ceiling for any predictor");
  cmd->add_option("--score-workloads", f->score_workloads,
                  "score only these workloads (keys or catalog names, ';'-separated or repeated); every "
                  "workload still trains (lowo: each scored one against a model of all the others)")
      ->delimiter(';');
  cmd->add_option("--json", f->json, "write every result to this JSON file");
  return {cmd, [f] { return RunEval(*f); }};
}

}  // namespace simtune::cli
