/*
 * virt-hotmem: the Arm virt board with a movable memory map
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_ARM_VIRT_HOTMEM_H
#define HW_ARM_VIRT_HOTMEM_H

#include "hw/arm/virt.h"
#include "hw/arm/virt-hotmem-layout.h"
#include "qom/object.h"
#include "hw/hotplug.h"

/*
 * Every versioned virt-hotmem-X.Y type implements this interface, so code
 * outside the board (tests, QMP) can tell a virt-hotmem machine apart from
 * any other, whatever upstream virt-X.Y it derives from.
 */
#define TYPE_VIRT_HOTMEM_MACHINE "virt-hotmem-machine"

/* The most RAM banks a layout may have and still be migrated. */
#define VIRT_HOTMEM_MIGRATION_MAX_BANKS 16

/*
 * dimm-alignment: from the smallest block the guest's memory could be
 * mapped in (2 MiB) to the 1 GiB of slack virt reserves per memory slot.
 */
#define VIRT_HOTMEM_DIMM_ALIGN_MIN (UINT64_C(2) << 20)
#define VIRT_HOTMEM_DIMM_ALIGN_MAX VIRT_HOTMEM_SLOT_SLACK

/* virt's high IO regions: GIC redistributor 2, high PCIe ECAM and MMIO */
#define VIRT_HOTMEM_NR_HIGH (VIRT_HIGH_PCIE_MMIO - VIRT_LOWMEMMAP_LAST + 1)

/* A pc-dimm or nvdimm as it travels in the migration stream */
typedef struct VirtHotmemMigratedDimm {
    uint64_t addr;
    uint64_t size;
    uint32_t node;
} VirtHotmemMigratedDimm;

/* The memory map as it travels in the migration stream. */
typedef struct VirtHotmemMigratedLayout {
    uint32_t policy;
    uint32_t n_ram_banks;
    uint64_t ram_bank_base[VIRT_HOTMEM_MIGRATION_MAX_BANKS];
    uint64_t ram_bank_size[VIRT_HOTMEM_MIGRATION_MAX_BANKS];
    uint64_t device_memory_base;
    uint64_t device_memory_size;
    uint64_t high_base[VIRT_HOTMEM_NR_HIGH];
    bool high_enabled[VIRT_HOTMEM_NR_HIGH];
    uint64_t highest_gpa;
    /* One per slot at most, in address order */
    uint32_t n_dimms;
    VirtHotmemMigratedDimm dimms[VIRT_HOTMEM_MAX_RAM_SLOTS];
} VirtHotmemMigratedLayout;

typedef struct VirtHotmemMachineState {
    VirtMachineState parent_obj;

    /* Properties */
    bool ram_base_auto;
    uint64_t ram_base;
    bool device_memory_base_auto;
    uint64_t device_memory_base;
    VirtHotmemPolicy policy;
    char *reserved_regions;
    uint64_t dimm_alignment;

    /* The planned map; NULL until plan_memmap ran */
    VirtHotmemLayout *layout;
    VirtHotmemReservedRegion *reserved;
    size_t n_reserved;
    /* The RAM banks as virt reads them (vms->ram_banks), if more than one */
    MemMapEntry *ram_banks;

    /* Migration: this machine's layout, or the source's on load */
    VirtHotmemMigratedLayout migrated;
} VirtHotmemMachineState;

typedef struct VirtHotmemMachineClass {
    VirtMachineClass parent_class;

    /* virt's callbacks that ours wrap */
    void (*parent_init)(MachineState *ms);
    /* The hotplug callbacks virt-hotmem-dt.c wraps */
    hotplug_fn dt_parent_pre_plug;
    hotplug_fn dt_parent_plug;
} VirtHotmemMachineClass;

/*
 * TYPE_VIRT_HOTMEM_MACHINE is an interface, so casting the class through it
 * would give the interface's class: check the object, then take its class.
 */
#define VIRT_HOTMEM_MACHINE(obj) \
    OBJECT_CHECK(VirtHotmemMachineState, (obj), TYPE_VIRT_HOTMEM_MACHINE)
#define VIRT_HOTMEM_MACHINE_GET_CLASS(obj) \
    ((VirtHotmemMachineClass *) \
     object_get_class(OBJECT(VIRT_HOTMEM_MACHINE(obj))))

/* True if @ms is a virt-hotmem machine of any version. */
bool virt_hotmem_is_machine(MachineState *ms);

/*
 * virt-hotmem-dt.c: the bootinfo.modify_dtb callback (RAM banks, DIMMs
 * and NVDIMMs in the device tree), and the hotplug callbacks that let a
 * device-tree guest have cold-plugged DIMMs.
 */
void virt_hotmem_dt_modify(const struct arm_boot_info *binfo, void *fdt);
void virt_hotmem_dt_class_init(ObjectClass *oc);

#endif /* HW_ARM_VIRT_HOTMEM_H */
