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
# On the 40-bit host a pc-dimm is hot-added over QMP to a nested guest
# booted by ACPI direct boot (acpi=on, no firmware) with RAM moved to
# 512 GiB, and onlined by the guest.  A migration of that guest between
# two nested QEMUs (the host KVM's dirty logging) is not tested yet.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import armkvm, guest, tap  # noqa: E402

MiB = 1 << 20
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


# --- a pc-dimm under KVM -----------------------------------------------------

DIMM_RAM_BASE = 512 * GiB
DIMM_SIZE = 128 * MiB
DIMM_MACHINE = "virt-hotmem,acpi=on,gic-version=3,ram-base=%#x" % \
    DIMM_RAM_BASE
DIMM_MEM = "%dM,slots=2,maxmem=1G" % (L2_MEM // MiB)
# Device memory starts at the first GiB boundary after RAM (virt's rule,
# which virt-hotmem keeps for a moved RAM base); the DIMM is placed there.
DIMM_ADDR = (DIMM_RAM_BASE + L2_MEM + GiB - 1) // GiB * GiB


def phase(what, t0):
    print("# %s: %.1f s" % (what, time.monotonic() - t0), flush=True)
    return time.monotonic()


def memslots(vm):
    """The trace of KVM_SET_USER_MEMORY_REGION: (slot, flags, gpa, size)
    of every successful call."""
    out = []
    for line in vm.trace(r"kvm_set_user_memory "):
        m = re.search(r"Slot#(\d+) flags=0x([0-9a-f]+) gpa=0x([0-9a-f]+) "
                      r"size=0x([0-9a-f]+) .* ret=0", line)
        if m:
            out.append(tuple(int(x, 16) if i else int(x)
                             for i, x in enumerate(m.groups())))
    return out


def dimm_state(vm, block):
    """The state of the nested guest's memory block at DIMM_ADDR."""
    path = "/sys/devices/system/memory/memory%d" % (DIMM_ADDR // block)
    vm.check("for i in $(seq 100); do [ -e %s ] && break; sleep 0.1; done; "
             "[ -e %s ]" % (path, path))
    return vm.check("cat %s/state" % path).strip()


def mem_total_kib(vm):
    return guest.meminfo_kib(vm.check("cat /proc/meminfo"), "MemTotal")


def test_40_dimm_hotplug():
    """A nested guest with RAM at 512 GiB, booted by ACPI direct boot
    under KVM; a pc-dimm hot-added over QMP and onlined by the guest."""
    h = host(40)
    t = time.monotonic()
    vm = h.nested("src", ["-M", DIMM_MACHINE, "-m", DIMM_MEM,
                          "-trace", "kvm_ioctl",
                          "-trace", "kvm_set_user_memory"],
                  # Hot-added memory stays offline until the test onlines it.
                  append="memhp_default_state=offline")
    try:
        check_dimm_hotplug(h, vm, t)
    finally:
        try:
            vm.stop()
        except guest.GuestError as e:
            print("# %s" % e)


def check_dimm_hotplug(h, vm, t):
    vm.launch()
    vm.wait_shell(300)
    t = phase("nested ACPI boot under KVM, RAM at %#x" % DIMM_RAM_BASE, t)

    iomem = vm.check("cat /proc/iomem")
    # RAM at 512 GiB, less the pages of the EFI and ACPI tables handed
    # over in it (not System RAM to the guest).
    ram = guest.parse_iomem(iomem)
    assert ram[0][0] == DIMM_RAM_BASE and \
        ram[-1][1] == DIMM_RAM_BASE + L2_MEM - 1 and \
        sum(e + 1 - s for s, e in ram) > L2_MEM - MiB, \
        [(hex(s), hex(e)) for s, e in ram]
    # KVM_CREATE_VM asked for the IPA size the guest's map needs.
    need = max(32, armkvm.highest_address(iomem).bit_length())
    create_vm = armkvm.create_vm_args("\n".join(vm.trace("kvm_ioctl ")))
    assert need <= h.ipa_limit and create_vm == [need], (create_vm, need)
    block = int(vm.check("cat /sys/devices/system/memory/block_size_bytes"),
                16)
    assert DIMM_SIZE % block == 0 and DIMM_ADDR % block == 0, block
    before = mem_total_kib(vm)

    vm.qmp("object-add", **{"qom-type": "memory-backend-ram",
                            "id": "mem-d0", "size": DIMM_SIZE})
    vm.qmp("device_add", driver="pc-dimm", id="d0", memdev="mem-d0",
           addr=DIMM_ADDR)
    slots = [s for s in memslots(vm) if s[2] == DIMM_ADDR]
    assert slots and slots[-1][3] == DIMM_SIZE, \
        "no KVM memory slot at %#x: %s" % (DIMM_ADDR, memslots(vm))
    assert dimm_state(vm, block) == "offline"
    vm.check("for b in $(seq %d %d); do echo online_movable > "
             "/sys/devices/system/memory/memory$b/state; done" % (
                 DIMM_ADDR // block, (DIMM_ADDR + DIMM_SIZE) // block - 1))
    state = dimm_state(vm, block)
    assert state == "online", "DIMM memory block %s after onlining" % state
    ram = guest.parse_iomem(vm.check("cat /proc/iomem"))
    assert any(s <= DIMM_ADDR and DIMM_ADDR + DIMM_SIZE - 1 <= e
               for s, e in ram), \
        "hot-added DIMM at %#x not System RAM: %s" % (
            DIMM_ADDR, [(hex(s), hex(e)) for s, e in ram])
    grown = mem_total_kib(vm) - before
    assert grown == DIMM_SIZE // 1024, "MemTotal grew by %d kB" % grown
    phase("pc-dimm hot-added at %#x and onlined" % DIMM_ADDR, t)


if __name__ == "__main__":
    try:
        status = tap.run([
            ("arm-kvm/40-bit/default-layout", test_40_default),
            ("arm-kvm/40-bit/ram-base-512GiB", test_40_ram_base_512g),
            ("arm-kvm/40-bit/arm-den0001-two-banks", test_40_arm_den0001),
            ("arm-kvm/40-bit/ram-base-1TiB-refused",
             test_40_ram_base_1t_refused),
            ("arm-kvm/40-bit/acpi-pc-dimm-hotplug",
             test_40_dimm_hotplug),
            ("arm-kvm/48-bit/ram-base-1TiB", test_48_ram_base_1t),
            ("arm-kvm/48-bit/ram-base-256TiB-refused",
             test_48_ram_base_256t_refused),
        ])
    finally:
        for h in hosts.values():
            h.stop()
    sys.exit(status)
