// The store: one SQLite file (default simtune.db) holding every attempt of every stage.
// STRICT tables, PRAGMA user_version = kStoreSchemaVersion, WAL journal. Opening a file with
// another schema version is an error that names both versions. Rows are appended, never
// overwritten: a re-run adds rows, and "latest ok row" queries implement resume.
//
// Tables: workloads, candidates, artifacts, ref_results, sim_results, predictions, tune_runs.
// Version 2 added predictions.unit and tune_runs; a version-1 store is upgraded in place when
// opened read-write, and read as it is (no units, no tune runs) when opened read-only.
// Thread-compatible: one Store per thread (each opens its own connection), or external locking.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "simtune/build.h"
#include "simtune/reference.h"
#include "simtune/result.h"
#include "simtune/workload.h"

namespace simtune {

inline constexpr int kStoreSchemaVersion = 2;

struct WorkloadRow {
  int64_t id = 0;
  std::string key;           // Workload::Key(), parseable by ParseWorkload
};

struct CandidateRow {
  int64_t id = 0;
  int64_t workload_id = 0;
  std::string config;        // canonical FormatConfig text
};

struct ArtifactRow {
  int64_t id = 0;
  int64_t candidate_id = 0;
  Artifact artifact;
  std::string created;       // ISO-8601 UTC
};

struct RefRow {
  int64_t id = 0;
  int64_t candidate_id = 0;
  std::string target;
  std::string reference;     // "native"
  std::string options;       // Reference::options_key()
  std::string artifact_hash;
  RefResult result;
  std::string created;
};

// A simulator run; the statistics record is JSON (schema versioned by the simulators).
struct SimRow {
  int64_t id = 0;
  int64_t candidate_id = 0;
  std::string target;
  std::string simulator;
  std::string options;
  std::string artifact_hash;
  std::string status;        // "ok" | "failed"
  std::string stage;         // failed: "run" | "verify" | "timeout" | "missing-tool" ...
  std::string message;
  std::string stats_json = "{}";
  double wall_s = 0;
  std::string created;
};

struct PredictionRow {
  int64_t id = 0;
  int64_t candidate_id = 0;
  std::string target;
  std::string model;         // model name / file
  double score = 0;          // predicted value (lower is faster)
  std::string unit;          // of score: the reference's unit ("ns", "cycles") when the model
                             // predicts run time, "score" when it only orders; "" unknown
                             // (rows of version-1 stores)
  std::string created;
};

// One point of a tune run's progress: what the tune knew after `simulations` candidates had an
// outcome, `elapsed_s` seconds after it started.
struct TunePoint {
  double elapsed_s = 0;
  int64_t simulations = 0;
  std::string phase;                 // "calibrate" | "search" | "verify"
  double best_predicted = 0;         // lowest score of the current model (NaN: none yet)
  int64_t best_predicted_candidate = 0;
  double best_verified = 0;          // fastest reference result of this run so far (NaN: none)
  int64_t best_verified_candidate = 0;
};

// A finished `simtune tune`: its settings and progress trace.
struct TuneRunRow {
  int64_t id = 0;
  int64_t workload_id = 0;
  std::string target;
  std::string started;               // ISO-8601 UTC
  std::string settings_json = "{}";  // strategy, simulators, predictor, budget, seed, ...
  std::string predicted_unit;        // of best_predicted (PredictionRow::unit)
  std::string verified_unit;         // of best_verified (the reference's)
  std::vector<TunePoint> points;     // in order
  std::string created;               // when it finished
};

// How a command opens its store.
enum class StoreMode {
  kCreate,     // read-write; creates the file and schema when missing (commands that produce rows)
  kExisting,   // read-write; a missing file is an error (commands that read first, then add rows)
  kReadOnly,   // a missing file is an error; nothing is ever written, not even the WAL switch;
               // a store in a read-only folder is read as an immutable snapshot
};

class Store {
 public:
  // Errors: missing file (kExisting, kReadOnly: "store x.db does not exist"), unreadable file,
  // not a simtune store (refused before anything is written to it), schema version mismatch
  // ("store simtune.db has schema version 3; this simtune needs 2"), writes to a read-only store.
  static Result<std::unique_ptr<Store>> Open(const std::filesystem::path& path,
                                             StoreMode mode = StoreMode::kCreate);
  virtual ~Store() = default;

  virtual Result<int64_t> AddWorkload(const Workload& workload) = 0;       // idempotent by Key()
  virtual Result<int64_t> AddCandidate(int64_t workload_id, const std::string& config) = 0;  // idempotent
  virtual Result<std::vector<CandidateRow>> Candidates(int64_t workload_id) = 0;
  virtual Result<std::optional<int64_t>> FindWorkload(const std::string& key) = 0;
  virtual Result<std::vector<WorkloadRow>> Workloads() = 0;                // by id

  virtual Result<int64_t> AddArtifact(int64_t candidate_id, const Artifact& artifact) = 0;
  // Latest row for (candidate, target), any status.
  virtual Result<std::optional<ArtifactRow>> LatestArtifact(int64_t candidate_id,
                                                            const std::string& target) = 0;

  // Results belong to an artifact: a rebuild that changes the artifact's hash (build --force
  // after an edit, a new compiler) makes every result of the old artifact stale. The queries
  // below return current results only, unless asked for all.

  virtual Result<int64_t> AddRefResult(const RefRow& row) = 0;
  // Latest ok row for (candidate, target, reference, options) measured on the artifact with
  // `artifact_hash`; resume skips these.
  virtual Result<std::optional<RefRow>> LatestOkRef(int64_t candidate_id, const std::string& target,
                                                    const std::string& reference,
                                                    const std::string& options,
                                                    const std::string& artifact_hash) = 0;
  // Rows of the workload's candidates on `target`, oldest first. Current rows only (default):
  // those whose artifact_hash is the hash of the candidate's latest artifact row on `target`
  // (rows of candidates without an artifact row on `target` are kept: nothing supersedes them).
  virtual Result<std::vector<RefRow>> RefResults(int64_t workload_id, const std::string& target,
                                                 bool current_only = true) = 0;

  virtual Result<int64_t> AddSimResult(const SimRow& row) = 0;
  virtual Result<std::optional<SimRow>> LatestOkSim(int64_t candidate_id, const std::string& target,
                                                    const std::string& simulator,
                                                    const std::string& options,
                                                    const std::string& artifact_hash) = 0;
  virtual Result<std::vector<SimRow>> SimResults(int64_t workload_id, const std::string& target,
                                                 bool current_only = true) = 0;

  virtual Result<int64_t> AddPrediction(const PredictionRow& row) = 0;
  // Prediction rows of the workload's candidates for `target`, oldest first.
  virtual Result<std::vector<PredictionRow>> Predictions(int64_t workload_id, const std::string& target) = 0;

  virtual Result<int64_t> AddTuneRun(const TuneRunRow& row) = 0;
  // Tune runs of the workload on `target`, oldest first (none in a version-1 store).
  virtual Result<std::vector<TuneRunRow>> TuneRuns(int64_t workload_id, const std::string& target) = 0;

  // Every table as CSV files (one per table, written into `dir`) or as one JSON document
  // {"schema_version": 2, "workloads": [...], "candidates": [...], ...}.
  virtual Status ExportCsv(const std::filesystem::path& dir) = 0;
  virtual Result<std::string> ExportJson() = 0;
};

}  // namespace simtune
