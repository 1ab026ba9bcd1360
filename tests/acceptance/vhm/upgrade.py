#
# Two builds of virt-hotmem for the upgrade tests: the main build (the
# default base, QEMU 10.0) and the other base's build (QEMU 10.2, made by
# `make other-base` into bases/10.2/build/), each found by the QEMU version
# its build tree was configured with, not by its directory's name.  Plus
# the figures every migration test prints.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os

from . import bases, tap

OLD, NEW = "10.0", "10.2"
# For developing the upgrade tests without a second base: take the main
# build for both sides (everything but the version difference is then
# proven).  Never set in `make check`.
SAME_BUILD_ENV = "VHM_UPGRADE_SAME_BUILD"


def build_version(build_dir):
    """MAJOR.MINOR of the QEMU that @build_dir was configured from, or None
    if it is not a configured build tree."""
    version = bases.qemu_version(build_dir)
    return bases.series(version) if version else None


def builds():
    """{MAJOR.MINOR: build dir} for the main build and every base built
    under bases/*/build (vhm.bases, the helper of `make other-base`)."""
    return {bases.series(v): d for v, d in bases.builds().items()}


def old_and_new():
    """(10.0 build dir, 10.2 build dir), or skip saying what is missing.
    With VHM_UPGRADE_SAME_BUILD=1 in the environment, a missing 10.2
    build is replaced by the 10.0 one."""
    found = builds()
    if OLD not in found:
        raise tap.Skip("no QEMU %s build (found %s)" % (OLD, found))
    if NEW not in found:
        if os.environ.get(SAME_BUILD_ENV) == "1":
            return found[OLD], found[OLD]
        raise tap.Skip("no QEMU %s build: run `make other-base` (found %s)"
                       % (NEW, found))
    return found[OLD], found[NEW]


def figures(vm):
    """The completed outgoing migration of @vm: (total ms, downtime ms,
    bytes transferred) from its query-migrate."""
    q = vm.qmp.cmd("query-migrate")
    assert q.get("status") == "completed", q
    return q["total-time"], q["downtime"], q["ram"]["transferred"]


def print_figures(what, fig):
    print("# %s: total %d ms, downtime %d ms, %d bytes" % ((what,) + fig),
          flush=True)
