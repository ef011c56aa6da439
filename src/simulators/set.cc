// SimulatorSet: several simulators on one artifact, one run where one serves two (simulator.h).
// Today's only pair: qemu and a simulator derived from a qemu run (mca). They share when the
// qemu simulator's timeout and mode equal the derived one's; qemu then runs with tbs=on added
// (unless it has it already), the profile is taken out of qemu's own result (the plugin's
// other statistics do not depend on it), and the derived result is computed from that run.
#include <algorithm>

#include "simtune/strings.h"
#include "src/simulators/builtin.h"

namespace simtune {
namespace {

// The items of an options text that set a run's timeout or mode, sorted.
std::vector<std::string> RunItems(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items)
    if (StartsWith(item, "timeout=") || StartsWith(item, "mode=")) out.push_back(item);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Items(const std::string& options) {
  std::vector<std::string> out;
  for (const auto& item : Split(options, ','))
    if (!Trim(item).empty()) out.push_back(Trim(item));
  return out;
}

}  // namespace

Result<std::unique_ptr<SimulatorSet>> SimulatorSet::Create(
    const std::vector<std::pair<std::string, std::string>>& specs, bool share_runs) {
  std::unique_ptr<SimulatorSet> set(new SimulatorSet());
  for (const auto& [name, options] : specs) {
    SIMTUNE_ASSIGN_OR_RETURN(auto sim, Simulators().Create(name, options));
    set->names_.push_back(name);
    set->sims_.push_back(std::move(sim));
  }
  if (!share_runs) return set;
  std::vector<bool> used(specs.size(), false);
  for (size_t d = 0; d < specs.size(); ++d) {
    const auto* derived = dynamic_cast<const DerivedFromQemuRun*>(set->sims_[d].get());
    if (derived == nullptr) continue;
    for (size_t b = 0; b < specs.size(); ++b) {
      if (used[b] || specs[b].first != "qemu") continue;
      const std::vector<std::string> base_items = Items(specs[b].second);
      if (RunItems(base_items) != RunItems(Items(derived->QemuRunOptions()))) continue;
      Shared s;
      s.base = b;
      s.derived = d;
      s.derived_sim = derived;
      if (std::find(base_items.begin(), base_items.end(), "tbs=on") == base_items.end()) {
        std::vector<std::string> with = base_items;
        with.erase(std::remove(with.begin(), with.end(), "tbs=off"), with.end());
        with.push_back("tbs=on");
        SIMTUNE_ASSIGN_OR_RETURN(s.run, Simulators().Create("qemu", Join(with, ",")));
      }
      used[b] = used[d] = true;
      set->shared_.push_back(std::move(s));
      break;
    }
  }
  return set;
}

std::vector<std::pair<size_t, size_t>> SimulatorSet::shared() const {
  std::vector<std::pair<size_t, size_t>> out;
  for (const auto& s : shared_) out.emplace_back(s.base, s.derived);
  return out;
}

Status SimulatorSet::CheckTarget(const Target& target) const {
  for (size_t i = 0; i < sims_.size(); ++i) {
    if (!sims_[i]->Supports(target))
      return Error{"simulator '" + names_[i] + "' does not support target '" + target.name + "'"};
    SIMTUNE_RETURN_IF_ERROR(sims_[i]->Available(target));
  }
  return {};
}

std::vector<SimResult> SimulatorSet::Simulate(const Artifact& artifact, const Target& target,
                                              const std::vector<size_t>& wanted) const {
  std::vector<SimResult> out(sims_.size());
  std::vector<bool> want(sims_.size(), wanted.empty());
  for (size_t i : wanted) want.at(i) = true;
  std::vector<bool> done(sims_.size(), false);
  for (size_t i = 0; i < sims_.size(); ++i) {
    if (done[i] || !want[i]) continue;
    auto s = std::find_if(shared_.begin(), shared_.end(), [&](const Shared& x) {
      return (x.base == i || x.derived == i) && want[x.base] && want[x.derived];
    });
    if (s == shared_.end()) {
      out[i] = sims_[i]->Simulate(artifact, target);
      continue;
    }
    const Simulator& base = s->run ? *s->run : *sims_[s->base];
    SimResult run = base.Simulate(artifact, target);
    out[s->derived] = s->derived_sim->FromQemuRun(run, artifact, target, /*own_run=*/false);
    if (s->run && run.ok()) run.stats.extra.erase("tbs");
    out[s->base] = std::move(run);
    done[s->base] = done[s->derived] = true;
  }
  return out;
}

}  // namespace simtune
