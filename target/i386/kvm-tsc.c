/*
 * Precise TSC state across live migration (-accel kvm,precise-tsc=on)
 *
 * Upstream QEMU migrates each vCPU's IA32_TSC value: the guest TSC stands
 * still for the whole downtime, and vCPUs stay in phase only through KVM's
 * write-matching heuristics.  With precise-tsc=on this section carries
 * instead one (CLOCK_REALTIME, host TSC, kvmclock) triple taken when the
 * source VM stops, the source kernel's TAI offset, every vCPU's
 * KVM_VCPU_TSC_OFFSET keyed by its vCPU id, the guest TSC frequency and
 * the scaling KVM really applied.  The destination writes offsets under
 * which every guest TSC has advanced by the elapsed time, with the phase
 * between vCPUs kept to the cycle.  The arithmetic is in tsc-restore.c;
 * this file talks to KVM.
 *
 * Order on the destination, as KVM documents it: when both kernels pair
 * their clocks (KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC), the VM clock is
 * set first (KVM_SET_CLOCK with the source's realtime, translated to this
 * host's UTC through the two TAI offsets), then KVM_GET_CLOCK's (kvmclock,
 * host TSC) pair gives the offsets: kvmclock and the TSCs advance by the
 * same amount.  Otherwise the elapsed time is the difference of the two
 * hosts' TAI and the pair comes from serialised user-space reads.
 *
 * Everything is computed and written while the stream is loaded, so that a
 * failure fails the incoming migration (the source keeps running).  Stock
 * QEMU then writes IA32_TSC and kvmclock's own clock when the VM starts;
 * the same, time-independent values are written again after that.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/timex.h>
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "qapi/clone-visitor.h"
#include "qapi/qapi-commands-precise-tsc-target.h"
#include "qapi/qapi-visit-precise-tsc-target.h"
#include "hw/core/cpu.h"
#include "migration/misc.h"
#include "migration/vmstate.h"
#include "migration/migration.h"
#include "migration/qemu-file.h"
#include "io/channel-command.h"
#include "io/channel-file.h"
#include "system/kvm.h"
#include "system/kvm_int.h"
#include "system/runstate.h"
#include "system/system.h"
#include "cpu.h"
#include "kvm/kvm_i386.h"
#include "host-cpu.h"
#include "tsc-restore.h"
#include "trace.h"

/* Offset added by the start-up probe: far beyond any timing noise */
#define KVM_TSC_PROBE_DELTA (UINT64_C(1) << 40)
/* Bracketed user-space samples to pick the tightest from */
#define KVM_TSC_PAIR_SAMPLES 32
/* kvmclock reads bracketed by CLOCK_REALTIME, without the kernel's pair */
#define KVM_TSC_KVMCLOCK_SAMPLES 4
/* Run after kvmclock's handler on start, so our KVM_SET_CLOCK wins */
#define KVM_TSC_VM_STATE_PRIORITY 1
/* Setting the VM clock: tries, and how close to aim */
#define KVM_TSC_CLOCK_ATTEMPTS 8
#define KVM_TSC_CLOCK_LANDING_NS 1000
#define KVM_TSC_TOLERANCE_PARAM "/sys/module/kvm/parameters/tsc_tolerance_ppm"

/*
 * The wire format (section "precise-tsc", version 2).  The pair's origin
 * travels as one of these codes, never as a QAPI enum value, so that
 * reordering PreciseTscMode cannot change the stream.
 */
enum {
    KVM_TSC_WIRE_PAIR_KERNEL = 1,       /* KVM_GET_CLOCK's own pair */
    KVM_TSC_WIRE_PAIR_USERSPACE = 2,    /* serialised user-space reads */
    KVM_TSC_WIRE_SOURCE_IGNORES = 3,    /* the source's offsets mean nothing */
};

typedef struct KvmTscMigrated {
    uint32_t pair_code;         /* KVM_TSC_WIRE_PAIR_* */
    uint64_t realtime_ns;
    int32_t tai_offset_s;
    uint64_t host_tsc;
    uint64_t kvmclock_ns;
    uint64_t uncertainty_ns;
    uint32_t guest_khz;
    uint32_t host_khz;
    uint64_t ratio;
    uint32_t frac_bits;
    uint32_t nr_vcpus;
    uint32_t *vcpu_ids;         /* kvm_arch_vcpu_id(), the APIC ID */
    uint64_t *offsets;
} KvmTscMigrated;

/* What the destination wrote, to write again when the VM starts */
typedef struct KvmTscApplied {
    struct kvm_clock_data clock; /* with KVM_CLOCK_REALTIME */
    uint64_t source_kvmclock_ns; /* and aims at these two */
    uint64_t source_realtime_ns;
    uint32_t nr_vcpus;
    uint64_t *offsets;          /* in CPU_FOREACH order */
} KvmTscApplied;

typedef struct KvmTscState {
    bool offsets_ignored;       /* the start-up probe's finding */
    bool snapshot_valid;        /* taken since the VM last stopped */
    bool reapply_pending;       /* loaded and written, VM not started */
    KvmTscMigrated mig;
    KvmTscApplied applied;
    PreciseTscMigration *last;  /* report of the last restore */
} KvmTscState;

static KvmTscState kvm_tsc;

/*
 * -accel kvm,precise-tsc=on (a KVMState field, patches/0005) on a VM that
 * KVM runs; kvm_state exists only then.
 */
static bool kvm_tsc_enabled(void)
{
    return kvm_enabled() && kvm_state->precise_tsc;
}

/* --- KVM access ----------------------------------------------------------- */

static int kvm_tsc_offset_attr(CPUState *cs, unsigned long ioctl_nr,
                               uint64_t *offset)
{
    struct kvm_device_attr attr = {
        .group = KVM_VCPU_TSC_CTRL,
        .attr = KVM_VCPU_TSC_OFFSET,
        .addr = (uintptr_t)offset,
    };

    return kvm_vcpu_ioctl(cs, ioctl_nr, &attr);
}

static int kvm_tsc_read_msr(CPUState *cs, uint32_t index, uint64_t *value)
{
    struct {
        struct kvm_msrs info;
        struct kvm_msr_entry entries[1];
    } msrs = {
        .info.nmsrs = 1,
        .entries[0].index = index,
    };
    int ret = kvm_vcpu_ioctl(cs, KVM_GET_MSRS, &msrs);

    if (ret != 1) {
        return ret < 0 ? ret : -EIO;
    }
    *value = msrs.entries[0].data;
    return 0;
}

static uint32_t kvm_tsc_guest_khz(CPUState *cs)
{
    int khz = kvm_vcpu_ioctl(cs, KVM_GET_TSC_KHZ);

    return khz > 0 ? khz : X86_CPU(cs)->env.tsc_khz;
}

/*
 * The host kernel's TSC rate.  The VM-wide KVM_GET_TSC_KHZ (Linux 6.0)
 * answers with the VM's default, which is the host's own rate since QEMU
 * never sets it; it works without KVM_CAP_VM_TSC_CONTROL.  On older
 * kernels a vCPU whose frequency nobody asked for runs at the host's.
 */
static bool kvm_tsc_host_khz(CPUState *cs, uint32_t *khz, Error **errp)
{
    int ret = kvm_vm_ioctl(kvm_state, KVM_GET_TSC_KHZ);

    if (ret > 0) {
        *khz = ret;
        return true;
    }
    if (!X86_CPU(cs)->env.user_tsc_khz) {
        *khz = kvm_tsc_guest_khz(cs);
        return true;
    }
    error_setg(errp, "precise-tsc: this host's KVM does not report its TSC "
               "frequency (VM ioctl KVM_GET_TSC_KHZ, Linux 6.0), needed "
               "with tsc-frequency=");
    return false;
}

static bool kvm_tsc_read_sysfs_uint(const char *path, uint64_t *value)
{
    g_autofree char *text = NULL;

    return g_file_get_contents(path, &text, NULL, NULL) &&
           qemu_strtou64(g_strstrip(text), NULL, 10, value) == 0;
}

/*
 * KVM's debugfs shows the ratio it applies when the host scales at all;
 * it is the best source of truth where debugfs is mounted and readable.
 * Debugfs is not an ABI, though: it may not be mounted, lockdown or
 * permissions may hide it, KVM creates these files only on hosts that
 * can scale, and a kernel may rename or drop them.  So nothing depends
 * on it: false here, and kvm_tsc_scaling() computes the ratio as KVM
 * does (tests/acceptance/test_precise_tsc_debugfs.py runs both paths).
 */
static bool kvm_tsc_debugfs_scaling(CPUState *cs, TscRestoreScaling *scaling)
{
    g_autofree char *dir =
        g_strdup_printf("/sys/kernel/debug/kvm/%d-%d/vcpu%lu", getpid(),
                        kvm_state->vmfd, kvm_arch_vcpu_id(cs));
    g_autofree char *ratio_path =
        g_build_filename(dir, "tsc-scaling-ratio", NULL);
    g_autofree char *frac_path =
        g_build_filename(dir, "tsc-scaling-ratio-frac-bits", NULL);
    uint64_t ratio, frac;

    if (!kvm_tsc_read_sysfs_uint(ratio_path, &ratio) ||
        !kvm_tsc_read_sysfs_uint(frac_path, &frac) ||
        !ratio || frac > 63) {
        return false;
    }
    scaling->ratio = ratio;
    scaling->frac_bits = frac;
    return true;
}

/*
 * The scaling KVM really applies to this VM's guest TSC: read back from
 * debugfs if possible, else (no debugfs, as on most production hosts)
 * computed as KVM computes it in kvm_set_tsc_khz(), with the kvm module's
 * tsc_tolerance_ppm (within it KVM does not scale at all).
 */
static bool kvm_tsc_scaling(CPUState *cs, uint32_t guest_khz,
                            uint32_t *host_khz, TscRestoreScaling *scaling,
                            Error **errp)
{
    char vendor[CPUID_VENDOR_SZ + 1] = { 0 };
    TscRestoreHostTsc host = { 0 };
    g_autofree char *msg = NULL;
    uint64_t ppm = TSC_RESTORE_DEFAULT_TOLERANCE_PPM;
    bool svm;

    if (!kvm_tsc_host_khz(cs, host_khz, errp)) {
        return false;
    }
    /* Only once KVM runs the vCPU at guest_khz (not yet while loading). */
    if (kvm_tsc_guest_khz(cs) == guest_khz &&
        kvm_tsc_debugfs_scaling(cs, scaling)) {
        trace_kvm_tsc_scaling("debugfs", guest_khz, *host_khz,
                              scaling->ratio, scaling->frac_bits);
        return true;
    }
    /* The host's hardware scales, whatever vendor the guest CPU claims. */
    host_cpu_vendor_fms(vendor, NULL, NULL, NULL);
    svm = g_str_equal(vendor, CPUID_VENDOR_AMD) ||
          g_str_equal(vendor, CPUID_VENDOR_HYGON);
    host.frac_bits = svm ? TSC_RESTORE_FRAC_BITS_SVM :
                           TSC_RESTORE_FRAC_BITS_VMX;
    host.max_ratio = svm ? TSC_RESTORE_MAX_RATIO_SVM :
                           TSC_RESTORE_MAX_RATIO_VMX;
    host.host_khz = *host_khz;
    host.can_scale = kvm_check_extension(kvm_state, KVM_CAP_TSC_CONTROL);
    /* Equal frequencies are unscaled whatever the tolerance. */
    if (guest_khz != *host_khz &&
        (!kvm_tsc_read_sysfs_uint(KVM_TSC_TOLERANCE_PARAM, &ppm) ||
         ppm > UINT32_MAX)) {
        error_setg(errp, "precise-tsc: cannot read %s, which decides "
                   "whether KVM scales a %" PRIu32 " kHz guest TSC on this "
                   "%" PRIu32 " kHz host", KVM_TSC_TOLERANCE_PARAM,
                   guest_khz, *host_khz);
        return false;
    }
    host.tolerance_ppm = ppm;
    if (tsc_restore_kvm_scaling(&host, guest_khz, scaling, &msg) !=
        TSC_RESTORE_OK) {
        error_setg(errp, "precise-tsc: %s", msg);
        return false;
    }
    trace_kvm_tsc_scaling("computed", guest_khz, *host_khz, scaling->ratio,
                          scaling->frac_bits);
    return true;
}

/*
 * The TSC read between two fences: LFENCE before waits for every earlier
 * instruction, LFENCE after keeps later ones (the clock read) from
 * starting before RDTSC has, so that the bracket really brackets.
 */
static inline uint64_t kvm_tsc_rdtsc_serialised(void)
{
    uint32_t lo, hi;

    asm volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) :: "memory");
    return ((uint64_t)hi << 32) | lo;
}

static bool kvm_tsc_tai_offset(int32_t *tai_offset_s, Error **errp)
{
    struct timex tx = { .modes = 0 };

    if (adjtimex(&tx) < 0) {
        error_setg_errno(errp, errno, "precise-tsc: adjtimex failed");
        return false;
    }
    *tai_offset_s = tx.tai;
    return true;
}

static uint64_t kvm_tsc_realtime_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * NANOSECONDS_PER_SECOND + ts.tv_nsec;
}

/*
 * kvmclock at @realtime_ns, when KVM_GET_CLOCK gives no triple: of a few
 * kvmclock reads bracketed by CLOCK_REALTIME, the tightest, carried to
 * that instant.  The KVM_GET_CLOCK that found no triple came before the
 * 32 user-space samples, so its kvmclock was not the pair's.  This path
 * is common: KVM drops its master clock (and the triple) once a restore
 * writes unequal offsets, so a guest migrated twice leaves a source
 * without it.
 */
static bool kvm_tsc_kvmclock_at(uint64_t realtime_ns, uint64_t *kvmclock_ns,
                                Error **errp)
{
    uint64_t before, after, best_width = UINT64_MAX;
    struct kvm_clock_data data;
    int i, ret;

    for (i = 0; i < KVM_TSC_KVMCLOCK_SAMPLES; i++) {
        memset(&data, 0, sizeof(data));
        before = kvm_tsc_realtime_ns();
        ret = kvm_vm_ioctl(kvm_state, KVM_GET_CLOCK, &data);
        after = kvm_tsc_realtime_ns();
        if (ret < 0) {
            error_setg_errno(errp, -ret, "precise-tsc: KVM_GET_CLOCK failed");
            return false;
        }
        /* A clock stepped back between the reads brackets nothing. */
        if (after >= before && after - before < best_width) {
            best_width = after - before;
            *kvmclock_ns = tsc_restore_kvmclock_at(data.clock, before, after,
                                                   realtime_ns);
        }
    }
    if (best_width == UINT64_MAX) {
        error_setg(errp, "precise-tsc: CLOCK_REALTIME went back across each "
                   "of %d KVM_GET_CLOCK calls", KVM_TSC_KVMCLOCK_SAMPLES);
        return false;
    }
    trace_kvm_tsc_kvmclock_at(best_width, realtime_ns, *kvmclock_ns);
    return true;
}

/*
 * Pair CLOCK_REALTIME with the host TSC: from KVM_GET_CLOCK when the
 * kernel provides both atomically, else from the tightest of several
 * serialised, bracketed user-space reads.  Also returns kvmclock's value
 * at the pair's instant and the TAI offset.
 */
static bool kvm_tsc_clock_pair(TscRestoreClockPair *pair,
                               uint64_t *kvmclock_ns, PreciseTscMode *mode,
                               uint64_t *uncertainty_ns, Error **errp)
{
    struct kvm_clock_data data = { 0 };
    TscRestorePairSample samples[KVM_TSC_PAIR_SAMPLES];
    TscRestorePairEstimate est;
    g_autofree char *msg = NULL;
    uint32_t host_khz;
    struct timespec ts;
    int i, ret;

    if (!kvm_tsc_tai_offset(&pair->tai_offset_s, errp)) {
        return false;
    }
    ret = kvm_vm_ioctl(kvm_state, KVM_GET_CLOCK, &data);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "precise-tsc: KVM_GET_CLOCK failed");
        return false;
    }
    *kvmclock_ns = data.clock;
    if ((data.flags & (KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)) ==
        (KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)) {
        pair->realtime_ns = data.realtime;
        pair->host_tsc = data.host_tsc;
        *mode = PRECISE_TSC_MODE_KVM_CLOCK_REALTIME;
        *uncertainty_ns = 0;
        return true;
    }

    if (!kvm_tsc_host_khz(first_cpu, &host_khz, errp)) {
        return false;
    }
    for (i = 0; i < KVM_TSC_PAIR_SAMPLES; i++) {
        samples[i].tsc_before = kvm_tsc_rdtsc_serialised();
        clock_gettime(CLOCK_REALTIME, &ts);
        samples[i].tsc_after = kvm_tsc_rdtsc_serialised();
        samples[i].realtime_ns = ts.tv_sec * NANOSECONDS_PER_SECOND +
                                 ts.tv_nsec;
    }
    if (tsc_restore_pair_from_samples(samples, KVM_TSC_PAIR_SAMPLES,
                                      host_khz, &est, &msg) !=
        TSC_RESTORE_OK) {
        error_setg(errp, "precise-tsc: %s", msg);
        return false;
    }
    pair->realtime_ns = est.pair.realtime_ns;
    pair->host_tsc = est.pair.host_tsc;
    if (!kvm_tsc_kvmclock_at(pair->realtime_ns, kvmclock_ns, errp)) {
        return false;
    }
    *mode = PRECISE_TSC_MODE_USERSPACE_PAIRING;
    *uncertainty_ns = est.uncertainty_ns;
    return true;
}

/* --- start-up: capability check and probe --------------------------------- */

typedef struct KvmTscProbe {
    int error;
    uint64_t moved;
} KvmTscProbe;

/*
 * Move vCPU 0's offset by KVM_TSC_PROBE_DELTA and see whether the guest
 * TSC KVM reports moved with it; put the offset back.
 */
static void kvm_tsc_do_probe(CPUState *cs, run_on_cpu_data arg)
{
    KvmTscProbe *probe = arg.host_ptr;
    uint64_t offset, moved, before, after;

    probe->error = kvm_tsc_offset_attr(cs, KVM_GET_DEVICE_ATTR, &offset);
    if (probe->error) {
        return;
    }
    probe->error = kvm_tsc_read_msr(cs, MSR_IA32_TSC, &before);
    if (probe->error) {
        return;
    }
    moved = offset + KVM_TSC_PROBE_DELTA;
    probe->error = kvm_tsc_offset_attr(cs, KVM_SET_DEVICE_ATTR, &moved);
    if (!probe->error) {
        probe->error = kvm_tsc_read_msr(cs, MSR_IA32_TSC, &after);
        probe->moved = after - before;
    }
    kvm_tsc_offset_attr(cs, KVM_SET_DEVICE_ATTR, &offset);
}

static void kvm_tsc_machine_done(Notifier *n, void *data)
{
    struct kvm_device_attr attr = {
        .group = KVM_VCPU_TSC_CTRL,
        .attr = KVM_VCPU_TSC_OFFSET,
    };
    TscRestoreClockPair pair;
    KvmTscProbe probe = { 0 };
    PreciseTscMode mode;
    uint64_t kvmclock, uncertainty;
    Error *err = NULL;

    if (!kvm_tsc_enabled()) {
        return;
    }
    /* -M none: no vCPU to probe, and no guest TSC to carry */
    if (!first_cpu) {
        error_report("precise-tsc=on needs a machine with vCPUs");
        exit(EXIT_FAILURE);
    }
    if (kvm_vcpu_ioctl(first_cpu, KVM_HAS_DEVICE_ATTR, &attr) < 0) {
        error_report("precise-tsc=on: this host's KVM has no "
                     "KVM_VCPU_TSC_OFFSET vCPU attribute (Linux 5.16 or "
                     "later has it)");
        exit(EXIT_FAILURE);
    }
    /* Both clocks must be readable; the pair mode is re-read each time. */
    if (!kvm_tsc_clock_pair(&pair, &kvmclock, &mode, &uncertainty, &err)) {
        error_report_err(err);
        exit(EXIT_FAILURE);
    }

    run_on_cpu(first_cpu, kvm_tsc_do_probe, RUN_ON_CPU_HOST_PTR(&probe));
    trace_kvm_tsc_probe(probe.error, probe.moved, KVM_TSC_PROBE_DELTA);
    if (probe.error) {
        error_report("precise-tsc=on: probing KVM_VCPU_TSC_OFFSET failed: "
                     "%s", strerror(-probe.error));
        exit(EXIT_FAILURE);
    }
    /* Allow for the time between the two reads, not for a lost offset. */
    if (probe.moved < KVM_TSC_PROBE_DELTA ||
        probe.moved - KVM_TSC_PROBE_DELTA > KVM_TSC_PROBE_DELTA / 1024) {
        warn_report("precise-tsc: this host's KVM accepts TSC offsets but "
                    "does not apply them (moving the offset by 0x%" PRIx64
                    " moved the guest TSC by 0x%" PRIx64 "); guest TSCs "
                    "cannot be restored precisely here",
                    KVM_TSC_PROBE_DELTA, probe.moved);
        kvm_tsc.offsets_ignored = true;
    }
}

static Notifier kvm_tsc_machine_done_notifier = {
    .notify = kvm_tsc_machine_done,
};

/* --- source: the snapshot ----------------------------------------------- */

/* One vCPU's offset access, run on the vCPU's thread */
typedef struct KvmTscOffsetAccess {
    unsigned long ioctl_nr;
    uint64_t offset;
    int ret;
} KvmTscOffsetAccess;

static void kvm_tsc_do_offset_access(CPUState *cs, run_on_cpu_data arg)
{
    KvmTscOffsetAccess *access = arg.host_ptr;

    access->ret = kvm_tsc_offset_attr(cs, access->ioctl_nr, &access->offset);
}

static bool kvm_tsc_get_offset(CPUState *cs, uint64_t *offset, Error **errp)
{
    KvmTscOffsetAccess access = { .ioctl_nr = KVM_GET_DEVICE_ATTR };

    run_on_cpu(cs, kvm_tsc_do_offset_access, RUN_ON_CPU_HOST_PTR(&access));
    if (access.ret < 0) {
        error_setg_errno(errp, -access.ret, "precise-tsc: reading the TSC "
                         "offset of vCPU %lu failed", kvm_arch_vcpu_id(cs));
        return false;
    }
    *offset = access.offset;
    return true;
}

static bool kvm_tsc_set_offset(CPUState *cs, uint64_t offset, Error **errp)
{
    KvmTscOffsetAccess access = {
        .ioctl_nr = KVM_SET_DEVICE_ATTR,
        .offset = offset,
    };

    run_on_cpu(cs, kvm_tsc_do_offset_access, RUN_ON_CPU_HOST_PTR(&access));
    if (access.ret < 0) {
        error_setg_errno(errp, -access.ret, "precise-tsc: writing the TSC "
                         "offset of vCPU %lu failed", kvm_arch_vcpu_id(cs));
        return false;
    }
    return true;
}

/* Every created vCPU, hotplugged ones included: each has an offset. */
static uint32_t kvm_tsc_nr_vcpus(void)
{
    uint32_t n = 0;
    CPUState *cs;

    CPU_FOREACH(cs) {
        n++;
    }
    return n;
}

static void kvm_tsc_mig_free(KvmTscMigrated *m)
{
    g_free(m->offsets);
    g_free(m->vcpu_ids);
    m->offsets = NULL;
    m->vcpu_ids = NULL;
}

/* One snapshot of the stopped VM: one pair, every vCPU's offset. */
static bool kvm_tsc_snapshot(Error **errp)
{
    KvmTscMigrated *m = &kvm_tsc.mig;
    TscRestoreClockPair pair;
    TscRestoreScaling scaling;
    PreciseTscMode mode;
    CPUState *cs;
    int i = 0;

    kvm_tsc.snapshot_valid = false;
    kvm_tsc_mig_free(m);
    m->nr_vcpus = kvm_tsc_nr_vcpus();
    m->offsets = g_new0(uint64_t, m->nr_vcpus);
    m->vcpu_ids = g_new0(uint32_t, m->nr_vcpus);
    /* Offsets do not change while the VM is stopped: read them first. */
    CPU_FOREACH(cs) {
        if (!kvm_tsc_get_offset(cs, &m->offsets[i], errp)) {
            return false;
        }
        m->vcpu_ids[i] = kvm_arch_vcpu_id(cs);
        i++;
    }
    if (!kvm_tsc_clock_pair(&pair, &m->kvmclock_ns, &mode,
                            &m->uncertainty_ns, errp)) {
        return false;
    }
    m->pair_code = mode == PRECISE_TSC_MODE_KVM_CLOCK_REALTIME ?
                   KVM_TSC_WIRE_PAIR_KERNEL : KVM_TSC_WIRE_PAIR_USERSPACE;
    if (kvm_tsc.offsets_ignored) {
        /* Sent all the same, so that the destination can say why. */
        m->pair_code = KVM_TSC_WIRE_SOURCE_IGNORES;
    }
    m->realtime_ns = pair.realtime_ns;
    m->tai_offset_s = pair.tai_offset_s;
    m->host_tsc = pair.host_tsc;
    m->guest_khz = kvm_tsc_guest_khz(first_cpu);
    if (!kvm_tsc_scaling(first_cpu, m->guest_khz, &m->host_khz, &scaling,
                         errp)) {
        return false;
    }
    m->ratio = scaling.ratio;
    m->frac_bits = scaling.frac_bits;
    kvm_tsc.snapshot_valid = true;
    trace_kvm_tsc_record(m->pair_code, m->realtime_ns, m->tai_offset_s,
                         m->host_tsc, m->kvmclock_ns, m->guest_khz,
                         m->host_khz, m->nr_vcpus);
    return true;
}

/* --- destination: the restore ------------------------------------------- */

static PreciseTscMode kvm_tsc_wire_mode(uint32_t pair_code)
{
    switch (pair_code) {
    case KVM_TSC_WIRE_PAIR_KERNEL:
        return PRECISE_TSC_MODE_KVM_CLOCK_REALTIME;
    case KVM_TSC_WIRE_PAIR_USERSPACE:
        return PRECISE_TSC_MODE_USERSPACE_PAIRING;
    default:
        return PRECISE_TSC_MODE_UNSUPPORTED;
    }
}

static void kvm_tsc_applied_free(KvmTscApplied *applied)
{
    g_free(applied->offsets);
    memset(applied, 0, sizeof(*applied));
}

/* Does the stream carry as many vCPUs as this VM has? */
static bool kvm_tsc_check_nr_vcpus(const KvmTscMigrated *m, Error **errp)
{
    uint32_t nr_vcpus = kvm_tsc_nr_vcpus();

    if (m->nr_vcpus != nr_vcpus) {
        error_setg(errp, "precise-tsc: the migration stream has TSC offsets "
                   "for %u vCPUs, this VM has %u", m->nr_vcpus, nr_vcpus);
        return false;
    }
    return true;
}

/*
 * The stream's vCPUs, matched to this VM's by vCPU id: order[i] is the
 * stream index of the i-th vCPU of CPU_FOREACH, @order holding
 * m->nr_vcpus entries.  The count is checked again because a restore at
 * VM start (kvm_tsc_restore_again()) runs after the load, and a vCPU
 * may have been hot-added in between.
 */
static bool kvm_tsc_match_vcpus(const KvmTscMigrated *m, uint32_t *order,
                                Error **errp)
{
    uint32_t i = 0, j, k;
    CPUState *cs;

    if (!kvm_tsc_check_nr_vcpus(m, errp)) {
        return false;
    }
    for (j = 0; j < m->nr_vcpus; j++) {
        for (k = 0; k < j; k++) {
            if (m->vcpu_ids[k] == m->vcpu_ids[j]) {
                error_setg(errp, "precise-tsc: the migration stream has two "
                           "TSC offsets for vCPU %u", m->vcpu_ids[j]);
                return false;
            }
        }
    }
    CPU_FOREACH(cs) {
        unsigned long id = kvm_arch_vcpu_id(cs);

        for (j = 0; j < m->nr_vcpus && m->vcpu_ids[j] != id; j++) {
            continue;
        }
        if (j == m->nr_vcpus) {
            error_setg(errp, "precise-tsc: the migration stream has no TSC "
                       "offset for vCPU %lu", id);
            return false;
        }
        order[i++] = j;
    }
    return true;
}

/*
 * KVM_SET_CLOCK with KVM_CLOCK_REALTIME, so that kvmclock reads
 * source_kvmclock_ns plus the realtime elapsed since source_realtime_ns.
 *
 * KVM adds the realtime elapsed up to a moment a little after the one its
 * new kvmclock counts from, so the clock lands a few microseconds ahead
 * (tens under emulation), by an amount that varies.  Its own pair tells by
 * how much: hand it a source instant that much later and try again, a few
 * times, until it lands within KVM_TSC_CLOCK_LANDING_NS.  @clock keeps the
 * last request, @data KVM_GET_CLOCK's answer to it.  Without the kernel's
 * pair (no master clock) the landing is measured the same way, with
 * kvmclock read against CLOCK_REALTIME from user space
 * (kvm_tsc_kvmclock_at(), to within about a microsecond under emulation);
 * @data's flags still say which it was.
 */
static bool kvm_tsc_land_clock(uint64_t source_kvmclock_ns,
                               uint64_t source_realtime_ns,
                               struct kvm_clock_data *clock,
                               struct kvm_clock_data *data, Error **errp)
{
    uint64_t now_realtime, now_kvmclock;
    int64_t ahead;
    int attempt, ret;

    for (attempt = 0; attempt < KVM_TSC_CLOCK_ATTEMPTS; attempt++) {
        ret = kvm_vm_ioctl(kvm_state, KVM_SET_CLOCK, clock);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "precise-tsc: KVM_SET_CLOCK failed");
            return false;
        }
        memset(data, 0, sizeof(*data));
        ret = kvm_vm_ioctl(kvm_state, KVM_GET_CLOCK, data);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "precise-tsc: KVM_GET_CLOCK failed");
            return false;
        }
        if ((data->flags & (KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)) ==
            (KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)) {
            now_realtime = data->realtime;
            now_kvmclock = data->clock;
        } else {
            now_realtime = kvm_tsc_realtime_ns();
            if (!kvm_tsc_kvmclock_at(now_realtime, &now_kvmclock, errp)) {
                return false;
            }
        }
        ahead = (int64_t)(now_kvmclock - source_kvmclock_ns) -
                (int64_t)(now_realtime - source_realtime_ns);
        trace_kvm_tsc_clock_ahead(attempt, ahead);
        if ((ahead >= -KVM_TSC_CLOCK_LANDING_NS &&
             ahead <= KVM_TSC_CLOCK_LANDING_NS) ||
            ahead < -NANOSECONDS_PER_SECOND ||
            ahead > NANOSECONDS_PER_SECOND) {
            /* landed, or not KVM's gap (a clamp): nothing to correct */
            return true;
        }
        clock->realtime += ahead;
    }
    return true;
}

/*
 * Clock first: set the VM clock from the source's triple, then read back
 * KVM's (kvmclock, host TSC) pair.  The pairs handed to the arithmetic
 * are then on the kvmclock time scale, so that the TSCs advance by what
 * kvmclock advanced.  False, with no error, if this kernel does not pair.
 */
static bool kvm_tsc_set_clock_first(const KvmTscMigrated *m,
                                    int32_t dst_tai_offset_s,
                                    TscRestoreSnapshot *src,
                                    TscRestoreDestination *dst,
                                    Error **errp)
{
    KvmTscApplied *applied = &kvm_tsc.applied;
    struct kvm_clock_data data = { 0 };
    uint64_t source_realtime;

    /* The source's instant on this host's UTC: TAI, not UTC, elapses. */
    applied->clock.clock = m->kvmclock_ns;
    applied->clock.realtime = m->realtime_ns +
        ((int64_t)m->tai_offset_s - dst_tai_offset_s) *
        NANOSECONDS_PER_SECOND;
    applied->clock.flags = KVM_CLOCK_REALTIME;
    source_realtime = applied->clock.realtime;
    applied->source_kvmclock_ns = m->kvmclock_ns;
    applied->source_realtime_ns = source_realtime;

    if (!kvm_tsc_land_clock(m->kvmclock_ns, source_realtime,
                            &applied->clock, &data, errp)) {
        return false;
    }
    if ((data.flags & (KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)) !=
        (KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)) {
        return false;
    }
    src->pair.realtime_ns = m->kvmclock_ns;
    src->pair.tai_offset_s = 0;
    dst->pair.realtime_ns = data.clock;
    dst->pair.host_tsc = data.host_tsc;
    dst->pair.tai_offset_s = 0;
    return true;
}

/*
 * What the destination knows about itself (TSC frequency and scaling,
 * TAI offset) and its one clock pair for the whole VM: KVM's, landed
 * from the source's clock first when both kernels pair, else read now.
 * Puts the destination side of the report in @report, and the
 * uncertainty of the destination's pair in @dst_uncertainty.
 */
static bool kvm_tsc_restore_read_destination(const KvmTscMigrated *m,
                                             TscRestoreSnapshot *src,
                                             TscRestoreDestination *dst,
                                             uint64_t *dst_uncertainty,
                                             PreciseTscMigration *report,
                                             Error **errp)
{
    ERRP_GUARD();
    PreciseTscMode dst_mode = PRECISE_TSC_MODE_KVM_CLOCK_REALTIME;
    uint64_t dst_kvmclock;
    uint32_t host_khz;
    int32_t dst_tai;

    /*
     * The frequency just loaded, which QEMU gives KVM after every section
     * is loaded; KVM may still run the host's default until then.
     */
    dst->guest_khz = X86_CPU(first_cpu)->env.tsc_khz ?:
                     kvm_tsc_guest_khz(first_cpu);
    dst->can_scale = kvm_check_extension(kvm_state, KVM_CAP_TSC_CONTROL);
    if (!kvm_tsc_scaling(first_cpu, dst->guest_khz, &host_khz,
                         &dst->scaling, errp) ||
        !kvm_tsc_tai_offset(&dst_tai, errp)) {
        return false;
    }
    report->source_tai_offset = m->tai_offset_s;
    report->destination_tai_offset = dst_tai;

    kvm_tsc_applied_free(&kvm_tsc.applied);
    report->clock_first = m->pair_code == KVM_TSC_WIRE_PAIR_KERNEL &&
        kvm_tsc_set_clock_first(m, dst_tai, src, dst, errp);
    if (*errp) {
        return false;
    }
    if (!report->clock_first) {
        /* One destination pair for the whole VM (Oliver Upton's point). */
        if (!kvm_tsc_clock_pair(&dst->pair, &dst_kvmclock, &dst_mode,
                                dst_uncertainty, errp)) {
            return false;
        }
    }
    report->destination_mode = dst_mode;
    trace_kvm_tsc_receive(m->pair_code, dst_mode, report->clock_first,
                          dst->pair.realtime_ns, dst->pair.host_tsc,
                          dst->guest_khz);
    return true;
}

/*
 * The arithmetic: every vCPU's offset, and how much time passed.  Puts
 * that in @report and warns about a clock behind the source's or an
 * implausibly long time.
 */
static bool kvm_tsc_restore_compute(const KvmTscMigrated *m,
                                    const TscRestoreSnapshot *src,
                                    const TscRestoreDestination *dst,
                                    uint64_t dst_uncertainty,
                                    TscRestoreResult *res,
                                    PreciseTscMigration *report,
                                    Error **errp)
{
    g_autofree char *msg = NULL;

    if (tsc_restore_compute(src, dst, TSC_RESTORE_DEFAULT_MAX_ELAPSED_NS,
                            res, &msg) != TSC_RESTORE_OK) {
        error_setg(errp, "precise-tsc: %s", msg);
        return false;
    }
    report->elapsed_ns = res->elapsed_ns;
    report->uncertainty_ns = m->uncertainty_ns + dst_uncertainty;
    report->clamped = res->elapsed_clamped;
    report->over_bound = res->elapsed_over_bound;
    trace_kvm_tsc_compute(res->elapsed_ns, res->elapsed_cycles,
                          res->elapsed_clamped, report->uncertainty_ns);
    if (res->elapsed_clamped) {
        warn_report("precise-tsc: this host's clock is %" PRIu64 " ns behind "
                    "the source's; guest TSCs were not moved backwards",
                    res->clock_behind_ns);
    }
    if (res->elapsed_over_bound) {
        warn_report("precise-tsc: %" PRIu64 " s passed since the source "
                    "stopped; check both hosts' clocks",
                    (uint64_t)(res->elapsed_ns / NANOSECONDS_PER_SECOND));
    }
    return true;
}

/*
 * Without clock first, the VM clock is set now, so that kvmclock
 * advances by the same time as the TSCs: from the source's kvmclock and
 * realtime when the source paired them in the kernel, else from the
 * kvmclock computed for the destination's pair instant.  Landed either
 * way (kvm_tsc_land_clock()): KVM_SET_CLOCK without KVM_CLOCK_REALTIME
 * counts from when KVM reads its clock, tens of microseconds after the
 * pair under emulation, and that much kvmclock was lost against the TSCs.
 */
static bool kvm_tsc_restore_set_clock(const KvmTscMigrated *m,
                                      const TscRestoreDestination *dst,
                                      const TscRestoreResult *res,
                                      Error **errp)
{
    KvmTscApplied *applied = &kvm_tsc.applied;
    struct kvm_clock_data data;

    if (m->pair_code == KVM_TSC_WIRE_PAIR_KERNEL) {
        applied->source_kvmclock_ns = m->kvmclock_ns;
        applied->source_realtime_ns = res->source_realtime_ns;
    } else {
        applied->source_kvmclock_ns = res->kvmclock_ns;
        applied->source_realtime_ns = dst->pair.realtime_ns;
    }
    applied->clock.clock = applied->source_kvmclock_ns;
    applied->clock.realtime = applied->source_realtime_ns;
    applied->clock.flags = KVM_CLOCK_REALTIME;
    return kvm_tsc_land_clock(applied->source_kvmclock_ns,
                              applied->source_realtime_ns, &applied->clock,
                              &data, errp);
}

/*
 * Write every vCPU's offset, keep them for when the VM starts
 * (kvm_tsc_reapply()), and list them in @report.
 */
static bool kvm_tsc_restore_write_offsets(const TscRestoreResult *res,
                                          uint32_t nr_vcpus,
                                          PreciseTscMigration *report,
                                          Error **errp)
{
    KvmTscApplied *applied = &kvm_tsc.applied;
    PreciseTscVcpuList **tail = &report->vcpus;
    CPUState *cs;
    uint32_t i = 0;

    applied->nr_vcpus = nr_vcpus;
    applied->offsets = g_new0(uint64_t, nr_vcpus);
    CPU_FOREACH(cs) {
        PreciseTscVcpu *v = g_new0(PreciseTscVcpu, 1);

        if (!kvm_tsc_set_offset(cs, res->vcpus[i].offset, errp)) {
            g_free(v);
            return false;
        }
        trace_kvm_tsc_write(kvm_arch_vcpu_id(cs), res->vcpus[i].offset,
                            res->vcpus[i].guest_tsc_at_pair);
        applied->offsets[i] = res->vcpus[i].offset;
        v->cpu_index = cs->cpu_index;
        v->vcpu_id = kvm_arch_vcpu_id(cs);
        v->offset = res->vcpus[i].offset;
        v->guest_tsc = res->vcpus[i].guest_tsc_at_pair;
        QAPI_LIST_APPEND(tail, v);
        i++;
    }
    return true;
}

/*
 * Compute and write every vCPU's offset and the VM clock.  Any failure
 * fails the incoming migration; the report says what happened.
 */
static bool kvm_tsc_restore(const uint32_t *order,
                            PreciseTscMigration *report, Error **errp)
{
    const KvmTscMigrated *m = &kvm_tsc.mig;
    g_autofree TscRestoreVcpuSnapshot *vcpus =
        g_new0(TscRestoreVcpuSnapshot, m->nr_vcpus);
    TscRestoreSnapshot src = {
        .pair = { .realtime_ns = m->realtime_ns, .host_tsc = m->host_tsc,
                  .tai_offset_s = m->tai_offset_s },
        .kvmclock_ns = m->kvmclock_ns,
        .guest_khz = m->guest_khz,
        .host_khz = m->host_khz,
        .scaling = { .ratio = m->ratio, .frac_bits = m->frac_bits },
        .nr_vcpus = m->nr_vcpus,
        .vcpus = vcpus,
    };
    TscRestoreDestination dst = { 0 };
    g_auto(TscRestoreResult) res = { 0 };
    uint64_t dst_uncertainty = 0;
    uint32_t i;

    for (i = 0; i < m->nr_vcpus; i++) {
        vcpus[i].offset = m->offsets[order[i]];
    }
    if (!kvm_tsc_restore_read_destination(m, &src, &dst, &dst_uncertainty,
                                          report, errp) ||
        !kvm_tsc_restore_compute(m, &src, &dst, dst_uncertainty, &res,
                                 report, errp)) {
        return false;
    }
    if (!report->clock_first &&
        !kvm_tsc_restore_set_clock(m, &dst, &res, errp)) {
        return false;
    }
    return kvm_tsc_restore_write_offsets(&res, m->nr_vcpus, report, errp);
}

/*
 * The VM starts: stock QEMU has meanwhile written each vCPU's IA32_TSC
 * and kvmclock's stopped clock.  Write the same offsets again (they do not
 * depend on when they are written) and the clock for now.
 */
static bool kvm_tsc_reapply(Error **errp)
{
    ERRP_GUARD();
    KvmTscApplied *applied = &kvm_tsc.applied;
    struct kvm_clock_data clock = applied->clock, data;
    CPUState *cs;
    uint32_t i = 0;

    if (!kvm_tsc_land_clock(applied->source_kvmclock_ns,
                            applied->source_realtime_ns, &clock, &data,
                            errp)) {
        return false;
    }
    CPU_FOREACH(cs) {
        if (i >= applied->nr_vcpus ||
            !kvm_tsc_set_offset(cs, applied->offsets[i], errp)) {
            if (!*errp) {
                error_setg(errp, "precise-tsc: vCPU %lu was added after the "
                           "migration was loaded", kvm_arch_vcpu_id(cs));
            }
            return false;
        }
        i++;
    }
    return true;
}

/*
 * The VM starts after a clock-first restore: do it again rather than
 * write the same offsets under a clock landed anew.  Each KVM_SET_CLOCK
 * lands a little differently (within KVM_TSC_CLOCK_LANDING_NS), and the
 * offsets derived from the first landing would no longer match the
 * second: the guest's kvmclock-to-TSC relationship would move by the
 * difference.  Derived from the new landing's own pair, it does not.
 * The report of the restore is replaced by the one of the redone restore.
 */
static bool kvm_tsc_restore_again(Error **errp)
{
    const KvmTscMigrated *m = &kvm_tsc.mig;
    g_autofree uint32_t *order = g_new0(uint32_t, m->nr_vcpus);
    PreciseTscMigration *report = g_new0(PreciseTscMigration, 1);

    report->source_mode = kvm_tsc.last->source_mode;
    if (!kvm_tsc_match_vcpus(m, order, errp) ||
        !kvm_tsc_restore(order, report, errp)) {
        qapi_free_PreciseTscMigration(report);
        return false;
    }
    report->restored = true;
    qapi_free_PreciseTscMigration(kvm_tsc.last);
    kvm_tsc.last = report;
    return true;
}

static void kvm_tsc_vm_state_change(void *opaque, bool running,
                                    RunState state)
{
    Error *err = NULL;
    bool ok;

    if (!running) {
        /* The source's snapshot: the vCPUs are already paused. */
        if (!kvm_tsc_snapshot(&err)) {
            warn_report_err(err);
        }
        return;
    }
    kvm_tsc.snapshot_valid = false;
    if (kvm_tsc.reapply_pending) {
        kvm_tsc.reapply_pending = false;
        ok = kvm_tsc.last->clock_first ? kvm_tsc_restore_again(&err) :
                                         kvm_tsc_reapply(&err);
        if (!ok) {
            /* Too late to fail the migration: say so, never "restored". */
            kvm_tsc.last->restored = false;
            kvm_tsc.last->error = g_strdup(error_get_pretty(err));
            error_report_err(err);
        }
    }
}

/* --- the migration section ---------------------------------------------- */

static int kvm_tsc_pre_save(void *opaque)
{
    Error *err = NULL;

    /* A VM that never ran was never stopped: take the snapshot now. */
    if (!kvm_tsc.snapshot_valid && !kvm_tsc_snapshot(&err)) {
        error_report_err(err);
        return -EIO;
    }
    trace_kvm_tsc_send(kvm_tsc.mig.nr_vcpus);
    return 0;
}

static int kvm_tsc_pre_load(void *opaque)
{
    kvm_tsc_mig_free(&kvm_tsc.mig);
    return 0;
}

static int kvm_tsc_post_load(void *opaque, int version_id)
{
    const KvmTscMigrated *m = &kvm_tsc.mig;
    PreciseTscMigration *report = g_new0(PreciseTscMigration, 1);
    g_autofree uint32_t *order = g_new0(uint32_t, m->nr_vcpus);
    Error *err = NULL;

    qapi_free_PreciseTscMigration(kvm_tsc.last);
    kvm_tsc.last = report;
    kvm_tsc.reapply_pending = false;
    report->source_mode = kvm_tsc_wire_mode(m->pair_code);
    report->destination_mode = PRECISE_TSC_MODE_UNSUPPORTED;

    if (m->pair_code < KVM_TSC_WIRE_PAIR_KERNEL ||
        m->pair_code > KVM_TSC_WIRE_SOURCE_IGNORES || !m->guest_khz ||
        !m->host_khz || !m->ratio || m->frac_bits > 63) {
        error_setg(&err, "precise-tsc: the migration stream's TSC state is "
                   "invalid (pair code %u, guest %u kHz, host %u kHz, ratio "
                   "0x%" PRIx64 ", %u fraction bits)", m->pair_code,
                   m->guest_khz, m->host_khz, m->ratio, m->frac_bits);
    } else if (!kvm_tsc_match_vcpus(m, order, &err)) {
        /* err says which vCPU */
    } else if (m->pair_code == KVM_TSC_WIRE_SOURCE_IGNORES) {
        error_setg(&err, "precise-tsc: the source host's KVM ignores TSC "
                   "offsets; its guest TSCs cannot be restored");
    } else if (kvm_tsc.offsets_ignored) {
        error_setg(&err, "precise-tsc: this host's KVM ignores TSC offsets; "
                   "the guest TSCs cannot be restored here");
    } else if (kvm_tsc_restore(order, report, &err)) {
        report->restored = true;
        kvm_tsc.reapply_pending = true;
        return 0;
    }
    report->error = g_strdup(error_get_pretty(err));
    /* Reported by the migration core, to this QEMU's user and the source */
    migration_incoming_set_error(err);
    error_free(err);
    return -EINVAL;
}

/*
 * Whether the outgoing migration writes to a file (file:, or fd: of a
 * file) or to a command (exec:) rather than to a socket: such a stream is
 * loaded at an unknown later time, maybe days, like a savevm snapshot.
 */
static bool kvm_tsc_migrating_to_file_or_command(void)
{
    MigrationState *s = migrate_get_current();
    QIOChannel *ioc;

    if (!s->to_dst_file) {
        return false;
    }
    ioc = qemu_file_get_ioc(s->to_dst_file);
    return object_dynamic_cast(OBJECT(ioc), TYPE_QIO_CHANNEL_FILE) ||
           object_dynamic_cast(OBJECT(ioc), TYPE_QIO_CHANNEL_COMMAND);
}

/*
 * Not in a savevm snapshot, nor by default in a migration to a file or a
 * command: those are restored at an unknown later time (days), and the
 * guest must then find its TSC where it left it, as with stock QEMU.
 * Without the section the restore is stock QEMU's.  With
 * precise-tsc-catch-up=on a file or command stream carries the section,
 * and loading it advances the guest TSCs by the time that passed.
 */
static bool kvm_tsc_section_needed(void *opaque)
{
    if (runstate_check(RUN_STATE_SAVE_VM)) {
        return false;
    }
    if (!kvm_state->precise_tsc_catch_up &&
        kvm_tsc_migrating_to_file_or_command()) {
        trace_kvm_tsc_section_omitted("a file or command stream");
        return false;
    }
    return true;
}

/*
 * Checked before the two arrays are allocated from the stream's count: a
 * corrupt count must fail the load with one line, not ask g_malloc for
 * gigabytes (which aborts).  The per-vCPU match in post_load is stricter;
 * this only bounds what the stream can make us allocate.
 */
static bool kvm_tsc_nr_vcpus_valid(void *opaque, int version_id)
{
    Error *err = NULL;

    if (!kvm_tsc_check_nr_vcpus(opaque, &err)) {
        migration_incoming_set_error(err);
        error_free(err);
        return false;
    }
    return true;
}

static const VMStateDescription vmstate_kvm_tsc = {
    .name = "precise-tsc",
    .version_id = 2,
    .minimum_version_id = 2,
    .needed = kvm_tsc_section_needed,
    .pre_save = kvm_tsc_pre_save,
    .pre_load = kvm_tsc_pre_load,
    .post_load = kvm_tsc_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(pair_code, KvmTscMigrated),
        VMSTATE_UINT64(realtime_ns, KvmTscMigrated),
        VMSTATE_INT32(tai_offset_s, KvmTscMigrated),
        VMSTATE_UINT64(host_tsc, KvmTscMigrated),
        VMSTATE_UINT64(kvmclock_ns, KvmTscMigrated),
        VMSTATE_UINT64(uncertainty_ns, KvmTscMigrated),
        VMSTATE_UINT32(guest_khz, KvmTscMigrated),
        VMSTATE_UINT32(host_khz, KvmTscMigrated),
        VMSTATE_UINT64(ratio, KvmTscMigrated),
        VMSTATE_UINT32(frac_bits, KvmTscMigrated),
        VMSTATE_UINT32(nr_vcpus, KvmTscMigrated),
        VMSTATE_VALIDATE("precise-tsc vCPU count", kvm_tsc_nr_vcpus_valid),
        VMSTATE_VARRAY_UINT32_ALLOC(vcpu_ids, KvmTscMigrated, nr_vcpus, 0,
                                    vmstate_info_uint32, uint32_t),
        VMSTATE_VARRAY_UINT32_ALLOC(offsets, KvmTscMigrated, nr_vcpus, 0,
                                    vmstate_info_uint64, uint64_t),
        VMSTATE_END_OF_LIST()
    },
};

/* --- query-precise-tsc ------------------------------------------------- */

PreciseTscInfo *qmp_query_precise_tsc(Error **errp)
{
    PreciseTscInfo *info = g_new0(PreciseTscInfo, 1);

    TscRestoreClockPair pair;
    uint64_t kvmclock, uncertainty;

    info->enabled = kvm_tsc_enabled();
    info->mode = PRECISE_TSC_MODE_UNSUPPORTED;
    /*
     * KVM returns the kernel's clock pair only while its master clock is
     * in use, which starts once vCPUs run: ask now rather than at start-up.
     */
    if (info->enabled && !kvm_tsc.offsets_ignored &&
        !kvm_tsc_clock_pair(&pair, &kvmclock, &info->mode, &uncertainty,
                            errp)) {
        qapi_free_PreciseTscInfo(info);
        return NULL;
    }
    if (kvm_tsc.last) {
        info->last_migration = QAPI_CLONE(PreciseTscMigration, kvm_tsc.last);
    }
    return info;
}

/*
 * Registered for every x86 KVM build; inert unless precise-tsc=on, so the
 * stream stays byte-compatible with upstream's by default.
 */
static void kvm_tsc_init(Notifier *n, void *data)
{
    if (!kvm_tsc_enabled()) {
        return;
    }
    vmstate_register(NULL, 0, &vmstate_kvm_tsc, &kvm_tsc.mig);
    qemu_add_vm_change_state_handler_prio(kvm_tsc_vm_state_change, NULL,
                                          KVM_TSC_VM_STATE_PRIORITY);
}

static Notifier kvm_tsc_init_notifier = {
    .notify = kvm_tsc_init,
};

static void kvm_tsc_register(void)
{
    qemu_add_machine_init_done_notifier(&kvm_tsc_machine_done_notifier);
    qemu_add_machine_init_done_notifier(&kvm_tsc_init_notifier);
}
type_init(kvm_tsc_register)
