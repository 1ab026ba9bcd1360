#!/usr/bin/env python3
#
# Acceptance: the memory map travels in the migration stream.  Two real
# QEMU processes: a destination whose map differs refuses the stream with
# one message naming what differs and the options to pass; the source keeps
# running; a destination started with those options accepts it.  A stream
# whose layout section is corrupt (more banks than the wire format's 16, an
# unknown policy, no bank) is refused with one line saying so.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

MEM = ["-m", "512M,slots=2,maxmem=2G"]
# The qtest accelerator: no guest code runs, RAM and devices migrate as usual
COMMON = ["-accel", "qtest"] + MEM
SECTION = b"virt-hotmem/memory-layout"
GiB = guest.GiB
MiB = 1 << 20


def vm(machine, name, incoming=False):
    args = ["-M", machine] + COMMON
    if incoming:
        args += ["-incoming", "defer"]
    return guest.VM(args, name=name)


def error_lines(text):
    return [line for line in text.splitlines() if line.strip()]


def test_mismatch_refused_then_retry():
    with vm("virt-hotmem-10.0,ram-base=0x80000000", "src") as src:
        planned = src.qmp.cmd("query-memory-layout")

        # Destination with the default map: RAM at 1 GiB, not 2 GiB.
        with vm("virt-hotmem-10.0", "dst-wrong", incoming=True) as dst:
            assert guest.migrate(src, dst) == "failed"
            assert dst.wait_exit(30) not in (None, 0), "destination kept running"
            err = dst.stderr()
        # Our line names the field and the options; QEMU adds its generic
        # "load of migration failed" lines after it.
        ours = [l for l in error_lines(err) if ": virt-hotmem: " in l]
        assert len(ours) == 1, err
        assert "RAM bank 0 differs (source 0x80000000+0x20000000, here " \
               "0x40000000+0x20000000)" in ours[0], ours[0]
        m = re.search(r"start this QEMU with -M (\S+)", ours[0])
        assert m, ours[0]
        assert "ram-base=0x80000000" in m.group(1), m.group(1)

        # The source did not notice beyond the failed migration.
        assert src.qmp.cmd("query-status")["status"] == "running"

        # Retry with exactly the options the message gave.
        with vm(m.group(1), "dst-right", incoming=True) as dst:
            assert guest.migrate(src, dst) == "completed"
            got = dst.qmp.cmd("query-memory-layout")
            assert got == planned, (got, planned)
            # Worked out here, not taken from QEMU: 512 MiB of RAM at
            # 2 GiB; device memory 1.5 GiB + 2 slots at the next GiB.
            placed = [(r["kind"], r["base"], r["size"])
                      for r in got["regions"]
                      if r["kind"] in ("ram", "device-memory")]
            assert placed == [("ram", 2 * GiB, 512 * MiB),
                              ("device-memory", 3 * GiB,
                               3 * GiB + 512 * MiB)], placed


def saved_stream():
    """A real migration stream of the default map, saved to a file."""
    tmp = guest.scratch_dir("vhm-stream-")
    path = os.path.join(tmp, "stream")
    with vm("virt-hotmem-10.0", "src") as src:
        src.qmp.cmd("migrate", uri="file:" + path)
        assert guest.wait_migration(src) == "completed"
    return path, bytearray(open(path, "rb").read())


def load_patched(path, data, policy, banks):
    """Load @data with the section's policy and n_ram_banks replaced; the
    destination's stderr."""
    at = data.find(SECTION)
    assert at > 0, "no %s section in the stream" % SECTION.decode()
    # The wire format of docs/system/arm/virt-hotmem.rst: after the idstr,
    # instance_id (be32) and version_id (be32), policy (be32) and
    # n_ram_banks (be32).
    fields = at + len(SECTION) + 8
    assert struct.unpack(">III", data[fields - 4:fields + 8]) == (1, 0, 1), \
        "not version 1 with policy 0 and one bank"
    patched = bytearray(data)
    patched[fields:fields + 8] = struct.pack(">II", policy, banks)
    open(path, "wb").write(bytes(patched))
    with vm("virt-hotmem-10.0", "dst-%u-%u" % (policy, banks),
            incoming=True) as dst:
        dst.qmp.cmd("migrate-incoming", uri="file:" + path)
        assert dst.wait_exit(30) not in (None, 0), "corrupt stream accepted"
        err = dst.stderr()
    ours = [l for l in error_lines(err) if ": virt-hotmem: " in l]
    assert len(ours) == 1, err
    return ours[0]


def test_corrupt_section_refused():
    path, data = saved_stream()
    # The bank cap of the wire format, 16, is checked: 17 is refused
    # before anything else, 16 passes the check and fails the comparison.
    line = load_patched(path, data, 0, 17)
    assert line.endswith("virt-hotmem: migration stream: the memory layout "
                         "has 17 RAM banks, more than the 16 its wire "
                         "format carries"), line
    line = load_patched(path, data, 0, 0xffffffff)
    assert "has 4294967295 RAM banks, more than the 16" in line, line
    line = load_patched(path, data, 0, 16)
    assert "number of RAM banks differs (source 16, here 1)" in line, line
    line = load_patched(path, data, 2, 1)
    assert line.endswith("virt-hotmem: migration stream: unknown "
                         "memory-layout policy 2"), line
    line = load_patched(path, data, 0, 0)
    assert line.endswith("virt-hotmem: migration stream: the memory layout "
                         "has no RAM bank"), line


if __name__ == "__main__":
    tap.main([("migration/layout-mismatch-refused-then-retry",
               test_mismatch_refused_then_retry),
              ("migration/corrupt-layout-section-refused",
               test_corrupt_section_refused)])
