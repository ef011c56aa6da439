# Entry points. `make demo` and `make test` do all set-up on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all setup configure build test test-tvm python-install demo clean bench-throughput bench-time-to-best bench-predictors bench-rvsim bench-sim-throughput

all: build

setup:
	scripts/setup

configure: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The TVM runner's tests alone (they are part of `make test` too).
test-tvm: build
	cd $(BUILD) && ctest --output-on-failure -L tvm

# The Python module (python/simtune, built into $(BUILD)/python) on the venv's path.
python-install: build
	echo "$(abspath $(BUILD))/python" > $$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/simtune.pth

demo: build
	scripts/demo

clean:
	rm -rf $(BUILD)

# Experiments of `simtune tune` (not run by make test; minutes each).
bench-throughput: build
	bench/tune_throughput --build-dir $(BUILD)

bench-time-to-best: build
	bench/tune_time_to_best --build-dir $(BUILD)

# Predictor experiment (issue 4): 4 workloads x 300 candidates, qemu + valgrind statistics,
# native reference, every predictor under k-fold and leave-one-workload-out (about an hour).
bench-predictors: build
	SIMTUNE=$(BUILD)/simtune bench/predictor_experiment

# RISC-V experiment: QEMU and Spike statistics against rvsim's rocket and p550 models.
bench-rvsim: build
	bench/rvsim_experiment --simtune $(BUILD)/simtune

# Simulation throughput (issue 12): full verifying runs vs simulation mode, interleaved, on 3
# workloads x {qemu x86_64/riscv64/aarch64, valgrind, spike} (about 10 minutes).
bench-sim-throughput: build
	bench/sim_throughput --build-dir $(BUILD)
