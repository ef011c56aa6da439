#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "simtune/files.h"
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
    RegisterEnsemblePredictors(*r);
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
  const nlohmann::json& version = file["feature_schema_version"];
  if (!version.is_number_integer())
    return Error{where + ": feature_schema_version is not an integer"};
  // Compared as written: a cast to int would read 2^32 + 2 as 2.
  const bool same = version.is_number_unsigned()
                        ? expected_feature_schema_version >= 0 &&
                              version.get<uint64_t>() ==
                                  static_cast<uint64_t>(expected_feature_schema_version)
                        : version.get<int64_t>() == expected_feature_schema_version;
  if (!same)
    return Error{where + " was trained with feature schema " + version.dump() +
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

Status WriteModelFile(const std::string& path, const nlohmann::json& file, int indent) {
  const std::string text = file.dump(indent) + "\n";
  auto fail = [&](const std::string& why) {
    return Error{"cannot write model " + path + ": " + why};
  };
  // A temp file of our own beside the target, renamed into place only once every byte is
  // written, flushed and closed without error: a full disk or a crash never leaves a
  // truncated model under `path`.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      path + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) return fail(std::strerror(errno));
  std::string why;
  for (size_t done = 0; done < text.size() && why.empty();) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) why = n < 0 ? std::strerror(errno) : "short write";
    else done += static_cast<size_t>(n);
  }
  if (why.empty() && fsync(fd) != 0) why = std::strerror(errno);
  if (close(fd) != 0 && why.empty()) why = std::strerror(errno);
  if (why.empty() && std::rename(tmp.c_str(), path.c_str()) != 0) why = std::strerror(errno);
  if (!why.empty()) {
    unlink(tmp.c_str());
    return fail(why);
  }
  return Status::Ok();
}

Status SaveModel(const std::string& path, const Predictor& predictor,
                 int feature_schema_version) {
  return WriteModelFile(path, ModelToJson(predictor, feature_schema_version));
}

Result<std::unique_ptr<Predictor>> LoadModel(const std::string& path,
                                             int expected_feature_schema_version) {
  const std::string where = "model " + path;
  errno = 0;
  std::optional<std::string> text = ReadWholeFile(path);
  if (!text)
    return Error{where + ": cannot read" + (errno ? std::string(": ") + std::strerror(errno) : "")};
  nlohmann::json file = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (file.is_discarded()) return Error{where + ": not valid JSON"};
  return ModelFromJson(file, expected_feature_schema_version, where);
}

}  // namespace simtune
