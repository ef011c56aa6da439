// The report document: the store's results of each workload, arranged for the plots
// (src/report/charts.cc draws them).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "simtune/metrics.h"
#include "simtune/pipeline.h"
#include "simtune/report.h"
#include "simtune/simulator.h"
#include "simtune/strings.h"
#include "simtune/workload.h"
#include "src/report/charts.h"

namespace simtune::report {
namespace {

using nlohmann::json;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

json Num(double v) { return std::isfinite(v) ? json(v) : json(); }

// The predictions to plot: the latest row per candidate of `model` (empty: the model of the
// latest prediction row).
struct Predictions {
  std::string model;
  std::string unit;                       // "" when the store does not know (version-1 rows)
  std::map<int64_t, double> score;
  std::vector<std::string> models;        // every model with predictions, for the note
};

Predictions PickPredictions(const std::vector<PredictionRow>& rows, const std::string& model) {
  Predictions p;
  p.model = model;
  for (const auto& r : rows) {
    if (std::find(p.models.begin(), p.models.end(), r.model) == p.models.end()) p.models.push_back(r.model);
    if (model.empty()) p.model = r.model;   // rows come oldest first
  }
  for (const auto& r : rows)
    if (r.model == p.model) {
      p.score[r.candidate_id] = r.score;
      p.unit = r.unit;
    }
  return p;
}

// The part of a workload with predictions: predicted vs measured, rank of the true best.
json Accuracy(const pipeline::MeasureJobResult& measured, const Predictions& pred, const std::string& time_unit) {
  json out = {{"model", pred.model}, {"unit", pred.unit.empty() ? "unknown unit" : pred.unit},
              {"models", pred.models}, {"predicted", pred.score.size()}};
  std::vector<const pipeline::RankedCandidate*> both;
  for (const auto& r : measured.ranked)
    if (pred.score.count(r.candidate_id)) both.push_back(&r);
  out["both"] = both.size();
  if (both.empty()) return out;
  Eigen::VectorXd truth(static_cast<Eigen::Index>(both.size())), scores(truth.size());
  for (size_t i = 0; i < both.size(); ++i) {
    truth[static_cast<Eigen::Index>(i)] = both[i]->ref.result.value;
    scores[static_cast<Eigen::Index>(i)] = pred.score.at(both[i]->candidate_id);
  }
  // both[] is fastest first, so both[0] is the true best; its predicted rank counts the
  // measured candidates predicted strictly faster, plus ties (ties count against the model).
  int64_t rank = 1;
  for (Eigen::Index i = 1; i < scores.size(); ++i)
    if (scores[i] <= scores[0]) ++rank;
  Eigen::Index predicted_best = 0;
  for (Eigen::Index i = 1; i < scores.size(); ++i)
    if (scores[i] < scores[predicted_best]) predicted_best = i;
  out["true_best"] = {{"candidate_id", both[0]->candidate_id}, {"config", both[0]->config},
                      {"measured", truth[0]}, {"predicted_rank", rank}};
  out["predicted_best"] = {{"candidate_id", both[predicted_best]->candidate_id},
                           {"config", both[predicted_best]->config},
                           {"measured", truth[predicted_best]}};
  out["spearman"] = Num(Spearman(truth, scores));
  out["top_k_percent"] = Num(TopKPercent(truth, scores));
  out["regret"] = Num(Regret(truth, scores));
  json points = json::array();
  for (size_t i = 0; i < both.size(); ++i) {
    std::string role = "candidate";
    bool is_true = i == 0, is_pred = static_cast<Eigen::Index>(i) == predicted_best;
    if (is_true && is_pred) role = "true best = predicted best";
    else if (is_true) role = "true best";
    else if (is_pred) role = "predicted best";
    points.push_back({{"candidate_id", both[i]->candidate_id},
                      {"config", both[i]->config},
                      {"measured", truth[static_cast<Eigen::Index>(i)]},
                      {"predicted", scores[static_cast<Eigen::Index>(i)]},
                      {"role", role}});
  }
  out["points"] = points;
  out["time_unit"] = time_unit;
  return out;
}

// Reference noise: each candidate's relative round spread; how many candidates are within the
// median spread of the best (their order among themselves is noise).
json Noise(const pipeline::MeasureJobResult& measured, double threshold) {
  json out = {{"measured", measured.ranked.size()}, {"threshold", threshold}};
  if (measured.ranked.empty()) return out;
  std::vector<double> spreads;
  json points = json::array();
  for (const auto& r : measured.ranked) {
    spreads.push_back(r.ref.result.spread);
    points.push_back({{"candidate_id", r.candidate_id},
                      {"config", r.config},
                      {"spread_percent", 100 * r.ref.result.spread},
                      {"value", r.ref.result.value},
                      {"rounds", r.ref.result.rounds}});
  }
  std::sort(spreads.begin(), spreads.end());
  double median = spreads[spreads.size() / 2];
  double best = measured.ranked.front().ref.result.value;
  size_t within = 0;
  for (const auto& r : measured.ranked)
    if (r.ref.result.value <= best * (1 + median)) ++within;
  out["median_spread"] = median;
  out["max_spread"] = spreads.back();
  out["within_noise_of_best"] = within;
  out["untrustworthy"] = median > threshold || within > 1;
  std::string why;
  if (median > threshold)
    why = "median round spread " + Percent(median) + " is above the " + Percent(threshold) + " threshold";
  if (within > 1)
    why += std::string(why.empty() ? "" : "; ") + std::to_string(within - 1) +
           (within == 2 ? " other candidate is" : " other candidates are") + " within the median round spread (" +
           Percent(median) + ") of the best: which is the true best is noise";
  out["why"] = why;
  out["points"] = points;
  return out;
}

// Instruction mix and misses per 1000 instructions of the top candidates (by measured time,
// else by prediction).
json TopStats(Store& store, int64_t wid, const std::string& target, const pipeline::MeasureJobResult& measured,
              const Predictions& pred, size_t top) {
  std::vector<std::pair<int64_t, std::string>> chosen;   // (id, why it is here)
  std::map<int64_t, std::string> configs;
  for (const auto& r : measured.ranked) configs[r.candidate_id] = r.config;
  if (auto cands = store.Candidates(wid); cands.ok())
    for (const auto& c : *cands) configs.emplace(c.id, c.config);
  std::string order;
  if (!measured.ranked.empty()) {
    order = "measured";
    for (size_t i = 0; i < measured.ranked.size() && chosen.size() < top; ++i)
      chosen.push_back({measured.ranked[i].candidate_id, "measured #" + std::to_string(i + 1)});
  } else if (!pred.score.empty()) {
    order = "predicted";
    std::vector<std::pair<double, int64_t>> by;
    for (const auto& [id, s] : pred.score) by.push_back({s, id});
    std::sort(by.begin(), by.end());
    for (size_t i = 0; i < by.size() && chosen.size() < top; ++i)
      chosen.push_back({by[i].second, "predicted #" + std::to_string(i + 1)});
  }
  json out = {{"order", order}, {"top", top}};
  auto rows = store.SimResults(wid, target);
  if (!rows.ok() || chosen.empty()) return out;
  std::map<std::pair<int64_t, std::string>, const SimRow*> latest;
  for (const auto& r : *rows)
    if (r.status == "ok") latest[{r.candidate_id, r.simulator}] = &r;
  std::set<std::string> sims;
  for (const auto& [key, row] : latest) sims.insert(key.second);
  json mix = json::array(), rates = json::array(), table = json::array();
  for (const auto& sim : sims) {
    for (const auto& [id, label] : chosen) {
      auto it = latest.find({id, sim});
      if (it == latest.end()) continue;
      auto j = json::parse(it->second->stats_json, nullptr, false);
      if (j.is_discarded()) continue;
      auto stats = SimStats::FromJson(j, "store sim result " + std::to_string(it->second->id));
      if (!stats.ok()) continue;
      std::string name = label + " (id " + std::to_string(id) + ")";
      double n = static_cast<double>(stats->insn_count);
      for (const auto& [cls, count] : stats->classes)
        if (count > 0 && n > 0)
          mix.push_back({{"simulator", sim}, {"candidate", name}, {"class", cls},
                         {"percent", 100.0 * static_cast<double>(count) / n}});
      // Misses per 1000 instructions: comparable across levels, unlike a rate of a level that
      // sees only a handful of accesses.
      for (const auto& c : stats->caches) {
        if (c.read_hits + c.read_misses + c.write_hits + c.write_misses == 0 || n <= 0) continue;
        rates.push_back({{"simulator", sim}, {"candidate", name}, {"counter", c.level + " misses"},
                         {"mpki", 1000.0 * static_cast<double>(c.read_misses + c.write_misses) / n}});
      }
      if (stats->branch_mispredicts && n > 0)
        rates.push_back({{"simulator", sim}, {"candidate", name}, {"counter", "branch mispredicts"},
                         {"mpki", 1000.0 * static_cast<double>(*stats->branch_mispredicts) / n}});
      table.push_back({{"simulator", sim}, {"candidate", name}, {"config", configs[id]},
                       {"insn_count", stats->insn_count},
                       {"loads", stats->loads ? json(*stats->loads) : json()},
                       {"stores", stats->stores ? json(*stats->stores) : json()}});
    }
  }
  out["simulators"] = sims;
  out["mix"] = mix;
  out["rates"] = rates;
  out["table"] = table;
  return out;
}

json TuneRuns(Store& store, int64_t wid, const std::string& target) {
  json runs = json::array();
  auto rows = store.TuneRuns(wid, target);
  if (!rows.ok()) return runs;
  for (const auto& r : *rows) {
    auto settings = json::parse(r.settings_json, nullptr, false);
    if (settings.is_discarded()) settings = json::object();
    // What drove the strategy: measurements (one device), or simulations on N workers.
    std::string drive = settings.value("drive", std::string("simulate")) == "reference"
                            ? "measure every trial on " + settings.value("reference", std::string("?"))
                            : "simulate x" + std::to_string(settings.value("workers", 0));
    std::string label = "run " + std::to_string(r.id) + " (" + r.started + ", " + drive + ", " +
                        settings.value("strategy", std::string("?")) + ", budget " +
                        std::to_string(settings.value("budget", 0)) + ")";
    json points = json::array();
    for (const auto& p : r.points)
      points.push_back({{"elapsed_s", p.elapsed_s}, {"simulations", p.simulations}, {"phase", p.phase},
                        {"best_predicted", Num(p.best_predicted)}, {"best_verified", Num(p.best_verified)}});
    runs.push_back({{"id", r.id}, {"label", label}, {"started", r.started}, {"settings", settings},
                    {"predicted_unit", r.predicted_unit.empty() ? "unknown unit" : r.predicted_unit},
                    {"verified_unit", r.verified_unit}, {"points", points}});
  }
  return runs;
}

Result<json> ReadEval(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{"--eval '" + path + "': cannot read the file"};
  auto j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return Error{"--eval '" + path + "': not JSON"};
  if (!j.is_object() || !j.contains("results") || !j["results"].is_array())
    return Error{"--eval '" + path + "': not a `simtune eval --json` document (no \"results\" array)"};
  json rows = json::array();
  for (const auto& run : j["results"]) {
    if (!run.is_object() || run.contains("error") || !run.contains("per_workload")) continue;
    for (const auto& w : run["per_workload"]) {
      json row = w;
      row["predictor"] = run.value("predictor", std::string());
      row["protocol"] = run.value("protocol", std::string());
      row["options"] = run.value("options", std::string());
      rows.push_back(row);
    }
  }
  json failed = json::array();
  for (const auto& run : j["results"])
    if (run.is_object() && run.contains("error"))
      failed.push_back({{"predictor", run.value("predictor", std::string())},
                        {"protocol", run.value("protocol", std::string())},
                        {"error", run["error"]}});
  return json{{"file", path}, {"rows", rows}, {"failed", failed}, {"verify_k", j.value("verify_k", 5)},
              {"data", j.value("data", json::object())}};
}

}  // namespace

Result<json> CollectReport(Store& store, const ReportOptions& o) {
  if (o.workloads.empty()) return Error{"report: name at least one workload"};
  json doc = {{"title", "simtune report"},
              {"generated", UtcNow("%Y-%m-%d %H:%M UTC")},
              {"target", o.target},
              {"reference", o.reference},
              {"reference_options", o.reference_options},
              {"noise_threshold", o.noise_threshold}};
  json workloads = json::array();
  Charts charts;
  for (const auto& name : o.workloads) {
    pipeline::MeasureJobOptions mo;
    mo.workload = name;
    mo.target = o.target;
    mo.reference = o.reference;
    mo.reference_options = o.reference_options;
    mo.measure = false;
    SIMTUNE_ASSIGN_OR_RETURN(auto measured, pipeline::RunMeasure(store, mo));
    SIMTUNE_ASSIGN_OR_RETURN(auto wid, store.FindWorkload(measured.workload));
    SIMTUNE_CHECK(wid.has_value());   // RunMeasure found its candidates
    SIMTUNE_ASSIGN_OR_RETURN(auto candidates, store.Candidates(*wid));
    SIMTUNE_ASSIGN_OR_RETURN(auto pred_rows, store.Predictions(*wid, o.target));
    Predictions pred = PickPredictions(pred_rows, o.model);
    if (!o.model.empty() && pred.score.empty())
      return Error{"--model '" + o.model + "': no predictions of it for " + measured.workload +
                   " on " + o.target + (pred.models.empty() ? std::string(" (none stored)")
                                                            : "; stored: " + Join(pred.models, ", "))};
    std::string time_unit = measured.ranked.empty() ? "ns" : measured.ranked.front().ref.result.unit;
    json w = {{"workload", measured.workload},
              {"candidates", candidates.size()},
              {"measured", measured.ranked.size()},
              {"measure_failed", measured.failed.size()},
              {"reference_options", measured.reference_options},
              {"time_unit", time_unit}};
    if (!measured.ranked.empty()) {
      const auto& best = measured.ranked.front();
      w["best"] = {{"candidate_id", best.candidate_id}, {"config", best.config}, {"value", best.ref.result.value},
                   {"spread", best.ref.result.spread}};
    }
    w["accuracy"] = Accuracy(measured, pred, time_unit);
    w["noise"] = Noise(measured, o.noise_threshold);
    w["tune_runs"] = TuneRuns(store, *wid, o.target);
    w["stats"] = TopStats(store, *wid, o.target, measured, pred, o.top);
    charts.AddWorkload(w, workloads.size());
    workloads.push_back(w);
  }
  doc["workloads"] = workloads;
  charts.AddNoise(doc["workloads"]);
  if (!o.eval_json.empty()) {
    SIMTUNE_ASSIGN_OR_RETURN(json eval, ReadEval(o.eval_json));
    charts.AddEval(eval);
    doc["eval"] = eval;
  }
  doc["plots"] = charts.specs();
  doc["noise_plot"] = charts.noise_id();
  return doc;
}

}  // namespace simtune::report
