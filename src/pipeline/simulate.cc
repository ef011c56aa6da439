// The simulate job: ROI statistics of every built candidate that has none yet. Workers
// simulate; the calling thread alone writes the store, in completion order.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "simtune/pipeline.h"
#include "simtune/process.h"
#include "src/pipeline/sim_row.h"

namespace simtune::pipeline {
namespace {

// A stored row whose statistics came from another configuration of the target (or cannot
// be read back) does not count as simulated.
bool StoredMatchesTarget(const SimRow& row, const Simulator& sim, const Target& target) {
  auto j = nlohmann::json::parse(row.stats_json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return false;
  auto stats = SimStats::FromJson(j, "store sim result " + std::to_string(row.id));
  return stats.ok() && sim.MatchesTarget(*stats, target);
}

}  // namespace

Result<SimulateJob> SimulateJob::Prepare(const SimulateJobOptions& options) {
  SimulateJob job;
  job.options_ = options;
  SIMTUNE_ASSIGN_OR_RETURN(job.target_, LoadTarget(options.target));
  SIMTUNE_ASSIGN_OR_RETURN(job.names_, ParseSimList(options.simulator));
  if (job.names_.size() > 1 && !options.simulator_options.empty())
    return Error{"simulator options '" + options.simulator_options + "' with several simulators (" +
                 options.simulator + "): simulate them one at a time to give options"};
  std::vector<std::pair<std::string, std::string>> specs;
  for (const auto& name : job.names_) specs.emplace_back(name, options.simulator_options);
  SIMTUNE_ASSIGN_OR_RETURN(auto set, SimulatorSet::Create(specs));
  SIMTUNE_RETURN_IF_ERROR(set->CheckTarget(job.target_));
  job.simulators_ = std::move(set);
  Selection sel;
  sel.workload = options.workload;
  SIMTUNE_ASSIGN_OR_RETURN(Chosen chosen, Choose(sel, false));
  job.chosen_ = std::make_shared<Chosen>(std::move(chosen));
  return job;
}

Result<SimulateJobResult> SimulateJob::Run(Store& store, const ProgressFn& progress) {
  const Target& target = target_;
  const SimulatorSet& sims = *simulators_;
  const size_t n_sims = sims.size();
  const SimulateJobOptions& f = options_;
  int64_t wid = 0;
  SIMTUNE_ASSIGN_OR_RETURN(auto cands, StoredCandidates(store, *chosen_, &wid));
  SimulateJobResult result;
  result.workload = chosen_->workload.Key();
  result.target = target.name;
  result.simulator = f.simulator;

  struct Todo {
    int64_t id = 0;
    Artifact artifact;
    std::vector<size_t> sims;   // indices of the simulators to run
  };
  // simtune's own candidates, then executables built outside simtune (the TVM runner's
  // "external:<hash>", as measure lists them): their statistics go stale with the target's
  // configuration too.
  std::vector<int64_t> ids;
  for (const auto& [id, cfg] : cands) ids.push_back(id);
  SIMTUNE_ASSIGN_OR_RETURN(auto all, store.Candidates(wid));
  for (const auto& row : all)
    if (IsExternalConfig(row.config)) ids.push_back(row.id);
  std::vector<Todo> todo;
  for (int64_t id : ids) {
    SIMTUNE_ASSIGN_OR_RETURN(auto art, store.LatestArtifact(id, target.name));
    if (!art.has_value() || !art->artifact.ok()) {
      ++result.unbuilt;
      continue;
    }
    if (std::error_code ec; !std::filesystem::exists(art->artifact.elf, ec)) {
      ++result.missing;
      continue;
    }
    Todo t{id, art->artifact, {}};
    bool stale = false;
    for (size_t s = 0; s < n_sims; ++s) {
      SIMTUNE_ASSIGN_OR_RETURN(auto done, store.LatestOkSim(id, target.name, names_[s], sims.at(s).options_key(),
                                                            art->artifact.hash));
      if (!done.has_value() || f.force) {
        t.sims.push_back(s);
      } else if (!StoredMatchesTarget(*done, sims.at(s), target)) {
        t.sims.push_back(s);
        stale = true;
      }
    }
    if (stale) ++result.stale;
    if (t.sims.empty()) ++result.skipped;
    else todo.push_back(std::move(t));
  }
  int jobs = WorkerCount(f.jobs, todo.size());
  result.jobs = jobs;
  std::mutex mu;
  std::condition_variable cv;
  // (todo index, one result per todo[i].sims entry)
  std::deque<std::pair<size_t, std::vector<SimResult>>> finished;
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < jobs; ++w) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < todo.size(); i = next++) {
        std::vector<SimResult> all = sims.Simulate(todo[i].artifact, target, todo[i].sims);
        std::vector<SimResult> r;
        for (size_t s : todo[i].sims) r.push_back(std::move(all[s]));
        std::lock_guard<std::mutex> lock(mu);
        finished.push_back({i, std::move(r)});
        cv.notify_one();
      }
    });
  }
  auto start = std::chrono::steady_clock::now();
  size_t failed = 0;
  Status write_error;
  for (size_t done = 0; done < todo.size(); ++done) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return !finished.empty(); });
    auto [i, results] = std::move(finished.front());
    finished.pop_front();
    lock.unlock();
    const SimResult* failure = nullptr;
    for (size_t k = 0; k < results.size(); ++k) {
      const SimResult& r = results[k];
      const size_t s = todo[i].sims[k];
      SimRow row = MakeSimRow(todo[i].id, target.name, names_[s], sims.at(s).options_key(),
                              todo[i].artifact.hash, r);
      if (r.ok()) {
        result.insn_count += r.stats.insn_count;
        result.sim_wall_s += r.wall_s;
      } else {
        ++result.failed_by_stage[r.stage];
        if (!failure) failure = &r;
      }
      if (write_error.ok()) {
        auto id = store.AddSimResult(row);
        if (!id.ok()) write_error = id.error();
        else row.id = *id;
      }
      result.rows.push_back(std::move(row));
    }
    if (failure) ++failed;
    if (progress) {
      Progress p;
      p.job = "simulate";
      p.event = "candidate";
      p.done = done + 1;
      p.total = todo.size();
      p.failed = failed;
      double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      p.eta_s = el / (done + 1) * (todo.size() - done - 1);
      p.candidate_id = todo[i].id;
      const SimResult& shown = failure ? *failure : results.front();
      p.status = shown.status;
      p.stage = shown.stage;
      p.message = shown.message;
      progress(p);
    }
  }
  for (auto& w : workers) w.join();
  if (progress) {
    Progress p;
    p.job = "simulate";
    p.event = "finished";
    p.done = p.total = todo.size();
    p.failed = failed;
    progress(p);
  }
  SIMTUNE_RETURN_IF_ERROR(write_error);
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

Result<SimulateJobResult> RunSimulate(Store& store, const SimulateJobOptions& options,
                                      const ProgressFn& progress) {
  SIMTUNE_ASSIGN_OR_RETURN(SimulateJob job, SimulateJob::Prepare(options));
  return job.Run(store, progress);
}

}  // namespace simtune::pipeline
