// Metrics: how well a predictor's scores rank the candidates of ONE workload, and the
// evaluation protocols that produce them from a Dataset (k-fold within each workload,
// leave one workload out) with aggregation over workloads.
//
// Inputs of the per-workload metrics: `true_times[i]` is candidate i's reference run time
// (finite, > 0) and `scores[i]` its predicted score (finite; lower = predicted faster).
// Both have the same length n >= 1; violating this is a bug (SIMTUNE_CHECK).
//
// Predicted order and ties. Candidates are sorted by score ascending; candidates with equal
// scores are ordered slowest first (by true time descending). This is the conservative
// reading of a tie: the predictor gets no credit for a lucky tie-break. Every metric below
// that depends on the order uses it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "simtune/predictor.h"
#include "simtune/result.h"

namespace simtune {

// Where the truly fastest candidate lands in the predicted order, as a percentage of n:
// 100 * position / n with position 1-based (rank 1 of 200 -> 0.5). With several candidates
// sharing the best true time, the first of them in the predicted order counts. Because ties
// in score are ordered slowest first, a best candidate tied with others lands at the worst
// position among them. Range (0, 100]; lower is better.
double TopKPercent(const Eigen::VectorXd& true_times, const Eigen::VectorXd& scores);

// True time of the first candidate in the predicted order / the best true time. >= 1;
// 1 means the predicted best is a truly fastest one.
double Regret(const Eigen::VectorXd& true_times, const Eigen::VectorXd& scores);

// Measure the first min(k, n) candidates of the predicted order on the reference and keep the
// fastest: its true time / the best true time. >= 1. Precondition: k >= 1.
double RegretVerifyTopK(const Eigen::VectorXd& true_times, const Eigen::VectorXd& scores,
                        int k = 5);

// Spearman's rank correlation between true times and scores (Pearson correlation of the
// average ranks, so ties are handled). +1 = perfect order. NaN when n < 2 or either vector
// is constant (undefined).
double Spearman(const Eigen::VectorXd& true_times, const Eigen::VectorXd& scores);

// Kendall's tau-b between true times and scores, which corrects for ties in either vector:
//   (concordant - discordant) / sqrt((n0 - ties_true) * (n0 - ties_score)),
// n0 = n(n-1)/2, ties_* = pairs tied in that vector. NaN when undefined (as Spearman).
double KendallTauB(const Eigen::VectorXd& true_times, const Eigen::VectorXd& scores);

// Normalised discounted cumulative gain of the first min(k, n) candidates of the predicted
// order, with graded relevance rel_i = best true time / true_times[i] in (0, 1] and linear
// gain: DCG@k = sum_{p=1..k} rel_(p) / log2(p + 1), divided by the DCG@k of the ideal
// (true-time) order. In (0, 1]; 1 = the top k are the k truly fastest, in order.
// Precondition: k >= 1.
double NdcgAtK(const Eigen::VectorXd& true_times, const Eigen::VectorXd& scores, int k = 10);

// Mean absolute percentage error as a fraction: mean |pred - true| / true. Only meaningful
// when the predictor predicts run time (Predictor::predicts_time()); callers pass NaN
// otherwise (EvaluateWorkload does).
double Mape(const Eigen::VectorXd& true_times, const Eigen::VectorXd& predicted_times);

struct MetricOptions {
  int verify_k = 5;    // k of RegretVerifyTopK
  int ndcg_k = 10;     // k of NdcgAtK
};

// The metrics of one workload. In k-fold protocols each metric is the mean over the folds in
// which the workload had held-out rows (NaN folds skipped).
struct WorkloadMetrics {
  int group = 0;              // Dataset::group id
  int64_t candidates = 0;     // held-out rows scored, all folds together
  int folds = 1;
  double top_k_percent = 0;
  double regret = 0;
  double regret_verify_top_k = 0;
  double spearman = 0;
  double kendall_tau_b = 0;
  double ndcg_at_k = 0;
  double mape = 0;            // NaN unless the predictor predicts_time()

  nlohmann::json ToJson() const;   // NaN -> null
};

// Every metric of one workload's candidates. `scores` are run times when predicts_time.
WorkloadMetrics EvaluateWorkload(const Eigen::VectorXd& true_times,
                                 const Eigen::VectorXd& scores, bool predicts_time,
                                 const MetricOptions& options = {});

// The score of every row of a Dataset by the one model that did not see it (k-fold: the
// fold's model; leave-one-workload-out: the model fit without the row's workload).
struct OutOfFold {
  Eigen::VectorXd scores;      // one per Dataset row, in row order
  bool predicts_time = false;  // scores are run times in y's unit (else only an order)
};

// Makes a fresh, unfitted predictor (e.g. [] { return Predictors().Create("ridge", ""); }).
using PredictorFactory = std::function<Result<std::unique_ptr<Predictor>>()>;

// k-fold within workloads: every workload's rows are shuffled (seeded) and dealt into k folds;
// fold f's model is fit on every row outside fold f (all workloads) and scores fold f's rows.
// Every candidate is scored by the one model that did not see it (out-of-fold scores), and
// the metrics are computed per workload over all of its candidates: top-k % is then over the
// whole workload, as in the paper, not over a fold (whose floor would be k/rows). Errors: invalid data, k < 2, a workload with fewer than k candidates, a fit or
// predict error (prefixed with the fold).
Result<std::vector<WorkloadMetrics>> KFoldWithinWorkload(const Dataset& data,
                                                         const PredictorFactory& factory,
                                                         int k, uint64_t seed,
                                                         const MetricOptions& options = {},
                                                         OutOfFold* out_of_fold = nullptr);

// For each workload: fit on all other workloads, score all of its rows. This measures what
// matters most, generalisation to a workload never measured on the reference. `score_groups`
// (non-null): hold out and score only these groups, each against a model fit on every other
// workload (a corpus grown by extra shapes trains, the workloads of interest are scored); the
// other rows' out-of-fold scores are NaN. Errors: invalid data, fewer than 2 workloads, a
// fit or predict error (prefixed with the workload).
Result<std::vector<WorkloadMetrics>> LeaveOneWorkloadOut(const Dataset& data,
                                                         const PredictorFactory& factory,
                                                         const MetricOptions& options = {},
                                                         OutOfFold* out_of_fold = nullptr,
                                                         const std::set<int>* score_groups = nullptr);

// Aggregation over workloads. `mean`: per-metric mean over workloads, NaN values skipped (NaN
// if all are NaN); its `candidates` is the total. `worst`: per-metric worst value (max of
// top_k_percent, regrets, mape; min of spearman, kendall_tau_b, ndcg_at_k), NaN skipped;
// `group` of both is -1.
struct MetricsSummary {
  int workloads = 0;
  WorkloadMetrics mean;
  WorkloadMetrics worst;

  nlohmann::json ToJson() const;
};
MetricsSummary Aggregate(const std::vector<WorkloadMetrics>& per_workload);

}  // namespace simtune
