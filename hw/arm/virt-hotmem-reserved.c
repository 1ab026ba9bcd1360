/*
 * virt-hotmem reserved regions: parse the host's IOMMU reserved_regions
 * files and merge them into one sorted list for the memory-map planner.
 * The file format is ours to parse; numbers, ranges and their union are
 * QEMU's (qemu_strtou64(), qemu/range.h, resv_region_list_insert()).
 *
 * Pure: no QOM and no global state, only QEMU's utility library, so that
 * tests/unit and the fuzzer link it with libqemuutil alone.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/range.h"
#include "qemu/reserved-region.h"
#include "hw/arm/virt-hotmem-reserved.h"
#include "virt-hotmem-span.h"

/* How much of an offending line a message quotes. */
#define QUOTE_MAX 64

/*
 * @len bytes of @s, quoted safely in a one-line message: anything but
 * printable ASCII becomes \xNN, and a long text is cut with "...".
 */
static char *quote_for_message(const char *s, size_t len)
{
    GString *out = g_string_new(NULL);
    size_t i;

    for (i = 0; i < len && i < QUOTE_MAX; i++) {
        unsigned char c = s[i];

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            g_string_append_c(out, c);
        } else {
            g_string_append_printf(out, "\\x%02x", c);
        }
    }
    if (len > QUOTE_MAX) {
        g_string_append(out, "...");
    }
    return g_string_free(out, FALSE);
}

/* Free a GArray of VirtHotmemReservedRegion and the types it owns. */
static void free_region_array(GArray *array)
{
    size_t i;

    for (i = 0; i < array->len; i++) {
        g_free(g_array_index(array, VirtHotmemReservedRegion, i).type);
    }
    g_array_free(array, TRUE);
}

typedef struct Field {
    const char *s;
    size_t len;
} Field;

/* Linux's types are words like "direct-relaxable": no need for more. */
static bool valid_type(const Field *f)
{
    size_t i;

    for (i = 0; i < f->len; i++) {
        char c = f->s[i];

        if (!g_ascii_isalnum(c) && c != '-' && c != '_' && c != '.') {
            return false;
        }
    }
    return true;
}

/*
 * A bound as Linux prints it, "0x" and hex digits.  The prefix is checked
 * here: qemu_strtou64() would also take a sign, blanks or no prefix.
 */
static bool parse_bound(const char *which, const Field *f, uint64_t *value,
                        char **reason)
{
    g_autofree char *text = g_strndup(f->s, f->len);
    g_autofree char *quoted = NULL;
    const char *end = NULL;
    int ret = -EINVAL;

    if (f->len > 2 && f->s[0] == '0' && g_ascii_tolower(f->s[1]) == 'x' &&
        g_ascii_isxdigit(f->s[2])) {
        ret = qemu_strtou64(text, &end, 16, value);
    }
    if (ret == 0 && end == text + f->len) {
        return true;
    }
    quoted = quote_for_message(f->s, f->len);
    if (ret == -ERANGE) {
        *reason = g_strdup_printf("%s does not fit in 64 bits ('%s')", which,
                                  quoted);
    } else {
        *reason = g_strdup_printf("%s is not a hex number ('%s')", which,
                                  quoted);
    }
    return false;
}

/*
 * One line of a reserved_regions file, without its '\n'.  Returns false
 * with *@reason set if the line is bad; true with *@blank set if it holds
 * no region.
 */
static bool parse_reserved_line(const char *line, size_t len,
                                VirtHotmemReservedRegion *region,
                                bool *blank, char **reason)
{
    g_autofree char *quoted = NULL;
    Field fields[4];
    size_t n = 0, i = 0;
    uint64_t start, end;

    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    while (i < len) {
        size_t begin;

        while (i < len && (line[i] == ' ' || line[i] == '\t')) {
            i++;
        }
        if (i == len) {
            break;
        }
        begin = i;
        while (i < len && line[i] != ' ' && line[i] != '\t') {
            i++;
        }
        if (n < G_N_ELEMENTS(fields)) {
            fields[n].s = line + begin;
            fields[n].len = i - begin;
        }
        n++;
    }
    *blank = n == 0;
    if (n == 0) {
        return true;
    }
    if (n != 3) {
        quoted = quote_for_message(line, len);
        *reason = g_strdup_printf("malformed line '%s': %s", quoted,
                                  n < 3 ? "expected '0x<start> 0x<end> "
                                  "<type>'" : "text after the type");
        return false;
    }
    if (!parse_bound("start", &fields[0], &start, reason) ||
        !parse_bound("end", &fields[1], &end, reason)) {
        return false;
    }
    if (end < start) {
        *reason = g_strdup_printf("end 0x%" PRIx64 " below start 0x%" PRIx64,
                                  end, start);
        return false;
    }
    if (start == 0 && end == UINT64_MAX) {
        *reason = g_strdup("the region covers the whole 64-bit address "
                           "space");
        return false;
    }
    if (!valid_type(&fields[2])) {
        quoted = quote_for_message(fields[2].s, fields[2].len);
        *reason = g_strdup_printf("type is not a region type ('%s')",
                                  quoted);
        return false;
    }
    region->base = start;
    region->size = end - start + 1;
    region->type = g_strndup(fields[2].s, fields[2].len);
    return true;
}

bool virt_hotmem_parse_reserved_regions(const char *text, gssize len,
                                        const char *source,
                                        VirtHotmemReservedRegion **regions,
                                        size_t *n_regions, Error **errp)
{
    GArray *parsed;
    size_t total, pos = 0, line_no = 0;

    if (!regions || !n_regions || (*n_regions && !*regions)) {
        error_setg(errp, "reserved-regions=%s: no region list to append to",
                  source ? source : "?");
        return false;
    }
    if (!text) {
        text = "";
        len = 0;
    }
    total = len < 0 ? strlen(text) : (size_t)len;
    parsed = g_array_new(FALSE, FALSE, sizeof(VirtHotmemReservedRegion));

    while (pos < total) {
        const char *line = text + pos;
        const char *eol = memchr(line, '\n', total - pos);
        size_t line_len = eol ? (size_t)(eol - line) : total - pos;
        VirtHotmemReservedRegion region;
        char *reason = NULL;
        bool blank;

        line_no++;
        if (!parse_reserved_line(line, line_len, &region, &blank, &reason)) {
            error_setg(errp, "reserved-regions=%s:%zu: %s",
                      source ? source : "?",
                      line_no, reason);
            g_free(reason);
            free_region_array(parsed);
            return false;
        }
        if (!blank) {
            g_array_append_val(parsed, region);
        }
        pos += line_len + 1;
    }

    *regions = g_renew(VirtHotmemReservedRegion, *regions,
                       *n_regions + parsed->len);
    if (parsed->len) {
        memcpy(*regions + *n_regions, parsed->data,
               parsed->len * sizeof(VirtHotmemReservedRegion));
    }
    *n_regions += parsed->len;
    g_array_free(parsed, TRUE);
    return true;
}

/* By base, then by end: the order of the types in a merged region. */
static int region_order_cmp(const void *pa, const void *pb)
{
    const VirtHotmemReservedRegion *a = *(VirtHotmemReservedRegion **)pa;
    const VirtHotmemReservedRegion *b = *(VirtHotmemReservedRegion **)pb;

    if (a->base != b->base) {
        return a->base < b->base ? -1 : 1;
    }
    if (a->size != b->size) {
        return a->size < b->size ? -1 : 1;
    }
    return 0;
}

/* Append each comma-separated type of @type that @types lacks. */
static void add_types(GPtrArray *types, const char *type)
{
    g_auto(GStrv) parts = NULL;
    size_t i, j;

    if (!type) {
        return;
    }
    parts = g_strsplit(type, ",", -1);
    for (i = 0; parts[i]; i++) {
        bool known = parts[i][0] == '\0';

        for (j = 0; j < types->len && !known; j++) {
            known = strcmp(g_ptr_array_index(types, j), parts[i]) == 0;
        }
        if (!known) {
            g_ptr_array_add(types, g_strdup(parts[i]));
        }
    }
}

/*
 * The regions as QEMU's sorted list of disjoint ReservedRegions, which
 * covers their union: where regions overlap, resv_region_list_insert()
 * keeps the last one.  Entries' types are unused: ours are strings.
 */
static GList *reserved_region_list(const VirtHotmemReservedRegion *regions,
                                   size_t n_regions, Error **errp)
{
    GList *list = NULL;
    size_t i;

    for (i = 0; i < n_regions; i++) {
        ReservedRegion *reg;
        Range range;

        if (regions[i].size == 0) {
            continue;
        }
        if (!vhm_range_of(regions[i].base, regions[i].size, &range)) {
            error_setg(errp, "reserved-regions: the region at 0x%" PRIx64
                       " of size 0x%" PRIx64 " wraps around the 64-bit "
                       "address space", regions[i].base, regions[i].size);
            g_list_free_full(list, g_free);
            return NULL;
        }
        reg = g_new0(ReservedRegion, 1);
        reg->range = range;
        list = resv_region_list_insert(list, reg);
    }
    return list;
}

/*
 * The entries of @list that touch, from *@entry on, as one range; moves
 * *@entry past them.  Entries are disjoint, so that is all the merging.
 */
static Range next_span(GList **entry)
{
    Range span = ((ReservedRegion *)(*entry)->data)->range;

    for (*entry = (*entry)->next; *entry; *entry = (*entry)->next) {
        Range *next = &((ReservedRegion *)(*entry)->data)->range;

        if (span.upb == UINT64_MAX || next->lob != span.upb + 1) {
            break;
        }
        span.upb = next->upb;
    }
    return span;
}

bool virt_hotmem_reserved_regions_union(
    const VirtHotmemReservedRegion *regions, size_t n_regions,
    VirtHotmemReservedRegion **out, size_t *n_out, Error **errp)
{
    g_autofree const VirtHotmemReservedRegion **by_base = NULL;
    Error *local_err = NULL;
    GList *list, *entry;
    GArray *merged;
    size_t i, n = 0;

    if (!out || !n_out || (n_regions && !regions)) {
        error_setg(errp, "reserved-regions: no region list");
        return false;
    }
    list = reserved_region_list(regions, n_regions, &local_err);
    if (local_err) {
        error_propagate(errp, local_err);
        return false;
    }
    by_base = g_new(const VirtHotmemReservedRegion *, n_regions + 1);
    for (i = 0; i < n_regions; i++) {
        if (regions[i].size) {
            by_base[n++] = &regions[i];
        }
    }
    qsort(by_base, n, sizeof(*by_base), region_order_cmp);

    merged = g_array_new(FALSE, FALSE, sizeof(VirtHotmemReservedRegion));
    for (entry = list, i = 0; entry;) {
        g_autoptr(GPtrArray) types = g_ptr_array_new_with_free_func(g_free);
        Range span = next_span(&entry);
        VirtHotmemReservedRegion r;

        if (span.lob == 0 && span.upb == UINT64_MAX) {
            error_setg(errp, "reserved-regions: the regions cover the whole "
                       "64-bit address space");
            free_region_array(merged);
            g_list_free_full(list, g_free);
            return false;
        }
        /* Every region lies in one span: those by base up to its end */
        for (; i < n && by_base[i]->base <= span.upb; i++) {
            add_types(types, by_base[i]->type);
        }
        g_ptr_array_add(types, NULL);
        r.base = span.lob;
        r.size = range_size(&span);
        r.type = types->len > 1 ? g_strjoinv(",", (char **)types->pdata) :
                                  NULL;
        g_array_append_val(merged, r);
    }
    g_list_free_full(list, g_free);
    *n_out = merged->len;
    *out = (VirtHotmemReservedRegion *)g_array_free(merged, FALSE);
    return true;
}

void virt_hotmem_reserved_regions_free(VirtHotmemReservedRegion *regions,
                                       size_t n_regions)
{
    size_t i;

    if (!regions) {
        return;
    }
    for (i = 0; i < n_regions; i++) {
        g_free(regions[i].type);
    }
    g_free(regions);
}

