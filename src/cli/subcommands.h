// Subcommands of the simtune CLI that live in their own files. Each Add*Command registers its
// flags on `app` (flag storage is owned by the returned callback) and returns the subcommand
// with the function that runs it once parsed. RunCli (commands.cc) calls each Add*Command
// once, parses, and runs the one that parsed.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace simtune::cli {

struct Subcommand {
  CLI::App* cmd = nullptr;
  std::function<int()> run;     // exit status
};

// Prints "error: <message>" on stderr; returns the exit status 1.
inline int Fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

// True when stderr is a terminal (progress lines are printed only then).
inline bool Interactive() { return isatty(2); }

// One line per subcommand file; keep the list in RunCli in the same order.
Subcommand AddTrainCommand(CLI::App& app);      // model_commands.cc
Subcommand AddPredictCommand(CLI::App& app);    // model_commands.cc
Subcommand AddEvalCommand(CLI::App& app);       // model_commands.cc
Subcommand AddTuneCommand(CLI::App& app);       // tune_command.cc
Subcommand AddVerifyCommand(CLI::App& app);     // model_commands.cc
Subcommand AddEstimateCommand(CLI::App& app);   // estimate_command.cc

}  // namespace simtune::cli
