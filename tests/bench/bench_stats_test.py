"""The statistics the bench scripts share (bench/benchstats.py) and bench/tvm_race_summary on
hand-made race reports: ratio of medians, its bootstrap interval, the baseline's own run-to-run
agreement. Stdlib only (system python3)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import benchstats  # noqa: E402


class BenchStatsTest(unittest.TestCase):
    def test_self_check(self) -> None:
        out = subprocess.run([sys.executable, str(BENCH / "benchstats.py")], capture_output=True,
                             text=True, check=False)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("benchstats: ok", out.stdout)

    def test_interval_holds_the_ratio_of_medians_and_narrows_with_runs(self) -> None:
        xs = [10.0, 11.0, 12.0, 9.0, 10.5]
        ys = [20.0, 19.0, 22.0, 21.0, 20.5]
        lo, hi = benchstats.median_ratio_interval(xs, ys)
        self.assertLessEqual(lo, 10.5 / 20.5)
        self.assertGreaterEqual(hi, 10.5 / 20.5)
        lo4, hi4 = benchstats.median_ratio_interval(xs * 4, ys * 4)
        self.assertLess(hi4 - lo4, hi - lo)
        with self.assertRaises(ValueError):
            benchstats.median_ratio_interval([1.0], [1.0, 2.0])

    def test_pairwise_within(self) -> None:
        self.assertEqual(benchstats.pairwise_within([5.0, 5.0, 5.0]), 1.0)
        self.assertEqual(benchstats.pairwise_within([1.0, 3.0]), 0.5)
        self.assertTrue(math.isnan(benchstats.pairwise_within([1.0])))


def report(seed: int, local_us: float, simtune_us: float) -> dict:
    return {"target": "x86_64-host", "seed": seed, "workloads": [{
        "workload": "gemm:M=8,N=8,K=8",
        "runs": [{"runner": "local", "best_native_us": local_us},
                 {"runner": "simtune", "best_native_us": simtune_us,
                  "audit": {"final_vs_oracle": 1.0, "spearman": 0.9}}]}]}


class RaceSummaryTest(unittest.TestCase):
    def test_summary_of_three_seeds(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for seed, (a, b) in enumerate([(10.0, 10.2), (12.0, 11.0), (20.0, 13.0)], 1):
                p = Path(d) / f"r{seed}.json"
                p.write_text(json.dumps(report(seed, a, b)))
                paths.append(str(p))
            out_json = Path(d) / "summary.json"
            run = subprocess.run([sys.executable, str(BENCH / "tvm_race_summary"), *paths,
                                  "--json", str(out_json)], capture_output=True, text=True,
                                 check=False)
            self.assertEqual(run.returncode, 0, run.stderr)
            rows = {r["runner"]: r for r in json.loads(out_json.read_text())}
        local, sim = rows["local"], rows["simtune"]
        self.assertAlmostEqual(sim["ratio_of_medians"], 11.0 / 12.0)
        lo, hi = sim["ratio_of_medians_90pct"]
        self.assertLessEqual(lo, 11.0 / 12.0)
        self.assertGreaterEqual(hi, 11.0 / 12.0)
        self.assertEqual(sim["within_5pct"], 3)        # 1.02, 0.917, 0.65
        self.assertEqual(sim["final_is_oracle"], 3)
        self.assertIsNone(local["ratio_of_medians_90pct"])
        # LocalRunner's own runs 10, 12, 20: only 10 vs 12 and 10 vs 20, 12 vs 20 (the faster
        # one first) are within 5 %: 3 of 6 ordered pairs.
        self.assertAlmostEqual(local["baseline_pairs_within_5pct"], 0.5)
        self.assertIn("one of its runs within 5 %", run.stdout)

    def test_unreadable_report_is_named(self) -> None:
        run = subprocess.run([sys.executable, str(BENCH / "tvm_race_summary"), "/nonexistent.json"],
                             capture_output=True, text=True, check=False)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("/nonexistent.json", run.stderr)


if __name__ == "__main__":
    unittest.main()
