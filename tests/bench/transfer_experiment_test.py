"""bench/transfer_experiment's own logic, without simtune: the ranking metrics, the seeded fresh
shapes, --models parsing, and --judge-only on a missing store. Stdlib only (system python3)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
_loader = importlib.machinery.SourceFileLoader("transfer_experiment", str(BENCH / "transfer_experiment"))
_spec = importlib.util.spec_from_loader("transfer_experiment", _loader)
te = importlib.util.module_from_spec(_spec)
_loader.exec_module(te)


class MetricsTest(unittest.TestCase):
    def test_perfect_ranking(self):
        m = te.metrics([3.0, 1.0, 2.0, 4.0], [30, 10, 20, 40])
        self.assertEqual(m["regret"], 1.0)
        self.assertEqual(m["verify5"], 1.0)
        self.assertAlmostEqual(m["top_k_percent"], 25.0)
        self.assertAlmostEqual(m["spearman"], 1.0)

    def test_wrong_first_pick_and_ties_slowest_first(self):
        # The predicted best (score 1) is the 2.0 candidate: regret 2; the best is second.
        m = te.metrics([2.0, 1.0, 4.0], [1, 2, 3])
        self.assertAlmostEqual(m["regret"], 2.0)
        self.assertAlmostEqual(m["top_k_percent"], 200.0 / 3)
        # A tie in score counts the slower candidate first (no credit for a lucky tie).
        tie = te.metrics([1.0, 3.0], [5, 5])
        self.assertAlmostEqual(tie["regret"], 3.0)

    def test_summary_goals(self):
        rows = [dict(te.metrics([1.0, 2.0, 3.0], [1, 2, 3]), workload="a"),
                dict(te.metrics([1.2, 1.0, 3.0], [1, 2, 3]), workload="b")]
        s = te.summarise(rows)
        self.assertAlmostEqual(s["worst_regret"], 1.2)
        self.assertFalse(s["goal_regret"])
        self.assertEqual(s["share_top1pct"], 0.0)   # 3 candidates: rank 1 is 33 %


class ShapesTest(unittest.TestCase):
    def test_seeded_in_range_and_not_in_catalog(self):
        a = te.fresh_shapes(3, 11, set())
        self.assertEqual(a, te.fresh_shapes(3, 11, set()))
        self.assertEqual(len(a), 12)
        self.assertNotEqual(a, te.fresh_shapes(3, 12, set()))
        # A catalog key is never drawn: the draws skip it and take the next.
        b = te.fresh_shapes(3, 11, {a[0]})
        self.assertNotIn(a[0], b)
        self.assertEqual(len(b), 12)
        for key in a:
            self.assertIn(key.split(":")[0], ("gemm", "mvm", "conv2d", "dwconv2d"))


class ModelsOptionTest(unittest.TestCase):
    def test_target_substituted(self):
        got = list(te.parse_models("shipped=data/models/{target}.json; mine=/tmp/m.json", "riscv64-rvsim-p550"))
        self.assertEqual(got, [("shipped", "data/models/riscv64-rvsim-p550.json"), ("mine", "/tmp/m.json")])
        self.assertEqual(list(te.parse_models("", "x")), [])

    def test_bad_item_names_it(self):
        with self.assertRaises(SystemExit) as e:
            list(te.parse_models("shipped", "x"))
        self.assertIn("'shipped'", str(e.exception))


class JudgeOnlyTest(unittest.TestCase):
    def test_missing_store_is_a_clear_error_and_runs_nothing(self):
        with tempfile.TemporaryDirectory() as out:
            r = subprocess.run([sys.executable, str(BENCH / "transfer_experiment"), "--simtune", "/nonexistent/simtune",
                                "--targets", "riscv64-rvsim-p550", "--skip-lowo", "--judge-only",
                                "--fresh-per-op", "1", "--corpus-dir", out, "--out", out],
                               capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("--judge-only: no fresh store", r.stderr)
            self.assertIn("fresh-riscv64-rvsim-p550.db", r.stderr)


if __name__ == "__main__":
    unittest.main()
