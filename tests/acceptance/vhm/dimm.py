#
# DIMM guests for the acceptance tests: the Debian arm64 cloud kernel booted
# by Debian's AAVMF (UEFI) with ACPI at virt's default layout (RAM at 1 GiB),
# where stock virt and virt-hotmem accept pc-dimm and nvdimm.  Plus what
# every DIMM test needs: hot-adding, onlining in the guest, dirtying DIMM
# pages from the guest, and comparing memory on two QEMU processes.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import hashlib
import os

from . import guest, tap

GiB = guest.GiB
MiB = guest.MiB
# The Debian kernel's NVDIMM stack for an ACPI guest (NFIT), in load order
ACPI_NVDIMM_MODULES = ("kernel/drivers/dax/dax.ko",
                       "kernel/drivers/nvdimm/libnvdimm.ko",
                       "kernel/drivers/nvdimm/nd_btt.ko",
                       "kernel/drivers/nvdimm/nd_pmem.ko",
                       "kernel/drivers/acpi/nfit/nfit.ko")
# virt's RAM base; both boards use it at the default layout.
RAM_BASE = 1 * GiB
# The pattern the guest's writer loop fills its file with.
DIRTY_TAG = b"VHM-DIRTY-"


def aavmf_code():
    """Path of Debian's AAVMF_CODE.fd, or skip the test."""
    if not os.path.exists(guest.AAVMF_CODE):
        raise tap.Skip("no %s (Debian package qemu-efi-aarch64)"
                       % guest.AAVMF_CODE)
    return guest.AAVMF_CODE


def uefi_guest(machine="virt-hotmem", mem="512M", slots=4, maxmem="8G",
               extra=(), name="uefi", binary=guest.QEMU_AARCH64):
    """A VM booting the Debian arm64 kernel through AAVMF with ACPI.
    Call launch() / use it as a context manager."""
    firmware = aavmf_code()
    assets = guest.guest_assets()
    tmp = guest.scratch_dir("vhm-initrd-")
    initrd = guest.build_initramfs(os.path.join(tmp, "initrd.gz"))
    vm = guest.VM(["-M", machine, "-accel", "tcg", "-cpu", "max",
                   "-smp", "1", "-m", "%s,slots=%d,maxmem=%s" %
                   (mem, slots, maxmem), "-bios", firmware,
                   "-kernel", os.path.join(assets, "vmlinuz"),
                   "-initrd", initrd,
                   "-append", "console=ttyAMA0 panic=-1",
                   "-no-reboot"] + list(extra), binary=binary, name=name)
    vm.initrd_dir = tmp
    return vm


def align_up(value, alignment):
    return (value + alignment - 1) // alignment * alignment


def device_memory_base(ram_size):
    """Where virt puts device memory at its default layout: the first
    1 GiB boundary after RAM (hw/arm/virt.c, virt_set_memmap())."""
    return align_up(RAM_BASE + ram_size, GiB)


def backend(vm, memdev, size):
    vm.qmp.cmd("object-add", **{"qom-type": "memory-backend-ram",
                                "id": memdev, "size": size})


def hot_add(vm, dev_id, size, driver="pc-dimm", **props):
    """object-add a RAM backend and device_add a DIMM on it; return the
    DIMM's query-memory-devices entry."""
    backend(vm, "mem-" + dev_id, size)
    vm.qmp.cmd("device_add", driver=driver, id=dev_id,
               memdev="mem-" + dev_id, **props)
    return memory_device(vm, dev_id)


def memory_devices(vm):
    return {d["data"]["id"]: d["data"]
            for d in vm.qmp.cmd("query-memory-devices")}


def memory_device(vm, dev_id):
    devs = memory_devices(vm)
    if dev_id not in devs:
        raise guest.GuestError("%s not in query-memory-devices: %r" %
                               (dev_id, devs))
    return devs[dev_id]


def wait_block(vm, addr, block=128 * MiB, timeout=5):
    """Wait (@timeout s at most) until the guest has added the memory
    block at guest-physical @addr: ACPI hotplug is handled
    asynchronously."""
    path = "/sys/devices/system/memory/memory%d" % (addr // block)
    vm.check("for i in $(seq %d); do [ -e %s ] && break; sleep 0.1; done; "
             "[ -e %s ]" % (timeout * 10, path, path))


def online_all(vm, zone="online_movable"):
    """Online every offline memory block in the guest (the cloud kernel
    leaves hot-added memory offline).  Movable blocks receive the page
    cache first, so the writer loop's file lands in them."""
    vm.check("for f in /sys/devices/system/memory/memory*/state; do "
             "grep -q offline $f && echo %s > $f; done; true" % zone)


def start_writer(vm, mib=8, path="/tmp/dirty"):
    """Start a guest loop rewriting the same @mib MiB file in place:
    the same page-cache pages are dirtied again and again.  The loop
    pauses a little between rounds so that the guest's single vCPU
    still answers the test's shell commands on a loaded host, and the
    first fill has a generous bound for the same reason (TCG)."""
    vm.check("yes %s0 | head -c %d > %s" %
             (DIRTY_TAG.decode(), mib * MiB, path), timeout=300)
    vm.check("(i=0; while :; do i=$((i+1)); yes %s$i | head -c %d | "
             "dd of=%s bs=64k conv=notrunc 2>/dev/null; sleep 0.2; done) "
             ">/dev/null 2>&1 & true" % (DIRTY_TAG.decode(), mib * MiB, path))


def stop_writer(vm):
    vm.check("kill $!; wait; true")


def dump(vm, addr, size, path):
    """pmemsave guest-physical [addr, addr+size) into @path; return the
    bytes."""
    vm.qmp.cmd("pmemsave", val=addr, size=size, filename=path)
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != size:
        raise guest.GuestError("pmemsave wrote %d bytes, not %d" %
                               (len(data), size))
    return data


def compare_memory(src, dst, ranges, tag):
    """pmemsave every (addr, size) of @ranges on both VMs; raise naming
    the first differing page if they differ.  Returns the source's
    dumps."""
    out = []
    for addr, size in ranges:
        a = dump(src, addr, size, os.path.join(src.tmp, "%s-%x" % (tag, addr)))
        b = dump(dst, addr, size, os.path.join(dst.tmp, "%s-%x" % (tag, addr)))
        if a != b:
            bad = [i for i in range(0, size, 4096)
                   if a[i:i + 4096] != b[i:i + 4096]]
            raise AssertionError(
                "%s: %d pages of [%#x, +%#x) differ between source and "
                "destination, first at %#x" % (tag, len(bad), addr, size,
                                               addr + bad[0]))
        os.unlink(os.path.join(src.tmp, "%s-%x" % (tag, addr)))
        os.unlink(os.path.join(dst.tmp, "%s-%x" % (tag, addr)))
        out.append(a)
    return out


def digest(data):
    return hashlib.sha256(data).hexdigest()


def iomem_ram(vm):
    return guest.parse_iomem(vm.check("cat /proc/iomem"))


def covers(ranges, start, size):
    """Whether one of the (start, end-inclusive) @ranges covers
    [start, start+size)."""
    return any(s <= start and start + size - 1 <= e for s, e in ranges)


def numa_args(ram_size, nodes=2):
    """-m's RAM split evenly over @nodes NUMA nodes (0, 1, ...)."""
    args = []
    for n in range(nodes):
        args += ["-object", "memory-backend-ram,id=ram-node%d,size=%d" %
                 (n, ram_size // nodes),
                 "-numa", "node,nodeid=%d,memdev=ram-node%d" % (n, n)]
    return args


def online_range(vm, addr, size, block=128 * MiB, zone="online_movable",
                 timeout=5):
    """Wait for (@timeout s at most each) and online the guest's memory
    blocks of [addr, addr+size) only, leaving other DIMMs' blocks as they
    are."""
    for b in range(addr // block, (addr + size) // block):
        wait_block(vm, b * block, block, timeout)
        vm.check("echo %s > /sys/devices/system/memory/memory%d/state" %
                 (zone, b))


def wait_pmem0(vm, seconds):
    """Wait (@seconds at most) until the guest has /dev/pmem0."""
    vm.check("for i in $(seq %d); do [ -b /dev/pmem0 ] && break; "
             "sleep 0.1; done; [ -b /dev/pmem0 ]" % (seconds * 10))


def check_pmem0(vm, backing, size, mark, seconds=10):
    """The guest's /dev/pmem0 appears within @seconds, has @size bytes,
    and @mark, written at its start by the guest, is at the start of
    its @backing file on the host."""
    wait_pmem0(vm, seconds)
    got = int(vm.check("cat /sys/block/pmem0/size").strip()) * 512
    assert got == size, "/dev/pmem0 has %d bytes" % got
    vm.check("echo %s > /dev/pmem0; sync" % mark.decode())
    with open(backing, "rb") as f:
        assert f.read(len(mark)) == mark, "pmem write lost"
