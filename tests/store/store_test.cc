#include "simtune/store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace simtune {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("simtune_store_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = dir_ / "simtune.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Store> OpenOrDie() {
    auto store = Store::Open(path_);
    if (!store.ok()) ADD_FAILURE() << store.message();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Runs SQL on the file with a raw connection, bypassing Store.
  void RawExec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string message = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }

  fs::path dir_;
  fs::path path_;
};

Workload Gemm(int64_t m = 64) {
  Workload w;
  w.op = "gemm";
  w.shape = {{"M", m}, {"N", 32}, {"K", 16}};
  w.catalog_name = "test.gemm";
  return w;
}

Artifact MakeArtifact(const std::string& status, const std::string& hash) {
  Artifact a;
  a.target = "riscv64-linux";
  a.hash = hash;
  a.elf = "/cache/" + hash + "/kernel.elf";
  a.status = status;
  a.stage = status == "ok" ? "" : "build";
  a.message = status == "ok" ? "" : "error: 'x' undeclared";
  a.build_log = "gcc -O2 ...\nwarning: unused variable";
  a.build_s = 0.125;
  a.cached = true;
  a.flops = 65536.5;
  return a;
}

RefRow MakeRef(int64_t candidate_id, const std::string& status, double value) {
  RefRow row;
  row.candidate_id = candidate_id;
  row.target = "x86_64-linux";
  row.reference = "native";
  row.options = "rounds=7,min_rep_ns=1000000";
  row.artifact_hash = "abc123";
  RefResult& r = row.result;
  r.status = status;
  r.stage = status == "ok" ? "" : "timeout";
  r.message = status == "ok" ? "" : "timed out after 60 s";
  r.unit = "ns";
  r.value = value;
  r.min = value * 0.9;
  r.median = value * 1.1;
  r.max = value * 1.5;
  r.spread = 0.03;
  r.rounds = 7;
  r.reps = 35;
  r.extra_json = R"({"inner":12,"round_min_ns":[1.5,2.5]})";
  return row;
}

SimRow MakeSim(int64_t candidate_id, const std::string& status, int64_t insns) {
  SimRow row;
  row.candidate_id = candidate_id;
  row.target = "riscv64-linux";
  row.simulator = "qemu";
  row.options = "cache=l1:32k";
  row.artifact_hash = "def456";
  row.status = status;
  row.stage = status == "ok" ? "" : "run";
  row.message = status == "ok" ? "" : "exit code 3";
  row.stats_json = R"({"schema":1,"insn_count":)" + std::to_string(insns) +
                   R"(,"l1d":{"hits":10,"misses":2}})";
  row.wall_s = 1.75;
  return row;
}

void ExpectIsoTimestamp(const std::string& created) {
  static const std::regex kIso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  EXPECT_TRUE(std::regex_match(created, kIso)) << created;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Minimal RFC 4180 reader: records of fields, CRLF line ends, quoted fields may hold anything.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      record.push_back(std::move(field));
      field.clear();
      records.push_back(std::move(record));
      record.clear();
      ++i;
    } else {
      field += c;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field";
  EXPECT_TRUE(record.empty() && field.empty()) << "last record lacks CRLF";
  return records;
}

TEST_F(StoreTest, RoundTripsEveryRowTypeThroughReopen) {
  int64_t workload_id, candidate_id, artifact_id, ref_id, sim_id, prediction_id;
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store);
    auto w = store->AddWorkload(Gemm());
    ASSERT_TRUE(w.ok()) << w.message();
    workload_id = *w;
    auto c = store->AddCandidate(workload_id, "tile_m=32,tile_n=8,order=mnk");
    ASSERT_TRUE(c.ok()) << c.message();
    candidate_id = *c;
    auto a = store->AddArtifact(candidate_id, MakeArtifact("failed", "h1"));
    ASSERT_TRUE(a.ok()) << a.message();
    artifact_id = *a;
    auto r = store->AddRefResult(MakeRef(candidate_id, "ok", 1234.5));
    ASSERT_TRUE(r.ok()) << r.message();
    ref_id = *r;
    auto s = store->AddSimResult(MakeSim(candidate_id, "ok", 99));
    ASSERT_TRUE(s.ok()) << s.message();
    sim_id = *s;
    PredictionRow p;
    p.candidate_id = candidate_id;
    p.target = "riscv64-linux";
    p.model = "xgb-rank.json";
    p.score = -0.25;
    auto pr = store->AddPrediction(p);
    ASSERT_TRUE(pr.ok()) << pr.message();
    prediction_id = *pr;
  }

  auto store = OpenOrDie();
  ASSERT_TRUE(store);
  auto found = store->FindWorkload(Gemm().Key());
  ASSERT_TRUE(found.ok()) << found.message();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, workload_id);
  EXPECT_FALSE(store->FindWorkload("gemm:M=1,N=1,K=1")->has_value());

  auto candidates = store->Candidates(workload_id);
  ASSERT_TRUE(candidates.ok()) << candidates.message();
  ASSERT_EQ(candidates->size(), 1u);
  EXPECT_EQ((*candidates)[0].id, candidate_id);
  EXPECT_EQ((*candidates)[0].workload_id, workload_id);
  EXPECT_EQ((*candidates)[0].config, "tile_m=32,tile_n=8,order=mnk");

  auto artifact = store->LatestArtifact(candidate_id, "riscv64-linux");
  ASSERT_TRUE(artifact.ok()) << artifact.message();
  ASSERT_TRUE(artifact->has_value());
  const ArtifactRow& ar = **artifact;
  Artifact want = MakeArtifact("failed", "h1");
  EXPECT_EQ(ar.id, artifact_id);
  EXPECT_EQ(ar.candidate_id, candidate_id);
  EXPECT_EQ(ar.artifact.target, want.target);
  EXPECT_EQ(ar.artifact.hash, want.hash);
  EXPECT_EQ(ar.artifact.elf, want.elf);
  EXPECT_EQ(ar.artifact.status, "failed");
  EXPECT_EQ(ar.artifact.stage, "build");
  EXPECT_EQ(ar.artifact.message, want.message);
  EXPECT_EQ(ar.artifact.build_log, want.build_log);
  EXPECT_EQ(ar.artifact.build_s, want.build_s);
  EXPECT_TRUE(ar.artifact.cached);
  EXPECT_EQ(ar.artifact.flops, want.flops);
  ExpectIsoTimestamp(ar.created);

  RefRow want_ref = MakeRef(candidate_id, "ok", 1234.5);
  auto ref = store->LatestOkRef(candidate_id, want_ref.target, "native", want_ref.options, "abc123");
  ASSERT_TRUE(ref.ok()) << ref.message();
  ASSERT_TRUE(ref->has_value());
  const RefRow& rr = **ref;
  EXPECT_EQ(rr.id, ref_id);
  EXPECT_EQ(rr.candidate_id, candidate_id);
  EXPECT_EQ(rr.target, want_ref.target);
  EXPECT_EQ(rr.reference, "native");
  EXPECT_EQ(rr.options, want_ref.options);
  EXPECT_EQ(rr.artifact_hash, "abc123");
  EXPECT_EQ(rr.result.status, "ok");
  EXPECT_EQ(rr.result.stage, "");
  EXPECT_EQ(rr.result.message, "");
  EXPECT_EQ(rr.result.unit, "ns");
  EXPECT_EQ(rr.result.value, want_ref.result.value);
  EXPECT_EQ(rr.result.min, want_ref.result.min);
  EXPECT_EQ(rr.result.median, want_ref.result.median);
  EXPECT_EQ(rr.result.max, want_ref.result.max);
  EXPECT_EQ(rr.result.spread, 0.03);
  EXPECT_EQ(rr.result.rounds, 7);
  EXPECT_EQ(rr.result.reps, 35);
  EXPECT_EQ(rr.result.extra_json, want_ref.result.extra_json);
  ExpectIsoTimestamp(rr.created);

  SimRow want_sim = MakeSim(candidate_id, "ok", 99);
  auto sim = store->LatestOkSim(candidate_id, want_sim.target, "qemu", want_sim.options, "def456");
  ASSERT_TRUE(sim.ok()) << sim.message();
  ASSERT_TRUE(sim->has_value());
  const SimRow& sr = **sim;
  EXPECT_EQ(sr.id, sim_id);
  EXPECT_EQ(sr.candidate_id, candidate_id);
  EXPECT_EQ(sr.target, want_sim.target);
  EXPECT_EQ(sr.simulator, "qemu");
  EXPECT_EQ(sr.options, want_sim.options);
  EXPECT_EQ(sr.artifact_hash, "def456");
  EXPECT_EQ(sr.status, "ok");
  EXPECT_EQ(sr.stage, "");
  EXPECT_EQ(sr.message, "");
  EXPECT_EQ(sr.stats_json, want_sim.stats_json);
  EXPECT_EQ(sr.wall_s, 1.75);
  ExpectIsoTimestamp(sr.created);

  // Predictions and the workload's columns have no typed reader: check them in the export.
  auto json = store->ExportJson();
  ASSERT_TRUE(json.ok()) << json.message();
  auto doc = nlohmann::ordered_json::parse(*json);
  ASSERT_EQ(doc["predictions"].size(), 1u);
  const auto& prediction = doc["predictions"][0];
  EXPECT_EQ(prediction["id"], prediction_id);
  EXPECT_EQ(prediction["candidate_id"], candidate_id);
  EXPECT_EQ(prediction["target"], "riscv64-linux");
  EXPECT_EQ(prediction["model"], "xgb-rank.json");
  EXPECT_EQ(prediction["score"], -0.25);
  ExpectIsoTimestamp(prediction["created"]);
  ASSERT_EQ(doc["workloads"].size(), 1u);
  const auto& workload = doc["workloads"][0];
  EXPECT_EQ(workload["key"], Gemm().Key());
  EXPECT_EQ(workload["op"], "gemm");
  EXPECT_EQ(workload["catalog_name"], "test.gemm");
  // The shape keeps the operator's canonical order, not alphabetical order.
  EXPECT_EQ(workload["shape_json"].dump(), R"({"M":64,"N":32,"K":16})");
}

TEST_F(StoreTest, AddWorkloadAndCandidateAreIdempotent) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store);
  int64_t w1 = *store->AddWorkload(Gemm(64));
  EXPECT_EQ(*store->AddWorkload(Gemm(64)), w1);
  int64_t w2 = *store->AddWorkload(Gemm(128));
  EXPECT_NE(w2, w1);

  int64_t c1 = *store->AddCandidate(w1, "tile_m=8");
  int64_t c2 = *store->AddCandidate(w1, "tile_m=16");
  EXPECT_NE(c1, c2);
  EXPECT_EQ(*store->AddCandidate(w1, "tile_m=8"), c1);
  // The same config on another workload is another candidate.
  int64_t c3 = *store->AddCandidate(w2, "tile_m=8");
  EXPECT_NE(c3, c1);

  auto rows = store->Candidates(w1);
  ASSERT_TRUE(rows.ok()) << rows.message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].id, c1);
  EXPECT_EQ((*rows)[0].config, "tile_m=8");
  EXPECT_EQ((*rows)[1].id, c2);
  EXPECT_EQ((*rows)[1].config, "tile_m=16");
  EXPECT_EQ(store->Candidates(w2)->size(), 1u);
  EXPECT_TRUE(store->Candidates(w2 + 100)->empty());
}

TEST_F(StoreTest, CandidateOfUnknownWorkloadIsAnError) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store);
  auto c = store->AddCandidate(999, "tile_m=8");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.message(), "store " + path_.string() +
                             ": add candidate 'tile_m=8' to workload 999: FOREIGN KEY "
                             "constraint failed");
}

TEST_F(StoreTest, LatestReturnsNewestRowAndLatestOkSkipsFailedRows) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store);
  int64_t w = *store->AddWorkload(Gemm());
  int64_t c = *store->AddCandidate(w, "tile_m=8");
  int64_t other = *store->AddCandidate(w, "tile_m=16");
  int64_t other_workload = *store->AddWorkload(Gemm(256));
  int64_t foreign = *store->AddCandidate(other_workload, "tile_m=8");

  EXPECT_FALSE(store->LatestArtifact(c, "riscv64-linux")->has_value());
  ASSERT_TRUE(store->AddArtifact(c, MakeArtifact("ok", "first")).ok());
  int64_t newest = *store->AddArtifact(c, MakeArtifact("failed", "second"));
  ASSERT_TRUE(store->AddArtifact(other, MakeArtifact("ok", "other")).ok());
  auto artifact = store->LatestArtifact(c, "riscv64-linux");
  ASSERT_TRUE(artifact.ok() && artifact->has_value());
  EXPECT_EQ((*artifact)->id, newest);
  EXPECT_EQ((*artifact)->artifact.hash, "second");  // any status counts
  EXPECT_FALSE(store->LatestArtifact(c, "aarch64-linux")->has_value());

  RefRow ref = MakeRef(c, "ok", 10);
  EXPECT_FALSE(store->LatestOkRef(c, ref.target, "native", ref.options, "abc123")->has_value());
  ASSERT_TRUE(store->AddRefResult(ref).ok());
  int64_t ok_ref = *store->AddRefResult(MakeRef(c, "ok", 5));
  ASSERT_TRUE(store->AddRefResult(MakeRef(c, "failed", 0)).ok());
  ASSERT_TRUE(store->AddRefResult(MakeRef(other, "ok", 7)).ok());
  ASSERT_TRUE(store->AddRefResult(MakeRef(foreign, "ok", 8)).ok());
  auto latest_ref = store->LatestOkRef(c, ref.target, "native", ref.options, "abc123");
  ASSERT_TRUE(latest_ref.ok() && latest_ref->has_value());
  EXPECT_EQ((*latest_ref)->id, ok_ref);
  EXPECT_EQ((*latest_ref)->result.value, 5);
  EXPECT_FALSE(store->LatestOkRef(c, ref.target, "native", "rounds=3", "abc123")->has_value());
  EXPECT_FALSE(store->LatestOkRef(c, ref.target, "rvsim", ref.options, "abc123")->has_value());
  EXPECT_FALSE(store->LatestOkRef(c, "aarch64-linux", "native", ref.options, "abc123")->has_value());

  // Every attempt of the workload's candidates, failed included, in insertion order.
  auto refs = store->RefResults(w, ref.target);
  ASSERT_TRUE(refs.ok()) << refs.message();
  ASSERT_EQ(refs->size(), 4u);
  EXPECT_EQ((*refs)[0].result.value, 10);
  EXPECT_EQ((*refs)[1].result.value, 5);
  EXPECT_EQ((*refs)[2].result.status, "failed");
  EXPECT_EQ((*refs)[2].result.stage, "timeout");
  EXPECT_EQ((*refs)[3].candidate_id, other);
  EXPECT_TRUE(store->RefResults(w, "aarch64-linux")->empty());
  EXPECT_EQ(store->RefResults(other_workload, ref.target)->size(), 1u);

  ASSERT_TRUE(store->AddSimResult(MakeSim(c, "ok", 1)).ok());
  int64_t ok_sim = *store->AddSimResult(MakeSim(c, "ok", 2));
  ASSERT_TRUE(store->AddSimResult(MakeSim(c, "failed", 3)).ok());
  ASSERT_TRUE(store->AddSimResult(MakeSim(foreign, "ok", 4)).ok());
  SimRow sim = MakeSim(c, "ok", 0);
  auto latest_sim = store->LatestOkSim(c, sim.target, "qemu", sim.options, "def456");
  ASSERT_TRUE(latest_sim.ok() && latest_sim->has_value());
  EXPECT_EQ((*latest_sim)->id, ok_sim);
  EXPECT_EQ((*latest_sim)->stats_json, MakeSim(c, "ok", 2).stats_json);
  EXPECT_FALSE(store->LatestOkSim(c, sim.target, "spike", sim.options, "def456")->has_value());
  EXPECT_FALSE(store->LatestOkSim(other, sim.target, "qemu", sim.options, "def456")->has_value());
  // Every row, stale ones included (c's artifact on riscv64-linux is now "second").
  auto sims = store->SimResults(w, sim.target, /*current_only=*/false);
  ASSERT_TRUE(sims.ok()) << sims.message();
  ASSERT_EQ(sims->size(), 3u);
  EXPECT_LT((*sims)[0].id, (*sims)[1].id);
  EXPECT_LT((*sims)[1].id, (*sims)[2].id);
  EXPECT_EQ((*sims)[2].status, "failed");
  EXPECT_EQ((*sims)[2].message, "exit code 3");
}

TEST_F(StoreTest, NanRoundTripsAsNan) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store);
  int64_t c = *store->AddCandidate(*store->AddWorkload(Gemm()), "tile_m=8");
  RefRow row = MakeRef(c, "failed", std::nan(""));
  ASSERT_TRUE(store->AddRefResult(row).ok());
  auto refs = store->RefResults(*store->FindWorkload(Gemm().Key()).value(), row.target);
  ASSERT_TRUE(refs.ok()) << refs.message();
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_TRUE(std::isnan((*refs)[0].result.value));
  EXPECT_EQ((*refs)[0].result.spread, 0.03);
  auto doc = nlohmann::json::parse(*store->ExportJson());
  EXPECT_TRUE(doc["ref_results"][0]["value"].is_null());
}

TEST_F(StoreTest, RejectsStatusOtherThanOkOrFailed) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store);
  int64_t c = *store->AddCandidate(*store->AddWorkload(Gemm()), "tile_m=8");
  auto a = store->AddArtifact(c, MakeArtifact("", "h"));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.message(), "store " + path_.string() +
                             ": add artifact: CHECK constraint failed: status IN ('ok', 'failed')");
  SimRow sim = MakeSim(c, "done", 1);
  auto s = store->AddSimResult(sim);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "store " + path_.string() +
                             ": add simulator result: CHECK constraint failed: status IN "
                             "('ok', 'failed')");
}

TEST_F(StoreTest, RejectsInvalidJsonColumns) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store);
  int64_t c = *store->AddCandidate(*store->AddWorkload(Gemm()), "tile_m=8");
  SimRow sim = MakeSim(c, "ok", 1);
  sim.stats_json = "{insn_count: 3}";
  auto s = store->AddSimResult(sim);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "store " + path_.string() +
                             ": add simulator result: stats_json is not valid JSON; got "
                             "'{insn_count: 3}'");
  RefRow ref = MakeRef(c, "ok", 1);
  ref.result.extra_json = "";
  auto r = store->AddRefResult(ref);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "store " + path_.string() +
                             ": add reference result: extra_json is not valid JSON; got ''");
  EXPECT_TRUE(store->SimResults(1, sim.target)->empty());
}

TEST_F(StoreTest, TuneRunsAndPredictionUnitsRoundTrip) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store);
  int64_t w = *store->AddWorkload(Gemm());
  int64_t c = *store->AddCandidate(w, "tile_m=8");
  PredictionRow p;
  p.candidate_id = c;
  p.target = "x86_64-host";
  p.model = "tune:ridge";
  p.score = 1234;
  p.unit = "ns";
  ASSERT_TRUE(store->AddPrediction(p).ok());
  auto preds = store->Predictions(w, "x86_64-host");
  ASSERT_TRUE(preds.ok()) << preds.message();
  ASSERT_EQ(preds->size(), 1u);
  EXPECT_EQ((*preds)[0].unit, "ns");

  TuneRunRow run;
  run.workload_id = w;
  run.target = "x86_64-host";
  run.started = "2026-01-02T03:04:05Z";
  run.settings_json = R"({"budget":8})";
  run.predicted_unit = "score";
  run.verified_unit = "ns";
  run.points = {{0.25, 4, "calibrate", -1.5, c, 900, c}, {1.0, 8, "search", std::nan(""), 0, std::nan(""), 0}};
  ASSERT_TRUE(store->AddTuneRun(run).ok());
  auto runs = store->TuneRuns(w, "x86_64-host");
  ASSERT_TRUE(runs.ok()) << runs.message();
  ASSERT_EQ(runs->size(), 1u);
  const TuneRunRow& r = (*runs)[0];
  EXPECT_EQ(r.started, run.started);
  EXPECT_EQ(r.settings_json, run.settings_json);
  EXPECT_EQ(r.predicted_unit, "score");
  EXPECT_EQ(r.verified_unit, "ns");
  ASSERT_EQ(r.points.size(), 2u);
  EXPECT_EQ(r.points[0].phase, "calibrate");
  EXPECT_EQ(r.points[0].simulations, 4);
  EXPECT_EQ(r.points[0].best_predicted, -1.5);
  EXPECT_EQ(r.points[0].best_verified_candidate, c);
  EXPECT_TRUE(std::isnan(r.points[1].best_predicted)) << "nothing yet survives as NaN";
  EXPECT_TRUE(store->TuneRuns(w, "riscv64-linux")->empty());

  run.settings_json = "{";
  EXPECT_EQ(store->AddTuneRun(run).message(),
            "store " + path_.string() + ": add tune run: settings_json is not valid JSON; got '{'");
}

// A version-1 store (before tune runs and prediction units): read as it is when opened
// read-only, upgraded in place when opened read-write; its rows survive.
TEST_F(StoreTest, VersionOneStoreIsReadAndUpgraded) {
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store);
    int64_t c = *store->AddCandidate(*store->AddWorkload(Gemm()), "tile_m=8");
    PredictionRow p;
    p.candidate_id = c;
    p.target = "x86_64-host";
    p.model = "m.json";
    p.score = 7;
    ASSERT_TRUE(store->AddPrediction(p).ok());
  }
  RawExec("DROP TABLE tune_runs; ALTER TABLE predictions DROP COLUMN unit; PRAGMA user_version = 1");
  {
    auto ro = Store::Open(path_, StoreMode::kReadOnly);
    ASSERT_TRUE(ro.ok()) << ro.message();
    auto preds = (*ro)->Predictions(1, "x86_64-host");
    ASSERT_TRUE(preds.ok()) << preds.message();
    ASSERT_EQ(preds->size(), 1u);
    EXPECT_EQ((*preds)[0].unit, "");
    auto runs = (*ro)->TuneRuns(1, "x86_64-host");
    ASSERT_TRUE(runs.ok()) << runs.message();
    EXPECT_TRUE(runs->empty());
    auto doc = nlohmann::json::parse(*(*ro)->ExportJson());
    EXPECT_EQ(doc["schema_version"], 1);
    EXPECT_FALSE(doc.contains("tune_runs"));
  }
  auto store = OpenOrDie();
  ASSERT_TRUE(store);
  auto preds = store->Predictions(1, "x86_64-host");
  ASSERT_TRUE(preds.ok()) << preds.message();
  ASSERT_EQ(preds->size(), 1u);
  EXPECT_EQ((*preds)[0].score, 7);
  TuneRunRow run;
  run.workload_id = 1;
  run.target = "x86_64-host";
  ASSERT_TRUE(store->AddTuneRun(run).ok());
  EXPECT_EQ(store->TuneRuns(1, "x86_64-host")->size(), 1u);
  auto doc = nlohmann::json::parse(*store->ExportJson());
  EXPECT_EQ(doc["schema_version"], 2);
}

TEST_F(StoreTest, SchemaVersionMismatchNamesBothVersions) {
  ASSERT_TRUE(OpenOrDie());
  RawExec("PRAGMA user_version = 99");
  auto store = Store::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.message(),
            "store " + path_.string() + " has schema version 99; this simtune needs 2");
}

TEST_F(StoreTest, NewFileGetsSchemaVersionAndWal) {
  ASSERT_TRUE(OpenOrDie());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  auto query = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK);
    std::string out;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      if (!out.empty()) out += ",";
      out += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  };
  EXPECT_EQ(query("PRAGMA user_version"), std::to_string(kStoreSchemaVersion));
  EXPECT_EQ(query("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"),
            "artifacts,candidates,predictions,ref_results,sim_results,tune_runs,workloads");
  // STRICT: a text value in a REAL column is rejected, not stored as text.
  char* err = nullptr;
  EXPECT_NE(sqlite3_exec(db, "INSERT INTO predictions (candidate_id, target, model, score) "
                             "VALUES (1, 't', 'm', 'fast')", nullptr, nullptr, &err),
            SQLITE_OK);
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST_F(StoreTest, GarbageFileIsRejectedAndLeftAlone) {
  std::string garbage(4096, 'x');
  garbage.replace(0, 30, "this is not an SQLite database");
  {
    std::ofstream out(path_, std::ios::binary);
    out << garbage;
  }
  auto store = Store::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.message(), "store " + path_.string() + ": cannot read: file is not a database");
  EXPECT_EQ(ReadFile(path_), garbage);
}

TEST_F(StoreTest, ForeignSqliteFileIsNotASimtuneStore) {
  RawExec("CREATE TABLE notes (text TEXT); CREATE TABLE tags (name TEXT)");
  auto store = Store::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.message(), "store " + path_.string() +
                                 " is not a simtune store: schema version 0 with tables notes, "
                                 "tags");
}

// Refused before the WAL switch: the foreign file is left exactly as it was (issue 16, 18).
TEST_F(StoreTest, ForeignSqliteFileKeepsItsJournalMode) {
  RawExec("CREATE TABLE notes (text TEXT)");
  std::string before = ReadFile(path_);
  for (StoreMode mode : {StoreMode::kCreate, StoreMode::kExisting, StoreMode::kReadOnly}) {
    auto store = Store::Open(path_, mode);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.message(), "store " + path_.string() +
                                   " is not a simtune store: schema version 0 with tables notes");
  }
  EXPECT_EQ(ReadFile(path_), before);
  EXPECT_FALSE(fs::exists(path_.string() + "-wal"));
}

TEST_F(StoreTest, ReadCommandsDoNotCreateAMissingStore) {
  for (StoreMode mode : {StoreMode::kExisting, StoreMode::kReadOnly}) {
    auto store = Store::Open(path_, mode);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.message(), "store " + path_.string() + " does not exist");
    EXPECT_FALSE(fs::exists(path_));
  }
}

TEST_F(StoreTest, ReadOnlyOpenReadsAndRefusesWrites) {
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->AddWorkload(Gemm()).ok());
  }
  auto store = Store::Open(path_, StoreMode::kReadOnly);
  ASSERT_TRUE(store.ok()) << store.message();
  auto workloads = (*store)->Workloads();
  ASSERT_TRUE(workloads.ok()) << workloads.message();
  EXPECT_EQ(workloads->size(), 1u);
  auto added = (*store)->AddWorkload(Gemm(128));
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.message().find("readonly"), std::string::npos) << added.message();
}

// A store in a folder this user cannot write (a shared results folder, a read-only mount):
// SQLite cannot create the WAL index there, so it is read as an immutable snapshot. Root
// writes anywhere, so the reading runs in a child that drops to an unprivileged user.
TEST_F(StoreTest, ReadOnlyOpenReadsAStoreInAFolderItCannotWrite) {
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->AddWorkload(Gemm()).ok());
  }
  ASSERT_FALSE(fs::exists(path_.string() + "-shm"));   // closed cleanly: no WAL index left
  fs::permissions(path_, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read |
                            fs::perms::others_exec | fs::perms::group_read | fs::perms::group_exec);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(10);
    if (std::ofstream(dir_ / "probe")) _exit(11);   // the folder must really be read-only
    auto store = Store::Open(path_, StoreMode::kReadOnly);
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.message().c_str());
      _exit(12);
    }
    auto workloads = (*store)->Workloads();
    _exit(workloads.ok() && workloads->size() == 1 ? 0 : 13);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  fs::permissions(dir_, fs::perms::owner_all);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(StoreTest, MissingDirectoryIsNamed) {
  fs::path path = dir_ / "missing" / "simtune.db";
  auto store = Store::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.message(), "store " + path.string() + ": directory " +
                                 (dir_ / "missing").string() + " does not exist");
}

TEST_F(StoreTest, CsvExportQuotesCommasQuotesAndNewlines) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store);
  int64_t c = *store->AddCandidate(*store->AddWorkload(Gemm()), "tile_m=8,tile_n=4");
  Artifact a = MakeArtifact("failed", "h1");
  a.message = "error: \"x\", line 3";
  a.build_log = "line one\nline two\r\nline, three";
  ASSERT_TRUE(store->AddArtifact(c, a).ok());
  ASSERT_TRUE(store->AddSimResult(MakeSim(c, "ok", 5)).ok());

  fs::path out = dir_ / "csv" / "nested";
  Status status = store->ExportCsv(out);
  ASSERT_TRUE(status.ok()) << status.message();
  for (const char* table : {"workloads", "candidates", "artifacts", "ref_results",
                            "sim_results", "predictions"}) {
    EXPECT_TRUE(fs::exists(out / (std::string(table) + ".csv"))) << table;
  }

  std::string text = ReadFile(out / "artifacts.csv");
  EXPECT_EQ(text.substr(0, text.find("\r\n")),
            "id,candidate_id,target,hash,elf_path,status,stage,message,build_log,build_s,cached,"
            "flops,created");
  EXPECT_NE(text.find(R"(,"error: ""x"", line 3",)"), std::string::npos) << text;
  EXPECT_NE(text.find("\"line one\nline two\r\nline, three\""), std::string::npos) << text;
  auto records = ParseCsv(text);
  ASSERT_EQ(records.size(), 2u);
  ASSERT_EQ(records[1].size(), 13u);
  EXPECT_EQ(records[1][0], "1");
  EXPECT_EQ(records[1][5], "failed");
  EXPECT_EQ(records[1][7], a.message);
  EXPECT_EQ(records[1][8], a.build_log);
  EXPECT_EQ(records[1][9], "0.125");
  EXPECT_EQ(records[1][10], "1");

  auto candidates = ParseCsv(ReadFile(out / "candidates.csv"));
  ASSERT_EQ(candidates.size(), 2u);
  EXPECT_EQ(candidates[1][2], "tile_m=8,tile_n=4");
  auto sims = ParseCsv(ReadFile(out / "sim_results.csv"));
  ASSERT_EQ(sims.size(), 2u);
  EXPECT_EQ(sims[1][9], MakeSim(c, "ok", 5).stats_json);
  auto predictions = ParseCsv(ReadFile(out / "predictions.csv"));
  ASSERT_EQ(predictions.size(), 1u);  // header only
  EXPECT_EQ(predictions[0].size(), 7u);
}

TEST_F(StoreTest, JsonExportEmbedsJsonColumnsAsObjects) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store);
  int64_t c = *store->AddCandidate(*store->AddWorkload(Gemm()), "tile_m=8");
  ASSERT_TRUE(store->AddSimResult(MakeSim(c, "ok", 42)).ok());
  ASSERT_TRUE(store->AddSimResult(MakeSim(c, "failed", 43)).ok());
  ASSERT_TRUE(store->AddRefResult(MakeRef(c, "ok", 3)).ok());

  auto json = store->ExportJson();
  ASSERT_TRUE(json.ok()) << json.message();
  nlohmann::json doc = nlohmann::json::parse(*json, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << *json;
  EXPECT_EQ(doc["schema_version"], 2);
  for (const char* table : {"workloads", "candidates", "artifacts", "ref_results",
                            "sim_results", "predictions", "tune_runs"}) {
    EXPECT_TRUE(doc[table].is_array()) << table;
  }
  ASSERT_EQ(doc["sim_results"].size(), 2u);
  const auto& stats = doc["sim_results"][0]["stats_json"];
  ASSERT_TRUE(stats.is_object()) << stats.dump();
  EXPECT_EQ(stats["insn_count"], 42);
  EXPECT_EQ(stats["l1d"]["misses"], 2);
  EXPECT_EQ(doc["sim_results"][1]["status"], "failed");
  EXPECT_EQ(doc["sim_results"][1]["wall_s"], 1.75);
  const auto& extra = doc["ref_results"][0]["extra_json"];
  ASSERT_TRUE(extra.is_object()) << extra.dump();
  EXPECT_EQ(extra["round_min_ns"][1], 2.5);
  EXPECT_EQ(doc["ref_results"][0]["rounds"], 7);
  EXPECT_TRUE(doc["workloads"][0]["shape_json"].is_object());
  EXPECT_EQ(doc["candidates"][0]["config"], "tile_m=8");
  EXPECT_TRUE(doc["artifacts"].empty());
}

TEST_F(StoreTest, TwoConnectionsWriteConcurrently) {
  constexpr int kRowsPerWriter = 200;
  std::atomic<int> ready{0};
  std::vector<std::string> errors[2];
  int64_t workload_ids[2] = {0, 0};
  int64_t candidate_ids[2] = {0, 0};
  auto writer = [&](int index) {
    ready.fetch_add(1);
    while (ready.load() < 2) std::this_thread::yield();
    // Both open the fresh file at once, so schema creation races too.
    auto store = Store::Open(path_);
    if (!store.ok()) {
      errors[index].push_back(store.message());
      return;
    }
    auto w = (*store)->AddWorkload(Gemm());
    if (!w.ok()) {
      errors[index].push_back(w.message());
      return;
    }
    workload_ids[index] = *w;
    auto c = (*store)->AddCandidate(*w, "tile_m=8");
    if (!c.ok()) {
      errors[index].push_back(c.message());
      return;
    }
    candidate_ids[index] = *c;
    for (int i = 0; i < kRowsPerWriter; ++i) {
      SimRow row = MakeSim(*c, "ok", i);
      row.simulator = index == 0 ? "qemu" : "spike";
      auto id = (*store)->AddSimResult(row);
      if (!id.ok()) errors[index].push_back(id.message());
    }
  };
  std::thread t0(writer, 0), t1(writer, 1);
  t0.join();
  t1.join();
  EXPECT_TRUE(errors[0].empty()) << errors[0].front();
  EXPECT_TRUE(errors[1].empty()) << errors[1].front();
  EXPECT_EQ(workload_ids[0], workload_ids[1]);
  EXPECT_EQ(candidate_ids[0], candidate_ids[1]);

  auto store = OpenOrDie();
  ASSERT_TRUE(store);
  auto rows = store->SimResults(workload_ids[0], "riscv64-linux");
  ASSERT_TRUE(rows.ok()) << rows.message();
  ASSERT_EQ(rows->size(), 2u * kRowsPerWriter);
  std::set<int64_t> ids;
  int per_simulator[2] = {0, 0};
  for (const SimRow& row : *rows) {
    ids.insert(row.id);
    ++per_simulator[row.simulator == "qemu" ? 0 : 1];
  }
  EXPECT_EQ(ids.size(), 2u * kRowsPerWriter);
  EXPECT_EQ(per_simulator[0], kRowsPerWriter);
  EXPECT_EQ(per_simulator[1], kRowsPerWriter);
}

// Results belong to the artifact they were taken on: after a rebuild with another hash, the
// old statistics and times are neither resumed nor listed (issue 16, item 3).
TEST_F(StoreTest, ResultsOfAnOlderArtifactAreStale) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store);
  int64_t w = *store->AddWorkload(Gemm());
  int64_t c = *store->AddCandidate(w, "tile_m=8");
  Artifact old_art = MakeArtifact("ok", "def456");
  ASSERT_TRUE(store->AddArtifact(c, old_art).ok());
  SimRow sim = MakeSim(c, "ok", 45);   // artifact_hash def456, target riscv64-linux
  ASSERT_TRUE(store->AddSimResult(sim).ok());
  RefRow ref = MakeRef(c, "ok", 10);
  ref.target = "riscv64-linux";
  ref.artifact_hash = "def456";
  ASSERT_TRUE(store->AddRefResult(ref).ok());
  EXPECT_TRUE(store->LatestOkSim(c, sim.target, "qemu", sim.options, "def456")->has_value());
  EXPECT_EQ(store->SimResults(w, sim.target)->size(), 1u);
  EXPECT_EQ(store->RefResults(w, ref.target)->size(), 1u);

  // Rebuilt (an edited kernel): new hash.
  ASSERT_TRUE(store->AddArtifact(c, MakeArtifact("ok", "fff999")).ok());
  EXPECT_FALSE(store->LatestOkSim(c, sim.target, "qemu", sim.options, "fff999")->has_value());
  EXPECT_FALSE(store->LatestOkRef(c, ref.target, "native", ref.options, "fff999")->has_value());
  EXPECT_TRUE(store->SimResults(w, sim.target)->empty());
  EXPECT_TRUE(store->RefResults(w, ref.target)->empty());
  EXPECT_EQ(store->SimResults(w, sim.target, /*current_only=*/false)->size(), 1u);

  // New statistics on the new artifact are current; a rebuild back to the old code makes the
  // old rows current again (same hash, same ELF).
  SimRow fresh = MakeSim(c, "ok", 1324);
  fresh.artifact_hash = "fff999";
  ASSERT_TRUE(store->AddSimResult(fresh).ok());
  auto current = store->SimResults(w, sim.target);
  ASSERT_EQ(current->size(), 1u);
  EXPECT_EQ((*current)[0].stats_json, fresh.stats_json);
  ASSERT_TRUE(store->AddArtifact(c, old_art).ok());
  current = store->SimResults(w, sim.target);
  ASSERT_EQ(current->size(), 1u);
  EXPECT_EQ((*current)[0].stats_json, sim.stats_json);
}

}  // namespace
}  // namespace simtune
