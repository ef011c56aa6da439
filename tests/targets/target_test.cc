#include "simtune/target.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "simtune/paths.h"
#include "simtune/process.h"

namespace simtune {
namespace {

const char* kMinimal = R"({"name": "t", "isa": "riscv64", "os": "linux", "cc": "gcc"})";

std::string With(const std::string& extra) {
  return R"({"name": "t", "isa": "riscv64", "os": "linux", "cc": "gcc", )" + extra + "}";
}

TEST(Targets, ListsTheDataFiles) {
  EXPECT_EQ(ListTargets(), (std::vector<std::string>{"aarch64-linux", "riscv64-baremetal",
                                                      "riscv64-linux", "riscv64-rvsim-p550",
                                                      "riscv64-rvsim-rocket", "x86_64-host"}));
}

TEST(Targets, EveryDataFileLoads) {
  for (const auto& name : ListTargets()) {
    auto t = LoadTarget(name);
    ASSERT_TRUE(t.ok()) << t.message();
    EXPECT_EQ(t->name, name);
    EXPECT_FALSE(t->description.empty()) << name;
    EXPECT_FALSE(t->cflags.empty()) << name;
    EXPECT_FALSE(t->simulators.empty()) << name;
    EXPECT_NE(t->Cache("l1d"), nullptr) << name;
    EXPECT_NE(t->Cache("l1i"), nullptr) << name;
    EXPECT_NE(t->Cache("l2"), nullptr) << name;
    EXPECT_EQ(t->source, DataDir() / "targets" / (name + ".json"));
  }
}

TEST(Targets, HostTarget) {
  auto t = LoadTarget("x86_64-host");
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->isa, "x86_64");
  EXPECT_EQ(t->os, "linux");
  EXPECT_EQ(t->cc, "gcc");
  EXPECT_TRUE(t->runner.empty());
  EXPECT_FALSE(t->baremetal());
  // valgrind 3.19 cannot run AVX-512: the host target must stay at x86-64-v3.
  EXPECT_NE(std::find(t->cflags.begin(), t->cflags.end(), "-march=x86-64-v3"), t->cflags.end());
  EXPECT_NE(t->description.find("AVX-512"), std::string::npos);
  const CacheLevel* l3 = t->Cache("l3");
  ASSERT_NE(l3, nullptr);
  EXPECT_EQ(l3->size_bytes, 32 << 20);
  EXPECT_EQ(t->Cache("l4"), nullptr);
  // The native reference times repeated calls: the simulated call starts the kernel's static
  // buffers warm. The rvsim targets measure one call, as simulated.
  EXPECT_TRUE(t->warm_statics);
  EXPECT_EQ(t->core.split_load, 1);
  EXPECT_EQ(t->core.lat_fadd, 3);   // bench/fp_latency_probe.c
  EXPECT_EQ(t->core.lat_fmul, 3);
  EXPECT_EQ(t->core.latency.at("fp"), 4);
  for (const char* rv : {"riscv64-rvsim-p550", "riscv64-rvsim-rocket"}) {
    auto r = LoadTarget(rv);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_FALSE(r->warm_statics) << rv;
  }
}

TEST(Targets, CrossTargets) {
  auto rv = LoadTarget("riscv64-linux");
  ASSERT_TRUE(rv.ok()) << rv.message();
  EXPECT_EQ(rv->cc, "riscv64-linux-gnu-gcc");
  EXPECT_EQ(rv->runner, std::vector<std::string>{"qemu-riscv64"});
  EXPECT_EQ(rv->Cache("l2")->size_bytes, 2 << 20);
  EXPECT_EQ(rv->Cache("l1d")->ways, 8);

  auto arm = LoadTarget("aarch64-linux");
  ASSERT_TRUE(arm.ok()) << arm.message();
  EXPECT_EQ(arm->runner, std::vector<std::string>{"qemu-aarch64"});
  EXPECT_EQ(arm->Cache("l1d")->ways, 2);
  EXPECT_EQ(arm->Cache("l1i")->size_bytes, 48 << 10);
  EXPECT_EQ(arm->Cache("l1i")->ways, 3);
  EXPECT_EQ(arm->Cache("l2")->ways, 16);

  auto bare = LoadTarget("riscv64-baremetal");
  ASSERT_TRUE(bare.ok()) << bare.message();
  EXPECT_TRUE(bare->baremetal());
  EXPECT_TRUE(bare->runner.empty());
  EXPECT_EQ(bare->cc, "riscv64-unknown-elf-gcc");
  EXPECT_EQ(bare->simulators, (std::vector<std::string>{"spike", "qemu"}));
}

TEST(Targets, LoadsByPath) {
  std::string path = (DataDir() / "targets" / "aarch64-linux.json").string();
  auto t = LoadTarget(path);
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->name, "aarch64-linux");
  EXPECT_EQ(LoadTarget("/nonexistent/x.json").message(),
            "cannot read target file '/nonexistent/x.json'");
}

TEST(Targets, UnknownNameSuggests) {
  EXPECT_EQ(LoadTarget("x86_64-hots").message(),
            "unknown target 'x86_64-hots'; did you mean 'x86_64-host'? valid: aarch64-linux, "
            "riscv64-baremetal, riscv64-linux, riscv64-rvsim-p550, riscv64-rvsim-rocket, "
            "x86_64-host");
}

TEST(Targets, ParsesMinimalWithDefaults) {
  auto t = ParseTarget(kMinimal, "m.json");
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_TRUE(t->cflags.empty());
  EXPECT_TRUE(t->caches.empty());
  EXPECT_EQ(t->branch_predictor.kind, "gshare");
  EXPECT_EQ(t->source, "m.json");
}

TEST(Targets, StrictParseErrors) {
  const std::string w = "data/targets/foo.json";
  auto msg = [&](const std::string& text) {
    auto t = ParseTarget(text, w);
    return t.ok() ? std::string("<parsed>") : t.message();
  };
  EXPECT_EQ(msg(With(R"("cflag": ["-O2"])")),
            "data/targets/foo.json: unknown key 'cflag'; did you mean 'cflags'?");
  EXPECT_EQ(msg(With(R"("zzzzzzzz": 1)")),
            "data/targets/foo.json: unknown key 'zzzzzzzz'; valid keys: name, description, isa, "
            "os, cc, cflags, ldflags, runner, simulators, references, caches, branch_predictor, "
            "build_target, reference_options, mca_cpu, clock_hz, core, warm_statics");
  EXPECT_EQ(msg(With(R"("cflags": "-O2")")),
            "data/targets/foo.json: key 'cflags': expected an array of strings; got string");
  EXPECT_EQ(msg(With(R"("runner": ["qemu", 3])")),
            "data/targets/foo.json: key 'runner[1]': expected a string; got integer");
  EXPECT_EQ(msg(R"({"name": "t", "isa": "riscv64", "os": "linux"})"),
            "data/targets/foo.json: missing key 'cc'");
  EXPECT_EQ(msg(R"({"name": 5, "isa": "riscv64", "os": "linux", "cc": "gcc"})"),
            "data/targets/foo.json: key 'name': expected a string; got integer");
  EXPECT_EQ(msg(R"({"name": "t", "isa": "riscv46", "os": "linux", "cc": "gcc"})"),
            "data/targets/foo.json: unknown isa 'riscv46'; did you mean 'riscv64'? valid: "
            "aarch64, riscv64, x86_64");
  EXPECT_EQ(msg(R"({"name": "t", "isa": "riscv64", "os": "windows", "cc": "gcc"})"),
            "data/targets/foo.json: unknown os 'windows'; valid: baremetal, linux");
  EXPECT_EQ(msg("[1, 2]"), "data/targets/foo.json: expected a JSON object; got array");
  EXPECT_EQ(msg(R"({"name": "t",})"),
            "data/targets/foo.json: invalid JSON: parse error at line 1, column 14: syntax error "
            "while parsing object key - unexpected '}'; expected string literal");
}

// Every target names an llvm-mca core model that the installed LLVM 19 knows (llc-19 lists
// it for the isa), or "native" (the host's own, resolved by LLVM).
TEST(Targets, McaCpuIsAModelOfTheInstalledLlvm) {
  const std::map<std::string, std::string> triples = {
      {"x86_64", "x86_64-linux-gnu"}, {"riscv64", "riscv64-linux-gnu"}, {"aarch64", "aarch64-linux-gnu"}};
  for (const auto& name : ListTargets()) {
    auto t = LoadTarget(name);
    ASSERT_TRUE(t.ok()) << t.message();
    ASSERT_FALSE(t->mca_cpu.empty()) << name;
    if (t->mca_cpu == "native") continue;
    auto r = RunProcess({"llc-19", "-mtriple=" + triples.at(t->isa), "-mcpu=help"});
    ASSERT_TRUE(r.ok()) << "llc-19 not found; install Debian package llvm-19 (scripts/setup does)";
    EXPECT_NE((r->out + r->err).find("  " + t->mca_cpu + " "), std::string::npos)
        << name << ": " << t->mca_cpu;
  }
  const std::string w = "data/targets/foo.json";
  auto bad = ParseTarget(With(R"("mca_cpu": "sifive u74")"), w);
  EXPECT_EQ(bad.message(), "data/targets/foo.json: mca_cpu must be an llvm-mca CPU name (llc "
                           "-mcpu=help); got 'sifive u74'");
}

TEST(Targets, StrictCacheAndPredictorErrors) {
  const std::string w = "t.json";
  auto msg = [&](const std::string& extra) {
    auto t = ParseTarget(With(extra), w);
    return t.ok() ? std::string("<parsed>") : t.message();
  };
  EXPECT_EQ(msg(R"("caches": [{"level": "l1d", "sise": 32768, "ways": 8, "line": 64}])"),
            "t.json: caches[0]: unknown key 'sise'; did you mean 'size'?");
  EXPECT_EQ(msg(R"("caches": [{"level": "l1d", "size": "32K", "ways": 8, "line": 64}])"),
            "t.json: caches[0]: key 'size': expected an integer; got string");
  EXPECT_EQ(msg(R"("caches": [{"level": "l1d", "size": 32768, "ways": 8}])"),
            "t.json: caches[0]: missing key 'line'");
  EXPECT_EQ(msg(R"("caches": [{"level": "l1", "size": 32768, "ways": 8, "line": 64}])"),
            "t.json: caches[0]: unknown cache level 'l1'; did you mean 'l1d'? valid: l1d, l1i, "
            "l2, l3");
  EXPECT_EQ(msg(R"("caches": [{"level": "l1d", "size": 32768, "ways": 8, "line": 60}])"),
            "t.json: caches[0]: line must be a power of two <= 4096; got 60");
  EXPECT_EQ(msg(R"("caches": [{"level": "l1d", "size": 30000, "ways": 8, "line": 64}])"),
            "t.json: caches[0]: size 30000 must be a power-of-two number of sets of ways*line "
            "= 8*64 bytes");
  EXPECT_EQ(msg(R"("caches": [{"level": "l3", "size": 2147483648, "ways": 16, "line": 64}])"),
            "t.json: caches[0]: size must be in [1, 1073741824]; got 2147483648");
  EXPECT_EQ(msg(R"("caches": [{"level": "l3", "size": 1073741824, "ways": 16, "line": 64}])"),
            "<parsed>");
  EXPECT_EQ(msg(R"("caches": [{"level": "l1d", "size": 32768, "ways": 8, "line": 64, "policy": "lfu"}])"),
            "t.json: caches[0]: unknown cache policy 'lfu'; did you mean 'lru'? valid: fifo, "
            "lru, random");
  EXPECT_EQ(msg(R"("caches": [{"level": "l2", "size": 32768, "ways": 8, "line": 64},)"
                R"({"level": "l2", "size": 32768, "ways": 8, "line": 64}])"),
            "t.json: caches[1]: cache level 'l2' appears twice");
  EXPECT_EQ(msg(R"("caches": {"level": "l2"})"),
            "t.json: key 'caches': expected an array of objects; got object");
  EXPECT_EQ(msg(R"("branch_predictor": {"kind": "gshare", "entries": 1000, "history_bits": 10})"),
            "t.json: branch_predictor: entries must be a power of two <= 16777216; got 1000");
  EXPECT_EQ(msg(R"("branch_predictor": {"kind": "perceptron", "entries": 1024})"),
            "t.json: branch_predictor: unknown branch predictor 'perceptron'; valid: bimodal, gshare, tournament, tage");
  EXPECT_EQ(msg(R"("branch_predictor": {"kind": "tage", "entries": 1024})"),
            "t.json: branch_predictor: missing key 'tagged_entries'");
  EXPECT_EQ(msg(R"("branch_predictor": {"kind": "tage", "entries": 1024, "tagged_entries": 1024, "tables": 13, )"
                R"("max_history": 64})"),
            "t.json: branch_predictor: tables must be in [1, 12]; got 13");
  EXPECT_EQ(msg(R"("branch_predictor": {"kind": "gshare", "entries": 1024})"),
            "t.json: branch_predictor: a gshare predictor needs history_bits > 0");
  EXPECT_EQ(msg(R"("branch_predictor": {"kind": "bimodal", "entries": 1024, "histroy_bits": 3})"),
            "t.json: branch_predictor: unknown key 'histroy_bits'; did you mean 'history_bits'?");
  EXPECT_EQ(msg(R"("branch_predictor": {"kind": "tournament", "entries": 8192, "local_entries": 2048})"),
            "t.json: branch_predictor: missing key 'local_counters'");
  EXPECT_EQ(msg(R"("branch_predictor": {"kind": "tournament", "entries": 8192, "local_entries": 2048,)"
                R"( "local_counters": 100})"),
            "t.json: branch_predictor: local_counters must be a power of two <= 16777216; got 100");
  EXPECT_EQ(msg(R"("branch_predictor": {"kind": "tournament", "entries": 8192, "local_entries": 2048,)"
                R"( "local_counters": 2048, "history_bits": 13})"),
            "t.json: branch_predictor: unknown key 'history_bits'; valid keys: kind, entries, "
            "local_entries, local_counters");
}

TEST(Targets, TournamentBranchPredictor) {
  auto t = ParseTarget(With(R"("branch_predictor": {"kind": "tournament", "entries": 8192, )"
                            R"("local_entries": 2048, "local_counters": 2048})"),
                       "t.json");
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->branch_predictor.kind, "tournament");
  EXPECT_EQ(t->branch_predictor.entries, 8192);
  EXPECT_EQ(t->branch_predictor.local_entries, 2048);
  EXPECT_EQ(t->branch_predictor.local_counters, 2048);
}

// Reference targets take their build recipe from build_target, so a candidate built for
// either is the same ELF (same harness text, same hash).
TEST(Targets, ReferenceTargetsBuildAsTheirBuildTarget) {
  auto base = LoadTarget("riscv64-baremetal");
  ASSERT_TRUE(base.ok()) << base.message();
  EXPECT_TRUE(base->build_target.empty());
  EXPECT_EQ(base->BuildName(), "riscv64-baremetal");
  for (const std::string name : {"riscv64-rvsim-p550", "riscv64-rvsim-rocket"}) {
    auto t = LoadTarget(name);
    ASSERT_TRUE(t.ok()) << t.message();
    EXPECT_EQ(t->build_target, "riscv64-baremetal");
    EXPECT_EQ(t->BuildName(), "riscv64-baremetal");
    EXPECT_EQ(t->isa, base->isa);
    EXPECT_EQ(t->os, base->os);
    EXPECT_EQ(t->cc, base->cc);
    EXPECT_EQ(t->cflags, base->cflags);
    EXPECT_EQ(t->ldflags, base->ldflags);
    EXPECT_EQ(t->runner, base->runner);
    EXPECT_EQ(t->references, std::vector<std::string>{"rvsim"});
    ASSERT_EQ(t->reference_options.count("rvsim"), 1u);
    EXPECT_EQ(t->reference_options.at("rvsim"), "model=" + name.substr(name.rfind('-') + 1));
  }
  // The machine's own caches: the P550 model's L1D is 4-way, the U74's (base) 8-way.
  auto p550 = LoadTarget("riscv64-rvsim-p550");
  ASSERT_TRUE(p550.ok());
  EXPECT_EQ(p550->Cache("l1d")->ways, 4);
  EXPECT_EQ(base->Cache("l1d")->ways, 8);
  EXPECT_EQ(p550->Cache("l3")->size_bytes, 4 << 20);
}

TEST(Targets, StrictReferenceTargetErrors) {
  const std::string w = "r.json";
  auto msg = [&](const std::string& text) {
    auto t = ParseTarget(text, w);
    return t.ok() ? std::string("<parsed>") : t.message();
  };
  EXPECT_EQ(msg(R"({"name": "r", "build_target": "riscv64-baremetal"})"), "<parsed>");
  EXPECT_EQ(msg(R"({"name": "r", "build_target": "riscv64-baremetal", "cc": "gcc"})"),
            "r.json: key 'cc' comes from build_target 'riscv64-baremetal'; remove it");
  EXPECT_EQ(msg(R"({"name": "r", "build_target": "riscv64-baremetal", "cflags": ["-O2"]})"),
            "r.json: key 'cflags' comes from build_target 'riscv64-baremetal'; remove it");
  EXPECT_EQ(msg(R"({"name": "r", "build_target": "riscv64-baremetl"})"),
            "r.json: build_target: unknown target 'riscv64-baremetl'; did you mean "
            "'riscv64-baremetal'? valid: aarch64-linux, riscv64-baremetal, riscv64-linux, "
            "riscv64-rvsim-p550, riscv64-rvsim-rocket, x86_64-host");
  EXPECT_EQ(msg(R"({"name": "r", "build_target": "riscv64-rvsim-p550"})"),
            "r.json: build_target 'riscv64-rvsim-p550' has a build_target itself "
            "('riscv64-baremetal'); name that one instead");
  EXPECT_EQ(msg(R"({"name": "x86_64-host", "build_target": "x86_64-host"})"),
            "r.json: build_target names the target itself");
  EXPECT_EQ(msg(R"({"name": "r", "build_target": 3})"),
            "r.json: key 'build_target': expected a string; got integer");
  EXPECT_EQ(msg(With(R"("references": ["ssh"], "reference_options": {"ssh": "host=a"})")),
            "<parsed>");
  EXPECT_EQ(msg(With(R"("references": ["ssh"], "reference_options": {"rvsim": "model=p550"})")),
            "r.json: reference_options names 'rvsim', which is not in references [ssh]");
  EXPECT_EQ(msg(With(R"("references": ["ssh"], "reference_options": {"ssh": 1})")),
            "r.json: key 'reference_options.ssh': expected a string; got integer");
  EXPECT_EQ(msg(With(R"("reference_options": ["ssh"])")),
            "r.json: key 'reference_options': expected an object of strings; got array");
}

TEST(Targets, MergeReferenceOptions) {
  Target t;
  t.reference_options["ssh"] = "host=board,user=me,rounds=3";
  EXPECT_EQ(MergeReferenceOptions(t, "ssh", ""), "host=board,user=me,rounds=3");
  EXPECT_EQ(MergeReferenceOptions(t, "ssh", "rounds=5"), "host=board,user=me,rounds=5");
  EXPECT_EQ(MergeReferenceOptions(t, "ssh", " host = other , port=2222"),
            "user=me,rounds=3,host = other,port=2222");
  EXPECT_EQ(MergeReferenceOptions(t, "native", "rounds=5"), "rounds=5");
  EXPECT_EQ(MergeReferenceOptions(Target{}, "ssh", ""), "");
  // Items without '=' reach the reference's parser, which rejects them.
  EXPECT_EQ(MergeReferenceOptions(t, "ssh", "bogus"), "host=board,user=me,rounds=3,bogus");
}

// A data directory of our own, to check the file-name/name consistency check.
TEST(Targets, NameMustMatchFileName) {
  auto dir = std::filesystem::path(SIMTUNE_TEST_BINARY_DIR) / "targets-test-data";
  std::filesystem::create_directories(dir / "targets");
  std::ofstream(dir / "targets" / "mine.json") << kMinimal;
  setenv("SIMTUNE_DATA_DIR", dir.c_str(), 1);
  auto t = LoadTarget("mine");
  auto names = ListTargets();
  unsetenv("SIMTUNE_DATA_DIR");
  EXPECT_EQ(names, std::vector<std::string>{"mine"});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.message(), (dir / "targets" / "mine.json").string() +
                             ": name 't' does not match the file name 'mine'");
}

// build_target chains that loop back end with the chain named, not a stack overflow.
TEST(Targets, BuildTargetCyclesAreNamed) {
  auto dir = std::filesystem::path(SIMTUNE_TEST_BINARY_DIR) / "targets-cycle-data";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "targets");
  auto write = [&](const std::string& file, const std::string& name, const std::string& base) {
    std::ofstream(dir / "targets" / (file + ".json"))
        << R"({"name": ")" << name << R"(", "build_target": ")" << base << R"("})";
  };
  write("a", "a", "b");
  write("b", "b", "a");
  write("c", "c", "d");
  write("d", "d", "e");
  write("e", "e", "c");
  // File names that differ from the names inside: the chain follows the files.
  write("p", "pp", "q");
  write("q", "qq", "p");
  setenv("SIMTUNE_DATA_DIR", dir.c_str(), 1);
  auto a = LoadTarget("a");
  auto c = LoadTarget("c");
  auto p = LoadTarget("p");
  auto by_path = LoadTarget((dir / "targets" / "a.json").string());
  auto parsed = ParseTarget(R"({"name": "x", "build_target": "a"})", "x.json");
  unsetenv("SIMTUNE_DATA_DIR");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.message(), "target a: build_target cycle a -> b -> a");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.message(), "target c: build_target cycle c -> d -> e -> c");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.message(), "target pp: build_target cycle pp -> q -> p -> q");
  ASSERT_FALSE(by_path.ok());
  EXPECT_EQ(by_path.message(), "target a: build_target cycle a -> b -> a");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.message(), "target x: build_target cycle x -> a -> b -> a");
}

// clock_hz: the reference machine's clock, a positive number; the rvsim targets give their
// model's (the rvsim driver's cpu_clock_mhz: P550 1400, Rocket 1000).
TEST(Targets, ClockHzIsAPositiveNumber) {
  const std::string w = "data/targets/foo.json";
  auto t = ParseTarget(With(R"("clock_hz": 2.5e9)"), w);
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->clock_hz, 2.5e9);
  EXPECT_EQ(ParseTarget(kMinimal, w)->clock_hz, 0);
  EXPECT_EQ(ParseTarget(With(R"("clock_hz": 0)"), w).message(),
            "data/targets/foo.json: clock_hz must be a positive number (Hz); got 0");
  EXPECT_EQ(ParseTarget(With(R"("clock_hz": "1GHz")"), w).message(),
            "data/targets/foo.json: clock_hz must be a positive number (Hz); got \"1GHz\"");
  auto p550 = LoadTarget("riscv64-rvsim-p550");
  ASSERT_TRUE(p550.ok()) << p550.message();
  EXPECT_EQ(p550->clock_hz, 1.4e9);
  auto rocket = LoadTarget("riscv64-rvsim-rocket");
  ASSERT_TRUE(rocket.ok()) << rocket.message();
  EXPECT_EQ(rocket->clock_hz, 1e9);
}

TEST(Targets, WarmStaticsIsABoolean) {
  const std::string w = "data/targets/foo.json";
  EXPECT_FALSE(ParseTarget(kMinimal, w)->warm_statics);
  auto t = ParseTarget(With(R"("warm_statics": true)"), w);
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_TRUE(t->warm_statics);
  EXPECT_EQ(ParseTarget(With(R"("warm_statics": 1)"), w).message(),
            "data/targets/foo.json: warm_statics must be true or false; got 1");
}

// The core the dependency timing models see (qemu dep=on): keys given override the defaults,
// the rest keep them; every value is range-checked and named in its error.
TEST(Targets, CoreBlockOverridesDefaults) {
  const std::string w = "t.json";
  auto t = ParseTarget(With(R"("core": {"width": 3, "window": 72, "store_buffer": 16, )"
                            R"("latency": {"mul": 3, "l1": 3}, "units": {"alu": 3}})"),
                       w);
  ASSERT_TRUE(t.ok()) << t.message();
  CoreConfig defaults;
  EXPECT_EQ(t->core.width, 3);
  EXPECT_EQ(t->core.window, 72);
  EXPECT_EQ(t->core.issue, 0);   // the width
  EXPECT_EQ(t->core.load_queue, 0);
  EXPECT_FALSE(t->core.fetch_next_line);
  EXPECT_TRUE(t->core.fetch_stalls);
  EXPECT_EQ(t->core.store_buffer, 16);
  EXPECT_EQ(t->core.mispredict, defaults.mispredict);
  EXPECT_EQ(t->core.latency.at("mul"), 3);
  EXPECT_EQ(t->core.latency.at("l1"), 3);
  EXPECT_EQ(t->core.latency.at("div"), defaults.latency.at("div"));
  EXPECT_EQ(t->core.units.at("alu"), 3);
  EXPECT_EQ(t->core.units.at("fma"), defaults.units.at("fma"));
  EXPECT_EQ(ParseTarget(kMinimal, w)->core.width, defaults.width);
  // FP adds' and multiplies' own latencies: only when given ("fp" otherwise).
  EXPECT_EQ(t->core.lat_fadd, -1);
  EXPECT_EQ(t->core.lat_fmul, -1);
  EXPECT_FALSE(t->core.latency.count("fadd"));
  auto fp = ParseTarget(With(R"("core": {"latency": {"fp": 4, "fadd": 3, "fmul": 3}})"), w);
  ASSERT_TRUE(fp.ok()) << fp.message();
  EXPECT_EQ(fp->core.lat_fadd, 3);
  EXPECT_EQ(fp->core.lat_fmul, 3);
  EXPECT_EQ(fp->core.latency.at("fp"), 4);

  auto msg = [&](const std::string& extra) {
    auto r = ParseTarget(With(extra), w);
    return r.ok() ? std::string("<parsed>") : r.message();
  };
  EXPECT_EQ(msg(R"("core": {"widht": 3})"), "t.json: core: unknown key 'widht'; did you mean 'width'?");
  EXPECT_EQ(msg(R"("core": {"width": 0})"), "t.json: core: width must be in [1, 16]; got 0");
  EXPECT_EQ(msg(R"("core": {"issue": 17})"), "t.json: core: issue must be in [0, 16]; got 17");
  EXPECT_EQ(msg(R"("core": {"fetch_next_line": 1})"),
            "t.json: core: fetch_next_line must be true or false; got 1");
  EXPECT_EQ(msg(R"("core": {"fetch_stalls": "no"})"),
            "t.json: core: fetch_stalls must be true or false; got \"no\"");
  EXPECT_FALSE(ParseTarget(With(R"("core": {"fetch_stalls": false})"), w)->core.fetch_stalls);
  EXPECT_EQ(t->core.fetch_width, 0);   // off
  EXPECT_EQ(ParseTarget(With(R"("core": {"fetch_width": 3})"), w)->core.fetch_width, 3);
  EXPECT_EQ(msg(R"("core": {"fetch_width": 17})"),
            "t.json: core: fetch_width must be in [0, 16]; got 17");
  EXPECT_FALSE(t->core.forward_fail_drain);
  EXPECT_TRUE(ParseTarget(With(R"("core": {"forward_fail_drain": true})"), w)->core.forward_fail_drain);
  EXPECT_EQ(msg(R"("core": {"forward_fail_drain": "yes"})"),
            "t.json: core: forward_fail_drain must be true or false; got \"yes\"");
  EXPECT_FALSE(t->core.inorder_fetch);
  EXPECT_TRUE(ParseTarget(With(R"("core": {"inorder_fetch": true})"), w)->core.inorder_fetch);
  EXPECT_EQ(msg(R"("core": {"inorder_fetch": 1})"),
            "t.json: core: inorder_fetch must be true or false; got 1");
  EXPECT_EQ(t->core.split_store_line, 0);
  EXPECT_EQ(t->core.split_store_page, 0);
  auto split = ParseTarget(With(R"("core": {"split_store": {"page": 33}})"), w);
  ASSERT_TRUE(split.ok()) << split.message();
  EXPECT_EQ(split->core.split_store_page, 33);
  EXPECT_EQ(split->core.split_store_line, 0);
  EXPECT_EQ(msg(R"("core": {"split_store": {"page": -1}})"),
            "t.json: core: split_store: page must be in [0, 100000]; got -1");
  EXPECT_EQ(msg(R"("core": {"split_store": {"pages": 3}})"),
            "t.json: core: split_store: unknown key 'pages'; did you mean 'page'?");
  EXPECT_EQ(t->core.masked_store, 0);
  EXPECT_EQ(t->core.forward_latency_int, -1);
  auto fwd = ParseTarget(With(R"("core": {"forward_latency": {"fp": 9}})"), w);
  ASSERT_TRUE(fwd.ok()) << fwd.message();
  EXPECT_EQ(fwd->core.forward_latency_fp, 9);
  EXPECT_EQ(fwd->core.forward_latency_int, -1);
  EXPECT_EQ(msg(R"("core": {"forward_latency": {"vec": 9}})"),
            "t.json: core: forward_latency: unknown key 'vec'; valid keys: int, fp");
  EXPECT_EQ(t->core.forward_fail_int, -1);
  auto fail = ParseTarget(With(R"("core": {"forward_fail": {"int": 18, "fp": 20}})"), w);
  ASSERT_TRUE(fail.ok()) << fail.message();
  EXPECT_EQ(fail->core.forward_fail_int, 18);
  EXPECT_EQ(fail->core.forward_fail_fp, 20);
  EXPECT_EQ(msg(R"("core": {"forward_fail": {"fp": -1}})"),
            "t.json: core: forward_fail: fp must be in [0, 100000]; got -1");
  EXPECT_EQ(ParseTarget(With(R"("core": {"masked_store": 11})"), w)->core.masked_store, 11);
  EXPECT_EQ(t->core.masked_load_page, 0);
  EXPECT_EQ(ParseTarget(With(R"("core": {"masked_load_page": 400})"), w)->core.masked_load_page,
            400);
  EXPECT_EQ(msg(R"("core": {"masked_load_page": 100001})"),
            "t.json: core: masked_load_page must be in [0, 100000]; got 100001");
  EXPECT_EQ(t->core.l1_fill, 0);
  EXPECT_EQ(ParseTarget(With(R"("core": {"l1_fill": 2})"), w)->core.l1_fill, 2);
  EXPECT_EQ(msg(R"("core": {"l1_fill": -1})"), "t.json: core: l1_fill must be in [0, 100000]; got -1");
  EXPECT_EQ(msg(R"("core": {"masked_store": -2})"),
            "t.json: core: masked_store must be in [0, 100000]; got -2");
  EXPECT_EQ(msg(R"("core": {"split_store": 33})"),
            "t.json: core: split_store: expected an object; got integer");
  EXPECT_EQ(msg(R"("core": {"load_queue": -1})"),
            "t.json: core: load_queue must be in [0, 4096]; got -1");
  EXPECT_EQ(msg(R"("core": {"width": 4, "window": 2})"),
            "t.json: core: window (2) must be at least width (4)");
  EXPECT_EQ(msg(R"("core": {"latency": {"l1": 0}})"),
            "t.json: core: latency: l1 must be in [1, 100000]; got 0");
  EXPECT_EQ(msg(R"("core": {"latency": {"fadd": -1}})"),
            "t.json: core: latency: fadd must be in [0, 100000]; got -1");
  EXPECT_EQ(msg(R"("core": {"latency": {"fma": 4}})"),
            "t.json: core: latency: unknown key 'fma'; did you mean 'fmov'?");
  EXPECT_EQ(msg(R"("core": {"units": {"fp": 1}})"),
            "t.json: core: units: unknown key 'fp'; did you mean 'fma'?");
  EXPECT_EQ(msg(R"("core": {"units": {"load": 17}})"),
            "t.json: core: units: load must be in [0, 16]; got 17");
  EXPECT_EQ(msg(R"("core": [3])"), "t.json: core: expected an object; got array");
  EXPECT_EQ(msg(R"("core": {"forward": "no"})"), "t.json: core: forward must be true or false; got \"no\"");
  EXPECT_FALSE(ParseTarget(With(R"("core": {"forward": false})"), w)->core.forward);

  // The rvsim targets describe their models' cores.
  auto p550 = LoadTarget("riscv64-rvsim-p550");
  ASSERT_TRUE(p550.ok()) << p550.message();
  EXPECT_EQ(p550->core.width, 3);
  EXPECT_EQ(p550->core.window, 72);
  auto rocket = LoadTarget("riscv64-rvsim-rocket");
  ASSERT_TRUE(rocket.ok()) << rocket.message();
  EXPECT_EQ(rocket->core.width, 1);
  EXPECT_EQ(rocket->core.latency.at("mul"), 8);
  // As bench/rvsim_core_probe measures rvsim's Rocket model: load-to-use 3, moves 4, a
  // mispredict 6 cycles, one instruction fetched a cycle.
  EXPECT_EQ(rocket->core.latency.at("l1"), 3);
  EXPECT_EQ(rocket->core.latency.at("fmov"), 4);
  EXPECT_EQ(rocket->core.mispredict, 6);
  EXPECT_TRUE(rocket->core.inorder_fetch);
  EXPECT_FALSE(p550->core.inorder_fetch);
}

}  // namespace
}  // namespace simtune
