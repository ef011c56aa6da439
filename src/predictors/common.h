// Pieces shared by the built-in predictors: strict option parsing, feature standardisation
// with the NaN-drop policy, per-workload scale offsets, cross-validation folds and scores,
// and Eigen <-> JSON conversion. Internal to src/predictors/.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "simtune/predictor.h"
#include "simtune/result.h"

namespace simtune::predictors {

// Effective options of one predictor: every key has a value (defaults filled in).
class Options {
 public:
  // Parses "key=value,..." against `defaults` (which also lists the valid keys).
  // `predictor` names the predictor in messages.
  static Result<Options> Parse(const std::string& text, const std::string& predictor,
                               const std::map<std::string, std::string>& defaults);

  const std::string& String(const std::string& key) const;
  Result<int64_t> Int(const std::string& key, int64_t min_value, int64_t max_value) const;
  // A finite number in [min_value, max_value].
  Result<double> Double(const std::string& key, double min_value, double max_value) const;
  // One of `allowed`, else an error listing them.
  Result<std::string> OneOf(const std::string& key, const std::vector<std::string>& allowed) const;

  // "key=value" sorted by key, joined by ','.
  std::string Canonical() const;

 private:
  std::string predictor_;
  std::map<std::string, std::string> values_;
};

// The first of `names` that ends in `suffix` (and is longer than it), or "" when none does:
// a simulator's feature whatever the simulator ("<sim>.log_insn", "<sim>.dep.log_cycles_ooo").
std::string FirstEndingIn(const std::vector<std::string>& names, const std::string& suffix);

// Columns of `x` holding `names`, in that order, or an error naming the first one x lacks.
Result<std::vector<int64_t>> MapFeatures(const std::vector<std::string>& names,
                                         const Dataset& x, const std::string& predictor);

// The missing-value policy of predictor.h: a feature missing (NaN) in more than this share
// of the training rows is dropped; one missing in fewer is kept and its gaps imputed.
inline constexpr double kMaxMissingShare = 0.5;

// True when column `c` of `x` is present (not NaN) in at least 1 - kMaxMissingShare of
// its rows (and in at least one).
bool MostlyPresent(const Eigen::MatrixXd& x, int64_t c);

// Mean of column `c` of `m` over its rows that are not NaN; NaN when there are none.
double PresentMean(const Eigen::MatrixXd& m, int64_t c);

// Replaces NaN in column `c` of `m` (row i belongs to groups[i]) by the mean of the
// column's present values in the same group, else by `fallback`. Returns how many entries
// it filled.
int64_t ImputeGroupMeans(Eigen::MatrixXd& m, int64_t c, const std::vector<int>& groups,
                         double fallback);

// Standardised dense features for linear models and the GP, with the missing-value policy
// of predictor.h.
struct DenseFeatures {
  std::vector<std::string> all;       // training Dataset's feature_names
  std::vector<std::string> used;      // present in most training rows (MostlyPresent)
  std::vector<std::string> dropped;   // missing in more than kMaxMissingShare of them
  Eigen::VectorXd mean, scale;        // per used feature; scale 1 for constant features
  // Standardised range seen in training. Transform clamps into it: a workload nobody
  // measured may lie outside the training range on some feature, and a linear model or a GP
  // extrapolating there gave absurd times (leave-one-workload-out: ridge's MAPE ~1e17).
  Eigen::VectorXd lo, hi;

  // Errors when no feature is complete.
  static Result<DenseFeatures> Fit(const Dataset& train, const std::string& predictor);
  // Standardised used columns of x, clamped into [lo, hi]. A used feature missing (NaN) in
  // a row takes the mean of that feature over x's rows of the same workload, else the
  // training mean.
  Result<Eigen::MatrixXd> Transform(const Dataset& x, const std::string& predictor) const;

  nlohmann::json ToJson() const;
  // Rejects what would make predictions NaN or inf: non-finite numbers, a scale <= 0,
  // lo > hi. `field` is where the record sits in the model ("features"), for messages.
  static Result<DenseFeatures> FromJson(const nlohmann::json& j, const std::string& field);
};

// Per-workload level of the log run time, to turn a model's relative log prediction f(x) back
// into a run time (predictor.h: regressors): offset_g = mean over the group's training rows
// of log(y) - f(x).
struct GroupScale {
  std::map<int, double> log_mean;   // offset per group seen in training
  double default_log_mean = 0;      // mean over groups, for unseen groups

  // `fitted_log`: f(x) on every training row.
  static GroupScale Fit(const Dataset& train, const Eigen::VectorXd& fitted_log);
  double Offset(int group) const;
  nlohmann::json ToJson() const;
  // Group ids must be ints and offsets finite; `field` as for DenseFeatures::FromJson.
  static Result<GroupScale> FromJson(const nlohmann::json& j, const std::string& field);
};

// `z` with each group's column means subtracted (rows as in `data`).
Eigen::MatrixXd CentreWithinGroups(const Dataset& data, const Eigen::MatrixXd& z);

// Held-out row sets for k-fold CV on training data: whole groups when there are >= 2 groups
// (min(k, groups) folds), else single rows (min(k, rows) folds). Seeded and deterministic.
// Empty when fewer than 2 folds are possible.
std::vector<std::vector<int64_t>> CvFolds(const Dataset& train, int k, uint64_t seed);

// Rows of `data` not in `held_out`.
std::vector<int64_t> Complement(int64_t rows, const std::vector<int64_t>& held_out);

// Mean squared error between centred log truth and centred predictions, centring each
// group separately (so an unknown workload scale does not count). `predicted` is on the
// model's log scale. Lower is better.
double CentredSquaredError(const Dataset& held_out, const Eigen::VectorXd& predicted);

// Mean over groups with >= 2 rows of Spearman(y, score) (NaN groups skipped); NaN if none.
// Higher is better.
double MeanGroupSpearman(const Dataset& held_out, const Eigen::VectorXd& score);

// Deterministic 64-bit mixer (splitmix64 finaliser).
uint64_t Mix64(uint64_t x);
// In-place Fisher-Yates shuffle driven by Mix64, identical on every platform.
void Shuffle(std::vector<int64_t>& v, uint64_t seed);

// Eigen <-> JSON (arrays of numbers; matrices as arrays of rows). FromJson functions return
// an error naming `what` on a shape or type mismatch or a number that is not finite.
nlohmann::json ToJson(const Eigen::VectorXd& v);
nlohmann::json ToJson(const Eigen::MatrixXd& m);
Result<Eigen::VectorXd> VectorFromJson(const nlohmann::json& j, const std::string& what);
Result<Eigen::MatrixXd> MatrixFromJson(const nlohmann::json& j, const std::string& what);

// A double as messages show it: "nan", "inf", "-inf" or the shortest exact decimal (%.17g).
std::string FormatDouble(double v);

// Scalars of a model record, checked on load so that a damaged or hand-edited model file
// is rejected instead of predicting NaN/inf. `what` is the field's path in the model
// ("chosen.alpha"); null (a missing key) reads as missing. Errors look like
// "invalid model: chosen.alpha: expected a finite number; got inf".
Result<double> FiniteFromJson(const nlohmann::json& j, const std::string& what);
// A finite number >= min_value (or > min_value when `strict`).
Result<double> BoundedFromJson(const nlohmann::json& j, const std::string& what,
                               double min_value, bool strict);
// An integer in [min_value, max_value], never truncated (2^32 + 2 is not 2).
Result<int64_t> IntFromJson(const nlohmann::json& j, const std::string& what, int64_t min_value,
                            int64_t max_value);

// Error for Predict/SaveJson before Fit.
Error NotFitted(const std::string& predictor);

}  // namespace simtune::predictors
