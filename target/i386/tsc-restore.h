/*
 * Guest TSC restore arithmetic for KVM live migration
 *
 * KVM computes a vCPU's TSC as
 *
 *     guest_tsc = ((host_tsc * ratio) >> frac_bits) + offset    (mod 2^64)
 *
 * where offset is the KVM_VCPU_TSC_OFFSET attribute.  Offsets do not change
 * while a VM is stopped, so a snapshot of them together with ONE clock pair
 * (CLOCK_REALTIME, host TSC) taken when the VM stops describes every vCPU's
 * TSC at one instant.  On the destination, one clock pair of that host plus
 * the real time elapsed between the two pairs gives new offsets under which
 * every guest TSC has advanced by exactly the elapsed time, and the phase
 * between vCPUs (the differences of their offsets) is kept to the cycle.
 *
 * The elapsed time is measured on TAI (CLOCK_REALTIME plus the kernel's TAI
 * offset on each side), so that a leap second, or two hosts whose kernels
 * disagree about the TAI offset, do not move the guest by a second.  It is
 * converted to guest cycles at the rate the guest TSC really ran at on the
 * source: the source host's TSC frequency times the ratio KVM applied
 * there, which is not the requested guest frequency when KVM chose not to
 * scale (see tsc_restore_kvm_scaling()).
 *
 * This is the arithmetic only: no QEMU objects, no global state, only
 * glib and QEMU's host-utils, so that it is unit-tested on its own
 * (tests/unit/test-tsc-restore.c links nothing else of QEMU).
 * target/i386/kvm-tsc.c does the KVM ioctls and QEMU plumbing around it.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TARGET_I386_TSC_RESTORE_H
#define TARGET_I386_TSC_RESTORE_H

/* Fraction bits of KVM's TSC multiplier on Intel VMX and on AMD SVM */
#define TSC_RESTORE_FRAC_BITS_VMX 48
#define TSC_RESTORE_FRAC_BITS_SVM 32

/*
 * KVM's largest TSC multiplier on each vendor (exclusive bound: KVM refuses
 * ratios >= these), KVM_VMX_TSC_MULTIPLIER_MAX and SVM_TSC_RATIO_MAX
 */
#define TSC_RESTORE_MAX_RATIO_VMX UINT64_MAX
#define TSC_RESTORE_MAX_RATIO_SVM 0x000000ffffffffffULL

/* The default of the kvm module's tsc_tolerance_ppm parameter */
#define TSC_RESTORE_DEFAULT_TOLERANCE_PPM 250

/*
 * A suggested bound for tsc_restore_compute()'s max_elapsed_ns: one day.
 * A migration downtime longer than that more likely means that one of the
 * two hosts' CLOCK_REALTIME is wrong.
 */
#define TSC_RESTORE_DEFAULT_MAX_ELAPSED_NS (24ULL * 60 * 60 * 1000000000ULL)

/**
 * TscRestoreStatus:
 * @TSC_RESTORE_OK: success; no message is returned
 * @TSC_RESTORE_ERR_INVALID_INPUT: an input is impossible (zero frequency,
 *   zero ratio, frac_bits above 63, no vCPUs, a scaled ratio on a host that
 *   cannot scale); the caller has a bug or read KVM wrongly
 * @TSC_RESTORE_ERR_FREQ_MISMATCH: the destination runs the guest TSC at a
 *   different frequency than the source did; the caller falls back to what
 *   upstream QEMU does on a TSC frequency mismatch
 * @TSC_RESTORE_ERR_NO_VALID_SAMPLE: every clock pairing sample was rejected
 * @TSC_RESTORE_ERR_NOT_PRECISE: KVM runs the guest TSC in a way no offset
 *   can restore precisely (KVM's catch-up mode, or a ratio KVM refuses)
 *
 * The result of the functions of this module that can fail.  Each failure
 * also returns a one-line message naming the input and the reason.
 */
typedef enum TscRestoreStatus {
    TSC_RESTORE_OK = 0,
    TSC_RESTORE_ERR_INVALID_INPUT,
    TSC_RESTORE_ERR_FREQ_MISMATCH,
    TSC_RESTORE_ERR_NO_VALID_SAMPLE,
    TSC_RESTORE_ERR_NOT_PRECISE,
} TscRestoreStatus;

/**
 * TscRestoreScaling:
 * @ratio: KVM's TSC multiplier, a fixed point number with @frac_bits
 *   fraction bits: guest TSC cycles per host TSC cycle
 * @frac_bits: fraction bits of @ratio, TSC_RESTORE_FRAC_BITS_VMX or
 *   TSC_RESTORE_FRAC_BITS_SVM; at most 63
 *
 * How a host scales its TSC for a guest.  @ratio == 1 << @frac_bits means
 * no scaling.  All vCPUs of a VM must use the same scaling: QEMU gives
 * every vCPU the same tsc_khz, and vCPUs with different ratios would have
 * no fixed phase to preserve in the first place.
 */
typedef struct TscRestoreScaling {
    uint64_t ratio;
    unsigned int frac_bits;
} TscRestoreScaling;

/**
 * TscRestoreHostTsc:
 * @host_khz: the host kernel's TSC frequency in kHz (KVM's tsc_khz, the
 *   VM-wide KVM_GET_TSC_KHZ of a VM nobody set a default for)
 * @tolerance_ppm: the kvm module's tsc_tolerance_ppm parameter
 * @can_scale: whether the hardware scales the TSC (KVM_CAP_TSC_CONTROL)
 * @frac_bits: TSC_RESTORE_FRAC_BITS_VMX or TSC_RESTORE_FRAC_BITS_SVM
 * @max_ratio: TSC_RESTORE_MAX_RATIO_VMX or TSC_RESTORE_MAX_RATIO_SVM
 *
 * What KVM bases its choice of a vCPU's TSC scaling on.
 */
typedef struct TscRestoreHostTsc {
    uint32_t host_khz;
    uint32_t tolerance_ppm;
    bool can_scale;
    unsigned int frac_bits;
    uint64_t max_ratio;
} TscRestoreHostTsc;

/**
 * TscRestoreClockPair:
 * @realtime_ns: the host's CLOCK_REALTIME, in nanoseconds
 * @host_tsc: the host's TSC at the same instant
 * @tai_offset_s: the host kernel's TAI offset (adjtimex's tai field) at
 *   that instant: TAI = CLOCK_REALTIME + @tai_offset_s seconds
 *
 * One instant on one host, seen by two clocks.  KVM_GET_CLOCK returns a
 * pair taken atomically by the kernel when it sets both KVM_CLOCK_REALTIME
 * and KVM_CLOCK_HOST_TSC in its flags (the realtime and host_tsc fields of
 * struct kvm_clock_data); otherwise tsc_restore_pair_from_samples() builds
 * one in user space.
 */
typedef struct TscRestoreClockPair {
    uint64_t realtime_ns;
    uint64_t host_tsc;
    int32_t tai_offset_s;
} TscRestoreClockPair;

/**
 * TscRestoreVcpuSnapshot:
 * @offset: the vCPU's KVM_VCPU_TSC_OFFSET, in guest TSC cycles
 *
 * One vCPU of a TscRestoreSnapshot.
 *
 * IA32_TSC_ADJUST takes no part: a guest write to it moves KVM's offset by
 * the same amount, so the offset KVM reports already contains it, and
 * QEMU's normal MSR migration carries the MSR itself.
 */
typedef struct TscRestoreVcpuSnapshot {
    uint64_t offset;
} TscRestoreVcpuSnapshot;

/**
 * TscRestoreSnapshot:
 * @pair: the source host's clock pair, taken once when the VM stops
 * @kvmclock_ns: KVM_GET_CLOCK's clock field, from the same call as @pair
 *   when KVM provides the pair
 * @guest_khz: the guest's TSC frequency in kHz (KVM_GET_TSC_KHZ)
 * @host_khz: the source host's own TSC frequency in kHz
 * @scaling: the source host's TSC scaling for this VM, as KVM applies it
 * @nr_vcpus: number of entries in @vcpus, at least 1
 * @vcpus: the offsets of all vCPUs; they may be read at any time while the
 *   VM is stopped, before or after @pair, because they do not change
 *
 * Everything the source sends so that the destination can restore the
 * guest's TSCs.
 */
typedef struct TscRestoreSnapshot {
    TscRestoreClockPair pair;
    uint64_t kvmclock_ns;
    uint32_t guest_khz;
    uint32_t host_khz;
    TscRestoreScaling scaling;
    size_t nr_vcpus;
    const TscRestoreVcpuSnapshot *vcpus;
} TscRestoreSnapshot;

/**
 * TscRestoreDestination:
 * @pair: the destination host's clock pair, read once for the whole VM
 * @guest_khz: the TSC frequency the destination's vCPUs run the guest at,
 *   in kHz, after QEMU has tried to set the source's with KVM_SET_TSC_KHZ
 * @scaling: the destination host's TSC scaling for this VM
 * @can_scale: whether the destination can scale the TSC at all
 *   (KVM_CAP_TSC_CONTROL); without it @scaling must be 1 << frac_bits
 *
 * What the destination knows about itself when it restores the TSCs.
 */
typedef struct TscRestoreDestination {
    TscRestoreClockPair pair;
    uint32_t guest_khz;
    TscRestoreScaling scaling;
    bool can_scale;
} TscRestoreDestination;

/**
 * TscRestoreVcpuResult:
 * @offset: the value to write to the vCPU's KVM_VCPU_TSC_OFFSET; it may be
 *   written at any time, the vCPU's TSC does not depend on when
 * @source_guest_tsc: the vCPU's TSC at the source's pair instant
 * @guest_tsc_at_pair: the vCPU's TSC that @offset implies at the
 *   destination's pair instant: @source_guest_tsc plus the elapsed cycles
 *
 * One vCPU of a TscRestoreResult.
 */
typedef struct TscRestoreVcpuResult {
    uint64_t offset;
    uint64_t source_guest_tsc;
    uint64_t guest_tsc_at_pair;
} TscRestoreVcpuResult;

/**
 * TscRestoreResult:
 * @elapsed_ns: the real time the guest TSCs were advanced by: destination
 *   pair TAI minus source pair TAI, or 0 when that is negative
 * @elapsed_cycles: @elapsed_ns in guest TSC cycles at the source's real
 *   guest TSC rate (host kHz scaled by the source's ratio), rounded down
 * @source_realtime_ns: the source pair's instant on the destination's
 *   CLOCK_REALTIME (the two kernels may count leap seconds differently):
 *   what KVM_SET_CLOCK's realtime field must be given
 * @elapsed_clamped: the destination's CLOCK_REALTIME was behind the
 *   source's; the caller warns
 * @clock_behind_ns: by how much it was behind, when @elapsed_clamped
 * @elapsed_over_bound: @elapsed_ns exceeds the caller's bound; it was still
 *   applied, and the caller warns
 * @kvmclock_ns: the kvmclock value for the destination's pair instant
 * @nr_vcpus: number of entries in @vcpus, as in the snapshot
 * @vcpus: per vCPU results, in the snapshot's order; owned by the result,
 *   see tsc_restore_result_clear()
 *
 * What tsc_restore_compute() computes.
 */
typedef struct TscRestoreResult {
    uint64_t elapsed_ns;
    uint64_t elapsed_cycles;
    uint64_t source_realtime_ns;
    bool elapsed_clamped;
    uint64_t clock_behind_ns;
    bool elapsed_over_bound;
    uint64_t kvmclock_ns;
    size_t nr_vcpus;
    TscRestoreVcpuResult *vcpus;
} TscRestoreResult;

/**
 * TscRestorePairSample:
 * @tsc_before: the host TSC read just before CLOCK_REALTIME
 * @realtime_ns: CLOCK_REALTIME, in nanoseconds
 * @tsc_after: the host TSC read just after CLOCK_REALTIME
 *
 * One attempt at pairing CLOCK_REALTIME with the host TSC in user space:
 * the realtime instant lies somewhere between the two TSC reads.
 */
typedef struct TscRestorePairSample {
    uint64_t tsc_before;
    uint64_t realtime_ns;
    uint64_t tsc_after;
} TscRestorePairSample;

/**
 * TscRestorePairEstimate:
 * @pair: the realtime of the tightest sample and the midpoint of its two
 *   TSC reads, rounded down
 * @uncertainty_ns: the largest distance from @pair.host_tsc to either end
 *   of that sample's bracket, ceil(width / 2) cycles, converted to
 *   nanoseconds with the host's kHz and rounded up
 * @sample_index: index of the sample @pair comes from
 * @nr_rejected: number of samples rejected because their tsc_after is
 *   below their tsc_before
 *
 * The clock pair tsc_restore_pair_from_samples() builds and how good it is.
 */
typedef struct TscRestorePairEstimate {
    TscRestoreClockPair pair;
    uint64_t uncertainty_ns;
    size_t sample_index;
    size_t nr_rejected;
} TscRestorePairEstimate;

/**
 * tsc_restore_unscaled:
 * @frac_bits: the host's fraction bits, TSC_RESTORE_FRAC_BITS_VMX or
 *   TSC_RESTORE_FRAC_BITS_SVM
 *
 * Returns: the scaling of a host that does not scale the guest's TSC.
 */
static inline TscRestoreScaling tsc_restore_unscaled(unsigned int frac_bits)
{
    TscRestoreScaling scaling = {
        .ratio = 1ULL << frac_bits,
        .frac_bits = frac_bits,
    };

    return scaling;
}

/**
 * tsc_restore_within_tolerance:
 * @host: the host's TSC facts
 * @guest_khz: the requested guest TSC frequency in kHz
 *
 * KVM's test (kvm_set_tsc_khz()): a requested frequency between
 * host_khz * (10^6 - ppm) / 10^6 and host_khz * (10^6 + ppm) / 10^6, both
 * rounded down and both included, is run unscaled at the host's rate.
 *
 * Returns: whether KVM runs @guest_khz without scaling.
 */
bool tsc_restore_within_tolerance(const TscRestoreHostTsc *host,
                                  uint32_t guest_khz);

/**
 * tsc_restore_kvm_scaling:
 * @host: the host's TSC facts
 * @guest_khz: the requested guest TSC frequency in kHz
 * @scaling: set to the scaling KVM applies, on success
 * @errmsg: if not NULL, set on failure to a g_strdup'd one-line message
 *
 * The ratio KVM really applies to a vCPU whose frequency was set to
 * @guest_khz, computed as KVM computes it: none within the tolerance
 * (tsc_restore_within_tolerance()), else (2^frac_bits * @guest_khz) /
 * host_khz rounded down.  A ratio KVM reads back (debugfs
 * tsc-scaling-ratio) is preferable when available.
 *
 * Returns: TSC_RESTORE_OK; TSC_RESTORE_ERR_INVALID_INPUT for a zero
 * frequency or frac_bits above 63; TSC_RESTORE_ERR_NOT_PRECISE when KVM
 * would need to scale but cannot (it then either refuses the frequency or
 * moves the offset on its own to catch up), or when the ratio is 0 or not
 * below max_ratio (KVM refuses it).
 */
TscRestoreStatus tsc_restore_kvm_scaling(const TscRestoreHostTsc *host,
                                         uint32_t guest_khz,
                                         TscRestoreScaling *scaling,
                                         char **errmsg);

/**
 * tsc_restore_guest_tsc:
 * @scaling: the host's scaling for the vCPU; frac_bits at most 63
 * @host_tsc: a host TSC value
 * @offset: the vCPU's KVM_VCPU_TSC_OFFSET
 *
 * Evaluates KVM's formula exactly as the hardware does: the 128-bit
 * product @host_tsc * ratio shifted right by frac_bits and truncated to 64
 * bits, plus @offset, modulo 2^64.  QEMU's query command uses it to report
 * the guest TSC an offset implies.
 *
 * Returns: the vCPU's TSC when the host's TSC reads @host_tsc.
 */
uint64_t tsc_restore_guest_tsc(const TscRestoreScaling *scaling,
                               uint64_t host_tsc, uint64_t offset);

/**
 * tsc_restore_ns_to_cycles:
 * @ns: a duration in nanoseconds
 * @khz: a TSC frequency in kHz
 *
 * Converts exactly through a 128-bit intermediate: @ns * @khz / 10^6,
 * rounded down, modulo 2^64 like a TSC.  Rounding down keeps a restored
 * TSC from ever running ahead of the real time elapsed; the error is below
 * one cycle.
 *
 * Returns: the number of TSC cycles in @ns.
 */
uint64_t tsc_restore_ns_to_cycles(uint64_t ns, uint32_t khz);

/**
 * tsc_restore_compute:
 * @src: the source's snapshot
 * @dst: the destination's own reading
 * @max_elapsed_ns: elapsed real time above which @result flags
 *   elapsed_over_bound, e.g. TSC_RESTORE_DEFAULT_MAX_ELAPSED_NS
 * @result: filled on success, zeroed on failure; release it with
 *   tsc_restore_result_clear() in both cases
 * @errmsg: if not NULL, set on failure to a g_strdup'd one-line message
 *   the caller frees; left alone on success
 *
 * Computes the new TSC offsets of all vCPUs and the new kvmclock value.
 *
 * The elapsed time is computed once for the whole VM, from the two clock
 * pairs on TAI, and never from per-vCPU clock reads: a CLOCK_REALTIME
 * step (NTP) between two per-vCPU operations would otherwise skew the
 * vCPUs apart.
 * A negative elapsed time is clamped to 0 (guest TSCs never go backwards);
 * a huge one is flagged but applied.  For each vCPU:
 *
 *     elapsed_cycles = scale_src(elapsed_ns * src.host_khz / 10^6)
 *     g_src  = scale_src(src.host_tsc) + offset_src
 *     g_dst  = g_src + elapsed_cycles
 *     offset = g_dst - scale_dst(dst.host_tsc)                (mod 2^64)
 *
 * so every vCPU's TSC reads g_dst at the destination's pair instant and
 * runs on from there, whenever the offset is written.
 *
 * For the kvmclock, result->kvmclock_ns is src.kvmclock_ns + elapsed_ns,
 * the value at the destination's pair instant.  With KVM_CLOCK_REALTIME,
 * KVM_SET_CLOCK given the source's kvmclock_ns and realtime_ns does that
 * addition itself, with the same clamp, at the time of the ioctl; without
 * it, user space writes result->kvmclock_ns with no flags, as soon after
 * reading @dst's pair as it can, since the kvmclock loses that gap.  KVM
 * counts the elapsed time on its own CLOCK_REALTIME; passing it
 * result->source_realtime_ns instead of the source's realtime makes its
 * elapsed time the TAI one.
 *
 * Returns: TSC_RESTORE_OK, TSC_RESTORE_ERR_INVALID_INPUT, or
 * TSC_RESTORE_ERR_FREQ_MISMATCH when src.guest_khz differs from
 * dst.guest_khz: computing offsets then would give the guest a TSC that
 * silently changed frequency.
 */
TscRestoreStatus tsc_restore_compute(const TscRestoreSnapshot *src,
                                     const TscRestoreDestination *dst,
                                     uint64_t max_elapsed_ns,
                                     TscRestoreResult *result,
                                     char **errmsg);

/**
 * tsc_restore_result_clear:
 * @result: a result filled or zeroed by tsc_restore_compute()
 *
 * Frees what @result owns and zeroes it.
 */
void tsc_restore_result_clear(TscRestoreResult *result);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TscRestoreResult, tsc_restore_result_clear)

/**
 * tsc_restore_pair_from_samples:
 * @samples: bracketed pairing samples
 * @nr_samples: number of entries in @samples
 * @host_khz: the host's TSC frequency in kHz, to express the uncertainty
 *   in nanoseconds
 * @estimate: filled on success, zeroed on failure
 * @errmsg: if not NULL, set on failure to a g_strdup'd one-line message
 *   the caller frees; left alone on success
 *
 * Builds a clock pair in user space when KVM_GET_CLOCK cannot return one:
 * of the samples whose TSC reads are in order, it takes the one with the
 * narrowest bracket (the first of equals) and pairs its realtime with the
 * midpoint of its TSC reads.
 *
 * Returns: TSC_RESTORE_OK, TSC_RESTORE_ERR_INVALID_INPUT (no samples or a
 * zero @host_khz), or TSC_RESTORE_ERR_NO_VALID_SAMPLE.
 */
TscRestoreStatus tsc_restore_pair_from_samples(
    const TscRestorePairSample *samples, size_t nr_samples,
    uint32_t host_khz, TscRestorePairEstimate *estimate, char **errmsg);

/**
 * tsc_restore_kvmclock_at:
 * @kvmclock_ns: kvmclock as KVM_GET_CLOCK returned it, without a pair
 * @realtime_before_ns: CLOCK_REALTIME read just before that KVM_GET_CLOCK
 * @realtime_after_ns: CLOCK_REALTIME read just after it
 * @realtime_ns: the instant to carry kvmclock to, on the same clock
 *
 * Without the kernel's triple, kvmclock is read apart from the user-space
 * pair, and TscRestoreSnapshot's kvmclock_ns must be kvmclock at the
 * pair's instant: the destination sets kvmclock to it plus the elapsed
 * time.  kvmclock is taken to have been read at the midpoint of its
 * bracket, rounded down, and is carried from there to @realtime_ns at
 * one nanosecond per nanosecond (over microseconds the rates of kvmclock
 * and CLOCK_REALTIME differ by far less than a nanosecond).  The error is
 * at most half the bracket.
 *
 * Returns: kvmclock at @realtime_ns, modulo 2^64.
 */
uint64_t tsc_restore_kvmclock_at(uint64_t kvmclock_ns,
                                 uint64_t realtime_before_ns,
                                 uint64_t realtime_after_ns,
                                 uint64_t realtime_ns);

#endif
