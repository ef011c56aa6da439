#include "simtune/workload.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include "operators.h"
#include "simtune/strings.h"

namespace simtune {

std::string Workload::Key() const {
  if (op == "custom") return "custom:" + spec_path + (content_hash.empty() ? "" : "#" + content_hash);
  std::vector<std::string> parts;
  for (const auto& [name, value] : shape) parts.push_back(name + "=" + std::to_string(value));
  return op + ":" + Join(parts, ",");
}

int64_t Workload::Get(const std::string& name) const {
  for (const auto& [n, v] : shape)
    if (n == name) return v;
  CheckFailed(__FILE__, __LINE__, "shape parameter exists",
              "workload " + Key() + " has no shape parameter " + name);
}

namespace workloads {

void RegisterBuiltinOperators(OperatorRegistry& registry) {
  auto add = [&](const char* name, const char* description,
                 std::unique_ptr<Operator> (*factory)()) {
    registry.Register(name, description, [factory]() -> Result<std::unique_ptr<Operator>> {
      return factory();
    });
  };
  add("gemm", "C[M][N] = A[M][K] * B[K][N], float32 row-major", &NewGemmOperator);
  add("mvm", "dense layer y[M] = W[M][K] * x[K], float32", &NewMvmOperator);
  add("conv2d",
      "direct 2-D convolution: input NCHW, weights KCRS, output NKPQ (stride, pad)",
      &NewConv2dOperator);
  add("dwconv2d", "depthwise 2-D convolution (multiplier 1): input CHW, weights CRS, output CPQ",
      &NewDwconv2dOperator);
  add("custom", "a user's C kernel with tunable macros, described by a JSON spec",
      &NewCustomOperator);
}

}  // namespace workloads

OperatorRegistry& Operators() {
  static OperatorRegistry* registry = [] {
    auto* r = new OperatorRegistry("operator");
    workloads::RegisterBuiltinOperators(*r);
    return r;
  }();
  return *registry;
}

namespace {

Result<Workload> ParseCustom(const std::string& where, const std::string& rest) {
  Workload w;
  w.op = "custom";
  const std::string body = Trim(rest);
  if (StartsWith(body, "spec=")) {
    w.spec_path = Trim(body.substr(5));
  } else if (body.find('=') == std::string::npos) {
    w.spec_path = body;  // the Key() form, "custom:<spec path>#<content hash>"
    size_t hash = w.spec_path.rfind('#');
    if (hash != std::string::npos) {
      w.content_hash = w.spec_path.substr(hash + 1);
      w.spec_path.resize(hash);
    }
  } else {
    return Error{where + ": unknown shape parameter '" + Trim(body.substr(0, body.find('='))) +
                 "' for custom; valid: spec"};
  }
  if (w.spec_path.empty()) return Error{where + ": missing shape parameter spec"};
  std::error_code ec;
  auto absolute = std::filesystem::absolute(w.spec_path, ec);
  if (!ec) w.spec_path = absolute.lexically_normal().string();
  return w;
}

}  // namespace

Result<Workload> ParseWorkload(const std::string& text) {
  const std::string where = "workload '" + text + "'";
  const size_t colon = text.find(':');
  if (colon == std::string::npos) {
    const std::string name = Trim(text);
    SIMTUNE_ASSIGN_OR_RETURN(std::vector<CatalogEntry> catalog, LoadCatalog());
    std::vector<std::string> names;
    for (const auto& entry : catalog) {
      if (entry.name != name) {
        names.push_back(entry.name);
        continue;
      }
      auto parsed = ParseWorkload(entry.workload);
      if (!parsed.ok()) return Wrap(parsed.error(), "catalog entry '" + name + "'");
      parsed->catalog_name = name;
      return parsed;
    }
    return UnknownName("workload or catalog entry", name, names);
  }

  const std::string op_name = Trim(text.substr(0, colon));
  const std::string rest = text.substr(colon + 1);
  auto op = Operators().Create(op_name);
  if (!op.ok()) return Wrap(op.error(), where);

  Workload w;
  if (op_name == "custom") {
    SIMTUNE_ASSIGN_OR_RETURN(w, ParseCustom(where, rest));
  } else {
    w.op = op_name;
    const std::vector<Operator::Param> params = (*op)->Params();
    std::vector<std::string> param_names;
    for (const auto& p : params) param_names.push_back(p.name);
    std::vector<std::pair<std::string, int64_t>> given;
    if (!Trim(rest).empty()) {
      for (const auto& raw_item : Split(rest, ',')) {
        const std::string item = Trim(raw_item);
        const size_t eq = item.find('=');
        if (eq == std::string::npos || eq == 0)
          return Error{where + ": expected NAME=VALUE; got '" + item + "'"};
        const std::string name = Trim(item.substr(0, eq));
        if (std::find(param_names.begin(), param_names.end(), name) == param_names.end())
          return Error{where + ": unknown shape parameter '" + name + "' for " + op_name +
                       "; valid: " + Join(param_names, ", ")};
        for (const auto& g : given)
          if (g.first == name) return Error{where + ": shape parameter " + name + " given twice"};
        auto value = ParseInt(Trim(item.substr(eq + 1)), name);
        if (!value.ok()) return Wrap(value.error(), where);
        given.emplace_back(name, *value);
      }
    }
    for (const auto& p : params) {
      auto it = std::find_if(given.begin(), given.end(),
                             [&](const auto& g) { return g.first == p.name; });
      if (it != given.end()) {
        w.shape.emplace_back(p.name, it->second);
      } else if (p.required) {
        return Error{where + ": missing shape parameter " + p.name};
      } else {
        w.shape.emplace_back(p.name, p.default_value);
      }
    }
  }
  Status valid = (*op)->ValidateShape(w);
  if (!valid.ok()) return Wrap(valid.error(), where);
  if (w.op == "custom") {
    SIMTUNE_ASSIGN_OR_RETURN(std::string now, workloads::CustomContentHash(w.spec_path));
    if (!w.content_hash.empty() && w.content_hash != now)
      return Error{where + ": the spec, kernel or reference changed since this workload was"
                           " stored (content " + w.content_hash + ", now " + now +
                   "); the edited kernel is the workload custom:" + w.spec_path + "#" + now};
    w.content_hash = now;
  }
  return w;
}

Result<std::unique_ptr<Space>> MakeSpace(const Workload& workload) {
  SIMTUNE_ASSIGN_OR_RETURN(std::unique_ptr<Operator> op, Operators().Create(workload.op));
  Status valid = op->ValidateShape(workload);
  if (!valid.ok()) return Wrap(valid.error(), "workload '" + workload.Key() + "'");
  std::unique_ptr<Space> space = op->MakeSpace(workload);
  if (!space) return Error{"workload '" + workload.Key() + "': cannot build its search space"};
  return space;
}

Result<KernelSource> GenerateKernel(const Workload& workload, const Config& config,
                                    const CodegenContext& ctx) {
  SIMTUNE_ASSIGN_OR_RETURN(std::unique_ptr<Operator> op, Operators().Create(workload.op));
  SIMTUNE_ASSIGN_OR_RETURN(std::unique_ptr<Space> space, MakeSpace(workload));
  const std::string reason = space->Reject(config);
  if (!reason.empty())
    return Error{"workload '" + workload.Key() + "': config '" +
                 FormatConfig(config, space->knobs()) + "': " + reason};
  return op->Generate(workload, config, ctx);
}

Result<ShapeQuantities> ComputeShapeQuantities(const Workload& workload) {
  static std::mutex mu;
  static std::map<std::string, ShapeQuantities> cache;
  const std::string key = workload.Key();
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  // A hand-made workload may lack a parameter, which the operator's checks take for a bug.
  SIMTUNE_ASSIGN_OR_RETURN(std::unique_ptr<Operator> op, Operators().Create(workload.op));
  for (const auto& p : op->Params()) {
    bool given = false;
    for (const auto& [name, value] : workload.shape) given |= name == p.name;
    if (!given && p.required) return Error{"workload '" + key + "': missing shape parameter " + p.name};
  }
  SIMTUNE_ASSIGN_OR_RETURN(std::unique_ptr<Space> space, MakeSpace(workload));
  std::optional<Config> first;
  space->Enumerate([&](const Config& c) {
    first = c;
    return false;
  });
  if (!first) return Error{"workload '" + key + "': its search space has no valid config"};
  SIMTUNE_ASSIGN_OR_RETURN(KernelSource src, GenerateKernel(workload, *first, CodegenContext{"x86_64"}));
  ShapeQuantities q;
  q.flops = src.flops;
  bool any_input = false;
  for (const auto& b : src.buffers) {
    const double bytes = 4.0 * static_cast<double>(b.elements);
    if (b.output) {
      q.output_bytes += bytes;
      q.output_elements += static_cast<double>(b.elements);
      continue;
    }
    q.input_bytes += bytes;
    q.largest_input_bytes = std::max(q.largest_input_bytes, bytes);
    q.smallest_input_bytes = any_input ? std::min(q.smallest_input_bytes, bytes) : bytes;
    any_input = true;
  }
  if (q.output_elements > 0) q.reduction = q.flops / (2 * q.output_elements);
  std::lock_guard<std::mutex> lock(mu);
  cache[key] = q;
  return q;
}

}  // namespace simtune
