#include "src/simulators/builtin.h"

namespace simtune {

SimulatorRegistry& Simulators() {
  static SimulatorRegistry* registry = [] {
    auto* r = new SimulatorRegistry("simulator");
    RegisterQemuSimulator(*r);
    RegisterValgrindSimulator(*r);
    RegisterSpikeSimulator(*r);
    RegisterFakeSimulator(*r);
    RegisterMcaSimulator(*r);
    return r;
  }();
  return *registry;
}

}  // namespace simtune
