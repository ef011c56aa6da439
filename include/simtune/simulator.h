// Simulators: instruction-accurate backends (qemu + our plugin, valgrind, spike; gem5 when
// the user has one) that run an artifact once in single-run mode and report statistics for
// the ROI only, as one versioned record.
//
// Lifecycle: Simulators().Create(name, options) -> Available() -> Simulate(artifact, target)
// any number of times, from several threads at once (implementations keep no per-run state).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/build.h"
#include "simtune/registry.h"
#include "simtune/result.h"
#include "simtune/target.h"

namespace simtune {

// Version of the SimStats JSON layout. Bump on any change of meaning; readers reject others.
inline constexpr int kSimStatsSchemaVersion = 1;

// Instruction classes shared by all ISAs (keys of SimStats::classes).
inline const std::vector<std::string> kInsnClasses = {
    "int_alu", "int_muldiv", "fp_scalar", "simd", "load", "store",
    "branch_taken", "branch_not_taken", "jump", "atomic", "other"};

struct CacheStats {
  std::string level;     // "l1i", "l1d", "l2", "l3"
  uint64_t read_hits = 0, read_misses = 0, write_hits = 0, write_misses = 0;
};

// Statistics of the ROI. A field a backend cannot measure is absent (std::nullopt / empty),
// never zero: features must know the difference.
struct SimStats {
  int schema_version = kSimStatsSchemaVersion;
  std::string simulator;                        // "qemu", "valgrind", "spike"
  uint64_t insn_count = 0;                      // instructions retired in the ROI
  std::map<std::string, uint64_t> classes;      // subset of kInsnClasses; empty if unknown
  std::optional<uint64_t> loads, stores, load_bytes, store_bytes;
  std::map<std::string, uint64_t> accesses_by_size;   // "1","2","4","8","16","32"... -> count
  std::vector<CacheStats> caches;
  std::optional<uint64_t> branches, branch_mispredicts;
  std::vector<uint64_t> reuse_log2;             // bucket i: reuse distance in [2^i, 2^(i+1)) lines; last = cold
  nlohmann::json extra = nlohmann::json::object();   // backend-specific

  nlohmann::json ToJson() const;
  // Rejects other schema versions with both versions in the message.
  static Result<SimStats> FromJson(const nlohmann::json& j, const std::string& where);
};

struct SimResult {
  std::string status;     // "ok" | "failed"
  std::string stage;      // failed: "missing-tool" | "run" | "timeout" | "verify" | "parse"
  std::string message;
  SimStats stats;         // valid when ok()
  double wall_s = 0;
  // ok() after a full run that passed the harness's element-wise check under the simulator
  // (an artifact without verified checksums): that run's checksum fields, which verify the
  // artifact (RecordVerifiedChecksums); else "". Not stored.
  std::string checksums;
  bool ok() const { return status == "ok"; }
};

class Simulator {
 public:
  virtual ~Simulator() = default;
  virtual std::string name() const = 0;
  // Canonical options text for the store (identifies comparable runs).
  virtual std::string options_key() const = 0;
  // Whether this backend can run artifacts of `target` (ISA/OS).
  virtual bool Supports(const Target& target) const = 0;
  // Ok when the tools are installed; else an error that says how to install them.
  virtual Status Available(const Target& target) const = 0;
  // Runs once; never throws; failures are results with a stage. Also checks the harness's
  // verify line: a wrong kernel under simulation is a failed "verify" result.
  virtual SimResult Simulate(const Artifact& artifact, const Target& target) const = 0;
  // Whether stored statistics of this simulator came from the configuration `target` gives
  // it now (qemu: the cache geometry and branch predictor its record names). The options
  // key does not hold the target's configuration, so a target file edited since a row was
  // stored would otherwise leave that row looking current: simulate runs it again.
  virtual bool MatchesTarget(const SimStats& /*stats*/, const Target& /*target*/) const {
    return true;
  }
  // The part of a stored record that names the machine configuration it modelled (qemu: its
  // caches and branch predictor), such that MatchesTarget of a record holding only that part
  // gives the same answer; null when the record names none. A trained model keeps the
  // configurations of its training rows, so that ranking statistics of another one is said.
  virtual nlohmann::json Configuration(const SimStats& /*stats*/) const { return nullptr; }
  // The configuration a run for `target` would record (as Configuration gives it); null when
  // none.
  virtual nlohmann::json ConfigurationFor(const Target& /*target*/) const { return nullptr; }
};

using SimulatorRegistry = Registry<Simulator, const std::string& /*options*/>;
// Built-ins: "qemu", "valgrind", "spike", plus "fake" (deterministic, for tests).
SimulatorRegistry& Simulators();

class DerivedFromQemuRun;   // src/simulators/builtin.h

// Several simulators run on one artifact, each result as its own Simulate would give it, but
// one run serves two where it can: mca's statistics are a qemu run that records the block
// profile (tbs=on) plus llvm-mca, so with qemu among the simulators (same timeout and mode)
// qemu runs once, with the profile on, and both results come from that run (qemu's without
// the profile). Saves one emulator start and run per candidate.
class SimulatorSet {
 public:
  // specs: (registry name, options) in the order of the results. Errors as Simulators().Create's.
  // share_runs=false runs each simulator on its own (the reference for tests and benchmarks).
  static Result<std::unique_ptr<SimulatorSet>> Create(
      const std::vector<std::pair<std::string, std::string>>& specs, bool share_runs = true);
  size_t size() const { return sims_.size(); }
  const Simulator& at(size_t i) const { return *sims_.at(i); }
  // Pairs of result indices (base run, derived) that share one run.
  std::vector<std::pair<size_t, size_t>> shared() const;
  // Each simulator supports `target` and finds its tools; the error names the simulator.
  Status CheckTarget(const Target& target) const;
  // Thread-safe like Simulator::Simulate. `wanted` (empty: all): the indices to run, the
  // others' results left empty; a shared run serves a pair only when both are wanted.
  std::vector<SimResult> Simulate(const Artifact& artifact, const Target& target,
                                  const std::vector<size_t>& wanted = {}) const;

 private:
  SimulatorSet() = default;
  struct Shared {
    size_t base = 0, derived = 0;
    const DerivedFromQemuRun* derived_sim = nullptr;   // sims_[derived], as what reads the run
    std::unique_ptr<Simulator> run;   // the base simulator with the profile on; null: the base itself
  };
  std::vector<std::string> names_;   // registry names, as given
  std::vector<std::unique_ptr<Simulator>> sims_;
  std::vector<Shared> shared_;
};

}  // namespace simtune
