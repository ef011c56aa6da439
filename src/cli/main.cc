#include "simtune/cli.h"

int main(int argc, char** argv) { return simtune::RunCli(argc, argv); }
