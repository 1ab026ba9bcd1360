#!/usr/bin/env python3
#
# Acceptance: -global sets accelerator properties (patches/0012), so that
# a management layer that writes -accel itself (libvirt) can still switch
# precise-tsc on: "-global kvm-accel.precise-tsc=on".  Each case is read
# from outside QEMU's own answer where it can be:
#
# - kvm-accel.precise-tsc=on after a plain "-accel kvm": query-precise-tsc
#   says enabled; without the global it says disabled; an "-accel
#   kvm,precise-tsc=off" of its own overrides the global (as -device's
#   properties override -global).
# - kvm-accel.kernel-irqchip=split: the IOAPIC is QEMU's own ("ioapic" in
#   info qtree), not KVM's ("kvm-ioapic", q35's default).
# - tcg-accel.thread=single: one TCG thread for both vCPUs ("ALL CPUs/TCG"
#   in /proc/PID/task/*/comm) instead of one per vCPU.
# - an unknown property or a value the property refuses: QEMU exits with
#   one error line naming the global and the reason.
# - precise-tsc=on on a machine without vCPUs (-M none): one error line.
# - a global of an accelerator not in use (kvm-accel under -accel tcg):
#   QEMU runs and warns that the global is not used.
#
# The KVM cases run on the host's /dev/kvm and only need QEMU up and QMP
# answering (on a PVM host the guest firmware does not run).
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

X86 = ["-M", "q35", "-m", "256M"]


def need_kvm():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise tap.Skip("no usable /dev/kvm on this host")


def vm(*args, name="accel-global"):
    return guest.VM(list(args) + X86, binary=guest.QEMU_X86_64, name=name)


def precise_tsc_enabled(*args):
    with vm(*args) as v:
        return v.qmp.cmd("query-precise-tsc")["enabled"]


def test_kvm_precise_tsc():
    need_kvm()
    assert precise_tsc_enabled(
        "-accel", "kvm", "-global", "kvm-accel.precise-tsc=on") is True
    assert precise_tsc_enabled("-accel", "kvm") is False
    assert precise_tsc_enabled(
        "-accel", "kvm,precise-tsc=off",
        "-global", "kvm-accel.precise-tsc=on") is False


def ioapic_types(*args):
    with vm(*args) as v:
        qtree = v.qmp.hmp("info qtree")
    return {t for t in ("ioapic", "kvm-ioapic")
            if ("dev: %s," % t) in qtree}


def test_kvm_kernel_irqchip():
    need_kvm()
    assert ioapic_types("-accel", "kvm") == {"kvm-ioapic"}
    assert ioapic_types("-accel", "kvm", "-global",
                        "kvm-accel.kernel-irqchip=split") == {"ioapic"}


def tcg_threads(*args):
    """The names of QEMU's TCG threads (-name debug-threads=on names each
    after what it runs)."""
    with vm("-accel", "tcg", "-smp", "2", "-name", "debug-threads=on",
            *args) as v:
        v.qmp.cmd("query-status")
        task = "/proc/%d/task" % v.proc.pid
        names = []
        for tid in os.listdir(task):
            try:
                with open(os.path.join(task, tid, "comm")) as f:
                    names.append(f.read().strip())
            except FileNotFoundError:
                pass
    return sorted(n for n in names if n.endswith("/TCG"))


def test_tcg_thread_single():
    assert tcg_threads() == ["CPU 0/TCG", "CPU 1/TCG"]
    assert tcg_threads("-global", "tcg-accel.thread=single") == \
        ["ALL CPUs/TCG"]


def refused(*args):
    """QEMU's exit status and stderr lines when it must not start (q35
    unless @args name a machine)."""
    machine = [] if "-M" in args else X86
    try:
        p = subprocess.run([guest.QEMU_X86_64, "-nodefaults", "-display",
                            "none", "-S"] + list(args) + machine,
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=20)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("QEMU started (still running after 20 s): %s" %
                             (e.stderr or b"").decode(errors="replace"))
    return p.returncode, p.stderr.decode(errors="replace").splitlines()


def assert_one_error(args, names, reason):
    status, lines = refused(*args)
    assert status == 1, (status, lines)
    assert len(lines) == 1, lines
    assert names in lines[0] and reason in lines[0], lines


def test_unknown_property():
    assert_one_error(["-accel", "tcg", "-global", "tcg-accel.no-such=on"],
                     "tcg-accel.no-such=on", "not found")


def test_unknown_property_kvm():
    need_kvm()
    assert_one_error(["-accel", "kvm", "-global", "kvm-accel.no-such=on"],
                     "kvm-accel.no-such=on", "not found")


def test_kvm_precise_tsc_machine_none():
    """-M none has no vCPU: precise-tsc=on is refused with one line (it
    crashed QEMU before, whether set by -accel or -global)."""
    need_kvm()
    status, lines = refused("-accel", "kvm", "-global",
                            "kvm-accel.precise-tsc=on", "-M", "none")
    assert status == 1, (status, lines)
    assert lines == ["qemu-system-x86_64: precise-tsc=on needs a machine "
                     "with vCPUs"], lines


def test_bad_value():
    assert_one_error(["-accel", "tcg", "-global", "tcg-accel.thread=several"],
                     "tcg-accel.thread=several", "thread")


def test_accel_not_in_use():
    with vm("-accel", "tcg", "-global", "kvm-accel.precise-tsc=on") as v:
        assert v.qmp.cmd("query-precise-tsc")["enabled"] is False
        # (checked once the machine is created, before QMP answers)
        err = v.stderr()
    assert "global kvm-accel.precise-tsc=on not used" in err, err
    assert "invalid class name" not in err, err


if __name__ == "__main__":
    tap.main([("accel-global/kvm-precise-tsc", test_kvm_precise_tsc),
              ("accel-global/kvm-kernel-irqchip-split",
               test_kvm_kernel_irqchip),
              ("accel-global/tcg-thread-single", test_tcg_thread_single),
              ("accel-global/unknown-property", test_unknown_property),
              ("accel-global/unknown-property-kvm",
               test_unknown_property_kvm),
              ("accel-global/kvm-precise-tsc-machine-none",
               test_kvm_precise_tsc_machine_none),
              ("accel-global/bad-value", test_bad_value),
              ("accel-global/accel-not-in-use", test_accel_not_in_use)])
