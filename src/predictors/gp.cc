// "gp": Gaussian-process regression of the group-centred log run time on standardised
// features, isotropic RBF or Matern-5/2 kernel, zero prior mean (the target is centred).
//
// Covariance sigma2 * (R + lambda I) with R the kernel's correlation matrix: for a fixed
// (length scale, lambda) the signal variance sigma2 maximising the likelihood is
// t' (R + lambda I)^-1 t / n, so the grid only spans length scale and noise ratio. The grid
// search runs on a seeded subsample (the likelihood needs one Cholesky per point), the
// final fit on up to max_rows rows.
#include <algorithm>
#include <cmath>
#include <limits>

#include "src/predictors/builtin.h"
#include "src/predictors/common.h"

namespace simtune {
namespace {

using predictors::DenseFeatures;
using predictors::GroupScale;
using predictors::Options;

constexpr int64_t kSearchRows = 400;

Eigen::MatrixXd SquaredDistances(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  Eigen::VectorXd an = a.rowwise().squaredNorm();
  Eigen::VectorXd bn = b.rowwise().squaredNorm();
  Eigen::MatrixXd d = (-2.0 * a * b.transpose()).colwise() + an;
  d.rowwise() += bn.transpose();
  return d.cwiseMax(0.0);   // rounding can make tiny distances negative
}

Eigen::MatrixXd Correlation(const Eigen::MatrixXd& d2, double length, bool matern) {
  if (!matern) return (-0.5 * d2.array() / (length * length)).exp().matrix();
  Eigen::ArrayXXd r = d2.array().sqrt() * (std::sqrt(5.0) / length);
  return ((1.0 + r + r.square() / 3.0) * (-r).exp()).matrix();
}

class GpPredictor : public Predictor {
 public:
  GpPredictor(Options options, bool matern, int64_t max_rows, uint64_t seed)
      : options_(std::move(options)), matern_(matern), max_rows_(max_rows), seed_(seed) {}

  std::string name() const override { return "gp"; }
  std::string options() const override { return options_.Canonical(); }
  bool predicts_time() const override { return true; }
  const std::vector<std::string>& feature_names() const override { return features_.all; }

  Status Fit(const Dataset& train) override {
    SIMTUNE_RETURN_IF_ERROR(train.Validate("training data", true));
    if (train.rows() < 2)
      return Error{"training data: gp needs at least 2 candidates; got " +
                   std::to_string(train.rows())};
    SIMTUNE_ASSIGN_OR_RETURN(DenseFeatures features, DenseFeatures::Fit(train, name()));
    SIMTUNE_ASSIGN_OR_RETURN(Eigen::MatrixXd z, features.Transform(train, name()));
    Eigen::VectorXd t = GroupCenteredLogTarget(train);

    std::vector<int64_t> order(train.rows());
    for (int64_t i = 0; i < train.rows(); ++i) order[i] = i;
    predictors::Shuffle(order, seed_);
    auto take = [&](int64_t m, Eigen::MatrixXd& zs, Eigen::VectorXd& ts) {
      std::vector<int64_t> rows(order.begin(), order.begin() + std::min(m, train.rows()));
      std::sort(rows.begin(), rows.end());
      zs.resize(static_cast<int64_t>(rows.size()), z.cols());
      ts.resize(static_cast<int64_t>(rows.size()));
      for (size_t i = 0; i < rows.size(); ++i) {
        zs.row(i) = z.row(rows[i]);
        ts[i] = t[rows[i]];
      }
    };

    Eigen::MatrixXd zs;
    Eigen::VectorXd ts;
    take(kSearchRows, zs, ts);
    Eigen::MatrixXd d2 = SquaredDistances(zs, zs);
    double unit = std::sqrt(static_cast<double>(z.cols()));
    double best_lml = -std::numeric_limits<double>::infinity();
    double best_length = unit, best_lambda = 1e-1;
    for (double lf : {0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0}) {
      for (double lambda : {1e-4, 1e-3, 1e-2, 1e-1, 1.0}) {
        double lml = ProfileLogLikelihood(d2, ts, lf * unit, lambda);
        if (lml > best_lml) {
          best_lml = lml;
          best_length = lf * unit;
          best_lambda = lambda;
        }
      }
    }

    Eigen::MatrixXd zt;
    Eigen::VectorXd tt;
    take(max_rows_, zt, tt);
    Eigen::MatrixXd k = Correlation(SquaredDistances(zt, zt), best_length, matern_);
    k.diagonal().array() += best_lambda;
    Eigen::LLT<Eigen::MatrixXd> llt(k);
    if (llt.info() != Eigen::Success)
      return Error{"gp: kernel matrix is not positive definite (length scale " +
                   std::to_string(best_length) + ", noise " + std::to_string(best_lambda) + ")"};
    alpha_ = llt.solve(tt);
    scale_ = GroupScale::Fit(train, Correlation(SquaredDistances(z, zt), best_length, matern_) * alpha_);
    train_z_ = std::move(zt);
    length_ = best_length;
    lambda_ = best_lambda;
    signal_variance_ = tt.dot(alpha_) / static_cast<double>(tt.size());
    log_marginal_likelihood_ = best_lml;
    features_ = std::move(features);
    fitted_ = true;
    return Status::Ok();
  }

  Result<Eigen::VectorXd> Predict(const Dataset& x) const override {
    if (!fitted_) return predictors::NotFitted(name());
    SIMTUNE_RETURN_IF_ERROR(x.Validate("prediction input", false));
    SIMTUNE_ASSIGN_OR_RETURN(Eigen::MatrixXd z, features_.Transform(x, name()));
    Eigen::VectorXd mean = Correlation(SquaredDistances(z, train_z_), length_, matern_) * alpha_;
    Eigen::VectorXd out(x.rows());
    for (int64_t i = 0; i < x.rows(); ++i)
      out[i] = std::exp(mean[i] + scale_.Offset(x.group[i]));
    return out;
  }

  nlohmann::json SaveJson() const override {
    SIMTUNE_CHECK(fitted_);
    return {{"features", features_.ToJson()},
            {"scale", scale_.ToJson()},
            {"train_z", predictors::ToJson(train_z_)},
            {"alpha", predictors::ToJson(alpha_)},
            {"chosen",
             {{"length_scale", length_},
              {"noise_ratio", lambda_},
              {"signal_variance", signal_variance_},
              {"log_marginal_likelihood", log_marginal_likelihood_}}}};
  }

  Status LoadJson(const nlohmann::json& model) override {
    if (!model.is_object()) return Error{"invalid model: not an object"};
    SIMTUNE_ASSIGN_OR_RETURN(DenseFeatures features,
                             DenseFeatures::FromJson(model.value("features", nlohmann::json()),
                                                     "features"));
    SIMTUNE_ASSIGN_OR_RETURN(GroupScale scale,
                             GroupScale::FromJson(model.value("scale", nlohmann::json()), "scale"));
    SIMTUNE_ASSIGN_OR_RETURN(Eigen::MatrixXd z, predictors::MatrixFromJson(
                                                    model.value("train_z", nlohmann::json()), "train_z"));
    SIMTUNE_ASSIGN_OR_RETURN(Eigen::VectorXd alpha, predictors::VectorFromJson(
                                                        model.value("alpha", nlohmann::json()), "alpha"));
    if (z.rows() != alpha.size() || (z.rows() > 0 && z.cols() != features.mean.size()))
      return Error{"invalid model: train_z is " + std::to_string(z.rows()) + "x" +
                   std::to_string(z.cols()) + " for " + std::to_string(alpha.size()) +
                   " weights and " + std::to_string(features.mean.size()) + " features"};
    const auto& chosen = model.value("chosen", nlohmann::json::object());
    auto field = [&](const char* key) { return chosen.value(key, nlohmann::json()); };
    // The length scale divides distances: 0 would give NaN.
    SIMTUNE_ASSIGN_OR_RETURN(double length, predictors::BoundedFromJson(
                                                field("length_scale"), "chosen.length_scale", 0,
                                                /*strict=*/true));
    SIMTUNE_ASSIGN_OR_RETURN(double lambda, predictors::BoundedFromJson(
                                                field("noise_ratio"), "chosen.noise_ratio", 0,
                                                /*strict=*/false));
    SIMTUNE_ASSIGN_OR_RETURN(double variance, predictors::BoundedFromJson(
                                                  field("signal_variance"),
                                                  "chosen.signal_variance", 0, /*strict=*/false));
    SIMTUNE_ASSIGN_OR_RETURN(double lml, predictors::FiniteFromJson(
                                             field("log_marginal_likelihood"),
                                             "chosen.log_marginal_likelihood"));
    length_ = length;
    lambda_ = lambda;
    signal_variance_ = variance;
    log_marginal_likelihood_ = lml;
    features_ = std::move(features);
    scale_ = std::move(scale);
    train_z_ = std::move(z);
    alpha_ = std::move(alpha);
    fitted_ = true;
    return Status::Ok();
  }

 private:
  // Log marginal likelihood with the signal variance profiled out; -inf when the matrix is
  // numerically singular (that grid point is then never chosen).
  double ProfileLogLikelihood(const Eigen::MatrixXd& d2, const Eigen::VectorXd& t,
                              double length, double lambda) const {
    Eigen::MatrixXd k = Correlation(d2, length, matern_);
    k.diagonal().array() += lambda;
    Eigen::LLT<Eigen::MatrixXd> llt(k);
    if (llt.info() != Eigen::Success) return -std::numeric_limits<double>::infinity();
    const double n = static_cast<double>(t.size());
    double quad = t.dot(llt.solve(t));
    if (!(quad > 0)) return -std::numeric_limits<double>::infinity();
    double log_det = 2.0 * llt.matrixLLT().diagonal().array().log().sum();
    return -0.5 * n * std::log(quad / n) - 0.5 * log_det - 0.5 * n * (1.0 + std::log(2 * M_PI));
  }

  Options options_;
  bool matern_;
  int64_t max_rows_;
  uint64_t seed_;
  bool fitted_ = false;
  DenseFeatures features_;
  GroupScale scale_;
  Eigen::MatrixXd train_z_;
  Eigen::VectorXd alpha_;
  double length_ = 1, lambda_ = 0.1, signal_variance_ = 1, log_marginal_likelihood_ = 0;
};

}  // namespace

void RegisterGpPredictor(PredictorRegistry& registry) {
  registry.Register(
      "gp", "Gaussian-process regression of log run time, kernel by marginal likelihood",
      [](const std::string& text) -> Result<std::unique_ptr<Predictor>> {
        SIMTUNE_ASSIGN_OR_RETURN(
            Options o, Options::Parse(text, "gp",
                                      {{"kernel", "matern52"}, {"max_rows", "2000"}, {"seed", "0"}}));
        SIMTUNE_ASSIGN_OR_RETURN(std::string kernel, o.OneOf("kernel", {"rbf", "matern52"}));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t max_rows, o.Int("max_rows", 2, 20000));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t seed, o.Int("seed", 0, INT64_MAX));
        return std::unique_ptr<Predictor>(new GpPredictor(std::move(o), kernel == "matern52",
                                                          max_rows, static_cast<uint64_t>(seed)));
      });
}

}  // namespace simtune
