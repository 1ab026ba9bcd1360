#!/usr/bin/env python3
"""Boot time of the Debian arm64 guest on -M virt-hotmem under TCG, three
ways, same kernel and initramfs, in the same run:

    acpi-direct  acpi=on -kernel: no firmware, EFI/ACPI handoff by QEMU
    dt           -kernel with a device tree (virt's default)
    uefi         Debian's AAVMF (-bios), which boots -kernel through the
                 kernel's EFI stub, with ACPI

Each figure is the wall time from starting QEMU to the guest's first
shell line (the initramfs prints VHM-GUEST-READY before it starts the
shell); the median of ROUNDS boots per mode, rounds interleaved so that
load on the machine hits the modes alike.  Prints the medians and the
ratios acpi-direct/dt and acpi-direct/uefi.

usage: scripts/bench-acpi-boot.py [ROUNDS]      (default 5)

Exits non-zero only when a boot failed.  Python 3 standard library only.
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "acceptance"))
from vhm import guest  # noqa: E402

MODES = {
    "acpi-direct": ("acpi=on", []),
    "dt": ("", []),
    "uefi": ("", ["-bios", guest.AAVMF_CODE]),
}


def cpu_seconds(pid):
    """user + system CPU time of process @pid so far (proc(5))."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def boot_seconds(machine_opts, extra):
    """(wall, QEMU CPU) seconds from start to the first shell line."""
    vm = guest.arm64_guest(machine_opts=machine_opts, extra=extra,
                           name="bench-acpi")
    t0 = time.monotonic()
    with vm:
        vm.wait_console(rb"VHM-GUEST-READY", timeout=300)
        return time.monotonic() - t0, cpu_seconds(vm.proc.pid)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    modes = dict(MODES)
    if not os.path.exists(guest.AAVMF_CODE):
        print("bench-acpi-boot: no %s (qemu-efi-aarch64): uefi not "
              "measured" % guest.AAVMF_CODE)
        del modes["uefi"]
    times = {m: [] for m in modes}
    cpu = {m: [] for m in modes}
    for r in range(rounds):
        for mode, (opts, extra) in modes.items():
            wall, used = boot_seconds(opts, extra)
            times[mode].append(wall)
            cpu[mode].append(used)
            print("round %d %-11s %6.2f s wall %6.2f s CPU" %
                  (r + 1, mode, wall, used), flush=True)
    print("load average: %s" % open("/proc/loadavg").read().strip())
    for what, data in (("wall time", times), ("QEMU CPU time", cpu)):
        med = {m: statistics.median(t) for m, t in data.items()}
        print("boot to first shell line, %s, median of %d (TCG, -cpu max, "
              "1 vCPU, 1 GiB):" % (what, rounds))
        for mode in modes:
            print("  %-11s %6.2f s   (%s)" % (mode, med[mode], ", ".join(
                "%.2f" % t for t in data[mode])))
        print("  acpi-direct / dt   = %.2f" % (med["acpi-direct"] /
                                              med["dt"]))
        if "uefi" in med:
            print("  acpi-direct / uefi = %.2f" % (med["acpi-direct"] /
                                                  med["uefi"]))


if __name__ == "__main__":
    main()
