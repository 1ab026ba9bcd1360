/*
 * Unit tests of the guest TSC restore arithmetic
 *
 * The module under test is pure C with glib and QEMU's host-utils, so
 * these tests link nothing else of QEMU.  They simulate hosts whose TSC
 * and CLOCK_REALTIME are functions of a true time in milliseconds (a kHz
 * is one cycle per millisecond, so host TSCs stay exact integers), and
 * vCPUs whose TSC KVM derives from the host TSC, a scaling and an offset.
 * Expected values of the scaled cases come from an independent big-integer
 * computation and are written out as literals.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"

#include "tsc-restore.h"

#define NS_PER_MS 1000000ULL
#define MS_PER_S 1000ULL
/* 2026-01-01T00:00:00Z: CLOCK_REALTIME values look like real ones */
#define EPOCH_NS 1767225600000000000ULL

#define GUEST_KHZ 2500000U
/* Guest TSC cycles in one second at GUEST_KHZ */
#define GUEST_CYCLES_PER_S 2500000000ULL
/* The VM stops at 100 s of simulated true time */
#define T0_MS (100 * MS_PER_S)
/* The guest TSC of vCPU 0 when the VM stops */
#define TSC0 123456789000ULL

/* KVM's ratios for a 2.5 GHz guest on a 3 GHz host (2^N * 5 / 6) */
#define RATIO_2500_ON_3000_VMX 0xd55555555555ULL
#define RATIO_2500_ON_3000_SVM 0xd5555555ULL

/*
 * A simulated host.  realtime_at_zero_ns is CLOCK_REALTIME at true time 0;
 * changing it between two operations is an NTP step.
 */
typedef struct SimHost {
    uint64_t tsc_at_zero;
    uint32_t tsc_khz;
    uint64_t realtime_at_zero_ns;
    TscRestoreScaling scaling;
} SimHost;

static uint64_t sim_host_tsc(const SimHost *host, uint64_t t_ms)
{
    return host->tsc_at_zero + (uint64_t)host->tsc_khz * t_ms;
}

static uint64_t sim_realtime(const SimHost *host, uint64_t t_ms)
{
    return host->realtime_at_zero_ns + t_ms * NS_PER_MS;
}

static TscRestoreClockPair sim_pair(const SimHost *host, uint64_t t_ms)
{
    TscRestoreClockPair pair = {
        .realtime_ns = sim_realtime(host, t_ms),
        .host_tsc = sim_host_tsc(host, t_ms),
    };

    return pair;
}

/* What the vCPU with this offset reads with RDTSC at true time t_ms */
static uint64_t sim_guest_tsc(const SimHost *host, uint64_t offset,
                              uint64_t t_ms)
{
    return tsc_restore_guest_tsc(&host->scaling, sim_host_tsc(host, t_ms),
                                 offset);
}

/* The offset that makes a vCPU read guest_tsc at true time t_ms */
static uint64_t sim_offset_for(const SimHost *host, uint64_t guest_tsc,
                               uint64_t t_ms)
{
    return guest_tsc - sim_guest_tsc(host, 0, t_ms);
}

/* A host running its TSC at the guest's frequency, unscaled, on VMX */
static SimHost sim_host_unscaled(uint64_t tsc_at_zero)
{
    SimHost host = {
        .tsc_at_zero = tsc_at_zero,
        .tsc_khz = GUEST_KHZ,
        .realtime_at_zero_ns = EPOCH_NS,
        .scaling = tsc_restore_unscaled(TSC_RESTORE_FRAC_BITS_VMX),
    };

    return host;
}

/* A 3 GHz host scaling the guest's TSC to 2.5 GHz */
static SimHost sim_host_3ghz(uint64_t tsc_at_zero, uint64_t ratio,
                             unsigned int frac_bits)
{
    SimHost host = {
        .tsc_at_zero = tsc_at_zero,
        .tsc_khz = 3000000,
        .realtime_at_zero_ns = EPOCH_NS,
        .scaling = { .ratio = ratio, .frac_bits = frac_bits },
    };

    return host;
}

static TscRestoreSnapshot sim_snapshot(const SimHost *host, uint64_t t_ms,
                                       const TscRestoreVcpuSnapshot *vcpus,
                                       size_t nr_vcpus)
{
    TscRestoreSnapshot snapshot = {
        .pair = sim_pair(host, t_ms),
        .kvmclock_ns = 100 * MS_PER_S * NS_PER_MS,
        .guest_khz = GUEST_KHZ,
        .host_khz = host->tsc_khz,
        .scaling = host->scaling,
        .nr_vcpus = nr_vcpus,
        .vcpus = vcpus,
    };

    return snapshot;
}

static TscRestoreDestination sim_destination(const SimHost *host,
                                             uint64_t t_ms)
{
    TscRestoreDestination dst = {
        .pair = sim_pair(host, t_ms),
        .guest_khz = GUEST_KHZ,
        .scaling = host->scaling,
        .can_scale = true,
    };

    return dst;
}

static void compute_ok(const TscRestoreSnapshot *src,
                       const TscRestoreDestination *dst,
                       TscRestoreResult *result)
{
    char *errmsg = NULL;

    g_assert_cmpint(tsc_restore_compute(src, dst,
                                        TSC_RESTORE_DEFAULT_MAX_ELAPSED_NS,
                                        result, &errmsg),
                    ==, TSC_RESTORE_OK);
    g_assert_null(errmsg);
    g_assert_cmpuint(result->nr_vcpus, ==, src->nr_vcpus);
}

/*
 * Source vCPUs reading TSC0 + phases[i] at T0_MS on src_host, restored on
 * dst_host with its pair taken 10 s later.  Checks what every restore must
 * give: 10 s of cycles applied, each vCPU's TSC at the destination pair,
 * and the offset differences of the source.
 */
static void restore_10s_later(const SimHost *src_host, const SimHost *dst_host,
                              const uint64_t *phases, size_t nr_vcpus,
                              TscRestoreResult *result)
{
    g_autofree TscRestoreVcpuSnapshot *vcpus =
        g_new0(TscRestoreVcpuSnapshot, nr_vcpus);
    TscRestoreSnapshot src;
    TscRestoreDestination dst;
    uint64_t kept_running;
    size_t i;

    for (i = 0; i < nr_vcpus; i++) {
        vcpus[i].offset = sim_offset_for(src_host, TSC0 + phases[i], T0_MS);
    }
    src = sim_snapshot(src_host, T0_MS, vcpus, nr_vcpus);
    dst = sim_destination(dst_host, T0_MS + 10 * MS_PER_S);
    compute_ok(&src, &dst, result);

    g_assert_false(result->elapsed_clamped);
    g_assert_false(result->elapsed_over_bound);
    g_assert_cmpuint(result->elapsed_ns, ==, 10 * MS_PER_S * NS_PER_MS);
    /*
     * What the guest would have counted had it kept running on the source
     * (a scaled source may run a little slow); the two roundings down may
     * differ by one cycle.
     */
    kept_running = sim_guest_tsc(src_host, vcpus[0].offset,
                                 T0_MS + 10 * MS_PER_S) - (TSC0 + phases[0]);
    g_assert_cmpuint(kept_running - result->elapsed_cycles, <=, 1);
    if (src_host->tsc_khz == GUEST_KHZ) {
        g_assert_cmpuint(result->elapsed_cycles, ==, 10 * GUEST_CYCLES_PER_S);
    }
    for (i = 0; i < nr_vcpus; i++) {
        g_assert_cmpuint(result->vcpus[i].source_guest_tsc, ==,
                         TSC0 + phases[i]);
        g_assert_cmpuint(result->vcpus[i].guest_tsc_at_pair, ==,
                         TSC0 + phases[i] + result->elapsed_cycles);
        g_assert_cmpuint(result->vcpus[i].offset - result->vcpus[0].offset,
                         ==, vcpus[i].offset - vcpus[0].offset);
    }
}

/*
 * The phase between vCPUs, at any later instant on the destination, is
 * what it was on the source, to the cycle.
 */
static void assert_phases_at(const SimHost *dst_host,
                             const TscRestoreResult *result,
                             const uint64_t *phases, uint64_t t_ms)
{
    uint64_t tsc_vcpu0 = sim_guest_tsc(dst_host, result->vcpus[0].offset,
                                       t_ms);
    size_t i;

    for (i = 1; i < result->nr_vcpus; i++) {
        g_assert_cmpuint(sim_guest_tsc(dst_host, result->vcpus[i].offset,
                                       t_ms) - tsc_vcpu0,
                         ==, phases[i] - phases[0]);
    }
}

/*
 * Two vCPUs in phase.  Their offsets are read 1 s apart while the VM is
 * stopped; the restore pair is taken at t0 + 10 s and the offsets are
 * written at t0 + 10 s and t0 + 12 s.  At t0 + 12 s both read exactly
 * TSC0 + 12 s of cycles.
 */
static void test_seed_example(void)
{
    SimHost src_host = sim_host_unscaled(1000000000000ULL);
    SimHost dst_host = sim_host_unscaled(7);
    TscRestoreVcpuSnapshot vcpus[2];
    TscRestoreSnapshot src;
    TscRestoreDestination dst;
    TscRestoreResult result;
    uint64_t offset_at_t0 = sim_offset_for(&src_host, TSC0, T0_MS);
    uint64_t vcpu0_written_ms = T0_MS + 10 * MS_PER_S;
    uint64_t vcpu1_written_ms = T0_MS + 12 * MS_PER_S;

    /*
     * KVM reports the same offset at t0 and at t0 + 1 s: it does not move
     * while time passes, so the snapshot is consistent although the reads
     * are not simultaneous.  The TSC values themselves (what reading
     * MSR_IA32_TSC returns) are a second's worth of cycles apart.
     */
    vcpus[0].offset = offset_at_t0;
    vcpus[1].offset = offset_at_t0;
    g_assert_cmpuint(sim_guest_tsc(&src_host, vcpus[1].offset,
                                   T0_MS + MS_PER_S) -
                     sim_guest_tsc(&src_host, vcpus[0].offset, T0_MS),
                     ==, GUEST_CYCLES_PER_S);

    src = sim_snapshot(&src_host, T0_MS, vcpus, 2);
    dst = sim_destination(&dst_host, T0_MS + 10 * MS_PER_S);
    compute_ok(&src, &dst, &result);
    g_assert_cmpuint(result.elapsed_ns, ==, 10000000000ULL);

    /* vCPU 0 runs from its write on; vCPU 1 only from 2 s later */
    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[0].offset,
                                   vcpu0_written_ms), ==, 148456789000ULL);
    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[0].offset,
                                   vcpu1_written_ms), ==, 153456789000ULL);
    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[1].offset,
                                   vcpu1_written_ms), ==, 153456789000ULL);
    g_assert_cmpuint(result.vcpus[0].offset, ==, result.vcpus[1].offset);
    tsc_restore_result_clear(&result);
}

/*
 * CLOCK_REALTIME on the destination steps +5 s (NTP) between the writes of
 * the two vCPUs' offsets.  The module computed the elapsed time once, from
 * the pairs, so the step changes nothing.  A naive restore reading the
 * clock at each vCPU's write would have put vCPU 1 5 s of cycles ahead.
 */
static void test_ntp_step_between_writes(void)
{
    SimHost src_host = sim_host_unscaled(1000000000000ULL);
    SimHost dst_host = sim_host_unscaled(7);
    TscRestoreVcpuSnapshot vcpus[2] = {
        { .offset = sim_offset_for(&src_host, TSC0, T0_MS) },
        { .offset = sim_offset_for(&src_host, TSC0, T0_MS) },
    };
    TscRestoreSnapshot src = sim_snapshot(&src_host, T0_MS, vcpus, 2);
    uint64_t write_ms[2] = {
        T0_MS + 10 * MS_PER_S, T0_MS + 12 * MS_PER_S,
    };
    uint64_t read_ms = T0_MS + 12 * MS_PER_S;
    TscRestoreDestination dst = sim_destination(&dst_host, write_ms[0]);
    TscRestoreResult result;
    uint64_t naive_offsets[2];
    int i;

    compute_ok(&src, &dst, &result);

    for (i = 0; i < 2; i++) {
        uint64_t naive_elapsed_ns;

        if (i == 1) {
            dst_host.realtime_at_zero_ns += 5 * MS_PER_S * NS_PER_MS;
        }
        naive_elapsed_ns = sim_realtime(&dst_host, write_ms[i]) -
                           src.pair.realtime_ns;
        naive_offsets[i] = result.vcpus[i].source_guest_tsc +
                           tsc_restore_ns_to_cycles(naive_elapsed_ns,
                                                    GUEST_KHZ) -
                           sim_host_tsc(&dst_host, write_ms[i]);
    }

    g_assert_cmpuint(sim_guest_tsc(&dst_host, naive_offsets[1], read_ms) -
                     sim_guest_tsc(&dst_host, naive_offsets[0], read_ms),
                     ==, 5 * GUEST_CYCLES_PER_S);

    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[0].offset,
                                   read_ms), ==, 153456789000ULL);
    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[1].offset,
                                   read_ms), ==, 153456789000ULL);
    tsc_restore_result_clear(&result);
}

/*
 * Host TSCs are unrelated between hosts: each counts from its own reset.
 * Unscaled, a vCPU's TSC is host TSC + offset, checked here with plain
 * wrapping additions.
 */
static void check_unscaled_restore(uint64_t src_tsc_at_zero,
                                   uint64_t dst_tsc_at_zero)
{
    SimHost src_host = sim_host_unscaled(src_tsc_at_zero);
    SimHost dst_host = sim_host_unscaled(dst_tsc_at_zero);
    uint64_t phases[2] = { 0, 31 };
    uint64_t t_ms = T0_MS + 11 * MS_PER_S;
    TscRestoreResult result;

    restore_10s_later(&src_host, &dst_host, phases, 2, &result);
    g_assert_cmpuint(sim_host_tsc(&dst_host, t_ms) + result.vcpus[0].offset,
                     ==, TSC0 + 11 * GUEST_CYCLES_PER_S);
    g_assert_cmpuint(sim_host_tsc(&dst_host, t_ms) + result.vcpus[1].offset,
                     ==, TSC0 + 31 + 11 * GUEST_CYCLES_PER_S);
    tsc_restore_result_clear(&result);
}

static void test_dst_host_tsc_far_below(void)
{
    check_unscaled_restore(0xf000000000000000ULL, 1000);
}

static void test_dst_host_tsc_far_above(void)
{
    check_unscaled_restore(1000, 0xffff000000000000ULL);
}

/*
 * Differences of exactly 2^63 and just beyond in both directions: as
 * signed 64-bit values they would overflow, modulo 2^64 they do not.
 */
static void test_host_tsc_difference_2_63(void)
{
    uint64_t src_tsc_at_zero = 0x0123456789abcdefULL;

    check_unscaled_restore(src_tsc_at_zero, src_tsc_at_zero + (1ULL << 63));
    check_unscaled_restore(src_tsc_at_zero,
                           src_tsc_at_zero + (1ULL << 63) + 1);
    check_unscaled_restore(src_tsc_at_zero,
                           src_tsc_at_zero + (1ULL << 63) - 1);
    check_unscaled_restore(src_tsc_at_zero + (1ULL << 63), src_tsc_at_zero);
}

/*
 * From a 2.5 GHz host to a 3 GHz host scaling by 5/6 on VMX: the ratio is
 * not exact in binary, yet phases are kept to the cycle at any instant,
 * and vCPU 0's TSC matches the big-integer computation.
 */
static void test_scaled_vmx(void)
{
    SimHost src_host = sim_host_unscaled(5000000000000ULL);
    SimHost dst_host = sim_host_3ghz(42, RATIO_2500_ON_3000_VMX,
                                     TSC_RESTORE_FRAC_BITS_VMX);
    uint64_t phases[3] = { 0, 1000003, -77ULL };
    uint64_t pair_ms = T0_MS + 10 * MS_PER_S;
    TscRestoreResult result;

    restore_10s_later(&src_host, &dst_host, phases, 3, &result);
    g_assert_cmpuint(result.vcpus[0].offset, ==, 18446743947166340582ULL);
    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[0].offset,
                                   pair_ms + 3700), ==, 157706789000ULL);
    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[0].offset,
                                   pair_ms + 1000000), ==, 2648456789000ULL);
    assert_phases_at(&dst_host, &result, phases, pair_ms);
    assert_phases_at(&dst_host, &result, phases, pair_ms + 1);
    assert_phases_at(&dst_host, &result, phases, pair_ms + 3700);
    assert_phases_at(&dst_host, &result, phases, pair_ms + 1000000);
    tsc_restore_result_clear(&result);
}

/*
 * The same on SVM, whose 32 fraction bits make the guest run measurably
 * slow (233 cycles in 1000 s): KVM's rounding, the same for every vCPU,
 * so the phases are still exact.
 */
static void test_scaled_svm(void)
{
    SimHost src_host = sim_host_unscaled(5000000000000ULL);
    SimHost dst_host = sim_host_3ghz(42, RATIO_2500_ON_3000_SVM,
                                     TSC_RESTORE_FRAC_BITS_SVM);
    uint64_t phases[3] = { 0, 1000003, -77ULL };
    uint64_t pair_ms = T0_MS + 10 * MS_PER_S;
    TscRestoreResult result;

    restore_10s_later(&src_host, &dst_host, phases, 3, &result);
    g_assert_cmpuint(result.vcpus[0].offset, ==, 18446743947166340607ULL);
    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[0].offset,
                                   pair_ms + 3700), ==, 157706788999ULL);
    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[0].offset,
                                   pair_ms + 1000000), ==, 2648456788767ULL);
    assert_phases_at(&dst_host, &result, phases, pair_ms + 1);
    assert_phases_at(&dst_host, &result, phases, pair_ms + 3700);
    assert_phases_at(&dst_host, &result, phases, pair_ms + 1000000);
    tsc_restore_result_clear(&result);
}

/* Scaled on both sides: a 2 GHz VMX host to a 3 GHz SVM host */
static void test_scaled_both_sides(void)
{
    SimHost src_host = {
        .tsc_at_zero = 0x7fffffffffffff00ULL,
        .tsc_khz = 2000000,
        .realtime_at_zero_ns = EPOCH_NS,
        .scaling = { .ratio = 5ULL << 46,
                     .frac_bits = TSC_RESTORE_FRAC_BITS_VMX },
    };
    SimHost dst_host = sim_host_3ghz(42, RATIO_2500_ON_3000_SVM,
                                     TSC_RESTORE_FRAC_BITS_SVM);
    uint64_t phases[4] = { 0, 1, 999999999, -1ULL };
    uint64_t pair_ms = T0_MS + 10 * MS_PER_S;
    TscRestoreResult result;

    restore_10s_later(&src_host, &dst_host, phases, 4, &result);
    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[0].offset,
                                   pair_ms + 1000000), ==, 2648456788767ULL);
    assert_phases_at(&dst_host, &result, phases, pair_ms + 1);
    assert_phases_at(&dst_host, &result, phases, pair_ms + 1000000);
    tsc_restore_result_clear(&result);
}

/*
 * The destination's CLOCK_REALTIME is 3 s behind the source's at the two
 * pairs.  Nothing is added, the flag is set, and the guest TSC never reads
 * less than it did when the VM stopped.
 */
static void test_negative_elapsed_clamped(void)
{
    SimHost src_host = sim_host_unscaled(1000000000000ULL);
    SimHost dst_host = sim_host_unscaled(7);
    TscRestoreVcpuSnapshot vcpus[1] = {
        { .offset = sim_offset_for(&src_host, TSC0, T0_MS) },
    };
    TscRestoreSnapshot src = sim_snapshot(&src_host, T0_MS, vcpus, 1);
    TscRestoreDestination dst;
    TscRestoreResult result;
    uint64_t pair_ms = T0_MS + MS_PER_S;

    dst_host.realtime_at_zero_ns -= 4 * MS_PER_S * NS_PER_MS;
    dst = sim_destination(&dst_host, pair_ms);
    compute_ok(&src, &dst, &result);

    g_assert_true(result.elapsed_clamped);
    g_assert_false(result.elapsed_over_bound);
    g_assert_cmpuint(result.clock_behind_ns, ==, 3000000000ULL);
    g_assert_cmpuint(result.elapsed_ns, ==, 0);
    g_assert_cmpuint(result.elapsed_cycles, ==, 0);
    g_assert_cmpuint(result.kvmclock_ns, ==, src.kvmclock_ns);
    g_assert_cmpuint(result.vcpus[0].guest_tsc_at_pair, ==, TSC0);
    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[0].offset,
                                   pair_ms), ==, TSC0);
    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[0].offset,
                                   pair_ms + 1), ==, TSC0 + 2500000);
    tsc_restore_result_clear(&result);
}

/* Elapsed time at the bound is fine; a nanosecond more is flagged, kept */
static void test_elapsed_bound(void)
{
    uint64_t bound_ns = 60 * MS_PER_S * NS_PER_MS;
    TscRestoreVcpuSnapshot vcpus[1] = { { .offset = 5 } };
    TscRestoreSnapshot src = {
        .pair = { .realtime_ns = EPOCH_NS, .host_tsc = 1000 },
        .guest_khz = GUEST_KHZ,
        .host_khz = GUEST_KHZ,
        .scaling = tsc_restore_unscaled(TSC_RESTORE_FRAC_BITS_SVM),
        .nr_vcpus = 1,
        .vcpus = vcpus,
    };
    TscRestoreDestination dst = {
        .pair = { .realtime_ns = EPOCH_NS + bound_ns, .host_tsc = 1000 },
        .guest_khz = GUEST_KHZ,
        .scaling = tsc_restore_unscaled(TSC_RESTORE_FRAC_BITS_SVM),
        .can_scale = false,
    };
    TscRestoreResult result;

    g_assert_cmpint(tsc_restore_compute(&src, &dst, bound_ns, &result, NULL),
                    ==, TSC_RESTORE_OK);
    g_assert_false(result.elapsed_over_bound);
    g_assert_cmpuint(result.vcpus[0].offset, ==, 5 + 150000000000ULL);
    tsc_restore_result_clear(&result);

    dst.pair.realtime_ns++;
    g_assert_cmpint(tsc_restore_compute(&src, &dst, bound_ns, &result, NULL),
                    ==, TSC_RESTORE_OK);
    g_assert_true(result.elapsed_over_bound);
    g_assert_false(result.elapsed_clamped);
    g_assert_cmpuint(result.elapsed_ns, ==, bound_ns + 1);
    /* 60 s + 1 ns at 2.5 GHz: 2.5 cycles for the nanosecond, rounded down */
    g_assert_cmpuint(result.elapsed_cycles, ==, 150000000002ULL);
    g_assert_cmpuint(result.vcpus[0].offset, ==, 5 + 150000000002ULL);
    tsc_restore_result_clear(&result);

    dst.pair.realtime_ns = EPOCH_NS + TSC_RESTORE_DEFAULT_MAX_ELAPSED_NS + 1;
    compute_ok(&src, &dst, &result);
    g_assert_true(result.elapsed_over_bound);
    tsc_restore_result_clear(&result);
}

/*
 * A freshly booted guest on a host up for two hours: the offset is just
 * below 2^64, i.e. negative.  The other vCPU has offset 2^64 - 1.
 */
static void test_offsets_wrap(void)
{
    SimHost src_host = sim_host_unscaled(1ULL << 44);
    SimHost dst_host = sim_host_unscaled(5);
    uint64_t phases[2];
    TscRestoreResult result;
    uint64_t offset_src;

    offset_src = sim_offset_for(&src_host, 1000, T0_MS);
    g_assert_cmphex(offset_src, ==, 0xffffefc5cad6bfe8ULL);
    /* Phases relative to TSC0, which restore_10s_later() adds back */
    phases[0] = 1000 - TSC0;
    phases[1] = (-1ULL - offset_src) + phases[0];
    restore_10s_later(&src_host, &dst_host, phases, 2, &result);
    g_assert_cmphex(result.vcpus[0].offset, ==, 0xffffffc5cad6bfe3ULL);
    g_assert_cmphex(result.vcpus[1].offset, ==, 0x00000ffffffffffaULL);
    g_assert_cmpuint(sim_host_tsc(&dst_host, T0_MS + 10 * MS_PER_S) +
                     result.vcpus[0].offset,
                     ==, 1000 + 10 * GUEST_CYCLES_PER_S);
    tsc_restore_result_clear(&result);
}

/* The guest TSC crosses 2^64 while the VM is stopped */
static void test_guest_tsc_wraps_during_downtime(void)
{
    SimHost src_host = sim_host_unscaled(1000000000000ULL);
    SimHost dst_host = sim_host_unscaled(7);
    uint64_t phases[2] = { -TSC0 - 1000, -TSC0 - 1 };
    TscRestoreResult result;

    restore_10s_later(&src_host, &dst_host, phases, 2, &result);
    g_assert_cmpuint(result.vcpus[0].source_guest_tsc, ==, -1000ULL);
    g_assert_cmpuint(result.vcpus[0].guest_tsc_at_pair, ==, 24999999000ULL);
    g_assert_cmpuint(result.vcpus[1].guest_tsc_at_pair, ==, 24999999999ULL);
    tsc_restore_result_clear(&result);
}

static TscRestoreSnapshot valid_snapshot(const TscRestoreVcpuSnapshot *vcpus)
{
    TscRestoreSnapshot src = {
        .pair = { .realtime_ns = EPOCH_NS, .host_tsc = 1000 },
        .guest_khz = GUEST_KHZ,
        .host_khz = GUEST_KHZ,
        .scaling = tsc_restore_unscaled(TSC_RESTORE_FRAC_BITS_VMX),
        .nr_vcpus = 1,
        .vcpus = vcpus,
    };

    return src;
}

static TscRestoreDestination valid_destination(void)
{
    TscRestoreDestination dst = {
        .pair = { .realtime_ns = EPOCH_NS + 1, .host_tsc = 2000 },
        .guest_khz = GUEST_KHZ,
        .scaling = tsc_restore_unscaled(TSC_RESTORE_FRAC_BITS_VMX),
        .can_scale = false,
    };

    return dst;
}

static void assert_compute_fails(const TscRestoreSnapshot *src,
                                 const TscRestoreDestination *dst,
                                 TscRestoreStatus status,
                                 const char *const *message_parts)
{
    TscRestoreResult result;
    g_autofree char *errmsg = NULL;

    g_assert_cmpint(tsc_restore_compute(src, dst,
                                        TSC_RESTORE_DEFAULT_MAX_ELAPSED_NS,
                                        &result, &errmsg), ==, status);
    g_assert_nonnull(errmsg);
    g_assert_null(strchr(errmsg, '\n'));
    for (; *message_parts; message_parts++) {
        g_assert_nonnull(strstr(errmsg, *message_parts));
    }
    g_assert_null(result.vcpus);
    g_assert_cmpuint(result.nr_vcpus, ==, 0);
    g_assert_cmpuint(result.elapsed_ns, ==, 0);
    tsc_restore_result_clear(&result);
}

static void test_freq_mismatch_unscalable(void)
{
    TscRestoreVcpuSnapshot vcpus[1] = { { .offset = 1 } };
    TscRestoreSnapshot src = valid_snapshot(vcpus);
    TscRestoreDestination dst = valid_destination();
    const char *const parts[] = {
        "source 2500000 kHz", "destination 3000000 kHz", "cannot scale", NULL,
    };

    dst.guest_khz = 3000000;
    assert_compute_fails(&src, &dst, TSC_RESTORE_ERR_FREQ_MISMATCH, parts);
}

/* Scaling available but not applied: still refused, with its own reason */
static void test_freq_mismatch_scalable(void)
{
    TscRestoreVcpuSnapshot vcpus[1] = { { .offset = 1 } };
    TscRestoreSnapshot src = valid_snapshot(vcpus);
    TscRestoreDestination dst = valid_destination();
    const char *const parts[] = {
        "source 2500000 kHz", "destination 2000000 kHz",
        "although the destination can scale", NULL,
    };

    dst.guest_khz = 2000000;
    dst.can_scale = true;
    assert_compute_fails(&src, &dst, TSC_RESTORE_ERR_FREQ_MISMATCH, parts);
}

static void test_invalid_inputs(void)
{
    TscRestoreVcpuSnapshot vcpus[1] = { { .offset = 1 } };
    TscRestoreSnapshot src;
    TscRestoreDestination dst;
    const char *const no_vcpus[] = { "source snapshot", "no vCPU", NULL };
    const char *const src_khz[] = { "source snapshot", "0 kHz", NULL };
    const char *const dst_khz[] = { "destination", "0 kHz", NULL };
    const char *const src_ratio[] = { "source TSC scaling", "ratio is 0",
                                      NULL };
    const char *const dst_frac[] = { "destination TSC scaling",
                                     "frac_bits 64", NULL };
    const char *const unscalable[] = { "destination TSC scaling",
                                       "0x800000000000", "cannot scale",
                                       NULL };

    src = valid_snapshot(vcpus);
    dst = valid_destination();
    src.nr_vcpus = 0;
    assert_compute_fails(&src, &dst, TSC_RESTORE_ERR_INVALID_INPUT,
                         no_vcpus);

    src = valid_snapshot(vcpus);
    src.guest_khz = 0;
    assert_compute_fails(&src, &dst, TSC_RESTORE_ERR_INVALID_INPUT, src_khz);

    src = valid_snapshot(vcpus);
    dst.guest_khz = 0;
    assert_compute_fails(&src, &dst, TSC_RESTORE_ERR_INVALID_INPUT, dst_khz);

    dst = valid_destination();
    src.scaling.ratio = 0;
    assert_compute_fails(&src, &dst, TSC_RESTORE_ERR_INVALID_INPUT,
                         src_ratio);

    src = valid_snapshot(vcpus);
    dst.scaling.frac_bits = 64;
    assert_compute_fails(&src, &dst, TSC_RESTORE_ERR_INVALID_INPUT,
                         dst_frac);

    dst = valid_destination();
    dst.scaling.ratio = 1ULL << 47;
    assert_compute_fails(&src, &dst, TSC_RESTORE_ERR_INVALID_INPUT,
                         unscalable);
}

/* The kvmclock advances by the same elapsed nanoseconds as the TSCs */
static void test_kvmclock(void)
{
    TscRestoreVcpuSnapshot vcpus[1] = { { .offset = 1 } };
    TscRestoreSnapshot src = valid_snapshot(vcpus);
    TscRestoreDestination dst = valid_destination();
    TscRestoreResult result;

    src.kvmclock_ns = 123000000000ULL;
    dst.pair.realtime_ns = EPOCH_NS + 10000000007ULL;
    compute_ok(&src, &dst, &result);
    g_assert_cmpuint(result.kvmclock_ns, ==, 133000000007ULL);
    g_assert_cmpuint(result.elapsed_cycles, ==, 25000000017ULL);
    tsc_restore_result_clear(&result);
}

/*
 * kvmclock read between two CLOCK_REALTIME reads, carried to the
 * user-space pair's instant, after or before its bracket.
 */
static void test_kvmclock_at_pair(void)
{
    /* bracket 5000..5101 ns: midpoint 5050 (rounded down) */
    g_assert_cmpuint(tsc_restore_kvmclock_at(1000000, 5000, 5101, 65050),
                     ==, 1060000);
    g_assert_cmpuint(tsc_restore_kvmclock_at(1000000, 5000, 5101, 4050),
                     ==, 999000);
    g_assert_cmpuint(tsc_restore_kvmclock_at(1000000, 5000, 5101, 5050),
                     ==, 1000000);
    /* realistic magnitudes: 60 us after a 3 us bracket */
    g_assert_cmpuint(tsc_restore_kvmclock_at(6799796161ULL,
                                             EPOCH_NS, EPOCH_NS + 3000,
                                             EPOCH_NS + 61500),
                     ==, 6799856161ULL);
}

/* Nanoseconds to cycles: exact, rounded down */
static void test_ns_to_cycles_rounding(void)
{
    g_assert_cmpuint(tsc_restore_ns_to_cycles(0, GUEST_KHZ), ==, 0);
    g_assert_cmpuint(tsc_restore_ns_to_cycles(1, GUEST_KHZ), ==, 2);
    g_assert_cmpuint(tsc_restore_ns_to_cycles(3, 1), ==, 0);
    g_assert_cmpuint(tsc_restore_ns_to_cycles(999999, 1), ==, 0);
    g_assert_cmpuint(tsc_restore_ns_to_cycles(1000000, 1), ==, 1);
    g_assert_cmpuint(tsc_restore_ns_to_cycles(7, 2999999), ==, 20);
    g_assert_cmpuint(tsc_restore_ns_to_cycles(1000000000, GUEST_KHZ),
                     ==, GUEST_CYCLES_PER_S);
}

/* Products above 2^64 must not lose bits; quotients above wrap like a TSC */
static void test_ns_to_cycles_128bit(void)
{
    g_assert_cmpuint(tsc_restore_ns_to_cycles(10000000000000ULL,
                                              UINT32_MAX),
                     ==, 42949672950000000ULL);
    g_assert_cmpuint(tsc_restore_ns_to_cycles(UINT64_MAX, UINT32_MAX),
                     ==, 17843443308778876435ULL);
    g_assert_cmpuint(tsc_restore_ns_to_cycles(1ULL << 63, 4000000), ==, 0);
}

static void test_guest_tsc_eval(void)
{
    TscRestoreScaling vmx = tsc_restore_unscaled(TSC_RESTORE_FRAC_BITS_VMX);
    TscRestoreScaling svm = tsc_restore_unscaled(TSC_RESTORE_FRAC_BITS_SVM);
    TscRestoreScaling half = { .ratio = 1ULL << 47, .frac_bits = 48 };
    TscRestoreScaling five_quarters = { .ratio = 5ULL << 46,
                                        .frac_bits = 48 };
    TscRestoreScaling triple = { .ratio = 3ULL << 48, .frac_bits = 48 };
    TscRestoreScaling five_sixths = { .ratio = RATIO_2500_ON_3000_VMX,
                                      .frac_bits = 48 };
    TscRestoreScaling integer = { .ratio = 1, .frac_bits = 0 };

    /* No scaling is the identity, even at the top of the range */
    g_assert_cmpuint(tsc_restore_guest_tsc(&vmx, UINT64_MAX, 2), ==, 1);
    g_assert_cmpuint(tsc_restore_guest_tsc(&svm, UINT64_MAX, 0), ==,
                     UINT64_MAX);
    g_assert_cmpuint(tsc_restore_guest_tsc(&integer, 12345, 5), ==, 12350);
    g_assert_cmpuint(tsc_restore_guest_tsc(&half, 1001, 10), ==, 510);
    g_assert_cmpuint(tsc_restore_guest_tsc(&five_quarters, 1ULL << 62, 0),
                     ==, 0x5000000000000000ULL);
    /* 3 * 2^63 does not fit: KVM keeps the low 64 bits */
    g_assert_cmpuint(tsc_restore_guest_tsc(&triple, 1ULL << 63, 0),
                     ==, 0x8000000000000000ULL);
    g_assert_cmpuint(tsc_restore_guest_tsc(&five_sixths, 330000000042ULL, 0),
                     ==, 275000000034ULL);
}

static TscRestoreHostTsc kvm_host(uint32_t host_khz, bool can_scale,
                                   unsigned int frac_bits)
{
    TscRestoreHostTsc host = {
        .host_khz = host_khz,
        .tolerance_ppm = TSC_RESTORE_DEFAULT_TOLERANCE_PPM,
        .can_scale = can_scale,
        .frac_bits = frac_bits,
        .max_ratio = frac_bits == TSC_RESTORE_FRAC_BITS_SVM ?
                     TSC_RESTORE_MAX_RATIO_SVM : TSC_RESTORE_MAX_RATIO_VMX,
    };

    return host;
}

static TscRestoreScaling kvm_scaling_ok(const TscRestoreHostTsc *host,
                                        uint32_t guest_khz)
{
    TscRestoreScaling scaling = { 0 };
    char *errmsg = NULL;

    g_assert_cmpint(tsc_restore_kvm_scaling(host, guest_khz, &scaling,
                                            &errmsg), ==, TSC_RESTORE_OK);
    g_assert_null(errmsg);
    return scaling;
}

static void kvm_scaling_fails(const TscRestoreHostTsc *host,
                              uint32_t guest_khz, TscRestoreStatus status,
                              const char *message_part)
{
    TscRestoreScaling scaling = { .ratio = 77 };
    g_autofree char *errmsg = NULL;

    g_assert_cmpint(tsc_restore_kvm_scaling(host, guest_khz, &scaling,
                                            &errmsg), ==, status);
    g_assert_nonnull(strstr(errmsg, message_part));
    g_assert_null(strchr(errmsg, '\n'));
    g_assert_cmpuint(scaling.ratio, ==, 77);
}

/* Ratios outside the tolerance, as KVM computes them */
static void test_kvm_scaling_outside(void)
{
    TscRestoreHostTsc vmx = kvm_host(3000000, true,
                                     TSC_RESTORE_FRAC_BITS_VMX);
    TscRestoreHostTsc svm = kvm_host(3000000, true,
                                     TSC_RESTORE_FRAC_BITS_SVM);
    TscRestoreHostTsc svm_2ghz = kvm_host(2000000, true,
                                          TSC_RESTORE_FRAC_BITS_SVM);
    TscRestoreScaling scaling;

    scaling = kvm_scaling_ok(&vmx, 2500000);
    g_assert_cmphex(scaling.ratio, ==, RATIO_2500_ON_3000_VMX);
    g_assert_cmpuint(scaling.frac_bits, ==, 48);
    scaling = kvm_scaling_ok(&svm, 2500000);
    g_assert_cmphex(scaling.ratio, ==, RATIO_2500_ON_3000_SVM);
    g_assert_cmpuint(scaling.frac_bits, ==, 32);
    scaling = kvm_scaling_ok(&svm_2ghz, 2500000);
    g_assert_cmphex(scaling.ratio, ==, 5ULL << 30);
    /* 300 ppm above a 2 GHz host: 2^32 * 2000600 / 2000000 = 0x10013a92a */
    scaling = kvm_scaling_ok(&svm_2ghz, 2000600);
    g_assert_cmphex(scaling.ratio, ==, 0x10013a92aULL);
}

/*
 * Within tsc_tolerance_ppm KVM does not scale: 200 ppm above a 2 GHz host
 * (the case of the e2e measurement) runs at the host's rate.
 */
static void test_kvm_scaling_inside(void)
{
    TscRestoreHostTsc svm = kvm_host(2000000, true,
                                     TSC_RESTORE_FRAC_BITS_SVM);
    TscRestoreHostTsc no_control = kvm_host(2000000, false,
                                            TSC_RESTORE_FRAC_BITS_SVM);
    TscRestoreScaling scaling;

    scaling = kvm_scaling_ok(&svm, 2000400);
    g_assert_cmphex(scaling.ratio, ==, 1ULL << 32);
    scaling = kvm_scaling_ok(&svm, 1999600);
    g_assert_cmphex(scaling.ratio, ==, 1ULL << 32);
    scaling = kvm_scaling_ok(&no_control, 2000400);
    g_assert_cmphex(scaling.ratio, ==, 1ULL << 32);
    scaling = kvm_scaling_ok(&svm, 2000000);
    g_assert_cmphex(scaling.ratio, ==, 1ULL << 32);
}

/*
 * The bounds: 250 ppm of 2000000 kHz is exactly 500 kHz, both ends are
 * inside; of 2999999 kHz it is 749.99975 kHz and KVM rounds both bounds
 * down (to 2999249 and 3000748 kHz).
 */
static void test_kvm_scaling_boundary(void)
{
    TscRestoreHostTsc svm = kvm_host(2000000, true,
                                     TSC_RESTORE_FRAC_BITS_SVM);
    TscRestoreHostTsc odd = kvm_host(2999999, true,
                                     TSC_RESTORE_FRAC_BITS_VMX);
    TscRestoreHostTsc strict = kvm_host(2000000, true,
                                        TSC_RESTORE_FRAC_BITS_SVM);

    g_assert_true(tsc_restore_within_tolerance(&svm, 2000500));
    g_assert_false(tsc_restore_within_tolerance(&svm, 2000501));
    g_assert_true(tsc_restore_within_tolerance(&svm, 1999500));
    g_assert_false(tsc_restore_within_tolerance(&svm, 1999499));
    g_assert_cmphex(kvm_scaling_ok(&svm, 2000500).ratio, ==, 1ULL << 32);
    g_assert_cmphex(kvm_scaling_ok(&svm, 2000501).ratio, !=, 1ULL << 32);

    g_assert_true(tsc_restore_within_tolerance(&odd, 2999249));
    g_assert_false(tsc_restore_within_tolerance(&odd, 2999248));
    g_assert_true(tsc_restore_within_tolerance(&odd, 3000748));
    g_assert_false(tsc_restore_within_tolerance(&odd, 3000749));

    /* The module parameter, not a constant: tsc_tolerance_ppm=0 */
    strict.tolerance_ppm = 0;
    g_assert_true(tsc_restore_within_tolerance(&strict, 2000000));
    g_assert_false(tsc_restore_within_tolerance(&strict, 2000001));
    g_assert_false(tsc_restore_within_tolerance(&strict, 1999999));
}

static void test_kvm_scaling_refused(void)
{
    TscRestoreHostTsc no_control = kvm_host(2000000, false,
                                            TSC_RESTORE_FRAC_BITS_SVM);
    TscRestoreHostTsc svm = kvm_host(1000, true, TSC_RESTORE_FRAC_BITS_SVM);
    TscRestoreHostTsc bad = kvm_host(2000000, true, 64);

    /* Catch-up mode above, refusal below: neither can be restored */
    kvm_scaling_fails(&no_control, 2000501, TSC_RESTORE_ERR_NOT_PRECISE,
                      "cannot scale");
    kvm_scaling_fails(&no_control, 1999499, TSC_RESTORE_ERR_NOT_PRECISE,
                      "cannot scale");
    /* 256 times the host: SVM's ratio has 8 integer bits */
    kvm_scaling_fails(&svm, 256000, TSC_RESTORE_ERR_NOT_PRECISE,
                      "ratio KVM refuses");
    g_assert_cmphex(kvm_scaling_ok(&svm, 255999).ratio, ==,
                    0xffffbe76c8ULL);
    kvm_scaling_fails(&bad, 2500000, TSC_RESTORE_ERR_INVALID_INPUT,
                      "frac_bits 64");
    kvm_scaling_fails(&no_control, 0, TSC_RESTORE_ERR_INVALID_INPUT,
                      "is 0");
    no_control.host_khz = 0;
    kvm_scaling_fails(&no_control, 2000000, TSC_RESTORE_ERR_INVALID_INPUT,
                      "is 0");
}

/*
 * A guest 200 ppm faster than two 2 GHz hosts, which KVM does not scale:
 * the guest TSC runs at each host's rate.  Hosts up for very different
 * times (10^15 cycles apart): the guest reads exactly what it would have
 * read had it kept running, 10 s of the source host's cycles later.
 */
static void test_200ppm_between_hosts(void)
{
    TscRestoreHostTsc kvm = kvm_host(2000000, false,
                                     TSC_RESTORE_FRAC_BITS_SVM);
    SimHost src_host = {
        .tsc_at_zero = 1000000000000000ULL,
        .tsc_khz = 2000000,
        .realtime_at_zero_ns = EPOCH_NS,
        .scaling = kvm_scaling_ok(&kvm, 2000400),
    };
    SimHost dst_host = src_host;
    TscRestoreVcpuSnapshot vcpus[2] = {
        { .offset = sim_offset_for(&src_host, TSC0, T0_MS) },
        { .offset = sim_offset_for(&src_host, TSC0 + 99, T0_MS) },
    };
    TscRestoreSnapshot src;
    TscRestoreDestination dst;
    TscRestoreResult result;
    uint64_t pair_ms = T0_MS + 10 * MS_PER_S;

    dst_host.tsc_at_zero = 17;
    src = sim_snapshot(&src_host, T0_MS, vcpus, 2);
    src.guest_khz = 2000400;
    dst = sim_destination(&dst_host, pair_ms);
    dst.guest_khz = 2000400;
    dst.can_scale = false;
    compute_ok(&src, &dst, &result);
    g_assert_cmpuint(result.elapsed_cycles, ==, 20000000000ULL);
    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[0].offset,
                                   pair_ms), ==, TSC0 + 20000000000ULL);
    g_assert_cmpuint(sim_guest_tsc(&dst_host, result.vcpus[1].offset,
                                   pair_ms + 5), ==,
                     TSC0 + 99 + 20010000000ULL);
    tsc_restore_result_clear(&result);

    /* On one host the offsets stay what they were */
    dst_host.tsc_at_zero = src_host.tsc_at_zero;
    dst = sim_destination(&dst_host, pair_ms);
    dst.guest_khz = 2000400;
    compute_ok(&src, &dst, &result);
    g_assert_cmpuint(result.vcpus[0].offset, ==, vcpus[0].offset);
    g_assert_cmpuint(result.vcpus[1].offset, ==, vcpus[1].offset);
    tsc_restore_result_clear(&result);
}

/*
 * TAI, not UTC.  The source's kernel says TAI = UTC + 37 s; the
 * destination's still says 36 s, so its CLOCK_REALTIME reads one second
 * more for the same instant.  10 s pass: the guest moves by 10 s, and KVM
 * is given the source's instant in the destination's UTC.
 */
static void test_tai_offsets_differ(void)
{
    TscRestoreVcpuSnapshot vcpus[1] = { { .offset = 1 } };
    TscRestoreSnapshot src = valid_snapshot(vcpus);
    TscRestoreDestination dst = valid_destination();
    TscRestoreResult result;

    src.pair.tai_offset_s = 37;
    dst.pair.tai_offset_s = 36;
    dst.pair.realtime_ns = EPOCH_NS + 11 * MS_PER_S * NS_PER_MS;
    compute_ok(&src, &dst, &result);
    g_assert_cmpuint(result.elapsed_ns, ==, 10 * MS_PER_S * NS_PER_MS);
    g_assert_cmpuint(result.elapsed_cycles, ==, 10 * GUEST_CYCLES_PER_S);
    g_assert_cmpuint(result.source_realtime_ns, ==,
                     EPOCH_NS + MS_PER_S * NS_PER_MS);
    tsc_restore_result_clear(&result);
}

/*
 * A leap second inserted during the downtime: UTC repeats a second and
 * the kernel's TAI offset goes from 36 to 37.  Still 10 s, not 9.
 */
static void test_tai_leap_second(void)
{
    TscRestoreVcpuSnapshot vcpus[1] = { { .offset = 1 } };
    TscRestoreSnapshot src = valid_snapshot(vcpus);
    TscRestoreDestination dst = valid_destination();
    TscRestoreResult result;

    src.pair.tai_offset_s = 36;
    dst.pair.tai_offset_s = 37;
    dst.pair.realtime_ns = EPOCH_NS + 9 * MS_PER_S * NS_PER_MS;
    compute_ok(&src, &dst, &result);
    g_assert_cmpuint(result.elapsed_ns, ==, 10 * MS_PER_S * NS_PER_MS);
    g_assert_cmpuint(result.source_realtime_ns, ==,
                     EPOCH_NS - MS_PER_S * NS_PER_MS);
    g_assert_false(result.elapsed_clamped);
    tsc_restore_result_clear(&result);
}

/* The narrowest bracket wins, the first of equals */
static void test_pair_tightest(void)
{
    TscRestorePairSample samples[] = {
        { .tsc_before = 1000, .realtime_ns = EPOCH_NS, .tsc_after = 1100 },
        { .tsc_before = 5000, .realtime_ns = EPOCH_NS + 2,
          .tsc_after = 5030 },
        { .tsc_before = 9000, .realtime_ns = EPOCH_NS + 3,
          .tsc_after = 9030 },
        { .tsc_before = 12000, .realtime_ns = EPOCH_NS + 4,
          .tsc_after = 12500 },
    };
    TscRestorePairEstimate estimate;
    char *errmsg = NULL;

    g_assert_cmpint(tsc_restore_pair_from_samples(samples, 4, 3000000,
                                                  &estimate, &errmsg),
                    ==, TSC_RESTORE_OK);
    g_assert_null(errmsg);
    g_assert_cmpuint(estimate.sample_index, ==, 1);
    g_assert_cmpuint(estimate.nr_rejected, ==, 0);
    g_assert_cmpuint(estimate.pair.realtime_ns, ==, EPOCH_NS + 2);
    g_assert_cmpuint(estimate.pair.host_tsc, ==, 5015);
    /* 15 cycles at 3 cycles per ns */
    g_assert_cmpuint(estimate.uncertainty_ns, ==, 5);
}

/*
 * Samples whose TSC reads are out of order are rejected, even though as
 * signed widths they would look narrowest.
 */
static void test_pair_rejects_out_of_order(void)
{
    TscRestorePairSample samples[] = {
        { .tsc_before = 2000, .realtime_ns = EPOCH_NS, .tsc_after = 1990 },
        { .tsc_before = 3000, .realtime_ns = EPOCH_NS + 5,
          .tsc_after = 3100 },
        { .tsc_before = 5000, .realtime_ns = EPOCH_NS + 9,
          .tsc_after = 4000 },
    };
    TscRestorePairEstimate estimate;
    g_autofree char *errmsg = NULL;

    g_assert_cmpint(tsc_restore_pair_from_samples(samples, 3, GUEST_KHZ,
                                                  &estimate, NULL),
                    ==, TSC_RESTORE_OK);
    g_assert_cmpuint(estimate.sample_index, ==, 1);
    g_assert_cmpuint(estimate.nr_rejected, ==, 2);
    g_assert_cmpuint(estimate.pair.realtime_ns, ==, EPOCH_NS + 5);
    g_assert_cmpuint(estimate.pair.host_tsc, ==, 3050);
    /* 50 cycles at 2.5 cycles per ns */
    g_assert_cmpuint(estimate.uncertainty_ns, ==, 20);

    samples[1].tsc_after = 2999;
    g_assert_cmpint(tsc_restore_pair_from_samples(samples, 3, GUEST_KHZ,
                                                  &estimate, &errmsg),
                    ==, TSC_RESTORE_ERR_NO_VALID_SAMPLE);
    g_assert_nonnull(strstr(errmsg, "all 3 samples"));
    g_assert_cmpuint(estimate.pair.host_tsc, ==, 0);
}

/*
 * The midpoint rounds down and the uncertainty covers the far end, in
 * whole nanoseconds rounded up.
 */
static void test_pair_uncertainty_rounding(void)
{
    TscRestorePairSample sample = {
        .tsc_before = 7000, .realtime_ns = EPOCH_NS, .tsc_after = 8001,
    };
    TscRestorePairEstimate estimate;

    /* Width 1001: midpoint 7500, 501 cycles to the far end = 167 ns */
    g_assert_cmpint(tsc_restore_pair_from_samples(&sample, 1, 3000000,
                                                  &estimate, NULL),
                    ==, TSC_RESTORE_OK);
    g_assert_cmpuint(estimate.pair.host_tsc, ==, 7500);
    g_assert_cmpuint(estimate.uncertainty_ns, ==, 167);

    /* Width 1000: 500 cycles = 166.67 ns, rounded up */
    sample.tsc_after = 8000;
    g_assert_cmpint(tsc_restore_pair_from_samples(&sample, 1, 3000000,
                                                  &estimate, NULL),
                    ==, TSC_RESTORE_OK);
    g_assert_cmpuint(estimate.pair.host_tsc, ==, 7500);
    g_assert_cmpuint(estimate.uncertainty_ns, ==, 167);

    /* Width 7 at 1 kHz: 4 cycles are 4 ms */
    sample.tsc_after = 7007;
    g_assert_cmpint(tsc_restore_pair_from_samples(&sample, 1, 1,
                                                  &estimate, NULL),
                    ==, TSC_RESTORE_OK);
    g_assert_cmpuint(estimate.pair.host_tsc, ==, 7003);
    g_assert_cmpuint(estimate.uncertainty_ns, ==, 4000000);

    /* Width 0: exact */
    sample.tsc_after = 7000;
    g_assert_cmpint(tsc_restore_pair_from_samples(&sample, 1, 3000000,
                                                  &estimate, NULL),
                    ==, TSC_RESTORE_OK);
    g_assert_cmpuint(estimate.pair.host_tsc, ==, 7000);
    g_assert_cmpuint(estimate.uncertainty_ns, ==, 0);

    /* 2^63 cycles at 1 kHz are more nanoseconds than 64 bits hold */
    sample.tsc_before = 0;
    sample.tsc_after = UINT64_MAX;
    g_assert_cmpint(tsc_restore_pair_from_samples(&sample, 1, 1,
                                                  &estimate, NULL),
                    ==, TSC_RESTORE_OK);
    g_assert_cmpuint(estimate.pair.host_tsc, ==, (1ULL << 63) - 1);
    g_assert_cmpuint(estimate.uncertainty_ns, ==, UINT64_MAX);
}

static void test_pair_invalid(void)
{
    TscRestorePairSample sample = {
        .tsc_before = 1, .realtime_ns = EPOCH_NS, .tsc_after = 2,
    };
    TscRestorePairEstimate estimate;
    char *errmsg = NULL;

    g_assert_cmpint(tsc_restore_pair_from_samples(&sample, 0, GUEST_KHZ,
                                                  &estimate, &errmsg),
                    ==, TSC_RESTORE_ERR_INVALID_INPUT);
    g_assert_nonnull(strstr(errmsg, "no samples"));
    g_free(errmsg);
    errmsg = NULL;

    g_assert_cmpint(tsc_restore_pair_from_samples(NULL, 1, GUEST_KHZ,
                                                  &estimate, NULL),
                    ==, TSC_RESTORE_ERR_INVALID_INPUT);

    g_assert_cmpint(tsc_restore_pair_from_samples(&sample, 1, 0,
                                                  &estimate, &errmsg),
                    ==, TSC_RESTORE_ERR_INVALID_INPUT);
    g_assert_nonnull(strstr(errmsg, "0 kHz"));
    g_free(errmsg);
}

/* Eight vCPUs, all out of phase, some by more than 2^63 */
static const uint64_t eight_phases[8] = {
    0, 1, -1ULL, 1ULL << 63, 12345678901ULL, -987654321ULL,
    0xffffffff00000000ULL, 77,
};

static void test_eight_vcpus_unscaled(void)
{
    SimHost src_host = sim_host_unscaled(0x8000000000001234ULL);
    SimHost dst_host = sim_host_unscaled(99);
    uint64_t pair_ms = T0_MS + 10 * MS_PER_S;
    TscRestoreResult result;

    restore_10s_later(&src_host, &dst_host, eight_phases, 8, &result);
    assert_phases_at(&dst_host, &result, eight_phases, pair_ms);
    assert_phases_at(&dst_host, &result, eight_phases, pair_ms + 123457);
    tsc_restore_result_clear(&result);
}

static void test_eight_vcpus_scaled(void)
{
    SimHost src_host = sim_host_3ghz(0x7ffffff000000000ULL,
                                     RATIO_2500_ON_3000_SVM,
                                     TSC_RESTORE_FRAC_BITS_SVM);
    SimHost dst_host = sim_host_3ghz(3, RATIO_2500_ON_3000_VMX,
                                     TSC_RESTORE_FRAC_BITS_VMX);
    uint64_t pair_ms = T0_MS + 10 * MS_PER_S;
    TscRestoreResult result;

    restore_10s_later(&src_host, &dst_host, eight_phases, 8, &result);
    assert_phases_at(&dst_host, &result, eight_phases, pair_ms + 1);
    assert_phases_at(&dst_host, &result, eight_phases, pair_ms + 123457);
    tsc_restore_result_clear(&result);
}

/*
 * Two migrations in a row, A (2.5 GHz) to B (3 GHz, VMX) to C (2 GHz,
 * SVM): the guest runs 90 s on B between them.  The snapshot on B is built
 * from the offsets the first restore wrote.
 */
static void test_two_migrations(void)
{
    SimHost host_a = sim_host_unscaled(5000000000000ULL);
    SimHost host_b = sim_host_3ghz(42, RATIO_2500_ON_3000_VMX,
                                   TSC_RESTORE_FRAC_BITS_VMX);
    SimHost host_c = {
        .tsc_at_zero = (1ULL << 63) + 5,
        .tsc_khz = 2000000,
        .realtime_at_zero_ns = EPOCH_NS,
        .scaling = { .ratio = 5ULL << 30,
                     .frac_bits = TSC_RESTORE_FRAC_BITS_SVM },
    };
    uint64_t phases[3] = { 0, 5, -5ULL };
    TscRestoreVcpuSnapshot on_b[3];
    TscRestoreSnapshot src;
    TscRestoreDestination dst;
    TscRestoreResult first, second;
    uint64_t b_stop_ms = T0_MS + 100 * MS_PER_S;
    int i;

    restore_10s_later(&host_a, &host_b, phases, 3, &first);
    for (i = 0; i < 3; i++) {
        on_b[i].offset = first.vcpus[i].offset;
    }
    src = sim_snapshot(&host_b, b_stop_ms, on_b, 3);
    dst = sim_destination(&host_c, b_stop_ms + 7 * MS_PER_S);
    compute_ok(&src, &dst, &second);

    g_assert_cmpuint(second.vcpus[0].source_guest_tsc, ==, 373456789000ULL);
    /*
     * 7 s on B at B's real guest rate, 3 GHz times KVM's 5/6 rounded
     * down: 17499999999.99998 cycles, one short of 7 s at 2.5 GHz.
     */
    g_assert_cmpuint(second.vcpus[0].guest_tsc_at_pair, ==, 390956788999ULL);
    g_assert_cmpuint(second.vcpus[0].offset, ==, 6917528901097870849ULL);
    assert_phases_at(&host_c, &second, phases, b_stop_ms + 7 * MS_PER_S);
    assert_phases_at(&host_c, &second, phases, b_stop_ms + 99 * MS_PER_S);
    tsc_restore_result_clear(&first);
    tsc_restore_result_clear(&second);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/tsc-restore/seed-example", test_seed_example);
    g_test_add_func("/tsc-restore/ntp-step-between-writes",
                    test_ntp_step_between_writes);
    g_test_add_func("/tsc-restore/host-tsc/dst-far-below",
                    test_dst_host_tsc_far_below);
    g_test_add_func("/tsc-restore/host-tsc/dst-far-above",
                    test_dst_host_tsc_far_above);
    g_test_add_func("/tsc-restore/host-tsc/difference-2^63",
                    test_host_tsc_difference_2_63);
    g_test_add_func("/tsc-restore/scaled/vmx", test_scaled_vmx);
    g_test_add_func("/tsc-restore/scaled/svm", test_scaled_svm);
    g_test_add_func("/tsc-restore/scaled/both-sides",
                    test_scaled_both_sides);
    g_test_add_func("/tsc-restore/elapsed/negative-clamped",
                    test_negative_elapsed_clamped);
    g_test_add_func("/tsc-restore/elapsed/bound", test_elapsed_bound);
    g_test_add_func("/tsc-restore/wrap/offsets", test_offsets_wrap);
    g_test_add_func("/tsc-restore/wrap/guest-tsc-during-downtime",
                    test_guest_tsc_wraps_during_downtime);
    g_test_add_func("/tsc-restore/freq-mismatch/unscalable",
                    test_freq_mismatch_unscalable);
    g_test_add_func("/tsc-restore/freq-mismatch/scalable",
                    test_freq_mismatch_scalable);
    g_test_add_func("/tsc-restore/invalid-inputs", test_invalid_inputs);
    g_test_add_func("/tsc-restore/kvmclock", test_kvmclock);
    g_test_add_func("/tsc-restore/kvmclock-at-pair", test_kvmclock_at_pair);
    g_test_add_func("/tsc-restore/ns-to-cycles/rounding",
                    test_ns_to_cycles_rounding);
    g_test_add_func("/tsc-restore/ns-to-cycles/128bit",
                    test_ns_to_cycles_128bit);
    g_test_add_func("/tsc-restore/guest-tsc-eval", test_guest_tsc_eval);
    g_test_add_func("/tsc-restore/kvm-scaling/outside",
                    test_kvm_scaling_outside);
    g_test_add_func("/tsc-restore/kvm-scaling/inside",
                    test_kvm_scaling_inside);
    g_test_add_func("/tsc-restore/kvm-scaling/boundary",
                    test_kvm_scaling_boundary);
    g_test_add_func("/tsc-restore/kvm-scaling/refused",
                    test_kvm_scaling_refused);
    g_test_add_func("/tsc-restore/200ppm-between-hosts",
                    test_200ppm_between_hosts);
    g_test_add_func("/tsc-restore/tai/offsets-differ",
                    test_tai_offsets_differ);
    g_test_add_func("/tsc-restore/tai/leap-second", test_tai_leap_second);
    g_test_add_func("/tsc-restore/pair/tightest", test_pair_tightest);
    g_test_add_func("/tsc-restore/pair/rejects-out-of-order",
                    test_pair_rejects_out_of_order);
    g_test_add_func("/tsc-restore/pair/uncertainty-rounding",
                    test_pair_uncertainty_rounding);
    g_test_add_func("/tsc-restore/pair/invalid", test_pair_invalid);
    g_test_add_func("/tsc-restore/phases/eight-vcpus-unscaled",
                    test_eight_vcpus_unscaled);
    g_test_add_func("/tsc-restore/phases/eight-vcpus-scaled",
                    test_eight_vcpus_scaled);
    g_test_add_func("/tsc-restore/two-migrations", test_two_migrations);

    return g_test_run();
}
