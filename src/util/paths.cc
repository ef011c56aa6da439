#include "simtune/paths.h"

#include <cstdlib>

namespace simtune {

std::filesystem::path DataDir() {
  if (const char* env = std::getenv("SIMTUNE_DATA_DIR"); env && *env) return env;
  return SIMTUNE_SOURCE_DATA_DIR;
}

std::filesystem::path PluginDir() {
  if (const char* env = std::getenv("SIMTUNE_PLUGIN_DIR"); env && *env) return env;
  return SIMTUNE_BUILD_PLUGIN_DIR;
}

}  // namespace simtune
