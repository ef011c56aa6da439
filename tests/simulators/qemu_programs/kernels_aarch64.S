// ROI kernels with exact instruction counts (see roi_main.c and kernels_riscv64.S).
    .text
    .globl simtune_roi_begin
    .type simtune_roi_begin, %function
simtune_roi_begin:
    ret                         // 1 (jump)
    .size simtune_roi_begin, .-simtune_roi_begin

    .globl simtune_roi_end
    .type simtune_roi_end, %function
simtune_roi_end:
    ret
    .size simtune_roi_end, .-simtune_roi_end

// run_count(n, buf): ROI = 4n + 3 instructions.
    .globl run_count
    .type run_count, %function
run_count:
    stp x29, x30, [sp, #-32]!
    stp x19, x20, [sp, #16]
    mov x19, x0
    mov x20, x1
    bl simtune_roi_begin
    mov x9, x19                 // 1 (int_alu)
1:  ldr x10, [x20]              // n (load)
    str x10, [x20, #8]          // n (store)
    subs x9, x9, #1             // n (int_alu)
    b.ne 1b                     // n (branch)
    bl simtune_roi_end          // 1 (jump)
    ldp x19, x20, [sp, #16]
    ldp x29, x30, [sp], #32
    ret
    .size run_count, .-run_count

// run_stride(buf, bytes, stride, passes, store)
    .globl run_stride
    .type run_stride, %function
run_stride:
    stp x29, x30, [sp, #-32]!
    stp x19, x20, [sp, #16]
    mov x19, x0
    mov x20, x1
    bl simtune_roi_begin
    add x11, x19, x20
2:  mov x9, x19
3:  cbz x4, 4f
    str xzr, [x9]
    b 5f
4:  ldr x10, [x9]
5:  add x9, x9, x2
    cmp x9, x11
    b.lo 3b
    subs x3, x3, #1
    b.ne 2b
    bl simtune_roi_end
    ldp x19, x20, [sp, #16]
    ldp x29, x30, [sp], #32
    ret
    .size run_stride, .-run_stride

// run_branches(n)
    .globl run_branches
    .type run_branches, %function
run_branches:
    stp x29, x30, [sp, #-16]!
    mov x19, x0
    bl simtune_roi_begin
    mov x9, x19
    mov x11, #0
6:  tbnz x9, #0, 7f
    add x11, x11, #1
7:  subs x9, x9, #1
    b.ne 6b
    bl simtune_roi_end
    ldp x29, x30, [sp], #16
    ret
    .size run_branches, .-run_branches
// run_mix(buf): one to three instructions of each class (comments), 21 in the ROI.
    .arch armv8.1-a
    .globl run_mix
    .type run_mix, %function
run_mix:
    stp x29, x30, [sp, #-32]!
    str x19, [sp, #16]
    mov x19, x0
    bl simtune_roi_begin        // ROI: ret (jump)
    add x9, x9, x10             // int_alu
    mov x11, #5                 // int_alu
    mul x12, x9, x11            // int_muldiv
    sdiv x13, x12, x11          // int_muldiv
    fadd d0, d1, d2             // fp_scalar
    fmadd d0, d1, d2, d3        // fp_scalar
    fadd v0.2d, v1.2d, v2.2d    // simd
    ldr x14, [x19]              // load
    ldp x14, x15, [x19]         // load
    ldr q4, [x19]               // load
    str x14, [x19, #16]         // store
    stp x14, x15, [x19, #16]    // store
    str q4, [x19, #32]          // store
    ldxr x16, [x19]             // atomic
    ldadd x11, x17, [x19]       // atomic
    nop                         // other
    cbz xzr, 8f                 // branch taken
    add x9, x9, #1
8:  cbnz xzr, 10f               // branch not taken
    b 9f                        // jump
    add x9, x9, #1
9:  bl simtune_roi_end          // jump
10: ldr x19, [sp, #16]
    ldp x29, x30, [sp], #32
    ret
    .size run_mix, .-run_mix
    .section .note.GNU-stack,"",%progbits
