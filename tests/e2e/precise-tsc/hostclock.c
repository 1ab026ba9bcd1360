/*
 * The clock tool of one emulated AMD-V host (L1) in the two-host
 * precise-tsc measurement (built static at run time).
 *
 *   hostclock probe SECONDS
 *     Locks one page, prints "VHM-PROBE pfn=N" (its guest-physical page
 *     frame, from /proc/self/pagemap) and then stores this host's TSC into
 *     the page's first 8 bytes as fast as it can, for SECONDS.  The L1's
 *     RAM is a shared file on the machine that runs the L1s (L0), so a
 *     program there (tscdiff.c) reads the value next to its own TSC: under
 *     TCG an L1's TSC is L0's TSC minus a constant, and the constants of
 *     two L1s give the difference of their TSCs to a fraction of a
 *     microsecond, a ground truth that owes nothing to the network or to
 *     either host's clocks.
 *
 *   hostclock pair
 *     Prints "VHM-PAIR tsc=T realtime_ns=R tai=S width=W": CLOCK_REALTIME
 *     between two TSC reads W cycles apart (T is their midpoint) and the
 *     kernel's TAI offset.
 *
 *   hostclock set TSC REALTIME_NS KHZ
 *     Sets CLOCK_REALTIME to REALTIME_NS plus the time since this host's
 *     TSC read TSC, counted at KHZ: how the two hosts' clocks are brought
 *     together from one host's pair (what NTP would do, exactly).
 *
 * Build: gcc -O2 -static -o hostclock hostclock.c
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
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* x86: the hosts of this measurement */
#define PAGE_SIZE 4096

static int probe(double seconds)
{
    long page = PAGE_SIZE;
    /* read by another machine (tscdiff.c): every store must happen */
    volatile uint64_t *p;
    uint64_t entry, end, i;
    int fd;

    p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED || mlock((void *)p, page) < 0) {
        fprintf(stderr, "hostclock: cannot lock a page: %s\n",
                strerror(errno));
        return 1;
    }
    p[0] = rdtsc();
    fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0 ||
        pread(fd, &entry, sizeof(entry),
              (uintptr_t)p / page * sizeof(entry)) != sizeof(entry) ||
        !(entry >> 63) || !(entry & ((1ULL << 55) - 1))) {
        fprintf(stderr, "hostclock: no page frame in /proc/self/pagemap\n");
        return 1;
    }
    close(fd);
    printf("VHM-PROBE pfn=%" PRIu64 "\n",
           (uint64_t)(entry & ((1ULL << 55) - 1)));
    fflush(stdout);
    end = now_ns(CLOCK_MONOTONIC) + (uint64_t)(seconds * 1e9);
    for (i = 0;; i++) {
        p[0] = rdtsc();
        if (!(i & 0xffff) && now_ns(CLOCK_MONOTONIC) > end) {
            break;
        }
    }
    printf("VHM-PROBE done\n");
    return 0;
}

static int tai_offset(void)
{
    struct timex tx;

    memset(&tx, 0, sizeof(tx));
    adjtimex(&tx);
    return tx.tai;
}

/*
 * The TSC reads around a clock read or write, at most TRIES times, until
 * they are within TIGHT_CYCLES: a vCPU of an emulated host preempted in
 * between (milliseconds on a loaded machine) would otherwise put the pair,
 * or the clock set from one, off by that much.
 */
#define TRIES 1000
#define TIGHT_CYCLES 20000

static int pair(void)
{
    uint64_t t0, t1, rt;
    int i;

    for (i = 0; i < TRIES; i++) {
        t0 = rdtsc();
        rt = now_ns(CLOCK_REALTIME);
        t1 = rdtsc();
        if (t1 - t0 < TIGHT_CYCLES) {
            break;
        }
    }
    printf("VHM-PAIR tsc=%" PRIu64 " realtime_ns=%" PRIu64 " tai=%d "
           "width=%" PRIu64 "\n", t0 + (t1 - t0) / 2, rt, tai_offset(),
           t1 - t0);
    return 0;
}

static int set(uint64_t tsc_ref, uint64_t realtime_ns, uint64_t khz)
{
    struct timespec ts;
    uint64_t t0, t1, ns;
    int i;

    for (i = 0; i < TRIES; i++) {
        t0 = rdtsc();
        if (!khz || t0 < tsc_ref) {
            fprintf(stderr, "hostclock: TSC %" PRIu64 " is not in the past "
                    "(now %" PRIu64 ")\n", tsc_ref, t0);
            return 1;
        }
        ns = realtime_ns + (uint64_t)((t0 - tsc_ref) * 1e6 / khz);
        ts.tv_sec = ns / 1000000000ULL;
        ts.tv_nsec = ns % 1000000000ULL;
        if (clock_settime(CLOCK_REALTIME, &ts) < 0) {
            fprintf(stderr, "hostclock: clock_settime: %s\n",
                    strerror(errno));
            return 1;
        }
        t1 = rdtsc();
        if (t1 - t0 < TIGHT_CYCLES) {
            break;
        }
    }
    printf("VHM-SET width=%" PRIu64 "\n", t1 - t0);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t tsc, realtime_ns, khz;

    if (argc == 3 && !strcmp(argv[1], "probe")) {
        return probe(strtod(argv[2], NULL));
    }
    if (argc == 2 && !strcmp(argv[1], "pair")) {
        return pair();
    }
    if (argc == 5 && !strcmp(argv[1], "set") &&
        sscanf(argv[2], "%" SCNu64, &tsc) == 1 &&
        sscanf(argv[3], "%" SCNu64, &realtime_ns) == 1 &&
        sscanf(argv[4], "%" SCNu64, &khz) == 1) {
        return set(tsc, realtime_ns, khz);
    }
    fprintf(stderr, "usage: hostclock probe SECONDS | pair | "
            "set TSC REALTIME_NS KHZ\n");
    return 2;
}
