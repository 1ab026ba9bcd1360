/*
 * A header-only arm64 Image for the overlay's qtests of acpi=on.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "virt-hotmem-image.h"

char *vhm_write_arm64_image(uint64_t image_size)
{
    g_autoptr(GError) gerr = NULL;
    g_autofree uint8_t *img = g_malloc0(4096);
    char *path;
    int fd;

    stl_le_p(img, 0x14000000);              /* code0: b . + 0 */
    stq_le_p(img + 8, 0);                   /* text_offset */
    stq_le_p(img + 16, image_size);         /* image_size */
    stq_le_p(img + 24, 0xa);                /* flags: LE, 4K, anywhere */
    memcpy(img + 56, "ARM\x64", 4);
    fd = g_file_open_tmp("vhm-acpi-image-XXXXXX", &path, &gerr);
    g_assert_no_error(gerr);
    g_assert_cmpint(write(fd, img, 4096), ==, 4096);
    close(fd);
    return path;
}
