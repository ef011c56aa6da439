// The Simulator contract, checked for every simulator registered in Simulators(): names,
// options keys, failed artifacts, install hints, and a real run (ok on a correct kernel,
// "verify" on a wrong one) on every shipped target it supports where its tools are
// installed. The fake never runs artifacts, so only the contract's bookkeeping applies to it.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/simulators/roi_kernels.h"

namespace simtune {
namespace {

using roi_test::BuildOrFail;
using roi_test::Describe;
using roi_test::LoadTestTarget;

const std::vector<std::string> kRealTargets = {"x86_64-host", "riscv64-linux",
                                               "riscv64-baremetal"};

class SimulatorContract : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Simulator> Make(const std::string& options = "") {
    auto sim = Simulators().Create(GetParam(), options);
    if (!sim.ok()) {
      ADD_FAILURE() << GetParam() << ": " << sim.message();
      return nullptr;
    }
    return std::move(sim).value();
  }
};

TEST(SimulatorRegistry, HasTheBuiltIns) {
  auto names = Simulators().Names();
  for (const char* expected : {"fake", "qemu", "spike", "valgrind"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end())
        << "simulator " << expected << " is not registered in Simulators()";
}

TEST_P(SimulatorContract, NameMatchesTheRegistry) {
  auto sim = Make();
  ASSERT_TRUE(sim);
  EXPECT_EQ(sim->name(), GetParam());
}

TEST_P(SimulatorContract, OptionsKeyIsStable) {
  auto a = Make();
  auto b = Make();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->options_key(), b->options_key());
  EXPECT_EQ(a->options_key(), a->options_key());
  // Created from its own key, a simulator reports the same key again.
  auto again = Make(a->options_key());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->options_key(), a->options_key());
}

TEST_P(SimulatorContract, FailedArtifactGivesAFailedResult) {
  auto sim = Make();
  ASSERT_TRUE(sim);
  Artifact broken;
  broken.target = "x86_64-host";
  broken.status = "failed";
  broken.stage = "build";
  broken.message = "kernel.c:3: error: expected ';'";
  for (const auto& name : kRealTargets) {
    SCOPED_TRACE(name);
    SimResult r = sim->Simulate(broken, LoadTestTarget(name));
    EXPECT_EQ(r.status, "failed");
    EXPECT_FALSE(r.ok());
    EXPECT_FALSE(r.stage.empty());
    EXPECT_FALSE(r.message.empty());
  }
}

TEST_P(SimulatorContract, AvailableIsOkOrSaysHowToInstall) {
  auto sim = Make();
  ASSERT_TRUE(sim);
  for (const auto& name : kRealTargets) {
    Target t = LoadTestTarget(name);
    if (!sim->Supports(t)) continue;
    Status st = sim->Available(t);
    if (!st.ok()) EXPECT_NE(st.message().find("install"), std::string::npos) << st.message();
  }
}

TEST_P(SimulatorContract, RealRunsOkAndWrongKernelsFailAtVerify) {
  if (GetParam() == "fake") GTEST_SKIP() << "the fake simulator never runs artifacts";
  auto sim = Make();
  ASSERT_TRUE(sim);
  int runs = 0;
  for (const auto& name : kRealTargets) {
    SCOPED_TRACE(name);
    Target t = LoadTestTarget(name);
    if (!sim->Supports(t)) continue;
    Status st = sim->Available(t);
    if (!st.ok()) {
      ADD_FAILURE() << GetParam() << " supports " << name << " but is not available: "
                    << st.message();
      continue;
    }
    Artifact good = BuildOrFail(roi_test::ScaleKernel(64), t);
    Artifact wrong = BuildOrFail(roi_test::ScaleKernel(64, 1, /*wrong=*/true), t);
    if (!good.ok() || !wrong.ok()) continue;
    SimResult ok = sim->Simulate(good, t);
    ASSERT_TRUE(ok.ok()) << Describe(ok);
    EXPECT_GT(ok.stats.insn_count, 0u);
    EXPECT_EQ(ok.stats.simulator, GetParam());
    EXPECT_EQ(ok.stats.schema_version, kSimStatsSchemaVersion);
    SimResult bad = sim->Simulate(wrong, t);
    EXPECT_EQ(bad.status, "failed");
    EXPECT_EQ(bad.stage, "verify") << Describe(bad);
    ++runs;
  }
  EXPECT_GT(runs, 0) << GetParam() << " supports none of the shipped targets";
}

INSTANTIATE_TEST_SUITE_P(Registered, SimulatorContract,
                         ::testing::ValuesIn(Simulators().Names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace simtune
