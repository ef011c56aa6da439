"""SimtuneRunner's calibration from the reference (issue 18), on hand-made schedules of a
64x64x64 matmul (loop orders), simulated by valgrind on x86_64-host:
  - with a fake reference (a callable): the k best predicted of a batch report the fake's
    times, the others exp(a + b log p) with a and b fitted on those times; every trial is
    marked "measured" or "predicted"; a failing reference fails only its trials;
  - with the real native reference (`simtune estimate --measure-top`) and a store: measured
    seconds come back and the store holds the schedules as "external:" candidates;
  - a model trained on that store (`simtune train`) is what model="auto" and model=FILE use;
  - units: without a model and without calibration the runner warns that run_secs is a
    score; with calibrate it is seconds and says nothing;
  - verified_database: only schedules the reference measured (by calibration, or verified
    at the end: the best predicted not yet measured) go into it, with their measured times,
    so compile_tir never picks a schedule on a prediction alone; a verification that fails
    leaves its schedule out; the native reference verifies through `simtune estimate --measure`.

Needs: the simtune binary ($SIMTUNE, else build/simtune), valgrind, gcc, apache-tvm.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))

import tvm  # noqa: E402
from tvm.s_tir import meta_schedule as ms  # noqa: E402
from tvm.s_tir.meta_schedule.builder.local_builder import default_build, default_export  # noqa: E402
from tvm.s_tir.meta_schedule.runner import RunnerInput  # noqa: E402

from simtune_tvm import SimtuneRunner, find_simtune, prim_func, tvm_target  # noqa: E402
from simtune_tvm.runner import CALIBRATION_SLOPE_PRIOR, fit_calibration  # noqa: E402

TARGET = "x86_64-host"
WORKLOAD = "gemm:M=64,N=64,K=64"
ORDERS = ["ijk", "ikj", "jki", "kij"]   # four schedules that differ clearly in speed


def require_tools() -> None:
    missing = [t for t in ("valgrind", "gcc") if shutil.which(t) is None]
    if missing:
        raise unittest.TestCase.failureException(
            f"missing tools {', '.join(missing)}: run scripts/setup (Debian packages)")
    if not os.access(find_simtune(), os.X_OK):
        raise unittest.TestCase.failureException("simtune executable not found; build it")


class FitCalibrationTest(unittest.TestCase):
    """log(t) = a + b log(p): the slope shrunk towards 1, so that a few measurements of a
    batch's best predicted (close together) only move the scale."""

    @staticmethod
    def line(b: float, a: float, xs: list[float]) -> list[tuple[float, float]]:
        return [(x, a + b * x) for x in xs]

    def test_one_point_moves_only_the_scale(self) -> None:
        a, b = fit_calibration([(math.log(1e-5), math.log(3e-5))])
        self.assertEqual(b, 1.0)
        self.assertAlmostEqual(a, math.log(3.0))

    def test_close_points_keep_the_slope_near_one(self) -> None:
        # Four measurements within 10 % of each other on a line of slope 3: least squares
        # would say 3 and stretch the batch; the prior keeps b within 1 % of 1.
        pts = self.line(3.0, -2.0, [math.log(1e-5 * (1 + 0.03 * i)) for i in range(4)])
        a, b = fit_calibration(pts)
        self.assertLess(abs(b - 1.0), 0.01)
        self.assertAlmostEqual(a, sum(y for _, y in pts) / 4 - b * sum(x for x, _ in pts) / 4)

    def test_wide_points_win_over_the_prior(self) -> None:
        # 40 points spanning 1000x on a line of slope 1.5: the data outweighs the prior.
        xs = [math.log(1e-6) + i * math.log(1000) / 39 for i in range(40)]
        a, b = fit_calibration(self.line(1.5, 0.7, xs))
        self.assertGreater(b, 1.45)
        self.assertLess(b, 1.5)
        # Without a prior it is plain least squares, exact on a line.
        a, b = fit_calibration(self.line(1.5, 0.7, xs), prior=0.0)
        self.assertAlmostEqual(b, 1.5)
        self.assertAlmostEqual(a, 0.7)

    def test_slope_is_clamped(self) -> None:
        xs = [math.log(1e-6) + i for i in range(20)]
        self.assertEqual(fit_calibration(self.line(9.0, 0.0, xs))[1], 4.0)
        self.assertEqual(fit_calibration(self.line(-2.0, 0.0, xs))[1], 0.25)

    def test_prior_is_positive_and_no_points_is_an_error(self) -> None:
        self.assertGreater(CALIBRATION_SLOPE_PRIOR, 0.0)
        with self.assertRaises(ValueError):
            fit_calibration([])


class CalibrateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        require_tools()
        cls.work = Path(tempfile.mkdtemp(prefix="simtune_tvm_cal_"))
        tt = tvm.target.Target(tvm_target(TARGET))
        func = prim_func(WORKLOAD)
        cls.args = ms.arg_info.ArgInfo.from_prim_func(func)
        cls.tt = tt
        cls.func = func
        cls.artifacts = []
        cls.traces = []
        for order in ORDERS:
            sch = tvm.s_tir.Schedule(func)
            loops = dict(zip("ijk", sch.get_loops(sch.get_sblock("C"))))
            sch.reorder(*(loops[c] for c in order))
            cls.traces.append(sch.trace)
            cls.artifacts.append(default_export(default_build(sch.mod, tt, None)))

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.work, True)
        for artifact in cls.artifacts:   # LocalBuilder's export folders (in /tmp)
            shutil.rmtree(os.path.dirname(artifact), True)

    def inputs(self, artifacts=None) -> list:
        return [RunnerInput(a, "cpu", self.args) for a in (artifacts or self.artifacts)]

    def test_fake_reference_calibrates_and_marks_every_trial(self) -> None:
        calls = []

        def fake(elfs: list[str]) -> list[float]:
            calls.append(list(elfs))
            return [2e-4 * (n + 1) for n in range(len(elfs))]

        with warnings.catch_warnings():
            warnings.simplefilter("error")   # no unit warning with calibrate
            runner = SimtuneRunner(TARGET, WORKLOAD, sims="valgrind", model=None, calibrate=2,
                                   calibrate_ref=fake, work_dir=str(self.work / "fake"))
            results = [f.result() for f in runner.run(self.inputs())]
        self.assertEqual(runner.run_secs_unit, "seconds")
        self.assertTrue(all(r.error_msg is None for r in results), [r.error_msg for r in results])
        self.assertEqual(len(calls), 1)
        self.assertEqual(len(calls[0]), 2)
        trials = runner.trials
        self.assertEqual([t["kind"] for t in trials].count("measured"), 2)
        self.assertEqual([t["kind"] for t in trials].count("predicted"), 2)
        by_elf = {t["elf"]: t for t in trials}
        # The fake was asked about the two best predicted, best first, and its times are
        # what those trials report.
        ranked = sorted(trials, key=lambda t: t["predicted_s"])
        self.assertEqual(calls[0], [ranked[0]["elf"], ranked[1]["elf"]])
        self.assertAlmostEqual(by_elf[calls[0][0]]["run_secs"], 2e-4)
        self.assertAlmostEqual(by_elf[calls[0][1]]["run_secs"], 4e-4)
        # Two points: the fit of those two, its slope shrunk towards 1.
        cal = runner.calibration
        self.assertEqual(cal["points"], 2)
        want_a, want_b = fit_calibration([(math.log(ranked[0]["predicted_s"]), math.log(2e-4)),
                                          (math.log(ranked[1]["predicted_s"]), math.log(4e-4))])
        self.assertAlmostEqual(cal["a"], want_a)
        self.assertAlmostEqual(cal["b"], want_b)
        for t in ranked[2:]:
            self.assertEqual(t["kind"], "predicted")
            want = math.exp(want_a + want_b * math.log(t["predicted_s"]))
            self.assertAlmostEqual(t["run_secs"], want)
        for r, t in zip(results, trials):
            self.assertAlmostEqual(float(r.run_secs[0]), t["run_secs"])
        lines = (self.work / "fake" / "trials.jsonl").read_text().splitlines()
        self.assertEqual([json.loads(x)["kind"] for x in lines], [t["kind"] for t in trials])

        # A second batch: two more points; the fit now has four.
        [f.result() for f in runner.run(self.inputs())]
        self.assertEqual(runner.calibration["points"], 4)

    def database(self, results) -> "ms.database.MemoryDatabase":
        """A MetaSchedule database of the four schedules with the run_secs the runner gave."""
        db = ms.database.MemoryDatabase()
        workload = db.commit_workload(tvm.IRModule({"main": self.func}))
        for trace, r in zip(self.traces, results):
            db.commit_tuning_record(ms.database.TuningRecord(
                trace, workload, [float(r.run_secs[0])], self.tt, self.args))
        return db

    def test_verified_database_holds_only_measured_schedules(self) -> None:
        calls = []

        def fake(elfs: list[str]) -> list[float]:
            calls.append(list(elfs))
            # Calibration's pick (the best predicted) is slow on the "board"; the second
            # best predicted, verified at the end, is the fastest.
            return [1e-3] * len(elfs) if len(calls) == 1 else [5e-4] * len(elfs)

        runner = SimtuneRunner(TARGET, WORKLOAD, sims="valgrind", model=None, calibrate=1,
                               calibrate_ref=fake, work_dir=str(self.work / "verify"))
        results = [f.result() for f in runner.run(self.inputs())]
        self.assertTrue(all(r.error_msg is None for r in results), [r.error_msg for r in results])
        db = self.database(results)
        ranked = sorted(runner.trials, key=lambda t: t["predicted_s"])
        # Without verification: the one schedule calibration measured, at its measured time,
        # although three predicted ones report less than 1 ms.
        only_cal = runner.verified_database(db, verify=0)
        recs = only_cal.get_all_tuning_records()
        self.assertEqual([float(r.run_secs[0]) for r in recs], [1e-3])
        self.assertEqual(runner.verified, [])
        # verify=1: the best predicted schedule not measured yet is measured now and wins.
        verified = runner.verified_database(db, verify=1)
        self.assertEqual(calls[1], [ranked[1]["elf"]])
        self.assertEqual(sorted(float(r.run_secs[0]) for r in verified.get_all_tuning_records()),
                         [5e-4, 1e-3])
        self.assertEqual(runner.verified, [{"serial": ranked[1]["serial"], "elf": ranked[1]["elf"],
                                            "predicted_s": ranked[1]["predicted_s"],
                                            "measured_s": 5e-4}])
        self.assertEqual(sum(t["kind"] == "measured" for t in runner.trials), 2)
        best = verified.get_top_k(verified.commit_workload(tvm.IRModule({"main": self.func})), 1)[0]
        self.assertEqual(float(best.run_secs[0]), 5e-4)
        self.assertIsNotNone(ms.tir_integration.compile_tir(verified, self.func, self.tt))

    def test_failed_verification_leaves_the_schedule_out(self) -> None:
        state = {"calls": 0}

        def flaky(elfs: list[str]) -> list:
            state["calls"] += 1
            if state["calls"] > 1:
                raise RuntimeError("board unreachable")
            return [1e-3] * len(elfs)

        runner = SimtuneRunner(TARGET, WORKLOAD, sims="valgrind", model=None, calibrate=1,
                               calibrate_ref=flaky, work_dir=str(self.work / "flaky"))
        results = [f.result() for f in runner.run(self.inputs())]
        verified = runner.verified_database(self.database(results), verify=2)
        self.assertEqual(len(verified.get_all_tuning_records()), 1)
        self.assertEqual(len(runner.verified), 2)
        for entry in runner.verified:
            self.assertEqual(entry["error"],
                             "simtune runner: measure: calibrate_ref gave "
                             "'RuntimeError: board unreachable'")

    def test_native_reference_verifies_the_best_predicted(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # run_secs is a score here: no calibration
            runner = SimtuneRunner(TARGET, WORKLOAD, sims="valgrind", model=None,
                                   ref_options="rounds=3,reps=5", work_dir=str(self.work / "nv"))
            results = [f.result() for f in runner.run(self.inputs())]
        self.assertTrue(all(r.error_msg is None for r in results), [r.error_msg for r in results])
        verified = runner.verified_database(self.database(results), verify=2)
        ranked = sorted(runner.trials, key=lambda t: t["predicted_s"])
        self.assertEqual([v["elf"] for v in runner.verified], [ranked[0]["elf"], ranked[1]["elf"]])
        secs = sorted(float(r.run_secs[0]) for r in verified.get_all_tuning_records())
        self.assertEqual(len(secs), 2)
        self.assertTrue(all(1e-6 < s < 1e-1 for s in secs), secs)   # native seconds
        self.assertGreater(runner.reference_s, 0)

    def test_failing_reference_fails_only_its_trials(self) -> None:
        def broken(_elfs):
            raise RuntimeError("board unreachable")

        runner = SimtuneRunner(TARGET, WORKLOAD, sims="valgrind", model=None, calibrate=1,
                               calibrate_ref=broken, work_dir=str(self.work / "broken"))
        results = [f.result() for f in runner.run(self.inputs())]
        errors = [r.error_msg for r in results if r.error_msg]
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("simtune runner: measure: calibrate_ref gave 'RuntimeError: board unreachable'",
                      errors[0])
        self.assertEqual(sum(1 for r in results if r.run_secs), 3)

    def test_native_reference_store_and_model(self) -> None:
        store = self.work / "native.db"
        runner = SimtuneRunner(TARGET, WORKLOAD, sims="valgrind", model=None, calibrate=4,
                               ref_options="rounds=3,reps=5", store=str(store),
                               work_dir=str(self.work / "native"))
        results = [f.result() for f in runner.run(self.inputs())]
        self.assertTrue(all(r.error_msg is None for r in results), [r.error_msg for r in results])
        secs = [float(r.run_secs[0]) for r in results]
        self.assertTrue(all(t["kind"] == "measured" for t in runner.trials))
        # Native times of a 64^3 matmul on this machine: microseconds to milliseconds.
        self.assertTrue(all(1e-6 < s < 1e-1 for s in secs), secs)
        self.assertGreater(max(secs) / min(secs), 1.2, f"loop orders timed alike: {secs}")
        with sqlite3.connect(store) as con:
            configs = [r[0] for r in con.execute("SELECT config FROM candidates")]
            refs = con.execute("SELECT COUNT(*) FROM ref_results WHERE status = 'ok'").fetchone()[0]
        self.assertEqual(len(configs), 4)
        self.assertTrue(all(c.startswith("external:") for c in configs), configs)
        self.assertEqual(refs, 4)

        # A model for TVM code trained on that store; the runner then predicts seconds.
        model = self.work / "model.json"
        train = subprocess.run([find_simtune(), "train", "--db", str(store), "--target", TARGET,
                                "--sim", "valgrind", "--ref", "native", "--no-rel",
                                "--predictor", "ridge", "--out", str(model)],
                               capture_output=True, text=True, timeout=300, check=False)
        self.assertEqual(train.returncode, 0, train.stderr)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with_model = SimtuneRunner(TARGET, WORKLOAD, sims="valgrind", model=str(model),
                                       work_dir=str(self.work / "model"))
            results = [f.result() for f in with_model.run(self.inputs())]
        self.assertEqual(with_model.run_secs_unit, "seconds")
        pred = [float(r.run_secs[0]) for r in results]
        self.assertTrue(all(1e-7 < p < 1.0 for p in pred), pred)

    def test_units_without_model_or_calibration(self) -> None:
        with self.assertWarnsRegex(UserWarning, r"instruction-count baseline .*not a run time.*"
                                                r"pass calibrate=k for seconds"):
            runner = SimtuneRunner(TARGET, WORKLOAD, sims="valgrind", model=None,
                                   work_dir=str(self.work / "units"))
        self.assertEqual(runner.run_secs_unit, "score")
        self.assertEqual(runner.model_note, "instruction-count baseline (model=None)")
        with self.assertRaisesRegex(ValueError, "calibrate must be an integer >= 0; got -1"):
            SimtuneRunner(TARGET, WORKLOAD, model=None, calibrate=-1)
        with self.assertRaisesRegex(ValueError, "calibrate=2: simtune target 'riscv64-linux' has "
                                                "no reference to measure on"):
            SimtuneRunner("riscv64-linux", WORKLOAD, model=None, calibrate=2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
