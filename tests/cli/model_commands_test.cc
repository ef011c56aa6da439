// Golden tests of `simtune train`, `predict`, `eval` and `verify` on a real store: a small
// GEMM built for the host, simulated on real qemu with simtune's plugin, a calibration subset
// measured natively, then the model flow end to end, and the errors that name what is missing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/scratch_test.h"
#include "simtune/process.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

class ModelCommandsTest : public testing_support::ScratchTest {
 protected:
  ModelCommandsTest() : ScratchTest("simtune_model_cli_") {}

  ProcessResult Run(std::vector<std::string> args) { return RunSimtune(std::move(args), 600); }

};

constexpr const char* kWorkload = "gemm:M=32,N=32,K=32";
constexpr const char* kRefOptions = "rounds=3,reps=3,min_rep_ns=50000";

TEST_F(ModelCommandsTest, TrainPredictEvalVerifyEndToEnd) {
  auto r = Run({"build", kWorkload, "--sample", "12", "--seed", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Run({"simulate", kWorkload, "--sim", "qemu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ok 12"), std::string::npos) << r.out;

  // No reference results yet: training says what to run.
  r = Run({"train", "--sim", "qemu", "-o", "m.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: no candidate has both qemu statistics on x86_64-host and a native result on "
                   "x86_64-host in the store; run `simtune simulate` and `simtune measure` first\n");

  r = Run({"measure", kWorkload, "--ref-options", kRefOptions, "--sample", "8", "--seed", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("8 measured, 0 failed"), std::string::npos) << r.out;

  r = Run({"train", "--sim", "qemu", "-w", kWorkload, "--predictor", "ridge", "-o", "m.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("trained ridge (folds=5,seed=0) on 8 measured candidates of 1 workloads"),
            std::string::npos) << r.out;
  // Units (issue 14 friction 5): the model file records the reference's unit, and every
  // printed prediction carries it.
  EXPECT_NE(r.out.find("predicts: run time in ns on native (x86_64-host)\n"), std::string::npos) << r.out;
  auto model = nlohmann::json::parse(std::ifstream(dir_ / "m.json"));
  EXPECT_EQ(model["data"]["simulators"], std::vector<std::string>{"qemu"});
  EXPECT_EQ(model["trained_on"]["rows"], 8);
  EXPECT_EQ(model["trained_on"]["unit"], "ns");

  r = Run({"predict", kWorkload, "--model", "m.json", "--json", "ranking.json", "--top", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("12 candidates ranked by ridge"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("predicted"), std::string::npos) << r.out;
  {
    // Rank 1's row: "   1  <id>  <score> ns  <measured> ns|-  <config>".
    std::istringstream lines(r.out);
    std::string line;
    std::getline(lines, line);
    std::getline(lines, line);
    std::getline(lines, line);
    EXPECT_EQ(line.rfind("   1  ", 0), 0u) << r.out;
    EXPECT_NE(line.find(" ns  "), std::string::npos) << line;
  }
  auto ranking = nlohmann::json::parse(std::ifstream(dir_ / "ranking.json"));
  ASSERT_EQ(ranking["ranking"].size(), 12u);
  EXPECT_EQ(ranking["unit"], "ns");
  EXPECT_LE(ranking["ranking"][0]["score"].get<double>(), ranking["ranking"][11]["score"].get<double>());
  r = Run({"predict", kWorkload, "--model", "m.json", "--json", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["ranking"], ranking["ranking"]) << "stdout holds the JSON alone";

  // A baseline's score only orders: no unit, and the header says so.
  r = Run({"train", "--sim", "qemu", "--predictor", "insn-count", "--options", "feature=qemu.log_insn", "-o",
           "count.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("predicts: a unitless score that orders candidates (not a run time)\n"), std::string::npos)
      << r.out;
  r = Run({"predict", kWorkload, "--model", "count.json", "--top", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("score (unitless)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(" ns  "), std::string::npos) << r.out;

  r = Run({"eval", "--sim", "qemu", "--predictors", "linear,cost,insn-count:feature=qemu.log_insn",
           "--protocols", "kfold", "--folds", "2", "--json", "eval.json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("summary over 1 workloads"), std::string::npos) << r.out;
  auto eval = nlohmann::json::parse(std::ifstream(dir_ / "eval.json"));
  ASSERT_EQ(eval["results"].size(), 3u);
  EXPECT_EQ(eval["results"][1]["predictor"], "cost");
  EXPECT_EQ(eval["results"][1]["per_workload"][0]["candidates"], 8);

  r = Run({"verify", kWorkload, "--model", "m.json", "--top", "2", "--ref-options", kRefOptions});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("verifying the 2 best predicted of 12 candidates"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("best verified: candidate"), std::string::npos) << r.out;
}

TEST_F(ModelCommandsTest, BadInputsNameTheValue) {
  auto r = Run({"eval", "--predictors", "ridg"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("error: --predictors: unknown predictor 'ridg'; did you mean 'ridge'?", 0), 0u) << r.err;
  r = Run({"eval", "--protocols", "loo"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: unknown protocol 'loo'; did you mean 'lowo'? valid: kfold, lowo\n");
  r = Run({"train", "--sim", "qemu,,valgrind"});
  EXPECT_EQ(r.err, "error: --sim 'qemu,,valgrind': empty simulator name\n");
  r = Run({"predict", kWorkload, "--model", "missing.json"});
  EXPECT_EQ(r.err, "error: model missing.json: cannot read\n");
}

}  // namespace
}  // namespace simtune
