#include <gtest/gtest.h>

#include <map>

#include "simtune/strings.h"
#include "simtune/workload.h"

namespace simtune {
namespace {

TEST(Workload, ParsesAndCanonicalises) {
  auto w = ParseWorkload("gemm:K=4, M=2,N=3");
  ASSERT_TRUE(w.ok()) << w.message();
  EXPECT_EQ(w->op, "gemm");
  EXPECT_EQ(w->Key(), "gemm:M=2,N=3,K=4");
  EXPECT_EQ(w->Get("N"), 3);
  EXPECT_EQ(w->catalog_name, "");
  EXPECT_EQ(ParseWorkload(w->Key())->Key(), w->Key());

  auto conv = ParseWorkload("conv2d:C=64,H=56,W=56,K=64,R=3,S=3");
  ASSERT_TRUE(conv.ok()) << conv.message();
  EXPECT_EQ(conv->Key(), "conv2d:N=1,C=64,H=56,W=56,K=64,R=3,S=3,stride=1,pad=0");
  EXPECT_EQ(ParseWorkload("dwconv2d:C=8,H=9,W=9,R=3,S=3,pad=1")->Key(),
            "dwconv2d:C=8,H=9,W=9,R=3,S=3,stride=1,pad=1");
  EXPECT_EQ(ParseWorkload("mvm:M=10,K=20")->Key(), "mvm:M=10,K=20");
}

TEST(Workload, ErrorsNameTheBadPart) {
  auto msg = [](const std::string& text) {
    auto w = ParseWorkload(text);
    return w.ok() ? std::string("ok") : w.message();
  };
  EXPECT_EQ(msg("gemm:M=256,N=x,K=4"), "workload 'gemm:M=256,N=x,K=4': N: expected an integer; got 'x'");
  EXPECT_EQ(msg("gemm:M=256,N=256"), "workload 'gemm:M=256,N=256': missing shape parameter K");
  EXPECT_EQ(msg("gemm:M=256,N=256,K=256,Q=3"),
            "workload 'gemm:M=256,N=256,K=256,Q=3': unknown shape parameter 'Q' for gemm; "
            "valid: M, N, K");
  EXPECT_EQ(msg("gemn:M=1"),
            "workload 'gemn:M=1': unknown operator 'gemn'; did you mean 'gemm'? valid: conv2d, "
            "custom, dwconv2d, gemm, mvm");
  EXPECT_EQ(msg("gemm:M=1,M=2,N=1,K=1"),
            "workload 'gemm:M=1,M=2,N=1,K=1': shape parameter M given twice");
  EXPECT_EQ(msg("gemm:M256"), "workload 'gemm:M256': expected NAME=VALUE; got 'M256'");
  EXPECT_EQ(msg("gemm:M=0,N=1,K=1"), "workload 'gemm:M=0,N=1,K=1': M must be >= 1; got 0");
  EXPECT_EQ(msg("mvm:M=100000000,K=1"),
            "workload 'mvm:M=100000000,K=1': M must be <= 16777216; got 100000000");
  EXPECT_EQ(msg("mvm:M=16777216,K=16777216"),
            "workload 'mvm:M=16777216,K=16777216': W would have 16777216 x 16777216 elements; "
            "limit 67108864");
  EXPECT_EQ(msg("conv2d:C=1,H=2,W=2,K=1,R=3,S=3"),
            "workload 'conv2d:C=1,H=2,W=2,K=1,R=3,S=3': window R=3 is taller than the padded "
            "input H + 2*pad = 2");
  EXPECT_EQ(msg("conv2d:C=1,H=2,W=2,K=1,R=1,S=1,stride=0"),
            "workload 'conv2d:C=1,H=2,W=2,K=1,R=1,S=1,stride=0': stride must be >= 1; got 0");
  EXPECT_EQ(msg("dwconv2d:C=1,H=2,W=2,R=1,S=1,pad=-1"),
            "workload 'dwconv2d:C=1,H=2,W=2,R=1,S=1,pad=-1': pad must be >= 0; got -1");
  EXPECT_EQ(msg("custom:"), "workload 'custom:': missing shape parameter spec");
  EXPECT_EQ(msg("custom:file=x.json"),
            "workload 'custom:file=x.json': unknown shape parameter 'file' for custom; valid: spec");
  EXPECT_EQ(msg("custom:spec=/nonexistent/spec.json"),
            "workload 'custom:spec=/nonexistent/spec.json': cannot read /nonexistent/spec.json");
  const std::string unknown = msg("resnet18.conv2_y");
  EXPECT_TRUE(StartsWith(unknown,
                         "unknown workload or catalog entry 'resnet18.conv2_y'; did you mean "
                         "'resnet18.conv2_x'? valid: "))
      << unknown;
  EXPECT_NE(unknown.find(" resnet18.conv1, resnet18.conv2_x, "), std::string::npos) << unknown;
}

TEST(Workload, CatalogNamesResolve) {
  auto w = ParseWorkload("resnet18.conv2_x");
  ASSERT_TRUE(w.ok()) << w.message();
  EXPECT_EQ(w->catalog_name, "resnet18.conv2_x");
  EXPECT_EQ(w->Key(), "conv2d:N=1,C=64,H=56,W=56,K=64,R=3,S=3,stride=1,pad=1");
  EXPECT_EQ(ParseWorkload("bert_base.qkv")->Key(), "gemm:M=128,N=768,K=768");
}

TEST(Workload, GetOfAMissingParameterIsABug) {
  auto w = ParseWorkload("mvm:M=4,K=4");
  ASSERT_TRUE(w.ok());
  EXPECT_DEATH((void)w->Get("Z"), "has no shape parameter Z");
}

TEST(Workload, GenerateRejectsInvalidConfigs) {
  auto w = ParseWorkload("mvm:M=40,K=40");
  ASSERT_TRUE(w.ok());
  auto space = MakeSpace(*w);
  ASSERT_TRUE(space.ok());
  Config c = (*space)->Sample(1, 1).at(0);
  c["reg_m"] = 3;
  auto src = GenerateKernel(*w, c, CodegenContext{"x86_64"});
  ASSERT_FALSE(src.ok());
  EXPECT_TRUE(src.message().find("knob reg_m: value 3 not in [1, 2, 4, 8]") != std::string::npos)
      << src.message();
}

// Contract of every built-in operator (custom has its own test): a non-empty space whose
// configs generate both functions, a signature with an output, positive flops and tolerances.
TEST(Operators, EveryBuiltinHonoursTheContract) {
  std::vector<std::string> names = Operators().Names();
  EXPECT_EQ(names, (std::vector<std::string>{"conv2d", "custom", "dwconv2d", "gemm", "mvm"}));
  const std::map<std::string, std::string> examples = {
      {"conv2d", "conv2d:N=1,C=8,H=10,W=10,K=8,R=3,S=3,pad=1"},
      {"dwconv2d", "dwconv2d:C=8,H=10,W=10,R=3,S=3,pad=1"},
      {"gemm", "gemm:M=16,N=16,K=16"},
      {"mvm", "mvm:M=16,K=16"}};
  for (const auto& name : names) {
    if (name == "custom") continue;
    ASSERT_TRUE(examples.count(name)) << "no example workload for operator " << name;
    auto w = ParseWorkload(examples.at(name));
    ASSERT_TRUE(w.ok()) << w.message();
    auto space = MakeSpace(*w);
    ASSERT_TRUE(space.ok()) << space.message();
    EXPECT_GT((*space)->ValidSize(), 0u) << name;
    for (const auto& knob : (*space)->knobs()) EXPECT_FALSE(knob.description.empty()) << knob.name;
    for (const auto& c : (*space)->Sample(5, 3)) {
      auto src = GenerateKernel(*w, c, CodegenContext{"riscv64"});
      ASSERT_TRUE(src.ok()) << src.message();
      EXPECT_NE(src->code.find("void simtune_kernel(float *const *bufs)"), std::string::npos);
      EXPECT_NE(src->reference_code.find("void simtune_reference(float *const *bufs)"),
                std::string::npos);
      EXPECT_EQ(src->code.find("#include <string.h>"), std::string::npos);
      bool any_output = false;
      for (const auto& b : src->buffers) any_output |= b.output;
      EXPECT_TRUE(any_output) << name;
      EXPECT_FALSE(src->buffers.front().output) << name;  // inputs first
      EXPECT_GT(src->flops, 0) << name;
      EXPECT_GT(src->rel_tol, 0) << name;
      EXPECT_GT(src->abs_tol, 0) << name;
    }
  }
}

TEST(Operators, ToleranceGrowsWithTheReductionLength) {
  auto tol = [](const std::string& text) {
    auto w = ParseWorkload(text);
    auto space = MakeSpace(*w);
    return GenerateKernel(*w, (*space)->Sample(1, 1).at(0), CodegenContext{"x86_64"})->abs_tol;
  };
  EXPECT_DOUBLE_EQ(tol("gemm:M=8,N=8,K=4"), 1e-5);
  EXPECT_LT(tol("gemm:M=8,N=8,K=256"), tol("gemm:M=8,N=8,K=2048"));
  EXPECT_NEAR(tol("gemm:M=8,N=8,K=2048"), 16 * 1.1920929e-7 * 2048, 1e-9);
  EXPECT_DOUBLE_EQ(tol("conv2d:C=64,H=8,W=8,K=4,R=3,S=3"), tol("gemm:M=8,N=8,K=576"));
}

}  // namespace
}  // namespace simtune
