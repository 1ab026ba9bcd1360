#!/usr/bin/env python3
#
# Acceptance: the binaries find Debian's firmware by themselves, as Debian's
# own qemu-system-* do (no -L anywhere in this file or in the harness):
# - -M q35 and -M pc map SeaBIOS from Debian's seabios package: the 256 KiB
#   below 4 GiB that the guest CPU sees are byte for byte the file
#   /usr/share/seabios/bios-256k.bin;
# - -M virt-hotmem boots UEFI with the firmware named by Debian's descriptor
#   in /usr/share/qemu/firmware (the one libvirt picks for "virt-*"), and the
#   guest kernel sees the EFI system table and ACPI.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import fnmatch
import glob
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

SEABIOS = "/usr/share/seabios/bios-256k.bin"
DESCRIPTORS = "/usr/share/qemu/firmware"
FOUR_GIB = 1 << 32


def check_seabios_mapped(machine, binary=guest.QEMU_X86_64):
    if not os.path.exists(SEABIOS):
        raise tap.Skip("%s missing (scripts/install-deps.sh guest)" % SEABIOS)
    with open(SEABIOS, "rb") as f:
        want = f.read()
    tmp = tempfile.mkdtemp(prefix="vhm-fw-")
    dump = os.path.join(tmp, "bios.bin")
    try:
        # -S: the BIOS flash alias below 4 GiB, before the BIOS ran.
        with guest.VM(["-M", machine, "-accel", "tcg", "-m", "128M", "-S"],
                      binary=binary, name="fw-" + machine) as vm:
            vm.qmp.cmd("pmemsave", val=FOUR_GIB - len(want), size=len(want),
                       filename=dump)
        with open(dump, "rb") as f:
            got = f.read()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert got == want, "the %d bytes below 4 GiB are not %s" % (len(want),
                                                                  SEABIOS)


def test_q35_seabios():
    check_seabios_mapped("q35")


def test_pc_seabios():
    check_seabios_mapped("pc")


def aarch64_uefi_descriptor(machine):
    """Debian's first (by file name, as libvirt orders them) plain-UEFI
    flash descriptor for aarch64 whose machine globs match @machine."""
    for path in sorted(glob.glob(os.path.join(DESCRIPTORS, "*.json"))):
        with open(path) as f:
            d = json.load(f)
        if ("uefi" not in d.get("interface-types", ()) or
                d.get("mapping", {}).get("device") != "flash" or
                "secure-boot" in d.get("features", ())):
            continue
        for t in d.get("targets", ()):
            if t.get("architecture") == "aarch64" and any(
                    fnmatch.fnmatch(machine, m) for m in t.get("machines", ())):
                return path, d["mapping"]
    return None, None


def test_virt_hotmem_uefi():
    path, mapping = aarch64_uefi_descriptor("virt-hotmem")
    if not path:
        raise tap.Skip("no aarch64 UEFI descriptor in %s matches virt-hotmem "
                       "(qemu-efi-aarch64 not installed)" % DESCRIPTORS)
    tmp = tempfile.mkdtemp(prefix="vhm-fw-")
    try:
        code = mapping["executable"]["filename"]
        vars_copy = os.path.join(tmp, "vars.fd")
        shutil.copy(mapping["nvram-template"]["filename"], vars_copy)
        flash = ["-drive", "if=pflash,format=%s,readonly=on,file=%s" %
                 (mapping["executable"]["format"], code),
                 "-drive", "if=pflash,format=%s,file=%s" %
                 (mapping["nvram-template"]["format"], vars_copy)]
        with guest.arm64_guest(extra=flash, name="fw-uefi") as vm:
            vm.wait_shell(timeout=300)
            efi = vm.check("ls /sys/firmware/efi && ls /sys/firmware/acpi/tables")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # The kernel found an EFI system table and ACPI tables: UEFI ran.
    assert "systab" in efi or "runtime" in efi, efi
    assert "DSDT" in efi, efi


if __name__ == "__main__":
    tap.main([("firmware/q35-finds-debian-seabios", test_q35_seabios),
              ("firmware/pc-finds-debian-seabios", test_pc_seabios),
              ("firmware/virt-hotmem-uefi-from-debian-descriptor",
               test_virt_hotmem_uefi)])
