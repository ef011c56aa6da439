// The simulate job: ROI statistics of every built candidate that has none yet. Workers
// simulate; the calling thread alone writes the store, in completion order.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "simtune/pipeline.h"
#include "simtune/process.h"
#include "src/pipeline/sim_row.h"

namespace simtune::pipeline {

Result<SimulateJob> SimulateJob::Prepare(const SimulateJobOptions& options) {
  SimulateJob job;
  job.options_ = options;
  SIMTUNE_ASSIGN_OR_RETURN(job.target_, LoadTarget(options.target));
  SIMTUNE_ASSIGN_OR_RETURN(job.simulator_, Simulators().Create(options.simulator, options.simulator_options));
  if (!job.simulator_->Supports(job.target_))
    return Error{"simulator '" + options.simulator + "' does not support target '" + job.target_.name + "'"};
  SIMTUNE_RETURN_IF_ERROR(job.simulator_->Available(job.target_));
  Selection sel;
  sel.workload = options.workload;
  SIMTUNE_ASSIGN_OR_RETURN(Chosen chosen, Choose(sel, false));
  job.chosen_ = std::make_shared<Chosen>(std::move(chosen));
  return job;
}

Result<SimulateJobResult> SimulateJob::Run(Store& store, const ProgressFn& progress) {
  const Target& target = target_;
  Simulator& sim = *simulator_;
  const SimulateJobOptions& f = options_;
  int64_t wid = 0;
  SIMTUNE_ASSIGN_OR_RETURN(auto cands, StoredCandidates(store, *chosen_, &wid));
  SimulateJobResult result;
  result.workload = chosen_->workload.Key();
  result.target = target.name;
  result.simulator = f.simulator;

  std::vector<std::pair<int64_t, Artifact>> todo;
  for (const auto& [id, cfg] : cands) {
    SIMTUNE_ASSIGN_OR_RETURN(auto art, store.LatestArtifact(id, target.name));
    if (!art.has_value() || !art->artifact.ok()) {
      ++result.unbuilt;
      continue;
    }
    SIMTUNE_ASSIGN_OR_RETURN(auto done, store.LatestOkSim(id, target.name, f.simulator, sim.options_key(),
                                                          art->artifact.hash));
    if (done.has_value() && !f.force) {
      ++result.skipped;
      continue;
    }
    todo.push_back({id, art->artifact});
  }
  int jobs = WorkerCount(f.jobs, todo.size());
  result.jobs = jobs;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<size_t, SimResult>> finished;
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < jobs; ++w) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < todo.size(); i = next++) {
        SimResult r = sim.Simulate(todo[i].second, target);
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
    auto [i, r] = std::move(finished.front());
    finished.pop_front();
    lock.unlock();
    SimRow row = MakeSimRow(todo[i].first, target.name, f.simulator, sim.options_key(), todo[i].second.hash, r);
    if (r.ok()) {
      result.insn_count += r.stats.insn_count;
      result.sim_wall_s += r.wall_s;
    } else {
      ++result.failed_by_stage[r.stage];
      ++failed;
    }
    if (write_error.ok()) {
      auto id = store.AddSimResult(row);
      if (!id.ok()) write_error = id.error();
      else row.id = *id;
    }
    if (progress) {
      Progress p;
      p.job = "simulate";
      p.event = "candidate";
      p.done = done + 1;
      p.total = todo.size();
      p.failed = failed;
      double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      p.eta_s = el / (done + 1) * (todo.size() - done - 1);
      p.candidate_id = row.candidate_id;
      p.status = r.status;
      p.stage = r.stage;
      p.message = r.message;
      progress(p);
    }
    result.rows.push_back(std::move(row));
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
