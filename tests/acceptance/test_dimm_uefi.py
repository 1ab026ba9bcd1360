#!/usr/bin/env python3
#
# Acceptance: a pc-dimm hot-added over QMP to the unmodified Debian arm64
# cloud kernel booted by UEFI (Debian's AAVMF) with ACPI, with device
# memory moved to 2 TiB.  The DIMM's range is worked out here: the address
# given by device-memory-base, the size of the backend.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

GiB = guest.GiB
AAVMF_CODE = "/usr/share/AAVMF/AAVMF_CODE.fd"
AAVMF_VARS = "/usr/share/AAVMF/AAVMF_VARS.fd"
DEVICE_MEMORY = 2048 * GiB


def memtotal_kib(vm):
    return guest.meminfo_kib(vm.check("cat /proc/meminfo"), "MemTotal")


def test_hotadd_dimm_at_2t():
    if not (os.path.exists(AAVMF_CODE) and os.path.exists(AAVMF_VARS)):
        raise tap.Skip("no %s (Debian's qemu-efi-aarch64)" % AAVMF_CODE)
    vm = guest.arm64_guest(machine_opts="device-memory-base=2T",
                           mem="1G,slots=2,maxmem=4G", name="dimm-uefi",
                           cmdline="memhp_default_state=online")
    vars_copy = os.path.join(vm.tmp, "vars.fd")
    shutil.copy(AAVMF_VARS, vars_copy)
    vm.argv += ["-drive", "if=pflash,format=raw,readonly=on,file=" +
                AAVMF_CODE,
                "-drive", "if=pflash,format=raw,file=" + vars_copy]
    with vm:
        vm.wait_shell(timeout=180)
        before = memtotal_kib(vm)
        vm.qmp.cmd("object-add", **{"qom-type": "memory-backend-ram",
                                    "id": "hd0", "size": GiB})
        vm.qmp.cmd("device_add", driver="pc-dimm", id="hdimm0",
                   memdev="hd0")
        # The guest onlines it (memhp_default_state=online); poll, bounded
        vm.check("for i in $(seq 100); do grep -q '^%x-' /proc/iomem && "
                 "break; sleep 0.1; done" % DEVICE_MEMORY)
        iomem = guest.parse_iomem(vm.check("cat /proc/iomem"))
        # Blocks come online one after the other: wait, bounded, for all
        deadline = time.monotonic() + 20
        after = memtotal_kib(vm)
        while after - before < GiB // 1024 and time.monotonic() < deadline:
            time.sleep(0.2)
            after = memtotal_kib(vm)
        dev = vm.qmp.cmd("query-memory-devices")
    assert (DEVICE_MEMORY, DEVICE_MEMORY + GiB - 1) in iomem, \
        "no System RAM at 2 TiB in %s" % [(hex(s), hex(e)) for s, e in iomem]
    assert after - before == GiB // 1024, \
        "MemTotal grew by %d KiB, not 1 GiB" % (after - before)
    assert dev[0]["data"]["addr"] == DEVICE_MEMORY, dev


if __name__ == "__main__":
    tap.main([("dimm/uefi-hotadd-dimm-device-memory-at-2TiB",
               test_hotadd_dimm_at_2t)])
