/*
 * virt-hotmem: memory as a guest booted with a device tree sees it
 *
 * virt tells a device-tree guest about RAM only through the memory nodes
 * boot.c writes from bootinfo (one range from the first bank's base, or
 * one per NUMA node), and has no way to describe a DIMM: without ACPI
 * (GED) it refuses every pc-dimm and nvdimm, even cold-plugged ones.
 *
 * Here a device-tree guest gets one memory node per RAM bank, one memory
 * node per cold-plugged pc-dimm and one pmem-region node per nvdimm, and
 * cold-plugged DIMMs are accepted without ACPI.  A device tree is read
 * once, at boot: hot-adding a DIMM to such a guest is refused with the
 * ways that do work (ACPI boot, or virtio-mem-pci, which needs no ACPI).
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <libfdt.h>
#include "qapi/error.h"
#include "hw/boards.h"
#include "hw/hotplug.h"
#include "hw/mem/memory-device.h"
#include "hw/mem/pc-dimm.h"
#include "hw/qdev-core.h"
#include "hw/arm/virt-hotmem.h"
#include "system/device_tree.h"
#include "system/numa.h"
#include "trace.h"

static bool virt_hotmem_dt_numa(MachineState *ms)
{
    return ms->numa_state && ms->numa_state->num_nodes > 0;
}

static void virt_hotmem_dt_add_range(void *fdt, const char *prefix,
                                     const char *compatible, uint64_t base,
                                     uint64_t size, int64_t node)
{
    g_autofree char *name = g_strdup_printf("/%s@%" PRIx64, prefix, base);

    qemu_fdt_add_subnode(fdt, name);
    if (compatible) {
        qemu_fdt_setprop_string(fdt, name, "compatible", compatible);
    } else {
        qemu_fdt_setprop_string(fdt, name, "device_type", "memory");
    }
    qemu_fdt_setprop_sized_cells(fdt, name, "reg", 2, base, 2, size);
    if (node >= 0) {
        qemu_fdt_setprop_cell(fdt, name, "numa-node-id", node);
    }
}

typedef struct VirtHotmemDtRam {
    void *fdt;
    int node;
} VirtHotmemDtRam;

/* One memory node for each piece of RAM, on virt_foreach_ram_range()'s walk */
static void virt_hotmem_dt_add_ram_range(hwaddr base, uint64_t size,
                                         void *opaque)
{
    VirtHotmemDtRam *r = opaque;

    virt_hotmem_dt_add_range(r->fdt, "memory", NULL, base, size, r->node);
}

/*
 * Describe RAM at offsets [@offset, @offset + @len) of machine->ram: one
 * memory node for its piece in each bank it falls into, the same walk as
 * the SRAT's (patches/0006).
 */
static void virt_hotmem_dt_add_ram(VirtHotmemMachineState *vhms, void *fdt,
                                   uint64_t offset, uint64_t len, int node)
{
    VirtHotmemDtRam r = { .fdt = fdt, .node = node };

    virt_foreach_ram_range(VIRT_MACHINE(vhms), offset, len,
                           virt_hotmem_dt_add_ram_range, &r);
}

/*
 * boot.c described RAM from the first bank's base as if it were one range:
 * one node per NUMA node with memory, laid end to end, or one node of
 * bootinfo's size (the first bank's) without NUMA.  With several banks,
 * replace those by each node's share of RAM in each bank, in the order
 * the SRAT lays them out (patches/0006).
 */
static void virt_hotmem_dt_add_ram_banks(VirtHotmemMachineState *vhms,
                                         void *fdt)
{
    MachineState *ms = MACHINE(vhms);
    const VirtHotmemLayout *layout = vhms->layout;
    uint64_t base = layout->ram_banks[0].base, offset = 0;
    int node;

    if (layout->n_ram_banks < 2) {
        return;
    }
    if (!virt_hotmem_dt_numa(ms)) {
        g_autofree char *name = g_strdup_printf("/memory@%" PRIx64, base);

        qemu_fdt_nop_node(fdt, name);
        virt_hotmem_dt_add_ram(vhms, fdt, 0, ms->ram_size, -1);
        return;
    }
    /* All of boot.c's nodes go first: a new one may take a name of theirs */
    for (node = 0; node < ms->numa_state->num_nodes; node++) {
        uint64_t mem = ms->numa_state->nodes[node].node_mem;
        g_autofree char *name = g_strdup_printf("/memory@%" PRIx64,
                                                base + offset);

        if (mem) {
            qemu_fdt_nop_node(fdt, name);
            offset += mem;
        }
    }
    for (node = 0, offset = 0; node < ms->numa_state->num_nodes; node++) {
        uint64_t mem = ms->numa_state->nodes[node].node_mem;

        virt_hotmem_dt_add_ram(vhms, fdt, offset, mem, node);
        offset += mem;
    }
}

/*
 * A pc-dimm is RAM like any other: a memory node (Devicetree
 * Specification, "/memory node"), with numa-node-id (Linux's
 * Documentation/devicetree/bindings/numa.txt) when the machine has NUMA
 * nodes.  An nvdimm is a persistent memory region: Linux's binding
 * Documentation/devicetree/bindings/pmem/pmem-region.yaml asks for a node
 * with compatible = "pmem-region" and one reg range, which its of_pmem
 * driver turns into /dev/pmemN.  The node is /pmem@<address>, with
 * numa-node-id under -numa, the shape of the "hw/arm/boot: Expose the pmem
 * nodes in the DT" patch posted for virt to qemu-devel in October 2019.
 * reg is the nvdimm's guest-visible region: its label area, if any, is
 * not mapped.
 */
typedef struct VirtHotmemDtDimms {
    void *fdt;
    bool numa;
} VirtHotmemDtDimms;

/* virtio-mem and others describe themselves to the guest */
static void virt_hotmem_dt_add_dimm(const PCDIMMDeviceInfo *di, bool pmem,
                                    void *opaque)
{
    VirtHotmemDtDimms *d = opaque;

    virt_hotmem_dt_add_range(d->fdt, pmem ? "pmem" : "memory",
                             pmem ? "pmem-region" : NULL, di->addr, di->size,
                             d->numa ? di->node : -1);
    trace_virt_hotmem_dt_dimm(di->id ?: "", pmem, di->addr, di->size,
                              di->node);
}

static void virt_hotmem_dt_add_dimms(MachineState *ms, void *fdt)
{
    VirtHotmemDtDimms d = { .fdt = fdt, .numa = virt_hotmem_dt_numa(ms) };

    memory_device_foreach_dimm(virt_hotmem_dt_add_dimm, &d);
}

/*
 * The NVDIMM _DSM page's RAM below 4 GiB, for UEFI firmware when all other
 * RAM is above 4 GiB (virt_hotmem_uefi_low_ram() in virt-hotmem.c says
 * why): a node with device_type "memory", which EDK II's HighMemDxe
 * (OvmfPkg/Fdt/HighMemDxe) adds to the firmware's memory, like every
 * bank but the first.  Not named "memory": ArmVirtQemuKernel's entry
 * point takes its boot RAM from the first node that
 * fdt_path_offset("/memory") finds (ArmVirtPkg/PrePi/FdtParser.c), and
 * libfdt puts a new node first among its siblings, so a memory@ node
 * here would give the firmware this region (VIRT_HOTMEM_UEFI_LOW_RAM_SIZE)
 * to boot in instead of the RAM bank.  A kernel booted by the firmware
 * takes RAM from the EFI memory map, not from these nodes.
 */
static void virt_hotmem_dt_add_low_ram(VirtHotmemMachineState *vhms,
                                       void *fdt)
{
    uint64_t base = vhms->acpi_dsm_base;
    uint64_t size = memory_region_size(&vhms->acpi_dsm_ram);
    g_autofree char *name = g_strdup_printf("/low-memory@%" PRIx64, base);

    qemu_fdt_add_subnode(fdt, name);
    qemu_fdt_setprop_string(fdt, name, "device_type", "memory");
    qemu_fdt_setprop_sized_cells(fdt, name, "reg", 2, base, 2, size);
    trace_virt_hotmem_dt_low_ram(base, size);
}

/*
 * QEMU 10.2's boot.c describes each nvdimm itself, on every boot path, as
 * a /pmem@<address> node; 10.0's describes none.  Remove boot.c's, so
 * that on either base and in every machine version an nvdimm has exactly
 * one node, ours, where the guest reads its devices from the device tree,
 * and none where the NFIT describes it: the device tree of 10.0.
 */
static void virt_hotmem_dt_del_boot_pmem(const PCDIMMDeviceInfo *di,
                                         bool pmem, void *opaque)
{
    void *fdt = opaque;
    g_autofree char *name = g_strdup_printf("/pmem@%" PRIx64, di->addr);

    if (pmem && fdt_path_offset(fdt, name) >= 0) {
        qemu_fdt_nop_node(fdt, name);
    }
}

void virt_hotmem_dt_modify(const struct arm_boot_info *binfo, void *fdt)
{
    MachineState *ms = MACHINE(qdev_get_machine());

    memory_device_foreach_dimm(virt_hotmem_dt_del_boot_pmem, fdt);
    if (VIRT_HOTMEM_MACHINE(ms)->acpi_boot) {
        /* The kernel takes RAM and devices from EFI and ACPI instead */
        virt_hotmem_acpi_boot_modify_dtb(VIRT_HOTMEM_MACHINE(ms), fdt);
        return;
    }
    virt_hotmem_dt_add_ram_banks(VIRT_HOTMEM_MACHINE(ms), fdt);
    if (VIRT_HOTMEM_MACHINE(ms)->acpi_dsm_base) {
        virt_hotmem_dt_add_low_ram(VIRT_HOTMEM_MACHINE(ms), fdt);
    }
    /*
     * With ACPI, DIMMs are virt's (GED, SRAT); UEFI firmware would take
     * memory nodes for boot RAM.
     */
    if (!VIRT_MACHINE(ms)->acpi_dev) {
        virt_hotmem_dt_add_dimms(ms, fdt);
    }
}

/* --- DIMMs without ACPI --------------------------------------------------- */

/*
 * Without virt's ACPI GED nothing could tell the guest about a DIMM after
 * boot.  virt accepts cold-plugged ones all the same, with its own checks
 * (dt_describes_dimms, patches/0018), for virt_hotmem_dt_modify() to
 * describe them in the device tree, and refuses a hot-added one for want
 * of a GED: say instead what does work.
 */
static void virt_hotmem_dt_pre_plug(HotplugHandler *hotplug_dev,
                                    DeviceState *dev, Error **errp)
{
    VirtHotmemMachineClass *vhmc = VIRT_HOTMEM_MACHINE_GET_CLASS(hotplug_dev);

    if (!VIRT_MACHINE(hotplug_dev)->acpi_dev && dev->hotplugged &&
        object_dynamic_cast(OBJECT(dev), TYPE_PC_DIMM)) {
        error_setg(errp, "%s cannot be hot-added: this guest booted with a "
                   "device tree, which has no memory hotplug; boot it with "
                   "UEFI firmware and ACPI, or hot-add memory with "
                   "virtio-mem-pci", object_get_typename(OBJECT(dev)));
        return;
    }
    vhmc->dt_parent_pre_plug(hotplug_dev, dev, errp);
}

void virt_hotmem_dt_class_init(ObjectClass *oc)
{
    VirtHotmemMachineClass *vhmc = (VirtHotmemMachineClass *)oc;
    HotplugHandlerClass *hc = HOTPLUG_HANDLER_CLASS(oc);

    VIRT_MACHINE_CLASS(oc)->dt_describes_dimms = true;
    /* Wrap whatever is there, so other wrappers of ours compose */
    vhmc->dt_parent_pre_plug = hc->pre_plug;
    hc->pre_plug = virt_hotmem_dt_pre_plug;
}
