// GEMM: C[M][N] = A[M][K] * B[K][N], float32, row-major.
//
// Generated kernel: C is zeroed, then three tile loops (m, n, k in the `order` knob's order)
// each bind a tile's half-open range. With vec_mode=plain the tile is covered by a
// register-blocked micro-kernel (reg_m rows x reg_n vectors of `vec` floats, accumulators in
// locals, k innermost with `#pragma GCC unroll`), and scalar loops cover the rows and columns
// left over when the tile is not a multiple of the block. With vec_mode=auto the tile is
// plain i-k-j loops with `#pragma GCC ivdep` on j, left to the compiler's auto-vectoriser.
// With pack=1 the B tile is copied into a static buffer once both its k and n ranges are
// bound (so it is reused across the m tiles inside that loop level, if any): panels of
// reg_n*vec columns for the micro-kernel, row-major for vec_mode=auto.
#include "codegen.h"
#include "operators.h"

namespace simtune::workloads {
namespace {

using codegen::Cat;
using codegen::Get;
using codegen::Plus;

const std::vector<std::string> kOrders = {"mnk", "mkn", "nmk", "nkm", "kmn", "knm"};
constexpr int64_t kAutoMode = 1;
constexpr int64_t kMaxAccumulators = 16;

std::vector<Knob> GemmKnobs(const Workload& w) {
  using codegen::LabelKnob;
  using codegen::NumericKnob;
  using codegen::TileValues;
  return {
      NumericKnob("tile_m", TileValues(w.Get("M")), "rows of C per tile"),
      NumericKnob("tile_n", TileValues(w.Get("N")), "columns of C per tile"),
      NumericKnob("tile_k", TileValues(w.Get("K")), "reduction length per tile"),
      LabelKnob("order", kOrders, "order of the tile loops, outermost first"),
      NumericKnob("reg_m", {1, 2, 4, 8}, "micro-kernel rows (accumulators per column vector)"),
      NumericKnob("reg_n", {1, 2, 4}, "micro-kernel column vectors"),
      NumericKnob("vec", {1, 4, 8, 16}, "vector width in floats (1: scalar code)"),
      LabelKnob("vec_mode", {"plain", "auto"},
                "plain: micro-kernel as written; auto: plain loops with ivdep hints"),
      NumericKnob("unroll", {1, 2, 4, 8}, "unroll factor of the innermost loop"),
      NumericKnob("pack", {0, 1}, "copy B tiles into a contiguous buffer"),
  };
}

// "reg_n=2 x vec=8", "vec=8" or "reg_n=2": what fixes the micro-kernel's column count.
std::string ColumnsName(int64_t reg_n, int64_t vec) {
  if (reg_n > 1 && vec > 1) return Cat("reg_n=", reg_n, " x vec=", vec);
  if (reg_n > 1) return Cat("reg_n=", reg_n);
  return Cat("vec=", vec);
}

// `v` holds the knob values in GemmKnobs() order.
std::string RejectGemm(const std::array<int64_t, codegen::KnobReader::kMaxKnobs>& v, int64_t n) {
  const int64_t tile_m = v[0], tile_n = v[1], tile_k = v[2];
  const int64_t reg_m = v[4], reg_n = v[5], vec = v[6], vec_mode = v[7], unroll = v[8];
  if (vec_mode == kAutoMode) {
    if (vec != 1) return Cat("vec_mode=auto requires vec=1; got vec=", vec);
    if (reg_m != 1 || reg_n != 1)
      return Cat("vec_mode=auto requires reg_m=1 and reg_n=1; got reg_m=", reg_m,
                 ", reg_n=", reg_n);
    if (unroll > tile_n)
      return Cat("unroll=", unroll, " exceeds tile_n=", tile_n,
                 " (the innermost loop with vec_mode=auto)");
    return "";
  }
  if (reg_m * reg_n > kMaxAccumulators)
    return Cat("reg_m=", reg_m, " x reg_n=", reg_n, " needs ", reg_m * reg_n,
               " accumulators; at most ", kMaxAccumulators);
  if (reg_m > tile_m) return Cat("reg_m=", reg_m, " exceeds tile_m=", tile_m);
  const int64_t cols = reg_n * vec;
  // A tile must hold whole micro-kernel columns, except a single tile spanning all of N,
  // whose leftover columns the edge loops cover.
  if (tile_n % cols != 0 && !(tile_n == n && tile_n >= cols))
    return Cat(ColumnsName(reg_n, vec), " requires tile_n=", tile_n, " to be a multiple of ",
               cols);
  if (unroll > tile_k) return Cat("unroll=", unroll, " exceeds tile_k=", tile_k);
  return "";
}

class GemmOperator : public Operator {
 public:
  std::vector<Param> Params() const override {
    return {{"M", true, 0}, {"N", true, 0}, {"K", true, 0}};
  }

  Status ValidateShape(const Workload& w) const override {
    for (const char* name : {"M", "N", "K"})
      SIMTUNE_RETURN_IF_ERROR(codegen::CheckAtLeast(w, name, 1));
    const int64_t m = w.Get("M"), n = w.Get("N"), k = w.Get("K");
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckBufferSize("A", {m, k}));
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckBufferSize("B", {k, n}));
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckBufferSize("C", {m, n}));
    return Status::Ok();
  }

  std::unique_ptr<Space> MakeSpace(const Workload& w) const override {
    const int64_t n = w.Get("N");
    std::vector<Knob> knobs = GemmKnobs(w);
    const codegen::KnobReader reader(knobs);
    return std::make_unique<Space>(std::move(knobs), [n, reader](const Config& c) {
      return RejectGemm(reader.Read(c), n);
    });
  }

  Result<KernelSource> Generate(const Workload& w, const Config& c,
                                const CodegenContext&) const override {
    const int64_t m = w.Get("M"), n = w.Get("N"), k = w.Get("K");
    const int64_t tile_m = Get(c, "tile_m"), tile_n = Get(c, "tile_n"), tile_k = Get(c, "tile_k");
    const int64_t reg_m = Get(c, "reg_m"), reg_n = Get(c, "reg_n"), vec = Get(c, "vec");
    const int64_t unroll = Get(c, "unroll");
    const bool pack = Get(c, "pack") == 1;
    const bool autovec = Get(c, "vec_mode") == kAutoMode;
    const std::string order = kOrders.at(Get(c, "order"));
    const int64_t cols = reg_n * vec;

    codegen::CodeWriter cw;
    codegen::EmitPrelude(cw, w.Key(), FormatConfig(c, GemmKnobs(w)), vec);
    if (pack) cw.Line(Cat("static float packB[", tile_k * tile_n, "];"));
    cw.Line("");
    cw.Open("void simtune_kernel(float *const *bufs)");
    cw.Line("const float *restrict A = bufs[0];");
    cw.Line("const float *restrict B = bufs[1];");
    cw.Line("float *restrict C = bufs[2];");
    cw.Line(Cat("__builtin_memset(C, 0, sizeof(float) * ", m * n, ");"));

    const size_t pack_depth = std::max(order.find('n'), order.find('k'));
    for (size_t d = 0; d < 3; ++d) {
      const char dim = order[d];
      const int64_t extent = dim == 'm' ? m : dim == 'n' ? n : k;
      const int64_t tile = dim == 'm' ? tile_m : dim == 'n' ? tile_n : tile_k;
      codegen::OpenTileLoop(cw, {std::string(1, dim), extent, tile});
      if (pack && d == pack_depth) {
        if (autovec) {
          cw.Open("for (long k = k0; k < k1; ++k)");
          cw.Line(Cat("__builtin_memcpy(&packB[(k - k0) * (n1 - n0)], &B[k * ", n,
                      " + n0], sizeof(float) * (n1 - n0));"));
          cw.Close();
        } else {
          cw.Open(Cat("for (long p = 0; p < (n1 - n0) / ", cols, "; ++p)"));
          cw.Open("for (long k = k0; k < k1; ++k)");
          cw.Line(Cat("__builtin_memcpy(&packB[(p * (k1 - k0) + (k - k0)) * ", cols, "], &B[k * ",
                      n, " + n0 + p * ", cols, "], sizeof(float) * ", cols, ");"));
          cw.Close();
          cw.Close();
        }
      }
    }

    if (autovec) {
      cw.Open("for (long i = m0; i < m1; ++i)");
      cw.Open("for (long k = k0; k < k1; ++k)");
      cw.Line(Cat("const float a = A[i * ", k, " + k];"));
      cw.Line("#pragma GCC ivdep");
      cw.Line(Cat("#pragma GCC unroll ", unroll));
      cw.Open("for (long j = n0; j < n1; ++j)");
      cw.Line(Cat("C[i * ", n, " + j] += a * ",
                  pack ? "packB[(k - k0) * (n1 - n0) + (j - n0)]" : Cat("B[k * ", n, " + j]"),
                  ";"));
      cw.Close();
      cw.Close();
      cw.Close();
    } else {
      auto edge = [&](const std::string& i_lo, const std::string& i_hi, const std::string& j_lo,
                      const std::string& j_hi) {
        cw.Open(Cat("for (long ii = ", i_lo, "; ii < ", i_hi, "; ++ii)"));
        cw.Open("for (long k = k0; k < k1; ++k)");
        cw.Line(Cat("const float a = A[ii * ", k, " + k];"));
        cw.Open(Cat("for (long jj = ", j_lo, "; jj < ", j_hi, "; ++jj)"));
        cw.Line(Cat("C[ii * ", n, " + jj] += a * B[k * ", n, " + jj];"));
        cw.Close();
        cw.Close();
        cw.Close();
      };
      cw.Line("long i = m0;");
      cw.Open(Cat("for (; i + ", reg_m, " <= m1; i += ", reg_m, ")"));
      cw.Line("long j = n0;");
      cw.Open(Cat("for (; j + ", cols, " <= n1; j += ", cols, ")"));
      if (pack)
        cw.Line(Cat("const float *restrict bp = packB + ((j - n0) / ", cols, ") * (k1 - k0) * ",
                    cols, ";"));
      codegen::MicroKernel mk;
      mk.ra = static_cast<int>(reg_m);
      mk.rb = static_cast<int>(reg_n);
      mk.v = vec;
      mk.out = [&](int a, int b) {
        return Cat("C[", Plus("i", a), " * ", n, " + ", Plus("j", b * vec), "]");
      };
      mk.loops = {"for (long k = k0; k < k1; ++k)"};
      mk.pragmas = {Cat("#pragma GCC unroll ", unroll)};
      mk.x = {false, true, false,
              [&](int a, int) { return Cat("A[", Plus("i", a), " * ", k, " + k]"); }};
      mk.y = {true, false, true, [&](int, int b) {
                return pack ? Cat("bp[(k - k0) * ", cols, " + ", b * vec, "]")
                            : Cat("B[k * ", n, " + ", Plus("j", b * vec), "]");
              }};
      codegen::EmitMicroKernel(cw, mk);
      cw.Close();
      if (codegen::NeedsRemainder(n, tile_n, cols)) edge("i", Cat("i + ", reg_m), "j", "n1");
      cw.Close();
      if (codegen::NeedsRemainder(m, tile_m, reg_m)) edge("i", "m1", "n0", "n1");
    }
    for (int d = 0; d < 3; ++d) cw.Close();
    cw.Close();

    KernelSource src;
    src.code = cw.Take();
    src.reference_code = Cat(
        "#include <stddef.h>\n\n"
        "void simtune_reference(float *const *bufs) {\n"
        "  const float *A = bufs[0];\n"
        "  const float *B = bufs[1];\n"
        "  float *C = bufs[2];\n"
        "  for (long i = 0; i < ", m, "; ++i) {\n"
        "    for (long j = 0; j < ", n, "; ++j) {\n"
        "      double s = 0.0;\n"
        "      for (long k = 0; k < ", k, "; ++k) s += (double)A[i * ", k, " + k] * B[k * ", n,
        " + j];\n"
        "      C[i * ", n, " + j] = (float)s;\n"
        "    }\n"
        "  }\n"
        "}\n");
    src.buffers = {{"A", m * k, false}, {"B", k * n, false}, {"C", m * n, true}};
    src.flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    codegen::SetTolerance(src, k);
    return src;
  }
};

}  // namespace

std::unique_ptr<Operator> NewGemmOperator() { return std::make_unique<GemmOperator>(); }

}  // namespace simtune::workloads
