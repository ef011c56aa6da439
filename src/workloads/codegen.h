// Internal helpers shared by the built-in operators: knob construction, a small C code
// writer, the register-blocked micro-kernel emitter and the tolerance rule.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "simtune/workload.h"

namespace simtune::codegen {

// Concatenates strings and integers. Cheap (no stream), because reject functions build
// their reason strings for every invalid config that a space enumeration visits.
inline void AppendPiece(std::string& out, std::string_view s) { out += s; }
inline void AppendPiece(std::string& out, char c) { out += c; }
template <class T>
  requires std::is_integral_v<T>
void AppendPiece(std::string& out, T v) {
  out += std::to_string(v);
}
template <class... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (AppendPiece(out, args), ...);
  return out;
}

// "k" + 0 -> "k", "k" + 8 -> "(k + 8)".
std::string Plus(const std::string& var, int64_t offset);

// "p" * 1 -> "p", "p" * 2 -> "p * 2".
std::string Times(const std::string& var, int64_t factor);

inline int64_t RoundUp(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

// Convolution layouts (the `layout` knob's labels, in this order) and the output size of a
// convolution along one axis: (in + 2 * pad - window) / stride + 1.
// "reg_q=2 x vec=8", "reg_q=2" or "vec=8": how a constraint message names the width a
// micro-kernel covers.
inline std::string RegVecProduct(const char* reg_name, int64_t reg, int64_t vec) {
  if (reg > 1 && vec > 1) return Cat(reg_name, "=", reg, " x vec=", vec);
  if (reg > 1) return Cat(reg_name, "=", reg);
  return Cat("vec=", vec);
}

inline const std::vector<std::string> kConvLayouts = {"nchw", "nhwc", "nchwc-blocked"};
enum ConvLayout : int64_t { kNchw = 0, kNhwc = 1, kNchwcBlocked = 2 };
inline int64_t ConvOut(int64_t in, int64_t pad, int64_t window, int64_t stride) {
  return (in + 2 * pad - window) / stride + 1;
}
// Shape checks shared by conv2d and dwconv2d: strides >= 1, pad >= 0, windows that fit.
Status CheckConvGeometry(const Workload& w);

// Tile sizes offered for a loop of `dim` iterations: powers of two below `dim`, starting at 4
// (or at the first one >= dim/64, so a long loop gets at most about seven choices), then
// `dim` itself (one tile covering the loop). Tiles need not divide `dim`.
std::vector<int64_t> TileValues(int64_t dim);

Knob NumericKnob(std::string name, std::vector<int64_t> values, std::string description);
Knob LabelKnob(std::string name, std::vector<std::string> labels, std::string description);

// Value of a knob the space has already checked to be present.
int64_t Get(const Config& config, const std::string& name);

// Reads all knob values of a config in the knobs' declared order with one pass over the map,
// instead of one lookup per knob: reject functions run for every config that a space
// enumeration visits. Precondition: the config holds exactly these knobs (a Space only passes
// such configs to its reject function).
class KnobReader {
 public:
  static constexpr size_t kMaxKnobs = 16;
  explicit KnobReader(const std::vector<Knob>& knobs);
  std::array<int64_t, kMaxKnobs> Read(const Config& config) const;

 private:
  std::vector<std::string> sorted_names_;
  std::vector<size_t> declared_index_;  // of each sorted name
};

// Indented C text.
class CodeWriter {
 public:
  void Line(const std::string& text);
  void Open(const std::string& head);  // "head {" and indent
  void Close();                        // dedent and "}"
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
  int indent_ = 0;
};

// The C type name for `v` floats ("float" for v == 1).
std::string VecType(int64_t v);

// Comment header, includes and the vector typedef (when v > 1).
void EmitPrelude(CodeWriter& cw, const std::string& title, const std::string& config_text,
                 int64_t v);

// Whether blocking a loop of `extent` iterations, tiled by `tile`, into steps of `block`
// leaves iterations over in some tile (so remainder code is needed). Emitting remainder loops
// only when needed keeps dead loops out of the code (GCC warns about some of them).
bool NeedsRemainder(int64_t extent, int64_t tile, int64_t block);

// One `for` loop over tiles of `var`: binds `<var>0`, `<var>1` (the tile's half-open range).
struct TileLoop {
  std::string var;
  int64_t extent;
  int64_t tile;
};
void OpenTileLoop(CodeWriter& cw, const TileLoop& loop);

// An operand of the micro-kernel's update acc[a][b] += x * y. `element(a, b)` is the C lvalue
// of its (first) element; `vector` operands load `v` consecutive floats.
struct Operand {
  bool vector = false;
  bool per_a = false;
  bool per_b = false;
  std::function<std::string(int, int)> element;
};

// A register block of ra x rb accumulators of `v` floats each, kept in local variables:
// loaded from `out(a, b)` (v consecutive floats), updated over the reduction `loops`
// (C loop heads, outermost first; `pragmas` go before the innermost) and stored back.
struct MicroKernel {
  int ra = 1;
  int rb = 1;
  int64_t v = 1;
  std::function<std::string(int, int)> out;
  std::vector<std::string> loops;
  std::vector<std::string> pragmas;
  Operand x;
  Operand y;
};
void EmitMicroKernel(CodeWriter& cw, const MicroKernel& mk);

// Sets rel_tol/abs_tol for a kernel whose outputs are sums of `reduction_length` products.
void SetTolerance(KernelSource& source, int64_t reduction_length);

// Buffer size limit shared by shape validation (each buffer, in floats).
inline constexpr int64_t kMaxBufferElements = int64_t{1} << 26;

// Largest value of any shape parameter (keeps all index arithmetic far from overflow).
inline constexpr int64_t kMaxShapeValue = int64_t{1} << 24;
// Checks min <= value <= kMaxShapeValue for shape parameter `name`.
Status CheckAtLeast(const Workload& workload, const std::string& name, int64_t min);
// Checks that a buffer of prod(`dims`) floats stays under kMaxBufferElements.
Status CheckBufferSize(const std::string& buffer, const std::vector<int64_t>& dims);

}  // namespace simtune::codegen
