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
#include "qapi/qapi-types-memory-layout.h"

/*
 * Every versioned virt-hotmem-X.Y type implements this interface, so code
 * outside the board (tests, QMP) can tell a virt-hotmem machine apart from
 * any other, whatever upstream virt-X.Y it derives from.
 */
#define TYPE_VIRT_HOTMEM_MACHINE "virt-hotmem-machine"

/*
 * The high IO regions of virt that virt-hotmem places: GIC redistributor
 * 2, high PCIe ECAM and MMIO (virt-hotmem.c lists their indices).  QEMU
 * 10.2's virt has one more among them, VIRT_CXL_HOST, which virt-hotmem
 * does not plan: it refuses cxl=on.
 */
#define VIRT_HOTMEM_NR_HIGH 3

/*
 * The wire format of the "virt-hotmem/memory-layout" migration section,
 * version 1, as docs/system/arm/virt-hotmem.rst ("Wire format") states
 * it.  Its array sizes are numbers of the format, not of QEMU's enums: a
 * layout with more banks is refused at start-up, a stream that claims
 * more is refused on load, and if upstream virt ever gains a high IO
 * region or more memory slots the build fails (virt-hotmem.c) rather
 * than the stream change.
 */
#define VIRT_HOTMEM_MIGRATION_MAX_BANKS 16
#define VIRT_HOTMEM_MIGRATION_NR_HIGH 3
/* Its "dimms" subsection: one entry per memory slot at most */
#define VIRT_HOTMEM_MIGRATION_MAX_DIMMS 256

/* virt's device memory slack per memory slot (hw/arm/virt.c) */
#define VIRT_HOTMEM_SLOT_SLACK (UINT64_C(1) << 30)

/*
 * dimm-alignment: from the smallest block the guest's memory could be
 * mapped in (2 MiB) to the 1 GiB of slack virt reserves per memory slot.
 */
#define VIRT_HOTMEM_DIMM_ALIGN_MIN (UINT64_C(2) << 20)
#define VIRT_HOTMEM_DIMM_ALIGN_MAX VIRT_HOTMEM_SLOT_SLACK

/*
 * RAM below 4 GiB for UEFI firmware when all boot RAM is above 4 GiB
 * with nvdimm=on (virt_hotmem_uefi_low_ram()): room for the firmware's
 * own allocations there (about 1 MiB: the _DSM buffer, SMBIOS tables)
 * and for an initrd GRUB must place there; Debian's initramfs-tools
 * images are 30-70 MiB, and 256 MiB leaves room for larger ones.
 */
#define VIRT_HOTMEM_UEFI_LOW_RAM_SIZE (UINT64_C(256) << 20)

/* A pc-dimm or nvdimm as it travels in the migration stream */
typedef struct VirtHotmemMigratedDimm {
    uint64_t addr;
    uint64_t size;
    uint32_t node;
} VirtHotmemMigratedDimm;

/* The memory map as it travels in the migration stream. */
typedef struct VirtHotmemMigratedLayout {
    uint32_t policy;                /* VirtHotmemMemoryLayout: 0 or 1 */
    uint32_t n_ram_banks;           /* 1..VIRT_HOTMEM_MIGRATION_MAX_BANKS */
    uint64_t ram_bank_base[VIRT_HOTMEM_MIGRATION_MAX_BANKS];
    uint64_t ram_bank_size[VIRT_HOTMEM_MIGRATION_MAX_BANKS];
    uint64_t device_memory_base;
    uint64_t device_memory_size;
    /* gic-redist2, pcie-ecam-high, pcie-mmio-high, in that order */
    uint64_t high_base[VIRT_HOTMEM_MIGRATION_NR_HIGH];
    bool high_enabled[VIRT_HOTMEM_MIGRATION_NR_HIGH];
    uint64_t highest_gpa;
    /* One per slot at most, in address order */
    uint32_t n_dimms;
    VirtHotmemMigratedDimm dimms[VIRT_HOTMEM_MIGRATION_MAX_DIMMS];
} VirtHotmemMigratedLayout;

typedef struct VirtHotmemMachineState {
    VirtMachineState parent_obj;

    /* Properties */
    bool ram_base_auto;
    uint64_t ram_base;
    bool device_memory_base_auto;
    uint64_t device_memory_base;
    VirtHotmemMemoryLayout policy;
    char *reserved_regions;
    uint64_t dimm_alignment;

    /* The planned map; NULL until plan_memmap ran */
    VirtHotmemLayout *layout;
    VirtHotmemReservedRegion *reserved;
    size_t n_reserved;
    /* The RAM banks as virt reads them (vms->ram_banks), if more than one */
    MemMapEntry *ram_banks;

    /*
     * ACPI direct boot (virt-hotmem-acpi-boot.c): acpi=on with -kernel and
     * no firmware.  The handoff region starts at acpi_handoff_base and must
     * end below acpi_handoff_limit (the kernel); its parts' sizes are set
     * once it is built.
     */
    bool acpi_boot;
    hwaddr acpi_handoff_base;
    hwaddr acpi_handoff_limit;
    uint64_t acpi_efi_size;
    uint64_t acpi_tables_size;
    uint64_t acpi_nvs_size;
    /*
     * The NVDIMM _DSM page when nvdimm=on finds no RAM below 4 GiB (RAM
     * above 4 GiB): a RAM region of its own at acpi_dsm_base (0 when
     * unused).  ACPI direct boot puts the page in virt's secure-RAM
     * window itself (acpi_boot, 64 KiB); UEFI firmware gets
     * VIRT_HOTMEM_UEFI_LOW_RAM_SIZE of free space below 4 GiB as RAM in
     * the device tree and allocates the page there.
     */
    MemoryRegion acpi_dsm_ram;
    hwaddr acpi_dsm_base;

    /* Migration: this machine's layout, or the source's on load */
    VirtHotmemMigratedLayout migrated;
} VirtHotmemMachineState;

typedef struct VirtHotmemMachineClass {
    VirtMachineClass parent_class;

    /* virt's callbacks that ours wrap */
    void (*parent_init)(MachineState *ms);
    /* The hotplug callback virt-hotmem-dt.c wraps */
    hotplug_fn dt_parent_pre_plug;
} VirtHotmemMachineClass;

/*
 * Why the cast goes through an interface: each virt-hotmem-X.Y derives
 * from upstream's virt-X.Y, not from a common virt-hotmem class, so that
 * it inherits that version's compat properties and migration format.  The
 * only type they all have in common is the TYPE_VIRT_HOTMEM_MACHINE
 * interface, so that is what OBJECT_CHECK() tests; every class
 * implementing it has VirtHotmemMachineState and VirtHotmemMachineClass
 * as its instance and class structs.  Casting the class through the
 * interface would give the interface's class, so VIRT_HOTMEM_MACHINE_
 * GET_CLASS() checks the object and then takes its class.
 */
#define VIRT_HOTMEM_MACHINE(obj) \
    OBJECT_CHECK(VirtHotmemMachineState, (obj), TYPE_VIRT_HOTMEM_MACHINE)
#define VIRT_HOTMEM_MACHINE_GET_CLASS(obj) \
    ((VirtHotmemMachineClass *) \
     object_get_class(OBJECT(VIRT_HOTMEM_MACHINE(obj))))

/*
 * Whether the guest boots through firmware (-bios or pflash), as virt's
 * bootinfo.firmware_loaded will say, but usable before virt's init too.
 */
bool virt_hotmem_has_firmware(VirtHotmemMachineState *vhms);

/*
 * virt-hotmem-dt.c: the bootinfo.modify_dtb callback (RAM banks, DIMMs
 * and NVDIMMs in the device tree), and the class set-up that lets a
 * device-tree guest have cold-plugged DIMMs.
 */
void virt_hotmem_dt_modify(const struct arm_boot_info *binfo, void *fdt);
void virt_hotmem_dt_class_init(ObjectClass *oc);

/*
 * virt-hotmem-acpi-boot.c: ACPI on direct kernel boot without firmware.
 * _check() decides before virt's init (acpi=on, -kernel, no firmware),
 * _check_loaded() after it (an arm64 Image was loaded), _modify_dtb()
 * builds the EFI and ACPI tables and turns the device tree into a stub,
 * _layout() appends their rows to query-memory-layout, _srat() gives
 * the NVDIMM _DSM page's own RAM its SRAT entry (virt's
 * srat_extra_memory hook).
 */
bool virt_hotmem_acpi_boot_check(VirtHotmemMachineState *vhms, Error **errp);
bool virt_hotmem_acpi_boot_check_loaded(VirtHotmemMachineState *vhms,
                                        Error **errp);
void virt_hotmem_acpi_boot_modify_dtb(VirtHotmemMachineState *vhms,
                                      void *fdt);
/* Append one query-memory-layout row to the list ending at @tail */
void virt_hotmem_layout_row(MemoryLayoutRegionList ***tail, const char *name,
                            uint64_t base, uint64_t size,
                            MemoryLayoutRegionKind kind);
void virt_hotmem_acpi_boot_layout(VirtHotmemMachineState *vhms,
                                  MemoryLayoutRegionList ***tail);
void virt_hotmem_acpi_boot_srat(VirtMachineState *vms, GArray *table_data);
/* RAM below 4 GiB for the NVDIMM _DSM page, for acpi=on and firmware */
bool virt_hotmem_dsm_ram(VirtHotmemMachineState *vhms, const char *option,
                         const char *name, hwaddr base, uint64_t size,
                         Error **errp);

#endif /* HW_ARM_VIRT_HOTMEM_H */
