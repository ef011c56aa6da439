// The eval job: every chosen predictor under k-fold within workloads and leave-one-workload-
// out, optionally beside the reference's agreement with itself.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "simtune/pipeline.h"
#include "simtune/strings.h"
#include "simtune/workload.h"
#include "src/pipeline/measured.h"

namespace simtune::pipeline {
namespace {

// The reference's own noise as a row of the table: a second, independent measurement of the
// same candidates (other options key, e.g. another seed) used as the "prediction" of the
// first. No predictor can be expected to agree with the truth better than the truth agrees
// with itself. Candidates without the second measurement are left out of this row.
Result<std::vector<WorkloadMetrics>> ReferenceRepeatRow(Store& store, const EvalJobOptions& f,
                                                        const DataSpec& spec, const Measured& m,
                                                        const MetricOptions& mo) {
  if (spec.ref_options.empty())
    return Error{"--ref-repeat needs --ref-options: which measurement is the truth and which the repeat"};
  DataOptions g = f.data;
  g.ref_options = f.ref_repeat;
  SIMTUNE_ASSIGN_OR_RETURN(DataSpec repeat_spec, MakeDataSpec(g));
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

}  // namespace

Result<EvalJob> EvalJob::Prepare(const EvalJobOptions& options) {
  EvalJob job;
  job.options_ = options;
  SIMTUNE_ASSIGN_OR_RETURN(job.spec_, MakeDataSpec(options.data));
  // Predictor specs: "name" or "name:options", comma-separated (SplitList; ';' too).
  if (options.predictors == "all") {
    const auto& sims = job.spec_.simulators;
    const bool mca = std::find(sims.begin(), sims.end(), "mca") != sims.end();
    for (const auto& e : Predictors().List()) {
      // The mca baseline scores the "mca" simulator's cycles: without them it cannot run.
      if (e.name == "mca" && !mca) continue;
      job.predictors_.push_back({e.name, ""});
    }
  } else {
    for (const auto& part : SplitList(options.predictors)) {
      std::string p = Trim(part);
      size_t colon = p.find(':');
      std::string name = Trim(p.substr(0, colon));
      std::string opts = colon == std::string::npos ? "" : p.substr(colon + 1);
      auto probe = Predictors().Create(name, opts);
      if (!probe.ok()) return Error{"--predictors: " + probe.message()};
      job.predictors_.push_back({name, opts});
    }
  }
  for (const auto& part : Split(options.protocols, ',')) {
    std::string p = Trim(part);
    if (p != "kfold" && p != "lowo") return UnknownName("protocol", p, {"kfold", "lowo"});
    job.protocols_.push_back(p);
  }
  return job;
}

Result<EvalJobResult> EvalJob::Run(Store& store) {
  const EvalJobOptions& f = options_;
  SIMTUNE_ASSIGN_OR_RETURN(Measured m, LoadMeasured(store, f.data.workloads, spec_));
  auto spread = MedianSpread(m.rows);
  EvalJobResult r;
  r.data = spec_;
  r.stale_sims = m.stale_sims;
  r.rows = m.data.rows();
  r.features = m.data.cols();
  r.feature_names = m.data.feature_names;
  for (const auto& [g, key] : m.workload_key) {
    r.workloads.push_back(key);
    r.reference_spread[key] = spread[g];
  }
  // --score-workloads: the groups to score, each named workload checked against the data.
  std::set<int> score_groups;
  for (const auto& name : f.score_workloads) {
    auto w = ParseWorkload(name);
    if (!w.ok()) return Wrap(w.error(), "--score-workloads");
    auto it = std::find_if(m.workload_key.begin(), m.workload_key.end(),
                           [&](const auto& e) { return e.second == w->Key(); });
    if (it == m.workload_key.end())
      return Error{"--score-workloads: workload '" + name + "' has no measured candidates in the evaluation data (" +
                   std::to_string(m.workload_key.size()) + " workloads)"};
    score_groups.insert(it->first);
  }
  const std::set<int>* only = score_groups.empty() ? nullptr : &score_groups;
  auto scored = [&](const std::vector<WorkloadMetrics>& per) {
    std::vector<WorkloadMetrics> kept;
    for (const auto& w : per)
      if (!only || only->count(w.group)) kept.push_back(w);
    return kept;
  };
  std::map<int64_t, const CandidateData*> by_id;
  for (const auto& row : m.rows) by_id[row.candidate_id] = &row;
  for (int64_t i = 0; i < m.data.rows(); ++i) {
    const CandidateData* c = by_id.at(m.data.ids[static_cast<size_t>(i)]);
    r.candidates.push_back({c->candidate_id, c->workload_key, c->config, m.data.y[i]});
  }
  if (!m.rows.empty()) {
    SIMTUNE_ASSIGN_OR_RETURN(r.measured_unit, ReferenceUnit(store, m.rows.front().workload_id, spec_));
  }
  MetricOptions mo;
  mo.verify_k = f.verify_k;
  if (!f.ref_repeat.empty()) {
    SIMTUNE_ASSIGN_OR_RETURN(auto all, ReferenceRepeatRow(store, f, spec_, m, mo));
    auto per = scored(all);
    EvalRun run;
    run.predictor = "reference-repeat";
    run.options = f.ref_repeat;
    run.protocol = "-";
    for (const auto& w : per) run.per_workload.push_back({m.workload_key[w.group], w});
    run.summary = Aggregate(per);
    r.runs.push_back(std::move(run));
  }
  for (const auto& [name, opts] : predictors_) {
    PredictorFactory factory = [name = name, opts = opts] { return Predictors().Create(name, opts); };
    for (const auto& proto : protocols_) {
      EvalRun run;
      run.predictor = name;
      run.options = opts;
      run.protocol = proto;
      if (proto == "lowo" && m.workload_key.size() < 2) {
        run.skipped = "leave-one-workload-out needs at least 2 workloads";
        r.runs.push_back(std::move(run));
        continue;
      }
      auto all = proto == "kfold" ? KFoldWithinWorkload(m.data, factory, f.folds, f.seed, mo, &run.out_of_fold)
                                  : LeaveOneWorkloadOut(m.data, factory, mo, &run.out_of_fold, only);
      if (!all.ok()) {
        ++r.failures;
        run.error = all.message();
        r.runs.push_back(std::move(run));
        continue;
      }
      const auto per = scored(*all);
      // The JSON's predictions cover the scored workloads only, as the metrics do (k-fold
      // scores every workload; leave-one-workload-out left the others NaN already).
      if (only)
        for (int64_t i = 0; i < run.out_of_fold.scores.size(); ++i)
          if (!only->count(m.data.group[static_cast<size_t>(i)]))
            run.out_of_fold.scores[i] = std::numeric_limits<double>::quiet_NaN();
      for (const auto& w : per) run.per_workload.push_back({m.workload_key[w.group], w});
      run.summary = Aggregate(per);
      r.runs.push_back(std::move(run));
    }
  }
  return r;
}

nlohmann::json EvalJobResult::ToJson(const EvalJobOptions& options) const {
  nlohmann::json results = nlohmann::json::array();
  for (const auto& run : runs) {
    if (!run.skipped.empty()) continue;
    nlohmann::json j = {{"predictor", run.predictor}, {"options", run.options}, {"protocol", run.protocol}};
    if (!run.error.empty()) {
      j["error"] = run.error;
      results.push_back(j);
      continue;
    }
    nlohmann::json per_json = nlohmann::json::array();
    for (const auto& w : run.per_workload) {
      auto pj = w.metrics.ToJson();
      pj["workload"] = w.workload;
      if (run.predictor != "reference-repeat") pj["reference_median_spread"] = reference_spread.at(w.workload);
      per_json.push_back(pj);
    }
    j["per_workload"] = per_json;
    j["summary"] = run.summary.ToJson();
    if (run.out_of_fold.scores.size() == static_cast<Eigen::Index>(candidates.size())) {
      nlohmann::json predictions = nlohmann::json::array();
      for (size_t i = 0; i < candidates.size(); ++i) {
        const double predicted = run.out_of_fold.scores[static_cast<Eigen::Index>(i)];
        if (std::isnan(predicted)) continue;   // a workload --score-workloads did not name
        predictions.push_back({{"candidate_id", candidates[i].candidate_id},
                               {"workload", candidates[i].workload},
                               {"config", candidates[i].config},
                               {"measured", candidates[i].measured},
                               {"predicted", predicted}});
      }
      j["prediction_unit"] = run.out_of_fold.predicts_time ? measured_unit : "score";
      j["predictions"] = predictions;
    }
    results.push_back(j);
  }
  return {{"data", data.ToJson()},
          {"feature_schema_version", kFeatureSchemaVersion},
          {"features", feature_names},
          {"rows", rows},
          {"measured_unit", measured_unit},
          {"folds", options.folds},
          {"seed", options.seed},
          {"verify_k", options.verify_k},
          {"results", results}};
}

Result<EvalJobResult> RunEval(Store& store, const EvalJobOptions& options) {
  SIMTUNE_ASSIGN_OR_RETURN(EvalJob job, EvalJob::Prepare(options));
  return job.Run(store);
}

}  // namespace simtune::pipeline
