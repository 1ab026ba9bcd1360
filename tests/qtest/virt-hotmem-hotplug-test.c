/*
 * qtest: where virt-hotmem places memory devices (dimm-alignment)
 *
 * QEMU runs under the qtest accelerator with Debian's AAVMF loaded (the
 * firmware never runs, but virt builds its ACPI GED and so takes pc-dimm
 * hotplug over QMP).  Addresses are read back with query-memory-devices
 * and compared with what this file works out from the command line:
 * virt puts RAM at 1 GiB and device memory at the first GiB boundary
 * after it; a DIMM placed by QEMU goes to the lowest free address on the
 * alignment boundary.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"

#define AAVMF "/usr/share/AAVMF/AAVMF_CODE.fd"
#define RAM_BASE (1 * GiB)
#define RAM_SIZE (1 * GiB)
/* Device memory: the first GiB boundary after RAM */
#define DEVMEM_BASE ROUND_UP(RAM_BASE + RAM_SIZE, 1 * GiB)

static bool have_firmware(void)
{
    if (access(AAVMF, R_OK) != 0) {
        g_test_skip("no " AAVMF " (Debian's qemu-efi-aarch64): virt takes "
                    "pc-dimm hotplug only when it loads firmware");
        return false;
    }
    return true;
}

static QTestState *start(const char *machine, const char *extra)
{
    return qtest_initf("-nic none -M %s -cpu max -m 1G,slots=4,maxmem=8G "
                       "-bios " AAVMF " %s", machine, extra);
}

/*
 * object-add a RAM backend @id of @size and device_add a pc-dimm @id on
 * it, at @addr or, if 0, where QEMU places it.
 */
static void hot_add_ok(QTestState *qts, const char *id, uint64_t size,
                       uint64_t addr)
{
    QDict *rsp;

    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments': "
                             "{ 'qom-type': 'memory-backend-ram', "
                             "'id': %s, 'size': %" PRIu64 " } }", id, size);
    if (addr) {
        rsp = qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments': "
                        "{ 'driver': 'pc-dimm', 'id': %s, 'memdev': %s, "
                        "'addr': %" PRIu64 " } }", id, id, addr);
    } else {
        rsp = qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments': "
                        "{ 'driver': 'pc-dimm', 'id': %s, 'memdev': %s } }",
                        id, id);
    }

    if (qdict_haskey(rsp, "error")) {
        g_printerr("device_add %s: %s\n", id, qdict_get_str(
                   qdict_get_qdict(rsp, "error"), "desc"));
    }
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
}

/* The address query-memory-devices reports for DIMM @id */
static uint64_t dimm_addr(QTestState *qts, const char *id)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-memory-devices' }");
    QListEntry *e;
    uint64_t addr = UINT64_MAX;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *data = qdict_get_qdict(qobject_to(QDict, e->value), "data");

        if (!g_strcmp0(qdict_get_try_str(data, "id"), id)) {
            addr = qdict_get_int(data, "addr");
        }
    }
    qobject_unref(rsp);
    g_assert_cmphex(addr, !=, UINT64_MAX);
    return addr;
}

/*
 * The case: a 1 GiB DIMM hot-added after a 256 MiB one starts on
 * the next 1 GiB boundary with the default alignment; stock virt puts it
 * right after the first.
 */
static void test_default_alignment(void)
{
    QTestState *qts;

    if (!have_firmware()) {
        return;
    }
    qts = start("virt-hotmem", "");
    hot_add_ok(qts, "d1", 256 * MiB, 0);
    hot_add_ok(qts, "d2", 1 * GiB, 0);
    g_assert_cmphex(dimm_addr(qts, "d1"), ==, DEVMEM_BASE);
    g_assert_cmphex(dimm_addr(qts, "d2"), ==,
                    ROUND_UP(DEVMEM_BASE + 256 * MiB, 1 * GiB));
    qtest_quit(qts);

    qts = start("virt", "");
    hot_add_ok(qts, "d1", 256 * MiB, 0);
    hot_add_ok(qts, "d2", 1 * GiB, 0);
    g_assert_cmphex(dimm_addr(qts, "d2"), ==, DEVMEM_BASE + 256 * MiB);
    qtest_quit(qts);
}

/* Cold-plugged DIMMs, and another boundary: 128 MiB (arm64, 4 KiB pages) */
static void test_cold_plugged_128m(void)
{
    QTestState *qts;

    if (!have_firmware()) {
        return;
    }
    qts = start("virt-hotmem,dimm-alignment=128M",
                "-object memory-backend-ram,id=m1,size=66M "
                "-device pc-dimm,id=d1,memdev=m1 "
                "-object memory-backend-ram,id=m2,size=512M "
                "-device pc-dimm,id=d2,memdev=m2");
    hot_add_ok(qts, "d3", 2 * MiB, 0);
    g_assert_cmphex(dimm_addr(qts, "d1"), ==, DEVMEM_BASE);
    g_assert_cmphex(dimm_addr(qts, "d2"), ==,
                    ROUND_UP(DEVMEM_BASE + 66 * MiB, 128 * MiB));
    g_assert_cmphex(dimm_addr(qts, "d3"), ==,
                    ROUND_UP(DEVMEM_BASE + 128 * MiB + 512 * MiB, 128 * MiB));
    qtest_quit(qts);
}

/*
 * An explicit addr= is honoured as given, also off the boundary; DIMMs
 * placed by QEMU go to the lowest free boundaries around it.
 */
static void test_explicit_addr(void)
{
    uint64_t d1 = DEVMEM_BASE + 256 * MiB + 2 * MiB;
    QTestState *qts;

    if (!have_firmware()) {
        return;
    }
    qts = start("virt-hotmem", "");
    hot_add_ok(qts, "d1", 256 * MiB, d1);
    hot_add_ok(qts, "d2", 256 * MiB, 0);
    hot_add_ok(qts, "d3", 256 * MiB, 0);
    g_assert_cmphex(dimm_addr(qts, "d1"), ==, d1);
    /* the 258 MiB below d1 hold d2; d3 goes past d1 */
    g_assert_cmphex(dimm_addr(qts, "d2"), ==, DEVMEM_BASE);
    g_assert_cmphex(dimm_addr(qts, "d3"), ==,
                    ROUND_UP(d1 + 256 * MiB, 1 * GiB));
    qtest_quit(qts);
}

/*
 * With the default alignment every slot can still be filled: each DIMM
 * wastes less than the 1 GiB virt reserves per slot.  4 slots of 1 GiB +
 * 2 MiB and maxmem - ram = 4 GiB + 8 MiB: the last one fits.
 */
static void test_slack_fits(void)
{
    QTestState *qts;
    char id[8];
    int i;

    if (!have_firmware()) {
        return;
    }
    qts = qtest_init("-nic none -M virt-hotmem -cpu max "
                     "-m 1G,slots=4,maxmem=5128M -bios " AAVMF);
    for (i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "d%d", i);
        hot_add_ok(qts, id, 1 * GiB + 2 * MiB, 0);
        g_assert_cmphex(dimm_addr(qts, id), ==, DEVMEM_BASE + i * 2 * GiB);
    }
    qtest_quit(qts);
}

/* A bad dimm-alignment: exit status 1 and one line naming the option */
static void test_bad_values(void)
{
    static const char *const bad[] = { "3M", "1M", "2G", "0", "4096", "x" };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        g_autofree char *cmd = g_strdup_printf(
            "%s -M virt-hotmem,dimm-alignment=%s -display none -nic none "
            "-machine dumpdtb=/dev/null", g_getenv("QTEST_QEMU_BINARY"),
            bad[i]);
        g_autofree char *out = NULL, *err = NULL;
        g_autoptr(GError) gerr = NULL;
        int status;

        g_assert_true(g_spawn_command_line_sync(cmd, &out, &err, &status,
                                                &gerr));
        g_test_message("dimm-alignment=%s: %s", bad[i], err);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 1);
        g_assert_nonnull(strstr(err, "dimm-alignment"));
        g_assert_cmpint(strchr(err, '\n') - err + 1, ==, strlen(err));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virt-hotmem/hotplug/default-alignment",
                   test_default_alignment);
    qtest_add_func("/virt-hotmem/hotplug/cold-plugged-128M",
                   test_cold_plugged_128m);
    qtest_add_func("/virt-hotmem/hotplug/explicit-addr", test_explicit_addr);
    qtest_add_func("/virt-hotmem/hotplug/slack-fits", test_slack_fits);
    qtest_add_func("/virt-hotmem/hotplug/bad-values", test_bad_values);
    return g_test_run();
}
