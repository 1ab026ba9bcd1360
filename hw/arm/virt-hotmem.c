/*
 * virt-hotmem: the Arm virt board with a movable memory map
 *
 * Each virt-hotmem-X.Y machine is a QOM subclass of upstream's virt-X.Y:
 * it inherits the board, its compat properties and its migration format,
 * and overrides only what the memory model needs.  A released version is
 * frozen.  Machine compat properties apply to devices, not to the machine
 * object, so a later version that changes a default of ours records the
 * old one in the older versions' class, as upstream's
 * virt_machine_X_Y_options() do for virt, and keeps their maps unchanged.
 *
 * The memory map itself is computed by the pure planner of
 * virt-hotmem-layout.c; this file turns the machine's options into a
 * request, hands the result to virt (through virt's plan_memmap hook), and
 * is the only reader of the planned layout besides the ACPI, SMBIOS and
 * DT code of virt, which read vms->memmap[], vms->ram_banks and
 * ms->device_memory, and virt-hotmem-dt.c.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "virt-hotmem-base.h"
#include "qemu/units.h"
#include "qemu/cutils.h"
#include "qemu/datadir.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-types-memory-layout.h"
#include "hw/boards.h"
#include "hw/mem/memory-device.h"
#include "hw/mem/nvdimm.h"
#include "hw/acpi/acpi.h"
#include "hw/core/memory-layout.h"
#include "hw/arm/virt-hotmem.h"
#include "migration/misc.h"
#include "migration/register.h"
#include "migration/vmstate.h"
/*
 * Internal to the migration core, for the missing-section check below:
 * main_thread_load_event (the end of a stream's load) and the stream's
 * error, which tells the source over the return path that the load
 * failed.
 */
#include "migration/migration.h"
#include "migration/qemu-file.h"
#include "system/device_tree.h"
#include "system/numa.h"
#include "system/blockdev.h"
#include "system/kvm.h"
#include "kvm_arm.h"
#include "hw/loader.h"
#include "hw/block/flash.h"
#include "qemu/bswap.h"
#include "trace.h"

#include <glob.h>
#include <zlib.h>

/* Names of virt's low memory map entries, as query-memory-layout shows them */
static const char *const virt_hotmem_low_names[VIRT_LOWMEMMAP_LAST] = {
    [VIRT_FLASH] = "flash",
    [VIRT_CPUPERIPHS] = "cpu-peripherals",
    [VIRT_GIC_DIST] = "gic-dist",
    [VIRT_GIC_CPU] = "gic-cpu",
    [VIRT_GIC_V2M] = "gic-v2m",
    [VIRT_GIC_HYP] = "gic-hyp",
    [VIRT_GIC_VCPU] = "gic-vcpu",
    [VIRT_GIC_ITS] = "gic-its",
    [VIRT_GIC_REDIST] = "gic-redist",
    [VIRT_SMMU] = "smmu",
    [VIRT_UART0] = "uart0",
    [VIRT_MMIO] = "virtio-mmio",
    [VIRT_RTC] = "rtc",
    [VIRT_FW_CFG] = "fw-cfg",
    [VIRT_PCIE_MMIO] = "pcie-mmio",
    [VIRT_PCIE_PIO] = "pcie-pio",
    [VIRT_PCIE_ECAM] = "pcie-ecam",
    [VIRT_PLATFORM_BUS] = "platform-bus",
    [VIRT_GPIO] = "gpio",
    [VIRT_UART1] = "uart1",
    [VIRT_SECURE_MEM] = "secure-mem",
    [VIRT_SECURE_GPIO] = "secure-gpio",
    [VIRT_PCDIMM_ACPI] = "pcdimm-acpi",
    [VIRT_ACPI_GED] = "acpi-ged",
    [VIRT_NVDIMM_ACPI] = "nvdimm-acpi",
    [VIRT_PVTIME] = "pvtime",
};

/* The migration section's wire format has exactly virt's high IO regions. */
QEMU_BUILD_BUG_ON(VIRT_HOTMEM_NR_HIGH != VIRT_HOTMEM_MIGRATION_NR_HIGH);
QEMU_BUILD_BUG_ON(ACPI_MAX_RAM_SLOTS > VIRT_HOTMEM_MIGRATION_MAX_DIMMS);

/* virt's index of each high IO region we place, in virt's order */
static const int virt_hotmem_high_index[VIRT_HOTMEM_NR_HIGH] = {
    VIRT_HIGH_GIC_REDIST2, VIRT_HIGH_PCIE_ECAM, VIRT_HIGH_PCIE_MMIO,
};

static const char *const virt_hotmem_high_names[VIRT_HOTMEM_NR_HIGH] = {
    "gic-redist2", "pcie-ecam-high", "pcie-mmio-high",
};

/* virt keeps the enable flag of each high IO region in its own field. */
static bool *virt_hotmem_high_enabled(VirtMachineState *vms, int index)
{
    switch (index) {
    case VIRT_HIGH_GIC_REDIST2:
        return &vms->highmem_redists;
    case VIRT_HIGH_PCIE_ECAM:
        return &vms->highmem_ecam;
    case VIRT_HIGH_PCIE_MMIO:
        return &vms->highmem_mmio;
    }
    g_assert_not_reached();
}

/* --- reserved regions ---------------------------------------------------- */

static bool virt_hotmem_read_reserved_file(const char *path, const char *opt,
                                           VirtHotmemReservedRegion **regions,
                                           size_t *n_regions, Error **errp)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) gerr = NULL;
    gsize len;

    if (!g_file_get_contents(path, &text, &len, &gerr)) {
        error_setg(errp, "reserved-regions=%s: %s", opt, gerr->message);
        return false;
    }
    return virt_hotmem_parse_reserved_regions(text, len, path, regions,
                                              n_regions, errp);
}

/*
 * reserved-regions=host is the union of what the host's IOMMU groups
 * reserve: what a device assigned to this guest could not reach by DMA.
 */
static bool virt_hotmem_load_reserved(VirtHotmemMachineState *vhms,
                                      Error **errp)
{
    const char *opt = vhms->reserved_regions;
    VirtHotmemReservedRegion *all = NULL;
    size_t n_all = 0;
    bool ok = true;

    if (!opt || g_str_equal(opt, "none")) {
        return true;
    }
    if (g_str_equal(opt, "host")) {
        glob_t g;
        size_t i;

        /* Split so that the glob's slash-star does not read as a comment */
        if (glob("/sys/kernel/iommu_groups/" "*" "/reserved_regions", 0,
                 NULL, &g) == 0) {
            for (i = 0; ok && i < g.gl_pathc; i++) {
                ok = virt_hotmem_read_reserved_file(g.gl_pathv[i], "host",
                                                    &all, &n_all, errp);
            }
            trace_virt_hotmem_reserved_host(g.gl_pathc);
            globfree(&g);
        } else {
            trace_virt_hotmem_reserved_host(0);
        }
    } else {
        ok = virt_hotmem_read_reserved_file(opt, opt, &all, &n_all, errp);
    }
    ok = ok && virt_hotmem_reserved_regions_union(all, n_all,
                                                  &vhms->reserved,
                                                  &vhms->n_reserved, errp);
    virt_hotmem_reserved_regions_free(all, n_all);
    return ok;
}

/* --- planning ------------------------------------------------------------ */

/* Inflate the first @len bytes of the gzip file open as @fd into @out */
static bool virt_hotmem_gunzip_head(int fd, uint8_t *out, size_t len)
{
    z_stream s = { .next_out = out, .avail_out = len };
    uint8_t in[4096];
    off_t off = 0;
    int r = Z_OK;

    /* 16 + MAX_WBITS: a gzip stream (RFC 1952), as the file is */
    if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) {
        return false;
    }
    while (s.avail_out && r == Z_OK) {
        if (!s.avail_in) {
            ssize_t n = pread(fd, in, sizeof(in), off);

            if (n <= 0) {
                break;
            }
            off += n;
            s.next_in = in;
            s.avail_in = n;
        }
        r = inflate(&s, Z_NO_FLUSH);
    }
    inflateEnd(&s);
    return !s.avail_out;
}

/*
 * The size of @filename, -1 if it cannot be read, as get_image_size() of
 * QEMU 10.0 without the Error ** that QEMU 10.1 added: the loader reports
 * the file's errors, not this estimate.
 */
static int64_t virt_hotmem_file_size(const char *filename)
{
    int fd = qemu_open_old(filename, O_RDONLY);
    off_t size;

    if (fd < 0) {
        return -1;
    }
    size = lseek(fd, 0, SEEK_END);
    close(fd);
    return size;
}

/*
 * What boot.c will make of the -kernel file: the offset from the start of
 * RAM at which it loads it (@load_offset) and the bytes it takes there.
 * boot.c gunzips a gzip file, then reads the arm64 Image header
 * (arm_parse_aarch64_image_header(), patches/0017: image_size counts the
 * BSS too), and without one takes the size of the (uncompressed) file.
 * Only the header is inflated here: a gzip file's uncompressed size is in
 * its trailer (ISIZE, RFC 1952).  -1 if the file cannot be read (the
 * loader reports that).
 */
static int64_t virt_hotmem_kernel_size(const char *filename,
                                       hwaddr *load_offset)
{
    int fd = qemu_open_old(filename, O_RDONLY);
    uint8_t head[64] = { 0 }, tail[4];
    uint64_t image_size;
    int64_t size;

    if (fd < 0) {
        return -1;
    }
    size = lseek(fd, 0, SEEK_END);
    if (size < 0) {
        close(fd);
        return -1;
    }
    if (pread(fd, head, sizeof(head), 0) >= 2 &&
        head[0] == 0x1f && head[1] == 0x8b) {
        if (pread(fd, tail, 4, size - 4) == 4) {
            size = ldl_le_p(tail);
        }
        if (!virt_hotmem_gunzip_head(fd, head, sizeof(head))) {
            memset(head, 0, sizeof(head));
        }
    }
    close(fd);
    image_size = arm_parse_aarch64_image_header(head, sizeof(head),
                                                load_offset);
    return image_size ? image_size : size;
}

/*
 * The one answer to "does the guest boot through firmware?", for every
 * caller before and after virt's init.  It is the answer virt's
 * virt_firmware_init() gives (bootinfo.firmware_loaded: -bios, or a
 * block device behind the first flash), available before that runs: a
 * legacy -drive if=pflash,unit=0 is only moved into flash[0] there, so it
 * is asked for as such too.
 */
bool virt_hotmem_has_firmware(VirtHotmemMachineState *vhms)
{
    VirtMachineState *vms = VIRT_MACHINE(vhms);
    MachineState *ms = MACHINE(vhms);

    return ms->firmware || drive_get(IF_PFLASH, 0, 0) ||
           (vms->flash[0] && pflash_cfi01_get_blk(vms->flash[0]));
}

/*
 * Without firmware, boot.c puts its boot loader at the start of the first
 * RAM bank, the kernel above it, the initrd after the kernel (at least
 * 128 MiB or half the bank in, arm_boot_initrd_start(), patches/0017) and
 * the DTB at the next 2 MiB boundary, which arm64 Linux maps as a whole
 * 2 MiB block (Documentation/arch/arm64/booting.rst).  With several banks,
 * a first bank that cannot hold that is refused here, naming the sizes,
 * rather than failing later with a message about "RAM" that the user
 * sized differently (or, for the DTB, not at all).  The loader checks
 * again with the exact sizes.
 */
static bool virt_hotmem_check_boot_bank(VirtHotmemMachineState *vhms,
                                        const VirtHotmemLayout *layout,
                                        Error **errp)
{
    MachineState *ms = MACHINE(vhms);
    const VirtHotmemRamBank *bank = &layout->ram_banks[0];
    int64_t kernel_size, initrd_size = 0;
    hwaddr load_offset, initrd_start;
    uint64_t need;

    /* One bank is all of RAM, as on virt: boot.c's own checks apply. */
    if (layout->n_ram_banks < 2 || !ms->kernel_filename ||
        virt_hotmem_has_firmware(vhms)) {
        return true;
    }
    kernel_size = virt_hotmem_kernel_size(ms->kernel_filename, &load_offset);
    if (ms->initrd_filename) {
        initrd_size = virt_hotmem_file_size(ms->initrd_filename);
    }
    if (kernel_size < 0 || initrd_size < 0) {
        return true;
    }
    initrd_start = arm_boot_initrd_start(bank->base, bank->size,
                                         bank->base + load_offset +
                                         kernel_size);
    need = QEMU_ALIGN_UP(initrd_start - bank->base + initrd_size, 2 * MiB) +
           2 * MiB;
    if (need > bank->size) {
        error_setg(errp, "memory-layout=%s: the first RAM bank (0x%" PRIx64
                   ", %" PRIu64 " KiB) is too small to boot from: kernel "
                   "(%" PRIu64 " KiB), initrd (%" PRIu64 " KiB) and device "
                   "tree need %" PRIu64 " KiB there; move it with ram-base=",
                   VirtHotmemMemoryLayout_str(vhms->policy), bank->base,
                   bank->size / KiB, (uint64_t)kernel_size / KiB,
                   (uint64_t)initrd_size / KiB, need / KiB);
        return false;
    }
    return true;
}

/*
 * Where the address limit that memory did not fit below comes from.
 * Under KVM the map is planned in kvm_type, before the VM exists, and the
 * limit is the host's IPA size, not the CPU model's: say so, or the user
 * looks for the cause in -cpu.
 */
static const char *virt_hotmem_limit_origin(VirtMachineState *vms)
{
    bool fixed_ipa;

    if (!kvm_enabled() || !vms->highmem) {
        return "";
    }
    kvm_arm_get_max_vm_ipa_size(MACHINE(vms), &fixed_ipa);
    return fixed_ipa ?
        " (this host's KVM lacks KVM_CAP_ARM_VM_IPA_SIZE: its IPA space is "
        "fixed at 40 bits)" :
        " (the largest IPA size this host's KVM offers)";
}

/*
 * The board's part of the planner's request: virt's fixed low MMIO
 * regions in @mmio (returns how many) and its high IO regions in @high.
 */
static size_t virt_hotmem_board_regions(VirtMachineState *vms,
                                        VirtHotmemMmioRegion *mmio,
                                        VirtHotmemHighRegion *high)
{
    size_t n_mmio = 0;
    size_t i;

    for (i = 0; i < VIRT_LOWMEMMAP_LAST; i++) {
        uint64_t size = vms->memmap[i].size;

        if (i == VIRT_MEM || !virt_hotmem_low_names[i] || !size) {
            continue;
        }
        if (i == VIRT_MMIO) {
            /* The entry is one transport; virt creates a row of them. */
            size *= NUM_VIRTIO_TRANSPORTS;
        }
        mmio[n_mmio++] = (VirtHotmemMmioRegion) {
            .name = virt_hotmem_low_names[i],
            .base = vms->memmap[i].base,
            .size = size,
        };
    }
    for (i = 0; i < VIRT_HOTMEM_NR_HIGH; i++) {
        high[i] = (VirtHotmemHighRegion) {
            .name = virt_hotmem_high_names[i],
            .size = vms->memmap[virt_hotmem_high_index[i]].size,
            .enabled = *virt_hotmem_high_enabled(vms,
                                                 virt_hotmem_high_index[i]),
        };
    }
    return n_mmio;
}

/*
 * Run the planner, and refuse a plan this machine cannot migrate or boot
 * from, naming the options at fault.
 */
static VirtHotmemLayout *virt_hotmem_plan(VirtHotmemMachineState *vhms,
                                          const VirtHotmemRequest *req,
                                          Error **errp)
{
    VirtMachineState *vms = VIRT_MACHINE(vhms);
    VirtHotmemLayout *layout;
    VirtHotmemPlanFailure failure;
    Error *err = NULL;

    layout = virt_hotmem_layout_try_plan(req, &failure, &err);
    if (!layout) {
        /*
         * The board's part of the request is virt's own memory map, the
         * CPU's or host's address size and our constants: if the planner
         * refuses that, the bug is here, not in the user's options.
         */
        if (failure == VIRT_HOTMEM_PLAN_BAD_REQUEST) {
            error_propagate(&error_abort, err);
        }
        error_setg(errp, "%s%s", error_get_pretty(err),
                   failure == VIRT_HOTMEM_PLAN_BEYOND_LIMIT ?
                   virt_hotmem_limit_origin(vms) : "");
        error_free(err);
        return NULL;
    }
    if (layout->n_ram_banks > VIRT_HOTMEM_MIGRATION_MAX_BANKS) {
        error_setg(errp, "memory-layout=%s: RAM would be split into %zu "
                   "banks, more than the %d this machine can migrate",
                   VirtHotmemMemoryLayout_str(vhms->policy),
                   layout->n_ram_banks, VIRT_HOTMEM_MIGRATION_MAX_BANKS);
        goto fail;
    }
    if (!virt_hotmem_check_boot_bank(vhms, layout, errp)) {
        goto fail;
    }
    return layout;

fail:
    virt_hotmem_layout_free(layout);
    return NULL;
}

/* Hand the plan to virt: everything else reads it from here. */
static void virt_hotmem_apply_layout(VirtHotmemMachineState *vhms,
                                     const VirtHotmemLayout *layout)
{
    VirtMachineState *vms = VIRT_MACHINE(vhms);
    size_t i;

    vms->memmap[VIRT_MEM].base = layout->ram_banks[0].base;
    vms->memmap[VIRT_MEM].size = layout->ram_banks[0].size;
    for (i = 0; i < VIRT_HOTMEM_NR_HIGH; i++) {
        vms->memmap[virt_hotmem_high_index[i]].base = layout->high[i].base;
        *virt_hotmem_high_enabled(vms, virt_hotmem_high_index[i]) =
            layout->high[i].enabled;
    }
#if QEMU_BASE_AT_LEAST(10, 2)
    /*
     * QEMU 10.2's virt maps its CXL host bridge registers, an empty
     * container without cxl=on (which we refuse), at memmap[VIRT_CXL_HOST]
     * whatever the machine: where virt's compact rule puts it, after GIC
     * redistributor 2, or at the start of the high IO regions without it.
     */
    vms->memmap[VIRT_CXL_HOST].base =
        vms->highmem_redists ?
        ROUND_UP(vms->memmap[VIRT_HIGH_GIC_REDIST2].base +
                 vms->memmap[VIRT_HIGH_GIC_REDIST2].size,
                 vms->memmap[VIRT_CXL_HOST].size) :
        vms->memmap[VIRT_HIGH_PCIE_ECAM].base;
#endif
    vms->highest_gpa = virt_hotmem_layout_highest_gpa(layout);
    if (layout->n_ram_banks > 1) {
        vhms->ram_banks = g_new(MemMapEntry, layout->n_ram_banks);
        for (i = 0; i < layout->n_ram_banks; i++) {
            vhms->ram_banks[i].base = layout->ram_banks[i].base;
            vhms->ram_banks[i].size = layout->ram_banks[i].size;
        }
        vms->ram_banks = vhms->ram_banks;
        vms->n_ram_banks = layout->n_ram_banks;
    }
    if (layout->device_memory_size) {
        machine_memory_devices_init(MACHINE(vhms), layout->device_memory_base,
                                    layout->device_memory_size);
    }
}

static bool virt_hotmem_plan_memmap(VirtMachineState *vms, int pa_bits,
                                    Error **errp)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(vms);
    MachineState *ms = MACHINE(vms);
    VirtHotmemMmioRegion mmio[VIRT_LOWMEMMAP_LAST];
    VirtHotmemHighRegion high[VIRT_HOTMEM_NR_HIGH];
    VirtHotmemRequest req = {
        .ram_size = ms->ram_size,
        .maxram_size = ms->maxram_size,
        .ram_slots = ms->ram_slots,
        .ram_base_auto = vhms->ram_base_auto,
        .ram_base = vhms->ram_base,
        .device_memory_base_auto = vhms->device_memory_base_auto,
        .device_memory_base = vhms->device_memory_base,
        .policy = vhms->policy,
        .mmio = mmio,
        .high = high,
        .n_high = VIRT_HOTMEM_NR_HIGH,
        /* virt has already made highmem=off mean 32 bits */
        .pa_bits = pa_bits,
        /* virt's own constants: virt_set_memmap() has them as literals */
        .legacy_ram_base = vms->memmap[VIRT_MEM].base,
        .high_io_floor = 256 * GiB,
        .slot_slack = VIRT_HOTMEM_SLOT_SLACK,
        .max_ram_slots = ACPI_MAX_RAM_SLOTS,
    };
    VirtHotmemLayout *layout;
    size_t i;

#if QEMU_BASE_AT_LEAST(10, 2)
    /* QEMU 10.2's CXL windows go where virt's own rule would put them */
    if (vms->cxl_devices_state.is_enabled) {
        error_setg(errp, "cxl=on: virt-hotmem does not plan CXL host "
                   "bridges and windows; use -M virt for CXL");
        return false;
    }
#endif
    req.n_mmio = virt_hotmem_board_regions(vms, mmio, high);
    if (!vhms->reserved && !virt_hotmem_load_reserved(vhms, errp)) {
        return false;
    }
    req.reserved = vhms->reserved;
    req.n_reserved = vhms->n_reserved;

    layout = virt_hotmem_plan(vhms, &req, errp);
    if (!layout) {
        return false;
    }
    virt_hotmem_apply_layout(vhms, layout);

    trace_virt_hotmem_plan(VirtHotmemMemoryLayout_str(vhms->policy),
                           req.pa_bits, layout->n_ram_banks,
                           layout->ram_banks[0].base,
                           layout->device_memory_base,
                           layout->device_memory_size,
                           vms->highest_gpa,
                           virt_hotmem_layout_ipa_bits(layout));
    for (i = 0; i < layout->n_ram_banks; i++) {
        trace_virt_hotmem_ram_bank(i, layout->ram_banks[i].base,
                                   layout->ram_banks[i].size);
    }
    virt_hotmem_layout_free(vhms->layout);
    vhms->layout = layout;
    return true;
}

/* --- query-memory-layout ------------------------------------------------- */

static MemoryLayoutRegionKind virt_hotmem_qapi_kind(VirtHotmemRegionKind k)
{
    switch (k) {
    case VIRT_HOTMEM_REGION_RAM:
        return MEMORY_LAYOUT_REGION_KIND_RAM;
    case VIRT_HOTMEM_REGION_DEVICE_MEMORY:
        return MEMORY_LAYOUT_REGION_KIND_DEVICE_MEMORY;
    case VIRT_HOTMEM_REGION_MMIO:
        return MEMORY_LAYOUT_REGION_KIND_MMIO;
    case VIRT_HOTMEM_REGION_HIGH_MMIO:
        return MEMORY_LAYOUT_REGION_KIND_HIGH_MMIO;
    case VIRT_HOTMEM_REGION_RESERVED:
        return MEMORY_LAYOUT_REGION_KIND_RESERVED;
    }
    g_assert_not_reached();
}

static MemoryLayout *virt_hotmem_get_layout(MemoryLayoutProvider *p,
                                            Error **errp)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(p);
    MemoryLayout *ret;
    MemoryLayoutRegionList **tail;
    g_autoptr(GArray) regions = NULL;
    size_t i;

    if (!vhms->layout) {
        error_setg(errp, "the memory map is not planned yet");
        return NULL;
    }
    ret = g_new0(MemoryLayout, 1);
    tail = &ret->regions;
    regions = virt_hotmem_layout_regions(vhms->layout);
    for (i = 0; i < regions->len; i++) {
        const VirtHotmemRegion *r =
            &g_array_index(regions, VirtHotmemRegion, i);

        virt_hotmem_layout_row(&tail, r->name, r->base, r->size,
                               virt_hotmem_qapi_kind(r->kind));
    }
    virt_hotmem_acpi_boot_layout(vhms, &tail);
    ret->highest_gpa = virt_hotmem_layout_highest_gpa(vhms->layout);
    ret->ipa_bits = virt_hotmem_layout_ipa_bits(vhms->layout);
    return ret;
}

/* --- migration ------------------------------------------------------------ */

static void virt_hotmem_layout_to_migrated(VirtHotmemMachineState *vhms,
                                           VirtHotmemMigratedLayout *m)
{
    const VirtHotmemLayout *l = vhms->layout;
    size_t i;

    memset(m, 0, sizeof(*m));
    m->policy = vhms->policy;
    m->n_ram_banks = l->n_ram_banks;
    for (i = 0; i < l->n_ram_banks; i++) {
        m->ram_bank_base[i] = l->ram_banks[i].base;
        m->ram_bank_size[i] = l->ram_banks[i].size;
    }
    m->device_memory_base = l->device_memory_base;
    m->device_memory_size = l->device_memory_size;
    for (i = 0; i < VIRT_HOTMEM_NR_HIGH; i++) {
        m->high_base[i] = l->high[i].enabled ? l->high[i].base : 0;
        m->high_enabled[i] = l->high[i].enabled;
    }
    m->highest_gpa = virt_hotmem_layout_highest_gpa(l);
}

static void virt_hotmem_dimm_to_migrated(const PCDIMMDeviceInfo *di,
                                         bool nvdimm, void *opaque)
{
    VirtHotmemMigratedLayout *m = opaque;

    if (m->n_dimms < VIRT_HOTMEM_MIGRATION_MAX_DIMMS) {
        m->dimms[m->n_dimms++] = (VirtHotmemMigratedDimm) {
            .addr = di->addr, .size = di->size, .node = di->node,
        };
    }
}

/*
 * The pc-dimms and nvdimms plugged now, in address order.  The RAM
 * section catches a missing DIMM or one of another size only by its
 * backend's name, and nothing catches one on another NUMA node: the
 * guest would be told another proximity domain after the migration.
 */
static void virt_hotmem_dimms_to_migrated(VirtHotmemMigratedLayout *m)
{
    m->n_dimms = 0;
    memory_device_foreach_dimm(virt_hotmem_dimm_to_migrated, m);
}

static int virt_hotmem_layout_pre_save(void *opaque)
{
    VirtHotmemMachineState *vhms = opaque;

    virt_hotmem_layout_to_migrated(vhms, &vhms->migrated);
    virt_hotmem_dimms_to_migrated(&vhms->migrated);
    return 0;
}

static int virt_hotmem_layout_pre_load(void *opaque)
{
    VirtHotmemMachineState *vhms = opaque;

    memset(&vhms->migrated, 0, sizeof(vhms->migrated));
    return 0;
}

/* Name the first field that differs, and the options that reproduce it. */
static char *virt_hotmem_layout_diff(const VirtHotmemMigratedLayout *src,
                                     const VirtHotmemMigratedLayout *dst)
{
    uint32_t i;

    if (src->policy != dst->policy) {
        return g_strdup_printf("memory-layout differs (source %s, here %s)",
                               VirtHotmemMemoryLayout_str(src->policy),
                               VirtHotmemMemoryLayout_str(dst->policy));
    }
    if (src->n_ram_banks != dst->n_ram_banks) {
        return g_strdup_printf("number of RAM banks differs (source %u, "
                               "here %u)", src->n_ram_banks,
                               dst->n_ram_banks);
    }
    for (i = 0; i < src->n_ram_banks; i++) {
        if (src->ram_bank_base[i] != dst->ram_bank_base[i] ||
            src->ram_bank_size[i] != dst->ram_bank_size[i]) {
            return g_strdup_printf("RAM bank %u differs (source 0x%" PRIx64
                                   "+0x%" PRIx64 ", here 0x%" PRIx64
                                   "+0x%" PRIx64 ")", i,
                                   src->ram_bank_base[i],
                                   src->ram_bank_size[i],
                                   dst->ram_bank_base[i],
                                   dst->ram_bank_size[i]);
        }
    }
    if (src->device_memory_base != dst->device_memory_base ||
        src->device_memory_size != dst->device_memory_size) {
        return g_strdup_printf("device memory differs (source 0x%" PRIx64
                               "+0x%" PRIx64 ", here 0x%" PRIx64 "+0x%"
                               PRIx64 ")", src->device_memory_base,
                               src->device_memory_size,
                               dst->device_memory_base,
                               dst->device_memory_size);
    }
    for (i = 0; i < VIRT_HOTMEM_NR_HIGH; i++) {
        if (src->high_enabled[i] != dst->high_enabled[i] ||
            src->high_base[i] != dst->high_base[i]) {
            return g_strdup_printf("high IO region %s differs (source %s "
                                   "0x%" PRIx64 ", here %s 0x%" PRIx64 ")",
                                   virt_hotmem_high_names[i],
                                   src->high_enabled[i] ? "at" : "off",
                                   src->high_base[i],
                                   dst->high_enabled[i] ? "at" : "off",
                                   dst->high_base[i]);
        }
    }
    if (src->highest_gpa != dst->highest_gpa) {
        return g_strdup_printf("highest guest physical address differs "
                               "(source 0x%" PRIx64 ", here 0x%" PRIx64 ")",
                               src->highest_gpa, dst->highest_gpa);
    }
    return NULL;
}

/* Name the first DIMM that differs (the source's options fix it). */
static char *virt_hotmem_dimms_diff(const VirtHotmemMigratedLayout *src,
                                    const VirtHotmemMigratedLayout *dst)
{
    uint32_t i;

    for (i = 0; i < MAX(src->n_dimms, dst->n_dimms); i++) {
        const VirtHotmemMigratedDimm *s = &src->dimms[i], *d = &dst->dimms[i];

        if (i >= dst->n_dimms) {
            return g_strdup_printf("the source's DIMM at 0x%" PRIx64 " (0x%"
                                   PRIx64 " bytes, node %u) is missing here",
                                   s->addr, s->size, s->node);
        }
        if (i >= src->n_dimms || s->addr != d->addr) {
            return g_strdup_printf("this machine's DIMM at 0x%" PRIx64 " (0x%"
                                   PRIx64 " bytes, node %u) is not on the "
                                   "source", d->addr, d->size, d->node);
        }
        if (s->size != d->size) {
            return g_strdup_printf("the DIMM at 0x%" PRIx64 " has 0x%" PRIx64
                                   " bytes on the source, 0x%" PRIx64 " here",
                                   s->addr, s->size, d->size);
        }
        if (s->node != d->node) {
            return g_strdup_printf("the DIMM at 0x%" PRIx64 " is on node %u "
                                   "on the source, node %u here", s->addr,
                                   s->node, d->node);
        }
    }
    return NULL;
}

/*
 * Refuse the incoming stream: the migration core reports the reason to
 * this QEMU's user and, over the return path, to the source.
 */
static int G_GNUC_PRINTF(1, 2) virt_hotmem_refuse_incoming(const char *fmt,
                                                           ...)
{
    Error *err = NULL;
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(&err, "%s", msg);
    migration_incoming_set_error(err);
    error_free(err);
    return -EINVAL;
}

/* Whether the incoming stream had the memory-layout section. */
static bool virt_hotmem_layout_received;
/* Whether the load was cleaned up (it may have failed before its end). */
static bool virt_hotmem_load_cleaned_up;

static int virt_hotmem_layout_post_load(void *opaque, int version_id)
{
    VirtHotmemMachineState *vhms = opaque;
    VirtHotmemMigratedLayout here;
    const VirtHotmemMigratedLayout *src = &vhms->migrated;
    g_autofree char *diff = NULL;

    qatomic_set(&virt_hotmem_layout_received, true);

    if (src->n_ram_banks > VIRT_HOTMEM_MIGRATION_MAX_BANKS) {
        return virt_hotmem_refuse_incoming(
            "virt-hotmem: migration stream: the memory layout has %u RAM "
            "banks, more than the %d its wire format carries",
            src->n_ram_banks, VIRT_HOTMEM_MIGRATION_MAX_BANKS);
    }
    if (src->policy != VIRT_HOTMEM_MEMORY_LAYOUT_CONTIGUOUS &&
        src->policy != VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001) {
        return virt_hotmem_refuse_incoming(
            "virt-hotmem: migration stream: unknown memory-layout policy %u",
            src->policy);
    }
    if (src->n_ram_banks == 0) {
        return virt_hotmem_refuse_incoming(
            "virt-hotmem: migration stream: the memory layout has no RAM "
            "bank");
    }
    virt_hotmem_layout_to_migrated(vhms, &here);
    diff = virt_hotmem_layout_diff(src, &here);
    trace_virt_hotmem_migration_check(src->ram_bank_base[0],
                                      src->device_memory_base, !diff);
    if (diff) {
        g_autofree char *dm_base = src->device_memory_size ?
            g_strdup_printf("0x%" PRIx64, src->device_memory_base) :
            g_strdup("auto");

        return virt_hotmem_refuse_incoming(
            "virt-hotmem: the source's memory map differs from this "
            "machine's: %s; start this QEMU with -M %s,memory-layout=%s,"
            "ram-base=0x%" PRIx64 ",device-memory-base=%s", diff,
            MACHINE_GET_CLASS(vhms)->name,
            VirtHotmemMemoryLayout_str(src->policy),
            src->ram_bank_base[0], dm_base);
    }

    virt_hotmem_dimms_to_migrated(&here);
    diff = virt_hotmem_dimms_diff(src, &here);
    if (diff) {
        return virt_hotmem_refuse_incoming(
            "virt-hotmem: the source's memory devices differ from this "
            "machine's: %s; start this QEMU with the source's -object and "
            "-device options for every pc-dimm and nvdimm, hot-added ones "
            "included", diff);
    }
    return 0;
}

static bool virt_hotmem_dimms_needed(void *opaque)
{
    VirtHotmemMachineState *vhms = opaque;

    return vhms->migrated.n_dimms > 0;
}

static bool virt_hotmem_n_dimms_valid(void *opaque, int version_id)
{
    VirtHotmemMachineState *vhms = opaque;

    return vhms->migrated.n_dimms <= VIRT_HOTMEM_MIGRATION_MAX_DIMMS;
}

static const VMStateDescription vmstate_virt_hotmem_dimm = {
    .name = "virt-hotmem/dimm",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(addr, VirtHotmemMigratedDimm),
        VMSTATE_UINT64(size, VirtHotmemMigratedDimm),
        VMSTATE_UINT32(node, VirtHotmemMigratedDimm),
        VMSTATE_END_OF_LIST()
    },
};

/* Only with DIMMs, so that a stream without any keeps its old format. */
static const VMStateDescription vmstate_virt_hotmem_dimms = {
    .name = "virt-hotmem/memory-layout/dimms",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = virt_hotmem_dimms_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(migrated.n_dimms, VirtHotmemMachineState),
        VMSTATE_VALIDATE("DIMM count within the slots ACPI can describe",
                         virt_hotmem_n_dimms_valid),
        VMSTATE_STRUCT_VARRAY_UINT32(migrated.dimms, VirtHotmemMachineState,
                                     migrated.n_dimms, 1,
                                     vmstate_virt_hotmem_dimm,
                                     VirtHotmemMigratedDimm),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virt_hotmem_layout = {
    .name = "virt-hotmem/memory-layout",
    .version_id = 1,
    .minimum_version_id = 1,
    /* Before any RAM: a destination with another map must not load it. */
    .early_setup = true,
    .pre_save = virt_hotmem_layout_pre_save,
    .pre_load = virt_hotmem_layout_pre_load,
    .post_load = virt_hotmem_layout_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(migrated.policy, VirtHotmemMachineState),
        VMSTATE_UINT32(migrated.n_ram_banks, VirtHotmemMachineState),
        VMSTATE_UINT64_ARRAY(migrated.ram_bank_base, VirtHotmemMachineState,
                             VIRT_HOTMEM_MIGRATION_MAX_BANKS),
        VMSTATE_UINT64_ARRAY(migrated.ram_bank_size, VirtHotmemMachineState,
                             VIRT_HOTMEM_MIGRATION_MAX_BANKS),
        VMSTATE_UINT64(migrated.device_memory_base, VirtHotmemMachineState),
        VMSTATE_UINT64(migrated.device_memory_size, VirtHotmemMachineState),
        VMSTATE_UINT64_ARRAY(migrated.high_base, VirtHotmemMachineState,
                             VIRT_HOTMEM_MIGRATION_NR_HIGH),
        VMSTATE_BOOL_ARRAY(migrated.high_enabled, VirtHotmemMachineState,
                           VIRT_HOTMEM_MIGRATION_NR_HIGH),
        VMSTATE_UINT64(migrated.highest_gpa, VirtHotmemMachineState),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_virt_hotmem_dimms,
        NULL
    },
};

/*
 * A stream without the memory-layout section (from a build that does not
 * send it) would load unchecked: QEMU does not miss a section it never
 * receives.  A load thread is the one hook that runs after the last
 * section and whose failure fails the load: it waits for the main
 * thread's end of the stream and refuses it if the section did not come.
 */
static bool virt_hotmem_layout_check(void *opaque, bool *should_quit,
                                     Error **errp)
{
    MigrationIncomingState *mis = migration_incoming_get_current();
    QEMUFile *f = opaque;     /* the stream: a snapshot's too */

    qemu_event_wait(&mis->main_thread_load_event);
    /* A stream that failed on its own already has its reason. */
    if (qatomic_read(should_quit) ||
        qatomic_read(&virt_hotmem_load_cleaned_up) ||
        qatomic_read(&virt_hotmem_layout_received) ||
        qemu_file_get_error(f)) {
        return true;
    }
    error_setg(errp, "virt-hotmem: the migration stream has no %s section "
               "(version %d here): its source does not send the memory map, "
               "so this QEMU cannot check it; migrate from a virt-hotmem "
               "build that sends it, or boot the guest anew here",
               vmstate_virt_hotmem_layout.name,
               vmstate_virt_hotmem_layout.version_id);
    /* The destination prints this error (the first), and sends it. */
    qemu_file_set_error(f, -EINVAL);
    return false;
}

static int virt_hotmem_layout_load_setup(QEMUFile *f, void *opaque,
                                         Error **errp)
{
    qatomic_set(&virt_hotmem_layout_received, false);
    qatomic_set(&virt_hotmem_load_cleaned_up, false);
    qemu_loadvm_start_load_thread(virt_hotmem_layout_check, f);
    return 0;
}

/*
 * A load that failed before its end (another handler's load_setup) never
 * sets main_thread_load_event, and the load threads are waited for right
 * after the cleanup handlers: end the check here.
 */
static int virt_hotmem_layout_load_cleanup(void *opaque)
{
    qatomic_set(&virt_hotmem_load_cleaned_up, true);
    qemu_event_set(&migration_incoming_get_current()->main_thread_load_event);
    return 0;
}

/* Nothing to save: this entry only checks what the destination loads. */
static const SaveVMHandlers savevm_virt_hotmem_layout_check = {
    .load_setup = virt_hotmem_layout_load_setup,
    .load_cleanup = virt_hotmem_layout_load_cleanup,
};

/* --- UEFI firmware ------------------------------------------------------- */

/*
 * Two EDK II builds for virt are told apart by the layout of their
 * images, which their platform's .fdf fixes (ArmVirtPkg/ArmVirtQemu.fdf,
 * ArmVirtQemuKernel.fdf): each starts with a small area of its own, then
 * its firmware volume, whose header has the signature "_FVH" at offset 40
 * (EFI_FIRMWARE_VOLUME_HEADER).
 *
 * ArmVirtQemu (Debian's AAVMF and qemu-efi-aarch64, QEMU's
 * edk2-aarch64-code.fd) runs from flash with its RAM base fixed at build
 * time to virt's 1 GiB (PcdSystemMemoryBase): its first word branches
 * over 4 KiB to the volume at 0x1000.
 */
#define EDK2_FV_SIGNATURE_OFFSET    40
#define ARMVIRTQEMU_FV_OFFSET       0x1000
#define ARMVIRTQEMU_BRANCH          0x14000400      /* b 0x1000 */
/*
 * ArmVirtQemuKernel is loaded with -kernel and takes its RAM from the
 * device tree: it carries an arm64 Image header ("ARM\x64" at 0x38,
 * Linux's Documentation/arch/arm64/booting.rst) and its volume at 32 KiB.
 */
#define ARMVIRTQEMUKERNEL_FV_OFFSET 0x8000
#define ARM64_IMAGE_MAGIC_OFFSET    0x38

static bool edk2_fv_at(const uint8_t *image, size_t size, size_t fv)
{
    return size >= fv + EDK2_FV_SIGNATURE_OFFSET + 4 &&
           !memcmp(image + fv + EDK2_FV_SIGNATURE_OFFSET, "_FVH", 4);
}

/* Read the first @len bytes of the file @path into @buf */
static bool virt_hotmem_read_head(const char *path, uint8_t *buf, size_t len)
{
    bool ok;
    int fd;

    fd = qemu_open_old(path, O_RDONLY);
    if (fd < 0) {
        return false;       /* the loader names the file and the reason */
    }
    ok = read(fd, buf, len) == len;
    close(fd);
    return ok;
}

static bool edk2_is_armvirtqemu(const uint8_t *image, size_t size)
{
    return size >= 4 && ldl_le_p(image) == ARMVIRTQEMU_BRANCH &&
           edk2_fv_at(image, size, ARMVIRTQEMU_FV_OFFSET);
}

/* Is the firmware (-bios, or the first flash) EDK II's ArmVirtQemu? */
static bool virt_hotmem_firmware_is_armvirtqemu(VirtHotmemMachineState *vhms)
{
    VirtMachineState *vms = VIRT_MACHINE(vhms);
    MachineState *ms = MACHINE(vhms);
    uint8_t head[ARMVIRTQEMU_FV_OFFSET + EDK2_FV_SIGNATURE_OFFSET + 4];
    g_autofree char *bios = NULL;
    MemoryRegion *mr;

    if (ms->firmware) {
        /* -bios is copied into the flash only at reset: read the file */
        bios = qemu_find_file(QEMU_FILE_TYPE_BIOS, ms->firmware);
        return bios && virt_hotmem_read_head(bios, head, sizeof(head)) &&
               edk2_is_armvirtqemu(head, sizeof(head));
    }
    if (!vms->flash[0]) {
        return false;
    }
    /* A pflash drive's content is read into the flash when it is realized */
    mr = pflash_cfi01_get_memory(vms->flash[0]);
    return memory_region_get_ram_ptr(mr) &&
           edk2_is_armvirtqemu(memory_region_get_ram_ptr(mr),
                               memory_region_size(mr));
}

/*
 * Is @kernel EDK II's ArmVirtQemuKernel?  It is firmware, although QEMU
 * loads it as a kernel: it wants virt's ACPI tables (fw_cfg) and, for
 * pc-dimm and nvdimm hotplug, the GED, as firmware from flash does.
 */
static bool virt_hotmem_kernel_is_uefi(const char *kernel)
{
    uint8_t head[ARMVIRTQEMUKERNEL_FV_OFFSET + EDK2_FV_SIGNATURE_OFFSET + 4];

    return kernel && virt_hotmem_read_head(kernel, head, sizeof(head)) &&
           !memcmp(head + ARM64_IMAGE_MAGIC_OFFSET, "ARM\x64", 4) &&
           edk2_fv_at(head, sizeof(head), ARMVIRTQEMUKERNEL_FV_OFFSET);
}

/* The option that moved RAM away from virt's 1 GiB */
static char *virt_hotmem_ram_moved_by(VirtHotmemMachineState *vhms)
{
    if (!vhms->ram_base_auto) {
        return g_strdup_printf("ram-base=0x%" PRIx64, vhms->ram_base);
    }
    if (vhms->policy == VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001) {
        return g_strdup("memory-layout=arm-den0001");
    }
    if (vhms->reserved_regions) {
        return g_strdup_printf("reserved-regions=%s", vhms->reserved_regions);
    }
    return g_strdup("the memory map");
}

/*
 * ArmVirtQemuKernel with nvdimm=on needs RAM below 4 GiB: the SSDT holds
 * the NVDIMM _DSM buffer's address (etc/acpi/nvdimm-mem) in a 32-bit
 * name (MEMA, hw/acpi/nvdimm.c), so EDK II's table loader
 * (OvmfPkg/Library/AcpiPlatformLib/QemuFwCfgAcpi.c, blobs pointed to by
 * a pointer narrower than 8 bytes) allocates it below 4 GiB.  Without RAM
 * there that allocation fails, the firmware installs no ACPI tables at
 * all, and the kernel, left with neither ACPI nor a usable device tree,
 * panics before its console ("Unable to initialise architected timer")
 * and cannot reset: a silent hang.  So when RAM starts at or above 4 GiB,
 * the firmware gets a RAM region below 4 GiB (virt_hotmem_dsm_ram()),
 * which virt_hotmem_dt_modify() describes in the device tree; EDK II's
 * HighMemDxe adds it to the firmware's memory, the table loader takes
 * the buffer from it, and the rest is RAM for the guest.
 *
 * Where: the lowest free 2 MiB aligned range below 4 GiB that the planner
 * knows of (virt_hotmem_layout_find_free(): no RAM, device memory, MMIO
 * or reserved region there), which is virt's own RAM address, 1 GiB,
 * when RAM was moved away from it, and never the secure-RAM window, so
 * secure=on keeps its window.
 *
 * How large: VIRT_HOTMEM_UEFI_LOW_RAM_SIZE, not one page, because the
 * firmware is not the only one to prefer RAM below 4 GiB once there is
 * some.  Its SMBIOS 2.x tables go there too, and Debian's GRUB loads the
 * initrd below the lowest RAM + 32 GiB (INITRD_MAX_ADDRESS_OFFSET,
 * allocate_initrd_mem() in grub-core/loader/efi/linux.c), which with RAM
 * at 512 GiB is this region alone: an initrd that does not fit stops it
 * with "error: out of memory.".  Only in this case, which QEMU refused
 * before: no other configuration changes.
 */
static bool virt_hotmem_uefi_low_ram(VirtHotmemMachineState *vhms,
                                     Error **errp)
{
    MachineState *ms = MACHINE(vhms);
    uint64_t base = vhms->layout->ram_banks[0].base;
    uint64_t low;
    g_autofree char *option = NULL;

    /* acpi=on puts the firmware image through ACPI direct boot instead */
    if (!ms->nvdimms_state->is_enabled || base < 4 * GiB ||
        vhms->acpi_boot ||
        !virt_hotmem_kernel_is_uefi(ms->kernel_filename)) {
        return true;
    }
    if (!virt_hotmem_layout_find_free(vhms->layout,
                                      VIRT_HOTMEM_UEFI_LOW_RAM_SIZE,
                                      VIRT_HOTMEM_RAM_BASE_ALIGN, 4 * GiB,
                                      &low)) {
        option = virt_hotmem_ram_moved_by(vhms);
        error_setg(errp, "virt-hotmem: nvdimm=on with %s leaves no RAM "
                   "below 4 GiB, where EDK II (-kernel %s) must put the "
                   "NVDIMM _DSM buffer, and no free %" PRIu64 " MiB there "
                   "to give it: free 1 GiB..4 GiB of reserved-regions, keep "
                   "RAM below 4 GiB or drop nvdimm=on", option,
                   ms->kernel_filename, VIRT_HOTMEM_UEFI_LOW_RAM_SIZE / MiB);
        return false;
    }
    if (!virt_hotmem_dsm_ram(vhms, "virt-hotmem", "virt-hotmem.low-ram",
                             low, VIRT_HOTMEM_UEFI_LOW_RAM_SIZE, errp)) {
        return false;
    }
    trace_virt_hotmem_uefi_low_ram(low, VIRT_HOTMEM_UEFI_LOW_RAM_SIZE,
                                   vhms->layout->ram_banks[0].base);
    return true;
}

/*
 * Firmware known not to boot this map is refused; firmware QEMU cannot
 * judge (it may read the device tree) gets a warning.
 */
static bool virt_hotmem_check_firmware(VirtHotmemMachineState *vhms,
                                       Error **errp)
{
    uint64_t base = vhms->layout->ram_banks[0].base;
    g_autofree char *option = NULL;

    if (!virt_hotmem_has_firmware(vhms) || base == GiB) {
        return true;
    }
    option = virt_hotmem_ram_moved_by(vhms);
    if (virt_hotmem_firmware_is_armvirtqemu(vhms)) {
        error_setg(errp, "virt-hotmem: %s puts RAM at 0x%" PRIx64 ", but "
                   "this firmware is EDK II's ArmVirtQemu (AAVMF), built for "
                   "RAM at 0x%" PRIx64 ": boot virt-hotmem's ArmVirtQemuKernel "
                   "instead (-kernel virt-hotmem-efi-aarch64.fd, no -bios or "
                   "pflash)", option, base, (uint64_t)GiB);
        return false;
    }
    warn_report("virt-hotmem: RAM starts at 0x%" PRIx64 ", not 0x%"
                PRIx64 ": UEFI firmware built for virt (ArmVirtQemu, "
                "AAVMF) will not boot", base, (uint64_t)GiB);
    return true;
}

static void virt_hotmem_init(MachineState *ms)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(ms);
    VirtHotmemMachineClass *vhmc = VIRT_HOTMEM_MACHINE_GET_CLASS(ms);
    VirtMachineState *vms = VIRT_MACHINE(ms);

    vmstate_register(NULL, 0, &vmstate_virt_hotmem_layout, vhms);
    register_savevm_live("virt-hotmem/layout-check", 0, 1,
                         &savevm_virt_hotmem_layout_check, vhms);
    vms->bootinfo.modify_dtb = virt_hotmem_dt_modify;
    /*
     * A machine's init has no error path: a bad option ends QEMU here,
     * as in virt's own init, before any device or guest exists.
     */
    virt_hotmem_acpi_boot_check(vhms, &error_fatal);
    /* virt creates the GED, as it does for firmware */
    vms->acpi_kernel_boot = vhms->acpi_boot ||
                            virt_hotmem_kernel_is_uefi(ms->kernel_filename);

    /* virt maps RAM into the planned banks and boots from the first. */
    vhmc->parent_init(ms);
    if (vhms->acpi_boot) {
        virt_hotmem_acpi_boot_check_loaded(vhms, &error_fatal);
    }
    if (ms->device_memory) {
        ms->device_memory->auto_addr_align = vhms->dimm_alignment;
    }

    virt_hotmem_check_firmware(vhms, &error_fatal);
    virt_hotmem_uefi_low_ram(vhms, &error_fatal);
}

/* --- properties ---------------------------------------------------------- */

static char *virt_hotmem_addr_to_str(bool is_auto, uint64_t addr)
{
    return is_auto ? g_strdup("auto") : g_strdup_printf("0x%" PRIx64, addr);
}

static bool virt_hotmem_parse_addr(const char *name, const char *value,
                                   bool *is_auto, uint64_t *addr,
                                   Error **errp)
{
    if (g_str_equal(value, "auto")) {
        *is_auto = true;
        *addr = 0;
        return true;
    }
    if (qemu_strtosz(value, NULL, addr) < 0) {
        error_setg(errp, "%s=%s: expected 'auto' or an address such as "
                   "0x8000000000 or 512G", name, value);
        return false;
    }
    *is_auto = false;
    return true;
}

static char *virt_hotmem_get_ram_base(Object *obj, Error **errp)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(obj);

    return virt_hotmem_addr_to_str(vhms->ram_base_auto, vhms->ram_base);
}

static void virt_hotmem_set_ram_base(Object *obj, const char *value,
                                     Error **errp)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(obj);

    virt_hotmem_parse_addr("ram-base", value, &vhms->ram_base_auto,
                           &vhms->ram_base, errp);
}

static char *virt_hotmem_get_device_memory_base(Object *obj, Error **errp)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(obj);

    return virt_hotmem_addr_to_str(vhms->device_memory_base_auto,
                                   vhms->device_memory_base);
}

static void virt_hotmem_set_device_memory_base(Object *obj, const char *value,
                                               Error **errp)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(obj);

    virt_hotmem_parse_addr("device-memory-base", value,
                           &vhms->device_memory_base_auto,
                           &vhms->device_memory_base, errp);
}

static int virt_hotmem_get_memory_layout(Object *obj, Error **errp)
{
    return VIRT_HOTMEM_MACHINE(obj)->policy;
}

static void virt_hotmem_set_memory_layout(Object *obj, int value,
                                          Error **errp)
{
    VIRT_HOTMEM_MACHINE(obj)->policy = value;
}

static char *virt_hotmem_get_reserved_regions(Object *obj, Error **errp)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(obj);

    return g_strdup(vhms->reserved_regions);
}

static void virt_hotmem_set_reserved_regions(Object *obj, const char *value,
                                             Error **errp)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(obj);

    if (!*value) {
        error_setg(errp, "reserved-regions=: expected 'none', 'host' or "
                   "a file name");
        return;
    }
    g_free(vhms->reserved_regions);
    vhms->reserved_regions = g_strdup(value);
}

static void virt_hotmem_get_dimm_alignment(Object *obj, Visitor *v,
                                           const char *name, void *opaque,
                                           Error **errp)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(obj);

    visit_type_size(v, name, &vhms->dimm_alignment, errp);
}

/*
 * Linux onlines hot-added memory in whole memory blocks and refuses a range
 * that does not start on one.  On arm64 a block is 128 MiB (4 KiB pages),
 * 512 MiB (64 KiB pages) or 1 GiB (kernels before 5.12), never more than
 * the 1 GiB of address space virt reserves per slot, which is what keeps
 * every aligned DIMM inside device memory (see virt-hotmem.rst).
 */
static void virt_hotmem_set_dimm_alignment(Object *obj, Visitor *v,
                                           const char *name, void *opaque,
                                           Error **errp)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(obj);
    uint64_t value;

    if (!visit_type_size(v, name, &value, errp)) {
        return;
    }
    if (!is_power_of_2(value) || value < VIRT_HOTMEM_DIMM_ALIGN_MIN ||
        value > VIRT_HOTMEM_DIMM_ALIGN_MAX) {
        g_autofree char *size = size_to_str(value);

        error_setg(errp, "dimm-alignment=%s: expected a power of two from "
                   "2 MiB to 1 GiB (2M, 4M, ..., 1G)", size);
        return;
    }
    vhms->dimm_alignment = value;
}

/* --- QOM ----------------------------------------------------------------- */

static void virt_hotmem_instance_init(Object *obj)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(obj);

    vhms->ram_base_auto = true;
    vhms->device_memory_base_auto = true;
    vhms->policy = VIRT_HOTMEM_MEMORY_LAYOUT_CONTIGUOUS;
    vhms->reserved_regions = g_strdup("none");
    vhms->dimm_alignment = VIRT_HOTMEM_DIMM_ALIGN_MAX;
}

static void virt_hotmem_instance_finalize(Object *obj)
{
    VirtHotmemMachineState *vhms = VIRT_HOTMEM_MACHINE(obj);

    virt_hotmem_layout_free(vhms->layout);
    g_free(vhms->ram_banks);
    virt_hotmem_reserved_regions_free(vhms->reserved, vhms->n_reserved);
    g_free(vhms->reserved_regions);
}

static void virt_hotmem_class_init(ObjectClass *oc, bool latest,
                                   const char *version)
{
    MachineClass *mc = MACHINE_CLASS(oc);
    VirtMachineClass *vmc = VIRT_MACHINE_CLASS(oc);
    VirtHotmemMachineClass *vhmc = (VirtHotmemMachineClass *)oc;
    MemoryLayoutProviderClass *mlpc = MEMORY_LAYOUT_PROVIDER_CLASS(oc);

    mc->desc = g_strdup_printf("QEMU %s ARM Virtual Machine with movable RAM "
                               "and hotpluggable memory", version);
    /*
     * The parent's class_init ran on the class we inherit, so the alias
     * "virt" it set for its latest version is still here: replace it.
     */
    mc->alias = latest ? "virt-hotmem" : NULL;

    vhmc->parent_init = mc->init;
    mc->init = virt_hotmem_init;
    vmc->plan_memmap = virt_hotmem_plan_memmap;
    vmc->srat_extra_memory = virt_hotmem_acpi_boot_srat;
#if QEMU_BASE_AT_LEAST(10, 2)
    /*
     * Upstream's virt-10.0 on QEMU 10.2 builds the ACPI tables of 10.1
     * (no compat property gates them); a virt-hotmem-10.0 guest keeps
     * those of the 10.0 build (patches/10.2/0022).  virt.h of 10.0 has
     * no such flag: its tables are 10.0's.
     */
    vmc->acpi_tables_10_0 = !strcmp(version, "10.0");
#endif
    virt_hotmem_dt_class_init(oc);
    mlpc->get_layout = virt_hotmem_get_layout;

    object_class_property_add_str(oc, "ram-base", virt_hotmem_get_ram_base,
                                  virt_hotmem_set_ram_base);
    object_class_property_set_description(oc, "ram-base",
        "Guest physical address of RAM: 'auto' (default: the lowest free "
        "address from 1 GiB up) or an address aligned to 2 MiB");
    object_class_property_add_str(oc, "device-memory-base",
                                  virt_hotmem_get_device_memory_base,
                                  virt_hotmem_set_device_memory_base);
    object_class_property_set_description(oc, "device-memory-base",
        "Guest physical address of hotpluggable memory: 'auto' (default: "
        "after RAM) or an address aligned to 1 GiB");
    object_class_property_add_enum(oc, "memory-layout",
                                   "VirtHotmemMemoryLayout",
                                   &VirtHotmemMemoryLayout_lookup,
                                   virt_hotmem_get_memory_layout,
                                   virt_hotmem_set_memory_layout);
    object_class_property_set_description(oc, "memory-layout",
        "Placement policy: 'contiguous' (default) or 'arm-den0001' (the DRAM "
        "windows of Arm's Principles of Arm Memory Maps)");
    object_class_property_add_str(oc, "reserved-regions",
                                  virt_hotmem_get_reserved_regions,
                                  virt_hotmem_set_reserved_regions);
    object_class_property_set_description(oc, "reserved-regions",
        "Host IOVA ranges that RAM avoids: 'none' (default), 'host' (the "
        "host's IOMMU groups) or a file in the reserved_regions format");
    object_class_property_add(oc, "dimm-alignment", "size",
                              virt_hotmem_get_dimm_alignment,
                              virt_hotmem_set_dimm_alignment, NULL, NULL);
    object_class_property_set_description(oc, "dimm-alignment",
        "Boundary on which memory devices placed without addr= start, so "
        "that the guest can online them in whole memory blocks: a power of "
        "two from 2M to 1G (default: 1G)");
}

/* QEMU 10.1 made TypeInfo's class_init take its class_data as const */
#if QEMU_BASE_AT_LEAST(10, 1)
#define VHM_CLASS_DATA_ARG const void *data
#else
#define VHM_CLASS_DATA_ARG void *data
#endif

/*
 * DEFINE_VIRT_HOTMEM_MACHINE(latest, major, minor) registers
 * virt-hotmem-<major>.<minor>, derived from virt-<major>.<minor>.
 */
#define DEFINE_VIRT_HOTMEM_MACHINE(latest, major, minor)                     \
    static void virt_hotmem_##major##_##minor##_class_init(                   \
        ObjectClass *oc, VHM_CLASS_DATA_ARG)                                  \
    {                                                                         \
        virt_hotmem_class_init(oc, latest, #major "." #minor);                \
    }                                                                         \
    static const TypeInfo virt_hotmem_##major##_##minor##_info = {           \
        .name = MACHINE_TYPE_NAME("virt-hotmem-" #major "." #minor),          \
        .parent = MACHINE_TYPE_NAME("virt-" #major "." #minor),               \
        .instance_size = sizeof(VirtHotmemMachineState),                      \
        .instance_init = virt_hotmem_instance_init,                           \
        .instance_finalize = virt_hotmem_instance_finalize,                   \
        .class_size = sizeof(VirtHotmemMachineClass),                         \
        .class_init = virt_hotmem_##major##_##minor##_class_init,             \
        .interfaces = (InterfaceInfo[]) {                                     \
            { TYPE_VIRT_HOTMEM_MACHINE },                                     \
            { TYPE_MEMORY_LAYOUT_PROVIDER },                                  \
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

/*
 * Each build has a virt-hotmem-X.Y for each virt-X.Y it can migrate with:
 * a 10.2 build runs the 10.0 build's guests too.
 */
#if QEMU_BASE_AT_LEAST(10, 2)
DEFINE_VIRT_HOTMEM_MACHINE(true, 10, 2);
DEFINE_VIRT_HOTMEM_MACHINE(false, 10, 0);
#else
DEFINE_VIRT_HOTMEM_MACHINE(true, 10, 0);
#endif
