// The plugin's translation-block profile (tbs=on) on the hand-written ROI kernel run_count:
// its blocks add up to the ROI's instruction count, the loop block is where the ELF's symbol
// table puts run_count (PIE too: addresses are the ELF's, the load bias removed), and with
// the option off the record and the counts are as before.
#include <gtest/gtest.h>

#include "simtune/process.h"
#include "tests/simulators/qemu_test_util.h"

namespace simtune {
namespace {

using qemu_test::BuildRoiProgram;
using qemu_test::RunWithPlugin;

// [start, end) of `symbol` in `elf` from the toolchain's nm.
std::pair<uint64_t, uint64_t> SymbolRange(const std::string& isa, const std::string& elf,
                                          const std::string& symbol) {
  std::string nm = isa == "x86_64" ? "nm" : isa + "-linux-gnu-nm";
  auto r = RunProcess({nm, "-S", elf});
  if (!r.ok() || !r->Success()) {
    ADD_FAILURE() << nm << " failed on " << elf;
    return {0, 0};
  }
  std::istringstream in(r->out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string addr, size, type, name;
    if (f >> addr >> size >> type >> name && name == symbol) {
      uint64_t a = std::stoull(addr, nullptr, 16);
      return {a, a + std::stoull(size, nullptr, 16)};
    }
  }
  ADD_FAILURE() << "no symbol " << symbol << " in " << elf;
  return {0, 0};
}

class TbProfile : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Isas, TbProfile, ::testing::Values("riscv64", "aarch64", "x86_64"),
                         [](const auto& info) { return info.param; });

TEST_P(TbProfile, BlocksAddUpToTheRoiAndSitInTheKernel) {
  const std::string isa = GetParam();
  for (const char* link : {"static", "pie"}) {
    std::string elf = BuildRoiProgram(isa, link);
    ASSERT_FALSE(elf.empty());
    const auto [begin, end] = SymbolRange(isa, elf, "run_count");
    const uint64_t n = 3000;
    auto run = RunWithPlugin(isa, elf, "tbs=on", {"count", std::to_string(n)});
    ASSERT_TRUE(run.process.Success()) << run.process.err;
    const auto& s = run.stats;
    ASSERT_TRUE(s.at("extra").contains("tbs")) << s.dump();
    const auto& tbs = s["extra"]["tbs"];
    uint64_t sum = tbs.at("marker_insns").get<uint64_t>();
    bool loop_found = false;
    uint64_t previous = 0;
    for (const auto& b : tbs.at("blocks")) {
      const uint64_t addr = b[0], insns = b[1], execs = b[2];
      EXPECT_GE(addr, previous) << "blocks sorted by address";
      previous = addr;
      sum += insns * execs;
      // The loop: 4 instructions, n - 1 or n times (the first pass may share a block with
      // the instruction before it), inside run_count.
      if (insns == 4 && execs + 1 >= n && execs <= n) {
        loop_found = true;
        EXPECT_GE(addr, begin) << link;
        EXPECT_LT(addr, end) << link;
      }
    }
    EXPECT_EQ(sum, s.at("insn_count").get<uint64_t>()) << link << ": " << tbs.dump();
    EXPECT_EQ(s.at("insn_count"), 4 * n + 3);
    EXPECT_TRUE(loop_found) << link << ": " << tbs.dump();
    if (std::string(link) == "static") EXPECT_EQ(tbs.at("load_bias"), 0);
  }
}

// Off by default: no record, and the same counts with it on or off (the profile is read at
// exit from counters the plugin keeps anyway, so it costs the run nothing).
TEST(TbProfile, OffByDefaultAndTheCountsDoNotMove) {
  std::string elf = BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  auto off = RunWithPlugin("riscv64", elf, "", {"count", "1000"});
  auto on = RunWithPlugin("riscv64", elf, "tbs=on", {"count", "1000"});
  ASSERT_TRUE(off.process.Success() && on.process.Success()) << off.process.err << on.process.err;
  EXPECT_FALSE(off.stats.at("extra").contains("tbs"));
  nlohmann::json a = off.stats, b = on.stats;
  a["extra"].erase("tbs");
  b["extra"].erase("tbs");
  EXPECT_EQ(a, b);
  auto bad = RunWithPlugin("riscv64", elf, "tbs=maybe", {"count", "10"});
  EXPECT_FALSE(bad.process.Success());
  EXPECT_NE(bad.process.err.find("tbs: expected on or off; got 'maybe'"), std::string::npos)
      << bad.process.err;
}

}  // namespace
}  // namespace simtune
