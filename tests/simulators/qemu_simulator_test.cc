// The "qemu" Simulator: options, availability messages, a full run on a hand-built
// artifact, and every failure stage. Needs qemu-user and the riscv64 cross compiler.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "src/simulators/builtin.h"
#include "tests/simulators/qemu_test_util.h"
#include "tests/simulators/roi_kernels.h"

namespace simtune {
namespace {

std::unique_ptr<Simulator> MakeQemu(const std::string& options = "") {
  static SimulatorRegistry* registry = [] {
    auto* r = new SimulatorRegistry("simulator");
    RegisterQemuSimulator(*r);
    return r;
  }();
  auto sim = registry->Create("qemu", options);
  SIMTUNE_CHECK_MSG(sim.ok(), sim.message());
  return std::move(sim).value();
}

Result<std::unique_ptr<Simulator>> TryMakeQemu(const std::string& options) {
  SimulatorRegistry r("simulator");
  RegisterQemuSimulator(r);
  return r.Create("qemu", options);
}

Target RiscvTarget() {
  Target t;
  t.name = "riscv64-test";
  t.isa = "riscv64";
  t.os = "linux";
  t.caches = {{"l1i", 16384, 4, 64, "lru"},
              {"l1d", 32768, 8, 64, "lru"},
              {"l2", 2097152, 16, 64, "fifo"}};
  t.branch_predictor = {"bimodal", 1024, 0};
  return t;
}

Artifact MakeArtifact(const std::string& elf) {
  Artifact a;
  a.target = "riscv64-test";
  a.status = "ok";
  a.elf = elf;
  return a;
}

// Compiles harness_like.c for riscv64 with -D<mode> (static).
std::string BuildHarness(const std::string& mode, bool strip = false) {
  if (!ProgramExists("riscv64-linux-gnu-gcc")) {
    ADD_FAILURE() << "riscv64-linux-gnu-gcc not found; install Debian package "
                     "gcc-riscv64-linux-gnu (scripts/setup does)";
    return "";
  }
  auto out = qemu_test::ScratchDir() / ("harness_" + mode + (strip ? "_stripped" : ""));
  std::vector<std::string> argv = {
      "riscv64-linux-gnu-gcc", "-O1", "-static", "-o", out.string(),
      (qemu_test::ProgramsDir() / "harness_like.c").string()};
  if (!mode.empty()) argv.push_back("-DMODE_" + mode);
  if (strip) argv.push_back("-s");
  auto r = RunProcess(argv, {.timeout_s = 120});
  if (!r.ok() || !r->Success()) {
    ADD_FAILURE() << "compiling harness_like.c failed: " << (r.ok() ? r->err : r.message());
    return "";
  }
  return out.string();
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(QemuSimulator, OptionsAreParsedStrictly) {
  EXPECT_EQ(MakeQemu()->options_key(), "");
  EXPECT_EQ(MakeQemu("reuse=off,cache=off,timeout=30")->options_key(), "cache=off,reuse=off");
  EXPECT_EQ(MakeQemu("cache=on")->options_key(), "");
  // The block profile changes the record (extra.tbs), so it is part of the key.
  EXPECT_EQ(MakeQemu("tbs=on,cache=off")->options_key(), "cache=off,tbs=on");
  EXPECT_EQ(MakeQemu("tbs=off")->options_key(), "");
  EXPECT_EQ(MakeQemu("tbs=on,raw=on")->options_key(), "raw=on,tbs=on");
  // The dependency timing models are on by default where they can be (riscv64).
  EXPECT_EQ(MakeQemu("dep=on")->options_key(), "");
  EXPECT_EQ(MakeQemu("dep=off")->options_key(), "dep=off");
  EXPECT_EQ(MakeQemu()->name(), "qemu");

  struct Case {
    std::string options, message;
  };
  for (const auto& c : std::vector<Case>{
           {"cach=off",
            "unknown qemu simulator option 'cach'; did you mean 'cache'? valid: bpred, cache, "
            "classes, dep, mem, mode, raw, reuse, tbs, timeout"},
           {"dep=1", "qemu simulator option dep: expected on or off; got '1'"},
           {"raw=yes", "qemu simulator option raw: expected on or off; got 'yes'"},
           {"tbs=maybe", "qemu simulator option tbs: expected on or off; got 'maybe'"},
           {"mode=fast", "qemu simulator option mode: expected auto or full; got 'fast'"},
           {"cache", "qemu simulator option 'cache': expected key=value"},
           {"cache=no", "qemu simulator option cache: expected on or off; got 'no'"},
           {"timeout=abc", "qemu simulator option timeout: expected a number; got 'abc'"},
           {"timeout=0", "qemu simulator option timeout: must be positive; got '0'"},
           {"cache=off,cache=on", "qemu simulator option 'cache' given twice"},
       }) {
    auto sim = TryMakeQemu(c.options);
    ASSERT_FALSE(sim.ok()) << c.options;
    EXPECT_EQ(sim.message(), c.message);
  }
}

TEST(QemuSimulator, SupportsLinuxOnThreeIsasAndRiscvBareMetal) {
  auto sim = MakeQemu();
  Target t = RiscvTarget();
  EXPECT_TRUE(sim->Supports(t));
  t.isa = "aarch64";
  EXPECT_TRUE(sim->Supports(t));
  t.isa = "x86_64";
  EXPECT_TRUE(sim->Supports(t));
  t.isa = "mips64";
  EXPECT_FALSE(sim->Supports(t));
  Target bare = RiscvTarget();
  bare.os = "baremetal";
  EXPECT_TRUE(sim->Supports(bare));
  bare.isa = "aarch64";
  EXPECT_FALSE(sim->Supports(bare));
  auto st = sim->Available(bare);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(),
            "qemu simulator does not support target riscv64-test (isa aarch64, os baremetal; "
            "supported: linux on riscv64, aarch64, x86_64, riscv64 baremetal)");
  bare.isa = "riscv64";
  ScopedEnv path("PATH", "/nonexistent");
  EXPECT_EQ(sim->Available(bare).message(),
            "qemu-system-riscv64 not found; install Debian package qemu-system-misc "
            "(scripts/setup does)");
}

TEST(QemuSimulator, MissingQemuOrPluginSaysHowToGetIt) {
  auto sim = MakeQemu();
  {
    ScopedEnv path("PATH", "/nonexistent");
    auto st = sim->Available(RiscvTarget());
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.message(),
              "qemu-riscv64 not found; install Debian package qemu-user (scripts/setup does)");
    SimResult r = sim->Simulate(MakeArtifact("/bin/true"), RiscvTarget());
    EXPECT_EQ(r.status, "failed");
    EXPECT_EQ(r.stage, "missing-tool");
    EXPECT_EQ(r.message, st.message());
  }
  {
    ScopedEnv dir("SIMTUNE_PLUGIN_DIR", "/nonexistent-plugins");
    auto st = sim->Available(RiscvTarget());
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.message(),
              "qemu plugin not found at /nonexistent-plugins/libsimtune_qemu.so; build it with "
              "'cmake --build <build dir> --target simtune_qemu' (its header comes from "
              "scripts/fetch-qemu-plugin-header)");
  }
  EXPECT_TRUE(sim->Available(RiscvTarget()).ok())
      << sim->Available(RiscvTarget()).message();
}

TEST(QemuSimulator, SimulatesAnArtifactWithTheTargetsGeometry) {
  std::string elf = qemu_test::BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  SimResult r = MakeQemu()->Simulate(MakeArtifact(elf), RiscvTarget());
  ASSERT_TRUE(r.ok()) << r.stage << ": " << r.message;
  EXPECT_EQ(r.stats.simulator, "qemu");
  EXPECT_EQ(r.stats.insn_count, 4003u);   // run_count(1000), see kernels_riscv64.S
  EXPECT_EQ(r.stats.classes.at("load"), 1000u);
  EXPECT_EQ(r.stats.loads, 1000u);
  ASSERT_EQ(r.stats.caches.size(), 3u);
  EXPECT_EQ(r.stats.caches[0].level, "l1i");
  EXPECT_EQ(r.stats.caches[2].level, "l2");
  EXPECT_EQ(r.stats.branches, 1000u);
  EXPECT_EQ(r.stats.branch_mispredicts, 2u);   // bimodal on an always-taken loop
  EXPECT_EQ(r.stats.reuse_log2.size(), 33u);
  const auto& extra = r.stats.extra;
  EXPECT_EQ(extra.at("cache_config").at("l1i"),
            nlohmann::json({{"size", 16384}, {"ways", 4}, {"line", 64}, {"policy", "lru"}}));
  EXPECT_EQ(extra.at("cache_config").at("l2").at("policy"), "fifo");
  EXPECT_FALSE(extra.at("cache_config").contains("l3"));
  EXPECT_EQ(extra.at("bpred").at("kind"), "bimodal");
  EXPECT_GT(r.wall_s, 0);

  // Switched-off groups are absent, not zero.
  SimResult lean = MakeQemu("cache=off,reuse=off")->Simulate(MakeArtifact(elf), RiscvTarget());
  ASSERT_TRUE(lean.ok()) << lean.message;
  EXPECT_EQ(lean.stats.insn_count, 4003u);
  EXPECT_TRUE(lean.stats.caches.empty());
  EXPECT_TRUE(lean.stats.reuse_log2.empty());
}

// A tournament predictor's local tables reach the plugin (target.h: BranchPredictorConfig).
TEST(QemuSimulator, PassesATournamentPredictorsTables) {
  std::string elf = qemu_test::BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  Target target = RiscvTarget();
  target.branch_predictor = {"tournament", 8192, 0, 1024, 512};
  SimResult r = MakeQemu("cache=off,reuse=off")->Simulate(MakeArtifact(elf), target);
  ASSERT_TRUE(r.ok()) << r.stage << ": " << r.message;
  EXPECT_EQ(r.stats.extra.at("bpred"),
            nlohmann::json({{"kind", "tournament"}, {"entries", 8192}, {"history_bits", 0},
                            {"local_entries", 1024}, {"local_counters", 512}}));
  // The loop branch: its local history (9 bits index 512 counters) is new for 10
  // iterations, its all-taken counter needs 2 more, and the choice counters start on the
  // local side: 11 misses (qemu_plugin_test: 13 with 11 local bits), then the exit.
  EXPECT_EQ(r.stats.branch_mispredicts, 12u);
}

// dep (on by default for riscv64): the target's core reaches the plugin, the record names it
// (extra.dep_config), a record of another core, or one without the models, is not the
// target's (stale), and dep=on on another ISA is refused.
TEST(QemuSimulator, DependencyTimingUsesTheTargetsCore) {
  std::string elf = qemu_test::BuildRoiProgram("riscv64", "static");
  ASSERT_FALSE(elf.empty());
  Target target = RiscvTarget();
  target.core.width = 3;
  target.core.window = 72;
  target.core.latency["l1"] = 5;
  target.core.units["load"] = 2;
  auto sim = MakeQemu();
  SimResult r = sim->Simulate(MakeArtifact(elf), target);
  ASSERT_TRUE(r.ok()) << r.stage << ": " << r.message;
  const auto& config = r.stats.extra.at("dep_config");
  EXPECT_EQ(config.at("width"), 3);
  EXPECT_EQ(config.at("window"), 72);
  EXPECT_EQ(config.at("issue"), 3);   // no "issue": the width
  EXPECT_EQ(config.at("lat_l1"), 5);
  EXPECT_EQ(config.at("units_load"), 2);
  EXPECT_EQ(config, sim->ConfigurationFor(target).at("dep_config"));
  EXPECT_EQ(sim->Configuration(r.stats).at("dep_config"), config);
  // run_count: a load and a store of the loaded value every iteration, 5 cycles to use.
  EXPECT_GE(r.stats.extra.at("dep").at("inorder_cycles").get<int64_t>(), 5 * 1000);
  EXPECT_TRUE(sim->MatchesTarget(r.stats, target));
  Target other = target;
  other.core.latency["mul"] = 9;
  EXPECT_FALSE(sim->MatchesTarget(r.stats, other));
  other = target;
  other.core.issue = 2;
  EXPECT_FALSE(sim->MatchesTarget(r.stats, other));
  // A record without the models (dep=off, or simulated before they existed) is stale for
  // the default, and the right record for dep=off.
  auto off = MakeQemu("dep=off");
  SimResult plain = off->Simulate(MakeArtifact(elf), target);
  ASSERT_TRUE(plain.ok()) << plain.message;
  EXPECT_FALSE(plain.stats.extra.contains("dep"));
  EXPECT_FALSE(plain.stats.extra.contains("dep_config"));
  EXPECT_FALSE(sim->MatchesTarget(plain.stats, target));
  EXPECT_TRUE(off->MatchesTarget(plain.stats, target));
  EXPECT_FALSE(off->MatchesTarget(r.stats, target));
  EXPECT_FALSE(off->ConfigurationFor(target).contains("dep_config"));

  // A core setting the record holds only when it differs from the default (older records
  // match): absent from this target's record, and setting it makes that record stale. Returns
  // the dep_config with it set.
  auto only_when_set = [&](const std::string& key, auto set) {
    EXPECT_FALSE(config.contains(key)) << key;
    Target with = target;
    set(with.core);
    EXPECT_FALSE(sim->MatchesTarget(r.stats, with)) << key;
    return sim->ConfigurationFor(with).at("dep_config");
  };
  // fetch_stalls appears in the record only when off (older records, all with stalls, match).
  EXPECT_EQ(only_when_set("fetch_stalls", [](CoreConfig& c) { c.fetch_stalls = false; })
                .at("fetch_stalls"),
            false);
  // So do split stores' cycles, only when set.
  auto split = only_when_set("split_store_page", [](CoreConfig& c) { c.split_store_page = 33; });
  EXPECT_EQ(split.at("split_store_page"), 33);
  EXPECT_EQ(split.at("split_store_line"), 0);
  EXPECT_EQ(only_when_set("masked_store", [](CoreConfig& c) { c.masked_store = 11; })
                .at("masked_store"),
            11);
  auto fwd = only_when_set("forward_fp", [](CoreConfig& c) { c.forward_latency_fp = 9; });
  EXPECT_EQ(fwd.at("forward_fp"), 9);
  EXPECT_FALSE(fwd.contains("forward_int"));
  EXPECT_EQ(only_when_set("masked_load_page", [](CoreConfig& c) { c.masked_load_page = 400; })
                .at("masked_load_page"),
            400);
  EXPECT_EQ(only_when_set("l1_fill", [](CoreConfig& c) { c.l1_fill = 2; }).at("l1_fill"), 2);
  EXPECT_EQ(only_when_set("fetch_width", [](CoreConfig& c) { c.fetch_width = 3; })
                .at("fetch_width"),
            3);
  EXPECT_EQ(only_when_set("forward_fail_drain", [](CoreConfig& c) { c.forward_fail_drain = true; })
                .at("forward_fail_drain"),
            true);
  EXPECT_EQ(only_when_set("inorder_fetch", [](CoreConfig& c) { c.inorder_fetch = true; })
                .at("inorder_fetch"),
            true);
  EXPECT_EQ(only_when_set("split_load", [](CoreConfig& c) { c.split_load = 1; }).at("split_load"), 1);
  auto fadd = only_when_set("lat_fadd", [](CoreConfig& c) { c.lat_fadd = 3; });
  EXPECT_EQ(fadd.at("lat_fadd"), 3);
  EXPECT_FALSE(fadd.contains("lat_fmul"));
  EXPECT_EQ(only_when_set("lat_fmul", [](CoreConfig& c) { c.lat_fmul = 3; }).at("lat_fmul"), 3);
  // The plugin writes them as the target names them: its record is the target's.
  Target fetching = target;
  fetching.core.fetch_width = 3;
  fetching.core.forward_fail_drain = true;
  fetching.core.inorder_fetch = true;
  fetching.core.split_load = 1;
  fetching.core.lat_fadd = 3;
  fetching.core.lat_fmul = 5;
  SimResult grouped = sim->Simulate(MakeArtifact(elf), fetching);
  ASSERT_TRUE(grouped.ok()) << grouped.message;
  EXPECT_TRUE(sim->MatchesTarget(grouped.stats, fetching));
  EXPECT_GT(grouped.stats.extra.at("dep").at("fetch_groups").get<int64_t>(), 0);
  auto fail = only_when_set("forward_fail_fp", [](CoreConfig& c) { c.forward_fail_fp = 20; });
  EXPECT_EQ(fail.at("forward_fail_fp"), 20);
  EXPECT_FALSE(fail.contains("forward_fail_int"));

  Target arm = RiscvTarget();
  arm.name = "arm-test";
  arm.isa = "aarch64";
  EXPECT_TRUE(sim->Available(arm).ok()) << "off by default elsewhere";
  EXPECT_FALSE(sim->ConfigurationFor(arm).contains("dep_config"));
  EXPECT_EQ(MakeQemu("dep=on")->Available(arm).message(),
            "qemu simulator option dep=on: the dependency timing models decode riscv64 and "
            "x86_64 only; target arm-test is aarch64");
}

// dep on x86_64 (on by default there too): the shipped host target's core reaches the plugin,
// with fetch stalls off (its native reference times warm repetitions): the record says so.
TEST(QemuSimulator, DependencyTimingRunsOnX86) {
  std::string elf = qemu_test::BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  auto target = LoadTarget("x86_64-host");
  ASSERT_TRUE(target.ok()) << target.message();
  ASSERT_FALSE(target->core.fetch_stalls);
  auto sim = MakeQemu();
  SimResult r = sim->Simulate(MakeArtifact(elf), *target);
  ASSERT_TRUE(r.ok()) << r.stage << ": " << r.message;
  const auto& config = r.stats.extra.at("dep_config");
  EXPECT_EQ(config.at("width"), target->core.width);
  EXPECT_EQ(config.at("fetch_stalls"), false);
  EXPECT_EQ(config.at("split_store_page"), target->core.split_store_page);
  EXPECT_GT(target->core.split_store_page, 0);
  EXPECT_EQ(config.at("masked_store"), target->core.masked_store);
  EXPECT_EQ(config, sim->ConfigurationFor(*target).at("dep_config"));
  EXPECT_TRUE(sim->MatchesTarget(r.stats, *target));
  EXPECT_EQ(r.stats.extra.at("dep").at("insns"), r.stats.insn_count);
  // run_count: each iteration loads and stores; the store's value comes from the load.
  EXPECT_GE(r.stats.extra.at("dep").at("ooo_cycles").get<int64_t>(), 1000);
}

// warm_statics: the plugin starts kernel.c's objects warm, the record says so, and records
// with and without it are each stale for the other setting.
TEST(QemuSimulator, WarmStaticsReachThePluginAndTheRecord) {
  std::string elf = qemu_test::BuildRoiProgram("x86_64", "static");
  ASSERT_FALSE(elf.empty());
  auto target = LoadTarget("x86_64-host");
  ASSERT_TRUE(target.ok()) << target.message();
  Target warm = *target, cold = *target;
  warm.warm_statics = true;
  cold.warm_statics = false;
  auto sim = MakeQemu();
  SimResult w = sim->Simulate(MakeArtifact(elf), warm);
  SimResult c = sim->Simulate(MakeArtifact(elf), cold);
  ASSERT_TRUE(w.ok()) << w.stage << ": " << w.message;
  ASSERT_TRUE(c.ok()) << c.stage << ": " << c.message;
  // This program has no kernel.c: nothing to warm, but the record names the file.
  EXPECT_EQ(w.stats.extra.at("warm_objects"),
            nlohmann::json({{"file", "kernel.c"}, {"objects", 0}, {"bytes", 0}}));
  EXPECT_FALSE(c.stats.extra.contains("warm_objects"));
  EXPECT_EQ(sim->ConfigurationFor(warm).at("warm_file"), "kernel.c");
  EXPECT_FALSE(sim->ConfigurationFor(cold).contains("warm_file"));
  EXPECT_EQ(sim->Configuration(w.stats).at("warm_file"), "kernel.c");
  EXPECT_TRUE(sim->MatchesTarget(w.stats, warm));
  EXPECT_TRUE(sim->MatchesTarget(c.stats, cold));
  EXPECT_FALSE(sim->MatchesTarget(w.stats, cold));
  EXPECT_FALSE(sim->MatchesTarget(c.stats, warm));
  // A configuration as a trained model keeps it (Configuration) matches the same target.
  SimStats kept;
  kept.simulator = "qemu";
  kept.extra = sim->Configuration(w.stats);
  EXPECT_TRUE(sim->MatchesTarget(kept, warm));
  EXPECT_FALSE(sim->MatchesTarget(kept, cold));
  kept.extra = sim->ConfigurationFor(warm);
  EXPECT_TRUE(sim->MatchesTarget(kept, warm));
}

// The geometry and predictor of every shipped target are accepted by the plugin, bare-metal
// ones (system mode) included.
TEST(QemuSimulator, RunsEveryShippedTarget) {
  auto sim = MakeQemu("reuse=off");
  int simulated = 0;
  for (const auto& name : ListTargets()) {
    auto target = LoadTarget(name);
    ASSERT_TRUE(target.ok()) << target.message();
    if (!sim->Supports(*target)) continue;
    std::string elf = target->baremetal() ? qemu_test::BuildBareProgram("COUNT=1000")
                                          : qemu_test::BuildRoiProgram(target->isa, "static");
    ASSERT_FALSE(elf.empty());
    SimResult r = sim->Simulate(MakeArtifact(elf), *target);
    ASSERT_TRUE(r.ok()) << name << ": " << r.stage << ": " << r.message;
    EXPECT_EQ(r.stats.insn_count, 4003u) << name;
    EXPECT_EQ(r.stats.caches.size(), target->caches.size()) << name;
    EXPECT_EQ(r.stats.extra.at("bpred").at("entries"), target->branch_predictor.entries);
    ++simulated;
  }
  EXPECT_GE(simulated, 3) << "riscv64, aarch64 and x86_64 linux targets are shipped";
}

// A user-mode program's stack lies below its argument and environment strings: their sizes
// used to move every stack address, and with it the cache sets and reuse distances of the
// stack's accesses (sim_util::PlaceProgram). A real candidate (a GEMM with its harness) gives
// the same statistics under qemu and valgrind whatever the environment they inherit and
// wherever the artifact lies.
TEST(UserModeSimulators, StatisticsDoNotDependOnTheEnvironmentOrThePath) {
  for (auto [sim_name, target_name] : {std::pair<const char*, const char*>{"qemu", "riscv64-linux"},
                                       {"qemu", "x86_64-host"},
                                       {"valgrind", "x86_64-host"}}) {
    const std::string what = std::string(sim_name) + " on " + target_name;
    Target target = roi_test::LoadTestTarget(target_name);
    Artifact a = roi_test::BuildOrFail(roi_test::GemmKernel(24, 40, 16), target);
    ASSERT_TRUE(a.ok()) << a.message;
    auto sim = Simulators().Create(sim_name, "");
    ASSERT_TRUE(sim.ok()) << sim.message();
    SimResult plain = (*sim)->Simulate(a, target);
    ASSERT_TRUE(plain.ok()) << what << ": " << plain.stage << ": " << plain.message;
    SimResult padded;
    {
      ScopedEnv pad("SIMTUNE_TEST_PADDING", std::string(300, 'x'));
      padded = (*sim)->Simulate(a, target);
    }
    ASSERT_TRUE(padded.ok()) << what << ": " << padded.stage << ": " << padded.message;
    EXPECT_EQ(padded.stats.ToJson().dump(), plain.stats.ToJson().dump()) << what;

    auto dir = qemu_test::ScratchDir() / ("a-much-longer-folder-name-than-the-cache-has-" + what);
    std::filesystem::create_directories(dir);
    Artifact moved = a;
    // Its verified checksums go with it (a cached artifact has them in its cache entry only).
    moved.verified_checksums = VerifiedChecksums(a);
    moved.elf = dir / "artifact-with-a-longer-name.elf";
    std::filesystem::copy_file(a.elf, moved.elf, std::filesystem::copy_options::overwrite_existing);
    SimResult elsewhere = (*sim)->Simulate(moved, target);
    ASSERT_TRUE(elsewhere.ok()) << what << ": " << elsewhere.stage << ": " << elsewhere.message;
    EXPECT_EQ(elsewhere.stats.ToJson().dump(), plain.stats.ToJson().dump()) << what;
  }
}

TEST(QemuSimulator, FailuresCarryTheirStage) {
  auto sim = MakeQemu("timeout=2");
  struct Case {
    std::string mode;
    bool strip;
    std::string stage, message_start;
  };
  for (const auto& c : std::vector<Case>{
           {"VERIFY_FAIL", false, "verify", "verify failed index=3 got=1 want=2"},
           {"NO_ROI", false, "run",
            "harness called simtune_roi_begin 0 times and simtune_roi_end 0 times; expected "
            "once each"},
           {"CRASH", false, "run", "qemu-riscv64 killed by signal 11 (Segmentation fault)"},
           {"HANG", false, "timeout", "timed out after 2 s"},
           {"", true, "run", "qemu-riscv64 exit code 1: simtune plugin: "},
       }) {
    std::string elf = BuildHarness(c.mode, c.strip);
    ASSERT_FALSE(elf.empty());
    SimResult r = sim->Simulate(MakeArtifact(elf), RiscvTarget());
    EXPECT_EQ(r.status, "failed") << c.mode;
    EXPECT_EQ(r.stage, c.stage) << c.mode << ": " << r.message;
    EXPECT_EQ(r.message.substr(0, c.message_start.size()), c.message_start) << r.message;
  }
  std::string ok_elf = BuildHarness("");
  ASSERT_FALSE(ok_elf.empty());
  SimResult ok = sim->Simulate(MakeArtifact(ok_elf), RiscvTarget());
  EXPECT_TRUE(ok.ok()) << ok.stage << ": " << ok.message;

  Artifact broken;
  broken.status = "failed";
  broken.stage = "build";
  broken.message = "error: 'x' undeclared";
  SimResult r = sim->Simulate(broken, RiscvTarget());
  EXPECT_EQ(r.stage, "build");
  EXPECT_EQ(r.message, "artifact did not build (build: error: 'x' undeclared)");
}

}  // namespace
}  // namespace simtune
