/*
 * query-precise-tsc: the machine independent side
 *
 * The command exists in every emulator; target/i386/kvm-tsc.c registers
 * the provider when it is built in, everything else reports the feature
 * off.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef SYSTEM_PRECISE_TSC_H
#define SYSTEM_PRECISE_TSC_H

#include "qapi/qapi-types-precise-tsc.h"

typedef PreciseTscInfo *PreciseTscQueryFunc(Error **errp);

void precise_tsc_register_query(PreciseTscQueryFunc *func);

#endif /* SYSTEM_PRECISE_TSC_H */
