/*
 * Unit tests of the virt-hotmem reserved-regions parser and merger
 *
 * Built from hw/arm/virt-hotmem-reserved.c and libqemuutil alone.  Every
 * expectation is a literal worked out from the input text.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/arm/virt-hotmem-reserved.h"

static void assert_contains(Error *err, const char *needle)
{
    const char *msg = err ? error_get_pretty(err) : NULL;

    if (!msg || !strstr(msg, needle)) {
        g_error("message '%s' lacks '%s'", msg ? msg : "(null)", needle);
    }
    g_assert_null(strchr(msg, '\n'));
}

/*
 * Reserved regions: Linux's format
 */

#define SOURCE "/tmp/r.txt"

static void parse_fails(const char *text, const char *needle)
{
    VirtHotmemReservedRegion *regions = NULL;
    size_t n = 0;
    g_autoptr(Error) err = NULL;

    g_assert_false(virt_hotmem_parse_reserved_regions(text, -1, SOURCE,
                                                      &regions, &n, &err));
    g_assert_null(regions);
    g_assert_cmpuint(n, ==, 0);
    assert_contains(err, needle);
}

static void test_parse_sysfs_sample(void)
{
    const char *text =
        "0x0000000008000000 0x00000000080fffff msi\n"
        "0x0000000040000000 0x000000007fffffff direct-relaxable\n"
        "0x00000000fee00000 0x00000000feefffff reserved\n";
    VirtHotmemReservedRegion *regions = NULL;
    size_t n = 0;

    g_assert_true(virt_hotmem_parse_reserved_regions(text, -1, SOURCE,
                                                     &regions, &n, NULL));
    g_assert_cmpuint(n, ==, 3);
    g_assert_cmphex(regions[0].base, ==, 0x08000000);
    g_assert_cmphex(regions[0].size, ==, 0x00100000);
    g_assert_cmpstr(regions[0].type, ==, "msi");
    g_assert_cmphex(regions[1].base, ==, GiB);
    g_assert_cmphex(regions[1].size, ==, GiB);
    g_assert_cmpstr(regions[1].type, ==, "direct-relaxable");
    g_assert_cmpstr(regions[2].type, ==, "reserved");
    virt_hotmem_reserved_regions_free(regions, n);
}

static void test_parse_empty_is_ok(void)
{
    VirtHotmemReservedRegion *regions = NULL;
    size_t n = 0;

    g_assert_true(virt_hotmem_parse_reserved_regions("", -1, SOURCE,
                                                     &regions, &n, NULL));
    g_assert_cmpuint(n, ==, 0);
    g_assert_true(virt_hotmem_parse_reserved_regions(NULL, 0, SOURCE,
                                                     &regions, &n, NULL));
    g_assert_true(virt_hotmem_parse_reserved_regions("\n\x20\x20\n\x09\n", -1,
                                                     SOURCE, &regions, &n,
                                                     NULL));
    g_assert_cmpuint(n, ==, 0);
    virt_hotmem_reserved_regions_free(regions, n);
}

/* Blanks of any width, CRLF and a missing final newline are fine. */
static void test_parse_lenient_whitespace(void)
{
    /* and hex in any case, with any number of leading zeros */
    const char *text = "  0x1000\t0x1fff   msi \r\n0x3000 0x3fff direct\n"
                       "0X00000000000000005000 0x5FfF msi";
    VirtHotmemReservedRegion *regions = NULL;
    size_t n = 0;

    g_assert_true(virt_hotmem_parse_reserved_regions(text, -1, SOURCE,
                                                     &regions, &n, NULL));
    g_assert_cmpuint(n, ==, 3);
    g_assert_cmphex(regions[0].base, ==, 0x1000);
    g_assert_cmpstr(regions[0].type, ==, "msi");
    g_assert_cmphex(regions[1].size, ==, 0x1000);
    g_assert_cmphex(regions[2].base, ==, 0x5000);
    g_assert_cmphex(regions[2].size, ==, 0x1000);
    virt_hotmem_reserved_regions_free(regions, n);
}

static void test_parse_garbage(void)
{
    parse_fails("garbage\n", "reserved-regions=/tmp/r.txt:1: malformed line "
                "'garbage'");
}

static void test_parse_missing_fields(void)
{
    parse_fails("0x1000 0x1fff msi\n0x2000 0x2fff\n",
                "reserved-regions=/tmp/r.txt:2: malformed line "
                "'0x2000 0x2fff': expected '0x<start> 0x<end> <type>'");
    parse_fails("0x1000 0x1fff msi extra\n",
                ":1: malformed line '0x1000 0x1fff msi extra': text after "
                "the type");
}

static void test_parse_end_below_start(void)
{
    parse_fails("0x1000 0x1fff msi\n\n0x2000 0x1000 msi\n",
                "reserved-regions=/tmp/r.txt:3: end 0x1000 below start "
                "0x2000");
}

static void test_parse_not_hex(void)
{
    parse_fails("0xzz 0x1fff msi\n", ":1: start is not a hex number "
                "('0xzz')");
    parse_fails("1000 0x1fff msi\n", ":1: start is not a hex number");
    parse_fails("0x -0x1 msi\n", ":1: start is not a hex number");
    parse_fails("0x1000 0x1fffg msi\n", ":1: end is not a hex number "
                "('0x1fffg')");
    parse_fails("0x10000000000000000 0x1 msi\n", "start does not fit in 64 "
                "bits");
    parse_fails("0x1 0x1ffffffffffffffffz msi\n", "end does not fit in 64 "
                "bits");
    parse_fails("0x1 0x1z1ffffffffffffffff msi\n", "end is not a hex "
                "number");
    parse_fails("0x1 0x+1 msi\n", "end is not a hex number");
    parse_fails("0x1 0x0x2 msi\n", "end is not a hex number");
}

static void test_parse_whole_space_and_bad_type(void)
{
    parse_fails("0x0 0xffffffffffffffff msi\n", "covers the whole 64-bit");
    parse_fails("0x0 0x1 m\x01si\n", "type is not a region type "
                "('m\\x01si')");
}

/* Binary junk is quoted safely and cut short in the one-line message. */
static void test_parse_binary_junk(void)
{
    char junk[200];
    VirtHotmemReservedRegion *regions = NULL;
    size_t n = 0;
    g_autoptr(Error) err = NULL;
    size_t i;

    for (i = 0; i < sizeof(junk); i++) {
        junk[i] = (char)(i * 37 + 1);
    }
    junk[5] = '\0';
    junk[50] = '\n';
    g_assert_false(virt_hotmem_parse_reserved_regions(junk, sizeof(junk),
                                                      SOURCE, &regions, &n,
                                                      &err));
    assert_contains(err, "reserved-regions=/tmp/r.txt:1: malformed line");
    assert_contains(err, "\\x00");
    g_assert_cmpuint(strlen(error_get_pretty(err)), <, 400);
}

/* Parsing appends; a failure appends nothing. */
static void test_parse_appends(void)
{
    VirtHotmemReservedRegion *regions = NULL;
    size_t n = 0;
    g_autoptr(Error) err = NULL;

    g_assert_true(virt_hotmem_parse_reserved_regions("0x1000 0x1fff msi\n",
                                                     -1, "a", &regions, &n,
                                                     NULL));
    g_assert_true(virt_hotmem_parse_reserved_regions("0x5000 0x5fff direct\n"
                                                     "0x9000 0x9fff msi",
                                                     -1, "b", &regions, &n,
                                                     NULL));
    g_assert_cmpuint(n, ==, 3);
    g_assert_false(virt_hotmem_parse_reserved_regions("0x1 0x2 msi\nbad\n",
                                                      -1, "c", &regions, &n,
                                                      &err));
    assert_contains(err, "reserved-regions=c:2:");
    g_assert_cmpuint(n, ==, 3);
    g_assert_cmphex(regions[1].base, ==, 0x5000);
    g_assert_cmpstr(regions[2].type, ==, "msi");
    /* Only @len bytes count. */
    g_assert_true(virt_hotmem_parse_reserved_regions("0x1 0x2 msi junk", 11,
                                                     "d", &regions, &n,
                                                     NULL));
    g_assert_cmpuint(n, ==, 4);
    virt_hotmem_reserved_regions_free(regions, n);
}

static void test_union_merges(void)
{
    VirtHotmemReservedRegion in[] = {
        { 0x10000, 0x100, (char *)"reserved" },
        { 0x2800, 0x800, (char *)"msi" },
        { 0x1000, 0x1000, (char *)"msi" },
        { 0x1800, 0x1000, (char *)"direct" },
        { 0x50000, 0, (char *)"msi" },
        { 0x20000, 0x10, NULL },
    };
    VirtHotmemReservedRegion *out = NULL;
    size_t n = 0;

    g_assert_true(virt_hotmem_reserved_regions_union(in, G_N_ELEMENTS(in),
                                                     &out, &n, NULL));
    g_assert_cmpuint(n, ==, 3);
    /* Overlapping and adjacent ones merge, types in base order. */
    g_assert_cmphex(out[0].base, ==, 0x1000);
    g_assert_cmphex(out[0].size, ==, 0x2000);
    g_assert_cmpstr(out[0].type, ==, "msi,direct");
    g_assert_cmphex(out[1].base, ==, 0x10000);
    g_assert_cmpstr(out[1].type, ==, "reserved");
    g_assert_null(out[2].type);
    virt_hotmem_reserved_regions_free(out, n);
}

/* Merging merged lists keeps each type once. */
static void test_union_idempotent(void)
{
    VirtHotmemReservedRegion in[] = {
        { 0x1000, 0x1000, (char *)"direct,msi" },
        { 0x1800, 0x1000, (char *)"msi" },
        { 0x2000, 0x10, (char *)"reserved,direct" },
    };
    VirtHotmemReservedRegion *out = NULL;
    size_t n = 0;

    g_assert_true(virt_hotmem_reserved_regions_union(in, G_N_ELEMENTS(in),
                                                     &out, &n, NULL));
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpstr(out[0].type, ==, "direct,msi,reserved");
    virt_hotmem_reserved_regions_free(out, n);
    g_assert_true(virt_hotmem_reserved_regions_union(NULL, 0, &out, &n,
                                                     NULL));
    g_assert_cmpuint(n, ==, 0);
    virt_hotmem_reserved_regions_free(out, n);
}

/*
 * Regions inside others, duplicates, and two that touch at the top of the
 * address space: the union is the set of addresses any of them covers,
 * in gap-separated runs, each naming its parts' types by base.
 */
static void test_union_nested(void)
{
    VirtHotmemReservedRegion in[] = {
        { 0x8000, 0x1000, (char *)"reserved" },
        { UINT64_MAX - 0xfff, 0x1000, (char *)"direct" },
        { 0x2000, 0x1000, (char *)"msi" },
        { 0x1000, 0x4000, (char *)"direct" },
        { 0x2000, 0x1000, (char *)"msi" },
        { 0x3000, 0x3000, (char *)"x" },
        { UINT64_MAX - 0x1fff, 0x1000, (char *)"msi" },
    };
    VirtHotmemReservedRegion *out = NULL;
    size_t n = 0;

    g_assert_true(virt_hotmem_reserved_regions_union(in, G_N_ELEMENTS(in),
                                                     &out, &n, NULL));
    g_assert_cmpuint(n, ==, 3);
    g_assert_cmphex(out[0].base, ==, 0x1000);
    g_assert_cmphex(out[0].size, ==, 0x5000);
    g_assert_cmpstr(out[0].type, ==, "direct,msi,x");
    g_assert_cmphex(out[1].base, ==, 0x8000);
    g_assert_cmphex(out[1].size, ==, 0x1000);
    g_assert_cmpstr(out[1].type, ==, "reserved");
    g_assert_cmphex(out[2].base, ==, UINT64_MAX - 0x1fff);
    g_assert_cmphex(out[2].size, ==, 0x2000);
    g_assert_cmpstr(out[2].type, ==, "msi,direct");
    virt_hotmem_reserved_regions_free(out, n);
}

static void test_union_errors(void)
{
    VirtHotmemReservedRegion halves[] = {
        { UINT64_C(1) << 63, UINT64_C(1) << 63, (char *)"msi" },
        { 0, UINT64_C(1) << 63, (char *)"msi" },
    };
    VirtHotmemReservedRegion wraps[] = {
        { UINT64_MAX, 2, (char *)"msi" },
    };
    VirtHotmemReservedRegion *out = NULL;
    size_t n = 0;
    g_autoptr(Error) err = NULL;

    g_assert_false(virt_hotmem_reserved_regions_union(halves, 2, &out, &n,
                                                      &err));
    assert_contains(err, "cover the whole 64-bit address space");
    g_clear_pointer(&err, error_free);
    g_assert_false(virt_hotmem_reserved_regions_union(wraps, 1, &out, &n,
                                                      &err));
    assert_contains(err, "reserved-regions: the region at "
                    "0xffffffffffffffff of size 0x2 wraps around");
    g_assert_null(out);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/virt-hotmem-reserved/parse/sysfs-sample",
                    test_parse_sysfs_sample);
    g_test_add_func("/virt-hotmem-reserved/parse/empty",
                    test_parse_empty_is_ok);
    g_test_add_func("/virt-hotmem-reserved/parse/whitespace",
                    test_parse_lenient_whitespace);
    g_test_add_func("/virt-hotmem-reserved/parse/garbage", test_parse_garbage);
    g_test_add_func("/virt-hotmem-reserved/parse/missing-fields",
                    test_parse_missing_fields);
    g_test_add_func("/virt-hotmem-reserved/parse/end-below-start",
                    test_parse_end_below_start);
    g_test_add_func("/virt-hotmem-reserved/parse/not-hex", test_parse_not_hex);
    g_test_add_func("/virt-hotmem-reserved/parse/whole-space-bad-type",
                    test_parse_whole_space_and_bad_type);
    g_test_add_func("/virt-hotmem-reserved/parse/binary-junk",
                    test_parse_binary_junk);
    g_test_add_func("/virt-hotmem-reserved/parse/appends", test_parse_appends);
    g_test_add_func("/virt-hotmem-reserved/union/merges", test_union_merges);
    g_test_add_func("/virt-hotmem-reserved/union/idempotent",
                    test_union_idempotent);
    g_test_add_func("/virt-hotmem-reserved/union/nested", test_union_nested);
    g_test_add_func("/virt-hotmem-reserved/union/errors", test_union_errors);

    return g_test_run();
}
