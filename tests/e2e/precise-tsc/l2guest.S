/*
 * The L2 guest of the precise-tsc end-to-end measurement: a 64 KiB
 * real-mode image for -bios.  QEMU maps it below 1 MiB (0xf0000-0xfffff);
 * the reset vector at 0xffff0 jumps to the start, which moves vCPU 0's TSC
 * forward by TSC_STEP cycles with a guest write of IA32_TSC.  vCPU 1 stays
 * in wait-for-SIPI; KVM keeps its TSC offset all the same.
 *
 * The step gives the two vCPUs different offsets (a guest write is applied
 * exactly, without KVM's synchronisation heuristics), so that the phase
 * between them is something a restore can get wrong.  It is below one
 * second of cycles on purpose: KVM's write matching then treats the stock
 * per-vCPU IA32_TSC restore as a synchronisation.
 *
 * vCPU 0 then asks KVM for a kvmclock (MSR_KVM_SYSTEM_TIME_NEW, the pvclock
 * structure at PVCLOCK) and loops: read the TSC, copy the pvclock structure
 * next to it (SAMPLE), with interrupts off.  measure.sh reads SAMPLE from
 * the stopped source and the stopped destination (HMP xp) and computes how
 * far the guest's kvmclock-to-TSC relationship moved.  SAMPLE layout:
 * +0 TSC (u64), +8 a copy of the 32-byte pvclock structure (version,
 * pad, tsc_timestamp, system_time, tsc_to_system_mul, tsc_shift, flags).
 *
 * Built with --defsym TSC_STEP=0 (l2guest-nostep.bin) the guest leaves its
 * TSC alone: both vCPUs keep equal offsets, which lets KVM keep its
 * master clock after a restore (see measure.sh's MODE+nostep).
 *
 * Build: as --32 -o l2guest.o l2guest.S
 *        ld -m elf_i386 -Ttext=0 --oformat binary -o l2guest.bin l2guest.o
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
        .code16
        .text
        .globl _start
        .ifndef TSC_STEP
        .set    TSC_STEP, 0x01000000
        .endif
        .set    MSR_KVM_SYSTEM_TIME_NEW, 0x4b564d01
        .set    PVCLOCK, 0x1000
        .set    SAMPLE, 0x1100
_start:
        cli
        .if     TSC_STEP
        rdtsc
        addl    $TSC_STEP, %eax
        adcl    $0, %edx
        movl    $0x10, %ecx             /* IA32_TSC */
        wrmsr
        .endif

        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movl    $MSR_KVM_SYSTEM_TIME_NEW, %ecx
        movl    $(PVCLOCK | 1), %eax    /* enable */
        xorl    %edx, %edx
        wrmsr
        cld
1:      rdtsc
        movl    %eax, SAMPLE
        movl    %edx, SAMPLE + 4
        movw    $PVCLOCK, %si
        movw    $(SAMPLE + 8), %di
        movw    $32, %cx
        rep movsb
        pause
        jmp     1b

        .org    0xfff0
reset:
        ljmp    $0xf000, $_start
        .org    0x10000
