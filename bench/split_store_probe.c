/*
 * Split-store probe (issue 11, session 23): what a store that crosses a cache line or a 4 KiB
 * page costs this x86 machine, and a masked store (vmaskmovps to memory), the figures behind
 * x86_64-host's core "split_store" and "masked_store" (QEMU's dependency timing models charge
 * them; README, "Predicting instead of measuring").
 *
 *   gcc -O2 -mavx2 bench/split_store_probe.c -o /tmp/split_store_probe && /tmp/split_store_probe
 *
 * Each case stores to one address in a loop (100000 times, the minimum over 30 runs, TSC
 * cycles a store); "mix" puts one such store among 20 aligned ones, to show the cost adds to
 * the loop's rather than hiding in the store buffer; "chase" is a chain of 8-byte loads through
 * one address, its latency; "masked" times a vmaskmovps store (all lanes on) against a plain
 * one, alone and among 20 independent adds; "masked load" a vmaskmovps load across a page
 * whose lanes there are all off, into a page the program has touched or one it never has
 * (then a microcode assist of about 400 cycles, every time). The store pipe takes one aligned store a core cycle, so the
 * aligned store's TSC cycles give the core clock's ratio, and the last column each case's cost
 * in core cycles beyond its within-line twin. Not run by `make test`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <x86intrin.h>

static char *buf;

#define KERNEL(name) __attribute__((noinline)) static void name(char *p, char *q, long n)
KERNEL(store8) {
    (void)q;
    for (long i = 0; i < n; i++) __asm__ volatile("movq %%rax, (%0)" ::"r"(p) : "memory");
}
KERNEL(store16) {
    (void)q;
    for (long i = 0; i < n; i++) __asm__ volatile("vmovups %%xmm0, (%0)" ::"r"(p) : "memory");
}
KERNEL(store32) {
    (void)q;
    for (long i = 0; i < n; i++) __asm__ volatile("vmovups %%ymm0, (%0)" ::"r"(p) : "memory");
}
KERNEL(mix) {
    for (long i = 0; i < n; i++) {
        __asm__ volatile("vmovups %%ymm0, (%0)" ::"r"(p) : "memory");
        for (int j = 0; j < 20; j++) __asm__ volatile("vmovups %%ymm0, (%0)" ::"r"(q + 32 * j) : "memory");
    }
}
#define ADDS20                                                                               \
    "add $1,%%r8\n add $1,%%r9\n add $1,%%r10\n add $1,%%r11\n add $1,%%r8\n add $1,%%r9\n" \
    "add $1,%%r10\n add $1,%%r11\n add $1,%%r8\n add $1,%%r9\n add $1,%%r10\n add $1,%%r11\n" \
    "add $1,%%r8\n add $1,%%r9\n add $1,%%r10\n add $1,%%r11\n add $1,%%r8\n add $1,%%r9\n"   \
    "add $1,%%r10\n add $1,%%r11\n"
/* offset 0: a plain store, 1: a masked one (ymm1 all ones) */
KERNEL(masked) {
    for (long i = 0; i < n; i++)
        if (q == buf)
            __asm__ volatile("vmovups %%ymm0, (%0)" ::"r"(p) : "memory");
        else
            __asm__ volatile("vmaskmovps %%ymm0, %%ymm1, (%0)" ::"r"(p) : "memory");
}
KERNEL(masked_adds) {
    for (long i = 0; i < n; i++)
        if (q == buf)
            __asm__ volatile("vmovups %%ymm0, (%0)\n" ADDS20 ::"r"(p) : "memory", "r8", "r9", "r10", "r11");
        else
            __asm__ volatile("vmaskmovps %%ymm0, %%ymm1, (%0)\n" ADDS20 ::"r"(p)
                             : "memory", "r8", "r9", "r10", "r11");
}
/* A masked load (vmaskmovps) among 12 adds, mask from q: 32 bytes of 0 / -1 lanes. */
KERNEL(mload) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("vmovdqu (%1), %%ymm1\n vmaskmovps (%0), %%ymm1, %%ymm2\n" ADDS20 ::"r"(p), "r"(q)
                         : "memory", "r8", "r9", "r10", "r11", "xmm1", "xmm2");
}
KERNEL(chase) {
    (void)q;
    long x = 0;   /* the loaded value is 0: each load's address waits for the last load */
    for (long i = 0; i < n; i++) __asm__ volatile("movq (%1,%0), %0" : "+r"(x) : "r"(p) : "memory");
}

typedef void (*Kernel)(char *, char *, long);

static double tsc_per_iteration_q(Kernel k, long offset, char *q) {
    const long n = 100000;
    double best = 1e30;
    for (int run = 0; run < 30; run++) {
        unsigned long long t0 = __rdtsc();
        k(buf + offset, q, n);
        unsigned long long t1 = __rdtsc();
        double c = (double)(t1 - t0) / n;
        best = c < best ? c : best;
    }
    return best;
}

static double tsc_per_iteration(Kernel k, long offset) {
    return tsc_per_iteration_q(k, offset, buf + 3 * 4096);
}

int main(void) {
    buf = aligned_alloc(4096, 5 * 4096);
    if (!buf) return 1;
    for (int i = 0; i < 5 * 4096; i++) buf[i] = 0;
    struct {
        const char *name;
        Kernel k;
        long within, split;
    } cases[] = {
        {"store 8 B, page split", store8, 4088 - 8, 4092},
        {"store 16 B, page split", store16, 4096 - 32, 4088},
        {"store 32 B, page split", store32, 4096 - 64, 4080},
        {"store 32 B, line split", store32, 4096, 4096 + 48},
        {"1 of 21 stores, page split", mix, 4096 - 64, 4080},
        {"8 B load chain, page split", chase, 4088 - 8, 4092},
    };
    double aligned = 1e30;   /* the least of several: the core clock's ratio must not be noisy */
    for (int i = 0; i < 5; i++) {
        double t = tsc_per_iteration(store32, 4096);
        aligned = t < aligned ? t : aligned;
    }
    printf("aligned 32-byte store: %.2f TSC cycles (core cycles = TSC cycles x %.2f)\n", aligned,
           1 / aligned);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int b = 0; b < 5 * 4096; b++) buf[b] = 0;   /* the stores wrote rax's bytes */
        double w = tsc_per_iteration(cases[i].k, cases[i].within);
        double s = tsc_per_iteration(cases[i].k, cases[i].split);
        printf("%-28s within %6.2f  split %6.2f TSC cycles  extra %5.1f core cycles\n",
               cases[i].name, w, s, (s - w) / aligned);
    }
    __asm__ volatile("vpcmpeqd %%ymm1, %%ymm1, %%ymm1" ::: "xmm1");   /* every lane on */
    for (int adds = 0; adds < 2; adds++) {
        Kernel k = adds ? masked_adds : masked;
        double plain = tsc_per_iteration_q(k, 4096, buf), m = tsc_per_iteration_q(k, 4096, buf + 1);
        printf("%-28s plain  %6.2f  masked %6.2f TSC cycles  extra %5.1f core cycles\n",
               adds ? "masked store among 20 adds" : "masked store", plain, m, (m - plain) / aligned);
    }
    /*
     * Masked loads across a 4 KiB page: the first 3 lanes on (12 bytes), the vector from 12
     * bytes before the page's end (the lanes off are all in the next page) or 8 (one lane on
     * is there); every lane on, from 12 before.
     */
    static int lanes3[8] __attribute__((aligned(32))) = {-1, -1, -1, 0, 0, 0, 0, 0};
    static int lanes8[8] __attribute__((aligned(32))) = {-1, -1, -1, -1, -1, -1, -1, -1};
    struct {
        const char *name;
        int *mask;
        long cross;
    } loads[] = {
        {"masked load, off lanes over", lanes3, 2 * 4096 - 12},
        {"masked load, on lane over", lanes3, 2 * 4096 - 8},
        {"masked load, all lanes on", lanes8, 2 * 4096 - 12},
    };
    for (size_t i = 0; i < sizeof loads / sizeof loads[0]; i++) {
        double w = tsc_per_iteration_q(mload, 4096, (char *)loads[i].mask);
        double s = tsc_per_iteration_q(mload, loads[i].cross, (char *)loads[i].mask);
        printf("%-28s within %6.2f  page split %6.2f TSC cycles  extra %5.1f core cycles\n",
               loads[i].name, w, s, (s - w) / aligned);
    }
    /*
     * The same first kind, but the next page is one the program never touched (mapped, not
     * present): the lanes off never bring it in, so every such load takes the assist.
     */
    char *fresh = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fresh == MAP_FAILED) return 1;
    fresh[0] = 0;   /* the first page present, the second not */
    char *saved = buf;
    buf = fresh;
    double w = tsc_per_iteration_q(mload, 64, (char *)lanes3);
    double u = tsc_per_iteration_q(mload, 4096 - 12, (char *)lanes3);
    buf = saved;
    printf("%-28s within %6.2f  page split %6.2f TSC cycles  extra %5.1f core cycles\n",
           "masked load, untouched page", w, u, (u - w) / aligned);
    munmap(fresh, 2 * 4096);
    free(buf);
    return 0;
}
