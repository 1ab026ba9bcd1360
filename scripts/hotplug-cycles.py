#!/usr/bin/env python3
#
# Plug and unplug a pc-dimm CYCLES times on virt-hotmem and print QEMU's
# resident set size before and after (make check-sanitizers runs it on an
# ASan+UBSan build and on the normal one).
#
# QEMU runs under the qtest accelerator with Debian's AAVMF loaded, so
# virt has its ACPI GED and memory hotplug controller but no guest runs.
# This script plays the guest's part of an unplug through the qtest
# socket, as Linux's ACPI memory hotplug driver does through the AML:
# select the DIMM's slot in the controller and write its eject bit
# (hw/acpi/memory_hotplug.c, docs/specs/acpi_mem_hotplug.rst).  Each
# cycle also throws one bad device_add at QEMU (a node that does not
# exist).  Any QMP error where success is expected, a missing
# DEVICE_DELETED, a device left over, or QEMU exiting non-zero (ASan and
# UBSan abort) fails the run.
#
# Usage: hotplug-cycles.py QEMU_BINARY [CYCLES]
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "acceptance"))
from vhm import guest  # noqa: E402

MiB = 1 << 20
# virt's memory hotplug controller (hw/arm/virt.c, base_memmap[]) and its
# registers: slot selector at 0, flags at 0x14 with eject = bit 3
MHP_BASE = 0x09070000
MHP_SELECTOR = MHP_BASE + 0x0
MHP_FLAGS = MHP_BASE + 0x14
MHP_EJECT = 8
SIZES = [128 * MiB, 256 * MiB, 2 * MiB, 1024 * MiB]


class Qtest:
    def __init__(self, sock):
        self.file = sock.makefile("rwb")

    def cmd(self, line):
        self.file.write(line.encode() + b"\n")
        self.file.flush()
        while True:
            rsp = self.file.readline().decode()
            if not rsp:
                raise RuntimeError("qtest connection closed")
            if rsp.startswith("IRQ"):
                continue
            if not rsp.startswith("OK"):
                raise RuntimeError("qtest %r: %r" % (line, rsp))
            return rsp


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    binary = sys.argv[1]
    cycles = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    if not os.path.exists(guest.AAVMF_CODE):
        sys.exit("hotplug-cycles: no %s (Debian's qemu-efi-aarch64)" %
                 guest.AAVMF_CODE)
    tmp = tempfile.mkdtemp(prefix="vhm-cycles-")
    qtest_path = os.path.join(tmp, "qtest.sock")
    qmp_path = os.path.join(tmp, "qmp.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(qtest_path)
    srv.listen(1)
    srv.settimeout(60)
    log = open(os.path.join(tmp, "stderr.log"), "w+")
    proc = subprocess.Popen(
        [binary, "-M", "virt-hotmem", "-accel", "qtest", "-cpu", "max",
         "-m", "512M,slots=4,maxmem=4G", "-bios", guest.AAVMF_CODE,
         "-nodefaults", "-display", "none", "-nic", "none",
         "-qtest", "unix:" + qtest_path, "-qtest-log", "/dev/null",
         "-qmp", "unix:%s,server=on,wait=off" % qmp_path],
        stdout=subprocess.DEVNULL, stderr=log)
    try:
        conn, _ = srv.accept()
        qt = Qtest(conn)
        qmp = guest.QMP(qmp_path, timeout=60)
        before = rss_kib(proc.pid)
        print("hotplug-cycles: %s, RSS before: %d KiB" % (binary, before),
              flush=True)
        t0 = time.monotonic()
        for i in range(cycles):
            size = SIZES[i % len(SIZES)]
            qmp.cmd("object-add", **{"qom-type": "memory-backend-ram",
                                     "id": "m", "size": size})
            rsp = qmp.execute("device_add", driver="pc-dimm", id="bad",
                              memdev="m", node=7)
            if "error" not in rsp:
                raise RuntimeError("device_add with node=7 succeeded")
            qmp.cmd("device_add", driver="pc-dimm", id="d", memdev="m")
            slot = qmp.cmd("query-memory-devices")[0]["data"]["slot"]
            qmp.events.clear()
            qmp.cmd("device_del", id="d")
            qt.cmd("writel 0x%x 0x%x" % (MHP_SELECTOR, slot))
            qt.cmd("writeb 0x%x 0x%x" % (MHP_FLAGS, MHP_EJECT))
            qmp.cmd("query-status")
            if not any(e["event"] == "DEVICE_DELETED" and
                       e["data"].get("device") == "d" for e in qmp.events):
                raise RuntimeError("cycle %d: no DEVICE_DELETED" % i)
            qmp.cmd("object-del", id="m")
            if (i + 1) % 250 == 0:
                print("hotplug-cycles: %d cycles, RSS %d KiB" %
                      (i + 1, rss_kib(proc.pid)), flush=True)
        if qmp.cmd("query-memory-devices"):
            raise RuntimeError("memory devices left over")
        after = rss_kib(proc.pid)
        print("hotplug-cycles: %d cycles in %.1f s, RSS before %d KiB, "
              "after %d KiB (%+d KiB)" % (cycles, time.monotonic() - t0,
                                          before, after, after - before),
              flush=True)
        qmp.execute("quit")
        rc = proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.seek(0)
        err = log.read()
        log.close()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    if err.strip():
        print(err, file=sys.stderr)
    if rc != 0 or "runtime error" in err or "Sanitizer" in err:
        sys.exit("hotplug-cycles: QEMU exited %d with sanitizer output" % rc)
    print("hotplug-cycles: clean exit")


if __name__ == "__main__":
    main()
