#include "codegen.h"

#include <algorithm>
#include <cfloat>

#include "simtune/strings.h"

namespace simtune::codegen {

std::string Plus(const std::string& var, int64_t offset) {
  if (offset == 0) return var;
  return Cat("(", var, " + ", offset, ")");
}

std::string Times(const std::string& var, int64_t factor) {
  if (factor == 1) return var;
  return Cat(var, " * ", factor);
}

Status CheckConvGeometry(const Workload& w) {
  for (const char* name : {"C", "H", "W", "R", "S", "stride"})
    SIMTUNE_RETURN_IF_ERROR(CheckAtLeast(w, name, 1));
  SIMTUNE_RETURN_IF_ERROR(CheckAtLeast(w, "pad", 0));
  const int64_t pad = w.Get("pad");
  if (w.Get("H") + 2 * pad < w.Get("R"))
    return Error{Cat("window R=", w.Get("R"), " is taller than the padded input H + 2*pad = ",
                     w.Get("H") + 2 * pad)};
  if (w.Get("W") + 2 * pad < w.Get("S"))
    return Error{Cat("window S=", w.Get("S"), " is wider than the padded input W + 2*pad = ",
                     w.Get("W") + 2 * pad)};
  return Status::Ok();
}

std::vector<int64_t> TileValues(int64_t dim) {
  std::vector<int64_t> out;
  int64_t first = 4;
  while (first * 64 < dim) first *= 2;
  for (int64_t t = first; t < dim; t *= 2) out.push_back(t);
  out.push_back(dim);
  return out;
}

Knob NumericKnob(std::string name, std::vector<int64_t> values, std::string description) {
  return Knob{std::move(name), std::move(values), {}, std::move(description)};
}

Knob LabelKnob(std::string name, std::vector<std::string> labels, std::string description) {
  std::vector<int64_t> values;
  for (size_t i = 0; i < labels.size(); ++i) values.push_back(static_cast<int64_t>(i));
  return Knob{std::move(name), std::move(values), std::move(labels), std::move(description)};
}

int64_t Get(const Config& config, const std::string& name) {
  auto it = config.find(name);
  SIMTUNE_CHECK_MSG(it != config.end(), name);
  return it->second;
}

KnobReader::KnobReader(const std::vector<Knob>& knobs) {
  SIMTUNE_CHECK(knobs.size() <= kMaxKnobs);
  std::vector<std::pair<std::string, size_t>> named;
  for (size_t i = 0; i < knobs.size(); ++i) named.emplace_back(knobs[i].name, i);
  std::sort(named.begin(), named.end());
  for (const auto& [name, index] : named) {
    sorted_names_.push_back(name);
    declared_index_.push_back(index);
  }
}

std::array<int64_t, KnobReader::kMaxKnobs> KnobReader::Read(const Config& config) const {
  SIMTUNE_CHECK(config.size() == sorted_names_.size());
  std::array<int64_t, kMaxKnobs> values{};
  size_t i = 0;
  for (const auto& [name, value] : config) {
    SIMTUNE_CHECK_MSG(name == sorted_names_[i], name);
    values[declared_index_[i]] = value;
    ++i;
  }
  return values;
}

void CodeWriter::Line(const std::string& text) {
  if (text.empty()) {
    out_ += "\n";
    return;
  }
  bool pragma = StartsWith(text, "#");
  out_ += std::string(pragma ? 0 : 2 * indent_, ' ') + text + "\n";
}

void CodeWriter::Open(const std::string& head) {
  Line(head.empty() ? "{" : head + " {");
  ++indent_;
}

void CodeWriter::Close() {
  SIMTUNE_CHECK(indent_ > 0);
  --indent_;
  Line("}");
}

std::string VecType(int64_t v) { return v == 1 ? "float" : Cat("simtune_v", v, "f"); }

void EmitPrelude(CodeWriter& cw, const std::string& title, const std::string& config_text,
                 int64_t v) {
  cw.Line("/* simtune generated kernel: " + title);
  cw.Line(" * config: " + config_text + " */");
  cw.Line("#include <stddef.h>");
  if (v > 1) {
    // GCC vector extension; loads and stores go through __builtin_memcpy, so unaligned
    // addresses are fine and no vector crosses a function boundary (no ABI warnings).
    cw.Line(Cat("typedef float ", VecType(v), " __attribute__((vector_size(", 4 * v, ")));"));
  }
  cw.Line("");
}

bool NeedsRemainder(int64_t extent, int64_t tile, int64_t block) {
  if (tile >= extent) return extent % block != 0;
  return tile % block != 0 || (extent % tile) % block != 0;
}

void OpenTileLoop(CodeWriter& cw, const TileLoop& loop) {
  const std::string v0 = loop.var + "0", v1 = loop.var + "1";
  if (loop.tile >= loop.extent) {
    cw.Open("");
    cw.Line(Cat("const long ", v0, " = 0, ", v1, " = ", loop.extent, ";"));
    return;
  }
  cw.Open(Cat("for (long ", v0, " = 0; ", v0, " < ", loop.extent, "; ", v0, " += ", loop.tile,
              ")"));
  if (loop.extent % loop.tile == 0) {
    cw.Line(Cat("const long ", v1, " = ", v0, " + ", loop.tile, ";"));
  } else {
    cw.Line(Cat("const long ", v1, " = ", v0, " + ", loop.tile, " < ", loop.extent, " ? ", v0,
                " + ", loop.tile, " : ", loop.extent, ";"));
  }
}

namespace {

std::string OperandName(const char* base, const Operand& op, int a, int b) {
  if (op.per_a && op.per_b) return Cat(base, a, "_", b);
  if (op.per_a) return Cat(base, "a", a);
  if (op.per_b) return Cat(base, "b", b);
  return base;
}

void EmitLoads(CodeWriter& cw, const char* base, const Operand& op, const MicroKernel& mk) {
  const int na = op.per_a ? mk.ra : 1, nb = op.per_b ? mk.rb : 1;
  for (int a = 0; a < na; ++a) {
    for (int b = 0; b < nb; ++b) {
      const std::string name = OperandName(base, op, a, b);
      if (op.vector && mk.v > 1) {
        cw.Line(Cat(VecType(mk.v), " ", name, ";"));
        cw.Line(Cat("__builtin_memcpy(&", name, ", &", op.element(a, b), ", sizeof ", name, ");"));
      } else {
        cw.Line(Cat("const float ", name, " = ", op.element(a, b), ";"));
      }
    }
  }
}

}  // namespace

void EmitMicroKernel(CodeWriter& cw, const MicroKernel& mk) {
  SIMTUNE_CHECK(mk.ra >= 1 && mk.rb >= 1 && !mk.loops.empty());
  cw.Open("");
  const std::string type = VecType(mk.v);
  for (int a = 0; a < mk.ra; ++a) {
    for (int b = 0; b < mk.rb; ++b) {
      const std::string acc = Cat("acc", a, "_", b);
      if (mk.v > 1) {
        cw.Line(Cat(type, " ", acc, ";"));
        cw.Line(Cat("__builtin_memcpy(&", acc, ", &", mk.out(a, b), ", sizeof ", acc, ");"));
      } else {
        cw.Line(Cat("float ", acc, " = ", mk.out(a, b), ";"));
      }
    }
  }
  for (size_t i = 0; i < mk.loops.size(); ++i) {
    if (i + 1 == mk.loops.size()) {
      for (const auto& p : mk.pragmas) cw.Line(p);
    }
    cw.Open(mk.loops[i]);
  }
  EmitLoads(cw, "mx", mk.x, mk);
  EmitLoads(cw, "my", mk.y, mk);
  for (int a = 0; a < mk.ra; ++a) {
    for (int b = 0; b < mk.rb; ++b) {
      cw.Line(Cat("acc", a, "_", b, " += ", OperandName("mx", mk.x, a, b), " * ",
                  OperandName("my", mk.y, a, b), ";"));
    }
  }
  for (size_t i = 0; i < mk.loops.size(); ++i) cw.Close();
  for (int a = 0; a < mk.ra; ++a) {
    for (int b = 0; b < mk.rb; ++b) {
      const std::string acc = Cat("acc", a, "_", b);
      if (mk.v > 1) {
        cw.Line(Cat("__builtin_memcpy(&", mk.out(a, b), ", &", acc, ", sizeof ", acc, ");"));
      } else {
        cw.Line(Cat(mk.out(a, b), " = ", acc, ";"));
      }
    }
  }
  cw.Close();
}

// Tolerance rule: rel_tol = 1e-4, abs_tol = max(1e-5, 16 * FLT_EPSILON * L) for outputs that
// are sums of L products. Candidates add the reference's products in another order (tiles,
// vector lanes, FMA contraction), so outputs differ by rounding only. With the harness's
// inputs in [-1, 1) the partial sums stay near sqrt(L) and two summation orders differ by
// about 0.1 * eps * L (sigma); 16 * eps * L leaves a wide margin, and the relative term covers
// same-sign data, while a missed or doubled product (an error near 0.3 on average) fails.
void SetTolerance(KernelSource& source, int64_t reduction_length) {
  source.rel_tol = 1e-4;
  source.abs_tol = std::max(1e-5, 16.0 * FLT_EPSILON * static_cast<double>(reduction_length));
}

Status CheckAtLeast(const Workload& workload, const std::string& name, int64_t min) {
  int64_t v = workload.Get(name);
  if (v < min) return Error{Cat(name, " must be >= ", min, "; got ", v)};
  if (v > kMaxShapeValue) return Error{Cat(name, " must be <= ", kMaxShapeValue, "; got ", v)};
  return Status::Ok();
}

Status CheckBufferSize(const std::string& buffer, const std::vector<int64_t>& dims) {
  int64_t total = 1;
  bool overflow = false;
  for (int64_t d : dims) overflow |= __builtin_mul_overflow(total, d, &total);
  if (overflow || total > kMaxBufferElements) {
    std::vector<std::string> parts;
    for (int64_t d : dims) parts.push_back(std::to_string(d));
    return Error{Cat(buffer, " would have ", Join(parts, " x "), " elements; limit ",
                     kMaxBufferElements)};
  }
  return Status::Ok();
}

}  // namespace simtune::codegen
