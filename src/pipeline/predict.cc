// The predict job: rank a workload's simulated candidates with a trained model and store the
// predictions.
#include "simtune/pipeline.h"
#include "simtune/strings.h"
#include "src/pipeline/measured.h"

namespace simtune::pipeline {

Result<PredictJob> PredictJob::Prepare(const PredictJobOptions& options) {
  PredictJob job;
  job.options_ = options;
  SIMTUNE_ASSIGN_OR_RETURN(TrainedModel model, LoadTrainedModel(options.model));
  job.model_ = std::make_shared<TrainedModel>(std::move(model));
  return job;
}

Result<PredictJobResult> PredictJob::Run(Store& store) {
  const PredictJobOptions& f = options_;
  const DataSpec& spec = model_->data;
  PredictJobResult result;
  SIMTUNE_ASSIGN_OR_RETURN(auto rows, LoadCandidateData(store, {f.workload}, spec, &result.missing_sims));
  if (rows.empty())
    return Error{"workload '" + f.workload + "' has no candidate with " + Join(spec.simulators, " and ") +
                 " statistics on " + spec.sim_target + "; run `simtune simulate` first"};
  result.warnings = ConfigurationWarnings("model " + f.model, model_->trained_on, rows);
  SIMTUNE_ASSIGN_OR_RETURN(auto ranked, RankWithModel(*model_, f.model, rows));
  const auto& [scores, order] = ranked;
  for (size_t i = 0; i < rows.size(); ++i) {
    PredictionRow p;
    p.candidate_id = rows[i].candidate_id;
    p.target = spec.effective_ref_target();
    p.model = f.model;
    p.score = scores[static_cast<Eigen::Index>(i)];
    p.unit = model_->unit;  // recorded in the model file: right before the workload is measured too
    SIMTUNE_RETURN_IF_ERROR(store.AddPrediction(p));
  }
  result.workload = rows[0].workload_key;
  result.model = f.model;
  result.predictor = model_->predictor->name();
  result.target = spec.effective_ref_target();
  result.predicts_time = model_->predictor->predicts_time();
  result.unit = model_->unit;
  result.simulators = spec.simulators;
  for (size_t i : order)
    result.ranking.push_back({rows[i].candidate_id, rows[i].config, scores[static_cast<Eigen::Index>(i)],
                              rows[i].ref_value});
  return result;
}

Result<PredictJobResult> RunPredict(Store& store, const PredictJobOptions& options) {
  SIMTUNE_ASSIGN_OR_RETURN(PredictJob job, PredictJob::Prepare(options));
  return job.Run(store);
}

}  // namespace simtune::pipeline
