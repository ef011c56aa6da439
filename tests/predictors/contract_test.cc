// Every registered predictor honours the Predictor contract: fit/predict shapes, scores that
// rank, strict options, and a save/load round trip that reproduces its predictions.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "simtune/metrics.h"
#include "simtune/predictor.h"
#include "simtune/strings.h"
#include "tests/predictors/synthetic.h"
#include "tests/support/file_size_limit.h"

namespace simtune {
namespace {

using testing::MakeSynthetic;
using testing::SyntheticSpec;

Dataset Train() {
  SyntheticSpec spec;
  spec.insn_count = true;
  spec.groups = 4;
  spec.rows_per_group = 40;
  return MakeSynthetic(spec);
}

Dataset HeldOut() {
  SyntheticSpec spec;
  spec.insn_count = true;
  spec.groups = 3;
  spec.rows_per_group = 30;
  spec.first_group = 2;     // groups 2, 3 seen in training; 4 not
  spec.seed = 77;
  return MakeSynthetic(spec);
}

std::string TempPath(const std::string& leaf) {
  return (std::filesystem::path(::testing::TempDir()) / ("simtune_predictors_" + leaf)).string();
}

void ExpectSamePredictions(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  ASSERT_EQ(a.size(), b.size());
  for (int64_t i = 0; i < a.size(); ++i)
    EXPECT_LE(std::abs(a[i] - b[i]), 1e-12 * std::max(1.0, std::abs(a[i]))) << "row " << i;
}

TEST(PredictorRegistryTest, ListsTheBuiltIns) {
  EXPECT_EQ(Predictors().Names(),
            (std::vector<std::string>{"cost", "dep", "gp", "insn-count", "linear", "mca", "random",
                                      "rank-avg", "ridge", "xgb", "xgb-rank"}));
  auto p = Predictors().Create("ridg", "");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.message(),
            "unknown predictor 'ridg'; did you mean 'ridge'? valid: cost, dep, gp, insn-count, "
            "linear, mca, random, rank-avg, ridge, xgb, xgb-rank");
}

class ContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Predictor> Make(const std::string& options = "") {
    // The synthetic data has no llvm-mca or dependency-model cycles: those baselines score the
    // instruction count.
    const bool mca_default = (GetParam() == "mca" || GetParam() == "dep") && options.empty();
    auto p = Predictors().Create(GetParam(), mca_default ? "feature=sim.log_insn" : options);
    EXPECT_TRUE(p.ok()) << p.message();
    return std::move(p).value();
  }
};

TEST_P(ContractTest, PredictBeforeFitIsAnError) {
  auto p = Make();
  EXPECT_TRUE(p->feature_names().empty());
  auto r = p->Predict(HeldOut());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "the " + GetParam() + " predictor has no model; call Fit or load a model first");
}

TEST_P(ContractTest, FitThenPredictGivesOneFiniteScorePerRow) {
  auto p = Make();
  EXPECT_EQ(p->name(), GetParam());
  Dataset train = Train();
  ASSERT_TRUE(p->Fit(train).ok());
  EXPECT_EQ(p->feature_names(), train.feature_names);
  Dataset test = HeldOut();
  auto scores = p->Predict(test);
  ASSERT_TRUE(scores.ok()) << scores.message();
  ASSERT_EQ(scores->size(), test.rows());
  EXPECT_TRUE(scores->array().isFinite().all());
  if (p->predicts_time()) EXPECT_TRUE((scores->array() > 0).all());

  Dataset empty = test.Subset({});
  auto none = p->Predict(empty);
  ASSERT_TRUE(none.ok()) << none.message();
  EXPECT_EQ(none->size(), 0);

  // Lower score = predicted faster: every predictor but the random baseline ranks well.
  if (GetParam() != "random") {
    for (const auto& rows : test.RowsByGroup()) {
      Eigen::VectorXd t(rows.size()), s(rows.size());
      for (size_t i = 0; i < rows.size(); ++i) {
        t[i] = test.y[rows[i]];
        s[i] = (*scores)[rows[i]];
      }
      EXPECT_GT(Spearman(t, s), 0.7);
    }
  }
}

TEST_P(ContractTest, InvalidTrainingDataIsAnError) {
  Dataset train = Train();
  train.y[3] = 0;
  Status s = Make()->Fit(train);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "training data: run time 0.000000 for candidate id 3; run times must be "
                         "finite and > 0");
}

TEST_P(ContractTest, OptionsAreCanonicalAndStrict) {
  auto p = Make();
  auto again = Predictors().Create(GetParam(), p->options());
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_EQ((*again)->options(), p->options());
  auto bad = Predictors().Create(GetParam(), "bogus=1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("'bogus'"), std::string::npos) << bad.message();
  auto junk = Predictors().Create(GetParam(), "bogus");
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.message(), GetParam() + " options 'bogus': expected key=value; got 'bogus'");
}

TEST_P(ContractTest, SaveLoadRoundTripReproducesPredictions) {
  auto p = Make();
  ASSERT_TRUE(p->Fit(Train()).ok());
  Dataset test = HeldOut();
  auto before = p->Predict(test);
  ASSERT_TRUE(before.ok());

  // In memory, through text.
  nlohmann::json file = ModelToJson(*p, 3);
  EXPECT_EQ(file["predictor"], GetParam());
  EXPECT_EQ(file["options"], p->options());
  EXPECT_EQ(file["feature_schema_version"], 3);
  EXPECT_EQ(file["feature_names"], nlohmann::json(p->feature_names()));
  auto loaded = ModelFromJson(nlohmann::json::parse(file.dump()), 3, "m.json");
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  auto after = (*loaded)->Predict(test);
  ASSERT_TRUE(after.ok()) << after.message();
  ExpectSamePredictions(*before, *after);

  // Through a file, and the reloaded model saves the same model again.
  std::string path = TempPath(GetParam() + ".json");
  ASSERT_TRUE(SaveModel(path, *p, 3).ok());
  auto from_file = LoadModel(path, 3);
  ASSERT_TRUE(from_file.ok()) << from_file.message();
  auto again = (*from_file)->Predict(test);
  ASSERT_TRUE(again.ok());
  ExpectSamePredictions(*before, *again);
  EXPECT_EQ((*from_file)->SaveJson(), nlohmann::json::parse(p->SaveJson().dump()));
  std::filesystem::remove(path);
}

TEST_P(ContractTest, SchemaMismatchIsRejected) {
  auto p = Make();
  ASSERT_TRUE(p->Fit(Train()).ok());
  std::string path = TempPath("schema_" + GetParam() + ".json");
  ASSERT_TRUE(SaveModel(path, *p, 1).ok());
  auto r = LoadModel(path, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "model " + path + " was trained with feature schema 1; this simtune uses 2");
  std::filesystem::remove(path);
}

TEST_P(ContractTest, CorruptModelIsAnError) {
  auto p = Make();
  ASSERT_TRUE(p->Fit(Train()).ok());
  nlohmann::json file = ModelToJson(*p, 1);
  file["model"] = nlohmann::json::array();
  auto r = ModelFromJson(file, 1, "m.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message().rfind("m.json: invalid model", 0), 0u) << r.message();
}

// JSON pointers of the number leaves of a model record, outside XGBoost's own booster.
void NumberLeaves(const nlohmann::json& j, const nlohmann::json::json_pointer& at,
                  std::vector<nlohmann::json::json_pointer>& out) {
  if (j.is_number()) {
    out.push_back(at);
  } else if (j.is_object()) {
    for (const auto& [key, value] : j.items())
      if (key != "booster") NumberLeaves(value, at / key, out);
  } else if (j.is_array() && !j.empty()) {
    // The first and last entries stand for the rest (a GP keeps its training rows).
    NumberLeaves(j.front(), at / 0, out);
    if (j.size() > 1) NumberLeaves(j.back(), at / (j.size() - 1), out);
  }
}

// "/features/scale/2" -> "features.scale[2]", as load errors name fields.
std::string FieldName(const nlohmann::json::json_pointer& at) {
  const std::string text = at.to_string();
  std::string out;
  if (text.empty()) return out;
  for (const auto& token : Split(text.substr(1), '/')) {
    if (!token.empty() && token.find_first_not_of("0123456789") == std::string::npos)
      out += "[" + token + "]";
    else
      out += (out.empty() ? "" : ".") + token;
  }
  return out;
}

// Every number a model holds is checked on load: a non-finite one (a model built in memory;
// JSON text cannot hold one, nlohmann refuses 1e999) used to load and predict NaN/inf; an
// integer beyond int used to be truncated.
// A candidate of a workload seen in training scores the same whichever of its workload's
// candidates are scored with it (k-fold evaluation scores a workload one fold at a time; the
// rank-avg ensemble once ranked within the batch and got rho 0.78 there).
TEST_P(ContractTest, ScoresOfASeenWorkloadDoNotDependOnTheBatch) {
  auto p = Make();
  Dataset train = Train();
  ASSERT_TRUE(p->Fit(train).ok());
  const auto groups = train.RowsByGroup();
  ASSERT_GE(groups[0].size(), 6u);
  std::vector<int64_t> all(groups[0].begin(), groups[0].end());
  std::vector<int64_t> part = {all[1], all[3], all[4]};
  auto whole = p->Predict(train.Subset(all));
  auto some = p->Predict(train.Subset(part));
  ASSERT_TRUE(whole.ok() && some.ok());
  EXPECT_DOUBLE_EQ((*some)[0], (*whole)[1]);
  EXPECT_DOUBLE_EQ((*some)[1], (*whole)[3]);
  EXPECT_DOUBLE_EQ((*some)[2], (*whole)[4]);
}

// `simtune estimate` (the TVM runner) scores executables of a workload nobody trained on one
// at a time: such lone rows must still rank (rank-avg once gave every lone row 0, so the
// runner's search saw 48 equal schedules).
TEST_P(ContractTest, LoneRowsOfAnUnseenWorkloadStillRank) {
  if (GetParam() == "random") GTEST_SKIP() << "the random baseline does not rank";
  auto p = Make();
  ASSERT_TRUE(p->Fit(Train()).ok());
  Dataset test = HeldOut();
  const auto groups = test.RowsByGroup();
  const std::vector<int64_t>& rows = groups.back();   // group 4: not in training
  ASSERT_EQ(test.group[static_cast<size_t>(rows[0])], 4);
  Eigen::VectorXd t(static_cast<int64_t>(rows.size())), s(static_cast<int64_t>(rows.size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    auto one = p->Predict(test.Subset({rows[i]}));
    ASSERT_TRUE(one.ok()) << one.message();
    ASSERT_EQ(one->size(), 1);
    t[static_cast<int64_t>(i)] = test.y[static_cast<size_t>(rows[i])];
    s[static_cast<int64_t>(i)] = (*one)[0];
  }
  EXPECT_GT(Spearman(t, s), 0.7);
}

TEST_P(ContractTest, NonFiniteNumbersAreRejectedOnLoad) {
  auto p = Make();
  ASSERT_TRUE(p->Fit(Train()).ok());
  const nlohmann::json file = ModelToJson(*p, 1);
  std::vector<nlohmann::json::json_pointer> leaves;
  NumberLeaves(file["model"], nlohmann::json::json_pointer(), leaves);
  if (GetParam() != "insn-count" && GetParam() != "mca" && GetParam() != "dep" &&
      GetParam() != "random")
    EXPECT_FALSE(leaves.empty());
  for (const auto& leaf : leaves) {
    const std::string field = FieldName(leaf);
    const std::string prefix = "m.json: invalid model: " + field + ": expected ";
    nlohmann::json bad = file;
    if (file["model"][leaf].is_number_float()) {
      for (double v : {std::numeric_limits<double>::infinity(),
                       -std::numeric_limits<double>::infinity(),
                       std::numeric_limits<double>::quiet_NaN()}) {
        bad["model"][leaf] = v;
        auto r = ModelFromJson(bad, 1, "m.json");
        ASSERT_FALSE(r.ok()) << field << " = " << v;
        EXPECT_EQ(r.message(), prefix + "a finite number; got " +
                                   (std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"));
      }
    } else {
      bad["model"][leaf] = uint64_t{4294967298};   // 2^32 + 2, which an int cast reads as 2
      auto r = ModelFromJson(bad, 1, "m.json");
      ASSERT_FALSE(r.ok()) << field;
      EXPECT_EQ(r.message().rfind(prefix + "an integer in [", 0), 0u) << r.message();
      EXPECT_NE(r.message().find("; got 4294967298"), std::string::npos) << r.message();
    }
  }
}

// Finite but degenerate values that made predictions NaN or inf.
TEST_P(ContractTest, DegenerateModelValuesAreRejectedOnLoad) {
  auto p = Make();
  ASSERT_TRUE(p->Fit(Train()).ok());
  const nlohmann::json file = ModelToJson(*p, 1);
  struct Edit {
    std::vector<std::pair<std::string, double>> set;   // pointer -> value
    std::string message;
  };
  const std::vector<Edit> edits = {
      {{{"/features/scale/0", 0.0}}, "features.scale[0]: expected a number > 0; got 0"},
      {{{"/features/scale/0", -2.0}}, "features.scale[0]: expected a number > 0; got -2"},
      {{{"/features/lo/0", 2.0}, {"/features/hi/0", 1.0}},
       "features.lo[0] is above features.hi[0] (2 > 1)"},
      {{{"/chosen/length_scale", 0.0}}, "chosen.length_scale: expected a number > 0; got 0"},
      {{{"/chosen/noise_ratio", -1.0}}, "chosen.noise_ratio: expected a number >= 0; got -1"},
      {{{"/weights/0", -1.0}}, GetParam() == "cost" ? "weights[0]: expected a number >= 0; got -1"
                                                    : ""},
      {{{"/chosen/eta", 0.0}}, "chosen.eta: expected a number > 0; got 0"},
      {{{"/chosen/max_depth", 0.0}}, "chosen.max_depth: expected an integer in [1, 64]; got 0"},
      {{{"/chosen/rounds", 2.5}}, "chosen.rounds: expected an integer in [1, 1000000]; got 2.5"},
  };
  int applied = 0;
  for (const Edit& e : edits) {
    if (e.message.empty()) continue;
    nlohmann::json bad = file;
    bool applies = true;
    for (const auto& [pointer, value] : e.set) {
      nlohmann::json::json_pointer ptr(pointer);
      if (!bad["model"].contains(ptr)) applies = false;
      else bad["model"][ptr] = value;
    }
    if (!applies) continue;
    ++applied;
    auto r = ModelFromJson(bad, 1, "m.json");
    ASSERT_FALSE(r.ok()) << e.message;
    EXPECT_EQ(r.message(), "m.json: invalid model: " + e.message);
    // Through a file, the message names the file.
    std::string path = TempPath("degenerate_" + GetParam() + ".json");
    { std::ofstream(path) << bad.dump(); }
    auto loaded = LoadModel(path, 1);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.message(), "model " + path + ": invalid model: " + e.message);
    std::filesystem::remove(path);
  }
  const std::map<std::string, int> expected = {{"linear", 3}, {"ridge", 3}, {"gp", 5},
                                               {"cost", 1},   {"xgb", 3},   {"xgb-rank", 3}};
  auto it = expected.find(GetParam());
  EXPECT_EQ(applied, it == expected.end() ? 0 : it->second);
}

// A write that fails part-way (here: a file size limit, as a full disk) is an error, and the
// model already at the path stays as it was, with no temp file left beside it.
TEST_P(ContractTest, FailedSaveLeavesTheOldModel) {
  auto p = Make();
  ASSERT_TRUE(p->Fit(Train()).ok());
  const std::filesystem::path dir = TempPath("save_" + GetParam());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "m.json").string();
  { std::ofstream(path) << "previous model"; }
  const size_t size = ModelToJson(*p, 1).dump().size();
  Status saved;
  {
    testing_support::FileSizeLimit limit(size / 2);
    ASSERT_TRUE(limit.ok());
    saved = SaveModel(path, *p, 1);
  }
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.message(), "cannot write model " + path + ": File too large");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "previous model");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1) << "a temp file was left in " << dir;
  ASSERT_TRUE(SaveModel(path, *p, 1).ok());
  EXPECT_TRUE(LoadModel(path, 1).ok());
  std::filesystem::remove_all(dir);
}

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(AllPredictors, ContractTest, ::testing::ValuesIn(Predictors().Names()),
                         TestName);

TEST(ModelFileTest, ReadErrorsNameTheFile) {
  auto missing = LoadModel("/nonexistent/m.json", 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.message(), "model /nonexistent/m.json: cannot read: No such file or directory");

  std::string path = TempPath("garbage.json");
  { std::ofstream(path) << "{not json"; }
  auto garbage = LoadModel(path, 1);
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.message(), "model " + path + ": not valid JSON");

  { std::ofstream(path) << R"({"predictor": "svm", "options": "", "feature_schema_version": 1,
                               "feature_names": [], "model": {}})"; }
  auto unknown = LoadModel(path, 1);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.message().rfind("model " + path + ": unknown predictor 'svm'", 0), 0u)
      << unknown.message();

  { std::ofstream(path) << R"({"predictor": "linear"})"; }
  auto partial = LoadModel(path, 1);
  ASSERT_FALSE(partial.ok());
  EXPECT_EQ(partial.message(), "model " + path + ": not a model file (no \"options\")");
  std::filesystem::remove(path);
}

// The schema version is compared as written, not after a cast to int.
TEST(ModelFileTest, SchemaVersionIsNotTruncated) {
  auto p = std::move(Predictors().Create("random", "").value());
  ASSERT_TRUE(p->Fit(Train()).ok());
  nlohmann::json file = ModelToJson(*p, 2);
  for (const nlohmann::json& version :
       {nlohmann::json(uint64_t{4294967298}), nlohmann::json(int64_t{-4294967294}),
        nlohmann::json(uint64_t{18446744073709551615ull})}) {
    file["feature_schema_version"] = version;
    auto r = ModelFromJson(file, 2, "m.json");
    ASSERT_FALSE(r.ok()) << version;
    EXPECT_EQ(r.message(), "m.json was trained with feature schema " + version.dump() +
                               "; this simtune uses 2");
  }
  file["feature_schema_version"] = 2;
  EXPECT_TRUE(ModelFromJson(file, 2, "m.json").ok());
}

TEST(ModelFileTest, FeatureNamesMustMatchTheModel) {
  auto p = std::move(Predictors().Create("ridge", "").value());
  ASSERT_TRUE(p->Fit(Train()).ok());
  nlohmann::json file = ModelToJson(*p, 1);
  file["feature_names"] = {"x"};
  auto r = ModelFromJson(file, 1, "m.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "m.json: feature_names do not match the model's own features");
}

TEST(OptionsTest, StrictParsing) {
  auto unknown = Predictors().Create("ridge", "fold=3");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.message(), "unknown ridge option 'fold'; did you mean 'folds'? valid: folds, seed");
  auto twice = Predictors().Create("ridge", "seed=1, seed=2");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.message(), "ridge options 'seed=1, seed=2': 'seed' given twice");
  auto bad = Predictors().Create("ridge", "folds=many");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "ridge option folds: expected an integer; got 'many'");
  auto range = Predictors().Create("xgb", "folds=1");
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(range.message(), "xgb option folds: must be in [2, 100]; got 1");
  auto empty = Predictors().Create("random", "seed=");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.message(), "random option seed: expected a value");
  auto trailing = Predictors().Create("random", "seed=1,");
  ASSERT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.message(), "random options 'seed=1,': expected key=value; got ''");
  auto none = Predictors().Create("linear", "alpha=1");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.message(), "linear takes no options; got 'alpha'");
  // rank-avg weighs its members equally unless told otherwise, however many there are.
  for (const char* members : {"members=gp+xgb", "members=ridge", "members=gp+xgb+ridge+cost"}) {
    auto ensemble = Predictors().Create("rank-avg", members);
    ASSERT_TRUE(ensemble.ok()) << members << ": " << ensemble.message();
    EXPECT_EQ((*ensemble)->options(), std::string(members) + ",weights=equal");
  }
  auto uneven = Predictors().Create("rank-avg", "members=gp+xgb,weights=1+2+1");
  ASSERT_FALSE(uneven.ok());
  EXPECT_EQ(uneven.message(), "rank-avg option weights: 3 weights for 2 members ('gp+xgb')");
  auto ok = Predictors().Create("xgb-rank", " seed = 4 , objective=ndcg");
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ((*ok)->options(), "folds=3,objective=ndcg,seed=4,threads=1");
}

}  // namespace
}  // namespace simtune
