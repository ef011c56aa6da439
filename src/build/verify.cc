#include "simtune/build.h"
#include "simtune/process.h"
#include "simtune/strings.h"

namespace simtune {
namespace {

constexpr size_t kKeepOutputBytes = 8192;

// Keeps the head (program output) and the tail (crash or exit messages) of long output.
std::string Truncate(const std::string& text) {
  if (text.size() <= kKeepOutputBytes) return text;
  size_t half = kKeepOutputBytes / 2;
  return ElideMiddle(std::string_view(text).substr(0, half), text.size() - 2 * half,
                     std::string_view(text).substr(text.size() - half));
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
                                    double timeout_s) {
  if (!artifact.ok())
    return Error{"artifact for target " + target.name + " was not built (" + artifact.stage +
                 ": " + artifact.message + ")"};
  if (target.runner.empty() && target.baremetal())
    return Error{"target " + target.name +
                 " has no runner: bare-metal artifacts run only on a simulator (e.g. spike)"};
  std::vector<std::string> argv = target.runner;
  argv.push_back(artifact.elf.string());
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
  // Exit code 3 is the harness's verdict on a wrong result; other codes are crashes or
  // harness misuse.
  if (StartsWith(reason, "verify failed")) return fail("verify", reason);
  if (run->exit_code != 0) return fail("run", run->Describe(timeout_s));
  if (!reason.empty()) return fail("verify", reason);
  v.status = "ok";
  return v;
}

void VerifyArtifactInto(Artifact& a, const Target& target, double timeout_s) {
  if (!a.ok() || (target.baremetal() && target.runner.empty())) return;
  auto v = VerifyArtifact(a, target, timeout_s);
  if (!v.ok()) {
    a.status = "failed";
    a.stage = "run";
    a.message = v.message();
  } else if (!v->ok()) {
    a.status = "failed";
    a.stage = v->stage;
    a.message = v->message;
  }
}

}  // namespace simtune
