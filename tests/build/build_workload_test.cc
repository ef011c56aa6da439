// Builder::Build/BuildMany on generated kernels (src/workloads), verified natively and under
// qemu-riscv64.
#include <gtest/gtest.h>

#include <filesystem>

#include "simtune/build.h"
#include "simtune/process.h"
#include "simtune/workload.h"

namespace simtune {
namespace {

BuildOptions Options() {
  BuildOptions o;
  o.cache_dir = std::filesystem::path(SIMTUNE_TEST_BINARY_DIR) / "build-test-cache" / "shared";
  o.jobs = 2;
  return o;
}

void BuildAndVerify(const std::string& workload_text, const std::string& target_name) {
  auto target = LoadTarget(target_name);
  ASSERT_TRUE(target.ok()) << target.message();
  ASSERT_TRUE(ProgramExists(target->cc)) << target->cc << " not found; run scripts/setup";
  auto w = ParseWorkload(workload_text);
  ASSERT_TRUE(w.ok()) << w.message();
  auto space = MakeSpace(*w);
  ASSERT_TRUE(space.ok()) << space.message();
  std::vector<Config> configs = (*space)->Sample(3, /*seed=*/7);
  ASSERT_FALSE(configs.empty());

  Builder builder(Options());
  auto arts = builder.BuildMany(*w, configs, *target);
  ASSERT_EQ(arts.size(), configs.size());
  for (size_t i = 0; i < arts.size(); ++i) {
    std::string config = FormatConfig(configs[i], (*space)->knobs());
    ASSERT_TRUE(arts[i].ok()) << config << ": " << arts[i].stage << ": " << arts[i].message;
    EXPECT_GT(arts[i].flops, 0) << config;
    auto v = VerifyArtifact(arts[i], *target);
    ASSERT_TRUE(v.ok()) << v.message();
    EXPECT_TRUE(v->ok()) << config << ": " << v->stage << ": " << v->message << "\n" << v->output;
  }
}

TEST(BuildWorkload, GemmConfigsVerifyOnHost) {
  BuildAndVerify("gemm:M=32,N=48,K=16", "x86_64-host");
}

TEST(BuildWorkload, Conv2dConfigsVerifyUnderQemuRiscv) {
  BuildAndVerify("conv2d:N=1,C=4,H=8,W=8,K=8,R=3,S=3", "riscv64-linux");
}

TEST(BuildWorkload, InvalidConfigIsGenerateFailure) {
  auto target = LoadTarget("x86_64-host");
  ASSERT_TRUE(target.ok());
  auto w = ParseWorkload("gemm:M=32,N=32,K=32");
  ASSERT_TRUE(w.ok()) << w.message();
  Builder builder(Options());
  Artifact a = builder.Build(*w, Config{{"no_such_knob", 1}}, *target);
  EXPECT_EQ(a.status, "failed");
  EXPECT_EQ(a.stage, "generate");
  EXPECT_EQ(a.target, "x86_64-host");
  EXPECT_FALSE(a.message.empty());
}

}  // namespace
}  // namespace simtune
