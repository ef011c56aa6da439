// Golden tests of numeric flags at their limits (issue 16): negative counts used to wrap
// around to huge unsigned values (`tune --budget -1` ran without limit, `space --sample -1`
// printed the whole space), a timeout of 0 meant "none", 1e300 s overflowed, and
// `simulate -j 2147483647` started that many threads and aborted.
#include <gtest/gtest.h>

#include "tests/support/scratch_test.h"

namespace simtune {
namespace {

class LimitsTest : public testing_support::ScratchTest {
 protected:
  LimitsTest() : ScratchTest("simtune_limits_") {}
  ProcessResult Run(std::vector<std::string> args) { return RunSimtune(std::move(args), 300); }
};

const char* kHelpLine = "Run with --help or --help-all for more information.\n";

TEST_F(LimitsTest, NegativeCountsAreRejectedWithTheFlagsName) {
  auto r = Run({"space", "gemm:M=8,N=8,K=8", "--sample", "-1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, std::string("error: --sample: expected an integer >= 0; got '-1'\n") + kHelpLine);
  r = Run({"tune", "gemm:M=8,N=8,K=8", "--budget", "-1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, std::string("error: --budget: expected an integer >= 0; got '-1'\n") + kHelpLine);
  r = Run({"measure", "gemm:M=8,N=8,K=8", "--top", "-3"});
  EXPECT_EQ(r.err, std::string("error: --top: expected an integer >= 0; got '-3'\n") + kHelpLine);
  r = Run({"simulate", "gemm:M=8,N=8,K=8", "-j", "-2"});
  EXPECT_EQ(r.err, std::string("error: --jobs: expected an integer >= 0; got '-2'\n") + kHelpLine);
  r = Run({"tune", "gemm:M=8,N=8,K=8", "--budget", "4", "--time-budget", "-5"});
  EXPECT_EQ(r.err,
            std::string("error: --time-budget: expected seconds >= 0; got '-5'\n") + kHelpLine);
}

TEST_F(LimitsTest, TimeoutsMustBePositiveAndSane) {
  auto r = Run({"tune", "gemm:M=8,N=8,K=8", "--budget", "4", "--verify-timeout", "0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err,
            std::string("error: --verify-timeout: expected seconds > 0; got '0'\n") + kHelpLine);
  r = Run({"tune", "gemm:M=8,N=8,K=8", "--budget", "4", "--build-timeout", "-1"});
  EXPECT_EQ(r.err,
            std::string("error: --build-timeout: expected seconds > 0; got '-1'\n") + kHelpLine);
  r = Run({"tune", "gemm:M=8,N=8,K=8", "--budget", "4", "--verify-timeout", "1e300"});
  EXPECT_EQ(r.err, std::string("error: --verify-timeout: at most 2592000 s (30 days); got "
                               "'1e300'\n") +
                       kHelpLine);
  // Reference and simulator options say the same in their own words.
  r = Run({"measure", "gemm:M=8,N=8,K=8", "--ref-options", "timeout=0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: native reference option timeout: expected seconds > 0; got '0'\n");
  r = Run({"simulate", "gemm:M=8,N=8,K=8", "--sim", "qemu", "--sim-options", "timeout=0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: qemu simulator option timeout: must be positive; got '0'\n");
}

TEST_F(LimitsTest, HugeJobCountIsCappedAtTheWork) {
  auto b = Run({"build", "gemm:M=8,N=8,K=8", "--sample", "2", "--no-verify"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  auto r = Run({"simulate", "gemm:M=8,N=8,K=8", "--sim", "fake", "-j", "2147483647"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("simulated 2 candidates of gemm:M=8,N=8,K=8 on x86_64-host with fake in "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" s (-j 2), 0 already in the store, 0 not built\n"), std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace simtune
