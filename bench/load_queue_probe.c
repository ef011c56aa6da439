/*
 * Load-queue probe (issue 11, session 29): how many loads this x86 machine keeps in flight,
 * the figure behind x86_64-host's core "load_queue" (QEMU's dependency timing models; README,
 * "Predicting instead of measuring").
 *
 *   for n in 120 130 134 136 140; do gcc -O2 -DN=$n bench/load_queue_probe.c -o /tmp/lq_$n && /tmp/lq_$n; done
 *   (-DNOPS: nops instead of loads between the misses, the control)
 *
 * Two independent pointer chases through 64 MiB (every load a miss to memory) alternate, N
 * independent l1d-hitting loads between them. While A, the N loads and B fit in the core's
 * load queue, B's miss overlaps A's: one miss latency an iteration; one more load and B waits
 * for A to retire: two. With nops in their place nothing binds before the reorder buffer
 * (320), so no knee below N = 200. This VM's Zen 4: the knee between N = 134 and 135, 136
 * loads in flight (the model's 88 was the documented figure). The minimum over 5 runs of
 * 200000 iterations, in TSC cycles. Not run by `make test`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <x86intrin.h>
#ifndef N
#define N 64
#endif
#define STR2(x) #x
#define STR(x) STR2(x)
static uint64_t *make_chain(size_t n, unsigned seed) {
    uint64_t *b = aligned_alloc(64, n * 64);
    size_t *perm = malloc(n * sizeof *perm);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    srand(seed);
    for (size_t i = n - 1; i > 0; i--) { size_t j = (size_t)rand() % (i + 1); size_t t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
    for (size_t i = 0; i < n; i++) b[perm[i] * 8] = (uint64_t)&b[perm[(i + 1) % n] * 8];
    free(perm);
    return b;
}
int main(void) {
    size_t lines = (64u << 20) / 64;
    uint64_t *a = make_chain(lines, 1), *b = make_chain(lines, 2);
    static uint64_t hot[8];
    uint64_t *pa = (uint64_t *)a[0], *pb = (uint64_t *)b[0];
    long iters = 200000;
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        unsigned long long t0 = __rdtsc();
        for (long i = 0; i < iters; i++) {
#ifdef NOPS
            __asm__ volatile("mov (%0), %0\n .rept " STR(N) "\n nop\n .endr\n mov (%1), %1\n .rept " STR(N) "\n nop\n .endr\n"
                             : "+r"(pa), "+r"(pb) : : "memory");
#else
            __asm__ volatile("mov (%0), %0\n .rept " STR(N) "\n mov (%2), %%rdx\n .endr\n mov (%1), %1\n .rept " STR(N) "\n mov (%2), %%rdx\n .endr\n"
                             : "+r"(pa), "+r"(pb) : "r"(hot) : "rdx", "memory");
#endif
        }
        double t = (double)(__rdtsc() - t0) / iters;
        if (t < best) best = t;
    }
    printf("N=%d %s: %.1f TSC cycles per iteration (2 misses)\n", N,
#ifdef NOPS
           "nops",
#else
           "loads",
#endif
           best);
    return pa == pb;
}
