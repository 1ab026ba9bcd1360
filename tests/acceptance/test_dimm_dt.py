#!/usr/bin/env python3
#
# Acceptance: cold-plugged pc-dimm and nvdimm seen by the unmodified Debian
# arm64 cloud kernel booted with a device tree (no firmware, no ACPI).
# Expected ranges are worked out here from the command line: RAM at
# ram-base, device memory from the next GiB after RAM, DIMMs at addr=.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import base64
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

GiB = guest.GiB
MiB = guest.MiB

RAM_BASE = 512 * GiB
DEVICE_MEMORY = RAM_BASE + 1 * GiB      # -m 1G: the next GiB after RAM


def node_memtotal_kib(vm, node):
    out = vm.check("cat /sys/devices/system/node/node%d/meminfo" % node)
    m = re.search(r"Node %d MemTotal:\s+(\d+) kB" % node, out)
    assert m, out
    return int(m.group(1))


def test_dimms_two_nodes():
    """512 MiB of RAM on each of two NUMA nodes, a 256 MiB DIMM on node 1
    and a 512 MiB one on node 0: /proc/iomem has the three ranges, and
    each node's MemTotal is its RAM plus its DIMM, less what the kernel
    reserved (its image, page structs: well under 64 MiB here)."""
    # Apart from RAM and each other, so that /proc/iomem shows three ranges
    dimm0, dimm1 = DEVICE_MEMORY + 512 * MiB, DEVICE_MEMORY + 1 * GiB
    extra = ["-object", "memory-backend-ram,id=r0,size=512M",
             "-object", "memory-backend-ram,id=r1,size=512M",
             "-numa", "node,nodeid=0,memdev=r0",
             "-numa", "node,nodeid=1,memdev=r1",
             "-object", "memory-backend-ram,id=d0,size=256M",
             "-object", "memory-backend-ram,id=d1,size=512M",
             "-device", "pc-dimm,id=dimm0,memdev=d0,node=1,addr=%#x" % dimm0,
             "-device", "pc-dimm,id=dimm1,memdev=d1,node=0,addr=%#x" % dimm1]
    with guest.arm64_guest(machine_opts="ram-base=512G",
                           mem="1G,slots=4,maxmem=8G", extra=extra,
                           name="dimm-dt") as vm:
        vm.wait_shell()
        iomem = guest.parse_iomem(vm.check("cat /proc/iomem"))
        node0 = node_memtotal_kib(vm, 0)
        node1 = node_memtotal_kib(vm, 1)
    expect = [(RAM_BASE, RAM_BASE + GiB - 1),
              (dimm0, dimm0 + 256 * MiB - 1),
              (dimm1, dimm1 + 512 * MiB - 1)]
    assert iomem == expect, "guest sees %s, expected %s" % (
        [(hex(s), hex(e)) for s, e in iomem],
        [(hex(s), hex(e)) for s, e in expect])
    for node, kib, full in ((0, node0, 1024 * MiB), (1, node1, 768 * MiB)):
        assert full - 64 * MiB < kib * 1024 <= full, \
            "node %d MemTotal %d KiB, expected just under %d MiB" % (
                node, kib, full // MiB)


def test_boot_from_small_first_bank():
    """arm-den0001 with RAM from 64 MiB below 4 GiB: bank 0 is those
    64 MiB (the DRAM window ends at 4 GiB), the rest of the 1 GiB goes to
    the window at 34 GiB.  The kernel, initrd and DTB must all be in bank
    0: with the whole RAM size as the limit, the initrd would go 128 MiB
    in, into the hole after bank 0, and the kernel would find no init."""
    first = 64 * MiB
    with guest.arm64_guest(machine_opts="memory-layout=arm-den0001,"
                           "ram-base=%#x" % (4 * GiB - first), mem="1G",
                           name="bank0") as vm:
        vm.wait_shell()
        iomem = guest.parse_iomem(vm.check("cat /proc/iomem"))
    expect = [(4 * GiB - first, 4 * GiB - 1),
              (34 * GiB, 34 * GiB + GiB - first - 1)]
    assert iomem == expect, "guest sees %s" % [(hex(s), hex(e))
                                               for s, e in iomem]


def test_numa_over_banks():
    """arm-den0001, 4 GiB on nodes of 3 GiB and 1 GiB: node 0 has the
    first bank (2 GiB at 2 GiB) and the first GiB of the second (at
    34 GiB), node 1 the last GiB; the guest's nodes have those sizes,
    less what the kernel reserved (a wrong split is off by 1 GiB)."""
    extra = ["-object", "memory-backend-ram,id=r0,size=3G",
             "-object", "memory-backend-ram,id=r1,size=1G",
             "-numa", "node,nodeid=0,memdev=r0",
             "-numa", "node,nodeid=1,memdev=r1"]
    with guest.arm64_guest(machine_opts="memory-layout=arm-den0001",
                           mem="4G", extra=extra, name="numa-banks") as vm:
        vm.wait_shell()
        iomem = guest.parse_iomem(vm.check("cat /proc/iomem"))
        node0 = node_memtotal_kib(vm, 0)
        node1 = node_memtotal_kib(vm, 1)
    assert iomem == [(2 * GiB, 4 * GiB - 1), (34 * GiB, 36 * GiB - 1)], \
        [(hex(s), hex(e)) for s, e in iomem]
    for node, kib, full in ((0, node0, 3 * GiB), (1, node1, 1 * GiB)):
        # Image, page structs, swiotlb, CMA: measured 135 MiB on node 0
        assert full - 256 * MiB < kib * 1024 <= full, \
            "node %d MemTotal %d KiB, expected just under %d MiB" % (
                node, kib, full // MiB)


def test_dumpdtb_is_guest_tree():
    """-M ...,dumpdtb=FILE writes byte for byte the tree the guest got
    (/sys/firmware/fdt), DIMM nodes included.  dtb-randomness=off: the
    seeds in /chosen would differ from run to run."""
    opts = "ram-base=512G,dtb-randomness=off"
    mem = "1G,slots=2,maxmem=4G"
    extra = ["-object", "memory-backend-ram,id=d0,size=256M",
             "-device", "pc-dimm,id=dimm0,memdev=d0"]
    vm = guest.arm64_guest(machine_opts=opts, mem=mem, extra=extra,
                           name="dumpdtb")
    with vm:
        vm.wait_shell()
        seen = base64.b64decode("".join(
            vm.check("base64 /sys/firmware/fdt").split()))
    # The same command line (less its QMP socket, gone with the VM),
    # stopped where QEMU writes the tree
    dump = os.path.join(vm.initrd_dir, "dump.dtb")
    qmp = vm.argv.index("-qmp")
    argv = [a if not a.startswith("virt-hotmem,") else
            a + ",dumpdtb=" + dump
            for a in vm.argv[:qmp] + vm.argv[qmp + 2:]]
    subprocess.run(argv, check=True, timeout=60, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL)
    with open(dump, "rb") as f:
        dumped = f.read()
    assert b"memory@8040000000" in dumped, "no DIMM node in the dump"
    assert seen == dumped, "guest tree and dumpdtb differ (%d, %d bytes)" % (
        len(seen), len(dumped))


VIRTIO_MEM_MODULES = ["kernel/drivers/virtio/virtio_ring.ko",
                      "kernel/drivers/virtio/virtio.ko",
                      "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
                      "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
                      "kernel/drivers/virtio/virtio_pci.ko",
                      "kernel/drivers/virtio/virtio_mem.ko"]


def test_virtio_mem():
    """What a device-tree guest uses instead of DIMM hotplug: a
    virtio-mem-pci device with 256 MiB requested grows MemTotal by
    256 MiB, with RAM at 512 GiB."""
    extra = ["-object", "memory-backend-ram,id=v0,size=1G",
             "-device", "virtio-mem-pci,id=vmem0,memdev=v0,"
             "requested-size=256M"]
    with guest.arm64_guest(machine_opts="ram-base=512G",
                           mem="1G,maxmem=4G", extra=extra,
                           modules=VIRTIO_MEM_MODULES,
                           cmdline="memhp_default_state=online",
                           name="virtio-mem") as vm:
        vm.wait_shell()
        before = guest.mem_total_kib(vm)
        for m in VIRTIO_MEM_MODULES:
            vm.check("insmod /modules/" + os.path.basename(m))
        grown = 0
        for _ in range(100):
            grown = guest.mem_total_kib(vm) - before
            if grown >= 256 * 1024:
                break
            vm.check("sleep 0.1")
        size = vm.qmp.cmd("qom-get", path="/machine/peripheral/vmem0",
                          property="size")
    assert grown == 256 * 1024, "MemTotal grew by %d KiB" % grown
    assert size == 256 * MiB, "virtio-mem plugged %d bytes" % size


NVDIMM_MODULES = ["kernel/drivers/dax/dax.ko",
                  "kernel/drivers/nvdimm/libnvdimm.ko",
                  "kernel/drivers/nvdimm/nd_btt.ko",
                  "kernel/drivers/nvdimm/nd_pmem.ko",
                  "kernel/drivers/nvdimm/of_pmem.ko"]


def test_nvdimm_pmem():
    """A file-backed 128 MiB nvdimm becomes /dev/pmem0 of 128 MiB through
    of_pmem, and what the guest writes there is in the file."""
    mark = b"VHM-PMEM-WRITE-REACHES-FILE"
    with tempfile.NamedTemporaryFile(prefix="vhm-nvdimm-") as backing:
        backing.truncate(128 * MiB)
        extra = ["-object", "memory-backend-file,id=n0,share=on,"
                 "mem-path=%s,size=128M" % backing.name,
                 "-device", "nvdimm,id=nv0,memdev=n0"]
        with guest.arm64_guest(machine_opts="ram-base=512G,nvdimm=on",
                               mem="1G,slots=2,maxmem=4G", extra=extra,
                               modules=NVDIMM_MODULES,
                               name="nvdimm-dt") as vm:
            vm.wait_shell()
            for m in NVDIMM_MODULES:
                vm.check("insmod /modules/" + os.path.basename(m))
            vm.check("for i in $(seq 50); do [ -b /dev/pmem0 ] && break; "
                     "sleep 0.1; done; [ -b /dev/pmem0 ]")
            size = int(vm.check("cat /sys/block/pmem0/size").strip()) * 512
            vm.check("printf %s > /tmp/mark && "
                     "dd if=/tmp/mark of=/dev/pmem0 bs=4096 seek=1 "
                     "conv=notrunc 2>/dev/null && sync" % mark.decode())
            backing.seek(4096)
            got = backing.read(len(mark))
    assert size == 128 * MiB, "/dev/pmem0 has %d bytes" % size
    assert got == mark, "file has %r at 4096" % got


if __name__ == "__main__":
    tap.main([("banks/dt-boot-from-64MiB-first-bank",
               test_boot_from_small_first_bank),
              ("dimm/dt-two-dimms-two-numa-nodes-ram-at-512GiB",
               test_dimms_two_nodes),
              ("dimm/dt-nvdimm-is-dev-pmem0", test_nvdimm_pmem),
              ("banks/dt-two-numa-nodes-over-two-banks",
               test_numa_over_banks),
              ("dimm/dt-dumpdtb-is-the-guest-tree",
               test_dumpdtb_is_guest_tree),
              ("dimm/dt-virtio-mem-instead-of-hotplug", test_virtio_mem)])
