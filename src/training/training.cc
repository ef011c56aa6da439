#include "simtune/training.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <set>

#include "simtune/files.h"
#include "simtune/simulator.h"
#include "simtune/strings.h"
#include "simtune/target.h"
#include "simtune/workload.h"

namespace simtune {

bool IsExternalConfig(const std::string& text) { return text.rfind(kExternalConfigPrefix, 0) == 0; }

Result<Config> ParseStoredConfig(const Space& space, const std::string& text) {
  if (IsExternalConfig(text)) return Config{};
  return space.ParseConfig(text);
}

nlohmann::json DataSpec::ToJson() const {
  return {{"sim_target", sim_target},
          {"simulators", simulators},
          {"ref_target", effective_ref_target()},
          {"reference", reference},
          {"ref_options", ref_options},
          {"features", {{"knobs", features.knobs}, {"shape", features.shape},
                        {"shape_params", features.shape_params},
                        {"relative", features.relative}}}};
}

Result<DataSpec> DataSpec::FromJson(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) return Error{where + ": data spec must be an object"};
  const std::vector<std::string> keys = {"features", "ref_options", "ref_target", "reference",
                                         "sim_target", "simulators"};
  for (const auto& [key, value] : j.items())
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      return Wrap(UnknownName("data spec key", key, keys), where);
  DataSpec s;
  try {
    s.sim_target = j.at("sim_target").get<std::string>();
    s.simulators = j.at("simulators").get<std::vector<std::string>>();
    s.ref_target = j.at("ref_target").get<std::string>();
    s.reference = j.at("reference").get<std::string>();
    s.ref_options = j.at("ref_options").get<std::string>();
    const auto& f = j.at("features");
    s.features.knobs = f.at("knobs").get<bool>();
    s.features.shape = f.at("shape").get<bool>();
    s.features.relative = f.at("relative").get<bool>();
    s.features.shape_params = f.value("shape_params", false);
  } catch (const nlohmann::json::exception& e) {
    return Error{where + ": bad data spec: " + e.what()};
  }
  if (s.simulators.empty()) return Error{where + ": data spec names no simulator"};
  return s;
}

Result<std::vector<CandidateData>> LoadCandidateData(Store& store,
                                                     const std::vector<std::string>& workload_keys,
                                                     const DataSpec& spec, size_t* missing_sims,
                                                     size_t* stale_sims) {
  if (spec.simulators.empty()) return Error{"no simulator given for the features"};
  // Statistics simulated under another configuration of the target than its file gives now
  // (Simulator::MatchesTarget: qemu's caches and branch predictor) describe another machine.
  // A simulator not registered here is not checked.
  std::optional<Target> target;
  if (!spec.target_file.empty()) {
    auto t = LoadTarget(spec.target_file);
    if (!t.ok()) return Error{"target " + spec.target_file + ": " + t.message()};
    target = std::move(t).value();
  }
  // Each simulator of the spec that is registered here: it names the configuration of its
  // records and checks them against the target file.
  std::map<std::string, std::unique_ptr<Simulator>> backends;
  for (const auto& name : spec.simulators)
    if (auto sim = Simulators().Create(name, ""); sim.ok()) backends[name] = std::move(sim).value();
  std::vector<WorkloadRow> workloads;
  if (workload_keys.empty()) {
    SIMTUNE_ASSIGN_OR_RETURN(workloads, store.Workloads());
  } else {
    for (const auto& text : workload_keys) {
      // Accept catalog names and any spelling ParseWorkload accepts; the store keys by Key().
      auto w = ParseWorkload(text);
      if (!w.ok()) return w.error();
      SIMTUNE_ASSIGN_OR_RETURN(auto id, store.FindWorkload(w->Key()));
      if (!id) return Error{"workload '" + text + "' is not in the store"};
      workloads.push_back(WorkloadRow{*id, w->Key()});
    }
  }
  std::set<std::string> wanted(spec.simulators.begin(), spec.simulators.end());
  std::vector<CandidateData> out;
  size_t missing = 0, stale = 0;
  for (const auto& wrow : workloads) {
    SIMTUNE_ASSIGN_OR_RETURN(Workload workload, ParseWorkload(wrow.key));
    SIMTUNE_ASSIGN_OR_RETURN(auto space, MakeSpace(workload));
    SIMTUNE_ASSIGN_OR_RETURN(auto cands, store.Candidates(wrow.id));
    SIMTUNE_ASSIGN_OR_RETURN(auto sims, store.SimResults(wrow.id, spec.sim_target));
    // Latest ok statistics per (candidate, simulator); rows come in id order.
    std::map<int64_t, std::map<std::string, const SimRow*>> latest_sim;
    for (const auto& r : sims)
      if (r.status == "ok" && wanted.count(r.simulator)) latest_sim[r.candidate_id][r.simulator] = &r;
    std::map<int64_t, const RefRow*> latest_ref;
    std::vector<RefRow> refs;
    SIMTUNE_ASSIGN_OR_RETURN(refs, store.RefResults(wrow.id, spec.effective_ref_target()));
    for (const auto& r : refs)
      if (r.result.ok() && r.reference == spec.reference &&
          (spec.ref_options.empty() || r.options == spec.ref_options))
        latest_ref[r.candidate_id] = &r;
    for (const auto& c : cands) {
      auto it = latest_sim.find(c.id);
      if (it == latest_sim.end() || it->second.size() != wanted.size()) {
        if (it != latest_sim.end() || latest_ref.count(c.id)) ++missing;
        continue;
      }
      std::string where = "candidate " + std::to_string(c.id);
      std::map<std::string, SimStats> stats;
      for (const auto& [sim, row] : it->second) {
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(row->stats_json);
        } catch (const nlohmann::json::exception& e) {
          return Error{where + ": " + sim + " statistics are not JSON: " + e.what()};
        }
        SIMTUNE_ASSIGN_OR_RETURN(stats[sim], SimStats::FromJson(j, where + " " + sim + " statistics"));
      }
      bool current = true;
      std::map<std::string, nlohmann::json> configurations;
      for (const auto& [sim, st] : stats) {
        auto backend = backends.find(sim);
        if (backend == backends.end()) continue;
        if (target && !backend->second->MatchesTarget(st, *target)) current = false;
        if (nlohmann::json c = backend->second->Configuration(st); !c.is_null())
          configurations[sim] = std::move(c);
      }
      if (!current) {
        ++stale;
        continue;
      }
      auto config = ParseStoredConfig(*space, c.config);
      if (!config.ok()) return Wrap(config.error(), where);
      SIMTUNE_ASSIGN_OR_RETURN(auto art, store.LatestArtifact(c.id, spec.sim_target));
      double flops = art ? art->artifact.flops : 0;
      CandidateData d;
      d.candidate_id = c.id;
      d.workload_id = wrow.id;
      d.workload_key = wrow.key;
      d.config = c.config;
      d.features = ExtractFeatures(stats, workload, *config, flops, spec.features);
      d.configurations = std::move(configurations);
      auto ref = latest_ref.find(c.id);
      if (ref != latest_ref.end()) {
        d.ref_value = ref->second->result.value;
        d.ref_unit = ref->second->result.unit;
        d.ref_spread = ref->second->result.spread;
      }
      out.push_back(std::move(d));
    }
  }
  if (missing_sims) *missing_sims = missing;
  if (stale_sims) *stale_sims = stale;
  return out;
}

Dataset ToDataset(const std::vector<CandidateData>& rows, const std::vector<std::string>& names,
                  bool relative) {
  std::vector<FeatureInput> in;
  in.reserve(rows.size());
  for (const auto& r : rows)
    in.push_back(FeatureInput{r.candidate_id, static_cast<int>(r.workload_id),
                              r.ref_value ? *r.ref_value : std::numeric_limits<double>::quiet_NaN(),
                              r.features});
  return BuildDataset(in, names, relative);
}

nlohmann::json TrainedConfigurations(const std::vector<CandidateData>& rows) {
  std::map<std::string, std::vector<nlohmann::json>> seen;
  for (const auto& r : rows)
    for (const auto& [sim, c] : r.configurations) {
      auto& list = seen[sim];
      if (std::find(list.begin(), list.end(), c) == list.end()) list.push_back(c);
    }
  nlohmann::json out = nlohmann::json::object();
  for (auto& [sim, list] : seen) out[sim] = std::move(list);
  return out;
}

namespace {

std::string Number(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? std::to_string(j[key].get<int64_t>()) : "?";
}

// One cache of a configuration record in words: "32 KiB 8-way 64 B lines lru".
std::string DescribeCache(const nlohmann::json& g) {
  if (!g.is_object()) return "none";
  std::string size = g.contains("size") && g["size"].is_number()
                         ? std::to_string(g["size"].get<int64_t>() / 1024) + " KiB"
                         : "? KiB";
  return size + " " + Number(g, "ways") + "-way " + Number(g, "line") + " B lines " +
         (g.contains("policy") && g["policy"].is_string() ? g["policy"].get<std::string>() : "?");
}

// A branch predictor of a configuration record in words, with the fields its kind uses:
// "gshare of 8192 entries (13 history bits)".
std::string DescribeBranchPredictor(const nlohmann::json& b) {
  if (!b.is_object()) return "none";
  std::string kind = b.contains("kind") && b["kind"].is_string() ? b["kind"].get<std::string>() : "?";
  std::string text = kind + " of " + Number(b, "entries") + " entries";
  if (kind == "gshare") text += " (" + Number(b, "history_bits") + " history bits)";
  if (kind == "tournament")
    text += " (" + Number(b, "local_entries") + " local histories, " + Number(b, "local_counters") +
            " local counters)";
  if (kind == "tage")
    text += " (" + Number(b, "tables") + " tagged tables of " + Number(b, "tagged_entries") +
            ", histories up to " + Number(b, "max_history") + " bits)";
  return text;
}

// Where two configuration records (Simulator::Configuration) differ, in words: "l1d 32 KiB
// 8-way 64 B lines lru in training, 16 KiB 8-way 64 B lines lru here; ...".
std::string DescribeDifference(const nlohmann::json& trained, const nlohmann::json& here) {
  std::vector<std::string> parts;
  auto field = [](const nlohmann::json& c, const char* key) {
    return c.is_object() && c.contains(key) ? c[key] : nlohmann::json();
  };
  const nlohmann::json tc = field(trained, "cache_config"), hc = field(here, "cache_config");
  std::set<std::string> levels;
  for (const auto* c : {&tc, &hc})
    if (c->is_object())
      for (const auto& [level, g] : c->items()) levels.insert(level);
  for (const auto& level : levels) {
    std::string a = DescribeCache(field(tc, level.c_str())), b = DescribeCache(field(hc, level.c_str()));
    if (a != b) parts.push_back(level + " " + a + " in training, " + b + " here");
  }
  std::string a = DescribeBranchPredictor(field(trained, "bpred"));
  std::string b = DescribeBranchPredictor(field(here, "bpred"));
  if (a != b) parts.push_back("branch predictor " + a + " in training, " + b + " here");
  return parts.empty() ? trained.dump() + " in training, " + here.dump() + " here" : Join(parts, "; ");
}

bool HasConfigurations(const nlohmann::json& trained_on) {
  return trained_on.is_object() && trained_on.contains("configurations") &&
         trained_on["configurations"].is_object();
}

}  // namespace

std::vector<std::string> ConfigurationWarnings(const std::string& where, const nlohmann::json& trained_on,
                                               const std::vector<CandidateData>& rows) {
  std::vector<std::string> out;
  if (!HasConfigurations(trained_on)) return out;
  for (const auto& [sim, known] : trained_on["configurations"].items()) {
    if (!known.is_array() || known.empty()) continue;
    size_t other = 0, with = 0;
    const nlohmann::json* first = nullptr;
    for (const auto& r : rows) {
      auto it = r.configurations.find(sim);
      if (it == r.configurations.end()) continue;
      ++with;
      if (std::find(known.begin(), known.end(), it->second) != known.end()) continue;
      ++other;
      if (!first) first = &it->second;
    }
    if (other == 0) continue;
    out.push_back(where + " was trained on " + sim + " statistics of another configuration than " +
                  std::to_string(other) + " of " + std::to_string(with) + " candidates here have (" +
                  DescribeDifference(known[0], *first) +
                  "): simulate them with the model's configuration, or train a model on this one");
  }
  return out;
}

std::vector<std::string> TargetConfigurationWarnings(const std::string& where, const nlohmann::json& trained_on,
                                                     const Target& target,
                                                     const std::vector<std::string>& simulators) {
  std::vector<std::string> out;
  if (!HasConfigurations(trained_on)) return out;
  const auto& all = trained_on["configurations"];
  for (const auto& sim : simulators) {
    if (!all.contains(sim) || !all[sim].is_array() || all[sim].empty()) continue;
    auto backend = Simulators().Create(sim, "");
    if (!backend.ok()) continue;
    bool known = false;
    for (const auto& c : all[sim]) {
      SimStats record;
      record.simulator = sim;
      record.extra = c;
      if ((*backend)->MatchesTarget(record, target)) known = true;
    }
    if (!known)
      out.push_back(where + " was trained on " + sim + " statistics of another configuration than target " +
                    target.name + " gives (" +
                    DescribeDifference(all[sim][0], (*backend)->ConfigurationFor(target)) +
                    "): its predictions describe the machine it was trained on");
  }
  return out;
}

Status SaveTrainedModel(const std::string& path, const Predictor& predictor, const DataSpec& data,
                        const nlohmann::json& trained_on) {
  nlohmann::json j = ModelToJson(predictor, kFeatureSchemaVersion);
  j["data"] = data.ToJson();
  j["trained_on"] = trained_on;
  return WriteModelFile(path, j, 1);
}

Result<TrainedModel> LoadTrainedModel(const std::string& path) {
  const std::string where = "model " + path;
  std::optional<std::string> text = ReadWholeFile(path);
  if (!text) return Error{where + ": cannot read"};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception& e) {
    return Error{where + ": not JSON: " + e.what()};
  }
  TrainedModel m;
  SIMTUNE_ASSIGN_OR_RETURN(m.predictor, ModelFromJson(j, kFeatureSchemaVersion, where));
  if (!j.contains("data"))
    return Error{where + ": no \"data\" (a bare predictor file; train it with `simtune train`)"};
  SIMTUNE_ASSIGN_OR_RETURN(m.data, DataSpec::FromJson(j["data"], where));
  m.trained_on = j.value("trained_on", nlohmann::json::object());
  if (!m.trained_on.is_object()) return Error{where + ": \"trained_on\" must be an object"};
  std::string reference_unit = m.data.reference == "rvsim" ? "cycles" : "ns";   // files before "unit"
  if (m.trained_on.contains("unit")) {
    if (!m.trained_on["unit"].is_string() || m.trained_on["unit"].get<std::string>().empty())
      return Error{where + ": trained_on.unit must be a non-empty string; got " + m.trained_on["unit"].dump()};
    reference_unit = m.trained_on["unit"].get<std::string>();
  }
  m.unit = PredictionUnit(*m.predictor, reference_unit);
  return m;
}

std::string PredictionUnit(const Predictor& predictor, const std::string& reference_unit) {
  return predictor.predicts_time() ? reference_unit : "score";
}

Result<std::string> ReferenceUnit(const std::vector<CandidateData>& rows) {
  std::string unit;
  for (const auto& r : rows) {
    if (!r.ref_value || r.ref_unit.empty()) continue;
    if (unit.empty()) unit = r.ref_unit;
    else if (r.ref_unit != unit)
      return Error{"the reference results mix units: " + unit + " and " + r.ref_unit + " (candidate " +
                   std::to_string(r.candidate_id) + "); train on one reference at a time"};
  }
  return unit;
}

std::vector<std::string> ModelMismatchWarnings(const std::string& where, const DataSpec& trained,
                                               const DataSpec& used) {
  std::vector<std::string> out;
  if (trained.sim_target != used.sim_target)
    out.push_back(where + " was trained on statistics simulated for " + trained.sim_target + "; here they come from " +
                  used.sim_target);
  if (trained.reference != used.reference || trained.effective_ref_target() != used.effective_ref_target())
    out.push_back(where + " was trained on reference " + trained.reference + " (" + trained.effective_ref_target() +
                  "); here it ranks for " + used.reference + " (" + used.effective_ref_target() +
                  "): its predictions are in the units and behaviour of the former");
  std::vector<std::string> a = trained.simulators, b = used.simulators;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a != b)
    out.push_back(where + " was trained on statistics of " + Join(trained.simulators, ",") + "; here of " +
                  Join(used.simulators, ","));
  return out;
}

}  // namespace simtune
