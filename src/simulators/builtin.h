// Registration functions of the built-in simulators, called from Simulators().
#pragma once

#include "simtune/simulator.h"

namespace simtune {
void RegisterQemuSimulator(SimulatorRegistry& registry);
void RegisterValgrindSimulator(SimulatorRegistry& registry);
void RegisterSpikeSimulator(SimulatorRegistry& registry);
void RegisterFakeSimulator(SimulatorRegistry& registry);
void RegisterMcaSimulator(SimulatorRegistry& registry);   // needs "qemu" registered first
}  // namespace simtune
