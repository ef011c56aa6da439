// The train job: fit a predictor on the measured candidates; write a trained-model file.
#include "simtune/pipeline.h"
#include "src/pipeline/measured.h"

namespace simtune::pipeline {

Result<TrainJob> TrainJob::Prepare(const TrainJobOptions& options) {
  TrainJob job;
  job.options_ = options;
  SIMTUNE_ASSIGN_OR_RETURN(job.spec_, MakeDataSpec(options.data));
  SIMTUNE_ASSIGN_OR_RETURN(job.predictor_, Predictors().Create(options.predictor, options.predictor_options));
  return job;
}

Result<TrainJobResult> TrainJob::Run(Store& store) {
  const TrainJobOptions& f = options_;
  Predictor& predictor = *predictor_;
  SIMTUNE_ASSIGN_OR_RETURN(Measured m, LoadMeasured(store, f.data.workloads, spec_));
  Status fit = predictor.Fit(m.data);
  if (!fit.ok()) return Error{"train " + f.predictor + ": " + fit.message()};
  SIMTUNE_ASSIGN_OR_RETURN(std::string unit, ReferenceUnit(m.rows));
  nlohmann::json trained_on = {{"rows", m.data.rows()}, {"workloads", nlohmann::json::array()}, {"unit", unit}};
  for (const auto& [g, key] : m.workload_key) trained_on["workloads"].push_back(key);
  // What the statistics modelled (caches, branch predictor): predict, verify and tune say
  // when they rank statistics of another configuration.
  if (nlohmann::json c = TrainedConfigurations(m.rows); !c.empty()) trained_on["configurations"] = std::move(c);
  if (!f.out.empty()) SIMTUNE_RETURN_IF_ERROR(SaveTrainedModel(f.out, predictor, spec_, trained_on));
  // In-sample fit: only a sanity check; `simtune eval` measures generalisation.
  SIMTUNE_ASSIGN_OR_RETURN(Eigen::VectorXd scores, predictor.Predict(m.data));
  TrainJobResult r;
  r.predictor = f.predictor;
  r.predictor_options = predictor.options();
  r.unit = PredictionUnit(predictor, unit);
  r.data = spec_;
  r.rows = m.data.rows();
  r.features = m.data.cols();
  for (const auto& [g, key] : m.workload_key) r.workloads.push_back(key);
  r.chosen = predictor.SaveJson().value("chosen", nlohmann::json());
  for (const auto& rows : m.data.RowsByGroup()) {
    Eigen::VectorXd y(rows.size()), s(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      y[i] = m.data.y[rows[i]];
      s[i] = scores[rows[i]];
    }
    int g = m.data.group[rows[0]];
    r.in_sample.push_back({m.workload_key[g], EvaluateWorkload(y, s, predictor.predicts_time())});
  }
  r.missing_sims = m.missing_sims;
  r.stale_sims = m.stale_sims;
  r.model = predictor_;
  return r;
}

Result<TrainJobResult> RunTrain(Store& store, const TrainJobOptions& options) {
  SIMTUNE_ASSIGN_OR_RETURN(TrainJob job, TrainJob::Prepare(options));
  return job.Run(store);
}

}  // namespace simtune::pipeline
