// Internal to the references that time the harness's `--time <min_rep_ns> <reps>` mode
// ("native" on this host, "ssh" on a board over SSH): the options of the protocol, the
// interleaved schedule, the reading of one timed run and the reduction of rounds to a result.
// native.cc explains the protocol; only how a run is started differs between references.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/process.h"
#include "simtune/reference.h"
#include "simtune/result.h"

namespace simtune::timing {

// How the per-round minima become the one value to rank by. kMin (the default since
// 2026-12-06): the smallest of them. Noise on a shared machine only ever adds time (load,
// interrupts, and the ~1 in 10 processes whose data lands where the kernel runs slower), and
// it can last through several of a candidate's rounds, which the median then reports: on 6000
// fresh x86 candidates measured twice (once under load, once idle) the median's two
// measurements ranked alike at rho 0.972 mean / 0.823 worst, the minimum's at 0.995 / 0.934
// (README, issue 11). kMedian: the median (the protocol before; its rows carry no `value` key).
enum class RoundValue { kMin, kMedian };

struct TimingOptions {
  int rounds = 7;
  int64_t min_rep_ns = 250'000;     // 0.25 ms per timed rep
  int reps = 15;                    // timed reps per round
  bool interleave = true;           // false: all rounds of a candidate back to back
  double timeout_s = 60;            // per timed run
  uint64_t seed = 1;
  RoundValue value = RoundValue::kMin;
};

// The timing keys, for UnknownName lists: interleave, min_rep_ns, reps, rounds, seed, timeout,
// value.
const std::vector<std::string>& TimingOptionNames();

// Parses one timing option into `o`. Returns false when `key` is not a timing key; errors
// (bad value) name `what` ("<reference> reference option <key>").
Result<bool> ParseTimingOption(const std::string& key, const std::string& val,
                               const std::string& what, TimingOptions& o);

// "rounds=7,reps=15,min_rep_ns=250000,value=min" (+ ",interleave=0" when off, ",seed=N"
// for another seed): the part of a reference's options_key that the protocol contributes.
// value=median adds nothing, so that rows stored before the `value` option keep their key.
std::string TimingOptionsKey(const TimingOptions& o);

// The key of the same measurement reduced by the median ("" when `o` already is), whose
// stored rows Rereduce can turn into `o`'s without running anything.
std::string RereducibleKey(const TimingOptions& o);

// `stored` (an ok result of this protocol, its round_min_ns in extra_json) reduced by
// `value`: value and spread recomputed from the same per-round minima; min, median, max,
// rounds and reps as they were; extra_json notes "rereduced_from" (the stored row's value).
Result<RefResult> Rereduce(const RefResult& stored, RoundValue value);

// The harness arguments: {"--time", min_rep_ns, reps}.
std::vector<std::string> TimingArgs(const TimingOptions& o);

// Run order over `n` candidates: `rounds` rounds, each a fresh shuffle (interleaved), or,
// with interleave off, all rounds of candidate 0, then of 1, ...
std::vector<size_t> Schedule(size_t n, const TimingOptions& o);

double Median(std::vector<double> v);

// Parses "simtune: inner=<n> rep_ns=v1,v2,..." from the harness output.
Result<std::vector<double>> ParseTimingLine(const std::string& output, int64_t* inner);

// What one finished timed run says: reps (ok) or a failed stage ("run" | "verify" |
// "timeout") with a one-line message. A wrong result outranks the exit status (the harness
// exits non-zero after printing "verify failed").
struct RunOutcome {
  std::string stage;     // "" when ok
  std::string message;
  std::vector<double> reps;
  int64_t inner = 0;
  bool ok() const { return stage.empty(); }
};
RunOutcome ReadTimedRun(const ProcessResult& p, double timeout_s);

// Collects the rounds of a batch and reduces them to RefResults (unit "ns"): value = the
// minimum (or median) of the per-round minima, spread = (max - min) / value of those minima;
// extra_json gets round_min_ns, inner and min_rep_ns, plus what the reference adds.
class Rounds {
 public:
  Rounds(size_t n, int64_t min_rep_ns, RoundValue value = RoundValue::kMin);
  bool alive(size_t i) const { return alive_[i]; }
  void Fail(size_t i, const std::string& stage, const std::string& message);
  void Add(size_t i, const RunOutcome& outcome);   // a failed outcome fails candidate i
  // Fails every artifact that did not build ("build" stage); returns how many are left.
  size_t FailUnbuilt(const std::vector<Artifact>& batch);
  // Results in batch order; `extra` is merged into every ok result's extra_json.
  std::vector<RefResult> Finish(const nlohmann::json& extra) const;

 private:
  std::vector<RefResult> results_;
  std::vector<std::vector<double>> round_min_, all_reps_;
  std::vector<int64_t> inner_;
  std::vector<bool> alive_;
  int64_t min_rep_ns_;
  RoundValue value_;
};

}  // namespace simtune::timing
