/*
 * A tiny stand-in for a simtune harness, for the qemu simulator's failure paths:
 *   -DMODE_VERIFY_FAIL  ROI, then "simtune: verify failed ..." and exit 3
 *   -DMODE_NO_ROI       no ROI calls, "verify ok"
 *   -DMODE_CRASH        a segmentation fault in the ROI
 *   -DMODE_HANG         an endless loop in the ROI
 *   (none)              a small kernel in the ROI and "verify ok"
 */
#include <stdio.h>

__attribute__((noinline)) void simtune_roi_begin(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void simtune_roi_end(void)
{
    __asm__ volatile("" ::: "memory");
}

static volatile double data[1024];

int main(void)
{
#ifndef MODE_NO_ROI
    simtune_roi_begin();
#endif
#if defined(MODE_CRASH)
    *(volatile int *)(long)data[0] = 1;
#elif defined(MODE_HANG)
    for (;;) {
        data[0] += 1;
    }
#else
    for (int i = 0; i < 1024; i++) {
        data[i] = data[i] * 2 + i;
    }
#endif
#ifndef MODE_NO_ROI
    simtune_roi_end();
#endif
#ifdef MODE_VERIFY_FAIL
    printf("simtune: verify failed index=3 got=1 want=2\n");
    return 3;
#else
    printf("simtune: verify ok max_abs_err=0 max_rel_err=0\n");
    return 0;
#endif
}
