// Training data from the store, and trained-model files.
//
// A DataSpec says which stored rows make a predictor's data: the simulators whose statistics
// become features (joined per candidate, each prefixed with the simulator's name), the target
// those simulations ran on, and the reference whose results are the run time to learn (its
// target may differ: a riscv64-baremetal artifact simulated on Spike is measured by a
// cycle-level model target). Candidates are the store's candidates table, shared by all
// targets of a workload, so joining statistics and reference results is by candidate id.
//
//   store ──LoadCandidateData(spec)──> [CandidateData] ──ToDataset──> Dataset ──> Fit / Predict
//
// A trained-model file is a model file (predictor.h: ModelToJson) with the DataSpec that
// produced its training data under "data", so that `simtune predict` rebuilds the same
// features for new candidates:
//   {"predictor": ..., "options": ..., "feature_schema_version": N, "feature_names": [...],
//    "model": {...}, "data": DataSpec::ToJson(), "trained_on": {"workloads": [...], "rows": n}}
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/features.h"
#include "simtune/predictor.h"
#include "simtune/result.h"
#include "simtune/store.h"
#include "simtune/target.h"

namespace simtune {

struct DataSpec {
  std::string sim_target = "x86_64-host";          // target of the simulator rows
  std::vector<std::string> simulators = {"qemu"};  // at least one; features are joined
  std::string ref_target;                          // empty = sim_target
  std::string reference = "native";                // reference name
  std::string ref_options;                         // empty = latest ok row of any options
  FeatureOptions features;
  // The target file the user named (train/eval --target), not saved with a model: stored
  // statistics that another configuration produced (Simulator::MatchesTarget) are left out.
  // Empty (a model's own spec): not checked.
  std::string target_file;

  const std::string& effective_ref_target() const { return ref_target.empty() ? sim_target : ref_target; }

  nlohmann::json ToJson() const;
  // Strict: unknown keys and wrong types are errors prefixed with `where`.
  static Result<DataSpec> FromJson(const nlohmann::json& j, const std::string& where);
};

// One candidate as the store knows it for a DataSpec.
struct CandidateData {
  int64_t candidate_id = 0;
  int64_t workload_id = 0;
  std::string workload_key;
  std::string config;                        // canonical knob text
  std::map<std::string, double> features;   // ExtractFeatures of every simulator in the spec
  std::optional<double> ref_value;           // latest ok reference result, when measured
  std::string ref_unit;                      // its unit ("ns", "cycles"); "" when unmeasured
  double ref_spread = 0;                     // its relative round spread
  // Simulator -> the configuration its statistics modelled (Simulator::Configuration), for
  // the simulators whose records name one.
  std::map<std::string, nlohmann::json> configurations;
};

// Every candidate of the given workloads (store keys; empty = every workload in the store)
// that has an ok statistics row for EVERY simulator of the spec (latest ok row, any
// options). Candidates lacking one are counted in `*missing_sims` (when given), not returned:
// a feature set that differs by row would be a silent fill. With spec.target_file, candidates
// whose statistics came from another configuration than that file gives (Simulator::
// MatchesTarget: it was edited after `simtune simulate`) are counted in `*stale_sims`, not
// returned: `simtune simulate` simulates them again. Errors: a workload key not in the store, a stored
// statistics record that does not parse (names the candidate), store errors.
Result<std::vector<CandidateData>> LoadCandidateData(Store& store,
                                                     const std::vector<std::string>& workload_keys,
                                                     const DataSpec& spec,
                                                     size_t* missing_sims = nullptr,
                                                     size_t* stale_sims = nullptr);

// Rows -> Dataset, group = workload id, y = reference value (NaN when unmeasured). `names`
// fixes the columns (a model's feature_names), else the union of the rows' features plus,
// with `relative`, their ".rel" twins (BuildDataset).
Dataset ToDataset(const std::vector<CandidateData>& rows, const std::vector<std::string>& names = {},
                  bool relative = true);

struct TrainedModel {
  std::unique_ptr<Predictor> predictor;
  DataSpec data;
  nlohmann::json trained_on;   // {"workloads": [keys], "rows": n, "unit": "ns"}
  // The unit of the predictor's output: the reference's ("ns", "cycles") when it predicts a
  // time, "score" when its output only orders candidates (ranking models, baselines). From
  // trained_on.unit; files written before it was recorded: "cycles" for an rvsim reference,
  // else "ns".
  std::string unit;
};

// The unit a model's predictions are in: `reference_unit` when the predictor predicts a
// time, else "score".
std::string PredictionUnit(const Predictor& predictor, const std::string& reference_unit);

// The one unit of the measured rows' reference results ("" when none is measured). Rows
// that mix units (ns and cycles) are an error naming both.
Result<std::string> ReferenceUnit(const std::vector<CandidateData>& rows);

// Lines that warn about using a model on data it was not trained for: each of the target the
// statistics come from, the target and reference of the run times, and the simulators that
// differs from what the model file records, e.g.
//   "model m.json was trained on reference native (x86_64-host); here it ranks for rvsim
//    (riscv64-rvsim-p550): its predictions are in the units and behaviour of the former".
// `where` names the model. Empty when everything matches.
std::vector<std::string> ModelMismatchWarnings(const std::string& where, const DataSpec& trained,
                                               const DataSpec& used);

// The distinct configurations (Simulator::Configuration) of the rows' statistics, per
// simulator: {"qemu": [{"cache_config": ..., "bpred": ...}]}; {} when no record names one.
// Models keep it as trained_on.configurations.
nlohmann::json TrainedConfigurations(const std::vector<CandidateData>& rows);

// Lines that warn about ranking statistics of a configuration the model was not trained on
// (`trained_on` of the model file; a file without configurations is not checked): one per
// simulator with such rows, with how many of them and where the configurations differ, e.g.
//   "model m.json was trained on qemu statistics of another configuration than 48 of 48
//    candidates here have (l1d 32 KiB 8-way 64 B lines lru in training, 16 KiB 8-way 64 B
//    lines lru here): simulate them with the model's configuration, or train a model on
//    this one".
std::vector<std::string> ConfigurationWarnings(const std::string& where, const nlohmann::json& trained_on,
                                               const std::vector<CandidateData>& rows);
// The same for a target whose candidates are yet to be simulated (tune): a line per simulator
// of `simulators` whose configuration under `target` (Simulator::MatchesTarget) is none the
// model was trained on, with where it differs (Simulator::ConfigurationFor).
std::vector<std::string> TargetConfigurationWarnings(const std::string& where, const nlohmann::json& trained_on,
                                                     const Target& target,
                                                     const std::vector<std::string>& simulators);

Status SaveTrainedModel(const std::string& path, const Predictor& predictor, const DataSpec& data,
                        const nlohmann::json& trained_on);
// Errors start with "model <path>": unreadable, not JSON, schema mismatch (both versions
// named), missing or bad "data".
Result<TrainedModel> LoadTrainedModel(const std::string& path);

// Config text of a candidate built outside simtune (`simtune estimate --store`: TVM
// schedules): "external:<label>". It has no knob values; ParseStoredConfig gives an empty
// Config for it, anything else goes through Space::ParseConfig.
inline constexpr char kExternalConfigPrefix[] = "external:";
bool IsExternalConfig(const std::string& text);
Result<Config> ParseStoredConfig(const Space& space, const std::string& text);

}  // namespace simtune
