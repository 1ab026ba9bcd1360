#
# The builds of virt-hotmem there are to test: the main one (build/, the
# base ./configure chose, 10.0 by default) and one per other QEMU base that
# `make other-base` built (bases/X.Y/build/), each with the QEMU version it
# was compiled from.  The version comes from the build itself, never from
# the directory's name: QEMU_VERSION in its config-host.h, which QEMU's
# meson writes from the source tree's VERSION file.
#
# usage: from vhm import bases
#        bases.builds()          {"10.0.13": ".../build", "10.2.2": ...}
#        bases.build_for("10.2") ".../bases/10.2/build", or None
#        python3 tests/acceptance/vhm/bases.py   prints one line per build
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
MAIN_BUILD = os.path.join(ROOT, "build")
BASES = os.path.join(ROOT, "bases")
EMULATORS = ("qemu-system-aarch64", "qemu-system-x86_64")


def qemu_version(build):
    """The QEMU version (e.g. "10.2.2") @build was configured from, or None
    if @build is not a configured QEMU build directory."""
    try:
        with open(os.path.join(build, "config-host.h")) as f:
            m = re.search(r'^#define QEMU_VERSION "([^"]+)"$', f.read(), re.M)
    except OSError:
        return None
    return m.group(1) if m else None


def series(version):
    """"10.2" of "10.2.2": the base a version belongs to."""
    return ".".join(version.split(".")[:2])


def is_built(build):
    """Whether both emulators of @build are there to run."""
    return all(os.access(os.path.join(build, e), os.X_OK) for e in EMULATORS)


def builds():
    """{QEMU version: build directory} of the main build and of every base
    under bases/ whose emulators are built, in version order.  A base
    directory whose build has the main build's version is left out: it
    would test nothing the main one does not."""
    candidates = [MAIN_BUILD]
    if os.path.isdir(BASES):
        candidates += [os.path.join(BASES, d, "build")
                       for d in sorted(os.listdir(BASES))]
    found = {}
    for build in candidates:
        version = qemu_version(build)
        if version and is_built(build) and version not in found:
            found[version] = build
    key = lambda v: tuple(int(x) if x.isdigit() else 0 for x in v.split("."))
    return {v: found[v] for v in sorted(found, key=key)}


def build_for(base):
    """The build directory of QEMU @base ("10.0", "10.2"), or None if none
    is built."""
    for version, build in builds().items():
        if series(version) == base:
            return build
    return None


def emulator(build, arch):
    """The qemu-system-@arch of @build."""
    return os.path.join(build, "qemu-system-" + arch)


if __name__ == "__main__":
    for version, build in builds().items():
        print(version, os.path.relpath(build, ROOT))
