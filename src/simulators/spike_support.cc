#include "src/simulators/spike_support.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>
#include <vector>

#include "simtune/strings.h"

namespace simtune {
namespace {

bool PowerOfTwo(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

// True when [offset, offset + size) lies inside `total` bytes; no sum can wrap around.
bool InBounds(uint64_t offset, uint64_t size, uint64_t total) {
  return offset <= total && size <= total - offset;
}

// offset + index * stride, or nullopt when it does not fit in 64 bits.
std::optional<uint64_t> EntryOffset(uint64_t offset, uint64_t index, uint64_t stride) {
  uint64_t scaled = 0, sum = 0;
  if (__builtin_mul_overflow(index, stride, &scaled) ||
      __builtin_add_overflow(offset, scaled, &sum))
    return std::nullopt;
  return sum;
}

template <class T>
std::optional<T> ReadAt(const std::string& bytes, uint64_t offset) {
  if (!InBounds(offset, sizeof(T), bytes.size())) return std::nullopt;
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof(T));
  return v;
}

// Checks that a table of `count` entries of `entry_size` bytes (which must be `expected`)
// at `offset` lies inside the file; `what` names it in messages.
Status CheckTable(const std::string& elf, uint64_t offset, uint64_t count, uint64_t entry_size,
                  uint64_t expected, const std::string& what) {
  if (count == 0) return Status::Ok();
  if (entry_size != expected)
    return Error{what + ": entry size " + std::to_string(entry_size) + "; expected " +
                 std::to_string(expected)};
  auto end = EntryOffset(offset, count, entry_size);
  if (!end || *end > elf.size())
    return Error{what + " (offset " + std::to_string(offset) + ", " + std::to_string(count) +
                 " entries of " + std::to_string(entry_size) + " bytes) extends past the end of "
                 "the file (" + std::to_string(elf.size()) + " bytes)"};
  return Status::Ok();
}

// The counters of one cache model: as Spike names them at exit ("D$ Read Accesses: N") and
// as libsimtune_spike.so names them ("read_accesses=N").
struct CounterName {
  const char* spike;
  const char* tracer;
  uint64_t SpikeCacheCounters::*field;
};
constexpr CounterName kCounters[] = {
    {"Read Accesses", "read_accesses", &SpikeCacheCounters::read_accesses},
    {"Read Misses", "read_misses", &SpikeCacheCounters::read_misses},
    {"Write Accesses", "write_accesses", &SpikeCacheCounters::write_accesses},
    {"Write Misses", "write_misses", &SpikeCacheCounters::write_misses},
    {"Writebacks", "writebacks", &SpikeCacheCounters::writebacks}};

// The field named `key` in Spike's (`tracer` false) or the library's spelling; nullptr when
// it names none.
uint64_t SpikeCacheCounters::*CounterField(const std::string& key, bool tracer) {
  for (const CounterName& c : kCounters)
    if (key == (tracer ? c.tracer : c.spike)) return c.field;
  return nullptr;
}

struct Symbol {
  uint64_t value = 0, size = 0;
};

}  // namespace

namespace rv {

std::optional<std::pair<int32_t, int32_t>> PcRelative(uint64_t from, uint64_t to) {
  int64_t delta = static_cast<int64_t>(to - from);
  if (delta < -(int64_t{1} << 31) || delta >= (int64_t{1} << 31) - 0x800) return std::nullopt;
  int32_t hi = static_cast<int32_t>((delta + 0x800) >> 12);
  int32_t lo = static_cast<int32_t>(delta - (static_cast<int64_t>(hi) << 12));
  return std::make_pair(hi & 0xfffff, lo);
}

}  // namespace rv

Result<std::string> SpikeCacheGeometry(const CacheLevel& c) {
  std::string what = c.level + " cache (" + std::to_string(c.size_bytes) + " bytes, " +
                     std::to_string(c.ways) + "-way, " + std::to_string(c.line_bytes) +
                     "-byte lines)";
  if (c.ways <= 0 || c.line_bytes <= 0 || c.size_bytes % (int64_t{c.ways} * c.line_bytes) != 0)
    return Error{what + ": size is not a multiple of ways * line"};
  int64_t sets = c.size_bytes / (int64_t{c.ways} * c.line_bytes);
  if (!PowerOfTwo(sets) || !PowerOfTwo(c.line_bytes))
    return Error{what + ": spike needs a power-of-two number of sets and line size; got " +
                 std::to_string(sets) + " sets"};
  return std::to_string(sets) + ":" + std::to_string(c.ways) + ":" +
         std::to_string(c.line_bytes);
}

Result<std::map<std::string, SpikeCacheCounters>> ParseSpikeCacheStats(
    const std::string& output) {
  std::map<std::string, SpikeCacheCounters> out;
  for (const auto& raw : Split(output, '\n')) {
    std::string line = Trim(raw);
    size_t dollar = line.find("$ ");
    size_t colon = line.find(':');
    if (dollar == std::string::npos || colon == std::string::npos || colon < dollar) continue;
    std::string model = line.substr(0, dollar + 1);
    if (model != "I$" && model != "D$" && model != "L2$") continue;
    std::string key = line.substr(dollar + 2, colon - dollar - 2);
    uint64_t SpikeCacheCounters::*field = CounterField(key, /*tracer=*/false);
    if (!field) continue;
    auto v = ParseInt(Trim(line.substr(colon + 1)), "spike statistic '" + model + " " + key + "'");
    if (!v.ok()) return v.error();
    out[model].*field = static_cast<uint64_t>(*v);
  }
  return out;
}

Result<std::map<std::string, SpikeCacheCounters>> ParseTracerCounters(const std::string& output,
                                                                       const std::string& at) {
  const std::string prefix = "simtune-spike: at=" + at + " ";
  std::map<std::string, SpikeCacheCounters> out;
  for (const auto& raw : Split(output, '\n')) {
    std::string line = Trim(raw);
    if (!StartsWith(line, prefix)) continue;
    std::string model;
    SpikeCacheCounters c;
    int seen = 0;
    for (const auto& item : Split(line.substr(prefix.size()), ' ')) {
      size_t eq = item.find('=');
      if (eq == std::string::npos) return Error{"spike tracer line '" + line + "': '" + item + "'"};
      std::string key = item.substr(0, eq), value = item.substr(eq + 1);
      if (key == "model") {
        model = value;
        continue;
      }
      uint64_t SpikeCacheCounters::*field = CounterField(key, /*tracer=*/true);
      if (!field) return Error{"spike tracer line '" + line + "': unknown counter '" + key + "'"};
      auto v = ParseInt(value, "spike tracer counter " + key);
      if (!v.ok() || *v < 0)
        return Error{"spike tracer line '" + line + "': " + key + " is not a count"};
      c.*field = static_cast<uint64_t>(*v);
      ++seen;
    }
    if (model.empty() || seen != static_cast<int>(std::size(kCounters)))
      return Error{"spike tracer line '" + line + "': expected a model and 5 counters"};
    out[model] = c;
  }
  if (out.empty())
    return Error{"no cache counters at simtune_roi_" + at +
                 " from the simtune Spike extension (the marker was not reached?)"};
  return out;
}

Result<std::map<std::string, SpikeCacheCounters>> SubtractCacheStats(
    const std::map<std::string, SpikeCacheCounters>& later,
    const std::map<std::string, SpikeCacheCounters>& earlier, std::vector<std::string>* notes) {
  if (later.size() != earlier.size())
    return Error{"spike printed " + std::to_string(later.size()) + " and " +
                 std::to_string(earlier.size()) + " cache models in the two marker runs"};
  std::map<std::string, SpikeCacheCounters> out;
  for (const auto& [model, b] : later) {
    auto it = earlier.find(model);
    if (it == earlier.end()) return Error{"spike printed no " + model + " statistics in one run"};
    const SpikeCacheCounters& a = it->second;
    SpikeCacheCounters d;
    using C = SpikeCacheCounters;
    const std::pair<uint64_t C::*, const char*> counters[] = {
        {&C::read_accesses, "read accesses"}, {&C::read_misses, "read misses"},
        {&C::write_accesses, "write accesses"}, {&C::write_misses, "write misses"}};
    for (const auto& [f, name] : counters) {
      if (b.*f >= a.*f) {
        d.*f = b.*f - a.*f;
        continue;
      }
      if (d.valid && notes)
        notes->push_back(model + " " + name + " went down from " + std::to_string(a.*f) +
                         " to " + std::to_string(b.*f) + " between the ROI markers; " + model +
                         " statistics left out");
      d.valid = false;
    }
    if (!d.valid) {
      out[model] = SpikeCacheCounters{.writebacks_valid = false, .valid = false};
      continue;
    }
    if (b.writebacks < a.writebacks) {
      d.writebacks_valid = false;
      if (notes)
        notes->push_back(model + " writebacks went down from " + std::to_string(a.writebacks) +
                         " to " + std::to_string(b.writebacks) +
                         " between the ROI markers; left out");
    } else {
      d.writebacks = b.writebacks - a.writebacks;
    }
    out[model] = d;
  }
  return out;
}

Result<RoiCounters> ParseRoiLine(const std::string& output) {
  const std::string prefix = "simtune: roi ";
  for (const auto& raw : Split(output, '\n')) {
    std::string line = Trim(raw);
    if (!StartsWith(line, prefix)) continue;
    RoiCounters c;
    bool have_insns = false, have_cycles = false;
    for (const auto& field : Split(line.substr(prefix.size()), ' ')) {
      if (field.empty()) continue;
      size_t eq = field.find('=');
      std::string key = field.substr(0, eq == std::string::npos ? field.size() : eq);
      std::string value = eq == std::string::npos ? "" : field.substr(eq + 1);
      if (key != "minstret" && key != "mcycle")
        return Error{"harness roi line '" + line + "': unexpected field '" + field + "'"};
      auto v = ParseInt(value, "harness roi line " + key);
      if (!v.ok()) return v.error();
      if (*v < 0) return Error{"harness roi line " + key + ": negative value " + value};
      (key == "minstret" ? c.minstret : c.mcycle) = static_cast<uint64_t>(*v);
      (key == "minstret" ? have_insns : have_cycles) = true;
    }
    if (!have_insns || !have_cycles)
      return Error{"harness roi line '" + line + "': expected minstret=<n> mcycle=<n>"};
    return c;
  }
  return Error{"no 'simtune: roi minstret=<n> mcycle=<n>' line in the output"};
}

namespace {

// The file's symbols among `wanted` (value and size), with the header checks that every
// reader of the file needs; `eh` gets the ELF header.
Result<std::map<std::string, Symbol>> FindSymbols(const std::string& elf,
                                                  const std::vector<std::string>& wanted,
                                                  Elf64_Ehdr* header) {
  auto eh = ReadAt<Elf64_Ehdr>(elf, 0);
  if (!eh || std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
      eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
    return Error{"not a little-endian 64-bit ELF file"};
  if (eh->e_machine != EM_RISCV)
    return Error{"ELF machine is " + std::to_string(eh->e_machine) + ", not RISC-V (243)"};
  *header = *eh;

  // Every offset and size below comes from the file: each sum is checked against the
  // buffer before it is used, so a crafted header gives an error, never a wild access.
  SIMTUNE_RETURN_IF_ERROR(CheckTable(elf, eh->e_shoff, eh->e_shnum, eh->e_shentsize,
                                     sizeof(Elf64_Shdr), "ELF section header table"));
  SIMTUNE_RETURN_IF_ERROR(CheckTable(elf, eh->e_phoff, eh->e_phnum, eh->e_phentsize,
                                     sizeof(Elf64_Phdr), "ELF program header table"));
  std::vector<Elf64_Shdr> sections;
  for (uint16_t i = 0; i < eh->e_shnum; ++i) {
    auto sh = ReadAt<Elf64_Shdr>(elf, eh->e_shoff + uint64_t{i} * sizeof(Elf64_Shdr));
    SIMTUNE_CHECK(sh.has_value());   // CheckTable above
    sections.push_back(*sh);
  }
  std::map<std::string, Symbol> symbols;
  for (size_t s = 0; s < sections.size(); ++s) {
    const Elf64_Shdr& sh = sections[s];
    if (sh.sh_type != SHT_SYMTAB) continue;
    const std::string what = "ELF section " + std::to_string(s) + " (symbol table)";
    if (sh.sh_entsize != sizeof(Elf64_Sym))
      return Error{what + ": entry size " + std::to_string(sh.sh_entsize) + "; expected " +
                   std::to_string(sizeof(Elf64_Sym))};
    if (!InBounds(sh.sh_offset, sh.sh_size, elf.size()))
      return Error{what + ": offset " + std::to_string(sh.sh_offset) + " + size " +
                   std::to_string(sh.sh_size) + " extends past the end of the file (" +
                   std::to_string(elf.size()) + " bytes)"};
    if (sh.sh_link >= sections.size())
      return Error{what + ": string table index " + std::to_string(sh.sh_link) +
                   " is out of range (" + std::to_string(sections.size()) + " sections)"};
    const Elf64_Shdr& strtab = sections[sh.sh_link];
    if (!InBounds(strtab.sh_offset, strtab.sh_size, elf.size()))
      return Error{"ELF section " + std::to_string(sh.sh_link) + " (string table): offset " +
                   std::to_string(strtab.sh_offset) + " + size " +
                   std::to_string(strtab.sh_size) + " extends past the end of the file (" +
                   std::to_string(elf.size()) + " bytes)"};
    for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= sh.sh_size; off += sizeof(Elf64_Sym)) {
      auto sym = ReadAt<Elf64_Sym>(elf, sh.sh_offset + off);
      SIMTUNE_CHECK(sym.has_value());   // the section is in bounds
      if (sym->st_name >= strtab.sh_size) continue;
      // Names end at a NUL inside the string table, else at its end.
      const char* name_ptr = elf.data() + strtab.sh_offset + sym->st_name;
      std::string name(name_ptr, strnlen(name_ptr, strtab.sh_size - sym->st_name));
      if (std::find(wanted.begin(), wanted.end(), name) != wanted.end())
        symbols[name] = {sym->st_value, sym->st_size};
    }
  }
  for (const auto& needed : wanted)
    if (!symbols.count(needed))
      return Error{"no symbol '" + needed + "' in the ELF symbol table (stripped, or not built "
                   "with the simtune bare-metal harness?)"};
  return symbols;
}

}  // namespace

Result<std::map<std::string, uint64_t>> ElfSymbolAddresses(const std::string& elf,
                                                           const std::vector<std::string>& names) {
  Elf64_Ehdr eh;
  SIMTUNE_ASSIGN_OR_RETURN(auto symbols, FindSymbols(elf, names, &eh));
  std::map<std::string, uint64_t> out;
  for (const auto& [name, sym] : symbols) out[name] = sym.value;
  return out;
}

Result<std::string> PatchElfFunction(const std::string& elf, const std::string& symbol,
                                     const std::vector<std::string>& other_symbols,
                                     uint64_t stub_bytes, const ElfStubMaker& make_stub) {
  std::vector<std::string> wanted = {symbol};
  wanted.insert(wanted.end(), other_symbols.begin(), other_symbols.end());
  Elf64_Ehdr header;
  SIMTUNE_ASSIGN_OR_RETURN(auto symbols, FindSymbols(elf, wanted, &header));
  const Elf64_Ehdr* eh = &header;
  const Symbol& fn = symbols[symbol];
  if (fn.size < stub_bytes)
    return Error{"function " + symbol + " is " + std::to_string(fn.size) +
                 " bytes; the stop stub needs " + std::to_string(stub_bytes)};

  // The segment must hold the stub's bytes both in memory and in the file.
  std::optional<uint64_t> file_offset;
  for (uint16_t i = 0; i < eh->e_phnum; ++i) {
    auto ph = ReadAt<Elf64_Phdr>(elf, eh->e_phoff + uint64_t{i} * sizeof(Elf64_Phdr));
    SIMTUNE_CHECK(ph.has_value());   // CheckTable above
    if (ph->p_type != PT_LOAD || fn.value < ph->p_vaddr) continue;
    const uint64_t into = fn.value - ph->p_vaddr;
    if (!InBounds(into, stub_bytes, ph->p_filesz)) continue;
    auto at = EntryOffset(ph->p_offset, into, 1);
    if (at && InBounds(*at, stub_bytes, elf.size())) file_offset = at;
  }
  if (!file_offset)
    return Error{"function " + symbol + " is not in a loadable segment of the ELF file"};

  std::map<std::string, uint64_t> addresses;
  for (const auto& [name, sym] : symbols) addresses[name] = sym.value;
  SIMTUNE_ASSIGN_OR_RETURN(std::vector<uint32_t> stub, make_stub(fn.value, addresses));
  SIMTUNE_CHECK(stub.size() * sizeof(uint32_t) == stub_bytes);
  std::string out = elf;
  std::memcpy(out.data() + *file_offset, stub.data(), stub_bytes);
  return out;
}

Result<std::string> PatchElfStopAt(const std::string& elf, const std::string& symbol) {
  auto stub = [&](uint64_t at,
                  const std::map<std::string, uint64_t>& addresses) -> Result<std::vector<uint32_t>> {
    // The auipc sits 4 bytes into the stub; tohost is reached with auipc + sd's 12-bit offset.
    auto rel = rv::PcRelative(at + 4, addresses.at("tohost"));
    if (!rel) return Error{"tohost is more than 2 GiB away from " + symbol};
    auto [hi, lo] = *rel;
    return std::vector<uint32_t>{rv::Addi(rv::kT0, 0, (kRoiStopExitCode << 1) | 1),
                                 rv::Auipc(rv::kT1, hi), rv::Sd(rv::kT0, rv::kT1, lo), rv::kWfi,
                                 rv::kJumpBack4};
  };
  return PatchElfFunction(elf, symbol, {"tohost"}, 20, stub);
}

}  // namespace simtune
