// Shared by the jobs that simulate and store (simulate, tune, estimate --store): one simulator
// run as the store's row, and the --sim list.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "simtune/simulator.h"
#include "simtune/store.h"
#include "simtune/strings.h"

namespace simtune::pipeline {

// A --sim list ("qemu,mca"): names in order, none empty, none twice.
inline Result<std::vector<std::string>> ParseSimList(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& part : Split(text, ',')) {
    std::string name = Trim(part);
    if (name.empty()) return Error{"--sim '" + text + "': empty simulator name"};
    out.push_back(name);
  }
  std::vector<std::string> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    return Error{"--sim '" + text + "': a simulator is named twice"};
  return out;
}

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
