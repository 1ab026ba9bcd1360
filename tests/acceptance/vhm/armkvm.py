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
# /l2 runs nested guests that stay up and are driven from the test: each
# QEMU's QMP monitor and the guest's serial console are FIFOs in the host
# (chardev pipe), which /l2 writes commands into and polls the answers
# from (NestedVM below); the nested guest is the interactive busybox shell
# of guest.INIT.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import json
import os
import re
import shlex
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

# The host's vhost-vsock backend, in load order (modinfo's depends=), so
# that a nested QEMU can have vhost-vsock-pci where this machine cannot.
VHOST_VSOCK_MODULES = ("kernel/net/vmw_vsock/vsock.ko",
                       "kernel/net/vmw_vsock/"
                       "vmw_vsock_virtio_transport_common.ko",
                       "kernel/drivers/vhost/vhost_iotlb.ko",
                       "kernel/drivers/vhost/vhost.ko",
                       "kernel/drivers/vhost/vhost_vsock.ko")

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


# usage (in the host):
#   /l2 start NAME QEMU-ARGS...  start a nested QEMU in the background, its
#                                QMP monitor and serial console on FIFOs in
#                                /tmp/l2-NAME; wait for the QMP greeting
#   /l2 qmp NAME SECONDS ID JSON send one QMP command carrying "id": ID,
#                                print the answer's line
#   /l2 sh NAME SECONDS MARK CMD run CMD in the nested guest's shell; print
#                                its console from there to MARK-<status>
#   /l2 wait NAME SECONDS TEXT   wait until TEXT is on the guest's console
#   /l2 stop NAME                wait for the nested QEMU to exit (ending
#                                it after 10 s), print its stderr
# Every wait is bounded; a QEMU that is gone ends it with its stderr.
L2_CTL = """#!/bin/sh
op=$1 n=$2
shift 2
d=/tmp/l2-$n
# alive: whether QEMU runs (an exited QEMU stays a zombie until PID 1
# reaps it); shell builtins only, each fork costs the emulated host time
# that its nested guest needs
alive() {
    read pid < $d/pid
    [ -e /proc/$pid ] || return 1
    while read k v; do
        [ "$k" = State: ] && case $v in Z*|X*) return 1 ;; *) return 0 ;; esac
    done < /proc/$pid/status
    return 1
}
# poll SECONDS COMMAND...: run COMMAND until it succeeds, every 0.1 s for
# the first second, then every 0.5 s
poll() {
    i=$(($1 * 10))
    shift
    n=0
    until "$@"; do
        if [ $i -le 0 ]; then echo L2-TIMEOUT; return 1; fi
        alive || { echo L2-GONE; cat $d/stderr; return 1; }
        if [ $n -lt 10 ]; then
            sleep 0.1
            i=$((i - 1))
        else
            sleep 0.5
            i=$((i - 5))
        fi
        n=$((n + 1))
    done
}
case $op in
start)
    rm -rf $d
    mkdir -p $d
    for c in qmp ser; do
        mkfifo $d/$c.in $d/$c.out
        cat $d/$c.out > $d/$c.log 2>/dev/null &
        echo $! >> $d/readers
    done
    /qemu-system-aarch64 -accel kvm -cpu host -smp 1 \\
        -nodefaults -display none -no-reboot \\
        -chardev pipe,id=qmp,path=$d/qmp -mon chardev=qmp,mode=control \\
        -chardev pipe,id=ser,path=$d/ser -serial chardev:ser \\
        -D $d/trace.log "$@" </dev/null >$d/stdout 2>$d/stderr &
    echo $! > $d/pid
    poll 60 grep -q '"QMP"' $d/qmp.log
    ;;
qmp)
    alive || { echo L2-GONE; cat $d/stderr; exit 1; }
    printf '%s\\n' "$3" > $d/qmp.in
    poll $1 grep -F "\\"$2\\"" $d/qmp.log
    ;;
sh)
    alive || { echo L2-GONE; cat $d/stderr; exit 1; }
    off=$(wc -c < $d/ser.log)
    printf '%s; echo %s-$?\\n' "$3" "$2" > $d/ser.in
    # the whole status line: the tty ends it with CR LF
    poll $1 grep -q "$2-[0-9]*$(printf '\\r')" $d/ser.log ||
        { tail -c 2000 $d/ser.log; exit 1; }
    tail -c +$((off + 1)) $d/ser.log
    ;;
wait)
    poll $1 grep -qF "$2" $d/ser.log || { tail -c 2000 $d/ser.log; exit 1; }
    ;;
stop)
    # After QMP's quit: give QEMU 10 s to exit, then end it.
    for sig in TERM KILL; do
        i=100
        while alive && [ $i -gt 0 ]; do i=$((i - 1)); sleep 0.1; done
        alive && kill -$sig "$(cat $d/pid)"
    done
    kill $(cat $d/readers) 2>/dev/null
    echo L2-STDERR-BEGIN
    cat $d/stderr
    echo L2-STDERR-END
    rm -rf $d
    ;;
*)
    echo "usage: /l2 start|qmp|sh|wait|stop NAME ..." >&2
    exit 2
    ;;
esac
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


def create_vm_args(trace):
    """The KVM_CREATE_VM arguments in a trace of kvm_ioctl."""
    # "kvm_ioctl type 0xae01, arg 0x28"; %p prints 0 as "(nil)".
    out = []
    for line in trace.splitlines():
        m = re.search(r"kvm_ioctl type 0x([0-9a-f]+), arg "
                      r"(0x[0-9a-f]+|\(nil\))", line)
        if m and int(m.group(1), 16) == KVM_CREATE_VM:
            arg = m.group(2)
            out.append(0 if arg == "(nil)" else int(arg, 16))
    return out


def highest_address(iomem):
    """The highest address of any top-level /proc/iomem entry: what the
    guest was told is there (RAM, the PCIe windows and ECAM, ...)."""
    top = 0
    for line in iomem.splitlines():
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) : ", line)
        if m:
            top = max(top, int(m.group(2), 16))
    return top


class L2Result:
    """What one nested QEMU run left on the host's console."""

    def __init__(self, out):
        self.out = out
        self.exit = int(re.search(r"L2-EXIT-(\d+)", out).group(1))
        self.stderr = _between(out, "L2-STDERR-BEGIN", "L2-STDERR-END")
        self.create_vm = create_vm_args(
            _between(out, "L2-TRACE-BEGIN", "L2-TRACE-END"))
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
        return highest_address(self.iomem or "")


class NestedVM:
    """A nested QEMU that stays up in the emulated host (/l2 start), its
    QMP monitor and its guest's shell driven through the host's console.
    The guest boots /l2-vmlinuz with the busybox shell of guest.INIT."""

    def __init__(self, host, name, args, append=""):
        self.host = host
        self.name = name
        self.dir = "/tmp/l2-" + name
        self.args = (["-kernel", "/l2-vmlinuz", "-initrd", "/l2-shell.gz",
                      "-append", "console=ttyAMA0 panic=-1 " + append] +
                     list(args))
        self.seq = 0
        self.running = False

    def _l1(self, command, timeout):
        status, out = self.host.vm.shell(command, timeout + 30)
        if status != 0:
            raise guest.GuestError("nested %s: %s failed (%d):\n%s" % (
                self.name, command[:200], status, out[-3000:]))
        return out

    def launch(self, timeout=60):
        self.running = True
        self._l1("/l2 start %s %s" % (self.name, " ".join(
            shlex.quote(a) for a in self.args)), timeout)
        self.qmp("qmp_capabilities")
        return self

    def execute(self, command, timeout=60, **args):
        """Run a QMP command; return the whole response."""
        self.seq += 1
        qid = "vhm-%s-%d" % (self.name, self.seq)
        msg = {"execute": command, "id": qid}
        if args:
            msg["arguments"] = args
        out = self._l1("/l2 qmp %s %d %s %s" % (
            self.name, timeout, qid, shlex.quote(json.dumps(msg))), timeout)
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("{"):
                rsp = json.loads(line)
                if rsp.get("id") == qid:
                    return rsp
        raise guest.GuestError("no answer to %s in %r" % (qid, out))

    def qmp(self, command, timeout=60, **args):
        rsp = self.execute(command, timeout, **args)
        if "error" in rsp:
            raise guest.GuestError("%s failed: %s" % (command,
                                                      rsp["error"]["desc"]))
        return rsp["return"]

    def wait_shell(self, timeout=300):
        self._l1("/l2 wait %s %d VHM-GUEST-READY" % (self.name, timeout),
                 timeout)
        self.check("true")

    def shell(self, command, timeout=60):
        """Run @command in the nested guest's shell: (status, output)."""
        self.seq += 1
        mark = "L2-END-%d" % self.seq
        out = self._l1("/l2 sh %s %d %s %s" % (
            self.name, timeout, mark, shlex.quote(command)), timeout)
        m = re.search(re.escape(mark) + r"-(\d+)\r?\n", out)
        if not m:
            raise guest.GuestError("no %s in %r" % (mark, out[-3000:]))
        return int(m.group(1)), out[:m.start()].replace("\r", "")

    def check(self, command, timeout=60):
        status, out = self.shell(command, timeout)
        if status != 0:
            raise guest.GuestError("nested guest command %r failed (%d): %s"
                                   % (command, status, out))
        return out

    def trace(self, pattern):
        """The lines of this QEMU's trace log (-D) matching @pattern
        (grep -E)."""
        status, out = self.host.vm.shell("grep -E %s %s/trace.log" % (
            shlex.quote(pattern), self.dir), 120)
        if status not in (0, 1):
            raise guest.GuestError("grep in %s/trace.log: %s" % (self.dir,
                                                                out))
        return out.splitlines()

    def stop(self):
        """End the nested QEMU; return its stderr."""
        if not self.running:
            return ""
        self.running = False
        try:
            self.execute("quit", 30)
        except guest.GuestError:
            pass
        out = self._l1("/l2 stop %s" % self.name, 30)
        return _between(out, "L2-STDERR-BEGIN", "L2-STDERR-END")


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
        # NestedVM's guest: the interactive shell of the TCG tests.
        l2_shell = guest.build_initramfs(
            os.path.join(self.tmp, "l2-shell.gz"))
        files = []
        for name, mode, path in (
                ("qemu-system-aarch64", 0o755, QEMU_ARM64),
                ("l2-vmlinuz", 0o644, os.path.join(assets, "vmlinuz")),
                ("l2-initrd.gz", 0o644, l2),
                ("l2-shell.gz", 0o644, l2_shell)):
            with open(path, "rb") as f:
                files.append((name, mode, f.read()))
        files.append(("run-l2", 0o755, RUN_L2.encode()))
        files.append(("l2", 0o755, L2_CTL.encode()))
        return guest.build_initramfs(os.path.join(self.tmp, "l1-initrd.gz"),
                                     modules=VHOST_VSOCK_MODULES,
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
        for m in VHOST_VSOCK_MODULES:
            self.vm.check("insmod /modules/" + os.path.basename(m))
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

    def nested(self, name, args, append=""):
        """A NestedVM in this host (not launched yet)."""
        return NestedVM(self, name, args, append)

    def stop(self):
        if self.vm:
            self.vm.shutdown()
        shutil.rmtree(self.tmp, ignore_errors=True)
