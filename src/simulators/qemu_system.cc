#include "src/simulators/qemu_system.h"

#include "src/simulators/spike_support.h"

namespace simtune {
namespace {

// Or (R-type) for the exit stub.
uint32_t Or(int rd, int rs1, int rs2) {
  return (static_cast<uint32_t>(rs2) << 20) | (static_cast<uint32_t>(rs1) << 15) | (6u << 12) |
         (static_cast<uint32_t>(rd) << 7) | 0x33;
}

constexpr uint32_t kJumpSelf = 0x0000006f;   // jal x0, 0

}  // namespace

Result<QemuVirtImage> PatchElfForQemuVirt(const std::string& elf, bool stop_at_sim_done) {
  QemuVirtImage image;
  uint64_t stack_top = 0, exit_at = 0;
  // _exit(code): the finisher's "fail" command with the code in bits 16..31; code 0 ends
  // QEMU with status 0 as well.
  auto exit_stub = [&](uint64_t at, const std::map<std::string, uint64_t>& addresses)
      -> Result<std::vector<uint32_t>> {
    stack_top = addresses.at("__stack");
    exit_at = at;
    using namespace rv;
    return std::vector<uint32_t>{Lui(kT0, kQemuVirtFinisher >> 12), Slli(kA0, kA0, 48),
                                 Srli(kA0, kA0, 32),                 Lui(kT1, 0x3),
                                 Addi(kT1, kT1, 0x333),              Or(kA0, kA0, kT1),
                                 Sw(kA0, kT0, 0),                    kJumpSelf};
  };
  SIMTUNE_ASSIGN_OR_RETURN(image.elf, PatchElfFunction(elf, "_exit", {"__stack"}, 32, exit_stub));
  if (stack_top <= kQemuVirtDramBase || stack_top - kQemuVirtDramBase > (uint64_t{1} << 36))
    return Error{"stack top __stack = " + std::to_string(stack_top) +
                 " is not in qemu virt's DRAM (from 0x80000000, at most 64 GiB)"};
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  image.ram_bytes = (stack_top - kQemuVirtDramBase + kMiB - 1) / kMiB * kMiB;
  if (stop_at_sim_done) {
    auto stop_stub = [&](uint64_t at, const std::map<std::string, uint64_t>&)
        -> Result<std::vector<uint32_t>> {
      auto rel = rv::PcRelative(at + 4, exit_at);
      if (!rel) return Error{"_exit is more than 2 GiB away from simtune_sim_done"};
      return std::vector<uint32_t>{rv::Addi(rv::kA0, 0, kRoiStopExitCode),
                                   rv::Auipc(rv::kT0, rel->first),
                                   rv::Jalr(0, rv::kT0, rel->second)};
    };
    SIMTUNE_ASSIGN_OR_RETURN(image.elf,
                             PatchElfFunction(image.elf, "simtune_sim_done", {}, 12, stop_stub));
  }
  return image;
}

std::vector<std::string> QemuVirtArgs(const std::filesystem::path& elf, uint64_t ram_bytes,
                                      const std::string& plugin) {
  std::vector<std::string> argv = {"qemu-system-riscv64", "-M", "virt", "-m",
                                   std::to_string(ram_bytes >> 20) + "M", "-smp", "1", "-bios", "none",
                                   "-display", "none", "-monitor", "none", "-serial", "stdio",
                                   "-kernel", elf.string()};
  if (!plugin.empty()) argv.insert(argv.end(), {"-plugin", plugin});
  return argv;
}

}  // namespace simtune
