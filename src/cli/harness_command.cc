// `simtune harness-runtime`: the bare-metal runtime of simtune's harness (console, exit, ROI
// markers, traps, start-up) and the toolchain of a target, as JSON, for executables whose
// kernel and main come from elsewhere (python/simtune_tvm links TVM's code with it).
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "simtune/target.h"
#include "src/build/harness.h"
#include "src/cli/subcommands.h"

namespace simtune::cli {
namespace {

int RunHarnessRuntime(const std::string& target_name) {
  auto target = LoadTarget(target_name);
  if (!target.ok()) return Fail(target.message());
  auto runtime = GenerateBareMetalRuntime(*target);
  if (!runtime.ok()) return Fail("harness-runtime: " + runtime.message());
  std::vector<std::string> ldflags = target->ldflags;
  ldflags.insert(ldflags.end(), runtime->ldflags.begin(), runtime->ldflags.end());
  nlohmann::json j = {{"target", target->name},
                      {"build_target", target->BuildName()},
                      {"isa", target->isa},
                      {"os", target->os},
                      {"cc", target->cc},
                      {"cflags", target->cflags},
                      {"ldflags", ldflags},
                      {"c", runtime->c}};
  std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

}  // namespace

Subcommand AddHarnessRuntimeCommand(CLI::App& app) {
  auto target = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "harness-runtime",
      "print, as JSON, the bare-metal runtime of simtune's harness (C source: console, exit, ROI "
      "markers, traps, start-up) and the target's compiler and flags, for linking kernels "
      "simtune did not generate (the TVM runner's)");
  cmd->add_option("--target,-t", *target, "target name or .json file (riscv64 bare metal)")->required();
  return {cmd, [target] { return RunHarnessRuntime(*target); }};
}

}  // namespace simtune::cli
