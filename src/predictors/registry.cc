#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "src/predictors/builtin.h"

namespace simtune {

PredictorRegistry& Predictors() {
  static PredictorRegistry* registry = [] {
    auto* r = new PredictorRegistry("predictor");
    RegisterLinearPredictors(*r);
    RegisterXgboostPredictors(*r);
    RegisterGpPredictor(*r);
    RegisterBaselinePredictors(*r);
    RegisterCostModelPredictor(*r);
    return r;
  }();
  return *registry;
}

nlohmann::json ModelToJson(const Predictor& predictor, int feature_schema_version) {
  return {{"predictor", predictor.name()},
          {"options", predictor.options()},
          {"feature_schema_version", feature_schema_version},
          {"feature_names", predictor.feature_names()},
          {"model", predictor.SaveJson()}};
}

Result<std::unique_ptr<Predictor>> ModelFromJson(const nlohmann::json& file,
                                                 int expected_feature_schema_version,
                                                 const std::string& where) {
  if (!file.is_object()) return Error{where + ": not a model file (expected a JSON object)"};
  for (const char* key : {"predictor", "options", "feature_schema_version", "feature_names", "model"})
    if (!file.contains(key)) return Error{where + ": not a model file (no \"" + key + "\")"};
  if (!file["feature_schema_version"].is_number_integer())
    return Error{where + ": feature_schema_version is not an integer"};
  int version = file["feature_schema_version"].get<int>();
  if (version != expected_feature_schema_version)
    return Error{where + " was trained with feature schema " + std::to_string(version) +
                 "; this simtune uses " + std::to_string(expected_feature_schema_version)};
  if (!file["predictor"].is_string() || !file["options"].is_string())
    return Error{where + ": predictor and options must be strings"};
  std::vector<std::string> names;
  try {
    names = file["feature_names"].get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    return Error{where + ": feature_names must be an array of strings"};
  }
  auto created = Predictors().Create(file["predictor"].get<std::string>(),
                                     file["options"].get<std::string>());
  if (!created.ok()) return Wrap(created.error(), where);
  std::unique_ptr<Predictor> p = std::move(created).value();
  Status loaded = p->LoadJson(file["model"]);
  if (!loaded.ok()) return Wrap(loaded.error(), where);
  if (p->feature_names() != names)
    return Error{where + ": feature_names do not match the model's own features"};
  return p;
}

Status SaveModel(const std::string& path, const Predictor& predictor,
                 int feature_schema_version) {
  std::string text = ModelToJson(predictor, feature_schema_version).dump() + "\n";
  // Write then rename, so a crash never leaves a truncated model behind.
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Error{"cannot write model " + path + ": " + std::strerror(errno)};
    out << text;
    out.close();
    if (!out) return Error{"cannot write model " + path + ": " + std::strerror(errno)};
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return Error{"cannot write model " + path + ": " + why};
  }
  return Status::Ok();
}

Result<std::unique_ptr<Predictor>> LoadModel(const std::string& path,
                                             int expected_feature_schema_version) {
  const std::string where = "model " + path;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{where + ": cannot read: " + std::strerror(errno)};
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json file = nlohmann::json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  if (file.is_discarded()) return Error{where + ": not valid JSON"};
  return ModelFromJson(file, expected_feature_schema_version, where);
}

}  // namespace simtune
