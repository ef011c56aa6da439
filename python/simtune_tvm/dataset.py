"""A dataset of MetaSchedule-generated code in a simtune store (issue 18): for each workload,
MetaSchedule searches schedules (ms.tune_tir, its evolutionary search and cost model) with a
SimtuneRunner that simulates every trial and times every one on the target's reference
(calibrate = the batch size), recording each schedule's executable, statistics and reference
time as a candidate "external:<ELF hash>" of the workload, like simtune's own candidates.
`simtune train --db STORE --target T --sim S --ref native --no-rel` then trains a model for
TVM code on it (`make tvm-model`), which SimtuneRunner takes by default (find_tvm_model).

Resumable: a workload whose store already holds TRIALS measured schedules is skipped; one
with fewer gets another MetaSchedule run (the next seed) for the rest, and schedules whose
executable the store already simulated and measured are not run again. Progress: a line per
batch and per workload on stderr.

Each schedule's executable is kept (--keep, default <store>.executables/ beside the store, a
folder per MetaSchedule run), where the store's artifacts point, so that `simtune simulate`
can run them again when a simulator or the target's description changes (a store whose
executables are gone has to be searched and measured again from nothing).

    PYTHONPATH=python .venv/bin/python -m simtune_tvm.dataset --db out/tvm/x86.db \\
        [--target x86_64-host] [--sims qemu,mca] [--trials 48] [--workloads W;W...]
        [--ref-options verify=off] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

# The simulated targets have one core; MetaSchedule's local runs and TVM's own threads too.
os.environ.setdefault("TVM_NUM_THREADS", "1")

# Operators and shapes of real networks, small enough for a fast simulation: ResNet-style
# 3x3 and 1x1 convolutions (stride 1 and 2), MobileNet-style depthwise layers, classifier and
# attention-sized matrix products. None of them is a shape of bench/tvm_race or of
# bench/tvm_rank_experiment's default, so those rank and race on shapes the model never saw.
DEFAULT_WORKLOADS = [
    "gemm:M=96,N=96,K=192",
    "gemm:M=64,N=192,K=128",
    "gemm:M=256,N=64,K=64",
    "mvm:M=1000,K=512",
    "mvm:M=512,K=256",
    "conv2d:N=1,C=32,H=16,W=16,K=32,R=3,S=3,stride=1,pad=1",
    "conv2d:N=1,C=8,H=32,W=32,K=16,R=3,S=3,stride=1,pad=1",
    "conv2d:N=1,C=32,H=16,W=16,K=64,R=1,S=1,stride=1,pad=0",
    "conv2d:N=1,C=16,H=16,W=16,K=32,R=3,S=3,stride=2,pad=1",
    "dwconv2d:C=32,H=32,W=32,R=3,S=3,stride=1,pad=1",
    "dwconv2d:C=128,H=16,W=16,R=3,S=3,stride=2,pad=1",
    "dwconv2d:C=64,H=16,W=16,R=3,S=3,stride=1,pad=1",
    # Grown in session 11 (issue 18: the x86 model ranked the convolutions worst): more
    # strided and depthwise layers, two more matrix products.
    "dwconv2d:C=32,H=28,W=28,R=3,S=3,stride=2,pad=1",
    "dwconv2d:C=96,H=14,W=14,R=3,S=3,stride=1,pad=1",
    "dwconv2d:C=16,H=48,W=48,R=3,S=3,stride=2,pad=1",
    "conv2d:N=1,C=32,H=28,W=28,K=32,R=3,S=3,stride=2,pad=1",
    "conv2d:N=1,C=8,H=48,W=48,K=16,R=3,S=3,stride=2,pad=1",
    "conv2d:N=1,C=64,H=8,W=8,K=64,R=3,S=3,stride=1,pad=1",
    "gemm:M=32,N=256,K=96",
    "gemm:M=128,N=64,K=256",
]


# For the rvsim targets (every schedule cycle-simulated): the same operators at 20-170 k
# multiply-adds, a few seconds of rvsim each.
RVSIM_WORKLOADS = [
    "gemm:M=32,N=32,K=64",
    "gemm:M=16,N=64,K=96",
    "gemm:M=48,N=40,K=32",
    "mvm:M=256,K=128",
    "conv2d:N=1,C=8,H=12,W=12,K=16,R=3,S=3,stride=1,pad=1",
    "conv2d:N=1,C=16,H=8,W=8,K=32,R=1,S=1,stride=1,pad=0",
    "conv2d:N=1,C=8,H=16,W=16,K=16,R=3,S=3,stride=2,pad=1",
    "dwconv2d:C=32,H=16,W=16,R=3,S=3,stride=1,pad=1",
    "dwconv2d:C=64,H=12,W=12,R=3,S=3,stride=2,pad=1",
    "dwconv2d:C=24,H=14,W=14,R=3,S=3,stride=1,pad=1",
]


def measured_count(db: Path, workload: str, target: str) -> int:
    """Schedules of `workload` with an ok reference result on `target` in the store."""
    if not db.is_file():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        row = con.execute(
            "SELECT COUNT(DISTINCT r.candidate_id) FROM ref_results r "
            "JOIN candidates c ON c.id = r.candidate_id JOIN workloads w ON w.id = c.workload_id "
            "WHERE w.key = ? AND r.target = ? AND r.status = 'ok' AND c.config LIKE 'external:%'",
            (workload, target)).fetchone()
    return int(row[0])


def collect(workload: str, db: Path, target: str, sims: str, trials: int, seed: int,
            per_iter: int, work: Path, log, ref_options: str = "",
            keep: Path | None = None) -> dict:
    """One MetaSchedule run on `workload` whose every trial is simulated and measured; the
    executables stay in `keep` (default: under `work`)."""
    # pylint: disable=import-outside-toplevel
    import tvm
    from tvm.s_tir import meta_schedule as ms

    from .runner import SimtuneRunner, local_builder, tvm_target
    from .workloads import prim_func

    started = time.monotonic()

    def on_batch(records: list[dict]) -> None:
        ok = sum(1 for r in records if r["kind"] == "measured")
        log(f"  {workload}: batch of {len(records)}: {ok} simulated and measured, "
            f"{len(records) - ok} failed; {time.monotonic() - started:.0f} s")

    runner = SimtuneRunner(target, workload, sims=sims, model=None, calibrate=per_iter,
                           store=str(db), work_dir=str(keep or work / "runner"), on_batch=on_batch,
                           ref_options=ref_options)
    tt = tvm.target.Target(tvm_target(target))
    ms.tune_tir(prim_func(workload), tt, str(work / "ms"), max_trials_global=trials,
                num_trials_per_iter=per_iter, runner=runner,
                builder=local_builder(max_workers=2), seed=seed)
    kinds = [t["kind"] for t in runner.trials]
    return {"trials": len(kinds), "measured": kinds.count("measured"),
            "failed": kinds.count("failed"), "wall_s": time.monotonic() - started}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="simtune store to fill (created when missing)")
    ap.add_argument("--target", default="x86_64-host")
    ap.add_argument("--sims", default="qemu,mca")
    ap.add_argument("--trials", type=int, default=48, help="measured schedules per workload")
    ap.add_argument("--op-trials", default="",
                    help="OP=N,...: measured schedules per workload of operator OP instead of "
                         "--trials (e.g. dwconv2d=96: more of the region a longer search reaches)")
    ap.add_argument("--per-iter", type=int, default=16, help="MetaSchedule trials per batch")
    ap.add_argument("--workloads", default="",
                    help="';'-separated simtune workload strings (default: 20 network shapes; "
                         "for a target measured on rvsim, 10 smaller ones)")
    ap.add_argument("--ref-options", default="",
                    help="options of the target's reference (e.g. verify=off for rvsim: the "
                         "schedule is verified in its QEMU run already)")
    ap.add_argument("--keep", default="",
                    help="folder for the schedules' executables (default: <store>.executables)")
    ap.add_argument("--max-runs", type=int, default=3,
                    help="MetaSchedule runs per workload at most (each a new seed)")
    args = ap.parse_args(argv)
    if args.trials < 1 or args.per_iter < 1:
        ap.error("--trials and --per-iter must be >= 1")
    op_trials = {}
    for item in filter(None, (x.strip() for x in args.op_trials.split(","))):
        op, _, n = item.partition("=")
        if not n.isdigit() or int(n) < 1:
            ap.error(f"--op-trials: expected OP=N with N >= 1; got {item!r}")
        op_trials[op.strip()] = int(n)
    db = Path(args.db).resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    keep = Path(args.keep).resolve() if args.keep else db.with_name(db.name + ".executables")
    if not args.workloads:
        from .runner import load_simtune_target
        rvsim = "rvsim" in load_simtune_target(args.target).get("references", [])
        args.workloads = ";".join(RVSIM_WORKLOADS if rvsim else DEFAULT_WORKLOADS)
    workloads = [w.strip() for w in args.workloads.split(";") if w.strip()]
    unknown = set(op_trials) - {w.split(":", 1)[0] for w in workloads}
    if unknown:
        ap.error(f"--op-trials: no workload of operator(s) {', '.join(sorted(unknown))}")

    def log(msg: str) -> None:
        print(f"[tvm-dataset {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    log(f"{len(workloads)} workloads x {args.trials} schedules"
        f"{''.join(f', {op} {n}' for op, n in op_trials.items())} on {args.target} ({args.sims}) "
        f"into {db}; load {os.getloadavg()[0]:.1f}")
    for i, workload in enumerate(workloads, 1):
        trials = op_trials.get(workload.split(":", 1)[0], args.trials)
        for run in range(args.max_runs + 1):
            have = measured_count(db, workload, args.target)
            if have >= trials:
                log(f"[{i}/{len(workloads)}] {workload}: {have} schedules stored, done")
                break
            if run == args.max_runs:
                log(f"[{i}/{len(workloads)}] {workload}: {have} schedules after {args.max_runs} "
                    "MetaSchedule runs (the others failed, or were schedules stored already)")
                break
            want = trials - have
            log(f"[{i}/{len(workloads)}] {workload}: {have} stored, MetaSchedule run {run + 1} "
                f"(seed {run + 1}) for {want} more")
            # A folder of its own per run (the store's artifacts point into it; never reused).
            kept = keep / (re.sub(r"[^A-Za-z0-9=,.-]+", "_", workload) +
                           f"-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-seed{run + 1}")
            with tempfile.TemporaryDirectory(prefix="tvm_dataset_") as work:
                out = collect(workload, db, args.target, args.sims, want, run + 1,
                              min(args.per_iter, want), Path(work), log, args.ref_options, kept)
            log(f"  {workload}: {out['measured']} measured, {out['failed']} failed of "
                f"{out['trials']} trials in {out['wall_s']:.0f} s; load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
