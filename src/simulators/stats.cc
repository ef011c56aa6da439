// SimStats <-> JSON. Absent measurements are absent keys (never zeros), so a record read back
// says exactly what its backend measured. Reading is strict: unknown keys and wrong types are
// errors naming the key, since records outlive the code that wrote them.
#include <algorithm>
#include <set>

#include "simtune/simulator.h"
#include "simtune/strings.h"

namespace simtune {
namespace {

const std::vector<std::string> kCacheLevels = {"l1i", "l1d", "l2", "l3"};

std::string Show(const nlohmann::json& j) {
  std::string s = j.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

Result<uint64_t> U64(const nlohmann::json& j, const std::string& what) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<int64_t>() >= 0))
    return Error{what + ": expected a non-negative integer; got " + Show(j)};
  return j.get<uint64_t>();
}

Result<std::string> Str(const nlohmann::json& j, const std::string& what) {
  if (!j.is_string()) return Error{what + ": expected a string; got " + Show(j)};
  return j.get<std::string>();
}

Result<std::map<std::string, uint64_t>> CountMap(const nlohmann::json& j,
                                                 const std::string& what,
                                                 const std::vector<std::string>* valid_keys) {
  if (!j.is_object()) return Error{what + ": expected an object; got " + Show(j)};
  std::map<std::string, uint64_t> out;
  for (const auto& [key, value] : j.items()) {
    if (valid_keys &&
        std::find(valid_keys->begin(), valid_keys->end(), key) == valid_keys->end())
      return Wrap(UnknownName("instruction class", key, *valid_keys), what);
    SIMTUNE_ASSIGN_OR_RETURN(out[key], U64(value, what + "." + key));
  }
  return out;
}

Result<CacheStats> ParseCache(const nlohmann::json& j, const std::string& what) {
  if (!j.is_object()) return Error{what + ": expected an object; got " + Show(j)};
  static const std::vector<std::string> kKeys = {"level", "read_hits", "read_misses",
                                                 "write_hits", "write_misses"};
  for (const auto& [key, value] : j.items())
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end())
      return Wrap(UnknownName("cache statistic", key, kKeys), what);
  for (const auto& key : kKeys)
    if (!j.contains(key)) return Error{what + ": missing key '" + key + "'"};
  CacheStats c;
  SIMTUNE_ASSIGN_OR_RETURN(c.level, Str(j["level"], what + ".level"));
  if (std::find(kCacheLevels.begin(), kCacheLevels.end(), c.level) == kCacheLevels.end())
    return Wrap(UnknownName("cache level", c.level, kCacheLevels), what + ".level");
  SIMTUNE_ASSIGN_OR_RETURN(c.read_hits, U64(j["read_hits"], what + ".read_hits"));
  SIMTUNE_ASSIGN_OR_RETURN(c.read_misses, U64(j["read_misses"], what + ".read_misses"));
  SIMTUNE_ASSIGN_OR_RETURN(c.write_hits, U64(j["write_hits"], what + ".write_hits"));
  SIMTUNE_ASSIGN_OR_RETURN(c.write_misses, U64(j["write_misses"], what + ".write_misses"));
  return c;
}

Result<SimStats> Parse(const nlohmann::json& j) {
  static const std::vector<std::string> kKeys = {
      "schema_version", "simulator", "insn_count", "classes", "loads", "stores",
      "load_bytes", "store_bytes", "accesses_by_size", "caches", "branches",
      "branch_mispredicts", "reuse_log2", "extra"};
  if (!j.is_object()) return Error{"expected a JSON object; got " + Show(j)};
  for (const auto& [key, value] : j.items())
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end())
      return UnknownName("statistics key", key, kKeys);
  for (const char* key : {"schema_version", "simulator", "insn_count"})
    if (!j.contains(key)) return Error{std::string("missing key '") + key + "'"};

  SimStats s;
  if (!j["schema_version"].is_number_integer())
    return Error{"schema_version: expected an integer; got " + Show(j["schema_version"])};
  int version = j["schema_version"].get<int>();
  if (version != kSimStatsSchemaVersion)
    return Error{"statistics schema_version " + std::to_string(version) +
                 " is not supported (this build reads version " +
                 std::to_string(kSimStatsSchemaVersion) + ")"};
  SIMTUNE_ASSIGN_OR_RETURN(s.simulator, Str(j["simulator"], "simulator"));
  SIMTUNE_ASSIGN_OR_RETURN(s.insn_count, U64(j["insn_count"], "insn_count"));
  if (j.contains("classes")) {
    SIMTUNE_ASSIGN_OR_RETURN(s.classes, CountMap(j["classes"], "classes", &kInsnClasses));
  }
  struct Opt {
    const char* key;
    std::optional<uint64_t>* field;
  };
  for (const Opt& o : {Opt{"loads", &s.loads}, Opt{"stores", &s.stores},
                       Opt{"load_bytes", &s.load_bytes}, Opt{"store_bytes", &s.store_bytes},
                       Opt{"branches", &s.branches},
                       Opt{"branch_mispredicts", &s.branch_mispredicts}}) {
    if (!j.contains(o.key)) continue;
    SIMTUNE_ASSIGN_OR_RETURN(*o.field, U64(j[o.key], o.key));
  }
  if (j.contains("accesses_by_size")) {
    SIMTUNE_ASSIGN_OR_RETURN(s.accesses_by_size,
                             CountMap(j["accesses_by_size"], "accesses_by_size", nullptr));
    for (const auto& [size, count] : s.accesses_by_size) {
      auto bytes = ParseInt(size, "accesses_by_size key");
      if (!bytes.ok() || *bytes <= 0)
        return Error{"accesses_by_size: key must be a size in bytes; got '" + size + "'"};
    }
  }
  if (j.contains("caches")) {
    const auto& caches = j["caches"];
    if (!caches.is_array()) return Error{"caches: expected an array; got " + Show(caches)};
    std::set<std::string> seen;
    for (size_t i = 0; i < caches.size(); ++i) {
      SIMTUNE_ASSIGN_OR_RETURN(CacheStats c,
                               ParseCache(caches[i], "caches[" + std::to_string(i) + "]"));
      if (!seen.insert(c.level).second)
        return Error{"caches: level '" + c.level + "' appears twice"};
      s.caches.push_back(c);
    }
  }
  if (j.contains("reuse_log2")) {
    const auto& reuse = j["reuse_log2"];
    if (!reuse.is_array()) return Error{"reuse_log2: expected an array; got " + Show(reuse)};
    for (size_t i = 0; i < reuse.size(); ++i) {
      SIMTUNE_ASSIGN_OR_RETURN(uint64_t v, U64(reuse[i], "reuse_log2[" + std::to_string(i) + "]"));
      s.reuse_log2.push_back(v);
    }
  }
  if (j.contains("extra")) {
    if (!j["extra"].is_object()) return Error{"extra: expected an object; got " + Show(j["extra"])};
    s.extra = j["extra"];
  }
  return s;
}

}  // namespace

nlohmann::json SimStats::ToJson() const {
  nlohmann::json j;
  j["schema_version"] = schema_version;
  j["simulator"] = simulator;
  j["insn_count"] = insn_count;
  if (!classes.empty()) j["classes"] = classes;
  if (loads) j["loads"] = *loads;
  if (stores) j["stores"] = *stores;
  if (load_bytes) j["load_bytes"] = *load_bytes;
  if (store_bytes) j["store_bytes"] = *store_bytes;
  if (!accesses_by_size.empty()) j["accesses_by_size"] = accesses_by_size;
  if (!caches.empty()) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& c : caches)
      arr.push_back({{"level", c.level},
                     {"read_hits", c.read_hits},
                     {"read_misses", c.read_misses},
                     {"write_hits", c.write_hits},
                     {"write_misses", c.write_misses}});
    j["caches"] = arr;
  }
  if (branches) j["branches"] = *branches;
  if (branch_mispredicts) j["branch_mispredicts"] = *branch_mispredicts;
  if (!reuse_log2.empty()) j["reuse_log2"] = reuse_log2;
  j["extra"] = extra.is_object() ? extra : nlohmann::json::object();
  return j;
}

Result<SimStats> SimStats::FromJson(const nlohmann::json& j, const std::string& where) {
  auto parsed = Parse(j);
  if (!parsed.ok()) return Wrap(parsed.error(), where);
  return parsed;
}

}  // namespace simtune
