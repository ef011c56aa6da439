/*
 * Bare-metal driver of the ROI kernels (kernels_riscv64.S) for the qemu plugin's system mode
 * (qemu-system-riscv64 -M virt): the same kernels as roi_main.c runs under qemu-user, chosen
 * at compile time (no argv on bare metal):
 *   -DCOUNT=N    run_count(N)
 *   -DMIX        run_mix
 *   -DBRANCHES=N run_branches(N)
 * Console and exit as in the simtune harness (src/build/harness.cc): the 16550 UART at
 * 0x10000000, HTIF through `tohost`, so that QEMU runs it as it runs harness artifacts
 * (PatchElfForQemuVirt) and Spike could run it as it is.
 */
#include <stdint.h>
#include <stdio.h>

void run_count(long n, long *buf);
void run_branches(long n);
void run_mix(long *buf);

static long count_buf[16] __attribute__((aligned(64)));

#define UART ((volatile uint8_t *)0x10000000UL)

static int uart_putc(char c, FILE *file)
{
    (void)file;
    while (!(UART[5] & 0x20)) {
    }
    UART[0] = (uint8_t)c;
    return (unsigned char)c;
}

static FILE console = FDEV_SETUP_STREAM(uart_putc, NULL, NULL, _FDEV_SETUP_WRITE);
FILE *const stdin = &console;
FILE *const stdout = &console;
FILE *const stderr = &console;

volatile uint64_t tohost __attribute__((section(".preserve.htif"), aligned(64), used));
volatile uint64_t fromhost __attribute__((section(".preserve.htif"), aligned(64), used));

__attribute__((noreturn)) void _exit(int code)
{
    for (;;) {
        while (tohost) {
            fromhost = 0;
        }
        tohost = ((uint64_t)(unsigned)code << 1) | 1;
    }
}

int main(void)
{
#if defined(COUNT)
    run_count(COUNT, count_buf);
#elif defined(BRANCHES)
    run_branches(BRANCHES);
#elif defined(MIX)
    run_mix(count_buf);
#else
#error "define COUNT, BRANCHES or MIX"
#endif
    printf("simtune: verify ok max_abs_err=0 max_rel_err=0\n");
    return 0;
}
