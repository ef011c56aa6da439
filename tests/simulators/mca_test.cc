// The "mca" simulator: qemu's translation-block profile x llvm-mca-19 on real artifacts for
// x86_64 (the host's own core model), riscv64 linux (sifive-u74, qemu user mode) and the
// rvsim references' bare-metal ELFs (sifive-p450, rocket-rv64; qemu system mode), its cache, its errors, and
// the "mca" predictor on a candidate pair that the instruction count cannot tell apart.
#include <gtest/gtest.h>

#include <cmath>

#include "simtune/features.h"
#include "simtune/predictor.h"
#include "simtune/process.h"
#include "simtune/simulator.h"
#include "src/simulators/mca_support.h"
#include "tests/simulators/roi_kernels.h"

namespace simtune {
namespace {

using roi_test::BuildOrFail;
using roi_test::LoadTestTarget;

// acc = acc OP c OP c + in[i]; out[i] = acc over n floats, OP '*' (c = 1/3) or '/' (c = 3): the
// same kind and nearly the same number of instructions, but a chain of dependent divisions
// costs many more cycles than one of multiplications on every core model (a division's
// latency; an independent, vectorised division can hide behind the loads and stores on a
// wide core such as the host's own: llvm-mca's sapphirerapids model gives vdivps and vmulps
// the same throughput-bound cycles for out[i] = in[i] OP c).
KernelSource DivOrMulKernel(int n, char op) {
  KernelSource s;
  const std::string step =
      op == '/' ? "acc = acc / 3.0f / 3.0f + in[i];" : "acc = acc * 0.33333334f * 0.33333334f + in[i];";
  s.code = "void simtune_kernel(float *const *bufs) {\n  const float *in = bufs[0];\n"
           "  float *out = bufs[1];\n  float acc = 1.0f;\n"
           "  for (long i = 0; i < ROI_N; ++i) {\n    " + step + "\n    out[i] = acc;\n  }\n}\n";
  s.reference_code = "void simtune_reference(float *const *bufs) {\n  const float *in = bufs[0];\n"
                     "  float acc = 1.0f;\n"
                     "  for (long i = 0; i < ROI_N; ++i) {\n    " + step + "\n    bufs[1][i] = acc;\n  }\n}\n";
  s.buffers = {{"in", n, false}, {"out", n, true}};
  s.extra_cflags = {"-DROI_N=" + std::to_string(n)};
  s.flops = 2 * n;
  return s;
}

SimResult RunMca(const KernelSource& src, const std::string& target_name,
                 const std::string& options = "") {
  Target target = LoadTestTarget(target_name);
  Artifact a = BuildOrFail(src, target);
  auto sim = Simulators().Create("mca", options);
  if (!sim.ok()) {
    ADD_FAILURE() << sim.message();
    return {};
  }
  Status st = (*sim)->Available(target);
  if (!st.ok()) {
    ADD_FAILURE() << st.message();
    return {};
  }
  return (*sim)->Simulate(a, target);
}

class McaPerTarget : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Targets, McaPerTarget,
                         ::testing::Values("x86_64-host", "riscv64-linux",
                                           "riscv64-rvsim-p550", "riscv64-rvsim-rocket"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n) if (c == '-') c = '_';
                           return n;
                         });

TEST_P(McaPerTarget, CyclesCoverageAndBoundSharesOnARealArtifact) {
  const std::string target = GetParam();
  // A size no other test uses, so that the first run below is not served from the cache.
  SimResult r = RunMca(roi_test::GemmKernel(24, 40, 16), target);
  ASSERT_TRUE(r.ok()) << r.stage << ": " << r.message;
  EXPECT_EQ(r.stats.simulator, "mca");
  EXPECT_GT(r.stats.insn_count, 24u * 40 * 16 / 8);
  const auto& m = r.stats.extra.at("mca");
  EXPECT_GE(m.at("coverage").get<double>(), 0.99) << m.dump();
  EXPECT_LE(m.at("coverage").get<double>(), 1.0);
  const double cycles = m.at("cycles").get<double>();
  // Between an absurd 16 instructions and 1/10 instruction per cycle.
  EXPECT_GT(cycles, r.stats.insn_count / 16.0) << m.dump();
  EXPECT_LT(cycles, r.stats.insn_count * 10.0) << m.dump();
  const std::string cpu = m.at("cpu");
  if (target == "riscv64-linux") EXPECT_EQ(cpu, "sifive-u74");
  else if (target == "riscv64-rvsim-p550") EXPECT_EQ(cpu, "sifive-p450");
  else if (target == "riscv64-rvsim-rocket") EXPECT_EQ(cpu, "rocket-rv64");
  else EXPECT_NE(cpu, "native");   // resolved by LLVM to the host's family
  double share = 0;
  for (const auto& [group, v] : m.at("bound").items()) share += v.get<double>();
  EXPECT_NEAR(share, 1.0, 1e-9) << m.dump();
  EXPECT_TRUE(m.at("bound").contains("dependency"));
  // Features of the record (features.h).
  Workload w;
  auto f = ExtractFeatures({{"mca", r.stats}}, w, {}, 0, FeatureOptions{});
  EXPECT_NEAR(f.at("mca.log_cycles"), std::log(cycles), 1e-9);
  EXPECT_GT(f.at("mca.rthroughput_ratio"), 0);
  EXPECT_LE(f.at("mca.rthroughput_ratio"), 1.0 + 1e-9);
  // Once per artifact and block set: the second run reads llvm-mca's answer from the cache.
  SimResult again = RunMca(roi_test::GemmKernel(24, 40, 16), target);
  ASSERT_TRUE(again.ok()) << again.message;
  EXPECT_TRUE(again.stats.extra["mca"]["cached"].get<bool>());
  EXPECT_DOUBLE_EQ(again.stats.extra["mca"]["cycles"].get<double>(), cycles);
}

TEST_P(McaPerTarget, PredictorRanksTheDivisionSlowerPerInstruction) {
  const std::string target = GetParam();
  SimResult mul = RunMca(DivOrMulKernel(2048, '*'), target);
  SimResult div = RunMca(DivOrMulKernel(2048, '/'), target);
  ASSERT_TRUE(mul.ok() && div.ok()) << mul.message << div.message;
  // The instruction counts are close (equal on riscv64; x86's vectoriser may unroll the two
  // loops differently) ...
  const double insn_ratio = static_cast<double>(div.stats.insn_count) / mul.stats.insn_count;
  EXPECT_LT(std::abs(std::log(insn_ratio)), std::log(1.3)) << insn_ratio;
  Workload w;
  std::vector<FeatureInput> rows = {
      {1, 0, 1.0, ExtractFeatures({{"mca", mul.stats}}, w, {}, 0, FeatureOptions{})},
      {2, 0, 1.0, ExtractFeatures({{"mca", div.stats}}, w, {}, 0, FeatureOptions{})}};
  Dataset d = BuildDataset(rows, {}, false);
  // ... the mca baseline can, with no calibration (y is ignored).
  auto p = Predictors().Create("mca", "");
  ASSERT_TRUE(p.ok()) << p.message();
  ASSERT_TRUE((*p)->Fit(d).ok());
  auto score = (*p)->Predict(d);
  ASSERT_TRUE(score.ok()) << score.message();
  // ... the mca baseline, with no calibration (y is ignored), sees the division's cost: at
  // least 1.5x the cycles per instruction.
  EXPECT_GT((*score)[1] - (*score)[0], std::log(insn_ratio) + std::log(1.5))
      << "division not clearly slower";
}

TEST(Mca, PredictorWithoutTheCycleFeatureSaysHowToGetIt) {
  Dataset d;
  d.feature_names = {"qemu.log_insn"};
  d.X = Eigen::MatrixXd::Constant(2, 1, 1.0);
  d.y = Eigen::VectorXd::Ones(2);
  d.group = {0, 0};
  d.ids = {1, 2};
  auto p = Predictors().Create("mca", "");
  ASSERT_TRUE(p.ok());
  Status st = (*p)->Fit(d);
  EXPECT_EQ(st.message(),
            "training data has no llvm-mca cycle feature ('<simulator>.log_cycles': simulate "
            "with --sim mca); name one with mca option feature=NAME");
}

TEST(Mca, HotBlocksCoverTheAskedShareByExecutedInstructions) {
  std::vector<mca::TbBlock> blocks = {{0x100, 4, 1000}, {0x200, 10, 10}, {0x300, 2, 5},
                                      {0x50, 1, 1}};
  const uint64_t total = 4000 + 100 + 10 + 1;
  auto hot = mca::HotBlocks(blocks, 0.97, total);
  ASSERT_EQ(hot.size(), 1u);   // 4000 / 4111 = 0.973
  EXPECT_EQ(hot[0].addr, 0x100u);
  hot = mca::HotBlocks(blocks, 0.99, total);
  ASSERT_EQ(hot.size(), 2u);   // + 100: 0.997
  EXPECT_EQ(hot[0].addr, 0x100u);
  EXPECT_EQ(hot[1].addr, 0x200u);
  EXPECT_EQ(mca::HotBlocks(blocks, 1.0, total).size(), 4u);
}

TEST(Mca, LongBlocksGetFewerIterations) {
  EXPECT_EQ(mca::IterationsFor(1, 0), 200);
  EXPECT_EQ(mca::IterationsFor(40, 0), 200);     // 8000 instructions simulated
  EXPECT_EQ(mca::IterationsFor(41, 0), 100);
  EXPECT_EQ(mca::IterationsFor(160, 0), 50);
  EXPECT_EQ(mca::IterationsFor(161, 0), 25);
  EXPECT_EQ(mca::IterationsFor(5000, 0), 12);    // no fewer than 10
  EXPECT_EQ(mca::IterationsFor(5000, 200), 200); // iterations=N: every block N
  EXPECT_EQ(Simulators().Create("mca", "iterations=0").message(),
            "mca simulator option iterations: expected auto or a count in [1, 100000]; got '0'");
  EXPECT_EQ(Simulators().Create("mca", "iterations=many").message(),
            "mca simulator option iterations: expected auto or a count in [1, 100000]; got 'many'");
  auto fixed = Simulators().Create("mca", "iterations=200");
  ASSERT_TRUE(fixed.ok()) << fixed.message();
  EXPECT_EQ((*fixed)->options_key(), "iterations=200");
  auto automatic = Simulators().Create("mca", "iterations=auto");
  ASSERT_TRUE(automatic.ok()) << automatic.message();
  EXPECT_EQ((*automatic)->options_key(), "");
}

// out[i] = sum over 64 taps of w[t] * in[i + t], the tap loop unrolled in full: one hot block
// of a few hundred instructions.
KernelSource LongBlockKernel(int n) {
  const std::string body =
      "  for (long i = 0; i < ROI_N; ++i) {\n    float acc = 0.0f;\n"
      "#pragma GCC unroll 64\n"
      "    for (int t = 0; t < 64; ++t) acc += w[t] * in[i + t];\n    out[i] = acc;\n  }\n}\n";
  KernelSource s;
  s.code = "void simtune_kernel(float *const *bufs) {\n  const float *in = bufs[0], *w = bufs[1];\n"
           "  float *out = bufs[2];\n" + body;
  s.reference_code = "void simtune_reference(float *const *bufs) {\n  const float *in = bufs[0], "
                     "*w = bufs[1];\n  float *out = bufs[2];\n" + body;
  s.buffers = {{"in", n + 64, false}, {"w", 64, false}, {"out", n, true}};
  s.extra_cflags = {"-DROI_N=" + std::to_string(n)};
  s.flops = 128.0 * n;
  return s;
}

// Auto iterations against 200 for every block on a real artifact whose hot block is long:
// the weighted cycles differ, by less than 1 %.
TEST(Mca, AutoIterationsAgreeWithTwoHundredOnARealArtifact) {
  for (const char* target : {"riscv64-rvsim-p550", "x86_64-host"}) {
    SimResult fixed = RunMca(LongBlockKernel(256), target, "iterations=200");
    SimResult automatic = RunMca(LongBlockKernel(256), target);
    ASSERT_TRUE(fixed.ok()) << fixed.message;
    ASSERT_TRUE(automatic.ok()) << automatic.message;
    const double a = automatic.stats.extra["mca"]["cycles"].get<double>();
    const double f = fixed.stats.extra["mca"]["cycles"].get<double>();
    EXPECT_NEAR(a / f, 1.0, 0.01) << target << ": auto " << a << ", 200 iterations " << f;
    EXPECT_NE(a, f) << target << ": no block long enough to get fewer iterations; the test needs one";
  }
}

// SimulatorSet runs qemu once for qemu and mca: both results equal those of separate runs,
// field by field (qemu user mode on x86_64, system mode on an rvsim reference; the mca result's
// wall time aside). Options that do not agree on the run (another timeout) are not shared.
TEST(SimulatorSet, SharedQemuRunGivesTheStatisticsOfSeparateRuns) {
  for (const char* target_name : {"x86_64-host", "riscv64-linux", "riscv64-rvsim-p550"}) {
    Target target = LoadTestTarget(target_name);
    Artifact a = BuildOrFail(roi_test::GemmKernel(24, 40, 16), target);
    const std::vector<std::pair<std::string, std::string>> specs = {{"qemu", ""}, {"mca", ""}};
    auto shared = SimulatorSet::Create(specs);
    auto separate = SimulatorSet::Create(specs, /*share_runs=*/false);
    ASSERT_TRUE(shared.ok()) << shared.message();
    ASSERT_TRUE(separate.ok()) << separate.message();
    EXPECT_EQ((*shared)->shared(), (std::vector<std::pair<size_t, size_t>>{{0, 1}}));
    EXPECT_TRUE((*separate)->shared().empty());
    std::vector<SimResult> one = (*shared)->Simulate(a, target);
    std::vector<SimResult> two = (*separate)->Simulate(a, target);
    ASSERT_EQ(one.size(), 2u);
    ASSERT_EQ(two.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      ASSERT_TRUE(one[i].ok()) << target_name << " " << i << ": " << one[i].message;
      ASSERT_TRUE(two[i].ok()) << target_name << " " << i << ": " << two[i].message;
      // Whether llvm-mca's answer came from the artifact's cache depends on which ran first.
      for (SimResult* r : {&one[i], &two[i]})
        if (r->stats.extra.contains("mca")) r->stats.extra["mca"].erase("cached");
      EXPECT_EQ(one[i].stats.ToJson().dump(), two[i].stats.ToJson().dump()) << target_name << " result " << i;
    }
    EXPECT_FALSE(one[0].stats.extra.contains("tbs")) << "qemu's own result has no block profile";
    // A subset: mca alone runs its own qemu run; the unwanted result stays empty.
    std::vector<SimResult> mca_only = (*shared)->Simulate(a, target, {1});
    ASSERT_EQ(mca_only.size(), 2u);
    EXPECT_EQ(mca_only[0].status, "");
    ASSERT_TRUE(mca_only[1].ok()) << target_name << ": " << mca_only[1].message;
    mca_only[1].stats.extra["mca"].erase("cached");
    EXPECT_EQ(mca_only[1].stats.ToJson().dump(), two[1].stats.ToJson().dump()) << target_name;
  }
  auto unsupported = SimulatorSet::Create({{"qemu", ""}, {"valgrind", ""}});
  ASSERT_TRUE(unsupported.ok()) << unsupported.message();
  EXPECT_EQ((*unsupported)->CheckTarget(LoadTestTarget("riscv64-rvsim-p550")).message(),
            "simulator 'valgrind' does not support target 'riscv64-rvsim-p550'");
  auto other = SimulatorSet::Create({{"qemu", "timeout=30"}, {"mca", ""}, {"qemu", "timeout=60,cache=off"}, {"mca", "timeout=60"}});
  ASSERT_TRUE(other.ok()) << other.message();
  EXPECT_EQ((*other)->shared(), (std::vector<std::pair<size_t, size_t>>{{2, 3}}));
  auto with_tbs = SimulatorSet::Create({{"mca", ""}, {"qemu", "tbs=on"}});
  ASSERT_TRUE(with_tbs.ok()) << with_tbs.message();
  EXPECT_EQ((*with_tbs)->shared(), (std::vector<std::pair<size_t, size_t>>{{1, 0}}));
}

TEST(Mca, BadProfilesAndOptionsAreNamed) {
  auto none = mca::ParseTbProfile(nlohmann::json::object(), "qemu statistics");
  EXPECT_EQ(none.message(), "qemu statistics: extra.tbs has no \"blocks\" list (run qemu with tbs=on)");
  auto bad = mca::ParseTbProfile({{"blocks", {{1, 2}}}}, "qemu statistics");
  EXPECT_EQ(bad.message(),
            "qemu statistics: extra.tbs.blocks[0]: expected [address, instructions, executions]; got [1,2]");
  EXPECT_EQ(Simulators().Create("mca", "coverage=0").message(),
            "mca simulator option coverage: expected a fraction in (0, 1]; got '0'");
  EXPECT_EQ(Simulators().Create("mca", "cpu=").message(),
            "mca simulator option cpu: expected a CPU name; got ''");
  EXPECT_NE(Simulators().Create("mca", "colour=red").message().find("unknown mca simulator option 'colour'"),
            std::string::npos)
      << Simulators().Create("mca", "colour=red").message();
  // A target without a core model.
  Target t = LoadTestTarget("riscv64-linux");
  t.mca_cpu.clear();
  auto sim = Simulators().Create("mca", "");
  ASSERT_TRUE(sim.ok());
  EXPECT_NE((*sim)->Available(t).message().find("names no llvm-mca CPU (key mca_cpu in"),
            std::string::npos)
      << (*sim)->Available(t).message();
  // An unknown CPU: llvm-mca's own complaint, named.
  SimResult r = RunMca(DivOrMulKernel(512, '*'), "riscv64-linux", "cpu=no-such-core");
  EXPECT_EQ(r.stage, "run");
  EXPECT_NE(r.message.find("llvm-mca-19"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace simtune
