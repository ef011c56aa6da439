#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "simtune/predictor.h"

namespace simtune {
namespace {

Dataset Tiny() {
  Dataset d;
  d.feature_names = {"a", "b"};
  d.X.resize(4, 2);
  d.X << 1, 2,
         3, 4,
         5, 6,
         7, 8;
  d.y.resize(4);
  d.y << 1, 4, 10, 1000;
  d.group = {7, 3, 7, 3};
  d.ids = {10, 11, 12, 13};
  return d;
}

TEST(DatasetTest, ValidAcceptsConsistentData) {
  EXPECT_TRUE(Tiny().Validate("train", true).ok());
}

TEST(DatasetTest, ValidateNamesTheProblem) {
  Dataset d = Tiny();
  d.feature_names = {"a"};
  EXPECT_EQ(d.Validate("train", false).message(), "train: 1 feature names for 2 columns");
  d = Tiny();
  d.feature_names = {"a", "a"};
  EXPECT_EQ(d.Validate("train", false).message(), "train: feature 'a' appears twice");
  d = Tiny();
  d.feature_names = {"a", ""};
  EXPECT_EQ(d.Validate("train", false).message(), "train: empty feature name");
  d = Tiny();
  d.group.pop_back();
  EXPECT_EQ(d.Validate("train", false).message(), "train: 3 group ids for 4 rows");
  d = Tiny();
  d.ids.push_back(1);
  EXPECT_EQ(d.Validate("train", false).message(), "train: 5 candidate ids for 4 rows");
  d = Tiny();
  d.X(2, 1) = std::numeric_limits<double>::infinity();
  EXPECT_EQ(d.Validate("train", false).message(),
            "train: feature 'b' is infinite for candidate id 12");
  d = Tiny();
  d.y[1] = -1;
  EXPECT_TRUE(d.Validate("train", false).ok());   // targets not required for prediction
  EXPECT_EQ(d.Validate("train", true).message(),
            "train: run time -1.000000 for candidate id 11; run times must be finite and > 0");
  d = Tiny();
  d.y.resize(0);
  EXPECT_EQ(d.Validate("train", true).message(), "train: 0 run times for 4 rows");
}

TEST(DatasetTest, NaNIsAllowedAsMissing) {
  Dataset d = Tiny();
  d.X(0, 0) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(d.Validate("train", true).ok());
}

TEST(DatasetTest, SubsetKeepsRowOrder) {
  Dataset s = Tiny().Subset({3, 0});
  ASSERT_EQ(s.rows(), 2);
  EXPECT_EQ(s.feature_names, Tiny().feature_names);
  EXPECT_EQ(s.X(0, 0), 7);
  EXPECT_EQ(s.X(1, 1), 2);
  EXPECT_EQ(s.y[0], 1000);
  EXPECT_EQ(s.group, (std::vector<int>{3, 7}));
  EXPECT_EQ(s.ids, (std::vector<int64_t>{13, 10}));
}

TEST(DatasetTest, GroupsAndFeatureIndex) {
  Dataset d = Tiny();
  EXPECT_EQ(d.Groups(), (std::vector<int>{3, 7}));
  EXPECT_EQ(d.RowsByGroup(), (std::vector<std::vector<int64_t>>{{1, 3}, {0, 2}}));
  EXPECT_EQ(d.FeatureIndex("b"), 1);
  EXPECT_EQ(d.FeatureIndex("c"), -1);
}

TEST(DatasetTest, TargetIsLogCentredPerGroup) {
  Eigen::VectorXd t = GroupCenteredLogTarget(Tiny());
  // group 7: y = 1, 10 -> log mean = log(10)/2; group 3: y = 4, 1000.
  EXPECT_NEAR(t[0], -std::log(10.0) / 2, 1e-12);
  EXPECT_NEAR(t[2], std::log(10.0) / 2, 1e-12);
  EXPECT_NEAR(t[1], -std::log(250.0) / 2, 1e-12);
  EXPECT_NEAR(t[3], std::log(250.0) / 2, 1e-12);
}

}  // namespace
}  // namespace simtune
