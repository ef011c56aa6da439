// Shared by the reference tests (native, ssh): a stand-in artifact, a shell script that speaks
// the harness's timing protocol, so that a reference's protocol can be tested without a compiler.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "simtune/build.h"

namespace simtune::testing_support {

// Writes dir/name as an executable "#!/bin/sh" script with `body`; an ok x86_64-host artifact
// whose hash is its name.
inline Artifact ScriptArtifact(const std::filesystem::path& dir, const std::string& name,
                               const std::string& body) {
  std::filesystem::path p = dir / name;
  std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
  std::filesystem::permissions(p, std::filesystem::perms::owner_all);
  Artifact a;
  a.status = "ok";
  a.target = "x86_64-host";
  a.hash = name;
  a.elf = p;
  return a;
}

}  // namespace simtune::testing_support
