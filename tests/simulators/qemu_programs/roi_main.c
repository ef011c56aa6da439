/*
 * Driver of the ROI kernels (kernels_<isa>.S) for the qemu plugin tests.
 *   prog                      run_count(1000), verify line (harness contract)
 *   prog count N              run_count(N)
 *   prog stride B S P load|store [warm]   run_stride over B bytes, stride S, P passes;
 *                             warm: read the buffer once before the ROI
 *   prog vstride B S P load|store         (x86_64) the same with 32-byte ymm accesses
 *   prog branches N           run_branches(N)
 *   prog nested O I           (x86_64) run_nested(O, I): O runs of an I-iteration loop
 *   prog mix                  run_mix: a few instructions of every class
 *   prog vec N                (x86_64) run_vec(N): vector instructions by width, shuffles
 *   prog raw N                (x86_64) run_raw(N): loads of recently stored bytes
 *   prog dep N W              (riscv64, x86_64) run_dep(N, W): dependency chains (kernels_*.S)
 * SETUP_WORK (compile-time) adds that many iterations of unrelated work before and
 * after the ROI, to show that it is not counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SETUP_WORK
#define SETUP_WORK 0
#endif

void run_count(long n, long *buf);
void run_stride(char *buf, long bytes, long stride, long passes, long store);
void run_branches(long n);
#ifdef __x86_64__
void run_vstride(char *buf, long bytes, long stride, long passes, long store);
void run_vec(long n, long *buf);
void run_raw(long n, char *buf);
void run_nested(long outer, long inner);
#endif
void run_mix(long *buf);
#if defined(__riscv) || defined(__x86_64__)
void run_dep(long n, long *buf, long which);
#endif

static long count_buf[16] __attribute__((aligned(64)));
static char stride_buf[1 << 22] __attribute__((aligned(4096)));
static volatile long sink;

static void __attribute__((noinline)) setup_work(long n)
{
    static long scratch[4096];
    for (long i = 0; i < n; i++) {
        scratch[(i * 7) & 4095] += i;
        if (scratch[i & 4095] & 1) {
            sink += i;
        }
    }
    sink += scratch[n & 4095];
}

int main(int argc, char **argv)
{
    setup_work(SETUP_WORK);
    if (argc == 1 || (argc == 3 && strcmp(argv[1], "count") == 0)) {
        run_count(argc == 3 ? atol(argv[2]) : 1000, count_buf);
    } else if ((argc == 6 || argc == 7) && strcmp(argv[1], "stride") == 0) {
        long bytes = atol(argv[2]);
        if (bytes > (long)sizeof(stride_buf)) {
            return 2;
        }
        if (argc == 7 && strcmp(argv[6], "warm") == 0) {
            for (long i = 0; i < bytes; i += 8) {
                sink += stride_buf[i];
            }
        }
        run_stride(stride_buf, bytes, atol(argv[3]), atol(argv[4]),
                   strcmp(argv[5], "store") == 0);
#ifdef __x86_64__
    } else if (argc == 6 && strcmp(argv[1], "vstride") == 0) {
        long bytes = atol(argv[2]);
        if (bytes + 32 > (long)sizeof(stride_buf)) {
            return 2;
        }
        run_vstride(stride_buf, bytes, atol(argv[3]), atol(argv[4]),
                    strcmp(argv[5], "store") == 0);
    } else if (argc == 3 && strcmp(argv[1], "vec") == 0) {
        run_vec(atol(argv[2]), count_buf);
    } else if (argc == 3 && strcmp(argv[1], "raw") == 0) {
        run_raw(atol(argv[2]), stride_buf);
    } else if (argc == 4 && strcmp(argv[1], "nested") == 0) {
        run_nested(atol(argv[2]), atol(argv[3]));
#endif
#if defined(__riscv) || defined(__x86_64__)
    } else if (argc == 4 && strcmp(argv[1], "dep") == 0) {
        run_dep(atol(argv[2]), count_buf, atol(argv[3]));
#endif
    } else if (argc == 3 && strcmp(argv[1], "branches") == 0) {
        run_branches(atol(argv[2]));
    } else if (argc == 2 && strcmp(argv[1], "mix") == 0) {
        run_mix(count_buf);
    } else {
        fprintf(stderr, "usage: see roi_main.c\n");
        return 2;
    }
    setup_work(SETUP_WORK);
    printf("simtune: verify ok max_abs_err=0 max_rel_err=0\n");
    return 0;
}
