// Simulated annealing with several independent chains, so that one batch of proposals can be
// simulated in parallel. Each proposal belongs to a chain; the chain moves when its result is
// notified (Metropolis rule), in notification order, which keeps a replay deterministic.
#include <cmath>
#include <map>
#include <optional>

#include "src/search/builtin.h"
#include "src/search/common.h"

namespace simtune {
namespace {

class AnnealingStrategy : public Strategy {
 public:
  AnnealingStrategy(std::string options, int chains, double temperature, double cooling)
      : options_(std::move(options)), chains_(chains), temperature_(temperature), cooling_(cooling) {}
  std::string name() const override { return "annealing"; }
  std::string options() const override { return options_; }
  Status Init(const Space& space, uint64_t seed) override {
    space_ = &space;
    rng_.seed(seed);
    current_.assign(chains_, std::nullopt);
    return Status::Ok();
  }

  std::vector<Config> Propose(size_t n) override {
    std::vector<Config> out;
    for (size_t tries = 0; out.size() < n && tries < 4 * n + chains_; ++tries) {
      size_t chain = next_chain_++ % chains_;
      std::optional<Config> c;
      if (current_[chain]) c = Move(current_[chain]->config);
      if (!c) {   // a chain without a start, or one stuck where everything around is seen
        auto fresh = search::FreshRandom(*space_, history_, rng_, 1);
        if (fresh.empty()) break;
        c = fresh[0];
      }
      pending_[*c] = chain;
      out.push_back(*c);
    }
    return out;
  }

  // A chain's current point takes its new score; the history keeps the last; no cooling.
  void Rescore(const std::vector<Trial>& trials) override {
    for (const auto& t : trials) {
      history_.Add(t);
      for (auto& cur : current_)
        if (cur && cur->config == t.config) cur = t;
    }
  }

  void Notify(const std::vector<Trial>& trials) override {
    for (const auto& t : trials) {
      history_.Add(t);
      ++notified_;
      auto it = pending_.find(t.config);
      if (it == pending_.end()) continue;
      size_t chain = it->second;
      pending_.erase(it);
      if (!t.ok || !std::isfinite(t.score)) continue;
      auto& cur = current_[chain];
      if (!cur || t.score <= cur->score) {
        cur = t;
        continue;
      }
      double temperature = temperature_ * std::pow(cooling_, static_cast<double>(notified_));
      double delta = (t.score - cur->score) / history_.ScoreScale();
      if (temperature > 0 && search::Uniform(rng_) < std::exp(-delta / temperature)) cur = t;
    }
  }

 private:
  // An unseen neighbour (one knob one step), or with probability 0.2 (or when every
  // neighbour is seen) a one-knob re-draw.
  std::optional<Config> Move(const Config& from) {
    if (search::Uniform(rng_) >= 0.2) {
      std::vector<Config> fresh;
      for (auto& c : space_->Neighbours(from))
        if (!history_.Seen(c)) fresh.push_back(std::move(c));
      if (!fresh.empty()) {
        Config c = fresh[std::uniform_int_distribution<size_t>(0, fresh.size() - 1)(rng_)];
        history_.Mark(c);
        return c;
      }
    }
    const auto& knobs = space_->knobs();
    for (int attempt = 0; attempt < 30; ++attempt) {
      Config c = from;
      const auto& k = knobs[std::uniform_int_distribution<size_t>(0, knobs.size() - 1)(rng_)];
      c[k.name] = k.values[std::uniform_int_distribution<size_t>(0, k.values.size() - 1)(rng_)];
      if (space_->Reject(c).empty() && history_.Mark(c)) return c;
    }
    return std::nullopt;
  }

  std::string options_;
  size_t chains_;
  double temperature_, cooling_;
  const Space* space_ = nullptr;
  std::mt19937_64 rng_;
  search::History history_;
  std::vector<std::optional<Trial>> current_;
  std::map<Config, size_t> pending_;
  size_t next_chain_ = 0;
  uint64_t notified_ = 0;
};

}  // namespace

void RegisterAnnealingStrategy(StrategyRegistry& registry) {
  registry.Register(
      "annealing", "simulated annealing with parallel chains over neighbouring candidates",
      [](const std::string& text) -> Result<std::unique_ptr<Strategy>> {
        SIMTUNE_ASSIGN_OR_RETURN(
            auto o, search::Options::Parse(text, "annealing",
                                           {{"chains", "4"}, {"temperature", "0.2"}, {"cooling", "0.97"}}));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t chains, o.Int("chains", 1, 10000));
        SIMTUNE_ASSIGN_OR_RETURN(double temperature, o.Double("temperature", 0, 1e9));
        SIMTUNE_ASSIGN_OR_RETURN(double cooling, o.Double("cooling", 0, 1));
        return std::unique_ptr<Strategy>(new AnnealingStrategy(
            o.Canonical(), static_cast<int>(chains), temperature, cooling));
      });
}

}  // namespace simtune
