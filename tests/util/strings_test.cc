#include "simtune/strings.h"

#include <gtest/gtest.h>

#include "simtune/process.h"
#include "simtune/registry.h"

namespace simtune {
namespace {

TEST(Strings, ParseIntRejectsJunk) {
  EXPECT_EQ(*ParseInt("42", "x"), 42);
  EXPECT_EQ(*ParseInt("-3", "x"), -3);
  EXPECT_EQ(ParseInt("7x", "tile_m").message(), "tile_m: expected an integer; got '7x'");
  EXPECT_EQ(ParseInt("", "n").message(), "n: expected an integer; got ''");
  EXPECT_EQ(ParseInt("99999999999999999999", "n").message(),
            "n: integer out of range; got '99999999999999999999'");
}

TEST(Strings, SuggestsCloseNames) {
  EXPECT_EQ(Suggest("gemn", {"gemm", "mvm", "conv2d"}), "gemm");
  EXPECT_EQ(Suggest("zzzzzz", {"gemm", "mvm"}), "");
  EXPECT_EQ(UnknownName("operator", "gemn", {"conv2d", "gemm"}).message,
            "unknown operator 'gemn'; did you mean 'gemm'? valid: conv2d, gemm");
}

struct Thing {
  virtual ~Thing() = default;
  virtual int value() const = 0;
};
struct Five : Thing {
  int value() const override { return 5; }
};

TEST(Strings, SplitListKeepsEachItemsOptions) {
  using V = std::vector<std::string>;
  EXPECT_EQ(SplitList("gemm:M=64,N=64,K=64,mvm:M=64,K=64,resnet18.conv2_x"),
            (V{"gemm:M=64,N=64,K=64", "mvm:M=64,K=64", "resnet18.conv2_x"}));
  EXPECT_EQ(SplitList("ridge, xgb-rank:objective=ndcg,folds=3 ,gp"),
            (V{"ridge", "xgb-rank:objective=ndcg,folds=3", "gp"}));
  EXPECT_EQ(SplitList("qemu,valgrind"), (V{"qemu", "valgrind"}));
  // The older ';' spelling, and items with no options of their own.
  EXPECT_EQ(SplitList("gemm:M=8,N=8,K=8;mvm:M=8,K=8"), (V{"gemm:M=8,N=8,K=8", "mvm:M=8,K=8"}));
  EXPECT_EQ(SplitList("a,,b;"), (V{"a", "b"}));
  // A key=value with no item before it that takes options stays an item (rejected later
  // by whoever parses it, naming it).
  EXPECT_EQ(SplitList("resnet18.conv2_x,N=4"), (V{"resnet18.conv2_x", "N=4"}));
  EXPECT_EQ(SplitList(""), V{});
}

TEST(Registry, CreatesAndListsAndRejectsUnknown) {
  Registry<Thing> reg("thing");
  reg.Register("five", "returns five", []() -> Result<std::unique_ptr<Thing>> {
    return std::unique_ptr<Thing>(new Five);
  });
  auto t = reg.Create("five");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->value(), 5);
  EXPECT_EQ(reg.Create("fiv").message(), "unknown thing 'fiv'; did you mean 'five'? valid: five");
  ASSERT_EQ(reg.List().size(), 1u);
  EXPECT_EQ(reg.List()[0].description, "returns five");
}

TEST(Process, CapturesOutputExitAndTimeout) {
  auto r = RunProcess({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->Describe(1), "exit code 3");
  ProcessOptions opt;
  opt.timeout_s = 0.3;
  auto slow = RunProcess({"sh", "-c", "sleep 5"}, opt);
  ASSERT_TRUE(slow.ok());
  EXPECT_TRUE(slow->timed_out);
  EXPECT_LT(slow->wall_s, 3.0);
  EXPECT_EQ(slow->Describe(0.3), "timed out after 0.3 s");
  auto crash = RunProcess({"sh", "-c", "kill -SEGV $$"});
  ASSERT_TRUE(crash.ok());
  EXPECT_EQ(crash->signal, 11);
  EXPECT_EQ(RunProcess({"no-such-program-xyz"}).message(), "program not found: 'no-such-program-xyz'");
}

}  // namespace
}  // namespace simtune
