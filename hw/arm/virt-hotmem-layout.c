/*
 * virt-hotmem memory-map planner
 *
 * Places RAM, device memory and the high IO regions of -M virt-hotmem,
 * parses the host's IOMMU reserved regions and decides the KVM IPA size.
 *
 * This file includes no QEMU header, only glib and libc, on purpose: the
 * same object is built by QEMU's build for the machine, and on its own by
 * tests/unit/test-virt-hotmem-layout.c and by the libFuzzer target
 * tests/fuzz/virt-hotmem-layout-fuzz.c, which cannot pull in osdep.h,
 * QOM or Error.  It keeps no global state, so the fuzzer can call it
 * millions of times, and it never asserts: every input, however absurd,
 * gets a layout or a one-line error message.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

/*
 * The default map: memory-layout=contiguous, ram-base=auto,
 * device-memory-base=auto, nothing reserved, here for
 * -m 4G,maxmem=8G,slots=2 and a 40-bit address limit.  It is upstream
 * virt's legacy map, address for address.
 *
 *   1 TiB     +----------------------------------+ <- 40-bit limit
 *             | pcie-mmio-high         512 GiB   |
 *   512 GiB   +----------------------------------+
 *             | (free)                           |
 *   +512 MiB  +----------------------------------+
 *             | pcie-ecam-high         256 MiB   |
 *   +256 MiB  +----------------------------------+
 *             | (alignment gap)                  |
 *   +64 MiB   +----------------------------------+
 *             | gic-redist2             64 MiB   |
 *   256 GiB   +----------------------------------+ <- high IO floor
 *             | (free)                           |
 *   11 GiB    +----------------------------------+
 *             | device memory            6 GiB   | maxmem - ram
 *             |                                  |  + slots * 1 GiB
 *   5 GiB     +----------------------------------+ <- RAM end rounded up
 *             | RAM (one bank)           4 GiB   |    to 1 GiB
 *   1 GiB     +----------------------------------+ <- ram-base=auto
 *             | pcie-ecam    0x3f000000  16 MiB  |
 *             | pcie-pio     0x3eff0000          |
 *             | pcie-mmio    0x10000000          |
 *             | secure-mem, platform-bus,        |
 *             | virtio-mmio  0x0a000000          |
 *             | uart, rtc, fw-cfg, gpio, smmu... |
 *             | gic          0x08000000          |
 *             | flash        0x00000000 128 MiB  |
 *   0         +----------------------------------+
 *
 * A reserved region in the way moves RAM (and device memory with it) up
 * to the next 2 MiB boundary past it; high IO regions skip it too.
 *
 * memory-layout=arm-den0001, here for -m 40G,maxmem=100G,slots=4 and a
 * 44-bit address limit: RAM fills the DRAM windows in ascending order,
 * one bank per contiguous piece; device memory takes the first window
 * with room after the RAM; the high IO regions go where they fit.
 *
 *   16 TiB    +----------------------------------+ <- 44-bit limit
 *             | DRAM window 3 (unused) 7.5 TiB   |
 *   8.5 TiB   +----------------------------------+
 *             | (free)                           |
 *   1.5 TiB   +----------------------------------+
 *             | pcie-mmio-high         512 GiB   | 512 GiB aligned and
 *   1 TiB     +----------------------------------+ clear of RAM
 *             | (rest of window 2)               |
 *   616 GiB   +----------------------------------+
 *             | device memory           64 GiB   |
 *   552 GiB   +----------------------------------+
 *             | RAM bank ram2            8 GiB   |
 *   544 GiB   +----------------------------------+ <- DRAM window 2
 *             | (free)                           |
 *   +512 MiB  +----------------------------------+
 *             | pcie-ecam-high         256 MiB   |
 *   +256 MiB  +----------------------------------+
 *             | gic-redist2             64 MiB   |
 *   256 GiB   +----------------------------------+ <- high IO floor
 *             | (free)                           |
 *   64 GiB    +----------------------------------+
 *             | RAM bank ram1           30 GiB   |
 *   34 GiB    +----------------------------------+ <- DRAM window 1
 *             | (free)                           |
 *   4 GiB     +----------------------------------+
 *             | RAM bank ram0            2 GiB   |
 *   2 GiB     +----------------------------------+ <- DRAM window 0
 *             | (free)                           |
 *   1 GiB     +----------------------------------+
 *             | low MMIO, as in the default map  |
 *   0         +----------------------------------+
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "hw/arm/virt-hotmem-layout.h"
#include "virt-hotmem-span.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

/* The low MMIO map of the board must fit in the 32-bit address space. */
#define LOW_MMIO_LIMIT (UINT64_C(1) << 32)

/* KVM without KVM_CAP_ARM_VM_IPA_SIZE always gives a VM 40 bits of IPA. */
#define KVM_FIXED_IPA_BITS 40

/*
 * The DRAM windows of "Principles of ARM Memory Maps", ARM DEN 0001C
 * (White Paper, issue C, 19 October 2012), figure "32-bit, 36-bit and
 * 40-bit ARM Address Maps" and the 44-bit and 48-bit maps that issue C
 * added.  Each n-bit map (n = 32, 36, 40, 44, 48) adds one DRAM window
 * [2^(n-1) + 2^(n-5), 2^n), except the 32-bit one which is [2 GiB, 4 GiB);
 * the "hole or DRAM" ranges just below the 36-bit and 40-bit windows
 * (32..34 GiB, 512..544 GiB) are not used, as the paper allows.
 * The paper stops at 48 bits, and so do we: a 52-bit limit gives no
 * sixth window.
 */
typedef struct DramWindow {
    uint64_t base;
    uint64_t size;
} DramWindow;

static const DramWindow den0001_windows[] = {
    { UINT64_C(2) * GiB, UINT64_C(2) * GiB },             /* 32-bit map */
    { UINT64_C(34) * GiB, UINT64_C(30) * GiB },           /* 36-bit map */
    { UINT64_C(544) * GiB, UINT64_C(480) * GiB },         /* 40-bit map */
    { UINT64_C(8704) * GiB, UINT64_C(7680) * GiB },       /* 44-bit map */
    { UINT64_C(139264) * GiB, UINT64_C(122880) * GiB },   /* 48-bit map */
};

#define N_DEN0001_WINDOWS \
    (sizeof(den0001_windows) / sizeof(den0001_windows[0]))

/* Bit flags, so that one search can look for several kinds at once. */
typedef enum ObstacleKind {
    OBSTACLE_MMIO = 1 << 0,
    OBSTACLE_RESERVED = 1 << 1,
    OBSTACLE_RAM = 1 << 2,
    /*
     * A RAM bank widened to whole GiBs: high IO regions stay out of any
     * GiB that holds RAM, as upstream's do, so that RAM can be mapped
     * with 1 GiB blocks.
     */
    OBSTACLE_RAM_GRANULE = 1 << 3,
    OBSTACLE_DEVICE_MEMORY = 1 << 4,
    OBSTACLE_HIGH_IO = 1 << 5,
} ObstacleKind;

typedef struct Obstacle {
    AddrSpan span;
    ObstacleKind kind;
    const char *name;       /* borrowed: MMIO/high name or reserved type */
} Obstacle;

typedef struct Planner {
    const VirtHotmemRequest *req;
    uint64_t pa_last;
    uint64_t dm_size;
    /* Device memory takes whole GiBs of address space, as upstream's. */
    uint64_t dm_footprint;
    bool dm_placed;
    uint64_t dm_base;
    VirtHotmemReservedRegion *reserved;     /* the union of req->reserved */
    size_t n_reserved;
    GArray *obstacles;                      /* of Obstacle */
    GArray *banks;                          /* of VirtHotmemRamBank */
    VirtHotmemHighPlacement *high;
} Planner;

static const char *safe_name(const char *name)
{
    return name ? name : "?";
}

static bool spans_overlap(const AddrSpan *a, const AddrSpan *b)
{
    return a->first <= b->last && b->first <= a->last;
}

/* Widen @span to whole @granule blocks; @granule is a power of two. */
static AddrSpan span_widen(const AddrSpan *span, uint64_t granule)
{
    AddrSpan wide = {
        .first = span->first & ~(granule - 1),
        .last = span->last | (granule - 1),
    };

    return wide;
}

/* @align is a power of two. */
static bool align_up(uint64_t value, uint64_t align, uint64_t *result)
{
    uint64_t mask = align - 1;

    if (value > UINT64_MAX - mask) {
        return false;
    }
    *result = (value + mask) & ~mask;
    return true;
}

static bool is_aligned(uint64_t value, uint64_t align)
{
    return (value & (align - 1)) == 0;
}

static bool is_power_of_2(uint64_t value)
{
    return value && !(value & (value - 1));
}

static uint64_t pa_last_of(unsigned int pa_bits)
{
    return pa_bits >= 64 ? UINT64_MAX : (UINT64_C(1) << pa_bits) - 1;
}

/*
 * @size in the largest of GiB, MiB, KiB that divides it, else in bytes,
 * followed by the matching suffix of @suffix.
 */
static char *size_in_unit_str(uint64_t size, const char *const suffix[4])
{
    static const uint64_t unit[] = { GiB, MiB, KiB, 1 };
    size_t i;

    for (i = 0; i < 3 && !(size && is_aligned(size, unit[i])); i++) {
        continue;
    }
    return g_strdup_printf("%" PRIu64 "%s", size / unit[i], suffix[i]);
}

/* How a user writes @size in -m: "20G", "512M", "4K" or plain bytes. */
static char *size_option_str(uint64_t size)
{
    static const char *const suffix[] = { "G", "M", "K", "" };

    return size_in_unit_str(size, suffix);
}

/* @size for a sentence: "600 GiB", "2 MiB", "123 bytes". */
static char *size_prose_str(uint64_t size)
{
    static const char *const suffix[] = { " GiB", " MiB", " KiB", " bytes" };

    return size_in_unit_str(size, suffix);
}

/* "-m 4G" or "-m 4G,maxmem=8G,slots=2": the options that size memory. */
static char *memory_options_str(const Planner *p)
{
    g_autofree char *ram = size_option_str(p->req->ram_size);
    g_autofree char *maxram = NULL;

    if (p->dm_size == 0) {
        return g_strdup_printf("-m %s", ram);
    }
    maxram = size_option_str(p->req->maxram_size);
    return g_strdup_printf("-m %s,maxmem=%s,slots=%" PRIu64,
                           ram, maxram, p->req->ram_slots);
}

/* What an error message calls the obstacle @o. */
static char *obstacle_str(const Planner *p, const Obstacle *o)
{
    switch (o->kind) {
    case OBSTACLE_MMIO:
        return g_strdup_printf("MMIO region '%s' [0x%" PRIx64 ", 0x%" PRIx64
                               "]", safe_name(o->name), o->span.first,
                               o->span.last);
    case OBSTACLE_RESERVED:
        return g_strdup_printf("reserved region [0x%" PRIx64 ", 0x%" PRIx64
                               "] (%s) from reserved-regions", o->span.first,
                               o->span.last, o->name ? o->name : "reserved");
    case OBSTACLE_RAM:
    case OBSTACLE_RAM_GRANULE:
        return g_strdup_printf("RAM [0x%" PRIx64 ", 0x%" PRIx64 "]",
                               o->span.first, o->span.last);
    case OBSTACLE_DEVICE_MEMORY:
        if (!p->req->device_memory_base_auto) {
            return g_strdup_printf("device memory [0x%" PRIx64 ", 0x%" PRIx64
                                   "] from device-memory-base=0x%" PRIx64,
                                   o->span.first, o->span.last,
                                   p->req->device_memory_base);
        }
        return g_strdup_printf("device memory [0x%" PRIx64 ", 0x%" PRIx64
                               "]", o->span.first, o->span.last);
    case OBSTACLE_HIGH_IO:
        return g_strdup_printf("high IO region '%s' [0x%" PRIx64 ", 0x%"
                               PRIx64 "]", safe_name(o->name), o->span.first,
                               o->span.last);
    }
    return g_strdup("?");
}

static void add_obstacle(Planner *p, const AddrSpan *span, ObstacleKind kind,
                         const char *name)
{
    Obstacle o = { .span = *span, .kind = kind, .name = name };

    g_array_append_val(p->obstacles, o);
}

/*
 * The obstacle of one of @kinds that overlaps @span once widened to
 * @granule, or NULL.  Of several, the lowest and then the smallest one:
 * the most specific region to name in a message, and for a search the
 * first one in the way.  @wide receives its widened span.
 */
static const Obstacle *find_obstacle(const Planner *p, const AddrSpan *span,
                                     unsigned int kinds, uint64_t granule,
                                     AddrSpan *wide)
{
    const Obstacle *best = NULL;
    AddrSpan best_wide = { 0, 0 };
    size_t i;

    for (i = 0; i < p->obstacles->len; i++) {
        const Obstacle *o = &g_array_index(p->obstacles, Obstacle, i);
        AddrSpan w;

        if (!(o->kind & kinds)) {
            continue;
        }
        w = span_widen(&o->span, granule);
        if (!spans_overlap(&w, span)) {
            continue;
        }
        if (!best || w.first < best_wide.first ||
            (w.first == best_wide.first && w.last < best_wide.last)) {
            best = o;
            best_wide = w;
        }
    }
    if (best && wide) {
        *wide = best_wide;
    }
    return best;
}

/*
 * First fit: the lowest @align aligned span of @size bytes from @from up
 * that ends at or below @limit and overlaps no obstacle of @kinds.  Each
 * obstacle in the way moves the candidate past it, never back, so each is
 * met at most once.  On failure @found is the first candidate that crossed
 * @limit, or has last == UINT64_MAX when the search ran off the top of the
 * 64-bit space.
 */
static bool first_fit(const Planner *p, uint64_t from, uint64_t size,
                      uint64_t align, uint64_t limit, unsigned int kinds,
                      AddrSpan *found)
{
    uint64_t cand, next;
    AddrSpan wide;

    found->first = from;
    found->last = UINT64_MAX;
    if (!align_up(from, align, &cand)) {
        return false;
    }
    for (;;) {
        if (!span_of(cand, size, found)) {
            found->first = cand;
            found->last = UINT64_MAX;
            return false;
        }
        if (found->last > limit) {
            return false;
        }
        if (!find_obstacle(p, found, kinds, 1, &wide)) {
            return true;
        }
        if (!span_next(&wide, &next) || !align_up(next, align, &cand)) {
            found->last = UINT64_MAX;
            return false;
        }
    }
}

static void add_ram_bank(Planner *p, uint64_t base, uint64_t size)
{
    VirtHotmemRamBank bank = { .base = base, .size = size };
    AddrSpan span = { 0 }, wide;

    g_array_append_val(p->banks, bank);
    /* Callers checked that the bank does not wrap. */
    span_of(base, size, &span);
    add_obstacle(p, &span, OBSTACLE_RAM, NULL);
    wide = span_widen(&span, GiB);
    add_obstacle(p, &wide, OBSTACLE_RAM_GRANULE, NULL);
}

static void set_device_memory(Planner *p, const AddrSpan *footprint)
{
    p->dm_placed = true;
    p->dm_base = footprint->first;
    add_obstacle(p, footprint, OBSTACLE_DEVICE_MEMORY, NULL);
}

bool virt_hotmem_device_memory_size(uint64_t ram_size, uint64_t maxram_size,
                                    uint64_t ram_slots, uint64_t *size,
                                    char **errp)
{
    uint64_t hotplug, slack, total, footprint;

    if (maxram_size < ram_size) {
        set_error(errp, "maxmem (%" PRIu64 ") is smaller than -m (%" PRIu64
                  ")", maxram_size, ram_size);
        return false;
    }
    if (ram_slots > VIRT_HOTMEM_MAX_RAM_SLOTS) {
        set_error(errp, "slots=%" PRIu64 ": more than the %d memory slots "
                  "ACPI can describe", ram_slots, VIRT_HOTMEM_MAX_RAM_SLOTS);
        return false;
    }
    hotplug = maxram_size - ram_size;
    /* At most 256 GiB: cannot overflow. */
    slack = ram_slots * VIRT_HOTMEM_SLOT_SLACK;
    if (hotplug > UINT64_MAX - slack ||
        !align_up(hotplug + slack, VIRT_HOTMEM_DEVICE_MEMORY_ALIGN,
                  &footprint)) {
        set_error(errp, "maxmem (%" PRIu64 ") and slots=%" PRIu64 ": device "
                  "memory does not fit in the 64-bit address space",
                  maxram_size, ram_slots);
        return false;
    }
    total = hotplug + slack;
    if (size) {
        *size = total;
    }
    return true;
}

unsigned int virt_hotmem_ipa_bits(uint64_t highest_gpa)
{
    unsigned int bits = 0;

    while (bits < 64 && (highest_gpa >> bits) != 0) {
        bits++;
    }
    return bits < 32 ? 32 : bits;
}

const char *virt_hotmem_region_kind_str(VirtHotmemRegionKind kind)
{
    switch (kind) {
    case VIRT_HOTMEM_REGION_RAM:
        return "ram";
    case VIRT_HOTMEM_REGION_DEVICE_MEMORY:
        return "device-memory";
    case VIRT_HOTMEM_REGION_MMIO:
        return "mmio";
    case VIRT_HOTMEM_REGION_HIGH_MMIO:
        return "high-mmio";
    case VIRT_HOTMEM_REGION_RESERVED:
        return "reserved";
    }
    return "?";
}

/* Everything that can be checked before placing anything. */
static bool check_request(Planner *p, char **errp)
{
    const VirtHotmemRequest *req = p->req;
    size_t i;

    if (req->pa_bits < 32 || req->pa_bits > 64) {
        set_error(errp, "the physical address limit of %u bits is outside "
                  "32..64 bits", req->pa_bits);
        return false;
    }
    p->pa_last = pa_last_of(req->pa_bits);
    if (req->ram_size == 0) {
        set_error(errp, "-m 0: the RAM size must not be zero");
        return false;
    }
    if (!virt_hotmem_device_memory_size(req->ram_size, req->maxram_size,
                                        req->ram_slots, &p->dm_size, errp)) {
        return false;
    }
    /* virt_hotmem_device_memory_size() checked that this cannot fail. */
    align_up(p->dm_size, VIRT_HOTMEM_DEVICE_MEMORY_ALIGN, &p->dm_footprint);
    if (req->policy != VIRT_HOTMEM_POLICY_CONTIGUOUS &&
        req->policy != VIRT_HOTMEM_POLICY_ARM_DEN0001) {
        set_error(errp, "memory-layout: unknown policy %d", req->policy);
        return false;
    }
    if (req->n_mmio && !req->mmio) {
        set_error(errp, "virt-hotmem: the board's MMIO map is missing");
        return false;
    }
    for (i = 0; i < req->n_mmio; i++) {
        AddrSpan span;

        if (!span_of(req->mmio[i].base, req->mmio[i].size, &span) ||
            span.last >= LOW_MMIO_LIMIT) {
            set_error(errp, "virt-hotmem: board MMIO region '%s' at 0x%"
                      PRIx64 " of size 0x%" PRIx64 " is empty or does not "
                      "end below 4 GiB", safe_name(req->mmio[i].name),
                      req->mmio[i].base, req->mmio[i].size);
            return false;
        }
    }
    if (req->n_high && !req->high) {
        set_error(errp, "virt-hotmem: the board's high IO regions are "
                  "missing");
        return false;
    }
    for (i = 0; i < req->n_high; i++) {
        if (req->high[i].enabled && !is_power_of_2(req->high[i].size)) {
            set_error(errp, "virt-hotmem: high IO region '%s': size 0x%"
                      PRIx64 " is not a power of two",
                      safe_name(req->high[i].name), req->high[i].size);
            return false;
        }
    }
    if (req->n_reserved && !req->reserved) {
        set_error(errp, "reserved-regions: the region list is missing");
        return false;
    }
    if (!virt_hotmem_reserved_regions_union(req->reserved, req->n_reserved,
                                            &p->reserved, &p->n_reserved,
                                            errp)) {
        return false;
    }
    if (!req->ram_base_auto &&
        !is_aligned(req->ram_base, VIRT_HOTMEM_RAM_BASE_ALIGN)) {
        set_error(errp, "ram-base=0x%" PRIx64 ": not aligned to 2 MiB",
                  req->ram_base);
        return false;
    }
    /* Checked even without device memory: a typo is worth reporting. */
    if (!req->device_memory_base_auto &&
        !is_aligned(req->device_memory_base,
                    VIRT_HOTMEM_DEVICE_MEMORY_ALIGN)) {
        set_error(errp, "device-memory-base=0x%" PRIx64 ": not aligned to "
                  "1 GiB", req->device_memory_base);
        return false;
    }
    return true;
}

static void add_fixed_obstacles(Planner *p)
{
    size_t i;

    for (i = 0; i < p->req->n_mmio; i++) {
        AddrSpan span = { 0 };

        span_of(p->req->mmio[i].base, p->req->mmio[i].size, &span);
        add_obstacle(p, &span, OBSTACLE_MMIO, p->req->mmio[i].name);
    }
    for (i = 0; i < p->n_reserved; i++) {
        AddrSpan span = { 0 };

        span_of(p->reserved[i].base, p->reserved[i].size, &span);
        add_obstacle(p, &span, OBSTACLE_RESERVED, p->reserved[i].type);
    }
}

/* The DRAM window of memory-layout=arm-den0001 that holds @addr. */
static bool den0001_window_of(uint64_t addr, size_t *index)
{
    size_t i;

    for (i = 0; i < N_DEN0001_WINDOWS; i++) {
        if (addr >= den0001_windows[i].base &&
            addr - den0001_windows[i].base < den0001_windows[i].size) {
            *index = i;
            return true;
        }
    }
    return false;
}

/* Window @index, clipped to the address limit; false if entirely above. */
static bool den0001_window_span(const Planner *p, size_t index,
                                AddrSpan *span)
{
    const DramWindow *win = &den0001_windows[index];

    if (win->base > p->pa_last) {
        return false;
    }
    span->first = win->base;
    span->last = MIN(win->base + win->size - 1, p->pa_last);
    return true;
}

static bool place_explicit_device_memory(Planner *p, char **errp)
{
    const VirtHotmemRequest *req = p->req;
    uint64_t base = req->device_memory_base;
    g_autofree char *what = NULL;
    const Obstacle *o;
    AddrSpan dm;
    size_t w;

    if (!span_of(base, p->dm_footprint, &dm) || dm.last > p->pa_last) {
        g_autofree char *size = size_prose_str(p->dm_size);

        set_error(errp, "device-memory-base=0x%" PRIx64 ": %s of device "
                  "memory does not end below the %u-bit physical address "
                  "limit", base, size, req->pa_bits);
        return false;
    }
    if (req->policy == VIRT_HOTMEM_POLICY_ARM_DEN0001 &&
        (!den0001_window_of(dm.first, &w) ||
         dm.last - den0001_windows[w].base >= den0001_windows[w].size)) {
        set_error(errp, "device-memory-base=0x%" PRIx64 ": device memory "
                  "[0x%" PRIx64 ", 0x%" PRIx64 "] is not inside one DRAM "
                  "window of memory-layout=arm-den0001", base, dm.first,
                  dm.last);
        return false;
    }
    o = find_obstacle(p, &dm, OBSTACLE_MMIO | OBSTACLE_RESERVED, 1, NULL);
    if (o) {
        what = obstacle_str(p, o);
        set_error(errp, "device-memory-base=0x%" PRIx64 ": overlaps %s; "
                  "device memory would occupy [0x%" PRIx64 ", 0x%" PRIx64 "]",
                  base, what, dm.first, dm.last);
        return false;
    }
    set_device_memory(p, &dm);
    return true;
}

/*
 * RAM, or RAM and device memory, cannot go below the address limit.
 * @span is the part that crossed it, NULL if its end does not even fit in
 * 64 bits.
 */
static void report_memory_beyond_limit(const Planner *p,
                                       const AddrSpan *span,
                                       char **errp)
{
    g_autofree char *opts = memory_options_str(p);

    if (!span || span->last == UINT64_MAX) {
        set_error(errp, "%s: memory does not fit below the %u-bit physical "
                  "address limit", opts, p->req->pa_bits);
        return;
    }
    set_error(errp, "%s: memory ends at 0x%" PRIx64 " beyond the %u-bit "
              "physical address limit", opts, span->last + 1,
              p->req->pa_bits);
}

/*
 * ram-base=auto under memory-layout=contiguous: the lowest 2 MiB aligned
 * base from 1 GiB up such that RAM, and device memory right after it when
 * that is auto too, hit nothing.  Each obstacle in the way moves the
 * candidate past it, never back, so each is met at most once.
 */
static bool contiguous_auto_ram(Planner *p, char **errp)
{
    const unsigned int kinds = OBSTACLE_MMIO | OBSTACLE_RESERVED |
                               OBSTACLE_DEVICE_MEMORY;
    const uint64_t ram_size = p->req->ram_size;
    bool with_dm = p->dm_size && !p->dm_placed;
    uint64_t cand = VIRT_HOTMEM_LEGACY_RAM_BASE;

    for (;;) {
        AddrSpan ram, dm, wide;
        uint64_t next, dm_base, want;
        const Obstacle *o;

        if (!first_fit(p, cand, ram_size, VIRT_HOTMEM_RAM_BASE_ALIGN,
                       p->pa_last, kinds, &ram)) {
            report_memory_beyond_limit(p, ram.last == UINT64_MAX ? NULL : &ram,
                                       errp);
            return false;
        }
        cand = ram.first;
        if (!with_dm) {
            break;
        }
        if (!span_next(&ram, &next) ||
            !align_up(next, VIRT_HOTMEM_DEVICE_MEMORY_ALIGN, &dm_base) ||
            !span_of(dm_base, p->dm_footprint, &dm)) {
            report_memory_beyond_limit(p, NULL, errp);
            return false;
        }
        if (dm.last > p->pa_last) {
            report_memory_beyond_limit(p, &dm, errp);
            return false;
        }
        o = find_obstacle(p, &dm, kinds, 1, &wide);
        if (!o) {
            set_device_memory(p, &dm);
            break;
        }
        /*
         * Device memory must start at a GiB boundary @want past the
         * obstacle: the smallest RAM base whose end rounds up to @want is
         * want - 1 GiB + 1 - ram_size.  Any lower base keeps device
         * memory on the obstacle.
         */
        if (!span_next(&wide, &next) ||
            !align_up(next, VIRT_HOTMEM_DEVICE_MEMORY_ALIGN, &want)) {
            report_memory_beyond_limit(p, NULL, errp);
            return false;
        }
        next = want - VIRT_HOTMEM_DEVICE_MEMORY_ALIGN + 1;
        next = next > ram_size ? next - ram_size : 0;
        if (!align_up(next, VIRT_HOTMEM_RAM_BASE_ALIGN, &next) ||
            next <= cand) {
            report_memory_beyond_limit(p, NULL, errp);
            return false;
        }
        cand = next;
    }
    add_ram_bank(p, cand, ram_size);
    return true;
}

static bool contiguous_explicit_ram(Planner *p, char **errp)
{
    const VirtHotmemRequest *req = p->req;
    g_autofree char *what = NULL;
    const Obstacle *o;
    AddrSpan ram;

    if (!span_of(req->ram_base, req->ram_size, &ram) ||
        ram.last > p->pa_last) {
        g_autofree char *size = size_option_str(req->ram_size);

        set_error(errp, "ram-base=0x%" PRIx64 ": RAM of -m %s does not end "
                  "below the %u-bit physical address limit", req->ram_base,
                  size, req->pa_bits);
        return false;
    }
    o = find_obstacle(p, &ram, OBSTACLE_MMIO | OBSTACLE_RESERVED |
                      OBSTACLE_DEVICE_MEMORY, 1, NULL);
    if (o) {
        what = obstacle_str(p, o);
        set_error(errp, "ram-base=0x%" PRIx64 ": overlaps %s; RAM would "
                  "occupy [0x%" PRIx64 ", 0x%" PRIx64 "]", req->ram_base,
                  what, ram.first, ram.last);
        return false;
    }
    add_ram_bank(p, ram.first, req->ram_size);
    return true;
}

static void report_device_memory_beyond_limit(const Planner *p, char **errp)
{
    g_autofree char *opts = memory_options_str(p);
    g_autofree char *size = size_prose_str(p->dm_size);

    set_error(errp, "%s: %s of device memory does not fit below the %u-bit "
              "physical address limit", opts, size, p->req->pa_bits);
}

/*
 * device-memory-base=auto with an explicit ram-base: RAM is pinned, so
 * device memory takes the lowest free GiB boundary after it.
 */
static bool contiguous_float_device_memory(Planner *p, char **errp)
{
    const VirtHotmemRamBank *bank =
        &g_array_index(p->banks, VirtHotmemRamBank, 0);
    const unsigned int kinds = OBSTACLE_MMIO | OBSTACLE_RESERVED |
                               OBSTACLE_RAM;
    uint64_t next;
    AddrSpan ram = { 0 }, dm;

    span_of(bank->base, bank->size, &ram);
    if (!span_next(&ram, &next) ||
        !first_fit(p, next, p->dm_footprint, VIRT_HOTMEM_DEVICE_MEMORY_ALIGN,
                   p->pa_last, kinds, &dm)) {
        report_device_memory_beyond_limit(p, errp);
        return false;
    }
    set_device_memory(p, &dm);
    return true;
}

static bool plan_contiguous(Planner *p, char **errp)
{
    if (p->req->ram_base_auto) {
        if (!contiguous_auto_ram(p, errp)) {
            return false;
        }
    } else if (!contiguous_explicit_ram(p, errp)) {
        return false;
    }
    if (p->dm_size && !p->dm_placed) {
        return contiguous_float_device_memory(p, errp);
    }
    return true;
}

static void report_den0001_ram(const Planner *p, char **errp)
{
    g_autofree char *size = size_prose_str(p->req->ram_size);

    if (p->req->ram_base_auto) {
        set_error(errp, "memory-layout=arm-den0001: %s of RAM does not fit "
                  "the DRAM windows below the %u-bit address limit", size,
                  p->req->pa_bits);
    } else {
        set_error(errp, "memory-layout=arm-den0001: %s of RAM does not fit "
                  "the DRAM windows from ram-base=0x%" PRIx64 " below the "
                  "%u-bit address limit", size, p->req->ram_base,
                  p->req->pa_bits);
    }
}

/*
 * Fill the DRAM windows in ascending order from the first one (or from
 * ram-base), one bank per contiguous free piece.  Obstacles are widened
 * to 2 MiB so that every bank starts, and all but the last end, on a
 * 2 MiB boundary: KVM memslots and huge pages stay aligned.
 */
static bool den0001_fill_ram(Planner *p, char **errp)
{
    const VirtHotmemRequest *req = p->req;
    const unsigned int kinds = OBSTACLE_MMIO | OBSTACLE_RESERVED |
                               OBSTACLE_DEVICE_MEMORY;
    uint64_t remaining = req->ram_size;
    uint64_t cursor;
    size_t w = 0;

    if (!req->ram_base_auto) {
        if (!den0001_window_of(req->ram_base, &w)) {
            set_error(errp, "ram-base=0x%" PRIx64 ": not inside a DRAM "
                      "window of memory-layout=arm-den0001", req->ram_base);
            return false;
        }
        if (req->ram_base > p->pa_last) {
            set_error(errp, "ram-base=0x%" PRIx64 ": beyond the %u-bit "
                      "physical address limit", req->ram_base, req->pa_bits);
            return false;
        }
        cursor = req->ram_base;
    } else {
        cursor = den0001_windows[0].base;
    }

    while (remaining > 0) {
        AddrSpan win, probe, wide;
        const Obstacle *o;
        uint64_t take;

        if (w >= N_DEN0001_WINDOWS || !den0001_window_span(p, w, &win)) {
            report_den0001_ram(p, errp);
            return false;
        }
        if (cursor > win.last) {
            w++;
            if (w < N_DEN0001_WINDOWS) {
                cursor = den0001_windows[w].base;
            }
            continue;
        }
        probe.first = probe.last = cursor;
        o = find_obstacle(p, &probe, kinds, VIRT_HOTMEM_RAM_BASE_ALIGN,
                          &wide);
        if (o) {
            if (!req->ram_base_auto && p->banks->len == 0) {
                g_autofree char *what = obstacle_str(p, o);

                set_error(errp, "ram-base=0x%" PRIx64 ": overlaps %s",
                          req->ram_base, what);
                return false;
            }
            /* An obstacle up to the top of the address space ends it. */
            if (!span_next(&wide, &cursor)) {
                report_den0001_ram(p, errp);
                return false;
            }
            continue;
        }
        /* The piece ends where the next obstacle's first granule starts. */
        probe.last = win.last;
        o = find_obstacle(p, &probe, kinds, VIRT_HOTMEM_RAM_BASE_ALIGN,
                          &wide);
        if (o) {
            probe.last = wide.first - 1;
        }
        take = MIN(remaining, probe.last - cursor + 1);
        add_ram_bank(p, cursor, take);
        remaining -= take;
        cursor += take;
    }
    return true;
}

/*
 * Device memory must sit inside one window: the lowest free GiB boundary
 * after the RAM in the first window that has room for all of it.
 */
static bool den0001_auto_device_memory(Planner *p, char **errp)
{
    const VirtHotmemRamBank *last =
        &g_array_index(p->banks, VirtHotmemRamBank, p->banks->len - 1);
    const unsigned int kinds = OBSTACLE_MMIO | OBSTACLE_RESERVED |
                               OBSTACLE_RAM;
    g_autofree char *size = NULL;
    g_autofree char *maxram = NULL;
    uint64_t start = 0;
    AddrSpan win, dm;
    size_t w;

    /* Banks end below 256 TiB: neither this sum nor the rounding wraps. */
    align_up(last->base + last->size, VIRT_HOTMEM_DEVICE_MEMORY_ALIGN,
             &start);
    for (w = 0; w < N_DEN0001_WINDOWS; w++) {
        if (!den0001_window_span(p, w, &win)) {
            break;
        }
        if (win.last < start) {
            continue;
        }
        if (first_fit(p, MAX(start, win.first), p->dm_footprint,
                      VIRT_HOTMEM_DEVICE_MEMORY_ALIGN, win.last, kinds, &dm)) {
            set_device_memory(p, &dm);
            return true;
        }
    }
    size = size_prose_str(p->dm_size);
    maxram = size_option_str(p->req->maxram_size);
    set_error(errp, "memory-layout=arm-den0001: %s of device memory "
              "(maxmem=%s,slots=%" PRIu64 ") does not fit in one DRAM window "
              "after the RAM below the %u-bit address limit", size, maxram,
              p->req->ram_slots, p->req->pa_bits);
    return false;
}

static bool plan_den0001(Planner *p, char **errp)
{
    if (!den0001_fill_ram(p, errp)) {
        return false;
    }
    if (p->dm_size && !p->dm_placed) {
        return den0001_auto_device_memory(p, errp);
    }
    return true;
}

/*
 * Each high IO region, in order, at the lowest address from 256 GiB up
 * that is aligned to its size and hits nothing.  One that does not fit
 * under the address limit is disabled, not an error: upstream's compact
 * highmem layout.
 */
static void place_high_regions(Planner *p)
{
    const unsigned int kinds = OBSTACLE_MMIO | OBSTACLE_RESERVED |
                               OBSTACLE_RAM_GRANULE |
                               OBSTACLE_DEVICE_MEMORY | OBSTACLE_HIGH_IO;
    size_t i;

    p->high = g_new0(VirtHotmemHighPlacement, p->req->n_high);
    for (i = 0; i < p->req->n_high; i++) {
        const VirtHotmemHighRegion *h = &p->req->high[i];
        VirtHotmemHighPlacement *placed = &p->high[i];
        AddrSpan span;

        placed->name = g_strdup(safe_name(h->name));
        placed->size = h->size;
        if (h->enabled &&
            first_fit(p, VIRT_HOTMEM_HIGH_IO_FLOOR, h->size, h->size,
                      p->pa_last, kinds, &span)) {
            placed->base = span.first;
            placed->enabled = true;
            add_obstacle(p, &span, OBSTACLE_HIGH_IO, h->name);
        }
    }
}

static int region_cmp(const void *pa, const void *pb)
{
    const VirtHotmemRegion *a = pa;
    const VirtHotmemRegion *b = pb;

    if (a->base != b->base) {
        return a->base < b->base ? -1 : 1;
    }
    /* A container before what it contains. */
    if (a->size != b->size) {
        return a->size > b->size ? -1 : 1;
    }
    if (a->kind != b->kind) {
        return a->kind < b->kind ? -1 : 1;
    }
    return strcmp(a->name, b->name);
}

static void add_region(GArray *regions, char *name, uint64_t base,
                       uint64_t size, VirtHotmemRegionKind kind)
{
    VirtHotmemRegion r = {
        .name = name, .base = base, .size = size, .kind = kind,
    };

    g_array_append_val(regions, r);
}

static VirtHotmemLayout *build_layout(Planner *p)
{
    VirtHotmemLayout *layout = g_new0(VirtHotmemLayout, 1);
    GArray *regions = g_array_new(FALSE, FALSE, sizeof(VirtHotmemRegion));
    uint64_t highest = 0;
    size_t i;

    for (i = 0; i < p->banks->len; i++) {
        const VirtHotmemRamBank *b =
            &g_array_index(p->banks, VirtHotmemRamBank, i);

        add_region(regions, g_strdup_printf("ram%zu", i), b->base, b->size,
                   VIRT_HOTMEM_REGION_RAM);
    }
    if (p->dm_size) {
        add_region(regions, g_strdup("device-memory"), p->dm_base,
                   p->dm_size, VIRT_HOTMEM_REGION_DEVICE_MEMORY);
    }
    for (i = 0; i < p->req->n_mmio; i++) {
        const VirtHotmemMmioRegion *m = &p->req->mmio[i];

        add_region(regions, g_strdup(safe_name(m->name)), m->base, m->size,
                   VIRT_HOTMEM_REGION_MMIO);
    }
    for (i = 0; i < p->req->n_high; i++) {
        if (p->high[i].enabled) {
            add_region(regions, g_strdup(p->high[i].name), p->high[i].base,
                       p->high[i].size, VIRT_HOTMEM_REGION_HIGH_MMIO);
        }
    }
    for (i = 0; i < p->n_reserved; i++) {
        const VirtHotmemReservedRegion *r = &p->reserved[i];

        add_region(regions, g_strdup(r->type ? r->type : "reserved"),
                   r->base, r->size, VIRT_HOTMEM_REGION_RESERVED);
    }
    qsort(regions->data, regions->len, sizeof(VirtHotmemRegion), region_cmp);
    for (i = 0; i < regions->len; i++) {
        const VirtHotmemRegion *r =
            &g_array_index(regions, VirtHotmemRegion, i);

        if (r->kind != VIRT_HOTMEM_REGION_RESERVED) {
            highest = MAX(highest, r->base + (r->size - 1));
        }
    }

    layout->n_regions = regions->len;
    layout->regions = (VirtHotmemRegion *)g_array_free(regions, FALSE);
    layout->n_ram_banks = p->banks->len;
    layout->ram_banks = (VirtHotmemRamBank *)g_array_free(p->banks, FALSE);
    p->banks = NULL;
    layout->device_memory_base = p->dm_size ? p->dm_base : 0;
    layout->device_memory_size = p->dm_size;
    layout->n_high = p->req->n_high;
    layout->high = p->high;
    p->high = NULL;
    layout->highest_gpa = highest;
    layout->ipa_bits = virt_hotmem_ipa_bits(highest);
    return layout;
}

static void planner_cleanup(Planner *p)
{
    size_t i;

    if (p->high) {
        for (i = 0; i < p->req->n_high; i++) {
            g_free(p->high[i].name);
        }
        g_free(p->high);
    }
    if (p->banks) {
        g_array_free(p->banks, TRUE);
    }
    if (p->obstacles) {
        g_array_free(p->obstacles, TRUE);
    }
    virt_hotmem_reserved_regions_free(p->reserved, p->n_reserved);
}

VirtHotmemLayout *virt_hotmem_layout_plan(const VirtHotmemRequest *req,
                                          char **errp)
{
    Planner p = { .req = req };
    VirtHotmemLayout *layout = NULL;
    bool ok;

    if (!req) {
        set_error(errp, "virt-hotmem: no memory map request");
        return NULL;
    }
    p.obstacles = g_array_new(FALSE, FALSE, sizeof(Obstacle));
    p.banks = g_array_new(FALSE, FALSE, sizeof(VirtHotmemRamBank));
    if (!check_request(&p, errp)) {
        goto out;
    }
    add_fixed_obstacles(&p);
    if (p.dm_size && !req->device_memory_base_auto &&
        !place_explicit_device_memory(&p, errp)) {
        goto out;
    }
    if (req->policy == VIRT_HOTMEM_POLICY_ARM_DEN0001) {
        ok = plan_den0001(&p, errp);
    } else {
        ok = plan_contiguous(&p, errp);
    }
    if (!ok) {
        goto out;
    }
    place_high_regions(&p);
    layout = build_layout(&p);
out:
    planner_cleanup(&p);
    return layout;
}

void virt_hotmem_layout_free(VirtHotmemLayout *layout)
{
    size_t i;

    if (!layout) {
        return;
    }
    for (i = 0; i < layout->n_regions; i++) {
        g_free(layout->regions[i].name);
    }
    for (i = 0; i < layout->n_high; i++) {
        g_free(layout->high[i].name);
    }
    g_free(layout->regions);
    g_free(layout->ram_banks);
    g_free(layout->high);
    g_free(layout);
}

/* Does @layout list a region of @kind exactly at @base, @size? */
static bool layout_has_region(const VirtHotmemLayout *layout,
                              VirtHotmemRegionKind kind, uint64_t base,
                              uint64_t size)
{
    size_t i;

    for (i = 0; i < layout->n_regions; i++) {
        const VirtHotmemRegion *r = &layout->regions[i];

        if (r->kind == kind && r->base == base && r->size == size) {
            return true;
        }
    }
    return false;
}

static size_t layout_count_kind(const VirtHotmemLayout *layout,
                                VirtHotmemRegionKind kind)
{
    size_t i, n = 0;

    for (i = 0; i < layout->n_regions; i++) {
        n += layout->regions[i].kind == kind;
    }
    return n;
}

/* Is @span inside one DRAM window of memory-layout=arm-den0001? */
static bool den0001_contains(const AddrSpan *span)
{
    size_t w;

    return den0001_window_of(span->first, &w) &&
           span->last - den0001_windows[w].base < den0001_windows[w].size;
}

/* The placed regions: those the planner, not the board, positioned. */
static bool is_placed_kind(VirtHotmemRegionKind kind)
{
    return kind == VIRT_HOTMEM_REGION_RAM ||
           kind == VIRT_HOTMEM_REGION_DEVICE_MEMORY ||
           kind == VIRT_HOTMEM_REGION_HIGH_MMIO;
}

static bool check_regions(const VirtHotmemRequest *req,
                          const VirtHotmemLayout *layout, uint64_t *highest,
                          char **errp)
{
    uint64_t pa_last = pa_last_of(req->pa_bits);
    size_t i, j;

    *highest = 0;
    for (i = 0; i < layout->n_regions; i++) {
        const VirtHotmemRegion *r = &layout->regions[i];
        AddrSpan a;

        if (!r->name || !span_of(r->base, r->size, &a)) {
            set_error(errp, "region %zu is unnamed, empty or wraps", i);
            return false;
        }
        if (i > 0 && r->base < layout->regions[i - 1].base) {
            set_error(errp, "region '%s' is out of order", r->name);
            return false;
        }
        if (r->kind == VIRT_HOTMEM_REGION_RESERVED) {
            continue;
        }
        *highest = MAX(*highest, a.last);
        if (is_placed_kind(r->kind) && a.last > pa_last) {
            set_error(errp, "region '%s' ends beyond %u bits", r->name,
                      req->pa_bits);
            return false;
        }
        /* Sorted by base: only the following regions can overlap. */
        for (j = i + 1; j < layout->n_regions; j++) {
            const VirtHotmemRegion *s = &layout->regions[j];

            if (s->base > a.last) {
                break;
            }
            if (s->kind == VIRT_HOTMEM_REGION_RESERVED ||
                (r->kind == VIRT_HOTMEM_REGION_MMIO &&
                 s->kind == VIRT_HOTMEM_REGION_MMIO)) {
                continue;
            }
            set_error(errp, "regions '%s' and '%s' overlap", r->name,
                      s->name);
            return false;
        }
        if (!is_placed_kind(r->kind)) {
            continue;
        }
        /* Against the request's own regions, not the planner's copies. */
        for (j = 0; j < req->n_reserved; j++) {
            AddrSpan b;

            if (span_of(req->reserved[j].base, req->reserved[j].size, &b) &&
                spans_overlap(&a, &b)) {
                set_error(errp, "region '%s' overlaps reserved region %zu",
                          r->name, j);
                return false;
            }
        }
        for (j = 0; j < req->n_mmio; j++) {
            AddrSpan b;

            if (span_of(req->mmio[j].base, req->mmio[j].size, &b) &&
                spans_overlap(&a, &b)) {
                set_error(errp, "region '%s' overlaps MMIO region '%s'",
                          r->name, safe_name(req->mmio[j].name));
                return false;
            }
        }
    }
    if (layout_count_kind(layout, VIRT_HOTMEM_REGION_MMIO) != req->n_mmio) {
        set_error(errp, "MMIO regions missing from the map");
        return false;
    }
    return true;
}

static bool check_ram(const VirtHotmemRequest *req,
                      const VirtHotmemLayout *layout, char **errp)
{
    uint64_t sum = 0;
    size_t i;

    if (layout->n_ram_banks == 0 || !layout->ram_banks) {
        set_error(errp, "no RAM bank");
        return false;
    }
    if (req->policy == VIRT_HOTMEM_POLICY_CONTIGUOUS &&
        layout->n_ram_banks != 1) {
        set_error(errp, "memory-layout=contiguous with %zu RAM banks",
                  layout->n_ram_banks);
        return false;
    }
    if (!req->ram_base_auto && layout->ram_banks[0].base != req->ram_base) {
        set_error(errp, "RAM does not start at ram-base");
        return false;
    }
    for (i = 0; i < layout->n_ram_banks; i++) {
        const VirtHotmemRamBank *b = &layout->ram_banks[i];
        AddrSpan span;

        if (!span_of(b->base, b->size, &span) ||
            !is_aligned(b->base, VIRT_HOTMEM_RAM_BASE_ALIGN) ||
            (i + 1 < layout->n_ram_banks &&
             !is_aligned(b->size, VIRT_HOTMEM_RAM_BASE_ALIGN))) {
            set_error(errp, "RAM bank %zu is empty or misaligned", i);
            return false;
        }
        if (i > 0 && b->base <= layout->ram_banks[i - 1].base) {
            set_error(errp, "RAM banks out of order");
            return false;
        }
        if (req->policy == VIRT_HOTMEM_POLICY_ARM_DEN0001 &&
            !den0001_contains(&span)) {
            set_error(errp, "RAM bank %zu is outside the DRAM windows", i);
            return false;
        }
        if (!layout_has_region(layout, VIRT_HOTMEM_REGION_RAM, b->base,
                               b->size)) {
            set_error(errp, "RAM bank %zu missing from the map", i);
            return false;
        }
        if (b->size > UINT64_MAX - sum) {
            set_error(errp, "RAM banks overflow");
            return false;
        }
        sum += b->size;
    }
    if (sum != req->ram_size ||
        layout_count_kind(layout, VIRT_HOTMEM_REGION_RAM) !=
        layout->n_ram_banks) {
        set_error(errp, "RAM banks hold %" PRIu64 " bytes, not -m %" PRIu64,
                  sum, req->ram_size);
        return false;
    }
    return true;
}

static bool check_device_memory(const VirtHotmemRequest *req,
                                const VirtHotmemLayout *layout, char **errp)
{
    uint64_t dm_size;
    AddrSpan span;

    if (!virt_hotmem_device_memory_size(req->ram_size, req->maxram_size,
                                        req->ram_slots, &dm_size, errp)) {
        return false;
    }
    if (layout->device_memory_size != dm_size) {
        set_error(errp, "device memory of %" PRIu64 " bytes instead of %"
                  PRIu64, layout->device_memory_size, dm_size);
        return false;
    }
    if (dm_size == 0) {
        if (layout_count_kind(layout,
                              VIRT_HOTMEM_REGION_DEVICE_MEMORY) != 0) {
            set_error(errp, "device memory region without device memory");
            return false;
        }
        return true;
    }
    if (!is_aligned(layout->device_memory_base,
                    VIRT_HOTMEM_DEVICE_MEMORY_ALIGN) ||
        (!req->device_memory_base_auto &&
         layout->device_memory_base != req->device_memory_base) ||
        !span_of(layout->device_memory_base, dm_size, &span) ||
        !layout_has_region(layout, VIRT_HOTMEM_REGION_DEVICE_MEMORY,
                           layout->device_memory_base, dm_size) ||
        layout_count_kind(layout, VIRT_HOTMEM_REGION_DEVICE_MEMORY) != 1) {
        set_error(errp, "device memory misplaced");
        return false;
    }
    if (req->policy == VIRT_HOTMEM_POLICY_ARM_DEN0001 &&
        !den0001_contains(&span)) {
        set_error(errp, "device memory is not inside one DRAM window");
        return false;
    }
    return true;
}

static bool check_high(const VirtHotmemRequest *req,
                       const VirtHotmemLayout *layout, char **errp)
{
    size_t i, enabled = 0;

    if (layout->n_high != req->n_high || (req->n_high && !layout->high)) {
        set_error(errp, "%zu high IO placements for %zu regions",
                  layout->n_high, req->n_high);
        return false;
    }
    for (i = 0; i < layout->n_high; i++) {
        const VirtHotmemHighPlacement *h = &layout->high[i];

        if (!h->enabled) {
            continue;
        }
        enabled++;
        if (!req->high[i].enabled || h->size != req->high[i].size ||
            !is_power_of_2(h->size) || !is_aligned(h->base, h->size) ||
            h->base < VIRT_HOTMEM_HIGH_IO_FLOOR ||
            !layout_has_region(layout, VIRT_HOTMEM_REGION_HIGH_MMIO, h->base,
                               h->size)) {
            set_error(errp, "high IO region '%s' misplaced",
                      safe_name(h->name));
            return false;
        }
    }
    if (layout_count_kind(layout, VIRT_HOTMEM_REGION_HIGH_MMIO) != enabled) {
        set_error(errp, "stray high IO regions in the map");
        return false;
    }
    return true;
}

bool virt_hotmem_layout_check(const VirtHotmemRequest *req,
                              const VirtHotmemLayout *layout, char **errp)
{
    uint64_t highest;

    if (!req || !layout || (layout->n_regions && !layout->regions)) {
        set_error(errp, "no layout to check");
        return false;
    }
    if (req->pa_bits < 32 || req->pa_bits > 64) {
        set_error(errp, "physical address limit of %u bits", req->pa_bits);
        return false;
    }
    if (!check_regions(req, layout, &highest, errp) ||
        !check_ram(req, layout, errp) ||
        !check_device_memory(req, layout, errp) ||
        !check_high(req, layout, errp)) {
        return false;
    }
    if (layout->highest_gpa != highest ||
        layout->ipa_bits != virt_hotmem_ipa_bits(highest)) {
        set_error(errp, "highest_gpa 0x%" PRIx64 "/ipa_bits %u instead of 0x%"
                  PRIx64 "/%u", layout->highest_gpa, layout->ipa_bits,
                  highest, virt_hotmem_ipa_bits(highest));
        return false;
    }
    return true;
}
