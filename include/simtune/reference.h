// References: where ground truth comes from: "native" (timing on this host), "ssh" (the
// same timing protocol on a board over SSH), "rvsim" (cycles of an rvsim cycle-level RISC-V
// model). Reference targets (target.h, build_target) say which machine a reference measures
// and give its default options (reference_options). A reference measures a batch of
// artifacts so that it can interleave rounds across candidates; each result carries its noise.
//
// Lifecycle: Create(name, options) -> Measure(batch) any number of times.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "simtune/build.h"
#include "simtune/registry.h"
#include "simtune/result.h"
#include "simtune/target.h"

namespace simtune {

struct RefResult {
  std::string status;     // "ok" | "failed"
  std::string stage;      // failed: "build" | "run" | "verify" | "timeout" | "missing-tool"
  std::string message;
  std::string unit;       // "ns" (per kernel call) or "cycles"
  double value = 0;       // the estimate to rank by: minimum (value=median: median) of the per-round minima
  double min = 0;         // smallest single rep seen
  double median = 0;      // median of all reps
  double max = 0;
  double spread = 0;      // relative noise: (max - min) / value of the per-round minima
  int rounds = 0;
  int reps = 0;           // total timed reps
  std::string extra_json = "{}";  // reference-specific details (per-round minima, inner count)

  bool ok() const { return status == "ok"; }
};

// Options are "key=value" pairs, parsed strictly by each reference.
class Reference {
 public:
  virtual ~Reference() = default;
  virtual std::string name() const = 0;
  // The options that identify a measurement for resume ("rounds=7,min_rep_ns=..."), canonical.
  virtual std::string options_key() const = 0;
  // One result per artifact, same order; failed artifacts get failed results, never a
  // whole-batch error for one bad candidate.
  virtual std::vector<RefResult> Measure(const std::vector<Artifact>& batch,
                                         const Target& target) = 0;
  // Stored results this reference can turn into its own without running anything: the
  // options key of the same runs reduced another way ("" when none; the timing references
  // with value=min take the rows of value=median, which keep their per-round minima), and
  // the conversion of one such ok result. FindStoredRef uses them (measure, estimate, tune),
  // so that a store measured before a change of reduction keeps its measurements.
  // True for references that time wall-clock runs on a machine others share (native, ssh):
  // a slow spell there (seconds long; on this project's VM a kernel that fills l1d ran
  // 1.3-1.6x slower while the core clock did not change) can cover every round of a chunk,
  // so a chunked MeasureAndStore checks each chunk against a control (ChunkControl below).
  virtual bool wall_clock() const { return false; }
  // What a user should know before trusting this reference's results for `target` (native:
  // the target's cache geometry against this host's, CacheGeometryMismatches). Empty: none.
  virtual std::vector<std::string> Warnings(const Target& target) const {
    (void)target;
    return {};
  }
  virtual std::string rereducible_key() const { return ""; }
  virtual Result<RefResult> Rereduce(const RefResult& stored) const {
    (void)stored;
    return Error{"reference " + name() + " cannot reduce stored results again"};
  }
};

// The levels of target.caches whose size or ways differ from this host's as Linux describes
// them under sysfs_cache_dir (index*/level, type, size, ways_of_associativity: for the host,
// /sys/devices/system/cpu/cpu0/cache), one sentence each; empty when they agree or the
// directory is unreadable. The simulators' cache statistics then describe another machine
// than the one the native reference measures.
std::vector<std::string> CacheGeometryMismatches(const Target& target, const std::string& sysfs_cache_dir);

class Store;

// Measures `batch` (the artifacts of `candidate_ids`, same order) on `reference` for `target`
// and stores one row per artifact under the reference's name and options key, failed results
// included. Returns the results in batch order; errors: the store's.
// `chunk` > 0 measures (and stores) the batch in consecutive chunks of that many artifacts,
// so that an interrupted batch keeps every finished chunk; rounds interleave within a chunk
// only. 0 measures the whole batch in the same rounds (comparisons that must share
// conditions, such as verify's). `progress`, when given, is called after each stored chunk
// with the number of artifacts done and the batch size.
//
// Chunks on a wall_clock() reference carry a control: the batch's first artifact that
// measured ok, measured again within every later chunk (interleaved with it, so under the
// same conditions; its result there is not stored). A chunk whose control read more than
// `tolerance` above the batch's fastest control was measured in a slow spell: after the
// batch, such chunks are measured again, up to `passes` more times, and each keeps the attempt
// whose control was fastest (its rows stored again, so they are the latest; the slower
// attempt's rows stay in the store; a candidate that failed only in the faster attempt keeps
// its earlier result). Every stored row of a controlled chunk has
// "control_ratio" (its attempt's control / the fastest control then) in extra_json.
inline constexpr size_t kMeasureChunk = 8;
struct ChunkControl {
  bool enabled = true;
  double tolerance = 0.10;
  int passes = 4;
};
struct ChunkControlReport {
  size_t chunks = 0;            // chunks measured with a control reading
  size_t slow = 0;              // of those, above tolerance on their first attempt
  size_t still_slow = 0;        // above tolerance after the passes
  size_t attempts = 0;          // measurements of a chunk again
  double worst_ratio = 1;       // the slowest first attempt's control / the fastest control
};
Result<std::vector<RefResult>> MeasureAndStore(
    Reference& reference, const std::vector<Artifact>& batch,
    const std::vector<int64_t>& candidate_ids, const Target& target, Store& store,
    size_t chunk = 0, const std::function<void(size_t, size_t)>& progress = nullptr,
    const ChunkControl& control = {}, ChunkControlReport* report = nullptr);

// What `reference` need not run again for the candidate's artifact: its latest ok row under
// the reference's options key, or else the latest ok row of its rereducible_key, reduced by
// `reference` and stored under its own key (rereduced: true); nullopt when the store holds
// neither (or that row cannot be reduced).
struct StoredRef {
  RefResult result;
  bool rereduced = false;
};
Result<std::optional<StoredRef>> FindStoredRef(const Reference& reference, const Target& target,
                                               int64_t candidate_id, const std::string& artifact_hash,
                                               Store& store);

using ReferenceRegistry = Registry<Reference, const std::string& /*options*/>;
// Built-ins: "native", "rvsim", "ssh".
ReferenceRegistry& References();

}  // namespace simtune
