#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/scratch_test.h"
#include "tests/support/script_artifact.h"
#include "simtune/reference.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

class NativeTest : public testing_support::ScratchTest {
 protected:
  NativeTest() : ScratchTest("simtune_native_") {}

  void SetUp() override {
    ScratchTest::SetUp();
    target_.name = "x86_64-host";
    target_.isa = "x86_64";
    target_.os = "linux";
  }
  // A stand-in artifact: a shell script that speaks the harness's timing protocol.
  Artifact Script(const std::string& name, const std::string& body) {
    return testing_support::ScriptArtifact(dir_, name, body);
  }

  std::unique_ptr<Reference> Make(const std::string& options) {
    auto r = References().Create("native", options);
    EXPECT_TRUE(r.ok()) << r.message();
    return std::move(r).value();
  }

  Target target_;
};

// Round k (counted in a file) prints reps whose minimum is 100, 200, 150.
TEST_F(NativeTest, MinimumOrMedianOfPerRoundMinima) {
  for (const std::string value : {"", "median"}) {
    SCOPED_TRACE("value=" + value);
    std::string counter = (dir_ / ("count" + value)).string();
    Artifact a = Script("a" + value + ".sh",
                        "n=$(cat " + counter + " 2>/dev/null || echo 0); echo $((n+1)) > " + counter +
                            "\necho 'simtune: verify ok max_abs_err=0 max_rel_err=0'\n"
                            "case $n in 0) echo 'simtune: inner=4 rep_ns=130,100,120';;"
                            " 1) echo 'simtune: inner=4 rep_ns=200,210';; *) echo 'simtune: inner=4 rep_ns=150,170';; esac");
    auto ref = Make("rounds=3,reps=2,min_rep_ns=1000" + (value.empty() ? "" : ",value=" + value));
    auto res = ref->Measure({a}, target_);
    ASSERT_EQ(res.size(), 1u);
    ASSERT_TRUE(res[0].ok()) << res[0].message;
    double want = value.empty() ? 100 : 150;   // default: the minimum of the per-round minima
    EXPECT_DOUBLE_EQ(res[0].value, want);
    EXPECT_DOUBLE_EQ(res[0].min, 100);
    EXPECT_DOUBLE_EQ(res[0].max, 210);
    EXPECT_DOUBLE_EQ(res[0].spread, (200.0 - 100.0) / want);
    EXPECT_EQ(res[0].rounds, 3);
    EXPECT_EQ(res[0].reps, 7);
    EXPECT_EQ(res[0].unit, "ns");
    auto extra = nlohmann::json::parse(res[0].extra_json);
    EXPECT_EQ(extra["inner"], 4);
    EXPECT_EQ(extra["round_min_ns"], nlohmann::json::array({100.0, 200.0, 150.0}));
  }
}

// A store measured with value=median keeps its runs: the default reduces their per-round
// minima again instead of running anything.
TEST(NativeOptions, RereducesStoredMedianRows) {
  auto min = References().Create("native", "rounds=3,reps=4,min_rep_ns=1000,seed=2,cpu=1");
  auto median = References().Create("native", "rounds=3,reps=4,min_rep_ns=1000,seed=2,cpu=1,value=median");
  ASSERT_TRUE(min.ok() && median.ok());
  EXPECT_EQ((*min)->options_key(), "rounds=3,reps=4,min_rep_ns=1000,value=min,seed=2,cpu=1");
  EXPECT_EQ((*median)->options_key(), "rounds=3,reps=4,min_rep_ns=1000,seed=2,cpu=1");
  EXPECT_EQ((*min)->rereducible_key(), (*median)->options_key());
  EXPECT_EQ((*median)->rereducible_key(), "");

  RefResult stored;
  stored.status = "ok";
  stored.unit = "ns";
  stored.value = 130;
  stored.min = 95;
  stored.median = 140;
  stored.max = 400;
  stored.spread = (150.0 - 100.0) / 130;
  stored.rounds = 3;
  stored.reps = 12;
  stored.extra_json = R"({"inner":4,"round_min_ns":[130,100,150]})";
  auto again = (*min)->Rereduce(stored);
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_DOUBLE_EQ(again->value, 100);
  EXPECT_DOUBLE_EQ(again->spread, 0.5);
  EXPECT_DOUBLE_EQ(again->min, 95);
  EXPECT_DOUBLE_EQ(again->median, 140);
  EXPECT_DOUBLE_EQ(again->max, 400);
  EXPECT_EQ(again->rounds, 3);
  EXPECT_EQ(again->reps, 12);
  EXPECT_EQ(again->unit, "ns");
  auto extra = nlohmann::json::parse(again->extra_json);
  EXPECT_EQ(extra["rereduced_from"], 130);
  EXPECT_EQ(extra["inner"], 4);

  RefResult bare = stored;
  bare.extra_json = "{}";
  EXPECT_EQ((*min)->Rereduce(bare).message(),
            "the stored result has no per-round minima (extra_json round_min_ns)");
  RefResult failed;
  failed.status = "failed";
  EXPECT_EQ((*min)->Rereduce(failed).message(), "a failed result has no rounds to reduce");
  EXPECT_EQ(References().Create("rvsim", "")->get()->rereducible_key(), "");
}

TEST_F(NativeTest, FailuresAreRowsAndTheBatchGoesOn) {
  Artifact good = Script("good.sh",
                         "echo 'simtune: verify ok max_abs_err=0 max_rel_err=0'\n"
                         "echo 'simtune: inner=1 rep_ns=5,6'");
  Artifact wrong = Script("wrong.sh", "echo 'simtune: verify failed index=3 got=1 want=2'; exit 3");
  Artifact crash = Script("crash.sh", "kill -SEGV $$");
  Artifact slow = Script("slow.sh", "sleep 10");
  Artifact unbuilt;
  unbuilt.status = "failed";
  unbuilt.stage = "build";
  unbuilt.message = "kernel.c:3: error: expected ';'";
  auto ref = Make("rounds=2,reps=2,timeout=0.5");
  auto res = ref->Measure({good, wrong, crash, slow, unbuilt}, target_);
  ASSERT_EQ(res.size(), 5u);
  EXPECT_TRUE(res[0].ok());
  EXPECT_DOUBLE_EQ(res[0].value, 5);
  EXPECT_EQ(res[1].stage, "verify");
  EXPECT_EQ(res[1].message, "verify failed index=3 got=1 want=2");
  EXPECT_EQ(res[2].stage, "run");
  EXPECT_EQ(res[2].message, "killed by signal 11 (Segmentation fault)");
  EXPECT_EQ(res[3].stage, "timeout");
  EXPECT_EQ(res[3].message, "timed out after 0.5 s");
  EXPECT_EQ(res[4].stage, "build");
  EXPECT_EQ(res[4].message, "artifact did not build: kernel.c:3: error: expected ';'");
}

TEST_F(NativeTest, MissingTimingLineIsARunFailure) {
  Artifact a = Script("quiet.sh", "echo 'simtune: verify ok max_abs_err=0 max_rel_err=0'");
  auto res = Make("rounds=1")->Measure({a}, target_);
  EXPECT_EQ(res[0].stage, "run");
  EXPECT_EQ(res[0].message, "no timing line in harness output");
}

TEST_F(NativeTest, RefusesCrossTargets) {
  Artifact a = Script("x.sh", "true");
  target_.name = "riscv64-linux";
  target_.runner = {"qemu-riscv64"};
  auto res = Make("")->Measure({a}, target_);
  EXPECT_EQ(res[0].message, "native reference cannot run target 'riscv64-linux' artifacts on this host");
}

TEST(NativeOptions, StrictParsing) {
  EXPECT_EQ(References().Create("native", "rounds=0").message(),
            "native reference option rounds: out of range; got 0");
  EXPECT_EQ(References().Create("native", "rounds=x").message(),
            "native reference option rounds: expected an integer; got 'x'");
  EXPECT_EQ(References().Create("native", "round=3").message(),
            "unknown native reference option 'round'; did you mean 'rounds'? valid: cpu, interleave, "
            "machine, min_rep_ns, reps, rounds, seed, timeout, value");
  EXPECT_EQ(References().Create("native", "value=mean").message(),
            "native reference option value: expected min or median; got 'mean'");
  EXPECT_EQ(References().Create("native", "machine=a b").message(),
            "native reference option machine: expected a name without ',', '=' or spaces; got 'a b'");
  auto labelled = References().Create("native", "machine=server16");
  ASSERT_TRUE(labelled.ok());
  EXPECT_EQ((*labelled)->options_key(), "rounds=7,reps=15,min_rep_ns=250000,value=min,machine=server16");
  EXPECT_EQ(References().Create("native", "rounds").message(),
            "native reference option 'rounds': expected key=value");
  EXPECT_EQ(References().Create("nativ", "").message(),
            "unknown reference 'nativ'; did you mean 'native'? valid: native, rvsim, ssh");
  auto ok = References().Create("native", "rounds=3,reps=4,min_rep_ns=1000");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)->options_key(), "rounds=3,reps=4,min_rep_ns=1000,value=min");
  // Another seed is another measurement: kept apart in the store.
  auto reseeded = References().Create("native", "rounds=3,reps=4,min_rep_ns=1000,seed=2");
  ASSERT_TRUE(reseeded.ok());
  EXPECT_EQ((*reseeded)->options_key(), "rounds=3,reps=4,min_rep_ns=1000,value=min,seed=2");
}

// Issue 16: a repeated key used to be taken silently (the last one won), and timeouts of 0
// or absurd sizes were accepted.
TEST(NativeOptions, RepeatedKeysAndBadTimeoutsAreErrors) {
  EXPECT_EQ(References().Create("native", "rounds=3,rounds=5").message(),
            "native reference option rounds: given twice");
  EXPECT_EQ(References().Create("native", "timeout=0").message(),
            "native reference option timeout: expected seconds > 0; got '0'");
  EXPECT_EQ(References().Create("native", "timeout=-1").message(),
            "native reference option timeout: expected seconds > 0; got '-1'");
  EXPECT_EQ(References().Create("native", "timeout=1e300").message(),
            "native reference option timeout: at most 2592000 s (30 days); got '1e300'");
  EXPECT_EQ(References().Create("native", "reps=5000000000").message(),
            "native reference option reps: out of range; got 5000000000");
}

// A sysfs cache directory as Linux lays it out for one CPU.
void WriteSysfsCache(const fs::path& dir, int index, const std::string& level, const std::string& type,
                     const std::string& size, int ways) {
  fs::path d = dir / ("index" + std::to_string(index));
  fs::create_directories(d);
  std::ofstream(d / "level") << level << "\n";
  std::ofstream(d / "type") << type << "\n";
  std::ofstream(d / "size") << size << "\n";
  std::ofstream(d / "ways_of_associativity") << ways << "\n";
}

TEST_F(NativeTest, CacheGeometryOfTheTargetIsCheckedAgainstTheHost) {
  target_.caches = {{"l1d", 32768, 8, 64, "lru"}, {"l1i", 32768, 8, 64, "lru"}, {"l2", 524288, 8, 64, "lru"},
                    {"l3", 33554432, 16, 64, "lru"}};
  fs::path sys = dir_ / "cache";
  WriteSysfsCache(sys, 0, "1", "Data", "32K", 8);
  WriteSysfsCache(sys, 1, "1", "Instruction", "32K", 8);
  WriteSysfsCache(sys, 2, "2", "Unified", "1024K", 8);
  WriteSysfsCache(sys, 3, "3", "Unified", "32M", 16);
  auto w = CacheGeometryMismatches(target_, sys.string());
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "target 'x86_64-host' models l2 as 512 KiB 8-way, but this host's l2 is 1024 KiB 8-way (" +
                      (sys / "index2").string() +
                      "): the simulators' cache statistics describe another machine than the one measured; "
                      "correct \"caches\" in the target file");
  target_.caches[2].size_bytes = 1 << 20;
  EXPECT_TRUE(CacheGeometryMismatches(target_, sys.string()).empty());
  WriteSysfsCache(sys, 3, "3", "Unified", "32M", 12);   // ways differ too
  EXPECT_EQ(CacheGeometryMismatches(target_, sys.string()).size(), 1u);
  EXPECT_TRUE(CacheGeometryMismatches(target_, (dir_ / "absent").string()).empty());
  // The reference itself checks this host's only for targets it runs here.
  auto ref = Make("");
  Target board = target_;
  board.runner = {"ssh", "board"};
  EXPECT_TRUE(ref->Warnings(board).empty());
}

}  // namespace
}  // namespace simtune
