// Internal to the "mca" simulator (mca.cc): hot translation blocks of a qemu ROI profile,
// their disassembly from the artifact, and llvm-mca's per-block estimate for a core model.
//
//   qemu tbs=on ──ParseTbProfile──> [TbBlock] ──HotBlocks(0.99)──> hot set
//        ──AnalyzeBlocks (llvm-objdump + llvm-mca, cached per block set)──> [BlockCost]
//        ──Combine(execs)──> McaSummary (SimStats extra.mca)
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/result.h"

namespace simtune::mca {

// The LLVM tools used (Debian package llvm-19: scripts/setup installs it). Version 19 has
// the core models the targets name (znver4, sifive-p450) that llvm-14 lacks.
inline constexpr const char* kLlvmMca = "llvm-mca-19";
inline constexpr const char* kLlvmObjdump = "llvm-objdump-19";

struct TbBlock {
  uint64_t addr = 0;     // ELF address of the block's first instruction
  uint32_t insns = 0;    // instructions in the block
  uint64_t execs = 0;    // executions in the ROI
};

// Reads the plugin's extra.tbs record ({"load_bias", "marker_insns", "blocks": [[a, n, e]]}).
// Errors name the field and start with `where`.
Result<std::vector<TbBlock>> ParseTbProfile(const nlohmann::json& tbs, const std::string& where);

// [start, end) of the executable PT_LOAD segments of a 64-bit ELF. Errors: unreadable, not a
// 64-bit ELF.
Result<std::vector<std::pair<uint64_t, uint64_t>>> ExecutableRanges(const std::filesystem::path& elf);

// The blocks that lie in `ranges` (code of the artifact itself, not of a shared library).
std::vector<TbBlock> BlocksInRanges(const std::vector<TbBlock>& blocks,
                                    const std::vector<std::pair<uint64_t, uint64_t>>& ranges);

// The blocks with the most executed instructions (insns x execs) that together cover at
// least `coverage` of `total_insns` (all of them when they cover less), by address.
std::vector<TbBlock> HotBlocks(std::vector<TbBlock> blocks, double coverage, uint64_t total_insns);

// llvm-mca's view of one block repeated back to back.
struct BlockCost {
  double cycles_per_iter = 0;   // TotalCycles / Iterations: the block's steady-state cost
  double rthroughput = 0;       // BlockRThroughput: its bound if no dependency chained iterations
  std::string bound;            // what binds it: a resource group of the model (lower-case,
                                // unit numbers dropped: "zn4fp"), "dispatch" or "dependency"
};

struct BlockAnalysis {
  std::string cpu;                        // the model llvm-mca used (native resolved)
  std::vector<std::string> groups;        // every resource group of that model, sorted
  std::vector<BlockCost> blocks;          // one per block, in the input's order
  bool cached = false;
};

// How many iterations llvm-mca simulates of a block of `insns` instructions: `fixed` when > 0,
// else (auto) kMaxIterations, halved while that would simulate more than kInsnsPerBlock
// instructions, down to no fewer than kMinIterations. A block's pipeline fill and drain is
// spread over every simulated instruction, so a long block needs fewer iterations for the
// same precision: measured on 258 blocks of 20 riscv64 GEMM candidates (sifive-p450), auto
// changes cycles per iteration by 0.15 % on average, 0.93 % at most, against 200 for all,
// and takes 0.58x llvm-mca's time.
inline constexpr int kMaxIterations = 200;
inline constexpr int kMinIterations = 10;
inline constexpr uint64_t kInsnsPerBlock = 8000;
int IterationsFor(uint64_t insns, int fixed);

// Disassembles `blocks` from `elf` (isa "x86_64", "riscv64", "aarch64") and runs llvm-mca
// with -mcpu=`cpu`, one code region per block, once per iteration count (IterationsFor;
// `iterations` 0 = auto). Each run is cached in `cache_dir` (when non-empty) under a key of
// the tools, the cpu, the iterations and the blocks' addresses and sizes, so that llvm-mca
// runs once per artifact and block set. Errors: a tool missing or failing (its message), a
// block the disassembly does not cover.
Result<BlockAnalysis> AnalyzeBlocks(const std::filesystem::path& elf, const std::string& isa,
                                    const std::string& cpu, const std::vector<TbBlock>& blocks,
                                    const std::filesystem::path& cache_dir, double timeout_s,
                                    int iterations = 0);

// The execution-weighted totals (the "mca" record of SimStats::extra):
//   {"cpu", "blocks", "covered_insns", "cycles" = sum execs x cycles_per_iter,
//    "rthroughput_cycles" = sum execs x rthroughput,
//    "bound": {group: share of cycles, for every group + "dispatch" + "dependency"}}
nlohmann::json Combine(const std::vector<TbBlock>& blocks, const BlockAnalysis& analysis);

// Parses llvm-mca -json output for `n_blocks` regions named b0, b1, ... (exposed for tests).
Result<BlockAnalysis> ParseMcaJson(const std::string& text, size_t n_blocks);

}  // namespace simtune::mca
