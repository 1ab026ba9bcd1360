#!/usr/bin/env python3
#
# Acceptance: the unmodified Debian arm64 cloud kernel boots on virt-hotmem
# (direct kernel boot, device tree, TCG) and sees exactly the RAM QEMU mapped.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402


def check_ram_matches(mem, expect_base):
    with guest.arm64_guest(mem=mem) as vm:
        vm.wait_shell()
        iomem = guest.parse_iomem(vm.check("cat /proc/iomem"))
        meminfo = vm.check("cat /proc/meminfo")
        mtree = guest.parse_mtree_ram(vm.qmp.hmp("info mtree"), "mach-virt.ram")
        size = vm.qmp.cmd("query-memory-size-summary")["base-memory"]

    # What QEMU mapped, what the guest found, and what we asked for agree.
    assert mtree == [(expect_base, expect_base + size - 1)], mtree
    assert iomem == mtree, "guest System RAM %s, QEMU mapped %s" % (
        [(hex(s), hex(e)) for s, e in iomem], [(hex(s), hex(e)) for s, e in mtree])
    total = guest.meminfo_kib(meminfo, "MemTotal") * 1024
    # MemTotal is RAM less what the kernel reserved for itself at boot.
    assert size * 0.8 < total <= size, (total, size)


def test_boot_1g():
    check_ram_matches("1G", guest.GiB)


def test_boot_3g():
    check_ram_matches("3G", guest.GiB)


if __name__ == "__main__":
    tap.main([("boot/1G-ram-at-1GiB", test_boot_1g),
              ("boot/3G-ram-at-1GiB", test_boot_3g)])
