#!/usr/bin/env python3
#
# Acceptance: the default devices of Debian's qemu-system-arm and
# qemu-system-x86 are in our binaries and work.
# - The Debian arm64 guest on -M virt-hotmem, each virtio device behind its
#   own pcie-root-port (as libvirt plugs them), plus qemu-xhci, e1000e and
#   NVMe: the guest's own PCI enumeration (/sys/bus/pci/devices) finds each
#   one with the vendor/device ID of its specification.  The guest writes
#   through virtio-blk and virtio-scsi and the test finds the bytes in the
#   backing files.
# - q35 realizes the same set (on its root bus); the PCI IDs are read
#   with query-pci.
# - qemu-xhci with usb-tablet and usb-kbd: the devices are attached to the
#   controller's root ports (the Debian cloud kernels have no USB drivers,
#   so the guest cannot list them; QEMU's 'info usb' is the witness).
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import armkvm, guest, tap  # noqa: E402

# PCI IDs from the specifications, not from QEMU: virtio 1.x devices are
# vendor 0x1af4, device 0x1040 + the virtio device ID (virtio spec 1.2,
# 4.1.2.1 and 5 "Device Types"); Red Hat's QEMU IDs 0x1b36 are listed in
# the PCI ID repository (pcie-root-port 0x000c, qemu-xhci 0x000d, NVMe
# 0x0010); e1000e is Intel's 82574L, 0x8086:0x10d3.
VIRTIO = 0x1af4
VIRTIO_DEVICE_IDS = {"net": 1, "block": 2, "console": 3, "entropy": 4,
                     "balloon": 5, "scsi": 8, "gpu": 16, "input": 18,
                     "vsock": 19}
PCIE_ROOT_PORT = (0x1b36, 0x000c)
QEMU_XHCI = (0x1b36, 0x000d)
NVME = (0x1b36, 0x0010)
E1000E = (0x8086, 0x10d3)

VSOCK_HOST = "/dev/vhost-vsock"
BLK_PATTERN = b"VHM-VIRTIO-BLK-WRITE"
SCSI_PATTERN = b"VHM-VIRTIO-SCSI-WRITE"


def virtio_id(kind):
    return (VIRTIO, 0x1040 + VIRTIO_DEVICE_IDS[kind])


def default_devices(tmp, root_ports=True):
    """(-device arguments, expected PCI IDs) of the default-device set.
    Each virtio device sits behind its own pcie-root-port, so it is a
    modern-only PCIe device; without @root_ports (no firmware numbers the
    buses behind them before query-pci), they are on the root bus, made
    modern-only with disable-legacy=on, beside one empty root port."""
    blk = os.path.join(tmp, "blk.raw")
    scsi = os.path.join(tmp, "scsi.raw")
    for path in (blk, scsi):
        with open(path, "wb") as f:
            f.truncate(1 << 20)
    args = ["-blockdev", "driver=file,filename=%s,node-name=blk0" % blk,
            "-blockdev", "driver=file,filename=%s,node-name=scsi0" % scsi,
            "-blockdev", "driver=null-co,node-name=nvme0"]
    virtio = [("virtio-net-pci,netdev=n0", "net"),
              ("virtio-blk-pci,drive=blk0", "block"),
              ("virtio-serial-pci", "console"),
              ("virtio-rng-pci", "entropy"),
              ("virtio-balloon-pci", "balloon"),
              ("virtio-scsi-pci,id=scsi", "scsi"),
              ("virtio-gpu-pci", "gpu"),
              ("virtio-tablet-pci", "input")]
    if os.path.exists(VSOCK_HOST):
        virtio.append(("vhost-vsock-pci,guest-cid=77", "vsock"))
    args += ["-netdev", "user,id=n0"]
    want = []
    for n, (dev, kind) in enumerate(virtio):
        if root_ports:
            args += ["-device", "pcie-root-port,id=rp%d,chassis=%d" %
                     (n, n + 1), "-device", "%s,bus=rp%d" % (dev, n)]
            want += [PCIE_ROOT_PORT, virtio_id(kind)]
        else:
            args += ["-device", "%s,disable-legacy=on" % dev]
            want += [virtio_id(kind)]
    if not root_ports:
        args += ["-device", "pcie-root-port,id=rp0,chassis=1"]
        want += [PCIE_ROOT_PORT]
    args += ["-device", "scsi-hd,drive=scsi0,bus=scsi.0",
             "-device", "qemu-xhci,id=xhci",
             "-device", "usb-tablet,bus=xhci.0",
             "-device", "usb-kbd,bus=xhci.0",
             "-device", "e1000e,netdev=n1", "-netdev", "user,id=n1",
             "-device", "nvme,serial=vhm0,drive=nvme0"]
    want += [QEMU_XHCI, E1000E, NVME]
    return args, sorted(want), blk, scsi


def guest_pci_ids(vm):
    out = vm.check("for d in /sys/bus/pci/devices/*; do "
                   "echo PCI $(cat $d/vendor) $(cat $d/device); done")
    return sorted((int(v, 16), int(d, 16)) for v, d in
                  re.findall(r"^PCI (0x[0-9a-f]+) (0x[0-9a-f]+)$", out, re.M))


def missing(want, got):
    left = list(got)
    out = []
    for w in want:
        if w in left:
            left.remove(w)
        else:
            out.append("%04x:%04x" % w)
    return out


def check_usb_hid(vm):
    usb = vm.qmp.hmp("info usb")
    for product in ("QEMU USB Tablet", "QEMU USB Keyboard"):
        assert "Product %s" % product in usb, usb


# In load order, for the guest's writes through virtio-blk and virtio-scsi.
BLOCK_MODULES = ("kernel/drivers/virtio/virtio_ring.ko",
                 "kernel/drivers/virtio/virtio.ko",
                 "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
                 "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
                 "kernel/drivers/virtio/virtio_pci.ko",
                 "kernel/drivers/block/virtio_blk.ko",
                 "kernel/drivers/scsi/scsi_common.ko",
                 "kernel/drivers/scsi/scsi_mod.ko",
                 "kernel/drivers/scsi/virtio_scsi.ko",
                 "kernel/drivers/scsi/sd_mod.ko")


def available_modules():
    root = os.path.join(guest.guest_assets(), "modules")
    return [m for m in BLOCK_MODULES if os.path.exists(os.path.join(root, m))]


def test_arm64_guest_enumerates_default_devices():
    tmp = tempfile.mkdtemp(prefix="vhm-devs-")
    try:
        args, want, blk, scsi = default_devices(tmp)
        modules = available_modules()
        with guest.arm64_guest(extra=args, name="devs", mem="512M",
                               modules=modules) as vm:
            vm.wait_shell()
            got = guest_pci_ids(vm)
            check_usb_hid(vm)
            for m in modules:
                vm.check("insmod /modules/" + os.path.basename(m))
            # The disks appear asynchronously after the drivers bind.
            vm.check("for i in $(seq 100); do [ -b /dev/vda ] && "
                     "[ -b /dev/sda ] && break; sleep 0.1; done; "
                     "[ -b /dev/vda ] && [ -b /dev/sda ]", timeout=30)
            vm.check("printf %s > /dev/vda && sync" % BLK_PATTERN.decode())
            vm.check("printf %s > /dev/sda && sync" % SCSI_PATTERN.decode())
            vm.check("echo 1 > /proc/sys/vm/drop_caches")
        assert not missing(want, got), (
            "the guest does not see %s; it sees %s" %
            (missing(want, got), ["%04x:%04x" % g for g in got]))
        with open(blk, "rb") as f:
            assert f.read(len(BLK_PATTERN)) == BLK_PATTERN, "virtio-blk"
        with open(scsi, "rb") as f:
            assert f.read(len(SCSI_PATTERN)) == SCSI_PATTERN, "virtio-scsi"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pci_ids(buses):
    """(vendor, device) of every device in query-pci's @buses."""
    ids = []

    def walk(devices):
        for d in devices:
            ids.append((d["id"]["vendor"], d["id"]["device"]))
            walk(d.get("pci_bridge", {}).get("devices", []))
    for bus in buses:
        walk(bus["devices"])
    return sorted(ids)


def query_pci_ids(vm):
    return pci_ids(vm.qmp.cmd("query-pci"))


def test_q35_default_devices():
    tmp = tempfile.mkdtemp(prefix="vhm-devs-")
    try:
        args, want, _, _ = default_devices(tmp, root_ports=False)
        with guest.VM(["-M", "q35", "-accel", "tcg", "-m", "256M", "-S"] +
                      args, binary=guest.QEMU_X86_64, name="devs-q35") as vm:
            got = query_pci_ids(vm)
            check_usb_hid(vm)
        assert not missing(want, got), (
            "q35 lacks %s; query-pci lists %s" %
            (missing(want, got), ["%04x:%04x" % g for g in got]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_vsock():
    """vhost-vsock-pci on virt-hotmem: on this machine's vhost-vsock, or,
    where its kernel has none, in the emulated Arm host, whose kernel
    loads vhost_vsock (vhm/armkvm.py), under its KVM."""
    if os.path.exists(VSOCK_HOST):
        with guest.VM(["-M", "virt-hotmem", "-accel", "tcg", "-S",
                       "-device", "vhost-vsock-pci,guest-cid=78"],
                      name="vsock") as vm:
            got = query_pci_ids(vm)
    else:
        armkvm.require_artifact()
        host = armkvm.ArmKvmHost("cortex-a53")
        try:
            host.start()
            host.vm.check("[ -c %s ]" % VSOCK_HOST)
            vm = host.nested("vsock", ["-M", "virt-hotmem", "-m", "256M",
                                       "-S", "-device",
                                       "vhost-vsock-pci,guest-cid=78"])
            vm.launch()
            try:
                got = pci_ids(vm.qmp("query-pci"))
            finally:
                vm.stop()
        finally:
            host.stop()
        print("# %s missing here: vhost-vsock-pci ran in the emulated Arm "
              "host, under its KVM" % VSOCK_HOST, flush=True)
    assert virtio_id("vsock") in got, ["%04x:%04x" % g for g in got]


if __name__ == "__main__":
    tap.main([("devices/arm64-guest-enumerates-default-devices",
               test_arm64_guest_enumerates_default_devices),
              ("devices/q35-default-devices", test_q35_default_devices),
              ("devices/vhost-vsock", test_vsock)])
