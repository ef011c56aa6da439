// Build: candidate -> generated C source + harness -> ELF for a target, cached by content
// hash, and verification of an artifact's output by running it once (natively or through
// the target's runner, e.g. qemu-riscv64).
//
// Harness contract (every simulator and reference relies on it):
//  - The ROI is bracketed by two global, non-inlined functions with C linkage,
//    `simtune_roi_begin` and `simtune_roi_end`, visible in the ELF symbol table. Exactly one
//    call of each in single-run mode; the kernel call lies between them and nothing else
//    that does work.
//  - Single-run mode (no arguments or `--run=all`; the only mode on bare metal): fill inputs
//    (those within kHarnessStaticInputBytes come filled in the ELF's initialized data, the
//    rest are filled at run time; outputs are zero in static storage), read and write back
//    one byte of every cache line of every buffer (the caches then hold them as after a
//    run-time fill), ROI, kernel, ROI end; check the guard zones (kHarnessGuardFloats floats of a known
//    pattern after every buffer); print the output checksums
//      "simtune: checksum <buffer>=<16 hex digits> ..."  (one per output buffer, in order)
//    a hash of each output buffer's exact bits (same value on every ISA for the same bits);
//    then run the naive reference, compare, print one line
//      "simtune: verify ok max_abs_err=<g> max_rel_err=<g>"   and exit 0, or
//      "simtune: verify failed index=<i> got=<g> want=<g>"     and exit 3.
//    A changed guard zone is "simtune: verify failed buffer=<name> written past its end ..."
//    (exit 3, before the checksum line when the kernel did it).
//  - Simulation mode (`--run=sim`, same length as `--run=all` so that the stack layout is the
//    same): the same up to the checksum line, then exit 0; neither the reference nor the
//    element-wise check runs. Simulators compare the checksums with those recorded when the
//    artifact was verified (VerifyArtifactInto). On bare metal there are no arguments: the
//    harness calls the global function `simtune_sim_done` right after the checksum line, and
//    a simulator stops the run there (a patched copy of the ELF, see spike.cc), so the ELF is
//    the same in both modes.
//  - Timing mode (`--time <min_rep_ns> <reps>`; hosted targets only): verify first, then
//    warm up and print one line "simtune: inner=<n> rep_ns=<v1>,<v2>,..." where each rep
//    times `inner` back-to-back kernel calls, inner chosen so one rep lasts >= min_rep_ns;
//    values are ns per kernel call.
//  - riscv64 bare metal: on Spike/rvsim, the harness also reads `minstret`/`mcycle` in the
//    ROI functions and prints "simtune: roi minstret=<n> mcycle=<n>". Its console is the
//    16550 UART at 0x10000000 and it exits through HTIF `tohost` (both simulators model
//    both), so one ELF runs on either. After the checksum line and at the end it prints
//    "simtune: program minstret=<n>" (instructions since reset). A trap (a faulting kernel)
//    prints "simtune: trap <cause> mcause=<n> mepc=0x<x> mtval=0x<x>" and exits with
//    kHarnessTrapExitCode.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "simtune/result.h"
#include "simtune/target.h"
#include "simtune/workload.h"

namespace simtune {

// Floats of canary after every buffer of the harness.
inline constexpr int kHarnessGuardFloats = 64;
// Inputs (values and guard zone) are put into the ELF as initialized data, so that the ELF
// loader, not simulated code, provides them, while together they take at most this many
// bytes (in signature order: a buffer that would exceed it, and every later one, is filled
// at run time as before). Every artifact stays in the cache, so this bounds what the data adds
// to one; 1 MiB holds the inputs of the small and medium workloads simulated most (a GEMM of
// 256^3 takes 512 KiB), where the fill cost most relative to the ROI.
inline constexpr int64_t kHarnessStaticInputBytes = int64_t{1} << 20;
// Exit code of the bare-metal harness after a trap.
inline constexpr int kHarnessTrapExitCode = 86;

struct Artifact {
  std::string target;
  std::string hash;               // SHA-256 (hex) of sources, compiler identity and flags
  std::filesystem::path elf;      // valid when ok()
  std::string status;             // "ok" | "failed"
  std::string stage;              // failed: "generate" | "build"
  std::string message;            // failed: one-line reason
  std::string build_log;          // compiler output (may be empty)
  double build_s = 0;
  bool cached = false;            // true when reused from the cache
  double flops = 0;               // from KernelSource
  // The checksum line's fields ("<buffer>=<hex> ...") of the run that verified this
  // artifact; empty when it was not verified (yet). Also kept in the cache entry
  // (verified-checksums.txt next to artifact.elf): see VerifiedChecksums.
  std::string verified_checksums;

  bool ok() const { return status == "ok"; }
};

struct BuildOptions {
  std::filesystem::path cache_dir = ".simtune-cache";
  int jobs = 0;                   // <= 0: number of cores
  double timeout_s = 120;         // per compiler invocation
  std::vector<std::string> extra_cflags;
};

// Cache layout: <cache_dir>/<hash[0:2]>/<hash>/{kernel.c, reference.c, harness.c,
// artifact.elf, build.log, verified-checksums.txt (once verified)}. An entry with artifact.elf is complete and reused as is (entries
// are built in a temporary folder and renamed into place, so concurrent builders of the same
// hash, in one process or several, are safe); a failed build leaves its sources (with harness.bin, the
// inputs' initialized data, which a complete entry drops: the ELF holds it) and log
// without artifact.elf and is retried next time. The reference is compiled separately at -O1
// (target flags otherwise) to keep it naive; harness and kernel use the target's flags.
// The reference and the harness (with its inputs' data) are the same for every candidate of
// a workload: each is compiled once into <cache_dir>/obj/<hash>.o (hash of compiler, flags,
// source and data) and linked from there; the ELF has the same bytes as a one-command build.
// Thread-safe: Build* may be called from several threads at once.
class Builder {
 public:
  explicit Builder(BuildOptions options);
  // Never fails as a whole: a generation or compile error is an Artifact with status "failed".
  Artifact Build(const Workload& workload, const Config& config, const Target& target);
  // Builds in parallel with options.jobs workers; results in input order. `on_built`, when
  // given, is called on the worker thread as soon as configs[i] is built, with i and the
  // artifact, which it may change (verify it, say) before it lands in the result; calls run
  // concurrently, so it synchronises what it shares (a store, counters).
  std::vector<Artifact> BuildMany(
      const Workload& workload, const std::vector<Config>& configs, const Target& target,
      const std::function<void(size_t, Artifact&)>& on_built = nullptr);
  // Lower level: build from ready-made kernel source (tests use this for broken kernels).
  Artifact BuildSource(const KernelSource& source, const Target& target);
  // BuildSource for several sources with options.jobs workers; results in input order.
  std::vector<Artifact> BuildSources(const std::vector<KernelSource>& sources,
                                     const Target& target);

 private:
  BuildOptions options_;
};

struct VerifyResult {
  std::string status;    // "ok" | "failed"
  std::string stage;     // failed: "run" | "verify" | "timeout"
  std::string message;
  std::string output;    // harness stdout+stderr (truncated)
  std::string checksums; // ok: the checksum line's fields
  std::vector<std::string> runner;   // ok: the command that ran it, without the ELF
  std::string sim_output;  // ok: stdout up to where a simulation-mode run stops (or "")
  bool ok() const { return status == "ok"; }
};

// What runs a bare-metal artifact for its verification when the target names no runner.
enum class BareMetalVerifier {
  // qemu-system-riscv64's virt machine without plugin (a copy of the artifact whose _exit
  // ends QEMU, as the qemu simulator runs it): 2-4x faster than Spike. Used for rv64gc
  // targets when qemu-system-riscv64 is installed, else Spike.
  kAuto,
  // Plain Spike: when the spike simulator runs the artifact next, it takes this run's output
  // instead of repeating the run (VerifiedSimOutput).
  kSpike,
};

// Runs an artifact once in single-run mode through the target's runner (bare metal without
// a runner: plain QEMU or Spike, see BareMetalVerifier) and checks the harness's verify
// line. Errors when nothing can run it.
Result<VerifyResult> VerifyArtifact(const Artifact& artifact, const Target& target,
                                    double timeout_s = 60,
                                    BareMetalVerifier bare_metal = BareMetalVerifier::kAuto);

// Runs a built artifact once (VerifyArtifact) and folds the verdict into it: a crash, a
// timeout or a wrong result makes it a failed artifact with that stage and reason; a
// verified one gets verified_checksums, also written to its cache entry. Does nothing to an
// artifact that failed already or that nothing can run (bare metal without Spike). Returns
// why an ok artifact stays unverified ("no runner: spike not found ..."), else "".
std::string VerifyArtifactInto(Artifact& artifact, const Target& target, double timeout_s = 60,
                               BareMetalVerifier bare_metal = BareMetalVerifier::kAuto);

// The verified checksums of an artifact: artifact.verified_checksums, else those recorded
// in its cache entry (artifacts read back from the store), else "".
std::string VerifiedChecksums(const Artifact& artifact);

// Records the checksum fields of a run that passed the harness's element-wise check
// ("C=0123456789abcdef ...", ChecksumLine) in the artifact's cache entry, where
// VerifiedChecksums finds them: a simulator's full run of an artifact that no verification
// run saw. Ill-formed fields and a read-only cache record nothing; returns whether recorded.
bool RecordVerifiedChecksums(const Artifact& artifact, const std::string& checksums);

// The output of the verification run of a bare-metal artifact under plain Spike up to where
// a simulation-mode run stops (the ROI line, the checksum line and the program line after
// it), recorded in its cache entry (verified-sim-output.json) with the command that ran it.
// Returns it when that command was `runner` (e.g. {spike, "--isa=rv64gc"}) and its checksums
// are the verified ones, else "". Spike is deterministic: the spike simulator takes it
// instead of repeating the same run.
std::string VerifiedSimOutput(const Artifact& artifact, const std::vector<std::string>& runner);

// Parses the harness's verify line out of program output; shared with simulators.
// Returns "" when "verify ok" is present, else a failure reason.
std::string CheckVerifyLine(const std::string& output);

// The fields of the harness's checksum line ("C=0123456789abcdef ..."), "" when absent.
std::string ChecksumLine(const std::string& output);

// "" when `got` (ChecksumLine of a simulated run) equals `verified`, else a one-line reason
// naming the buffers that differ and both values.
std::string CompareChecksums(const std::string& got, const std::string& verified);

// The harness's trap line ("trap illegal instruction mcause=2 ..."), "" when absent.
std::string TrapLine(const std::string& output);

// SHA-256 of `data`, lower-case hex.
std::string Sha256Hex(const std::string& data);

// --- The artifact cache's size and pruning (`simtune cache`) ---
// Items of a cache folder: entries (<xx>/<hash>/, built or failed), shared objects
// (obj/<hash>.o) and scratch folders (<xx>/.tmp-*: a build in progress, or one that was
// killed). Nothing else in the folder is counted or touched. An item's last use is its
// modification time: a build that reuses an entry or object touches it.
struct CacheUsage {
  int64_t entries = 0;        // of which failed (no artifact.elf): failed_entries
  int64_t failed_entries = 0;
  int64_t objects = 0;
  int64_t scratch = 0;
  int64_t bytes = 0;          // on disk (allocated blocks), all items together
};
Result<CacheUsage> MeasureCache(const std::filesystem::path& cache_dir);

struct PruneOptions {
  int64_t max_bytes = 0;      // prune until the cache holds at most this much
  // Items used more recently than this are kept whatever the size: a tune or simulation
  // running now may be about to read them. Scratch folders older than it are removed
  // first (leftovers of killed builds).
  double keep_recent_s = 3600;
};
struct PruneResult {
  CacheUsage before;
  CacheUsage removed;
  CacheUsage after;
};
// Removes the least recently used items until the cache is at most max_bytes (or only
// recent items are left). A removed entry is moved aside under a scratch name first, so
// a reader sees it whole or not at all; `simtune build` (and tune, for the candidates it
// verifies) rebuilds it when a store still refers to it. Errors when cache_dir is missing
// or unreadable; an item that cannot be removed is left and counted in `after`.
Result<PruneResult> PruneCache(const std::filesystem::path& cache_dir, const PruneOptions& options);

// "1.5 GiB", "320 MiB", "12 KiB", "512 B".
std::string FormatBytes(int64_t bytes);
// "4G", "500M", "1.5GiB", "2048" (bytes), "0": a size in bytes; K/M/G/T are powers of 1024,
// with or without "iB"/"B". Errors name `what` and the text.
Result<int64_t> ParseBytes(const std::string& text, const std::string& what);

}  // namespace simtune
