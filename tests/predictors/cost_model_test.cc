// The cost model recovers known per-event costs from feature-encoded counts and predicts the
// run time of a workload it never saw, whatever its scale.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "simtune/metrics.h"
#include "simtune/predictor.h"

namespace simtune {
namespace {

// Run time = 0.5 ns per ALU op + 2 ns per load + 20 ns per L1D miss, 1 % noise; each group
// (workload) has its own size, so counts and times span three decades.
Dataset Events(int groups, int first_group, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 0.01);
  Dataset d;
  d.feature_names = {"q.frac.int_alu", "q.frac.load", "q.l1d.log_misses", "q.log_insn", "unrelated"};
  int rows = groups * 40;
  d.X.resize(rows, 5);
  d.y.resize(rows);
  for (int g = 0; g < groups; ++g) {
    double size = std::pow(10.0, 4 + (g + first_group) % 4);
    for (int i = 0; i < 40; ++i) {
      int r = g * 40 + i;
      double alu = size * (1 + 3 * u(rng)), load = size * (0.2 + u(rng)), miss = size * 0.05 * u(rng) + 1;
      double insn = alu + load;
      d.X(r, 0) = alu / insn;
      d.X(r, 1) = load / insn;
      d.X(r, 2) = std::log(miss);
      d.X(r, 3) = std::log(insn);
      d.X(r, 4) = u(rng);
      d.y[r] = (0.5 * alu + 2 * load + 20 * miss) * (1 + noise(rng));
      d.group.push_back(first_group + g);
      d.ids.push_back(r + 1000 * first_group);
    }
  }
  return d;
}

TEST(CostModelTest, RecoversEventCostsAndTransfersToUnseenWorkloads) {
  auto p = Predictors().Create("cost", "");
  ASSERT_TRUE(p.ok()) << p.message();
  ASSERT_TRUE((*p)->Fit(Events(4, 0, 1)).ok());
  auto model = (*p)->SaveJson();
  EXPECT_EQ(model["simulator"], "q");
  EXPECT_EQ(model["events"], (std::vector<std::string>{"class.int_alu", "class.load", "misses.l1d"}));
  EXPECT_NEAR(model["weights"][0].get<double>(), 0.5, 0.05);
  EXPECT_NEAR(model["weights"][1].get<double>(), 2.0, 0.1);
  EXPECT_NEAR(model["weights"][2].get<double>(), 20.0, 1.0);
  Dataset unseen = Events(2, 7, 2);   // groups 7, 8: never in training
  auto pred = (*p)->Predict(unseen);
  ASSERT_TRUE(pred.ok()) << pred.message();
  EXPECT_LT(Mape(unseen.y, *pred), 0.03);
  EXPECT_GT(Spearman(unseen.y, *pred), 0.95);
}

// Joined with the "mca" simulator, the cost model keeps the simulator that counts events
// (not "mca", first by name but with none of its own) and takes llvm-mca's static cycle
// estimate as one more event: run time = 1 cycle per estimated cycle + 20 per L1D miss.
TEST(CostModelTest, StaticCycleEstimateIsAnEvent) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Dataset d;
  d.feature_names = {"mca.log_cycles", "mca.log_insn", "q.l1d.log_misses", "q.log_insn"};
  const int rows = 3 * 40;
  d.X.resize(rows, 4);
  d.y.resize(rows);
  for (int r = 0; r < rows; ++r) {
    const double size = std::pow(10.0, 4 + r / 40);
    const double insn = size * (1 + u(rng)), cycles = insn * (0.4 + u(rng)),
                 miss = size * 0.05 * u(rng) + 1;
    d.X.row(r) << std::log(cycles), std::log(insn), std::log(miss), std::log(insn);
    d.y[r] = cycles + 20 * miss;
    d.group.push_back(r / 40);
    d.ids.push_back(r);
  }
  auto p = Predictors().Create("cost", "");
  ASSERT_TRUE(p.ok()) << p.message();
  ASSERT_TRUE((*p)->Fit(d).ok());
  auto model = (*p)->SaveJson();
  EXPECT_EQ(model["simulator"], "q");
  ASSERT_EQ(model["events"], (std::vector<std::string>{"insn", "misses.l1d", "cycles.mca"}));
  EXPECT_NEAR(model["weights"][1].get<double>(), 20.0, 1.0);
  EXPECT_NEAR(model["weights"][2].get<double>(), 1.0, 0.05);
  auto pred = (*p)->Predict(d);
  ASSERT_TRUE(pred.ok()) << pred.message();
  EXPECT_LT(Mape(d.y, *pred), 0.02);
}

TEST(CostModelTest, ErrorsNameWhatIsMissing) {
  Dataset d = Events(2, 0, 3);
  auto p = Predictors().Create("cost", "sim=valgrind");
  ASSERT_TRUE(p.ok());
  Status s = (*p)->Fit(d);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "training data: cost option sim=valgrind but 'valgrind.log_insn' is missing in more "
            "than half the rows");
  auto q = Predictors().Create("cost", "");
  ASSERT_TRUE((*q)->Fit(d).ok());
  Dataset lacks = d;
  lacks.feature_names[2] = "q.l2.log_misses";
  auto r = (*q)->Predict(lacks);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "input lacks feature 'q.l1d.log_misses' that the cost model was trained with");
}

}  // namespace
}  // namespace simtune
