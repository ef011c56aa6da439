// Predictors: learn a candidate's run time on the reference (hardware or cycle model) from
// its simulator statistics, and score candidates so that a lower score means predicted
// faster. They are fit on the few candidates that were measured on the reference and then
// rank many simulated candidates, of the same workload or of workloads never seen in
// training. Feature extraction lives elsewhere: this interface takes matrices.
//
// Lifecycle:
//
//   Predictors().Create(name, options)        "ridge", "folds=5,seed=1"
//        |
//        v
//   Fit(train)  --------------------------->  SaveJson() / SaveModel(path, ...)
//        |                                          |
//        v                                          v
//   Predict(x) any number of times   <-----  LoadModel(path, ...) (= Create + LoadJson)
//
// Fit may be called again; it replaces the model. Predict and SaveJson require a fitted (or
// loaded) model. A Predictor object is not safe for concurrent calls; use one per thread.
//
// Target transform (every learned predictor). A model is fit on
//     t_i = log(y_i) - mean{ log(y_j) : group_j == group_i }
// i.e. on the candidate's speed relative to the other measured candidates of its workload.
// The scale of a workload (a big GEMM is slower than a small one whatever the schedule)
// vanishes, which is what makes a model trained on other workloads usable on a new one.
// The model is log(y) = offset_g + f(x) + noise: f is what is learned and ranks; offset_g,
// the mean of log(y) - f(x) over workload g's training rows, only restores run-time units
// (see Predict). Linear models estimate f "within" workloads, centring the features per
// group as well as the target (the fixed-effects estimator, unbiased); trees and the GP
// take the features as they are. So a feature constant within every workload (a shape
// parameter) cannot influence a linear model. Scale-carrying features (instruction counts,
// miss counts) are best given in a form whose within-workload differences matter (e.g.
// log), which is the feature extractor's job.
//
// Features. Linear models and the Gaussian process standardise every feature with the
// training mean and standard deviation (stored in the model; a constant feature gets
// standard deviation 1 and so contributes nothing). Tree models take raw values (trees are
// invariant to monotone rescaling).
//
// Missing values (NaN in X). A statistic may be absent for some candidates only (Spike
// leaves out a cache level whose counter went down inside the ROI), so no predictor aborts
// on a NaN; none invents a value silently either, each does as documented here:
//   - xgb, xgb-rank: NaN is XGBoost's "missing"; trees learn a default direction for it.
//   - linear, ridge, gp: a feature missing in more than half the training rows
//     (predictors::kMaxMissingShare) is dropped; the model records it (model JSON
//     "dropped_features") and Predict ignores that column. A feature kept that is missing in
//     a row, in Fit or Predict, takes the mean of that feature over the rows of the same
//     workload in the same call that have it, else the training mean.
//   - cost: its events are those present in most training rows; a missing event count takes
//     the mean of its workload's rows in the same call, else of all rows, else 0.
//   - insn-count, mca: a candidate whose feature is missing ranks after every candidate
//     that has it; a feature missing in every row is an error.
//   +-inf is an error everywhere.
// Features are matched by name: Predict's input may order its columns differently or carry
// extra ones; a feature the model was trained with that the input lacks is an error.
//
// Hyperparameters are chosen by cross-validation on the training data, never by hand:
// folds hold out whole workloads when training covers at least two workloads (so the choice
// favours generalisation to unseen workloads), else single rows (seeded shuffle).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "simtune/registry.h"
#include "simtune/result.h"

namespace simtune {

// Candidates as a matrix. Row i of X, y[i], group[i] and ids[i] describe one candidate.
struct Dataset {
  std::vector<std::string> feature_names;   // one per column of X, unique, non-empty
  Eigen::MatrixXd X;                         // rows = candidates; NaN = feature missing
  Eigen::VectorXd y;                         // reference run time (ns or cycles), finite, > 0
                                             // in training data; ignored by Predict
  std::vector<int> group;                    // workload id (query group); see below
  std::vector<int64_t> ids;                  // candidate ids, used only in messages and by
                                             // the "random" baseline

  // `group` identifies a workload, and must mean the same workload in every Dataset used
  // with the same model (e.g. the store's workload row id): regressors use it to restore the
  // scale of a workload seen in training, and ranking metrics compare candidates only
  // within one group. Rows of one group need not be contiguous.

  int64_t rows() const { return X.rows(); }
  int64_t cols() const { return X.cols(); }

  // Checks sizes (y, group, ids have rows() entries; feature_names has cols()), unique
  // non-empty feature names, and no +-inf in X. With `require_targets`, also that every y is
  // finite and > 0. Errors are prefixed with `where` ("training data: y[3] is -1 for
  // candidate id 42; run times must be > 0").
  Status Validate(const std::string& where, bool require_targets) const;

  // The rows listed, in that order (indices must be in range: a bug otherwise).
  Dataset Subset(const std::vector<int64_t>& rows) const;

  // Column index of `name`, or -1.
  int64_t FeatureIndex(const std::string& name) const;

  // Distinct group ids, ascending.
  std::vector<int> Groups() const;

  // Row indices of each group, in Groups() order; rows keep their dataset order.
  std::vector<std::vector<int64_t>> RowsByGroup() const;
};

// The training target t described above: log(y) minus the mean log(y) of the row's group.
// Precondition: every y > 0.
Eigen::VectorXd GroupCenteredLogTarget(const Dataset& data);

class Predictor {
 public:
  virtual ~Predictor() = default;

  // Registry name ("ridge").
  virtual std::string name() const = 0;

  // Canonical options: every option with its effective value, "key=value" sorted by key and
  // joined by ','. Create(name(), options()) builds an equivalent unfitted predictor.
  virtual std::string options() const = 0;

  // True when Predict returns a run time in y's units (regressors: MAPE is meaningful);
  // false for ranking models and baselines whose score is only monotone in run time.
  virtual bool predicts_time() const = 0;

  // Fits on `train` (validated with require_targets). Errors: invalid data, too few rows
  // (learned models need at least 2), a feature every row lacks that the model needs.
  virtual Status Fit(const Dataset& train) = 0;

  // One score per row of x, lower = predicted faster. Regressors return the predicted run
  // time in y's units: exp(f(x) + offset_g) with the offset of the row's group if it was
  // seen in training, else the mean offset over training groups (an unseen workload's scale
  // is unknown; ranking within it is unaffected). Ranking models return a score that is
  // only monotone. x.y is ignored. Errors: not fitted, missing feature column (a NaN is
  // not an error; see above).
  virtual Result<Eigen::VectorXd> Predict(const Dataset& x) const = 0;

  // The training Dataset's feature_names (all columns, dropped ones included), in order.
  // Empty before Fit/LoadJson.
  virtual const std::vector<std::string>& feature_names() const = 0;

  // The fitted model as JSON (the "model" member of a model file); includes the
  // hyperparameters chosen by cross-validation under "chosen". Precondition: fitted.
  virtual nlohmann::json SaveJson() const = 0;

  // Restores a model written by SaveJson of a predictor of the same name and options.
  // Predictions afterwards are identical to the saved predictor's (within 1e-12 relative).
  virtual Status LoadJson(const nlohmann::json& model) = 0;
};

// Options are "key=value,..." with keys parsed strictly (unknown key -> unknown-name error
// listing the valid keys; a key given twice, a missing '=', or a bad value are errors).
//   linear      multiple linear regression, least squares by column-pivoting QR. No options.
//   ridge       ridge regression; alpha from a log grid (1e-4 .. 1e4) by grouped k-fold CV
//               on the centred-log squared error. folds=5, seed=0.
//   xgb         XGBoost regression (reg:squarederror) on the centred log target; max_depth
//               {2, 4} x eta {0.3, 0.1} x rounds (25..200) by grouped k-fold CV on the
//               centred-log squared error. folds=3, seed=0, threads=1 (0 = all cores).
//   xgb-rank    XGBoost learning to rank, one query group per workload (rows need not be
//               contiguous); objective=pairwise|ndcg (default pairwise), folds=3, seed=0,
//               threads=1. Same grid, chosen by CV on mean within-workload Spearman rho.
//   gp          Gaussian-process regression on standardised features, one (isotropic)
//               length scale; kernel=rbf|matern52 (default matern52); length scale
//               (sqrt(features) x 1/8 .. 32) and noise ratio (1e-4 .. 1) by maximum log
//               marginal likelihood over a grid on a 400-row subsample (signal variance in
//               closed form). max_rows=2000 (larger training sets are subsampled), seed=0.
//   insn-count  baseline: score = the named feature. feature=insn_count.
//   mca         baseline: score = llvm-mca's cycle estimate ("<sim>.log_cycles" of the "mca"
//               simulator, features.h) with no calibration. feature=auto.
//   random      baseline: score = a hash of (seed, candidate id). seed=0.
using PredictorRegistry = Registry<Predictor, const std::string& /*options*/>;
PredictorRegistry& Predictors();

// Model file layout (JSON):
//   {"predictor": name, "options": options(), "feature_schema_version": N,
//    "feature_names": [...], "model": SaveJson()}
// The feature schema version is the feature extractor's; a model is only valid for
// features built by the same schema.
nlohmann::json ModelToJson(const Predictor& predictor, int feature_schema_version);

// Rebuilds a predictor from ModelToJson output. `where` names the source in messages.
// A schema mismatch is an error naming both versions:
//   "<where> was trained with feature schema 1; this simtune uses 2"
Result<std::unique_ptr<Predictor>> ModelFromJson(const nlohmann::json& file,
                                                 int expected_feature_schema_version,
                                                 const std::string& where);

// Writes/reads ModelToJson to/from a file. LoadModel's errors start with "model <path>",
// e.g. "model m.json was trained with feature schema 1; this simtune uses 2". Loading
// rejects what would predict NaN or inf (non-finite numbers, a feature scale <= 0, a
// clamping range with lo > hi, a GP length scale <= 0, negative costs) naming the field:
// "model m.json: invalid model: features.scale[2]: expected a number > 0; got 0".
Status SaveModel(const std::string& path, const Predictor& predictor,
                 int feature_schema_version);
// Writes a model file (`file`, dumped with `indent`; -1 = one line) so that `path` holds
// either its previous content or the complete new file: the text goes to a temp file beside
// it, which is renamed into place only after every write, fsync and close succeeded, and is
// removed otherwise. Errors: "cannot write model <path>: <reason>".
Status WriteModelFile(const std::string& path, const nlohmann::json& file, int indent = -1);
Result<std::unique_ptr<Predictor>> LoadModel(const std::string& path,
                                             int expected_feature_schema_version);

}  // namespace simtune
