#
# The ACPI tables an aarch64 QEMU hands its firmware, read out of fw_cfg
# (etc/acpi/tables) as the firmware would, with no guest running: QEMU runs
# with -accel qtest and this module speaks QEMU's qtest protocol
# (docs/devel/testing/qtest.rst) on its stdin/stdout.  virt's fw_cfg sits
# at a fixed address of its low memory map (hw/arm/virt.c, VIRT_FW_CFG):
# data register at +0, big-endian selector at +8 (docs/specs/fw_cfg.rst).
# virt builds its tables only when it loads firmware, so the machine gets
# Debian's AAVMF as -bios unless the caller names another; it never runs.
#
# usage: from vhm import acpi_tables
#        blob = acpi_tables.fw_cfg_file(qemu, args, "etc/acpi/tables")
#        acpi_tables.split(blob)       [("DSDT", bytes), ("FACP", ...), ...]
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import struct
import subprocess

VIRT_FW_CFG_BASE = 0x09020000
FW_CFG_FILE_DIR = 0x19
AAVMF_CODE = "/usr/share/AAVMF/AAVMF_CODE.fd"
# A fw_cfg data read of 8 bytes returns the next 8 bytes of the item in
# stream order (qtest's "read" goes through the memory API, which undoes
# the register's big-endian byte order).
CHUNK = 8


class QtestError(Exception):
    pass


class Qtest:
    """A QEMU process under -accel qtest, driven over its stdio."""

    def __init__(self, qemu, args, firmware=("-bios", AAVMF_CODE)):
        # -qtest-log /dev/null: QEMU's only output on stderr is then an
        # error it exits on, so that pipe cannot fill while it runs
        self.p = subprocess.Popen([qemu, "-qtest", "stdio",
                                   "-qtest-log", "/dev/null",
                                   "-accel", "qtest", "-display", "none",
                                   "-nodefaults", "-nic", "none"] +
                                  list(firmware) + args,
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)

    def cmd(self, line):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()
        while True:
            reply = self.p.stdout.readline().decode()
            if not reply:
                err = self.p.stderr.read().decode(errors="replace")
                raise QtestError("QEMU exited (%s): %s" % (line, err.strip()))
            # asynchronous events ("IRQ raise ...") are no replies
            if reply.startswith("OK") or reply.startswith("FAIL"):
                break
        if not reply.startswith("OK"):
            raise QtestError("%s: %s" % (line, reply.strip()))
        return reply[2:].strip()

    def select(self, key):
        self.cmd("writew 0x%x 0x%x" % (VIRT_FW_CFG_BASE + 8,
                                       ((key & 0xff) << 8) | (key >> 8)))

    def read(self, length):
        """The next @length bytes of the selected item."""
        out = bytearray()
        while length - len(out) >= CHUNK:
            data = self.cmd("read 0x%x %d" % (VIRT_FW_CFG_BASE, CHUNK))
            out += bytes.fromhex(data[2:])
        while len(out) < length:
            out.append(int(self.cmd("readb 0x%x" % VIRT_FW_CFG_BASE), 16))
        return bytes(out)

    def close(self):
        # qtest has no quit command, and QEMU outlives its closed stdin
        self.p.terminate()
        self.p.wait(timeout=30)
        self.p.stdin.close()
        self.p.stdout.close()
        self.p.stderr.close()


def fw_cfg_file(qemu, args, name, firmware=("-bios", AAVMF_CODE)):
    """The contents of fw_cfg file @name of @qemu started with @args and
    @firmware, or None if it has no such file."""
    q = Qtest(qemu, args, firmware)
    try:
        q.select(FW_CFG_FILE_DIR)
        count = struct.unpack(">I", q.read(4))[0]
        directory = q.read(64 * count)
        for i in range(count):
            size, select, _, fname = struct.unpack(
                ">IHH56s", directory[64 * i:64 * (i + 1)])
            if fname.rstrip(b"\0").decode() == name:
                q.select(select)
                return q.read(size)
        return None
    finally:
        q.close()


def split(blob):
    """The tables of an etc/acpi/tables blob, back to back in it, as a
    list of (signature, bytes).  QEMU's linker-loader pads the FACS and
    aligns some tables: zero bytes between tables are skipped."""
    tables = []
    off = 0
    while off + 36 <= len(blob):
        if blob[off] == 0:
            off += 1
            continue
        sig = blob[off:off + 4].decode("ascii", errors="replace")
        length = struct.unpack("<I", blob[off + 4:off + 8])[0]
        if length < 36 and sig != "FACS" or off + length > len(blob):
            raise ValueError("no ACPI table at offset %d of the blob "
                             "(%r, length %d)" % (off, sig, length))
        tables.append((sig, blob[off:off + length]))
        off += length
    return tables


def with_checksum(table):
    """@table with its checksum (byte 9) filled in, as the firmware does
    on QEMU's linker-loader command: fw_cfg holds the tables with 0
    there."""
    t = bytearray(table)
    t[9] = 0
    t[9] = -sum(t) & 0xff
    return bytes(t)
