// Golden tests of the simtune binary: exact error messages, exit codes, and an end-to-end
// build/measure/export on a custom kernel whose variants compile, crash, compute wrong
// results and run fine, so that failed rows and the run going on are checked for real.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/scratch_test.h"
#include "simtune/process.h"
#include "simtune/target.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

class CliTest : public testing_support::ScratchTest {
 protected:
  CliTest() : ScratchTest("simtune_cli_") {}

  ProcessResult Run(std::vector<std::string> args) { return RunSimtune(std::move(args), 300); }

  // The data file of target `name` copied to <dir>/<name>.json with its l1d resized and, when
  // given, another branch predictor (JSON); returns the copy's path.
  std::string WriteEditedTarget(const std::string& name, int l1d_size,
                                const std::string& branch_predictor = "") {
    auto target = LoadTarget(name);
    EXPECT_TRUE(target.ok()) << target.message();
    auto j = nlohmann::json::parse(std::ifstream(target->source));
    if (!branch_predictor.empty()) j["branch_predictor"] = nlohmann::json::parse(branch_predictor);
    for (auto& c : j["caches"])
      if (c["level"] == "l1d") c["size"] = l1d_size;
    const std::string path = (dir_ / (name + ".json")).string();
    std::ofstream(path) << j.dump(1);
    return path;
  }

  // A custom kernel with one knob MODE: 0 correct, 1 does not compile, 2 crashes,
  // 3 computes a wrong result, 4 correct but slower.
  std::string WriteFaultyKernel() {
    std::ofstream(dir_ / "kernel.c") << R"(#include <stddef.h>
void simtune_kernel(float *const *bufs) {
  float *x = bufs[0], *out = bufs[1];
#if MODE == 1
  this is not C;
#elif MODE == 2
  volatile float *p = (float *)0; *p = 1.0f;
#endif
  for (int rep = 0; rep < (MODE == 4 ? 8 : 1); ++rep)
    for (long i = 0; i < N; ++i) out[i] = 2.0f * x[i] + (MODE == 3 && i == 7 ? 1.0f : 0.0f);
}
)";
    std::ofstream(dir_ / "ref.c") << R"(void simtune_reference(float *const *bufs) {
  for (long i = 0; i < N; ++i) bufs[1][i] = 2.0f * bufs[0][i];
}
)";
    std::ofstream(dir_ / "spec.json") << R"({
  "name": "faulty", "source": "kernel.c", "reference": "ref.c",
  "buffers": [{"name": "x", "elements": 4096, "output": false},
              {"name": "out", "elements": 4096, "output": true}],
  "params": {"MODE": [0, 1, 2, 3, 4]},
  "restrictions": [], "defines": {"N": 4096},
  "tolerance": {"rel": 1e-6, "abs": 1e-6}, "flops": 4096
})";
    return "custom:spec=" + (dir_ / "spec.json").string();
  }

};

TEST_F(CliTest, BadWorkloadStringsNameTheValue) {
  auto r = Run({"space", "gemm:M=256,N=x,K=4", "--count"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: workload 'gemm:M=256,N=x,K=4': N: expected an integer; got 'x'\n");
  r = Run({"space", "gemm:M=256,N=256", "--count"});
  EXPECT_EQ(r.err, "error: workload 'gemm:M=256,N=256': missing shape parameter K\n");
  r = Run({"space", "gemn:M=1,N=1,K=1", "--count"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown operator 'gemn'; did you mean 'gemm'?"), std::string::npos) << r.err;
}

TEST_F(CliTest, UnknownTargetListsValidOnes) {
  auto r = Run({"build", "gemm:M=8,N=8,K=8", "--target", "x86-host", "--sample", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "error: unknown target 'x86-host'; did you mean 'x86_64-host'? valid: aarch64-linux, "
            "riscv64-baremetal, riscv64-linux, riscv64-rvsim-p550, riscv64-rvsim-rocket, "
            "x86_64-host\n");
}

TEST_F(CliTest, BadKnobValueNamesKnobAndValue) {
  auto r = Run({"space", "gemm:M=64,N=64,K=64", "--config", "tile_m=7"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("error: --config 'tile_m=7': knob tile_m: value 7 not in [", 0), 0u) << r.err;
}

TEST_F(CliTest, UnknownListAndUsageErrors) {
  auto r = Run({"list", "targetz"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("error: unknown list 'targetz'; did you mean 'targets'?", 0), 0u) << r.err;
  r = Run({"build"});
  EXPECT_NE(r.exit_code, 0);
  r = Run({"list", "targets"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("riscv64-linux"), std::string::npos);
}

TEST_F(CliTest, FailedCandidatesAreRowsAndTheRunGoesOn) {
  std::string w = WriteFaultyKernel();
  auto r = Run({"build", w, "--all", "--target", "x86_64-host", "-j", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ok 2, failed at build 1, failed at run 1, failed at verify 1"), std::string::npos)
      << r.out;
  // Resume: nothing to redo for the good ones; the failed ones are attempted again, and as
  // every candidate this run attempted failed, the exit status says so.
  r = Run({"build", w, "--all", "--target", "x86_64-host"});
  ASSERT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.out.find("2 already in the store"), std::string::npos) << r.out;

  r = Run({"measure", w, "--ref", "native", "--ref-options", "rounds=3,reps=3,min_rep_ns=200000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 measured, 0 failed"), std::string::npos) << r.out;
  // The 8x-work variant must rank below the plain one.
  auto first = r.out.find("MODE=0"), second = r.out.find("MODE=4");
  ASSERT_NE(first, std::string::npos);
  ASSERT_NE(second, std::string::npos);
  EXPECT_LT(first, second) << r.out;
  // A second measure skips what is stored.
  r = Run({"measure", w, "--ref", "native", "--ref-options", "rounds=3,reps=3,min_rep_ns=200000"});
  EXPECT_NE(r.out.find("2 measured"), std::string::npos) << r.out;

  r = Run({"export", "--json", "out.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(dir_ / "out.json");
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["schema_version"], 2);
  int failed_build = 0, failed_run = 0, failed_verify = 0;
  for (const auto& a : j["artifacts"]) {
    if (a["status"] == "failed" && a["stage"] == "build") ++failed_build;
    if (a["status"] == "failed" && a["stage"] == "run") ++failed_run;
    if (a["status"] == "failed" && a["stage"] == "verify") ++failed_verify;
  }
  EXPECT_EQ(failed_build, 2);   // two build attempts, each a row
  EXPECT_EQ(failed_run, 2);
  EXPECT_EQ(failed_verify, 2);
  EXPECT_EQ(j["ref_results"].size(), 2u);
  r = Run({"export", "--csv", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "csv" / "artifacts.csv"));
  EXPECT_TRUE(fs::exists(dir_ / "csv" / "tidy.csv")) << "the row-per-candidate table";
}

TEST_F(CliTest, SpaceCountsAndSamplesDeterministically) {
  auto a = Run({"space", "gemm:M=256,N=256,K=256", "--sample", "5", "--seed", "3"});
  auto b = Run({"space", "gemm:M=256,N=256,K=256", "--sample", "5", "--seed", "3"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  auto c = Run({"space", "resnet18.conv2_x", "--count"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("valid size"), std::string::npos);
}

// `build` stores each artifact as soon as it is built and verified (issue 16, item 4): while
// one variant's verification hangs, the others are already rows, and a kill -9 keeps them.
TEST_F(CliTest, BuildStoresEachArtifactAsItCompletes) {
  std::ofstream(dir_ / "kernel.c") << R"(void simtune_kernel(float *const *bufs) {
  volatile int spin = MODE == 0;
  while (spin) {}
  for (long i = 0; i < 64; ++i) bufs[1][i] = 2.0f * bufs[0][i] * (MODE > 0);
}
)";
  std::ofstream(dir_ / "ref.c") << R"(void simtune_reference(float *const *bufs) {
  for (long i = 0; i < 64; ++i) bufs[1][i] = 2.0f * bufs[0][i];
}
)";
  std::ofstream(dir_ / "spec.json") << R"({
  "name": "hang", "source": "kernel.c", "reference": "ref.c",
  "buffers": [{"name": "x", "elements": 64, "output": false},
              {"name": "out", "elements": 64, "output": true}],
  "params": {"MODE": [0, 1, 2, 3, 4]}
})";
  std::string workload = "custom:spec=" + (dir_ / "spec.json").string();
  std::string db = (dir_ / "s.db").string();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(dir_.c_str()) != 0) _exit(126);
    std::string bin = testing_support::SimtuneBinary();
    execl(bin.c_str(), bin.c_str(), "build", workload.c_str(), "--all", "--db", db.c_str(), "-j", "2",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  auto count_rows = [&]() -> int {
    sqlite3* h = nullptr;
    int n = -1;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(h, "SELECT count(*) FROM artifacts", -1, &st, nullptr) == SQLITE_OK &&
          sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
      sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return n;
  };
  int rows = -1;
  bool running = true;
  for (int i = 0; i < 400 && rows < 4; ++i) {   // up to 40 s; the hanging run has 60 s
    usleep(100 * 1000);
    rows = count_rows();
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      running = false;
      break;
    }
  }
  if (running) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  // The hanging artifact's process group survives a kill -9 of simtune until orphan
  // protection lands; end it here so it cannot outlive the test.
  RunProcess({"pkill", "-9", "-f", (dir_ / ".simtune-cache").string()});
  EXPECT_TRUE(running) << "simtune build ended before the hanging variant's verification timed out";
  EXPECT_EQ(rows, 4) << "the four quick variants should be rows while the fifth still verifies";
  EXPECT_EQ(count_rows(), 4);   // what was stored survives the kill
}

// A mistyped --db on a command that reads is an error, not a new empty store (issue 16 item 18).
TEST_F(CliTest, ReadCommandsDoNotCreateAMissingStore) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"report", "gemm:M=8,N=8,K=8"},
        std::vector<std::string>{"simulate", "gemm:M=8,N=8,K=8"},
        std::vector<std::string>{"train", "--sim", "qemu", "-o", "m.json"}}) {
    args.push_back("--db");
    args.push_back("typo.db");
    auto r = Run(args);
    EXPECT_EQ(r.exit_code, 1) << args[0];
    EXPECT_EQ(r.err, "error: store typo.db does not exist\n") << args[0];
    EXPECT_FALSE(fs::exists(dir_ / "typo.db")) << args[0];
  }
}

// Exit status 2 when a batch ran candidates and none succeeded (issue 14 friction 2).
TEST_F(CliTest, NothingSucceededExitsTwo) {
  std::string w = WriteFaultyKernel();
  auto built = Run({"build", w, "--config", "MODE=1", "--db", "s.db"});   // does not compile
  EXPECT_EQ(built.exit_code, 2) << built.out << built.err;
  EXPECT_NE(built.out.find("ok 0, failed at build 1"), std::string::npos) << built.out;
  built = Run({"build", w, "--config", "MODE=0", "--db", "s.db"});
  EXPECT_EQ(built.exit_code, 0) << built.err;
  auto help = Run({"--help"});
  EXPECT_NE(help.out.find("2 build/simulate/measure ran candidates and every one failed"),
            std::string::npos) << help.out;
}

// A store measured with value=median (the protocol before value=min) keeps its runs: report
// ranks by their per-round minima reduced the new way, and measure stores those rows instead
// of running the candidates again.
TEST_F(CliTest, MeasureReducesStoredMedianRowsAgain) {
  std::string w = WriteFaultyKernel();
  ASSERT_EQ(Run({"build", w, "--config", "MODE=0"}).exit_code, 0);
  ASSERT_EQ(Run({"build", w, "--config", "MODE=4"}).exit_code, 0);
  const std::string median = "rounds=3,reps=3,min_rep_ns=200000,value=median";
  auto r = Run({"measure", w, "--ref-options", median, "--json", "median.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto before = nlohmann::json::parse(std::ifstream(dir_ / "median.json"));
  EXPECT_EQ(before["reference_options"], "rounds=3,reps=3,min_rep_ns=200000");
  ASSERT_EQ(before["ranking"].size(), 2u);

  r = Run({"report", w, "--ref-options", "rounds=3,reps=3,min_rep_ns=200000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("reference native (rounds=3,reps=3,min_rep_ns=200000,value=min)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 measured, 0 failed"), std::string::npos) << r.out;

  r = Run({"measure", w, "--ref-options", "rounds=3,reps=3,min_rep_ns=200000", "--json", "min.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("2 results reduced again from stored runs of the same protocol "
                       "(rounds=3,reps=3,min_rep_ns=200000), not run again"), std::string::npos) << r.err;
  ASSERT_EQ(Run({"export", "--json", "out.json"}).exit_code, 0);
  auto j = nlohmann::json::parse(std::ifstream(dir_ / "out.json"));
  int medians = 0, mins = 0;
  for (const auto& row : j["ref_results"]) {
    const auto& e = row["extra_json"];
    auto extra = e.is_string() ? nlohmann::json::parse(e.get<std::string>()) : e;
    double least = 1e300;
    for (double v : extra["round_min_ns"]) least = std::min(least, v);
    if (row["options"] == "rounds=3,reps=3,min_rep_ns=200000") ++medians;
    if (row["options"] != "rounds=3,reps=3,min_rep_ns=200000,value=min") continue;
    ++mins;
    EXPECT_DOUBLE_EQ(row["value"].get<double>(), least);
    EXPECT_TRUE(extra.contains("rereduced_from")) << extra.dump();
  }
  EXPECT_EQ(medians, 2);   // nothing was run again
  EXPECT_EQ(mins, 2);
  // Stored now: a second measure finds them under its own key.
  r = Run({"measure", w, "--ref-options", "rounds=3,reps=3,min_rep_ns=200000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("reduced again"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("2 measured, 0 failed"), std::string::npos) << r.out;
}

// measure refuses a target that the native reference cannot time, naming those that can
// (issue 14 friction 3): no failed rows are stored, again on every rerun.
TEST_F(CliTest, MeasureRefusesATargetNativeCannotTime) {
  auto r = Run({"measure", "gemm:M=8,N=8,K=8", "--target", "riscv64-linux", "--db", "s.db"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "error: target riscv64-linux cannot be measured with --ref native, which times this "
            "machine; measure it on a board with --ref ssh, or use a target with a reference that "
            "runs here: riscv64-rvsim-p550 (rvsim); riscv64-rvsim-rocket (rvsim); x86_64-host "
            "(native)\n");
  EXPECT_FALSE(fs::exists(dir_ / "s.db"));
}

// Off a terminal (CI, nohup, a pipe) long commands print a plain progress line every
// SIMTUNE_PROGRESS_EVERY seconds (10 by default) and a last one at the end (issue 14 friction 6).
TEST_F(CliTest, ProgressLinesWhenStderrIsNotATerminal) {
  std::string w = WriteFaultyKernel();
  ProcessOptions o;
  o.cwd = dir_;
  o.timeout_s = 300;
  o.extra_env["SIMTUNE_PROGRESS_EVERY"] = "0";
  auto r = RunProcess({testing_support::SimtuneBinary(), "build", w, "--config", "MODE=0",
                       "--config", "MODE=4", "-j", "1"}, o);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_NE(r->err.find("build: 1/2 done, 0 failed, "), std::string::npos) << r->err;
  EXPECT_NE(r->err.find("build: 2/2 done, 0 failed, "), std::string::npos) << r->err;
  // With the default interval a short run prints none.
  auto quiet = Run({"build", w, "--config", "MODE=0", "--config", "MODE=4", "--force"});
  EXPECT_EQ(quiet.err.find("done,"), std::string::npos) << quiet.err;
}

// Issue 17: QEMU (system mode) simulates the rvsim reference targets' bare-metal ELFs, so an
// eval on rvsim joins QEMU's and Spike's statistics of each candidate. The README's rvsim
// commands as written, plus qemu.
TEST_F(CliTest, QemuAndSpikeStatisticsJoinOnAnRvsimTarget) {
  const std::string w = "gemm:M=8,N=8,K=8", t = "riscv64-rvsim-rocket";
  auto built = Run({"build", w, "--target", t, "--sample", "6", "--seed", "1", "--db", "s.db"});
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  for (const char* sim : {"qemu", "spike"}) {
    auto r = Run({"simulate", w, "--target", t, "--sim", sim, "--db", "s.db"});
    ASSERT_EQ(r.exit_code, 0) << sim << ": " << r.out << r.err;
    EXPECT_NE(r.out.find("ok 6"), std::string::npos) << sim << ": " << r.out;
  }
  auto measured = Run({"measure", w, "--target", t, "--ref", "rvsim", "--ref-options",
                       "verify=off", "--db", "s.db"});
  ASSERT_EQ(measured.exit_code, 0) << measured.out << measured.err;
  auto eval = Run({"eval", "--target", t, "--sim", "qemu,spike", "--ref", "rvsim", "-w", w,
                   "--predictors", "insn-count:feature=qemu.log_insn", "--protocols", "kfold",
                   "--db", "s.db"});
  ASSERT_EQ(eval.exit_code, 0) << eval.out << eval.err;
  EXPECT_NE(eval.out.find("evaluating on 6 measured candidates of 1 workloads; features: "),
            std::string::npos)
      << eval.out;
  EXPECT_NE(eval.out.find(" from qemu+spike on riscv64-rvsim-rocket; reference rvsim on "
                          "riscv64-rvsim-rocket"),
            std::string::npos)
      << eval.out;
}

// A target file edited after its candidates were simulated (another branch predictor, a
// cache resized): the stored statistics no longer describe it, and simulate runs them again
// instead of counting them as done; unchanged, nothing runs twice.
TEST_F(CliTest, StatisticsOfAnEditedTargetAreSimulatedAgain) {
  const std::string w = "gemm:M=8,N=8,K=8";
  const std::string t = WriteEditedTarget(
      "riscv64-linux", 32768, R"({"kind": "gshare", "entries": 4096, "history_bits": 12})");
  ASSERT_EQ(Run({"build", w, "--target", t, "--sample", "3", "--seed", "1"}).exit_code, 0);
  auto first = Run({"simulate", w, "--target", t, "--sim", "qemu"});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("ok 3"), std::string::npos) << first.out;
  auto same = Run({"simulate", w, "--target", t, "--sim", "qemu"});
  EXPECT_NE(same.out.find("simulated 0 candidates"), std::string::npos) << same.out;
  EXPECT_EQ(same.out.find("simulated again"), std::string::npos) << same.out;
  for (auto [predictor, l1d] : std::vector<std::pair<std::string, int>>{
           {R"({"kind": "tournament", "entries": 8192, "local_entries": 2048, "local_counters": 2048})", 32768},
           {R"({"kind": "tournament", "entries": 8192, "local_entries": 2048, "local_counters": 2048})", 16384}}) {
    WriteEditedTarget("riscv64-linux", l1d, predictor);
    auto again = Run({"simulate", w, "--target", t, "--sim", "qemu"});
    ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
    EXPECT_NE(again.out.find("simulated 3 candidates"), std::string::npos) << again.out;
    EXPECT_NE(again.out.find("3 candidates' stored statistics came from another cache, branch "
                             "predictor or core configuration than target riscv64-linux now gives"),
              std::string::npos)
        << again.out;
  }
}

// The same after measuring: train and eval leave out candidates whose statistics came from
// another configuration than the target file they are given (a path: the store keys the
// target by its name) gives now, and say so; simulated again, they are back.
TEST_F(CliTest, StatisticsOfAnEditedTargetAreLeftOutOfModels) {
  const std::string w = "gemm:M=8,N=8,K=8";
  const std::string t = WriteEditedTarget("x86_64-host", 32768);
  ASSERT_EQ(Run({"build", w, "--target", t, "--sample", "6", "--seed", "1"}).exit_code, 0);
  ASSERT_EQ(Run({"simulate", w, "--target", t, "--sim", "qemu"}).exit_code, 0);
  auto measured = Run({"measure", w, "--target", t, "--ref", "native", "--ref-options",
                       "rounds=2,reps=2"});
  ASSERT_EQ(measured.exit_code, 0) << measured.out << measured.err;
  const std::vector<std::string> train = {"train", "--target", t, "--sim", "qemu", "--predictor",
                                          "ridge", "-o", "m.json"};
  auto fresh = Run(train);
  ASSERT_EQ(fresh.exit_code, 0) << fresh.out << fresh.err;
  EXPECT_EQ(fresh.out.find("left out"), std::string::npos) << fresh.out;
  // A model keeps the configuration its statistics modelled; ranking statistics of another
  // one says so (below).
  std::vector<std::string> train32 = train;
  train32.back() = "m32.json";
  ASSERT_EQ(Run(train32).exit_code, 0);
  auto m32 = nlohmann::json::parse(std::ifstream(dir_ / "m32.json"));
  ASSERT_TRUE(m32["trained_on"].contains("configurations")) << m32["trained_on"].dump();
  ASSERT_EQ(m32["trained_on"]["configurations"]["qemu"].size(), 1u);
  EXPECT_EQ(m32["trained_on"]["configurations"]["qemu"][0]["cache_config"]["l1d"]["size"], 32768);
  auto ranked = Run({"predict", w, "--model", "m32.json"});
  ASSERT_EQ(ranked.exit_code, 0) << ranked.out << ranked.err;
  EXPECT_EQ(ranked.err.find("warning"), std::string::npos) << ranked.err;

  WriteEditedTarget("x86_64-host", 16384);
  const std::string note = "6 candidates' statistics came from another cache, branch predictor or core "
                           "configuration than " + t + " now gives";
  auto stale = Run(train);
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_NE(stale.err.find(note), std::string::npos) << stale.out << stale.err;
  auto eval = Run({"eval", "--target", t, "--sim", "qemu", "--predictors", "ridge",
                   "--protocols", "kfold"});
  EXPECT_EQ(eval.exit_code, 1);
  EXPECT_NE(eval.err.find(note), std::string::npos) << eval.out << eval.err;

  // Another workload simulated under the new configuration trains; the stale six are named.
  const std::string w2 = "gemm:M=4,N=8,K=8";
  ASSERT_EQ(Run({"build", w2, "--target", t, "--sample", "6", "--seed", "1"}).exit_code, 0);
  ASSERT_EQ(Run({"simulate", w2, "--target", t, "--sim", "qemu"}).exit_code, 0);
  ASSERT_EQ(Run({"measure", w2, "--target", t, "--ref", "native", "--ref-options",
                 "rounds=2,reps=2"}).exit_code, 0);
  auto partly = Run(train);
  ASSERT_EQ(partly.exit_code, 0) << partly.out << partly.err;
  EXPECT_NE(partly.out.find("on 6 measured candidates of 1 workloads"), std::string::npos)
      << partly.out;
  EXPECT_NE(partly.out.find("6 candidates left out: their statistics came from another cache, "
                            "branch predictor or core configuration than " + t + " now gives"),
            std::string::npos)
      << partly.out;

  ASSERT_EQ(Run({"simulate", w, "--target", t, "--sim", "qemu"}).exit_code, 0);
  auto again = Run(train);
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("on 12 measured candidates of 2 workloads"), std::string::npos)
      << again.out;
  EXPECT_EQ(again.out.find("left out"), std::string::npos) << again.out;

  // The model of the old configuration, on statistics of the new one: ranked, with a warning
  // that names both; the model of the new one ranks them without.
  const std::string old_on_new =
      "warning: model m32.json was trained on qemu statistics of another configuration than 6 "
      "of 6 candidates here have (l1d 32 KiB 8-way 64 B lines lru in training, 16 KiB 8-way "
      "64 B lines lru here): ";
  auto old_model = Run({"predict", w, "--model", "m32.json"});
  ASSERT_EQ(old_model.exit_code, 0) << old_model.out << old_model.err;
  EXPECT_NE(old_model.err.find(old_on_new), std::string::npos) << old_model.err;
  // verify ranks the same way before it measures: the same warning.
  auto verified = Run({"verify", w, "--model", "m32.json", "--top", "1", "--ref-options",
                       "rounds=2,reps=2"});
  ASSERT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_NE(verified.err.find(old_on_new), std::string::npos) << verified.err;
  auto new_model = Run({"predict", w, "--model", "m.json"});
  ASSERT_EQ(new_model.exit_code, 0) << new_model.out << new_model.err;
  EXPECT_EQ(new_model.err.find("warning"), std::string::npos) << new_model.err;
  // tune with the old model on the edited target: said before anything is simulated.
  auto tuned = Run({"tune", w, "--target", t, "--model", "m32.json", "--top", "0", "--budget",
                    "2", "--sim", "qemu"});
  ASSERT_EQ(tuned.exit_code, 0) << tuned.out << tuned.err;
  EXPECT_NE(tuned.err.find("warning: model m32.json was trained on qemu statistics of another "
                           "configuration than target x86_64-host gives (l1d 32 KiB 8-way 64 B "
                           "lines lru in training, 16 KiB 8-way 64 B lines lru here): "),
            std::string::npos)
      << tuned.err;
}

// `simtune cache`: the artifact cache's size; pruned to nothing, the next build rebuilds
// what the store still refers to.
TEST_F(CliTest, CachePrunedIsRebuiltByTheNextBuild) {
  std::string w = WriteFaultyKernel();
  auto r = Run({"build", w, "--all", "--target", "x86_64-host", "-j", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Run({"cache"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Five candidates: four built (two of them failed at run or verify), one failed build.
  EXPECT_NE(r.out.find("cache .simtune-cache: 5 entries (1 failed builds), "),
            std::string::npos)
      << r.out;
  // Used just now: the default --keep-recent keeps it all.
  r = Run({"cache", "--prune-to", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("removed, least recently used first: 0 entries"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("still above 0 B: what is left was used in the last 3600 s"),
            std::string::npos)
      << r.out;
  r = Run({"cache", "--prune-to", "0", "--keep-recent", "0", "--json", "prune.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("left: 0 entries (0 failed builds), 0 objects, 0 scratch, 0 B"),
            std::string::npos)
      << r.out;
  auto j = nlohmann::json::parse(std::ifstream(dir_ / "prune.json"));
  EXPECT_EQ(j["removed"]["entries"], 5);
  EXPECT_EQ(j["after"]["bytes"], 0);
  EXPECT_GT(j["before"]["bytes"], 0);
  // The store still lists the two good candidates; their executables are gone: measure and
  // simulate say so and record no failure ...
  r = Run({"measure", w, "--ref", "native", "--ref-options", "rounds=2,reps=2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\n2 built candidates' executables are gone (the artifact cache was "
                       "pruned or cleared, or the store was built on another machine): not run; "
                       "`simtune build` with the same arguments makes them again\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("failed [run]"), std::string::npos) << r.out;
  r = Run({"simulate", w, "--target", "x86_64-host", "--sim", "valgrind"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\n2 built candidates' executables are gone"), std::string::npos) << r.out;
  // ... and the resumed build makes them again instead of skipping them.
  r = Run({"build", w, "--all", "--target", "x86_64-host"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("; 0 from cache), 0 already in the store\nok 2,"), std::string::npos)
      << r.out;

  r = Run({"cache", "--prune-to", "4x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: --prune-to: expected a size such as 4G, 500M or 2048 (bytes); got '4x'\n");
  r = Run({"cache", "--cache", "missing"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: artifact cache 'missing': not a folder (--cache)\n");
}

// `simtune harness-runtime`: the bare-metal runtime and toolchain as JSON (the TVM runner's
// bare-metal ELFs link with it). A main of a few lines and the runtime link into an ELF with
// the symbols the simulators and rvsim look for.
TEST_F(CliTest, HarnessRuntimeLinksAForeignMainForBareMetal) {
  auto r = Run({"harness-runtime", "--target", "riscv64-rvsim-p550"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["target"], "riscv64-rvsim-p550");
  EXPECT_EQ(j["build_target"], "riscv64-baremetal");
  EXPECT_EQ(j["os"], "baremetal");
  EXPECT_EQ(j["cc"], "riscv64-unknown-elf-gcc");
  auto ldflags = j["ldflags"].get<std::vector<std::string>>();
  ASSERT_FALSE(ldflags.empty());
  EXPECT_EQ(ldflags.back(), "-nostartfiles");
  EXPECT_EQ(ldflags.front(), "-Wl,--defsym=__flash=0x80000000");   // the target's own first
  std::ofstream(dir_ / "main.c") << j["c"].get<std::string>() << R"(
int main(void) {
  __asm__ volatile("csrw mtvec, %0" : : "r"(simtune_trap_entry));
  simtune_touch_tohost();
  simtune_roi_begin();
  simtune_roi_end();
  simtune_print_roi();
  simtune_sim_done();
  return 0;
}
)";
  std::vector<std::string> cc = {j["cc"].get<std::string>()};
  for (const auto& f : j["cflags"]) cc.push_back(f.get<std::string>());
  cc.insert(cc.end(), {"-o", (dir_ / "main.elf").string(), (dir_ / "main.c").string()});
  cc.insert(cc.end(), ldflags.begin(), ldflags.end());
  auto built = RunProcess(cc);
  ASSERT_TRUE(built.ok()) << built.message();
  ASSERT_EQ(built->exit_code, 0) << built->out << built->err;
  auto nm = RunProcess({"nm", (dir_ / "main.elf").string()});
  ASSERT_TRUE(nm.ok());
  for (const char* symbol : {" simtune_roi_begin", " simtune_roi_end", " simtune_sim_done",
                             " tohost", " _exit", " _start", " __stack"})
    EXPECT_NE(nm->out.find(symbol), std::string::npos) << symbol;

  auto bad = Run({"harness-runtime", "--target", "x86_64-host"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err, "error: harness-runtime: target x86_64-host is x86_64 linux; the bare-metal "
                     "harness runtime is for riscv64 bare metal only\n");
}

}  // namespace
}  // namespace simtune
