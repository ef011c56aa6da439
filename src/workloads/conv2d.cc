// conv2d: direct 2-D convolution.
//   out[n][k][p][q] = sum_{c,r,s} in[n][c][p*stride - pad + r][q*stride - pad + s] * w[k][c][r][s]
// Buffers are always in the canonical layouts: input NCHW, weights KCRS, output NKPQ, with
// P = (H + 2*pad - R) / stride + 1 and Q likewise.
//
// The `layout` knob changes the kernel's internal data order only. All data movement is part
// of the kernel, hence inside the ROI:
//   nchw           input copied into a zero-padded NCHW buffer (read in place when pad=0);
//                  weights and output used in place; vectors run along q (needs stride=1).
//   nhwc           input copied into padded HWC, weights repacked to RSCK, output computed in
//                  PQK and transposed back; vectors run along k.
//   nchwc-blocked  NCHW[v]c: channels in blocks of `vec` (input [C/v][H][W][v], weights
//                  [K/v][C][R][S][v], output [K/v][P][Q][v]), blocks padded with zeros;
//                  vectors run along k within a block.
// Compute: three tile loops over k, c, p (the `order` knob), then per output row a
// register-blocked micro-kernel of reg_k x reg_q accumulators (one of the two counted in
// vectors, see above) whose reduction loops run r, s, c with c innermost (`unroll`), and
// scalar loops for the k and q left over from the blocks.
#include "codegen.h"
#include "operators.h"

namespace simtune::workloads {
namespace {

using codegen::Cat;
using codegen::Get;
using codegen::Plus;
using codegen::Times;

const std::vector<std::string> kOrders = {"kcp", "kpc", "ckp", "cpk", "pkc", "pck"};
constexpr int64_t kMaxAccumulators = 16;

struct ConvShape {
  int64_t n, c, h, w, k, r, s, stride, pad, p, q;
};

ConvShape ShapeOf(const Workload& w) {
  ConvShape s{w.Get("N"), w.Get("C"), w.Get("H"), w.Get("W"), w.Get("K"), w.Get("R"),
              w.Get("S"), w.Get("stride"), w.Get("pad"), 0, 0};
  s.p = codegen::ConvOut(s.h, s.pad, s.r, s.stride);
  s.q = codegen::ConvOut(s.w, s.pad, s.s, s.stride);
  return s;
}

std::vector<Knob> ConvKnobs(const ConvShape& s) {
  using codegen::LabelKnob;
  using codegen::NumericKnob;
  using codegen::TileValues;
  return {
      NumericKnob("tile_k", TileValues(s.k), "output channels per tile"),
      NumericKnob("tile_c", TileValues(s.c), "input channels (reduction) per tile"),
      NumericKnob("tile_p", TileValues(s.p), "output rows per tile"),
      LabelKnob("order", kOrders, "order of the tile loops, outermost first"),
      LabelKnob("layout", codegen::kConvLayouts, "the kernel's internal data layout"),
      NumericKnob("reg_k", {1, 2, 4},
                  "micro-kernel output channels (in vectors when the layout vectorises k)"),
      NumericKnob("reg_q", {1, 2, 4, 8},
                  "micro-kernel output columns (in vectors when the layout is nchw)"),
      NumericKnob("vec", {1, 4, 8, 16}, "vector width in floats (1: scalar code)"),
      NumericKnob("unroll", {1, 2, 4, 8}, "unroll factor of the innermost (c) loop"),
  };
}

// `v` holds the knob values in ConvKnobs() order.
std::string RejectConv(const std::array<int64_t, codegen::KnobReader::kMaxKnobs>& v,
                       const ConvShape& s) {
  const int64_t tile_k = v[0], tile_c = v[1], layout = v[4], reg_k = v[5], reg_q = v[6];
  const int64_t vec = v[7], unroll = v[8];
  if (reg_k * reg_q > kMaxAccumulators)
    return Cat("reg_k=", reg_k, " x reg_q=", reg_q, " needs ", reg_k * reg_q,
               " accumulators; at most ", kMaxAccumulators);
  if (unroll > tile_c) return Cat("unroll=", unroll, " exceeds tile_c=", tile_c);
  if (layout == codegen::kNchw) {
    if (vec > 1 && s.stride != 1)
      return Cat("layout=nchw with vec=", vec, " requires stride=1; got stride=", s.stride);
    if (reg_k > tile_k) return Cat("reg_k=", reg_k, " exceeds tile_k=", tile_k);
    if (reg_q * vec > s.q)
      return Cat(codegen::RegVecProduct("reg_q", reg_q, vec), " covers ", reg_q * vec,
                 " output columns; Q=", s.q);
    return "";
  }
  if (layout == codegen::kNchwcBlocked && vec < 4)
    return Cat("layout=nchwc-blocked requires vec >= 4; got vec=", vec);
  const int64_t rows = reg_k * vec;
  // Whole micro-kernel blocks per tile (which also keeps vectors inside one channel block
  // for nchwc-blocked), except a single tile spanning all of K.
  if (tile_k % rows != 0 && !(tile_k == s.k && tile_k >= rows))
    return Cat(codegen::RegVecProduct("reg_k", reg_k, vec), " requires tile_k=", tile_k,
               " to be a multiple of ", rows);
  if (reg_q > s.q) return Cat("reg_q=", reg_q, " exceeds Q=", s.q);
  return "";
}

class Conv2dOperator : public Operator {
 public:
  std::vector<Param> Params() const override {
    return {{"N", false, 1}, {"C", true, 0}, {"H", true, 0},      {"W", true, 0},  {"K", true, 0},
            {"R", true, 0},  {"S", true, 0}, {"stride", false, 1}, {"pad", false, 0}};
  }

  Status ValidateShape(const Workload& w) const override {
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckAtLeast(w, "N", 1));
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckAtLeast(w, "K", 1));
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckConvGeometry(w));
    const ConvShape s = ShapeOf(w);
    const int64_t hp = s.h + 2 * s.pad, wp = s.w + 2 * s.pad;
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckBufferSize("input", {s.n, s.c, s.h, s.w}));
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckBufferSize("weights", {s.k, s.c + 15, s.r, s.s}));
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckBufferSize("output", {s.n, s.k + 15, s.p, s.q}));
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckBufferSize("padded input", {s.c + 15, hp, wp}));
    return Status::Ok();
  }

  std::unique_ptr<Space> MakeSpace(const Workload& w) const override {
    const ConvShape s = ShapeOf(w);
    std::vector<Knob> knobs = ConvKnobs(s);
    const codegen::KnobReader reader(knobs);
    return std::make_unique<Space>(std::move(knobs), [s, reader](const Config& c) {
      return RejectConv(reader.Read(c), s);
    });
  }

  Result<KernelSource> Generate(const Workload& w, const Config& c,
                                const CodegenContext&) const override {
    const ConvShape s = ShapeOf(w);
    const int64_t layout = Get(c, "layout"), vec = Get(c, "vec");
    const int64_t reg_k = Get(c, "reg_k"), reg_q = Get(c, "reg_q"), unroll = Get(c, "unroll");
    const std::string order = kOrders.at(Get(c, "order"));
    const bool nchw = layout == codegen::kNchw;
    const bool direct_in = nchw && s.pad == 0;
    const int64_t hp = s.h + 2 * s.pad, wp = s.w + 2 * s.pad;
    const int64_t block = layout == codegen::kNchwcBlocked ? vec : 1;
    const int64_t c_pad = codegen::RoundUp(s.c, block), k_pad = codegen::RoundUp(s.k, block);
    // Micro-kernel extent along k and q in elements.
    const int64_t step_k = nchw ? reg_k : reg_k * vec;
    const int64_t step_q = nchw ? reg_q * vec : reg_q;

    codegen::CodeWriter cw;
    codegen::EmitPrelude(cw, w.Key(), FormatConfig(c, ConvKnobs(s)), vec);
    if (nchw) {
      const int64_t ih = direct_in ? s.h : hp, iw = direct_in ? s.w : wp;
      cw.Line(Cat("#define IN_IDX(c, h, w) (((c) * ", ih, " + (h)) * ", iw, " + (w))"));
      cw.Line(Cat("#define WT_IDX(k, c, r, s) ((((k) * ", s.c, " + (c)) * ", s.r, " + (r)) * ", s.s,
                  " + (s))"));
      cw.Line(Cat("#define OUT_IDX(k, p, q) (((k) * ", s.p, " + (p)) * ", s.q, " + (q))"));
    } else if (layout == codegen::kNhwc) {
      cw.Line(Cat("#define IN_IDX(c, h, w) (((h) * ", wp, " + (w)) * ", s.c, " + (c))"));
      cw.Line(Cat("#define WT_IDX(k, c, r, s) ((((r) * ", s.s, " + (s)) * ", s.c, " + (c)) * ", s.k,
                  " + (k))"));
      cw.Line(Cat("#define OUT_IDX(k, p, q) (((p) * ", s.q, " + (q)) * ", s.k, " + (k))"));
    } else {
      cw.Line(Cat("#define IN_IDX(c, h, w) (((((c) / ", block, ") * ", hp, " + (h)) * ", wp,
                  " + (w)) * ", block, " + (c) % ", block, ")"));
      cw.Line(Cat("#define WT_IDX(k, c, r, s) ((((((k) / ", block, ") * ", s.c, " + (c)) * ", s.r,
                  " + (r)) * ", s.s, " + (s)) * ", block, " + (k) % ", block, ")"));
      cw.Line(Cat("#define OUT_IDX(k, p, q) (((((k) / ", block, ") * ", s.p, " + (p)) * ", s.q,
                  " + (q)) * ", block, " + (k) % ", block, ")"));
    }
    if (!direct_in) cw.Line(Cat("static float xp[", c_pad * hp * wp, "];"));
    if (!nchw) {
      cw.Line(Cat("static float wp[", k_pad * s.c * s.r * s.s, "];"));
      cw.Line(Cat("static float yp[", k_pad * s.p * s.q, "];"));
    }
    cw.Line("");
    cw.Open("void simtune_kernel(float *const *bufs)");
    cw.Line("const float *in = bufs[0];");
    cw.Line("const float *wt = bufs[1];");
    cw.Line("float *out = bufs[2];");
    if (!nchw) {
      cw.Open(Cat("for (long k = 0; k < ", s.k, "; ++k)"));
      cw.Open(Cat("for (long c = 0; c < ", s.c, "; ++c)"));
      cw.Open(Cat("for (long r = 0; r < ", s.r, "; ++r)"));
      cw.Open(Cat("for (long s = 0; s < ", s.s, "; ++s)"));
      cw.Line(Cat("wp[WT_IDX(k, c, r, s)] = wt[((k * ", s.c, " + c) * ", s.r, " + r) * ", s.s,
                  " + s];"));
      for (int i = 0; i < 4; ++i) cw.Close();
    }
    cw.Line(Cat("const float *restrict ws = ", nchw ? "wt" : "wp", ";"));
    cw.Open(Cat("for (long n = 0; n < ", s.n, "; ++n)"));
    cw.Line(Cat("const float *x = in + n * ", s.c * s.h * s.w, ";"));
    cw.Line(Cat("float *y = out + n * ", s.k * s.p * s.q, ";"));
    if (!direct_in) {
      // Padding cells of xp are never written, so they keep the zeros of static storage.
      cw.Open(Cat("for (long c = 0; c < ", s.c, "; ++c)"));
      cw.Open(Cat("for (long h = 0; h < ", s.h, "; ++h)"));
      cw.Open(Cat("for (long w = 0; w < ", s.w, "; ++w)"));
      cw.Line(Cat("xp[IN_IDX(c, ", Plus("h", s.pad), ", ", Plus("w", s.pad), ")] = x[(c * ", s.h,
                  " + h) * ", s.w, " + w];"));
      for (int i = 0; i < 3; ++i) cw.Close();
    }
    cw.Line(Cat("const float *restrict xs = ", direct_in ? "x" : "xp", ";"));
    cw.Line(Cat("float *restrict ys = ", nchw ? "y" : "yp", ";"));
    cw.Line(Cat("__builtin_memset(ys, 0, sizeof(float) * ", (nchw ? s.k : k_pad) * s.p * s.q,
                ");"));

    for (char dim : order) {
      if (dim == 'k') codegen::OpenTileLoop(cw, {"k", s.k, Get(c, "tile_k")});
      if (dim == 'c') codegen::OpenTileLoop(cw, {"c", s.c, Get(c, "tile_c")});
      if (dim == 'p') codegen::OpenTileLoop(cw, {"p", s.p, Get(c, "tile_p")});
    }
    const std::string hrow = Cat(Times("p", s.stride), " + r");
    auto edge = [&](const std::string& k_lo, const std::string& k_hi, const std::string& q_lo) {
      cw.Open(Cat("for (long kk = ", k_lo, "; kk < ", k_hi, "; ++kk)"));
      cw.Open(Cat("for (long qq = ", q_lo, "; qq < ", s.q, "; ++qq)"));
      cw.Line("float acc = ys[OUT_IDX(kk, p, qq)];");
      cw.Open(Cat("for (long r = 0; r < ", s.r, "; ++r)"));
      cw.Open(Cat("for (long s = 0; s < ", s.s, "; ++s)"));
      cw.Open("for (long c = c0; c < c1; ++c)");
      cw.Line(Cat("acc += ws[WT_IDX(kk, c, r, s)] * xs[IN_IDX(c, ", hrow, ", ",
                  Times("qq", s.stride), " + s)];"));
      for (int i = 0; i < 3; ++i) cw.Close();
      cw.Line("ys[OUT_IDX(kk, p, qq)] = acc;");
      cw.Close();
      cw.Close();
    };
    cw.Open("for (long p = p0; p < p1; ++p)");
    cw.Line("long k = k0;");
    cw.Open(Cat("for (; k + ", step_k, " <= k1; k += ", step_k, ")"));
    cw.Line("long q = 0;");
    cw.Open(Cat("for (; q + ", step_q, " <= ", s.q, "; q += ", step_q, ")"));
    codegen::MicroKernel mk;
    mk.v = vec;
    mk.loops = {Cat("for (long r = 0; r < ", s.r, "; ++r)"),
                Cat("for (long s = 0; s < ", s.s, "; ++s)"), "for (long c = c0; c < c1; ++c)"};
    mk.pragmas = {Cat("#pragma GCC unroll ", unroll)};
    if (nchw) {
      // acc[a][b]: output channel k + a, columns q + b*vec ... (vector along q).
      mk.ra = static_cast<int>(reg_k);
      mk.rb = static_cast<int>(reg_q);
      mk.out = [&](int a, int b) {
        return Cat("ys[OUT_IDX(", Plus("k", a), ", p, ", Plus("q", b * vec), ")]");
      };
      mk.x = {false, true, false,
              [&](int a, int) { return Cat("ws[WT_IDX(", Plus("k", a), ", c, r, s)]"); }};
      mk.y = {true, false, true, [&](int, int b) {
                return Cat("xs[IN_IDX(c, ", hrow, ", ", Times(Plus("q", b * vec), s.stride),
                           " + s)]");
              }};
    } else {
      // acc[a][b]: output column q + a, channels k + b*vec ... (vector along k).
      mk.ra = static_cast<int>(reg_q);
      mk.rb = static_cast<int>(reg_k);
      mk.out = [&](int a, int b) {
        return Cat("ys[OUT_IDX(", Plus("k", b * vec), ", p, ", Plus("q", a), ")]");
      };
      mk.x = {false, true, false, [&](int a, int) {
                return Cat("xs[IN_IDX(c, ", hrow, ", ", Times(Plus("q", a), s.stride), " + s)]");
              }};
      mk.y = {true, false, true,
              [&](int, int b) { return Cat("ws[WT_IDX(", Plus("k", b * vec), ", c, r, s)]"); }};
    }
    codegen::EmitMicroKernel(cw, mk);
    cw.Close();
    if (s.q % step_q != 0) edge("k", Cat("k + ", step_k), "q");
    cw.Close();
    if (codegen::NeedsRemainder(s.k, Get(c, "tile_k"), step_k)) edge("k", "k1", "0");
    cw.Close();
    for (int i = 0; i < 3; ++i) cw.Close();

    if (!nchw) {
      cw.Open(Cat("for (long k = 0; k < ", s.k, "; ++k)"));
      cw.Open(Cat("for (long p = 0; p < ", s.p, "; ++p)"));
      cw.Open(Cat("for (long q = 0; q < ", s.q, "; ++q)"));
      cw.Line(Cat("y[(k * ", s.p, " + p) * ", s.q, " + q] = ys[OUT_IDX(k, p, q)];"));
      for (int i = 0; i < 3; ++i) cw.Close();
    }
    cw.Close();
    cw.Close();

    KernelSource src;
    src.code = cw.Take();
    src.reference_code = Cat(
        "#include <stddef.h>\n\n"
        "void simtune_reference(float *const *bufs) {\n"
        "  const float *in = bufs[0];\n"
        "  const float *wt = bufs[1];\n"
        "  float *out = bufs[2];\n"
        "  for (long n = 0; n < ", s.n, "; ++n)\n"
        "    for (long k = 0; k < ", s.k, "; ++k)\n"
        "      for (long p = 0; p < ", s.p, "; ++p)\n"
        "        for (long q = 0; q < ", s.q, "; ++q) {\n"
        "          double acc = 0.0;\n"
        "          for (long c = 0; c < ", s.c, "; ++c)\n"
        "            for (long r = 0; r < ", s.r, "; ++r)\n"
        "              for (long s = 0; s < ", s.s, "; ++s) {\n"
        "                long h = p * ", s.stride, " - ", s.pad, " + r;\n"
        "                long w = q * ", s.stride, " - ", s.pad, " + s;\n"
        "                if (h < 0 || h >= ", s.h, " || w < 0 || w >= ", s.w, ") continue;\n"
        "                acc += (double)in[((n * ", s.c, " + c) * ", s.h, " + h) * ", s.w,
        " + w] * wt[((k * ", s.c, " + c) * ", s.r, " + r) * ", s.s, " + s];\n"
        "              }\n"
        "          out[((n * ", s.k, " + k) * ", s.p, " + p) * ", s.q, " + q] = (float)acc;\n"
        "        }\n"
        "}\n");
    src.buffers = {{"input", s.n * s.c * s.h * s.w, false},
                   {"weights", s.k * s.c * s.r * s.s, false},
                   {"output", s.n * s.k * s.p * s.q, true}};
    src.flops = 2.0 * static_cast<double>(s.n * s.k * s.p * s.q) *
                static_cast<double>(s.c * s.r * s.s);
    codegen::SetTolerance(src, s.c * s.r * s.s);
    return src;
  }
};

}  // namespace

std::unique_ptr<Operator> NewConv2dOperator() { return std::make_unique<Conv2dOperator>(); }

}  // namespace simtune::workloads
