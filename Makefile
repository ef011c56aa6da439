# Entry points. `make demo` and `make test` do all set-up on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all setup configure build test demo clean bench-throughput bench-time-to-best

all: build

setup:
	scripts/setup

configure: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	scripts/demo

clean:
	rm -rf $(BUILD)

# Experiments of `simtune tune` (not run by make test; minutes each).
bench-throughput: build
	bench/tune_throughput --build-dir $(BUILD)

bench-time-to-best: build
	bench/tune_time_to_best --build-dir $(BUILD)
