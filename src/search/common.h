// Pieces shared by the built-in strategies: strict option parsing, the set of configs seen,
// uniform random configs, and score normalisation. Internal to src/search/.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "simtune/result.h"
#include "simtune/search.h"
#include "simtune/workload.h"

namespace simtune::search {

// Effective options of one strategy: every key has a value (defaults filled in).
class Options {
 public:
  // Parses "key=value,..." against `defaults` (which also lists the valid keys); `strategy`
  // names the strategy in messages: "evolutionary option 'popsize': unknown ...".
  static Result<Options> Parse(const std::string& text, const std::string& strategy,
                               const std::map<std::string, std::string>& defaults);
  Result<int64_t> Int(const std::string& key, int64_t min_value, int64_t max_value) const;
  Result<double> Double(const std::string& key, double min_value, double max_value) const;
  const std::string& String(const std::string& key) const;
  std::string Canonical() const;

 private:
  std::string strategy_;
  std::map<std::string, std::string> values_;
};

// Configs proposed or notified so far, with the scores of the notified ones.
class History {
 public:
  // False when `config` was already marked.
  bool Mark(const Config& config) { return seen_.insert(config).second; }
  bool Seen(const Config& config) const { return seen_.count(config) > 0; }
  size_t seen() const { return seen_.size(); }
  // Records a result (also marks it). A config notified twice keeps the last result.
  void Add(const Trial& trial);
  // Ok trials sorted by score, best first; ties by config order (deterministic).
  std::vector<Trial> Best(size_t n) const;
  const std::map<Config, Trial>& trials() const { return trials_; }
  // Spread of the ok scores (interquartile range, else standard deviation, else 1) so that
  // score differences can be compared with a temperature.
  double ScoreScale() const;

 private:
  std::set<Config> seen_;
  std::map<Config, Trial> trials_;
};

// A valid config drawn uniformly at random from the space (rejection sampling over the raw
// product; falls back to enumeration when valid configs are rare). Deterministic for `rng`.
Config RandomConfig(const Space& space, std::mt19937_64& rng);

// Up to `n` random configs not yet in `history` (marked there), fewer when the space has no
// more: then the rest of the space is enumerated so that nothing is left out.
std::vector<Config> FreshRandom(const Space& space, History& history, std::mt19937_64& rng,
                                size_t n);

// Uniform real in [0, 1).
inline double Uniform(std::mt19937_64& rng) {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// Factory of a strategy without options: any option is an error.
template <class T>
Result<std::unique_ptr<Strategy>> MakeNoOptions(const std::string& name, const std::string& options) {
  auto o = Options::Parse(options, name, {});
  if (!o.ok()) return o.error();
  return std::unique_ptr<Strategy>(new T());
}

}  // namespace simtune::search
