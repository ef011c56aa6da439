// Executors on real builds (the host compiler) with the fake simulator: every job comes back
// once, failures are results, and results survive the JSON round trip MPI uses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/support/scratch_test.h"
#include "simtune/exec.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

class ExecTest : public testing_support::ScratchTest {
 protected:
  ExecTest() : ScratchTest("simtune_exec_") {}
  // MODE 0 correct, 1 does not compile, 2 never finishes, 3 correct.
  std::string WriteKernel() {
    std::ofstream(dir_ / "kernel.c") << R"(void simtune_kernel(float *const *bufs) {
#if MODE == 1
  this is not C;
#elif MODE == 2
  for (;;) __asm__ volatile("");
#endif
  for (long i = 0; i < N; ++i) bufs[1][i] = 3.0f * bufs[0][i];
}
)";
    std::ofstream(dir_ / "ref.c") << R"(void simtune_reference(float *const *bufs) {
  for (long i = 0; i < N; ++i) bufs[1][i] = 3.0f * bufs[0][i];
}
)";
    std::ofstream(dir_ / "spec.json") << R"({
  "name": "modes", "source": "kernel.c", "reference": "ref.c",
  "buffers": [{"name": "x", "elements": 256, "output": false},
              {"name": "out", "elements": 256, "output": true}],
  "params": {"MODE": [0, 1, 2, 3]}, "restrictions": [], "defines": {"N": 256},
  "tolerance": {"rel": 1e-6, "abs": 1e-6}, "flops": 256
})";
    return "custom:spec=" + (dir_ / "spec.json").string();
  }

  JobContext Context(const std::string& workload, const std::string& sim_options = "") {
    JobContext c;
    c.workload = workload;
    c.target = "x86_64-host";
    c.simulators = {{"fake", sim_options}};
    c.build.cache_dir = dir_ / "cache";
    c.verify_timeout_s = 2;
    return c;
  }

};

TEST_F(ExecTest, LocalPoolRunsEveryJobOnceAndFailuresAreResults) {
  auto exec = MakeLocalExecutor(Context(WriteKernel()), 2);
  ASSERT_TRUE(exec.ok()) << exec.message();
  EXPECT_EQ((*exec)->workers(), 2);
  std::vector<Job> jobs;
  for (int64_t mode = 0; mode < 4; ++mode) jobs.push_back({100 + mode, {{"MODE", mode}}});
  std::map<int64_t, JobResult> results;
  std::set<std::string> workers;
  ASSERT_TRUE((*exec)->Run(jobs, [&](JobResult r) {
                       EXPECT_TRUE(results.emplace(r.id, r).second) << "job delivered twice";
                       workers.insert(r.worker);
                     }).ok());
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[100].ok());
  ASSERT_EQ(results[100].sims.size(), 1u);
  EXPECT_GT(results[100].sims[0].stats.insn_count, 0u);
  EXPECT_EQ(results[101].failed_stage(), "build");
  EXPECT_TRUE(results[101].sims.empty());
  EXPECT_EQ(results[102].failed_stage(), "timeout");
  EXPECT_NE(results[102].artifact.message.find("timed out"), std::string::npos)
      << results[102].artifact.message;
  EXPECT_TRUE(results[103].ok());
  EXPECT_EQ(workers.size(), 2u) << "two jobs at once: both workers took some";
}

// The tuner collects a reference measurement while the simulators run: the executor calls it
// back on the calling thread while it waits, not only when a job ends.
TEST_F(ExecTest, LocalPoolServesTheCallerWhileItWaits) {
  auto exec = MakeLocalExecutor(Context(WriteKernel()), 1);
  ASSERT_TRUE(exec.ok()) << exec.message();
  const auto caller = std::this_thread::get_id();
  int calls = 0, results = 0, calls_at_result = -1;
  bool other_thread = false;
  Executor::WhileWaiting hook{[&] {
                                ++calls;
                                if (std::this_thread::get_id() != caller) other_thread = true;
                              },
                              std::chrono::milliseconds(20)};
  // MODE 2 never finishes: its verification runs into the 2 s timeout.
  ASSERT_TRUE((*exec)->Run({{1, {{"MODE", 2}}}}, [&](JobResult r) {
                       ++results;
                       calls_at_result = calls;
                       EXPECT_EQ(r.failed_stage(), "timeout");
                     }, hook).ok());
  EXPECT_EQ(results, 1);
  EXPECT_GE(calls_at_result, 10) << "about one call per 20 ms of a 2 s wait";
  EXPECT_EQ(calls, calls_at_result) << "no call after the last result";
  EXPECT_FALSE(other_thread);
}

TEST_F(ExecTest, SimulatorFailureIsAFailedResult) {
  auto exec = MakeLocalExecutor(Context(WriteKernel(), "fail=run"), 1);
  ASSERT_TRUE(exec.ok()) << exec.message();
  std::vector<JobResult> got;
  ASSERT_TRUE((*exec)->Run({{1, {{"MODE", 0}}}}, [&](JobResult r) { got.push_back(r); }).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].artifact.ok());
  EXPECT_EQ(got[0].failed_stage(), "run");
  EXPECT_FALSE(got[0].ok());
}

TEST_F(ExecTest, ContextErrorsNameTheBadValue) {
  JobContext c = Context("gemm:M=8,N=8,K=8");
  c.simulators = {{"qemuu", ""}};
  auto exec = MakeLocalExecutor(c, 1);
  ASSERT_FALSE(exec.ok());
  EXPECT_EQ(exec.message().rfind("unknown simulator 'qemuu'; did you mean 'qemu'?", 0), 0u) << exec.message();
  c = Context("gemm:M=8,N=8,K=8");
  c.target = "x86-host";
  exec = MakeLocalExecutor(c, 1);
  ASSERT_FALSE(exec.ok());
  EXPECT_EQ(exec.message().rfind("unknown target 'x86-host'", 0), 0u) << exec.message();
}

TEST_F(ExecTest, JobsAndContextsSurviveJson) {
  JobContext c = Context("gemm:M=8,N=8,K=8", "fail=run");
  c.build.extra_cflags = {"-DX=1"};
  auto back = JobContext::FromJson(c.ToJson());
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->ToJson(), c.ToJson());

  auto exec = MakeLocalExecutor(Context("gemm:M=8,N=8,K=8"), 1);
  ASSERT_TRUE(exec.ok()) << exec.message();
  std::vector<JobResult> got;
  auto space = MakeSpace(*ParseWorkload("gemm:M=8,N=8,K=8"));
  ASSERT_TRUE(space.ok());
  Config config = (*space)->Sample(1, 1).at(0);
  ASSERT_TRUE((*exec)->Run({{7, config}}, [&](JobResult r) { got.push_back(r); }).ok());
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].ok()) << got[0].artifact.message;
  auto r = JobResult::FromJson(got[0].ToJson());
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->ToJson(), got[0].ToJson());
  EXPECT_EQ(r->sims[0].stats.ToJson(), got[0].sims[0].stats.ToJson());
  EXPECT_EQ(r->artifact.elf, got[0].artifact.elf);

  auto bad = JobResult::FromJson(nlohmann::json{{"id", 1}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "job result: missing \"artifact\"");
}

}  // namespace
}  // namespace simtune
