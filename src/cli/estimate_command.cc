// `simtune estimate`: flags -> pipeline::RunEstimate (src/pipeline/estimate.cc) -> a table, or
// the JSON document the TVM runner reads.
#include <cstdio>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "simtune/pipeline.h"
#include "simtune/strings.h"
#include "src/cli/subcommands.h"

namespace simtune::cli {
namespace {

struct EstimateFlags {
  std::vector<std::string> elfs;
  std::string target;
  std::string sims;
  std::string model;
  std::string workload;
  double flops = 0;
  double clock_hz = 0;
  std::string db;
  std::string json;
  int jobs = 0;
  std::string measure;
  int measure_top = 0;
  std::string ref;
  std::string ref_options;
  std::string store;
  std::vector<std::string> labels;
};

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

int RunEstimate(const EstimateFlags& f) {
  pipeline::EstimateJobOptions o;
  o.elfs = f.elfs;
  o.workload = f.workload;
  o.target = f.target;
  o.simulators = f.sims;
  o.model = f.model;
  o.flops = f.flops;
  o.clock_hz = f.clock_hz;
  o.db = f.db;
  o.jobs = f.jobs;
  for (const auto& item : SplitList(f.measure)) {
    auto index = ParseInt(item, "--measure");
    if (!index.ok()) return Fail(index.message());
    o.measure.push_back(static_cast<int>(*index));
  }
  o.measure_top = f.measure_top;
  o.reference = f.ref;
  o.reference_options = f.ref_options;
  o.store = f.store;
  o.labels = f.labels;
  auto r = pipeline::RunEstimate(o);
  if (!r.ok()) return Fail(r.message());
  nlohmann::json doc = r->ToJson();
  if (f.json == "-") {
    std::printf("%s\n", DumpJson(doc, 1).c_str());
    return 0;
  }
  if (!f.json.empty()) {
    std::ofstream out(f.json);
    out << DumpJson(doc, 1) << "\n";
    if (!out) return Fail("cannot write '" + f.json + "'");
  }
  std::printf("%s on %s, %s with %s\n", r->workload.c_str(), r->target.c_str(), Join(r->simulators, "+").c_str(),
              r->model.c_str());
  std::printf("%-14s  %-12s  %s\n", "predicted_s", r->unit.c_str(), "elf");
  for (size_t i = 0; i < r->estimates.size(); ++i) {
    const auto& row = r->estimates[i];
    const std::string& elf = f.elfs[i];
    std::string measured;
    if (row.measured)
      measured = row.measured->ok() ? "  measured " + Num(row.measured->value) + " " + row.measured->unit
                                    : "  measure failed [" + row.measured->stage + "] " + row.measured->message;
    if (row.status == "ok")
      std::printf("%-14s  %-12s  %s%s\n", Num(row.predicted_s).c_str(), Num(row.predicted).c_str(), elf.c_str(),
                  measured.c_str());
    else
      std::printf("failed [%s] %s: %s\n", row.stage.c_str(), elf.c_str(), row.message.c_str());
  }
  size_t failed = 0;
  for (const auto& kv : r->failed_by_stage) failed += kv.second;
  std::printf("ok %zu", r->estimates.size() - failed);
  for (const auto& [stage, n] : r->failed_by_stage) std::printf(", failed at %s %d", stage.c_str(), n);
  std::printf("\n");
  return 0;
}

}  // namespace

Subcommand AddEstimateCommand(CLI::App& app) {
  auto f = std::make_shared<EstimateFlags>();
  auto* cmd = app.add_subcommand(
      "estimate", "simulate ready-made executables (harness contract) and predict their run time");
  cmd->add_option("elf", f->elfs, "executables to estimate")->required();
  cmd->add_option("--workload,-w", f->workload, "workload they implement (shape features, flops)")->required();
  cmd->add_option("--target,-t", f->target, "target name or .json file (default: the model's)");
  cmd->add_option("--sim", f->sims, "simulators, comma-separated (default: the model's, else qemu)");
  cmd->add_option("--model,-m", f->model,
                  "model file from `simtune train --no-rel` (default: instruction-count baseline)");
  cmd->add_option("--flops", f->flops, "useful flops of one call (default: from the workload)");
  cmd->add_option("--clock-hz", f->clock_hz,
                  "clock to turn a cycle-predicting model's output into seconds (default: the "
                  "target's clock_hz)");
  cmd->add_option("--db", f->db, "store the model was trained from (restores the workload's scale)");
  cmd->add_option("--json", f->json, "write the results as JSON to this file ('-': stdout only)");
  cmd->add_option("--measure", f->measure,
                  "also measure these executables (0-based indices, comma-separated) on the reference");
  cmd->add_option("--measure-top", f->measure_top,
                  "also measure the N best predicted executables on the reference")
      ->check(NonNegativeInteger());
  cmd->add_option("--ref", f->ref, "reference for --measure (default: the target's first)");
  cmd->add_option("--ref-options", f->ref_options, "reference options (key=value,...)");
  cmd->add_option("--store", f->store,
                  "record the executables, statistics and measurements in this store (created when "
                  "missing; reuses what it holds)");
  cmd->add_option("--label", f->labels,
                  "store candidate names, one per executable (default: the ELF hash's first 16 hex)")
      ->delimiter(',');
  cmd->add_option("-j,--jobs", f->jobs, "parallel simulations (default: cores)")
      ->check(NonNegativeInteger());
  return {cmd, [f] { return RunEstimate(*f); }};
}

}  // namespace simtune::cli
