// The artifact cache's size and pruning (MeasureCache, PruneCache): a cache laid out by hand
// with known ages, and a real build whose reuse of an entry marks it as used.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "simtune/build.h"
#include "simtune/target.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

fs::path FreshDir(const std::string& name) {
  fs::path dir = fs::path(SIMTUNE_TEST_BINARY_DIR) / "cache-test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string Hash(char c) { return std::string(64, c); }

void WriteBytes(const fs::path& file, size_t n) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << std::string(n, 'x');
}

void SetAge(const fs::path& path, double age_s) {
  auto when = fs::file_time_type::clock::now() -
              std::chrono::duration_cast<fs::file_time_type::duration>(
                  std::chrono::duration<double>(age_s));
  fs::last_write_time(path, when);
}

// An entry <xx>/<hash>/ with a 64 KiB artifact.elf (or none: a failed build), `age_s` old.
fs::path Entry(const fs::path& cache, char c, double age_s, bool built = true) {
  fs::path dir = cache / std::string(2, c) / Hash(c);
  WriteBytes(dir / (built ? "artifact.elf" : "build.log"), 64 * 1024);
  SetAge(dir, age_s);
  return dir;
}

TEST(Cache, MeasuresOnlyWhatIsTheCaches) {
  fs::path cache = FreshDir("measure");
  Entry(cache, 'a', 10);
  Entry(cache, 'b', 20, /*built=*/false);
  WriteBytes(cache / "obj" / (Hash('c') + ".o"), 4096);
  WriteBytes(cache / "dd" / ".tmp-dddd-1-0" / "kernel.c", 100);
  // Not the cache's: left alone and not counted.
  WriteBytes(cache / "notes.txt", 1 << 20);
  WriteBytes(cache / "zz" / Hash('z') / "artifact.elf", 1 << 20);    // not a hex shard
  WriteBytes(cache / "ee" / Hash('f') / "artifact.elf", 1 << 20);    // wrong shard
  WriteBytes(cache / "obj" / "readme.o", 1 << 20);
  auto u = MeasureCache(cache);
  ASSERT_TRUE(u.ok()) << u.message();
  EXPECT_EQ(u->entries, 2);
  EXPECT_EQ(u->failed_entries, 1);
  EXPECT_EQ(u->objects, 1);
  EXPECT_EQ(u->scratch, 1);
  EXPECT_GE(u->bytes, 2 * 64 * 1024 + 4096);
  EXPECT_LT(u->bytes, 1 << 20);
}

TEST(Cache, PrunesLeastRecentlyUsedFirstAndKeepsRecentOnes) {
  fs::path cache = FreshDir("prune");
  fs::path oldest = Entry(cache, 'a', 5 * 86400);
  fs::path old = Entry(cache, 'b', 4 * 86400);
  fs::path newer = Entry(cache, 'c', 3 * 86400);
  fs::path recent = Entry(cache, 'd', 60);   // used a minute ago
  fs::path stale_scratch = cache / "ee" / ".tmp-eeee-1-0";
  WriteBytes(stale_scratch / "kernel.c", 100);
  SetAge(stale_scratch, 2 * 86400);
  fs::path live_scratch = cache / "ee" / ".tmp-eeee-2-0";
  WriteBytes(live_scratch / "kernel.c", 100);
  fs::path unrelated = cache / "notes.txt";
  WriteBytes(unrelated, 100);
  auto before = MeasureCache(cache);
  ASSERT_TRUE(before.ok());
  int64_t entry_bytes = (before->bytes - 2 * 8192) / 4;   // about 64 KiB each

  // Room for two entries: the two least recently used go, the stale scratch too.
  PruneOptions o;
  o.max_bytes = 2 * entry_bytes + 3 * 8192;
  o.keep_recent_s = 3600;
  auto r = PruneCache(cache, o);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_FALSE(fs::exists(oldest));
  EXPECT_FALSE(fs::exists(old));
  EXPECT_TRUE(fs::exists(newer / "artifact.elf"));
  EXPECT_TRUE(fs::exists(recent / "artifact.elf"));
  EXPECT_FALSE(fs::exists(stale_scratch));
  EXPECT_TRUE(fs::exists(live_scratch));
  EXPECT_TRUE(fs::exists(unrelated));
  EXPECT_EQ(r->before.entries, 4);
  EXPECT_EQ(r->removed.entries, 2);
  EXPECT_EQ(r->removed.scratch, 1);
  EXPECT_EQ(r->after.entries, 2);
  EXPECT_LE(r->after.bytes, o.max_bytes);
  EXPECT_EQ(r->before.bytes, r->removed.bytes + r->after.bytes);
  // Nothing was left under a scratch name by the moves aside.
  auto now = MeasureCache(cache);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->scratch, 1);
  EXPECT_EQ(now->bytes, r->after.bytes);

  // Pruning to nothing keeps what was used in the last hour.
  o.max_bytes = 0;
  r = PruneCache(cache, o);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_FALSE(fs::exists(newer));
  EXPECT_TRUE(fs::exists(recent / "artifact.elf"));
  EXPECT_TRUE(fs::exists(live_scratch));
  EXPECT_EQ(r->after.entries, 1);
  EXPECT_GT(r->after.bytes, 0);

  // ... unless told otherwise.
  o.keep_recent_s = 0;
  r = PruneCache(cache, o);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_FALSE(fs::exists(recent));
  EXPECT_EQ(r->after.entries, 0);
  EXPECT_TRUE(fs::exists(unrelated));
}

TEST(Cache, ErrorsNameTheFolderAndTheSize) {
  auto r = PruneCache("/nonexistent/cache", PruneOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("'/nonexistent/cache'"), std::string::npos) << r.message();
  auto bad = ParseBytes("4x", "--prune-to");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "--prune-to: expected a size such as 4G, 500M or 2048 (bytes); got '4x'");
}

TEST(Cache, ParsesAndFormatsSizes) {
  EXPECT_EQ(*ParseBytes("0", "s"), 0);
  EXPECT_EQ(*ParseBytes("2048", "s"), 2048);
  EXPECT_EQ(*ParseBytes("512B", "s"), 512);
  EXPECT_EQ(*ParseBytes("4K", "s"), 4096);
  EXPECT_EQ(*ParseBytes("500M", "s"), 500LL << 20);
  EXPECT_EQ(*ParseBytes("1.5GiB", "s"), 3LL << 29);
  EXPECT_EQ(*ParseBytes("4 g", "s"), 4LL << 30);
  EXPECT_EQ(*ParseBytes("2TB", "s"), 2LL << 40);
  EXPECT_FALSE(ParseBytes("", "s").ok());
  EXPECT_FALSE(ParseBytes("-1G", "s").ok());
  EXPECT_FALSE(ParseBytes("1E", "s").ok());
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(320LL << 20), "320 MiB");
  EXPECT_EQ(FormatBytes(17LL << 30), "17 GiB");
}

// A build that reuses an entry marks it as used, so pruning keeps what tunes still use.
TEST(Cache, ReusingAnEntryMarksItUsed) {
  auto target = LoadTarget("x86_64-host");
  ASSERT_TRUE(target.ok()) << target.message();
  KernelSource s;
  s.code = "void simtune_kernel(float *const *bufs) {\n"
           "  for (int i = 0; i < 64; ++i) bufs[1][i] = 2 * bufs[0][i];\n}\n";
  s.reference_code = "void simtune_reference(float *const *bufs) {\n"
                     "  for (int i = 0; i < 64; ++i) bufs[1][i] = bufs[0][i] + bufs[0][i];\n}\n";
  s.buffers = {{"X", 64, false}, {"Y", 64, true}};
  s.flops = 64;
  BuildOptions o;
  o.cache_dir = FreshDir("touch");
  o.jobs = 1;
  Builder builder(o);
  Artifact first = builder.BuildSource(s, *target);
  ASSERT_TRUE(first.ok()) << first.message << "\n" << first.build_log;
  fs::path entry = first.elf.parent_path();
  SetAge(entry, 10 * 86400);
  for (const auto& obj : fs::directory_iterator(o.cache_dir / "obj")) SetAge(obj.path(), 10 * 86400);

  Artifact again = builder.BuildSource(s, *target);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.cached);
  auto age = [](const fs::path& p) {
    return std::chrono::duration<double>(fs::file_time_type::clock::now() - fs::last_write_time(p))
        .count();
  };
  EXPECT_LT(age(entry), 600);
  PruneOptions prune;
  prune.max_bytes = 0;
  auto r = PruneCache(o.cache_dir, prune);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(fs::exists(first.elf));   // used just now
  EXPECT_EQ(r->removed.entries, 0);
  EXPECT_EQ(r->removed.objects, 2);     // reference.o and harness.o: not linked since
}

}  // namespace
}  // namespace simtune
