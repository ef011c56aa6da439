// Evolutionary (genetic) search. Parents come from the best trials seen so far (an elitist
// steady-state population), so a killed run that replays its history rebuilds the same
// population without storing it.
#include <algorithm>
#include <optional>

#include "src/search/builtin.h"
#include "src/search/common.h"

namespace simtune {
namespace {

class EvolutionaryStrategy : public Strategy {
 public:
  EvolutionaryStrategy(std::string options, int population, double mutation, double random_fraction)
      : options_(std::move(options)), population_(population), mutation_(mutation),
        random_fraction_(random_fraction) {}
  std::string name() const override { return "evolutionary"; }
  std::string options() const override { return options_; }
  Status Init(const Space& space, uint64_t seed) override {
    space_ = &space;
    rng_.seed(seed);
    return Status::Ok();
  }

  std::vector<Config> Propose(size_t n) override {
    std::vector<Trial> parents = history_.Best(population_);
    if (parents.size() < 2) return search::FreshRandom(*space_, history_, rng_, n);
    size_t n_random = static_cast<size_t>(random_fraction_ * n + 0.5);
    std::vector<Config> out;
    while (out.size() + n_random < n) {
      auto child = Child(parents);
      if (!child) break;
      out.push_back(*child);
    }
    auto fresh = search::FreshRandom(*space_, history_, rng_, n - out.size());
    out.insert(out.end(), fresh.begin(), fresh.end());
    return out;
  }

  void Notify(const std::vector<Trial>& trials) override {
    for (const auto& t : trials) history_.Add(t);
  }

 private:
  // Tournament of three: the best of three random members (population is sorted best first,
  // so the smallest index wins).
  const Config& Select(const std::vector<Trial>& parents) {
    std::uniform_int_distribution<size_t> pick(0, parents.size() - 1);
    size_t best = pick(rng_);
    for (int i = 0; i < 2; ++i) best = std::min(best, pick(rng_));
    return parents[best].config;
  }

  std::optional<Config> Child(const std::vector<Trial>& parents) {
    const auto& knobs = space_->knobs();
    for (int attempt = 0; attempt < 50; ++attempt) {
      const Config& a = Select(parents);
      const Config& b = Select(parents);
      Config c;
      for (const auto& k : knobs) c[k.name] = search::Uniform(rng_) < 0.5 ? a.at(k.name) : b.at(k.name);
      bool mutated = false;
      for (const auto& k : knobs)
        if (search::Uniform(rng_) < mutation_) {
          c[k.name] = k.values[std::uniform_int_distribution<size_t>(0, k.values.size() - 1)(rng_)];
          mutated = true;
        }
      // A child identical to a parent teaches nothing: force one re-drawn knob.
      if (!mutated && (history_.Seen(c))) {
        const auto& k = knobs[std::uniform_int_distribution<size_t>(0, knobs.size() - 1)(rng_)];
        c[k.name] = k.values[std::uniform_int_distribution<size_t>(0, k.values.size() - 1)(rng_)];
      }
      if (space_->Reject(c).empty() && history_.Mark(c)) return c;
    }
    return std::nullopt;
  }

  std::string options_;
  size_t population_;
  double mutation_, random_fraction_;
  const Space* space_ = nullptr;
  std::mt19937_64 rng_;
  search::History history_;
};

}  // namespace

void RegisterEvolutionaryStrategy(StrategyRegistry& registry) {
  registry.Register(
      "evolutionary", "genetic search: tournament selection, uniform crossover, mutation",
      [](const std::string& text) -> Result<std::unique_ptr<Strategy>> {
        SIMTUNE_ASSIGN_OR_RETURN(
            auto o, search::Options::Parse(text, "evolutionary",
                                           {{"population", "16"}, {"mutation", "0.2"},
                                            {"random_fraction", "0.1"}}));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t population, o.Int("population", 2, 100000));
        SIMTUNE_ASSIGN_OR_RETURN(double mutation, o.Double("mutation", 0, 1));
        SIMTUNE_ASSIGN_OR_RETURN(double random_fraction, o.Double("random_fraction", 0, 1));
        return std::unique_ptr<Strategy>(new EvolutionaryStrategy(
            o.Canonical(), static_cast<int>(population), mutation, random_fraction));
      });
}

}  // namespace simtune
