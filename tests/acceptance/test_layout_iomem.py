#!/usr/bin/env python3
#
# Acceptance: the guest's own /proc/iomem against RAM banks this test works
# out from the rules of docs/system/arm/virt-hotmem.rst, never from QEMU's
# answer (query-memory-layout is not asked).  The unmodified Debian arm64
# cloud kernel boots by direct kernel boot under TCG, once per layout;
# about 5 s each.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

KiB = 1 << 10
MiB = 1 << 20
GiB = guest.GiB
# Every bank starts, and all but the last end, on a 2 MiB boundary.
RAM_ALIGN = 2 * MiB


def align_down(x, a):
    return x // a * a


def align_up(x, a):
    return align_down(x + a - 1, a)


def guest_ram(machine_opts, mem, reserved=""):
    """Boot; the guest's System RAM ranges as (first, last) pairs."""
    with tempfile.NamedTemporaryFile("w", suffix=".reserved") as f:
        f.write(reserved)
        f.flush()
        if reserved:
            machine_opts = ",".join(filter(None, [machine_opts,
                                                  "reserved-regions=" + f.name]))
        with guest.arm64_guest(machine_opts=machine_opts, mem=mem) as vm:
            vm.wait_shell()
            return guest.parse_iomem(vm.check("cat /proc/iomem"))


def assert_ram(got, want):
    assert got == want, "guest sees %s, the rules give %s" % (
        [(hex(s), hex(e)) for s, e in got],
        [(hex(s), hex(e)) for s, e in want])


def test_contiguous_ram_across_4g():
    # An explicit ram-base is taken as it is: 2 GiB of RAM from 3 GiB,
    # across the 4 GiB line.
    got = guest_ram("ram-base=0xc0000000", "2G")
    assert_ram(got, [(3 * GiB, 5 * GiB - 1)])


def test_contiguous_auto_steps_over_reserved_page():
    # ram-base=auto tries virt's 1 GiB; a host-reserved 4 KiB page at
    # 1.5 GiB is in the way, so RAM starts at the first 2 MiB boundary
    # after the page.
    page = 3 * GiB // 2
    got = guest_ram("", "1G",
                    "0x%016x 0x%016x reserved\n" % (page, page + 4 * KiB - 1))
    base = align_up(page + 4 * KiB, RAM_ALIGN)
    assert base == 0x60200000
    assert_ram(got, [(base, base + GiB - 1)])


def test_den0001_split_by_reserved_page():
    # memory-layout=arm-den0001 with 3 GiB: the DRAM window at 2 GiB
    # (2 GiB long) is cut by a reserved page at 2.5 GiB, widened to its
    # 2 MiB granule; what does not fit goes to the window at 34 GiB.
    ram, page = 3 * GiB, 5 * GiB // 2
    got = guest_ram("memory-layout=arm-den0001", "3G",
                    "0x%016x 0x%016x msi\n" % (page, page + 4 * KiB - 1))
    hole_first = align_down(page, RAM_ALIGN)
    hole_end = align_up(page + 4 * KiB, RAM_ALIGN)
    banks = [(2 * GiB, hole_first - 1), (hole_end, 4 * GiB - 1)]
    left = ram - sum(e - s + 1 for s, e in banks)
    banks.append((34 * GiB, 34 * GiB + left - 1))
    assert banks == [(0x80000000, 0x9fffffff), (0xa0200000, 0xffffffff),
                     (0x880000000, 0x8c01fffff)], banks
    assert_ram(got, banks)


if __name__ == "__main__":
    tap.main([("layout-iomem/contiguous-ram-across-4GiB",
               test_contiguous_ram_across_4g),
              ("layout-iomem/auto-ram-steps-over-reserved-page",
               test_contiguous_auto_steps_over_reserved_page),
              ("layout-iomem/arm-den0001-split-by-reserved-page",
               test_den0001_split_by_reserved_page)])
