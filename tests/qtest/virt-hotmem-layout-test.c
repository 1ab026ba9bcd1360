/*
 * qtest: virt-hotmem's memory map as QEMU reports and maps it
 *
 * For each placement policy, start the machine and check that
 * query-memory-layout is exactly what the planner computes for the same
 * request, and that the RAM banks and device memory are mapped where
 * query-memory-layout says (info mtree).  Then check every kind of bad
 * option: QEMU exits with status 1 and one line naming the option.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "qobject/qstring.h"
#include "hw/arm/virt-hotmem-layout.h"

#define GiB (UINT64_C(1) << 30)
#define MiB (UINT64_C(1) << 20)

/* -cpu max: the PA limit the machine plans against under TCG/qtest */
#define CPU_MAX_PA_BITS 48

typedef struct LayoutCase {
    const char *name;
    const char *machine_opts;   /* appended to -M virt-hotmem */
    const char *mem;            /* -m */
    uint64_t ram_size, maxram_size, ram_slots;
    bool ram_base_auto;
    uint64_t ram_base;
    bool device_memory_base_auto;
    uint64_t device_memory_base;
    VirtHotmemPolicy policy;
    const char *reserved_text;  /* contents of a reserved-regions file */
} LayoutCase;

static const LayoutCase layout_cases[] = {
    {
        .name = "contiguous-legacy", .machine_opts = "", .mem = "1G",
        .ram_size = GiB, .maxram_size = GiB,
        .ram_base_auto = true, .device_memory_base_auto = true,
    }, {
        /* The seed thread's example */
        .name = "contiguous-20G-maxmem-120G", .machine_opts = "",
        .mem = "20G,slots=4,maxmem=120G",
        .ram_size = 20 * GiB, .maxram_size = 120 * GiB, .ram_slots = 4,
        .ram_base_auto = true, .device_memory_base_auto = true,
    }, {
        .name = "ram-base-512G", .machine_opts = ",ram-base=0x8000000000",
        .mem = "1G,slots=2,maxmem=3G",
        .ram_size = GiB, .maxram_size = 3 * GiB, .ram_slots = 2,
        .ram_base = 0x8000000000ULL, .device_memory_base_auto = true,
    }, {
        .name = "device-memory-2T", .machine_opts = ",device-memory-base=2T",
        .mem = "2G,slots=4,maxmem=64G",
        .ram_size = 2 * GiB, .maxram_size = 64 * GiB, .ram_slots = 4,
        .ram_base_auto = true, .device_memory_base = 2048 * GiB,
    }, {
        .name = "arm-den0001", .machine_opts = ",memory-layout=arm-den0001",
        .mem = "6G,slots=2,maxmem=100G",
        .ram_size = 6 * GiB, .maxram_size = 100 * GiB, .ram_slots = 2,
        .ram_base_auto = true, .device_memory_base_auto = true,
        .policy = VIRT_HOTMEM_POLICY_ARM_DEN0001,
    }, {
        /* A host MSI window over virt's GIC changes nothing */
        .name = "reserved-msi-window", .mem = "1G",
        .ram_size = GiB, .maxram_size = GiB,
        .ram_base_auto = true, .device_memory_base_auto = true,
        .reserved_text = "0x0000000008000000 0x00000000080fffff msi\n",
    }, {
        /* Reserved 1 GiB..2 GiB: RAM moves above it */
        .name = "reserved-1G-2G", .mem = "1G,slots=1,maxmem=2G",
        .ram_size = GiB, .maxram_size = 2 * GiB, .ram_slots = 1,
        .ram_base_auto = true, .device_memory_base_auto = true,
        .reserved_text = "0x0000000040000000 0x000000007fffffff reserved\n"
                         "0x0000000008000000 0x00000000080fffff msi\n",
    },
};

static char *write_temp(const char *text)
{
    g_autoptr(GError) err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("vhm-reserved-XXXXXX", &path, &err);

    g_assert_no_error(err);
    close(fd);
    g_assert_true(g_file_set_contents(path, text, -1, &err));
    return path;
}

static uint64_t get_u64(QDict *d, const char *key)
{
    return qnum_get_uint(qobject_to(QNum, qdict_get(d, key)));
}

static VirtHotmemRegionKind kind_from_str(const char *s)
{
    static const char *const names[] = {
        [VIRT_HOTMEM_REGION_RAM] = "ram",
        [VIRT_HOTMEM_REGION_DEVICE_MEMORY] = "device-memory",
        [VIRT_HOTMEM_REGION_MMIO] = "mmio",
        [VIRT_HOTMEM_REGION_HIGH_MMIO] = "high-mmio",
        [VIRT_HOTMEM_REGION_RESERVED] = "reserved",
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(names); i++) {
        if (g_str_equal(s, names[i])) {
            return i;
        }
    }
    g_assert_not_reached();
}

/* Is [base, base + size) mapped as @what in the system address space? */
static bool mtree_has(const char *mtree, uint64_t base, uint64_t size,
                      const char *what)
{
    g_autofree char *prefix = g_strdup_printf("%016" PRIx64 "-%016" PRIx64
                                              " (prio 0, ", base,
                                              base + size - 1);
    g_auto(GStrv) lines = g_strsplit(mtree, "\n", -1);
    char **l;

    for (l = lines; *l; l++) {
        const char *s = g_strstrip(*l);

        if (g_str_has_prefix(s, prefix) && strstr(s, what)) {
            return true;
        }
    }
    return false;
}

static void test_layout(gconstpointer opaque)
{
    const LayoutCase *c = opaque;
    g_autofree char *reserved_file = NULL;
    g_autofree char *reserved_opt = NULL;
    g_autofree char *mtree = NULL;
    g_autofree char *msg = NULL;
    g_autoptr(VirtHotmemLayout) expect = NULL;
    VirtHotmemMmioRegion mmio[64];
    VirtHotmemHighRegion high[] = {
        { "gic-redist2", 64 * MiB, true },
        { "pcie-ecam-high", 256 * MiB, true },
        { "pcie-mmio-high", 512 * GiB, true },
    };
    VirtHotmemReservedRegion *parsed = NULL, *reserved = NULL;
    size_t n_parsed = 0, n_reserved = 0, i;
    VirtHotmemRequest req = {
        .ram_size = c->ram_size, .maxram_size = c->maxram_size,
        .ram_slots = c->ram_slots,
        .ram_base_auto = c->ram_base_auto, .ram_base = c->ram_base,
        .device_memory_base_auto = c->device_memory_base_auto,
        .device_memory_base = c->device_memory_base,
        .policy = c->policy, .mmio = mmio, .high = high,
        .n_high = G_N_ELEMENTS(high), .pa_bits = CPU_MAX_PA_BITS,
    };
    QTestState *qts;
    QDict *rsp, *layout;
    QListEntry *e;

    if (c->reserved_text) {
        reserved_file = write_temp(c->reserved_text);
        reserved_opt = g_strdup_printf(",reserved-regions=%s", reserved_file);
        g_assert_true(virt_hotmem_parse_reserved_regions(
                          c->reserved_text, -1, reserved_file, &parsed,
                          &n_parsed, &msg));
        g_assert_true(virt_hotmem_reserved_regions_union(
                          parsed, n_parsed, &reserved, &n_reserved, &msg));
        req.reserved = reserved;
        req.n_reserved = n_reserved;
    }

    qts = qtest_initf("-nic none -cpu max -M virt-hotmem%s%s -m %s",
                      c->machine_opts ? c->machine_opts : "",
                      reserved_opt ? reserved_opt : "", c->mem);
    rsp = qtest_qmp(qts, "{ 'execute': 'query-memory-layout' }");
    layout = qdict_get_qdict(rsp, "return");
    g_assert_nonnull(layout);

    /* The board's fixed MMIO map is an input of the planner: take it. */
    QLIST_FOREACH_ENTRY(qdict_get_qlist(layout, "regions"), e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));

        if (g_str_equal(qdict_get_str(r, "kind"), "mmio")) {
            g_assert_cmpuint(req.n_mmio, <, G_N_ELEMENTS(mmio));
            mmio[req.n_mmio++] = (VirtHotmemMmioRegion) {
                .name = qdict_get_str(r, "name"),
                .base = get_u64(r, "base"),
                .size = get_u64(r, "size"),
            };
        }
    }
    g_assert_cmpuint(req.n_mmio, >, 20);

    expect = virt_hotmem_layout_plan(&req, &msg);
    g_assert_cmpstr(msg, ==, NULL);
    g_assert_nonnull(expect);

    /* Everything else QEMU reports is what the planner computes. */
    i = 0;
    QLIST_FOREACH_ENTRY(qdict_get_qlist(layout, "regions"), e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));

        g_assert_cmpuint(i, <, expect->n_regions);
        g_assert_cmpstr(qdict_get_str(r, "name"), ==, expect->regions[i].name);
        g_assert_cmphex(get_u64(r, "base"), ==,
                        expect->regions[i].base);
        g_assert_cmphex(get_u64(r, "size"), ==,
                        expect->regions[i].size);
        g_assert_cmpint(kind_from_str(qdict_get_str(r, "kind")), ==,
                        expect->regions[i].kind);
        i++;
    }
    g_assert_cmpuint(i, ==, expect->n_regions);
    g_assert_cmphex(get_u64(layout, "highest-gpa"), ==,
                    expect->highest_gpa);
    g_assert_cmpuint(get_u64(layout, "ipa-bits"), ==,
                     expect->ipa_bits);

    /* And memory is mapped where the map says. */
    mtree = qtest_hmp(qts, "info mtree");
    for (i = 0; i < expect->n_ram_banks; i++) {
        const char *what = expect->n_ram_banks == 1 ? "mach-virt.ram" :
                           "alias ram-bank";

        g_assert_true(mtree_has(mtree, expect->ram_banks[i].base,
                                expect->ram_banks[i].size, what));
    }
    if (expect->device_memory_size) {
        g_assert_true(mtree_has(mtree, expect->device_memory_base,
                                expect->device_memory_size,
                                "i/o): device-memory"));
    }

    qobject_unref(rsp);
    qtest_quit(qts);
    virt_hotmem_reserved_regions_free(parsed, n_parsed);
    virt_hotmem_reserved_regions_free(reserved, n_reserved);
    if (reserved_file) {
        unlink(reserved_file);
    }
}

static void test_other_machine(void)
{
    QTestState *qts = qtest_init("-nic none -M virt");
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-memory-layout' }");
    g_autofree char *hmp = NULL;

    g_assert_true(qdict_haskey(rsp, "error"));
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"),
                            "machine 'virt-10.0' does not plan"));
    qobject_unref(rsp);
    hmp = qtest_hmp(qts, "info memory-layout");
    g_assert_nonnull(strstr(hmp, "machine 'virt-10.0' does not plan"));
    qtest_quit(qts);
}

/* --- bad input ------------------------------------------------------------ */

typedef struct BadCase {
    const char *name;
    const char *args;           /* after the common arguments */
    const char *reserved_text;  /* if set, written to a file: %s in args */
    const char *expect;         /* in the single error line */
} BadCase;

static const BadCase bad_cases[] = {
    { "ram-base-unaligned", "-M virt-hotmem,ram-base=0x40100000 -m 1G",
      NULL, "ram-base=0x40100000: not aligned to 2 MiB" },
    { "ram-base-garbage", "-M virt-hotmem,ram-base=lots -m 1G",
      NULL, "ram-base=lots: expected 'auto' or an address" },
    { "ram-base-in-mmio", "-M virt-hotmem,ram-base=0x8000000 -m 1G",
      NULL, "ram-base=0x8000000: overlaps MMIO region" },
    { "device-memory-base-unaligned",
      "-M virt-hotmem,device-memory-base=0x140100000 -m 4G,slots=1,maxmem=8G",
      NULL, "device-memory-base=0x140100000: not aligned to 1 GiB" },
    { "device-memory-over-ram",
      "-M virt-hotmem,ram-base=1G,device-memory-base=1G "
      "-m 2G,slots=1,maxmem=4G",
      NULL, "overlaps device memory [0x40000000, 0xffffffff] from "
      "device-memory-base=0x40000000" },
    { "device-memory-base-garbage",
      "-M virt-hotmem,device-memory-base=0x -m 1G", NULL,
      "device-memory-base=0x: expected 'auto' or an address" },
    { "memory-layout-unknown", "-M virt-hotmem,memory-layout=compact -m 1G",
      NULL, "memory-layout=compact: expected 'contiguous' or 'arm-den0001'" },
    { "reserved-regions-missing-file",
      "-M virt-hotmem,reserved-regions=/nonexistent/reserved -m 1G", NULL,
      "reserved-regions=/nonexistent/reserved: " },
    { "reserved-regions-garbage", "-M virt-hotmem,reserved-regions=%s -m 1G",
      "0x1000 0x1fff msi\ngarbage\n", ":2: " },
    { "reserved-regions-end-below-start",
      "-M virt-hotmem,reserved-regions=%s -m 1G", "0x2000 0x1000 msi\n",
      ":1: " },
    { "ram-base-in-reserved",
      "-M virt-hotmem,reserved-regions=%s,ram-base=0x40000000 -m 1G",
      "0x40000000 0x7fffffff reserved\n",
      "ram-base=0x40000000: overlaps reserved region [0x40000000, "
      "0x7fffffff]" },
    { "beyond-pa-limit", "-cpu cortex-a57 -M virt-hotmem,ram-base=16T -m 1G",
      NULL, "ram-base" },
    { "slots-beyond-acpi", "-M virt-hotmem -m 1G,slots=300,maxmem=400G",
      NULL, "unsupported number of memory slots: 300" },
    { "maxmem-below-mem", "-M virt-hotmem -m 2G,maxmem=1G", NULL, "maxmem" },
    { "den0001-does-not-fit",
      "-cpu cortex-a15 -M virt-hotmem,memory-layout=arm-den0001 "
      "-m 4G,slots=2,maxmem=600G", NULL,
      "memory-layout=arm-den0001: 598 GiB of device memory" },
};

static void test_bad_input(gconstpointer opaque)
{
    const BadCase *c = opaque;
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *file = NULL;
    g_autofree char *args = NULL;
    g_autofree char *cmd = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) gerr = NULL;
    g_auto(GStrv) argv = NULL;
    g_auto(GStrv) lines = NULL;
    int status;

    g_assert_nonnull(qemu);
    if (c->reserved_text) {
        file = write_temp(c->reserved_text);
        args = g_strdup_printf(c->args, file);
    } else {
        args = g_strdup(c->args);
    }
    /* A QEMU that wrongly accepts the options would run forever. */
    cmd = g_strdup_printf("timeout 60 %s -nodefaults -display none "
                          "-accel qtest %s", qemu, args);
    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, &gerr));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                               NULL, &out, &err, &status, &gerr));
    if (file) {
        unlink(file);
    }

    /* Exit status 1, one line on stderr, naming the option. */
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_strchomp(err);
    lines = g_strsplit(err, "\n", -1);
    if (g_strv_length(lines) != 1 || !strstr(lines[0], c->expect)) {
        g_test_message("stderr was: %s", err);
    }
    g_assert_cmpuint(g_strv_length(lines), ==, 1);
    g_assert_nonnull(strstr(lines[0], c->expect));
}

int main(int argc, char **argv)
{
    size_t i;

    g_test_init(&argc, &argv, NULL);
    for (i = 0; i < G_N_ELEMENTS(layout_cases); i++) {
        g_autofree char *path = g_strdup_printf("/virt-hotmem/layout/%s",
                                                layout_cases[i].name);
        qtest_add_data_func(path, &layout_cases[i], test_layout);
    }
    qtest_add_func("/virt-hotmem/layout/other-machine", test_other_machine);
    for (i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autofree char *path = g_strdup_printf("/virt-hotmem/bad-input/%s",
                                                bad_cases[i].name);
        qtest_add_data_func(path, &bad_cases[i], test_bad_input);
    }
    return g_test_run();
}
