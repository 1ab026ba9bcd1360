/*
 * virt-hotmem: ACPI on direct kernel boot, without firmware
 *
 * With -M virt-hotmem,acpi=on -kernel Image and no firmware, the kernel is
 * handed what Linux's EFI stub would hand it (Documentation/arch/arm/
 * uefi.rst, "UEFI kernel support on ARM"): a device tree that holds only
 * /chosen, whose linux,uefi-* properties (read by drivers/firmware/efi/
 * fdtparams.c) point at an EFI system table and an EFI memory map in
 * guest RAM.  The system table's configuration table carries the ACPI 2.0
 * RSDP; the ACPI tables are the very ones virt builds for firmware
 * (virt_acpi_build()), placed in RAM here and linked by QEMU's own
 * bios_linker_loader_apply() (patches/0016), as firmware would link
 * them.  arm64's acpi_boot_table_init() takes the
 * hardware from ACPI because the device tree is a stub (dt_is_stub() in
 * arch/arm64/kernel/acpi.c), and efi_init() (drivers/firmware/efi/
 * efi-init.c) takes RAM from the EFI memory map.
 *
 * There are no EFI boot or runtime services: the system table's
 * RuntimeServices pointer is 0 and an EFI_RT_PROPERTIES_TABLE (UEFI 2.8+,
 * section 4.6) says that no runtime service is supported, which Linux
 * honours in efi_config_parse_tables() (efi.runtime_supported_mask): no
 * EFI variables, no EFI RTC, reboot and power-off through PSCI.
 *
 * Everything handed over lives in one region of the first RAM bank, in
 * the gap between virt's boot loader page and the kernel (boot.c loads an
 * arm64 Image 2 MiB above the start of RAM), and is rewritten from a ROM
 * blob at every reset.  The EFI memory map marks it reserved, so the
 * kernel keeps it:
 *
 *   +0x00000  EFI system table, configuration table, RT properties,
 *             vendor string, memory map        EfiRuntimeServicesData
 *   +0x10000  ACPI tables and RSDP             EfiACPIReclaimMemory
 *   ...       NVDIMM _DSM buffer (if nvdimm=on) EfiACPIMemoryNVS
 *
 * The NVDIMM _DSM buffer must be below 4 GiB: the SSDT holds its address
 * in a 32-bit name (MEMA, hw/acpi/nvdimm.c) and the AML hands it to QEMU
 * through a 32-bit register.  When the first RAM bank is not below 4 GiB
 * (ram-base=0x8000000000), the buffer gets a RAM region of its own in
 * virt's secure-RAM window instead (virt_hotmem_dsm_ram() below), an
 * EfiACPIMemoryNVS entry of its own in the memory map.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "virt-hotmem-base.h"
#include "qemu/units.h"
#include "qemu/error-report.h"
#include "qemu/bswap.h"
#include "qapi/error.h"
#include "hw/acpi/aml-build.h"
#include "hw/acpi/bios-linker-loader.h"
#include "hw/acpi/acpi.h"
#include "hw/loader.h"
/* QEMU 10.1 moved the address-space globals' header from exec/ to system/ */
#if QEMU_BASE_AT_LEAST(10, 1)
#include "system/address-spaces.h"
#else
#include "exec/address-spaces.h"
#endif
#include "hw/mem/nvdimm.h"
#include "hw/arm/virt-hotmem.h"
#include "system/device_tree.h"
#include "system/numa.h"
#include "target/arm/cpu.h"
#include "trace.h"

#include <zlib.h>
#include <libfdt.h>

/* UEFI 2.10, 4.3 EFI_SYSTEM_TABLE (64-bit) */
#define EFI_SYSTEM_TABLE_SIGNATURE      0x5453595320494249ULL /* "IBI SYST" */
#define EFI_SYSTEM_TABLE_REVISION       ((2 << 16) | 70)      /* 2.70 */
#define EFI_SYSTEM_TABLE_SIZE           120
#define EFI_SYSTAB_FW_VENDOR            24
#define EFI_SYSTAB_FW_REVISION          32
#define EFI_SYSTAB_RUNTIME_SERVICES     88
#define EFI_SYSTAB_NR_TABLES            104
#define EFI_SYSTAB_TABLES               112
/* 4.6 EFI_CONFIGURATION_TABLE: a GUID and a pointer */
#define EFI_CONFIG_TABLE_ENTRY_SIZE     24
/* 4.6.2 EFI_RT_PROPERTIES_TABLE: Version 1, Length 8, supported mask 0 */
#define EFI_RT_PROPERTIES_TABLE_SIZE    8
/*
 * 7.2 EFI_MEMORY_DESCRIPTOR is 40 bytes; like EDK2, hand out a larger
 * stride so that a consumer must use the descriptor size it is given.
 */
#define EFI_MEMORY_DESCRIPTOR_VERSION   1
#define EFI_MEMORY_DESC_SIZE            48
#define EFI_MEMORY_WB                   0x8ULL
#define EFI_PAGE_SIZE                   4096

/* EFI memory types (7.2, EFI_MEMORY_TYPE) */
enum {
    EFI_RUNTIME_SERVICES_DATA = 6,
    EFI_CONVENTIONAL_MEMORY = 7,
    EFI_ACPI_RECLAIM_MEMORY = 9,
    EFI_ACPI_MEMORY_NVS = 10,
};

/* Offsets in the handoff region (see the top of this file) */
#define HANDOFF_SYSTAB          0x0
#define HANDOFF_CONFIG_TABLES   0x100
#define HANDOFF_RT_PROPERTIES   0x200
#define HANDOFF_VENDOR          0x300
#define HANDOFF_MEMMAP          0x1000
#define HANDOFF_EFI_SIZE        (64 * KiB)
#define HANDOFF_MAX_DESC \
    ((HANDOFF_EFI_SIZE - HANDOFF_MEMMAP) / EFI_MEMORY_DESC_SIZE)
/*
 * The most descriptors the map gets: the _DSM page's own, five for the
 * bank that holds the handoff region, one for each other bank (the board
 * refuses more banks than its migration format carries).
 */
QEMU_BUILD_BUG_ON(1 + 5 + (VIRT_HOTMEM_MIGRATION_MAX_BANKS - 1) >
                  HANDOFF_MAX_DESC);
/*
 * Every boundary of the map on a 64 KiB granule, so that a kernel with
 * 64 KiB pages can honour it.  The region starts one granule into RAM:
 * virt's boot loader (4 KiB, boot.c) is there.
 */
#define HANDOFF_ALIGN           (64 * KiB)
#define HANDOFF_OFFSET          (64 * KiB)
/*
 * The _DSM buffer's own RAM, when it needs it: the buffer is one 4 KiB
 * page (NvdimmDsmIn/Out in hw/acpi/nvdimm.c), the region one granule of
 * the memory map, the least a kernel with 64 KiB pages maps on its own.
 */
#define DSM_RAM_SIZE            HANDOFF_ALIGN

#define VENDOR_NAME             "virt-hotmem"

/* ACPI_20_TABLE_GUID 8868e871-e4f1-11d3-bc22-0080c73c8881 */
static const uint8_t acpi_20_table_guid[16] = {
    0x71, 0xe8, 0x68, 0x88, 0xf1, 0xe4, 0xd3, 0x11,
    0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81,
};
/* EFI_RT_PROPERTIES_TABLE_GUID eb66918a-7eef-402a-842e-931d21c38ae9 */
static const uint8_t rt_properties_table_guid[16] = {
    0x8a, 0x91, 0x66, 0xeb, 0xef, 0x7e, 0x2a, 0x40,
    0x84, 0x2e, 0x93, 0x1d, 0x21, 0xc3, 0x8a, 0xe9,
};

/*
 * arm64's COMMAND_LINE_SIZE (arch/arm64/include/uapi/asm/setup.h): the
 * kernel silently cuts a longer command line.
 */
#define ARM64_COMMAND_LINE_SIZE 2048

/* enum efi_secureboot_mode in Linux's include/linux/efi.h */
#define EFI_SECUREBOOT_MODE_DISABLED 2

/* --- the decision, at machine init --------------------------------------- */

bool virt_hotmem_acpi_boot_check(VirtHotmemMachineState *vhms, Error **errp)
{
    VirtMachineState *vms = VIRT_MACHINE(vhms);
    MachineState *ms = MACHINE(vhms);

    vhms->acpi_boot = false;
    if (vms->acpi != ON_OFF_AUTO_ON) {
        /* acpi=auto and acpi=off: virt's own behaviour */
        return true;
    }
    if (virt_hotmem_has_firmware(vhms)) {
        error_setg(errp, "acpi=on: virt-hotmem hands ACPI to a -kernel it "
                   "boots without firmware, but firmware was given (-bios "
                   "or pflash); with firmware, leave acpi=auto");
        return false;
    }
    if (!ms->kernel_filename) {
        error_setg(errp, "acpi=on: no -kernel given: virt-hotmem hands ACPI "
                   "only to a kernel it boots itself (an arm64 Image)");
        return false;
    }
    /*
     * RAS hands the guest its error records through a buffer whose
     * address firmware writes back to QEMU (the BIOSLinker's
     * WRITE_POINTER, hw/acpi/ghes.c); nothing does that here.  Refused
     * now rather than when the tables are built, at machine-done.
     */
    if (vms->ras) {
        error_setg(errp, "acpi=on: ras=on needs firmware to tell QEMU where "
                   "the hardware error records are, and virt-hotmem boots "
                   "the -kernel without firmware: drop ras=on, or boot "
                   "through UEFI firmware with acpi=auto");
        return false;
    }
    if (ms->kernel_cmdline &&
        strlen(ms->kernel_cmdline) >= ARM64_COMMAND_LINE_SIZE) {
        error_setg(errp, "acpi=on: the -append command line is %zu bytes, "
                   "the arm64 kernel takes at most %d",
                   strlen(ms->kernel_cmdline), ARM64_COMMAND_LINE_SIZE - 1);
        return false;
    }
    vhms->acpi_boot = true;
    return true;
}

/*
 * The NVDIMM _DSM buffer's address is 32 bits wide (see the top of this
 * file).  Without RAM below 4 GiB to hold it, give it RAM of its own at
 * @base, below 4 GiB.  ACPI direct boot (acpi=on) uses virt's secure-RAM
 * window (VIRT_SECURE_MEM, 16 MiB at 0x0e000000) for its 64 KiB:
 *  - virt maps that window only with secure=on, and then only in the
 *    Secure address space (create_secure_ram()), which this machine's
 *    -kernel never runs in; secure=on is refused here rather than have
 *    two RAMs at one address;
 *  - the planner (virt-hotmem-layout.c) counts it among virt's fixed
 *    low MMIO regions ("secure-mem"), so RAM and device memory never go
 *    there.
 * UEFI firmware gets more (virt_hotmem_uefi_low_ram() in virt-hotmem.c),
 * in free space the planner finds, away from that window.  Either way it
 * is RAM (memory_region_init_ram()), so it migrates: the destination,
 * started with the same options, makes the same region.
 * ACPI direct boot puts the buffer there itself (the memory map marks it
 * EfiACPIMemoryNVS: Linux keeps it out of its RAM and maps it cacheable
 * for the AML, arm64's acpi_os_ioremap()); UEFI firmware is told of the
 * region in the device tree and allocates the buffer there.  @option
 * names what asked for it in the error; @name is the RAM block's, which
 * migration matches.
 */
bool virt_hotmem_dsm_ram(VirtHotmemMachineState *vhms, const char *option,
                         const char *name, hwaddr base, uint64_t size,
                         Error **errp)
{
    VirtMachineState *vms = VIRT_MACHINE(vhms);
    const MemMapEntry *secure_mem = &vms->memmap[VIRT_SECURE_MEM];

    assert(size && base + size <= 4 * GiB);
    if (vms->secure && ranges_overlap(base, size, secure_mem->base,
                                      secure_mem->size)) {
        error_setg(errp, "%s: with nvdimm=on and RAM above 4 GiB, the "
                   "NVDIMM _DSM page goes to 0x%" HWADDR_PRIx ", which "
                   "secure=on gives to secure RAM: drop secure=on or keep "
                   "ram-base below 4 GiB", option, base);
        return false;
    }
    /* No owner (a device would be): the RAM block's name is global */
    if (!memory_region_init_ram(&vhms->acpi_dsm_ram, NULL, name, size,
                                errp)) {
        return false;
    }
    memory_region_add_subregion(get_system_memory(), base,
                                &vhms->acpi_dsm_ram);
    vhms->acpi_dsm_base = base;
    return true;
}

/*
 * After virt's init: boot.c has loaded the kernel (an Image at
 * bootinfo.entry), the initrd and chosen where the DTB goes.  Check what
 * only then is known, and where the handoff region fits.
 */
bool virt_hotmem_acpi_boot_check_loaded(VirtHotmemMachineState *vhms,
                                        Error **errp)
{
    VirtMachineState *vms = VIRT_MACHINE(vhms);
    MachineState *ms = MACHINE(vhms);
    const struct arm_boot_info *info = &vms->bootinfo;
    AddressSpace *as = &address_space_memory;
    const uint8_t *head = rom_ptr_for_as(as, info->entry, 64);
    hwaddr load_offset;

    if (!arm_feature(&ARM_CPU(first_cpu)->env, ARM_FEATURE_AARCH64)) {
        error_setg(errp, "acpi=on: the CPU (-cpu %s) is not 64-bit; ACPI "
                   "direct boot is for arm64 kernels (e.g. -cpu max)",
                   ms->cpu_type ? ms->cpu_type : "default");
        return false;
    }
    if (!head || !arm_parse_aarch64_image_header(head, 64, &load_offset)) {
        error_setg(errp, "acpi=on: -kernel %s is not an arm64 Image (no "
                   "'ARM\\x64' magic and image size in its header, see "
                   "Linux's Documentation/arch/arm64/booting.rst)",
                   ms->kernel_filename);
        return false;
    }
    vhms->acpi_handoff_base = info->loader_start + HANDOFF_OFFSET;
    vhms->acpi_handoff_limit = info->entry;
    if (ms->nvdimms_state->is_enabled &&
        vhms->acpi_handoff_limit > 4 * GiB) {
        hwaddr secure_mem = VIRT_MACHINE(vhms)->memmap[VIRT_SECURE_MEM].base;

        if (!virt_hotmem_dsm_ram(vhms, "acpi=on", "virt-hotmem.acpi-dsm",
                                 secure_mem, DSM_RAM_SIZE, errp)) {
            return false;
        }
        trace_virt_hotmem_acpi_boot_dsm_page(vhms->acpi_dsm_base,
                                             DSM_RAM_SIZE);
    }
    return true;
}

/*
 * The SRAT entry of the _DSM page's own RAM (virt's srat_extra_memory
 * hook, patches/0011), with acpi=on or UEFI firmware alike.  The EFI
 * memory map lists that RAM (acpi=on: as EfiACPIMemoryNVS, which Linux
 * adds to memblock as nomap memory; the firmware: as conventional memory
 * around the page it allocated), and Linux wants a node for every
 * memblock: without this entry Debian's
 * 6.1 kernel (numa_register_nodes(), drivers/base/arch_numa.c) logs
 * "NUMA: Warning: invalid memblk node 16 [mem 0x000000000e000000-
 * 0x000000000e00ffff]" (16 is MAX_NUMNODES: no node) and throws all of
 * the SRAT away for one fake node.
 *
 * Its node is the one of the first RAM bank (the NUMA node holding
 * machine->ram's offset 0, as build_srat() lays nodes out), not simply
 * node 0: it is where the rest of what is handed over lives (the EFI and
 * ACPI tables, at the start of that bank), and node 0 may have no memory
 * (-numa node,nodeid=0 with CPUs only), which 64 KiB of reserved RAM
 * would then turn into a node with memory, none of it usable.
 */
void virt_hotmem_acpi_boot_srat(VirtMachineState *vms, GArray *table_data)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(vms);
    NumaState *numa = MACHINE(vms)->numa_state;
    uint64_t size;
    int node = 0;

    if (!vhms->acpi_dsm_base) {
        return;
    }
    while (node < numa->num_nodes - 1 && !numa->nodes[node].node_mem) {
        node++;
    }
    size = memory_region_size(&vhms->acpi_dsm_ram);
    trace_virt_hotmem_acpi_boot_srat_dsm(vhms->acpi_dsm_base, size, node);
    build_srat_memory(table_data, vhms->acpi_dsm_base, size, node,
                      MEM_AFFINITY_ENABLED);
}

/* --- placing the ACPI files ---------------------------------------------- */

typedef struct AcpiBootHandoff {
    hwaddr base;        /* guest address of the region */
    GByteArray *buf;    /* its contents */
    hwaddr acpi_end;    /* end of the ACPI reclaim part */
    hwaddr nvs_end;     /* end of the NVS part (== acpi_end if none) */
    hwaddr dsm_base;    /* the _DSM page's own RAM, 0 if none */
    GArray *files;      /* BIOSLinkerAlloc: every file, placed */
} AcpiBootHandoff;

/*
 * bios_linker_loader_apply()'s callback (patches/0016): place the files
 * the ACPI tables' linker allocates, the reclaimable ones first, then the
 * NVDIMM _DSM page, which the guest's AML writes at run time (ACPI NVS),
 * each part on its own granules, because the memory map wants each kind
 * contiguous.  The _DSM page goes to its own RAM instead when it has some.
 */
static void acpi_boot_place(BIOSLinkerAlloc *allocs, size_t n, void *opaque)
{
    AcpiBootHandoff *h = opaque;
    hwaddr next = h->base + HANDOFF_EFI_SIZE;
    unsigned pass;
    size_t i;

    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < n; i++) {
            BIOSLinkerAlloc *a = &allocs[i];
            bool nvs = g_str_equal(a->file, NVDIMM_DSM_MEM_FILE);

            if (nvs != pass) {
                continue;
            }
            if (nvs && h->dsm_base) {
                g_assert(a->blob->len <= DSM_RAM_SIZE);
                a->addr = h->dsm_base;
                continue;
            }
            g_assert(a->align <= HANDOFF_ALIGN);
            next = ROUND_UP(next, MAX(a->align, 1));
            a->addr = next;
            next += a->blob->len;
        }
        next = ROUND_UP(next, HANDOFF_ALIGN);
        if (pass == 0) {
            h->acpi_end = next;
        }
    }
    h->nvs_end = next;
    g_array_append_vals(h->files, allocs, n);
}

/*
 * Size the handoff region and copy the linked files into it (all but a
 * _DSM page in RAM of its own: its contents are scratch, each call writes
 * its input first); return the RSDP's address.
 */
static hwaddr acpi_boot_load_files(AcpiBootHandoff *h)
{
    hwaddr rsdp = 0;
    guint i;

    g_byte_array_set_size(h->buf, h->nvs_end - h->base);
    memset(h->buf->data, 0, h->buf->len);
    for (i = 0; i < h->files->len; i++) {
        const BIOSLinkerAlloc *a = &g_array_index(h->files, BIOSLinkerAlloc,
                                                  i);

        if (!h->dsm_base || a->addr != h->dsm_base) {
            memcpy(h->buf->data + (a->addr - h->base), a->blob->data,
                   a->blob->len);
        }
        if (g_str_equal(a->file, ACPI_BUILD_RSDP_FILE)) {
            rsdp = a->addr;
        }
        trace_virt_hotmem_acpi_boot_file(a->file, a->addr, a->blob->len);
    }
    g_assert(rsdp);
    return rsdp;
}

/* --- the EFI system table and memory map ---------------------------------- */

typedef struct EfiMemmapBuilder {
    uint8_t *desc;
    size_t n;
} EfiMemmapBuilder;

static void efi_memmap_add(EfiMemmapBuilder *m, uint32_t type, hwaddr start,
                           hwaddr end)
{
    uint8_t *d;

    if (end <= start) {
        return;
    }
    g_assert(m->n < HANDOFF_MAX_DESC);     /* see HANDOFF_MAX_DESC */
    d = m->desc + m->n++ * EFI_MEMORY_DESC_SIZE;
    stl_le_p(d, type);
    stq_le_p(d + 8, start);                     /* PhysicalStart */
    stq_le_p(d + 16, 0);                        /* VirtualStart */
    stq_le_p(d + 24, (end - start) / EFI_PAGE_SIZE);
    stq_le_p(d + 32, EFI_MEMORY_WB);
    trace_virt_hotmem_acpi_boot_memmap(type, start, end - start);
}

static void efi_memmap_add_bank(EfiMemmapBuilder *m, const AcpiBootHandoff *h,
                                hwaddr base, hwaddr size)
{
    hwaddr end = base + size;
    hwaddr hend = h->nvs_end;

    if (h->base < base || hend > end) {
        efi_memmap_add(m, EFI_CONVENTIONAL_MEMORY, base, end);
        return;
    }
    efi_memmap_add(m, EFI_CONVENTIONAL_MEMORY, base, h->base);
    efi_memmap_add(m, EFI_RUNTIME_SERVICES_DATA, h->base,
                   h->base + HANDOFF_EFI_SIZE);
    efi_memmap_add(m, EFI_ACPI_RECLAIM_MEMORY, h->base + HANDOFF_EFI_SIZE,
                   h->acpi_end);
    efi_memmap_add(m, EFI_ACPI_MEMORY_NVS, h->acpi_end, h->nvs_end);
    efi_memmap_add(m, EFI_CONVENTIONAL_MEMORY, hend, end);
}

static void acpi_boot_write_efi(AcpiBootHandoff *h, hwaddr rsdp)
{
    uint8_t *st = h->buf->data + HANDOFF_SYSTAB;
    uint8_t *ct = h->buf->data + HANDOFF_CONFIG_TABLES;
    uint8_t *rt = h->buf->data + HANDOFF_RT_PROPERTIES;
    uint8_t *vendor = h->buf->data + HANDOFF_VENDOR;
    size_t i;

    /* FirmwareVendor is a NUL-terminated UCS-2 string */
    for (i = 0; i <= strlen(VENDOR_NAME); i++) {
        stw_le_p(vendor + 2 * i, VENDOR_NAME[i]);
    }

    memcpy(ct, acpi_20_table_guid, 16);
    stq_le_p(ct + 16, rsdp);
    memcpy(ct + EFI_CONFIG_TABLE_ENTRY_SIZE, rt_properties_table_guid, 16);
    stq_le_p(ct + EFI_CONFIG_TABLE_ENTRY_SIZE + 16,
             h->base + HANDOFF_RT_PROPERTIES);

    stw_le_p(rt, 1);                            /* Version */
    stw_le_p(rt + 2, EFI_RT_PROPERTIES_TABLE_SIZE);
    stl_le_p(rt + 4, 0);                        /* nothing supported */

    stq_le_p(st, EFI_SYSTEM_TABLE_SIGNATURE);
    stl_le_p(st + 8, EFI_SYSTEM_TABLE_REVISION);
    stl_le_p(st + 12, EFI_SYSTEM_TABLE_SIZE);   /* HeaderSize */
    stl_le_p(st + 16, 0);                       /* CRC32, below */
    stq_le_p(st + EFI_SYSTAB_FW_VENDOR, h->base + HANDOFF_VENDOR);
    stl_le_p(st + EFI_SYSTAB_FW_REVISION, 0);
    stq_le_p(st + EFI_SYSTAB_RUNTIME_SERVICES, 0);
    stq_le_p(st + EFI_SYSTAB_NR_TABLES, 2);
    stq_le_p(st + EFI_SYSTAB_TABLES, h->base + HANDOFF_CONFIG_TABLES);
    stl_le_p(st + 16, crc32(0, st, EFI_SYSTEM_TABLE_SIZE));
}

/* --- the stub device tree ------------------------------------------------- */

/*
 * Keep only /chosen and, in it, what boot.c put there for the kernel
 * (bootargs, initrd, seeds): the kernel then takes everything else from
 * ACPI.  stdout-path named a node that is gone; SPCR names the console.
 */
static void acpi_boot_stub_dt(void *fdt)
{
    static const char *const keep_root[] = {
        "#address-cells", "#size-cells", NULL
    };
    static const char *const keep_chosen[] = {
        "bootargs", "linux,initrd-start", "linux,initrd-end", "rng-seed",
        "kaslr-seed", NULL
    };
    struct { int parent_depth; const char *const *keep; } pass[2] = {
        { 0, keep_root }, { 1, keep_chosen },
    };
    int node, off, i;

    /* Every root subnode but /chosen */
    for (;;) {
        bool deleted = false;

        fdt_for_each_subnode(node, fdt, 0) {
            if (strcmp(fdt_get_name(fdt, node, NULL), "chosen")) {
                fdt_del_node(fdt, node);
                deleted = true;
                break;
            }
        }
        if (!deleted) {
            break;
        }
    }
    for (i = 0; i < 2; i++) {
        node = pass[i].parent_depth ? fdt_path_offset(fdt, "/chosen") : 0;
        for (;;) {
            bool deleted = false;

            fdt_for_each_property_offset(off, fdt, node) {
                const char *name;
                const char *const *k;

                fdt_getprop_by_offset(fdt, off, &name, NULL);
                for (k = pass[i].keep; *k && strcmp(*k, name); k++) {
                    ;
                }
                if (!*k) {
                    fdt_delprop(fdt, node, name);
                    deleted = true;
                    break;
                }
            }
            if (!deleted) {
                break;
            }
        }
    }
}

/*
 * What the EFI stub would put in /chosen for the kernel: where the system
 * table and the memory map are (Documentation/arch/arm/uefi.rst lists
 * these properties and their sizes).
 */
static void acpi_boot_chosen(void *fdt, hwaddr base, uint32_t memmap_size)
{
    qemu_fdt_setprop_u64(fdt, "/chosen", "linux,uefi-system-table",
                         base + HANDOFF_SYSTAB);
    qemu_fdt_setprop_u64(fdt, "/chosen", "linux,uefi-mmap-start",
                         base + HANDOFF_MEMMAP);
    qemu_fdt_setprop_cell(fdt, "/chosen", "linux,uefi-mmap-size",
                          memmap_size);
    qemu_fdt_setprop_cell(fdt, "/chosen", "linux,uefi-mmap-desc-size",
                          EFI_MEMORY_DESC_SIZE);
    qemu_fdt_setprop_cell(fdt, "/chosen", "linux,uefi-mmap-desc-ver",
                          EFI_MEMORY_DESCRIPTOR_VERSION);
    /*
     * Debian's kernels (debian/patches/features/all/lockdown/"arm64: add
     * kernel config option to lock down when in Secure Boot mode") read
     * one more property with the others, and ignore all of them ("Can't
     * find property 'linux,uefi-secure-boot' in DT!", then no EFI and no
     * RAM) if it is missing.  Its value is an enum efi_secureboot_mode
     * (include/linux/efi.h): disabled, since nothing was verified.
     */
    qemu_fdt_setprop_cell(fdt, "/chosen", "linux,uefi-secure-boot",
                          EFI_SECUREBOOT_MODE_DISABLED);
}

/* --- putting it together (from virt's machine-done, via modify_dtb) ------ */

/* What virt_foreach_ram_range() hands acpi_boot_bank_cb() */
typedef struct AcpiBootBankWalk {
    EfiMemmapBuilder *memmap;
    const AcpiBootHandoff *handoff;
} AcpiBootBankWalk;

static void acpi_boot_bank_cb(hwaddr base, hwaddr size, void *opaque)
{
    AcpiBootBankWalk *walk = opaque;

    efi_memmap_add_bank(walk->memmap, walk->handoff, base, size);
}

void virt_hotmem_acpi_boot_modify_dtb(VirtHotmemMachineState *vhms,
                                      void *fdt)
{
    VirtMachineState *vms = VIRT_MACHINE(vhms);
    MachineState *ms = MACHINE(vhms);
    AcpiBuildTables tables;
    AcpiBootHandoff h = {
        .base = vhms->acpi_handoff_base,
        .buf = g_byte_array_new(),
        .dsm_base = vhms->acpi_dsm_base,
        .files = g_array_new(false, false, sizeof(BIOSLinkerAlloc)),
    };
    EfiMemmapBuilder m;
    AcpiBootBankWalk walk = { .memmap = &m, .handoff = &h };
    hwaddr rsdp;
    Error *err = NULL;
    size_t memmap_size;

    acpi_build_tables_init(&tables);
    virt_acpi_build(vms, &tables);
    /*
     * ras=on, the only option that brings a WRITE_POINTER command, is
     * refused by virt_hotmem_acpi_boot_check().
     */
    if (!bios_linker_loader_apply(tables.linker, acpi_boot_place, &h, &err)) {
        error_prepend(&err, "acpi=on: ");
        goto fail;
    }
    if (h.nvs_end > vhms->acpi_handoff_limit) {
        error_setg(&err, "acpi=on: the EFI and ACPI tables need %" PRIu64
                   " KiB at 0x%" PRIx64 ", below the kernel at 0x%" PRIx64
                   ", which leaves %" PRIu64 " KiB",
                   (uint64_t)(h.nvs_end - h.base) / KiB, (uint64_t)h.base,
                   (uint64_t)vhms->acpi_handoff_limit,
                   (uint64_t)(vhms->acpi_handoff_limit - h.base) / KiB);
        goto fail;
    }
    rsdp = acpi_boot_load_files(&h);

    m = (EfiMemmapBuilder) { .desc = h.buf->data + HANDOFF_MEMMAP };
    /* Below every RAM bank (it is used only when they are above 4 GiB) */
    if (vhms->acpi_dsm_base) {
        efi_memmap_add(&m, EFI_ACPI_MEMORY_NVS, vhms->acpi_dsm_base,
                       vhms->acpi_dsm_base + DSM_RAM_SIZE);
    }
    virt_foreach_ram_range(vms, 0, ms->ram_size, acpi_boot_bank_cb, &walk);
    memmap_size = m.n * EFI_MEMORY_DESC_SIZE;
    acpi_boot_write_efi(&h, rsdp);

    rom_add_blob_fixed_as("virt-hotmem-efi-acpi", h.buf->data, h.buf->len,
                          h.base, &address_space_memory);
    vhms->acpi_efi_size = HANDOFF_EFI_SIZE;
    vhms->acpi_tables_size = h.acpi_end - h.base - HANDOFF_EFI_SIZE;
    vhms->acpi_nvs_size = h.nvs_end - h.acpi_end;

    acpi_boot_stub_dt(fdt);
    acpi_boot_chosen(fdt, h.base, memmap_size);
    trace_virt_hotmem_acpi_boot(h.base, rsdp, m.n, h.nvs_end - h.base);

    acpi_build_tables_cleanup(&tables, true);
    g_byte_array_free(h.buf, true);
    g_array_free(h.files, true);
    return;

fail:
    /*
     * Too late to refuse cleanly, and nothing earlier knows: this runs in
     * virt's machine-done notifier (virt_machine_done(), arm_load_dtb(),
     * modify_dtb), which has no error path (virt exits itself when
     * arm_load_dtb() fails), and the ACPI tables describe every
     * cold-plugged device, which exist only now.  What can fail is what
     * those tables need (room below the kernel, a 32-bit pointer that
     * reaches them); the message says so and names acpi=on.
     */
    error_report_err(err);
    exit(1);
}

void virt_hotmem_layout_row(MemoryLayoutRegionList ***tail, const char *name,
                            uint64_t base, uint64_t size,
                            MemoryLayoutRegionKind kind)
{
    MemoryLayoutRegion *q = g_new0(MemoryLayoutRegion, 1);

    q->name = g_strdup(name);
    q->base = base;
    q->size = size;
    q->kind = kind;
    QAPI_LIST_APPEND(*tail, q);
}

/* Rows for query-memory-layout: what the kernel must not reuse */
void virt_hotmem_acpi_boot_layout(VirtHotmemMachineState *vhms,
                                  MemoryLayoutRegionList ***tail)
{
    const struct {
        const char *name;
        uint64_t size;
    } rows[] = {
        { "efi-tables", vhms->acpi_efi_size },
        { "acpi-tables", vhms->acpi_tables_size },
        { "acpi-nvs", vhms->acpi_nvs_size },
    };
    uint64_t base = vhms->acpi_handoff_base;
    size_t i;

    if (vhms->acpi_dsm_base && !vhms->acpi_boot) {
        /* UEFI firmware's: it takes all of it as RAM (see the SRAT hook) */
        virt_hotmem_layout_row(tail, "ram-low", vhms->acpi_dsm_base,
                               memory_region_size(&vhms->acpi_dsm_ram),
                               MEMORY_LAYOUT_REGION_KIND_RAM);
        return;
    }
    if (!vhms->acpi_efi_size) {
        return;
    }
    for (i = 0; i < ARRAY_SIZE(rows); i++) {
        if (rows[i].size) {
            virt_hotmem_layout_row(tail, rows[i].name, base, rows[i].size,
                                   MEMORY_LAYOUT_REGION_KIND_BOOT_TABLES);
            base += rows[i].size;
        }
    }
    if (vhms->acpi_dsm_base) {
        virt_hotmem_layout_row(tail, "acpi-nvs", vhms->acpi_dsm_base,
                               memory_region_size(&vhms->acpi_dsm_ram),
                               MEMORY_LAYOUT_REGION_KIND_BOOT_TABLES);
    }
}
