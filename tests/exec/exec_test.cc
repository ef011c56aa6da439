// Executors on real builds (the host compiler) with the fake simulator: every job comes back
// once, failures are results, and results survive the JSON round trip MPI uses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "tests/support/scratch_test.h"
#include "simtune/build.h"
#include "simtune/exec.h"
#include "simtune/process.h"

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

// Bare metal with the qemu simulator: no verification run of its own; the simulator's full
// run of the unverified artifact verifies it (its checksums recorded in the cache entry, so
// the next simulation stops after the ROI with the same statistics), and a wrong result there
// is the artifact's failure at "verify", as a verification run's would be.
TEST_F(ExecTest, BareMetalQemuSimulationVerifiesTheArtifact) {
  ASSERT_TRUE(ProgramExists("qemu-system-riscv64"));
  std::ofstream(dir_ / "kernel.c") << R"(void simtune_kernel(float *const *bufs) {
  for (long i = 0; i < N; ++i) bufs[1][i] = (MODE == 1 ? 2.0f : 3.0f) * bufs[0][i];
}
)";
  std::ofstream(dir_ / "ref.c") << R"(void simtune_reference(float *const *bufs) {
  for (long i = 0; i < N; ++i) bufs[1][i] = 3.0f * bufs[0][i];
}
)";
  std::ofstream(dir_ / "spec.json") << R"({
  "name": "scale", "source": "kernel.c", "reference": "ref.c",
  "buffers": [{"name": "x", "elements": 256, "output": false},
              {"name": "out", "elements": 256, "output": true}],
  "params": {"MODE": [0, 1]}, "restrictions": [], "defines": {"N": 256},
  "tolerance": {"rel": 1e-6, "abs": 1e-6}, "flops": 256
})";
  JobContext c = Context("custom:spec=" + (dir_ / "spec.json").string());
  c.target = "riscv64-baremetal";
  c.simulators = {{"qemu", ""}};
  c.verify_timeout_s = 60;
  auto runner = JobRunner::Create(c);
  ASSERT_TRUE(runner.ok()) << runner.message();

  JobResult first = (*runner)->RunJob({1, {{"MODE", 0}}});
  ASSERT_TRUE(first.ok()) << first.failed_stage() << ": " << first.artifact.message
                          << (first.sims.empty() ? "" : first.sims[0].message);
  EXPECT_TRUE(std::regex_match(first.artifact.verified_checksums, std::regex("out=[0-9a-f]{16}")))
      << first.artifact.verified_checksums;
  Artifact from_store = first.artifact;
  from_store.verified_checksums.clear();
  EXPECT_EQ(VerifiedChecksums(from_store), first.artifact.verified_checksums) << "recorded in the cache entry";
  EXPECT_EQ(first.sims[0].stats.extra.value("output_check", ""),
            "full run (no verified checksums for this artifact)");

  JobResult again = (*runner)->RunJob({2, {{"MODE", 0}}});
  ASSERT_TRUE(again.ok()) << again.failed_stage();
  EXPECT_TRUE(again.artifact.cached);
  EXPECT_EQ(again.sims[0].stats.extra.value("output_check", ""), "checksum");
  auto roi = [](const SimStats& s) {
    nlohmann::json j = s.ToJson();
    j.erase("extra");
    j.erase("wall_s");
    return j;
  };
  EXPECT_EQ(roi(again.sims[0].stats), roi(first.sims[0].stats)) << "the same ROI statistics";

  JobResult wrong = (*runner)->RunJob({3, {{"MODE", 1}}});
  EXPECT_EQ(wrong.failed_stage(), "verify");
  EXPECT_EQ(wrong.artifact.stage, "verify");
  EXPECT_NE(wrong.artifact.message.find("verify failed index=0"), std::string::npos)
      << wrong.artifact.message;
  EXPECT_TRUE(wrong.sims.empty());
  EXPECT_EQ(VerifiedChecksums(wrong.artifact), "");
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
