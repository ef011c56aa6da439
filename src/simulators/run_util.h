// Helpers shared by the simulator backends: scratch folders, file reading, failure results.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "simtune/build.h"
#include "simtune/files.h"
#include "simtune/scratch.h"
#include "simtune/simulator.h"
#include "simtune/strings.h"

namespace simtune {
namespace sim_util {

// The file's bytes; "" when it cannot be read (a simulator's missing output is reported by
// what parses it).
inline std::string ReadFile(const std::filesystem::path& path) {
  return ReadWholeFile(path).value_or("");
}

// The last lines of a long text, for one-line failure messages.
inline std::string Tail(const std::string& text, size_t max_bytes = 600) {
  std::string t = Trim(text);
  if (t.size() > max_bytes) t = "..." + t.substr(t.size() - max_bytes);
  return t;
}

// A private scratch folder, removed when the run ends, also when simtune is stopped
// (simtune/scratch.h); path() is empty when it could not be created.
using TempDir = ScratchDir;

// The name a user-mode simulator runs the program by (PlaceProgram).
inline constexpr const char* kGuestProgram = "program";

// A program's stack lies below its argument and environment strings and the auxiliary vector
// (which holds the program's path): their sizes move every stack address, and with it the
// cache sets and reuse distances of the stack's accesses. So user-mode simulators (qemu,
// valgrind) run the artifact with no environment and by a fixed name, from a hard link (or,
// across file systems, a copy; a symbolic link is resolved to the real path) in the run's
// folder, which is their working folder: their statistics do not depend on the user's shell
// or on where the artifact cache lies. Returns "" or why it could not.
inline std::string PlaceProgram(const std::filesystem::path& elf, const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_hard_link(elf, dir / kGuestProgram, ec);
  if (!ec) return "";
  ec.clear();
  std::filesystem::copy_file(elf, dir / kGuestProgram, ec);
  if (!ec) return "";
  return "cannot copy " + elf.string() + " into " + dir.string() + ": " + ec.message();
}

// `program` as an absolute path, looked up on PATH when it has no '/' (unchanged when not
// found there: running it then fails with the usual message).
inline std::string OnPath(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = getenv("PATH");
  for (const std::string& dir : Split(path ? path : "", ':')) {
    if (dir.empty()) continue;
    std::filesystem::path p = std::filesystem::path(dir) / program;
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec) && access(p.c_str(), X_OK) == 0) return p.string();
  }
  return program;
}

inline SimResult Failed(std::string stage, std::string message, double wall_s = 0) {
  SimResult r;
  r.status = "failed";
  r.stage = std::move(stage);
  r.message = std::move(message);
  r.wall_s = wall_s;
  return r;
}

// Parses the simulators' common option mode=auto|full: "full" runs the harness's reference
// and element-wise check under the simulator every time (the way before simulation mode);
// "auto" stops after the ROI and compares output checksums when the artifact has verified
// ones. Returns "" when `value` is valid, else the error.
inline std::string ParseModeOption(const std::string& tool, const std::string& value,
                                   bool& full) {
  if (value != "auto" && value != "full")
    return tool + " option mode: expected auto or full; got '" + value + "'";
  full = value == "full";
  return "";
}

// How a run proves its output: simulation mode when the artifact has verified checksums and
// the option does not ask for full runs.
struct OutputPlan {
  bool sim = false;
  std::string verified;   // VerifiedChecksums(artifact)
  std::string full_reason;   // why a full run, for extra["output_check"]
};

inline OutputPlan PlanOutputCheck(const Artifact& artifact, bool full_option) {
  OutputPlan p;
  p.verified = VerifiedChecksums(artifact);
  p.sim = !full_option && !p.verified.empty();
  if (!p.sim)
    p.full_reason = full_option ? "full run (mode=full)"
                                : "full run (no verified checksums for this artifact)";
  return p;
}

// A simulation-mode run `sim` whose checksums differed (`mismatch`) from the verified run's,
// and `full`, a full run of the same artifact under the same simulator: the simulator is
// then not bit-exact for this kernel, and the harness's element-wise check under it decides,
// within the workload's tolerance, as every run did before simulation mode.
inline SimResult AfterChecksumMismatch(SimResult sim, const SimResult& full,
                                       const std::string& mismatch, const std::string& tool) {
  double wall_s = sim.wall_s + full.wall_s;
  if (!full.ok())
    return Failed(full.stage, mismatch + "; the full run under " + tool + ": " + full.message,
                  wall_s);
  sim.stats.extra["output_check"] =
      mismatch + "; the full run under " + tool + " verified it within tolerance";
  sim.wall_s = wall_s;
  return sim;
}

// Runs the first stage of a simulation with its output check. `run(sim, output)` runs the
// artifact once, in simulation mode or in full (then the verify line is required), stores
// the program's output in `output` and returns the statistics, or the failure.
template <class Run>
SimResult RunWithOutputCheck(const Artifact& artifact, bool full_option, const std::string& tool,
                             Run run) {
  OutputPlan plan = PlanOutputCheck(artifact, full_option);
  std::string output;
  SimResult r = run(plan.sim, output);
  if (!r.ok()) return r;
  if (!plan.sim) {
    r.stats.extra["output_check"] = plan.full_reason;
    r.checksums = ChecksumLine(output);
    return r;
  }
  std::string mismatch = CompareChecksums(ChecksumLine(output), plan.verified);
  if (mismatch.empty()) {
    r.stats.extra["output_check"] = "checksum";
    return r;
  }
  SimResult full = run(false, output);
  return AfterChecksumMismatch(std::move(r), full, mismatch, tool);
}

// The harness argument of a hosted run: "--run=sim"; for a full run "--run=all" (the same
// stack layout) when the artifact has verified checksums, i.e. was built with this harness,
// else none (ready-made executables of the older contract know no --run).
inline std::string HostedArg(const Artifact& artifact, bool sim) {
  if (sim) return "--run=sim";
  return VerifiedChecksums(artifact).empty() ? "" : "--run=all";
}

}  // namespace sim_util
}  // namespace simtune
