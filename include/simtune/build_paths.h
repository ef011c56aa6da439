// The source and build folders this binary was configured with (generated at configure time
// from cmake/build_paths.cc.in). Only DataDir()/PluginDir() and the tests should need them.
#pragma once

namespace simtune {

const char* BuildSourceDir();  // the checkout's root
const char* BuildBinaryDir();  // the CMake build folder
const char* BuildDataDir();    // <source>/data
const char* BuildPluginDir();  // <build>/plugins

}  // namespace simtune
