#!/usr/bin/env python3
#
# Acceptance: a migration that cannot work fails harmlessly.  One UEFI/ACPI
# source guest (odd -m of 384 MiB on two NUMA nodes, a cold-plugged DIMM
# of an odd 130 MiB whose backing file holds a pattern this test wrote, a
# 256 MiB DIMM hot-added on node 1 that the guest onlined and keeps a file
# in) is migrated to destinations that do not match it:
#
#   - another memory layout (device memory elsewhere),
#   - the hot-added DIMM missing,
#   - the DIMM of another size,
#   - the DIMM on another NUMA node (nothing but virt-hotmem's DIMM list
#     in the stream catches this one: the RAM blocks match),
#   - a stream cut short by a proxy in the middle of RAM.
#
# Each time the incoming side exits with one line naming what differs (or
# that the stream ended), the source's migration fails (with the return
# path on, its error says the destination failed and, where our section
# refused, repeats the destination's reason), the source keeps
# running, the cold DIMM still holds the pattern and the guest still reads
# its file unchanged.  Then a migration to a matching destination
# succeeds: RAM and both DIMMs are byte-identical on both sides, and the
# odd-sized cold DIMM arrived on a destination whose backing file was
# empty.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import dimm, guest, tap  # noqa: E402

GiB, MiB = dimm.GiB, dimm.MiB
RAM = 384 * MiB
COLD = 130 * MiB
HOT = 256 * MiB
GUEST_FILE = "/tmp/kept"


def diag(text):
    print("# " + text, flush=True)


def cold_args(path):
    return ["-object", "memory-backend-file,id=mem-cold,mem-path=%s,"
            "size=%d,share=on" % (path, COLD),
            "-device", "pc-dimm,id=cold,memdev=mem-cold,node=0"]


def hot_args(size=HOT, node=1):
    return ["-object", "memory-backend-ram,id=mem-hot,size=%d" % size,
            "-device", "pc-dimm,id=hot,memdev=mem-hot,node=%d" % node]


def destination(tmp, machine="virt-hotmem", extra=None, name="dst"):
    img = os.path.join(tmp, name + ".img")
    with open(img, "wb") as f:
        f.truncate(COLD)
    if extra is None:
        extra = hot_args()
    return dimm.uefi_guest(machine, "384M", slots=4, maxmem="4G",
                           extra=dimm.numa_args(RAM) + cold_args(img) +
                           list(extra) + ["-incoming", "defer", "-S"],
                           name=name)


def truncating_proxy(listen, target, limit):
    """Forward the first @limit bytes from @listen to @target, then close
    both ends: a migration stream cut short in the middle."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(listen)
    srv.listen(1)
    srv.settimeout(30)

    def run():
        try:
            c, _ = srv.accept()
        except OSError:
            return
        d = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        d.connect(target)
        c.settimeout(30)
        sent = 0
        try:
            while sent < limit:
                data = c.recv(min(1 << 16, limit - sent))
                if not data:
                    break
                d.sendall(data)
                sent += len(data)
        finally:
            c.close()
            d.close()
            srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


class Source:
    def __init__(self, vm, cold_addr, pattern, file_sum):
        self.vm, self.cold_addr = vm, cold_addr
        self.pattern, self.file_sum = pattern, file_sum

    def intact(self, what):
        vm = self.vm
        assert vm.proc.poll() is None, "%s: source died: %s" % (
            what, vm.stderr().strip())
        assert vm.qmp.cmd("query-status")["status"] == "running", what
        got = dimm.dump(vm, self.cold_addr, COLD, os.path.join(vm.tmp, "c"))
        assert got == self.pattern, "%s: the cold DIMM changed" % what
        now = vm.check("sha256sum %s" % GUEST_FILE).split()[0]
        assert now == self.file_sum, "%s: the guest's file changed" % what


def return_path(vm):
    vm.qmp.cmd("migrate-set-capabilities", capabilities=[
        {"capability": "return-path", "state": True}])


def dst_reason(dst, expect):
    """The line of @dst's stderr holding @expect, without QEMU's
    prefix."""
    lines = [line for line in dst.stderr().splitlines() if expect in line]
    assert len(lines) == 1, dst.stderr()
    return lines[0].split(": ", 1)[1]


def failed_migration(src, dst, expect, proxy_limit=None, ours=False):
    """Migrate @src into @dst, which must refuse; return its error.
    When one of our sections refused the stream (@ours), the source has
    the destination's reason, sent over the return path."""
    sock = os.path.join(dst.tmp, "mig.sock")
    return_path(dst)
    dst.qmp.cmd("migrate-incoming", uri="unix:" + sock)
    uri = sock
    if proxy_limit is not None:
        uri = os.path.join(dst.tmp, "proxy.sock")
        truncating_proxy(uri, sock, proxy_limit)
    t0 = time.monotonic()
    src.vm.qmp.cmd("migrate", uri="unix:" + uri)
    assert guest.wait_migration(src.vm, 120) == "failed", \
        src.vm.qmp.cmd("query-migrate")
    desc = src.vm.qmp.cmd("query-migrate").get("error-desc", "")
    diag("source: %s" % desc)
    rc = dst.wait_exit(30)
    err = dst.stderr().strip()
    diag("%s (%.1f s); incoming side, exit %s:" %
             (expect, time.monotonic() - t0, rc))
    for line in err.splitlines():
        diag("  " + line)
    assert rc not in (None, 0), "destination still running or exited 0"
    assert expect in err, "%r not in: %s" % (expect, err)
    if ours:
        # Our section is loaded first (early_setup): the destination
        # sends its reason before it closes the stream.  A refusal in
        # the middle of RAM (QEMU's own sections) races with the source's
        # next write, which may fail first, so it is not checked.
        assert desc == "the destination failed: " + \
            dst_reason(dst, expect), desc
    src.intact(expect)
    return err


def test_failures_then_retry():
    tmp = tempfile.mkdtemp(prefix="vhm-migfail-")
    pattern = os.urandom(MiB) * (COLD // MiB)
    src_img = os.path.join(tmp, "src.img")
    with open(src_img, "wb") as f:
        f.write(pattern)
    try:
        with dimm.uefi_guest("virt-hotmem", "384M", slots=4, maxmem="4G",
                             extra=dimm.numa_args(RAM) + cold_args(src_img),
                             name="src") as vm:
            vm.wait_shell()
            cold = dimm.memory_device(vm, "cold")
            # Device memory starts at the first GiB after RAM; the hot
            # DIMM goes to the next 1 GiB boundary after the cold one.
            dm = dimm.device_memory_base(RAM)
            assert cold["addr"] == dm, cold
            hot = dimm.hot_add(vm, "hot", HOT, node=1)
            assert hot["addr"] == dimm.align_up(dm + COLD, GiB), hot
            dimm.online_range(vm, hot["addr"], HOT)
            vm.check("head -c 33554432 /dev/urandom > %s" % GUEST_FILE,
                     timeout=120)
            src = Source(vm, cold["addr"], pattern,
                         vm.check("sha256sum %s" % GUEST_FILE).split()[0])

            return_path(vm)
            # (destination, what it says, stream cut after, our section)
            cases = [
                ("virt-hotmem,device-memory-base=1T", hot_args(),
                 "memory map differs", None, True),
                # QEMU's RAM section catches these two by the backend's
                # name, before any device state.
                ("virt-hotmem", [], 'Unknown ramblock "mem-hot"', None,
                 False),
                ("virt-hotmem", hot_args(size=2 * HOT),
                 "Size mismatch: mem-hot", None, False),
                ("virt-hotmem", hot_args(node=0),
                 "is on node 1 on the source, node 0 here", None, True),
                ("virt-hotmem", hot_args(), "", 64 * MiB, False),
            ]
            for i, (machine, extra, expect, limit, ours) in \
                    enumerate(cases):
                with destination(tmp, machine, extra, "bad%d" % i) as dst:
                    err = failed_migration(src, dst, expect, limit, ours)
                    if limit is not None:
                        # Cut short: QEMU's own words for a stream that
                        # ended, on one of its lines.
                        assert "load of migration failed" in err, err

            # The retry to a matching destination succeeds.
            with destination(tmp) as dst:
                st = guest.migrate(vm, dst, 180)
                assert st == "completed", vm.qmp.cmd("query-migrate")
                deadline = time.monotonic() + 30
                while dst.qmp.cmd("query-status")["status"] == "inmigrate":
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
                dimm.compare_memory(vm, dst, [
                    (dimm.RAM_BASE, RAM), (cold["addr"], COLD),
                    (hot["addr"], HOT)], "retry")
                got = dimm.dump(dst, cold["addr"], COLD,
                                os.path.join(dst.tmp, "c"))
                assert got == pattern, "the odd-sized cold DIMM did not arrive"
                dst.qmp.cmd("cont")
                now = dst.check("sha256sum %s" % GUEST_FILE).split()[0]
                assert now == src.file_sum
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


if __name__ == "__main__":
    tap.main([("migration-failure/refused-then-retry",
               test_failures_then_retry)])
