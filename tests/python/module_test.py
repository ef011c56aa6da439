"""The Python module (python/simtune) end to end: a small tune with progress, the store as a
DataFrame, train/predict/evaluate, and errors. Real host builds and the native reference with
few rounds; the fake simulator (deterministic statistics, no tools). Run by ctest
(python.module) with PYTHONPATH=<build>/python."""
import os
import tempfile
import unittest

import pandas as pd

import simtune

WORKLOAD = "mvm:M=64,K=64"
FAST_REF = "rounds=2,reps=3,min_rep_ns=20000"


class ModuleTest(unittest.TestCase):
    def setUp(self):
        self._old = os.getcwd()
        self._dir = tempfile.TemporaryDirectory(prefix="simtune_python_")
        os.chdir(self._dir.name)
        self.store = simtune.open_store("t.db")

    def tearDown(self):
        os.chdir(self._old)
        self._dir.cleanup()

    def tune(self, **extra):
        options = dict(budget=8, strategy="exhaustive", simulators="fake", calibrate=3,
                       verify_top=2, jobs=2, reference_options=FAST_REF)
        options.update(extra)
        return simtune.tune(self.store, WORKLOAD, **options)

    def test_tune_then_the_store_as_a_dataframe(self):
        events = []
        result = self.tune(progress=events.append)
        self.assertEqual(result["attempted"], 8)
        self.assertEqual(result["ran"], 8)
        self.assertEqual(events[0]["event"], "start")
        candidates = [e for e in events if e["event"] == "candidate"]
        self.assertEqual(len(candidates), 8)
        self.assertEqual([e["done"] for e in candidates], list(range(1, 9)))
        self.assertIn("searched", {e["event"] for e in events})
        self.assertIsInstance(result["ranking"], pd.DataFrame)
        self.assertTrue(result["ranking"]["score"].is_monotonic_increasing)
        self.assertEqual(len(result["verified"]), 2)
        self.assertIsNotNone(result["best"])
        self.assertGreater(result["best"]["measured"], 0)

        df = self.store.candidates()
        self.assertEqual(len(df), 8)
        knobs = [c for c in df.columns if c.startswith("knob.")]
        self.assertTrue(knobs, df.columns)
        self.assertEqual(df["build.status"].tolist(), ["ok"] * 8)
        self.assertEqual(df["fake.insn_count"].notna().sum(), 8)
        measured = df["native.value"].notna().sum()
        self.assertGreaterEqual(measured, 3)                 # calibration + verification
        self.assertTrue((df["native.unit"].dropna() == "ns").all())
        self.assertEqual(df["pred.tune:ridge"].notna().sum(), 8)
        best = result["best"]["candidate_id"]
        self.assertAlmostEqual(df.loc[best, "native.value"], result["best"]["measured"])

        # The same tune again resumes from the store.
        again = self.tune()
        self.assertEqual(again["from_store"], 8)
        self.assertEqual(again["ran"], 0)

    def test_train_predict_evaluate(self):
        result = self.tune(budget=10, calibrate=6, top=3)   # the CLI's --top
        self.assertEqual(len(result["verified"]), 3)
        self.assertEqual(result["score_unit"], "ns")   # ridge calibrated on native times
        trained = simtune.train(self.store, predictor="ridge", out="model.json",
                                simulators="fake", relative=False)
        self.assertGreaterEqual(trained["rows"], 6)
        self.assertTrue(os.path.exists("model.json"))
        ranking = simtune.predict(self.store, "model.json", WORKLOAD)
        self.assertEqual(len(ranking), 10)
        self.assertTrue(ranking["score"].is_monotonic_increasing)
        self.assertEqual(self.store.candidates()["pred.model.json"].notna().sum(), 10)
        table = simtune.evaluate(self.store, predictors="ridge,insn-count", protocols="kfold",
                                 folds=2, simulators="fake")
        self.assertEqual(sorted(set(table["predictor"])), ["insn-count", "ridge"])
        self.assertNotIn("error", table.columns)
        self.assertEqual(set(table["workload"]), {WORKLOAD, "MEAN", "WORST"})
        self.assertTrue(table["spearman"].between(-1, 1).all())

    def test_errors(self):
        with self.assertRaises(simtune.Error) as e:
            simtune.tune(self.store, WORKLOAD, budget=0)
        self.assertEqual(str(e.exception), "--budget must be at least 1")
        with self.assertRaises(TypeError) as e:
            simtune.tune(self.store, WORKLOAD, budget=4, bugdet=4)
        self.assertEqual(str(e.exception), "unknown option 'bugdet' for TuneOptions")
        with self.assertRaises(simtune.Error) as e:
            simtune.open_store("missing.db", mode="readonly")
        self.assertIn("missing.db does not exist", str(e.exception))
        self.assertFalse(os.path.exists("missing.db"))

        def stop(event):
            if event["event"] == "candidate":
                raise KeyError("stop here")
        with self.assertRaises(KeyError):
            self.tune(progress=stop)


if __name__ == "__main__":
    unittest.main()
