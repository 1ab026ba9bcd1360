/*
 * The common clock of the two-host precise-tsc measurement, run on the
 * machine (L0) that emulates both AMD-V hosts (L1s) under TCG.
 *
 *   tscdiff SECONDS RAMFILE:PFN...
 *
 * Under TCG an L1's TSC is L0's TSC minus a constant: QEMU's TCG RDTSC
 * returns the host's cycle counter less its value when the VM started,
 * and ignores guest writes of IA32_TSC.  Each RAMFILE is the shared
 * memory file of one L1's RAM; at page frame PFN that L1 runs
 * "hostclock probe", which keeps storing its TSC there.  For SECONDS this
 * program reads each stored value V between two reads of its own TSC;
 * the store happened before the second read T, so T - V bounds the L1's
 * constant from above, and the smallest T - V over many reads is the
 * constant to within the freshest value's age (well under a microsecond
 * while the L1's probe runs).  Prints, per file, "VHM-BASE FILE base=B
 * fresh=N": B is the constant (L0 TSC = L1 TSC + B), N the number of new
 * values seen.  Exits 1 if a file gave no new values.
 *
 * Build: gcc -O2 -o tscdiff tscdiff.c
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 4
/* x86: the machine and the hosts of this measurement */
#define PAGE_SIZE 4096

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    asm volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) :: "memory");
    return ((uint64_t)hi << 32) | lo;
}

int main(int argc, char **argv)
{
    /* written by other machines (the L1s): every read must happen */
    volatile uint64_t *value[MAX_FILES];
    uint64_t base[MAX_FILES], last[MAX_FILES], fresh[MAX_FILES];
    long page = PAGE_SIZE;
    struct timespec start, now;
    int n = argc - 2, i, rc = 0;

    if (argc < 3 || n > MAX_FILES) {
        fprintf(stderr, "usage: tscdiff SECONDS RAMFILE:PFN...\n");
        return 2;
    }
    for (i = 0; i < n; i++) {
        char *colon = strrchr(argv[i + 2], ':');
        uint64_t pfn;
        void *p;
        int fd;

        if (!colon) {
            fprintf(stderr, "tscdiff: %s: no :PFN\n", argv[i + 2]);
            return 2;
        }
        *colon = 0;
        if (sscanf(colon + 1, "%" SCNu64, &pfn) != 1) {
            fprintf(stderr, "tscdiff: %s: PFN is not a number\n",
                    argv[i + 2]);
            return 2;
        }
        fd = open(argv[i + 2], O_RDONLY);
        if (fd < 0) {
            fprintf(stderr, "tscdiff: %s: %s\n", argv[i + 2], strerror(errno));
            return 2;
        }
        p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, pfn * page);
        if (p == MAP_FAILED) {
            fprintf(stderr, "tscdiff: %s: page %" PRIu64 ": %s\n",
                    argv[i + 2], pfn, strerror(errno));
            return 2;
        }
        close(fd);
        value[i] = p;
        base[i] = UINT64_MAX;
        last[i] = *value[i];
        fresh[i] = 0;
    }

    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        int k;

        for (k = 0; k < 100000; k++) {
            for (i = 0; i < n; i++) {
                uint64_t v = *value[i];
                uint64_t t = rdtsc();

                if (v != last[i]) {
                    last[i] = v;
                    fresh[i]++;
                    if (t - v < base[i]) {
                        base[i] = t - v;
                    }
                }
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) +
             (now.tv_nsec - start.tv_nsec) / 1e9 < strtod(argv[1], NULL));

    for (i = 0; i < n; i++) {
        printf("VHM-BASE %s base=%" PRIu64 " fresh=%" PRIu64 "\n",
               argv[i + 2], base[i], fresh[i]);
        if (!fresh[i]) {
            rc = 1;
        }
    }
    return rc;
}
