#!/usr/bin/env python3
#
# Acceptance: a distribution-style UEFI guest on virt-hotmem's moved memory
# maps.  The disk is built here from Debian packages (GPT, an EFI system
# partition with grub-efi-arm64's GRUB as EFI/BOOT/BOOTAA64.EFI, /boot on
# ext4 with Debian's arm64 cloud kernel and a busybox initrd); the firmware
# is virt-hotmem's EDK II ArmVirtQemuKernel (make firmware), loaded with
# -kernel, which boots the disk.  At each layout the guest reaches its
# shell through GRUB with RAM where the command line put it (worked out
# here), and a pc-dimm and an nvdimm hot-added over QMP become memory and
# /dev/pmem0 (with RAM at 512 GiB the firmware gets a RAM region below
# 4 GiB for the NVDIMM _DSM buffer, GRUB puts the initrd there, padded
# past 32 MiB as a real Debian initrd is, and the guest gets the rest of
# it).  Then each layout migrates live with its DIMMs into a second QEMU
# started with the same options and the DIMMs on its command line: RAM
# and DIMMs, dumped with pmemsave on both sides, are the same bytes, and
# the guest runs on there.  With a RAM region below 4 GiB, QEMU starts
# with secure=on too, and refuses in one line when reserved-regions
# leave no room for it.  Stock AAVMF
# with RAM away from 1 GiB is refused with one line; a disk with no EFI
# system partition gives the firmware's own message, not a silent hang.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import dimm, guest, tap, uefi_disk  # noqa: E402

GiB = guest.GiB
MiB = guest.MiB
FIRMWARE = os.path.join(guest.BUILD, "pc-bios", "virt-hotmem-efi-aarch64.fd")
CMDLINE = "console=ttyAMA0 panic=-1 memhp_default_state=online_movable"
NVDIMM_MODULES = dimm.ACPI_NVDIMM_MODULES
# What GRUB's grub.cfg on the disk prints (vhm/uefi_disk.py)
GRUB_MARK = b"vhm: GRUB loading the kernel from /boot"
# 1 GiB..2 GiB reserved, as a host's IOMMU group would report it
RESERVED = "0x0000000040000000 0x000000007fffffff reserved\n"

# The RAM below 4 GiB that the firmware gets for the NVDIMM _DSM buffer
# (etc/acpi/nvdimm-mem, which it must allocate below 4 GiB) when nvdimm=on
# finds no RAM there: 256 MiB at the lowest free 2 MiB aligned address
# below 4 GiB, which is virt's RAM address, 1 GiB, once RAM is moved away,
# as the docs ("UEFI firmware") give it.
LOW_RAM = (1 * GiB, 256 * MiB)
# With RAM at 512 GiB, GRUB places the initrd below the lowest RAM +
# 32 GiB (INITRD_MAX_ADDRESS_OFFSET, grub-core/loader/efi/linux.c), that
# is in LOW_RAM; Debian's initramfs-tools initrds are 30-70 MiB, the
# busybox test initrd is about 1 MiB: pad it with this much incompressible
# data where that matters (only there: it costs boot time).
INITRD_PAD = 40 * MiB

# name, machine options, RAM bank (base, size) for -m 1G: from the options
# and the documented rules (docs/system/arm/virt-hotmem.rst), not from
# QEMU; the low RAM region the layout has with nvdimm=on, if any.
LAYOUTS = [
    ("default", "", (1 * GiB, GiB), None),
    ("ram-base-512g", "ram-base=0x8000000000", (512 * GiB, GiB), LOW_RAM),
    ("arm-den0001", "memory-layout=arm-den0001", (2 * GiB, GiB), None),
    # the first GiB boundary above the reserved region
    ("reserved-1g-2g", "reserved-regions=@RESERVED@", (2 * GiB, GiB), None),
]


def firmware():
    if not os.path.exists(FIRMWARE):
        raise tap.Skip("no %s (make firmware)" % FIRMWARE)
    return FIRMWARE


_disk = {}


def distro_disk(esp=True, pad=0):
    """The disk image (made once per run and flavour), its initrd
    padded with @pad bytes of random data in /pad."""
    if (esp, pad) not in _disk:
        tmp = guest.scratch_dir("vhm-uefi-disk-")
        assets = guest.guest_assets()
        files = [("pad", 0o644, os.urandom(pad))] if pad else []
        initrd = guest.build_initramfs(os.path.join(tmp, "initrd.gz"),
                                       NVDIMM_MODULES, files=files)
        assert os.path.getsize(initrd) > pad, "the initrd's pad compressed"
        _disk[esp, pad] = uefi_disk.make_disk(os.path.join(tmp, "disk.raw"),
                                              os.path.join(assets, "vmlinuz"),
                                              initrd, CMDLINE, esp=esp)
    return _disk[esp, pad]


def machine_opts(opts, tmp, nvdimm):
    if "@RESERVED@" in opts:
        path = os.path.join(tmp, "reserved")
        with open(path, "w") as f:
            f.write(RESERVED)
        opts = opts.replace("@RESERVED@", path)
    return "virt-hotmem" + (",nvdimm=on" if nvdimm else "") + \
        ("," + opts if opts else "")


def uefi_vm(opts, name, disk=None, extra=(), fw=None, nvdimm=True):
    """A VM whose firmware boots the distro disk (a copy of it: the
    guest and a migration's destination share one)."""
    vm = guest.VM([], name=name)
    vm.argv += ["-M", machine_opts(opts, vm.tmp, nvdimm), "-accel", "tcg",
                "-cpu", "max", "-smp", "1", "-m", "1G,slots=4,maxmem=8G",
                "-kernel", fw or firmware(),
                "-drive", "if=none,id=d0,format=raw,file=" +
                (disk or distro_disk()),
                "-device", "virtio-blk-pci,drive=d0", "-no-reboot"] + \
        list(extra)
    return vm


def check_ram(vm, bank, low=None):
    """The guest's System RAM lies in @bank and spans it but for what
    the firmware keeps (its runtime regions split the ranges); with a
    @low RAM region, some System RAM lies there too (what the firmware
    left of it), not all of it (the _DSM buffer's page is the
    firmware's), and query-memory-layout shows the region as RAM."""
    base, size = bank
    ram = guest.parse_iomem(vm.check("cat /proc/iomem"))
    if low:
        in_low = [(s, e) for s, e in ram
                  if low[0] <= s and e <= low[0] + low[1] - 1]
        assert in_low, ("no System RAM in the low region 0x%x+0x%x: %r" %
                        (low[0], low[1],
                         [(hex(s), hex(e)) for s, e in ram]))
        kept = low[1] - sum(e - s + 1 for s, e in in_low)
        assert kept > 0, \
            ("all of the low region is System RAM: the _DSM buffer is "
             "not there")
        print("# low RAM: the firmware keeps %d KiB of %d MiB" %
              (kept // 1024, low[1] // MiB), flush=True)
        ram = [r for r in ram if r not in in_low]
        rows = [(r["base"], r["size"]) for r in
                vm.qmp.cmd("query-memory-layout")["regions"]
                if r["kind"] == "ram"]
        assert low in rows, ("query-memory-layout has no RAM row 0x%x+0x%x: "
                             "%r" % (low[0], low[1], rows))
    assert ram, "no System RAM in /proc/iomem"
    assert ram[0][0] >= base and ram[-1][1] <= base + size - 1, \
        ("System RAM %r outside the bank 0x%x+0x%x" %
         ([(hex(s), hex(e)) for s, e in ram], base, size))
    assert ram[0][0] < base + 64 * MiB and ram[-1][1] > base + size - 64 * MiB, \
        ("System RAM %r does not span the bank 0x%x+0x%x" %
         ([(hex(s), hex(e)) for s, e in ram], base, size))


def insmod(vm, modules):
    for m in modules:
        vm.check("insmod /modules/" + os.path.basename(m))


def hot_add_dimm(vm):
    """A 512 MiB pc-dimm: the guest's MemTotal grows by it."""
    before = guest.mem_total_kib(vm)
    d = dimm.hot_add(vm, "dimm0", 512 * MiB, driver="pc-dimm")
    dimm.wait_block(vm, d["addr"], timeout=30)
    dimm.online_all(vm)
    grown = guest.mem_total_kib(vm) - before
    assert grown == 512 * 1024, "MemTotal grew by %d KiB, not 512 MiB" % grown
    ranges = guest.parse_iomem(vm.check("cat /proc/iomem"))
    assert any(s <= d["addr"] and d["addr"] + d["size"] - 1 <= e
               for s, e in ranges), (hex(d["addr"]), ranges)
    return d


def hot_add_nvdimm(vm):
    """A 128 MiB nvdimm on a file: /dev/pmem0, written through to the
    file."""
    insmod(vm, NVDIMM_MODULES)
    path = os.path.join(vm.tmp, "nv0.img")
    with open(path, "wb") as f:
        f.truncate(128 * MiB)
    vm.qmp.cmd("object-add", **{"qom-type": "memory-backend-file",
                                "id": "mem-nv0", "size": 128 * MiB,
                                "mem-path": path, "share": True})
    vm.qmp.cmd("device_add", driver="nvdimm", id="nv0", memdev="mem-nv0")
    dimm.check_pmem0(vm, path, 128 * MiB, b"VHM-PMEM-MARK", seconds=30)
    return path


def boot(vm, t0, timeout=600):
    """Wait for the guest's shell; return the seconds from @t0 (before
    launch) to userspace.  GRUB (from the disk) must have run."""
    try:
        vm.wait_shell(timeout=timeout)
    except guest.GuestError:
        # GRUB goes on without the initrd it could not place; say so
        # rather than leave the kernel's "Unable to mount root fs"
        assert b"error: out of memory." not in vm.console, \
            "GRUB found no room for the initrd (error: out of memory.)"
        raise
    took = time.monotonic() - t0
    assert GRUB_MARK in vm.console, "the guest did not boot through GRUB"
    assert vm.check("[ -d /sys/firmware/efi ] && echo efi").strip() == "efi"
    return took


def memory_device_addr(vm, dev_id):
    """Where QEMU put @dev_id (query-memory-devices)."""
    for d in vm.qmp.cmd("query-memory-devices"):
        if d["data"].get("id") == dev_id:
            return d["data"]["addr"]
    raise AssertionError("no memory device %s" % dev_id)


def migrate_with_dimms(src, name, opts, bank, d, nv_path, low=None,
                       disk=None):
    """Migrate @src (running, its DIMMs hot-added, a writer loop dirtying
    its page cache) live into a destination started with the same
    options and the DIMMs on its command line, paused (-S).  Both
    sides' RAM bank and DIMMs, dumped with pmemsave, must be byte for
    byte the same; then the guest runs on at the destination with all
    its memory (and the @low RAM region, if any, must match too).
    Returns the migration's seconds."""
    dimms = [(d["addr"], d["size"])]
    extra = ["-object", "memory-backend-ram,id=mem-dimm0,size=512M",
             "-device", "pc-dimm,id=dimm0,memdev=mem-dimm0,addr=%d" %
             d["addr"]]
    if nv_path:
        nv_addr = memory_device_addr(src, "nv0")
        dimms.append((nv_addr, 128 * MiB))
        extra += ["-object", "memory-backend-file,id=mem-nv0,size=128M,"
                  "share=on,mem-path=" + nv_path,
                  "-device", "nvdimm,id=nv0,memdev=mem-nv0,addr=%d" % nv_addr]
    mem = guest.mem_total_kib(src)
    dimm.start_writer(src)
    src.check("echo VHM-BEFORE-MIGRATION > /tmp/mark")
    dst = uefi_vm(opts, "uefi-mig-dst-" + name, disk=disk,
                  nvdimm=bool(nv_path),
                  extra=extra + ["-incoming", "defer", "-S"])
    with dst:
        t0 = time.monotonic()
        status = guest.migrate(src, dst, timeout=300)
        took = time.monotonic() - t0
        assert src.proc.poll() is None, \
            "source QEMU died: %s" % src.stderr().strip()
        assert status == "completed", src.qmp.cmd("query-migrate")
        deadline = time.monotonic() + 30
        while dst.qmp.cmd("query-status")["status"] == "inmigrate":
            assert time.monotonic() < deadline, "destination still inmigrate"
            time.sleep(0.1)
        assert dst.qmp.cmd("query-status")["status"] == "paused"
        dumps = dimm.compare_memory(src, dst, [bank] + dimms +
                                    ([low] if low else []), "mig-" + name)
        # The guest's writes reached the hot-added DIMM (movable memory
        # takes the page cache first), else the DIMM's compare proves
        # little.
        assert dimm.DIRTY_TAG in dumps[1], \
            "the writer loop left no trace in the pc-dimm"
        dst.qmp.cmd("cont")
        dst.console = b""
        assert "VHM-BEFORE-MIGRATION" in dst.check("cat /tmp/mark")
        assert guest.mem_total_kib(dst) == mem
        if nv_path:
            assert dst.check("head -c 13 /dev/pmem0").strip() == \
                "VHM-PMEM-MARK"
        dimm.stop_writer(dst)
    return took


def layout_case(name, opts, bank, low):
    """Boot the distro disk at the layout (with a low RAM region, from an
    initrd of a real one's size), hot-add a pc-dimm and an nvdimm,
    migrate live with them."""
    def run():
        disk = distro_disk(pad=INITRD_PAD if low else 0)
        vm = uefi_vm(opts, "uefi-" + name, disk=disk)
        t0 = time.monotonic()
        with vm:
            took = boot(vm, t0)
            check_ram(vm, bank, low)
            d = hot_add_dimm(vm)
            nv_path = hot_add_nvdimm(vm)
            print("# %s: userspace in %.1f s" % (name, took), flush=True)
            mig = migrate_with_dimms(vm, name, opts, bank, d, nv_path, low,
                                     disk)
            print("# %s: migration with the pc-dimm and the nvdimm: %.1f s"
                  % (name, mig), flush=True)
    return run


def test_stock_aavmf_refused():
    """Debian's AAVMF with RAM at 512 GiB: QEMU stops at once with one
    line naming the option and the firmware to use."""
    if not os.path.exists(guest.AAVMF_CODE):
        raise tap.Skip("no %s" % guest.AAVMF_CODE)
    p = subprocess.run([guest.QEMU_AARCH64, "-M",
                        "virt-hotmem,ram-base=0x8000000000", "-accel", "tcg",
                        "-cpu", "max", "-m", "1G", "-display", "none",
                        "-nodefaults", "-bios", guest.AAVMF_CODE],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    err = p.stderr.decode().strip()
    assert p.returncode == 1, (p.returncode, err)
    assert len(err.splitlines()) == 1, err
    assert "ram-base=0x8000000000" in err and "AAVMF" in err and \
        "virt-hotmem-efi-aarch64.fd" in err, err


def firmware_qemu(machine, qmp_input):
    """Run QEMU paused with the firmware as -kernel, -M @machine, and
    QMP on stdin (@qmp_input, commands one per line); returns the
    CompletedProcess."""
    try:
        return subprocess.run([guest.QEMU_AARCH64, "-M", machine,
                               "-accel", "tcg", "-cpu", "max", "-m", "1G",
                               "-display", "none", "-nodefaults", "-S",
                               "-kernel", firmware(), "-qmp", "stdio"],
                              input=qmp_input.encode(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError("QEMU -M %s did not quit" % machine)


def test_low_ram_with_secure():
    """The low RAM region is outside virt's secure-RAM window, so
    secure=on, which takes that window, starts too, and in
    query-memory-layout the region (at LOW_RAM) overlaps no MMIO or
    reserved region, as the QAPI schema promises for RAM."""
    p = firmware_qemu("virt-hotmem,ram-base=0x8000000000,nvdimm=on,"
                      "secure=on",
                      '{"execute": "qmp_capabilities"}\n'
                      '{"execute": "query-memory-layout"}\n'
                      '{"execute": "quit"}\n')
    err = p.stderr.decode().strip()
    assert p.returncode == 0, (p.returncode, err)
    regions = None
    for line in p.stdout.decode().splitlines():
        ret = json.loads(line).get("return")
        if isinstance(ret, dict) and "regions" in ret:
            regions = ret["regions"]
    assert regions, p.stdout.decode()
    low = [r for r in regions if r["name"] == "ram-low"]
    assert [(r["base"], r["size"], r["kind"]) for r in low] == \
        [LOW_RAM + ("ram",)], low
    for r in regions:
        if r["kind"] != "ram" and \
                r["base"] < LOW_RAM[0] + LOW_RAM[1] and \
                LOW_RAM[0] < r["base"] + r["size"]:
            raise AssertionError("ram-low overlaps %r" % r)
    assert any(r["name"] == "secure-mem" for r in regions), regions


def test_low_ram_no_room_refused():
    """With reserved-regions covering 1 GiB..4 GiB there is no room for
    the low RAM region: QEMU stops at once with one line naming the
    option and why, rather than start a guest that gets no ACPI tables
    and hangs."""
    with tempfile.TemporaryDirectory(prefix="vhm-uefi-") as tmp:
        path = os.path.join(tmp, "reserved")
        with open(path, "w") as f:
            f.write("0x0000000040000000 0x00000000ffffffff reserved\n")
        p = firmware_qemu("virt-hotmem,nvdimm=on,reserved-regions=" + path,
                          "")
    err = p.stderr.decode().strip()
    assert p.returncode == 1, (p.returncode, err)
    assert len(err.splitlines()) == 1, err
    assert "nvdimm=on" in err and "reserved-regions=" + path in err and \
        "below 4 GiB" in err, err


def test_disk_without_esp():
    """A disk with no EFI system partition: the firmware says it cannot
    boot the disk (EDK II's BdsDxe) and starts its shell, rather than
    hanging silently."""
    with uefi_vm("ram-base=0x8000000000", "uefi-noesp", nvdimm=False,
                 disk=distro_disk(esp=False)) as vm:
        vm.wait_console(rb'BdsDxe: failed to load Boot0001 "UEFI Misc '
                        rb'Device" from PciRoot\(0x0\)/Pci\(0x1,0x0\): '
                        rb'Not Found', 300)
        vm.wait_console(rb"Shell> ", 120)
        assert GRUB_MARK not in vm.console


if __name__ == "__main__":
    tap.main([("uefi-moved-map/" + layout[0], layout_case(*layout))
              for layout in LAYOUTS] +
             [("uefi-moved-map/stock-aavmf-refused", test_stock_aavmf_refused),
              ("uefi-moved-map/low-ram-with-secure",
               test_low_ram_with_secure),
              ("uefi-moved-map/low-ram-no-room-refused",
               test_low_ram_no_room_refused),
              ("uefi-moved-map/disk-without-esp", test_disk_without_esp)])
