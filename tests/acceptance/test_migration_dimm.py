#!/usr/bin/env python3
#
# Acceptance: live migration of a UEFI/ACPI guest with DIMMs between two
# real QEMU processes under TCG, while the guest keeps writing into DIMM
# memory.  Afterwards RAM and every DIMM are byte-identical on both sides
# (pmemsave), the source did not abort, and the guest goes on running on
# the destination and still sees all its memory.
#
# The first test is the reproducer of patches/0007: a hot-added DIMM
# larger than -m aborted the source at the second dirty sync
# (tlb_reset_dirty_range_all assertion) and a smaller one could lose
# guest writes.  Both boards are run: the fix is in QEMU core.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import dimm, guest, tap  # noqa: E402

MiB = dimm.MiB


def destination(machine, mem, extra, slots=4, name="dst"):
    """The incoming side: same options, paused after the migration (-S)
    so that both sides' memory can be compared before it runs on."""
    return dimm.uefi_guest(machine, mem, slots=slots, extra=list(extra) +
                           ["-incoming", "defer", "-S"], name=name)


def migrate_and_check(src, dst, ram_size, dimms, uri=None):
    """Migrate the running @src (its writer loop running) into @dst over
    @uri (default: a unix socket in dst's directory); check both sides'
    memory, then run the guest on @dst.  @dimms: list of (addr, size)."""
    if uri is None:
        uri = "unix:" + os.path.join(dst.tmp, "mig.sock")
    dst.qmp.cmd("migrate-incoming", uri=uri)
    if uri.startswith("tcp:") and uri.endswith(":0"):
        # Port 0: the destination picked one; ask it which.
        addr = dst.qmp.cmd("query-migrate")["socket-address"][0]
        uri = "tcp:%s:%s" % (addr["host"], addr["port"])
    src.qmp.cmd("migrate", uri=uri)
    status = guest.wait_migration(src, 120)
    assert src.proc.poll() is None, \
        "source QEMU died: %s" % src.stderr().strip()
    assert status == "completed", (status, src.qmp.cmd("query-migrate"))
    assert src.qmp.cmd("query-status")["status"] == "postmigrate"
    # The source reports completion before the destination has loaded
    # everything.
    deadline = time.monotonic() + 30
    while dst.qmp.cmd("query-status")["status"] == "inmigrate":
        assert time.monotonic() < deadline, "destination still inmigrate"
        time.sleep(0.1)
    assert dst.qmp.cmd("query-status")["status"] == "paused"

    ranges = [(dimm.RAM_BASE, ram_size)] + list(dimms)
    dumps = dimm.compare_memory(src, dst, ranges, "after")
    # The guest really wrote into DIMM memory, else this proves nothing.
    assert any(dimm.DIRTY_TAG in d for d in dumps[1:]), \
        "the guest's writer loop left no trace in any DIMM"

    # The guest runs on: its writer loop goes on rewriting DIMM memory.
    dst.qmp.cmd("cont")
    assert dst.qmp.cmd("query-status")["status"] == "running"
    deadline = time.monotonic() + 30
    while True:
        now = [dimm.dump(dst, addr, size, os.path.join(dst.tmp, "run"))
               for addr, size in dimms]
        if now != dumps[1:]:
            break
        assert time.monotonic() < deadline, \
            "guest memory did not change on the destination in 30 s"
        time.sleep(1)
    assert any(dimm.DIRTY_TAG in d for d in now)


def hotplugged_dimm_larger_than_ram(machine):
    ram = 128 * MiB
    size = 256 * MiB
    with dimm.uefi_guest(machine, "128M", name="src") as src:
        src.wait_shell()
        d = dimm.hot_add(src, "d1", size)
        assert d["addr"] == dimm.device_memory_base(ram), d
        assert d["size"] == size, d
        dimm.wait_block(src, d["addr"])
        dimm.online_all(src)
        dimm.start_writer(src)
        extra = ["-object", "memory-backend-ram,id=mem-d1,size=%d" % size,
                 "-device", "pc-dimm,id=d1,memdev=mem-d1"]
        with destination(machine, "128M", extra) as dst:
            migrate_and_check(src, dst, ram, [(d["addr"], size)])


def test_hotplugged_dimm_larger_than_ram_virt():
    hotplugged_dimm_larger_than_ram("virt")


def test_hotplugged_dimm_larger_than_ram_virt_hotmem():
    hotplugged_dimm_larger_than_ram("virt-hotmem")


def nvdimm_args(path, size, dev="nv0"):
    return ["-object", "memory-backend-file,id=mem-%s,mem-path=%s,size=%d,"
            "share=on" % (dev, path, size),
            "-device", "nvdimm,id=%s,memdev=mem-%s" % (dev, dev)]


def test_nvdimm_and_dimm_across_network_namespaces():
    """An NVDIMM (its file pre-filled on the source side only) and a
    hot-added DIMM, migrated over TCP between two network namespaces
    joined by a veth pair, with addresses of the benchmarking range
    198.18.0.0/15 that nothing else here uses."""
    if os.geteuid() != 0:
        raise tap.Skip("network namespaces need root")
    tag = "vhm%d" % os.getpid()
    ns_src, ns_dst = tag + "s", tag + "d"
    run = lambda *a: subprocess.run(a, check=True, timeout=10,  # noqa: E731
                                    capture_output=True)
    tmp = tempfile.mkdtemp(prefix="vhm-nvdimm-")
    # 128 MiB keeps the DIMM after it on a Linux memory block boundary.
    nv_size = 128 * MiB
    pattern = os.urandom(MiB) * (nv_size // MiB)
    with open(os.path.join(tmp, "src.img"), "wb") as f:
        f.write(pattern)
    with open(os.path.join(tmp, "dst.img"), "wb") as f:
        f.truncate(nv_size)
    try:
        run("ip", "netns", "add", ns_src)
        run("ip", "netns", "add", ns_dst)
        run("ip", "link", "add", tag + "a", "netns", ns_src, "type", "veth",
            "peer", "name", tag + "b", "netns", ns_dst)
        for ns, dev, ip in ((ns_src, tag + "a", "198.18.0.1/30"),
                            (ns_dst, tag + "b", "198.18.0.2/30")):
            run("ip", "-n", ns, "addr", "add", ip, "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")

        machine = "virt-hotmem,nvdimm=on"
        src = dimm.uefi_guest(machine, "256M", name="src",
                              extra=nvdimm_args(os.path.join(tmp, "src.img"),
                                                nv_size))
        src.argv = ["ip", "netns", "exec", ns_src] + src.argv
        with src:
            src.wait_shell()
            nv = dimm.memory_device(src, "nv0")
            assert nv["addr"] == dimm.device_memory_base(256 * MiB), nv
            d = dimm.hot_add(src, "d1", 256 * MiB)
            dimm.wait_block(src, d["addr"])
            dimm.online_all(src)
            dimm.start_writer(src)
            extra = (nvdimm_args(os.path.join(tmp, "dst.img"), nv_size) +
                     ["-object", "memory-backend-ram,id=mem-d1,size=%d" %
                      (256 * MiB), "-device", "pc-dimm,id=d1,memdev=mem-d1"])
            dst = destination(machine, "256M", extra)
            dst.argv = ["ip", "netns", "exec", ns_dst] + dst.argv
            with dst:
                migrate_and_check(src, dst, 256 * MiB,
                                  [(nv["addr"], nv_size),
                                   (d["addr"], d["size"])],
                                  "tcp:198.18.0.2:0")
                got = dimm.dump(dst, nv["addr"], nv_size,
                                os.path.join(dst.tmp, "nv"))
                assert got == pattern, "NVDIMM contents did not arrive"
    finally:
        subprocess.run(["ip", "netns", "del", ns_src], timeout=10)
        subprocess.run(["ip", "netns", "del", ns_dst], timeout=10)
        for f in ("src.img", "dst.img"):
            if os.path.exists(os.path.join(tmp, f)):
                os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


if __name__ == "__main__":
    tap.main([
        ("migration-dimm/hotplugged-dimm-larger-than-ram (virt)",
         test_hotplugged_dimm_larger_than_ram_virt),
        ("migration-dimm/hotplugged-dimm-larger-than-ram (virt-hotmem)",
         test_hotplugged_dimm_larger_than_ram_virt_hotmem),
        ("migration-dimm/nvdimm-and-dimm-across-network-namespaces",
         test_nvdimm_and_dimm_across_network_namespaces),
    ])
