#
# An emulated Arm KVM host for the acceptance tests: Debian's arm64 cloud
# kernel under TCG on `virt,virtualization=on,gic-version=3` (EL2), which
# initialises KVM with the IPA size limit of its CPU model (40 bits for
# cortex-a53, 48 for max).  Its initramfs carries the cross-built static
# build-arm64/qemu-system-aarch64 (make build-arm64), the same Debian
# kernel for the nested guest and that guest's own busybox initramfs.
#
# Inside, /run-l2 starts one nested guest on /dev/kvm.  The nested guest
# prints its /proc/iomem and powers off; QEMU's query-memory-layout answer
# (QMP on stdin), its stderr and its KVM_CREATE_VM argument (the existing
# trace event kvm_ioctl) are printed between markers on the host's console.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import json
import os
import re
import shutil
import tempfile
import time

from . import guest, tap

ROOT = guest.ROOT
QEMU_ARM64 = os.path.join(ROOT, "build-arm64", "qemu-system-aarch64")
# <linux/kvm.h>: KVM_CREATE_VM = _IO(KVMIO, 0x01), KVMIO = 0xAE
KVM_CREATE_VM = 0xAE01

# The nested guest: print the RAM it found, then power off (QEMU exits).
L2_INIT = """#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo L2-IOMEM-BEGIN
/bin/busybox cat /proc/iomem
echo L2-IOMEM-END
/bin/busybox poweroff -f
"""

# usage (in the host): /run-l2 SECONDS QEMU-ARGS...
RUN_L2 = """#!/bin/sh
t=$1; shift
rm -f /tmp/trace.log /tmp/stderr /tmp/qmp.in
mkfifo /tmp/qmp.in
# QMP on stdin, from a FIFO that stays open until QEMU is gone, so that
# end of input cannot cut the monitor's session short.
timeout "$t" /qemu-system-aarch64 -accel kvm -cpu host -smp 1 \\
    -nodefaults -display none -no-reboot \\
    -kernel /l2-vmlinuz -initrd /l2-initrd.gz \\
    -append "console=ttyAMA0 panic=-1 quiet" \\
    -qmp stdio -serial file:/dev/console \\
    -trace kvm_ioctl -D /tmp/trace.log "$@" </tmp/qmp.in 2>/tmp/stderr &
qemu=$!
exec 3>/tmp/qmp.in
printf '%s\\n' '{"execute": "qmp_capabilities"}' \\
    '{"execute": "query-memory-layout"}' >&3
wait $qemu
rc=$?
exec 3>&-
echo L2-STDERR-BEGIN
cat /tmp/stderr
echo L2-STDERR-END
echo L2-TRACE-BEGIN
grep 'kvm_ioctl type 0xae01,' /tmp/trace.log
echo L2-TRACE-END
echo L2-EXIT-$rc
"""


def require_artifact():
    """Skip (with the reason) where the cross-built QEMU cannot exist."""
    if not os.path.exists(QEMU_ARM64):
        if not shutil.which("aarch64-linux-gnu-gcc"):
            raise tap.Skip("no Debian arm64 cross toolchain "
                           "(scripts/install-deps.sh cross), so no %s"
                           % os.path.relpath(QEMU_ARM64, ROOT))
        raise tap.Skip("%s not built (make build-arm64; it needs the "
                       ":arm64 libraries of scripts/install-deps.sh cross)"
                       % os.path.relpath(QEMU_ARM64, ROOT))
    if not os.path.exists(guest.QEMU_AARCH64):
        raise tap.Skip("no %s (make build)" % guest.QEMU_AARCH64)


def _between(text, begin, end):
    m = re.search(re.escape(begin) + r"\r?\n(.*?)" + re.escape(end), text,
                  re.S)
    if not m:
        raise guest.GuestError("no %s...%s in:\n%s" % (begin, end,
                                                      text[-3000:]))
    return m.group(1).replace("\r", "")


class L2Result:
    """What one nested QEMU run left on the host's console."""

    def __init__(self, out):
        self.out = out
        self.exit = int(re.search(r"L2-EXIT-(\d+)", out).group(1))
        self.stderr = _between(out, "L2-STDERR-BEGIN", "L2-STDERR-END")
        # "kvm_ioctl type 0xae01, arg 0x28"; %p prints 0 as "(nil)".
        self.create_vm = []
        for line in _between(out, "L2-TRACE-BEGIN",
                             "L2-TRACE-END").splitlines():
            m = re.search(r"kvm_ioctl type 0x([0-9a-f]+), arg "
                          r"(0x[0-9a-f]+|\(nil\))", line)
            if m and int(m.group(1), 16) == KVM_CREATE_VM:
                arg = m.group(2)
                self.create_vm.append(0 if arg == "(nil)" else int(arg, 16))
        self.layout = None
        for line in out.splitlines():
            line = line.strip()
            if line.startswith('{"return": {') and "ipa-bits" in line:
                self.layout = json.loads(line)["return"]
        m = re.search(r"L2-IOMEM-BEGIN\r?\n(.*?)L2-IOMEM-END", out, re.S)
        self.iomem = m.group(1).replace("\r", "") if m else None

    def ram(self):
        """The guest's System RAM ranges, (start, end) pairs."""
        if self.iomem is None:
            raise guest.GuestError("the nested guest printed no /proc/iomem;"
                                   " console:\n%s" % self.out[-3000:])
        return guest.parse_iomem(self.iomem)

    def highest_address(self):
        """The highest address of any top-level /proc/iomem entry: what the
        guest was told is there (RAM, the PCIe windows and ECAM, ...)."""
        top = 0
        for line in (self.iomem or "").splitlines():
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) : ", line)
            if m:
                top = max(top, int(m.group(2), 16))
        return top


class ArmKvmHost:
    """The emulated Arm host, driven over its serial console."""

    def __init__(self, cpu, mem="1G"):
        self.cpu = cpu
        self.mem = mem
        self.tmp = tempfile.mkdtemp(prefix="vhm-armkvm-")
        self.vm = None
        self.ipa_limit = None

    def _initramfs(self):
        assets = guest.guest_assets()
        l2 = guest.build_initramfs(os.path.join(self.tmp, "l2-initrd.gz"),
                                   init=L2_INIT)
        files = []
        for name, mode, path in (
                ("qemu-system-aarch64", 0o755, QEMU_ARM64),
                ("l2-vmlinuz", 0o644, os.path.join(assets, "vmlinuz")),
                ("l2-initrd.gz", 0o644, l2)):
            with open(path, "rb") as f:
                files.append((name, mode, f.read()))
        files.append(("run-l2", 0o755, RUN_L2.encode()))
        return guest.build_initramfs(os.path.join(self.tmp, "l1-initrd.gz"),
                                     files=files)

    def start(self, timeout=180):
        t0 = time.monotonic()
        initrd = self._initramfs()
        t1 = time.monotonic()
        assets = guest.guest_assets()
        self.vm = guest.VM(
            ["-M", "virt,virtualization=on,gic-version=3", "-accel", "tcg",
             "-cpu", self.cpu, "-smp", "1", "-m", self.mem,
             "-kernel", os.path.join(assets, "vmlinuz"), "-initrd", initrd,
             "-append", "console=ttyAMA0 panic=-1 quiet", "-no-reboot"],
            name="armkvm-host")
        self.vm.launch()
        self.vm.wait_shell(timeout)
        # The nested guest's RAM is a lazily touched mapping larger than
        # this host's RAM in the arm-den0001 case: let mmap have it.
        self.vm.check("echo 1 > /proc/sys/vm/overcommit_memory")
        # Kernel messages would break the lines the test parses.
        self.vm.check("dmesg -n 1")
        log = self.vm.check("dmesg")
        m = re.search(r"kvm \[\d+\]: IPA Size Limit: (\d+) bits", log)
        if not m or "/dev/kvm" not in self.vm.check("ls /dev/kvm"):
            raise guest.GuestError("the emulated host has no KVM:\n%s"
                                   % "\n".join(l for l in log.splitlines()
                                               if "kvm" in l))
        self.ipa_limit = int(m.group(1))
        print("# host -cpu %s: initramfs %.1f s, boot to KVM %.1f s, "
              "IPA Size Limit %d bits" % (self.cpu, t1 - t0,
                                          time.monotonic() - t1,
                                          self.ipa_limit), flush=True)
        return self

    def run_l2(self, machine_opts, mem="256M", timeout=300):
        """Run one nested guest on -M virt-hotmem,@machine_opts; return
        its L2Result."""
        machine = "virt-hotmem" + ("," + machine_opts if machine_opts else "")
        t0 = time.monotonic()
        status, out = self.vm.shell("/run-l2 %d -M %s -m %s"
                                    % (timeout, machine, mem),
                                    timeout + 30)
        if status != 0:
            raise guest.GuestError("/run-l2 failed (%d): %s" % (status, out))
        res = L2Result(out)
        print("# nested -M %s -m %s: exit %d in %.1f s, KVM_CREATE_VM%s, "
              "highest address in /proc/iomem %s%s"
              % (machine, mem, res.exit, time.monotonic() - t0,
                 res.create_vm,
                 hex(res.highest_address()) if res.iomem else "-",
                 "".join("\n#   " + l for l in res.stderr.splitlines())),
              flush=True)
        return res

    def stop(self):
        if self.vm:
            self.vm.shutdown()
        shutil.rmtree(self.tmp, ignore_errors=True)
