/*
 * virt-hotmem planner: address spans and error messages shared by the
 * memory-map planner and the reserved-regions parser (private to them).
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_ARM_VIRT_HOTMEM_SPAN_H
#define HW_ARM_VIRT_HOTMEM_SPAN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/*
 * An inclusive address range.  Inclusive, so that a range can end at the
 * very top of the 64-bit space without its end overflowing.
 */
typedef struct AddrSpan {
    uint64_t first;
    uint64_t last;
} AddrSpan;

static inline void G_GNUC_PRINTF(2, 3)
set_error(char **errp, const char *fmt, ...)
{
    va_list ap;

    /* Like QEMU's Error, the first error wins. */
    if (!errp || *errp) {
        return;
    }
    va_start(ap, fmt);
    *errp = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

static inline bool span_of(uint64_t base, uint64_t size, AddrSpan *span)
{
    if (size == 0 || base > UINT64_MAX - (size - 1)) {
        return false;
    }
    span->first = base;
    span->last = base + (size - 1);
    return true;
}

/* The first address after @span; false if @span reaches the top. */
static inline bool span_next(const AddrSpan *span, uint64_t *next)
{
    if (span->last == UINT64_MAX) {
        return false;
    }
    *next = span->last + 1;
    return true;
}

#endif
