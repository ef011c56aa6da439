// Shared by the test folders: a fresh scratch folder per test and running the real simtune
// binary (or any program) in it. Header-only; tests/support has no test executable.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "simtune/process.h"

namespace simtune::testing_support {

// The simtune binary of this build.
inline std::string SimtuneBinary() { return std::string(SIMTUNE_TEST_BINARY_DIR) + "/simtune"; }

// <tmp>/<prefix><pid>_<test name>, created empty before each test and removed after it
// (kept after a failed test when keep_on_failure, for a look at what it left).
class ScratchTest : public ::testing::Test {
 protected:
  explicit ScratchTest(std::string prefix, bool keep_on_failure = false)
      : prefix_(std::move(prefix)), keep_on_failure_(keep_on_failure) {}

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           (prefix_ + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!(keep_on_failure_ && HasFailure())) std::filesystem::remove_all(dir_);
  }

  // Runs argv as given with the scratch folder as working directory.
  ProcessResult RunIn(const std::vector<std::string>& argv, double timeout_s = 300) {
    ProcessOptions o;
    o.cwd = dir_;
    o.timeout_s = timeout_s;
    auto r = RunProcess(argv, o);
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() ? *r : ProcessResult{};
  }

  // Runs the simtune binary with args.
  ProcessResult RunSimtune(std::vector<std::string> args, double timeout_s = 300) {
    args.insert(args.begin(), SimtuneBinary());
    return RunIn(args, timeout_s);
  }

  std::filesystem::path dir_;

 private:
  std::string prefix_;
  bool keep_on_failure_;
};

}  // namespace simtune::testing_support
