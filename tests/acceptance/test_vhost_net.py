#!/usr/bin/env python3
#
# Acceptance: vhost-net.  This machine has no /dev/vhost-net, so the test
# makes a host that has one: our qemu-system-x86_64 under TCG emulates an
# AMD-V host (L1, as the precise-tsc tests do) that boots Debian's amd64
# cloud kernel and loads its tun, vhost and vhost_net modules and KVM.  In
# L1, a tap device tap0 with an address of the test's choosing, and our
# qemu-system-x86_64 again (L2 QEMU) with
#
#   -netdev tap,ifname=tap0,vhost=on -device virtio-net-pci
#
# running the same kernel as a KVM guest whose initramfs brings its
# virtio-net up and pings L1 over tap0.  Checked in L1: QEMU opened
# /dev/vhost-net and the kernel runs a vhost-<QEMU pid> worker for it,
# the guest's pings get their answers, tap0 counts them, QMP's
# x-query-virtio-status of the NIC says vhost-started with a vhost
# device, and the vhost worker did the work (its context switches grew
# while the packets flowed).
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "precise_tsc_initramfs", os.path.join(guest.ROOT, "tests", "e2e",
                                          "precise-tsc", "build_initramfs.py"))
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)

# L1's modules in load order: KVM, then tap and vhost-net.
L1_MODULES = ("kernel/virt/lib/irqbypass.ko",
              "kernel/arch/x86/kvm/kvm.ko",
              "kernel/arch/x86/kvm/kvm-amd.ko",
              "kernel/drivers/net/tun.ko",
              "kernel/drivers/net/tap.ko",
              "kernel/drivers/vhost/vhost_iotlb.ko",
              "kernel/drivers/vhost/vhost.ko",
              "kernel/drivers/vhost/vhost_net.ko")
L1_CPU = "EPYC,+svm,+npt"
# Where L1 has our QEMU: under /usr/local/bin its relocatable firmware
# path is /usr/share/qemu, where L1 has the firmware L2 needs.
L2_QEMU = "/usr/local/bin/qemu-system-x86_64"
L2_FIRMWARE = ("/usr/share/qemu/qboot.rom", "/usr/share/qemu/kvmvapic.bin",
               "/usr/share/qemu/linuxboot_dma.bin")
# tap0 in L1 and the guest's NIC: a /24 of the test's own.
L1_ADDR = "10.77.9.1"
L2_ADDR = "10.77.9.2"
PINGS = 5
QMP_PORT = 4444
L2_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in %(modules)s; do insmod /modules/$m; done
ip link set eth0 up
ip addr add %(l2)s/24 dev eth0
echo VHM-L2-UP
if ping -c %(pings)d -W 10 %(l1)s; then echo VHM-L2-PING-OK
else echo VHM-L2-PING-FAIL; fi
exec sleep 1000000
"""


def l2_initrd(amd64, path):
    mods = " ".join(os.path.basename(m) for m in guest.VIRTIO_NET_MODULES)
    init = L2_INIT % {"modules": mods, "l1": L1_ADDR, "l2": L2_ADDR,
                      "pings": PINGS}
    guest.build_initramfs(path, guest.VIRTIO_NET_MODULES, init=init,
                          amd64=amd64)
    with open(path, "rb") as f:
        return f.read()


def l1_initrd(amd64, tmp):
    """L1's initramfs: the harness's shell, L1's modules, our QEMU (debug
    info stripped) with its shared libraries, L2's firmware, kernel and
    initramfs."""
    qemu = os.path.join(tmp, "qemu-system-x86_64")
    subprocess.run(["objcopy", "--strip-debug", guest.QEMU_X86_64, qemu],
                   check=True)
    with open(qemu, "rb") as f:
        files = [(L2_QEMU.lstrip("/"), 0o755, f.read())]
    for lib in _e2e.shared_libraries(guest.QEMU_X86_64):
        with open(os.path.realpath(lib), "rb") as f:
            files.append((lib.lstrip("/"), 0o755, f.read()))
    for fw in L2_FIRMWARE:
        with open(fw, "rb") as f:
            files.append((fw.lstrip("/"), 0o644, f.read()))
    with open(amd64["kernel"], "rb") as f:
        files.append(("l2/vmlinuz", 0o644, f.read()))
    files.append(("l2/initrd.gz", 0o644,
                  l2_initrd(amd64, os.path.join(tmp, "l2-initrd.gz"))))
    return guest.build_initramfs(os.path.join(tmp, "l1-initrd.gz"),
                                 L1_MODULES, files, amd64=amd64)


def why_not():
    for tool in ("objcopy", "ldd"):
        if not shutil.which(tool):
            return "no %s (binutils, libc-bin)" % tool
    for fw in L2_FIRMWARE:
        if not os.path.exists(fw):
            return "no %s (Debian's qemu-system-data)" % fw
    return None


def qmp_in_l1(l1, *commands):
    """Run QMP @commands on L2's QEMU from inside L1 (busybox nc over
    L1's loopback; its input stays open until every reply is in);
    return their replies."""
    lines = [{"execute": "qmp_capabilities"}] + list(commands)
    script = "; ".join("echo '%s'" % json.dumps(c) for c in lines)
    l1.check("rm -f /tmp/qmp.out; (%s; until [ $(grep -c -e '\"return\"' "
             "-e '\"error\"' /tmp/qmp.out 2>/dev/null) -ge %d ]; do "
             "sleep 0.2; done) | nc 127.0.0.1 %d > /tmp/qmp.out" %
             (script, len(lines), QMP_PORT), timeout=120)
    out = l1.check("cat /tmp/qmp.out")
    replies = [json.loads(line) for line in out.splitlines()
               if line.startswith("{")]
    replies = [r for r in replies if "return" in r or "error" in r]
    assert len(replies) == len(lines), out
    return replies[1:]


def switches(l1, tid):
    status = l1.check("cat /proc/%d/status" % tid)
    return sum(int(n) for n in re.findall(
        r"^(?:non)?voluntary_ctxt_switches:\s+(\d+)", status, re.M))


def test_vhost_net_in_emulated_host():
    reason = why_not()
    if reason:
        raise tap.Skip(reason)
    amd64 = guest.amd64_guest_assets()
    tmp = tempfile.mkdtemp(prefix="vhm-vhost-")
    try:
        initrd = l1_initrd(amd64, tmp)
        with guest.VM(["-M", "q35", "-accel", "tcg", "-cpu", L1_CPU,
                       "-smp", "1", "-m", "1536M",
                       "-kernel", amd64["kernel"], "-initrd", initrd,
                       "-append", "console=ttyS0 panic=-1",
                       "-no-reboot"], binary=guest.QEMU_X86_64,
                      name="vhost-l1") as l1:
            l1.wait_shell(timeout=300)
            for m in L1_MODULES:
                l1.check("insmod /modules/" + os.path.basename(m))
            l1.check("[ -c /dev/vhost-net ] && [ -c /dev/kvm ] && "
                     "[ -c /dev/net/tun ]")
            l1.check("ip link set lo up && tunctl -t tap0 "
                     "&& ip addr add %s/24 dev tap0 && ip link set tap0 up"
                     % L1_ADDR)
            pid = int(l1.check(
                "%s -M q35 -accel kvm -cpu host -smp 1 -m 256M "
                "-bios qboot.rom -nodefaults -display none "
                "-kernel /l2/vmlinuz -initrd /l2/initrd.gz "
                "-append 'console=ttyS0 panic=-1' -no-reboot "
                "-serial file:/tmp/l2.log "
                "-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,"
                "vhost=on -device virtio-net-pci,netdev=n0,id=net0,romfile= "
                "-qmp tcp:127.0.0.1:%d,server=on,wait=off "
                ">/tmp/l2.err 2>&1 & echo $!" % (L2_QEMU, QMP_PORT)).strip())

            # QEMU holds /dev/vhost-net and the kernel's worker is its.
            deadline = time.monotonic() + 120
            while True:
                out = l1.shell("grep -l '^vhost-%d$' /proc/[0-9]*/comm "
                               "/proc/%d/task/*/comm 2>/dev/null"
                               % (pid, pid))[1]
                workers = sorted({int(m) for m in re.findall(
                    r"/proc/(?:\d+/task/)?(\d+)/comm", out)})
                if workers or time.monotonic() > deadline:
                    break
                assert l1.shell("[ -d /proc/%d ]" % pid)[0] == 0, \
                    "L2 QEMU exited: " + l1.shell("cat /tmp/l2.err")[1]
                time.sleep(1)
            assert workers, "no vhost-%d worker in L1: %s" % (
                pid, l1.shell("cat /tmp/l2.err; ps")[1])
            fds = l1.check("ls -l /proc/%d/fd" % pid)
            assert "/dev/vhost-net" in fds, fds
            before = sum(switches(l1, w) for w in workers)

            # The guest's pings and their answers go through vhost-net.
            deadline = time.monotonic() + 600
            while True:
                log = l1.check("cat /tmp/l2.log")
                if "VHM-L2-PING-" in log or time.monotonic() > deadline:
                    break
                assert l1.shell("[ -d /proc/%d ]" % pid)[0] == 0, \
                    "L2 QEMU exited: " + l1.shell("cat /tmp/l2.err")[1]
                time.sleep(2)
            assert "VHM-L2-PING-OK" in log, log[-2000:]
            m = re.search(r"(\d+) packets transmitted, (\d+) packets "
                          r"received", log)
            assert m and int(m.group(2)) == PINGS, log[-1000:]
            rx = int(l1.check("cat /sys/class/net/tap0/statistics/"
                              "rx_packets"))
            tx = int(l1.check("cat /sys/class/net/tap0/statistics/"
                              "tx_packets"))
            assert rx >= PINGS and tx >= PINGS, (rx, tx)
            after = sum(switches(l1, w) for w in workers)
            assert after > before, (before, after)
            status, = qmp_in_l1(l1, {
                "execute": "x-query-virtio-status",
                "arguments": {"path": "/machine/peripheral/net0/"
                              "virtio-backend"}})
            ret = status["return"]
            assert ret["vhost-started"] is True, ret
            assert "vhost-dev" in ret, ret
            print("# L1: QEMU pid %d, vhost workers %s, context switches "
                  "%d -> %d; guest %s/%s; tap0 rx %d tx %d; vhost-dev "
                  "nvqs %d" % (pid, workers, before, after, m.group(1),
                               m.group(2), rx, tx,
                               ret["vhost-dev"]["nvqs"]), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    tap.main([("net/vhost-net-in-emulated-x86-host",
               test_vhost_net_in_emulated_host)])
