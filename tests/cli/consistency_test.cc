// The CLI's conventions, checked on the binary (issue 14 frictions 9 and 10): one option name
// for "how many of the best" (old spellings warn), one list separator, defaults in --help,
// --json on measure and report, --version, and a bare-metal build that nothing verified is
// not called ok.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "simtune/features.h"
#include "simtune/process.h"
#include "simtune/store.h"
#include "simtune/strings.h"
#include "tests/support/scratch_test.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

class CliConsistencyTest : public testing_support::ScratchTest {
 protected:
  CliConsistencyTest() : ScratchTest("simtune_cli_conv_") {}

  ProcessResult Run(std::vector<std::string> args) { return RunSimtune(std::move(args), 300); }

  ProcessResult RunWithEnv(std::vector<std::string> args, const std::map<std::string, std::string>& env) {
    args.insert(args.begin(), testing_support::SimtuneBinary());
    ProcessOptions o;
    o.cwd = dir_;
    o.timeout_s = 300;
    o.extra_env = env;
    auto r = RunProcess(args, o);
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() ? *r : ProcessResult{};
  }

  // y = 2x; MODE 0 plain, 1 eight times the work, 2 crashes.
  std::string WriteKernel() {
    std::ofstream(dir_ / "kernel.c") << R"(void simtune_kernel(float *const *bufs) {
#if MODE == 2
  volatile float *p = (float *)0; *p = 1.0f;
#endif
  for (int rep = 0; rep < (MODE == 1 ? 8 : 1); ++rep)
    for (long i = 0; i < 4096; ++i) bufs[1][i] = 2.0f * bufs[0][i];
}
)";
    std::ofstream(dir_ / "ref.c") << R"(void simtune_reference(float *const *bufs) {
  for (long i = 0; i < 4096; ++i) bufs[1][i] = 2.0f * bufs[0][i];
}
)";
    std::ofstream(dir_ / "spec.json") << R"({
  "name": "twice", "source": "kernel.c", "reference": "ref.c",
  "buffers": [{"name": "x", "elements": 4096, "output": false},
              {"name": "out", "elements": 4096, "output": true}],
  "params": {"MODE": [0, 1, 2]}, "flops": 4096
})";
    return "custom:spec=" + (dir_ / "spec.json").string();
  }
};

TEST_F(CliConsistencyTest, VersionNamesTheReleaseAndTheSchemas) {
  auto r = Run({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  std::string tail = " (store schema " + std::to_string(kStoreSchemaVersion) + ", feature schema " +
                     std::to_string(kFeatureSchemaVersion) + ")\n";
  ASSERT_GT(r.out.size(), tail.size()) << r.out;
  EXPECT_EQ(r.out.rfind("simtune ", 0), 0u) << r.out;
  EXPECT_EQ(r.out.substr(r.out.size() - tail.size()), tail) << r.out;
}

TEST_F(CliConsistencyTest, HelpShowsDefaults) {
  auto r = Run({"measure", "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--top UINT=20"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--ref TEXT=native"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--db TEXT=simtune.db"), std::string::npos) << r.out;
  r = Run({"tune", "--help"});
  EXPECT_NE(r.out.find("--strategy TEXT=evolutionary"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--top INT=5"), std::string::npos) << r.out;
}

// "How many of the best" is --top on every command; the old spellings still work, hidden from
// --help, with a warning.
TEST_F(CliConsistencyTest, OneNameForHowManyOfTheBest) {
  for (const char* cmd : {"measure", "report", "predict", "verify", "tune", "eval"}) {
    auto r = Run({cmd, "--help"});
    EXPECT_NE(r.out.find("  --top "), std::string::npos) << cmd << "\n" << r.out;
    for (const char* old : {"--k ", "--verify-top", "--verify-k"})
      EXPECT_EQ(r.out.find(old), std::string::npos) << cmd << " lists " << old << "\n" << r.out;
  }
  auto r = Run({"verify", "gemm:M=8,N=8,K=8", "--model", "missing.json", "--k", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "warning: --k is deprecated; use --top\nerror: model missing.json: cannot read\n");
  r = Run({"tune", "gemm:M=8,N=8,K=8", "--budget", "4", "--verify-top", "2", "--strategy", "genetik"});
  EXPECT_EQ(r.err.rfind("warning: --verify-top is deprecated; use --top\nerror: unknown strategy 'genetik'", 0), 0u)
      << r.err;
  r = Run({"eval", "--verify-k", "3", "--predictors", "ridg"});
  EXPECT_EQ(r.err.rfind("warning: --verify-k is deprecated; use --top\nerror: --predictors: unknown predictor 'ridg'", 0),
            0u) << r.err;
}

// Lists are comma-separated everywhere, an item keeping its own key=value options.
TEST_F(CliConsistencyTest, OneListSeparator) {
  // 'insn-count:feature=qemu.log_insn' is one predictor with its option; 'ridg' the next.
  auto r = Run({"eval", "--predictors", "ridge,insn-count:feature=qemu.log_insn,ridg"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("error: --predictors: unknown predictor 'ridg'; did you mean 'ridge'?", 0), 0u) << r.err;
  auto built = Run({"build", "mvm:M=8,K=8", "--sample", "1", "--db", "s.db"});
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  // Two workloads in one -w: the mvm is found, the GEMM (options kept whole) is not.
  r = Run({"train", "--sim", "qemu", "--db", "s.db", "-w", "mvm:M=8,K=8,gemm:M=8,N=8,K=8"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: workload 'gemm:M=8,N=8,K=8' is not in the store\n");
  // The older ';' still separates.
  r = Run({"train", "--sim", "qemu", "--db", "s.db", "-w", "mvm:M=8,K=8;gemm:M=8,N=8,K=8"});
  EXPECT_EQ(r.err, "error: workload 'gemm:M=8,N=8,K=8' is not in the store\n");
}

TEST_F(CliConsistencyTest, MeasureAndReportWriteJson) {
  std::string w = WriteKernel();
  auto r = Run({"build", w, "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok 2, failed at run 1"), std::string::npos) << r.out;
  r = Run({"measure", w, "--ref-options", "rounds=3,reps=3,min_rep_ns=200000", "--json", "m.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 measured, 0 failed"), std::string::npos) << r.out;   // the table too
  auto m = nlohmann::json::parse(std::ifstream(dir_ / "m.json"));
  EXPECT_EQ(m["workload"].get<std::string>().rfind("custom:", 0), 0u);
  EXPECT_EQ(m["target"], "x86_64-host");
  EXPECT_EQ(m["reference"], "native");
  ASSERT_EQ(m["ranking"].size(), 2u);
  EXPECT_EQ(m["ranking"][0]["config"], "MODE=0");   // eight times the work ranks second
  EXPECT_EQ(m["ranking"][1]["config"], "MODE=1");
  for (const auto& row : m["ranking"]) {
    EXPECT_EQ(row["unit"], "ns");
    EXPECT_GT(row["value"].get<double>(), 0);
    EXPECT_EQ(row["rounds"], 3);
    EXPECT_GT(row["gflops"].get<double>(), 0);
  }
  // '-': the JSON alone on stdout, the same ranking (report reads what measure stored).
  r = Run({"report", w, "--ref-options", "rounds=3,reps=3,min_rep_ns=200000", "--json", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ranking"], m["ranking"]);
  EXPECT_EQ(j["failed"], nlohmann::json::array());
  r = Run({"report", w, "--json", (dir_ / "no-such-dir" / "r.json").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: cannot write '" + (dir_ / "no-such-dir" / "r.json").string() + "'\n");
}

// A bare-metal build with nothing to run it (no Spike) is "built, not verified (no runner)",
// not "ok"; with Spike it is verified at build and ok (issue 14 friction 10).
TEST_F(CliConsistencyTest, BareMetalBuildThatNothingVerifiedIsNotOk) {
  std::string w = WriteKernel();
  // Neither qemu-system-riscv64 nor Spike: a PATH whose folders hold links to every program
  // of the real PATH but qemu-system-*.
  const char* path = std::getenv("PATH");
  ASSERT_NE(path, nullptr);
  std::string no_qemu;
  int n = 0;
  for (const auto& folder : Split(path, ':')) {
    std::error_code ec;
    if (folder.empty() || !std::filesystem::is_directory(folder, ec)) continue;
    std::filesystem::path links = dir_ / ("path" + std::to_string(n++));
    std::filesystem::create_directories(links);
    for (const auto& e : std::filesystem::directory_iterator(folder, ec))
      if (!StartsWith(e.path().filename().string(), "qemu-system-"))
        std::filesystem::create_symlink(e.path(), links / e.path().filename(), ec);
    no_qemu += (no_qemu.empty() ? "" : ":") + links.string();
  }
  auto r = RunWithEnv({"build", w, "--config", "MODE=0", "--target", "riscv64-baremetal"},
                      {{"SIMTUNE_SPIKE", (dir_ / "no-spike").string()}, {"PATH", no_qemu}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\nok 0, built, not verified (no runner) 1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not verified at build (no runner: target riscv64-baremetal has no runner and neither "
                       "qemu-system-riscv64 nor spike is installed"),
            std::string::npos) << r.out;
  // QEMU alone verifies it.
  r = RunWithEnv({"build", w, "--config", "MODE=0", "--target", "riscv64-baremetal", "--force"},
                 {{"SIMTUNE_SPIKE", (dir_ / "no-spike").string()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\nok 1\n"), std::string::npos) << "qemu-system-riscv64 verifies it\n" << r.out;
  r = Run({"build", w, "--config", "MODE=0", "--target", "riscv64-baremetal", "--force"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\nok 1\n"), std::string::npos) << "QEMU or Spike verifies it\n" << r.out;
}

}  // namespace
}  // namespace simtune
