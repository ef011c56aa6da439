// Native timing reference for the x86 host.
//
// Protocol (why each step): this VM has no performance counters and a noisy neighbour, so a
// single min-of-N is unstable (~50 % between rounds). We therefore
//  - time `inner` back-to-back kernel calls per rep, with inner chosen by the harness so a
//    rep lasts >= min_rep_ns: the clock's resolution and per-call overheads vanish; reps
//    stay short (0.25 ms) so that, on a loaded machine, some of them fall between
//    interruptions and the minimum finds them;
//  - warm up inside the harness (caches, page faults, frequency) before timing;
//  - optionally pin the child to one CPU (cpu=N; off by default, see NativeOptions::cpu);
//  - run `rounds` rounds, each visiting every candidate in a freshly shuffled order
//    (interleaving): slow drifts of the machine's state hit all candidates alike instead of
//    one candidate's whole measurement;
//  - take the minimum rep within a round (noise only ever adds time), then the median of
//    the per-round minima across rounds (robust to a round that was disturbed throughout).
// The spread we store is (max - min) / median of the per-round minima: the disagreement
// between rounds, which is what decides whether two candidates can be told apart.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "simtune/process.h"
#include "simtune/reference.h"
#include "simtune/strings.h"
#include "src/reference/builtin.h"

namespace simtune {
namespace {

struct NativeOptions {
  int rounds = 7;
  int64_t min_rep_ns = 250'000;     // 0.25 ms per timed rep
  int reps = 15;                    // timed reps per round
  // -2: last CPU of the machine; -1 (default): no pinning. On a shared machine a pinned
  // child cannot escape a busy core: bench/native_noise measured a 167 % median round
  // spread pinned with 2 ms reps against 31 % unpinned with 0.25 ms reps under load.
  int cpu = -1;
  bool interleave = true;           // false: all rounds of a candidate back to back
  double timeout_s = 60;            // per process
  uint64_t seed = 1;
};

Result<NativeOptions> ParseNativeOptions(const std::string& text) {
  NativeOptions o;
  if (Trim(text).empty()) return o;
  for (const auto& item : Split(text, ',')) {
    auto eq = item.find('=');
    if (eq == std::string::npos)
      return Error{"native reference option '" + item + "': expected key=value"};
    std::string key = Trim(item.substr(0, eq)), val = Trim(item.substr(eq + 1));
    std::string what = "native reference option " + key;
    if (key == "rounds" || key == "reps" || key == "cpu" || key == "min_rep_ns" || key == "seed" ||
        key == "interleave") {
      SIMTUNE_ASSIGN_OR_RETURN(int64_t v, ParseInt(val, what));
      bool bad = key == "cpu"          ? v < -1
                 : key == "interleave" ? (v != 0 && v != 1)
                 : (key == "min_rep_ns" || key == "seed") ? v < 0
                                                         : v < 1;
      if (bad)
        return Error{what + ": out of range; got " + val};
      if (key == "rounds") o.rounds = static_cast<int>(v);
      if (key == "reps") o.reps = static_cast<int>(v);
      if (key == "cpu") o.cpu = static_cast<int>(v);
      if (key == "min_rep_ns") o.min_rep_ns = v;
      if (key == "seed") o.seed = static_cast<uint64_t>(v);
      if (key == "interleave") o.interleave = v == 1;
    } else if (key == "timeout") {
      SIMTUNE_ASSIGN_OR_RETURN(double v, ParseDouble(val, what));
      if (v <= 0) return Error{what + ": must be > 0; got " + val};
      o.timeout_s = v;
    } else {
      return UnknownName("native reference option", key,
                         {"cpu", "interleave", "min_rep_ns", "reps", "rounds", "seed", "timeout"});
    }
  }
  return o;
}

double Median(std::vector<double> v) {
  SIMTUNE_CHECK(!v.empty());
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Parses "simtune: inner=<n> rep_ns=v1,v2,..." from the harness output.
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

class NativeReference : public Reference {
 public:
  explicit NativeReference(NativeOptions o) : o_(o) {
    if (o_.cpu == -2) o_.cpu = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)) - 1;
  }
  std::string name() const override { return "native"; }
  std::string options_key() const override {
    return "rounds=" + std::to_string(o_.rounds) + ",reps=" + std::to_string(o_.reps) +
           ",min_rep_ns=" + std::to_string(o_.min_rep_ns) + (o_.interleave ? "" : ",interleave=0") +
           (o_.cpu >= 0 ? ",cpu=" + std::to_string(o_.cpu) : "");
  }

  std::vector<RefResult> Measure(const std::vector<Artifact>& batch,
                                 const Target& target) override {
    std::vector<RefResult> results(batch.size());
    std::vector<std::vector<double>> round_min(batch.size()), all_reps(batch.size());
    std::vector<int64_t> inner(batch.size(), 0);
    std::vector<bool> alive(batch.size(), true);
    for (size_t i = 0; i < batch.size(); ++i) {
      results[i].unit = "ns";
      if (!batch[i].ok()) {
        Fail(results[i], alive, i, "build", "artifact did not build: " + batch[i].message);
      } else if (!target.runner.empty() || target.baremetal()) {
        Fail(results[i], alive, i, "run",
             "native reference cannot run target '" + target.name + "' artifacts on this host");
      }
    }
    std::mt19937_64 rng(o_.seed);
    std::vector<size_t> order(batch.size());
    std::iota(order.begin(), order.end(), 0);
    ProcessOptions popt;
    popt.timeout_s = o_.timeout_s;
    popt.cpu = o_.cpu;
    // Interleaved: round-major, shuffled per round. Otherwise candidate-major (the naive
    // protocol, kept for comparison experiments).
    std::vector<size_t> schedule;
    for (int round = 0; round < o_.rounds; ++round) {
      std::shuffle(order.begin(), order.end(), rng);
      schedule.insert(schedule.end(), order.begin(), order.end());
    }
    if (!o_.interleave) std::stable_sort(schedule.begin(), schedule.end());
    {
      for (size_t i : schedule) {
        if (!alive[i]) continue;
        auto proc = RunProcess({batch[i].elf.string(), "--time", std::to_string(o_.min_rep_ns),
                                std::to_string(o_.reps)},
                               popt);
        if (!proc.ok()) {
          Fail(results[i], alive, i, "run", proc.message());
          continue;
        }
        if (proc->timed_out) {
          Fail(results[i], alive, i, "timeout", proc->Describe(o_.timeout_s));
          continue;
        }
        // A wrong result outranks the exit status: the harness exits non-zero after it.
        std::string output = proc->out + proc->err;
        std::string verify = CheckVerifyLine(output);
        bool said_failed = output.find("simtune: verify failed") != std::string::npos;
        if (proc->signal != 0 || (!proc->Success() && !said_failed)) {
          Fail(results[i], alive, i, "run", proc->Describe(o_.timeout_s));
          continue;
        }
        if (!verify.empty()) {
          Fail(results[i], alive, i, "verify", verify);
          continue;
        }
        auto reps = ParseTimingLine(proc->out, &inner[i]);
        if (!reps.ok()) {
          Fail(results[i], alive, i, "run", reps.message());
          continue;
        }
        round_min[i].push_back(*std::min_element(reps->begin(), reps->end()));
        all_reps[i].insert(all_reps[i].end(), reps->begin(), reps->end());
      }
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!alive[i]) continue;
      RefResult& r = results[i];
      r.status = "ok";
      r.value = Median(round_min[i]);
      r.min = *std::min_element(all_reps[i].begin(), all_reps[i].end());
      r.max = *std::max_element(all_reps[i].begin(), all_reps[i].end());
      r.median = Median(all_reps[i]);
      auto [lo, hi] = std::minmax_element(round_min[i].begin(), round_min[i].end());
      r.spread = r.value > 0 ? (*hi - *lo) / r.value : 0;
      r.rounds = static_cast<int>(round_min[i].size());
      r.reps = static_cast<int>(all_reps[i].size());
      nlohmann::json extra;
      extra["round_min_ns"] = round_min[i];
      extra["inner"] = inner[i];
      extra["cpu"] = o_.cpu;
      extra["min_rep_ns"] = o_.min_rep_ns;
      r.extra_json = extra.dump();
    }
    return results;
  }

 private:
  static void Fail(RefResult& r, std::vector<bool>& alive, size_t i, const std::string& stage,
                   const std::string& message) {
    r.status = "failed";
    r.stage = stage;
    r.message = message;
    alive[i] = false;
  }
  NativeOptions o_;
};

}  // namespace

void RegisterNativeReference(ReferenceRegistry& registry) {
  registry.Register(
      "native",
      "times artifacts on this host: interleaved rounds of short reps, median of per-round minima",
      [](const std::string& options) -> Result<std::unique_ptr<Reference>> {
        SIMTUNE_ASSIGN_OR_RETURN(NativeOptions o, ParseNativeOptions(options));
        return std::unique_ptr<Reference>(new NativeReference(o));
      });
}

}  // namespace simtune
