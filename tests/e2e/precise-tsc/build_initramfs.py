#!/usr/bin/env python3
"""Build the initramfs of the emulated AMD-V host (L1) for the precise-tsc
end-to-end measurement, as an uncompressed newc cpio (no cpio tool needed).

It holds busybox (static) with its applet links, the three KVM modules and
virtio-net's, /init (from init.in), measure.sh, host.sh, in-host.sh and
lib.sh, the QMP client, the clock tool of the two-host measurement, the L2
guest image, our qemu-system-x86_64 with every shared library ldd lists and
the dynamic loader at the same paths, and the firmware files the L2 QEMU
may load.

For the in-host role (tests/acceptance/test_precise_tsc_in_host.py: our
KVM tests run inside L1) it also holds the precise-tsc qtest binary, and
optionally a Python interpreter with the standard library files a list
names and the acceptance tests to run with it.

usage: build_initramfs.py --out FILE --busybox FILE --modules DIR
           --qemu FILE [--qmp FILE --l2 FILE] [--rounds N] [--downtime S]
           [--modes "on off"] [--leap FILE] [--hostclock FILE]
           [--role measure|host|in-host] [--qtest FILE]
           [--python FILE --python-files LIST --acceptance TEST.py...]

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
# A fixed place: the build tree may be anywhere, even under /tmp, which
# L1's init covers with a tmpfs.  QEMU's libraries keep their system paths.
QEMU_IN_L1 = "/opt/vhm/qemu-system-x86_64"
QTEST_IN_L1 = "/opt/vhm/precise-tsc-test"
# The acceptance tests find QEMU as ROOT/build/qemu-system-x86_64
TREE_IN_L1 = "/opt/vhm/tree"
# QEMU's firmware path (CONFIG_QEMU_FIRMWAREPATH) holds these two; the
# qtest also names them with -L.  SeaBIOS runs when a test starts a guest
# without -bios.
FIRMWARE = (("/usr/share/qemu", ("kvmvapic.bin", "linuxboot_dma.bin")),
            ("/usr/share/seabios", ("bios-256k.bin",)))


class Cpio:
    """A newc archive written entry by entry."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.ino = 1
        self.dirs = set()
        self.files = set()      # the libraries copy_elf() added

    def _entry(self, name, mode, data=b"", rdev=(0, 0), mtime=0):
        name = name.lstrip("/")
        nameb = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, mtime,
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

    def file(self, path, data, mode=0o644, mtime=0):
        self.mkdir(os.path.dirname(path))
        self._entry(path, stat.S_IFREG | mode, data, mtime=mtime)

    def copy(self, src, path=None, mode=None):
        """SRC at PATH (default: the same path), with its mtime: Python
        uses a cached .pyc only if its source's mtime is the recorded one."""
        with open(src, "rb") as f:
            data = f.read()
        st = os.stat(src)
        if mode is None:
            mode = st.st_mode & 0o777
        self.file(path or src, data, mode, int(st.st_mtime))

    def copy_elf(self, src, path=None):
        """An executable or shared object, with every library ldd lists
        (and the loader) at their own paths, each once."""
        self.copy(src, path)
        for lib in shared_libraries(src):
            if lib not in self.files:
                self.files.add(lib)
                self.copy(os.path.realpath(lib), lib, 0o755)

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
                .replace("@ROLE@", args.role)
                .replace("@L2_MACHINE@", args.l2_machine))
    c.file("/init", init.encode(), 0o755)
    for script in ("measure.sh", "host.sh", "in-host.sh", "lib.sh"):
        c.copy(os.path.join(HERE, script), "/e2e/" + script, 0o755)
    if args.qmp:
        c.copy(args.qmp, "/bin/qmp", 0o755)
    if args.leap:
        c.copy(args.leap, "/bin/leap", 0o755)
    if args.hostclock:
        c.copy(args.hostclock, "/bin/hostclock", 0o755)
    if args.l2:
        c.copy(args.l2, "/l2/l2guest.bin", 0o644)
    if args.l2_nostep:
        c.copy(args.l2_nostep, "/l2/l2guest-nostep.bin", 0o644)

    c.copy_elf(os.path.abspath(args.qemu), QEMU_IN_L1)
    for fwdir, names in FIRMWARE:
        for fw in names:
            p = os.path.join(fwdir, fw)
            if os.path.exists(p):
                c.copy(p, p, 0o644)
    if args.qtest:
        c.copy_elf(os.path.abspath(args.qtest), QTEST_IN_L1)
    if args.python:
        add_python(c, args)
    c.close()


def add_python(c, args):
    """The interpreter as /usr/bin/python3, the files of LIST at their own
    paths (shared objects with their libraries), and each acceptance test
    with the vhm package under TREE_IN_L1, whose build/ names our QEMU."""
    c.copy_elf(args.python, "/usr/bin/python3")
    with open(args.python_files) as f:
        for path in f.read().split():
            if path.endswith(".so"):
                c.copy_elf(path)
            else:
                c.copy(path)
    tests = os.path.join(TREE_IN_L1, "tests", "acceptance")
    for test in args.acceptance:
        c.copy(test, os.path.join(tests, os.path.basename(test)))
    vhm = os.path.join(os.path.dirname(os.path.abspath(args.acceptance[0])),
                       "vhm")
    for name in sorted(os.listdir(vhm)):
        if name.endswith(".py"):
            c.copy(os.path.join(vhm, name), os.path.join(tests, "vhm", name))
    c.symlink(os.path.join(TREE_IN_L1, "build", "qemu-system-x86_64"),
              QEMU_IN_L1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--busybox", required=True)
    p.add_argument("--modules", required=True)
    p.add_argument("--qemu", required=True)
    p.add_argument("--qmp", help="the QMP client (qmp.c); measure and "
                   "host roles")
    p.add_argument("--l2", help="the L2 guest image; measure and host roles")
    p.add_argument("--l2-nostep", help="the L2 guest built with "
                   "TSC_STEP=0, for MODE+nostep cases")
    p.add_argument("--l2-machine", default="pc",
                   help="the L2 QEMUs' -M (a versioned one, e.g. "
                   "pc-i440fx-10.0, when two QEMU versions migrate)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--downtime", type=float, default=2)
    p.add_argument("--modes", default="on off")
    p.add_argument("--leap", help="the leap second tool (leap.c), for "
                   "MODE+leap cases")
    p.add_argument("--hostclock", help="the clock tool (hostclock.c) of "
                   "the two-host measurement")
    p.add_argument("--role", choices=("measure", "host", "in-host"),
                   default="measure",
                   help="measure: run measure.sh; host: one of two hosts "
                   "driven over the console (host.sh); in-host: run the "
                   "qtest and the acceptance tests given (in-host.sh)")
    p.add_argument("--qtest", help="the precise-tsc qtest binary "
                   "(in-host role)")
    p.add_argument("--python", help="the Python interpreter to put in L1 "
                   "(in-host role, with --python-files and --acceptance)")
    p.add_argument("--python-files", help="a file listing the interpreter's "
                   "standard library files to put in L1, one path a line")
    p.add_argument("--acceptance", action="append", default=[],
                   help="an acceptance test to run in L1 (repeatable)")
    args = p.parse_args()
    if args.role != "in-host" and not (args.qmp and args.l2):
        p.error("the %s role needs --qmp and --l2" % args.role)
    if args.python and not (args.python_files and args.acceptance):
        p.error("--python needs --python-files and --acceptance")
    build(args)


if __name__ == "__main__":
    main()
