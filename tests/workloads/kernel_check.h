// Test helpers shared by the workload tests: scratch folders and a check program that runs
// generated kernels against their reference the way the harness does.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "simtune/workload.h"

namespace simtune::testing_util {


inline std::filesystem::path ScratchDir(const std::string& name) {
  std::filesystem::path dir = std::filesystem::path(SIMTUNE_TEST_BINARY_DIR) / "workloads_test_tmp" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

inline std::vector<KernelSource> GenerateAll(const Workload& w, const std::vector<Config>& configs) {
  std::vector<KernelSource> out;
  for (const auto& c : configs) {
    auto src = GenerateKernel(w, c, CodegenContext{"x86_64"});
    EXPECT_TRUE(src.ok()) << src.message();
    if (src.ok()) out.push_back(std::move(*src));
  }
  return out;
}

// A test program: fills inputs like the harness (LCG values in [-1, 1)), runs the
// reference, then runs each kernel twice on outputs pre-filled with garbage (kernels must not
// rely on zeroed outputs nor on state left by an earlier call) and compares.
inline std::string MainProgram(const std::vector<KernelSource>& sources) {
  const KernelSource& first = sources.front();
  std::ostringstream m;
  m << "#include <math.h>\n#include <stdint.h>\n#include <stdio.h>\n\n";
  m << "void simtune_reference(float *const *bufs);\n";
  for (size_t i = 0; i < sources.size(); ++i) m << "void kernel_" << i << "(float *const *);\n";
  m << "typedef void (*kernel_fn)(float *const *);\n";
  m << "static const kernel_fn kernels[] = {";
  for (size_t i = 0; i < sources.size(); ++i) m << (i ? ", " : "") << "kernel_" << i;
  m << "};\n";
  for (size_t b = 0; b < first.buffers.size(); ++b) {
    m << "static float buf" << b << "[" << first.buffers[b].elements << "];\n";
    if (first.buffers[b].output)
      m << "static float want" << b << "[" << first.buffers[b].elements << "];\n";
  }
  m << R"C(
static void fill(float *buf, long n, uint64_t s) {
  for (long i = 0; i < n; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    buf[i] = (float)(int32_t)((s >> 40) & 0xffffff) * (1.0f / 8388608.0f) - 1.0f;
  }
}

int main(void) {
)C";
  m << "  float *bufs[] = {";
  for (size_t b = 0; b < first.buffers.size(); ++b) m << (b ? ", " : "") << "buf" << b;
  m << "};\n  int failures = 0;\n";
  for (size_t b = 0; b < first.buffers.size(); ++b)
    if (!first.buffers[b].output)
      m << "  fill(buf" << b << ", " << first.buffers[b].elements << ", " << (b + 1) * 7919
        << "u);\n";
  m << "  simtune_reference(bufs);\n";
  for (size_t b = 0; b < first.buffers.size(); ++b)
    if (first.buffers[b].output)
      m << "  for (long i = 0; i < " << first.buffers[b].elements << "; ++i) want" << b
        << "[i] = buf" << b << "[i];\n";
  m << "  for (int k = 0; k < (int)(sizeof kernels / sizeof kernels[0]); ++k) {\n"
    << "    double max_err = 0;\n    int bad = 0;\n"
    << "    for (int rep = 0; rep < 2; ++rep) {\n";
  for (size_t b = 0; b < first.buffers.size(); ++b)
    if (first.buffers[b].output)
      m << "      for (long i = 0; i < " << first.buffers[b].elements << "; ++i) buf" << b
        << "[i] = rep ? -3.0f : 1e6f;\n";
  m << "      kernels[k](bufs);\n    }\n";
  for (size_t b = 0; b < first.buffers.size(); ++b) {
    if (!first.buffers[b].output) continue;
    m << "    for (long i = 0; i < " << first.buffers[b].elements << " && !bad; ++i) {\n"
      << "      double got = buf" << b << "[i], want = want" << b << "[i];\n"
      << "      double err = fabs(got - want);\n"
      << "      if (!(err <= " << first.abs_tol << " + " << first.rel_tol << " * fabs(want))) {\n"
      << "        printf(\"FAIL %d buffer " << b
      << " index %ld got %g want %g\\n\", k, i, got, want);\n"
      << "        bad = 1;\n      }\n"
      << "      if (err > max_err) max_err = err;\n    }\n";
  }
  m << "    if (bad) ++failures; else printf(\"OK %d max_err %g\\n\", k, max_err);\n  }\n"
    << "  return failures ? 1 : 0;\n}\n";
  return m.str();
}

}  // namespace simtune::testing_util
