#!/usr/bin/env python3
#
# Acceptance: the guest-visible firmware tables of -M virt-hotmem-10.0 are
# the same, byte for byte, on the 10.0 build and on the 10.2 build (issue
# 21: a guest keeps its tables across the host's upgrade), and stock virt
# on the 10.2 build keeps upstream's.
#
# The oracle of the first is the other build: each case reads fw_cfg's
# etc/acpi/tables and etc/smbios/smbios-tables from both builds' QEMU (no
# guest runs, vhm/acpi_tables.py) and compares them.  Upstream 10.2's virt
# changed its own virt-10.0 there with no compat property (a GED error
# device, _DSM and slot objects under PCI0, another _OSC, a PPTT root
# node); patches/10.2/0022 lets virt-hotmem-10.0 keep 10.0's.  The oracle
# of the second is QEMU 10.2's own bios-tables-test expectations
# (tests/data/acpi/aarch64/virt/ of the 10.2 source tree, which our
# patches leave alone), for the DSDT and PPTT the patch touches, with
# bios-tables-test's command lines; virt-hotmem-10.2, whose default map is
# virt's, must keep them too.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import acpi_tables, bases, tap, upgrade  # noqa: E402

FILES = ("etc/acpi/tables", "etc/smbios/smbios-tables")

# -M virt-hotmem-10.0 cases: (name, machine options, other arguments).
# Each covers tables that upstream 10.2 builds differently for virt-10.0.
# A case whose RAM is not where AAVMF wants it loads our ArmVirtQemuKernel
# (each build's own) as -kernel instead.
KERNEL_FIRMWARE = "pc-bios/virt-hotmem-efi-aarch64.fd"
CASES = [
    ("default", "", "-cpu cortex-a57 -smp 2 -m 1G"),
    # memory hotplug and NVDIMM AML, the NFIT and SSDT, the SRAT
    ("dimms", ",nvdimm=on",
     "-cpu cortex-a57 -m 1G,slots=4,maxmem=8G "
     "-object memory-backend-ram,id=m0,size=512M "
     "-device pc-dimm,id=dimm0,memdev=m0 "
     "-object memory-backend-ram,id=m1,size=256M "
     "-device nvdimm,id=nv0,memdev=m1"),
    # every PPTT level, the IORT of an SMMU, a pxb's _OSC, a PCI device
    ("topology-smmu-pxb", ",iommu=smmuv3",
     "-cpu cortex-a57 -m 1G -smp sockets=2,clusters=2,cores=2,threads=2 "
     "-device pxb-pcie,id=pxb1,bus_nr=128,bus=pcie.0 "
     "-device virtio-rng-pci,bus=pcie.0"),
    # RAM moved up: the map that virt-hotmem exists for, with two nodes
    ("ram-base-numa", ",ram-base=0x8000000000",
     "-cpu cortex-a57 -smp 2 -m 2G,slots=2,maxmem=4G "
     "-object memory-backend-ram,id=r0,size=1G "
     "-object memory-backend-ram,id=r1,size=1G "
     "-numa node,nodeid=0,cpus=0,memdev=r0 "
     "-numa node,nodeid=1,cpus=1,memdev=r1"),
]


def require_firmware():
    if not os.path.exists(acpi_tables.AAVMF_CODE):
        raise tap.Skip("%s is missing (install-deps.sh guest)" %
                       acpi_tables.AAVMF_CODE)


def fw_cfg_files(build, args):
    qemu = bases.emulator(build, "aarch64")
    firmware = ("-bios", acpi_tables.AAVMF_CODE)
    if "ram-base=" in args[1]:
        firmware = ("-kernel", os.path.join(build, KERNEL_FIRMWARE))
        if not os.path.exists(firmware[1]):
            raise tap.Skip("%s is not built (make firmware)" % firmware[1])
    return {name: acpi_tables.fw_cfg_file(qemu, args, name, firmware)
            for name in FILES}


def describe(blob):
    """The tables of @blob as "SIG(length)" words."""
    try:
        return " ".join("%s(%d)" % (s, len(t))
                        for s, t in acpi_tables.split(blob))
    except ValueError as e:
        return str(e)


def compare_case(machine_opts, extra):
    require_firmware()
    old, new = upgrade.old_and_new()
    if old == new:
        raise tap.Skip("one build only (%s=1): nothing to compare it with" %
                       upgrade.SAME_BUILD_ENV)
    args = ["-M", "virt-hotmem-10.0" + machine_opts] + extra.split()
    want = fw_cfg_files(old, args)
    got = fw_cfg_files(new, args)
    assert want["etc/acpi/tables"], "10.0 build: no etc/acpi/tables"
    for name in FILES:
        if want[name] == got[name]:
            continue
        if name != "etc/acpi/tables":
            raise AssertionError("%s differs: %d bytes on the 10.0 build, "
                                 "%s on the 10.2 build" % (
                                     name, len(want[name] or b""),
                                     len(got[name] or b"")))
        old_tables = acpi_tables.split(want[name])
        new_tables = acpi_tables.split(got[name])
        diffs = ["%s %d -> %s %d bytes" % (a[0], len(a[1]), b[0], len(b[1]))
                 for a, b in zip(old_tables, new_tables) if a != b]
        raise AssertionError(
            "the ACPI tables differ: %s\n10.0 build: %s\n10.2 build: %s" % (
                "; ".join(diffs) or "in their number",
                describe(want[name]), describe(got[name])))


def upstream_expected(build, variant):
    """{signature: bytes} of QEMU's bios-tables-test expectations for
    aarch64 virt (@variant "" or ".topology") in @build's source tree."""
    with open(os.path.join(build, "config-host.mak")) as f:
        src = re.search(r"^SRC_PATH=(.*)$", f.read(), re.M).group(1)
    data = os.path.join(src, "tests", "data", "acpi", "aarch64", "virt")
    out = {}
    for sig in ("DSDT", "PPTT"):
        with open(os.path.join(data, sig + variant), "rb") as f:
            out[sig] = f.read()
    return out


def compare_stock(machine, variant, params):
    """@machine on the 10.2 build, with bios-tables-test's arguments for
    @variant (its test_acpi_aarch64_virt_tcg*: -cdrom of its ISO, here
    an empty disk in the same place), against its expected tables."""
    require_firmware()
    build = bases.build_for("10.2")
    if not build:
        raise tap.Skip("no 10.2 build (make other-base)")
    expected = upstream_expected(build, variant)
    with tempfile.TemporaryDirectory() as tmp:
        cd = os.path.join(tmp, "cd.raw")
        with open(cd, "wb") as f:
            f.truncate(1 << 20)
        args = ["-M", machine] + params.split() + [
            "-drive", "file=%s,format=raw,media=cdrom" % cd]
        blob = acpi_tables.fw_cfg_file(bases.emulator(build, "aarch64"),
                                       args, "etc/acpi/tables")
    got = {s: acpi_tables.with_checksum(t)
           for s, t in acpi_tables.split(blob) if s in expected}
    for sig, want in expected.items():
        assert got.get(sig) == want, (
            "%s %s: %d bytes, QEMU 10.2's tests/data/acpi/aarch64/virt/%s%s "
            "has %d" % (machine, sig, len(got.get(sig) or b""), sig, variant,
                        len(want)))


def case_test(opts, extra):
    return lambda: compare_case(opts, extra)


def stock_test(machine, variant, params):
    return lambda: compare_stock(machine, variant, params)


if __name__ == "__main__":
    tests = [("acpi-tables-bases/virt-hotmem-10.0/" + name,
              case_test(opts, extra)) for name, opts, extra in CASES]
    # virt-hotmem-10.2 keeps upstream 10.2's tables: with its default map
    # its DSDT and PPTT are virt's
    for machine in ("virt", "virt-10.0", "virt-hotmem-10.2"):
        tests += [
            ("acpi-tables-bases/10.2-%s-upstream" % machine,
             stock_test(machine + ",ras=on", "", "-cpu cortex-a57")),
            ("acpi-tables-bases/10.2-%s-upstream-topology" % machine,
             stock_test(machine, ".topology",
                        "-cpu cortex-a57 "
                        "-smp sockets=1,clusters=2,cores=2,threads=2")),
        ]
    tap.main(tests)
