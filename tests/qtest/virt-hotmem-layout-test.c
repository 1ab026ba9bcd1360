/*
 * qtest: virt-hotmem's memory map as QEMU reports and maps it
 *
 * For each placement policy, start the machine and check that the RAM
 * banks, device memory and high IO regions are at the literal addresses
 * worked out below from the rules in docs/system/arm/virt-hotmem.rst (not
 * by the planner: this test does not link it), both in query-memory-layout
 * and in the system address space (info mtree).  For every layout, with
 * and without acpi=on (which adds the boot tables), check that the
 * regions come in the order the schema promises.  Then check every kind
 * of bad option: QEMU exits with status 1 and one line naming the option.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "virt-hotmem-base.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "qobject/qstring.h"
#include "virt-hotmem-image.h"

#define GiB (UINT64_C(1) << 30)
#define MiB (UINT64_C(1) << 20)

#define TiB (UINT64_C(1) << 40)

/* Upstream virt's high IO regions, each aligned to its size, from 256 GiB */
#define REDIST2_SIZE (64 * MiB)
#define ECAM_HIGH_SIZE (256 * MiB)
#define MMIO_HIGH_SIZE (512 * GiB)

typedef struct Placed {
    const char *kind;           /* as query-memory-layout names it */
    const char *name;           /* checked when set */
    uint64_t base, size;
} Placed;

#define MAX_PLACED 8

typedef struct LayoutCase {
    const char *name;
    const char *machine_opts;   /* appended to -M virt-hotmem */
    const char *mem;            /* -m */
    const char *reserved_text;  /* contents of a reserved-regions file */
    /* every ram, device-memory and high-mmio region, in address order */
    Placed expect[MAX_PLACED];
    uint64_t ipa_bits;
} LayoutCase;

/* The high IO regions: GIC and ECAM always at 256 GiB here */
#define REDIST2 { "high-mmio", "gic-redist2", 256 * GiB, REDIST2_SIZE }
#define ECAM_HIGH { "high-mmio", "pcie-ecam-high", \
                    256 * GiB + ECAM_HIGH_SIZE, ECAM_HIGH_SIZE }
#define MMIO_HIGH_AT(base) { "high-mmio", "pcie-mmio-high", base, \
                             MMIO_HIGH_SIZE }

/*
 * Device memory is maxmem - mem + slots * 1 GiB (upstream virt's size),
 * at the first GiB boundary after RAM unless device-memory-base says.
 */
static const LayoutCase layout_cases[] = {
    {
        /* RAM at upstream's 1 GiB; mmio-high at 512 GiB, ends at 1 TiB */
        .name = "contiguous-legacy", .machine_opts = "", .mem = "1G",
        .expect = { { "ram", NULL, GiB, GiB }, REDIST2, ECAM_HIGH,
                    MMIO_HIGH_AT(512 * GiB) },
        .ipa_bits = 40,
    }, {
        /* The seed thread's example: 100 GiB + 4 slots at 21 GiB */
        .name = "contiguous-20G-maxmem-120G", .machine_opts = "",
        .mem = "20G,slots=4,maxmem=120G",
        .expect = { { "ram", NULL, GiB, 20 * GiB },
                    { "device-memory", NULL, 21 * GiB, 104 * GiB },
                    REDIST2, ECAM_HIGH, MMIO_HIGH_AT(512 * GiB) },
        .ipa_bits = 40,
    }, {
        /*
         * RAM and device memory (2 GiB + 2 slots) from 512 GiB: the
         * 512 GiB aligned mmio-high skips that GiB range to 1 TiB.
         */
        .name = "ram-base-512G", .machine_opts = ",ram-base=0x8000000000",
        .mem = "1G,slots=2,maxmem=3G",
        .expect = { REDIST2, ECAM_HIGH,
                    { "ram", NULL, 512 * GiB, GiB },
                    { "device-memory", NULL, 513 * GiB, 4 * GiB },
                    MMIO_HIGH_AT(TiB) },
        .ipa_bits = 41,
    }, {
        /* 62 GiB + 4 slots at 2 TiB, above everything else */
        .name = "device-memory-2T", .machine_opts = ",device-memory-base=2T",
        .mem = "2G,slots=4,maxmem=64G",
        .expect = { { "ram", NULL, GiB, 2 * GiB }, REDIST2, ECAM_HIGH,
                    MMIO_HIGH_AT(512 * GiB),
                    { "device-memory", NULL, 2 * TiB, 66 * GiB } },
        .ipa_bits = 42,
    }, {
        /*
         * DEN0001 windows: 2 GiB at [2 GiB, 4 GiB), 4 GiB from 34 GiB;
         * 94 GiB + 2 slots = 96 GiB does not fit the rest of the 34..64 GiB
         * window, so it opens the 544 GiB window; mmio-high at 512 GiB
         * would overlap it and goes to 1 TiB.
         */
        .name = "arm-den0001", .machine_opts = ",memory-layout=arm-den0001",
        .mem = "6G,slots=2,maxmem=100G",
        .expect = { { "ram", NULL, 2 * GiB, 2 * GiB },
                    { "ram", NULL, 34 * GiB, 4 * GiB },
                    REDIST2, ECAM_HIGH,
                    { "device-memory", NULL, 544 * GiB, 96 * GiB },
                    MMIO_HIGH_AT(TiB) },
        .ipa_bits = 41,
    }, {
        /* A host MSI window over virt's GIC changes nothing */
        .name = "reserved-msi-window", .mem = "1G",
        .reserved_text = "0x0000000008000000 0x00000000080fffff msi\n",
        .expect = { { "ram", NULL, GiB, GiB }, REDIST2, ECAM_HIGH,
                    MMIO_HIGH_AT(512 * GiB) },
        .ipa_bits = 40,
    }, {
        /* Reserved 1 GiB..2 GiB: RAM at 2 GiB, device memory after it */
        .name = "reserved-1G-2G", .mem = "1G,slots=1,maxmem=2G",
        .reserved_text = "0x0000000040000000 0x000000007fffffff reserved\n"
                         "0x0000000008000000 0x00000000080fffff msi\n",
        .expect = { { "ram", NULL, 2 * GiB, GiB },
                    { "device-memory", NULL, 3 * GiB, 2 * GiB },
                    REDIST2, ECAM_HIGH, MMIO_HIGH_AT(512 * GiB) },
        .ipa_bits = 40,
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
    size_t n_expect = 0, n_banks = 0, i = 0;
    QTestState *qts;
    QDict *rsp, *layout;
    QListEntry *e;

    while (n_expect < MAX_PLACED && c->expect[n_expect].kind) {
        n_banks += g_str_equal(c->expect[n_expect].kind, "ram");
        n_expect++;
    }
    if (c->reserved_text) {
        reserved_file = write_temp(c->reserved_text);
        reserved_opt = g_strdup_printf(",reserved-regions=%s", reserved_file);
    }

    qts = qtest_initf("-nic none -cpu max -M virt-hotmem%s%s -m %s",
                      c->machine_opts ? c->machine_opts : "",
                      reserved_opt ? reserved_opt : "", c->mem);
    rsp = qtest_qmp(qts, "{ 'execute': 'query-memory-layout' }");
    layout = qdict_get_qdict(rsp, "return");
    g_assert_nonnull(layout);

    /* The placed regions, in order; the board's fixed MMIO is not ours. */
    QLIST_FOREACH_ENTRY(qdict_get_qlist(layout, "regions"), e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));
        const char *kind = qdict_get_str(r, "kind");

        if (g_str_equal(kind, "mmio") || g_str_equal(kind, "reserved")) {
            continue;
        }
        g_test_message("%s %s 0x%" PRIx64 " 0x%" PRIx64, kind,
                       qdict_get_str(r, "name"), get_u64(r, "base"),
                       get_u64(r, "size"));
        g_assert_cmpuint(i, <, n_expect);
        g_assert_cmpstr(kind, ==, c->expect[i].kind);
        if (c->expect[i].name) {
            g_assert_cmpstr(qdict_get_str(r, "name"), ==, c->expect[i].name);
        }
        g_assert_cmphex(get_u64(r, "base"), ==, c->expect[i].base);
        g_assert_cmphex(get_u64(r, "size"), ==, c->expect[i].size);
        i++;
    }
    g_assert_cmpuint(i, ==, n_expect);
    g_assert_cmpuint(get_u64(layout, "ipa-bits"), ==, c->ipa_bits);

    /* And memory is mapped where the map says. */
    mtree = qtest_hmp(qts, "info mtree");
    for (i = 0; i < n_expect; i++) {
        const Placed *x = &c->expect[i];

        if (g_str_equal(x->kind, "ram")) {
            g_assert_true(mtree_has(mtree, x->base, x->size,
                                    n_banks == 1 ? "mach-virt.ram" :
                                    "alias ram-bank"));
        } else if (g_str_equal(x->kind, "device-memory")) {
            g_assert_true(mtree_has(mtree, x->base, x->size,
                                    "i/o): device-memory"));
        }
    }

    qobject_unref(rsp);
    qtest_quit(qts);
    if (reserved_file) {
        unlink(reserved_file);
    }
}

/* -M virt is upstream's newest virt-X.Y: the base's own */
#if QEMU_BASE_AT_LEAST(10, 2)
#define VIRT_NEWEST "virt-10.2"
#else
#define VIRT_NEWEST "virt-10.0"
#endif

static void test_other_machine(void)
{
    QTestState *qts = qtest_init("-nic none -M virt");
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-memory-layout' }");
    g_autofree char *hmp = NULL;

    g_assert_true(qdict_haskey(rsp, "error"));
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"),
                            "machine '" VIRT_NEWEST "' does not plan"));
    qobject_unref(rsp);
    hmp = qtest_hmp(qts, "info memory-layout");
    g_assert_nonnull(strstr(hmp, "machine '" VIRT_NEWEST "' does not plan"));
    qtest_quit(qts);
}

/* --- the order of query-memory-layout ---------------------------------- */

typedef struct OrderCase {
    const char *name;
    const char *machine_opts;   /* appended to -M virt-hotmem */
    const char *mem;            /* -m */
    const char *reserved_text;  /* contents of a reserved-regions file */
    /*
     * acpi=on puts the NVDIMM _DSM page in virt's secure-RAM window,
     * not in RAM: nvdimm=on and no RAM below 4 GiB.
     */
    bool dsm_in_secure_mem;
} OrderCase;

/* Every layout the machine offers: RAM, banks and device memory move */
static const OrderCase order_cases[] = {
    { "default", "", "1G" },
    { "ram-base-512G", ",ram-base=0x8000000000", "1G,slots=2,maxmem=3G" },
    { "ram-base-512G-nvdimm", ",ram-base=0x8000000000,nvdimm=on",
      "1G,slots=2,maxmem=4G", .dsm_in_secure_mem = true },
    { "arm-den0001", ",memory-layout=arm-den0001", "4G,slots=2,maxmem=8G" },
    { "reserved-1G-2G", "", "1G,slots=1,maxmem=2G",
      "0x0000000040000000 0x000000007fffffff reserved\n"
      "0x0000000008000000 0x00000000080fffff msi\n" },
    { "device-memory-2T", ",device-memory-base=2T", "2G,slots=4,maxmem=64G" },
};

/* Is [base, base + size) inside a region of @kind (and @name if set)? */
static bool inside_region(QList *regions, const char *kind, const char *name,
                          uint64_t base, uint64_t size)
{
    QListEntry *e;

    QLIST_FOREACH_ENTRY(regions, e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));
        uint64_t rb = get_u64(r, "base"), rs = get_u64(r, "size");

        if (g_str_equal(qdict_get_str(r, "kind"), kind) &&
            (!name || g_str_equal(qdict_get_str(r, "name"), name)) &&
            rb <= base && base - rb <= rs && size <= rs - (base - rb)) {
            return true;
        }
    }
    return false;
}

/*
 * The schema's promise: regions sorted by base, of two at one base the
 * larger first; a boot-tables region inside RAM, or the _DSM page's
 * inside secure-mem.  With acpi=on (-kernel is then a header-only
 * Image) and without.
 */
static void test_order(const OrderCase *c, bool acpi)
{
    g_autofree char *reserved_file = NULL;
    g_autofree char *reserved_opt = NULL;
    g_autofree char *image = NULL;
    g_autofree char *kernel_opt = NULL;
    uint64_t prev_base = 0, prev_size = UINT64_MAX;
    size_t n = 0, n_boot = 0, n_boot_secure = 0;
    QTestState *qts;
    QDict *rsp, *layout;
    QList *regions;
    QListEntry *e;

    if (c->reserved_text) {
        reserved_file = write_temp(c->reserved_text);
        reserved_opt = g_strdup_printf(",reserved-regions=%s", reserved_file);
    }
    if (acpi) {
        image = vhm_write_arm64_image(2 * MiB);
        kernel_opt = g_strdup_printf(",acpi=on -kernel %s", image);
    }
    qts = qtest_initf("-nic none -cpu max -M virt-hotmem%s%s%s -m %s",
                      c->machine_opts, reserved_opt ? reserved_opt : "",
                      kernel_opt ? kernel_opt : "", c->mem);
    rsp = qtest_qmp(qts, "{ 'execute': 'query-memory-layout' }");
    layout = qdict_get_qdict(rsp, "return");
    g_assert_nonnull(layout);
    regions = qdict_get_qlist(layout, "regions");

    QLIST_FOREACH_ENTRY(regions, e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));
        const char *kind = qdict_get_str(r, "kind");
        uint64_t base = get_u64(r, "base"), size = get_u64(r, "size");

        g_test_message("%s %s 0x%" PRIx64 " 0x%" PRIx64, kind,
                       qdict_get_str(r, "name"), base, size);
        g_assert_cmphex(base, >=, prev_base);
        if (base == prev_base) {
            g_assert_cmphex(size, <=, prev_size);
        }
        if (g_str_equal(kind, "boot-tables")) {
            n_boot++;
            if (inside_region(regions, "mmio", "secure-mem", base, size)) {
                n_boot_secure++;
            } else {
                g_assert_true(inside_region(regions, "ram", NULL, base,
                                            size));
            }
        }
        prev_base = base;
        prev_size = size;
        n++;
    }
    g_assert_cmpuint(n, >, 0);
    /* The EFI tables and the ACPI tables at least, with acpi=on only */
    if (acpi) {
        g_assert_cmpuint(n_boot, >=, 2);
    } else {
        g_assert_cmpuint(n_boot, ==, 0);
    }
    g_assert_cmpuint(n_boot_secure, ==, acpi && c->dsm_in_secure_mem);

    qobject_unref(rsp);
    qtest_quit(qts);
    if (reserved_file) {
        unlink(reserved_file);
    }
    if (image) {
        unlink(image);
    }
}

static void test_order_dt(gconstpointer opaque)
{
    test_order(opaque, false);
}

static void test_order_acpi(gconstpointer opaque)
{
    test_order(opaque, true);
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
      NULL, "Parameter 'memory-layout' does not accept value 'compact'" },
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

/* Run QEMU with @args, which it must refuse (exit 1): its stderr */
static char *qemu_refused(const char *args)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *cmd = NULL;
    g_autofree char *out = NULL;
    g_autoptr(GError) gerr = NULL;
    g_auto(GStrv) argv = NULL;
    char *err = NULL;
    int status;

    g_assert_nonnull(qemu);
    /*
     * A QEMU that wrongly accepts the options would run forever.  TCG, not
     * qtest: since QEMU 10.1 virt takes the 32-bit CPUs (cortex-a15, the
     * 40-bit PA case) only under TCG.
     */
    cmd = g_strdup_printf("timeout 60 %s -nodefaults -display none "
                          "-accel tcg %s", qemu, args);
    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, &gerr));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                               NULL, &out, &err, &status, &gerr));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1) {
        g_test_message("stderr was: %s", err);
    }
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    return err;
}

static void test_bad_input(gconstpointer opaque)
{
    const BadCase *c = opaque;
    g_autofree char *file = NULL;
    g_autofree char *args = NULL;
    g_autofree char *err = NULL;
    g_auto(GStrv) lines = NULL;

    if (c->reserved_text) {
        file = write_temp(c->reserved_text);
        args = g_strdup_printf(c->args, file);
    } else {
        args = g_strdup(c->args);
    }
    err = qemu_refused(args);
    if (file) {
        unlink(file);
    }

    /* Exit status 1, one line on stderr, naming the option. */
    g_strchomp(err);
    lines = g_strsplit(err, "\n", -1);
    if (g_strv_length(lines) != 1 || !strstr(lines[0], c->expect)) {
        g_test_message("stderr was: %s", err);
    }
    g_assert_cmpuint(g_strv_length(lines), ==, 1);
    g_assert_nonnull(strstr(lines[0], c->expect));
}

/*
 * When QEMU boots the -kernel itself, the first of several RAM banks must
 * hold the kernel and the device tree; when firmware boots it, that check
 * does not apply, whichever way the firmware is given: -bios, -drive
 * if=pflash, or a block device for -M pflash0=.  Under arm-den0001,
 * ram-base=0xffc00000 leaves a first bank of 4 MiB, at the end of the
 * first DRAM window; an 8 MiB file given as -kernel does not fit.
 */
static const char *const boot_bank_firmware[] = {
    "-bios %s",
    "-drive if=pflash,format=raw,unit=0,readonly=on,file=%s",
    "-blockdev driver=file,filename=%s,node-name=fw,read-only=on "
    "-M pflash0=fw",
};

#define BOOT_BANK_ARGS "-nic none -cpu max " \
    "-M virt-hotmem,memory-layout=arm-den0001,ram-base=0xffc00000 -m 4G"

static void test_boot_bank(void)
{
    g_autofree char *dir = g_dir_make_tmp("vhm-boot-bank-XXXXXX", NULL);
    g_autofree char *kernel = g_build_filename(dir, "Image", NULL);
    g_autofree char *flash = g_build_filename(dir, "flash0", NULL);
    g_autofree char *zeros = g_malloc0(64 * MiB);
    g_autofree char *args = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) gerr = NULL;
    size_t i;

    g_assert_nonnull(dir);
    g_assert_true(g_file_set_contents(kernel, zeros, 8 * MiB, &gerr));
    g_assert_true(g_file_set_contents(flash, zeros, 64 * MiB, &gerr));

    /* No firmware: refused, naming the bank */
    args = g_strdup_printf(BOOT_BANK_ARGS " -kernel %s", kernel);
    err = qemu_refused(args);
    g_assert_nonnull(strstr(err, "the first RAM bank (0xffc00000, 4096 KiB) "
                            "is too small to boot from"));

    for (i = 0; i < G_N_ELEMENTS(boot_bank_firmware); i++) {
        g_autofree char *fw = g_strdup_printf(boot_bank_firmware[i], flash);
        QTestState *qts;

        g_test_message("firmware: %s", fw);
        qts = qtest_initf(BOOT_BANK_ARGS " -kernel %s %s", kernel, fw);
        qtest_quit(qts);
    }
    unlink(kernel);
    unlink(flash);
    rmdir(dir);
}

/*
 * A gzip-compressed arm64 Image is sized as boot.c will load it: by the
 * image_size of the header it gunzips (BSS included), not by the size of
 * the compressed file or of the data it holds.  Here a 4 KiB Image whose
 * header claims 8 MiB: the message must name 8192 KiB.
 */
static void test_boot_bank_gzip_image(void)
{
    g_autofree char *image = vhm_write_arm64_image(8 * MiB);
    g_autofree char *gzip = g_strdup_printf("gzip -n %s", image);
    g_autofree char *gz = g_strdup_printf("%s.gz", image);
    g_autofree char *args = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) gerr = NULL;
    int status;

    g_assert_true(g_spawn_command_line_sync(gzip, NULL, NULL, &status,
                                            &gerr));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    args = g_strdup_printf(BOOT_BANK_ARGS " -kernel %s", gz);
    err = qemu_refused(args);
    unlink(gz);
    if (!strstr(err, "kernel (8192 KiB)")) {
        g_test_message("stderr was: %s", err);
    }
    g_assert_nonnull(strstr(err, "kernel (8192 KiB)"));
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
    for (i = 0; i < G_N_ELEMENTS(order_cases); i++) {
        g_autofree char *dt = g_strdup_printf("/virt-hotmem/order/%s",
                                              order_cases[i].name);
        g_autofree char *acpi = g_strdup_printf("/virt-hotmem/order/%s-acpi",
                                                order_cases[i].name);

        qtest_add_data_func(dt, &order_cases[i], test_order_dt);
        qtest_add_data_func(acpi, &order_cases[i], test_order_acpi);
    }
    qtest_add_func("/virt-hotmem/layout/other-machine", test_other_machine);
    qtest_add_func("/virt-hotmem/layout/boot-bank-with-firmware",
                   test_boot_bank);
    qtest_add_func("/virt-hotmem/layout/boot-bank-gzip-image",
                   test_boot_bank_gzip_image);
    for (i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autofree char *path = g_strdup_printf("/virt-hotmem/bad-input/%s",
                                                bad_cases[i].name);
        qtest_add_data_func(path, &bad_cases[i], test_bad_input);
    }
    return g_test_run();
}
