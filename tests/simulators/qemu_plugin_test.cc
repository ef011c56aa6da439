// The QEMU statistics plugin on hand-written ROI kernels (qemu_programs/) whose counts are
// known exactly: instruction counts and classes, ROI boundaries (static and PIE), caches
// against hand-computed misses, the branch predictor, reuse distances, the dependency timing
// models (riscv64), option errors.
// Needs qemu-user and the riscv64/aarch64 cross compilers (scripts/setup installs them).
#include <gtest/gtest.h>

#include "simtune/simulator.h"
#include "tests/simulators/qemu_test_util.h"

namespace simtune {
namespace {

using qemu_test::BuildRoiProgram;
using qemu_test::CacheCounts;
using qemu_test::RunWithPlugin;

const std::vector<std::string> kIsas = {"riscv64", "aarch64", "x86_64"};

// Statistics that must not depend on anything outside the ROI.
nlohmann::json RoiInvariant(const nlohmann::json& s) {
  return {{"insn_count", s.at("insn_count")}, {"classes", s.at("classes")},
          {"loads", s.at("loads")},           {"stores", s.at("stores")},
          {"branches", s.at("branches")},     {"l1d", CacheCounts(s, "l1d")}};
}

class PerIsa : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Isas, PerIsa, ::testing::ValuesIn(kIsas),
                         [](const auto& info) { return info.param; });

// run_count(n): 4n + 3 instructions from simtune_roi_begin's first instruction to
// simtune_roi_end's first, every one classified.
TEST_P(PerIsa, ExactRoiInstructionCountAndClasses) {
  const std::string isa = GetParam();
  std::string elf = BuildRoiProgram(isa, "static");
  ASSERT_FALSE(elf.empty());
  for (uint64_t n : {1000, 5000}) {
    auto run = RunWithPlugin(isa, elf, "", {"count", std::to_string(n)});
    ASSERT_TRUE(run.process.Success()) << run.process.err;
    const auto& s = run.stats;
    EXPECT_EQ(s.at("insn_count"), 4 * n + 3) << n;
    nlohmann::json want_classes = {
        {"int_alu", n + 1}, {"int_muldiv", 0},         {"fp_scalar", 0},
        {"simd", 0},        {"load", n},               {"store", n},
        {"branch_taken", n - 1}, {"branch_not_taken", 1}, {"jump", 2},
        {"atomic", 0},      {"other", 0}};
    EXPECT_EQ(s.at("classes"), want_classes) << n;
    EXPECT_EQ(s.at("branches"), n);
    // x86 call/ret touch the stack: one more load (ret) and store (call) in the ROI.
    uint64_t stack = isa == "x86_64" ? 1 : 0;
    EXPECT_EQ(s.at("loads"), n + stack);
    EXPECT_EQ(s.at("stores"), n + stack);
    EXPECT_EQ(s.at("load_bytes"), 8 * (n + stack));
    EXPECT_EQ(s.at("accesses_by_size"), nlohmann::json({{"8", 2 * (n + stack)}}));
    // One line of buf, untouched before the ROI: a cold read miss, then hits. The x86
    // stack line is warm (the caches see the program before the ROI).
    std::map<std::string, uint64_t> want_l1d = {{"read_hits", n - 1 + stack},
                                                {"read_misses", 1},
                                                {"write_hits", n + stack},
                                                {"write_misses", 0}};
    EXPECT_EQ(CacheCounts(s, "l1d"), want_l1d);
    EXPECT_EQ(s.at("extra").at("roi_begins"), 1);
    EXPECT_EQ(s.at("extra").at("roi_ends"), 1);
    EXPECT_EQ(s.at("extra").at("isa"), isa);
    auto parsed = SimStats::FromJson(s, "plugin output");
    ASSERT_TRUE(parsed.ok()) << parsed.message();
    EXPECT_EQ(parsed->simulator, "qemu");
  }
}

// PIE binaries are loaded at an offset; the ROI must still be found.
TEST_P(PerIsa, PieBinariesCountTheSameRoi) {
  const std::string isa = GetParam();
  std::string elf = BuildRoiProgram(isa, "static");
  ASSERT_FALSE(elf.empty());
  auto want = RunWithPlugin(isa, elf, "", {"count", "777"});
  ASSERT_TRUE(want.process.Success()) << want.process.err;
  // Debian's riscv64 cross libc has no static-pie start file (rcrt1.o).
  std::vector<std::string> links = {"pie"};
  if (isa != "riscv64") links.push_back("static-pie");
  for (const auto& link : links) {
    std::string pie = BuildRoiProgram(isa, link);
    ASSERT_FALSE(pie.empty());
    auto got = RunWithPlugin(isa, pie, "", {"count", "777"});
    ASSERT_TRUE(got.process.Success()) << link << ": " << got.process.err;
    EXPECT_EQ(got.stats.at("insn_count"), 4 * 777 + 3) << link;
    EXPECT_EQ(RoiInvariant(got.stats), RoiInvariant(want.stats)) << link;
  }
}

// Work before and after the ROI changes the whole-program count, not the ROI's.
TEST_P(PerIsa, WorkOutsideTheRoiIsNotCounted) {
  const std::string isa = GetParam();
  std::string little = BuildRoiProgram(isa, "static", 0);
  std::string much = BuildRoiProgram(isa, "static", 20000);
  ASSERT_FALSE(little.empty());
  ASSERT_FALSE(much.empty());
  auto a = RunWithPlugin(isa, little, "", {"count", "1000"});
  auto b = RunWithPlugin(isa, much, "", {"count", "1000"});
  ASSERT_TRUE(a.process.Success()) << a.process.err;
  ASSERT_TRUE(b.process.Success()) << b.process.err;
  EXPECT_EQ(RoiInvariant(a.stats), RoiInvariant(b.stats));

  auto whole_a = RunWithPlugin(isa, little, "roi=off", {"count", "1000"});
  auto whole_b = RunWithPlugin(isa, much, "roi=off", {"count", "1000"});
  ASSERT_TRUE(whole_a.process.Success()) << whole_a.process.err;
  ASSERT_TRUE(whole_b.process.Success()) << whole_b.process.err;
  uint64_t roi = a.stats.at("insn_count");
  uint64_t all_a = whole_a.stats.at("insn_count"), all_b = whole_b.stats.at("insn_count");
  EXPECT_GT(all_a, roi);
  EXPECT_GT(all_b, all_a + 2 * 20000 * 5) << "setup work should add >= 5 insns/iteration";
  EXPECT_EQ(whole_a.stats.at("extra").at("roi"), "all");
}

// A few instructions of every class, hand-classified in kernels_<isa>.S (run_mix).
TEST_P(PerIsa, DecodesEveryInstructionClass) {
  const std::string isa = GetParam();
  std::string elf = BuildRoiProgram(isa, "static");
  ASSERT_FALSE(elf.empty());
  auto run = RunWithPlugin(isa, elf, "", {"mix"});
  ASSERT_TRUE(run.process.Success()) << run.process.err;
  std::map<std::string, nlohmann::json> want = {
      {"riscv64",
       {{"int_alu", 2}, {"int_muldiv", 2}, {"fp_scalar", 2}, {"simd", 0}, {"load", 3},
        {"store", 2}, {"branch_taken", 1}, {"branch_not_taken", 1}, {"jump", 3},
        {"atomic", 2}, {"other", 1}}},
      {"aarch64",
       {{"int_alu", 2}, {"int_muldiv", 2}, {"fp_scalar", 2}, {"simd", 1}, {"load", 3},
        {"store", 3}, {"branch_taken", 1}, {"branch_not_taken", 1}, {"jump", 3},
        {"atomic", 2}, {"other", 1}}},
      {"x86_64",
       {{"int_alu", 3}, {"int_muldiv", 1}, {"fp_scalar", 2}, {"simd", 2}, {"load", 2},
        {"store", 2}, {"branch_taken", 1}, {"branch_not_taken", 1}, {"jump", 3},
        {"atomic", 2}, {"other", 1}}}};
  EXPECT_EQ(run.stats.at("classes"), want[isa]);
  uint64_t total = 0;
  for (const auto& [cls, n] : want[isa].items()) total += n.get<uint64_t>();
  EXPECT_EQ(run.stats.at("insn_count"), total);
  // Memory accesses as QEMU performs them: 16-byte SIMD accesses are two 8-byte ones,
  // atomic read-modify-writes are a load and a store.
  std::map<std::string, std::pair<int, int>> want_mem = {
      {"riscv64", {5, 3}}, {"aarch64", {7, 6}}, {"x86_64", {7, 6}}};
  EXPECT_EQ(run.stats.at("loads"), want_mem[isa].first);
  EXPECT_EQ(run.stats.at("stores"), want_mem[isa].second);
  // x86_64's packed vector instructions by width (addpd, paddd and the two movups; the
  // scalar addsd and mulsd on xmm registers are not packed); other ISAs have no record.
  if (isa == "x86_64") {
    EXPECT_EQ(run.stats.at("extra").at("vector"),
              nlohmann::json({{"xmm", 4}, {"ymm", 0}, {"zmm", 0}, {"shuffle", 0}}));
  } else {
    EXPECT_FALSE(run.stats.at("extra").contains("vector")) << run.stats.at("extra").dump();
  }
}

// x86_64 vector instructions by the widest register they name, and those that move data
// across lanes (shuffle, unpack, extract, a broadcast from a register; not one from memory),
// hand-counted per pass of run_vec, over passes that run from one translation many times.
TEST(QemuPlugin, VectorWidthsAndShufflesMatchHandCounts) {
  std::string elf = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  for (int n : {1, 500}) {
    auto run = RunWithPlugin("x86_64", elf, "", {"vec", std::to_string(n)});
    ASSERT_TRUE(run.process.Success()) << run.process.err;
    EXPECT_EQ(run.stats.at("extra").at("vector"),
              nlohmann::json({{"xmm", 2 * n}, {"ymm", 5 * n}, {"zmm", 0}, {"shuffle", 4 * n}}))
        << "n=" << n;
    // ret of roi_begin, movq, 10 per pass, vzeroupper, call of roi_end.
    EXPECT_EQ(run.stats.at("insn_count").get<int>(), 4 + 10 * n) << "n=" << n;
  }
  // Off with the instruction classes.
  auto off = RunWithPlugin("x86_64", elf, "classes=off", {"vec", "10"});
  ASSERT_TRUE(off.process.Success()) << off.process.err;
  EXPECT_FALSE(off.stats.at("extra").contains("vector"));
}

// raw=on: loads of bytes a recent store wrote, hand-counted per pass of run_raw (one with 5
// stores since, one right after a 32-byte store of what it reads, one of bytes never stored);
// the 32-byte store and load reach the plugin as four 8-byte pieces each and count once.
TEST(QemuPlugin, StoreToLoadDistancesMatchHandCounts) {
  std::string elf = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  for (int n : {1, 300}) {
    auto run = RunWithPlugin("x86_64", elf, "raw=on", {"raw", std::to_string(n)});
    ASSERT_TRUE(run.process.Success()) << run.process.err;
    EXPECT_EQ(run.stats.at("extra").at("store_load"),
              nlohmann::json({{"within_4", n}, {"within_16", 2 * n}, {"within_64", 2 * n}}))
        << "n=" << n;
    // The caches still see every access (the short path is off with raw=on): the same
    // counts as without it.
    auto plain = RunWithPlugin("x86_64", elf, "", {"raw", std::to_string(n)});
    ASSERT_TRUE(plain.process.Success()) << plain.process.err;
    EXPECT_EQ(run.stats.at("caches"), plain.stats.at("caches")) << "n=" << n;
    EXPECT_EQ(run.stats.at("loads"), plain.stats.at("loads"));
    EXPECT_FALSE(plain.stats.at("extra").contains("store_load"));
  }
}

TEST_P(PerIsa, BranchPredictorOnKnownPatterns) {
  const std::string isa = GetParam();
  std::string elf = BuildRoiProgram(isa, "static");
  ASSERT_FALSE(elf.empty());
  // Always-taken loop branch, taken 999 times then not taken: a bimodal counter that
  // starts weakly not-taken mispredicts the first and the last. gshare with 12 history
  // bits sees 13 new histories (13 cold counters) before it settles, plus the exit.
  auto bimodal = RunWithPlugin(isa, elf, "bpred_kind=bimodal", {"count", "1000"});
  auto gshare = RunWithPlugin(isa, elf, "bpred_kind=gshare,bpred_entries=4096,bpred_history=12",
                              {"count", "1000"});
  ASSERT_TRUE(bimodal.process.Success()) << bimodal.process.err;
  ASSERT_TRUE(gshare.process.Success()) << gshare.process.err;
  EXPECT_EQ(bimodal.stats.at("branch_mispredicts"), 2);
  EXPECT_EQ(gshare.stats.at("branch_mispredicts"), 14);
  EXPECT_EQ(gshare.stats.at("extra").at("bpred"),
            nlohmann::json({{"kind", "gshare"}, {"entries", 4096}, {"history_bits", 12}}));

  // A branch alternating taken / not taken: bimodal gets about half of it wrong, gshare
  // learns the pattern from the global history.
  auto alt_bimodal = RunWithPlugin(isa, elf, "bpred_kind=bimodal", {"branches", "1000"});
  auto alt_gshare = RunWithPlugin(isa, elf, "bpred_kind=gshare", {"branches", "1000"});
  ASSERT_TRUE(alt_bimodal.process.Success()) << alt_bimodal.process.err;
  ASSERT_TRUE(alt_gshare.process.Success()) << alt_gshare.process.err;
  EXPECT_EQ(alt_bimodal.stats.at("branches"), 2000);
  EXPECT_GE(alt_bimodal.stats.at("branch_mispredicts").get<uint64_t>(), 450u);
  EXPECT_LE(alt_gshare.stats.at("branch_mispredicts").get<uint64_t>(), 30u);

  // Tournament (counters start at 0): the loop branch's local history (11 bits) and the
  // global history (13 bits, ones from the loop and the jump back from the ROI's begin)
  // are each new for the first iterations; it is right once both have seen the all-taken
  // history twice (13 misses), and wrong at the exit, as gshare.
  const std::string tournament =
      "bpred_kind=tournament,bpred_entries=8192,bpred_local_entries=2048,"
      "bpred_local_counters=2048";
  auto tour = RunWithPlugin(isa, elf, tournament, {"count", "1000"});
  ASSERT_TRUE(tour.process.Success()) << tour.process.err;
  EXPECT_EQ(tour.stats.at("branch_mispredicts"), 14);
  EXPECT_EQ(tour.stats.at("extra").at("bpred"),
            nlohmann::json({{"kind", "tournament"}, {"entries", 8192}, {"history_bits", 0},
                            {"local_entries", 2048}, {"local_counters", 2048}}));
  // The alternating branch: its local history predicts it.
  auto alt_tour = RunWithPlugin(isa, elf, tournament, {"branches", "1000"});
  ASSERT_TRUE(alt_tour.process.Success()) << alt_tour.process.err;
  EXPECT_LE(alt_tour.stats.at("branch_mispredicts").get<uint64_t>(), 30u);
}

// TAGE (x86_64 has the nested-loop kernel): 400 runs of a 24-iteration loop. gshare's 14
// history bits hold only ones at the inner loop's exit, so it mispredicts every exit; TAGE's
// longer histories (up to 64 bits here) see the 24 ones and the exit coming.
TEST(QemuPlugin, TageLearnsTheExitOfALoopLongerThanGshareHistory) {
  std::string elf = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  auto gshare = RunWithPlugin("x86_64", elf, "bpred_kind=gshare,bpred_entries=16384,bpred_history=14",
                              {"nested", "400", "24"});
  auto tage = RunWithPlugin("x86_64", elf,
                            "bpred_kind=tage,bpred_entries=4096,bpred_tagged_entries=1024,bpred_tables=6,"
                            "bpred_max_history=64",
                            {"nested", "400", "24"});
  ASSERT_TRUE(gshare.process.Success()) << gshare.process.err;
  ASSERT_TRUE(tage.process.Success()) << tage.process.err;
  EXPECT_EQ(gshare.stats.at("branches"), 400 * 24 + 400);
  EXPECT_GE(gshare.stats.at("branch_mispredicts").get<uint64_t>(), 400u);
  EXPECT_LE(tage.stats.at("branch_mispredicts").get<uint64_t>(), 60u);
  EXPECT_EQ(tage.stats.at("extra").at("bpred"),
            nlohmann::json({{"kind", "tage"}, {"entries", 4096}, {"history_bits", 0}, {"tagged_entries", 1024},
                            {"tables", 6}, {"max_history", 64}}));
}

struct StrideCase {
  const char* name;
  std::string plugin_opts;
  uint64_t bytes, stride, passes;
  bool store;
  std::map<std::string, uint64_t> l1d;
};

// Sweeps with one 8-byte access per stride; L1D 32 KiB, 8 ways, 64-byte lines unless the
// case says otherwise. The ROI has no other data accesses on riscv64 and aarch64.
TEST(QemuPlugin, CacheMissesMatchHandComputedCounts) {
  std::vector<StrideCase> cases = {
      // 16 KiB fits: 256 cold misses, then 3 passes of hits.
      {"fits", "", 16384, 64, 4, false,
       {{"read_hits", 768}, {"read_misses", 256}, {"write_hits", 0}, {"write_misses", 0}}},
      // Exactly the capacity (64 sets x 8 ways) still fits under LRU.
      {"exact", "", 32768, 64, 3, false,
       {{"read_hits", 1024}, {"read_misses", 512}, {"write_hits", 0}, {"write_misses", 0}}},
      // Twice the capacity: LRU evicts every line before its reuse.
      {"thrash", "", 65536, 64, 4, false,
       {{"read_hits", 0}, {"read_misses", 4096}, {"write_hits", 0}, {"write_misses", 0}}},
      {"thrash_fifo", "l1d_policy=fifo", 65536, 64, 4, false,
       {{"read_hits", 0}, {"read_misses", 4096}, {"write_hits", 0}, {"write_misses", 0}}},
      {"stores", "", 65536, 64, 2, true,
       {{"read_hits", 0}, {"read_misses", 0}, {"write_hits", 0}, {"write_misses", 2048}}},
      // 8-byte stride: one miss per 64-byte line, 7 hits.
      {"stride8", "", 8192, 8, 1, false,
       {{"read_hits", 896}, {"read_misses", 128}, {"write_hits", 0}, {"write_misses", 0}}},
      // Direct-mapped 4 KiB: a 8 KiB sweep conflicts in every set.
      {"direct_mapped", "l1d_size=4096,l1d_ways=1", 8192, 64, 3, false,
       {{"read_hits", 0}, {"read_misses", 384}, {"write_hits", 0}, {"write_misses", 0}}},
      // 128-byte lines halve the misses of a 64-byte stride.
      {"line128", "l1d_line=128", 16384, 64, 2, false,
       {{"read_hits", 384}, {"read_misses", 128}, {"write_hits", 0}, {"write_misses", 0}}},
  };
  for (const std::string isa : {"riscv64", "aarch64"}) {
    std::string elf = BuildRoiProgram(isa, "static");
    ASSERT_FALSE(elf.empty());
    for (const auto& c : cases) {
      auto run = RunWithPlugin(isa, elf, c.plugin_opts,
                               {"stride", std::to_string(c.bytes), std::to_string(c.stride),
                                std::to_string(c.passes), c.store ? "store" : "load"});
      ASSERT_TRUE(run.process.Success()) << c.name << ": " << run.process.err;
      EXPECT_EQ(CacheCounts(run.stats, "l1d"), c.l1d) << isa << " " << c.name;
    }
  }
}

TEST(QemuPlugin, MissesGoToTheNextLevel) {
  std::string elf = BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  // 64 KiB thrashes the L1D but fits the 1 MiB L2: 1024 cold misses there, then hits.
  // Instruction fetch misses of the L1I go to the same L2 (all cold without warm-up).
  auto run = RunWithPlugin("riscv64", elf,
                           "warmup=off,l2_size=1048576,l2_ways=16,l3=on,l3_size=4194304",
                           {"stride", "65536", "64", "4", "load"});
  ASSERT_TRUE(run.process.Success()) << run.process.err;
  auto l1i = CacheCounts(run.stats, "l1i");
  auto l2 = CacheCounts(run.stats, "l2");
  auto l3 = CacheCounts(run.stats, "l3");
  EXPECT_EQ(l2["read_hits"], 3072u);
  EXPECT_EQ(l2["read_misses"], 1024u + l1i["read_misses"]);
  EXPECT_EQ(l3["read_misses"], l2["read_misses"]);
  EXPECT_EQ(l3["read_hits"], 0u);
  EXPECT_GE(l1i["read_hits"] + l1i["read_misses"], run.stats.at("insn_count"))
      << "at least one fetch lookup per instruction";
  ASSERT_EQ(run.stats.at("caches").size(), 4u);

  // Without an L2 the L1 misses go straight to the L3.
  auto no_l2 = RunWithPlugin("riscv64", elf, "l2=off,l3=on",
                             {"stride", "65536", "64", "4", "load"});
  ASSERT_TRUE(no_l2.process.Success()) << no_l2.process.err;
  EXPECT_EQ(no_l2.stats.at("caches").size(), 3u);
  EXPECT_EQ(CacheCounts(no_l2.stats, "l3")["read_hits"], 3072u);
}

// l1d after two 64-byte-stride read passes over 16 KiB: warm, and starting cold.
const std::map<std::string, uint64_t> kAllHits = {
    {"read_hits", 512}, {"read_misses", 0}, {"write_hits", 0}, {"write_misses", 0}};
const std::map<std::string, uint64_t> kColdStart = {
    {"read_hits", 256}, {"read_misses", 256}, {"write_hits", 0}, {"write_misses", 0}};

// The caches see the program before the ROI (as a real run's would be warm) unless
// warmup=off; the ROI's counts exclude the warm-up accesses either way.
TEST(QemuPlugin, CachesWarmUpBeforeTheRoi) {
  std::string elf = BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  std::vector<std::string> args = {"stride", "16384", "64", "2", "load", "warm"};
  auto warm = RunWithPlugin("riscv64", elf, "", args);
  auto cold = RunWithPlugin("riscv64", elf, "warmup=off", args);
  ASSERT_TRUE(warm.process.Success()) << warm.process.err;
  ASSERT_TRUE(cold.process.Success()) << cold.process.err;
  EXPECT_EQ(CacheCounts(warm.stats, "l1d"), kAllHits);
  EXPECT_EQ(CacheCounts(cold.stats, "l1d"), kColdStart);
  EXPECT_EQ(warm.stats.at("loads"), 512) << "warm-up accesses are not counted";
  // Reuse distances warm up too: no first touches in the ROI.
  EXPECT_EQ(warm.stats.at("reuse_log2").back(), 0);
  EXPECT_EQ(cold.stats.at("reuse_log2").back(), 256);
}

// warm_file=F: the data objects local to source file F (here roi_main.c's static buffers,
// stride_buf first among them) pass through the caches at the ROI's start, uncounted, as the
// calls before a timed one would have left them; without it, or with a file the ELF does not
// name, the ROI touches them cold. An l1d that holds all of them, and no warm-up otherwise.
TEST(QemuPlugin, WarmFileStartsAFilesObjectsWarm) {
  std::string elf = BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  std::vector<std::string> args = {"stride", "16384", "64", "2", "load"};
  const std::string big_l1 = "warmup=off,l1d_size=8388608,l1d_ways=16";
  auto warm = RunWithPlugin("riscv64", elf, big_l1 + ",warm_file=roi_main.c", args);
  auto cold = RunWithPlugin("riscv64", elf, big_l1, args);
  auto other = RunWithPlugin("riscv64", elf, big_l1 + ",warm_file=kernel.c", args);
  ASSERT_TRUE(warm.process.Success()) << warm.process.err;
  ASSERT_TRUE(cold.process.Success()) << cold.process.err;
  ASSERT_TRUE(other.process.Success()) << other.process.err;
  EXPECT_EQ(CacheCounts(warm.stats, "l1d"), kAllHits);
  EXPECT_EQ(CacheCounts(cold.stats, "l1d"), kColdStart);
  EXPECT_EQ(CacheCounts(other.stats, "l1d"), kColdStart);
  EXPECT_EQ(warm.stats.at("loads"), 512) << "the warming touches are not counted";
  EXPECT_EQ(warm.stats.at("reuse_log2").back(), 0);
  EXPECT_EQ(cold.stats.at("reuse_log2").back(), 256);
  // stride_buf (4 MiB), count_buf (128 bytes), setup_work's scratch (32 KiB), sink (8).
  const auto& w = warm.stats.at("extra").at("warm_objects");
  EXPECT_EQ(w.at("file"), "roi_main.c");
  EXPECT_EQ(w.at("objects"), 4);
  EXPECT_EQ(w.at("bytes"), (1 << 22) + 128 + 4096 * 8 + 8);
  EXPECT_EQ(other.stats.at("extra").at("warm_objects").at("objects"), 0);
  EXPECT_FALSE(cold.stats.at("extra").contains("warm_objects"));
}

TEST(QemuPlugin, ReuseDistancesOfKnownSweeps) {
  std::string elf = BuildRoiProgram("aarch64", "static");
  ASSERT_FALSE(elf.empty());
  // 4 passes over 256 lines: 256 first touches, then every access has distance 256.
  auto run = RunWithPlugin("aarch64", elf, "", {"stride", "16384", "64", "4", "load"});
  ASSERT_TRUE(run.process.Success()) << run.process.err;
  std::vector<uint64_t> want(33, 0);
  want[8] = 768;
  want[32] = 256;
  EXPECT_EQ(run.stats.at("reuse_log2").get<std::vector<uint64_t>>(), want);

  // 8-byte stride over 64 lines, twice: 7 of 8 accesses reuse the line just touched
  // (distance 1), the first access of a line in pass 2 has distance 64.
  run = RunWithPlugin("aarch64", elf, "warmup=off", {"stride", "4096", "8", "2", "load"});
  ASSERT_TRUE(run.process.Success()) << run.process.err;
  want.assign(33, 0);
  want[0] = 896;
  want[6] = 64;
  want[32] = 64;
  EXPECT_EQ(run.stats.at("reuse_log2").get<std::vector<uint64_t>>(), want);
  EXPECT_EQ(run.stats.at("extra").at("reuse_lines"), 64);

  // Many distinct lines: the exact stack distance survives the time-stamp compaction
  // (2^14 stamps) — 3 passes over 8192 lines give 2 * 8192 accesses at distance 8192.
  run = RunWithPlugin("aarch64", elf, "cache=off", {"stride", "524288", "64", "3", "load"});
  ASSERT_TRUE(run.process.Success()) << run.process.err;
  want.assign(33, 0);
  want[13] = 2 * 8192;
  want[32] = 8192;
  EXPECT_EQ(run.stats.at("reuse_log2").get<std::vector<uint64_t>>(), want);
}

// Accesses split across two cache lines or two 4 KiB pages (extra.splits), hand-counted: a
// stride-60 sweep of 8-byte loads (one piece each), a sequential sweep (no split: the next
// access of a loop starting where the last ended is no continuation), and on x86_64 32-byte
// ymm stores and loads, which QEMU hands over as four 8-byte pieces (a split is a piece that
// continues its instruction's access onto a new line or page).
TEST_P(PerIsa, SplitAccessesMatchHandComputedCounts) {
  const std::string isa = GetParam();
  std::string elf = BuildRoiProgram(isa, "static");
  ASSERT_FALSE(elf.empty());
  auto expected = [](uint64_t bytes, uint64_t stride, uint64_t size, uint64_t passes) {
    uint64_t line = 0, page = 0;
    for (uint64_t off = 0; off < bytes; off += stride) {
      line += (off % 64) + size > 64;
      page += (off % 4096) + size > 4096;
    }
    return std::make_pair(line * passes, page * passes);
  };
  struct Case {
    std::vector<std::string> args;
    uint64_t size;
  };
  std::vector<Case> cases = {{{"stride", "65536", "60", "2", "load"}, 8},
                             {{"stride", "65536", "60", "1", "store"}, 8},
                             {{"stride", "16384", "8", "3", "store"}, 8}};
  if (isa == "x86_64") {
    cases.push_back({{"vstride", "16384", "40", "2", "store"}, 32});
    cases.push_back({{"vstride", "16384", "36", "1", "load"}, 32});
  }
  for (const auto& c : cases) {
    for (const std::string opts : {"", "l1d_size=24576,l1d_ways=8"}) {   // short, general path
      auto run = RunWithPlugin(isa, elf, opts, c.args);
      ASSERT_TRUE(run.process.Success()) << run.process.err;
      const auto& splits = run.stats.at("extra").at("splits");
      auto [line, page] = expected(std::stoull(c.args[1]), std::stoull(c.args[2]), c.size,
                                   std::stoull(c.args[3]));
      const bool store = c.args[4] == "store";
      const std::string what = c.args[0] + " " + c.args[2] + " " + c.args[4] + " " + opts;
      EXPECT_EQ(splits.at(store ? "line_stores" : "line_loads").get<uint64_t>(), line) << what;
      EXPECT_EQ(splits.at(store ? "page_stores" : "page_loads").get<uint64_t>(), page) << what;
      EXPECT_EQ(splits.at(store ? "line_loads" : "line_stores").get<uint64_t>(), 0u) << what;
      EXPECT_TRUE(splits.at("pieces_joined").get<bool>());
      if (c.args[2] == "60") EXPECT_GT(page, 0u);
    }
  }
}

// The plugin takes a short path for the usual data access (a meminfo its instruction gave
// before, one line, the most recent way of its l1d set) and a general one for the rest.
// l1d with 48 sets (not a power of two) sends every access down the general path; the
// access counts and reuse distances must not depend on which path counted them. Stride 60
// makes some 8-byte accesses straddle two lines.
TEST_P(PerIsa, ShortAndGeneralMemoryPathsCountTheSame) {
  const std::string isa = GetParam();
  std::string elf = BuildRoiProgram(isa, "static");
  ASSERT_FALSE(elf.empty());
  const std::vector<std::vector<std::string>> programs = {
      {"stride", "65536", "60", "3", "load"},
      {"stride", "65536", "60", "2", "store"},
      {"stride", "8192", "8", "4", "store"}};
  for (const auto& args : programs) {
    auto fast = RunWithPlugin(isa, elf, "", args);
    auto general = RunWithPlugin(isa, elf, "l1d_size=24576,l1d_ways=8", args);
    ASSERT_TRUE(fast.process.Success()) << fast.process.err;
    ASSERT_TRUE(general.process.Success()) << general.process.err;
    EXPECT_GT(fast.stats.at("loads").get<uint64_t>() + fast.stats.at("stores").get<uint64_t>(),
              1000u) << args[1];
    for (const char* key : {"insn_count", "loads", "stores", "load_bytes", "store_bytes",
                            "accesses_by_size", "reuse_log2"})
      EXPECT_EQ(fast.stats.at(key), general.stats.at(key)) << key << " " << args[1];
    EXPECT_EQ(fast.stats.at("extra").at("reuse_lines"),
              general.stats.at("extra").at("reuse_lines"));
  }
}

TEST(QemuPlugin, GroupsSwitchedOffAreAbsent) {
  std::string elf = BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  auto run = RunWithPlugin("riscv64", elf, "classes=off,mem=off,cache=off,bpred=off,reuse=off",
                           {"count", "1000"});
  ASSERT_TRUE(run.process.Success()) << run.process.err;
  EXPECT_EQ(run.stats.at("insn_count"), 4003);
  for (const char* key : {"classes", "loads", "stores", "accesses_by_size", "caches",
                          "branches", "branch_mispredicts", "reuse_log2"})
    EXPECT_FALSE(run.stats.contains(key)) << key;
  auto parsed = SimStats::FromJson(run.stats, "plugin output");
  ASSERT_TRUE(parsed.ok()) << parsed.message();
  EXPECT_FALSE(parsed->loads.has_value());
  EXPECT_TRUE(parsed->caches.empty());
}

// Every memory access is seen although only instructions decoded as accessing memory are
// instrumented: the same counts as instrumenting everything (mem_all=on).
TEST_P(PerIsa, MemoryInstrumentationMissesNothing) {
  const std::string isa = GetParam();
  std::string elf = BuildRoiProgram(isa, "static", 3000);
  ASSERT_FALSE(elf.empty());
  auto some = RunWithPlugin(isa, elf, "roi=off,cache=off,reuse=off", {"mix"});
  auto all = RunWithPlugin(isa, elf, "roi=off,cache=off,reuse=off,mem_all=on", {"mix"});
  ASSERT_TRUE(some.process.Success()) << some.process.err;
  ASSERT_TRUE(all.process.Success()) << all.process.err;
  EXPECT_EQ(some.stats.at("loads"), all.stats.at("loads"));
  EXPECT_EQ(some.stats.at("stores"), all.stats.at("stores"));
  EXPECT_EQ(some.stats.at("accesses_by_size"), all.stats.at("accesses_by_size"));
}

struct BadOption {
  std::string opts;
  std::string message;
};

// dep=on: the dependency timing models on run_dep's loops, hand-derived (bpred and caches off,
// so nothing but the operands, the latencies and the width decides): per iteration, a chain of
// 7-cycle multiplies costs 7 cycles in both models; independent multiplies 3 in order (one
// instruction a cycle) and 1.5 out of order (two a cycle); a chain through memory (store, load
// of the same bytes with a 4-cycle load-to-use, add) 8 in order and 6 out of order, where the
// store's one cycle, the load's four and the add's one are the loop-carried chain.
TEST(QemuPlugin, DependencyTimingModelsMatchHandDerivedCycles) {
  std::string elf = BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  auto cycles = [&](const std::string& extra, const std::string& kernel, int n, int width = 2) {
    const std::string opts = "dep=on,bpred=off,cache=off,dep_lat_mul=7,dep_window=64,dep_lat_l1=4" +
                             (",dep_width=" + std::to_string(width));
    auto run = RunWithPlugin("riscv64", elf, opts + extra, {"dep", std::to_string(n), kernel});
    EXPECT_TRUE(run.process.Success()) << run.process.err;
    const auto& dep = run.stats.at("extra").at("dep");
    EXPECT_EQ(dep.at("insns"), run.stats.at("insn_count"));
    const auto& config = run.stats.at("extra").at("dep_config");   // the parameters it ran
    EXPECT_EQ(config.at("width"), width);
    if (extra.find("dep_issue") == std::string::npos)
      EXPECT_EQ(config.at("issue"), config.at("width"));   // the default
    EXPECT_EQ(config.at("lat_mul"), 7);
    EXPECT_EQ(config.at("lat_l1"), 4);
    return std::pair<int64_t, int64_t>{dep.at("inorder_cycles").get<int64_t>(),
                                       dep.at("ooo_cycles").get<int64_t>()};
  };
  struct Case {
    std::string kernel;
    int64_t inorder, ooo;   // cycles per 500 iterations
  };
  for (const auto& c : std::vector<Case>{{"0", 3500, 3500}, {"1", 1500, 750}, {"2", 4000, 3000}}) {
    auto small = cycles("", c.kernel, 500), big = cycles("", c.kernel, 1000);
    EXPECT_EQ(big.first - small.first, c.inorder) << "kernel " << c.kernel;
    EXPECT_EQ(big.second - small.second, c.ooo) << "kernel " << c.kernel;
  }
  // The out-of-order model starts at most dep_issue instructions a cycle, all units together
  // (default: dep_width): independent multiplies (mul, addi, bnez) with 4-wide dispatch and
  // retire and no unit limit take 3 / issue cycles an iteration, and at least the 1-cycle chain
  // of the loop counter's add.
  const std::string wide = ",dep_units_mul=0,dep_units_alu=0,dep_units_branch=0";
  for (const auto& [issue, per500] :
       std::vector<std::pair<std::string, int64_t>>{{"", 500}, {",dep_issue=2", 750},
                                                    {",dep_issue=1", 1500}}) {
    auto small = cycles(wide + issue, "1", 500, 4), big = cycles(wide + issue, "1", 1000, 4);
    EXPECT_EQ(big.second - small.second, per500) << issue;
    if (issue.empty()) EXPECT_EQ(big.first - small.first, 1500);   // in order: unchanged
  }
  // The exact totals of the multiply chain: 7n + 3 (the ROI's first two instructions and the
  // last jump around the chain).
  EXPECT_EQ(cycles("", "0", 1000), std::make_pair(int64_t{7003}, int64_t{7003}));
  // One store-buffer entry drained in 10 cycles: each store waits for the previous one to
  // leave, 11 cycles an iteration (its own cycle and the drain) in both models.
  auto small = cycles(",dep_store_buffer=1,dep_lat_drain=10", "2", 500);
  auto big = cycles(",dep_store_buffer=1,dep_lat_drain=10", "2", 1000);
  EXPECT_EQ(big.second - small.second, 5500);
  EXPECT_EQ(big.first - small.first, 5500);

  // Without forwarding, the chain through memory also waits for the store to drain: the load
  // starts 10 cycles after the store's, 18 cycles an iteration in order, 16 out of order.
  small = cycles(",dep_store_buffer=1,dep_lat_drain=10,dep_forward=off", "2", 500);
  big = cycles(",dep_store_buffer=1,dep_lat_drain=10,dep_forward=off", "2", 1000);
  EXPECT_EQ(big.first - small.first, 9000);
  EXPECT_EQ(big.second - small.second, 8000);

  // A store that missed l1d drains as many cycles longer as its level's latency exceeds
  // l1d's: 1024 stores to cold lines (memory), one entry, so each waits for the one before;
  // 50 more cycles of memory latency cost 50 cycles a store (all but the last, whose drain
  // is after the end), and nothing without a store buffer limit.
  // 1024 accesses to cold lines, run_stride's "load" or "store", with `queue` (dep_store_buffer
  // or dep_load_queue) entries and memory's load-to-use latency `mem`: {inorder, ooo} cycles.
  auto cold = [&](const std::string& access, const std::string& queue, int mem, int entries) {
    auto run = RunWithPlugin("riscv64", elf,
                             "dep=on,bpred=off,dep_lat_l1=1,dep_lat_l2=11,dep_lat_mem=" +
                                 std::to_string(mem) + "," + queue + "=" +
                                 std::to_string(entries),
                             {"stride", "65536", "64", "1", access});
    EXPECT_TRUE(run.process.Success()) << run.process.err;
    const auto& dep = run.stats.at("extra").at("dep");
    return std::pair<int64_t, int64_t>{dep.at("inorder_cycles").get<int64_t>(),
                                       dep.at("ooo_cycles").get<int64_t>()};
  };
  auto stores = [&](int mem, int entries) {
    return cold("store", "dep_store_buffer", mem, entries);
  };
  // The kernel's one line of code, cold, is fetched from memory too: 50 cycles more.
  auto fast = stores(51, 1), slow = stores(101, 1);
  EXPECT_EQ(slow.first - fast.first, 1023 * 50 + 50);
  EXPECT_EQ(slow.second - fast.second, 1023 * 50 + 50);
  auto fast0 = stores(51, 0), slow0 = stores(101, 0);
  EXPECT_EQ(slow0.first - fast0.first, 50);
  EXPECT_EQ(slow0.second - fast0.second, 50);

  // The out-of-order model's load queue: a load holds an entry from dispatch until it retires.
  // With one entry, 1024 loads of cold lines wait each for the one before: 50 more cycles of
  // memory latency cost about 50 cycles a load; with no limit the 64-entry window overlaps
  // them.
  auto loads = [&](int mem, int entries) {
    return cold("load", "dep_load_queue", mem, entries).second;
  };
  int64_t queued = loads(101, 1) - loads(51, 1);   // and the code's cold line, maybe hidden
  EXPECT_GE(queued, 1023 * 50);
  EXPECT_LE(queued, 1025 * 50);
  EXPECT_LT(loads(101, 0) - loads(51, 0), 1024 * 50 / 8);

  // A store whose data is ready only after its address issues in two halves (ooo): in the
  // chain through memory, every iteration's store waits for the add before it.
  auto split = [&](int n) {
    auto run = RunWithPlugin("riscv64", elf, "dep=on,bpred=off,cache=off",
                             {"dep", std::to_string(n), "2"});
    EXPECT_TRUE(run.process.Success()) << run.process.err;
    return run.stats.at("extra").at("dep").at("split_stores").get<int64_t>();
  };
  EXPECT_EQ(split(1000) - split(500), 500);

  // A mispredicted branch restarts fetch dep_mispredict cycles after it resolves: run_count's
  // loop with a bimodal predictor mispredicts twice; in order each costs the full penalty.
  auto count = [&](int penalty) {
    auto run = RunWithPlugin("riscv64", elf,
                             "dep=on,cache=off,bpred_kind=bimodal,dep_mispredict=" +
                                 std::to_string(penalty),
                             {"count", "1000"});
    EXPECT_TRUE(run.process.Success()) << run.process.err;
    EXPECT_EQ(run.stats.at("branch_mispredicts"), 2);
    EXPECT_EQ(run.stats.at("extra").at("dep").at("mispredicts"), 2);
    return run.stats.at("extra").at("dep");
  };
  auto none = count(0), twenty = count(20);
  EXPECT_EQ(twenty.at("inorder_cycles").get<int64_t>() - none.at("inorder_cycles").get<int64_t>(),
            40);
  int64_t ooo = twenty.at("ooo_cycles").get<int64_t>() - none.at("ooo_cycles").get<int64_t>();
  EXPECT_GE(ooo, 20);
  EXPECT_LE(ooo, 40);
}

// dep=on: an instruction fetch that misses l1i stalls the front end for the serving level's
// latency beyond l1's. run_dep's straight-line kernel with warm-up off and only l1i on, so every
// miss is served by memory: 7 cold lines (the ROI functions' line, the line of the jump to the
// aligned block, its four lines, the line of the call to simtune_roi_end). In order each stall
// adds its cycles: 50 more cycles of memory latency cost 7 x 50. With the next-line prefetcher,
// of the six consecutive lines from the jump's to the call's every other one comes with the line
// before: 4 stalls.
TEST(QemuPlugin, DependencyTimingStallsFetchOnInstructionMisses) {
  std::string elf = BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  struct Out {
    int64_t inorder, ooo, misses;
  };
  auto run = [&](int mem, bool next_line, const std::string& extra = "") {
    auto r = RunWithPlugin("riscv64", elf,
                           "dep=on,bpred=off,warmup=off,l1d=off,l2=off,l3=off,dep_lat_l1=1,"
                           "dep_lat_mem=" + std::to_string(mem) +
                               ",dep_fetch_next_line=" + (next_line ? "on" : "off") + extra,
                           {"dep", "1", "3"});
    EXPECT_TRUE(r.process.Success()) << r.process.err;
    EXPECT_EQ(r.stats.at("extra").at("dep_config").at("fetch_next_line"), next_line);
    const auto& dep = r.stats.at("extra").at("dep");
    return Out{dep.at("inorder_cycles").get<int64_t>(), dep.at("ooo_cycles").get<int64_t>(),
               r.stats.at("caches").at(0).at("read_misses").get<int64_t>()};
  };
  Out fast = run(51, false), slow = run(101, false);
  Out fast_next = run(51, true), slow_next = run(101, true);
  EXPECT_EQ(fast.misses, 7);
  EXPECT_EQ(slow_next.misses, 7);   // the prefetcher changes the timing, not the cache
  EXPECT_EQ(slow.inorder - fast.inorder, 7 * 50);
  EXPECT_EQ(slow_next.inorder - fast_next.inorder, 4 * 50);
  // Out of order, a stall can hide behind work already in the window (the last one behind the
  // 64-add chain), never cost more.
  EXPECT_LE(slow.ooo - fast.ooo, 7 * 50);
  EXPECT_GE(slow.ooo - fast.ooo, 6 * 50);
  EXPECT_LT(slow_next.ooo - fast_next.ooo, slow.ooo - fast.ooo);
  // dep_fetch_stalls=off (code a reference runs warm): the same misses, no stalls.
  Out fast_off = run(51, false, ",dep_fetch_stalls=off"), slow_off = run(101, false, ",dep_fetch_stalls=off");
  EXPECT_EQ(slow_off.misses, 7);
  EXPECT_EQ(slow_off.inorder, fast_off.inorder);
  EXPECT_EQ(slow_off.ooo, fast_off.ooo);
}

// run_dep(n, which) under the plugin options opts: the record's extra.
nlohmann::json RunDep(const std::string& elf, const std::string& opts, int which, int n) {
  auto r = RunWithPlugin("riscv64", elf, opts, {"dep", std::to_string(n), std::to_string(which)});
  EXPECT_TRUE(r.process.Success()) << r.process.err;
  return r.stats.at("extra");
}

// extra.dep's `key` per iteration of run_dep's `which` (2000 iterations against 1000); a key the
// record lacks counts 0.
double DepPerIteration(const std::string& elf, const std::string& opts, int which,
                       const char* key) {
  auto value = [&](int n) {
    nlohmann::json dep = RunDep(elf, opts, which, n).at("dep");
    return dep.contains(key) ? dep.at(key).get<double>() : 0.0;
  };
  return (value(2000) - value(1000)) / 1000;
}

// dep=on, dep_fetch_width=3 (ooo): fetch delivers up to three instructions a cycle from one
// 64-byte line, a group ending after the taken branch. run_dep's six-instruction loop (four
// independent addi, the count, the branch; caches and predictor off, 3 wide, 4 ALUs): in one
// line, two groups an iteration, as many cycles as 3-wide dispatch needs anyway; crossing into
// the next line after its second instruction, three ([2] [3] [1]); starting with an
// instruction that straddles two lines, three as well (a group that only fetches the first
// line, then [3] [3], the straddler heading the second). Without fetch groups all three take
// two cycles an iteration.
TEST(QemuPlugin, DependencyTimingFetchesGroupsFromOneLine) {
  std::string elf = BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  auto opts = [](int width) {
    return "dep=on,bpred=off,cache=off,dep_width=3,dep_window=64,dep_units_alu=4,dep_fetch_width=" +
           std::to_string(width);
  };
  auto run = [&](int which, int n, int width) { return RunDep(elf, opts(width), which, n); };
  auto per_iteration = [&](int which, int width, const char* key) {
    return DepPerIteration(elf, opts(width), which, key);
  };
  EXPECT_NEAR(per_iteration(4, 3, "ooo_cycles"), 2.0, 0.01);
  EXPECT_NEAR(per_iteration(5, 3, "ooo_cycles"), 3.0, 0.01);
  EXPECT_NEAR(per_iteration(6, 3, "ooo_cycles"), 3.0, 0.01);
  EXPECT_NEAR(per_iteration(4, 3, "fetch_groups"), 2.0, 0.01);
  EXPECT_NEAR(per_iteration(5, 3, "fetch_groups"), 3.0, 0.01);
  EXPECT_NEAR(per_iteration(6, 3, "fetch_groups"), 3.0, 0.01);
  for (int which : {4, 5, 6})
    EXPECT_NEAR(per_iteration(which, 0, "ooo_cycles"), 2.0, 0.01) << which;
  // The setting is in the record only when on (records from before it match); so is the count.
  auto on = run(5, 10, 3), off = run(5, 10, 0);
  EXPECT_EQ(on.at("dep_config").at("fetch_width"), 3);
  EXPECT_FALSE(off.at("dep_config").contains("fetch_width"));
  EXPECT_FALSE(off.at("dep").contains("fetch_groups"));
  // The in-order model is not affected.
  EXPECT_EQ(on.at("dep").at("inorder_cycles"), off.at("dep").at("inorder_cycles"));
}

// dep_inorder_fetch=on: the in-order model fetches one instruction a cycle from one line, and
// a 4-byte instruction straddling two lines costs a cycle more unless its first line was the
// one fetched just before. run_dep's six-instruction loops (caches and predictor off): in one
// line (4) and crossing into the next between two instructions (5), six cycles an iteration
// either way; starting with a straddler (6), seven, since the branch back comes from the second
// line. Off: six each. The out-of-order model is not affected.
TEST(QemuPlugin, DependencyTimingInOrderFetchPaysForStraddlers) {
  std::string elf = BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  auto opts = [](bool on) {
    return std::string("dep=on,bpred=off,cache=off,dep_inorder_fetch=") + (on ? "on" : "off");
  };
  auto per_iteration = [&](int which, bool on, const char* key) {
    return DepPerIteration(elf, opts(on), which, key);
  };
  EXPECT_NEAR(per_iteration(4, true, "inorder_cycles"), 6.0, 0.01);
  EXPECT_NEAR(per_iteration(5, true, "inorder_cycles"), 6.0, 0.01);
  EXPECT_NEAR(per_iteration(6, true, "inorder_cycles"), 7.0, 0.01);
  for (int which : {4, 5, 6}) {
    EXPECT_NEAR(per_iteration(which, false, "inorder_cycles"), 6.0, 0.01) << which;
    EXPECT_NEAR(per_iteration(which, true, "ooo_cycles"),
                per_iteration(which, false, "ooo_cycles"), 1e-9)
        << which;
  }
  auto on = RunDep(elf, opts(true), 6, 10), off = RunDep(elf, opts(false), 6, 10);
  EXPECT_EQ(on.at("dep_config").at("inorder_fetch"), true);
  EXPECT_FALSE(off.at("dep_config").contains("inorder_fetch"));
}

// dep_forward_fail_drain=on: a load that stores still in the buffer only partly cover (run_dep
// 7: sw, then ld of those 4 bytes and 4 more) waits until they have drained, then reads the
// cache; forwarding serves a load one store covers (run_dep 2: sd, ld of the same 8 bytes) as
// before. A store takes 20 cycles to drain here (and the buffer drains one store every 20, which
// bounds run_dep 7 to 20 cycles an iteration without the wait): with it, every step of the chain
// pays the drain, then the load's 3 cycles and the add's 1.
TEST(QemuPlugin, DependencyTimingPartlyForwardedLoadsWaitForTheDrain) {
  std::string elf = BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  auto opts = [](bool drain) {
    return std::string("dep=on,bpred=off,cache=off,dep_store_buffer=8,dep_lat_drain=20,"
                       "dep_forward_fail_drain=") +
           (drain ? "on" : "off");
  };
  auto run = [&](int which, int n, bool drain) { return RunDep(elf, opts(drain), which, n); };
  auto per_iteration = [&](int which, bool drain, const char* key) {
    return DepPerIteration(elf, opts(drain), which, key);
  };
  EXPECT_NEAR(per_iteration(7, true, "forward_fails"), 1.0, 1e-9);
  EXPECT_NEAR(per_iteration(7, false, "ooo_cycles"), 20.0, 0.01);
  EXPECT_GE(per_iteration(7, true, "ooo_cycles"), 24.0);
  EXPECT_NEAR(per_iteration(2, true, "forward_fails"), 0.0, 1e-9);
  EXPECT_NEAR(per_iteration(2, true, "ooo_cycles"), per_iteration(2, false, "ooo_cycles"), 1e-9);
  auto on = run(7, 10, true), off = run(7, 10, false);
  EXPECT_EQ(on.at("dep_config").at("forward_fail_drain"), true);
  EXPECT_FALSE(off.at("dep_config").contains("forward_fail_drain"));
  EXPECT_FALSE(off.at("dep").contains("forward_fails"));
}

// dep=on on x86_64: register operands from the AT&T disassembly, run_dep's loops hand-derived
// as on riscv64 (bpred and caches off; multiplies 7 cycles, FP 7, load-to-use 4, 2 wide). Per
// iteration: a chain of imul 7 in both models; independent three-operand imul (no read of the
// destination) 3 in order, 1.5 out of order; a chain through memory (store, load, add) 8 / 6;
// a load-op multiply-add whose loads are independent and whose accumulator is carried: the FP
// latency, 7; a pointer chase through a load and a load-op add (movq (%rax), %rax; addq
// 8(%rax), %rax): two loads and the add, 9; read-modify-writes of one word (addq %rdx,
// (%r12)): each load waits for the last one's store, 4 + 1 = 5; sign-extending loads of an
// index the last one gave (movslq, not a string instruction): 4. The loop's subq / jnz carry
// the flags, not the kernels' chains.
TEST(QemuPlugin, DependencyTimingDecodesX86) {
  std::string elf = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  auto cycles = [&](const std::string& kernel, int n) {
    auto run = RunWithPlugin("x86_64", elf,
                             "dep=on,bpred=off,cache=off,dep_lat_mul=7,dep_lat_fp=7,"
                             "dep_window=64,dep_lat_l1=4,dep_width=2",
                             {"dep", std::to_string(n), kernel});
    EXPECT_TRUE(run.process.Success()) << run.process.err;
    const auto& dep = run.stats.at("extra").at("dep");
    EXPECT_EQ(dep.at("insns"), run.stats.at("insn_count"));
    return std::pair<int64_t, int64_t>{dep.at("inorder_cycles").get<int64_t>(),
                                       dep.at("ooo_cycles").get<int64_t>()};
  };
  struct Case {
    std::string kernel;
    int64_t inorder, ooo;   // cycles per 500 iterations
  };
  // rep stosb: QEMU runs each byte's iteration as an instruction; the models count them and
  // skip them (a core's fast-string microcode stores tens of bytes a cycle): 31 more
  // iterations, the same cycles.
  auto run_rep = [&](int n) {
    auto run = RunWithPlugin("x86_64", elf, "dep=on,bpred=off,cache=off", {"dep", std::to_string(n), "7"});
    EXPECT_TRUE(run.process.Success()) << run.process.err;
    return run.stats;
  };
  auto rep_small = run_rep(500), rep_big = run_rep(1000);
  EXPECT_EQ(rep_big.at("insn_count").get<int64_t>() - rep_small.at("insn_count").get<int64_t>(), 31);
  EXPECT_EQ(rep_big.at("extra").at("dep").at("insns"), rep_big.at("insn_count"));
  EXPECT_EQ(rep_big.at("extra").at("dep").at("ooo_cycles"), rep_small.at("extra").at("dep").at("ooo_cycles"));
  EXPECT_EQ(rep_big.at("extra").at("dep").at("inorder_cycles"),
            rep_small.at("extra").at("dep").at("inorder_cycles"));
  for (const auto& c : std::vector<Case>{{"0", 3500, 3500},
                                         {"1", 1500, 750},
                                         {"2", 4000, 3000},
                                         {"3", 3500, 3500},
                                         {"4", 4500, 4500},
                                         {"5", 2500, 2500},
                                         {"6", 2000, 2000}}) {
    auto small = cycles(c.kernel, 500), big = cycles(c.kernel, 1000);
    EXPECT_EQ(big.first - small.first, c.inorder) << "kernel " << c.kernel;
    EXPECT_EQ(big.second - small.second, c.ooo) << "kernel " << c.kernel;
  }
}

// dep_split_store_line / _page: a 32-byte store split across two lines or two 4 KiB pages holds
// the store buffer's drain that many cycles more, and the next store drains that much later.
// run_vstride's stores (stride 40 over 16 KiB: 410 stores, hand-counted line and page splits)
// with a one-entry store buffer and 20 cycles a drain, so every store waits for the one before
// to drain: each split adds exactly its cycles, in both models. Without a store buffer the options cost nothing,
// and they appear in dep_config only when set.
TEST(QemuPlugin, DependencyTimingChargesSplitStores) {
  std::string elf = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  // The last store (16360: across the buffer's end, a page split) has no store after it to
  // wait, and the ROI ends without draining: its cycles do not show.
  uint64_t line_only = 0, page = 0;
  for (uint64_t off = 0; off + 40 < 16384; off += 40) {
    bool p = (off % 4096) + 32 > 4096;
    page += p;
    line_only += !p && (off % 64) + 32 > 64;
  }
  ASSERT_EQ(page, 2u);
  auto run = [&](const std::string& opts) {
    auto r = RunWithPlugin("x86_64", elf, "dep=on,bpred=off,cache=off" + opts,
                           {"vstride", "16384", "40", "1", "store"});
    EXPECT_TRUE(r.process.Success()) << r.process.err;
    return r.stats.at("extra");
  };
  auto cycles = [](const nlohmann::json& extra) {
    return std::pair<int64_t, int64_t>{extra.at("dep").at("inorder_cycles").get<int64_t>(),
                                       extra.at("dep").at("ooo_cycles").get<int64_t>()};
  };
  auto base = run(",dep_store_buffer=1,dep_lat_drain=20");
  EXPECT_FALSE(base.at("dep_config").contains("split_store_page"));
  auto line = run(",dep_store_buffer=1,dep_lat_drain=20,dep_split_store_line=5");
  auto both = run(",dep_store_buffer=1,dep_lat_drain=20,dep_split_store_line=5,dep_split_store_page=40");
  EXPECT_EQ(both.at("dep_config").at("split_store_line"), 5);
  EXPECT_EQ(both.at("dep_config").at("split_store_page"), 40);
  // A page split costs the page's cycles, not the line's too.
  EXPECT_EQ(cycles(line).first - cycles(base).first, int64_t(5 * line_only));
  EXPECT_EQ(cycles(line).second - cycles(base).second, int64_t(5 * line_only));
  EXPECT_EQ(cycles(both).first - cycles(base).first, int64_t(5 * line_only + 40 * page));
  EXPECT_EQ(cycles(both).second - cycles(base).second, int64_t(5 * line_only + 40 * page));
  auto unbuffered = run(""), unbuffered_split = run(",dep_split_store_page=40");
  EXPECT_EQ(cycles(unbuffered), cycles(unbuffered_split));
}

// dep_masked_store: dispatch stalls that many cycles after a masked store (vmaskmovps to
// memory; run_dep's kernel 8). Per iteration (store, subq, jnz; 2 wide): in order the subq
// waits the stall, the jnz a cycle more and the next store one more: 20 + 2; out of order the
// subq and jnz dispatch together after the stall, the next store a cycle later: 20 + 1.
// Without the option the store costs what any store does.
TEST(QemuPlugin, DependencyTimingStallsAfterMaskedStores) {
  std::string elf = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  auto cycles = [&](const std::string& opts, int n) {
    auto run = RunWithPlugin("x86_64", elf, "dep=on,bpred=off,cache=off,dep_width=2" + opts,
                             {"dep", std::to_string(n), "8"});
    EXPECT_TRUE(run.process.Success()) << run.process.err;
    const auto& extra = run.stats.at("extra");
    EXPECT_EQ(extra.at("dep_config").contains("masked_store"), !opts.empty());
    return std::pair<int64_t, int64_t>{extra.at("dep").at("inorder_cycles").get<int64_t>(),
                                       extra.at("dep").at("ooo_cycles").get<int64_t>()};
  };
  auto small = cycles(",dep_masked_store=20", 500), big = cycles(",dep_masked_store=20", 1000);
  EXPECT_EQ(big.first - small.first, 500 * 22);
  EXPECT_EQ(big.second - small.second, 500 * 21);
  auto plain_small = cycles("", 500), plain_big = cycles("", 1000);
  EXPECT_EQ(plain_big.first - plain_small.first, 500 * 3);
  EXPECT_EQ(plain_big.second - plain_small.second, 750);
}

// run_dep's kernel `kernel` for n iterations on x86_64 under dep=on (branch predictor and
// caches off, 2 wide, l1 4 cycles, then `opts`): the plugin's extra block.
static nlohmann::json X86Dep(const std::string& elf, const std::string& opts, int n,
                             const char* kernel) {
  auto run = RunWithPlugin("x86_64", elf,
                           "dep=on,bpred=off,cache=off,dep_width=2,dep_lat_l1=4" + opts,
                           {"dep", std::to_string(n), kernel});
  EXPECT_TRUE(run.process.Success()) << run.process.err;
  return run.stats.at("extra");
}

// Out-of-order cycles 500 iterations add (1000 against 500: the ROI's fixed cost cancels).
static int64_t X86DepPer500(const std::string& elf, const std::string& opts, const char* kernel) {
  return X86Dep(elf, opts, 1000, kernel).at("dep").at("ooo_cycles").get<int64_t>() -
         X86Dep(elf, opts, 500, kernel).at("dep").at("ooo_cycles").get<int64_t>();
}

// dep_forward_int / dep_forward_fp: a load of bytes a store still holds in the store buffer
// gets them in that many cycles (store-to-load forwarding), by its destination's class.
// run_dep's kernel 2 (movq %rax, (%r12); movq (%r12), %rax; addq $1, %rax; 2 wide, l1 4, a
// 4-entry store buffer): the chain store 1 + load + add 1 per iteration, 1 + 4 + 1 = 6 out of
// order as before; with dep_forward_int=0 (Zen 4's memory renaming) the chain is 1 + 0 + 1 = 2
// and dispatch binds instead: five instructions 2 a cycle, 2.5. An FP setting leaves an
// integer load alone.
TEST(QemuPlugin, DependencyTimingForwardsFromTheStoreBuffer) {
  std::string elf = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  auto ooo = [&](const std::string& opts, int n) {
    return X86Dep(elf, ",dep_store_buffer=4" + opts, n, "2");
  };
  auto per_500 = [&](const std::string& opts) {
    return X86DepPer500(elf, ",dep_store_buffer=4" + opts, "2");
  };
  EXPECT_EQ(per_500(""), 500 * 6);
  EXPECT_EQ(per_500(",dep_forward_int=0"), 1250);
  EXPECT_EQ(per_500(",dep_forward_fp=9"), 500 * 6);
  auto extra = ooo(",dep_forward_int=0", 10);
  EXPECT_EQ(extra.at("dep_config").at("forward_int"), 0);
  EXPECT_FALSE(extra.at("dep_config").contains("forward_fp"));
  EXPECT_FALSE(ooo("", 10).at("dep_config").contains("forward_int"));
}

// dep_forward_fail_int / _fp: a load whose bytes stores in the store buffer hold, but no one of
// them all, waits that many cycles instead of forwarding, and nothing after it dispatches
// before then. run_dep's kernel 9 (movl %eax, (%r12); movl %eax, 4(%r12); movq (%r12), %rax;
// addq $1, %rax; subq; jnz; 2 wide, l1 4): a plain iteration is the chain store 1 + load 4 +
// add 1 = 6 cycles. With a failed forward of F cycles it is F + 3: the load's F in place of
// l1's 4, and the instructions after it (the add, the loop, the next stores) dispatch only
// from then, two a cycle, one cycle more. Kernel 2 (one store holds the whole load) forwards
// as before, and an FP setting leaves integer loads alone.
// The count of such loads is in extra.dep.forward_fails only when set.
TEST(QemuPlugin, DependencyTimingChargesFailedForwarding) {
  std::string elf = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  auto ooo = [&](const std::string& opts, int n, const char* kernel) {
    return X86Dep(elf, ",dep_store_buffer=4" + opts, n, kernel);
  };
  auto per_500 = [&](const std::string& opts, const char* kernel) {
    return X86DepPer500(elf, ",dep_store_buffer=4" + opts, kernel);
  };
  int64_t plain = per_500("", "9");
  EXPECT_EQ(plain, 500 * 6);
  EXPECT_EQ(per_500(",dep_forward_fail_int=20", "9"), 500 * 23);
  EXPECT_EQ(per_500(",dep_forward_fail_int=30", "9"), 500 * 33);
  EXPECT_EQ(per_500(",dep_forward_fail_fp=20", "9"), plain);
  EXPECT_EQ(per_500(",dep_forward_fail_int=20", "2"), 500 * 6);
  auto extra = ooo(",dep_forward_fail_int=20", 10, "9");
  EXPECT_EQ(extra.at("dep_config").at("forward_fail_int"), 20);
  EXPECT_FALSE(extra.at("dep_config").contains("forward_fail_fp"));
  EXPECT_EQ(extra.at("dep").at("forward_fails"), 10);
  EXPECT_EQ(ooo(",dep_forward_fail_int=20", 10, "2").at("dep").at("forward_fails"), 0);
  EXPECT_FALSE(ooo("", 10, "9").at("dep").contains("forward_fails"));
  EXPECT_FALSE(ooo("", 10, "9").at("dep_config").contains("forward_fail_int"));
}

// dep_l1_fill: a load that missed l1d gets its line no sooner than the fills before it
// allow, one every that many cycles. run_stride over 64 KiB (twice l1d) with a 64-byte stride:
// every load misses l1d and is served by l2, and nothing waits for the loaded values, so
// without the option the loop's six instructions, 2 wide, take 3 cycles a load (two passes
// more: 2048 loads, and the outer loop's three instructions a pass, 6147 cycles); with fills
// of 20 cycles the path binds, 20 cycles a load in both models (40960 cycles, the outer loop
// hidden behind it). Fills of 1 bind nothing. The cycles loads waited are in extra.dep.fill_waits
// and the setting in dep_config, only when set.
TEST(QemuPlugin, DependencyTimingLimitsL1Fills) {
  std::string elf = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  auto extra = [&](const std::string& opts, int passes) {
    auto run = RunWithPlugin("x86_64", elf, "dep=on,bpred=off,dep_width=2" + opts,
                             {"stride", "65536", "64", std::to_string(passes), "load"});
    EXPECT_TRUE(run.process.Success()) << run.process.err;
    return run.stats.at("extra");
  };
  auto two_more = [&](const std::string& opts, const char* model) {
    std::string key = std::string(model) + "_cycles";
    return extra(opts, 4).at("dep").at(key).get<int64_t>() -
           extra(opts, 2).at("dep").at(key).get<int64_t>();
  };
  EXPECT_EQ(two_more("", "ooo"), 2048 * 3 + 3);
  EXPECT_EQ(two_more(",dep_l1_fill=20", "ooo"), 2048 * 20);
  EXPECT_EQ(two_more(",dep_l1_fill=20", "inorder"), 2048 * 20);
  EXPECT_EQ(two_more(",dep_l1_fill=1", "ooo"), 2048 * 3 + 3);
  // Stores that miss take the same path as they drain: once the store buffer (8) is full,
  // one store a fill (20 cycles).
  auto stores = [&](const std::string& opts, int passes) {
    auto run = RunWithPlugin("x86_64", elf, "dep=on,bpred=off,dep_width=2,dep_store_buffer=8" + opts,
                             {"stride", "65536", "64", std::to_string(passes), "store"});
    EXPECT_TRUE(run.process.Success()) << run.process.err;
    return run.stats.at("extra").at("dep").at("ooo_cycles").get<int64_t>();
  };
  EXPECT_EQ(stores(",dep_l1_fill=20", 4) - stores(",dep_l1_fill=20", 2), 2048 * 20);
  // Without: 3.5 cycles a store (its data takes an issue slot of its own), and the outer loop.
  EXPECT_EQ(stores("", 4) - stores("", 2), 2048 * 7 / 2 + 3);
  auto on = extra(",dep_l1_fill=20", 2);
  EXPECT_EQ(on.at("dep_config").at("l1_fill"), 20);
  EXPECT_GT(on.at("dep").at("fill_waits").get<int64_t>(), 0);
  auto off = extra("", 2);
  EXPECT_FALSE(off.at("dep").contains("fill_waits"));
  EXPECT_FALSE(off.at("dep_config").contains("l1_fill"));
}

// dep_split_load: a load across two l1d lines takes that many more load-unit slots (ooo).
// run_vstride's 32-byte loads with a 16-byte stride over 16 KiB: every fourth (offset 48 in
// its line) crosses into the next line. One load unit, and room for the rest (8 wide, 4 ALUs
// and branch units): the loop runs a load a cycle, so each split load adds one cycle, 256 a
// pass. The count is in extra.dep.split_loads and the setting in dep_config, only when set.
TEST(QemuPlugin, DependencyTimingChargesSplitLoads) {
  std::string elf = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  auto extra = [&](const std::string& opts, int passes) {
    auto run = RunWithPlugin("x86_64", elf,
                             "dep=on,bpred=off,dep_width=8,dep_units_load=1,dep_units_alu=4,"
                             "dep_units_branch=4" + opts,
                             {"vstride", "16384", "16", std::to_string(passes), "load"});
    EXPECT_TRUE(run.process.Success()) << run.process.err;
    return run.stats.at("extra");
  };
  auto two_more = [&](const std::string& opts) {
    return extra(opts, 4).at("dep").at("ooo_cycles").get<int64_t>() -
           extra(opts, 2).at("dep").at("ooo_cycles").get<int64_t>();
  };
  int64_t plain = two_more("");
  EXPECT_EQ(plain, 2 * 1024);   // the outer loop's instructions hide behind the loads
  EXPECT_EQ(two_more(",dep_split_load=1"), plain + 2 * 256);
  EXPECT_EQ(two_more(",dep_split_load=2"), plain + 2 * 2 * 256);
  auto on = extra(",dep_split_load=1", 2);
  EXPECT_EQ(on.at("dep_config").at("split_load"), 1);
  EXPECT_EQ(on.at("dep").at("split_loads"), 2 * 256);
  auto off = extra("", 2);
  EXPECT_FALSE(off.at("dep").contains("split_loads"));
  EXPECT_FALSE(off.at("dep_config").contains("split_load"));
}

// dep_masked_load_page: a masked load whose vector runs into a page the program never touched
// stalls dispatch that many cycles (a microcode assist on Zen 4). run_dep's kernel 10 (masked
// loads 12 bytes before the end of a page whose next page nothing touches; the loop's subq and
// jnz carry rcx only, 2 wide): 1.5 cycles an iteration without the option; with 100 each load
// holds everything after it 100 cycles from its dispatch, and the next load dispatches a cycle
// after the loop's two instructions: 101. Kernel 11 runs into a page the
// program touched before the ROI: no assist. Off, no count is written.
TEST(QemuPlugin, DependencyTimingChargesMaskedLoadsIntoUntouchedPages) {
  std::string elf = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  const std::string on = ",dep_masked_load_page=100";
  EXPECT_EQ(X86DepPer500(elf, "", "10"), 750);
  EXPECT_EQ(X86DepPer500(elf, on, "10"), 500 * 101);
  EXPECT_EQ(X86DepPer500(elf, on, "11"), 750);
  auto extra = X86Dep(elf, on, 10, "10");
  EXPECT_EQ(extra.at("dep").at("masked_load_assists"), 10);
  EXPECT_EQ(extra.at("dep_config").at("masked_load_page"), 100);
  EXPECT_EQ(X86Dep(elf, on, 10, "11").at("dep").at("masked_load_assists"), 0);
  auto off = X86Dep(elf, "", 10, "10");
  EXPECT_FALSE(off.at("dep").contains("masked_load_assists"));
  EXPECT_FALSE(off.at("dep_config").contains("masked_load_page"));
}

// x86_64 scalar SSE/AVX operands read their own bytes: QEMU 7.2 reads 16 for vfmadd231ss
// (%r12), %xmm1, %xmm0, the models take bytes 0-3 (dep_config scalar_bytes). run_dep's kernel
// 12 (that FMA; vmovd %xmm0, %eax; movl %eax, 8(%r12)): the store of bytes 8-11 does not feed
// the next load, so the chain is the FMA alone (fp 4 cycles an iteration); read as 16 bytes it
// was FMA + move + store + load + FMA's wait, 11.
TEST(QemuPlugin, DependencyTimingReadsScalarOperandsOwnBytes) {
  std::string elf = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  auto run = [&](int n) {
    auto r = RunWithPlugin("x86_64", elf,
                           "dep=on,bpred=off,cache=off,dep_width=4,dep_lat_l1=4,dep_lat_fp=4",
                           {"dep", std::to_string(n), "12"});
    EXPECT_TRUE(r.process.Success()) << r.process.err;
    return r.stats.at("extra");
  };
  EXPECT_EQ(run(1000).at("dep").at("ooo_cycles").get<int64_t>() -
                run(500).at("dep").at("ooo_cycles").get<int64_t>(),
            500 * 4);
  EXPECT_EQ(run(10).at("dep_config").at("scalar_bytes"), true);
}

// dep_lat_fadd / dep_lat_fmul: FP adds and multiplies take their own latency instead of
// dep_lat_fp, which fused multiply-adds keep. run_dep's chains of vaddsd (13), vmulsd (14) and
// load-op vfmadd231pd (3), 500 iterations more, each iteration one link. Unset, every one
// takes dep_lat_fp, and dep_config holds neither key.
TEST(QemuPlugin, DependencyTimingGivesFpAddsAndMultipliesTheirLatency) {
  std::string elf = BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  const std::string base = ",dep_lat_fp=4";
  const std::string split = base + ",dep_lat_fadd=3,dep_lat_fmul=5";
  EXPECT_EQ(X86DepPer500(elf, base, "13"), 500 * 4);
  EXPECT_EQ(X86DepPer500(elf, base, "14"), 500 * 4);
  EXPECT_EQ(X86DepPer500(elf, split, "13"), 500 * 3);
  EXPECT_EQ(X86DepPer500(elf, split, "14"), 500 * 5);
  EXPECT_EQ(X86DepPer500(elf, split, "3"), X86DepPer500(elf, base, "3"));
  auto on = X86Dep(elf, split, 10, "13");
  EXPECT_EQ(on.at("dep_config").at("lat_fadd"), 3);
  EXPECT_EQ(on.at("dep_config").at("lat_fmul"), 5);
  auto off = X86Dep(elf, base, 10, "13");
  EXPECT_FALSE(off.at("dep_config").contains("lat_fadd"));
  EXPECT_FALSE(off.at("dep_config").contains("lat_fmul"));
}

// dep=on decodes riscv64 and x86_64 only; on aarch64 it is an error before the guest runs.
TEST(QemuPlugin, DependencyTimingIsRiscvAndX86Only) {
  std::string elf = BuildRoiProgram("aarch64", "static");
  ASSERT_FALSE(elf.empty());
  auto run = RunWithPlugin("aarch64", elf, "dep=on");
  EXPECT_NE(run.process.exit_code, 0);
  EXPECT_NE(run.process.err.find("simtune plugin: dep=on decodes riscv64 and x86_64 register "
                                 "operands only; got aarch64\n"),
            std::string::npos)
      << run.process.err;
}

TEST(QemuPlugin, BadOptionsAreRejectedWithExactMessages) {
  std::string elf = BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  std::vector<BadOption> cases = {
      {"l1d_sise=4", "simtune plugin: unknown option 'l1d_sise'"},
      {"l1d_size=32k", "simtune plugin: l1d_size: expected a number; got '32k'"},
      {"l2_ways=-1", "simtune plugin: l2_ways: expected a number; got '-1'"},
      {"cache=maybe", "simtune plugin: cache: expected on or off; got 'maybe'"},
      {"l1d_policy=plru", "simtune plugin: l1d_policy: expected one of lru, fifo, random; got 'plru'"},
      {"bpred_kind=perceptron",
       "simtune plugin: bpred_kind: expected one of bimodal, gshare, tournament, tage; got 'perceptron'"},
      {"bpred_tables=13", "simtune plugin: bpred_tables: must be at most 12; got 13"},
      {"l1d_line=48", "simtune plugin: l1d_line: must be a power of two; got 48"},
      {"l1d_ways=0", "simtune plugin: l1d_ways: must be at least 1; got 0"},
      {"l1d_size=1000", "simtune plugin: l1d: size 1000 is not a positive multiple of ways*line = 8*64"},
      {"bpred_entries=1000", "simtune plugin: bpred_entries: must be a power of two; got 1000"},
      {"bpred_history=40", "simtune plugin: bpred_history: must be at most 32; got 40"},
      {"dep=on,dep_width=4,dep_window=2",
       "simtune plugin: dep_window (2) must be at least dep_width (4)"},
      {"dep_width=0", "simtune plugin: dep_width: must be at least 1; got 0"},
      {"dep_lat_l1=0", "simtune plugin: dep_lat_l1: must be at least 1; got 0"},
      {"l1d_size=4096,l1d_size=8192", "simtune plugin: option 'l1d_size' given twice"},
      {"roi=off,warm_file=kernel.c",
       "simtune plugin: warm_file=kernel.c needs roi=on (its objects start warm at the ROI's "
       "start)"},
      {"out=/nonexistent-dir/x.json",
       "simtune plugin: out: cannot open '/nonexistent-dir/x.json': No such file or directory"},
  };
  for (const auto& c : cases) {
    // RunWithPlugin passes its own out= first; a second out= would be "given twice".
    std::vector<std::string> argv = {"qemu-riscv64", "-plugin",
                                     qemu_test::PluginPath().string() + "," + c.opts, elf};
    auto r = RunProcess(argv, {.timeout_s = 60});
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_NE(r->exit_code, 0) << c.opts;
    EXPECT_NE(r->err.find(c.message + "\n"), std::string::npos)
        << c.opts << " -> stderr: " << r->err;
    EXPECT_EQ(r->out.find("verify ok"), std::string::npos) << "the guest must not run";
  }
}

TEST(QemuPlugin, StrippedBinaryFailsLoudly) {
  std::string elf = BuildRoiProgram("riscv64", "static", 0, /*strip=*/true);
  ASSERT_FALSE(elf.empty());
  auto run = RunWithPlugin("riscv64", elf, "");
  EXPECT_EQ(run.process.exit_code, 1);
  EXPECT_NE(run.process.err.find("simtune plugin: " + elf +
                                 ": no function 'simtune_roi_begin' in the ELF symbol table "
                                 "(stripped binary?); roi=off counts the whole program\n"),
            std::string::npos)
      << run.process.err;
  // roi=off still works on it.
  auto whole = RunWithPlugin("riscv64", elf, "roi=off");
  ASSERT_TRUE(whole.process.Success()) << whole.process.err;
  EXPECT_GT(whole.stats.at("insn_count").get<uint64_t>(), 4003u);
}

}  // namespace
}  // namespace simtune
