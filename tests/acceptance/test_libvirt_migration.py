#!/usr/bin/env python3
#
# Acceptance: live migration between two libvirt "hosts".  Two libvirtd
# of this test's own (vhm/libvirt.py), each in its own mount and network
# namespaces, joined by a veth pair with addresses that exist only in
# those namespaces; `virsh migrate --live` from one to the other and
# back, the migration stream over that link.  Domains (the manual's XML,
# docs/system/arm/virt-hotmem.rst, and README.md's):
#
# - libvirt-uefi (Debian's AAVMF, the default map) with the manual's
#   libvirt-dimm and libvirt-nvdimm attached live;
# - libvirt-ram-base-acpi (RAM at 512 GiB, ACPI direct boot) with two
#   libvirt-dimm attached live; then virsh managedsave + start;
# - README.md's q35 precise-tsc domain on the host's /dev/kvm: the mode on
#   both sides and the destination's record of the incoming section; on
#   a host whose KVM ignores TSC offsets (query-precise-tsc's mode
#   "unsupported", as under PVM), the destination's refusal instead, with
#   the source still running.
#
# A refused migration (another map; another set of DIMMs, which libvirt
# itself refuses; precise-tsc state the destination cannot restore)
# prints the reason in virsh migrate, plain and --p2p, and the domain
# runs on.
#
# After each migration: the guest's shell answers and a file it wrote in
# RAM before is intact; the DIMMs are in the destination's live XML at
# the addresses they had; on the way back the domain is paused first and
# its RAM and DIMMs, dumped with pmemsave on both sides, are compared
# here byte for byte; `virsh detach-device` of a DIMM works on the
# destination.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import hashlib
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import dimm, guest, libvirt, tap  # noqa: E402

GiB = guest.GiB
MiB = guest.MiB
NVDIMM_MODULES = dimm.ACPI_NVDIMM_MODULES
# README.md's precise-tsc domain: its name and emulator, replaced.
README = os.path.join(guest.ROOT, "README.md")


def ram_sha(lv, dom, ranges, tmp, tag):
    """sha256 of guest-physical @ranges ((start, end) inclusive) of the
    domain on @lv, dumped with pmemsave into @tmp."""
    h = hashlib.sha256()
    for n, (s, e) in enumerate(ranges):
        path = os.path.join(tmp, "%s-%d.bin" % (tag, n))
        lv.virsh("qemu-monitor-command", dom, json.dumps(
            {"execute": "pmemsave",
             "arguments": {"val": s, "size": e - s + 1,
                           "filename": path}}), timeout=300)
        with open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 24)
                if not chunk:
                    break
                h.update(chunk)
        os.unlink(path)
    return h.hexdigest()


def there_and_back(two, con, memory):
    """Migrate live from host 0 to host 1 with the guest running, then
    back paused, comparing @memory (guest-physical ranges) dumped on both
    sides; return the guest's console on host 0."""
    a, b = two.hosts
    dom = two.domain
    bases = libvirt.dimm_bases(a, dom)
    con.check("echo vhm-before-migration > /tmp/mark")
    con.close()
    rc, out, t_there = two.migrate(0, 1)
    assert rc == 0, out
    assert libvirt.state(b, dom) == "running", libvirt.state(b, dom)
    assert a.virsh("domstate", dom, check=False)[0] != 0, \
        "the source still has the domain"
    con = libvirt.connect_console(two.console(1), booting=False)
    assert con.check("cat /tmp/mark").strip() == "vhm-before-migration"
    assert libvirt.dimm_bases(b, dom) == bases, \
        (bases, libvirt.dimm_bases(b, dom))

    con.close()
    b.virsh("suspend", dom)
    before = ram_sha(b, dom, memory, two.tmp, "b")
    rc, out, t_back = two.migrate(1, 0)
    assert rc == 0, out
    assert libvirt.state(a, dom) == "paused", libvirt.state(a, dom)
    after = ram_sha(a, dom, memory, two.tmp, "a")
    assert before == after, "RAM and DIMMs differ after the migration back"
    a.virsh("resume", dom)
    con = libvirt.connect_console(two.console(0), booting=False)
    assert con.check("cat /tmp/mark").strip() == "vhm-before-migration"
    assert libvirt.dimm_bases(a, dom) == bases
    print("# migrate: there %.2f s, back (paused) %.2f s, DIMMs %s" %
          (t_there, t_back, {s: "%#x" % b for s, b in bases.items()}),
          flush=True)
    return con


def detach_one(two, host, con, path):
    """Detach the DIMM of @path on @host: libvirt drops it once the guest
    gave the memory back."""
    lv, dom = two.hosts[host], two.domain
    n = len(libvirt.dimm_bases(lv, dom))
    lv.virsh("detach-device", dom, path, "--live")
    deadline = time.monotonic() + 60
    while len(libvirt.dimm_bases(lv, dom)) != n - 1:
        assert time.monotonic() < deadline, \
            "the DIMM is still in the domain 60 s after detach-device"
        time.sleep(0.5)


def test_uefi_dimm_nvdimm():
    if not os.path.exists(guest.AAVMF_CODE):
        raise tap.Skip("no %s (qemu-efi-aarch64)" % guest.AAVMF_CODE)
    two = libvirt.TwoHosts("vhm-mig-uefi")
    try:
        nv = os.path.join(two.tmp, "nvdimm0.img")
        with open(nv, "wb") as f:
            f.truncate(256 * MiB)
        con = libvirt.boot(two, "libvirt-uefi", NVDIMM_MODULES, [(
            "</devices>\n</domain>",
            "</devices>\n  <qemu:commandline>\n"
            "    <qemu:arg value='-machine'/>\n"
            "    <qemu:arg value='nvdimm=on'/>\n"
            "  </qemu:commandline>\n</domain>"), (
            "<domain type='qemu'>",
            "<domain type='qemu' xmlns:qemu="
            "'http://libvirt.org/schemas/domain/qemu/1.0'>")])
        ram = dimm.iomem_ram(con)
        dimm_xml = libvirt.attach(two, 0, "libvirt-dimm")
        for m in NVDIMM_MODULES:
            con.check("insmod /modules/" + os.path.basename(m))
        libvirt.attach(two, 0, "libvirt-nvdimm",
                       [(libvirt.DOC_NVDIMM, nv)])
        dimm.wait_pmem0(con, 10)
        dimm.online_all(con)
        bases = libvirt.dimm_bases(two.hosts[0], two.domain)
        assert len(bases) == 2, bases
        memory = ram + [(b, b + 256 * MiB - 1) for b in bases.values()]
        con = there_and_back(two, con, memory)
        # And once more there, to detach the DIMM on the destination.
        con.close()
        rc, out, _ = two.migrate(0, 1)
        assert rc == 0, out
        con = libvirt.connect_console(two.console(1), booting=False)
        con.check("[ -b /dev/pmem0 ]")
        detach_one(two, 1, con, dimm_xml)
        con.close()
    finally:
        two.close()


def test_ram_base_acpi_two_dimms():
    two = libvirt.TwoHosts("vhm-mig-512g")
    try:
        con = libvirt.boot(two, "libvirt-ram-base-acpi")
        ram = dimm.iomem_ram(con)
        assert ram[0][0] == 0x8000000000, ram
        paths = [libvirt.attach(two, 0, "libvirt-dimm") for _ in range(2)]
        dimm.online_all(con)
        bases = libvirt.dimm_bases(two.hosts[0], two.domain)
        assert sorted(bases.values()) == [0x8040000000, 0x8080000000], \
            bases
        memory = ram + [(b, b + GiB - 1) for b in bases.values()]
        con = there_and_back(two, con, memory)
        con.close()
        rc, out, _ = two.migrate(0, 1)
        assert rc == 0, out
        con = libvirt.connect_console(two.console(1), booting=False)
        detach_one(two, 1, con, paths[1])

        # managedsave + start on the destination, with the DIMM left.
        b, dom = two.hosts[1], two.domain
        con.check("echo vhm-before-save > /tmp/mark2")
        con.close()
        left = libvirt.dimm_bases(b, dom)
        b.virsh("managedsave", dom, timeout=300)
        assert libvirt.state(b, dom) == "shut off"
        b.virsh("start", dom, timeout=300)
        con = libvirt.connect_console(two.console(1), booting=False)
        assert con.check("cat /tmp/mark2").strip() == "vhm-before-save"
        assert libvirt.dimm_bases(b, dom) == left
        con.close()
    finally:
        two.close()


def refused(two, reason, p2p=False, replacements=()):
    """Migrate from host 0 to host 1 and see it refused: virsh prints
    @reason (the destination QEMU's words), the domain runs on on host 0
    and host 1 has none."""
    a, b = two.hosts
    rc, out, _ = two.migrate(0, 1, p2p=p2p, replacements=replacements)
    assert rc != 0, "the migration was accepted: " + out
    assert reason in out, "virsh migrate%s says %r, not %r" % (
        " --p2p" if p2p else "", out.strip(), reason)
    assert libvirt.state(a, two.domain) == "running", \
        libvirt.state(a, two.domain)
    assert b.virsh("domstate", two.domain, check=False)[0] != 0, \
        "the destination kept the domain"
    print("# refused%s: %s" % (" (--p2p)" if p2p else "", out.strip()),
          flush=True)


def test_refused_layout_dimms():
    two = libvirt.TwoHosts("vhm-mig-refused")
    try:
        con = libvirt.boot(two, "libvirt-ram-base-acpi")
        # The destination plans RAM at 513 GiB: its map is not the
        # source's.  (With a DIMM at the source's address the destination
        # would not even start: the DIMM is outside its device memory.)
        for p2p in (False, True):
            refused(two, "the source's memory map differs from this "
                    "machine's", p2p=p2p, replacements=[(
                        "ram-base=0x8000000000", "ram-base=0x8040000000")])
        # Another set of DIMMs: libvirt compares the domain XMLs' memory
        # devices and refuses before any QEMU starts, naming the field.
        libvirt.attach(two, 0, "libvirt-dimm")
        refused(two, "Target device dimm base address '8080000000' does "
                "not match source '8040000000'", replacements=[(
                    "base='0x8040000000'", "base='0x8080000000'")])
        con.check("true")
        con.close()
        # And the source still migrates where the map is the same.
        rc, out, _ = two.migrate(0, 1, p2p=True)
        assert rc == 0, out
    finally:
        two.close()


def readme_precise_tsc_xml(domain):
    with open(README) as f:
        text = f.read()
    m = re.search(r"^    (<domain type='kvm'.*?\n    </domain>)$", text,
                  re.M | re.S)
    assert m and "kvm-accel.precise-tsc=on" in m.group(1), \
        "README.md has no precise-tsc domain"
    xml = "\n".join(line[4:] if line.startswith("    ") else line
                    for line in m.group(1).splitlines())
    return libvirt.substitute(xml, [
        ("<name>precise-tsc</name>", "<name>%s</name>" % domain),
        ("<emulator>/usr/local/bin/qemu-system-x86_64</emulator>",
         "<emulator>%s</emulator>" % guest.QEMU_X86_64)])


def test_precise_tsc_q35():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise tap.Skip("no usable /dev/kvm: the domain is of type kvm")
    two = libvirt.TwoHosts("vhm-mig-tsc")
    try:
        path = os.path.join(two.tmp, "precise-tsc.xml")
        with open(path, "w") as f:
            f.write(readme_precise_tsc_xml(two.domain))
        a, b = two.hosts
        a.virsh("define", path)
        a.virsh("start", two.domain, timeout=300)

        def query(lv):
            out = lv.virsh("qemu-monitor-command", two.domain,
                           '{"execute":"query-precise-tsc"}')[1]
            return json.loads(out)["return"]

        src = query(a)
        assert src["enabled"] is True, src
        time.sleep(2)
        if src["mode"] == "unsupported":
            # This host's KVM ignores TSC offsets (PVM, for one): the
            # destination must refuse a stream whose TSCs it cannot
            # restore, say why through virsh, the source go on running.
            for p2p in (False, True):
                refused(two, "precise-tsc: the source host's KVM ignores "
                        "TSC offsets", p2p=p2p)
            return
        rc, out, secs = two.migrate(0, 1)
        assert rc == 0, out
        dst = query(b)
        assert dst["enabled"] is True, dst
        last = dst.get("last-migration")
        assert last, dst
        assert last["source-mode"] == src["mode"], (src, last)
        assert last["destination-mode"] == dst["mode"], dst
        print("# precise-tsc: source %s, destination %s, restored %s, "
              "migration %.2f s" % (src["mode"], dst["mode"],
                                    last["restored"], secs), flush=True)
        rc, out, _ = two.migrate(1, 0)
        assert rc == 0, out
        assert query(a)["last-migration"]["source-mode"] == dst["mode"]
    finally:
        two.close()


if __name__ == "__main__":
    tap.main([("libvirt/2host-uefi-dimm-nvdimm-there-and-back",
               test_uefi_dimm_nvdimm),
              ("libvirt/2host-512g-acpi-two-dimms-there-and-back-"
               "managedsave", test_ram_base_acpi_two_dimms),
              ("libvirt/2host-refused-layout-dimms-reason-in-virsh",
               test_refused_layout_dimms),
              ("libvirt/2host-q35-precise-tsc-there-and-back",
               test_precise_tsc_q35)])
