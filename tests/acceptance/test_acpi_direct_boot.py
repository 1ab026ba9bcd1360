#!/usr/bin/env python3
#
# Acceptance: -M virt-hotmem,acpi=on -kernel, no firmware.  The unmodified
# Debian arm64 cloud kernel boots with ACPI at three layouts, and what it
# reports is checked against what this test works out from the command
# line: RAM banks (ram-base=, Arm's DRAM windows for arm-den0001), the
# EFI memory map covering exactly those banks, the SRAT naming each bank,
# ACPI tables, console on SPCR, a virtio-pci disk read back byte for
# byte, a virtio-net NIC leased an address by slirp's DHCP server, a
# pc-dimm and nvdimms hot-added (in /proc/iomem, /dev/pmem0 written
# through to its backing file, a labelled one whose label area the guest
# reads through the NVDIMM _DSM) and a pc-dimm removed
# (DEVICE_DELETED); cold-plugged pc-dimms on two NUMA nodes each with its
# own SRAT entry and in its node's sysfs directory.  With RAM above
# 4 GiB the _DSM page is in virt's secure-RAM window, which has an SRAT
# entry of its own: a guest on two NUMA nodes keeps both.  Debian's
# generic kernel flavour boots too; a pc-dimm is onlined only if its
# config has ACPI_HOTPLUG_MEMORY.  Bad input: one line, exit 1.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import base64
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import dimm, guest, tap  # noqa: E402

GiB = guest.GiB
MiB = guest.MiB

# efi=debug makes the kernel print the EFI memory map it was handed.
CMDLINE = "efi=debug memhp_default_state=online_movable"
NVDIMM_MODULES = list(dimm.ACPI_NVDIMM_MODULES)
DISK_MODULES = ["kernel/drivers/virtio/virtio_ring.ko",
                "kernel/drivers/virtio/virtio.ko",
                "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
                "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
                "kernel/drivers/virtio/virtio_pci.ko",
                "kernel/drivers/block/virtio_blk.ko"]
NET_MODULES = list(guest.VIRTIO_NET_MODULES)
# slirp network of this test: its DHCP server is .2, the first lease
# dhcpstart
NET = "10.77.5.0/24"
DHCP_SERVER = "10.77.5.2"
DHCP_START = "10.77.5.40"
# virt's fixed map (hw/arm/virt.c, base_memmap): VIRT_SECURE_MEM, where
# the NVDIMM _DSM page goes when no RAM is below 4 GiB
SECURE_MEM = (0x0e000000, 16 * MiB)
# QEMU's NVDIMM _DSM page (hw/acpi/nvdimm.c, NvdimmDsmIn)
DSM_PAGE = 4096
ACPI_TABLES = ("APIC", "DSDT", "FACP", "GTDT", "IORT", "MCFG", "SPCR",
               "SRAT")


def efi_memmap(console):
    """The EFI memory map as the kernel printed it: (start, end, type)."""
    return [(int(s, 16), int(e, 16), t.strip()) for s, e, t in re.findall(
        r"efi:\s+0x([0-9a-f]+)-0x([0-9a-f]+) \[([A-Za-z ]+)\|", console)]


def merge(ranges):
    out = []
    for s, e in sorted(ranges):
        if out and out[-1][1] + 1 == s:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def hexr(ranges):
    return [(hex(s), hex(e)) for s, e in ranges]


def make_disk(tmp):
    path = os.path.join(tmp, "disk.raw")
    data = hashlib.sha256(b"vhm-acpi").digest() * (4 * MiB // 32)
    with open(path, "wb") as f:
        f.write(data)
    return path, hashlib.md5(data).hexdigest()


def acpi_guest(machine_opts, mem, name, extra=(), nvdimm=True,
               flavour="cloud"):
    tmp = guest.scratch_dir("vhm-acpi-disk-")
    disk, md5 = make_disk(tmp)
    vm = guest.arm64_guest(
        machine_opts="acpi=on,gic-version=3" +
        (",nvdimm=on" if nvdimm else "") +
        ("," + machine_opts if machine_opts else ""),
        mem=mem, name=name, cmdline=CMDLINE, flavour=flavour,
        modules=DISK_MODULES + NVDIMM_MODULES + NET_MODULES[5:],
        extra=["-drive", "if=none,id=d0,format=raw,file=" + disk,
               "-device", "virtio-blk-pci,drive=d0",
               "-nic", "user,model=virtio-net-pci,net=%s,dhcpstart=%s" % (
                   NET, DHCP_START)] + list(extra))
    vm.disk_md5 = md5
    return vm


def insmod(vm, modules):
    """Load @modules from the initramfs, but for those the kernel has
    built in (vm.builtin, from its modules.builtin)."""
    for m in modules:
        if os.path.basename(m) not in vm.builtin:
            vm.check("insmod /modules/" + os.path.basename(m))


def check_boot(vm, banks, nvdimm=True):
    """What the guest reports of a direct ACPI boot, against @banks
    (base, size) worked out by the caller.  With @nvdimm and no RAM
    below 4 GiB, the _DSM page is in virt's secure-RAM window."""
    console = vm.console.decode(errors="replace")
    expect = merge([(b, b + s - 1) for b, s in banks])
    dsm_window = nvdimm and banks[0][0] >= 4 * GiB

    # Hardware from ACPI: the tables, and a device tree that is a stub
    tables = vm.check("ls /sys/firmware/acpi/tables").split()
    missing = [t for t in ACPI_TABLES if t not in tables]
    assert not missing, "guest has no ACPI %s (has %s)" % (missing, tables)
    # With ACPI the kernel does not unflatten the tree it was handed ...
    assert vm.shell("[ -e /sys/firmware/devicetree/base ]")[0] != 0
    # ... which holds /chosen only (dt_is_stub() in arch/arm64/kernel/acpi.c)
    fdt = base64.b64decode("".join(vm.check(
        "base64 /sys/firmware/fdt").split()))
    path = os.path.join(vm.tmp, "guest.dtb")
    with open(path, "wb") as f:
        f.write(fdt)
    dts = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", path],
                         capture_output=True, text=True, check=True).stdout
    nodes = re.findall(r"^\t(\S+) \{", dts, re.M)
    assert nodes == ["chosen"], "device tree has %s" % nodes
    # The console we talk to is the one SPCR names
    assert re.search(r"ACPI: SPCR: console: pl011,mmio32,0x9000000",
                     console), "no SPCR console in the boot log"
    assert "ttyAMA0" in vm.check("cat /proc/consoles")

    # RAM: the EFI memory map covers exactly the banks ...
    memmap = efi_memmap(console)
    assert memmap, "kernel printed no EFI memory map"
    covered = merge([(s, e) for s, e, _ in memmap
                     if not (dsm_window and s < banks[0][0])])
    assert covered == expect, "EFI memory map covers %s, RAM is %s" % (
        hexr(covered), hexr(expect))
    # ... and, outside them, the _DSM page's own window, if it has one
    own = [(s, e, t) for s, e, t in memmap if s < banks[0][0]]
    if dsm_window:
        assert len(own) == 1 and own[0][0] == SECURE_MEM[0] and \
            own[0][2] == "ACPI Mem NVS" and \
            own[0][1] - own[0][0] + 1 >= DSM_PAGE and \
            own[0][1] < sum(SECURE_MEM), \
            "_DSM page not at %#x: %s" % (SECURE_MEM[0], own)
        # Reserved, never System RAM
        assert "System RAM" not in vm.check(
            "grep -i '^ *%x-' /proc/iomem || true" % SECURE_MEM[0])
    else:
        assert not own, own
    # ... and the SRAT names each bank (node 0, no -numa given) and the
    # _DSM page's window, if it has one: a range of the map without a
    # node would make Linux drop the SRAT
    srat = merge([(int(s, 16), int(e, 16)) for s, e in re.findall(
        r"SRAT: Node 0 PXM 0 \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\]\n",
        console.replace("\r", ""))])
    window = [(s, e) for s, e in srat if s < banks[0][0]]
    srat = [(s, e) for s, e in srat if s >= banks[0][0]]
    assert srat == expect, "SRAT has %s, RAM is %s" % (hexr(srat),
                                                        hexr(expect))
    assert window == [(s, e) for s, e, _ in own], \
        "SRAT has %s below RAM, the memory map %s" % (hexr(window), own)
    assert "invalid memblk" not in console, [
        line for line in console.splitlines() if "memblk" in line]

    # What QEMU says it reserved is what the guest got as non-RAM types,
    # inside the first bank, and holds the RSDP the kernel used
    rows = [r for r in vm.qmp.cmd("query-memory-layout")["regions"]
            if r["kind"] == "boot-tables"]
    assert {r["name"] for r in rows} >= {"efi-tables", "acpi-tables"}, rows
    kinds = {(s, e): t for s, e, t in memmap}
    for r in rows:
        key = (r["base"], r["base"] + r["size"] - 1)
        want = {"efi-tables": "Runtime Data", "acpi-tables": "ACPI Reclaim",
                "acpi-nvs": "ACPI Mem NVS"}[r["name"]]
        assert kinds.get(key) == want, "%s %s is %r in the guest's map" % (
            r["name"], hexr([key]), kinds.get(key))
        if dsm_window and r["name"] == "acpi-nvs":
            assert key[0] == SECURE_MEM[0], hexr([key])
        else:
            assert banks[0][0] <= key[0] and \
                key[1] < banks[0][0] + banks[0][1], (r["name"], hexr([key]))
    assert ("acpi-nvs" in {r["name"] for r in rows}) == nvdimm, rows
    rsdp = int(re.search(r"ACPI: RSDP 0x([0-9A-F]+)", console).group(1), 16)
    acpi = [r for r in rows if r["name"] == "acpi-tables"][0]
    assert acpi["base"] <= rsdp < acpi["base"] + acpi["size"], hex(rsdp)

    # The guest keeps its hands off them: not System RAM it could reuse
    iomem = guest.parse_iomem(vm.check("cat /proc/iomem"))
    efi = [r for r in rows if r["name"] == "efi-tables"][0]
    assert not any(s <= efi["base"] <= e for s, e in iomem), \
        "EFI tables at %#x are System RAM in the guest" % efi["base"]
    assert "System RAM" not in vm.check(
        "grep -i '^ *%x-' /proc/iomem || true" % efi["base"])

    # virtio-pci disk: read it back whole
    insmod(vm, DISK_MODULES)
    vm.check("for i in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; "
             "done; [ -b /dev/vda ]")
    got = vm.check("md5sum /dev/vda").split()[0]
    assert got == vm.disk_md5, "disk reads back as %s, not %s" % (
        got, vm.disk_md5)

    # virtio-pci NIC: a DHCP lease from slirp
    insmod(vm, NET_MODULES[5:])
    vm.check("for i in $(seq 50); do [ -e /sys/class/net/eth0 ] && break; "
             "sleep 0.1; done; ip link set eth0 up")
    out = vm.check("udhcpc -i eth0 -n -q -t 5 -T 2 -s /bin/true 2>&1",
                   timeout=60)
    assert "lease of %s obtained" % DHCP_START in out, out
    assert "from %s" % DHCP_SERVER in out, out


def wait_iomem(vm, start):
    vm.check("for i in $(seq 100); do grep -q '^%x-' /proc/iomem && "
             "break; sleep 0.1; done; grep -q '^%x-' /proc/iomem" %
             (start, start))


def nvdimm_backend(vm, name, size):
    path = os.path.join(vm.tmp, name + ".img")
    with open(path, "wb") as f:
        f.truncate(size)
    vm.qmp.cmd("object-add", **{"qom-type": "memory-backend-file",
                                "id": name, "size": size, "mem-path": path,
                                "share": True})
    return path


def check_nvdimm(vm, nv):
    """An nvdimm hot-added at @nv becomes /dev/pmem0 (NFIT, _FIT), and
    what the guest writes there is in its backing file."""
    insmod(vm, NVDIMM_MODULES)
    path = nvdimm_backend(vm, "hn0", 128 * MiB)
    vm.qmp.cmd("device_add", driver="nvdimm", id="nv0", memdev="hn0",
               addr=nv)
    dimm.check_pmem0(vm, path, 128 * MiB, b"VHM-PMEM-MARK")


def label_slots(config_size):
    """Namespace label slots libnvdimm finds in an unformatted label area
    of @config_size bytes (drivers/nvdimm/label.c,
    nvdimm_num_label_slots(): 256-byte labels, two index blocks of 72
    bytes plus a bit per slot, each rounded up to 256 bytes)."""
    label, align = 256, 256
    nslot = config_size // label
    index = -(-(72 + -(-nslot // 8)) // align) * align
    return (config_size - 2 * index) // label


def check_nvdimm_labels(vm, nv):
    """An nvdimm with a label area, hot-added at @nv: the guest learns
    its label commands from _DSM function 0, and its dimm driver reads
    the area's size and contents (Get Namespace Label Size and Data),
    each call through the _DSM page: available_slots exists only then,
    and counts the slots of an area of the size given here."""
    label = 128 * 1024
    nvdimm_backend(vm, "hn1", 128 * MiB)
    before = set(vm.check("ls /sys/bus/nd/devices").split())
    vm.qmp.cmd("device_add", driver="nvdimm", id="nv1", memdev="hn1",
               addr=nv, **{"label-size": label})
    deadline = time.monotonic() + 30
    while True:
        new = set(vm.check("ls /sys/bus/nd/devices").split()) - before
        nmem = [d for d in new if d.startswith("nmem")]
        if nmem:
            break
        assert time.monotonic() < deadline, "no new nmem: %s" % new
        time.sleep(0.2)
    assert len(nmem) == 1, new
    sysfs = "/sys/bus/nd/devices/" + nmem[0]
    cmds = vm.check("cat %s/commands" % sysfs).split()
    assert {"get_size", "get_data", "set_data"} <= set(cmds), cmds
    vm.check("for i in $(seq 100); do [ -e %s/driver ] && break; "
             "sleep 0.1; done" % sysfs)
    # One slot stays in reserve (available_slots_show())
    slots = vm.check("cat %s/available_slots" % sysfs).strip()
    assert slots == str(label_slots(label) - 1), \
        "available_slots %s, not %d" % (slots, label_slots(label) - 1)


def check_hotplug(vm, dm_base, nvdimm):
    """pc-dimm hot-added then removed, nvdimm hot-added (if @nvdimm), at
    addresses given here from device memory's base @dm_base."""
    dimm, nv = dm_base, dm_base + 1 * GiB
    vm.qmp.cmd("object-add", **{"qom-type": "memory-backend-ram",
                                "id": "hm0", "size": 512 * MiB})
    vm.qmp.cmd("device_add", driver="pc-dimm", id="dimm0", memdev="hm0",
               addr=dimm)
    wait_iomem(vm, dimm)
    iomem = guest.parse_iomem(vm.check("cat /proc/iomem"))
    assert any(s <= dimm and dimm + 512 * MiB - 1 <= e for s, e in iomem), \
        "hot-added DIMM at %#x not System RAM: %s" % (dimm, hexr(iomem))
    if nvdimm:
        check_nvdimm(vm, nv)
        check_nvdimm_labels(vm, nv + 1 * GiB)

    vm.qmp.cmd("device_del", id="dimm0")
    guest.wait_event(vm, "DEVICE_DELETED for dimm0", guest.deleted("dimm0"),
                     30)
    out = vm.check("grep '^%x-' /proc/iomem || true" % dimm)
    assert "System RAM" not in out, "removed DIMM still in /proc/iomem"


def run_layout(machine_opts, mem, banks, dm_base, name, nvdimm=True):
    with acpi_guest(machine_opts, mem + ",slots=4,maxmem=16G", name,
                    nvdimm=nvdimm) as vm:
        vm.wait_shell(timeout=180)
        check_boot(vm, banks, nvdimm)
        check_hotplug(vm, dm_base, nvdimm)


def test_default_layout():
    """RAM at 1 GiB (virt's), device memory from the next GiB after it."""
    run_layout("", "1G", [(1 * GiB, 1 * GiB)], 2 * GiB, "acpi-default")


def test_ram_base_512g():
    """No RAM below 4 GiB: the nvdimms' _DSM page is in virt's secure-RAM
    window."""
    run_layout("ram-base=0x8000000000", "1G", [(512 * GiB, 1 * GiB)],
               513 * GiB, "acpi-512g")


def test_arm_den0001():
    """4 GiB in Arm's DRAM windows (DEN0001: 2 GiB at 2 GiB, then from
    34 GiB); device memory from the next GiB after the last bank."""
    run_layout("memory-layout=arm-den0001", "4G",
               [(2 * GiB, 2 * GiB), (34 * GiB, 2 * GiB)], 36 * GiB,
               "acpi-den0001")


def test_migration():
    """RAM at 512 GiB with nvdimm=on, a pc-dimm hot-added, then migrated
    to a second QEMU: the handoff (EFI and ACPI tables in the first bank,
    the _DSM page in its own RAM) and the DIMM arrive byte for byte, and
    on the destination the guest answers on its console, still sees its
    ACPI tables and onlines a second DIMM hot-added there (the GED works
    after the move)."""
    opts = "acpi=on,ram-base=0x8000000000,nvdimm=on"
    mem = "1G,slots=4,maxmem=8G"
    dm = 513 * GiB
    dimm_args = ["-object", "memory-backend-ram,id=hm0,size=512M",
                 "-device", "pc-dimm,id=dimm0,memdev=hm0,addr=%#x" % dm]
    src = guest.arm64_guest(machine_opts=opts, mem=mem, cmdline=CMDLINE,
                            name="acpi-mig-src")
    dst = guest.arm64_guest(machine_opts=opts, mem=mem, cmdline=CMDLINE,
                            extra=dimm_args + ["-incoming", "defer"],
                            name="acpi-mig-dst")
    with src:
        src.wait_shell(timeout=180)
        rows = [(r["base"], r["size"]) for r in
                src.qmp.cmd("query-memory-layout")["regions"]
                if r["kind"] == "boot-tables"]
        assert rows, "no boot-tables rows"
        assert SECURE_MEM[0] in [b for b, _ in rows], rows
        src.qmp.cmd("object-add", **{"qom-type": "memory-backend-ram",
                                     "id": "hm0", "size": 512 * MiB})
        src.qmp.cmd("device_add", driver="pc-dimm", id="dimm0",
                    memdev="hm0", addr=dm)
        wait_iomem(src, dm)
        src.check("echo VHM-BEFORE-MIGRATION > /tmp/mark")
        with dst:
            status = guest.migrate(src, dst)
            assert status == "completed", "migration %s" % status
            for base, size in rows + [(dm, 512 * MiB)]:
                a = src.qmp.cmd("pmemsave", val=base, size=size,
                                filename=os.path.join(src.tmp, "m"))
                b = dst.qmp.cmd("pmemsave", val=base, size=size,
                                filename=os.path.join(dst.tmp, "m"))
                assert a == b == {}
                with open(os.path.join(src.tmp, "m"), "rb") as f:
                    a = f.read()
                with open(os.path.join(dst.tmp, "m"), "rb") as f:
                    b = f.read()
                assert a == b, "[%#x, +%#x) differs after migration" % (
                    base, size)
            deadline = time.monotonic() + 10
            while dst.qmp.cmd("query-status")["status"] != "running":
                assert time.monotonic() < deadline, "destination not running"
                time.sleep(0.1)
            assert "VHM-BEFORE-MIGRATION" in dst.check("cat /tmp/mark")
            assert "SPCR" in dst.check("ls /sys/firmware/acpi/tables")
            dst.qmp.cmd("object-add", **{"qom-type": "memory-backend-ram",
                                         "id": "hm1", "size": 256 * MiB})
            dst.qmp.cmd("device_add", driver="pc-dimm", id="dimm1",
                        memdev="hm1", addr=dm + GiB)
            wait_iomem(dst, dm + GiB)


def test_cold_dimms_numa():
    """Two NUMA nodes (512 MiB of RAM each), device memory at 2 TiB and a
    cold-plugged pc-dimm on each node, node 0's first.  The SRAT the
    kernel parsed has an entry for each DIMM, over exactly its range and
    on its node, and the node's sysfs directory holds the DIMM's memory
    blocks (the kernel numbers nodes in the order it meets proximity
    domains: the CPU's, then RAM's, so PXM n is node n here)."""
    dm = 2048 * GiB
    dimms = [(dm + 1 * GiB, 512 * MiB, 0), (dm + 2 * GiB, 256 * MiB, 1)]
    extra = ["-object", "memory-backend-ram,id=r0,size=512M",
             "-object", "memory-backend-ram,id=r1,size=512M",
             "-numa", "node,nodeid=0,memdev=r0",
             "-numa", "node,nodeid=1,memdev=r1"]
    for i, (addr, size, node) in enumerate(dimms):
        extra += ["-object", "memory-backend-ram,id=d%d,size=%d" % (i, size),
                  "-device", "pc-dimm,id=dimm%d,memdev=d%d,node=%d,addr=%#x"
                  % (i, i, node, addr)]
    vm = guest.arm64_guest(machine_opts="acpi=on,device-memory-base=2T",
                           mem="1G,slots=2,maxmem=4G", cmdline=CMDLINE,
                           extra=extra, name="acpi-numa")
    with vm:
        vm.wait_shell(timeout=180)
        console = vm.console.decode(errors="replace").replace("\r", "")
        srat = {}
        for n, p, s, e, hp in re.findall(
                r"SRAT: Node (\d+) PXM (\d+) \[mem 0x([0-9a-f]+)-"
                r"0x([0-9a-f]+)\]( hotplug)?", console):
            srat[(int(s, 16), int(e, 16))] = (int(n), int(p), bool(hp))
        print("# SRAT as the guest parsed it: %s" % sorted(
            (hex(s), hex(e), v) for (s, e), v in srat.items()))
        block = guest.memory_block_size(vm)
        for addr, size, node in dimms:
            key = (addr, addr + size - 1)
            assert srat.get(key) == (node, node, True), \
                "SRAT entry for the DIMM %s on node %d: %s" % (
                    hexr([key]), node, srat.get(key))
            last = (addr + size) // block - 1
            vm.check("for i in $(seq 100); do [ -e /sys/devices/system/node/"
                     "node%d/memory%d ] && break; sleep 0.1; done" %
                     (node, last))
            for n in (0, 1):
                have = {int(m) for m in re.findall(r"memory(\d+)", vm.check(
                    "ls /sys/devices/system/node/node%d" % n))}
                want = set(range(addr // block, last + 1))
                if n == node:
                    assert want <= have, "node%d lacks blocks %s" % (
                        n, sorted(want - have))
                else:
                    assert not want & have, "node%d has blocks %s" % (
                        n, sorted(want & have))


def test_numa_dsm_window():
    """RAM at 512 GiB on two NUMA nodes (512 MiB each) with nvdimm=on:
    the _DSM page's window below RAM has its own SRAT entry, on node 0
    (the node of the first RAM bank), so the kernel keeps the SRAT (no
    "invalid memblk node" and one fake node): both nodes exist, each
    holds the memory blocks of exactly its RAM (node 0 also the block
    of the window), and a hot-added nvdimm still works through the
    _DSM page."""
    base, half = 512 * GiB, 512 * MiB
    nodes = [(base, half), (base + half, half)]
    extra = ["-object", "memory-backend-ram,id=r0,size=512M",
             "-object", "memory-backend-ram,id=r1,size=512M",
             "-numa", "node,nodeid=0,memdev=r0",
             "-numa", "node,nodeid=1,memdev=r1"]
    vm = guest.arm64_guest(
        machine_opts="acpi=on,gic-version=3,ram-base=0x8000000000,"
        "nvdimm=on", mem="1G,slots=2,maxmem=4G", cmdline=CMDLINE,
        modules=NVDIMM_MODULES, extra=extra, name="acpi-numa-dsm")
    with vm:
        vm.wait_shell(timeout=180)
        dmesg = vm.check("dmesg")
        print("# " + "\n# ".join(l for l in dmesg.splitlines()
                                 if "SRAT: Node" in l or "NUMA" in l))
        assert "invalid memblk" not in dmesg and "Faking a node" not in \
            dmesg, [l for l in dmesg.splitlines() if "NUMA" in l]
        window = re.findall(r"SRAT: Node (\d+) PXM \d+ \[mem 0x%08x-"
                            r"0x([0-9a-f]+)\]" % SECURE_MEM[0], dmesg)
        assert len(window) == 1 and window[0][0] == "0" and \
            int(window[0][1], 16) < sum(SECURE_MEM), window
        assert "Brought up 2 nodes" in dmesg
        vm.check("[ -d /sys/devices/system/node/node1 ]")
        block = guest.memory_block_size(vm)
        for n, (start, size) in enumerate(nodes):
            have = {int(m) for m in re.findall(r"memory(\d+)", vm.check(
                "ls /sys/devices/system/node/node%d" % n))}
            want = set(range(start // block, (start + size) // block))
            if n == 0:
                want.add(SECURE_MEM[0] // block)
            assert have == want, "node%d has blocks %s, not %s" % (
                n, sorted(have), sorted(want))
        check_nvdimm(vm, base + 1 * GiB)


def kernel_config(flavour):
    """CONFIG_* of @flavour's kernel as its package ships it (/boot/
    config-*): name -> 'y', 'm', or None if not set."""
    cfg = {}
    with open(os.path.join(guest.guest_assets(flavour), "config")) as f:
        for line in f:
            m = re.match(r"^(CONFIG_\w+)=(\S+)$", line.strip()) or \
                re.match(r"^# (CONFIG_\w+) is not set$", line.strip())
            if m:
                cfg[m.group(1)] = m.group(2) if m.lastindex == 2 else None
    return cfg


def test_generic_flavour():
    """Debian's generic arm64 kernel (same version as the cloud one) at
    the default layout: booted with ACPI (tables, stub device tree, SPCR,
    virtio-pci disk and NIC, as check_boot), an nvdimm hot-added becomes
    /dev/pmem0 and its label area is read through the _DSM (the flavour
    has ACPI_NFIT).  A pc-dimm is onlined only if the flavour's config
    has ACPI_HOTPLUG_MEMORY; Debian's generic flavour does not ('#
    CONFIG_ACPI_HOTPLUG_MEMORY is not set'), so its guest acknowledges
    the hot-add (_OST, status 0) and adds no memory: the range is
    neither System RAM nor a memory block.  Removing that DIMM works
    (DEVICE_DELETED), there being nothing to offline."""
    cfg = kernel_config("generic")
    for need in ("CONFIG_ACPI", "CONFIG_EFI", "CONFIG_ACPI_NUMA"):
        assert cfg.get(need) == "y", "%s=%s" % (need, cfg.get(need))
    assert cfg.get("CONFIG_ACPI_NFIT") in ("y", "m"), \
        cfg.get("CONFIG_ACPI_NFIT")
    memhp = cfg.get("CONFIG_ACPI_HOTPLUG_MEMORY") == "y"
    print("# generic flavour: CONFIG_ACPI_HOTPLUG_MEMORY=%s, "
          "CONFIG_ACPI_NFIT=%s" % (cfg.get("CONFIG_ACPI_HOTPLUG_MEMORY"),
                                   cfg.get("CONFIG_ACPI_NFIT")))
    dm = 2 * GiB
    with acpi_guest("", "1G,slots=4,maxmem=16G", "acpi-generic",
                    flavour="generic") as vm:
        vm.wait_shell(timeout=180)
        check_boot(vm, [(1 * GiB, 1 * GiB)])
        check_nvdimm(vm, dm + 1 * GiB)
        check_nvdimm_labels(vm, dm + 2 * GiB)
        if memhp:
            check_hotplug(vm, dm, nvdimm=False)
            return
        vm.qmp.cmd("object-add", **{"qom-type": "memory-backend-ram",
                                    "id": "hm0", "size": 512 * MiB})
        vm.qmp.cmd("device_add", driver="pc-dimm", id="dimm0", memdev="hm0",
                   addr=dm)
        # The guest handled the device check (ACPI_NOTIFY_DEVICE_CHECK, 1)
        ost = guest.wait_event(
            vm, "_OST for dimm0", lambda e: guest.ost_of("dimm0")(e) and
            e["data"]["info"]["source"] == 1, 30)
        assert ost["data"]["info"]["status"] == 0, ost
        iomem = guest.parse_iomem(vm.check("cat /proc/iomem"))
        assert not any(s <= dm <= e for s, e in iomem), \
            "DIMM at %#x is System RAM without ACPI_HOTPLUG_MEMORY" % dm
        block = guest.memory_block_size(vm)
        assert vm.shell("[ -e /sys/devices/system/memory/memory%d ]" %
                        (dm // block))[0] != 0, "memory block for the DIMM"
        vm.qmp.cmd("device_del", id="dimm0")
        guest.wait_event(vm, "DEVICE_DELETED for dimm0",
                         guest.deleted("dimm0"), 30)


# --- without a guest -------------------------------------------------------

def qemu(args, timeout=30):
    cpu = [] if "-cpu" in args else ["-cpu", "max"]
    return subprocess.run([guest.QEMU_AARCH64, "-nodefaults", "-display",
                           "none", "-accel", "tcg"] + cpu + args,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def dumpdtb(machine, tmp):
    path = os.path.join(tmp, "%d.dtb" % len(os.listdir(tmp)))
    kernel = os.path.join(guest.guest_assets(), "vmlinuz")
    r = qemu(["-M", machine + ",dumpdtb=" + path, "-kernel", kernel])
    assert r.returncode == 0, r.stderr
    dts = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", path],
                         capture_output=True, text=True, check=True).stdout
    # Random on every start
    return re.sub(r"(rng|kaslr)-seed = [^;]*;", "", dts)


def test_acpi_auto_is_stock():
    """acpi=auto (the default) and acpi=off boot the same device tree as
    before: a full one, no EFI properties; acpi=on gives a stub."""
    with tempfile.TemporaryDirectory() as tmp:
        auto = dumpdtb("virt-hotmem,acpi=auto", tmp)
        default = dumpdtb("virt-hotmem", tmp)
        on = dumpdtb("virt-hotmem,acpi=on", tmp)
    assert auto == default
    assert "pl011@9000000" in auto and "linux,uefi" not in auto
    assert "pl011" not in on and "linux,uefi-system-table" in on


def bad(args, *words):
    r = qemu(args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1, "exit %d: %s" % (r.returncode, r.stderr)
    assert len(lines) == 1, "not one line: %r" % r.stderr
    for w in words:
        assert w in lines[0], "%r not in %r" % (w, lines[0])


def test_bad_input():
    kernel = os.path.join(guest.guest_assets(), "vmlinuz")
    with tempfile.TemporaryDirectory() as tmp:
        fw = os.path.join(tmp, "fw.bin")
        with open(fw, "wb") as f:
            f.write(b"\0" * 4096)
        notimage = os.path.join(tmp, "notimage")
        with open(notimage, "wb") as f:
            f.write(b"#!/bin/sh\necho not a kernel\n" * 100)
        big = os.path.join(tmp, "initrd")
        with open(big, "wb") as f:
            f.truncate(300 * MiB)
        bad(["-M", "virt-hotmem,acpi=on", "-bios", fw, "-kernel", kernel],
            "acpi=on", "firmware")
        bad(["-M", "virt-hotmem,acpi=on"], "acpi=on", "-kernel")
        bad(["-M", "virt-hotmem,acpi=on", "-kernel", notimage],
            "acpi=on", notimage, "not an arm64 Image")
        bad(["-M", "virt-hotmem,acpi=on", "-kernel", kernel,
             "-append", "x" * 3000], "acpi=on", "3000 bytes")
        bad(["-M", "virt-hotmem,acpi=on", "-m", "256M", "-kernel", kernel,
             "-initrd", big], big)
        bad(["-M", "virt-hotmem,acpi=on,nvdimm=on,ram-base=512G,secure=on",
             "-m", "1G,slots=2,maxmem=4G", "-kernel", kernel],
            "acpi=on", "_DSM", "0xe000000", "secure=on")
        bad(["-M", "virt-hotmem,acpi=on", "-cpu", "cortex-a15",
             "-kernel", kernel], "acpi=on", "not 64-bit")
        bad(["-M", "virt-hotmem,acpi=on,ras=on", "-kernel", kernel],
            "acpi=on", "ras=on")


if __name__ == "__main__":
    tap.main([("acpi-direct/bad-input", test_bad_input),
              ("acpi-direct/acpi-auto-is-stock", test_acpi_auto_is_stock),
              ("acpi-direct/default-layout", test_default_layout),
              ("acpi-direct/ram-base-512g", test_ram_base_512g),
              ("acpi-direct/arm-den0001", test_arm_den0001),
              ("acpi-direct/migration", test_migration),
              ("acpi-direct/cold-dimms-numa", test_cold_dimms_numa),
              ("acpi-direct/numa-dsm-window", test_numa_dsm_window),
              ("acpi-direct/generic-flavour", test_generic_flavour)])
