// Baselines that every learned predictor must beat: "insn-count" (fewer instructions =
// faster), "mca" (fewer llvm-mca cycles = faster; the "mca" simulator's estimate, no
// calibration), "dep" (fewer cycles of the QEMU plugin's dependency timing model, riscv64 and x86_64;
// no calibration) and "random" (a seeded hash of the candidate id, so a candidate's score does not
// depend on which other candidates are scored with it).
#include <algorithm>
#include <cmath>
#include <limits>

#include "src/predictors/builtin.h"
#include "src/predictors/common.h"

namespace simtune {
namespace {

using predictors::Options;

// Scores by one feature: "auto" picks the first column ending in `suffix`.
class InsnCountPredictor : public Predictor {
 public:
  InsnCountPredictor(Options options, std::string feature, std::string name = "insn-count",
                     std::string suffix = ".log_insn",
                     std::string hint = "instruction-count feature ('<simulator>.log_insn')")
      : options_(std::move(options)), feature_(std::move(feature)), name_(std::move(name)),
        suffix_(std::move(suffix)), hint_(std::move(hint)) {}

  std::string name() const override { return name_; }
  std::string options() const override { return options_.Canonical(); }
  bool predicts_time() const override { return false; }
  const std::vector<std::string>& feature_names() const override { return features_; }

  Status Fit(const Dataset& train) override {
    SIMTUNE_RETURN_IF_ERROR(train.Validate("training data", true));
    if (feature_ == "auto") {
      // The first simulator's (features.h: "<sim>.log_insn", "<sim>.log_cycles").
      column_ = predictors::FirstEndingIn(train.feature_names, suffix_);
      if (column_.empty())
        return Error{"training data has no " + hint_ + "; name one with " + name_ +
                     " option feature=NAME"};
    } else {
      column_ = feature_;
    }
    SIMTUNE_ASSIGN_OR_RETURN(Eigen::VectorXd v, Column(train, "training data"));
    (void)v;
    features_ = train.feature_names;
    fitted_ = true;
    return Status::Ok();
  }

  Result<Eigen::VectorXd> Predict(const Dataset& x) const override {
    if (!fitted_) return predictors::NotFitted(name());
    SIMTUNE_RETURN_IF_ERROR(x.Validate("prediction input", false));
    return Column(x, "prediction input");
  }

  nlohmann::json SaveJson() const override {
    SIMTUNE_CHECK(fitted_);
    return {{"features", features_}, {"feature", column_}};
  }

  Status LoadJson(const nlohmann::json& model) override {
    try {
      std::vector<std::string> features = model.at("features").get<std::vector<std::string>>();
      std::string feature = model.at("feature").get<std::string>();
      if (feature_ != "auto" && feature != feature_)
        return Error{"invalid model: scores feature '" + feature + "'; options say '" + feature_ +
                     "'"};
      features_ = std::move(features);
      column_ = std::move(feature);
    } catch (const nlohmann::json::exception& e) {
      return Error{std::string("invalid model: ") + e.what()};
    }
    fitted_ = true;
    return Status::Ok();
  }

 private:
  Result<Eigen::VectorXd> Column(const Dataset& d, const std::string& where) const {
    int64_t c = d.FeatureIndex(column_);
    if (c < 0)
      return Error{where + " lacks feature '" + column_ + "' (" + name_ + " option feature=" +
                   feature_ + ")"};
    // A candidate without the feature (predictor.h) ranks after every candidate with it.
    Eigen::VectorXd v = d.X.col(c);
    double last = -std::numeric_limits<double>::infinity();
    for (int64_t r = 0; r < v.size(); ++r)
      if (!std::isnan(v[r])) last = std::max(last, v[r]);
    if (v.size() > 0 && std::isinf(last))
      return Error{where + ": feature '" + column_ + "' is missing (NaN) in every row; the " +
                   name_ + " baseline scores by it"};
    for (int64_t r = 0; r < v.size(); ++r)
      if (std::isnan(v[r])) v[r] = last + 1;
    return v;
  }

  Options options_;
  std::string feature_;    // the option: a feature name or "auto"
  std::string name_, suffix_, hint_;
  std::string column_;     // the feature scored by (auto resolved at Fit)
  std::vector<std::string> features_;
  bool fitted_ = false;
};

class RandomPredictor : public Predictor {
 public:
  RandomPredictor(Options options, uint64_t seed) : options_(std::move(options)), seed_(seed) {}

  std::string name() const override { return "random"; }
  std::string options() const override { return options_.Canonical(); }
  bool predicts_time() const override { return false; }
  const std::vector<std::string>& feature_names() const override { return features_; }

  Status Fit(const Dataset& train) override {
    SIMTUNE_RETURN_IF_ERROR(train.Validate("training data", true));
    features_ = train.feature_names;
    fitted_ = true;
    return Status::Ok();
  }

  Result<Eigen::VectorXd> Predict(const Dataset& x) const override {
    if (!fitted_) return predictors::NotFitted(name());
    SIMTUNE_RETURN_IF_ERROR(x.Validate("prediction input", false));
    Eigen::VectorXd out(x.rows());
    for (int64_t i = 0; i < x.rows(); ++i) {
      uint64_t h = predictors::Mix64(predictors::Mix64(seed_) ^ static_cast<uint64_t>(x.ids[i]));
      out[i] = static_cast<double>(h >> 11) * 0x1.0p-53;   // uniform in [0, 1)
    }
    return out;
  }

  nlohmann::json SaveJson() const override {
    SIMTUNE_CHECK(fitted_);
    return {{"features", features_}};
  }

  Status LoadJson(const nlohmann::json& model) override {
    try {
      features_ = model.at("features").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
      return Error{std::string("invalid model: ") + e.what()};
    }
    fitted_ = true;
    return Status::Ok();
  }

 private:
  Options options_;
  uint64_t seed_;
  std::vector<std::string> features_;
  bool fitted_ = false;
};

}  // namespace

void RegisterBaselinePredictors(PredictorRegistry& registry) {
  registry.Register(
      "insn-count", "baseline: score = one feature (default auto: the first simulator's <sim>.log_insn)",
      [](const std::string& text) -> Result<std::unique_ptr<Predictor>> {
        SIMTUNE_ASSIGN_OR_RETURN(Options o,
                                 Options::Parse(text, "insn-count", {{"feature", "auto"}}));
        std::string feature = o.String("feature");
        return std::unique_ptr<Predictor>(new InsnCountPredictor(std::move(o), feature));
      });
  registry.Register(
      "mca",
      "baseline: score = llvm-mca's cycle estimate (default auto: the \"mca\" simulator's "
      "<sim>.log_cycles); no calibration",
      [](const std::string& text) -> Result<std::unique_ptr<Predictor>> {
        SIMTUNE_ASSIGN_OR_RETURN(Options o, Options::Parse(text, "mca", {{"feature", "auto"}}));
        std::string feature = o.String("feature");
        return std::unique_ptr<Predictor>(new InsnCountPredictor(
            std::move(o), feature, "mca", ".log_cycles",
            "llvm-mca cycle feature ('<simulator>.log_cycles': simulate with --sim mca)"));
      });
  registry.Register(
      "dep",
      "baseline: score = the QEMU plugin's dependency timing model's cycles (model=ooo: the "
      "out-of-order core, the default; model=inorder: the scoreboard; riscv64 and x86_64 targets); no "
      "calibration",
      [](const std::string& text) -> Result<std::unique_ptr<Predictor>> {
        SIMTUNE_ASSIGN_OR_RETURN(
            Options o, Options::Parse(text, "dep", {{"feature", "auto"}, {"model", "ooo"}}));
        std::string model = o.String("model");
        if (model != "ooo" && model != "inorder")
          return Error{"predictor dep option model: expected ooo or inorder; got '" + model + "'"};
        std::string feature = o.String("feature");
        return std::unique_ptr<Predictor>(new InsnCountPredictor(
            std::move(o), feature, "dep", ".dep.log_cycles_" + model,
            "dependency timing feature ('<simulator>.dep.log_cycles_" + model +
                "': qemu on a riscv64 or x86_64 target)"));
      });
  registry.Register(
      "random", "baseline: seeded random score per candidate id",
      [](const std::string& text) -> Result<std::unique_ptr<Predictor>> {
        SIMTUNE_ASSIGN_OR_RETURN(Options o, Options::Parse(text, "random", {{"seed", "0"}}));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t seed, o.Int("seed", 0, INT64_MAX));
        return std::unique_ptr<Predictor>(new RandomPredictor(std::move(o), static_cast<uint64_t>(seed)));
      });
}

}  // namespace simtune
