/*
 * The SRAT's memory affinity structures, as the overlay's qtests read
 * them (from fw_cfg or from guest memory).
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "virt-hotmem-srat.h"

/* ACPI 6.5, 5.2.16.2: structure type 1, 40 bytes */
#define SRAT_MEMORY_AFFINITY      1
#define SRAT_MEMORY_AFFINITY_LEN  40

void srat_memory_affinity(const uint8_t *srat, size_t len, GArray *mem)
{
    size_t off;

    /* 36-byte header, 12 reserved bytes, then the structures */
    for (off = 48; off < len; off += srat[off + 1]) {
        g_assert_cmpuint(off + 2, <=, len);
        g_assert_cmpuint(srat[off + 1], >=, 2);
        if (srat[off] == SRAT_MEMORY_AFFINITY) {
            SratMem m = {
                .node = ldl_le_p(srat + off + 2),
                .base = ldq_le_p(srat + off + 8),
                .len = ldq_le_p(srat + off + 16),
                .flags = ldl_le_p(srat + off + 28),
            };

            g_assert_cmpuint(srat[off + 1], ==, SRAT_MEMORY_AFFINITY_LEN);
            g_array_append_val(mem, m);
        }
    }
    g_assert_cmpuint(off, ==, len);
}
