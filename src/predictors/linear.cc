// "linear" (ordinary least squares) and "ridge" on standardised features: the fixed-effects
// model log(y) = offset_g + w . z + noise, estimated "within" workloads (target and features
// centred per group). Centring only the target would leave each group's mean of w . z in the
// noise, correlated with z: coefficients then shrink by about 1/rows-per-group and the
// per-workload offsets drift.
#include <cmath>
#include <limits>

#include "src/predictors/builtin.h"
#include "src/predictors/common.h"

namespace simtune {
namespace {

using predictors::DenseFeatures;
using predictors::GroupScale;
using predictors::Options;

// Log-spaced: 1e-4 .. 1e4 in half decades.
std::vector<double> AlphaGrid() {
  std::vector<double> grid;
  for (int e = -8; e <= 8; ++e) grid.push_back(std::pow(10.0, e / 2.0));
  return grid;
}

struct RidgeSolution {
  Eigen::VectorXd w;
  double b = 0;
};

// Ridge for every alpha from one SVD of the centred design; the intercept is not penalised.
std::vector<RidgeSolution> SolveRidge(const Eigen::MatrixXd& z, const Eigen::VectorXd& t,
                                      const std::vector<double>& alphas) {
  Eigen::RowVectorXd zmean = z.colwise().mean();
  double tmean = t.mean();
  Eigen::MatrixXd zc = z.rowwise() - zmean;
  Eigen::BDCSVD<Eigen::MatrixXd> svd(zc, Eigen::ComputeThinU | Eigen::ComputeThinV);
  Eigen::VectorXd s = svd.singularValues();
  Eigen::VectorXd uty = svd.matrixU().transpose() * (t.array() - tmean).matrix();
  std::vector<RidgeSolution> out;
  // Singular values below this are rank deficiency (collinear features, common with ~100
  // statistics): plain least squares (alpha 0) takes the minimum-norm solution there
  // instead of dividing by ~0.
  // The cut-off is relative (1e-9 of the largest): directions that are collinear up to
  // rounding of the statistics would otherwise get weights that cancel on the training rows
  // and explode on any other.
  const double tol = s.size() > 0 ? 1e-9 * s.maxCoeff() : 0.0;
  for (double alpha : alphas) {
    Eigen::VectorXd d(s.size());
    for (int64_t i = 0; i < s.size(); ++i)
      d[i] = s[i] > tol ? s[i] / (s[i] * s[i] + alpha) : 0.0;
    RidgeSolution sol;
    sol.w = svd.matrixV() * (d.asDiagonal() * uty);
    sol.b = tmean - zmean.dot(sol.w);
    out.push_back(std::move(sol));
  }
  return out;
}

class LinearPredictor : public Predictor {
 public:
  LinearPredictor(bool ridge, Options options, int folds, uint64_t seed)
      : ridge_(ridge), options_(std::move(options)), folds_(folds), seed_(seed) {}

  std::string name() const override { return ridge_ ? "ridge" : "linear"; }
  std::string options() const override { return options_.Canonical(); }
  bool predicts_time() const override { return true; }
  const std::vector<std::string>& feature_names() const override { return features_.all; }

  Status Fit(const Dataset& train) override {
    SIMTUNE_RETURN_IF_ERROR(train.Validate("training data", true));
    if (train.rows() < 2)
      return Error{"training data: " + name() + " needs at least 2 candidates; got " +
                   std::to_string(train.rows())};
    SIMTUNE_ASSIGN_OR_RETURN(DenseFeatures features, DenseFeatures::Fit(train, name()));
    SIMTUNE_ASSIGN_OR_RETURN(Eigen::MatrixXd z_raw, features.Transform(train, name()));
    Eigen::MatrixXd z = predictors::CentreWithinGroups(train, z_raw);
    Eigen::VectorXd t = GroupCenteredLogTarget(train);
    if (ridge_) {
      alpha_ = ChooseAlpha(train, z);
      RidgeSolution sol = SolveRidge(z, t, {alpha_}).front();
      weights_ = sol.w;
      intercept_ = sol.b;
    } else {
      // Plain least squares: the minimum-norm solution of the truncated SVD (a pivoted QR
      // returned weights that cancel on the training rows and gave non-finite times on
      // others, with ~100 collinear statistics).
      RidgeSolution sol = SolveRidge(z, t, {0.0}).front();
      weights_ = sol.w;
      intercept_ = sol.b;
    }
    features_ = std::move(features);
    scale_ = GroupScale::Fit(train, (z_raw * weights_).array() + intercept_);
    fitted_ = true;
    return Status::Ok();
  }

  Result<Eigen::VectorXd> Predict(const Dataset& x) const override {
    if (!fitted_) return predictors::NotFitted(name());
    SIMTUNE_RETURN_IF_ERROR(x.Validate("prediction input", false));
    SIMTUNE_ASSIGN_OR_RETURN(Eigen::MatrixXd z, features_.Transform(x, name()));
    Eigen::VectorXd r = z * weights_;
    Eigen::VectorXd out(x.rows());
    for (int64_t i = 0; i < x.rows(); ++i)
      out[i] = std::exp(r[i] + intercept_ + scale_.Offset(x.group[i]));
    return out;
  }

  nlohmann::json SaveJson() const override {
    SIMTUNE_CHECK(fitted_);
    nlohmann::json j = {{"features", features_.ToJson()},
                        {"scale", scale_.ToJson()},
                        {"weights", predictors::ToJson(weights_)},
                        {"intercept", intercept_}};
    j["chosen"] = ridge_ ? nlohmann::json{{"alpha", alpha_}} : nlohmann::json::object();
    return j;
  }

  Status LoadJson(const nlohmann::json& model) override {
    if (!model.is_object()) return Error{"invalid model: not an object"};
    SIMTUNE_ASSIGN_OR_RETURN(DenseFeatures features,
                             DenseFeatures::FromJson(model.value("features", nlohmann::json()),
                                                     "features"));
    SIMTUNE_ASSIGN_OR_RETURN(GroupScale scale,
                             GroupScale::FromJson(model.value("scale", nlohmann::json()), "scale"));
    SIMTUNE_ASSIGN_OR_RETURN(Eigen::VectorXd w, predictors::VectorFromJson(
                                                    model.value("weights", nlohmann::json()), "weights"));
    if (w.size() != features.mean.size())
      return Error{"invalid model: " + std::to_string(w.size()) + " weights for " +
                   std::to_string(features.mean.size()) + " features"};
    SIMTUNE_ASSIGN_OR_RETURN(double intercept, predictors::FiniteFromJson(
                                                   model.value("intercept", nlohmann::json()),
                                                   "intercept"));
    double alpha = 0;
    if (ridge_) {
      const auto& chosen = model.value("chosen", nlohmann::json::object());
      SIMTUNE_ASSIGN_OR_RETURN(alpha, predictors::BoundedFromJson(
                                          chosen.value("alpha", nlohmann::json()), "chosen.alpha",
                                          0, /*strict=*/false));
    }
    features_ = std::move(features);
    scale_ = std::move(scale);
    weights_ = std::move(w);
    intercept_ = intercept;
    alpha_ = alpha;
    fitted_ = true;
    return Status::Ok();
  }

 private:
  // Grouped k-fold over the grid on within-centred features (folds hold out whole groups,
  // so no held-out row shapes a training row's centring; with one group, fold-wise centring
  // differs only by a constant the intercept absorbs). Ties go to the larger alpha (more
  // regularisation), which is why the grid is walked from the top.
  double ChooseAlpha(const Dataset& train, const Eigen::MatrixXd& z) const {
    std::vector<double> grid = AlphaGrid();
    auto folds = predictors::CvFolds(train, folds_, seed_);
    if (folds.empty()) return grid.back();
    Eigen::VectorXd sse = Eigen::VectorXd::Zero(static_cast<int64_t>(grid.size()));
    for (const auto& held : folds) {
      std::vector<int64_t> keep = predictors::Complement(train.rows(), held);
      Dataset tr = train.Subset(keep), ho = train.Subset(held);
      Eigen::MatrixXd ztr(keep.size(), z.cols()), zho(held.size(), z.cols());
      for (size_t i = 0; i < keep.size(); ++i) ztr.row(i) = z.row(keep[i]);
      for (size_t i = 0; i < held.size(); ++i) zho.row(i) = z.row(held[i]);
      std::vector<RidgeSolution> sols = SolveRidge(ztr, GroupCenteredLogTarget(tr), grid);
      for (size_t a = 0; a < grid.size(); ++a) {
        Eigen::VectorXd pred = (zho * sols[a].w).array() + sols[a].b;
        sse[a] += predictors::CentredSquaredError(ho, pred) * static_cast<double>(held.size());
      }
    }
    size_t best = grid.size() - 1;
    for (size_t a = grid.size(); a-- > 0;)
      if (sse[a] < sse[best]) best = a;
    return grid[best];
  }

  bool ridge_;
  Options options_;
  int folds_;
  uint64_t seed_;
  bool fitted_ = false;
  DenseFeatures features_;
  GroupScale scale_;
  Eigen::VectorXd weights_;
  double intercept_ = 0;
  double alpha_ = 0;
};

}  // namespace

void RegisterLinearPredictors(PredictorRegistry& registry) {
  registry.Register(
      "linear", "multiple linear regression of log run time (least squares, QR)",
      [](const std::string& text) -> Result<std::unique_ptr<Predictor>> {
        SIMTUNE_ASSIGN_OR_RETURN(Options o, Options::Parse(text, "linear", {}));
        return std::unique_ptr<Predictor>(new LinearPredictor(false, std::move(o), 0, 0));
      });
  registry.Register(
      "ridge", "ridge regression of log run time, alpha by grouped cross-validation",
      [](const std::string& text) -> Result<std::unique_ptr<Predictor>> {
        SIMTUNE_ASSIGN_OR_RETURN(Options o,
                                 Options::Parse(text, "ridge", {{"folds", "5"}, {"seed", "0"}}));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t folds, o.Int("folds", 2, 100));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t seed, o.Int("seed", 0, INT64_MAX));
        return std::unique_ptr<Predictor>(new LinearPredictor(
            true, std::move(o), static_cast<int>(folds), static_cast<uint64_t>(seed)));
      });
}

}  // namespace simtune
