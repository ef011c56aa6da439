#include <algorithm>
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "simtune/predictor.h"
#include "tests/predictors/synthetic.h"

namespace simtune {
namespace {

using testing::MakeSynthetic;
using testing::SyntheticSpec;

Dataset WithInsnCount() {
  SyntheticSpec spec;
  spec.insn_count = true;
  spec.groups = 2;
  spec.rows_per_group = 10;
  return MakeSynthetic(spec);
}

TEST(InsnCountTest, ScoreIsTheFeature) {
  auto p = std::move(Predictors().Create("insn-count", "").value());
  Dataset d = WithInsnCount();
  ASSERT_TRUE(p->Fit(d).ok());
  auto s = p->Predict(d);
  ASSERT_TRUE(s.ok());
  // Default feature=auto: the simulator's ROI instruction count.
  EXPECT_EQ(*s, Eigen::VectorXd(d.X.col(d.FeatureIndex("sim.log_insn"))));
}

TEST(InsnCountTest, OtherFeatureByOption) {
  auto p = std::move(Predictors().Create("insn-count", "feature=f1").value());
  Dataset d = WithInsnCount();
  ASSERT_TRUE(p->Fit(d).ok());
  auto s = p->Predict(d);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, Eigen::VectorXd(d.X.col(1)));
}

TEST(InsnCountTest, MissingFeatureIsAnError) {
  auto p = std::move(Predictors().Create("insn-count", "").value());
  Status s = p->Fit(MakeSynthetic({}));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "training data has no instruction-count feature ('<simulator>.log_insn'); name one "
            "with insn-count option feature=NAME");
  auto named = std::move(Predictors().Create("insn-count", "feature=insn_count").value());
  EXPECT_EQ(named->Fit(MakeSynthetic({})).message(),
            "training data lacks feature 'insn_count' (insn-count option feature=insn_count)");
  Dataset d = WithInsnCount();
  ASSERT_TRUE(p->Fit(d).ok());
  // A candidate without the feature ranks after every candidate with it (predictor.h).
  const int64_t c = d.FeatureIndex("sim.log_insn");
  d.X(4, c) = std::numeric_limits<double>::quiet_NaN();
  auto r = p->Predict(d);
  ASSERT_TRUE(r.ok()) << r.message();
  double worst_present = -1e300;
  for (int64_t i = 0; i < d.rows(); ++i)
    if (i != 4) worst_present = std::max(worst_present, d.X(i, c));
  EXPECT_DOUBLE_EQ((*r)[4], worst_present + 1);
  EXPECT_DOUBLE_EQ((*r)[3], d.X(3, c));
  d.X.col(c).setConstant(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(p->Predict(d).message(),
            "prediction input: feature 'sim.log_insn' is missing (NaN) in every row; the "
            "insn-count baseline scores by it");
  EXPECT_EQ(p->Fit(d).message(),
            "training data: feature 'sim.log_insn' is missing (NaN) in every row; the "
            "insn-count baseline scores by it");
}

// WithInsnCount's first two features named as the QEMU plugin's dependency timing cycles.
Dataset WithDepCycles() {
  Dataset d = WithInsnCount();
  d.feature_names[0] = "qemu.dep.log_cycles_inorder";
  d.feature_names[1] = "qemu.dep.log_cycles_ooo";
  return d;
}

// The dependency-model baseline scores the QEMU plugin's out-of-order cycles by default, the
// in-order scoreboard's with model=inorder, and names the feature it lacks.
TEST(DepBaselineTest, ScoresTheTimingModelsCycles) {
  Dataset d = WithDepCycles();
  auto ooo = std::move(Predictors().Create("dep", "").value());
  ASSERT_TRUE(ooo->Fit(d).ok());
  EXPECT_EQ(*ooo->Predict(d), Eigen::VectorXd(d.X.col(1)));
  auto inorder = std::move(Predictors().Create("dep", "model=inorder").value());
  ASSERT_TRUE(inorder->Fit(d).ok());
  EXPECT_EQ(*inorder->Predict(d), Eigen::VectorXd(d.X.col(0)));
  EXPECT_EQ(Predictors().Create("dep", "model=tomasulo").message(),
            "predictor dep option model: expected ooo or inorder; got 'tomasulo'");
  auto p = std::move(Predictors().Create("dep", "").value());
  EXPECT_EQ(p->Fit(MakeSynthetic({})).message(),
            "training data has no dependency timing feature ('<simulator>.dep.log_cycles_ooo': "
            "qemu on a riscv64 or x86_64 target); name one with dep option feature=NAME");
}

// rank-avg members take their own options after ':' (pairs separated by '/'): an ensemble of
// the in-order timing model alone ranks each workload's rows as that model's cycles do, and
// keeps the member's options through a save and load.
TEST(RankAverageTest, MembersTakeTheirOwnOptions) {
  Dataset d = WithDepCycles();
  auto e = std::move(Predictors().Create("rank-avg", "members=dep:model=inorder").value());
  ASSERT_TRUE(e->Fit(d).ok());
  Eigen::VectorXd r = e->Predict(d).value();
  int pairs = 0;
  for (int64_t i = 0; i < d.X.rows(); ++i) {
    for (int64_t j = 0; j < d.X.rows(); ++j) {
      if (d.group[static_cast<size_t>(i)] != d.group[static_cast<size_t>(j)]) continue;
      if (d.X(i, 0) < d.X(j, 0)) {
        EXPECT_LT(r[i], r[j]) << i << " " << j;
        ++pairs;
      }
    }
  }
  EXPECT_GT(pairs, 0);
  const nlohmann::json saved = e->SaveJson();
  EXPECT_EQ(saved.at("members").at(0).at("options"), "feature=auto,model=inorder");
  auto loaded = std::move(Predictors().Create("rank-avg", "members=dep:model=inorder").value());
  ASSERT_TRUE(loaded->LoadJson(saved).ok());
  EXPECT_EQ(loaded->Predict(d).value(), r);
  // A member's bad option fails when the ensemble is made, naming the member.
  EXPECT_EQ(Predictors().Create("rank-avg", "members=gp+dep:model=tomasulo").message(),
            "rank-avg option members: dep: predictor dep option model: expected ooo or inorder; "
            "got 'tomasulo'");
}

TEST(RandomTest, SeededAndIndependentOfBatch) {
  Dataset d = WithInsnCount();
  auto a = std::move(Predictors().Create("random", "seed=1").value());
  auto b = std::move(Predictors().Create("random", "seed=2").value());
  ASSERT_TRUE(a->Fit(d).ok());
  ASSERT_TRUE(b->Fit(d).ok());
  Eigen::VectorXd sa = a->Predict(d).value();
  Eigen::VectorXd sb = b->Predict(d).value();
  EXPECT_NE(sa, sb);
  EXPECT_TRUE(((sa.array() >= 0) && (sa.array() < 1)).all());
  // A candidate's score does not depend on the other rows scored with it.
  Eigen::VectorXd part = a->Predict(d.Subset({7, 3})).value();
  EXPECT_EQ(part[0], sa[7]);
  EXPECT_EQ(part[1], sa[3]);
  // Not constant: distinct ids get distinct scores.
  EXPECT_GT(sa.maxCoeff() - sa.minCoeff(), 0.3);
}

}  // namespace
}  // namespace simtune
