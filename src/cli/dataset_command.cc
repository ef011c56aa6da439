// `simtune dataset`: grow a training corpus (build + simulate + measure many workloads on one or
// more reference targets; resumable), and optionally train a model of the target on it.
#include <cstdio>
#include <memory>

#include "simtune/pipeline.h"
#include "simtune/store.h"
#include "simtune/strings.h"
#include "simtune/target.h"
#include "src/cli/subcommands.h"

namespace simtune::cli {
namespace {

struct DatasetFlags {
  pipeline::DatasetJobOptions job;
  std::string db = "corpus.db";
  std::string save_model;
  std::string predictor = "ridge";
  std::string predictor_options;
  bool no_shape = false;
};

int RunDataset(const DatasetFlags& f) {
  auto job = pipeline::DatasetJob::Prepare(f.job);
  if (!job.ok()) return Fail(job.message());
  std::unique_ptr<pipeline::TrainJob> train;
  if (!f.save_model.empty()) {
    if (f.job.targets.size() != 1) return Fail("--save-model trains one target's model; pass one --target");
    auto target = LoadTarget(f.job.targets.front());
    if (!target.ok()) return Fail(target.message());
    pipeline::TrainJobOptions o;
    o.data.target = target->name;
    o.data.simulators = Join(target->simulators, ",");
    o.data.reference = target->references.front();
    o.data.shape = !f.no_shape;
    o.predictor = f.predictor;
    o.predictor_options = f.predictor_options;
    o.out = f.save_model;
    auto t = pipeline::TrainJob::Prepare(o);
    if (!t.ok()) return Fail(t.message());
    train = std::make_unique<pipeline::TrainJob>(std::move(t).value());
  }
  auto store = Store::Open(f.db);
  if (!store.ok()) return Fail(store.message());
  std::printf("dataset: %zu steps into %s (--sample %zu, --seed %llu)\n", job->plan().size(), f.db.c_str(),
              f.job.sample, static_cast<unsigned long long>(f.job.seed));
  std::fflush(stdout);
  // One line per finished step, on a terminal or not: steps take seconds to minutes.
  std::string step;
  auto r = job->Run(**store, [&step](const pipeline::Progress& p) {
    if (p.event == "step") step = p.message;
    if (p.event != "stepped") return;
    std::fprintf(stderr, "dataset: %zu/%zu %s: %s", p.done, p.total, step.c_str(), p.message.c_str());
    if (p.eta_s > 0 && p.done < p.total) std::fprintf(stderr, " (eta %.0f s)", p.eta_s);
    std::fprintf(stderr, "\n");
  });
  if (!r.ok()) return Fail(r.message());
  std::printf("%-44s %-22s %6s %8s %6s %6s\n", "workload", "target", "built", "measured", "new", "failed");
  size_t measured = 0;
  for (const auto& c : r->counts) {
    std::printf("%-44s %-22s %6zu %8zu %6zu %6zu\n", c.workload.substr(0, 44).c_str(), c.target.c_str(),
                c.built_ok, c.measured_ok, c.new_rows, c.failed);
    measured += c.measured_ok;
  }
  std::printf("%zu measured candidates of %zu workload x target pairs; %.0f s\n", measured, r->counts.size(),
              r->wall_s);
  if (train) {
    auto read = Store::Open(f.db, StoreMode::kReadOnly);
    if (!read.ok()) return Fail(read.message());
    auto t = train->Run(**read);
    if (!t.ok()) return Fail(t.message());
    std::printf("trained %s (%s) on %lld measured candidates of %zu workloads; wrote %s\n", t->predictor.c_str(),
                t->predictor_options.c_str(), static_cast<long long>(t->rows), t->workloads.size(),
                f.save_model.c_str());
  }
  return 0;
}

}  // namespace

Subcommand AddDatasetCommand(CLI::App& app) {
  auto f = std::make_shared<DatasetFlags>();
  auto* cmd = app.add_subcommand(
      "dataset",
      "grow a training corpus: build, simulate and measure a seeded sample of many workloads per target "
      "(resumable; default workloads: the catalog's corpus.* entries)");
  cmd->add_option("--workloads,-w", f->job.workloads, "workloads (keys or catalog names; default: corpus.*)")
      ->delimiter(';');
  cmd->add_option("--target,-t", f->job.targets, "reference targets (repeatable or comma-separated)")
      ->delimiter(',');
  cmd->add_option("--sample", f->job.sample, "candidates per workload (a larger one with the same seed grows the corpus)")
      ->check(NonNegativeInteger());
  cmd->add_option("--seed", f->job.seed, "seed of --sample")->check(NonNegativeInteger());
  cmd->add_option("--sim", f->job.simulators, "simulators (default: each target's own); SIM@TARGET runs on another target's build")
      ->delimiter(',');
  cmd->add_option("--also", f->job.also, "more SIM@TARGET for every target (e.g. qemu@riscv64-linux)")->delimiter(',');
  cmd->add_option("--ref-options", f->job.reference_options, "reference options (e.g. verify=off,jobs=2 for rvsim)");
  cmd->add_option("--db", f->db, "store file");
  cmd->add_option("--cache", f->job.cache, "artifact cache folder");
  cmd->add_option("-j,--jobs", f->job.jobs, "parallel compiler and simulator jobs (default: cores)")
      ->check(NonNegativeInteger());
  cmd->add_option("--save-model", f->save_model, "then train a model of the (one) target on the whole store and write it here");
  cmd->add_option("--predictor", f->predictor, "predictor of --save-model");
  cmd->add_option("--predictor-options", f->predictor_options, "its options");
  cmd->add_flag("--no-shape", f->no_shape, "--save-model without the workloads' shape features");
  return {cmd, [f] { return RunDataset(*f); }};
}

}  // namespace simtune::cli
