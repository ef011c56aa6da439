// Exhaustive: an odometer over the knobs' value lists (last knob fastest, as
// Space::Enumerate), lazily, so that spaces of millions of raw configs cost nothing upfront.
#include "src/search/builtin.h"
#include "src/search/common.h"

namespace simtune {
namespace {

class ExhaustiveStrategy : public Strategy {
 public:
  std::string name() const override { return "exhaustive"; }
  std::string options() const override { return ""; }
  Status Init(const Space& space, uint64_t) override {
    space_ = &space;
    index_.assign(space.knobs().size(), 0);
    done_ = space.RawSize() == 0;
    return Status::Ok();
  }
  std::vector<Config> Propose(size_t n) override {
    std::vector<Config> out;
    while (out.size() < n && !done_) {
      Config c;
      const auto& knobs = space_->knobs();
      for (size_t i = 0; i < knobs.size(); ++i) c[knobs[i].name] = knobs[i].values[index_[i]];
      Advance();
      if (space_->Reject(c).empty() && history_.Mark(c)) out.push_back(c);
    }
    return out;
  }
  void Notify(const std::vector<Trial>& trials) override {
    for (const auto& t : trials) history_.Add(t);
  }

 private:
  void Advance() {
    const auto& knobs = space_->knobs();
    for (size_t i = knobs.size(); i-- > 0;) {
      if (++index_[i] < knobs[i].values.size()) return;
      index_[i] = 0;
    }
    done_ = true;
  }

  const Space* space_ = nullptr;
  std::vector<size_t> index_;
  bool done_ = false;
  search::History history_;
};

}  // namespace

void RegisterExhaustiveStrategy(StrategyRegistry& registry) {
  registry.Register("exhaustive", "every valid candidate, in lexicographic knob order",
                    [](const std::string& options) {
                      return search::MakeNoOptions<ExhaustiveStrategy>("exhaustive", options);
                    });
}

}  // namespace simtune
