#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <gtest/gtest.h>

#include "simtune/metrics.h"
#include "simtune/predictor.h"
#include "tests/predictors/synthetic.h"

namespace simtune {
namespace {

Eigen::VectorXd V(std::initializer_list<double> values) {
  Eigen::VectorXd v(static_cast<int64_t>(values.size()));
  int64_t i = 0;
  for (double x : values) v[i++] = x;
  return v;
}

TEST(MetricsTest, TopKPercent) {
  EXPECT_DOUBLE_EQ(TopKPercent(V({10, 20, 30, 40}), V({2, 1, 3, 4})), 50.0);
  EXPECT_DOUBLE_EQ(TopKPercent(V({10, 20, 30, 40}), V({1, 2, 3, 4})), 25.0);
  EXPECT_DOUBLE_EQ(TopKPercent(V({10, 20, 30, 40}), V({4, 3, 2, 1})), 100.0);
  // Rank 1 of 200 -> 0.5 %.
  Eigen::VectorXd t = Eigen::VectorXd::LinSpaced(200, 1.0, 200.0);
  EXPECT_DOUBLE_EQ(TopKPercent(t, t), 0.5);
}

TEST(MetricsTest, TopKPercentTiesAreConservative) {
  // The best (10) ties with 20 and 30 on score: it counts at the worst of the three positions.
  EXPECT_DOUBLE_EQ(TopKPercent(V({10, 20, 30, 40}), V({1, 1, 1, 2})), 75.0);
  // Two truly-best candidates: the first one found counts.
  EXPECT_DOUBLE_EQ(TopKPercent(V({10, 10, 20}), V({3, 1, 2})), 100.0 / 3.0);
}

TEST(MetricsTest, Regret) {
  EXPECT_DOUBLE_EQ(Regret(V({10, 20, 30, 40}), V({2, 1, 3, 4})), 2.0);
  EXPECT_DOUBLE_EQ(Regret(V({10, 20, 30, 40}), V({1, 2, 3, 4})), 1.0);
  // Tie for the predicted best between 10 and 30: the slower one is taken.
  EXPECT_DOUBLE_EQ(Regret(V({10, 20, 30, 40}), V({1, 2, 1, 4})), 3.0);
}

TEST(MetricsTest, RegretVerifyTopK) {
  Eigen::VectorXd t = V({10, 20, 30, 40, 50, 60});
  Eigen::VectorXd s = V({6, 1, 2, 3, 4, 5});   // the best is predicted last
  EXPECT_DOUBLE_EQ(RegretVerifyTopK(t, s, 1), 2.0);
  EXPECT_DOUBLE_EQ(RegretVerifyTopK(t, s, 5), 2.0);
  EXPECT_DOUBLE_EQ(RegretVerifyTopK(t, s, 6), 1.0);
  EXPECT_DOUBLE_EQ(RegretVerifyTopK(t, s, 100), 1.0);   // k > n: all are verified
  Eigen::VectorXd s2 = V({3, 1, 2, 4, 5, 6});
  EXPECT_DOUBLE_EQ(RegretVerifyTopK(t, s2, 2), 2.0);
  EXPECT_DOUBLE_EQ(RegretVerifyTopK(t, s2, 3), 1.0);
  EXPECT_DOUBLE_EQ(RegretVerifyTopK(t, s2), 1.0);       // default k = 5
}

TEST(MetricsTest, Spearman) {
  // Rank differences 1, 1, 0, 0: rho = 1 - 6 * 2 / (4 * 15) = 0.8.
  EXPECT_NEAR(Spearman(V({10, 20, 30, 40}), V({2, 1, 3, 4})), 0.8, 1e-12);
  EXPECT_NEAR(Spearman(V({10, 20, 30, 40}), V({4, 3, 2, 1})), -1.0, 1e-12);
  // With a tie: score ranks 1.5, 1.5, 3, 4 -> 4.5 / sqrt(5 * 4.5).
  EXPECT_NEAR(Spearman(V({1, 2, 3, 4}), V({1, 1, 2, 3})), 4.5 / std::sqrt(22.5), 1e-12);
  EXPECT_TRUE(std::isnan(Spearman(V({1, 2, 3}), V({5, 5, 5}))));
  EXPECT_TRUE(std::isnan(Spearman(V({1}), V({5}))));
}

TEST(MetricsTest, KendallTauBWithTies) {
  // No ties: 5 concordant, 1 discordant of 6 pairs.
  EXPECT_NEAR(KendallTauB(V({1, 2, 3, 4}), V({2, 1, 3, 4})), 4.0 / 6.0, 1e-12);
  // Score tie in one pair: 5 concordant, 0 discordant; (6 - 0) and (6 - 1) untied pairs.
  EXPECT_NEAR(KendallTauB(V({1, 2, 3, 4}), V({1, 1, 2, 3})), 5.0 / std::sqrt(30.0), 1e-12);
  // Ties on both sides: true (1,2) tie, score (3,4) tie; pairs (1,3),(1,4),(2,3),(2,4)
  // concordant, (3,4) vs (1,2) tied -> 4 / sqrt(5 * 5).
  EXPECT_NEAR(KendallTauB(V({1, 1, 2, 3}), V({1, 2, 3, 3})), 4.0 / 5.0, 1e-12);
  // A discordant pair and a tie: 4 concordant, 1 discordant -> 3 / sqrt(30).
  EXPECT_NEAR(KendallTauB(V({1, 2, 3, 4}), V({2, 1, 3, 3})), 3.0 / std::sqrt(30.0), 1e-12);
  EXPECT_TRUE(std::isnan(KendallTauB(V({1, 2}), V({3, 3}))));
}

TEST(MetricsTest, NdcgAtK) {
  // Predicted order 20, 40, 10; relevance = 10 / time = 0.5, 0.25, 1.
  Eigen::VectorXd t = V({10, 20, 40}), s = V({3, 1, 2});
  const double l3 = std::log2(3.0);
  EXPECT_NEAR(NdcgAtK(t, s, 3), (0.5 + 0.25 / l3 + 1.0 / 2) / (1.0 + 0.5 / l3 + 0.25 / 2), 1e-12);
  EXPECT_NEAR(NdcgAtK(t, s, 1), 0.5, 1e-12);
  EXPECT_NEAR(NdcgAtK(t, V({1, 2, 3}), 10), 1.0, 1e-12);   // ideal order, k > n
  // Ties are ordered slowest first: 40 before 10.
  EXPECT_NEAR(NdcgAtK(t, V({2, 2, 2}), 1), 0.25, 1e-12);
}

TEST(MetricsTest, Mape) {
  EXPECT_NEAR(Mape(V({10, 20}), V({11, 15})), 0.175, 1e-12);
  EXPECT_DOUBLE_EQ(Mape(V({10, 20}), V({10, 20})), 0.0);
}

TEST(MetricsTest, EvaluateWorkloadFillsEveryMetric) {
  WorkloadMetrics m = EvaluateWorkload(V({10, 20, 30, 40}), V({2, 1, 3, 4}), false, {2, 3});
  EXPECT_EQ(m.candidates, 4);
  EXPECT_DOUBLE_EQ(m.top_k_percent, 50.0);
  EXPECT_DOUBLE_EQ(m.regret, 2.0);
  EXPECT_DOUBLE_EQ(m.regret_verify_top_k, 1.0);
  EXPECT_NEAR(m.spearman, 0.8, 1e-12);
  EXPECT_NEAR(m.kendall_tau_b, 4.0 / 6.0, 1e-12);
  EXPECT_NEAR(m.ndcg_at_k, NdcgAtK(V({10, 20, 30, 40}), V({2, 1, 3, 4}), 3), 1e-15);
  EXPECT_TRUE(std::isnan(m.mape));
  EXPECT_TRUE(m.ToJson()["mape"].is_null());
  WorkloadMetrics r = EvaluateWorkload(V({10, 20}), V({11, 15}), true);
  EXPECT_NEAR(r.mape, 0.175, 1e-12);
}

TEST(MetricsTest, AggregateMeanAndWorst) {
  WorkloadMetrics a, b;
  a.group = 1;
  a.candidates = 10;
  a.top_k_percent = 10;
  a.regret = 1.0;
  a.regret_verify_top_k = 1.0;
  a.spearman = 0.9;
  a.kendall_tau_b = 0.8;
  a.ndcg_at_k = 0.95;
  a.mape = std::numeric_limits<double>::quiet_NaN();
  b = a;
  b.group = 2;
  b.candidates = 30;
  b.top_k_percent = 30;
  b.regret = 1.5;
  b.spearman = 0.5;
  b.ndcg_at_k = 0.75;
  MetricsSummary s = Aggregate({a, b});
  EXPECT_EQ(s.workloads, 2);
  EXPECT_EQ(s.mean.candidates, 40);
  EXPECT_DOUBLE_EQ(s.mean.top_k_percent, 20);
  EXPECT_DOUBLE_EQ(s.worst.top_k_percent, 30);
  EXPECT_DOUBLE_EQ(s.mean.regret, 1.25);
  EXPECT_DOUBLE_EQ(s.worst.regret, 1.5);
  EXPECT_DOUBLE_EQ(s.mean.spearman, 0.7);
  EXPECT_DOUBLE_EQ(s.worst.spearman, 0.5);
  EXPECT_DOUBLE_EQ(s.worst.ndcg_at_k, 0.75);
  EXPECT_DOUBLE_EQ(s.worst.kendall_tau_b, 0.8);
  EXPECT_TRUE(std::isnan(s.mean.mape));
  EXPECT_TRUE(std::isnan(s.worst.mape));
  EXPECT_EQ(s.mean.group, -1);
  EXPECT_EQ(s.ToJson()["worst"]["regret"], 1.5);
}

// A dataset whose instruction count equals the run time: the insn-count baseline (default
// feature: sim.log_insn) is an oracle, so every protocol must report perfect rankings.
Dataset Oracle(int groups, int rows_per_group) {
  testing::SyntheticSpec spec;
  spec.groups = groups;
  spec.rows_per_group = rows_per_group;
  spec.insn_count = true;
  Dataset d = testing::MakeSynthetic(spec);
  d.X.col(d.FeatureIndex("insn_count")) = d.y;
  d.X.col(d.FeatureIndex("sim.log_insn")) = d.y.array().log();
  return d;
}

PredictorFactory Factory(const std::string& name) {
  return [name] { return Predictors().Create(name, ""); };
}

TEST(ProtocolTest, KFoldWithinWorkloadScoresOutOfFoldOverTheWholeWorkload) {
  auto r = KFoldWithinWorkload(Oracle(3, 10), Factory("insn-count"), 5, 1);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->size(), 3u);
  for (const WorkloadMetrics& m : *r) {
    EXPECT_EQ(m.folds, 5);
    EXPECT_EQ(m.candidates, 10);
    EXPECT_DOUBLE_EQ(m.top_k_percent, 10.0);   // out-of-fold scores of all 10: best found first
    EXPECT_DOUBLE_EQ(m.regret, 1.0);
    EXPECT_DOUBLE_EQ(m.spearman, 1.0);
    EXPECT_DOUBLE_EQ(m.kendall_tau_b, 1.0);
    EXPECT_DOUBLE_EQ(m.ndcg_at_k, 1.0);
    EXPECT_TRUE(std::isnan(m.mape));
  }
  EXPECT_EQ((*r)[2].group, 2);
}

TEST(ProtocolTest, LeaveOneWorkloadOut) {
  auto r = LeaveOneWorkloadOut(Oracle(3, 20), Factory("insn-count"));
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->size(), 3u);
  for (const WorkloadMetrics& m : *r) {
    EXPECT_EQ(m.candidates, 20);
    EXPECT_DOUBLE_EQ(m.top_k_percent, 5.0);
    EXPECT_DOUBLE_EQ(m.regret_verify_top_k, 1.0);
  }
  // A regressor trained on other workloads ranks the held-out one.
  testing::SyntheticSpec spec;
  spec.groups = 4;
  spec.rows_per_group = 40;
  auto ridge = LeaveOneWorkloadOut(testing::MakeSynthetic(spec), Factory("ridge"));
  ASSERT_TRUE(ridge.ok()) << ridge.message();
  MetricsSummary s = Aggregate(*ridge);
  EXPECT_GT(s.worst.spearman, 0.95);
  EXPECT_LE(s.worst.top_k_percent, 10.0);
  EXPECT_FALSE(std::isnan(s.mean.mape));
}

// score_groups: only the named workloads are held out and scored, each against a model of every
// other workload, so their metrics equal those of the full run; the other rows are not scored.
TEST(ProtocolTest, LeaveOneWorkloadOutScoresOnlyTheChosenGroups) {
  testing::SyntheticSpec spec;
  spec.groups = 5;
  spec.rows_per_group = 30;
  Dataset d = testing::MakeSynthetic(spec);
  OutOfFold all_oof, some_oof;
  auto all = LeaveOneWorkloadOut(d, Factory("ridge"), {}, &all_oof);
  ASSERT_TRUE(all.ok()) << all.message();
  const std::vector<int> groups = d.Groups();
  const std::set<int> chosen = {groups[1], groups[3]};
  auto some = LeaveOneWorkloadOut(d, Factory("ridge"), {}, &some_oof, &chosen);
  ASSERT_TRUE(some.ok()) << some.message();
  ASSERT_EQ(some->size(), 2u);
  for (const WorkloadMetrics& m : *some) {
    ASSERT_TRUE(chosen.count(m.group)) << m.group;
    auto same = std::find_if(all->begin(), all->end(), [&](const WorkloadMetrics& a) { return a.group == m.group; });
    ASSERT_NE(same, all->end());
    EXPECT_DOUBLE_EQ(m.spearman, same->spearman);
    EXPECT_DOUBLE_EQ(m.regret, same->regret);
  }
  for (int64_t i = 0; i < d.rows(); ++i) {
    if (chosen.count(d.group[static_cast<size_t>(i)]))
      EXPECT_DOUBLE_EQ(some_oof.scores[i], all_oof.scores[i]) << i;
    else
      EXPECT_TRUE(std::isnan(some_oof.scores[i])) << i;
  }
}

// The out-of-fold scores are the ones the metrics were computed from (eval --json writes them).
TEST(ProtocolTest, OutOfFoldScoresReproduceTheMetrics) {
  testing::SyntheticSpec spec;
  spec.groups = 3;
  spec.rows_per_group = 20;
  Dataset d = testing::MakeSynthetic(spec);
  for (bool lowo : {false, true}) {
    OutOfFold oof;
    auto r = lowo ? LeaveOneWorkloadOut(d, Factory("ridge"), {}, &oof)
                  : KFoldWithinWorkload(d, Factory("ridge"), 4, 7, {}, &oof);
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_EQ(oof.scores.size(), d.rows());
    EXPECT_TRUE(oof.predicts_time) << "ridge predicts run time";
    std::vector<std::vector<int64_t>> by_group = d.RowsByGroup();
    for (size_t g = 0; g < by_group.size(); ++g) {
      Eigen::VectorXd truth(static_cast<int64_t>(by_group[g].size())), scores(truth.size());
      for (size_t i = 0; i < by_group[g].size(); ++i) {
        truth[static_cast<int64_t>(i)] = d.y[by_group[g][i]];
        scores[static_cast<int64_t>(i)] = oof.scores[by_group[g][i]];
      }
      EXPECT_DOUBLE_EQ(Spearman(truth, scores), (*r)[g].spearman) << (lowo ? "lowo" : "kfold") << " group " << g;
      EXPECT_DOUBLE_EQ(Mape(truth, scores), (*r)[g].mape) << (lowo ? "lowo" : "kfold") << " group " << g;
    }
  }
}

TEST(ProtocolTest, RandomBaselineIsWorseThanOracle) {
  auto r = LeaveOneWorkloadOut(Oracle(4, 50), Factory("random"));
  ASSERT_TRUE(r.ok());
  EXPECT_LT(Aggregate(*r).mean.spearman, 0.5);
}

TEST(ProtocolTest, ErrorsNameTheProblem) {
  auto k1 = KFoldWithinWorkload(Oracle(2, 10), Factory("insn-count"), 1, 0);
  ASSERT_FALSE(k1.ok());
  EXPECT_EQ(k1.message(), "k-fold within workload: k must be >= 2; got 1");
  auto small = KFoldWithinWorkload(Oracle(2, 3), Factory("insn-count"), 5, 0);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.message(),
            "k-fold within workload: workload group 0 has 3 candidates; k=5 needs at least 5");
  auto one = LeaveOneWorkloadOut(Oracle(1, 10), Factory("insn-count"));
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.message(), "leave-one-workload-out needs at least 2 workloads; got 1");
  auto fit = LeaveOneWorkloadOut(Oracle(2, 10), Factory("insn-count"))->size();
  EXPECT_EQ(fit, 2u);
  testing::SyntheticSpec spec;
  spec.groups = 2;
  auto no_feature = LeaveOneWorkloadOut(testing::MakeSynthetic(spec), Factory("insn-count"));
  ASSERT_FALSE(no_feature.ok());
  EXPECT_EQ(no_feature.message(),
            "workload group 0 held out: training data has no instruction-count feature "
            "('<simulator>.log_insn'); name one with insn-count option feature=NAME");
}

}  // namespace
}  // namespace simtune
