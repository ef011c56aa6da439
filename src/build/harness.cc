#include "harness.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

namespace simtune {
namespace {

std::string Fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// simtune_canary.
uint32_t Canary(int i) { return 0x5ca1ab1eU ^ (static_cast<uint32_t>(i) * 0x9e3779b9U); }

void AppendLittleEndian(std::string& out, uint32_t w) {
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((w >> (8 * k)) & 0xff));
}

bool IsIdentifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

Status Validate(const KernelSource& source) {
  if (source.code.empty()) return Error{"kernel source has no code"};
  if (source.reference_code.empty()) return Error{"kernel source has no reference code"};
  if (source.buffers.empty()) return Error{"kernel source has no buffers"};
  std::set<std::string> names;
  bool any_output = false;
  for (const auto& b : source.buffers) {
    if (!IsIdentifier(b.name))
      return Error{"buffer name '" + b.name + "' is not a C identifier"};
    if (!names.insert(b.name).second) return Error{"buffer '" + b.name + "' appears twice"};
    // 2^31 floats = 8 GiB: far beyond what any target here can hold in static storage.
    if (b.elements <= 0 || b.elements > (int64_t{1} << 31))
      return Error{"buffer '" + b.name + "': elements must be in [1, 2^31]; got " +
                   std::to_string(b.elements)};
    any_output |= b.output;
  }
  if (!any_output) return Error{"kernel source has no output buffer"};
  if (!(source.rel_tol >= 0) || !(source.abs_tol >= 0) || !std::isfinite(source.rel_tol) ||
      !std::isfinite(source.abs_tol))
    return Error{"tolerances must be finite and >= 0; got rel_tol=" + Fmt(source.rel_tol) +
                 " abs_tol=" + Fmt(source.abs_tol)};
  return Status::Ok();
}

// The kernel's and the reference's signatures (every generated harness).
constexpr const char* kKernelDecls = R"C(
void simtune_kernel(float *const *bufs);
void simtune_reference(float *const *bufs);
)C";

// What the ROI functions need (kHostedRoi, kRiscvBareRoi); also in GenerateBareMetalRuntime.
constexpr const char* kRoiCommon = R"C(
/* Written by the ROI functions so that each has a distinct, observable side effect (no
   identical-code folding, no removal). */
volatile int simtune_roi_state;

#if defined(__GNUC__) && !defined(__clang__)
#define SIMTUNE_ROI_ATTR __attribute__((noinline, noipa, used))
#else
#define SIMTUNE_ROI_ATTR __attribute__((noinline, used))
#endif
)C";

// Shared by every target: input filling, guard zones, output checksums, verification
// against the reference.
constexpr const char* kCommon = R"C(
/* Inputs: one 64-bit LCG stream per buffer, values k / 2^23 - 1 in [-1, 1), exact in float
   and identical on every ISA. Outputs: zeroed. */
static void simtune_fill(float *buf, long n, uint64_t seed) {
  uint64_t s = seed;
  long i;
  for (i = 0; i < n; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    buf[i] = (float)(int32_t)((s >> 40) & 0xffffff) * (1.0f / 8388608.0f) - 1.0f;
  }
}

/* Guard zone: SIMTUNE_GUARD floats after every buffer hold a known bit pattern; a kernel
   that writes past the end of a buffer changes it. */
static uint32_t simtune_canary(long i) { return 0x5ca1ab1eU ^ ((uint32_t)i * 0x9e3779b9U); }

static void simtune_set_guard(float *buf, long n) {
  long i;
  for (i = 0; i < SIMTUNE_GUARD; ++i) {
    uint32_t v = simtune_canary(i);
    memcpy(&buf[n + i], &v, sizeof v);
  }
}

/* 0 when the guard zone after every buffer of `bufs` is intact, else prints the verify
   failed line naming the buffer and returns 3. */
static int simtune_check_guards(float *const *bufs, const char *whose) {
  int b;
  for (b = 0; b < SIMTUNE_NBUF; ++b) {
    long i;
    for (i = 0; i < SIMTUNE_GUARD; ++i) {
      uint32_t v;
      memcpy(&v, &bufs[b][simtune_elems[b] + i], sizeof v);
      if (v != simtune_canary(i)) {
        printf("simtune: verify failed buffer=%s written past its end by the %s: element %ld "
               "(guard zone of %d floats after its %ld elements)\n",
               simtune_names[b], whose, simtune_elems[b] + i, SIMTUNE_GUARD, simtune_elems[b]);
        return 3;
      }
    }
  }
  return 0;
}

static uint64_t simtune_seed(int b) { return 0x9e3779b97f4a7c15ULL * (uint64_t)(b + 1); }

/* Fills inputs and zeroes outputs at run time, guard zones too (the reference's buffers). */
static void simtune_prepare(float *const *bufs) {
  int b;
  for (b = 0; b < SIMTUNE_NBUF; ++b) {
    if (simtune_is_output[b])
      memset(bufs[b], 0, (size_t)simtune_elems[b] * sizeof(float));
    else
      simtune_fill(bufs[b], simtune_elems[b], simtune_seed(b));
    simtune_set_guard(bufs[b], simtune_elems[b]);
  }
}

/* Reads and writes back one byte of every 64-byte line (the line of every target here) of
   the buffer and its guard zone, in address order: the caches then hold its lines, dirty,
   as after a run-time fill. */
static void simtune_touch(float *buf, long n) {
  volatile unsigned char *p = (volatile unsigned char *)buf;
  long i, bytes = (n + SIMTUNE_GUARD) * (long)sizeof(float);
  for (i = 0; i < bytes; i += 64) p[i] = p[i];
}

/* Bytes of the memset call before the ROI: volatile, so that it stays a call. */
static volatile size_t simtune_memset_bytes = 64;

/* The kernel's buffers, once, before the ROI: inputs in simtune_data came filled (with their
   guard zones) in the ELF's initialized data, the others are filled here; outputs are zero
   already (static storage, never written before). One memset call on the first line of an
   output all the same: kernels call memset, and in a dynamically linked harness the first
   call of it resolves its PLT entry (hundreds of instructions), which must not happen in the
   ROI. */
static void simtune_prepare_kernel(void) {
  int b;
  for (b = 0; b < SIMTUNE_NBUF; ++b) {
    if (!simtune_data[b]) {
      if (simtune_is_output[b])
        memset(simtune_bufs[b], 0, simtune_memset_bytes);
      else
        simtune_fill(simtune_bufs[b], simtune_elems[b], simtune_seed(b));
      simtune_set_guard(simtune_bufs[b], simtune_elems[b]);
    }
    simtune_touch(simtune_bufs[b], simtune_elems[b]);
  }
}

/* The output's exact bit pattern, hashed 8 bytes at a time (multiply, then fold the high
   half down so that every input bit reaches every output bit). */
static uint64_t simtune_checksum(const float *buf, long n) {
  uint64_t h = 0xcbf29ce484222325ULL, w;
  long i;
  for (i = 0; i + 2 <= n; i += 2) {
    memcpy(&w, &buf[i], sizeof w);
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  }
  if (i < n) {
    uint32_t x;
    memcpy(&x, &buf[i], sizeof x);
    h = (h ^ x) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  }
  return h;
}

static void simtune_print_checksums(void) {
  int b;
  printf("simtune: checksum");
  for (b = 0; b < SIMTUNE_NBUF; ++b)
    if (simtune_is_output[b])
      printf(" %s=%016llx", simtune_names[b],
             (unsigned long long)simtune_checksum(simtune_bufs[b], simtune_elems[b]));
  printf("\n");
}

/* Runs the reference on fresh inputs and compares every output element. Index in the
   failure line counts elements over all output buffers in signature order. */
static int simtune_verify(void) {
  double max_abs = 0.0, max_rel = 0.0;
  long flat = 0;
  int b;
  simtune_prepare(simtune_ref_bufs);
  simtune_reference(simtune_ref_bufs);
  if (simtune_check_guards(simtune_ref_bufs, "reference")) return 3;
  for (b = 0; b < SIMTUNE_NBUF; ++b) {
    long i;
    if (!simtune_is_output[b]) continue;
    for (i = 0; i < simtune_elems[b]; ++i) {
      double got = simtune_bufs[b][i], want = simtune_ref_bufs[b][i];
      double err = fabs(got - want);
      if (!(err <= SIMTUNE_ABS_TOL + SIMTUNE_REL_TOL * fabs(want))) {
        printf("simtune: verify failed index=%ld got=%g want=%g\n", flat + i, got, want);
        return 3;
      }
      if (err > max_abs) max_abs = err;
      if (fabs(want) > SIMTUNE_ABS_TOL && err / fabs(want) > max_rel) max_rel = err / fabs(want);
    }
    flat += simtune_elems[b];
  }
  printf("simtune: verify ok max_abs_err=%g max_rel_err=%g\n", max_abs, max_rel);
  return 0;
}
)C";

constexpr const char* kHostedRoi = R"C(
SIMTUNE_ROI_ATTR void simtune_roi_begin(void) {
  simtune_roi_state = 1;
  __asm__ volatile("" ::: "memory");
}

SIMTUNE_ROI_ATTR void simtune_roi_end(void) {
  __asm__ volatile("" ::: "memory");
  simtune_roi_state = 2;
}

static void simtune_print_roi(void) {}
static void simtune_touch_tohost(void) {}

/* The Spike stop point on bare metal; nothing to do on hosted targets. */
static void simtune_sim_done(void) {}
static void simtune_print_program_insns(void) {}
)C";

constexpr const char* kRiscvBareRoi = R"C(
static volatile uint64_t simtune_roi_insn0, simtune_roi_cycle0, simtune_roi_insns, simtune_roi_cycles;

static inline uint64_t simtune_minstret(void) {
  uint64_t v;
  __asm__ volatile("csrr %0, minstret" : "=r"(v) : : "memory");
  return v;
}

static inline uint64_t simtune_mcycle(void) {
  uint64_t v;
  __asm__ volatile("csrr %0, mcycle" : "=r"(v) : : "memory");
  return v;
}

SIMTUNE_ROI_ATTR void simtune_roi_begin(void) {
  simtune_roi_state = 1;
  simtune_roi_cycle0 = simtune_mcycle();
  simtune_roi_insn0 = simtune_minstret();
}

SIMTUNE_ROI_ATTR void simtune_roi_end(void) {
  uint64_t insn = simtune_minstret();
  uint64_t cycle = simtune_mcycle();
  simtune_roi_insns = insn - simtune_roi_insn0;
  simtune_roi_cycles = cycle - simtune_roi_cycle0;
  simtune_roi_state = 2;
}

static void simtune_print_roi(void) {
  printf("simtune: roi minstret=%llu mcycle=%llu\n", (unsigned long long)simtune_roi_insns,
         (unsigned long long)simtune_roi_cycles);
}

/* A simulation stopped at a ROI marker (PatchElfStopAt) ends with a store to tohost. With
   tohost's line in the data cache before the ROI, that store does not allocate a line, so
   it does not evict a dirty one, more so at simtune_roi_begin than at simtune_roi_end,
   which would make a counter go down over the ROI (writebacks, then the level left out). */
static void simtune_touch_tohost(void) { (void)tohost; }

/* Called right after the checksum line: a simulation stops on entry (PatchElfStopAt), so
   that neither the reference nor the element-wise check runs under it. Its body only has to
   be large enough for the stop stub. */
static volatile uint64_t simtune_done_insns, simtune_done_cycles;

SIMTUNE_ROI_ATTR void simtune_sim_done(void) {
  simtune_roi_state = 3;
  simtune_done_cycles = simtune_mcycle();
  simtune_done_insns = simtune_minstret();
}

static void simtune_print_program_insns(void) {
  printf("simtune: program minstret=%llu\n", (unsigned long long)simtune_minstret());
}

/* Traps (a faulting kernel): report the cause and exit with SIMTUNE_TRAP_EXIT instead of
   looping at mtvec = 0 until the simulator's timeout. The entry sets up its own stack in
   case the fault was a stack overflow; a fault in the handler itself exits at once. */
static volatile int simtune_in_trap;
uint64_t simtune_trap_stack[512] __attribute__((aligned(16), used));

static const char *simtune_trap_name(uint64_t cause) {
  static const char *const names[16] = {
      "instruction address misaligned", "instruction access fault", "illegal instruction",
      "breakpoint", "load address misaligned", "load access fault",
      "store address misaligned", "store access fault", "environment call from u-mode",
      "environment call from s-mode", "reserved", "environment call from m-mode",
      "instruction page fault", "load page fault", "reserved", "store page fault"};
  if (cause >> 63) return "interrupt";
  return cause < 16 ? names[cause] : "reserved";
}

__attribute__((noreturn, used)) void simtune_trap(void) {
  uint64_t cause, epc, tval;
  __asm__ volatile("csrr %0, mcause" : "=r"(cause));
  __asm__ volatile("csrr %0, mepc" : "=r"(epc));
  __asm__ volatile("csrr %0, mtval" : "=r"(tval));
  if (!simtune_in_trap) {
    simtune_in_trap = 1;
    printf("simtune: trap %s mcause=%llu mepc=0x%llx mtval=0x%llx\n", simtune_trap_name(cause),
           (unsigned long long)cause, (unsigned long long)epc, (unsigned long long)tval);
  }
  _exit(SIMTUNE_TRAP_EXIT);
}

__asm__(".pushsection .text.simtune_trap_entry,\"ax\",@progbits\n"
        ".balign 4\n"
        ".globl simtune_trap_entry\n"
        "simtune_trap_entry:\n"
        "  la sp, simtune_trap_stack + 4096\n"
        "  tail simtune_trap\n"
        ".popsection\n");
extern char simtune_trap_entry[];
)C";

// Console on the 16550 UART at 0x10000000, exit through the Berkeley HTIF: Spike and rvsim
// both model that UART and both end the run on an HTIF exit command ((code << 1) | 1 written
// to `tohost`, a symbol they find in the ELF). rvsim 2.1 takes any tohost write as the end of
// the run, so the HTIF console (device 1) would end it at the first character; the UART works
// on both. picolibc's tinystdio gets its stdout here.
constexpr const char* kHtif = R"C(
volatile uint64_t tohost __attribute__((section(".preserve.htif"), aligned(64), used));
volatile uint64_t fromhost __attribute__((section(".preserve.htif"), aligned(64), used));

static void simtune_htif_send(uint64_t cmd) {
  while (tohost) fromhost = 0;
  tohost = cmd;
}

#define SIMTUNE_UART ((volatile uint8_t *)0x10000000UL)

static int simtune_uart_putc(char c, FILE *file) {
  (void)file;
  while (!(SIMTUNE_UART[5] & 0x20)) {} /* line status: transmit holding register empty */
  SIMTUNE_UART[0] = (uint8_t)c;
  return (unsigned char)c;
}

static FILE simtune_stdio = FDEV_SETUP_STREAM(simtune_uart_putc, NULL, NULL, _FDEV_SETUP_WRITE);
FILE *const stdin = &simtune_stdio;
FILE *const stdout = &simtune_stdio;
FILE *const stderr = &simtune_stdio;

__attribute__((noreturn)) void _exit(int code) {
  for (;;) simtune_htif_send(((uint64_t)(unsigned)code << 1) | 1);
}
)C";

constexpr const char* kSingleRun = R"C(
/* sim != 0: stop after the checksum line (simulation mode, the output's checksum is compared
   with the one recorded when the artifact was verified). */
static int simtune_single_run(int sim) {
  int rc;
  simtune_prepare_kernel();
  simtune_touch_tohost();
  simtune_roi_begin();
  simtune_kernel(simtune_bufs);
  simtune_roi_end();
  simtune_print_roi();
  rc = simtune_check_guards(simtune_bufs, "kernel");
  if (rc) return rc;
  simtune_print_checksums();
  simtune_print_program_insns();
  simtune_sim_done();
  if (sim) return 0;
  rc = simtune_verify();
  simtune_print_program_insns();
  return rc;
}
)C";

constexpr const char* kHostedMain = R"C(
static double simtune_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double simtune_time_calls(long inner) {
  double t0 = simtune_now_ns();
  long i;
  for (i = 0; i < inner; ++i) simtune_kernel(simtune_bufs);
  return simtune_now_ns() - t0;
}

static int simtune_usage(const char *argv0) {
  fprintf(stderr, "usage: %s [--run=all | --run=sim | --time <min_rep_ns> <reps>]\n", argv0);
  return 2;
}

/* --run=all: 0, --run=sim: 1, else -1. Both flags have the same length, so that the initial
   stack (argv strings) and with it every stack address are the same in either mode, and
   both are told apart without touching different data (cache state before the ROI). */
static int simtune_run_flag(const char *a) {
  if (strncmp(a, "--run=", 6) != 0 || strlen(a) != 9) return -1;
  if (a[6] == 's' && a[7] == 'i' && a[8] == 'm') return 1;
  if (a[6] == 'a' && a[7] == 'l' && a[8] == 'l') return 0;
  return -1;
}

int main(int argc, char **argv) {
  double min_rep_ns, *rep_ns;
  long reps, inner, r;
  char *end;
  int rc;
  if (argc == 1) return simtune_single_run(0);
  if (argc == 2) {
    int mode = simtune_run_flag(argv[1]);
    return mode < 0 ? simtune_usage(argv[0]) : simtune_single_run(mode);
  }
  if (argc != 4 || strcmp(argv[1], "--time") != 0) return simtune_usage(argv[0]);
  min_rep_ns = strtod(argv[2], &end);
  if (end == argv[2] || *end || !(min_rep_ns >= 0) || min_rep_ns > 1e12)
    return simtune_usage(argv[0]);
  reps = strtol(argv[3], &end, 10);
  if (end == argv[3] || *end || reps < 1 || reps > 1000000) return simtune_usage(argv[0]);
  rc = simtune_single_run(0);
  if (rc != 0) return rc;

  /* Calibrate: grow `inner` until one rep lasts min_rep_ns; this also warms caches. */
  inner = 1;
  for (;;) {
    double t = simtune_time_calls(inner), next;
    if (t >= min_rep_ns || inner >= (1L << 40)) break;
    next = t > 0 ? (double)inner * min_rep_ns / t * 1.2 + 1.0 : (double)inner * 10.0;
    if (next < 2.0 * (double)inner) next = 2.0 * (double)inner;
    if (next > 100.0 * (double)inner) next = 100.0 * (double)inner;
    inner = (long)next;
  }
  simtune_time_calls(inner);  /* warm-up rep at the final size */

  rep_ns = (double *)malloc((size_t)reps * sizeof(double));
  if (!rep_ns) {
    fprintf(stderr, "simtune: out of memory for %ld reps\n", reps);
    return 2;
  }
  for (r = 0; r < reps; ++r) rep_ns[r] = simtune_time_calls(inner) / (double)inner;
  printf("simtune: inner=%ld rep_ns=", inner);
  for (r = 0; r < reps; ++r) printf("%s%.3f", r ? "," : "", rep_ns[r]);
  printf("\n");
  free(rep_ns);
  return 0;
}
)C";

// Start-up of the bare-metal harness, which links with -nostartfiles (Harness::ldflags):
// what picolibc's hosted crt0 does (stack, global pointer, FPU on, .data copied from its load
// image, .bss cleared, TLS, constructors, exit(main())), with the copy and the clear done 8
// bytes at a time. picolibc's memcpy and memset, which crt0 calls, go byte by byte: 4-6
// instructions a byte, millions for a candidate with large static buffers (its own scratch
// arrays and the outputs are .bss, the inputs .data), in every simulated or cycle-modelled
// run. The memory image at main() is the same; only these loops differ.
constexpr const char* kBareStart = R"C(
extern char __data_start[], __data_source[], __data_size[], __bss_start[], __bss_size[];
extern char __tls_base[];
void _set_tls(void *tls);
void __libc_init_array(void);
int main(void);

/* Plain loops: the pattern recognizer would turn them back into memcpy/memset calls. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) static void simtune_copy(
    char *dst, const char *src, uintptr_t n) {
  uintptr_t i = 0;
  if ((((uintptr_t)dst | (uintptr_t)src) & 7) == 0)
    for (; i + 8 <= n; i += 8) *(uint64_t *)(dst + i) = *(const uint64_t *)(src + i);
  for (; i < n; ++i) dst[i] = src[i];
}

__attribute__((optimize("no-tree-loop-distribute-patterns"))) static void simtune_zero(
    char *dst, uintptr_t n) {
  uintptr_t i = 0;
  if (((uintptr_t)dst & 7) == 0)
    for (; i + 8 <= n; i += 8) *(uint64_t *)(dst + i) = 0;
  for (; i < n; ++i) dst[i] = 0;
}

__attribute__((noreturn, used)) void simtune_cstart(void) {
  simtune_copy(__data_start, __data_source, (uintptr_t)__data_size);
  simtune_zero(__bss_start, (uintptr_t)__bss_size);
  _set_tls(__tls_base);
  __libc_init_array();
  exit(main());
}

__asm__(".pushsection .text.init.enter,\"ax\",@progbits\n"
        ".globl _start\n"
        "_start:\n"
        ".option push\n"
        ".option norelax\n"
        "  la sp, __stack\n"
        "  la gp, __global_pointer$\n"
        ".option pop\n"
        "  csrr t0, mstatus\n"
        "  li t1, 0x2000\n"
        "  or t0, t0, t1\n"
        "  csrw mstatus, t0\n"
        "  csrw fcsr, 0\n"
        "  j simtune_cstart\n"
        ".popsection\n");
)C";

constexpr const char* kBareMain = R"C(
int main(void) {
  __asm__ volatile("csrw mtvec, %0" : : "r"(simtune_trap_entry));
  return simtune_single_run(0);
}
)C";

}  // namespace

std::vector<float> HarnessInputValues(int buffer, int64_t n) {
  // simtune_fill, with the seed of simtune_seed. k / 2^23 - 1 is exact in float.
  uint64_t s = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(buffer + 1);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto& v : out) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    v = static_cast<float>(static_cast<int32_t>((s >> 40) & 0xffffff)) * (1.0f / 8388608.0f) -
        1.0f;
  }
  return out;
}

Result<Harness> GenerateHarness(const KernelSource& source, const Target& target) {
  SIMTUNE_RETURN_IF_ERROR(Validate(source));
  bool bare = target.baremetal();
  if (bare && target.isa != "riscv64")
    return Error{"bare-metal harness supports riscv64 only; target " + target.name + " is " +
                 target.isa};

  // The build target's name, so that a reference target (build_target set) gets the very
  // same sources, hash and ELF as the target it builds as.
  std::string c = "/* simtune harness for target " + target.BuildName() +
                  " (generated; contract in include/simtune/build.h).\n";
  for (const auto& b : source.buffers)
    c += "   " + b.name + ": " + std::to_string(b.elements) + " floats, " +
         (b.output ? "output" : "input") + "\n";
  c += "*/\n";
  if (!bare) c += "#define _POSIX_C_SOURCE 199309L\n";
  c += "#include <math.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
       "#include <string.h>\n";
  if (!bare) c += "#include <time.h>\n";
  c += "\n#define SIMTUNE_NBUF " + std::to_string(source.buffers.size()) + "\n";
  c += "#define SIMTUNE_REL_TOL " + Fmt(source.rel_tol) + "\n";
  c += "#define SIMTUNE_ABS_TOL " + Fmt(source.abs_tol) + "\n";
  c += "#define SIMTUNE_GUARD " + std::to_string(kHarnessGuardFloats) + "\n";
  c += "#define SIMTUNE_TRAP_EXIT " + std::to_string(kHarnessTrapExitCode) + "\n\n";

  // Static storage everywhere: bare-metal picolibc has no usable heap for large buffers, and
  // fixed addresses keep runs reproducible. Inputs within kHarnessStaticInputBytes are
  // initialized data (Harness::data, pulled in by .incbin): the ELF loader provides them, no
  // simulated instruction. On bare metal, where crt0 zeroes .bss with a loop of its own (and
  // copies .data from the load image), the buffers that are always written before they are
  // read (inputs filled at run time, the reference's outputs) go to a .preserve section,
  // which picolibc's linker script neither loads nor clears.
  Harness h;
  int64_t static_bytes = 0;
  bool static_open = true;
  auto asm_buffer = [](const std::string& section, const std::string& name,
                       const std::string& body) {
    return "__asm__(\".pushsection " + section + "\\n\"\n        \".balign 64\\n\"\n        \"" +
           name + ":\\n\"\n        \"" + body + "\\n\"\n        \".popsection\\n\");\n";
  };
  // A buffer crt0 neither loads nor clears (bare metal): always written before it is read.
  auto preserved = [&](const std::string& name, const std::string& with_guard, int64_t bytes) {
    return asm_buffer(".preserve." + name + ",\\\"aw\\\",@nobits", name, ".skip " + std::to_string(bytes)) +
           "extern float " + name + "[" + with_guard + "];\n";
  };
  std::string bufs, ref_bufs, elems, is_output, in_data, names;
  for (size_t i = 0; i < source.buffers.size(); ++i) {
    const auto& b = source.buffers[i];
    std::string n = std::to_string(b.elements);
    std::string name = "simtune_b" + std::to_string(i);
    std::string with_guard = n + " + SIMTUNE_GUARD";
    int64_t bytes = (b.elements + kHarnessGuardFloats) * 4;
    int64_t padded = (bytes + 63) / 64 * 64;
    bool data = !b.output && static_open && static_bytes + padded <= kHarnessStaticInputBytes;
    if (!b.output && !data) static_open = false;
    if (data) {
      std::string offset = std::to_string(h.data.size());
      std::vector<float> values = HarnessInputValues(static_cast<int>(i), b.elements);
      for (float v : values) {
        uint32_t w;
        std::memcpy(&w, &v, sizeof w);
        AppendLittleEndian(h.data, w);
      }
      for (int g = 0; g < kHarnessGuardFloats; ++g) AppendLittleEndian(h.data, Canary(g));
      h.data.resize(h.data.size() + static_cast<size_t>(padded - bytes), '\0');
      static_bytes += padded;
      c += "/* " + b.name + ": initialized data, simtune_fill's values and the guard zone */\n";
      c += asm_buffer(".data." + name + ",\\\"aw\\\"", name,
                      ".incbin \\\"" + std::string(kHarnessDataFile) + "\\\", " + offset + ", " +
                          std::to_string(bytes));
      c += "extern float " + name + "[" + with_guard + "];\n";
    } else if (bare && !b.output) {
      c += "/* " + b.name + " */\n" + preserved(name, with_guard, bytes);
    } else {
      c += "static float " + name + "[" + with_guard + "] __attribute__((aligned(64)));  /* " +
           b.name + " */\n";
    }
    std::string ref_name = name;
    if (b.output) {
      ref_name = "simtune_r" + std::to_string(i);
      if (bare) {
        c += preserved(ref_name, with_guard, bytes);
      } else {
        c += "static float " + ref_name + "[" + with_guard + "] __attribute__((aligned(64)));\n";
      }
    }
    std::string sep = i ? ", " : "";
    bufs += sep + name;
    ref_bufs += sep + ref_name;
    elems += sep + n + "L";
    is_output += sep + (b.output ? "1" : "0");
    in_data += sep + (data ? "1" : "0");
    names += sep + "\"" + b.name + "\"";
  }
  c += "static float *const simtune_bufs[SIMTUNE_NBUF] = {" + bufs + "};\n";
  c += "static float *const simtune_ref_bufs[SIMTUNE_NBUF] = {" + ref_bufs + "};\n";
  c += "static const long simtune_elems[SIMTUNE_NBUF] = {" + elems + "};\n";
  c += "static const int simtune_is_output[SIMTUNE_NBUF] = {" + is_output + "};\n";
  c += "static const int simtune_data[SIMTUNE_NBUF] = {" + in_data + "};\n";
  c += "static const char *const simtune_names[SIMTUNE_NBUF] = {" + names + "};\n";
  // The three pieces in this order are the text of every harness generated so far (same
  // sources, same artifact hashes).
  c += kKernelDecls;
  c += kRoiCommon;
  c += kCommon;
  if (bare) {
    c += kHtif;
    c += kRiscvBareRoi;
  } else {
    c += kHostedRoi;
  }
  c += kSingleRun;
  c += bare ? kBareMain : kHostedMain;
  if (bare) {
    c += kBareStart;
    h.ldflags.push_back("-nostartfiles");
  }
  h.c = std::move(c);
  return h;
}

Result<Harness> GenerateBareMetalRuntime(const Target& target) {
  if (!target.baremetal() || target.isa != "riscv64")
    return Error{"target " + target.name + " is " + target.isa + " " + target.os +
                 "; the bare-metal harness runtime is for riscv64 bare metal only"};
  Harness h;
  h.c = "/* simtune's bare-metal runtime for target " + target.BuildName() +
        " (generated by `simtune harness-runtime`): console, exit, ROI markers, traps, "
        "start-up. */\n"
        "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
        "\n#define SIMTUNE_TRAP_EXIT " + std::to_string(kHarnessTrapExitCode) + "\n";
  h.c += kRoiCommon;
  h.c += kHtif;
  h.c += kRiscvBareRoi;
  h.c += kBareStart;
  h.ldflags.push_back("-nostartfiles");
  return h;
}

}  // namespace simtune
