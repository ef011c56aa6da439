// "rank-avg": an ensemble for workloads nobody measured. Each member predictor is fit on the
// same training rows; at prediction time each member's scores are turned into ranks within
// each workload (group), scaled to [0, 1] (0 = predicted fastest), and the ensemble's score
// is their weighted mean. Ranks, not times: members disagree on scale (a regressor's time, a
// ranking model's arbitrary score) but each is only trusted for its order, and averaging
// orders keeps one member's wild extrapolation on an unseen workload from dominating.
// A workload seen in training is ranked against the member's scores of that workload's
// training rows (their empirical distribution, kept in the model), so that a candidate's score
// does not depend on which other candidates are scored with it (k-fold evaluation scores a
// workload a fold at a time); an unseen workload's rows are ranked among themselves, except a
// lone row (`simtune estimate` scores executables one at a time), which is ranked against all
// training scores of the member, so its score still orders it against other lone rows.
//   members=cost+ridge+xgb-rank   member predictors, '+'-separated: registry names, each with
//                                 default options or its own after ':' (pairs separated by '/'),
//                                 e.g. members=gp+xgb+dep:model=inorder
//   weights=equal                 or one non-negative weight per member, '+'-separated (not all zero)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>

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

// Share of `sorted` below v, ties counting half: v's rank among a workload's training scores,
// in [0, 1] like ScaledRanks.
double Ecdf(const std::vector<double>& sorted, double v) {
  if (sorted.empty()) return 0.5;
  const auto lo = std::lower_bound(sorted.begin(), sorted.end(), v);
  const auto hi = std::upper_bound(sorted.begin(), sorted.end(), v);
  return (static_cast<double>(lo - sorted.begin()) + 0.5 * static_cast<double>(hi - lo)) /
         static_cast<double>(sorted.size());
}

class RankAveragePredictor : public Predictor {
 public:
  RankAveragePredictor(Options options, std::vector<std::string> members,
                       std::vector<std::string> member_options, std::vector<double> weights)
      : options_(std::move(options)),
        member_names_(std::move(members)),
        member_options_(std::move(member_options)),
        weights_(std::move(weights)) {}

  std::string name() const override { return kName; }
  std::string options() const override { return options_.Canonical(); }
  bool predicts_time() const override { return false; }
  const std::vector<std::string>& feature_names() const override { return features_; }

  Status Fit(const Dataset& train) override {
    SIMTUNE_RETURN_IF_ERROR(train.Validate("training data", true));
    std::vector<std::unique_ptr<Predictor>> members;
    std::vector<std::map<int, std::vector<double>>> train_scores;
    const auto groups = train.RowsByGroup();
    for (size_t k = 0; k < member_names_.size(); ++k) {
      const std::string& m = member_names_[k];
      SIMTUNE_ASSIGN_OR_RETURN(std::unique_ptr<Predictor> p, Predictors().Create(m, member_options_[k]));
      Status fitted = p->Fit(train);
      if (!fitted.ok()) return Wrap(fitted.error(), std::string(kName) + " member " + m);
      Result<Eigen::VectorXd> s = p->Predict(train);
      if (!s.ok()) return Wrap(s.error(), std::string(kName) + " member " + m);
      std::map<int, std::vector<double>> per_group;
      for (const auto& rows : groups) {
        std::vector<double>& v = per_group[train.group[static_cast<size_t>(rows[0])]];
        for (int64_t r : rows) v.push_back((*s)[r]);
        std::sort(v.begin(), v.end());
      }
      train_scores.push_back(std::move(per_group));
      members.push_back(std::move(p));
    }
    members_ = std::move(members);
    train_scores_ = std::move(train_scores);
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
        const int g = x.group[static_cast<size_t>(rows[0])];
        if (m < train_scores_.size()) {
          if (auto seen = train_scores_[m].find(g); seen != train_scores_[m].end())
            for (size_t i = 0; i < rows.size(); ++i) ranks[static_cast<int64_t>(i)] = Ecdf(seen->second, v[i]);
          else if (rows.size() == 1)
            ranks[0] = Ecdf(PooledScores(m), v[0]);
        }
        for (size_t i = 0; i < rows.size(); ++i) total[rows[i]] += weights_[m] * ranks[i];
      }
      weight_sum += weights_[m];
    }
    return Eigen::VectorXd(total / weight_sum);
  }

  // Member m's training scores of every workload, sorted.
  std::vector<double> PooledScores(size_t m) const {
    std::vector<double> all;
    for (const auto& [g, v] : train_scores_[m]) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    return all;
  }

  nlohmann::json SaveJson() const override {
    SIMTUNE_CHECK(!members_.empty());
    nlohmann::json members = nlohmann::json::array();
    for (size_t m = 0; m < members_.size(); ++m)
      members.push_back({{"predictor", members_[m]->name()},
                         {"options", members_[m]->options()},
                         {"model", members_[m]->SaveJson()}});
    nlohmann::json scores = nlohmann::json::array();
    for (const auto& per_group : train_scores_) {
      nlohmann::json groups = nlohmann::json::array();
      for (const auto& [g, v] : per_group) groups.push_back({{"group", g}, {"scores", v}});
      scores.push_back(groups);
    }
    return {{"features", features_}, {"members", members}, {"train_scores", scores}};
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
    // Absent in models saved before it existed: every workload is then ranked in its batch.
    std::vector<std::map<int, std::vector<double>>> train_scores;
    if (model.contains("train_scores")) {
      const auto& all = model["train_scores"];
      if (!all.is_array() || all.size() != loaded.size())
        return Error{"invalid model: train_scores must be an array with one entry per member"};
      for (size_t m = 0; m < all.size(); ++m) {
        const std::string where = "train_scores[" + std::to_string(m) + "]";
        if (!all[m].is_array()) return Error{"invalid model: " + where + " is not an array"};
        std::map<int, std::vector<double>> per_group;
        for (size_t k = 0; k < all[m].size(); ++k) {
          const std::string at = where + "[" + std::to_string(k) + "]";
          const auto& e = all[m][k];
          if (!e.is_object()) return Error{"invalid model: " + at + " is not an object"};
          SIMTUNE_ASSIGN_OR_RETURN(int64_t g, predictors::IntFromJson(e.value("group", nlohmann::json()),
                                                                       at + ".group", INT32_MIN, INT32_MAX));
          SIMTUNE_ASSIGN_OR_RETURN(Eigen::VectorXd v, predictors::VectorFromJson(
                                                          e.value("scores", nlohmann::json()), at + ".scores"));
          std::vector<double> sorted(v.data(), v.data() + v.size());
          std::sort(sorted.begin(), sorted.end());
          per_group[static_cast<int>(g)] = std::move(sorted);
        }
        train_scores.push_back(std::move(per_group));
      }
    }
    members_ = std::move(loaded);
    train_scores_ = std::move(train_scores);
    return Status::Ok();
  }

 private:
  Options options_;
  std::vector<std::string> member_names_;
  std::vector<std::string> member_options_;   // as Predictors().Create takes them ("k=v,k=v")
  std::vector<double> weights_;
  std::vector<std::unique_ptr<Predictor>> members_;
  // Per member: each training workload's member scores, sorted.
  std::vector<std::map<int, std::vector<double>>> train_scores_;
  std::vector<std::string> features_;
};

}  // namespace

void RegisterEnsemblePredictors(PredictorRegistry& registry) {
  registry.Register(
      kName, "ensemble: weighted mean of member predictors' within-workload ranks (members=cost+ridge+xgb-rank)",
      [](const std::string& text) -> Result<std::unique_ptr<Predictor>> {
        SIMTUNE_ASSIGN_OR_RETURN(
            Options o, Options::Parse(text, kName, {{"members", "cost+ridge+xgb-rank"}, {"weights", "equal"}}));
        std::vector<std::string> members, member_options;
        for (const auto& m : Split(o.String("members"), '+')) {
          std::string spec = Trim(m);
          const size_t colon = spec.find(':');
          std::string name = Trim(spec.substr(0, colon));
          std::string opts = colon == std::string::npos ? "" : Trim(spec.substr(colon + 1));
          std::replace(opts.begin(), opts.end(), '/', ',');
          if (name == kName) return Error{std::string(kName) + " option members: a member cannot be " + kName};
          if (!Predictors().Contains(name))
            return Wrap(UnknownName("predictor", name, Predictors().Names()),
                        std::string(kName) + " option members");
          // Bad member options fail here, with the member named, not at fit time.
          auto probe = Predictors().Create(name, opts);
          if (!probe.ok()) return Wrap(probe.error(), std::string(kName) + " option members: " + name);
          members.push_back(name);
          member_options.push_back(opts);
        }
        std::vector<double> weights;
        double sum = 0;
        const std::string& text_weights = o.String("weights");
        for (const auto& w : text_weights == "equal" ? std::vector<std::string>(members.size(), "1")
                                                     : Split(text_weights, '+')) {
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
        return std::unique_ptr<Predictor>(new RankAveragePredictor(
            std::move(o), std::move(members), std::move(member_options), std::move(weights)));
      });
}

}  // namespace simtune
