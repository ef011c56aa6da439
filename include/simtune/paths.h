// Where simtune finds its data files (targets, shape catalog, harness sources).
#pragma once

#include <filesystem>

namespace simtune {

// $SIMTUNE_DATA_DIR if set, else the source tree's data/ folder (compiled in).
std::filesystem::path DataDir();
// The plugin/helper build folder ($SIMTUNE_PLUGIN_DIR or the compiled-in build dir).
std::filesystem::path PluginDir();

}  // namespace simtune
