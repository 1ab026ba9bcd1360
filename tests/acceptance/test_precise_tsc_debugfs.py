#!/usr/bin/env python3
#
# Acceptance: where precise-tsc takes the TSC scaling ratio from.
#
# KVM shows the ratio it applies in debugfs (kvm/PID-VMFD/vcpuN/
# tsc-scaling-ratio and tsc-scaling-ratio-frac-bits), but debugfs is not
# an ABI: it may not be mounted, may be locked down, and KVM creates those
# files only on hosts that can scale.  QEMU reads them when it can and
# otherwise computes the ratio as KVM does.  Each case runs QEMU in a
# mount namespace of its own (unshare --mount) with a tmpfs over
# /sys/kernel/debug, so that the host's debugfs is hidden from it:
#
# - hidden: the tmpfs stays empty.  QEMU computes the ratio; with the
#   guest at the host's frequency it is KVM's unscaled ratio, 1 << 32 on
#   AMD, 1 << 48 on Intel (kvm_caps.tsc_scaling_ratio_frac_bits).
# - shown: the tmpfs holds KVM's two files for the VM's vCPU 0, written
#   by this test with a ratio no host computes.  QEMU takes that ratio.
# - unreadable: the files hold no number.  QEMU computes the ratio.
#
# The ratio is read from the kvm_tsc_scaling trace event of a migration
# to a file (the source's snapshot).  Needs /dev/kvm, root (for the mount
# namespace) and unshare(1); the host's KVM need not apply TSC offsets.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

# A ratio and a fraction no host has: 0x1.23456789 with 32 bits
STAND_IN_RATIO = 0x123456789
STAND_IN_FRAC = 32
TRACE = re.compile(r"kvm_tsc_scaling (\w+): guest (\d+) kHz host (\d+) kHz "
                   r"ratio 0x([0-9a-f]+) frac_bits (\d+)")
# debugfs hidden: the namespace's /sys/kernel/debug is an empty tmpfs
HIDE_DEBUGFS = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount -t tmpfs none /sys/kernel/debug && exec "$@"', "sh"]


def need_namespace():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise tap.Skip("no usable /dev/kvm on this host")
    if os.geteuid() != 0 or not shutil.which("unshare"):
        raise tap.Skip("needs root and unshare(1) for a mount namespace")


def host_is_amd():
    with open("/proc/cpuinfo") as f:
        cpuinfo = f.read()
    return "AuthenticAMD" in cpuinfo or "HygonGenuine" in cpuinfo


def vm_fd(pid):
    """The fd of the KVM VM in process @pid, which names its debugfs
    directory."""
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == \
                    "anon_inode:kvm-vm":
                return int(fd)
        except OSError:
            pass
    raise AssertionError("process %d has no KVM VM fd" % pid)


def scaling_trace(files=None):
    """Migrate a precise-tsc VM to a file with debugfs hidden; if @files
    ({name: text}), first write them into its vCPU 0 debugfs directory as
    KVM would.  Returns (source, guest kHz, host kHz, ratio, frac bits)."""
    path = os.path.join(guest.scratch_dir("vhm-tsc-"), "stream")
    v = guest.VM(["-accel", "kvm,precise-tsc=on,precise-tsc-catch-up=on",
                  "-M", "q35", "-smp", "1", "-m", "128M",
                  "-trace", "kvm_tsc_scaling"],
                 binary=guest.QEMU_X86_64, name="tsc-debugfs")
    v.argv = HIDE_DEBUGFS + v.argv
    with v:
        if files is not None:
            pid = v.proc.pid    # QEMU itself: sh exec'd it
            # its mount namespace, seen from ours
            vcpu0 = "/proc/%d/root/sys/kernel/debug/kvm/%d-%d/vcpu0" % (
                pid, pid, vm_fd(pid))
            os.makedirs(vcpu0)
            for name, text in files.items():
                with open(os.path.join(vcpu0, name), "w") as f:
                    f.write(text)
        v.qmp.cmd("migrate", uri="file:" + path)
        assert guest.wait_migration(v) == "completed"
        err = v.stderr()
    found = TRACE.findall(err)
    assert len(found) == 1, "expected one kvm_tsc_scaling event:\n" + err
    source, guest_khz, host_khz, ratio, frac = found[0]
    return source, int(guest_khz), int(host_khz), int(ratio, 16), int(frac)


def test_hidden_computed():
    need_namespace()
    source, guest_khz, host_khz, ratio, frac = scaling_trace()
    assert source == "computed", source
    assert guest_khz == host_khz, (guest_khz, host_khz)
    unscaled = 32 if host_is_amd() else 48
    assert (ratio, frac) == (1 << unscaled, unscaled), (hex(ratio), frac)


def test_shown_read():
    need_namespace()
    source, _, _, ratio, frac = scaling_trace({
        "tsc-scaling-ratio": "%d\n" % STAND_IN_RATIO,
        "tsc-scaling-ratio-frac-bits": "%d\n" % STAND_IN_FRAC})
    assert source == "debugfs", source
    assert (ratio, frac) == (STAND_IN_RATIO, STAND_IN_FRAC), \
        (hex(ratio), frac)


def test_unreadable_computed():
    need_namespace()
    source, guest_khz, host_khz, ratio, frac = scaling_trace({
        "tsc-scaling-ratio": "not a number\n",
        "tsc-scaling-ratio-frac-bits": "32\n"})
    assert source == "computed", source
    unscaled = 32 if host_is_amd() else 48
    assert (ratio, frac) == (1 << unscaled, unscaled), (hex(ratio), frac)


if __name__ == "__main__":
    tap.main([("precise-tsc/debugfs-hidden-ratio-computed",
               test_hidden_computed),
              ("precise-tsc/debugfs-shown-ratio-read", test_shown_read),
              ("precise-tsc/debugfs-unreadable-ratio-computed",
               test_unreadable_computed)])
