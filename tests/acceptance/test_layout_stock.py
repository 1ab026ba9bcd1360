#!/usr/bin/env python3
#
# Acceptance: with its default options, each -M virt-hotmem-X.Y has
# upstream's memory map.  The oracle is stock -M virt-X.Y in the same
# binary, code the planner does not share: both machines' system address
# space ("address-space: memory" of info mtree) is compared region by
# region, and both dumped device trees node by node (less the per-boot
# random seeds).  The versions are those the binary lists (-M help): on
# the QEMU 10.0 base virt-hotmem-10.0, on 10.2 virt-hotmem-10.0 and -10.2,
# so that each base is checked against its own upstream virt.  No guest
# runs; each case starts four short QEMU processes per version.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

# Properties that differ between any two boots of the same machine
SEEDS = re.compile(r"^\s*(rng-seed|kaslr-seed) = ")
REGION = re.compile(r"^\s*([0-9a-f]+)-([0-9a-f]+) \(prio (-?\d+), ([^)]*)\): "
                    r"(.*)$")


def qemu(machine, cpu, mem, extra):
    return [guest.QEMU_AARCH64, "-M", machine, "-cpu", cpu, "-m", mem,
            "-nodefaults", "-display", "none", "-nic", "none"] + extra


def system_regions(machine, cpu, mem):
    """The system address space of @machine as (first, last, prio, type,
    name, depth) tuples, from the monitor's info mtree."""
    p = subprocess.run(qemu(machine, cpu, mem, ["-S", "-monitor", "stdio"]),
                       input=b"info mtree\nquit\n", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    text = p.stdout.decode(errors="replace")
    assert p.returncode == 0, "%s exited %d: %s" % (machine, p.returncode,
                                                    text[-500:])
    lines = text.splitlines()
    start = lines.index("address-space: memory")
    regions = []
    for line in lines[start + 1:]:
        m = REGION.match(line)
        if not m:
            break
        depth = len(line) - len(line.lstrip())
        regions.append((int(m.group(1), 16), int(m.group(2), 16),
                        int(m.group(3)), m.group(4), m.group(5), depth))
    assert len(regions) > 20, "%s: no system address space in:\n%s" % (
        machine, text[-2000:])
    return regions


def device_tree(machine, cpu, mem, tmp):
    """@machine's device tree as dts lines, without the random seeds."""
    dtb = os.path.join(tmp, machine + ".dtb")
    p = subprocess.run(qemu(machine + ",dumpdtb=" + dtb, cpu, mem, []),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    assert p.returncode == 0, "%s dumpdtb: %s" % (machine, p.stdout)
    dts = subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", dtb],
                         stdout=subprocess.PIPE, check=True,
                         timeout=60).stdout.decode()
    return [line for line in dts.splitlines() if not SEEDS.match(line)]


def fmt(r):
    return "%016x-%016x prio %d %s %s" % r[:5]


def hotmem_versions():
    """The X.Y of every virt-hotmem-X.Y machine type the binary has."""
    p = subprocess.run([guest.QEMU_AARCH64, "-M", "help"], check=True,
                       stdout=subprocess.PIPE, timeout=60)
    versions = re.findall(r"^virt-hotmem-(\d+\.\d+)\s", p.stdout.decode(),
                          re.M)
    assert versions, "no virt-hotmem-X.Y in -M help"
    return versions


def compare(cpu, mem, must_have):
    """Diff each virt-hotmem-X.Y against virt-X.Y for -cpu @cpu -m @mem;
    each of @must_have (name, first, last) must be in the stock map, so
    that the case really covers what it says."""
    if not os.path.exists(guest.QEMU_AARCH64):
        raise tap.Skip("%s is not built (make build)" % guest.QEMU_AARCH64)
    for version in hotmem_versions():
        compare_machines("virt-" + version, "virt-hotmem-" + version,
                         cpu, mem, must_have)


def compare_machines(stock_machine, machine, cpu, mem, must_have):
    stock = system_regions(stock_machine, cpu, mem)
    ours = system_regions(machine, cpu, mem)
    for i, (a, b) in enumerate(zip(stock, ours)):
        assert a == b, "region %d: %s has %s, %s has %s" % (
            i, stock_machine, fmt(a), machine, fmt(b))
    assert len(stock) == len(ours), (
        "%s has %d regions, %s %d; first extra: %s" %
        (stock_machine, len(stock), machine, len(ours),
         fmt((stock + ours)[min(len(stock), len(ours))])))
    names = {(r[4], r[0], r[1]) for r in stock}
    for want in must_have:
        assert want in names, "stock map lacks %s at [%#x, %#x]" % want
    with tempfile.TemporaryDirectory() as tmp:
        stock_dt = device_tree(stock_machine, cpu, mem, tmp)
        ours_dt = device_tree(machine, cpu, mem, tmp)
    for i, (a, b) in enumerate(zip(stock_dt, ours_dt)):
        assert a == b, "dts line %d: %s has %r, %s has %r" % (
            i + 1, stock_machine, a.strip(), machine, b.strip())
    assert len(stock_dt) == len(ours_dt), "%s: dts lengths %d != %d" % (
        machine, len(stock_dt), len(ours_dt))


GiB = guest.GiB
MiB = 1 << 20


def test_1g_max():
    # RAM at upstream's fixed 1 GiB; high ECAM at 256 GiB + 256 MiB,
    # high PCIe MMIO from 512 GiB to 1 TiB
    compare("max", "1G", [("mach-virt.ram", GiB, 2 * GiB - 1),
                          ("alias pcie-ecam @pcie-mmcfg-mmio "
                           "0000000000000000-000000000fffffff",
                           256 * GiB + 256 * MiB, 256 * GiB + 512 * MiB - 1),
                          ("alias pcie-mmio-high @gpex_mmio_window "
                           "0000008000000000-000000ffffffffff",
                           512 * GiB, 1024 * GiB - 1)])


def test_hotplug_max():
    # 4 GiB at 1 GiB, then device memory 4 GiB + 2 slots at 5 GiB
    compare("max", "4G,slots=2,maxmem=8G",
            [("mach-virt.ram", GiB, 5 * GiB - 1),
             ("device-memory", 5 * GiB, 11 * GiB - 1)])


def test_high_io_above_device_memory():
    # A 44-bit CPU; device memory 299 GiB + 2 slots from 2 GiB ends at
    # 303 GiB, past the 256 GiB floor: the high ECAM follows it, 256 MiB
    # aligned, at 303 GiB + 256 MiB (after the GIC's 64 MiB at 303 GiB).
    compare("cortex-a57", "1G,slots=2,maxmem=300G",
            [("mach-virt.ram", GiB, 2 * GiB - 1),
             ("device-memory", 2 * GiB, 303 * GiB - 1),
             ("alias pcie-ecam @pcie-mmcfg-mmio "
              "0000000000000000-000000000fffffff",
              303 * GiB + 256 * MiB, 303 * GiB + 512 * MiB - 1)])


if __name__ == "__main__":
    tap.main([("layout-stock/1G-cpu-max", test_1g_max),
              ("layout-stock/4G-slots2-maxmem8G-cpu-max", test_hotplug_max),
              ("layout-stock/high-io-above-device-memory-cortex-a57",
               test_high_io_above_device_memory)])
