#include "src/pipeline/measured.h"

#include <algorithm>

#include "simtune/strings.h"
#include "simtune/target.h"

namespace simtune::pipeline {

Result<DataSpec> MakeDataSpec(const DataOptions& f) {
  DataSpec s;
  s.sim_target = f.target;
  // A target file's path (`--target my.json`): the store keys its rows by the target's name,
  // and its statistics are checked against that file. A name that is no target here (a store
  // from elsewhere) is looked up as it is, unchecked.
  if (auto t = LoadTarget(f.target); t.ok()) {
    s.sim_target = t->name;
    s.target_file = t->source.string();
  }
  s.simulators.clear();
  for (const auto& part : Split(f.simulators, ',')) {
    std::string name = Trim(part);
    if (name.empty()) return Error{"--sim '" + f.simulators + "': empty simulator name"};
    s.simulators.push_back(name);
  }
  std::sort(s.simulators.begin(), s.simulators.end());
  if (std::adjacent_find(s.simulators.begin(), s.simulators.end()) != s.simulators.end())
    return Error{"--sim '" + f.simulators + "': a simulator is named twice"};
  s.ref_target = f.ref_target;
  if (!f.ref_target.empty())
    if (auto t = LoadTarget(f.ref_target); t.ok()) s.ref_target = t->name;
  s.reference = f.reference;
  s.ref_options = f.ref_options;
  if (!Trim(f.ref_options).empty()) {
    // Rows are stored under the reference's canonical options key (defaults filled in):
    // match that, so that `--ref-options rounds=15` finds what `measure` stored with it.
    auto ref = References().Create(f.reference, f.ref_options);
    if (!ref.ok()) return Error{"--ref-options '" + f.ref_options + "': " + ref.message()};
    s.ref_options = (*ref)->options_key();
  }
  s.features.knobs = f.knobs;
  s.features.shape = f.shape;
  s.features.shape_params = f.shape_params;
  s.features.relative = f.relative;
  return s;
}

Result<Measured> LoadMeasured(Store& store, const std::vector<std::string>& workloads, const DataSpec& spec) {
  Measured m;
  SIMTUNE_ASSIGN_OR_RETURN(auto all, LoadCandidateData(store, workloads, spec, &m.missing_sims,
                                                          &m.stale_sims));
  for (auto& r : all) {
    if (!r.ref_value) {
      ++m.unmeasured;
      continue;
    }
    m.workload_key[static_cast<int>(r.workload_id)] = r.workload_key;
    m.rows.push_back(std::move(r));
  }
  if (m.rows.empty()) {
    std::string stale;
    if (m.stale_sims > 0)
      stale = " (" + std::to_string(m.stale_sims) + " candidates' statistics came from another cache, " +
              "branch predictor or core configuration than " + spec.target_file + " now gives)";
    return Error{"no candidate has both " + Join(spec.simulators, " and ") + " statistics on " +
                 spec.sim_target + " and a " + spec.reference + " result on " +
                 spec.effective_ref_target() + " in the store" + stale +
                 "; run `simtune simulate` and `simtune measure` first"};
  }
  m.data = ToDataset(m.rows, {}, spec.features.relative);
  return m;
}

std::map<int, double> MedianSpread(const std::vector<CandidateData>& rows) {
  std::map<int, std::vector<double>> by;
  for (const auto& r : rows) by[static_cast<int>(r.workload_id)].push_back(r.ref_spread);
  std::map<int, double> out;
  for (auto& [g, v] : by) {
    std::sort(v.begin(), v.end());
    out[g] = v[v.size() / 2];
  }
  return out;
}

Result<std::pair<Eigen::VectorXd, std::vector<size_t>>> RankWithModel(const TrainedModel& model,
                                                                      const std::string& model_path,
                                                                      const std::vector<CandidateData>& rows) {
  Dataset x = ToDataset(rows, model.predictor->feature_names());
  for (auto& g : x.group) g = ScoringGroup(g);
  auto scores = model.predictor->Predict(x);
  if (!scores.ok()) return Error{"predict with " + model_path + ": " + scores.message()};
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return (*scores)[a] < (*scores)[b]; });
  return std::make_pair(std::move(scores).value(), order);
}

Result<std::string> ReferenceUnit(Store& store, int64_t workload_id, const DataSpec& spec) {
  SIMTUNE_ASSIGN_OR_RETURN(auto refs, store.RefResults(workload_id, spec.effective_ref_target()));
  std::string unit;
  for (const auto& ref : refs)
    if (ref.reference == spec.reference && ref.result.ok()) unit = ref.result.unit;
  return unit;
}

}  // namespace simtune::pipeline
