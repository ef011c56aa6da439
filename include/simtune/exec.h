// Executors: run tuning jobs (one candidate: build -> verify -> simulate on each simulator)
// on a pool of local workers or on the ranks of an MPI job. The caller (the tuner) alone
// touches the store; executors only compute.
//
// Lifecycle:
//
//   JobContext (workload, target, simulators, build options) -- the same for every job
//        |
//        v
//   MakeLocalExecutor(context, jobs)  or  MakeMpiExecutor(context)   (MPI rank 0 only)
//        |
//        v
//   Run(jobs, on_result) any number of times; on_result is called on the calling thread,
//        |               once per job, in completion order (not input order)
//        v
//   destructor: joins local threads / tells MPI workers to stop
//
// A job never fails as a whole: a candidate that does not generate, compile, verify, or whose
// simulation crashes or times out comes back as a JobResult whose artifact or sims carry the
// failed stage and the message (so the tuner stores a failed row and goes on).
//
// MPI: every rank runs the same `simtune tune ... --executor mpi` command line. Rank 0 is
// the coordinator: it runs the tuner, sends jobs as JSON strings, receives results as JSON
// strings, and alone writes the store. Ranks >= 1 call RunMpiWorker, which receives the
// context from rank 0, then builds and simulates jobs until told to stop. With one rank
// only, rank 0 runs the jobs itself (one at a time). Artifacts are built into the shared
// cache folder; a rank that needs an ELF it does not see (another machine) rebuilds it from
// the cache's content hash.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/build.h"
#include "simtune/result.h"
#include "simtune/simulator.h"
#include "simtune/target.h"
#include "simtune/workload.h"

namespace simtune {

struct SimulatorSpec {
  std::string name;       // registry name, "qemu"
  std::string options;    // as given to Simulators().Create
};

// What every job of one tuning run shares. Serialisable, so that MPI workers rebuild it.
struct JobContext {
  std::string workload;                    // Workload::Key() or any ParseWorkload text
  std::string target;                      // target name or .json path
  std::vector<SimulatorSpec> simulators;   // each job runs all of them, in this order
  BuildOptions build;                      // cache folder, compiler timeout (jobs is ignored)
  bool verify = true;                      // run the artifact once through the target's runner
  double verify_timeout_s = 60;

  nlohmann::json ToJson() const;
  static Result<JobContext> FromJson(const nlohmann::json& j);
};

struct Job {
  int64_t id = 0;          // the caller's key (the store's candidate id)
  Config config;
};

struct JobResult {
  int64_t id = 0;
  Artifact artifact;                  // failed: stage "generate" | "build" | "run" | "verify" | "timeout"
  std::vector<SimResult> sims;        // one per simulator when the artifact is ok, else empty
  double wall_s = 0;                  // build + verify + simulations
  std::string worker;                 // "local:3", "mpi:2" (for progress and experiments)

  bool ok() const;                    // artifact ok and every simulation ok
  // The first failure's stage ("build", "timeout", ...) or "" when ok().
  std::string failed_stage() const;

  nlohmann::json ToJson() const;
  static Result<JobResult> FromJson(const nlohmann::json& j);
};

// Resolved form of a JobContext: loaded target, parsed workload, created simulators.
// Thread-safe: RunJob may be called from several threads at once.
class JobRunner {
 public:
  // Errors: bad workload or target, unknown simulator, a simulator that does not support
  // the target or whose tools are missing.
  static Result<std::unique_ptr<JobRunner>> Create(const JobContext& context);
  JobResult RunJob(const Job& job) const;
  const Workload& workload() const { return workload_; }
  const Target& target() const { return target_; }

 private:
  JobRunner() = default;
  JobContext context_;
  Workload workload_;
  Target target_;
  std::unique_ptr<SimulatorSet> simulators_;   // one qemu run serves qemu and mca
  BareMetalVerifier bare_metal_verifier_ = BareMetalVerifier::kAuto;
  // Bare metal with the qemu simulator and without Spike: no verification run of its own;
  // the qemu simulator's run of an artifact without verified checksums is a full run through
  // the harness's check, and its verdict is the artifact's (one QEMU start-up and run per
  // candidate instead of two). The qemu simulator's index among the job's simulators.
  std::optional<size_t> verifying_qemu_;
  std::unique_ptr<Builder> builder_;
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual std::string name() const = 0;   // "local" | "mpi"
  virtual int workers() const = 0;        // jobs that run at once
  // Runs every job; returns when all results were delivered to on_result. Errors only for
  // a broken executor (an MPI worker that died), never for a failed candidate.
  Status Run(const std::vector<Job>& jobs, const std::function<void(JobResult)>& on_result) {
    return Run(jobs, on_result, WhileWaiting{});
  }
  // The same, and while it waits for the next result it calls while_waiting.call on the
  // calling thread about every while_waiting.every: the caller serves other work of its own
  // meanwhile (the tuner collects a reference measurement in flight and starts the next one,
  // so that a board is not left idle until the next simulation ends).
  struct WhileWaiting {
    std::function<void()> call;
    std::chrono::milliseconds every{20};
  };
  virtual Status Run(const std::vector<Job>& jobs, const std::function<void(JobResult)>& on_result,
                     const WhileWaiting& while_waiting) = 0;
};

// `jobs` threads (<= 0: number of cores), each running one job at a time; the compilers and
// simulators they start are the process pool.
Result<std::unique_ptr<Executor>> MakeLocalExecutor(const JobContext& context, int jobs);

// MPI. Call MpiInit() first on every rank (it returns this rank and the world size), then
// on rank 0 MakeMpiExecutor and on the others RunMpiWorker; MpiFinalize() at the end on
// every rank. Rank 0 broadcasts the context, so workers need no command-line parsing of
// their own beyond knowing they are workers.
struct MpiWorld {
  int rank = 0;
  int size = 1;
};
Result<MpiWorld> MpiInit();
void MpiFinalize();
Result<std::unique_ptr<Executor>> MakeMpiExecutor(const JobContext& context);
// Worker loop of ranks >= 1; returns 0 after the coordinator's stop message. A worker that
// cannot resolve the context reports why to rank 0 (MakeMpiExecutor then fails with it) and
// waits for the stop. MpiFinalize on rank 0 sends the stop on every path, errors included.
int RunMpiWorker();

}  // namespace simtune
