/*
 * Precise TSC state across live migration (-accel kvm,precise-tsc=on)
 *
 * Upstream QEMU migrates each vCPU's IA32_TSC value: the guest TSC stands
 * still for the whole downtime, and vCPUs stay in phase only through KVM's
 * write-matching heuristics.  With precise-tsc=on this section carries
 * instead one (CLOCK_REALTIME, host TSC) pair taken when the source VM
 * stops, every vCPU's KVM_VCPU_TSC_OFFSET and the guest TSC frequency.  The
 * destination reads its own pair once before the vCPUs run and writes
 * offsets under which every guest TSC has advanced by the real elapsed
 * time, with the phase between vCPUs kept to the cycle.  The arithmetic is
 * in tsc-restore.c; this file talks to KVM.
 *
 * The pair comes from KVM_GET_CLOCK when the kernel provides it
 * (KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC), else from bracketed
 * user-space reads.  At start-up a probe checks that the kernel applies the
 * offsets it accepts: some (such as PVM) accept and ignore them, and there
 * the mode is reported as unsupported rather than pretending precision.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "qapi/clone-visitor.h"
#include "qapi/qapi-types-virt-hotmem.h"
#include "qapi/qapi-visit-virt-hotmem.h"
#include "hw/core/cpu.h"
#include "migration/vmstate.h"
#include "system/kvm.h"
#include "system/kvm_int.h"
#include "system/runstate.h"
#include "system/precise-tsc.h"
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
/* Run after kvmclock's handler on start, so our KVM_SET_CLOCK wins */
#define KVM_TSC_VM_STATE_PRIORITY 1

/* What travels in the migration stream */
typedef struct KvmTscMigrated {
    uint32_t mode;              /* PreciseTscMode of the source's pair */
    uint64_t realtime_ns;
    uint64_t host_tsc;
    uint64_t kvmclock_ns;
    uint64_t uncertainty_ns;
    uint32_t guest_khz;
    uint64_t ratio;
    uint32_t frac_bits;
    uint32_t nr_vcpus;
    uint64_t *offsets;
    uint64_t *tsc_adjust;
} KvmTscMigrated;

typedef struct KvmTscState {
    bool enabled;               /* -accel kvm,precise-tsc= */
    bool offsets_ignored;       /* the start-up probe's finding */
    bool snapshot_valid;        /* taken since the VM last stopped */
    bool restore_pending;       /* loaded, not yet applied */
    KvmTscMigrated mig;
    PreciseTscMigration *last;  /* report of the last restore */
} KvmTscState;

static KvmTscState kvm_tsc;

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

/* The host's own TSC rate: KVM's VM-wide default, else the vCPU's. */
static uint32_t kvm_tsc_host_khz(CPUState *cs)
{
    if (kvm_check_extension(kvm_state, KVM_CAP_VM_TSC_CONTROL)) {
        int khz = kvm_vm_ioctl(kvm_state, KVM_GET_TSC_KHZ);

        if (khz > 0) {
            return khz;
        }
    }
    return kvm_tsc_guest_khz(cs);
}

/*
 * This host's scaling of the guest TSC.  KVM does not report its ratio; it
 * derives it from the two frequencies exactly as tsc_restore_kvm_ratio()
 * does, with the fraction width of the vendor's hardware.
 */
static TscRestoreScaling kvm_tsc_scaling(uint32_t guest_khz,
                                         uint32_t host_khz)
{
    char vendor[CPUID_VENDOR_SZ + 1] = { 0 };
    unsigned int frac;
    TscRestoreScaling scaling;

    /* The host's hardware scales, whatever vendor the guest CPU claims. */
    host_cpu_vendor_fms(vendor, NULL, NULL, NULL);
    frac = g_str_equal(vendor, CPUID_VENDOR_AMD) ||
           g_str_equal(vendor, CPUID_VENDOR_HYGON) ?
           TSC_RESTORE_FRAC_BITS_SVM : TSC_RESTORE_FRAC_BITS_VMX;
    scaling = tsc_restore_unscaled(frac);

    if (guest_khz != host_khz &&
        !tsc_restore_kvm_ratio(guest_khz, host_khz, frac, &scaling)) {
        scaling = tsc_restore_unscaled(frac);
    }
    return scaling;
}

static inline uint64_t kvm_tsc_rdtsc(void)
{
    uint32_t lo, hi;

    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/*
 * Pair CLOCK_REALTIME with the host TSC: from KVM_GET_CLOCK when the
 * kernel provides both atomically, else from the tightest of several
 * bracketed user-space reads.  Also returns kvmclock's value.
 */
static bool kvm_tsc_clock_pair(TscRestoreClockPair *pair,
                               uint64_t *kvmclock_ns, PreciseTscMode *mode,
                               uint64_t *uncertainty_ns, Error **errp)
{
    struct kvm_clock_data data = { 0 };
    TscRestorePairSample samples[KVM_TSC_PAIR_SAMPLES];
    TscRestorePairEstimate est;
    g_autofree char *msg = NULL;
    struct timespec ts;
    int i, ret;

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

    for (i = 0; i < KVM_TSC_PAIR_SAMPLES; i++) {
        samples[i].tsc_before = kvm_tsc_rdtsc();
        clock_gettime(CLOCK_REALTIME, &ts);
        samples[i].tsc_after = kvm_tsc_rdtsc();
        samples[i].realtime_ns = ts.tv_sec * NANOSECONDS_PER_SECOND +
                                 ts.tv_nsec;
    }
    if (tsc_restore_pair_from_samples(samples, KVM_TSC_PAIR_SAMPLES,
                                      kvm_tsc_host_khz(first_cpu), &est,
                                      &msg) != TSC_RESTORE_OK) {
        error_setg(errp, "precise-tsc: %s", msg);
        return false;
    }
    *pair = est.pair;
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

    if (!kvm_tsc.enabled) {
        return;
    }
    if (!kvm_enabled()) {
        error_report("precise-tsc=on needs the KVM accelerator");
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

static void kvm_tsc_do_get_offset(CPUState *cs, run_on_cpu_data arg)
{
    uint64_t *offset = arg.host_ptr;

    if (kvm_tsc_offset_attr(cs, KVM_GET_DEVICE_ATTR, offset) < 0) {
        *offset = 0;
    }
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
    g_free(m->tsc_adjust);
    m->offsets = m->tsc_adjust = NULL;
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

    kvm_tsc_mig_free(m);
    m->nr_vcpus = kvm_tsc_nr_vcpus();
    m->offsets = g_new0(uint64_t, m->nr_vcpus);
    m->tsc_adjust = g_new0(uint64_t, m->nr_vcpus);
    /* Offsets do not change while the VM is stopped: read them first. */
    CPU_FOREACH(cs) {
        run_on_cpu(cs, kvm_tsc_do_get_offset,
                   RUN_ON_CPU_HOST_PTR(&m->offsets[i]));
        m->tsc_adjust[i] = X86_CPU(cs)->env.tsc_adjust;
        i++;
    }
    if (!kvm_tsc_clock_pair(&pair, &m->kvmclock_ns, &mode,
                            &m->uncertainty_ns, errp)) {
        return false;
    }
    m->mode = mode;
    m->realtime_ns = pair.realtime_ns;
    m->host_tsc = pair.host_tsc;
    m->guest_khz = kvm_tsc_guest_khz(first_cpu);
    scaling = kvm_tsc_scaling(m->guest_khz, kvm_tsc_host_khz(first_cpu));
    m->ratio = scaling.ratio;
    m->frac_bits = scaling.frac_bits;
    kvm_tsc.snapshot_valid = true;
    trace_kvm_tsc_record(m->mode, m->realtime_ns, m->host_tsc,
                         m->kvmclock_ns, m->guest_khz, m->nr_vcpus);
    return true;
}

/* --- destination: the restore ------------------------------------------- */

static void kvm_tsc_do_set_offset(CPUState *cs, run_on_cpu_data arg)
{
    uint64_t *offset = arg.host_ptr;
    int ret = kvm_tsc_offset_attr(cs, KVM_SET_DEVICE_ATTR, offset);

    if (ret < 0) {
        warn_report("precise-tsc: setting vCPU %d's TSC offset failed: %s",
                    cs->cpu_index, strerror(-ret));
    }
}

static void kvm_tsc_restore(void)
{
    const KvmTscMigrated *m = &kvm_tsc.mig;
    g_autofree TscRestoreVcpuSnapshot *vcpus =
        g_new0(TscRestoreVcpuSnapshot, m->nr_vcpus);
    TscRestoreSnapshot src = {
        .pair = { .realtime_ns = m->realtime_ns, .host_tsc = m->host_tsc },
        .kvmclock_ns = m->kvmclock_ns,
        .guest_khz = m->guest_khz,
        .scaling = { .ratio = m->ratio, .frac_bits = m->frac_bits },
        .nr_vcpus = m->nr_vcpus,
        .vcpus = vcpus,
    };
    TscRestoreDestination dst = { 0 };
    TscRestoreResult res = { 0 };
    PreciseTscMigration *report = g_new0(PreciseTscMigration, 1);
    PreciseTscVcpuList **tail = &report->vcpus;
    struct kvm_clock_data clock = { 0 };
    PreciseTscMode dst_mode;
    uint64_t dst_kvmclock, dst_uncertainty;
    g_autofree char *msg = NULL;
    Error *err = NULL;
    CPUState *cs;
    uint32_t i;
    int ret;

    for (i = 0; i < m->nr_vcpus; i++) {
        vcpus[i].offset = m->offsets[i];
        vcpus[i].tsc_adjust = m->tsc_adjust[i];
    }
    report->source_mode = m->mode;
    qapi_free_PreciseTscMigration(kvm_tsc.last);
    kvm_tsc.last = report;

    /* One destination pair for the whole VM (Oliver Upton's point). */
    if (!kvm_tsc_clock_pair(&dst.pair, &dst_kvmclock, &dst_mode,
                            &dst_uncertainty, &err)) {
        report->error = g_strdup(error_get_pretty(err));
        warn_report_err(err);
        return;
    }
    dst.guest_khz = kvm_tsc_guest_khz(first_cpu);
    dst.scaling = kvm_tsc_scaling(dst.guest_khz,
                                  kvm_tsc_host_khz(first_cpu));
    dst.can_scale = kvm_check_extension(kvm_state, KVM_CAP_TSC_CONTROL);
    report->destination_mode = dst_mode;
    trace_kvm_tsc_receive(m->mode, dst_mode, dst.pair.realtime_ns,
                          dst.pair.host_tsc, dst.guest_khz);

    if (tsc_restore_compute(&src, &dst, TSC_RESTORE_DEFAULT_MAX_ELAPSED_NS,
                            &res, &msg) != TSC_RESTORE_OK) {
        /* Upstream's restore (the migrated IA32_TSC) stays in effect. */
        warn_report("precise-tsc: %s; guest TSCs restored as without "
                    "precise-tsc", msg);
        report->error = g_steal_pointer(&msg);
        return;
    }
    report->elapsed_ns = res.elapsed_ns;
    report->uncertainty_ns = m->uncertainty_ns + dst_uncertainty;
    report->clamped = res.elapsed_clamped;
    report->over_bound = res.elapsed_over_bound;
    trace_kvm_tsc_compute(res.elapsed_ns, res.elapsed_cycles,
                          res.elapsed_clamped, report->uncertainty_ns);
    if (res.elapsed_clamped) {
        warn_report("precise-tsc: this host's clock is %" PRIu64 " ns behind "
                    "the source's; guest TSCs were not moved backwards",
                    res.clock_behind_ns);
    }
    if (res.elapsed_over_bound) {
        warn_report("precise-tsc: %" PRIu64 " s passed since the source "
                    "stopped; check both hosts' clocks",
                    (uint64_t)(res.elapsed_ns / NANOSECONDS_PER_SECOND));
    }

    /* kvmclock advances by the same real time as the TSCs. */
    if (m->mode == PRECISE_TSC_MODE_KVM_CLOCK_REALTIME) {
        clock.clock = m->kvmclock_ns;
        clock.realtime = m->realtime_ns;
        clock.flags = KVM_CLOCK_REALTIME;
    } else {
        clock.clock = res.kvmclock_ns;
    }
    ret = kvm_vm_ioctl(kvm_state, KVM_SET_CLOCK, &clock);
    if (ret < 0) {
        warn_report("precise-tsc: KVM_SET_CLOCK failed: %s", strerror(-ret));
    }

    i = 0;
    CPU_FOREACH(cs) {
        PreciseTscVcpu *v = g_new0(PreciseTscVcpu, 1);

        run_on_cpu(cs, kvm_tsc_do_set_offset,
                   RUN_ON_CPU_HOST_PTR(&res.vcpus[i].offset));
        trace_kvm_tsc_write(cs->cpu_index, res.vcpus[i].offset,
                            res.vcpus[i].guest_tsc_at_pair);
        v->cpu_index = cs->cpu_index;
        v->offset = res.vcpus[i].offset;
        v->guest_tsc = res.vcpus[i].guest_tsc_at_pair;
        QAPI_LIST_APPEND(tail, v);
        i++;
    }
    tsc_restore_result_clear(&res);
}

static void kvm_tsc_vm_state_change(void *opaque, bool running,
                                    RunState state)
{
    Error *err = NULL;

    if (!running) {
        /* The source's snapshot: the vCPUs are already paused. */
        if (!kvm_tsc_snapshot(&err)) {
            warn_report_err(err);
        }
        return;
    }
    kvm_tsc.snapshot_valid = false;
    if (kvm_tsc.restore_pending) {
        kvm_tsc.restore_pending = false;
        kvm_tsc_restore();
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
    uint32_t nr_vcpus = kvm_tsc_nr_vcpus();

    if (m->nr_vcpus != nr_vcpus) {
        error_report("precise-tsc: the migration stream has %u vCPUs, this "
                     "VM %u", m->nr_vcpus, nr_vcpus);
        return -EINVAL;
    }
    if (m->mode >= PRECISE_TSC_MODE__MAX || !m->guest_khz ||
        !m->ratio || m->frac_bits > 63) {
        error_report("precise-tsc: the migration stream's TSC state is "
                     "invalid (mode %u, %u kHz, ratio 0x%" PRIx64 ", %u "
                     "fraction bits)", m->mode, m->guest_khz, m->ratio,
                     m->frac_bits);
        return -EINVAL;
    }
    kvm_tsc.restore_pending = true;
    return 0;
}

static const VMStateDescription vmstate_kvm_tsc = {
    .name = "precise-tsc",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = kvm_tsc_pre_save,
    .pre_load = kvm_tsc_pre_load,
    .post_load = kvm_tsc_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(mode, KvmTscMigrated),
        VMSTATE_UINT64(realtime_ns, KvmTscMigrated),
        VMSTATE_UINT64(host_tsc, KvmTscMigrated),
        VMSTATE_UINT64(kvmclock_ns, KvmTscMigrated),
        VMSTATE_UINT64(uncertainty_ns, KvmTscMigrated),
        VMSTATE_UINT32(guest_khz, KvmTscMigrated),
        VMSTATE_UINT64(ratio, KvmTscMigrated),
        VMSTATE_UINT32(frac_bits, KvmTscMigrated),
        VMSTATE_UINT32(nr_vcpus, KvmTscMigrated),
        VMSTATE_VARRAY_UINT32_ALLOC(offsets, KvmTscMigrated, nr_vcpus, 0,
                                    vmstate_info_uint64, uint64_t),
        VMSTATE_VARRAY_UINT32_ALLOC(tsc_adjust, KvmTscMigrated, nr_vcpus, 0,
                                    vmstate_info_uint64, uint64_t),
        VMSTATE_END_OF_LIST()
    },
};

/* --- query-precise-tsc and the accel property ----------------------------- */

static PreciseTscInfo *kvm_tsc_query(Error **errp)
{
    PreciseTscInfo *info = g_new0(PreciseTscInfo, 1);

    TscRestoreClockPair pair;
    uint64_t kvmclock, uncertainty;

    info->enabled = kvm_tsc.enabled && kvm_enabled();
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

static bool kvm_tsc_get_precise(Object *obj, Error **errp)
{
    return kvm_tsc.enabled;
}

static void kvm_tsc_set_precise(Object *obj, bool value, Error **errp)
{
    KVMState *s = KVM_STATE(obj);

    if (s->fd != -1) {
        error_setg(errp, "precise-tsc: cannot be changed after KVM started");
        return;
    }
    kvm_tsc.enabled = value;
}

static void kvm_tsc_accel_class_init(ObjectClass *oc)
{
    object_class_property_add_bool(oc, "precise-tsc", kvm_tsc_get_precise,
                                   kvm_tsc_set_precise);
    object_class_property_set_description(oc, "precise-tsc",
        "Carry the precise TSC state in the migration stream (default off: "
        "the stream stays that of upstream QEMU)");
}

/*
 * Registered for every x86 KVM build; inert unless precise-tsc=on, so the
 * stream stays byte-compatible with upstream's by default.
 */
static void kvm_tsc_init(Notifier *n, void *data)
{
    if (!kvm_tsc.enabled || !kvm_enabled()) {
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
    precise_tsc_register_query(kvm_tsc_query);
    kvm_i386_add_accel_class_init(kvm_tsc_accel_class_init);
    qemu_add_machine_init_done_notifier(&kvm_tsc_machine_done_notifier);
    qemu_add_machine_init_done_notifier(&kvm_tsc_init_notifier);
}
type_init(kvm_tsc_register)
