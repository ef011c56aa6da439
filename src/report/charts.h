// Vega-Lite specifications of the report's plots, built from the report document's parts
// (src/report/collect.cc). Each Add* stores its specs under fresh ids and writes the ids into
// the part it drew, so the page knows where each plot goes.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace simtune::report {

// 0.034 -> "3.4%".
std::string Percent(double fraction);

class Charts {
 public:
  // A workload's predicted-vs-measured scatter, tuning curves and simulator statistics;
  // `index` numbers the workload in the report. Writes w["plots"].
  void AddWorkload(nlohmann::json& w, size_t index);
  // The round spread of every workload's candidates, one strip per workload.
  void AddNoise(const nlohmann::json& workloads);
  // The top-k % distribution per predictor of an eval document (ReadEval). Writes
  // eval["plots"].
  void AddEval(nlohmann::json& eval);

  const nlohmann::json& specs() const { return specs_; }
  const std::string& noise_id() const { return noise_id_; }

 private:
  std::string Add(const std::string& id, nlohmann::json spec);

  nlohmann::json specs_ = nlohmann::json::object();
  std::string noise_id_;
};

}  // namespace simtune::report
