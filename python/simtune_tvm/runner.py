"""A MetaSchedule runner that simulates instead of measuring: it simulates each candidate with
simtune and returns a run time on the target as `run_secs`, predicted, or measured on the
target's reference for the few candidates it calibrates with.

Per batch of RunnerInputs (in a background thread, so MetaSchedule can go on generating):
  1. the builder's artifact (LocalBuilder's default export: a tar of object files for the
     TVM target, which may be a cross target) is unpacked;
  2. a harness (harness.py) is generated from the arguments' shapes and compiled and linked
     with the object files by the simtune target's own compiler and flags
     (data/targets/<name>.json), into a static executable for the target; on riscv64 bare
     metal (riscv64-baremetal and the rvsim targets that build as it) with simtune's own
     bare-metal runtime too (`simtune harness-runtime`: console, exit, ROI markers, traps,
     start-up), so the executable runs on QEMU's virt machine, Spike and rvsim;
  3. all executables of the batch go to one `simtune estimate` call, which simulates them,
     checks the harness's verify line, extracts features and predicts; with calibrate=k it
     also times the k best predicted on the target's reference (`--measure-top k`);
  4. each RunnerResult gets run_secs = [seconds] or error_msg naming the stage that failed
     (build of the harness, simulation, verification, prediction, measurement).

Calibration (calibrate=k > 0). The reference's times of every measured candidate so far fit
log(t) = a + b * log(p) over the model's (or baseline's) predictions p. The slope b is the least
squares slope shrunk towards 1, b = (Sxy + L) / (Sxx + L) with L = CALIBRATION_SLOPE_PRIOR (a
ridge prior: a model trained on run times already has slope ~1 within a workload), kept in
[0.25, 4]; a is then least squares. The points are each batch's best predicted, so they span
little: an unshrunk slope over them is mostly noise and rescales the whole batch. A measured
candidate reports its measured time; every other one exp(a + b log p): seconds either way.
This is the paper's use of reference values: the model ranks, the reference restores the scale
and verifies the most promising candidates of each batch. `runner.trials` (and trials.jsonl in
work_dir) says of every trial whether its run_secs was "measured" or "predicted".

Verification. A tune's answer should be a schedule the target ran, not a prediction:
`runner.verified_database(db, verify=k)` measures the k best predicted schedules of the
whole tune that calibration has not measured yet and returns a database of measured
schedules only, so `ms.tir_integration.compile_tir(runner.verified_database(db, k), ...)`
gives the fastest schedule the reference confirmed (the paper verifies its top predictions
the same way). With calibrate=0 that is the only reference time a tune spends.

Models. model="auto" (default) takes the TVM model for the target when there is one: the
user's own out/tvm/<target>.json (`make tvm-model`, trained on MetaSchedule code timed on this
machine), else a shipped data/models/tvm/<target>.json; without one, or model=None, the score
is the instruction-count baseline. `runner.model_note` says which and why.

Units. run_secs is in seconds when a model predicts a run time (a regressor trained on ns,
or on cycles with clock_hz: by default the target's "clock_hz", which the rvsim targets give)
or when calibrate > 0. Otherwise (the instruction-count baseline,
or a ranking model, without calibration) it is 1e-9 x exp(score): for the baseline 1 ns per
simulated instruction, which orders candidates but is not a run time; MetaSchedule's
"Latency (us)" column then shows thousands of simulated instructions. A TVM user reads that
column as a time, so the runner says so (a UserWarning, once) and `runner.run_secs_unit` is
"score" in that case, "seconds" otherwise. It does not refuse to run: the search needs only
the order, and the best schedule it finds is the same.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
import warnings
import weakref
from pathlib import Path
from typing import Callable, Sequence

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.builder import LocalBuilder
from tvm.s_tir.meta_schedule.runner import (
    PyRunner,
    PyRunnerFuture,
    RunnerFuture,
    RunnerInput,
    RunnerResult,
)

from .harness import Buffer, generate_harness
from .workloads import reference_c

REPO_ROOT = Path(__file__).resolve().parents[2]

# LLVM target attributes per simtune ISA. Code for one core: the simulators model one.
_LLVM_TARGETS = {
    "riscv64": {"mtriple": "riscv64-linux-gnu", "mattr": ["+m", "+a", "+f", "+d", "+c"]},
    "x86_64": {"mtriple": "x86_64-linux-gnu", "mcpu": "x86-64-v3"},
    "aarch64": {"mtriple": "aarch64-linux-gnu", "mattr": ["+neon"]},
}


def load_simtune_target(name: str) -> dict:
    """The simtune target description: data/targets/<name>.json or a path ending in .json."""
    path = Path(name) if name.endswith(".json") else REPO_ROOT / "data" / "targets" / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in (REPO_ROOT / "data" / "targets").glob("*.json"))
        raise ValueError(f"unknown simtune target {name!r}; known: {', '.join(known)}")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# Bare metal (riscv64-baremetal and the rvsim targets that build as it): the ELF's code sits
# at 0x80000000 and is linked with picolibc for -march=rv64gc -mabi=lp64d; TVM's LLVM code
# addresses PC-relatively, so it links there as it is.
_LLVM_BARE_TARGETS = {
    "riscv64": {"mtriple": "riscv64-unknown-elf", "mattr": ["+m", "+a", "+f", "+d", "+c"],
                "mabi": "lp64d"},
}

_BUILD_KEYS = ("isa", "os", "cc", "cflags", "ldflags", "runner")


def build_description(name: str) -> dict:
    """The simtune target description with what it builds as filled in: a reference target
    (e.g. riscv64-rvsim-p550, "build_target": "riscv64-baremetal") gets the build target's isa,
    os, compiler and flags, as simtune's own loader does."""
    t = dict(load_simtune_target(name))
    if t.get("build_target"):
        base = load_simtune_target(t["build_target"])
        for key in _BUILD_KEYS:
            if key in base:
                t[key] = base[key]
    return t


def tvm_target(simtune_target: str) -> dict:
    """TVM target (dict form) that generates code for a simtune target's ISA."""
    t = build_description(simtune_target)
    isa, target_os = t.get("isa"), t.get("os")
    if target_os == "baremetal":
        if isa not in _LLVM_BARE_TARGETS:
            raise ValueError(f"simtune target {simtune_target!r} is {isa} bare metal; the TVM "
                             f"runner supports bare metal on {', '.join(sorted(_LLVM_BARE_TARGETS))}")
        return {"kind": "llvm", **_LLVM_BARE_TARGETS[isa], "num-cores": 1}
    if target_os != "linux":
        raise ValueError(f"simtune target {simtune_target!r} is {target_os}; the TVM runner "
                         "supports linux (user-mode) and riscv64 bare-metal targets")
    if isa not in _LLVM_TARGETS:
        raise ValueError(f"simtune target {simtune_target!r} has isa {isa!r}; "
                         f"supported: {', '.join(sorted(_LLVM_TARGETS))}")
    return {"kind": "llvm", **_LLVM_TARGETS[isa], "num-cores": 1}


def find_simtune() -> str:
    """The simtune executable: $SIMTUNE, else build/simtune in the repository, else PATH."""
    env = os.environ.get("SIMTUNE")
    if env:
        return env
    local = REPO_ROOT / "build" / "simtune"
    if local.is_file():
        return str(local)
    found = shutil.which("simtune")
    if not found:
        raise FileNotFoundError("simtune executable not found: set $SIMTUNE or build it "
                                "(cmake --build build --target simtune)")
    return found


def local_builder(max_workers: int | None = None, timeout_sec: float = 120.0) -> LocalBuilder:
    """MetaSchedule's LocalBuilder with a build function that does not import
    tvm.s_tir.tensor_intrin.

    LocalBuilder starts fresh worker processes for every batch, and TVM's default_build
    imports tvm.s_tir.tensor_intrin in each, which parses a few hundred (CUDA, Arm, x86)
    TVMScript intrinsics: 10-40 s per worker depending on the machine's load, counted against
    the build's 30 s default timeout. Past it the worker is killed and its replacement starts
    over, so on a loaded machine every candidate fails with "LocalBuilder: Timeout". The
    build here is default_build without that import (tensorized schedules arrive with the
    intrinsic's body already substituted); the artifacts are LocalBuilder's default ones (a
    tar of object files), which SimtuneRunner takes.
    """

    def build(mod, target, _params):  # nested: cloudpickle sends it to the workers by value
        # pylint: disable=import-outside-toplevel
        import tvm
        from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

        mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
        return tvm.tirx.build(mod, target)

    return LocalBuilder(max_workers=max_workers, timeout_sec=timeout_sec, f_build=build)


def find_tvm_model(target: str) -> Path | None:
    """The TVM model for a simtune target: out/tvm/<target>.json (the user's own, from
    `make tvm-model`), else data/models/tvm/<target>.json (shipped); None when neither exists."""
    name = Path(target).stem if target.endswith(".json") else target
    for path in (REPO_ROOT / "out" / "tvm" / f"{name}.json",
                 REPO_ROOT / "data" / "models" / "tvm" / f"{name}.json"):
        if path.is_file():
            return path
    return None


# Calibration's ridge prior on the slope (see the module's docstring), in units of Sxx (squared
# log seconds). Chosen from the x86 TVM model held out by workload (`simtune eval --protocols
# lowo`, 20 shapes): within a workload the residual of log(t) about its own line has sd ~0.22
# and the slope varies by sd ~0.11 around 1, so L = 0.22^2 / 0.11^2 = 4: the data must span
# about as much as 16 points with sd 0.5 (1.65x) before they outweigh the prior.
CALIBRATION_SLOPE_PRIOR = 4.0


def fit_calibration(points: Sequence[tuple[float, float]],
                    prior: float = CALIBRATION_SLOPE_PRIOR) -> tuple[float, float]:
    """(a, b) of log(t) = a + b log(p) over (log p, log t) points: b the least squares slope
    shrunk towards 1 by `prior` and kept in [0.25, 4], a the least squares offset for it."""
    if not points:
        raise ValueError("fit_calibration: no points")
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    b = min(4.0, max(0.25, (sxy + prior) / (sxx + prior)))
    return my - b * mx, b


# Seconds per unit of a reference result ("ns", or "cycles" with the clock).
_SECONDS_PER = {"ns": lambda _hz: 1e-9, "s": lambda _hz: 1.0,
                "cycles": lambda hz: 1.0 / hz if hz else float("nan")}


class _Failure(Exception):
    """A candidate's failure: `stage` and a one-line message, reported as error_msg."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"simtune runner: {stage}: {message}")


@derived_object
class SimtuneFuture(PyRunnerFuture):
    """The result of one candidate; its batch runs in the runner's background thread."""

    def __init__(self, batch: concurrent.futures.Future, index: int) -> None:
        super().__init__()
        self._batch = batch
        self._index = index

    def done(self) -> bool:
        return self._batch.done()

    def result(self) -> RunnerResult:
        try:
            outcome = self._batch.result()[self._index]
        except Exception as e:  # pylint: disable=broad-except
            return RunnerResult(None, f"simtune runner: {e}")
        if isinstance(outcome, str):
            return RunnerResult(None, outcome)
        return RunnerResult([outcome], None)


def _baseline_name(sims: str | None) -> str:
    """What `simtune estimate` scores by without a model (see its --model help)."""
    return ("mca baseline" if "mca" in (sims or "").split(",") else "instruction-count baseline")


@derived_object
class SimtuneRunner(PyRunner):
    """MetaSchedule runner backed by simtune's simulators, predictors and references.

    Parameters
    ----------
    target : simtune target name ("riscv64-linux", "x86_64-host") or .json path; tune with
        the TVM target `tvm_target(target)`.
    workload : simtune workload string the function implements ("gemm:M=128,N=128,K=128"):
        shape features and flops for the predictor (workloads.py: gemm, mvm, conv2d,
        dwconv2d have a built-in reference and PrimFunc).
    sims : simulators, e.g. "qemu" or "qemu,valgrind" (default: the model's, else "qemu").
    model : "auto" (default: find_tvm_model(target), if its simulators match `sims`), a
        model file from `simtune train --no-rel`, or None: a baseline that needs no training:
        llvm-mca's cycle estimate when `sims` includes "mca" (e.g. "qemu,mca"), else the
        instruction count of the first simulator.
    reference : C source defining `void simtune_reference(float *const *bufs)` over the
        function's buffers in argument order; default: the workload's (workloads.py).
    outputs : indices of the output arguments (default: the last one).
    func_name : the PrimFunc's global symbol (the harness calls __tvm_ffi_<func_name>);
        default: the one TVM FFI function the artifact defines (a @T.prim_func keeps its
        Python name as global symbol, e.g. "Matmul"; an IRModule's function is "main").
    simtune : path of the simtune executable (default: find_simtune()).
    work_dir : where harnesses and executables are kept (kept afterwards); default: a
        temporary folder, removed when the runner is garbage-collected or the interpreter
        exits (a race of 64 trials leaves ~50 MB there).
    jobs : parallel simulations per batch (simtune estimate -j; default: its default).
    timeout_s : limit for one batch's `simtune estimate` (simulation and measurement).
    calibrate : candidates of each batch (the best predicted) measured on the reference; 0:
        none. See the module's docstring.
    calibrate_ref : None: the target's reference through simtune (native on x86_64-host), or
        a reference name ("ssh") with `ref_options`; or a callable taking executable paths
        and returning their run times in seconds (a board of your own; a fake in tests).
    ref_options : options of the simtune reference ("rounds=5,host=board").
    store : a simtune store (created when missing) that records every executable as a
        candidate "external:<hash>" of `workload`, with its statistics and measurements.
    clock_hz : turns cycles (a cycle-predicting model's output, a cycle-counting reference's
        measurement such as rvsim's) into seconds; 0: the target's "clock_hz" (the rvsim
        targets give their model's clock).
    on_batch : called (in the runner's thread) with each batch's trial records (progress).
    """

    def __init__(self, target: str, workload: str, *, sims: str | None = None,
                 model: str | None = "auto", reference: str | None = None,
                 outputs: Sequence[int] = (-1,), func_name: str | None = None,
                 simtune: str | None = None, work_dir: str | None = None, jobs: int = 0,
                 timeout_s: float = 3600, rel_tol: float = 1e-4, abs_tol: float = 1e-4,
                 calibrate: int = 0,
                 calibrate_ref: str | Callable[[list[str]], list[float]] | None = None,
                 ref_options: str = "", store: str | None = None,
                 clock_hz: float = 0,
                 on_batch: Callable[[list[dict]], None] | None = None) -> None:
        super().__init__()
        self.target = target
        self.target_desc = build_description(target)
        tvm_target(target)  # rejects targets the runner cannot generate code for
        self._bare_runtime: dict | None = None   # `simtune harness-runtime`, on bare metal
        self._bare_runtime_lock = threading.Lock()   # two build threads ask for it at once
        self.workload = workload
        self.sims = sims
        self.model, self.model_note = self._resolve_model(model, sims)
        if reference is None:
            try:
                reference = reference_c(workload)
            except ValueError as e:
                raise ValueError(f"{e}; pass reference= (C source of simtune_reference)") from None
        self.reference = reference
        self.outputs = tuple(outputs)
        self.func_name = func_name
        self.simtune = simtune or find_simtune()
        if work_dir:
            self.work_dir = Path(work_dir)
            self.work_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.work_dir = Path(tempfile.mkdtemp(prefix="simtune_tvm_"))
            weakref.finalize(self, shutil.rmtree, str(self.work_dir), ignore_errors=True)
        self.jobs = jobs
        self.timeout_s = timeout_s
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol
        if not isinstance(calibrate, int) or calibrate < 0:
            raise ValueError(f"calibrate must be an integer >= 0; got {calibrate!r}")
        self.calibrate = calibrate
        if calibrate_ref is not None and not callable(calibrate_ref) and not isinstance(calibrate_ref, str):
            raise ValueError("calibrate_ref must be None, a reference name or a callable; "
                             f"got {type(calibrate_ref).__name__}")
        if calibrate and calibrate_ref is None and not self.target_desc.get("references"):
            raise ValueError(f"calibrate={calibrate}: simtune target {target!r} has no reference "
                             "to measure on; pass calibrate_ref= (a reference name or a callable)")
        self.calibrate_ref = calibrate_ref
        self.ref_options = ref_options
        self.store = store
        self.clock_hz = clock_hz or float(self.target_desc.get("clock_hz", 0))
        self.on_batch = on_batch
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._counter = 0
        self.last_estimates: list[dict] = []   # the estimate rows of the latest batch
        # One record per trial, in order: serial, elf, run_secs, kind ("measured" |
        # "predicted" | "failed"), predicted_s (the model's, before calibration), measured_s.
        self.trials: list[dict] = []
        self.calibration = {"a": 0.0, "b": 1.0, "points": 0}   # log(t) = a + b log(p)
        self._cal_points: list[tuple[float, float]] = []        # (log p, log t)
        self.reference_s = 0.0   # wall time spent in reference measurements
        self.verified: list[dict] = []   # schedules verified_database measured
        # "seconds" or "score" (see the module's docstring); a model's is known after the
        # first batch, from simtune estimate's "unit" ("ns"/"cycles": seconds).
        self.run_secs_unit: str | None = None
        if calibrate:
            self.run_secs_unit = "seconds"
        elif self.model is None:
            self._note_unit("score")

    def _resolve_model(self, model: str | None, sims: str | None) -> tuple[str | None, str]:
        baseline = _baseline_name(sims)
        if model != "auto":
            if model is None:
                return None, f"{baseline} (model=None)"
            if not Path(model).is_file():
                raise ValueError(f"model file {model} does not exist")
            return str(model), f"model {model}"
        found = find_tvm_model(self.target)
        if found is None:
            return None, (f"no TVM model for target {self.target} (out/tvm/{self.target}.json, "
                          f"data/models/tvm/{self.target}.json); {baseline}"
                          + ("; build one with `make tvm-model`" if self.target == "x86_64-host"
                             else "; build them with `make tvm-models-rvsim`"
                             if "rvsim" in self.target_desc.get("references", []) else ""))
        try:
            with open(found, encoding="utf-8") as f:
                model_sims = json.load(f).get("data", {}).get("simulators", [])
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"TVM model {found}: cannot read it: {e}") from None
        if sims and sorted(filter(None, sims.split(","))) != sorted(model_sims):
            return None, (f"TVM model {found} was trained with {','.join(model_sims)}, not "
                          f"sims={sims}; {baseline}")
        return str(found), f"TVM model {found}"

    def _note_unit(self, estimate_unit: str) -> None:
        if self.calibrate:
            return
        unit = "score" if estimate_unit == "score" else "seconds"
        if unit == "score" and self.run_secs_unit != "score":
            what = (f"the {_baseline_name(self.sims)}" if self.model is None
                    else f"model {self.model}, which ranks but predicts no run time")
            warnings.warn(f"SimtuneRunner: run_secs comes from {what} ({self.model_note}): "
                          "1e-9 x exp(score), not a run time; MetaSchedule's 'Latency (us)' "
                          "column shows that score (for the baseline: thousands of simulated "
                          "instructions); pass calibrate=k for seconds",
                          UserWarning, stacklevel=3)
        self.run_secs_unit = unit

    def run(self, runner_inputs: list[RunnerInput]) -> list[RunnerFuture]:
        first = self._counter
        self._counter += len(runner_inputs)
        # Plain Python data crosses to the worker thread; TVM objects stay on this one.
        jobs = []
        for i, inp in enumerate(runner_inputs):
            args = [(tuple(int(d) for d in a.shape), str(a.dtype)) for a in inp.args_info]
            jobs.append((first + i, str(inp.artifact_path), args))
        batch = self._pool.submit(self._run_batch, jobs)
        return [SimtuneFuture(batch, i) for i in range(len(jobs))]

    def verified_database(self, database, verify: int = 0):
        """The schedules of `database` whose run time the reference measured, as a new
        MemoryDatabase: those calibration measured during the tune, plus the `verify` best
        predicted ones that were not measured, measured now (the paper's verification of its
        top predictions). `ms.tir_integration.compile_tir` on it gives the best schedule the
        reference confirmed, so a prediction alone never wins. `runner.verified` lists the
        schedules measured here (elf, predicted_s, measured_s or error).

        Records are matched to trials by their run_secs (the value this runner returned)."""
        # pylint: disable=import-outside-toplevel
        from tvm.s_tir.meta_schedule.database import MemoryDatabase, TuningRecord

        by_secs: dict[float, dict] = {}
        for t in self.trials:
            if t.get("run_secs") is not None:
                by_secs.setdefault(float(t["run_secs"]), t)
        matched = []
        for rec in database.get_all_tuning_records():
            if rec.run_secs:
                t = by_secs.get(float(rec.run_secs[0]))
                if t is not None:
                    matched.append((rec, t))
        pending = sorted((m for m in matched if m[1]["kind"] == "predicted"),
                         key=lambda m: m[1]["run_secs"])
        seen_elf = set()
        chosen = []
        for m in pending:
            if m[1]["elf"] not in seen_elf and len(chosen) < verify:
                seen_elf.add(m[1]["elf"])
                chosen.append(m)
        if chosen:
            times = self._measure([t["elf"] for _, t in chosen])
            for (_, t), secs in zip(chosen, times):
                entry = {"serial": t["serial"], "elf": t["elf"], "predicted_s": t["predicted_s"]}
                if isinstance(secs, float):
                    t.update(measured_s=secs, kind="measured", verified=True)
                    entry["measured_s"] = secs
                else:
                    entry["error"] = secs
                self.verified.append(entry)
        out = MemoryDatabase()
        for rec, t in matched:
            if t["kind"] != "measured" or t.get("measured_s") is None:
                continue
            workload = out.commit_workload(rec.workload.mod)
            out.commit_tuning_record(TuningRecord(rec.trace, workload, [float(t["measured_s"])],
                                                  rec.target, rec.args_info))
        return out

    def _measure(self, elfs: list[str]) -> list:
        """Reference run times (seconds) of `elfs`, or an error text for each that failed."""
        if callable(self.calibrate_ref):
            return self._call_reference(elfs)
        try:
            rows = self._estimate(list(elfs), measure_all=True)   # counts reference_s itself
        except _Failure as e:
            return [str(e)] * len(elfs)
        return [self._measured_secs(row.get("measured") or {}) for row in rows]

    def _call_reference(self, elfs: list[str]) -> list:
        """The callable calibrate_ref's times of `elfs` in seconds, or an error text for each
        it gave no run time for (an exception fails them all)."""
        t0 = time.monotonic()
        try:
            times = list(self.calibrate_ref(list(elfs)))
            if len(times) != len(elfs):
                raise ValueError(f"returned {len(times)} times for {len(elfs)} executables")
        except Exception as e:  # pylint: disable=broad-except
            times = [f"{type(e).__name__}: {e}"] * len(elfs)
        self.reference_s += time.monotonic() - t0
        return [float(t) if isinstance(t, (int, float)) and math.isfinite(t) and t > 0
                else f"simtune runner: measure: calibrate_ref gave {t!r}" for t in times]

    def _measured_secs(self, m: dict):
        """Seconds from an estimate row's "measured" entry, or the error text of its failure."""
        if m.get("status") != "ok":
            return f"simtune runner: measure: {m.get('stage')}: {m.get('message')}"
        secs = float(m["value"]) * _SECONDS_PER.get(m["unit"], lambda _hz: math.nan)(self.clock_hz)
        if not (math.isfinite(secs) and secs > 0):
            return (f"simtune runner: measure: {m['value']} {m['unit']} is no run time "
                    "in seconds (a cycle count needs clock_hz=, or a target with clock_hz)")
        return secs

    # ---- worker thread ----

    def _run_batch(self, jobs: list) -> list:
        """One outcome per job: seconds (float) or an error message (str)."""
        outcomes: list = [None] * len(jobs)
        elfs: dict[int, str] = {}

        def build(job):
            serial, artifact, args = job
            try:
                return self.build_executable(artifact, args, f"cand{serial:05d}"), None
            except _Failure as e:
                return None, str(e)
            except Exception as e:  # pylint: disable=broad-except
                return None, f"simtune runner: harness: {type(e).__name__}: {e}"

        # Cross-compiling the harnesses is cheap next to simulating; two at a time suffice.
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            for k, (elf, error) in enumerate(pool.map(build, jobs)):
                if elf is not None:
                    elfs[k] = elf
                else:
                    outcomes[k] = error
        records = [{"serial": job[0], "elf": elfs.get(k), "kind": "failed", "run_secs": None,
                    "predicted_s": None, "measured_s": None} for k, job in enumerate(jobs)]
        if elfs:
            try:
                rows = self._estimate(list(elfs.values()))
            except _Failure as e:
                rows = None
                for k in elfs:
                    outcomes[k] = str(e)
            if rows is not None:
                self.last_estimates = rows
                self._outcomes(list(elfs), rows, outcomes, records)
        for k, rec in enumerate(records):
            if isinstance(outcomes[k], str):
                rec["error"] = outcomes[k]
        self.trials.extend(records)
        with open(self.work_dir / "trials.jsonl", "a", encoding="utf-8") as f:
            for rec in records:
                f.write(json.dumps(rec) + "\n")
        if self.on_batch:
            self.on_batch(records)
        return outcomes

    def _outcomes(self, keys: list[int], rows: list[dict], outcomes: list, records: list) -> None:
        """Fills outcomes[k] (seconds or error text) from the estimate rows of the executables
        `keys`, measuring with a callable reference and calibrating as asked."""
        base: dict[int, float] = {}
        measured: dict[int, float] = {}
        for k, row in zip(keys, rows):
            if row.get("status") != "ok":
                outcomes[k] = f"simtune runner: {row.get('stage')}: {row.get('message')}"
                continue
            self._note_unit(str(row.get("unit", "score")))
            base[k] = float(row["predicted_s"])
            records[k]["predicted_s"] = base[k]
            m = row.get("measured")
            if m is None:
                continue
            secs = self._measured_secs(m)
            if isinstance(secs, str):
                outcomes[k] = secs
                del base[k]
                continue
            measured[k] = secs
        if self.calibrate and callable(self.calibrate_ref) and base:
            chosen = sorted(base, key=base.get)[:self.calibrate]
            times = self._call_reference([records[k]["elf"] for k in chosen])
            for k, t in zip(chosen, times):
                if isinstance(t, float):
                    measured[k] = t
                else:
                    outcomes[k] = t
                    del base[k]
        for k, t in measured.items():
            self._cal_points.append((math.log(base[k]), math.log(t)))
        if self.calibrate:
            self._fit()
        a, b = self.calibration["a"], self.calibration["b"]
        for k, p in base.items():
            if k in measured:
                secs, kind = measured[k], "measured"
                records[k]["measured_s"] = secs
            else:
                secs = math.exp(a + b * math.log(p)) if self.calibrate else p
                kind = "predicted"
            outcomes[k] = secs
            records[k].update(run_secs=secs, kind=kind)

    def _fit(self) -> None:
        """log(t) = a + b log(p) over every measurement so far (see the module's docstring)."""
        if self._cal_points:
            a, b = fit_calibration(self._cal_points)
            self.calibration = {"a": a, "b": b, "points": len(self._cal_points)}

    def build_executable(self, artifact: str, args: list, name: str) -> str:
        """Links the builder's `artifact` with a verifying harness for the target.

        `args`: (shape, dtype) per function argument, in order. Returns the executable's
        path (<work_dir>/<name>/candidate.elf); raises an exception whose message names the
        stage ("simtune runner: harness: ...") on failure.
        """
        folder = self.work_dir / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        objects = self._unpack(artifact, folder)
        buffers = []
        n = len(args)
        outputs = {o % n for o in self.outputs} if n else set()
        for i, (shape, dtype) in enumerate(args):
            if dtype != "float32":
                raise _Failure("harness", f"argument {i} has dtype {dtype}; the harness "
                                          "supports float32 only")
            buffers.append(Buffer(shape, i in outputs))
        symbol = self._entry_symbol(objects)
        t = self.target_desc
        runtime = self._runtime() if t.get("os") == "baremetal" else None
        if runtime:
            t = runtime   # the build target's compiler, flags and the runtime's link flags
        source = generate_harness(symbol, buffers, self.reference, self.rel_tol, self.abs_tol,
                                  bare_metal_runtime=runtime["c"] if runtime else None)
        harness = folder / "harness.c"
        harness.write_text(source, encoding="utf-8")
        elf = folder / "candidate.elf"
        cmd = [t["cc"], *t.get("cflags", []), "-o", str(elf), str(harness),
               *map(str, objects), *t.get("ldflags", [])]
        if "-lm" not in cmd:
            cmd.append("-lm")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        (folder / "build.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
        if proc.returncode != 0:
            tail = " ".join((proc.stdout + proc.stderr).split())[-600:]
            raise _Failure("harness", f"{t['cc']} exited with {proc.returncode}: {tail}")
        return str(elf)

    def _runtime(self) -> dict:
        """simtune's bare-metal harness runtime and the build toolchain for the target
        (`simtune harness-runtime`), asked once per runner (the first batch's build threads
        all want it: one asks, the others wait)."""
        with self._bare_runtime_lock:
            if self._bare_runtime is None:
                cmd = [self.simtune, "harness-runtime", "--target", self.target]
                try:
                    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                                          check=False)
                except OSError as e:
                    raise _Failure("harness", f"cannot run simtune executable {self.simtune}: "
                                              f"{e}") from None
                if proc.returncode != 0:
                    raise _Failure("harness", "simtune harness-runtime: " +
                                   (" ".join(proc.stderr.split())[-600:] or
                                    f"exit {proc.returncode}"))
                self._bare_runtime = json.loads(proc.stdout)
            return self._bare_runtime

    @staticmethod
    def _unpack(artifact: str, folder: Path) -> list[Path]:
        path = Path(artifact)
        if not path.is_file():
            raise _Failure("harness", f"artifact {artifact} does not exist")
        if path.suffix == ".o":
            return [path]
        if not tarfile.is_tarfile(path):
            raise _Failure("harness", f"artifact {artifact} is neither a .o file nor a tar of "
                                      "object files (use LocalBuilder's default export)")
        with tarfile.open(path) as tf:
            members = [m for m in tf.getmembers() if m.isfile() and m.name.endswith(".o")
                       and "/" not in m.name and not m.name.startswith(".")]
            if not members:
                raise _Failure("harness", f"artifact {artifact} holds no object file")
            tf.extractall(folder, members=members)
        return [folder / m.name for m in members]

    def _entry_symbol(self, objects: list[Path]) -> str:
        """`__tvm_ffi_<func_name>`, checked against the objects; without func_name the one
        TVM FFI function they define."""
        wanted = f"__tvm_ffi_{self.func_name}" if self.func_name else None
        nm = shutil.which("nm")
        if not nm:
            if wanted:
                return wanted  # the link step reports a missing symbol as well
            raise _Failure("harness", "nm (binutils) not found: needed to find the TVM FFI "
                                      "function in the artifact; or pass func_name=")
        defined = set()
        for obj in objects:
            out = subprocess.run([nm, "--defined-only", str(obj)], capture_output=True,
                                 text=True, check=False).stdout
            defined.update(m.group(1) for m in re.finditer(r" T (__tvm_ffi_\w+)$", out, re.M))
        if wanted:
            if wanted not in defined:
                raise _Failure("harness", f"the artifact defines no {wanted}; it has "
                                          f"{', '.join(sorted(defined)) or 'no TVM FFI function'}")
            return wanted
        if len(defined) != 1:
            raise _Failure("harness", "pass func_name=: the artifact defines "
                                      f"{', '.join(sorted(defined)) or 'no TVM FFI function'}")
        return defined.pop()

    def _estimate(self, elfs: list[str], measure_all: bool = False) -> list[dict]:
        out_json = self.work_dir / (f"estimate{self._counter:05d}.json" if not measure_all
                                    else f"verify{len(self.verified):05d}.json")
        cmd = [self.simtune, "estimate", *elfs, "--target", self.target,
               "--workload", self.workload, "--json", str(out_json)]
        if self.sims:
            cmd += ["--sim", self.sims]
        if self.model:
            cmd += ["--model", self.model]
        if self.clock_hz:
            cmd += ["--clock-hz", repr(float(self.clock_hz))]
        if self.jobs:
            cmd += ["-j", str(self.jobs)]
        if self.store:
            cmd += ["--store", str(self.store)]
        measure = measure_all or self.calibrate
        if measure and not callable(self.calibrate_ref):
            if measure_all:
                cmd += ["--measure", ",".join(str(i) for i in range(len(elfs)))]
            else:
                cmd += ["--measure-top", str(self.calibrate)]
            if self.calibrate_ref:
                cmd += ["--ref", self.calibrate_ref]
            if self.ref_options:
                cmd += ["--ref-options", self.ref_options]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise _Failure("timeout", f"simtune estimate ran past {self.timeout_s} s") from None
        except OSError as e:
            raise _Failure("estimate", f"cannot run simtune executable {self.simtune}: "
                                       f"{e.strerror or e}") from None
        if proc.returncode != 0:
            raise _Failure("estimate", " ".join(proc.stderr.split())[-600:] or
                           f"simtune estimate exited with {proc.returncode}")
        with open(out_json, encoding="utf-8") as f:
            doc = json.load(f)
        self.reference_s += float(doc.get("reference_wall_s", 0.0))
        rows = doc.get("results", [])
        if len(rows) != len(elfs):
            raise _Failure("estimate", f"simtune estimate returned {len(rows)} rows for "
                                       f"{len(elfs)} executables")
        return rows
