// The "qemu" simulator: qemu-<isa> user mode with simtune's statistics plugin
// (plugins/qemu/simtune_plugin.c), which writes one SimStats JSON record for the ROI.
// riscv64 bare-metal artifacts (the ones Spike and rvsim run) run in system mode instead,
// on qemu-system-riscv64's virt machine, with the same plugin and the same statistics;
// see qemu_system.h for how the artifact's console and exit meet that machine.
//
// Options ("key=value,..."): timeout=SECONDS (default 600), mode=auto|full (default auto:
// stop after the ROI and compare output checksums with the verified run's; full: run the
// reference and element-wise check under qemu too) and the plugin's statistic groups
// classes|mem|cache|bpred|reuse=on|off (default on), which exist to measure their cost, and
// tbs=on|off (default off): the ROI's translation-block profile in extra.tbs (the plugin's
// header describes it; the "mca" simulator reads it), and raw=on|off (default off): loads of
// bytes a recent store wrote, extra.store_load (the plugin's StoreLoad; slower runs), and
// dep=on|off (default: on for riscv64 and x86_64 targets, the ISAs whose operands the plugin
// decodes; on aarch64 is an error): the plugin's dependency timing models, an in-order
// scoreboard and a width x window out-of-order core with the target's "core" (target.h:
// CoreConfig), in extra.dep (cycles) and extra.dep_config (the parameters). A riscv64 or
// x86_64 record without them (simulated before they existed) is stale: MatchesTarget says so.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "simtune/paths.h"
#include "simtune/process.h"
#include "simtune/strings.h"
#include "src/simulators/builtin.h"
#include "src/simulators/qemu_system.h"
#include "src/simulators/run_util.h"
#include "src/simulators/spike_support.h"

extern char** environ;

namespace simtune {
namespace {

using sim_util::Failed;
using sim_util::ReadFile;
using sim_util::Tail;
using sim_util::TempDir;

constexpr const char* kPluginFile = "libsimtune_qemu.so";
const std::vector<std::string> kGroups = {"classes", "mem", "cache", "bpred", "reuse"};
const std::vector<std::string> kIsas = {"riscv64", "aarch64", "x86_64"};

// Whether the plugin decodes this ISA's register operands (its dependency timing models).
bool DepDecodes(const std::string& isa) { return isa == "riscv64" || isa == "x86_64"; }

struct QemuOptions {
  double timeout_s = 600;
  bool full = false;                    // mode=full
  std::map<std::string, bool> groups;   // only the groups switched off or on explicitly
  bool tbs = false;                     // tbs=on: record the ROI's translation blocks
  bool raw = false;                     // raw=on: count loads of recently stored bytes
  std::optional<bool> dep;              // dep=on|off; unset: on for riscv64
};

Result<QemuOptions> ParseOptions(const std::string& text) {
  QemuOptions opts;
  std::vector<std::string> valid = kGroups;
  valid.push_back("timeout");
  valid.push_back("mode");
  valid.push_back("tbs");
  valid.push_back("raw");
  valid.push_back("dep");
  std::sort(valid.begin(), valid.end());
  if (Trim(text).empty()) return opts;
  std::set<std::string> seen;
  for (const auto& item : Split(text, ',')) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error{"qemu simulator option '" + item + "': expected key=value"};
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (!seen.insert(key).second)
      return Error{"qemu simulator option '" + key + "' given twice"};
    if (key == "timeout") {
      auto t = ParseDouble(value, "qemu simulator option timeout");
      if (!t.ok()) return t.error();
      if (*t <= 0)
        return Error{"qemu simulator option timeout: must be positive; got '" + value + "'"};
      opts.timeout_s = *t;
    } else if (key == "mode") {
      if (auto why = sim_util::ParseModeOption("qemu simulator", value, opts.full); !why.empty())
        return Error{why};
    } else if (key == "tbs" || key == "raw" || key == "dep" ||
               std::find(kGroups.begin(), kGroups.end(), key) != kGroups.end()) {
      if (value != "on" && value != "off")
        return Error{"qemu simulator option " + key + ": expected on or off; got '" + value + "'"};
      bool on = value == "on";
      if (key == "tbs") {
        opts.tbs = on;
      } else if (key == "raw") {
        opts.raw = on;
      } else if (key == "dep") {
        opts.dep = on;
      } else {
        opts.groups[key] = on;
      }
    } else {
      return UnknownName("qemu simulator option", key, valid);
    }
  }
  return opts;
}





// The kernel's source file in every artifact (the builder compiles it under this name): a
// target with warm_statics starts its local objects, the kernel's static buffers, warm.
constexpr const char* kWarmFile = "kernel.c";

class QemuSimulator : public Simulator {
 public:
  explicit QemuSimulator(QemuOptions options) : options_(std::move(options)) {}

  std::string name() const override { return "qemu"; }

  // Only options that change the statistics; the timeout and the mode do not.
  std::string options_key() const override {
    std::vector<std::string> parts;
    for (const auto& [group, on] : options_.groups)
      if (!on) parts.push_back(group + "=off");
    if (options_.raw) parts.push_back("raw=on");
    // On is the default wherever it is allowed: only off changes the key.
    if (options_.dep == false) parts.push_back("dep=off");
    if (options_.tbs) parts.push_back("tbs=on");
    return Join(parts, ",");
  }

  bool Supports(const Target& target) const override {
    return SystemMode(target) ||
           (target.os == "linux" &&
            std::find(kIsas.begin(), kIsas.end(), target.isa) != kIsas.end());
  }

  Status Available(const Target& target) const override {
    if (!Supports(target))
      return Error{"qemu simulator does not support target " + target.name + " (isa " +
                   target.isa + ", os " + target.os + "; supported: linux on " +
                   Join(kIsas, ", ") + ", riscv64 baremetal)"};
    if (options_.dep == true && !DepDecodes(target.isa))
      return Error{"qemu simulator option dep=on: the dependency timing models decode riscv64 "
                   "and x86_64 only; target " + target.name + " is " + target.isa};
    std::string qemu = SystemMode(target) ? "qemu-system-riscv64" : "qemu-" + target.isa;
    if (!ProgramExists(qemu))
      return Error{qemu + " not found; install Debian package " +
                   (SystemMode(target) ? "qemu-system-misc" : "qemu-user") +
                   " (scripts/setup does)"};
    auto plugin = PluginDir() / kPluginFile;
    if (!std::filesystem::exists(plugin))
      return Error{"qemu plugin not found at " + plugin.string() +
                   "; build it with 'cmake --build <build dir> --target simtune_qemu' "
                   "(its header comes from scripts/fetch-qemu-plugin-header)"};
    return Status::Ok();
  }

  SimResult Simulate(const Artifact& artifact, const Target& target) const override {
    if (!artifact.ok())
      return Failed("build", "artifact did not build (" + artifact.stage + ": " +
                                 artifact.message + ")");
    if (auto st = Available(target); !st.ok()) return Failed("missing-tool", st.message());

    return sim_util::RunWithOutputCheck(
        artifact, options_.full, "qemu", [&](bool sim, std::string& output) {
          if (SystemMode(target)) return RunSystem(artifact, target, sim, output);
          return RunOnce(artifact, target, sim_util::HostedArg(artifact, sim), !sim, output);
        });
  }

 private:
  // Bare-metal RISC-V: qemu-system-riscv64 (qemu_system.h).
  static bool SystemMode(const Target& target) {
    return target.isa == "riscv64" && target.os == "baremetal";
  }
  // One run of qemu with the plugin; `arg` is the harness's argument (may be empty).
  // `verify`: the run must print the harness's verify ok line.
  SimResult RunOnce(const Artifact& artifact, const Target& target, const std::string& arg,
                    bool verify, std::string& output) const {
    TempDir tmp("qemu");
    if (tmp.path().empty()) return Failed("run", "cannot create a temporary folder");
    auto json_path = tmp.path() / "stats.json";
    // No environment (-U for each variable qemu inherits) and a fixed program name: see
    // PlaceProgram.
    if (std::string why = sim_util::PlaceProgram(artifact.elf, tmp.path()); !why.empty())
      return Failed("run", why);
    std::vector<std::string> argv = {"qemu-" + target.isa};
    for (char** e = environ; *e; ++e) {
      const char* eq = std::strchr(*e, '=');
      if (eq && eq != *e) {
        argv.push_back("-U");
        argv.push_back(std::string(*e, static_cast<size_t>(eq - *e)));
      }
    }
    for (std::string a : {std::string("-plugin"), PluginArgs(target, json_path), std::string(sim_util::kGuestProgram)})
      argv.push_back(std::move(a));
    if (!arg.empty()) argv.push_back(arg);
    return Run(argv, "qemu-" + target.isa, tmp.path(), 0, verify, output);
  }

  // One run of qemu-system-riscv64 on a copy of the artifact for the virt machine;
  // `sim`: stop at simtune_sim_done (simulation mode), else run the whole harness.
  SimResult RunSystem(const Artifact& artifact, const Target& target, bool sim,
                      std::string& output) const {
    TempDir tmp("qemu");
    if (tmp.path().empty()) return Failed("run", "cannot create a temporary folder");
    std::string elf = ReadFile(artifact.elf);
    if (elf.empty()) return Failed("run", "cannot read artifact " + artifact.elf.string());
    auto image = PatchElfForQemuVirt(elf, sim);
    if (!image.ok()) return Failed("run", artifact.elf.string() + ": " + image.message());
    auto copy = tmp.path() / "virt.elf";
    {
      std::ofstream out(copy, std::ios::binary);
      out << image->elf;
      if (!out) return Failed("run", "cannot write " + copy.string());
    }
    std::string plugin = PluginArgs(target, tmp.path() / "stats.json") + ",elf=" + copy.string();
    return Run(QemuVirtArgs(copy, image->ram_bytes, plugin), "qemu-system-riscv64", tmp.path(),
               sim ? kRoiStopExitCode : 0, !sim, output);
  }

  // Runs `argv` (a qemu with the plugin writing to <dir>/stats.json) with QEMU's log in
  // <dir>/qemu.log; `exit_code` is the status of a run that reached its end.
  SimResult Run(std::vector<std::string> argv, const std::string& qemu,
                const std::filesystem::path& dir, int exit_code, bool verify,
                std::string& output) const {
    auto json_path = dir / "stats.json";
    auto log_path = dir / "qemu.log";
    argv.insert(argv.begin() + 1, {"-d", "plugin", "-D", log_path.string()});
    ProcessOptions popts;
    popts.cwd = dir;
    popts.timeout_s = options_.timeout_s;
    popts.max_output_bytes = 1 << 16;
    auto run = RunProcess(argv, popts);
    if (!run.ok()) return Failed("missing-tool", run.message());
    const ProcessResult& p = *run;
    output = p.out + p.err;
    if (p.timed_out) return Failed("timeout", p.Describe(options_.timeout_s), p.wall_s);
    std::string verdict = CheckVerifyLine(p.out);
    if (p.signal != 0 || p.exit_code != exit_code) {
      if (verdict.rfind("verify failed", 0) == 0)
        return Failed("verify", verdict, p.wall_s);
      if (std::string trap = TrapLine(p.out); !trap.empty())
        return Failed("run", qemu + ": harness " + trap, p.wall_s);
      return Failed("run", qemu + " " + p.Describe(options_.timeout_s) + ": " + Tail(output),
                    p.wall_s);
    }
    if (verify && !verdict.empty()) return Failed("verify", verdict, p.wall_s);

    std::string text = ReadFile(json_path);
    if (text.empty())
      return Failed("parse", "the qemu plugin wrote no statistics to " + json_path.string() +
                                 ": " + Tail(output + ReadFile(log_path)),
                    p.wall_s);
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded())
      return Failed("parse", "qemu plugin statistics are not valid JSON: " + Tail(text),
                    p.wall_s);
    auto stats = SimStats::FromJson(j, "qemu plugin statistics");
    if (!stats.ok()) return Failed("parse", stats.message(), p.wall_s);

    // The harness calls each ROI function exactly once; anything else means the counts
    // do not cover the kernel.
    const auto& extra = stats->extra;
    uint64_t begins = extra.value("roi_begins", uint64_t{0});
    uint64_t ends = extra.value("roi_ends", uint64_t{0});
    if (begins != 1 || ends != 1)
      return Failed("run",
                    "harness called simtune_roi_begin " + std::to_string(begins) +
                        " times and simtune_roi_end " + std::to_string(ends) +
                        " times; expected once each",
                    p.wall_s);

    SimResult r;
    r.status = "ok";
    r.stats = std::move(stats).value();
    r.wall_s = p.wall_s;
    return r;
  }

  // The record names the caches and the branch predictor it modelled (extra.cache_config,
  // extra.bpred); a group left out of the record is not compared, nor a predictor's fields
  // its kind does not use.
  bool MatchesTarget(const SimStats& stats, const Target& target) const override {
    const nlohmann::json& extra = stats.extra;
    if (!extra.is_object()) return true;
    const nlohmann::json want = ConfigurationFor(target);
    if (extra.contains("cache_config") && extra["cache_config"] != want["cache_config"]) return false;
    // A target whose kernel buffers start warm wants records that warmed them, and none else.
    if (WarmFile(extra) != want.value("warm_file", nlohmann::json())) return false;
    // want holds dep_config exactly when the models run: a record must hold the same, or none.
    if (extra.value("dep_config", nlohmann::json()) != want.value("dep_config", nlohmann::json()))
      return false;
    if (extra.contains("bpred")) {
      const nlohmann::json& got = extra["bpred"];
      if (!got.is_object()) return false;
      for (const auto& [key, value] : want["bpred"].items())
        if (!got.contains(key) || got[key] != value) return false;
    }
    return true;
  }

  nlohmann::json Configuration(const SimStats& stats) const override {
    if (!stats.extra.is_object()) return nullptr;
    nlohmann::json out = nlohmann::json::object();
    for (const char* key : {"cache_config", "bpred", "dep_config"})
      if (stats.extra.contains(key)) out[key] = stats.extra[key];
    if (nlohmann::json warm = WarmFile(stats.extra); !warm.is_null()) out["warm_file"] = warm;
    return out.empty() ? nlohmann::json() : out;
  }

  // The source file whose objects the record started warm, or null: extra.warm_objects.file
  // as the plugin writes it, or warm_file in a configuration (Configuration, ConfigurationFor:
  // what a trained model keeps).
  static nlohmann::json WarmFile(const nlohmann::json& extra) {
    if (extra.contains("warm_file")) return extra["warm_file"];
    if (!extra.contains("warm_objects") || !extra["warm_objects"].is_object()) return nullptr;
    return extra["warm_objects"].value("file", nlohmann::json());
  }

  nlohmann::json ConfigurationFor(const Target& target) const override {
    nlohmann::json caches = nlohmann::json::object();
    for (const auto& c : target.caches)
      caches[c.level] = {{"size", c.size_bytes}, {"ways", c.ways}, {"line", c.line_bytes},
                         {"policy", c.policy}};
    const auto& bp = target.branch_predictor;
    nlohmann::json bpred = {{"kind", bp.kind}, {"entries", bp.entries}};
    if (bp.kind == "gshare") bpred["history_bits"] = bp.history_bits;
    if (bp.kind == "tournament") {
      bpred["local_entries"] = bp.local_entries;
      bpred["local_counters"] = bp.local_counters;
    }
    if (bp.kind == "tage") {
      bpred["tagged_entries"] = bp.tagged_entries;
      bpred["tables"] = bp.tables;
      bpred["max_history"] = bp.max_history;
    }
    nlohmann::json out = {{"cache_config", std::move(caches)}, {"bpred", std::move(bpred)}};
    if (DepOn(target)) out["dep_config"] = DepConfig(target);
    if (target.warm_statics) out["warm_file"] = kWarmFile;
    return out;
  }

  // Whether the dependency timing models run for this target.
  bool DepOn(const Target& target) const {
    return options_.dep.value_or(DepDecodes(target.isa));
  }

  // The core's settings that the plugin's dep_config holds only when they are set (so the
  // records and models from before each existed stay valid), as dep_config names them; the
  // plugin option is "dep_" + the name.
  static std::vector<std::pair<std::string, int>> OptionalDepKeys(const CoreConfig& core) {
    std::vector<std::pair<std::string, int>> keys;
    if (core.split_store_line || core.split_store_page) {   // the plugin writes both
      keys.push_back({"split_store_line", core.split_store_line});
      keys.push_back({"split_store_page", core.split_store_page});
    }
    if (core.masked_store) keys.push_back({"masked_store", core.masked_store});
    if (core.split_load) keys.push_back({"split_load", core.split_load});
    if (core.lat_fadd >= 0) keys.push_back({"lat_fadd", core.lat_fadd});
    if (core.lat_fmul >= 0) keys.push_back({"lat_fmul", core.lat_fmul});
    if (core.masked_load_page) keys.push_back({"masked_load_page", core.masked_load_page});
    if (core.l1_fill) keys.push_back({"l1_fill", core.l1_fill});
    if (core.fetch_width) keys.push_back({"fetch_width", core.fetch_width});
    if (core.forward_latency_int >= 0) keys.push_back({"forward_int", core.forward_latency_int});
    if (core.forward_latency_fp >= 0) keys.push_back({"forward_fp", core.forward_latency_fp});
    if (core.forward_fail_int >= 0) keys.push_back({"forward_fail_int", core.forward_fail_int});
    if (core.forward_fail_fp >= 0) keys.push_back({"forward_fail_fp", core.forward_fail_fp});
    return keys;
  }

  // The core's switches that the plugin's dep_config holds only when on (so the records and
  // models from before each existed stay valid), as dep_config names them; the plugin option
  // is "dep_" + the name + "=on".
  static std::vector<std::string> OptionalDepFlags(const CoreConfig& core) {
    std::vector<std::string> flags;
    if (core.forward_fail_drain) flags.push_back("forward_fail_drain");
    if (core.inorder_fetch) flags.push_back("inorder_fetch");
    return flags;
  }

  // extra.dep_config as the plugin writes it for this target's core.
  static nlohmann::json DepConfig(const Target& target) {
    const CoreConfig& core = target.core;
    nlohmann::json c = {
        {"width", core.width},
        {"window", core.window},
        {"issue", core.issue ? core.issue : core.width},
        {"mispredict", core.mispredict},
        {"store_buffer", core.store_buffer},
        {"load_queue", core.load_queue},
        {"fetch_next_line", core.fetch_next_line},
        {"forward", core.forward}};
    // Only when off: the records and models from before the key existed (all with fetch
    // stalls) stay valid.
    if (!core.fetch_stalls) c["fetch_stalls"] = false;
    for (const auto& flag : OptionalDepFlags(core)) c[flag] = true;
    // x86_64: scalar SSE/AVX memory operands count their own 4 or 8 bytes, not the 16 QEMU
    // reads for some (the plugin's DepInsn.mem_bytes); records from before lack the key.
    if (target.isa == "x86_64") c["scalar_bytes"] = true;
    for (const auto& [key, cycles] : OptionalDepKeys(core)) c[key] = cycles;
    for (const auto& [kind, cycles] : core.latency) c["lat_" + kind] = cycles;
    for (const auto& [kind, count] : core.units) c["units_" + kind] = count;
    return c;
  }

  std::string PluginArgs(const Target& target, const std::filesystem::path& json_path) const {
    std::vector<std::string> args = {(PluginDir() / kPluginFile).string(),
                                     "out=" + json_path.string()};
    for (const auto& [group, on] : options_.groups)
      args.push_back(group + "=" + (on ? "on" : "off"));
    if (options_.tbs) args.push_back("tbs=on");
    if (options_.raw) args.push_back("raw=on");
    if (target.warm_statics) args.push_back(std::string("warm_file=") + kWarmFile);
    if (DepOn(target)) {
      const CoreConfig& core = target.core;
      args.push_back("dep=on");
      args.push_back("dep_width=" + std::to_string(core.width));
      args.push_back("dep_window=" + std::to_string(core.window));
      if (core.issue) args.push_back("dep_issue=" + std::to_string(core.issue));
      args.push_back("dep_mispredict=" + std::to_string(core.mispredict));
      args.push_back("dep_store_buffer=" + std::to_string(core.store_buffer));
      args.push_back("dep_load_queue=" + std::to_string(core.load_queue));
      args.push_back(std::string("dep_fetch_next_line=") + (core.fetch_next_line ? "on" : "off"));
      args.push_back(std::string("dep_forward=") + (core.forward ? "on" : "off"));
      if (!core.fetch_stalls) args.push_back("dep_fetch_stalls=off");
      for (const auto& flag : OptionalDepFlags(core)) args.push_back("dep_" + flag + "=on");
      for (const auto& [key, cycles] : OptionalDepKeys(core))
        args.push_back("dep_" + key + "=" + std::to_string(cycles));
      for (const auto& [kind, cycles] : core.latency)
        args.push_back("dep_lat_" + kind + "=" + std::to_string(cycles));
      for (const auto& [kind, count] : core.units)
        args.push_back("dep_units_" + kind + "=" + std::to_string(count));
    }
    if (target.caches.empty()) {
      args.push_back("cache=off");
    } else {
      for (const char* level : {"l1i", "l1d", "l2", "l3"}) {
        const CacheLevel* c = target.Cache(level);
        std::string l = level;
        if (!c) {
          args.push_back(l + "=off");
          continue;
        }
        args.push_back(l + "=on");
        args.push_back(l + "_size=" + std::to_string(c->size_bytes));
        args.push_back(l + "_ways=" + std::to_string(c->ways));
        args.push_back(l + "_line=" + std::to_string(c->line_bytes));
        args.push_back(l + "_policy=" + c->policy);
      }
      if (const CacheLevel* l1d = target.Cache("l1d"))
        args.push_back("reuse_line=" + std::to_string(l1d->line_bytes));
    }
    const auto& bp = target.branch_predictor;
    args.push_back("bpred_kind=" + bp.kind);
    args.push_back("bpred_entries=" + std::to_string(bp.entries));
    args.push_back("bpred_history=" + std::to_string(bp.history_bits));
    if (bp.kind == "tournament") {
      args.push_back("bpred_local_entries=" + std::to_string(bp.local_entries));
      args.push_back("bpred_local_counters=" + std::to_string(bp.local_counters));
    }
    if (bp.kind == "tage") {
      args.push_back("bpred_tagged_entries=" + std::to_string(bp.tagged_entries));
      args.push_back("bpred_tables=" + std::to_string(bp.tables));
      args.push_back("bpred_max_history=" + std::to_string(bp.max_history));
    }
    return Join(args, ",");
  }

  QemuOptions options_;
};

}  // namespace

void RegisterQemuSimulator(SimulatorRegistry& registry) {
  registry.Register(
      "qemu",
      "qemu-user (riscv64, aarch64, x86_64 linux) or qemu-system-riscv64 (riscv64 bare "
      "metal) with simtune's plugin: instruction classes, memory accesses, cache hierarchy, "
      "branch predictor, reuse distances; on riscv64 and x86_64 dependency timing models (in-order and "
      "out-of-order cycles from the target's core)",
      [](const std::string& options) -> Result<std::unique_ptr<Simulator>> {
        SIMTUNE_ASSIGN_OR_RETURN(QemuOptions opts, ParseOptions(options));
        return std::unique_ptr<Simulator>(new QemuSimulator(std::move(opts)));
      });
}

}  // namespace simtune
