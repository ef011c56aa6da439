// Store on one SQLite file. See include/simtune/store.h for the contract.
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>
#include <utility>

#include "simtune/csv.h"
#include "simtune/store.h"
#include "simtune/strings.h"
#include "sqlite_db.h"

namespace simtune {
namespace {

using store::Database;
using store::Statement;
using store::Transaction;

// Several processes (parallel tuning, MPI ranks) may write at once; a writer waits this long
// for the lock before giving up with "database is locked".
constexpr int kBusyTimeoutMs = 10000;

#define SIMTUNE_CREATED " created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
#define SIMTUNE_STATUS " status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),"

// Version 1; kUpgradeTo2 turns it into version 2. Any change needs kStoreSchemaVersion bumped
// and an upgrade step, so that older stores keep opening.
constexpr const char* kSchema =
    "CREATE TABLE workloads ("
    " id INTEGER PRIMARY KEY,"
    " key TEXT UNIQUE NOT NULL,"
    " op TEXT NOT NULL,"
    " shape_json TEXT NOT NULL,"
    " catalog_name TEXT NOT NULL,"
    SIMTUNE_CREATED
    ") STRICT;"
    "CREATE TABLE candidates ("
    " id INTEGER PRIMARY KEY,"
    " workload_id INTEGER NOT NULL REFERENCES workloads(id),"
    " config TEXT NOT NULL,"
    SIMTUNE_CREATED ","
    " UNIQUE (workload_id, config)"
    ") STRICT;"
    "CREATE TABLE artifacts ("
    " id INTEGER PRIMARY KEY,"
    " candidate_id INTEGER NOT NULL REFERENCES candidates(id),"
    " target TEXT NOT NULL,"
    " hash TEXT NOT NULL,"
    " elf_path TEXT NOT NULL,"
    SIMTUNE_STATUS
    " stage TEXT NOT NULL,"
    " message TEXT NOT NULL,"
    " build_log TEXT NOT NULL,"
    " build_s REAL,"
    " cached INTEGER NOT NULL CHECK (cached IN (0, 1)),"
    " flops REAL,"
    SIMTUNE_CREATED
    ") STRICT;"
    "CREATE INDEX artifacts_latest ON artifacts (candidate_id, target);"
    "CREATE TABLE ref_results ("
    " id INTEGER PRIMARY KEY,"
    " candidate_id INTEGER NOT NULL REFERENCES candidates(id),"
    " target TEXT NOT NULL,"
    " reference TEXT NOT NULL,"
    " options TEXT NOT NULL,"
    " artifact_hash TEXT NOT NULL,"
    SIMTUNE_STATUS
    " stage TEXT NOT NULL,"
    " message TEXT NOT NULL,"
    " unit TEXT NOT NULL,"
    " value REAL,"
    " min REAL,"
    " median REAL,"
    " max REAL,"
    " spread REAL,"
    " rounds INTEGER NOT NULL,"
    " reps INTEGER NOT NULL,"
    " extra_json TEXT NOT NULL,"
    SIMTUNE_CREATED
    ") STRICT;"
    "CREATE INDEX ref_results_latest"
    " ON ref_results (candidate_id, target, reference, options, status);"
    "CREATE TABLE sim_results ("
    " id INTEGER PRIMARY KEY,"
    " candidate_id INTEGER NOT NULL REFERENCES candidates(id),"
    " target TEXT NOT NULL,"
    " simulator TEXT NOT NULL,"
    " options TEXT NOT NULL,"
    " artifact_hash TEXT NOT NULL,"
    SIMTUNE_STATUS
    " stage TEXT NOT NULL,"
    " message TEXT NOT NULL,"
    " stats_json TEXT NOT NULL,"
    " wall_s REAL,"
    SIMTUNE_CREATED
    ") STRICT;"
    "CREATE INDEX sim_results_latest"
    " ON sim_results (candidate_id, target, simulator, options, status);"
    "CREATE TABLE predictions ("
    " id INTEGER PRIMARY KEY,"
    " candidate_id INTEGER NOT NULL REFERENCES candidates(id),"
    " target TEXT NOT NULL,"
    " model TEXT NOT NULL,"
    " score REAL,"
    SIMTUNE_CREATED
    ") STRICT;"
    "CREATE INDEX predictions_candidate ON predictions (candidate_id, target, model);";

// Version 2: the unit of a prediction, and the tune runs with their progress trace.
constexpr const char* kUpgradeTo2 =
    "ALTER TABLE predictions ADD COLUMN unit TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE tune_runs ("
    " id INTEGER PRIMARY KEY,"
    " workload_id INTEGER NOT NULL REFERENCES workloads(id),"
    " target TEXT NOT NULL,"
    " started TEXT NOT NULL,"
    " settings_json TEXT NOT NULL,"
    " predicted_unit TEXT NOT NULL,"
    " verified_unit TEXT NOT NULL,"
    " points_json TEXT NOT NULL,"
    SIMTUNE_CREATED
    ") STRICT;"
    "CREATE INDEX tune_runs_workload ON tune_runs (workload_id, target);";

#undef SIMTUNE_CREATED
#undef SIMTUNE_STATUS

// Export order; parents before children.
constexpr const char* kTables[] = {"workloads",   "candidates",  "artifacts",  "ref_results",
                                   "sim_results", "predictions", "tune_runs"};

constexpr const char* kArtifactColumns =
    "id, candidate_id, target, hash, elf_path, status, stage, message, build_log, build_s,"
    " cached, flops, created";
constexpr const char* kRefColumns =
    "r.id, r.candidate_id, r.target, r.reference, r.options, r.artifact_hash, r.status,"
    " r.stage, r.message, r.unit, r.value, r.min, r.median, r.max, r.spread, r.rounds, r.reps,"
    " r.extra_json, r.created";
constexpr const char* kSimColumns =
    "r.id, r.candidate_id, r.target, r.simulator, r.options, r.artifact_hash, r.status,"
    " r.stage, r.message, r.stats_json, r.wall_s, r.created";

// A result row `r` is current when it was taken on the candidate's latest artifact for its
// target, or when that candidate has no artifact row on the target at all.
constexpr const char* kCurrentArtifact =
    " AND COALESCE((SELECT a.hash FROM artifacts a WHERE a.candidate_id = r.candidate_id"
    " AND a.target = r.target ORDER BY a.id DESC LIMIT 1), r.artifact_hash) = r.artifact_hash";

ArtifactRow ReadArtifact(const Statement& s) {
  ArtifactRow row;
  row.id = s.Int(0);
  row.candidate_id = s.Int(1);
  Artifact& a = row.artifact;
  a.target = s.Text(2);
  a.hash = s.Text(3);
  a.elf = s.Text(4);
  a.status = s.Text(5);
  a.stage = s.Text(6);
  a.message = s.Text(7);
  a.build_log = s.Text(8);
  a.build_s = s.Real(9);
  a.cached = s.Int(10) != 0;
  a.flops = s.Real(11);
  row.created = s.Text(12);
  return row;
}

RefRow ReadRef(const Statement& s) {
  RefRow row;
  row.id = s.Int(0);
  row.candidate_id = s.Int(1);
  row.target = s.Text(2);
  row.reference = s.Text(3);
  row.options = s.Text(4);
  row.artifact_hash = s.Text(5);
  RefResult& r = row.result;
  r.status = s.Text(6);
  r.stage = s.Text(7);
  r.message = s.Text(8);
  r.unit = s.Text(9);
  r.value = s.Real(10);
  r.min = s.Real(11);
  r.median = s.Real(12);
  r.max = s.Real(13);
  r.spread = s.Real(14);
  r.rounds = static_cast<int>(s.Int(15));
  r.reps = static_cast<int>(s.Int(16));
  r.extra_json = s.Text(17);
  row.created = s.Text(18);
  return row;
}

SimRow ReadSim(const Statement& s) {
  SimRow row;
  row.id = s.Int(0);
  row.candidate_id = s.Int(1);
  row.target = s.Text(2);
  row.simulator = s.Text(3);
  row.options = s.Text(4);
  row.artifact_hash = s.Text(5);
  row.status = s.Text(6);
  row.stage = s.Text(7);
  row.message = s.Text(8);
  row.stats_json = s.Text(9);
  row.wall_s = s.Real(10);
  row.created = s.Text(11);
  return row;
}

// JSON columns are embedded as objects in ExportJson, so reject what would not parse there.
Status CheckJson(const std::string& text, const std::string& what) {
  if (!nlohmann::json::accept(text)) {
    std::string shown = text.size() > 60 ? text.substr(0, 60) + "..." : text;
    return Error{what + " is not valid JSON; got '" + shown + "'"};
  }
  return Status::Ok();
}

std::string CellText(const Statement& s, int col) {
  switch (s.ColumnType(col)) {
    case SQLITE_NULL:
      return "";
    case SQLITE_INTEGER:
      return std::to_string(s.Int(col));
    case SQLITE_FLOAT:
      return ShortestReal(s.Real(col));
    default:
      return s.Text(col);
  }
}

// NaN (nothing yet) is null in JSON.
nlohmann::json NumberOrNull(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }
double NumberOrNaN(const nlohmann::json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

std::string PointsJson(const std::vector<TunePoint>& points) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : points)
    out.push_back({{"elapsed_s", p.elapsed_s},
                   {"simulations", p.simulations},
                   {"phase", p.phase},
                   {"best_predicted", NumberOrNull(p.best_predicted)},
                   {"best_predicted_candidate", p.best_predicted_candidate},
                   {"best_verified", NumberOrNull(p.best_verified)},
                   {"best_verified_candidate", p.best_verified_candidate}});
  return out.dump();
}

Result<std::vector<TunePoint>> ParsePoints(const std::string& text, const std::string& where) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return Error{where + ": points_json is not a JSON array"};
  std::vector<TunePoint> out;
  for (const auto& e : j) {
    if (!e.is_object()) return Error{where + ": points_json holds a non-object"};
    TunePoint p;
    p.elapsed_s = e.value("elapsed_s", 0.0);
    p.simulations = e.value("simulations", int64_t{0});
    p.phase = e.value("phase", std::string());
    p.best_predicted = NumberOrNaN(e.value("best_predicted", nlohmann::json()));
    p.best_predicted_candidate = e.value("best_predicted_candidate", int64_t{0});
    p.best_verified = NumberOrNaN(e.value("best_verified", nlohmann::json()));
    p.best_verified_candidate = e.value("best_verified_candidate", int64_t{0});
    out.push_back(p);
  }
  return out;
}

bool IsJsonColumn(const std::string& name) {
  return name.size() > 5 && name.compare(name.size() - 5, 5, "_json") == 0;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(std::unique_ptr<Database> db, int version) : db_(std::move(db)), version_(version) {}

  Result<int64_t> AddWorkload(const Workload& workload) override {
    std::string key = workload.Key();
    nlohmann::ordered_json shape = nlohmann::ordered_json::object();
    for (const auto& [name, value] : workload.shape) shape[name] = value;
    SIMTUNE_ASSIGN_OR_RETURN(Transaction tx, Transaction::Immediate(*db_));
    SIMTUNE_ASSIGN_OR_RETURN(std::optional<int64_t> existing, FindWorkload(key));
    if (existing) return *existing;
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement insert,
        db_->Prepare("add workload " + key,
                     "INSERT INTO workloads (key, op, shape_json, catalog_name)"
                     " VALUES (?1, ?2, ?3, ?4)"));
    insert.BindAll(key, workload.op, shape.dump(), workload.catalog_name);
    SIMTUNE_RETURN_IF_ERROR(insert.Run());
    int64_t id = db_->LastInsertId();
    SIMTUNE_RETURN_IF_ERROR(tx.Commit());
    return id;
  }

  Result<int64_t> AddCandidate(int64_t workload_id, const std::string& config) override {
    SIMTUNE_ASSIGN_OR_RETURN(Transaction tx, Transaction::Immediate(*db_));
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement find, db_->Prepare("find candidate",
                                     "SELECT id FROM candidates"
                                     " WHERE workload_id = ?1 AND config = ?2"));
    find.BindAll(workload_id, config);
    SIMTUNE_ASSIGN_OR_RETURN(bool found, find.Step());
    if (found) return find.Int(0);
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement insert,
        db_->Prepare("add candidate '" + config + "' to workload " + std::to_string(workload_id),
                     "INSERT INTO candidates (workload_id, config) VALUES (?1, ?2)"));
    insert.BindAll(workload_id, config);
    SIMTUNE_RETURN_IF_ERROR(insert.Run());
    int64_t id = db_->LastInsertId();
    SIMTUNE_RETURN_IF_ERROR(tx.Commit());
    return id;
  }

  Result<std::vector<CandidateRow>> Candidates(int64_t workload_id) override {
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement select, db_->Prepare("list candidates",
                                       "SELECT id, workload_id, config FROM candidates"
                                       " WHERE workload_id = ?1 ORDER BY id"));
    select.BindAll(workload_id);
    std::vector<CandidateRow> rows;
    for (;;) {
      SIMTUNE_ASSIGN_OR_RETURN(bool more, select.Step());
      if (!more) return rows;
      rows.push_back(CandidateRow{select.Int(0), select.Int(1), select.Text(2)});
    }
  }

  Result<std::vector<WorkloadRow>> Workloads() override {
    SIMTUNE_ASSIGN_OR_RETURN(Statement select,
                             db_->Prepare("list workloads", "SELECT id, key FROM workloads ORDER BY id"));
    std::vector<WorkloadRow> rows;
    for (;;) {
      SIMTUNE_ASSIGN_OR_RETURN(bool more, select.Step());
      if (!more) return rows;
      rows.push_back(WorkloadRow{select.Int(0), select.Text(1)});
    }
  }

  Result<std::optional<int64_t>> FindWorkload(const std::string& key) override {
    SIMTUNE_ASSIGN_OR_RETURN(Statement select,
                             db_->Prepare("find workload " + key,
                                          "SELECT id FROM workloads WHERE key = ?1"));
    select.BindAll(key);
    SIMTUNE_ASSIGN_OR_RETURN(bool found, select.Step());
    if (!found) return std::optional<int64_t>();
    return std::optional<int64_t>(select.Int(0));
  }

  Result<int64_t> AddArtifact(int64_t candidate_id, const Artifact& a) override {
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement insert,
        db_->Prepare("add artifact",
                     "INSERT INTO artifacts (candidate_id, target, hash, elf_path, status, stage,"
                     " message, build_log, build_s, cached, flops)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
    insert.BindAll(candidate_id, a.target, a.hash, a.elf.string(), a.status, a.stage,
                   a.message, a.build_log, a.build_s, a.cached, a.flops);
    return Insert(insert);
  }

  Result<std::optional<ArtifactRow>> LatestArtifact(int64_t candidate_id,
                                                    const std::string& target) override {
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement select,
        db_->Prepare("latest artifact", std::string("SELECT ") + kArtifactColumns +
                                            " FROM artifacts WHERE candidate_id = ?1"
                                            " AND target = ?2 ORDER BY id DESC LIMIT 1"));
    select.BindAll(candidate_id, target);
    SIMTUNE_ASSIGN_OR_RETURN(bool found, select.Step());
    if (!found) return std::optional<ArtifactRow>();
    return std::optional<ArtifactRow>(ReadArtifact(select));
  }

  Result<int64_t> AddRefResult(const RefRow& row) override {
    const RefResult& r = row.result;
    SIMTUNE_RETURN_IF_ERROR(CheckJson(r.extra_json, "store " + db_->path() +
                                                        ": add reference result: extra_json"));
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement insert,
        db_->Prepare("add reference result",
                     "INSERT INTO ref_results (candidate_id, target, reference, options,"
                     " artifact_hash, status, stage, message, unit, value, min, median, max,"
                     " spread, rounds, reps, extra_json)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                     " ?15, ?16, ?17)"));
    insert.BindAll(row.candidate_id, row.target, row.reference, row.options, row.artifact_hash,
                   r.status, r.stage, r.message, r.unit, r.value, r.min, r.median, r.max,
                   r.spread, r.rounds, r.reps, r.extra_json);
    return Insert(insert);
  }

  Result<std::optional<RefRow>> LatestOkRef(int64_t candidate_id, const std::string& target,
                                            const std::string& reference,
                                            const std::string& options,
                                            const std::string& artifact_hash) override {
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement select,
        db_->Prepare("latest reference result",
                     std::string("SELECT ") + kRefColumns +
                         " FROM ref_results r WHERE r.candidate_id = ?1 AND r.target = ?2"
                         " AND r.reference = ?3 AND r.options = ?4 AND r.artifact_hash = ?5"
                         " AND r.status = 'ok' ORDER BY r.id DESC LIMIT 1"));
    select.BindAll(candidate_id, target, reference, options, artifact_hash);
    SIMTUNE_ASSIGN_OR_RETURN(bool found, select.Step());
    if (!found) return std::optional<RefRow>();
    return std::optional<RefRow>(ReadRef(select));
  }

  Result<std::vector<RefRow>> RefResults(int64_t workload_id, const std::string& target,
                                         bool current_only) override {
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement select,
        db_->Prepare("list reference results",
                     std::string("SELECT ") + kRefColumns +
                         " FROM ref_results r JOIN candidates c ON c.id = r.candidate_id"
                         " WHERE c.workload_id = ?1 AND r.target = ?2" +
                         (current_only ? kCurrentArtifact : "") + " ORDER BY r.id"));
    select.BindAll(workload_id, target);
    std::vector<RefRow> rows;
    for (;;) {
      SIMTUNE_ASSIGN_OR_RETURN(bool more, select.Step());
      if (!more) return rows;
      rows.push_back(ReadRef(select));
    }
  }

  Result<int64_t> AddSimResult(const SimRow& row) override {
    SIMTUNE_RETURN_IF_ERROR(CheckJson(row.stats_json, "store " + db_->path() +
                                                          ": add simulator result: stats_json"));
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement insert,
        db_->Prepare("add simulator result",
                     "INSERT INTO sim_results (candidate_id, target, simulator, options,"
                     " artifact_hash, status, stage, message, stats_json, wall_s)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
    insert.BindAll(row.candidate_id, row.target, row.simulator, row.options, row.artifact_hash,
                   row.status, row.stage, row.message, row.stats_json, row.wall_s);
    return Insert(insert);
  }

  Result<std::optional<SimRow>> LatestOkSim(int64_t candidate_id, const std::string& target,
                                            const std::string& simulator,
                                            const std::string& options,
                                            const std::string& artifact_hash) override {
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement select,
        db_->Prepare("latest simulator result",
                     std::string("SELECT ") + kSimColumns +
                         " FROM sim_results r WHERE r.candidate_id = ?1 AND r.target = ?2"
                         " AND r.simulator = ?3 AND r.options = ?4 AND r.artifact_hash = ?5"
                         " AND r.status = 'ok' ORDER BY r.id DESC LIMIT 1"));
    select.BindAll(candidate_id, target, simulator, options, artifact_hash);
    SIMTUNE_ASSIGN_OR_RETURN(bool found, select.Step());
    if (!found) return std::optional<SimRow>();
    return std::optional<SimRow>(ReadSim(select));
  }

  Result<std::vector<SimRow>> SimResults(int64_t workload_id, const std::string& target,
                                         bool current_only) override {
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement select,
        db_->Prepare("list simulator results",
                     std::string("SELECT ") + kSimColumns +
                         " FROM sim_results r JOIN candidates c ON c.id = r.candidate_id"
                         " WHERE c.workload_id = ?1 AND r.target = ?2" +
                         (current_only ? kCurrentArtifact : "") + " ORDER BY r.id"));
    select.BindAll(workload_id, target);
    std::vector<SimRow> rows;
    for (;;) {
      SIMTUNE_ASSIGN_OR_RETURN(bool more, select.Step());
      if (!more) return rows;
      rows.push_back(ReadSim(select));
    }
  }

  Result<int64_t> AddPrediction(const PredictionRow& row) override {
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement insert,
        db_->Prepare("add prediction",
                     "INSERT INTO predictions (candidate_id, target, model, score, unit)"
                     " VALUES (?1, ?2, ?3, ?4, ?5)"));
    insert.BindAll(row.candidate_id, row.target, row.model, row.score, row.unit);
    return Insert(insert);
  }

  Result<int64_t> AddTuneRun(const TuneRunRow& row) override {
    SIMTUNE_RETURN_IF_ERROR(CheckJson(row.settings_json, "store " + db_->path() +
                                                             ": add tune run: settings_json"));
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement insert,
        db_->Prepare("add tune run",
                     "INSERT INTO tune_runs (workload_id, target, started, settings_json,"
                     " predicted_unit, verified_unit, points_json)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    insert.BindAll(row.workload_id, row.target, row.started, row.settings_json, row.predicted_unit,
                   row.verified_unit, PointsJson(row.points));
    return Insert(insert);
  }

  Result<std::vector<TuneRunRow>> TuneRuns(int64_t workload_id, const std::string& target) override {
    std::vector<TuneRunRow> rows;
    if (version_ < 2) return rows;
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement select,
        db_->Prepare("list tune runs",
                     "SELECT id, workload_id, target, started, settings_json, predicted_unit,"
                     " verified_unit, points_json, created FROM tune_runs"
                     " WHERE workload_id = ?1 AND target = ?2 ORDER BY id"));
    select.BindAll(workload_id, target);
    for (;;) {
      SIMTUNE_ASSIGN_OR_RETURN(bool more, select.Step());
      if (!more) return rows;
      TuneRunRow row;
      row.id = select.Int(0);
      row.workload_id = select.Int(1);
      row.target = select.Text(2);
      row.started = select.Text(3);
      row.settings_json = select.Text(4);
      row.predicted_unit = select.Text(5);
      row.verified_unit = select.Text(6);
      SIMTUNE_ASSIGN_OR_RETURN(row.points, ParsePoints(select.Text(7), "store " + db_->path() +
                                                                          ": tune run " + std::to_string(row.id)));
      row.created = select.Text(8);
      rows.push_back(std::move(row));
    }
  }

  Result<std::vector<PredictionRow>> Predictions(int64_t workload_id, const std::string& target) override {
    SIMTUNE_ASSIGN_OR_RETURN(
        Statement select,
        db_->Prepare("list predictions",
                     std::string("SELECT p.id, p.candidate_id, p.target, p.model, p.score, p.created, ") +
                         (version_ < 2 ? "''" : "p.unit") +
                         " FROM predictions p JOIN candidates c ON c.id = p.candidate_id"
                     " WHERE c.workload_id = ?1 AND p.target = ?2 ORDER BY p.id"));
    select.BindAll(workload_id, target);
    std::vector<PredictionRow> rows;
    for (;;) {
      SIMTUNE_ASSIGN_OR_RETURN(bool more, select.Step());
      if (!more) return rows;
      PredictionRow row;
      row.id = select.Int(0);
      row.candidate_id = select.Int(1);
      row.target = select.Text(2);
      row.model = select.Text(3);
      row.score = select.Real(4);
      row.created = select.Text(5);
      row.unit = select.Text(6);
      rows.push_back(std::move(row));
    }
  }

  Status ExportCsv(const std::filesystem::path& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error{"export " + dir.string() + ": cannot create directory: " + ec.message()};
    // One read transaction: all files show the same snapshot while others keep writing.
    SIMTUNE_ASSIGN_OR_RETURN(Transaction tx, Transaction::Deferred(*db_));
    for (const char* table : kTables) {
      if (!HasTable(table)) continue;
      std::filesystem::path file = dir / (std::string(table) + ".csv");
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      if (!out) return Error{"export " + file.string() + ": cannot open for writing"};
      SIMTUNE_ASSIGN_OR_RETURN(Statement select, SelectAll(table));
      for (int col = 0; col < select.ColumnCount(); ++col) {
        out << (col ? "," : "") << CsvField(select.ColumnName(col));
      }
      out << "\r\n";
      for (;;) {
        SIMTUNE_ASSIGN_OR_RETURN(bool more, select.Step());
        if (!more) break;
        for (int col = 0; col < select.ColumnCount(); ++col) {
          out << (col ? "," : "") << CsvField(CellText(select, col));
        }
        out << "\r\n";
      }
      out.close();
      if (!out) return Error{"export " + file.string() + ": write failed"};
    }
    return tx.Commit();
  }

  Result<std::string> ExportJson() override {
    nlohmann::ordered_json doc = nlohmann::ordered_json::object();
    doc["schema_version"] = version_;
    SIMTUNE_ASSIGN_OR_RETURN(Transaction tx, Transaction::Deferred(*db_));
    for (const char* table : kTables) {
      if (!HasTable(table)) continue;
      nlohmann::ordered_json rows = nlohmann::ordered_json::array();
      SIMTUNE_ASSIGN_OR_RETURN(Statement select, SelectAll(table));
      for (;;) {
        SIMTUNE_ASSIGN_OR_RETURN(bool more, select.Step());
        if (!more) break;
        nlohmann::ordered_json row = nlohmann::ordered_json::object();
        for (int col = 0; col < select.ColumnCount(); ++col) {
          std::string name = select.ColumnName(col);
          switch (select.ColumnType(col)) {
            case SQLITE_NULL:
              row[name] = nullptr;
              break;
            case SQLITE_INTEGER:
              row[name] = select.Int(col);
              break;
            case SQLITE_FLOAT:
              row[name] = select.Real(col);
              break;
            default: {
              std::string text = select.Text(col);
              if (!IsJsonColumn(name)) {
                row[name] = text;
                break;
              }
              auto parsed = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
              if (parsed.is_discarded()) {
                return Error{"store " + db_->path() + ": " + table + " row " +
                             std::to_string(select.Int(0)) + ": " + name +
                             " is not valid JSON"};
              }
              row[name] = std::move(parsed);
            }
          }
        }
        rows.push_back(std::move(row));
      }
      doc[table] = std::move(rows);
    }
    SIMTUNE_RETURN_IF_ERROR(tx.Commit());
    return DumpJson(doc, 2);
  }

 private:
  bool HasTable(const std::string& table) const { return version_ >= 2 || table != "tune_runs"; }

  Result<int64_t> Insert(Statement& insert) {
    SIMTUNE_RETURN_IF_ERROR(insert.Run());
    return db_->LastInsertId();
  }

  Result<Statement> SelectAll(const char* table) {
    // `table` comes from kTables, never from input.
    return db_->Prepare(std::string("export ") + table,
                        std::string("SELECT * FROM ") + table + " ORDER BY id");
  }

  std::unique_ptr<Database> db_;
  int version_;
};

Result<int> ReadUserVersion(Database& db) {
  SIMTUNE_ASSIGN_OR_RETURN(Statement pragma, db.Prepare("cannot read", "PRAGMA user_version"));
  SIMTUNE_ASSIGN_OR_RETURN(bool row, pragma.Step());
  SIMTUNE_CHECK(row);
  return static_cast<int>(pragma.Int(0));
}

Status CheckVersion(const Database& db, int version) {
  if (version == kStoreSchemaVersion) return Status::Ok();
  if (version == 1) return Status::Ok();   // read as it is, or upgraded by UpgradeSchema
  return Error{"store " + db.path() + " has schema version " + std::to_string(version) +
               "; this simtune needs " + std::to_string(kStoreSchemaVersion)};
}

// Refuses a file that holds tables but no simtune schema version (someone else's database),
// before anything is written to it.
Status CheckNotForeign(Database& db) {
  SIMTUNE_ASSIGN_OR_RETURN(
      Statement tables,
      db.Prepare("cannot read", "SELECT name FROM sqlite_schema WHERE type = 'table' "
                                "ORDER BY name"));
  std::string names;
  for (;;) {
    SIMTUNE_ASSIGN_OR_RETURN(bool more, tables.Step());
    if (!more) break;
    names += (names.empty() ? "" : ", ") + tables.Text(0);
  }
  if (!names.empty()) {
    return Error{"store " + db.path() +
                 " is not a simtune store: schema version 0 with tables " + names};
  }
  return Status::Ok();
}

// The schema version, checked: one this simtune reads, or 0 in a file with no tables. Call it
// inside a transaction: a process creating the schema commits its tables and its version
// together, but two reads in separate transactions could see the version before that commit
// and the tables after it, and call a store another process has just created "not a simtune
// store".
Result<int> CheckedVersion(Database& db) {
  SIMTUNE_ASSIGN_OR_RETURN(int version, ReadUserVersion(db));
  if (version == 0) {
    SIMTUNE_RETURN_IF_ERROR(CheckNotForeign(db));
  } else {
    SIMTUNE_RETURN_IF_ERROR(CheckVersion(db, version));
  }
  return version;
}

// CheckedVersion in a read snapshot of its own.
Result<int> ReadVersionSnapshot(Database& db) {
  SIMTUNE_ASSIGN_OR_RETURN(Transaction tx, Transaction::Deferred(db));
  SIMTUNE_ASSIGN_OR_RETURN(int version, CheckedVersion(db));
  SIMTUNE_RETURN_IF_ERROR(tx.Commit());
  return version;
}

// Creates the schema in a fresh file. Racing first opens from several processes are
// serialised by the write lock, and the loser sees the winner's version.
Status CreateSchema(Database& db) {
  SIMTUNE_ASSIGN_OR_RETURN(Transaction tx, Transaction::Immediate(db));
  SIMTUNE_ASSIGN_OR_RETURN(int version, CheckedVersion(db));
  if (version != 0) return Status::Ok();
  SIMTUNE_RETURN_IF_ERROR(db.Exec("create schema", kSchema));
  SIMTUNE_RETURN_IF_ERROR(db.Exec("create schema", kUpgradeTo2));
  SIMTUNE_RETURN_IF_ERROR(db.Exec(
      "create schema", "PRAGMA user_version = " + std::to_string(kStoreSchemaVersion)));
  return tx.Commit();
}

// Brings a version-1 store to version 2 (another process may have done it meanwhile).
Status UpgradeSchema(Database& db) {
  SIMTUNE_ASSIGN_OR_RETURN(Transaction tx, Transaction::Immediate(db));
  SIMTUNE_ASSIGN_OR_RETURN(int version, ReadUserVersion(db));
  if (version != 1) return CheckVersion(db, version);
  SIMTUNE_RETURN_IF_ERROR(db.Exec("upgrade schema to version 2", kUpgradeTo2));
  SIMTUNE_RETURN_IF_ERROR(db.Exec("upgrade schema to version 2", "PRAGMA user_version = 2"));
  return tx.Commit();
}

// Switching to WAL needs an exclusive lock, and SQLite answers "database is locked" at once
// (no busy handler: it would deadlock) while another connection holds a lock, as when several
// processes open a fresh store together; retry within the busy timeout.
Status EnableWal(Database& db) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (int attempt = 0;; ++attempt) {
    SIMTUNE_ASSIGN_OR_RETURN(Statement wal,
                             db.Prepare("enable WAL journal", "PRAGMA journal_mode = WAL"));
    auto row = wal.Step();
    if (!row.ok()) {
      int code = sqlite3_errcode(db.handle()) & 0xff;
      bool locked = code == SQLITE_BUSY || code == SQLITE_LOCKED;
      if (!locked || std::chrono::steady_clock::now() > deadline) return row.error();
      std::this_thread::sleep_for(std::chrono::milliseconds(1 + std::min(attempt, 20) * 5));
      continue;
    }
    std::string mode_name = *row ? wal.Text(0) : "";
    if (mode_name != "wal") {
      return Error{"store " + db.path() + ": cannot enable WAL journal; got journal mode '" +
                   mode_name + "'"};
    }
    return Status::Ok();
  }
}

Result<std::unique_ptr<Store>> OpenReadOnly(const std::filesystem::path& path) {
  using Access = Database::Access;
  int version = 0;
  auto open = [&](Access access) -> Result<std::unique_ptr<Database>> {
    SIMTUNE_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                             Database::Open(path.string(), kBusyTimeoutMs, access));
    SIMTUNE_ASSIGN_OR_RETURN(version, ReadVersionSnapshot(*db));
    if (version == 0) return Error{"store " + db->path() + " is empty (no simtune schema yet)"};
    return db;
  };
  auto db = open(Access::kReadOnly);
  // A WAL store whose folder this user cannot write: readers cannot create the -shm index,
  // so read the file as an immutable snapshot instead (as of its last checkpoint, which a
  // clean close of every writer makes). A file that is not a store fails the same way again.
  if (!db.ok()) db = open(Access::kImmutable);
  if (!db.ok()) return db.error();
  return std::unique_ptr<Store>(new SqliteStore(std::move(*db), version));
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::filesystem::path& path, StoreMode mode) {
  std::error_code ec;
  if (mode != StoreMode::kCreate && !std::filesystem::exists(path, ec))
    return Error{"store " + path.string() + " does not exist"};
  if (mode == StoreMode::kReadOnly) return OpenReadOnly(path);
  SIMTUNE_ASSIGN_OR_RETURN(
      std::unique_ptr<Database> db,
      Database::Open(path.string(), kBusyTimeoutMs,
                     mode == StoreMode::kCreate ? Database::Access::kCreate
                                                : Database::Access::kReadWrite));
  // Reading the version is the first access to the file, so a file that is not SQLite fails
  // here ("file is not a database") before anything is written to it; a foreign SQLite file
  // is refused before the WAL switch below would change it.
  SIMTUNE_ASSIGN_OR_RETURN(int version, ReadVersionSnapshot(*db));
  SIMTUNE_RETURN_IF_ERROR(db->Exec("set pragmas", "PRAGMA foreign_keys = ON"));
  SIMTUNE_RETURN_IF_ERROR(EnableWal(*db));
  // In WAL mode NORMAL cannot corrupt the file; it may lose the last commits on power loss,
  // which resume redoes, and it avoids an fsync per appended row.
  SIMTUNE_RETURN_IF_ERROR(db->Exec("set pragmas", "PRAGMA synchronous = NORMAL"));
  if (version == 0) SIMTUNE_RETURN_IF_ERROR(CreateSchema(*db));
  if (version == 1) SIMTUNE_RETURN_IF_ERROR(UpgradeSchema(*db));
  return std::unique_ptr<Store>(new SqliteStore(std::move(db), kStoreSchemaVersion));
}

}  // namespace simtune
