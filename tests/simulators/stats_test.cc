// SimStats JSON: round trip, absent stays absent, strict reading with exact messages.
#include <gtest/gtest.h>

#include "simtune/simulator.h"

namespace simtune {
namespace {

SimStats Full() {
  SimStats s;
  s.simulator = "qemu";
  s.insn_count = 4003;
  s.classes = {{"int_alu", 1001}, {"load", 1000}, {"store", 1000}, {"jump", 2}};
  s.loads = 1000;
  s.stores = 1000;
  s.load_bytes = 8000;
  s.store_bytes = 8000;
  s.accesses_by_size = {{"8", 2000}};
  s.caches = {{"l1i", 4002, 1, 0, 0}, {"l1d", 999, 1, 1000, 0}};
  s.branches = 1000;
  s.branch_mispredicts = 0;
  s.reuse_log2 = {1999, 0, 0, 1};
  s.extra = {{"isa", "riscv64"}};
  return s;
}

TEST(SimStats, RoundTripsEveryField) {
  SimStats s = Full();
  auto j = s.ToJson();
  EXPECT_EQ(j.at("schema_version"), kSimStatsSchemaVersion);
  EXPECT_EQ(j.at("branch_mispredicts"), 0) << "a measured zero is kept";
  auto back = SimStats::FromJson(j, "test");
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->ToJson(), j);
  EXPECT_EQ(back->caches[1].write_hits, 1000u);
  EXPECT_EQ(back->reuse_log2, s.reuse_log2);
  EXPECT_EQ(*back->branch_mispredicts, 0u);
}

TEST(SimStats, AbsentMeasurementsStayAbsent) {
  SimStats s;
  s.simulator = "spike";
  s.insn_count = 5;
  auto j = s.ToJson();
  EXPECT_EQ(j, nlohmann::json({{"schema_version", 1},
                               {"simulator", "spike"},
                               {"insn_count", 5},
                               {"extra", nlohmann::json::object()}}));
  auto back = SimStats::FromJson(j, "test");
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_FALSE(back->loads.has_value());
  EXPECT_FALSE(back->branches.has_value());
  EXPECT_TRUE(back->classes.empty());
  EXPECT_TRUE(back->caches.empty());
}

TEST(SimStats, RejectsBadRecordsWithExactMessages) {
  struct Case {
    std::function<void(nlohmann::json&)> edit;
    std::string message;
  };
  std::vector<Case> cases = {
      {[](auto& j) { j["schema_version"] = 2; },
       "run 7: statistics schema_version 2 is not supported (this build reads version 1)"},
      {[](auto& j) { j.erase("insn_count"); }, "run 7: missing key 'insn_count'"},
      {[](auto& j) { j["insn_cout"] = 1; },
       "run 7: unknown statistics key 'insn_cout'; did you mean 'insn_count'? valid: "
       "schema_version, simulator, insn_count, classes, loads, stores, load_bytes, "
       "store_bytes, accesses_by_size, caches, branches, branch_mispredicts, reuse_log2, "
       "extra"},
      {[](auto& j) { j["loads"] = -1; },
       "run 7: loads: expected a non-negative integer; got -1"},
      {[](auto& j) { j["insn_count"] = "many"; },
       "run 7: insn_count: expected a non-negative integer; got \"many\""},
      {[](auto& j) { j["classes"]["intalu"] = 3; },
       "run 7: classes: unknown instruction class 'intalu'; did you mean 'int_alu'? valid: "
       "int_alu, int_muldiv, fp_scalar, simd, load, store, branch_taken, branch_not_taken, "
       "jump, atomic, other"},
      {[](auto& j) { j["caches"][0]["level"] = "l4"; },
       "run 7: caches[0].level: unknown cache level 'l4'; did you mean 'l2'? valid: l1i, "
       "l1d, l2, l3"},
      {[](auto& j) { j["caches"][1].erase("write_hits"); },
       "run 7: caches[1]: missing key 'write_hits'"},
      {[](auto& j) { j["caches"][1]["level"] = "l1i"; },
       "run 7: caches: level 'l1i' appears twice"},
      {[](auto& j) { j["reuse_log2"][2] = 1.5; },
       "run 7: reuse_log2[2]: expected a non-negative integer; got 1.5"},
      {[](auto& j) { j["accesses_by_size"]["big"] = 1; },
       "run 7: accesses_by_size: key must be a size in bytes; got 'big'"},
      {[](auto& j) { j["extra"] = 3; }, "run 7: extra: expected an object; got 3"},
      {[](auto& j) { j = nlohmann::json::array(); }, "run 7: expected a JSON object; got []"},
  };
  for (const auto& c : cases) {
    auto j = Full().ToJson();
    c.edit(j);
    auto r = SimStats::FromJson(j, "run 7");
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_EQ(r.message(), c.message);
  }
}

}  // namespace
}  // namespace simtune
