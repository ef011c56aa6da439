// Simulation mode (issue 12): a simulated run stops after the ROI and proves its output by the
// checksums recorded when the artifact was verified. Checked here on real candidates with the
// real simulators: the ROI statistics equal those of full runs (mode=full) field by field, a
// kernel that computes something else under a simulator still fails at "verify", a checksum
// that differs within tolerance is settled by a full run, and guard zones and traps are
// reported. Needs qemu-user, qemu-system-misc, valgrind, spike and the cross compilers (scripts/setup).
#include <cpuid.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "simtune/paths.h"
#include "simtune/process.h"
#include "simtune/strings.h"
#include "tests/simulators/qemu_test_util.h"
#include "src/simulators/spike_support.h"
#include "tests/simulators/roi_kernels.h"

namespace simtune {
namespace {

using roi_test::BuildOrFail;
using roi_test::Describe;
using roi_test::LoadTestTarget;
using roi_test::MakeSimulator;

const SimulatorRegistry& Registry() { return Simulators(); }

// Fails the test (with the install hint) when the simulator cannot run `target` here.
bool Require(const Simulator& sim, const Target& target) {
  Status st = sim.Available(target);
  if (!st.ok()) ADD_FAILURE() << sim.name() << " on " << target.name << ": " << st.message();
  return st.ok();
}

// Built and verified like `simtune build` does: VerifyArtifactInto records the checksums.
Artifact BuildVerified(const KernelSource& source, const Target& target,
                       BareMetalVerifier bare_metal = BareMetalVerifier::kAuto) {
  Artifact a = BuildOrFail(source, target);
  if (!a.ok()) return a;
  VerifyArtifactInto(a, target, 120, bare_metal);
  if (!a.ok()) ADD_FAILURE() << "verification failed: " << a.stage << ": " << a.message;
  else if (a.verified_checksums.empty()) ADD_FAILURE() << "no checksums recorded";
  return a;
}

// Two real candidates of a catalog workload, generated for `target`.
std::vector<KernelSource> RealCandidates(const std::string& workload, const Target& target) {
  auto w = ParseWorkload(workload);
  SIMTUNE_CHECK_MSG(w.ok(), w.message());
  auto space = MakeSpace(*w);
  SIMTUNE_CHECK_MSG(space.ok(), space.message());
  std::vector<KernelSource> out;
  for (const Config& c : (*space)->Sample(2, 7)) {
    auto k = GenerateKernel(*w, c, CodegenContext{target.isa});
    SIMTUNE_CHECK_MSG(k.ok(), k.message());
    out.push_back(*k);
  }
  return out;
}

// Every field of the statistics; extra without the keys that describe the run rather than
// the ROI (how the output was checked, the whole program's instructions, translations, time
// per stage).
void ExpectSameStats(const SimStats& full, const SimStats& sim, const std::string& what) {
  EXPECT_EQ(full.simulator, sim.simulator) << what;
  EXPECT_EQ(full.insn_count, sim.insn_count) << what;
  EXPECT_EQ(full.classes, sim.classes) << what;
  EXPECT_EQ(full.loads, sim.loads) << what;
  EXPECT_EQ(full.stores, sim.stores) << what;
  EXPECT_EQ(full.load_bytes, sim.load_bytes) << what;
  EXPECT_EQ(full.store_bytes, sim.store_bytes) << what;
  EXPECT_EQ(full.accesses_by_size, sim.accesses_by_size) << what;
  ASSERT_EQ(full.caches.size(), sim.caches.size()) << what;
  for (size_t i = 0; i < full.caches.size(); ++i) {
    const CacheStats &a = full.caches[i], &b = sim.caches[i];
    EXPECT_EQ(a.level, b.level) << what;
    EXPECT_EQ(a.read_hits, b.read_hits) << what << " " << a.level;
    EXPECT_EQ(a.read_misses, b.read_misses) << what << " " << a.level;
    EXPECT_EQ(a.write_hits, b.write_hits) << what << " " << a.level;
    EXPECT_EQ(a.write_misses, b.write_misses) << what << " " << a.level;
  }
  EXPECT_EQ(full.branches, sim.branches) << what;
  EXPECT_EQ(full.branch_mispredicts, sim.branch_mispredicts) << what;
  EXPECT_EQ(full.reuse_log2, sim.reuse_log2) << what;
  nlohmann::json a = full.extra, b = sim.extra;
  for (const char* key : {"output_check", "program_insns", "translations", "stage_s", "plain_run"}) {
    a.erase(key);
    b.erase(key);
  }
  EXPECT_EQ(a, b) << what;
}

struct Case {
  std::string simulator, target;
};

void ExpectSimModeMatchesFullRuns(const Case& c, const std::string& workload) {
  Target target = LoadTestTarget(c.target);
  auto sim = MakeSimulator(Registry(), c.simulator);
  auto full = MakeSimulator(Registry(), c.simulator, "mode=full");
  ASSERT_TRUE(sim && full);
  if (!Require(*sim, target)) return;
  for (const KernelSource& k : RealCandidates(workload, target)) {
    Artifact a = BuildVerified(k, target);
    ASSERT_TRUE(a.ok());
    SimResult s = sim->Simulate(a, target);
    SimResult f = full->Simulate(a, target);
    ASSERT_TRUE(s.ok()) << Describe(s);
    ASSERT_TRUE(f.ok()) << Describe(f);
    std::string what = c.simulator + " on " + c.target + " " + workload + " " + a.hash;
    EXPECT_EQ(s.stats.extra.value("output_check", ""), "checksum") << what;
    EXPECT_EQ(f.stats.extra.value("output_check", ""), "full run (mode=full)") << what;
    ExpectSameStats(f.stats, s.stats, what);
    // The simulated program shrinks where the simulator counts it.
    if (f.stats.extra.contains("program_insns"))
      EXPECT_LT(s.stats.extra["program_insns"].get<uint64_t>(),
                f.stats.extra["program_insns"].get<uint64_t>())
          << what;
  }
}

class SimModeStats : public ::testing::TestWithParam<Case> {};

TEST_P(SimModeStats, EqualFullRunsFieldByField) {
  ExpectSimModeMatchesFullRuns(GetParam(), "gemm:M=24,N=20,K=16");
  ExpectSimModeMatchesFullRuns(GetParam(), "dwconv2d:C=8,H=10,W=10,R=3,S=3,stride=1,pad=1");
}

INSTANTIATE_TEST_SUITE_P(
    RealSimulators, SimModeStats,
    ::testing::Values(Case{"qemu", "x86_64-host"}, Case{"qemu", "riscv64-linux"},
                      Case{"qemu", "aarch64-linux"}, Case{"qemu", "riscv64-baremetal"},
                      Case{"valgrind", "x86_64-host"},
                      Case{"spike", "riscv64-baremetal"}),
    [](const auto& info) {
      std::string n = info.param.simulator + "_" + info.param.target;
      for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

// The instructions a simulation-mode run of `a` executes from the ELF's entry point (_start;
// a dynamic loader's work before it is not counted) to simtune_roi_begin, counted by the qemu
// plugin on a copy of the ELF whose symbol table says that the ROI runs from _start to
// simtune_roi_begin. 0 after a test failure.
uint64_t InstructionsBeforeRoi(const Artifact& a, const Target& target) {
  std::string objcopy = target.isa == "x86_64" ? "objcopy" : target.isa + "-linux-gnu-objcopy";
  static int counter = 0;
  auto copy = qemu_test::ScratchDir() / ("pre-roi-" + std::to_string(counter++) + ".elf");
  auto r = RunProcess({objcopy, "--redefine-sym", "_start=simtune_roi_begin", "--redefine-sym",
                       "simtune_roi_begin=simtune_roi_end", "--redefine-sym",
                       "simtune_roi_end=simtune_roi_end_was", a.elf.string(), copy.string()},
                      {.timeout_s = 60});
  if (!r.ok() || !r->Success()) {
    ADD_FAILURE() << objcopy << " failed: " << (r.ok() ? r->err : r.message());
    return 0;
  }
  auto run = qemu_test::RunWithPlugin(
      target.isa, copy.string(), "classes=off,mem=off,cache=off,bpred=off,reuse=off",
      {"--run=sim"});
  if (run.stats.is_null() || !run.process.Success()) {
    ADD_FAILURE() << "qemu-" << target.isa << " on " << copy << ": " << run.process.out
                  << run.process.err;
    return 0;
  }
  return run.stats.at("insn_count").get<uint64_t>();
}

// Issue 12: the harness's work before the ROI does not grow with the buffers (inputs come in
// the ELF's initialized data, outputs zero in static storage; what is left per element is
// one read and write per cache line). A run-time fill costs some ten instructions per input
// element, a memset one or more per output element.
TEST(SimMode, HarnessWorkBeforeTheRoiHardlyGrowsWithTheBuffers) {
  const std::string small = "dwconv2d:C=16,H=14,W=14,R=3,S=3,stride=1,pad=1";
  const std::string large = "dwconv2d:C=64,H=14,W=14,R=3,S=3,stride=1,pad=1";
  for (const char* target_name : {"x86_64-host", "riscv64-linux", "aarch64-linux"}) {
    Target target = LoadTestTarget(target_name);
    auto elements = [](const KernelSource& k) {
      int64_t n = 0;
      for (const auto& b : k.buffers) n += b.elements;
      return n;
    };
    KernelSource ks = RealCandidates(small, target)[0], kl = RealCandidates(large, target)[0];
    Artifact as = BuildVerified(ks, target), al = BuildVerified(kl, target);
    ASSERT_TRUE(as.ok() && al.ok());
    uint64_t before_small = InstructionsBeforeRoi(as, target);
    uint64_t before_large = InstructionsBeforeRoi(al, target);
    ASSERT_GT(before_small, 0u);
    int64_t more_elements = elements(kl) - elements(ks);
    ASSERT_GT(more_elements, 10000);
    // Some 0.25 per element now (4 instructions per 16 floats), more than 5 with the fill.
    EXPECT_LT(static_cast<double>(before_large) - static_cast<double>(before_small),
              0.5 * static_cast<double>(more_elements))
        << target_name << ": " << before_small << " instructions before the ROI of " << small
        << ", " << before_large << " before that of " << large << " (" << more_elements
        << " more buffer elements)";
  }
}

// On bare metal the start-up copies the inputs' initialized data (.data) from its load image
// and clears .bss (outputs, the kernel's own static arrays); the harness's start-up does it 8
// bytes at a time (under one instruction per byte), where picolibc's crt0 called its
// byte-by-byte memcpy and memset (4-6 per byte). Counted by Spike from reset to the harness's
// program line, less the ROI (the start-up, simtune_touch and the checksum), against the
// bytes of .data and .bss (the ELF's __data_size and __bss_size).
TEST(SimMode, BareMetalStartUpCopiesAndClearsWordsNotBytes) {
  Target bare = LoadTestTarget("riscv64-baremetal");
  auto sim = MakeSimulator(Registry(), "spike", "caches=off");
  ASSERT_TRUE(sim);
  if (!Require(*sim, bare)) return;
  struct Outside {
    double insns = 0, bytes = 0;
  };
  auto outside_roi = [&](const KernelSource& k) -> Outside {
    Artifact a = BuildVerified(k, bare);
    EXPECT_TRUE(a.ok()) << a.message;
    SimResult r = sim->Simulate(a, bare);
    EXPECT_TRUE(r.ok()) << Describe(r);
    std::ifstream in(a.elf, std::ios::binary);
    std::string elf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto sizes = ElfSymbolAddresses(elf, {"__data_size", "__bss_size"});
    EXPECT_TRUE(sizes.ok()) << sizes.message();
    if (!r.ok() || !sizes.ok() || !r.stats.extra.contains("program_insns")) return {};
    return {r.stats.extra["program_insns"].get<double>() - static_cast<double>(r.stats.insn_count),
            static_cast<double>(sizes->at("__data_size") + sizes->at("__bss_size"))};
  };
  Outside small = outside_roi(RealCandidates("dwconv2d:C=16,H=14,W=14,R=3,S=3,stride=1,pad=1", bare)[0]);
  Outside large = outside_roi(RealCandidates("dwconv2d:C=64,H=14,W=14,R=3,S=3,stride=1,pad=1", bare)[0]);
  ASSERT_GT(small.insns, 0);
  ASSERT_GT(large.bytes - small.bytes, 40000);
  EXPECT_LT(large.insns - small.insns, 1.5 * (large.bytes - small.bytes))
      << small.insns << " instructions outside the ROI with " << small.bytes
      << " bytes of .data and .bss, " << large.insns << " with " << large.bytes;
}

// out = 2 * in + 1, plus 1000 when the CPU's brand string (all 48 bytes, hashed) differs from
// the host's: right natively (where it is verified), wrong under qemu and valgrind, which both
// report CPUs of their own (whose brands may share a prefix with the host's: "Intel(R) Xeon"
// and valgrind's "Intel(R) Core"). Only the kernel asks, as with TVM's code under valgrind
// 3.19: the reference stays right under the simulator.
unsigned BrandHash() {
  unsigned h = 2166136261u;
  for (unsigned leaf = 0x80000002; leaf <= 0x80000004; ++leaf) {
    unsigned r[4] = {0, 0, 0, 0};
    __get_cpuid(leaf, &r[0], &r[1], &r[2], &r[3]);
    for (unsigned v : r) h = (h ^ v) * 16777619u;
  }
  return h;
}

KernelSource CpuDependentKernel() {
  KernelSource s = roi_test::ScaleKernel(64);
  s.code = R"C(
#include <cpuid.h>
void simtune_kernel(float *const *bufs) {
  unsigned h = 2166136261u, leaf;
  for (leaf = 0x80000002; leaf <= 0x80000004; ++leaf) {
    unsigned r[4] = {0, 0, 0, 0}, i;
    __get_cpuid(leaf, &r[0], &r[1], &r[2], &r[3]);
    for (i = 0; i < 4; ++i) h = (h ^ r[i]) * 16777619u;
  }
  float bias = h == HOST_BRAND ? 0.0f : 1000.0f;
  for (long i = 0; i < ROI_N; ++i) bufs[2][i] = 2.0f * bufs[0][i] + 1.0f + bias;
}
)C";
  s.extra_cflags.push_back("-DHOST_BRAND=" + std::to_string(BrandHash()) + "u");
  return s;
}

TEST(SimMode, KernelWrongUnderQemuAndValgrindFailsAtVerify) {
  Target host = LoadTestTarget("x86_64-host");
  Artifact a = BuildVerified(CpuDependentKernel(), host);
  ASSERT_TRUE(a.ok());
  for (const char* name : {"qemu", "valgrind"}) {
    auto sim = MakeSimulator(Registry(), name);
    ASSERT_TRUE(sim);
    if (!Require(*sim, host)) continue;
    SimResult r = sim->Simulate(a, host);
    EXPECT_EQ(r.status, "failed") << name;
    EXPECT_EQ(r.stage, "verify") << name;
    // Both checksums, then the full run's element-wise verdict.
    EXPECT_TRUE(StartsWith(r.message, "output checksum differs from the verified run's: out "))
        << r.message;
    EXPECT_NE(r.message.find(" (verified " + a.verified_checksums.substr(4) + ")"),
              std::string::npos)
        << r.message;
    EXPECT_NE(r.message.find(std::string("; the full run under ") + name +
                             ": verify failed index=0 "),
              std::string::npos)
        << r.message;
  }
}

// Spike verifies bare-metal artifacts at build time with the target's ISA (rv64gc); a kernel
// that reads misa computes something else when the simulator is given another ISA.
TEST(SimMode, KernelWrongUnderSpikeFailsAtVerify) {
  Target bare = LoadTestTarget("riscv64-baremetal");
  auto sim = MakeSimulator(Registry(), "spike", "isa=rv64gcv,caches=off");
  ASSERT_TRUE(sim);
  if (!Require(*sim, bare)) return;
  KernelSource k = roi_test::ScaleKernel(64);
  k.code = R"C(
#include <stdint.h>
void simtune_kernel(float *const *bufs) {
  uint64_t misa;
  __asm__ volatile("csrr %0, misa" : "=r"(misa));
  float bias = (misa >> ('V' - 'A')) & 1 ? 1000.0f : 0.0f;
  for (long i = 0; i < ROI_N; ++i) bufs[2][i] = 2.0f * bufs[0][i] + 1.0f + bias;
}
)C";
  Artifact a = BuildVerified(k, bare);
  ASSERT_TRUE(a.ok());
  SimResult r = sim->Simulate(a, bare);
  EXPECT_EQ(r.stage, "verify") << Describe(r);
  EXPECT_TRUE(StartsWith(r.message, "output checksum differs from the verified run's: out "))
      << r.message;
  EXPECT_NE(r.message.find("; the full run under spike: verify failed index=0 "),
            std::string::npos)
      << r.message;
}

// Overwrites the checksums recorded in the artifact's cache entry (a test seam for "the
// simulator computes other bits than the verified run").
void CorruptRecordedChecksums(Artifact& a, const std::string& fields) {
  std::ofstream(a.elf.parent_path() / "verified-checksums.txt") << fields << "\n";
  a.verified_checksums.clear();   // read back from the cache entry
  ASSERT_EQ(VerifiedChecksums(a), fields);
}

TEST(SimMode, ChecksumMismatchWithinToleranceIsSettledByAFullRun) {
  Target rv = LoadTestTarget("riscv64-linux");
  auto sim = MakeSimulator(Registry(), "qemu");
  ASSERT_TRUE(sim);
  if (!Require(*sim, rv)) return;
  KernelSource k = roi_test::ScaleKernel(48);
  k.extra_cflags.push_back("-DSIMTUNE_TEST_VARIANT=seam");   // its own cache entry
  Artifact a = BuildVerified(k, rv);
  ASSERT_TRUE(a.ok());
  CorruptRecordedChecksums(a, "out=0123456789abcdef");
  SimResult r = sim->Simulate(a, rv);
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(StartsWith(r.stats.extra.value("output_check", ""),
                         "output checksum differs from the verified run's: out "))
      << r.stats.extra.dump();
  EXPECT_NE(r.stats.extra.value("output_check", "").find(
                " (verified 0123456789abcdef); the full run under qemu verified it within "
                "tolerance"),
            std::string::npos)
      << r.stats.extra.dump();
}

// No recorded checksums (built with --no-verify, or a ready-made executable): full runs.
TEST(SimMode, UnverifiedArtifactsRunInFull) {
  Target rv = LoadTestTarget("riscv64-linux");
  auto sim = MakeSimulator(Registry(), "qemu");
  ASSERT_TRUE(sim);
  if (!Require(*sim, rv)) return;
  KernelSource k = roi_test::ScaleKernel(40);
  k.extra_cflags.push_back("-DSIMTUNE_TEST_VARIANT=unverified");
  Artifact a = BuildOrFail(k, rv);
  ASSERT_TRUE(a.ok());
  std::filesystem::remove(a.elf.parent_path() / "verified-checksums.txt");
  SimResult r = sim->Simulate(a, rv);
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(r.stats.extra.value("output_check", ""),
            "full run (no verified checksums for this artifact)");
}

// Issue 16 item 16: 16 floats written past the output. Verification catches it (natively,
// and the artifact records no checksums); so does a simulation-mode run, before any checksum.
TEST(SimMode, OverrunPastTheOutputFailsAtVerifyNamingTheBuffer) {
  KernelSource k = roi_test::ScaleKernel(32);
  k.code = R"C(
void simtune_kernel(float *const *bufs) {
  for (long i = 0; i < ROI_N + 16; ++i) bufs[2][i] = 2.0f * bufs[0][i] + 1.0f;
}
)C";
  const std::string want =
      "verify failed buffer=out written past its end by the kernel: element 32 (guard zone of "
      "64 floats after its 32 elements)";
  for (const char* target_name : {"x86_64-host", "riscv64-linux"}) {
    Target target = LoadTestTarget(target_name);
    Artifact a = BuildOrFail(k, target);
    ASSERT_TRUE(a.ok());
    std::filesystem::remove(a.elf.parent_path() / "verified-checksums.txt");   // earlier seam
    Artifact verified = a;
    VerifyArtifactInto(verified, target, 120);
    EXPECT_EQ(verified.stage, "verify") << target_name;
    EXPECT_EQ(verified.message, want) << target_name;
    EXPECT_EQ(VerifiedChecksums(verified), "");

    auto sim = MakeSimulator(Registry(), "qemu");
    ASSERT_TRUE(sim);
    if (!Require(*sim, target)) continue;
    CorruptRecordedChecksums(a, "out=0123456789abcdef");   // as if verified: simulation mode
    SimResult r = sim->Simulate(a, target);
    EXPECT_EQ(r.stage, "verify") << target_name;
    EXPECT_EQ(r.message, want) << target_name;
  }
}

// Spike's plain run in simulation mode repeats the verification run (same Spike, same ISA,
// deterministic), so the spike simulator takes that run's recorded lines instead. Shown by a
// seam: an ROI count edited in the record is what the simulation reports; a record of another
// ISA, or with checksums other than the verified ones, is not used.
TEST(SimMode, SpikeTakesTheVerificationRunInsteadOfRepeatingIt) {
  Target bare = LoadTestTarget("riscv64-baremetal");
  auto sim = MakeSimulator(Registry(), "spike", "caches=off");
  ASSERT_TRUE(sim);
  if (!Require(*sim, bare)) return;
  KernelSource k = roi_test::ScaleKernel(64);
  k.extra_cflags.push_back("-DSIMTUNE_TEST_VARIANT=recorded");   // its own cache entry
  // Verified by QEMU (the default) the entry records no output for Spike to take.
  Artifact by_qemu = BuildOrFail(k, bare);
  ASSERT_TRUE(by_qemu.ok());
  std::filesystem::remove(by_qemu.elf.parent_path() / "verified-sim-output.json");
  by_qemu = BuildVerified(k, bare);
  EXPECT_FALSE(std::filesystem::exists(by_qemu.elf.parent_path() / "verified-sim-output.json"));
  Artifact a = BuildVerified(k, bare, BareMetalVerifier::kSpike);
  ASSERT_TRUE(a.ok());
  auto spike = FindSpike();
  ASSERT_TRUE(spike.ok()) << spike.message();
  const std::vector<std::string> runner = {*spike, "--isa=rv64gc"};
  std::string recorded = VerifiedSimOutput(a, runner);
  ASSERT_NE(recorded, "");
  EXPECT_EQ(ChecksumLine(recorded), a.verified_checksums);
  EXPECT_EQ(recorded.find("simtune: verify"), std::string::npos) << "stops before verify";
  EXPECT_EQ(VerifiedSimOutput(a, {*spike, "--isa=rv64gcv"}), "");

  SimResult real = sim->Simulate(a, bare);
  ASSERT_TRUE(real.ok()) << Describe(real);
  EXPECT_EQ(real.stats.extra.value("plain_run", ""),
            "the verification run's (same spike, same isa)");
  const std::filesystem::path file = a.elf.parent_path() / "verified-sim-output.json";
  auto rewrite = [&](const std::string& from, const std::string& to) {
    std::string output = recorded;
    size_t at = output.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    output.replace(at, from.size(), to);
    std::ofstream(file) << nlohmann::json{{"runner", runner}, {"output", output}}.dump();
  };
  const std::string roi = "roi minstret=" + std::to_string(real.stats.insn_count) + " ";
  rewrite(roi, "roi minstret=" + std::to_string(real.stats.insn_count + 12345) + " ");
  SimResult edited = sim->Simulate(a, bare);
  ASSERT_TRUE(edited.ok()) << Describe(edited);
  EXPECT_EQ(edited.stats.insn_count, real.stats.insn_count + 12345);

  // Other checksums than the verified ones: Spike runs again and counts for itself.
  rewrite("checksum out=", "checksum out=0");
  EXPECT_EQ(VerifiedSimOutput(a, runner), "");
  SimResult rerun = sim->Simulate(a, bare);
  ASSERT_TRUE(rerun.ok()) << Describe(rerun);
  EXPECT_EQ(rerun.stats.insn_count, real.stats.insn_count);
  EXPECT_FALSE(rerun.stats.extra.contains("plain_run"));
  std::ofstream(file) << "{\"runner\": [";   // damaged: ignored too
  EXPECT_EQ(VerifiedSimOutput(a, runner), "");
  std::filesystem::remove(file);
}

// Issue 16 item 14: a faulting bare-metal kernel ends at once with the trap's cause instead
// of spinning until the timeout.
TEST(SimMode, BareMetalTrapFailsFastAtRun) {
  Target bare = LoadTestTarget("riscv64-baremetal");
  auto sim = MakeSimulator(Registry(), "spike", "timeout=60");
  ASSERT_TRUE(sim);
  if (!Require(*sim, bare)) return;
  KernelSource k = roi_test::ScaleKernel(16);
  k.code = R"C(
#include <stdint.h>
void simtune_kernel(float *const *bufs) {
  volatile uintptr_t addr = 8;   /* nothing is mapped there */
  *(volatile float *)addr = bufs[0][0];
}
)C";
  Artifact a = BuildOrFail(k, bare);
  ASSERT_TRUE(a.ok());
  auto start = std::chrono::steady_clock::now();
  Artifact verified = a;
  VerifyArtifactInto(verified, bare, 60);
  EXPECT_EQ(verified.stage, "run");
  EXPECT_TRUE(StartsWith(verified.message, "trap store access fault mcause=7 mepc=0x8"))
      << verified.message;
  EXPECT_NE(verified.message.find(" mtval=0x8"), std::string::npos) << verified.message;
  SimResult r = sim->Simulate(a, bare);
  EXPECT_EQ(r.stage, "run") << Describe(r);
  EXPECT_TRUE(StartsWith(r.message, "spike: harness trap store access fault mcause=7 mepc=0x8"))
      << r.message;
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(s, 20) << "the trap should end the runs at once";
}

}  // namespace
}  // namespace simtune
