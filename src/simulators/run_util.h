// Helpers shared by the simulator backends: scratch folders, file reading, failure results.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "simtune/scratch.h"
#include "simtune/simulator.h"
#include "simtune/strings.h"

namespace simtune {
namespace sim_util {

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
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

inline SimResult Failed(std::string stage, std::string message, double wall_s = 0) {
  SimResult r;
  r.status = "failed";
  r.stage = std::move(stage);
  r.message = std::move(message);
  r.wall_s = wall_s;
  return r;
}

}  // namespace sim_util
}  // namespace simtune
