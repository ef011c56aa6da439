#include "src/simulators/mca_support.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include <elf.h>
#include <unistd.h>

#include <cstring>

#include "simtune/build.h"
#include "simtune/files.h"
#include "simtune/process.h"
#include "simtune/strings.h"

namespace simtune::mca {
namespace {

using nlohmann::json;

// Longest instruction of the isa, to bound a block's bytes from its instruction count.
uint64_t MaxInsnBytes(const std::string& isa) { return isa == "x86_64" ? 15 : 4; }

std::string Triple(const std::string& isa) {
  if (isa == "x86_64") return "x86_64-linux-gnu";
  if (isa == "riscv64") return "riscv64-linux-gnu";
  return "aarch64-linux-gnu";
}

// Extensions llvm-mca must accept whatever -mcpu says: every riscv64 target compiles for
// rv64gc, and LLVM's rocket-rv64 enables no F or D, so its FP instructions were skipped as
// unsupported (-skip-unsupported-instructions) and cost nothing.
std::string Mattr(const std::string& isa) { return isa == "riscv64" ? "+m,+a,+f,+d,+c" : ""; }

std::string Hex(uint64_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

// "Zn4FP45.\x01" -> "zn4fp", "SiFive7PipeA" -> "sifive7pipea": a resource's group, the units
// of one kind merged.
std::string GroupOf(std::string name) {
  if (auto dot = name.find('.'); dot != std::string::npos) name.resize(dot);
  while (!name.empty() && std::isdigit(static_cast<unsigned char>(name.back()))) name.pop_back();
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

// One instruction per address from llvm-objdump's output ("  1a80:      \tpushq\t%rbp"),
// as assembly llvm-mca reads back: comments dropped, "0x1b3d <f+0xbd>" targets replaced by
// `label` (llvm-mca ignores control flow; a symbol keeps the instruction parseable).
std::map<uint64_t, std::string> ParseObjdump(const std::string& text) {
  static const std::regex line_re(R"(^\s*([0-9a-f]+):\s+(.*)$)");
  static const std::regex target_re(R"((0x)?[0-9a-f]+ <[^>]*>)");
  std::map<uint64_t, std::string> out;
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (!std::regex_match(line, m, line_re)) continue;
    std::string insn = m[2].str();
    insn = std::regex_replace(insn, target_re, "@TARGET@");
    for (const char* comment : {"#", "//"})
      if (auto c = insn.find(comment); c != std::string::npos) insn.resize(c);
    insn = Trim(insn);
    if (insn.empty() || insn.find("<unknown>") != std::string::npos) continue;
    out[std::stoull(m[1].str(), nullptr, 16)] = insn;
  }
  return out;
}

Result<std::string> RunTool(const std::vector<std::string>& argv, double timeout_s) {
  ProcessOptions o;
  o.timeout_s = timeout_s;
  o.max_output_bytes = 64 << 20;
  SIMTUNE_ASSIGN_OR_RETURN(ProcessResult p, RunProcess(argv, o));
  if (!p.Success()) {
    std::string err = Trim(p.err);
    if (err.size() > 600) err = err.substr(0, 600) + "...";
    return Error{argv[0] + " " + p.Describe(timeout_s) + ": " + err};
  }
  return p.out;
}

// Address -> instruction text for every block, from as few llvm-objdump runs as the blocks'
// address clusters need.
Result<std::vector<std::vector<std::string>>> Disassemble(const std::filesystem::path& elf,
                                                          const std::string& isa,
                                                          const std::vector<TbBlock>& blocks,
                                                          double timeout_s) {
  std::vector<size_t> order(blocks.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return blocks[a].addr < blocks[b].addr; });
  std::map<uint64_t, std::string> insns;
  const uint64_t max_bytes = MaxInsnBytes(isa);
  for (size_t i = 0; i < order.size();) {
    uint64_t start = blocks[order[i]].addr;
    uint64_t stop = start + blocks[order[i]].insns * max_bytes;
    size_t j = i + 1;
    while (j < order.size() && blocks[order[j]].addr <= stop + 4096) {
      stop = std::max(stop, blocks[order[j]].addr + blocks[order[j]].insns * max_bytes);
      ++j;
    }
    SIMTUNE_ASSIGN_OR_RETURN(std::string text,
                             RunTool({kLlvmObjdump, "-d", "--no-show-raw-insn",
                                      "--start-address=" + Hex(start),
                                      "--stop-address=" + Hex(stop), elf.string()},
                                     timeout_s));
    auto part = ParseObjdump(text);
    insns.insert(part.begin(), part.end());
    i = j;
  }
  std::vector<std::vector<std::string>> out;
  for (const auto& b : blocks) {
    auto it = insns.find(b.addr);
    std::vector<std::string> body;
    for (; it != insns.end() && body.size() < b.insns; ++it) body.push_back(it->second);
    if (body.size() != b.insns)
      return Error{"elf '" + elf.string() + "': disassembly of the block at " + Hex(b.addr) +
                   " has " + std::to_string(body.size()) + " of its " + std::to_string(b.insns) +
                   " instructions"};
    out.push_back(std::move(body));
  }
  return out;
}

BlockCost CostOf(const json& region, const std::vector<std::string>& resources) {
  BlockCost c;
  const json& summary = region.at("SummaryView");
  const double iterations = std::max(1.0, summary.at("Iterations").get<double>());
  c.cycles_per_iter = summary.at("TotalCycles").get<double>() / iterations;
  c.rthroughput = summary.at("BlockRThroughput").get<double>();
  const double uops = summary.at("TotaluOps").get<double>() / iterations;
  const double width = std::max(1.0, summary.at("DispatchWidth").get<double>());
  // Cycles per iteration on each resource unit, then the busiest unit of each group.
  std::map<size_t, double> unit;
  if (region.contains("ResourcePressureView"))
    for (const auto& e : region["ResourcePressureView"].at("ResourcePressureInfo"))
      unit[e.at("ResourceIndex").get<size_t>()] += e.at("ResourceUsage").get<double>();
  std::string best;
  double best_pressure = 0;
  for (const auto& [index, pressure] : unit) {
    if (index >= resources.size()) continue;
    if (pressure > best_pressure) {
      best_pressure = pressure;
      best = GroupOf(resources[index]);
    }
  }
  const double dispatch = uops / width;
  const double throughput_bound = std::max(best_pressure, dispatch);
  // Iterations take clearly longer than any resource needs: a dependency chain (loop-carried
  // through the repeated block) sets the pace.
  if (c.cycles_per_iter > 1.25 * throughput_bound || best.empty()) c.bound = "dependency";
  else if (dispatch >= best_pressure) c.bound = "dispatch";
  else c.bound = best;
  return c;
}

}  // namespace

Result<std::vector<TbBlock>> ParseTbProfile(const json& tbs, const std::string& where) {
  if (!tbs.is_object() || !tbs.contains("blocks") || !tbs["blocks"].is_array())
    return Error{where + ": extra.tbs has no \"blocks\" list (run qemu with tbs=on)"};
  std::vector<TbBlock> out;
  const json& blocks = tbs["blocks"];
  for (size_t i = 0; i < blocks.size(); ++i) {
    const json& b = blocks[i];
    if (!b.is_array() || b.size() != 3 || !b[0].is_number_unsigned() ||
        !b[1].is_number_unsigned() || !b[2].is_number_unsigned())
      return Error{where + ": extra.tbs.blocks[" + std::to_string(i) +
                   "]: expected [address, instructions, executions]; got " + b.dump()};
    out.push_back({b[0].get<uint64_t>(), b[1].get<uint32_t>(), b[2].get<uint64_t>()});
  }
  return out;
}

Result<std::vector<std::pair<uint64_t, uint64_t>>> ExecutableRanges(const std::filesystem::path& elf) {
  std::ifstream in(elf, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!in.read(reinterpret_cast<char*>(&eh), sizeof eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64)
    return Error{"elf '" + elf.string() + "': not a readable 64-bit ELF file"};
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (uint16_t i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph{};
    in.seekg(static_cast<std::streamoff>(eh.e_phoff + uint64_t{i} * eh.e_phentsize));
    if (!in.read(reinterpret_cast<char*>(&ph), sizeof ph))
      return Error{"elf '" + elf.string() + "': program header " + std::to_string(i) + " is cut short"};
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) out.push_back({ph.p_vaddr, ph.p_vaddr + ph.p_memsz});
  }
  return out;
}

std::vector<TbBlock> BlocksInRanges(const std::vector<TbBlock>& blocks,
                                    const std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
  std::vector<TbBlock> out;
  for (const auto& b : blocks)
    for (const auto& [lo, hi] : ranges)
      if (b.addr >= lo && b.addr < hi) {
        out.push_back(b);
        break;
      }
  return out;
}

std::vector<TbBlock> HotBlocks(std::vector<TbBlock> blocks, double coverage, uint64_t total_insns) {
  std::stable_sort(blocks.begin(), blocks.end(), [](const TbBlock& a, const TbBlock& b) {
    return a.insns * a.execs > b.insns * b.execs;
  });
  const double want = coverage * static_cast<double>(total_insns);
  double covered = 0;
  size_t n = 0;
  while (n < blocks.size() && covered < want) {
    covered += static_cast<double>(blocks[n].insns * blocks[n].execs);
    ++n;
  }
  blocks.resize(n);
  std::sort(blocks.begin(), blocks.end(), [](const TbBlock& a, const TbBlock& b) {
    return a.addr < b.addr || (a.addr == b.addr && a.insns < b.insns);
  });
  return blocks;
}

Result<BlockAnalysis> ParseMcaJson(const std::string& text, size_t n_blocks) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Error{std::string(kLlvmMca) + " -json output is not JSON: " + text.substr(0, 200)};
  BlockAnalysis a;
  try {
    a.cpu = j.at("TargetInfo").at("CPUName").get<std::string>();
    std::vector<std::string> resources = j["TargetInfo"].value("Resources", std::vector<std::string>{});
    std::set<std::string> groups;
    for (const auto& r : resources) groups.insert(GroupOf(r));
    a.groups.assign(groups.begin(), groups.end());
    a.blocks.resize(n_blocks);
    std::vector<bool> seen(n_blocks, false);
    for (const auto& region : j.at("CodeRegions")) {
      std::string name = region.at("Name").get<std::string>();
      if (name.size() < 2 || name[0] != 'b') continue;
      size_t i = std::stoul(name.substr(1));
      if (i >= n_blocks) continue;
      a.blocks[i] = CostOf(region, resources);
      seen[i] = true;
    }
    for (size_t i = 0; i < n_blocks; ++i)
      if (!seen[i]) return Error{std::string(kLlvmMca) + " reported no region b" + std::to_string(i)};
  } catch (const std::exception& e) {
    return Error{std::string(kLlvmMca) + " -json output lacks what simtune reads: " + e.what()};
  }
  return a;
}

int IterationsFor(uint64_t insns, int fixed) {
  if (fixed > 0) return fixed;
  int it = kMaxIterations;
  while (it / 2 >= kMinIterations && insns * static_cast<uint64_t>(it) > kInsnsPerBlock) it /= 2;
  return it;
}

namespace {

// One llvm-mca run over `blocks` (regions b0, b1, ... in their order) with `iterations`,
// cached in `cache_dir` (when non-empty) as llvm-mca's own output; `bodies` is filled by the
// first run that misses its cache (one disassembly for all of the artifact's runs).
Result<BlockAnalysis> AnalyzeRun(const std::filesystem::path& elf, const std::string& isa,
                                 const std::string& cpu, const std::vector<TbBlock>& all,
                                 const std::vector<size_t>& which, int iterations,
                                 const std::filesystem::path& cache_dir, double timeout_s,
                                 std::optional<std::vector<std::vector<std::string>>>& bodies) {
  std::string key_text = std::string(kLlvmMca) + "|" + isa + "|" + cpu + "|" + Mattr(isa) +
                         "|iterations=" + std::to_string(iterations);
  for (size_t i : which)
    key_text += "|" + std::to_string(all[i].addr) + ":" + std::to_string(all[i].insns);
  const std::string key = Sha256Hex(key_text).substr(0, 16);
  const std::filesystem::path cache_file =
      cache_dir.empty() ? std::filesystem::path() : cache_dir / ("mca-" + key + ".json");
  if (!cache_file.empty()) {
    if (std::optional<std::string> text = ReadWholeFile(cache_file)) {
      auto a = ParseMcaJson(*text, which.size());
      if (a.ok()) {
        a->cached = true;
        return a;
      }
    }
  }
  if (!bodies) {
    SIMTUNE_ASSIGN_OR_RETURN(auto b, Disassemble(elf, isa, all, timeout_s));
    bodies = std::move(b);
  }
  std::ostringstream s;
  for (size_t k = 0; k < which.size(); ++k) {
    const std::string label = ".Lsimtune_b" + std::to_string(k);
    s << "# LLVM-MCA-BEGIN b" << k << "\n" << label << ":\n";
    for (std::string insn : (*bodies)[which[k]]) {
      for (size_t p; (p = insn.find("@TARGET@")) != std::string::npos;) insn.replace(p, 8, label);
      s << insn << "\n";
    }
    s << "# LLVM-MCA-END b" << k << "\n";
  }
  // llvm-mca reads the assembly from a file; the artifact folder keeps it beside the cache.
  std::filesystem::path dir = cache_dir.empty() ? std::filesystem::temp_directory_path() : cache_dir;
  std::filesystem::path asm_path = dir / ("mca-" + key + "." + std::to_string(::getpid()) + ".s");
  {
    std::ofstream out(asm_path);
    out << s.str();
    if (!out) return Error{"cannot write " + asm_path.string()};
  }
  std::vector<std::string> argv = {kLlvmMca, "-mtriple=" + Triple(isa), "-mcpu=" + cpu};
  if (!Mattr(isa).empty()) argv.push_back("-mattr=" + Mattr(isa));
  // The instruction-info view is not read: leaving it out makes the output ~2.5x smaller.
  for (const char* a : {"-json", "-instruction-info=false", "-skip-unsupported-instructions=any"})
    argv.push_back(a);
  argv.push_back("-iterations=" + std::to_string(iterations));
  argv.push_back(asm_path.string());
  auto text = RunTool(argv, timeout_s);
  std::error_code ec;
  if (!text.ok()) {
    // Kept for the user to look at: the message names it.
    return Error{text.message() + " (input: " + asm_path.string() + ")"};
  }
  std::filesystem::remove(asm_path, ec);
  SIMTUNE_ASSIGN_OR_RETURN(BlockAnalysis a, ParseMcaJson(*text, which.size()));
  if (!cache_file.empty()) {
    std::filesystem::path tmp = cache_file.string() + "." + std::to_string(::getpid());
    std::ofstream out(tmp);
    out << *text;
    out.close();
    if (out) std::filesystem::rename(tmp, cache_file, ec);
    else std::filesystem::remove(tmp, ec);
  }
  return a;
}

}  // namespace

Result<BlockAnalysis> AnalyzeBlocks(const std::filesystem::path& elf, const std::string& isa,
                                    const std::string& cpu, const std::vector<TbBlock>& blocks,
                                    const std::filesystem::path& cache_dir, double timeout_s,
                                    int iterations) {
  std::map<int, std::vector<size_t>> runs;
  for (size_t i = 0; i < blocks.size(); ++i) runs[IterationsFor(blocks[i].insns, iterations)].push_back(i);
  BlockAnalysis out;
  out.blocks.resize(blocks.size());
  out.cached = true;
  std::optional<std::vector<std::vector<std::string>>> bodies;
  for (const auto& [n, which] : runs) {
    SIMTUNE_ASSIGN_OR_RETURN(BlockAnalysis a,
                             AnalyzeRun(elf, isa, cpu, blocks, which, n, cache_dir, timeout_s, bodies));
    out.cpu = a.cpu;
    out.groups = a.groups;
    out.cached = out.cached && a.cached;
    for (size_t k = 0; k < which.size(); ++k) out.blocks[which[k]] = a.blocks[k];
  }
  if (blocks.empty()) {
    // Nothing to analyse: one empty run still names the model and its resource groups.
    SIMTUNE_ASSIGN_OR_RETURN(out, AnalyzeRun(elf, isa, cpu, blocks, {}, kMaxIterations, cache_dir,
                                             timeout_s, bodies));
  }
  return out;
}

json Combine(const std::vector<TbBlock>& blocks, const BlockAnalysis& analysis) {
  double cycles = 0, rthroughput = 0, covered = 0;
  std::map<std::string, double> bound;
  for (const auto& g : analysis.groups) bound[g] = 0;
  bound["dispatch"] = 0;
  bound["dependency"] = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const double e = static_cast<double>(blocks[i].execs);
    const BlockCost& c = analysis.blocks[i];
    cycles += e * c.cycles_per_iter;
    rthroughput += e * c.rthroughput;
    covered += e * blocks[i].insns;
    bound[c.bound] += e * c.cycles_per_iter;
  }
  if (cycles > 0)
    for (auto& [g, v] : bound) v /= cycles;
  return {{"cpu", analysis.cpu},
          {"blocks", blocks.size()},
          {"covered_insns", covered},
          {"cycles", cycles},
          {"rthroughput_cycles", rthroughput},
          {"bound", bound},
          {"cached", analysis.cached}};
}

}  // namespace simtune::mca
