// Shared by the tune and mpi tests: a scratch folder, running the real simtune binary, and
// reading what a tune stored.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/process.h"

namespace simtune::tune_test {

namespace fs = std::filesystem;

inline std::string Simtune() { return std::string(SIMTUNE_TEST_BINARY_DIR) + "/simtune"; }

class TuneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("simtune_tune_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  ProcessResult Run(std::vector<std::string> argv, double timeout_s = 240) {
    ProcessOptions o;
    o.cwd = dir_;
    o.timeout_s = timeout_s;
    auto r = RunProcess(argv, o);
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() ? *r : ProcessResult{};
  }

  // The store as JSON (simtune export).
  nlohmann::json Export(const std::string& db) {
    auto r = Run({Simtune(), "export", "--db", db, "--json", "-"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  // config text -> stats JSON (or "failed:<stage>") of every sim_results row, and how many
  // rows each candidate has.
  static std::map<std::string, std::vector<std::string>> SimsByConfig(const nlohmann::json& store) {
    std::map<int64_t, std::string> config;
    for (const auto& c : store["candidates"]) config[c["id"].get<int64_t>()] = c["config"].get<std::string>();
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& s : store["sim_results"]) {
      std::string v = s["status"] == "ok" ? s["stats_json"].dump()
                                          : "failed:" + s["stage"].get<std::string>();
      out[config[s["candidate_id"].get<int64_t>()]].push_back(v);
    }
    return out;
  }

  fs::path dir_;
};

}  // namespace simtune::tune_test
