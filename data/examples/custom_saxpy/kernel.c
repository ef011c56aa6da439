/* out = 2.5 * x + y over N floats, in blocks of BLOCK, UNROLL blocks per outer step.
   N, BLOCK and UNROLL come from -D flags (spec.json: defines and params). */
#include <stddef.h>

#if !defined(N) || !defined(BLOCK) || !defined(UNROLL)
#error "compile with -DN=... -DBLOCK=... -DUNROLL=..."
#endif

void simtune_kernel(float *const *bufs) {
  const float *x = bufs[0];
  const float *y = bufs[1];
  float *out = bufs[2];
  for (long i = 0; i < N; i += BLOCK * UNROLL) {
    for (long u = 0; u < UNROLL; ++u) {
      const long base = i + u * BLOCK;
      for (long j = 0; j < BLOCK; ++j) out[base + j] = 2.5f * x[base + j] + y[base + j];
    }
  }
}
