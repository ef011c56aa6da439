// Shipped models (issue 11): the rvsim presets carry a model trained on the corpus
// (data/models/<target>.json, `make models`), so that `simtune tune` ranks a workload nobody
// measured without a single reference measurement.
#include <fstream>

#include <nlohmann/json.hpp>

#include "simtune/features.h"
#include "simtune/paths.h"
#include "simtune/predictor.h"
#include "tests/tune/tune_helpers.h"

namespace simtune::tune_test {
namespace {

// A schema change of the features (features.h) makes these fail: retrain with `make models`.
TEST(ShippedModelTest, EveryRvsimPresetShipsAModelOfTheCurrentFeatureSchema) {
  for (const std::string target : {"riscv64-rvsim-p550", "riscv64-rvsim-rocket"}) {
    const std::string path = (DataDir() / "models" / (target + ".json")).string();
    auto model = LoadModel(path, kFeatureSchemaVersion);
    ASSERT_TRUE(model.ok()) << model.message() << " (retrain: make models)";
    EXPECT_FALSE((*model)->feature_names().empty());
  }
}

TEST_F(TuneTest, TuneOnAnRvsimPresetRanksWithTheShippedModelAndMeasuresNothing) {
  auto r = Run({Simtune(), "tune", "corpus.gemm_odd", "--target", "riscv64-rvsim-p550", "--budget", "4",
                "--strategy", "random", "--top", "0", "-j", "2", "--db", "t.db"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string shipped = (DataDir() / "models" / "riscv64-rvsim-p550.json").string();
  EXPECT_NE(r.out.find("model " + shipped + " ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no candidate verified; the best predicted"), std::string::npos) << r.out;
  // The shipped model ranks (a rank average of gp, xgb and ridge), it does not predict
  // cycles: the listed predictions say so.
  EXPECT_NE(r.out.find("score (unitless)  config\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(" cycles  "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("calibration:"), std::string::npos) << r.out;
  auto store = Export("t.db");
  EXPECT_TRUE(store["ref_results"].empty()) << store["ref_results"].dump();
  // It ran the simulators the shipped model was trained on (qemu and mca), each on the 4.
  std::ifstream file(shipped);
  const auto sims = nlohmann::json::parse(file).at("data").at("simulators");
  EXPECT_EQ(store["sim_results"].size(), 4u * sims.size()) << store["sim_results"].dump();

  // --no-shipped-model calibrates, so --calibrate is checked again.
  auto calibrate = Run({Simtune(), "tune", "corpus.gemm_odd", "--target", "riscv64-rvsim-p550", "--budget", "4",
                        "--top", "0", "--no-shipped-model", "--calibrate", "1", "--db", "t.db"});
  EXPECT_EQ(calibrate.exit_code, 1);
  EXPECT_EQ(calibrate.err, "error: --calibrate must be at least 2 when no --model is given; got 1\n");
}

}  // namespace
}  // namespace simtune::tune_test
