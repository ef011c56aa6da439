// PatchElfStopAt on crafted ELF bytes: a minimal RV64 image built here, then headers whose
// offsets and sizes overflow or point past the end. Each must give an error, never an access
// outside the buffer (the arithmetic used to wrap around into an out-of-bounds memcpy).
#include <elf.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "src/simulators/spike_support.h"

namespace simtune {
namespace {

// File layout of the image.
constexpr uint64_t kCodeOffset = 0x100;   // simtune_roi_begin, 32 bytes
constexpr uint64_t kToHostOffset = 0x180;
constexpr uint64_t kStrtabOffset = 0x200;
constexpr uint64_t kSymtabOffset = 0x240;
constexpr uint64_t kShdrOffset = 0x300;
constexpr uint64_t kFileBytes = kShdrOffset + 3 * sizeof(Elf64_Shdr);
constexpr uint64_t kBase = 0x80000000;
const char kStrtab[] = "\0simtune_roi_begin\0tohost";   // names at 1 and 19

// The headers of the image, edited by each case before Bytes() lays them out.
struct Image {
  Elf64_Ehdr eh{};
  Elf64_Phdr ph{};
  Elf64_Shdr sh[3]{};   // null, .symtab, .strtab
  Elf64_Sym sym[3]{};   // null, simtune_roi_begin, tohost

  Image() {
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_RISCV;
    eh.e_version = EV_CURRENT;
    eh.e_entry = kBase + kCodeOffset;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_shoff = kShdrOffset;
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = 1;
    eh.e_shentsize = sizeof(Elf64_Shdr);
    eh.e_shnum = 3;
    ph.p_type = PT_LOAD;
    ph.p_flags = PF_R | PF_W | PF_X;
    ph.p_offset = 0;
    ph.p_vaddr = ph.p_paddr = kBase;
    ph.p_filesz = ph.p_memsz = kStrtabOffset;
    sh[1].sh_type = SHT_SYMTAB;
    sh[1].sh_offset = kSymtabOffset;
    sh[1].sh_size = sizeof(sym);
    sh[1].sh_link = 2;
    sh[1].sh_entsize = sizeof(Elf64_Sym);
    sh[2].sh_type = SHT_STRTAB;
    sh[2].sh_offset = kStrtabOffset;
    sh[2].sh_size = sizeof(kStrtab);
    sym[1] = {1, ELF64_ST_INFO(STB_GLOBAL, STT_FUNC), 0, 1, kBase + kCodeOffset, 32};
    sym[2] = {19, ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT), 0, 1, kBase + kToHostOffset, 8};
  }

  std::string Bytes() const {
    std::string out(kFileBytes, '\0');
    std::memcpy(out.data(), &eh, sizeof(eh));
    std::memcpy(out.data() + sizeof(eh), &ph, sizeof(ph));
    std::memset(out.data() + kCodeOffset, 0x13, 32);   // nops-ish filler
    std::memcpy(out.data() + kStrtabOffset, kStrtab, sizeof(kStrtab));
    std::memcpy(out.data() + kSymtabOffset, sym, sizeof(sym));
    std::memcpy(out.data() + kShdrOffset, sh, sizeof(sh));
    return out;
  }
};

std::string Patch(const Image& image) {
  auto r = PatchElfStopAt(image.Bytes(), "simtune_roi_begin");
  return r.ok() ? "ok" : r.message();
}

TEST(SpikeElfPatch, CraftedImagePatchesOnlyTheFunction) {
  const std::string elf = Image().Bytes();
  auto patched = PatchElfStopAt(elf, "simtune_roi_begin");
  ASSERT_TRUE(patched.ok()) << patched.message();
  ASSERT_EQ(patched->size(), elf.size());
  for (size_t i = 0; i < elf.size(); ++i) {
    if (i >= kCodeOffset && i < kCodeOffset + 20) continue;
    EXPECT_EQ(elf[i], (*patched)[i]) << "byte " << i;
  }
  EXPECT_NE(elf.substr(kCodeOffset, 20), patched->substr(kCodeOffset, 20));
}

TEST(SpikeElfPatch, OverflowingOffsetsAreErrors) {
  constexpr uint64_t kMax = UINT64_MAX;
  const std::string past_end = " extends past the end of the file (960 bytes)";
  struct Case {
    const char* what;
    void (*edit)(Image&);
    std::string message;
  };
  const Case cases[] = {
      // The stub's file offset wraps to just below the buffer: the old check (offset + 20 <=
      // size) passed after the wrap and memcpy wrote before the buffer.
      {"segment offset wraps", [](Image& m) { m.ph.p_offset = kMax - kCodeOffset - 9; },
       "function simtune_roi_begin is not in a loadable segment of the ELF file"},
      {"segment offset past the end", [](Image& m) { m.ph.p_offset = kFileBytes - 8; },
       "function simtune_roi_begin is not in a loadable segment of the ELF file"},
      {"segment file size wraps", [](Image& m) {
         m.ph.p_vaddr = kMax - 7;
         m.ph.p_filesz = 0x1000;
       }, "function simtune_roi_begin is not in a loadable segment of the ELF file"},
      {"function past the segment", [](Image& m) { m.ph.p_filesz = kCodeOffset + 8; },
       "function simtune_roi_begin is not in a loadable segment of the ELF file"},
      {"section headers wrap", [](Image& m) { m.eh.e_shoff = kMax - 63; },
       "ELF section header table (offset 18446744073709551552, 3 entries of 64 bytes)" +
           past_end},
      {"section headers past the end", [](Image& m) { m.eh.e_shnum = 40; },
       "ELF section header table (offset 768, 40 entries of 64 bytes)" + past_end},
      {"section header size", [](Image& m) { m.eh.e_shentsize = 1; },
       "ELF section header table: entry size 1; expected 64"},
      {"program headers wrap", [](Image& m) { m.eh.e_phoff = kMax - 20; },
       "ELF program header table (offset 18446744073709551595, 1 entries of 56 bytes)" +
           past_end},
      {"program header size", [](Image& m) { m.eh.e_phentsize = 8; },
       "ELF program header table: entry size 8; expected 56"},
      {"symbol table wraps", [](Image& m) { m.sh[1].sh_offset = kMax - 15; },
       "ELF section 1 (symbol table): offset 18446744073709551600 + size 72" + past_end},
      {"symbol table size huge", [](Image& m) { m.sh[1].sh_size = kMax - 7; },
       "ELF section 1 (symbol table): offset 576 + size 18446744073709551608" + past_end},
      {"symbol entry size 0", [](Image& m) { m.sh[1].sh_entsize = 0; },
       "ELF section 1 (symbol table): entry size 0; expected 24"},
      {"string table index", [](Image& m) { m.sh[1].sh_link = 99; },
       "ELF section 1 (symbol table): string table index 99 is out of range (3 sections)"},
      // The name offset wrapped around to bytes outside the string table.
      {"string table wraps", [](Image& m) { m.sh[2].sh_offset = kMax - kStrtabOffset + 1; },
       "ELF section 2 (string table): offset 18446744073709551104 + size 26" + past_end},
      {"string table size huge", [](Image& m) { m.sh[2].sh_size = kMax; },
       "ELF section 2 (string table): offset 512 + size 18446744073709551615" + past_end},
      {"name offset huge", [](Image& m) { m.sym[1].st_name = 0xffffffff; },
       "no symbol 'simtune_roi_begin' in the ELF symbol table (stripped, or not built with "
       "the simtune bare-metal harness?)"},
      {"function value wraps", [](Image& m) { m.sym[1].st_value = kMax - 3; },
       "function simtune_roi_begin is not in a loadable segment of the ELF file"},
  };
  for (const Case& c : cases) {
    Image image;
    c.edit(image);
    EXPECT_EQ(Patch(image), c.message) << c.what;
  }
  // A string table cut short of its last NUL still yields bounded names.
  Image cut;
  cut.sh[2].sh_size = sizeof(kStrtab) - 1;
  EXPECT_EQ(Patch(cut), "ok");
}

// Every truncation and every single-byte corruption of the headers: an error or a patch,
// never a read or write outside the buffer (run under ASan to see the difference).
TEST(SpikeElfPatch, TruncatedAndCorruptedImagesNeverCrash) {
  const std::string elf = Image().Bytes();
  for (size_t n = 0; n < elf.size(); ++n) {
    auto r = PatchElfStopAt(elf.substr(0, n), "simtune_roi_begin");
    EXPECT_FALSE(r.ok()) << "truncated to " << n << " bytes";
  }
  int patched = 0;
  for (size_t i = 0; i < elf.size(); ++i) {
    if (i >= kCodeOffset && i < kStrtabOffset) continue;   // code and data: not headers
    for (int value : {0x00, 0x7f, 0x80, 0xff}) {
      std::string bad = elf;
      bad[i] = static_cast<char>(value);
      auto r = PatchElfStopAt(bad, "simtune_roi_begin");
      if (r.ok()) {
        ++patched;
        EXPECT_EQ(r->size(), bad.size());
      }
    }
  }
  EXPECT_GT(patched, 0);   // harmless bytes (padding, flags) still patch
}

}  // namespace
}  // namespace simtune
