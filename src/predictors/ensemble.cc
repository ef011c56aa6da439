// "rank-avg": an ensemble for workloads nobody measured. Each member predictor is fit on the
// same training rows; at prediction time each member's scores are turned into ranks within
// each workload (group), scaled to [0, 1] (0 = predicted fastest), and the ensemble's score
// is their weighted mean. Ranks, not times: members disagree on scale (a regressor's time, a
// ranking model's arbitrary score) but each is only trusted for its order, and averaging
// orders keeps one member's wild extrapolation on an unseen workload from dominating.
//   members=cost+ridge+xgb-rank   member predictors (registry names, default options), '+'-separated
//   weights=1+1+1                 one non-negative weight per member (not all zero)
#include <algorithm>
#include <cmath>

#include "src/predictors/builtin.h"
#include "src/predictors/common.h"
#include "simtune/strings.h"

namespace simtune {
namespace {

using predictors::Options;

constexpr const char* kName = "rank-avg";

// Ranks of v's entries (ties get their mean rank), scaled to [0, 1]; a single row gets 0.
Eigen::VectorXd ScaledRanks(const std::vector<double>& v) {
  const size_t n = v.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  Eigen::VectorXd r(n);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && v[order[j + 1]] == v[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[order[k]] = n > 1 ? 0.5 * (i + j) / (n - 1) : 0.0;
    i = j + 1;
  }
  return r;
}

class RankAveragePredictor : public Predictor {
 public:
  RankAveragePredictor(Options options, std::vector<std::string> members, std::vector<double> weights)
      : options_(std::move(options)), member_names_(std::move(members)), weights_(std::move(weights)) {}

  std::string name() const override { return kName; }
  std::string options() const override { return options_.Canonical(); }
  bool predicts_time() const override { return false; }
  const std::vector<std::string>& feature_names() const override { return features_; }

  Status Fit(const Dataset& train) override {
    SIMTUNE_RETURN_IF_ERROR(train.Validate("training data", true));
    std::vector<std::unique_ptr<Predictor>> members;
    for (const auto& m : member_names_) {
      SIMTUNE_ASSIGN_OR_RETURN(std::unique_ptr<Predictor> p, Predictors().Create(m, ""));
      Status fitted = p->Fit(train);
      if (!fitted.ok()) return Wrap(fitted.error(), std::string(kName) + " member " + m);
      members.push_back(std::move(p));
    }
    members_ = std::move(members);
    features_ = train.feature_names;
    return Status::Ok();
  }

  Result<Eigen::VectorXd> Predict(const Dataset& x) const override {
    if (members_.empty()) return predictors::NotFitted(name());
    SIMTUNE_RETURN_IF_ERROR(x.Validate("prediction input", false));
    Eigen::VectorXd total = Eigen::VectorXd::Zero(x.rows());
    double weight_sum = 0;
    const auto groups = x.RowsByGroup();
    for (size_t m = 0; m < members_.size(); ++m) {
      if (weights_[m] == 0) continue;
      Result<Eigen::VectorXd> s = members_[m]->Predict(x);
      if (!s.ok()) return Wrap(s.error(), std::string(kName) + " member " + member_names_[m]);
      for (const auto& rows : groups) {
        std::vector<double> v;
        for (int64_t r : rows) v.push_back((*s)[r]);
        Eigen::VectorXd ranks = ScaledRanks(v);
        for (size_t i = 0; i < rows.size(); ++i) total[rows[i]] += weights_[m] * ranks[i];
      }
      weight_sum += weights_[m];
    }
    return Eigen::VectorXd(total / weight_sum);
  }

  nlohmann::json SaveJson() const override {
    SIMTUNE_CHECK(!members_.empty());
    nlohmann::json members = nlohmann::json::array();
    for (size_t m = 0; m < members_.size(); ++m)
      members.push_back({{"predictor", members_[m]->name()},
                         {"options", members_[m]->options()},
                         {"model", members_[m]->SaveJson()}});
    return {{"features", features_}, {"members", members}};
  }

  Status LoadJson(const nlohmann::json& model) override {
    if (!model.is_object() || !model.contains("members") || !model["members"].is_array() ||
        !model.contains("features"))
      return Error{"invalid model: expected \"features\" and an array \"members\""};
    const auto& members = model["members"];
    if (members.size() != member_names_.size())
      return Error{"invalid model: " + std::to_string(members.size()) + " members; options name " +
                   std::to_string(member_names_.size()) + " (" + options_.String("members") + ")"};
    std::vector<std::unique_ptr<Predictor>> loaded;
    for (size_t m = 0; m < members.size(); ++m) {
      const auto& j = members[m];
      if (!j.is_object() || !j.contains("predictor") || !j.contains("options") || !j.contains("model") ||
          !j["predictor"].is_string() || !j["options"].is_string())
        return Error{"invalid model: members[" + std::to_string(m) + "]: expected predictor, options and model"};
      if (j["predictor"].get<std::string>() != member_names_[m])
        return Error{"invalid model: members[" + std::to_string(m) + "] is " + j["predictor"].dump() +
                     "; options name " + member_names_[m]};
      SIMTUNE_ASSIGN_OR_RETURN(std::unique_ptr<Predictor> p,
                               Predictors().Create(member_names_[m], j["options"].get<std::string>()));
      Status s = p->LoadJson(j["model"]);
      if (!s.ok()) {
        // "invalid model: weights[0]: ..." -> "invalid model: members[1].model.weights[0]: ...".
        const std::string prefix = "invalid model: ";
        const std::string where = "members[" + std::to_string(m) + "].model";
        const std::string& text = s.message();
        if (StartsWith(text, prefix)) return Error{prefix + where + "." + text.substr(prefix.size())};
        return Error{prefix + where + " (" + member_names_[m] + "): " + text};
      }
      loaded.push_back(std::move(p));
    }
    try {
      features_ = model["features"].get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception&) {
      return Error{"invalid model: features must be an array of strings"};
    }
    members_ = std::move(loaded);
    return Status::Ok();
  }

 private:
  Options options_;
  std::vector<std::string> member_names_;
  std::vector<double> weights_;
  std::vector<std::unique_ptr<Predictor>> members_;
  std::vector<std::string> features_;
};

}  // namespace

void RegisterEnsemblePredictors(PredictorRegistry& registry) {
  registry.Register(
      kName, "ensemble: weighted mean of member predictors' within-workload ranks (members=cost+ridge+xgb-rank)",
      [](const std::string& text) -> Result<std::unique_ptr<Predictor>> {
        SIMTUNE_ASSIGN_OR_RETURN(
            Options o, Options::Parse(text, kName, {{"members", "cost+ridge+xgb-rank"}, {"weights", "1+1+1"}}));
        std::vector<std::string> members;
        for (const auto& m : Split(o.String("members"), '+')) {
          std::string name = Trim(m);
          if (name == kName) return Error{std::string(kName) + " option members: a member cannot be " + kName};
          if (!Predictors().Contains(name))
            return Wrap(UnknownName("predictor", name, Predictors().Names()),
                        std::string(kName) + " option members");
          members.push_back(name);
        }
        std::vector<double> weights;
        double sum = 0;
        for (const auto& w : Split(o.String("weights"), '+')) {
          auto v = ParseDouble(Trim(w), "weights");
          if (!v.ok() || !std::isfinite(*v) || *v < 0)
            return Error{std::string(kName) + " option weights: expected numbers >= 0 separated by '+'; got '" +
                         o.String("weights") + "'"};
          weights.push_back(*v);
          sum += *v;
        }
        if (weights.size() != members.size())
          return Error{std::string(kName) + " option weights: " + std::to_string(weights.size()) +
                       " weights for " + std::to_string(members.size()) + " members ('" + o.String("members") + "')"};
        if (sum <= 0) return Error{std::string(kName) + " option weights: at least one must be > 0"};
        return std::unique_ptr<Predictor>(new RankAveragePredictor(std::move(o), std::move(members), std::move(weights)));
      });
}

}  // namespace simtune
