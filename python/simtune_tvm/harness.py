"""C harness for TVM-generated code: calls the function through its TVM FFI ABI with DLTensor
arguments, without a TVM runtime on the target.

The harness follows simtune's contract (include/simtune/build.h): inputs filled by the same
64-bit LCG as simtune's own harness, outputs zeroed, the call bracketed by the global,
non-inlined `simtune_roi_begin` / `simtune_roi_end`, then a naive reference on fresh inputs and
an element-wise comparison that prints "simtune: verify ok ..." (exit 0) or
"simtune: verify failed ..." (exit 3). A non-zero return of the TVM function prints its error
message and exits 4.

The ROI covers the FFI entry point as a whole: TVM's argument checks (a few dozen
instructions) and the kernel.

Runtime symbols that TVM's LLVM code generator may reference are provided here:
  TVMFFIErrorSetRaisedFromCStrParts   keeps the message for the harness to print
  TVMBackendAllocWorkspace/Free...    64-byte aligned malloc/free
  TVMBackendParallelLaunch/Barrier    one task on the calling thread (a simulated target has
                                      one core; the generated lambda splits work by
                                      penv->num_task, so one task does all of it)
The generated code reaches the TVMBackend* functions through weak pointer globals
(`__TVMBackendParallelLaunch`, ...) that TVM's runtime would fill on module load; the harness
fills them before the call.
"""

from __future__ import annotations

from dataclasses import dataclass

# One float32 buffer of the function's signature, in argument order.
@dataclass(frozen=True)
class Buffer:
    shape: tuple[int, ...]
    output: bool

    @property
    def elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


_INCLUDES = r"""#define _POSIX_C_SOURCE 200112L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
"""

_FFI = r"""
/* DLPack 1.x and TVM FFI (apache-tvm-ffi c_api.h) layouts, declared here so that the target
   needs no TVM headers. */
typedef struct { int32_t device_type; int32_t device_id; } simtune_DLDevice;
typedef struct { uint8_t code; uint8_t bits; uint16_t lanes; } simtune_DLDataType;
typedef struct {
  void *data;
  simtune_DLDevice device;
  int32_t ndim;
  simtune_DLDataType dtype;
  int64_t *shape;
  int64_t *strides;
  uint64_t byte_offset;
} simtune_DLTensor;
typedef struct {
  int32_t type_index;
  uint32_t zero_padding;
  union { int64_t v_int64; double v_float64; void *v_ptr; } v;
} simtune_TVMFFIAny;
enum { kSimtuneFFINone = 0, kSimtuneFFIDLTensorPtr = 7, kSimtuneDLCPU = 1, kSimtuneDLFloat = 2 };

typedef struct { void *sync_handle; int32_t num_task; } TVMParallelGroupEnv;
typedef int (*FTVMParallelLambda)(int task_id, TVMParallelGroupEnv *penv, void *cdata);

static char simtune_tvm_error[1024];

void TVMFFIErrorSetRaisedFromCStrParts(const char *kind, const char **parts, int32_t num_parts) {
  size_t used;
  int32_t i;
  snprintf(simtune_tvm_error, sizeof simtune_tvm_error, "%s: ", kind ? kind : "Error");
  for (i = 0; i < num_parts; ++i) {
    if (!parts[i]) continue;
    used = strlen(simtune_tvm_error);
    snprintf(simtune_tvm_error + used, sizeof simtune_tvm_error - used, "%s", parts[i]);
  }
}

void TVMFFIErrorSetRaisedFromCStr(const char *kind, const char *message) {
  const char *parts[1];
  parts[0] = message;
  TVMFFIErrorSetRaisedFromCStrParts(kind, parts, 1);
}

void *TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes,
                               int dtype_code_hint, int dtype_bits_hint) {
  void *p = NULL;
  (void)device_type; (void)device_id; (void)dtype_code_hint; (void)dtype_bits_hint;
  if (posix_memalign(&p, 64, nbytes ? (size_t)nbytes : 1) != 0) return NULL;
  return p;
}

int TVMBackendFreeWorkspace(int device_type, int device_id, void *ptr) {
  (void)device_type; (void)device_id;
  free(ptr);
  return 0;
}

int TVMBackendParallelLaunch(FTVMParallelLambda flambda, void *cdata, int num_task) {
  TVMParallelGroupEnv env;
  (void)num_task;
  env.sync_handle = NULL;
  env.num_task = 1;
  return flambda(0, &env, cdata);
}

int TVMBackendParallelBarrier(int task_id, TVMParallelGroupEnv *penv) {
  (void)task_id; (void)penv;
  return 0;
}

/* TVM's LLVM code calls the runtime through weak function-pointer globals that the TVM
   runtime fills when it loads a module (parallel launch, workspaces). There is no runtime
   here: point the ones the object defines at the functions above. */
extern void *__TVMBackendParallelLaunch __attribute__((weak));
extern void *__TVMBackendParallelBarrier __attribute__((weak));
extern void *__TVMBackendAllocWorkspace __attribute__((weak));
extern void *__TVMBackendFreeWorkspace __attribute__((weak));

static void simtune_tvm_init_context(void) {
  if (&__TVMBackendParallelLaunch) __TVMBackendParallelLaunch = (void *)TVMBackendParallelLaunch;
  if (&__TVMBackendParallelBarrier) __TVMBackendParallelBarrier = (void *)TVMBackendParallelBarrier;
  if (&__TVMBackendAllocWorkspace) __TVMBackendAllocWorkspace = (void *)TVMBackendAllocWorkspace;
  if (&__TVMBackendFreeWorkspace) __TVMBackendFreeWorkspace = (void *)TVMBackendFreeWorkspace;
}

"""

# simtune's ROI markers on hosted targets (src/build/harness.cc, kHostedRoi); bare metal takes
# them, and more, from `simtune harness-runtime`.
_HOSTED_ROI = r"""volatile int simtune_roi_state;

#if defined(__GNUC__) && !defined(__clang__)
#define SIMTUNE_ROI_ATTR __attribute__((noinline, noipa, used))
#else
#define SIMTUNE_ROI_ATTR __attribute__((noinline, used))
#endif

SIMTUNE_ROI_ATTR void simtune_roi_begin(void) {
  simtune_roi_state = 1;
  __asm__ volatile("" ::: "memory");
}

SIMTUNE_ROI_ATTR void simtune_roi_end(void) {
  __asm__ volatile("" ::: "memory");
  simtune_roi_state = 2;
}
"""

_FILL = r"""
/* Same input stream as simtune's harness (src/build/harness.cc). */
static void simtune_fill(float *buf, long n, uint64_t seed) {
  uint64_t s = seed;
  long i;
  for (i = 0; i < n; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    buf[i] = (float)(int32_t)((s >> 40) & 0xffffff) * (1.0f / 8388608.0f) - 1.0f;
  }
}

static void simtune_prepare(float *const *bufs) {
  int b;
  for (b = 0; b < SIMTUNE_NBUF; ++b) {
    if (simtune_is_output[b])
      memset(bufs[b], 0, (size_t)simtune_elems[b] * sizeof(float));
    else
      simtune_fill(bufs[b], simtune_elems[b], 0x9e3779b97f4a7c15ULL * (uint64_t)(b + 1));
  }
}
"""

_MAIN = r"""
static simtune_DLTensor simtune_tensors[SIMTUNE_NBUF];
static simtune_TVMFFIAny simtune_args[SIMTUNE_NBUF];

static void simtune_setup_args(void) {
  int b;
  for (b = 0; b < SIMTUNE_NBUF; ++b) {
    simtune_tensors[b].data = simtune_bufs[b];
    simtune_tensors[b].device.device_type = kSimtuneDLCPU;
    simtune_tensors[b].device.device_id = 0;
    simtune_tensors[b].ndim = simtune_ndim[b];
    simtune_tensors[b].dtype.code = kSimtuneDLFloat;
    simtune_tensors[b].dtype.bits = 32;
    simtune_tensors[b].dtype.lanes = 1;
    simtune_tensors[b].shape = (int64_t *)simtune_shapes[b];
    simtune_tensors[b].strides = NULL;
    simtune_tensors[b].byte_offset = 0;
    simtune_args[b].type_index = kSimtuneFFIDLTensorPtr;
    simtune_args[b].zero_padding = 0;
    simtune_args[b].v.v_ptr = &simtune_tensors[b];
  }
}

static int simtune_call(void) {
  simtune_TVMFFIAny result;
  result.type_index = kSimtuneFFINone;
  result.zero_padding = 0;
  result.v.v_int64 = 0;
  return SIMTUNE_FUNC(NULL, simtune_args, SIMTUNE_NBUF, &result);
}

/* One verified call (what the simulators run): 0, or the exit status of a failure. */
static int simtune_single_run(void) {
  double max_abs = 0.0, max_rel = 0.0;
  long flat = 0;
  int b, rc;
  simtune_setup_args();
  simtune_tvm_init_context();
  simtune_prepare(simtune_bufs);
  simtune_roi_begin();
  rc = simtune_call();
  simtune_roi_end();
  if (rc != 0) {
    printf("simtune: tvm function returned %d: %s\n", rc, simtune_tvm_error);
    return 4;
  }

  simtune_prepare(simtune_ref_bufs);
  simtune_reference(simtune_ref_bufs);
  for (b = 0; b < SIMTUNE_NBUF; ++b) {
    long i;
    if (!simtune_is_output[b]) continue;
    for (i = 0; i < simtune_elems[b]; ++i) {
      double got = simtune_bufs[b][i], want = simtune_ref_bufs[b][i];
      double err = fabs(got - want);
      if (!(err <= SIMTUNE_ABS_TOL + SIMTUNE_REL_TOL * fabs(want))) {
        printf("simtune: verify failed index=%ld got=%g want=%g\n", flat + i, got, want);
        return 3;
      }
      if (err > max_abs) max_abs = err;
      if (fabs(want) > SIMTUNE_ABS_TOL && err / fabs(want) > max_rel) max_rel = err / fabs(want);
    }
    flat += simtune_elems[b];
  }
  printf("simtune: verify ok max_abs_err=%g max_rel_err=%g\n", max_abs, max_rel);
  return 0;
}

"""

_HOSTED_MAIN = r"""/* --time <min_rep_ns> <reps>: simtune's timing protocol (src/build/harness.cc; read by the
   native and ssh references): verify once, grow `inner` until one rep of back-to-back calls
   lasts min_rep_ns, then print "simtune: inner=<n> rep_ns=<ns per call>,...". */
static double simtune_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double simtune_time_calls(long inner) {
  double t0 = simtune_now_ns();
  long i;
  for (i = 0; i < inner; ++i) simtune_call();
  return simtune_now_ns() - t0;
}

int main(int argc, char **argv) {
  double min_rep_ns, *rep_ns;
  long reps, inner, r;
  char *end;
  int rc;
  if (argc == 1 || (argc == 2 && strcmp(argv[1], "--run=all") == 0)) return simtune_single_run();
  if (argc != 4 || strcmp(argv[1], "--time") != 0) {
    fprintf(stderr, "usage: %s [--time <min_rep_ns> <reps>]\n", argv[0]);
    return 2;
  }
  min_rep_ns = strtod(argv[2], &end);
  if (end == argv[2] || *end || !(min_rep_ns >= 0) || min_rep_ns > 1e12) return 2;
  reps = strtol(argv[3], &end, 10);
  if (end == argv[3] || *end || reps < 1 || reps > 1000000) return 2;
  rc = simtune_single_run();
  if (rc != 0) return rc;
  inner = 1;
  for (;;) {
    double t = simtune_time_calls(inner), next;
    if (t >= min_rep_ns || inner >= (1L << 40)) break;
    next = t > 0 ? (double)inner * min_rep_ns / t * 1.2 + 1.0 : (double)inner * 10.0;
    if (next < 2.0 * (double)inner) next = 2.0 * (double)inner;
    if (next > 100.0 * (double)inner) next = 100.0 * (double)inner;
    inner = (long)next;
  }
  simtune_time_calls(inner);
  rep_ns = (double *)malloc((size_t)reps * sizeof(double));
  if (!rep_ns) return 2;
  for (r = 0; r < reps; ++r) rep_ns[r] = simtune_time_calls(inner) / (double)inner;
  printf("simtune: inner=%ld rep_ns=", inner);
  for (r = 0; r < reps; ++r) printf("%s%.3f", r ? "," : "", rep_ns[r]);
  printf("\n");
  free(rep_ns);
  return 0;
}
"""


def _is_identifier(s: str) -> bool:
    return bool(s) and (s[0].isalpha() or s[0] == "_") and all(c.isalnum() or c == "_" for c in s)


_BARE_INCLUDES = r"""#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
"""

# On bare metal: the ROI's counters are printed (rvsim reads that line), tohost's line is in
# the data cache before the ROI (see simtune_touch_tohost), traps go to simtune's handler.
_BARE_ROI_EDITS = [
    ("  simtune_roi_begin();\n", "  simtune_touch_tohost();\n  simtune_roi_begin();\n"),
    ("  simtune_roi_end();\n", "  simtune_roi_end();\n  simtune_print_roi();\n"),
]

_BARE_MAIN = r"""
int main(void) {
  __asm__ volatile("csrw mtvec, %0" : : "r"(simtune_trap_entry));
  return simtune_single_run();
}
"""


def generate_harness(func_symbol: str, buffers: list[Buffer], reference_c: str,
                     rel_tol: float = 1e-4, abs_tol: float = 1e-4,
                     bare_metal_runtime: str | None = None) -> str:
    """C source of a harness that calls `func_symbol` (e.g. "__tvm_ffi_main") with `buffers`.

    `reference_c` defines `void simtune_reference(float *const *bufs)` over the same buffers in
    the same order. `bare_metal_runtime`: for a riscv64 bare-metal target, the C source that
    `simtune harness-runtime` prints (console, exit, ROI markers, traps, start-up); the harness
    then has a main without arguments that makes the one verified call (no --time). Raises
    ValueError on a bad symbol, no buffers or no output.
    """
    if not _is_identifier(func_symbol):
        raise ValueError(f"function symbol {func_symbol!r} is not a C identifier")
    if not buffers:
        raise ValueError("the function has no buffer arguments")
    if not any(b.output for b in buffers):
        raise ValueError("no buffer is marked as output")
    if not (rel_tol >= 0 and abs_tol >= 0):
        raise ValueError(f"tolerances must be >= 0; got rel_tol={rel_tol} abs_tol={abs_tol}")
    lines = [
        "/* simtune harness for a TVM-generated function (generated by simtune_tvm). */",
        f"#define SIMTUNE_NBUF {len(buffers)}",
        f"#define SIMTUNE_REL_TOL {rel_tol!r}",
        f"#define SIMTUNE_ABS_TOL {abs_tol!r}",
        f"#define SIMTUNE_FUNC {func_symbol}",
    ]
    head = "\n".join(lines) + "\n"
    decls = []
    bufs, refs, elems, outs, ndims, shapes = [], [], [], [], [], []
    for i, b in enumerate(buffers):
        if any(d <= 0 for d in b.shape):
            raise ValueError(f"buffer {i}: shape {b.shape} has a non-positive extent")
        decls.append(f"static float simtune_b{i}[{b.elements}] __attribute__((aligned(64)));")
        bufs.append(f"simtune_b{i}")
        if b.output:
            decls.append(f"static float simtune_r{i}[{b.elements}] __attribute__((aligned(64)));")
            refs.append(f"simtune_r{i}")
        else:
            refs.append(f"simtune_b{i}")
        elems.append(f"{b.elements}L")
        outs.append("1" if b.output else "0")
        ndims.append(str(len(b.shape)))
        dims = ", ".join(f"{d}LL" for d in b.shape) or "1LL"
        decls.append(f"static const int64_t simtune_shape{i}[] = {{{dims}}};")
        shapes.append(f"simtune_shape{i}")
    n = "SIMTUNE_NBUF"
    decls += [
        f"static float *const simtune_bufs[{n}] = {{{', '.join(bufs)}}};",
        f"static float *const simtune_ref_bufs[{n}] = {{{', '.join(refs)}}};",
        f"static const long simtune_elems[{n}] = {{{', '.join(elems)}}};",
        f"static const int simtune_is_output[{n}] = {{{', '.join(outs)}}};",
        f"static const int32_t simtune_ndim[{n}] = {{{', '.join(ndims)}}};",
        f"static const int64_t *const simtune_shapes[{n}] = {{{', '.join(shapes)}}};",
        "void simtune_reference(float *const *bufs);",
        "int SIMTUNE_FUNC(void *self, const simtune_TVMFFIAny *args, int32_t num_args,",
        "                 simtune_TVMFFIAny *result);",
    ]
    body = "\n".join(decls) + "\n" + _FILL + reference_c
    if bare_metal_runtime is None:
        return _INCLUDES + head + _FFI + _HOSTED_ROI + body + _MAIN + _HOSTED_MAIN
    main = _MAIN
    for before, after in _BARE_ROI_EDITS:
        if main.count(before) != 1:
            raise AssertionError(f"harness template: expected one {before.strip()!r}")
        main = main.replace(before, after)
    return (_BARE_INCLUDES + head + bare_metal_runtime + _FFI + body + main + _BARE_MAIN)
