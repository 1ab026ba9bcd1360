/*
 * The SRAT's memory affinity structures, as the overlay's qtests read
 * them (from fw_cfg or from guest memory).
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VIRT_HOTMEM_SRAT_H
#define VIRT_HOTMEM_SRAT_H

/* ACPI 6.5, 5.2.16.2 Memory Affinity Structure: flags */
#define SRAT_ENABLED        1
#define SRAT_HOTPLUGGABLE   2
#define SRAT_NON_VOLATILE   4

typedef struct SratMem {
    uint32_t node;
    uint64_t base, len;
    uint32_t flags;
} SratMem;

/*
 * Append to @mem (of SratMem) the memory affinity structures of the SRAT
 * at @srat, @len bytes with its header, in table order; assert that the
 * structures fill the table exactly.
 */
void srat_memory_affinity(const uint8_t *srat, size_t len, GArray *mem);

#endif
