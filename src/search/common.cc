#include "src/search/common.h"

#include <algorithm>
#include <cmath>

#include "simtune/strings.h"

namespace simtune::search {

Result<Options> Options::Parse(const std::string& text, const std::string& strategy,
                               const std::map<std::string, std::string>& defaults) {
  Options o;
  o.strategy_ = strategy;
  o.values_ = defaults;
  std::vector<std::string> valid;
  for (const auto& [k, v] : defaults) valid.push_back(k);
  std::set<std::string> given;
  if (Trim(text).empty()) return o;
  for (const auto& item : Split(text, ',')) {
    auto eq = item.find('=');
    if (eq == std::string::npos)
      return Error{strategy + " strategy option '" + item + "': expected key=value"};
    std::string key = Trim(item.substr(0, eq)), value = Trim(item.substr(eq + 1));
    if (!defaults.count(key)) {
      if (valid.empty()) return Error{strategy + " strategy takes no options; got '" + item + "'"};
      return UnknownName(strategy + " strategy option", key, valid);
    }
    if (!given.insert(key).second)
      return Error{strategy + " strategy option " + key + " given twice"};
    o.values_[key] = value;
  }
  return o;
}

Result<int64_t> Options::Int(const std::string& key, int64_t min_value, int64_t max_value) const {
  std::string what = strategy_ + " strategy option " + key;
  SIMTUNE_ASSIGN_OR_RETURN(int64_t v, ParseInt(values_.at(key), what));
  if (v < min_value || v > max_value)
    return Error{what + ": must be in [" + std::to_string(min_value) + ", " +
                 std::to_string(max_value) + "]; got " + values_.at(key)};
  return v;
}

Result<double> Options::Double(const std::string& key, double min_value, double max_value) const {
  std::string what = strategy_ + " strategy option " + key;
  SIMTUNE_ASSIGN_OR_RETURN(double v, ParseDouble(values_.at(key), what));
  if (v < min_value || v > max_value) {
    char buf[128];
    std::snprintf(buf, sizeof buf, ": must be in [%g, %g]; got ", min_value, max_value);
    return Error{what + buf + values_.at(key)};
  }
  return v;
}

const std::string& Options::String(const std::string& key) const { return values_.at(key); }

std::string Options::Canonical() const {
  std::vector<std::string> parts;
  for (const auto& [k, v] : values_) parts.push_back(k + "=" + v);
  return Join(parts, ",");
}

void History::Add(const Trial& trial) {
  seen_.insert(trial.config);
  trials_[trial.config] = trial;
}

std::vector<Trial> History::Best(size_t n) const {
  std::vector<Trial> ok;
  for (const auto& [c, t] : trials_)
    if (t.ok && std::isfinite(t.score)) ok.push_back(t);
  std::stable_sort(ok.begin(), ok.end(),
                   [](const Trial& a, const Trial& b) { return a.score < b.score; });
  if (ok.size() > n) ok.resize(n);
  return ok;
}

double History::ScoreScale() const {
  std::vector<double> s;
  for (const auto& [c, t] : trials_)
    if (t.ok && std::isfinite(t.score)) s.push_back(t.score);
  if (s.size() < 2) return 1.0;
  std::sort(s.begin(), s.end());
  double iqr = s[s.size() * 3 / 4] - s[s.size() / 4];
  if (iqr > 0) return iqr;
  double mean = 0, var = 0;
  for (double v : s) mean += v;
  mean /= s.size();
  for (double v : s) var += (v - mean) * (v - mean);
  double sd = std::sqrt(var / s.size());
  return sd > 0 ? sd : 1.0;
}

Config RandomConfig(const Space& space, std::mt19937_64& rng) {
  const auto& knobs = space.knobs();
  for (int attempt = 0; attempt < 10000; ++attempt) {
    Config c;
    for (const auto& k : knobs)
      c[k.name] = k.values[std::uniform_int_distribution<size_t>(0, k.values.size() - 1)(rng)];
    if (space.Reject(c).empty()) return c;
  }
  // Valid configs are rare: pick one of the enumerated ones.
  std::vector<Config> all;
  space.Enumerate([&](const Config& c) {
    all.push_back(c);
    return true;
  });
  SIMTUNE_CHECK_MSG(!all.empty(), "RandomConfig on an empty space");
  return all[std::uniform_int_distribution<size_t>(0, all.size() - 1)(rng)];
}

std::vector<Config> FreshRandom(const Space& space, History& history, std::mt19937_64& rng,
                                size_t n) {
  std::vector<Config> out;
  int misses = 0;
  while (out.size() < n && misses < 200) {
    Config c = RandomConfig(space, rng);
    if (history.Mark(c)) {
      out.push_back(c);
      misses = 0;
    } else {
      ++misses;
    }
  }
  if (out.size() < n) {
    // Most of the space is seen: take the unseen rest in a seeded random order.
    std::vector<Config> rest;
    space.Enumerate([&](const Config& c) {
      if (!history.Seen(c)) rest.push_back(c);
      return true;
    });
    std::shuffle(rest.begin(), rest.end(), rng);
    for (size_t i = 0; i < rest.size() && out.size() < n; ++i) {
      history.Mark(rest[i]);
      out.push_back(rest[i]);
    }
  }
  return out;
}

}  // namespace simtune::search
