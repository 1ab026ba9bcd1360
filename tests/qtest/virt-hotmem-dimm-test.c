/*
 * qtest: RAM banks, DIMMs and NVDIMMs as virt-hotmem describes them
 *
 * Device tree cases start QEMU with -machine dumpdtb=FILE (QEMU writes
 * the tree the guest would get and exits) and walk the tree with libfdt;
 * ACPI cases read the SRAT from fw_cfg's etc/acpi/tables, firmware never
 * running.  The expected addresses are worked out here from the command
 * line and from the documents the layouts follow, never asked of QEMU.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include <libfdt.h>
#include "virt-hotmem-srat.h"
#include "virt-hotmem-base.h"

/* virt puts RAM at 1 GiB and device memory at the next 1 GiB after RAM */
#define LEGACY_RAM_BASE (1 * GiB)

/*
 * virt-hotmem refuses ArmVirtQemu (AAVMF) with RAM away from 1 GiB, where
 * it cannot boot.  The moved maps' cases never run firmware: any image
 * QEMU cannot judge makes virt build its tables, and a blank one is such.
 */
static char *blank_firmware;

typedef struct QemuRun {
    int status;
    char *err;
    void *fdt;
} QemuRun;

/* Run QEMU with @args until it has dumped its device tree, or failed. */
static QemuRun run_qemu(const char *args)
{
    QemuRun r = { 0 };
    g_autofree char *dtb = NULL;
    g_autofree char *cmd = NULL;
    g_auto(GStrv) argv = NULL;
    g_autofree char *out = NULL;
    g_autoptr(GError) gerr = NULL;
    gsize len;
    int fd;

    fd = g_file_open_tmp("vhm-dt-XXXXXX.dtb", &dtb, &gerr);
    g_assert_no_error(gerr);
    close(fd);
    cmd = g_strdup_printf("%s -display none -nic none -accel tcg -cpu max "
                          "-machine dumpdtb=%s %s",
                          g_getenv("QTEST_QEMU_BINARY"), dtb, args);
    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, &gerr));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &r.err, &r.status, &gerr));
    if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) {
        g_assert_true(g_file_get_contents(dtb, (char **)&r.fdt, &len, &gerr));
        g_assert_cmpint(fdt_check_header(r.fdt), ==, 0);
        g_assert_cmpint(fdt_totalsize(r.fdt), ==, len);
    }
    unlink(dtb);
    return r;
}

static void qemu_run_free(QemuRun *r)
{
    g_free(r->err);
    g_free(r->fdt);
}

static QemuRun run_ok(const char *args)
{
    QemuRun r = run_qemu(args);

    if (!r.fdt) {
        g_printerr("QEMU %s failed: %s\n", args, r.err);
    }
    g_assert_nonnull(r.fdt);
    return r;
}

/* QEMU must refuse @args with exit status 1 and one line naming @what */
static void run_refused(const char *args, const char *what)
{
    QemuRun r = run_qemu(args);

    g_assert_true(WIFEXITED(r.status));
    g_assert_cmpint(WEXITSTATUS(r.status), ==, 1);
    if (!strstr(r.err, what)) {
        g_printerr("expected '%s' in: %s\n", what, r.err);
    }
    g_assert_nonnull(strstr(r.err, what));
    /* one line */
    g_assert_cmpint(strchr(r.err, '\n') - r.err + 1, ==, strlen(r.err));
    qemu_run_free(&r);
}

static uint64_t fdt_u64(const void *p)
{
    return ((uint64_t)fdt32_to_cpu(((const fdt32_t *)p)[0]) << 32) |
           fdt32_to_cpu(((const fdt32_t *)p)[1]);
}

/*
 * The node at @path has reg = <@base @size> (virt's root has 2 address
 * and 2 size cells), @compatible or device_type "memory" if NULL, and
 * numa-node-id @node, or none if @node < 0.
 */
static void check_range(const void *fdt, const char *path, uint64_t base,
                        uint64_t size, const char *compatible, int node)
{
    int off = fdt_path_offset(fdt, path);
    const void *p;
    int len;

    if (off < 0) {
        g_printerr("no node %s\n", path);
    }
    g_assert_cmpint(off, >=, 0);
    p = fdt_getprop(fdt, off, "reg", &len);
    g_assert_cmpint(len, ==, 16);
    g_assert_cmphex(fdt_u64(p), ==, base);
    g_assert_cmphex(fdt_u64((const char *)p + 8), ==, size);
    if (compatible) {
        g_assert_cmpstr(fdt_getprop(fdt, off, "compatible", NULL), ==,
                        compatible);
        g_assert_null(fdt_getprop(fdt, off, "device_type", NULL));
    } else {
        g_assert_cmpstr(fdt_getprop(fdt, off, "device_type", NULL), ==,
                        "memory");
    }
    p = fdt_getprop(fdt, off, "numa-node-id", &len);
    if (node < 0) {
        g_assert_null(p);
    } else {
        g_assert_cmpint(len, ==, 4);
        g_assert_cmpint(fdt32_to_cpu(*(const fdt32_t *)p), ==, node);
    }
}

/* Number of nodes with device_type = "memory", and of pmem-region nodes */
static int count_nodes(const void *fdt, const char *device_type,
                       const char *compatible)
{
    int off, n = 0;

    if (compatible) {
        for (off = fdt_node_offset_by_compatible(fdt, -1, compatible);
             off >= 0;
             off = fdt_node_offset_by_compatible(fdt, off, compatible)) {
            n++;
        }
        return n;
    }
    for (off = fdt_node_offset_by_prop_value(fdt, -1, "device_type",
                                             device_type,
                                             strlen(device_type) + 1);
         off >= 0;
         off = fdt_node_offset_by_prop_value(fdt, off, "device_type",
                                             device_type,
                                             strlen(device_type) + 1)) {
        n++;
    }
    return n;
}

/*
 * memory-layout=arm-den0001 follows the DRAM windows of Arm's
 * "Principles of ARM Memory Maps" (DEN0001C, 40-bit map): 2 GiB at
 * 0x8000_0000 up to 4 GiB, then 30 GiB at 0x8_8000_0000.  RAM starting
 * 16 MiB below 4 GiB fills those 16 MiB, the rest goes to the second
 * window.
 */
static void test_ram_banks(void)
{
    const uint64_t ram = 1 * GiB, first = 16 * MiB;
    const uint64_t window1_end = 4 * GiB, window2 = 0x880000000ULL;
    QemuRun r = run_ok("-m 1G -M virt-hotmem,memory-layout=arm-den0001,"
                       "ram-base=0xff000000");
    g_autofree char *n0 = g_strdup_printf("/memory@%" PRIx64,
                                          window1_end - first);
    g_autofree char *n1 = g_strdup_printf("/memory@%" PRIx64, window2);

    check_range(r.fdt, n0, window1_end - first, first, NULL, -1);
    check_range(r.fdt, n1, window2, ram - first, NULL, -1);
    g_assert_cmpint(count_nodes(r.fdt, "memory", NULL), ==, 2);
    qemu_run_free(&r);
}

/*
 * Two NUMA nodes (3 GiB and 1 GiB) over arm-den0001's two banks (2 GiB at
 * 2 GiB, 2 GiB at 34 GiB): node 0 has all of the first bank and the first
 * GiB of the second, node 1 the rest, in the order of -numa.
 */
static void test_ram_banks_numa(void)
{
    QemuRun r = run_ok("-m 4G -M virt-hotmem,memory-layout=arm-den0001 "
                       "-object memory-backend-ram,id=r0,size=3G "
                       "-object memory-backend-ram,id=r1,size=1G "
                       "-numa node,nodeid=0,memdev=r0 "
                       "-numa node,nodeid=1,memdev=r1");

    check_range(r.fdt, "/memory@80000000", 2 * GiB, 2 * GiB, NULL, 0);
    check_range(r.fdt, "/memory@880000000", 34 * GiB, 1 * GiB, NULL, 0);
    check_range(r.fdt, "/memory@8c0000000", 35 * GiB, 1 * GiB, NULL, 1);
    g_assert_cmpint(count_nodes(r.fdt, "memory", NULL), ==, 3);
    qemu_run_free(&r);
}

/*
 * RAM at 512 GiB on two NUMA nodes, a pc-dimm on each: boot.c describes
 * the nodes' RAM back to back from the RAM base, device memory starts at
 * the next GiB after RAM, and the DIMMs are where addr= put them.
 */
static void test_dimms_numa(void)
{
    const uint64_t base = 512 * GiB, node_ram = 512 * MiB;
    const uint64_t dm = base + 1 * GiB;
    g_autofree char *args = g_strdup_printf(
        "-m 1G,slots=4,maxmem=8G -M virt-hotmem,ram-base=512G "
        "-object memory-backend-ram,id=r0,size=512M "
        "-object memory-backend-ram,id=r1,size=512M "
        "-numa node,nodeid=0,memdev=r0 -numa node,nodeid=1,memdev=r1 "
        "-object memory-backend-ram,id=d0,size=256M "
        "-object memory-backend-ram,id=d1,size=512M "
        "-device pc-dimm,id=dimm0,memdev=d0,node=1,addr=0x%" PRIx64 " "
        "-device pc-dimm,id=dimm1,memdev=d1,node=0,addr=0x%" PRIx64,
        dm, dm + 1 * GiB);
    QemuRun r = run_ok(args);
    g_autofree char *ram0 = g_strdup_printf("/memory@%" PRIx64, base);
    g_autofree char *ram1 = g_strdup_printf("/memory@%" PRIx64,
                                            base + node_ram);
    g_autofree char *dimm0 = g_strdup_printf("/memory@%" PRIx64, dm);
    g_autofree char *dimm1 = g_strdup_printf("/memory@%" PRIx64,
                                             dm + 1 * GiB);

    check_range(r.fdt, ram0, base, node_ram, NULL, 0);
    check_range(r.fdt, ram1, base + node_ram, node_ram, NULL, 1);
    check_range(r.fdt, dimm0, dm, 256 * MiB, NULL, 1);
    check_range(r.fdt, dimm1, dm + 1 * GiB, 512 * MiB, NULL, 0);
    g_assert_cmpint(count_nodes(r.fdt, "memory", NULL), ==, 4);
    qemu_run_free(&r);
}

/*
 * An nvdimm is a pmem-region node over what the guest can map: the
 * backend less its label area.  virt makes one NUMA node as soon as
 * memory devices are possible, so numa-node-id is 0.
 */
static void test_nvdimm(void)
{
    const uint64_t dm = ROUND_UP(LEGACY_RAM_BASE + 1 * GiB, 1 * GiB);
    QemuRun r = run_ok("-m 1G,slots=2,maxmem=4G -M virt-hotmem,nvdimm=on "
                       "-object memory-backend-ram,id=n0,size=130M "
                       "-device nvdimm,memdev=n0,label-size=2M");
    g_autofree char *pmem = g_strdup_printf("/pmem@%" PRIx64, dm);

    check_range(r.fdt, pmem, dm, 128 * MiB, "pmem-region", 0);
    g_assert_cmpint(count_nodes(r.fdt, NULL, "pmem-region"), ==, 1);
    /* RAM only: the nvdimm is not memory the kernel may allocate from */
    g_assert_cmpint(count_nodes(r.fdt, "memory", NULL), ==, 1);
    qemu_run_free(&r);
}

/*
 * The pmem-region nodes of an nvdimm, boot path by boot path.  virt-hotmem
 * writes exactly one where the guest reads its devices from the device
 * tree (no firmware, or firmware with acpi=off), and none where the NFIT
 * describes the nvdimm (firmware with ACPI), on either QEMU base and in
 * either machine version.  Stock virt keeps what upstream gives it:
 * QEMU 10.2's hw/arm/boot.c writes one /pmem@ADDRESS node per nvdimm on
 * every path; 10.0 writes none, and refuses an nvdimm without the GED,
 * that is without firmware and ACPI.
 */
static int count_pmem(const char *machine, const char *firmware)
{
    const uint64_t dm = ROUND_UP(LEGACY_RAM_BASE + 1 * GiB, 1 * GiB);
    g_autofree char *args = g_strdup_printf(
        "-m 1G,slots=2,maxmem=4G -M %s,nvdimm=on %s%s "
        "-object memory-backend-ram,id=n0,size=128M "
        "-device nvdimm,memdev=n0", machine,
        firmware ? "-bios " : "", firmware ?: "");
    QemuRun r = run_ok(args);
    g_autofree char *pmem = g_strdup_printf("/pmem@%" PRIx64, dm);
    int n = count_nodes(r.fdt, NULL, "pmem-region");

    if (n) {
        /* One NUMA node, virt's as soon as memory devices are possible */
        check_range(r.fdt, pmem, dm, 128 * MiB, "pmem-region", 0);
    }
    qemu_run_free(&r);
    return n;
}

static void test_nvdimm_boot_paths(void)
{
    const char *const vhm[] = {
        "virt-hotmem", "virt-hotmem-10.0",
#if QEMU_BASE_AT_LEAST(10, 2)
        "virt-hotmem-10.2",
#endif
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(vhm); i++) {
        g_autofree char *acpi_off = g_strdup_printf("%s,acpi=off", vhm[i]);

        g_assert_cmpint(count_pmem(vhm[i], NULL), ==, 1);
        g_assert_cmpint(count_pmem(acpi_off, blank_firmware), ==, 1);
        g_assert_cmpint(count_pmem(vhm[i], blank_firmware), ==, 0);
    }
#if QEMU_BASE_AT_LEAST(10, 2)
    g_assert_cmpint(count_pmem("virt", NULL), ==, 1);
    g_assert_cmpint(count_pmem("virt,acpi=off", blank_firmware), ==, 1);
    g_assert_cmpint(count_pmem("virt", blank_firmware), ==, 1);
#else
    run_refused("-m 1G,slots=2,maxmem=4G -M virt,nvdimm=on "
                "-object memory-backend-ram,id=n0,size=128M "
                "-device nvdimm,memdev=n0", "missing acpi-ged device");
    g_assert_cmpint(count_pmem("virt", blank_firmware), ==, 0);
#endif
}

/*
 * A first bank of 2 MiB cannot hold a kernel whose arm64 Image header
 * says it needs 16 MiB: refused at start-up, naming both sizes.
 */
static void test_first_bank_too_small(void)
{
    g_autofree char *kernel = NULL;
    g_autofree char *args = NULL;
    uint8_t hdr[64] = { 0 };
    g_autoptr(GError) gerr = NULL;
    int fd;

    stq_le_p(hdr + 16, 16 * MiB);       /* image_size */
    memcpy(hdr + 56, "ARM\x64", 4);     /* magic */
    fd = g_file_open_tmp("vhm-Image-XXXXXX", &kernel, &gerr);
    g_assert_no_error(gerr);
    g_assert_cmpint(write(fd, hdr, sizeof(hdr)), ==, sizeof(hdr));
    close(fd);

    args = g_strdup_printf("-m 1G -M virt-hotmem,memory-layout=arm-den0001,"
                           "ram-base=0xffe00000 -kernel %s", kernel);
    run_refused(args, "first RAM bank (0xffe00000, 2048 KiB) is too small "
                "to boot from: kernel (16384 KiB)");
    unlink(kernel);
}

/*
 * Bad DIMMs on a device-tree machine: QEMU's own memory-device checks
 * still run, one line each, exit status 1.
 */
static void test_bad_input(void)
{
    run_refused("-m 1G,slots=2,maxmem=4G -M virt-hotmem "
                "-object memory-backend-ram,id=n0,size=128M "
                "-device nvdimm,memdev=n0", "add 'nvdimm=on' to '-M'");
    run_refused("-m 1G,slots=1,maxmem=4G -M virt-hotmem "
                "-object memory-backend-ram,id=d0,size=128M "
                "-object memory-backend-ram,id=d1,size=128M "
                "-device pc-dimm,memdev=d0 -device pc-dimm,memdev=d1",
                "no free slots");
    run_refused("-m 1G,slots=2,maxmem=2G -M virt-hotmem "
                "-object memory-backend-ram,id=d0,size=2G "
                "-device pc-dimm,memdev=d0", "not enough space");
    run_refused("-m 1G,slots=2,maxmem=4G -M virt-hotmem "
                "-object memory-backend-ram,id=r0,size=1G "
                "-numa node,nodeid=0,memdev=r0 "
                "-object memory-backend-ram,id=d0,size=128M "
                "-device pc-dimm,memdev=d0,node=3",
                "exceeds the number of numa nodes");
    run_refused("-m 1G,slots=2,maxmem=4G -M virt-hotmem,nvdimm=on "
                "-object memory-backend-ram,id=n0,size=1M "
                "-device nvdimm,memdev=n0,label-size=2M",
                "too small to contain nvdimm label");
    run_refused("-m 1G,slots=2,maxmem=4G -M virt-hotmem "
                "-object memory-backend-ram,id=d0,size=128M "
                "-device pc-dimm,memdev=d0,addr=0x80001000",
                "address must be aligned");
    run_refused("-m 1G,slots=2,maxmem=4G -M virt-hotmem "
                "-object memory-backend-ram,id=d0,size=1000K "
                "-device pc-dimm,memdev=d0", "size must be multiple");
    run_refused("-m 1G,slots=2,maxmem=4G -M virt-hotmem "
                "-object memory-backend-ram,id=d0,size=128M "
                "-device pc-dimm,memdev=d0 -device pc-dimm,memdev=d0",
                "already busy memdev: d0");
}

/*
 * A device-tree guest cannot be told about memory after boot: device_add
 * of a pc-dimm fails and names the ways that work, the VM keeps running,
 * and a virtio-mem device (which needs no ACPI) is plugged and sized.
 */
static void test_hotadd_refused(void)
{
    QTestState *qts = qtest_init("-nic none -M virt-hotmem -cpu max "
        "-m 1G,slots=2,maxmem=4G "
        "-object memory-backend-ram,id=d0,size=128M "
        "-object memory-backend-ram,id=v0,size=1G "
        "-device virtio-mem-pci,id=vmem0,memdev=v0,requested-size=256M");
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'device_add', 'arguments': "
                           "{ 'driver': 'pc-dimm', 'id': 'dimm0', "
                           "'memdev': 'd0' } }");
    const char *desc;
    QList *devs;
    QDict *vm;

    g_assert_true(qdict_haskey(rsp, "error"));
    desc = qdict_get_str(qdict_get_qdict(rsp, "error"), "desc");
    g_assert_nonnull(strstr(desc, "device tree"));
    g_assert_nonnull(strstr(desc, "ACPI"));
    g_assert_nonnull(strstr(desc, "virtio-mem-pci"));
    qobject_unref(rsp);

    rsp = qtest_qmp(qts, "{ 'execute': 'query-status' }");
    g_assert_true(qdict_get_bool(qdict_get_qdict(rsp, "return"), "running"));
    qobject_unref(rsp);

    rsp = qtest_qmp(qts, "{ 'execute': 'query-memory-devices' }");
    devs = qdict_get_qlist(rsp, "return");
    g_assert_cmpint(qlist_size(devs), ==, 1);
    vm = qdict_get_qdict(qobject_to(QDict, qlist_peek(devs)), "data");
    g_assert_cmpstr(qdict_get_str(vm, "id"), ==, "vmem0");
    /* device memory starts at the first GiB boundary after RAM */
    g_assert_cmphex(qdict_get_int(vm, "memaddr"), ==,
                    ROUND_UP(LEGACY_RAM_BASE + 1 * GiB, 1 * GiB));
    g_assert_cmpint(qdict_get_int(vm, "requested-size"), ==, 256 * MiB);
    qobject_unref(rsp);
    qtest_quit(qts);
}

/*
 * virt's fw_cfg, in its fixed low memory map: data register at +0,
 * big-endian selector at +8 (docs/specs/fw_cfg.rst).  libqos' mm_fw_cfg
 * has the other boards' layout, so read it here, a byte at a time.
 */
#define VIRT_FW_CFG_BASE 0x09020000
#define FW_CFG_FILE_DIR  0x19

static void fw_cfg_read(QTestState *qts, uint16_t key, void *buf,
                        size_t len)
{
    uint8_t *p = buf;

    qtest_writew(qts, VIRT_FW_CFG_BASE + 8, bswap16(key));
    while (len--) {
        *p++ = qtest_readb(qts, VIRT_FW_CFG_BASE);
    }
}

/* Read fw_cfg file @name into a new buffer; its size in *@len */
static uint8_t *fw_cfg_file(QTestState *qts, const char *name, size_t *len)
{
    uint32_t count, i;
    uint8_t *data;

    fw_cfg_read(qts, FW_CFG_FILE_DIR, &count, 4);
    count = be32_to_cpu(count);
    for (i = 0; i < count; i++) {
        struct {
            uint32_t size;
            uint16_t select;
            uint16_t reserved;
            char name[56];
        } QEMU_PACKED f;
        uint32_t j;

        /* The directory again, up to entry i */
        qtest_writew(qts, VIRT_FW_CFG_BASE + 8, bswap16(FW_CFG_FILE_DIR));
        for (j = 0; j < 4 + i * sizeof(f); j++) {
            qtest_readb(qts, VIRT_FW_CFG_BASE);
        }
        for (j = 0; j < sizeof(f); j++) {
            ((uint8_t *)&f)[j] = qtest_readb(qts, VIRT_FW_CFG_BASE);
        }
        if (!strncmp(f.name, name, sizeof(f.name))) {
            *len = be32_to_cpu(f.size);
            data = g_malloc(*len);
            fw_cfg_read(qts, be16_to_cpu(f.select), data, *len);
            return data;
        }
    }
    *len = 0;
    return NULL;
}

/*
 * Find table @sig (revision @rev) in the etc/acpi/tables blob; return
 * its offset, its end in *@end.  The blob is the tables back to back; a
 * table header is recognised by signature, revision and QEMU's default
 * OEM ID "BOCHS ", which AML inside another table does not carry.
 */
static size_t find_table(const uint8_t *blob, size_t len, const char *sig,
                         uint8_t rev, size_t *end)
{
    size_t off;

    for (off = 0; off + 36 <= len; off++) {
        if (!memcmp(blob + off, sig, 4) && blob[off + 8] == rev &&
            !memcmp(blob + off + 10, "BOCHS ", 6)) {
            *end = off + ldl_le_p(blob + off + 4);
            g_assert_cmpuint(*end, <=, len);
            return off;
        }
    }
    g_test_message("no %s table", sig);
    g_assert_not_reached();
}

/*
 * The memory affinity structures of the SRAT that QEMU hands the
 * firmware, in table order.
 */
static GArray *read_srat_memory(const char *args)
{
    QTestState *qts = qtest_init(args);
    GArray *mem = g_array_new(false, true, sizeof(SratMem));
    size_t len, off, end;
    g_autofree uint8_t *blob = fw_cfg_file(qts, "etc/acpi/tables", &len);

    g_assert_nonnull(blob);
    off = find_table(blob, len, "SRAT", 3, &end);
    srat_memory_affinity(blob + off, end - off, mem);
    qtest_quit(qts);
    return mem;
}

/* virt builds ACPI tables only when it loads firmware */
#define AAVMF "/usr/share/AAVMF/AAVMF_CODE.fd"


static bool have_firmware(void)
{
    if (access(AAVMF, R_OK) != 0) {
        g_test_skip("no " AAVMF " (Debian's qemu-efi-aarch64): virt builds "
                    "ACPI tables only when it loads firmware");
        return false;
    }
    return true;
}

static void check_srat(GArray *mem, const SratMem *expect, size_t n)
{
    size_t i;

    for (i = 0; i < mem->len; i++) {
        SratMem *m = &g_array_index(mem, SratMem, i);

        g_test_message("SRAT memory %zu: node %u 0x%" PRIx64 "+0x%" PRIx64
                       " flags %u", i, m->node, m->base, m->len, m->flags);
    }
    g_assert_cmpuint(mem->len, ==, n);
    for (i = 0; i < n; i++) {
        SratMem *m = &g_array_index(mem, SratMem, i);

        g_assert_cmpuint(m->node, ==, expect[i].node);
        g_assert_cmphex(m->base, ==, expect[i].base);
        g_assert_cmphex(m->len, ==, expect[i].len);
        g_assert_cmpuint(m->flags, ==, expect[i].flags);
    }
    g_array_free(mem, true);
}

/*
 * arm-den0001 with 4 GiB: 2 GiB fill the window at 2 GiB, 2 GiB go to the
 * one at 34 GiB, and device memory, (maxmem - mem) + 1 GiB per slot, is
 * after RAM in that window.  Each bank gets its own SRAT entry (one NUMA
 * node: virt's for memory hotplug), the holes none.
 */
static void test_srat_banks(void)
{
    const SratMem expect[] = {
        { 0, 2 * GiB, 2 * GiB, SRAT_ENABLED },
        { 0, 34 * GiB, 2 * GiB, SRAT_ENABLED },
        { 0, 36 * GiB, (8 - 4 + 2) * GiB, SRAT_ENABLED | SRAT_HOTPLUGGABLE },
    };

    g_autofree char *args = g_strdup_printf(
        "-nic none -cpu max -M virt-hotmem,memory-layout=arm-den0001 "
        "-m 4G,slots=2,maxmem=8G -bios %s", blank_firmware);

    check_srat(read_srat_memory(args), expect, ARRAY_SIZE(expect));
}

/* The same two nodes over two banks as test_ram_banks_numa */
static void test_srat_banks_numa(void)
{
    const SratMem expect[] = {
        { 0, 2 * GiB, 2 * GiB, SRAT_ENABLED },
        { 0, 34 * GiB, 1 * GiB, SRAT_ENABLED },
        { 1, 35 * GiB, 1 * GiB, SRAT_ENABLED },
    };

    g_autofree char *args = g_strdup_printf(
        "-nic none -cpu max -m 4G -M virt-hotmem,memory-layout=arm-den0001 "
        "-object memory-backend-ram,id=r0,size=3G "
        "-object memory-backend-ram,id=r1,size=1G "
        "-numa node,nodeid=0,memdev=r0 -numa node,nodeid=1,memdev=r1 "
        "-bios %s", blank_firmware);

    check_srat(read_srat_memory(args), expect, ARRAY_SIZE(expect));
}

/* Device memory at 2 TiB: the hotpluggable entry is there. */
static void test_srat_device_memory_2t(void)
{
    const SratMem expect[] = {
        { 0, LEGACY_RAM_BASE, 1 * GiB, SRAT_ENABLED },
        { 0, 2048 * GiB, (4 - 1 + 2) * GiB,
          SRAT_ENABLED | SRAT_HOTPLUGGABLE },
    };

    if (!have_firmware()) {
        return;
    }
    check_srat(read_srat_memory("-nic none -cpu max "
                                "-M virt-hotmem,device-memory-base=2T "
                                "-m 1G,slots=2,maxmem=4G "
                                "-bios " AAVMF),
               expect, ARRAY_SIZE(expect));
}

/*
 * Device memory at 2 TiB on a two-node machine, with a pc-dimm on each
 * node and an nvdimm: each pc-dimm has a hotpluggable entry on its own
 * node, the nvdimm its non-volatile one, and the rest of device memory
 * is hotpluggable on the last node, around them, never overlapping them.
 * Device memory is (maxmem - mem) + 1 GiB per slot = 7 GiB.
 */
static void test_srat_dimms_numa(void)
{
    const uint64_t dm = 2048 * GiB, dm_size = (6 - 2 + 3) * GiB;
    const uint64_t d0 = dm + 1 * GiB, d0_size = 512 * MiB;  /* node 1 */
    const uint64_t d1 = dm + 3 * GiB, d1_size = 1 * GiB;    /* node 0 */
    const uint64_t nv = dm + 5 * GiB, nv_size = 256 * MiB;  /* node 0 */
    const uint32_t hp = SRAT_ENABLED | SRAT_HOTPLUGGABLE;
    const SratMem expect[] = {
        { 0, LEGACY_RAM_BASE, 1 * GiB, SRAT_ENABLED },
        { 1, LEGACY_RAM_BASE + 1 * GiB, 1 * GiB, SRAT_ENABLED },
        { 0, nv, nv_size, SRAT_ENABLED | SRAT_NON_VOLATILE },
        { 1, dm, d0 - dm, hp },
        { 1, d0, d0_size, hp },
        { 1, d0 + d0_size, d1 - (d0 + d0_size), hp },
        { 0, d1, d1_size, hp },
        { 1, d1 + d1_size, nv - (d1 + d1_size), hp },
        { 1, nv + nv_size, dm + dm_size - (nv + nv_size), hp },
    };
    g_autofree char *args = NULL;

    if (!have_firmware()) {
        return;
    }
    args = g_strdup_printf(
        "-nic none -cpu max -smp 2 -bios " AAVMF " "
        "-M virt-hotmem,device-memory-base=2T,nvdimm=on "
        "-m 2G,slots=3,maxmem=6G "
        "-object memory-backend-ram,id=r0,size=1G "
        "-object memory-backend-ram,id=r1,size=1G "
        "-numa node,nodeid=0,memdev=r0,cpus=0 "
        "-numa node,nodeid=1,memdev=r1,cpus=1 "
        "-object memory-backend-ram,id=m0,size=%" PRIu64 " "
        "-object memory-backend-ram,id=m1,size=%" PRIu64 " "
        "-object memory-backend-ram,id=m2,size=%" PRIu64 " "
        "-device pc-dimm,id=dimm0,memdev=m0,node=1,addr=0x%" PRIx64 " "
        "-device pc-dimm,id=dimm1,memdev=m1,node=0,addr=0x%" PRIx64 " "
        "-device nvdimm,id=nv0,memdev=m2,node=0,addr=0x%" PRIx64,
        d0_size, d1_size, nv_size, d0, d1, nv);
    check_srat(read_srat_memory(args), expect, ARRAY_SIZE(expect));
}

/*
 * Each NVDIMM has an NFIT System Physical Address Range structure (ACPI
 * 6.5, 5.2.26.2: type 0, 56 bytes, base at 32, length at 40) over what
 * the guest maps, here at the start of device memory (the next GiB after
 * RAM at 1 GiB), and a 2 MiB label area is not part of it.
 */
static void test_nfit(void)
{
    const uint64_t dm = ROUND_UP(LEGACY_RAM_BASE + 1 * GiB, 1 * GiB);
    QTestState *qts;
    g_autofree uint8_t *blob = NULL;
    size_t len, off, end;
    int n_spa = 0;

    if (!have_firmware()) {
        return;
    }
    qts = qtest_init("-nic none -cpu max -M virt-hotmem,nvdimm=on "
                     "-m 1G,slots=2,maxmem=4G -bios " AAVMF " "
                     "-object memory-backend-ram,id=n0,size=130M "
                     "-device nvdimm,memdev=n0,label-size=2M");
    blob = fw_cfg_file(qts, "etc/acpi/tables", &len);
    g_assert_nonnull(blob);
    off = find_table(blob, len, "NFIT", 1, &end);
    /* 36-byte header, 4 reserved bytes, then the structures */
    for (off += 40; off < end; off += lduw_le_p(blob + off + 2)) {
        g_assert_cmpuint(lduw_le_p(blob + off + 2), >, 0);
        if (lduw_le_p(blob + off) == 0) {
            g_assert_cmpuint(lduw_le_p(blob + off + 2), ==, 56);
            g_assert_cmphex(ldq_le_p(blob + off + 32), ==, dm);
            g_assert_cmphex(ldq_le_p(blob + off + 40), ==, 128 * MiB);
            n_spa++;
        }
    }
    g_assert_cmpuint(off, ==, end);
    g_assert_cmpint(n_spa, ==, 1);
    qtest_quit(qts);
}

/*
 * SMBIOS type 19 (Memory Array Mapped Address, DSP0134 7.20): one per RAM
 * range, start and end in KiB (end inclusive).  With arm-den0001 and
 * 4 GiB: one for each bank, none for the hole.
 */
static void test_smbios_type19_per_bank(void)
{
    QTestState *qts = qtest_init("-nic none -cpu max "
                                 "-M virt-hotmem,memory-layout=arm-den0001 "
                                 "-m 4G");
    size_t len, off = 0;
    g_autofree uint8_t *t = fw_cfg_file(qts, "etc/smbios/smbios-tables",
                                        &len);
    const uint64_t expect[][2] = {
        { 2 * GiB, 2 * GiB }, { 34 * GiB, 2 * GiB },
    };
    size_t n = 0;

    g_assert_nonnull(t);
    while (off + 4 <= len) {
        uint8_t type = t[off], hlen = t[off + 1];

        g_assert_cmpuint(off + hlen, <=, len);
        if (type == 19) {
            g_assert_cmpuint(n, <, ARRAY_SIZE(expect));
            g_assert_cmphex(ldl_le_p(t + off + 4), ==, expect[n][0] / KiB);
            g_assert_cmphex(ldl_le_p(t + off + 8), ==,
                            (expect[n][0] + expect[n][1] - 1) / KiB);
            n++;
        }
        if (type == 127) {
            break;
        }
        /* the formatted area, then strings up to a double NUL */
        for (off += hlen; off + 1 < len && (t[off] || t[off + 1]); off++) {
            ;
        }
        off += 2;
    }
    g_assert_cmpuint(n, ==, ARRAY_SIZE(expect));
    qtest_quit(qts);
}

/*
 * MTE keeps 4 bits of tag per 16 bytes: tag memory for RAM at B of size S
 * is at B / 32, S / 32 long in the tag address space.  With arm-den0001
 * and 4 GiB, each of the two banks (2 GiB at 2 GiB, 2 GiB at 34 GiB) has
 * its own, and nothing covers the hole between them.
 */
static void test_mte_tag_memory_per_bank(void)
{
    QTestState *qts = qtest_init("-nic none -accel tcg -cpu max "
                                 "-M virt-hotmem,mte=on,"
                                 "memory-layout=arm-den0001 -m 4G");
    g_autofree char *mtree = qtest_hmp(qts, "info mtree");
    const uint64_t banks[][2] = {
        { 2 * GiB, 2 * GiB }, { 34 * GiB, 2 * GiB },
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(banks); i++) {
        g_autofree char *line = g_strdup_printf(
            "%016" PRIx64 "-%016" PRIx64 " (prio 0, ram): mach-virt.tag%zu\r",
            banks[i][0] / 32, (banks[i][0] + banks[i][1]) / 32 - 1, i);

        if (!strstr(mtree, line)) {
            g_printerr("no '%s' in:\n%s\n", line, mtree);
        }
        g_assert_nonnull(strstr(mtree, line));
    }
    g_assert_null(strstr(mtree, "mach-virt.tag2"));
    g_assert_null(strstr(mtree, "mach-virt.tag\r"));
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    int fd, ret;

    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virt-hotmem/dt/ram-banks", test_ram_banks);
    qtest_add_func("/virt-hotmem/dt/ram-banks-numa", test_ram_banks_numa);
    qtest_add_func("/virt-hotmem/dt/dimms-numa", test_dimms_numa);
    qtest_add_func("/virt-hotmem/dt/nvdimm", test_nvdimm);
    qtest_add_func("/virt-hotmem/dt/nvdimm-boot-paths",
                   test_nvdimm_boot_paths);
    qtest_add_func("/virt-hotmem/dt/first-bank-too-small",
                   test_first_bank_too_small);
    qtest_add_func("/virt-hotmem/dt/bad-input", test_bad_input);
    qtest_add_func("/virt-hotmem/dt/hotadd-refused", test_hotadd_refused);
    qtest_add_func("/virt-hotmem/acpi/srat-banks", test_srat_banks);
    qtest_add_func("/virt-hotmem/acpi/srat-banks-numa",
                   test_srat_banks_numa);
    qtest_add_func("/virt-hotmem/acpi/srat-device-memory-2T",
                   test_srat_device_memory_2t);
    qtest_add_func("/virt-hotmem/acpi/srat-dimms-numa", test_srat_dimms_numa);
    qtest_add_func("/virt-hotmem/acpi/nfit", test_nfit);
    qtest_add_func("/virt-hotmem/smbios/type19-per-bank",
                   test_smbios_type19_per_bank);
    qtest_add_func("/virt-hotmem/mte/tag-memory-per-bank",
                   test_mte_tag_memory_per_bank);

    fd = g_file_open_tmp("vhm-blank-firmware-XXXXXX.fd", &blank_firmware,
                         NULL);
    g_assert(fd >= 0);
    g_assert(ftruncate(fd, 64 * KiB) == 0);
    close(fd);
    ret = g_test_run();
    unlink(blank_firmware);
    g_free(blank_firmware);
    return ret;
}
