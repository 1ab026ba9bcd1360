/*
 * libFuzzer target for the virt-hotmem memory-map planner
 *
 * Turns each input into a planner request (sizes, bases, limits, board
 * tables, reserved regions given both as structs and as reserved_regions
 * text) and aborts when the planner, the parser or the union breaks a
 * promise.  The checks here share no code with the planner: they are the
 * rules of the map as docs/system/arm/virt-hotmem.rst states them.  Built
 * with the module against libqemuutil alone (tests/fuzz/run-fuzz.sh).
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/arm/virt-hotmem-layout.h"

#define MAX_EXTRA_MMIO 4
#define MAX_HIGH 5
#define MAX_RESERVED 8

/* A few of virt's low regions: enough to make RAM dodge a real board. */
static const VirtHotmemMmioRegion board_mmio[] = {
    { "flash", 0x00000000, 0x08000000 },
    { "cpu-peripherals", 0x08000000, 0x00020000 },
    { "gic-dist", 0x08000000, 0x00010000 },
    { "uart", 0x09000000, 0x00001000 },
    { "pcie-mmio", 0x10000000, 0x2eff0000 },
    { "pcie-ecam", 0x3f000000, 0x01000000 },
};

typedef struct FuzzInput {
    const uint8_t *data;
    size_t size;
} FuzzInput;

static void G_NORETURN fuzz_fail(const char *what, int line,
                                 const char *detail)
{
    fprintf(stderr, "virt-hotmem-layout-fuzz:%d: %s%s%s\n", line, what,
            detail ? ": " : "", detail ? detail : "");
    abort();
}

#define FUZZ_CHECK(cond, detail) \
    ((cond) ? (void)0 : fuzz_fail(#cond, __LINE__, (detail)))

static uint8_t take_u8(FuzzInput *in)
{
    uint8_t v = 0;

    if (in->size) {
        v = in->data[0];
        in->data++;
        in->size--;
    }
    return v;
}

static uint64_t take_bytes(FuzzInput *in, unsigned int n)
{
    uint64_t v = 0;
    unsigned int i;

    for (i = 0; i < n; i++) {
        v |= (uint64_t)take_u8(in) << (8 * i);
    }
    return v;
}

/*
 * A size or address shaped so that plausible values (MiB and GiB
 * multiples) come as often as hostile ones (near 2^64, odd bytes).
 */
static uint64_t take_value(FuzzInput *in)
{
    uint8_t sel = take_u8(in);

    switch (sel & 7) {
    case 0:
        return take_bytes(in, 8);
    case 1:
        return take_bytes(in, 2) * MiB;
    case 2:
        return take_bytes(in, 1) * GiB;
    case 3:
        return UINT64_MAX - take_bytes(in, 2);
    case 4:
        return take_bytes(in, 1) << (take_u8(in) % 64);
    case 5:
        return take_bytes(in, 2) * 2 * MiB;
    case 6:
        return 0;
    default:
        return take_bytes(in, 1) * 256 * GiB;
    }
}

/*
 * reserved_regions text: well-formed lines built from the input, so that
 * the parser's happy paths and the union get real regions (random bytes
 * rarely spell "0x"), followed by the rest of the input verbatim for its
 * error paths.
 */
static GString *take_reserved_text(FuzzInput *in, uint8_t flags)
{
    static const char *const types[] = {
        "msi", "direct", "direct-relaxable", "reserved", "bad type",
    };
    GString *text = g_string_new(NULL);
    unsigned int n = (flags & 0x40) ? take_u8(in) % 6 : 0;

    while (n--) {
        uint8_t style = take_u8(in);
        uint64_t start = take_value(in);
        uint64_t end = (style & 1) ? take_value(in) : start + take_value(in);

        g_string_append_printf(text, "%s0%c%016" PRIx64 " 0x%" PRIx64
                               " %s%s", (style & 2) ? "  " : "",
                               (style & 4) ? 'X' : 'x', start, end,
                               types[(style >> 3) % G_N_ELEMENTS(types)],
                               (style & 0x40) ? "\r\n" : "\n");
    }
    g_string_append_len(text, (const char *)in->data, in->size);
    in->data += in->size;
    in->size = 0;
    return text;
}

static bool span_last(uint64_t base, uint64_t size, uint64_t *last)
{
    if (size == 0 || base > UINT64_MAX - (size - 1)) {
        return false;
    }
    *last = base + (size - 1);
    return true;
}

static bool is_placed(VirtHotmemRegionKind kind)
{
    return kind == VIRT_HOTMEM_REGION_RAM ||
           kind == VIRT_HOTMEM_REGION_DEVICE_MEMORY ||
           kind == VIRT_HOTMEM_REGION_HIGH_MMIO;
}

static void check_message(Error *err)
{
    const char *msg;

    FUZZ_CHECK(err != NULL, NULL);
    msg = error_get_pretty(err);
    FUZZ_CHECK(msg[0] != '\0', NULL);
    FUZZ_CHECK(strchr(msg, '\n') == NULL, msg);
}

/* The union is sorted, with a gap between any two regions. */
static void check_union(const VirtHotmemReservedRegion *r, size_t n)
{
    uint64_t prev_last = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        uint64_t last;

        FUZZ_CHECK(span_last(r[i].base, r[i].size, &last), NULL);
        if (i > 0) {
            FUZZ_CHECK(prev_last != UINT64_MAX &&
                       r[i].base > prev_last + 1, NULL);
        }
        prev_last = last;
    }
}

static void check_layout(const VirtHotmemRequest *req,
                         const VirtHotmemLayout *l)
{
    uint64_t pa_last = req->pa_bits >= 64 ? UINT64_MAX :
                       (UINT64_C(1) << req->pa_bits) - 1;
    uint64_t sum = 0, expect_dm, highest = 0;
    g_autoptr(GArray) regions = virt_hotmem_layout_regions(l);
    size_t i, j, n_listed = 0;

    /* Guest-visible regions never overlap (MMIO may nest in MMIO). */
    for (i = 0; i < regions->len; i++) {
        const VirtHotmemRegion *a =
            &g_array_index(regions, VirtHotmemRegion, i);
        uint64_t a_last;

        FUZZ_CHECK(span_last(a->base, a->size, &a_last), a->name);
        if (i > 0) {
            FUZZ_CHECK(a->base >= g_array_index(regions, VirtHotmemRegion,
                                                i - 1).base, a->name);
        }
        if (a->kind == VIRT_HOTMEM_REGION_RESERVED) {
            continue;
        }
        highest = MAX(highest, a_last);
        n_listed += a->kind == VIRT_HOTMEM_REGION_RAM ||
                    a->kind == VIRT_HOTMEM_REGION_DEVICE_MEMORY;
        if (is_placed(a->kind)) {
            FUZZ_CHECK(a_last <= pa_last, a->name);
            for (j = 0; j < req->n_reserved; j++) {
                uint64_t r_last;

                if (span_last(req->reserved[j].base, req->reserved[j].size,
                              &r_last)) {
                    FUZZ_CHECK(a_last < req->reserved[j].base ||
                               a->base > r_last, a->name);
                }
            }
        }
        for (j = 0; j < regions->len; j++) {
            const VirtHotmemRegion *b =
                &g_array_index(regions, VirtHotmemRegion, j);
            uint64_t b_last;

            if (j == i || b->kind == VIRT_HOTMEM_REGION_RESERVED ||
                (a->kind == VIRT_HOTMEM_REGION_MMIO &&
                 b->kind == VIRT_HOTMEM_REGION_MMIO)) {
                continue;
            }
            FUZZ_CHECK(span_last(b->base, b->size, &b_last), b->name);
            FUZZ_CHECK(a_last < b->base || a->base > b_last, a->name);
        }
    }

    /* The RAM banks hold exactly -m, 2 MiB aligned, in order. */
    FUZZ_CHECK(l->n_ram_banks >= 1, NULL);
    FUZZ_CHECK(req->policy != VIRT_HOTMEM_MEMORY_LAYOUT_CONTIGUOUS ||
               l->n_ram_banks == 1, NULL);
    FUZZ_CHECK(req->ram_base_auto || l->ram_banks[0].base == req->ram_base,
               NULL);
    for (i = 0; i < l->n_ram_banks; i++) {
        FUZZ_CHECK(l->ram_banks[i].base % (2 * MiB) == 0, NULL);
        FUZZ_CHECK(i == 0 || l->ram_banks[i].base > l->ram_banks[i - 1].base,
                   NULL);
        FUZZ_CHECK(l->ram_banks[i].size <= UINT64_MAX - sum, NULL);
        sum += l->ram_banks[i].size;
    }
    FUZZ_CHECK(sum == req->ram_size, NULL);

    /* Device memory as upstream sizes it, GiB aligned where asked. */
    expect_dm = req->maxram_size - req->ram_size +
                req->ram_slots * req->slot_slack;
    FUZZ_CHECK(l->device_memory_size == expect_dm, NULL);
    if (expect_dm) {
        FUZZ_CHECK(l->device_memory_base % GiB == 0, NULL);
        FUZZ_CHECK(req->device_memory_base_auto ||
                   l->device_memory_base == req->device_memory_base, NULL);
    }
    FUZZ_CHECK(n_listed == l->n_ram_banks + !!expect_dm, NULL);

    /* High IO regions: where the board wants them, aligned, above floor. */
    FUZZ_CHECK(l->n_high == req->n_high, NULL);
    for (i = 0; i < l->n_high; i++) {
        FUZZ_CHECK(!l->high[i].enabled ||
                   (req->high[i].enabled &&
                    l->high[i].size == req->high[i].size &&
                    l->high[i].base % l->high[i].size == 0 &&
                    l->high[i].base >= req->high_io_floor), NULL);
    }
    FUZZ_CHECK(virt_hotmem_layout_highest_gpa(l) == highest, NULL);
}


/* libFuzzer's entry point; libFuzzer declares it, so no prototype here. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzInput in = { data, size };
    VirtHotmemMmioRegion mmio[G_N_ELEMENTS(board_mmio) + MAX_EXTRA_MMIO];
    VirtHotmemHighRegion high[MAX_HIGH];
    VirtHotmemReservedRegion *reserved = NULL, *merged = NULL;
    size_t n_reserved = 0, n_merged = 0, i, n;
    VirtHotmemRequest req = { 0 };
    VirtHotmemLayout *layout;
    GString *text;
    Error *err = NULL;
    uint8_t flags = take_u8(&in);

    req.ram_size = take_value(&in);
    req.maxram_size = (flags & 0x80) ? take_value(&in)
                                     : req.ram_size + take_value(&in);
    req.ram_slots = take_bytes(&in, 2) % 300;
    req.ram_base_auto = flags & 0x01;
    req.ram_base = take_value(&in);
    req.device_memory_base_auto = flags & 0x02;
    req.device_memory_base = take_value(&in);
    req.policy = (flags & 0x04) ? VIRT_HOTMEM_MEMORY_LAYOUT_ARM_DEN0001
                                : VIRT_HOTMEM_MEMORY_LAYOUT_CONTIGUOUS;
    req.pa_bits = 28 + take_u8(&in) % 40;
    /* virt's constants, or odd ones half the time */
    req.max_ram_slots = 256;
    req.legacy_ram_base = (flags & 0x08) ? GiB : take_bytes(&in, 2) * 2 * MiB;
    req.high_io_floor = (flags & 0x08) ? 256 * GiB : take_value(&in);
    req.slot_slack = (flags & 0x08) ? GiB : take_bytes(&in, 1) * MiB;

    n = 0;
    if (flags & 0x08) {
        memcpy(mmio, board_mmio, sizeof(board_mmio));
        n = G_N_ELEMENTS(board_mmio);
    }
    for (i = take_u8(&in) % (MAX_EXTRA_MMIO + 1); i > 0; i--) {
        mmio[n].name = "extra";
        mmio[n].base = take_bytes(&in, 4);
        mmio[n].size = take_bytes(&in, 2) * 0x1000 + take_u8(&in);
        n++;
    }
    req.mmio = mmio;
    req.n_mmio = n;

    n = take_u8(&in) % (MAX_HIGH + 1);
    for (i = 0; i < n; i++) {
        uint8_t b = take_u8(&in);

        high[i].name = "high";
        high[i].size = (b & 0x80) ? 3 * MiB : UINT64_C(1) << (b % 64);
        high[i].enabled = b & 0x40;
    }
    req.high = high;
    req.n_high = n;

    /* Reserved regions as structs, then as text: the rest of the input. */
    n = take_u8(&in) % (MAX_RESERVED + 1);
    if (n) {
        reserved = g_new0(VirtHotmemReservedRegion, n);
        for (i = 0; i < n; i++) {
            reserved[i].base = take_value(&in);
            reserved[i].size = take_value(&in);
            reserved[i].type = g_strdup((flags & 0x10) ? "msi" : "direct");
        }
        n_reserved = n;
    }
    text = take_reserved_text(&in, flags);
    if (!virt_hotmem_parse_reserved_regions(text->str, (gssize)text->len,
                                            "fuzz", &reserved, &n_reserved,
                                            &err)) {
        check_message(err);
        FUZZ_CHECK(g_str_has_prefix(error_get_pretty(err),
                                    "reserved-regions=fuzz:"), NULL);
        FUZZ_CHECK(n_reserved == n, NULL);
        g_clear_pointer(&err, error_free);
    }

    /* Half the time the planner gets the raw list, half the union. */
    req.reserved = reserved;
    req.n_reserved = n_reserved;
    if (virt_hotmem_reserved_regions_union(reserved, n_reserved, &merged,
                                           &n_merged, &err)) {
        check_union(merged, n_merged);
        if (flags & 0x20) {
            req.reserved = merged;
            req.n_reserved = n_merged;
        }
    } else {
        check_message(err);
        g_clear_pointer(&err, error_free);
    }

    layout = virt_hotmem_layout_plan(&req, &err);
    if (layout) {
        FUZZ_CHECK(err == NULL, NULL);
        /* Requests that must fail did not sneak through. */
        FUZZ_CHECK(req.ram_size != 0 && req.maxram_size >= req.ram_size &&
                   req.ram_slots <= req.max_ram_slots &&
                   req.pa_bits >= 32 && req.pa_bits <= 64, NULL);
        check_layout(&req, layout);
        virt_hotmem_layout_free(layout);
    } else {
        check_message(err);
        error_free(err);
    }

    virt_hotmem_reserved_regions_free(merged, n_merged);
    virt_hotmem_reserved_regions_free(reserved, n_reserved);
    g_string_free(text, TRUE);
    return 0;
}
