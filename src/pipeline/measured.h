// Shared by the model jobs (train, eval): the measured candidates of the chosen workloads.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "simtune/pipeline.h"

namespace simtune::pipeline {

// The measured candidates of the chosen workloads, as a Dataset, with the reference's noise.
struct Measured {
  std::vector<CandidateData> rows;
  Dataset data;
  std::map<int, std::string> workload_key;   // group -> key
  size_t unmeasured = 0;
  size_t missing_sims = 0;
  size_t stale_sims = 0;   // statistics from another configuration of the target: left out
};

// Errors: no candidate has both statistics and a reference result ("run `simtune simulate`
// and `simtune measure` first"), store errors.
Result<Measured> LoadMeasured(Store& store, const std::vector<std::string>& workloads, const DataSpec& spec);

// Median relative round spread of each workload's reference results: how far to trust them.
std::map<int, double> MedianSpread(const std::vector<CandidateData>& rows);

// The group a workload's candidates are scored under when all of them are scored together
// (tune, predict, verify): one that no training data used. Store workload ids are >= 1 and
// group numbers are the training store's, so a tune's store can reuse a training group's
// number for another workload; a predictor that keeps per-group training statistics
// (rank-avg ranks a seen workload against its training scores, for k-fold evaluation of a
// fold at a time) would then rank the candidates against an unrelated workload's scores,
// with ties wherever they beat all of those. Scored under this group they rank among
// themselves. Distinct for distinct workloads.
inline int ScoringGroup(int workload_group) { return -1 - workload_group; }

// Scores the candidates with the model (each workload under its ScoringGroup); returns the
// scores and the order best first.
Result<std::pair<Eigen::VectorXd, std::vector<size_t>>> RankWithModel(const TrainedModel& model,
                                                                      const std::string& model_path,
                                                                      const std::vector<CandidateData>& rows);

}  // namespace simtune::pipeline
