#!/usr/bin/env python3
#
# Acceptance: make install / make uninstall into a DESTDIR.  install writes
# exactly the two emulators under DESTDIR/PREFIX/bin (PREFIX defaults to
# /usr/local), byte for byte what build/ holds, QEMU's man pages under
# share/man and its HTML manual under share/doc/virt-hotmem (both built from
# docs/ by QEMU's Sphinx setup, with our pages in them), the UEFI firmware
# for the moved memory maps under share/qemu with its firmware descriptor in
# share/qemu/firmware naming the installed image; the installed x86
# emulator starts -M q35 with Debian's SeaBIOS and no -L; uninstall removes
# exactly those files.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402
import test_features_firmware  # noqa: E402

EMULATORS = ("qemu-system-aarch64", "qemu-system-x86_64")
FIRMWARE = "virt-hotmem-efi-aarch64.fd"
DESCRIPTOR = "firmware/30-virt-hotmem-edk2-aarch64.json"
MAN_PAGES = ("man1/qemu.1", "man7/qemu-block-drivers.7",
             "man7/qemu-cpu-models.7", "man7/qemu-qmp-ref.7")


def make(*args):
    p = subprocess.run(["make", "-s", "-C", guest.ROOT] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=600)
    assert p.returncode == 0, "make %s failed:\n%s" % (
        " ".join(args), p.stdout.decode(errors="replace"))


def files_under(top):
    return sorted(os.path.relpath(os.path.join(d, f), top)
                  for d, _, fs in os.walk(top) for f in fs)


def expected_files(prefix):
    manual = os.path.join(guest.BUILD, "docs", "manual")
    return sorted([prefix + "/bin/" + e for e in EMULATORS] +
                  [prefix + "/share/man/" + m for m in MAN_PAGES] +
                  [prefix + "/share/qemu/" + f
                   for f in (FIRMWARE, DESCRIPTOR)] +
                  [prefix + "/share/doc/virt-hotmem/" + f
                   for f in files_under(manual)])


def check_descriptor(destdir, prefix):
    """The installed descriptor (docs/interop/firmware.json's Firmware)
    names the installed firmware, byte for byte what build/ holds, as a
    -kernel image for UEFI on the virt-hotmem machines of aarch64."""
    with open(os.path.join(destdir, prefix[1:], "share/qemu", DESCRIPTOR)) as f:
        desc = json.load(f)
    image = prefix + "/share/qemu/" + FIRMWARE
    assert desc["mapping"] == {"device": "kernel", "filename": image}, desc
    assert desc["interface-types"] == ["uefi"], desc
    assert desc["targets"] == [{"architecture": "aarch64",
                                "machines": ["virt-hotmem*"]}], desc
    assert set(desc) == {"description", "interface-types", "mapping",
                         "targets", "features", "tags"}, desc
    assert filecmp.cmp(os.path.join(destdir, image[1:]),
                       os.path.join(guest.BUILD, "pc-bios", FIRMWARE),
                       shallow=False), image


def test_install_uninstall():
    destdir = tempfile.mkdtemp(prefix="vhm-destdir-")
    try:
        make("install", "DESTDIR=" + destdir)
        want = expected_files("usr/local")
        assert files_under(destdir) == want, \
            set(files_under(destdir)) ^ set(want)
        for e in EMULATORS:
            installed = os.path.join(destdir, "usr/local/bin", e)
            assert os.access(installed, os.X_OK), installed
            assert filecmp.cmp(installed, os.path.join(guest.BUILD, e),
                               shallow=False), installed

        check_descriptor(destdir, "/usr/local")

        # Away from build/ (no qemu-bundle beside it), the installed binary
        # still maps Debian's SeaBIOS.
        test_features_firmware.check_seabios_mapped(
            "q35", os.path.join(destdir, "usr/local/bin/qemu-system-x86_64"))

        make("uninstall", "DESTDIR=" + destdir)
        assert files_under(destdir) == [], files_under(destdir)
    finally:
        shutil.rmtree(destdir, ignore_errors=True)


def test_install_prefix():
    destdir = tempfile.mkdtemp(prefix="vhm-destdir-")
    try:
        make("install", "DESTDIR=" + destdir, "PREFIX=/opt/vhm")
        want = expected_files("opt/vhm")
        assert files_under(destdir) == want, \
            set(files_under(destdir)) ^ set(want)
        check_descriptor(destdir, "/opt/vhm")
        make("uninstall", "DESTDIR=" + destdir, "PREFIX=/opt/vhm")
        assert files_under(destdir) == [], files_under(destdir)
    finally:
        shutil.rmtree(destdir, ignore_errors=True)


def test_installed_docs():
    """The installed manual has our board's page; the man pages render
    with man(1) and the QMP reference documents our QMP command."""
    destdir = tempfile.mkdtemp(prefix="vhm-destdir-")
    try:
        make("install", "DESTDIR=" + destdir)
        doc = os.path.join(destdir, "usr/local/share/doc/virt-hotmem")
        with open(os.path.join(doc, "system/arm/virt-hotmem.html")) as f:
            page = f.read()
        assert "memory map" in page, "virt-hotmem.html has no memory map"
        with open(os.path.join(doc, "system/target-arm.html")) as f:
            assert 'href="arm/virt-hotmem.html"' in f.read()
        man = os.path.join(destdir, "usr/local/share/man")
        p = subprocess.run(["man", "-l", "-P", "cat",
                            os.path.join(man, "man7/qemu-qmp-ref.7")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120, env=dict(os.environ, MANWIDTH="80"))
        assert p.returncode == 0, p.stderr.decode()
        assert "query-memory-layout" in p.stdout.decode(), \
            "qemu-qmp-ref(7) does not document query-memory-layout"
    finally:
        shutil.rmtree(destdir, ignore_errors=True)


if __name__ == "__main__":
    tap.main([("install/destdir-default-prefix", test_install_uninstall),
              ("install/destdir-prefix-opt", test_install_prefix),
              ("install/manual-and-man-pages", test_installed_docs)])
