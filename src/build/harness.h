// Internal to src/build: the generated C main ("harness.c") that wraps a KernelSource.
// The contract it implements is documented in include/simtune/build.h.
#pragma once

#include <string>

#include "simtune/build.h"
#include "simtune/result.h"
#include "simtune/target.h"
#include "simtune/workload.h"

namespace simtune {

// C99 source of the harness for `source` on `target`. Fails (a "generate" error) when the
// kernel source is malformed: no buffers, no output, non-positive sizes, bad tolerances.
Result<std::string> GenerateHarness(const KernelSource& source, const Target& target);

}  // namespace simtune
