/*
 * qtest: what -M virt-hotmem,acpi=on hands a kernel, read from guest RAM
 *
 * QEMU loads a minimal arm64 Image written here, and the test reads the
 * device tree, the EFI system table, the EFI memory map and the ACPI
 * tables from guest memory (qtest memread), as the kernel would.  Where
 * they must be is worked out here: the DTB where boot.c puts it for an
 * Image (hw/arm/boot.c: kernel 2 MiB into RAM for text_offset 0, the
 * initrd slot at min(RAM/2, 128 MiB), the DTB at the next 2 MiB after
 * it), the EFI system table at the address the DTB names, and the memory
 * map covering exactly the RAM banks of the command line.  Checksums
 * (EFI CRC32, ACPI sums) are computed here.
 *
 * With nvdimm=on, the NVDIMM SSDT's MEMA (the 32-bit address of QEMU's
 * _DSM page) must name memory below 4 GiB that the map reserves as ACPI
 * NVS: inside the first bank when it is below 4 GiB, else in virt's
 * secure-RAM window (0x0e000000, 16 MiB, hw/arm/virt.c's base_memmap),
 * which the map then lists on its own, outside the banks.
 *
 * Where there is an SRAT (-numa, or memory slots, with which virt makes
 * one node itself), every range of the memory map, RAM or not, is
 * covered by its memory affinity structures: Linux gives each range of
 * the map a node from them and drops the whole SRAT for one node if a
 * range has none (numa_register_nodes() in drivers/base/arch_numa.c).
 * The _DSM page's own window has a structure of its own, on the node
 * that holds the first RAM bank: the first node the -numa options of
 * the case give memory.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include <libfdt.h>
#include "virt-hotmem-srat.h"
#include "virt-hotmem-image.h"

#define IMAGE_SIZE          (2 * MiB)
#define DESC_ALIGN          (4 * KiB)

/* EFI memory types (UEFI 2.10, 7.2) */
#define EFI_RUNTIME_SERVICES_DATA 6
#define EFI_CONVENTIONAL_MEMORY   7
#define EFI_ACPI_RECLAIM_MEMORY   9
#define EFI_ACPI_MEMORY_NVS       10

/* virt's fixed map (hw/arm/virt.c): VIRT_SECURE_MEM */
#define VIRT_SECURE_MEM_BASE      0x0e000000ULL
#define VIRT_SECURE_MEM_SIZE      (16 * MiB)
/* QEMU's NVDIMM _DSM page (hw/acpi/nvdimm.c, NvdimmDsmIn) */
#define DSM_PAGE_SIZE             4096

typedef struct Bank {
    uint64_t base, size;
} Bank;

typedef struct Case {
    const char *name;
    const char *opts;       /* -M virt-hotmem,acpi=on,<opts> */
    const char *mem;        /* -m */
    Bank banks[4];          /* RAM as the test works it out */
    bool nvdimm;            /* nvdimm=on: check MEMA */
    uint64_t dsm_window;    /* the _DSM page's own window, if not in RAM */
    bool srat;              /* an SRAT: -numa given, or memory slots */
    const char *numa;       /* -numa and its -object options */
    int dsm_node;           /* the node of the window: the first bank's */
} Case;

/* The enabled structure that holds @addr, or NULL */
static const SratMem *srat_at(GArray *mem, uint64_t addr)
{
    size_t i;

    for (i = 0; i < mem->len; i++) {
        const SratMem *m = &g_array_index(mem, SratMem, i);

        if ((m->flags & SRAT_ENABLED) && m->base <= addr &&
            addr - m->base < m->len) {
            return m;
        }
    }
    return NULL;
}

static uint32_t crc32_ieee(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffff;
    size_t i;
    int b;

    for (i = 0; i < len; i++) {
        crc ^= p[i];
        for (b = 0; b < 8; b++) {
            crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
        }
    }
    return ~crc;
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
    uint8_t s = 0;

    while (len--) {
        s += *p++;
    }
    return s;
}

/* A property that must be a big-endian integer of @size bytes */
static uint64_t fdt_uint(const void *fdt, int node, const char *name,
                         int size)
{
    int len;
    const void *p = fdt_getprop(fdt, node, name, &len);

    g_assert_nonnull(p);
    g_assert_cmpint(len, ==, size);
    return size == 8 ? ldq_be_p(p) : ldl_be_p(p);
}

#define fdt_u64(fdt, node, name) fdt_uint(fdt, node, name, 8)
#define fdt_u32(fdt, node, name) fdt_uint(fdt, node, name, 4)

/* The descriptor of the map that covers [addr, addr + len), or -1 */
static int desc_type_of(const uint8_t *map, uint32_t n, uint32_t dsize,
                        uint64_t addr, uint64_t len)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        const uint8_t *d = map + i * dsize;
        uint64_t s = ldq_le_p(d + 8), e = s + ldq_le_p(d + 24) * 4096;

        if (s <= addr && addr + len <= e) {
            return ldl_le_p(d);
        }
    }
    return -1;
}

/* The value of the AML name MEMA (NameOp, "MEMA", DWordPrefix, dword) */
static bool find_mema(const uint8_t *aml, uint32_t len, uint64_t *mema)
{
    uint32_t i;

    for (i = 0; i + 10 <= len; i++) {
        if (aml[i] == 0x08 && !memcmp(aml + i + 1, "MEMA", 4) &&
            aml[i + 5] == 0x0c) {
            *mema = ldl_le_p(aml + i + 6);
            return true;
        }
    }
    return false;
}

static void test_handoff(const void *opaque)
{
    const Case *c = opaque;
    const Bank *b0 = &c->banks[0];
    g_autofree char *image = vhm_write_arm64_image(IMAGE_SIZE);
    QTestState *qts;
    uint64_t dtb, systab, mmap, rsdp, xsdt, cfg;
    uint32_t mmap_size, dsize, n, i, ntables;
    uint8_t hdr[40], st[120], rs[36];
    g_autofree uint8_t *fdt = NULL;
    g_autofree uint8_t *map = NULL;
    g_autofree uint8_t *x = NULL;
    uint64_t expect_next, mema = 0;
    bool have_mema = false, have_srat = false;
    g_autoptr(GArray) srat = g_array_new(false, true, sizeof(SratMem));
    int chosen, node, nb;

    qts = qtest_initf("-nic none -cpu max -m %s -M virt-hotmem,acpi=on%s%s "
                      "%s -kernel %s", c->mem, *c->opts ? "," : "", c->opts,
                      c->numa ? c->numa : "", image);

    /* boot.c: no initrd, so the DTB is 2 MiB-aligned after 128 MiB */
    dtb = b0->base + MIN(b0->size / 2, 128 * MiB);
    dtb = QEMU_ALIGN_UP(MAX(dtb, b0->base + 2 * MiB + IMAGE_SIZE), 2 * MiB);
    qtest_memread(qts, dtb, hdr, sizeof(hdr));
    g_assert_cmpint(fdt_check_header(hdr), ==, 0);
    fdt = g_malloc(fdt_totalsize(hdr));
    qtest_memread(qts, dtb, fdt, fdt_totalsize(hdr));

    /* A stub: /chosen and nothing else (dt_is_stub() in Linux) */
    nb = 0;
    fdt_for_each_subnode(node, fdt, 0) {
        g_assert_cmpstr(fdt_get_name(fdt, node, NULL), ==, "chosen");
        nb++;
    }
    g_assert_cmpint(nb, ==, 1);
    chosen = fdt_path_offset(fdt, "/chosen");
    systab = fdt_u64(fdt, chosen, "linux,uefi-system-table");
    mmap = fdt_u64(fdt, chosen, "linux,uefi-mmap-start");
    mmap_size = fdt_u32(fdt, chosen, "linux,uefi-mmap-size");
    dsize = fdt_u32(fdt, chosen, "linux,uefi-mmap-desc-size");
    g_assert_cmpint(fdt_u32(fdt, chosen, "linux,uefi-mmap-desc-ver"), ==, 1);
    /* enum efi_secureboot_mode: disabled */
    g_assert_cmpint(fdt_u32(fdt, chosen, "linux,uefi-secure-boot"), ==, 2);
    g_assert_null(fdt_getprop(fdt, chosen, "stdout-path", NULL));

    /* The system table: signature, header size, CRC32 of the header */
    qtest_memread(qts, systab, st, sizeof(st));
    g_assert_cmphex(ldq_le_p(st), ==, 0x5453595320494249ULL);
    g_assert_cmpint(ldl_le_p(st + 12), ==, 120);
    {
        uint32_t crc = ldl_le_p(st + 16);

        stl_le_p(st + 16, 0);
        g_assert_cmphex(crc32_ieee(st, 120), ==, crc);
    }
    g_assert_cmphex(ldq_le_p(st + 88), ==, 0);          /* RuntimeServices */
    ntables = ldq_le_p(st + 104);
    cfg = ldq_le_p(st + 112);
    rsdp = 0;
    for (i = 0; i < ntables; i++) {
        uint8_t e[24];
        static const uint8_t acpi20[16] = {
            0x71, 0xe8, 0x68, 0x88, 0xf1, 0xe4, 0xd3, 0x11,
            0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81,
        };

        qtest_memread(qts, cfg + i * 24, e, 24);
        if (!memcmp(e, acpi20, 16)) {
            rsdp = ldq_le_p(e + 16);
        }
    }
    g_assert_cmphex(rsdp, !=, 0);

    /* The memory map tiles the banks exactly, in 4 KiB pages */
    g_assert_cmpint(dsize, >=, 40);
    g_assert_cmpint(mmap_size % dsize, ==, 0);
    n = mmap_size / dsize;
    map = g_malloc(mmap_size);
    qtest_memread(qts, mmap, map, mmap_size);
    expect_next = c->banks[0].base;
    nb = 0;
    for (i = 0; i < n; i++) {
        const uint8_t *d = map + i * dsize;
        uint64_t s = ldq_le_p(d + 8), len = ldq_le_p(d + 24) * 4096;

        g_assert_cmpint(s % DESC_ALIGN, ==, 0);
        g_assert_cmphex(ldq_le_p(d + 32) & 0x8, ==, 0x8);   /* WB */
        if (c->dsm_window && s < c->banks[0].base) {
            /* Not RAM: the _DSM page's own, first, in virt's window */
            g_assert_cmpint(i, ==, 0);
            g_assert_cmpint(ldl_le_p(d), ==, EFI_ACPI_MEMORY_NVS);
            g_assert_cmphex(s, ==, c->dsm_window);
            g_assert_cmpint(len, >=, DSM_PAGE_SIZE);
            g_assert_cmphex(s + len, <=,
                            VIRT_SECURE_MEM_BASE + VIRT_SECURE_MEM_SIZE);
            continue;
        }
        if (s != expect_next) {
            /* The next bank starts where this one's last entry ended */
            g_assert_cmphex(expect_next, ==,
                            c->banks[nb].base + c->banks[nb].size);
            nb++;
            g_assert_cmphex(s, ==, c->banks[nb].base);
        }
        expect_next = s + len;
    }
    g_assert_cmphex(expect_next, ==, c->banks[nb].base + c->banks[nb].size);
    g_assert_cmpint(c->banks[nb + 1].size, ==, 0);

    /* Reserved what the kernel must keep; the rest is for it to use */
    g_assert_cmpint(desc_type_of(map, n, dsize, systab, 120), ==,
                    EFI_RUNTIME_SERVICES_DATA);
    g_assert_cmpint(desc_type_of(map, n, dsize, mmap, mmap_size), ==,
                    EFI_RUNTIME_SERVICES_DATA);
    g_assert_cmpint(desc_type_of(map, n, dsize, b0->base + 2 * MiB,
                                 IMAGE_SIZE), ==, EFI_CONVENTIONAL_MEMORY);
    g_assert_cmpint(desc_type_of(map, n, dsize, dtb, fdt_totalsize(fdt)),
                    ==, EFI_CONVENTIONAL_MEMORY);

    /* RSDP 2.0: both checksums, then every table the XSDT lists */
    qtest_memread(qts, rsdp, rs, sizeof(rs));
    g_assert_cmpmem(rs, 8, "RSD PTR ", 8);
    g_assert_cmpint(rs[15], ==, 2);
    g_assert_cmpint(sum8(rs, 20), ==, 0);
    g_assert_cmpint(sum8(rs, 36), ==, 0);
    g_assert_cmpint(desc_type_of(map, n, dsize, rsdp, 36), ==,
                    EFI_ACPI_RECLAIM_MEMORY);
    xsdt = ldq_le_p(rs + 24);
    qtest_memread(qts, xsdt, hdr, 36);
    g_assert_cmpmem(hdr, 4, "XSDT", 4);
    x = g_malloc(ldl_le_p(hdr + 4));
    qtest_memread(qts, xsdt, x, ldl_le_p(hdr + 4));
    g_assert_cmpint(sum8(x, ldl_le_p(hdr + 4)), ==, 0);
    for (i = 36; i + 8 <= ldl_le_p(hdr + 4); i += 8) {
        uint64_t t = ldq_le_p(x + i);
        uint8_t th[8];
        g_autofree uint8_t *tb = NULL;

        qtest_memread(qts, t, th, 8);
        tb = g_malloc(ldl_le_p(th + 4));
        qtest_memread(qts, t, tb, ldl_le_p(th + 4));
        g_assert_cmpint(sum8(tb, ldl_le_p(th + 4)), ==, 0);
        g_assert_cmpint(desc_type_of(map, n, dsize, t, ldl_le_p(th + 4)), ==,
                        EFI_ACPI_RECLAIM_MEMORY);
        if (!memcmp(th, "SSDT", 4) && find_mema(tb, ldl_le_p(th + 4),
                                                 &mema)) {
            g_assert_false(have_mema);
            have_mema = true;
        }
        if (!memcmp(th, "SRAT", 4)) {
            g_assert_false(have_srat);
            have_srat = true;
            srat_memory_affinity(tb, ldl_le_p(th + 4), srat);
            for (guint j = 0; j < srat->len; j++) {
                const SratMem *m = &g_array_index(srat, SratMem, j);

                g_test_message("SRAT memory: node %u 0x%" PRIx64 "+0x%"
                               PRIx64 " flags %u", m->node, m->base, m->len,
                               m->flags);
            }
        }
        if (!memcmp(th, "FACP", 4)) {
            /* The DSDT through the FADT's X_DSDT (offset 140) */
            uint64_t dsdt = ldq_le_p(tb + 140);
            uint8_t dh[8];

            qtest_memread(qts, dsdt, dh, 8);
            g_assert_cmpmem(dh, 4, "DSDT", 4);
            g_assert_cmpint(desc_type_of(map, n, dsize, dsdt,
                                         ldl_le_p(dh + 4)), ==,
                            EFI_ACPI_RECLAIM_MEMORY);
        }
    }

    /* The _DSM page: where the AML says, reserved as ACPI NVS */
    g_assert_cmpint(have_mema, ==, c->nvdimm);
    if (c->nvdimm) {
        g_assert_cmphex(mema, !=, 0);
        g_assert_cmpint(desc_type_of(map, n, dsize, mema, DSM_PAGE_SIZE), ==,
                        EFI_ACPI_MEMORY_NVS);
        if (c->dsm_window) {
            g_assert_cmphex(mema, ==, c->dsm_window);
        } else {
            g_assert_cmphex(mema, >=, b0->base);
            g_assert_cmphex(mema + DSM_PAGE_SIZE, <=, b0->base + b0->size);
        }
    }

    /* Every byte of the memory map has a node, the window its own entry */
    g_assert_cmpint(have_srat, ==, c->srat);
    for (i = 0; have_srat && i < n; i++) {
        const uint8_t *d = map + i * dsize;
        uint64_t s = ldq_le_p(d + 8), e = s + ldq_le_p(d + 24) * 4096;

        while (s < e) {
            const SratMem *m = srat_at(srat, s);

            if (!m) {
                g_test_message("memory map entry %u: 0x%" PRIx64 " has no "
                               "SRAT memory affinity", i, s);
            }
            g_assert_nonnull(m);
            s = m->base + m->len;
        }
    }
    if (have_srat && c->dsm_window) {
        const SratMem *m = srat_at(srat, c->dsm_window);

        g_assert_nonnull(m);
        g_assert_cmphex(m->base, ==, c->dsm_window);
        g_assert_cmphex(m->base + m->len, <=,
                        VIRT_SECURE_MEM_BASE + VIRT_SECURE_MEM_SIZE);
        g_assert_cmpint(desc_type_of(map, n, dsize, m->base, m->len), ==,
                        EFI_ACPI_MEMORY_NVS);
        g_assert_cmpint(m->node, ==, c->dsm_node);
        g_assert_cmpint(m->flags, ==, SRAT_ENABLED);
        /* ... and the first bank is on that node too */
        g_assert_cmpint(srat_at(srat, b0->base)->node, ==,
                        c->dsm_node);
    }

    qtest_quit(qts);
    unlink(image);
}

static const Case cases[] = {
    { "default", "", "1G", { { 1 * GiB, 1 * GiB } } },
    { "ram-base-512g", "ram-base=0x8000000000", "1G",
      { { 512 * GiB, 1 * GiB } } },
    /* The _DSM page in the first bank, below 4 GiB */
    { "default-nvdimm", "nvdimm=on", "1G,slots=2,maxmem=4G",
      { { 1 * GiB, 1 * GiB } }, true, 0, true },
    /* No RAM below 4 GiB: the _DSM page at the start of virt's window */
    { "ram-base-512g-nvdimm", "ram-base=0x8000000000,nvdimm=on",
      "1G,slots=2,maxmem=4G", { { 512 * GiB, 1 * GiB } }, true,
      VIRT_SECURE_MEM_BASE, true },
    /* ... with two NUMA nodes: the window on node 0, the first bank's */
    { "ram-base-512g-nvdimm-numa", "ram-base=0x8000000000,nvdimm=on",
      "1G,slots=2,maxmem=4G", { { 512 * GiB, 1 * GiB } }, true,
      VIRT_SECURE_MEM_BASE, true,
      "-object memory-backend-ram,id=r0,size=512M "
      "-object memory-backend-ram,id=r1,size=512M "
      "-numa node,nodeid=0,memdev=r0 -numa node,nodeid=1,memdev=r1", 0 },
    /* ... node 0 without memory: the window on node 1, with all RAM */
    { "ram-base-512g-nvdimm-numa-node0-cpus-only",
      "ram-base=0x8000000000,nvdimm=on", "1G,slots=2,maxmem=4G",
      { { 512 * GiB, 1 * GiB } }, true, VIRT_SECURE_MEM_BASE, true,
      "-smp 2 -object memory-backend-ram,id=r1,size=1G "
      "-numa node,nodeid=0,cpus=0 -numa node,nodeid=1,cpus=1,memdev=r1", 1 },
    /* Arm DEN0001's DRAM windows: 2 GiB at 2 GiB, the rest at 34 GiB */
    { "arm-den0001", "memory-layout=arm-den0001", "4G",
      { { 2 * GiB, 2 * GiB }, { 34 * GiB, 2 * GiB } } },
};

int main(int argc, char **argv)
{
    size_t i;

    g_test_init(&argc, &argv, NULL);
    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/virt-hotmem/acpi-boot/%s", cases[i].name);

        qtest_add_data_func(path, &cases[i], test_handoff);
    }
    return g_test_run();
}
