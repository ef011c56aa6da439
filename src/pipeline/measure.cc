// The measure job (and `report`, which only ranks): reference results of a workload's built
// candidates, ranked from the store.
#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "simtune/pipeline.h"
#include "simtune/strings.h"
#include "simtune/target.h"

namespace simtune::pipeline {

Result<MeasureJob> MeasureJob::Prepare(const MeasureJobOptions& options) {
  MeasureJob job;
  job.options_ = options;
  SIMTUNE_ASSIGN_OR_RETURN(job.target_, LoadTarget(options.target));
  SIMTUNE_ASSIGN_OR_RETURN(job.reference_, References().Create(options.reference, options.reference_options));
  // `native` times this machine: measuring another ISA's target with it would only store
  // failed rows (or emulator times), again on every rerun. Refuse up front and say what can.
  const auto& refs = job.target_.references;
  if (options.measure && options.reference == "native" &&
      std::find(refs.begin(), refs.end(), "native") == refs.end()) {
    std::vector<std::string> can;
    for (const auto& name : ListTargets()) {
      auto t = LoadTarget(name);
      if (t.ok() && !t->references.empty()) can.push_back(name + " (" + Join(t->references, ", ") + ")");
    }
    return Error{"target " + job.target_.name + " cannot be measured with --ref native, which times" +
                 " this machine; measure it on a board with --ref ssh, or use a target with a" +
                 " reference that runs here: " + Join(can, "; ")};
  }
  Selection sel;
  sel.workload = options.workload;
  SIMTUNE_ASSIGN_OR_RETURN(Chosen chosen, Choose(sel, false));
  job.chosen_ = std::make_shared<Chosen>(std::move(chosen));
  return job;
}

Result<MeasureJobResult> MeasureJob::Run(Store& store, const ProgressFn& progress) {
  const MeasureJobOptions& f = options_;
  const Target& target = target_;
  Reference& ref = *reference_;
  const Chosen& c = *chosen_;
  bool measure = f.measure;
  int64_t wid = 0;
  SIMTUNE_ASSIGN_OR_RETURN(auto cands, StoredCandidates(store, c, &wid));
  // (id, configuration as shown): simtune's own candidates, then executables built outside
  // simtune (the TVM runner's "external:<hash>"), measured and ranked alike: they have
  // artifacts, only no configuration to rebuild them from.
  std::vector<std::pair<int64_t, std::string>> listed;
  for (const auto& [id, cfg] : cands) listed.push_back({id, FormatConfig(cfg, c.space->knobs())});
  SIMTUNE_ASSIGN_OR_RETURN(auto all, store.Candidates(wid));
  for (const auto& row : all)
    if (IsExternalConfig(row.config)) listed.push_back({row.id, row.config});

  std::vector<Artifact> batch;
  std::vector<int64_t> batch_ids;
  size_t rereduced = 0;   // stored runs of the same protocol, reduced this reference's way
  const std::string rereducible = ref.rereducible_key();
  size_t missing = 0;   // built, executable gone
  std::map<int64_t, std::string> config_text;
  std::map<int64_t, double> flops;
  std::set<int64_t> chosen;   // --sample: a calibration subset, the same for the same seed
  if (measure && f.sample > 0) {
    std::vector<int64_t> built;
    for (const auto& [id, text] : listed) {
      SIMTUNE_ASSIGN_OR_RETURN(auto art, store.LatestArtifact(id, target.name));
      if (art.has_value() && art->artifact.ok()) built.push_back(id);
    }
    std::mt19937_64 rng(f.seed);
    std::shuffle(built.begin(), built.end(), rng);
    built.resize(std::min(built.size(), f.sample));
    chosen.insert(built.begin(), built.end());
  }
  for (const auto& [id, text] : listed) {
    config_text[id] = text;
    SIMTUNE_ASSIGN_OR_RETURN(auto art, store.LatestArtifact(id, target.name));
    if (!art.has_value() || !art->artifact.ok()) continue;  // build failures live in artifacts
    flops[id] = art->artifact.flops;
    if (measure && (f.sample == 0 || chosen.count(id))) {
      if (!f.force) {
        SIMTUNE_ASSIGN_OR_RETURN(auto stored, FindStoredRef(ref, target, id, art->artifact.hash, store));
        if (stored.has_value()) {
          rereduced += stored->rereduced;
          continue;
        }
      }
      if (std::error_code ec; !std::filesystem::exists(art->artifact.elf, ec)) {
        ++missing;
        continue;
      }
      batch.push_back(art->artifact);
      batch_ids.push_back(id);
    }
  }
  MeasureJobResult result;
  result.workload = c.workload.Key();
  result.target = target.name;
  result.reference = f.reference;
  result.reference_options = ref.options_key();
  result.missing = missing;
  result.rereduced = rereduced;
  result.rereduced_from = rereducible;
  if (measure) {
    if (progress) {
      Progress p;
      p.job = "measure";
      p.event = "measure";
      p.total = batch.size();
      p.reference = f.reference;
      p.reference_options = ref.options_key();
      progress(p);
    }
    ChunkControlReport control;
    SIMTUNE_ASSIGN_OR_RETURN(auto results,
                             MeasureAndStore(ref, batch, batch_ids, target, store, kMeasureChunk,
                                             [&](size_t done, size_t total) {
                                               if (!progress) return;
                                               Progress p;
                                               p.job = "measure";
                                               p.event = "measured";
                                               p.done = done;
                                               p.total = total;
                                               progress(p);
                                             },
                                             ChunkControl{}, &control));
    result.measured = results.size();
    result.control = control;
    result.warnings = ref.Warnings(target);
  }
  // Rank from the store: latest row per candidate for this reference and options. Without
  // one (`report` on a store measured before a change of reduction), the latest row that
  // reduces to this reference's, reduced here and not stored.
  SIMTUNE_ASSIGN_OR_RETURN(auto rows, store.RefResults(wid, target.name));
  std::map<int64_t, RefRow> latest, before;
  for (const auto& r : rows) {
    if (r.reference != f.reference) continue;
    if (r.options == ref.options_key()) latest[r.candidate_id] = r;
    if (!rereducible.empty() && r.options == rereducible) before[r.candidate_id] = r;
  }
  for (auto& [id, r] : before) {
    if (latest.count(id)) continue;
    if (!r.result.ok()) {
      latest[id] = r;
      continue;
    }
    auto again = ref.Rereduce(r.result);
    if (!again.ok()) continue;
    r.result = *again;
    r.options = ref.options_key();
    latest[id] = r;
  }
  for (const auto& [id, r] : latest) {
    RankedCandidate rr{id, config_text[id], r, flops[id]};
    (r.result.ok() ? result.ranked : result.failed).push_back(rr);
  }
  std::sort(result.ranked.begin(), result.ranked.end(), [](const RankedCandidate& a, const RankedCandidate& b) {
    return a.ref.result.value < b.ref.result.value;
  });
  return result;
}

Result<MeasureJobResult> RunMeasure(Store& store, const MeasureJobOptions& options, const ProgressFn& progress) {
  SIMTUNE_ASSIGN_OR_RETURN(MeasureJob job, MeasureJob::Prepare(options));
  return job.Run(store, progress);
}

}  // namespace simtune::pipeline
