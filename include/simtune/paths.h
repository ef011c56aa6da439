// Where simtune finds its data files (targets, shape catalog, harness sources).
#pragma once

#include <filesystem>
#include <string>

#include "simtune/result.h"
#include "simtune/target.h"

namespace simtune {

// $SIMTUNE_DATA_DIR if set, else the source tree's data/ folder (compiled in).
std::filesystem::path DataDir();
// The plugin/helper build folder ($SIMTUNE_PLUGIN_DIR or the compiled-in build dir).
std::filesystem::path PluginDir();

// The Spike executable: `explicit_path` when not empty (`what` names where it came from,
// e.g. "option spike"), else $SIMTUNE_SPIKE, else <repo>/.venv/bin/spike, else spike on
// PATH. The venv's `spike` is a Python launcher that execs the binary shipped in its
// package (site-packages/riscv/data/bin/spike); that binary is returned instead when
// present, which saves a Python start per run. Errors say how to install Spike.
Result<std::string> FindSpike(const std::string& explicit_path = "",
                              const std::string& what = "");

// Spike's --isa for `target`: its -march=rv... flag's value, else "rv64gc".
std::string SpikeIsa(const Target& target);

}  // namespace simtune
