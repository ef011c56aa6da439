// `simtune train`, `simtune predict`, `simtune eval`: from stored statistics and reference
// results to predictors, rankings and evaluation tables.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "simtune/features.h"
#include "simtune/metrics.h"
#include "simtune/predictor.h"
#include "simtune/store.h"
#include "simtune/reference.h"
#include "simtune/strings.h"
#include "simtune/target.h"
#include "simtune/training.h"
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
  bool no_rel = false;
};

void AddDataFlags(CLI::App* cmd, DataFlags& f) {
  cmd->add_option("--db", f.db, "store file");
  cmd->add_option("--target,-t", f.target, "target the candidates were simulated for");
  cmd->add_option("--sim", f.sims, "simulators whose statistics are the features, comma-separated");
  cmd->add_option("--ref", f.ref, "reference whose results are the run time to learn");
  cmd->add_option("--ref-target", f.ref_target, "target of the reference results (default: --target)");
  cmd->add_option("--ref-options", f.ref_options, "only reference rows with these options (default: latest ok row)");
  cmd->add_option("--workloads,-w", f.workloads, "workloads (keys or catalog names; default: all in the store)")
      ->delimiter(';');
  cmd->add_flag("--knobs", f.knobs, "add knob values as features (do not transfer across operators)");
  cmd->add_flag("--no-shape", f.no_shape, "leave out the workload's shape features");
  cmd->add_flag("--no-rel", f.no_rel,
                "leave out per-workload relative features (needed to score candidates one at a time)");
}

Result<DataSpec> SpecOf(const DataFlags& f) {
  DataSpec s;
  s.sim_target = f.target;
  s.simulators.clear();
  for (const auto& part : Split(f.sims, ',')) {
    std::string name = Trim(part);
    if (name.empty()) return Error{"--sim '" + f.sims + "': empty simulator name"};
    s.simulators.push_back(name);
  }
  std::sort(s.simulators.begin(), s.simulators.end());
  if (std::adjacent_find(s.simulators.begin(), s.simulators.end()) != s.simulators.end())
    return Error{"--sim '" + f.sims + "': a simulator is named twice"};
  s.ref_target = f.ref_target;
  s.reference = f.ref;
  s.ref_options = f.ref_options;
  if (!Trim(f.ref_options).empty()) {
    // Rows are stored under the reference's canonical options key (defaults filled in):
    // match that, so that `--ref-options rounds=15` finds what `measure` stored with it.
    auto ref = References().Create(f.ref, f.ref_options);
    if (!ref.ok()) return Error{"--ref-options '" + f.ref_options + "': " + ref.message()};
    s.ref_options = (*ref)->options_key();
  }
  s.features.knobs = f.knobs;
  s.features.shape = !f.no_shape;
  s.features.relative = !f.no_rel;
  return s;
}

// The measured candidates of the chosen workloads, as a Dataset, with the reference's noise.
struct Measured {
  std::vector<CandidateData> rows;
  Dataset data;
  std::map<int, std::string> workload_key;   // group -> key
  size_t unmeasured = 0;
  size_t missing_sims = 0;
};

Result<Measured> LoadMeasured(Store& store, const DataFlags& f, const DataSpec& spec) {
  Measured m;
  SIMTUNE_ASSIGN_OR_RETURN(auto all, LoadCandidateData(store, f.workloads, spec, &m.missing_sims));
  for (auto& r : all) {
    if (!r.ref_value) {
      ++m.unmeasured;
      continue;
    }
    m.workload_key[static_cast<int>(r.workload_id)] = r.workload_key;
    m.rows.push_back(std::move(r));
  }
  if (m.rows.empty())
    return Error{"no candidate has both " + Join(spec.simulators, " and ") + " statistics on " +
                 spec.sim_target + " and a " + spec.reference + " result on " +
                 spec.effective_ref_target() + " in the store; run `simtune simulate` and `simtune measure` first"};
  m.data = ToDataset(m.rows, {}, spec.features.relative);
  return m;
}

// Median relative round spread of a workload's reference results: how far to trust them.
std::map<int, double> MedianSpread(const std::vector<CandidateData>& rows) {
  std::map<int, std::vector<double>> by;
  for (const auto& r : rows) by[static_cast<int>(r.workload_id)].push_back(r.ref_spread);
  std::map<int, double> out;
  for (auto& [g, v] : by) {
    std::sort(v.begin(), v.end());
    out[g] = v[v.size() / 2];
  }
  return out;
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
  auto spec = SpecOf(f.data);
  if (!spec.ok()) return Fail(spec.message());
  auto predictor = Predictors().Create(f.predictor, f.options);
  if (!predictor.ok()) return Fail(predictor.message());
  auto store = Store::Open(f.data.db, StoreMode::kReadOnly);
  if (!store.ok()) return Fail(store.message());
  auto m = LoadMeasured(**store, f.data, *spec);
  if (!m.ok()) return Fail(m.message());
  Status fit = (*predictor)->Fit(m->data);
  if (!fit.ok()) return Fail("train " + f.predictor + ": " + fit.message());
  nlohmann::json trained_on = {{"rows", m->data.rows()}, {"workloads", nlohmann::json::array()}};
  for (const auto& [g, key] : m->workload_key) trained_on["workloads"].push_back(key);
  Status saved = SaveTrainedModel(f.out, **predictor, *spec, trained_on);
  if (!saved.ok()) return Fail(saved.message());
  // In-sample fit: only a sanity check; `simtune eval` measures generalisation.
  auto scores = (*predictor)->Predict(m->data);
  if (!scores.ok()) return Fail(scores.message());
  std::printf("trained %s (%s) on %lld measured candidates of %zu workloads, %lld features from %s on %s\n",
              f.predictor.c_str(), (*predictor)->options().c_str(), static_cast<long long>(m->data.rows()),
              m->workload_key.size(), static_cast<long long>(m->data.cols()),
              Join(spec->simulators, "+").c_str(), spec->sim_target.c_str());
  auto chosen = (*predictor)->SaveJson().value("chosen", nlohmann::json());
  if (!chosen.is_null()) std::printf("chosen by cross-validation: %s\n", chosen.dump().c_str());
  std::printf("in-sample (training rows, not a generalisation estimate):\n");
  PrintMetricsHeader();
  for (const auto& rows : m->data.RowsByGroup()) {
    Eigen::VectorXd y(rows.size()), s(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      y[i] = m->data.y[rows[i]];
      s[i] = (*scores)[rows[i]];
    }
    int g = m->data.group[rows[0]];
    PrintMetricsRow(f.predictor, "fit", m->workload_key[g],
                    EvaluateWorkload(y, s, (*predictor)->predicts_time()));
  }
  if (m->missing_sims > 0)
    std::printf("%zu candidates left out: they lack statistics from one of %s\n", m->missing_sims,
                Join(spec->simulators, ", ").c_str());
  std::printf("wrote %s\n", f.out.c_str());
  return 0;
}

// ---- predict ----
struct PredictFlags {
  std::string db = "simtune.db";
  std::string model;
  std::string workload;
  size_t top = 20;
  std::string json;
};

int RunPredict(const PredictFlags& f) {
  auto model = LoadTrainedModel(f.model);
  if (!model.ok()) return Fail(model.message());
  auto store = Store::Open(f.db, StoreMode::kExisting);
  if (!store.ok()) return Fail(store.message());
  const DataSpec& spec = model->data;
  size_t missing = 0;
  auto rows = LoadCandidateData(**store, {f.workload}, spec, &missing);
  if (!rows.ok()) return Fail(rows.message());
  if (rows->empty())
    return Fail("workload '" + f.workload + "' has no candidate with " + Join(spec.simulators, " and ") +
                " statistics on " + spec.sim_target + "; run `simtune simulate` first");
  Dataset x = ToDataset(*rows, model->predictor->feature_names());
  auto scores = model->predictor->Predict(x);
  if (!scores.ok()) return Fail("predict with " + f.model + ": " + scores.message());
  std::vector<size_t> order(rows->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return (*scores)[a] < (*scores)[b]; });
  for (size_t i = 0; i < rows->size(); ++i) {
    PredictionRow p;
    p.candidate_id = (*rows)[i].candidate_id;
    p.target = spec.effective_ref_target();
    p.model = f.model;
    p.score = (*scores)[static_cast<Eigen::Index>(i)];
    auto id = (*store)->AddPrediction(p);
    if (!id.ok()) return Fail(id.message());
  }
  bool time = model->predictor->predicts_time();
  std::printf("%s: %zu candidates ranked by %s (%s) for %s\n", (*rows)[0].workload_key.c_str(), rows->size(),
              model->predictor->name().c_str(), f.model.c_str(), spec.effective_ref_target().c_str());
  std::printf("%4s  %8s  %14s  %14s  %s\n", "rank", "id", time ? "predicted" : "score", "measured", "config");
  nlohmann::json out = nlohmann::json::array();
  for (size_t r = 0; r < order.size(); ++r) {
    const auto& c = (*rows)[order[r]];
    double s = (*scores)[static_cast<Eigen::Index>(order[r])];
    if (r < f.top)
      std::printf("%4zu  %8lld  %14.6g  %14s  %s\n", r + 1, static_cast<long long>(c.candidate_id), s,
                  c.ref_value ? Cell(*c.ref_value, "%.6g").c_str() : "-", c.config.c_str());
    out.push_back({{"rank", r + 1}, {"candidate_id", c.candidate_id}, {"config", c.config}, {"score", s},
                   {"measured", c.ref_value ? nlohmann::json(*c.ref_value) : nlohmann::json()}});
  }
  if (order.size() > f.top) std::printf("  ... %zu more\n", order.size() - f.top);
  if (missing > 0) std::printf("%zu candidates not ranked: they lack statistics from one of %s\n", missing,
                               Join(spec.simulators, ", ").c_str());
  if (!f.json.empty()) {
    std::ofstream o(f.json);
    o << DumpJson(nlohmann::json{{"workload", (*rows)[0].workload_key}, {"model", f.model}, {"ranking", out}}, 1) << "\n";
    if (!o) return Fail("cannot write '" + f.json + "'");
  }
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
  if (f.k < 1) return Fail("--k must be >= 1; got " + std::to_string(f.k));
  auto model = LoadTrainedModel(f.model);
  if (!model.ok()) return Fail(model.message());
  const DataSpec& spec = model->data;
  auto target = LoadTarget(spec.effective_ref_target());
  if (!target.ok()) return Fail(target.message());
  auto ref = References().Create(spec.reference, f.ref_options);
  if (!ref.ok()) return Fail(ref.message());
  auto store = Store::Open(f.db, StoreMode::kExisting);
  if (!store.ok()) return Fail(store.message());
  auto rows = LoadCandidateData(**store, {f.workload}, spec);
  if (!rows.ok()) return Fail(rows.message());
  if (rows->empty())
    return Fail("workload '" + f.workload + "' has no candidate with " + Join(spec.simulators, " and ") +
                " statistics on " + spec.sim_target + "; run `simtune simulate` first");
  Dataset x = ToDataset(*rows, model->predictor->feature_names());
  auto scores = model->predictor->Predict(x);
  if (!scores.ok()) return Fail("predict with " + f.model + ": " + scores.message());
  std::vector<size_t> order(rows->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return (*scores)[a] < (*scores)[b]; });
  order.resize(std::min<size_t>(order.size(), static_cast<size_t>(f.k)));
  // The best candidate measured before (calibration) is measured again in the same rounds:
  // "did the prediction beat what we already knew" is then a ratio taken under the same
  // conditions, not one across two sessions of a shared machine.
  const size_t kNone = static_cast<size_t>(-1);
  size_t control = kNone;
  for (size_t i = 0; i < rows->size(); ++i)
    if ((*rows)[i].ref_value && (control == kNone || *(*rows)[i].ref_value < *(*rows)[control].ref_value))
      control = i;
  std::vector<size_t> measured = order;
  if (control != kNone && std::find(order.begin(), order.end(), control) == order.end())
    measured.push_back(control);
  // The k best predicted are measured together (interleaved rounds), even those measured
  // before, so that the winner is chosen among results taken under the same conditions.
  std::vector<Artifact> batch;
  std::vector<int64_t> batch_ids;
  for (size_t i : measured) {
    auto art = (*store)->LatestArtifact((*rows)[i].candidate_id, spec.sim_target);
    if (!art.ok()) return Fail(art.message());
    if (!art->has_value() || !(*art)->artifact.ok())
      return Fail("candidate " + std::to_string((*rows)[i].candidate_id) + " has no built artifact for " + spec.sim_target);
    batch.push_back((*art)->artifact);
    batch_ids.push_back((*rows)[i].candidate_id);
  }
  auto measured_results = MeasureAndStore(**ref, batch, batch_ids, *target, **store);
  if (!measured_results.ok()) return Fail(measured_results.message());
  const std::vector<RefResult>& results = *measured_results;
  std::printf("verifying the %zu best predicted of %zu candidates of %s on %s (%s)\n", order.size(), rows->size(),
              (*rows)[0].workload_key.c_str(), target->name.c_str(), (*ref)->options_key().c_str());
  std::printf("%4s  %8s  %14s  %14s  %7s  %s\n", "pred", "id", "predicted", "measured", "spread", "config");
  int best = -1;
  for (size_t j = 0; j < measured.size(); ++j) {
    const auto& c = (*rows)[measured[j]];
    const auto& r = results[j];
    std::printf("%4s  %8lld  %14.6g  %14s  %6s  %s\n",
                j < order.size() ? std::to_string(j + 1).c_str() : "(bb)", static_cast<long long>(c.candidate_id),
                (*scores)[static_cast<Eigen::Index>(measured[j])],
                r.ok() ? (Cell(r.value, "%.6g") + " " + r.unit).c_str() : ("failed [" + r.stage + "]").c_str(),
                r.ok() ? (Cell(100 * r.spread, "%.1f") + "%").c_str() : "-", c.config.c_str());
    if (j < order.size() && r.ok() && (best < 0 || r.value < results[best].value)) best = static_cast<int>(j);
  }
  if (best < 0) return Fail("every verified candidate failed on the reference");
  const auto& w = (*rows)[order[best]];
  std::printf("best verified: candidate %lld, %.6g %s, predicted rank %d: %s\n", static_cast<long long>(w.candidate_id),
              results[best].value, results[best].unit.c_str(), best + 1, w.config.c_str());
  if (control != kNone) {
    size_t cj = static_cast<size_t>(std::find(measured.begin(), measured.end(), control) - measured.begin());
    size_t before = static_cast<size_t>(std::count_if(rows->begin(), rows->end(),
                                                      [](const CandidateData& r) { return r.ref_value.has_value(); }));
    if (results[cj].ok())
      std::printf("best of the %zu candidates measured before (bb): candidate %lld, %.6g then, %.6g in these rounds; "
                  "verified best / it = %.3f (same rounds)\n",
                  before, static_cast<long long>((*rows)[control].candidate_id), *(*rows)[control].ref_value,
                  results[cj].value, results[best].value / results[cj].value);
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
  std::string json;
};

// The reference's own noise as a row of the table: a second, independent measurement of the
// same candidates (other options key, e.g. another seed) used as the "prediction" of the
// first. No predictor can be expected to agree with the truth better than the truth agrees
// with itself. Candidates without the second measurement are left out of this row.
Result<std::vector<WorkloadMetrics>> ReferenceRepeatRow(Store& store, const EvalFlags& f,
                                                        const DataSpec& spec, const Measured& m,
                                                        const MetricOptions& mo) {
  if (spec.ref_options.empty())
    return Error{"--ref-repeat needs --ref-options: which measurement is the truth and which the repeat"};
  EvalFlags g = f;
  g.data.ref_options = f.ref_repeat;
  SIMTUNE_ASSIGN_OR_RETURN(DataSpec repeat_spec, SpecOf(g.data));
  if (repeat_spec.ref_options == spec.ref_options)
    return Error{"--ref-repeat '" + f.ref_repeat + "' names the same measurement as --ref-options ('" +
                 spec.ref_options + "'); give another, e.g. seed=2"};
  SIMTUNE_ASSIGN_OR_RETURN(auto again, LoadCandidateData(store, f.data.workloads, repeat_spec, nullptr));
  std::map<int64_t, double> second;
  for (const auto& r : again)
    if (r.ref_value) second[r.candidate_id] = *r.ref_value;
  std::map<int, std::vector<std::pair<double, double>>> by;   // group -> (first, second)
  for (const auto& r : m.rows) {
    auto it = second.find(r.candidate_id);
    if (it != second.end()) by[static_cast<int>(r.workload_id)].push_back({*r.ref_value, it->second});
  }
  if (by.empty())
    return Error{"--ref-repeat '" + f.ref_repeat + "': no candidate was measured with options '" +
                 repeat_spec.ref_options + "'; run `simtune measure ... --ref-options " + f.ref_repeat + "`"};
  std::vector<WorkloadMetrics> out;
  for (const auto& [group, pairs] : by) {
    Eigen::VectorXd truth(static_cast<int64_t>(pairs.size())), repeat(truth.size());
    for (size_t i = 0; i < pairs.size(); ++i) {
      truth[static_cast<int64_t>(i)] = pairs[i].first;
      repeat[static_cast<int64_t>(i)] = pairs[i].second;
    }
    WorkloadMetrics w = EvaluateWorkload(truth, repeat, /*predicts_time=*/true, mo);
    w.group = group;
    out.push_back(w);
  }
  return out;
}

int RunEval(const EvalFlags& f) {
  auto spec = SpecOf(f.data);
  if (!spec.ok()) return Fail(spec.message());
  // Predictor specs: "name" or "name:options" separated by ';' or ','-free names.
  std::vector<std::pair<std::string, std::string>> preds;
  if (f.predictors == "all") {
    for (const auto& e : Predictors().List()) preds.push_back({e.name, ""});
  } else {
    for (const auto& part : Split(f.predictors, ';')) {
      std::string p = Trim(part);
      size_t colon = p.find(':');
      std::string name = Trim(p.substr(0, colon));
      std::string opts = colon == std::string::npos ? "" : p.substr(colon + 1);
      auto probe = Predictors().Create(name, opts);
      if (!probe.ok()) return Fail("--predictors: " + probe.message());
      preds.push_back({name, opts});
    }
  }
  std::vector<std::string> protos;
  for (const auto& part : Split(f.protocols, ',')) {
    std::string p = Trim(part);
    if (p != "kfold" && p != "lowo") return Fail(UnknownName("protocol", p, {"kfold", "lowo"}).message);
    protos.push_back(p);
  }
  auto store = Store::Open(f.data.db, StoreMode::kReadOnly);
  if (!store.ok()) return Fail(store.message());
  auto m = LoadMeasured(**store, f.data, *spec);
  if (!m.ok()) return Fail(m.message());
  auto spread = MedianSpread(m->rows);
  std::printf("evaluating on %lld measured candidates of %zu workloads; features: %lld from %s on %s; reference %s on %s\n",
              static_cast<long long>(m->data.rows()), m->workload_key.size(),
              static_cast<long long>(m->data.cols()), Join(spec->simulators, "+").c_str(),
              spec->sim_target.c_str(), spec->reference.c_str(), spec->effective_ref_target().c_str());
  for (const auto& [g, key] : m->workload_key)
    std::printf("  workload %-40s reference median round spread %.1f%%\n", key.c_str(), 100 * spread[g]);
  MetricOptions mo;
  mo.verify_k = f.verify_k;
  nlohmann::json results = nlohmann::json::array();
  std::vector<std::pair<std::string, MetricsSummary>> summaries;   // "predictor proto"
  PrintMetricsHeader();
  int failures = 0;
  if (!f.ref_repeat.empty()) {
    auto per = ReferenceRepeatRow(**store, f, *spec, *m, mo);
    if (!per.ok()) return Fail(per.message());
    nlohmann::json per_json = nlohmann::json::array();
    for (const auto& w : *per) {
      PrintMetricsRow("ref-again", "-", m->workload_key[w.group], w);
      auto j = w.ToJson();
      j["workload"] = m->workload_key[w.group];
      per_json.push_back(j);
    }
    MetricsSummary sum = Aggregate(*per);
    PrintMetricsRow("ref-again", "-", "MEAN", sum.mean);
    PrintMetricsRow("ref-again", "-", "WORST", sum.worst);
    summaries.push_back({"ref-again -", sum});
    results.push_back({{"predictor", "reference-repeat"}, {"options", f.ref_repeat}, {"protocol", "-"},
                       {"per_workload", per_json}, {"summary", sum.ToJson()}});
  }
  for (const auto& [name, opts] : preds) {
    PredictorFactory factory = [name = name, opts = opts] { return Predictors().Create(name, opts); };
    for (const auto& proto : protos) {
      if (proto == "lowo" && m->workload_key.size() < 2) {
        std::printf("%-10s %-5s skipped: leave-one-workload-out needs at least 2 workloads\n", name.c_str(), proto.c_str());
        continue;
      }
      auto per = proto == "kfold" ? KFoldWithinWorkload(m->data, factory, f.folds, f.seed, mo)
                                  : LeaveOneWorkloadOut(m->data, factory, mo);
      if (!per.ok()) {
        ++failures;
        std::printf("%-10s %-5s failed: %s\n", name.c_str(), proto.c_str(), per.message().c_str());
        results.push_back({{"predictor", name}, {"options", opts}, {"protocol", proto}, {"error", per.message()}});
        continue;
      }
      nlohmann::json per_json = nlohmann::json::array();
      for (const auto& w : *per) {
        PrintMetricsRow(name, proto, m->workload_key[w.group], w);
        auto j = w.ToJson();
        j["workload"] = m->workload_key[w.group];
        j["reference_median_spread"] = spread[w.group];
        per_json.push_back(j);
      }
      MetricsSummary sum = Aggregate(*per);
      PrintMetricsRow(name, proto, "MEAN", sum.mean);
      PrintMetricsRow(name, proto, "WORST", sum.worst);
      summaries.push_back({name + " " + proto, sum});
      results.push_back({{"predictor", name}, {"options", opts}, {"protocol", proto},
                         {"per_workload", per_json}, {"summary", sum.ToJson()}});
    }
  }
  // The goal of the predictor work, per predictor and protocol, judged on the worst workload:
  // true best within the top 1 %, Spearman rho >= 0.9, verify-top-k regret <= 1.02.
  std::printf("\nsummary over %zu workloads (goal: worst top-k%% <= 1, worst rho >= 0.9, worst verify%d <= 1.02)\n",
              m->workload_key.size(), f.verify_k);
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
    nlohmann::json doc = {{"data", spec->ToJson()},
                          {"feature_schema_version", kFeatureSchemaVersion},
                          {"features", m->data.feature_names},
                          {"rows", m->data.rows()},
                          {"folds", f.folds},
                          {"seed", f.seed},
                          {"verify_k", f.verify_k},
                          {"results", results}};
    std::ofstream o(f.json);
    o << DumpJson(doc, 1) << "\n";
    if (!o) return Fail("cannot write '" + f.json + "'");
    std::printf("wrote %s\n", f.json.c_str());
  }
  return failures == 0 ? 0 : 1;
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
  cmd->add_option("--json", f->json, "also write the full ranking to this JSON file");
  return {cmd, [f] { return RunPredict(*f); }};
}

Subcommand AddVerifyCommand(CLI::App& app) {
  auto f = std::make_shared<VerifyFlags>();
  auto* cmd = app.add_subcommand("verify", "measure the k best predicted candidates of a workload on the model's reference");
  cmd->add_option("workload", f->workload, "workload string or catalog name")->required();
  cmd->add_option("--model,-m", f->model, "model file from `simtune train`")->required();
  cmd->add_option("--db", f->db, "store file");
  cmd->add_option("--k", f->k, "how many of the best predicted to measure");
  cmd->add_option("--ref-options", f->ref_options, "reference options, key=value,...");
  return {cmd, [f] { return RunVerify(*f); }};
}

Subcommand AddEvalCommand(CLI::App& app) {
  auto f = std::make_shared<EvalFlags>();
  auto* cmd = app.add_subcommand("eval", "evaluate predictors on measured candidates: k-fold within workloads and leave-one-workload-out");
  AddDataFlags(cmd, f->data);
  cmd->add_option("--predictors,-p", f->predictors,
                  "'all' or predictors separated by ';', each 'name' or 'name:key=value,...'");
  cmd->add_option("--protocols", f->protocols, "kfold, lowo or both (comma-separated)");
  cmd->add_option("--folds", f->folds, "k of the k-fold protocol");
  cmd->add_option("--seed", f->seed, "seed of the fold assignment")->check(NonNegativeInteger());
  cmd->add_option("--verify-k", f->verify_k, "candidates verified on the reference in the verify-top-k regret");
  cmd->add_option("--ref-repeat", f->ref_repeat,
                  "options of a second measurement of the same candidates (e.g. seed=2): adds the "
                  "reference's agreement with itself as a row, the ceiling for any predictor");
  cmd->add_option("--json", f->json, "write every result to this JSON file");
  return {cmd, [f] { return RunEval(*f); }};
}

}  // namespace simtune::cli
