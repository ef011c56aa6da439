#include "simtune/reference.h"
#include "src/reference/builtin.h"

namespace simtune {

ReferenceRegistry& References() {
  static ReferenceRegistry* registry = [] {
    auto* r = new ReferenceRegistry("reference");
    RegisterNativeReference(*r);
    RegisterRvsimReference(*r);
    RegisterSshReference(*r);
    return r;
  }();
  return *registry;
}

}  // namespace simtune
