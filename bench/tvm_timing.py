"""Native timing of TVM libraries by one protocol (bench/tvm_race's finals,
bench/tvm_rank_experiment's schedules): where a library and its tensors land in memory moves a
kernel's time by up to 2.6x on this VM, steady within a process (README, "The finals timed
again, across processes"), so each library is timed in several fresh processes.
Run as a script, it is one such process: a JSON spec on stdin, the times as JSON on stdout.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TVM_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

import numpy as np  # noqa: E402
import tvm  # noqa: E402
from tvm.s_tir import meta_schedule as ms  # noqa: E402

from simtune_tvm import prim_func  # noqa: E402


def time_child(spec: dict) -> dict:
    """One timing process (time_libs): loads the libraries in a shuffled order, so each lands
    at other addresses than in the other processes; per round, each library in a shuffled
    order gets new tensors behind a spacer of random size (other data addresses) and is timed
    with time_evaluator (min over `repeat`). Returns each library's round times (s) and its
    output's largest difference from the first library's."""
    rng = np.random.default_rng(spec["seed"])
    dev = tvm.cpu(0)
    func = prim_func(spec["workload"])
    data = np.random.default_rng(0)
    arrays = [data.uniform(-1, 1, [int(d) for d in a.shape]).astype("float32")
              for a in ms.arg_info.ArgInfo.from_prim_func(func)]
    arrays[-1][:] = 0
    libs = spec["libs"]
    mods = {}
    for k in rng.permutation(len(libs)):
        mods[int(k)] = tvm.runtime.load_module(libs[k])
    want, diffs = None, {}
    for k in range(len(libs)):
        tensors = [tvm.runtime.tensor(a, dev) for a in arrays]
        mods[k]["main"](*tensors)
        got = tensors[-1].numpy()
        want = got if want is None else want
        diffs[k] = float(np.max(np.abs(got - want)))
    times: dict[int, list[float]] = {k: [] for k in range(len(libs))}
    spacers = []
    for _ in range(spec["rounds"]):
        for k in rng.permutation(len(libs)):
            k = int(k)
            spacers.append(tvm.runtime.tensor(np.zeros(int(rng.integers(1, 1 << 18)), "float32"),
                                              dev))
            tensors = [tvm.runtime.tensor(a, dev) for a in arrays]
            f = mods[k].time_evaluator("main", dev, number=5, repeat=spec["repeat"])
            times[k].append(min(f(*tensors).results))
    return {"times": [times[k] for k in range(len(libs))],
            "max_abs_diff_vs_first": [diffs[k] for k in range(len(libs))]}


def time_libs(libs: list[str], workload: str, processes: int, rounds: int,
              repeat: int) -> list[dict]:
    """Times libraries natively by one protocol for all (time_child): `processes` fresh
    processes, one after another, each `rounds` interleaved rounds. A library's time is the
    median over processes of each process's median round. Both placements matter on this
    VM: one schedule's library timed at 43, 52 and 57 us in three processes, steady within
    each, and one allocation in ten puts its tensors where the kernel runs ~30 % slower.
    Returns per library: best_native_us, native_spread ((max - min) / median of the process
    medians), native_us_by_process, max_abs_diff_vs_first."""
    medians = [[] for _ in libs]
    diffs = [0.0 for _ in libs]
    for p in range(processes):
        spec = {"libs": libs, "workload": workload, "rounds": rounds, "repeat": repeat,
                "seed": 1000 + p}
        r = subprocess.run([sys.executable, __file__], input=json.dumps(spec),
                           capture_output=True, text=True, check=False, timeout=1800)
        if r.returncode != 0:
            raise RuntimeError(f"timing process failed: {r.stderr[-2000:]}")
        got = json.loads(r.stdout.strip().splitlines()[-1])
        for k, t in enumerate(got["times"]):
            medians[k].append(statistics.median(t))
            diffs[k] = max(diffs[k], got["max_abs_diff_vs_first"][k])
    out = []
    for k in range(len(libs)):
        med = statistics.median(medians[k])
        out.append({"best_native_us": round(med * 1e6, 2),
                    "native_spread": round((max(medians[k]) - min(medians[k])) / med, 3),
                    "native_us_by_process": [round(m * 1e6, 2) for m in medians[k]],
                    "max_abs_diff_vs_first": diffs[k]})
    return out


if __name__ == "__main__":   # one timing process of time_libs
    print(json.dumps(time_child(json.loads(sys.stdin.read()))))
