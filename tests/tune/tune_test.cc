// `simtune tune` end to end with the real binary, real builds for the host and the native
// reference, and the fake simulator (so that runs are fast and their statistics
// deterministic): failing and hanging candidates do not stop a tune, and kill -9 then the
// same command resumes without redoing completed simulations and proposes what an
// uninterrupted run proposes.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <sstream>
#include <thread>

#include "simtune/store.h"
#include "tests/tune/tune_helpers.h"

namespace simtune::tune_test {
namespace {

const std::vector<std::string> kFastRef = {"--ref-options", "rounds=2,reps=3,min_rep_ns=20000"};

std::vector<std::string> Cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A custom kernel that scales its input REP times (so REP sets its run time) and its spec with
// these params (JSON members).
void WriteRepSpec(const fs::path& dir, const std::string& name, const std::string& params) {
  std::ofstream(dir / "kernel.c") << R"(void simtune_kernel(float *const *bufs) {
  for (int r = 0; r < REP; ++r)
    for (long i = 0; i < N; ++i) bufs[1][i] = 3.0f * bufs[0][i];
}
)";
  std::ofstream(dir / "ref.c") << R"(void simtune_reference(float *const *bufs) {
  for (long i = 0; i < N; ++i) bufs[1][i] = 3.0f * bufs[0][i];
}
)";
  std::ofstream(dir / "spec.json") << R"({"name": ")" << name << R"(", "source": "kernel.c", "reference": "ref.c",
  "buffers": [{"name": "x", "elements": 4096, "output": false},
              {"name": "out", "elements": 4096, "output": true}],
  "params": {)" << params << R"(}, "restrictions": [], "defines": {"N": 4096},
  "tolerance": {"rel": 1e-6, "abs": 1e-6}, "flops": 4096
})";
}

TEST_F(TuneTest, FailingAndHangingCandidatesAreRowsAndTheTuneGoesOn) {
  // MODE 0 correct, 1 does not compile, 2 never returns, 3 correct but slower; REP repeats.
  std::ofstream(dir_ / "kernel.c") << R"(void simtune_kernel(float *const *bufs) {
#if MODE == 1
  this is not C;
#elif MODE == 2
  for (;;) __asm__ volatile("");
#endif
  for (int r = 0; r < REP * (MODE == 3 ? 4 : 1); ++r)
    for (long i = 0; i < N; ++i) bufs[1][i] = 3.0f * bufs[0][i];
}
)";
  std::ofstream(dir_ / "ref.c") << R"(void simtune_reference(float *const *bufs) {
  for (long i = 0; i < N; ++i) bufs[1][i] = 3.0f * bufs[0][i];
}
)";
  std::ofstream(dir_ / "spec.json") << R"({
  "name": "modes", "source": "kernel.c", "reference": "ref.c",
  "buffers": [{"name": "x", "elements": 4096, "output": false},
              {"name": "out", "elements": 4096, "output": true}],
  "params": {"MODE": [0, 1, 2, 3], "REP": [1, 2]}, "restrictions": [], "defines": {"N": 4096},
  "tolerance": {"rel": 1e-6, "abs": 1e-6}, "flops": 4096
})";
  auto r = Run(Cat({Simtune(), "tune", "custom:spec=" + (dir_ / "spec.json").string(), "--target",
                    "x86_64-host", "--budget", "8", "--strategy", "exhaustive", "--sim", "fake",
                    "--calibrate", "2", "--top", "3", "--verify-timeout", "2", "-j", "2",
                    "--db", "t.db"},
                   kFastRef));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("tuned custom:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(": 8 candidates (0 from the store, 8 run now), ok 4, failed at build 2, failed at timeout 2\n"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("best verified: "), std::string::npos) << r.out;
  // Not a terminal: no live line, only a plain progress line every few seconds (a slow,
  // loaded machine gets some).
  std::istringstream err(r.err);
  for (std::string line; std::getline(err, line);) {
    if (line.rfind("warning: target 'x86_64-host' models ", 0) == 0) continue;   // this host's caches differ
    EXPECT_TRUE(line.rfind("tune: ", 0) == 0 && line.find(" done") != std::string::npos &&
                line.find('\r') == std::string::npos)
        << "stderr line '" << line << "' is not a plain progress line";
  }
  auto store = Export("t.db");
  int build = 0, timeout = 0;
  for (const auto& a : store["artifacts"]) {
    build += a["stage"] == "build";
    timeout += a["stage"] == "timeout";
  }
  EXPECT_EQ(build, 2);
  EXPECT_EQ(timeout, 2);
  EXPECT_EQ(store["sim_results"].size(), 4u) << "only candidates that ran ok are simulated";
  EXPECT_GE(store["ref_results"].size(), 3u);
  EXPECT_GE(store["predictions"].size(), 4u);

  // The same command again: everything comes from the store, nothing is rebuilt or re-run.
  r = Run(Cat({Simtune(), "tune", "custom:spec=" + (dir_ / "spec.json").string(), "--target",
               "x86_64-host", "--budget", "8", "--strategy", "exhaustive", "--sim", "fake",
               "--calibrate", "2", "--top", "3", "--verify-timeout", "2", "-j", "2",
               "--db", "t.db"},
              kFastRef));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(": 8 candidates (8 from the store, 0 run now)"), std::string::npos) << r.out;
  auto again = Export("t.db");
  EXPECT_EQ(again["artifacts"].size(), store["artifacts"].size());
  EXPECT_EQ(again["sim_results"].size(), store["sim_results"].size());
  EXPECT_EQ(again["ref_results"].size(), store["ref_results"].size());
}

// Two candidates that differ only in a knob the kernel never reads run the same ROI, so QEMU's
// statistics are equal: the reference verifies one of them and spends the second measurement on
// the next candidate the simulator can tell apart.
TEST_F(TuneTest, VerificationSkipsCandidatesWithEqualStatistics) {
  WriteRepSpec(dir_, "twins", R"("REP": [1, 2, 4], "UNUSED": [0, 1])");
  auto r = Run(Cat({Simtune(), "tune", "custom:spec=" + (dir_ / "spec.json").string(), "--target",
                    "x86_64-host", "--budget", "6", "--strategy", "exhaustive", "--sim", "qemu",
                    "--calibrate", "2", "--top", "2", "-j", "2", "--db", "t.db"},
                   kFastRef));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  size_t table = r.out.find("verified the top 2 predicted");
  ASSERT_NE(table, std::string::npos) << r.out;
  std::set<std::string> reps;
  std::istringstream lines(r.out.substr(table));
  for (std::string line; std::getline(lines, line);) {
    size_t at = line.find("REP=");
    if (at != std::string::npos && line.find("best verified") == std::string::npos)
      reps.insert(line.substr(at, line.find(',', at) - at));
  }
  EXPECT_EQ(reps.size(), 2u) << "two different programs verified:\n" << r.out;
  EXPECT_NE(r.out.find("(1 candidate with the same simulator statistics as a verified one not measured)\n"),
            std::string::npos) << r.out;
}

// --verify-during-search: the reference measures the best predicted after each batch while the
// search goes on, so the trace has a verified time before the final verification; the final
// --top reuses those measurements (no candidate measured twice) and lists every one of them.
TEST_F(TuneTest, VerifyDuringSearchMeasuresTheBestPredictedBeforeTheSearchEnds) {
  WriteRepSpec(dir_, "early", R"("REP": [8, 4, 2, 1, 16, 32, 3, 6])");
  const std::string workload = "custom:spec=" + (dir_ / "spec.json").string();
  // A model calibrated in another store, so that nothing this tune measures is calibration.
  auto trained = Run(Cat({Simtune(), "tune", workload, "--target", "x86_64-host", "--budget", "4", "--sim", "qemu",
                          "--calibrate", "2", "--top", "0", "--save-model", "m.json", "-j", "2", "--db", "m.db"},
                         kFastRef));
  ASSERT_EQ(trained.exit_code, 0) << trained.out << trained.err;
  auto r = Run(Cat({Simtune(), "tune", workload, "--target", "x86_64-host", "--budget", "8", "--batch", "2",
                    "--strategy", "exhaustive", "--model", "m.json", "--top", "2", "--verify-during-search", "-j",
                    "2", "--db", "t.db"},
                   kFastRef));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("warning: --verify-during-search with the native reference"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("best verified: "), std::string::npos) << r.out;

  auto store = Export("t.db");
  std::set<int64_t> measured;
  for (const auto& ref : store["ref_results"])
    EXPECT_TRUE(measured.insert(ref["candidate_id"].get<int64_t>()).second)
        << "measured twice: " << store["ref_results"].dump();
  auto opened = Store::Open(dir_ / "t.db");
  ASSERT_TRUE(opened.ok()) << opened.message();
  auto wid = (*opened)->FindWorkload(store["workloads"][0]["key"].get<std::string>());
  ASSERT_TRUE(wid.ok() && wid->has_value());
  auto runs = (*opened)->TuneRuns(**wid, "x86_64-host");
  ASSERT_TRUE(runs.ok() && runs->size() == 1u);
  const auto& points = (*runs)[0].points;
  ASSERT_FALSE(points.empty());
  EXPECT_EQ(points.back().phase, "verify");
  bool verified_while_searching = false;
  for (const auto& p : points)
    if (p.phase == "search" && std::isfinite(p.best_verified)) verified_while_searching = true;
  EXPECT_TRUE(verified_while_searching) << "no search point has a verified time";

  // Every candidate measured after calibration is listed in the verified table.
  size_t table = r.out.find("verified the top ");
  ASSERT_NE(table, std::string::npos) << r.out;
  size_t rows = 0;
  std::istringstream lines(r.out.substr(table));
  for (std::string line; std::getline(lines, line);)
    if (line.find("REP=") != std::string::npos && line.find("best verified") == std::string::npos) ++rows;
  EXPECT_GE(rows, 2u) << r.out;

  // The reference does not wait for the end of a batch: in a tune of one batch, simulated one
  // candidate at a time, the first candidate is measured as soon as it has been simulated (it
  // is then the only one, so the best predicted), not the batch's best predicted (REP=1).
  auto one = Run(Cat({Simtune(), "tune", workload, "--target", "x86_64-host", "--budget", "8", "--batch", "8",
                      "--strategy", "exhaustive", "--model", "m.json", "--top", "2", "--verify-during-search",
                      "-j", "1", "--db", "one.db"},
                     kFastRef));
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  auto one_store = Export("one.db");
  ASSERT_FALSE(one_store["ref_results"].empty());
  // The first row of ref_results is the first measurement; the first candidate the first proposed.
  const nlohmann::json* first_ref = &one_store["ref_results"][0];
  for (const auto& ref : one_store["ref_results"])
    if (ref["id"].get<int64_t>() < (*first_ref)["id"].get<int64_t>()) first_ref = &ref;
  const nlohmann::json* first_cand = &one_store["candidates"][0];
  for (const auto& c : one_store["candidates"])
    if (c["id"].get<int64_t>() < (*first_cand)["id"].get<int64_t>()) first_cand = &c;
  int64_t first_measured = (*first_ref)["candidate_id"].get<int64_t>();
  int64_t first_simulated = (*first_cand)["id"].get<int64_t>();
  EXPECT_EQ(first_measured, first_simulated) << one_store["ref_results"].dump() << one.out;
  EXPECT_NE((*first_cand)["config"].get<std::string>().find("REP=8"), std::string::npos)
      << one_store["candidates"].dump();

  // Refused where it has no use.
  auto none = Run({Simtune(), "tune", workload, "--target", "x86_64-host", "--budget", "2", "--sim", "qemu",
                   "--calibrate", "2", "--top", "0", "--verify-during-search", "--db", "t.db"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(none.err, "error: --verify-during-search has nothing to measure with --top 0\n");
  auto measuring = Run({Simtune(), "tune", workload, "--target", "x86_64-host", "--budget", "2", "--drive",
                        "reference", "--verify-during-search", "--db", "t.db"});
  EXPECT_EQ(measuring.exit_code, 1);
  EXPECT_EQ(measuring.err,
            "error: --verify-during-search has no use with --drive reference: every candidate is measured\n");
}

TEST_F(TuneTest, UsageErrorsNameTheValue) {
  auto r = Run({Simtune(), "tune", "gemm:M=8,N=8,K=8", "--budget", "4", "--strategy", "genetik"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("error: unknown strategy 'genetik'", 0), 0u) << r.err;
  r = Run({Simtune(), "tune", "gemm:M=8,N=8,K=8", "--budget", "4", "--executor", "mpii"});
  EXPECT_EQ(r.err, "error: unknown executor 'mpii'; did you mean 'mpi'? valid: local, mpi\n");
  r = Run({Simtune(), "tune", "gemm:M=8,N=8,K=8", "--budget", "4", "--sim", "fake,qemuu"});
  EXPECT_EQ(r.err.rfind("error: unknown simulator 'qemuu'; did you mean 'qemu'?", 0), 0u) << r.err;
  r = Run({Simtune(), "tune", "gemm:M=8,N=8,K=8", "--budget", "4", "--target", "riscv64-linux",
           "--sim", "fake"});
  EXPECT_EQ(r.err,
            "error: target 'riscv64-linux' has no reference to calibrate and verify on; pass --ref, "
            "or --model FILE with --top 0\n");
}

// Units (issue 14 friction 5): a calibrated regressor's scores are run times shown with
// their unit, a baseline's are unitless; --save-model records target, reference and unit, and
// that model used for another target warns.
TEST_F(TuneTest, ScoresCarryTheirUnitAndAModelFromElsewhereWarns) {
  std::vector<std::string> common = {Simtune(), "tune", "gemm:M=16,N=16,K=16", "--budget", "6",
                                     "--strategy", "random", "--sim", "fake", "-j", "2", "--cache", "cache"};
  auto r = Run(Cat(Cat(common, {"--target", "x86_64-host", "--predictor", "ridge", "--calibrate", "3", "--top",
                                "2", "--db", "t.db", "--save-model", "m.json"}),
                   kFastRef));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto header = r.out.find("rank         predicted      measured");
  ASSERT_NE(header, std::string::npos) << r.out;
  std::string first_row = r.out.substr(header, r.out.find('\n', r.out.find('\n', header) + 1) - header);
  EXPECT_TRUE(first_row.find(" us  ") != std::string::npos || first_row.find(" ms  ") != std::string::npos)
      << first_row;
  auto model = nlohmann::json::parse(std::ifstream(dir_ / "m.json"));
  EXPECT_EQ(model["data"]["sim_target"], "x86_64-host");
  EXPECT_EQ(model["data"]["reference"], "native");
  EXPECT_EQ(model["data"]["simulators"], std::vector<std::string>{"fake"});
  EXPECT_EQ(model["trained_on"]["unit"], "ns");

  r = Run(Cat(common, {"--target", "x86_64-host", "--predictor", "insn-count", "--predictor-options",
                       "feature=fake.log_insn", "--calibrate", "3", "--top", "1", "--db", "t.db"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("score (unitless)"), std::string::npos) << r.out;

  r = Run(Cat(common, {"--target", "riscv64-linux", "--model", "m.json", "--top", "0", "--db", "rv.db"}));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // The warning comes first, before any work (progress lines may follow).
  EXPECT_EQ(r.err.rfind("warning: model m.json was trained on statistics simulated for x86_64-host; here they "
                        "come from riscv64-linux\n",
                        0),
            0u)
      << r.err;
  EXPECT_EQ(r.err.find("warning:", 1), std::string::npos) << "only that difference: " << r.err;
}

// Without --sim, a tune ranked by a model runs the simulators the model was trained on for that
// target (its features come from them), not the target's first simulator.
TEST_F(TuneTest, WithoutSimATuneRunsTheSimulatorsItsModelWasTrainedOn) {
  auto r = Run(Cat({Simtune(), "tune", "gemm:M=16,N=16,K=16", "--target", "x86_64-host", "--budget", "4",
                    "--strategy", "random", "--sim", "fake", "--predictor", "ridge", "--calibrate", "3",
                    "--top", "1", "-j", "2", "--cache", "cache", "--db", "t.db", "--save-model", "m.json"},
                   kFastRef));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Run({Simtune(), "tune", "gemm:M=16,N=16,K=16", "--target", "x86_64-host", "--budget", "4", "--strategy",
           "random", "--seed", "2", "--model", "m.json", "--top", "0", "-j", "2", "--cache", "cache", "--db",
           "u.db"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("strategy random, simulators fake,"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("warning:"), std::string::npos) << r.err;
  auto store = Export("u.db");
  ASSERT_FALSE(store["sim_results"].empty());
  for (const auto& row : store["sim_results"]) EXPECT_EQ(row["simulator"], "fake") << row.dump();
}

// Evolutionary search scored by the fake simulator's instruction count (insn-count baseline),
// so that scores do not depend on the (noisy) reference and two runs must agree exactly.
std::vector<std::string> KillArgs(const std::string& db) {
  return Cat({Simtune(), "tune", "gemm:M=16,N=16,K=16", "--target", "x86_64-host", "--budget", "24",
              "--batch", "4", "--strategy", "evolutionary", "--seed", "3", "--sim", "fake",
              "--predictor", "insn-count", "--predictor-options", "feature=fake.log_insn",
              "--calibrate", "3", "--top", "2", "-j", "1", "--db", db, "--cache", "cache"},
             kFastRef);
}

size_t SimRows(const fs::path& db) {
  if (!fs::exists(db)) return 0;
  auto store = Store::Open(db);
  if (!store.ok()) return 0;
  auto wid = (*store)->FindWorkload("gemm:M=16,N=16,K=16");
  if (!wid.ok() || !wid->has_value()) return 0;
  auto rows = (*store)->SimResults(**wid, "x86_64-host");
  return rows.ok() ? rows->size() : 0;
}

TEST_F(TuneTest, KillNineThenTheSameCommandResumes) {
  // Start, and kill -9 once about half of the simulations are stored.
  auto args = KillArgs("killed.db");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(dir_.c_str()) != 0) _exit(127);
    FILE* out = std::freopen("first.log", "w", stdout);
    FILE* err = std::freopen("first.err", "w", stderr);
    (void)out;
    (void)err;
    std::vector<char*> cargs;
    for (auto& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    execv(cargs[0], cargs.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  size_t at_kill = 0;
  bool exited = false;
  while (std::chrono::steady_clock::now() < deadline) {
    at_kill = SimRows(dir_ / "killed.db");
    if (at_kill >= 10) break;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(exited) << "tune finished before it could be killed";
  ASSERT_GE(at_kill, 10u) << "tune too slow to reach 10 simulations";
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  at_kill = SimRows(dir_ / "killed.db");
  ASSERT_LT(at_kill, 24u);

  auto r = Run(KillArgs("killed.db"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(": 24 candidates (" + std::to_string(at_kill) + " from the store, " +
                       std::to_string(24 - at_kill) + " run now)"),
            std::string::npos)
      << "stored at kill: " << at_kill << "\n" << r.out;
  auto resumed = Export("killed.db");
  auto sims = SimsByConfig(resumed);
  EXPECT_EQ(sims.size(), 24u);
  for (const auto& [config, rows] : sims) EXPECT_EQ(rows.size(), 1u) << config << " simulated twice";
  std::map<int64_t, int> ok_refs;
  for (const auto& ref : resumed["ref_results"])
    if (ref["status"] == "ok") EXPECT_EQ(++ok_refs[ref["candidate_id"].get<int64_t>()], 1);

  // An uninterrupted run (artifacts now cached) proposes exactly the same candidates.
  r = Run(KillArgs("whole.db"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(SimsByConfig(Export("whole.db")), sims);
}

}  // namespace
}  // namespace simtune::tune_test
