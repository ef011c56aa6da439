// Helpers for the qemu plugin/simulator tests: compile the hand-written ROI programs in
// tests/simulators/qemu_programs/ with the cross compilers, run qemu with the plugin, read
// its JSON record. Tools that are missing fail the test with the install hint.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/paths.h"
#include "simtune/process.h"
#include "simtune/strings.h"
#include "simtune/target.h"
#include "src/simulators/qemu_system.h"

namespace simtune::qemu_test {

inline std::filesystem::path ProgramsDir() {
  return std::filesystem::path(SIMTUNE_TEST_SOURCE_DIR) / "tests/simulators/qemu_programs";
}

inline std::filesystem::path PluginPath() { return PluginDir() / "libsimtune_qemu.so"; }

// One scratch folder per test process (ctest runs test cases in parallel processes).
// Never destroyed, so that the exit handler that removes it can still read it.
inline const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path* dir = [] {
    auto base = std::filesystem::path(SIMTUNE_TEST_BINARY_DIR) / "qemu_test_scratch";
    std::filesystem::create_directories(base);
    std::string tmpl = (base / "run-XXXXXX").string();
    SIMTUNE_CHECK(mkdtemp(tmpl.data()) != nullptr);
    return new std::filesystem::path(tmpl);
  }();
  static const bool cleanup_registered = [] {
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(*dir, ec);
    });
    return true;
  }();
  (void)cleanup_registered;
  return *dir;
}

struct Toolchain {
  std::string cc;
  std::string package;
  std::vector<std::string> static_flags;   // flags for a static (non-PIE) build
};

inline Toolchain ToolchainFor(const std::string& isa) {
  if (isa == "riscv64") return {"riscv64-linux-gnu-gcc", "gcc-riscv64-linux-gnu", {"-static"}};
  if (isa == "aarch64") return {"aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu", {"-static"}};
  return {"gcc", "build-essential", {"-static", "-no-pie"}};
}

// Compiles roi_main.c + kernels_<isa>.S. `link` is "static", "static-pie" or "pie"
// (dynamic PIE; RunWithPlugin points qemu at the cross libraries).
// Returns the ELF path, or "" after adding a test failure.
inline std::string BuildRoiProgram(const std::string& isa, const std::string& link,
                                   int setup_work = 0, bool strip = false) {
  Toolchain tc = ToolchainFor(isa);
  if (!ProgramExists(tc.cc)) {
    ADD_FAILURE() << tc.cc << " not found; install Debian package " << tc.package
                  << " (scripts/setup does)";
    return "";
  }
  std::string name = "roi_" + isa + "_" + link + "_" + std::to_string(setup_work) +
                     (strip ? "_stripped" : "");
  auto out = ScratchDir() / name;
  if (std::filesystem::exists(out)) return out.string();
  std::vector<std::string> argv = {tc.cc, "-O1", "-o", out.string(),
                                   "-DSETUP_WORK=" + std::to_string(setup_work),
                                   (ProgramsDir() / "roi_main.c").string(),
                                   (ProgramsDir() / ("kernels_" + isa + ".S")).string()};
  if (link == "static") {
    argv.insert(argv.end(), tc.static_flags.begin(), tc.static_flags.end());
  } else if (link == "static-pie") {
    argv.push_back("-static-pie");
    argv.push_back("-fPIE");
  } else {
    argv.push_back("-pie");
    argv.push_back("-fPIE");
  }
  if (strip) argv.push_back("-s");
  auto r = RunProcess(argv, {.timeout_s = 120});
  if (!r.ok() || !r->Success()) {
    ADD_FAILURE() << "compiling " << name << " failed: " << (r.ok() ? r->err : r.message());
    return "";
  }
  return out.string();
}

struct QemuRun {
  ProcessResult process;
  nlohmann::json stats;   // null when the plugin wrote nothing
};

// Runs `argv`, a qemu whose plugin writes to `json`, and reads what it wrote.
inline QemuRun RunAndReadStats(const std::vector<std::string>& argv,
                               const std::filesystem::path& json, double timeout_s) {
  QemuRun run;
  auto r = RunProcess(argv, {.timeout_s = timeout_s});
  if (!r.ok()) {
    ADD_FAILURE() << r.message();
    return run;
  }
  run.process = *r;
  std::ifstream in(json);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!ss.str().empty()) run.stats = nlohmann::json::parse(ss.str());
  return run;
}

// Runs qemu-<isa> with the plugin and `plugin_opts` ("k=v,k=v", may be empty).
inline QemuRun RunWithPlugin(const std::string& isa, const std::string& elf,
                             const std::string& plugin_opts,
                             const std::vector<std::string>& args = {}) {
  QemuRun run;
  std::string qemu = "qemu-" + isa;
  if (!ProgramExists(qemu)) {
    ADD_FAILURE() << qemu << " not found; install Debian package qemu-user (scripts/setup does)";
    return run;
  }
  if (!std::filesystem::exists(PluginPath())) {
    ADD_FAILURE() << "qemu plugin not built: " << PluginPath()
                  << " (cmake --build <build> --target simtune_qemu)";
    return run;
  }
  static int counter = 0;
  auto json = ScratchDir() / ("stats-" + std::to_string(counter++) + ".json");
  std::string plugin = PluginPath().string() + ",out=" + json.string();
  if (!plugin_opts.empty()) plugin += "," + plugin_opts;
  std::vector<std::string> argv = {qemu, "-plugin", plugin};
  if (isa != "x86_64") {
    // Dynamic cross binaries: the loader and libc from Debian's libc6-*-cross.
    argv.push_back("-L");
    argv.push_back(isa == "riscv64" ? "/usr/riscv64-linux-gnu" : "/usr/aarch64-linux-gnu");
  }
  argv.push_back(elf);
  argv.insert(argv.end(), args.begin(), args.end());
  return RunAndReadStats(argv, json, 120);
}

// A cache level's counters from a plugin record, keyed "read_hits" etc.
inline std::map<std::string, uint64_t> CacheCounts(const nlohmann::json& stats,
                                                   const std::string& level) {
  for (const auto& c : stats.at("caches"))
    if (c.at("level") == level)
      return {{"read_hits", c.at("read_hits")},
              {"read_misses", c.at("read_misses")},
              {"write_hits", c.at("write_hits")},
              {"write_misses", c.at("write_misses")}};
  ADD_FAILURE() << "no cache level " << level << " in " << stats.dump();
  return {};
}

// roi_bare.c + kernels_riscv64.S for riscv64-baremetal's memory map; `define` picks the
// kernel ("COUNT=1000", "MIX"). Returns the ELF path, or "" after a test failure.
inline std::string BuildBareProgram(const std::string& define) {
  if (!ProgramExists("riscv64-unknown-elf-gcc")) {
    ADD_FAILURE() << "riscv64-unknown-elf-gcc not found; install Debian packages "
                     "gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf (scripts/setup does)";
    return "";
  }
  std::string name = "bare_" + define;
  for (char& c : name)
    if (c == '=') c = '_';
  auto out = ScratchDir() / (name + ".elf");
  if (std::filesystem::exists(out)) return out.string();
  auto loaded = LoadTarget("riscv64-baremetal");
  if (!loaded.ok()) {
    ADD_FAILURE() << loaded.message();
    return "";
  }
  const Target& bare = *loaded;
  std::vector<std::string> argv = {bare.cc, "-O1", "-o", out.string(), "-D" + define};
  for (const auto& f : bare.cflags)
    if (f != "-O3" && f != "-std=c99") argv.push_back(f);
  argv.push_back((ProgramsDir() / "roi_bare.c").string());
  argv.push_back((ProgramsDir() / "kernels_riscv64.S").string());
  argv.insert(argv.end(), bare.ldflags.begin(), bare.ldflags.end());
  auto r = RunProcess(argv, {.timeout_s = 120});
  if (!r.ok() || !r->Success()) {
    ADD_FAILURE() << "compiling " << name << " failed: " << (r.ok() ? r->err : r.message());
    return "";
  }
  return out.string();
}

// qemu-system-riscv64 -M virt with the plugin (`plugin_opts` after out=; "elf=SELF" there
// names the patched copy that QEMU runs).
inline QemuRun RunSystem(const std::string& elf, const std::string& plugin_opts) {
  QemuRun run;
  if (!ProgramExists("qemu-system-riscv64")) {
    ADD_FAILURE() << "qemu-system-riscv64 not found; install Debian package qemu-system-misc "
                     "(scripts/setup does)";
    return run;
  }
  static int counter = 0;
  auto json = ScratchDir() / ("system-stats-" + std::to_string(counter++) + ".json");
  std::string plugin = PluginPath().string() + ",out=" + json.string();
  if (!plugin_opts.empty()) plugin += "," + plugin_opts;
  // The ELF as the qemu simulator runs it: _exit sent to virt's test finisher.
  std::ifstream file(elf, std::ios::binary);
  std::stringstream bytes;
  bytes << file.rdbuf();
  auto image = PatchElfForQemuVirt(bytes.str(), false);
  if (!image.ok()) {
    ADD_FAILURE() << elf << ": " << image.message();
    return run;
  }
  auto copy = ScratchDir() / ("virt-" + std::to_string(counter) + ".elf");
  std::ofstream(copy, std::ios::binary) << image->elf;
  if (auto at = plugin.find("elf=SELF"); at != std::string::npos)
    plugin.replace(at, 8, "elf=" + copy.string());
  return RunAndReadStats(QemuVirtArgs(copy, image->ram_bytes, plugin), json, 60);
}

}  // namespace simtune::qemu_test
