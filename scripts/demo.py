#!/usr/bin/env python3
#
# make demo: boot the unmodified Debian arm64 cloud kernel on virt-hotmem
# and show what the guest sees of its memory beside what QEMU configured;
# with the second base built (make other-base), an upgrade: a guest
# migrated from the QEMU 10.0 build to the QEMU 10.2 build.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "acceptance"))
from vhm import bases, dimm, guest, memory_map_svg, tap, upgrade  # noqa: E402

MEM = "2G,slots=4,maxmem=8G"
SVG = os.path.join(guest.BUILD, "memory-map.svg")


def human(n):
    if n == 0:
        return "none"
    for unit, size in (("GiB", guest.GiB), ("MiB", guest.MiB)):
        if n >= size and n % size == 0:
            return "%d %s" % (n // size, unit)
    return "%d KiB" % (n // 1024)


def show_range(label, start, end):
    print("  %-36s 0x%012x-0x%012x  %s" % (label, start, end,
                                          human(end - start + 1)))


def main():
    print("virt-hotmem demo: Debian arm64 cloud kernel, direct kernel boot, "
          "TCG, -M virt-hotmem -m %s" % MEM)
    guest.guest_assets()
    t0 = time.monotonic()
    with guest.arm64_guest(mem=MEM, name="demo") as vm:
        vm.wait_shell()
        boot = time.monotonic() - t0
        kernel = vm.check("uname -r").strip()
        iomem = guest.parse_iomem(vm.check("cat /proc/iomem"))
        meminfo = vm.check("cat /proc/meminfo")
        mtype = vm.qmp.cmd("qom-get", path="/machine", property="type")
        summary = vm.qmp.cmd("query-memory-size-summary")
        mapped = guest.parse_mtree_ram(vm.qmp.hmp("info mtree"),
                                       "mach-virt.ram")
        layout_table = vm.qmp.hmp("info memory-layout")
        memory_map_svg.write_svg(vm.qmp, SVG)

    print("\nguest kernel %s booted to a shell in %.1f s" % (kernel, boot))
    print("\nQEMU's memory map (info memory-layout):")
    for line in layout_table.splitlines():
        print("  " + line)
    print("  (as a picture: %s)" % os.path.relpath(SVG))
    print("\nQEMU configured (machine %s):" % mtype.replace("-machine", ""))
    print("  %-36s %s" % ("base memory", human(summary["base-memory"])))
    print("  %-36s %s" % ("hotplugged memory",
                          human(summary.get("plugged-memory", 0))))
    for s, e in mapped:
        show_range("RAM mapped (info mtree)", s, e)
    print("\nthe guest sees:")
    for s, e in iomem:
        show_range("System RAM (/proc/iomem)", s, e)
    print("  %-36s %d kB" % ("MemTotal (/proc/meminfo)",
                             guest.meminfo_kib(meminfo, "MemTotal")))
    same = iomem == mapped
    print("\nguest RAM ranges %s QEMU's mapping" %
          ("match" if same else "DO NOT match"))
    return 0 if (same and den0001() and hotplug_and_migrate() and
                 upgrade_step()) else 1


def den0001():
    """Second boot: RAM in Arm's DEN0001 DRAM windows, two banks."""
    opts, mem = "memory-layout=arm-den0001", "4G,slots=2,maxmem=8G"
    print("\nsecond boot: -M virt-hotmem,%s -m %s" % (opts, mem))
    with guest.arm64_guest(machine_opts=opts, mem=mem, name="demo2") as vm:
        vm.wait_shell()
        iomem = guest.parse_iomem(vm.check("cat /proc/iomem"))
        layout = vm.qmp.cmd("query-memory-layout")
    planned = [(r["base"], r["base"] + r["size"] - 1, r["name"], r["kind"])
               for r in layout["regions"]
               if r["kind"] in ("ram", "device-memory")]
    for s, e, name, kind in planned:
        show_range("QEMU planned " + name, s, e)
    for s, e in iomem:
        show_range("guest System RAM", s, e)
    same = iomem == [(s, e) for s, e, _, kind in planned if kind == "ram"]
    print("\nguest RAM banks %s QEMU's plan" % ("match" if same else
                                              "DO NOT match"))
    return same


def guest_ram(vm):
    """The guest's System RAM ranges and MemTotal (kB)."""
    iomem = guest.parse_iomem(vm.check("cat /proc/iomem"))
    return iomem, guest.meminfo_kib(vm.check("cat /proc/meminfo"),
                                    "MemTotal")


def hotplug_and_migrate():
    """Third boot (UEFI, ACPI): hot-add two DIMMs, show what the guest
    sees, migrate to a second QEMU process, show it again there."""
    mem, dimms = "1G", [("dimm0", 256 * guest.MiB), ("dimm1", guest.GiB)]
    print("\nthird boot: UEFI (AAVMF) and ACPI, -M virt-hotmem -m %s,"
          "slots=4,maxmem=8G; DIMMs hot-added over QMP" % mem)
    with dimm.uefi_guest("virt-hotmem", mem, name="demo3") as src:
        src.wait_shell()
        _, before = guest_ram(src)
        extra = []
        for dev_id, size in dimms:
            d = dimm.hot_add(src, dev_id, size)
            show_range("device_add pc-dimm %s" % dev_id, d["addr"],
                       d["addr"] + size - 1)
            for off in range(0, size, 128 * guest.MiB):
                dimm.wait_block(src, d["addr"] + off)
            extra += ["-object", "memory-backend-ram,id=mem-%s,size=%d" %
                      (dev_id, size),
                      "-device", "pc-dimm,id=%s,memdev=mem-%s" %
                      (dev_id, dev_id)]
        print("  (dimm1 starts on a 1 GiB boundary: dimm-alignment)")
        dimm.online_all(src)
        iomem, total = guest_ram(src)
        print("the guest sees, after onlining the new memory blocks:")
        for s, e in iomem:
            show_range("System RAM (/proc/iomem)", s, e)
        print("  %-36s %d kB (+%d kB)" % ("MemTotal", total, total - before))
        with dimm.uefi_guest("virt-hotmem", mem, name="demo3-dst",
                             extra=extra + ["-incoming", "defer"]) as dst:
            status = guest.migrate(src, dst, 180)
            info = src.qmp.cmd("query-migrate")
            print("\nmigrated to a second QEMU process over a unix socket: "
                  "%s in %d ms, downtime %d ms" %
                  (status, info.get("total-time", 0),
                   info.get("downtime", 0)))
            deadline = time.monotonic() + 30
            while dst.qmp.cmd("query-status")["status"] != "running":
                if time.monotonic() > deadline:
                    raise guest.GuestError("destination not running")
                time.sleep(0.1)
            dst_iomem, dst_total = guest_ram(dst)
        print("the guest on the destination sees:")
        for s, e in dst_iomem:
            show_range("System RAM (/proc/iomem)", s, e)
        print("  %-36s %d kB" % ("MemTotal", dst_total))
    same = status == "completed" and (dst_iomem, dst_total) == (iomem, total)
    print("\nthe guest's memory after migration %s before" %
          ("matches" if same else "DOES NOT match"))
    return same


def upgrade_step():
    """Fourth boot, on the 10.0 build: -M virt-hotmem-10.0 with ACPI and
    a hot-added DIMM, live-migrated to the 10.2 build."""
    try:
        old, new = upgrade.old_and_new()
    except tap.Skip as e:
        print("\nupgrade step skipped: %s" % e)
        return True
    opts = "acpi=on,gic-version=3"
    mem = "1G,slots=2,maxmem=4G"
    dm = 2 * guest.GiB
    print("\nfourth boot, on the QEMU %s build: -M virt-hotmem-10.0,%s -m %s"
          % (upgrade.build_version(old), opts, mem))
    cmdline = "memhp_default_state=online_movable"
    # a named CPU model: -cpu max differs from one QEMU release to the next
    cpu = ["-cpu", "cortex-a57"]
    dimm_args = ["-object", "memory-backend-ram,id=hm0,size=256M",
                 "-device", "pc-dimm,id=dimm0,memdev=hm0,addr=%#x" % dm]
    src = guest.arm64_guest(machine="virt-hotmem-10.0", machine_opts=opts,
                            mem=mem, cmdline=cmdline, name="demo4",
                            extra=cpu, binary=bases.emulator(old, "aarch64"))
    dst = guest.arm64_guest(machine="virt-hotmem-10.0", machine_opts=opts,
                            mem=mem, cmdline=cmdline, name="demo4-dst",
                            extra=cpu + dimm_args + ["-incoming", "defer"],
                            binary=bases.emulator(new, "aarch64"))
    with src:
        src.wait_shell()
        src.qmp.cmd("object-add", **{"qom-type": "memory-backend-ram",
                                     "id": "hm0", "size": 256 * guest.MiB})
        src.qmp.cmd("device_add", driver="pc-dimm", id="dimm0",
                    memdev="hm0", addr=dm)
        dimm.wait_block(src, dm)
        src.check("echo written-on-the-old-build > /tmp/mark")
        iomem, total = guest_ram(src)
        with dst:
            versions = [v.qmp.cmd("query-version")["qemu"] for v in (src, dst)]
            print("  source QEMU %(major)d.%(minor)d.%(micro)d" % versions[0])
            print("  destination QEMU %(major)d.%(minor)d.%(micro)d"
                  % versions[1])
            status = guest.migrate(src, dst, 180)
            info = src.qmp.cmd("query-migrate")
            print("migrated the running guest to the new build: %s in %d ms, "
                  "downtime %d ms, %d bytes" %
                  (status, info.get("total-time", 0), info.get("downtime", 0),
                   info.get("ram", {}).get("transferred", 0)))
            deadline = time.monotonic() + 30
            try:
                while dst.qmp.cmd("query-status")["status"] != "running":
                    if time.monotonic() > deadline:
                        raise guest.GuestError("destination not running")
                    time.sleep(0.1)
                mark = dst.check("cat /tmp/mark").strip()
                dst_iomem, dst_total = guest_ram(dst)
            except (guest.GuestError, OSError) as e:
                dst.wait_exit(10)
                print("the new build did not take the guest (%s): %s"
                      % (e, dst.stderr().strip()))
                return False
    print("the guest on the new build reads /tmp/mark: %s" % mark)
    same = (status == "completed" and mark == "written-on-the-old-build" and
            (dst_iomem, dst_total) == (iomem, total))
    print("the guest's memory on the new build %s before" %
          ("matches" if same else "DOES NOT match"))
    return same


if __name__ == "__main__":
    try:
        sys.exit(main())
    except guest.GuestError as e:
        print("demo: %s" % e, file=sys.stderr)
        sys.exit(1)
