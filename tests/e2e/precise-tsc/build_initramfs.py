#!/usr/bin/env python3
"""Build the initramfs of the emulated AMD-V host (L1) for the precise-tsc
end-to-end measurement, as an uncompressed newc cpio (no cpio tool needed).

It holds busybox (static) with its applet links, the three KVM modules and
virtio-net's, /init (from init.in), measure.sh, host.sh and lib.sh, the QMP
client, the clock tool of the two-host measurement, the L2 guest image, our
qemu-system-x86_64 with every shared library ldd lists and the dynamic
loader at the same paths, and the firmware files the L2 QEMU may load.

usage: build_initramfs.py --out FILE --busybox FILE --modules DIR
           --qemu FILE --qmp FILE --l2 FILE [--rounds N] [--downtime S]
           [--modes "on off"] [--leap FILE] [--hostclock FILE]
           [--role measure|host]

SPDX-License-Identifier: GPL-2.0-or-later
"""
import argparse
import os
import re
import stat
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KVM_MODULES = ("irqbypass.ko", "kvm.ko", "kvm-amd.ko")
# eth0 of the two-host measurement (virtio-net-pci)
NET_MODULES = ("virtio.ko", "virtio_ring.ko", "virtio_pci_legacy_dev.ko",
               "virtio_pci_modern_dev.ko", "virtio_pci.ko", "failover.ko",
               "net_failover.ko", "virtio_net.ko")
L2_FIRMWARE = ("kvmvapic.bin", "linuxboot_dma.bin")
FIRMWARE_DIR = "/usr/share/qemu"
# A fixed place: the build tree may be anywhere, even under /tmp, which
# L1's init covers with a tmpfs.  QEMU's libraries keep their system paths.
QEMU_IN_L1 = "/opt/vhm/qemu-system-x86_64"


class Cpio:
    """A newc archive written entry by entry."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        name = name.lstrip("/")
        nameb = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0,
                  len(data), 0, 0, rdev[0], rdev[1], len(nameb), 0)
        self.ino += 1
        hdr = b"070701" + b"".join(b"%08X" % v for v in fields)
        self.f.write(hdr + nameb)
        self.f.write(b"\0" * (-(len(hdr) + len(nameb)) % 4))
        self.f.write(data)
        self.f.write(b"\0" * (-len(data) % 4))

    def mkdir(self, path):
        path = path.strip("/")
        parts = path.split("/") if path else []
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.dirs:
                self.dirs.add(d)
                self._entry(d, stat.S_IFDIR | 0o755)

    def file(self, path, data, mode=0o644):
        self.mkdir(os.path.dirname(path))
        self._entry(path, stat.S_IFREG | mode, data)

    def copy(self, src, path=None, mode=None):
        with open(src, "rb") as f:
            data = f.read()
        if mode is None:
            mode = os.stat(src).st_mode & 0o777
        self.file(path or src, data, mode)

    def symlink(self, path, target):
        self.mkdir(os.path.dirname(path))
        self._entry(path, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, path, major, minor):
        self.mkdir(os.path.dirname(path))
        self._entry(path, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def close(self):
        self._entry("TRAILER!!!", 0)
        self.f.close()


def shared_libraries(binary):
    """Every library ldd lists, and the loader, by the paths ldd names."""
    out = subprocess.run(["ldd", binary], check=True, capture_output=True,
                         text=True).stdout
    paths = []
    for line in out.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            paths.append(m.group(1))
    return paths


def build(args):
    c = Cpio(args.out)
    for d in ("proc", "sys", "dev", "tmp", "bin", "lib/modules", "l2", "e2e"):
        c.mkdir(d)
    c.chardev("/dev/console", 5, 1)
    c.chardev("/dev/null", 1, 3)

    c.copy(args.busybox, "/bin/busybox", 0o755)
    applets = subprocess.run([args.busybox, "--list"], check=True,
                             capture_output=True, text=True).stdout.split()
    for a in applets:
        if a != "busybox":
            c.symlink("/bin/" + a, "busybox")

    for m in KVM_MODULES + NET_MODULES:
        found = [os.path.join(r, m) for r, _, files in os.walk(args.modules)
                 if m in files]
        if not found:
            sys.exit("build_initramfs: %s not found under %s" % (m, args.modules))
        c.copy(found[0], "/lib/modules/" + m, 0o644)

    with open(os.path.join(HERE, "init.in")) as f:
        init = f.read()
    init = (init.replace("@QEMU@", QEMU_IN_L1)
                .replace("@ROUNDS@", str(args.rounds))
                .replace("@DOWNTIME@", str(args.downtime))
                .replace("@MODES@", args.modes)
                .replace("@ROLE@", args.role))
    c.file("/init", init.encode(), 0o755)
    for script in ("measure.sh", "host.sh", "lib.sh"):
        c.copy(os.path.join(HERE, script), "/e2e/" + script, 0o755)
    c.copy(args.qmp, "/bin/qmp", 0o755)
    if args.leap:
        c.copy(args.leap, "/bin/leap", 0o755)
    if args.hostclock:
        c.copy(args.hostclock, "/bin/hostclock", 0o755)
    c.copy(args.l2, "/l2/l2guest.bin", 0o644)
    if args.l2_nostep:
        c.copy(args.l2_nostep, "/l2/l2guest-nostep.bin", 0o644)

    qemu = os.path.abspath(args.qemu)
    c.copy(qemu, QEMU_IN_L1, 0o755)
    for lib in shared_libraries(qemu):
        c.copy(os.path.realpath(lib), lib, 0o755)
    for fw in L2_FIRMWARE:
        p = os.path.join(FIRMWARE_DIR, fw)
        if os.path.exists(p):
            c.copy(p, p, 0o644)
    c.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--busybox", required=True)
    p.add_argument("--modules", required=True)
    p.add_argument("--qemu", required=True)
    p.add_argument("--qmp", required=True)
    p.add_argument("--l2", required=True)
    p.add_argument("--l2-nostep", help="the L2 guest built with "
                   "TSC_STEP=0, for MODE+nostep cases")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--downtime", type=float, default=2)
    p.add_argument("--modes", default="on off")
    p.add_argument("--leap", help="the leap second tool (leap.c), for "
                   "MODE+leap cases")
    p.add_argument("--hostclock", help="the clock tool (hostclock.c) of "
                   "the two-host measurement")
    p.add_argument("--role", choices=("measure", "host"), default="measure",
                   help="measure: run measure.sh; host: one of two hosts "
                   "driven over the console (host.sh)")
    build(p.parse_args())


if __name__ == "__main__":
    main()
