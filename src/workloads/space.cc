#include <algorithm>
#include <limits>
#include <mutex>
#include <set>

#include "simtune/strings.h"
#include "simtune/workload.h"

namespace simtune {

namespace {

// Spaces up to this raw size are sampled exactly (enumerate, then shuffle); larger ones by
// rejection sampling, which is exact too but may give up on very sparse spaces.
constexpr uint64_t kExactSampleRawSize = uint64_t{1} << 16;
// Rejection sampling stops after this many draws per wanted config (plus a floor), or once
// repeated draws show that `n` is close to the number of valid configs; it then falls back
// to the exact method when the space is small enough to enumerate.
constexpr uint64_t kTriesPerSample = 200;
constexpr uint64_t kMinTries = 20000;
constexpr uint64_t kFallbackRawSize = uint64_t{1} << 24;
constexpr int kMutateTries = 1000;

// The valid-size cache is written at most once per space; one lock for all spaces is enough.
std::mutex& CacheMutex() {
  static std::mutex mu;
  return mu;
}

// Unbiased uniform draw in [0, n), identical on every standard library (unlike
// std::uniform_int_distribution), so samples are reproducible everywhere.
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n) {
  SIMTUNE_CHECK(n > 0);
  const uint64_t skew = (std::numeric_limits<uint64_t>::max() % n + 1) % n;  // 2^64 mod n
  while (true) {
    uint64_t x = rng();
    if (skew == 0 || x <= std::numeric_limits<uint64_t>::max() - skew) return x % n;
  }
}

std::string ValueList(const Knob& knob) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < knob.values.size(); ++i)
    parts.push_back(knob.labels.empty() ? std::to_string(knob.values[i]) : knob.labels[i]);
  return "[" + Join(parts, ", ") + "]";
}

std::vector<std::string> KnobNames(const std::vector<Knob>& knobs) {
  std::vector<std::string> names;
  for (const auto& k : knobs) names.push_back(k.name);
  return names;
}

int IndexOf(const Knob& knob, int64_t value) {
  auto it = std::find(knob.values.begin(), knob.values.end(), value);
  return it == knob.values.end() ? -1 : static_cast<int>(it - knob.values.begin());
}

}  // namespace

std::string FormatConfig(const Config& config, const std::vector<Knob>& knobs) {
  std::vector<std::string> parts;
  std::set<std::string> seen;
  for (const auto& knob : knobs) {
    auto it = config.find(knob.name);
    if (it == config.end()) continue;
    seen.insert(knob.name);
    int idx = IndexOf(knob, it->second);
    if (!knob.labels.empty() && idx >= 0) {
      parts.push_back(knob.name + "=" + knob.labels[idx]);
    } else {
      parts.push_back(knob.name + "=" + std::to_string(it->second));
    }
  }
  for (const auto& [name, value] : config)
    if (!seen.count(name)) parts.push_back(name + "=" + std::to_string(value));
  return Join(parts, ",");
}

Space::Space(std::vector<Knob> knobs, std::function<std::string(const Config&)> reject)
    : knobs_(std::move(knobs)), reject_(std::move(reject)) {
  std::set<std::string> names;
  for (const auto& knob : knobs_) {
    SIMTUNE_CHECK_MSG(names.insert(knob.name).second, "duplicate knob " + knob.name);
    SIMTUNE_CHECK_MSG(!knob.values.empty(), "knob " + knob.name + " has no values");
    SIMTUNE_CHECK_MSG(knob.labels.empty() || knob.labels.size() == knob.values.size(),
                      "knob " + knob.name + " labels do not match values");
    std::set<int64_t> distinct(knob.values.begin(), knob.values.end());
    SIMTUNE_CHECK_MSG(distinct.size() == knob.values.size(),
                      "knob " + knob.name + " repeats a value");
  }
  if (!reject_) reject_ = [](const Config&) { return std::string(); };
}

std::string Space::Reject(const Config& config) const {
  for (const auto& knob : knobs_) {
    auto it = config.find(knob.name);
    if (it == config.end()) return "missing knob " + knob.name;
    if (IndexOf(knob, it->second) < 0)
      return "knob " + knob.name + ": value " + std::to_string(it->second) + " not in " +
             ValueList(knob);
  }
  if (config.size() != knobs_.size()) {
    for (const auto& [name, value] : config) {
      bool known = std::any_of(knobs_.begin(), knobs_.end(),
                               [&](const Knob& k) { return k.name == name; });
      if (!known) return UnknownName("knob", name, KnobNames(knobs_)).message;
    }
  }
  return reject_(config);
}

uint64_t Space::RawSize() const {
  uint64_t total = 1;
  for (const auto& knob : knobs_) {
    if (__builtin_mul_overflow(total, knob.values.size(), &total))
      return std::numeric_limits<uint64_t>::max();
  }
  return total;
}

uint64_t Space::ValidSize() const {
  {
    std::lock_guard<std::mutex> lock(CacheMutex());
    if (valid_size_known_) return valid_size_;
  }
  uint64_t count = 0;
  Enumerate([&](const Config&) {
    ++count;
    return true;
  });
  std::lock_guard<std::mutex> lock(CacheMutex());
  valid_size_ = count;
  valid_size_known_ = true;
  return count;
}

void Space::Enumerate(const std::function<bool(const Config&)>& fn) const {
  // Odometer over knob value indices, the last knob fastest; the config is updated in
  // place so that each step costs one map write rather than a new map.
  const size_t n = knobs_.size();
  Config config;
  for (const auto& knob : knobs_) config[knob.name] = knob.values[0];
  std::vector<int64_t*> slots;
  for (const auto& knob : knobs_) slots.push_back(&config[knob.name]);
  std::vector<size_t> idx(n, 0);
  while (true) {
    if (reject_(config).empty() && !fn(config)) return;
    size_t d = n;
    while (d > 0) {
      --d;
      if (++idx[d] < knobs_[d].values.size()) {
        *slots[d] = knobs_[d].values[idx[d]];
        break;
      }
      idx[d] = 0;
      *slots[d] = knobs_[d].values[0];
      if (d == 0) return;
    }
    if (n == 0) return;
  }
}

std::vector<Config> Space::Sample(size_t n, uint64_t seed) const {
  std::mt19937_64 rng(seed);
  std::vector<Config> out;
  if (n == 0) return out;
  const uint64_t raw = RawSize();

  auto decode = [&](uint64_t index) {
    Config config;
    for (size_t d = knobs_.size(); d-- > 0;) {
      const auto& values = knobs_[d].values;
      config[knobs_[d].name] = values[index % values.size()];
      index /= values.size();
    }
    return config;
  };
  auto exact = [&]() {
    // Valid raw indices in enumeration order, then a partial Fisher-Yates shuffle.
    std::vector<uint64_t> valid;
    Enumerate([&](const Config& config) {
      uint64_t i = 0;
      for (const auto& knob : knobs_)
        i = i * knob.values.size() + static_cast<uint64_t>(IndexOf(knob, config.at(knob.name)));
      valid.push_back(i);
      return true;
    });
    std::vector<Config> picked;
    const size_t take = std::min<size_t>(n, valid.size());
    for (size_t i = 0; i < take; ++i) {
      size_t j = i + UniformBelow(rng, valid.size() - i);
      std::swap(valid[i], valid[j]);
      picked.push_back(decode(valid[i]));
    }
    return picked;
  };

  if (raw <= kExactSampleRawSize) return exact();

  // Rejection sampling: uniform raw draws, keep valid ones not seen before; the accepted
  // sequence is a uniform draw without replacement from the valid configs. Many repeats
  // mean `n` is close to the number of valid configs, where enumerating is the better way.
  std::set<uint64_t> seen;
  Config config;
  for (const auto& knob : knobs_) config[knob.name] = knob.values[0];
  std::vector<int64_t*> slots;
  for (const auto& knob : knobs_) slots.push_back(&config[knob.name]);
  const uint64_t max_tries = kMinTries + kTriesPerSample * static_cast<uint64_t>(n);
  uint64_t repeats = 0;
  for (uint64_t t = 0; t < max_tries && out.size() < n && repeats <= n / 2 + 100; ++t) {
    uint64_t index = 0;
    for (size_t d = 0; d < knobs_.size(); ++d) {
      const uint64_t i = UniformBelow(rng, knobs_[d].values.size());
      index = index * knobs_[d].values.size() + i;
      *slots[d] = knobs_[d].values[i];
    }
    if (seen.count(index)) {
      ++repeats;
      continue;
    }
    if (!reject_(config).empty()) continue;
    seen.insert(index);
    out.push_back(config);
  }
  if (out.size() < n && raw <= kFallbackRawSize) return exact();
  return out;
}

std::vector<Config> Space::Neighbours(const Config& config) const {
  std::vector<Config> out;
  for (const auto& knob : knobs_) {
    auto it = config.find(knob.name);
    if (it == config.end()) continue;
    int idx = IndexOf(knob, it->second);
    if (idx < 0) continue;
    for (int step : {-1, 1}) {
      int j = idx + step;
      if (j < 0 || j >= static_cast<int>(knob.values.size())) continue;
      Config next = config;
      next[knob.name] = knob.values[j];
      if (Reject(next).empty()) out.push_back(std::move(next));
    }
  }
  return out;
}

Config Space::Mutate(const Config& config, std::mt19937_64& rng, int n_changes) const {
  std::vector<size_t> changeable;
  for (size_t d = 0; d < knobs_.size(); ++d)
    if (knobs_[d].values.size() > 1) changeable.push_back(d);
  const size_t changes = std::min<size_t>(std::max(n_changes, 1), changeable.size());
  for (int attempt = 0; changes > 0 && attempt < kMutateTries; ++attempt) {
    Config next = config;
    std::vector<size_t> pool = changeable;
    for (size_t c = 0; c < changes; ++c) {
      size_t j = c + UniformBelow(rng, pool.size() - c);
      std::swap(pool[c], pool[j]);
      const Knob& knob = knobs_[pool[c]];
      auto it = next.find(knob.name);
      int current = it == next.end() ? -1 : IndexOf(knob, it->second);
      // A different value: draw among the others when the current one is listed.
      uint64_t pick = UniformBelow(rng, knob.values.size() - (current >= 0 ? 1 : 0));
      if (current >= 0 && pick >= static_cast<uint64_t>(current)) ++pick;
      next[knob.name] = knob.values[pick];
    }
    if (Reject(next).empty()) return next;
  }
  // No valid mutation found (a very constrained neighbourhood): any valid config will do.
  if (Reject(config).empty() && changes == 0) return config;
  std::vector<Config> any = Sample(1, rng());
  SIMTUNE_CHECK_MSG(!any.empty(), "Mutate on a space without valid configs");
  return any[0];
}

Result<Config> Space::ParseConfig(const std::string& text) const {
  Config config;
  const std::vector<std::string> names = KnobNames(knobs_);
  if (!Trim(text).empty()) {
    for (const auto& raw_item : Split(text, ',')) {
      const std::string item = Trim(raw_item);
      size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0)
        return Error{"config item '" + item + "': expected knob=value"};
      const std::string name = Trim(item.substr(0, eq));
      const std::string value = Trim(item.substr(eq + 1));
      auto knob_it = std::find_if(knobs_.begin(), knobs_.end(),
                                  [&](const Knob& k) { return k.name == name; });
      if (knob_it == knobs_.end()) return UnknownName("knob", name, names);
      const Knob& knob = *knob_it;
      if (config.count(name)) return Error{"knob " + name + " given twice"};
      if (!knob.labels.empty()) {
        auto label_it = std::find(knob.labels.begin(), knob.labels.end(), value);
        if (label_it == knob.labels.end())
          return Error{"knob " + name + ": value '" + value + "' not in " + ValueList(knob)};
        config[name] = knob.values[label_it - knob.labels.begin()];
      } else {
        SIMTUNE_ASSIGN_OR_RETURN(int64_t v, ParseInt(value, "knob " + name));
        if (IndexOf(knob, v) < 0)
          return Error{"knob " + name + ": value " + std::to_string(v) + " not in " +
                       ValueList(knob)};
        config[name] = v;
      }
    }
  }
  for (const auto& knob : knobs_)
    if (!config.count(knob.name)) return Error{"missing knob " + knob.name};
  std::string reason = reject_(config);
  if (!reason.empty()) return Error{reason};
  return config;
}

}  // namespace simtune
