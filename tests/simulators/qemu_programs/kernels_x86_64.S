# ROI kernels with exact instruction counts (see roi_main.c and kernels_riscv64.S).
    .text
    .globl simtune_roi_begin
    .type simtune_roi_begin, @function
simtune_roi_begin:
    ret                         # 1 (jump; pops the return address: 1 load)
    .size simtune_roi_begin, .-simtune_roi_begin

    .globl simtune_roi_end
    .type simtune_roi_end, @function
simtune_roi_end:
    ret
    .size simtune_roi_end, .-simtune_roi_end

# run_count(n, buf): ROI = 4n + 3 instructions; n + 1 loads and n + 1 stores (ret pops,
# call pushes).
    .globl run_count
    .type run_count, @function
run_count:
    pushq %rbx
    pushq %r12
    pushq %r13
    movq %rdi, %rbx
    movq %rsi, %r12
    call simtune_roi_begin
    movq %rbx, %rcx             # 1 (int_alu)
1:  movq (%r12), %rax           # n (load)
    movq %rax, 8(%r12)          # n (store)
    subq $1, %rcx               # n (int_alu)
    jnz 1b                      # n (branch)
    call simtune_roi_end        # 1 (jump)
    popq %r13
    popq %r12
    popq %rbx
    ret
    .size run_count, .-run_count

# NAME(buf, bytes, stride, passes, store): one access per stride over bytes, passes times;
# STORE or LOAD is the access (PRE before the loop, POST after it)
.macro STRIDE_KERNEL name, store, load, pre, post
    .globl \name
    .type \name, @function
\name:
    pushq %rbx
    pushq %r12
    pushq %r13
    movq %rdi, %rbx
    movq %rsi, %r12
    movq %rdx, %r13
    movq %rcx, %r9
    movq %r8, %r10
    call simtune_roi_begin
    \pre
    leaq (%rbx, %r12), %r11
2:  movq %rbx, %rdi
3:  testq %r10, %r10
    jz 4f
    \store
    jmp 5f
4:  \load
5:  addq %r13, %rdi
    cmpq %r11, %rdi
    jb 3b
    subq $1, %r9
    jnz 2b
    \post
    call simtune_roi_end
    popq %r13
    popq %r12
    popq %rbx
    ret
    .size \name, .-\name
.endm

# run_stride: 8-byte accesses
STRIDE_KERNEL run_stride, "movq $0, (%rdi)", "movq (%rdi), %rax", "", ""
# run_vstride: 32-byte (ymm) accesses, which QEMU hands the plugin as four 8-byte pieces
STRIDE_KERNEL run_vstride, "vmovdqu %ymm0, (%rdi)", "vmovdqu (%rdi), %ymm1", "vpxor %xmm0, %xmm0, %xmm0", "vzeroupper"

# run_branches(n)
    .globl run_branches
    .type run_branches, @function
run_branches:
    pushq %rbx
    movq %rdi, %rbx
    call simtune_roi_begin
    movq %rbx, %rcx
    xorl %edx, %edx
6:  testq $1, %rcx
    jnz 7f
    addq $1, %rdx
7:  subq $1, %rcx
    jnz 6b
    call simtune_roi_end
    popq %rbx
    ret
    .size run_branches, .-run_branches
# run_nested(outer, inner): an inner loop of `inner` iterations run `outer` times; its exit
# is predictable from a history longer than `inner` outcomes.
    .globl run_nested
    .type run_nested, @function
run_nested:
    pushq %rbx
    pushq %r12
    movq %rdi, %rbx
    movq %rsi, %r12
    call simtune_roi_begin
    xorl %edx, %edx
8:  movq %r12, %rcx
9:  addq $1, %rdx
    subq $1, %rcx
    jnz 9b
    subq $1, %rbx
    jnz 8b
    call simtune_roi_end
    popq %r12
    popq %rbx
    ret
    .size run_nested, .-run_nested
# run_mix(buf): one to three instructions of each class (comments), 20 in the ROI.
    .globl run_mix
    .type run_mix, @function
run_mix:
    pushq %rbx
    movq %rdi, %rbx
    call simtune_roi_begin      # ROI: ret (jump)
    addq %rcx, %rdx             # int_alu
    leaq 8(%rbx), %rsi          # int_alu
    imulq %rdx, %rcx            # int_muldiv
    addsd %xmm1, %xmm0          # fp_scalar
    mulsd (%rbx), %xmm0         # fp_scalar
    addpd %xmm1, %xmm0          # simd
    paddd %xmm1, %xmm2          # simd
    movq (%rbx), %rax           # load
    movups 16(%rbx), %xmm3      # load
    movq %rax, 32(%rbx)         # store
    movups %xmm3, 48(%rbx)      # store
    lock xaddq %rax, (%rbx)     # atomic
    xchgq %rax, 8(%rbx)         # atomic
    nop                         # other
    testq %rbx, %rbx            # int_alu
    jnz 8f                      # branch taken
    addq $1, %rcx
8:  jz 10f                      # branch not taken
    jmp 9f                      # jump
    addq $1, %rcx
9:  call simtune_roi_end        # jump
10: popq %rbx
    ret
    .size run_mix, .-run_mix

# run_vec(n, buf): n passes of vector instructions by width, some moving data across lanes
# (comments: width, shuffle); per pass 2 xmm, 5 ymm, 4 shuffles, and two that count as
# neither (a scalar add on xmm, the loop's own instructions).
    .globl run_vec
    .type run_vec, @function
run_vec:
    pushq %rbx
    pushq %r12
    movq %rdi, %rbx
    movq %rsi, %r12
    call simtune_roi_begin
    movq %rbx, %rcx
11: vaddps %ymm1, %ymm0, %ymm0          # ymm
    vshufps $0, %ymm1, %ymm0, %ymm2     # ymm, shuffle
    vunpcklps %xmm1, %xmm0, %xmm2       # xmm, shuffle
    vbroadcastss %xmm0, %ymm3           # ymm, shuffle (from a register)
    vbroadcastss (%r12), %ymm4          # ymm (from memory: a load)
    vaddss %xmm1, %xmm0, %xmm0          # scalar: neither
    vextractf128 $1, %ymm0, %xmm5       # ymm, shuffle
    vpxor %xmm6, %xmm6, %xmm6           # xmm
    subq $1, %rcx
    jnz 11b
    vzeroupper                          # no register: neither
    call simtune_roi_end
    popq %r12
    popq %rbx
    ret
    .size run_vec, .-run_vec

# run_raw(n, buf): n passes of loads that read what a recent store wrote (the plugin's
# raw=on counts): per pass a load with 5 stores since the store of what it reads (within 16,
# not 4), a 32-byte load right after the 32-byte store of the same bytes (within 4; QEMU
# hands each as four 8-byte pieces, one store and one load), and a load of bytes never stored.
    .globl run_raw
    .type run_raw, @function
run_raw:
    pushq %rbx
    pushq %r12
    movq %rdi, %rbx
    movq %rsi, %r12
    call simtune_roi_begin
    movq %rbx, %rcx
12: movq %rcx, 8(%r12)
    movq %rcx, 16(%r12)
    movq %rcx, 24(%r12)
    movq %rcx, 32(%r12)
    movq %rcx, 40(%r12)
    movq %rcx, 48(%r12)
    movq 8(%r12), %rax                  # 5 stores since: within 16
    vmovups %ymm0, 64(%r12)
    vmovups 64(%r12), %ymm1             # 0 stores since: within 4
    movq 512(%r12), %rdx                # never stored
    subq $1, %rcx
    jnz 12b
    vzeroupper
    call simtune_roi_end
    popq %r12
    popq %rbx
    ret
    .size run_raw, .-run_raw
# run_dep(n, buf, which): a loop of n iterations for the dependency timing models (dep=on):
# which 0: a chain of multiplies (imulq %rdx, %rax); 1: independent multiplies (imulq $5,
# %rdx, %rsi); 2: a chain through memory (store, load of the same bytes, add); 3: a chain of
# load-op multiply-adds (vfmadd231pd (%r12), %ymm1, %ymm0: the loads independent, the
# accumulator carried); 4: a pointer chase through a load and a load-op (buf[0] holds buf,
# buf[1] 0: movq (%rax), %rax; addq 8(%rax), %rax); 5: a chain of
# read-modify-writes of one memory word (addq %rdx, (%r12)); 6: a chain of sign-extending
# loads (movslq 8(%r12,%rax,4), %rax; buf[1] is 0, so rax stays 0); 7: no loop, rep stosb
# of n / 16 bytes into buf + 16 (QEMU runs each byte as an instruction); 8: masked stores
# (vmaskmovps %ymm0, %ymm1, 16(%r12), every lane on); 9: a chain through memory that
# store-to-load forwarding cannot serve (two 32-bit stores, one 64-bit load over both, add);
# 10: masked loads (vmaskmovps, the first 3 lanes on) 12 bytes before the end of a page of
# mload_area whose next page the program never touches; 11: the same at the end of the next
# page, whose following page is touched before the ROI; 12: a chain through a scalar FMA
# (vfmadd231ss (%r12), %xmm1, %xmm0; vmovd %xmm0, %eax; movl %eax, 8(%r12)): the load reads
# bytes 0-3 (QEMU reads 0-15), the store writes 8-11; 13: a chain of FP adds (vaddsd
# %xmm1, %xmm0, %xmm0); 14: a chain of FP multiplies (vmulsd).
# Besides the kernel's
# instruction, each iteration runs subq and jnz (the loop), which carry only rcx.
    .globl run_dep
    .type run_dep, @function
run_dep:
    pushq %rbx
    pushq %r12
    pushq %r13
    movq %rdi, %rbx
    movq %rsi, %r12
    movq %rdx, %r13
    movq $3, %rax
    movq $5, %rdx
    movq %r12, (%r12)
    movq $0, 8(%r12)
    movl $0, mload_area+3*4096(%rip)
    call simtune_roi_begin
    movq %rbx, %rcx
    cmpq $1, %r13
    jb 30f
    je 31f
    cmpq $3, %r13
    jb 32f
    je 33f
    cmpq $5, %r13
    jb 34f
    je 35f
    cmpq $7, %r13
    jb 37f
    ja 40f
    shrq $4, %rcx
    leaq 16(%r12), %rdi
    rep stosb
    jmp 39f
35: addq %rdx, (%r12)
    subq $1, %rcx
    jnz 35b
    jmp 39f
37: xorl %eax, %eax
38: movslq 8(%r12,%rax,4), %rax
    subq $1, %rcx
    jnz 38b
    jmp 39f
34: movq %r12, %rax
36: movq (%rax), %rax
    addq 8(%rax), %rax
    subq $1, %rcx
    jnz 36b
    jmp 39f
33: vfmadd231pd (%r12), %ymm1, %ymm0
    subq $1, %rcx
    jnz 33b
    jmp 39f
32: movq %rax, (%r12)
    movq (%r12), %rax
    addq $1, %rax
    subq $1, %rcx
    jnz 32b
    jmp 39f
31: imulq $5, %rdx, %rsi
    subq $1, %rcx
    jnz 31b
    jmp 39f
30: imulq %rdx, %rax
    subq $1, %rcx
    jnz 30b
    jmp 39f
40: cmpq $8, %r13
    ja 42f
    vpcmpeqd %ymm1, %ymm1, %ymm1
41: vmaskmovps %ymm0, %ymm1, 16(%r12)
    subq $1, %rcx
    jnz 41b
    jmp 39f
42: cmpq $9, %r13
    ja 43f
44: movl %eax, (%r12)
    movl %eax, 4(%r12)
    movq (%r12), %rax
    addq $1, %rax
    subq $1, %rcx
    jnz 44b
    jmp 39f
43: cmpq $11, %r13
    ja 47f
    vmovdqu mload_mask(%rip), %ymm1
    leaq mload_area+3*4096-12(%rip), %rdx
    je 45f
    leaq mload_area+4096-12(%rip), %rdx
45: vmaskmovps (%rdx), %ymm1, %ymm2
    subq $1, %rcx
    jnz 45b
    jmp 39f
47: cmpq $12, %r13
    ja 49f
    vxorps %xmm0, %xmm0, %xmm0
48: vfmadd231ss (%r12), %xmm1, %xmm0
    vmovd %xmm0, %eax
    movl %eax, 8(%r12)
    subq $1, %rcx
    jnz 48b
    jmp 39f
49: cmpq $13, %r13
    ja 51f
50: vaddsd %xmm1, %xmm0, %xmm0
    subq $1, %rcx
    jnz 50b
    jmp 39f
51: vmulsd %xmm1, %xmm0, %xmm0
    subq $1, %rcx
    jnz 51b
39: vzeroupper
    call simtune_roi_end
    popq %r13
    popq %r12
    popq %rbx
    ret
    .size run_dep, .-run_dep
    .section .rodata
    .balign 32
mload_mask:
    .long -1, -1, -1, 0, 0, 0, 0, 0
    .bss
    .balign 4096
mload_area:
    .zero 4 * 4096
    .section .note.GNU-stack,"",@progbits
