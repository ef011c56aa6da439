"""Runs README.md's Python example (the ```python block after the marker comment
"python-example") in a scratch folder, so that the README cannot drift from the module."""
import os
import re
import subprocess
import sys
import tempfile

source_dir = os.environ.get("SIMTUNE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
readme = open(os.path.join(source_dir, "README.md")).read()
match = re.search(r"<!-- python-example[^>]*-->\s*```python\n(.*?)```", readme, re.S)
if not match:
    sys.exit("README.md has no ```python block after <!-- python-example -->")
with tempfile.TemporaryDirectory(prefix="simtune_readme_") as scratch:
    r = subprocess.run([sys.executable, "-c", match.group(1)], cwd=scratch, capture_output=True,
                       text=True, timeout=240)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        sys.exit(f"README example failed with exit status {r.returncode}")
    if "best" not in r.stdout:
        sys.exit("README example printed no best candidate")
print("README example ran")
