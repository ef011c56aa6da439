// `simtune tune --drive reference` (issue 13): the measure-every-trial baseline. The strategy
// is driven by reference measurements, one candidate at a time, on the real binary with real
// host builds and the native reference; nothing is simulated or predicted, the trace has a
// point per measurement (the report's tuning curve), and a rerun answers from the store.
#include <cmath>
#include <iterator>

#include "simtune/store.h"
#include "tests/tune/tune_helpers.h"

namespace simtune::tune_test {
namespace {

// REP scales the work 1x..8x, so that the fastest candidate is REP=1 by far more than the
// native reference's noise; MODE 1 does not compile (a failed row, never measured).
void WriteScaledSpec(const fs::path& dir) {
  std::ofstream(dir / "kernel.c") << R"(void simtune_kernel(float *const *bufs) {
#if MODE == 1
  this is not C;
#endif
  for (int r = 0; r < REP; ++r)
    for (long i = 0; i < N; ++i) bufs[1][i] = 3.0f * bufs[0][i] + (float)r * 0.0f;
}
)";
  std::ofstream(dir / "ref.c") << R"(void simtune_reference(float *const *bufs) {
  for (long i = 0; i < N; ++i) bufs[1][i] = 3.0f * bufs[0][i];
}
)";
  std::ofstream(dir / "spec.json") << R"({
  "name": "scaled", "source": "kernel.c", "reference": "ref.c",
  "buffers": [{"name": "x", "elements": 8192, "output": false},
              {"name": "out", "elements": 8192, "output": true}],
  "params": {"MODE": [0, 1], "REP": [1, 2, 4, 8]}, "restrictions": [], "defines": {"N": 8192},
  "tolerance": {"rel": 1e-6, "abs": 1e-6}, "flops": 8192
})";
}

std::vector<std::string> MeasureArgs(const fs::path& dir, const std::string& db) {
  return {Simtune(), "tune", "custom:spec=" + (dir / "spec.json").string(), "--target", "x86_64-host",
          "--drive", "reference", "--budget", "8", "--batch", "3", "--strategy", "evolutionary",
          "--top", "3", "-j", "2", "--db", db, "--cache", "cache", "--ref-options",
          "rounds=2,reps=3,min_rep_ns=20000"};
}

TEST_F(TuneTest, MeasureEveryTrialDrivesTheStrategyByReferenceMeasurements) {
  WriteScaledSpec(dir_);
  auto r = Run(MeasureArgs(dir_, "t.db"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(": 8 candidates (0 from the store, 8 run now), ok 4, failed at build 4\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("driven by measurements on native (rounds=2,reps=3,min_rep_ns=20000,value=min), one at a time: "
                       "4 measured now"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("the fastest 3 of 4 measured:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("best measured: MODE=0,REP=1  "), std::string::npos) << r.out;

  auto store = Export("t.db");
  EXPECT_TRUE(store["sim_results"].empty()) << "nothing is simulated";
  EXPECT_TRUE(store["predictions"].empty()) << "nothing is predicted";
  ASSERT_EQ(store["ref_results"].size(), 4u) << "every candidate that built, once";
  double fastest = INFINITY;
  for (const auto& ref : store["ref_results"]) {
    EXPECT_EQ(ref["status"], "ok");
    fastest = std::min(fastest, ref["value"].get<double>());
  }

  // The trace: one point per measurement, best so far never rising, ending at the fastest.
  auto opened = Store::Open(dir_ / "t.db");
  ASSERT_TRUE(opened.ok()) << opened.message();
  auto& s = **opened;
  auto wid = s.FindWorkload(store["workloads"][0]["key"].get<std::string>());
  ASSERT_TRUE(wid.ok() && wid->has_value());
  auto runs = s.TuneRuns(**wid, "x86_64-host");
  ASSERT_TRUE(runs.ok()) << runs.message();
  ASSERT_EQ(runs->size(), 1u);
  const auto& run = (*runs)[0];
  auto settings = nlohmann::json::parse(run.settings_json);
  EXPECT_EQ(settings["drive"], "reference");
  EXPECT_EQ(run.verified_unit, "ns");
  size_t measure_points = 0;
  double previous = INFINITY;
  for (const auto& p : run.points) {
    EXPECT_TRUE(std::isnan(p.best_predicted)) << "a measurement is not a prediction";
    if (p.phase != "measure") continue;
    ++measure_points;
    EXPECT_LE(p.best_verified, previous);
    previous = p.best_verified;
  }
  EXPECT_EQ(measure_points, 4u);
  EXPECT_EQ(run.points.back().best_verified, fastest);

  // The report's tuning curve names what drove the run.
  auto report = Run({Simtune(), "report", "custom:spec=" + (dir_ / "spec.json").string(), "--target", "x86_64-host",
                     "--db", "t.db", "--html", "r.html"});
  ASSERT_EQ(report.exit_code, 0) << report.out << report.err;
  std::ifstream html_file(dir_ / "r.html");
  std::string html((std::istreambuf_iterator<char>(html_file)), std::istreambuf_iterator<char>());
  EXPECT_NE(html.find(", measure every trial on native, evolutionary, budget 8)"), std::string::npos);

  // Resumable like any tune: the same command measures nothing again.
  r = Run(MeasureArgs(dir_, "t.db"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(": 8 candidates (8 from the store, 0 run now)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("one at a time: 0 measured now"), std::string::npos) << r.out;
  EXPECT_EQ(Export("t.db")["ref_results"].size(), 4u);
}

TEST_F(TuneTest, MeasureEveryTrialRefusesWhatItWouldNotUse) {
  auto r = Run({Simtune(), "tune", "gemm:M=8,N=8,K=8", "--budget", "4", "--drive", "board"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: unknown drive 'board'; valid: simulate, reference\n");
  r = Run({Simtune(), "tune", "gemm:M=8,N=8,K=8", "--budget", "4", "--drive", "reference", "--sim", "fake"});
  EXPECT_EQ(r.err, "error: --sim 'fake' has no use with --drive reference: nothing is simulated\n");
  r = Run({Simtune(), "tune", "gemm:M=8,N=8,K=8", "--budget", "4", "--drive", "reference", "--model", "m.json"});
  EXPECT_EQ(r.err, "error: --model 'm.json' has no use with --drive reference: every candidate is measured\n");
  r = Run({Simtune(), "tune", "gemm:M=8,N=8,K=8", "--budget", "4", "--drive", "reference", "--target",
           "riscv64-linux"});
  EXPECT_EQ(r.err, "error: target 'riscv64-linux' has no reference to measure on; pass --ref\n");
}

}  // namespace
}  // namespace simtune::tune_test
