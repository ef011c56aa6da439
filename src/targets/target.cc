#include "simtune/target.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "simtune/files.h"
#include "simtune/paths.h"
#include "simtune/strings.h"

namespace simtune {
namespace {

using nlohmann::json;

std::string TypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "value";
  }
}

// Checks an object's keys against the known ones; `where` already includes the path to
// the object ("foo.json: caches[1]").
Status CheckKeys(const json& obj, const std::vector<std::string>& known,
                 const std::vector<std::string>& required, const std::string& where) {
  for (const auto& [key, value] : obj.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string msg = where + ": unknown key '" + key + "'";
    std::string s = Suggest(key, known);
    if (!s.empty()) return Error{msg + "; did you mean '" + s + "'?"};
    return Error{msg + "; valid keys: " + Join(known, ", ")};
  }
  for (const auto& key : required)
    if (!obj.contains(key)) return Error{where + ": missing key '" + key + "'"};
  return Status::Ok();
}

Error TypeError(const std::string& where, const std::string& key, const std::string& want,
                const json& got) {
  return Error{where + ": key '" + key + "': expected " + want + "; got " + TypeName(got)};
}

Result<std::string> GetString(const json& obj, const std::string& key, const std::string& where) {
  const json& v = obj.at(key);
  if (!v.is_string()) return TypeError(where, key, "a string", v);
  return v.get<std::string>();
}

Result<std::vector<std::string>> GetStrings(const json& obj, const std::string& key,
                                            const std::string& where) {
  const json& v = obj.at(key);
  if (!v.is_array()) return TypeError(where, key, "an array of strings", v);
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      return TypeError(where, key + "[" + std::to_string(i) + "]", "a string", v[i]);
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

Result<int64_t> GetInt(const json& obj, const std::string& key, const std::string& where) {
  const json& v = obj.at(key);
  if (!v.is_number_integer()) return TypeError(where, key, "an integer", v);
  return v.get<int64_t>();
}

Status CheckOneOf(const std::string& value, const std::vector<std::string>& valid,
                  const std::string& kind, const std::string& where) {
  if (std::find(valid.begin(), valid.end(), value) != valid.end()) return Status::Ok();
  return Wrap(UnknownName(kind, value, valid), where);
}

bool PowerOfTwo(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

Result<CacheLevel> ParseCache(const json& j, const std::string& where) {
  if (!j.is_object()) return Error{where + ": expected an object; got " + TypeName(j)};
  SIMTUNE_RETURN_IF_ERROR(CheckKeys(j, {"level", "size", "ways", "line", "policy"},
                                    {"level", "size", "ways", "line"}, where));
  CacheLevel c;
  SIMTUNE_ASSIGN_OR_RETURN(c.level, GetString(j, "level", where));
  SIMTUNE_RETURN_IF_ERROR(CheckOneOf(c.level, {"l1d", "l1i", "l2", "l3"}, "cache level", where));
  SIMTUNE_ASSIGN_OR_RETURN(c.size_bytes, GetInt(j, "size", where));
  SIMTUNE_ASSIGN_OR_RETURN(int64_t ways, GetInt(j, "ways", where));
  SIMTUNE_ASSIGN_OR_RETURN(int64_t line, GetInt(j, "line", where));
  if (j.contains("policy")) {
    SIMTUNE_ASSIGN_OR_RETURN(c.policy, GetString(j, "policy", where));
    SIMTUNE_RETURN_IF_ERROR(CheckOneOf(c.policy, {"fifo", "lru", "random"}, "cache policy", where));
  }
  // The cap matches the qemu plugin's (plugins/qemu): simulators allocate the tag arrays.
  if (c.size_bytes <= 0 || c.size_bytes > (int64_t{1} << 30))
    return Error{where + ": size must be in [1, 1073741824]; got " + std::to_string(c.size_bytes)};
  if (ways <= 0 || ways > 1024)
    return Error{where + ": ways must be in [1, 1024]; got " + std::to_string(ways)};
  if (!PowerOfTwo(line) || line > 4096)
    return Error{where + ": line must be a power of two <= 4096; got " + std::to_string(line)};
  c.ways = static_cast<int>(ways);
  c.line_bytes = static_cast<int>(line);
  int64_t set_bytes = ways * line;
  if (c.size_bytes % set_bytes != 0 || !PowerOfTwo(c.size_bytes / set_bytes))
    return Error{where + ": size " + std::to_string(c.size_bytes) +
                 " must be a power-of-two number of sets of ways*line = " +
                 std::to_string(ways) + "*" + std::to_string(line) + " bytes"};
  return c;
}

Result<BranchPredictorConfig> ParsePredictor(const json& j, const std::string& where) {
  if (!j.is_object()) return Error{where + ": expected an object; got " + TypeName(j)};
  BranchPredictorConfig bp;
  if (j.contains("kind") && j["kind"] == "tournament") {
    const std::vector<std::string> keys = {"kind", "entries", "local_entries", "local_counters"};
    SIMTUNE_RETURN_IF_ERROR(CheckKeys(j, keys, keys, where));   // every key required
  } else if (j.contains("kind") && j["kind"] == "tage") {
    const std::vector<std::string> keys = {"kind", "entries", "tagged_entries", "tables", "max_history"};
    SIMTUNE_RETURN_IF_ERROR(CheckKeys(j, keys, keys, where));   // every key required
  } else {
    SIMTUNE_RETURN_IF_ERROR(
        CheckKeys(j, {"kind", "entries", "history_bits"}, {"kind", "entries"}, where));
  }
  SIMTUNE_ASSIGN_OR_RETURN(bp.kind, GetString(j, "kind", where));
  SIMTUNE_RETURN_IF_ERROR(
      CheckOneOf(bp.kind, {"bimodal", "gshare", "tournament", "tage"}, "branch predictor", where));
  auto power_of_two = [&](const char* key) -> Result<int> {
    SIMTUNE_ASSIGN_OR_RETURN(int64_t n, GetInt(j, key, where));
    if (!PowerOfTwo(n) || n > (int64_t{1} << 24))
      return Error{where + ": " + key + " must be a power of two <= 16777216; got " +
                   std::to_string(n)};
    return static_cast<int>(n);
  };
  SIMTUNE_ASSIGN_OR_RETURN(bp.entries, power_of_two("entries"));
  if (bp.kind == "tournament") {
    SIMTUNE_ASSIGN_OR_RETURN(bp.local_entries, power_of_two("local_entries"));
    SIMTUNE_ASSIGN_OR_RETURN(bp.local_counters, power_of_two("local_counters"));
  }
  if (bp.kind == "tage") {
    SIMTUNE_ASSIGN_OR_RETURN(bp.tagged_entries, power_of_two("tagged_entries"));
    SIMTUNE_ASSIGN_OR_RETURN(int64_t tables, GetInt(j, "tables", where));
    if (tables < 1 || tables > 12)
      return Error{where + ": tables must be in [1, 12]; got " + std::to_string(tables)};
    bp.tables = static_cast<int>(tables);
    SIMTUNE_ASSIGN_OR_RETURN(int64_t longest, GetInt(j, "max_history", where));
    if (longest < 8 || longest > 1024)
      return Error{where + ": max_history must be in [8, 1024]; got " + std::to_string(longest)};
    bp.max_history = static_cast<int>(longest);
  }
  bp.history_bits = 0;
  if (j.contains("history_bits")) {
    SIMTUNE_ASSIGN_OR_RETURN(int64_t bits, GetInt(j, "history_bits", where));
    if (bits < 0 || bits > 30)
      return Error{where + ": history_bits must be in [0, 30]; got " + std::to_string(bits)};
    bp.history_bits = static_cast<int>(bits);
  }
  if (bp.kind == "gshare" && bp.history_bits == 0)
    return Error{where + ": a gshare predictor needs history_bits > 0"};
  return bp;
}

Result<CoreConfig> ParseCore(const json& j, const std::string& where) {
  if (!j.is_object()) return Error{where + ": expected an object; got " + TypeName(j)};
  SIMTUNE_RETURN_IF_ERROR(
      CheckKeys(j,
                {"width", "issue", "window", "mispredict", "store_buffer", "load_queue", "forward",
                 "fetch_next_line", "fetch_stalls", "fetch_width", "forward_fail_drain", "inorder_fetch",
                 "split_store", "split_load", "masked_store",
                 "masked_load_page", "l1_fill",
                 "forward_latency", "forward_fail", "latency", "units"},
                {}, where));
  CoreConfig core;
  auto in_range = [&](const json& obj, const std::string& key, int64_t lo, int64_t hi,
                      const std::string& at) -> Result<int> {
    SIMTUNE_ASSIGN_OR_RETURN(int64_t n, GetInt(obj, key, at));
    if (n < lo || n > hi)
      return Error{at + ": " + key + " must be in [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "]; got " + std::to_string(n)};
    return static_cast<int>(n);
  };
  if (j.contains("width")) {
    SIMTUNE_ASSIGN_OR_RETURN(core.width, in_range(j, "width", 1, 16, where));
  }
  if (j.contains("issue")) {
    SIMTUNE_ASSIGN_OR_RETURN(core.issue, in_range(j, "issue", 0, 16, where));
  }
  if (j.contains("window")) {
    SIMTUNE_ASSIGN_OR_RETURN(core.window, in_range(j, "window", 1, 4096, where));
  }
  if (core.window < core.width)
    return Error{where + ": window (" + std::to_string(core.window) +
                 ") must be at least width (" + std::to_string(core.width) + ")"};
  if (j.contains("store_buffer")) {
    SIMTUNE_ASSIGN_OR_RETURN(core.store_buffer, in_range(j, "store_buffer", 0, 4096, where));
  }
  if (j.contains("load_queue")) {
    SIMTUNE_ASSIGN_OR_RETURN(core.load_queue, in_range(j, "load_queue", 0, 4096, where));
  }
  if (j.contains("fetch_width")) {
    SIMTUNE_ASSIGN_OR_RETURN(core.fetch_width, in_range(j, "fetch_width", 0, 16, where));
  }
  for (auto [key, flag] : {std::pair<const char*, bool*>{"forward", &core.forward},
                           {"fetch_next_line", &core.fetch_next_line},
                           {"fetch_stalls", &core.fetch_stalls},
                           {"forward_fail_drain", &core.forward_fail_drain},
                           {"inorder_fetch", &core.inorder_fetch}}) {
    if (!j.contains(key)) continue;
    if (!j.at(key).is_boolean())
      return Error{where + ": " + key + " must be true or false; got " + j.at(key).dump()};
    *flag = j.at(key).get<bool>();
  }
  // Cycles, none to many: a mispredict's restart, a masked store's stall, a masked load's
  // assist, an l1d line fill; and a split load's extra load-unit slots.
  for (auto [key, cycles] : {std::pair<const char*, int*>{"mispredict", &core.mispredict},
                             {"masked_store", &core.masked_store},
                             {"split_load", &core.split_load},
                             {"masked_load_page", &core.masked_load_page},
                             {"l1_fill", &core.l1_fill}}) {
    if (!j.contains(key)) continue;
    SIMTUNE_ASSIGN_OR_RETURN(*cycles, in_range(j, key, 0, 100000, where));
  }
  // An object of named integers, each in [its low, high], only the names given:
  // "forward_latency": {"int": 0, "fp": 9}. Values it lacks keep theirs.
  struct NamedInt {
    std::string name;
    int* value;
    int64_t low;
  };
  auto named_ints = [&](const char* key, const std::vector<NamedInt>& fields,
                        int64_t high) -> Status {
    if (!j.contains(key)) return Status::Ok();
    const json& obj = j.at(key);
    const std::string at = where + ": " + key;
    if (!obj.is_object()) return Error{at + ": expected an object; got " + TypeName(obj)};
    std::vector<std::string> names;
    for (const auto& f : fields) names.push_back(f.name);
    SIMTUNE_RETURN_IF_ERROR(CheckKeys(obj, names, {}, at));
    for (const auto& f : fields) {
      if (!obj.contains(f.name)) continue;
      SIMTUNE_ASSIGN_OR_RETURN(*f.value, in_range(obj, f.name, f.low, high, at));
    }
    return Status::Ok();
  };
  SIMTUNE_RETURN_IF_ERROR(named_ints(
      "forward_latency",
      {{"int", &core.forward_latency_int, 0}, {"fp", &core.forward_latency_fp, 0}}, 100000));
  SIMTUNE_RETURN_IF_ERROR(named_ints(
      "forward_fail", {{"int", &core.forward_fail_int, 0}, {"fp", &core.forward_fail_fp, 0}},
      100000));
  SIMTUNE_RETURN_IF_ERROR(named_ints(
      "split_store", {{"line", &core.split_store_line, 0}, {"page", &core.split_store_page, 0}},
      100000));
  // "latency" and "units": objects whose keys are the defaults' kinds, each value in
  // [low(kind), high], and the optional fields `more`.
  auto by_kind = [&](const char* key, std::map<std::string, int>& values, auto low,
                     int64_t high, std::vector<NamedInt> more = {}) -> Status {
    std::vector<NamedInt> fields;
    for (auto& [kind, value] : values) fields.push_back({kind, &value, low(kind)});
    fields.insert(fields.end(), more.begin(), more.end());
    return named_ints(key, fields, high);
  };
  // A load is served by some level: at least one cycle; the other latencies may be none.
  // "fadd" and "fmul" (FP adds and multiplies, when they differ from "fp") only when given.
  SIMTUNE_RETURN_IF_ERROR(by_kind("latency", core.latency, [](const std::string& kind) {
    return kind == "l1" || kind == "l2" || kind == "l3" || kind == "mem" ? 1 : 0;
  }, 100000, {{"fadd", &core.lat_fadd, 0}, {"fmul", &core.lat_fmul, 0}}));
  SIMTUNE_RETURN_IF_ERROR(
      by_kind("units", core.units, [](const std::string&) { return 0; }, 16));
  return core;
}

std::filesystem::path TargetsDir() { return DataDir() / "targets"; }

// The targets being loaded through build_target: the outermost's name, then each
// build_target followed (names of files, so the chain is finite). A name met again is a
// cycle, reported as such instead of recursing until the stack overflows.
struct BuildChain {
  std::vector<std::string> names;
  bool cycle = false;   // the error being returned is the cycle's: pass it up unwrapped
};

Result<Target> ParseTargetIn(const std::string& json_text, const std::string& where,
                             BuildChain& chain);
Result<Target> LoadTargetIn(const std::string& name_or_path, BuildChain& chain);

}  // namespace

const CacheLevel* Target::Cache(const std::string& level) const {
  for (const auto& c : caches)
    if (c.level == level) return &c;
  return nullptr;
}

Result<Target> ParseTarget(const std::string& json_text, const std::string& where) {
  BuildChain chain;
  return ParseTargetIn(json_text, where, chain);
}

Result<Target> LoadTarget(const std::string& name_or_path) {
  BuildChain chain;
  return LoadTargetIn(name_or_path, chain);
}

namespace {

Result<Target> ParseTargetIn(const std::string& json_text, const std::string& where,
                             BuildChain& chain) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix; keep the position.
    std::string what = e.what();
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    return Error{where + ": invalid JSON: " + what};
  }
  if (!j.is_object()) return Error{where + ": expected a JSON object; got " + TypeName(j)};
  static const std::vector<std::string> kKeys = {
      "name",         "description",       "isa",        "os",         "cc",
      "cflags",       "ldflags",           "runner",     "simulators", "references",
      "caches",       "branch_predictor",  "build_target", "reference_options",
      "mca_cpu",      "clock_hz",          "core",       "warm_statics"};
  // The build recipe: a reference target takes it from its build_target instead.
  static const std::vector<std::string> kBuildKeys = {"isa",     "os",    "cc", "cflags",
                                                      "ldflags", "runner"};
  bool derived = j.is_object() && j.contains("build_target");
  SIMTUNE_RETURN_IF_ERROR(CheckKeys(
      j, kKeys, derived ? std::vector<std::string>{"name"}
                        : std::vector<std::string>{"name", "isa", "os", "cc"},
      where));

  Target t;
  SIMTUNE_ASSIGN_OR_RETURN(t.name, GetString(j, "name", where));
  if (t.name.empty() || t.name.find_first_of("/ \t") != std::string::npos)
    return Error{where + ": name must be non-empty without '/' or spaces; got '" + t.name + "'"};
  if (j.contains("description")) {
    SIMTUNE_ASSIGN_OR_RETURN(t.description, GetString(j, "description", where));
  }
  if (derived) {
    SIMTUNE_ASSIGN_OR_RETURN(t.build_target, GetString(j, "build_target", where));
    for (const auto& key : kBuildKeys)
      if (j.contains(key))
        return Error{where + ": key '" + key + "' comes from build_target '" + t.build_target +
                     "'; remove it"};
    if (t.build_target == t.name)
      return Error{where + ": build_target names the target itself"};
    if (chain.names.empty()) chain.names.push_back(t.name);
    chain.names.push_back(t.build_target);
    if (std::find(chain.names.begin(), chain.names.end() - 1, t.build_target) !=
        chain.names.end() - 1) {
      chain.cycle = true;
      return Error{"target " + chain.names.front() + ": build_target cycle " +
                   Join(chain.names, " -> ")};
    }
    auto base = LoadTargetIn(t.build_target, chain);
    chain.names.pop_back();
    if (!base.ok())
      return chain.cycle ? base.error() : Wrap(base.error(), where + ": build_target");
    if (!base->build_target.empty())
      return Error{where + ": build_target '" + t.build_target + "' has a build_target itself ('" +
                   base->build_target + "'); name that one instead"};
    t.isa = base->isa;
    t.os = base->os;
    t.cc = base->cc;
    t.cflags = base->cflags;
    t.ldflags = base->ldflags;
    t.runner = base->runner;
  } else {
    SIMTUNE_ASSIGN_OR_RETURN(t.isa, GetString(j, "isa", where));
    SIMTUNE_RETURN_IF_ERROR(CheckOneOf(t.isa, {"aarch64", "riscv64", "x86_64"}, "isa", where));
    SIMTUNE_ASSIGN_OR_RETURN(t.os, GetString(j, "os", where));
    SIMTUNE_RETURN_IF_ERROR(CheckOneOf(t.os, {"baremetal", "linux"}, "os", where));
    SIMTUNE_ASSIGN_OR_RETURN(t.cc, GetString(j, "cc", where));
    if (t.cc.empty()) return Error{where + ": cc must not be empty"};
  }
  const std::pair<const char*, std::vector<std::string>*> lists[] = {
      {"cflags", &t.cflags},
      {"ldflags", &t.ldflags},
      {"runner", &t.runner},
      {"simulators", &t.simulators},
      {"references", &t.references}};
  for (auto [key, field] : lists) {
    if (!j.contains(key)) continue;
    SIMTUNE_ASSIGN_OR_RETURN(*field, GetStrings(j, key, where));
  }
  if (j.contains("reference_options")) {
    const json& ro = j.at("reference_options");
    if (!ro.is_object())
      return TypeError(where, "reference_options", "an object of strings", ro);
    for (const auto& [ref, value] : ro.items()) {
      if (!value.is_string())
        return TypeError(where, "reference_options." + ref, "a string", value);
      if (std::find(t.references.begin(), t.references.end(), ref) == t.references.end())
        return Error{where + ": reference_options names '" + ref +
                     "', which is not in references [" + Join(t.references, ", ") + "]"};
      t.reference_options[ref] = value.get<std::string>();
    }
  }
  if (j.contains("caches")) {
    const json& caches = j.at("caches");
    if (!caches.is_array()) return TypeError(where, "caches", "an array of objects", caches);
    std::set<std::string> seen;
    for (size_t i = 0; i < caches.size(); ++i) {
      std::string at = where + ": caches[" + std::to_string(i) + "]";
      SIMTUNE_ASSIGN_OR_RETURN(CacheLevel c, ParseCache(caches[i], at));
      if (!seen.insert(c.level).second)
        return Error{at + ": cache level '" + c.level + "' appears twice"};
      t.caches.push_back(std::move(c));
    }
  }
  if (j.contains("mca_cpu")) {
    SIMTUNE_ASSIGN_OR_RETURN(t.mca_cpu, GetString(j, "mca_cpu", where));
    if (t.mca_cpu.empty() || t.mca_cpu.find_first_of(" \t,") != std::string::npos)
      return Error{where + ": mca_cpu must be an llvm-mca CPU name (llc -mcpu=help); got '" +
                   t.mca_cpu + "'"};
  }
  if (j.contains("clock_hz")) {
    const json& hz = j.at("clock_hz");
    if (!hz.is_number() || !(hz.get<double>() > 0) || !std::isfinite(hz.get<double>()))
      return Error{where + ": clock_hz must be a positive number (Hz); got " + hz.dump()};
    t.clock_hz = hz.get<double>();
  }
  if (j.contains("warm_statics")) {
    if (!j.at("warm_statics").is_boolean())
      return Error{where + ": warm_statics must be true or false; got " + j.at("warm_statics").dump()};
    t.warm_statics = j.at("warm_statics").get<bool>();
  }
  if (j.contains("branch_predictor")) {
    SIMTUNE_ASSIGN_OR_RETURN(t.branch_predictor,
                             ParsePredictor(j.at("branch_predictor"), where + ": branch_predictor"));
  }
  if (j.contains("core")) {
    SIMTUNE_ASSIGN_OR_RETURN(t.core, ParseCore(j.at("core"), where + ": core"));
  }
  t.source = where;
  return t;
}

}  // namespace

std::string MergeReferenceOptions(const Target& target, const std::string& reference,
                                  const std::string& given) {
  auto items = [](const std::string& text) {
    std::vector<std::string> out;
    if (Trim(text).empty()) return out;
    for (const auto& item : Split(text, ',')) out.push_back(Trim(item));
    return out;
  };
  auto key_of = [](const std::string& item) { return Trim(item.substr(0, item.find('='))); };
  std::vector<std::string> mine = items(given), merged;
  auto it = target.reference_options.find(reference);
  if (it != target.reference_options.end()) {
    for (const auto& item : items(it->second)) {
      bool overridden = std::any_of(mine.begin(), mine.end(), [&](const std::string& m) {
        return key_of(m) == key_of(item);
      });
      if (!overridden) merged.push_back(item);
    }
  }
  merged.insert(merged.end(), mine.begin(), mine.end());
  return Join(merged, ",");
}

std::vector<std::string> ListTargets() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(TargetsDir(), ec)) {
    if (entry.path().extension() == ".json") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

Result<Target> LoadTargetIn(const std::string& name_or_path, BuildChain& chain) {
  std::filesystem::path path;
  bool by_name = !(name_or_path.size() > 5 &&
                   name_or_path.compare(name_or_path.size() - 5, 5, ".json") == 0);
  if (by_name) {
    auto names = ListTargets();
    if (std::find(names.begin(), names.end(), name_or_path) == names.end())
      return UnknownName("target", name_or_path, names);
    path = TargetsDir() / (name_or_path + ".json");
  } else {
    path = name_or_path;
  }
  std::optional<std::string> text = ReadWholeFile(path);
  if (!text) return Error{"cannot read target file '" + path.string() + "'"};
  SIMTUNE_ASSIGN_OR_RETURN(Target t, ParseTargetIn(*text, path.string(), chain));
  if (by_name && t.name != name_or_path)
    return Error{path.string() + ": name '" + t.name + "' does not match the file name '" +
                 name_or_path + "'"};
  return t;
}

}  // namespace

}  // namespace simtune
