// Internal to src/build: the generated C main ("harness.c") that wraps a KernelSource.
// The contract it implements is documented in include/simtune/build.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "simtune/build.h"
#include "simtune/result.h"
#include "simtune/target.h"
#include "simtune/workload.h"

namespace simtune {

struct Harness {
  std::string c;     // C99 source, "harness.c"
  // The initial contents of the inputs within kHarnessStaticInputBytes (values as
  // simtune_fill computes them, then the guard zone; each padded to 64 bytes), little-endian
  // like every target; the C source pulls it in with .incbin "harness.bin" from the
  // compiler's working directory. Empty when no input is static.
  std::string data;
  // Flags the link needs besides the target's ldflags: on bare metal -nostartfiles (the
  // harness brings its own start-up instead of picolibc's crt0).
  std::vector<std::string> ldflags;
};

// The harness for `source` on `target`. Fails (a "generate" error) when the kernel source is
// malformed: no buffers, no output, non-positive sizes, bad tolerances.
Result<Harness> GenerateHarness(const KernelSource& source, const Target& target);

// The bare-metal part of GenerateHarness's harnesses, for executables whose kernel and main
// simtune did not generate (TVM's code, python/simtune_tvm): console on the UART, exit
// through HTIF, the ROI markers (simtune_roi_begin/_end over mcycle and minstret,
// simtune_print_roi's "simtune: roi ..." line, simtune_touch_tohost, simtune_sim_done), the
// trap handler (simtune_trap_entry) and the start-up (_start, .data and .bss in words, then
// exit(main())). So such an ELF meets Spike, QEMU's virt machine and rvsim as simtune's own
// do. Its main() must point mtvec at simtune_trap_entry. `c` is the source, `ldflags` what the
// link needs besides the target's; `data` stays empty. Fails for anything but riscv64 bare
// metal.
Result<Harness> GenerateBareMetalRuntime(const Target& target);

// Name of Harness::data's file next to harness.c.
inline constexpr const char* kHarnessDataFile = "harness.bin";

// The first n values simtune_fill gives the input at position `buffer` (0-based) of the
// signature, bit for bit.
std::vector<float> HarnessInputValues(int buffer, int64_t n);

}  // namespace simtune
