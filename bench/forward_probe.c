/*
 * Store-to-load forwarding probe (issues 11 and 18, session 24): how long a load waits for
 * bytes that stores still hold in the store buffer on this x86 machine, when one store holds
 * all of them (forwarded) and when it does not (several stores, or a store holding part of the
 * load: the load waits until they have left the buffer). The figures behind x86_64-host's core
 * "forward_latency" and "forward_fail" (QEMU's dependency timing models; README, "Predicting
 * instead of measuring").
 *
 *   gcc -O2 -mavx2 bench/forward_probe.c -o /tmp/forward_probe && /tmp/forward_probe
 *
 * Each case is a chain through memory: the stores' data is the previous load's value, so an
 * iteration takes the round trip store(s) -> load. 100000 iterations, the minimum over 30
 * runs, in TSC cycles an iteration, and in core cycles with the clock ratio the first case
 * gives (a plain add chain: one core cycle an add). Not run by `make test`. Its figures move
 * with the VM's neighbours: run it on an idle machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <x86intrin.h>

static char buf[256] __attribute__((aligned(64)));

/* Eight 32-bit stores of xmm0's low lane, to 32 consecutive bytes from base (an asm operand). */
#define STORES8(base)                                                                            \
    "vmovss %%xmm0, (" base ")\n vmovss %%xmm0, 4(" base ")\n vmovss %%xmm0, 8(" base ")\n"      \
    "vmovss %%xmm0, 12(" base ")\n vmovss %%xmm0, 16(" base ")\n vmovss %%xmm0, 20(" base ")\n"  \
    "vmovss %%xmm0, 24(" base ")\n vmovss %%xmm0, 28(" base ")\n"
#define KERNEL(name) __attribute__((noinline)) static void name(char *p, long n)
/* 100 dependent adds an iteration: the clock. */
#define ADD10 "add $1,%%rax\n add $1,%%rax\n add $1,%%rax\n add $1,%%rax\n add $1,%%rax\n" \
              "add $1,%%rax\n add $1,%%rax\n add $1,%%rax\n add $1,%%rax\n add $1,%%rax\n"
KERNEL(adds) {
    (void)p;
    for (long i = 0; i < n; i++)
        __asm__ volatile(ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ::: "rax");
}
/* 64-bit store, 64-bit load of the same bytes. */
KERNEL(gpr64) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("movq %%rax, (%0)\n movq (%0), %%rax" ::"r"(p) : "rax", "memory");
}
/* 32-bit store inside a 64-bit load (part of its bytes from the buffer, the rest from l1d). */
KERNEL(gpr32in64) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("movl %%eax, (%0)\n movq (%0), %%rax" ::"r"(p) : "rax", "memory");
}
/* Two 32-bit stores, one 64-bit load over both. */
KERNEL(gpr2x32) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("movl %%eax, (%0)\n movl %%eax, 4(%0)\n movq (%0), %%rax" ::"r"(p)
                         : "rax", "memory");
}
/* 64-bit store, 32-bit load of its upper half (contained: forwarded). */
KERNEL(gpr64to32) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("movq %%rax, (%0)\n movl 4(%0), %%eax" ::"r"(p) : "rax", "memory");
}
/* 256-bit store, 256-bit load of the same bytes. */
KERNEL(v256) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("vmovups %%ymm0, (%0)\n vmovups (%0), %%ymm0" ::"r"(p) : "xmm0", "memory");
}
/* 256-bit store, 128-bit load of its upper half (contained). */
KERNEL(v256to128) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("vmovups %%ymm0, (%0)\n vmovups 16(%0), %%xmm0" ::"r"(p) : "xmm0", "memory");
}
/* 256-bit store, 32-bit scalar load of one element (contained). */
KERNEL(v256to32) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("vmovups %%ymm0, (%0)\n vmovss 12(%0), %%xmm0" ::"r"(p) : "xmm0", "memory");
}
/* Two 128-bit stores, one 256-bit load over both. */
KERNEL(v2x128) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("vmovups %%xmm0, (%0)\n vmovups %%xmm0, 16(%0)\n vmovups (%0), %%ymm0" ::"r"(p)
                         : "xmm0", "memory");
}
/* Eight 32-bit scalar stores, one 256-bit load over them. */
KERNEL(v8x32) {
    for (long i = 0; i < n; i++)
        __asm__ volatile(STORES8("%0") " vmovups (%0), %%ymm0" ::"r"(p)
                         : "xmm0", "memory");
}
/* One 32-bit scalar store, a 256-bit load holding it (the rest from l1d). */
KERNEL(v32in256) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("vmovss %%xmm0, 8(%0)\n vmovups (%0), %%ymm0" ::"r"(p) : "xmm0", "memory");
}
/* 256-bit store, a 256-bit load 4 bytes further (overlapping, not contained). */
KERNEL(v256off4) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("vmovups %%ymm0, (%0)\n vmovups 4(%0), %%ymm0" ::"r"(p) : "xmm0", "memory");
}
/* 256-bit store, a 128-bit load 8 bytes further (contained, not aligned to the store). */
KERNEL(v256to128off8) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("vmovups %%ymm0, (%0)\n vmovups 8(%0), %%xmm0" ::"r"(p) : "xmm0", "memory");
}
/* Stores to 8 consecutive elements, 8 scalar loads of them (each contained in one store). */
KERNEL(s8x32) {
    for (long i = 0; i < n; i++)
        __asm__ volatile(STORES8("%0") " vmovss 28(%0), %%xmm0" ::"r"(p)
                         : "xmm0", "memory");
}

/* Masked (vmaskmovps, every lane on; ymm1 all ones) store or load in the chain. */
KERNEL(mstore) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("vpcmpeqd %%ymm1, %%ymm1, %%ymm1\n vmaskmovps %%ymm0, %%ymm1, (%0)\n"
                         "vmovups (%0), %%ymm0" ::"r"(p) : "xmm0", "xmm1", "memory");
}
KERNEL(mload) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("vpcmpeqd %%ymm1, %%ymm1, %%ymm1\n vmovups %%ymm0, (%0)\n"
                         "vmaskmovps (%0), %%ymm1, %%ymm0" ::"r"(p) : "xmm0", "xmm1", "memory");
}
/* A masked load of a slot last written long ago (no store in flight), chained through ymm0. */
KERNEL(mloadold) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("vpcmpeqd %%ymm1, %%ymm1, %%ymm1\n vmaskmovps 64(%0), %%ymm1, %%ymm2\n"
                         "vaddps %%ymm2, %%ymm0, %%ymm0" ::"r"(p) : "xmm0", "xmm1", "xmm2", "memory");
}
KERNEL(loadold) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("vpcmpeqd %%ymm1, %%ymm1, %%ymm1\n vmovups 64(%0), %%ymm2\n"
                         "vaddps %%ymm2, %%ymm0, %%ymm0" ::"r"(p) : "xmm0", "xmm1", "xmm2", "memory");
}

/*
 * Throughput, no chain through memory: each iteration writes a fresh 32-byte slot of a ring
 * of 4 (eight 32-bit stores, or one 256-bit store) and loads it back into an add chain of its
 * own (ymm3), so only forwarding itself, not a round trip, can hold the loop up.
 */
#define SLOT "mov %%rcx, %%rdx\n and $3, %%rdx\n shl $5, %%rdx\n add %0, %%rdx\n"
KERNEL(tput8x32) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("mov %1, %%rcx\n" SLOT
                         STORES8("%%rdx") " vmovups (%%rdx), %%ymm2\n"
                         "vaddps %%ymm2, %%ymm3, %%ymm3" ::"r"(p), "r"(i)
                         : "rcx", "rdx", "xmm2", "xmm3", "memory");
}
/* The same stores, the load from the slot written two iterations before (drained by then). */
KERNEL(tput8x32old) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("mov %1, %%rcx\n" SLOT
                         STORES8("%%rdx")
                         "add $2, %%rcx\n" SLOT "vmovups (%%rdx), %%ymm2\n"
                         "vaddps %%ymm2, %%ymm3, %%ymm3" ::"r"(p), "r"(i)
                         : "rcx", "rdx", "xmm2", "xmm3", "memory");
}
/* One 256-bit store and its load (forwarded), with eight scalar stores elsewhere. */
KERNEL(tput256) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("mov %1, %%rcx\n" SLOT
                         "vmovss %%xmm0, 128(%%rdx)\n vmovss %%xmm0, 132(%%rdx)\n vmovss %%xmm0, 136(%%rdx)\n"
                         "vmovss %%xmm0, 140(%%rdx)\n vmovss %%xmm0, 144(%%rdx)\n vmovss %%xmm0, 148(%%rdx)\n"
                         "vmovss %%xmm0, 152(%%rdx)\n vmovups %%ymm0, (%%rdx)\n vmovups (%%rdx), %%ymm2\n"
                         "vaddps %%ymm2, %%ymm3, %%ymm3" ::"r"(p), "r"(i)
                         : "rcx", "rdx", "xmm2", "xmm3", "memory");
}

typedef void (*Kernel)(char *, long);
static double best(Kernel k, char *p, long n) {
    double m = 1e30;
    for (int r = 0; r < 30; r++) {
        unsigned long long t0 = __rdtsc();
        k(p, n);
        double c = (double)(__rdtsc() - t0) / n;
        if (c < m) m = c;
    }
    return m;
}

int main(void) {
    const long n = 100000;
    char *p = buf + 64;
    double clock = best(adds, p, n) / 100;   /* TSC cycles a core cycle */
    printf("core cycle = %.3f TSC cycles (100 dependent adds)\n", clock);
    printf("%-16s %10s %12s  %s\n", "case", "TSC/iter", "core/iter", "what");
    struct { const char *name; Kernel k; const char *what; } cases[] = {
        {"gpr64", gpr64, "64-bit store, 64-bit load of it"},
        {"gpr64to32", gpr64to32, "64-bit store, 32-bit load of its upper half"},
        {"gpr32in64", gpr32in64, "32-bit store, 64-bit load holding it"},
        {"gpr2x32", gpr2x32, "two 32-bit stores, a 64-bit load over both"},
        {"v256", v256, "256-bit store, 256-bit load of it"},
        {"v256to128", v256to128, "256-bit store, 128-bit load of its upper half"},
        {"v256to128off8", v256to128off8, "256-bit store, 128-bit load at +8 (contained)"},
        {"v256to32", v256to32, "256-bit store, 32-bit load of one element"},
        {"s8x32", s8x32, "eight 32-bit stores, 32-bit load of the last"},
        {"v2x128", v2x128, "two 128-bit stores, a 256-bit load over both"},
        {"v8x32", v8x32, "eight 32-bit stores, a 256-bit load over them"},
        {"v32in256", v32in256, "one 32-bit store, a 256-bit load holding it"},
        {"v256off4", v256off4, "256-bit store, 256-bit load at +4 (overlapping)"},
        {"mstore", mstore, "masked 256-bit store, 256-bit load of it"},
        {"mload", mload, "256-bit store, masked 256-bit load of it"},
        {"mloadold", mloadold, "masked load of settled data, into an add chain"},
        {"loadold", loadold, "plain load of settled data, into an add chain"},
        {"tput8x32", tput8x32, "no chain: eight 32-bit stores, a 256-bit load over them"},
        {"tput8x32old", tput8x32old, "no chain: the same, the load from two slots back"},
        {"tput256", tput256, "no chain: seven 32-bit stores elsewhere, 256-bit store and load"},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double t = best(cases[i].k, p, n);
        printf("%-16s %10.2f %12.1f  %s\n", cases[i].name, t, t / clock, cases[i].what);
    }
    return 0;
}
