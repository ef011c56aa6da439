// Runs an external command (compiler, emulator, simulator, artifact) with a timeout and
// captures its output. Used by build, reference and simulators; never throws.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "simtune/result.h"

namespace simtune {

struct ProcessOptions {
  std::filesystem::path cwd;                       // empty: inherit
  double timeout_s = 60.0;                         // <= 0: no timeout
  std::map<std::string, std::string> extra_env;    // added to the inherited environment
  int cpu = -1;                                    // >= 0: pin the child to this CPU
  size_t max_output_bytes = 1 << 20;               // per stream; the rest is dropped
};

struct ProcessResult {
  int exit_code = -1;       // valid when !signaled && !timed_out
  int signal = 0;           // terminating signal, 0 if none
  bool timed_out = false;   // killed (SIGKILL, whole process group) after timeout_s
  std::string out;          // stdout
  std::string err;          // stderr
  double wall_s = 0;

  bool Success() const { return !timed_out && signal == 0 && exit_code == 0; }
  // One line for a failed row: "exit code 3", "killed by signal 11 (Segmentation fault)",
  // "timed out after 5 s".
  std::string Describe(double timeout_s) const;
};

// Error only when the command cannot be started at all (e.g. not found on PATH); the
// message names the program.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const ProcessOptions& options = {});

// Looks `program` up on PATH (or checks it directly if it contains '/').
bool ProgramExists(const std::string& program);

}  // namespace simtune
