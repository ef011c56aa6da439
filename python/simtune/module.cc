// simtune._core: the jobs of pipeline.h for Python (pybind11). Options are the C++ option
// structs with their fields as attributes (an unknown attribute is an AttributeError);
// results come back as JSON-shaped Python objects that simtune/__init__.py turns into
// dicts and pandas DataFrames. The GIL is released while a job runs; progress callbacks
// take it again (the build job calls them from its worker threads, one at a time).
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <mutex>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "simtune/pipeline.h"
#include "simtune/strings.h"

namespace py = pybind11;
using nlohmann::json;

namespace simtune::pipeline {
namespace {

struct SimtuneError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
T Unwrap(Result<T> r) {
  if (!r.ok()) throw SimtuneError(r.message());
  return std::move(r).value();
}

// DumpJson: text from outside (a child's message, a path) may hold invalid UTF-8.
py::object ToPython(const json& j) { return py::module_::import("json").attr("loads")(DumpJson(j)); }

json RefJson(const RefResult& r) {
  return {{"status", r.status}, {"stage", r.stage},   {"message", r.message}, {"unit", r.unit},
          {"value", r.value},   {"spread", r.spread}, {"rounds", r.rounds}};
}

json ProgressJson(const Progress& p) {
  json j = {{"job", p.job},         {"event", p.event},     {"done", p.done},
            {"total", p.total},     {"failed", p.failed},   {"from_store", p.from_store},
            {"failed_by_stage", p.failed_by_stage},         {"eta_s", p.eta_s},
            {"candidate_id", p.candidate_id},               {"config", p.config},
            {"status", p.status},   {"stage", p.stage},     {"message", p.message},
            {"ran", p.ran},         {"reference", p.reference},
            {"reference_options", p.reference_options}};
  j["best_score"] = std::isfinite(p.best_score) ? json(p.best_score) : json();
  return j;
}

// A Python callable as a ProgressFn: takes the GIL; the first exception it raises is kept and
// re-raised when the job returns (later events are dropped).
class PyProgress {
 public:
  explicit PyProgress(py::object fn) : fn_(std::move(fn)) {}
  ProgressFn fn() {
    if (fn_.is_none()) return nullptr;
    return [this](const Progress& p) {
      py::gil_scoped_acquire gil;
      std::lock_guard<std::mutex> lock(mu_);
      if (error_) return;
      try {
        fn_(ToPython(ProgressJson(p)));
      } catch (py::error_already_set& e) {
        error_ = std::make_unique<py::error_already_set>(std::move(e));
      }
    };
  }
  void Rethrow() {
    if (error_) throw std::move(*error_);
  }
  ~PyProgress() {
    py::gil_scoped_acquire gil;
    error_.reset();
  }

 private:
  py::object fn_;
  std::mutex mu_;
  std::unique_ptr<py::error_already_set> error_;
};

// Runs a job without the GIL and hands its progress to `progress`.
template <typename F>
auto RunReleased(py::object progress, F&& run) {
  PyProgress p(std::move(progress));
  ProgressFn fn = p.fn();
  decltype(run(fn)) result = [&] {
    py::gil_scoped_release release;
    return run(fn);
  }();
  p.Rethrow();
  return Unwrap(std::move(result));
}

json MetricsJson(const WorkloadMetrics& m) { return m.ToJson(); }

py::object PyCandidates(Store& store, const TableOptions& options) {
  auto rows = Unwrap([&] {
    py::gil_scoped_release release;
    return LoadCandidateTable(store, options);
  }());
  py::list out;
  for (const auto& r : rows) {
    py::dict d;
    d["candidate_id"] = r.candidate_id;
    d["workload"] = r.workload;
    d["config"] = r.config;
    for (const auto& [k, v] : r.numbers) d[py::str(k)] = v;
    for (const auto& [k, v] : r.texts) d[py::str(k)] = v;
    out.append(d);
  }
  return out;
}

py::object PyBuild(Store& store, const BuildJobOptions& o, py::object progress) {
  auto r = RunReleased(progress, [&](const ProgressFn& fn) { return RunBuild(store, o, fn); });
  json built = json::array();
  for (const auto& b : r.built)
    built.push_back({{"candidate_id", b.candidate_id}, {"config", b.config}, {"status", b.artifact.status},
                     {"stage", b.artifact.stage}, {"message", b.artifact.message}, {"cached", b.artifact.cached},
                     {"elf", b.artifact.elf.string()}});
  return ToPython({{"workload", r.workload}, {"target", r.target}, {"built", built}, {"ok", r.ok},
                   {"cached", r.cached}, {"skipped", r.skipped}, {"failed_by_stage", r.failed_by_stage},
                   {"wall_s", r.wall_s}});
}

py::object PySimulate(Store& store, const SimulateJobOptions& o, py::object progress) {
  auto r = RunReleased(progress, [&](const ProgressFn& fn) { return RunSimulate(store, o, fn); });
  json rows = json::array();
  for (const auto& s : r.rows)
    rows.push_back({{"candidate_id", s.candidate_id}, {"status", s.status}, {"stage", s.stage},
                    {"message", s.message}, {"wall_s", s.wall_s}, {"stats", json::parse(s.stats_json)}});
  return ToPython({{"workload", r.workload}, {"target", r.target}, {"simulator", r.simulator}, {"rows", rows},
                   {"skipped", r.skipped}, {"unbuilt", r.unbuilt}, {"failed_by_stage", r.failed_by_stage},
                   {"wall_s", r.wall_s}});
}

py::object PyMeasure(Store& store, const MeasureJobOptions& o, py::object progress) {
  auto r = RunReleased(progress, [&](const ProgressFn& fn) { return RunMeasure(store, o, fn); });
  json ranked = json::array();
  for (const auto* list : {&r.ranked, &r.failed})
    for (const auto& c : *list) {
      json j = RefJson(c.ref.result);
      j["candidate_id"] = c.candidate_id;
      j["config"] = c.config;
      j["flops"] = c.flops;
      ranked.push_back(j);
    }
  return ToPython({{"workload", r.workload}, {"target", r.target}, {"reference", r.reference},
                   {"reference_options", r.reference_options}, {"measured", r.measured}, {"ranking", ranked}});
}

py::object PyTune(Store& store, const TuneJobOptions& o, py::object progress) {
  auto job = Unwrap(TuneJob::Prepare(o));
  auto r = RunReleased(progress, [&](const ProgressFn& fn) { return job->Run(store, fn); });
  auto cands = [](const std::vector<TunedCandidate>& list) {
    json out = json::array();
    for (const auto& c : list) {
      json j = {{"candidate_id", c.candidate_id}, {"config", c.config}, {"score", c.score},
                {"predicted_rank", c.predicted_rank}};
      if (c.measured) {
        j["measured"] = c.measured->value;
        j["unit"] = c.measured->unit;
        j["spread"] = c.measured->spread;
      }
      out.push_back(j);
    }
    return out;
  };
  json best = r.best >= 0 ? cands({r.verified[r.best]})[0] : json();
  return ToPython({{"drive", r.drive}, {"workload", r.workload}, {"target", r.target}, {"strategy", r.strategy},
                   {"simulators", r.simulators}, {"executor", r.executor}, {"workers", r.workers},
                   {"attempted", r.attempted}, {"from_store", r.from_store}, {"ran", r.ran},
                   {"failed_by_stage", r.failed_by_stage}, {"search_s", r.search_s},
                   {"stopped_by_time", r.stopped_by_time}, {"calibrated", r.calibrated},
                   {"calibration_rows", r.calibration_rows}, {"model", r.model}, {"predictor", r.predictor},
                   {"score_unit", r.score_unit}, {"reference", r.reference}, {"reference_options", r.reference_options},
                   {"ranking", cands(r.ranking)}, {"verified", cands(r.verified)}, {"best", best}});
}

py::object PyTrain(Store& store, const TrainJobOptions& o) {
  auto r = RunReleased(py::none(), [&](const ProgressFn&) { return RunTrain(store, o); });
  json in_sample = json::array();
  for (const auto& w : r.in_sample) {
    json j = MetricsJson(w.metrics);
    j["workload"] = w.workload;
    in_sample.push_back(j);
  }
  return ToPython({{"predictor", r.predictor}, {"predictor_options", r.predictor_options},
                   {"data", r.data.ToJson()}, {"rows", r.rows}, {"features", r.features},
                   {"workloads", r.workloads}, {"chosen", r.chosen}, {"in_sample", in_sample},
                   {"missing_sims", r.missing_sims}});
}

py::object PyPredict(Store& store, const PredictJobOptions& o) {
  auto r = RunReleased(py::none(), [&](const ProgressFn&) { return RunPredict(store, o); });
  json ranking = json::array();
  for (size_t i = 0; i < r.ranking.size(); ++i) {
    const auto& c = r.ranking[i];
    ranking.push_back({{"rank", i + 1}, {"candidate_id", c.candidate_id}, {"config", c.config},
                       {"score", c.score}, {"measured", c.measured ? json(*c.measured) : json()}});
  }
  return ToPython({{"workload", r.workload}, {"model", r.model}, {"predictor", r.predictor},
                   {"target", r.target}, {"predicts_time", r.predicts_time}, {"ranking", ranking},
                   {"missing_sims", r.missing_sims}});
}

py::object PyVerify(Store& store, const VerifyJobOptions& o) {
  auto r = RunReleased(py::none(), [&](const ProgressFn&) { return RunVerify(store, o); });
  json verified = json::array();
  for (size_t j = 0; j < r.verified.size(); ++j) {
    const auto& c = r.verified[j];
    json row = RefJson(c.result);
    row["predicted_rank"] = j < r.k ? json(j + 1) : json();
    row["candidate_id"] = c.candidate_id;
    row["config"] = c.config;
    row["score"] = c.score;
    row["measured_before"] = c.measured_before ? json(*c.measured_before) : json();
    verified.push_back(row);
  }
  return ToPython({{"workload", r.workload}, {"target", r.target}, {"reference_options", r.reference_options},
                   {"verified", verified}, {"best", r.best}, {"control", r.control}});
}

py::object PyEvaluate(Store& store, const EvalJobOptions& o) {
  auto r = RunReleased(py::none(), [&](const ProgressFn&) { return RunEval(store, o); });
  return ToPython(r.ToJson(o));
}

py::object PyEstimate(const EstimateJobOptions& o) {
  auto r = RunReleased(py::none(), [&](const ProgressFn&) { return RunEstimate(o); });
  return ToPython(r.ToJson());
}

}  // namespace
}  // namespace simtune::pipeline

PYBIND11_MODULE(_core, m) {
  using namespace simtune;
  using namespace simtune::pipeline;
  m.doc() = "simtune's jobs (include/simtune/pipeline.h); use the simtune package, not this module";
  py::register_exception<SimtuneError>(m, "Error", PyExc_RuntimeError);

  py::enum_<StoreMode>(m, "StoreMode")
      .value("create", StoreMode::kCreate)
      .value("existing", StoreMode::kExisting)
      .value("readonly", StoreMode::kReadOnly);
  py::class_<Store, std::unique_ptr<Store>>(m, "Store")
      .def_static("open", [](const std::string& path, StoreMode mode) { return Unwrap(Store::Open(path, mode)); },
                  py::arg("path"), py::arg("mode") = StoreMode::kCreate);

  py::class_<Selection>(m, "Selection")
      .def(py::init<>())
      .def_readwrite("workload", &Selection::workload)
      .def_readwrite("sample", &Selection::sample)
      .def_readwrite("seed", &Selection::seed)
      .def_readwrite("configs", &Selection::configs)
      .def_readwrite("all", &Selection::all);
  py::class_<BuildJobOptions>(m, "BuildOptions")
      .def(py::init<>())
      .def_readwrite("selection", &BuildJobOptions::selection)
      .def_readwrite("target", &BuildJobOptions::target)
      .def_readwrite("cache", &BuildJobOptions::cache)
      .def_readwrite("jobs", &BuildJobOptions::jobs)
      .def_readwrite("verify", &BuildJobOptions::verify)
      .def_readwrite("force", &BuildJobOptions::force);
  py::class_<SimulateJobOptions>(m, "SimulateOptions")
      .def(py::init<>())
      .def_readwrite("workload", &SimulateJobOptions::workload)
      .def_readwrite("target", &SimulateJobOptions::target)
      .def_readwrite("simulator", &SimulateJobOptions::simulator)
      .def_readwrite("simulator_options", &SimulateJobOptions::simulator_options)
      .def_readwrite("jobs", &SimulateJobOptions::jobs)
      .def_readwrite("force", &SimulateJobOptions::force);
  py::class_<MeasureJobOptions>(m, "MeasureOptions")
      .def(py::init<>())
      .def_readwrite("workload", &MeasureJobOptions::workload)
      .def_readwrite("target", &MeasureJobOptions::target)
      .def_readwrite("reference", &MeasureJobOptions::reference)
      .def_readwrite("reference_options", &MeasureJobOptions::reference_options)
      .def_readwrite("measure", &MeasureJobOptions::measure)
      .def_readwrite("force", &MeasureJobOptions::force)
      .def_readwrite("sample", &MeasureJobOptions::sample)
      .def_readwrite("seed", &MeasureJobOptions::seed);
  py::class_<TuneJobOptions>(m, "TuneOptions")
      .def(py::init<>())
      .def_readwrite("workload", &TuneJobOptions::workload)
      .def_readwrite("drive", &TuneJobOptions::drive)   // "simulate" | "reference"
      .def_readwrite("target", &TuneJobOptions::target)
      .def_readwrite("budget", &TuneJobOptions::budget)
      .def_readwrite("time_budget_s", &TuneJobOptions::time_budget_s)
      .def_readwrite("strategy", &TuneJobOptions::strategy)
      .def_readwrite("strategy_options", &TuneJobOptions::strategy_options)
      .def_readwrite("simulators", &TuneJobOptions::simulators)
      .def_readwrite("simulator_options", &TuneJobOptions::simulator_options)
      .def_readwrite("predictor", &TuneJobOptions::predictor)
      .def_readwrite("predictor_options", &TuneJobOptions::predictor_options)
      .def_readwrite("model", &TuneJobOptions::model)
      .def_readwrite("shipped_model", &TuneJobOptions::shipped_model)
      .def_readwrite("save_model", &TuneJobOptions::save_model)
      .def_readwrite("reference", &TuneJobOptions::reference)
      .def_readwrite("reference_options", &TuneJobOptions::reference_options)
      .def_readwrite("top", &TuneJobOptions::verify_top)          // the CLI's --top
      .def_readwrite("verify_top", &TuneJobOptions::verify_top)
      .def_readwrite("verify_during_search", &TuneJobOptions::verify_during_search)
      .def_readwrite("calibrate", &TuneJobOptions::calibrate)
      .def_readwrite("batch", &TuneJobOptions::batch)
      .def_readwrite("seed", &TuneJobOptions::seed)
      .def_readwrite("executor", &TuneJobOptions::executor)
      .def_readwrite("jobs", &TuneJobOptions::jobs)
      .def_readwrite("cache", &TuneJobOptions::cache)
      .def_readwrite("verify", &TuneJobOptions::verify)
      .def_readwrite("verify_timeout_s", &TuneJobOptions::verify_timeout_s)
      .def_readwrite("build_timeout_s", &TuneJobOptions::build_timeout_s);
  py::class_<DataOptions>(m, "DataOptions")
      .def(py::init<>())
      .def_readwrite("target", &DataOptions::target)
      .def_readwrite("simulators", &DataOptions::simulators)
      .def_readwrite("reference", &DataOptions::reference)
      .def_readwrite("ref_target", &DataOptions::ref_target)
      .def_readwrite("ref_options", &DataOptions::ref_options)
      .def_readwrite("workloads", &DataOptions::workloads)
      .def_readwrite("knobs", &DataOptions::knobs)
      .def_readwrite("shape", &DataOptions::shape)
      .def_readwrite("relative", &DataOptions::relative);
  py::class_<TrainJobOptions>(m, "TrainOptions")
      .def(py::init<>())
      .def_readwrite("data", &TrainJobOptions::data)
      .def_readwrite("predictor", &TrainJobOptions::predictor)
      .def_readwrite("predictor_options", &TrainJobOptions::predictor_options)
      .def_readwrite("out", &TrainJobOptions::out);
  py::class_<PredictJobOptions>(m, "PredictOptions")
      .def(py::init<>())
      .def_readwrite("model", &PredictJobOptions::model)
      .def_readwrite("workload", &PredictJobOptions::workload);
  py::class_<VerifyJobOptions>(m, "VerifyOptions")
      .def(py::init<>())
      .def_readwrite("model", &VerifyJobOptions::model)
      .def_readwrite("workload", &VerifyJobOptions::workload)
      .def_readwrite("ref_options", &VerifyJobOptions::ref_options)
      .def_readwrite("top", &VerifyJobOptions::k)                 // the CLI's --top
      .def_readwrite("k", &VerifyJobOptions::k);
  py::class_<EvalJobOptions>(m, "EvalOptions")
      .def(py::init<>())
      .def_readwrite("data", &EvalJobOptions::data)
      .def_readwrite("predictors", &EvalJobOptions::predictors)
      .def_readwrite("protocols", &EvalJobOptions::protocols)
      .def_readwrite("folds", &EvalJobOptions::folds)
      .def_readwrite("seed", &EvalJobOptions::seed)
      .def_readwrite("top", &EvalJobOptions::verify_k)            // the CLI's --top
      .def_readwrite("verify_k", &EvalJobOptions::verify_k)
      .def_readwrite("ref_repeat", &EvalJobOptions::ref_repeat);
  py::class_<EstimateJobOptions>(m, "EstimateOptions")
      .def(py::init<>())
      .def_readwrite("elfs", &EstimateJobOptions::elfs)
      .def_readwrite("workload", &EstimateJobOptions::workload)
      .def_readwrite("target", &EstimateJobOptions::target)
      .def_readwrite("simulators", &EstimateJobOptions::simulators)
      .def_readwrite("model", &EstimateJobOptions::model)
      .def_readwrite("flops", &EstimateJobOptions::flops)
      .def_readwrite("clock_hz", &EstimateJobOptions::clock_hz)
      .def_readwrite("db", &EstimateJobOptions::db)
      .def_readwrite("jobs", &EstimateJobOptions::jobs);
  py::class_<TableOptions>(m, "TableOptions")
      .def(py::init<>())
      .def_readwrite("target", &TableOptions::target)
      .def_readwrite("workloads", &TableOptions::workloads);

  m.def("candidates", &PyCandidates, py::arg("store"), py::arg("options"));
  m.def("build", &PyBuild, py::arg("store"), py::arg("options"), py::arg("progress") = py::none());
  m.def("simulate", &PySimulate, py::arg("store"), py::arg("options"), py::arg("progress") = py::none());
  m.def("measure", &PyMeasure, py::arg("store"), py::arg("options"), py::arg("progress") = py::none());
  m.def("tune", &PyTune, py::arg("store"), py::arg("options"), py::arg("progress") = py::none());
  m.def("train", &PyTrain, py::arg("store"), py::arg("options"));
  m.def("predict", &PyPredict, py::arg("store"), py::arg("options"));
  m.def("verify", &PyVerify, py::arg("store"), py::arg("options"));
  m.def("evaluate", &PyEvaluate, py::arg("store"), py::arg("options"));
  m.def("estimate", &PyEstimate, py::arg("options"));
}
