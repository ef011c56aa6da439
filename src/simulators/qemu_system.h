// Internal to the qemu simulator and the verification run (src/build/verify.cc): riscv64
// bare-metal artifacts (the harness built for Spike and rvsim) on qemu-system-riscv64's virt
// machine, with the statistics plugin or plain.
//
// The harness prints on the 16550 UART at 0x10000000, where virt has one too, and exits
// through HTIF (`tohost`), which virt does not model. QEMU therefore runs a copy of the
// artifact whose `_exit` writes its code to virt's SiFive test finisher instead
// ((code << 16) | 0x3333 at 0x100000 ends QEMU with that exit status). Every other byte is
// the artifact's, so the ROI runs the very instructions that Spike and rvsim run. In
// simulation mode simtune_sim_done is replaced too, by a jump to that `_exit` with
// kRoiStopExitCode, as Spike's copy stops there (spike_support.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "simtune/result.h"

namespace simtune {

inline constexpr uint64_t kQemuVirtFinisher = 0x100000;
inline constexpr uint64_t kQemuVirtDramBase = 0x80000000;

struct QemuVirtImage {
  std::string elf;          // the patched file's bytes
  uint64_t ram_bytes = 0;   // DRAM from kQemuVirtDramBase up to the harness's stack top
};

// The copy described above; `stop_at_sim_done`: simulation mode. Errors come from the ELF
// (not RISC-V, damaged, no `_exit`, `__stack` or simtune_sim_done symbol, stack top outside
// virt's DRAM).
Result<QemuVirtImage> PatchElfForQemuVirt(const std::string& elf, bool stop_at_sim_done);

// qemu-system-riscv64's arguments for a run of `elf` (a QemuVirtImage written to a file)
// with the plugin given as `plugin` ("<path>,<options>"; "": none): console on stdout, no
// firmware, no monitor.
std::vector<std::string> QemuVirtArgs(const std::filesystem::path& elf, uint64_t ram_bytes,
                                      const std::string& plugin);

}  // namespace simtune
