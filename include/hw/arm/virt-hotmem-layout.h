/*
 * virt-hotmem memory-map planner
 *
 * Decides where RAM, hotpluggable device memory and the high IO regions
 * of the -M virt-hotmem machine sit in the guest physical address space.
 * Pure: no QOM, no global state, only QEMU's utility library (Error,
 * Range, size_to_str), so that the unit tests and a libFuzzer target link
 * it with libqemuutil alone and can call it millions of times.  It never
 * asserts on its input: every request gets a layout or one Error whose
 * message names the option at fault, e.g.
 * "ram-base=0x40100000: not aligned to 2 MiB", or, for a board that
 * breaks the request's contract (VIRT_HOTMEM_PLAN_BAD_REQUEST), what it
 * got wrong.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_ARM_VIRT_HOTMEM_LAYOUT_H
#define HW_ARM_VIRT_HOTMEM_LAYOUT_H

#include "hw/arm/virt-hotmem-reserved.h"
/*
 * The policy (VirtHotmemMemoryLayout) is the memory-layout property's
 * QAPI enum itself.  memory-layout.json is a target-independent QAPI
 * module, so its generated types are part of QEMU's util library, which
 * the planner links with anyway.
 */
#include "qapi/qapi-types-memory-layout.h"

/*
 * ram-base must be 2 MiB aligned: the arm64 boot protocol places the
 * kernel Image at a 2 MiB aligned offset from the start of RAM.
 */
#define VIRT_HOTMEM_RAM_BASE_ALIGN      (UINT64_C(2) << 20)

/*
 * device-memory-base must be 1 GiB aligned, as upstream virt's is, so that
 * DIMMs can be backed and mapped with 1 GiB pages.
 */
#define VIRT_HOTMEM_DEVICE_MEMORY_ALIGN (UINT64_C(1) << 30)

/**
 * VirtHotmemRegionKind:
 * @VIRT_HOTMEM_REGION_RAM: one bank of boot RAM.
 * @VIRT_HOTMEM_REGION_DEVICE_MEMORY: the hotplug area for DIMMs.
 * @VIRT_HOTMEM_REGION_MMIO: a fixed low MMIO region of the board.
 * @VIRT_HOTMEM_REGION_HIGH_MMIO: a high IO region placed by the planner.
 * @VIRT_HOTMEM_REGION_RESERVED: a host reserved region: not guest-visible,
 *   listed so that the map can be printed and checked as a whole.
 *
 * What a #VirtHotmemRegion of a layout is.
 */
typedef enum VirtHotmemRegionKind {
    VIRT_HOTMEM_REGION_RAM,
    VIRT_HOTMEM_REGION_DEVICE_MEMORY,
    VIRT_HOTMEM_REGION_MMIO,
    VIRT_HOTMEM_REGION_HIGH_MMIO,
    VIRT_HOTMEM_REGION_RESERVED,
} VirtHotmemRegionKind;

/**
 * VirtHotmemMmioRegion:
 * @name: the region's name, used in error messages.
 * @base: first byte.
 * @size: size in bytes, not 0; the region must end below 4 GiB.
 *
 * One fixed low MMIO region of the board (an entry of virt's base_memmap).
 * Regions may nest, e.g. the CPU peripherals block around the GIC.
 */
typedef struct VirtHotmemMmioRegion {
    const char *name;
    uint64_t base;
    uint64_t size;
} VirtHotmemMmioRegion;

/**
 * VirtHotmemHighRegion:
 * @name: the region's name, e.g. "pcie-mmio-high".
 * @size: size in bytes, a power of two; the region is aligned to it.
 * @enabled: false if the board does not want the region at all.
 *
 * One high IO region that the planner places above the RAM.
 */
typedef struct VirtHotmemHighRegion {
    const char *name;
    uint64_t size;
    bool enabled;
} VirtHotmemHighRegion;

/**
 * VirtHotmemRequest:
 * @ram_size: -m, the boot RAM size in bytes; not 0.
 * @maxram_size: -m maxmem=, at least @ram_size.
 * @ram_slots: -m slots=, at most @max_ram_slots.
 * @ram_base_auto: true for ram-base=auto; @ram_base is then ignored.
 * @ram_base: an explicit ram-base, 2 MiB aligned.
 * @device_memory_base_auto: true for device-memory-base=auto.
 * @device_memory_base: an explicit device-memory-base, 1 GiB aligned;
 *   only its alignment is checked when there is no device memory.
 * @policy: memory-layout=.
 * @mmio: the board's fixed low MMIO regions, all below 4 GiB.
 * @n_mmio: number of entries in @mmio.
 * @high: the high IO regions, placed in this order.
 * @n_high: number of entries in @high.
 * @reserved: the reserved regions, in any order, possibly overlapping.
 * @n_reserved: number of entries in @reserved.
 * @pa_bits: the guest physical address limit in bits, 32 to 64: the CPU's
 *   PARange under TCG, the host's maximum IPA size under KVM.
 * @legacy_ram_base: the board's: where its own RAM starts, and where
 *   ram-base=auto starts looking (virt: 1 GiB); 2 MiB aligned.
 * @high_io_floor: the board's: no high IO region goes below it (virt:
 *   256 GiB, the end of its legacy RAM area, so small guests keep the
 *   board's own map).
 * @slot_slack: the board's: device memory it adds per memory slot for
 *   alignment (virt: 1 GiB).
 * @max_ram_slots: the board's: the most memory slots it can describe
 *   (virt: ACPI_MAX_RAM_SLOTS).
 *
 * Everything virt_hotmem_layout_plan() needs; the planner only reads it.
 */
typedef struct VirtHotmemRequest {
    uint64_t ram_size;
    uint64_t maxram_size;
    uint64_t ram_slots;
    bool ram_base_auto;
    uint64_t ram_base;
    bool device_memory_base_auto;
    uint64_t device_memory_base;
    VirtHotmemMemoryLayout policy;
    const VirtHotmemMmioRegion *mmio;
    size_t n_mmio;
    const VirtHotmemHighRegion *high;
    size_t n_high;
    const VirtHotmemReservedRegion *reserved;
    size_t n_reserved;
    unsigned int pa_bits;
    uint64_t legacy_ram_base;
    uint64_t high_io_floor;
    uint64_t slot_slack;
    uint64_t max_ram_slots;
} VirtHotmemRequest;

/**
 * VirtHotmemRegion:
 * @name: "ram0", "ram1"..., "device-memory", the MMIO or high IO region's
 *   name, or the reserved region's type.
 * @base: first byte.
 * @size: size in bytes, not 0.
 * @kind: what the region is.
 *
 * One region of a planned map, as virt_hotmem_layout_regions() lists it.
 */
typedef struct VirtHotmemRegion {
    char *name;
    uint64_t base;
    uint64_t size;
    VirtHotmemRegionKind kind;
} VirtHotmemRegion;

/**
 * VirtHotmemRamBank:
 * @base: first byte, 2 MiB aligned.
 * @size: size in bytes; all banks but the last end on a 2 MiB boundary.
 *
 * One contiguous piece of boot RAM.  The machine maps bank i at @base as
 * an alias of the RAM block at offset (sum of the sizes of banks 0..i-1).
 */
typedef struct VirtHotmemRamBank {
    uint64_t base;
    uint64_t size;
} VirtHotmemRamBank;

/**
 * VirtHotmemHighPlacement:
 * @name: the high IO region's name.
 * @base: where it was placed; 0 when it is not enabled.
 * @size: its size.
 * @enabled: false if the board disabled it or it did not fit under the
 *   physical address limit (upstream's "compact highmem" behaviour).
 *
 * The fate of one #VirtHotmemHighRegion, in the request's order.
 */
typedef struct VirtHotmemHighPlacement {
    char *name;
    uint64_t base;
    uint64_t size;
    bool enabled;
} VirtHotmemHighPlacement;

/**
 * VirtHotmemLayout:
 * @ram_banks: the boot RAM banks in ascending order, at least one.
 * @n_ram_banks: number of entries in @ram_banks.
 * @device_memory_base: base of the device memory area, 0 if there is none.
 * @device_memory_size: its size; 0 means no device memory.
 * @high: one entry per #VirtHotmemRequest.high entry, in the same order.
 * @n_high: number of entries in @high.
 * @mmio: the board's fixed MMIO regions, copied from the request.
 * @n_mmio: number of entries in @mmio.
 * @reserved: the union (virt_hotmem_reserved_regions_union()) of the
 *   request's reserved regions.
 * @n_reserved: number of entries in @reserved.
 *
 * A planned memory map: each fact once.  What follows from it (the sorted
 * region list, the highest address, the IPA size) is computed on demand
 * by the functions below.  RAM, device memory and high IO regions overlap
 * neither each other, nor an MMIO region, nor a reserved region, and end
 * below 2^pa_bits.  MMIO regions are the board's business: they may nest,
 * and a reserved region may overlap them (the host MSI window at
 * 0x8000000 usually covers virt's GIC).  Free with
 * virt_hotmem_layout_free().
 */
typedef struct VirtHotmemLayout {
    VirtHotmemRamBank *ram_banks;
    size_t n_ram_banks;
    uint64_t device_memory_base;
    uint64_t device_memory_size;
    VirtHotmemHighPlacement *high;
    size_t n_high;
    VirtHotmemRegion *mmio;
    size_t n_mmio;
    VirtHotmemReservedRegion *reserved;
    size_t n_reserved;
} VirtHotmemLayout;

/**
 * virt_hotmem_layout_plan:
 * @req: what the user asked for and what the board and host impose.
 * @errp: pointer to a NULL-initialised error object.
 *
 * Plans the memory map.  Under memory-layout=contiguous with ram-base and
 * device-memory-base auto and no reserved region, the result is exactly
 * upstream virt's: RAM at @legacy_ram_base, device memory at the next 1 GiB
 * boundary after it, the high IO regions from @high_io_floor (or the end of
 * device memory) upwards, each aligned to its size.  A reserved region in
 * the way moves RAM and device memory up together; with an explicit
 * ram-base, auto device memory takes the next free 1 GiB boundary after
 * RAM instead.
 *
 * Under memory-layout=arm-den0001, RAM fills the DRAM windows 2 GiB at
 * 2 GiB, 30 GiB at 34 GiB, 480 GiB at 544 GiB, 7.5 TiB at 8.5 TiB and
 * 120 TiB at 136 TiB in that order (from ram-base's window if explicit),
 * one bank per piece between reserved regions; device memory takes the
 * lowest free 1 GiB boundary after the RAM in the first window that holds
 * all of it.
 *
 * The high IO regions avoid any 1 GiB block that holds RAM, so that RAM
 * can be mapped with 1 GiB blocks; device memory takes whole GiBs too.
 *
 * Returns: the layout, to free with virt_hotmem_layout_free(); NULL on
 * error, with a message naming the option at fault in @errp.
 */
VirtHotmemLayout *virt_hotmem_layout_plan(const VirtHotmemRequest *req,
                                          Error **errp);

/**
 * VirtHotmemPlanFailure:
 * @VIRT_HOTMEM_PLAN_REFUSED: the request cannot be honoured; the message
 *   names the option at fault.
 * @VIRT_HOTMEM_PLAN_BEYOND_LIMIT: RAM or device memory does not fit below
 *   the request's @pa_bits; the message names the limit, which the board
 *   may want to explain (where its @pa_bits comes from).
 * @VIRT_HOTMEM_PLAN_BAD_REQUEST: the board's part of the request (@pa_bits
 *   outside 32..64, an unknown @policy, a missing table, an @mmio region
 *   that is empty or not below 4 GiB, a @high size that is not a power of
 *   two, an unaligned @legacy_ram_base) breaks what is documented above:
 *   a bug in the board, not the user's doing.
 *
 * Why virt_hotmem_layout_try_plan() refused a request.
 */
typedef enum VirtHotmemPlanFailure {
    VIRT_HOTMEM_PLAN_REFUSED,
    VIRT_HOTMEM_PLAN_BEYOND_LIMIT,
    VIRT_HOTMEM_PLAN_BAD_REQUEST,
} VirtHotmemPlanFailure;

/**
 * virt_hotmem_layout_try_plan:
 * @req: as for virt_hotmem_layout_plan().
 * @failure: set to why the request was refused when the result is NULL.
 * @errp: pointer to a NULL-initialised error object.
 *
 * virt_hotmem_layout_plan() that also says why it refused.
 *
 * Returns: as virt_hotmem_layout_plan().
 */
VirtHotmemLayout *virt_hotmem_layout_try_plan(const VirtHotmemRequest *req,
                                              VirtHotmemPlanFailure *failure,
                                              Error **errp);

/**
 * virt_hotmem_layout_free:
 * @layout: a layout from virt_hotmem_layout_plan(), or NULL.
 *
 * Frees @layout and everything it owns.
 */
void virt_hotmem_layout_free(VirtHotmemLayout *layout);

/**
 * virt_hotmem_layout_highest_gpa:
 * @layout: a planned layout.
 *
 * Returns: the last byte of the highest guest-visible region (RAM, device
 * memory, MMIO or an enabled high IO region).  Upstream virt rounds the
 * end of device memory up to 1 GiB here; the IPA size that follows is the
 * same either way.
 */
uint64_t virt_hotmem_layout_highest_gpa(const VirtHotmemLayout *layout);

/**
 * virt_hotmem_layout_ipa_bits:
 * @layout: a planned layout.
 *
 * Returns: the IPA size needed to address
 * virt_hotmem_layout_highest_gpa(), at least 32 (the smallest IPA size
 * KVM accepts and the smallest Arm PARange).
 */
unsigned int virt_hotmem_layout_ipa_bits(const VirtHotmemLayout *layout);

/**
 * virt_hotmem_layout_regions:
 * @layout: a planned layout.
 *
 * Returns: a new array of every #VirtHotmemRegion of @layout sorted by
 * base (a container before what it contains): RAM banks named "ram0",
 * "ram1"..., "device-memory", the MMIO regions, the enabled high IO
 * regions and the reserved regions named by their type.  The array owns
 * the names; free it with g_array_unref().
 */
GArray *virt_hotmem_layout_regions(const VirtHotmemLayout *layout);

/**
 * virt_hotmem_layout_find_free:
 * @layout: a planned layout.
 * @size: size in bytes, not 0.
 * @align: the alignment of the result, a power of two.
 * @limit: the range must end at or below it (e.g. 4 GiB).
 * @base: set to the result.
 *
 * Finds room the board may give to something the planner did not place,
 * e.g. RAM below 4 GiB for firmware when all boot RAM is above: the
 * lowest @align aligned range of @size bytes ending at or below @limit
 * that overlaps no region of @layout (RAM, device memory, MMIO, high IO
 * or reserved), so the map keeps its invariants with it.
 *
 * Returns: true with @base set; false if there is no such range.
 */
bool virt_hotmem_layout_find_free(const VirtHotmemLayout *layout,
                                  uint64_t size, uint64_t align,
                                  uint64_t limit, uint64_t *base);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VirtHotmemLayout, virt_hotmem_layout_free)

#endif /* HW_ARM_VIRT_HOTMEM_LAYOUT_H */
