// Registration functions of the built-in search strategies, called from Strategies().
#pragma once

#include "simtune/search.h"

namespace simtune {
void RegisterExhaustiveStrategy(StrategyRegistry& registry);
void RegisterRandomStrategy(StrategyRegistry& registry);
void RegisterEvolutionaryStrategy(StrategyRegistry& registry);
void RegisterAnnealingStrategy(StrategyRegistry& registry);
void RegisterModelGuidedStrategy(StrategyRegistry& registry);
}  // namespace simtune
