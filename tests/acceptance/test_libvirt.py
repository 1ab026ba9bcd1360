#!/usr/bin/env python3
#
# Acceptance: libvirt's everyday domain on our binaries.  Debian's libvirtd
# (started here in a mount namespace of its own, vhm/libvirt.py) and
# Debian's virt-install create, on each target,
#
#   virt-install --arch aarch64 --machine virt-hotmem --boot uefi,...
#   virt-install --arch x86_64 --machine q35 --boot kernel=...
#     --memory 2048,maxMemory=8192,maxMemory.slots=4 --disk size=2
#     --network user --graphics vnc --import (virtio disk and NIC)
#
# with <emulator> pointing at build/qemu-system-aarch64 or
# build/qemu-system-x86_64 (domain type qemu: TCG).  The arm64 domain
# boots Debian's arm64 cloud kernel through Debian's AAVMF, found through
# /usr/share/qemu/firmware; the q35 one boots Debian's amd64 cloud kernel
# (ACPI memory hotplug built in) through SeaBIOS, found without -L.  Both
# run an initramfs built here.  Then, each step checked in the guest: it
# sees the 2 GiB disk, 2 GiB of RAM and gets a DHCP lease from the user
# network; VNC answers; virsh attach-device of a 1 GiB <memory
# model='dimm'> adds 1 GiB of System RAM to /proc/iomem, grows MemTotal
# and dominfo/domstats by 1 GiB; detach-device gives it back; managedsave
# + start restores the guest with its shell and memory intact.
#
# And README.md's precise-tsc domain (type kvm, q35, <qemu:commandline>
# carrying -global kvm-accel.precise-tsc=on, as patches/0012 allows),
# read from README.md itself and started on the host's /dev/kvm: QEMU's
# command line has libvirt's -accel kvm and the -global, and virsh
# qemu-monitor-command's query-precise-tsc says enabled.  It needs QEMU
# up and QMP answering, not a booted guest.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, libvirt, tap  # noqa: E402

KiB = 1024
BASE_MIB = 2048
DIMM_MIB = 1024
# Modules of the guest: virtio PCI, the disk and the NIC.
MODULES = ("kernel/drivers/virtio/virtio_ring.ko",
           "kernel/drivers/virtio/virtio.ko",
           "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
           "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
           "kernel/drivers/virtio/virtio_pci.ko",
           "kernel/drivers/block/virtio_blk.ko",
           "kernel/net/core/failover.ko",
           "kernel/drivers/net/net_failover.ko",
           "kernel/drivers/net/virtio_net.ko")
# What both domains have in common; the DIMM needs a NUMA node.  virtio
# disk and NIC: with no OS it knows, virt-install would give q35 SATA and
# e1000e (arm64 gets virtio either way).
COMMON = ["--virt-type", "qemu", "--vcpus", "1",
          "--memory", "%d,maxMemory=8192,maxMemory.slots=4" % BASE_MIB,
          "--disk", "size=2,bus=virtio", "--network", "user,model=virtio",
          "--graphics", "vnc",
          "--osinfo", "detect=on,require=off", "--import", "--noautoconsole"]
NUMA = "cell0.id=0,cell0.cpus=0,cell0.memory=%d" % (BASE_MIB * KiB)
README = os.path.join(guest.ROOT, "README.md")
# What README.md's precise-tsc domain names, replaced by this run's.
README_NAME = "<name>precise-tsc</name>"
README_EMULATOR = "<emulator>/usr/local/bin/qemu-system-x86_64</emulator>"


def run_domain(domain, emulator, install_args, initrd_args):
    """Start a private libvirtd, virt-install @domain with @install_args
    (the initramfs' path is passed as %(initrd)s), run the everyday
    steps, tear everything down."""
    reason = libvirt.why_no_libvirt()
    if reason:
        raise tap.Skip(reason)
    tmp = tempfile.mkdtemp(prefix="vhm-libvirt-")
    lv = libvirt.Libvirtd(tmp, domain)
    try:
        lv.start()
        initrd = guest.build_initramfs(os.path.join(tmp, "initrd.gz"),
                                       MODULES, **initrd_args)
        console_path = os.path.join(tmp, "console.sock")
        lv.run(["virt-install", "--connect", lv.uri, "--name", lv.domain] +
               [a % {"initrd": initrd} for a in install_args] + COMMON +
               ["--serial",
                "unix,source.path=%s,source.mode=bind" % console_path,
                "--xml", "./devices/emulator=%s" % emulator], timeout=300)
        xml = lv.virsh("dumpxml", lv.domain)[1]
        assert "<emulator>%s</emulator>" % emulator in xml, xml
        libvirt.everyday(lv, tmp, console_path, MODULES, BASE_MIB, DIMM_MIB)
    finally:
        lv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_virt_install_arm64():
    if not os.path.exists(guest.AAVMF_CODE):
        raise tap.Skip("no %s (qemu-efi-aarch64)" % guest.AAVMF_CODE)
    vmlinuz = os.path.join(guest.guest_assets(), "vmlinuz")
    run_domain("vhm-libvirt-arm64", guest.QEMU_AARCH64, [
        "--arch", "aarch64", "--machine", "virt-hotmem",
        "--cpu", "max," + NUMA,
        # Plain UEFI: the first descriptor libvirt would pick has Secure
        # Boot with Microsoft's keys, which refuses our kernel.
        "--boot", "uefi,firmware.feature0.name=secure-boot,"
        "firmware.feature0.enabled=no,firmware.feature1.name=enrolled-keys,"
        "firmware.feature1.enabled=no,kernel=%s,initrd=%%(initrd)s,"
        "kernel_args=console=ttyAMA0 panic=-1" % vmlinuz], {})


def test_virt_install_q35():
    amd64 = guest.amd64_guest_assets()
    run_domain("vhm-libvirt-q35", guest.QEMU_X86_64, [
        "--arch", "x86_64", "--machine", "q35",
        "--cpu", "qemu64," + NUMA,
        # SeaBIOS, found by the binary itself, then the kernel by
        # direct kernel boot.
        "--boot", "kernel=%s,initrd=%%(initrd)s,"
        "kernel_args=console=ttyS0 panic=-1" % amd64["kernel"]],
        {"amd64": amd64})


def readme_domain_xml(marker):
    """The one domain XML in README.md that holds @marker: an indented
    block from <domain to </domain>."""
    with open(README) as f:
        lines = f.read().splitlines()
    blocks, block = [], None
    for line in lines:
        if line.startswith("    <domain "):
            block = []
        if block is not None:
            block.append(line[4:])
            if line == "    </domain>":
                blocks.append("\n".join(block) + "\n")
                block = None
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, \
        "README.md has %d domain XMLs with %s" % (len(found), marker)
    return found[0]


def test_precise_tsc_domain():
    reason = libvirt.why_no_libvirt()
    if reason:
        raise tap.Skip(reason)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise tap.Skip("no usable /dev/kvm: the domain is of type kvm")
    xml = readme_domain_xml("kvm-accel.precise-tsc=on")
    tmp = tempfile.mkdtemp(prefix="vhm-libvirt-")
    lv = libvirt.Libvirtd(tmp, "vhm-precise-tsc")
    try:
        for old, new in ((README_NAME, "<name>%s</name>" % lv.domain),
                         (README_EMULATOR, "<emulator>%s</emulator>" %
                          guest.QEMU_X86_64)):
            assert xml.count(old) == 1, "README.md's domain lacks " + old
            xml = xml.replace(old, new)
        path = os.path.join(tmp, "precise-tsc.xml")
        with open(path, "w") as f:
            f.write(xml)
        lv.start()
        lv.virsh("create", path, timeout=300)
        argv = lv.qemu_argv()
        accel = [argv[i + 1] for i, a in enumerate(argv) if a == "-accel"]
        assert accel and all("precise-tsc" not in a for a in accel), argv
        assert ["-global", "kvm-accel.precise-tsc=on"] in \
            [argv[i:i + 2] for i in range(len(argv))], argv
        out = lv.virsh("qemu-monitor-command", lv.domain,
                       '{"execute":"query-precise-tsc"}')[1]
        assert json.loads(out)["return"]["enabled"] is True, out
    finally:
        lv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    tap.main([("libvirt/virt-install-arm64-virt-hotmem-everyday",
               test_virt_install_arm64),
              ("libvirt/virt-install-q35-everyday",
               test_virt_install_q35),
              ("libvirt/q35-kvm-precise-tsc-qemu-commandline",
               test_precise_tsc_domain)])
