/*
 * virt-hotmem memory-map planner
 *
 * Places RAM, device memory and the high IO regions of -M virt-hotmem
 * around the board's fixed MMIO regions and the host's reserved regions.
 * Pure (see virt-hotmem-layout.h): the board passes everything, including
 * its own constants, in a VirtHotmemRequest.
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
 *   1 GiB     +----------------------------------+ <- ram-base=auto:
             |                                  |    legacy_ram_base
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
 * memory-layout=arm-den0001 fills the DRAM windows of Arm's memory map
 * white paper (den0001_windows[] below) in ascending order, one RAM bank
 * per contiguous free piece; device memory takes the first window with
 * room after the RAM; the high IO regions go where they fit, as above.
 * docs/system/arm/virt-hotmem.rst draws that map for -m 40G,maxmem=100G.
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/host-utils.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/arm/virt-hotmem-layout.h"
#include "virt-hotmem-span.h"

/* The low MMIO map of the board must fit in the 32-bit address space. */
#define LOW_MMIO_LIMIT (4 * GiB)

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
static const struct {
    uint64_t base;
    uint64_t size;
} den0001_windows[] = {
    { 2 * GiB, 2 * GiB },                           /* 32-bit map */
    { 34 * GiB, 30 * GiB },                         /* 36-bit map */
    { 544 * GiB, 480 * GiB },                       /* 40-bit map */
    { 8704 * GiB, 7680 * GiB },                     /* 44-bit map */
    { 139264 * GiB, 122880 * GiB },                 /* 48-bit map */
};

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
    Range range;
    ObstacleKind kind;
    const char *name;       /* borrowed: MMIO/high name or reserved type */
} Obstacle;

typedef struct Planner {
    const VirtHotmemRequest *req;
    uint64_t pa_last;
    /* Device memory takes whole GiBs of address space, as upstream's. */
    uint64_t dm_footprint;
    bool dm_placed;
    GArray *obstacles;                      /* of Obstacle */
    GArray *banks;                          /* of VirtHotmemRamBank */
    VirtHotmemLayout *layout;               /* what is placed so far */
    VirtHotmemPlanFailure failure;          /* why the plan failed */
} Planner;

static const char *safe_name(const char *name)
{
    return name ? name : "?";
}

/* Widen @r to whole @granule blocks; @granule is a power of two. */
static Range range_widen(const Range *r, uint64_t granule)
{
    Range wide;

    range_set_bounds(&wide, r->lob & ~(granule - 1),
                     r->upb | (granule - 1));
    return wide;
}

/* ROUND_UP() that reports overflow; @align is a power of two. */
static bool align_up(uint64_t value, uint64_t align, uint64_t *result)
{
    if (value > UINT64_MAX - (align - 1)) {
        return false;
    }
    *result = ROUND_UP(value, align);
    return true;
}

/* What an error message calls the obstacle @o. */
static char *obstacle_str(const Planner *p, const Obstacle *o)
{
    uint64_t lob = o->range.lob, upb = o->range.upb;

    switch (o->kind) {
    case OBSTACLE_MMIO:
        return g_strdup_printf("MMIO region '%s' [0x%" PRIx64 ", 0x%" PRIx64
                               "]", safe_name(o->name), lob, upb);
    case OBSTACLE_RESERVED:
        return g_strdup_printf("reserved region [0x%" PRIx64 ", 0x%" PRIx64
                               "] (%s) from reserved-regions", lob, upb,
                               o->name ? o->name : "reserved");
    case OBSTACLE_DEVICE_MEMORY:
        if (!p->req->device_memory_base_auto) {
            return g_strdup_printf("device memory [0x%" PRIx64 ", 0x%" PRIx64
                                   "] from device-memory-base=0x%" PRIx64,
                                   lob, upb, p->req->device_memory_base);
        }
        return g_strdup_printf("device memory [0x%" PRIx64 ", 0x%" PRIx64
                               "]", lob, upb);
    case OBSTACLE_HIGH_IO:
        return g_strdup_printf("high IO region '%s' [0x%" PRIx64 ", 0x%"
                               PRIx64 "]", safe_name(o->name), lob, upb);
    default:
        return g_strdup_printf("RAM [0x%" PRIx64 ", 0x%" PRIx64 "]", lob, upb);
    }
}

static void add_obstacle(Planner *p, const Range *range, ObstacleKind kind,
                         const char *name)
{
    Obstacle o = { .range = *range, .kind = kind, .name = name };

    g_array_append_val(p->obstacles, o);
}

/*
 * The obstacle of one of @kinds that overlaps @range once widened to
 * @granule, or NULL.  Of several, the lowest and then the smallest one:
 * the most specific region to name in a message, and for a search the
 * first one in the way.  @wide receives its widened range.
 */
static const Obstacle *find_obstacle(const Planner *p, const Range *range,
                                     unsigned int kinds, uint64_t granule,
                                     Range *wide)
{
    const Obstacle *best = NULL;
    Range best_wide = { 0, 0 };
    size_t i;

    for (i = 0; i < p->obstacles->len; i++) {
        const Obstacle *o = &g_array_index(p->obstacles, Obstacle, i);
        Range w;

        if (!(o->kind & kinds)) {
            continue;
        }
        w = range_widen(&o->range, granule);
        if (!range_overlaps_range(&w, range)) {
            continue;
        }
        if (!best || w.lob < best_wide.lob ||
            (w.lob == best_wide.lob && w.upb < best_wide.upb)) {
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
 * First fit: the lowest @align aligned range of @size bytes from @from up
 * that ends at or below @limit and overlaps no obstacle of @kinds.  Each
 * obstacle in the way moves the candidate past it, never back, so each is
 * met at most once.  On failure @found is the first candidate that crossed
 * @limit, or has upb == UINT64_MAX when the search ran off the top of the
 * 64-bit space.
 */
static bool first_fit(const Planner *p, uint64_t from, uint64_t size,
                      uint64_t align, uint64_t limit, unsigned int kinds,
                      Range *found)
{
    uint64_t cand, next;
    Range wide;

    range_set_bounds(found, from, UINT64_MAX);
    if (!align_up(from, align, &cand)) {
        return false;
    }
    for (;;) {
        if (!vhm_range_of(cand, size, found)) {
            range_set_bounds(found, cand, UINT64_MAX);
            return false;
        }
        if (found->upb > limit) {
            return false;
        }
        if (!find_obstacle(p, found, kinds, 1, &wide)) {
            return true;
        }
        if (!vhm_range_next(&wide, &next) || !align_up(next, align, &cand)) {
            found->upb = UINT64_MAX;
            return false;
        }
    }
}

static void add_ram_bank(Planner *p, const Range *ram)
{
    VirtHotmemRamBank bank = {
        .base = ram->lob, .size = range_size(ram),
    };
    Range wide = range_widen(ram, GiB);

    g_array_append_val(p->banks, bank);
    add_obstacle(p, ram, OBSTACLE_RAM, NULL);
    add_obstacle(p, &wide, OBSTACLE_RAM_GRANULE, NULL);
}

static void set_device_memory(Planner *p, const Range *footprint)
{
    p->dm_placed = true;
    p->layout->device_memory_base = footprint->lob;
    add_obstacle(p, footprint, OBSTACLE_DEVICE_MEMORY, NULL);
}

static bool device_memory_placed(const Planner *p)
{
    return p->layout->device_memory_size == 0 || p->dm_placed;
}

/* "-m 4 GiB" or "-m 4 GiB, maxmem 8 GiB, slots=2": how memory was sized. */
static char *memory_options_str(const Planner *p)
{
    g_autofree char *ram = size_to_str(p->req->ram_size);
    g_autofree char *maxram = NULL;

    if (p->layout->device_memory_size == 0) {
        return g_strdup_printf("-m %s", ram);
    }
    maxram = size_to_str(p->req->maxram_size);
    return g_strdup_printf("-m %s, maxmem %s, slots=%" PRIu64, ram, maxram,
                           p->req->ram_slots);
}

/*
 * The board's part of the request, as VirtHotmemRequest documents it:
 * @pa_bits (the CPU's or the host's), @policy (a QAPI enum), the @mmio,
 * @high and @reserved tables and @legacy_ram_base.  No option of the
 * user's reaches these unchecked, so a refusal here is a bug in the board
 * (VIRT_HOTMEM_PLAN_BAD_REQUEST), which the board asserts on.  The
 * planner checks rather than asserts: it must not abort on any request
 * (tests/fuzz feeds it arbitrary ones).
 */
static bool check_board(Planner *p, Error **errp)
{
    const VirtHotmemRequest *req = p->req;
    size_t i;

    if (req->pa_bits < 32 || req->pa_bits > 64) {
        error_setg(errp, "the physical address limit of %u bits is outside "
                   "32..64 bits", req->pa_bits);
        return false;
    }
    if (req->policy != VIRT_HOTMEM_MEMORY_LAYOUT_CONTIGUOUS &&
        req->policy != VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001) {
        error_setg(errp, "memory-layout: unknown policy %d", req->policy);
        return false;
    }
    if ((req->n_mmio && !req->mmio) || (req->n_high && !req->high)) {
        error_setg(errp, "the board's MMIO map is missing");
        return false;
    }
    if (req->n_reserved && !req->reserved) {
        error_setg(errp, "the reserved region list is missing");
        return false;
    }
    if (!QEMU_IS_ALIGNED(req->legacy_ram_base, VIRT_HOTMEM_RAM_BASE_ALIGN)) {
        error_setg(errp, "the board's RAM base 0x%" PRIx64
                   " is not aligned to 2 MiB", req->legacy_ram_base);
        return false;
    }
    for (i = 0; i < req->n_mmio; i++) {
        Range r;

        if (!vhm_range_of(req->mmio[i].base, req->mmio[i].size, &r) ||
            r.upb >= LOW_MMIO_LIMIT) {
            error_setg(errp, "board MMIO region '%s' at 0x%" PRIx64
                       " of size 0x%" PRIx64 " is empty or does not "
                       "end below 4 GiB", safe_name(req->mmio[i].name),
                       req->mmio[i].base, req->mmio[i].size);
            return false;
        }
    }
    for (i = 0; i < req->n_high; i++) {
        if (req->high[i].enabled && !is_power_of_2(req->high[i].size)) {
            error_setg(errp, "high IO region '%s': size 0x%" PRIx64
                       " is not a power of two",
                       safe_name(req->high[i].name), req->high[i].size);
            return false;
        }
    }
    return true;
}

/*
 * Everything that can be checked before placing anything.  Sets the
 * device memory size: upstream virt's maxmem - ram + slots * slot slack.
 */
static bool check_request(Planner *p, Error **errp)
{
    const VirtHotmemRequest *req = p->req;
    uint64_t slack, dm_size;

    if (!check_board(p, errp)) {
        p->failure = VIRT_HOTMEM_PLAN_BAD_REQUEST;
        return false;
    }
    p->pa_last = req->pa_bits == 64 ? UINT64_MAX : BIT_ULL(req->pa_bits) - 1;
    if (req->ram_size == 0) {
        error_setg(errp, "-m 0: the RAM size must not be zero");
        return false;
    }
    if (req->maxram_size < req->ram_size) {
        error_setg(errp, "maxmem (%" PRIu64 ") is smaller than -m (%" PRIu64
                   ")", req->maxram_size, req->ram_size);
        return false;
    }
    if (req->ram_slots > req->max_ram_slots) {
        error_setg(errp, "slots=%" PRIu64 ": more than the %" PRIu64
                   " memory slots the board can describe", req->ram_slots,
                   req->max_ram_slots);
        return false;
    }
    if (umul64_overflow(req->ram_slots, req->slot_slack, &slack) ||
        uadd64_overflow(req->maxram_size - req->ram_size, slack, &dm_size) ||
        !align_up(dm_size, VIRT_HOTMEM_DEVICE_MEMORY_ALIGN,
                  &p->dm_footprint)) {
        error_setg(errp, "maxmem (%" PRIu64 ") and slots=%" PRIu64 ": device "
                   "memory does not fit in the 64-bit address space",
                   req->maxram_size, req->ram_slots);
        return false;
    }
    p->layout->device_memory_size = dm_size;
    if (!req->ram_base_auto &&
        !QEMU_IS_ALIGNED(req->ram_base, VIRT_HOTMEM_RAM_BASE_ALIGN)) {
        error_setg(errp, "ram-base=0x%" PRIx64 ": not aligned to 2 MiB",
                   req->ram_base);
        return false;
    }
    /* Checked even without device memory: a typo is worth reporting. */
    if (!req->device_memory_base_auto &&
        !QEMU_IS_ALIGNED(req->device_memory_base,
                         VIRT_HOTMEM_DEVICE_MEMORY_ALIGN)) {
        error_setg(errp, "device-memory-base=0x%" PRIx64 ": not aligned to "
                   "1 GiB", req->device_memory_base);
        return false;
    }
    return virt_hotmem_reserved_regions_union(req->reserved, req->n_reserved,
                                              &p->layout->reserved,
                                              &p->layout->n_reserved, errp);
}

/* The board's MMIO regions and the reserved ones are in every search. */
static void add_fixed_obstacles(Planner *p)
{
    VirtHotmemLayout *l = p->layout;
    size_t i;

    l->n_mmio = p->req->n_mmio;
    l->mmio = g_new0(VirtHotmemRegion, l->n_mmio);
    for (i = 0; i < l->n_mmio; i++) {
        const VirtHotmemMmioRegion *m = &p->req->mmio[i];
        Range r;

        l->mmio[i] = (VirtHotmemRegion) {
            .name = g_strdup(safe_name(m->name)), .base = m->base,
            .size = m->size, .kind = VIRT_HOTMEM_REGION_MMIO,
        };
        range_init_nofail(&r, m->base, m->size);
        add_obstacle(p, &r, OBSTACLE_MMIO, l->mmio[i].name);
    }
    for (i = 0; i < l->n_reserved; i++) {
        Range r;

        range_init_nofail(&r, l->reserved[i].base, l->reserved[i].size);
        add_obstacle(p, &r, OBSTACLE_RESERVED, l->reserved[i].type);
    }
}

/* Window @index, clipped to the address limit; false if entirely above. */
static bool den0001_window(const Planner *p, size_t index, Range *win)
{
    if (index >= ARRAY_SIZE(den0001_windows) ||
        den0001_windows[index].base > p->pa_last) {
        return false;
    }
    range_set_bounds(win, den0001_windows[index].base,
                     MIN(den0001_windows[index].base +
                         den0001_windows[index].size - 1, p->pa_last));
    return true;
}

/* The DRAM window of memory-layout=arm-den0001 that holds all of @r. */
static bool den0001_window_of(const Range *r, size_t *index)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(den0001_windows); i++) {
        Range win;

        range_init_nofail(&win, den0001_windows[i].base,
                          den0001_windows[i].size);
        if (range_contains(&win, r->lob)) {
            *index = i;
            return range_contains(&win, r->upb);
        }
    }
    return false;
}

/*
 * RAM or device memory at the address @option (ram-base=, device-memory-
 * base=) gives: below the address limit and clear of every obstacle of
 * @kinds.
 */
static bool place_explicit(Planner *p, const char *option, const char *what,
                           uint64_t base, uint64_t size, unsigned int kinds,
                           Range *placed, Error **errp)
{
    const Obstacle *o;

    if (!vhm_range_of(base, size, placed) || placed->upb > p->pa_last) {
        g_autofree char *sz = size_to_str(size);

        p->failure = VIRT_HOTMEM_PLAN_BEYOND_LIMIT;
        error_setg(errp, "%s=0x%" PRIx64 ": %s of %s does not end below the "
                   "%u-bit physical address limit", option, base, sz, what,
                   p->req->pa_bits);
        return false;
    }
    o = find_obstacle(p, placed, kinds, 1, NULL);
    if (o) {
        g_autofree char *obstacle = obstacle_str(p, o);

        error_setg(errp, "%s=0x%" PRIx64 ": overlaps %s; %s would occupy "
                   "[0x%" PRIx64 ", 0x%" PRIx64 "]", option, base, obstacle,
                   what, placed->lob, placed->upb);
        return false;
    }
    return true;
}

static bool place_explicit_device_memory(Planner *p, Error **errp)
{
    uint64_t base = p->req->device_memory_base;
    Range dm;
    size_t w;

    if (!place_explicit(p, "device-memory-base", "device memory", base,
                        p->dm_footprint, OBSTACLE_MMIO | OBSTACLE_RESERVED,
                        &dm, errp)) {
        return false;
    }
    if (p->req->policy == VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001 &&
        !den0001_window_of(&dm, &w)) {
        error_setg(errp, "device-memory-base=0x%" PRIx64 ": device memory "
                   "[0x%" PRIx64 ", 0x%" PRIx64 "] is not inside one DRAM "
                   "window of memory-layout=arm-den0001", base,
                   dm.lob, dm.upb);
        return false;
    }
    set_device_memory(p, &dm);
    return true;
}

/*
 * RAM, or RAM and device memory, cannot go below the address limit.
 * @r is the part that crossed it, NULL if its end does not even fit in
 * 64 bits.
 */
static void report_memory_beyond_limit(Planner *p, const Range *r,
                                       Error **errp)
{
    g_autofree char *sizes = memory_options_str(p);

    p->failure = VIRT_HOTMEM_PLAN_BEYOND_LIMIT;
    if (!r || r->upb == UINT64_MAX) {
        error_setg(errp, "%s: memory does not fit below the %u-bit physical "
                   "address limit", sizes, p->req->pa_bits);
        return;
    }
    error_setg(errp, "%s: memory ends at 0x%" PRIx64 " beyond the %u-bit "
               "physical address limit", sizes, r->upb + 1,
               p->req->pa_bits);
}

/*
 * ram-base=auto under memory-layout=contiguous: the lowest 2 MiB aligned
 * base from the board's RAM base up such that RAM, and device memory
 * right after it when that is auto too, hit nothing.  Each obstacle in
 * the way moves the candidate past it, never back, so each is met at
 * most once.
 */
static bool contiguous_auto_ram(Planner *p, Error **errp)
{
    const unsigned int kinds = OBSTACLE_MMIO | OBSTACLE_RESERVED |
                               OBSTACLE_DEVICE_MEMORY;
    bool with_dm = !device_memory_placed(p);
    uint64_t cand = p->req->legacy_ram_base;
    Range ram, dm, wide;

    for (;;) {
        uint64_t next, dm_base, want;

        if (!first_fit(p, cand, p->req->ram_size, VIRT_HOTMEM_RAM_BASE_ALIGN,
                       p->pa_last, kinds, &ram)) {
            report_memory_beyond_limit(p, &ram, errp);
            return false;
        }
        cand = ram.lob;
        if (!with_dm) {
            break;
        }
        if (!vhm_range_next(&ram, &next) ||
            !align_up(next, VIRT_HOTMEM_DEVICE_MEMORY_ALIGN, &dm_base) ||
            !vhm_range_of(dm_base, p->dm_footprint, &dm)) {
            report_memory_beyond_limit(p, NULL, errp);
            return false;
        }
        if (dm.upb > p->pa_last) {
            report_memory_beyond_limit(p, &dm, errp);
            return false;
        }
        if (!find_obstacle(p, &dm, kinds, 1, &wide)) {
            set_device_memory(p, &dm);
            break;
        }
        /*
         * Device memory must start at a GiB boundary @want past the
         * obstacle: the smallest RAM base whose end rounds up to @want is
         * want - 1 GiB + 1 - ram_size.  Any lower base keeps device
         * memory on the obstacle.
         */
        if (!vhm_range_next(&wide, &next) ||
            !align_up(next, VIRT_HOTMEM_DEVICE_MEMORY_ALIGN, &want)) {
            report_memory_beyond_limit(p, NULL, errp);
            return false;
        }
        next = want - VIRT_HOTMEM_DEVICE_MEMORY_ALIGN + 1;
        next = next > p->req->ram_size ? next - p->req->ram_size : 0;
        if (!align_up(next, VIRT_HOTMEM_RAM_BASE_ALIGN, &next) ||
            next <= cand) {
            report_memory_beyond_limit(p, NULL, errp);
            return false;
        }
        cand = next;
    }
    add_ram_bank(p, &ram);
    return true;
}

/*
 * memory-layout=contiguous: one RAM bank; auto device memory right after
 * it, or with an explicit ram-base at the lowest free GiB boundary after.
 */
static bool plan_contiguous(Planner *p, Error **errp)
{
    Range ram, dm;
    uint64_t next;

    if (p->req->ram_base_auto) {
        if (!contiguous_auto_ram(p, errp)) {
            return false;
        }
    } else {
        if (!place_explicit(p, "ram-base", "RAM", p->req->ram_base,
                            p->req->ram_size, OBSTACLE_MMIO |
                            OBSTACLE_RESERVED | OBSTACLE_DEVICE_MEMORY,
                            &ram, errp)) {
            return false;
        }
        add_ram_bank(p, &ram);
    }
    if (device_memory_placed(p)) {
        return true;
    }
    range_init_nofail(&ram, g_array_index(p->banks, VirtHotmemRamBank, 0).base,
                      p->req->ram_size);
    if (!vhm_range_next(&ram, &next) ||
        !first_fit(p, next, p->dm_footprint, VIRT_HOTMEM_DEVICE_MEMORY_ALIGN,
                   p->pa_last, OBSTACLE_MMIO | OBSTACLE_RESERVED |
                   OBSTACLE_RAM, &dm)) {
        g_autofree char *sizes = memory_options_str(p);

        p->failure = VIRT_HOTMEM_PLAN_BEYOND_LIMIT;
        error_setg(errp, "%s: device memory does not fit below the %u-bit "
                   "physical address limit", sizes, p->req->pa_bits);
        return false;
    }
    set_device_memory(p, &dm);
    return true;
}

static void report_den0001_ram(Planner *p, Error **errp)
{
    g_autofree char *size = size_to_str(p->req->ram_size);
    g_autofree char *from = p->req->ram_base_auto ? g_strdup("") :
        g_strdup_printf(" from ram-base=0x%" PRIx64, p->req->ram_base);

    p->failure = VIRT_HOTMEM_PLAN_BEYOND_LIMIT;
    error_setg(errp, "memory-layout=arm-den0001: %s of RAM does not fit the "
               "DRAM windows%s below the %u-bit address limit", size, from,
               p->req->pa_bits);
}

/*
 * Fill the DRAM windows in ascending order from the first one (or from
 * ram-base), one bank per contiguous free piece.  Obstacles are widened
 * to 2 MiB so that every bank starts, and all but the last end, on a
 * 2 MiB boundary: KVM memslots and huge pages stay aligned.
 */
static bool den0001_fill_ram(Planner *p, Error **errp)
{
    const VirtHotmemRequest *req = p->req;
    const unsigned int kinds = OBSTACLE_MMIO | OBSTACLE_RESERVED |
                               OBSTACLE_DEVICE_MEMORY;
    uint64_t remaining = req->ram_size;
    uint64_t cursor = den0001_windows[0].base;
    size_t w = 0;
    Range win, probe, wide;

    if (!req->ram_base_auto) {
        range_set_bounds(&probe, req->ram_base, req->ram_base);
        if (!den0001_window_of(&probe, &w)) {
            error_setg(errp, "ram-base=0x%" PRIx64 ": not inside a DRAM "
                       "window of memory-layout=arm-den0001", req->ram_base);
            return false;
        }
        if (req->ram_base > p->pa_last) {
            p->failure = VIRT_HOTMEM_PLAN_BEYOND_LIMIT;
            error_setg(errp, "ram-base=0x%" PRIx64 ": beyond the %u-bit "
                       "physical address limit", req->ram_base, req->pa_bits);
            return false;
        }
        cursor = req->ram_base;
    }

    while (remaining > 0) {
        const Obstacle *o;

        if (!den0001_window(p, w, &win)) {
            report_den0001_ram(p, errp);
            return false;
        }
        if (cursor > win.upb) {
            if (++w < ARRAY_SIZE(den0001_windows)) {
                cursor = den0001_windows[w].base;
            }
            continue;
        }
        range_set_bounds(&probe, cursor, cursor);
        o = find_obstacle(p, &probe, kinds, VIRT_HOTMEM_RAM_BASE_ALIGN, &wide);
        if (o) {
            if (!req->ram_base_auto && p->banks->len == 0) {
                g_autofree char *obstacle = obstacle_str(p, o);

                error_setg(errp, "ram-base=0x%" PRIx64 ": overlaps %s",
                           req->ram_base, obstacle);
                return false;
            }
            /* An obstacle up to the top of the address space ends it. */
            if (!vhm_range_next(&wide, &cursor)) {
                report_den0001_ram(p, errp);
                return false;
            }
            continue;
        }
        /* The piece ends where the next obstacle's first granule starts. */
        range_set_bounds(&probe, cursor, win.upb);
        if (find_obstacle(p, &probe, kinds, VIRT_HOTMEM_RAM_BASE_ALIGN,
                          &wide)) {
            probe.upb = wide.lob - 1;
        }
        range_init_nofail(&probe, cursor, MIN(remaining, range_size(&probe)));
        add_ram_bank(p, &probe);
        remaining -= range_size(&probe);
        cursor += range_size(&probe);
    }
    return true;
}

/*
 * memory-layout=arm-den0001: RAM first; device memory must sit inside one
 * window: the lowest free GiB boundary after the RAM in the first window
 * that has room for all of it.
 */
static bool plan_den0001(Planner *p, Error **errp)
{
    const VirtHotmemRamBank *last;
    g_autofree char *dm_size = NULL;
    g_autofree char *maxram = NULL;
    uint64_t start = 0;
    Range win, dm;
    size_t w;

    if (!den0001_fill_ram(p, errp)) {
        return false;
    }
    if (device_memory_placed(p)) {
        return true;
    }
    last = &g_array_index(p->banks, VirtHotmemRamBank, p->banks->len - 1);
    /* Banks end below 256 TiB: neither this sum nor the rounding wraps. */
    align_up(last->base + last->size, VIRT_HOTMEM_DEVICE_MEMORY_ALIGN, &start);
    for (w = 0; den0001_window(p, w, &win); w++) {
        if (win.upb >= start &&
            first_fit(p, MAX(start, win.lob), p->dm_footprint,
                      VIRT_HOTMEM_DEVICE_MEMORY_ALIGN, win.upb,
                      OBSTACLE_MMIO | OBSTACLE_RESERVED | OBSTACLE_RAM,
                      &dm)) {
            set_device_memory(p, &dm);
            return true;
        }
    }
    dm_size = size_to_str(p->layout->device_memory_size);
    maxram = size_to_str(p->req->maxram_size);
    p->failure = VIRT_HOTMEM_PLAN_BEYOND_LIMIT;
    error_setg(errp, "memory-layout=arm-den0001: %s of device memory (maxmem "
               "%s, slots=%" PRIu64 ") does not fit in one DRAM window after "
               "the RAM below the %u-bit address limit", dm_size, maxram,
               p->req->ram_slots, p->req->pa_bits);
    return false;
}

/*
 * Each high IO region, in order, at the lowest address from the board's
 * floor up that is aligned to its size and hits nothing.  One that does
 * not fit under the address limit is disabled, not an error: upstream's
 * compact highmem layout.
 */
static void place_high_regions(Planner *p)
{
    const unsigned int kinds = OBSTACLE_MMIO | OBSTACLE_RESERVED |
                               OBSTACLE_RAM_GRANULE |
                               OBSTACLE_DEVICE_MEMORY | OBSTACLE_HIGH_IO;
    VirtHotmemLayout *l = p->layout;
    size_t i;

    l->n_high = p->req->n_high;
    l->high = g_new0(VirtHotmemHighPlacement, l->n_high);
    for (i = 0; i < l->n_high; i++) {
        const VirtHotmemHighRegion *h = &p->req->high[i];
        VirtHotmemHighPlacement *placed = &l->high[i];
        Range r;

        placed->name = g_strdup(safe_name(h->name));
        placed->size = h->size;
        if (h->enabled &&
            first_fit(p, p->req->high_io_floor, h->size, h->size, p->pa_last,
                      kinds, &r)) {
            placed->base = r.lob;
            placed->enabled = true;
            add_obstacle(p, &r, OBSTACLE_HIGH_IO, placed->name);
        }
    }
}

VirtHotmemLayout *virt_hotmem_layout_try_plan(const VirtHotmemRequest *req,
                                              VirtHotmemPlanFailure *failure,
                                              Error **errp)
{
    Planner p = { .req = req, .failure = VIRT_HOTMEM_PLAN_REFUSED };
    VirtHotmemLayout *layout = g_new0(VirtHotmemLayout, 1);
    bool ok;

    p.layout = layout;
    p.obstacles = g_array_new(FALSE, FALSE, sizeof(Obstacle));
    p.banks = g_array_new(FALSE, FALSE, sizeof(VirtHotmemRamBank));
    ok = check_request(&p, errp);
    if (ok) {
        add_fixed_obstacles(&p);
        ok = device_memory_placed(&p) || req->device_memory_base_auto ||
             place_explicit_device_memory(&p, errp);
    }
    if (ok) {
        ok = req->policy == VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001 ?
             plan_den0001(&p, errp) : plan_contiguous(&p, errp);
    }
    if (ok) {
        place_high_regions(&p);
    }
    layout->n_ram_banks = p.banks->len;
    layout->ram_banks = (VirtHotmemRamBank *)g_array_free(p.banks, FALSE);
    g_array_free(p.obstacles, TRUE);
    if (!ok) {
        *failure = p.failure;
        virt_hotmem_layout_free(layout);
        return NULL;
    }
    return layout;
}

VirtHotmemLayout *virt_hotmem_layout_plan(const VirtHotmemRequest *req,
                                          Error **errp)
{
    VirtHotmemPlanFailure failure;

    return virt_hotmem_layout_try_plan(req, &failure, errp);
}

void virt_hotmem_layout_free(VirtHotmemLayout *layout)
{
    size_t i;

    if (!layout) {
        return;
    }
    for (i = 0; i < layout->n_mmio; i++) {
        g_free(layout->mmio[i].name);
    }
    for (i = 0; i < layout->n_high; i++) {
        g_free(layout->high[i].name);
    }
    virt_hotmem_reserved_regions_free(layout->reserved, layout->n_reserved);
    g_free(layout->ram_banks);
    g_free(layout->high);
    g_free(layout->mmio);
    g_free(layout);
}

static void region_clear(gpointer data)
{
    g_free(((VirtHotmemRegion *)data)->name);
}

static void add_region(GArray *regions, char *name, uint64_t base,
                       uint64_t size, VirtHotmemRegionKind kind)
{
    VirtHotmemRegion r = {
        .name = name, .base = base, .size = size, .kind = kind,
    };

    g_array_append_val(regions, r);
}

static gint region_cmp(gconstpointer pa, gconstpointer pb)
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

GArray *virt_hotmem_layout_regions(const VirtHotmemLayout *layout)
{
    GArray *regions = g_array_new(FALSE, FALSE, sizeof(VirtHotmemRegion));
    size_t i;

    g_array_set_clear_func(regions, region_clear);
    for (i = 0; i < layout->n_ram_banks; i++) {
        add_region(regions, g_strdup_printf("ram%zu", i),
                   layout->ram_banks[i].base, layout->ram_banks[i].size,
                   VIRT_HOTMEM_REGION_RAM);
    }
    if (layout->device_memory_size) {
        add_region(regions, g_strdup("device-memory"),
                   layout->device_memory_base, layout->device_memory_size,
                   VIRT_HOTMEM_REGION_DEVICE_MEMORY);
    }
    for (i = 0; i < layout->n_mmio; i++) {
        add_region(regions, g_strdup(layout->mmio[i].name),
                   layout->mmio[i].base, layout->mmio[i].size,
                   VIRT_HOTMEM_REGION_MMIO);
    }
    for (i = 0; i < layout->n_high; i++) {
        if (layout->high[i].enabled) {
            add_region(regions, g_strdup(layout->high[i].name),
                       layout->high[i].base, layout->high[i].size,
                       VIRT_HOTMEM_REGION_HIGH_MMIO);
        }
    }
    for (i = 0; i < layout->n_reserved; i++) {
        const VirtHotmemReservedRegion *r = &layout->reserved[i];

        add_region(regions, g_strdup(r->type ? r->type : "reserved"),
                   r->base, r->size, VIRT_HOTMEM_REGION_RESERVED);
    }
    g_array_sort(regions, region_cmp);
    return regions;
}

/* Every region's size is at least 1: its last byte does not wrap. */
static uint64_t last_byte(uint64_t base, uint64_t size)
{
    return base + (size - 1);
}

uint64_t virt_hotmem_layout_highest_gpa(const VirtHotmemLayout *layout)
{
    uint64_t highest = 0;
    size_t i;

    for (i = 0; i < layout->n_ram_banks; i++) {
        highest = MAX(highest, last_byte(layout->ram_banks[i].base,
                                         layout->ram_banks[i].size));
    }
    if (layout->device_memory_size) {
        highest = MAX(highest, last_byte(layout->device_memory_base,
                                         layout->device_memory_size));
    }
    for (i = 0; i < layout->n_mmio; i++) {
        highest = MAX(highest, last_byte(layout->mmio[i].base,
                                         layout->mmio[i].size));
    }
    for (i = 0; i < layout->n_high; i++) {
        if (layout->high[i].enabled) {
            highest = MAX(highest, last_byte(layout->high[i].base,
                                             layout->high[i].size));
        }
    }
    /* Reserved regions are the host's, not part of the guest's map */
    return highest;
}

unsigned int virt_hotmem_layout_ipa_bits(const VirtHotmemLayout *layout)
{
    return MAX(32, 64 - clz64(virt_hotmem_layout_highest_gpa(layout)));
}

bool virt_hotmem_layout_find_free(const VirtHotmemLayout *layout,
                                  uint64_t size, uint64_t align,
                                  uint64_t limit, uint64_t *base)
{
    g_autoptr(GArray) regions = virt_hotmem_layout_regions(layout);
    uint64_t candidate = 0;
    size_t i;

    if (!size || !is_power_of_2(align)) {
        return false;
    }
    /* Sorted by base: the first region past the candidate's end ends it */
    for (i = 0; i < regions->len; i++) {
        const VirtHotmemRegion *r =
            &g_array_index(regions, VirtHotmemRegion, i);
        uint64_t end = last_byte(r->base, r->size);

        if (size > limit || candidate > limit - size) {
            return false;
        }
        if (r->base >= candidate + size) {
            break;
        }
        if (end >= candidate) {
            if (end == UINT64_MAX ||
                !align_up(end + 1, align, &candidate)) {
                return false;
            }
        }
    }
    if (size > limit || candidate > limit - size) {
        return false;
    }
    *base = candidate;
    return true;
}
