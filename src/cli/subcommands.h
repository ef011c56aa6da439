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

#include "simtune/process.h"
#include "simtune/strings.h"

namespace simtune::cli {

struct Subcommand {
  CLI::App* cmd = nullptr;
  std::function<int()> run;     // exit status
};

// Exit statuses: 0 done (some candidates may have failed: they are rows); 1 an error (bad
// input or environment, nothing run); 2 a batch command (build, simulate, measure) ran
// candidates and every one of them failed.
inline constexpr int kExitNothingSucceeded = 2;
inline constexpr const char* kExitStatusHelp =
    "Exit status: 0 done (failed candidates are rows in the store); 1 error (bad input or "
    "environment); 2 build/simulate/measure ran candidates and every one failed.";

// Prints "error: <message>" on stderr; returns the exit status 1.
inline int Fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

// Validators of numeric flags, checked on the text before CLI11 converts it (CLI11 turns
// "-1" into a huge unsigned value). Errors read "error: --budget: expected an integer >= 0;
// got '-1'" (RunCli prefixes "error: " to CLI11's messages).
inline CLI::Validator NonNegativeInteger() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto v = ParseInt(text, "-");
        if (v.ok() && *v >= 0) return "";
        return "expected an integer >= 0; got '" + text + "'";
      },
      "");
}

// Seconds >= 0 (0: no limit).
inline CLI::Validator NonNegativeSeconds() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto v = ParseDouble(text, "-");
        if (v.ok() && *v >= 0) return "";
        return "expected seconds >= 0; got '" + text + "'";
      },
      "");
}

// A timeout: seconds > 0, at most kMaxTimeoutS (ParseTimeout).
inline CLI::Validator TimeoutSeconds() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto v = ParseTimeout(text, "-");
        return v.ok() ? "" : v.message().substr(3);   // without "-: ": CLI11 names the flag
      },
      "");
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
