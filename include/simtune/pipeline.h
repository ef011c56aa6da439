// The jobs: what the `simtune` commands do, as library functions that a test, the TVM runner,
// a notebook (the Python module, python/simtune) or a service calls directly.
//
//   spec/workload --Choose--> candidates --BuildJob--> artifacts --SimulateJob--> statistics
//                                               \--MeasureJob--> reference results
//   store --TrainJob--> model file --PredictJob / VerifyJob--> rankings, verified times
//   store --EvalJob--> predictor metrics;   TuneJob: the search loop over all of the above
//   EstimateJob: executables built elsewhere --> statistics --> predicted times (no store)
//
// Every job has the same shape:
//
//   XJobOptions (plain values, the CLI's flags) --XJob::Prepare--> XJob   every user error
//        |                                                              (bad name, bad value)
//        v                                                              surfaces here, before
//   XJob::Run(Store&, progress) --> XJobResult                          any store is touched
//
// and a one-call form RunX(store, options, progress) = Prepare + Run. Jobs never print: they
// report what happens as it happens through `progress` (called on the calling thread unless
// said otherwise), return what they did as a result struct, and put every attempt in the
// store (failed candidates are rows, not errors). Errors are user or environment errors; a
// job's messages name options by the CLI flag that sets them (`--budget must be at least 1`).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/build.h"
#include "simtune/metrics.h"
#include "simtune/predictor.h"
#include "simtune/reference.h"
#include "simtune/result.h"
#include "simtune/simulator.h"
#include "simtune/store.h"
#include "simtune/target.h"
#include "simtune/training.h"
#include "simtune/workload.h"

namespace simtune::pipeline {

// ---- progress ----

// One event of a running job. Which fields are set depends on `job` and `event`:
//   "candidate"  a candidate finished (build, simulate, tune): candidate_id, config, status,
//                stage, message of it; done/total/failed/eta_s of the job so far. tune adds
//                ran (false: its outcome came from the store), from_store, failed_by_stage,
//                best_score.
//   "measure"    a batch is about to run on the reference: total, reference, reference_options
//   "measured"   reference results of a chunk were stored: done of total
//   "start"      tune: the tune starts its first batch (TuneJob accessors describe it)
//   "searched"   tune: the search ended; verification follows
//   "finished"   simulate: every worker is done (before the result is returned)
struct Progress {
  std::string job;      // "build" | "simulate" | "measure" | "tune"
  std::string event;
  size_t done = 0;
  size_t total = 0;
  size_t failed = 0;
  size_t from_store = 0;
  std::map<std::string, size_t> failed_by_stage;
  double eta_s = 0;
  double best_score = std::numeric_limits<double>::quiet_NaN();
  std::string score_unit;   // of best_score: "ns", "cycles", "score" (an order only), or "" before calibration
  int64_t candidate_id = 0;
  std::string config;
  std::string status;   // "ok" | "failed"
  std::string stage;
  std::string message;
  bool ran = true;
  std::string reference;
  std::string reference_options;
};
using ProgressFn = std::function<void(const Progress&)>;

// ---- choosing candidates of a workload's space ----

struct Selection {
  std::string workload;               // workload string or catalog name
  size_t sample = 0;                  // this many drawn at random (seeded)
  uint64_t seed = 1;
  std::vector<std::string> configs;   // explicit knob assignments, "k=v,..."
  bool all = false;                   // every valid candidate
};

struct Chosen {
  Workload workload;
  std::unique_ptr<Space> space;
  std::vector<Config> configs;
};

// Errors: bad workload, two modes at once, a config that does not parse, and (with
// need_configs) no mode at all.
Result<Chosen> Choose(const Selection& selection, bool need_configs);

// (candidate id, config) of the workload's candidates already in the store. Errors: the
// workload has no candidates there ("run `simtune build` first").
Result<std::vector<std::pair<int64_t, Config>>> StoredCandidates(Store& store, const Chosen& chosen,
                                                                 int64_t* workload_id);

// ---- build: generate, compile, verify; one artifact row per candidate ----

struct BuildJobOptions {
  Selection selection;
  std::string target = "x86_64-host";
  std::string cache = ".simtune-cache";   // artifact cache folder
  int jobs = 0;                           // compiler workers; <= 0: cores
  bool verify = true;                     // run each artifact once through the target's runner
  bool force = false;                     // rebuild candidates with an ok artifact on disk
  // Bare metal: what verifies (kSpike when the spike simulator runs the artifacts next).
  BareMetalVerifier bare_metal_verifier = BareMetalVerifier::kAuto;
};

struct BuiltCandidate {
  int64_t candidate_id = 0;
  std::string config;
  Artifact artifact;
};

struct BuildJobResult {
  std::string workload;                   // Workload::Key()
  std::string target;                     // target name
  std::vector<BuiltCandidate> built;      // built now, in selection order
  size_t ok = 0;                          // built and verified (or built, with --no-verify)
  size_t unverified = 0;                  // built, but nothing could run them to verify
  std::string unverified_reason;          // why ("no runner: spike not found ...")
  size_t cached = 0;                      // of built: from the artifact cache
  size_t skipped = 0;                     // already built (resume)
  std::map<std::string, int> failed_by_stage;
  double wall_s = 0;
};

// Progress: "candidate" per artifact, called on the build worker threads (serialised).
class BuildJob {
 public:
  static Result<BuildJob> Prepare(const BuildJobOptions& options);
  Result<BuildJobResult> Run(Store& store, const ProgressFn& progress = nullptr);

 private:
  BuildJobOptions options_;
  Target target_;
  std::shared_ptr<Chosen> chosen_;
};
Result<BuildJobResult> RunBuild(Store& store, const BuildJobOptions& options,
                                const ProgressFn& progress = nullptr);

// ---- simulate: ROI statistics of every built candidate, one sim_results row each ----

struct SimulateJobOptions {
  std::string workload;
  std::string target = "x86_64-host";
  // A simulator, or several comma-separated ("qemu,mca"): each candidate's simulators run as
  // a SimulatorSet (one qemu run serves qemu and mca), one row each.
  std::string simulator = "qemu";
  std::string simulator_options;          // options of the one simulator (several: none)
  int jobs = 0;                           // parallel simulations; <= 0: cores
  bool force = false;                     // simulate again candidates with current statistics
};

struct SimulateJobResult {
  std::string workload;
  std::string target;
  std::string simulator;                  // as given ("qemu" or "qemu,mca")
  std::vector<SimRow> rows;               // stored now, in completion order
  int jobs = 0;                           // workers used
  size_t skipped = 0;                     // already simulated by every simulator (resume)
  size_t unbuilt = 0;                     // no ok artifact on the target
  // Built, but the executable is gone (the cache pruned or cleared, or a store built on
  // another machine): not simulated; `simtune build` makes it again.
  size_t missing = 0;
  // Stored, but from a configuration the target no longer gives (Simulator::MatchesTarget):
  // simulated again.
  size_t stale = 0;
  std::map<std::string, int> failed_by_stage;
  uint64_t insn_count = 0;                // over the ok simulations
  double sim_wall_s = 0;                  // their simulator wall time, summed
  double wall_s = 0;
};

class SimulateJob {
 public:
  // Errors: target, unknown simulator or options, a simulator that does not support the
  // target or whose tools are missing, bad workload.
  static Result<SimulateJob> Prepare(const SimulateJobOptions& options);
  Result<SimulateJobResult> Run(Store& store, const ProgressFn& progress = nullptr);

 private:
  SimulateJobOptions options_;
  Target target_;
  std::vector<std::string> names_;              // the simulators, in order
  std::shared_ptr<SimulatorSet> simulators_;
  std::shared_ptr<Chosen> chosen_;
};
Result<SimulateJobResult> RunSimulate(Store& store, const SimulateJobOptions& options,
                                      const ProgressFn& progress = nullptr);

// ---- measure / report: reference results, ranked ----

struct MeasureJobOptions {
  std::string workload;
  std::string target = "x86_64-host";
  std::string reference = "native";
  std::string reference_options;
  bool measure = true;       // false: only rank what the store holds (`simtune report`)
  bool force = false;        // measure again candidates that have a current ok result
  size_t sample = 0;         // measure only this many built candidates, a seeded random subset
  uint64_t seed = 1;
};

struct RankedCandidate {
  int64_t candidate_id = 0;
  std::string config;
  RefRow ref;                // latest row of this reference and options
  double flops = 0;          // useful flops of one call (0: unknown)
};

struct MeasureJobResult {
  std::string workload;
  std::string target;
  std::string reference;
  std::string reference_options;   // Reference::options_key()
  size_t measured = 0;             // measured now
  size_t rereduced = 0;            // stored now from earlier runs reduced this reference's way
                                   // (Reference::Rereduce), not run again
  std::string rereduced_from;      // those runs' options key (Reference::rereducible_key())
  size_t missing = 0;              // executable gone (see SimulateJobResult::missing): not measured
  ChunkControlReport control;      // the chunks' controls (reference.h; chunks 0: none taken)
  std::vector<std::string> warnings;   // the reference's for the target (Reference::Warnings), when measured
  std::vector<RankedCandidate> ranked;   // ok, fastest first
  std::vector<RankedCandidate> failed;   // latest row failed, by candidate id
};

class MeasureJob {
 public:
  static Result<MeasureJob> Prepare(const MeasureJobOptions& options);
  // Progress: "measure" before the batch runs, "measured" per stored chunk of kMeasureChunk.
  Result<MeasureJobResult> Run(Store& store, const ProgressFn& progress = nullptr);

 private:
  MeasureJobOptions options_;
  Target target_;
  std::shared_ptr<Reference> reference_;
  std::shared_ptr<Chosen> chosen_;
};
Result<MeasureJobResult> RunMeasure(Store& store, const MeasureJobOptions& options,
                                    const ProgressFn& progress = nullptr);

// ---- dataset: a training corpus, many workloads x targets (build + simulate + measure) ----

struct DatasetJobOptions {
  std::vector<std::string> workloads;     // keys or catalog names; empty: every "corpus." entry
  std::vector<std::string> targets = {"x86_64-host"};   // reference targets
  size_t sample = 32;                     // seeded random candidates per workload (a prefix of a
  uint64_t seed = 1;                      //   larger --sample with the same seed: grows)
  // Simulators run on each target: empty = the target file's own. Entries "SIM@TARGET" run SIM
  // on TARGET's build of the same candidates (qemu@riscv64-linux beside Spike on an rvsim
  // target); eval joins them to the reference through --ref-target.
  std::vector<std::string> simulators;
  std::vector<std::string> also;          // more "SIM@TARGET" for every target
  std::string reference_options;          // merged over the target's own (rvsim: verify=off)
  std::string cache = ".simtune-cache";
  int jobs = 0;                           // build and simulation workers; <= 0: cores
};

// One step of the plan: build, simulate or measure one workload on one target.
struct DatasetStep {
  std::string workload;                   // Workload::Key()
  std::string catalog_name;               // or ""
  std::string target;                     // the target it runs on
  std::string kind;                       // "build" | "simulate" | "measure"
  std::string tool;                       // simulator or reference name ("" for build)
};

struct DatasetCount {
  std::string workload;                   // Workload::Key()
  std::string target;                     // reference target
  size_t built_ok = 0;                    // of the sample, with an ok artifact
  size_t measured_ok = 0;                 // with an ok reference result
  size_t new_rows = 0;                    // rows this run added (build + simulate + measure)
  size_t failed = 0;                      // failures this run (any stage)
};

struct DatasetJobResult {
  std::vector<DatasetCount> counts;       // one per (workload, target), in plan order
  size_t steps = 0;
  double wall_s = 0;
};

// Progress: "step" before each step (done = steps finished, total = all steps, message = what
// the step is, eta_s from the steps so far); "stepped" after it (message: what it did).
class DatasetJob {
 public:
  // Errors: no target, unknown targets, workloads, simulators (naming the target), a simulator
  // a target does not list, bad "SIM@TARGET", --sample 0; all before any work.
  static Result<DatasetJob> Prepare(const DatasetJobOptions& options);
  Result<DatasetJobResult> Run(Store& store, const ProgressFn& progress = nullptr);
  const std::vector<DatasetStep>& plan() const { return plan_; }

 private:
  DatasetJobOptions options_;
  std::vector<DatasetStep> plan_;
};
Result<DatasetJobResult> RunDataset(Store& store, const DatasetJobOptions& options,
                                    const ProgressFn& progress = nullptr);

// ---- train / predict / verify / eval: from stored statistics and reference results ----

// Which data: simulators' statistics (features), reference results (truth), workloads.
struct DataOptions {
  std::string target = "x86_64-host";   // target the candidates were simulated for
  std::string simulators = "qemu";      // comma-separated
  std::string reference = "native";
  std::string ref_target;               // empty: target
  std::string ref_options;              // empty: latest ok row of any options
  std::vector<std::string> workloads;   // keys or catalog names; empty: every workload stored
  bool knobs = false;                   // knob values as features
  bool shape = true;                    // the workload's shape features
  bool shape_params = false;            // the operator's own shape parameters
  bool relative = true;                 // per-workload relative features
};

// The DataSpec of these options. Errors: an empty or repeated simulator name, bad
// reference options.
Result<DataSpec> MakeDataSpec(const DataOptions& options);

// The unit of the reference results the spec reads for a workload ("ns", "cycles"; "" when
// it has none).
Result<std::string> ReferenceUnit(Store& store, int64_t workload_id, const DataSpec& spec);

// Metrics of one workload's candidates.
struct WorkloadScore {
  std::string workload;
  WorkloadMetrics metrics;
};

struct TrainJobOptions {
  DataOptions data;
  std::string predictor = "xgb-rank";
  std::string predictor_options;
  std::string out = "model.json";       // trained-model file to write; empty: none
};

struct TrainJobResult {
  std::string predictor;
  std::string predictor_options;        // Predictor::options()
  DataSpec data;
  std::string unit;                     // of the model's predictions: "ns", "cycles" or "score"
  int64_t rows = 0;                     // measured candidates trained on
  int64_t features = 0;
  std::vector<std::string> workloads;   // their keys
  nlohmann::json chosen;                // hyper-parameters chosen by cross-validation, or null
  std::vector<WorkloadScore> in_sample; // fit on the training rows (not a generalisation estimate)
  size_t missing_sims = 0;              // candidates left out: a simulator's statistics missing
  size_t stale_sims = 0;                // left out: statistics from another target configuration
  std::shared_ptr<Predictor> model;     // the fitted predictor
};

class TrainJob {
 public:
  static Result<TrainJob> Prepare(const TrainJobOptions& options);
  Result<TrainJobResult> Run(Store& store);

 private:
  TrainJobOptions options_;
  DataSpec spec_;
  std::shared_ptr<Predictor> predictor_;
};
Result<TrainJobResult> RunTrain(Store& store, const TrainJobOptions& options);

struct PredictJobOptions {
  std::string model;                    // trained-model file (`simtune train`)
  std::string workload;
};

struct PredictedCandidate {
  int64_t candidate_id = 0;
  std::string config;
  double score = 0;                     // lower is faster
  std::optional<double> measured;       // its reference result, when measured
};

struct PredictJobResult {
  std::string workload;
  std::string model;                    // the file
  std::string predictor;                // its predictor's name
  std::string target;                   // the reference target the scores are for
  bool predicts_time = false;           // score is a time (else only an order)
  std::string unit;                     // of score: "ns", "cycles", or "score" (only an order)
  std::vector<std::string> simulators;  // whose statistics the model reads
  std::vector<PredictedCandidate> ranking;   // best first
  size_t missing_sims = 0;              // candidates not ranked: statistics missing
  // The model was not trained on statistics like these (ConfigurationWarnings).
  std::vector<std::string> warnings;
};

// Ranks a workload's simulated candidates and stores one prediction row per candidate.
class PredictJob {
 public:
  static Result<PredictJob> Prepare(const PredictJobOptions& options);
  Result<PredictJobResult> Run(Store& store);

 private:
  PredictJobOptions options_;
  std::shared_ptr<TrainedModel> model_;
};
Result<PredictJobResult> RunPredict(Store& store, const PredictJobOptions& options);

struct VerifyJobOptions {
  std::string model;
  std::string workload;
  std::string ref_options;
  int k = 5;                            // how many of the best predicted to measure
};

struct VerifiedCandidate {
  int64_t candidate_id = 0;
  std::string config;
  double score = 0;
  RefResult result;                     // measured now
  std::optional<double> measured_before;
};

struct VerifyJobResult {
  std::string workload;
  std::string target;
  std::string reference_options;        // Reference::options_key()
  std::string unit;                     // of the predicted scores: "ns", "cycles" or "score"
  size_t candidates = 0;                // ranked
  size_t measured_before = 0;           // of them, with a reference result before this run
  // The k best predicted (best first), then, when not among them, the best candidate measured
  // before (the control, re-measured in the same rounds).
  std::vector<VerifiedCandidate> verified;
  size_t k = 0;                         // verified[0, k) are the predicted ones
  int best = -1;                        // index into verified of the fastest ok of the k; -1: none
  int control = -1;                     // index into verified of the control; -1: none
  // The model was not trained on statistics like these (ConfigurationWarnings).
  std::vector<std::string> warnings;
};

// Measures the k best predicted of a workload together, with the best measured before as a
// control. Every verified candidate failing is not an error here (best = -1).
class VerifyJob {
 public:
  static Result<VerifyJob> Prepare(const VerifyJobOptions& options);
  Result<VerifyJobResult> Run(Store& store);

 private:
  VerifyJobOptions options_;
  std::shared_ptr<TrainedModel> model_;
  Target target_;
  std::shared_ptr<Reference> reference_;
};
Result<VerifyJobResult> RunVerify(Store& store, const VerifyJobOptions& options);

struct EvalJobOptions {
  DataOptions data;
  std::string predictors = "all";       // 'all' or "name[:options]", comma-separated (SplitList)
  std::string protocols = "kfold,lowo";
  int folds = 5;
  uint64_t seed = 0;
  int verify_k = 5;
  std::string ref_repeat;               // options of a second, independent reference measurement
  // Score only these workloads (keys or catalog names; empty: every one). All the data still
  // trains: leave-one-workload-out fits each of them on every other workload.
  std::vector<std::string> score_workloads;
};

struct EvalRun {
  std::string predictor;                // "ref-again" for the reference-repeat row
  std::string options;
  std::string protocol;                 // "kfold" | "lowo" | "-"
  std::string skipped;                  // why it did not run (lowo with one workload)
  std::string error;                    // why it failed
  std::vector<WorkloadScore> per_workload;
  MetricsSummary summary;
  OutOfFold out_of_fold;                // predictor runs: every candidate's held-out score,
                                        // in the order of EvalJobResult::candidates
};

// A measured candidate of the evaluation data (a row of its Dataset).
struct EvalCandidate {
  int64_t candidate_id = 0;
  std::string workload;                 // key
  std::string config;
  double measured = 0;                  // reference result, in EvalJobResult::measured_unit
};

struct EvalJobResult {
  DataSpec data;
  int64_t rows = 0;
  int64_t features = 0;
  std::vector<std::string> feature_names;
  std::vector<std::string> workloads;
  std::map<std::string, double> reference_spread;   // workload -> median round spread
  std::vector<EvalCandidate> candidates;            // the rows, in Dataset order
  std::string measured_unit;                        // the reference's ("ns", "cycles")
  std::vector<EvalRun> runs;            // the reference repeat first, then predictor x protocol
  size_t failures = 0;                  // runs with an error
  size_t stale_sims = 0;                // left out: statistics from another target configuration
  // The `eval --json` document; each predictor run carries "predictions": the out-of-fold
  // prediction of every candidate, with "prediction_unit" (measured_unit when the predictor
  // predicts run time, else "score").
  nlohmann::json ToJson(const EvalJobOptions& options) const;
};

class EvalJob {
 public:
  static Result<EvalJob> Prepare(const EvalJobOptions& options);
  Result<EvalJobResult> Run(Store& store);

 private:
  EvalJobOptions options_;
  DataSpec spec_;
  std::vector<std::pair<std::string, std::string>> predictors_;
  std::vector<std::string> protocols_;
};
Result<EvalJobResult> RunEval(Store& store, const EvalJobOptions& options);

// ---- tune: the search loop (see src/pipeline/tune.cc for the phases and resume) ----

struct TuneJobOptions {
  std::string workload;
  // What drives the strategy:
  //   "simulate"   (default) every candidate is built and simulated in parallel, the model
  //                predicts its run time, the strategy learns from the predictions, and the
  //                top verify_top predicted are measured on the reference at the end;
  //   "reference"  measure every trial: each candidate is built (and verified) in parallel,
  //                then measured on the reference one at a time (a board is one device), and
  //                the strategy learns from the measurements. No simulator, model or
  //                calibration; verify_top only says how many of the fastest to list.
  std::string drive = "simulate";
  std::string target = "x86_64-host";
  size_t budget = 0;                       // candidates to build and simulate, calibration included
  double time_budget_s = 0;                // stop proposing after this long; 0: no limit
  std::string strategy = "evolutionary";
  std::string strategy_options;
  std::string simulators;                  // comma-separated; empty: the target's first
  std::vector<std::string> simulator_options;   // "OPTS" (one simulator) or "SIM:OPTS"
  std::string predictor = "ridge";         // calibrated when no model is given
  std::string predictor_options;
  std::string model;                       // a trained model file: no calibration
  bool shipped_model = true;               // no model given: use the target's shipped model,
                                           // data/models/<target>.json, when there is one
  std::string save_model;                  // write the final (refit) model here
  std::string reference;                   // empty: the target's first
  std::string reference_options;
  int verify_top = 5;                      // measure the k best predicted (CLI: --top)
  // Drive "simulate": the reference (a board: one device, idle while the simulators search)
  // measures, whenever it is idle and a candidate has just been simulated (and at the end of
  // each batch), the best predicted candidate it has not measured yet (one of
  // the current top verify_top, on a thread of its own, one at a time), so that a good
  // candidate is verified while the search goes on; the final verification reuses these
  // measurements and lists every candidate measured. Meant for a reference that is not this
  // machine (rvsim, ssh): a native reference would time candidates under the simulators' load.
  bool verify_during_search = false;
  int calibrate = 10;                      // candidates measured to calibrate the predictor
  size_t batch = 16;                       // candidates proposed per round
  uint64_t seed = 1;
  std::string executor = "local";          // "local" | "mpi" (rank 0 of an MPI job)
  int jobs = 0;                            // local workers; <= 0: cores
  std::string cache = ".simtune-cache";
  bool verify = true;                      // run each artifact once through the target's runner
  double verify_timeout_s = 60;
  double build_timeout_s = 120;
};

struct TunedCandidate {
  int64_t candidate_id = 0;
  std::string config;
  double score = 0;                        // predicted by the model the search ranked with
  size_t predicted_rank = 0;               // 1 = best predicted
  std::optional<RefResult> measured;       // verified: the ok reference result
};

struct TuneJobResult {
  std::string drive;                       // "simulate" | "reference" (TuneJobOptions::drive)
  std::string workload;
  std::string target;
  std::string strategy;
  std::string simulators;                  // as given
  std::string executor;
  int workers = 0;
  size_t attempted = 0;                    // candidates with an outcome (<= budget)
  size_t from_store = 0;                   // of them, answered from the store (resume)
  size_t ran = 0;                          // of them, run now
  std::map<std::string, size_t> failed_by_stage;
  double search_s = 0;
  bool stopped_by_time = false;
  bool calibrated = false;                 // no model was given or shipped
  std::string model;                       // the model file ranked with (given or shipped); "": calibrated
  size_t calibration_rows = 0;             // the model was fit on these
  size_t calibration_candidates = 0;       // chosen from the pool
  std::string calibration_simulator;       // the pool was stratified by its instruction count
  std::string predictor;
  std::string score_unit;                  // of the scores: "ns"/"cycles" (a predicted time), "score"
                                           // (an order only), "unknown" (a model file without it)
  std::string reference;
  std::string reference_options;
  std::vector<TunedCandidate> ranking;     // every ok candidate, best predicted first (drive
                                           // "reference": every measured one, fastest first,
                                           // score = the measurement)
  std::vector<TunedCandidate> verified;    // the top verify_top of ranking, measured
  size_t measured = 0;                     // reference runs made now (drive "reference": one
                                           // per ok candidate not already in the store)
  int best = -1;                           // index into verified of the fastest ok; -1: none
};

// Progress: "start", then "candidate" per candidate (on the calling thread), "measure" before
// each reference batch, "searched" when verification begins.
class TuneJob {
 public:
  // Errors: every bad option (names, values, model file, simulators' tools, executor).
  static Result<std::unique_ptr<TuneJob>> Prepare(const TuneJobOptions& options);
  ~TuneJob();
  // Once per job.
  Result<TuneJobResult> Run(Store& store, const ProgressFn& progress = nullptr);

  const std::string& workload() const;     // Workload::Key()
  // Found by Prepare: a --model trained on another target, reference or simulators than this
  // tune's (ModelMismatchWarnings), or whose file records none of them.
  const std::vector<std::string>& warnings() const;
  const std::string& target() const;       // target name
  const std::string& executor() const;
  int workers() const;

 private:
  class Tuner;
  explicit TuneJob(std::unique_ptr<Tuner> tuner);
  std::unique_ptr<Tuner> tuner_;
};
Result<TuneJobResult> RunTune(Store& store, const TuneJobOptions& options,
                              const ProgressFn& progress = nullptr);

// ---- estimate: executables built outside simtune (harness contract of build.h) ----

struct EstimateJobOptions {
  std::vector<std::string> elfs;
  std::string workload;                  // what they implement (shape features, flops)
  std::string target;                    // empty: the model's
  std::string simulators;                // comma-separated; empty: the model's, else qemu
  std::string model;                     // `simtune train --no-rel` file; empty: the
                                         // instruction-count baseline of the first simulator
  double flops = 0;                      // useful flops of one call; 0: from the workload
  double clock_hz = 0;                   // turns a cycle-predicting model's output into seconds
  std::string db;                        // store the model was trained from (restores the
                                         // workload's scale); opened read-only; empty: none
  int jobs = 0;                          // parallel simulations; <= 0: cores
  // Reference measurements (the TVM runner's calibration, the TVM dataset): the executables
  // at the indices in `measure` (into elfs) are also measured on `reference` (default: the
  // target's first reference) with `reference_options` merged over the target's defaults.
  // An executable that failed simulation is not measured (a wrong kernel is never timed).
  std::vector<int> measure;
  int measure_top = 0;                   // and the `measure_top` best predicted ok ones
  std::string reference;
  std::string reference_options;
  // A store to record the executables in (created when missing): each becomes a candidate
  // of `workload` with config "external:<label>" (labels[i], default the first 16 hex digits
  // of the ELF's SHA-256), with an artifact row (the ELF's path and hash), one simulation row
  // per simulator and a reference row per measurement, as simtune's own candidates. Resume:
  // a simulation or measurement the store already holds ok for the same ELF hash and options
  // is reused, not repeated. Opposite to `db` (read-only model scale), this one is written.
  std::string store;
  std::vector<std::string> labels;       // empty or one per executable
};

struct Estimate {
  std::string elf;                       // absolute path
  std::string status = "ok";             // "ok" | "failed"
  std::string stage, message;
  std::map<std::string, SimResult> results;   // simulator -> its run
  double predicted = 0;                  // in `unit`
  double predicted_s = 0;                // seconds; for a score, 1e-9 * exp(score) (keeps the order)
  std::optional<RefResult> measured;     // when asked for (EstimateJobOptions::measure)
  bool reused = false;                   // statistics (and measurement) came from the store
  int64_t candidate_id = 0;              // the store's candidate (EstimateJobOptions::store)
};

struct EstimateJobResult {
  std::string target;
  std::string workload;
  double flops = 0;
  std::vector<std::string> simulators;
  std::string model;                     // the file, or "insn-count baseline (qemu.log_insn)"
  std::string unit;                      // "ns" | "cycles" | "score"
  std::string reference;                 // the reference measured on ("" when none)
  std::string reference_options;         // its options key
  double reference_wall_s = 0;           // wall time of the measurements (not simulations)
  std::vector<Estimate> estimates;       // one per executable, in order, failures included
  std::map<std::string, int> failed_by_stage;
  nlohmann::json ToJson() const;         // the `estimate --json` document
};

// No store: every executable is simulated and scored on its own. Errors are user errors
// (options, model, files that are not ELF); a failed simulation is a failed Estimate.
Result<EstimateJobResult> RunEstimate(const EstimateJobOptions& options);

// ---- the store as one table: a row per candidate (the Python module's DataFrame) ----

struct TableOptions {
  std::string target = "x86_64-host";   // artifacts, statistics, results and predictions on it
  std::vector<std::string> workloads;   // keys or catalog names; empty: every workload stored
};

// One candidate with what the store knows of it on the target. Column names:
//   numbers: "knob.<name>" (knob value), "flops", "<simulator>.<statistic>" (the numeric
//            leaves of the latest current ok statistics, nested keys joined by '.'),
//            "<reference>.value" / ".spread" (latest current ok result), "pred.<model>"
//            (latest prediction of each model)
//   texts:   "build.status", "build.stage", "<simulator>.status", "<reference>.status",
//            "<reference>.unit", "<reference>.options" (latest rows, any status),
//            "pred.<model>.unit" (the unit of that model's prediction; "" when unknown)
struct CandidateRecord {
  int64_t candidate_id = 0;
  std::string workload;                  // Workload::Key()
  std::string config;
  std::map<std::string, double> numbers;
  std::map<std::string, std::string> texts;
};

// Errors: a workload that does not parse or is not in the store, store errors.
Result<std::vector<CandidateRecord>> LoadCandidateTable(Store& store, const TableOptions& options);

// The records as one tidy CSV table (RFC 4180, CRLF), a row per candidate: "candidate_id",
// "workload", "target", "config", then the union of the records' columns: knob.* (by name),
// "flops", "build.status", "build.stage", then the simulators' and references' columns (by
// name), then pred.* (by name). A column a record lacks is an empty cell. Numbers are written
// in their shortest exact form.
std::string CandidateTableCsv(const std::vector<CandidateRecord>& records, const std::string& target);

}  // namespace simtune::pipeline
