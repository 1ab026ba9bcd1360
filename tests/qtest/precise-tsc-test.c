/*
 * qtest: -accel kvm,precise-tsc on the host's real /dev/kvm
 *
 * Starts and stops a KVM guest with precise-tsc on and off and checks what
 * query-precise-tsc reports.  The mode must be what this host's KVM allows:
 * the test probes KVM itself (KVM_VCPU_TSC_OFFSET moved, guest TSC read
 * back through KVM_GET_MSRS) and compares.  Skipped, saying why, where
 * there is no usable /dev/kvm.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include <linux/kvm.h>
#include <sys/ioctl.h>

#define PROBE_DELTA (UINT64_C(1) << 40)
#define MSR_IA32_TSC 0x10

typedef enum HostTsc {
    HOST_TSC_NO_KVM,
    HOST_TSC_NO_OFFSET_ATTR,
    HOST_TSC_OFFSETS_IGNORED,
    HOST_TSC_OFFSETS_APPLIED,
} HostTsc;

static int vcpu_msr_tsc(int vcpu, uint64_t *value)
{
    struct {
        struct kvm_msrs info;
        struct kvm_msr_entry entries[1];
    } msrs = { .info.nmsrs = 1, .entries[0].index = MSR_IA32_TSC };

    if (ioctl(vcpu, KVM_GET_MSRS, &msrs) != 1) {
        return -1;
    }
    *value = msrs.entries[0].data;
    return 0;
}

/*
 * An independent look at the host: a bare KVM VM with one vCPU, its TSC
 * offset moved by PROBE_DELTA, the guest TSC read before and after.
 */
static HostTsc probe_host(void)
{
    HostTsc ret = HOST_TSC_NO_KVM;
    uint64_t offset, moved, before, after;
    struct kvm_device_attr attr = {
        .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
        .addr = (uintptr_t)&offset,
    };
    int kvm, vm = -1, vcpu = -1;

    kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        return HOST_TSC_NO_KVM;
    }
    vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) {
        goto out;
    }
    vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) {
        goto out;
    }
    ret = HOST_TSC_NO_OFFSET_ATTR;
    if (ioctl(vcpu, KVM_HAS_DEVICE_ATTR, &attr) < 0 ||
        ioctl(vcpu, KVM_GET_DEVICE_ATTR, &attr) < 0 ||
        vcpu_msr_tsc(vcpu, &before) < 0) {
        goto out;
    }
    moved = offset + PROBE_DELTA;
    attr.addr = (uintptr_t)&moved;
    if (ioctl(vcpu, KVM_SET_DEVICE_ATTR, &attr) < 0 ||
        vcpu_msr_tsc(vcpu, &after) < 0) {
        goto out;
    }
    ret = after - before >= PROBE_DELTA ? HOST_TSC_OFFSETS_APPLIED :
                                          HOST_TSC_OFFSETS_IGNORED;
out:
    if (vcpu >= 0) {
        close(vcpu);
    }
    if (vm >= 0) {
        close(vm);
    }
    close(kvm);
    return ret;
}

static HostTsc host;

static QDict *query(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-precise-tsc' }");
    QDict *ret = qdict_get_qdict(rsp, "return");

    g_assert_nonnull(ret);
    qobject_ref(ret);
    qobject_unref(rsp);
    return ret;
}

static bool skip_without_kvm(void)
{
    if (host == HOST_TSC_NO_KVM) {
        g_test_skip("no usable /dev/kvm on this host");
        return true;
    }
    return false;
}

static void start_stop(const char *precise, bool expect_enabled)
{
    QTestState *qts;
    QDict *info;
    const char *expect_mode;

    if (skip_without_kvm()) {
        return;
    }
    /* Debian's seabios and qemu-system-data packages hold the firmware */
    qts = qtest_initf("-accel kvm%s -M q35 -smp 2 -nodefaults "
                      "-L /usr/share/seabios -L /usr/share/qemu", precise);
    info = query(qts);
    g_assert_cmpint(qdict_get_bool(info, "enabled"), ==, expect_enabled);
    if (!expect_enabled) {
        expect_mode = "unsupported";
    } else if (host == HOST_TSC_OFFSETS_IGNORED) {
        expect_mode = "unsupported";
    } else {
        /* kvm-clock-realtime needs a TSC-based host clock: either is honest */
        expect_mode = NULL;
        g_assert_cmpstr(qdict_get_str(info, "mode"), !=, "unsupported");
    }
    if (expect_mode) {
        g_assert_cmpstr(qdict_get_str(info, "mode"), ==, expect_mode);
    }
    g_assert_false(qdict_haskey(info, "last-migration"));
    qobject_unref(info);

    /* Stop (the snapshot is taken) and run again: nothing breaks. */
    qtest_qmp_assert_success(qts, "{ 'execute': 'stop' }");
    qtest_qmp_assert_success(qts, "{ 'execute': 'cont' }");
    info = query(qts);
    g_assert_cmpint(qdict_get_bool(info, "enabled"), ==, expect_enabled);
    g_assert_false(qdict_haskey(info, "last-migration"));
    qobject_unref(info);
    qtest_quit(qts);
}

static void test_on(void)
{
    if (host == HOST_TSC_NO_OFFSET_ATTR) {
        g_test_skip("this host's KVM has no KVM_VCPU_TSC_OFFSET: "
                    "precise-tsc=on refuses to start (see /precise-tsc/no-attr)");
        return;
    }
    start_stop(",precise-tsc=on", true);
}

static void test_off(void)
{
    start_stop(",precise-tsc=off", false);
}

static void test_default_off(void)
{
    start_stop("", false);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    host = probe_host();
    g_test_message("host: %s", (const char *[]) {
        "no KVM", "no KVM_VCPU_TSC_OFFSET", "TSC offsets ignored",
        "TSC offsets applied" }[host]);
    qtest_add_func("/precise-tsc/on", test_on);
    qtest_add_func("/precise-tsc/off", test_off);
    qtest_add_func("/precise-tsc/default-off", test_default_off);
    return g_test_run();
}
