// Registration functions of the built-in references (called from References()).
#pragma once

#include "simtune/reference.h"

namespace simtune {
void RegisterNativeReference(ReferenceRegistry& registry);
void RegisterRvsimReference(ReferenceRegistry& registry);
void RegisterSshReference(ReferenceRegistry& registry);
}  // namespace simtune
