// Every registered strategy on a small synthetic space with a known optimum (a fake
// objective, no simulator): validity, no repeats, determinism, and finding the optimum.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "simtune/search.h"

namespace simtune {
namespace {

// a in powers of two, b in 1..8, a categorical order; a * b > 256 is invalid (12 configs),
// leaving 156. Objective: a bowl with its unique minimum 1 at a=8, b=5, order=y; configs
// with b == 2 "fail" (like a candidate that does not build).
Space MakeSpace() {
  std::vector<Knob> knobs = {
      {"a", {1, 2, 4, 8, 16, 32, 64}, {}, ""},
      {"b", {1, 2, 3, 4, 5, 6, 7, 8}, {}, ""},
      {"order", {0, 1, 2}, {"x", "y", "z"}, ""},
  };
  return Space(knobs, [](const Config& c) -> std::string {
    return c.at("a") * c.at("b") > 256 ? "a * b > 256" : "";
  });
}

Trial Evaluate(const Config& c) {
  Trial t;
  t.config = c;
  if (c.at("b") == 2) return t;   // failed
  double la = std::log2(static_cast<double>(c.at("a")));
  t.ok = true;
  t.score = 1 + (la - 3) * (la - 3) + (c.at("b") - 5) * (c.at("b") - 5) + (c.at("order") == 1 ? 0 : 3);
  return t;
}

struct RunOutcome {
  double best = std::numeric_limits<double>::infinity();
  std::vector<Config> proposed;
};

// Propose/Notify in batches until `budget` trials or nothing left.
RunOutcome RunStrategy(const std::string& name, const std::string& options, size_t budget, size_t batch,
               uint64_t seed, const Space& space) {
  auto s = Strategies().Create(name, options);
  EXPECT_TRUE(s.ok()) << s.message();
  RunOutcome out;
  if (!s.ok()) return out;
  EXPECT_TRUE((*s)->Init(space, seed).ok());
  while (out.proposed.size() < budget) {
    auto configs = (*s)->Propose(std::min(batch, budget - out.proposed.size()));
    if (configs.empty()) break;
    EXPECT_LE(configs.size(), batch);
    std::vector<Trial> trials;
    for (const auto& c : configs) {
      EXPECT_EQ(space.Reject(c), "") << name;
      trials.push_back(Evaluate(c));
      if (trials.back().ok) out.best = std::min(out.best, trials.back().score);
      out.proposed.push_back(c);
    }
    (*s)->Notify(trials);
  }
  return out;
}

class EveryStrategy : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryStrategy, ProposesValidConfigsOnceAndIsDeterministic) {
  Space space = MakeSpace();
  ASSERT_EQ(space.ValidSize(), 156u);
  auto a = RunStrategy(GetParam(), "", 1000, 16, 7, space);
  // Never a repeat; the whole space is proposed before the strategy runs dry.
  std::set<Config> distinct(a.proposed.begin(), a.proposed.end());
  EXPECT_EQ(distinct.size(), a.proposed.size());
  EXPECT_EQ(a.proposed.size(), 156u);
  EXPECT_EQ(a.best, 1.0);
  auto b = RunStrategy(GetParam(), "", 1000, 16, 7, space);
  EXPECT_EQ(a.proposed, b.proposed) << "same seed, same results: same proposals";
}

TEST_P(EveryStrategy, NeverProposesWhatItWasToldAbout) {
  Space space = MakeSpace();
  auto s = Strategies().Create(GetParam(), "");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Init(space, 3).ok());
  // Results from elsewhere (calibration, the store), before anything was proposed.
  std::vector<Trial> known;
  for (const auto& c : space.Sample(40, 11)) known.push_back(Evaluate(c));
  (*s)->Notify(known);
  std::set<Config> seen;
  for (const auto& t : known) seen.insert(t.config);
  size_t proposed = 0;
  for (;;) {
    auto configs = (*s)->Propose(16);
    if (configs.empty()) break;
    std::vector<Trial> trials;
    for (const auto& c : configs) {
      EXPECT_TRUE(seen.insert(c).second) << GetParam() << " proposed a known or repeated config";
      trials.push_back(Evaluate(c));
    }
    proposed += configs.size();
    (*s)->Notify(trials);
  }
  EXPECT_EQ(proposed, 156u - 40u);
}

INSTANTIATE_TEST_SUITE_P(Search, EveryStrategy,
                         ::testing::Values("exhaustive", "random", "evolutionary", "annealing",
                                           "model-guided"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

// The learning strategies find the optimum with well under half of the space, for several
// seeds; random search with the same budget finds it on fewer seeds.
TEST(Strategies, LearningStrategiesFindTheOptimumWithLessThanHalfTheSpace) {
  Space space = MakeSpace();
  const size_t budget = 64;
  int random_hits = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    for (const char* name : {"evolutionary", "annealing", "model-guided"})
      EXPECT_EQ(RunStrategy(name, "", budget, 8, seed, space).best, 1.0) << name << " seed " << seed;
    random_hits += RunStrategy("random", "", budget, 8, seed, space).best == 1.0;
  }
  EXPECT_LT(random_hits, 4);
}

TEST(Strategies, ExhaustiveFollowsLexicographicOrder) {
  Space space = MakeSpace();
  std::vector<Config> enumerated;
  space.Enumerate([&](const Config& c) {
    enumerated.push_back(c);
    return true;
  });
  auto out = RunStrategy("exhaustive", "", 1000, 5, 0, space);
  EXPECT_EQ(out.proposed, enumerated);
}

TEST(Strategies, OptionErrorsNameTheStrategyAndValue) {
  auto r = Strategies().Create("evolutionary", "populaton=8");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(),
            "unknown evolutionary strategy option 'populaton'; did you mean 'population'? valid: "
            "mutation, population, random_fraction");
  r = Strategies().Create("annealing", "cooling=1.5");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "annealing strategy option cooling: must be in [0, 1]; got 1.5");
  r = Strategies().Create("random", "seed=1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "random strategy takes no options; got 'seed=1'");
  r = Strategies().Create("model-guided", "model=ridgee");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message().rfind("model-guided strategy option model: unknown predictor 'ridgee'; did you mean 'ridge'?", 0), 0u)
      << r.message();
  r = Strategies().Create("genetic", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message().rfind("unknown strategy 'genetic'", 0), 0u) << r.message();
}

}  // namespace
}  // namespace simtune

namespace simtune {
namespace {

// Scores that drift by `drift` per batch, like a model whose features are relative to the
// candidates at hand (each batch moves the mean they are relative to); with `rescore` every
// earlier trial gets its score of today (Strategy::Rescore) before the new batch is notified.
std::vector<Config> RunDrifting(const std::string& name, uint64_t seed, double drift, bool rescore) {
  Space space = MakeSpace();
  auto s = Strategies().Create(name, "");
  EXPECT_TRUE(s.ok()) << s.message();
  std::vector<Config> proposed;
  if (!s.ok() || !(*s)->Init(space, seed).ok()) return proposed;
  std::vector<Trial> earlier;
  for (int batch = 0; proposed.size() < 48; ++batch) {
    auto configs = (*s)->Propose(8);
    if (configs.empty()) break;
    double offset = drift * batch;
    if (rescore && batch > 0) {
      std::vector<Trial> now = earlier;
      for (auto& t : now) t.score += offset;
      (*s)->Rescore(now);
    }
    std::vector<Trial> trials;
    for (const auto& c : configs) {
      Trial t = Evaluate(c);
      earlier.push_back(t);
      t.score += offset;
      trials.push_back(t);
      proposed.push_back(c);
    }
    (*s)->Notify(trials);
  }
  return proposed;
}

// Strategies that compare scores only with each other (ranks, differences) propose exactly
// what they propose on undrifted scores when earlier trials are rescored; without the
// rescore, the drift makes old trials look better and changes the search.
TEST(Strategies, RescoredTrialsUndoADriftBetweenBatches) {
  for (const char* name : {"evolutionary", "annealing"}) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      auto plain = RunDrifting(name, seed, 0.0, false);
      EXPECT_EQ(RunDrifting(name, seed, 5.0, true), plain) << name << " seed " << seed;
    }
    bool differs = false;
    for (uint64_t seed = 1; seed <= 3; ++seed)
      differs |= RunDrifting(name, seed, 5.0, false) != RunDrifting(name, seed, 0.0, false);
    EXPECT_TRUE(differs) << name << ": the drift alone never changed the search";
  }
}

}  // namespace
}  // namespace simtune
