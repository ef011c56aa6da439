"""Runs README.md's shell examples as written: every ```sh block after a marker comment
"shell-example", each command in one bash (set -e), in a scratch folder where `simtune` is
on PATH and `build/simtune` is this build's binary. So that the README cannot drift from the
CLI (issue 14 friction 7: its MPI command failed on a 2-core machine)."""
import os
import re
import subprocess
import sys
import tempfile

source_dir = os.environ.get("SIMTUNE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
binary_dir = os.environ.get("SIMTUNE_BINARY_DIR", os.path.join(source_dir, "build"))
simtune = os.path.join(binary_dir, "simtune")
if not os.access(simtune, os.X_OK):
    sys.exit(f"no simtune executable at {simtune}; build it first")
readme = open(os.path.join(source_dir, "README.md"), encoding="utf-8").read()
blocks = re.findall(r"<!-- shell-example[^>]*-->\s*```sh\n(.*?)```", readme, re.S)
if not blocks:
    sys.exit("README.md has no ```sh block after <!-- shell-example -->")
with tempfile.TemporaryDirectory(prefix="simtune_readme_sh_") as scratch:
    os.symlink(os.path.abspath(binary_dir), os.path.join(scratch, "build"))
    env = dict(os.environ, PATH=os.path.abspath(binary_dir) + os.pathsep + os.environ["PATH"])
    for i, block in enumerate(blocks):
        print(f"--- README shell example {i + 1}:\n{block}", flush=True)
        r = subprocess.run(["bash", "-e", "-c", block], cwd=scratch, env=env, capture_output=True,
                           text=True, timeout=900)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        if r.returncode != 0:
            sys.exit(f"README shell example {i + 1} failed with exit status {r.returncode}")
        if "mpirun" in block and "best verified:" not in r.stdout:
            sys.exit(f"README shell example {i + 1} printed no 'best verified:' line")
print(f"{len(blocks)} README shell example(s) ran")
