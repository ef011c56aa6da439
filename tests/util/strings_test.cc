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
