// Workloads (an operator with concrete shapes), their search spaces (knobs and
// constraints) and the C code a candidate generates.
//
// Flow: ParseWorkload("gemm:M=256,N=256,K=256" or "resnet18.conv2_x")
//         -> Workload -> Operator::MakeSpace() -> Space (enumerate / sample / mutate)
//         -> Config (one knob assignment = one candidate)
//         -> Operator::Generate() -> KernelSource, which build/ wraps in a harness.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "simtune/registry.h"
#include "simtune/result.h"

namespace simtune {

// An operator with concrete shape parameters.
struct Workload {
  std::string op;                                      // registered operator name, "gemm"
  std::vector<std::pair<std::string, int64_t>> shape;  // in the operator's canonical order
  std::string catalog_name;                            // "resnet18.conv2_x" when from the catalog
  std::string spec_path;                               // custom kernels: their spec file (absolute)
  std::string content_hash;                            // custom kernels: CustomContentHash

  // Canonical text, stable across runs; the store's key: "gemm:M=256,N=256,K=256".
  // Custom kernels: "custom:<absolute spec path>#<content hash>": the same files spelled
  // differently give the same key, and an edit of the spec, kernel or reference gives a new
  // workload (nothing measured on the old code is reused for the new).
  std::string Key() const;
  // Precondition: `name` is one of the shape's parameters (checked).
  int64_t Get(const std::string& name) const;
};

// One knob assignment. Categorical knobs (loop order, layout) are stored as an index into
// Knob::labels.
using Config = std::map<std::string, int64_t>;

struct Knob {
  std::string name;
  std::vector<int64_t> values;      // allowed values in a meaningful order (neighbours = adjacent)
  std::vector<std::string> labels;  // empty for numeric knobs; else labels[i] names values[i]
  std::string description;
};

// Text form "tile_m=32,tile_n=64,order=mnk" (labels allowed for categorical knobs).
std::string FormatConfig(const Config& config, const std::vector<Knob>& knobs);

// A finite search space: the Cartesian product of its knobs' values, minus the assignments
// that Reject() rules out. Thread-compatible (const methods may be called concurrently).
class Space {
 public:
  Space(std::vector<Knob> knobs,
        std::function<std::string(const Config&)> reject);

  const std::vector<Knob>& knobs() const { return knobs_; }
  // The reason `config` is invalid ("tile_m=48 does not divide ..."), or "" when valid.
  // A config with missing or unknown knobs or values not in the knob's list is invalid too.
  std::string Reject(const Config& config) const;
  uint64_t RawSize() const;     // product of the knobs' value counts
  uint64_t ValidSize() const;   // counted by enumeration; cached after the first call
  // Calls `fn` for each valid config in lexicographic knob order; stop early by returning false.
  void Enumerate(const std::function<bool(const Config&)>& fn) const;
  // Up to `n` distinct valid configs, uniformly at random, deterministic for a seed.
  std::vector<Config> Sample(size_t n, uint64_t seed) const;
  // Valid configs that differ from `config` in one knob by one step in its value list.
  std::vector<Config> Neighbours(const Config& config) const;
  // A valid config with `n_changes` knobs re-drawn at random (retries until valid).
  Config Mutate(const Config& config, std::mt19937_64& rng, int n_changes = 1) const;
  // Parses "k=v,k=v" (v numeric or a label); errors name the knob and the value, e.g.
  // "knob tile_m: value 7 not in [1, 2, 4, 8, 16, 32, 64, 128]". Validity is then checked
  // with Reject() and its reason returned as the error.
  Result<Config> ParseConfig(const std::string& text) const;

 private:
  std::vector<Knob> knobs_;
  std::function<std::string(const Config&)> reject_;
  mutable uint64_t valid_size_ = 0;
  mutable bool valid_size_known_ = false;
};

// One float32 buffer of the kernel's signature.
struct BufferSpec {
  std::string name;   // "A", "B", "C"
  int64_t elements;   // number of floats
  bool output;        // outputs are zeroed before the kernel runs and verified after
};

// C source for one candidate. `code` and `reference_code` are C99 translation units that
// include only <stddef.h>/<stdint.h>/<string.h>/<math.h> and define, respectively:
//   void simtune_kernel(float *const *bufs);     // the candidate
//   void simtune_reference(float *const *bufs);  // naive, obviously-correct version
// bufs[i] corresponds to buffers[i]. The harness fills inputs deterministically, runs both
// and compares outputs element-wise with |got - want| <= abs_tol + rel_tol * |want|.
struct KernelSource {
  std::string code;
  std::string reference_code;
  std::vector<BufferSpec> buffers;
  std::vector<std::string> extra_cflags;  // e.g. -DTILE=32 for custom kernels
  double rel_tol = 1e-4;
  double abs_tol = 1e-5;
  double flops = 0;   // useful floating-point operations of one kernel call
};

// Generation context that depends on the target rather than the candidate.
struct CodegenContext {
  std::string isa;   // "x86_64", "riscv64", "aarch64"
};

// An operator family (GEMM, conv2d, ...). Stateless; one instance per registry entry.
class Operator {
 public:
  virtual ~Operator() = default;
  // Shape parameter names in canonical order, with defaults for optional ones
  // (e.g. conv2d's stride=1, pad=0). Parameters without a default are required.
  struct Param {
    std::string name;
    bool required;
    int64_t default_value;
  };
  virtual std::vector<Param> Params() const = 0;
  // Checks value ranges and relations (e.g. conv output size > 0); message names the value.
  virtual Status ValidateShape(const Workload& workload) const = 0;
  virtual std::unique_ptr<Space> MakeSpace(const Workload& workload) const = 0;
  // Precondition: space.Reject(config) is empty.
  virtual Result<KernelSource> Generate(const Workload& workload, const Config& config,
                                        const CodegenContext& ctx) const = 0;
};

using OperatorRegistry = Registry<Operator>;
// All built-in operators: gemm, mvm, conv2d, dwconv2d, custom.
OperatorRegistry& Operators();

// Parses a workload string: "op:K=V,..." or a catalog name ("resnet18.conv2_x").
// Errors name the bad part, e.g. "workload 'gemm:M=256,N=x': N: expected an integer; got 'x'",
// "workload 'gemm:M=256,N=256': missing shape parameter K", unknown operators/catalog entries
// list the valid names.
Result<Workload> ParseWorkload(const std::string& text);

// The shape catalog (data/catalog/*.json): ResNet-18, MobileNetV2 convolutions, BERT-base GEMMs.
struct CatalogEntry {
  std::string name;        // "resnet18.conv2_x"
  std::string workload;    // "conv2d:N=1,C=64,..."
  std::string description;
};
Result<std::vector<CatalogEntry>> LoadCatalog();

// Convenience: the operator's space for a workload.
Result<std::unique_ptr<Space>> MakeSpace(const Workload& workload);
Result<KernelSource> GenerateKernel(const Workload& workload, const Config& config,
                                    const CodegenContext& ctx);

// Operator-independent sizes of a workload, so that shape features mean the same for every
// operator: a GEMM and a convolution both have flops, operand bytes, a reduction length and
// an output size, while only one of them has a "C" parameter.
struct ShapeQuantities {
  double flops = 0;                  // useful floating-point operations of one call
  double input_bytes = 0;            // all input operands (float32)
  double largest_input_bytes = 0;    // the biggest input operand (GEMM: the larger of A and B)
  double smallest_input_bytes = 0;   // the smallest (conv2d: usually the weights)
  double output_bytes = 0;           // all outputs
  double output_elements = 0;
  double reduction = 0;              // flops / (2 x output elements): multiply-adds per output
};
// From the buffers and flops of the kernel the operator generates for its space's first valid
// config (operands and flops do not depend on the knobs). Cached per workload key; thread-safe.
// Errors: the workload's (invalid shape, unknown operator, empty space).
Result<ShapeQuantities> ComputeShapeQuantities(const Workload& workload);

}  // namespace simtune
