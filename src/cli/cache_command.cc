// `simtune cache`: how much the artifact cache holds, and pruning it to a size, least
// recently used first (PruneCache in build.h). The cache only grows otherwise: a tuning
// machine's reaches tens of GiB.
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "simtune/build.h"
#include "src/cli/subcommands.h"

namespace simtune::cli {
namespace {

struct CacheFlags {
  std::string cache = ".simtune-cache";
  std::string prune_to;
  double keep_recent_s = 3600;
  std::string json;
};

std::string Describe(const CacheUsage& u) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%lld entries (%lld failed builds), %lld objects, %lld scratch, %s",
                static_cast<long long>(u.entries), static_cast<long long>(u.failed_entries),
                static_cast<long long>(u.objects), static_cast<long long>(u.scratch),
                FormatBytes(u.bytes).c_str());
  return buf;
}

nlohmann::json ToJson(const CacheUsage& u) {
  return {{"entries", u.entries}, {"failed_entries", u.failed_entries}, {"objects", u.objects},
          {"scratch", u.scratch}, {"bytes", u.bytes}};
}

int RunCache(const CacheFlags& f) {
  nlohmann::json doc = {{"cache", f.cache}};
  if (f.prune_to.empty()) {
    auto usage = MeasureCache(f.cache);
    if (!usage.ok()) return Fail(usage.message());
    std::printf("cache %s: %s\n", f.cache.c_str(), Describe(*usage).c_str());
    doc["usage"] = ToJson(*usage);
  } else {
    auto limit = ParseBytes(f.prune_to, "--prune-to");
    if (!limit.ok()) return Fail(limit.message());
    PruneOptions options;
    options.max_bytes = *limit;
    options.keep_recent_s = f.keep_recent_s;
    auto r = PruneCache(f.cache, options);
    if (!r.ok()) return Fail(r.message());
    std::printf("cache %s: %s\n", f.cache.c_str(), Describe(r->before).c_str());
    std::printf("removed, least recently used first: %s\n", Describe(r->removed).c_str());
    std::printf("left: %s\n", Describe(r->after).c_str());
    if (r->after.bytes > *limit)
      std::printf("still above %s: what is left was used in the last %.0f s (--keep-recent) "
                  "or could not be removed\n", FormatBytes(*limit).c_str(), f.keep_recent_s);
    if (r->removed.entries > 0)
      std::printf("a store that refers to a removed entry gets it rebuilt by `simtune build` "
                  "(tune rebuilds the candidates it verifies)\n");
    doc["limit_bytes"] = *limit;
    doc["before"] = ToJson(r->before);
    doc["removed"] = ToJson(r->removed);
    doc["after"] = ToJson(r->after);
  }
  if (!f.json.empty()) return WriteJsonOutput(f.json, doc);
  return 0;
}

}  // namespace

Subcommand AddCacheCommand(CLI::App& app) {
  auto f = std::make_shared<CacheFlags>();
  auto* cmd = app.add_subcommand(
      "cache",
      "show the artifact cache's size; --prune-to SIZE removes the least recently used "
      "entries until it fits");
  cmd->add_option("--cache", f->cache, "artifact cache folder (default .simtune-cache)");
  cmd->add_option("--prune-to", f->prune_to,
                  "remove the least recently used entries, objects and leftover scratch until "
                  "the cache holds at most SIZE (4G, 500M, 0)");
  cmd->add_option("--keep-recent", f->keep_recent_s,
                  "keep what was used in the last SECONDS, whatever the size (default 3600: a "
                  "tune running now may read it)")
      ->check(NonNegativeSeconds());
  cmd->add_option("--json", f->json, "also write the figures as JSON to FILE ('-': stdout)");
  return {cmd, [f] { return RunCache(*f); }};
}

}  // namespace simtune::cli
