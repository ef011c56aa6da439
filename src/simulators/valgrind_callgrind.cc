#include "src/simulators/valgrind_callgrind.h"

#include <algorithm>

#include "simtune/strings.h"

namespace simtune {
namespace {

const std::vector<std::string> kEvents = {"Ir",   "Dr",   "Dw",   "I1mr", "D1mr",
                                          "D1mw", "ILmr", "DLmr", "DLmw", "Bc",
                                          "Bcm",  "Bi",   "Bim"};

// -march values of CPUs with AVX-512 (GCC 12 and 13 spellings).
const std::vector<std::string> kAvx512Arches = {
    "x86-64-v4",      "knl",         "knm",          "skylake-avx512", "cannonlake",
    "icelake-client", "icelake-server", "cascadelake", "cooperlake",   "tigerlake",
    "sapphirerapids", "rocketlake",  "emeraldrapids", "graniterapids", "graniterapids-d",
    "znver4",         "znver5",      "diamondrapids"};

Result<std::vector<uint64_t>> ParseCounts(const std::string& text, const std::string& where) {
  std::vector<uint64_t> out;
  for (const auto& field : Split(Trim(text), ' ')) {
    if (field.empty()) continue;
    auto v = ParseInt(field, where);
    if (!v.ok()) return v.error();
    if (*v < 0) return Error{where + ": negative count " + field};
    out.push_back(static_cast<uint64_t>(*v));
  }
  return out;
}

uint64_t Sub(uint64_t a, uint64_t b) { return a >= b ? a - b : 0; }

}  // namespace

Result<CallgrindDump> ParseCallgrindDump(const std::string& text, const std::string& where) {
  CallgrindDump dump;
  std::vector<std::string> events;
  std::string totals, summary;
  bool have_part = false;
  for (const auto& raw : Split(text, '\n')) {
    std::string line = Trim(raw);
    if (StartsWith(line, "part:")) {
      auto p = ParseInt(Trim(line.substr(5)), where + ": part");
      if (!p.ok()) return p.error();
      dump.part = static_cast<int>(*p);
      have_part = true;
    } else if (StartsWith(line, "desc: Trigger:")) {
      dump.trigger = Trim(line.substr(14));
    } else if (StartsWith(line, "events:")) {
      for (const auto& e : Split(Trim(line.substr(7)), ' '))
        if (!e.empty()) events.push_back(e);
    } else if (StartsWith(line, "totals:")) {
      totals = line.substr(7);
    } else if (StartsWith(line, "summary:")) {
      summary = line.substr(8);
    }
  }
  if (events.empty()) return Error{where + ": no 'events:' line (not a callgrind dump?)"};
  if (!have_part) return Error{where + ": no 'part:' line"};
  if (totals.empty() && summary.empty()) return Error{where + ": no 'totals:' line"};
  SIMTUNE_ASSIGN_OR_RETURN(auto counts,
                           ParseCounts(totals.empty() ? summary : totals, where + ": totals"));
  if (counts.size() > events.size())
    return Error{where + ": totals has " + std::to_string(counts.size()) + " values for " +
                 std::to_string(events.size()) + " events"};
  for (size_t i = 0; i < events.size(); ++i)
    dump.totals[events[i]] = i < counts.size() ? counts[i] : 0;
  return dump;
}

Result<CallgrindDump> SelectRoiDump(const std::vector<CallgrindDump>& dumps) {
  const std::string begin_trigger = "--dump-after=simtune_roi_begin";
  const std::string end_trigger = "--dump-before=simtune_roi_end";
  std::vector<const CallgrindDump*> begins, ends;
  for (const auto& d : dumps) {
    if (d.trigger == begin_trigger) begins.push_back(&d);
    if (d.trigger == end_trigger) ends.push_back(&d);
  }
  if (begins.size() != 1 || ends.size() != 1)
    return Error{"callgrind dumped " + std::to_string(begins.size()) +
                 " times on leaving simtune_roi_begin and " + std::to_string(ends.size()) +
                 " times on entering simtune_roi_end; the harness calls each exactly once "
                 "(artifact stripped, or not built with the simtune harness?)"};
  if (ends[0]->part != begins[0]->part + 1)
    return Error{"callgrind's ROI dump is part " + std::to_string(ends[0]->part) +
                 " but simtune_roi_begin's dump is part " + std::to_string(begins[0]->part) +
                 "; expected consecutive parts"};
  return *ends[0];
}

const CacheLevel* LastLevelCache(const Target& target) {
  const CacheLevel* last = nullptr;
  for (const auto& c : target.caches) {
    if (c.level == "l1i" || c.level == "l1d") continue;
    if (!last || c.size_bytes > last->size_bytes) last = &c;
  }
  return last;
}

Result<std::vector<std::string>> CallgrindCacheArgs(const Target& target) {
  auto find = [&](const std::string& level) -> const CacheLevel* {
    for (const auto& c : target.caches)
      if (c.level == level) return &c;
    return nullptr;
  };
  const CacheLevel* l1i = find("l1i");
  const CacheLevel* l1d = find("l1d");
  const CacheLevel* ll = LastLevelCache(target);
  if (!l1i || !l1d || !ll)
    return Error{"target " + target.name +
                 " must describe l1i, l1d and a last-level cache (l2 or l3) for callgrind's "
                 "cache simulation; it has " +
                 std::to_string(target.caches.size()) + " cache levels"};
  auto geometry = [](const CacheLevel& c) {
    return std::to_string(c.size_bytes) + "," + std::to_string(c.ways) + "," +
           std::to_string(c.line_bytes);
  };
  return std::vector<std::string>{"--I1=" + geometry(*l1i), "--D1=" + geometry(*l1d),
                                  "--LL=" + geometry(*ll)};
}

Result<SimStats> CallgrindStats(const CallgrindDump& roi, const Target& target) {
  for (const auto& e : kEvents)
    if (!roi.totals.count(e))
      return Error{"callgrind dump has no event " + e +
                   " (was it run with --cache-sim=yes --branch-sim=yes?)"};
  const CacheLevel* ll = LastLevelCache(target);
  if (!ll) return Error{"target " + target.name + " has no last-level cache"};
  auto t = [&](const char* e) { return roi.totals.at(e); };

  SimStats s;
  s.simulator = "valgrind";
  s.insn_count = t("Ir");
  s.loads = t("Dr");
  s.stores = t("Dw");
  s.branches = t("Bc") + t("Bi");
  s.branch_mispredicts = t("Bcm") + t("Bim");

  CacheStats l1i{"l1i", Sub(t("Ir"), t("I1mr")), t("I1mr"), 0, 0};
  CacheStats l1d{"l1d", Sub(t("Dr"), t("D1mr")), t("D1mr"), Sub(t("Dw"), t("D1mw")),
                 t("D1mw")};
  uint64_t ll_read_misses = t("ILmr") + t("DLmr");
  CacheStats last{ll->level, Sub(t("I1mr") + t("D1mr"), ll_read_misses), ll_read_misses,
                  Sub(t("D1mw"), t("DLmw")), t("DLmw")};
  s.caches = {l1i, l1d, last};

  s.extra = {{"Bc", t("Bc")},   {"Bcm", t("Bcm")},      {"Bi", t("Bi")},
             {"Bim", t("Bim")}, {"tool", "callgrind"}, {"ll_level", ll->level}};
  return s;
}

std::string Avx512Reason(const Target& target, const std::string& host_cpuinfo) {
  if (target.isa != "x86_64") return "";
  std::string reason;
  bool disabled = false;
  for (const auto& flag : target.cflags) {
    if (flag == "-mno-avx512f") disabled = true;
    if (StartsWith(flag, "-mavx512")) reason = flag;
    if (StartsWith(flag, "-march=")) {
      std::string arch = flag.substr(7);
      if (std::find(kAvx512Arches.begin(), kAvx512Arches.end(), arch) != kAvx512Arches.end())
        reason = flag;
      if (arch == "native") {
        for (const auto& line : Split(host_cpuinfo, '\n')) {
          if (!StartsWith(line, "flags")) continue;
          for (const auto& f : Split(line, ' '))
            if (f == "avx512f") reason = flag + " on a host with avx512f";
          break;
        }
      }
    }
  }
  return disabled ? "" : reason;
}

}  // namespace simtune
