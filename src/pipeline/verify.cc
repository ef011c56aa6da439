// The verify job: measure the k best predicted candidates of a workload on the model's
// reference, together with a control.
#include <algorithm>

#include "simtune/pipeline.h"
#include "simtune/strings.h"
#include "src/pipeline/measured.h"

namespace simtune::pipeline {

Result<VerifyJob> VerifyJob::Prepare(const VerifyJobOptions& options) {
  if (options.k < 1) return Error{"--top must be >= 1; got " + std::to_string(options.k)};
  VerifyJob job;
  job.options_ = options;
  SIMTUNE_ASSIGN_OR_RETURN(TrainedModel model, LoadTrainedModel(options.model));
  job.model_ = std::make_shared<TrainedModel>(std::move(model));
  const DataSpec& spec = job.model_->data;
  SIMTUNE_ASSIGN_OR_RETURN(job.target_, LoadTarget(spec.effective_ref_target()));
  SIMTUNE_ASSIGN_OR_RETURN(job.reference_, References().Create(spec.reference, options.ref_options));
  return job;
}

Result<VerifyJobResult> VerifyJob::Run(Store& store) {
  const VerifyJobOptions& f = options_;
  const DataSpec& spec = model_->data;
  SIMTUNE_ASSIGN_OR_RETURN(auto rows, LoadCandidateData(store, {f.workload}, spec));
  if (rows.empty())
    return Error{"workload '" + f.workload + "' has no candidate with " + Join(spec.simulators, " and ") +
                 " statistics on " + spec.sim_target + "; run `simtune simulate` first"};
  SIMTUNE_ASSIGN_OR_RETURN(auto ranked, RankWithModel(*model_, f.model, rows));
  auto& [scores, order] = ranked;
  order.resize(std::min<size_t>(order.size(), static_cast<size_t>(f.k)));
  // The best candidate measured before (calibration) is measured again in the same rounds:
  // "did the prediction beat what we already knew" is then a ratio taken under the same
  // conditions, not one across two sessions of a shared machine.
  const size_t kNone = static_cast<size_t>(-1);
  size_t control = kNone;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].ref_value && (control == kNone || *rows[i].ref_value < *rows[control].ref_value))
      control = i;
  std::vector<size_t> measured = order;
  if (control != kNone && std::find(order.begin(), order.end(), control) == order.end())
    measured.push_back(control);
  // The k best predicted are measured together (interleaved rounds), even those measured
  // before, so that the winner is chosen among results taken under the same conditions.
  std::vector<Artifact> batch;
  std::vector<int64_t> batch_ids;
  for (size_t i : measured) {
    SIMTUNE_ASSIGN_OR_RETURN(auto art, store.LatestArtifact(rows[i].candidate_id, spec.sim_target));
    if (!art.has_value() || !art->artifact.ok())
      return Error{"candidate " + std::to_string(rows[i].candidate_id) + " has no built artifact for " +
                   spec.sim_target};
    batch.push_back(art->artifact);
    batch_ids.push_back(rows[i].candidate_id);
  }
  SIMTUNE_ASSIGN_OR_RETURN(std::vector<RefResult> results,
                           MeasureAndStore(*reference_, batch, batch_ids, target_, store));
  VerifyJobResult r;
  r.warnings = ConfigurationWarnings("model " + f.model, model_->trained_on, rows);
  r.workload = rows[0].workload_key;
  r.target = target_.name;
  r.reference_options = reference_->options_key();
  r.unit = model_->unit;
  r.candidates = rows.size();
  r.measured_before = static_cast<size_t>(
      std::count_if(rows.begin(), rows.end(), [](const CandidateData& c) { return c.ref_value.has_value(); }));
  r.k = order.size();
  for (size_t j = 0; j < measured.size(); ++j) {
    const auto& c = rows[measured[j]];
    r.verified.push_back({c.candidate_id, c.config, scores[static_cast<Eigen::Index>(measured[j])], results[j],
                          c.ref_value});
    if (j < order.size() && results[j].ok() && (r.best < 0 || results[j].value < results[r.best].value))
      r.best = static_cast<int>(j);
    if (measured[j] == control) r.control = static_cast<int>(j);
  }
  return r;
}

Result<VerifyJobResult> RunVerify(Store& store, const VerifyJobOptions& options) {
  SIMTUNE_ASSIGN_OR_RETURN(VerifyJob job, VerifyJob::Prepare(options));
  return job.Run(store);
}

}  // namespace simtune::pipeline
