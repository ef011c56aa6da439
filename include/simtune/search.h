// Search strategies: which candidates of a space to try next, learning from the scores of
// the ones already tried. A score is whatever the tuner ranks by (a predictor's predicted
// run time, or any other number): lower is better, and only its order within one run of a
// strategy matters to the built-in strategies (annealing and the model-guided one also use
// differences, after normalising them by the spread of the scores seen).
//
// Lifecycle (one Strategy object per tuning run, used from one thread):
//
//   Strategies().Create(name, options)       "evolutionary", "population=16"
//        |
//        v
//   Init(space, seed)                        the space outlives the strategy
//        |
//        v
//   +--> Propose(n)  -> up to n configs, valid (space.Reject == ""), never proposed or
//   |        |          notified before; empty = nothing left to propose (the space is
//   |        |          exhausted, or the strategy has converged and says so)
//   |        v
//   |    (the tuner builds, simulates and scores them)
//   |        |
//   |        v
//   +--- Notify(trials)  -> scores of configs, in any order, any subset of what was
//                           proposed; also configs the strategy never proposed (calibration
//                           samples, results found in the store), which it then treats as
//                           seen and never proposes
//
// Determinism: given the same seed and the same sequence of Propose/Notify calls with the
// same arguments, a strategy proposes the same configs. The tuner relies on this to resume a
// killed run: it replays the sequence, answering from the store what was already simulated.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "simtune/registry.h"
#include "simtune/result.h"
#include "simtune/workload.h"

namespace simtune {

// The outcome of trying one config.
struct Trial {
  Config config;
  bool ok = false;      // false: the candidate failed (build, run, timeout...); never best
  double score = std::numeric_limits<double>::quiet_NaN();   // valid when ok; lower = better
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  // Canonical options, every option with its effective value ("key=value" sorted by key).
  virtual std::string options() const = 0;
  // Must be called once, before anything else. Errors: a space with no valid config.
  virtual Status Init(const Space& space, uint64_t seed) = 0;
  virtual std::vector<Config> Propose(size_t n) = 0;
  virtual void Notify(const std::vector<Trial>& trials) = 0;
  // New scores for configs already notified (a model whose features are relative to the
  // candidates at hand scores every candidate again as the set grows): they replace the old
  // ones, so that the strategy compares today's scores with today's. Not new results: a
  // strategy that counts results (annealing's cooling) does not count these.
  virtual void Rescore(const std::vector<Trial>& trials) { Notify(trials); }
};

// Options are "key=value,..." parsed strictly (an unknown key lists the valid ones):
//   exhaustive    every valid config, in the space's lexicographic knob order. No options.
//   random        uniformly at random without repetition. No options.
//   evolutionary  genetic search: tournament selection among the best `population` trials,
//                 uniform crossover of two parents, then each knob re-drawn with probability
//                 `mutation`; a child that is invalid or seen is replaced by a mutant.
//                 population=16, mutation=0.2, random_fraction=0.1 (share of each batch
//                 drawn uniformly, for exploration). The first batch is random.
//   annealing     simulated annealing with `chains` walkers moving to a random neighbour
//                 (one knob one step) or, with probability 0.2, a one-knob re-draw; a worse
//                 move is accepted with exp(-delta / T), delta = score difference / spread
//                 of the scores seen; T = temperature * cooling^(notified trials).
//                 chains=4, temperature=0.2, cooling=0.97.
//   model-guided  a cheap surrogate of the score on knob values (log2 of numeric knobs,
//                 one-hot categorical ones), fit with a registered predictor on every trial
//                 so far: each batch is the best-predicted of `pool` x n fresh configs
//                 (mutants of the best trials and random ones), plus a share of random
//                 ones for exploration. Random until `warmup` trials are known.
//                 model=xgb, pool=20, warmup=16, random_fraction=0.2.
using StrategyRegistry = Registry<Strategy, const std::string& /*options*/>;
StrategyRegistry& Strategies();

}  // namespace simtune
