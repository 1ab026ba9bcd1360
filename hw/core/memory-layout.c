/*
 * query-memory-layout and info memory-layout
 *
 * Machine independent: the commands exist in every emulator, and ask the
 * current machine through the memory-layout-provider interface.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-memory-layout.h"
#include "hw/boards.h"
#include "hw/qdev-core.h"
#include "hw/core/memory-layout.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"

MemoryLayout *qmp_query_memory_layout(Error **errp)
{
    Object *machine = qdev_get_machine();
    MemoryLayoutProviderClass *mlpc;

    if (!object_dynamic_cast(machine, TYPE_MEMORY_LAYOUT_PROVIDER)) {
        error_setg(errp, "machine '%s' does not plan its memory map "
                   "(query-memory-layout needs a virt-hotmem machine)",
                   MACHINE_GET_CLASS(machine)->name);
        return NULL;
    }
    mlpc = MEMORY_LAYOUT_PROVIDER_GET_CLASS(machine);
    return mlpc->get_layout(MEMORY_LAYOUT_PROVIDER(machine), errp);
}

static void hmp_info_memory_layout(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(MemoryLayout) layout = qmp_query_memory_layout(&err);
    MemoryLayoutRegionList *r;

    if (hmp_handle_error(mon, err)) {
        return;
    }
    monitor_printf(mon, "%-18s  %-18s  %10s  %-13s  %s\n",
                   "start", "end", "size", "kind", "name");
    for (r = layout->regions; r; r = r->next) {
        g_autofree char *size = size_to_str(r->value->size);

        monitor_printf(mon, "0x%016" PRIx64 "  0x%016" PRIx64
                       "  %10s  %-13s  %s\n",
                       r->value->base, r->value->base + r->value->size - 1,
                       size, MemoryLayoutRegionKind_str(r->value->kind),
                       r->value->name);
    }
    monitor_printf(mon, "highest-gpa 0x%016" PRIx64 ", ipa-bits %u\n",
                   layout->highest_gpa, layout->ipa_bits);
}

static const TypeInfo memory_layout_provider_info = {
    .name = TYPE_MEMORY_LAYOUT_PROVIDER,
    .parent = TYPE_INTERFACE,
    .class_size = sizeof(MemoryLayoutProviderClass),
};

static void memory_layout_register_types(void)
{
    type_register_static(&memory_layout_provider_info);
    /* The entry is in hmp-commands-info.hx without a handler (patch 0004) */
    monitor_register_hmp("memory-layout", true, hmp_info_memory_layout);
}
type_init(memory_layout_register_types)
