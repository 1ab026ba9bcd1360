#!/usr/bin/env python3
#
# Acceptance: every domain XML of the manual's "With libvirt" section
# (docs/system/arm/virt-hotmem.rst), read from the manual itself and
# started by a libvirtd of this test's own (vhm/libvirt.py) on
# build/qemu-system-aarch64, under TCG.  Only file names (emulator,
# kernel, initramfs, the reserved-regions file, the NVDIMM's backing
# file), the domain's name and its serial console (<serial type='pty'/>
# becomes a unix socket the test reads) are replaced.  In each, what the
# guest sees is checked against addresses worked out here from the
# options the XML gives:
#
# - libvirt-uefi: Debian's AAVMF found through libvirt's firmware
#   selection, RAM at 1 GiB; libvirt-dimm attached and detached live;
# - libvirt-uefi-ram-base: <os firmware='efi'> with RAM at 512 GiB: libvirt
#   picks virt-hotmem's ArmVirtQemuKernel through its descriptor
#   (firmware/, offered to the private libvirtd beside Debian's), which
#   boots a distro-style disk (GRUB on an EFI system partition,
#   vhm/uefi_disk.py); libvirt-dimm hot-added at the first GiB after RAM;
# - libvirt-ram-base-acpi: RAM at ram-base=0x8000000000 with ACPI direct
#   boot; libvirt-dimm hot-added at the first GiB after RAM, and
#   libvirt-nvdimm hot-added as /dev/pmem0, written by the guest and read
#   back from its backing file here; the DIMM detached again;
# - libvirt-memory-map: memory-layout=arm-den0001 with the first GiB of
#   Arm's first DRAM window reserved, device-memory-base and
#   dimm-alignment=256M; the two cold-plugged DIMMs in libvirt's live XML
#   at the bases these options give, and the guest's System RAM exactly
#   the banks and DIMMs worked out from ARM DEN 0001's windows.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import dimm, guest, libvirt, tap, uefi_disk  # noqa: E402

GiB = guest.GiB
MiB = guest.MiB
KiB = 1024
DOC_RESERVED = "/etc/virt-hotmem/reserved-regions"
DOC_DISK = "/var/lib/libvirt/images/debian-arm64.raw"
FIRMWARE = os.path.join(guest.BUILD, "pc-bios", "virt-hotmem-efi-aarch64.fd")
DESCRIPTOR_IN = os.path.join(guest.ROOT, "firmware",
                             "30-virt-hotmem-edk2-aarch64.json.in")
GRUB_MARK = b"vhm: GRUB loading the kernel from /boot"
DOC_NVDIMM = libvirt.DOC_NVDIMM
NVDIMM_MODULES = dimm.ACPI_NVDIMM_MODULES
# ARM DEN 0001C, table 2: the first two DRAM windows.
DEN0001_WINDOW0 = 0x80000000
DEN0001_WINDOW1 = 0x880000000


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def merged(ranges):
    """Sorted inclusive (start, end) ranges, touching ones joined."""
    out = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


class Domain:
    """The manual's domain @name started by a private libvirtd, its
    guest's console open once the initramfs' shell answers."""

    def __init__(self, name, modules=(), extra=(), descriptors=()):
        reason = libvirt.why_no_libvirt()
        if reason:
            raise tap.Skip(reason)
        self.tmp = tempfile.mkdtemp(prefix="vhm-libvirt-xml-")
        self.lv = libvirt.Libvirtd(self.tmp, "vhm-" + name,
                                   descriptors=descriptors)
        self.con = None
        try:
            assets = guest.guest_assets()
            initrd = guest.build_initramfs(
                os.path.join(self.tmp, "initrd.gz"), modules)
            console = os.path.join(self.tmp, "console.sock")
            xml = libvirt.manual_domain_xml(name, self.lv.domain,
                                            os.path.join(assets, "vmlinuz"),
                                            initrd, console, extra)
            path = write(os.path.join(self.tmp, name + ".xml"), xml)
            self.lv.start()
            self.lv.virsh("create", path, timeout=300)
            self.con = libvirt.connect_console(console, booting=True)
        except BaseException:
            self.close()
            raise

    def virsh(self, *args, **kw):
        return self.lv.virsh(*args, **kw)

    def attach(self, xml_name, replacements=()):
        path = write(os.path.join(self.tmp, xml_name + ".xml"),
                     libvirt.substitute(libvirt.manual_xml(xml_name),
                                        replacements))
        self.virsh("attach-device", self.lv.domain, path, "--live")
        return path

    def ram(self):
        """The guest's top-level System RAM ranges, touching ones
        joined."""
        return dimm.iomem_ram(self.con)

    def close(self):
        if self.con:
            self.con.close()
        self.lv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def wait_mem_total(con, want_kib, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        dimm.online_all(con)
        have = guest.mem_total_kib(con)
        if have == want_kib or time.monotonic() > deadline:
            return have
        time.sleep(0.5)


def hot_add_dimm(dom, below, dimm_base):
    """Attach the manual's libvirt-dimm (1 GiB): MemTotal grows by 1 GiB
    and the guest's System RAM gains [@dimm_base, +1 GiB) on top of
    @below; then detach it and see libvirt drop it."""
    before = guest.mem_total_kib(dom.con)
    path = dom.attach("libvirt-dimm")
    grown = wait_mem_total(dom.con, before + GiB // KiB) - before
    assert grown == GiB // KiB, "MemTotal grew by %d KiB" % grown
    want = merged(below + [(dimm_base, dimm_base + GiB - 1)])
    assert dom.ram() == want, "System RAM %s, not %s" % (
        ["%#x-%#x" % r for r in dom.ram()], ["%#x-%#x" % r for r in want])
    xml = dom.virsh("dumpxml", dom.lv.domain)[1]
    assert re.search(r"<address type='dimm' slot='\d+' base='%#x'/>" %
                     dimm_base, xml), xml
    dom.virsh("detach-device", dom.lv.domain, path, "--live")
    deadline = time.monotonic() + 60
    while "model='dimm'" in dom.virsh("dumpxml", dom.lv.domain)[1]:
        assert time.monotonic() < deadline, \
            "the DIMM is still in the domain 60 s after detach-device"
        time.sleep(0.5)
    assert dom.ram() == below, dom.ram()


def test_uefi():
    if not os.path.exists(guest.AAVMF_CODE):
        raise tap.Skip("no %s (qemu-efi-aarch64)" % guest.AAVMF_CODE)
    dom = Domain("libvirt-uefi")
    try:
        ram = dom.ram()
        # virt's RAM starts at 1 GiB; the firmware keeps some of it.
        assert ram[0][0] == 0x40000000 and ram[-1][1] < 0x40000000 + 2 * GiB, \
            ram
        # Device memory starts at the first GiB after 2 GiB of RAM.
        hot_add_dimm(dom, ram, 0x40000000 + 2 * GiB)
    finally:
        dom.close()


def test_uefi_ram_base():
    if not os.path.exists(FIRMWARE):
        raise tap.Skip("no %s (make firmware)" % FIRMWARE)
    uefi_disk.check_tools()
    with open(DESCRIPTOR_IN) as f:
        descriptor = f.read().replace("@FIRMWARE@", FIRMWARE)
    tmp = tempfile.mkdtemp(prefix="vhm-uefi-disk-")
    try:
        assets = guest.guest_assets()
        disk = uefi_disk.make_disk(
            os.path.join(tmp, "disk.raw"), os.path.join(assets, "vmlinuz"),
            guest.build_initramfs(os.path.join(tmp, "initrd.gz")),
            "console=ttyAMA0 panic=-1 memhp_default_state=online_movable")
        dom = Domain("libvirt-uefi-ram-base", extra=[(DOC_DISK, disk)],
                     descriptors=[(os.path.basename(DESCRIPTOR_IN)[:-3],
                                   descriptor)])
        try:
            # libvirt chose our firmware through its descriptor.
            argv = dom.lv.qemu_argv()
            assert ["-kernel", FIRMWARE] in \
                [argv[i:i + 2] for i in range(len(argv))], argv
            assert GRUB_MARK in dom.con.console, \
                "the guest did not boot through GRUB from the disk"
            dom.con.check("[ -d /sys/firmware/efi ]")
            ram = dom.ram()
            ram_base = 0x8000000000
            assert ram[0][0] >= ram_base and \
                ram[-1][1] <= ram_base + GiB - 1, \
                ["%#x-%#x" % r for r in ram]
            # Device memory at the first GiB after RAM.
            hot_add_dimm(dom, ram, ram_base + GiB)
        finally:
            dom.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_ram_base_acpi():
    ram_base = 0x8000000000
    dom = Domain("libvirt-ram-base-acpi", NVDIMM_MODULES)
    nvdimm_path = None
    try:
        ram = dom.ram()
        assert ram[0][0] >= ram_base and ram[-1][1] == ram_base + GiB - 1, \
            ["%#x-%#x" % r for r in ram]
        # ACPI: the kernel found RAM through the EFI memory map and SRAT
        # of our tables, not a device tree.
        dom.con.check("[ -d /sys/firmware/acpi/tables ]")
        hot_add_dimm(dom, ram, ram_base + GiB)

        nvdimm_path = os.path.join(dom.tmp, "nvdimm0.img")
        with open(nvdimm_path, "wb") as f:
            f.truncate(256 * MiB)
        for m in NVDIMM_MODULES:
            dom.con.check("insmod /modules/" + os.path.basename(m))
        dom.attach("libvirt-nvdimm", [(DOC_NVDIMM, nvdimm_path)])
        # libvirt's NVDIMM without <label> has no label area: all of its
        # 256 MiB is /dev/pmem0.
        dimm.check_pmem0(dom.con, nvdimm_path, 256 * MiB,
                         b"VHM-LIBVIRT-PMEM")
    finally:
        dom.close()


def test_memory_map():
    reserved = (DEN0001_WINDOW0, DEN0001_WINDOW0 + GiB - 1)
    dm_base = 0xa00000000
    tmp = tempfile.mkdtemp(prefix="vhm-resv-")
    try:
        resv = write(os.path.join(tmp, "reserved-regions"),
                     "0x%016x 0x%016x reserved\n" % reserved)
        dom = Domain("libvirt-memory-map",
                     extra=[(DOC_RESERVED, resv)])
        try:
            # 4 GiB of RAM: the first window's 2 GiB less the reserved GiB,
            # the other 3 GiB at the start of the second window.  The
            # DIMMs (256 MiB, 512 MiB) from device-memory-base, each on
            # the next 256 MiB boundary: they touch.
            want = merged([(reserved[1] + 1, DEN0001_WINDOW0 + 2 * GiB - 1),
                           (DEN0001_WINDOW1, DEN0001_WINDOW1 + 3 * GiB - 1),
                           (dm_base, dm_base + 256 * MiB - 1),
                           (dm_base + 256 * MiB,
                            dm_base + 256 * MiB + 512 * MiB - 1)])
            got = dom.ram()
            assert got == want, "System RAM %s, not %s" % (
                ["%#x-%#x" % r for r in got], ["%#x-%#x" % r for r in want])
            xml = dom.virsh("dumpxml", dom.lv.domain)[1]
            bases = sorted(int(b, 16) for b in re.findall(
                r"<address type='dimm' slot='\d+' base='(0x[0-9a-f]+)'/>",
                xml))
            assert bases == [dm_base, dm_base + 256 * MiB], xml
        finally:
            dom.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    tap.main([("libvirt/xml-uefi-default-map-dimm", test_uefi),
              ("libvirt/xml-uefi-firmware-efi-ram-base-512g-disk-dimm",
               test_uefi_ram_base),
              ("libvirt/xml-ram-base-512g-acpi-dimm-nvdimm",
               test_ram_base_acpi),
              ("libvirt/xml-den0001-reserved-device-memory-base-alignment",
               test_memory_map)])
