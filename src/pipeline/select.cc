// Choosing candidates of a workload's space, and finding them again in the store.
#include "simtune/pipeline.h"

namespace simtune::pipeline {

Result<Chosen> Choose(const Selection& s, bool need_configs) {
  Chosen c;
  SIMTUNE_ASSIGN_OR_RETURN(c.workload, ParseWorkload(s.workload));
  SIMTUNE_ASSIGN_OR_RETURN(c.space, MakeSpace(c.workload));
  int modes = (s.sample > 0) + (!s.configs.empty()) + (s.all ? 1 : 0);
  if (modes > 1) return Error{"choose one of --sample, --config, --all"};
  if (s.sample > 0) c.configs = c.space->Sample(s.sample, s.seed);
  for (const auto& text : s.configs) {
    auto cfg = c.space->ParseConfig(text);
    if (!cfg.ok()) return Wrap(cfg.error(), "--config '" + text + "'");
    c.configs.push_back(*cfg);
  }
  if (s.all) {
    c.space->Enumerate([&](const Config& cfg) {
      c.configs.push_back(cfg);
      return true;
    });
  }
  if (need_configs && modes == 0) return Error{"no candidates chosen: pass --sample N, --config or --all"};
  return c;
}

Result<std::vector<std::pair<int64_t, Config>>> StoredCandidates(Store& store, const Chosen& c,
                                                                 int64_t* workload_id) {
  auto wid = store.FindWorkload(c.workload.Key());
  if (!wid.ok()) return wid.error();
  if (!wid->has_value())
    return Error{"workload '" + c.workload.Key() + "' has no candidates in the store; run `simtune build` first"};
  *workload_id = **wid;
  SIMTUNE_ASSIGN_OR_RETURN(auto rows, store.Candidates(*workload_id));
  std::vector<std::pair<int64_t, Config>> out;
  for (const auto& row : rows) {
    if (IsExternalConfig(row.config)) continue;   // built outside simtune: nothing to rebuild
    auto cfg = c.space->ParseConfig(row.config);
    if (!cfg.ok()) return Wrap(cfg.error(), "store candidate " + std::to_string(row.id));
    out.push_back({row.id, *cfg});
  }
  return out;
}

}  // namespace simtune::pipeline
