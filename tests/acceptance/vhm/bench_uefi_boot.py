"""Boot time of a distribution-style UEFI disk: virt-hotmem against virt.

The disk is the one tests/acceptance/test_uefi_moved_map.py boots (made
by vhm/uefi_disk.py from Debian packages: GPT, GRUB on an EFI system
partition, Debian's arm64 cloud kernel and the busybox initramfs on
/boot).  Four ways, same disk, TCG, -cpu max, 1 vCPU, 1 GiB:

    virt-hotmem        -M virt-hotmem, virt-hotmem's EDK II
                       (build/pc-bios/virt-hotmem-efi-aarch64.fd, -kernel)
    virt-hotmem-512g   the same with ram-base=0x8000000000
    virt-hotmem-aavmf  -M virt-hotmem (its default map, RAM at 1 GiB) with
                       Debian's AAVMF in flash, as below
    virt-aavmf         stock -M virt with Debian's AAVMF in flash (code
                       read-only, a fresh copy of AAVMF_VARS.fd), as
                       libvirt starts it

virt-hotmem-aavmf against virt-aavmf is the machine's cost (same
firmware), virt-hotmem against virt-hotmem-aavmf the firmware's (same
machine).

Each figure is the wall time from starting QEMU to the guest's userspace
(the initramfs prints VHM-GUEST-READY before it starts its shell), after
GRUB ran from the disk.  ROUNDS rounds, the ways alternating within each
round so that a change in the machine's load hits them alike; prints
every figure, the medians, the ratios to virt-aavmf and the machine's
and the firmware's share.

A benchmark, not a test: nothing here fails on a slow figure; it exits
non-zero only when the measurement could not be done.

usage: scripts/bench-uefi-boot.py [ROUNDS]      (default 3)
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

from . import guest, tap, uefi_disk

FIRMWARE = os.path.join(guest.BUILD, "pc-bios", "virt-hotmem-efi-aarch64.fd")
CMDLINE = "console=ttyAMA0 panic=-1"
# What the disk's grub.cfg prints (vhm/uefi_disk.py)
GRUB_MARK = b"vhm: GRUB loading the kernel from /boot"
WAYS = ("virt-hotmem", "virt-hotmem-512g", "virt-hotmem-aavmf",
        "virt-aavmf")


def log(msg):
    print(msg, flush=True)


def make_disk(tmp):
    initrd = guest.build_initramfs(os.path.join(tmp, "initrd.gz"))
    kernel = os.path.join(guest.guest_assets(), "vmlinuz")
    return uefi_disk.make_disk(os.path.join(tmp, "disk.raw"), kernel,
                               initrd, CMDLINE)


def firmware_args(way, tmp):
    """-M and the firmware for @way."""
    if way in ("virt-aavmf", "virt-hotmem-aavmf"):
        vars_copy = os.path.join(tmp, "vars.fd")
        shutil.copyfile(guest.AAVMF_VARS, vars_copy)
        return ["-M", "virt" if way == "virt-aavmf" else "virt-hotmem",
                "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" +
                guest.AAVMF_CODE,
                "-drive", "if=pflash,format=raw,unit=1,file=" + vars_copy]
    machine = "virt-hotmem"
    if way == "virt-hotmem-512g":
        machine += ",ram-base=0x8000000000"
    return ["-M", machine, "-kernel", FIRMWARE]


def boot_seconds(way, disk, tmp):
    """Seconds from starting QEMU to the guest's userspace."""
    vm = guest.VM(firmware_args(way, tmp) + [
        "-accel", "tcg", "-cpu", "max", "-smp", "1",
        "-m", "1G,slots=4,maxmem=8G",
        "-drive", "if=none,id=d0,format=raw,readonly=on,file=" + disk,
        "-device", "virtio-blk-pci,drive=d0", "-no-reboot"],
        name="bench-uefi-" + way)
    t0 = time.monotonic()
    with vm:
        vm.wait_console(rb"VHM-GUEST-READY", timeout=600)
        took = time.monotonic() - t0
        if GRUB_MARK not in vm.console:
            raise AssertionError("%s: the guest did not boot through GRUB"
                                 % way)
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rounds", nargs="?", type=int, default=3,
                    help="boots per way (default 3)")
    args = ap.parse_args()
    if args.rounds < 1:
        log("ROUNDS must be at least 1")
        return 2
    for path, what in ((FIRMWARE, "make firmware"),
                       (guest.AAVMF_CODE, "Debian's qemu-efi-aarch64"),
                       (guest.AAVMF_VARS, "Debian's qemu-efi-aarch64")):
        if not os.path.exists(path):
            log("the measurement could not be done: no %s (%s)" %
                (path, what))
            return 1
    times = {w: [] for w in WAYS}
    tmp = tempfile.mkdtemp(prefix="vhm-bench-uefi-")
    try:
        disk = make_disk(tmp)
        for r in range(args.rounds):
            for way in WAYS:
                secs = boot_seconds(way, disk, tmp)
                times[way].append(secs)
                log("round %d %-17s %6.2f s" % (r + 1, way, secs))
    except (tap.Skip, AssertionError, guest.GuestError, OSError) as e:
        log("the measurement could not be done: %s" % e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log("load average: %s" % open("/proc/loadavg").read().strip())
    med = {w: statistics.median(t) for w, t in times.items()}
    log("boot of the distro-style UEFI disk to userspace, median of %d "
        "(TCG, -cpu max, 1 vCPU, 1 GiB):" % args.rounds)
    for w in WAYS:
        log("  %-17s %6.2f s   (%s)" % (w, med[w], ", ".join(
            "%.2f" % t for t in times[w])))
    for w in WAYS[:3]:
        log("  %s / virt-aavmf = %.2f" % (w, med[w] / med["virt-aavmf"]))
    log("  machine (virt-hotmem-aavmf - virt-aavmf): %+.2f s" %
        (med["virt-hotmem-aavmf"] - med["virt-aavmf"]))
    log("  firmware (virt-hotmem - virt-hotmem-aavmf): %+.2f s" %
        (med["virt-hotmem"] - med["virt-hotmem-aavmf"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
