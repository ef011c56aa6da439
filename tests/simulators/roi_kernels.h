// Helpers for the valgrind, spike, contract and rvsim tests: tiny hand-written kernels built by the
// real Builder (so artifacts follow the harness contract), targets loaded from data/targets,
// and a build cache shared by the test processes.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "simtune/build.h"
#include "simtune/simulator.h"
#include "simtune/target.h"
#include "simtune/workload.h"

namespace simtune::roi_test {

// Artifacts are content-addressed, so one cache folder is safe for every test process.
inline Builder& TestBuilder() {
  static Builder* builder = [] {
    BuildOptions opts;
    opts.cache_dir = std::filesystem::path(SIMTUNE_TEST_BINARY_DIR) / "simulators_test_cache";
    opts.jobs = 1;
    return new Builder(opts);
  }();
  return *builder;
}

// Loads data/targets/<name>.json; aborts the test on failure.
inline Target LoadTestTarget(const std::string& name) {
  auto t = LoadTarget(name);
  if (!t.ok()) {
    ADD_FAILURE() << "cannot load target " << name << ": " << t.message();
    return Target{};
  }
  return *t;
}

// out[i] = 2 * in[i] + 1 over `n` floats; `pad` is an extra input buffer the kernel never
// touches, so only the harness's set-up (filling it) grows with it. `wrong` makes the kernel
// disagree with the reference at element n/2.
inline KernelSource ScaleKernel(int n, int pad = 1, bool wrong = false) {
  KernelSource s;
  s.code = R"C(
#include <stddef.h>
void simtune_kernel(float *const *bufs) {
  const float *in = bufs[0];
  float *out = bufs[2];
  for (long i = 0; i < ROI_N; ++i) out[i] = 2.0f * in[i] + 1.0f;
)C";
  if (wrong) s.code += "  out[ROI_N / 2] += 1.0f;\n";
  s.code += "}\n";
  s.reference_code = R"C(
void simtune_reference(float *const *bufs) {
  for (long i = 0; i < ROI_N; ++i) bufs[2][i] = 2.0f * bufs[0][i] + 1.0f;
}
)C";
  s.buffers = {{"in", n, false}, {"pad", pad, false}, {"out", n, true}};
  s.extra_cflags = {"-DROI_N=" + std::to_string(n)};
  s.flops = 2.0 * n;
  return s;
}

// A kernel that does nothing (the output stays zeroed, as in the reference): what a
// simulator counts for it is the ROI markers' own overhead.
inline KernelSource EmptyKernel() {
  KernelSource s;
  s.code = "void simtune_kernel(float *const *bufs) { (void)bufs; }\n";
  s.reference_code = "void simtune_reference(float *const *bufs) { (void)bufs; }\n";
  s.buffers = {{"in", 16, false}, {"out", 16, true}};
  return s;
}

// Reads every element of `n` floats once (sum into out[0]): a streaming access pattern whose
// L1 read misses are n * 4 / line bytes.
inline KernelSource SumKernel(int n) {
  KernelSource s;
  s.code = R"C(
void simtune_kernel(float *const *bufs) {
  float acc = 0.0f;
  for (long i = 0; i < ROI_N; ++i) acc += bufs[0][i];
  bufs[1][0] = acc;
}
)C";
  s.reference_code = R"C(
void simtune_reference(float *const *bufs) {
  float acc = 0.0f;
  for (long i = 0; i < ROI_N; ++i) acc += bufs[0][i];
  bufs[1][0] = acc;
}
)C";
  s.buffers = {{"in", n, false}, {"out", 1, true}};
  s.extra_cflags = {"-DROI_N=" + std::to_string(n), "-fno-tree-vectorize"};
  s.rel_tol = 1e-3;
  s.abs_tol = 1e-3;
  return s;
}

// C[m][n] += A[m][k] * B[k][n], i-k-j order, row-major: a small GEMM. `wrong` adds 1 to
// one element after the loops (a kernel that must fail verification).
inline KernelSource GemmKernel(int m, int n, int k, bool wrong = false) {
  KernelSource s;
  s.code = std::string(R"C(
void simtune_kernel(float *const *bufs) {
  const float *A = bufs[0], *B = bufs[1];
  float *C = bufs[2];
  for (int i = 0; i < ROI_M; ++i)
    for (int p = 0; p < ROI_K; ++p) {
      float a = A[i * ROI_K + p];
      for (int j = 0; j < ROI_N; ++j) C[i * ROI_N + j] += a * B[p * ROI_N + j];
    }
)C") + (wrong ? "  C[7] += 1.0f;\n" : "") + "}\n";
  s.reference_code = R"C(
void simtune_reference(float *const *bufs) {
  for (int i = 0; i < ROI_M; ++i)
    for (int j = 0; j < ROI_N; ++j) {
      float acc = 0.0f;
      for (int p = 0; p < ROI_K; ++p) acc += bufs[0][i * ROI_K + p] * bufs[1][p * ROI_N + j];
      bufs[2][i * ROI_N + j] = acc;
    }
}
)C";
  s.buffers = {{"A", int64_t{m} * k, false}, {"B", int64_t{k} * n, false},
               {"C", int64_t{m} * n, true}};
  s.extra_cflags = {"-DROI_M=" + std::to_string(m), "-DROI_N=" + std::to_string(n),
                    "-DROI_K=" + std::to_string(k)};
  s.rel_tol = 1e-3;
  s.abs_tol = 1e-3;
  s.flops = 2.0 * m * n * k;
  return s;
}

// Builds `source` for `target`; adds a test failure with the build log when it fails.
inline Artifact BuildOrFail(const KernelSource& source, const Target& target) {
  Artifact a = TestBuilder().BuildSource(source, target);
  if (!a.ok())
    ADD_FAILURE() << "build for " << target.name << " failed (" << a.stage << "): " << a.message
                  << "\n" << a.build_log;
  return a;
}

// Creates simulator `name` from `registry`; fails the test when options are rejected.
inline std::unique_ptr<Simulator> MakeSimulator(const SimulatorRegistry& registry,
                                                const std::string& name,
                                                const std::string& options = "") {
  auto sim = registry.Create(name, options);
  if (!sim.ok()) {
    ADD_FAILURE() << "cannot create simulator " << name << ": " << sim.message();
    return nullptr;
  }
  return std::move(sim).value();
}

inline std::string Describe(const SimResult& r) {
  return r.status + (r.ok() ? "" : " at " + r.stage + ": " + r.message);
}

}  // namespace simtune::roi_test
