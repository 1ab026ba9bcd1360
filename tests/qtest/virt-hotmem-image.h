/*
 * A header-only arm64 Image for the overlay's qtests of acpi=on, which
 * needs -kernel to be one.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VIRT_HOTMEM_IMAGE_H
#define VIRT_HOTMEM_IMAGE_H

/*
 * Write a 4 KiB arm64 Image whose header (Documentation/arch/arm64/
 * booting.rst) claims @image_size bytes, text_offset 0, to a new
 * temporary file; return its name, to unlink and g_free.
 */
char *vhm_write_arm64_image(uint64_t image_size);

#endif
