#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include <gtest/gtest.h>

#include "simtune/metrics.h"
#include "simtune/predictor.h"
#include "tests/predictors/synthetic.h"

namespace simtune {
namespace {

using testing::MakeSynthetic;
using testing::SyntheticSpec;

std::unique_ptr<Predictor> Make(const std::string& name, const std::string& options = "") {
  auto p = Predictors().Create(name, options);
  EXPECT_TRUE(p.ok()) << p.message();
  return std::move(p).value();
}

// Held-out data: two workloads never seen in training.
Dataset Unseen() {
  SyntheticSpec spec;
  spec.groups = 2;
  spec.rows_per_group = 100;
  spec.first_group = 50;
  spec.seed = 9;
  return MakeSynthetic(spec);
}

double MeanWithinGroup(const Dataset& d, const Eigen::VectorXd& scores,
                       double (*metric)(const Eigen::VectorXd&, const Eigen::VectorXd&)) {
  double sum = 0;
  auto rows = d.RowsByGroup();
  for (const auto& r : rows) {
    Eigen::VectorXd t(r.size()), s(r.size());
    for (size_t i = 0; i < r.size(); ++i) {
      t[i] = d.y[r[i]];
      s[i] = scores[r[i]];
    }
    sum += metric(t, s);
  }
  return sum / static_cast<double>(rows.size());
}

double Ndcg10(const Eigen::VectorXd& t, const Eigen::VectorXd& s) { return NdcgAtK(t, s, 10); }

TEST(XgbTest, RegressionRanksUnseenWorkloads) {
  auto p = Make("xgb", "threads=1");
  ASSERT_TRUE(p->Fit(MakeSynthetic({})).ok());
  EXPECT_TRUE(p->predicts_time());
  Dataset test = Unseen();
  auto pred = p->Predict(test);
  ASSERT_TRUE(pred.ok()) << pred.message();
  EXPECT_GT(MeanWithinGroup(test, *pred, Spearman), 0.9);
  nlohmann::json chosen = p->SaveJson()["chosen"];
  EXPECT_TRUE(chosen.contains("max_depth") && chosen.contains("eta") && chosen.contains("rounds"));
}

TEST(XgbTest, RegressionRestoresScaleOfKnownWorkloads) {
  auto p = Make("xgb", "threads=1");
  ASSERT_TRUE(p->Fit(MakeSynthetic({})).ok());
  SyntheticSpec spec;
  spec.seed = 4;
  Dataset same = MakeSynthetic(spec);
  auto pred = p->Predict(same);
  ASSERT_TRUE(pred.ok());
  EXPECT_LT(Mape(same.y, *pred), 0.3);
}

class XgbRankTest : public ::testing::TestWithParam<std::string> {};

TEST_P(XgbRankTest, RanksUnseenWorkloads) {
  // Rows of different workloads interleaved: the predictor must group them itself.
  Dataset train = MakeSynthetic({});
  std::vector<int64_t> interleaved;
  for (int i = 0; i < 60; ++i)
    for (int g = 0; g < 6; ++g) interleaved.push_back(g * 60 + i);
  train = train.Subset(interleaved);
  auto p = Make("xgb-rank", "threads=1,objective=" + GetParam());
  ASSERT_TRUE(p->Fit(train).ok());
  EXPECT_FALSE(p->predicts_time());
  Dataset test = Unseen();
  auto pred = p->Predict(test);
  ASSERT_TRUE(pred.ok()) << pred.message();
  EXPECT_GT(MeanWithinGroup(test, *pred, Spearman), 0.85);
  // Measured about 0.91 for both objectives; a linear model on this data reaches about 0.97.
  EXPECT_GT(MeanWithinGroup(test, *pred, Ndcg10), 0.85);
}

INSTANTIATE_TEST_SUITE_P(Objectives, XgbRankTest, ::testing::Values("pairwise", "ndcg"));

TEST(XgbRankTest, UnknownObjectiveIsAnError) {
  auto p = Predictors().Create("xgb-rank", "objective=listwise");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.message(), "xgb-rank option objective: expected one of pairwise, ndcg; got 'listwise'");
}

TEST(XgbTest, HandlesMissingValuesNatively) {
  Dataset train = MakeSynthetic({});
  for (int64_t r = 0; r < train.rows(); r += 3) train.X(r, 2) = std::numeric_limits<double>::quiet_NaN();
  for (std::string name : {"xgb", "xgb-rank"}) {
    auto p = Make(name, "threads=1");
    ASSERT_TRUE(p->Fit(train).ok()) << name;
    Dataset test = Unseen();
    test.X(0, 0) = std::numeric_limits<double>::quiet_NaN();
    auto pred = p->Predict(test);
    ASSERT_TRUE(pred.ok()) << name << ": " << pred.message();
    EXPECT_TRUE(pred->array().isFinite().all()) << name;
    EXPECT_GT(MeanWithinGroup(test, *pred, Spearman), 0.85) << name;
  }
}

// The fit budget from the design: a few seconds for 2,000 candidates x 60 features. The bound
// asserted here is loose (shared, loaded test machines); the measured time is printed.
TEST(XgbTest, FitTimeAt2000By60) {
  SyntheticSpec spec;
  spec.coef.assign(60, 0.0);
  spec.coef[0] = 1.0;
  spec.coef[1] = -0.5;
  spec.coef[7] = 0.3;
  spec.groups = 10;
  spec.rows_per_group = 200;
  Dataset train = MakeSynthetic(spec);
  for (std::string name : {"xgb", "xgb-rank"}) {
    auto p = Make(name);
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(p->Fit(train).ok());
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s fit on 2000 x 60: %.2f s (chosen %s)\n", name.c_str(), s,
                p->SaveJson()["chosen"].dump().c_str());
    EXPECT_LT(s, 30.0) << name;
  }
}

}  // namespace
}  // namespace simtune
