// The tune job (`simtune tune`): the tuning loop.
//
//   calibrate (no --model): simulate a seeded random pool, measure a well-spread subset of it
//       on the reference, fit the predictor
//   search:  propose (strategy) -> build + verify + simulate (executor, in parallel)
//            -> predict (predictor) -> notify the strategy -> ... until the budget
//   verify:  measure the top k predicted on the reference, refit on every measurement,
//            report the best verified candidate
//   (--verify-during-search: after each batch, the reference measures the best predicted
//   candidate not yet measured on a thread of its own, while the next batch simulates)
//
// With drive "reference" (measure every trial, the baseline simtune is compared with):
//   search:  propose (strategy) -> build + verify (executor, in parallel) -> measure each on
//            the reference, one at a time -> notify the strategy with the measurements -> ...
// No simulator, model or calibration; the trace gets a point after every measurement.
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
#include <ctime>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "simtune/exec.h"
#include "simtune/features.h"
#include "simtune/paths.h"
#include "simtune/pipeline.h"
#include "simtune/predictor.h"
#include "simtune/reference.h"
#include "simtune/search.h"
#include "simtune/store.h"
#include "simtune/strings.h"
#include "simtune/target.h"
#include "simtune/training.h"
#include "simtune/workload.h"
#include "src/pipeline/measured.h"
#include "src/pipeline/sim_row.h"
#include "src/reference/ref_row.h"

namespace simtune::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

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
  std::string message;                       // the first failure's, when run now
};

}  // namespace

class TuneJob::Tuner {
 public:
  explicit Tuner(const TuneJobOptions& f) : f_(f) {}

  // Everything that can be checked before the store is touched, in the order the CLI checks
  // its flags.
  Status Prepare() {
    if (f_.budget == 0) return Error{"--budget must be at least 1"};
    if (f_.batch == 0) return Error{"--batch must be at least 1"};
    if (f_.verify_top < 0) return Error{"--top must be >= 0; got " + std::to_string(f_.verify_top)};
    if (f_.executor != "local" && f_.executor != "mpi") return UnknownName("executor", f_.executor, {"local", "mpi"});
    SIMTUNE_ASSIGN_OR_RETURN(target_, LoadTarget(f_.target));
    SIMTUNE_ASSIGN_OR_RETURN(workload_, ParseWorkload(f_.workload));
    SIMTUNE_ASSIGN_OR_RETURN(space_, MakeSpace(workload_));
    SIMTUNE_ASSIGN_OR_RETURN(strategy_, Strategies().Create(f_.strategy, f_.strategy_options));
    SIMTUNE_RETURN_IF_ERROR(strategy_->Init(*space_, f_.seed));
    if (f_.drive != "simulate" && f_.drive != "reference")
      return UnknownName("drive", f_.drive, {"simulate", "reference"});
    if (by_reference()) return PrepareMeasuring();
    if (f_.model.empty() && f_.shipped_model) {
      // A model trained on the corpus and shipped for this target (issue 11): rank without
      // measuring anything on the reference.
      const std::filesystem::path shipped = DataDir() / "models" / (target_.name + ".json");
      if (std::filesystem::exists(shipped)) f_.model = shipped.string();
    }
    if (!f_.model.empty()) {
      // A model file from `simtune train` or `tune --save-model` records the data it was
      // trained on; a bare predictor file (older --save-model) does not.
      auto trained = LoadTrainedModel(f_.model);
      if (trained.ok()) {
        predictor_ = std::move(trained->predictor);
        model_spec_ = trained->data;
        model_trained_on_ = trained->trained_on;
        score_unit_ = trained->unit;
      } else {
        SIMTUNE_ASSIGN_OR_RETURN(predictor_, LoadModel(f_.model, kFeatureSchemaVersion));
        score_unit_ = PredictionUnit(*predictor_, "unknown");
        warnings_.push_back("model " + f_.model + " records no target, reference or unit (" + trained.message() +
                            "): its predictions are shown in an unknown unit");
      }
    } else {
      SIMTUNE_ASSIGN_OR_RETURN(predictor_, Predictors().Create(f_.predictor, f_.predictor_options));
    }
    if (f_.simulators.empty()) {
      // No --sim: the simulators the model was trained on for this target (its features come
      // from them), else the target's first.
      if (model_spec_ && model_spec_->sim_target == target_.name && !model_spec_->simulators.empty())
        f_.simulators = Join(model_spec_->simulators, ",");
      else if (target_.simulators.empty())
        return Error{"target '" + target_.name + "' lists no simulators; pass --sim"};
      else
        f_.simulators = target_.simulators.front();
    }
    SIMTUNE_RETURN_IF_ERROR(ParseSimulators());
    bool need_ref = f_.model.empty() || f_.verify_top > 0;
    if (need_ref) {
      if (f_.reference.empty()) {
        if (target_.references.empty())
          return Error{"target '" + target_.name +
                       "' has no reference to calibrate and verify on; pass --ref, or --model FILE "
                       "with --top 0"};
        f_.reference = target_.references.front();
      }
      SIMTUNE_RETURN_IF_ERROR(CreateReference());
    }
    if (model_spec_) {
      DataSpec used = UsedSpec();
      if (used.reference.empty()) {   // --top 0: nothing is measured
        used.reference = model_spec_->reference;
        used.ref_target = model_spec_->effective_ref_target();
      }
      for (auto& w : ModelMismatchWarnings("model " + f_.model, *model_spec_, used)) warnings_.push_back(w);
      for (auto& w : TargetConfigurationWarnings("model " + f_.model, model_trained_on_, target_,
                                                 model_spec_->simulators))
        warnings_.push_back(w);
    }
    if (f_.model.empty() && f_.calibrate < 2)
      return Error{"--calibrate must be at least 2 when no --model is given; got " + std::to_string(f_.calibrate)};
    if (f_.verify_during_search && f_.verify_top == 0)
      return Error{"--verify-during-search has nothing to measure with --top 0"};
    if (f_.verify_during_search && f_.reference == "native")
      warnings_.push_back("--verify-during-search with the native reference: candidates are timed on this machine "
                          "while it simulates, so their times carry the simulators' load");
    return MakeExecutor();
  }

  // Drive "reference": no simulator, model or calibration; a reference is required.
  Status PrepareMeasuring() {
    if (!f_.model.empty())
      return Error{"--model '" + f_.model + "' has no use with --drive reference: every candidate is measured"};
    if (f_.verify_during_search)
      return Error{"--verify-during-search has no use with --drive reference: every candidate is measured"};
    if (!f_.simulators.empty())
      return Error{"--sim '" + f_.simulators + "' has no use with --drive reference: nothing is simulated"};
    if (f_.reference.empty()) {
      if (target_.references.empty())
        return Error{"target '" + target_.name + "' has no reference to measure on; pass --ref"};
      f_.reference = target_.references.front();
    }
    SIMTUNE_RETURN_IF_ERROR(CreateReference());
    return MakeExecutor();
  }

  // reference_ from f_.reference with the target's and the user's options; its warnings about
  // the target (e.g. the host's caches differ from the target's) join warnings_.
  Status CreateReference() {
    SIMTUNE_ASSIGN_OR_RETURN(reference_, References().Create(f_.reference, MergeReferenceOptions(
                                                                              target_, f_.reference,
                                                                              f_.reference_options)));
    for (auto& w : reference_->Warnings(target_)) warnings_.push_back(w);
    return Status::Ok();
  }

  Status MakeExecutor() {
    JobContext context;
    context.workload = workload_.Key();
    context.target = target_.source.empty() ? target_.name : target_.source.string();
    context.simulators = sims_;
    context.build.cache_dir = f_.cache;
    context.build.timeout_s = f_.build_timeout_s;
    context.verify = f_.verify;
    context.verify_timeout_s = f_.verify_timeout_s;
    SIMTUNE_ASSIGN_OR_RETURN(executor_, f_.executor == "mpi" ? MakeMpiExecutor(context)
                                                             : MakeLocalExecutor(context, f_.jobs));
    workload_key_ = workload_.Key();
    executor_name_ = executor_->name();
    return Status::Ok();
  }

  Result<TuneJobResult> Run(Store& store, const ProgressFn& progress) {
    start_ = Clock::now();
    started_ = UtcNow("%Y-%m-%dT%H:%M:%SZ");
    store_ = &store;
    progress_ = progress;
    SIMTUNE_ASSIGN_OR_RETURN(wid_, store_->AddWorkload(workload_));
    SIMTUNE_RETURN_IF_ERROR(LoadStoredSims());
    if (progress_) {
      Progress p;
      p.job = "tune";
      p.event = "start";
      p.total = f_.budget;
      progress_(p);
    }
    if (by_reference()) {
      SIMTUNE_RETURN_IF_ERROR(SearchByMeasuring());
    } else {
      if (f_.model.empty()) SIMTUNE_RETURN_IF_ERROR(Calibrate());
      SIMTUNE_RETURN_IF_ERROR(Search());
    }
    if (progress_) {
      Progress p;
      p.job = "tune";
      p.event = "searched";
      p.done = attempted_;
      p.total = f_.budget;
      progress_(p);
    }
    SIMTUNE_RETURN_IF_ERROR(by_reference() ? FinishMeasured() : Verify());
    return std::move(result_);
  }

  const std::string& workload_key() const { return workload_key_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::string& target_name() const { return target_.name; }
  const std::string& executor_name() const { return executor_name_; }
  int workers() const { return executor_->workers(); }

 private:
  bool by_reference() const { return f_.drive == "reference"; }

  // The data this tune scores and measures, as a model file records it.
  DataSpec UsedSpec() const {
    DataSpec s;
    s.sim_target = target_.name;
    s.simulators.clear();
    for (const auto& sim : sims_) s.simulators.push_back(sim.name);
    s.ref_target = target_.name;
    s.reference = f_.reference;
    s.features = FeatureOptions{};   // Features() below
    return s;
  }

  // --sim qemu,valgrind; --sim-options "OPTS" (one simulator) or "SIM:OPTS" (repeatable).
  Status ParseSimulators() {
    for (const auto& name : Split(f_.simulators, ',')) {
      std::string n = Trim(name);
      if (n.empty()) return Error{"--sim '" + f_.simulators + "': empty simulator name"};
      if (!Simulators().Contains(n)) return UnknownName("simulator", n, Simulators().Names());
      sims_.push_back({n, ""});
    }
    for (const auto& text : f_.simulator_options) {
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
  // after_each (optional) runs on this thread after each candidate that ran has been recorded;
  // while_waiting (optional) about every 20 ms while the executor waits for the next one.
  Result<std::vector<Cand*>> Execute(const std::vector<Config>& configs,
                                     const std::function<Status()>& after_each = nullptr,
                                     const std::function<Status()>& while_waiting = nullptr) {
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
      c.message = !r.artifact.ok() ? r.artifact.message : "";
      for (const auto& s : r.sims)
        if (!s.ok() && c.message.empty()) c.message = s.message;
      for (size_t i = 0; i < r.sims.size(); ++i)
        if (r.sims[i].ok()) c.stats[sims_[i].name] = r.sims[i].stats;
      ++ran_;
      ran_s_ += std::chrono::duration<double>(Clock::now() - batch_start).count();
      batch_start = Clock::now();
      Count(c);
      if (after_each && write_error.ok()) write_error = after_each();
    }, Executor::WhileWaiting{while_waiting ? std::function<void()>([&] {
          if (write_error.ok()) write_error = while_waiting();
        }) : std::function<void()>()}));
    SIMTUNE_RETURN_IF_ERROR(write_error);
    return out;
  }

  Status Record(const Cand& c, const JobResult& r) {
    SIMTUNE_RETURN_IF_ERROR(store_->AddArtifact(c.id, r.artifact));
    for (size_t i = 0; i < r.sims.size(); ++i) {
      SIMTUNE_RETURN_IF_ERROR(store_->AddSimResult(
          MakeSimRow(c.id, target_.name, sims_[i].name, sim_keys_[i], r.artifact.hash, r.sims[i])));
    }
    return Status::Ok();
  }

  void Count(const Cand& c) {
    ++attempted_;
    if (c.from_store) ++from_store_;
    if (!c.ok) ++failed_by_stage_[c.failed_stage];
    if (!progress_) return;
    Progress p;
    p.job = "tune";
    p.event = "candidate";
    p.done = attempted_;
    p.total = f_.budget;
    for (const auto& [stage, n] : failed_by_stage_) p.failed += n;
    p.failed_by_stage = failed_by_stage_;
    p.from_store = from_store_;
    double per_job = ran_ > 0 ? ran_s_ / ran_ : 0;
    p.eta_s = per_job * static_cast<double>(f_.budget > attempted_ ? f_.budget - attempted_ : 0);
    p.best_score = best_score_;
    p.score_unit = score_unit_;
    p.candidate_id = c.id;
    p.config = c.text;
    p.status = c.ok ? "ok" : "failed";
    p.stage = c.failed_stage;
    p.message = c.message;
    p.ran = !c.from_store;
    progress_(p);
  }

  FeatureInput Features(const Cand& c) const {
    FeatureInput in;
    in.candidate_id = c.id;
    in.group = ScoringGroup(static_cast<int>(wid_));
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
      SIMTUNE_ASSIGN_OR_RETURN(auto done, FindStoredRef(*reference_, target_, c->id, c->artifact.hash, *store_));
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
    if (!batch.empty() && progress_ && !by_reference()) {
      Progress p;
      p.job = "tune";
      p.event = "measure";
      p.total = batch.size();
      p.reference = f_.reference;
      p.reference_options = reference_->options_key();
      progress_(p);
    }
    std::vector<int64_t> ids;
    for (const Cand* c : batch_cands) ids.push_back(c->id);
    std::vector<RefResult> results;
    if (!batch.empty()) {
      SIMTUNE_ASSIGN_OR_RETURN(results, MeasureAndStore(*reference_, batch, ids, target_, *store_));
    }
    measured_now_ += batch.size();
    for (size_t i = 0; i < batch.size(); ++i)
      if (results[i].ok()) out[ids[i]] = results[i];
    for (const auto& [id, r] : out) NoteVerified(id, r);
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
      reference_unit_ = it->second.unit;
    }
    if (rows.size() < 2)
      return Error{"calibration: only " + std::to_string(rows.size()) +
                   " candidates measured ok on " + f_.reference + "; need at least 2 to fit " + predictor_->name()};
    auto fitted = predictor_->Fit(BuildDataset(rows));
    if (!fitted.ok()) return Wrap(fitted.error(), "calibration: fitting " + predictor_->name());
    trained_rows_ = rows.size();
    score_unit_ = PredictionUnit(*predictor_, reference_unit_);
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
    NotifyStrategy(pool);
    AddPoint("calibrate");
    return Status::Ok();
  }

  // The strategy's next batch; empty when the budget, the time budget or the space is spent.
  std::vector<Config> NextBatch() {
    if (attempted_ >= f_.budget) return {};
    double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    if (f_.time_budget_s > 0 && elapsed >= f_.time_budget_s) {
      stopped_by_time_ = true;
      return {};
    }
    return strategy_->Propose(std::min(f_.batch, f_.budget - attempted_));
  }

  Status Search() {
    // --verify-during-search keeps the reference busy: whenever it is idle, a candidate that
    // has just been simulated may be the one to measure next (the first one of the tune is
    // measured as soon as it is simulated, as measure-every-trial would), not only at the end
    // of a batch. A measurement that ends while the simulators are still busy is collected
    // (and the next one started) within ~20 ms, not when the next simulation ends.
    std::function<Status()> between, waiting;
    if (f_.verify_during_search) {
      between = [this]() -> Status {
        bool was = early_.has_value();
        SIMTUNE_RETURN_IF_ERROR(CollectEarly(/*wait=*/false));
        if (was && !early_) AddPoint("search");
        if (early_) return Status::Ok();
        SIMTUNE_RETURN_IF_ERROR(ScoreAll());
        return LaunchEarly();
      };
      waiting = [this, &between]() -> Status { return EarlyDone() ? between() : Status::Ok(); };
    }
    for (auto configs = NextBatch(); !configs.empty(); configs = NextBatch()) {
      SIMTUNE_ASSIGN_OR_RETURN(auto batch, Execute(configs, between, waiting));
      SIMTUNE_RETURN_IF_ERROR(ScoreAll());
      RescoreNotified();
      NotifyStrategy(batch);
      if (f_.verify_during_search) {
        SIMTUNE_RETURN_IF_ERROR(CollectEarly(/*wait=*/false));
        SIMTUNE_RETURN_IF_ERROR(LaunchEarly());
      }
      AddPoint("search");
    }
    if (early_) {
      SIMTUNE_RETURN_IF_ERROR(CollectEarly(/*wait=*/true));
      AddPoint("search");
    }
    return Status::Ok();
  }

  // ScoreAll scores every candidate together (features relative to the candidates at hand),
  // so a candidate notified in an earlier batch may have a new score now: the strategy gets
  // it (Rescore) before the new batch, else it would rank old scores against new ones.
  void RescoreNotified() {
    std::vector<Cand*> changed;
    for (auto& c : cands_) {
      auto it = notified_score_.find(c.id);
      if (it == notified_score_.end() || !std::isfinite(c.score) || it->second == c.score) continue;
      it->second = c.score;
      changed.push_back(&c);
    }
    if (!changed.empty()) strategy_->Rescore(Trials(changed));
  }

  // Notifies the strategy and remembers the scores it got (RescoreNotified).
  void NotifyStrategy(const std::vector<Cand*>& cs) {
    strategy_->Notify(Trials(cs));
    for (const Cand* c : cs)
      if (c->ok && std::isfinite(c->score)) notified_score_[c->id] = c->score;
  }

  // --verify-during-search: one measurement in flight at most (the reference is one device).
  // The thread only runs the reference; the store and the tune's state are touched on this
  // thread, when the result is collected.
  struct EarlyMeasurement {
    const Cand* cand = nullptr;
    std::future<std::vector<RefResult>> result;
  };

  // Starts measuring the best of the current top verify_top (distinct statistics) that has
  // not been measured yet; nothing when one is in flight or the top is measured. A stored
  // result (resume) counts as measured without a run.
  Status LaunchEarly() {
    if (early_) return Status::Ok();
    for (Cand* c : DistinctTop(Ranked(), static_cast<size_t>(f_.verify_top))) {
      if (!early_tried_.insert(c->id).second) continue;
      SIMTUNE_ASSIGN_OR_RETURN(auto done, FindStoredRef(*reference_, target_, c->id, c->artifact.hash, *store_));
      if (done.has_value()) {
        NoteEarly(*c, done->result);
        continue;
      }
      if (!std::filesystem::exists(c->artifact.elf)) continue;   // built elsewhere: left to the end
      early_.emplace();
      early_->cand = c;
      Reference* ref = reference_.get();
      const Target* target = &target_;
      early_->result = std::async(std::launch::async, [ref, target, a = c->artifact] {
        return ref->Measure({a}, *target);
      });
      return Status::Ok();
    }
    return Status::Ok();
  }

  // Whether a measurement is in flight and has ended.
  bool EarlyDone() const {
    return early_ && early_->result.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }

  // Stores the measurement in flight once it is done (wait: block until it is).
  Status CollectEarly(bool wait) {
    if (!early_ || (!wait && !EarlyDone())) return Status::Ok();
    std::vector<RefResult> results = early_->result.get();
    SIMTUNE_CHECK(results.size() == 1);
    const Cand& c = *early_->cand;
    early_.reset();
    SIMTUNE_RETURN_IF_ERROR(store_->AddRefResult(MakeRefRow(*reference_, target_, c.id, c.artifact.hash, results[0])));
    ++measured_now_;
    if (results[0].ok()) NoteEarly(c, results[0]);
    return Status::Ok();
  }

  void NoteEarly(const Cand& c, const RefResult& r) {
    early_ok_[c.id] = r;
    NoteVerified(c.id, r);
  }

  // The best verified so far, for the trace and the tune's unit of measurements.
  void NoteVerified(int64_t id, const RefResult& r) {
    if (verified_unit_.empty()) verified_unit_ = r.unit;
    if (!std::isfinite(best_verified_) || r.value < best_verified_) {
      best_verified_ = r.value;
      best_verified_id_ = id;
    }
  }

  // Drive "reference": every ok candidate of a batch is measured on its own (the reference is
  // one device), the measurement is its score, and the strategy learns from those.
  Status SearchByMeasuring() {
    for (auto configs = NextBatch(); !configs.empty(); configs = NextBatch()) {
      SIMTUNE_ASSIGN_OR_RETURN(auto batch, Execute(configs));
      for (Cand* c : batch) {
        if (!c->ok || std::isfinite(c->score)) continue;
        SIMTUNE_ASSIGN_OR_RETURN(auto refs, Measure({c}));
        auto it = refs.find(c->id);
        if (it == refs.end()) {
          ++failed_by_stage_["measure"];   // a failed reference row is in the store
          continue;
        }
        c->score = it->second.value;
        measured_[c->id] = it->second;
        if (!(c->score >= best_score_)) best_score_ = c->score;
        score_unit_ = it->second.unit;
        AddPoint("measure");
      }
      strategy_->Notify(Trials(batch));
    }
    return Status::Ok();
  }

  // Drive "reference": the result lists what was measured, fastest first.
  Status FinishMeasured() {
    double search_s = std::chrono::duration<double>(Clock::now() - start_).count();
    AddPoint("done");
    SIMTUNE_RETURN_IF_ERROR(StoreRun("measure-every-trial"));
    TuneJobResult& out = result_;
    FillSummary(out, search_s);
    // Under this drive a candidate's score is finite only once measured (its measurement).
    std::vector<Cand*> ranked = Ranked();
    for (size_t i = 0; i < ranked.size(); ++i) {
      TunedCandidate t{ranked[i]->id, ranked[i]->text, ranked[i]->score, i + 1, measured_.at(ranked[i]->id)};
      out.ranking.push_back(t);
      if (i < static_cast<size_t>(f_.verify_top)) out.verified.push_back(t);
    }
    if (!out.verified.empty()) out.best = 0;
    return Status::Ok();
  }

  // The unit of the model's scores: the reference's when it predicts run time.
  std::string PredictedUnit() const {
    if (!predictor_) return "";
    if (!predictor_->predicts_time()) return "score";
    return verified_unit_.empty() ? "" : verified_unit_;
  }

  // What the tune knows now, for the tuning curve of `simtune report`.
  void AddPoint(const std::string& phase) {
    TunePoint p;
    p.elapsed_s = std::chrono::duration<double>(Clock::now() - start_).count();
    p.simulations = static_cast<int64_t>(attempted_);
    p.phase = phase;
    p.best_predicted = std::numeric_limits<double>::quiet_NaN();
    for (const auto& c : cands_)
      if (!by_reference() && c.done && c.ok && std::isfinite(c.score) && !(c.score >= p.best_predicted)) {
        p.best_predicted = c.score;
        p.best_predicted_candidate = c.id;
      }
    p.best_verified = best_verified_;
    p.best_verified_candidate = best_verified_id_;
    points_.push_back(p);
  }

  Status StoreRun(const std::string& model_name) {
    TuneRunRow row;
    row.workload_id = wid_;
    row.target = target_.name;
    row.started = started_;
    row.settings_json = nlohmann::json{{"drive", f_.drive},
                                       {"strategy", f_.strategy},
                                       {"strategy_options", f_.strategy_options},
                                       {"simulators", f_.simulators},
                                       {"predictor", predictor_ ? predictor_->name() : ""},
                                       {"model", model_name},
                                       {"reference", f_.reference},
                                       {"budget", f_.budget},
                                       {"calibrate", f_.calibrate},
                                       {"verify_top", f_.verify_top},
                                       {"batch", f_.batch},
                                       {"seed", f_.seed},
                                       {"executor", executor_->name()},
                                       {"workers", executor_->workers()}}
                            .dump();
    row.predicted_unit = PredictedUnit();
    row.verified_unit = verified_unit_;
    row.points = points_;
    SIMTUNE_RETURN_IF_ERROR(store_->AddTuneRun(row));
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

  // The k best predicted, skipping a candidate whose ROI statistics (every simulator's, minus
  // backend extras) equal those of one already chosen: the simulators cannot tell them apart
  // (e.g. variants that differ only in the order of loops that run once), so measuring both
  // spends the reference on one question. Such twins refill the list, in rank order, only when
  // there are fewer than k distinct candidates.
  static std::string StatsKey(const Cand& c) {
    std::string key;
    for (const auto& [sim, stats] : c.stats) {
      nlohmann::json j = stats.ToJson();
      j.erase("extra");
      key += sim + "=" + j.dump() + ";";
    }
    return key;
  }
  static std::vector<Cand*> DistinctTop(const std::vector<Cand*>& ranked, size_t k) {
    std::vector<Cand*> top, twins;
    std::set<std::string> chosen;
    for (auto* c : ranked) {
      if (top.size() == k) break;
      if (c->stats.empty() || chosen.insert(StatsKey(*c)).second) top.push_back(c);
      else twins.push_back(c);
    }
    for (size_t i = 0; i < twins.size() && top.size() < k; ++i) top.push_back(twins[i]);
    std::stable_sort(top.begin(), top.end(), [](const Cand* a, const Cand* b) { return a->score < b->score; });
    return top;
  }

  Status StorePredictions(const std::string& model) {
    for (auto* c : Ranked()) {
      PredictionRow row;
      row.candidate_id = c->id;
      row.target = target_.name;
      row.model = model;
      row.score = c->score;
      row.unit = PredictedUnit();
      SIMTUNE_RETURN_IF_ERROR(store_->AddPrediction(row));
    }
    return Status::Ok();
  }

  Status Verify() {
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
    std::vector<Cand*> top = DistinctTop(ranked, static_cast<size_t>(f_.verify_top));
    std::map<int64_t, RefResult> verified;
    if (!top.empty()) {
      SIMTUNE_ASSIGN_OR_RETURN(verified, Measure(top));
      // Measured during the search but no longer among the top: listed too (measured is known).
      std::set<int64_t> listed;
      for (const Cand* c : top) listed.insert(c->id);
      for (Cand* c : ranked)
        if (early_ok_.count(c->id) && listed.insert(c->id).second) {
          top.push_back(c);
          verified[c->id] = early_ok_.at(c->id);
        }
      // Refit on every measurement of this tune (calibration + verification).
      if (f_.model.empty()) {
        std::vector<Cand*> all = calibration_;
        all.insert(all.end(), top.begin(), top.end());
        SIMTUNE_ASSIGN_OR_RETURN(auto refs, Measure(all));
        if (Fit(all, refs).ok() && ScoreAll().ok())
          SIMTUNE_RETURN_IF_ERROR(StorePredictions(model_name + ":refit"));
      }
    }
    AddPoint("verify");
    SIMTUNE_RETURN_IF_ERROR(StoreRun(model_name));
    if (!f_.save_model.empty()) {
      // With the data it was fit on, so that predict, verify and a later tune --model know
      // its target, reference and unit.
      DataSpec spec = model_spec_ ? *model_spec_ : UsedSpec();
      nlohmann::json trained_on = {{"rows", trained_rows_}, {"workloads", {workload_key_}}};
      if (!reference_unit_.empty()) trained_on["unit"] = reference_unit_;
      SIMTUNE_RETURN_IF_ERROR(SaveTrainedModel(f_.save_model, *predictor_, spec, trained_on));
    }

    TuneJobResult& out = result_;
    FillSummary(out, search_s);
    out.calibrated = f_.model.empty();
    out.model = f_.model;
    out.calibration_rows = calibration_rows_;
    out.calibration_candidates = calibration_.size();
    out.calibration_simulator = sims_[0].name;
    out.predictor = predictor_->name();
    for (auto* c : ranked)
      out.ranking.push_back({c->id, c->text, search_score[c->id], predicted_rank[c->id], std::nullopt});
    for (auto* c : top) {
      TunedCandidate t{c->id, c->text, search_score[c->id], predicted_rank[c->id], std::nullopt};
      auto it = verified.find(c->id);
      if (it != verified.end()) {
        t.measured = it->second;
        if (out.best < 0 || it->second.value < out.verified[out.best].measured->value)
          out.best = static_cast<int>(out.verified.size());
      }
      out.verified.push_back(t);
    }
    return Status::Ok();
  }

  // What both drives report alike.
  void FillSummary(TuneJobResult& out, double search_s) const {
    out.drive = f_.drive;
    out.workload = workload_.Key();
    out.target = target_.name;
    out.strategy = f_.strategy;
    out.simulators = f_.simulators;
    out.executor = executor_->name();
    out.workers = executor_->workers();
    out.attempted = attempted_;
    out.from_store = from_store_;
    out.ran = ran_;
    out.failed_by_stage = failed_by_stage_;
    out.search_s = search_s;
    out.stopped_by_time = stopped_by_time_;
    out.score_unit = score_unit_;
    out.reference = f_.reference;
    out.reference_options = reference_ ? reference_->options_key() : "";
    out.measured = measured_now_;
  }

  TuneJobOptions f_;
  ProgressFn progress_;
  TuneJobResult result_;
  Clock::time_point start_;
  Target target_;
  Workload workload_;
  std::unique_ptr<Space> space_;
  std::unique_ptr<Strategy> strategy_;
  std::unique_ptr<Predictor> predictor_;
  std::unique_ptr<Reference> reference_;
  std::unique_ptr<Executor> executor_;
  Store* store_ = nullptr;
  std::optional<DataSpec> model_spec_;
  nlohmann::json model_trained_on_ = nlohmann::json::object();   // its trained_on record      // what --model was trained on, when its file says
  std::string reference_unit_;              // of the calibration measurements
  std::string score_unit_;                  // of the scores: PredictionUnit
  std::vector<std::string> warnings_;
  std::vector<SimulatorSpec> sims_;
  std::vector<std::string> sim_keys_;
  std::string workload_key_, executor_name_;
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
  std::string started_, verified_unit_;
  double best_verified_ = std::numeric_limits<double>::quiet_NaN();
  int64_t best_verified_id_ = 0;
  std::vector<TunePoint> points_;
  std::map<int64_t, RefResult> measured_;   // drive "reference": candidate id -> its measurement
  std::map<int64_t, double> notified_score_;   // the score the strategy last got per candidate
  std::optional<EarlyMeasurement> early_;   // --verify-during-search: the measurement in flight
  std::set<int64_t> early_tried_;           // candidates it chose (measured, in flight or failed)
  std::map<int64_t, RefResult> early_ok_;   // their ok results
};


TuneJob::TuneJob(std::unique_ptr<Tuner> tuner) : tuner_(std::move(tuner)) {}
TuneJob::~TuneJob() = default;

Result<std::unique_ptr<TuneJob>> TuneJob::Prepare(const TuneJobOptions& options) {
  auto tuner = std::make_unique<Tuner>(options);
  SIMTUNE_RETURN_IF_ERROR(tuner->Prepare());
  return std::unique_ptr<TuneJob>(new TuneJob(std::move(tuner)));
}

Result<TuneJobResult> TuneJob::Run(Store& store, const ProgressFn& progress) {
  return tuner_->Run(store, progress);
}

const std::string& TuneJob::workload() const { return tuner_->workload_key(); }
const std::vector<std::string>& TuneJob::warnings() const { return tuner_->warnings(); }
const std::string& TuneJob::target() const { return tuner_->target_name(); }
const std::string& TuneJob::executor() const { return tuner_->executor_name(); }
int TuneJob::workers() const { return tuner_->workers(); }

Result<TuneJobResult> RunTune(Store& store, const TuneJobOptions& options, const ProgressFn& progress) {
  SIMTUNE_ASSIGN_OR_RETURN(auto job, TuneJob::Prepare(options));
  return job->Run(store, progress);
}

}  // namespace simtune::pipeline
