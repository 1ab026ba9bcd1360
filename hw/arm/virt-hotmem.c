/*
 * virt-hotmem: the Arm virt board with a movable memory map
 *
 * Each virt-hotmem-X.Y machine is a QOM subclass of upstream's virt-X.Y:
 * it inherits the board, its compat properties and its migration format,
 * and overrides only what the memory model needs.  A released version is
 * frozen; a later one changes defaults through compat properties, as
 * upstream's versions do, so that older machines stay migratable.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "hw/boards.h"
#include "hw/arm/virt-hotmem.h"

bool virt_hotmem_is_machine(MachineState *ms)
{
    return object_dynamic_cast(OBJECT(ms), TYPE_VIRT_HOTMEM_MACHINE) != NULL;
}

static void virt_hotmem_class_init(ObjectClass *oc, bool latest,
                                   const char *version)
{
    MachineClass *mc = MACHINE_CLASS(oc);

    mc->desc = g_strdup_printf("QEMU %s ARM Virtual Machine with movable RAM "
                               "and hotpluggable memory", version);
    /*
     * The parent's class_init ran on the class we inherit, so the alias
     * "virt" it set for its latest version is still here: replace it.
     */
    mc->alias = latest ? "virt-hotmem" : NULL;
}

/*
 * DEFINE_VIRT_HOTMEM_MACHINE(latest, major, minor) registers
 * virt-hotmem-<major>.<minor>, derived from virt-<major>.<minor>.
 */
#define DEFINE_VIRT_HOTMEM_MACHINE(latest, major, minor)                     \
    static void virt_hotmem_##major##_##minor##_class_init(ObjectClass *oc,   \
                                                           void *data)        \
    {                                                                         \
        virt_hotmem_class_init(oc, latest, #major "." #minor);                \
    }                                                                         \
    static const TypeInfo virt_hotmem_##major##_##minor##_info = {           \
        .name = MACHINE_TYPE_NAME("virt-hotmem-" #major "." #minor),          \
        .parent = MACHINE_TYPE_NAME("virt-" #major "." #minor),               \
        .instance_size = sizeof(VirtHotmemMachineState),                      \
        .class_init = virt_hotmem_##major##_##minor##_class_init,             \
        .interfaces = (InterfaceInfo[]) {                                     \
            { TYPE_VIRT_HOTMEM_MACHINE },                                     \
            { }                                                               \
        },                                                                    \
    };                                                                        \
    static void virt_hotmem_##major##_##minor##_register(void)                \
    {                                                                         \
        type_register_static(&virt_hotmem_##major##_##minor##_info);          \
    }                                                                         \
    type_init(virt_hotmem_##major##_##minor##_register)

static const TypeInfo virt_hotmem_interface_info = {
    .name = TYPE_VIRT_HOTMEM_MACHINE,
    .parent = TYPE_INTERFACE,
};

static void virt_hotmem_register_interface(void)
{
    type_register_static(&virt_hotmem_interface_info);
}
type_init(virt_hotmem_register_interface)

DEFINE_VIRT_HOTMEM_MACHINE(true, 10, 0);
