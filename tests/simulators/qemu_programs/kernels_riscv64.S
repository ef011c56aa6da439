# ROI kernels with exact instruction counts (see roi_main.c). The ROI counts from the first
# instruction of simtune_roi_begin up to, not including, the first of simtune_roi_end.
    .text
    .globl simtune_roi_begin
    .type simtune_roi_begin, @function
simtune_roi_begin:
    ret                         # 1 (jump)
    .size simtune_roi_begin, .-simtune_roi_begin

    .globl simtune_roi_end
    .type simtune_roi_end, @function
simtune_roi_end:
    ret
    .size simtune_roi_end, .-simtune_roi_end

# run_count(n, buf): ROI = 4n + 3 instructions; n loads and n stores of 8 bytes to buf's
# first line; n conditional branches (n - 1 taken).
    .globl run_count
    .type run_count, @function
run_count:
    addi sp, sp, -32
    sd ra, 24(sp)
    sd s0, 16(sp)
    sd s1, 8(sp)
    mv s0, a0
    mv s1, a1
    jal ra, simtune_roi_begin
    mv t0, s0                   # 1 (int_alu)
1:  ld t1, 0(s1)                # n (load)
    sd t1, 8(s1)                # n (store)
    addi t0, t0, -1             # n (int_alu)
    bnez t0, 1b                 # n (branch)
    jal ra, simtune_roi_end     # 1 (jump)
    ld ra, 24(sp)
    ld s0, 16(sp)
    ld s1, 8(sp)
    addi sp, sp, 32
    ret
    .size run_count, .-run_count

# run_stride(buf, bytes, stride, passes, store): passes sweeps over buf with one 8-byte
# access every stride bytes, loads or (store != 0) stores; no other data access in the ROI.
    .globl run_stride
    .type run_stride, @function
run_stride:
    addi sp, sp, -16
    sd ra, 8(sp)
    sd s0, 0(sp)
    mv s0, a0
    jal ra, simtune_roi_begin
    add t2, s0, a1              # end
2:  mv t0, s0
3:  beqz a4, 4f
    sd zero, 0(t0)
    j 5f
4:  ld t1, 0(t0)
5:  add t0, t0, a2
    bltu t0, t2, 3b
    addi a3, a3, -1
    bnez a3, 2b
    jal ra, simtune_roi_end
    ld ra, 8(sp)
    ld s0, 0(sp)
    addi sp, sp, 16
    ret
    .size run_stride, .-run_stride

# run_branches(n): a loop whose inner branch alternates taken / not taken.
    .globl run_branches
    .type run_branches, @function
run_branches:
    addi sp, sp, -16
    sd ra, 8(sp)
    sd s0, 0(sp)
    mv s0, a0
    jal ra, simtune_roi_begin
    mv t0, s0
    li t2, 0
6:  andi t1, t0, 1
    bnez t1, 7f
    addi t2, t2, 1
7:  addi t0, t0, -1
    bnez t0, 6b
    jal ra, simtune_roi_end
    ld ra, 8(sp)
    ld s0, 0(sp)
    addi sp, sp, 16
    ret
    .size run_branches, .-run_branches
# run_mix(buf): one or two instructions of each class (comments), 19 in the ROI.
    .globl run_mix
    .type run_mix, @function
run_mix:
    addi sp, sp, -16
    sd ra, 8(sp)
    sd s0, 0(sp)
    mv s0, a0
    jal ra, simtune_roi_begin   # ROI: ret (jump)
    add t0, t0, t1              # int_alu
    addi t0, t0, 1              # int_alu
    mul t1, t0, t0              # int_muldiv
    divu t2, t1, t0             # int_muldiv
    fadd.d ft0, ft1, ft2        # fp_scalar
    fmadd.d ft0, ft1, ft2, ft3  # fp_scalar
    ld t3, 0(s0)                # load (compressed)
    lw t4, 4(s0)                # load
    fld ft4, 8(s0)              # load
    sd t3, 16(s0)               # store
    fsd ft4, 24(s0)             # store
    amoadd.d t5, t3, (s0)       # atomic
    lr.d t6, (s0)               # atomic
    fence                       # other
    beqz zero, 8f               # branch taken
    addi t0, t0, 1
8:  bnez zero, 10f              # branch not taken
    j 9f                        # jump
    addi t0, t0, 1
9:  jal ra, simtune_roi_end     # jump
10: ld ra, 8(sp)
    ld s0, 0(sp)
    addi sp, sp, 16
    ret
    .size run_mix, .-run_mix
# run_dep(n, buf, which): a loop of n iterations for the dependency timing models (dep=on):
# which 0: a chain of multiplies (mul t1, t1, t2); 1: independent multiplies (mul t1, t2, t2);
# 2: a chain through memory (sd t1; ld t1 of the same bytes; addi t1); 3: straight-line code,
# 64 uncompressed addi (four 64-byte lines, aligned), n ignored; 4, 5, 6: a loop of six
# uncompressed instructions (four independent addi, the count, the branch) that lies in one
# 64-byte line (4), crosses into the next after its second instruction (5), or starts with an
# instruction that straddles two lines (6); 7: a chain through memory that forwarding cannot
# serve (sw t1; ld t1 of those 4 bytes and 4 more; addi t1).
    .globl run_dep
    .type run_dep, @function
run_dep:
    addi sp, sp, -32
    sd ra, 24(sp)
    sd s0, 16(sp)
    sd s1, 8(sp)
    sd s2, 0(sp)
    mv s0, a0
    mv s1, a1
    mv s2, a2
    li t1, 3
    li t2, 5
    li t3, 1
    beqz s2, 20f
    beq s2, t3, 21f
    li t3, 3
    beq s2, t3, 26f
    li t3, 4
    beq s2, t3, 30f
    li t3, 5
    beq s2, t3, 31f
    li t3, 6
    beq s2, t3, 32f
    li t3, 7
    beq s2, t3, 37f
    jal ra, simtune_roi_begin
    mv t0, s0
22: sd t1, 0(s1)
    ld t1, 0(s1)
    addi t1, t1, 1
    addi t0, t0, -1
    bnez t0, 22b
    jal ra, simtune_roi_end
    j 23f
20: jal ra, simtune_roi_begin
    mv t0, s0
24: mul t1, t1, t2
    addi t0, t0, -1
    bnez t0, 24b
    jal ra, simtune_roi_end
    j 23f
21: jal ra, simtune_roi_begin
    mv t0, s0
25: mul t1, t2, t2
    addi t0, t0, -1
    bnez t0, 25b
    jal ra, simtune_roi_end
26: jal ra, simtune_roi_begin
    j 27f
    .balign 64
27:
    .option push
    .option norvc
    .rept 64
    addi t1, t1, 1
    .endr
    .option pop
    jal ra, simtune_roi_end
    j 23f
37: jal ra, simtune_roi_begin
    mv t0, s0
38: sw t1, 0(s1)
    ld t1, 0(s1)
    addi t1, t1, 1
    addi t0, t0, -1
    bnez t0, 38b
    jal ra, simtune_roi_end
    j 23f
30: jal ra, simtune_roi_begin
    mv t0, s0
    j 33f
31: jal ra, simtune_roi_begin
    mv t0, s0
    j 34f
32: jal ra, simtune_roi_begin
    mv t0, s0
    j 35f
    .option push
    .option norvc
    .balign 64
33: addi t3, t4, 1
    addi t5, t4, 2
    addi t6, t4, 3
    addi a3, t4, 4
    addi t0, t0, -1
    bnez t0, 33b
    j 36f
    .balign 64
    .space 56
34: addi t3, t4, 1
    addi t5, t4, 2
    addi t6, t4, 3
    addi a3, t4, 4
    addi t0, t0, -1
    bnez t0, 34b
    j 36f
    .balign 64
    .space 62
35: addi t3, t4, 1
    addi t5, t4, 2
    addi t6, t4, 3
    addi a3, t4, 4
    addi t0, t0, -1
    bnez t0, 35b
    .option pop
36: jal ra, simtune_roi_end
    j 23f
23: ld ra, 24(sp)
    ld s0, 16(sp)
    ld s1, 8(sp)
    ld s2, 0(sp)
    addi sp, sp, 32
    ret
    .size run_dep, .-run_dep
    .section .note.GNU-stack,"",@progbits
