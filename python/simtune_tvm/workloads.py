"""simtune workloads as TVM functions: the PrimFunc MetaSchedule tunes and the C reference the
harness checks it against, for the operators of simtune's catalog.

    gemm:M,N,K                        A[M,K] @ B[K,N] -> C[M,N]                 (A, B, C)
    mvm:M,K (a dense layer, batch 1)  x[1,K], W[M,K] -> y[1,M] = x W^T          (x, W, y)
    conv2d:N,C,H,W,K,R,S,stride,pad   topi.nn.conv2d_nchw: data NCHW, weights KCRS, output
                                      NKPQ, zero padding inside the function   (data, W, out)
    dwconv2d:C,H,W,R,S,stride,pad     topi.nn.depthwise_conv2d_nchw with N=1, multiplier 1:
                                      data 1CHW, weights C1RS, output 1CPQ     (data, W, out)

The arguments are in the order above (the PrimFunc's and the reference's alike); the memory
layouts are those of simtune's own operators (src/workloads), so that the workload string
gives the same shape features and flops. References accumulate in double.
"""

from __future__ import annotations


def parse_workload(workload: str) -> tuple[str, dict[str, int]]:
    """("gemm", {"M": 128, ...}) from "gemm:M=128,N=128,K=128"; ValueError on bad text."""
    op, _, params = workload.partition(":")
    shape = {}
    for item in filter(None, params.split(",")):
        key, eq, value = item.partition("=")
        try:
            if not eq:
                raise ValueError
            shape[key.strip()] = int(value)
        except ValueError:
            raise ValueError(f"workload {workload!r}: shape item {item!r} is not name=integer") from None
    return op.strip(), shape


_PARAMS = {
    "gemm": ("M", "N", "K"),
    "mvm": ("M", "K"),
    "conv2d": ("N", "C", "H", "W", "K", "R", "S", "stride", "pad"),
    "dwconv2d": ("C", "H", "W", "R", "S", "stride", "pad"),
}


def _shape(workload: str) -> tuple[str, dict[str, int]]:
    op, shape = parse_workload(workload)
    if op not in _PARAMS:
        raise ValueError(f"workload {workload!r}: operator {op!r} has no TVM function here; "
                         f"supported: {', '.join(sorted(_PARAMS))} (else pass reference=)")
    missing = [p for p in _PARAMS[op] if p not in shape]
    if missing:
        raise ValueError(f"workload {workload!r}: missing shape parameters {', '.join(missing)}")
    return op, shape


def _out(extent: int, pad: int, r: int, stride: int) -> int:
    return (extent + 2 * pad - r) // stride + 1


def prim_func(workload: str):
    """The workload as a TVM PrimFunc (tvm.te + topi), ready for ms.tune_tir."""
    # pylint: disable=import-outside-toplevel
    from tvm import te, topi

    op, s = _shape(workload)
    if op == "gemm":
        a = te.placeholder((s["M"], s["K"]), name="A")
        b = te.placeholder((s["K"], s["N"]), name="B")
        k = te.reduce_axis((0, s["K"]), name="k")
        c = te.compute((s["M"], s["N"]), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="C")
        return te.create_prim_func([a, b, c])
    if op == "mvm":
        # A plain te.compute, not topi.nn.dense: dense marks W layout-free, and MetaSchedule's
        # RewriteLayout then expects W pre-transformed, which a caller passing W[M,K] does
        # not do (every schedule failed the harness's check).
        x = te.placeholder((1, s["K"]), name="x")
        w = te.placeholder((s["M"], s["K"]), name="W")
        k = te.reduce_axis((0, s["K"]), name="k")
        y = te.compute((1, s["M"]), lambda i, m: te.sum(x[i, k] * w[m, k], axis=k), name="y")
        return te.create_prim_func([x, w, y])
    if op == "conv2d":
        data = te.placeholder((s["N"], s["C"], s["H"], s["W"]), name="data")
        w = te.placeholder((s["K"], s["C"], s["R"], s["S"]), name="W")
        out = topi.nn.conv2d_nchw(data, w, s["stride"], s["pad"], 1)
        return te.create_prim_func([data, w, out])
    data = te.placeholder((1, s["C"], s["H"], s["W"]), name="data")
    w = te.placeholder((s["C"], 1, s["R"], s["S"]), name="W")
    out = topi.nn.depthwise_conv2d_nchw(data, w, s["stride"], s["pad"], 1)
    return te.create_prim_func([data, w, out])


def reference_c(workload: str) -> str:
    """C source of `void simtune_reference(float *const *bufs)` for the workload, over the
    PrimFunc's arguments in order (see the module's docstring)."""
    op, s = _shape(workload)
    if op == "gemm":
        return gemm_reference(s["M"], s["N"], s["K"])
    if op == "mvm":
        return f"""
void simtune_reference(float *const *bufs) {{
  const float *x = bufs[0], *w = bufs[1];
  float *y = bufs[2];
  long m, k;
  for (m = 0; m < {s["M"]}; ++m) {{
    double acc = 0.0;
    for (k = 0; k < {s["K"]}; ++k) acc += (double)x[k] * w[m * {s["K"]} + k];
    y[m] = (float)acc;
  }}
}}
"""
    if op == "conv2d":
        n, c, h, w, kk, r, ss = (s[p] for p in ("N", "C", "H", "W", "K", "R", "S"))
        stride, pad = s["stride"], s["pad"]
        p, q = _out(h, pad, r, stride), _out(w, pad, ss, stride)
        return f"""
void simtune_reference(float *const *bufs) {{
  const float *in = bufs[0], *wt = bufs[1];
  float *out = bufs[2];
  long n, k, p, q, c, r, s;
  for (n = 0; n < {n}; ++n)
    for (k = 0; k < {kk}; ++k)
      for (p = 0; p < {p}; ++p)
        for (q = 0; q < {q}; ++q) {{
          double acc = 0.0;
          for (c = 0; c < {c}; ++c)
            for (r = 0; r < {r}; ++r)
              for (s = 0; s < {ss}; ++s) {{
                long y = p * {stride} - {pad} + r, x = q * {stride} - {pad} + s;
                if (y < 0 || y >= {h} || x < 0 || x >= {w}) continue;
                acc += (double)in[((n * {c} + c) * {h} + y) * {w} + x] *
                       wt[((k * {c} + c) * {r} + r) * {ss} + s];
              }}
          out[((n * {kk} + k) * {p} + p) * {q} + q] = (float)acc;
        }}
}}
"""
    c, h, w, r, ss = (s[p] for p in ("C", "H", "W", "R", "S"))
    stride, pad = s["stride"], s["pad"]
    p, q = _out(h, pad, r, stride), _out(w, pad, ss, stride)
    return f"""
void simtune_reference(float *const *bufs) {{
  const float *in = bufs[0], *wt = bufs[1];
  float *out = bufs[2];
  long c, p, q, r, s;
  for (c = 0; c < {c}; ++c)
    for (p = 0; p < {p}; ++p)
      for (q = 0; q < {q}; ++q) {{
        double acc = 0.0;
        for (r = 0; r < {r}; ++r)
          for (s = 0; s < {ss}; ++s) {{
            long y = p * {stride} - {pad} + r, x = q * {stride} - {pad} + s;
            if (y < 0 || y >= {h} || x < 0 || x >= {w}) continue;
            acc += (double)in[(c * {h} + y) * {w} + x] * wt[(c * {r} + r) * {ss} + s];
          }}
        out[(c * {p} + p) * {q} + q] = (float)acc;
      }}
}}
"""


def gemm_reference(m: int, n: int, k: int) -> str:
    """Naive reference for C[M,N] = A[M,K] @ B[K,N] (row-major), accumulating in double.

    Defines `void simtune_reference(float *const *bufs)` with bufs = (A, B, C), the contract of
    simtune's KernelSource.reference_code.
    """
    return f"""
void simtune_reference(float *const *bufs) {{
  const float *A = bufs[0];
  const float *B = bufs[1];
  float *C = bufs[2];
  long i, j, k;
  for (i = 0; i < {m}; ++i) {{
    for (j = 0; j < {n}; ++j) {{
      double s = 0.0;
      for (k = 0; k < {k}; ++k) s += (double)A[i * {k} + k] * B[k * {n} + j];
      C[i * {n} + j] = (float)s;
    }}
  }}
}}
"""
