/*
 * Split-load probe (issue 11, session 29): what a load that crosses a cache line or a 4 KiB
 * page costs this x86 machine, the figures behind x86_64-host's core "split_load" (QEMU's
 * dependency timing models charge it; README, "Predicting instead of measuring").
 *
 *   gcc -O2 -mavx2 bench/split_load_probe.c -o /tmp/split_load_probe && /tmp/split_load_probe
 *
 * Each case runs 8 independent loads from one address a loop iteration (100000 iterations,
 * the minimum over 30 runs, TSC cycles a load): 8-, 16- and 32-byte loads within a line,
 * across two lines, across two pages. "mix" puts one such load among 16 loads within a line,
 * to show the cost adds to the loop's. The load pipes take two (32-byte) or three (narrower)
 * aligned loads a core cycle, so the aligned 32-byte case's TSC cycles give the core clock's
 * ratio (x 2), and the last column each case's cost in core cycles beyond its within-line
 * twin. Not run by `make test`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <x86intrin.h>

#define KERNEL(name) __attribute__((noinline)) static void name(const char *p, const char *q, long n)
#define EIGHT(ins) ins ins ins ins ins ins ins ins
KERNEL(load8) {
    (void)q;
    for (long i = 0; i < n; i++) __asm__ volatile(EIGHT("movq (%0), %%rax\n") ::"r"(p) : "rax");
}
KERNEL(load16) {
    (void)q;
    for (long i = 0; i < n; i++) __asm__ volatile(EIGHT("vmovups (%0), %%xmm0\n") ::"r"(p) : "xmm0");
}
KERNEL(load32) {
    (void)q;
    for (long i = 0; i < n; i++) __asm__ volatile(EIGHT("vmovups (%0), %%ymm0\n") ::"r"(p) : "xmm0");
}
KERNEL(mix) {
    for (long i = 0; i < n; i++) {
        __asm__ volatile("vmovups (%0), %%ymm0\n" ::"r"(p) : "xmm0");
        __asm__ volatile(EIGHT("vmovups (%0), %%ymm1\n") EIGHT("vmovups 32(%0), %%ymm2\n")
                         ::"r"(q) : "xmm1", "xmm2");
    }
}

static double per_iter(void (*k)(const char *, const char *, long), const char *p, const char *q) {
    const long n = 100000;
    double best = 1e30;
    for (int r = 0; r < 30; r++) {
        unsigned long long t0 = __rdtsc();
        k(p, q, n);
        double t = (double)(__rdtsc() - t0) / n;
        if (t < best) best = t;
    }
    return best;
}

int main(void) {
    char *buf = mmap(NULL, 3 << 12, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) return 1;
    for (int i = 0; i < 3 << 12; i++) buf[i] = (char)i;
    char *page = buf + 4096;
    struct { const char *name; void (*k)(const char *, const char *, long); int bytes; } kinds[] = {
        {"8-byte", load8, 8}, {"16-byte", load16, 16}, {"32-byte", load32, 32}};
    double aligned32 = per_iter(load32, page + 128, NULL) / 8;
    double ratio = 2.0 / aligned32 * 1.0;   /* core cycles a TSC cycle: two 32-byte loads a cycle */
    (void)ratio;
    printf("%-8s %-12s %12s %14s\n", "load", "where", "TSC/load", "core cycles +");
    for (int k = 0; k < 3; k++) {
        double base = per_iter(kinds[k].k, page + 128, NULL) / 8;
        double line = per_iter(kinds[k].k, page + 64 - kinds[k].bytes / 2, NULL) / 8;
        double pg = per_iter(kinds[k].k, page + 4096 - kinds[k].bytes / 2, NULL) / 8;
        double core = 0.5 / aligned32;   /* core cycles per TSC cycle */
        printf("%-8s %-12s %12.3f %14s\n", kinds[k].name, "within line", base, "");
        printf("%-8s %-12s %12.3f %14.2f\n", kinds[k].name, "across lines", line, (line - base) * core);
        printf("%-8s %-12s %12.3f %14.2f\n", kinds[k].name, "across pages", pg, (pg - base) * core);
    }
    double mbase = per_iter(mix, page + 128, page + 256);
    double mline = per_iter(mix, page + 48, page + 256);
    double mpage = per_iter(mix, page + 4096 - 16, page + 256);
    double core = 0.5 / aligned32;
    printf("mix (1 among 16): within %.3f, across lines %.3f (+%.2f core cycles), across pages %.3f (+%.2f)\n",
           mbase, mline, (mline - mbase) * core, mpage, (mpage - mbase) * core);
    printf("core cycles a TSC cycle (aligned 32-byte loads at 2 a cycle): %.3f\n", core);
    return 0;
}
