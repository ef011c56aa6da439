#include "simtune/cli.h"
#include "simtune/process.h"
#include "simtune/scratch.h"

int main(int argc, char** argv) {
  // Before any thread starts: children and scratch folders do not outlive simtune.
  simtune::InstallTerminationHandler();
  simtune::SweepStaleScratchDirs();
  return simtune::RunCli(argc, argv);
}
