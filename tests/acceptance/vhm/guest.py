#
# Real guests for virt-hotmem's acceptance tests and demo: an unmodified
# Debian arm64 cloud kernel with a busybox initramfs built here, driven over
# its serial console, and the QEMU process that runs it, driven over QMP.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import atexit
import gzip
import io
import json
import os
import re
import select
import shutil
import socket
import stat
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
# The build under test: the main build, build/, unless the environment
# names another with VIRT_HOTMEM_TEST_BUILD (a build directory such as
# bases/10.2/build, see vhm/bases.py).  tests/run-tests.py sets it to run
# the acceptance programs whose outcome can differ between QEMU bases on
# every built base; every emulator, firmware and test program of a build
# the tests use is found from BUILD here.  The guests' kernels and
# packages do not depend on the base: they stay in the main build's
# assets/, fetched once.
TEST_BUILD_ENV = "VIRT_HOTMEM_TEST_BUILD"
MAIN_BUILD = os.path.join(ROOT, "build")
BUILD = os.path.abspath(os.environ.get(TEST_BUILD_ENV) or MAIN_BUILD)
ASSETS = os.path.join(MAIN_BUILD, "assets")
QEMU_AARCH64 = os.path.join(BUILD, "qemu-system-aarch64")
QEMU_X86_64 = os.path.join(BUILD, "qemu-system-x86_64")
# Debian's UEFI for arm64 (qemu-efi-aarch64; scripts/install-deps.sh guest)
AAVMF_CODE = "/usr/share/AAVMF/AAVMF_CODE.fd"
AAVMF_VARS = "/usr/share/AAVMF/AAVMF_VARS.fd"
# The Debian kernel's virtio-net driver and what it needs, in load order:
# virtio core and PCI transport, then the NIC driver.
VIRTIO_NET_MODULES = ("kernel/drivers/virtio/virtio_ring.ko",
                      "kernel/drivers/virtio/virtio.ko",
                      "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
                      "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
                      "kernel/drivers/virtio/virtio_pci.ko",
                      "kernel/net/core/failover.ko",
                      "kernel/drivers/net/net_failover.ko",
                      "kernel/drivers/net/virtio_net.ko")

GiB = 1 << 30
MiB = 1 << 20


class GuestError(Exception):
    pass


_scratch_dirs = []


def scratch_dir(prefix):
    """A new directory under the system's temporary directory for a
    test's files (initramfs images, disks, saved streams), removed when
    the test program exits, whatever its outcome: a guest's files may
    outlive the guest (a test that runs its command line again), and
    make check would otherwise leave them behind run after run."""
    path = tempfile.mkdtemp(prefix=prefix)
    _scratch_dirs.append(path)
    return path


@atexit.register
def _remove_scratch_dirs():
    for path in _scratch_dirs:
        shutil.rmtree(path, ignore_errors=True)


def guest_assets(flavour="cloud"):
    """Fetch (once) and return the arm64 guest's asset directory: the
    cloud kernel's (with busybox), or with @flavour "generic" the generic
    kernel's of the same version (vmlinuz, config, modules/)."""
    arm64 = os.path.join(ASSETS, "arm64" if flavour == "cloud" else
                         "arm64-" + flavour)
    if not os.path.exists(os.path.join(arm64, ".complete")):
        script = os.path.join(ROOT, "scripts", "fetch-guest-assets.sh")
        subprocess.run([script, ASSETS, flavour], check=True)
    return arm64


def builtin_modules(flavour="cloud"):
    """The modules built into @flavour's kernel (paths relative to its
    modules dir, as modules.builtin lists them)."""
    path = os.path.join(guest_assets(flavour), "modules", "modules.builtin")
    with open(path) as f:
        return {line.strip() for line in f if line.strip()}


INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
stty -echo 2>/dev/null
# Kernel messages (e.g. on memory hotplug) would land inside command
# output and the end markers on this console; dmesg still has them.
dmesg -n 1
echo VHM-GUEST-READY
export PS1=
exec sh
"""


def _cpio_newc(entries):
    """entries: list of (path, mode, data-or-None, link-target-or-None)"""
    out = io.BytesIO()
    ino = 1
    for path, mode, data, target in entries + [("TRAILER!!!", 0, b"", None)]:
        body = data if data is not None else (target or "").encode()
        name = path.encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in (
            ino, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(name), 0))
        out.write(hdr.encode() + name)
        out.write(b"\0" * ((4 - (110 + len(name)) % 4) % 4))
        out.write(body)
        out.write(b"\0" * ((4 - len(body) % 4) % 4))
        ino += 1
    return out.getvalue()


def amd64_guest_assets():
    """Fetch (once, as bench_precise_tsc does for its emulated
    host) Debian's amd64 cloud kernel and busybox-static; return a dict
    with the paths of 'kernel', 'busybox' and 'moddir' (the kernel's
    modules dir)."""
    # Imported here: bench_precise_tsc imports this module for ROOT.
    from . import bench_precise_tsc
    assets = bench_precise_tsc.fetch_assets()
    moddir = os.path.join(assets["modules"], "modules",
                          os.path.basename(assets["kernel"])[len("vmlinuz-"):])
    return {"kernel": assets["kernel"], "busybox": assets["busybox"],
            "moddir": moddir}


def build_initramfs(path, modules=(), files=(), init=INIT, flavour="cloud",
                    amd64=None):
    """Write a gzip'd newc initramfs: busybox, /init, the named kernel
    modules (paths relative to the kernel's modules dir) of @flavour's
    arm64 kernel, or of @amd64's (amd64_guest_assets()), under /modules,
    but for those built into it, and @files: (path, mode, data) of further
    regular files (their directories are made as needed)."""
    if amd64:
        busybox_path, moddir = amd64["busybox"], amd64["moddir"]
        builtin = set()
    else:
        busybox_path = os.path.join(guest_assets(), "busybox")
        moddir = os.path.join(guest_assets(flavour), "modules")
        builtin = builtin_modules(flavour)
    with open(busybox_path, "rb") as f:
        busybox = f.read()
    entries = [(d, stat.S_IFDIR | 0o755, b"", None)
               for d in ("bin", "dev", "proc", "sys", "tmp", "modules")]
    entries.append(("bin/busybox", stat.S_IFREG | 0o755, busybox, None))
    entries.append(("bin/sh", stat.S_IFLNK | 0o777, None, "busybox"))
    entries.append(("init", stat.S_IFREG | 0o755, init.encode(), None))
    for m in modules:
        if m in builtin:
            continue
        with open(os.path.join(moddir, m), "rb") as f:
            entries.append(("modules/" + os.path.basename(m),
                            stat.S_IFREG | 0o644, f.read(), None))
    dirs = {e[0] for e in entries}
    for name, mode, data in files:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                entries.append((d, stat.S_IFDIR | 0o755, b"", None))
        entries.append((name, stat.S_IFREG | mode, data, None))
    with open(path, "wb") as f:
        f.write(gzip.compress(_cpio_newc(entries), 1))
    return path


class QMP:
    """A minimal synchronous QMP client over a unix socket."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise GuestError("QMP socket %s did not appear" % path)
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.file = self.sock.makefile("rwb")
        self.events = []
        greeting = self._read()
        if "QMP" not in greeting:
            raise GuestError("no QMP greeting: %r" % greeting)
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.file.readline()
        if not line:
            raise GuestError("QMP connection closed")
        return json.loads(line)

    def execute(self, command, **args):
        """Run a command; return the whole response (return or error)."""
        msg = {"execute": command}
        if args:
            msg["arguments"] = args
        self.file.write(json.dumps(msg).encode() + b"\n")
        self.file.flush()
        while True:
            rsp = self._read()
            if "event" in rsp:
                self.events.append(rsp)
                continue
            return rsp

    def cmd(self, command, **args):
        rsp = self.execute(command, **args)
        if "error" in rsp:
            raise GuestError("%s failed: %s" % (command, rsp["error"]["desc"]))
        return rsp["return"]

    def hmp(self, line):
        return self.cmd("human-monitor-command", **{"command-line": line})

    def close(self):
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass


class VM:
    """One QEMU process: serial console on a pipe, QMP on a unix socket."""

    def __init__(self, args, binary=QEMU_AARCH64, name="vm"):
        self.tmp = tempfile.mkdtemp(prefix="vhm-%s-" % name)
        self.qmp_path = os.path.join(self.tmp, "qmp.sock")
        self.log_path = os.path.join(self.tmp, "stderr.log")
        self.argv = ([binary, "-nodefaults", "-display", "none", "-nic", "none",
                      "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
                      "-serial", "stdio"] + list(args))
        self.console = b""
        self.proc = None
        self.qmp = None

    def launch(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log)
        os.set_blocking(self.proc.stdout.fileno(), False)
        try:
            self.qmp = QMP(self.qmp_path)
        except GuestError:
            self.wait_exit(5)
            raise GuestError("QEMU did not start: %s" % self.stderr().strip())
        return self

    def stderr(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def _pump(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if r:
            data = self.proc.stdout.read()
            if data:
                self.console += data
            elif self.proc.poll() is not None:
                # (the console's end: a guest that panicked says why)
                raise GuestError("QEMU exited (%s): %s\nconsole tail:\n%s" %
                                 (self.proc.returncode, self.stderr().strip(),
                                  self.console[-3000:].decode(
                                      errors="replace")))

    def wait_console(self, pattern, timeout=120, start=0):
        """Wait until @pattern (bytes regex) appears on the console."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.console, start)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestError("timed out waiting for %r; console tail:\n%s" %
                                 (pattern, self.console[-2000:].decode(
                                     errors="replace")))
            self._pump(min(left, 0.5))

    def wait_shell(self, timeout=120):
        self.wait_console(rb"VHM-GUEST-READY", timeout)
        # Let the shell's banner go by before the first real command.
        self.check("true")

    def shell(self, command, timeout=60):
        """Run @command in the guest's shell; return (status, output)."""
        start = len(self.console)
        marker = "VHM-END-%d" % start
        self.proc.stdin.write(("%s; echo %s-$?\n" % (command, marker)).encode())
        self.proc.stdin.flush()
        m = self.wait_console(marker.encode() + rb"-(\d+)\r?\n", timeout, start)
        out = self.console[start:m.start()].decode(errors="replace")
        return int(m.group(1)), out.replace("\r", "")

    def check(self, command, timeout=60):
        status, out = self.shell(command, timeout)
        if status != 0:
            raise GuestError("guest command %r failed (%d): %s" %
                             (command, status, out))
        return out

    def wait_exit(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def shutdown(self):
        if self.qmp:
            try:
                self.qmp.execute("quit")
            except (GuestError, OSError):
                pass
            self.qmp.close()
        if self.proc and self.wait_exit(10) is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.launch()

    def __exit__(self, *exc):
        self.shutdown()


def wait_migration(vm, timeout=60):
    """Poll the source @vm until its migration completed, failed or was
    cancelled; return that status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = vm.qmp.cmd("query-migrate").get("status")
        if st in ("completed", "failed", "cancelled"):
            return st
        time.sleep(0.05)
    raise GuestError("migration did not finish in %d s" % timeout)


def migrate(src, dst, timeout=60):
    """Migrate @src into @dst (started with -incoming defer) over a unix
    socket; return the source's final migration status."""
    sock = os.path.join(dst.tmp, "mig.sock")
    dst.qmp.cmd("migrate-incoming", uri="unix:" + sock)
    src.qmp.cmd("migrate", uri="unix:" + sock)
    return wait_migration(src, timeout)


def arm64_guest(machine_opts="", mem="1G", extra=(), cmdline="",
                modules=(), name="arm64", flavour="cloud",
                machine="virt-hotmem", binary=QEMU_AARCH64):
    """A VM booting the Debian arm64 cloud kernel (or @flavour "generic")
    by direct kernel boot on @machine under TCG, run by @binary.  Call
    launch() / use as a context manager.  vm.builtin: those of @modules
    the kernel has built in (not in /modules, nothing to load)."""
    assets = guest_assets(flavour)
    tmp = scratch_dir("vhm-initrd-")
    initrd = build_initramfs(os.path.join(tmp, "initrd.gz"), modules,
                             flavour=flavour)
    machine += "," + machine_opts if machine_opts else ""
    vm = VM(["-M", machine, "-accel", "tcg", "-cpu", "max", "-smp", "1",
             "-m", mem, "-kernel", os.path.join(assets, "vmlinuz"),
             "-initrd", initrd,
             "-append", "console=ttyAMA0 panic=-1 " + cmdline,
             "-no-reboot"] + list(extra), binary=binary, name=name)
    vm.initrd_dir = tmp
    builtin = builtin_modules(flavour)
    vm.builtin = {os.path.basename(m) for m in modules if m in builtin}
    return vm


def parse_iomem(text):
    """Top-level 'System RAM' ranges of /proc/iomem as (start, end) pairs,
    merged where adjacent."""
    ranges = []
    for line in text.splitlines():
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) : System RAM$", line.strip()
                     if not line.startswith(" ") else "")
        if m:
            s, e = int(m.group(1), 16), int(m.group(2), 16)
            if ranges and ranges[-1][1] + 1 == s:
                ranges[-1] = (ranges[-1][0], e)
            else:
                ranges.append((s, e))
    return ranges


def parse_mtree_ram(text, name):
    """(start, end) of every mapping of RAM block @name in 'info mtree'
    (the address-space: memory view), sorted."""
    out = set()
    rx = re.compile(r"^\s*([0-9a-f]+)-([0-9a-f]+) \(prio [-0-9]+, ram\): "
                    + re.escape(name) + r"\b")
    for line in text.splitlines():
        m = rx.match(line)
        if m:
            out.add((int(m.group(1), 16), int(m.group(2), 16)))
    return sorted(out)


def meminfo_kib(text, key):
    m = re.search(r"^%s:\s+(\d+) kB" % re.escape(key), text, re.M)
    if not m:
        raise GuestError("no %s in /proc/meminfo" % key)
    return int(m.group(1))


def wait_event(vm, what, match, timeout=60):
    """Poll QMP until an event for which @match(event) holds arrived;
    return it."""
    deadline = time.monotonic() + timeout
    while True:
        hits = [e for e in vm.qmp.events if match(e)]
        if hits:
            return hits[0]
        assert time.monotonic() < deadline, "no %s in %d s: %r" % (
            what, timeout, vm.qmp.events)
        time.sleep(0.2)
        vm.qmp.cmd("query-status")


def ost_of(dev_id):
    """Matches the ACPI_DEVICE_OST events of device @dev_id."""
    return lambda e: (e["event"] == "ACPI_DEVICE_OST" and
                      e["data"]["info"].get("device") == dev_id)


def deleted(dev_id):
    """Matches the DEVICE_DELETED event of device @dev_id."""
    return lambda e: (e["event"] == "DEVICE_DELETED" and
                      e["data"].get("device") == dev_id)


def mem_total_kib(vm):
    """The guest's MemTotal, in KiB."""
    return meminfo_kib(vm.check("cat /proc/meminfo"), "MemTotal")


def memory_block_size(vm):
    """The guest's memory block size, in bytes."""
    return int(vm.check("cat /sys/devices/system/memory/block_size_bytes")
               .strip(), 16)
