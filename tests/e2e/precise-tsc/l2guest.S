/*
 * The L2 guest of the precise-tsc end-to-end measurement: a 64 KiB
 * real-mode image for -bios.  QEMU maps it below 1 MiB (0xf0000-0xfffff);
 * the reset vector at 0xffff0 jumps to the start, which moves vCPU 0's TSC
 * forward by TSC_STEP cycles with a guest write of IA32_TSC and then halts
 * with interrupts off, so that the vCPUs cost the emulated L1 host nothing
 * while their TSC offsets are measured.  vCPU 1 stays in wait-for-SIPI;
 * KVM keeps its TSC offset all the same.
 *
 * The step gives the two vCPUs different offsets (a guest write is applied
 * exactly, without KVM's synchronisation heuristics), so that the phase
 * between them is something a restore can get wrong.  It is below one
 * second of cycles on purpose: KVM's write matching then treats the stock
 * per-vCPU IA32_TSC restore as a synchronisation.
 *
 * Build: as --32 -o l2guest.o l2guest.S
 *        ld -m elf_i386 -Ttext=0 --oformat binary -o l2guest.bin l2guest.o
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
        .code16
        .text
        .globl _start
_start:
        .set    TSC_STEP, 0x01000000
        cli
        rdtsc
        addl    $TSC_STEP, %eax
        adcl    $0, %edx
        movl    $0x10, %ecx             /* IA32_TSC */
        wrmsr
1:      hlt
        jmp     1b

        .org    0xfff0
reset:
        ljmp    $0xf000, $_start
        .org    0x10000
