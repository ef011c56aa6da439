/*
 * FP latency probe (issue 11, session 29): the latency of a dependent chain of FP adds,
 * multiplies and fused multiply-adds on this x86 machine, against integer adds (1 cycle) and
 * multiplies (3), the figures behind x86_64-host's core "latency" {"fp", "fadd", "fmul"}
 * (QEMU's dependency timing models; README, "Predicting instead of measuring").
 *
 *   gcc -O2 -mavx2 -mfma bench/fp_latency_probe.c -o /tmp/fp_latency_probe && /tmp/fp_latency_probe
 *
 * Each case runs 64 dependent instructions a loop iteration, 1000 iterations, the minimum
 * over 50 runs, in TSC cycles an instruction and in core cycles (against the 1-cycle integer
 * add chain). Operands are normal numbers (denormals take microcode assists). Not run by
 * `make test`.
 */
#include <stdio.h>
#include <x86intrin.h>

#define R8(x) x x x x x x x x
#define R64(x) R8(R8(x))

static double per_insn(int k) {
    double best = 1e30;
    __m256 one = _mm256_set1_ps(1.0f), small = _mm256_set1_ps(1e-3f);
    for (int r = 0; r < 50; r++) {
        __m256 a = one;
        long x = 1;
        unsigned long long t0 = __rdtsc();
        for (int i = 0; i < 1000; i++) {
            switch (k) {
            case 0: __asm__ volatile(R64("addq %1, %0\n") : "+r"(x) : "r"(x)); break;
            case 1: __asm__ volatile(R64("imulq %1, %0\n") : "+r"(x) : "r"(3L)); break;
            case 2: __asm__ volatile(R64("vaddss %x1, %x0, %x0\n") : "+x"(a) : "x"(small)); break;
            case 3: __asm__ volatile(R64("vaddps %1, %0, %0\n") : "+x"(a) : "x"(small)); break;
            case 4: __asm__ volatile(R64("vmulss %x1, %x0, %x0\n") : "+x"(a) : "x"(one)); break;
            case 5: __asm__ volatile(R64("vmulps %1, %0, %0\n") : "+x"(a) : "x"(one)); break;
            case 6: __asm__ volatile(R64("vfmadd231ps %1, %1, %0\n") : "+x"(a) : "x"(small)); break;
            }
        }
        double t = (double)(__rdtsc() - t0) / (1000 * 64);
        if (t < best) best = t;
        if (_mm256_cvtss_f32(a) == 12345.f || x == 12345) printf(" ");
    }
    return best;
}

int main(void) {
    const char *names[] = {"addq (1 cycle)", "imulq", "vaddss", "vaddps ymm", "vmulss",
                           "vmulps ymm", "vfmadd231ps ymm"};
    double ref = per_insn(0);
    printf("%-16s %10s %12s\n", "chain of", "TSC/insn", "core cycles");
    for (int k = 0; k < 7; k++) {
        double t = per_insn(k);
        printf("%-16s %10.3f %12.2f\n", names[k], t, t / ref);
    }
    return 0;
}
