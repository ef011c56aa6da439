// `simtune tune`: flags -> pipeline::TuneJob (src/pipeline/tune.cc, the tuning loop) -> the
// tuning summary and the verified top candidates. Under `--executor mpi` every rank runs this
// command: rank 0 tunes, the others serve jobs (exec.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "simtune/exec.h"
#include "simtune/pipeline.h"
#include "simtune/store.h"
#include "src/cli/subcommands.h"

namespace simtune::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct TuneFlags {
  std::string workload;
  std::string drive = "simulate";
  std::string target = "x86_64-host";
  size_t budget = 0;
  double time_budget_s = 0;
  std::string strategy = "evolutionary";
  std::string strategy_options;
  std::string sims;
  std::vector<std::string> sim_options;
  std::string predictor = "ridge";
  std::string predictor_options;
  std::string model;
  bool no_shipped_model = false;
  std::string save_model;
  std::string ref;
  std::string ref_options;
  int verify_top = 5;
  bool verify_during_search = false;
  int calibrate = 10;
  size_t batch = 16;
  uint64_t seed = 1;
  std::string executor = "local";
  int jobs = 0;
  std::string db = "simtune.db";
  std::string cache = ".simtune-cache";
  bool no_verify = false;
  double verify_timeout_s = 60;
  double build_timeout_s = 120;
};

std::string Fmt(double v, const char* fmt = "%.4g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string FmtTime(double v, const std::string& unit) {
  if (unit != "ns") return Fmt(v, "%.0f") + " " + unit;
  if (v >= 1e6) return Fmt(v / 1e6, "%.3f") + " ms";
  return Fmt(v / 1e3, "%.2f") + " us";
}

// The live line on a terminal (PlainProgress prints elsewhere).
void PrintProgress(const pipeline::TuneJob& job, const std::string& strategy, const pipeline::Progress& p) {
  if (!Interactive()) return;
  if (p.event == "start") {
    std::fprintf(stderr, "tuning %s for %s: strategy %s, %s executor, workers=%d, budget %zu\n",
                 job.workload().c_str(), job.target().c_str(), strategy.c_str(), job.executor().c_str(),
                 job.workers(), p.total);
  } else if (p.event == "candidate") {
    if (p.ran && p.status != "ok")
      std::fprintf(stderr, "\rfailed [%s] %s: %s\n", p.stage.c_str(), p.config.c_str(), p.message.c_str());
    std::string stages;
    for (const auto& [stage, n] : p.failed_by_stage) stages += (stages.empty() ? "" : ", ") + stage + " " + std::to_string(n);
    std::string best = std::isfinite(p.best_score) ? FormatPrediction(p.best_score, p.score_unit) : "-";
    std::fprintf(stderr, "\r%zu/%zu candidates (%zu from the store), %zu failed%s%s%s, best predicted %s, eta %.0f s   ",
                 p.done, p.total, p.from_store, p.failed, stages.empty() ? "" : " (", stages.c_str(),
                 stages.empty() ? "" : ")", best.c_str(), p.eta_s);
  } else if (p.event == "measure") {
    std::fprintf(stderr, "\rmeasuring %zu candidates on %s (%s)%30s\n", p.total, p.reference.c_str(),
                 p.reference_options.c_str(), "");
  } else if (p.event == "searched") {
    std::fprintf(stderr, "\n");
  }
}

void PrintResult(const pipeline::TuneJobResult& r) {
  size_t failed = 0;
  std::string stages;
  for (const auto& [stage, n] : r.failed_by_stage) {
    failed += n;
    stages += ", failed at " + stage + " " + std::to_string(n);
  }
  std::printf("tuned %s for %s: %zu candidates (%zu from the store, %zu run now), ok %zu%s\n", r.workload.c_str(),
              r.target.c_str(), r.attempted, r.from_store, r.ran, r.attempted - failed, stages.c_str());
  if (r.drive == "reference") {
    std::printf("strategy %s driven by measurements on %s (%s), one at a time: %zu measured now; builds on the %s executor, workers=%d, %.1f s%s\n",
                r.strategy.c_str(), r.reference.c_str(), r.reference_options.c_str(), r.measured,
                r.executor.c_str(), r.workers, r.search_s, r.stopped_by_time ? " (stopped by --time-budget)" : "");
    if (r.verified.empty()) {
      std::printf("no candidate measured ok on %s\n", r.reference.c_str());
      return;
    }
    std::printf("the fastest %zu of %zu measured:\n", r.verified.size(), r.ranking.size());
    std::printf("%4s  %12s  %7s  %s\n", "rank", "measured", "spread", "config");
    for (const auto& c : r.verified)
      std::printf("%4zu  %12s  %7s  %s\n", c.predicted_rank, FmtTime(c.measured->value, c.measured->unit).c_str(),
                  (Fmt(100 * c.measured->spread, "%.1f") + "%").c_str(), c.config.c_str());
    const auto& best = r.verified[r.best];
    std::printf("best measured: %s  %s\n", best.config.c_str(), FmtTime(best.measured->value, best.measured->unit).c_str());
    return;
  }
  std::printf("strategy %s, simulators %s, %s executor, workers=%d, %.1f s%s\n", r.strategy.c_str(),
              r.simulators.c_str(), r.executor.c_str(), r.workers, r.search_s,
              r.stopped_by_time ? " (stopped by --time-budget)" : "");
  if (!r.model.empty()) std::printf("model %s (%s): no calibration measurements\n", r.model.c_str(), r.predictor.c_str());
  if (r.calibrated)
    std::printf("calibration: model fit on %zu candidates measured on %s (%zu chosen from a random pool, stratified by %s instruction count), model %s\n",
                r.calibration_rows, r.reference.c_str(), r.calibration_candidates, r.calibration_simulator.c_str(),
                r.predictor.c_str());
  if (r.verified.empty()) {
    std::printf("no candidate verified; the best predicted (lower is faster):\n");
    std::printf("%9s  %18s  %s\n", "rank", PredictionHeader(r.score_unit).c_str(), "config");
    for (size_t i = 0; i < r.ranking.size() && i < 5; ++i)
      std::printf("%9zu  %18s  %s\n", r.ranking[i].predicted_rank,
                  FormatPrediction(r.ranking[i].score, r.score_unit).c_str(), r.ranking[i].config.c_str());
    return;
  }
  std::printf("verified the top %zu predicted on %s (%s):\n", r.verified.size(), r.reference.c_str(),
              r.reference_options.c_str());
  // The model's output: a time in the reference's unit (shown like the measured column), or a
  // unitless score that only orders candidates.
  bool is_time = r.score_unit != "score" && r.score_unit != "unknown";
  std::string header = r.score_unit == "unknown" ? "score (unit?)" : PredictionHeader(r.score_unit);
  std::printf("%4s  %16s  %12s  %7s  %s\n", "rank", header.c_str(), "measured", "spread", "config");
  for (const auto& c : r.verified) {
    std::string measured = c.measured ? FmtTime(c.measured->value, c.measured->unit) : "failed";
    std::string spread = c.measured ? Fmt(100 * c.measured->spread, "%.1f") + "%" : "-";
    std::string score = is_time ? FmtTime(c.score, r.score_unit) : Fmt(c.score);
    std::printf("%4zu  %16s  %12s  %7s  %s\n", c.predicted_rank, score.c_str(), measured.c_str(),
                spread.c_str(), c.config.c_str());
  }
  size_t skipped = 0;
  for (size_t i = 0; i < r.verified.size(); ++i) skipped = std::max(skipped, r.verified[i].predicted_rank - (i + 1));
  if (skipped > 0)
    std::printf("(%zu candidate%s with the same simulator statistics as a verified one not measured)\n", skipped,
                skipped == 1 ? "" : "s");
  if (r.best < 0) {
    std::printf("no verified candidate ran ok on %s\n", r.reference.c_str());
    return;
  }
  const auto& best = r.verified[r.best];
  std::printf("best verified: %s  %s (predicted rank %zu of %zu)\n", best.config.c_str(),
              FmtTime(best.measured->value, best.measured->unit).c_str(), best.predicted_rank, r.ranking.size());
}

int Tune(const TuneFlags& f) {
  pipeline::TuneJobOptions o;
  o.workload = f.workload;
  o.drive = f.drive;
  o.target = f.target;
  o.budget = f.budget;
  o.time_budget_s = f.time_budget_s;
  o.strategy = f.strategy;
  o.strategy_options = f.strategy_options;
  o.simulators = f.sims;
  o.simulator_options = f.sim_options;
  o.predictor = f.predictor;
  o.predictor_options = f.predictor_options;
  o.model = f.model;
  o.shipped_model = !f.no_shipped_model;
  o.save_model = f.save_model;
  o.reference = f.ref;
  o.reference_options = f.ref_options;
  o.verify_top = f.verify_top;
  o.verify_during_search = f.verify_during_search;
  o.calibrate = f.calibrate;
  o.batch = f.batch;
  o.seed = f.seed;
  o.executor = f.executor;
  o.jobs = f.jobs;
  o.cache = f.cache;
  o.verify = !f.no_verify;
  o.verify_timeout_s = f.verify_timeout_s;
  o.build_timeout_s = f.build_timeout_s;
  auto job = pipeline::TuneJob::Prepare(o);
  if (!job.ok()) return Fail(job.message());
  for (const auto& w : (*job)->warnings()) std::fprintf(stderr, "warning: %s\n", w.c_str());
  auto store = Store::Open(f.db);
  if (!store.ok()) return Fail(store.message());
  const pipeline::TuneJob& j = **job;
  PlainProgress plain("tune");
  auto r = (*job)->Run(**store, [&](const pipeline::Progress& p) {
    PrintProgress(j, f.strategy, p);
    if (p.event == "candidate") plain.Update(p.done, p.total, p.failed, p.eta_s);
  });
  if (!r.ok()) return Fail(r.message());
  PrintResult(*r);
  return 0;
}

int RunTune(const TuneFlags& f) {
  if (f.executor != "mpi") return Tune(f);
  auto world = MpiInit();
  if (!world.ok()) return Fail(world.message());
  int rc = world->rank == 0 ? Tune(f) : RunMpiWorker();
  MpiFinalize();
  return rc;
}

}  // namespace

Subcommand AddTuneCommand(CLI::App& app) {
  auto f = std::make_shared<TuneFlags>();
  auto* cmd = app.add_subcommand(
      "tune", "search a workload's space: simulate candidates in parallel, rank them with a "
              "predictor, verify the best on the reference");
  cmd->add_option("workload", f->workload, "workload string or catalog name")->required();
  cmd->add_option("--target,-t", f->target, "target name or .json file");
  cmd->add_option("--budget", f->budget, "candidates to build and simulate, calibration pool included")->required()
      ->check(NonNegativeInteger());
  cmd->add_option("--time-budget", f->time_budget_s, "stop proposing after this many seconds (0: no limit)")
      ->check(NonNegativeSeconds());
  cmd->add_option("--drive", f->drive,
                  "what drives the strategy: simulate (simulate every candidate, predict, verify the --top "
                  "best on the reference) or reference (measure every candidate on the reference, one at a time)");
  cmd->add_option("--strategy", f->strategy, "search strategy: exhaustive, random, evolutionary, annealing, model-guided");
  cmd->add_option("--strategy-options", f->strategy_options, "strategy options, key=value,...");
  cmd->add_option("--sim", f->sims, "simulators, comma-separated (default: those the model was trained on for this target, else the target's first)");
  cmd->add_option("--sim-options", f->sim_options, "simulator options: OPTS, or SIM:OPTS with several simulators; repeatable");
  cmd->add_option("--predictor", f->predictor, "predictor to calibrate (see predictor.h)");
  cmd->add_option("--predictor-options", f->predictor_options, "predictor options, key=value,...");
  cmd->add_option("--model", f->model, "a trained model file (skips calibration; default: the target's shipped model, data/models/<target>.json, if any)");
  cmd->add_flag("--no-shipped-model", f->no_shipped_model, "calibrate on the reference even when the target ships a model");
  cmd->add_option("--save-model", f->save_model, "write the final (refit) model to this file");
  cmd->add_option("--ref", f->ref, "reference (default: the target's first)");
  cmd->add_option("--ref-options", f->ref_options, "reference options, key=value,...");
  cmd->add_option("--top", f->verify_top, "how many of the best predicted to measure on the reference (one of candidates with equal statistics)")
      ->check(NonNegativeInteger());
  AddDeprecatedAlias(cmd, "--verify-top", f->verify_top, "--top");
  cmd->add_flag("--verify-during-search", f->verify_during_search,
                "measure the best predicted on the reference whenever it is idle while the search goes on "
                "(a board idle during simulation; the final --top reuses these measurements)");
  cmd->add_option("--calibrate", f->calibrate, "candidates measured to calibrate the predictor");
  cmd->add_option("--batch", f->batch, "candidates proposed per round (independent of -j, for reproducibility)")
      ->check(NonNegativeInteger());
  cmd->add_option("--seed", f->seed, "seed of the strategy and the calibration pool")
      ->check(NonNegativeInteger());
  cmd->add_option("--executor", f->executor, "local or mpi (run under mpirun)");
  cmd->add_option("-j,--jobs", f->jobs, "local workers (default: cores)")
      ->check(NonNegativeInteger());
  cmd->add_option("--db", f->db, "store file");
  cmd->add_option("--cache", f->cache, "artifact cache folder");
  cmd->add_flag("--no-verify", f->no_verify, "do not run each artifact once through the target's runner");
  cmd->add_option("--verify-timeout", f->verify_timeout_s, "seconds allowed for that run")
      ->check(TimeoutSeconds());
  cmd->add_option("--build-timeout", f->build_timeout_s, "seconds allowed per compiler invocation")
      ->check(TimeoutSeconds());
  return {cmd, [f] { return RunTune(*f); }};
}

}  // namespace simtune::cli
