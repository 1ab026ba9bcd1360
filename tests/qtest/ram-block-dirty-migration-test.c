/*
 * Live migration of a RAM block that is not at ram_addr 0 and that the
 * guest dirties after the first dirty-bitmap sync (patches/0007).
 *
 * Under TCG, cpu_physical_memory_sync_dirty_bitmap() used to re-arm the
 * TLB_NOTDIRTY slow path at the block-relative offset instead of at the
 * block's ram_addr: the pages of whatever block sits at ram_addr 0 (the
 * machine's RAM) were re-armed instead of those of the block just synced.
 * A block larger than the one at ram_addr 0 made the range cross a block
 * boundary and the source abort ("tlb_reset_dirty_range_all: Assertion
 * `block == qemu_get_ram_block(end - 1)' failed"); a smaller one kept its
 * TLB entries writable without the slow path, so writes after the sync
 * set no dirty bit and never reached the destination.
 *
 * This is QEMU's own precopy test (tests/qtest/migration/framework.c:
 * its aarch64 guest increments the first byte of every page of
 * 0x40100000..0x46400000 in a loop, and the test checks on the
 * destination that no page lost an increment), with one change: the
 * memory the guest dirties is a 256 MiB pc-dimm and not the machine's RAM.
 * virt-hotmem puts its 64 MiB of RAM at 4 GiB and device memory at
 * 1 GiB, so the DIMM covers the guest's test range and is larger than
 * the RAM block at ram_addr 0.  The pc-dimm is cold-plugged on a guest
 * booted from a device tree, which only virt-hotmem accepts.
 *
 * Copyright (c) 2026 The virt-hotmem developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "migration/bootfile.h"
#include "migration/framework.h"
#include "virt-hotmem-base.h"

/*
 * Merged with the framework's own '-machine virt-X.Y,gic-version=3' (the
 * later -machine wins for 'type'); the addresses are worked out here from
 * the guest's test range in migration/bootfile.h.
 */
#define MACHINE "-machine virt-hotmem,ram-base=0x100000000," \
                "device-memory-base=0x40000000 "
/*
 * The framework passes its RAM size ("%s"): ours replaces it.  Memory
 * backends get their ram_addr in the order of the command line, and before
 * the board's own blocks (flash): the RAM's backend comes first, so that
 * the DIMM's block is not the one at ram_addr 0.
 */
#define DIMM    "-object memory-backend-ram,id=dimm0-mem,size=256M " \
                "-device pc-dimm,id=dimm0,memdev=dimm0-mem,addr=0x40000000 "
#if QEMU_BASE_AT_LEAST(10, 1)
/*
 * QEMU 10.1's framework always gives RAM a backend of its own, 150M on
 * aarch64, ahead of the test's options, and has no way to replace it: add
 * the slot and the DIMM after it.
 */
#define OPTS    MACHINE "-m 150M,slots=1,maxmem=1G " DIMM
#else
#define MEMORY  "-object memory-backend-ram,id=ram0,size=64M " \
                "-machine memory-backend=ram0 -m 64M,slots=1,maxmem=1G " DIMM
#define OPTS    MACHINE
#endif

static MigrationTestEnv *env;

static void test_dimm_dirtied_after_first_sync(void)
{
    g_autofree char *uri = g_strdup_printf("unix:%s/migsocket", env->tmpfs);
    MigrateCommon args = {
        .start = {
#if !QEMU_BASE_AT_LEAST(10, 1)
            .memory_backend = MEMORY,
#endif
            .opts_source = OPTS,
            .opts_target = OPTS,
        },
        .listen_uri = uri,
        .connect_uri = uri,
        /*
         * Migrate while the guest runs, so that it dirties the DIMM
         * after the first sync; the framework then checks every page of
         * the range on the destination.
         */
        .live = true,
    };

    if (!env->has_tcg) {
        g_test_skip("the bug is in TCG's dirty tracking: no TCG here");
        return;
    }
    if (!qtest_has_machine("virt-hotmem")) {
        g_test_skip("no virt-hotmem machine in this QEMU");
        return;
    }
    /* The guest's test range must lie in the DIMM for this to test it */
    g_assert_cmphex(ARM_TEST_MEM_START, >=, 0x40000000);
    g_assert_cmphex(ARM_TEST_MEM_END, <=, 0x40000000 + 256 * MiB);

    test_precopy_common(&args);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    env = migration_get_env();
    qtest_add_func("/virt-hotmem/migration/ram-block-dirty/"
                   "dimm-dirtied-after-first-sync",
                   test_dimm_dirtied_after_first_sync);

    ret = g_test_run();
    g_assert_cmpint(ret, ==, 0);
    return migration_env_clean(env);
}
