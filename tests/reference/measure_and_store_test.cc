// MeasureAndStore: a batch's results become rows as each chunk completes, so an interrupted
// measurement keeps what it finished (issue 16, item 4).
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "simtune/reference.h"
#include "simtune/store.h"
#include "simtune/workload.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

// Returns 100 + the artifact's index in its call; counts the store's rows at each call.
class CountingReference : public Reference {
 public:
  explicit CountingReference(Store* store, int64_t workload_id)
      : store_(store), workload_id_(workload_id) {}
  std::string name() const override { return "counting"; }
  std::string options_key() const override { return "k=1"; }
  std::vector<RefResult> Measure(const std::vector<Artifact>& batch, const Target&) override {
    batch_sizes.push_back(batch.size());
    rows_seen.push_back(store_->RefResults(workload_id_, "t")->size());
    std::vector<RefResult> out;
    for (size_t i = 0; i < batch.size(); ++i) {
      RefResult r;
      r.status = "ok";
      r.unit = "ns";
      r.value = 100.0 + static_cast<double>(i);
      out.push_back(r);
    }
    return out;
  }
  std::vector<size_t> batch_sizes, rows_seen;

 private:
  Store* store_;
  int64_t workload_id_;
};

class MeasureAndStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() / ("simtune_measure_store_" + std::to_string(getpid()) + ".db");
    fs::remove(path_);
    auto store = Store::Open(path_);
    ASSERT_TRUE(store.ok()) << store.message();
    store_ = std::move(store).value();
    Workload w;
    w.op = "gemm";
    w.shape = {{"M", 8}, {"N", 8}, {"K", 8}};
    wid_ = *store_->AddWorkload(w);
    for (int i = 0; i < 19; ++i) {
      ids_.push_back(*store_->AddCandidate(wid_, "tile_m=" + std::to_string(i)));
      Artifact a;
      a.target = "t";
      a.status = "ok";
      a.hash = "h" + std::to_string(i);
      batch_.push_back(a);
    }
    target_.name = "t";
  }
  void TearDown() override {
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path_.string() + suffix);
  }

  fs::path path_;
  std::unique_ptr<Store> store_;
  int64_t wid_ = 0;
  std::vector<int64_t> ids_;
  std::vector<Artifact> batch_;
  Target target_;
};

TEST_F(MeasureAndStoreTest, StoresEachChunkBeforeMeasuringTheNext) {
  CountingReference ref(store_.get(), wid_);
  std::vector<std::pair<size_t, size_t>> progress;
  auto results = MeasureAndStore(ref, batch_, ids_, target_, *store_, 8,
                                 [&](size_t done, size_t total) { progress.push_back({done, total}); });
  ASSERT_TRUE(results.ok()) << results.message();
  EXPECT_EQ(ref.batch_sizes, (std::vector<size_t>{8, 8, 3}));
  // Each chunk found the previous chunks' rows already in the store.
  EXPECT_EQ(ref.rows_seen, (std::vector<size_t>{0, 8, 16}));
  EXPECT_EQ(progress, (std::vector<std::pair<size_t, size_t>>{{8, 19}, {16, 19}, {19, 19}}));
  ASSERT_EQ(results->size(), 19u);
  EXPECT_EQ((*results)[9].value, 101.0);   // second of the second chunk
  auto rows = store_->RefResults(wid_, "t");
  ASSERT_EQ(rows->size(), 19u);
  EXPECT_EQ((*rows)[18].candidate_id, ids_[18]);
  EXPECT_EQ((*rows)[18].artifact_hash, "h18");
  EXPECT_EQ((*rows)[18].result.value, 102.0);
}

TEST_F(MeasureAndStoreTest, ChunkZeroMeasuresTheWholeBatchInTheSameRounds) {
  CountingReference ref(store_.get(), wid_);
  auto results = MeasureAndStore(ref, batch_, ids_, target_, *store_);
  ASSERT_TRUE(results.ok()) << results.message();
  EXPECT_EQ(ref.batch_sizes, (std::vector<size_t>{19}));
  EXPECT_EQ(store_->RefResults(wid_, "t")->size(), 19u);
}

// A wall-clock reference whose calls listed in `slow_calls` run in a slow spell: every
// artifact reads 1.5x its own time (100 + the number in its hash) in that call.
class SpellReference : public Reference {
 public:
  explicit SpellReference(std::set<size_t> slow_calls, std::string fails_late = "")
      : slow_calls_(std::move(slow_calls)), fails_late_(std::move(fails_late)) {}
  std::string name() const override { return "spell"; }
  std::string options_key() const override { return "k=1"; }
  bool wall_clock() const override { return true; }
  std::vector<RefResult> Measure(const std::vector<Artifact>& batch, const Target&) override {
    const double factor = slow_calls_.count(batch_sizes.size()) ? 1.5 : 1.0;
    batch_sizes.push_back(batch.size());
    std::vector<RefResult> out;
    for (const auto& a : batch) {
      RefResult r;
      r.status = "ok";
      r.unit = "ns";
      r.value = factor * (100.0 + std::stod(a.hash.substr(1)));
      r.extra_json = R"({"inner":3})";
      if (a.hash == fails_late_ && batch_sizes.size() > 3) {   // fails in a later attempt only
        r.status = "failed";
        r.stage = "timeout";
      }
      out.push_back(r);
    }
    return out;
  }
  std::vector<size_t> batch_sizes;

 private:
  std::set<size_t> slow_calls_;
  std::string fails_late_;
};

double LatestValue(Store& store, int64_t wid, int64_t candidate_id) {
  double v = -1;
  for (const auto& row : *store.RefResults(wid, "t"))
    if (row.candidate_id == candidate_id) v = row.result.value;
  return v;
}

TEST_F(MeasureAndStoreTest, AChunkMeasuredInASlowSpellIsMeasuredAgainAfterTheBatch) {
  SpellReference ref({1});   // the second chunk's call
  ChunkControlReport report;
  auto results = MeasureAndStore(ref, batch_, ids_, target_, *store_, 8, nullptr, {}, &report);
  ASSERT_TRUE(results.ok()) << results.message();
  // The control (the first artifact) rides along with every chunk it is not in; the second
  // chunk, slow against it, is measured again after the third.
  EXPECT_EQ(ref.batch_sizes, (std::vector<size_t>{8, 9, 4, 9}));
  ASSERT_EQ(results->size(), 19u);
  for (size_t i = 0; i < 19; ++i) EXPECT_DOUBLE_EQ((*results)[i].value, 100.0 + static_cast<double>(i)) << i;
  // The slow attempt's rows stay; the quiet attempt's are the latest.
  EXPECT_EQ(store_->RefResults(wid_, "t")->size(), 27u);
  EXPECT_DOUBLE_EQ(LatestValue(*store_, wid_, ids_[9]), 109.0);
  EXPECT_EQ(report.chunks, 3u);
  EXPECT_EQ(report.slow, 1u);
  EXPECT_EQ(report.attempts, 1u);
  EXPECT_EQ(report.still_slow, 0u);
  EXPECT_DOUBLE_EQ(report.worst_ratio, 1.5);
  auto rows = store_->RefResults(wid_, "t");
  nlohmann::json extra = nlohmann::json::parse(rows->back().result.extra_json);
  EXPECT_EQ(extra["inner"], 3);   // the reference's own details are kept
  EXPECT_DOUBLE_EQ(extra["control_ratio"].get<double>(), 1.0);
  nlohmann::json slow_extra = nlohmann::json::parse((*rows)[9].result.extra_json);
  EXPECT_DOUBLE_EQ(slow_extra["control_ratio"].get<double>(), 1.5);
}

TEST_F(MeasureAndStoreTest, ACandidateThatFailsOnlyInTheQuieterAttemptKeepsItsResult) {
  SpellReference ref({1}, "h10");
  auto results = MeasureAndStore(ref, batch_, ids_, target_, *store_, 8);
  ASSERT_TRUE(results.ok()) << results.message();
  EXPECT_EQ(ref.batch_sizes, (std::vector<size_t>{8, 9, 4, 9}));
  EXPECT_TRUE((*results)[10].ok());
  EXPECT_DOUBLE_EQ((*results)[10].value, 1.5 * 110.0);   // the slow attempt's, the only one
  EXPECT_DOUBLE_EQ((*results)[9].value, 109.0);
  EXPECT_EQ(store_->RefResults(wid_, "t")->size(), 26u);   // 19 + 7: no row for the failure
  EXPECT_DOUBLE_EQ(LatestValue(*store_, wid_, ids_[10]), 1.5 * 110.0);
}

TEST_F(MeasureAndStoreTest, ASlowFirstChunkIsFoundByTheFasterControlsAfterIt) {
  SpellReference ref({0});
  ChunkControlReport report;
  auto results = MeasureAndStore(ref, batch_, ids_, target_, *store_, 8, nullptr, {}, &report);
  ASSERT_TRUE(results.ok()) << results.message();
  EXPECT_EQ(ref.batch_sizes, (std::vector<size_t>{8, 9, 4, 8}));
  EXPECT_DOUBLE_EQ((*results)[3].value, 103.0);
  EXPECT_EQ(report.slow, 1u);
}

TEST_F(MeasureAndStoreTest, ASpellThatOutlastsThePassesKeepsTheFirstAttemptAndSaysSo) {
  SpellReference ref({1, 3, 4});
  ChunkControlReport report;
  ChunkControl two;
  two.passes = 2;
  auto results = MeasureAndStore(ref, batch_, ids_, target_, *store_, 8, nullptr, two, &report);
  ASSERT_TRUE(results.ok()) << results.message();
  EXPECT_EQ(ref.batch_sizes, (std::vector<size_t>{8, 9, 4, 9, 9}));   // two passes, then it stops
  EXPECT_DOUBLE_EQ((*results)[9].value, 1.5 * 109.0);
  EXPECT_EQ(store_->RefResults(wid_, "t")->size(), 19u);   // no quieter attempt to store
  EXPECT_EQ(report.attempts, 2u);
  EXPECT_EQ(report.still_slow, 1u);
}

TEST_F(MeasureAndStoreTest, NoControlWithoutChunksOrWhenSwitchedOff) {
  SpellReference whole({0});
  ASSERT_TRUE(MeasureAndStore(whole, batch_, ids_, target_, *store_).ok());
  EXPECT_EQ(whole.batch_sizes, (std::vector<size_t>{19}));
  SpellReference off({1});
  ChunkControl no;
  no.enabled = false;
  ASSERT_TRUE(MeasureAndStore(off, batch_, ids_, target_, *store_, 8, nullptr, no).ok());
  EXPECT_EQ(off.batch_sizes, (std::vector<size_t>{8, 8, 3}));
}

}  // namespace
}  // namespace simtune
