// Subcommands of the simtune CLI that live in their own files. Each Add*Command registers its
// flags on `app` (flag storage is owned by the returned callback) and returns the subcommand
// with the function that runs it once parsed. RunCli (commands.cc) calls each Add*Command
// once, parses, and runs the one that parsed.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

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

// "How many of the best" has one name on every command: --top N (rows printed by measure,
// report and predict; candidates measured by verify and tune; the k of eval's verify-top-k
// regret). Older spellings stay as hidden aliases that warn on stderr:
//   "warning: --k is deprecated; use --top".
template <typename T>
void AddDeprecatedAlias(CLI::App* cmd, const std::string& old_name, T& value, const std::string& name) {
  cmd->add_option(old_name, value)
      ->group("")   // hidden from --help
      ->check(CLI::Validator(
          [old_name, name](std::string&) {
            std::fprintf(stderr, "warning: %s is deprecated; use %s\n", old_name.c_str(), name.c_str());
            return std::string();
          },
          ""));
}

// A prediction as printed: a time carries its unit ("1.234e+05 ns", "8.2e+04 cycles"); a
// score that only orders candidates (ranking models, baselines) is a bare number under a
// column PredictionHeader names "score (unitless)".
inline std::string FormatPrediction(double value, const std::string& unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return unit == "score" || unit.empty() ? std::string(buf) : std::string(buf) + " " + unit;
}
inline std::string PredictionHeader(const std::string& unit) {
  return unit == "score" ? "score (unitless)" : "predicted";
}

// Writes a command's --json output: '-' is stdout, else the file. Errors as Fail's.
inline int WriteJsonOutput(const std::string& path, const nlohmann::json& doc) {
  if (path == "-") {
    std::printf("%s\n", DumpJson(doc, 1).c_str());
    return 0;
  }
  std::ofstream out(path);
  out << DumpJson(doc, 1) << "\n";
  if (!out) return Fail("cannot write '" + path + "'");
  return 0;
}

// True when stderr is a terminal (progress lines are printed only then).
inline bool Interactive() { return isatty(2); }

// Creates the folder an output file goes into (`--json out/x.json`, `--html out/r.html`); a
// failure shows when the file is written.
inline void CreateParentFolder(const std::string& file) {
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(file).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
}

// Progress where stderr is not a terminal (nohup, CI, a pipe), ninja/pip style: a plain line
// at most every 10 s (SIMTUNE_PROGRESS_EVERY=<seconds> changes it), e.g.
//   "simulate: 40/100 done, 2 failed, 31 s elapsed, eta 46 s". Silent on a terminal, where
// the commands draw a live line instead.
class PlainProgress {
 public:
  explicit PlainProgress(std::string job)
      : job_(std::move(job)), start_(std::chrono::steady_clock::now()), last_(start_) {
    const char* every = std::getenv("SIMTUNE_PROGRESS_EVERY");
    if (every) {
      char* end = nullptr;
      double v = std::strtod(every, &end);
      if (end != every && *end == '\0' && v >= 0 && v <= 86400) every_s_ = v;
    }
  }
  void Update(size_t done, size_t total, size_t failed, double eta_s = -1) {
    if (Interactive()) return;
    auto now = std::chrono::steady_clock::now();
    bool due = std::chrono::duration<double>(now - last_).count() >= every_s_;
    // The last line is printed only after earlier ones: a short run stays quiet.
    if (done >= total ? (!printed_ || finished_) : !due) return;
    last_ = now;
    printed_ = true;
    finished_ = done >= total;
    double elapsed = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "%s: %zu/%zu done, %zu failed, %.0f s elapsed", job_.c_str(), done, total,
                 failed, elapsed);
    if (eta_s >= 0 && done < total) std::fprintf(stderr, ", eta %.0f s", eta_s);
    std::fprintf(stderr, "\n");
  }

 private:
  std::string job_;
  double every_s_ = 10;
  std::chrono::steady_clock::time_point start_, last_;
  bool printed_ = false, finished_ = false;
};

// One line per subcommand file; keep the list in RunCli in the same order.
Subcommand AddTrainCommand(CLI::App& app);      // model_commands.cc
Subcommand AddPredictCommand(CLI::App& app);    // model_commands.cc
Subcommand AddEvalCommand(CLI::App& app);       // model_commands.cc
Subcommand AddTuneCommand(CLI::App& app);       // tune_command.cc
Subcommand AddVerifyCommand(CLI::App& app);     // model_commands.cc
Subcommand AddEstimateCommand(CLI::App& app);   // estimate_command.cc
Subcommand AddDatasetCommand(CLI::App& app);    // dataset_command.cc
Subcommand AddHarnessRuntimeCommand(CLI::App& app);  // harness_command.cc
Subcommand AddCacheCommand(CLI::App& app);      // cache_command.cc

}  // namespace simtune::cli
