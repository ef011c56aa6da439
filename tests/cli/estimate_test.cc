// `simtune estimate` on ready-made executables: exact error messages, and predictions that
// match the library's own feature extraction and predictor, on the fake simulator (a real
// simulator runs through it in tests/tvm, which tunes with TVM).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/scratch_test.h"
#include "simtune/build.h"
#include "simtune/features.h"
#include "simtune/predictor.h"
#include "simtune/process.h"
#include "simtune/simulator.h"
#include "simtune/store.h"
#include "simtune/target.h"
#include "simtune/training.h"
#include "simtune/workload.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

class EstimateTest : public testing_support::ScratchTest {
 protected:
  EstimateTest() : ScratchTest("simtune_estimate_") {}

  ProcessResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), "estimate");
    return RunSimtune(std::move(args), 300);
  }

  // A verified GEMM executable for this machine, built by simtune's own builder.
  fs::path BuildGemm(const std::string& workload_text, size_t sample = 0) {
    auto target = LoadTarget("x86_64-host");
    EXPECT_TRUE(target.ok()) << target.message();
    auto workload = ParseWorkload(workload_text);
    EXPECT_TRUE(workload.ok()) << workload.message();
    auto space = MakeSpace(*workload);
    EXPECT_TRUE(space.ok()) << space.message();
    BuildOptions bo;
    bo.cache_dir = dir_ / "cache";
    Builder builder(bo);
    Artifact a = builder.Build(*workload, (*space)->Sample(sample + 1, 3)[sample], *target);
    EXPECT_TRUE(a.ok()) << a.message << a.build_log;
    return a.elf;
  }

  // The artifact `estimate` makes of an ELF: hashed by content.
  static Artifact ArtifactOf(const fs::path& elf) {
    std::ifstream in(elf, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    Artifact a;
    a.target = "x86_64-host";
    a.hash = Sha256Hex(s.str());
    a.elf = elf;
    a.status = "ok";
    return a;
  }

  static nlohmann::json ReadJson(const fs::path& p) {
    std::ifstream in(p);
    return nlohmann::json::parse(in);
  }

};

TEST_F(EstimateTest, BadInputsFailBeforeAnySimulation) {
  auto r = Run({"/nonexistent/a.elf", "-w", "gemm:M=8,N=8,K=8", "-t", "x86_64-host"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: elf '/nonexistent/a.elf': no such file\n");

  std::ofstream(dir_ / "text.elf") << "not an executable\n";
  r = Run({"text.elf", "-w", "gemm:M=8,N=8,K=8", "-t", "x86_64-host"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: elf 'text.elf': not an ELF file\n");

  r = Run({"text.elf", "-w", "gemm:M=8,N=8,K=8"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: pass --target (or --model, whose target is used)\n");

  r = Run({"text.elf", "-w", "gemm:M=8,N=8,K=8", "-t", "x86_64-host", "--sim", "fake,fake"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: --sim 'fake,fake': a simulator is named twice\n");

  r = Run({"text.elf", "-w", "gemm:M=8,N=8,K=8", "-t", "x86_64-host", "--sim", "fakee"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("error: unknown simulator 'fakee'", 0), 0u) << r.err;

  r = Run({"text.elf", "-w", "gemm:M=8,N=8", "-t", "x86_64-host", "--sim", "fake"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: workload 'gemm:M=8,N=8': missing shape parameter K\n");
}

TEST_F(EstimateTest, BaselineScoresByInstructionCount) {
  fs::path elf = BuildGemm("gemm:M=8,N=8,K=8");
  auto r = Run({elf.string(), "-w", "gemm:M=8,N=8,K=8", "-t", "x86_64-host", "--sim", "fake",
                "--json", "out.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ok 1\n"), std::string::npos) << r.out;
  auto doc = ReadJson(dir_ / "out.json");
  EXPECT_EQ(doc["model"], "insn-count baseline (fake.log_insn)");
  EXPECT_EQ(doc["flops"], 2.0 * 8 * 8 * 8);
  ASSERT_EQ(doc["results"].size(), 1u);
  const auto& row = doc["results"][0];
  EXPECT_EQ(row["status"], "ok");
  EXPECT_EQ(row["unit"], "score");

  auto sim = Simulators().Create("fake", "");
  ASSERT_TRUE(sim.ok());
  auto target = LoadTarget("x86_64-host");
  SimResult want = (*sim)->Simulate(ArtifactOf(elf), *target);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(row["stats"]["fake"]["insn_count"], want.stats.insn_count);
  EXPECT_NEAR(row["predicted"].get<double>(), std::log(static_cast<double>(want.stats.insn_count)), 1e-9);
  EXPECT_NEAR(row["predicted_s"].get<double>(), 1e-9 * want.stats.insn_count, 1e-9 * 1e-6 * want.stats.insn_count);
}

// With the "mca" simulator and no model, llvm-mca's cycle estimate ranks (the TVM runner's
// default baseline when it runs mca), not the instruction count of the first simulator.
TEST_F(EstimateTest, BaselineWithMcaScoresByItsCycleEstimate) {
  fs::path elf = BuildGemm("gemm:M=8,N=8,K=8");
  auto r = Run({elf.string(), "-w", "gemm:M=8,N=8,K=8", "-t", "x86_64-host", "--sim", "qemu,mca",
                "--json", "out.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = ReadJson(dir_ / "out.json");
  EXPECT_EQ(doc["model"], "mca baseline (mca.log_cycles)");
  ASSERT_EQ(doc["results"].size(), 1u);
  const auto& row = doc["results"][0];
  ASSERT_EQ(row["status"], "ok") << row.dump();
  EXPECT_EQ(row["unit"], "score");
  const double cycles = row["stats"]["mca"]["extra"]["mca"]["cycles"].get<double>();
  ASSERT_GT(cycles, 1.0) << row.dump();
  EXPECT_NE(cycles, static_cast<double>(row["stats"]["qemu"]["insn_count"].get<uint64_t>()));
  EXPECT_NEAR(row["predicted"].get<double>(), std::log(cycles), 1e-9);
}

TEST_F(EstimateTest, FailedSimulationIsARowNotAnAbort) {
  fs::path elf = BuildGemm("gemm:M=8,N=8,K=8");
  // valgrind runs the real executable; a corrupt copy fails at run, the good one is ok.
  fs::copy_file(elf, dir_ / "broken.elf");
  {
    std::fstream f(dir_ / "broken.elf", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(64);
    std::string junk(4096, '\xff');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto r = Run({elf.string(), "broken.elf", "-w", "gemm:M=8,N=8,K=8", "-t", "x86_64-host", "--sim",
                "valgrind", "--json", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["results"].size(), 2u);
  EXPECT_EQ(doc["results"][0]["status"], "ok") << doc.dump(1);
  EXPECT_GT(doc["results"][0]["stats"]["valgrind"]["insn_count"].get<double>(), 2 * 8 * 8 * 8 / 8);
  EXPECT_EQ(doc["results"][1]["status"], "failed");
  EXPECT_EQ(doc["results"][1]["stage"], "run") << doc.dump(1);
  EXPECT_EQ(doc["results"][1]["message"].get<std::string>().rfind("valgrind: ", 0), 0u);
}

// The TVM runner's calibration and dataset (issue 18): the best predicted executables are
// timed on the real native reference, and a store records everything as candidates
// "external:<hash>", which a second run reuses instead of simulating or measuring again.
TEST_F(EstimateTest, MeasuresTheBestPredictedAndRecordsThemInAStore) {
  fs::path a = BuildGemm("gemm:M=16,N=16,K=16", 0), b = BuildGemm("gemm:M=16,N=16,K=16", 1);
  ASSERT_NE(ArtifactOf(a).hash, ArtifactOf(b).hash);
  std::vector<std::string> args = {a.string(), b.string(), "-w", "gemm:M=16,N=16,K=16", "-t", "x86_64-host",
                                   "--sim", "fake", "--measure-top", "1", "--ref-options", "rounds=2,reps=3",
                                   "--store", "s.db", "--json", "out.json"};
  auto r = Run(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = ReadJson(dir_ / "out.json");
  EXPECT_EQ(doc["reference"], "native");
  ASSERT_EQ(doc["results"].size(), 2u);
  const auto& rows = doc["results"];
  size_t best = rows[0]["predicted"].get<double>() <= rows[1]["predicted"].get<double>() ? 0 : 1;
  ASSERT_TRUE(rows[best].contains("measured")) << doc.dump(1);
  EXPECT_FALSE(rows[1 - best].contains("measured")) << doc.dump(1);
  EXPECT_EQ(rows[best]["measured"]["status"], "ok") << doc.dump(1);
  EXPECT_EQ(rows[best]["measured"]["unit"], "ns");
  EXPECT_GT(rows[best]["measured"]["value"].get<double>(), 0);
  EXPECT_EQ(rows[0]["reused"], false);
  EXPECT_NE(r.out.find("measured "), std::string::npos) << r.out;

  auto count = [&](size_t* cands, size_t* sims, size_t* refs) {
    auto store = Store::Open(dir_ / "s.db", StoreMode::kReadOnly);
    ASSERT_TRUE(store.ok()) << store.message();
    auto wid = (*store)->FindWorkload("gemm:M=16,N=16,K=16");
    ASSERT_TRUE(wid.ok() && wid->has_value());
    auto c = (*store)->Candidates(**wid);
    ASSERT_TRUE(c.ok());
    for (const auto& row : *c) EXPECT_TRUE(IsExternalConfig(row.config)) << row.config;
    EXPECT_EQ((*c)[0].config, "external:" + ArtifactOf(a).hash.substr(0, 16));
    auto s = (*store)->SimResults(**wid, "x86_64-host");
    auto f = (*store)->RefResults(**wid, "x86_64-host");
    ASSERT_TRUE(s.ok() && f.ok());
    *cands = c->size();
    *sims = s->size();
    *refs = f->size();
  };
  size_t cands = 0, sims = 0, refs = 0;
  count(&cands, &sims, &refs);
  EXPECT_EQ(cands, 2u);
  EXPECT_EQ(sims, 2u);
  EXPECT_EQ(refs, 1u);

  // Again: statistics and the measurement come from the store; nothing is added.
  r = Run(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto again = ReadJson(dir_ / "out.json");
  EXPECT_EQ(again["results"][0]["reused"], true);
  EXPECT_EQ(again["results"][best]["measured"]["value"], rows[best]["measured"]["value"]);
  count(&cands, &sims, &refs);
  EXPECT_EQ(cands, 2u);
  EXPECT_EQ(sims, 2u);
  EXPECT_EQ(refs, 1u);

  // Measure the other one too; then the store trains a model like simtune's own candidates.
  args[9] = "0";
  args.insert(args.begin() + 10, {"--measure", "0,1"});
  r = Run(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  count(&cands, &sims, &refs);
  EXPECT_EQ(refs, 2u);
  r = RunSimtune({"train", "--db", "s.db", "--target", "x86_64-host", "--sim", "fake", "--ref", "native",
                  "--no-rel", "--predictor", "insn-count", "--out", "m.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "m.json"));

  // `simulate` runs them as it runs simtune's own candidates (again with --force; without,
  // their stored statistics stand).
  r = RunSimtune({"simulate", "gemm:M=16,N=16,K=16", "--db", "s.db", "--target", "x86_64-host", "--sim",
                  "fake"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("simulated 0 candidates"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 already in the store"), std::string::npos) << r.out;
  r = RunSimtune({"simulate", "gemm:M=16,N=16,K=16", "--db", "s.db", "--target", "x86_64-host", "--sim",
                  "fake", "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("simulated 2 candidates"), std::string::npos) << r.out;
  count(&cands, &sims, &refs);
  EXPECT_EQ(sims, 4u);
}

// A store the TVM runner measured with value=median keeps those runs: `measure` ranks and
// reduces them again as value=min rows (its external candidates too), and `estimate` then
// finds them instead of timing the executables again.
TEST_F(EstimateTest, StoredMedianRowsAreReducedAgainNotRunAgain) {
  fs::path a = BuildGemm("gemm:M=16,N=16,K=16", 0), b = BuildGemm("gemm:M=16,N=16,K=16", 1);
  std::vector<std::string> args = {a.string(), b.string(), "-w", "gemm:M=16,N=16,K=16", "-t", "x86_64-host",
                                   "--sim", "fake", "--measure", "0,1", "--ref-options",
                                   "rounds=2,reps=3,value=median", "--store", "s.db", "--json", "median.json"};
  auto r = Run(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunSimtune({"measure", "gemm:M=16,N=16,K=16", "--db", "s.db", "--ref-options", "rounds=2,reps=3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("2 results reduced again from stored runs of the same protocol (rounds=2,reps=3,"
                       "min_rep_ns=250000), not run again"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("2 measured, 0 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("external:" + ArtifactOf(a).hash.substr(0, 16)), std::string::npos) << r.out;

  args[11] = "rounds=2,reps=3";
  args.back() = "min.json";
  r = Run(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = ReadJson(dir_ / "min.json");
  auto store = Store::Open(dir_ / "s.db", StoreMode::kReadOnly);
  ASSERT_TRUE(store.ok()) << store.message();
  auto wid = (*store)->FindWorkload("gemm:M=16,N=16,K=16");
  ASSERT_TRUE(wid.ok() && wid->has_value());
  auto refs = (*store)->RefResults(**wid, "x86_64-host");
  ASSERT_TRUE(refs.ok());
  EXPECT_EQ(refs->size(), 4u);   // two runs, each reduced both ways; nothing timed again
  for (const auto& row : *refs) {
    if (row.options != "rounds=2,reps=3,min_rep_ns=250000,value=min") continue;
    auto extra = nlohmann::json::parse(row.result.extra_json);
    double least = 1e300;
    for (double v : extra["round_min_ns"]) least = std::min(least, v);
    EXPECT_DOUBLE_EQ(row.result.value, least);
    EXPECT_TRUE(extra.contains("rereduced_from"));
  }
  for (const auto& res : doc["results"]) EXPECT_EQ(res["measured"]["status"], "ok") << doc.dump(1);
}

TEST_F(EstimateTest, MeasureOptionsAreChecked) {
  fs::path elf = BuildGemm("gemm:M=8,N=8,K=8");
  auto r = Run({elf.string(), "-w", "gemm:M=8,N=8,K=8", "-t", "x86_64-host", "--sim", "fake", "--measure", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: --measure index 1 is out of range; 1 executables given\n");
  r = Run({elf.string(), "-w", "gemm:M=8,N=8,K=8", "-t", "x86_64-host", "--sim", "fake", "--ref", "native"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: --ref and --ref-options need --measure or --measure-top (which executables to "
                   "measure)\n");
  r = Run({elf.string(), "-w", "gemm:M=8,N=8,K=8", "-t", "x86_64-host", "--sim", "fake", "--store", "s.db",
           "--label", "a,b"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: --label: 2 labels for 1 executables\n");
}

class EstimateModelTest : public EstimateTest {
 protected:
  // A ridge model on the fake simulator's features, trained on made-up rows.
  std::string SaveModel(const std::vector<std::string>& names, bool relative) {
    Dataset d;
    d.feature_names = names;
    d.X = Eigen::MatrixXd(4, static_cast<Eigen::Index>(names.size()));
    for (int r = 0; r < 4; ++r)
      for (size_t c = 0; c < names.size(); ++c) d.X(r, static_cast<Eigen::Index>(c)) = -4.0 + r + 0.1 * c * r * r;
    d.y = Eigen::VectorXd(4);
    d.y << 100, 180, 330, 600;
    d.group = {1, 1, 1, 1};
    d.ids = {1, 2, 3, 4};
    auto p = Predictors().Create("ridge", "");
    EXPECT_TRUE(p.ok());
    EXPECT_TRUE((*p)->Fit(d).ok());
    DataSpec spec;
    spec.sim_target = "x86_64-host";
    spec.simulators = {"fake"};
    spec.features.relative = relative;
    std::string path = (dir_ / "model.json").string();
    auto st = SaveTrainedModel(path, **p, spec, {{"workloads", {"gemm:M=8,N=8,K=8"}}, {"rows", 4}});
    EXPECT_TRUE(st.ok()) << st.message();
    return path;
  }
};

TEST_F(EstimateModelTest, RelativeFeaturesAreRefused) {
  std::string model = SaveModel({"fake.log_insn", "fake.log_insn.rel"}, true);
  std::ofstream(dir_ / "x.elf") << "\x7f" "ELF";
  auto r = Run({"x.elf", "-w", "gemm:M=8,N=8,K=8", "--model", model});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: model " + model +
                       " uses feature 'fake.log_insn.rel', which is relative to the other candidates of "
                       "its workload; estimate scores each executable on its own: train with --no-rel\n");
}

TEST_F(EstimateModelTest, TargetAndSimulatorsMustMatchTheModel) {
  std::string model = SaveModel({"fake.log_insn_per_flop"}, false);
  std::ofstream(dir_ / "x.elf") << "\x7f" "ELF";
  auto r = Run({"x.elf", "-w", "gemm:M=8,N=8,K=8", "--model", model, "-t", "riscv64-linux"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: --target 'riscv64-linux' differs from the target model " + model +
                       " was trained on (x86_64-host)\n");
  r = Run({"x.elf", "-w", "gemm:M=8,N=8,K=8", "--model", model, "--sim", "qemu"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: --sim 'qemu' differs from the simulators model " + model +
                       " was trained with (fake)\n");
}

TEST_F(EstimateModelTest, PredictsWhatTheModelPredicts) {
  std::string model = SaveModel({"fake.log_insn_per_flop", "fake.mem_per_insn"}, false);
  fs::path elf = BuildGemm("gemm:M=8,N=8,K=8");
  auto r = Run({elf.string(), "-w", "gemm:M=8,N=8,K=8", "--model", model, "--json", "out.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row = ReadJson(dir_ / "out.json")["results"][0];
  ASSERT_EQ(row["status"], "ok") << row.dump(1);
  EXPECT_EQ(row["unit"], "ns");

  auto sim = Simulators().Create("fake", "");
  auto target = LoadTarget("x86_64-host");
  SimResult s = (*sim)->Simulate(ArtifactOf(elf), *target);
  auto workload = ParseWorkload("gemm:M=8,N=8,K=8");
  FeatureOptions fo;
  fo.relative = false;
  FeatureInput in;
  in.group = -1;
  in.y = std::nan("");
  in.features = ExtractFeatures({{"fake", s.stats}}, *workload, Config{}, 2.0 * 8 * 8 * 8, fo);
  auto loaded = LoadTrainedModel(model);
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  auto want = loaded->predictor->Predict(BuildDataset({in}, loaded->predictor->feature_names(), false));
  ASSERT_TRUE(want.ok()) << want.message();
  EXPECT_NEAR(row["predicted"].get<double>(), (*want)[0], 1e-9 * std::abs((*want)[0]));
  EXPECT_NEAR(row["predicted_s"].get<double>(), 1e-9 * (*want)[0], 1e-18 * std::abs((*want)[0]));
}

}  // namespace
}  // namespace simtune
