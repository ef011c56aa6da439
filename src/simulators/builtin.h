// Registration functions of the built-in simulators, called from Simulators().
#pragma once

#include "simtune/simulator.h"

namespace simtune {
void RegisterQemuSimulator(SimulatorRegistry& registry);
void RegisterValgrindSimulator(SimulatorRegistry& registry);
void RegisterSpikeSimulator(SimulatorRegistry& registry);
void RegisterFakeSimulator(SimulatorRegistry& registry);
void RegisterMcaSimulator(SimulatorRegistry& registry);   // needs "qemu" registered first

// A simulator whose statistics are a qemu run with the block profile (tbs=on) plus work of its
// own (mca). SimulatorSet hands it a qemu run it made anyway instead of letting it start one.
class DerivedFromQemuRun {
 public:
  virtual ~DerivedFromQemuRun() = default;
  // The options of its qemu run other than the statistic groups and tbs ("timeout=..,mode=..").
  virtual std::string QemuRunOptions() const = 0;
  // Its result from a qemu run that recorded the profile (a failed run is returned as is).
  // own_run: the run was this simulator's own (its wall time counts in the result's).
  virtual SimResult FromQemuRun(const SimResult& run, const Artifact& artifact, const Target& target,
                                bool own_run) const = 0;
};
}  // namespace simtune
