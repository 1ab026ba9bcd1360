#!/usr/bin/env python3
#
# Acceptance: the unmodified Debian arm64 cloud kernel finds its RAM where
# virt-hotmem's planner put it, as QEMU reports it (query-memory-layout).
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

GiB = guest.GiB


def boot_and_compare(machine_opts, mem):
    """Boot; return the guest's System RAM ranges after checking that they
    are exactly the RAM banks of query-memory-layout."""
    with guest.arm64_guest(machine_opts=machine_opts, mem=mem) as vm:
        vm.wait_shell()
        iomem = guest.parse_iomem(vm.check("cat /proc/iomem"))
        layout = vm.qmp.cmd("query-memory-layout")
    banks = [(r["base"], r["base"] + r["size"] - 1)
             for r in layout["regions"] if r["kind"] == "ram"]
    assert iomem == banks, "guest sees %s, QEMU planned %s" % (
        [(hex(s), hex(e)) for s, e in iomem],
        [(hex(s), hex(e)) for s, e in banks])
    return iomem


def test_ram_base_512g():
    ram = boot_and_compare("ram-base=0x8000000000", "1G")
    assert ram == [(0x8000000000, 0x8000000000 + GiB - 1)], ram


def test_reserved_file_moves_ram():
    with tempfile.NamedTemporaryFile("w", suffix=".reserved") as f:
        # What a host's IOMMU group reports: 1 GiB..2 GiB reserved, plus
        # the usual MSI window, which lies in virt's fixed MMIO map.
        f.write("0x0000000040000000 0x000000007fffffff reserved\n"
                "0x0000000008000000 0x00000000080fffff msi\n")
        f.flush()
        ram = boot_and_compare("reserved-regions=" + f.name, "1G")
    assert ram == [(2 * GiB, 3 * GiB - 1)], ram


def test_arm_den0001_banks():
    # 4 GiB: 2 GiB in the window at 2 GiB, the rest in the one at 34 GiB.
    ram = boot_and_compare("memory-layout=arm-den0001",
                           "4G,slots=2,maxmem=8G")
    assert ram == [(2 * GiB, 4 * GiB - 1), (34 * GiB, 36 * GiB - 1)], ram


def test_device_memory_2t():
    ram = boot_and_compare("device-memory-base=2T", "1G,slots=2,maxmem=4G")
    assert ram == [(GiB, 2 * GiB - 1)], ram


if __name__ == "__main__":
    tap.main([("layout/ram-base-512GiB", test_ram_base_512g),
              ("layout/reserved-1GiB-2GiB-moves-ram", test_reserved_file_moves_ram),
              ("layout/arm-den0001-two-banks", test_arm_den0001_banks),
              ("layout/device-memory-at-2TiB", test_device_memory_2t)])
