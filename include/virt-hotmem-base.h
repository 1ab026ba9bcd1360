/*
 * virt-hotmem: the QEMU release the overlay is built on
 *
 * The overlay builds on QEMU 10.0 and 10.2.  Where their APIs differ and
 * no code is valid on both, the code tests QEMU_BASE_AT_LEAST() once and
 * says why.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VIRT_HOTMEM_BASE_H
#define VIRT_HOTMEM_BASE_H

/* QEMU_VERSION_MAJOR and _MINOR come from config-host.h, via qemu/osdep.h */
#define QEMU_BASE_AT_LEAST(major, minor)                                   \
    (QEMU_VERSION_MAJOR > (major) ||                                       \
     (QEMU_VERSION_MAJOR == (major) && QEMU_VERSION_MINOR >= (minor)))

#endif /* VIRT_HOTMEM_BASE_H */
