#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "simtune/build.h"
#include "simtune/files.h"
#include "simtune/paths.h"
#include "simtune/process.h"
#include "simtune/strings.h"
#include "simtune/scratch.h"
#include "src/simulators/qemu_system.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

constexpr size_t kKeepOutputBytes = 8192;
constexpr const char* kChecksumsFile = "verified-checksums.txt";
constexpr const char* kSimOutputFile = "verified-sim-output.json";

// Checksum fields as the harness prints them: "<C identifier>=<16 hex digits>", at least one.
bool WellFormedChecksums(const std::string& fields) {
  auto parts = Split(fields, ' ');
  if (fields.empty()) return false;
  for (const auto& p : parts) {
    size_t eq = p.find('=');
    if (eq == 0 || eq == std::string::npos || p.size() - eq - 1 != 16) return false;
    for (size_t i = eq + 1; i < p.size(); ++i)
      if (!std::isxdigit(static_cast<unsigned char>(p[i]))) return false;
  }
  return true;
}

// `text` as the file `name` next to artifact.elf in its cache entry; written to a temporary
// file and renamed, so that readers see all of it or nothing. A read-only cache keeps nothing
// (simulators then fall back to verifying runs). Returns whether the file is in place.
bool RecordNextToElf(const Artifact& a, const char* name, const std::string& text) {
  if (a.elf.empty()) return false;
  fs::path path = a.elf.parent_path() / name;
  static std::atomic<uint64_t> counter{0};
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    out.close();
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (!ec) return true;
  fs::remove(tmp, ec);
  return false;
}

// The output of a whole single run up to where a simulation-mode run stops: through the
// first "simtune: program minstret=" line after the checksum line; "" without one.
std::string SimModePrefix(const std::string& output) {
  size_t checksum = output.find("simtune: checksum ");
  if (checksum == std::string::npos) return "";
  size_t program = output.find("simtune: program minstret=", checksum);
  if (program == std::string::npos) return "";
  size_t end = output.find('\n', program);
  return output.substr(0, end == std::string::npos ? output.size() : end + 1);
}

// Keeps the head (program output) and the tail (crash or exit messages) of long output.
std::string Truncate(const std::string& text) {
  if (text.size() <= kKeepOutputBytes) return text;
  size_t half = kKeepOutputBytes / 2;
  return ElideMiddle(std::string_view(text).substr(0, half), text.size() - 2 * half,
                     std::string_view(text).substr(text.size() - half));
}

}  // namespace

std::string ChecksumLine(const std::string& output) {
  const std::string prefix = "simtune: checksum ";
  for (const auto& raw : Split(output, '\n')) {
    std::string line = Trim(raw);
    if (StartsWith(line, prefix)) return Trim(line.substr(prefix.size()));
  }
  return "";
}

std::string TrapLine(const std::string& output) {
  for (const auto& raw : Split(output, '\n')) {
    std::string line = Trim(raw);
    if (StartsWith(line, "simtune: trap ")) return line.substr(9);
  }
  return "";
}

std::string CompareChecksums(const std::string& got, const std::string& verified) {
  if (got == verified) return "";
  if (got.empty()) return "no 'simtune: checksum' line in the output";
  auto fields = [](const std::string& text) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& p : Split(text, ' ')) {
      size_t eq = p.find('=');
      out.push_back({p.substr(0, eq), eq == std::string::npos ? "" : p.substr(eq + 1)});
    }
    return out;
  };
  auto g = fields(got), v = fields(verified);
  std::vector<std::string> diffs;
  for (size_t i = 0; i < std::max(g.size(), v.size()); ++i) {
    std::string name = i < v.size() ? v[i].first : g[i].first;
    std::string here = i < g.size() && g[i].first == name ? g[i].second : "(none)";
    std::string want = i < v.size() ? v[i].second : "(none)";
    if (here != want) diffs.push_back(name + " " + here + " (verified " + want + ")");
  }
  return "output checksum differs from the verified run's: " + Join(diffs, ", ");
}

std::string VerifiedChecksums(const Artifact& artifact) {
  if (!artifact.verified_checksums.empty()) return artifact.verified_checksums;
  if (artifact.elf.empty()) return "";
  std::string fields =
      Trim(ReadWholeFile(artifact.elf.parent_path() / kChecksumsFile).value_or(""));
  return WellFormedChecksums(fields) ? fields : "";
}

bool RecordVerifiedChecksums(const Artifact& artifact, const std::string& checksums) {
  if (!WellFormedChecksums(checksums) || artifact.elf.empty()) return false;
  return RecordNextToElf(artifact, kChecksumsFile, checksums + "\n");
}

std::string VerifiedSimOutput(const Artifact& artifact,
                              const std::vector<std::string>& runner) {
  if (artifact.elf.empty()) return "";
  std::optional<std::string> text = ReadWholeFile(artifact.elf.parent_path() / kSimOutputFile);
  if (!text) return "";
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("runner") || !j.contains("output") ||
      !j["runner"].is_array() || !j["output"].is_string())
    return "";
  std::vector<std::string> recorded;
  for (const auto& arg : j["runner"]) {
    if (!arg.is_string()) return "";
    recorded.push_back(arg.get<std::string>());
  }
  if (recorded != runner) return "";
  std::string output = j["output"].get<std::string>();
  // Only a prefix that ends where a simulation-mode run would stop, with the checksums that
  // verified the artifact.
  if (SimModePrefix(output) != output ||
      ChecksumLine(output) != VerifiedChecksums(artifact))
    return "";
  return output;
}

namespace {

// rv64 with only extensions the virt machine's default CPU has (g = imafd, c).
bool QemuVirtRunsIsa(const std::string& isa) {
  if (!StartsWith(isa, "rv64") || isa.size() == 4) return false;
  return isa.find_first_not_of("imafdcg", 4) == std::string::npos;
}

// qemu-system-riscv64's command for a single run of a bare-metal artifact on the virt
// machine (the qemu simulator's copy, src/simulators/qemu_system.h, without plugin), the copy
// written to `dir`; nullopt when QEMU cannot run it (not installed, other ISA, an ELF the
// copy cannot be made of), and Spike verifies instead.
std::optional<std::vector<std::string>> QemuVirtCommand(const Artifact& artifact,
                                                        const Target& target, const fs::path& dir) {
  if (dir.empty() || target.isa != "riscv64" || !QemuVirtRunsIsa(SpikeIsa(target)) ||
      !ProgramExists("qemu-system-riscv64"))
    return std::nullopt;
  std::optional<std::string> bytes = ReadWholeFile(artifact.elf);
  if (!bytes) return std::nullopt;
  auto image = PatchElfForQemuVirt(*bytes, /*stop_at_sim_done=*/false);
  if (!image.ok()) return std::nullopt;
  fs::path copy = dir / "virt.elf";
  std::ofstream out(copy, std::ios::binary);
  out << image->elf;
  out.close();
  if (!out) return std::nullopt;
  return QemuVirtArgs(copy, image->ram_bytes, "");
}

}  // namespace

std::string CheckVerifyLine(const std::string& output) {
  for (const auto& raw : Split(output, '\n')) {
    std::string line = Trim(raw);
    if (StartsWith(line, "simtune: verify ok")) return "";
    if (StartsWith(line, "simtune: verify failed")) return line.substr(9);
  }
  return "no 'simtune: verify' line in the output";
}

Result<VerifyResult> VerifyArtifact(const Artifact& artifact, const Target& target,
                                    double timeout_s, BareMetalVerifier bare_metal) {
  if (!artifact.ok())
    return Error{"artifact for target " + target.name + " was not built (" + artifact.stage +
                 ": " + artifact.message + ")"};
  std::vector<std::string> argv = target.runner;
  std::vector<std::string> runner;   // what ran it, without the ELF
  std::optional<ScratchDir> scratch;   // the qemu virt copy, when QEMU runs it
  if (argv.empty() && target.baremetal() && bare_metal == BareMetalVerifier::kAuto) {
    scratch.emplace("verify");
    if (auto virt = QemuVirtCommand(artifact, target, scratch->path())) {
      argv = *virt;
      runner = {argv[0], "-M", "virt"};
    }
  }
  const bool spike = argv.empty() && target.baremetal();
  if (spike) {
    // Plain Spike (no cache models).
    auto exe = FindSpike();
    if (!exe.ok() || target.isa != "riscv64" || !ProgramExists("dtc"))
      return Error{"target " + target.name +
                   " has no runner and neither qemu-system-riscv64 nor spike is installed: "
                   "bare-metal artifacts run only on a simulator (e.g. spike)"};
    argv = {*exe, "--isa=" + SpikeIsa(target)};
  }
  if (runner.empty()) {
    runner = argv;
    argv.push_back(artifact.elf.string());
  }
  ProcessOptions opts;
  opts.timeout_s = timeout_s;
  opts.max_output_bytes = 1 << 16;
  auto run = RunProcess(argv, opts);
  if (!run.ok()) return Wrap(run.error(), "target " + target.name);

  VerifyResult v;
  v.output = Truncate(run->out + run->err);
  std::string reason = CheckVerifyLine(run->out);
  auto fail = [&](const std::string& stage, const std::string& message) {
    v.status = "failed";
    v.stage = stage;
    v.message = message;
    return v;
  };
  if (run->timed_out) return fail("timeout", run->Describe(timeout_s));
  if (run->signal != 0) return fail("run", run->Describe(timeout_s));
  if (std::string trap = TrapLine(run->out); !trap.empty()) return fail("run", trap);
  // Exit code 3 is the harness's verdict on a wrong result; other codes are crashes or
  // harness misuse.
  if (StartsWith(reason, "verify failed")) return fail("verify", reason);
  if (run->exit_code != 0) return fail("run", run->Describe(timeout_s));
  if (!reason.empty()) return fail("verify", reason);
  v.checksums = ChecksumLine(run->out);
  if (!WellFormedChecksums(v.checksums))
    return fail("verify", "no well-formed 'simtune: checksum' line in the output");
  v.status = "ok";
  v.runner = std::move(runner);
  if (spike) v.sim_output = SimModePrefix(run->out);
  return v;
}

std::string VerifyArtifactInto(Artifact& a, const Target& target, double timeout_s,
                               BareMetalVerifier bare_metal) {
  if (!a.ok()) return "";
  auto v = VerifyArtifact(a, target, timeout_s, bare_metal);
  if (!v.ok()) {
    if (target.baremetal() && target.runner.empty()) return "no runner: " + v.message();   // simulators verify
    a.status = "failed";
    a.stage = "run";
    a.message = v.message();
  } else if (v->ok()) {
    a.verified_checksums = v->checksums;
    RecordNextToElf(a, kChecksumsFile, a.verified_checksums + "\n");
    // Bare metal under plain Spike: the spike simulator's first run would repeat this one.
    if (target.baremetal() && target.runner.empty() && !v->sim_output.empty())
      RecordNextToElf(a, kSimOutputFile,
                      nlohmann::json{{"runner", v->runner}, {"output", v->sim_output}}.dump(
                          -1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    a.status = "failed";
    a.stage = v->stage;
    a.message = v->message;
  }
  return "";
}

}  // namespace simtune
