// `simtune dataset` through the real binary: a progress line per step, the per-workload table,
// --save-model training this machine's model, and errors that name the value.
#include <gtest/gtest.h>

#include <filesystem>

#include "simtune/process.h"
#include "tests/support/scratch_test.h"

namespace simtune {
namespace {

class DatasetCommandTest : public testing_support::ScratchTest {
 protected:
  DatasetCommandTest() : ScratchTest("simtune_dataset_cli_") {}
  ProcessResult Run(std::vector<std::string> args) { return RunSimtune(std::move(args), 600); }
};

TEST_F(DatasetCommandTest, ProgressPerStepTableAndSavedModel) {
  auto r = Run({"dataset", "-w", "corpus.mvm_odd;corpus.gemm_odd", "--target", "x86_64-host", "--sample", "2",
                "--ref-options", "rounds=2,reps=3,min_rep_ns=20000", "-j", "2", "--db", "c.db", "--save-model",
                "m.json", "--predictor", "ridge", "--no-shape"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("dataset: 6 steps into c.db (--sample 2, --seed 1)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("dataset: 1/6 build corpus.mvm_odd for x86_64-host: built 2 (0 failed), 0 already built\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("dataset: 6/6 measure corpus.gemm_odd on x86_64-host with native: measured 2; 2 ok, 0 failed in all\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("4 measured candidates of 2 workload x target pairs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("trained ridge (folds=5,seed=0) on 4 measured candidates of 2 workloads; wrote m.json"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "m.json"));
}

TEST_F(DatasetCommandTest, ErrorsNameTheValue) {
  auto r = Run({"dataset", "--target", "x86_64-host,riscv64-rvsim-p550", "--sample", "1", "--save-model", "m.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: --save-model trains one target's model; pass one --target\n");
  r = Run({"dataset", "--target", "x86_64-hots", "--sample", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'x86_64-hots'"), std::string::npos) << r.err;
  r = Run({"dataset", "--also", "qemu", "--sample", "1"});
  EXPECT_EQ(r.err, "error: --also 'qemu': expected SIM@TARGET (e.g. qemu@riscv64-linux)\n");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "corpus.db")) << "no store before the options are checked";
}

}  // namespace
}  // namespace simtune
