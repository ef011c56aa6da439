// Generated kernels are correct for sampled configs of every built-in operator (compiled with
// the host gcc and checked against the naive reference), and compile warning-free for every
// cross toolchain the project targets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "kernel_check.h"
#include "simtune/process.h"
#include "simtune/workload.h"

namespace simtune {
namespace {

using testing_util::GenerateAll;
using testing_util::MainProgram;
using testing_util::ScratchDir;
using testing_util::WriteFile;
namespace fs = std::filesystem;

struct CheckResult {
  std::string failure;  // empty when all configs pass
  size_t passed = 0;
};

// Compiles all kernels of one workload into one program (one compiler invocation; each
// kernel file renames simtune_kernel) and runs it.
CheckResult CheckWorkload(const std::string& text, size_t samples, uint64_t seed) {
  CheckResult result;
  auto w = ParseWorkload(text);
  if (!w.ok()) return {w.message()};
  auto space = MakeSpace(*w);
  if (!space.ok()) return {space.message()};
  const std::vector<Config> configs = (*space)->Sample(samples, seed);
  if (configs.size() != samples) return {"sampled too few configs for " + text};
  std::vector<KernelSource> sources = GenerateAll(*w, configs);
  if (sources.size() != configs.size()) return {"generation failed for " + text};

  std::string tag = text;
  for (char& ch : tag)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  const fs::path dir = ScratchDir(tag);
  std::vector<std::string> argv = {"gcc", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror",
                                   "-o", (dir / "check").string()};
  WriteFile(dir / "main.c", MainProgram(sources));
  WriteFile(dir / "reference.c", sources[0].reference_code);
  argv.push_back((dir / "main.c").string());
  argv.push_back((dir / "reference.c").string());
  for (size_t i = 0; i < sources.size(); ++i) {
    const fs::path file = dir / ("kernel_" + std::to_string(i) + ".c");
    WriteFile(file, "#define simtune_kernel kernel_" + std::to_string(i) + "\n" + sources[i].code);
    argv.push_back(file.string());
  }
  argv.push_back("-lm");
  ProcessOptions compile_options;
  compile_options.timeout_s = 300;
  auto compiled = RunProcess(argv, compile_options);
  if (!compiled.ok()) return {compiled.message()};
  if (!compiled->Success()) return {text + ": compile failed:\n" + compiled->err.substr(0, 4000)};
  auto ran = RunProcess({(dir / "check").string()});
  if (!ran.ok()) return {ran.message()};
  std::istringstream lines(ran->out);
  std::string line;
  std::string failures;
  while (std::getline(lines, line)) {
    int index = -1;
    if (std::sscanf(line.c_str(), "FAIL %d", &index) == 1 && index >= 0 &&
        index < static_cast<int>(configs.size())) {
      failures += text + " " + FormatConfig(configs[index], (*space)->knobs()) + ": " + line +
                  " (source in " + (dir / ("kernel_" + std::to_string(index) + ".c")).string() +
                  ")\n";
    } else if (line.rfind("OK ", 0) == 0) {
      ++result.passed;
    }
  }
  if (!ran->Success() && failures.empty())
    failures = text + ": check program " + ran->Describe(60) + "\n" + ran->out;
  result.failure = failures;
  return result;
}

void ExpectAllCorrect(const std::vector<std::pair<std::string, size_t>>& cases, uint64_t seed) {
  ASSERT_TRUE(ProgramExists("gcc")) << "gcc not found on PATH; scripts/setup installs it";
  // Two compiler invocations at a time (the machines this runs on have two cores).
  for (size_t i = 0; i < cases.size(); i += 2) {
    std::vector<std::future<CheckResult>> jobs;
    for (size_t j = i; j < std::min(i + 2, cases.size()); ++j)
      jobs.push_back(std::async(std::launch::async, CheckWorkload, cases[j].first,
                                cases[j].second, seed));
    for (size_t j = 0; j < jobs.size(); ++j) {
      CheckResult r = jobs[j].get();
      EXPECT_EQ(r.failure, "");
      EXPECT_EQ(r.passed, cases[i + j].second) << cases[i + j].first;
    }
  }
}

TEST(Codegen, GemmAndMvmKernelsMatchReference) {
  ExpectAllCorrect({{"gemm:M=13,N=17,K=11", 40},
                    {"gemm:M=7,N=40,K=33", 12},
                    {"mvm:M=37,K=45", 40}},
                   1);
}

TEST(Codegen, ConvKernelsMatchReference) {
  ExpectAllCorrect({{"conv2d:N=2,C=5,H=11,W=13,K=10,R=3,S=3,stride=2,pad=1", 40},
                    {"conv2d:N=1,C=6,H=9,W=21,K=20,R=3,S=2,stride=1,pad=1", 16},
                    {"dwconv2d:C=10,H=9,W=23,R=3,S=3,stride=1,pad=1", 40},
                    {"dwconv2d:C=21,H=12,W=12,R=5,S=5,stride=2,pad=2", 12}},
                   2);
}

// Every cross toolchain compiles generated kernels and references without a warning and
// without C library headers (riscv64-unknown-elf is used without picolibc's specs here).
TEST(Codegen, CompilesForEveryCrossToolchain) {
  std::vector<std::string> files;
  const fs::path dir = ScratchDir("cross");
  int n = 0;
  for (const std::string text :
       {"gemm:M=13,N=17,K=11", "mvm:M=37,K=45",
        "conv2d:N=2,C=5,H=11,W=13,K=10,R=3,S=3,stride=2,pad=1",
        "conv2d:N=1,C=6,H=9,W=21,K=20,R=3,S=2,stride=1,pad=1",
        "dwconv2d:C=10,H=9,W=23,R=3,S=3,stride=1,pad=1"}) {
    auto w = ParseWorkload(text);
    ASSERT_TRUE(w.ok()) << w.message();
    auto space = MakeSpace(*w);
    ASSERT_TRUE(space.ok()) << space.message();
    // The widest vectors the shape allows (16, else 8), 4 floats, and scalar code.
    std::vector<Config> picked;
    const std::vector<Config> pool = (*space)->Sample(300, 99);
    for (const std::vector<int64_t>& widths :
         std::vector<std::vector<int64_t>>{{16, 8}, {4}, {1}}) {
      for (int64_t vec : widths) {
        auto it = std::find_if(pool.begin(), pool.end(),
                               [&](const Config& c) { return c.at("vec") == vec; });
        if (it != pool.end()) {
          picked.push_back(*it);
          break;
        }
      }
    }
    ASSERT_EQ(picked.size(), 3u) << text;
    std::vector<KernelSource> sources = GenerateAll(*w, picked);
    ASSERT_EQ(sources.size(), 3u);
    for (const auto& src : sources) {
      fs::path file = dir / ("k" + std::to_string(n++) + ".c");
      WriteFile(file, src.code);
      files.push_back(file.string());
    }
    fs::path ref = dir / ("k" + std::to_string(n++) + ".c");
    WriteFile(ref, sources[0].reference_code);
    files.push_back(ref.string());
  }
  std::vector<std::future<Result<ProcessResult>>> jobs;
  const std::vector<std::string> compilers = {"riscv64-linux-gnu-gcc", "aarch64-linux-gnu-gcc",
                                              "riscv64-unknown-elf-gcc"};
  for (const auto& cc : compilers) {
    ASSERT_TRUE(ProgramExists(cc)) << cc << " not found on PATH; scripts/setup installs it";
    fs::create_directories(dir / cc);
    std::vector<std::string> argv = {cc, "-O3", "-std=c99", "-Wall", "-Wextra", "-Werror", "-c"};
    argv.insert(argv.end(), files.begin(), files.end());
    ProcessOptions options;
    options.cwd = dir / cc;
    options.timeout_s = 300;
    jobs.push_back(std::async(std::launch::async, [argv, options] {
      return RunProcess(argv, options);
    }));
    if (jobs.size() == 2) {
      // At most two compilers at a time.
      jobs.front().wait();
    }
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    auto r = jobs[i].get();
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_TRUE(r->Success()) << compilers[i] << ":\n" << r->err.substr(0, 4000);
  }
}

}  // namespace
}  // namespace simtune
