// The HTML report: its document from a store with known results, and the page rendered by a
// real headless Chromium (Debian's chromium; scripts/setup installs it): every plot drawn as
// SVG, no script error.
#include "simtune/report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "simtune/process.h"
#include "simtune/reference.h"
#include "simtune/simulator.h"
#include "simtune/target.h"
#include "simtune/workload.h"
#include "tests/support/scratch_test.h"

namespace simtune::report {
namespace {

using nlohmann::json;

constexpr const char* kGemm = "gemm:M=64,N=64,K=64";
constexpr const char* kTarget = "x86_64-host";

// $SIMTUNE_CHROMIUM, else Debian's chromium (or another Chromium) in /usr/bin or
// /usr/local/bin; "" when there is none.
std::string FindChromium() {
  if (const char* c = std::getenv("SIMTUNE_CHROMIUM"); c && *c) return std::filesystem::exists(c) ? c : "";
  for (const auto& dir : {"/usr/bin", "/usr/local/bin"})
    for (const auto& name : {"chromium", "chromium-browser", "google-chrome"}) {
      std::filesystem::path p = std::filesystem::path(dir) / name;
      if (std::filesystem::exists(p)) return p.string();
    }
  return "";
}

std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string Attribute(const std::string& dom, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex("<body[^>]*\\s" + name + "=\"([^\"]*)\""))) return "<missing>";
  return m[1];
}

class ReportTest : public testing_support::ScratchTest {
 protected:
  ReportTest() : ScratchTest("simtune_report_", /*keep_on_failure=*/true) {}

  void SetUp() override {
    ScratchTest::SetUp();
    db_ = dir_ / "r.db";
    auto store = Store::Open(db_);
    ASSERT_TRUE(store.ok()) << store.message();
    store_ = std::move(store).value();
    auto ref = References().Create("native", "");
    ASSERT_TRUE(ref.ok()) << ref.message();
    ref_options_ = (*ref)->options_key();
  }

  // A gemm with `n` candidates: candidate i runs 1000 * (1 + i) ns, except that candidate 3
  // is the fastest (500 ns); the model predicts 1000 * (1 + i) ns for every i, so it ranks
  // the true best 4th. Candidate i's round spread is 1 % + i * spread_step.
  void AddGemm(size_t n, double spread_step) { AddRows(kGemm, n, spread_step); }

  static nlohmann::json QemuConfiguration() {
    auto target = LoadTarget(kTarget);
    auto qemu = Simulators().Create("qemu", std::string());
    if (!target.ok() || !qemu.ok()) {
      ADD_FAILURE() << (target.ok() ? qemu.message() : target.message());
      return nlohmann::json::object();
    }
    return (*qemu)->ConfigurationFor(*target);
  }

  void AddRows(const std::string& workload, size_t n, double spread_step) {
    ids_.clear();
    auto w = ParseWorkload(workload);
    ASSERT_TRUE(w.ok()) << w.message();
    auto space = MakeSpace(*w);
    ASSERT_TRUE(space.ok());
    auto wid = store_->AddWorkload(*w);
    ASSERT_TRUE(wid.ok()) << wid.message();
    wid_ = *wid;
    auto configs = (*space)->Sample(n, 3);
    ASSERT_EQ(configs.size(), n);
    for (size_t i = 0; i < n; ++i) {
      auto cid = store_->AddCandidate(wid_, FormatConfig(configs[i], (*space)->knobs()));
      ASSERT_TRUE(cid.ok()) << cid.message();
      ids_.push_back(*cid);
      Artifact a;
      a.target = kTarget;
      a.hash = "hash" + std::to_string(i);
      a.status = "ok";
      a.flops = 2.0 * 64 * 64 * 64;
      ASSERT_TRUE(store_->AddArtifact(*cid, a).ok());
      SimStats st;
      st.simulator = "qemu";
      st.insn_count = 100000 + 1000 * i;
      st.classes = {{"int_alu", 40000}, {"load", 30000 + 1000 * i}, {"store", 10000}, {"simd", 20000}};
      st.loads = 30000;
      st.stores = 10000;
      st.caches = {{"l1d", 50000, 100 * (i + 1), 10000, 10}, {"l2", 100, 10, 10, 1}};
      st.branches = 5000;
      st.branch_mispredicts = 50 + i;
      // The configuration the target's qemu records carry (its core's dependency timing
      // models): without it a record is stale and eval leaves it out.
      st.extra = QemuConfiguration();
      SimRow s;
      s.candidate_id = *cid;
      s.target = kTarget;
      s.simulator = "qemu";
      s.artifact_hash = a.hash;
      s.status = "ok";
      s.stats_json = st.ToJson().dump();
      ASSERT_TRUE(store_->AddSimResult(s).ok());
      RefRow r;
      r.candidate_id = *cid;
      r.target = kTarget;
      r.reference = "native";
      r.options = ref_options_;
      r.artifact_hash = a.hash;
      r.result.status = "ok";
      r.result.unit = "ns";
      r.result.value = i == 3 ? 500 : 1000.0 * (1 + i);
      r.result.spread = 0.01 + spread_step * static_cast<double>(i);
      r.result.rounds = 5;
      r.result.reps = 50;
      ASSERT_TRUE(store_->AddRefResult(r).ok());
      PredictionRow p;
      p.candidate_id = *cid;
      p.target = kTarget;
      p.model = "model.json";
      p.score = 1000.0 * (1 + i);
      p.unit = "ns";
      ASSERT_TRUE(store_->AddPrediction(p).ok());
    }
    TuneRunRow run;
    run.workload_id = wid_;
    run.target = kTarget;
    run.started = "2026-01-02T03:04:05Z";
    run.settings_json = R"({"strategy": "model-guided", "budget": 8})";
    run.predicted_unit = "ns";
    run.verified_unit = "ns";
    const double nan = std::nan("");
    run.points = {{0.5, 4, "calibrate", 2000, ids_[1], 1000, ids_[0]},
                  {1.5, 8, "search", 1000, ids_[0], 1000, ids_[0]},
                  {2.0, 8, "verify", 900, ids_[0], 500, ids_[3]},
                  {2.5, 8, "verify", nan, 0, nan, 0}};
    ASSERT_TRUE(store_->AddTuneRun(run).ok());
  }

  ReportOptions Options() {
    ReportOptions o;
    o.workloads = {kGemm};
    o.top = 3;
    return o;
  }

  std::filesystem::path db_;
  std::unique_ptr<Store> store_;
  std::string ref_options_;
  int64_t wid_ = 0;
  std::vector<int64_t> ids_;
};

TEST_F(ReportTest, DocumentHoldsRankMetricsNoiseTuneRunsAndStatistics) {
  AddGemm(8, 0.0);
  auto doc = CollectReport(*store_, Options());
  ASSERT_TRUE(doc.ok()) << doc.message();
  ASSERT_EQ((*doc)["workloads"].size(), 1u);
  const json& w = (*doc)["workloads"][0];
  EXPECT_EQ(w["measured"], 8);
  EXPECT_EQ(w["best"]["candidate_id"], ids_[3]);
  const json& a = w["accuracy"];
  EXPECT_EQ(a["model"], "model.json");
  EXPECT_EQ(a["unit"], "ns");
  EXPECT_EQ(a["true_best"]["candidate_id"], ids_[3]);
  EXPECT_EQ(a["true_best"]["predicted_rank"], 4) << "three candidates are predicted faster than it";
  EXPECT_EQ(a["predicted_best"]["candidate_id"], ids_[0]);
  EXPECT_DOUBLE_EQ(a["regret"].get<double>(), 1000.0 / 500.0);
  EXPECT_DOUBLE_EQ(a["top_k_percent"].get<double>(), 100.0 * 4 / 8);
  ASSERT_EQ(a["points"].size(), 8u);
  size_t marked = 0;
  for (const auto& p : a["points"]) marked += p["role"] != "candidate";
  EXPECT_EQ(marked, 2u);
  // Spread 1 % everywhere, so candidate 0 (1000 ns) lies outside 1 % of the best (500 ns).
  EXPECT_EQ(w["noise"]["within_noise_of_best"], 1);
  EXPECT_FALSE(w["noise"]["untrustworthy"].get<bool>());
  ASSERT_EQ(w["tune_runs"].size(), 1u);
  EXPECT_EQ(w["tune_runs"][0]["points"].size(), 4u);
  EXPECT_TRUE(w["tune_runs"][0]["points"][3]["best_verified"].is_null()) << "NaN is 'nothing yet'";
  EXPECT_EQ(w["stats"]["order"], "measured");
  EXPECT_EQ(w["stats"]["table"].size(), 3u) << "--compare 3 candidates";
  EXPECT_EQ(w["stats"]["table"][0]["candidate"], "measured #1 (id " + std::to_string(ids_[3]) + ")");
  for (const char* plot : {"scatter", "tune", "stats"}) EXPECT_TRUE(w["plots"].contains(plot)) << plot;
  EXPECT_EQ((*doc)["noise_plot"].get<std::string>(), "plot-noise");
  EXPECT_EQ((*doc)["plots"].size(), 4u);
}

TEST_F(ReportTest, NoisyWorkloadIsFlagged) {
  AddGemm(6, 0.04);   // spreads 1 %, 5 %, ..., 21 %: median 13 %
  auto doc = CollectReport(*store_, Options());
  ASSERT_TRUE(doc.ok()) << doc.message();
  const json& n = (*doc)["workloads"][0]["noise"];
  EXPECT_TRUE(n["untrustworthy"].get<bool>());
  EXPECT_EQ(n["why"], "median round spread 13.0% is above the 5.0% threshold");
}

TEST_F(ReportTest, ACandidateWithinTheNoiseOfTheBestIsFlagged) {
  AddGemm(6, 0.0);   // spreads 1 %; the best runs 500 ns
  RefRow again;      // candidate 0 measured again: 505 ns, within 1 % of the best
  auto rows = store_->RefResults(wid_, kTarget);
  ASSERT_TRUE(rows.ok());
  for (const auto& r : *rows)
    if (r.candidate_id == ids_[0]) again = r;
  again.result.value = 505;
  ASSERT_TRUE(store_->AddRefResult(again).ok());
  auto doc = CollectReport(*store_, Options());
  ASSERT_TRUE(doc.ok()) << doc.message();
  const json& n = (*doc)["workloads"][0]["noise"];
  EXPECT_EQ(n["within_noise_of_best"], 2);
  EXPECT_TRUE(n["untrustworthy"].get<bool>());
  EXPECT_EQ(n["why"], "1 other candidate is within the median round spread (1.0%) of the best: which is the true best is noise");
}

TEST_F(ReportTest, MissingPartsAreNotesNotErrors) {
  auto w = ParseWorkload(kGemm);
  ASSERT_TRUE(w.ok());
  auto space = MakeSpace(*w);
  ASSERT_TRUE(space.ok());
  auto wid = store_->AddWorkload(*w);
  ASSERT_TRUE(wid.ok());
  auto config = (*space)->Sample(1, 1);
  ASSERT_EQ(config.size(), 1u);
  ASSERT_TRUE(store_->AddCandidate(*wid, FormatConfig(config[0], (*space)->knobs())).ok());
  auto doc = CollectReport(*store_, Options());
  ASSERT_TRUE(doc.ok()) << doc.message();
  const json& x = (*doc)["workloads"][0];
  EXPECT_EQ(x["measured"], 0);
  EXPECT_FALSE(x["accuracy"].contains("points"));
  EXPECT_TRUE(x["plots"].empty());
  auto html = RenderHtml(*doc);
  ASSERT_TRUE(html.ok()) << html.message();
  EXPECT_NE(html->find("No predictions stored for this workload: run <code>simtune predict</code>"), std::string::npos);
  EXPECT_NE(html->find("No tune run stored for this workload: run <code>simtune tune</code>"), std::string::npos);
}

TEST_F(ReportTest, ErrorsNameTheValue) {
  AddGemm(4, 0.0);
  ReportOptions o = Options();
  o.workloads.clear();
  EXPECT_EQ(CollectReport(*store_, o).message(), "report: name at least one workload");
  o = Options();
  o.model = "other.json";
  EXPECT_EQ(CollectReport(*store_, o).message(),
            "--model 'other.json': no predictions of it for gemm:M=64,N=64,K=64 on x86_64-host; stored: model.json");
  o = Options();
  o.eval_json = (dir_ / "nope.json").string();
  EXPECT_EQ(CollectReport(*store_, o).message(), "--eval '" + o.eval_json + "': cannot read the file");
  std::ofstream(dir_ / "bad.json") << R"({"rows": 3})";
  o.eval_json = (dir_ / "bad.json").string();
  EXPECT_EQ(CollectReport(*store_, o).message(),
            "--eval '" + o.eval_json + "': not a `simtune eval --json` document (no \"results\" array)");
  auto doc = CollectReport(*store_, Options());
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(RenderHtml(*doc, dir_ / "no-vega").message(),
            "report: cannot read the plotting library " + (dir_ / "no-vega" / "vega.min.js").string() +
                " (vendored under third_party/vega; set SIMTUNE_VEGA_DIR to its folder)");
}

// The page in a real browser: every plot rendered as SVG, no script error, no network.
TEST_F(ReportTest, RendersInHeadlessChromium) {
  std::string chromium = FindChromium();
  ASSERT_FALSE(chromium.empty()) << "chromium not found (/usr/bin/chromium, or $SIMTUNE_CHROMIUM): install "
                                    "Debian's chromium (scripts/setup installs it)";
  AddGemm(12, 0.003);
  std::ofstream(dir_ / "eval.json") << json{
      {"verify_k", 5},
      {"results",
       {{{"predictor", "ridge"}, {"protocol", "kfold"}, {"options", ""},
         {"per_workload", {{{"workload", kGemm}, {"candidates", 12}, {"top_k_percent", 8.3}, {"regret", 1.02},
                            {"regret_verify_top_k", 1.0}, {"spearman", 0.9}, {"kendall_tau_b", 0.8},
                            {"ndcg_at_k", 0.95}, {"mape", 0.1}}}}},
        {{"predictor", "insn-count"}, {"protocol", "kfold"}, {"options", ""},
         {"per_workload", {{{"workload", kGemm}, {"candidates", 12}, {"top_k_percent", 25.0}, {"regret", 1.3},
                            {"regret_verify_top_k", 1.1}, {"spearman", 0.5}, {"kendall_tau_b", 0.4},
                            {"ndcg_at_k", 0.7}, {"mape", nullptr}}}}},
        {{"predictor", "gp"}, {"protocol", "lowo"}, {"error", "feature 'x' is missing"}}}}};
  ReportOptions o = Options();
  o.eval_json = (dir_ / "eval.json").string();
  auto doc = CollectReport(*store_, o);
  ASSERT_TRUE(doc.ok()) << doc.message();
  auto html = RenderHtml(*doc);
  ASSERT_TRUE(html.ok()) << html.message();
  std::ofstream(dir_ / "report.html") << *html;
  for (const char* fetch : {"<script src", "<link", "sourceMappingURL"})
    EXPECT_EQ(html->find(fetch), std::string::npos) << "the page fetches nothing: " << fetch;
  size_t plots = (*doc)["plots"].size();
  EXPECT_EQ(plots, 5u) << "scatter, tune curve, statistics, noise, eval";

  // One browser run both dumps the rendered DOM and takes a screenshot.
  std::filesystem::path png = dir_ / "report.png";
  std::vector<std::string> argv = {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                   "--disable-extensions", "--enable-logging=stderr", "--v=0",
                                   "--host-resolver-rules=MAP * ~NOTFOUND",
                                   "--virtual-time-budget=10000", "--user-data-dir=" + (dir_ / "profile").string(),
                                   "--window-size=1280,3400", "--screenshot=" + png.string(), "--dump-dom",
                                   "file://" + (dir_ / "report.html").string()};
  ProcessOptions po;
  po.cwd = dir_;
  po.timeout_s = 120;
  po.max_output_bytes = 64 << 20;   // the page inlines ~1 MB of libraries
  auto r = RunProcess(argv, po);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->exit_code, 0) << r->err;
  const std::string& dom = r->out;
  EXPECT_EQ(Attribute(dom, "data-plots"), std::to_string(plots));
  EXPECT_EQ(Attribute(dom, "data-rendered"), std::to_string(plots)) << r->err;
  EXPECT_EQ(Attribute(dom, "data-errors"), "0") << r->err;
  EXPECT_EQ(Attribute(dom, "data-script-errors"), "0") << r->err;
  EXPECT_EQ(Count(dom, "class=\"marks\""), plots) << "one SVG per plot";
  EXPECT_EQ(Count(dom, "<p class=\"plot-error\""), 0u) << "no plot failed";
  EXPECT_EQ(Count(dom, "<pre class=\"plot-error\""), 0u) << "no script error";
  for (const char* text : {"Predicted vs measured", "measured run time (ns)", "predicted run time (ns)",
                           "true best", "predicted best", "Best verified vs wall time",
                           "wall time since the tune started (s)", "Instruction mix (qemu)", "Misses per 1000 instructions (qemu)",
                           "Reference noise", "Top-k % per predictor", "rank 4 of 12"})
    EXPECT_NE(dom.find(text), std::string::npos) << "missing: " << text;
  EXPECT_EQ(r->err.find("Uncaught"), std::string::npos) << r->err;
  // A plot goes into its own element, never over a section (a plot id equal to a section id
  // once drew the noise plot over its heading and table).
  for (const char* kept : {"<h2>Reference noise</h2>", "<th>within noise of the best (itself included)</th>",
                           "<h2>Predictor evaluation</h2>", "<th>Kendall τb</th>"})
    EXPECT_NE(dom.find(kept), std::string::npos) << "missing: " << kept;

  ASSERT_TRUE(std::filesystem::exists(png)) << r->err;
  EXPECT_GT(std::filesystem::file_size(png), 50000u) << "a page of plots, not a blank one";
  if (const char* keep = std::getenv("SIMTUNE_REPORT_SCREENSHOT"); keep && *keep)
    std::filesystem::copy_file(png, keep, std::filesystem::copy_options::overwrite_existing);
}

// The CLI writes the page and says where; --eval without --html is refused.
TEST_F(ReportTest, CliWritesThePage) {
  AddGemm(5, 0.0);
  store_.reset();
  auto r = RunSimtune({"report", kGemm, "--db", db_.string(), "--html", "out/report.html"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "wrote out/report.html: 1 workloads, 4 plots\n");
  EXPECT_TRUE(std::filesystem::exists(dir_ / "out" / "report.html"));
  r = RunSimtune({"report", kGemm, "--db", db_.string(), "--eval", "e.json"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, "error: report: --eval and --model need --html FILE\n");
}

// README.md's report block, run as written in a folder whose simtune.db holds both workloads.
TEST_F(ReportTest, ReadmeReportBlockRuns) {
  std::string readme = ReadText(std::filesystem::path(SIMTUNE_TEST_SOURCE_DIR) / "README.md");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(readme, m, std::regex("<!-- report-example[^>]*-->\\s*```\\n([^`]*)```")))
      << "README.md has no ``` block after <!-- report-example -->";
  std::string block = m[1];
  store_.reset();
  std::filesystem::rename(db_, dir_ / "simtune.db");
  db_ = dir_ / "simtune.db";
  auto store = Store::Open(db_);
  ASSERT_TRUE(store.ok()) << store.message();
  store_ = std::move(store).value();
  AddRows("gemm:M=128,N=128,K=128", 10, 0.002);
  AddRows("resnet20.conv3_x", 10, 0.002);
  store_.reset();
  ProcessOptions po;
  po.cwd = dir_;
  po.timeout_s = 240;
  po.extra_env["PATH"] = std::string(SIMTUNE_TEST_BINARY_DIR) + ":" + std::getenv("PATH");
  auto r = RunProcess({"bash", "-euo", "pipefail", "-c", block}, po);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->exit_code, 0) << block << "\n" << r->out << r->err;
  EXPECT_NE(r->out.find("wrote out/report.html: 2 workloads, "), std::string::npos) << r->out;
  std::string html = ReadText(dir_ / "out" / "report.html");
  EXPECT_NE(html.find("<h2>Predictor evaluation</h2>"), std::string::npos);
  EXPECT_NE(html.find("\"plot-eval-topk\""), std::string::npos) << "the top-k % plot";
}

}  // namespace
}  // namespace simtune::report
