// The qemu plugin on hostile input: guest ELFs whose section headers, symbol table or string
// table are damaged (the plugin reads them to find the ROI markers), and cache/predictor
// geometries that overflowed or exhausted memory. Each run must end within its time limit
// with qemu exiting non-zero and the plugin's message, or run normally where the damage is
// harmless: never a signal, never a hang. Needs qemu-user and the plugin (built with the
// tests); label: qemu.
#include <elf.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <random>

#include "simtune/process.h"
#include "tests/simulators/qemu_test_util.h"

namespace simtune {
namespace {

using qemu_test::BuildRoiProgram;

constexpr double kTimeoutS = 30;

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class T>
T Get(const std::string& bytes, uint64_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof(T));
  return v;
}

template <class T>
void Put(std::string& bytes, uint64_t offset, T v) {
  std::memcpy(bytes.data() + offset, &v, sizeof(T));
}

// Where the fields to damage sit in the (well-formed) test program.
struct Layout {
  Elf64_Ehdr eh;
  uint16_t symtab = 0;   // section index
  uint64_t Shdr(uint16_t i) const { return eh.e_shoff + uint64_t{i} * sizeof(Elf64_Shdr); }
  template <class F>
  uint64_t Field(uint16_t section, F Elf64_Shdr::*field) const {
    Elf64_Shdr probe{};
    return Shdr(section) + (reinterpret_cast<const char*>(&(probe.*field)) -
                            reinterpret_cast<const char*>(&probe));
  }
};

Layout Parse(const std::string& elf) {
  Layout l;
  l.eh = Get<Elf64_Ehdr>(elf, 0);
  for (uint16_t i = 0; i < l.eh.e_shnum; ++i)
    if (Get<Elf64_Shdr>(elf, l.Shdr(i)).sh_type == SHT_SYMTAB) l.symtab = i;
  return l;
}

struct MutantRun {
  ProcessResult process;
  std::string path;
};

MutantRun RunMutant(const std::string& name, const std::string& bytes, const std::string& opts = "") {
  MutantRun run;
  run.path = (qemu_test::ScratchDir() / ("elf-" + name)).string();
  {
    std::ofstream out(run.path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  chmod(run.path.c_str(), 0755);
  std::string plugin = qemu_test::PluginPath().string() + ",out=" + run.path + ".json";
  if (!opts.empty()) plugin += "," + opts;
  auto r = RunProcess({"qemu-x86_64", "-plugin", plugin, run.path}, {.timeout_s = kTimeoutS});
  EXPECT_TRUE(r.ok()) << r.message();
  if (r.ok()) run.process = *r;
  return run;
}

bool Ready() {
  if (!ProgramExists("qemu-x86_64")) {
    ADD_FAILURE() << "qemu-x86_64 not found; install Debian package qemu-user (scripts/setup does)";
    return false;
  }
  if (!std::filesystem::exists(qemu_test::PluginPath())) {
    ADD_FAILURE() << "qemu plugin not built: " << qemu_test::PluginPath();
    return false;
  }
  return true;
}

// Ended by itself, in time, without a signal.
void ExpectBounded(const MutantRun& run, const std::string& what) {
  EXPECT_FALSE(run.process.timed_out) << what << ": hung past " << kTimeoutS << " s";
  EXPECT_EQ(run.process.signal, 0) << what << ": " << run.process.Describe(kTimeoutS) << "\n"
                                   << run.process.err;
}

TEST(QemuPluginElf, DamagedSymbolTablesFailLoudly) {
  if (!Ready()) return;
  const std::string elf_path = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf_path.empty());
  const std::string elf = ReadBytes(elf_path);
  const Layout l = Parse(elf);
  ASSERT_GT(l.symtab, 0) << "the test program has no symbol table";
  const Elf64_Shdr symtab = Get<Elf64_Shdr>(elf, l.Shdr(l.symtab));
  const uint16_t strtab_index = static_cast<uint16_t>(symtab.sh_link);
  const Elf64_Shdr strtab = Get<Elf64_Shdr>(elf, l.Shdr(strtab_index));
  const std::string S = std::to_string(l.symtab), T = std::to_string(strtab_index);
  const std::string shnum = std::to_string(l.eh.e_shnum);

  struct Mutant {
    std::string name;
    std::string bytes;
    std::string message;   // after "simtune plugin: <path>: "
  };
  std::vector<Mutant> mutants;
  auto add = [&](const std::string& name, auto edit, const std::string& message) {
    std::string bytes = elf;
    edit(bytes);
    mutants.push_back({name, bytes, message});
  };
  auto past_end = [](uint64_t size) {
    return " extends past the end of the file (" + std::to_string(size) + " bytes)";
  };
  const uint64_t shoff_field = offsetof(Elf64_Ehdr, e_shoff);
  // Cut inside the section header table: the segments qemu loads are all still there.
  const uint64_t cut = l.eh.e_shoff + sizeof(Elf64_Shdr);
  add("truncated", [&](std::string& b) { b.resize(cut); },
      "section header table (offset " + std::to_string(l.eh.e_shoff) + ", " + shnum +
          " entries of 64 bytes)" + past_end(cut));
  add("shoff-past-end", [&](std::string& b) { Put<uint64_t>(b, shoff_field, elf.size() + 4096); },
      "section header table (offset " + std::to_string(elf.size() + 4096) + ", " + shnum +
          " entries of 64 bytes)" + past_end(elf.size()));
  add("shoff-wraps", [&](std::string& b) { Put<uint64_t>(b, shoff_field, UINT64_MAX - 63); },
      "section header table (offset 18446744073709551552, " + shnum + " entries of 64 bytes)" +
          past_end(elf.size()));
  add("shnum-huge", [&](std::string& b) { Put<uint16_t>(b, offsetof(Elf64_Ehdr, e_shnum), 0xff00); },
      "section header table (offset " + std::to_string(l.eh.e_shoff) +
          ", 65280 entries of 64 bytes)" + past_end(elf.size()));
  add("shentsize", [&](std::string& b) { Put<uint16_t>(b, offsetof(Elf64_Ehdr, e_shentsize), 32); },
      "section header table: entry size 32; expected 64");
  // Used to loop over 2^62 / 24 symbols, each read failing: a hang.
  add("symtab-size-huge",
      [&](std::string& b) { Put<uint64_t>(b, l.Field(l.symtab, &Elf64_Shdr::sh_size), 1ull << 62); },
      "section " + S + " (symbol table) (offset " + std::to_string(symtab.sh_offset) +
          ", 4611686018427387904 bytes)" + past_end(elf.size()));
  add("symtab-offset-past-end",
      [&](std::string& b) {
        Put<uint64_t>(b, l.Field(l.symtab, &Elf64_Shdr::sh_offset), elf.size() - 8);
      },
      "section " + S + " (symbol table) (offset " + std::to_string(elf.size() - 8) + ", " +
          std::to_string(symtab.sh_size) + " bytes)" + past_end(elf.size()));
  add("symtab-entsize-0",
      [&](std::string& b) { Put<uint64_t>(b, l.Field(l.symtab, &Elf64_Shdr::sh_entsize), 0); },
      "section " + S + " (symbol table): entry size 0; expected 24");
  add("symtab-entsize-1",
      [&](std::string& b) { Put<uint64_t>(b, l.Field(l.symtab, &Elf64_Shdr::sh_entsize), 1); },
      "section " + S + " (symbol table): entry size 1; expected 24");
  // One past the last section: qemu's own loader (load_symbols, which indexes the section
  // headers with sh_link unchecked) survives that, though not an index in the thousands.
  add("strtab-index-out-of-range",
      [&](std::string& b) {
        Put<uint32_t>(b, l.Field(l.symtab, &Elf64_Shdr::sh_link), l.eh.e_shnum);
      },
      "section " + S + " (symbol table): string table index " + shnum + " is out of range (" +
          shnum + " sections)");
  add("strtab-index-is-symtab",
      [&](std::string& b) { Put<uint32_t>(b, l.Field(l.symtab, &Elf64_Shdr::sh_link), l.symtab); },
      "section " + S + " (symbol table): section " + S + " is not a string table (type 2)");
  // Used to be g_malloc(sh_size + 1): 0 bytes, then a write far past them.
  add("strtab-size-max",
      [&](std::string& b) { Put<uint64_t>(b, l.Field(strtab_index, &Elf64_Shdr::sh_size), UINT64_MAX); },
      "section " + T + " (string table) (offset " + std::to_string(strtab.sh_offset) +
          ", 18446744073709551615 bytes)" + past_end(elf.size()));
  // Used to abort in GLib (a terabyte allocation).
  add("strtab-size-huge",
      [&](std::string& b) { Put<uint64_t>(b, l.Field(strtab_index, &Elf64_Shdr::sh_size), 1ull << 40); },
      "section " + T + " (string table) (offset " + std::to_string(strtab.sh_offset) +
          ", 1099511627776 bytes)" + past_end(elf.size()));
  add("strtab-offset-wraps",
      [&](std::string& b) {
        Put<uint64_t>(b, l.Field(strtab_index, &Elf64_Shdr::sh_offset), UINT64_MAX - 15);
      },
      "section " + T + " (string table) (offset 18446744073709551600, " +
          std::to_string(strtab.sh_size) + " bytes)" + past_end(elf.size()));
  // Names pointing outside the string table: no marker is found.
  add("names-out-of-range",
      [&](std::string& b) {
        for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= symtab.sh_size; off += sizeof(Elf64_Sym))
          Put<uint32_t>(b, symtab.sh_offset + off, 0xffffffffu);
      },
      "no function 'simtune_roi_begin' in the ELF symbol table (stripped binary?); roi=off "
      "counts the whole program");

  for (const Mutant& m : mutants) {
    MutantRun run = RunMutant(m.name, m.bytes);
    ExpectBounded(run, m.name);
    EXPECT_EQ(run.process.exit_code, 1) << m.name << ": " << run.process.err;
    EXPECT_NE(run.process.err.find("simtune plugin: " + run.path + ": " + m.message + "\n"),
              std::string::npos)
        << m.name << ": stderr: " << run.process.err;
  }
}

// Random damage (deterministic seed) to the ELF header's section fields, the section header
// table and the symbol table, and extreme values over the symbol and string tables' offsets
// and sizes: whatever the bytes, the run ends by itself, either normally or with a message.
TEST(QemuPluginElf, RandomlyDamagedSectionDataNeverCrashesOrHangs) {
  if (!Ready()) return;
  const std::string elf_path = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf_path.empty());
  const std::string elf = ReadBytes(elf_path);
  const Layout l = Parse(elf);
  const Elf64_Shdr symtab = Get<Elf64_Shdr>(elf, l.Shdr(l.symtab));
  std::mt19937_64 rng(16);
  // The symbol table's sh_link is left alone: a large one crashes qemu itself (see above).
  const uint64_t link_at = l.Field(l.symtab, &Elf64_Shdr::sh_link);
  // Bytes the loader ignores: e_shoff..e_shstrndx, the section headers, the symbol table.
  struct Region {
    uint64_t begin, size;
  };
  const Region regions[] = {
      {offsetof(Elf64_Ehdr, e_shoff), 8},
      {offsetof(Elf64_Ehdr, e_shentsize), 6},
      {l.eh.e_shoff, uint64_t{l.eh.e_shnum} * sizeof(Elf64_Shdr)},
      {l.Shdr(l.symtab), sizeof(Elf64_Shdr)},   // weighted: the table that is read most
      {symtab.sh_offset, std::min<uint64_t>(symtab.sh_size, 4096)},
  };
  int normal = 0, refused = 0;
  for (int i = 0; i < 30; ++i) {
    std::string bytes = elf;
    const Region& r = regions[i % std::size(regions)];
    if (i % 2 == 0) {
      // A few random bytes.
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) {
        const uint64_t at = r.begin + rng() % r.size;
        if (at >= link_at && at < link_at + 4) continue;
        bytes[at] = static_cast<char>(rng() % 3 == 0 ? 0xff : rng());
      }
    } else {
      // A nasty 64-bit value over an offset or size of the symbol or string table header.
      const uint64_t nasty[] = {0, 1, 24, uint64_t{1} << 32, uint64_t{1} << 62, UINT64_MAX,
                                UINT64_MAX - 23, elf.size(), rng()};
      const uint16_t section = rng() % 2 ? l.symtab : static_cast<uint16_t>(symtab.sh_link);
      const uint64_t fields[] = {l.Field(section, &Elf64_Shdr::sh_offset),
                                 l.Field(section, &Elf64_Shdr::sh_size),
                                 l.Field(section, &Elf64_Shdr::sh_entsize)};
      Put<uint64_t>(bytes, fields[rng() % 3], nasty[rng() % std::size(nasty)]);
    }
    const std::string name = "random-" + std::to_string(i);
    MutantRun run = RunMutant(name, bytes);
    ExpectBounded(run, name);
    if (run.process.exit_code == 0) {
      ++normal;
    } else {
      ++refused;
      EXPECT_NE(run.process.err.find("simtune plugin: " + run.path + ": "), std::string::npos)
          << name << ": stderr: " << run.process.err;
    }
  }
  EXPECT_GT(refused, 0);
  std::cout << "random damage: " << normal << " ran normally, " << refused << " refused\n";
}

// Geometry that overflowed (ways * line wrapping to 0: SIGFPE), looped for ever (log2 of a
// value above 2^63) or asked GLib for terabytes (abort) is refused by name.
TEST(QemuPluginElf, HugeGeometryIsRejectedWithExactMessages) {
  if (!Ready()) return;
  const std::string elf_path = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf_path.empty());
  const std::string elf = ReadBytes(elf_path);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"l1d_ways=9223372036854775808,l1d_line=2",
       "l1d_ways: must be at most 1024; got 9223372036854775808"},
      {"l1d_line=9223372036854775808", "l1d_line: must be at most 4096; got 9223372036854775808"},
      {"l1d_line=8192", "l1d_line: must be at most 4096; got 8192"},
      {"l1d_line=0", "l1d_line: must be a power of two; got 0"},
      {"l2_size=1099511627776", "l2_size: must be at most 1073741824; got 1099511627776"},
      {"l1d_size=0", "l1d_size: must be at least 1; got 0"},
      {"l3=on,l3_size=1073741824,l3_ways=1,l3_line=1",
       "l3: size 1073741824 / line 1 = 1073741824 lines; at most 16777216 are modelled"},
      {"l1i_ways=1025", "l1i_ways: must be at most 1024; got 1025"},
      {"bpred_entries=1099511627776", "bpred_entries: must be at most 16777216; got 1099511627776"},
      {"bpred_entries=9223372036854775808",
       "bpred_entries: must be at most 16777216; got 9223372036854775808"},
      {"reuse_line=9223372036854775808",
       "reuse_line: must be at most 4096; got 9223372036854775808"},
      {"bpred_history=18446744073709551615",
       "bpred_history: must be at most 32; got 18446744073709551615"},
  };
  int i = 0;
  for (const auto& [opts, message] : cases) {
    MutantRun run = RunMutant("geometry-" + std::to_string(i++), elf, opts);
    ExpectBounded(run, opts);
    EXPECT_EQ(run.process.exit_code, 1) << opts << ": " << run.process.err;
    EXPECT_NE(run.process.err.find("simtune plugin: " + message + "\n"), std::string::npos)
        << opts << " -> stderr: " << run.process.err;
  }
  // The largest accepted geometry still runs.
  MutantRun big = RunMutant("geometry-largest", elf,
                      "l3=on,l3_size=1073741824,l3_ways=1024,l3_line=64,bpred_entries=16777216");
  ExpectBounded(big, "largest");
  EXPECT_EQ(big.process.exit_code, 0) << big.process.err;
}

}  // namespace
}  // namespace simtune
