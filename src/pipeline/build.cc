// The build job: register the chosen candidates, build (and verify) those without a usable
// artifact, store each artifact as soon as it is done.
#include <chrono>
#include <filesystem>
#include <mutex>

#include "simtune/pipeline.h"

namespace simtune::pipeline {
namespace {

// Registers the chosen candidates in the store; returns (candidate id, config) pairs.
Result<std::vector<std::pair<int64_t, Config>>> RegisterCandidates(Store& store, const Chosen& c,
                                                                   int64_t* workload_id) {
  SIMTUNE_ASSIGN_OR_RETURN(*workload_id, store.AddWorkload(c.workload));
  std::vector<std::pair<int64_t, Config>> out;
  for (const auto& cfg : c.configs) {
    SIMTUNE_ASSIGN_OR_RETURN(int64_t id,
                             store.AddCandidate(*workload_id, FormatConfig(cfg, c.space->knobs())));
    out.push_back({id, cfg});
  }
  return out;
}

}  // namespace

Result<BuildJob> BuildJob::Prepare(const BuildJobOptions& options) {
  BuildJob job;
  job.options_ = options;
  SIMTUNE_ASSIGN_OR_RETURN(job.target_, LoadTarget(options.target));
  SIMTUNE_ASSIGN_OR_RETURN(Chosen chosen, Choose(options.selection, true));
  job.chosen_ = std::make_shared<Chosen>(std::move(chosen));
  return job;
}

Result<BuildJobResult> BuildJob::Run(Store& store, const ProgressFn& progress) {
  const Chosen& c = *chosen_;
  const Target& target = target_;
  int64_t wid = 0;
  SIMTUNE_ASSIGN_OR_RETURN(auto cands, RegisterCandidates(store, c, &wid));
  BuildJobResult result;
  result.workload = c.workload.Key();
  result.target = target.name;

  // Resume: a candidate whose latest artifact row on this target is ok and still on disk
  // is not rebuilt.
  std::vector<std::pair<int64_t, Config>> todo;
  for (const auto& [id, cfg] : cands) {
    SIMTUNE_ASSIGN_OR_RETURN(auto latest, store.LatestArtifact(id, target.name));
    if (!options_.force && latest.has_value() && latest->artifact.ok() &&
        std::filesystem::exists(latest->artifact.elf)) {
      ++result.skipped;
      continue;
    }
    todo.push_back({id, cfg});
  }
  BuildOptions bo;
  bo.cache_dir = options_.cache;
  bo.jobs = options_.jobs;
  Builder builder(bo);
  std::vector<Config> configs;
  for (const auto& t : todo) configs.push_back(t.second);
  // Each artifact is verified on its worker and stored as soon as it is done, so a build
  // that is interrupted keeps what it finished.
  std::mutex mu;
  Status store_error;
  size_t done = 0;
  auto start = std::chrono::steady_clock::now();
  std::vector<Artifact> arts =
      builder.BuildMany(c.workload, configs, target, [&](size_t i, Artifact& a) {
        std::string unverified = options_.verify ? VerifyArtifactInto(a, target, 60, options_.bare_metal_verifier) : "";
        std::lock_guard<std::mutex> lock(mu);
        if (!store_error.ok()) return;
        auto id = store.AddArtifact(todo[i].first, a);
        if (!id.ok()) {
          store_error = id.error();
          return;
        }
        ++done;
        if (!a.ok()) {
          ++result.failed_by_stage[a.stage];
        } else if (!unverified.empty()) {
          ++result.unverified;
          if (result.unverified_reason.empty()) result.unverified_reason = unverified;
        } else {
          ++result.ok;
        }
        if (a.cached) ++result.cached;
        if (progress) {
          Progress p;
          p.job = "build";
          p.event = "candidate";
          p.done = done;
          p.total = todo.size();
          p.failed = done - result.ok - result.unverified;
          p.candidate_id = todo[i].first;
          p.config = FormatConfig(todo[i].second, c.space->knobs());
          p.status = a.status;
          p.stage = a.stage;
          p.message = a.message;
          progress(p);
        }
      });
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  SIMTUNE_RETURN_IF_ERROR(store_error);
  for (size_t i = 0; i < arts.size(); ++i)
    result.built.push_back({todo[i].first, FormatConfig(todo[i].second, c.space->knobs()), arts[i]});
  return result;
}

Result<BuildJobResult> RunBuild(Store& store, const BuildJobOptions& options, const ProgressFn& progress) {
  SIMTUNE_ASSIGN_OR_RETURN(BuildJob job, BuildJob::Prepare(options));
  return job.Run(store, progress);
}

}  // namespace simtune::pipeline
