/*
 * Machines that plan their guest physical memory map
 *
 * A machine that implements TYPE_MEMORY_LAYOUT_PROVIDER answers QMP
 * query-memory-layout and HMP info memory-layout; every other machine
 * makes both return an error.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_CORE_MEMORY_LAYOUT_H
#define HW_CORE_MEMORY_LAYOUT_H

#include "qom/object.h"
#include "qapi/qapi-types-memory-layout.h"

#define TYPE_MEMORY_LAYOUT_PROVIDER "memory-layout-provider"

typedef struct MemoryLayoutProviderClass MemoryLayoutProviderClass;
DECLARE_CLASS_CHECKERS(MemoryLayoutProviderClass, MEMORY_LAYOUT_PROVIDER,
                       TYPE_MEMORY_LAYOUT_PROVIDER)
#define MEMORY_LAYOUT_PROVIDER(obj) \
    INTERFACE_CHECK(MemoryLayoutProvider, (obj), TYPE_MEMORY_LAYOUT_PROVIDER)

typedef struct MemoryLayoutProvider MemoryLayoutProvider;

struct MemoryLayoutProviderClass {
    InterfaceClass parent_class;

    /*
     * Return the planned map of @p, its regions in any order
     * (query-memory-layout sorts them), or NULL with @errp set.
     */
    MemoryLayout *(*get_layout)(MemoryLayoutProvider *p, Error **errp);
};

#endif /* HW_CORE_MEMORY_LAYOUT_H */
