/*
 * qtest: -accel kvm,precise-tsc on the host's real /dev/kvm
 *
 * Starts and stops a KVM guest with precise-tsc on and off and checks what
 * query-precise-tsc reports.  The mode must be exactly what this host's
 * KVM allows: the test probes KVM itself (KVM_VCPU_TSC_OFFSET moved, guest
 * TSC read back through KVM_GET_MSRS) and compares:
 *   - offsets ignored (PVM, as on the project's machines): "unsupported";
 *   - offsets applied, host clocksource tsc: "kvm-clock-realtime" once the
 *     vCPUs have run (KVM's master clock needs a TSC clocksource);
 *   - offsets applied, another clocksource: "userspace-pairing";
 *   - no KVM_VCPU_TSC_OFFSET: QEMU refuses precise-tsc=on at start-up.
 * Skipped, saying why, where there is no usable /dev/kvm.
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
static const char *const host_names[] = {
    [HOST_TSC_NO_KVM] = "no KVM",
    [HOST_TSC_NO_OFFSET_ATTR] = "no KVM_VCPU_TSC_OFFSET",
    [HOST_TSC_OFFSETS_IGNORED] = "TSC offsets ignored",
    [HOST_TSC_OFFSETS_APPLIED] = "TSC offsets applied",
};

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

/* What the host's own clocksource lets KVM pair (see the header) */
static const char *expected_mode(void)
{
    g_autofree char *cs = NULL;

    if (host == HOST_TSC_OFFSETS_IGNORED) {
        return "unsupported";
    }
    if (g_file_get_contents("/sys/devices/system/clocksource/clocksource0/"
                            "current_clocksource", &cs, NULL, NULL) &&
        g_str_equal(g_strstrip(cs), "tsc")) {
        return "kvm-clock-realtime";
    }
    return "userspace-pairing";
}

/* The mode, once it is what is expected or after 10 s of vCPUs running */
static char *mode_after_vcpus_ran(QTestState *qts, const char *expect)
{
    char *mode = NULL;
    int i;

    for (i = 0; i < 100; i++) {
        QDict *info = query(qts);

        g_free(mode);
        mode = g_strdup(qdict_get_str(info, "mode"));
        qobject_unref(info);
        if (g_str_equal(mode, expect)) {
            break;
        }
        g_usleep(100 * 1000);
    }
    return mode;
}

static void start_stop(const char *precise, bool expect_enabled)
{
    QTestState *qts;
    QDict *info;
    const char *expect_mode;
    g_autofree char *mode = NULL;

    if (skip_without_kvm()) {
        return;
    }
    /* Debian's seabios and qemu-system-data packages hold the firmware */
    qts = qtest_initf("-accel kvm%s -M q35 -smp 2 -nodefaults "
                      "-L /usr/share/seabios -L /usr/share/qemu", precise);
    info = query(qts);
    g_assert_cmpint(qdict_get_bool(info, "enabled"), ==, expect_enabled);
    g_assert_false(qdict_haskey(info, "last-migration"));
    qobject_unref(info);
    expect_mode = expect_enabled ? expected_mode() : "unsupported";
    mode = mode_after_vcpus_ran(qts, expect_mode);
    g_test_message("query-precise-tsc mode: %s", mode);
    g_assert_cmpstr(mode, ==, expect_mode);

    /* Stop (the snapshot is taken) and run again: nothing breaks. */
    qtest_qmp_assert_success(qts, "{ 'execute': 'stop' }");
    qtest_qmp_assert_success(qts, "{ 'execute': 'cont' }");
    info = query(qts);
    g_assert_cmpint(qdict_get_bool(info, "enabled"), ==, expect_enabled);
    g_assert_false(qdict_haskey(info, "last-migration"));
    qobject_unref(info);
    qtest_quit(qts);
}

/* Run QEMU (argv[0], which must be set) to a failure; its stderr. */
static char *run_qemu_expecting_failure(const char **argv)
{
    char *err = NULL;
    gint status;

    g_assert_nonnull(argv[0]);
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                               G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                               &err, &status, NULL));
    g_assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return err;
}

/*
 * Without KVM_VCPU_TSC_OFFSET (Linux before 5.16) precise-tsc=on must not
 * start.  The QEMU binary is run directly: it is expected to exit.
 */
static void test_on_refused_without_offset_attr(void)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *err = NULL;
    const char *argv[] = {
        qemu, "-accel", "kvm,precise-tsc=on", "-M", "q35", "-nodefaults",
        "-display", "none", "-S", "-L", "/usr/share/seabios",
        "-L", "/usr/share/qemu", NULL,
    };

    if (host != HOST_TSC_NO_OFFSET_ATTR) {
        g_test_skip(host == HOST_TSC_NO_KVM ?
                    "no usable /dev/kvm on this host" :
                    "this host's KVM has KVM_VCPU_TSC_OFFSET");
        return;
    }
    err = run_qemu_expecting_failure(argv);
    g_assert_nonnull(strstr(err, "has no KVM_VCPU_TSC_OFFSET vCPU attribute"));
}

static void test_on(void)
{
    if (host == HOST_TSC_NO_OFFSET_ATTR) {
        g_test_skip("this host's KVM has no KVM_VCPU_TSC_OFFSET: "
                    "precise-tsc=on refuses to start, see "
                    "/precise-tsc/on-refused-without-offset-attr");
        return;
    }
    start_stop(",precise-tsc=on", true);
}

static void test_catch_up(void)
{
    if (host == HOST_TSC_NO_OFFSET_ATTR) {
        g_test_skip("this host's KVM has no KVM_VCPU_TSC_OFFSET: "
                    "precise-tsc=on refuses to start");
        return;
    }
    start_stop(",precise-tsc=on,precise-tsc-catch-up=on", true);
}

/* A bad value: one line naming the property, and QEMU does not start. */
static void test_catch_up_bad_value(void)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *err = NULL;
    g_auto(GStrv) lines = NULL;
    const char *argv[] = {
        qemu, "-accel", "kvm,precise-tsc=on,precise-tsc-catch-up=maybe",
        "-M", "none", "-display", "none", "-S", NULL,
    };

    if (skip_without_kvm()) {
        return;
    }
    err = run_qemu_expecting_failure(argv);
    lines = g_strsplit(g_strchomp(err), "\n", -1);
    g_assert_cmpint(g_strv_length(lines), ==, 1);
    g_assert_nonnull(strstr(lines[0], "precise-tsc-catch-up"));
    g_assert_nonnull(strstr(lines[0], "maybe"));
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
    g_test_message("host: %s", host_names[host]);
    qtest_add_func("/precise-tsc/on", test_on);
    qtest_add_func("/precise-tsc/off", test_off);
    qtest_add_func("/precise-tsc/default-off", test_default_off);
    qtest_add_func("/precise-tsc/catch-up", test_catch_up);
    qtest_add_func("/precise-tsc/catch-up-bad-value",
                   test_catch_up_bad_value);
    qtest_add_func("/precise-tsc/on-refused-without-offset-attr",
                   test_on_refused_without_offset_attr);
    return g_test_run();
}
