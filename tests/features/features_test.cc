#include "simtune/features.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "simtune/predictor.h"

namespace simtune {
namespace {

SimStats Stats(uint64_t insn, bool with_caches) {
  SimStats s;
  s.simulator = "qemu";
  s.insn_count = insn;
  s.classes = {{"load", insn / 4}, {"int_alu", insn / 2}};
  s.loads = insn / 4;
  s.stores = insn / 8;
  s.load_bytes = 4 * (insn / 4);
  s.store_bytes = 4 * (insn / 8);
  if (with_caches) s.caches.push_back({"l1d", 900, 100, 400, 0});
  s.branches = 100;
  s.branch_mispredicts = 5;
  return s;
}

TEST(Features, MissingStatisticsYieldNoFeature) {
  Workload w;
  w.op = "gemm";
  w.shape = {{"M", 64}, {"N", 64}, {"K", 64}};
  auto with = ExtractFeatures({{"qemu", Stats(8000, true)}}, w, {}, 2.0 * 64 * 64 * 64, {});
  auto without = ExtractFeatures({{"qemu", Stats(8000, false)}}, w, {}, 0, {});
  EXPECT_DOUBLE_EQ(with.at("qemu.l1d.read_miss_rate"), 0.1);
  EXPECT_DOUBLE_EQ(with.at("qemu.l1d.mpki"), 1000.0 * 100 / 8000);
  EXPECT_DOUBLE_EQ(with.at("qemu.frac.load"), 0.25);
  EXPECT_DOUBLE_EQ(with.at("qemu.frac.store"), 0.0);   // class known, none counted
  EXPECT_DOUBLE_EQ(with.at("qemu.bpred.miss_rate"), 0.05);
  EXPECT_DOUBLE_EQ(with.at("qemu.bytes_per_access"), 4.0);
  EXPECT_TRUE(with.count("shape.log_flops"));
  EXPECT_FALSE(without.count("qemu.l1d.read_miss_rate"));
  EXPECT_FALSE(without.count("qemu.log_cpi_proxy"));
  // Shape quantities come from the workload, flops included, whatever the artifact says.
  EXPECT_NEAR(without.at("shape.log_flops"), std::log(2.0 * 64 * 64 * 64), 1e-12);
  EXPECT_FALSE(with.count("knob.tile_m"));
  // Per-flop twins of the scale features exist only when flops are known.
  const double flops = 2.0 * 64 * 64 * 64;
  EXPECT_NEAR(with.at("qemu.log_insn_per_flop"), std::log(8000 / flops), 1e-12);
  EXPECT_NEAR(with.at("qemu.l1d.log_misses_per_flop"), std::log(100 / flops), 1e-12);
  EXPECT_FALSE(with.count("shape.log_flops_per_flop"));
  EXPECT_FALSE(without.count("qemu.log_insn_per_flop"));
  FeatureOptions knobs;
  knobs.knobs = true;
  auto k = ExtractFeatures({}, w, {{"tile_m", 16}}, 0, knobs);
  EXPECT_DOUBLE_EQ(k.at("knob.tile_m"), 16);
}

// qemu's split accesses (extra.splits): the share of accesses split across lines, page
// splits per 1000 instructions and their log; a record from before them has none.
TEST(Features, SplitAccessesFromQemuRecords) {
  Workload w;
  w.op = "gemm";
  w.shape = {{"M", 8}, {"N", 8}, {"K", 8}};
  SimStats s = Stats(8000, true);   // 2000 loads, 1000 stores
  s.extra = {{"splits", {{"line_loads", 30}, {"line_stores", 30}, {"page_loads", 0},
                         {"page_stores", 148}, {"pieces_joined", true}}}};
  auto f = ExtractFeatures({{"qemu", s}}, w, {}, 0, {});
  EXPECT_DOUBLE_EQ(f.at("qemu.line_split_frac"), 60.0 / 3000);
  EXPECT_DOUBLE_EQ(f.at("qemu.page_splits_pki"), 1000.0 * 148 / 8000);
  EXPECT_NEAR(f.at("qemu.log_page_splits"), std::log(148.0), 1e-12);
  auto old = ExtractFeatures({{"qemu", Stats(8000, true)}}, w, {}, 0, {});
  EXPECT_FALSE(old.count("qemu.line_split_frac"));
  EXPECT_FALSE(old.count("qemu.page_splits_pki"));
}

// x86_64 vector instructions from qemu's extra.vector: the packed share of instructions,
// the wide (ymm, zmm) share of packed ones, shuffles per instruction and per packed one; a
// record without them (older, or another ISA) has none.
TEST(Features, VectorWidthsAndShufflesFromQemuRecords) {
  Workload w;
  w.op = "gemm";
  w.shape = {{"M", 8}, {"N", 8}, {"K", 8}};
  SimStats s = Stats(8000, true);
  s.extra = {{"vector", {{"xmm", 600}, {"ymm", 300}, {"zmm", 100}, {"shuffle", 250}}}};
  auto f = ExtractFeatures({{"qemu", s}}, w, {}, 0, {});
  EXPECT_DOUBLE_EQ(f.at("qemu.vec_packed_frac"), 1000.0 / 8000);
  EXPECT_DOUBLE_EQ(f.at("qemu.vec_wide_frac"), 400.0 / 1000);
  EXPECT_DOUBLE_EQ(f.at("qemu.shuffle_frac"), 250.0 / 8000);
  EXPECT_DOUBLE_EQ(f.at("qemu.shuffle_per_packed"), 250.0 / 1000);
  s.extra = {{"vector", {{"xmm", 0}, {"ymm", 0}, {"zmm", 0}, {"shuffle", 0}}}};
  auto none = ExtractFeatures({{"qemu", s}}, w, {}, 0, {});
  EXPECT_DOUBLE_EQ(none.at("qemu.vec_wide_frac"), 0.0);
  EXPECT_DOUBLE_EQ(none.at("qemu.shuffle_per_packed"), 0.0);
  auto old = ExtractFeatures({{"qemu", Stats(8000, true)}}, w, {}, 0, {});
  EXPECT_FALSE(old.count("qemu.vec_packed_frac"));
  EXPECT_FALSE(old.count("qemu.shuffle_frac"));
}

// Loads of recently stored bytes from qemu's extra.store_load (raw=on), per 1000
// instructions; a record without them has none.
TEST(Features, StoreToLoadCountsFromQemuRecords) {
  Workload w;
  w.op = "gemm";
  w.shape = {{"M", 8}, {"N", 8}, {"K", 8}};
  SimStats s = Stats(8000, true);
  s.extra = {{"store_load", {{"within_4", 40}, {"within_16", 400}, {"within_64", 800}}}};
  auto f = ExtractFeatures({{"qemu", s}}, w, {}, 0, {});
  EXPECT_DOUBLE_EQ(f.at("qemu.store_load_4_pki"), 5.0);
  EXPECT_DOUBLE_EQ(f.at("qemu.store_load_16_pki"), 50.0);
  EXPECT_DOUBLE_EQ(f.at("qemu.store_load_64_pki"), 100.0);
  auto old = ExtractFeatures({{"qemu", Stats(8000, true)}}, w, {}, 0, {});
  EXPECT_FALSE(old.count("qemu.store_load_16_pki"));
}

// The dependency timing models' cycles from qemu's extra.dep (dep=on): log cycles (scale
// features, with .rel and per-flop twins) and cycles per instruction; none without them.
TEST(Features, DependencyTimingCyclesFromQemuRecords) {
  Workload w;
  w.op = "gemm";
  w.shape = {{"M", 8}, {"N", 8}, {"K", 8}};
  SimStats s = Stats(8000, true);
  s.extra = {{"dep", {{"inorder_cycles", 12000}, {"ooo_cycles", 4000}, {"insns", 8000}}}};
  auto f = ExtractFeatures({{"qemu", s}}, w, {}, 1024, {});
  EXPECT_DOUBLE_EQ(f.at("qemu.dep.log_cycles_inorder"), std::log(12000.0));
  EXPECT_DOUBLE_EQ(f.at("qemu.dep.log_cycles_ooo"), std::log(4000.0));
  EXPECT_DOUBLE_EQ(f.at("qemu.dep.cpi_inorder"), 1.5);
  EXPECT_DOUBLE_EQ(f.at("qemu.dep.cpi_ooo"), 0.5);
  EXPECT_DOUBLE_EQ(f.at("qemu.dep.log_cycles_ooo_per_flop"), std::log(4000.0 / 1024));
  auto old = ExtractFeatures({{"qemu", Stats(8000, true)}}, w, {}, 0, {});
  EXPECT_FALSE(old.count("qemu.dep.cpi_ooo"));
}

TEST(Features, DatasetMarksAbsentAsNaNAndCentresPerGroup) {
  Workload w;
  w.op = "gemm";
  w.shape = {{"M", 8}};
  std::vector<FeatureInput> rows;
  rows.push_back({1, 0, 10.0, ExtractFeatures({{"qemu", Stats(1000, true)}}, w, {}, 0, {})});
  rows.push_back({2, 0, 20.0, ExtractFeatures({{"qemu", Stats(4000, false)}}, w, {}, 0, {})});
  rows.push_back({3, 1, 30.0, ExtractFeatures({{"qemu", Stats(9000, true)}}, w, {}, 0, {})});
  Dataset d = BuildDataset(rows);
  ASSERT_TRUE(d.Validate("test", true).ok());
  int64_t miss = d.FeatureIndex("qemu.l1d.read_miss_rate");
  int64_t rel = d.FeatureIndex("qemu.log_insn.rel");
  ASSERT_GE(miss, 0);
  ASSERT_GE(rel, 0);
  EXPECT_FALSE(std::isnan(d.X(0, miss)));
  EXPECT_TRUE(std::isnan(d.X(1, miss)));
  // Group 0 holds log(1000) and log(4000): centred values are -+ log(4)/2.
  EXPECT_NEAR(d.X(0, rel), -std::log(4.0) / 2, 1e-12);
  EXPECT_NEAR(d.X(1, rel), std::log(4.0) / 2, 1e-12);
  EXPECT_NEAR(d.X(2, rel), 0.0, 1e-12);
  EXPECT_EQ(d.group, (std::vector<int>{0, 0, 1}));
  // Fixed columns: a model's feature list, extra features dropped, order kept.
  Dataset fixed = BuildDataset(rows, {"qemu.log_insn", "qemu.l1d.mpki"});
  ASSERT_EQ(fixed.cols(), 2);
  EXPECT_NEAR(fixed.X(1, 0), std::log(4000.0), 1e-12);
  EXPECT_TRUE(std::isnan(fixed.X(1, 1)));
  // Without relative columns no ".rel" appears (unless a model's list names them).
  Dataset plain = BuildDataset(rows, {}, false);
  EXPECT_LT(plain.FeatureIndex("qemu.log_insn.rel"), 0);
  EXPECT_EQ(plain.cols() + 4, d.cols());   // log_insn, log_mem_bytes, l1d.log_misses, log_cpi_proxy
}

// Issue 14 friction 4 / issue 11: a model trained on a GEMM scores a convolution (leave one
// workload out) with gp, linear and ridge. Operator-specific shape parameters made the
// held-out rows NaN in a used feature ("feature 'shape.log_C' is missing (NaN)").
TEST(Features, ShapeFeaturesAreTheSameSetForEveryOperator) {
  auto gemm = ParseWorkload("gemm:M=64,N=48,K=32");
  auto conv = ParseWorkload("conv2d:N=1,C=8,H=10,W=10,K=16,R=3,S=3");
  auto mvm = ParseWorkload("mvm:M=64,K=32");
  auto dw = ParseWorkload("dwconv2d:C=8,H=10,W=10,R=3,S=3");
  ASSERT_TRUE(gemm.ok() && conv.ok() && mvm.ok() && dw.ok());
  auto names = [](const Workload& w) {
    std::set<std::string> out;
    for (const auto& [k, v] : ExtractFeatures({}, w, {}, 0, FeatureOptions{})) out.insert(k);
    return out;
  };
  EXPECT_EQ(names(*gemm), names(*conv));
  EXPECT_EQ(names(*gemm), names(*mvm));
  EXPECT_EQ(names(*gemm), names(*dw));
  auto g = ExtractFeatures({}, *gemm, {}, 0, FeatureOptions{});
  EXPECT_NEAR(g.at("shape.log_flops"), std::log(2.0 * 64 * 48 * 32), 1e-12);
  EXPECT_NEAR(g.at("shape.log_reduction"), std::log(32.0), 1e-12);
  EXPECT_NEAR(g.at("shape.log_out_bytes"), std::log(4.0 * 64 * 48), 1e-12);
  EXPECT_NEAR(g.at("shape.log_in_bytes_max"), std::log(4.0 * 64 * 32), 1e-12);
  EXPECT_NEAR(g.at("shape.log_in_bytes_min"), std::log(4.0 * 32 * 48), 1e-12);
  auto c = ExtractFeatures({}, *conv, {}, 0, FeatureOptions{});
  EXPECT_NEAR(c.at("shape.log_reduction"), std::log(8.0 * 3 * 3), 1e-12);   // C x R x S
  EXPECT_NEAR(c.at("shape.log_out_bytes"), std::log(4.0 * 16 * 8 * 8), 1e-12);
  // The operator's own parameters only on request.
  FeatureOptions params;
  params.shape_params = true;
  EXPECT_TRUE(ExtractFeatures({}, *conv, {}, 0, params).count("shape.param.log_C"));
  EXPECT_FALSE(c.count("shape.param.log_C"));
}

TEST(Features, LeaveOneWorkloadOutAcrossOperatorsFitsAndPredicts) {
  auto gemm = ParseWorkload("gemm:M=64,N=48,K=32");
  auto conv = ParseWorkload("conv2d:N=1,C=8,H=10,W=10,K=16,R=3,S=3");
  ASSERT_TRUE(gemm.ok() && conv.ok());
  std::vector<FeatureInput> train, test;
  for (int i = 0; i < 12; ++i) {
    const uint64_t insn = 10000 + 1500 * static_cast<uint64_t>(i * i % 7) + 300 * i;
    train.push_back({i, 1, 0.5 * insn + 20.0 * (i % 3),
                     ExtractFeatures({{"qemu", Stats(insn, true)}}, *gemm, {}, 0, {})});
    test.push_back({100 + i, 2, std::nan(""),
                    ExtractFeatures({{"qemu", Stats(2 * insn, true)}}, *conv, {}, 0, {})});
  }
  Dataset d = BuildDataset(train);
  for (const char* name : {"gp", "linear", "ridge"}) {
    auto p = Predictors().Create(name, "");
    ASSERT_TRUE(p.ok()) << p.message();
    ASSERT_TRUE((*p)->Fit(d).ok()) << name;
    Dataset x = BuildDataset(test, (*p)->feature_names());
    auto score = (*p)->Predict(x);
    ASSERT_TRUE(score.ok()) << name << ": " << score.message();
    EXPECT_EQ(score->size(), 12) << name;
  }
}

// Issue 17: Spike leaves a cache level out of one candidate's statistics when a counter went
// down inside the ROI. That row has no feature of the level and no log_cpi_proxy; the
// other rows keep theirs.
TEST(Features, CacheLevelLeftOutForOneRunHasNoFeatures) {
  Workload w;
  w.op = "gemm";
  w.shape = {{"M", 64}, {"N", 64}, {"K", 64}};
  SimStats full = Stats(8000, true);
  full.simulator = "spike";
  full.caches.push_back({"l2", 80, 20, 30, 0});
  SimStats partial = full;
  partial.caches.pop_back();
  partial.extra["caches_left_out"] = {"l2"};
  auto f = ExtractFeatures({{"spike", full}}, w, {}, 0, {});
  auto p = ExtractFeatures({{"spike", partial}}, w, {}, 0, {});
  EXPECT_TRUE(f.count("spike.l2.mpki"));
  EXPECT_TRUE(f.count("spike.log_cpi_proxy"));
  EXPECT_FALSE(p.count("spike.l2.mpki"));
  EXPECT_FALSE(p.count("spike.l2.log_misses"));
  EXPECT_FALSE(p.count("spike.log_cpi_proxy"));
  EXPECT_DOUBLE_EQ(p.at("spike.l1d.mpki"), f.at("spike.l1d.mpki"));
}

// Issue 17: every registered predictor fits on rows of which some lack a cache level (and
// some the mca estimate), and scores held-out rows that lack them, without an error; the
// scores are finite and a row without a statistic is scored, not dropped.
TEST(Features, EveryPredictorFitsAndPredictsWithFeaturesAbsentForSomeRows) {
  const char* shapes[] = {"gemm:M=64,N=48,K=32", "gemm:M=32,N=32,K=64",
                          "conv2d:N=1,C=8,H=10,W=10,K=16,R=3,S=3", "mvm:M=64,K=32"};
  auto row = [](int id, int group, const Workload& w, uint64_t insn, bool l2, bool mca) {
    SimStats s = Stats(insn, true);
    s.simulator = "spike";
    s.caches[0].read_misses = 50 + insn % 97;
    if (l2) s.caches.push_back({"l2", 80 + insn % 13, 20 + insn % 11, 30, 0});
    else s.extra["caches_left_out"] = {"l2"};
    // The dependency timing models' cycles (qemu's on riscv64; the dep baseline scores them).
    s.extra["dep"] = {{"inorder_cycles", 2 * insn + 7 * (id % 3)}, {"ooo_cycles", insn + 50}};
    SimStats m;
    m.simulator = "mca";
    m.insn_count = insn;
    if (mca) m.extra["mca"] = {{"cycles", 0.7 * static_cast<double>(insn) + 100.0 * (id % 5)},
                               {"rthroughput_cycles", 0.5 * static_cast<double>(insn)},
                               {"coverage", 0.995}};
    // Run time: instructions plus L1 misses, a little of everything else.
    const double y = 1.0 * static_cast<double>(insn) + 30.0 * s.caches[0].read_misses;
    return FeatureInput{id, group, y,
                        ExtractFeatures({{"spike", s}, {"mca", m}}, w, {}, 0, {})};
  };
  std::vector<FeatureInput> train, test;
  int id = 0;
  for (int g = 0; g < 4; ++g) {
    auto w = ParseWorkload(shapes[g]);
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 16; ++i, ++id) {
      const uint64_t insn = 10000 * (g + 1) + 1500 * static_cast<uint64_t>(i * i % 7) + 300 * i;
      // One row in 5 lacks L2 (more than the corpus's ~2 %); in the held-out workload, one
      // in 7 also lacks the mca estimate, which every training row has.
      FeatureInput r = row(id, g + 1, *w, insn, i % 5 != 2, g < 3 || i % 7 != 3);
      (g < 3 ? train : test).push_back(std::move(r));
    }
  }
  Dataset d = BuildDataset(train);
  ASSERT_GE(d.FeatureIndex("spike.l2.mpki"), 0);
  ASSERT_TRUE(std::isnan(d.X(2, d.FeatureIndex("spike.l2.mpki"))));
  for (const std::string& name : Predictors().Names()) {
    SCOPED_TRACE(name);
    auto p = Predictors().Create(name, "");
    ASSERT_TRUE(p.ok()) << p.message();
    Status fit = (*p)->Fit(d);
    ASSERT_TRUE(fit.ok()) << fit.message();
    Dataset x = BuildDataset(test, (*p)->feature_names());
    ASSERT_TRUE(std::isnan(x.X(2, x.FeatureIndex("spike.l2.mpki"))));
    ASSERT_TRUE(std::isnan(x.X(3, x.FeatureIndex("mca.log_cycles"))));
    if (name == "ridge") {   // kept (and imputed), not dropped
      nlohmann::json used = (*p)->SaveJson()["features"]["used"];
      EXPECT_NE(std::find(used.begin(), used.end(), "spike.l2.mpki"), used.end());
    }
    auto score = (*p)->Predict(x);
    ASSERT_TRUE(score.ok()) << score.message();
    ASSERT_EQ(score->size(), 16);
    for (int64_t i = 0; i < score->size(); ++i) EXPECT_TRUE(std::isfinite((*score)[i])) << i;
  }
}

}  // namespace
}  // namespace simtune
