// Model-guided search in the manner of AutoTVM and Ansor: a cheap surrogate of the score on
// knob values alone (no simulation needed to evaluate it) screens many fresh configs and only
// the most promising are proposed, i.e. simulated. The surrogate is any registered predictor;
// it is refit whenever new trials arrived since the last fit.
#include <algorithm>
#include <cmath>
#include <set>

#include "simtune/predictor.h"
#include "src/search/builtin.h"
#include "src/search/common.h"

namespace simtune {
namespace {

class ModelGuidedStrategy : public Strategy {
 public:
  ModelGuidedStrategy(std::string options, std::string model, int pool, int warmup,
                      double random_fraction)
      : options_(std::move(options)), model_(std::move(model)), pool_(pool), warmup_(warmup),
        random_fraction_(random_fraction) {}
  std::string name() const override { return "model-guided"; }
  std::string options() const override { return options_; }
  Status Init(const Space& space, uint64_t seed) override {
    space_ = &space;
    rng_.seed(seed);
    names_.clear();
    for (const auto& k : space.knobs()) {
      if (k.labels.empty()) {
        names_.push_back("knob." + k.name);
      } else {
        for (const auto& label : k.labels) names_.push_back("knob." + k.name + "=" + label);
      }
    }
    return Status::Ok();
  }

  std::vector<Config> Propose(size_t n) override {
    if (history_.Best(warmup_).size() < static_cast<size_t>(warmup_) || !Refit())
      return search::FreshRandom(*space_, history_, rng_, n);
    size_t n_random = static_cast<size_t>(random_fraction_ * n + 0.5);
    size_t n_model = n - std::min(n, n_random);
    // Screening pool: mutants of the best trials (exploitation) and random configs.
    std::vector<Trial> best = history_.Best(16);
    std::set<Config> pool;
    const size_t want = static_cast<size_t>(pool_) * n;
    const auto& knobs = space_->knobs();
    for (size_t attempt = 0; pool.size() < want && attempt < 4 * want; ++attempt) {
      Config c;
      if (attempt % 2 == 0) {
        c = best[std::uniform_int_distribution<size_t>(0, best.size() - 1)(rng_)].config;
        int changes = 1 + static_cast<int>(search::Uniform(rng_) < 0.5);
        for (int i = 0; i < changes; ++i) {
          const auto& k = knobs[std::uniform_int_distribution<size_t>(0, knobs.size() - 1)(rng_)];
          c[k.name] = k.values[std::uniform_int_distribution<size_t>(0, k.values.size() - 1)(rng_)];
        }
        if (!space_->Reject(c).empty()) continue;
      } else {
        c = search::RandomConfig(*space_, rng_);
      }
      if (!history_.Seen(c)) pool.insert(c);
    }
    std::vector<Config> candidates(pool.begin(), pool.end());
    std::vector<Config> out;
    if (!candidates.empty()) {
      auto scores = surrogate_->Predict(Encode(candidates));
      if (scores.ok()) {
        std::vector<size_t> order(candidates.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return (*scores)[a] < (*scores)[b]; });
        for (size_t i = 0; i < order.size() && out.size() < n_model; ++i)
          if (history_.Mark(candidates[order[i]])) out.push_back(candidates[order[i]]);
      }
    }
    auto fresh = search::FreshRandom(*space_, history_, rng_, n - out.size());
    out.insert(out.end(), fresh.begin(), fresh.end());
    return out;
  }

  void Notify(const std::vector<Trial>& trials) override {
    for (const auto& t : trials) history_.Add(t);
    if (!trials.empty()) stale_ = true;
  }

 private:
  Dataset Encode(const std::vector<Config>& configs) const {
    Dataset d;
    d.feature_names = names_;
    d.X.resize(static_cast<Eigen::Index>(configs.size()), static_cast<Eigen::Index>(names_.size()));
    d.y = Eigen::VectorXd::Ones(static_cast<Eigen::Index>(configs.size()));
    for (size_t i = 0; i < configs.size(); ++i) {
      Eigen::Index col = 0;
      for (const auto& k : space_->knobs()) {
        int64_t v = configs[i].at(k.name);
        if (k.labels.empty()) {
          bool positive = std::all_of(k.values.begin(), k.values.end(), [](int64_t x) { return x > 0; });
          d.X(static_cast<Eigen::Index>(i), col++) = positive ? std::log2(static_cast<double>(v))
                                                              : static_cast<double>(v);
        } else {
          for (int64_t value : k.values) d.X(static_cast<Eigen::Index>(i), col++) = value == v ? 1 : 0;
        }
      }
      d.group.push_back(0);
      d.ids.push_back(static_cast<int64_t>(i));
    }
    return d;
  }

  // Fits the surrogate on every ok trial. Scores that are all > 0 are used as they are (the
  // predictors learn log(y)); otherwise their ranks + 1, since a ranking score's scale means
  // nothing. False when the fit fails (then the batch is random).
  bool Refit() {
    if (!stale_ && surrogate_) return true;
    std::vector<Trial> ok = history_.Best(history_.trials().size());
    std::vector<Config> configs;
    for (const auto& t : ok) configs.push_back(t.config);
    Dataset d = Encode(configs);
    bool positive = std::all_of(ok.begin(), ok.end(), [](const Trial& t) { return t.score > 0; });
    for (size_t i = 0; i < ok.size(); ++i)
      d.y[static_cast<Eigen::Index>(i)] = positive ? ok[i].score : static_cast<double>(i + 1);
    auto p = Predictors().Create(model_, "");
    if (!p.ok() || !(*p)->Fit(d).ok()) return false;
    surrogate_ = std::move(p).value();
    stale_ = false;
    return true;
  }

  std::string options_, model_;
  int pool_, warmup_;
  double random_fraction_;
  const Space* space_ = nullptr;
  std::vector<std::string> names_;
  std::mt19937_64 rng_;
  search::History history_;
  std::unique_ptr<Predictor> surrogate_;
  bool stale_ = true;
};

}  // namespace

void RegisterModelGuidedStrategy(StrategyRegistry& registry) {
  registry.Register(
      "model-guided", "a surrogate on knob values picks which candidates are worth simulating",
      [](const std::string& text) -> Result<std::unique_ptr<Strategy>> {
        SIMTUNE_ASSIGN_OR_RETURN(
            auto o, search::Options::Parse(text, "model-guided",
                                           {{"model", "xgb"}, {"pool", "20"}, {"warmup", "16"},
                                            {"random_fraction", "0.2"}}));
        std::string model = o.String("model");
        if (!Predictors().Contains(model))
          return Wrap(UnknownName("predictor", model, Predictors().Names()),
                      "model-guided strategy option model");
        SIMTUNE_ASSIGN_OR_RETURN(int64_t pool, o.Int("pool", 1, 10000));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t warmup, o.Int("warmup", 2, 100000));
        SIMTUNE_ASSIGN_OR_RETURN(double random_fraction, o.Double("random_fraction", 0, 1));
        return std::unique_ptr<Strategy>(new ModelGuidedStrategy(
            o.Canonical(), model, static_cast<int>(pool), static_cast<int>(warmup), random_fraction));
      });
}

}  // namespace simtune
