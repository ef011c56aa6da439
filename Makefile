# Entry points. `make demo` and `make test` do all set-up on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all setup configure build test test-tvm python-install demo clean bench-throughput bench-time-to-best bench-predictors bench-rvsim bench-sim-throughput dataset dataset-x86 dataset-rvsim models host-model bench-transfer bench-transfer-shipped tvm-dataset tvm-model tvm-dataset-rvsim tvm-models-rvsim bench-tvm-race

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

# Training corpus (issue 11): the catalog's corpus.* workloads (22, every operator), a seeded
# sample of CORPUS_N candidates each, built, simulated and measured into out/corpus/. Resumable:
# rerun, or raise CORPUS_N, to grow it (the same seed draws the same candidates first).
CORPUS_N ?= 64
CORPUS_JOBS ?= $(JOBS)
dataset: dataset-rvsim dataset-x86

# RISC-V: the statistics the shipped models use (SHIPPED_SIMS: QEMU system mode on the
# bare-metal ELF with each preset's caches, llvm-mca's block costs); rvsim's cycle-level rocket
# and p550 models as the reference (deterministic).
dataset-rvsim: build
	mkdir -p out/corpus
	$(BUILD)/simtune dataset --target riscv64-rvsim-p550,riscv64-rvsim-rocket --sim $(SHIPPED_SIMS) \
	  --sample $(CORPUS_N) --ref-options verify=off,jobs=$(CORPUS_JOBS) -j $(CORPUS_JOBS) --db out/corpus/rvsim.db

# x86: QEMU, valgrind and llvm-mca statistics, native timing of this machine (N=48: 5 min on
# 2 cores), then CORPUS_GROW more random shapes per operator for each of CORPUS_GROW_SEEDS
# (6k-48k multiply-adds, none of bench-transfer's fresh test shapes; per seed 10 x 4 operators
# x 48 candidates: 9 min): on 40 fresh x86 shapes gp's mean Spearman went 0.917 (22 workloads)
# -> 0.947 (one seed, 62) -> 0.952 (two, 102) (README, issue 11).
CORPUS_GROW ?= 10
CORPUS_GROW_SEEDS ?= 101 102
dataset-x86: build
	mkdir -p out/corpus
	$(BUILD)/simtune dataset --target x86_64-host --sim qemu,valgrind,mca --sample $(CORPUS_N) -j $(CORPUS_JOBS) --db out/corpus/x86.db
	for s in $(CORPUS_GROW_SEEDS); do \
	  bench/transfer_experiment --simtune $(BUILD)/simtune --targets x86_64-host --sims qemu,valgrind,mca \
	    --skip-lowo --skip-fresh --grow-per-op $(CORPUS_GROW) --grow-seed $$s --grow-n $(CORPUS_N) \
	    --jobs $(CORPUS_JOBS) --corpus-dir out/corpus --out out/corpus/grow-x86-$$s || exit 1; done

# The shipped models of the rvsim presets (data/models/<target>.json), trained on the RISC-V
# corpus; `simtune tune --target riscv64-rvsim-p550 --top 0` ranks with them (and runs the
# simulators they were trained on: QEMU system mode with the target's caches and core (its
# dependency timing models), llvm-mca's block costs). Per target, the rank average that ranked
# best leaving one workload out (README, issue 17): on p550 the out-of-order dependency model's
# own cycles beside gp and xgb, on Rocket the in-order scoreboard's beside gp.
SHIPPED_PREDICTOR ?= rank-avg
SHIPPED_OPTIONS_P550 ?= members=gp+xgb+dep
SHIPPED_OPTIONS_ROCKET ?= members=gp+dep:model=inorder
SHIPPED_SIMS ?= qemu,mca
models: build
	$(BUILD)/simtune train --db out/corpus/rvsim.db --target riscv64-rvsim-p550 --sim $(SHIPPED_SIMS) --ref rvsim \
	  --no-shape --predictor $(SHIPPED_PREDICTOR) --options '$(SHIPPED_OPTIONS_P550)' --out data/models/riscv64-rvsim-p550.json
	$(BUILD)/simtune train --db out/corpus/rvsim.db --target riscv64-rvsim-rocket --sim $(SHIPPED_SIMS) --ref rvsim \
	  --no-shape --predictor $(SHIPPED_PREDICTOR) --options '$(SHIPPED_OPTIONS_ROCKET)' --out data/models/riscv64-rvsim-rocket.json

# This machine's own model: grow the x86 corpus, then train on it (one command). gp: the best
# of the predictors on 40 fresh x86 shapes (README, issue 11); bag=5: five subsample draws
# averaged, steadier and a little better there than one (README); base=dep: relative to the
# QEMU plugin's out-of-order model, better first picks there since session 29's model (three
# draw sets: 4-7 shapes above 1.03 against 6-8); `simtune tune W --model FILE`.
HOST_PREDICTOR ?= gp
HOST_OPTIONS ?= bag=5,base=dep
host-model: dataset-x86
	$(BUILD)/simtune train --db out/corpus/x86.db --target x86_64-host --sim qemu,valgrind,mca --ref native \
	  --no-shape --predictor $(HOST_PREDICTOR) --options '$(HOST_OPTIONS)' --out out/corpus/x86_64-host-model.json

# Transfer to unseen workloads (issue 11): leave-one-workload-out over the corpus per target,
# and train on the corpus, rank fresh random shapes (not run by make test; hours on 2 cores).
bench-transfer: build
	bench/transfer_experiment --simtune $(BUILD)/simtune

# The shipped rvsim models (data/models/) on fresh shapes at issue 11's scale, no corpus needed:
# FRESH_PER_OP random shapes per operator (seed 11, none a catalog workload the models were
# trained on) x FRESH_N candidates, built, simulated (qemu, mca) and measured on rvsim, ranked by
# the shipped model beside the zero-calibration baselines. Resumable (rerun to go on; p550: about
# 2.5 min a shape at 150 on 2 cores, the other target reuses the builds); out/transfer-shipped/summary.txt.
FRESH_PER_OP ?= 10
FRESH_N ?= 150
bench-transfer-shipped: build
	bench/transfer_experiment --simtune $(BUILD)/simtune --targets riscv64-rvsim-p550,riscv64-rvsim-rocket \
	  --skip-lowo --fresh-per-op $(FRESH_PER_OP) --fresh-n $(FRESH_N) --sims qemu,mca \
	  --corpus-dir out/transfer-shipped/no-corpus --out out/transfer-shipped \
	  --models 'shipped=data/models/{target}.json' --predictors 'insn-count;mca;dep;dep:model=inorder'

# MetaSchedule-generated code as data (issue 18): MetaSchedule's own search on 20 operator
# shapes (gemm, dense, conv2d incl. 1x1 and stride 2, depthwise), every schedule simulated
# (qemu, llvm-mca) and timed natively, into out/tvm/x86.db. Resumable; TVM_TRIALS per shape.
# gp: the best leave-one-shape-out regret on the 20 shapes (README); depthwise shapes get 96
# schedules (TVM_OP_TRIALS): the depthwise schedules a measuring search finds fastest were
# where the model ranked worst, and more of them brought the race closer (README).
TVM_TRIALS ?= 48
TVM_OP_TRIALS ?= dwconv2d=96
TVM_PREDICTOR ?= ridge
tvm-dataset: build
	PYTHONPATH=python SIMTUNE=$(BUILD)/simtune .venv/bin/python -m simtune_tvm.dataset --db out/tvm/x86.db \
	  --sims qemu,mca --trials $(TVM_TRIALS) --op-trials '$(TVM_OP_TRIALS)'

# This machine's model for TVM code: SimtuneRunner(model="auto") on x86_64-host takes it.
tvm-model: tvm-dataset
	$(BUILD)/simtune train --db out/tvm/x86.db --target x86_64-host --sim qemu,mca --ref native --no-rel \
	  --predictor $(TVM_PREDICTOR) --out out/tvm/x86_64-host.json

# The same for the rvsim targets (RISC-V bare metal, issue 18): MetaSchedule's search on 10
# smaller shapes, every schedule simulated (qemu system mode, llvm-mca) and measured on the
# target's rvsim model (deterministic, so the models ship: data/models/tvm/<target>.json,
# which SimtuneRunner(model="auto") takes). Resumable; TVM_RVSIM_TRIALS per shape.
TVM_RVSIM_TARGETS ?= riscv64-rvsim-p550 riscv64-rvsim-rocket
TVM_RVSIM_TRIALS ?= 32
TVM_RVSIM_PREDICTOR ?= ridge
tvm-dataset-rvsim: build
	for t in $(TVM_RVSIM_TARGETS); do \
	  PYTHONPATH=python SIMTUNE=$(BUILD)/simtune .venv/bin/python -m simtune_tvm.dataset \
	    --db out/tvm/rvsim.db --target $$t --sims qemu,mca --trials $(TVM_RVSIM_TRIALS) \
	    --per-iter 16 --ref-options verify=off,jobs=2 || exit 1; done

tvm-models-rvsim: tvm-dataset-rvsim
	mkdir -p data/models/tvm
	for t in $(TVM_RVSIM_TARGETS); do \
	  $(BUILD)/simtune train --db out/tvm/rvsim.db --target $$t --sim qemu,mca --ref rvsim --no-rel \
	    --predictor $(TVM_RVSIM_PREDICTOR) --out data/models/tvm/$$t.json || exit 1; done

# The race: MetaSchedule with LocalRunner against SimtuneRunner (model; calibrate=1).
bench-tvm-race: build
	SIMTUNE=$(BUILD)/simtune .venv/bin/python bench/tvm_race
