// "cost": a mechanistic-empirical cycle model. Run time is a non-negative sum of event costs,
//   y ~ sum_e w_e * E_e,   w_e >= 0,
// over the events one simulator counted for the candidate: instructions of each class, cache
// misses of each level, branch mispredictions. The counts are recovered from the features
// (features.h): E_class = exp(S.log_insn) * S.frac.<class>, E_level = exp(S.<level>.log_misses),
// E_bpred = S.bpred.mpki / 1000 * exp(S.log_insn), and, when the "mca" simulator is joined,
// its static cycle estimate E_cycles = exp(mca.log_cycles) (what the core spends when nothing
// misses), so that the misses and mispredictions add what llvm-mca cannot see. Because time
// is additive over events, a weight learned on some workloads means the same on any other:
// this is the predictor meant for workloads nobody measured. Fit minimises the relative squared error
// sum_i ((sum_e w_e E_ie - y_i) / y_i)^2 under w >= 0 (Lawson-Hanson NNLS on columns scaled to
// unit norm), with a small ridge term chosen by grouped cross-validation.
#include <cmath>
#include <limits>
#include <set>

#include "src/predictors/builtin.h"
#include "src/predictors/common.h"
#include "simtune/simulator.h"
#include "simtune/strings.h"

namespace simtune {
namespace {

using predictors::Options;

// Lawson-Hanson active-set NNLS: argmin ||A w - b|| subject to w >= 0.
Eigen::VectorXd Nnls(const Eigen::MatrixXd& a, const Eigen::VectorXd& b) {
  const int64_t n = a.cols();
  Eigen::VectorXd w = Eigen::VectorXd::Zero(n);
  std::vector<bool> passive(n, false);
  const double tol = 1e-10 * std::max(1.0, a.norm());
  for (int iter = 0; iter < 3 * n + 10; ++iter) {
    Eigen::VectorXd grad = a.transpose() * (b - a * w);
    int64_t best = -1;
    for (int64_t j = 0; j < n; ++j)
      if (!passive[j] && grad[j] > tol && (best < 0 || grad[j] > grad[best])) best = j;
    if (best < 0) break;
    passive[best] = true;
    for (int inner = 0; inner < 3 * n + 10; ++inner) {
      std::vector<int64_t> p;
      for (int64_t j = 0; j < n; ++j)
        if (passive[j]) p.push_back(j);
      Eigen::MatrixXd ap(a.rows(), static_cast<int64_t>(p.size()));
      for (size_t k = 0; k < p.size(); ++k) ap.col(static_cast<int64_t>(k)) = a.col(p[k]);
      Eigen::VectorXd z = ap.colPivHouseholderQr().solve(b);
      bool feasible = true;
      for (int64_t k = 0; k < z.size(); ++k) feasible = feasible && z[k] > 0;
      if (feasible) {
        w.setZero();
        for (size_t k = 0; k < p.size(); ++k) w[p[k]] = z[static_cast<int64_t>(k)];
        break;
      }
      // Step from w towards z until the first passive weight reaches zero; drop those.
      double alpha = 1;
      for (size_t k = 0; k < p.size(); ++k)
        if (z[static_cast<int64_t>(k)] <= 0) {
          double denom = w[p[k]] - z[static_cast<int64_t>(k)];
          if (denom > 0) alpha = std::min(alpha, w[p[k]] / denom);
        }
      for (size_t k = 0; k < p.size(); ++k)
        w[p[k]] += alpha * (z[static_cast<int64_t>(k)] - w[p[k]]);
      for (size_t k = 0; k < p.size(); ++k)
        if (w[p[k]] <= tol) {
          w[p[k]] = 0;
          passive[p[k]] = false;
        }
    }
  }
  return w;
}

class CostModel : public Predictor {
 public:
  CostModel(Options options, std::string sim, int folds, uint64_t seed)
      : options_(std::move(options)), sim_(std::move(sim)), folds_(folds), seed_(seed) {}

  std::string name() const override { return "cost"; }
  std::string options() const override { return options_.Canonical(); }
  bool predicts_time() const override { return true; }
  const std::vector<std::string>& feature_names() const override { return all_; }

  Status Fit(const Dataset& train) override {
    SIMTUNE_RETURN_IF_ERROR(train.Validate("training data", true));
    if (train.rows() < 2)
      return Error{"training data: cost needs at least 2 candidates; got " + std::to_string(train.rows())};
    SIMTUNE_ASSIGN_OR_RETURN(std::string sim, ChooseSimulator(train));
    std::vector<std::string> events = EventNames(train, sim);
    sim_used_ = sim;
    events_ = events;
    SIMTUNE_ASSIGN_OR_RETURN(Eigen::MatrixXd e, Events(train));
    // Relative error: divide each row by its run time; scale columns to unit norm.
    Eigen::MatrixXd a = e;
    for (int64_t i = 0; i < a.rows(); ++i) a.row(i) /= train.y[i];
    Eigen::VectorXd norm = a.colwise().norm().transpose();
    for (int64_t j = 0; j < norm.size(); ++j)
      if (norm[j] <= 0) norm[j] = 1;
    for (int64_t j = 0; j < a.cols(); ++j) a.col(j) /= norm[j];
    lambda_ = ChooseLambda(train, a);
    Eigen::VectorXd w = Solve(a, lambda_);
    weights_ = (w.array() / norm.array()).matrix();
    all_ = train.feature_names;
    fitted_ = true;
    return Status::Ok();
  }

  Result<Eigen::VectorXd> Predict(const Dataset& x) const override {
    if (!fitted_) return predictors::NotFitted(name());
    SIMTUNE_RETURN_IF_ERROR(x.Validate("prediction input", false));
    SIMTUNE_ASSIGN_OR_RETURN(Eigen::MatrixXd e, Events(x));
    Eigen::VectorXd out = e * weights_;
    // A candidate whose counted events all have zero weight would score 0: floor it at the
    // smallest positive cost so that predictions stay run times (> 0).
    double floor = std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < weights_.size(); ++j)
      if (weights_[j] > 0) floor = std::min(floor, weights_[j]);
    if (!std::isfinite(floor)) floor = 1e-12;
    for (int64_t i = 0; i < out.size(); ++i) out[i] = std::max(out[i], floor);
    return out;
  }

  nlohmann::json SaveJson() const override {
    SIMTUNE_CHECK(fitted_);
    return {{"simulator", sim_used_},
            {"events", events_},
            {"weights", predictors::ToJson(weights_)},
            {"all_features", all_},
            {"chosen", {{"lambda", lambda_}, {"simulator", sim_used_}}}};
  }

  Status LoadJson(const nlohmann::json& model) override {
    if (!model.is_object()) return Error{"invalid model: not an object"};
    std::string sim;
    std::vector<std::string> events, all;
    try {
      sim = model.at("simulator").get<std::string>();
      events = model.at("events").get<std::vector<std::string>>();
      all = model.at("all_features").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
      return Error{std::string("invalid model: ") + e.what()};
    }
    const auto& chosen = model.value("chosen", nlohmann::json::object());
    SIMTUNE_ASSIGN_OR_RETURN(double lambda, predictors::BoundedFromJson(
                                                chosen.value("lambda", nlohmann::json()),
                                                "chosen.lambda", 0, /*strict=*/false));
    SIMTUNE_ASSIGN_OR_RETURN(Eigen::VectorXd weights,
                             predictors::VectorFromJson(model.value("weights", nlohmann::json()),
                                                        "weights"));
    if (weights.size() != static_cast<int64_t>(events.size()))
      return Error{"invalid model: " + std::to_string(weights.size()) + " weights for " +
                   std::to_string(events.size()) + " events"};
    // Costs are non-negative (NNLS); a negative one would make predicted times negative.
    for (int64_t j = 0; j < weights.size(); ++j)
      if (weights[j] < 0)
        return Error{"invalid model: weights[" + std::to_string(j) +
                     "]: expected a number >= 0; got " + predictors::FormatDouble(weights[j])};
    sim_used_ = std::move(sim);
    events_ = std::move(events);
    all_ = std::move(all);
    lambda_ = lambda;
    weights_ = std::move(weights);
    fitted_ = true;
    return Status::Ok();
  }

 private:
  // The simulator prefix: the option, else, of those with S.log_insn in most rows, the one
  // that counts the most events (first by name among equals). The "mca" simulator counts
  // none of its own: its cycle estimate joins whichever simulator is chosen (EventNames).
  Result<std::string> ChooseSimulator(const Dataset& d) const {
    std::vector<std::string> candidates;
    if (!sim_.empty()) {
      candidates.push_back(sim_);
    } else {
      for (const auto& f : d.feature_names)
        if (f.size() > 9 && f.ends_with(".log_insn")) candidates.push_back(f.substr(0, f.size() - 9));
    }
    std::string best;
    size_t best_events = 0;
    for (const auto& s : candidates) {
      int64_t c = d.FeatureIndex(s + ".log_insn");
      if (c < 0 || !predictors::MostlyPresent(d.X, c)) continue;
      size_t n = EventNames(d, s).size();
      if (best.empty() || n > best_events) {
        best = s;
        best_events = n;
      }
    }
    if (!best.empty()) return best;
    if (!sim_.empty())
      return Error{"training data: cost option sim=" + sim_ + " but '" + sim_ +
                   ".log_insn' is missing in more than half the rows"};
    return Error{"training data: cost needs a simulator's '<sim>.log_insn' feature in most rows; "
                 "none found"};
  }

  // Events available for `sim` in most training rows (predictors::MostlyPresent): class counts, misses per level,
  // branch mispredictions; instructions as a whole when no class mix is known; and any
  // simulator's static cycle estimate ("<x>.log_cycles", the mca simulator's), as "cycles.<x>".
  static std::vector<std::string> EventNames(const Dataset& d, const std::string& sim) {
    auto complete = [&](const std::string& f) {
      int64_t c = d.FeatureIndex(f);
      return c >= 0 && predictors::MostlyPresent(d.X, c);
    };
    std::vector<std::string> out;
    for (const auto& c : kInsnClasses)
      if (complete(sim + ".frac." + c)) out.push_back("class." + c);
    if (out.empty()) out.push_back("insn");
    for (const auto& f : d.feature_names)
      if (f.rfind(sim + ".", 0) == 0 && f.ends_with(".log_misses") && complete(f))
        out.push_back("misses." + f.substr(sim.size() + 1, f.size() - sim.size() - 1 - 11));
    if (complete(sim + ".bpred.mpki")) out.push_back("bpred");
    for (const auto& f : d.feature_names)
      if (f.size() > 11 && f.ends_with(".log_cycles") && complete(f))
        out.push_back("cycles." + f.substr(0, f.size() - 11));
    return out;
  }

  Result<Eigen::MatrixXd> Events(const Dataset& x) const {
    auto col = [&](const std::string& f) -> Result<int64_t> {
      int64_t c = x.FeatureIndex(f);
      if (c < 0) return Error{"input lacks feature '" + f + "' that the cost model was trained with"};
      return c;
    };
    Eigen::MatrixXd e(x.rows(), static_cast<int64_t>(events_.size()));
    SIMTUNE_ASSIGN_OR_RETURN(int64_t insn_col, col(sim_used_ + ".log_insn"));
    for (size_t k = 0; k < events_.size(); ++k) {
      const std::string& ev = events_[k];
      std::string feature;
      int64_t c = -1;
      if (ev.rfind("class.", 0) == 0) feature = sim_used_ + ".frac." + ev.substr(6);
      else if (ev.rfind("misses.", 0) == 0) feature = sim_used_ + "." + ev.substr(7) + ".log_misses";
      else if (ev == "bpred") feature = sim_used_ + ".bpred.mpki";
      else if (ev.rfind("cycles.", 0) == 0) feature = ev.substr(7) + ".log_cycles";
      if (!feature.empty()) {
        SIMTUNE_ASSIGN_OR_RETURN(c, col(feature));
      }
      for (int64_t i = 0; i < x.rows(); ++i) {
        double insn = std::exp(x.X(i, insn_col));
        const bool counted = ev.rfind("misses.", 0) == 0 || ev.rfind("cycles.", 0) == 0;
        double v = ev == "insn"                  ? insn
                   : ev.rfind("class.", 0) == 0 ? insn * x.X(i, c)
                   : counted                    ? std::exp(x.X(i, c))
                                                : x.X(i, c) / 1000 * insn;
        e(i, static_cast<int64_t>(k)) = v;
      }
      // A count missing for some candidates (predictor.h): the mean of its workload's others,
      // else of every row given, else 0 (the event then adds nothing to anyone's cost).
      const auto kk = static_cast<int64_t>(k);
      const double all_mean = predictors::PresentMean(e, kk);
      predictors::ImputeGroupMeans(e, kk, x.group, std::isnan(all_mean) ? 0.0 : all_mean);
    }
    return e;
  }

  // NNLS with a ridge term: stack sqrt(lambda) * I under A and zeros under b.
  static Eigen::VectorXd Solve(const Eigen::MatrixXd& a, double lambda) {
    Eigen::MatrixXd aa(a.rows() + a.cols(), a.cols());
    aa.topRows(a.rows()) = a;
    aa.bottomRows(a.cols()) = std::sqrt(lambda) * Eigen::MatrixXd::Identity(a.cols(), a.cols());
    Eigen::VectorXd bb = Eigen::VectorXd::Zero(aa.rows());
    bb.head(a.rows()).setOnes();
    return Nnls(aa, bb);
  }

  // Grouped k-fold CV on the within-workload rank quality (mean Spearman), ties to the larger
  // lambda; relative squared error breaks near-ties.
  double ChooseLambda(const Dataset& train, const Eigen::MatrixXd& a) const {
    const std::vector<double> grid = {1e-6, 1e-4, 1e-3, 1e-2, 1e-1};
    auto folds = predictors::CvFolds(train, folds_, seed_);
    if (folds.empty()) return grid.front();
    std::vector<double> score(grid.size(), 0);
    for (const auto& held : folds) {
      std::vector<int64_t> keep = predictors::Complement(train.rows(), held);
      Eigen::MatrixXd atr(keep.size(), a.cols()), aho(held.size(), a.cols());
      for (size_t i = 0; i < keep.size(); ++i) atr.row(static_cast<int64_t>(i)) = a.row(keep[i]);
      for (size_t i = 0; i < held.size(); ++i) aho.row(static_cast<int64_t>(i)) = a.row(held[i]);
      Dataset ho = train.Subset(held);
      for (size_t g = 0; g < grid.size(); ++g) {
        Eigen::VectorXd w = Solve(atr, grid[g]);
        // aho rows are E/y: prediction / truth. Score by the relative squared error.
        Eigen::VectorXd ratio = aho * w;
        score[g] += (ratio.array() - 1).square().sum();
      }
    }
    size_t best = 0;
    for (size_t g = 1; g < grid.size(); ++g)
      if (score[g] <= score[best] * (1 + 1e-9)) best = g;
    return grid[best];
  }

  Options options_;
  std::string sim_;
  int folds_;
  uint64_t seed_;
  bool fitted_ = false;
  std::string sim_used_;
  std::vector<std::string> events_;
  std::vector<std::string> all_;
  Eigen::VectorXd weights_;
  double lambda_ = 0;
};

}  // namespace

void RegisterCostModelPredictor(PredictorRegistry& registry) {
  registry.Register(
      "cost", "non-negative sum of event costs (instruction classes, cache misses, mispredictions), NNLS",
      [](const std::string& text) -> Result<std::unique_ptr<Predictor>> {
        SIMTUNE_ASSIGN_OR_RETURN(Options o, Options::Parse(text, "cost", {{"folds", "5"}, {"seed", "0"}, {"sim", "auto"}}));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t folds, o.Int("folds", 2, 100));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t seed, o.Int("seed", 0, INT64_MAX));
        std::string sim = o.String("sim") == "auto" ? "" : o.String("sim");
        return std::unique_ptr<Predictor>(
            new CostModel(std::move(o), sim, static_cast<int>(folds), static_cast<uint64_t>(seed)));
      });
}

}  // namespace simtune
