#!/usr/bin/env python3
#
# make bench, memory hotplug part: stock virt against virt-hotmem, same
# binary, same Debian arm64 guest (UEFI, ACPI), ROUNDS rounds each:
#
#   (a) hotplug latency: QMP device_add of a 512 MiB pc-dimm until the
#       guest's ACPI _OST says it added it (memhp_default_state=online);
#   (b) migration total time and downtime (query-migrate on the source)
#       with 4 cold-plugged DIMMs of 512 MiB, unix socket, TCG, chained
#       source -> destination -> next destination;
#   (c) start-up to the device tree (-machine dumpdtb) and peak RSS with
#       -m 1G,slots=256,maxmem=4T.
#
# Each round boots each board twice (2 hot-adds, 1 migration) and starts
# it twice for (c), alternating between the boards.  Prints each figure,
# the medians and the ratio virt-hotmem / virt (the goal is <= 1.05).
# A benchmark, not a test: nothing here fails on a slow figure.
#
# Usage: bench-hotplug.py [ROUNDS]
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "acceptance"))
from vhm import dimm, guest  # noqa: E402

MiB, GiB = guest.MiB, guest.GiB
BOARDS = ["virt", "virt-hotmem"]
BLOCK = 128 * MiB


def hotplug_latency(machine, rounds):
    """Seconds from device_add until the guest reports, by ACPI _OST
    (QMP event ACPI_DEVICE_OST), that it added the DIMM; Linux does so
    after adding and, with memhp_default_state=online, onlining its
    blocks (checked afterwards).  Every DIMM gets an explicit address
    (one per GiB of device memory), so both boards plug the same ranges.
    (Polling the blocks' sysfs state from the guest while they are added
    crashed the Debian 6.1 guest kernel now and then, on both boards.)"""
    vm = dimm.uefi_guest(machine, "1G", slots=rounds,
                         maxmem="%dG" % (1 + rounds), name="bench-hp")
    i = vm.argv.index("-append")
    vm.argv[i + 1] += " memhp_default_state=online"
    out = []
    with vm:
        vm.wait_shell()
        for r in range(rounds):
            addr = dimm.device_memory_base(GiB) + r * GiB
            dev = "d%d" % r
            dimm.backend(vm, "b%d" % r, 512 * MiB)
            vm.qmp.events.clear()
            t0 = time.monotonic()
            vm.qmp.cmd("device_add", driver="pc-dimm", id=dev,
                       memdev="b%d" % r, addr=addr)
            while not any(e["event"] == "ACPI_DEVICE_OST" and
                          e["data"]["info"].get("device") == dev
                          for e in vm.qmp.events):
                if time.monotonic() - t0 > 60:
                    raise guest.GuestError("no _OST for %s in 60 s" % dev)
                time.sleep(0.002)
                vm.qmp.cmd("query-status")
            out.append(time.monotonic() - t0)
            last = (addr + 512 * MiB) // BLOCK - 1
            vm.check("grep -q online "
                     "/sys/devices/system/memory/memory%d/state" % last)
    return out


def migration(machine, rounds):
    """(total-time, downtime) in ms of @rounds chained migrations."""
    extra = []
    for i in range(4):
        extra += ["-object", "memory-backend-ram,id=m%d,size=512M" % i,
                  "-device", "pc-dimm,id=d%d,memdev=m%d" % (i, i)]
    out = []
    src = dimm.uefi_guest(machine, "1G", slots=4, maxmem="4G", extra=extra,
                          name="bench-mig0").launch()
    try:
        src.wait_shell()
        for r in range(rounds):
            dst = dimm.uefi_guest(machine, "1G", slots=4, maxmem="4G",
                                  extra=extra + ["-incoming", "defer"],
                                  name="bench-mig%d" % (r + 1)).launch()
            status = guest.migrate(src, dst, 300)
            info = src.qmp.cmd("query-migrate")
            if status != "completed":
                dst.shutdown()
                raise guest.GuestError("migration %s: %r" % (status, info))
            out.append((info["total-time"], info["downtime"]))
            src.shutdown()
            src = dst
    finally:
        src.shutdown()
    return out


def startup(machine, rounds):
    """(seconds, peak RSS in MiB) of QEMU starting up to its device tree
    and exiting, -m 1G,slots=256,maxmem=4T."""
    out = []
    with tempfile.TemporaryDirectory(prefix="vhm-bench-") as tmp:
        for _ in range(rounds):
            t0 = time.monotonic()
            proc = subprocess.Popen(
                [guest.QEMU_AARCH64, "-M", machine, "-accel", "tcg",
                 "-cpu", "max", "-m", "1G,slots=256,maxmem=4T",
                 "-nodefaults", "-display", "none", "-nic", "none",
                 "-machine", "dumpdtb=%s/dtb" % tmp],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.monotonic() - t0
            if status != 0:
                raise guest.GuestError("%s did not start: %s" %
                                       (machine, proc.stderr.read()))
            proc.stderr.close()
            out.append((elapsed, usage.ru_maxrss / 1024))
    return out


def report(name, unit, figures):
    meds = {b: statistics.median(figures[b]) for b in BOARDS}
    for b in BOARDS:
        print("  %-12s %s" % (b, "  ".join("%.1f" % f for f in figures[b])))
    ratio = meds["virt-hotmem"] / meds["virt"] if meds["virt"] else 0
    print("%-40s virt %9.1f  virt-hotmem %9.1f %-4s ratio %.3f" %
          (name, meds["virt"], meds["virt-hotmem"], unit, ratio), flush=True)
    return ratio


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print("bench-hotplug: %d rounds, %s" % (rounds, guest.QEMU_AARCH64),
          flush=True)
    # Rounds alternate between the boards, so that a change in the
    # machine's load hits both alike.
    hp, mig, st = ({b: [] for b in BOARDS} for _ in range(3))
    for r in range(rounds):
        for b in BOARDS:
            hp[b] += hotplug_latency(b, 2)
            mig[b] += migration(b, 1)
            st[b] += startup(b, 2)
        print("bench-hotplug: round %d of %d done" % (r + 1, rounds),
              flush=True)
    print("\nmedians (ratio = virt-hotmem / virt, goal <= 1.05):")
    ratios = [
        report("(a) hotplug latency, device_add->online", "ms",
               {b: [s * 1000 for s in hp[b]] for b in BOARDS}),
        report("(b) migration total time, 4x512M DIMMs", "ms",
               {b: [t for t, _ in mig[b]] for b in BOARDS}),
        report("(b) migration downtime, 4x512M DIMMs", "ms",
               {b: [d for _, d in mig[b]] for b in BOARDS}),
        report("(c) start-up to DTB, slots=256,maxmem=4T", "ms",
               {b: [t * 1000 for t, _ in st[b]] for b in BOARDS}),
        report("(c) peak RSS, slots=256,maxmem=4T", "MiB",
               {b: [r for _, r in st[b]] for b in BOARDS}),
    ]
    print("ratios above 1.05: %d of %d" % (sum(r > 1.05 for r in ratios),
                                           len(ratios)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except guest.GuestError as e:
        print("bench-hotplug: %s" % e, file=sys.stderr)
        sys.exit(1)
