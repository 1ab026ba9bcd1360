/*
 * query-precise-tsc: the machine independent side
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-precise-tsc.h"
#include "system/precise-tsc.h"

static PreciseTscQueryFunc *precise_tsc_query;

void precise_tsc_register_query(PreciseTscQueryFunc *func)
{
    precise_tsc_query = func;
}

PreciseTscInfo *qmp_query_precise_tsc(Error **errp)
{
    PreciseTscInfo *info;

    if (precise_tsc_query) {
        return precise_tsc_query(errp);
    }
    /* An emulator without x86 KVM: there is no TSC state to carry. */
    info = g_new0(PreciseTscInfo, 1);
    info->enabled = false;
    info->mode = PRECISE_TSC_MODE_UNSUPPORTED;
    return info;
}
