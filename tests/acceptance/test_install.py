#!/usr/bin/env python3
#
# Acceptance: make install / make uninstall into a DESTDIR.  install writes
# exactly the two emulators under DESTDIR/PREFIX/bin (PREFIX defaults to
# /usr/local), byte for byte what build/ holds; the installed x86 emulator
# starts -M q35 with Debian's SeaBIOS and no -L; uninstall removes exactly
# those files.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402
import test_features_firmware  # noqa: E402

EMULATORS = ("qemu-system-aarch64", "qemu-system-x86_64")


def make(*args):
    p = subprocess.run(["make", "-s", "-C", guest.ROOT] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=600)
    assert p.returncode == 0, "make %s failed:\n%s" % (
        " ".join(args), p.stdout.decode(errors="replace"))


def files_under(top):
    return sorted(os.path.relpath(os.path.join(d, f), top)
                  for d, _, fs in os.walk(top) for f in fs)


def test_install_uninstall():
    destdir = tempfile.mkdtemp(prefix="vhm-destdir-")
    try:
        make("install", "DESTDIR=" + destdir)
        want = ["usr/local/bin/" + e for e in EMULATORS]
        assert files_under(destdir) == want, files_under(destdir)
        for e in EMULATORS:
            installed = os.path.join(destdir, "usr/local/bin", e)
            assert os.access(installed, os.X_OK), installed
            assert filecmp.cmp(installed, os.path.join(guest.BUILD, e),
                               shallow=False), installed

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
        want = ["opt/vhm/bin/" + e for e in EMULATORS]
        assert files_under(destdir) == want, files_under(destdir)
        make("uninstall", "DESTDIR=" + destdir, "PREFIX=/opt/vhm")
        assert files_under(destdir) == [], files_under(destdir)
    finally:
        shutil.rmtree(destdir, ignore_errors=True)


if __name__ == "__main__":
    tap.main([("install/destdir-default-prefix", test_install_uninstall),
              ("install/destdir-prefix-opt", test_install_prefix)])
