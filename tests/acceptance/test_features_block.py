#!/usr/bin/env python3
#
# Acceptance: the block layer of Debian's qemu, checked against Debian's
# own qemu-utils (qemu-img, qemu-io, qemu-storage-daemon from
# bookworm-backports):
# - every image format Debian's qemu-img creates (qcow2, qed, vdi, vpc,
#   vhdx, vmdk, parallels, qcow) is opened by our binary, written through
#   it, and Debian's qemu-io reads back what we wrote; qemu-img check finds
#   no error where the format has a checker;
# - a zstd-compressed qcow2 cluster written by our binary is compressed in
#   Debian's qemu-img map and reads back in Debian's qemu-io;
# - vhost-user: the Debian arm64 guest writes to a vhost-user-blk disk
#   served by qemu-storage-daemon, and the bytes are in the daemon's image.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

FORMATS = ("qcow2", "qed", "vdi", "vpc", "vhdx", "vmdk", "parallels", "qcow")
# Formats whose driver implements 'qemu-img check'.
CHECKED = ("qcow2", "qed", "vdi", "vhdx", "parallels")


def need(tool):
    if not shutil.which(tool):
        raise tap.Skip("no %s (Debian package qemu-utils; "
                       "scripts/install-deps.sh guest)" % tool)


def run(*argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


def debian_reads(fmt, path, pattern, offset, length):
    rc, out = run("qemu-io", "-f", fmt, "-r", "-c",
                  "read -P 0x%02x %d %d" % (pattern, offset, length), path)
    assert rc == 0 and "read %d/%d bytes" % (length, length) in out, (
        "%s: Debian's qemu-io does not read our 0x%02x back: %s" %
        (fmt, pattern, out))


def test_image_formats():
    need("qemu-img")
    tmp = tempfile.mkdtemp(prefix="vhm-fmt-")
    try:
        args = []
        for i, fmt in enumerate(FORMATS):
            img = os.path.join(tmp, "disk." + fmt)
            rc, out = run("qemu-img", "create", "-q", "-f", fmt, img, "4M")
            assert rc == 0, out
            args += ["-blockdev", "driver=file,filename=%s,node-name=f%d"
                     % (img, i),
                     "-blockdev", "driver=%s,file=f%d,node-name=d%d"
                     % (fmt, i, i)]
        with guest.VM(["-M", "virt-hotmem", "-accel", "tcg", "-m", "128M",
                       "-S"] + args, name="formats") as vm:
            nodes = {n["node-name"]: n["drv"]
                     for n in vm.qmp.cmd("query-named-block-nodes")}
            for i, fmt in enumerate(FORMATS):
                out = vm.qmp.hmp('qemu-io d%d "write -P 0x%02x 65536 65536"'
                                 % (i, 0x40 + i))
                # qemu-io prints nothing through QMP: Debian's qemu-io
                # checks the effect below.
                assert "error" not in out.lower(), (fmt, out)
        for i, fmt in enumerate(FORMATS):
            assert nodes.get("d%d" % i) == fmt, nodes
            img = os.path.join(tmp, "disk." + fmt)
            debian_reads(fmt, img, 0x40 + i, 65536, 65536)
            if fmt in CHECKED:
                rc, out = run("qemu-img", "check", "-f", fmt, img)
                assert rc == 0, "%s: qemu-img check: %s" % (fmt, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_qcow2_zstd_compressed_cluster():
    need("qemu-img")
    tmp = tempfile.mkdtemp(prefix="vhm-zstd-")
    img = os.path.join(tmp, "zstd.qcow2")
    try:
        rc, out = run("qemu-img", "create", "-q", "-f", "qcow2", "-o",
                      "compression_type=zstd,cluster_size=65536", img, "4M")
        assert rc == 0, out
        with guest.VM(["-M", "virt-hotmem", "-accel", "tcg", "-m", "128M",
                       "-S", "-blockdev", "driver=qcow2,node-name=z0,"
                       "file.driver=file,file.filename=" + img],
                      name="zstd") as vm:
            out = vm.qmp.hmp('qemu-io z0 "write -c -P 0x33 65536 65536"')
            # qemu-io prints nothing through QMP: Debian's tools check
            # the effect below.
            assert "error" not in out.lower(), out
        rc, out = run("qemu-img", "map", "--output=json", "-f", "qcow2", img)
        assert rc == 0, out
        extents = [e for e in json.loads(out)
                   if e["start"] <= 65536 < e["start"] + e["length"]]
        assert extents and extents[0].get("compressed") is True, out
        rc, out = run("qemu-img", "info", "--output=json", img)
        assert json.loads(out)["format-specific"]["data"][
            "compression-type"] == "zstd", out
        debian_reads("qcow2", img, 0x33, 65536, 65536)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


VHOST_USER_BLK_MODULES = ("kernel/drivers/virtio/virtio_ring.ko",
                          "kernel/drivers/virtio/virtio.ko",
                          "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
                          "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
                          "kernel/drivers/virtio/virtio_pci.ko",
                          "kernel/drivers/block/virtio_blk.ko")
PATTERN = "VHM-VHOST-USER-BLK"


def test_vhost_user_blk():
    need("qemu-storage-daemon")
    tmp = tempfile.mkdtemp(prefix="vhm-vub-")
    img = os.path.join(tmp, "disk.raw")
    sock = os.path.join(tmp, "vub.sock")
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    daemon = subprocess.Popen(
        ["qemu-storage-daemon",
         "--blockdev", "driver=file,node-name=disk,filename=" + img,
         "--export", "type=vhost-user-blk,id=exp0,node-name=disk,"
         "writable=on,addr.type=unix,addr.path=" + sock],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            assert daemon.poll() is None, daemon.stderr.read().decode()
            assert time.monotonic() < deadline, "no vhost-user socket"
            time.sleep(0.05)
        # vhost-user needs guest RAM the back end can map: a shared memfd.
        with guest.arm64_guest(
                mem="512M", name="vub", modules=VHOST_USER_BLK_MODULES,
                extra=["-object", "memory-backend-memfd,id=mem,size=512M,"
                       "share=on", "-machine", "memory-backend=mem",
                       "-chardev", "socket,id=vub,path=" + sock,
                       "-device", "vhost-user-blk-pci,chardev=vub"]) as vm:
            vm.wait_shell()
            for m in VHOST_USER_BLK_MODULES:
                vm.check("insmod /modules/" + os.path.basename(m))
            vm.check("for i in $(seq 100); do [ -b /dev/vda ] && break; "
                     "sleep 0.1; done; [ -b /dev/vda ]", timeout=30)
            size = int(vm.check("cat /sys/block/vda/size").strip()) * 512
            vm.check("printf %s | dd of=/dev/vda bs=512 seek=8 conv=fsync "
                     "2>/dev/null" % PATTERN)
        with open(img, "rb") as f:
            f.seek(8 * 512)
            got = f.read(len(PATTERN))
        assert size == 8 << 20, "the guest's disk has %d bytes" % size
        assert got == PATTERN.encode(), got
    finally:
        daemon.terminate()
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    tap.main([("block/debian-image-formats-read-back", test_image_formats),
              ("block/qcow2-zstd-compressed-cluster",
               test_qcow2_zstd_compressed_cluster),
              ("block/vhost-user-blk-from-qemu-storage-daemon",
               test_vhost_user_blk)])
