// Training data from a real SQLite store: joining statistics of several simulators with
// reference results, leaving out candidates that lack one simulator, model files with their
// data spec and the errors that name what is wrong.
#include "tests/support/scratch_test.h"
#include "tests/support/file_size_limit.h"
#include "simtune/training.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

namespace simtune {
namespace {

namespace fs = std::filesystem;

class TrainingTest : public testing_support::ScratchTest {
 protected:
  TrainingTest() : ScratchTest("simtune_training_") {}

  void SetUp() override {
    ScratchTest::SetUp();
    auto s = Store::Open(dir_ / "t.db");
    ASSERT_TRUE(s.ok()) << s.message();
    store_ = std::move(s).value();
  }
  // A candidate of gemm 8x8x8 with an artifact (flops 1024) on x86_64-host.
  int64_t AddCandidate(const std::string& config) {
    auto w = ParseWorkload("gemm:M=8,N=8,K=8");
    EXPECT_TRUE(w.ok());
    auto wid = store_->AddWorkload(*w);
    EXPECT_TRUE(wid.ok());
    wid_ = *wid;
    auto id = store_->AddCandidate(*wid, config);
    EXPECT_TRUE(id.ok()) << id.message();
    Artifact a;
    a.status = "ok";
    a.target = "x86_64-host";
    a.flops = 1024;
    a.hash = "h" + std::to_string(*id);
    EXPECT_TRUE(store_->AddArtifact(*id, a).ok());
    return *id;
  }

  void AddSim(int64_t id, const std::string& sim, uint64_t insns, const std::string& status = "ok") {
    SimRow row;
    row.candidate_id = id;
    row.target = "x86_64-host";
    row.simulator = sim;
    row.artifact_hash = "h" + std::to_string(id);
    row.status = status;
    SimStats s;
    s.simulator = sim;
    s.insn_count = insns;
    row.stats_json = status == "ok" ? s.ToJson().dump() : "{}";
    ASSERT_TRUE(store_->AddSimResult(row).ok());
  }

  void AddRef(int64_t id, double value, const std::string& status = "ok") {
    RefRow row;
    row.candidate_id = id;
    row.target = "x86_64-host";
    row.reference = "native";
    row.options = "rounds=7";
    row.artifact_hash = "h" + std::to_string(id);
    row.result.status = status;
    row.result.unit = "ns";
    row.result.value = value;
    row.result.spread = 0.05;
    ASSERT_TRUE(store_->AddRefResult(row).ok());
  }

  std::string ConfigText(int tile) {
    auto w = ParseWorkload("gemm:M=8,N=8,K=8");
    auto space = MakeSpace(*w);
    std::string text;
    (*space)->Enumerate([&](const Config& c) {
      text = FormatConfig(c, (*space)->knobs());
      return --tile > 0;
    });
    return text;
  }

  std::unique_ptr<Store> store_;
  int64_t wid_ = 0;
};

// After a rebuild with another hash, the old artifact's statistics and time are not training
// data for the new one (issue 16, item 3).
TEST_F(TrainingTest, LeavesOutResultsOfAnOlderArtifact) {
  int64_t a = AddCandidate(ConfigText(1));
  int64_t b = AddCandidate(ConfigText(2));
  for (int64_t id : {a, b}) {
    AddSim(id, "qemu", 1000);
    AddRef(id, 100);
  }
  Artifact rebuilt;
  rebuilt.status = "ok";
  rebuilt.target = "x86_64-host";
  rebuilt.hash = "edited";
  ASSERT_TRUE(store_->AddArtifact(b, rebuilt).ok());
  DataSpec spec;
  spec.simulators = {"qemu"};
  size_t missing = 0;
  auto rows = LoadCandidateData(*store_, {}, spec, &missing);
  ASSERT_TRUE(rows.ok()) << rows.message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].candidate_id, a);
  EXPECT_EQ(missing, 0u);
}

TEST_F(TrainingTest, JoinsSimulatorsAndLatestOkReference) {
  int64_t a = AddCandidate(ConfigText(1));
  int64_t b = AddCandidate(ConfigText(2));
  int64_t c = AddCandidate(ConfigText(3));
  AddSim(a, "qemu", 1000);
  AddSim(a, "valgrind", 1010);
  AddSim(b, "qemu", 4000);
  AddSim(b, "valgrind", 4040);
  AddSim(c, "qemu", 2000);          // no valgrind row: left out, counted
  AddRef(a, 100);
  AddRef(a, 90);                    // latest ok wins
  AddRef(a, 1, "failed");           // failed rows never count
  AddRef(c, 50);
  DataSpec spec;
  spec.simulators = {"qemu", "valgrind"};
  size_t missing = 0;
  auto rows = LoadCandidateData(*store_, {}, spec, &missing);
  ASSERT_TRUE(rows.ok()) << rows.message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(missing, 1u);
  EXPECT_EQ((*rows)[0].candidate_id, a);
  ASSERT_TRUE((*rows)[0].ref_value.has_value());
  EXPECT_DOUBLE_EQ(*(*rows)[0].ref_value, 90);
  EXPECT_FALSE((*rows)[1].ref_value.has_value());
  EXPECT_NEAR((*rows)[0].features.at("qemu.log_insn"), std::log(1000.0), 1e-12);
  EXPECT_NEAR((*rows)[0].features.at("valgrind.log_insn"), std::log(1010.0), 1e-12);
  EXPECT_NEAR((*rows)[0].features.at("qemu.log_insn_per_flop"), std::log(1000.0 / 1024), 1e-12);

  Dataset d = ToDataset(*rows);
  EXPECT_EQ(d.rows(), 2);
  EXPECT_TRUE(std::isnan(d.y[1]));
  EXPECT_EQ(d.group[0], wid_);
  EXPECT_GE(d.FeatureIndex("qemu.log_insn.rel"), 0);
  Dataset no_rel = ToDataset(*rows, {}, false);
  EXPECT_LT(no_rel.FeatureIndex("qemu.log_insn.rel"), 0);
}

TEST_F(TrainingTest, UnknownWorkloadIsAnError) {
  DataSpec spec;
  auto rows = LoadCandidateData(*store_, {"gemm:M=4,N=4,K=4"}, spec);
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.message(), "workload 'gemm:M=4,N=4,K=4' is not in the store");
}

TEST_F(TrainingTest, ModelFileKeepsTheDataSpec) {
  int64_t ids[4];
  for (int i = 0; i < 4; ++i) {
    ids[i] = AddCandidate(ConfigText(i + 1));
    AddSim(ids[i], "qemu", 1000 * (i + 1));
    AddRef(ids[i], 10.0 * (i + 1));
  }
  DataSpec spec;
  spec.features.relative = false;
  auto rows = LoadCandidateData(*store_, {}, spec);
  ASSERT_TRUE(rows.ok());
  Dataset d = ToDataset(*rows, {}, false);
  auto p = Predictors().Create("linear", "");
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->Fit(d).ok());
  std::string path = (dir_ / "m.json").string();
  ASSERT_TRUE(SaveTrainedModel(path, **p, spec, {{"rows", 4}}).ok());
  auto m = LoadTrainedModel(path);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->data.ToJson(), spec.ToJson());
  auto a = (*p)->Predict(d);
  auto b = m->predictor->Predict(ToDataset(*rows, m->predictor->feature_names()));
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 4; ++i) EXPECT_NEAR((*a)[i], (*b)[i], 1e-12 * std::abs((*a)[i]));

  // A bare predictor file has no data spec; another schema version is refused by name.
  nlohmann::json j = ModelToJson(**p, kFeatureSchemaVersion);
  std::ofstream(dir_ / "bare.json") << j.dump();
  auto bare = LoadTrainedModel((dir_ / "bare.json").string());
  ASSERT_FALSE(bare.ok());
  EXPECT_EQ(bare.message(), "model " + (dir_ / "bare.json").string() +
                                ": no \"data\" (a bare predictor file; train it with `simtune train`)");
  j = ModelToJson(**p, kFeatureSchemaVersion - 1);
  j["data"] = spec.ToJson();
  std::ofstream(dir_ / "old.json") << j.dump();
  auto old = LoadTrainedModel((dir_ / "old.json").string());
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.message(), "model " + (dir_ / "old.json").string() + " was trained with feature schema " +
                               std::to_string(kFeatureSchemaVersion - 1) + "; this simtune uses " +
                               std::to_string(kFeatureSchemaVersion));
  j = ModelToJson(**p, kFeatureSchemaVersion);
  j["data"] = spec.ToJson();
  j["data"]["simulator"] = "qemu";
  std::ofstream(dir_ / "typo.json") << j.dump();
  auto typo = LoadTrainedModel((dir_ / "typo.json").string());
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.message().find("unknown data spec key 'simulator'; did you mean 'simulators'?"),
            std::string::npos)
      << typo.message();
}

// The unit of a model's predictions (issue 14 friction 5): recorded at training from the
// reference rows, "score" for a predictor that only orders, inferred for older files.
TEST_F(TrainingTest, ModelFileRecordsTheUnitOfItsPredictions) {
  int64_t ids[4];
  for (int i = 0; i < 4; ++i) {
    ids[i] = AddCandidate(ConfigText(i + 1));
    AddSim(ids[i], "qemu", 1000 * (i + 1));
    AddRef(ids[i], 10.0 * (i + 1));
  }
  DataSpec spec;
  spec.features.relative = false;
  auto rows = LoadCandidateData(*store_, {}, spec);
  ASSERT_TRUE(rows.ok());
  auto unit = ReferenceUnit(*rows);
  ASSERT_TRUE(unit.ok()) << unit.message();
  EXPECT_EQ(*unit, "ns");
  Dataset d = ToDataset(*rows, {}, false);
  std::string path = (dir_ / "m.json").string();
  for (const auto& [name, options, want] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"linear", "", "ns"}, {"insn-count", "feature=qemu.log_insn", "score"}}) {
    auto p = Predictors().Create(name, options);
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE((*p)->Fit(d).ok());
    ASSERT_TRUE(SaveTrainedModel(path, **p, spec, {{"rows", 4}, {"unit", *unit}}).ok());
    auto m = LoadTrainedModel(path);
    ASSERT_TRUE(m.ok()) << m.message();
    EXPECT_EQ(m->unit, want) << name;
  }
  // Files from before the unit was recorded: cycles for rvsim, else ns.
  auto p = Predictors().Create("linear", "");
  ASSERT_TRUE((*p)->Fit(d).ok());
  DataSpec rvsim = spec;
  rvsim.reference = "rvsim";
  ASSERT_TRUE(SaveTrainedModel(path, **p, rvsim, {{"rows", 4}}).ok());
  EXPECT_EQ(LoadTrainedModel(path)->unit, "cycles");
  ASSERT_TRUE(SaveTrainedModel(path, **p, spec, {{"rows", 4}, {"unit", 7}}).ok());
  EXPECT_EQ(LoadTrainedModel(path).message(), "model " + path + ": trained_on.unit must be a non-empty string; got 7");

  // Rows that mix units cannot train one model.
  std::vector<CandidateData> mixed = *rows;
  mixed[2].ref_unit = "cycles";
  EXPECT_EQ(ReferenceUnit(mixed).message(),
            "the reference results mix units: ns and cycles (candidate " + std::to_string(mixed[2].candidate_id) +
                "); train on one reference at a time");
}

TEST(ModelMismatch, WarnsAboutEachDifference) {
  DataSpec trained;
  trained.simulators = {"qemu", "valgrind"};
  EXPECT_TRUE(ModelMismatchWarnings("model m.json", trained, trained).empty());
  DataSpec used = trained;
  used.simulators = {"valgrind", "qemu"};   // order does not matter
  EXPECT_TRUE(ModelMismatchWarnings("model m.json", trained, used).empty());
  used.sim_target = "riscv64-rvsim-p550";
  used.reference = "rvsim";
  used.simulators = {"spike"};
  auto w = ModelMismatchWarnings("model m.json", trained, used);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0], "model m.json was trained on statistics simulated for x86_64-host; here they come from "
                  "riscv64-rvsim-p550");
  EXPECT_EQ(w[1], "model m.json was trained on reference native (x86_64-host); here it ranks for rvsim "
                  "(riscv64-rvsim-p550): its predictions are in the units and behaviour of the former");
  EXPECT_EQ(w[2], "model m.json was trained on statistics of qemu,valgrind; here of spike");
}

// A model write that fails part-way (a file size limit standing in for a full disk) is an
// error and never replaces the model at the path: the last bytes used to sit in the stream's
// buffer, unchecked, when the truncated file was renamed into place.
TEST_F(TrainingTest, FailedSaveLeavesTheOldModel) {
  int64_t ids[4];
  for (int i = 0; i < 4; ++i) {
    ids[i] = AddCandidate(ConfigText(i + 1));
    AddSim(ids[i], "qemu", 1000 * (i + 1));
    AddRef(ids[i], 10.0 * (i + 1));
  }
  DataSpec spec;
  auto rows = LoadCandidateData(*store_, {}, spec);
  ASSERT_TRUE(rows.ok());
  auto p = Predictors().Create("random", "");
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->Fit(ToDataset(*rows, {}, true)).ok());
  const std::string path = (dir_ / "m.json").string();
  { std::ofstream(path) << "previous model"; }
  Status saved;
  {
    testing_support::FileSizeLimit limit(64);
    ASSERT_TRUE(limit.ok());
    saved = SaveTrainedModel(path, **p, spec, {{"rows", 4}});
  }
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.message(), "cannot write model " + path + ": File too large");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "previous model");
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir_))
    if (entry.path().filename() != "t.db" && entry.path().filename().string().rfind("t.db", 0) != 0)
      left.push_back(entry.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"m.json"});
  ASSERT_TRUE(SaveTrainedModel(path, **p, spec, {{"rows", 4}}).ok());
  EXPECT_TRUE(LoadTrainedModel(path).ok());
}

}  // namespace
}  // namespace simtune
