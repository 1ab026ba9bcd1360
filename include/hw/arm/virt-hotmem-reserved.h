/*
 * virt-hotmem reserved regions: the host's IOMMU reserved regions that
 * the memory map must avoid, parsed from reserved_regions files.
 *
 * Pure, as the memory-map planner: it needs only QEMU's utility library.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_ARM_VIRT_HOTMEM_RESERVED_H
#define HW_ARM_VIRT_HOTMEM_RESERVED_H


/**
 * VirtHotmemReservedRegion:
 * @base: first byte.
 * @size: size in bytes; a region of size 0 reserves nothing.
 * @type: the Linux reserved region type ("msi", "direct", ...) or a
 *   comma-separated list of them after a union; may be NULL.
 *
 * A range of guest physical addresses that RAM, device memory and the
 * high IO regions must avoid, typically an IOMMU reserved region of the
 * host that a VFIO device would otherwise shadow.  Arrays of these that
 * this module returns own their @type strings: free them with
 * virt_hotmem_reserved_regions_free().
 *
 * Not QEMU's ReservedRegion, which the union uses inside: its type is a
 * number (virtio-iommu's), and Linux's types are names that messages and
 * query-memory-layout show as the host wrote them.
 */
typedef struct VirtHotmemReservedRegion {
    uint64_t base;
    uint64_t size;
    char *type;
} VirtHotmemReservedRegion;

/**
 * virt_hotmem_parse_reserved_regions:
 * @text: the contents of a reserved_regions file.
 * @len: length of @text in bytes, or -1 if it is NUL-terminated.
 * @source: where @text comes from (the file's path), used in messages.
 * @regions: in/out: a g_new() array (or NULL) to append the regions to.
 * @n_regions: in/out: number of entries in *@regions.
 * @errp: pointer to a NULL-initialised error object.
 *
 * Parses the format of Linux's /sys/kernel/iommu_groups/N/reserved_regions:
 * one "0x<start> 0x<end> <type>" line per region, the end inclusive,
 * fields separated by blanks.  Blank lines are skipped; an empty text
 * holds no region.  Appending lets the machine gather all IOMMU groups'
 * files in one array before virt_hotmem_reserved_regions_union().
 *
 * Returns: true on success.  On error nothing is appended and the message
 * reads "reserved-regions=SOURCE:LINE: REASON", e.g.
 * "reserved-regions=/tmp/r.txt:3: end 0x1000 below start 0x2000".
 */
bool virt_hotmem_parse_reserved_regions(const char *text, gssize len,
                                        const char *source,
                                        VirtHotmemReservedRegion **regions,
                                        size_t *n_regions, Error **errp);

/**
 * virt_hotmem_reserved_regions_union:
 * @regions: the regions, in any order.
 * @n_regions: number of entries in @regions.
 * @out: where to store the union, a new array sorted by base.
 * @n_out: where to store its number of entries.
 * @errp: pointer to a NULL-initialised error object.
 *
 * Merges overlapping and adjacent regions, and drops empty ones, so that
 * the result is sorted and has a gap between any two regions.  A merged
 * region's type joins the distinct types of its parts with commas, in
 * the order of their bases ("direct,msi"), so that messages still tell
 * what the host reserved.
 *
 * Returns: true on success; false if a region wraps around the 64-bit
 * address space or the union covers all of it (its size would not fit in
 * 64 bits).  *@out and *@n_out are set only on success.
 */
bool virt_hotmem_reserved_regions_union(
    const VirtHotmemReservedRegion *regions, size_t n_regions,
    VirtHotmemReservedRegion **out, size_t *n_out, Error **errp);

/**
 * virt_hotmem_reserved_regions_free:
 * @regions: an array returned by this module, or NULL.
 * @n_regions: its number of entries.
 *
 * Frees @regions and their type strings.
 */
void virt_hotmem_reserved_regions_free(VirtHotmemReservedRegion *regions,
                                       size_t n_regions);

#endif
