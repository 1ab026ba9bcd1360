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

/* By base; of two regions at one base, the container first */
static gint memory_layout_region_cmp(gconstpointer a, gconstpointer b)
{
    const MemoryLayoutRegion *ra = (*(MemoryLayoutRegionList **)a)->value;
    const MemoryLayoutRegion *rb = (*(MemoryLayoutRegionList **)b)->value;

    if (ra->base != rb->base) {
        return ra->base < rb->base ? -1 : 1;
    }
    if (ra->size != rb->size) {
        return ra->size > rb->size ? -1 : 1;
    }
    return 0;
}

/*
 * The schema promises the regions sorted by base, whatever order the
 * machine lists them in (virt-hotmem adds its boot tables, which lie
 * inside RAM, after the planned map).  The sort is stable: regions
 * that compare equal keep the machine's order.
 */
static void memory_layout_sort(MemoryLayout *layout)
{
    g_autoptr(GPtrArray) rows = g_ptr_array_new();
    MemoryLayoutRegionList *r, **tail = &layout->regions;
    guint i;

    for (r = layout->regions; r; r = r->next) {
        g_ptr_array_add(rows, r);
    }
    g_ptr_array_sort(rows, memory_layout_region_cmp);
    for (i = 0; i < rows->len; i++) {
        *tail = g_ptr_array_index(rows, i);
        tail = &(*tail)->next;
    }
    *tail = NULL;
}

MemoryLayout *qmp_query_memory_layout(Error **errp)
{
    Object *machine = qdev_get_machine();
    MemoryLayoutProviderClass *mlpc;
    MemoryLayout *layout;

    if (!object_dynamic_cast(machine, TYPE_MEMORY_LAYOUT_PROVIDER)) {
        error_setg(errp, "machine '%s' does not plan its memory map "
                   "(query-memory-layout needs a virt-hotmem machine)",
                   MACHINE_GET_CLASS(machine)->name);
        return NULL;
    }
    mlpc = MEMORY_LAYOUT_PROVIDER_GET_CLASS(machine);
    layout = mlpc->get_layout(MEMORY_LAYOUT_PROVIDER(machine), errp);
    if (layout) {
        memory_layout_sort(layout);
    }
    return layout;
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
    /* The entry is in our hmp-commands-info.hx without a handler */
    monitor_register_hmp("memory-layout", true, hmp_info_memory_layout);
}
type_init(memory_layout_register_types)
