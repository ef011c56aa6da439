"""A MetaSchedule runner that measures nothing: it simulates each candidate with simtune and
returns simtune's predicted run time on the target as `run_secs`.

Per batch of RunnerInputs (in a background thread, so MetaSchedule can go on generating):
  1. the builder's artifact (LocalBuilder's default export: a tar of object files for the
     TVM target, which may be a cross target) is unpacked;
  2. a harness (harness.py) is generated from the arguments' shapes and compiled and linked
     with the object files by the simtune target's own compiler and flags
     (data/targets/<name>.json), into a static executable for the target;
  3. all executables of the batch go to one `simtune estimate` call, which simulates them,
     checks the harness's verify line, extracts features and predicts;
  4. each RunnerResult gets run_secs = [predicted_s] or error_msg naming the stage that
     failed (build of the harness, simulation, verification, prediction).
This package computes no statistics and no predictions of its own.

Units. run_secs is a run time in seconds only when the model predicts one (a regressor
trained on ns, or on cycles with a clock). Without a model, or with a ranking model, it is
1e-9 x exp(score): for the default instruction-count baseline, 1 ns per simulated
instruction, which orders candidates but is not a run time, and MetaSchedule's
"Latency (us)" column then shows thousands of simulated instructions. The runner says so
(a UserWarning, once) and `runner.run_secs_unit` is "score" in that case, "seconds"
otherwise.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.builder import LocalBuilder
from tvm.s_tir.meta_schedule.runner import (
    PyRunner,
    PyRunnerFuture,
    RunnerFuture,
    RunnerInput,
    RunnerResult,
)

from .harness import Buffer, gemm_reference, generate_harness

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


def tvm_target(simtune_target: str) -> dict:
    """TVM target (dict form) that generates code for a simtune target's ISA."""
    t = load_simtune_target(simtune_target)
    if t.get("os") != "linux":
        raise ValueError(f"simtune target {simtune_target!r} is {t.get('os')}; the TVM runner "
                         "supports linux (user-mode) targets only")
    isa = t.get("isa")
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


def _workload_shape(workload: str) -> tuple[str, dict[str, int]]:
    op, _, params = workload.partition(":")
    shape = {}
    for item in filter(None, params.split(",")):
        key, _, value = item.partition("=")
        shape[key.strip()] = int(value)
    return op.strip(), shape


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


@derived_object
class SimtuneRunner(PyRunner):
    """MetaSchedule runner backed by simtune's simulators and predictors.

    Parameters
    ----------
    target : simtune target name ("riscv64-linux", "x86_64-host") or .json path; tune with
        the TVM target `tvm_target(target)`.
    workload : simtune workload string the function implements ("gemm:M=128,N=128,K=128"):
        shape features and flops for the predictor.
    sims : simulators, e.g. "qemu" or "qemu,valgrind" (default: the model's, else "qemu").
    model : model file from `simtune train --no-rel`; None: instruction-count baseline.
    reference : C source defining `void simtune_reference(float *const *bufs)` over the
        function's buffers in argument order; default for gemm workloads: a naive matmul.
    outputs : indices of the output arguments (default: the last one).
    func_name : the PrimFunc's global symbol (the harness calls __tvm_ffi_<func_name>);
        default: the one TVM FFI function the artifact defines (a @T.prim_func keeps its
        Python name as global symbol, e.g. "Matmul"; an IRModule's function is "main").
    simtune : path of the simtune executable (default: find_simtune()).
    work_dir : where harnesses and executables are kept (default: a temporary folder).
    jobs : parallel simulations per batch (simtune estimate -j; default: its default).
    timeout_s : limit for one batch's `simtune estimate`.
    """

    def __init__(self, target: str, workload: str, *, sims: str | None = None,
                 model: str | None = None, reference: str | None = None,
                 outputs: Sequence[int] = (-1,), func_name: str | None = None,
                 simtune: str | None = None, work_dir: str | None = None, jobs: int = 0,
                 timeout_s: float = 3600, rel_tol: float = 1e-4, abs_tol: float = 1e-4) -> None:
        super().__init__()
        self.target = target
        self.target_desc = load_simtune_target(target)
        tvm_target(target)  # rejects targets the runner cannot generate code for
        self.workload = workload
        self.sims = sims
        self.model = model
        if reference is None:
            op, shape = _workload_shape(workload)
            if op != "gemm":
                raise ValueError(f"workload {workload!r}: pass reference= (C source of "
                                 "simtune_reference); only gemm has a built-in one")
            reference = gemm_reference(shape["M"], shape["N"], shape["K"])
        self.reference = reference
        self.outputs = tuple(outputs)
        self.func_name = func_name
        self.simtune = simtune or find_simtune()
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="simtune_tvm_"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.jobs = jobs
        self.timeout_s = timeout_s
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._counter = 0
        self.last_estimates: list[dict] = []   # the estimate rows of the latest batch
        # "seconds" or "score" (see the module's docstring); a model's is known after the
        # first batch, from simtune estimate's "unit" ("ns"/"cycles": seconds).
        self.run_secs_unit: str | None = None
        if model is None:
            self._note_unit("score")

    def _note_unit(self, estimate_unit: str) -> None:
        unit = "score" if estimate_unit == "score" else "seconds"
        if unit == "score" and self.run_secs_unit != "score":
            what = ("the instruction-count baseline (no model=)" if self.model is None
                    else f"model {self.model}, which ranks but predicts no run time")
            warnings.warn(f"SimtuneRunner: run_secs comes from {what}: 1e-9 x exp(score), "
                          "not a run time; MetaSchedule's 'Latency (us)' column shows that "
                          "score (for the baseline: thousands of simulated instructions)",
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

    # ---- worker thread ----

    def _run_batch(self, jobs: list) -> list:
        """One outcome per job: predicted seconds (float) or an error message (str)."""
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
        if elfs:
            try:
                rows = self._estimate(list(elfs.values()))
            except _Failure as e:
                rows = None
                for k in elfs:
                    outcomes[k] = str(e)
            if rows is not None:
                self.last_estimates = rows
                for k, row in zip(elfs, rows):
                    if row.get("status") == "ok":
                        self._note_unit(str(row.get("unit", "score")))
                        outcomes[k] = float(row["predicted_s"])
                    else:
                        outcomes[k] = (f"simtune runner: {row.get('stage')}: "
                                       f"{row.get('message')}")
        return outcomes

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
        source = generate_harness(symbol, buffers, self.reference, self.rel_tol, self.abs_tol)
        harness = folder / "harness.c"
        harness.write_text(source, encoding="utf-8")
        elf = folder / "candidate.elf"
        t = self.target_desc
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

    def _estimate(self, elfs: list[str]) -> list[dict]:
        out_json = self.work_dir / f"estimate{self._counter:05d}.json"
        cmd = [self.simtune, "estimate", *elfs, "--target", self.target,
               "--workload", self.workload, "--json", str(out_json)]
        if self.sims:
            cmd += ["--sim", self.sims]
        if self.model:
            cmd += ["--model", self.model]
        if self.jobs:
            cmd += ["-j", str(self.jobs)]
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
        rows = doc.get("results", [])
        if len(rows) != len(elfs):
            raise _Failure("estimate", f"simtune estimate returned {len(rows)} rows for "
                                       f"{len(elfs)} executables")
        return rows
