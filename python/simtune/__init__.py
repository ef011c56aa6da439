"""simtune for Python: the jobs of the `simtune` command (include/simtune/pipeline.h) as
functions, and the store as a pandas DataFrame.

    import simtune
    store = simtune.open_store("simtune.db")
    result = simtune.tune(store, "mvm:M=64,K=64", budget=16, progress=print)
    df = store.candidates()        # knobs, statistics, reference times, predictions

Keyword options are the fields of the C++ option structs, named like the CLI flags
(`simulators="qemu,valgrind"`, `reference_options="rounds=5"`, `jobs=4`); an unknown one is an
error. Progress callbacks get one dict per event (see pipeline.h: Progress). Errors of the
jobs raise simtune.Error with the message the CLI would print.
"""
import pandas as pd

from . import _core
from ._core import Error

__all__ = ["Error", "Store", "open_store", "build", "simulate", "measure", "tune", "train",
           "predict", "verify", "evaluate", "estimate"]


def _options(cls, kwargs, nested=None):
    """A C++ options struct from keyword arguments; `nested` names a member struct that takes
    the keys the outer one does not have (train/eval: data, build: selection)."""
    o = cls()
    inner = getattr(o, nested) if nested else None
    for key, value in kwargs.items():
        if key.startswith("_"):
            raise TypeError(f"unknown option {key!r}")
        if hasattr(o, key) and key != nested:
            setattr(o, key, value)
        elif inner is not None and hasattr(inner, key):
            setattr(inner, key, value)
        else:
            raise TypeError(f"unknown option {key!r} for {cls.__name__}")
    if nested:
        setattr(o, nested, inner)
    return o


class Store:
    """An open simtune store (SQLite file). mode: "create" (default), "existing" (the file
    must exist) or "readonly" (nothing is written)."""

    def __init__(self, path="simtune.db", mode="create"):
        self.path = str(path)
        self._store = _core.Store.open(self.path, getattr(_core.StoreMode, mode))

    def candidates(self, target="x86_64-host", workloads=None):
        """One row per candidate: candidate_id, workload, config, knob.<name>, build.status,
        flops, <simulator>.<statistic>, <reference>.value/.spread/.unit, pred.<model> and
        pred.<model>.unit (the unit of its predictions)."""
        o = _core.TableOptions()
        o.target = target
        o.workloads = [workloads] if isinstance(workloads, str) else list(workloads or [])
        rows = _core.candidates(self._store, o)
        df = pd.DataFrame(rows)
        if df.empty:
            df = pd.DataFrame(columns=["candidate_id", "workload", "config"])
        return df.set_index("candidate_id")


def open_store(path="simtune.db", mode="create"):
    return Store(path, mode)


def _store(store):
    return store._store if isinstance(store, Store) else store


def build(store, workload, progress=None, **options):
    """Build (and verify) candidates: sample=N, configs=[...] or all=True; returns a dict."""
    o = _options(_core.BuildOptions, dict(options, workload=workload), nested="selection")
    return _core.build(_store(store), o, progress)


def simulate(store, workload, progress=None, **options):
    o = _options(_core.SimulateOptions, dict(options, workload=workload))
    return _core.simulate(_store(store), o, progress)


def measure(store, workload, progress=None, **options):
    """Measure built candidates on the reference (measure=False: only rank stored results);
    returns a DataFrame of the ranking, fastest first, failed ones last."""
    o = _options(_core.MeasureOptions, dict(options, workload=workload))
    r = _core.measure(_store(store), o, progress)
    return pd.DataFrame(r["ranking"])


def tune(store, workload, progress=None, **options):
    """The tuning loop; returns a dict with the summary, "ranking" (every ok candidate, best
    predicted first) and "verified" (the top measured on the reference) as DataFrames, and
    "best" (a dict, or None)."""
    o = _options(_core.TuneOptions, dict(options, workload=workload))
    r = _core.tune(_store(store), o, progress)
    r["ranking"] = pd.DataFrame(r["ranking"])
    r["verified"] = pd.DataFrame(r["verified"])
    return r


def train(store, predictor="xgb-rank", out="model.json", **options):
    o = _options(_core.TrainOptions, dict(options, predictor=predictor, out=out), nested="data")
    r = _core.train(_store(store), o)
    r["in_sample"] = pd.DataFrame(r["in_sample"])
    return r


def predict(store, model, workload):
    """Ranks a workload's simulated candidates with a trained-model file (and stores the
    predictions); returns the ranking as a DataFrame."""
    o = _options(_core.PredictOptions, {"model": str(model), "workload": workload})
    return pd.DataFrame(_core.predict(_store(store), o)["ranking"])


def verify(store, model, workload, **options):
    o = _options(_core.VerifyOptions, dict(options, model=str(model), workload=workload))
    r = _core.verify(_store(store), o)
    r["verified"] = pd.DataFrame(r["verified"])
    return r


def evaluate(store, predictors="all", **options):
    """Evaluates predictors (k-fold within workloads, leave-one-workload-out); returns a
    DataFrame with one row per predictor, protocol and workload (workload "MEAN" and "WORST"
    rows summarise; a failed run has its error)."""
    o = _options(_core.EvalOptions, dict(options, predictors=predictors), nested="data")
    doc = _core.evaluate(_store(store), o)
    rows = []
    for run in doc["results"]:
        base = {"predictor": run["predictor"], "options": run["options"], "protocol": run["protocol"]}
        if "error" in run:
            rows.append(dict(base, error=run["error"]))
            continue
        for w in run["per_workload"]:
            rows.append(dict(base, **w))
        for label in ("mean", "worst"):
            rows.append(dict(base, workload=label.upper(), **run["summary"][label]))
    return pd.DataFrame(rows)


def estimate(elfs, workload, **options):
    """Simulates executables built elsewhere and predicts their run time (no store); returns
    a DataFrame with one row per executable."""
    elfs = [str(e) for e in ([elfs] if isinstance(elfs, str) else elfs)]
    o = _options(_core.EstimateOptions, dict(options, elfs=elfs, workload=workload))
    doc = _core.estimate(o)
    return pd.DataFrame(doc["results"])
