#include "simtune/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "src/predictors/common.h"

namespace simtune {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void CheckInputs(const Eigen::VectorXd& true_times, const Eigen::VectorXd& scores) {
  SIMTUNE_CHECK(true_times.size() == scores.size());
  SIMTUNE_CHECK(true_times.size() >= 1);
  SIMTUNE_CHECK(((true_times.array() > 0) && true_times.array().isFinite()).all());
  SIMTUNE_CHECK(scores.array().isFinite().all());
}

// Score ascending, ties slowest first, then index (only to be deterministic).
std::vector<int64_t> PredictedOrder(const Eigen::VectorXd& true_times,
                                    const Eigen::VectorXd& scores) {
  std::vector<int64_t> order(true_times.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    if (scores[a] != scores[b]) return scores[a] < scores[b];
    if (true_times[a] != true_times[b]) return true_times[a] > true_times[b];
    return a < b;
  });
  return order;
}

// 1-based ranks, ties get the average of the ranks they span.
Eigen::VectorXd AverageRanks(const Eigen::VectorXd& v) {
  std::vector<int64_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return v[a] < v[b]; });
  Eigen::VectorXd ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t q = i; q <= j; ++q) ranks[order[q]] = avg;
    i = j + 1;
  }
  return ranks;
}

double Dcg(const Eigen::VectorXd& true_times, const std::vector<int64_t>& order, int k,
           double best) {
  double dcg = 0;
  int64_t m = std::min<int64_t>(k, static_cast<int64_t>(order.size()));
  for (int64_t p = 0; p < m; ++p) dcg += (best / true_times[order[p]]) / std::log2(p + 2.0);
  return dcg;
}

// Running per-metric mean that skips NaN.
struct MeanAccumulator {
  double sum = 0;
  int count = 0;
  void Add(double v) {
    if (std::isnan(v)) return;
    sum += v;
    ++count;
  }
  double Get() const { return count ? sum / count : kNaN; }
};

struct MetricFields {
  double WorkloadMetrics::*field;
  bool higher_is_better;
};
constexpr MetricFields kFields[] = {
    {&WorkloadMetrics::top_k_percent, false},  {&WorkloadMetrics::regret, false},
    {&WorkloadMetrics::regret_verify_top_k, false}, {&WorkloadMetrics::spearman, true},
    {&WorkloadMetrics::kendall_tau_b, true},   {&WorkloadMetrics::ndcg_at_k, true},
    {&WorkloadMetrics::mape, false},
};

Eigen::VectorXd Gather(const Eigen::VectorXd& v, const std::vector<int64_t>& rows) {
  Eigen::VectorXd out(static_cast<int64_t>(rows.size()));
  for (size_t i = 0; i < rows.size(); ++i) out[static_cast<int64_t>(i)] = v[rows[i]];
  return out;
}

nlohmann::json Number(double v) { return std::isnan(v) ? nlohmann::json() : nlohmann::json(v); }

// Fits on `train`, scores `test`, and evaluates each workload in `test` separately.
// A fresh predictor fit on train, its scores of test (finite, one per row).
Result<Eigen::VectorXd> FitAndScore(const Dataset& train, const Dataset& test,
                                    const PredictorFactory& factory, bool* predicts_time) {
  SIMTUNE_ASSIGN_OR_RETURN(std::unique_ptr<Predictor> predictor, factory());
  SIMTUNE_RETURN_IF_ERROR(predictor->Fit(train));
  SIMTUNE_ASSIGN_OR_RETURN(Eigen::VectorXd scores, predictor->Predict(test));
  if (scores.size() != test.rows() || !scores.array().isFinite().all())
    return Error{"predictor " + predictor->name() + " returned " + std::to_string(scores.size()) +
                 " scores (some not finite?) for " + std::to_string(test.rows()) + " candidates"};
  *predicts_time = predictor->predicts_time();
  return scores;
}

Result<std::vector<WorkloadMetrics>> FitAndEvaluate(const Dataset& train, const Dataset& test,
                                                    const PredictorFactory& factory,
                                                    const MetricOptions& options,
                                                    Eigen::VectorXd* scores_out, bool* predicts_time_out) {
  bool predicts_time = false;
  SIMTUNE_ASSIGN_OR_RETURN(Eigen::VectorXd scores, FitAndScore(train, test, factory, &predicts_time));
  if (scores_out) *scores_out = scores;
  if (predicts_time_out) *predicts_time_out = predicts_time;
  std::vector<WorkloadMetrics> out;
  std::vector<int> groups = test.Groups();
  std::vector<std::vector<int64_t>> rows = test.RowsByGroup();
  for (size_t g = 0; g < groups.size(); ++g) {
    WorkloadMetrics m = EvaluateWorkload(Gather(test.y, rows[g]), Gather(scores, rows[g]),
                                         predicts_time, options);
    m.group = groups[g];
    out.push_back(m);
  }
  return out;
}

}  // namespace

double TopKPercent(const Eigen::VectorXd& true_times, const Eigen::VectorXd& scores) {
  CheckInputs(true_times, scores);
  const double best = true_times.minCoeff();
  std::vector<int64_t> order = PredictedOrder(true_times, scores);
  for (size_t p = 0; p < order.size(); ++p)
    if (true_times[order[p]] == best)
      return 100.0 * static_cast<double>(p + 1) / static_cast<double>(order.size());
  SIMTUNE_CHECK(false);
  return kNaN;
}

double Regret(const Eigen::VectorXd& true_times, const Eigen::VectorXd& scores) {
  return RegretVerifyTopK(true_times, scores, 1);
}

double RegretVerifyTopK(const Eigen::VectorXd& true_times, const Eigen::VectorXd& scores,
                        int k) {
  CheckInputs(true_times, scores);
  SIMTUNE_CHECK(k >= 1);
  std::vector<int64_t> order = PredictedOrder(true_times, scores);
  double verified = std::numeric_limits<double>::infinity();
  for (int64_t p = 0; p < std::min<int64_t>(k, static_cast<int64_t>(order.size())); ++p)
    verified = std::min(verified, true_times[order[p]]);
  return verified / true_times.minCoeff();
}

double Spearman(const Eigen::VectorXd& true_times, const Eigen::VectorXd& scores) {
  SIMTUNE_CHECK(true_times.size() == scores.size());
  if (true_times.size() < 2) return kNaN;
  Eigen::VectorXd a = AverageRanks(true_times), b = AverageRanks(scores);
  a.array() -= a.mean();
  b.array() -= b.mean();
  double den = std::sqrt(a.squaredNorm() * b.squaredNorm());
  return den > 0 ? a.dot(b) / den : kNaN;
}

double KendallTauB(const Eigen::VectorXd& true_times, const Eigen::VectorXd& scores) {
  SIMTUNE_CHECK(true_times.size() == scores.size());
  const int64_t n = true_times.size();
  if (n < 2) return kNaN;
  int64_t concordant = 0, discordant = 0, ties_true = 0, ties_score = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) {
      double a = true_times[i] - true_times[j];
      double b = scores[i] - scores[j];
      if (a == 0) ++ties_true;
      if (b == 0) ++ties_score;
      if (a == 0 || b == 0) continue;
      if ((a > 0) == (b > 0)) ++concordant;
      else ++discordant;
    }
  }
  const double n0 = static_cast<double>(n) * static_cast<double>(n - 1) / 2.0;
  double den = std::sqrt((n0 - static_cast<double>(ties_true)) * (n0 - static_cast<double>(ties_score)));
  return den > 0 ? static_cast<double>(concordant - discordant) / den : kNaN;
}

double NdcgAtK(const Eigen::VectorXd& true_times, const Eigen::VectorXd& scores, int k) {
  CheckInputs(true_times, scores);
  SIMTUNE_CHECK(k >= 1);
  const double best = true_times.minCoeff();
  std::vector<int64_t> ideal(true_times.size());
  std::iota(ideal.begin(), ideal.end(), 0);
  std::sort(ideal.begin(), ideal.end(),
            [&](int64_t a, int64_t b) { return true_times[a] < true_times[b]; });
  return Dcg(true_times, PredictedOrder(true_times, scores), k, best) /
         Dcg(true_times, ideal, k, best);
}

double Mape(const Eigen::VectorXd& true_times, const Eigen::VectorXd& predicted_times) {
  CheckInputs(true_times, predicted_times);
  return ((predicted_times - true_times).array().abs() / true_times.array()).mean();
}

WorkloadMetrics EvaluateWorkload(const Eigen::VectorXd& true_times,
                                 const Eigen::VectorXd& scores, bool predicts_time,
                                 const MetricOptions& options) {
  WorkloadMetrics m;
  m.candidates = true_times.size();
  m.top_k_percent = TopKPercent(true_times, scores);
  m.regret = Regret(true_times, scores);
  m.regret_verify_top_k = RegretVerifyTopK(true_times, scores, options.verify_k);
  m.spearman = Spearman(true_times, scores);
  m.kendall_tau_b = KendallTauB(true_times, scores);
  m.ndcg_at_k = NdcgAtK(true_times, scores, options.ndcg_k);
  m.mape = predicts_time ? Mape(true_times, scores) : kNaN;
  return m;
}

nlohmann::json WorkloadMetrics::ToJson() const {
  return {{"group", group},
          {"candidates", candidates},
          {"folds", folds},
          {"top_k_percent", Number(top_k_percent)},
          {"regret", Number(regret)},
          {"regret_verify_top_k", Number(regret_verify_top_k)},
          {"spearman", Number(spearman)},
          {"kendall_tau_b", Number(kendall_tau_b)},
          {"ndcg_at_k", Number(ndcg_at_k)},
          {"mape", Number(mape)}};
}

nlohmann::json MetricsSummary::ToJson() const {
  return {{"workloads", workloads}, {"mean", mean.ToJson()}, {"worst", worst.ToJson()}};
}

Result<std::vector<WorkloadMetrics>> KFoldWithinWorkload(const Dataset& data,
                                                         const PredictorFactory& factory,
                                                         int k, uint64_t seed,
                                                         const MetricOptions& options,
                                                         OutOfFold* out_of_fold) {
  SIMTUNE_RETURN_IF_ERROR(data.Validate("evaluation data", true));
  if (k < 2) return Error{"k-fold within workload: k must be >= 2; got " + std::to_string(k)};
  std::vector<int> groups = data.Groups();
  std::vector<std::vector<int64_t>> by_group = data.RowsByGroup();
  std::vector<int> fold_of(data.rows(), 0);
  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<int64_t> rows = by_group[g];
    if (static_cast<int64_t>(rows.size()) < k)
      return Error{"k-fold within workload: workload group " + std::to_string(groups[g]) +
                   " has " + std::to_string(rows.size()) + " candidates; k=" +
                   std::to_string(k) + " needs at least " + std::to_string(k)};
    predictors::Shuffle(rows, predictors::Mix64(seed) ^ static_cast<uint64_t>(groups[g]));
    for (size_t i = 0; i < rows.size(); ++i) fold_of[rows[i]] = static_cast<int>(i % k);
  }
  // Out-of-fold scores: every candidate scored by the one model that did not see it.
  Eigen::VectorXd oof(data.rows());
  bool predicts_time = false;
  for (int f = 0; f < k; ++f) {
    std::vector<int64_t> train_rows, test_rows;
    for (int64_t r = 0; r < data.rows(); ++r)
      (fold_of[r] == f ? test_rows : train_rows).push_back(r);
    auto scores = FitAndScore(data.Subset(train_rows), data.Subset(test_rows), factory, &predicts_time);
    if (!scores.ok())
      return Wrap(scores.error(), "fold " + std::to_string(f + 1) + " of " + std::to_string(k));
    for (size_t i = 0; i < test_rows.size(); ++i) oof[test_rows[i]] = (*scores)[static_cast<int64_t>(i)];
  }
  std::vector<WorkloadMetrics> out;
  for (size_t g = 0; g < groups.size(); ++g) {
    WorkloadMetrics m = EvaluateWorkload(Gather(data.y, by_group[g]), Gather(oof, by_group[g]),
                                         predicts_time, options);
    m.group = groups[g];
    m.folds = k;
    out.push_back(m);
  }
  if (out_of_fold) *out_of_fold = {oof, predicts_time};
  return out;
}

Result<std::vector<WorkloadMetrics>> LeaveOneWorkloadOut(const Dataset& data,
                                                         const PredictorFactory& factory,
                                                         const MetricOptions& options,
                                                         OutOfFold* out_of_fold,
                                                         const std::set<int>* score_groups) {
  SIMTUNE_RETURN_IF_ERROR(data.Validate("evaluation data", true));
  std::vector<int> groups = data.Groups();
  if (groups.size() < 2)
    return Error{"leave-one-workload-out needs at least 2 workloads; got " +
                 std::to_string(groups.size())};
  std::vector<std::vector<int64_t>> by_group = data.RowsByGroup();
  std::vector<WorkloadMetrics> out;
  OutOfFold oof{Eigen::VectorXd::Constant(data.rows(), std::numeric_limits<double>::quiet_NaN()), false};
  for (size_t g = 0; g < groups.size(); ++g) {
    if (score_groups && !score_groups->count(groups[g])) continue;
    Eigen::VectorXd scores;
    auto result = FitAndEvaluate(data.Subset(predictors::Complement(data.rows(), by_group[g])),
                                 data.Subset(by_group[g]), factory, options, &scores, &oof.predicts_time);
    if (!result.ok())
      return Wrap(result.error(), "workload group " + std::to_string(groups[g]) + " held out");
    SIMTUNE_CHECK(result->size() == 1);
    out.push_back(result->front());
    for (size_t i = 0; i < by_group[g].size(); ++i) oof.scores[by_group[g][i]] = scores[static_cast<int64_t>(i)];
  }
  if (out_of_fold) *out_of_fold = std::move(oof);
  return out;
}

MetricsSummary Aggregate(const std::vector<WorkloadMetrics>& per_workload) {
  MetricsSummary s;
  s.workloads = static_cast<int>(per_workload.size());
  s.mean.group = s.worst.group = -1;
  s.mean.folds = s.worst.folds = 0;
  MeanAccumulator mean[std::size(kFields)];
  double worst[std::size(kFields)];
  std::fill(std::begin(worst), std::end(worst), kNaN);
  for (const WorkloadMetrics& m : per_workload) {
    s.mean.candidates += m.candidates;
    for (size_t f = 0; f < std::size(kFields); ++f) {
      double v = m.*(kFields[f].field);
      mean[f].Add(v);
      if (std::isnan(v)) continue;
      if (std::isnan(worst[f]) || (kFields[f].higher_is_better ? v < worst[f] : v > worst[f]))
        worst[f] = v;
    }
  }
  s.worst.candidates = s.mean.candidates;
  for (size_t f = 0; f < std::size(kFields); ++f) {
    s.mean.*(kFields[f].field) = mean[f].Get();
    s.worst.*(kFields[f].field) = worst[f];
  }
  return s;
}

}  // namespace simtune
