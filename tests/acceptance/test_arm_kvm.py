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
# 512 GiB, and onlined by the guest.  That guest, a writer loop running in
# it, then migrates live to a second nested QEMU in the same host: the
# pages it dirties are found by the host KVM's dirty log (nothing else
# sees a KVM guest's writes) and sent again, RAM and DIMM end byte for
# byte the same on both sides, and the guest runs on at the destination.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import armkvm, dimm, guest, tap  # noqa: E402

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


# --- a pc-dimm under KVM, and a migration -----------------------------------

DIMM_RAM_BASE = 512 * GiB
DIMM_SIZE = 128 * MiB
DIMM_MACHINE = "virt-hotmem,acpi=on,gic-version=3,ram-base=%#x" % \
    DIMM_RAM_BASE
DIMM_MEM = "%dM,slots=2,maxmem=1G" % (L2_MEM // MiB)
# Device memory starts at the first GiB boundary after RAM (virt's rule,
# which virt-hotmem keeps for a moved RAM base); the DIMM is placed there.
DIMM_ADDR = (DIMM_RAM_BASE + L2_MEM + GiB - 1) // GiB * GiB
DIMM_BACKEND = ["-object", "memory-backend-ram,id=mem-d0,size=%d" % DIMM_SIZE]
DIMM_DEVICE = ["-device", "pc-dimm,id=d0,memdev=mem-d0,addr=%#x" % DIMM_ADDR]
# The guest of the hot-plug case, DIMM online, handed to the migration
# case (which saves a second ACPI boot, ~40 s); or why it is not there.
dimm_guest = {}
# <linux/kvm.h>: KVM_MEM_LOG_DIRTY_PAGES = 1 << 0; KVM_GET_DIRTY_LOG =
# _IOW(KVMIO, 0x42, struct kvm_dirty_log), 16 bytes written to the kernel.
KVM_MEM_LOG_DIRTY_PAGES = 1
KVM_GET_DIRTY_LOG = (1 << 30) | (16 << 16) | (0xAE << 8) | 0x42
# The guest's files: hot-added memory onlined movable gets the page cache
# first, so they land in the DIMM.  The writer loop copies one into the
# other again and again, at the lowest priority (the shell still answers).
DIRTY_SIZE = 1 * MiB
# (busybox's "nice CMD &" ends the guest's PID 1 shell: renice instead)
WRITER = ("sh -c 'renice -n 19 -p $$; while :; do dd if=/tmp/pattern "
          "of=/tmp/dirty bs=64k conv=notrunc 2>/dev/null; done' "
          ">/dev/null 2>&1 & true")
# Bytes/s of the migration's first pass while the guest writes its mark:
# ~60 MiB of non-zero pages cannot be sent in the seconds that takes.
# Then the passes that follow, still live: a 1 ms downtime limit lets the
# migration switch over only once a dirty sync finds (almost) nothing.
CRAWL_BANDWIDTH = 64 * 1024
LIVE_BANDWIDTH = 16 * MiB


def phase(what, t0):
    print("# %s: %.1f s" % (what, time.monotonic() - t0), flush=True)
    return time.monotonic()


def memslots(vm):
    """The trace of KVM_SET_USER_MEMORY_REGION: (slot, flags, gpa, size,
    host address) of every successful call."""
    out = []
    for line in vm.trace(r"kvm_set_user_memory "):
        m = re.search(r"Slot#(\d+) flags=0x([0-9a-f]+) gpa=0x([0-9a-f]+) "
                      r"size=0x([0-9a-f]+) ua=0x([0-9a-f]+) .* ret=0", line)
        if m:
            out.append(tuple(int(x, 16) if i else int(x)
                             for i, x in enumerate(m.groups())))
    return out


def dimm_state(vm, block):
    """The state of the nested guest's memory block at DIMM_ADDR."""
    dimm.wait_block(vm, DIMM_ADDR, block, timeout=10)
    return vm.check("cat /sys/devices/system/memory/memory%d/state"
                    % (DIMM_ADDR // block)).strip()


def stop_quietly(vm):
    try:
        vm.stop()
    except guest.GuestError as e:
        print("# %s" % e)


def test_40_dimm_hotplug():
    """A nested guest with RAM at 512 GiB, booted by ACPI direct boot
    under KVM; a pc-dimm hot-added over QMP and onlined by the guest.
    The guest is left running for test_40_dimm_migration."""
    dimm_guest.clear()
    dimm_guest["error"] = "the acpi-pc-dimm-hotplug case failed"
    h = host(40)
    t = time.monotonic()
    vm = h.nested("src", ["-M", DIMM_MACHINE, "-m", DIMM_MEM,
                          "-trace", "kvm_ioctl",
                          "-trace", "kvm_set_user_memory"],
                  # Hot-added memory stays offline until the test onlines it.
                  append="memhp_default_state=offline")
    try:
        check_dimm_hotplug(h, vm, t)
    except BaseException:
        stop_quietly(vm)
        raise
    dimm_guest["vm"] = vm


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
    block = guest.memory_block_size(vm)
    assert DIMM_SIZE % block == 0 and DIMM_ADDR % block == 0, block
    before = guest.mem_total_kib(vm)

    vm.qmp("object-add", **{"qom-type": "memory-backend-ram",
                            "id": "mem-d0", "size": DIMM_SIZE})
    vm.qmp("device_add", driver="pc-dimm", id="d0", memdev="mem-d0",
           addr=DIMM_ADDR)
    slots = [s for s in memslots(vm) if s[2] == DIMM_ADDR]
    assert slots and slots[-1][3] == DIMM_SIZE, \
        "no KVM memory slot at %#x: %s" % (DIMM_ADDR, memslots(vm))
    assert dimm_state(vm, block) == "offline"
    dimm.online_range(vm, DIMM_ADDR, DIMM_SIZE, block, timeout=10)
    state = dimm_state(vm, block)
    assert state == "online", "DIMM memory block %s after onlining" % state
    ram = guest.parse_iomem(vm.check("cat /proc/iomem"))
    assert any(s <= DIMM_ADDR and DIMM_ADDR + DIMM_SIZE - 1 <= e
               for s, e in ram), \
        "hot-added DIMM at %#x not System RAM: %s" % (
            DIMM_ADDR, [(hex(s), hex(e)) for s, e in ram])
    grown = guest.mem_total_kib(vm) - before
    assert grown == DIMM_SIZE // 1024, "MemTotal grew by %d kB" % grown
    phase("pc-dimm hot-added at %#x and onlined" % DIMM_ADDR, t)


def slot_md5(vm, gpa, size):
    """md5 of the host memory behind the nested guest's KVM memory slot at
    guest-physical @gpa, read from the nested QEMU's /proc/PID/mem at the
    address QEMU gave KVM for it (trace event kvm_set_user_memory)."""
    ua = [u for _, _, g, s, u in memslots(vm) if g == gpa and s == size]
    assert ua, "no KVM memory slot [%#x, +%#x): %s" % (gpa, size,
                                                       memslots(vm))
    # (busybox dd skips by reading unless the offset is in whole blocks)
    bs = 64 * 1024
    assert ua[-1] % bs == 0, hex(ua[-1])
    out = vm.host.vm.check(
        "dd if=/proc/$(cat %s/pid)/mem bs=%d skip=%d count=%d 2>/dev/null "
        "| md5sum" % (vm.dir, bs, ua[-1] // bs, size // bs), 600)
    return out.split()[0]


def resent_pages(vm):
    """From the trace of ram_save_page: {RAM block: number of its pages
    sent more than once}."""
    out = vm.host.vm.check(
        "grep -o 'ram_save_page [^ ]*: offset: 0x[0-9a-f]*' %s/trace.log | "
        "sort | uniq -d | cut -d' ' -f2 | sort | uniq -c" % vm.dir, 300)
    counts = {}
    for line in out.splitlines():
        n, block = line.split()
        counts[block.rstrip(":")] = int(n)
    return counts


def wait_migration(src, until, what, timeout=600):
    """Poll the source's query-migrate until @until(info); return info."""
    deadline = time.monotonic() + timeout
    while True:
        info = src.qmp("query-migrate")
        assert info["status"] in ("setup", "active", "device",
                                  "completed"), info
        if until(info):
            return info
        assert time.monotonic() < deadline, "%s: not in %d s: %s" % (
            what, timeout, info)
        time.sleep(1)


def test_40_dimm_migration():
    """The guest of test_40_dimm_hotplug, a writer loop dirtying its
    DIMM, migrated live to a second nested QEMU under KVM."""
    armkvm.require_artifact()
    if "vm" not in dimm_guest:
        raise AssertionError("no guest to migrate: %s"
                             % dimm_guest.get("error", "not started"))
    src = dimm_guest.pop("vm")
    h = src.host
    dst = h.nested("dst", ["-M", DIMM_MACHINE, "-m", DIMM_MEM] +
                   DIMM_BACKEND + DIMM_DEVICE +
                   ["-trace", "kvm_set_user_memory",
                    "-incoming", "defer", "-S"],
                   append="memhp_default_state=offline")
    try:
        check_dimm_migration(src, dst)
    finally:
        errors = {"destination": dst.stop(), "source": src.stop()}
    for side, stderr in errors.items():
        assert not stderr.strip(), "%s QEMU: %s" % (side, stderr)


def check_dimm_migration(src, dst):
    t = time.monotonic()
    mark = "VHM-MARK-" + os.urandom(4).hex()
    src.check("dd if=/dev/urandom of=/tmp/pattern bs=64k count=%d "
              "2>/dev/null; cp /tmp/pattern /tmp/dirty" % (DIRTY_SIZE //
                                                             (64 * 1024)))
    src.check(WRITER)
    dst.launch()
    t = phase("writer loop started, destination QEMU up", t)

    sock = "/tmp/l2-mig.sock"
    dst.qmp("migrate-incoming", uri="unix:" + sock)
    src.qmp("migrate-set-parameters", **{
        "downtime-limit": 1, "max-bandwidth": CRAWL_BANDWIDTH})
    for event in ("kvm_vm_ioctl", "kvm_clear_dirty_log",
                  "migration_bitmap_sync_end", "migrate_pending_exact",
                  "migration_thread_low_pending", "ram_save_page"):
        src.qmp("trace-event-set-state", name=event, enable=True)
    src.qmp("migrate", uri="unix:" + sock)
    # A write by the guest while its migration is under way.
    src.check("printf %s > /tmp/mark" % mark)
    info = src.qmp("query-migrate")
    assert info["status"] in ("setup", "active") and \
        info.get("ram", {}).get("dirty-sync-count", 0) <= 1, \
        "the first pass should still be crawling: %s" % info
    src.qmp("migrate-set-parameters", **{"max-bandwidth": LIVE_BANDWIDTH})
    # The first pass ends with a dirty sync that finds what the writer
    # dirtied meanwhile, far more than 1 ms of bandwidth: a second pass
    # sends it with the guest running.  The migration may switch over
    # after any later sync (one that found almost nothing: the migration
    # thread's back-to-back syncs leave the guest little time in this
    # one-CPU host), else once the test raises the downtime limit.
    info = wait_migration(src, lambda i: i["status"] == "completed" or
                          i.get("ram", {}).get("dirty-sync-count", 0) >= 3,
                          "a second pass")
    t = phase("first and second pass (status %s, dirty-sync-count %d)"
              % (info["status"], info["ram"]["dirty-sync-count"]), t)
    src.qmp("migrate-set-parameters", **{
        "downtime-limit": 2000, "max-bandwidth": 1 << 30})
    info = wait_migration(src, lambda i: i["status"] == "completed",
                          "the switch-over")
    ram = info["ram"]
    t = phase("migration completed (%s)" % ", ".join(
        "%s %s" % (k, ram[k]) for k in (
            "dirty-sync-count", "transferred", "normal")), t)
    assert src.qmp("query-status")["status"] == "postmigrate"
    deadline = time.monotonic() + 120
    while dst.qmp("query-status")["status"] == "inmigrate":
        assert time.monotonic() < deadline, "destination still inmigrate"
        time.sleep(1)
    assert dst.qmp("query-status")["status"] == "paused"

    # Both paused: RAM and DIMM byte for byte, as KVM maps them.
    for gpa, size, what in ((DIMM_RAM_BASE, L2_MEM, "RAM"),
                            (DIMM_ADDR, DIMM_SIZE, "DIMM")):
        a, b = slot_md5(src, gpa, size), slot_md5(dst, gpa, size)
        assert a == b, "%s [%#x, +%#x) differs between source and " \
            "destination: md5 %s, %s" % (what, gpa, size, a, b)
    t = phase("RAM and DIMM compared: identical", t)

    # The host's KVM logged the guest's writes: dirty logging on the RAM
    # and DIMM slots, their logs read at every sync, and pages of both
    # sent again (nothing but KVM's log sees a KVM guest's writes).
    slots = memslots(src)
    for gpa, what in ((DIMM_RAM_BASE, "RAM"), (DIMM_ADDR, "DIMM")):
        assert any(g == gpa and f & KVM_MEM_LOG_DIRTY_PAGES
                   for _, f, g, _, _ in slots), \
            "KVM dirty logging never enabled on the %s slot at %#x: %s" \
            % (what, gpa, slots)
    gets = len(src.trace("kvm_vm_ioctl type 0x%x," % KVM_GET_DIRTY_LOG))
    clears = len(src.trace("kvm_clear_dirty_log "))
    syncs = len(src.trace("migration_bitmap_sync_end "))
    exact = [int(l.split("exact pending size ")[1].split()[0]) // 4096
             for l in src.trace("migrate_pending_exact ")]
    low = [l.split()[-1] for l in src.trace("migration_thread_low_pending ")]
    resent = resent_pages(src)
    print("# source: %d dirty syncs, %d KVM_GET_DIRTY_LOG, %d "
          "KVM_CLEAR_DIRTY_LOG; 4 KiB pages left after each sync while "
          "running %s, switch-over at %s bytes; pages sent again per RAM "
          "block %s" % (syncs, gets, clears, exact, low, resent), flush=True)
    assert syncs == ram["dirty-sync-count"] >= 3, \
        (syncs, ram["dirty-sync-count"])
    assert gets >= syncs, "%d KVM_GET_DIRTY_LOG for %d dirty syncs" \
        % (gets, syncs)
    for block in ("mach-virt.ram", "mem-d0"):
        assert any(b.endswith(block) and n > 0 for b, n in resent.items()), \
            "no page of RAM block %s sent twice: %s" % (block, resent)

    # The guest runs on at the destination, its DIMM still online.
    dst.qmp("cont")
    assert dst.qmp("query-status")["status"] == "running"
    assert dst.check("echo VHM-ALIVE").strip() == "VHM-ALIVE"
    block = guest.memory_block_size(dst)
    assert dimm_state(dst, block) == "online"
    iomem = guest.parse_iomem(dst.check("cat /proc/iomem"))
    assert any(s <= DIMM_ADDR and DIMM_ADDR + DIMM_SIZE - 1 <= e
               for s, e in iomem), iomem
    # The same shell, its writer loop still running, and the mark written
    # during the migration read back by the guest itself.
    dst.check("kill -0 $!")
    assert dst.check("echo $(cat /tmp/mark)").strip() == mark
    phase("destination running", t)


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
            ("arm-kvm/40-bit/pc-dimm-live-migration",
             test_40_dimm_migration),
            ("arm-kvm/48-bit/ram-base-1TiB", test_48_ram_base_1t),
            ("arm-kvm/48-bit/ram-base-256TiB-refused",
             test_48_ram_base_256t_refused),
        ])
    finally:
        if "vm" in dimm_guest:
            stop_quietly(dimm_guest.pop("vm"))
        for h in hosts.values():
            h.stop()
    sys.exit(status)
