// Targets: an ISA + toolchain + flags + which simulators and references apply, with the
// micro-architectural parameters (caches, branch predictor) that simulators model.
// Described in data files (data/targets/<name>.json), not in code.
//
// File format (JSON, keys checked strictly: an unknown key is an error naming the file):
//   {
//     "name": "riscv64-linux",
//     "description": "...",
//     "isa": "riscv64",                 // x86_64 | riscv64 | aarch64
//     "os": "linux",                    // linux | baremetal
//     "cc": "riscv64-linux-gnu-gcc",
//     "cflags": ["-O3", "-march=rv64gc"],
//     "ldflags": ["-static", "-lm"],
//     "runner": ["qemu-riscv64"],      // prefix to execute an artifact here; [] = native
//     "simulators": ["qemu"],
//     "references": ["native"],
//     "caches": [ {"level": "l1d", "size": 32768, "ways": 8, "line": 64, "policy": "lru"}, ...],
//     "branch_predictor": {"kind": "gshare", "entries": 4096, "history_bits": 12}
//   }
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "simtune/result.h"

namespace simtune {

struct CacheLevel {
  std::string level;     // "l1i", "l1d", "l2", "l3"
  int64_t size_bytes = 0;
  int ways = 0;
  int line_bytes = 0;
  std::string policy = "lru";   // lru | fifo | random
};

struct BranchPredictorConfig {
  std::string kind = "gshare";  // bimodal | gshare
  int entries = 4096;
  int history_bits = 12;
};

struct Target {
  std::string name;
  std::string description;
  std::string isa;
  std::string os;
  std::string cc;
  std::vector<std::string> cflags;
  std::vector<std::string> ldflags;
  std::vector<std::string> runner;
  std::vector<std::string> simulators;
  std::vector<std::string> references;
  std::vector<CacheLevel> caches;
  BranchPredictorConfig branch_predictor;
  std::filesystem::path source;   // the file it was loaded from

  bool baremetal() const { return os == "baremetal"; }
  // The cache level with this name, or nullptr.
  const CacheLevel* Cache(const std::string& level) const;
};

// Loads a target by name (data/targets/<name>.json) or from an explicit path ending in .json.
// Unknown names list the valid ones with a did-you-mean.
Result<Target> LoadTarget(const std::string& name_or_path);
// Parses a target description; `where` names the source in messages.
Result<Target> ParseTarget(const std::string& json_text, const std::string& where);
// Names of the targets in data/targets, sorted.
std::vector<std::string> ListTargets();

}  // namespace simtune
