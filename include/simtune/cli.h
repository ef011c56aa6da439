// The `simtune` command line. RunCli parses argv, runs one subcommand and returns the exit
// code: 0 success, 1 a user or environment error (message on stderr, "error: ..."),
// 2 a usage error (unknown flag, missing argument).
#pragma once

namespace simtune {

int RunCli(int argc, char** argv);

}  // namespace simtune
