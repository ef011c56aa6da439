// dwconv2d: depthwise 2-D convolution, channel multiplier 1.
//   out[c][p][q] = sum_{r,s} in[c][p*stride - pad + r][q*stride - pad + s] * w[c][r][s]
// Buffers are always in the canonical layouts: input CHW, weights CRS, output CPQ.
//
// The `layout` knob changes the kernel's internal data order only; all data movement is part
// of the kernel, hence inside the ROI:
//   nchw           input copied into a zero-padded CHW buffer (read in place when pad=0),
//                  weights and output in place; vectors run along q (needs stride=1).
//   nhwc           input copied into padded HWC, weights to RSC, output computed in PQC and
//                  transposed back; vectors run along c.
//   nchwc-blocked  channels in blocks of `vec` ([C/v][H][W][v], [C/v][R][S][v],
//                  [C/v][P][Q][v]); vectors run along c within a block.
// Compute: two tile loops over c and p (the `order` knob), then per output row a register
// block of reg_c x reg_q accumulators (one of the two counted in vectors) over the window
// r, s; the loop over column blocks carries `#pragma GCC unroll` (the window loops are short
// and fully unrolled by the compiler anyway). Scalar loops cover leftover channels/columns.
#include "codegen.h"
#include "operators.h"

namespace simtune::workloads {
namespace {

using codegen::Cat;
using codegen::Get;
using codegen::Plus;
using codegen::Times;

const std::vector<std::string> kOrders = {"cp", "pc"};
constexpr int64_t kMaxAccumulators = 16;

struct DwShape {
  int64_t c, h, w, r, s, stride, pad, p, q;
};

DwShape ShapeOf(const Workload& w) {
  DwShape s{w.Get("C"), w.Get("H"), w.Get("W"), w.Get("R"), w.Get("S"),
            w.Get("stride"), w.Get("pad"), 0, 0};
  s.p = codegen::ConvOut(s.h, s.pad, s.r, s.stride);
  s.q = codegen::ConvOut(s.w, s.pad, s.s, s.stride);
  return s;
}

std::vector<Knob> DwKnobs(const DwShape& s) {
  using codegen::LabelKnob;
  using codegen::NumericKnob;
  using codegen::TileValues;
  return {
      NumericKnob("tile_c", TileValues(s.c), "channels per tile"),
      NumericKnob("tile_p", TileValues(s.p), "output rows per tile"),
      LabelKnob("order", kOrders, "order of the tile loops, outermost first"),
      LabelKnob("layout", codegen::kConvLayouts, "the kernel's internal data layout"),
      NumericKnob("reg_c", {1, 2, 4},
                  "micro-kernel channels (in vectors when the layout vectorises c)"),
      NumericKnob("reg_q", {1, 2, 4, 8},
                  "micro-kernel output columns (in vectors when the layout is nchw)"),
      NumericKnob("vec", {1, 4, 8, 16}, "vector width in floats (1: scalar code)"),
      NumericKnob("unroll", {1, 2, 4, 8}, "unroll factor of the loop over column blocks"),
  };
}

// `v` holds the knob values in DwKnobs() order.
std::string RejectDw(const std::array<int64_t, codegen::KnobReader::kMaxKnobs>& v,
                     const DwShape& s) {
  const int64_t tile_c = v[0], layout = v[3], reg_c = v[4], reg_q = v[5], vec = v[6];
  const int64_t unroll = v[7];
  if (reg_c * reg_q > kMaxAccumulators)
    return Cat("reg_c=", reg_c, " x reg_q=", reg_q, " needs ", reg_c * reg_q,
               " accumulators; at most ", kMaxAccumulators);
  const int64_t step_q = layout == codegen::kNchw ? reg_q * vec : reg_q;
  if (layout == codegen::kNchw) {
    if (vec > 1 && s.stride != 1)
      return Cat("layout=nchw with vec=", vec, " requires stride=1; got stride=", s.stride);
    if (reg_c > tile_c) return Cat("reg_c=", reg_c, " exceeds tile_c=", tile_c);
    if (step_q > s.q)
      return Cat(codegen::RegVecProduct("reg_q", reg_q, vec), " covers ", step_q, " output columns; Q=", s.q);
  } else {
    if (layout == codegen::kNchwcBlocked && vec < 4)
      return Cat("layout=nchwc-blocked requires vec >= 4; got vec=", vec);
    const int64_t rows = reg_c * vec;
    if (tile_c % rows != 0 && !(tile_c == s.c && tile_c >= rows))
      return Cat(codegen::RegVecProduct("reg_c", reg_c, vec), " requires tile_c=", tile_c,
                 " to be a multiple of ", rows);
    if (reg_q > s.q) return Cat("reg_q=", reg_q, " exceeds Q=", s.q);
  }
  if (unroll * step_q > s.q)
    return Cat("unroll=", unroll, " x ", step_q, " columns per block exceeds Q=", s.q);
  return "";
}

class Dwconv2dOperator : public Operator {
 public:
  std::vector<Param> Params() const override {
    return {{"C", true, 0}, {"H", true, 0}, {"W", true, 0},      {"R", true, 0},
            {"S", true, 0}, {"stride", false, 1}, {"pad", false, 0}};
  }

  Status ValidateShape(const Workload& w) const override {
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckConvGeometry(w));
    const DwShape s = ShapeOf(w);
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckBufferSize("input", {s.c + 15, s.h, s.w}));
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckBufferSize("weights", {s.c + 15, s.r, s.s}));
    SIMTUNE_RETURN_IF_ERROR(codegen::CheckBufferSize("output", {s.c + 15, s.p, s.q}));
    SIMTUNE_RETURN_IF_ERROR(
        codegen::CheckBufferSize("padded input", {s.c + 15, s.h + 2 * s.pad, s.w + 2 * s.pad}));
    return Status::Ok();
  }

  std::unique_ptr<Space> MakeSpace(const Workload& w) const override {
    const DwShape s = ShapeOf(w);
    std::vector<Knob> knobs = DwKnobs(s);
    const codegen::KnobReader reader(knobs);
    return std::make_unique<Space>(std::move(knobs), [s, reader](const Config& c) {
      return RejectDw(reader.Read(c), s);
    });
  }

  Result<KernelSource> Generate(const Workload& w, const Config& c,
                                const CodegenContext&) const override {
    const DwShape s = ShapeOf(w);
    const int64_t layout = Get(c, "layout"), vec = Get(c, "vec");
    const int64_t reg_c = Get(c, "reg_c"), reg_q = Get(c, "reg_q"), unroll = Get(c, "unroll");
    const std::string order = kOrders.at(Get(c, "order"));
    const bool nchw = layout == codegen::kNchw;
    const bool direct_in = nchw && s.pad == 0;
    const int64_t hp = s.h + 2 * s.pad, wp = s.w + 2 * s.pad;
    const int64_t block = layout == codegen::kNchwcBlocked ? vec : 1;
    const int64_t c_pad = codegen::RoundUp(s.c, block);
    const int64_t step_c = nchw ? reg_c : reg_c * vec;
    const int64_t step_q = nchw ? reg_q * vec : reg_q;

    codegen::CodeWriter cw;
    codegen::EmitPrelude(cw, w.Key(), FormatConfig(c, DwKnobs(s)), vec);
    if (nchw) {
      const int64_t ih = direct_in ? s.h : hp, iw = direct_in ? s.w : wp;
      cw.Line(Cat("#define IN_IDX(c, h, w) (((c) * ", ih, " + (h)) * ", iw, " + (w))"));
      cw.Line(Cat("#define WT_IDX(c, r, s) (((c) * ", s.r, " + (r)) * ", s.s, " + (s))"));
      cw.Line(Cat("#define OUT_IDX(c, p, q) (((c) * ", s.p, " + (p)) * ", s.q, " + (q))"));
    } else if (layout == codegen::kNhwc) {
      cw.Line(Cat("#define IN_IDX(c, h, w) (((h) * ", wp, " + (w)) * ", s.c, " + (c))"));
      cw.Line(Cat("#define WT_IDX(c, r, s) (((r) * ", s.s, " + (s)) * ", s.c, " + (c))"));
      cw.Line(Cat("#define OUT_IDX(c, p, q) (((p) * ", s.q, " + (q)) * ", s.c, " + (c))"));
    } else {
      cw.Line(Cat("#define IN_IDX(c, h, w) (((((c) / ", block, ") * ", hp, " + (h)) * ", wp,
                  " + (w)) * ", block, " + (c) % ", block, ")"));
      cw.Line(Cat("#define WT_IDX(c, r, s) (((((c) / ", block, ") * ", s.r, " + (r)) * ", s.s,
                  " + (s)) * ", block, " + (c) % ", block, ")"));
      cw.Line(Cat("#define OUT_IDX(c, p, q) (((((c) / ", block, ") * ", s.p, " + (p)) * ", s.q,
                  " + (q)) * ", block, " + (c) % ", block, ")"));
    }
    if (!direct_in) cw.Line(Cat("static float xp[", c_pad * hp * wp, "];"));
    if (!nchw) {
      cw.Line(Cat("static float wp[", c_pad * s.r * s.s, "];"));
      cw.Line(Cat("static float yp[", c_pad * s.p * s.q, "];"));
    }
    cw.Line("");
    cw.Open("void simtune_kernel(float *const *bufs)");
    cw.Line("const float *x = bufs[0];");
    cw.Line("const float *wt = bufs[1];");
    cw.Line("float *y = bufs[2];");
    if (!nchw) {
      cw.Open(Cat("for (long c = 0; c < ", s.c, "; ++c)"));
      cw.Open(Cat("for (long r = 0; r < ", s.r, "; ++r)"));
      cw.Open(Cat("for (long s = 0; s < ", s.s, "; ++s)"));
      cw.Line(Cat("wp[WT_IDX(c, r, s)] = wt[(c * ", s.r, " + r) * ", s.s, " + s];"));
      for (int i = 0; i < 3; ++i) cw.Close();
    }
    if (!direct_in) {
      // Padding cells of xp are never written, so they keep the zeros of static storage.
      cw.Open(Cat("for (long c = 0; c < ", s.c, "; ++c)"));
      cw.Open(Cat("for (long h = 0; h < ", s.h, "; ++h)"));
      cw.Open(Cat("for (long w = 0; w < ", s.w, "; ++w)"));
      cw.Line(Cat("xp[IN_IDX(c, ", Plus("h", s.pad), ", ", Plus("w", s.pad), ")] = x[(c * ", s.h,
                  " + h) * ", s.w, " + w];"));
      for (int i = 0; i < 3; ++i) cw.Close();
    }
    cw.Line(Cat("const float *restrict ws = ", nchw ? "wt" : "wp", ";"));
    cw.Line(Cat("const float *restrict xs = ", direct_in ? "x" : "xp", ";"));
    cw.Line(Cat("float *restrict ys = ", nchw ? "y" : "yp", ";"));
    cw.Line(Cat("__builtin_memset(ys, 0, sizeof(float) * ", (nchw ? s.c : c_pad) * s.p * s.q,
                ");"));

    for (char dim : order) {
      if (dim == 'c') codegen::OpenTileLoop(cw, {"c", s.c, Get(c, "tile_c")});
      if (dim == 'p') codegen::OpenTileLoop(cw, {"p", s.p, Get(c, "tile_p")});
    }
    const std::string hrow = Cat(Times("p", s.stride), " + r");
    auto edge = [&](const std::string& c_lo, const std::string& c_hi, const std::string& q_lo) {
      cw.Open(Cat("for (long cc = ", c_lo, "; cc < ", c_hi, "; ++cc)"));
      cw.Open(Cat("for (long qq = ", q_lo, "; qq < ", s.q, "; ++qq)"));
      cw.Line("float acc = ys[OUT_IDX(cc, p, qq)];");
      cw.Open(Cat("for (long r = 0; r < ", s.r, "; ++r)"));
      cw.Open(Cat("for (long s = 0; s < ", s.s, "; ++s)"));
      cw.Line(Cat("acc += ws[WT_IDX(cc, r, s)] * xs[IN_IDX(cc, ", hrow, ", ",
                  Times("qq", s.stride), " + s)];"));
      cw.Close();
      cw.Close();
      cw.Line("ys[OUT_IDX(cc, p, qq)] = acc;");
      cw.Close();
      cw.Close();
    };
    cw.Open("for (long p = p0; p < p1; ++p)");
    cw.Line("long c = c0;");
    cw.Open(Cat("for (; c + ", step_c, " <= c1; c += ", step_c, ")"));
    cw.Line("long q = 0;");
    cw.Line(Cat("#pragma GCC unroll ", unroll));
    cw.Open(Cat("for (; q + ", step_q, " <= ", s.q, "; q += ", step_q, ")"));
    codegen::MicroKernel mk;
    mk.v = vec;
    mk.loops = {Cat("for (long r = 0; r < ", s.r, "; ++r)"),
                Cat("for (long s = 0; s < ", s.s, "; ++s)")};
    if (nchw) {
      // acc[a][b]: channel c + a, columns q + b*vec ... (vector along q).
      mk.ra = static_cast<int>(reg_c);
      mk.rb = static_cast<int>(reg_q);
      mk.out = [&](int a, int b) {
        return Cat("ys[OUT_IDX(", Plus("c", a), ", p, ", Plus("q", b * vec), ")]");
      };
      mk.x = {false, true, false,
              [&](int a, int) { return Cat("ws[WT_IDX(", Plus("c", a), ", r, s)]"); }};
      mk.y = {true, true, true, [&](int a, int b) {
                return Cat("xs[IN_IDX(", Plus("c", a), ", ", hrow, ", ",
                           Times(Plus("q", b * vec), s.stride), " + s)]");
              }};
    } else {
      // acc[a][b]: column q + a, channels c + b*vec ... (vector along c).
      mk.ra = static_cast<int>(reg_q);
      mk.rb = static_cast<int>(reg_c);
      mk.out = [&](int a, int b) {
        return Cat("ys[OUT_IDX(", Plus("c", b * vec), ", p, ", Plus("q", a), ")]");
      };
      mk.x = {true, true, true, [&](int a, int b) {
                return Cat("xs[IN_IDX(", Plus("c", b * vec), ", ", hrow, ", ",
                           Times(Plus("q", a), s.stride), " + s)]");
              }};
      mk.y = {true, false, true,
              [&](int, int b) { return Cat("ws[WT_IDX(", Plus("c", b * vec), ", r, s)]"); }};
    }
    codegen::EmitMicroKernel(cw, mk);
    cw.Close();
    if (s.q % step_q != 0) edge("c", Cat("c + ", step_c), "q");
    cw.Close();
    if (codegen::NeedsRemainder(s.c, Get(c, "tile_c"), step_c)) edge("c", "c1", "0");
    cw.Close();
    for (int i = 0; i < 2; ++i) cw.Close();

    if (!nchw) {
      cw.Open(Cat("for (long c = 0; c < ", s.c, "; ++c)"));
      cw.Open(Cat("for (long p = 0; p < ", s.p, "; ++p)"));
      cw.Open(Cat("for (long q = 0; q < ", s.q, "; ++q)"));
      cw.Line(Cat("y[(c * ", s.p, " + p) * ", s.q, " + q] = ys[OUT_IDX(c, p, q)];"));
      for (int i = 0; i < 3; ++i) cw.Close();
    }
    cw.Close();

    KernelSource src;
    src.code = cw.Take();
    src.reference_code = Cat(
        "#include <stddef.h>\n\n"
        "void simtune_reference(float *const *bufs) {\n"
        "  const float *in = bufs[0];\n"
        "  const float *wt = bufs[1];\n"
        "  float *out = bufs[2];\n"
        "  for (long c = 0; c < ", s.c, "; ++c)\n"
        "    for (long p = 0; p < ", s.p, "; ++p)\n"
        "      for (long q = 0; q < ", s.q, "; ++q) {\n"
        "        double acc = 0.0;\n"
        "        for (long r = 0; r < ", s.r, "; ++r)\n"
        "          for (long s = 0; s < ", s.s, "; ++s) {\n"
        "            long h = p * ", s.stride, " - ", s.pad, " + r;\n"
        "            long w = q * ", s.stride, " - ", s.pad, " + s;\n"
        "            if (h < 0 || h >= ", s.h, " || w < 0 || w >= ", s.w, ") continue;\n"
        "            acc += (double)in[(c * ", s.h, " + h) * ", s.w, " + w] * wt[(c * ", s.r,
        " + r) * ", s.s, " + s];\n"
        "          }\n"
        "        out[(c * ", s.p, " + p) * ", s.q, " + q] = (float)acc;\n"
        "      }\n"
        "}\n");
    src.buffers = {{"input", s.c * s.h * s.w, false},
                   {"weights", s.c * s.r * s.s, false},
                   {"output", s.c * s.p * s.q, true}};
    src.flops = 2.0 * static_cast<double>(s.c * s.p * s.q) * static_cast<double>(s.r * s.s);
    codegen::SetTolerance(src, s.r * s.s);
    return src;
  }
};

}  // namespace

std::unique_ptr<Operator> NewDwconv2dOperator() { return std::make_unique<Dwconv2dOperator>(); }

}  // namespace simtune::workloads
