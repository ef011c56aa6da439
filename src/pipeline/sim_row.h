// Shared by the jobs that simulate and store (simulate, tune, estimate --store): one simulator
// run as the store's row.
#pragma once

#include <cstdint>
#include <string>

#include "simtune/simulator.h"
#include "simtune/store.h"

namespace simtune::pipeline {

// The statistics go in as JSON only when the run is ok; a failed run keeps its stage and message.
inline SimRow MakeSimRow(int64_t candidate_id, const std::string& target, const std::string& simulator,
                         const std::string& options, const std::string& artifact_hash, const SimResult& r) {
  SimRow row;
  row.candidate_id = candidate_id;
  row.target = target;
  row.simulator = simulator;
  row.options = options;
  row.artifact_hash = artifact_hash;
  row.status = r.status;
  row.stage = r.stage;
  row.message = r.message;
  row.wall_s = r.wall_s;
  if (r.ok()) row.stats_json = r.stats.ToJson().dump();
  return row;
}

}  // namespace simtune::pipeline
