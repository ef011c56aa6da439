// The jobs of pipeline.h called directly (no simtune process): real host builds, the native
// reference with few rounds, and the fake simulator (deterministic statistics, no tools).
#include "simtune/pipeline.h"
#include "simtune/metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "src/pipeline/measured.h"
#include "tests/predictors/synthetic.h"
#include "tests/support/scratch_test.h"

namespace simtune::pipeline {
namespace {

constexpr const char* kFastRef = "rounds=2,reps=3,min_rep_ns=20000";

// The columns of the tidy table of the modes workload after tune, predict and verify.
std::string kTidyColumnsGolden(const std::string& model) {
  return "candidate_id,workload,target,config,knob.MODE,knob.REP,build.stage,build.status,flops,"
         "fake.classes.int_alu,fake.classes.load,fake.classes.store,fake.insn_count,fake.loads,"
         "fake.status,fake.stores,native.options,native.spread,native.status,native.unit,native.value,"
         "pred." + model + ",pred." + model + ".unit,pred.tune:ridge,pred.tune:ridge.unit,"
         "pred.tune:ridge:refit,pred.tune:ridge:refit.unit";
}

class PipelineTest : public testing_support::ScratchTest {
 protected:
  PipelineTest() : ScratchTest("simtune_pipeline_") {}

  void SetUp() override {
    ScratchTest::SetUp();
    // MODE 0 correct, 1 does not compile, 2 correct but slower; REP repeats the work.
    std::ofstream(dir_ / "kernel.c") << R"(void simtune_kernel(float *const *bufs) {
#if MODE == 1
  this is not C;
#endif
  for (int r = 0; r < REP * (MODE == 2 ? 4 : 1); ++r)
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
  "params": {"MODE": [0, 1, 2], "REP": [1, 2]}, "restrictions": [], "defines": {"N": 4096},
  "tolerance": {"rel": 1e-6, "abs": 1e-6}, "flops": 4096
})";
    workload_ = "custom:spec=" + (dir_ / "spec.json").string();
    auto store = Store::Open(dir_ / "t.db");
    ASSERT_TRUE(store.ok()) << store.message();
    store_ = std::move(store).value();
  }

  BuildJobOptions BuildAll() {
    BuildJobOptions o;
    o.selection.workload = workload_;
    o.selection.all = true;
    o.cache = (dir_ / "cache").string();
    o.jobs = 2;
    return o;
  }

  std::string workload_;
  std::unique_ptr<Store> store_;
};

TEST_F(PipelineTest, BuildSimulateMeasureReportAndTheTable) {
  std::vector<Progress> events;
  auto built = RunBuild(*store_, BuildAll(), [&](const Progress& p) { events.push_back(p); });
  ASSERT_TRUE(built.ok()) << built.message();
  EXPECT_EQ(built->built.size(), 6u);
  EXPECT_EQ(built->ok, 4u);
  EXPECT_EQ(built->failed_by_stage, (std::map<std::string, int>{{"build", 2}}));
  ASSERT_EQ(events.size(), 6u) << "one event per candidate";
  size_t failed_events = 0;
  for (const auto& e : events) {
    EXPECT_EQ(e.job, "build");
    EXPECT_EQ(e.event, "candidate");
    if (e.status != "ok") {
      ++failed_events;
      EXPECT_EQ(e.stage, "build");
      EXPECT_NE(e.config.find("MODE=1"), std::string::npos) << e.config;
    }
  }
  EXPECT_EQ(failed_events, 2u);

  // Resume: the same job again builds nothing.
  auto again = RunBuild(*store_, BuildAll());
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_EQ(again->built.size(), 2u) << "only the failed candidates are built again";
  EXPECT_EQ(again->skipped, 4u);

  SimulateJobOptions so;
  so.workload = workload_;
  so.simulator = "fake";
  so.jobs = 2;
  events.clear();
  auto sims = RunSimulate(*store_, so, [&](const Progress& p) { events.push_back(p); });
  ASSERT_TRUE(sims.ok()) << sims.message();
  EXPECT_EQ(sims->rows.size(), 4u);
  EXPECT_EQ(sims->unbuilt, 2u);
  ASSERT_EQ(events.size(), 5u) << "4 candidates, then finished";
  EXPECT_EQ(events.back().event, "finished");
  EXPECT_EQ(events[3].done, 4u);
  EXPECT_EQ(events[3].total, 4u);
  auto resim = RunSimulate(*store_, so);
  ASSERT_TRUE(resim.ok()) << resim.message();
  EXPECT_EQ(resim->rows.size(), 0u);
  EXPECT_EQ(resim->skipped, 4u);

  MeasureJobOptions mo;
  mo.workload = workload_;
  mo.reference_options = kFastRef;
  mo.sample = 3;
  events.clear();
  auto measured = RunMeasure(*store_, mo, [&](const Progress& p) { events.push_back(p); });
  ASSERT_TRUE(measured.ok()) << measured.message();
  EXPECT_EQ(measured->measured, 3u);
  ASSERT_EQ(measured->ranked.size(), 3u);
  EXPECT_TRUE(measured->failed.empty());
  for (size_t i = 1; i < measured->ranked.size(); ++i)
    EXPECT_LE(measured->ranked[i - 1].ref.result.value, measured->ranked[i].ref.result.value);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].event, "measure");
  EXPECT_EQ(events[0].total, 3u);

  mo.measure = false;   // report: ranks what is stored, measures nothing
  auto report = RunMeasure(*store_, mo);
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_EQ(report->measured, 0u);
  ASSERT_EQ(report->ranked.size(), 3u);
  EXPECT_EQ(report->ranked[0].candidate_id, measured->ranked[0].candidate_id);

  auto table = LoadCandidateTable(*store_, {});
  ASSERT_TRUE(table.ok()) << table.message();
  ASSERT_EQ(table->size(), 6u);
  size_t with_stats = 0, with_time = 0;
  for (const auto& r : *table) {
    EXPECT_EQ(r.numbers.count("knob.MODE"), 1u) << r.config;
    EXPECT_EQ(r.numbers.count("knob.REP"), 1u) << r.config;
    bool ok = r.texts.at("build.status") == "ok";
    EXPECT_EQ(ok, r.numbers.at("knob.MODE") != 1) << r.config;
    if (r.numbers.count("fake.insn_count")) ++with_stats;
    if (r.numbers.count("native.value")) {
      ++with_time;
      EXPECT_GT(r.numbers.at("native.value"), 0);
      EXPECT_EQ(r.texts.at("native.unit"), "ns");
    }
  }
  EXPECT_EQ(with_stats, 4u);
  EXPECT_EQ(with_time, 3u);
}

TEST_F(PipelineTest, TuneThenTrainPredictVerifyEvalAndEstimate) {
  TuneJobOptions t;
  t.workload = workload_;
  t.budget = 6;
  t.strategy = "exhaustive";
  t.simulators = "fake";
  t.calibrate = 4;   // every candidate that builds: k-fold in eval below needs 2 per fold
  t.verify_top = 2;
  t.jobs = 2;
  t.cache = (dir_ / "cache").string();
  t.reference_options = kFastRef;
  auto job = TuneJob::Prepare(t);
  ASSERT_TRUE(job.ok()) << job.message();
  std::vector<Progress> events;
  auto tuned = (*job)->Run(*store_, [&](const Progress& p) { events.push_back(p); });
  ASSERT_TRUE(tuned.ok()) << tuned.message();
  EXPECT_EQ(tuned->attempted, 6u);
  EXPECT_EQ(tuned->ran, 6u);
  EXPECT_EQ(tuned->failed_by_stage, (std::map<std::string, size_t>{{"build", 2}}));
  ASSERT_EQ(tuned->ranking.size(), 4u);
  for (size_t i = 1; i < tuned->ranking.size(); ++i)
    EXPECT_LE(tuned->ranking[i - 1].score, tuned->ranking[i].score);
  ASSERT_EQ(tuned->verified.size(), 2u);
  ASSERT_GE(tuned->best, 0);
  EXPECT_TRUE(tuned->verified[tuned->best].measured.has_value());
  size_t candidates = 0;
  std::set<std::string> kinds;
  for (const auto& e : events) {
    kinds.insert(e.event);
    if (e.event == "candidate") ++candidates;
  }
  EXPECT_EQ(candidates, 6u);
  EXPECT_EQ(events.front().event, "start");
  EXPECT_TRUE(kinds.count("searched") && kinds.count("measure"));

  // The run and its progress trace are in the store (the report's tuning curve).
  auto wid = store_->FindWorkload(tuned->workload);
  ASSERT_TRUE(wid.ok() && wid->has_value());
  auto runs = store_->TuneRuns(**wid, "x86_64-host");
  ASSERT_TRUE(runs.ok()) << runs.message();
  ASSERT_EQ(runs->size(), 1u);
  const TuneRunRow& run = runs->front();
  EXPECT_EQ(nlohmann::json::parse(run.settings_json)["budget"], 6);
  EXPECT_EQ(run.verified_unit, "ns");
  EXPECT_EQ(run.predicted_unit, "ns") << "ridge predicts run time";
  ASSERT_EQ(run.points.size(), 2u) << "the calibration pool takes the whole budget: no search batch";
  EXPECT_EQ(run.points.front().phase, "calibrate");
  EXPECT_EQ(run.points.back().phase, "verify");
  EXPECT_EQ(run.points.back().simulations, 6);
  for (size_t i = 1; i < run.points.size(); ++i) {
    EXPECT_GE(run.points[i].elapsed_s, run.points[i - 1].elapsed_s);
    EXPECT_LE(run.points[i].best_verified, run.points[i - 1].best_verified) << "best so far only improves";
  }
  EXPECT_LE(run.points.back().best_verified, tuned->verified[tuned->best].measured->value);

  // The tune's measurements are training data.
  TrainJobOptions tr;
  tr.data.simulators = "fake";
  tr.data.relative = false;
  tr.predictor = "ridge";
  tr.out = (dir_ / "model.json").string();
  auto trained = RunTrain(*store_, tr);
  ASSERT_TRUE(trained.ok()) << trained.message();
  EXPECT_GE(trained->rows, 3);
  ASSERT_EQ(trained->in_sample.size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "model.json"));

  auto predicted = RunPredict(*store_, {tr.out, workload_});
  ASSERT_TRUE(predicted.ok()) << predicted.message();
  ASSERT_EQ(predicted->ranking.size(), 4u);
  for (size_t i = 1; i < predicted->ranking.size(); ++i)
    EXPECT_LE(predicted->ranking[i - 1].score, predicted->ranking[i].score);
  auto table = LoadCandidateTable(*store_, {"x86_64-host", {workload_}});
  ASSERT_TRUE(table.ok()) << table.message();
  size_t with_prediction = 0;
  for (const auto& r : *table) with_prediction += r.numbers.count("pred." + tr.out);
  EXPECT_EQ(with_prediction, 4u);

  VerifyJobOptions vo;
  vo.model = tr.out;
  vo.workload = workload_;
  vo.ref_options = kFastRef;
  vo.k = 2;
  auto verified = RunVerify(*store_, vo);
  ASSERT_TRUE(verified.ok()) << verified.message();
  EXPECT_EQ(verified->k, 2u);
  EXPECT_GE(verified->best, 0);

  EvalJobOptions eo;
  eo.data = tr.data;
  eo.predictors = "ridge;insn-count";
  eo.protocols = "kfold,lowo";
  eo.folds = 2;
  auto eval = RunEval(*store_, eo);
  ASSERT_TRUE(eval.ok()) << eval.message();
  ASSERT_EQ(eval->runs.size(), 4u);
  EXPECT_EQ(eval->runs[1].skipped, "leave-one-workload-out needs at least 2 workloads");
  EXPECT_EQ(eval->failures, 0u) << eval->runs[0].error << " / " << eval->runs[2].error << " / " << eval->runs[3].error;
  nlohmann::json eval_json = eval->ToJson(eo);
  EXPECT_EQ(eval_json["results"].size(), 2u) << "skipped runs are not results";
  EXPECT_EQ(eval_json["measured_unit"], "ns");
  // Every candidate's out-of-fold prediction, from which anyone can redraw the metrics.
  for (const auto& res : eval_json["results"]) {
    ASSERT_TRUE(res.contains("predictions")) << res.dump();
    const auto& preds = res["predictions"];
    ASSERT_EQ(static_cast<int64_t>(preds.size()), eval->rows);
    if (res["predictor"] == "ridge") EXPECT_EQ(res["prediction_unit"], "ns");
    Eigen::VectorXd truth(eval->rows), scores(eval->rows);
    for (int64_t i = 0; i < eval->rows; ++i) {
      truth[i] = preds[static_cast<size_t>(i)]["measured"].get<double>();
      scores[i] = preds[static_cast<size_t>(i)]["predicted"].get<double>();
      EXPECT_EQ(preds[static_cast<size_t>(i)]["workload"], eval->workloads[0]);
    }
    EXPECT_DOUBLE_EQ(TopKPercent(truth, scores), res["per_workload"][0]["top_k_percent"].get<double>())
        << res["predictor"];
  }

  // --score-workloads: a workload the data lacks is named in the error; the one it has scores
  // as before.
  EvalJobOptions scored = eo;
  scored.score_workloads = {"gemm:M=3,N=5,K=7"};
  auto missing = RunEval(*store_, scored);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("--score-workloads: workload 'gemm:M=3,N=5,K=7' has no measured candidates"),
            std::string::npos)
      << missing.message();
  scored.score_workloads = {workload_};
  scored.protocols = "kfold";
  auto only = RunEval(*store_, scored);
  ASSERT_TRUE(only.ok()) << only.message();
  ASSERT_EQ(only->runs.size(), 2u);
  ASSERT_EQ(only->runs[0].per_workload.size(), 1u);
  EXPECT_DOUBLE_EQ(only->runs[0].per_workload[0].metrics.spearman, eval->runs[0].per_workload[0].metrics.spearman);

  // The tidy table of `export --csv`: its columns (golden).
  auto tidy_records = LoadCandidateTable(*store_, {"x86_64-host", {workload_}});
  ASSERT_TRUE(tidy_records.ok()) << tidy_records.message();
  std::string tidy = CandidateTableCsv(*tidy_records, "x86_64-host");
  std::string model = tr.out;
  EXPECT_EQ(tidy.substr(0, tidy.find("\r\n")), kTidyColumnsGolden(model));
  EXPECT_EQ(std::count(tidy.begin(), tidy.end(), '\n'), 7) << "a header and a row per candidate";
  for (const auto& r : *tidy_records)
    if (r.numbers.count("pred." + model)) EXPECT_EQ(r.texts.at("pred." + model + ".unit"), "ns");

  // Estimate: two executables of the tune's artifacts, scored without a store.
  std::vector<std::string> elfs;
  for (const auto& r : *table)
    if (r.texts.at("build.status") == "ok" && elfs.size() < 2) {
      auto art = store_->LatestArtifact(r.candidate_id, "x86_64-host");
      ASSERT_TRUE(art.ok() && art->has_value());
      elfs.push_back((*art)->artifact.elf.string());
    }
  EstimateJobOptions es;
  es.elfs = elfs;
  es.workload = workload_;
  es.target = "x86_64-host";
  es.simulators = "fake";
  auto est = RunEstimate(es);
  ASSERT_TRUE(est.ok()) << est.message();
  ASSERT_EQ(est->estimates.size(), 2u);
  for (const auto& e : est->estimates) {
    EXPECT_EQ(e.status, "ok") << e.message;
    EXPECT_GT(e.predicted_s, 0);
  }
  EXPECT_EQ(est->ToJson()["results"].size(), 2u);
}

TEST_F(PipelineTest, PrepareRejectsBadOptionsBeforeAnyWork) {
  BuildJobOptions b = BuildAll();
  b.selection.all = false;
  EXPECT_EQ(BuildJob::Prepare(b).message(), "no candidates chosen: pass --sample N, --config or --all");
  b.selection.all = true;
  b.selection.sample = 2;
  EXPECT_EQ(BuildJob::Prepare(b).message(), "choose one of --sample, --config, --all");

  TuneJobOptions t;
  t.workload = workload_;
  EXPECT_EQ(TuneJob::Prepare(t).message(), "--budget must be at least 1");
  t.budget = 4;
  t.verify_top = -1;
  EXPECT_EQ(TuneJob::Prepare(t).message(), "--top must be >= 0; got -1");

  VerifyJobOptions v;
  v.k = 0;
  EXPECT_EQ(VerifyJob::Prepare(v).message(), "--top must be >= 1; got 0");

  EstimateJobOptions e;
  e.workload = workload_;
  e.target = "x86_64-host";
  e.simulators = "fake";
  std::ofstream(dir_ / "not.elf") << "text";
  e.elfs = {(dir_ / "not.elf").string()};
  EXPECT_EQ(RunEstimate(e).message(), "elf '" + (dir_ / "not.elf").string() + "': not an ELF file");

  // Nothing above touched the store.
  auto workloads = store_->Workloads();
  ASSERT_TRUE(workloads.ok());
  EXPECT_TRUE(workloads->empty());
}

// Several simulators in one simulate job run as a set (real QEMU and llvm-mca: one QEMU run
// serves both), one row each; a resumed job runs only the simulators a candidate lacks.
TEST_F(PipelineTest, SimulateRunsSeveralSimulatorsAsOneSet) {
  auto built = RunBuild(*store_, BuildAll());
  ASSERT_TRUE(built.ok()) << built.message();
  ASSERT_EQ(built->ok, 4u);
  SimulateJobOptions so;
  so.workload = workload_;
  so.simulator = "qemu";
  so.jobs = 2;
  auto qemu = RunSimulate(*store_, so);
  ASSERT_TRUE(qemu.ok()) << qemu.message();
  ASSERT_EQ(qemu->rows.size(), 4u);
  so.simulator = "qemu, mca";
  std::vector<Progress> events;
  auto both = RunSimulate(*store_, so, [&](const Progress& p) { events.push_back(p); });
  ASSERT_TRUE(both.ok()) << both.message();
  EXPECT_EQ(both->simulator, "qemu, mca");
  ASSERT_EQ(both->rows.size(), 4u) << "qemu's rows are there: mca alone runs";
  for (const auto& row : both->rows) {
    EXPECT_EQ(row.simulator, "mca");
    EXPECT_EQ(row.status, "ok") << row.stage << ": " << row.message;
  }
  EXPECT_EQ(events.size(), 5u) << "one event per candidate, then finished";
  so.force = true;
  auto forced = RunSimulate(*store_, so);
  ASSERT_TRUE(forced.ok()) << forced.message();
  ASSERT_EQ(forced->rows.size(), 8u);
  std::map<int64_t, std::string> qemu_stats;
  for (const auto& row : qemu->rows) qemu_stats[row.candidate_id] = row.stats_json;
  size_t n_qemu = 0;
  for (const auto& row : forced->rows) {
    EXPECT_EQ(row.status, "ok") << row.simulator << " " << row.stage << ": " << row.message;
    if (row.simulator != "qemu") continue;
    ++n_qemu;
    EXPECT_EQ(row.stats_json, qemu_stats[row.candidate_id]) << "the shared run gives qemu's own statistics";
  }
  EXPECT_EQ(n_qemu, 4u);
  so.force = false;
  auto again = RunSimulate(*store_, so);
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_EQ(again->rows.size(), 0u);
  EXPECT_EQ(again->skipped, 4u);

  so.simulator = "qemu,qemu";
  EXPECT_EQ(RunSimulate(*store_, so).message(), "--sim 'qemu,qemu': a simulator is named twice");
  so.simulator = "qemu,mca";
  so.simulator_options = "timeout=10";
  EXPECT_NE(RunSimulate(*store_, so).message().find("with several simulators (qemu,mca)"), std::string::npos);
}

TEST_F(PipelineTest, AStoreWorkloadThatIsNotThereIsNamed) {
  auto table = LoadCandidateTable(*store_, {"x86_64-host", {workload_}});
  EXPECT_EQ(table.message(), "workload '" + workload_ + "' is not in the store");
  SimulateJobOptions so;
  so.workload = workload_;
  so.simulator = "fake";
  auto r = RunSimulate(*store_, so);
  EXPECT_NE(r.message().find("has no candidates in the store; run `simtune build` first"), std::string::npos)
      << r.message();
}

}  // namespace
}  // namespace simtune::pipeline

namespace simtune {
namespace {

// A model trained in another store: its training workload was group 1 there, and the
// candidates ranked here belong to this store's workload 1, another workload, all faster than
// anything it was trained on. rank-avg keeps each training group's scores (to rank a seen
// workload a fold at a time); scored under group 1 they all had rank 0 against those, a tie
// that left a tune's search nothing to choose by (issue 13's GEMM race). They rank among
// themselves.
TEST(RankWithModelTest, CandidatesRankAmongThemselvesWhateverTheirWorkloadNumber) {
  testing::SyntheticSpec spec;
  spec.insn_count = true;
  spec.groups = 1;
  spec.first_group = 1;
  spec.rows_per_group = 40;
  Dataset train = testing::MakeSynthetic(spec);
  auto created = Predictors().Create("rank-avg", "members=ridge+insn-count,weights=1+1");
  ASSERT_TRUE(created.ok()) << created.message();
  TrainedModel model;
  model.predictor = std::move(created).value();
  ASSERT_TRUE(model.predictor->Fit(train).ok());

  std::vector<CandidateData> rows;
  for (int i = 0; i < 4; ++i) {
    CandidateData c;
    c.candidate_id = 100 + i;
    c.workload_id = 1;
    c.workload_key = "gemm:M=4,N=4,K=4";
    double lin = -20.0 + i;   // far below every training row, candidate 100 the fastest
    c.features = {{"f0", lin}, {"f1", 0}, {"f2", 0}, {"f3", 0}, {"f4", 0},
                  {"insn_count", 1e-3 * std::exp(lin)}, {"sim.log_insn", std::log(1e-3) + lin}};
    rows.push_back(c);
  }
  auto ranked = pipeline::RankWithModel(model, "m.json", rows);
  ASSERT_TRUE(ranked.ok()) << ranked.message();
  const auto& [scores, order] = *ranked;
  ASSERT_EQ(scores.size(), 4);
  // Strictly better score for the faster (ridge clips features to its training range, so it
  // ties them all; the instruction count tells them apart).
  for (int i = 0; i + 1 < 4; ++i) EXPECT_LT(scores[i], scores[i + 1]) << i;
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3}));
}

}  // namespace
}  // namespace simtune
