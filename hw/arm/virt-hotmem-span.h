/*
 * virt-hotmem planner: checked constructors of QEMU's Range (qemu/range.h)
 * shared by the memory-map planner and the reserved-regions parser.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_ARM_VIRT_HOTMEM_SPAN_H
#define HW_ARM_VIRT_HOTMEM_SPAN_H

#include "qemu/range.h"

/*
 * [@base, @base + @size - 1], or false if @size is 0 or the range would
 * wrap: range_init() accepts both, and the planner gets them from users.
 */
static inline bool vhm_range_of(uint64_t base, uint64_t size, Range *range)
{
    if (size == 0 || base > UINT64_MAX - (size - 1)) {
        return false;
    }
    range_init_nofail(range, base, size);
    return true;
}

/* The first address after @range; false if @range reaches the top. */
static inline bool vhm_range_next(const Range *range, uint64_t *next)
{
    if (range->upb == UINT64_MAX) {
        return false;
    }
    *next = range->upb + 1;
    return true;
}

#endif
