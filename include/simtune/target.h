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
//     "branch_predictor": {"kind": "gshare", "entries": 4096, "history_bits": 12},
//     "core": {"width": 3, "window": 72, "mispredict": 12, "latency": {...}},  // CoreConfig
//     "reference_options": {"rvsim": "model=p550"}   // per reference: default options
//   }
//
// Reference targets. A target that only changes where artifacts run or how they are measured
// (the same RISC-V ELF on Spike and on an rvsim model of a P550, the same x86 binary on this
// host and on a second machine) names the target it builds as:
//     "build_target": "riscv64-baremetal"
// It then must not set isa, os, cc, cflags, ldflags or runner: those are copied from the
// build target (which may not itself have a build_target), and the Builder generates the
// harness under the build target's name, so building a candidate for either target yields
// byte-identical sources, the same artifact hash and the same cached ELF. Everything else
// (description, simulators, references, caches, branch_predictor, core, reference_options) is the
// reference target's own: its caches describe the machine that measures, so a simulator run
// for it models that machine's caches. Rows in the store are kept under the reference
// target's name; the shared artifact hash ties them to the build target's rows.
//
// "reference_options" gives a reference's default options for this target (keys must be
// listed in "references"); options given to the reference on the command line override
// them key by key (see MergeReferenceOptions).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
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

// The statistics' branch predictor (QEMU's plugin models it): bimodal, gshare (entries
// counters, history_bits of global history), or tournament (the Alpha 21264's, as gem5's
// and rvsim's: global and choice counters, `entries` of each, indexed by the global history;
// local counters indexed by each branch's own history from a table of local_entries), or
// tage (a bimodal base of `entries` and `tables` tagged tables of tagged_entries, global
// histories geometric from 4 to max_history bits: what today's x86 cores use).
//     {"kind": "tournament", "entries": 8192, "local_entries": 2048, "local_counters": 2048}
//     {"kind": "tage", "entries": 4096, "tagged_entries": 1024, "tables": 7, "max_history": 256}
struct BranchPredictorConfig {
  std::string kind = "gshare";  // bimodal | gshare | tournament | tage
  int entries = 4096;
  int history_bits = 12;
  int local_entries = 0;        // tournament only
  int local_counters = 0;       // tournament only
  int tagged_entries = 0;       // tage only
  int tables = 0;               // tage only
  int max_history = 0;          // tage only
};

// The core as the QEMU plugin's dependency timing models see it (qemu option dep=on,
// riscv64): dispatch width, issue width (the out-of-order model's instructions that start a
// cycle, all units together; 0: the dispatch width), instruction window, branch mispredict
// penalty in cycles, and latencies in cycles by kind (alu mul div fp fdiv fmov branch store;
// l1 l2 l3 mem: a load served by that level, load-to-use; drain: cycles a retired store takes
// to leave the store buffer, in order), the store buffer's and load queue's entries, and the
// out-of-order model's functional units, how many of each start an instruction a cycle (alu
// mul div fadd fmul fma fdiv branch load store; fadd also runs the FP moves and conversions;
// 0: unlimited). A target file's "core" sets any of them:
//     "core": {"width": 3, "window": 72, "mispredict": 12, "latency": {"mul": 3, "l1": 3},
//              "units": {"alu": 3, "fma": 1}}
// and the rest keep these defaults.
struct CoreConfig {
  int width = 4;
  int issue = 0;          // 0: width
  int window = 64;
  int mispredict = 10;
  int store_buffer = 0;   // entries a store holds from dispatch until drained; 0: no limit
  int load_queue = 0;     // entries a load holds from dispatch until it retires (out-of-order
                          // model); 0: no limit
  bool fetch_next_line = false;   // l1i's next-line prefetcher: a missed line's successor comes
                                  // with it, so of consecutive missed lines every other one
                                  // stalls fetch (a miss stalls it for the level's extra latency)
  // Instructions fetch delivers a cycle (out-of-order model), all from one l1i line, a group
  // ending after a taken branch; a 4-byte instruction straddling two lines costs a group
  // more (rvsim 2.1's front end). 0: fetch limits nothing but its l1i-miss stalls.
  // "core": {"fetch_width": 3}.
  int fetch_width = 0;
  // The in-order model fetches one instruction a cycle, from one l1i line: a 4-byte
  // instruction straddling two lines costs a cycle more unless the line of its first half was
  // the one fetched just before; fetch runs a few cycles ahead, so the cost shows where the
  // back end keeps pace (rvsim 2.1's in-order front end, Rocket: a memset byte loop whose
  // store straddles takes 5 cycles an iteration instead of 4). "core": {"inorder_fetch": true}.
  bool inorder_fetch = false;
  bool fetch_stalls = true;       // an l1i miss stalls the front end (the kernel runs once, cold,
                                  // as on rvsim); false: never (a reference that times warm
                                  // repetitions, as x86_64-host's native one does)
  bool forward = true;    // a load of bytes in the store buffer gets them at once; false:
                          // only once the store has drained (with a store buffer)
  // Cycles a store split across two cache lines ("line") or two 4 KiB pages ("page") holds
  // the store buffer's drain beyond an ordinary one (with a store buffer); 0: none. A target
  // file's "core": {"split_store": {"line": 1, "page": 33}}.
  int split_store_line = 0;
  int split_store_page = 0;
  // Cycles dispatch stalls after an x86 masked store (vmaskmovps, vpmaskmovd to memory:
  // microcoded on AMD cores); 0: none. "core": {"masked_store": 11}.
  int masked_store = 0;
  // Load-unit slots a load across two l1d lines (or pages) takes beyond its own (Zen 4: 1, a
  // split load issues at half the rate: bench/split_load_probe.c); 0: none.
  // "core": {"split_load": 1}.
  int split_load = 0;
  // Cycles dispatch stalls after an x86 masked load whose vector runs into a 4 KiB page the
  // program has not touched (its lanes there off: a microcode assist every time on Zen 4, as
  // the page never comes in); 0: none, and QEMU tracks no pages. "core": {"masked_load_page":
  // 400}.
  int masked_load_page = 0;
  // Cycles one l1d line fill holds the path from l2 (loads that missed l1d get their lines one
  // every that many cycles; Zen 4: 2, 32 bytes a cycle); 0: no limit. "core": {"l1_fill": 2}.
  int l1_fill = 0;
  // Load-to-use of a load that store-to-load forwarding serves (its bytes still in the store
  // buffer), integer and FP/vector destinations; -1: the served level's latency, as any load.
  // "core": {"forward_latency": {"int": 0, "fp": 9}}.
  int forward_latency_int = -1;
  int forward_latency_fp = -1;
  // Load-to-use of a load that forwarding cannot serve: stores in the store buffer hold some
  // of its bytes, but no one store all of them (several narrower stores, or one holding part
  // of the load); -1: as any load. "core": {"forward_fail": {"int": 18, "fp": 20}}.
  int forward_fail_int = -1;
  int forward_fail_fp = -1;
  // A load forwarding cannot serve waits until those stores have drained, then reads the
  // cache; what comes after it goes on (rvsim's store buffer). Overrides forward_fail.
  // "core": {"forward_fail_drain": true}.
  bool forward_fail_drain = false;
  // Latency of FP adds (and the other operations on the adders: min, max, compares,
  // conversions) and of FP multiplies, when they differ from latency "fp", which fused
  // multiply-adds keep; -1: "fp". "core": {"latency": {"fp": 4, "fadd": 3, "fmul": 3}}
  // (Zen 4, bench/fp_latency_probe.c).
  int lat_fadd = -1;
  int lat_fmul = -1;
  std::map<std::string, int> latency = {{"drain", 1},  {"alu", 1},   {"mul", 3},   {"div", 20},
                                        {"fp", 4},     {"fdiv", 15}, {"fmov", 2},
                                        {"branch", 1}, {"store", 1}, {"l1", 3},
                                        {"l2", 12},    {"l3", 40},   {"mem", 150}};
  std::map<std::string, int> units = {{"alu", 2},  {"mul", 1},  {"div", 1},    {"fadd", 1},
                                      {"fmul", 1}, {"fma", 1},  {"fdiv", 1},   {"branch", 1},
                                      {"load", 1}, {"store", 1}};
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
  CoreConfig core;
  std::string build_target;       // "": builds as itself; else the target it builds as
  std::map<std::string, std::string> reference_options;   // reference -> default options
  // llvm-mca's -mcpu for the target's core (the "mca" simulator): a name `llc -mcpu=help`
  // lists for the isa, or "native" (the host's own, resolved by LLVM); empty = none.
  std::string mca_cpu;
  // The clock of the machine the target's reference measures, in Hz (0: not given): turns a
  // cycle count into seconds (`estimate --clock-hz` and the TVM runner default to it). The
  // rvsim targets give their model's clock.
  double clock_hz = 0;
  // The reference times repeated calls (native): QEMU's simulation, one call, starts the
  // kernel's own static buffers (kernel.c's local data objects) warm in its caches, as the
  // calls before would have left them, instead of touching them for the first time in the
  // ROI. "warm_statics": true.
  bool warm_statics = false;
  std::filesystem::path source;   // the file it was loaded from

  bool baremetal() const { return os == "baremetal"; }
  // The cache level with this name, or nullptr.
  const CacheLevel* Cache(const std::string& level) const;
  // The name artifacts are built under: build_target when set, else name.
  const std::string& BuildName() const { return build_target.empty() ? name : build_target; }
};

// "key=value,..." options for reference `reference` on `target`: the target's
// reference_options for it, with each key given in `given` replacing the target's value (and
// keys only in `given` appended). Items without '=' are kept as they are, for the reference's
// own parser to reject.
std::string MergeReferenceOptions(const Target& target, const std::string& reference,
                                  const std::string& given);

// Loads a target by name (data/targets/<name>.json) or from an explicit path ending in .json.
// Unknown names list the valid ones with a did-you-mean.
Result<Target> LoadTarget(const std::string& name_or_path);
// Parses a target description; `where` names the source in messages.
Result<Target> ParseTarget(const std::string& json_text, const std::string& where);
// Names of the targets in data/targets, sorted.
std::vector<std::string> ListTargets();

}  // namespace simtune
