// The store as one table, a row per candidate: the store's rows joined on the candidate.
#include <set>

#include <nlohmann/json.hpp>

#include "simtune/pipeline.h"
#include "simtune/csv.h"
#include "simtune/strings.h"

namespace simtune::pipeline {
namespace {

// Numeric leaves of a statistics record, nested keys joined by '.'.
void Flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, double>& out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string name = prefix + "." + it.key();
    if (it->is_object()) Flatten(*it, name, out);
    else if (it->is_number() && it.key() != "schema_version") out[name] = it->get<double>();
  }
}

}  // namespace

Result<std::vector<CandidateRecord>> LoadCandidateTable(Store& store, const TableOptions& options) {
  std::vector<WorkloadRow> workloads;
  if (options.workloads.empty()) {
    SIMTUNE_ASSIGN_OR_RETURN(workloads, store.Workloads());
  } else {
    for (const auto& name : options.workloads) {
      SIMTUNE_ASSIGN_OR_RETURN(Workload w, ParseWorkload(name));
      SIMTUNE_ASSIGN_OR_RETURN(auto id, store.FindWorkload(w.Key()));
      if (!id) return Error{"workload '" + name + "' is not in the store"};
      workloads.push_back({*id, w.Key()});
    }
  }
  const std::string& target = options.target;
  std::vector<CandidateRecord> out;
  for (const auto& w : workloads) {
    SIMTUNE_ASSIGN_OR_RETURN(Workload workload, ParseWorkload(w.key));
    SIMTUNE_ASSIGN_OR_RETURN(auto space, MakeSpace(workload));
    SIMTUNE_ASSIGN_OR_RETURN(auto candidates, store.Candidates(w.id));
    std::map<int64_t, size_t> index;
    for (const auto& c : candidates) {
      CandidateRecord r;
      r.candidate_id = c.id;
      r.workload = w.key;
      r.config = c.config;
      auto config = ParseStoredConfig(*space, c.config);
      if (!config.ok()) return Wrap(config.error(), "store candidate " + std::to_string(c.id));
      for (const auto& [knob, value] : *config) r.numbers["knob." + knob] = static_cast<double>(value);
      SIMTUNE_ASSIGN_OR_RETURN(auto art, store.LatestArtifact(c.id, target));
      if (art) {
        r.texts["build.status"] = art->artifact.status;
        r.texts["build.stage"] = art->artifact.stage;
        r.numbers["flops"] = art->artifact.flops;
      }
      index[c.id] = out.size();
      out.push_back(std::move(r));
    }
    // Rows come oldest first: later rows overwrite earlier ones.
    SIMTUNE_ASSIGN_OR_RETURN(auto sims, store.SimResults(w.id, target));
    for (const auto& s : sims) {
      auto it = index.find(s.candidate_id);
      if (it == index.end()) continue;
      CandidateRecord& r = out[it->second];
      r.texts[s.simulator + ".status"] = s.status;
      if (s.status != "ok") continue;
      auto j = nlohmann::json::parse(s.stats_json, nullptr, false);
      if (j.is_discarded() || !j.is_object())
        return Error{"store: sim result " + std::to_string(s.id) + " has invalid statistics"};
      Flatten(j, s.simulator, r.numbers);
    }
    SIMTUNE_ASSIGN_OR_RETURN(auto refs, store.RefResults(w.id, target));
    for (const auto& ref : refs) {
      auto it = index.find(ref.candidate_id);
      if (it == index.end()) continue;
      CandidateRecord& r = out[it->second];
      r.texts[ref.reference + ".status"] = ref.result.status;
      if (!ref.result.ok()) continue;
      r.texts[ref.reference + ".unit"] = ref.result.unit;
      r.texts[ref.reference + ".options"] = ref.options;
      r.numbers[ref.reference + ".value"] = ref.result.value;
      r.numbers[ref.reference + ".spread"] = ref.result.spread;
    }
    SIMTUNE_ASSIGN_OR_RETURN(auto predictions, store.Predictions(w.id, target));
    for (const auto& p : predictions) {
      auto it = index.find(p.candidate_id);
      if (it == index.end()) continue;
      out[it->second].numbers["pred." + p.model] = p.score;
      out[it->second].texts["pred." + p.model + ".unit"] = p.unit;
    }
  }
  return out;
}

namespace {

// Where a column goes: knobs, then the build, then statistics and references, then predictions.
int ColumnGroup(const std::string& name) {
  if (StartsWith(name, "knob.")) return 0;
  if (name == "flops" || StartsWith(name, "build.")) return 1;
  if (StartsWith(name, "pred.")) return 3;
  return 2;
}

}  // namespace

std::string CandidateTableCsv(const std::vector<CandidateRecord>& records, const std::string& target) {
  std::set<std::pair<int, std::string>> columns;
  for (const auto& r : records) {
    for (const auto& [name, v] : r.numbers) columns.insert({ColumnGroup(name), name});
    for (const auto& [name, v] : r.texts) columns.insert({ColumnGroup(name), name});
  }
  std::string out = "candidate_id,workload,target,config";
  for (const auto& [group, name] : columns) out += "," + CsvField(name);
  out += "\r\n";
  for (const auto& r : records) {
    out += std::to_string(r.candidate_id) + "," + CsvField(r.workload) + "," + CsvField(target) + "," +
           CsvField(r.config);
    for (const auto& [group, name] : columns) {
      out += ",";
      if (auto n = r.numbers.find(name); n != r.numbers.end()) out += ShortestReal(n->second);
      else if (auto t = r.texts.find(name); t != r.texts.end()) out += CsvField(t->second);
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace simtune::pipeline
