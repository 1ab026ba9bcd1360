#!/usr/bin/env python3
#
# Acceptance: virt-hotmem on a real Arm KVM.  An emulated Armv8 host with
# EL2 (vhm/armkvm.py: Debian's arm64 kernel under TCG) runs the cross-built
# build-arm64/qemu-system-aarch64 with -accel kvm -cpu host, and the nested
# Debian guest reports where it found its RAM.
#
# The IPA size each VM was created with is read from the trace of the
# KVM_CREATE_VM ioctl and checked against what the test works out itself:
# the smallest size (at least 32 bits, KVM's minimum) that covers every
# address the guest was given, as the guest's own /proc/iomem lists them,
# and no more than the host's limit from its kernel log ("IPA Size Limit").
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import armkvm, tap  # noqa: E402

GiB = 1 << 30
TiB = 1 << 40
L2_MEM = 256 << 20
# virt's RAM base, unchanged by virt-hotmem's default layout.
VIRT_RAM_BASE = 1 * GiB

# One emulated host per CPU model, booted once for all its cases.
HOST_CPUS = {40: "cortex-a53", 48: "max,pauth-impdef=on"}
hosts = {}


def host(ipa_limit):
    armkvm.require_artifact()
    if ipa_limit not in hosts:
        # A host that failed to boot fails its other cases too, at once.
        hosts[ipa_limit] = armkvm.ArmKvmHost(HOST_CPUS[ipa_limit])
        hosts[ipa_limit].start()
    h = hosts[ipa_limit]
    assert h.ipa_limit is not None, "the -cpu %s host did not boot" % h.cpu
    assert h.ipa_limit == ipa_limit, \
        "-cpu %s: KVM reports an IPA limit of %d bits, not %d" % (
            h.cpu, h.ipa_limit, ipa_limit)
    return h


def check_booted(h, res):
    """The nested guest ran under KVM with the IPA size its map needs;
    return its System RAM ranges."""
    assert res.exit == 0 and not res.stderr.strip(), \
        "nested QEMU exited %d: %s" % (res.exit, res.stderr)
    ram = res.ram()
    need = max(32, res.highest_address().bit_length())
    assert need <= h.ipa_limit, (need, h.ipa_limit)
    assert res.create_vm == [need], \
        "KVM_CREATE_VM was asked for %s, the guest's map needs IPA %d " \
        "(highest address 0x%x)" % (res.create_vm, need,
                                    res.highest_address())
    assert res.layout and res.layout["ipa-bits"] == need, \
        "query-memory-layout: %s" % res.layout
    return ram


def check_refused(res, option, limit):
    lines = res.stderr.strip().splitlines()
    assert res.exit == 1, "exit %d, stderr %r" % (res.exit, res.stderr)
    assert len(lines) == 1, "not one line: %r" % res.stderr
    for word in (option, "%d-bit" % limit, "host's KVM"):
        assert word in lines[0], "%r not in %r" % (word, lines[0])
    assert res.create_vm == [], \
        "KVM_CREATE_VM %s despite the refusal" % res.create_vm


def test_40_default():
    h = host(40)
    res = h.run_l2("")
    ram = check_booted(h, res)
    assert ram == [(VIRT_RAM_BASE, VIRT_RAM_BASE + L2_MEM - 1)], ram
    # virt's 512 GiB high PCIe window ends at 1 TiB.
    assert res.create_vm == [40], res.create_vm


def test_40_ram_base_512g():
    h = host(40)
    ram = check_booted(h, h.run_l2("ram-base=0x8000000000"))
    assert ram == [(512 * GiB, 512 * GiB + L2_MEM - 1)], ram


def test_40_arm_den0001():
    # DEN0001's first DRAM windows: 2 GiB at 2 GiB, then 30 GiB at 34 GiB;
    # 3 GiB of RAM fills the first and spills 1 GiB into the second.
    h = host(40)
    ram = check_booted(h, h.run_l2("memory-layout=arm-den0001", mem="3G"))
    assert ram == [(2 * GiB, 4 * GiB - 1), (34 * GiB, 35 * GiB - 1)], ram


def test_40_ram_base_1t_refused():
    res = host(40).run_l2("ram-base=0x10000000000")
    check_refused(res, "ram-base=0x10000000000", 40)


def test_48_ram_base_1t():
    h = host(48)
    res = h.run_l2("ram-base=0x10000000000")
    ram = check_booted(h, res)
    assert ram == [(TiB, TiB + L2_MEM - 1)], ram
    assert res.create_vm[0] > 40, res.create_vm


def test_48_ram_base_256t_refused():
    res = host(48).run_l2("ram-base=0x1000000000000")
    check_refused(res, "ram-base=0x1000000000000", 48)


if __name__ == "__main__":
    try:
        status = tap.run([
            ("arm-kvm/40-bit/default-layout", test_40_default),
            ("arm-kvm/40-bit/ram-base-512GiB", test_40_ram_base_512g),
            ("arm-kvm/40-bit/arm-den0001-two-banks", test_40_arm_den0001),
            ("arm-kvm/40-bit/ram-base-1TiB-refused",
             test_40_ram_base_1t_refused),
            ("arm-kvm/48-bit/ram-base-1TiB", test_48_ram_base_1t),
            ("arm-kvm/48-bit/ram-base-256TiB-refused",
             test_48_ram_base_256t_refused),
        ])
    finally:
        for h in hosts.values():
            h.stop()
    sys.exit(status)
