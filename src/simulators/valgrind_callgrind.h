// Internal to the valgrind simulator: callgrind's command line for a target and the parsing
// of callgrind's dump files into SimStats. Kept apart from the process handling so that
// tests can feed it hand-written dumps.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "simtune/result.h"
#include "simtune/simulator.h"
#include "simtune/target.h"

namespace simtune {

// One callgrind dump file ("callgrind.out.N"): its part number, what triggered it
// ("--dump-before=simtune_roi_end", "Program termination", ...) and its totals per event.
// Events missing from the end of the totals line are 0, as in callgrind's own readers.
struct CallgrindDump {
  int part = 0;
  std::string trigger;
  std::map<std::string, uint64_t> totals;
};

// Parses the header and the "totals:" line (or "summary:" when there is no totals line).
// `where` names the file in messages.
Result<CallgrindDump> ParseCallgrindDump(const std::string& text, const std::string& where);

// Among all dumps of one run, the ROI dump: the one triggered by
// --dump-before=simtune_roi_end, which must come right after the single dump triggered by
// --dump-after=simtune_roi_begin. Errors say what was found instead.
Result<CallgrindDump> SelectRoiDump(const std::vector<CallgrindDump>& dumps);

// The last-level cache that callgrind's LL models: the target's largest level beyond L1
// ("l3" on x86_64-host, else "l2"); nullptr when there is none.
const CacheLevel* LastLevelCache(const Target& target);

// --I1/--D1/--LL arguments from the target's l1i, l1d and last level. Errors when one is
// missing, naming the target.
Result<std::vector<std::string>> CallgrindCacheArgs(const Target& target);

// SimStats of the ROI from the totals of the ROI dump (events Ir Dr Dw I1mr D1mr D1mw ILmr
// DLmr DLmw Bc Bcm Bi Bim). Errors name a missing event.
//   insn_count = Ir, loads = Dr, stores = Dw (data references, as cachegrind counts them: a
//   read-modify-write instruction is one read), branches = Bc + Bi,
//   branch_mispredicts = Bcm + Bim;
//   caches: l1i (reads only), l1d, and the last level under the target's name for it, with
//   read accesses = I1mr + D1mr and write accesses = D1mw (everything that missed L1);
//   classes stays empty (callgrind does not classify instructions);
//   extra: Bc, Bcm, Bi, Bim, "tool": "callgrind", "ll_level": the level name used.
Result<SimStats> CallgrindStats(const CallgrindDump& roi, const Target& target);

// Why valgrind cannot run code built for `target` ("" when it can): valgrind does not
// implement AVX-512, so cflags that enable it (-mavx512*, -march=x86-64-v4 or an AVX-512
// CPU, -march=native on a host with avx512f) are refused. `host_cpuinfo` is the text of
// /proc/cpuinfo (only consulted for -march=native).
std::string Avx512Reason(const Target& target, const std::string& host_cpuinfo);

}  // namespace simtune
