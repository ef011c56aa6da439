// The dataset job (issue 11's corpus): many workloads x targets through build, simulate and
// measure, resumable and growable. Real tools: host builds with qemu + valgrind and the native
// reference on x86; Spike, qemu on the riscv64-linux build and rvsim's p550 model on RISC-V.
#include "simtune/pipeline.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/support/scratch_test.h"

namespace simtune::pipeline {
namespace {

constexpr const char* kFastRef = "rounds=2,reps=3,min_rep_ns=20000";

class DatasetTest : public testing_support::ScratchTest {
 protected:
  DatasetTest() : ScratchTest("simtune_dataset_") {}

  void SetUp() override {
    ScratchTest::SetUp();
    auto store = Store::Open(dir_ / "corpus.db");
    ASSERT_TRUE(store.ok()) << store.message();
    store_ = std::move(store).value();
  }

  DatasetJobOptions Options(size_t sample) {
    DatasetJobOptions o;
    o.workloads = {"corpus.mvm_odd", "corpus.dw_odd"};
    o.targets = {"x86_64-host"};
    o.sample = sample;
    o.reference_options = kFastRef;
    o.cache = (dir_ / "cache").string();
    o.jobs = 2;
    return o;
  }

  std::unique_ptr<Store> store_;
};

TEST_F(DatasetTest, BuildsSimulatesAndMeasuresEveryWorkloadThenResumesAndGrows) {
  std::vector<Progress> events;
  auto r = RunDataset(*store_, Options(2), [&](const Progress& p) { events.push_back(p); });
  ASSERT_TRUE(r.ok()) << r.message();
  // Per workload: build, simulate qemu and valgrind (the target's own, as one set), measure
  // native.
  EXPECT_EQ(r->steps, 6u);
  ASSERT_EQ(events.size(), 12u) << "a step and a stepped event per step";
  EXPECT_EQ(events[0].event, "step");
  EXPECT_EQ(events[0].message, "build corpus.mvm_odd for x86_64-host");
  EXPECT_EQ(events[1].event, "stepped");
  EXPECT_EQ(events[1].message, "built 2 (0 failed), 0 already built");
  EXPECT_EQ(events[2].message, "simulate corpus.mvm_odd on x86_64-host with qemu,valgrind");
  EXPECT_EQ(events[3].message, "simulated 4 (0 failed), 0 already simulated");
  EXPECT_EQ(events[4].message, "measure corpus.mvm_odd on x86_64-host with native");
  EXPECT_EQ(events[11].done, 6u);
  EXPECT_EQ(events[11].total, 6u);
  ASSERT_EQ(r->counts.size(), 2u);
  for (const auto& c : r->counts) {
    EXPECT_EQ(c.target, "x86_64-host");
    EXPECT_EQ(c.built_ok, 2u) << c.workload;
    EXPECT_EQ(c.measured_ok, 2u) << c.workload;
    EXPECT_EQ(c.new_rows, 2u * 4) << c.workload;   // artifacts, 2 x statistics, results
    EXPECT_EQ(c.failed, 0u) << c.workload;
  }
  EXPECT_EQ(r->counts[0].workload, "mvm:M=97,K=83");

  // The same job again adds nothing; a larger sample adds only the new candidates (a seeded
  // sample's prefix is the smaller sample).
  auto again = RunDataset(*store_, Options(2));
  ASSERT_TRUE(again.ok()) << again.message();
  for (const auto& c : again->counts) EXPECT_EQ(c.new_rows, 0u) << c.workload;
  auto grown = RunDataset(*store_, Options(3));
  ASSERT_TRUE(grown.ok()) << grown.message();
  for (const auto& c : grown->counts) {
    EXPECT_EQ(c.new_rows, 4u) << c.workload;
    EXPECT_EQ(c.measured_ok, 3u) << c.workload;
  }

  // The corpus trains a cross-workload model (the ensemble, without shape features).
  TrainJobOptions t;
  t.data.simulators = "qemu,valgrind";
  t.data.shape = false;
  t.predictor = "rank-avg";
  t.out = (dir_ / "model.json").string();
  auto trained = RunTrain(*store_, t);
  ASSERT_TRUE(trained.ok()) << trained.message();
  EXPECT_EQ(trained->rows, 6);
  EXPECT_EQ(trained->workloads.size(), 2u);
}

TEST_F(DatasetTest, RiscvCorpusRunsSpikeQemuOnTheLinuxBuildAndRvsim) {
  DatasetJobOptions o = Options(1);
  o.workloads = {"corpus.gemm_odd"};
  o.targets = {"riscv64-rvsim-p550"};
  o.also = {"qemu@riscv64-linux"};
  o.reference_options = "verify=off";
  auto job = DatasetJob::Prepare(o);
  ASSERT_TRUE(job.ok()) << job.message();
  std::vector<std::string> steps;
  for (const auto& s : job->plan()) steps.push_back(s.kind + " " + s.target + " " + s.tool);
  // The rvsim targets list spike, qemu (system mode, issue 17) and mca (qemu system mode's
  // blocks x llvm-mca): all run on the bare-metal ELF, as one set.
  EXPECT_EQ(steps, (std::vector<std::string>{"build riscv64-rvsim-p550 ", "simulate riscv64-rvsim-p550 spike,qemu,mca",
                                             "build riscv64-linux ", "simulate riscv64-linux qemu",
                                             "measure riscv64-rvsim-p550 rvsim"}));
  auto r = job->Run(*store_);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->counts.size(), 1u);
  EXPECT_EQ(r->counts[0].measured_ok, 1u);
  EXPECT_EQ(r->counts[0].failed, 0u);
  EXPECT_EQ(r->counts[0].new_rows, 7u);   // 2 builds, 4 simulations, 1 measurement
  auto refs = store_->RefResults(1, "riscv64-rvsim-p550", "rvsim");
  ASSERT_TRUE(refs.ok()) << refs.message();
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].result.unit, "cycles");
}

TEST_F(DatasetTest, DefaultWorkloadsAreTheCatalogCorpusCoveringEveryOperator) {
  DatasetJobOptions o = Options(4);
  o.workloads.clear();
  auto job = DatasetJob::Prepare(o);
  ASSERT_TRUE(job.ok()) << job.message();
  std::set<std::string> workloads, operators;
  for (const auto& s : job->plan()) {
    workloads.insert(s.workload);
    operators.insert(s.workload.substr(0, s.workload.find(':')));
    EXPECT_EQ(s.catalog_name.rfind("corpus.", 0), 0u) << s.catalog_name;
  }
  EXPECT_GE(workloads.size(), 20u);
  EXPECT_EQ(operators, (std::set<std::string>{"conv2d", "dwconv2d", "gemm", "mvm"}));
}

TEST_F(DatasetTest, BadOptionsAreErrorsBeforeAnyWork) {
  DatasetJobOptions o = Options(0);
  EXPECT_EQ(DatasetJob::Prepare(o).message(), "--sample must be at least 1");
  o = Options(2);
  o.targets.clear();
  EXPECT_EQ(DatasetJob::Prepare(o).message(), "no target: pass --target (e.g. x86_64-host)");
  o = Options(2);
  o.also = {"qemu"};
  EXPECT_EQ(DatasetJob::Prepare(o).message(), "--also 'qemu': expected SIM@TARGET (e.g. qemu@riscv64-linux)");
  o = Options(2);
  o.simulators = {"spike@"};
  EXPECT_EQ(DatasetJob::Prepare(o).message(), "--sim 'spike@': expected SIM or SIM@TARGET (e.g. qemu@riscv64-linux)");
  o = Options(2);
  o.simulators = {"spike"};
  EXPECT_EQ(DatasetJob::Prepare(o).message(), "simulator 'spike' does not support target 'x86_64-host'");
  o = Options(2);
  o.targets = {"riscv64-linux"};
  EXPECT_EQ(DatasetJob::Prepare(o).message(), "target 'riscv64-linux' has no reference to measure the corpus with");
  o = Options(2);
  o.workloads = {"corpus.nope"};
  EXPECT_NE(DatasetJob::Prepare(o).message().find("unknown workload or catalog entry 'corpus.nope'"),
            std::string::npos)
      << DatasetJob::Prepare(o).message();
  auto workloads = store_->Workloads();
  ASSERT_TRUE(workloads.ok());
  EXPECT_TRUE(workloads->empty());
}

}  // namespace
}  // namespace simtune::pipeline
