// Fault cases of issue 16 against the real simtune binary (label "robustness"): simtune
// stopped mid-simulate by SIGTERM, SIGINT or SIGKILL leaves no qemu or artifact running and
// no scratch folder behind; invalid UTF-8 printed by a kernel goes through the store, export
// and the MPI executor; a chatty kernel keeps its verify line. The simulate cases need
// qemu-x86_64 and the statistics plugin (scripts/setup, the build); they fail saying so.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/process.h"
#include "simtune/store.h"
#include "tests/support/scratch_test.h"

extern char** environ;

namespace simtune {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing_support::SimtuneBinary;

const char* kReplacement = "\xEF\xBF\xBD";   // U+FFFD

// Command lines of the live (non-zombie) processes whose command line contains `marker`.
std::vector<std::string> ProcessesMentioning(const std::string& marker) {
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (std::stoi(name) == getpid()) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string cmd = ss.str();
    for (char& c : cmd)
      if (c == '\0') c = ' ';
    if (cmd.find(marker) != std::string::npos) found.push_back(name + ": " + cmd);
  }
  return found;
}

class RobustnessTest : public testing_support::ScratchTest {
 protected:
  RobustnessTest() : ScratchTest("simtune_robust_", /*keep_on_failure=*/true) {}

  void SetUp() override {
    ScratchTest::SetUp();
    tmp_ = dir_ / "tmp";   // simtune's $TMPDIR: its scratch folders, and a unique marker
    fs::create_directories(tmp_);
  }

  // A custom workload "x -> out = 2 x" over N = 64 floats with knob MODE (values `modes`);
  // `extra` runs first in the kernel (it may use MODE, stdio and unistd).
  std::string WriteKernel(const std::string& extra, const std::string& modes = "[0]") {
    std::ofstream(dir_ / "kernel.c") << "#include <stdio.h>\n#include <unistd.h>\n"
                                        "void simtune_kernel(float *const *bufs) {\n"
                                        "  float *x = bufs[0], *out = bufs[1];\n"
                                     << extra
                                     << "\n  for (long i = 0; i < N; ++i) out[i] = 2.0f * x[i];\n}\n";
    std::ofstream(dir_ / "ref.c") << "void simtune_reference(float *const *bufs) {\n"
                                     "  for (long i = 0; i < N; ++i) bufs[1][i] = 2.0f * bufs[0][i];\n}\n";
    std::ofstream(dir_ / "spec.json")
        << R"({"name": "robust", "source": "kernel.c", "reference": "ref.c",
  "buffers": [{"name": "x", "elements": 64}, {"name": "out", "elements": 64, "output": true}],
  "params": {"MODE": )" << modes << R"(}, "defines": {"N": 64}, "flops": 64})";
    return "custom:spec=" + (dir_ / "spec.json").string();
  }

  // Runs simtune to the end with $TMPDIR = tmp_.
  ProcessResult Simtune(std::vector<std::string> args, double timeout_s = 300) {
    args.insert(args.begin(), SimtuneBinary());
    ProcessOptions o;
    o.cwd = dir_;
    o.timeout_s = timeout_s;
    o.extra_env["TMPDIR"] = tmp_.string();
    auto r = RunProcess(args, o);
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() ? *r : ProcessResult{};
  }

  // Starts simtune in the background ($TMPDIR = tmp_, output to dir_/bg.log).
  pid_t Start(std::vector<std::string> args) {
    args.insert(args.begin(), SimtuneBinary());
    std::vector<std::string> env = {"TMPDIR=" + tmp_.string()};
    for (char** e = environ; *e; ++e)
      if (std::string(*e).rfind("TMPDIR=", 0) != 0) env.push_back(*e);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string log = (dir_ / "bg.log").string();
    pid_t pid = fork();
    if (pid == 0) {
      setpgid(0, 0);   // not in the test's group: only what the test sends reaches it
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      chdir(dir_.c_str());
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    return pid;
  }

  // Waits for `pid` (at most `seconds`); its wait status, or -1 when it is still running.
  static int WaitFor(pid_t pid, double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) return status;
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

  // True once a process of this test (its command line names tmp_) runs `what`.
  bool WaitForProcess(const std::string& what, double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& p : ProcessesMentioning(tmp_.string()))
        if (p.find(what) != std::string::npos) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  // Processes of this test still alive after up to `seconds`.
  std::vector<std::string> Survivors(double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    std::vector<std::string> left;
    do {
      left = ProcessesMentioning(tmp_.string());
      if (left.empty()) break;
      std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return left;
  }

  std::vector<std::string> ScratchLeft() const {
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(tmp_)) left.push_back(e.path().filename());
    return left;
  }

  std::string Log() const {
    std::ifstream in(dir_ / "bg.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // The tools of the simulate cases.
  static bool RequireQemu() {
    if (!ProgramExists("qemu-x86_64")) {
      ADD_FAILURE() << "qemu-x86_64 not found; install qemu-user (scripts/setup does)";
      return false;
    }
    return true;
  }

  // Builds the kernel that never returns and starts `simulate` on it under qemu; true once
  // qemu runs it.
  bool StartLoopingSimulate(pid_t* simtune) {
    std::string w = WriteKernel("  volatile int spin = 1;\n  while (spin) {}");
    auto b = Simtune({"build", w, "--all", "--no-verify", "--db", "s.db", "--cache", "cache"});
    EXPECT_EQ(b.exit_code, 0) << b.out << b.err;
    if (b.exit_code != 0) return false;
    *simtune = Start({"simulate", w, "--sim", "qemu", "--sim-options", "timeout=600", "--db",
                      "s.db"});
    bool running = WaitForProcess("qemu-x86_64", 60);
    EXPECT_TRUE(running) << "qemu never started: " << Log();
    return running;
  }

  fs::path tmp_;
};

class StopSignalTest : public RobustnessTest, public ::testing::WithParamInterface<int> {};

// SIGTERM and SIGINT (Ctrl-C): the children's process groups are killed, the scratch folders
// removed, and simtune exits with 128 + the signal.
TEST_P(StopSignalTest, MidSimulateLeavesNoOrphanAndNoScratch) {
  if (!RequireQemu()) return;
  const int sig = GetParam();
  pid_t simtune = 0;
  if (!StartLoopingSimulate(&simtune)) {
    kill(simtune, SIGKILL);
    WaitFor(simtune, 10);
    return;
  }
  EXPECT_FALSE(ScratchLeft().empty()) << "qemu runs without a scratch folder?";
  ASSERT_EQ(kill(simtune, sig), 0);
  int status = WaitFor(simtune, 10);
  if (status == -1) {
    kill(simtune, SIGKILL);
    WaitFor(simtune, 10);
    FAIL() << "simtune did not stop within 10 s of signal " << sig;
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + sig)
      << "wait status " << status << "; " << Log();
  auto left = Survivors(3);
  EXPECT_TRUE(left.empty()) << "still running: " << ::testing::PrintToString(left);
  for (const auto& p : left) kill(std::stoi(p), SIGKILL);
  EXPECT_TRUE(ScratchLeft().empty()) << ::testing::PrintToString(ScratchLeft());
}

INSTANTIATE_TEST_SUITE_P(Signals, StopSignalTest, ::testing::Values(SIGTERM, SIGINT),
                         [](const auto& info) { return info.param == SIGTERM ? "Sigterm" : "Sigint"; });

// kill -9 leaves simtune no chance to clean up: its children die with it (PDEATHSIG) and the
// next simtune sweeps the scratch folder it left.
TEST_F(RobustnessTest, SigkillMidSimulateLeavesNoOrphanAndTheNextRunSweeps) {
  if (!RequireQemu()) return;
  pid_t simtune = 0;
  if (!StartLoopingSimulate(&simtune)) {
    kill(simtune, SIGKILL);
    WaitFor(simtune, 10);
    return;
  }
  ASSERT_EQ(kill(simtune, SIGKILL), 0);
  int status = WaitFor(simtune, 10);
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  auto left = Survivors(3);
  EXPECT_TRUE(left.empty()) << "orphans: " << ::testing::PrintToString(left);
  for (const auto& p : left) kill(std::stoi(p), SIGKILL);
  auto stale = ScratchLeft();
  ASSERT_EQ(stale.size(), 1u) << ::testing::PrintToString(stale);
  EXPECT_EQ(stale[0].rfind("simtune-" + std::to_string(simtune) + "-qemu-", 0), 0u) << stale[0];
  auto r = Simtune({"list", "simulators"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ScratchLeft().empty()) << ::testing::PrintToString(ScratchLeft());
}

// A kernel that prints bytes that are not UTF-8 and crashes: its message (qemu's output)
// is stored, exported as JSON and read back, with U+FFFD in place of the bytes.
TEST_F(RobustnessTest, InvalidUtf8FromAKernelRoundTripsThroughExport) {
  if (!RequireQemu()) return;
  std::string w = WriteKernel(
      "  printf(\"garbage \\377\\376\\300 then a crash\\n\");\n  fflush(stdout);\n"
      "  *(volatile int *)0 = 1;");
  auto b = Simtune({"build", w, "--all", "--no-verify", "--db", "s.db", "--cache", "cache"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  auto s = Simtune({"simulate", w, "--sim", "qemu", "--db", "s.db"});
  ASSERT_EQ(s.exit_code, 2) << s.out << s.err;   // its one candidate failed
  EXPECT_NE(s.err.find("garbage " + std::string(kReplacement)), std::string::npos) << s.err;
  auto e = Simtune({"export", "--db", "s.db", "--json", "-"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  auto doc = nlohmann::json::parse(e.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << e.out;
  ASSERT_EQ(doc["sim_results"].size(), 1u);
  std::string message = doc["sim_results"][0]["message"];
  std::string want = "garbage " + std::string(kReplacement) + kReplacement + kReplacement +
                     " then a crash";
  EXPECT_NE(message.find(want), std::string::npos) << message;

  // estimate --json writes the same failure of the same ELF.
  ASSERT_EQ(doc["artifacts"].size(), 1u);
  std::string elf = doc["artifacts"][0]["elf_path"];
  auto est = Simtune({"estimate", elf, "--workload", w, "--target", "x86_64-host", "--sim", "qemu",
                      "--json", "-"});
  ASSERT_EQ(est.exit_code, 0) << est.err;
  auto estimate = nlohmann::json::parse(est.out, nullptr, false);
  ASSERT_FALSE(estimate.is_discarded()) << est.out;
  ASSERT_EQ(estimate["results"].size(), 1u) << est.out;
  std::string est_message = estimate["results"][0]["message"];
  EXPECT_NE(est_message.find(want), std::string::npos) << est_message;
}

// The same bytes in a message that did not come through RunProcess (an older store, a path):
// the JSON export replaces them instead of aborting.
TEST_F(RobustnessTest, InvalidUtf8AlreadyInTheStoreIsExported) {
  {
    auto store = Store::Open((dir_ / "s.db").string());
    ASSERT_TRUE(store.ok()) << store.message();
    auto w = ParseWorkload("gemm:M=8,N=8,K=8");
    ASSERT_TRUE(w.ok());
    auto wid = (*store)->AddWorkload(*w);
    ASSERT_TRUE(wid.ok());
    auto cid = (*store)->AddCandidate(*wid, "tile_m=1");
    ASSERT_TRUE(cid.ok());
    Artifact a;
    a.target = "x86_64-host";
    a.status = "failed";
    a.stage = "verify";
    a.message = "verify failed \xFF\xFE";
    ASSERT_TRUE((*store)->AddArtifact(*cid, a).ok());
  }
  auto e = Simtune({"export", "--db", "s.db", "--json", "-"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  auto doc = nlohmann::json::parse(e.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << e.out;
  EXPECT_EQ(doc["artifacts"][0]["message"],
            "verify failed " + std::string(kReplacement) + kReplacement);
}

// Through the MPI executor: a worker rank sends the result of a kernel that printed invalid
// UTF-8 as JSON; the tune finishes and stores it.
TEST_F(RobustnessTest, InvalidUtf8FromAKernelRoundTripsThroughMpi) {
  ASSERT_TRUE(ProgramExists("mpirun"))
      << "mpirun not found: install openmpi-bin and libopenmpi-dev (scripts/setup)";
  // MODE 1 prints a verify line of its own, with bytes that are not UTF-8.
  std::string w = WriteKernel(
      "  if (MODE == 1) { printf(\"simtune: verify failed \\377\\376\\n\"); fflush(stdout); }",
      "[0, 1, 2, 3]");
  ProcessOptions o;
  o.cwd = dir_;
  o.timeout_s = 300;
  o.extra_env["TMPDIR"] = tmp_.string();
  auto r = RunProcess({"mpirun", "-np", "2", "--oversubscribe", "--allow-run-as-root",
                       SimtuneBinary(), "tune", w, "--target", "x86_64-host", "--budget", "4",
                       "--batch", "4", "--strategy", "exhaustive", "--sim", "fake",
                       "--predictor", "insn-count", "--predictor-options",
                       "feature=fake.log_insn", "--calibrate", "2", "--top", "1",
                       "--ref-options", "rounds=1,reps=1,min_rep_ns=20000", "--db", "mpi.db",
                       "--cache", "cache", "--executor", "mpi"},
                      o);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->exit_code, 0) << r->out << r->err;
  auto e = Simtune({"export", "--db", "mpi.db", "--json", "-"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  auto doc = nlohmann::json::parse(e.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << e.out;
  int with_replacement = 0;
  for (const auto& a : doc["artifacts"]) {
    if (a["stage"] != "verify") continue;
    EXPECT_EQ(a["message"],
              "verify failed " + std::string(kReplacement) + kReplacement);
    ++with_replacement;
  }
  EXPECT_EQ(with_replacement, 1) << e.out;
}

// A correct kernel that prints more than the 64 KiB kept of its output: the harness's verify
// line, printed last, survives (it used to fail with "no 'simtune: verify' line").
TEST_F(RobustnessTest, ChattyKernelKeepsItsVerifyLine) {
  if (!RequireQemu()) return;
  std::string w = WriteKernel(
      "  for (int i = 0; i < 3000; ++i)\n"
      "    printf(\"chatter %04d ............................................\\n\", i);");
  auto b = Simtune({"build", w, "--all", "--db", "s.db", "--cache", "cache"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_NE(b.out.find("ok 1\n"), std::string::npos) << b.out << b.err;
  auto s = Simtune({"simulate", w, "--sim", "qemu", "--db", "s.db"});
  ASSERT_EQ(s.exit_code, 0) << s.out << s.err;
  EXPECT_NE(s.out.find("\nok 1;"), std::string::npos) << s.out << s.err;
}

// kill -9 in the middle of `measure` keeps every chunk measured so far (issue 16 item 4):
// twelve candidates, the last four slow, so the first chunk of eight is stored long before
// the batch ends.
TEST_F(RobustnessTest, SigkillMidMeasureKeepsTheFinishedRows) {
  std::string w = WriteKernel("  if (MODE >= 8) usleep(100000);",
                              "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]");
  auto built = Simtune({"build", w, "--all", "--db", "s.db"});
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  std::string db = (dir_ / "s.db").string();
  auto ref_rows = [&]() -> int {
    auto store = Store::Open(db, StoreMode::kReadOnly);
    if (!store.ok()) return -1;
    auto workloads = (*store)->Workloads();
    if (!workloads.ok() || workloads->empty()) return -1;
    auto rows = (*store)->RefResults((*workloads)[0].id, "x86_64-host");
    return rows.ok() ? static_cast<int>(rows->size()) : -1;
  };
  pid_t simtune = Start({"measure", w, "--db", "s.db", "--ref-options",
                         "rounds=3,reps=5,min_rep_ns=2000000"});
  int rows = 0;
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (rows < 8 && std::chrono::steady_clock::now() < deadline && WaitFor(simtune, 0.1) == -1)
    rows = ref_rows();
  bool running = WaitFor(simtune, 0) == -1;
  kill(simtune, SIGKILL);
  WaitFor(simtune, 10);
  EXPECT_TRUE(running) << "measure ended (or timed out) before its first chunk was stored";
  EXPECT_EQ(rows, 8);
  EXPECT_EQ(ref_rows(), 8);   // the kill lost nothing that was stored
}

}  // namespace
}  // namespace simtune
