/*
 * Unit tests of the virt-hotmem memory-map planner
 *
 * Built from hw/arm/virt-hotmem-layout.c and libqemuutil alone.  Every
 * layout a test plans also goes through sweep_check(), the rules of the
 * map as docs/system/arm/virt-hotmem.rst states them, written here
 * without the planner's code.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/arm/virt-hotmem-layout.h"

/*
 * Test data: upstream virt's low memory map (base_memmap[] of
 * hw/arm/virt.c in QEMU 10.0), less the RAM entry, with the 32 virtio-mmio
 * transports as one region.  The CPU peripherals block contains the GIC
 * regions, as on the real board.
 */
static const VirtHotmemMmioRegion virt_mmio[] = {
    { "flash", 0x00000000, 0x08000000 },
    { "cpu-peripherals", 0x08000000, 0x00020000 },
    { "gic-dist", 0x08000000, 0x00010000 },
    { "gic-cpu", 0x08010000, 0x00010000 },
    { "gic-v2m", 0x08020000, 0x00001000 },
    { "gic-hyp", 0x08030000, 0x00010000 },
    { "gic-vcpu", 0x08040000, 0x00010000 },
    { "gic-its", 0x08080000, 0x00020000 },
    { "gic-redist", 0x080a0000, 0x00f60000 },
    { "uart", 0x09000000, 0x00001000 },
    { "rtc", 0x09010000, 0x00001000 },
    { "fw-cfg", 0x09020000, 0x00000018 },
    { "gpio", 0x09030000, 0x00001000 },
    { "uart1", 0x09040000, 0x00001000 },
    { "smmu", 0x09050000, 0x00020000 },
    { "pcdimm-acpi", 0x09070000, 24 },
    { "acpi-ged", 0x09080000, 4 },
    { "nvdimm-acpi", 0x09090000, 4 },
    { "pvtime", 0x090a0000, 0x00010000 },
    { "secure-gpio", 0x090b0000, 0x00001000 },
    { "virtio-mmio", 0x0a000000, 32 * 0x200 },
    { "platform-bus", 0x0c000000, 0x02000000 },
    { "secure-mem", 0x0e000000, 0x01000000 },
    { "pcie-mmio", 0x10000000, 0x2eff0000 },
    { "pcie-pio", 0x3eff0000, 0x00010000 },
    { "pcie-ecam", 0x3f000000, 0x01000000 },
};

/* upstream virt's extended_memmap[], in its order. */
static const VirtHotmemHighRegion virt_high[] = {
    { "gic-redist2", 64 * MiB, true },
    { "pcie-ecam-high", 256 * MiB, true },
    { "pcie-mmio-high", 512 * GiB, true },
};

enum { REDIST2, ECAM_HIGH, MMIO_HIGH };

/* A typical host MSI window: it covers virt's GIC. */
static VirtHotmemReservedRegion msi_window[] = {
    { 0x08000000, 0x00100000, (char *)"msi" },
};

static VirtHotmemRequest make_req(uint64_t ram, uint64_t maxram,
                                  uint64_t slots, unsigned int pa_bits)
{
    VirtHotmemRequest req = {
        .ram_size = ram,
        .maxram_size = maxram,
        .ram_slots = slots,
        .ram_base_auto = true,
        .device_memory_base_auto = true,
        .policy = VIRT_HOTMEM_MEMORY_LAYOUT_CONTIGUOUS,
        .mmio = virt_mmio,
        .n_mmio = G_N_ELEMENTS(virt_mmio),
        .high = virt_high,
        .n_high = G_N_ELEMENTS(virt_high),
        .pa_bits = pa_bits,
        /* virt's constants, as hw/arm/virt.c has them */
        .legacy_ram_base = GiB,
        .high_io_floor = 256 * GiB,
        .slot_slack = GiB,
        .max_ram_slots = 256,
    };

    return req;
}

static void assert_contains(Error *err, const char *needle)
{
    const char *msg = err ? error_get_pretty(err) : NULL;

    if (!msg || !strstr(msg, needle)) {
        g_error("message '%s' lacks '%s'", msg ? msg : "(null)", needle);
    }
    g_assert_null(strchr(msg, '\n'));
}

/*
 * The tests' own oracle, sharing nothing with the planner: the rules of
 * the map as docs/system/arm/virt-hotmem.rst states
 * them, checked on the fields the board reads.
 */
static const uint64_t den0001_windows[][2] = {   /* base, size */
    { 2 * GiB, 2 * GiB }, { 34 * GiB, 30 * GiB }, { 544 * GiB, 480 * GiB },
    { 8704 * GiB, 7680 * GiB }, { 139264 * GiB, 122880 * GiB },
};

typedef struct Used {
    uint64_t first, last;
} Used;

static void sweep_add(Used *used, size_t *n, uint64_t base, uint64_t size,
                      uint64_t pa_last)
{
    size_t i;

    g_assert_cmphex(size, >, 0);
    g_assert_cmphex(base + size - 1, >=, base);
    g_assert_cmphex(base + size - 1, <=, pa_last);
    for (i = 0; i < *n; i++) {
        g_assert_true(base + size - 1 < used[i].first || base > used[i].last);
    }
    used[(*n)++] = (Used) { base, base + size - 1 };
}

static void sweep_check(const VirtHotmemRequest *req,
                        const VirtHotmemLayout *l)
{
    const uint64_t pa_last = req->pa_bits == 64 ? UINT64_MAX :
                             (UINT64_C(1) << req->pa_bits) - 1;
    Used used[128];
    size_t n = 0, i, w;
    uint64_t ram = 0;

    /* Fixed MMIO and reserved regions are obstacles, not checked. */
    for (i = 0; i < req->n_mmio; i++) {
        used[n++] = (Used) { req->mmio[i].base,
                             req->mmio[i].base + req->mmio[i].size - 1 };
    }
    for (i = 0; i < req->n_reserved; i++) {
        used[n++] = (Used) { req->reserved[i].base,
                             req->reserved[i].base + req->reserved[i].size -
                             1 };
    }
    g_assert_cmpuint(l->n_ram_banks, >=, 1);
    if (req->policy == VIRT_HOTMEM_MEMORY_LAYOUT_CONTIGUOUS) {
        g_assert_cmpuint(l->n_ram_banks, ==, 1);
    }
    for (i = 0; i < l->n_ram_banks; i++) {
        const VirtHotmemRamBank *b = &l->ram_banks[i];

        g_assert_cmphex(b->base % (2 * MiB), ==, 0);
        if (i) {
            g_assert_cmphex(b->base, >, l->ram_banks[i - 1].base);
        }
        if (req->policy == VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001) {
            for (w = 0; w < G_N_ELEMENTS(den0001_windows); w++) {
                if (b->base >= den0001_windows[w][0] &&
                    b->base + b->size <= den0001_windows[w][0] +
                                         den0001_windows[w][1]) {
                    break;
                }
            }
            g_assert_cmpuint(w, <, G_N_ELEMENTS(den0001_windows));
        }
        sweep_add(used, &n, b->base, b->size, pa_last);
        ram += b->size;
    }
    g_assert_cmphex(ram, ==, req->ram_size);
    if (!req->ram_base_auto) {
        g_assert_cmphex(l->ram_banks[0].base, ==, req->ram_base);
    }
    if (!req->device_memory_base_auto && l->device_memory_size) {
        g_assert_cmphex(l->device_memory_base, ==, req->device_memory_base);
    }
    g_assert_cmphex(l->device_memory_size, ==,
                    req->maxram_size - req->ram_size +
                    req->ram_slots * req->slot_slack);
    if (l->device_memory_size) {
        g_assert_cmphex(l->device_memory_base % GiB, ==, 0);
        sweep_add(used, &n, l->device_memory_base, l->device_memory_size,
                  pa_last);
    }
    g_assert_cmpuint(l->n_high, ==, req->n_high);
    for (i = 0; i < l->n_high; i++) {
        if (l->high[i].enabled) {
            g_assert_cmphex(l->high[i].base, >=, req->high_io_floor);
            g_assert_cmpstr(l->high[i].name, ==, req->high[i].name);
            g_assert_cmphex(l->high[i].base % req->high[i].size, ==, 0);
            sweep_add(used, &n, l->high[i].base, req->high[i].size, pa_last);
        }
    }
}

static VirtHotmemLayout *plan_ok(const VirtHotmemRequest *req)
{
    g_autoptr(Error) err = NULL;
    VirtHotmemLayout *layout = virt_hotmem_layout_plan(req, &err);

    if (!layout) {
        g_error("planning failed: %s", error_get_pretty(err));
    }
    sweep_check(req, layout);
    return layout;
}

static void plan_fails_as(const VirtHotmemRequest *req,
                          VirtHotmemPlanFailure expect, const char *needle)
{
    g_autoptr(Error) err = NULL;
    VirtHotmemPlanFailure failure;
    VirtHotmemLayout *layout = virt_hotmem_layout_try_plan(req, &failure,
                                                           &err);

    if (layout) {
        virt_hotmem_layout_free(layout);
        g_error("planning succeeded, expected '%s'", needle);
    }
    assert_contains(err, needle);
    g_assert_cmpint(failure, ==, expect);
}

/* Refused for an option, not for the address limit */
static void plan_fails(const VirtHotmemRequest *req, const char *needle)
{
    plan_fails_as(req, VIRT_HOTMEM_PLAN_REFUSED, needle);
}

/* The board's part of the request breaks its contract */
static void plan_fails_bad_request(const VirtHotmemRequest *req,
                                   const char *needle)
{
    plan_fails_as(req, VIRT_HOTMEM_PLAN_BAD_REQUEST, needle);
}

/* Memory does not fit below the request's address limit */
static void plan_fails_beyond_limit(const VirtHotmemRequest *req,
                                    const char *needle)
{
    plan_fails_as(req, VIRT_HOTMEM_PLAN_BEYOND_LIMIT, needle);
}

static void assert_bank(const VirtHotmemLayout *l, size_t i, uint64_t base,
                        uint64_t size)
{
    g_assert_cmpuint(i, <, l->n_ram_banks);
    g_assert_cmphex(l->ram_banks[i].base, ==, base);
    g_assert_cmphex(l->ram_banks[i].size, ==, size);
}

static void assert_high(const VirtHotmemLayout *l, size_t i, bool enabled,
                        uint64_t base)
{
    g_assert_cmpuint(i, <, l->n_high);
    g_assert_cmpint(l->high[i].enabled, ==, enabled);
    g_assert_cmphex(l->high[i].base, ==, enabled ? base : 0);
}

/* Region @name of @l's region list (without its name); size 0 if none. */
static VirtHotmemRegion find_region(const VirtHotmemLayout *l,
                                    const char *name)
{
    g_autoptr(GArray) regions = virt_hotmem_layout_regions(l);
    VirtHotmemRegion found = { 0 };
    size_t i;

    for (i = 0; i < regions->len; i++) {
        VirtHotmemRegion *r = &g_array_index(regions, VirtHotmemRegion, i);

        if (strcmp(r->name, name) == 0) {
            found = *r;
            found.name = NULL;
        }
    }
    return found;
}

/* The kind of region @name in @l's region list, or -1. */
static int region_kind(const VirtHotmemLayout *l, const char *name)
{
    VirtHotmemRegion r = find_region(l, name);

    return r.size ? (int)r.kind : -1;
}

static size_t count_regions(const VirtHotmemLayout *l)
{
    g_autoptr(GArray) regions = virt_hotmem_layout_regions(l);

    return regions->len;
}

/* The IPA size for @highest, worked out bit by bit. */
static unsigned int bits_for(uint64_t highest)
{
    unsigned int bits = 32;

    while (bits < 64 && highest >> bits) {
        bits++;
    }
    return bits;
}

/*
 * Upstream virt's legacy map for -m @ram,maxmem=@maxram,slots=@slots,
 * re-derived from its documented rules (RAM at 1 GiB; device memory at
 * the next GiB; high IO from max(256 GiB, end of device memory), each
 * aligned to its size, compact: a region that does not fit is skipped).
 */
typedef struct LegacyMap {
    uint64_t dm_base;
    uint64_t dm_size;
    bool high_enabled[3];
    uint64_t high_base[3];
    uint64_t highest_gpa;
} LegacyMap;

static uint64_t round_up(uint64_t v, uint64_t align)
{
    return (v + align - 1) / align * align;
}

static LegacyMap legacy_map(uint64_t ram, uint64_t maxram, uint64_t slots,
                            unsigned int pa_bits)
{
    LegacyMap m = { 0 };
    uint64_t next, limit = UINT64_C(1) << pa_bits;
    size_t i;

    m.dm_base = round_up(GiB + ram, GiB);
    m.dm_size = maxram - ram + slots * GiB;
    next = m.dm_base + round_up(m.dm_size, GiB);
    m.highest_gpa = next - 1;
    next = MAX(next, 256 * GiB);
    for (i = 0; i < 3; i++) {
        uint64_t base = round_up(next, virt_high[i].size);

        if (base + virt_high[i].size > limit) {
            continue;
        }
        m.high_enabled[i] = true;
        m.high_base[i] = base;
        next = base + virt_high[i].size;
        m.highest_gpa = next - 1;
    }
    return m;
}

static void check_legacy(uint64_t ram, uint64_t maxram, uint64_t slots,
                         unsigned int pa_bits)
{
    VirtHotmemRequest req = make_req(ram, maxram, slots, pa_bits);
    g_autoptr(VirtHotmemLayout) l = plan_ok(&req);
    LegacyMap m = legacy_map(ram, maxram, slots, pa_bits);
    bool any_high = false;
    size_t i;

    g_assert_cmpuint(l->n_ram_banks, ==, 1);
    assert_bank(l, 0, GiB, ram);
    g_assert_cmphex(l->device_memory_size, ==, m.dm_size);
    if (m.dm_size) {
        g_assert_cmphex(l->device_memory_base, ==, m.dm_base);
    }
    for (i = 0; i < 3; i++) {
        assert_high(l, i, m.high_enabled[i], m.high_base[i]);
        any_high |= m.high_enabled[i];
    }
    /*
     * Upstream rounds the end of memory up to a GiB for highest_gpa; we
     * report the last byte really used.  Equal once a high IO region is
     * on top; the IPA size is equal in every case.
     */
    if (any_high) {
        g_assert_cmphex(virt_hotmem_layout_highest_gpa(l), ==, m.highest_gpa);
    }
    g_assert_cmpuint(virt_hotmem_layout_ipa_bits(l), ==,
                     bits_for(m.highest_gpa));
}

/* -m 1G: the map everybody knows. */
static void test_legacy_1g(void)
{
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = plan_ok(&req);

    g_assert_cmpuint(l->n_ram_banks, ==, 1);
    assert_bank(l, 0, GiB, GiB);
    g_assert_cmpuint(l->device_memory_size, ==, 0);
    g_assert_cmpuint(l->device_memory_base, ==, 0);
    assert_high(l, REDIST2, true, 256 * GiB);
    assert_high(l, ECAM_HIGH, true, 256 * GiB + 256 * MiB);
    assert_high(l, MMIO_HIGH, true, 512 * GiB);
    g_assert_cmphex(virt_hotmem_layout_highest_gpa(l), ==, TiB - 1);
    g_assert_cmpuint(virt_hotmem_layout_ipa_bits(l), ==, 40);
    g_assert_cmpuint(count_regions(l), ==, G_N_ELEMENTS(virt_mmio) + 1 + 3);
    g_assert_cmpint(region_kind(l, "device-memory"), ==, -1);
    check_legacy(GiB, GiB, 0, 40);
}

static void test_legacy_hotplug(void)
{
    check_legacy(4 * GiB, 8 * GiB, 2, 40);
    check_legacy(2 * GiB, 2 * GiB, 4, 40);
    check_legacy(16 * GiB, 64 * GiB, 32, 44);
}

/* maxmem - ram not a GiB multiple: upstream still ends memory on a GiB. */
static void test_legacy_odd_sizes(void)
{
    check_legacy(1536 * MiB, 3 * GiB, 0, 40);
    check_legacy(1536 * MiB, 1536 * MiB + 512 * MiB, 1, 44);
    check_legacy(2 * MiB, 2 * MiB, 0, 40);
}

/* Memory beyond 256 GiB pushes the high IO regions up. */
static void test_legacy_large(void)
{
    check_legacy(100 * GiB, 300 * GiB, 0, 40);
    check_legacy(300 * GiB, 300 * GiB, 0, 42);
    check_legacy(300 * GiB + 512 * MiB, 300 * GiB + 512 * MiB, 0, 42);
    check_legacy(255 * GiB, 255 * GiB, 0, 40);
}

/* What does not fit is disabled, compactly, as upstream. */
static void test_legacy_compact(void)
{
    check_legacy(GiB, GiB, 0, 39);
    check_legacy(2 * GiB, 2 * GiB, 0, 32);
    check_legacy(600 * GiB, 600 * GiB, 0, 40);
    check_legacy(GiB, GiB, 0, 48);
}

static void test_legacy_pa39(void)
{
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 39);
    g_autoptr(VirtHotmemLayout) l = plan_ok(&req);

    assert_high(l, REDIST2, true, 256 * GiB);
    assert_high(l, ECAM_HIGH, true, 256 * GiB + 256 * MiB);
    assert_high(l, MMIO_HIGH, false, 0);
    g_assert_cmphex(virt_hotmem_layout_highest_gpa(l), ==,
                    256 * GiB + 512 * MiB - 1);
    g_assert_cmpuint(virt_hotmem_layout_ipa_bits(l), ==, 39);
    g_assert_cmpint(region_kind(l, "pcie-mmio-high"), ==, -1);
}

static void test_legacy_pa32(void)
{
    VirtHotmemRequest req = make_req(2 * GiB, 2 * GiB, 0, 32);
    g_autoptr(VirtHotmemLayout) l = plan_ok(&req);

    assert_bank(l, 0, GiB, 2 * GiB);
    assert_high(l, REDIST2, false, 0);
    assert_high(l, ECAM_HIGH, false, 0);
    assert_high(l, MMIO_HIGH, false, 0);
    g_assert_cmphex(virt_hotmem_layout_highest_gpa(l), ==, 3 * GiB - 1);
    g_assert_cmpuint(virt_hotmem_layout_ipa_bits(l), ==, 32);
}

/* The seed thread's example: -m 20G,maxmem=120G. */
static void test_seed_20g_120g(void)
{
    VirtHotmemRequest req = make_req(20 * GiB, 120 * GiB, 8, 40);
    g_autoptr(VirtHotmemLayout) l = plan_ok(&req);
    VirtHotmemRegion dm;

    assert_bank(l, 0, GiB, 20 * GiB);
    g_assert_cmphex(l->device_memory_base, ==, 21 * GiB);
    g_assert_cmphex(l->device_memory_size, ==, 100 * GiB + 8 * GiB);
    dm = find_region(l, "device-memory");
    g_assert_cmpint(dm.kind, ==, VIRT_HOTMEM_REGION_DEVICE_MEMORY);
    g_assert_cmphex(dm.base, ==, 21 * GiB);
    assert_high(l, MMIO_HIGH, true, 512 * GiB);
    g_assert_cmphex(virt_hotmem_layout_highest_gpa(l), ==, TiB - 1);
    check_legacy(20 * GiB, 120 * GiB, 8, 40);
}

/* The seed thread: device memory explicitly at 2 TiB. */
static void test_device_memory_at_2t(void)
{
    VirtHotmemRequest req = make_req(4 * GiB, 68 * GiB, 0, 44);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.device_memory_base_auto = false;
    req.device_memory_base = 2 * TiB;
    l = plan_ok(&req);
    assert_bank(l, 0, GiB, 4 * GiB);
    g_assert_cmphex(l->device_memory_base, ==, 2 * TiB);
    g_assert_cmphex(l->device_memory_size, ==, 64 * GiB);
    assert_high(l, REDIST2, true, 256 * GiB);
    assert_high(l, ECAM_HIGH, true, 256 * GiB + 256 * MiB);
    assert_high(l, MMIO_HIGH, true, 512 * GiB);
    g_assert_cmphex(virt_hotmem_layout_highest_gpa(l), ==,
                    2 * TiB + 64 * GiB - 1);
    g_assert_cmpuint(virt_hotmem_layout_ipa_bits(l), ==, 42);
}

static void test_device_memory_at_2t_beyond_limit(void)
{
    VirtHotmemRequest req = make_req(4 * GiB, 68 * GiB, 0, 40);

    req.device_memory_base_auto = false;
    req.device_memory_base = 2 * TiB;
    plan_fails_beyond_limit(&req, "device-memory-base=0x20000000000: 64 GiB "
                            "of device memory does not end below the 40-bit "
                            "physical address limit");
}

/* The host MSI window over the GIC leaves the layout alone. */
static void test_reserved_msi_window(void)
{
    VirtHotmemRequest plain = make_req(4 * GiB, 8 * GiB, 2, 40);
    VirtHotmemRequest req = plain;
    g_autoptr(VirtHotmemLayout) a = plan_ok(&plain);
    g_autoptr(VirtHotmemLayout) b = NULL;
    VirtHotmemRegion r;
    size_t i;

    req.reserved = msi_window;
    req.n_reserved = G_N_ELEMENTS(msi_window);
    b = plan_ok(&req);
    assert_bank(b, 0, a->ram_banks[0].base, a->ram_banks[0].size);
    g_assert_cmphex(b->device_memory_base, ==, a->device_memory_base);
    g_assert_cmphex(b->device_memory_size, ==, a->device_memory_size);
    for (i = 0; i < 3; i++) {
        assert_high(b, i, a->high[i].enabled, a->high[i].base);
    }
    g_assert_cmphex(virt_hotmem_layout_highest_gpa(b), ==,
                    virt_hotmem_layout_highest_gpa(a));
    /* Listed, overlapping the GIC: allowed for reserved regions. */
    g_assert_cmpuint(count_regions(b), ==, count_regions(a) + 1);
    r = find_region(b, "msi");
    g_assert_cmpint(r.kind, ==, VIRT_HOTMEM_REGION_RESERVED);
    g_assert_cmphex(r.base, ==, 0x08000000);
    g_assert_cmphex(r.size, ==, 0x00100000);
}

/* Reserved 1 GiB..2 GiB: RAM goes to 2 GiB, device memory follows. */
static void test_reserved_forces_ram_to_2g(void)
{
    VirtHotmemReservedRegion res[] = {
        { GiB, GiB, (char *)"direct" },
    };
    VirtHotmemRequest req = make_req(4 * GiB, 8 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.reserved = res;
    req.n_reserved = G_N_ELEMENTS(res);
    l = plan_ok(&req);
    assert_bank(l, 0, 2 * GiB, 4 * GiB);
    g_assert_cmphex(l->device_memory_base, ==, 6 * GiB);
    g_assert_cmphex(l->device_memory_size, ==, 4 * GiB);
    assert_high(l, REDIST2, true, 256 * GiB);
}

/*
 * A reserved page right where device memory would go: RAM moves up so
 * that device memory stays right after it.
 */
static void test_reserved_moves_ram_and_device_memory(void)
{
    VirtHotmemReservedRegion res[] = {
        { 2 * GiB, 4 * KiB, (char *)"msi" },
    };
    VirtHotmemRequest req = make_req(GiB, 2 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.reserved = res;
    req.n_reserved = G_N_ELEMENTS(res);
    l = plan_ok(&req);
    assert_bank(l, 0, 2 * GiB + 2 * MiB, GiB);
    g_assert_cmphex(l->device_memory_base, ==, 4 * GiB);
    g_assert_cmphex(l->device_memory_size, ==, GiB);
}

/* Device memory alone hits the reserved region: RAM slides just enough. */
static void test_reserved_under_device_memory_only(void)
{
    VirtHotmemReservedRegion res[] = {
        { 3 * GiB + 512 * MiB, 4 * KiB, (char *)"msi" },
    };
    VirtHotmemRequest req = make_req(GiB + 512 * MiB, 4 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.reserved = res;
    req.n_reserved = G_N_ELEMENTS(res);
    l = plan_ok(&req);
    /*
     * RAM at 1 GiB would put device memory at 3 GiB, on the page; the
     * lowest RAM base putting it at 4 GiB is 4G - 1G + 1 - 1.5G, rounded
     * up to 2 MiB.
     */
    assert_bank(l, 0, 1536 * MiB + 2 * MiB, GiB + 512 * MiB);
    g_assert_cmphex(l->device_memory_base, ==, 4 * GiB);
    g_assert_cmphex(l->device_memory_size, ==, 2 * GiB + 512 * MiB);
}

/* Reserved regions also push the high IO regions. */
static void test_reserved_moves_high_io(void)
{
    VirtHotmemReservedRegion res[] = {
        { 256 * GiB, 4 * KiB, (char *)"reserved" },
    };
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.reserved = res;
    req.n_reserved = G_N_ELEMENTS(res);
    l = plan_ok(&req);
    assert_high(l, REDIST2, true, 256 * GiB + 64 * MiB);
    assert_high(l, ECAM_HIGH, true, 256 * GiB + 256 * MiB);
    assert_high(l, MMIO_HIGH, true, 512 * GiB);
}

/* Unsorted, overlapping reserved input is merged before use. */
static void test_reserved_unsorted_input(void)
{
    VirtHotmemReservedRegion res[] = {
        { 1536 * MiB, GiB, (char *)"msi" },
        { GiB, GiB, (char *)"direct" },
    };
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;
    VirtHotmemRegion r;

    req.reserved = res;
    req.n_reserved = G_N_ELEMENTS(res);
    l = plan_ok(&req);
    assert_bank(l, 0, 2 * GiB + 512 * MiB, GiB);
    r = find_region(l, "direct,msi");
    g_assert_cmphex(r.base, ==, GiB);
    g_assert_cmphex(r.size, ==, GiB + 512 * MiB);
}

static void test_explicit_ram_base(void)
{
    VirtHotmemRequest req = make_req(4 * GiB, 4 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.ram_base_auto = false;
    req.ram_base = 0x80000000;
    l = plan_ok(&req);
    assert_bank(l, 0, 0x80000000, 4 * GiB);
    g_assert_cmpuint(l->device_memory_size, ==, 0);
}

/* An explicit ram-base pins RAM; auto device memory skips a reservation. */
static void test_explicit_ram_floating_device_memory(void)
{
    VirtHotmemReservedRegion res[] = {
        { 12 * GiB, MiB, (char *)"msi" },
    };
    VirtHotmemRequest req = make_req(4 * GiB, 6 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.ram_base_auto = false;
    req.ram_base = 8 * GiB;
    req.reserved = res;
    req.n_reserved = G_N_ELEMENTS(res);
    l = plan_ok(&req);
    assert_bank(l, 0, 8 * GiB, 4 * GiB);
    g_assert_cmphex(l->device_memory_base, ==, 13 * GiB);
    g_assert_cmphex(l->device_memory_size, ==, 2 * GiB);
}

/* Explicit device memory where RAM would go: auto RAM steps over it. */
static void test_explicit_device_memory_low(void)
{
    VirtHotmemRequest req = make_req(2 * GiB, 3 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.device_memory_base_auto = false;
    req.device_memory_base = GiB;
    l = plan_ok(&req);
    g_assert_cmphex(l->device_memory_base, ==, GiB);
    assert_bank(l, 0, 2 * GiB, 2 * GiB);
}

/* device-memory-base without device memory: nothing to place. */
static void test_explicit_device_memory_without_any(void)
{
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.device_memory_base_auto = false;
    req.device_memory_base = 2 * TiB;
    l = plan_ok(&req);
    g_assert_cmpuint(l->device_memory_size, ==, 0);
    g_assert_cmpuint(l->device_memory_base, ==, 0);
    g_assert_cmphex(virt_hotmem_layout_highest_gpa(l), ==, TiB - 1);
}

static void test_device_memory_size_rule(void)
{
    static const struct {
        uint64_t maxram, slots, slack, dm_size;
    } cases[] = {
        { GiB, 0, GiB, 0 },
        { 3 * GiB, 0, GiB, 2 * GiB },
        { GiB, 4, GiB, 4 * GiB },
        { GiB + MiB, 256, GiB, MiB + 256 * GiB },
        /* The board's slack, not a fixed 1 GiB */
        { GiB, 4, 2 * GiB, 8 * GiB },
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        VirtHotmemRequest req = make_req(GiB, cases[i].maxram, cases[i].slots,
                                         48);
        g_autoptr(VirtHotmemLayout) l = NULL;

        req.slot_slack = cases[i].slack;
        l = virt_hotmem_layout_plan(&req, &error_abort);
        g_assert_cmphex(l->device_memory_size, ==, cases[i].dm_size);
    }
}

/* arm-den0001: -m 34G,maxmem=480G, a 40-bit limit. */
static void test_den0001_34g(void)
{
    VirtHotmemRequest req = make_req(34 * GiB, 480 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    l = plan_ok(&req);
    g_assert_cmpuint(l->n_ram_banks, ==, 3);
    assert_bank(l, 0, 0x80000000, 2 * GiB);
    assert_bank(l, 1, 0x880000000, 30 * GiB);
    assert_bank(l, 2, 0x8800000000, 2 * GiB);
    g_assert_cmphex(l->device_memory_base, ==, 546 * GiB);
    g_assert_cmphex(l->device_memory_size, ==, 446 * GiB);
    assert_high(l, REDIST2, true, 256 * GiB);
    assert_high(l, ECAM_HIGH, true, 256 * GiB + 256 * MiB);
    /* 512 GiB..1 TiB holds RAM now, and 1 TiB is the limit. */
    assert_high(l, MMIO_HIGH, false, 0);
    g_assert_cmphex(virt_hotmem_layout_highest_gpa(l), ==, 992 * GiB - 1);
    g_assert_cmpuint(virt_hotmem_layout_ipa_bits(l), ==, 40);
    g_assert_cmpint(region_kind(l, "ram2"), ==, VIRT_HOTMEM_REGION_RAM);
}

/* 32 GiB of RAM fills the 32-bit and 36-bit windows exactly. */
static void test_den0001_32g_small_device_memory(void)
{
    VirtHotmemRequest req = make_req(32 * GiB, 64 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    l = plan_ok(&req);
    g_assert_cmpuint(l->n_ram_banks, ==, 2);
    assert_bank(l, 0, 2 * GiB, 2 * GiB);
    assert_bank(l, 1, 34 * GiB, 30 * GiB);
    g_assert_cmphex(l->device_memory_base, ==, 544 * GiB);
    g_assert_cmphex(l->device_memory_size, ==, 32 * GiB);
    assert_high(l, MMIO_HIGH, false, 0);
}

/* 512 GiB of device memory: more than the 40-bit window holds. */
static void test_den0001_512g_device_memory_40bit(void)
{
    VirtHotmemRequest req = make_req(32 * GiB, 544 * GiB, 0, 40);

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    plan_fails_beyond_limit(&req, "memory-layout=arm-den0001: 512 GiB of "
                            "device memory (maxmem 544 GiB, slots=0) does not "
                            "fit in one DRAM window");
}

/* ...but the 44-bit window at 8.5 TiB does. */
static void test_den0001_512g_device_memory_44bit(void)
{
    VirtHotmemRequest req = make_req(32 * GiB, 544 * GiB, 0, 44);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    l = plan_ok(&req);
    g_assert_cmphex(l->device_memory_base, ==, 0x88000000000);
    g_assert_cmphex(l->device_memory_size, ==, 512 * GiB);
    assert_high(l, MMIO_HIGH, true, 512 * GiB);
    g_assert_cmphex(virt_hotmem_layout_highest_gpa(l), ==,
                    0x88000000000 + 512 * GiB - 1);
    g_assert_cmpuint(virt_hotmem_layout_ipa_bits(l), ==, 44);
}

/* The 44-bit picture at the top of virt-hotmem-layout.c. */
static void test_den0001_pictured_map(void)
{
    VirtHotmemRequest req = make_req(40 * GiB, 100 * GiB, 4, 44);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    l = plan_ok(&req);
    g_assert_cmpuint(l->n_ram_banks, ==, 3);
    assert_bank(l, 2, 544 * GiB, 8 * GiB);
    g_assert_cmphex(l->device_memory_base, ==, 552 * GiB);
    g_assert_cmphex(l->device_memory_size, ==, 64 * GiB);
    assert_high(l, MMIO_HIGH, true, TiB);
    g_assert_cmphex(virt_hotmem_layout_highest_gpa(l), ==, TiB + 512 * GiB - 1);
    g_assert_cmpuint(virt_hotmem_layout_ipa_bits(l), ==, 41);
}

/* A reserved region in the middle of a window splits RAM in banks. */
static void test_den0001_reserved_splits_ram(void)
{
    VirtHotmemReservedRegion res[] = {
        { 0x90000000, 0x00100000, (char *)"msi" },
    };
    VirtHotmemRequest req = make_req(4 * GiB, 4 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    req.reserved = res;
    req.n_reserved = G_N_ELEMENTS(res);
    l = plan_ok(&req);
    g_assert_cmpuint(l->n_ram_banks, ==, 3);
    assert_bank(l, 0, 0x80000000, 256 * MiB);
    /* The bank resumes at the next 2 MiB boundary. */
    assert_bank(l, 1, 0x90200000, 0x100000000 - 0x90200000);
    assert_bank(l, 2, 34 * GiB, 4 * GiB - 256 * MiB - 0x6fe00000);
}

static void test_den0001_reserved_whole_window(void)
{
    VirtHotmemReservedRegion res[] = {
        { 2 * GiB, 2 * GiB, (char *)"direct" },
    };
    VirtHotmemRequest req = make_req(4 * GiB, 4 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    req.reserved = res;
    req.n_reserved = G_N_ELEMENTS(res);
    l = plan_ok(&req);
    g_assert_cmpuint(l->n_ram_banks, ==, 1);
    assert_bank(l, 0, 34 * GiB, 4 * GiB);
}

/* An explicit ram-base starts the filling in its window. */
static void test_den0001_explicit_ram_base(void)
{
    VirtHotmemRequest req = make_req(40 * GiB, 40 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    req.ram_base_auto = false;
    req.ram_base = 34 * GiB;
    l = plan_ok(&req);
    g_assert_cmpuint(l->n_ram_banks, ==, 2);
    assert_bank(l, 0, 34 * GiB, 30 * GiB);
    assert_bank(l, 1, 544 * GiB, 10 * GiB);
}

static void test_den0001_explicit_ram_base_outside(void)
{
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 40);

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    req.ram_base_auto = false;
    req.ram_base = GiB;
    plan_fails(&req, "ram-base=0x40000000: not inside a DRAM window of "
               "memory-layout=arm-den0001");
}

static void test_den0001_explicit_ram_base_reserved(void)
{
    VirtHotmemReservedRegion res[] = {
        { 34 * GiB, 4 * KiB, (char *)"msi" },
    };
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 40);

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    req.ram_base_auto = false;
    req.ram_base = 34 * GiB;
    req.reserved = res;
    req.n_reserved = G_N_ELEMENTS(res);
    plan_fails(&req, "ram-base=0x880000000: overlaps reserved region "
               "[0x880000000, 0x880000fff] (msi) from reserved-regions");
}

static void test_den0001_explicit_device_memory(void)
{
    VirtHotmemRequest req = make_req(4 * GiB, 68 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    req.device_memory_base_auto = false;
    req.device_memory_base = 544 * GiB;
    l = plan_ok(&req);
    assert_bank(l, 0, 2 * GiB, 2 * GiB);
    assert_bank(l, 1, 34 * GiB, 2 * GiB);
    g_assert_cmphex(l->device_memory_base, ==, 544 * GiB);
    assert_high(l, MMIO_HIGH, false, 0);
}

static void test_den0001_device_memory_across_windows(void)
{
    VirtHotmemRequest req = make_req(GiB, 5 * GiB, 0, 40);

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    req.device_memory_base_auto = false;
    req.device_memory_base = 3 * GiB;
    plan_fails(&req, "device-memory-base=0xc0000000: device memory "
               "[0xc0000000, 0x1bfffffff] is not inside one DRAM window of "
               "memory-layout=arm-den0001");
}

/* Device memory larger than the biggest (48-bit) window. */
static void test_den0001_device_memory_too_large(void)
{
    VirtHotmemRequest req = make_req(GiB, GiB + 200 * TiB, 0, 48);

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    plan_fails_beyond_limit(&req, "200 TiB of device memory");
    plan_fails_beyond_limit(&req, "does not fit in one DRAM window after the "
                            "RAM below the 48-bit address limit");
}

static void test_den0001_ram_too_large(void)
{
    VirtHotmemRequest req = make_req(600 * GiB, 600 * GiB, 0, 40);

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    plan_fails_beyond_limit(&req, "memory-layout=arm-den0001: 600 GiB of RAM "
                            "does not fit the DRAM windows below the 40-bit "
                            "address limit");
}

/* 512 GiB fits exactly in the three windows below 40 bits. */
static void test_den0001_ram_fills_40bit(void)
{
    VirtHotmemRequest req = make_req(512 * GiB, 512 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    l = plan_ok(&req);
    g_assert_cmpuint(l->n_ram_banks, ==, 3);
    assert_bank(l, 2, 544 * GiB, 480 * GiB);
    g_assert_cmphex(virt_hotmem_layout_highest_gpa(l), ==, TiB - 1);
}

static void test_error_ram_base_unaligned(void)
{
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 40);

    req.ram_base_auto = false;
    req.ram_base = 0x40100000;
    plan_fails(&req, "ram-base=0x40100000: not aligned to 2 MiB");
}

static void test_error_device_memory_base_unaligned(void)
{
    VirtHotmemRequest req = make_req(GiB, 2 * GiB, 0, 40);

    req.device_memory_base_auto = false;
    req.device_memory_base = 0x80200000;
    plan_fails(&req, "device-memory-base=0x80200000: not aligned to 1 GiB");
}

static void test_error_ram_overlaps_mmio(void)
{
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 40);

    req.ram_base_auto = false;
    req.ram_base = 0x8000000;
    plan_fails(&req, "ram-base=0x8000000: overlaps MMIO region 'gic-dist' "
               "[0x8000000, 0x800ffff]");
}

static void test_error_device_memory_overlaps_mmio(void)
{
    VirtHotmemRequest req = make_req(GiB, 2 * GiB, 0, 40);

    req.device_memory_base_auto = false;
    req.device_memory_base = 0;
    plan_fails(&req, "device-memory-base=0x0: overlaps MMIO region 'flash' "
               "[0x0, 0x7ffffff]");
}

static void test_error_ram_overlaps_reserved(void)
{
    VirtHotmemReservedRegion res[] = {
        { 0x80000000, 0x40000000, (char *)"msi" },
    };
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 40);

    req.ram_base_auto = false;
    req.ram_base = 0x60000000;
    req.reserved = res;
    req.n_reserved = G_N_ELEMENTS(res);
    plan_fails(&req, "ram-base=0x60000000: overlaps reserved region "
               "[0x80000000, 0xbfffffff] (msi) from reserved-regions; RAM "
               "would occupy [0x60000000, 0x9fffffff]");
}

static void test_error_device_memory_overlaps_reserved(void)
{
    VirtHotmemReservedRegion res[] = {
        { 0x80000000, 0x40000000, (char *)"msi" },
    };
    VirtHotmemRequest req = make_req(GiB, 2 * GiB, 0, 40);

    req.device_memory_base_auto = false;
    req.device_memory_base = 0x80000000;
    req.reserved = res;
    req.n_reserved = G_N_ELEMENTS(res);
    plan_fails(&req, "device-memory-base=0x80000000: overlaps reserved "
               "region [0x80000000, 0xbfffffff] (msi) from reserved-regions; "
               "device memory would occupy [0x80000000, 0xbfffffff]");
}

static void test_error_ram_overlaps_device_memory(void)
{
    VirtHotmemRequest req = make_req(4 * GiB, 6 * GiB, 0, 40);

    req.ram_base_auto = false;
    req.ram_base = 4 * GiB;
    req.device_memory_base_auto = false;
    req.device_memory_base = 5 * GiB;
    plan_fails(&req, "ram-base=0x100000000: overlaps device memory "
               "[0x140000000, 0x1bfffffff] from "
               "device-memory-base=0x140000000");
}

/* The seed thread: -m 20G with far too much maxmem for 40 bits. */
static void test_error_beyond_pa_limit(void)
{
    VirtHotmemRequest req = make_req(20 * GiB, 1100 * GiB, 0, 40);

    plan_fails_beyond_limit(&req, "-m 20 GiB, maxmem 1.07 TiB, slots=0: "
                            "memory ends at 0x11340000000 beyond the 40-bit "
                            "physical address limit");
}

static void test_error_ram_beyond_pa_limit(void)
{
    VirtHotmemRequest req = make_req(8 * GiB, 8 * GiB, 0, 40);

    req.ram_base_auto = false;
    req.ram_base = 0xff00000000;
    plan_fails_beyond_limit(&req, "ram-base=0xff00000000: 8 GiB of RAM does "
                            "not end below the 40-bit physical address limit");
    req = make_req(4 * GiB, 4 * GiB, 0, 32);
    plan_fails_beyond_limit(&req, "-m 4 GiB: memory ends at 0x140000000 "
                            "beyond the 32-bit physical address limit");
}

static void test_error_maxmem_below_mem(void)
{
    VirtHotmemRequest req = make_req(2 * GiB, GiB, 0, 40);

    plan_fails(&req, "maxmem (1073741824) is smaller than -m (2147483648)");
}

static void test_error_too_many_slots(void)
{
    VirtHotmemRequest req = make_req(GiB, 2 * GiB, 300, 40);

    plan_fails(&req, "slots=300: more than the 256 memory slots the board "
               "can describe");
    req.ram_slots = 256;
    virt_hotmem_layout_free(plan_ok(&req));
}

static void test_error_zero_ram(void)
{
    VirtHotmemRequest req = make_req(0, GiB, 0, 40);

    plan_fails(&req, "-m 0: the RAM size must not be zero");
}

static void test_error_bad_pa_bits(void)
{
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 31);

    plan_fails_bad_request(&req, "physical address limit of 31 bits");
    req.pa_bits = 65;
    plan_fails_bad_request(&req, "physical address limit of 65 bits");
}

static void test_error_bad_board_tables(void)
{
    VirtHotmemMmioRegion mmio[] = {
        { "uart", 0xffff0000, 0x20000 },
    };
    VirtHotmemHighRegion high[] = {
        { "odd", 3 * MiB, true },
    };
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 40);

    req.mmio = mmio;
    req.n_mmio = G_N_ELEMENTS(mmio);
    plan_fails_bad_request(&req, "board MMIO region 'uart'");
    req = make_req(GiB, GiB, 0, 40);
    req.high = high;
    req.n_high = G_N_ELEMENTS(high);
    plan_fails_bad_request(&req, "high IO region 'odd': size 0x300000 is not "
                           "a power of two");
    req.policy = (VirtHotmemMemoryLayout)7;
    req.high = virt_high;
    plan_fails_bad_request(&req, "memory-layout: unknown policy 7");
    req = make_req(GiB, GiB, 0, 40);
    req.mmio = NULL;
    plan_fails_bad_request(&req, "the board's MMIO map is missing");
    req = make_req(GiB, GiB, 0, 40);
    req.n_reserved = 1;
    plan_fails_bad_request(&req, "the reserved region list is missing");
}

/*
 * The board's constants come from the request: a board whose RAM starts
 * at 2 GiB, with high IO from 512 GiB and 2 GiB of slack per slot.
 */
static void test_board_constants(void)
{
    VirtHotmemRequest req = make_req(3 * GiB, 4 * GiB, 2, 44);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.legacy_ram_base = 2 * GiB;
    req.high_io_floor = 512 * GiB;
    req.slot_slack = 2 * GiB;
    l = plan_ok(&req);
    assert_bank(l, 0, 2 * GiB, 3 * GiB);
    /* 1 GiB of hotplug + 2 slots * 2 GiB, at the GiB after RAM */
    g_assert_cmphex(l->device_memory_base, ==, 5 * GiB);
    g_assert_cmphex(l->device_memory_size, ==, 5 * GiB);
    assert_high(l, REDIST2, true, 512 * GiB);
    assert_high(l, ECAM_HIGH, true, 512 * GiB + 256 * MiB);
    assert_high(l, MMIO_HIGH, true, 1024 * GiB);

    req.legacy_ram_base = GiB + MiB;
    plan_fails_bad_request(&req, "the board's RAM base 0x40100000 is not "
                           "aligned to 2 MiB");
    req = make_req(GiB, GiB, 9, 40);
    req.max_ram_slots = 8;
    plan_fails(&req, "slots=9: more than the 8 memory slots the board can "
               "describe");
}

/* Values near 2^64 give errors, never crashes or wrapped maps. */
static void test_error_u64_overflow(void)
{
    VirtHotmemReservedRegion wraps[] = {
        { UINT64_MAX - 10, 100, (char *)"msi" },
    };
    VirtHotmemRequest req = make_req(UINT64_MAX, UINT64_MAX, 0, 64);

    plan_fails_beyond_limit(&req, "memory does not fit below the 64-bit "
                            "physical address limit");
    req = make_req(GiB, UINT64_MAX, 256, 64);
    plan_fails(&req, "device memory does not fit in the 64-bit address "
               "space");
    req = make_req(GiB, UINT64_MAX - 100, 0, 64);
    plan_fails_beyond_limit(&req, "memory does not fit below the 64-bit "
                            "physical address limit");
    req = make_req(4 * MiB, 4 * MiB, 0, 64);
    req.ram_base_auto = false;
    req.ram_base = UINT64_MAX & ~(2 * MiB - 1);
    plan_fails_beyond_limit(&req, "ram-base=0xffffffffffe00000: 4 MiB of RAM "
                            "does not end below the 64-bit physical address "
                            "limit");
    req = make_req(GiB, 3 * GiB, 0, 64);
    req.device_memory_base_auto = false;
    req.device_memory_base = UINT64_MAX & ~(GiB - 1);
    plan_fails_beyond_limit(&req, "device-memory-base=0xffffffffc0000000: "
                            "2 GiB of device memory does not end below the "
                            "64-bit physical address limit");
    req = make_req(UINT64_MAX - GiB, UINT64_MAX - GiB, 0, 64);
    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    plan_fails_beyond_limit(&req, "does not fit the DRAM windows below the "
                            "64-bit");
    req = make_req(GiB, GiB, 0, 40);
    req.reserved = wraps;
    req.n_reserved = G_N_ELEMENTS(wraps);
    plan_fails(&req, "wraps around the 64-bit address space");
}

/*
 * Found by the fuzzer: a reserved region reaching the top of the address
 * space used to make the arm-den0001 fill loop spin forever.
 */
static void test_reserved_up_to_the_top(void)
{
    VirtHotmemReservedRegion res[] = {
        { 48, UINT64_MAX - 2603, (char *)"msi" },
    };
    VirtHotmemRequest req = make_req(10 * GiB, 10 * GiB, 115, 45);

    req.reserved = res;
    req.n_reserved = G_N_ELEMENTS(res);
    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001;
    plan_fails_beyond_limit(&req, "memory-layout=arm-den0001: 10 GiB of RAM "
                            "does not fit the DRAM windows below the 45-bit "
                            "address limit");
    req.policy = VIRT_HOTMEM_MEMORY_LAYOUT_CONTIGUOUS;
    plan_fails_beyond_limit(&req, "-m 10 GiB, maxmem 10 GiB, slots=115: "
                            "memory does not fit below the 45-bit physical "
                            "address limit");
}

/* A 64-bit limit and an 8 EiB guest still plan cleanly. */
static void test_pa_bits_64(void)
{
    VirtHotmemRequest req = make_req(UINT64_C(1) << 63, UINT64_C(1) << 63, 0,
                                     64);
    g_autoptr(VirtHotmemLayout) l = plan_ok(&req);

    assert_bank(l, 0, GiB, UINT64_C(1) << 63);
    assert_high(l, REDIST2, true, (UINT64_C(1) << 63) + GiB);
    g_assert_cmpuint(virt_hotmem_layout_ipa_bits(l), ==, 64);
}

/* A region the board disables stays off, even with room for it. */
static void test_high_region_disabled_by_board(void)
{
    VirtHotmemHighRegion high[] = {
        { "gic-redist2", 64 * MiB, false },
        { "pcie-ecam-high", 256 * MiB, true },
        { "pcie-mmio-high", 512 * GiB, true },
    };
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    req.high = high;
    l = plan_ok(&req);
    assert_high(l, REDIST2, false, 0);
    assert_high(l, ECAM_HIGH, true, 256 * GiB);
    assert_high(l, MMIO_HIGH, true, 512 * GiB);
    g_assert_cmpstr(l->high[REDIST2].name, ==, "gic-redist2");
    g_assert_cmphex(l->high[REDIST2].size, ==, 64 * MiB);
}

/*
 * Every request of a grid either gets a map that keeps the rules above
 * or a one-line error; a contiguous map with nothing reserved that fits
 * (1 GiB + RAM rounded up to 1 GiB + device memory below the limit) must
 * be planned.
 */
static void test_invariants_sweep(void)
{
    static const uint64_t rams[] = {
        2 * MiB, GiB, 1536 * MiB, 4 * GiB, 34 * GiB, 300 * GiB, 600 * GiB,
    };
    static const uint64_t extras[] = { 0, GiB, 100 * GiB, 3 * TiB };
    VirtHotmemReservedRegion res[] = {
        { 0x08000000, 0x00100000, (char *)"msi" },
        { 0x90000000, 0x00100000, (char *)"direct" },
        { 300 * GiB, 8 * GiB, (char *)"reserved" },
    };
    unsigned int pas[] = { 32, 36, 40, 44, 48, 52 };
    size_t a, b, c, d, e, planned = 0, must = 0;

    for (a = 0; a < G_N_ELEMENTS(rams); a++) {
        for (b = 0; b < G_N_ELEMENTS(extras); b++) {
            for (c = 0; c < G_N_ELEMENTS(pas); c++) {
                for (d = 0; d < 2; d++) {
                    for (e = 0; e <= G_N_ELEMENTS(res); e++) {
                        VirtHotmemRequest req =
                            make_req(rams[a], rams[a] + extras[b], b,
                                     pas[c]);
                        uint64_t need = GiB + (rams[a] + GiB - 1) / GiB * GiB
                                        + extras[b] + b * GiB;
                        g_autoptr(Error) err = NULL;
                        VirtHotmemLayout *l;

                        req.policy = d ? VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001
                                       : VIRT_HOTMEM_MEMORY_LAYOUT_CONTIGUOUS;
                        req.reserved = res;
                        req.n_reserved = e;
                        l = virt_hotmem_layout_plan(&req, &err);
                        if (!l) {
                            g_assert_nonnull(err);
                            g_assert_null(strchr(error_get_pretty(err), '\n'));
                            if (!d && !e && need <= UINT64_C(1) << pas[c]) {
                                g_error("%s", error_get_pretty(err));
                            }
                            continue;
                        }
                        must += !d && !e;
                        sweep_check(&req, l);
                        planned++;
                        virt_hotmem_layout_free(l);
                    }
                }
            }
        }
    }
    g_assert_cmpuint(planned, >, 100);
    g_test_message("%zu planned, %zu had to be", planned, must);
    g_assert_cmpuint(must, >, 50);
}

static void test_regions_named_and_kinds(void)
{
    VirtHotmemRequest req = make_req(GiB, 2 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;
    g_autoptr(GArray) regions = NULL;
    static const char *const first[] = {
        "flash", "msi", "cpu-peripherals", "gic-dist",
    };
    size_t i;

    req.reserved = msi_window;
    req.n_reserved = G_N_ELEMENTS(msi_window);
    l = plan_ok(&req);
    g_assert_cmpint(region_kind(l, "ram0"), ==, VIRT_HOTMEM_REGION_RAM);
    g_assert_cmpint(region_kind(l, "pcie-ecam"), ==, VIRT_HOTMEM_REGION_MMIO);
    g_assert_cmpint(region_kind(l, "pcie-mmio-high"), ==,
                    VIRT_HOTMEM_REGION_HIGH_MMIO);
    g_assert_cmpint(region_kind(l, "device-memory"), ==,
                    VIRT_HOTMEM_REGION_DEVICE_MEMORY);
    /* Sorted by base, containers first: flash, then the CPU block. */
    regions = virt_hotmem_layout_regions(l);
    for (i = 0; i < G_N_ELEMENTS(first); i++) {
        g_assert_cmpstr(g_array_index(regions, VirtHotmemRegion, i).name, ==,
                        first[i]);
    }
}

/* Parsed files feed the planner as the machine will do it. */
static void test_parse_union_plan(void)
{
    const char *group0 = "0x0000000008000000 0x00000000080fffff msi\n";
    const char *group1 = "0x0000000040000000 0x000000007fffffff direct\n";
    VirtHotmemReservedRegion *all = NULL, *merged = NULL;
    size_t n_all = 0, n_merged = 0;
    VirtHotmemRequest req = make_req(4 * GiB, 4 * GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = NULL;

    g_assert_true(virt_hotmem_parse_reserved_regions(group0, -1, "g0", &all,
                                                     &n_all, NULL));
    g_assert_true(virt_hotmem_parse_reserved_regions(group1, -1, "g1", &all,
                                                     &n_all, NULL));
    g_assert_true(virt_hotmem_reserved_regions_union(all, n_all, &merged,
                                                     &n_merged, NULL));
    req.reserved = merged;
    req.n_reserved = n_merged;
    l = plan_ok(&req);
    assert_bank(l, 0, 2 * GiB, 4 * GiB);
    virt_hotmem_reserved_regions_free(all, n_all);
    virt_hotmem_reserved_regions_free(merged, n_merged);
}

/*
 * Free space below 4 GiB for RAM the board adds (UEFI firmware's low RAM
 * with all boot RAM at 512 GiB).  The expected addresses come from
 * virt_mmio above: virt's low map ends with pcie-ecam at 1 GiB; the holes
 * below it are 0x090b1000..0x09ffffff (after secure-gpio),
 * 0x0a004000..0x0bffffff (after the 32 virtio-mmio transports) and
 * 0x0f000000..0x0fffffff (after secure-mem).
 */
static VirtHotmemLayout *plan_ram_at_512g(const VirtHotmemReservedRegion *res,
                                          size_t n_res)
{
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 44);

    req.ram_base_auto = false;
    req.ram_base = 512 * GiB;
    req.reserved = res;
    req.n_reserved = n_res;
    return plan_ok(&req);
}

static uint64_t find_free_ok(const VirtHotmemLayout *l, uint64_t size,
                             uint64_t align, uint64_t limit)
{
    uint64_t base = 0;

    g_assert_true(virt_hotmem_layout_find_free(l, size, align, limit, &base));
    return base;
}

static void test_find_free_ram_moved_away(void)
{
    g_autoptr(VirtHotmemLayout) l = plan_ram_at_512g(NULL, 0);
    uint64_t base = 0;

    g_assert_cmphex(find_free_ok(l, 256 * MiB, 2 * MiB, 4 * GiB), ==, GiB);
    /* all of 1 GiB..4 GiB is free, not one byte more */
    g_assert_cmphex(find_free_ok(l, 3 * GiB, 2 * MiB, 4 * GiB), ==, GiB);
    g_assert_false(virt_hotmem_layout_find_free(l, 3 * GiB + 2 * MiB,
                                                2 * MiB, 4 * GiB, &base));
    /* the holes in virt's low map, lowest first, 2 MiB aligned */
    g_assert_cmphex(find_free_ok(l, 14 * MiB, 2 * MiB, 4 * GiB), ==,
                    0x09200000);
    g_assert_cmphex(find_free_ok(l, 30 * MiB, 2 * MiB, 4 * GiB), ==,
                    0x0a200000);
    g_assert_cmphex(find_free_ok(l, 32 * MiB, 2 * MiB, 4 * GiB), ==, GiB);
    /* aligned as asked */
    g_assert_cmphex(find_free_ok(l, 16 * MiB, 256 * MiB, 4 * GiB), ==, GiB);
}

/* MMIO is never free: 16 MiB past platform-bus and secure-mem */
static void test_find_free_skips_secure_mem(void)
{
    VirtHotmemReservedRegion msi_to_platform_bus[] = {
        { 0x09000000, 0x03000000, (char *)"msi" },
    };
    g_autoptr(VirtHotmemLayout) l =
        plan_ram_at_512g(msi_to_platform_bus,
                         G_N_ELEMENTS(msi_to_platform_bus));

    g_assert_cmphex(find_free_ok(l, 16 * MiB, 2 * MiB, 4 * GiB), ==,
                    0x0f000000);
}

static void test_find_free_skips_reserved(void)
{
    VirtHotmemReservedRegion below_2g[] = {
        { GiB, GiB, (char *)"direct" },
    };
    VirtHotmemReservedRegion odd_end[] = {
        { GiB, GiB + 1, (char *)"direct" },
    };
    g_autoptr(VirtHotmemLayout) l = NULL;
    g_autoptr(VirtHotmemLayout) l2 = NULL;

    l = plan_ram_at_512g(below_2g, G_N_ELEMENTS(below_2g));
    g_assert_cmphex(find_free_ok(l, 256 * MiB, 2 * MiB, 4 * GiB), ==,
                    2 * GiB);
    /* a reservation ending off the alignment: the next aligned byte */
    l2 = plan_ram_at_512g(odd_end, G_N_ELEMENTS(odd_end));
    g_assert_cmphex(find_free_ok(l2, 256 * MiB, 2 * MiB, 4 * GiB), ==,
                    2 * GiB + 2 * MiB);
}

static void test_find_free_none(void)
{
    /* all but 254 MiB of 1 GiB..4 GiB reserved */
    VirtHotmemReservedRegion most[] = {
        { GiB, 3 * GiB - 254 * MiB, (char *)"direct" },
    };
    g_autoptr(VirtHotmemLayout) l = plan_ram_at_512g(most, G_N_ELEMENTS(most));
    uint64_t base = 0x1234;

    g_assert_false(virt_hotmem_layout_find_free(l, 256 * MiB, 2 * MiB,
                                                4 * GiB, &base));
    g_assert_cmphex(base, ==, 0x1234);
    g_assert_cmphex(find_free_ok(l, 254 * MiB, 2 * MiB, 4 * GiB), ==,
                    4 * GiB - 254 * MiB);
    /* a bad request is refused, not looped over */
    g_assert_false(virt_hotmem_layout_find_free(l, 0, 2 * MiB, 4 * GiB,
                                                &base));
    g_assert_false(virt_hotmem_layout_find_free(l, MiB, 3 * MiB, 4 * GiB,
                                                &base));
    g_assert_false(virt_hotmem_layout_find_free(l, UINT64_MAX, 2 * MiB,
                                                4 * GiB, &base));
}

/* With RAM at virt's 1 GiB, the free space starts after RAM */
static void test_find_free_after_ram(void)
{
    VirtHotmemRequest req = make_req(GiB, GiB, 0, 40);
    g_autoptr(VirtHotmemLayout) l = plan_ok(&req);

    g_assert_cmphex(find_free_ok(l, 256 * MiB, 2 * MiB, 4 * GiB), ==,
                    2 * GiB);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/virt-hotmem-layout/legacy/1g", test_legacy_1g);
    g_test_add_func("/virt-hotmem-layout/legacy/hotplug",
                    test_legacy_hotplug);
    g_test_add_func("/virt-hotmem-layout/legacy/odd-sizes",
                    test_legacy_odd_sizes);
    g_test_add_func("/virt-hotmem-layout/legacy/large", test_legacy_large);
    g_test_add_func("/virt-hotmem-layout/legacy/compact",
                    test_legacy_compact);
    g_test_add_func("/virt-hotmem-layout/legacy/pa39", test_legacy_pa39);
    g_test_add_func("/virt-hotmem-layout/legacy/pa32", test_legacy_pa32);
    g_test_add_func("/virt-hotmem-layout/seed/20g-120g", test_seed_20g_120g);
    g_test_add_func("/virt-hotmem-layout/seed/device-memory-2t",
                    test_device_memory_at_2t);
    g_test_add_func("/virt-hotmem-layout/seed/device-memory-2t-40bit",
                    test_device_memory_at_2t_beyond_limit);
    g_test_add_func("/virt-hotmem-layout/reserved/msi-window",
                    test_reserved_msi_window);
    g_test_add_func("/virt-hotmem-layout/reserved/ram-to-2g",
                    test_reserved_forces_ram_to_2g);
    g_test_add_func("/virt-hotmem-layout/reserved/moves-ram-and-dm",
                    test_reserved_moves_ram_and_device_memory);
    g_test_add_func("/virt-hotmem-layout/reserved/under-dm-only",
                    test_reserved_under_device_memory_only);
    g_test_add_func("/virt-hotmem-layout/reserved/moves-high-io",
                    test_reserved_moves_high_io);
    g_test_add_func("/virt-hotmem-layout/reserved/unsorted-input",
                    test_reserved_unsorted_input);
    g_test_add_func("/virt-hotmem-layout/contiguous/explicit-ram-base",
                    test_explicit_ram_base);
    g_test_add_func("/virt-hotmem-layout/contiguous/floating-dm",
                    test_explicit_ram_floating_device_memory);
    g_test_add_func("/virt-hotmem-layout/contiguous/explicit-dm-low",
                    test_explicit_device_memory_low);
    g_test_add_func("/virt-hotmem-layout/contiguous/explicit-dm-none",
                    test_explicit_device_memory_without_any);
    g_test_add_func("/virt-hotmem-layout/device-memory-size-rule",
                    test_device_memory_size_rule);
    g_test_add_func("/virt-hotmem-layout/den0001/34g", test_den0001_34g);
    g_test_add_func("/virt-hotmem-layout/den0001/32g-small-dm",
                    test_den0001_32g_small_device_memory);
    g_test_add_func("/virt-hotmem-layout/den0001/512g-dm-40bit",
                    test_den0001_512g_device_memory_40bit);
    g_test_add_func("/virt-hotmem-layout/den0001/512g-dm-44bit",
                    test_den0001_512g_device_memory_44bit);
    g_test_add_func("/virt-hotmem-layout/den0001/pictured-map",
                    test_den0001_pictured_map);
    g_test_add_func("/virt-hotmem-layout/den0001/reserved-splits-ram",
                    test_den0001_reserved_splits_ram);
    g_test_add_func("/virt-hotmem-layout/den0001/reserved-whole-window",
                    test_den0001_reserved_whole_window);
    g_test_add_func("/virt-hotmem-layout/den0001/explicit-ram-base",
                    test_den0001_explicit_ram_base);
    g_test_add_func("/virt-hotmem-layout/den0001/ram-base-outside",
                    test_den0001_explicit_ram_base_outside);
    g_test_add_func("/virt-hotmem-layout/den0001/ram-base-reserved",
                    test_den0001_explicit_ram_base_reserved);
    g_test_add_func("/virt-hotmem-layout/den0001/explicit-dm",
                    test_den0001_explicit_device_memory);
    g_test_add_func("/virt-hotmem-layout/den0001/dm-across-windows",
                    test_den0001_device_memory_across_windows);
    g_test_add_func("/virt-hotmem-layout/den0001/dm-too-large",
                    test_den0001_device_memory_too_large);
    g_test_add_func("/virt-hotmem-layout/den0001/ram-too-large",
                    test_den0001_ram_too_large);
    g_test_add_func("/virt-hotmem-layout/den0001/ram-fills-40bit",
                    test_den0001_ram_fills_40bit);
    g_test_add_func("/virt-hotmem-layout/error/ram-base-unaligned",
                    test_error_ram_base_unaligned);
    g_test_add_func("/virt-hotmem-layout/error/dm-base-unaligned",
                    test_error_device_memory_base_unaligned);
    g_test_add_func("/virt-hotmem-layout/error/ram-overlaps-mmio",
                    test_error_ram_overlaps_mmio);
    g_test_add_func("/virt-hotmem-layout/error/dm-overlaps-mmio",
                    test_error_device_memory_overlaps_mmio);
    g_test_add_func("/virt-hotmem-layout/error/ram-overlaps-reserved",
                    test_error_ram_overlaps_reserved);
    g_test_add_func("/virt-hotmem-layout/error/dm-overlaps-reserved",
                    test_error_device_memory_overlaps_reserved);
    g_test_add_func("/virt-hotmem-layout/error/ram-overlaps-dm",
                    test_error_ram_overlaps_device_memory);
    g_test_add_func("/virt-hotmem-layout/error/beyond-pa-limit",
                    test_error_beyond_pa_limit);
    g_test_add_func("/virt-hotmem-layout/error/ram-beyond-pa-limit",
                    test_error_ram_beyond_pa_limit);
    g_test_add_func("/virt-hotmem-layout/error/maxmem-below-mem",
                    test_error_maxmem_below_mem);
    g_test_add_func("/virt-hotmem-layout/error/too-many-slots",
                    test_error_too_many_slots);
    g_test_add_func("/virt-hotmem-layout/error/zero-ram",
                    test_error_zero_ram);
    g_test_add_func("/virt-hotmem-layout/error/bad-pa-bits",
                    test_error_bad_pa_bits);
    g_test_add_func("/virt-hotmem-layout/error/bad-board-tables",
                    test_error_bad_board_tables);
    g_test_add_func("/virt-hotmem-layout/board-constants",
                    test_board_constants);
    g_test_add_func("/virt-hotmem-layout/error/u64-overflow",
                    test_error_u64_overflow);
    g_test_add_func("/virt-hotmem-layout/error/reserved-up-to-the-top",
                    test_reserved_up_to_the_top);
    g_test_add_func("/virt-hotmem-layout/pa-bits-64", test_pa_bits_64);
    g_test_add_func("/virt-hotmem-layout/high/disabled-by-board",
                    test_high_region_disabled_by_board);
    g_test_add_func("/virt-hotmem-layout/invariants/sweep",
                    test_invariants_sweep);
    g_test_add_func("/virt-hotmem-layout/regions/names-and-kinds",
                    test_regions_named_and_kinds);
    g_test_add_func("/virt-hotmem-layout/reserved/parse-union-plan",
                    test_parse_union_plan);
    g_test_add_func("/virt-hotmem-layout/find-free/ram-moved-away",
                    test_find_free_ram_moved_away);
    g_test_add_func("/virt-hotmem-layout/find-free/skips-secure-mem",
                    test_find_free_skips_secure_mem);
    g_test_add_func("/virt-hotmem-layout/find-free/skips-reserved",
                    test_find_free_skips_reserved);
    g_test_add_func("/virt-hotmem-layout/find-free/none",
                    test_find_free_none);
    g_test_add_func("/virt-hotmem-layout/find-free/after-ram",
                    test_find_free_after_ram);

    return g_test_run();
}
