// The valgrind (callgrind) simulator: parsing of callgrind dumps on hand-written text, and
// real runs on artifacts built by the Builder for x86_64-host. Real runs need valgrind
// (Debian package valgrind, installed by scripts/setup) and fail with that hint without it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "simtune/process.h"
#include "src/simulators/builtin.h"
#include "src/simulators/valgrind_callgrind.h"
#include "tests/simulators/roi_kernels.h"

namespace simtune {
namespace {

using roi_test::BuildOrFail;
using roi_test::Describe;
using roi_test::LoadTestTarget;
using roi_test::MakeSimulator;

const SimulatorRegistry& Registry() {
  static SimulatorRegistry* r = [] {
    auto* reg = new SimulatorRegistry("simulator");
    RegisterValgrindSimulator(*reg);
    return reg;
  }();
  return *r;
}

bool RequireValgrind() {
  if (ProgramExists("valgrind")) return true;
  ADD_FAILURE() << "valgrind not found; install the Debian package valgrind (scripts/setup does)";
  return false;
}

const char* kDump = R"(# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 9156
cmd:  ./x
part: 2

desc: I1 cache: 32768 B, 64 B, 8-way associative
desc: D1 cache: 32768 B, 64 B, 8-way associative
desc: LL cache: 1048576 B, 64 B, 16-way associative
desc: Timerange: Basic block 29848 - 99548
desc: Trigger: --dump-before=simtune_roi_end

positions: line
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim
summary: 491976 135169 65538 2 498 0 2 256 0 69696 4190

fl= (1) ???
fn=(2) kernel
0 491973 135169 65536 2 498 0 2 256 0 69696 4190

totals: 491976 135169 65538 2 498 0 2 256 0 69696 4190
)";

Target HostLikeTarget() {
  Target t;
  t.name = "test-x86";
  t.isa = "x86_64";
  t.os = "linux";
  t.caches = {{"l1i", 32768, 8, 64, "lru"},
              {"l1d", 32768, 8, 64, "lru"},
              {"l2", 524288, 8, 64, "lru"},
              {"l3", 33554432, 16, 64, "lru"}};
  return t;
}

TEST(CallgrindDump, ParsesPartTriggerAndTotalsWithOmittedTrailingZeros) {
  auto d = ParseCallgrindDump(kDump, "callgrind.out.2");
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->part, 2);
  EXPECT_EQ(d->trigger, "--dump-before=simtune_roi_end");
  EXPECT_EQ(d->totals.at("Ir"), 491976u);
  EXPECT_EQ(d->totals.at("Bcm"), 4190u);
  EXPECT_EQ(d->totals.at("Bi"), 0u);    // omitted at the end of the line
  EXPECT_EQ(d->totals.at("Bim"), 0u);
}

TEST(CallgrindDump, ErrorsNameTheFileAndTheProblem) {
  EXPECT_EQ(ParseCallgrindDump("part: 1\ntotals: 1 2\n", "f.out").message(),
            "f.out: no 'events:' line (not a callgrind dump?)");
  EXPECT_EQ(ParseCallgrindDump("part: 1\nevents: Ir Dr\n", "f.out").message(),
            "f.out: no 'totals:' line");
  EXPECT_EQ(ParseCallgrindDump("part: 1\nevents: Ir\ntotals: 1 2\n", "f.out").message(),
            "f.out: totals has 2 values for 1 events");
  EXPECT_EQ(ParseCallgrindDump("part: 1\nevents: Ir\ntotals: 1x\n", "f.out").message(),
            "f.out: totals: expected an integer; got '1x'");
}

TEST(CallgrindDump, SelectsTheDumpBetweenTheMarkers) {
  CallgrindDump before{1, "--dump-after=simtune_roi_begin", {{"Ir", 100}}};
  CallgrindDump roi{2, "--dump-before=simtune_roi_end", {{"Ir", 7}}};
  CallgrindDump after{3, "Program termination", {{"Ir", 50}}};
  auto r = SelectRoiDump({after, roi, before});
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->totals.at("Ir"), 7u);

  EXPECT_EQ(SelectRoiDump({after}).message(),
            "callgrind dumped 0 times on leaving simtune_roi_begin and 0 times on entering "
            "simtune_roi_end; the harness calls each exactly once (artifact stripped, or not "
            "built with the simtune harness?)");
  CallgrindDump late_roi{3, "--dump-before=simtune_roi_end", {}};
  EXPECT_EQ(SelectRoiDump({before, late_roi}).message(),
            "callgrind's ROI dump is part 3 but simtune_roi_begin's dump is part 1; expected "
            "consecutive parts");
}

TEST(CallgrindStats, MapsEventsOntoTheRecord) {
  auto d = ParseCallgrindDump(kDump, "callgrind.out.2");
  ASSERT_TRUE(d.ok());
  auto s = CallgrindStats(*d, HostLikeTarget());
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->simulator, "valgrind");
  EXPECT_EQ(s->insn_count, 491976u);
  EXPECT_EQ(*s->loads, 135169u);
  EXPECT_EQ(*s->stores, 65538u);
  EXPECT_EQ(*s->branches, 69696u);
  EXPECT_EQ(*s->branch_mispredicts, 4190u);
  EXPECT_TRUE(s->classes.empty());
  ASSERT_EQ(s->caches.size(), 3u);
  EXPECT_EQ(s->caches[0].level, "l1i");
  EXPECT_EQ(s->caches[0].read_hits, 491974u);
  EXPECT_EQ(s->caches[0].read_misses, 2u);
  EXPECT_EQ(s->caches[1].level, "l1d");
  EXPECT_EQ(s->caches[1].read_hits, 135169u - 498u);
  EXPECT_EQ(s->caches[1].read_misses, 498u);
  EXPECT_EQ(s->caches[1].write_hits, 65538u);
  EXPECT_EQ(s->caches[1].write_misses, 0u);
  // LL is the target's last level; it sees every L1 miss.
  EXPECT_EQ(s->caches[2].level, "l3");
  EXPECT_EQ(s->caches[2].read_hits + s->caches[2].read_misses, 2u + 498u);
  EXPECT_EQ(s->caches[2].read_misses, 2u + 256u);
  EXPECT_EQ(s->extra["Bc"], 69696u);
  EXPECT_EQ(s->extra["Bim"], 0u);
  EXPECT_EQ(s->extra["tool"], "callgrind");
  EXPECT_EQ(s->extra["ll_level"], "l3");
  // The record survives the store's JSON round trip.
  auto back = SimStats::FromJson(s->ToJson(), "test");
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->ToJson(), s->ToJson());
}

TEST(CallgrindStats, MissingEventIsAnError) {
  CallgrindDump d{2, "--dump-before=simtune_roi_end", {{"Ir", 5}}};
  EXPECT_EQ(CallgrindStats(d, HostLikeTarget()).message(),
            "callgrind dump has no event Dr (was it run with --cache-sim=yes --branch-sim=yes?)");
}

TEST(CallgrindArgs, CacheGeometryFromTheTarget) {
  auto args = CallgrindCacheArgs(HostLikeTarget());
  ASSERT_TRUE(args.ok()) << args.message();
  EXPECT_EQ(*args, (std::vector<std::string>{"--I1=32768,8,64", "--D1=32768,8,64",
                                             "--LL=33554432,16,64"}));
  Target t = HostLikeTarget();
  t.caches.resize(2);
  EXPECT_EQ(CallgrindCacheArgs(t).message(),
            "target test-x86 must describe l1i, l1d and a last-level cache (l2 or l3) for "
            "callgrind's cache simulation; it has 2 cache levels");
}

TEST(ValgrindAvx512, FlagsThatAskForAvx512AreRecognised) {
  Target t = HostLikeTarget();
  const std::string no_avx512 = "flags\t\t: fpu sse2 avx avx2 fma\n";
  const std::string avx512 = "flags\t\t: fpu sse2 avx avx2 avx512f avx512bw\n";
  t.cflags = {"-O3", "-march=x86-64-v3"};
  EXPECT_EQ(Avx512Reason(t, avx512), "");
  t.cflags = {"-O3", "-mavx512f"};
  EXPECT_EQ(Avx512Reason(t, no_avx512), "-mavx512f");
  t.cflags = {"-march=x86-64-v4"};
  EXPECT_EQ(Avx512Reason(t, no_avx512), "-march=x86-64-v4");
  t.cflags = {"-march=skylake-avx512", "-mno-avx512f"};
  EXPECT_EQ(Avx512Reason(t, no_avx512), "");
  t.cflags = {"-march=native"};
  EXPECT_EQ(Avx512Reason(t, no_avx512), "");
  EXPECT_EQ(Avx512Reason(t, avx512), "-march=native on a host with avx512f");
}

TEST(ValgrindSimulator, Avx512TargetIsRefusedWithAClearMessage) {
  auto sim = MakeSimulator(Registry(), "valgrind");
  ASSERT_TRUE(sim);
  Target t = HostLikeTarget();
  t.cflags = {"-O3", "-march=x86-64-v4"};
  EXPECT_FALSE(sim->Supports(t));
  const std::string msg =
      "valgrind cannot run AVX-512 code, and target test-x86 asks for it (-march=x86-64-v4); "
      "build with at most AVX2, e.g. -march=x86-64-v3";
  if (ProgramExists("valgrind")) EXPECT_EQ(sim->Available(t).message(), msg);
  Artifact a;
  a.status = "ok";
  a.elf = "/bin/true";
  SimResult r = sim->Simulate(a, t);
  if (ProgramExists("valgrind")) {
    EXPECT_EQ(r.stage, "run");
    EXPECT_EQ(r.message, msg);
  }
  EXPECT_FALSE(r.ok());
}

TEST(ValgrindSimulator, OptionsAreParsedStrictly) {
  EXPECT_EQ(Registry().Create("valgrind", "timout=3").message(),
            "unknown valgrind option 'timout'; did you mean 'timeout'? valid: debuginfo, mode, "
            "timeout, valgrind");
  EXPECT_EQ(Registry().Create("valgrind", "debuginfo=skip").message(),
            "valgrind option debuginfo: expected hide or read; got 'skip'");
  EXPECT_EQ(Registry().Create("valgrind", "mode=").message(),
            "valgrind option mode: expected auto or full; got ''");
  std::string unknown = Registry().Create("valgrind", "cache=off").message();
  EXPECT_EQ(unknown.rfind("unknown valgrind option 'cache'", 0), 0u) << unknown;
  EXPECT_NE(unknown.find("valid: debuginfo, mode, timeout, valgrind"), std::string::npos)
      << unknown;
  EXPECT_EQ(Registry().Create("valgrind", "timeout").message(),
            "valgrind option 'timeout': expected key=value");
  EXPECT_EQ(Registry().Create("valgrind", "timeout=0").message(),
            "valgrind option timeout: must be positive; got '0'");
  EXPECT_EQ(Registry().Create("valgrind", "timeout=5s").message(),
            "valgrind option timeout: expected a number; got '5s'");
  EXPECT_EQ(Registry().Create("valgrind", "timeout=5,timeout=6").message(),
            "valgrind option 'timeout' given twice");
  auto ok = Registry().Create("valgrind", "timeout=20,valgrind=/usr/bin/valgrind");
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ((*ok)->options_key(), "");
  EXPECT_EQ((*ok)->name(), "valgrind");
}

TEST(ValgrindSimulator, MissingValgrindSaysHowToInstall) {
  auto sim = MakeSimulator(Registry(), "valgrind", "valgrind=/nonexistent/valgrind");
  ASSERT_TRUE(sim);
  const std::string msg =
      "/nonexistent/valgrind not found; install the Debian package valgrind (scripts/setup "
      "does)";
  EXPECT_EQ(sim->Available(HostLikeTarget()).message(), msg);
  Artifact a;
  a.status = "ok";
  a.elf = "/bin/true";
  SimResult r = sim->Simulate(a, HostLikeTarget());
  EXPECT_EQ(r.status, "failed");
  EXPECT_EQ(r.stage, "missing-tool");
  EXPECT_EQ(r.message, msg);
}

TEST(ValgrindSimulator, RiscvTargetIsNotSupported) {
  auto sim = MakeSimulator(Registry(), "valgrind");
  ASSERT_TRUE(sim);
  Target t = HostLikeTarget();
  t.isa = "riscv64";
  EXPECT_FALSE(sim->Supports(t));
}

// --- Real runs (need valgrind) ---

TEST(ValgrindRun, CountsOnlyTheRoiWhateverTheSetUp) {
  if (!RequireValgrind()) return;
  Target host = LoadTestTarget("x86_64-host");
  auto sim = MakeSimulator(Registry(), "valgrind");
  ASSERT_TRUE(sim);
  // Same kernel; the harness fills a 1-float or a 200000-float unused buffer first.
  Artifact small = BuildOrFail(roi_test::ScaleKernel(1000, 1), host);
  Artifact large = BuildOrFail(roi_test::ScaleKernel(1000, 200000), host);
  ASSERT_TRUE(small.ok() && large.ok());
  ASSERT_NE(small.hash, large.hash);
  SimResult a = sim->Simulate(small, host);
  SimResult b = sim->Simulate(large, host);
  ASSERT_TRUE(a.ok()) << Describe(a);
  ASSERT_TRUE(b.ok()) << Describe(b);
  EXPECT_EQ(a.stats.insn_count, b.stats.insn_count);
  EXPECT_EQ(*a.stats.loads, *b.stats.loads);
  EXPECT_EQ(*a.stats.stores, *b.stats.stores);
  EXPECT_EQ(*a.stats.branches, *b.stats.branches);
  // Filling 200000 floats alone takes over a million instructions: none of it is counted.
  // 1000 elements with AVX2 take ~125 iterations of a few instructions.
  EXPECT_GT(a.stats.insn_count, 125u);
  EXPECT_LT(a.stats.insn_count, 3000u);
  // 1000 floats in, 1000 floats out: at least 125 8-wide loads and stores, at most scalar.
  EXPECT_GE(*a.stats.loads, 125u);
  EXPECT_LE(*a.stats.loads, 1000u + 10u);
  EXPECT_GE(*a.stats.stores, 125u);
  EXPECT_LE(*a.stats.stores, 1000u + 10u);
  EXPECT_EQ(a.stats.simulator, "valgrind");
  EXPECT_EQ(a.stats.extra["tool"], "callgrind");
  ASSERT_EQ(a.stats.caches.size(), 3u);
  EXPECT_EQ(a.stats.caches[2].level, "l3");
}

// Valgrind with /usr/lib/debug hidden (debuginfo=hide, the default where a mount namespace can
// be made) counts the ROI as valgrind reading it does: real candidates of two operators, every
// statistic equal.
TEST(ValgrindRun, HiddenDebugInfoGivesTheSameRoiStatistics) {
  if (!RequireValgrind()) return;
  Target host = LoadTestTarget("x86_64-host");
  auto hide = MakeSimulator(Registry(), "valgrind");
  auto read = MakeSimulator(Registry(), "valgrind", "debuginfo=read");
  ASSERT_TRUE(hide && read);
  for (const char* workload : {"gemm:M=24,N=20,K=16", "dwconv2d:C=8,H=10,W=10,R=3,S=3,stride=1,pad=1"}) {
    auto w = ParseWorkload(workload);
    ASSERT_TRUE(w.ok()) << w.message();
    auto space = MakeSpace(*w);
    ASSERT_TRUE(space.ok()) << space.message();
    for (const Config& c : (*space)->Sample(2, 5)) {
      auto k = GenerateKernel(*w, c, CodegenContext{host.isa});
      ASSERT_TRUE(k.ok()) << k.message();
      Artifact art = BuildOrFail(*k, host);
      ASSERT_TRUE(art.ok());
      SimResult a = hide->Simulate(art, host);
      SimResult b = read->Simulate(art, host);
      ASSERT_TRUE(a.ok()) << Describe(a);
      ASSERT_TRUE(b.ok()) << Describe(b);
      SCOPED_TRACE(std::string(workload) + " " + art.hash);
      if (std::filesystem::is_directory("/usr/lib/debug") && geteuid() == 0)
        EXPECT_EQ(a.stats.extra.value("debuginfo", ""), "hidden (/usr/lib/debug)");
      EXPECT_EQ(b.stats.extra.value("debuginfo", ""), "read");
      nlohmann::json x = a.stats.ToJson(), y = b.stats.ToJson();
      x["extra"].erase("debuginfo");
      y["extra"].erase("debuginfo");
      EXPECT_EQ(x, y);
    }
  }
}

// What the ROI dump holds beyond the kernel: loading the kernel's argument, the call, the
// empty kernel's ret, and the call of simtune_roi_end (which pushes a return address).
TEST(ValgrindRun, EmptyKernelCountsOnlyTheMarkerInstructions) {
  if (!RequireValgrind()) return;
  Target host = LoadTestTarget("x86_64-host");
  auto sim = MakeSimulator(Registry(), "valgrind");
  ASSERT_TRUE(sim);
  Artifact art = BuildOrFail(roi_test::EmptyKernel(), host);
  ASSERT_TRUE(art.ok());
  SimResult r = sim->Simulate(art, host);
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(r.stats.insn_count, 4u);
  EXPECT_EQ(*r.stats.loads, 1u);    // the kernel's ret
  EXPECT_EQ(*r.stats.stores, 2u);   // the two calls
}

TEST(ValgrindRun, L1MissesFollowTheTargetsLineSize) {
  if (!RequireValgrind()) return;
  Target host = LoadTestTarget("x86_64-host");
  auto sim = MakeSimulator(Registry(), "valgrind");
  ASSERT_TRUE(sim);
  const int n = 1 << 18;   // 1 MiB of floats, read once: larger than L1, inside LL
  Artifact art = BuildOrFail(roi_test::SumKernel(n), host);
  ASSERT_TRUE(art.ok());
  SimResult r64 = sim->Simulate(art, host);
  ASSERT_TRUE(r64.ok()) << Describe(r64);
  Target half_lines = host;
  for (auto& c : half_lines.caches) c.line_bytes = 32;
  SimResult r32 = sim->Simulate(art, half_lines);
  ASSERT_TRUE(r32.ok()) << Describe(r32);
  const double lines64 = n * 4.0 / 64, lines32 = n * 4.0 / 32;
  EXPECT_NEAR(r64.stats.caches[1].read_misses, lines64, 0.02 * lines64);
  EXPECT_NEAR(r32.stats.caches[1].read_misses, lines32, 0.02 * lines32);
  // The harness just wrote the buffer, and it fits the 32 MiB LL: few LL misses.
  EXPECT_LT(r64.stats.caches[2].read_misses, 0.05 * lines64);
  EXPECT_EQ(r64.stats.insn_count, r32.stats.insn_count);
}

TEST(ValgrindRun, WrongKernelFailsAtVerify) {
  if (!RequireValgrind()) return;
  Target host = LoadTestTarget("x86_64-host");
  auto sim = MakeSimulator(Registry(), "valgrind");
  ASSERT_TRUE(sim);
  Artifact art = BuildOrFail(roi_test::ScaleKernel(100, 1, /*wrong=*/true), host);
  ASSERT_TRUE(art.ok());
  SimResult r = sim->Simulate(art, host);
  EXPECT_EQ(r.status, "failed");
  EXPECT_EQ(r.stage, "verify");
  EXPECT_EQ(r.message.rfind("verify failed index=50 ", 0), 0u) << r.message;
}

TEST(ValgrindRun, TimeoutIsAFailedRow) {
  if (!RequireValgrind()) return;
  Target host = LoadTestTarget("x86_64-host");
  auto sim = MakeSimulator(Registry(), "valgrind", "timeout=0.05");
  ASSERT_TRUE(sim);
  Artifact art = BuildOrFail(roi_test::ScaleKernel(100), host);
  ASSERT_TRUE(art.ok());
  SimResult r = sim->Simulate(art, host);
  EXPECT_EQ(r.status, "failed");
  EXPECT_EQ(r.stage, "timeout");
  EXPECT_EQ(r.message, "valgrind timed out after 0.05 s");
}

TEST(ValgrindRun, NonHarnessProgramFailsAtVerify) {
  if (!RequireValgrind()) return;
  auto sim = MakeSimulator(Registry(), "valgrind");
  ASSERT_TRUE(sim);
  Artifact a;
  a.status = "ok";
  a.elf = "/bin/true";
  SimResult r = sim->Simulate(a, LoadTestTarget("x86_64-host"));
  EXPECT_EQ(r.stage, "verify");
  EXPECT_EQ(r.message, "no 'simtune: verify' line in the output");
}

}  // namespace
}  // namespace simtune
