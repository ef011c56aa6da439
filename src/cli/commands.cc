// Subcommands of the simtune CLI: flags -> options -> a job of pipeline.h -> printed result.
// Each job validates its inputs (Prepare) before the store is opened, so that a typo fails
// before any work starts; the job records every attempt in the store so that re-running the
// same command resumes.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "simtune/build.h"
#include "simtune/cli.h"
#include "simtune/features.h"
#include "simtune/pipeline.h"
#include "simtune/predictor.h"
#include "simtune/reference.h"
#include "simtune/report.h"
#include "simtune/simulator.h"
#include "simtune/store.h"
#include "simtune/strings.h"
#include "simtune/target.h"
#include "simtune/workload.h"
#include "src/cli/subcommands.h"

namespace simtune {
namespace {

using cli::Fail;
using cli::kExitNothingSucceeded;
using cli::kExitStatusHelp;
using cli::Interactive;
using cli::PlainProgress;

using pipeline::Progress;
using pipeline::Selection;

void AddSelectionFlags(CLI::App* cmd, Selection& s) {
  cmd->add_option("workload", s.workload, "workload string or catalog name")->required();
  cmd->add_option("--sample", s.sample, "number of candidates drawn at random from the space")
      ->check(cli::NonNegativeInteger());
  cmd->add_option("--seed", s.seed, "seed of --sample")->check(cli::NonNegativeInteger());
  cmd->add_option("--config", s.configs, "explicit knob assignment (k=v,...); repeatable");
  cmd->add_flag("--all", s.all, "every valid candidate of the space");
}

std::string Fmt(double v, const char* fmt = "%.4g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// ---- list ----
int CmdList(const std::string& what) {
  if (what == "targets") {
    for (const auto& name : ListTargets()) {
      auto t = LoadTarget(name);
      std::printf("%-22s %s\n", name.c_str(), t.ok() ? t->description.c_str() : t.message().c_str());
    }
  } else if (what == "operators") {
    for (const auto& e : Operators().List()) std::printf("%-10s %s\n", e.name.c_str(), e.description.c_str());
  } else if (what == "workloads" || what == "shapes") {
    auto cat = LoadCatalog();
    if (!cat.ok()) return Fail(cat.message());
    for (const auto& e : *cat) std::printf("%-28s %s\n", e.name.c_str(), e.workload.c_str());
  } else if (what == "simulators") {
    for (const auto& e : Simulators().List()) std::printf("%-10s %s\n", e.name.c_str(), e.description.c_str());
  } else if (what == "references") {
    for (const auto& e : References().List()) std::printf("%-10s %s\n", e.name.c_str(), e.description.c_str());
  } else if (what == "predictors") {
    for (const auto& e : Predictors().List()) std::printf("%-10s %s\n", e.name.c_str(), e.description.c_str());
  } else {
    return Fail(UnknownName("list", what,
                            {"operators", "predictors", "references", "shapes", "simulators", "targets", "workloads"})
                    .message);
  }
  return 0;
}

// ---- space ----
int CmdSpace(const Selection& sel, bool count, size_t enumerate_limit) {
  auto c = pipeline::Choose(sel, false);
  if (!c.ok()) return Fail(c.message());
  const auto& knobs = c->space->knobs();
  if (count || (c->configs.empty() && enumerate_limit == 0)) {
    std::printf("workload   %s\n", c->workload.Key().c_str());
    for (const auto& k : knobs) {
      std::vector<std::string> vals;
      for (size_t i = 0; i < k.values.size(); ++i)
        vals.push_back(k.labels.empty() ? std::to_string(k.values[i]) : k.labels[i]);
      std::printf("knob       %-10s [%s]\n", k.name.c_str(), Join(vals, ", ").c_str());
    }
    std::printf("raw size   %llu\n", static_cast<unsigned long long>(c->space->RawSize()));
    std::printf("valid size %llu\n", static_cast<unsigned long long>(c->space->ValidSize()));
  }
  for (const auto& cfg : c->configs) std::printf("%s\n", FormatConfig(cfg, knobs).c_str());
  if (enumerate_limit > 0) {
    size_t n = 0;
    c->space->Enumerate([&](const Config& cfg) {
      std::printf("%s\n", FormatConfig(cfg, knobs).c_str());
      return ++n < enumerate_limit;
    });
  }
  return 0;
}

// ---- build ----
struct BuildFlags {
  Selection sel;
  std::string target = "x86_64-host";
  std::string db = "simtune.db";
  std::string cache = ".simtune-cache";
  int jobs = 0;
  bool no_verify = false;
  bool force = false;
};

int CmdBuild(const BuildFlags& f) {
  pipeline::BuildJobOptions o;
  o.selection = f.sel;
  o.target = f.target;
  o.cache = f.cache;
  o.jobs = f.jobs;
  o.verify = !f.no_verify;
  o.force = f.force;
  auto job = pipeline::BuildJob::Prepare(o);
  if (!job.ok()) return Fail(job.message());
  auto store = Store::Open(f.db);
  if (!store.ok()) return Fail(store.message());
  PlainProgress plain("build");
  auto r = job->Run(**store, [&](const Progress& p) {
    if (p.status != "ok")
      std::fprintf(stderr, "failed [%s] %s: %s\n", p.stage.c_str(), p.config.c_str(), p.message.c_str());
    plain.Update(p.done, p.total, p.failed);
  });
  if (!r.ok()) return Fail(r.message());
  size_t n = r->built.size();
  std::printf("built %zu candidates of %s for %s in %.1f s (%.2f/s; %zu from cache), %zu already in the store\n",
              n, r->workload.c_str(), r->target.c_str(), r->wall_s, r->wall_s > 0 ? n / r->wall_s : 0.0,
              r->cached, r->skipped);
  // "ok" means built and verified; an artifact nothing could run is not called ok.
  std::printf("ok %zu", r->ok);
  if (r->unverified > 0) std::printf(", built, not verified (no runner) %zu", r->unverified);
  for (const auto& [stage, k] : r->failed_by_stage) std::printf(", failed at %s %d", stage.c_str(), k);
  std::printf("\n");
  if (r->unverified > 0)
    std::printf("not verified at build (%s); a simulation runs such an artifact in full and checks its output\n",
                r->unverified_reason.c_str());
  return n > 0 && r->ok + r->unverified == 0 ? kExitNothingSucceeded : 0;
}

// ---- measure / report ----
struct MeasureFlags {
  std::string workload;
  std::string target = "x86_64-host";
  std::string ref = "native";
  std::string ref_options;
  std::string db = "simtune.db";
  bool force = false;
  size_t top = 20;
  size_t sample = 0;       // measure: only this many built candidates, a seeded random subset
  uint64_t seed = 1;
  std::string json;        // also write the ranking as JSON here ('-': stdout instead of the table)
};

// Candidates built earlier whose executables are gone: said, not recorded as failures.
std::string MissingExecutablesNote(size_t n) {
  return std::to_string(n) + " built candidate" + (n == 1 ? "'s executable is" : "s' executables are") +
         " gone (the artifact cache was pruned or cleared, or the store was built on another "
         "machine): not run; `simtune build` with the same arguments makes them again";
}

// The ranking as --json writes it: every measured candidate (not only --top), then the failed.
nlohmann::json RankingJson(const pipeline::MeasureJobResult& r) {
  nlohmann::json ranking = nlohmann::json::array(), failed = nlohmann::json::array();
  for (size_t i = 0; i < r.ranked.size(); ++i) {
    const auto& c = r.ranked[i];
    const RefResult& m = c.ref.result;
    nlohmann::json row{{"rank", i + 1},        {"candidate_id", c.candidate_id}, {"config", c.config},
                       {"value", m.value},     {"unit", m.unit},                 {"spread", m.spread},
                       {"rounds", m.rounds}};
    if (m.unit == "ns" && c.flops > 0) row["gflops"] = c.flops / m.value;
    ranking.push_back(std::move(row));
  }
  for (const auto& c : r.failed)
    failed.push_back({{"candidate_id", c.candidate_id}, {"config", c.config}, {"stage", c.ref.result.stage},
                      {"message", c.ref.result.message}});
  return {{"workload", r.workload}, {"target", r.target}, {"reference", r.reference},
          {"reference_options", r.reference_options}, {"ranking", ranking}, {"failed", failed}};
}

void PrintRanking(const std::vector<pipeline::RankedCandidate>& ok_rows,
                  const std::vector<pipeline::RankedCandidate>& failed, size_t top) {
  std::printf("%4s  %12s  %8s  %8s  %6s  %s\n", "rank", "time", "spread", "GFLOP/s", "rounds", "config");
  for (size_t i = 0; i < ok_rows.size() && i < top; ++i) {
    const auto& r = ok_rows[i];
    double t = r.ref.result.value;
    std::string unit = r.ref.result.unit;
    std::string shown = unit == "ns" ? (t >= 1e6 ? Fmt(t / 1e6, "%.3f") + " ms" : Fmt(t / 1e3, "%.2f") + " us")
                                     : Fmt(t, "%.0f") + " " + unit;
    std::string gflops = (unit == "ns" && r.flops > 0) ? Fmt(r.flops / t, "%.2f") : "-";
    std::printf("%4zu  %12s  %7.1f%%  %8s  %6d  %s\n", i + 1, shown.c_str(), 100 * r.ref.result.spread,
                gflops.c_str(), r.ref.result.rounds, r.config.c_str());
  }
  if (ok_rows.size() > top) std::printf("  ... %zu more\n", ok_rows.size() - top);
  for (const auto& r : failed)
    std::printf("failed [%s] %s: %s\n", r.ref.result.stage.c_str(), r.config.c_str(),
                r.ref.result.message.c_str());
  if (!ok_rows.empty()) {
    std::vector<double> spreads;
    for (const auto& r : ok_rows) spreads.push_back(r.ref.result.spread);
    std::sort(spreads.begin(), spreads.end());
    std::printf("%zu measured, %zu failed; spread between rounds: median %.1f%%, max %.1f%%\n",
                ok_rows.size(), failed.size(), 100 * spreads[spreads.size() / 2], 100 * spreads.back());
  }
}

int CmdMeasure(const MeasureFlags& f, bool measure) {
  pipeline::MeasureJobOptions o;
  o.workload = f.workload;
  o.target = f.target;
  o.reference = f.ref;
  o.reference_options = f.ref_options;
  o.measure = measure;
  o.force = f.force;
  o.sample = f.sample;
  o.seed = f.seed;
  auto job = pipeline::MeasureJob::Prepare(o);
  if (!job.ok()) return Fail(job.message());
  auto store = Store::Open(f.db, measure ? StoreMode::kExisting : StoreMode::kReadOnly);
  if (!store.ok()) return Fail(store.message());
  auto r = job->Run(**store, [](const Progress& p) {
    if (p.event == "measure" && Interactive())
      std::fprintf(stderr, "measuring %zu candidates with %s (%s)\n", p.total, p.reference.c_str(),
                   p.reference_options.c_str());
    if (p.event == "measured" && p.total > kMeasureChunk)
      std::fprintf(stderr, "measured %zu/%zu\n", p.done, p.total);   // a line per stored chunk
  });
  if (!r.ok()) return Fail(r.message());
  for (const auto& w : r->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (r->control.slow > 0)
    std::fprintf(stderr,
                 "%zu of %zu chunks read slow against their control (up to %.2fx its fastest: a slow spell on "
                 "this machine) and were measured again (%zu times); %zu still slow\n",
                 r->control.slow, r->control.chunks, r->control.worst_ratio, r->control.attempts,
                 r->control.still_slow);
  if (r->rereduced > 0)
    std::fprintf(stderr, "%zu results reduced again from stored runs of the same protocol (%s), not run again\n",
                 r->rereduced, r->rereduced_from.c_str());
  if (f.json != "-") {
    std::printf("%s on %s, reference %s (%s)\n", r->workload.c_str(), r->target.c_str(), r->reference.c_str(),
                r->reference_options.c_str());
    PrintRanking(r->ranked, r->failed, f.top);
  }
  if (r->missing > 0) std::fprintf(f.json == "-" ? stderr : stdout, "%s\n",
                                   MissingExecutablesNote(r->missing).c_str());
  if (!f.json.empty())
    if (int rc = cli::WriteJsonOutput(f.json, RankingJson(*r)); rc != 0) return rc;
  return measure && r->ranked.empty() && !r->failed.empty() ? kExitNothingSucceeded : 0;
}

// The text ranking of each workload, or (--html) the report page.
struct ReportFlags {
  std::vector<std::string> workloads;
  std::string html, eval, model;
  size_t compare = 5;
  double noise_threshold = 0.05;
};

int CmdReport(MeasureFlags f, const ReportFlags& r) {
  if (r.html.empty()) {
    if (!r.eval.empty() || !r.model.empty()) return Fail("report: --eval and --model need --html FILE");
    if (!f.json.empty() && r.workloads.size() > 1)
      return Fail("report: --json writes one workload's ranking; got " +
                  std::to_string(r.workloads.size()) + " workloads");
    int status = 0;
    for (size_t i = 0; i < r.workloads.size(); ++i) {
      if (i > 0) std::printf("\n");
      f.workload = r.workloads[i];
      status = std::max(status, CmdMeasure(f, false));
    }
    return status;
  }
  if (!f.json.empty()) return Fail("report: --json is for the text ranking; not with --html");
  report::ReportOptions o;
  o.workloads = r.workloads;
  o.target = f.target;
  o.reference = f.ref;
  o.reference_options = f.ref_options;
  o.model = r.model;
  o.eval_json = r.eval;
  o.top = r.compare;
  o.noise_threshold = r.noise_threshold;
  auto store = Store::Open(f.db, StoreMode::kReadOnly);
  if (!store.ok()) return Fail(store.message());
  auto doc = report::CollectReport(**store, o);
  if (!doc.ok()) return Fail(doc.message());
  auto html = report::RenderHtml(*doc);
  if (!html.ok()) return Fail(html.message());
  cli::CreateParentFolder(r.html);
  std::ofstream file(r.html, std::ios::binary | std::ios::trunc);
  file << *html;
  file.close();
  if (!file) return Fail("report: cannot write '" + r.html + "'");
  std::printf("wrote %s: %zu workloads, %zu plots\n", r.html.c_str(), (*doc)["workloads"].size(),
              (*doc)["plots"].size());
  return 0;
}

// ---- simulate ----
struct SimulateFlags {
  std::string workload;
  std::string target = "x86_64-host";
  std::string sim = "qemu";
  std::string sim_options;
  std::string db = "simtune.db";
  int jobs = 0;
  bool force = false;
};

int CmdSimulate(const SimulateFlags& f) {
  pipeline::SimulateJobOptions o;
  o.workload = f.workload;
  o.target = f.target;
  o.simulator = f.sim;
  o.simulator_options = f.sim_options;
  o.jobs = f.jobs;
  o.force = f.force;
  auto job = pipeline::SimulateJob::Prepare(o);
  if (!job.ok()) return Fail(job.message());
  auto store = Store::Open(f.db, StoreMode::kExisting);
  if (!store.ok()) return Fail(store.message());
  PlainProgress plain("simulate");
  auto r = job->Run(**store, [&](const Progress& p) {
    if (p.event == "finished") {
      if (Interactive()) std::fprintf(stderr, "\n");
      return;
    }
    if (p.status != "ok")
      std::fprintf(stderr, "failed [%s] candidate %lld: %s\n", p.stage.c_str(),
                   static_cast<long long>(p.candidate_id), p.message.c_str());
    if (Interactive())
      std::fprintf(stderr, "\r%zu/%zu simulated, %zu failed, eta %.0f s   ", p.done, p.total, p.failed, p.eta_s);
    plain.Update(p.done, p.total, p.failed, p.eta_s);
  });
  if (!r.ok()) return Fail(r.message());
  size_t n = r->rows.size();
  std::printf("simulated %zu candidates of %s on %s with %s in %.1f s (-j %d), %zu already in the store, %zu not built\n",
              n, r->workload.c_str(), r->target.c_str(), r->simulator.c_str(), r->wall_s, r->jobs,
              r->skipped, r->unbuilt);
  if (r->missing > 0)
    std::printf("%s\n", MissingExecutablesNote(r->missing).c_str());
  if (r->stale > 0)
    std::printf("%zu candidates' stored statistics came from another cache, branch predictor or core "
                "configuration than target %s now gives: simulated again\n",
                r->stale, r->target.c_str());
  size_t failed = 0;
  for (const auto& kv : r->failed_by_stage) failed += kv.second;
  std::printf("ok %zu", n - failed);
  for (const auto& [stage, k] : r->failed_by_stage) std::printf(", failed at %s %d", stage.c_str(), k);
  if (r->sim_wall_s > 0)
    std::printf("; %.1f simulated MIPS per simulator process", r->insn_count / r->sim_wall_s / 1e6);
  std::printf("\n");
  return n > 0 && failed == n ? kExitNothingSucceeded : 0;
}

// ---- export ----
int CmdExport(const std::string& db, const std::string& csv_dir, const std::string& json_file,
              const std::string& target) {
  if (csv_dir.empty() == json_file.empty()) return Fail("export: pass exactly one of --csv DIR or --json FILE");
  if (!std::filesystem::exists(db)) return Fail("store '" + db + "' does not exist");
  auto store = Store::Open(db, StoreMode::kReadOnly);
  if (!store.ok()) return Fail(store.message());
  if (!csv_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(csv_dir, ec);
    if (ec) return Fail("cannot create '" + csv_dir + "': " + ec.message());
    auto s = (*store)->ExportCsv(csv_dir);
    if (!s.ok()) return Fail(s.message());
    pipeline::TableOptions to;
    to.target = target;
    auto records = pipeline::LoadCandidateTable(**store, to);
    if (!records.ok()) return Fail(records.message());
    std::filesystem::path tidy = std::filesystem::path(csv_dir) / "tidy.csv";
    std::ofstream out(tidy, std::ios::binary | std::ios::trunc);
    out << pipeline::CandidateTableCsv(*records, target);
    out.close();
    if (!out) return Fail("export: cannot write '" + tidy.string() + "'");
    std::printf("wrote CSV tables to %s (tidy.csv: a row per candidate on %s)\n", csv_dir.c_str(),
                target.c_str());
  } else {
    auto j = (*store)->ExportJson();
    if (!j.ok()) return Fail(j.message());
    if (json_file == "-") {
      std::printf("%s\n", j->c_str());
    } else {
      std::ofstream out(json_file);
      out << *j << "\n";
      if (!out) return Fail("cannot write '" + json_file + "'");
      std::printf("wrote %s\n", json_file.c_str());
    }
  }
  return 0;
}

// `simtune --version`: the release and the versions of what outlives a run.
std::string VersionText() {
  return std::string("simtune ") + SIMTUNE_VERSION + " (store schema " + std::to_string(kStoreSchemaVersion) +
         ", feature schema " + std::to_string(kFeatureSchemaVersion) + ")";
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"simtune: autotune ML operators for CPUs using instruction-accurate simulators"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for all subcommands");
  app.set_version_flag("--version", VersionText());
  // --help shows each option's default ("--top UINT=20"), for the options added below.
  app.option_defaults()->always_capture_default();
  app.footer(kExitStatusHelp);
  app.failure_message([](const CLI::App* a, const CLI::Error& e) {
    return "error: " + CLI::FailureMessage::simple(a, e);
  });

  std::string list_what;
  auto* list = app.add_subcommand("list", "list targets, workloads (catalog shapes), operators, simulators, references, predictors");
  list->add_option("what", list_what, "targets|workloads|shapes|operators|simulators|references|predictors")->required();

  Selection space_sel;
  bool space_count = false;
  size_t space_enum = 0;
  auto* space = app.add_subcommand("space", "show a workload's search space: knobs, size, samples");
  AddSelectionFlags(space, space_sel);
  space->add_flag("--count", space_count, "print knobs and the raw and valid sizes");
  space->add_option("--enumerate", space_enum, "print the first N valid candidates")
      ->check(cli::NonNegativeInteger());

  BuildFlags bf;
  auto* build = app.add_subcommand("build", "generate, compile and verify candidates for a target");
  AddSelectionFlags(build, bf.sel);
  build->add_option("--target,-t", bf.target, "target name or .json file");
  build->add_option("--db", bf.db, "store file");
  build->add_option("--cache", bf.cache, "artifact cache folder");
  build->add_option("-j,--jobs", bf.jobs, "parallel compiler jobs (default: cores)")
      ->check(cli::NonNegativeInteger());
  build->add_flag("--no-verify", bf.no_verify, "skip running each artifact once to check its output");
  build->add_flag("--force", bf.force, "rebuild candidates that already have an artifact in the store");

  MeasureFlags mf;
  auto* measure = app.add_subcommand("measure", "measure a workload's built candidates on a reference");
  measure->add_option("workload", mf.workload, "workload string or catalog name")->required();
  measure->add_option("--target,-t", mf.target, "target name or .json file");
  measure->add_option("--ref", mf.ref, "reference name (see `simtune list references`)");
  measure->add_option("--ref-options", mf.ref_options, "reference options, key=value,...");
  measure->add_option("--db", mf.db, "store file");
  measure->add_option("--top", mf.top, "rows of the ranking to print")
      ->check(cli::NonNegativeInteger());
  measure->add_option("--json", mf.json, "also write the whole ranking as JSON to this file ('-': stdout, no table)");
  measure->add_flag("--force", mf.force, "measure again candidates that already have a result");
  measure->add_option("--sample", mf.sample, "measure only N built candidates, a seeded random subset (calibration)")
      ->check(cli::NonNegativeInteger());
  measure->add_option("--seed", mf.seed, "seed of --sample")->check(cli::NonNegativeInteger());

  MeasureFlags rf;
  ReportFlags rh;
  auto* report = app.add_subcommand("report", "rank workloads' candidates by stored reference results; --html: "
                                              "one self-contained page of plots");
  report->add_option("workload", rh.workloads, "workload strings or catalog names")->required();
  report->add_option("--target,-t", rf.target, "target name or .json file");
  report->add_option("--ref", rf.ref, "reference name");
  report->add_option("--ref-options", rf.ref_options, "reference options, key=value,...");
  report->add_option("--db", rf.db, "store file");
  report->add_option("--top", rf.top, "rows of the ranking to print")->check(cli::NonNegativeInteger());
  report->add_option("--json", rf.json, "also write the whole ranking as JSON to this file ('-': stdout, no table)");
  report->add_option("--html", rh.html, "write the HTML report (plots; no network needed to view) to this file");
  report->add_option("--eval", rh.eval, "add a `simtune eval --json` file's results to the HTML report");
  report->add_option("--model", rh.model,
                     "plot this model's stored predictions (a model file or tune:PREDICTOR); default: the latest");
  report->add_option("--compare", rh.compare, "HTML: candidates whose simulator statistics are compared")
      ->capture_default_str()->check(cli::NonNegativeInteger());
  report->add_option("--noise-threshold", rh.noise_threshold,
                     "HTML: median round spread (fraction) above which a ranking is flagged")
      ->capture_default_str()->check(CLI::Range(0.0, 10.0));

  SimulateFlags sf;
  auto* simulate = app.add_subcommand("simulate", "run a workload's built candidates on a simulator and store ROI statistics");
  simulate->add_option("workload", sf.workload, "workload string or catalog name")->required();
  simulate->add_option("--target,-t", sf.target, "target name or .json file");
  simulate->add_option("--sim", sf.sim, "simulator name (see `simtune list simulators`), or several comma-separated (qemu,mca: one QEMU run serves both)");
  simulate->add_option("--sim-options", sf.sim_options, "simulator options, key=value,...");
  simulate->add_option("--db", sf.db, "store file");
  simulate->add_option("-j,--jobs", sf.jobs, "parallel simulations (default: cores)")
      ->check(cli::NonNegativeInteger());
  simulate->add_flag("--force", sf.force, "simulate again candidates that already have statistics");

  std::string ex_db = "simtune.db", ex_csv, ex_json, ex_target = "x86_64-host";
  auto* exp = app.add_subcommand("export", "export the store as CSV tables or one JSON document");
  exp->add_option("--db", ex_db, "store file");
  exp->add_option("--csv", ex_csv, "folder for one CSV file per table");
  exp->add_option("--json", ex_json, "JSON file ('-' for stdout)");
  exp->add_option("--target,-t", ex_target,
                  "target of tidy.csv, the table --csv adds (a row per candidate: knobs, "
                  "simulator counters, reference time and spread, predictions)")
      ->capture_default_str();

  // Subcommands defined in their own files (src/cli/subcommands.h).
  std::vector<cli::Subcommand> more = {
      cli::AddTrainCommand(app),
      cli::AddPredictCommand(app),
      cli::AddEvalCommand(app),
      cli::AddTuneCommand(app),
      cli::AddVerifyCommand(app),
      cli::AddEstimateCommand(app),
      cli::AddDatasetCommand(app),
      cli::AddHarnessRuntimeCommand(app),
      cli::AddCacheCommand(app),
  };

  // A required option has no default to show, nor does an empty list ("=[]").
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
    for (auto* opt : sub->get_options())
      if (opt->get_required() || opt->get_default_str() == "[]") opt->default_str("");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (list->parsed()) return CmdList(list_what);
  if (space->parsed()) return CmdSpace(space_sel, space_count, space_enum);
  if (build->parsed()) return CmdBuild(bf);
  if (measure->parsed()) return CmdMeasure(mf, true);
  if (report->parsed()) return CmdReport(rf, rh);
  if (simulate->parsed()) return CmdSimulate(sf);
  if (exp->parsed()) return CmdExport(ex_db, ex_csv, ex_json, ex_target);
  for (const auto& m : more)
    if (m.cmd->parsed()) return m.run();
  return 2;
}

}  // namespace simtune
