"""Runs README.md's TVM example (the ```python block after the marker comment "tvm-example")
as written but with max_trials_global=8, in a scratch folder, so that the README cannot drift
from simtune_tvm and TVM's API (issue 14 friction 8: its Matmul was undefined).

Needs what tests/tvm/tune_test.py needs (qemu-riscv64, riscv64-linux-gnu-gcc, apache-tvm in
.venv, the simtune binary: $SIMTUNE, else build/simtune)."""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TRIALS = 8

readme = (REPO / "README.md").read_text(encoding="utf-8")
match = re.search(r"<!-- tvm-example[^>]*-->\s*```python\n(.*?)```", readme, re.S)
if not match:
    sys.exit("README.md has no ```python block after <!-- tvm-example -->")
code, n = re.subn(r"max_trials_global=\d+", f"max_trials_global={TRIALS}", match.group(1))
if n != 1:
    sys.exit(f"README TVM example: expected one max_trials_global=, found {n}")
env = dict(os.environ, PYTHONPATH=str(REPO / "python") + os.pathsep + os.environ.get("PYTHONPATH", ""))
env.setdefault("SIMTUNE", str(REPO / "build" / "simtune"))
with tempfile.TemporaryDirectory(prefix="simtune_readme_tvm_") as scratch:
    # A file, not `python -c`: TVMScript parses the decorated function's source.
    example = Path(scratch) / "readme_tvm_example.py"
    example.write_text(code, encoding="utf-8")
    r = subprocess.run([sys.executable, str(example)], cwd=scratch, env=env, capture_output=True,
                       text=True, timeout=1100)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr[-6000:])
    if r.returncode != 0:
        sys.exit(f"README TVM example failed with exit status {r.returncode}")
    best = re.search(r"best run_secs: (\S+) unit: (\w+)", r.stdout)
    if not best or not float(best.group(1)) > 0:
        sys.exit("README TVM example printed no positive best run_secs")
    if best.group(2) != "score":
        sys.exit(f"README TVM example without a model: run_secs_unit {best.group(2)!r}, want 'score'")
    if "not a run time" not in r.stderr:
        sys.exit("README TVM example: the runner did not warn that run_secs is a score")
print("README TVM example ran")
