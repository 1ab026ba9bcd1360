/*
 * qtest: the virt-hotmem machine types exist and start
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qstring.h"
#include "virt-hotmem-base.h"

/*
 * The -M help names: the newest versioned type, its alias, and upstream's
 * newest virt it derives from.  A build on QEMU 10.2 has virt-hotmem-10.0
 * too, for the 10.0 build's guests; one on 10.0 has nothing newer.
 */
#if QEMU_BASE_AT_LEAST(10, 2)
#define VERSIONED "virt-hotmem-10.2"
#define UPSTREAM  "virt-10.2"
#define OLDER     "virt-hotmem-10.0"
#else
#define VERSIONED "virt-hotmem-10.0"
#define UPSTREAM  "virt-10.0"
#endif
#define NEWER     "virt-hotmem-10.2"
#define ALIAS     "virt-hotmem"

static QDict *find_machine(QList *machines, const char *name)
{
    QListEntry *e;

    QLIST_FOREACH_ENTRY(machines, e) {
        QDict *m = qobject_to(QDict, qlist_entry_obj(e));

        if (g_str_equal(qdict_get_str(m, "name"), name)) {
            return m;
        }
    }
    return NULL;
}

static void test_query_machines(void)
{
    QTestState *qts = qtest_init("-nic none -M " VERSIONED);
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-machines' }");
    QList *machines = qdict_get_qlist(rsp, "return");
    QDict *m;

    g_assert_nonnull(machines);
    m = find_machine(machines, VERSIONED);
    g_assert_nonnull(m);
    g_assert_cmpstr(qdict_get_try_str(m, "alias"), ==, ALIAS);
    g_assert_false(qdict_get_try_bool(m, "is-default", false));
    /* Upstream's virt keeps its own alias: we must not have taken it. */
    m = find_machine(machines, UPSTREAM);
    g_assert_nonnull(m);
    g_assert_cmpstr(qdict_get_try_str(m, "alias"), ==, "virt");
#ifdef OLDER
    m = find_machine(machines, OLDER);
    g_assert_nonnull(m);
    g_assert_null(qdict_get_try_str(m, "alias"));
#else
    g_assert_null(find_machine(machines, NEWER));
#endif

    qobject_unref(rsp);
    qtest_quit(qts);
}

static char *machine_type(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                           "{ 'path': '/machine', 'property': 'type' } }");
    char *type = g_strdup(qdict_get_str(rsp, "return"));

    qobject_unref(rsp);
    return type;
}

static void test_alias_resolves(void)
{
    QTestState *qts = qtest_init("-nic none -M " ALIAS);
    g_autofree char *type = machine_type(qts);

    g_assert_cmpstr(type, ==, VERSIONED "-machine");
    qtest_quit(qts);
}

static void test_is_a_virt_machine(void)
{
    QTestState *qts = qtest_init("-nic none -M " VERSIONED);
    QDict *rsp;

    /* The board is upstream's virt: its properties are all there. */
    rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                    "{ 'path': '/machine', 'property': 'highmem' } }");
    g_assert_true(qdict_get_bool(rsp, "return"));
    qobject_unref(rsp);

    /* And it runs: the vCPU is live under the qtest accelerator. */
    rsp = qtest_qmp(qts, "{ 'execute': 'query-status' }");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "return"), "status"),
                    ==, "running");
    qobject_unref(rsp);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virt-hotmem/machine/query-machines", test_query_machines);
    qtest_add_func("/virt-hotmem/machine/alias", test_alias_resolves);
    qtest_add_func("/virt-hotmem/machine/is-virt", test_is_a_virt_machine);
    return g_test_run();
}
