/*
 * simtune statistics plugin for QEMU (plugin API version 1, QEMU 7.2): user
 * mode (qemu-riscv64, qemu-aarch64, qemu-x86_64) and system mode
 * (qemu-system-riscv64 running a bare-metal ELF in machine mode).
 *
 * Counts, for the region of interest (ROI) of a simtune harness only:
 * instructions, instruction classes, memory accesses by size, a set-associative
 * cache hierarchy, a branch direction predictor and a histogram of data reuse
 * distances. At exit it writes one JSON record in the layout of
 * simtune::SimStats::ToJson (include/simtune/simulator.h) to out=PATH, or to
 * QEMU's log (-d plugin) when out is not given.
 *
 * ROI: counting starts at the first instruction of simtune_roi_begin
 * (inclusive) and stops at the first instruction of simtune_roi_end
 * (exclusive). Their addresses come from the ELF symbol table of the guest
 * binary, shifted by the load bias (PIE binaries are loaded at an offset).
 * roi=off counts the whole program instead. In system mode QEMU does not know
 * the guest binary: elf=PATH names it (the -kernel file), and its symbols are
 * taken as they are (a bare-metal ELF runs where it is linked, with no address
 * translation in machine mode, so virtual and physical addresses agree).
 *
 * Speed: per-TB counts (instructions, static classes) are precomputed at
 * translation time; each TB execution bumps one inline counter. The ROI
 * toggles snapshot those counters (mark at begin, add the difference at end),
 * so the inline ops need no ROI test. Callbacks run only where the data needs
 * run-time values: one per TB for branch outcomes and instruction fetches,
 * one per memory access for the data caches and reuse distances. The usual
 * cases take short paths that change no result: a TB whose fetches hit l1i's
 * most recent ways while l1i is unchanged counts them at once (fetch_runs);
 * a data access to the last data line only counts a repeat, one in the most
 * recent l1d way skips the cache model (vcpu_mem); reuse distances within the
 * newest stamps need no tree (the window, see Reuse).
 *
 * Options (key=value, parsed strictly; an error names the key and the value;
 * a damaged guest ELF stops the run with a message naming what is wrong):
 *   out=PATH                 where the JSON record goes
 *   elf=PATH                 the guest ELF whose symbols give the ROI
 *                            (default in user mode: the binary QEMU runs;
 *                            needed in system mode unless roi=off)
 *   roi=on|off               count the ROI only (default) or everything
 *   classes|mem|cache|bpred|reuse=on|off   statistic groups (default on)
 *   l1i|l1d|l2|l3=on|off     cache levels (default: l1i, l1d, l2 on; l3 off)
 *   <level>_size=BYTES <level>_ways=N <level>_line=BYTES
 *                            size <= 1 GiB, ways <= 1024, line a power of two
 *                            <= 4096, size a multiple of ways*line, at most
 *                            2^24 lines per level
 *   <level>_policy=lru|fifo|random
 *   bpred_kind=bimodal|gshare|tournament|tage bpred_entries=N
 *   bpred_history=BITS
 *   bpred_local_entries=N bpred_local_counters=N   (tournament)
 *   bpred_tagged_entries=N bpred_tables=N bpred_max_history=BITS   (tage:
 *                            entries a table, 1-12 tables, history 8-1024)
 *                            entries a power of two <= 2^24, history <= 32
 *                            (see Bpred for the kinds)
 *   reuse_line=BYTES         granularity of reuse distances (default 64;
 *                            a power of two <= 4096)
 *   warmup=on|off            let caches and reuse distances see the program
 *                            before the ROI (default on), as the caches of a
 *                            real run would be warm; only the ROI is counted
 *   mem_all=on|off           instrument every instruction for memory
 *                            accesses, not only those decoded as accessing
 *                            memory (diagnostic)
 *   tbs=on|off               record the ROI's translation blocks (default
 *                            off): extra.tbs = {"load_bias": B,
 *                            "marker_insns": M, "blocks": [[addr, insns,
 *                            execs], ...]}, addr the block's start in the
 *                            ELF's addresses (run-time address minus B),
 *                            sorted by addr, one row per (addr, insns);
 *                            sum(insns x execs) + M = insn_count (M: the
 *                            ROI's instructions in the two marker blocks,
 *                            counted one by one). No run-time cost: the
 *                            per-block ROI counts exist anyway; only the
 *                            exit record grows (see tb_profile below).
 *   raw=on|off               count the ROI's loads that read bytes one of
 *                            the last stores wrote (default off; see
 *                            StoreLoad): extra.store_load = {"within_4":
 *                            A, "within_16": B, "within_64": C}, loads
 *                            with fewer than 4 / 16 / 64 stores since the
 *                            store of a byte they read. Turns vcpu_mem's
 *                            short path off (slower runs).
 *   warm_file=NAME           at the (first) ROI's start, pass every line of
 *                            the data objects local to source file NAME
 *                            (its STT_FILE symbol in the ELF, e.g.
 *                            kernel.c: the kernel's own static buffers)
 *                            through the data caches and reuse distances,
 *                            uncounted, as the calls before the one
 *                            simulated would have left them for a
 *                            reference that times repeated calls; needs
 *                            roi=on. extra.warm_objects = {"file": NAME,
 *                            "objects": N, "bytes": B}.
 *
 * Model details:
 *   - Cache counts are per line lookup: an access that straddles two lines
 *     looks up both. Caches are write-allocate, non-inclusive, and a miss
 *     goes to the next level with the same type (read/write); instruction
 *     fetches are reads of l1i. Write-backs are not modelled (as cachegrind).
 *   - The branch predictor predicts the direction of conditional branches
 *     only; a branch is taken when the next executed instruction is not its
 *     fall-through. It sees the ROI only; counters start weakly not-taken.
 *   - Reuse distance of a data access: its position in an LRU stack of cache
 *     lines (1 + the number of distinct other lines touched since the last
 *     access to the same line), so an access hits a fully associative LRU
 *     cache of C lines iff its distance is at most C. Bucket i counts
 *     distances in [2^i, 2^(i+1)); the last bucket counts first touches.
 *   - Statistics cover vCPU 0 (the main guest thread); extra.vcpus says how
 *     many threads were seen.
 */
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <glib.h>
#include <qemu-plugin.h>

#if QEMU_PLUGIN_VERSION != 1
#error "simtune plugin: written for QEMU plugin API version 1 (QEMU 7.2); \
inline ops and qemu_plugin_insn_data changed in later versions"
#endif

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define PFX "simtune plugin: "

/* Same order as simtune::kInsnClasses. */
enum {
    CLS_INT_ALU,
    CLS_INT_MULDIV,
    CLS_FP_SCALAR,
    CLS_SIMD,
    CLS_LOAD,
    CLS_STORE,
    CLS_BRANCH_TAKEN,
    CLS_BRANCH_NOT_TAKEN,
    CLS_JUMP,
    CLS_ATOMIC,
    CLS_OTHER,
    N_CLASSES,
    /* Decoder result only: resolved to taken/not-taken at run time. */
    CLS_COND_BRANCH = N_CLASSES,
};

static const char *const class_names[N_CLASSES] = {
    "int_alu", "int_muldiv", "fp_scalar", "simd", "load", "store",
    "branch_taken", "branch_not_taken", "jump", "atomic", "other",
};

enum { ISA_RISCV64, ISA_AARCH64, ISA_X86_64 };

/* ------------------------------------------------------------------------ */
/* Instruction classes                                                      */

/*
 * x86_64 vector instructions by the widest register they name (packed ones:
 * a scalar ss/sd operation on an xmm register is not counted), and those that
 * move data across lanes (shuffles, permutes, unpacks, inserts and extracts,
 * packs, register broadcasts, horizontal adds): a real core runs these on few
 * ports, so two kernels of the same class mix can differ by them alone.
 */
enum { VEC_XMM, VEC_YMM, VEC_ZMM, VEC_SHUFFLE, N_VEC };
static const char *const vec_names[N_VEC] = { "xmm", "ymm", "zmm", "shuffle" };
enum { VEC_BIT_SHUFFLE = 1 << VEC_SHUFFLE };

typedef struct {
    int cls;
    bool mem;     /* may access data memory */
    uint8_t vec;  /* x86_64: 1 << VEC_XMM/YMM/ZMM for a packed vector op, | VEC_BIT_SHUFFLE */
} Decoded;

static Decoded decoded(int cls, bool mem)
{
    Decoded d = { cls, mem, 0 };
    return d;
}

static Decoded decode_riscv64(const uint8_t *bytes, size_t size)
{
    uint32_t insn = bytes[0] | (bytes[1] << 8);

    if (size == 2 || (insn & 3) != 3) {
        uint32_t funct3 = (insn >> 13) & 7;
        switch (insn & 3) {
        case 0:
            switch (funct3) {
            case 0:
                return decoded(CLS_INT_ALU, false);     /* c.addi4spn */
            case 1: case 2: case 3:
                return decoded(CLS_LOAD, true);         /* c.fld c.lw c.ld */
            case 5: case 6: case 7:
                return decoded(CLS_STORE, true);        /* c.fsd c.sw c.sd */
            default:
                return decoded(CLS_OTHER, false);
            }
        case 1:
            switch (funct3) {
            case 5:
                return decoded(CLS_JUMP, false);        /* c.j */
            case 6: case 7:
                return decoded(CLS_COND_BRANCH, false); /* c.beqz c.bnez */
            default:
                return decoded(CLS_INT_ALU, false);
            }
        default: {
            uint32_t rs1 = (insn >> 7) & 31, rs2 = (insn >> 2) & 31;
            switch (funct3) {
            case 0:
                return decoded(CLS_INT_ALU, false);     /* c.slli */
            case 1: case 2: case 3:
                return decoded(CLS_LOAD, true);         /* c.fldsp c.lwsp c.ldsp */
            case 4:
                if (rs2 != 0) {
                    return decoded(CLS_INT_ALU, false); /* c.mv c.add */
                }
                if (((insn >> 12) & 1) && rs1 == 0) {
                    return decoded(CLS_OTHER, false);   /* c.ebreak */
                }
                return decoded(CLS_JUMP, false);        /* c.jr c.jalr */
            default:
                return decoded(CLS_STORE, true);        /* c.fsdsp c.swsp c.sdsp */
            }
        }
        }
    }

    insn |= (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
    switch (insn & 0x7f) {
    case 0x03: case 0x07:
        return decoded(CLS_LOAD, true);       /* LOAD, LOAD-FP (incl. vector) */
    case 0x23: case 0x27:
        return decoded(CLS_STORE, true);      /* STORE, STORE-FP */
    case 0x13: case 0x1b: case 0x37: case 0x17:
        return decoded(CLS_INT_ALU, false);   /* OP-IMM(-32), LUI, AUIPC */
    case 0x33: case 0x3b:
        return decoded((insn >> 25) == 1 ? CLS_INT_MULDIV : CLS_INT_ALU, false);
    case 0x63:
        return decoded(CLS_COND_BRANCH, false);
    case 0x6f: case 0x67:
        return decoded(CLS_JUMP, false);      /* JAL, JALR */
    case 0x2f:
        return decoded(CLS_ATOMIC, true);     /* AMO, LR/SC */
    case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
        return decoded(CLS_FP_SCALAR, false); /* FMADD..FNMADD, OP-FP */
    case 0x57:
        return decoded(CLS_SIMD, false);      /* OP-V */
    default:
        return decoded(CLS_OTHER, false);     /* FENCE, SYSTEM, custom */
    }
}

static Decoded decode_aarch64(const uint8_t *bytes)
{
    uint32_t insn = bytes[0] | (bytes[1] << 8) | ((uint32_t)bytes[2] << 16) |
                    ((uint32_t)bytes[3] << 24);
    uint32_t op0 = (insn >> 25) & 0xf;

    if ((op0 & 0xe) == 0x8) {                 /* 100x: data processing, imm */
        return decoded(CLS_INT_ALU, false);
    }
    if ((op0 & 0xe) == 0xa) {                 /* 101x: branches, system */
        if ((insn & 0xff000010) == 0x54000000 ||  /* b.cond */
            (insn & 0x7e000000) == 0x34000000 ||  /* cbz cbnz */
            (insn & 0x7e000000) == 0x36000000) {  /* tbz tbnz */
            return decoded(CLS_COND_BRANCH, false);
        }
        if ((insn & 0x7c000000) == 0x14000000 ||  /* b bl */
            (insn & 0xfe000000) == 0xd6000000) {  /* br blr ret */
            return decoded(CLS_JUMP, false);
        }
        return decoded(CLS_OTHER, false);
    }
    if ((op0 & 0x5) == 0x4) {                 /* x1x0: loads and stores */
        uint32_t group = (insn >> 27) & 7;    /* bits 29:27 */
        bool v = (insn >> 26) & 1;
        if ((insn & 0x3f000000) == 0x08000000) {
            return decoded(CLS_ATOMIC, true); /* exclusive, acquire/release */
        }
        switch (group) {
        case 3:                               /* literal */
            return decoded(CLS_LOAD, true);
        case 5:                               /* pairs */
            return decoded((insn >> 22) & 1 ? CLS_LOAD : CLS_STORE, true);
        case 7: {                             /* single register */
            uint32_t opc = (insn >> 22) & 3, size = insn >> 30;
            if ((insn & 0x3b200c00) == 0x38200000) {
                return decoded(CLS_ATOMIC, true); /* LSE atomics */
            }
            if (!v) {
                if (opc == 0) {
                    return decoded(CLS_STORE, true);
                }
                if (size == 3 && opc == 2) {
                    return decoded(CLS_OTHER, false); /* prfm */
                }
                return decoded(CLS_LOAD, true);
            }
            return decoded(opc & 1 ? CLS_LOAD : CLS_STORE, true);
        }
        case 1:                               /* SIMD structures */
            return decoded((insn >> 22) & 1 ? CLS_LOAD : CLS_STORE, true);
        default:
            return decoded(CLS_OTHER, true);
        }
    }
    if ((op0 & 0x7) == 0x5) {                 /* x101: data processing, reg */
        if ((insn & 0x1f000000) == 0x1b000000) {
            return decoded(CLS_INT_MULDIV, false);   /* madd msub smulh ... */
        }
        if ((insn & 0x5fe00000) == 0x1ac00000 &&
            ((insn >> 10) & 0x3e) == 0x02) {
            return decoded(CLS_INT_MULDIV, false);   /* udiv sdiv */
        }
        return decoded(CLS_INT_ALU, false);
    }
    if ((op0 & 0x7) == 0x7) {                 /* x111: SIMD and FP */
        if ((insn & 0x5e000000) == 0x1e000000) {
            return decoded(CLS_FP_SCALAR, false);
        }
        return decoded(CLS_SIMD, false);
    }
    if (op0 == 0x2) {                         /* SVE: may load or store */
        return decoded(CLS_SIMD, true);
    }
    return decoded(CLS_OTHER, false);
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * AT&T operand syntax: a memory operand has a base/index in parentheses, a
 * segment override (%fs:0x28) or is a bare address (0x601040); registers
 * start with '%', immediates with '$'.
 */
static bool x86_operand_is_memory(const char *op, size_t n)
{
    while (n && *op == ' ') {
        op++;
        n--;
    }
    if (n && *op == '*') {
        op++;
        n--;
    }
    if (!n) {
        return false;
    }
    if (memchr(op, '(', n) || memchr(op, ':', n)) {
        return true;
    }
    return *op != '%' && *op != '$';
}

/*
 * x86_64's registers in the models: the 16 general registers 1..16 (rax rcx
 * rdx rbx rsp rbp rsi rdi r8..r15, any width), the flags 17, the mask
 * registers k0..k7 18..25, xmm/ymm/zmm0..31 32..63. Partial writes count as
 * whole ones; segment registers, rip and x87/MMX registers are none.
 */
#define X86_FLAGS 17
#define X86_RAX 1
#define X86_RDX 3
#define X86_RSP 5

/* The model register of a register name (after its '%'), n characters; 0: none. */
static uint8_t x86_reg_id(const char *p, size_t n)
{
    static const char *const gpr[8][5] = {
        { "rax", "eax", "ax", "al", "ah" }, { "rcx", "ecx", "cx", "cl", "ch" },
        { "rdx", "edx", "dx", "dl", "dh" }, { "rbx", "ebx", "bx", "bl", "bh" },
        { "rsp", "esp", "sp", "spl", NULL }, { "rbp", "ebp", "bp", "bpl", NULL },
        { "rsi", "esi", "si", "sil", NULL }, { "rdi", "edi", "di", "dil", NULL },
    };
    char name[8];
    if (n == 0 || n >= sizeof(name)) {
        return 0;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    for (int r = 0; r < 8; r++) {
        for (int w = 0; w < 5 && gpr[r][w]; w++) {
            if (strcmp(name, gpr[r][w]) == 0) {
                return (uint8_t)(1 + r);
            }
        }
    }
    if (name[0] == 'r' && isdigit((unsigned char)name[1])) {   /* r8..r15, r8d r8w r8b */
        int r = atoi(name + 1);
        return r >= 8 && r <= 15 ? (uint8_t)(1 + r) : 0;
    }
    if ((has_prefix(name, "xmm") || has_prefix(name, "ymm") || has_prefix(name, "zmm")) &&
        isdigit((unsigned char)name[3])) {
        int r = atoi(name + 3);
        return r < 32 ? (uint8_t)(32 + r) : 0;
    }
    if (name[0] == 'k' && name[1] >= '0' && name[1] <= '7' && !name[2]) {
        return (uint8_t)(18 + name[1] - '0');
    }
    return 0;
}

enum { X86_OP_REG, X86_OP_IMM, X86_OP_MEM };
typedef struct {
    int type;
    uint8_t reg;          /* X86_OP_REG */
    uint8_t addr[2];      /* X86_OP_MEM: base and index */
    bool vec;             /* a vector or mask register */
} X86Operand;

/* One AT&T operand, n characters. */
static X86Operand x86_operand(const char *op, size_t n)
{
    X86Operand o = { X86_OP_IMM, 0, { 0, 0 }, false };
    while (n && (*op == ' ' || *op == '*')) {
        op++;
        n--;
    }
    while (n && op[n - 1] == ' ') {
        n--;
    }
    if (!n || *op == '$') {
        return o;
    }
    if (x86_operand_is_memory(op, n)) {
        o.type = X86_OP_MEM;
        int k = 0;
        const char *paren = memchr(op, '(', n);
        for (const char *q = paren; q && q < op + n && k < 2; q++) {
            if (*q == '%') {
                size_t m = strspn(q + 1, "abcdefghijklmnopqrstuvwxyz0123456789");
                o.addr[k++] = x86_reg_id(q + 1, m);
                q += m;
            }
        }
        return o;
    }
    o.type = X86_OP_REG;
    o.reg = x86_reg_id(op + 1, n - 1);
    o.vec = o.reg >= 18;
    return o;
}

/* The operands of an AT&T operand list (up to max); returns how many. */
static int x86_operands(const char *ops, X86Operand *out, int max)
{
    const char *start = ops;
    int depth = 0, n = 0;
    while (*start == ' ') {
        start++;
    }
    if (!*start) {
        return 0;
    }
    for (const char *q = start;; q++) {
        if (*q == '(') {
            depth++;
        } else if (*q == ')') {
            depth--;
        } else if ((*q == ',' && depth == 0) || *q == '\0') {
            /* AVX-512 masking ({%k1}{z}) follows the destination: not an operand. */
            const char *brace = memchr(start, '{', q - start);
            size_t len = (brace ? brace : q) - start;
            if (n < max) {
                out[n++] = x86_operand(start, len);
            }
            if (!*q) {
                return n;
            }
            start = q + 1;
        }
    }
}

/* Whether any operand, and the last (destination) operand, is in memory. */
static void x86_memory_operands(const char *ops, bool *any, bool *last)
{
    X86Operand op[8];
    int n = x86_operands(ops, op, 8);

    *any = *last = false;
    for (int i = 0; i < n; i++) {
        *any |= op[i].type == X86_OP_MEM;
    }
    *last = n && op[n - 1].type == X86_OP_MEM;
}

static bool contains(const char *s, const char *part)
{
    return strstr(s, part) != NULL;
}

/*
 * The mnemonic of an AT&T disassembly after any prefixes, into mn; returns the
 * operands; *lock: a lock prefix; *rep: a rep prefix (rep, repe, repne, ...).
 */
static const char *x86_mnemonic(const char *dis, char mn[32], bool *lock, bool *rep)
{
    static const char *const prefixes[] = {
        "lock", "rep", "repe", "repz", "repne", "repnz", "notrack", "bnd",
        "data16", "addr32", "xacquire", "xrelease", NULL,
    };
    const char *p = dis;
    size_t n;

    *lock = *rep = false;
    for (;;) {
        while (*p == ' ') {
            p++;
        }
        n = strcspn(p, " ");
        if (n >= 32) {
            n = 31;
        }
        memcpy(mn, p, n);
        mn[n] = '\0';
        p += n;
        bool is_prefix = false;
        for (int i = 0; prefixes[i]; i++) {
            is_prefix |= strcmp(mn, prefixes[i]) == 0;
        }
        if (!is_prefix || !*p) {
            return p;
        }
        *lock |= strcmp(mn, "lock") == 0;
        *rep |= has_prefix(mn, "rep");
    }
}

/* Decoded.vec of an x86_64 instruction (see VEC_*); mem: an operand in memory. */
static uint8_t x86_vector_bits(const char *mn, const char *ops, bool mem)
{
    int width = contains(ops, "%zmm") ? VEC_ZMM : contains(ops, "%ymm") ? VEC_YMM :
                contains(ops, "%xmm") ? VEC_XMM : -1;
    if (width < 0) {
        return 0;
    }
    const char *base = mn[0] == 'v' ? mn + 1 : mn;
    bool broadcast = contains(base, "broadcast");
    if ((has_suffix(base, "ss") || has_suffix(base, "sd")) && !broadcast) {
        return 0;                 /* scalar single/double on an xmm register */
    }
    bool shuffle = contains(base, "shuf") || contains(base, "unpck") ||
                   contains(base, "perm") || contains(base, "alignr") ||
                   has_prefix(base, "insert") || has_prefix(base, "extract") ||
                   has_prefix(base, "pinsr") || has_prefix(base, "pextr") ||
                   has_prefix(base, "movhlps") || has_prefix(base, "movlhps") ||
                   has_prefix(base, "movsldup") || has_prefix(base, "movshdup") ||
                   has_prefix(base, "movddup") || has_prefix(base, "pack") ||
                   has_prefix(base, "hadd") || has_prefix(base, "hsub") ||
                   has_prefix(base, "phadd") || has_prefix(base, "phsub") ||
                   (broadcast && !mem);
    return (uint8_t)((1u << width) | (shuffle ? VEC_BIT_SHUFFLE : 0));
}

/*
 * x86_64's class from the AT&T disassembly (capstone in Debian's QEMU): the
 * mnemonic and whether an operand is in memory. Loads and stores are
 * data-movement instructions (mov family, push/pop, string ops); arithmetic
 * with a memory operand stays in its arithmetic class (its accesses still show
 * in loads and stores). mem: an operand is in memory; mem_last: the last one.
 */
static Decoded x86_class(const char *mn, const char *ops, bool lock, bool mem,
                         bool mem_last)
{
    bool vec = strstr(ops, "%xmm") || strstr(ops, "%ymm") || strstr(ops, "%zmm") ||
          strstr(ops, "%mm") || strstr(ops, "%k");

    if (lock || has_prefix(mn, "cmpxchg") || (has_prefix(mn, "xchg") && mem)) {
        return decoded(CLS_ATOMIC, true);
    }
    if (has_prefix(mn, "jmp") || has_prefix(mn, "ljmp") ||
        has_prefix(mn, "call") || has_prefix(mn, "lcall") ||
        has_prefix(mn, "ret") || has_prefix(mn, "lret") ||
        has_prefix(mn, "iret")) {
        return decoded(CLS_JUMP, true);
    }
    if (mn[0] == 'j' || has_prefix(mn, "loop")) {
        return decoded(CLS_COND_BRANCH, false);
    }
    if (has_prefix(mn, "popcnt")) {
        return decoded(CLS_INT_ALU, mem);
    }
    if (has_prefix(mn, "push") || has_prefix(mn, "enter")) {
        return decoded(CLS_STORE, true);
    }
    if (has_prefix(mn, "pop") || has_prefix(mn, "leave")) {
        return decoded(CLS_LOAD, true);
    }
    if (has_prefix(mn, "nop") || has_prefix(mn, "endbr") ||
        has_prefix(mn, "prefetch") || strcmp(mn, "pause") == 0) {
        return decoded(CLS_OTHER, false);
    }
    if (has_prefix(mn, "stos")) {
        return decoded(CLS_STORE, true);
    }
    if (has_prefix(mn, "lods") || has_prefix(mn, "scas") ||
        has_prefix(mn, "cmps")) {
        return decoded(CLS_LOAD, true);
    }
    if (!vec && strlen(mn) == 5 && has_prefix(mn, "movs") &&
        strchr("bwlq", mn[4])) {
        return decoded(CLS_OTHER, true);      /* string move: load + store */
    }
    if (has_prefix(mn, "mov") || has_prefix(mn, "vmov") ||
        has_prefix(mn, "lddqu") || has_prefix(mn, "vlddqu") ||
        has_prefix(mn, "vbroadcast") || has_prefix(mn, "vpbroadcast") ||
        has_prefix(mn, "vmaskmov") || has_prefix(mn, "vpmaskmov") ||
        has_prefix(mn, "kmov")) {
        if (mem) {
            /* AT&T: the destination is the last operand. */
            bool store = mem_last && strchr(ops, ',') != NULL;
            return decoded(store ? CLS_STORE : CLS_LOAD, true);
        }
        if (vec) {
            return decoded(has_suffix(mn, "ss") || has_suffix(mn, "sd") ?
                           CLS_FP_SCALAR : CLS_SIMD, false);
        }
        return decoded(CLS_INT_ALU, false);
    }
    if (has_prefix(mn, "vgather") || has_prefix(mn, "vpgather")) {
        return decoded(CLS_LOAD, true);
    }
    if (has_prefix(mn, "vscatter") || has_prefix(mn, "vpscatter")) {
        return decoded(CLS_STORE, true);
    }
    if (mn[0] == 'f') {
        return decoded(CLS_FP_SCALAR, mem);   /* x87 */
    }
    if (vec) {
        const char *base = mn[0] == 'v' ? mn + 1 : mn;
        if (base[0] == 'p') {
            return decoded(CLS_SIMD, mem);
        }
        if (has_prefix(base, "cvt")) {
            bool packed = strstr(base, "ps") || strstr(base, "pd") ||
                          strstr(base, "dq");
            return decoded(packed ? CLS_SIMD : CLS_FP_SCALAR, mem);
        }
        if (has_suffix(base, "ss") || has_suffix(base, "sd")) {
            return decoded(CLS_FP_SCALAR, mem);
        }
        return decoded(CLS_SIMD, mem);
    }
    if (has_prefix(mn, "mul") || has_prefix(mn, "imul") ||
        has_prefix(mn, "div") || has_prefix(mn, "idiv")) {
        return decoded(CLS_INT_MULDIV, mem);
    }
    if (strcmp(mn, "syscall") == 0 || strcmp(mn, "cpuid") == 0 ||
        has_prefix(mn, "rdtsc") || strcmp(mn, "hlt") == 0 ||
        strcmp(mn, "ud2") == 0 || has_prefix(mn, "int") ||
        has_suffix(mn, "fence") || strcmp(mn, "xgetbv") == 0 ||
        has_prefix(mn, "rdrand") || has_prefix(mn, "xsave") ||
        has_prefix(mn, "xrstor") || has_prefix(mn, "fxsave") ||
        has_prefix(mn, "fxrstor")) {
        return decoded(CLS_OTHER, true);
    }
    return decoded(CLS_INT_ALU, mem);
}

/* An x86_64 instruction: its class and vector bits. */
static Decoded decode_x86_64(const char *dis)
{
    char mn[32];
    bool lock, rep;
    bool mem, mem_last;
    const char *ops = x86_mnemonic(dis, mn, &lock, &rep);
    x86_memory_operands(ops, &mem, &mem_last);
    Decoded d = x86_class(mn, ops, lock, mem, mem_last);
    d.vec = x86_vector_bits(mn, ops, mem);
    return d;
}

/* ------------------------------------------------------------------------ */
/* Caches                                                                   */

enum { POLICY_LRU, POLICY_FIFO, POLICY_RANDOM };
static const char *const policy_names[] = { "lru", "fifo", "random", NULL };

typedef struct Cache {
    const char *name;
    bool enabled;
    uint64_t size, ways, line;
    int policy;
    int line_shift;
    uint64_t n_sets;
    uint64_t set_mask;        /* n_sets - 1 when a power of two */
    bool sets_pow2;
    uint64_t *tags;           /* per set: ways entries, line number + 1, 0 = empty */
    uint64_t rng;
    uint64_t hits[2], misses[2];    /* [0] reads, [1] writes */
    struct Cache *next;
} Cache;

enum { L1I, L1D, L2, L3, N_LEVELS };
static Cache caches[N_LEVELS] = {
    { .name = "l1i", .enabled = true, .size = 32768, .ways = 8, .line = 64 },
    { .name = "l1d", .enabled = true, .size = 32768, .ways = 8, .line = 64 },
    { .name = "l2", .enabled = true, .size = 1048576, .ways = 16, .line = 64 },
    { .name = "l3", .enabled = false, .size = 8388608, .ways = 16, .line = 64 },
};

/* First modelled level for fetches and for data; NULL when none. */
static Cache *insn_entry, *data_entry;
static int insn_shift, data_shift;
/* The level that served the latest access; NULL: memory (read for dep=on). */
static const Cache *cache_served;

/* log2(v) when v is a power of two, else -1 (no shift by 64 for v > 2^63). */
static int log2_exact(uint64_t v)
{
    if (v == 0 || (v & (v - 1)) != 0) {
        return -1;
    }
    return __builtin_ctzll(v);
}

/*
 * Way shifts are short loops; GCC would turn them into memmove calls, which
 * cost more than the loop for a handful of ways.
 */
#define NO_MEMMOVE __attribute__((optimize("no-tree-loop-distribute-patterns")))

/* The ways of the set that holds line number `line`. */
static inline uint64_t *cache_set(const Cache *c, uint64_t line)
{
    uint64_t set = c->sets_pow2 ? (line & c->set_mask) : line % c->n_sets;
    return c->tags + set * c->ways;
}

static NO_MEMMOVE bool cache_lookup(Cache *c, uint64_t addr)
{
    uint64_t tag = (addr >> c->line_shift) + 1;
    uint64_t *w = cache_set(c, tag - 1);
    uint64_t i, n = c->ways;

    for (i = 0; i < n; i++) {
        if (w[i] == tag) {
            if (c->policy == POLICY_LRU && i > 0) {
                for (; i > 0; i--) {
                    w[i] = w[i - 1];
                }
                w[0] = tag;
            }
            return true;
        }
    }
    if (c->policy == POLICY_RANDOM) {
        for (i = 0; i < n && w[i] != 0; i++) {
        }
        if (i == n) {
            c->rng ^= c->rng << 13;
            c->rng ^= c->rng >> 7;
            c->rng ^= c->rng << 17;
            i = c->rng % n;
        }
        w[i] = tag;
    } else {
        /* LRU and FIFO keep ways in order of recency / insertion. */
        for (i = n - 1; i > 0; i--) {
            w[i] = w[i - 1];
        }
        w[0] = tag;
    }
    return false;
}

static void cache_access(Cache *c, uint64_t addr, bool write)
{
    for (; c; c = c->next) {
        if (cache_lookup(c, addr)) {
            c->hits[write]++;
            cache_served = c;
            return;
        }
        c->misses[write]++;
    }
    cache_served = NULL;
}

/*
 * Whether line number `line` is the most recent way of its set: a hit that
 * changes no state under any policy.
 */
static inline bool cache_mru_hit(const Cache *c, uint64_t line)
{
    return __builtin_expect(cache_set(c, line)[0] == line + 1, 1);
}

/* cache_access(c, line << c->line_shift, write), with the common case first. */
static inline void cache_access_line(Cache *c, uint64_t line, bool write)
{
    if (cache_mru_hit(c, line)) {
        c->hits[write]++;
        cache_served = c;
        return;
    }
    cache_access(c, line << c->line_shift, write);
}

/* ------------------------------------------------------------------------ */
/* Reuse distances                                                          */

#define REUSE_BUCKETS 32            /* finite buckets; one more for cold */
#define REUSE_MIN_CAP (1u << 14)
#define REUSE_TOP 8
#define REUSE_WINDOW 4              /* bitmap words counted without the tree */

/*
 * The top of the LRU stack (the REUSE_TOP most recent lines) is kept as a
 * small array, so the frequent short reuses need neither the hash map nor the
 * tree. Older lines carry a time stamp; a line gets its stamp when it drops
 * out of the top, and lines drop out in recency order, so stamps keep the
 * stack order, and a line's depth below the top is the number of live stamps
 * after its own. Live stamps are bits of a bitmap (stamp t: bit t % 64 of word
 * t / 64); a Fenwick tree over the words counts live stamps per word, so a
 * count takes log2(cap / 64) tree steps and one popcount. The tree leaves out
 * the window: the REUSE_WINDOW newest words, where new stamps go and where
 * most reuses find their line. Stamps there are issued, cleared and counted
 * with bit operations and popcounts alone; a word enters the tree (is
 * sealed) when it leaves the window.
 */
typedef struct {
    uint64_t key;                   /* line + 1; 0 = empty slot */
    uint32_t stamp;                 /* 0 while the line is in the top */
} ReuseSlot;

typedef struct {
    uint64_t key;                   /* line + 1; 0 = empty */
    uint64_t slot;                  /* its slot in `slots` */
} ReuseTop;

typedef struct {
    int line_shift;
    ReuseTop top[REUSE_TOP];        /* most recent first; top_n in use */
    int top_n;
    ReuseSlot *slots;
    uint64_t slots_mask;
    uint64_t lines;                 /* distinct lines seen */
    uint64_t tree_lines;            /* lines with a live stamp */
    uint64_t *bits;                 /* live stamps 1..cap */
    int32_t *tree;                  /* Fenwick tree over the sealed words */
    uint32_t cap, now, words;
    uint64_t hist[REUSE_BUCKETS + 1];
} Reuse;

static Reuse reuse;

/* MurmurHash3's 64-bit finalizer. */
static uint64_t hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* __builtin_popcountll is a libgcc call on x86-64 without -mpopcnt. */
static inline uint64_t popcount64(uint64_t x)
{
#if defined(__x86_64__) && !defined(__POPCNT__)
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (x * 0x0101010101010101ull) >> 56;
#else
    return (uint64_t)__builtin_popcountll(x);
#endif
}

static void fenwick_add(int32_t *tree, uint32_t n, uint32_t i, int32_t d)
{
    for (; i <= n; i += i & -i) {
        tree[i] += d;
    }
}

static uint64_t fenwick_prefix(const int32_t *tree, uint32_t i)
{
    uint64_t s = 0;
    for (; i > 0; i -= i & -i) {
        s += tree[i];
    }
    return s;
}

/* Whether word w of the bitmap is in the tree (older than the window). */
static inline bool word_sealed(uint32_t w)
{
    return w + REUSE_WINDOW <= (reuse.now >> 6);
}

/*
 * The bits of stamps up to t within t's word: bits 0..t%64; for t%64 = 63 the
 * shift wraps to 0 and gives all.
 */
static inline uint64_t bits_through(uint32_t t)
{
    return (2ull << (t & 63)) - 1;
}

/* Live stamps in 1..t, for t in a sealed word. */
static uint64_t stamps_up_to(uint32_t t)
{
    uint32_t w = t >> 6;
    /* The words below w are sealed too: all of them are in the tree. */
    return fenwick_prefix(reuse.tree, w) + popcount64(reuse.bits[w] & bits_through(t));
}

/* Issues stamp t = now + 1. */
static void stamp_issue(uint32_t t)
{
    uint32_t w = t >> 6;
    if ((t & 63) == 0 && w >= REUSE_WINDOW) {
        /* A new word opens the window; its oldest word leaves it, sealed. */
        uint32_t old = w - REUSE_WINDOW;
        fenwick_add(reuse.tree, reuse.words, old + 1,
                    (int32_t)popcount64(reuse.bits[old]));
    }
    reuse.bits[w] |= 1ull << (t & 63);
    reuse.now = t;
}

/* Live stamps after t (t <= now): the lines above t's in the stack. */
static uint64_t stamps_after(uint32_t t)
{
    uint32_t w = t >> 6, open = reuse.now >> 6;
    if (word_sealed(w)) {
        return reuse.tree_lines - stamps_up_to(t);
    }
    /* In the window: bits above t%64 (none for 63). */
    uint64_t n = popcount64(reuse.bits[w] & ~bits_through(t));
    for (uint32_t v = w + 1; v <= open; v++) {
        n += popcount64(reuse.bits[v]);
    }
    return n;
}

static void stamp_clear(uint32_t t)
{
    reuse.bits[t >> 6] &= ~(1ull << (t & 63));
    if (word_sealed(t >> 6)) {
        fenwick_add(reuse.tree, reuse.words, (t >> 6) + 1, -1);
    }
}

/* An empty bitmap and tree for stamps 1..cap. */
static void reuse_alloc_stamps(uint32_t cap)
{
    g_free(reuse.bits);
    g_free(reuse.tree);
    reuse.cap = cap;
    reuse.words = cap / 64 + 1;
    reuse.bits = g_new0(uint64_t, reuse.words);
    reuse.tree = g_new0(int32_t, reuse.words + 1);
}

static uint64_t reuse_slot(uint64_t key)
{
    uint64_t j = hash64(key) & reuse.slots_mask;
    while (reuse.slots[j].key && reuse.slots[j].key != key) {
        j = (j + 1) & reuse.slots_mask;
    }
    return j;
}

static void reuse_grow_slots(void)
{
    uint64_t old_n = reuse.slots ? reuse.slots_mask + 1 : 0;
    uint64_t n = old_n ? old_n * 2 : 4096;
    ReuseSlot *old = reuse.slots;

    reuse.slots = g_new0(ReuseSlot, n);
    reuse.slots_mask = n - 1;
    for (uint64_t i = 0; i < old_n; i++) {
        if (old[i].key) {
            reuse.slots[reuse_slot(old[i].key)] = old[i];
        }
    }
    g_free(old);
    for (int p = 0; p < reuse.top_n; p++) {
        reuse.top[p].slot = reuse_slot(reuse.top[p].key);
    }
}

/*
 * Stamps only need their order: renumber the live ones 1..tree_lines and size
 * the tree to a few times that, so it stays small and cache-resident.
 */
static void reuse_compact(void)
{
    uint32_t cap = REUSE_MIN_CAP;
    while (cap < 4 * reuse.tree_lines) {
        cap *= 2;
    }
    /* A stamp's new number: live stamps up to it (before[w]: in words < w). */
    uint32_t *before = g_new(uint32_t, reuse.words);
    uint32_t live = 0;
    for (uint32_t w = 0; w < reuse.words; w++) {
        before[w] = live;
        live += popcount64(reuse.bits[w]);
    }
    for (uint64_t i = 0; i <= reuse.slots_mask; i++) {
        uint32_t t = reuse.slots[i].stamp;
        if (reuse.slots[i].key && t) {
            reuse.slots[i].stamp = before[t >> 6] +
                popcount64(reuse.bits[t >> 6] & bits_through(t));
        }
    }
    g_free(before);
    reuse_alloc_stamps(cap);
    for (uint32_t t = 1; t <= reuse.tree_lines; t++) {
        reuse.bits[t >> 6] |= 1ull << (t & 63);
    }
    reuse.now = reuse.tree_lines;
    /* The tree counts the sealed words. */
    for (uint32_t i = 1; i <= reuse.words; i++) {
        if (word_sealed(i - 1)) {
            reuse.tree[i] += popcount64(reuse.bits[i - 1]);
        }
        uint32_t parent = i + (i & -i);
        if (parent <= reuse.words) {
            reuse.tree[parent] += reuse.tree[i];
        }
    }
}

static void reuse_count(uint64_t distance)
{
    int b = 63 - __builtin_clzll(distance);
    reuse.hist[b < REUSE_BUCKETS ? b : REUSE_BUCKETS - 1]++;
}

/* Moves top[0..n-1] one place down and puts (key, slot) first. */
static inline __attribute__((always_inline)) NO_MEMMOVE void
reuse_push_top(int n, uint64_t key, uint64_t slot)
{
    ReuseTop *top = reuse.top;

    if (n == REUSE_TOP - 1) {
        /* The usual case (a line from below the top): a fixed-size move. */
#pragma GCC unroll 8
        for (int p = REUSE_TOP - 1; p > 0; p--) {
            top[p] = top[p - 1];
        }
    } else {
        for (int p = n; p > 0; p--) {
            top[p] = top[p - 1];
        }
    }
    top[0].key = key;
    top[0].slot = slot;
}

/* One data access to `line`, after the caller found it is not top[0]. */
static __attribute__((noinline)) void reuse_access_below(uint64_t line)
{
    uint64_t key = line + 1;
    ReuseTop *top = reuse.top;
    int n = reuse.top_n;

    /* Unused entries have key 0, which no line has: scan all of them. */
#pragma GCC unroll 8
    for (int p = 1; p < REUSE_TOP; p++) {
        if (top[p].key == key) {
            reuse_count(p + 1);
            reuse_push_top(p, key, top[p].slot);
            return;
        }
    }

    uint64_t j = reuse_slot(key);
    if (reuse.slots[j].key) {
        uint32_t t0 = reuse.slots[j].stamp;
        reuse_count(n + stamps_after(t0) + 1);
        stamp_clear(t0);
        reuse.tree_lines--;
        reuse.slots[j].stamp = 0;
    } else {
        reuse.slots[j].key = key;
        reuse.slots[j].stamp = 0;
        reuse.lines++;
        reuse.hist[REUSE_BUCKETS]++;
        if (reuse.lines * 2 > reuse.slots_mask + 1) {
            reuse_grow_slots();         /* also renews top[].slot */
            j = reuse_slot(key);
        }
    }

    if (n == REUSE_TOP) {
        if (reuse.now == reuse.cap) {
            reuse_compact();
        }
        uint32_t t = reuse.now + 1;
        reuse.slots[top[REUSE_TOP - 1].slot].stamp = t;
        stamp_issue(t);
        reuse.tree_lines++;
        n--;
    } else {
        reuse.top_n++;
    }
    reuse_push_top(n, key, j);
}

/* One data access to `line`: counts its reuse distance. */
static inline void reuse_access(uint64_t line)
{
    if (reuse.top[0].key == line + 1) {
        reuse.hist[0]++;
        return;
    }
    reuse_access_below(line);
}

/* ------------------------------------------------------------------------ */
/* Branch predictor                                                         */

enum { BP_BIMODAL, BP_GSHARE, BP_TOURNAMENT, BP_TAGE };

/*
 * bimodal: 2-bit counters indexed by the branch address; gshare: by the
 * address xor the global history of conditional outcomes. tournament (the
 * Alpha 21264's, as gem5's TournamentBP and rvsim's): a global predictor and
 * a choice predictor, both indexed by the global history alone (log2(entries)
 * bits, unconditional jumps shift in "taken" too), and a local predictor whose
 * counters are indexed by the branch's own history, kept in a table of
 * local_entries indexed by address >> 2; the choice counter picks global or
 * local and trains, when they disagreed, towards the one that was right.
 * tage (Seznec's TAGE, as modern x86 cores predict): a bimodal base of
 * `entries` 2-bit counters and `tables` tagged tables of tagged_entries
 * each, indexed and tagged by the address and the global history of
 * conditional outcomes folded to the table's length (geometric from 4 to
 * max_history bits); the longest matching table predicts, a mispredict
 * allocates an entry in a longer one. Long histories let it learn the exits
 * of loops with a few dozen iterations, which a gshare of 14 bits cannot.
 * Trace-driven: counters train when the branch resolves, not at commit.
 */
typedef struct {
    int kind;
    uint64_t entries;             /* counters (tournament: global and choice) */
    uint64_t history_bits;        /* gshare */
    uint64_t local_entries;       /* tournament: local history table */
    uint64_t local_counters;      /* tournament: counters of local histories */
    int pc_shift;
    uint8_t *counters;
    uint8_t *choice;
    uint8_t *local;
    uint64_t *local_history;
    uint64_t history;
    uint64_t mispredicts;
    uint64_t tagged_entries;      /* tage */
    uint64_t tables;
    uint64_t max_history;
} Bpred;

static Bpred bpred = { .kind = BP_GSHARE, .entries = 4096, .history_bits = 12,
                       .local_entries = 2048, .local_counters = 2048,
                       .tagged_entries = 1024, .tables = 7,
                       .max_history = 256 };

static void train2(uint8_t *c, bool taken);

#define TAGE_MAX_TABLES 12
#define TAGE_MAX_HISTORY 1024
#define TAGE_TAG_BITS 11
#define TAGE_U_RESET (1u << 18)   /* branches between halvings of u */

typedef struct {
    uint16_t tag;
    int8_t ctr;                   /* -4..3: taken when >= 0 */
    uint8_t u;                    /* 0..3: useful */
} TageEntry;

/* A history of `len` bits folded to `width` bits, updated per outcome. */
typedef struct {
    uint32_t value;
    int len, width;
} Folded;

static struct {
    int n;
    int index_bits;
    int hist_len[TAGE_MAX_TABLES];
    TageEntry *table[TAGE_MAX_TABLES];
    Folded fidx[TAGE_MAX_TABLES], ftag0[TAGE_MAX_TABLES], ftag1[TAGE_MAX_TABLES];
    uint8_t ghist[2 * TAGE_MAX_HISTORY];   /* circular, newest at gpos */
    unsigned gpos;
    uint32_t branches, rng;
} tage;

static void folded_init(Folded *f, int len, int width)
{
    f->value = 0;
    f->len = len;
    f->width = width;
}

/* Shifts in the newest bit; `out` is the bit len outcomes old, leaving. */
static inline void folded_push(Folded *f, unsigned in, unsigned out)
{
    f->value = (f->value << 1) | in;
    f->value ^= out << (f->len % f->width);
    f->value ^= f->value >> f->width;
    f->value &= (1u << f->width) - 1;
}

static void tage_init(void)
{
    tage.n = (int)bpred.tables;
    tage.index_bits = __builtin_ctzll(bpred.tagged_entries);
    /* Lengths 4 * ratio^i up to max_history: the ratio by bisection (no libm). */
    double lo = 1.0, hi = (double)bpred.max_history, ratio = 1.0;
    for (int it = 0; it < 60 && tage.n > 1; it++) {
        ratio = (lo + hi) / 2;
        double top = 4.0;
        for (int i = 1; i < tage.n; i++) {
            top *= ratio;
        }
        if (top > (double)bpred.max_history) {
            hi = ratio;
        } else {
            lo = ratio;
        }
    }
    double len_f = tage.n > 1 ? 4.0 : (double)bpred.max_history;
    for (int i = 0; i < tage.n; i++, len_f *= ratio) {
        int len = (int)(len_f + 0.5);
        if (i > 0 && len <= tage.hist_len[i - 1]) {
            len = tage.hist_len[i - 1] + 1;
        }
        tage.hist_len[i] = len;
        tage.table[i] = g_new0(TageEntry, bpred.tagged_entries);
        folded_init(&tage.fidx[i], len, tage.index_bits);
        folded_init(&tage.ftag0[i], len, TAGE_TAG_BITS);
        folded_init(&tage.ftag1[i], len, TAGE_TAG_BITS - 1);
    }
    tage.rng = 0x2545f491u;
}

static inline uint32_t tage_index(int i, uint64_t pc)
{
    uint64_t mask = bpred.tagged_entries - 1;
    return (uint32_t)((pc ^ (pc >> tage.index_bits) ^ tage.fidx[i].value ^
                       ((uint64_t)i << 3)) & mask);
}

static inline uint16_t tage_tag(int i, uint64_t pc)
{
    return (uint16_t)((pc ^ tage.ftag0[i].value ^ (tage.ftag1[i].value << 1)) &
                      ((1u << TAGE_TAG_BITS) - 1));
}

static void tage_update(uint64_t pc, bool taken)
{
    uint32_t idx[TAGE_MAX_TABLES];
    uint16_t tag[TAGE_MAX_TABLES];
    int provider = -1, alt = -1;

    for (int i = tage.n - 1; i >= 0; i--) {
        idx[i] = tage_index(i, pc);
        tag[i] = tage_tag(i, pc);
        if (tage.table[i][idx[i]].tag == tag[i]) {
            if (provider < 0) {
                provider = i;
            } else if (alt < 0) {
                alt = i;
            }
        }
    }
    uint8_t *base = &bpred.counters[pc & (bpred.entries - 1)];
    bool base_pred = *base >= 2;
    bool alt_pred = alt >= 0 ? tage.table[alt][idx[alt]].ctr >= 0 : base_pred;
    bool pred = provider >= 0 ? tage.table[provider][idx[provider]].ctr >= 0
                              : base_pred;
    if (pred != taken) {
        bpred.mispredicts++;
        /* Allocate in a longer table: the first free one from one or two
         * above the provider; none free, they all age. */
        int start = provider + 1 + ((tage.rng = tage.rng * 1103515245u + 12345u) >> 16 & 1);
        if (start >= tage.n) {
            start = provider + 1;
        }
        bool done = false;
        for (int j = start; j < tage.n && !done; j++) {
            TageEntry *e = &tage.table[j][idx[j]];
            if (e->u == 0) {
                e->tag = tag[j];
                e->ctr = taken ? 0 : -1;
                done = true;
            }
        }
        for (int j = provider + 1; j < tage.n && !done; j++) {
            TageEntry *e = &tage.table[j][idx[j]];
            if (e->u > 0) {
                e->u--;
            }
        }
    }
    if (provider >= 0) {
        TageEntry *e = &tage.table[provider][idx[provider]];
        if (taken && e->ctr < 3) {
            e->ctr++;
        } else if (!taken && e->ctr > -4) {
            e->ctr--;
        }
        if (pred != alt_pred) {
            if (pred == taken && e->u < 3) {
                e->u++;
            } else if (pred != taken && e->u > 0) {
                e->u--;
            }
        }
        if (alt < 0) {
            train2(base, taken);
        }
    } else {
        train2(base, taken);
    }
    if (++tage.branches % TAGE_U_RESET == 0) {
        for (int i = 0; i < tage.n; i++) {
            for (uint64_t k = 0; k < bpred.tagged_entries; k++) {
                tage.table[i][k].u >>= 1;
            }
        }
    }
    /* The outcome joins the global history. */
    tage.gpos = (tage.gpos + 1) % (2 * TAGE_MAX_HISTORY);
    tage.ghist[tage.gpos] = taken;
    for (int i = 0; i < tage.n; i++) {
        unsigned out = tage.ghist[(tage.gpos + 2 * TAGE_MAX_HISTORY -
                                   tage.hist_len[i]) % (2 * TAGE_MAX_HISTORY)];
        folded_push(&tage.fidx[i], taken, out);
        folded_push(&tage.ftag0[i], taken, out);
        folded_push(&tage.ftag1[i], taken, out);
    }
}

static void train2(uint8_t *c, bool taken)
{
    if (taken && *c < 3) {
        (*c)++;
    } else if (!taken && *c > 0) {
        (*c)--;
    }
}

static void tournament_update(uint64_t pc, bool taken)
{
    uint64_t *lh = &bpred.local_history[(pc >> 2) & (bpred.local_entries - 1)];
    uint8_t *lc = &bpred.local[*lh & (bpred.local_counters - 1)];
    uint64_t g = bpred.history & (bpred.entries - 1);
    bool local_taken = *lc >= 2, global_taken = bpred.counters[g] >= 2;
    bool predicted = bpred.choice[g] >= 2 ? global_taken : local_taken;

    if (predicted != taken) {
        bpred.mispredicts++;
    }
    if (local_taken != global_taken) {
        train2(&bpred.choice[g], global_taken == taken);
    }
    train2(&bpred.counters[g], taken);
    train2(lc, taken);
    bpred.history = ((bpred.history << 1) | taken) & (bpred.entries - 1);
    *lh = (*lh << 1) | taken;
}

/* An unconditional jump: only the tournament's global history sees it. */
static void bpred_jump(void)
{
    if (bpred.kind == BP_TOURNAMENT) {
        uint64_t g = bpred.history & (bpred.entries - 1);
        train2(&bpred.counters[g], true);
        bpred.history = ((bpred.history << 1) | 1) & (bpred.entries - 1);
    }
}

static void bpred_update(uint64_t pc, bool taken)
{
    if (bpred.kind == BP_TOURNAMENT) {
        tournament_update(pc, taken);
        return;
    }
    if (bpred.kind == BP_TAGE) {
        tage_update(pc >> bpred.pc_shift, taken);
        return;
    }
    uint64_t idx = (pc >> bpred.pc_shift) ^
                   (bpred.kind == BP_GSHARE ? bpred.history : 0);
    uint8_t *c = &bpred.counters[idx & (bpred.entries - 1)];

    if ((*c >= 2) != taken) {
        bpred.mispredicts++;
    }
    train2(c, taken);
    if (bpred.history_bits) {
        bpred.history = ((bpred.history << 1) | taken) &
                        ((1ull << bpred.history_bits) - 1);
    }
}

/* ------------------------------------------------------------------------ */
/* Dependency timing (dep=on; riscv64, x86_64)                              */

/*
 * Two small timing models over the ROI's instruction stream, driven by each
 * instruction's register operands and latency, the data cache level that
 * served each load (the hierarchy above), dependencies through memory (a
 * load of bytes a store wrote waits for that store, 8-byte granules) and the
 * branch model's mispredictions (fetch restarts dep_mispredict cycles after
 * the branch resolves):
 *   inorder: one instruction a cycle in program order, each waiting for its
 *            operands (a scoreboard, as a single-issue in-order core);
 *   ooo:     dep_width instructions a cycle enter a window of dep_window in
 *            order, each starts when its operands are ready, a unit of its
 *            kind is free (dep_units_*) and fewer than dep_issue (default:
 *            dep_width) have started that cycle, and they leave in order,
 *            dep_width a cycle.
 * Beside the class mix they add what counts cannot: latency chains, load-use
 * stalls, the overlap of misses and fetch stalls on instruction misses
 * (dep_fetch_missed; dep_fetch_stalls=off: none, for code a reference runs
 * warm). Registers (riscv64): 1..31 the integer x1..x31, 32..63 f0..f31; 0
 * none (x0 is never a dependency); x86_64: see x86_reg_id.
 */
enum {
    DEP_ALU, DEP_MUL, DEP_DIV, DEP_FP, DEP_FDIV, DEP_FMOV, DEP_BRANCH,
    DEP_LOAD, DEP_STORE, N_DEP_KINDS
};
static const char *const dep_lat_names[] = {
    "dep_lat_alu", "dep_lat_mul", "dep_lat_div", "dep_lat_fp", "dep_lat_fdiv",
    "dep_lat_fmov", "dep_lat_branch", NULL, "dep_lat_store",
};
/*
 * The ooo model's functional units: how many of each start an instruction a
 * cycle. DEP_FP splits into adds, multiplies and fused multiply-adds; moves
 * and conversions (DEP_FMOV) run on the adder.
 */
enum { UNIT_ALU, UNIT_MUL, UNIT_DIV, UNIT_FADD, UNIT_FMUL, UNIT_FMA, UNIT_FDIV,
       UNIT_BRANCH, UNIT_LOAD, UNIT_STORE, N_UNITS };
static const uint8_t dep_unit_of[N_DEP_KINDS] = {
    UNIT_ALU, UNIT_MUL, UNIT_DIV, UNIT_FADD, UNIT_FDIV, UNIT_FADD, UNIT_BRANCH,
    UNIT_LOAD, UNIT_STORE,
};
static const char *const dep_unit_names[N_UNITS] = {
    "dep_units_alu", "dep_units_mul", "dep_units_div", "dep_units_fadd",
    "dep_units_fmul", "dep_units_fma", "dep_units_fdiv", "dep_units_branch",
    "dep_units_load", "dep_units_store",
};

typedef struct {
    uint8_t src[3];     /* a store's data is src[1] */
    uint8_t dst;
    uint8_t kind;
    uint8_t unit;       /* UNIT_* */
    uint8_t dst2;       /* a second register written (x86_64: the flags, rdx, rsp) */
    /*
     * x86_64's load-op instructions (vfmadd231ps (%rax), %ymm1, %ymm0): the
     * operation on the loaded value, its unit and its other register operands;
     * op_kind N_DEP_KINDS: none. src holds the address registers.
     */
    uint8_t op_kind;
    uint8_t op_unit;
    uint8_t op_src[2];
    bool writes_mem;    /* a load that also stores (AMO, x86_64 read-modify-write) */
    /*
     * x86_64 rep-prefixed string instruction (rep stosb): QEMU executes each
     * iteration as one instruction, a core's fast-string microcode moves tens
     * of bytes a cycle; the models count its iterations and skip them.
     */
    bool rep_string;
    /*
     * x86_64 masked store (vmaskmovps, vpmaskmovd to memory): microcoded on
     * AMD cores; dispatch stalls dep_masked_store cycles after it.
     */
    bool masked_store;
    /*
     * x86_64 scalar SSE/AVX operation on memory (vfmadd231ss 8(%rsp), ...):
     * the operand's bytes, 4 or 8; 0: as accessed. QEMU 7.2 reads the whole
     * 16-byte register's worth for some of them, which a core does not: the
     * 12 bytes beyond would make the load wait for stores it never reads.
     */
    uint8_t mem_bytes;
    /* x86_64 masked load (vmaskmovps, vpmaskmovd from memory). */
    bool masked_load;
    uint8_t size;       /* its bytes (dep_fetch_width's fetch groups) */
    uint64_t pc;        /* its address (dep_fetch_width's fetch groups) */
} DepInsn;

#define FREG(r) ((uint8_t)(32 + (r)))
#define XREG(r) ((uint8_t)(r))      /* x0: 0, "none" */

static DepInsn dep_insn(int kind, uint8_t dst, uint8_t s1, uint8_t s2, uint8_t s3)
{
    DepInsn d = { { s1, s2, s3 }, dst, (uint8_t)kind, dep_unit_of[kind], 0,
                  N_DEP_KINDS, 0, { 0, 0 }, false, false, false, 0, false, 0, 0 };
    return d;
}

static DepInsn dep_on_unit(DepInsn d, int unit)
{
    d.unit = (uint8_t)unit;
    return d;
}

/* The register operands and latency kind of one riscv64 instruction. */
static DepInsn dep_decode_riscv64(const uint8_t *bytes, size_t size)
{
    uint32_t insn = bytes[0] | (bytes[1] << 8);

    if (size == 2 || (insn & 3) != 3) {
        uint32_t f3 = (insn >> 13) & 7;
        uint8_t r7 = (insn >> 7) & 31, r2 = (insn >> 2) & 31;
        uint8_t p7 = 8 + ((insn >> 7) & 7), p2 = 8 + ((insn >> 2) & 7);
        switch (insn & 3) {
        case 0:
            switch (f3) {
            case 0: return dep_insn(DEP_ALU, p2, 2, 0, 0);        /* c.addi4spn */
            case 1: return dep_insn(DEP_LOAD, FREG(p2), p7, 0, 0); /* c.fld */
            case 2: case 3: return dep_insn(DEP_LOAD, p2, p7, 0, 0);
            case 5: return dep_insn(DEP_STORE, 0, p7, FREG(p2), 0); /* c.fsd */
            case 6: case 7: return dep_insn(DEP_STORE, 0, p7, p2, 0);
            default: return dep_insn(DEP_ALU, 0, 0, 0, 0);
            }
        case 1:
            switch (f3) {
            case 0: case 1: return dep_insn(DEP_ALU, r7, r7, 0, 0); /* c.addi(w) */
            case 2: return dep_insn(DEP_ALU, r7, 0, 0, 0);          /* c.li */
            case 3: return r7 == 2 ? dep_insn(DEP_ALU, 2, 2, 0, 0)  /* c.addi16sp */
                                   : dep_insn(DEP_ALU, r7, 0, 0, 0); /* c.lui */
            case 4:
                if (((insn >> 10) & 3) == 3) {                      /* c.sub .. c.addw */
                    return dep_insn(DEP_ALU, p7, p7, p2, 0);
                }
                return dep_insn(DEP_ALU, p7, p7, 0, 0);             /* c.srli c.srai c.andi */
            case 5: return dep_insn(DEP_BRANCH, 0, 0, 0, 0);        /* c.j */
            default: return dep_insn(DEP_BRANCH, 0, p7, 0, 0);      /* c.beqz c.bnez */
            }
        default:
            switch (f3) {
            case 0: return dep_insn(DEP_ALU, r7, r7, 0, 0);         /* c.slli */
            case 1: return dep_insn(DEP_LOAD, FREG(r7), 2, 0, 0);   /* c.fldsp */
            case 2: case 3: return dep_insn(DEP_LOAD, r7, 2, 0, 0); /* c.lwsp c.ldsp */
            case 4:
                if (!((insn >> 12) & 1)) {
                    return r2 ? dep_insn(DEP_ALU, r7, r2, 0, 0)     /* c.mv */
                              : dep_insn(DEP_BRANCH, 0, r7, 0, 0);  /* c.jr */
                }
                if (r2) {
                    return dep_insn(DEP_ALU, r7, r7, r2, 0);        /* c.add */
                }
                return r7 ? dep_insn(DEP_BRANCH, 1, r7, 0, 0)       /* c.jalr */
                          : dep_insn(DEP_ALU, 0, 0, 0, 0);          /* c.ebreak */
            case 5: return dep_insn(DEP_STORE, 0, 2, FREG(r2), 0);  /* c.fsdsp */
            default: return dep_insn(DEP_STORE, 0, 2, r2, 0);       /* c.swsp c.sdsp */
            }
        }
    }

    insn |= (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
    uint8_t rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31;
    uint8_t rs2 = (insn >> 20) & 31, rs3 = insn >> 27;
    uint32_t f3 = (insn >> 12) & 7, f7 = insn >> 25;
    switch (insn & 0x7f) {
    case 0x03: return dep_insn(DEP_LOAD, rd, rs1, 0, 0);
    case 0x07:                                          /* LOAD-FP (vector: no register) */
        return dep_insn(DEP_LOAD, (f3 == 2 || f3 == 3) ? FREG(rd) : 0, rs1, 0, 0);
    case 0x23: return dep_insn(DEP_STORE, 0, rs1, rs2, 0);
    case 0x27: return dep_insn(DEP_STORE, 0, rs1,
                               (f3 == 2 || f3 == 3) ? FREG(rs2) : 0, 0);
    case 0x13: case 0x1b: return dep_insn(DEP_ALU, rd, rs1, 0, 0);
    case 0x37: case 0x17: return dep_insn(DEP_ALU, rd, 0, 0, 0);
    case 0x33: case 0x3b:
        if (f7 == 1) {
            return dep_insn(f3 >= 4 ? DEP_DIV : DEP_MUL, rd, rs1, rs2, 0);
        }
        return dep_insn(DEP_ALU, rd, rs1, rs2, 0);
    case 0x63: return dep_insn(DEP_BRANCH, 0, rs1, rs2, 0);
    case 0x6f: return dep_insn(DEP_BRANCH, rd, 0, 0, 0);
    case 0x67: return dep_insn(DEP_BRANCH, rd, rs1, 0, 0);
    case 0x2f: {                                        /* AMO: a load that also stores */
        DepInsn d = dep_insn(DEP_LOAD, rd, rs1, rs2, 0);
        d.writes_mem = true;
        return d;
    }
    case 0x43: case 0x47: case 0x4b: case 0x4f:
        return dep_on_unit(dep_insn(DEP_FP, FREG(rd), FREG(rs1), FREG(rs2), FREG(rs3)),
                           UNIT_FMA);
    case 0x53:
        switch (f7 >> 2) {
        case 0x00: case 0x01:                               /* fadd fsub */
            return dep_insn(DEP_FP, FREG(rd), FREG(rs1), FREG(rs2), 0);
        case 0x02:                                          /* fmul */
            return dep_on_unit(dep_insn(DEP_FP, FREG(rd), FREG(rs1), FREG(rs2), 0),
                               UNIT_FMUL);
        case 0x03:                                          /* fdiv */
            return dep_insn(DEP_FDIV, FREG(rd), FREG(rs1), FREG(rs2), 0);
        case 0x0b:                                          /* fsqrt */
            return dep_insn(DEP_FDIV, FREG(rd), FREG(rs1), 0, 0);
        case 0x04: case 0x05:                               /* fsgnj fmin fmax */
            return dep_insn(DEP_FMOV, FREG(rd), FREG(rs1), FREG(rs2), 0);
        case 0x08:                                          /* fcvt.s.d fcvt.d.s */
            return dep_insn(DEP_FMOV, FREG(rd), FREG(rs1), 0, 0);
        case 0x14:                                          /* feq flt fle */
            return dep_insn(DEP_FMOV, rd, FREG(rs1), FREG(rs2), 0);
        case 0x18: case 0x1c:                               /* fcvt.w.s, fmv.x.w, fclass */
            return dep_insn(DEP_FMOV, rd, FREG(rs1), 0, 0);
        case 0x1a: case 0x1e:                               /* fcvt.s.w, fmv.w.x */
            return dep_insn(DEP_FMOV, FREG(rd), rs1, 0, 0);
        default:
            return dep_insn(DEP_FP, 0, 0, 0, 0);
        }
    default:
        return dep_insn(DEP_ALU, 0, 0, 0, 0);               /* FENCE, SYSTEM, OP-V, custom */
    }
}

static bool x86_any_prefix(const char *mn, const char *const *list)
{
    for (int i = 0; list[i]; i++) {
        if (has_prefix(mn, list[i])) {
            return true;
        }
    }
    return false;
}

/* The latency kind and unit of a vector instruction (base: its mnemonic without 'v'). */
static void x86_vector_kind(const char *base, uint8_t *kind, uint8_t *unit)
{
    static const char *const fma[] = { "fmadd", "fmsub", "fnmadd", "fnmsub", NULL };
    static const char *const fadd[] = {
        "add", "sub", "min", "max", "hadd", "hsub", "cmp", "round", "cvt", "dp", NULL,
    };
    bool fp_suffix = has_suffix(base, "ps") || has_suffix(base, "pd") ||
                     has_suffix(base, "ss") || has_suffix(base, "sd");
    *kind = DEP_FMOV;
    *unit = UNIT_FADD;
    if (x86_any_prefix(base, fma)) {
        *kind = DEP_FP;
        *unit = UNIT_FMA;
    } else if ((has_prefix(base, "mul") && fp_suffix) || has_prefix(base, "pmul") ||
               has_prefix(base, "pmadd") || has_prefix(base, "pdp")) {
        *kind = DEP_FP;
        *unit = UNIT_FMUL;
    } else if (has_prefix(base, "div") || has_prefix(base, "sqrt")) {
        *kind = DEP_FDIV;
        *unit = UNIT_FDIV;
    } else if (x86_any_prefix(base, fadd) && (fp_suffix || has_prefix(base, "cvt"))) {
        *kind = DEP_FP;
    }
}

/* Whether a two-operand legacy instruction (dst = op(dst, src)) reads its destination. */
static bool x86_reads_destination(const char *mn, int n_ops)
{
    static const char *const overwrite[] = {
        "mov", "lea", "cvt", "pmovzx", "pmovsx", "sqrtp", "rcpp", "rsqrtp", "set", "popcnt",
        "lzcnt", "tzcnt", "bsf", "bsr", "pop", "pshuf", "pextr", "extract", "roundp", "imul",
        "vbroadcast", "vpbroadcast", "shlx", "shrx", "sarx", "rorx", "pdep", "pext", "andn",
        "bextr", "bzhi", "blsi", "blsr", "blsmsk", NULL,
    };
    static const char *const avx_reads[] = {
        "vfmadd", "vfmsub", "vfnmadd", "vfnmsub", "vpermi2", "vpermt2", "vpdp", NULL,
    };
    if (mn[0] == 'v') {
        return x86_any_prefix(mn, avx_reads);
    }
    if (n_ops == 3 && has_prefix(mn, "imul")) {
        return false;
    }
    if (n_ops == 2 && has_prefix(mn, "imul")) {
        return true;
    }
    return !x86_any_prefix(mn, overwrite);
}

/* Whether an integer instruction writes the flags. */
static bool x86_writes_flags(const char *mn)
{
    static const char *const list[] = {
        "add", "adc", "sub", "sbb", "and", "or", "xor", "cmp", "test", "inc", "dec", "neg",
        "shl", "shr", "sar", "sal", "rol", "ror", "rcl", "rcr", "imul", "mul", "div", "idiv",
        "bt", "bsf", "bsr", "lzcnt", "tzcnt", "popcnt", "blsi", "blsr", "blsmsk", "bextr",
        "bzhi", NULL,
    };
    if (has_prefix(mn, "shlx") || has_prefix(mn, "shrx") || has_prefix(mn, "sarx") ||
        has_prefix(mn, "rorx")) {
        return false;
    }
    return x86_any_prefix(mn, list) && !has_prefix(mn, "andn");
}

/* Adds register r to a source list of at most max (0 and repeats are dropped). */
static void dep_add_src(uint8_t *list, int max, uint8_t r)
{
    if (!r) {
        return;
    }
    for (int i = 0; i < max; i++) {
        if (list[i] == r) {
            return;
        }
        if (!list[i]) {
            list[i] = r;
            return;
        }
    }
}

/*
 * The register operands and latency kind of one x86_64 instruction, from its
 * AT&T disassembly (the destination last). A memory source makes a load,
 * followed by the operation unless it only moves data (load-op: op_kind); a
 * memory destination makes a store, or, for an operation, a load-op that also
 * writes memory. Implicit operands: the flags, rax/rdx of one-operand
 * multiplies and divides, rsp of push, pop, call and ret. Zeroing idioms (xor
 * of a register with itself) depend on nothing.
 */
static DepInsn dep_decode_x86_64(const char *dis)
{
    static const char *const no_regs[] = {
        "nop", "endbr", "prefetch", "pause", "vzero", "lfence", "sfence", "mfence",
        "ud2", "hlt", "int", "syscall", "cpuid", "rdtsc", "cld", "std", NULL,
    };
    static const char *const zero_idiom[] = {
        "xor", "sub", "pxor", "vpxor", "xorp", "vxorp", "psub", "vpsub", NULL,
    };
    static const char *const flags_only[] = {
        "cmp", "test", "bt", "ucomis", "comis", "vucomis", "vcomis", "ptest", "vptest", NULL,
    };
    char mn[32];
    bool lock, rep;
    const char *ops = x86_mnemonic(dis, mn, &lock, &rep);
    X86Operand op[4];
    int n = x86_operands(ops, op, 4);
    DepInsn d = dep_insn(DEP_ALU, 0, 0, 0, 0);
    bool vec = false;
    int mem = -1;
    for (int i = 0; i < n; i++) {
        vec |= op[i].vec;
        if (op[i].type == X86_OP_MEM) {
            mem = i;
        }
    }
    const X86Operand *last = n ? &op[n - 1] : NULL;
    uint8_t dst = last && last->type == X86_OP_REG ? last->reg : 0;

    if (x86_any_prefix(mn, no_regs)) {
        return d;
    }
    /*
     * String instructions (stosb .. cmpsq; not movslq and the like, nor SSE's
     * movsd): with a rep prefix each iteration is skipped (rep_string).
     */
    static const char *const strings[] = { "stos", "movs", "lods", "scas", "cmps", NULL };
    if (x86_any_prefix(mn, strings) && !vec && strlen(mn) == 5 && strchr("bwlq", mn[4])) {
        d = has_prefix(mn, "stos") ? dep_insn(DEP_STORE, 0, 8, X86_RAX, 0)  /* (%rdi) */
                                   : dep_insn(DEP_LOAD, 0, 7, 8, 0);        /* (%rsi) */
        d.writes_mem = has_prefix(mn, "movs");
        d.rep_string = rep;
        return d;
    }
    /* Branches, calls and returns. */
    if (mn[0] == 'j' || has_prefix(mn, "call") || has_prefix(mn, "ret") ||
        has_prefix(mn, "loop")) {
        d = dep_insn(DEP_BRANCH, 0, 0, 0, 0);
        if (has_prefix(mn, "call") || has_prefix(mn, "ret")) {
            d.src[0] = X86_RSP;
            d.dst = X86_RSP;
        } else if (!has_prefix(mn, "jmp")) {
            d.src[0] = X86_FLAGS;
        }
        if (n && op[0].type == X86_OP_REG) {
            d.src[1] = op[0].reg;       /* indirect: jmp *%rax */
        }
        return d;
    }
    if (has_prefix(mn, "push")) {
        return dep_insn(DEP_STORE, X86_RSP, X86_RSP, n ? op[0].reg : 0, 0);
    }
    if (has_prefix(mn, "pop")) {
        d = dep_insn(DEP_LOAD, n ? op[0].reg : 0, X86_RSP, 0, 0);
        d.dst2 = X86_RSP;
        return d;
    }
    if (has_prefix(mn, "lea")) {
        return dep_insn(DEP_ALU, dst, n ? op[0].addr[0] : 0, n ? op[0].addr[1] : 0, 0);
    }
    /* Sign extensions of rax: cltq cwtl into rax, cqto cltd cwtd into rdx. */
    if (!strcmp(mn, "cltq") || !strcmp(mn, "cwtl") || !strcmp(mn, "cbtw")) {
        return dep_insn(DEP_ALU, X86_RAX, X86_RAX, 0, 0);
    }
    if (!strcmp(mn, "cqto") || !strcmp(mn, "cltd") || !strcmp(mn, "cwtd")) {
        return dep_insn(DEP_ALU, X86_RDX, X86_RAX, 0, 0);
    }
    if (mem < 0 && n >= 2 && x86_any_prefix(mn, zero_idiom)) {
        bool same = true;
        for (int i = 0; i < n; i++) {
            same &= op[i].type == X86_OP_REG && op[i].reg == op[0].reg;
        }
        if (same) {
            d = dep_insn(vec ? DEP_FMOV : DEP_ALU, dst, 0, 0, 0);
            d.dst2 = vec ? 0 : X86_FLAGS;
            return d;
        }
    }

    /* The operation: its kind and unit, its register sources and destinations. */
    uint8_t kind = DEP_ALU, unit = UNIT_ALU;
    const char *base = mn[0] == 'v' ? mn + 1 : mn;
    bool move = x86_any_prefix(mn, (const char *const[]){
                    "mov", "vmov", "lddqu", "vlddqu", "vbroadcast", "vpbroadcast", "kmov",
                    "vmaskmov", "vpmaskmov", NULL });
    /* Vector compares into flags only; vcmpps and the like write a register. */
    bool compare = x86_any_prefix(mn, flags_only) &&
                   (!vec || has_prefix(base, "ucomis") || has_prefix(base, "comis") ||
                    has_prefix(base, "ptest"));
    bool one_op_muldiv = n == 1 && (has_prefix(mn, "mul") || has_prefix(mn, "imul") ||
                                    has_prefix(mn, "div") || has_prefix(mn, "idiv"));
    if (vec || mn[0] == 'f') {
        x86_vector_kind(base, &kind, &unit);
    } else if (has_prefix(mn, "imul") || has_prefix(mn, "mul")) {
        kind = DEP_MUL;
        unit = UNIT_MUL;
    } else if (has_prefix(mn, "div") || has_prefix(mn, "idiv")) {
        kind = DEP_DIV;
        unit = UNIT_DIV;
    }
    if (move && mem < 0) {
        kind = vec ? DEP_FMOV : DEP_ALU;
        unit = dep_unit_of[kind];
    }

    uint8_t srcs[4] = { 0, 0, 0, 0 };      /* register sources besides addresses */
    uint8_t dst1 = 0, dst2 = 0;
    if (compare) {
        for (int i = 0; i < n; i++) {
            if (op[i].type == X86_OP_REG) {
                dep_add_src(srcs, 4, op[i].reg);
            }
        }
        dst2 = X86_FLAGS;
    } else if (one_op_muldiv) {
        if (op[0].type == X86_OP_REG) {
            dep_add_src(srcs, 4, op[0].reg);
        }
        dep_add_src(srcs, 4, X86_RAX);
        if (kind == DEP_DIV) {
            dep_add_src(srcs, 4, X86_RDX);
        }
        dst1 = X86_RAX;
        dst2 = X86_RDX;
    } else {
        for (int i = 0; i + 1 < n; i++) {
            if (op[i].type == X86_OP_REG) {
                dep_add_src(srcs, 4, op[i].reg);
            }
        }
        bool reads = n == 1 ? !has_prefix(mn, "set")
                            : x86_reads_destination(mn, n);
        if (dst && reads && !move) {
            dep_add_src(srcs, 4, dst);
        }
        dst1 = dst;
        if (!vec && mn[0] != 'f' && !move && x86_writes_flags(mn)) {
            dst2 = X86_FLAGS;
        }
    }
    if (!vec && (has_prefix(mn, "cmov") || has_prefix(mn, "set") || has_prefix(mn, "adc") ||
                 has_prefix(mn, "sbb") || has_prefix(mn, "rcl") || has_prefix(mn, "rcr"))) {
        dep_add_src(srcs, 4, X86_FLAGS);
    }
    if (has_prefix(mn, "cmov") && dst) {
        dep_add_src(srcs, 4, dst);      /* the old value, when the condition fails */
    }

    if (mem < 0) {
        d = dep_insn(kind, dst1, srcs[0], srcs[1], srcs[2]);
        d.unit = unit;
        d.dst2 = dst2;
        return d;
    }
    const X86Operand *m = &op[mem];
    bool store = mem == n - 1 && n >= 2 && !compare;
    /* Scalar single / double operands (not conversions, whose two sides differ). */
    size_t len = strlen(base);
    uint8_t scalar = !vec || len < 3 || strstr(base, "cvt") ? 0
                   : !strcmp(base + len - 2, "ss") ? 4 : !strcmp(base + len - 2, "sd") ? 8 : 0;
    if (move) {
        bool masked = has_prefix(mn, "vmaskmov") || has_prefix(mn, "vpmaskmov");
        if (store) {        /* src[1]: the data */
            d = dep_insn(DEP_STORE, 0, m->addr[0], srcs[0], m->addr[1]);
            d.masked_store = masked;
        } else {
            d = dep_insn(DEP_LOAD, dst1, m->addr[0], m->addr[1], 0);
            d.masked_load = masked;
        }
        d.mem_bytes = scalar;
        return d;
    }
    /* Load-op, or read-modify-write (an operation on a memory destination). */
    d = dep_insn(DEP_LOAD, dst1, m->addr[0], m->addr[1], 0);
    d.dst2 = dst2;
    d.op_kind = kind;
    d.op_unit = unit;
    d.op_src[0] = srcs[0];
    d.op_src[1] = srcs[1];
    d.writes_mem = store || (n == 1 && mem == 0 && !one_op_muldiv && !compare) || lock;
    d.mem_bytes = scalar;
    return d;
}

/* ------------------------------------------------------------------------ */
/* Translation blocks and the ROI                                           */

/*
 * The userdata of an instruction's memory callback: two meminfo values it
 * gave (the first, and the latest other one) and their decoding, so that an
 * access rarely needs to call into QEMU to decode its meminfo. A value not
 * held here is decoded by QEMU, so this changes no result.
 */
typedef struct {
    uint64_t key[2];              /* meminfo | 1 << 32; 0: none yet */
    uint64_t repeats[2];          /* see mem_site_flush */
    uint8_t shift[2];
    uint32_t size_m1[2];          /* (1 << shift) - 1 */
    bool store[2];
    bool masked_load;             /* its accesses touch no page (see touch_page) */
} MemSite;

typedef struct {
    uint64_t line;                /* line number: address >> insn_shift */
    uint32_t count;               /* consecutive fetches from this line */
} FetchRun;

typedef struct {
    uint64_t vaddr;
    uint32_t size;
    int cls;
    int marker;                   /* 0, MARK_BEGIN or MARK_END */
    uint8_t vec;                  /* Decoded.vec */
} InsnInfo;

enum { MARK_BEGIN = 1, MARK_END = 2 };

typedef struct {
    uint64_t exec_count;          /* inline: every execution */
    uint64_t mark;                /* exec_count when the ROI began */
    uint64_t roi_execs;           /* executions in closed ROI intervals */
    uint64_t pc;
    uint32_t n_insns;
    uint32_t n_runs;
    FetchRun *runs;
    uint64_t n_fetches;           /* sum of the runs' counts */
    uint64_t fetch_epoch;         /* see fetch_runs; 0: none */
    uint32_t classes[N_CLASSES];  /* static classes, final cond branch excluded */
    uint32_t vecs[N_VEC];         /* static vector counts (x86_64) */
    bool ends_cond;
    bool ends_jump;               /* last instruction an unconditional jump */
    uint64_t branch_pc, fallthrough;
    InsnInfo *insns;              /* marker TBs only */
    MemSite *sites;               /* per instruction, when any has memory cbs */
    DepInsn *deps;                /* per instruction, with dep=on */
    bool undecoded;               /* translated outside the ROI, not decoded */
} TbInfo;

static int isa;
static bool opt_roi = true, opt_classes = true, opt_mem = true;
static bool opt_cache = true, opt_bpred = true, opt_reuse = true;
static bool opt_mem_all;
static bool opt_tbs;
static bool opt_raw;
static uint64_t elf_load_bias;   /* run-time address - ELF address */
static bool opt_warmup = true;
static uint64_t opt_reuse_line = 64;
static FILE *out_file;
static char *out_path;
static char *elf_path;
static char *warm_file;           /* warm_file=: its local objects start warm */
typedef struct {
    uint64_t addr;                  /* ELF address (elf_load_bias added when used) */
    uint64_t size;
} WarmObject;
static GArray *warm_objects;       /* WarmObject, found with the ROI symbols */
static uint64_t warm_bytes;
#define WARM_MAX_BYTES (1ull << 30)   /* larger objects are left cold */
static bool system_mode;

static GPtrArray *tbs;
static qemu_plugin_id_t plugin_id;
/*
 * Translations outside the ROI that were not decoded (x86_64 only: decoding
 * disassembles, which cost most of a short program's run time under the
 * plugin). They are flushed when the ROI begins, so that the ROI runs only
 * decoded translations; undecoded_roi_execs counts any that ran in it anyway.
 */
static uint64_t undecoded_tbs, undecoded_roi_execs;
static bool roi_active;
/* vcpu_mem's short path applies (see there); and now: in the ROI too. */
static bool mem_fast, mem_fast_now;
static bool symbols_resolved;
static uint64_t roi_begin_addr, roi_end_addr;
static uint64_t roi_begins, roi_ends;
static bool roi_closed_at_exit;
static unsigned int vcpus_seen;

/* Counts from marker TBs, which run without inline counters. */
static uint64_t direct_insns;
static uint64_t direct_classes[N_CLASSES];
static uint64_t direct_vecs[N_VEC];
static uint64_t cond_taken, cond_not_taken;
static const TbInfo *pending_branch;

/* ROI data accesses by direction (0 load, 1 store) and log2 of the size. */
static uint64_t accesses[2][8];
/*
 * ROI accesses [load, store] that span two data cache lines (l1d's line size,
 * 64 bytes without caches) or two 4 KiB pages: split accesses cost real cores
 * cycles (a page-split store on x86 tens of them) that no count here shows.
 * QEMU hands a wide vector access to the plugin as 8-byte pieces in ascending
 * order, so a split is a piece that itself crosses the boundary, or one that
 * continues the previous piece of the same instruction (same site, next byte)
 * and starts on the boundary. mem_last_end/site follow every access, and
 * every TB execution clears the site (vcpu_tb_exec), so the next execution of
 * a loop's load that reads on where the last one ended is no continuation;
 * without that callback (classes and bpred off) splits_joined is false and
 * only pieces that cross a boundary themselves count.
 */
static uint64_t line_splits[2], page_splits[2];
static unsigned int split_line_shift = 6;    /* the data cache's line; 64 bytes without caches */

/* The dependency timing models' state and steps (dep=on; see DepInsn). */
static bool opt_dep;
static uint64_t dep_width = 4, dep_window = 64, dep_mispredict = 10;
/* Per DEP_* kind (DEP_LOAD: from the level that served it, below). */
static uint64_t dep_lat[N_DEP_KINDS] = { 1, 3, 20, 4, 15, 2, 1, 0, 1 };
/*
 * DEP_FP on the adders and on the multipliers, when set (dep_lat_fadd,
 * dep_lat_fmul; dep_config "lat_fadd", "lat_fmul" only then): their own
 * latency instead of dep_lat_fp, which fused multiply-adds keep. Zen 4: 3, 3
 * and 4.
 */
_Static_assert(UNIT_FMUL == UNIT_FADD + 1, "dep_fp_unit_lat is indexed by unit - UNIT_FADD");
static uint64_t dep_fp_unit_lat[2];
static bool dep_fp_unit_lat_set[2];
static const char *const dep_fp_unit_lat_names[2] = { "lat_fadd", "lat_fmul" };

/* The latency of an operation of this kind on this unit. */
static inline uint64_t dep_op_lat(int kind, int unit)
{
    if (kind == DEP_FP && (unit == UNIT_FADD || unit == UNIT_FMUL) &&
        dep_fp_unit_lat_set[unit - UNIT_FADD]) {
        return dep_fp_unit_lat[unit - UNIT_FADD];
    }
    return dep_lat[kind];
}
/* Load-to-use by the data level that served the load: l1d, l2, l3, memory. */
static uint64_t dep_lat_level[4] = { 3, 12, 40, 150 };
static const char *const dep_level_names[4] = {
    "dep_lat_l1", "dep_lat_l2", "dep_lat_l3", "dep_lat_mem",
};

typedef struct {
    uint64_t ready[64];           /* when each register's value is ready */
    uint64_t last;                /* inorder: issue time of the latest */
    uint64_t end;                 /* latest completion (ooo: retirement) */
    uint64_t redirect;            /* fetch restarts here after a mispredict */
    uint64_t branch_done;         /* when the latest branch resolved */
} DepModel;

enum { DEP_INORDER, DEP_OOO, N_DEP_MODELS };
static DepModel dep_models[N_DEP_MODELS];
static uint64_t *dep_dispatch;    /* ooo: dispatch time of insn n, at n % dep_width */
static uint64_t *dep_retire;      /* ooo: retirement of insn n, at n % dep_window */
static uint64_t dep_n;            /* instructions the models saw, this interval */
/*
 * A store holds a store-buffer entry from dispatch (in order: issue) until it
 * has drained to the cache. Stores start draining in order after they retire
 * (in order: complete), one every dep_drain cycles, and take dep_drain cycles,
 * or a store that missed l1d as many more as its level's load-to-use latency
 * exceeds l1d's (write-allocate: the line comes first), so misses overlap as
 * far as the entries allow. With dep_sb entries (0: no limit), a store enters
 * once the one dep_sb stores before it has drained.
 */
static uint64_t dep_sb, dep_drain = 1;
/*
 * A store split across two cache lines or two 4 KiB pages holds the drain
 * that many cycles more, and the store after it drains that much later (x86:
 * a page-split store costs a Zen 4 about 33 cycles of store throughput, a
 * line-split one 1). Needs a store buffer; 0: no cost.
 */
static uint64_t dep_split_store_line, dep_split_store_page;
/*
 * Cycles dispatch stalls after a masked store (DepInsn.masked_store; Zen 4: a
 * vmaskmovps store among independent adds costs about 12 cycles); 0: none.
 */
static uint64_t dep_masked_store;
/*
 * Cycles dispatch stalls after an x86 masked load whose vector runs into a
 * 4 KiB page the program has not touched (the lanes there off, or it would
 * have faulted): the core cannot tell the lanes off from a fault without a
 * microcode assist, every time, since such a load never brings the page in.
 * Zen 4 (bench/split_store_probe.c): about 400 cycles; into a touched page,
 * nothing. QEMU reads every lane, so the vector's bytes are known. 0: off
 * (and no page is tracked).
 */
static uint64_t dep_masked_load_page;
/*
 * Cycles one l1d line fill holds the path from l2 (0: no limit): a load that
 * missed l1d gets its line no sooner than the fills before it allow, one every
 * that many cycles per missed line (Zen 4: 32 bytes a cycle, a 64-byte line in
 * 2; bench/l1_fill_probe.c). A store that missed l1d takes the same path for
 * its line as it drains (write-allocate).
 */
static uint64_t dep_l1_fill;
/*
 * Load-unit slots a load across two l1d lines (or pages) takes beyond its own
 * (ooo; 0: none). Zen 4: one, both halves' (bench/split_load_probe.c: a split
 * load of any width issues at half the rate of one within a line).
 */
static uint64_t dep_split_load;
static uint64_t dep_fill_next[N_DEP_MODELS];   /* inorder: when the path is free */
static uint64_t dep_fill_waits, dep_fill_waits_n;  /* cycles loads waited, closed; this one */
static uint64_t dep_mload_assists, dep_mload_assists_n;  /* closed intervals; this one */
/*
 * The cycle options above that are off at 0: "dep_<name>", written to
 * dep_config as "<name>" only when set (records from before each match).
 */
static const struct {
    const char *name;
    uint64_t *cycles;
} dep_cycle_opts[] = {
    { "masked_store", &dep_masked_store },
    { "masked_load_page", &dep_masked_load_page },
    { "l1_fill", &dep_l1_fill },
    { "split_load", &dep_split_load },
};
/*
 * Load-to-use of a load whose bytes a store still in the store buffer holds
 * (store-to-load forwarding), by the load's destination: integer registers
 * [0], FP and vector ones [1] (register 32 and up); unset: the level's
 * latency as for any load. Zen 4: a 64-bit store-load round trip takes 1
 * cycle (memory renaming), a 256-bit one 10.
 */
static uint64_t dep_forward_lat[2];
static bool dep_forward_lat_set[2];
/*
 * Load-to-use of a load forwarding cannot serve: some of its bytes are in the
 * store buffer, but no one store there holds all of them (several stores, or
 * a store holding part of the load, or a masked store), by the load's
 * destination as above;
 * and nothing after it dispatches before then; unset: as any other load.
 * Zen 4 (bench/forward_probe.c): eight 32-bit stores then a 256-bit load
 * over them, or a 32-bit store inside a 64-bit load, round-trip in 19-21
 * cycles against 6-10 forwarded, and with no chain through memory the loop
 * still pays about 18 cycles a failed load; a load of what a masked store
 * (vmaskmovps) wrote round-trips in 28.
 */
static uint64_t dep_forward_fail_lat[2];
static bool dep_forward_fail_set[2];
/*
 * dep_forward_fail_drain: a load forwarding cannot serve (as above) waits
 * until those stores have drained to the cache, then reads it as any load;
 * what comes after it goes on (rvsim's store buffer: the load replays while a
 * store partly overlaps it). Overrides dep_forward_fail; off by default.
 */
static bool dep_forward_fail_drain;
/*
 * The two by-class latency options: "<option>_int" / "<option>_fp", written
 * to dep_config as "<config>_int" / "<config>_fp", only when set.
 */
static const struct {
    const char *option, *config;
    uint64_t *lat;
    bool *set;
} dep_class_lats[] = {
    { "dep_forward", "forward", dep_forward_lat, dep_forward_lat_set },
    { "dep_forward_fail", "forward_fail", dep_forward_fail_lat, dep_forward_fail_set },
};
static const char *const dep_class_names[2] = { "int", "fp" };
static uint64_t dep_fwd_fails, dep_fwd_fails_n;  /* closed intervals; this one */
static uint64_t dep_drain_busy[N_DEP_MODELS];  /* the latest store's extra cycles */
static bool dep_forward = true;   /* off: loads wait until the store has drained */
static uint64_t *dep_sb_free[N_DEP_MODELS];  /* drain time of store k, at k % dep_sb */
static uint64_t dep_stores_n, dep_drain_start[N_DEP_MODELS];
static uint64_t dep_sb_last[N_DEP_MODELS];   /* when the latest store's entry is free */
/*
 * ooo: a load holds one of dep_lq load-queue entries from dispatch until it
 * retires (0: no limit).
 */
static uint64_t dep_lq;
static uint64_t *dep_lq_free;     /* retirement of load k, at k % dep_lq */
static uint64_t dep_loads_n;
static uint64_t dep_split;        /* ooo: stores issued in two halves, closed intervals */
static uint64_t dep_split_n;      /* and this interval */
static uint64_t dep_split_loads, dep_split_loads_n;   /* ooo: dep_split_load's; likewise */
/*
 * An instruction fetch that missed the first level stalls the front end for
 * the serving level's latency beyond l1's: the next instruction arrives that
 * much after the one before. With the next-line prefetcher
 * (dep_fetch_next_line), a missed line's successor is fetched with it: of
 * consecutive missed lines every other one stalls.
 */
static uint64_t dep_fetch_stall;  /* before the next instruction arrives */
static bool dep_fetch_next_line;
static bool dep_fetch_stalls = true;  /* off: fetch never stalls (warm code) */
static uint64_t dep_fetch_next;   /* the line fetched with the latest that stalled; 0: none */
/*
 * ooo, with dep_fetch_width > 0: fetch delivers groups of up to that many
 * instructions a cycle, all from one l1i line (dep_fetch_line_shift). A group
 * ends after a taken branch or jump (the next instruction is not the one after
 * it) and at the line's end; a 4-byte instruction that straddles two lines
 * heads a group of its own that fetches the second line, and costs one group
 * more, to fetch its first line, unless the group before was in that line
 * (rvsim 2.1's fetch1 stage: one line in its fetch buffer). A group comes
 * the cycle after the one before at the soonest, after a mispredict's
 * restart, and, since the queue between fetch and dispatch is short, no
 * sooner than DEP_FETCH_AHEAD cycles before the instruction before it
 * dispatched; an instruction dispatches no sooner than its group came. So a
 * loop whose body crosses a line boundary pays a group more an iteration
 * where fetch, not the back end, binds. 0: off.
 */
#define DEP_FETCH_AHEAD 4
static uint64_t dep_fetch_width;
/*
 * inorder, with dep_inorder_fetch: fetch as above, one instruction a group
 * (a single-issue front end: Rocket's, rvsim's in-order model), so that a
 * 4-byte instruction across two lines, the line of its first half not the
 * one fetched just before, costs a cycle more where fetch binds. Off: none.
 */
static bool dep_inorder_fetch;
static unsigned int dep_fetch_line_shift = 6;   /* l1i's line; 64 bytes without caches */
typedef struct {
    uint64_t cycle, n, line, next_pc;   /* the latest group */
} DepFetch;
static DepFetch dep_fg[N_DEP_MODELS];
static uint64_t dep_fetch_groups, dep_fetch_groups_n;   /* closed intervals; this one */
static uint64_t dep_insns;        /* and in closed intervals */
static uint64_t dep_rep_n;        /* rep string iterations skipped, this interval */
static uint64_t dep_cycles[N_DEP_MODELS];  /* closed ROI intervals */
static uint64_t dep_mispredicts;  /* mispredicts the models restarted after */

#define DEP_MEM_BITS 14
typedef struct {
    uint64_t granule;             /* address >> 3, + 1; 0: empty */
    uint64_t id;                  /* the store's number, from 1 */
    uint64_t first, end;          /* its bytes */
    bool masked;                  /* a masked store: forwards to no load */
    uint64_t done[N_DEP_MODELS];  /* when the store's data is there */
    uint64_t drained[N_DEP_MODELS];  /* when it left the store buffer (0: none) */
} DepStore;
static DepStore dep_stores[1u << DEP_MEM_BITS];
static uint64_t dep_store_ids;    /* stores recorded, all intervals */

/*
 * The 4 KiB pages the program has accessed since it started (with
 * dep_masked_load_page): page number + 1, open addressing. Half full, it
 * stops growing and every page counts as touched (no assist is charged).
 */
#define TOUCH_BITS 16
#define TOUCH_MASK ((1ull << TOUCH_BITS) - 1)
static uint64_t touched[1ull << TOUCH_BITS];
static uint64_t touched_n, touch_last;   /* touch_last: the latest page + 1 */

static uint64_t *touch_slot(uint64_t page)
{
    uint64_t h = (page * 0x9E3779B97F4A7C15ull) >> (64 - TOUCH_BITS);
    while (touched[h] && touched[h] != page + 1) {
        h = (h + 1) & TOUCH_MASK;
    }
    return &touched[h];
}

static inline void touch_page(uint64_t page)
{
    if (page + 1 == touch_last) {
        return;
    }
    touch_last = page + 1;
    if (touched_n < TOUCH_MASK / 2) {
        uint64_t *slot = touch_slot(page);
        touched_n += !*slot;
        *slot = page + 1;
    }
}

static bool page_touched(uint64_t page)
{
    return touched_n >= TOUCH_MASK / 2 || *touch_slot(page) == page + 1;
}

/* 0: unlimited. */
static uint64_t dep_units[N_UNITS] = { 2, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
/*
 * Per unit, the instructions that start on it in each cycle of a horizon of
 * 2^DEP_CAL_BITS cycles (a slot holds the cycle it counts; one of another
 * cycle is free). Instructions start out of order, so a unit is a calendar,
 * not a next-free time.
 */
#define DEP_CAL_BITS 12
typedef struct {
    uint64_t cycle;
    uint64_t used;
} DepSlot;
static DepSlot dep_calendar[N_UNITS][1u << DEP_CAL_BITS];

/*
 * Instructions that start in one cycle, all units together (the option's 0,
 * its default: dep_width, set at install).
 */
static uint64_t dep_issue;
static DepSlot dep_issue_calendar[1u << DEP_CAL_BITS];
/* ooo, with dep_l1_fill F: the fill slots, slot k the cycles [kF, kF + F), one fill each. */
static DepSlot dep_fill_calendar[1u << DEP_CAL_BITS];

/* Calendar cal's slot for cycle t. */
static inline DepSlot *dep_slot(DepSlot *cal, uint64_t t)
{
    DepSlot *slot = &cal[t & ((1u << DEP_CAL_BITS) - 1)];
    if (slot->cycle != t) {
        slot->cycle = t;
        slot->used = 0;
    }
    return slot;
}

/*
 * The first cycle at or after t with unit u free (u < 0: none asked) and, if
 * issue, an issue slot free; it takes them.
 */
static inline uint64_t dep_take(int u, uint64_t t, bool issue)
{
    for (;; t++) {
        DepSlot *unit = u >= 0 && dep_units[u] ? dep_slot(dep_calendar[u], t) : NULL;
        DepSlot *any = issue ? dep_slot(dep_issue_calendar, t) : NULL;
        if ((!unit || unit->used < dep_units[u]) && (!any || any->used < dep_issue)) {
            if (unit) {
                unit->used++;
            }
            if (any) {
                any->used++;
            }
            return t;
        }
    }
}

/*
 * The first cycle at or after t with unit u and an issue slot free, which it
 * takes (u < 0: an issue slot only).
 */
static uint64_t dep_reserve(int u, uint64_t t)
{
    return dep_take(u, t, true);
}

/* The memory instruction waiting for its access (its callback comes after). */
static const DepInsn *dep_pending;
static uint64_t dep_pending_first, dep_pending_end;  /* bytes accessed; end 0: none */
static uint64_t dep_pending_lat;
static uint64_t dep_pending_fills;   /* lines it missed l1d on */

static inline uint64_t max2(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/*
 * Model m's load, which issues at start and missed l1d on `fills` lines: when
 * its last line's fill may begin (start, or later if the fills before hold the
 * path), which it takes.
 */
static uint64_t dep_fill(int m, uint64_t start, uint64_t fills)
{
    uint64_t t = start;
    if (m == DEP_INORDER) {
        t = max2(t, dep_fill_next[m]);
        dep_fill_next[m] = t + fills * dep_l1_fill;
        return t + (fills - 1) * dep_l1_fill;
    }
    for (uint64_t k = t / dep_l1_fill; fills; k++) {
        DepSlot *slot = dep_slot(dep_fill_calendar, k);
        if (!slot->used) {
            slot->used = 1;
            t = max2(start, k * dep_l1_fill);
            fills--;
        }
    }
    return t;
}

static void dep_reset(void)
{
    memset(dep_models, 0, sizeof(dep_models));
    memset(dep_stores, 0, sizeof(dep_stores));
    memset(dep_calendar, 0, sizeof(dep_calendar));
    memset(dep_issue_calendar, 0, sizeof(dep_issue_calendar));
    memset(dep_fill_calendar, 0, sizeof(dep_fill_calendar));
    memset(dep_fill_next, 0, sizeof(dep_fill_next));
    dep_fill_waits_n = 0;
    memset(dep_dispatch, 0, dep_width * sizeof(uint64_t));
    memset(dep_retire, 0, dep_window * sizeof(uint64_t));
    for (int m = 0; m < N_DEP_MODELS && dep_sb; m++) {
        memset(dep_sb_free[m], 0, dep_sb * sizeof(uint64_t));
    }
    dep_stores_n = 0;
    memset(dep_drain_start, 0, sizeof(dep_drain_start));
    memset(dep_sb_last, 0, sizeof(dep_sb_last));
    memset(dep_drain_busy, 0, sizeof(dep_drain_busy));
    if (dep_lq) {
        memset(dep_lq_free, 0, dep_lq * sizeof(uint64_t));
    }
    dep_loads_n = 0;
    dep_split_n = 0;
    dep_split_loads_n = 0;
    dep_fwd_fails_n = 0;
    dep_mload_assists_n = 0;
    dep_fetch_stall = 0;
    dep_fetch_next = 0;
    for (int m = 0; m < N_DEP_MODELS; m++) {
        dep_fg[m] = (DepFetch){ 0, 0, UINT64_MAX, 0 };
    }
    dep_fetch_groups_n = 0;
    dep_n = 0;
    dep_rep_n = 0;
    dep_pending = NULL;
}

/*
 * When a load of [first, end] may read: the latest store to those bytes; and
 * (drained) when the last of those stores leaves the store buffer.
 */
static uint64_t dep_store_ready(int m, uint64_t first, uint64_t end, uint64_t *drained)
{
    uint64_t t = 0;
    *drained = 0;
    for (uint64_t g = first >> 3; g <= end >> 3; g++) {
        const DepStore *s = &dep_stores[g & ((1u << DEP_MEM_BITS) - 1)];
        if (s->granule == g + 1) {
            t = max2(t, s->done[m]);
            *drained = max2(*drained, s->drained[m]);
        }
    }
    return t;
}

/*
 * Whether store-to-load forwarding fails for a load of [first, end] issued at
 * start: stores still in the buffer then hold some of its bytes, but not one
 * store all of them. Only the latest store to each 8-byte granule is known.
 */
static bool dep_forward_fails(int m, uint64_t first, uint64_t end, uint64_t start)
{
    bool any = false, whole = false;
    uint64_t id = 0;
    for (uint64_t g = first >> 3; g <= end >> 3; g++) {
        const DepStore *s = &dep_stores[g & ((1u << DEP_MEM_BITS) - 1)];
        if (s->granule != g + 1 || s->drained[m] <= start || s->end < first || s->first > end) {
            continue;
        }
        if (!any) {
            any = true;
            id = s->id;
            whole = s->first <= first && end <= s->end && !s->masked;
        } else if (s->id != id) {
            whole = false;
        }
    }
    return any && !whole;
}

static void dep_store_record(const uint64_t done[N_DEP_MODELS],
                             const uint64_t drained[N_DEP_MODELS], uint64_t first,
                             uint64_t end, bool masked)
{
    for (uint64_t g = first >> 3; g <= end >> 3; g++) {
        DepStore *s = &dep_stores[g & ((1u << DEP_MEM_BITS) - 1)];
        s->granule = g + 1;
        s->id = dep_store_ids + 1;
        s->first = first;
        s->end = end;
        s->masked = masked;
        for (int m = 0; m < N_DEP_MODELS; m++) {
            s->done[m] = done[m];
            s->drained[m] = drained[m];
        }
    }
}

/*
 * Model m's fetch: when the fetch group of instruction d comes (see
 * dep_fetch_width; groups of up to `width`); prev: when the instruction
 * before it started (ooo: dispatched); redirect: when fetch restarts after a
 * mispredict. Groups that fetch only a line count in dep_fetch_groups_n (ooo).
 */
static uint64_t dep_fetch_group(int m, const DepInsn *d, uint64_t width, uint64_t prev,
                                uint64_t redirect)
{
    DepFetch *g = &dep_fg[m];
    uint64_t line = d->pc >> dep_fetch_line_shift;
    bool straddles = d->size > 2 && ((d->pc + d->size - 1) >> dep_fetch_line_shift) != line;
    if (straddles || g->n == width || d->pc != g->next_pc || line != g->line) {
        uint64_t t = g->cycle + 1;
        if (straddles && line != g->line) {
            t++;   /* a group that only fetches its first line */
            dep_fetch_groups_n += m == DEP_OOO;
        }
        t = max2(t, prev > DEP_FETCH_AHEAD ? prev - DEP_FETCH_AHEAD : 0);
        g->cycle = max2(t, redirect);
        g->n = 0;
        g->line = straddles ? line + 1 : line;
        dep_fetch_groups_n += m == DEP_OOO;
    }
    g->n++;
    g->next_pc = d->pc + d->size;
    return g->cycle;
}

/*
 * One instruction through both models; mem: its bytes (end 0: none); drain: a
 * store's cycles to leave the store buffer; busy: of those, the cycles it
 * holds the drain beyond dep_drain (a split store); fills: the lines a load
 * or store takes through the l1d fill path (0: none, or no dep_l1_fill).
 */
static void dep_step(const DepInsn *d, uint64_t lat, uint64_t first, uint64_t end,
                     uint64_t drain, uint64_t busy, uint64_t fills)
{
    bool mem = end != 0;
    bool buffered = d->kind == DEP_STORE && dep_sb;
    uint64_t done[N_DEP_MODELS], drained[N_DEP_MODELS] = { 0 };

    for (int m = 0; m < N_DEP_MODELS; m++) {
        DepModel *s = &dep_models[m];
        uint64_t my_lat = lat;
        bool failed = false, from_buffer = false;   /* from_buffer: no l1d fill */
        uint64_t start;
        if (m == DEP_INORDER) {
            start = max2(s->last + 1, s->redirect);
            start = max2(start, s->last + dep_fetch_stall);
            if (dep_inorder_fetch) {
                start = max2(start, dep_fetch_group(m, d, 1, s->last, s->redirect));
            }
            if (buffered) {
                start = max2(start, dep_sb_free[m][dep_stores_n % dep_sb]);
            }
        } else {
            uint64_t w = dep_n % dep_width, r = dep_n % dep_window;
            uint64_t disp = max2(dep_dispatch[w] + 1, dep_retire[r]);
            /* When the instruction before it dispatched. */
            uint64_t prev = dep_n ? dep_dispatch[(dep_n - 1) % dep_width] : 0;
            if (dep_fetch_stall) {
                disp = max2(disp, prev + dep_fetch_stall);
            }
            disp = max2(disp, s->redirect);
            if (dep_fetch_width) {
                disp = max2(disp, dep_fetch_group(m, d, dep_fetch_width, prev, s->redirect));
            }
            if (buffered) {
                disp = max2(disp, dep_sb_free[m][dep_stores_n % dep_sb]);
            }
            if (d->kind == DEP_LOAD && dep_lq) {
                disp = max2(disp, dep_lq_free[dep_loads_n % dep_lq]);
            }
            dep_dispatch[w] = disp;
            start = disp;
        }
        /*
         * A store whose data comes after its address (ooo) issues in two
         * halves: the address on the store unit, then the data, which takes
         * an issue slot of its own.
         */
        bool halves = m == DEP_OOO && d->kind == DEP_STORE;
        uint64_t data = halves ? s->ready[d->src[1]] : 0;
        for (int k = 0; k < 3; k++) {
            if (!(halves && k == 1)) {
                start = max2(start, s->ready[d->src[k]]);
            }
        }
        if (mem && d->kind == DEP_LOAD) {
            uint64_t in_buffer;
            start = max2(start, dep_store_ready(m, first, end, &in_buffer));
            int cls = d->dst >= 32;
            bool fails = (dep_forward_fail_drain || dep_forward_fail_set[cls]) &&
                         in_buffer > start && dep_forward_fails(m, first, end, start);
            if (fails) {
                if (dep_forward_fail_drain) {
                    start = in_buffer;   /* reads the cache once the stores are there */
                } else {
                    my_lat = dep_forward_fail_lat[cls];   /* waits for the stores to drain */
                    failed = true;
                }
                from_buffer = true;
                dep_fwd_fails_n += m == DEP_OOO;
            } else if (dep_forward_lat_set[cls] && in_buffer > start) {
                my_lat = dep_forward_lat[cls];   /* forwarded from the store buffer */
                from_buffer = true;
            }
        }
        if (m == DEP_INORDER) {
            s->last = start;
        } else if (data > start) {
            start = dep_reserve(d->unit, start);
            start = dep_reserve(-1, max2(data, start + 1));
            dep_split_n++;
        } else {
            start = dep_reserve(d->unit, max2(start, data));
            if (dep_split_load && d->kind == DEP_LOAD && mem &&
                ((first ^ end) >> split_line_shift)) {
                /* Its other half: the load's value once both are read. */
                for (uint64_t k = 0; k < dep_split_load; k++) {
                    start = dep_take(d->unit, start, false);   /* no issue slot */
                }
                dep_split_loads_n++;
            }
        }
        if (fills && !from_buffer && !buffered) {
            uint64_t t = dep_fill(m, start, fills);
            dep_fill_waits_n += m == DEP_OOO ? t - start : 0;
            start = t;   /* its line comes that much later (the unit was free before) */
        }
        done[m] = start + my_lat;
        if (failed) {
            /* Nothing after it dispatches before its bytes are there (Zen 4: no chain through
             * memory hides it; bench/forward_probe.c's tput8x32). */
            s->redirect = max2(s->redirect, done[m]);
        }
        if (d->op_kind != N_DEP_KINDS) {
            /* The operation starts once the load's value and its operands are there. */
            uint64_t t = max2(done[m], max2(s->ready[d->op_src[0]], s->ready[d->op_src[1]]));
            if (m == DEP_OOO) {
                t = dep_reserve(d->op_unit, t);
            }
            done[m] = t + dep_op_lat(d->op_kind, d->op_unit);
        }
        if (d->dst) {
            s->ready[d->dst] = done[m];
        }
        if (d->dst2) {
            s->ready[d->dst2] = done[m];
        }
        if (d->kind == DEP_BRANCH) {
            s->branch_done = done[m];
        }
        /* When it leaves the pipeline: in order, done; ooo, retired. */
        uint64_t leaves = done[m];
        if (m == DEP_INORDER) {
            s->end = max2(s->end, done[m]);
        } else {
            leaves = max2(s->end, done[m]);
            if (dep_n >= dep_width) {
                leaves = max2(leaves, dep_retire[(dep_n - dep_width) % dep_window] + 1);
            }
            dep_retire[dep_n % dep_window] = leaves;
            s->end = leaves;
            if (d->kind == DEP_LOAD && dep_lq) {
                dep_lq_free[dep_loads_n % dep_lq] = leaves;
            }
        }
        if (buffered) {
            /* Entries free in order: not before the one of the store before. */
            dep_drain_start[m] = max2(leaves, dep_drain_start[m] + dep_drain + dep_drain_busy[m]);
            if (fills) {
                /* Its line (it missed l1d) comes on the loads' fill path, asked for as it
                 * drains. */
                dep_drain_start[m] = dep_fill(m, dep_drain_start[m], fills);
            }
            dep_drain_busy[m] = busy;
            dep_sb_last[m] = max2(dep_sb_last[m], dep_drain_start[m] + drain + busy);
            dep_sb_free[m][dep_stores_n % dep_sb] = dep_sb_last[m];
            drained[m] = dep_sb_last[m];
        }
    }
    if (buffered && !dep_forward) {
        /* No forwarding: a later load of its bytes reads them from the cache. */
        for (int m = 0; m < N_DEP_MODELS; m++) {
            done[m] = dep_sb_free[m][dep_stores_n % dep_sb];
        }
    }
    dep_fetch_stall = 0;
    dep_stores_n += buffered;
    dep_loads_n += d->kind == DEP_LOAD;
    /* Stores, AMOs and read-modify-writes leave data for later loads. */
    if (mem && (d->kind == DEP_STORE || d->writes_mem)) {
        dep_store_record(done, drained, first, end, d->masked_store);
        dep_store_ids++;
    }
    dep_n++;
}

/* Cycles a level's load-to-use latency lat takes beyond l1d's. */
static inline uint64_t dep_beyond_l1(uint64_t lat)
{
    return lat > dep_lat_level[0] ? lat - dep_lat_level[0] : 0;
}

/* The pending memory instruction, with what its accesses told. */
static void dep_flush(void)
{
    const DepInsn *d = dep_pending;
    if (!d) {
        return;
    }
    dep_pending = NULL;
    uint64_t lat = d->kind == DEP_LOAD ? max2(dep_pending_lat, dep_lat_level[0])
                                       : dep_op_lat(d->kind, d->unit);
    uint64_t busy = 0;
    if (d->mem_bytes && dep_pending_end && dep_pending_end - dep_pending_first >= d->mem_bytes) {
        dep_pending_end = dep_pending_first + d->mem_bytes - 1;
    }
    if (d->kind == DEP_STORE && dep_pending_end) {
        uint64_t across = dep_pending_first ^ dep_pending_end;
        busy = across >> 12 ? dep_split_store_page
             : across >> split_line_shift ? dep_split_store_line : 0;
    }
    dep_step(d, lat, dep_pending_first, dep_pending_end,
             dep_drain + dep_beyond_l1(dep_pending_lat), busy,
             (d->kind == DEP_LOAD || d->kind == DEP_STORE) && dep_l1_fill ? dep_pending_fills
                                                                         : 0);
    if (d->masked_store) {
        dep_fetch_stall += dep_masked_store;   /* the next instruction arrives that much later */
    }
    if (d->masked_load && dep_masked_load_page && dep_pending_end &&
        ((dep_pending_first ^ dep_pending_end) >> 12) && !page_touched(dep_pending_end >> 12)) {
        /* Nothing after it dispatches for that long (as after a mispredict). */
        for (int m = 0; m < N_DEP_MODELS; m++) {
            uint64_t at = m == DEP_INORDER ? dep_models[m].last
                                           : dep_dispatch[(dep_n - 1) % dep_width];
            dep_models[m].redirect = max2(dep_models[m].redirect, at + dep_masked_load_page);
        }
        dep_mload_assists_n++;
    }
}

static void vcpu_dep_exec(unsigned int vcpu_index, void *udata)
{
    const DepInsn *d = udata;
    if (!roi_active || vcpu_index != 0) {
        return;
    }
    dep_flush();
    if (d->rep_string) {
        dep_rep_n++;
        return;
    }
    if (d->kind == DEP_LOAD || d->kind == DEP_STORE) {
        dep_pending = d;
        dep_pending_first = 0;
        dep_pending_end = 0;
        dep_pending_lat = 0;
        dep_pending_fills = 0;
        return;
    }
    dep_step(d, dep_op_lat(d->kind, d->unit), 0, 0, 0, 0, 0);
}

/* dep_lat_level's index of the level that served the latest data access. */
static inline int dep_served_level(void)
{
    return !cache_served ? 3 : cache_served == &caches[L1D] ? 0
         : cache_served == &caches[L2] ? 1 : 2;
}

/*
 * One access of the pending instruction: bytes [vaddr, end] from `level`, l1d
 * missed on `missed` lines.
 */
static void dep_access(uint64_t vaddr, uint64_t end, int level, uint64_t missed)
{
    if (!dep_pending) {
        return;
    }
    if (dep_pending_end == 0 || vaddr < dep_pending_first) {
        dep_pending_first = vaddr;
    }
    dep_pending_end = max2(dep_pending_end, end);
    dep_pending_lat = max2(dep_pending_lat, dep_lat_level[level]);
    dep_pending_fills += missed;
}

/* An instruction fetch of `line` missed the first level (served: cache_served). */
static void dep_fetch_missed(uint64_t line)
{
    if (!dep_fetch_stalls || cache_served == insn_entry) {
        return;
    }
    if (dep_fetch_next_line && dep_fetch_next && line == dep_fetch_next) {
        dep_fetch_next = 0;   /* it came with the line before */
        return;
    }
    uint64_t lat = dep_lat_level[dep_served_level()];
    dep_flush();   /* the instructions before it arrived already */
    dep_fetch_stall += dep_beyond_l1(lat);
    dep_fetch_next = line + 1;
}

/* A resolved conditional branch the predictor got wrong: fetch restarts. */
static void dep_mispredicted(void)
{
    dep_mispredicts++;
    for (int m = 0; m < N_DEP_MODELS; m++) {
        DepModel *s = &dep_models[m];
        s->redirect = max2(s->redirect, s->branch_done + dep_mispredict);
    }
}

/* The ROI interval ends: its cycles count. */
static void dep_close(void)
{
    dep_flush();
    for (int m = 0; m < N_DEP_MODELS; m++) {
        dep_cycles[m] += dep_models[m].end;
    }
    dep_insns += dep_n + dep_rep_n;
    dep_split += dep_split_n;
    dep_split_loads += dep_split_loads_n;
    dep_fwd_fails += dep_fwd_fails_n;
    dep_mload_assists += dep_mload_assists_n;
    dep_fill_waits += dep_fill_waits_n;
    dep_fetch_groups += dep_fetch_groups_n;
}

/*
 * StoreLoad (raw=on): a dependency carried through memory, e.g. a loop that
 * adds into C[j] every step and so reloads what the last step stored, costs a
 * real core the store-to-load latency on every step, which no count above
 * shows (llvm-mca assumes loads do not depend on earlier stores). The ROI's
 * stores are numbered (the pieces of one wide store are one store); a
 * direct-mapped table of 4-byte granules keeps the number of the last store
 * to each, and a load (once per access, over its pieces) counts in
 * within_N when fewer than N stores came after the latest store of a granule
 * it reads. A granule whose entry a later store to another granule took over
 * is forgotten (the table holds 2^14 granules, 64 KiB of data).
 */
#define RAW_BITS 14
#define RAW_MASK ((1u << RAW_BITS) - 1)
typedef struct {
    uint64_t granule_plus1;
    uint64_t seq;
} RawEntry;
static RawEntry raw_table[1u << RAW_BITS];
static uint64_t raw_seq;
static uint64_t raw_within[3];       /* 4, 16, 64 */
static bool raw_load_counted;        /* this load access already counted */

static void raw_access(uint64_t vaddr, uint64_t end, bool store, bool continues)
{
    uint64_t first = vaddr >> 2, last = end >> 2;
    if (store) {
        if (!continues) {
            raw_seq++;
        }
        for (uint64_t g = first; g <= last; g++) {
            RawEntry *e = &raw_table[g & RAW_MASK];
            e->granule_plus1 = g + 1;
            e->seq = raw_seq;
        }
        return;
    }
    if (!continues) {
        raw_load_counted = false;
    }
    if (raw_load_counted) {
        return;
    }
    uint64_t best = UINT64_MAX;
    for (uint64_t g = first; g <= last; g++) {
        const RawEntry *e = &raw_table[g & RAW_MASK];
        if (e->granule_plus1 == g + 1 && raw_seq - e->seq < best) {
            best = raw_seq - e->seq;
        }
    }
    if (best < 64) {
        raw_load_counted = true;
        raw_within[2]++;
        raw_within[1] += best < 16;
        raw_within[0] += best < 4;
    }
}
static uint64_t mem_last_end;
static const void *mem_last_site;
static bool splits_joined;

/* Whether this access continues the previous one of the same instruction. */
static inline bool mem_continues(const void *site, uint64_t vaddr)
{
    return splits_joined && vaddr == mem_last_end && site == mem_last_site;
}


/*
 * Cache and reuse counters also move while the model warms up before the ROI;
 * the ROI's share is what they gained between begin and end.
 */
typedef struct {
    uint64_t cache[N_LEVELS][4];
    uint64_t hist[REUSE_BUCKETS + 1];
} ModelCounters;

static ModelCounters model_at_begin, model_in_roi;

static void read_model(ModelCounters *m)
{
    for (int i = 0; i < N_LEVELS; i++) {
        m->cache[i][0] = caches[i].hits[0];
        m->cache[i][1] = caches[i].misses[0];
        m->cache[i][2] = caches[i].hits[1];
        m->cache[i][3] = caches[i].misses[1];
    }
    memcpy(m->hist, reuse.hist, sizeof(m->hist));
}

/* Caches and reuse distances see the program up to the (first) ROI. */
static inline bool warming(void)
{
    return opt_warmup && roi_begins == 0;
}

static void plugin_exit(qemu_plugin_id_t id, void *p);
static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu_index);
static void vcpu_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

static void register_callbacks(qemu_plugin_id_t id)
{
    qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, vcpu_tb_trans);
    qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
}

/* After the flush that qemu_plugin_reset does: the same callbacks again. */
static void after_reset(qemu_plugin_id_t id)
{
    register_callbacks(id);
}

/*
 * warm_file's objects, line by line, through the data caches (as stores: the
 * calls before wrote them) and the reuse distances, before the ROI's counts
 * start; their pages count as touched.
 */
static void warm_touch_objects(void)
{
    for (guint i = 0; warm_objects && i < warm_objects->len; i++) {
        const WarmObject *o = &g_array_index(warm_objects, WarmObject, i);
        uint64_t first = o->addr + elf_load_bias, last = first + o->size - 1;
        if (data_entry) {
            for (uint64_t l = first >> data_shift; l <= last >> data_shift; l++) {
                cache_access_line(data_entry, l, true);
            }
        }
        if (opt_reuse) {
            for (uint64_t l = first >> reuse.line_shift; l <= last >> reuse.line_shift; l++) {
                reuse_access(l);
            }
        }
        if (dep_masked_load_page) {
            for (uint64_t pg = first >> 12; pg <= last >> 12; pg++) {
                touch_page(pg);
            }
        }
    }
}

static void roi_begin(void)
{
    roi_begins++;
    if (roi_active) {
        return;
    }
    roi_active = true;
    mem_fast_now = mem_fast;
    if (undecoded_tbs) {
        /*
         * Takes effect before the next translation block runs: the rest of
         * this marker block is accounted for already.
         */
        undecoded_tbs = 0;
        qemu_plugin_reset(plugin_id, after_reset);
    }
    if (roi_begins == 1) {
        warm_touch_objects();
    }
    read_model(&model_at_begin);
    if (opt_dep) {
        dep_reset();
    }
    for (guint i = 0; i < tbs->len; i++) {
        TbInfo *t = g_ptr_array_index(tbs, i);
        t->mark = t->exec_count;
    }
}

static void mem_sites_flush(void);

static void roi_end(void)
{
    roi_ends++;
    if (!roi_active) {
        return;
    }
    if (opt_dep) {
        dep_close();
    }
    roi_active = false;
    mem_fast_now = false;
    mem_sites_flush();
    ModelCounters now;
    read_model(&now);
    for (int i = 0; i < N_LEVELS; i++) {
        for (int k = 0; k < 4; k++) {
            model_in_roi.cache[i][k] += now.cache[i][k] -
                                        model_at_begin.cache[i][k];
        }
    }
    for (int b = 0; b <= REUSE_BUCKETS; b++) {
        model_in_roi.hist[b] += now.hist[b] - model_at_begin.hist[b];
    }
    for (guint i = 0; i < tbs->len; i++) {
        TbInfo *t = g_ptr_array_index(tbs, i);
        t->roi_execs += t->exec_count - t->mark;
        if (t->undecoded) {
            undecoded_roi_execs += t->exec_count - t->mark;
        }
    }
}

static void resolve_branch(uint64_t next_pc)
{
    const TbInfo *b = pending_branch;
    bool taken = next_pc != b->fallthrough;

    pending_branch = NULL;
    if (taken) {
        cond_taken++;
    } else {
        cond_not_taken++;
    }
    if (opt_bpred) {
        uint64_t before = bpred.mispredicts;
        bpred_update(b->branch_pc, taken);
        if (opt_dep && bpred.mispredicts != before && roi_active) {
            dep_mispredicted();
        }
    }
}

/*
 * A fetch changes the first level only when it misses its set's most recent
 * way; fetch_epoch counts such fetches. A block whose fetches all hit the
 * most recent way remembers the epoch: while it is unchanged, the level is as
 * it was then, and the block's fetches hit the same ways again. Only where the
 * first level for fetches is l1i (fetch_epochs), which data never touch.
 */
static bool fetch_epochs;
static uint64_t fetch_epoch = 1;

/* One fetch of line number `line`; whether it hit the most recent way. */
static inline bool fetch_line(uint64_t line)
{
    Cache *c = insn_entry;
    if (cache_mru_hit(c, line)) {
        c->hits[0]++;
        return true;
    }
    fetch_epoch++;
    cache_access(c, line << c->line_shift, false);
    if (opt_dep && roi_active) {
        dep_fetch_missed(line);
    }
    return false;
}

static void fetch_runs(TbInfo *t)
{
    if (t->fetch_epoch == fetch_epoch) {
        insn_entry->hits[0] += t->n_fetches;
        return;
    }
    bool same = true;
    for (uint32_t i = 0; i < t->n_runs; i++) {
        same &= fetch_line(t->runs[i].line);
        insn_entry->hits[0] += t->runs[i].count - 1;
    }
    if (same && fetch_epochs) {
        t->fetch_epoch = fetch_epoch;
    }
}

static void vcpu_tb_exec(unsigned int vcpu_index, void *udata)
{
    TbInfo *t = udata;

    mem_last_site = NULL;   /* the next access starts an execution: no continuation */
    if (vcpu_index != 0) {
        return;
    }
    if (pending_branch) {
        resolve_branch(t->pc);
    }
    if (!roi_active) {
        if (t->runs && warming()) {
            fetch_runs(t);
        }
        return;
    }
    if (t->runs) {
        fetch_runs(t);
    }
    if (t->ends_cond) {
        pending_branch = t;
    } else if (t->ends_jump && opt_bpred) {
        bpred_jump();
    }
}

static void fetch_insn(const InsnInfo *in)
{
    uint64_t first = in->vaddr >> insn_shift;
    uint64_t last = (in->vaddr + in->size - 1) >> insn_shift;
    for (uint64_t l = first; l <= last; l++) {
        fetch_line(l);
    }
}

static void vcpu_marker_tb_exec(unsigned int vcpu_index, void *udata)
{
    const TbInfo *t = udata;

    mem_last_site = NULL;
    if (vcpu_index != 0) {
        return;
    }
    if (pending_branch) {
        resolve_branch(t->pc);
    }
    for (uint32_t i = 0; i < t->n_insns; i++) {
        const InsnInfo *in = &t->insns[i];
        if (in->marker == MARK_BEGIN) {
            roi_begin();
        } else if (in->marker == MARK_END) {
            roi_end();
        }
        if (!roi_active) {
            if (insn_entry && warming()) {
                fetch_insn(in);
            }
            continue;
        }
        direct_insns++;
        if (in->cls != CLS_COND_BRANCH) {
            direct_classes[in->cls]++;
        } else if (i + 1 < t->n_insns) {
            direct_classes[CLS_BRANCH_NOT_TAKEN]++;
        }
        for (int v = 0; v < N_VEC; v++) {
            direct_vecs[v] += (in->vec >> v) & 1;
        }
        if (insn_entry) {
            fetch_insn(in);
        }
    }
    if (roi_active && t->ends_cond) {
        pending_branch = t;
    } else if (roi_active && t->ends_jump && opt_bpred) {
        bpred_jump();
    }
}

/*
 * vcpu_mem's shortest path (an access in the ROI to the last data line) only
 * counts it in its slot's repeats. Such an access is a load or store of the
 * slot's size, an l1d hit that changes no state, and a reuse at distance 1:
 * the flush adds the repeats to those counters. Flushed before a slot takes
 * another meminfo and when the ROI ends, before the counters are read.
 */
static void mem_site_flush(MemSite *m, int k)
{
    uint64_t n = m->repeats[k];
    if (n) {
        accesses[m->store[k]][m->shift[k] & 7] += n;
        caches[L1D].hits[m->store[k]] += n;
        reuse.hist[0] += n;
        m->repeats[k] = 0;
    }
}

static void mem_sites_flush(void)
{
    for (guint i = 0; i < tbs->len; i++) {
        TbInfo *t = g_ptr_array_index(tbs, i);
        for (uint32_t j = 0; t->sites && j < t->n_insns; j++) {
            mem_site_flush(&t->sites[j], 0);
            mem_site_flush(&t->sites[j], 1);
        }
    }
}

static inline uint64_t mem_site_key(qemu_plugin_meminfo_t info)
{
    return (uint64_t)info | 1ull << 32;
}

/* The slot of m that holds meminfo `info` decoded by QEMU; fills one if new. */
static inline int mem_site_slot(MemSite *m, qemu_plugin_meminfo_t info)
{
    uint64_t key = mem_site_key(info);

    if (m->key[0] == key) {
        return 0;
    }
    if (m->key[1] != key) {
        /*
         * The first value keeps slot 0, later ones take slot 1: a
         * read-modify-write instruction alternates two values.
         */
        int k = m->key[0] != 0;
        mem_site_flush(m, k);
        m->key[k] = key;
        m->shift[k] = qemu_plugin_mem_size_shift(info);
        m->size_m1[k] = (1u << m->shift[k]) - 1;
        m->store[k] = qemu_plugin_mem_is_store(info);
        return k;
    }
    return 1;
}

static __attribute__((noinline)) void
vcpu_mem_general(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
                 uint64_t vaddr, void *udata)
{
    if ((!roi_active && !warming()) || vcpu_index != 0) {
        return;
    }
    MemSite *m = udata;
    int k = mem_site_slot(m, info);
    unsigned int shift = m->shift[k];
    bool store = m->store[k];
    uint64_t end = vaddr + (1ull << shift) - 1;     /* last byte */
    bool continues = mem_continues(m, vaddr);

    mem_last_end = end + 1;
    mem_last_site = m;
    if (opt_raw && roi_active) {
        raw_access(vaddr, end, store, continues);
    }
    if (opt_mem && roi_active) {
        accesses[store][shift & 7]++;
        uint64_t line_mask = (1ull << split_line_shift) - 1;
        if (((vaddr ^ end) >> split_line_shift) || (continues && !(vaddr & line_mask))) {
            line_splits[store]++;
        }
        if (((vaddr ^ end) >> 12) || (continues && !(vaddr & 0xfff))) {
            page_splits[store]++;
        }
    }
    int level = 0;      /* the slowest level that served it (dep=on) */
    uint64_t missed = 0;    /* lines the first level missed on (dep=on) */
    if (data_entry) {
        uint64_t first = vaddr >> data_shift;
        uint64_t last = end >> data_shift;
        for (uint64_t l = first; l <= last; l++) {
            cache_access_line(data_entry, l, store);
            if (opt_dep) {
                int served = dep_served_level();
                level = served > level ? served : level;
                missed += served > 0;
            }
        }
    }
    if (opt_dep && roi_active) {
        dep_access(vaddr, end, level, missed);
    }
    if (opt_reuse) {
        uint64_t first = vaddr >> reuse.line_shift;
        uint64_t last = end >> reuse.line_shift;
        for (uint64_t l = first; l <= last; l++) {
            reuse_access(l);
        }
    }
}

/*
 * What vcpu_mem_general does, for the usual access in the ROI: a meminfo
 * its instruction gave before, one line, and that line either the last data
 * line accessed or in the most recent way of its l1d set. Few registers and
 * tail calls, so no frame to set up. Taken only where mem_fast holds: memory
 * counts on, l1d the first data level, with a power-of-two number of sets,
 * reuse distances on with l1d's line size (so reuse.top[0] is the last data
 * line, which l1d holds: it allocates on every miss, and a hit on it changes
 * nothing under LRU, where it is the most recent way, nor under FIFO or
 * random, where hits never change a set).
 */
static void vcpu_mem(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
                     uint64_t vaddr, void *udata)
{
    MemSite *m = udata;
    uint64_t key = mem_site_key(info);
    int k = m->key[0] != key;

    if (dep_masked_load_page && !m->masked_load) {
        touch_page(vaddr >> 12);
    }
    if (__builtin_expect(mem_fast_now && vcpu_index == 0 && m->key[k] == key,
                         1)) {
        /*
         * One line: the first and last byte differ only below the line size;
         * and not a piece that continues an access across a line (a split,
         * counted in vcpu_mem_general).
         */
        if (((vaddr ^ (vaddr + m->size_m1[k])) >> data_shift) == 0 &&
            !(mem_continues(m, vaddr) && !(vaddr & ((1ull << data_shift) - 1)))) {
            uint64_t line = vaddr >> data_shift;
            unsigned int shift = m->shift[k];
            bool store = m->store[k];
            Cache *c = &caches[L1D];
            mem_last_end = vaddr + m->size_m1[k] + 1;
            mem_last_site = m;
            if (reuse.top[0].key == line + 1) {
                m->repeats[k]++;        /* see mem_site_flush */
                return;
            }
            if (c->tags[(line & c->set_mask) * c->ways] == line + 1) {
                accesses[store][shift & 7]++;
                c->hits[store]++;
                reuse_access_below(line);
                return;
            }
        }
    }
    vcpu_mem_general(vcpu_index, info, vaddr, udata);
}

/* ------------------------------------------------------------------------ */
/* ELF symbols                                                              */

/*
 * The guest binary as the symbol lookup reads it. Every offset and size comes
 * from the file and is checked against its real size before use, and every
 * read is checked: a damaged ELF gives an error naming what is wrong, never a
 * huge allocation, a read past the end or a loop over a bogus count.
 */
typedef struct ElfFile {
    FILE *f;
    const char *path;
    uint64_t size;
    char *err;
    size_t err_len;
} ElfFile;

/* True when [off, off + n) lies inside the file; the sum cannot wrap. */
static bool elf_in_file(const ElfFile *e, uint64_t off, uint64_t n)
{
    return off <= e->size && n <= e->size - off;
}

static bool elf_read(ElfFile *e, uint64_t off, void *buf, uint64_t n,
                     const char *what)
{
    if (!elf_in_file(e, off, n)) {
        snprintf(e->err, e->err_len, "%s: %s (offset %" PRIu64 ", %" PRIu64
                 " bytes) extends past the end of the file (%" PRIu64
                 " bytes)", e->path, what, off, n, e->size);
        return false;
    }
    if (fseeko(e->f, (off_t)off, SEEK_SET) != 0 ||
        fread(buf, 1, n, e->f) != n) {
        snprintf(e->err, e->err_len, "%s: cannot read %s (offset %" PRIu64
                 ", %" PRIu64 " bytes): %s", e->path, what, off, n,
                 ferror(e->f) ? strerror(errno) : "unexpected end of file");
        return false;
    }
    return true;
}

/*
 * Checks a table of `count` entries of `entsize` bytes (which must be
 * `expected`) at `off`, so that reading entry i at off + i * entsize is safe.
 */
static bool elf_check_table(ElfFile *e, uint64_t off, uint64_t count,
                            uint64_t entsize, uint64_t expected,
                            const char *what)
{
    if (count == 0) {
        return true;
    }
    if (entsize != expected) {
        snprintf(e->err, e->err_len, "%s: %s: entry size %" PRIu64
                 "; expected %" PRIu64, e->path, what, entsize, expected);
        return false;
    }
    /* count < 2^32 and entsize < 2^16 here: the product cannot wrap. */
    if (!elf_in_file(e, off, count * entsize)) {
        snprintf(e->err, e->err_len, "%s: %s (offset %" PRIu64 ", %" PRIu64
                 " entries of %" PRIu64 " bytes) extends past the end of "
                 "the file (%" PRIu64 " bytes)", e->path, what, off, count,
                 entsize, e->size);
        return false;
    }
    return true;
}

/* Looks for the ROI markers in one SHT_SYMTAB section. */
static bool elf_scan_symtab(ElfFile *e, const Elf64_Shdr *shdrs,
                            uint16_t shnum, uint16_t index,
                            uint64_t *begin, bool *found_begin,
                            uint64_t *end, bool *found_end)
{
    const Elf64_Shdr *sh = &shdrs[index];
    char what[64];

    snprintf(what, sizeof(what), "section %u (symbol table)", index);
    if (sh->sh_entsize != sizeof(Elf64_Sym)) {
        snprintf(e->err, e->err_len, "%s: %s: entry size %" PRIu64
                 "; expected %zu", e->path, what, (uint64_t)sh->sh_entsize,
                 sizeof(Elf64_Sym));
        return false;
    }
    if (!elf_in_file(e, sh->sh_offset, sh->sh_size)) {
        snprintf(e->err, e->err_len, "%s: %s (offset %" PRIu64 ", %" PRIu64
                 " bytes) extends past the end of the file (%" PRIu64
                 " bytes)", e->path, what, (uint64_t)sh->sh_offset,
                 (uint64_t)sh->sh_size, e->size);
        return false;
    }
    if (sh->sh_link == 0 || sh->sh_link >= shnum) {
        snprintf(e->err, e->err_len, "%s: %s: string table index %u is out "
                 "of range (%u sections)", e->path, what, sh->sh_link, shnum);
        return false;
    }
    const Elf64_Shdr *strsh = &shdrs[sh->sh_link];
    char strwhat[64];
    snprintf(strwhat, sizeof(strwhat), "section %u (string table)",
             sh->sh_link);
    if (strsh->sh_type != SHT_STRTAB) {
        snprintf(e->err, e->err_len, "%s: %s: section %u is not a string "
                 "table (type %u)", e->path, what, sh->sh_link,
                 strsh->sh_type);
        return false;
    }
    /* In the file, so the allocation is bounded by the file's size. */
    if (!elf_in_file(e, strsh->sh_offset, strsh->sh_size)) {
        snprintf(e->err, e->err_len, "%s: %s (offset %" PRIu64 ", %" PRIu64
                 " bytes) extends past the end of the file (%" PRIu64
                 " bytes)", e->path, strwhat, (uint64_t)strsh->sh_offset,
                 (uint64_t)strsh->sh_size, e->size);
        return false;
    }
    char *strtab = g_malloc(strsh->sh_size + 1);
    if (!elf_read(e, strsh->sh_offset, strtab, strsh->sh_size, strwhat)) {
        g_free(strtab);
        return false;
    }
    strtab[strsh->sh_size] = '\0';
    uint64_t n = sh->sh_size / sizeof(Elf64_Sym);
    bool ok = true;
    bool in_warm_file = false;   /* the locals after warm_file's STT_FILE symbol */
    for (uint64_t k = 0; k < n; k++) {
        Elf64_Sym sym;
        if (!elf_read(e, sh->sh_offset + k * sizeof(Elf64_Sym), &sym,
                      sizeof(sym), what)) {
            ok = false;
            break;
        }
        if (sym.st_name >= strsh->sh_size) {
            continue;
        }
        if (warm_file && ELF64_ST_TYPE(sym.st_info) == STT_FILE) {
            const char *file = strtab + sym.st_name;
            const char *base = strrchr(file, '/');
            in_warm_file = strcmp(base ? base + 1 : file, warm_file) == 0;
            continue;
        }
        if (in_warm_file && ELF64_ST_TYPE(sym.st_info) == STT_OBJECT &&
            ELF64_ST_BIND(sym.st_info) == STB_LOCAL && sym.st_value && sym.st_size &&
            sym.st_size <= WARM_MAX_BYTES - warm_bytes) {
            WarmObject o = { sym.st_value, sym.st_size };
            g_array_append_val(warm_objects, o);
            warm_bytes += sym.st_size;
        }
        if (sym.st_value == 0 || ELF64_ST_TYPE(sym.st_info) != STT_FUNC) {
            continue;
        }
        const char *name = strtab + sym.st_name;
        if (strcmp(name, "simtune_roi_begin") == 0) {
            *begin = sym.st_value;
            *found_begin = true;
        } else if (strcmp(name, "simtune_roi_end") == 0) {
            *end = sym.st_value;
            *found_end = true;
        }
    }
    g_free(strtab);
    return ok;
}

static bool elf_find_roi(ElfFile *e, uint64_t *begin, uint64_t *end,
                         uint64_t *min_exec)
{
    Elf64_Ehdr eh;
    bool found_begin = false, found_end = false;
    Elf64_Shdr *shdrs = NULL;
    bool ok = false;

    if (e->size < sizeof(eh) ||
        !elf_read(e, 0, &eh, sizeof(eh), "ELF header") ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB) {
        snprintf(e->err, e->err_len, "%s: not a little-endian 64-bit ELF file",
                 e->path);
        return false;
    }
    if (!elf_check_table(e, eh.e_phoff, eh.e_phnum, eh.e_phentsize,
                         sizeof(Elf64_Phdr), "program header table") ||
        !elf_check_table(e, eh.e_shoff, eh.e_shnum, eh.e_shentsize,
                         sizeof(Elf64_Shdr), "section header table")) {
        return false;
    }
    *min_exec = UINT64_MAX;
    for (uint16_t i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (!elf_read(e, eh.e_phoff + (uint64_t)i * sizeof(ph), &ph,
                      sizeof(ph), "program header")) {
            return false;
        }
        if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
            ph.p_vaddr < *min_exec) {
            *min_exec = ph.p_vaddr;
        }
    }
    if (eh.e_shnum > 0) {
        shdrs = g_new(Elf64_Shdr, eh.e_shnum);
        if (!elf_read(e, eh.e_shoff, shdrs,
                      (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr),
                      "section header table")) {
            goto out;
        }
    }
    for (uint16_t i = 0; i < eh.e_shnum; i++) {
        if (shdrs[i].sh_type == SHT_SYMTAB &&
            !elf_scan_symtab(e, shdrs, eh.e_shnum, i, begin, &found_begin,
                             end, &found_end)) {
            goto out;
        }
    }
    if (!found_begin || !found_end) {
        snprintf(e->err, e->err_len,
                 "%s: no function '%s' in the ELF symbol table (stripped "
                 "binary?); roi=off counts the whole program",
                 e->path,
                 found_begin ? "simtune_roi_end" : "simtune_roi_begin");
        goto out;
    }
    if (*min_exec == UINT64_MAX) {
        snprintf(e->err, e->err_len, "%s: no executable segment", e->path);
        goto out;
    }
    ok = true;
out:
    g_free(shdrs);
    return ok;
}

/*
 * Finds simtune_roi_begin/simtune_roi_end in the symbol table and the lowest
 * executable segment address; QEMU reports where that segment was loaded
 * (qemu_plugin_start_code), which gives the load bias for PIE binaries.
 */
static bool resolve_roi_symbols(const char *path, char *err, size_t err_len)
{
    ElfFile e = { .path = path, .err = err, .err_len = err_len };
    struct stat st;
    uint64_t begin = 0, end = 0, min_exec = UINT64_MAX;

    e.f = fopen(path, "rb");
    if (!e.f) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    if (fstat(fileno(e.f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s: not a regular file", path);
        fclose(e.f);
        return false;
    }
    e.size = (uint64_t)st.st_size;
    bool ok = elf_find_roi(&e, &begin, &end, &min_exec);
    fclose(e.f);
    if (!ok) {
        return false;
    }
    /* System mode: a bare-metal ELF runs at its link addresses. */
    uint64_t bias = system_mode ? 0 : qemu_plugin_start_code() - min_exec;
    elf_load_bias = bias;
    roi_begin_addr = begin + bias;
    roi_end_addr = end + bias;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Translation                                                              */

static void vcpu_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    TbInfo *t = g_new0(TbInfo, 1);
    InsnInfo *insns = g_new0(InsnInfo, n);
    bool has_marker = false;
    bool fetch = insn_entry != NULL;
    /* Counting instructions alone needs no decoding (x86 disassembles). */
    bool decode = opt_classes || opt_bpred || opt_mem || opt_cache || opt_reuse || opt_raw ||
                  opt_dep;

    if (opt_roi && !symbols_resolved) {
        char *path = elf_path ? g_strdup(elf_path)
                              : (char *)qemu_plugin_path_to_binary();
        char err[1024];
        bool ok = resolve_roi_symbols(path, err, sizeof(err));
        g_free(path);
        if (!ok) {
            /* Too late to fail qemu_plugin_install: stop loudly instead. */
            fprintf(stderr, PFX "%s\n", err);
            exit(1);
        }
        symbols_resolved = true;
    }

    /* Outside the ROI only the cache warm-up needs anything, and not the classes. */
    if (decode && isa == ISA_X86_64 && opt_roi && !roi_active) {
        bool marker_tb = false;
        for (size_t i = 0; i < n; i++) {
            uint64_t va = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, i));
            marker_tb |= va == roi_begin_addr || va == roi_end_addr;
        }
        if (!marker_tb) {
            decode = false;
            t->undecoded = true;
            undecoded_tbs++;
        }
    }

    t->pc = qemu_plugin_tb_vaddr(tb);
    t->n_insns = n;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        InsnInfo *in = &insns[i];
        Decoded d;

        in->vaddr = qemu_plugin_insn_vaddr(insn);
        in->size = qemu_plugin_insn_size(insn);
        if (t->undecoded) {
            d = decoded(CLS_OTHER, true);     /* any access, for the warm-up */
        } else if (!decode) {
            d = decoded(CLS_OTHER, false);
        } else if (isa == ISA_X86_64) {
            char *dis = qemu_plugin_insn_disas(insn);
            d = decode_x86_64(dis ? dis : "");
            if (opt_dep) {
                if (!t->deps) {
                    t->deps = g_new0(DepInsn, n);
                }
                t->deps[i] = dep_decode_x86_64(dis ? dis : "");
                t->deps[i].pc = in->vaddr;
                t->deps[i].size = (uint8_t)in->size;
            }
            g_free(dis);
        } else if (isa == ISA_RISCV64) {
            d = decode_riscv64(qemu_plugin_insn_data(insn), in->size);
        } else {
            d = decode_aarch64(qemu_plugin_insn_data(insn));
        }
        in->cls = d.cls;
        in->vec = d.vec;
        for (int v = 0; v < N_VEC; v++) {
            t->vecs[v] += (d.vec >> v) & 1;
        }
        if (opt_roi && in->vaddr == roi_begin_addr) {
            in->marker = MARK_BEGIN;
            has_marker = true;
        } else if (opt_roi && in->vaddr == roi_end_addr) {
            in->marker = MARK_END;
            has_marker = true;
        }
        if (d.cls == CLS_COND_BRANCH) {
            if (i + 1 == n) {
                t->ends_cond = true;
                t->branch_pc = in->vaddr;
                t->fallthrough = in->vaddr + in->size;
            } else {
                /* Execution went on in this TB: the branch fell through. */
                t->classes[CLS_BRANCH_NOT_TAKEN]++;
            }
        } else {
            t->classes[d.cls]++;
            t->ends_jump = d.cls == CLS_JUMP && i + 1 == n;
        }
        if (opt_dep && isa == ISA_RISCV64) {
            if (!t->deps) {
                t->deps = g_new0(DepInsn, n);
            }
            t->deps[i] = dep_decode_riscv64(qemu_plugin_insn_data(insn), in->size);
            t->deps[i].pc = in->vaddr;
            t->deps[i].size = (uint8_t)in->size;
        }
        if (t->deps && decode) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, vcpu_dep_exec,
                                                   QEMU_PLUGIN_CB_NO_REGS,
                                                   &t->deps[i]);
        }
        if ((opt_mem || opt_cache || opt_reuse || opt_raw || opt_dep) &&
            (d.mem || opt_mem_all)) {
            if (!t->sites) {
                t->sites = g_new0(MemSite, n);
            }
            t->sites[i].masked_load = t->deps && t->deps[i].masked_load;
            qemu_plugin_register_vcpu_mem_cb(insn, vcpu_mem,
                                             QEMU_PLUGIN_CB_NO_REGS,
                                             QEMU_PLUGIN_MEM_RW, &t->sites[i]);
        }
    }

    if (has_marker) {
        /* Rare (the two ROI functions): exact per-instruction accounting. */
        t->insns = insns;
        qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_marker_tb_exec,
                                             QEMU_PLUGIN_CB_NO_REGS, t);
    } else {
        if (fetch) {
            GArray *runs = g_array_new(false, false, sizeof(FetchRun));
            for (size_t i = 0; i < n; i++) {
                uint64_t first = insns[i].vaddr >> insn_shift;
                uint64_t last = (insns[i].vaddr + insns[i].size - 1) >>
                                insn_shift;
                for (uint64_t l = first; l <= last; l++) {
                    FetchRun *r = runs->len ?
                        &g_array_index(runs, FetchRun, runs->len - 1) : NULL;
                    if (r && r->line == l) {
                        r->count++;
                    } else {
                        FetchRun nr = { l, 1 };
                        g_array_append_val(runs, nr);
                    }
                }
            }
            t->n_runs = runs->len;
            for (guint r = 0; r < runs->len; r++) {
                t->n_fetches += g_array_index(runs, FetchRun, r).count;
            }
            t->runs = (FetchRun *)g_array_free(runs, false);
        }
        g_free(insns);
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                                 &t->exec_count, 1);
        if (opt_classes || opt_bpred || fetch) {
            qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_tb_exec,
                                                 QEMU_PLUGIN_CB_NO_REGS, t);
        }
    }
    g_ptr_array_add(tbs, t);
}

static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu_index)
{
    if (vcpu_index + 1 > vcpus_seen) {
        vcpus_seen = vcpu_index + 1;
    }
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

static void json_u64(GString *s, const char *key, uint64_t v, bool comma)
{
    g_string_append_printf(s, "\"%s\":%" PRIu64 "%s", key, v, comma ? "," : "");
}

static void json_string(GString *s, const char *key, const char *v)
{
    g_string_append_printf(s, "\"%s\":\"", key);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            g_string_append_printf(s, "\\%c", *p);
        } else if ((unsigned char)*p < 0x20) {
            g_string_append_printf(s, "\\u%04x", *p);
        } else {
            g_string_append_c(s, *p);
        }
    }
    g_string_append(s, "\",");
}

/* ------------------------------------------------------------------------ */
/* Translation-block profile (tbs=on): self-contained, read at exit only.    */

typedef struct {
    uint64_t addr;
    uint32_t n_insns;
    uint64_t execs;
} TbProfileRow;

static gint tb_profile_cmp(gconstpointer a, gconstpointer b)
{
    const TbProfileRow *x = a, *y = b;
    if (x->addr != y->addr) {
        return x->addr < y->addr ? -1 : 1;
    }
    return x->n_insns < y->n_insns ? -1 : x->n_insns > y->n_insns;
}

/* Appends "tbs":{...}, to s: ROI executions per block, retranslations merged. */
static void tb_profile(GString *s)
{
    GArray *rows = g_array_new(false, false, sizeof(TbProfileRow));
    for (guint i = 0; i < tbs->len; i++) {
        const TbInfo *t = g_ptr_array_index(tbs, i);
        if (t->roi_execs && !t->insns) {
            TbProfileRow r = { t->pc - elf_load_bias, t->n_insns, t->roi_execs };
            g_array_append_val(rows, r);
        }
    }
    g_array_sort(rows, tb_profile_cmp);
    g_string_append_printf(s, "\"tbs\":{\"load_bias\":%" PRIu64
                           ",\"marker_insns\":%" PRIu64 ",\"blocks\":[",
                           elf_load_bias, direct_insns);
    bool first = true;
    for (guint i = 0; i < rows->len; i++) {
        TbProfileRow *r = &g_array_index(rows, TbProfileRow, i);
        if (i + 1 < rows->len) {
            TbProfileRow *next = &g_array_index(rows, TbProfileRow, i + 1);
            if (next->addr == r->addr && next->n_insns == r->n_insns) {
                next->execs += r->execs;
                continue;
            }
        }
        g_string_append_printf(s, "%s[%" PRIu64 ",%" PRIu32 ",%" PRIu64 "]",
                               first ? "" : ",", r->addr, r->n_insns, r->execs);
        first = false;
    }
    g_string_append(s, "]},");
    g_array_free(rows, true);
}

static void plugin_exit(qemu_plugin_id_t id, void *p)
{
    uint64_t insn_count = direct_insns;
    uint64_t classes[N_CLASSES];
    uint64_t vecs[N_VEC];
    GString *s = g_string_new("{");

    if (roi_active) {
        roi_end();
        roi_ends--;
        roi_closed_at_exit = true;
    }
    memcpy(classes, direct_classes, sizeof(classes));
    memcpy(vecs, direct_vecs, sizeof(vecs));
    for (guint i = 0; i < tbs->len; i++) {
        const TbInfo *t = g_ptr_array_index(tbs, i);
        if (!t->roi_execs) {
            continue;
        }
        insn_count += t->roi_execs * t->n_insns;
        for (int c = 0; c < N_CLASSES; c++) {
            classes[c] += t->roi_execs * t->classes[c];
        }
        for (int v = 0; v < N_VEC; v++) {
            vecs[v] += t->roi_execs * t->vecs[v];
        }
    }
    classes[CLS_BRANCH_TAKEN] += cond_taken;
    classes[CLS_BRANCH_NOT_TAKEN] += cond_not_taken;

    json_u64(s, "schema_version", 1, true);
    json_string(s, "simulator", "qemu");
    json_u64(s, "insn_count", insn_count, true);
    if (opt_classes) {
        g_string_append(s, "\"classes\":{");
        for (int c = 0; c < N_CLASSES; c++) {
            json_u64(s, class_names[c], classes[c], c + 1 < N_CLASSES);
        }
        g_string_append(s, "},");
    }
    if (opt_mem) {
        uint64_t n[2] = { 0, 0 }, bytes[2] = { 0, 0 };
        for (int d = 0; d < 2; d++) {
            for (int i = 0; i < 8; i++) {
                n[d] += accesses[d][i];
                bytes[d] += accesses[d][i] << i;
            }
        }
        json_u64(s, "loads", n[0], true);
        json_u64(s, "stores", n[1], true);
        json_u64(s, "load_bytes", bytes[0], true);
        json_u64(s, "store_bytes", bytes[1], true);
        g_string_append(s, "\"accesses_by_size\":{");
        bool first = true;
        for (int i = 0; i < 8; i++) {
            uint64_t k = accesses[0][i] + accesses[1][i];
            if (k) {
                g_string_append_printf(s, "%s\"%d\":%" PRIu64, first ? "" : ",",
                                       1 << i, k);
                first = false;
            }
        }
        g_string_append(s, "},");
    }
    if (opt_cache) {
        g_string_append(s, "\"caches\":[");
        bool first = true;
        for (int i = 0; i < N_LEVELS; i++) {
            const Cache *c = &caches[i];
            if (!c->enabled) {
                continue;
            }
            g_string_append_printf(s, "%s{\"level\":\"%s\",", first ? "" : ",",
                                   c->name);
            json_u64(s, "read_hits", model_in_roi.cache[i][0], true);
            json_u64(s, "read_misses", model_in_roi.cache[i][1], true);
            json_u64(s, "write_hits", model_in_roi.cache[i][2], true);
            json_u64(s, "write_misses", model_in_roi.cache[i][3], false);
            g_string_append(s, "}");
            first = false;
        }
        g_string_append(s, "],");
    }
    if (opt_classes || opt_bpred) {
        json_u64(s, "branches", cond_taken + cond_not_taken, true);
    }
    if (opt_bpred) {
        json_u64(s, "branch_mispredicts", bpred.mispredicts, true);
    }
    if (opt_reuse) {
        g_string_append(s, "\"reuse_log2\":[");
        for (int i = 0; i <= REUSE_BUCKETS; i++) {
            g_string_append_printf(s, "%" PRIu64 "%s", model_in_roi.hist[i],
                                   i < REUSE_BUCKETS ? "," : "");
        }
        g_string_append(s, "],");
    }

    g_string_append(s, "\"extra\":{");
    json_string(s, "isa", isa == ISA_RISCV64 ? "riscv64" :
                isa == ISA_AARCH64 ? "aarch64" : "x86_64");
    json_string(s, "roi", opt_roi ? "symbols" : "all");
    json_string(s, "emulation", system_mode ? "system" : "user");
    json_u64(s, "roi_begins", roi_begins, true);
    json_u64(s, "roi_ends", roi_ends, true);
    g_string_append_printf(s, "\"roi_closed_at_exit\":%s,",
                           roi_closed_at_exit ? "true" : "false");
    g_string_append_printf(s, "\"warmup\":%s,", opt_warmup ? "true" : "false");
    if (warm_file) {
        g_string_append(s, "\"warm_objects\":{");
        json_string(s, "file", warm_file);
        json_u64(s, "objects", warm_objects ? warm_objects->len : 0, true);
        json_u64(s, "bytes", warm_bytes, false);
        g_string_append(s, "},");
    }
    json_u64(s, "vcpus", vcpus_seen, true);
    json_u64(s, "translations", tbs->len, true);
    if (undecoded_roi_execs) {
        json_u64(s, "undecoded_roi_execs", undecoded_roi_execs, true);
    }
    if (opt_classes && isa == ISA_X86_64) {
        g_string_append(s, "\"vector\":{");
        for (int v = 0; v < N_VEC; v++) {
            json_u64(s, vec_names[v], vecs[v], v + 1 < N_VEC);
        }
        g_string_append(s, "},");
    }
    if (opt_dep) {
        g_string_append(s, "\"dep\":{");
        json_u64(s, "inorder_cycles", dep_cycles[DEP_INORDER], true);
        json_u64(s, "ooo_cycles", dep_cycles[DEP_OOO], true);
        json_u64(s, "insns", dep_insns, true);
        json_u64(s, "mispredicts", dep_mispredicts, true);
        if (dep_forward_fail_set[0] || dep_forward_fail_set[1] || dep_forward_fail_drain) {
            /* Only when set: records from before the option match. */
            json_u64(s, "forward_fails", dep_fwd_fails, true);
        }
        if (dep_masked_load_page) {
            json_u64(s, "masked_load_assists", dep_mload_assists, true);
        }
        if (dep_l1_fill) {
            /* Cycles (ooo) loads waited for the l1d fill path. */
            json_u64(s, "fill_waits", dep_fill_waits, true);
        }
        if (dep_split_load) {
            /* Loads (ooo) across two lines, charged dep_split_load more slots. */
            json_u64(s, "split_loads", dep_split_loads, true);
        }
        if (dep_fetch_width) {
            /* Fetch groups (ooo), the ones that only fetch a line included. */
            json_u64(s, "fetch_groups", dep_fetch_groups, true);
        }
        json_u64(s, "split_stores", dep_split, false);
        g_string_append(s, "},\"dep_config\":{");
        json_u64(s, "width", dep_width, true);
        json_u64(s, "window", dep_window, true);
        json_u64(s, "issue", dep_issue, true);
        json_u64(s, "mispredict", dep_mispredict, true);
        json_u64(s, "store_buffer", dep_sb, true);
        json_u64(s, "load_queue", dep_lq, true);
        g_string_append_printf(s, "\"fetch_next_line\":%s,", dep_fetch_next_line ? "true" : "false");
        g_string_append_printf(s, "\"forward\":%s,", dep_forward ? "true" : "false");
        if (!dep_fetch_stalls) {
            /* Only when off: records from before the option (all with stalls) match. */
            g_string_append(s, "\"fetch_stalls\":false,");
        }
        if (dep_fetch_width) {
            /* Only when set: records from before the option match. */
            json_u64(s, "fetch_width", dep_fetch_width, true);
        }
        if (dep_forward_fail_drain) {
            /* Only when on: records from before the option match. */
            g_string_append(s, "\"forward_fail_drain\":true,");
        }
        if (dep_inorder_fetch) {
            /* Only when on: records from before the option match. */
            g_string_append(s, "\"inorder_fetch\":true,");
        }
        if (dep_split_store_line || dep_split_store_page) {
            /* Only when set: records from before the options match. */
            json_u64(s, "split_store_line", dep_split_store_line, true);
            json_u64(s, "split_store_page", dep_split_store_page, true);
        }
        for (size_t o = 0; o < G_N_ELEMENTS(dep_cycle_opts); o++) {
            if (*dep_cycle_opts[o].cycles) {
                json_u64(s, dep_cycle_opts[o].name, *dep_cycle_opts[o].cycles, true);
            }
        }
        if (isa == ISA_X86_64) {
            /* Scalar SSE/AVX operands read their own bytes (DepInsn.mem_bytes), since
             * 2026-12-06: x86 records from before differ and do not match. */
            g_string_append(s, "\"scalar_bytes\":true,");
        }
        for (size_t o = 0; o < G_N_ELEMENTS(dep_class_lats); o++) {
            for (int cls = 0; cls < 2; cls++) {
                if (dep_class_lats[o].set[cls]) {
                    char name[32];
                    snprintf(name, sizeof name, "%s_%s", dep_class_lats[o].config,
                             dep_class_names[cls]);
                    json_u64(s, name, dep_class_lats[o].lat[cls], true);
                }
            }
        }
        json_u64(s, "lat_drain", dep_drain, true);
        for (int k = 0; k < N_DEP_KINDS; k++) {
            if (dep_lat_names[k]) {
                json_u64(s, dep_lat_names[k] + 4, dep_lat[k], true);
            }
        }
        for (int k = 0; k < 2; k++) {
            if (dep_fp_unit_lat_set[k]) {
                json_u64(s, dep_fp_unit_lat_names[k], dep_fp_unit_lat[k], true);
            }
        }
        for (int k = 0; k < N_UNITS; k++) {
            json_u64(s, dep_unit_names[k] + 4, dep_units[k], true);
        }
        for (int k = 0; k < 4; k++) {
            json_u64(s, dep_level_names[k] + 4, dep_lat_level[k], k + 1 < 4);
        }
        g_string_append(s, "},");
    }
    if (opt_raw) {
        g_string_append(s, "\"store_load\":{");
        json_u64(s, "within_4", raw_within[0], true);
        json_u64(s, "within_16", raw_within[1], true);
        json_u64(s, "within_64", raw_within[2], false);
        g_string_append(s, "},");
    }
    if (opt_mem) {
        g_string_append(s, "\"splits\":{");
        json_u64(s, "line_loads", line_splits[0], true);
        json_u64(s, "line_stores", line_splits[1], true);
        json_u64(s, "page_loads", page_splits[0], true);
        json_u64(s, "page_stores", page_splits[1], true);
        g_string_append_printf(s, "\"pieces_joined\":%s",
                               splits_joined ? "true" : "false");
        g_string_append(s, "},");
    }
    if (opt_cache) {
        g_string_append(s, "\"cache_config\":{");
        bool first = true;
        for (int i = 0; i < N_LEVELS; i++) {
            const Cache *c = &caches[i];
            if (!c->enabled) {
                continue;
            }
            g_string_append_printf(s, "%s\"%s\":{\"size\":%" PRIu64
                                   ",\"ways\":%" PRIu64 ",\"line\":%" PRIu64
                                   ",\"policy\":\"%s\"}",
                                   first ? "" : ",", c->name, c->size, c->ways,
                                   c->line, policy_names[c->policy]);
            first = false;
        }
        g_string_append(s, "},");
    }
    if (opt_bpred) {
        static const char *const kinds[] = { "bimodal", "gshare",
                                             "tournament", "tage" };
        g_string_append_printf(s, "\"bpred\":{\"kind\":\"%s\",\"entries\":%"
                               PRIu64 ",\"history_bits\":%" PRIu64,
                               kinds[bpred.kind], bpred.entries,
                               bpred.history_bits);
        if (bpred.kind == BP_TOURNAMENT) {
            g_string_append_printf(s, ",\"local_entries\":%" PRIu64
                                   ",\"local_counters\":%" PRIu64,
                                   bpred.local_entries, bpred.local_counters);
        }
        if (bpred.kind == BP_TAGE) {
            g_string_append_printf(s, ",\"tagged_entries\":%" PRIu64
                                   ",\"tables\":%" PRIu64
                                   ",\"max_history\":%" PRIu64,
                                   bpred.tagged_entries, bpred.tables,
                                   bpred.max_history);
        }
        g_string_append(s, "},");
    }
    if (opt_reuse) {
        json_u64(s, "reuse_line_bytes", opt_reuse_line, true);
        json_u64(s, "reuse_lines", reuse.lines, true);
    }
    if (opt_tbs) {
        tb_profile(s);
    }
    json_string(s, "plugin", "simtune_qemu 1");
    g_string_truncate(s, s->len - 1);
    g_string_append(s, "}}\n");

    if (out_file) {
        if (fputs(s->str, out_file) == EOF || fclose(out_file) != 0) {
            fprintf(stderr, PFX "out: cannot write '%s': %s\n", out_path,
                    strerror(errno));
        }
        out_file = NULL;
    } else {
        qemu_plugin_outs(s->str);
    }
    g_string_free(s, true);
}

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

static bool parse_u64(const char *key, const char *val, uint64_t *out)
{
    char *end;
    if (!*val || *val < '0' || *val > '9') {
        fprintf(stderr, PFX "%s: expected a number; got '%s'\n", key, val);
        return false;
    }
    errno = 0;
    unsigned long long v = strtoull(val, &end, 10);
    if (*end || errno == ERANGE) {
        fprintf(stderr, PFX "%s: expected a number; got '%s'\n", key, val);
        return false;
    }
    *out = v;
    return true;
}

/*
 * Caps on what the models allocate and loop over, so that a huge value is an
 * error naming the option rather than an abort in GLib or an hours-long run.
 * The cache caps match data/targets (src/targets/target.cc).
 */
#define MAX_LINE_BYTES 4096ull
#define MAX_DEP_WIDTH 16ull
#define MAX_DEP_WINDOW 4096ull
#define MAX_DEP_LATENCY 100000ull
#define MAX_WAYS 1024ull
#define MAX_CACHE_BYTES (1ull << 30)
#define MAX_CACHE_LINES (1ull << 24)    /* 128 MiB of tags per level */
#define MAX_BPRED_ENTRIES (1ull << 24)
#define MAX_BPRED_HISTORY 32ull

/* A number in [min, max], a power of two when pow2; errors name key, value. */
static bool parse_u64_in(const char *key, const char *val, uint64_t min,
                         uint64_t max, bool pow2, uint64_t *out)
{
    uint64_t v;

    if (!parse_u64(key, val, &v)) {
        return false;
    }
    if (pow2 && log2_exact(v) < 0) {
        fprintf(stderr, PFX "%s: must be a power of two; got %s\n", key, val);
        return false;
    }
    if (v < min) {
        fprintf(stderr, PFX "%s: must be at least %" PRIu64 "; got %s\n", key,
                min, val);
        return false;
    }
    if (v > max) {
        fprintf(stderr, PFX "%s: must be at most %" PRIu64 "; got %s\n", key,
                max, val);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_bool(const char *key, const char *val, bool *out)
{
    if (!strcmp(val, "on") || !strcmp(val, "true") || !strcmp(val, "yes")) {
        *out = true;
        return true;
    }
    if (!strcmp(val, "off") || !strcmp(val, "false") || !strcmp(val, "no")) {
        *out = false;
        return true;
    }
    fprintf(stderr, PFX "%s: expected on or off; got '%s'\n", key, val);
    return false;
}

static bool parse_choice(const char *key, const char *val,
                         const char *const *names, int *out)
{
    GString *valid = g_string_new("");
    for (int i = 0; names[i]; i++) {
        if (!strcmp(val, names[i])) {
            *out = i;
            g_string_free(valid, true);
            return true;
        }
        g_string_append_printf(valid, "%s%s", i ? ", " : "", names[i]);
    }
    fprintf(stderr, PFX "%s: expected one of %s; got '%s'\n", key, valid->str,
            val);
    g_string_free(valid, true);
    return false;
}

static bool parse_path(const char *key, const char *val, char **out)
{
    if (!*val) {
        fprintf(stderr, PFX "%s: expected a file path; got ''\n", key);
        return false;
    }
    g_free(*out);
    *out = g_strdup(val);
    return true;
}

static bool parse_option(const char *arg)
{
    static const char *const bpred_kinds[] = { "bimodal", "gshare",
                                               "tournament", "tage", NULL };
    const char *eq = strchr(arg, '=');
    char key[64];

    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(key)) {
        fprintf(stderr, PFX "option '%s' is not key=value\n", arg);
        return false;
    }
    memcpy(key, arg, eq - arg);
    key[eq - arg] = '\0';
    const char *val = eq + 1;

    if (!strcmp(key, "out")) {
        return parse_path(key, val, &out_path);
    }
    if (!strcmp(key, "elf")) {
        return parse_path(key, val, &elf_path);
    }
    if (!strcmp(key, "warm_file")) {
        return parse_path(key, val, &warm_file);
    }
    if (!strcmp(key, "roi")) {
        return parse_bool(key, val, &opt_roi);
    }
    if (!strcmp(key, "classes")) {
        return parse_bool(key, val, &opt_classes);
    }
    if (!strcmp(key, "mem")) {
        return parse_bool(key, val, &opt_mem);
    }
    if (!strcmp(key, "cache")) {
        return parse_bool(key, val, &opt_cache);
    }
    if (!strcmp(key, "bpred")) {
        return parse_bool(key, val, &opt_bpred);
    }
    if (!strcmp(key, "reuse")) {
        return parse_bool(key, val, &opt_reuse);
    }
    if (!strcmp(key, "warmup")) {
        return parse_bool(key, val, &opt_warmup);
    }
    if (!strcmp(key, "raw")) {
        return parse_bool(key, val, &opt_raw);
    }
    if (!strcmp(key, "tbs")) {
        return parse_bool(key, val, &opt_tbs);
    }
    if (!strcmp(key, "mem_all")) {
        return parse_bool(key, val, &opt_mem_all);
    }
    if (!strcmp(key, "reuse_line")) {
        return parse_u64_in(key, val, 1, MAX_LINE_BYTES, true, &opt_reuse_line);
    }
    if (!strcmp(key, "dep")) {
        return parse_bool(key, val, &opt_dep);
    }
    if (!strcmp(key, "dep_width")) {
        return parse_u64_in(key, val, 1, MAX_DEP_WIDTH, false, &dep_width);
    }
    if (!strcmp(key, "dep_issue")) {
        return parse_u64_in(key, val, 1, MAX_DEP_WIDTH, false, &dep_issue);
    }
    if (!strcmp(key, "dep_window")) {
        return parse_u64_in(key, val, 1, MAX_DEP_WINDOW, false, &dep_window);
    }
    if (!strcmp(key, "dep_fetch_next_line")) {
        return parse_bool(key, val, &dep_fetch_next_line);
    }
    if (!strcmp(key, "dep_fetch_stalls")) {
        return parse_bool(key, val, &dep_fetch_stalls);
    }
    if (!strcmp(key, "dep_forward_fail_drain")) {
        return parse_bool(key, val, &dep_forward_fail_drain);
    }
    if (!strcmp(key, "dep_inorder_fetch")) {
        return parse_bool(key, val, &dep_inorder_fetch);
    }
    if (!strcmp(key, "dep_fetch_width")) {
        return parse_u64_in(key, val, 0, 16, false, &dep_fetch_width);
    }
    if (!strcmp(key, "dep_load_queue")) {
        return parse_u64_in(key, val, 0, MAX_DEP_WINDOW, false, &dep_lq);
    }
    if (!strcmp(key, "dep_store_buffer")) {
        return parse_u64_in(key, val, 0, MAX_DEP_WINDOW, false, &dep_sb);
    }
    if (!strcmp(key, "dep_forward")) {
        return parse_bool(key, val, &dep_forward);
    }
    if (!strcmp(key, "dep_lat_drain")) {
        return parse_u64_in(key, val, 0, MAX_DEP_LATENCY, false, &dep_drain);
    }
    for (size_t o = 0; o < G_N_ELEMENTS(dep_class_lats); o++) {
        for (int cls = 0; cls < 2; cls++) {
            char name[32];
            snprintf(name, sizeof name, "%s_%s", dep_class_lats[o].option, dep_class_names[cls]);
            if (!strcmp(key, name)) {
                dep_class_lats[o].set[cls] = true;
                return parse_u64_in(key, val, 0, MAX_DEP_LATENCY, false,
                                    &dep_class_lats[o].lat[cls]);
            }
        }
    }
    for (size_t o = 0; o < G_N_ELEMENTS(dep_cycle_opts); o++) {
        if (!strncmp(key, "dep_", 4) && !strcmp(key + 4, dep_cycle_opts[o].name)) {
            return parse_u64_in(key, val, 0, MAX_DEP_LATENCY, false, dep_cycle_opts[o].cycles);
        }
    }
    if (!strcmp(key, "dep_split_store_line")) {
        return parse_u64_in(key, val, 0, MAX_DEP_LATENCY, false, &dep_split_store_line);
    }
    if (!strcmp(key, "dep_split_store_page")) {
        return parse_u64_in(key, val, 0, MAX_DEP_LATENCY, false, &dep_split_store_page);
    }
    if (!strcmp(key, "dep_mispredict")) {
        return parse_u64_in(key, val, 0, MAX_DEP_LATENCY, false, &dep_mispredict);
    }
    for (int k = 0; k < 2; k++) {
        if (!strncmp(key, "dep_", 4) && !strcmp(key + 4, dep_fp_unit_lat_names[k])) {
            dep_fp_unit_lat_set[k] = true;
            return parse_u64_in(key, val, 0, MAX_DEP_LATENCY, false, &dep_fp_unit_lat[k]);
        }
    }
    for (int k = 0; k < N_DEP_KINDS; k++) {
        if (dep_lat_names[k] && !strcmp(key, dep_lat_names[k])) {
            return parse_u64_in(key, val, 0, MAX_DEP_LATENCY, false, &dep_lat[k]);
        }
    }
    for (int k = 0; k < N_UNITS; k++) {
        if (!strcmp(key, dep_unit_names[k])) {
            return parse_u64_in(key, val, 0, MAX_DEP_WIDTH, false, &dep_units[k]);
        }
    }
    for (int k = 0; k < 4; k++) {
        if (!strcmp(key, dep_level_names[k])) {
            return parse_u64_in(key, val, 1, MAX_DEP_LATENCY, false, &dep_lat_level[k]);
        }
    }
    if (!strcmp(key, "bpred_kind")) {
        int kind;
        if (!parse_choice(key, val, bpred_kinds, &kind)) {
            return false;
        }
        bpred.kind = kind;
        return true;
    }
    /* The predictor's sizes: key, range, power of two, field. */
    const struct {
        const char *key;
        uint64_t min, max;
        bool pow2;
        uint64_t *field;
    } bpred_opts[] = {
        { "bpred_entries", 1, MAX_BPRED_ENTRIES, true, &bpred.entries },
        { "bpred_local_entries", 1, MAX_BPRED_ENTRIES, true, &bpred.local_entries },
        { "bpred_local_counters", 1, MAX_BPRED_ENTRIES, true, &bpred.local_counters },
        { "bpred_tagged_entries", 1, MAX_BPRED_ENTRIES, true, &bpred.tagged_entries },
        { "bpred_tables", 1, TAGE_MAX_TABLES, false, &bpred.tables },
        { "bpred_max_history", 8, TAGE_MAX_HISTORY, false, &bpred.max_history },
        { "bpred_history", 0, MAX_BPRED_HISTORY, false, &bpred.history_bits },
    };
    for (size_t k = 0; k < sizeof(bpred_opts) / sizeof(bpred_opts[0]); k++) {
        if (!strcmp(key, bpred_opts[k].key)) {
            return parse_u64_in(key, val, bpred_opts[k].min, bpred_opts[k].max,
                                bpred_opts[k].pow2, bpred_opts[k].field);
        }
    }
    for (int i = 0; i < N_LEVELS; i++) {
        Cache *c = &caches[i];
        size_t n = strlen(c->name);
        if (strncmp(key, c->name, n) != 0) {
            continue;
        }
        const char *field = key + n;
        if (!*field) {
            return parse_bool(key, val, &c->enabled);
        }
        if (!strcmp(field, "_size")) {
            return parse_u64_in(key, val, 1, MAX_CACHE_BYTES, false, &c->size);
        }
        if (!strcmp(field, "_ways")) {
            return parse_u64_in(key, val, 1, MAX_WAYS, false, &c->ways);
        }
        if (!strcmp(field, "_line")) {
            return parse_u64_in(key, val, 1, MAX_LINE_BYTES, true, &c->line);
        }
        if (!strcmp(field, "_policy")) {
            return parse_choice(key, val, policy_names, &c->policy);
        }
    }
    fprintf(stderr, PFX "unknown option '%s'\n", key);
    return false;
}

static bool check_power_of_two(const char *key, uint64_t v)
{
    if (v == 0 || log2_exact(v) < 0) {
        fprintf(stderr, PFX "%s: must be a power of two; got %" PRIu64 "\n",
                key, v);
        return false;
    }
    return true;
}

/*
 * The geometry as a whole; parse_option has bounded each value (line a power
 * of two <= 4096, ways <= 1024, size <= 1 GiB), so ways * line cannot
 * overflow or be 0.
 */
static bool check_cache_geometry(const Cache *c)
{
    if (c->size % (c->ways * c->line) != 0) {
        fprintf(stderr, PFX "%s: size %" PRIu64 " is not a positive multiple "
                "of ways*line = %" PRIu64 "*%" PRIu64 "\n", c->name, c->size,
                c->ways, c->line);
        return false;
    }
    if (c->size / c->line > MAX_CACHE_LINES) {
        fprintf(stderr, PFX "%s: size %" PRIu64 " / line %" PRIu64 " = %"
                PRIu64 " lines; at most %llu are modelled\n", c->name,
                c->size, c->line, c->size / c->line, MAX_CACHE_LINES);
        return false;
    }
    return true;
}

static bool setup_cache(Cache *c)
{
    if (!check_cache_geometry(c)) {
        return false;
    }
    c->line_shift = log2_exact(c->line);
    c->n_sets = c->size / (c->ways * c->line);
    c->sets_pow2 = log2_exact(c->n_sets) >= 0;
    c->set_mask = c->sets_pow2 ? c->n_sets - 1 : 0;
    c->tags = g_new0(uint64_t, c->n_sets * c->ways);
    c->rng = 0x9e3779b97f4a7c15ull;
    return true;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    if (!strcmp(info->target_name, "riscv64")) {
        isa = ISA_RISCV64;
        bpred.pc_shift = 1;
    } else if (!strcmp(info->target_name, "aarch64")) {
        isa = ISA_AARCH64;
        bpred.pc_shift = 2;
    } else if (!strcmp(info->target_name, "x86_64")) {
        isa = ISA_X86_64;
        bpred.pc_shift = 0;
    } else {
        fprintf(stderr, PFX "unsupported target '%s' (riscv64, aarch64, "
                "x86_64)\n", info->target_name);
        return 1;
    }
    system_mode = info->system_emulation;
    if (system_mode && isa != ISA_RISCV64) {
        fprintf(stderr, PFX "system mode supports riscv64 bare metal only "
                "(qemu-system-riscv64); got qemu-system-%s\n",
                info->target_name);
        return 1;
    }
    for (int i = 0; i < argc; i++) {
        for (int j = 0; j < i; j++) {
            size_t n = strcspn(argv[i], "=");
            if (n == strcspn(argv[j], "=") && !strncmp(argv[i], argv[j], n)) {
                fprintf(stderr, PFX "option '%.*s' given twice\n", (int)n,
                        argv[i]);
                return 1;
            }
        }
        if (!parse_option(argv[i])) {
            return 1;
        }
    }

    splits_joined = opt_classes || opt_bpred;
    if (opt_cache) {
        for (int i = 0; i < N_LEVELS; i++) {
            if (caches[i].enabled && !setup_cache(&caches[i])) {
                return 1;
            }
        }
        Cache *below = NULL;
        for (int i = N_LEVELS - 1; i >= L2; i--) {
            if (caches[i].enabled) {
                caches[i].next = below;
                below = &caches[i];
            }
        }
        caches[L1I].next = below;
        caches[L1D].next = below;
        insn_entry = caches[L1I].enabled ? &caches[L1I] : below;
        data_entry = caches[L1D].enabled ? &caches[L1D] : below;
        insn_shift = insn_entry ? insn_entry->line_shift : 0;
        data_shift = data_entry ? data_entry->line_shift : 0;
        if (data_shift) {
            split_line_shift = data_shift;
        }
        if (insn_shift) {
            dep_fetch_line_shift = insn_shift;
        }
    }
    if (opt_bpred) {
        if (!check_power_of_two("bpred_entries", bpred.entries)) {
            return 1;
        }
        if (bpred.history_bits > 32) {
            fprintf(stderr, PFX "bpred_history: must be at most 32; got %"
                    PRIu64 "\n", bpred.history_bits);
            return 1;
        }
        if (bpred.kind != BP_GSHARE) {
            bpred.history_bits = 0;
        }
        if (bpred.kind == BP_TOURNAMENT) {
            if (!check_power_of_two("bpred_local_entries",
                                    bpred.local_entries) ||
                !check_power_of_two("bpred_local_counters",
                                    bpred.local_counters)) {
                return 1;
            }
            /* Counters start at 0 (strongly not taken), as rvsim's. */
            bpred.counters = g_new0(uint8_t, bpred.entries);
            bpred.choice = g_new0(uint8_t, bpred.entries);
            bpred.local = g_new0(uint8_t, bpred.local_counters);
            bpred.local_history = g_new0(uint64_t, bpred.local_entries);
        } else {
            /* bimodal, gshare, and TAGE's base: weakly not taken. */
            if (bpred.kind == BP_TAGE &&
                !check_power_of_two("bpred_tagged_entries",
                                    bpred.tagged_entries)) {
                return 1;
            }
            bpred.counters = g_malloc(bpred.entries);
            memset(bpred.counters, 1, bpred.entries);
            if (bpred.kind == BP_TAGE) {
                tage_init();
            }
        }
    }
    if (opt_reuse) {
        if (!check_power_of_two("reuse_line", opt_reuse_line)) {
            return 1;
        }
        reuse.line_shift = log2_exact(opt_reuse_line);
        reuse_alloc_stamps(REUSE_MIN_CAP);
        reuse_grow_slots();
    }
    if (opt_dep) {
        if (isa == ISA_AARCH64) {
            fprintf(stderr, PFX "dep=on decodes riscv64 and x86_64 register operands "
                    "only; got %s\n", info->target_name);
            return 1;
        }
        if (dep_window < dep_width) {
            fprintf(stderr, PFX "dep_window (%" PRIu64 ") must be at least "
                    "dep_width (%" PRIu64 ")\n", dep_window, dep_width);
            return 1;
        }
        if (!dep_issue) {
            dep_issue = dep_width;
        }
        dep_dispatch = g_new0(uint64_t, dep_width);
        dep_retire = g_new0(uint64_t, dep_window);
        for (int m = 0; m < N_DEP_MODELS && dep_sb; m++) {
            dep_sb_free[m] = g_new0(uint64_t, dep_sb);
        }
        if (dep_lq) {
            dep_lq_free = g_new0(uint64_t, dep_lq);
        }
    }
    if (out_path) {
        out_file = fopen(out_path, "w");
        if (!out_file) {
            fprintf(stderr, PFX "out: cannot open '%s': %s\n", out_path,
                    strerror(errno));
            return 1;
        }
    }

    if (warm_file) {
        if (!opt_roi) {
            fprintf(stderr, PFX "warm_file=%s needs roi=on (its objects start warm at the "
                    "ROI's start)\n", warm_file);
            return 1;
        }
        warm_objects = g_array_new(FALSE, FALSE, sizeof(WarmObject));
    }

    if (system_mode && opt_roi) {
        /*
         * QEMU has no guest binary to report in system mode; read the
         * symbols now, so that a bad elf= stops QEMU before it starts.
         */
        char err[1024];
        if (!elf_path) {
            fprintf(stderr, PFX "system mode needs elf=PATH (the -kernel "
                    "ELF) for the ROI symbols; roi=off counts everything\n");
            return 1;
        }
        if (!resolve_roi_symbols(elf_path, err, sizeof(err))) {
            fprintf(stderr, PFX "%s\n", err);
            return 1;
        }
        symbols_resolved = true;
    }

    tbs = g_ptr_array_new();
    roi_active = !opt_roi;
    mem_fast = opt_mem && !opt_raw && !opt_dep && data_entry == &caches[L1D] &&
               caches[L1D].sets_pow2 && opt_reuse &&
               reuse.line_shift == data_shift;
    mem_fast_now = mem_fast && roi_active;
    fetch_epochs = insn_entry == &caches[L1I];
    plugin_id = id;
    register_callbacks(id);
    return 0;
}
