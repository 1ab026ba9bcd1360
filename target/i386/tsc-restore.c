/*
 * Guest TSC restore arithmetic for KVM live migration
 *
 * See tsc-restore.h for the model.  This file includes no QEMU header and
 * keeps no global state, so that tests/unit/test-tsc-restore.c can build
 * and run it outside QEMU's build with glib alone.  For the same reason it
 * does its 128-bit arithmetic on pairs of 64-bit halves instead of
 * __int128, which 32-bit hosts lack.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include <glib.h>

#include "tsc-restore.h"

/* A kHz is one cycle per millisecond: cycles = ns * khz / NS_PER_MS */
#define NS_PER_MS 1000000U

/* An unsigned 128-bit integer, as its two 64-bit halves */
typedef struct TscRestoreU128 {
    uint64_t hi;
    uint64_t lo;
} TscRestoreU128;

static TscRestoreU128 mul_u64_u64(uint64_t a, uint64_t b)
{
    uint64_t a_lo = (uint32_t)a, a_hi = a >> 32;
    uint64_t b_lo = (uint32_t)b, b_hi = b >> 32;
    uint64_t lo_lo = a_lo * b_lo;
    uint64_t lo_hi = a_lo * b_hi;
    uint64_t hi_lo = a_hi * b_lo;
    uint64_t hi_hi = a_hi * b_hi;
    /* Three terms below 2^32 each: no carry is lost */
    uint64_t middle = (lo_lo >> 32) + (uint32_t)lo_hi + (uint32_t)hi_lo;
    TscRestoreU128 product = {
        .hi = hi_hi + (lo_hi >> 32) + (hi_lo >> 32) + (middle >> 32),
        .lo = (middle << 32) | (uint32_t)lo_lo,
    };

    return product;
}

/*
 * Long division by 32-bit digits.  The running remainder is below the
 * divisor, so remainder:digit fits in 64 bits and each quotient digit in
 * 32 bits.
 */
static TscRestoreU128 div_u128_u32(TscRestoreU128 dividend, uint32_t divisor,
                                   uint32_t *remainder)
{
    uint32_t digits[4] = {
        dividend.hi >> 32, (uint32_t)dividend.hi,
        dividend.lo >> 32, (uint32_t)dividend.lo,
    };
    uint64_t quotient_digits[4];
    uint64_t rest = 0;
    TscRestoreU128 quotient;
    int i;

    g_assert(divisor != 0);
    for (i = 0; i < 4; i++) {
        uint64_t current = (rest << 32) | digits[i];

        quotient_digits[i] = current / divisor;
        rest = current % divisor;
    }
    quotient.hi = (quotient_digits[0] << 32) | quotient_digits[1];
    quotient.lo = (quotient_digits[2] << 32) | quotient_digits[3];
    if (remainder) {
        *remainder = rest;
    }
    return quotient;
}

/* (value >> shift) truncated to 64 bits, for shift below 64 */
static uint64_t shr_u128_to_u64(TscRestoreU128 value, unsigned int shift)
{
    if (shift == 0) {
        return value.lo;
    }
    return (value.lo >> shift) | (value.hi << (64 - shift));
}

/*
 * The scaled host TSC.  KVM skips the multiplication when the ratio is
 * 1 << frac_bits; the 128-bit product makes that case come out as host_tsc
 * here too, so no special case is needed.
 */
static uint64_t scale_host_tsc(const TscRestoreScaling *scaling,
                               uint64_t host_tsc)
{
    g_assert(scaling->frac_bits < 64);
    return shr_u128_to_u64(mul_u64_u64(host_tsc, scaling->ratio),
                           scaling->frac_bits);
}

uint64_t tsc_restore_guest_tsc(const TscRestoreScaling *scaling,
                               uint64_t host_tsc, uint64_t offset)
{
    return scale_host_tsc(scaling, host_tsc) + offset;
}

uint64_t tsc_restore_ns_to_cycles(uint64_t ns, uint32_t khz)
{
    /* Only the low half: a TSC wraps modulo 2^64 */
    return div_u128_u32(mul_u64_u64(ns, khz), NS_PER_MS, NULL).lo;
}

bool tsc_restore_kvm_ratio(uint32_t guest_khz, uint32_t host_khz,
                           unsigned int frac_bits,
                           TscRestoreScaling *scaling)
{
    TscRestoreU128 ratio;

    if (guest_khz == 0 || host_khz == 0 || frac_bits > 63) {
        return false;
    }
    ratio = div_u128_u32(mul_u64_u64(1ULL << frac_bits, guest_khz),
                         host_khz, NULL);
    if (ratio.hi != 0 || ratio.lo == 0) {
        return false;
    }
    scaling->ratio = ratio.lo;
    scaling->frac_bits = frac_bits;
    return true;
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
    uint64_t src_scaled, dst_scaled;
    size_t i;

    memset(result, 0, sizeof(*result));
    status = check_inputs(src, dst, errmsg);
    if (status != TSC_RESTORE_OK) {
        return status;
    }

    /*
     * Once for the whole VM, from the two pairs only.  A destination clock
     * behind the source's would move the TSCs backwards, which guests do
     * not survive; stopping them for the migration is the lesser evil.
     */
    if (dst->pair.realtime_ns >= src->pair.realtime_ns) {
        result->elapsed_ns = dst->pair.realtime_ns - src->pair.realtime_ns;
    } else {
        result->elapsed_clamped = true;
        result->clock_behind_ns = src->pair.realtime_ns -
                                  dst->pair.realtime_ns;
    }
    result->elapsed_over_bound = result->elapsed_ns > max_elapsed_ns;
    result->elapsed_cycles = tsc_restore_ns_to_cycles(result->elapsed_ns,
                                                      src->guest_khz);
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
        vcpu->tsc_adjust = src->vcpus[i].tsc_adjust;
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
    uint64_t best_width = 0, half_down, half_up;
    TscRestoreU128 uncertainty;
    uint32_t remainder;
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
    uncertainty = div_u128_u32(mul_u64_u64(half_up, NS_PER_MS), host_khz,
                               &remainder);
    if (uncertainty.hi != 0 ||
        (remainder != 0 && uncertainty.lo == UINT64_MAX)) {
        estimate->uncertainty_ns = UINT64_MAX;
    } else {
        estimate->uncertainty_ns = uncertainty.lo + (remainder != 0);
    }
    return TSC_RESTORE_OK;
}
