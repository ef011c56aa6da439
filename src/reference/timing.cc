#include "src/reference/timing.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <sstream>

#include "simtune/build.h"
#include "simtune/process.h"
#include "simtune/strings.h"

namespace simtune::timing {

const std::vector<std::string>& TimingOptionNames() {
  static const std::vector<std::string> names = {"interleave", "min_rep_ns", "reps",
                                                 "rounds",     "seed",       "timeout",
                                                 "value"};
  return names;
}

Result<bool> ParseTimingOption(const std::string& key, const std::string& val,
                               const std::string& what, TimingOptions& o) {
  if (key == "rounds" || key == "reps" || key == "min_rep_ns" || key == "seed" ||
      key == "interleave") {
    SIMTUNE_ASSIGN_OR_RETURN(int64_t v, ParseInt(val, what));
    bool bad = key == "interleave"                       ? (v != 0 && v != 1)
               : (key == "min_rep_ns" || key == "seed") ? v < 0
                                                         : v < 1 || v > 1'000'000;
    if (bad) return Error{what + ": out of range; got " + val};
    if (key == "rounds") o.rounds = static_cast<int>(v);
    if (key == "reps") o.reps = static_cast<int>(v);
    if (key == "min_rep_ns") o.min_rep_ns = v;
    if (key == "seed") o.seed = static_cast<uint64_t>(v);
    if (key == "interleave") o.interleave = v == 1;
    return true;
  }
  if (key == "timeout") {
    SIMTUNE_ASSIGN_OR_RETURN(o.timeout_s, ParseTimeout(val, what));
    return true;
  }
  if (key == "value") {
    if (val != "min" && val != "median")
      return Error{what + ": expected min or median; got '" + val + "'"};
    o.value = val == "min" ? RoundValue::kMin : RoundValue::kMedian;
    return true;
  }
  return false;
}

std::string TimingOptionsKey(const TimingOptions& o) {
  return "rounds=" + std::to_string(o.rounds) + ",reps=" + std::to_string(o.reps) +
         ",min_rep_ns=" + std::to_string(o.min_rep_ns) + (o.interleave ? "" : ",interleave=0") +
         (o.value == RoundValue::kMin ? ",value=min" : "") +
         // Another seed is another, independent measurement (other round orders): kept apart,
         // so that repeated measurements give the reference's own noise.
         (o.seed == TimingOptions{}.seed ? "" : ",seed=" + std::to_string(o.seed));
}

std::string RereducibleKey(const TimingOptions& o) {
  if (o.value == RoundValue::kMedian) return "";
  TimingOptions median = o;
  median.value = RoundValue::kMedian;
  return TimingOptionsKey(median);
}

namespace {

double Reduce(const std::vector<double>& round_min, RoundValue value) {
  return value == RoundValue::kMin ? *std::min_element(round_min.begin(), round_min.end())
                                   : Median(round_min);
}

double Spread(const std::vector<double>& round_min, double value) {
  auto [lo, hi] = std::minmax_element(round_min.begin(), round_min.end());
  return value > 0 ? (*hi - *lo) / value : 0;
}

}  // namespace

Result<RefResult> Rereduce(const RefResult& stored, RoundValue value) {
  if (!stored.ok()) return Error{"a failed result has no rounds to reduce"};
  nlohmann::json extra = nlohmann::json::parse(stored.extra_json, nullptr, false);
  if (!extra.is_object() || !extra.contains("round_min_ns") || !extra["round_min_ns"].is_array() ||
      extra["round_min_ns"].empty())
    return Error{"the stored result has no per-round minima (extra_json round_min_ns)"};
  std::vector<double> round_min;
  for (const auto& v : extra["round_min_ns"]) {
    if (!v.is_number()) return Error{"the stored result's round_min_ns holds a non-number"};
    round_min.push_back(v.get<double>());
  }
  RefResult r = stored;
  r.value = Reduce(round_min, value);
  r.spread = Spread(round_min, r.value);
  extra["rereduced_from"] = stored.value;
  r.extra_json = DumpJson(extra);
  return r;
}

std::vector<std::string> TimingArgs(const TimingOptions& o) {
  return {"--time", std::to_string(o.min_rep_ns), std::to_string(o.reps)};
}

std::vector<size_t> Schedule(size_t n, const TimingOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::vector<size_t> schedule;
  for (int round = 0; round < o.rounds; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    schedule.insert(schedule.end(), order.begin(), order.end());
  }
  if (!o.interleave) std::stable_sort(schedule.begin(), schedule.end());
  return schedule;
}

double Median(std::vector<double> v) {
  SIMTUNE_CHECK(!v.empty());
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Result<std::vector<double>> ParseTimingLine(const std::string& output, int64_t* inner) {
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (!StartsWith(line, "simtune: inner=")) continue;
    auto pos = line.find(" rep_ns=");
    if (pos == std::string::npos) break;
    SIMTUNE_ASSIGN_OR_RETURN(*inner, ParseInt(line.substr(15, pos - 15), "harness inner count"));
    std::vector<double> reps;
    for (const auto& tok : Split(Trim(line.substr(pos + 8)), ',')) {
      SIMTUNE_ASSIGN_OR_RETURN(double v, ParseDouble(tok, "harness rep_ns"));
      reps.push_back(v);
    }
    if (reps.empty()) break;
    return reps;
  }
  return Error{"no timing line in harness output"};
}

RunOutcome ReadTimedRun(const ProcessResult& p, double timeout_s) {
  RunOutcome r;
  if (p.timed_out) {
    r.stage = "timeout";
    r.message = p.Describe(timeout_s);
    return r;
  }
  std::string output = p.out + p.err;
  std::string verify = CheckVerifyLine(output);
  bool said_failed = output.find("simtune: verify failed") != std::string::npos;
  if (p.signal != 0 || (!p.Success() && !said_failed)) {
    r.stage = "run";
    r.message = p.Describe(timeout_s);
    return r;
  }
  if (!verify.empty()) {
    r.stage = "verify";
    r.message = verify;
    return r;
  }
  auto reps = ParseTimingLine(p.out, &r.inner);
  if (!reps.ok()) {
    r.stage = "run";
    r.message = reps.message();
    return r;
  }
  r.reps = std::move(reps).value();
  return r;
}

Rounds::Rounds(size_t n, int64_t min_rep_ns, RoundValue value)
    : results_(n), round_min_(n), all_reps_(n), inner_(n, 0), alive_(n, true),
      min_rep_ns_(min_rep_ns), value_(value) {
  for (auto& r : results_) r.unit = "ns";
}

void Rounds::Fail(size_t i, const std::string& stage, const std::string& message) {
  if (!alive_[i]) return;
  results_[i].status = "failed";
  results_[i].stage = stage;
  results_[i].message = message;
  alive_[i] = false;
}

void Rounds::Add(size_t i, const RunOutcome& outcome) {
  if (!alive_[i]) return;
  if (!outcome.ok()) {
    Fail(i, outcome.stage, outcome.message);
    return;
  }
  inner_[i] = outcome.inner;
  round_min_[i].push_back(*std::min_element(outcome.reps.begin(), outcome.reps.end()));
  all_reps_[i].insert(all_reps_[i].end(), outcome.reps.begin(), outcome.reps.end());
}

size_t Rounds::FailUnbuilt(const std::vector<Artifact>& batch) {
  size_t left = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].ok()) Fail(i, "build", "artifact did not build: " + batch[i].message);
    left += alive_[i];
  }
  return left;
}

std::vector<RefResult> Rounds::Finish(const nlohmann::json& extra) const {
  std::vector<RefResult> results = results_;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!alive_[i]) continue;
    RefResult& r = results[i];
    if (round_min_[i].empty()) {   // alive but never run: the caller's bug, not a result
      r.status = "failed";
      r.stage = "run";
      r.message = "no timed run";
      continue;
    }
    r.status = "ok";
    r.value = Reduce(round_min_[i], value_);
    r.min = *std::min_element(all_reps_[i].begin(), all_reps_[i].end());
    r.max = *std::max_element(all_reps_[i].begin(), all_reps_[i].end());
    r.median = Median(all_reps_[i]);
    r.spread = Spread(round_min_[i], r.value);
    r.rounds = static_cast<int>(round_min_[i].size());
    r.reps = static_cast<int>(all_reps_[i].size());
    nlohmann::json e = extra.is_object() ? extra : nlohmann::json::object();
    e["round_min_ns"] = round_min_[i];
    e["inner"] = inner_[i];
    e["min_rep_ns"] = min_rep_ns_;
    r.extra_json = DumpJson(e);
  }
  return results;
}

}  // namespace simtune::timing
