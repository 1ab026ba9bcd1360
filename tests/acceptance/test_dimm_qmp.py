#!/usr/bin/env python3
#
# Acceptance: memory hotplug over QMP as users drive it, on a UEFI/ACPI
# guest (Debian arm64 cloud kernel, AAVMF, RAM at 1 GiB, two NUMA nodes)
# and on the same kernel booted with -M virt-hotmem,acpi=on -kernel.
#
# - Bad input: device_add with an overlapping or unaligned addr, more than
#   the remaining device memory, slots exhausted, an unknown or already
#   used memdev, a node that does not exist, an nvdimm without nvdimm=on;
#   device_del of an unknown id; migrate to a malformed and to an
#   unreachable URI.  Each is a QMP error (a failed migration for the
#   unreachable URI), the VM keeps running, the memory devices stay as they
#   were and the cold-plugged DIMM's bytes, a pattern this test wrote into
#   its backing file, are unchanged.
# - slot, node and addr given to device_add are what query-memory-devices
#   reports, the guest adds the DIMM's memory blocks at that address, and
#   every device lies inside device memory.
# - device_del of a DIMM the guest onlined: DEVICE_DELETED arrives after
#   the guest offlined and ejected it, and the guest no longer has it.
# - device_del of a DIMM the guest refuses to give up (ACPI direct boot,
#   memory hotplug disabled in the guest through sysfs): the guest answers
#   with _OST "ejection not supported", which QEMU reports as
#   ACPI_DEVICE_OST; no DEVICE_DELETED follows, QEMU still lists the DIMM
#   where it was, the guest still has it online and its bytes are
#   unchanged.  Once the guest allows hotplug again, a second device_del
#   removes it.
#
# Expected addresses are worked out here from the command line.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import hashlib
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import dimm, guest, tap  # noqa: E402

GiB, MiB = dimm.GiB, dimm.MiB
RAM = 512 * MiB
SLOTS = 3
MAXMEM = 2 * GiB
# Device memory: maxmem - ram plus 1 GiB of slack per slot, from the first
# GiB boundary after RAM (virt_set_memmap()).
DM_BASE = dimm.device_memory_base(RAM)
DM_SIZE = MAXMEM - RAM + SLOTS * GiB
COLD = 128 * MiB
BLOCK = 128 * MiB            # arm64 memory block with 4 KiB pages


def diag(text):
    print("# " + text, flush=True)


def qmp_error(vm, command, **args):
    """Run @command, which must fail; return its error description."""
    rsp = vm.qmp.execute(command, **args)
    assert "error" in rsp, "%s %r succeeded: %r" % (command, args, rsp)
    return rsp["error"]["desc"]


class Checker:
    """What must not change while bad input is thrown at the VM."""

    def __init__(self, vm, pattern):
        self.vm = vm
        self.pattern = pattern
        self.devices = dimm.memory_devices(vm)

    def intact(self, what):
        vm = self.vm
        assert vm.proc.poll() is None, "%s: QEMU died: %s" % (
            what, vm.stderr().strip())
        assert vm.qmp.cmd("query-status")["status"] == "running", what
        assert dimm.memory_devices(vm) == self.devices, \
            "%s: memory devices changed: %r" % (what, dimm.memory_devices(vm))
        got = dimm.dump(vm, DM_BASE, COLD, os.path.join(vm.tmp, "cold"))
        assert got == self.pattern, "%s: the cold DIMM's bytes changed" % what


def bad_input(vm, chk, hot):
    """Each bad request: its error names the reason; nothing changed."""
    dimm.backend(vm, "spare", 256 * MiB)
    cases = [
        ("overlapping addr", "device_add",
         dict(driver="pc-dimm", id="x", memdev="spare", addr=hot + BLOCK),
         "conflicts with memory device"),
        ("unaligned addr", "device_add",
         dict(driver="pc-dimm", id="x", memdev="spare",
              addr=DM_BASE + 3 * GiB + 2048),
         "must be aligned"),
        ("unknown memdev", "device_add",
         dict(driver="pc-dimm", id="x", memdev="no-such-memdev"),
         "no-such-memdev"),
        ("memdev in use", "device_add",
         dict(driver="pc-dimm", id="x", memdev="mem-cold"),
         "busy memdev"),
        ("node that does not exist", "device_add",
         dict(driver="pc-dimm", id="x", memdev="spare", node=2),
         "exceeds the number of numa nodes"),
        ("slot out of range", "device_add",
         dict(driver="pc-dimm", id="x", memdev="spare", slot=SLOTS),
         "slot"),
        ("slot in use", "device_add",
         dict(driver="pc-dimm", id="x", memdev="spare", slot=0),
         "busy"),
        ("nvdimm without nvdimm=on", "device_add",
         dict(driver="nvdimm", id="x", memdev="spare"),
         "nvdimm=on"),
        ("device_del of an unknown id", "device_del",
         dict(id="no-such-dimm"), "no-such-dimm"),
        ("malformed migration URI", "migrate",
         dict(uri="tcp:"), ""),
    ]
    for what, command, args, reason in cases:
        desc = qmp_error(vm, command, **args)
        diag("%s: %s" % (what, desc))
        assert reason in desc, "%s: %r does not say %r" % (what, desc, reason)
        assert "\n" not in desc, what
        chk.intact(what)

    # More than the remaining device memory: 1 GiB + 512 MiB of DIMMs are
    # allowed past RAM, 128 MiB + 256 MiB are in use.
    left = MAXMEM - RAM - COLD - 256 * MiB
    dimm.backend(vm, "big", left + BLOCK)
    desc = qmp_error(vm, "device_add", driver="pc-dimm", id="x",
                     memdev="big")
    diag("more than the remaining device memory: %s" % desc)
    assert "not enough space" in desc, desc
    chk.intact("more than the remaining device memory")

    # Slots exhausted: fill the last one, then one more.
    dimm.backend(vm, "last", BLOCK)
    vm.qmp.cmd("device_add", driver="pc-dimm", id="last", memdev="last")
    chk.devices = dimm.memory_devices(vm)
    desc = qmp_error(vm, "device_add", driver="pc-dimm", id="x",
                     memdev="spare")
    diag("slots exhausted: %s" % desc)
    assert "no free slots" in desc, desc
    chk.intact("slots exhausted")

    # Unreachable: nothing listens on this socket.  The connection fails
    # after the command returned: query-migrate says why.
    sock = os.path.join(vm.tmp, "nobody.sock")
    rsp = vm.qmp.execute("migrate", uri="unix:" + sock)
    if "error" in rsp:
        desc = rsp["error"]["desc"]
    else:
        assert guest.wait_migration(vm, 30) == "failed"
        desc = vm.qmp.cmd("query-migrate").get("error-desc", "")
    diag("unreachable migration URI: %s" % desc)
    assert "nobody.sock" in desc or "No such file" in desc, desc
    chk.intact("unreachable migration URI")
    # The guest still answers.
    vm.check("true")


def test_qmp_hotplug():
    pattern = os.urandom(MiB) * (COLD // MiB)
    tmp = tempfile.mkdtemp(prefix="vhm-dimm-qmp-")
    cold_img = os.path.join(tmp, "cold.img")
    with open(cold_img, "wb") as f:
        f.write(pattern)
    extra = dimm.numa_args(RAM) + [
        "-object", "memory-backend-file,id=mem-cold,mem-path=%s,size=%d,"
        "share=on" % (cold_img, COLD),
        "-device", "pc-dimm,id=cold,memdev=mem-cold,node=0"]
    try:
        with dimm.uefi_guest("virt-hotmem", "512M", slots=SLOTS,
                             maxmem="2G", extra=extra, name="qmp") as vm:
            vm.wait_shell()
            cold = dimm.memory_device(vm, "cold")
            assert cold["addr"] == DM_BASE, cold
            chk = Checker(vm, pattern)
            chk.intact("boot")

            # slot, node and addr as asked: the second GiB of device
            # memory, node 1, slot 2.
            hot = DM_BASE + 1 * GiB
            d = dimm.hot_add(vm, "hot", 256 * MiB, slot=2, node=1, addr=hot)
            assert (d["addr"], d["slot"], d["node"], d["size"]) == \
                (hot, 2, 1, 256 * MiB), d
            for dev in dimm.memory_devices(vm).values():
                assert DM_BASE <= dev["addr"] and \
                    dev["addr"] + dev["size"] <= DM_BASE + DM_SIZE, dev
            # The guest adds both of its blocks; online them (not the cold
            # DIMM's: those bytes must stay untouched).  Which node the
            # guest puts them on cannot be checked here: with AAVMF the
            # Debian kernel finds RAM at 64 MiB that no SRAT entry covers
            # and falls back to one node, on stock virt as well.
            dimm.online_range(vm, hot, 256 * MiB)
            chk.devices = dimm.memory_devices(vm)

            bad_input(vm, chk, hot)

            # device_del: the guest offlines and ejects the DIMM, then
            # QEMU announces DEVICE_DELETED and forgets it.
            vm.qmp.events.clear()
            vm.qmp.cmd("device_del", id="hot")
            guest.wait_event(vm, "DEVICE_DELETED for hot",
                             guest.deleted("hot"), 30)
            assert "hot" not in dimm.memory_devices(vm)
            vm.check("[ ! -e /sys/devices/system/memory/memory%d ]" %
                     (hot // BLOCK))
            chk.devices = dimm.memory_devices(vm)
            chk.intact("device_del")
    finally:
        os.unlink(cold_img)
        os.rmdir(tmp)


# The guest's refusal, as Linux reports it to the firmware with _OST
# (ACPI 6.5, 6.3.5 "_OST (OSPM Status Indication)"): source event 0x03,
# the Eject Request notification; status 0x80, "device ejection not
# supported by OSPM".  Linux's drivers/acpi/scan.c: with
# /sys/firmware/acpi/hotplug/memory/enabled at 0, acpi_generic_hotplug_event()
# answers an eject request with -EPERM ("Eject disabled") before it
# touches the memory, and acpi_device_hotplug() maps -EPERM to
# ACPI_OST_SC_EJECT_NOT_SUPPORTED.  QEMU's _OST method for the slot hands
# both to QEMU (docs/specs/acpi_mem_hotplug.rst), which emits them as
# ACPI_DEVICE_OST.
OST_EJECT_REQUEST = 0x03
OST_EJECT_NOT_SUPPORTED = 0x80
# The guest's file: 32-byte lines, so that every 4 KiB page of it holds
# the same bytes and can be recognised in a dump of the DIMM.
LINE = b"VHM-REFUSED-UNPLUG-PAGE-CONTENT\n"
PAGE = 4096
FILE_SIZE = 4 * MiB
QUIET = 5                    # s: how long to watch for a DEVICE_DELETED


def pattern_pages(data):
    """Offsets of the pages of @data that hold the guest file's page."""
    page = LINE * (PAGE // len(LINE))
    return [off for off in range(0, len(data), PAGE)
            if data[off:off + PAGE] == page]


def guest_blocks(vm, addr, size):
    """State of the guest's memory blocks of [addr, addr+size)."""
    return [vm.check("cat /sys/devices/system/memory/memory%d/state" % b)
            .strip() for b in range(addr // BLOCK, (addr + size) // BLOCK)]


def test_refused_unplug():
    size = 256 * MiB
    ram = 512 * MiB
    dm_base = dimm.device_memory_base(ram)
    want_md5 = hashlib.md5(LINE * (FILE_SIZE // len(LINE))).hexdigest()
    hp = "/sys/firmware/acpi/hotplug/memory/enabled"
    vm = guest.arm64_guest(machine_opts="acpi=on,gic-version=3",
                           mem="512M,slots=2,maxmem=2G", name="refuse")
    with vm:
        vm.wait_shell(timeout=180)
        # Placed without addr=: the first DIMM goes to the base of device
        # memory, the first GiB boundary after RAM.
        d = dimm.hot_add(vm, "refused", size)
        addr = d["addr"]
        assert (addr, d["size"]) == (dm_base, size), d
        dimm.online_range(vm, addr, size)
        assert guest_blocks(vm, addr, size) == ["online"] * (size // BLOCK)

        # A file the guest writes: tmpfs pages are movable and the DIMM's
        # blocks are the only movable memory, so it lands there.  No
        # proactive compaction: nothing may move the guest's pages but an
        # offline.
        vm.check("echo 0 > /proc/sys/vm/compaction_proactiveness")
        vm.check("yes %s | head -c %d > /tmp/pattern" %
                 (LINE.decode().strip(), FILE_SIZE), timeout=300)
        assert vm.check("md5sum /tmp/pattern").split()[0] == want_md5

        # The guest refuses: memory hotplug off.
        vm.check("echo 0 > " + hp)
        assert vm.check("cat " + hp).strip() == "0"
        devices = dimm.memory_devices(vm)
        iomem = dimm.iomem_ram(vm)
        assert dimm.covers(iomem, addr, size), iomem
        # From here until the DIMM is dumped again, the guest's shell
        # stays idle: what the guest does is its ACPI handler's work.
        before = dimm.dump(vm, addr, size, os.path.join(vm.tmp, "before"))
        pages = pattern_pages(before)
        diag("the guest's file fills %d of the DIMM's %d pages "
             "(the file has %d)" % (len(pages), size // PAGE,
                                    FILE_SIZE // PAGE))
        assert pages, "the guest's file is not in the DIMM"

        vm.qmp.events.clear()
        vm.qmp.cmd("device_del", id="refused")
        ost = guest.wait_event(vm, "ACPI_DEVICE_OST for refused",
                               guest.ost_of("refused"))["data"]["info"]
        diag("the guest answered: %r" % ost)
        assert (ost["source"], ost["status"]) == \
            (OST_EJECT_REQUEST, OST_EJECT_NOT_SUPPORTED), ost
        assert ost["slot-type"] == "DIMM" and \
            ost["slot"] == str(d["slot"]), ost
        # Its answer is final; nothing more comes for this DIMM.
        deadline = time.monotonic() + QUIET
        while time.monotonic() < deadline:
            assert not any(guest.deleted("refused")(e)
                           for e in vm.qmp.events), \
                "DEVICE_DELETED though the guest refused: %r" % \
                vm.qmp.events
            time.sleep(0.2)
            vm.qmp.cmd("query-status")
        osts = [e["data"]["info"]["status"] for e in vm.qmp.events
                if guest.ost_of("refused")(e)]
        assert osts == [OST_EJECT_NOT_SUPPORTED], osts

        after = dimm.dump(vm, addr, size, os.path.join(vm.tmp, "after"))
        moved = [off for off in pages
                 if after[off:off + PAGE] != before[off:off + PAGE]]
        assert not moved, "%d of the file's pages in the DIMM changed, " \
            "first at %#x" % (len(moved), addr + moved[0])
        changed = [off for off in range(0, size, PAGE)
                   if after[off:off + PAGE] != before[off:off + PAGE]]
        assert not changed, "%d pages of the DIMM changed, first at %#x" % (
            len(changed), addr + changed[0])
        assert vm.proc.poll() is None, vm.stderr()
        assert vm.qmp.cmd("query-status")["status"] == "running"
        assert dimm.memory_devices(vm) == devices, dimm.memory_devices(vm)
        assert "Eject disabled" in vm.check("dmesg | tail -n 20")
        assert guest_blocks(vm, addr, size) == ["online"] * (size // BLOCK)
        assert dimm.iomem_ram(vm) == iomem, dimm.iomem_ram(vm)
        assert vm.check("md5sum /tmp/pattern").split()[0] == want_md5

        # The guest allows it again: the same request now succeeds, the
        # guest moving its file out of the DIMM first.
        vm.check("echo 1 > " + hp)
        vm.qmp.events.clear()
        vm.qmp.cmd("device_del", id="refused")
        guest.wait_event(vm, "DEVICE_DELETED for refused",
                         guest.deleted("refused"), timeout=120)
        assert "refused" not in dimm.memory_devices(vm)
        assert not any(s <= addr + size - 1 and addr <= e
                       for s, e in dimm.iomem_ram(vm)), dimm.iomem_ram(vm)
        vm.check("[ ! -e /sys/devices/system/memory/memory%d ]" %
                 (addr // BLOCK))
        assert vm.check("md5sum /tmp/pattern").split()[0] == want_md5
        assert vm.qmp.cmd("query-status")["status"] == "running"


if __name__ == "__main__":
    tap.main([("dimm-qmp/hotplug-and-bad-input", test_qmp_hotplug),
              ("dimm-qmp/refused-unplug", test_refused_unplug)])
