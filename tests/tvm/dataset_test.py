"""The TVM dataset (python/simtune_tvm/dataset.py, `make tvm-dataset`): MetaSchedule's search
on a small matmul with every trial simulated (QEMU) and timed natively into a simtune store;
the store then holds that many "external:" candidates of the workload with ok simulations
and ok native results, the log says how far it got, and a second run resumes: it finds the
schedules stored and runs no MetaSchedule search again.

Needs: the simtune binary ($SIMTUNE, else build/simtune), qemu-user with simtune's plugin,
gcc and apache-tvm.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))

from simtune_tvm import dataset  # noqa: E402

WORKLOAD = "gemm:M=16,N=24,K=32"


class DatasetTest(unittest.TestCase):
    def setUp(self) -> None:
        if shutil.which("qemu-x86_64") is None:
            self.fail("qemu-x86_64 missing: run scripts/setup (Debian packages)")
        self.work = Path(tempfile.mkdtemp(prefix="simtune_tvm_dataset_"))
        self.addCleanup(shutil.rmtree, self.work, True)

    def run_dataset(self, db: Path, *extra: str) -> str:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = dataset.main(["--db", str(db), "--sims", "qemu", "--trials", "4",
                               "--per-iter", "4", "--workloads", WORKLOAD, "--max-runs", "2",
                               *extra])
        self.assertEqual(rc, 0, err.getvalue())
        return err.getvalue()

    def test_fills_the_store_and_resumes(self) -> None:
        db = self.work / "tvm.db"
        log = self.run_dataset(db)
        self.assertIn(f"[1/1] {WORKLOAD}: 0 stored, MetaSchedule run 1 (seed 1) for 4 more", log)
        self.assertIn("batch of 4: 4 simulated and measured, 0 failed", log)
        self.assertEqual(dataset.measured_count(db, WORKLOAD, "x86_64-host"), 4)
        with sqlite3.connect(db) as con:
            configs = [r[0] for r in con.execute(
                "SELECT c.config FROM candidates c JOIN workloads w ON w.id = c.workload_id "
                "WHERE w.key = ?", (WORKLOAD,))]
            sims = con.execute("SELECT COUNT(*) FROM sim_results WHERE simulator = 'qemu' "
                               "AND status = 'ok'").fetchone()[0]
        self.assertEqual(len(configs), 4)
        self.assertTrue(all(c.startswith("external:") for c in configs), configs)
        self.assertEqual(sims, 4)
        # The executables stay beside the store, so `simtune simulate` can run them again.
        with sqlite3.connect(db) as con:
            elfs = [Path(r[0]) for r in con.execute("SELECT elf_path FROM artifacts WHERE status = 'ok'")]
        self.assertEqual(len(elfs), 4)
        for elf in elfs:
            self.assertTrue(elf.is_file(), elf)
            self.assertTrue(elf.is_relative_to(self.work / "tvm.db.executables"), elf)
        simtune = os.environ.get("SIMTUNE", str(REPO / "build" / "simtune"))
        r = subprocess.run([simtune, "simulate", WORKLOAD, "--db", str(db), "--sim", "qemu", "--force"],
                           capture_output=True, text=True, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("simulated 4 candidates", r.stdout)

        again = self.run_dataset(db)
        self.assertIn(f"[1/1] {WORKLOAD}: 4 schedules stored, done", again)
        self.assertNotIn("MetaSchedule run", again)
        self.assertEqual(dataset.measured_count(db, WORKLOAD, "x86_64-host"), 4)

        # More schedules for one operator: the store grows to the operator's count.
        op = WORKLOAD.split(":", 1)[0]
        more = self.run_dataset(db, "--op-trials", f"{op}=6")
        self.assertIn(f"[1/1] {WORKLOAD}: 4 stored, MetaSchedule run 1 (seed 1) for 2 more", more)
        self.assertEqual(dataset.measured_count(db, WORKLOAD, "x86_64-host"), 6)

    def test_op_trials_must_name_an_operator_and_a_count(self) -> None:
        for bad, says in (("gemm=0", "OP=N with N >= 1"), ("gemm", "OP=N with N >= 1"),
                          ("conv2d=8", "no workload of operator(s) conv2d")):
            err = io.StringIO()
            with contextlib.redirect_stderr(err), self.assertRaises(SystemExit):
                dataset.main(["--db", str(self.work / "x.db"), "--workloads", WORKLOAD,
                              "--op-trials", bad])
            self.assertIn(says, err.getvalue())
            self.assertFalse((self.work / "x.db").exists())


if __name__ == "__main__":
    unittest.main(verbosity=2)
