// custom: a user's C kernel with tunable macros, described by a JSON spec
// ("custom:spec=path/to/spec.json"). Keys are checked strictly:
//   {
//     "name": "saxpy",                       required
//     "source": "kernel.c",                  required; defines simtune_kernel(float *const *)
//     "reference": "ref.c",                  required; defines simtune_reference(float *const *)
//     "buffers": [{"name": "x", "elements": 4096, "output": false}, ...],
//                                            required; inputs and outputs in signature order,
//                                            at least one output ("output" defaults to false)
//     "params": {"BLOCK": [8, 16, 32]},      the knobs: macro name -> allowed values
//     "restrictions": ["N % BLOCK == 0"],    integer expressions (int_expr.h) over params and
//                                            defines; a config is valid when all are non-zero
//     "defines": {"N": 4096},                integer constants, passed as -D too
//     "tolerance": {"rel": 1e-4, "abs": 1e-5},
//     "flops": 8192                          useful flops per call (0 when absent)
//   }
// Paths are relative to the spec's folder. A candidate's -D flags (params in spec order,
// then defines) go to KernelSource::extra_cflags; the files' contents go in unchanged.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "codegen.h"
#include "int_expr.h"
#include "operators.h"
#include "simtune/build.h"
#include "simtune/files.h"
#include "simtune/strings.h"

namespace simtune::workloads {
namespace {

using codegen::Cat;
using Json = nlohmann::ordered_json;

struct CustomSpec {
  std::string name;
  std::filesystem::path source;
  std::filesystem::path reference;
  std::vector<BufferSpec> buffers;
  std::vector<Knob> knobs;
  std::vector<std::pair<std::string, int64_t>> defines;
  std::vector<IntExpr> restrictions;
  double rel_tol = 1e-4;
  double abs_tol = 1e-5;
  double flops = 0;
};

bool IsIdentifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; });
}

Status CheckKeys(const Json& object, const std::vector<std::string>& valid,
                 const std::string& where) {
  for (const auto& item : object.items())
    if (std::find(valid.begin(), valid.end(), item.key()) == valid.end())
      return Wrap(UnknownName("key", item.key(), valid), where);
  return Status::Ok();
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::optional<std::string> text = ReadWholeFile(path);
  if (!text) return Error{"cannot read " + path.string()};
  return std::move(*text);
}

Result<int64_t> IntegerAt(const Json& value, const std::string& where) {
  if (!value.is_number_integer()) return Error{where + ": expected an integer; got " + value.dump()};
  return value.get<int64_t>();
}

Result<double> NonNegativeNumberAt(const Json& value, const std::string& where) {
  if (!value.is_number() || !(value.get<double>() >= 0))
    return Error{where + ": expected a number >= 0; got " + value.dump()};
  return value.get<double>();
}

Result<std::shared_ptr<const CustomSpec>> LoadSpec(const std::string& spec_path) {
  SIMTUNE_ASSIGN_OR_RETURN(std::string text, ReadFile(spec_path));
  const std::string& where = spec_path;
  Json doc;
  try {
    doc = Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Error{where + ": invalid JSON: " + e.what()};
  }
  if (!doc.is_object()) return Error{where + ": expected a JSON object"};
  SIMTUNE_RETURN_IF_ERROR(CheckKeys(doc,
                                    {"name", "source", "reference", "buffers", "params",
                                     "restrictions", "defines", "tolerance", "flops"},
                                    where));
  for (const char* key : {"name", "source", "reference", "buffers"})
    if (!doc.contains(key)) return Error{where + ": missing key '" + key + "'"};

  auto spec = std::make_shared<CustomSpec>();
  const std::filesystem::path dir = std::filesystem::path(spec_path).parent_path();
  if (!doc["name"].is_string() || doc["name"].get<std::string>().empty())
    return Error{where + ": name: expected a non-empty string; got " + doc["name"].dump()};
  spec->name = doc["name"].get<std::string>();
  for (const char* key : {"source", "reference"}) {
    if (!doc[key].is_string() || doc[key].get<std::string>().empty())
      return Error{where + ": " + key + ": expected a file name; got " + doc[key].dump()};
    std::filesystem::path file = dir / doc[key].get<std::string>();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec))
      return Error{where + ": " + key + ": cannot read " + file.string()};
    (std::string(key) == "source" ? spec->source : spec->reference) = file;
  }

  const Json& buffers = doc["buffers"];
  if (!buffers.is_array() || buffers.empty())
    return Error{where + ": buffers: expected a non-empty list; got " + buffers.dump()};
  bool any_output = false;
  for (size_t i = 0; i < buffers.size(); ++i) {
    const std::string at = Cat(where, ": buffers[", i, "]");
    const Json& b = buffers[i];
    if (!b.is_object()) return Error{at + ": expected an object; got " + b.dump()};
    SIMTUNE_RETURN_IF_ERROR(CheckKeys(b, {"name", "elements", "output"}, at));
    if (!b.contains("name") || !b["name"].is_string() || b["name"].get<std::string>().empty())
      return Error{at + ": name: expected a non-empty string"};
    if (!b.contains("elements")) return Error{at + ": missing key 'elements'"};
    SIMTUNE_ASSIGN_OR_RETURN(int64_t elements, IntegerAt(b["elements"], at + ".elements"));
    if (elements < 1 || elements > codegen::kMaxBufferElements)
      return Error{Cat(at, ".elements: expected 1 to ", codegen::kMaxBufferElements, "; got ",
                       elements)};
    bool output = false;
    if (b.contains("output")) {
      if (!b["output"].is_boolean())
        return Error{at + ".output: expected true or false; got " + b["output"].dump()};
      output = b["output"].get<bool>();
    }
    any_output |= output;
    spec->buffers.push_back({b["name"].get<std::string>(), elements, output});
  }
  if (!any_output) return Error{where + ": buffers: no buffer has \"output\": true"};

  std::vector<std::string> names;
  if (doc.contains("params")) {
    const Json& params = doc["params"];
    if (!params.is_object())
      return Error{where + ": params: expected an object of name: [values]; got " + params.dump()};
    for (const auto& item : params.items()) {
      const std::string at = where + ": params." + item.key();
      if (!IsIdentifier(item.key()))
        return Error{where + ": params: '" + item.key() + "' is not a C identifier"};
      const Json& values = item.value();
      if (!values.is_array() || values.empty())
        return Error{at + ": expected a non-empty list of integers; got " + values.dump()};
      std::vector<int64_t> list;
      for (size_t i = 0; i < values.size(); ++i) {
        SIMTUNE_ASSIGN_OR_RETURN(int64_t v, IntegerAt(values[i], Cat(at, "[", i, "]")));
        if (std::find(list.begin(), list.end(), v) != list.end())
          return Error{Cat(at, ": value ", v, " listed twice")};
        list.push_back(v);
      }
      spec->knobs.push_back(codegen::NumericKnob(item.key(), std::move(list), "spec parameter"));
      names.push_back(item.key());
    }
  }
  if (doc.contains("defines")) {
    const Json& defines = doc["defines"];
    if (!defines.is_object())
      return Error{where + ": defines: expected an object of name: integer; got " +
                   defines.dump()};
    for (const auto& item : defines.items()) {
      if (!IsIdentifier(item.key()))
        return Error{where + ": defines: '" + item.key() + "' is not a C identifier"};
      if (std::find(names.begin(), names.end(), item.key()) != names.end())
        return Error{where + ": defines: '" + item.key() + "' is also a param"};
      SIMTUNE_ASSIGN_OR_RETURN(int64_t v,
                               IntegerAt(item.value(), where + ": defines." + item.key()));
      spec->defines.emplace_back(item.key(), v);
      names.push_back(item.key());
    }
  }
  if (doc.contains("restrictions")) {
    const Json& restrictions = doc["restrictions"];
    if (!restrictions.is_array())
      return Error{where + ": restrictions: expected a list of strings; got " +
                   restrictions.dump()};
    for (size_t i = 0; i < restrictions.size(); ++i) {
      if (!restrictions[i].is_string())
        return Error{Cat(where, ": restrictions[", i, "]: expected a string; got ",
                         restrictions[i].dump())};
      const std::string expr_text = restrictions[i].get<std::string>();
      auto expr = IntExpr::Parse(expr_text, names);
      if (!expr.ok())
        return Error{Cat(where, ": restrictions[", i, "] '", expr_text, "': ", expr.message())};
      spec->restrictions.push_back(std::move(*expr));
    }
  }
  if (doc.contains("tolerance")) {
    const Json& tol = doc["tolerance"];
    if (!tol.is_object())
      return Error{where + ": tolerance: expected {\"rel\": x, \"abs\": y}; got " + tol.dump()};
    SIMTUNE_RETURN_IF_ERROR(CheckKeys(tol, {"rel", "abs"}, where + ": tolerance"));
    if (tol.contains("rel")) {
      SIMTUNE_ASSIGN_OR_RETURN(spec->rel_tol,
                               NonNegativeNumberAt(tol["rel"], where + ": tolerance.rel"));
    }
    if (tol.contains("abs")) {
      SIMTUNE_ASSIGN_OR_RETURN(spec->abs_tol,
                               NonNegativeNumberAt(tol["abs"], where + ": tolerance.abs"));
    }
  }
  if (doc.contains("flops")) {
    SIMTUNE_ASSIGN_OR_RETURN(spec->flops, NonNegativeNumberAt(doc["flops"], where + ": flops"));
  }
  return std::shared_ptr<const CustomSpec>(std::move(spec));
}

// Why `config` is invalid: the first restriction it violates, or the first that cannot be
// evaluated for it (division by zero, overflow); empty when valid.
struct Rejection {
  std::string reason;
  bool eval_error = false;
};

Rejection RejectCustomWhy(const CustomSpec& spec, const Config& config) {
  if (spec.restrictions.empty()) return {};
  std::map<std::string, int64_t> vars(config.begin(), config.end());
  for (const auto& [name, value] : spec.defines) vars[name] = value;
  for (const auto& expr : spec.restrictions) {
    auto value = expr.Eval(vars);
    if (value.ok() && *value != 0) continue;
    std::vector<std::string> assignments;
    for (const auto& name : expr.variables())
      assignments.push_back(name + "=" + std::to_string(vars.at(name)));
    const std::string with = assignments.empty() ? "" : " with " + Join(assignments, ", ");
    if (!value.ok()) return {"restriction '" + expr.text() + "': " + value.message() + with, true};
    return {"restriction '" + expr.text() + "' is false" + with, false};
  }
  return {};
}

std::string RejectCustom(const CustomSpec& spec, const Config& config) {
  return RejectCustomWhy(spec, config).reason;
}

std::unique_ptr<Space> SpaceOf(std::shared_ptr<const CustomSpec> spec) {
  std::vector<Knob> knobs = spec->knobs;
  return std::make_unique<Space>(
      std::move(knobs), [spec](const Config& c) { return RejectCustom(*spec, c); });
}

class CustomOperator : public Operator {
 public:
  std::vector<Param> Params() const override { return {}; }

  Status ValidateShape(const Workload& w) const override {
    SIMTUNE_ASSIGN_OR_RETURN(std::shared_ptr<const CustomSpec> spec, LoadSpec(w.spec_path));
    bool any_valid = false;
    // The first rejection, preferring one a restriction could not evaluate (a division by
    // zero for every combination reads as such, not as a restriction that is false).
    Rejection example;
    Space probe(spec->knobs, [&](const Config& c) {
      Rejection r = RejectCustomWhy(*spec, c);
      if (!r.reason.empty() && (example.reason.empty() || (r.eval_error && !example.eval_error)))
        example = r;
      return r.reason;
    });
    probe.Enumerate([&](const Config&) {
      any_valid = true;
      return false;
    });
    if (!any_valid)
      return Error{w.spec_path + ": restrictions reject every combination of params; e.g. " +
                   example.reason};
    return Status::Ok();
  }

  // nullptr when the spec cannot be loaded (ValidateShape reports why).
  std::unique_ptr<Space> MakeSpace(const Workload& w) const override {
    auto spec = LoadSpec(w.spec_path);
    if (!spec.ok()) return nullptr;
    return SpaceOf(*spec);
  }

  Result<KernelSource> Generate(const Workload& w, const Config& c,
                                const CodegenContext&) const override {
    SIMTUNE_ASSIGN_OR_RETURN(std::shared_ptr<const CustomSpec> spec, LoadSpec(w.spec_path));
    KernelSource src;
    SIMTUNE_ASSIGN_OR_RETURN(src.code, ReadFile(spec->source));
    SIMTUNE_ASSIGN_OR_RETURN(src.reference_code, ReadFile(spec->reference));
    for (const auto& knob : spec->knobs) {
      auto it = c.find(knob.name);
      if (it == c.end()) return Error{w.spec_path + ": config lacks param " + knob.name};
      src.extra_cflags.push_back(Cat("-D", knob.name, "=", it->second));
    }
    for (const auto& [name, value] : spec->defines)
      src.extra_cflags.push_back(Cat("-D", name, "=", value));
    src.buffers = spec->buffers;
    src.rel_tol = spec->rel_tol;
    src.abs_tol = spec->abs_tol;
    src.flops = spec->flops;
    return src;
  }
};

}  // namespace

std::unique_ptr<Operator> NewCustomOperator() { return std::make_unique<CustomOperator>(); }

Result<std::string> CustomContentHash(const std::string& spec_path) {
  SIMTUNE_ASSIGN_OR_RETURN(std::shared_ptr<const CustomSpec> spec, LoadSpec(spec_path));
  SIMTUNE_ASSIGN_OR_RETURN(std::string text, ReadFile(spec_path));
  SIMTUNE_ASSIGN_OR_RETURN(std::string source, ReadFile(spec->source));
  SIMTUNE_ASSIGN_OR_RETURN(std::string reference, ReadFile(spec->reference));
  // Lengths first, so that moving bytes from one file to the next changes the hash.
  std::string all = Cat(text.size(), ":", source.size(), ":", reference.size(), ":") + text +
                    source + reference;
  return Sha256Hex(all).substr(0, 16);
}

}  // namespace simtune::workloads
