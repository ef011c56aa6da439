// Every registered predictor honours the Predictor contract: fit/predict shapes, scores that
// rank, strict options, and a save/load round trip that reproduces its predictions.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "simtune/metrics.h"
#include "simtune/predictor.h"
#include "tests/predictors/synthetic.h"

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
  EXPECT_EQ(Predictors().Names(), (std::vector<std::string>{"cost", "gp", "insn-count", "linear",
                                                            "random", "ridge", "xgb", "xgb-rank"}));
  auto p = Predictors().Create("ridg", "");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.message(),
            "unknown predictor 'ridg'; did you mean 'ridge'? valid: cost, gp, insn-count, linear, "
            "random, ridge, xgb, xgb-rank");
}

class ContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Predictor> Make(const std::string& options = "") {
    auto p = Predictors().Create(GetParam(), options);
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
  auto ok = Predictors().Create("xgb-rank", " seed = 4 , objective=ndcg");
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ((*ok)->options(), "folds=3,objective=ndcg,seed=4,threads=1");
}

}  // namespace
}  // namespace simtune
