#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <map>
#include <set>

#include "simtune/workload.h"

namespace simtune {
namespace {

// a in {1, 2, 4}, b in {10, 20}, mode in {x, y}; a=4 needs b=20. 12 raw, 10 valid.
Space ToySpace() {
  return Space({{"a", {1, 2, 4}, {}, "first"},
                {"b", {10, 20}, {}, "second"},
                {"mode", {0, 1}, {"x", "y"}, "categorical"}},
               [](const Config& c) -> std::string {
                 if (c.at("a") == 4 && c.at("b") == 10) return "a=4 requires b=20";
                 return "";
               });
}

std::unique_ptr<Space> SpaceOf(const std::string& text) {
  auto w = ParseWorkload(text);
  EXPECT_TRUE(w.ok()) << w.message();
  auto space = MakeSpace(*w);
  EXPECT_TRUE(space.ok()) << space.message();
  return std::move(*space);
}

size_t Differences(const Config& a, const Config& b) {
  size_t n = 0;
  for (const auto& [name, value] : a)
    if (b.at(name) != value) ++n;
  return n;
}

TEST(Space, SizesAndEnumerationOrder) {
  Space s = ToySpace();
  EXPECT_EQ(s.RawSize(), 12u);
  EXPECT_EQ(s.ValidSize(), 10u);
  EXPECT_EQ(s.ValidSize(), 10u);  // cached
  std::vector<std::string> seen;
  s.Enumerate([&](const Config& c) {
    seen.push_back(FormatConfig(c, s.knobs()));
    return true;
  });
  ASSERT_EQ(seen.size(), 10u);
  EXPECT_EQ(seen[0], "a=1,b=10,mode=x");
  EXPECT_EQ(seen[1], "a=1,b=10,mode=y");
  EXPECT_EQ(seen[2], "a=1,b=20,mode=x");
  EXPECT_EQ(seen[8], "a=4,b=20,mode=x");
  EXPECT_EQ(seen[9], "a=4,b=20,mode=y");
  int calls = 0;
  s.Enumerate([&](const Config&) { return ++calls < 3; });
  EXPECT_EQ(calls, 3);
}

TEST(Space, RejectNamesTheProblem) {
  Space s = ToySpace();
  EXPECT_EQ(s.Reject({{"a", 2}, {"b", 10}, {"mode", 1}}), "");
  EXPECT_EQ(s.Reject({{"a", 4}, {"b", 10}, {"mode", 1}}), "a=4 requires b=20");
  EXPECT_EQ(s.Reject({{"a", 2}, {"mode", 1}}), "missing knob b");
  EXPECT_EQ(s.Reject({{"a", 7}, {"b", 10}, {"mode", 1}}), "knob a: value 7 not in [1, 2, 4]");
  EXPECT_EQ(s.Reject({{"a", 1}, {"b", 10}, {"mode", 2}}), "knob mode: value 2 not in [x, y]");
  EXPECT_EQ(s.Reject({{"a", 1}, {"b", 10}, {"mode", 0}, {"mod", 1}}),
            "unknown knob 'mod'; did you mean 'mode'? valid: a, b, mode");
}

TEST(Space, ParseConfigAndFormatRoundTrip) {
  Space s = ToySpace();
  auto c = s.ParseConfig("a=2, b=20,mode=y");
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(*c, (Config{{"a", 2}, {"b", 20}, {"mode", 1}}));
  EXPECT_EQ(FormatConfig(*c, s.knobs()), "a=2,b=20,mode=y");
  EXPECT_EQ(*s.ParseConfig(FormatConfig(*c, s.knobs())), *c);

  EXPECT_EQ(s.ParseConfig("a=7,b=10,mode=x").message(), "knob a: value 7 not in [1, 2, 4]");
  EXPECT_EQ(s.ParseConfig("a=x,b=10,mode=x").message(), "knob a: expected an integer; got 'x'");
  EXPECT_EQ(s.ParseConfig("a=1,b=10,mode=z").message(), "knob mode: value 'z' not in [x, y]");
  EXPECT_EQ(s.ParseConfig("a=1,c=10,mode=x").message(),
            "unknown knob 'c'; did you mean 'a'? valid: a, b, mode");
  EXPECT_EQ(s.ParseConfig("a=1,mode=x").message(), "missing knob b");
  EXPECT_EQ(s.ParseConfig("a=1,a=2,b=10,mode=x").message(), "knob a given twice");
  EXPECT_EQ(s.ParseConfig("a=1,b10,mode=x").message(), "config item 'b10': expected knob=value");
  EXPECT_EQ(s.ParseConfig("a=4,b=10,mode=x").message(), "a=4 requires b=20");
}

TEST(Space, SampleIsDistinctValidDeterministicAndUniform) {
  Space s = ToySpace();
  std::vector<Config> all = s.Sample(100, 5);
  EXPECT_EQ(all.size(), 10u);  // every valid config, once
  EXPECT_EQ(std::set<Config>(all.begin(), all.end()).size(), 10u);
  EXPECT_EQ(s.Sample(4, 9), s.Sample(4, 9));
  EXPECT_NE(s.Sample(4, 9), s.Sample(4, 10));

  // One draw per seed lands on each of the 10 configs about 1/10 of the time.
  std::map<Config, int> counts;
  for (uint64_t seed = 0; seed < 3000; ++seed) {
    std::vector<Config> one = s.Sample(1, seed);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(s.Reject(one[0]), "");
    ++counts[one[0]];
  }
  EXPECT_EQ(counts.size(), 10u);
  for (const auto& [config, n] : counts) {
    EXPECT_GT(n, 200) << FormatConfig(config, s.knobs());
    EXPECT_LT(n, 400) << FormatConfig(config, s.knobs());
  }
}

TEST(Space, SampleLargeSpaceByRejection) {
  // 160000 raw configs (too many to enumerate for sampling), 10 % valid.
  std::vector<Knob> knobs;
  for (const char* name : {"k0", "k1", "k2", "k3"}) {
    Knob k{name, {}, {}, ""};
    for (int64_t v = 0; v < 20; ++v) k.values.push_back(v);
    knobs.push_back(k);
  }
  Space s(knobs, [](const Config& c) { return c.at("k0") < 2 ? "" : "k0 must be < 2"; });
  std::vector<Config> got = s.Sample(2000, 3);
  ASSERT_EQ(got.size(), 2000u);
  EXPECT_EQ(std::set<Config>(got.begin(), got.end()).size(), 2000u);
  int zeros = 0;
  for (const auto& c : got) {
    EXPECT_EQ(s.Reject(c), "");
    zeros += c.at("k0") == 0;
  }
  EXPECT_GT(zeros, 850);
  EXPECT_LT(zeros, 1150);
  EXPECT_EQ(got, s.Sample(2000, 3));
  // Asking for more than exist returns all of them.
  EXPECT_EQ(s.Sample(20000, 4).size(), 16000u);
}

TEST(Space, NeighboursStepOneKnobByOne) {
  Space s = ToySpace();
  std::vector<Config> n = s.Neighbours({{"a", 2}, {"b", 10}, {"mode", 0}});
  std::set<std::string> text;
  for (const auto& c : n) text.insert(FormatConfig(c, s.knobs()));
  // a=4,b=10 is invalid, so only three.
  EXPECT_EQ(text, (std::set<std::string>{"a=1,b=10,mode=x", "a=2,b=20,mode=x",
                                         "a=2,b=10,mode=y"}));
}

TEST(Space, MutateGivesValidConfigsWithTheRequestedChanges) {
  auto space = SpaceOf("gemm:M=64,N=64,K=64");
  std::vector<Config> start = space->Sample(20, 1);
  std::mt19937_64 rng(7);
  int exact = 0, total = 0;
  for (const auto& c : start) {
    for (int changes : {1, 2, 3}) {
      Config m = space->Mutate(c, rng, changes);
      EXPECT_EQ(space->Reject(m), "");
      EXPECT_GE(Differences(c, m), 1u);
      exact += Differences(c, m) == static_cast<size_t>(changes);
      ++total;
    }
    for (const auto& n : space->Neighbours(c)) {
      EXPECT_EQ(space->Reject(n), "");
      EXPECT_EQ(Differences(c, n), 1u);
    }
  }
  EXPECT_GE(exact, total * 9 / 10);
}

TEST(Space, OperatorSpacesAreLargeEnoughAndFastToCount) {
  struct Case {
    const char* workload;
    uint64_t min_valid;
  };
  for (const Case& c : {Case{"gemm:M=256,N=256,K=256", 1000},
                        Case{"conv2d:N=1,C=64,H=56,W=56,K=64,R=3,S=3,stride=1,pad=1", 1000},
                        Case{"mvm:M=1000,K=512", 500},
                        Case{"dwconv2d:C=144,H=56,W=56,R=3,S=3,stride=1,pad=1", 500},
                        Case{"gemm:M=128,N=3072,K=768", 1000}}) {
    auto space = SpaceOf(c.workload);
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    const uint64_t valid = space->ValidSize();
    const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s: %llu valid of %llu raw, counted in %.3f s (%.3f s cpu)\n", c.workload,
                static_cast<unsigned long long>(valid),
                static_cast<unsigned long long>(space->RawSize()), seconds, cpu_seconds);
    EXPECT_GE(valid, c.min_valid) << c.workload;
    // The budget is 1 s; the margin absorbs slow, shared test machines.
    EXPECT_LT(seconds, 5.0) << c.workload;
  }
}

TEST(Space, GemmConstraintsAndKnobErrors) {
  auto space = SpaceOf("gemm:M=256,N=256,K=256");
  const std::string base = "tile_m=32,tile_k=32,order=mnk,reg_m=1,vec_mode=plain,unroll=1,pack=0,";
  EXPECT_EQ(space->ParseConfig(base + "tile_n=4,reg_n=1,vec=8").message(),
            "vec=8 requires tile_n=4 to be a multiple of 8");
  EXPECT_EQ(space->ParseConfig(base + "tile_n=8,reg_n=2,vec=8").message(),
            "reg_n=2 x vec=8 requires tile_n=8 to be a multiple of 16");
  EXPECT_TRUE(space->ParseConfig(base + "tile_n=16,reg_n=2,vec=8").ok());
  EXPECT_EQ(space->ParseConfig("tile_m=7,tile_n=16,reg_n=2,vec=8,tile_k=32,order=mnk,reg_m=1,"
                               "vec_mode=plain,unroll=1,pack=0")
                .message(),
            "knob tile_m: value 7 not in [4, 8, 16, 32, 64, 128, 256]");
  EXPECT_EQ(space->ParseConfig("tile_q=8").message(),
            "unknown knob 'tile_q'; did you mean 'tile_m'? valid: tile_m, tile_n, tile_k, order, "
            "reg_m, reg_n, vec, vec_mode, unroll, pack");
  EXPECT_EQ(space->ParseConfig("tile_m=8").message(), "missing knob tile_n");
  EXPECT_EQ(space->ParseConfig("tile_m=32,tile_n=32,tile_k=4,order=nkm,reg_m=1,reg_n=1,vec=4,"
                               "vec_mode=plain,unroll=8,pack=1")
                .message(),
            "unroll=8 exceeds tile_k=4");
  EXPECT_EQ(space->ParseConfig("tile_m=32,tile_n=32,tile_k=4,order=nkm,reg_m=1,reg_n=1,vec=4,"
                               "vec_mode=auto,unroll=1,pack=1")
                .message(),
            "vec_mode=auto requires vec=1; got vec=4");
  EXPECT_EQ(space->ParseConfig("tile_m=32,tile_n=32,tile_k=4,order=nkm,reg_m=8,reg_n=4,vec=4,"
                               "vec_mode=plain,unroll=1,pack=1")
                .message(),
            "reg_m=8 x reg_n=4 needs 32 accumulators; at most 16");
}

TEST(Space, ConvConstraints) {
  auto space = SpaceOf("conv2d:N=1,C=64,H=56,W=56,K=64,R=3,S=3,stride=2,pad=1");
  const std::string base = "tile_k=16,tile_c=16,tile_p=4,order=kcp,reg_k=1,reg_q=2,unroll=1,";
  EXPECT_EQ(space->ParseConfig(base + "layout=nchw,vec=8").message(),
            "layout=nchw with vec=8 requires stride=1; got stride=2");
  EXPECT_TRUE(space->ParseConfig(base + "layout=nhwc,vec=8").ok());
  EXPECT_EQ(space->ParseConfig(base + "layout=nchwc-blocked,vec=1").message(),
            "layout=nchwc-blocked requires vec >= 4; got vec=1");
  EXPECT_EQ(space->ParseConfig("tile_k=16,tile_c=16,tile_p=4,order=kcp,reg_k=4,reg_q=2,unroll=1,"
                               "layout=nhwc,vec=8")
                .message(),
            "reg_k=4 x vec=8 requires tile_k=16 to be a multiple of 32");
  EXPECT_EQ(space->ParseConfig("tile_k=16,tile_c=4,tile_p=4,order=kcp,reg_k=1,reg_q=2,unroll=8,"
                               "layout=nhwc,vec=8")
                .message(),
            "unroll=8 exceeds tile_c=4");
}

}  // namespace
}  // namespace simtune
