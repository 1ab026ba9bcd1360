"""virsh migrate between two libvirt hosts: stock virt against virt-hotmem.

The same domain (the manual's libvirt-uefi XML: Debian's AAVMF, 2 GiB, the
initramfs shell) on each machine type, with the same two 1 GiB DIMMs
attached live (the manual's libvirt-dimm), is migrated live ROUNDS times
each way between the two private libvirtds of vhm/libvirt.py (own mount
and network namespaces, a veth pair between them), TCG.  The machine
types alternate per round so that a change in the machine's load hits
both alike.  Measured: the wall time of each `virsh migrate --live`,
the client's view, which is what a libvirt user waits for.  Prints every
figure, the medians per machine type and the ratio virt-hotmem / virt.

A benchmark, not a test: nothing here fails on a slow figure; it exits
non-zero only when the measurement could not be done.

usage: scripts/bench-libvirt-migration.py [ROUNDS]
"""
import argparse
import statistics
import sys

from . import dimm, libvirt, tap

MACHINES = ("virt", "virt-hotmem")


def log(msg):
    print(msg, flush=True)


def start(machine):
    """Two hosts with the UEFI domain on @machine running on host 0,
    its two DIMMs attached and online."""
    two = libvirt.TwoHosts("vhm-bench-" + machine.replace("-", ""))
    try:
        con = libvirt.boot(two, "libvirt-uefi", (), [(
            "machine='virt-hotmem'", "machine='%s'" % machine)])
        for _ in range(2):
            libvirt.attach(two, 0, "libvirt-dimm")
        dimm.online_all(con)
        con.close()
        return two
    except BaseException:
        two.close()
        raise


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rounds", nargs="?", type=int, default=5,
                    help="migrations each way per machine type (default 5)")
    args = ap.parse_args()
    if args.rounds < 1:
        log("ROUNDS must be at least 1")
        return 2
    times = {m: [] for m in MACHINES}
    pairs = {}
    try:
        for m in MACHINES:
            pairs[m] = start(m)
        for r in range(args.rounds):
            for m in MACHINES:
                two = pairs[m]
                for src, dst in ((0, 1), (1, 0)):
                    rc, out, secs = two.migrate(src, dst)
                    if rc:
                        log("virsh migrate failed on %s: %s" % (m, out))
                        return 1
                    times[m].append(secs)
                    log("round %d %-11s host %d -> %d  %.2f s" %
                        (r + 1, m, src, dst, secs))
    except (tap.Skip, AssertionError, OSError) as e:
        log("the measurement could not be done: %s" % e)
        return 1
    finally:
        for two in pairs.values():
            two.close()
    med = {m: statistics.median(times[m]) for m in MACHINES}
    log("virsh migrate --live, UEFI guest, 2 GiB + 2 x 1 GiB DIMMs, TCG, "
        "%d migrations each:" % len(times["virt"]))
    for m in MACHINES:
        log("  %-11s median %.2f s  (min %.2f, max %.2f)" %
            (m, med[m], min(times[m]), max(times[m])))
    log("  ratio virt-hotmem / virt: %.3f" % (med["virt-hotmem"] /
                                               med["virt"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
