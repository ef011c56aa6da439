// Subcommands of the simtune CLI. Each command validates its inputs up front (workload,
// target, registry names) so that a typo fails before any work starts, then records every
// attempt in the store so that re-running the same command resumes.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "simtune/build.h"
#include "simtune/cli.h"
#include "simtune/predictor.h"
#include "simtune/reference.h"
#include "simtune/simulator.h"
#include "simtune/store.h"
#include "simtune/strings.h"
#include "simtune/target.h"
#include "simtune/workload.h"
#include "src/cli/subcommands.h"

namespace simtune {
namespace {

using cli::Fail;
using cli::Interactive;

// Shared flags of the commands that choose candidates from a workload's space.
struct Selection {
  std::string workload;
  size_t sample = 0;
  uint64_t seed = 1;
  std::vector<std::string> configs;
  bool all = false;
};

void AddSelectionFlags(CLI::App* cmd, Selection& s) {
  cmd->add_option("workload", s.workload, "workload string or catalog name")->required();
  cmd->add_option("--sample", s.sample, "number of candidates drawn at random from the space")
      ->check(cli::NonNegativeInteger());
  cmd->add_option("--seed", s.seed, "seed of --sample")->check(cli::NonNegativeInteger());
  cmd->add_option("--config", s.configs, "explicit knob assignment (k=v,...); repeatable");
  cmd->add_flag("--all", s.all, "every valid candidate of the space");
}

struct Chosen {
  Workload workload;
  std::unique_ptr<Space> space;
  std::vector<Config> configs;
};

Result<Chosen> Choose(const Selection& s, bool need_configs) {
  Chosen c;
  SIMTUNE_ASSIGN_OR_RETURN(c.workload, ParseWorkload(s.workload));
  SIMTUNE_ASSIGN_OR_RETURN(c.space, MakeSpace(c.workload));
  int modes = (s.sample > 0) + (!s.configs.empty()) + (s.all ? 1 : 0);
  if (modes > 1) return Error{"choose one of --sample, --config, --all"};
  if (s.sample > 0) c.configs = c.space->Sample(s.sample, s.seed);
  for (const auto& text : s.configs) {
    auto cfg = c.space->ParseConfig(text);
    if (!cfg.ok()) return Wrap(cfg.error(), "--config '" + text + "'");
    c.configs.push_back(*cfg);
  }
  if (s.all) {
    c.space->Enumerate([&](const Config& cfg) {
      c.configs.push_back(cfg);
      return true;
    });
  }
  if (need_configs && modes == 0) return Error{"no candidates chosen: pass --sample N, --config or --all"};
  return c;
}

// Registers the chosen candidates in the store; returns (candidate id, config) pairs.
Result<std::vector<std::pair<int64_t, Config>>> RegisterCandidates(Store& store, const Chosen& c,
                                                                   int64_t* workload_id) {
  SIMTUNE_ASSIGN_OR_RETURN(*workload_id, store.AddWorkload(c.workload));
  std::vector<std::pair<int64_t, Config>> out;
  for (const auto& cfg : c.configs) {
    SIMTUNE_ASSIGN_OR_RETURN(int64_t id,
                             store.AddCandidate(*workload_id, FormatConfig(cfg, c.space->knobs())));
    out.push_back({id, cfg});
  }
  return out;
}

// The candidates of a workload already in the store, parsed back into configs.
Result<std::vector<std::pair<int64_t, Config>>> StoredCandidates(Store& store, const Chosen& c,
                                                                 int64_t* workload_id) {
  auto wid = store.FindWorkload(c.workload.Key());
  if (!wid.ok()) return wid.error();
  if (!wid->has_value())
    return Error{"workload '" + c.workload.Key() + "' has no candidates in the store; run `simtune build` first"};
  *workload_id = **wid;
  SIMTUNE_ASSIGN_OR_RETURN(auto rows, store.Candidates(*workload_id));
  std::vector<std::pair<int64_t, Config>> out;
  for (const auto& row : rows) {
    auto cfg = c.space->ParseConfig(row.config);
    if (!cfg.ok()) return Wrap(cfg.error(), "store candidate " + std::to_string(row.id));
    out.push_back({row.id, *cfg});
  }
  return out;
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
  auto c = Choose(sel, false);
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
  auto target = LoadTarget(f.target);
  if (!target.ok()) return Fail(target.message());
  auto c = Choose(f.sel, true);
  if (!c.ok()) return Fail(c.message());
  auto store = Store::Open(f.db);
  if (!store.ok()) return Fail(store.message());
  int64_t wid = 0;
  auto cands = RegisterCandidates(**store, *c, &wid);
  if (!cands.ok()) return Fail(cands.message());

  // Resume: a candidate whose latest artifact row on this target is ok and still on disk
  // is not rebuilt.
  std::vector<std::pair<int64_t, Config>> todo;
  size_t skipped = 0;
  for (const auto& [id, cfg] : *cands) {
    auto latest = (*store)->LatestArtifact(id, target->name);
    if (!latest.ok()) return Fail(latest.message());
    if (!f.force && latest->has_value() && (*latest)->artifact.ok() &&
        std::filesystem::exists((*latest)->artifact.elf)) {
      ++skipped;
      continue;
    }
    todo.push_back({id, cfg});
  }
  BuildOptions bo;
  bo.cache_dir = f.cache;
  bo.jobs = f.jobs;
  Builder builder(bo);
  std::vector<Config> configs;
  for (const auto& t : todo) configs.push_back(t.second);
  // Each artifact is verified on its worker and stored as soon as it is done, so a build
  // that is interrupted keeps what it finished.
  std::mutex mu;
  std::map<std::string, int> failed_by_stage;
  size_t ok = 0, cached = 0;
  Status store_error;
  auto start = std::chrono::steady_clock::now();
  std::vector<Artifact> arts =
      builder.BuildMany(c->workload, configs, *target, [&](size_t i, Artifact& a) {
        if (!f.no_verify) VerifyArtifactInto(a, *target);
        std::lock_guard<std::mutex> lock(mu);
        if (!store_error.ok()) return;
        auto id = (*store)->AddArtifact(todo[i].first, a);
        if (!id.ok()) {
          store_error = id.error();
          return;
        }
        if (a.ok()) ++ok;
        else ++failed_by_stage[a.stage];
        if (a.cached) ++cached;
        if (!a.ok())
          std::fprintf(stderr, "failed [%s] %s: %s\n", a.stage.c_str(),
                       FormatConfig(todo[i].second, c->space->knobs()).c_str(), a.message.c_str());
      });
  double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!store_error.ok()) return Fail(store_error.message());
  std::printf("built %zu candidates of %s for %s in %.1f s (%.2f/s; %zu from cache), %zu already in the store\n",
              arts.size(), c->workload.Key().c_str(), target->name.c_str(), build_s,
              build_s > 0 ? arts.size() / build_s : 0.0, cached, skipped);
  std::printf("ok %zu", ok);
  for (const auto& [stage, n] : failed_by_stage) std::printf(", failed at %s %d", stage.c_str(), n);
  std::printf("\n");
  return 0;
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
};

struct RankedRow {
  int64_t candidate_id;
  std::string config;
  RefRow ref;
  double flops;
};

void PrintRanking(const std::vector<RankedRow>& ok_rows, const std::vector<RankedRow>& failed,
                  size_t top) {
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
  auto target = LoadTarget(f.target);
  if (!target.ok()) return Fail(target.message());
  auto ref = References().Create(f.ref, f.ref_options);
  if (!ref.ok()) return Fail(ref.message());
  Selection sel;
  sel.workload = f.workload;
  auto c = Choose(sel, false);
  if (!c.ok()) return Fail(c.message());
  auto store = Store::Open(f.db, measure ? StoreMode::kExisting : StoreMode::kReadOnly);
  if (!store.ok()) return Fail(store.message());
  int64_t wid = 0;
  auto cands = StoredCandidates(**store, *c, &wid);
  if (!cands.ok()) return Fail(cands.message());

  std::vector<Artifact> batch;
  std::vector<int64_t> batch_ids;
  std::map<int64_t, std::string> config_text;
  std::map<int64_t, double> flops;
  std::set<int64_t> chosen;   // --sample: a calibration subset, the same for the same seed
  if (measure && f.sample > 0) {
    std::vector<int64_t> built;
    for (const auto& [id, cfg] : *cands) {
      auto art = (*store)->LatestArtifact(id, target->name);
      if (!art.ok()) return Fail(art.message());
      if (art->has_value() && (*art)->artifact.ok()) built.push_back(id);
    }
    std::mt19937_64 rng(f.seed);
    std::shuffle(built.begin(), built.end(), rng);
    built.resize(std::min(built.size(), f.sample));
    chosen.insert(built.begin(), built.end());
  }
  for (const auto& [id, cfg] : *cands) {
    config_text[id] = FormatConfig(cfg, c->space->knobs());
    auto art = (*store)->LatestArtifact(id, target->name);
    if (!art.ok()) return Fail(art.message());
    if (!art->has_value() || !(*art)->artifact.ok()) continue;  // build failures live in artifacts
    flops[id] = (*art)->artifact.flops;
    if (measure && (f.sample == 0 || chosen.count(id))) {
      auto done = (*store)->LatestOkRef(id, target->name, f.ref, (*ref)->options_key(),
                                        (*art)->artifact.hash);
      if (!done.ok()) return Fail(done.message());
      if (done->has_value() && !f.force) continue;
      batch.push_back((*art)->artifact);
      batch_ids.push_back(id);
    }
  }
  if (measure) {
    if (Interactive())
      std::fprintf(stderr, "measuring %zu candidates with %s (%s)\n", batch.size(), f.ref.c_str(),
                   (*ref)->options_key().c_str());
    auto results = MeasureAndStore(**ref, batch, batch_ids, *target, **store, kMeasureChunk,
                                   [&](size_t done, size_t total) {
                                     if (total > kMeasureChunk)
                                       std::fprintf(stderr, "measured %zu/%zu\n", done, total);
                                   });
    if (!results.ok()) return Fail(results.message());
  }
  // Rank from the store: latest row per candidate for this reference and options.
  auto rows = (*store)->RefResults(wid, target->name);
  if (!rows.ok()) return Fail(rows.message());
  std::map<int64_t, RefRow> latest;
  for (const auto& r : *rows)
    if (r.reference == f.ref && r.options == (*ref)->options_key()) latest[r.candidate_id] = r;
  std::vector<RankedRow> ok_rows, failed;
  for (const auto& [id, r] : latest) {
    RankedRow rr{id, config_text[id], r, flops[id]};
    (r.result.ok() ? ok_rows : failed).push_back(rr);
  }
  std::sort(ok_rows.begin(), ok_rows.end(),
            [](const RankedRow& a, const RankedRow& b) { return a.ref.result.value < b.ref.result.value; });
  std::printf("%s on %s, reference %s (%s)\n", c->workload.Key().c_str(), target->name.c_str(),
              f.ref.c_str(), (*ref)->options_key().c_str());
  PrintRanking(ok_rows, failed, f.top);
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
  auto target = LoadTarget(f.target);
  if (!target.ok()) return Fail(target.message());
  auto sim = Simulators().Create(f.sim, f.sim_options);
  if (!sim.ok()) return Fail(sim.message());
  if (!(*sim)->Supports(*target))
    return Fail("simulator '" + f.sim + "' does not support target '" + target->name + "'");
  if (auto avail = (*sim)->Available(*target); !avail.ok()) return Fail(avail.message());
  Selection sel;
  sel.workload = f.workload;
  auto c = Choose(sel, false);
  if (!c.ok()) return Fail(c.message());
  auto store = Store::Open(f.db, StoreMode::kExisting);
  if (!store.ok()) return Fail(store.message());
  int64_t wid = 0;
  auto cands = StoredCandidates(**store, *c, &wid);
  if (!cands.ok()) return Fail(cands.message());

  std::vector<std::pair<int64_t, Artifact>> todo;
  size_t skipped = 0, unbuilt = 0;
  for (const auto& [id, cfg] : *cands) {
    auto art = (*store)->LatestArtifact(id, target->name);
    if (!art.ok()) return Fail(art.message());
    if (!art->has_value() || !(*art)->artifact.ok()) {
      ++unbuilt;
      continue;
    }
    auto done = (*store)->LatestOkSim(id, target->name, f.sim, (*sim)->options_key(),
                                      (*art)->artifact.hash);
    if (!done.ok()) return Fail(done.message());
    if (done->has_value() && !f.force) {
      ++skipped;
      continue;
    }
    todo.push_back({id, (*art)->artifact});
  }
  int jobs = WorkerCount(f.jobs, todo.size());
  // Workers simulate; this thread alone writes the store, in completion order.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<size_t, SimResult>> finished;
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < jobs; ++w) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < todo.size(); i = next++) {
        SimResult r = (*sim)->Simulate(todo[i].second, *target);
        std::lock_guard<std::mutex> lock(mu);
        finished.push_back({i, std::move(r)});
        cv.notify_one();
      }
    });
  }
  auto start = std::chrono::steady_clock::now();
  std::map<std::string, int> failed_by_stage;
  uint64_t insns = 0;
  double sim_wall = 0;
  Status write_error;
  for (size_t done = 0; done < todo.size(); ++done) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return !finished.empty(); });
    auto [i, r] = std::move(finished.front());
    finished.pop_front();
    lock.unlock();
    SimRow row;
    row.candidate_id = todo[i].first;
    row.target = target->name;
    row.simulator = f.sim;
    row.options = (*sim)->options_key();
    row.artifact_hash = todo[i].second.hash;
    row.status = r.status;
    row.stage = r.stage;
    row.message = r.message;
    row.wall_s = r.wall_s;
    if (r.ok()) {
      row.stats_json = r.stats.ToJson().dump();
      insns += r.stats.insn_count;
      sim_wall += r.wall_s;
    } else {
      ++failed_by_stage[r.stage];
      std::fprintf(stderr, "failed [%s] candidate %lld: %s\n", r.stage.c_str(),
                   static_cast<long long>(todo[i].first), r.message.c_str());
    }
    if (write_error.ok()) {
      auto id = (*store)->AddSimResult(row);
      if (!id.ok()) write_error = id.error();
    }
    if (Interactive()) {
      double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double eta = el / (done + 1) * (todo.size() - done - 1);
      std::fprintf(stderr, "\r%zu/%zu simulated, %zu failed, eta %.0f s   ", done + 1, todo.size(),
                   static_cast<size_t>(std::accumulate(
                       failed_by_stage.begin(), failed_by_stage.end(), 0,
                       [](int a, const auto& kv) { return a + kv.second; })),
                   eta);
    }
  }
  for (auto& w : workers) w.join();
  if (Interactive()) std::fprintf(stderr, "\n");
  if (!write_error.ok()) return Fail(write_error.message());
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("simulated %zu candidates of %s on %s with %s in %.1f s (-j %d), %zu already in the store, %zu not built\n",
              todo.size(), c->workload.Key().c_str(), target->name.c_str(), f.sim.c_str(), wall, jobs,
              skipped, unbuilt);
  size_t failed = 0;
  for (const auto& kv : failed_by_stage) failed += kv.second;
  std::printf("ok %zu", todo.size() - failed);
  for (const auto& [stage, n] : failed_by_stage) std::printf(", failed at %s %d", stage.c_str(), n);
  if (sim_wall > 0) std::printf("; %.1f simulated MIPS per simulator process", insns / sim_wall / 1e6);
  std::printf("\n");
  return 0;
}

// ---- export ----
int CmdExport(const std::string& db, const std::string& csv_dir, const std::string& json_file) {
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
    std::printf("wrote CSV tables to %s\n", csv_dir.c_str());
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

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"simtune: autotune ML operators for CPUs using instruction-accurate simulators"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for all subcommands");
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
  measure->add_flag("--force", mf.force, "measure again candidates that already have a result");
  measure->add_option("--sample", mf.sample, "measure only N built candidates, a seeded random subset (calibration)")
      ->check(cli::NonNegativeInteger());
  measure->add_option("--seed", mf.seed, "seed of --sample")->check(cli::NonNegativeInteger());

  MeasureFlags rf;
  auto* report = app.add_subcommand("report", "rank a workload's candidates by stored reference results");
  report->add_option("workload", rf.workload, "workload string or catalog name")->required();
  report->add_option("--target,-t", rf.target, "target name or .json file");
  report->add_option("--ref", rf.ref, "reference name");
  report->add_option("--ref-options", rf.ref_options, "reference options, key=value,...");
  report->add_option("--db", rf.db, "store file");
  report->add_option("--top", rf.top, "rows to print")->check(cli::NonNegativeInteger());

  SimulateFlags sf;
  auto* simulate = app.add_subcommand("simulate", "run a workload's built candidates on a simulator and store ROI statistics");
  simulate->add_option("workload", sf.workload, "workload string or catalog name")->required();
  simulate->add_option("--target,-t", sf.target, "target name or .json file");
  simulate->add_option("--sim", sf.sim, "simulator name (see `simtune list simulators`)");
  simulate->add_option("--sim-options", sf.sim_options, "simulator options, key=value,...");
  simulate->add_option("--db", sf.db, "store file");
  simulate->add_option("-j,--jobs", sf.jobs, "parallel simulations (default: cores)")
      ->check(cli::NonNegativeInteger());
  simulate->add_flag("--force", sf.force, "simulate again candidates that already have statistics");

  std::string ex_db = "simtune.db", ex_csv, ex_json;
  auto* exp = app.add_subcommand("export", "export the store as CSV tables or one JSON document");
  exp->add_option("--db", ex_db, "store file");
  exp->add_option("--csv", ex_csv, "folder for one CSV file per table");
  exp->add_option("--json", ex_json, "JSON file ('-' for stdout)");

  // Subcommands defined in their own files (src/cli/subcommands.h).
  std::vector<cli::Subcommand> more = {
      cli::AddTrainCommand(app),
      cli::AddPredictCommand(app),
      cli::AddEvalCommand(app),
      cli::AddTuneCommand(app),
      cli::AddVerifyCommand(app),
      cli::AddEstimateCommand(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (list->parsed()) return CmdList(list_what);
  if (space->parsed()) return CmdSpace(space_sel, space_count, space_enum);
  if (build->parsed()) return CmdBuild(bf);
  if (measure->parsed()) return CmdMeasure(mf, true);
  if (report->parsed()) return CmdMeasure(rf, false);
  if (simulate->parsed()) return CmdSimulate(sf);
  if (exp->parsed()) return CmdExport(ex_db, ex_csv, ex_json);
  for (const auto& m : more)
    if (m.cmd->parsed()) return m.run();
  return 2;
}

}  // namespace simtune
