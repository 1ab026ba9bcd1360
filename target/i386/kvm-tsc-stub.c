/*
 * query-precise-tsc in an x86 emulator built without KVM, and in the
 * other emulators
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-precise-tsc-target.h"

/* No x86 KVM, so no precise-tsc=on: there is no TSC state to carry. */
PreciseTscInfo *qmp_query_precise_tsc(Error **errp)
{
    PreciseTscInfo *info = g_new0(PreciseTscInfo, 1);

    info->enabled = false;
    info->mode = PRECISE_TSC_MODE_UNSUPPORTED;
    return info;
}
