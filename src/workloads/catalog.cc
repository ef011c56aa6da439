#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "simtune/paths.h"
#include "simtune/strings.h"
#include "simtune/workload.h"

namespace simtune {

namespace {

Result<std::string> GetString(const nlohmann::json& object, const std::string& key,
                              bool required) {
  auto it = object.find(key);
  if (it == object.end()) {
    if (required) return Error{"missing key '" + key + "'"};
    return std::string();
  }
  if (!it->is_string()) return Error{key + ": expected a string; got " + it->dump()};
  return it->get<std::string>();
}

Status CheckKeys(const nlohmann::json& object, const std::vector<std::string>& valid) {
  for (const auto& [key, value] : object.items())
    if (std::find(valid.begin(), valid.end(), key) == valid.end())
      return UnknownName("key", key, valid);
  return Status::Ok();
}

Result<std::vector<CatalogEntry>> LoadCatalogFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Error{"cannot read " + path.string()};
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return Error{path.string() + ": invalid JSON: " + e.what()};
  }
  if (!doc.is_object() || !doc.contains("entries") || !doc["entries"].is_array())
    return Error{path.string() + ": expected an object with an \"entries\" list"};
  Status keys = CheckKeys(doc, {"description", "entries"});
  if (!keys.ok()) return Wrap(keys.error(), path.string());

  std::vector<CatalogEntry> out;
  const auto& entries = doc["entries"];
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string where = path.string() + ": entries[" + std::to_string(i) + "]";
    const auto& e = entries[i];
    if (!e.is_object()) return Error{where + ": expected an object"};
    Status entry_keys = CheckKeys(e, {"name", "workload", "description"});
    if (!entry_keys.ok()) return Wrap(entry_keys.error(), where);
    CatalogEntry entry;
    auto name = GetString(e, "name", true);
    if (!name.ok()) return Wrap(name.error(), where);
    auto workload = GetString(e, "workload", true);
    if (!workload.ok()) return Wrap(workload.error(), where);
    auto description = GetString(e, "description", false);
    if (!description.ok()) return Wrap(description.error(), where);
    entry.name = *name;
    entry.workload = *workload;
    entry.description = *description;
    if (entry.name.empty() || entry.name.find(':') != std::string::npos)
      return Error{where + ": name must be non-empty and without ':'; got '" + entry.name + "'"};
    // Entries must name an operator directly: no chains of catalog names.
    if (entry.workload.find(':') == std::string::npos)
      return Error{where + ": workload must be 'op:K=V,...'; got '" + entry.workload + "'"};
    auto parsed = ParseWorkload(entry.workload);
    if (!parsed.ok()) return Wrap(parsed.error(), path.string() + ": " + entry.name);
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

Result<std::vector<CatalogEntry>> LoadCatalog() {
  const std::filesystem::path dir = DataDir() / "catalog";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return Error{"catalog directory " + dir.string() + " not found"};
  std::vector<std::filesystem::path> files;
  for (const auto& item : std::filesystem::directory_iterator(dir, ec))
    if (item.path().extension() == ".json") files.push_back(item.path());
  if (ec) return Error{"cannot list " + dir.string() + ": " + ec.message()};
  std::sort(files.begin(), files.end());

  std::vector<CatalogEntry> all;
  std::map<std::string, std::string> origin;
  for (const auto& file : files) {
    SIMTUNE_ASSIGN_OR_RETURN(std::vector<CatalogEntry> entries, LoadCatalogFile(file));
    for (auto& entry : entries) {
      auto [it, inserted] = origin.emplace(entry.name, file.filename().string());
      if (!inserted)
        return Error{file.string() + ": catalog entry '" + entry.name + "' already defined in " +
                     it->second};
      all.push_back(std::move(entry));
    }
  }
  return all;
}

}  // namespace simtune
