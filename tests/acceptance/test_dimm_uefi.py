#!/usr/bin/env python3
#
# Acceptance: the unmodified Debian arm64 cloud kernel booted by UEFI
# (Debian's AAVMF) with ACPI, device memory moved to 2 TiB, a cold nvdimm
# there: its SRAT and NFIT (read back from the guest) disassemble with
# iasl -d cleanly, checksums right, and a pc-dimm hot-added over QMP is
# onlined.  Addresses are worked out here: device-memory-base, then the
# addr= given, sizes of the backends.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

GiB = guest.GiB
AAVMF_CODE = guest.AAVMF_CODE
AAVMF_VARS = guest.AAVMF_VARS
DEVICE_MEMORY = 2048 * GiB


def test_hotadd_dimm_at_2t():
    if not (os.path.exists(AAVMF_CODE) and os.path.exists(AAVMF_VARS)):
        raise tap.Skip("no %s (Debian's qemu-efi-aarch64)" % AAVMF_CODE)
    vm = guest.arm64_guest(machine_opts="device-memory-base=2T,nvdimm=on",
                           mem="1G,slots=3,maxmem=5G", name="dimm-uefi",
                           cmdline="memhp_default_state=online",
                           extra=["-object",
                                  "memory-backend-ram,id=n0,size=128M",
                                  "-device", "nvdimm,id=nv0,memdev=n0"])
    vars_copy = os.path.join(vm.tmp, "vars.fd")
    shutil.copy(AAVMF_VARS, vars_copy)
    vm.argv += ["-drive", "if=pflash,format=raw,readonly=on,file=" +
                AAVMF_CODE,
                "-drive", "if=pflash,format=raw,file=" + vars_copy]
    with vm:
        vm.wait_shell(timeout=180)
        tables = {t: base64.b64decode("".join(vm.check(
                      "base64 /sys/firmware/acpi/tables/" + t).split()))
                  for t in ("SRAT", "NFIT")}
        before = guest.mem_total_kib(vm)
        vm.qmp.cmd("object-add", **{"qom-type": "memory-backend-ram",
                                    "id": "hd0", "size": GiB})
        vm.qmp.cmd("device_add", driver="pc-dimm", id="hdimm0",
                   memdev="hd0", addr=DEVICE_MEMORY + GiB)
        # The guest onlines it (memhp_default_state=online); poll, bounded
        vm.check("for i in $(seq 100); do grep -q '^%x-' /proc/iomem && "
                 "break; sleep 0.1; done" % (DEVICE_MEMORY + GiB))
        iomem = guest.parse_iomem(vm.check("cat /proc/iomem"))
        # Blocks come online one after the other: wait, bounded, for all
        deadline = time.monotonic() + 20
        after = guest.mem_total_kib(vm)
        while after - before < GiB // 1024 and time.monotonic() < deadline:
            time.sleep(0.2)
            after = guest.mem_total_kib(vm)
        dev = vm.qmp.cmd("query-memory-devices")
    # The nvdimm (cold, first in device memory) is not System RAM
    assert (DEVICE_MEMORY + GiB, DEVICE_MEMORY + 2 * GiB - 1) in iomem, \
        "no System RAM at 2 TiB + 1 GiB in %s" % [(hex(s), hex(e))
                                                  for s, e in iomem]
    assert after - before == GiB // 1024, \
        "MemTotal grew by %d KiB, not 1 GiB" % (after - before)
    addrs = sorted(d["data"]["addr"] for d in dev)
    assert addrs == [DEVICE_MEMORY, DEVICE_MEMORY + GiB], dev
    check_tables(tables)


def check_tables(tables):
    """Each table's bytes sum to 0 (its checksum is right) and iasl -d
    disassembles it without an error or warning; the SRAT's hotpluggable
    entry is at 2 TiB, the NFIT's address range at the nvdimm."""
    tmp = tempfile.mkdtemp(prefix="vhm-acpi-")
    try:
        for sig, data in tables.items():
            assert sum(data) % 256 == 0, "%s checksum is wrong" % sig
            path = os.path.join(tmp, sig + ".dat")
            with open(path, "wb") as f:
                f.write(data)
            r = subprocess.run(["iasl", "-d", path], capture_output=True,
                               text=True, timeout=30)
            out = r.stdout + r.stderr
            assert r.returncode == 0 and "Error" not in out and \
                "Warning" not in out, "iasl -d %s: %s" % (sig, out)
            with open(os.path.join(tmp, sig + ".dsl")) as f:
                dsl = f.read()
            assert "Base Address : 0000020000000000" in dsl or \
                "Address Range Base : 0000020000000000" in dsl, dsl
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    tap.main([("dimm/uefi-hotadd-dimm-device-memory-at-2TiB",
               test_hotadd_dimm_at_2t)])
