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
#include "tests/support/scratch_test.h"

namespace simtune::tune_test {

namespace fs = std::filesystem;

inline std::string Simtune() { return testing_support::SimtuneBinary(); }

class TuneTest : public testing_support::ScratchTest {
 protected:
  TuneTest() : ScratchTest("simtune_tune_", /*keep_on_failure=*/true) {}

  ProcessResult Run(const std::vector<std::string>& argv, double timeout_s = 240) {
    return RunIn(argv, timeout_s);
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

};

}  // namespace simtune::tune_test
