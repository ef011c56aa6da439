// "gp": Gaussian-process regression of the group-centred log run time on standardised
// features, isotropic RBF or Matern-5/2 kernel, zero prior mean (the target is centred).
//
// Covariance sigma2 * (R + lambda I) with R the kernel's correlation matrix: for a fixed
// (length scale, lambda) the signal variance sigma2 maximising the likelihood is
// t' (R + lambda I)^-1 t / n, so the grid only spans length scale and noise ratio. The grid
// search runs on a seeded subsample of search_rows rows (the likelihood needs one Cholesky
// per point; 400 by default), the final fit on up to max_rows rows.
//
// ard=on gives every feature its own length scale (automatic relevance determination):
// starting from the grid's isotropic choice, the log length scales and the log noise ratio
// climb the profiled log marginal likelihood by its analytic gradient (Adam) on the same
// subsample, under a weak log-normal prior that keeps each scale near the isotropic one
// unless the data move it. A feature that does not help gets a long scale and drops out of
// the distance.
//
// base=dep (or base=FEATURE, a log-scale feature) learns the log run time relative to a base
// estimate instead of the run time itself: the target is log(y) - base, group-centred, and the
// prediction adds the base back. The GP's prior mean is zero, so where a candidate is far from
// every training row (a workload unlike the corpus) its prediction reverts to the base's
// ordering instead of to the workload's mean; "dep" is the first feature ending in
// ".dep.log_cycles_ooo" (the QEMU plugin's out-of-order timing model, in log cycles). A
// candidate without the base feature at prediction takes the training rows' mean.
//
// bag=K fits K such models whose subsamples are drawn with seeds seed, seed+1, ..., and
// predicts the geometric mean of their run times (the mean of their log predictions): the
// chosen scales depend on which rows the search saw, and averaging over K draws makes a
// ranking depend less on one draw.
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

constexpr int kArdSteps = 150;
constexpr double kArdRate = 0.05;
constexpr double kArdPriorSd = 2.0;   // of each log length scale around the isotropic one

Eigen::MatrixXd SquaredDistances(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  Eigen::VectorXd an = a.rowwise().squaredNorm();
  Eigen::VectorXd bn = b.rowwise().squaredNorm();
  Eigen::MatrixXd d = (-2.0 * a * b.transpose()).colwise() + an;
  d.rowwise() += bn.transpose();
  return d.cwiseMax(0.0);   // rounding can make tiny distances negative
}

// The same, one row of `a` at a time as sums of squared differences: each entry is then
// computed the same way whatever else is in `a` (a candidate's score must not depend on
// which other candidates are scored with it; a matrix product's blocking does).
Eigen::MatrixXd RowwiseSquaredDistances(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  Eigen::MatrixXd d(a.rows(), b.rows());
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    d.row(i) = (b.rowwise() - a.row(i)).rowwise().squaredNorm().transpose();
  return d;
}

// Log marginal likelihood of t under covariance sigma2 * A with the signal variance sigma2
// profiled out, from A's Cholesky factor and alpha = A^-1 t; -inf when t' alpha is not
// positive (numerically singular).
double ProfiledLml(const Eigen::LLT<Eigen::MatrixXd>& llt, const Eigen::VectorXd& t,
                   const Eigen::VectorXd& alpha) {
  const double n = static_cast<double>(t.size());
  const double quad = t.dot(alpha);
  if (!(quad > 0)) return -std::numeric_limits<double>::infinity();
  double log_det = 2.0 * llt.matrixLLT().diagonal().array().log().sum();
  return -0.5 * n * std::log(quad / n) - 0.5 * log_det - 0.5 * n * (1.0 + std::log(2 * M_PI));
}

Eigen::MatrixXd Correlation(const Eigen::MatrixXd& d2, double length, bool matern) {
  if (!matern) return (-0.5 * d2.array() / (length * length)).exp().matrix();
  Eigen::ArrayXXd r = d2.array().sqrt() * (std::sqrt(5.0) / length);
  return ((1.0 + r + r.square() / 3.0) * (-r).exp()).matrix();
}

class GpPredictor : public Predictor {
 public:
  GpPredictor(Options options, bool matern, bool ard, int64_t max_rows, int64_t search_rows,
              uint64_t seed, double risk, std::string base)
      : options_(std::move(options)), matern_(matern), ard_(ard), max_rows_(max_rows),
        search_rows_(search_rows), seed_(seed), risk_(risk), base_(std::move(base)) {}

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
    // With a base, the run time relative to it (scale_ below is fitted on the same).
    Dataset relative;
    const Dataset* target_rows = &train;
    if (base_ != "none") {
      SIMTUNE_ASSIGN_OR_RETURN(base_column_, BaseColumn(train));
      Eigen::VectorXd b = train.X.col(train.FeatureIndex(base_column_));
      for (int64_t r = 0; r < b.size(); ++r)
        if (std::isnan(b[r]))
          return Error{"training data: gp option base=" + base_ + ": feature '" + base_column_ +
                       "' is missing (NaN) for candidate id " + std::to_string(train.ids[r])};
      base_fill_ = b.mean();
      relative.X.resize(train.rows(), 0);   // rows() counts X's rows
      relative.y = (train.y.array().log() - b.array()).exp().matrix();
      relative.group = train.group;
      target_rows = &relative;
    }
    Eigen::VectorXd t = GroupCenteredLogTarget(*target_rows);

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
    take(search_rows_, zs, ts);
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

    // One length scale per feature (all equal without ARD); distances are taken between
    // features divided by their scales.
    Eigen::VectorXd lengths = Eigen::VectorXd::Constant(z.cols(), best_length);
    if (ard_ && z.cols() > 1) lengths = FitArd(zs, ts, best_length, best_lambda, best_lml);
    Eigen::MatrixXd scaled = z * lengths.cwiseInverse().asDiagonal();

    Eigen::MatrixXd zt;
    Eigen::VectorXd tt;
    take(max_rows_, zt, tt);
    Eigen::MatrixXd zt_scaled = zt * lengths.cwiseInverse().asDiagonal();
    Eigen::LLT<Eigen::MatrixXd> llt(KernelMatrix(zt_scaled, best_lambda));
    if (llt.info() != Eigen::Success)
      return Error{"gp: kernel matrix is not positive definite (length scale " +
                   std::to_string(best_length) + ", noise " + std::to_string(best_lambda) + ")"};
    alpha_ = llt.solve(tt);
    if (risk_ != 0) llt_ = llt;
    scale_ = GroupScale::Fit(
        *target_rows, Correlation(SquaredDistances(scaled, zt_scaled), 1.0, matern_) * alpha_);
    train_z_ = std::move(zt);
    scaled_train_z_ = std::move(zt_scaled);
    lengths_ = std::move(lengths);
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
    z = z * lengths_.cwiseInverse().asDiagonal();
    Eigen::MatrixXd cross = Correlation(RowwiseSquaredDistances(z, scaled_train_z_), 1.0, matern_);
    Eigen::VectorXd mean = cross * alpha_;
    if (risk_ != 0) {
      // Posterior standard deviation of the latent log time: sigma2 (1 - k' A^-1 k), per row.
      Eigen::MatrixXd v = llt_.matrixL().solve(cross.transpose());
      for (int64_t i = 0; i < x.rows(); ++i) {
        double var = signal_variance_ * std::max(0.0, 1.0 - v.col(i).squaredNorm());
        mean[i] += risk_ * std::sqrt(var);
      }
    }
    if (!base_column_.empty()) {
      int64_t c = x.FeatureIndex(base_column_);
      if (c < 0)
        return Error{"prediction input lacks feature '" + base_column_ + "' (gp option base=" +
                     base_ + ")"};
      for (int64_t i = 0; i < x.rows(); ++i)
        mean[i] += std::isnan(x.X(i, c)) ? base_fill_ : x.X(i, c);
    }
    Eigen::VectorXd out(x.rows());
    for (int64_t i = 0; i < x.rows(); ++i)
      out[i] = std::exp(mean[i] + scale_.Offset(x.group[i]));
    return out;
  }

  nlohmann::json SaveJson() const override {
    SIMTUNE_CHECK(fitted_);
    nlohmann::json chosen = {{"length_scale", length_},
                             {"noise_ratio", lambda_},
                             {"signal_variance", signal_variance_},
                             {"log_marginal_likelihood", log_marginal_likelihood_}};
    // With ARD, one scale per feature in feature order (length_scale is the isotropic start).
    if (ard_) chosen["length_scales"] = predictors::ToJson(lengths_);
    nlohmann::json out = {{"features", features_.ToJson()},
                          {"scale", scale_.ToJson()},
                          {"train_z", predictors::ToJson(train_z_)},
                          {"alpha", predictors::ToJson(alpha_)},
                          {"chosen", std::move(chosen)}};
    if (!base_column_.empty()) out["base"] = {{"feature", base_column_}, {"fill", base_fill_}};
    return out;
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
    // A model saved without per-feature scales (isotropic, or older than ARD) has one.
    Eigen::VectorXd lengths = Eigen::VectorXd::Constant(features.mean.size(), length);
    ard_ = chosen.contains("length_scales");
    if (ard_) {
      SIMTUNE_ASSIGN_OR_RETURN(lengths, predictors::VectorFromJson(chosen["length_scales"],
                                                                   "chosen.length_scales"));
      if (lengths.size() != features.mean.size())
        return Error{"invalid model: chosen.length_scales has " + std::to_string(lengths.size()) +
                     " scales for " + std::to_string(features.mean.size()) + " features"};
      for (Eigen::Index i = 0; i < lengths.size(); ++i)
        if (!(lengths[i] > 0 && std::isfinite(lengths[i])))
          return Error{"invalid model: chosen.length_scales[" + std::to_string(i) +
                       "] must be a positive number; got " + std::to_string(lengths[i])};
    }
    std::string base_column;
    double base_fill = 0;
    if (base_ != "none") {
      const auto& base = model.value("base", nlohmann::json());
      if (!base.is_object() || !base.contains("feature") || !base["feature"].is_string() ||
          base["feature"].get<std::string>().empty())
        return Error{"invalid model: gp with base=" + base_ +
                     " needs base.feature, the name of its base feature"};
      base_column = base["feature"].get<std::string>();
      SIMTUNE_ASSIGN_OR_RETURN(base_fill, predictors::FiniteFromJson(base.value("fill", nlohmann::json()),
                                                                     "base.fill"));
    }
    base_column_ = std::move(base_column);
    base_fill_ = base_fill;
    length_ = length;
    lambda_ = lambda;
    signal_variance_ = variance;
    log_marginal_likelihood_ = lml;
    features_ = std::move(features);
    scale_ = std::move(scale);
    scaled_train_z_ = z * lengths.cwiseInverse().asDiagonal();
    lengths_ = std::move(lengths);
    train_z_ = std::move(z);
    alpha_ = std::move(alpha);
    if (risk_ != 0) {
      llt_.compute(KernelMatrix(scaled_train_z_, lambda_));
      if (llt_.info() != Eigen::Success)
        return Error{"invalid model: its kernel matrix is not positive definite"};
    }
    fitted_ = true;
    return Status::Ok();
  }

 private:
  // The base option's feature column in `train`, which must have it.
  Result<std::string> BaseColumn(const Dataset& train) const {
    if (base_ == "dep") {
      std::string column = predictors::FirstEndingIn(train.feature_names, ".dep.log_cycles_ooo");
      if (!column.empty()) return column;
      return Error{"training data has no dependency timing feature ('<simulator>.dep.log_cycles_ooo': "
                   "qemu with dep=on) for gp option base=dep"};
    }
    if (train.FeatureIndex(base_) < 0)
      return Error{"training data has no feature '" + base_ + "' (gp option base=" + base_ + ")"};
    return base_;
  }

  // R + lambda I over rows already divided by their length scales.
  Eigen::MatrixXd KernelMatrix(const Eigen::MatrixXd& scaled, double lambda) const {
    Eigen::MatrixXd k = Correlation(SquaredDistances(scaled, scaled), 1.0, matern_);
    k.diagonal().array() += lambda;
    return k;
  }

  // Log marginal likelihood with the signal variance profiled out; -inf when the matrix is
  // numerically singular (that grid point is then never chosen).
  double ProfileLogLikelihood(const Eigen::MatrixXd& d2, const Eigen::VectorXd& t,
                              double length, double lambda) const {
    Eigen::MatrixXd k = Correlation(d2, length, matern_);
    k.diagonal().array() += lambda;
    Eigen::LLT<Eigen::MatrixXd> llt(k);
    if (llt.info() != Eigen::Success) return -std::numeric_limits<double>::infinity();
    return ProfiledLml(llt, t, llt.solve(t));
  }

  // Climbs the profiled log marginal likelihood (plus a log-normal prior on each scale around
  // `length`) over one log length scale per feature and the log noise ratio, from the
  // isotropic choice; returns the best scales seen and sets `lambda` and `lml` to theirs.
  Eigen::VectorXd FitArd(const Eigen::MatrixXd& z, const Eigen::VectorXd& t, double length,
                         double& lambda, double& lml) const {
    const Eigen::Index d = z.cols();
    const double n = static_cast<double>(t.size());
    const double mu = std::log(length);
    Eigen::VectorXd theta(d + 1);   // log length scales, then log noise ratio
    theta.head(d).setConstant(mu);
    theta[d] = std::log(lambda);
    Eigen::VectorXd m = Eigen::VectorXd::Zero(d + 1), v = Eigen::VectorXd::Zero(d + 1);
    Eigen::VectorXd best = theta;
    double best_objective = -std::numeric_limits<double>::infinity();
    double best_lml = lml;
    for (int step = 1; step <= kArdSteps; ++step) {
      Eigen::VectorXd inv = (-theta.head(d).array()).exp().matrix();
      Eigen::MatrixXd zs = z * inv.asDiagonal();
      Eigen::MatrixXd d2 = SquaredDistances(zs, zs);
      Eigen::MatrixXd r = Correlation(d2, 1.0, matern_);
      const double lam = std::exp(theta[d]);
      Eigen::MatrixXd a = r;
      a.diagonal().array() += lam;
      Eigen::LLT<Eigen::MatrixXd> llt(a);
      if (llt.info() != Eigen::Success) break;
      Eigen::VectorXd alpha = llt.solve(t);
      const double value = ProfiledLml(llt, t, alpha);
      if (!std::isfinite(value)) break;
      const double quad = t.dot(alpha);
      Eigen::ArrayXd dev = (theta.head(d).array() - mu) / kArdPriorSd;
      double objective = value - 0.5 * dev.square().sum();
      if (objective > best_objective) {
        best_objective = objective;
        best = theta;
        best_lml = value;
      }
      // d(lml)/d(theta) = 1/2 sum_ij W_ij dA_ij/dtheta, W = (n/quad) alpha alpha' - A^-1.
      Eigen::MatrixXd w = -llt.solve(Eigen::MatrixXd::Identity(a.rows(), a.cols()));
      w.noalias() += (n / quad) * alpha * alpha.transpose();
      Eigen::VectorXd grad(d + 1);
      grad[d] = 0.5 * lam * w.trace();
      // dR_ij/dlog l_k = F_ij s_ijk, s_ijk the squared scaled difference in feature k;
      // F = R for the RBF kernel, (5/3)(1 + sqrt5 r) exp(-sqrt5 r) for Matern-5/2.
      Eigen::MatrixXd f;
      if (matern_) {
        Eigen::ArrayXXd sr = d2.array().sqrt() * std::sqrt(5.0);
        f = ((5.0 / 3.0) * (1.0 + sr) * (-sr).exp()).matrix();
      } else {
        f = r;
      }
      Eigen::MatrixXd g = 0.5 * w.cwiseProduct(f);
      Eigen::VectorXd row_sums = g.rowwise().sum();
      Eigen::MatrixXd gz = g * zs;
      for (Eigen::Index k = 0; k < d; ++k)
        grad[k] = 2.0 * (row_sums.dot(zs.col(k).cwiseAbs2()) - zs.col(k).dot(gz.col(k)));
      grad.head(d).array() -= dev / kArdPriorSd;
      // Adam, ascending.
      m = 0.9 * m + 0.1 * grad;
      v = 0.999 * v + 0.001 * grad.cwiseAbs2();
      Eigen::ArrayXd mh = m.array() / (1.0 - std::pow(0.9, step));
      Eigen::ArrayXd vh = v.array() / (1.0 - std::pow(0.999, step));
      theta.array() += kArdRate * mh / (vh.sqrt() + 1e-8);
      theta[d] = std::clamp(theta[d], std::log(1e-6), std::log(10.0));
    }
    lambda = std::exp(best[d]);
    lml = best_lml;
    return best.head(d).array().exp().matrix();
  }

  Options options_;
  bool matern_;
  bool ard_;
  int64_t max_rows_;
  int64_t search_rows_;
  uint64_t seed_;
  double risk_;
  std::string base_;          // the option: "none", "dep" or a feature name
  std::string base_column_;   // fitted: the base feature's column; empty without
  double base_fill_ = 0;      // the base for a candidate without the feature
  bool fitted_ = false;
  Eigen::LLT<Eigen::MatrixXd> llt_;  // the kernel matrix's factor, kept when risk != 0
  DenseFeatures features_;
  GroupScale scale_;
  Eigen::MatrixXd train_z_;          // standardised features of the fitted rows
  Eigen::MatrixXd scaled_train_z_;   // the same divided by their length scales
  Eigen::VectorXd lengths_;          // one length scale per feature
  Eigen::VectorXd alpha_;
  double length_ = 1, lambda_ = 0.1, signal_variance_ = 1, log_marginal_likelihood_ = 0;
};


// bag=K: K GpPredictors on the subsamples of seeds seed..seed+K-1; the score is the
// geometric mean of their predicted times.
class BaggedGpPredictor : public Predictor {
 public:
  BaggedGpPredictor(Options options, std::vector<std::unique_ptr<GpPredictor>> members)
      : options_(std::move(options)), members_(std::move(members)) {}

  std::string name() const override { return "gp"; }
  std::string options() const override { return options_.Canonical(); }
  bool predicts_time() const override { return true; }
  const std::vector<std::string>& feature_names() const override {
    return members_.front()->feature_names();
  }

  Status Fit(const Dataset& train) override {
    for (size_t i = 0; i < members_.size(); ++i) {
      Status fitted = members_[i]->Fit(train);
      if (!fitted.ok()) return Wrap(fitted.error(), "gp bag member " + std::to_string(i));
    }
    fitted_ = true;
    return Status::Ok();
  }

  Result<Eigen::VectorXd> Predict(const Dataset& x) const override {
    if (!fitted_) return predictors::NotFitted(name());
    Eigen::VectorXd log_sum = Eigen::VectorXd::Zero(x.rows());
    for (const auto& m : members_) {
      SIMTUNE_ASSIGN_OR_RETURN(Eigen::VectorXd p, m->Predict(x));
      log_sum += p.array().log().matrix();
    }
    return Eigen::VectorXd((log_sum / static_cast<double>(members_.size())).array().exp());
  }

  nlohmann::json SaveJson() const override {
    SIMTUNE_CHECK(fitted_);
    nlohmann::json bag = nlohmann::json::array();
    for (const auto& m : members_) bag.push_back(m->SaveJson());
    return {{"bag", std::move(bag)}};
  }

  Status LoadJson(const nlohmann::json& model) override {
    if (!model.is_object() || !model.contains("bag") || !model["bag"].is_array())
      return Error{"invalid model: gp with bag=" + std::to_string(members_.size()) +
                   " needs a 'bag' array of member models"};
    const auto& bag = model["bag"];
    if (bag.size() != members_.size())
      return Error{"invalid model: 'bag' has " + std::to_string(bag.size()) +
                   " member models for bag=" + std::to_string(members_.size())};
    for (size_t i = 0; i < members_.size(); ++i) {
      Status loaded = members_[i]->LoadJson(bag[i]);
      if (!loaded.ok()) return Wrap(loaded.error(), "bag[" + std::to_string(i) + "]");
    }
    fitted_ = true;
    return Status::Ok();
  }

 private:
  Options options_;
  std::vector<std::unique_ptr<GpPredictor>> members_;
  bool fitted_ = false;
};

}  // namespace

void RegisterGpPredictor(PredictorRegistry& registry) {
  registry.Register(
      "gp", "Gaussian-process regression of log run time, kernel by marginal likelihood",
      [](const std::string& text) -> Result<std::unique_ptr<Predictor>> {
        SIMTUNE_ASSIGN_OR_RETURN(
            Options o, Options::Parse(text, "gp",
                                      {{"kernel", "matern52"}, {"ard", "on"}, {"max_rows", "2000"},
                                       {"search_rows", "400"},
                                       {"seed", "0"},
                                       {"bag", "1"},
                                       {"risk", "0"},
                                       {"base", "none"}}));
        SIMTUNE_ASSIGN_OR_RETURN(std::string kernel, o.OneOf("kernel", {"rbf", "matern52"}));
        SIMTUNE_ASSIGN_OR_RETURN(std::string ard, o.OneOf("ard", {"off", "on"}));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t max_rows, o.Int("max_rows", 2, 20000));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t search_rows, o.Int("search_rows", 2, 5000));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t seed, o.Int("seed", 0, INT64_MAX - 64));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t bag, o.Int("bag", 1, 64));
        SIMTUNE_ASSIGN_OR_RETURN(double risk, o.Double("risk", -10, 10));
        std::string base = o.String("base");
        if (base.empty()) return Error{"gp option base: expected none, dep or a feature name; got an empty value"};
        if (bag == 1)
          return std::unique_ptr<Predictor>(new GpPredictor(std::move(o), kernel == "matern52",
                                                            ard == "on", max_rows, search_rows,
                                                            static_cast<uint64_t>(seed), risk,
                                                            base));
        std::vector<std::unique_ptr<GpPredictor>> members;
        for (int64_t i = 0; i < bag; ++i)
          members.push_back(std::make_unique<GpPredictor>(o, kernel == "matern52", ard == "on",
                                                          max_rows, search_rows,
                                                          static_cast<uint64_t>(seed + i), risk,
                                                          base));
        return std::unique_ptr<Predictor>(new BaggedGpPredictor(std::move(o), std::move(members)));
      });
}

}  // namespace simtune
