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
};

// Errors: no candidate has both statistics and a reference result ("run `simtune simulate`
// and `simtune measure` first"), store errors.
Result<Measured> LoadMeasured(Store& store, const std::vector<std::string>& workloads, const DataSpec& spec);

// Median relative round spread of each workload's reference results: how far to trust them.
std::map<int, double> MedianSpread(const std::vector<CandidateData>& rows);

// Scores the candidates with the model; returns the scores and the order best first.
Result<std::pair<Eigen::VectorXd, std::vector<size_t>>> RankWithModel(const TrainedModel& model,
                                                                      const std::string& model_path,
                                                                      const std::vector<CandidateData>& rows);

}  // namespace simtune::pipeline
