// Runs an external command (compiler, emulator, simulator, artifact) with a timeout and
// captures its output. Used by build, reference and simulators; never throws.
//
// What a run guarantees, whatever the child does:
//  - it ends by its deadline: after timeout_s the child's process group is killed (SIGKILL),
//    also when the child closed its stdout/stderr and went on running;
//  - the child runs in its own process group, with stdin on /dev/null and no file
//    descriptor of simtune's but stdout and stderr;
//  - the child dies with simtune (PR_SET_PDEATHSIG: SIGKILL when the thread that started it
//    ends; RunProcess blocks that thread until the child is reaped), and, once
//    InstallTerminationHandler ran, SIGINT/SIGTERM/SIGHUP of simtune kill every live child's
//    process group before simtune exits;
//  - when the child exits, what it left running in its process group is killed;
//  - captured text is valid UTF-8 (invalid bytes become U+FFFD) and at most
//    max_output_bytes per stream: the head and the tail are kept, with a marker line
//    "...[N bytes dropped]..." between them, so a verdict printed last survives.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string_view>
#include <string>
#include <vector>

#include "simtune/result.h"

namespace simtune {

struct ProcessOptions {
  std::filesystem::path cwd;                       // empty: inherit
  double timeout_s = 60.0;                         // <= 0: no timeout; at most kMaxTimeoutS
  std::map<std::string, std::string> extra_env;    // added to the inherited environment
  int cpu = -1;                                    // >= 0: pin the child to this CPU
  size_t max_output_bytes = 1 << 20;               // per stream: first half + last half kept
};

// The longest timeout a user may ask for (30 days): parsers reject more (ParseTimeout), and
// RunProcess treats a longer one as this.
constexpr double kMaxTimeoutS = 30.0 * 24 * 3600;

// Parses a timeout in seconds for `what` ("--verify-timeout", "native reference option
// timeout"): a number > 0 and <= kMaxTimeoutS. Errors: "<what>: expected seconds > 0; got
// '0'", "<what>: at most 2592000 s (30 days); got '1e300'".
Result<double> ParseTimeout(std::string_view text, std::string_view what);

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

// How many external runs to start at once for `work` items: `requested` (<= 0: the number of
// cores), never more than the work, nor than kMaxWorkers; at least 1.
constexpr int kMaxWorkers = 256;
int WorkerCount(int requested, size_t work);

// Once per process, before it starts any thread (simtune's main does it): SIGINT, SIGTERM
// and SIGHUP are then taken by a watcher thread, which kills the process group of every live
// RunProcess child, removes the live scratch folders (scratch.h) and exits with status
// 128 + signal. Results of the children it killed are never returned.
void InstallTerminationHandler();

// Looks `program` up on PATH (or checks it directly if it contains '/').
bool ProgramExists(const std::string& program);

}  // namespace simtune
