// Features: named numbers derived from a candidate's simulator statistics (one or several
// simulators of the same artifact, joined by prefixing each simulator's name), optionally
// its knob values and its workload's shape. The feature schema is versioned: a model
// remembers the version it was trained with and refuses another.
//
// Schema version 3, per simulator S (prefix "S."):
//   S.log_insn                       log(instructions in the ROI)
//   S.<x>_per_flop                   for each scale-carrying S.log_<x> below: log(x / flops),
//                                    e.g. S.log_insn_per_flop, S.l1d.log_misses_per_flop;
//                                    intrinsic to the candidate and comparable across
//                                    workloads of any size (needs flops > 0)
//   S.frac.<class>                   fraction of instructions per class (kInsnClasses)
//   S.mem_per_insn, S.bytes_per_access, S.load_frac_of_mem
//   S.log_mem_bytes                  log(load + store bytes)
//   S.<level>.read_miss_rate, S.<level>.write_miss_rate, S.<level>.mpki, S.<level>.log_misses
//   S.bpred.miss_rate, S.bpred.mpki
//   S.line_split_frac, S.page_splits_pki, S.log_page_splits
//                                    accesses split across two l1d lines (share of all) and
//                                    across two 4 KiB pages (per 1000 instructions; log
//                                    count), from qemu's extra.splits; absent in records
//                                    from before them (added within schema 3: new names only)
//   S.reuse.<b>                      fraction of accesses with reuse distance in bucket group b
//                                    (groups: 0-3, 4-7, 8-11, 12-15, 16+ in log2 lines; cold)
//   S.log_cpi_proxy                  log(insn + 10 * l1 misses + 50 * l2 misses + 200 * l3 misses)
//   S.log_cycles, S.cycles_per_insn  (the "mca" simulator) llvm-mca's cycles of the ROI: sum
//                                    over its hot blocks of executions x cycles per iteration
//   S.rthroughput_ratio              the same with each block's reciprocal throughput, over
//                                    cycles (< 1: dependency chains across iterations cost)
//   S.bound.<group>                  share of the cycles in blocks bound by a resource group of
//                                    the core model, by "dispatch" or by "dependency"
//                                    (loop-carried); every group of the model, 0 when none
//   S.coverage                       fraction of the ROI's instructions in those blocks
// and, optionally (FeatureOptions::relative), per-workload relative versions of the scale-
// carrying ones ("S.log_insn.rel" = S.log_insn minus its mean over the workload's candidates
// in the same dataset). These depend on which candidates the dataset holds, so a model using
// them must score a workload's candidates together (as `simtune predict` does), not one by
// one; the per-flop features carry the same information without that dependence.
// Knobs ("knob.<name>", option). Shape (option, default on): quantities every operator has
// (ShapeQuantities in workload.h), so that training across operators never meets a feature
// one operator lacks:
//   shape.log_flops, shape.log_bytes (all operands), shape.log_in_bytes_max,
//   shape.log_in_bytes_min, shape.log_out_bytes, shape.log_reduction (multiply-adds per
//   output element), shape.log_intensity (log flops per operand byte)
// and, only with shape_params (off by default: they do not exist across operators), the
// operator's own parameters "shape.param.log_<param>".
//
// A statistic a simulator does not provide yields no feature (absent key), so the dataset
// holds NaN there and predictors apply their documented missing-value policy. Nothing is
// filled with zero. A cache level the simulator left out for one run (SimStats extra
// "caches_left_out", e.g. Spike's counter went down inside the ROI) has no features for
// that run, and neither has "<sim>.log_cpi_proxy".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "simtune/predictor.h"
#include "simtune/result.h"
#include "simtune/simulator.h"
#include "simtune/workload.h"

namespace simtune {

inline constexpr int kFeatureSchemaVersion = 3;

struct FeatureOptions {
  bool knobs = false;   // include knob values (do not transfer across operators)
  bool shape = true;    // include the common shape quantities (above)
  bool shape_params = false;  // include the operator's own shape parameters (one operator only)
  bool relative = true; // BuildDataset adds ".rel" columns (see above)
};

// Features of one candidate. `stats` maps simulator name -> its ROI statistics.
std::map<std::string, double> ExtractFeatures(const std::map<std::string, SimStats>& stats,
                                              const Workload& workload, const Config& config,
                                              double flops, const FeatureOptions& options);

// One candidate's inputs to a dataset.
struct FeatureInput {
  int64_t candidate_id = 0;
  int group = 0;                                // workload id
  double y = 0;                                 // reference value (NaN when unmeasured)
  std::map<std::string, double> features;       // from ExtractFeatures
};

// Builds a Dataset: the union of feature names (sorted) as columns, NaN where a row lacks a
// feature, and (with `relative`) the ".rel" columns centred per group. `names`, when
// non-empty, fixes the columns (a model's training columns; ".rel" columns among them are
// computed whatever `relative` says); extra features are dropped.
Dataset BuildDataset(const std::vector<FeatureInput>& rows,
                     const std::vector<std::string>& names = {}, bool relative = true);

}  // namespace simtune
