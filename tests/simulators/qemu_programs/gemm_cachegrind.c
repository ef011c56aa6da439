/*
 * Naive i-j-k GEMM (doubles, N=96: 216 KiB of data, larger than the L1D) for comparing the
 * plugin's cache model with valgrind's cachegrind. "prog skip" runs everything but the
 * kernel, so that cachegrind(whole) - cachegrind(skip) isolates the ROI.
 */
#include <stdio.h>
#include <string.h>

#define N 96

static double A[N * N], B[N * N], C[N * N];

__attribute__((noinline)) void simtune_roi_begin(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void simtune_roi_end(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void gemm(void)
{
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            double s = C[i * N + j];
            for (int k = 0; k < N; k++) {
                s += A[i * N + k] * B[k * N + j];
            }
            C[i * N + j] = s;
        }
    }
}

int main(int argc, char **argv)
{
    int skip = argc > 1 && strcmp(argv[1], "skip") == 0;
    for (int i = 0; i < N * N; i++) {
        A[i] = i % 7;
        B[i] = i % 5;
    }
    simtune_roi_begin();
    if (!skip) {
        gemm();
    }
    simtune_roi_end();
    printf("simtune: verify ok max_abs_err=0 max_rel_err=0 c=%g\n", C[N + 1]);
    return 0;
}
