// `simtune tune`: the tuning loop.
//
//   calibrate (no --model): simulate a seeded random pool, measure a well-spread subset of it
//       on the reference, fit the predictor
//   search:  propose (strategy) -> build + verify + simulate (executor, in parallel)
//            -> predict (predictor) -> notify the strategy -> ... until the budget
//   verify:  measure the top k predicted on the reference, refit on every measurement,
//            report the best verified candidate
//
// Resume. Every job's artifact and simulations are store rows, written as they arrive. A
// rerun of the same command replays the same sequence: the calibration pool and the
// strategy are seeded, a candidate already in the store (ok or failed) is answered from
// there instead of being run again, reference results are reused (LatestOkRef), and the
// model is fit on the same calibration rows, so the strategy sees the same scores and
// proposes the same candidates. Only jobs that were in flight at the kill are redone.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include <CLI/CLI.hpp>

#include "simtune/exec.h"
#include "simtune/features.h"
#include "simtune/predictor.h"
#include "simtune/reference.h"
#include "simtune/search.h"
#include "simtune/store.h"
#include "simtune/strings.h"
#include "simtune/target.h"
#include "simtune/workload.h"
#include "src/cli/subcommands.h"

namespace simtune::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct TuneFlags {
  std::string workload;
  std::string target = "x86_64-host";
  size_t budget = 0;
  double time_budget_s = 0;
  std::string strategy = "evolutionary";
  std::string strategy_options;
  std::string sims = "qemu";
  std::vector<std::string> sim_options;
  std::string predictor = "ridge";
  std::string predictor_options;
  std::string model;
  std::string save_model;
  std::string ref;
  std::string ref_options;
  int verify_top = 5;
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

// One candidate of this tune, as far as it got.
struct Cand {
  int64_t id = 0;
  Config config;
  std::string text;                          // FormatConfig
  bool done = false;                         // has an outcome (run now or from the store)
  bool ok = false;
  std::string failed_stage;
  Artifact artifact;
  std::map<std::string, SimStats> stats;     // simulator name -> ROI statistics
  double score = std::numeric_limits<double>::quiet_NaN();
  bool from_store = false;
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

class Tuner {
 public:
  explicit Tuner(const TuneFlags& f) : f_(f) {}

  int Run() {
    start_ = Clock::now();
    if (f_.budget == 0) return Fail("--budget must be at least 1");
    if (f_.batch == 0) return Fail("--batch must be at least 1");
    if (f_.verify_top < 0) return Fail("--verify-top must be >= 0; got " + std::to_string(f_.verify_top));
    if (f_.executor != "local" && f_.executor != "mpi")
      return Fail(UnknownName("executor", f_.executor, {"local", "mpi"}).message);
    auto target = LoadTarget(f_.target);
    if (!target.ok()) return Fail(target.message());
    target_ = *target;
    auto workload = ParseWorkload(f_.workload);
    if (!workload.ok()) return Fail(workload.message());
    workload_ = *workload;
    auto space = MakeSpace(workload_);
    if (!space.ok()) return Fail(space.message());
    space_ = std::move(space).value();
    auto strategy = Strategies().Create(f_.strategy, f_.strategy_options);
    if (!strategy.ok()) return Fail(strategy.message());
    strategy_ = std::move(strategy).value();
    if (auto s = strategy_->Init(*space_, f_.seed); !s.ok()) return Fail(s.message());
    if (auto s = ParseSimulators(); !s.ok()) return Fail(s.message());
    if (!f_.model.empty()) {
      auto m = LoadModel(f_.model, kFeatureSchemaVersion);
      if (!m.ok()) return Fail(m.message());
      predictor_ = std::move(m).value();
    } else {
      auto p = Predictors().Create(f_.predictor, f_.predictor_options);
      if (!p.ok()) return Fail(p.message());
      predictor_ = std::move(p).value();
    }
    bool need_ref = f_.model.empty() || f_.verify_top > 0;
    if (need_ref) {
      if (f_.ref.empty()) {
        if (target_.references.empty())
          return Fail("target '" + target_.name +
                      "' has no reference to calibrate and verify on; pass --ref, or --model FILE "
                      "with --verify-top 0");
        f_.ref = target_.references.front();
      }
      auto r = References().Create(f_.ref, MergeReferenceOptions(target_, f_.ref, f_.ref_options));
      if (!r.ok()) return Fail(r.message());
      reference_ = std::move(r).value();
    }
    if (f_.model.empty() && f_.calibrate < 2)
      return Fail("--calibrate must be at least 2 when no --model is given; got " +
                  std::to_string(f_.calibrate));

    JobContext context;
    context.workload = workload_.Key();
    context.target = target_.source.empty() ? target_.name : target_.source.string();
    context.simulators = sims_;
    context.build.cache_dir = f_.cache;
    context.build.timeout_s = f_.build_timeout_s;
    context.verify = !f_.no_verify;
    context.verify_timeout_s = f_.verify_timeout_s;
    auto executor = f_.executor == "mpi" ? MakeMpiExecutor(context) : MakeLocalExecutor(context, f_.jobs);
    if (!executor.ok()) return Fail(executor.message());
    executor_ = std::move(executor).value();

    auto store = Store::Open(f_.db);
    if (!store.ok()) return Fail(store.message());
    store_ = std::move(store).value();
    auto wid = store_->AddWorkload(workload_);
    if (!wid.ok()) return Fail(wid.message());
    wid_ = *wid;
    if (auto s = LoadStoredSims(); !s.ok()) return Fail(s.message());

    if (Interactive())
      std::fprintf(stderr, "tuning %s for %s: strategy %s, %s executor, workers=%d, budget %zu\n",
                   workload_.Key().c_str(), target_.name.c_str(), f_.strategy.c_str(),
                   executor_->name().c_str(), executor_->workers(), f_.budget);
    if (f_.model.empty())
      if (auto s = Calibrate(); !s.ok()) return Fail(s.message());
    if (auto s = Search(); !s.ok()) return Fail(s.message());
    if (Interactive()) std::fprintf(stderr, "\n");
    if (auto s = VerifyAndReport(); !s.ok()) return Fail(s.message());
    return 0;
  }

 private:
  // --sim qemu,valgrind; --sim-options "OPTS" (one simulator) or "SIM:OPTS" (repeatable).
  Status ParseSimulators() {
    for (const auto& name : Split(f_.sims, ',')) {
      std::string n = Trim(name);
      if (n.empty()) return Error{"--sim '" + f_.sims + "': empty simulator name"};
      if (!Simulators().Contains(n)) return UnknownName("simulator", n, Simulators().Names());
      sims_.push_back({n, ""});
    }
    for (const auto& text : f_.sim_options) {
      auto colon = text.find(':');
      std::string name = colon == std::string::npos ? "" : text.substr(0, colon);
      bool named = std::any_of(sims_.begin(), sims_.end(), [&](const auto& s) { return s.name == name; });
      if (!named) {
        if (sims_.size() != 1)
          return Error{"--sim-options '" + text + "': with several simulators write SIM:OPTIONS"};
        sims_[0].options = text;
        continue;
      }
      for (auto& s : sims_)
        if (s.name == name) s.options = text.substr(colon + 1);
    }
    for (const auto& s : sims_) {
      auto sim = Simulators().Create(s.name, s.options);
      if (!sim.ok()) return sim.error();
      sim_keys_.push_back((*sim)->options_key());
    }
    return Status::Ok();
  }

  // Latest row per (candidate, simulator) with this tune's simulator options.
  Status LoadStoredSims() {
    SIMTUNE_ASSIGN_OR_RETURN(auto rows, store_->SimResults(wid_, target_.name));
    for (auto& row : rows) {
      for (size_t i = 0; i < sims_.size(); ++i)
        if (row.simulator == sims_[i].name && row.options == sim_keys_[i])
          stored_sims_[{row.candidate_id, i}] = row;   // rows come oldest first
    }
    return Status::Ok();
  }

  Result<Cand*> Register(const Config& config) {
    std::string text = FormatConfig(config, space_->knobs());
    auto it = by_text_.find(text);
    if (it != by_text_.end()) return &cands_[it->second];
    SIMTUNE_ASSIGN_OR_RETURN(int64_t id, store_->AddCandidate(wid_, text));
    Cand c;
    c.id = id;
    c.config = config;
    c.text = text;
    cands_.push_back(c);
    by_text_[text] = cands_.size() - 1;
    return &cands_.back();
  }

  // Fills `c` from the store when a previous run finished its job.
  Status FromStore(Cand& c) {
    SIMTUNE_ASSIGN_OR_RETURN(auto art, store_->LatestArtifact(c.id, target_.name));
    if (!art.has_value()) return Status::Ok();
    if (!art->artifact.ok()) {
      c.artifact = art->artifact;
      c.done = c.from_store = true;
      c.failed_stage = art->artifact.stage.empty() ? "build" : art->artifact.stage;
      return Status::Ok();
    }
    std::map<std::string, SimStats> stats;
    std::string failed;
    for (size_t i = 0; i < sims_.size(); ++i) {
      auto it = stored_sims_.find({c.id, i});
      if (it == stored_sims_.end()) return Status::Ok();   // not simulated yet: run the job
      if (it->second.status != "ok") {
        if (failed.empty()) failed = it->second.stage.empty() ? "simulate" : it->second.stage;
        continue;
      }
      auto j = nlohmann::json::parse(it->second.stats_json, nullptr, false);
      if (j.is_discarded()) return Error{"store: sim result " + std::to_string(it->second.id) + " has invalid statistics"};
      SIMTUNE_ASSIGN_OR_RETURN(stats[sims_[i].name],
                               SimStats::FromJson(j, "store sim result " + std::to_string(it->second.id)));
    }
    c.artifact = art->artifact;
    c.stats = std::move(stats);
    c.failed_stage = failed;
    c.ok = failed.empty();
    c.done = c.from_store = true;
    return Status::Ok();
  }

  // Runs (or answers from the store) every config; returns them in the same order.
  Result<std::vector<Cand*>> Execute(const std::vector<Config>& configs) {
    std::vector<Cand*> out;
    std::vector<Job> jobs;
    for (const auto& config : configs) {
      SIMTUNE_ASSIGN_OR_RETURN(Cand * c, Register(config));
      if (!c->done) SIMTUNE_RETURN_IF_ERROR(FromStore(*c));
      if (!c->done) jobs.push_back({c->id, c->config});
      out.push_back(c);
    }
    for (auto* c : out)
      if (c->done) Count(*c);
    Status write_error;
    std::map<int64_t, Cand*> by_id;
    for (auto* c : out) by_id[c->id] = c;
    auto batch_start = Clock::now();
    SIMTUNE_RETURN_IF_ERROR(executor_->Run(jobs, [&](JobResult r) {
      Cand& c = *by_id.at(r.id);
      if (write_error.ok()) write_error = Record(c, r);
      c.done = true;
      c.artifact = r.artifact;
      c.ok = r.ok();
      c.failed_stage = r.failed_stage();
      for (size_t i = 0; i < r.sims.size(); ++i)
        if (r.sims[i].ok()) c.stats[sims_[i].name] = r.sims[i].stats;
      ++ran_;
      ran_s_ += std::chrono::duration<double>(Clock::now() - batch_start).count();
      batch_start = Clock::now();
      Count(c);
    }));
    SIMTUNE_RETURN_IF_ERROR(write_error);
    return out;
  }

  Status Record(const Cand& c, const JobResult& r) {
    SIMTUNE_RETURN_IF_ERROR(store_->AddArtifact(c.id, r.artifact));
    for (size_t i = 0; i < r.sims.size(); ++i) {
      SimRow row;
      row.candidate_id = c.id;
      row.target = target_.name;
      row.simulator = sims_[i].name;
      row.options = sim_keys_[i];
      row.artifact_hash = r.artifact.hash;
      row.status = r.sims[i].status;
      row.stage = r.sims[i].stage;
      row.message = r.sims[i].message;
      row.wall_s = r.sims[i].wall_s;
      if (r.sims[i].ok()) row.stats_json = r.sims[i].stats.ToJson().dump();
      SIMTUNE_RETURN_IF_ERROR(store_->AddSimResult(row));
    }
    if (!r.ok() && Interactive()) {
      std::string msg = !r.artifact.ok() ? r.artifact.message : "";
      for (const auto& s : r.sims)
        if (!s.ok() && msg.empty()) msg = s.message;
      std::fprintf(stderr, "\rfailed [%s] %s: %s\n", r.failed_stage().c_str(), c.text.c_str(), msg.c_str());
    }
    return Status::Ok();
  }

  void Count(const Cand& c) {
    ++attempted_;
    if (c.from_store) ++from_store_;
    if (!c.ok) ++failed_by_stage_[c.failed_stage];
    Progress();
  }

  void Progress() {
    if (!Interactive()) return;
    size_t failed = 0;
    std::string stages;
    for (const auto& [stage, n] : failed_by_stage_) {
      failed += n;
      stages += (stages.empty() ? "" : ", ") + stage + " " + std::to_string(n);
    }
    std::string best = std::isfinite(best_score_) ? Fmt(best_score_) : "-";
    double per_job = ran_ > 0 ? ran_s_ / ran_ : 0;
    double eta = per_job * static_cast<double>(f_.budget > attempted_ ? f_.budget - attempted_ : 0);
    std::fprintf(stderr, "\r%zu/%zu candidates (%zu from the store), %zu failed%s%s%s, best predicted %s, eta %.0f s   ",
                 attempted_, f_.budget, from_store_, failed, stages.empty() ? "" : " (",
                 stages.c_str(), stages.empty() ? "" : ")", best.c_str(), eta);
  }

  FeatureInput Features(const Cand& c) const {
    FeatureInput in;
    in.candidate_id = c.id;
    in.group = static_cast<int>(wid_);
    in.y = std::numeric_limits<double>::quiet_NaN();
    in.features = ExtractFeatures(c.stats, workload_, c.config, c.artifact.flops, FeatureOptions{});
    return in;
  }

  // Scores every ok candidate with the current model (all together, so that features
  // defined relative to the candidates at hand stay comparable).
  Status ScoreAll() {
    std::vector<FeatureInput> rows;
    std::vector<Cand*> which;
    for (auto& c : cands_)
      if (c.done && c.ok) {
        rows.push_back(Features(c));
        which.push_back(&c);
      }
    if (rows.empty()) return Status::Ok();
    Dataset d = BuildDataset(rows, predictor_->feature_names());
    SIMTUNE_ASSIGN_OR_RETURN(Eigen::VectorXd s, predictor_->Predict(d));
    best_score_ = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < which.size(); ++i) {
      which[i]->score = s[static_cast<Eigen::Index>(i)];
      best_score_ = std::min(best_score_, which[i]->score);
    }
    return Status::Ok();
  }

  std::vector<Trial> Trials(const std::vector<Cand*>& cs) const {
    std::vector<Trial> out;
    for (const auto* c : cs) {
      Trial t;
      t.config = c->config;
      t.ok = c->ok && std::isfinite(c->score);
      t.score = c->score;
      out.push_back(t);
    }
    return out;
  }

  // Measures candidates on the reference (reusing stored results); returns the ok results.
  Result<std::map<int64_t, RefResult>> Measure(const std::vector<Cand*>& cs) {
    std::map<int64_t, RefResult> out;
    std::vector<Artifact> batch;
    std::vector<Cand*> batch_cands;
    std::unique_ptr<Builder> builder;
    for (auto* c : cs) {
      SIMTUNE_ASSIGN_OR_RETURN(auto done, store_->LatestOkRef(c->id, target_.name, f_.ref,
                                                              reference_->options_key(),
                                                              c->artifact.hash));
      if (done.has_value()) {
        out[c->id] = done->result;
        continue;
      }
      Artifact a = c->artifact;
      if (!std::filesystem::exists(a.elf)) {   // built on another machine, or cache cleared
        if (!builder) {
          BuildOptions bo;
          bo.cache_dir = f_.cache;
          bo.timeout_s = f_.build_timeout_s;
          builder = std::make_unique<Builder>(bo);
        }
        a = builder->Build(workload_, c->config, target_);
        if (!a.ok()) continue;
      }
      batch.push_back(a);
      batch_cands.push_back(c);
    }
    if (!batch.empty() && Interactive())
      std::fprintf(stderr, "\rmeasuring %zu candidates on %s (%s)%30s\n", batch.size(), f_.ref.c_str(),
                   reference_->options_key().c_str(), "");
    std::vector<int64_t> ids;
    for (const Cand* c : batch_cands) ids.push_back(c->id);
    std::vector<RefResult> results;
    if (!batch.empty()) {
      SIMTUNE_ASSIGN_OR_RETURN(results, MeasureAndStore(*reference_, batch, ids, target_, *store_));
    }
    measured_now_ += batch.size();
    for (size_t i = 0; i < batch.size(); ++i)
      if (results[i].ok()) out[ids[i]] = results[i];
    return out;
  }

  Status Fit(const std::vector<Cand*>& cs, const std::map<int64_t, RefResult>& refs) {
    std::vector<FeatureInput> rows;
    for (auto* c : cs) {
      auto it = refs.find(c->id);
      if (it == refs.end() || !c->ok) continue;
      FeatureInput in = Features(*c);
      in.y = it->second.value;
      rows.push_back(in);
    }
    if (rows.size() < 2)
      return Error{"calibration: only " + std::to_string(rows.size()) +
                   " candidates measured ok on " + f_.ref + "; need at least 2 to fit " + predictor_->name()};
    auto fitted = predictor_->Fit(BuildDataset(rows));
    if (!fitted.ok()) return Wrap(fitted.error(), "calibration: fitting " + predictor_->name());
    trained_rows_ = rows.size();
    return Status::Ok();
  }

  // The calibration pool is a seeded random sample (independent of the strategy), simulated
  // like any candidate and counted in the budget. Of its ok candidates, `calibrate` are
  // measured: stratified by the first simulator's instruction count, i.e. the candidates
  // at evenly spaced quantiles of it (the fastest- and slowest-looking included), so the
  // model sees the whole range of behaviour instead of a random clump.
  Status Calibrate() {
    size_t pool_size = std::min(f_.budget, static_cast<size_t>(3 * f_.calibrate));
    auto pool_configs = space_->Sample(pool_size, f_.seed * 7919 + 17);
    SIMTUNE_ASSIGN_OR_RETURN(auto pool, Execute(pool_configs));
    std::vector<Cand*> ok;
    for (auto* c : pool)
      if (c->ok && c->stats.count(sims_[0].name)) ok.push_back(c);
    std::stable_sort(ok.begin(), ok.end(), [&](const Cand* a, const Cand* b) {
      return a->stats.at(sims_[0].name).insn_count < b->stats.at(sims_[0].name).insn_count;
    });
    size_t k = std::min(ok.size(), static_cast<size_t>(f_.calibrate));
    std::vector<Cand*> chosen;
    for (size_t i = 0; i < k; ++i)
      chosen.push_back(ok[k == 1 ? 0 : i * (ok.size() - 1) / (k - 1)]);
    SIMTUNE_ASSIGN_OR_RETURN(auto refs, Measure(chosen));
    SIMTUNE_RETURN_IF_ERROR(Fit(chosen, refs));
    calibration_ = chosen;
    calibration_rows_ = trained_rows_;
    SIMTUNE_RETURN_IF_ERROR(ScoreAll());
    strategy_->Notify(Trials(pool));
    return Status::Ok();
  }

  Status Search() {
    while (attempted_ < f_.budget) {
      double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
      if (f_.time_budget_s > 0 && elapsed >= f_.time_budget_s) {
        stopped_by_time_ = true;
        break;
      }
      auto configs = strategy_->Propose(std::min(f_.batch, f_.budget - attempted_));
      if (configs.empty()) break;   // the strategy has nothing left (space exhausted)
      SIMTUNE_ASSIGN_OR_RETURN(auto batch, Execute(configs));
      SIMTUNE_RETURN_IF_ERROR(ScoreAll());
      strategy_->Notify(Trials(batch));
    }
    return Status::Ok();
  }

  std::vector<Cand*> Ranked() {
    std::vector<Cand*> ranked;
    for (auto& c : cands_)
      if (c.done && c.ok && std::isfinite(c.score)) ranked.push_back(&c);
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const Cand* a, const Cand* b) { return a->score < b->score; });
    return ranked;
  }

  Status StorePredictions(const std::string& model) {
    for (auto* c : Ranked()) {
      PredictionRow row;
      row.candidate_id = c->id;
      row.target = target_.name;
      row.model = model;
      row.score = c->score;
      SIMTUNE_RETURN_IF_ERROR(store_->AddPrediction(row));
    }
    return Status::Ok();
  }

  Status VerifyAndReport() {
    double search_s = std::chrono::duration<double>(Clock::now() - start_).count();
    std::string model_name = "tune:" + (f_.model.empty() ? predictor_->name() : f_.model);
    SIMTUNE_RETURN_IF_ERROR(StorePredictions(model_name));
    auto ranked = Ranked();
    std::map<int64_t, size_t> predicted_rank;
    std::map<int64_t, double> search_score;   // the scores the search ranked by (before the refit)
    for (size_t i = 0; i < ranked.size(); ++i) {
      predicted_rank[ranked[i]->id] = i + 1;
      search_score[ranked[i]->id] = ranked[i]->score;
    }
    std::vector<Cand*> top(ranked.begin(), ranked.begin() + std::min(ranked.size(), static_cast<size_t>(f_.verify_top)));
    std::map<int64_t, RefResult> verified;
    if (!top.empty()) {
      SIMTUNE_ASSIGN_OR_RETURN(verified, Measure(top));
      // Refit on every measurement of this tune (calibration + verification).
      if (f_.model.empty()) {
        std::vector<Cand*> all = calibration_;
        all.insert(all.end(), top.begin(), top.end());
        SIMTUNE_ASSIGN_OR_RETURN(auto refs, Measure(all));
        if (Fit(all, refs).ok() && ScoreAll().ok())
          SIMTUNE_RETURN_IF_ERROR(StorePredictions(model_name + ":refit"));
      }
    }
    if (!f_.save_model.empty())
      SIMTUNE_RETURN_IF_ERROR(SaveModel(f_.save_model, *predictor_, kFeatureSchemaVersion));

    size_t failed = 0;
    std::string stages;
    for (const auto& [stage, n] : failed_by_stage_) {
      failed += n;
      stages += ", failed at " + stage + " " + std::to_string(n);
    }
    std::printf("tuned %s for %s: %zu candidates (%zu from the store, %zu run now), ok %zu%s\n",
                workload_.Key().c_str(), target_.name.c_str(), attempted_, from_store_, ran_,
                attempted_ - failed, stages.c_str());
    std::printf("strategy %s, simulators %s, %s executor, workers=%d, %.1f s%s\n",
                f_.strategy.c_str(), f_.sims.c_str(), executor_->name().c_str(), executor_->workers(),
                search_s, stopped_by_time_ ? " (stopped by --time-budget)" : "");
    if (f_.model.empty())
      std::printf("calibration: model fit on %zu candidates measured on %s (%zu chosen from a random pool, stratified by %s instruction count), model %s\n",
                  calibration_rows_, f_.ref.c_str(), calibration_.size(),
                  sims_[0].name.c_str(), predictor_->name().c_str());
    if (top.empty()) {
      std::printf("no candidate verified\n");
      return Status::Ok();
    }
    std::printf("verified the top %zu predicted on %s (%s):\n", top.size(), f_.ref.c_str(),
                reference_->options_key().c_str());
    std::printf("%9s  %12s  %12s  %7s  %s\n", "predicted", "score", "measured", "spread", "config");
    Cand* best = nullptr;
    for (auto* c : top) {
      auto it = verified.find(c->id);
      std::string measured = it == verified.end() ? "failed" : FmtTime(it->second.value, it->second.unit);
      std::string spread = it == verified.end() ? "-" : Fmt(100 * it->second.spread, "%.1f") + "%";
      std::printf("%9zu  %12s  %12s  %7s  %s\n", predicted_rank[c->id], Fmt(search_score[c->id]).c_str(),
                  measured.c_str(), spread.c_str(), c->text.c_str());
      if (it != verified.end() && (!best || it->second.value < verified.at(best->id).value)) best = c;
    }
    if (!best) {
      std::printf("no verified candidate ran ok on %s\n", f_.ref.c_str());
      return Status::Ok();
    }
    const RefResult& r = verified.at(best->id);
    std::printf("best verified: %s  %s (predicted rank %zu of %zu)\n", best->text.c_str(),
                FmtTime(r.value, r.unit).c_str(), predicted_rank[best->id], ranked.size());
    return Status::Ok();
  }

  TuneFlags f_;
  Clock::time_point start_;
  Target target_;
  Workload workload_;
  std::unique_ptr<Space> space_;
  std::unique_ptr<Strategy> strategy_;
  std::unique_ptr<Predictor> predictor_;
  std::unique_ptr<Reference> reference_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Store> store_;
  std::vector<SimulatorSpec> sims_;
  std::vector<std::string> sim_keys_;
  int64_t wid_ = 0;
  std::map<std::pair<int64_t, size_t>, SimRow> stored_sims_;
  std::deque<Cand> cands_;                  // deque: pointers stay valid as it grows
  std::map<std::string, size_t> by_text_;
  std::vector<Cand*> calibration_;
  size_t attempted_ = 0, from_store_ = 0, ran_ = 0, measured_now_ = 0, trained_rows_ = 0,
         calibration_rows_ = 0;
  double ran_s_ = 0;
  double best_score_ = std::numeric_limits<double>::quiet_NaN();
  bool stopped_by_time_ = false;
  std::map<std::string, size_t> failed_by_stage_;
};

int RunTune(const TuneFlags& f) {
  if (f.executor != "mpi") return Tuner(f).Run();
  auto world = MpiInit();
  if (!world.ok()) return Fail(world.message());
  int rc = world->rank == 0 ? Tuner(f).Run() : RunMpiWorker();
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
  cmd->add_option("--strategy", f->strategy, "search strategy: exhaustive, random, evolutionary, annealing, model-guided");
  cmd->add_option("--strategy-options", f->strategy_options, "strategy options, key=value,...");
  cmd->add_option("--sim", f->sims, "simulators, comma-separated (qemu[,valgrind])");
  cmd->add_option("--sim-options", f->sim_options, "simulator options: OPTS, or SIM:OPTS with several simulators; repeatable");
  cmd->add_option("--predictor", f->predictor, "predictor to calibrate (see predictor.h)");
  cmd->add_option("--predictor-options", f->predictor_options, "predictor options, key=value,...");
  cmd->add_option("--model", f->model, "a trained model file (skips calibration)");
  cmd->add_option("--save-model", f->save_model, "write the final (refit) model to this file");
  cmd->add_option("--ref", f->ref, "reference (default: the target's first)");
  cmd->add_option("--ref-options", f->ref_options, "reference options, key=value,...");
  cmd->add_option("--verify-top", f->verify_top, "measure the k best predicted on the reference");
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
