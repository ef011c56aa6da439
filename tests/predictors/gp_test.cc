#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <gtest/gtest.h>

#include "simtune/metrics.h"
#include "simtune/predictor.h"
#include "tests/predictors/synthetic.h"

namespace simtune {
namespace {

using testing::MakeSynthetic;
using testing::SyntheticSpec;

class GpTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GpTest, RanksHeldOutRowsAndPredictsTime) {
  auto created = Predictors().Create("gp", "kernel=" + GetParam());
  ASSERT_TRUE(created.ok()) << created.message();
  auto p = std::move(created).value();
  ASSERT_TRUE(p->Fit(MakeSynthetic({})).ok());
  EXPECT_TRUE(p->predicts_time());

  SyntheticSpec spec;
  spec.seed = 5;
  Dataset same = MakeSynthetic(spec);     // new rows of the training workloads
  auto pred = p->Predict(same);
  ASSERT_TRUE(pred.ok()) << pred.message();
  EXPECT_LT(Mape(same.y, *pred), 0.2);
  for (const auto& rows : same.RowsByGroup()) {
    Eigen::VectorXd t(rows.size()), s(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      t[i] = same.y[rows[i]];
      s[i] = (*pred)[rows[i]];
    }
    EXPECT_GT(Spearman(t, s), 0.9);
  }

  spec.first_group = 40;
  spec.groups = 1;
  spec.rows_per_group = 100;
  Dataset unseen = MakeSynthetic(spec);
  auto pu = p->Predict(unseen);
  ASSERT_TRUE(pu.ok());
  EXPECT_GT(Spearman(unseen.y, *pu), 0.9);

  nlohmann::json chosen = p->SaveJson()["chosen"];
  EXPECT_GT(chosen["length_scale"].get<double>(), 0);
  EXPECT_GT(chosen["noise_ratio"].get<double>(), 0);
}

INSTANTIATE_TEST_SUITE_P(Kernels, GpTest, ::testing::Values("rbf", "matern52"));

// Only f0 and f1 matter among 12 features: ARD must find them (short scales, the others long),
// climb the marginal likelihood above the isotropic grid's choice, and rank an unseen
// workload better than the isotropic kernel does.
TEST(GpArdTest, FindsTheRelevantFeatures) {
  SyntheticSpec spec;
  spec.coef.assign(12, 0.0);
  spec.coef[0] = 1.0;
  spec.coef[1] = -0.5;
  Dataset train = MakeSynthetic(spec);
  SyntheticSpec unseen_spec = spec;
  unseen_spec.seed = 9;
  unseen_spec.first_group = 40;
  unseen_spec.groups = 1;
  unseen_spec.rows_per_group = 200;
  Dataset unseen = MakeSynthetic(unseen_spec);

  auto iso = std::move(Predictors().Create("gp", "ard=off").value());
  auto ard = std::move(Predictors().Create("gp", "ard=on").value());
  ASSERT_TRUE(iso->Fit(train).ok());
  ASSERT_TRUE(ard->Fit(train).ok());
  nlohmann::json chosen = ard->SaveJson()["chosen"];
  ASSERT_TRUE(chosen.contains("length_scales"));
  EXPECT_FALSE(iso->SaveJson()["chosen"].contains("length_scales"));
  std::vector<double> lengths = chosen["length_scales"].get<std::vector<double>>();
  ASSERT_EQ(lengths.size(), 12u);
  double shortest_irrelevant = *std::min_element(lengths.begin() + 2, lengths.end());
  EXPECT_LT(lengths[0] * 3, shortest_irrelevant) << chosen.dump();
  EXPECT_LT(lengths[1] * 3, shortest_irrelevant) << chosen.dump();
  EXPECT_GT(chosen["log_marginal_likelihood"].get<double>(),
            iso->SaveJson()["chosen"]["log_marginal_likelihood"].get<double>() + 10);

  auto pi = iso->Predict(unseen);
  auto pa = ard->Predict(unseen);
  ASSERT_TRUE(pi.ok() && pa.ok());
  double rho_iso = Spearman(unseen.y, *pi), rho_ard = Spearman(unseen.y, *pa);
  EXPECT_GT(rho_ard, rho_iso);
  EXPECT_GT(rho_ard, 0.95);
}

TEST(GpArdTest, ModelRoundTripsAndBadScalesAreErrors) {
  SyntheticSpec spec;
  Dataset train = MakeSynthetic(spec);
  auto p = std::move(Predictors().Create("gp", "ard=on").value());
  ASSERT_TRUE(p->Fit(train).ok());
  nlohmann::json model = p->SaveJson();
  auto q = std::move(Predictors().Create("gp", "ard=on").value());
  ASSERT_TRUE(q->LoadJson(model).ok());
  auto a = p->Predict(train);
  auto b = q->Predict(train);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT((*a - *b).cwiseAbs().maxCoeff(), 1e-9 * a->cwiseAbs().maxCoeff());

  nlohmann::json short_list = model;
  short_list["chosen"]["length_scales"].erase(0);
  Status s = q->LoadJson(short_list);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "invalid model: chosen.length_scales has 4 scales for 5 features");
  nlohmann::json negative = model;
  negative["chosen"]["length_scales"][2] = -1.0;
  s = q->LoadJson(negative);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "invalid model: chosen.length_scales[2] must be a positive number; got -1.000000");
}

// bag=3 predicts the geometric mean of the three single models of seeds 0, 1, 2 (each its
// own subsample for the kernel search), and its model file round-trips.
TEST(GpBagTest, IsTheGeometricMeanOfItsSeedsAndRoundTrips) {
  SyntheticSpec spec;
  Dataset train = MakeSynthetic(spec);
  auto bag = std::move(Predictors().Create("gp", "bag=3,search_rows=60").value());
  ASSERT_TRUE(bag->Fit(train).ok());
  auto pb = bag->Predict(train);
  ASSERT_TRUE(pb.ok()) << pb.message();
  Eigen::VectorXd log_mean = Eigen::VectorXd::Zero(train.rows());
  std::vector<Eigen::VectorXd> singles;
  for (int seed : {0, 1, 2}) {
    auto one = std::move(
        Predictors().Create("gp", "search_rows=60,seed=" + std::to_string(seed)).value());
    ASSERT_TRUE(one->Fit(train).ok());
    auto p = one->Predict(train);
    ASSERT_TRUE(p.ok());
    singles.push_back(*p);
    log_mean += p->array().log().matrix() / 3.0;
  }
  // The seeds' subsamples differ, so their models do, and the bag is none of them.
  EXPECT_GT((singles[0] - singles[1]).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_LT((pb->array().log() - log_mean.array()).abs().maxCoeff(), 1e-9);

  nlohmann::json model = bag->SaveJson();
  ASSERT_EQ(model["bag"].size(), 3u);
  auto loaded = std::move(Predictors().Create("gp", bag->options()).value());
  ASSERT_TRUE(loaded->LoadJson(model).ok());
  auto pl = loaded->Predict(train);
  ASSERT_TRUE(pl.ok());
  EXPECT_LT((*pl - *pb).cwiseAbs().maxCoeff(), 1e-9 * pb->cwiseAbs().maxCoeff());

  nlohmann::json short_bag = model;
  short_bag["bag"].erase(1);
  Status s = loaded->LoadJson(short_bag);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "invalid model: 'bag' has 2 member models for bag=3");
  auto single = std::move(Predictors().Create("gp", "").value());
  ASSERT_TRUE(single->Fit(train).ok());
  s = loaded->LoadJson(single->SaveJson());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "invalid model: gp with bag=3 needs a 'bag' array of member models");
}

// risk=k scores exp(mean + k sd) with sd the posterior standard deviation of the log time:
// training rows are known (sd small), a corner of the training box far from every row is not
// (features are clamped to that box), no row's sd exceeds the prior's; and a model file with
// risk round-trips.
TEST(GpRiskTest, AddsThePosteriorSpreadAndRoundTrips) {
  SyntheticSpec spec;
  spec.rows_per_group = 40;
  Dataset train = MakeSynthetic(spec);
  SyntheticSpec unseen_spec = spec;
  unseen_spec.seed = 9;
  unseen_spec.first_group = 40;
  unseen_spec.groups = 1;
  Dataset unseen = MakeSynthetic(unseen_spec);
  for (int64_t c = 0; c < unseen.X.cols(); ++c)
    unseen.X(0, c) = c % 2 ? train.X.col(c).maxCoeff() : train.X.col(c).minCoeff();
  auto plain = std::move(Predictors().Create("gp", "").value());
  auto risky = std::move(Predictors().Create("gp", "risk=2").value());
  ASSERT_TRUE(plain->Fit(train).ok());
  ASSERT_TRUE(risky->Fit(train).ok());
  const double sigma = std::sqrt(plain->SaveJson()["chosen"]["signal_variance"].get<double>());
  auto added = [&](const Dataset& x) {
    auto p0 = plain->Predict(x);
    auto p2 = risky->Predict(x);
    EXPECT_TRUE(p0.ok() && p2.ok());
    return Eigen::ArrayXd((p2->array() / p0->array()).log() / 2.0);   // sd per row
  };
  Eigen::ArrayXd sd_train = added(train), sd_unseen = added(unseen);
  EXPECT_GE(sd_train.minCoeff(), 0.0);
  EXPECT_GE(sd_unseen.minCoeff(), 0.0);
  EXPECT_LE(sd_unseen.maxCoeff(), sigma * (1 + 1e-9));
  EXPECT_LT(sd_train.maxCoeff(), sd_unseen[0]);
  EXPECT_LT(sd_train.mean() * 3, sd_unseen[0])
      << "train " << sd_train.mean() << " corner " << sd_unseen[0] << " sigma " << sigma;

  auto loaded = std::move(Predictors().Create("gp", risky->options()).value());
  ASSERT_TRUE(loaded->LoadJson(risky->SaveJson()).ok());
  auto pl = loaded->Predict(unseen);
  auto pr = risky->Predict(unseen);
  ASSERT_TRUE(pl.ok() && pr.ok());
  EXPECT_LT((*pl - *pr).cwiseAbs().maxCoeff(), 1e-9 * pr->cwiseAbs().maxCoeff());
}

// base=dep: the run time relative to the dependency timing model's cycles is what the GP
// learns, so a workload far from every training row (its other feature out of the training
// range) is still ranked by the base: log y = base + 0.02 f, trained on base in [5, 8] and f
// in [0, 1], ranked with base in [8, 11] and f in [5, 6]. The base is added back (ratios of predictions follow the base's), the
// model names its base column and round-trips, and a candidate without the base takes the
// training mean.
TEST(GpBaseTest, RanksByTheBaseFarFromTrainingAndRoundTrips) {
  auto make = [](int first_group, int groups, double b_lo, double f_lo, uint64_t seed) {
    Dataset d;
    d.feature_names = {"qemu.dep.log_cycles_ooo", "qemu.f"};
    const int rows = groups * 30;
    d.X.resize(rows, 2);
    d.y.resize(rows);
    uint64_t x = seed;
    auto uniform = [&x]() {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      return static_cast<double>(x >> 11) / 9007199254740992.0;
    };
    for (int r = 0; r < rows; ++r) {
      double b = b_lo + 3 * uniform(), f = f_lo + uniform();
      d.X(r, 0) = b;
      d.X(r, 1) = f;
      d.y[r] = std::exp(b + 0.02 * f + 0.3 * (r / 30));
      d.group.push_back(first_group + r / 30);
      d.ids.push_back(1000 * first_group + r);
    }
    return d;
  };
  Dataset train = make(0, 8, 5.0, 0.0, 1), unseen = make(40, 1, 8.0, 5.0, 2);
  auto p = std::move(Predictors().Create("gp", "base=dep").value());
  ASSERT_TRUE(p->Fit(train).ok());
  auto pred = p->Predict(unseen);
  ASSERT_TRUE(pred.ok()) << pred.message();
  EXPECT_GT(Spearman(unseen.y, *pred), 0.99);
  // Relative predictions follow the base to within the learned correction's spread.
  for (int r = 1; r < unseen.rows(); ++r) {
    double want = unseen.X(r, 0) - unseen.X(0, 0);
    EXPECT_NEAR(std::log((*pred)[r] / (*pred)[0]), want, 0.05) << "row " << r;
  }
  nlohmann::json saved = p->SaveJson();
  EXPECT_EQ(saved["base"]["feature"], "qemu.dep.log_cycles_ooo");
  auto loaded = std::move(Predictors().Create("gp", p->options()).value());
  ASSERT_TRUE(loaded->LoadJson(saved).ok());
  auto again = loaded->Predict(unseen);
  ASSERT_TRUE(again.ok());
  EXPECT_LT((*again - *pred).cwiseAbs().maxCoeff(), 1e-9 * pred->cwiseAbs().maxCoeff());

  // A candidate without the base: the training rows' mean base.
  Dataset missing = unseen;
  missing.X(0, 0) = std::nan("");
  Dataset filled = unseen;
  filled.X(0, 0) = train.X.col(0).mean();
  auto pm = p->Predict(missing), pf = p->Predict(filled);
  ASSERT_TRUE(pm.ok() && pf.ok());
  // (The GP's own features impute the missing value their way: the same up to 1e-4.)
  EXPECT_NEAR((*pm)[0], (*pf)[0], 1e-4 * (*pf)[0]);

  // Without the base the same GP, far from its training rows, reverts to its prior mean: it
  // ranks them no better than by chance (all alike: no rank correlation at all).
  auto plain = std::move(Predictors().Create("gp", "").value());
  ASSERT_TRUE(plain->Fit(train).ok());
  double plain_rho = Spearman(unseen.y, *plain->Predict(unseen));
  EXPECT_FALSE(plain_rho >= 0.5) << plain_rho;
}

TEST(GpBaseTest, MissingBasesAreErrors) {
  Dataset d = testing::MakeSynthetic({});
  auto dep = std::move(Predictors().Create("gp", "base=dep").value());
  EXPECT_EQ(dep->Fit(d).message(),
            "training data has no dependency timing feature ('<simulator>.dep.log_cycles_ooo': "
            "qemu with dep=on) for gp option base=dep");
  auto named = std::move(Predictors().Create("gp", "base=qemu.nothing").value());
  EXPECT_EQ(named->Fit(d).message(),
            "training data has no feature 'qemu.nothing' (gp option base=qemu.nothing)");
  auto f0 = std::move(Predictors().Create("gp", "base=" + d.feature_names[0]).value());
  Dataset gap = d;
  gap.X(3, 0) = std::nan("");
  EXPECT_EQ(f0->Fit(gap).message(),
            "training data: gp option base=" + d.feature_names[0] + ": feature '" +
                d.feature_names[0] + "' is missing (NaN) for candidate id " +
                std::to_string(d.ids[3]));
  ASSERT_TRUE(f0->Fit(d).ok());
  Dataset without = d;
  without.feature_names[0] = "renamed";
  EXPECT_EQ(f0->Predict(without).message(),
            "input lacks feature '" + d.feature_names[0] + "' that the gp model was trained with");
  nlohmann::json saved = f0->SaveJson();
  saved.erase("base");
  auto loaded = std::move(Predictors().Create("gp", f0->options()).value());
  EXPECT_EQ(loaded->LoadJson(saved).message(),
            "invalid model: gp with base=" + d.feature_names[0] +
                " needs base.feature, the name of its base feature");
}

TEST(GpOptionsTest, BadValuesAreErrors) {
  auto k = Predictors().Create("gp", "kernel=cubic");
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.message(), "gp option kernel: expected one of rbf, matern52; got 'cubic'");
  auto a = Predictors().Create("gp", "ard=yes");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.message(), "gp option ard: expected one of off, on; got 'yes'");
  auto r = Predictors().Create("gp", "search_rows=1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "gp option search_rows: must be in [2, 5000]; got 1");
  auto m = Predictors().Create("gp", "max_rows=1");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.message(), "gp option max_rows: must be in [2, 20000]; got 1");
  auto b = Predictors().Create("gp", "bag=0");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.message(), "gp option bag: must be in [1, 64]; got 0");
  auto rk = Predictors().Create("gp", "risk=lots");
  ASSERT_FALSE(rk.ok());
  EXPECT_EQ(rk.message().rfind("gp option risk: ", 0), 0u) << rk.message();
  auto big = Predictors().Create("gp", "risk=11");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.message(), "gp option risk: must be in [-10, 10]; got 11");
}

TEST(GpTest, SubsamplesAboveMaxRows) {
  auto p = std::move(Predictors().Create("gp", "max_rows=50").value());
  ASSERT_TRUE(p->Fit(MakeSynthetic({})).ok());
  EXPECT_EQ(p->SaveJson()["train_z"].size(), 50u);
}

TEST(GpTest, FitTimeAt2000By60) {
  SyntheticSpec spec;
  spec.coef.assign(60, 0.0);
  spec.coef[0] = 1.0;
  spec.coef[1] = -0.5;
  spec.groups = 10;
  spec.rows_per_group = 200;
  Dataset train = MakeSynthetic(spec);
  auto p = std::move(Predictors().Create("gp", "").value());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(p->Fit(train).ok());
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("gp fit on 2000 x 60: %.2f s (chosen %s)\n", s, p->SaveJson()["chosen"].dump().c_str());
  EXPECT_LT(s, 30.0);
}

}  // namespace
}  // namespace simtune
