// MVM (a dense layer): y[M] = W[M][K] * x[K], float32, W row-major.
//
// Generated kernel: y is zeroed, then two tile loops (m, k in the `order` knob's order). With
// vec_mode=plain each tile runs reg_m rows at a time; each row keeps a vector accumulator of
// `vec` lanes over the k range (unrolled by `unroll`), reduced horizontally with the scalar
// tail and added to y. Rows left over from reg_m use a scalar loop. With vec_mode=auto each
// row is one plain dot-product loop with `#pragma GCC ivdep`. Every element of W is used
// once, so there is no packing knob: only x is reused, and it is already contiguous.
#include "codegen.h"
#include "operators.h"

namespace simtune::workloads {
namespace {

using codegen::Cat;
using codegen::Get;
using codegen::Plus;

const std::vector<std::string> kOrders = {"mk", "km"};
constexpr int64_t kAutoMode = 1;

std::vector<Knob> MvmKnobs(const Workload& w) {
  using codegen::LabelKnob;
  using codegen::NumericKnob;
  using codegen::TileValues;
  return {
      NumericKnob("tile_m", TileValues(w.Get("M")), "rows of W per tile"),
      NumericKnob("tile_k", TileValues(w.Get("K")), "reduction length per tile"),
      LabelKnob("order", kOrders, "order of the tile loops, outermost first"),
      NumericKnob("reg_m", {1, 2, 4, 8}, "rows per micro-kernel (one accumulator each)"),
      NumericKnob("vec", {1, 4, 8, 16}, "vector width in floats along k (1: scalar code)"),
      LabelKnob("vec_mode", {"plain", "auto"},
                "plain: micro-kernel as written; auto: plain loops with ivdep hints"),
      NumericKnob("unroll", {1, 2, 4, 8}, "unroll factor of the innermost (k) loop"),
  };
}

// `v` holds the knob values in MvmKnobs() order.
std::string RejectMvm(const std::array<int64_t, codegen::KnobReader::kMaxKnobs>& v) {
  const int64_t tile_m = v[0], tile_k = v[1], reg_m = v[3], vec = v[4], vec_mode = v[5];
  const int64_t unroll = v[6];
  if (vec_mode == kAutoMode) {
    if (vec != 1) return Cat("vec_mode=auto requires vec=1; got vec=", vec);
    if (reg_m != 1) return Cat("vec_mode=auto requires reg_m=1; got reg_m=", reg_m);
  }
  if (reg_m > tile_m) return Cat("reg_m=", reg_m, " exceeds tile_m=", tile_m);
  if (vec > tile_k) return Cat("vec=", vec, " exceeds tile_k=", tile_k);
  if (unroll * vec > tile_k) {
    if (vec == 1) return Cat("unroll=", unroll, " exceeds tile_k=", tile_k);
    return Cat("unroll=", unroll, " x vec=", vec, " exceeds tile_k=", tile_k);
  }
  return "";
}

class MvmOperator : public Operator {
 public:
  std::vector<Param> Params() const override { return {{"M", true, 0}, {"K", true, 0}}; }

  Status ValidateShape(const Workload& w) const override {
    for (const char* name : {"M", "K"})
      SIMTUNE_RETURN_IF_ERROR(codegen::CheckAtLeast(w, name, 1));
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckBufferSize("W", {w.Get("M"), w.Get("K")}));
    return Status::Ok();
  }

  std::unique_ptr<Space> MakeSpace(const Workload& w) const override {
    std::vector<Knob> knobs = MvmKnobs(w);
    const codegen::KnobReader reader(knobs);
    return std::make_unique<Space>(std::move(knobs),
                                   [reader](const Config& c) { return RejectMvm(reader.Read(c)); });
  }

  Result<KernelSource> Generate(const Workload& w, const Config& c,
                                const CodegenContext&) const override {
    const int64_t m = w.Get("M"), k = w.Get("K");
    const int64_t tile_m = Get(c, "tile_m"), tile_k = Get(c, "tile_k");
    const int64_t reg_m = Get(c, "reg_m"), vec = Get(c, "vec"), unroll = Get(c, "unroll");
    const bool autovec = Get(c, "vec_mode") == kAutoMode;
    const std::string order = kOrders.at(Get(c, "order"));
    const std::string vtype = codegen::VecType(vec);

    codegen::CodeWriter cw;
    codegen::EmitPrelude(cw, w.Key(), FormatConfig(c, MvmKnobs(w)), vec);
    cw.Open("void simtune_kernel(float *const *bufs)");
    cw.Line("const float *restrict W = bufs[0];");
    cw.Line("const float *restrict x = bufs[1];");
    cw.Line("float *restrict y = bufs[2];");
    cw.Line(Cat("__builtin_memset(y, 0, sizeof(float) * ", m, ");"));
    for (char dim : order) {
      codegen::OpenTileLoop(cw, {std::string(1, dim), dim == 'm' ? m : k,
                                 dim == 'm' ? tile_m : tile_k});
    }
    auto row_loop = [&](const std::string& lo, const std::string& hi, bool hints) {
      cw.Open(Cat("for (long ii = ", lo, "; ii < ", hi, "; ++ii)"));
      cw.Line("float s = 0.0f;");
      if (hints) {
        cw.Line("#pragma GCC ivdep");
        cw.Line(Cat("#pragma GCC unroll ", unroll));
      }
      cw.Line(Cat("for (long k = k0; k < k1; ++k) s += W[ii * ", k, " + k] * x[k];"));
      cw.Line("y[ii] += s;");
      cw.Close();
    };
    if (autovec) {
      row_loop("m0", "m1", true);
    } else {
      cw.Line("long i = m0;");
      cw.Open(Cat("for (; i + ", reg_m, " <= m1; i += ", reg_m, ")"));
      for (int r = 0; r < reg_m; ++r) {
        if (vec > 1) {
          cw.Line(Cat(vtype, " acc", r, ";"));
          cw.Line(Cat("__builtin_memset(&acc", r, ", 0, sizeof acc", r, ");"));
        } else {
          cw.Line(Cat("float acc", r, " = 0.0f;"));
        }
      }
      cw.Line("long k = k0;");
      cw.Line(Cat("#pragma GCC unroll ", unroll));
      cw.Open(Cat("for (; k + ", vec, " <= k1; k += ", vec, ")"));
      if (vec > 1) {
        cw.Line(Cat(vtype, " xv;"));
        cw.Line("__builtin_memcpy(&xv, &x[k], sizeof xv);");
        for (int r = 0; r < reg_m; ++r) {
          cw.Line(Cat(vtype, " w", r, ";"));
          cw.Line(Cat("__builtin_memcpy(&w", r, ", &W[", Plus("i", r), " * ", k, " + k], sizeof w",
                      r, ");"));
          cw.Line(Cat("acc", r, " += w", r, " * xv;"));
        }
      } else {
        for (int r = 0; r < reg_m; ++r)
          cw.Line(Cat("acc", r, " += W[", Plus("i", r), " * ", k, " + k] * x[k];"));
      }
      cw.Close();
      for (int r = 0; r < reg_m; ++r) {
        if (vec > 1) {
          cw.Line(Cat("float t", r, "[", vec, "];"));
          cw.Line(Cat("__builtin_memcpy(t", r, ", &acc", r, ", sizeof t", r, ");"));
          std::string sum = Cat("t", r, "[0]");
          for (int l = 1; l < vec; ++l) sum += Cat(" + t", r, "[", l, "]");
          cw.Line(Cat("float s", r, " = ", sum, ";"));
          if (codegen::NeedsRemainder(k, tile_k, vec))
            cw.Line(Cat("for (long kk = k; kk < k1; ++kk) s", r, " += W[", Plus("i", r), " * ", k,
                        " + kk] * x[kk];"));
          cw.Line(Cat("y[", Plus("i", r), "] += s", r, ";"));
        } else {
          cw.Line(Cat("y[", Plus("i", r), "] += acc", r, ";"));
        }
      }
      cw.Close();
      if (codegen::NeedsRemainder(m, tile_m, reg_m)) row_loop("i", "m1", false);
    }
    cw.Close();
    cw.Close();
    cw.Close();

    KernelSource src;
    src.code = cw.Take();
    src.reference_code = Cat(
        "#include <stddef.h>\n\n"
        "void simtune_reference(float *const *bufs) {\n"
        "  const float *W = bufs[0];\n"
        "  const float *x = bufs[1];\n"
        "  float *y = bufs[2];\n"
        "  for (long i = 0; i < ", m, "; ++i) {\n"
        "    double s = 0.0;\n"
        "    for (long k = 0; k < ", k, "; ++k) s += (double)W[i * ", k, " + k] * x[k];\n"
        "    y[i] = (float)s;\n"
        "  }\n"
        "}\n");
    src.buffers = {{"W", m * k, false}, {"x", k, false}, {"y", m, true}};
    src.flops = 2.0 * static_cast<double>(m) * static_cast<double>(k);
    codegen::SetTolerance(src, k);
    return src;
  }
};

}  // namespace

std::unique_ptr<Operator> NewMvmOperator() { return std::make_unique<MvmOperator>(); }

}  // namespace simtune::workloads
