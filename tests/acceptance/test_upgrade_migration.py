#!/usr/bin/env python3
#
# Acceptance: live migration across virt-hotmem's own upgrade.  A guest on
# -M virt-hotmem-10.0 (the unmodified Debian arm64 cloud kernel, direct
# kernel boot with acpi=on) with a hot-added pc-dimm and a hot-added nvdimm
# migrates from the QEMU 10.0 build to the QEMU 10.2 build and back, on the
# default map and with RAM at 512 GiB.  Every RAM block (RAM, the DIMM,
# the NVDIMM) is a file of its own on each side (memory-backend-file,
# share=on), so the test compares them outside QEMU: after each migration
# the source's files and the destination's (which started empty) are
# byte-identical.  The guest keeps running: a counter in the guest goes on
# counting on every destination, a file it wrote keeps its checksum, and
# what it wrote to /dev/pmem0 is in the NVDIMM's file.  On the last
# destination the pc-dimm is still unpluggable (device_del: the guest
# offlines it, DEVICE_DELETED, gone from /proc/iomem); an nvdimm is refused
# there exactly as on the source (QEMU never unplugs nvdimms).
# Each migration prints its total time, downtime and bytes; the first hop
# of the default map is a same-build migration, the baseline.
#
# -M virt-hotmem-10.2 from the 10.2 build to the 10.0 build is refused by
# the destination in one line, which names the machine type and says to
# migrate to a QEMU at least as new as the source; the source keeps
# running.  A virt-hotmem-10.0 guest into a 10.2 build started with the
# alias (virt-hotmem-10.2) is refused in one line saying to start it with
# -machine virt-hotmem-10.0 (patch 0023 adds what to do to both).
# Bad input (a stream of an unknown machine version, without our section,
# with a newer version of it or of its subsection): see below; each runs
# on every build there is.
#
# The 10.2 build is bases/10.2/build (`make other-base`); without it the
# tests skip, or with VHM_UPGRADE_SAME_BUILD=1 run the main build on both
# sides (for developing them).
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import bases, dimm, guest, streamproxy, tap, upgrade  # noqa: E402

GiB, MiB = guest.GiB, guest.MiB
MACHINE = "virt-hotmem-10.0"
RAM = 512 * MiB
DIMM = 256 * MiB
NVDIMM = 128 * MiB
MEM = "512M,slots=4,maxmem=4G"
# A named CPU model, not the harness's -cpu max: what max is grows with
# each QEMU release, so upstream promises nothing for its migration across
# releases.  Given after the harness's -cpu max, it is the one QEMU takes.
CPU = ["-cpu", "cortex-a57"]
CMDLINE = "memhp_default_state=online_movable"
COUNTER = "/tmp/count"
DATA = "/tmp/data"
PMEM_MARK = b"VHM-UPGRADE-PMEM"


def file_backend(memdev, path, size):
    return "memory-backend-file,id=%s,size=%d,mem-path=%s,share=on" % (
        memdev, size, path)


def files(tmp, side):
    """The RAM, DIMM and NVDIMM backing files of @side, created empty."""
    out = {}
    for what, size in (("ram", RAM), ("dimm", DIMM), ("nv", NVDIMM)):
        path = os.path.join(tmp, "%s-%s.img" % (side, what))
        with open(path, "wb") as f:
            f.truncate(size)
        out[what] = path
    return out


def vm(build, opts, tmp, side, incoming=False):
    """A virt-hotmem-10.0 guest run by @build's QEMU; with @incoming it
    has the hot-added DIMMs on its command line, waits for the stream and
    stays paused after it (-S) so that memory can be compared."""
    f = files(tmp, side)
    extra = CPU + ["-object", file_backend("ram0", f["ram"], RAM)]
    if incoming:
        extra += ["-object", file_backend("md0", f["dimm"], DIMM),
                  "-device", "pc-dimm,id=dimm0,memdev=md0,addr=%#x"
                  % opts["dm"],
                  "-object", file_backend("mnv0", f["nv"], NVDIMM),
                  "-device", "nvdimm,id=nv0,memdev=mnv0,addr=%#x"
                  % (opts["dm"] + GiB),
                  "-incoming", "defer", "-S"]
    v = guest.arm64_guest(
        machine=MACHINE, machine_opts="acpi=on,gic-version=3,nvdimm=on,"
        "memory-backend=ram0" + opts["machine"], mem=MEM, cmdline=CMDLINE,
        modules=dimm.ACPI_NVDIMM_MODULES, extra=extra,
        binary=bases.emulator(build, "aarch64"), name=side)
    v.files = f
    v.build = build
    return v


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def counter(v):
    return int(v.check("cat %s" % COUNTER).strip())


def prepare_source(src, dm):
    """Boot, hot-add the pc-dimm and the nvdimm, start the counter, write
    a file and a mark on /dev/pmem0."""
    src.wait_shell(timeout=180)
    # The NVDIMM stack first: it learns of the hot-added nvdimm by _FIT.
    for m in dimm.ACPI_NVDIMM_MODULES:
        if os.path.basename(m) not in src.builtin:
            src.check("insmod /modules/" + os.path.basename(m))
    src.qmp.cmd("object-add", **{"qom-type": "memory-backend-file",
                                 "id": "md0", "size": DIMM, "share": True,
                                 "mem-path": src.files["dimm"]})
    src.qmp.cmd("device_add", driver="pc-dimm", id="dimm0", memdev="md0",
                addr=dm)
    src.qmp.cmd("object-add", **{"qom-type": "memory-backend-file",
                                 "id": "mnv0", "size": NVDIMM, "share": True,
                                 "mem-path": src.files["nv"]})
    src.qmp.cmd("device_add", driver="nvdimm", id="nv0", memdev="mnv0",
                addr=dm + GiB)
    dimm.check_pmem0(src, src.files["nv"], NVDIMM, PMEM_MARK)
    # The DIMM is online (memhp_default_state) and movable: page cache
    # lands there first, so the file below is in DIMM memory.
    dimm.wait_block(src, dm)
    src.check("grep -q online /sys/devices/system/memory/memory%d/state"
              % (dm // guest.memory_block_size(src)))
    # (renamed into place: a reader never sees a half-written number)
    src.check("(i=0; while :; do i=$((i+1)); echo $i > %s.new; "
              "mv %s.new %s; sleep 0.1; done) >/dev/null 2>&1 & true"
              % (COUNTER, COUNTER, COUNTER))
    src.check("head -c %d /dev/urandom > %s" % (32 * MiB, DATA), timeout=120)
    return src.check("sha256sum %s" % DATA).split()[0]


def hop(src, dst, what, data_sum):
    """Migrate the running @src into @dst (paused after it); compare every
    RAM block's file; run the guest on @dst and see it go on.  Returns
    the migration's figures."""
    before = counter(src)
    status = guest.migrate(src, dst, 180)
    assert src.proc.poll() is None, "source died: %s" % src.stderr()
    assert status == "completed", (what, src.qmp.cmd("query-migrate"),
                                   dst.stderr())
    fig = upgrade.figures(src)
    upgrade.print_figures(what, fig)
    assert src.qmp.cmd("query-status")["status"] == "postmigrate"
    deadline = time.monotonic() + 30
    try:
        while dst.qmp.cmd("query-status")["status"] == "inmigrate":
            assert time.monotonic() < deadline, "destination still inmigrate"
            time.sleep(0.1)
    except (guest.GuestError, OSError) as e:
        raise AssertionError("%s: the destination failed after the source "
                             "completed (%r), exit %s: %s" % (
                                 what, e, dst.wait_exit(10),
                                 dst.stderr().strip()))
    assert dst.qmp.cmd("query-status")["status"] == "paused"
    # Both sides stopped: their memory is final.  The destination's files
    # were empty before the migration.
    for block in ("ram", "dimm", "nv"):
        a, b = sha256(src.files[block]), sha256(dst.files[block])
        assert a == b, "%s: the %s file differs after the migration" % (
            what, block)
    with open(dst.files["nv"], "rb") as f:
        assert f.read(len(PMEM_MARK)) == PMEM_MARK, \
            "%s: the guest's /dev/pmem0 mark is not in the NVDIMM" % what
    dst.qmp.cmd("cont")
    # The counter goes on from where it was: the same guest runs on.
    first = counter(dst)
    assert first >= before, (what, before, first)
    deadline = time.monotonic() + 30
    while counter(dst) <= first:
        assert time.monotonic() < deadline, \
            "%s: the guest's counter stands still on the destination" % what
        time.sleep(0.5)
    assert dst.check("sha256sum %s" % DATA).split()[0] == data_sum, what
    return fig


def unplug(v, dm):
    """The pc-dimm goes (the guest offlines its movable memory); the
    nvdimm is refused as QEMU refuses it on any virt."""
    v.qmp.cmd("device_del", id="dimm0")
    guest.wait_event(v, "DEVICE_DELETED for dimm0", guest.deleted("dimm0"),
                     60)
    out = v.check("grep '^%x-' /proc/iomem || true" % dm)
    assert "System RAM" not in out, "removed DIMM still in /proc/iomem"
    assert "dimm0" not in dimm.memory_devices(v)
    rsp = v.qmp.execute("device_del", id="nv0")
    assert "error" in rsp and "nvdimm" in rsp["error"]["desc"], rsp


def round_trip(opts, builds, name):
    """Boot on builds[0], migrate through every later build in turn,
    each hop named by the QEMU versions of its builds."""
    tmp = tempfile.mkdtemp(prefix="vhm-upgrade-", dir="/dev/shm")
    vms = []
    try:
        src = vm(builds[0], opts, tmp, "%s-0" % name)
        vms.append(src)
        src.launch()
        data_sum = prepare_source(src, opts["dm"])
        for i, build in enumerate(builds[1:], 1):
            dst = vm(build, opts, tmp, "%s-%d" % (name, i), incoming=True)
            vms.append(dst)
            dst.launch()
            hop(src, dst, "%s %s -> %s" % (
                name, upgrade.build_version(builds[i - 1]),
                upgrade.build_version(build)), data_sum)
            src.shutdown()
            vms.remove(src)
            src = dst
        unplug(src, opts["dm"])
    finally:
        for v in vms:
            v.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def test_default_map():
    """RAM at 1 GiB, device memory from 2 GiB.  First a same-build hop
    (the baseline), then 10.0 -> 10.2 -> 10.0."""
    old, new = upgrade.old_and_new()
    round_trip({"machine": "", "dm": 2 * GiB},
               [old, old, new, old],
               "default")


def test_ram_base_512g():
    """RAM at 512 GiB, device memory from 513 GiB; 10.0 -> 10.2 -> 10.0."""
    old, new = upgrade.old_and_new()
    round_trip({"machine": ",ram-base=0x8000000000", "dm": 513 * GiB},
               [old, new, old], "512g")


def error_lines(text):
    return [line for line in text.splitlines() if line.strip()]


# What patch 0023 makes QEMU's migration core say, written out here from
# what a user must be told (not taken from QEMU): the machine type and the
# versions, and what to do.
def machine_missing(received, local, build):
    return ("Machine type received is '%s' and local is '%s': this QEMU "
            "(%s) has no machine type '%s'; migrate to a QEMU at least as "
            "new as the source" % (received, local,
                                   bases.qemu_version(build), received))


def machine_other(received, local):
    return ("Machine type received is '%s' and local is '%s': start the "
            "destination with -machine %s" % (received, local, received))


def newer_source(build):
    return ("the stream comes from a QEMU newer than this one (%s); migrate "
            "to a QEMU at least as new as the source"
            % bases.qemu_version(build))


def one_line_ending(lines, reason):
    """@lines (the destination's stderr) are one line, ending in @reason
    (QEMU 10.2 puts "load of migration failed: ..." before it)."""
    assert len(lines) == 1 and lines[0].endswith(": " + reason), \
        "expected one line ending in %r, got %r" % (reason, lines)


def test_newer_machine_refused():
    """-M virt-hotmem-10.2 on the 10.2 build into the 10.0 build, whose
    QEMU has no such machine type: started with the alias (virt-hotmem,
    its newest), the destination refuses the stream naming both machine
    types; the source keeps running."""
    old, new = upgrade.old_and_new()
    if old == new:
        raise tap.Skip("one build only: it has no virt-hotmem-10.2")
    args = ["-accel", "qtest", "-m", "512M,slots=2,maxmem=2G"]
    old_qemu, new_qemu = (bases.emulator(b, "aarch64") for b in (old, new))
    with guest.VM(["-M", "virt-hotmem-10.2"] + args,
                  binary=new_qemu, name="src-10.2") as src:
        with guest.VM(["-M", "virt-hotmem"] + args + ["-incoming", "defer"],
                      binary=old_qemu, name="dst-10.0") as dst:
            assert guest.migrate(src, dst) == "failed"
            assert dst.wait_exit(30) not in (None, 0), \
                "destination still running"
            err = dst.stderr()
        print("# destination: " + " | ".join(error_lines(err)), flush=True)
        print("# source: %s" % src.qmp.cmd("query-migrate").get(
            "error-desc"), flush=True)
        one_line_ending(error_lines(err), machine_missing(
            "virt-hotmem-10.2", "virt-hotmem-10.0", old))
        assert src.proc.poll() is None, "source died"
        assert src.qmp.cmd("query-status")["status"] == "running"
    # Started as the source was, the 10.0 build refuses at once, in one
    # line naming the machine type.
    r = subprocess.run([old_qemu, "-M", "virt-hotmem-10.2",
                        "-display", "none"] + args +
                       ["-incoming", "defer"], capture_output=True,
                       text=True, timeout=30)
    print("# 10.0 build started with -M virt-hotmem-10.2: exit %d: %s"
          % (r.returncode, " | ".join(error_lines(r.stderr))), flush=True)
    assert r.returncode == 1, r
    assert "virt-hotmem-10.2" in error_lines(r.stderr)[0], r.stderr


def test_older_machine_type_into_alias():
    """A virt-hotmem-10.0 guest of the 10.0 build into the 10.2 build
    started with the alias virt-hotmem (virt-hotmem-10.2): refused in one
    line saying which -machine to start it with, in query-migrate too
    (exit-on-error off); the source keeps running."""
    old, new = upgrade.old_and_new()
    if old == new:
        raise tap.Skip("one build only: it has no virt-hotmem-10.2")
    args = ["-accel", "qtest", "-m", "512M,slots=2,maxmem=2G"]
    old_qemu, new_qemu = (bases.emulator(b, "aarch64") for b in (old, new))
    reason = machine_other("virt-hotmem-10.0", "virt-hotmem-10.2")
    with guest.VM(["-M", "virt-hotmem-10.0"] + args,
                  binary=old_qemu, name="src-10.0") as src:
        with guest.VM(["-M", "virt-hotmem"] + args + ["-incoming", "defer"],
                      binary=new_qemu, name="dst-10.2") as dst:
            sock = os.path.join(dst.tmp, "mig.sock")
            dst.qmp.cmd("migrate-incoming", uri="unix:" + sock,
                        **{"exit-on-error": False})
            src.qmp.cmd("migrate", uri="unix:" + sock)
            assert guest.wait_migration(src, 60) == "failed"
            deadline = time.monotonic() + 30
            while dst.qmp.cmd("query-migrate").get("status") != "failed":
                assert time.monotonic() < deadline, "destination not failed"
                time.sleep(0.1)
            desc = dst.qmp.cmd("query-migrate").get("error-desc", "")
            print("# destination's query-migrate: %s" % desc, flush=True)
            assert desc.endswith(": " + reason), desc
            assert dst.proc.poll() is None, "destination exited"
            assert src.proc.poll() is None, "source died"
            assert src.qmp.cmd("query-status")["status"] == "running"
        # Started as the source was, it would have loaded the stream: the
        # round trips above do.
    with guest.VM(["-M", "virt-hotmem-10.0"] + args,
                  binary=old_qemu, name="src-10.0") as src:
        with guest.VM(["-M", "virt-hotmem"] + args + ["-incoming", "defer"],
                      binary=new_qemu, name="dst-10.2") as dst:
            assert guest.migrate(src, dst) == "failed"
            assert dst.wait_exit(30) == 1, "destination still running"
            lines = error_lines(dst.stderr())
            print("# destination: " + " | ".join(lines), flush=True)
            one_line_ending(lines, reason)
            assert src.qmp.cmd("query-status")["status"] == "running"


# --- Bad input -------------------------------------------------------------
# A stream from a machine version this build does not have, and one whose
# virt-hotmem section is newer than this build's, both made from a real
# stream by a proxy between source and destination that rewrites it in
# flight (nothing else changes, so only the rewritten field can be the
# reason).  QEMU's migration core refuses both, before any of our code runs
# (the configuration section comes first, and the version of a section is
# checked before its handler is called), with patch 0023 in one line that
# names the version and says what to do; so it refuses a newer version of
# our section's DIMM subsection.  A stream without our section (a build
# that does not send it) is refused by virt-hotmem in one line saying what
# to do, which the source repeats (return path).  Each runs on every build
# there is (the 10.0 and the 10.2 core report differently), source and
# destination of the same build.

QTEST = ["-accel", "qtest", "-m", "512M,slots=2,maxmem=2G"]
LAYOUT = b"virt-hotmem/memory-layout"
DIMMS = LAYOUT + b"/dimms"
# A cold-plugged pc-dimm on both sides: the layout section then has its
# DIMM subsection.
WITH_DIMM = ["-object", "memory-backend-ram,id=md0,size=128M",
             "-device", "pc-dimm,id=dimm0,memdev=md0"]


def machine_name_to(name):
    """The configuration section's machine type, virt-hotmem-10.0, made
    @name (of the same length)."""
    def rewrite(data):
        at = data.find(MACHINE.encode())
        assert 0 < at < 64, "no machine type in the stream's header"
        return data[:at] + name.encode() + data[at + len(MACHINE):]
    return rewrite


def layout_version_to(version):
    """The version of the virt-hotmem/memory-layout section made
    @version: after its idstr come instance_id and version_id (be32)."""
    def rewrite(data):
        at = data.find(LAYOUT)
        assert at > 0, "no %s section in the stream" % LAYOUT.decode()
        v = at + len(LAYOUT) + 4
        assert struct.unpack(">I", data[v:v + 4]) == (1,), data[v:v + 4]
        return data[:v] + struct.pack(">I", version) + data[v + 4:]
    return rewrite


def dimms_version_to(version):
    """The version of the virt-hotmem/memory-layout/dimms subsection made
    @version: QEMU_VM_SUBSECTION (5), the idstr's length and the idstr,
    then version_id (be32)."""
    def rewrite(data):
        at = data.find(b"\x05" + bytes([len(DIMMS)]) + DIMMS)
        assert at > 0, "no %s subsection in the stream" % DIMMS.decode()
        v = at + 2 + len(DIMMS)
        assert struct.unpack(">I", data[v:v + 4]) == (1,), data[v:v + 4]
        return data[:v] + struct.pack(">I", version) + data[v + 4:]
    return rewrite


def without_layout_section(data):
    """The stream without the virt-hotmem/memory-layout section, as a
    build that does not send it would have sent it: the section
    (QEMU_VM_SECTION_FULL, its id, the idstr's length and the idstr,
    instance and version, its fields) through its footer (0x7e and the
    same id) taken out."""
    at = data.find(LAYOUT)
    assert at > 0, "no %s section in the stream" % LAYOUT.decode()
    start = at - 6
    assert data[start] == 0x04 and data[at - 1] == len(LAYOUT), \
        data[start:at]
    footer = data.find(b"\x7e" + data[start + 1:start + 5], at)
    assert footer > 0, "no footer of %s" % LAYOUT.decode()
    return data[:start] + data[footer + 5:]


def refused_in_flight(rewrite, name, build=None, extra=()):
    """Migrate a running virt-hotmem-10.0 guest of @build (default: the
    main build) through the rewriting proxy into a destination of the
    same build that must refuse it; the source must go on running.
    Returns the destination's error lines and the source's error-desc."""
    binary = bases.emulator(build, "aarch64") if build else guest.QEMU_AARCH64
    args = ["-M", MACHINE] + QTEST + list(extra)
    with guest.VM(args, binary=binary, name="src-" + name) as src:
        with guest.VM(args + ["-incoming", "defer"], binary=binary,
                      name="dst-" + name) as dst:
            for v in (src, dst):
                v.qmp.cmd("migrate-set-capabilities", capabilities=[
                    {"capability": "return-path", "state": True}])
            sock = os.path.join(dst.tmp, "mig.sock")
            proxy = os.path.join(dst.tmp, "proxy.sock")
            dst.qmp.cmd("migrate-incoming", uri="unix:" + sock)
            streamproxy.StreamProxy(proxy, sock,
                                    streamproxy.edit_head(rewrite))
            src.qmp.cmd("migrate", uri="unix:" + proxy)
            assert guest.wait_migration(src, 60) == "failed"
            rc = dst.wait_exit(30)
            err = dst.stderr()
        lines = error_lines(err)
        print("# %s: destination exit %s: %s" % (name, rc, " | ".join(lines)),
              flush=True)
        desc = src.qmp.cmd("query-migrate").get("error-desc", "")
        print("# %s: source: %s" % (name, desc), flush=True)
        # An exit, not an abort (a signal would be negative).
        assert rc == 1, (rc, err)
        assert src.proc.poll() is None, "source died: %s" % src.stderr()
        assert src.qmp.cmd("query-status")["status"] == "running"
        assert "Aborted" not in src.stderr() + err
        return lines, desc


def each_build(test):
    """Run @test(version, build) on every build there is."""
    for version, build in sorted(upgrade.builds().items()):
        print("# QEMU %s build:" % version, flush=True)
        test(version, build)


def test_unknown_machine_version():
    def on(version, build):
        lines, _ = refused_in_flight(machine_name_to("virt-hotmem-10.9"),
                                     "machine-10.9-" + version, build)
        one_line_ending(lines, machine_missing(
            "virt-hotmem-10.9", "virt-hotmem-10.0", build))
    each_build(on)


def test_without_layout_section():
    """Our section is the memory map check: a stream without it is
    refused, in our one line, which the source repeats."""
    lines, desc = refused_in_flight(without_layout_section, "no-layout")
    assert lines == ["qemu-system-aarch64: virt-hotmem: the migration "
                     "stream has no virt-hotmem/memory-layout section "
                     "(version 1 here): its source does not send the "
                     "memory map, so this QEMU cannot check it; migrate "
                     "from a virt-hotmem build that sends it, or boot the "
                     "guest anew here"], lines
    assert desc == "the destination failed: " + lines[0].split(": ", 1)[1], \
        desc


def test_newer_section_version():
    """Our section at version 2: the destination says the source is newer
    and to migrate to a QEMU as new; the source learns it (return path)."""
    def on(version, build):
        lines, desc = refused_in_flight(layout_version_to(2),
                                        "layout-v2-" + version, build)
        reason = "unsupported version 2 for '%s' v1: %s" % (
            LAYOUT.decode(), newer_source(build))
        one_line_ending(lines, reason)
        assert desc.startswith("the destination failed: ") and \
            desc.endswith(": " + reason), desc
    each_build(on)


def test_newer_subsection_version():
    """Our DIMM subsection at version 2 (vmstate_load_state's check): one
    line of the destination's says the source is newer and what to do."""
    def on(version, build):
        lines, _ = refused_in_flight(dimms_version_to(2),
                                     "dimms-v2-" + version, build,
                                     WITH_DIMM)
        reason = "%s: incoming version_id 2 is too new for local " \
            "version_id 1: %s" % (DIMMS.decode(), newer_source(build))
        named = [line for line in lines if DIMMS.decode() in line]
        assert len(named) == 1 and named[0].endswith(reason), \
            "expected one line ending in %r, got %r" % (reason, lines)
    each_build(on)


if __name__ == "__main__":
    tap.main([
        ("upgrade-migration/default-map-10.0-10.2-10.0",
         test_default_map),
        ("upgrade-migration/ram-base-512g-10.0-10.2-10.0",
         test_ram_base_512g),
        ("upgrade-migration/virt-hotmem-10.2-refused-by-10.0",
         test_newer_machine_refused),
        ("upgrade-migration/bad-input/unknown-machine-version",
         test_unknown_machine_version),
        ("upgrade-migration/bad-input/without-our-section",
         test_without_layout_section),
        ("upgrade-migration/virt-hotmem-10.0-into-10.2-alias-refused",
         test_older_machine_type_into_alias),
        ("upgrade-migration/bad-input/newer-section-version",
         test_newer_section_version),
        ("upgrade-migration/bad-input/newer-subsection-version",
         test_newer_subsection_version),
    ])
