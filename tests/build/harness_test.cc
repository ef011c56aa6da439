// The generated harness's initialized data (issue 12): inputs within kHarnessStaticInputBytes
// come filled in the ELF, in Harness::data, laid out as the C source's .incbin lines say.
// Whether those bytes are what simtune_fill computes at run time is checked end to end in
// build_test.cc (a copy kernel verified with tolerance 0).
#include "src/build/harness.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <regex>

namespace simtune {
namespace {

KernelSource Source(std::vector<BufferSpec> buffers) {
  KernelSource s;
  s.code = "void simtune_kernel(float *const *bufs) { (void)bufs; }\n";
  s.reference_code = "void simtune_reference(float *const *bufs) { (void)bufs; }\n";
  s.buffers = std::move(buffers);
  return s;
}

Target Linux() {
  Target t;
  t.name = "test-linux";
  t.isa = "x86_64";
  t.os = "linux";
  return t;
}

uint32_t WordAt(const std::string& data, size_t offset) {
  uint32_t w = 0;
  for (int k = 0; k < 4; ++k)
    w |= static_cast<uint32_t>(static_cast<unsigned char>(data.at(offset + k))) << (8 * k);
  return w;
}

int64_t Padded(int64_t elements) { return ((elements + kHarnessGuardFloats) * 4 + 63) / 64 * 64; }

// The "simtune_data" flags of the generated C, e.g. "1, 0, 0".
std::string DataFlags(const std::string& c) {
  std::smatch m;
  std::regex re(R"(simtune_data\[SIMTUNE_NBUF\] = \{([^}]*)\})");
  return std::regex_search(c, m, re) ? m[1].str() : "(none)";
}

TEST(Harness, InputsAreInTheDataWithTheirGuardZones) {
  auto h = GenerateHarness(Source({{"A", 100, false}, {"B", 50, false}, {"C", 10, true}}),
                           Linux());
  ASSERT_TRUE(h.ok()) << h.message();
  ASSERT_EQ(h->data.size(), static_cast<size_t>(Padded(100) + Padded(50)));
  EXPECT_EQ(DataFlags(h->c), "1, 1, 0");
  for (int b = 0; b < 2; ++b) {
    int64_t n = b == 0 ? 100 : 50;
    size_t base = b == 0 ? 0 : static_cast<size_t>(Padded(100));
    std::vector<float> values = HarnessInputValues(b, n);
    for (int64_t i = 0; i < n; ++i) {
      uint32_t want;
      std::memcpy(&want, &values[i], sizeof want);
      ASSERT_EQ(WordAt(h->data, base + 4 * i), want) << "buffer " << b << " element " << i;
    }
    // The guard zone follows, the same pattern as simtune_canary's.
    for (int g = 0; g < kHarnessGuardFloats; ++g)
      ASSERT_EQ(WordAt(h->data, base + 4 * (n + g)), 0x5ca1ab1eU ^ (uint32_t(g) * 0x9e3779b9U));
    std::string incbin = ".incbin \\\"" + std::string(kHarnessDataFile) + "\\\", " +
                         std::to_string(base) + ", " + std::to_string((n + 64) * 4);
    EXPECT_NE(h->c.find(incbin), std::string::npos) << incbin << "\n" << h->c;
  }
}

TEST(Harness, InputValuesAreExactSteps) {
  // k / 2^23 - 1 for a 24-bit k: in [-1, 1), a multiple of 2^-23, different per buffer.
  std::vector<float> a = HarnessInputValues(0, 1000), b = HarnessInputValues(1, 1000);
  ASSERT_EQ(a.size(), 1000u);
  int same = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_GE(a[i], -1.0f);
    EXPECT_LT(a[i], 1.0f);
    double k = (static_cast<double>(a[i]) + 1.0) * 8388608.0;
    EXPECT_EQ(k, std::floor(k)) << i;
    same += a[i] == b[i];
  }
  EXPECT_LT(same, 5);
}

TEST(Harness, InputsBeyondTheThresholdAreFilledAtRunTime) {
  // Exactly the threshold (with guard zone) fits; one float more does not.
  int64_t fits = kHarnessStaticInputBytes / 4 - kHarnessGuardFloats;
  auto at = GenerateHarness(Source({{"A", fits, false}, {"C", 4, true}}), Linux());
  ASSERT_TRUE(at.ok()) << at.message();
  EXPECT_EQ(at->data.size(), static_cast<size_t>(kHarnessStaticInputBytes));
  EXPECT_EQ(DataFlags(at->c), "1, 0");
  auto over = GenerateHarness(Source({{"A", fits + 1, false}, {"C", 4, true}}), Linux());
  ASSERT_TRUE(over.ok()) << over.message();
  EXPECT_TRUE(over->data.empty());
  EXPECT_EQ(DataFlags(over->c), "0, 0");
  EXPECT_EQ(over->c.find(".incbin"), std::string::npos);
  // In signature order: the first input fits, the second would exceed, and so would any later
  // one, even a small one.
  auto mixed = GenerateHarness(
      Source({{"A", 1000, false}, {"B", fits, false}, {"D", 8, false}, {"C", 4, true}}),
      Linux());
  ASSERT_TRUE(mixed.ok()) << mixed.message();
  EXPECT_EQ(mixed->data.size(), static_cast<size_t>(Padded(1000)));
  EXPECT_EQ(DataFlags(mixed->c), "1, 0, 0, 0");
}

TEST(Harness, BareMetalKeepsRunTimeWrittenBuffersOutOfBss) {
  Target bare;
  bare.name = "test-bare";
  bare.isa = "riscv64";
  bare.os = "baremetal";
  int64_t big = kHarnessStaticInputBytes / 4;
  auto h = GenerateHarness(Source({{"A", 16, false}, {"B", big, false}, {"C", 4, true}}), bare);
  ASSERT_TRUE(h.ok()) << h.message();
  EXPECT_EQ(DataFlags(h->c), "1, 0, 0");
  // B is filled at run time and the reference's C is written before it is read: neither
  // needs crt0 to clear it. The kernel's C must start at zero: .bss.
  EXPECT_NE(h->c.find(".pushsection .preserve.simtune_b1,\\\"aw\\\",@nobits"), std::string::npos)
      << h->c;
  EXPECT_NE(h->c.find(".pushsection .preserve.simtune_r2,\\\"aw\\\",@nobits"), std::string::npos);
  EXPECT_NE(h->c.find("static float simtune_b2["), std::string::npos);
  // Linux: all of them in .bss, which costs nothing there.
  auto linux_h = GenerateHarness(Source({{"A", 16, false}, {"B", big, false}, {"C", 4, true}}),
                                 Linux());
  ASSERT_TRUE(linux_h.ok());
  EXPECT_EQ(linux_h->c.find(".preserve"), std::string::npos);
}

// The runtime for kernels simtune did not generate (`simtune harness-runtime`, the TVM
// runner's bare-metal ELFs) is the very code of simtune's own bare-metal harness: console,
// exit, ROI markers, traps and start-up, each piece as GenerateHarness writes it.
TEST(Harness, BareMetalRuntimeIsTheHarnessOwn) {
  Target bare;
  bare.name = "test-bare";
  bare.isa = "riscv64";
  bare.os = "baremetal";
  auto rt = GenerateBareMetalRuntime(bare);
  ASSERT_TRUE(rt.ok()) << rt.message();
  EXPECT_EQ(rt->ldflags, std::vector<std::string>{"-nostartfiles"});
  EXPECT_TRUE(rt->data.empty());
  auto h = GenerateHarness(Source({{"A", 16, false}, {"C", 4, true}}), bare);
  ASSERT_TRUE(h.ok()) << h.message();
  // Every line of the runtime after its include lines is a line of the generated harness.
  std::string body = rt->c.substr(rt->c.find("#define SIMTUNE_TRAP_EXIT"));
  size_t lines = 0;
  for (size_t at = 0; at < body.size();) {
    size_t end = body.find('\n', at);
    std::string line = body.substr(at, end - at);
    at = end == std::string::npos ? body.size() : end + 1;
    if (line.empty()) continue;
    ++lines;
    EXPECT_NE(h->c.find(line), std::string::npos) << "not in the harness: " << line;
  }
  EXPECT_GT(lines, 100u);
  for (const char* symbol : {"void simtune_roi_begin(void)", "void simtune_roi_end(void)",
                             "static void simtune_print_roi(void)", "void simtune_sim_done(void)",
                             "_exit(int code)", "simtune_trap_entry:", "_start:", "tohost"})
    EXPECT_NE(rt->c.find(symbol), std::string::npos) << symbol;
  EXPECT_EQ(GenerateBareMetalRuntime(Linux()).message(),
            "target test-linux is x86_64 linux; the bare-metal harness runtime is for riscv64 "
            "bare metal only");
}

}  // namespace
}  // namespace simtune
