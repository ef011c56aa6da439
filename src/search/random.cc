// Random: uniform draws without repetition (search::FreshRandom), the baseline every other
// strategy must beat.
#include "src/search/builtin.h"
#include "src/search/common.h"

namespace simtune {
namespace {

class RandomStrategy : public Strategy {
 public:
  std::string name() const override { return "random"; }
  std::string options() const override { return ""; }
  Status Init(const Space& space, uint64_t seed) override {
    space_ = &space;
    rng_.seed(seed);
    return Status::Ok();
  }
  std::vector<Config> Propose(size_t n) override {
    return search::FreshRandom(*space_, history_, rng_, n);
  }
  void Notify(const std::vector<Trial>& trials) override {
    for (const auto& t : trials) history_.Add(t);
  }

 private:
  const Space* space_ = nullptr;
  std::mt19937_64 rng_;
  search::History history_;
};

}  // namespace

void RegisterRandomStrategy(StrategyRegistry& registry) {
  registry.Register("random", "uniformly at random without repetition",
                    [](const std::string& options) {
                      return search::MakeNoOptions<RandomStrategy>("random", options);
                    });
}

}  // namespace simtune
