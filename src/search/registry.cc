#include "src/search/builtin.h"

namespace simtune {

StrategyRegistry& Strategies() {
  static StrategyRegistry* registry = [] {
    auto* r = new StrategyRegistry("strategy");
    RegisterExhaustiveStrategy(*r);
    RegisterRandomStrategy(*r);
    RegisterEvolutionaryStrategy(*r);
    RegisterAnnealingStrategy(*r);
    RegisterModelGuidedStrategy(*r);
    return r;
  }();
  return *registry;
}

}  // namespace simtune
