/*
 * L1 fill probe (issue 18, session 25): how fast this x86 machine brings lines into l1d from
 * l2, the figure behind x86_64-host's core "l1_fill" (QEMU's dependency timing models give a
 * load that missed l1d its line no sooner than the fills before it allow).
 *
 *   gcc -O2 bench/l1_fill_probe.c -o /tmp/l1_fill_probe && /tmp/l1_fill_probe
 *
 * Each case reads one 4-byte word from each of `lines` lines `stride` bytes apart, 8
 * independent loads an iteration, in passes that move to the next word of each line (so a
 * pass touches every line again); the minimum over 30 runs of 400000 loads, TSC cycles a load,
 * and core cycles (x1.42: this VM's Zen 4 retires one aligned store a core cycle at 0.70 TSC
 * cycles, bench/split_store_probe.c). Lines that fit l1d are hits (the loop's own bound); a
 * sweep larger than l1d misses on every load, so its rate is the fill rate; strides of 1-4
 * KiB put every line in 4, 2 or 1 of l1d's 64 sets, which thrash. Not run by `make test`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <x86intrin.h>

static char *buf;

__attribute__((noinline)) static void run(long stride, long nlines, long passes)
{
    for (long ps = 0; ps < passes; ps++) {
        char *p = buf + ((ps * 4) & 63);
        char *e = p + nlines * stride;
        for (; p < e; p += 8 * stride) {
            __asm__ volatile(
                "movl (%0), %%eax\n movl (%0,%1,1), %%eax\n movl (%0,%1,2), %%eax\n"
                "lea (%0,%1,2), %%r9\n movl (%%r9,%1,1), %%eax\n movl (%0,%1,4), %%eax\n"
                "lea (%0,%1,4), %%r9\n movl (%%r9,%1,1), %%eax\n movl (%%r9,%1,2), %%eax\n"
                "lea (%%r9,%1,2), %%r9\n movl (%%r9,%1,1), %%eax\n"
                ::"r"(p), "r"(stride) : "rax", "r9", "memory");
        }
    }
}

int main(void)
{
    buf = aligned_alloc(4096, 64 << 20);
    for (long i = 0; i < (64 << 20); i++) buf[i] = (char)i;
    struct {
        const char *what;
        long stride, lines;
    } c[] = {
        {"l1d hits: 256 lines, stride 64", 64, 256},
        {"l2 sweep: 4096 lines, stride 64", 64, 4096},
        {"l2 sweep: 4096 lines, stride 128", 128, 4096},
        {"l2 sweep: 1024 lines, stride 512 (8 sets)", 512, 1024},
        {"l2: 512 lines, stride 1 KiB (4 sets)", 1024, 512},
        {"l1d: 32 lines, stride 1 KiB (4 sets, fit)", 1024, 32},
        {"l2: 256 lines, stride 2 KiB (2 sets)", 2048, 256},
        {"l2: 128 lines, stride 4 KiB (1 set)", 4096, 128},
        {"l3/memory sweep: 65536 lines (4 MiB)", 64, 65536},
    };
    for (unsigned i = 0; i < sizeof c / sizeof c[0]; i++) {
        long passes = 400000 / c[i].lines;
        double best = 1e30;
        for (int r = 0; r < 30; r++) {
            unsigned long long t0 = __rdtsc();
            run(c[i].stride, c[i].lines, passes);
            double t = (double)(__rdtsc() - t0) / (double)(passes * c[i].lines);
            best = t < best ? t : best;
        }
        printf("%-44s %6.2f TSC cycles a load, %5.2f core\n", c[i].what, best, best * 1.42);
    }
    return 0;
}
