// The MPI executor with a real `mpirun` of 3 ranks (Open MPI from scripts/setup): rank 0
// coordinates and writes the store, ranks 1 and 2 build and simulate. It must store the
// same results as a local run of the same command.
#include "tests/tune/tune_helpers.h"

namespace simtune::tune_test {
namespace {

std::vector<std::string> TuneArgs(const std::string& db) {
  return {Simtune(), "tune", "gemm:M=16,N=16,K=16", "--target", "x86_64-host", "--budget", "16",
          "--batch", "4", "--strategy", "evolutionary", "--seed", "9", "--sim", "fake",
          "--predictor", "insn-count", "--predictor-options", "feature=fake.log_insn",
          "--calibrate", "3", "--top", "2", "--ref-options",
          "rounds=2,reps=3,min_rep_ns=20000", "--db", db, "--cache", "cache"};
}

TEST_F(TuneTest, ThreeMpiRanksStoreWhatALocalRunStores) {
  ASSERT_TRUE(ProgramExists("mpirun"))
      << "mpirun not found: install openmpi-bin and libopenmpi-dev (scripts/setup)";
  auto local = TuneArgs("local.db");
  local.insert(local.end(), {"--executor", "local", "-j", "2"});
  auto r = Run(local);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  std::vector<std::string> mpi = {"mpirun", "-np", "3", "--oversubscribe", "--allow-run-as-root"};
  auto args = TuneArgs("mpi.db");
  mpi.insert(mpi.end(), args.begin(), args.end());
  mpi.insert(mpi.end(), {"--executor", "mpi"});
  r = Run(mpi);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("mpi executor, workers=2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(": 16 candidates (0 from the store, 16 run now)"), std::string::npos) << r.out;

  auto local_sims = SimsByConfig(Export("local.db"));
  auto mpi_store = Export("mpi.db");
  EXPECT_EQ(local_sims.size(), 16u);
  EXPECT_EQ(SimsByConfig(mpi_store), local_sims);
  // Every job's artifact row is there, written by rank 0 alone (one writer: no duplicates).
  EXPECT_EQ(mpi_store["artifacts"].size(), 16u);
}

}  // namespace
}  // namespace simtune::tune_test
