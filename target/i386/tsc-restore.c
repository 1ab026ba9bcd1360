/*
 * Guest TSC restore arithmetic for KVM live migration
 *
 * See tsc-restore.h for the model.  This file keeps no global state and
 * uses nothing of QEMU but host-utils, so that tests/unit/test-tsc-restore.c
 * can test it on its own.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"

#include "tsc-restore.h"

/* A kHz is one cycle per millisecond: cycles = ns * khz / NS_PER_MS */
#define NS_PER_MS 1000000U
#define NS_PER_S 1000000000LL
#define PPM 1000000U

/* (value >> shift) truncated to 64 bits, for shift below 64 */
static uint64_t shr_u128_to_u64(uint64_t lo, uint64_t hi, unsigned int shift)
{
    if (shift == 0) {
        return lo;
    }
    return (lo >> shift) | (hi << (64 - shift));
}

/*
 * The scaled host TSC.  KVM skips the multiplication when the ratio is
 * 1 << frac_bits; the 128-bit product makes that case come out as host_tsc
 * here too, so no special case is needed.
 */
static uint64_t scale_host_tsc(const TscRestoreScaling *scaling,
                               uint64_t host_tsc)
{
    uint64_t lo, hi;

    g_assert(scaling->frac_bits < 64);
    mulu64(&lo, &hi, host_tsc, scaling->ratio);
    return shr_u128_to_u64(lo, hi, scaling->frac_bits);
}

uint64_t tsc_restore_guest_tsc(const TscRestoreScaling *scaling,
                               uint64_t host_tsc, uint64_t offset)
{
    return scale_host_tsc(scaling, host_tsc) + offset;
}

uint64_t tsc_restore_ns_to_cycles(uint64_t ns, uint32_t khz)
{
    /* Only the low half of the quotient: a TSC wraps modulo 2^64 */
    return muldiv64(ns, khz, NS_PER_MS);
}

/* KVM's adjust_tsc_khz(): khz * (10^6 + ppm) / 10^6, rounded down */
static uint64_t adjust_khz(uint32_t khz, int64_t ppm)
{
    return muldiv64(khz, PPM + ppm, PPM);
}

bool tsc_restore_within_tolerance(const TscRestoreHostTsc *host,
                                  uint32_t guest_khz)
{
    return guest_khz >= adjust_khz(host->host_khz,
                                   -(int64_t)host->tolerance_ppm) &&
           guest_khz <= adjust_khz(host->host_khz, host->tolerance_ppm);
}

static TscRestoreStatus G_GNUC_PRINTF(3, 4)
fail(char **errmsg, TscRestoreStatus status, const char *fmt, ...)
{
    va_list ap;

    if (errmsg) {
        va_start(ap, fmt);
        *errmsg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    return status;
}

TscRestoreStatus tsc_restore_kvm_scaling(const TscRestoreHostTsc *host,
                                         uint32_t guest_khz,
                                         TscRestoreScaling *scaling,
                                         char **errmsg)
{
    uint64_t lo, hi;

    if (guest_khz == 0 || host->host_khz == 0) {
        return fail(errmsg, TSC_RESTORE_ERR_INVALID_INPUT,
                    "TSC scaling: guest %" PRIu32 " kHz on a %" PRIu32
                    " kHz host: a frequency is 0", guest_khz, host->host_khz);
    }
    if (host->frac_bits > 63) {
        return fail(errmsg, TSC_RESTORE_ERR_INVALID_INPUT,
                    "TSC scaling: frac_bits %u is above 63", host->frac_bits);
    }
    if (tsc_restore_within_tolerance(host, guest_khz)) {
        *scaling = tsc_restore_unscaled(host->frac_bits);
        return TSC_RESTORE_OK;
    }
    if (!host->can_scale) {
        return fail(errmsg, TSC_RESTORE_ERR_NOT_PRECISE,
                    "TSC scaling: guest %" PRIu32 " kHz is more than %"
                    PRIu32 " ppm from the host's %" PRIu32 " kHz and the "
                    "host cannot scale (KVM refuses it or catches up by "
                    "moving the offset itself)", guest_khz,
                    host->tolerance_ppm, host->host_khz);
    }
    mulu64(&lo, &hi, 1ULL << host->frac_bits, guest_khz);
    divu128(&lo, &hi, host->host_khz);
    if (hi != 0 || lo == 0 || lo >= host->max_ratio) {
        return fail(errmsg, TSC_RESTORE_ERR_NOT_PRECISE,
                    "TSC scaling: guest %" PRIu32 " kHz on a %" PRIu32
                    " kHz host needs a ratio KVM refuses", guest_khz,
                    host->host_khz);
    }
    scaling->ratio = lo;
    scaling->frac_bits = host->frac_bits;
    return TSC_RESTORE_OK;
}

static TscRestoreStatus check_scaling(const char *side,
                                      const TscRestoreScaling *scaling,
                                      char **errmsg)
{
    if (scaling->frac_bits > 63) {
        return fail(errmsg, TSC_RESTORE_ERR_INVALID_INPUT,
                    "%s TSC scaling: frac_bits %u is above 63",
                    side, scaling->frac_bits);
    }
    if (scaling->ratio == 0) {
        return fail(errmsg, TSC_RESTORE_ERR_INVALID_INPUT,
                    "%s TSC scaling: ratio is 0, every guest TSC would "
                    "read its offset", side);
    }
    return TSC_RESTORE_OK;
}

static TscRestoreStatus check_inputs(const TscRestoreSnapshot *src,
                                     const TscRestoreDestination *dst,
                                     char **errmsg)
{
    TscRestoreStatus status;

    if (src->nr_vcpus == 0 || src->vcpus == NULL) {
        return fail(errmsg, TSC_RESTORE_ERR_INVALID_INPUT,
                    "source snapshot: no vCPU offsets");
    }
    if (src->guest_khz == 0) {
        return fail(errmsg, TSC_RESTORE_ERR_INVALID_INPUT,
                    "source snapshot: guest TSC frequency is 0 kHz");
    }
    if (src->host_khz == 0) {
        return fail(errmsg, TSC_RESTORE_ERR_INVALID_INPUT,
                    "source snapshot: host TSC frequency is 0 kHz");
    }
    if (dst->guest_khz == 0) {
        return fail(errmsg, TSC_RESTORE_ERR_INVALID_INPUT,
                    "destination: guest TSC frequency is 0 kHz");
    }
    status = check_scaling("source", &src->scaling, errmsg);
    if (status != TSC_RESTORE_OK) {
        return status;
    }
    status = check_scaling("destination", &dst->scaling, errmsg);
    if (status != TSC_RESTORE_OK) {
        return status;
    }
    if (!dst->can_scale &&
        dst->scaling.ratio != 1ULL << dst->scaling.frac_bits) {
        return fail(errmsg, TSC_RESTORE_ERR_INVALID_INPUT,
                    "destination TSC scaling: ratio 0x%" PRIx64 " with %u "
                    "fraction bits on a host that cannot scale",
                    dst->scaling.ratio, dst->scaling.frac_bits);
    }

    /*
     * Offsets computed across a frequency change would restore the TSC's
     * value but not its rate: the guest would measure time wrongly from
     * then on.  The caller handles it as upstream QEMU does.
     */
    if (src->guest_khz != dst->guest_khz) {
        if (!dst->can_scale) {
            return fail(errmsg, TSC_RESTORE_ERR_FREQ_MISMATCH,
                        "guest TSC frequency: source %" PRIu32 " kHz, "
                        "destination %" PRIu32 " kHz, and the destination "
                        "cannot scale the TSC",
                        src->guest_khz, dst->guest_khz);
        }
        return fail(errmsg, TSC_RESTORE_ERR_FREQ_MISMATCH,
                    "guest TSC frequency: source %" PRIu32 " kHz, "
                    "destination %" PRIu32 " kHz, although the destination "
                    "can scale the TSC",
                    src->guest_khz, dst->guest_khz);
    }
    return TSC_RESTORE_OK;
}

TscRestoreStatus tsc_restore_compute(const TscRestoreSnapshot *src,
                                     const TscRestoreDestination *dst,
                                     uint64_t max_elapsed_ns,
                                     TscRestoreResult *result,
                                     char **errmsg)
{
    TscRestoreStatus status;
    uint64_t src_scaled, dst_scaled, src_tai, dst_tai;
    size_t i;

    memset(result, 0, sizeof(*result));
    status = check_inputs(src, dst, errmsg);
    if (status != TSC_RESTORE_OK) {
        return status;
    }

    /*
     * Once for the whole VM, from the two pairs only, on TAI: a leap
     * second on one host, or two kernels that disagree about the TAI
     * offset, must not move the guest by a second.  A destination clock
     * behind the source's would move the TSCs backwards, which guests do
     * not survive; stopping them for the migration is the lesser evil.
     */
    src_tai = src->pair.realtime_ns + src->pair.tai_offset_s * NS_PER_S;
    dst_tai = dst->pair.realtime_ns + dst->pair.tai_offset_s * NS_PER_S;
    if (dst_tai >= src_tai) {
        result->elapsed_ns = dst_tai - src_tai;
    } else {
        result->elapsed_clamped = true;
        result->clock_behind_ns = src_tai - dst_tai;
    }
    result->source_realtime_ns = src->pair.realtime_ns +
        ((int64_t)src->pair.tai_offset_s - dst->pair.tai_offset_s) * NS_PER_S;
    result->elapsed_over_bound = result->elapsed_ns > max_elapsed_ns;
    /*
     * At the rate the guest TSC really ran at on the source: KVM leaves a
     * frequency within its tolerance of the host's unscaled, and the guest
     * TSC then runs at the host's rate, not at guest_khz.
     */
    result->elapsed_cycles = scale_host_tsc(&src->scaling,
        tsc_restore_ns_to_cycles(result->elapsed_ns, src->host_khz));
    result->kvmclock_ns = src->kvmclock_ns + result->elapsed_ns;

    /*
     * The phase between vCPUs survives to the cycle, with or without
     * scaling: each host's TSC is scaled once, at its own pair instant,
     * and src_scaled, dst_scaled and elapsed_cycles are the same for every
     * vCPU.  Each new offset is therefore its old offset plus one common
     * term, and whatever the truncation in the scaling loses, it loses for
     * all vCPUs alike.  Everything wraps modulo 2^64 as the TSC does.
     */
    src_scaled = scale_host_tsc(&src->scaling, src->pair.host_tsc);
    dst_scaled = scale_host_tsc(&dst->scaling, dst->pair.host_tsc);

    result->nr_vcpus = src->nr_vcpus;
    result->vcpus = g_new0(TscRestoreVcpuResult, src->nr_vcpus);
    for (i = 0; i < src->nr_vcpus; i++) {
        TscRestoreVcpuResult *vcpu = &result->vcpus[i];
        uint64_t guest_tsc_src = src_scaled + src->vcpus[i].offset;
        uint64_t guest_tsc_dst = guest_tsc_src + result->elapsed_cycles;

        vcpu->offset = guest_tsc_dst - dst_scaled;
        vcpu->source_guest_tsc = guest_tsc_src;
        vcpu->guest_tsc_at_pair = tsc_restore_guest_tsc(&dst->scaling,
                                                        dst->pair.host_tsc,
                                                        vcpu->offset);
    }
    return TSC_RESTORE_OK;
}

void tsc_restore_result_clear(TscRestoreResult *result)
{
    g_free(result->vcpus);
    memset(result, 0, sizeof(*result));
}

TscRestoreStatus tsc_restore_pair_from_samples(
    const TscRestorePairSample *samples, size_t nr_samples,
    uint32_t host_khz, TscRestorePairEstimate *estimate, char **errmsg)
{
    const TscRestorePairSample *best = NULL;
    uint64_t best_width = 0, half_down, half_up, lo, hi, remainder;
    size_t i;

    memset(estimate, 0, sizeof(*estimate));
    if (nr_samples == 0 || samples == NULL) {
        return fail(errmsg, TSC_RESTORE_ERR_INVALID_INPUT,
                    "clock pairing: no samples");
    }
    if (host_khz == 0) {
        return fail(errmsg, TSC_RESTORE_ERR_INVALID_INPUT,
                    "clock pairing: host TSC frequency is 0 kHz");
    }

    for (i = 0; i < nr_samples; i++) {
        const TscRestorePairSample *sample = &samples[i];
        uint64_t width;

        /* Out of order reads bracket nothing (a migrated thread, a bug) */
        if (sample->tsc_after < sample->tsc_before) {
            estimate->nr_rejected++;
            continue;
        }
        width = sample->tsc_after - sample->tsc_before;
        if (best == NULL || width < best_width) {
            best = sample;
            best_width = width;
            estimate->sample_index = i;
        }
    }
    if (best == NULL) {
        size_t nr_rejected = estimate->nr_rejected;

        memset(estimate, 0, sizeof(*estimate));
        return fail(errmsg, TSC_RESTORE_ERR_NO_VALID_SAMPLE,
                    "clock pairing: all %zu samples have tsc_after below "
                    "tsc_before", nr_rejected);
    }

    /*
     * The midpoint rounds down, so the far end of the bracket is
     * ceil(width / 2) cycles away; the nanoseconds round up so that the
     * uncertainty is a bound, not an estimate.
     */
    half_down = best_width / 2;
    half_up = best_width - half_down;
    estimate->pair.realtime_ns = best->realtime_ns;
    estimate->pair.host_tsc = best->tsc_before + half_down;
    mulu64(&lo, &hi, half_up, NS_PER_MS);
    remainder = divu128(&lo, &hi, host_khz);
    if (hi != 0 || (remainder != 0 && lo == UINT64_MAX)) {
        estimate->uncertainty_ns = UINT64_MAX;
    } else {
        estimate->uncertainty_ns = lo + (remainder != 0);
    }
    return TSC_RESTORE_OK;
}

uint64_t tsc_restore_kvmclock_at(uint64_t kvmclock_ns,
                                 uint64_t realtime_before_ns,
                                 uint64_t realtime_after_ns,
                                 uint64_t realtime_ns)
{
    /* Unsigned differences: exact modulo 2^64 whatever the order. */
    uint64_t mid = realtime_before_ns +
                   (realtime_after_ns - realtime_before_ns) / 2;

    return kvmclock_ns + (realtime_ns - mid);
}
