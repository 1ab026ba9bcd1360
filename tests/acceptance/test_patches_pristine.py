#!/usr/bin/env python3
#
# The hooks in patches/ must leave a QEMU that builds and behaves as stock
# without the overlay (patches/0002's promise): unpack the same QEMU
# tarball again, apply patches/ only, configure it with no overlay/
# directory, and build the objects the patches touch (QAPI schema and its
# generated code, the HMP tables, x86 KVM).  Those objects must not need a
# symbol that only the overlay defines: every symbol they leave undefined
# is looked up in the objects of the overlay build (build/).  Takes about
# 40 s with a warm ccache (build/pristine-check/, removed on success).
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import glob
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

ROOT = guest.ROOT
WORK = os.path.join(guest.BUILD, "pristine-check")
# Objects of the files patches/ touch, as ninja names them
TOUCHED = [r"target_i386_kvm_kvm\.c\.o$", r"monitor_hmp-target\.c\.o$",
           r"monitor_hmp-cmds\.c\.o$", r"qapi-introspect\.c\.o$",
           r"qapi-commands-overlay\.c\.o$", r"qapi-types-overlay\.c\.o$",
           r"hw_mem_memory-device\.c\.o$", r"hw_acpi_aml-build\.c\.o$",
           r"hw_acpi_bios-linker-loader\.c\.o$", r"hw_arm_boot\.c\.o$"]


def run(argv, cwd, timeout):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, "%s failed (%d):\n%s" % (
        " ".join(argv[:3]), p.returncode, out[-3000:])
    return out


def defined_symbols(objects):
    out = subprocess.run(["nm", "--defined-only", "-A"] + objects,
                         stdout=subprocess.PIPE, check=True,
                         timeout=300).stdout.decode(errors="replace")
    return {line.split()[-1]: line.split(":")[0] for line in out.splitlines()
            if len(line.split()) >= 3}


def overlay_symbols():
    """Symbols that only the overlay's objects in build/ define."""
    objects = [o for o in glob.glob(os.path.join(guest.BUILD, "**", "*.o"),
                                    recursive=True)
               if "pristine-check" not in o]
    mine = [o for o in objects if "overlay_" in os.path.basename(o) or
            "virt-hotmem" in os.path.basename(o)]
    if not mine:
        raise tap.Skip("build/ holds no overlay objects (run make build)")
    return defined_symbols(mine)


def tarball():
    cache = os.environ.get("VIRT_HOTMEM_CACHE", os.path.join(ROOT, "cache"))
    found = sorted(glob.glob(os.path.join(cache, "qemu_10.0.*.orig.tar.xz")))
    if not found:
        raise tap.Skip("no QEMU tarball in %s (run make build first)" % cache)
    return found[-1]


def test_pristine_tree_builds():
    src = os.path.join(WORK, "qemu")
    build = os.path.join(WORK, "build")
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(src)
    os.makedirs(build)
    run(["tar", "-xf", tarball(), "-C", src, "--strip-components=1"],
        WORK, 300)
    # The same application as configure's (git apply, for binary files)
    run([os.path.join(ROOT, "scripts", "apply-patches.sh"), src], WORK, 120)
    assert not os.path.exists(os.path.join(src, "overlay"))
    cc = "ccache cc" if shutil.which("ccache") else "cc"
    run([os.path.join(src, "configure"), "--cc=" + cc,
         "--python=/usr/bin/python3",
         "--target-list=aarch64-softmmu,x86_64-softmmu",
         "--without-default-features", "--without-default-devices",
         "--enable-kvm", "--enable-tcg", "--disable-docs",
         "--disable-install-blobs"], build, 600)
    targets = run(["ninja", "-t", "targets", "all"], build, 120)
    names = [line.split(":")[0] for line in targets.splitlines()]
    want = []
    for pattern in TOUCHED:
        hits = [n for n in names if re.search(pattern, n)]
        assert hits, "no ninja target matches %s" % pattern
        want += hits
    run(["ninja", "-j2"] + want, build, 1200)

    # Built, but would they link without the overlay?
    ours = overlay_symbols()
    out = run(["nm", "-u", "-A"] + [os.path.join(build, w) for w in want],
              build, 120)
    for line in out.splitlines():
        sym = line.split()[-1]
        assert sym not in ours, "%s needs %s, defined only by the " \
            "overlay (%s)" % (line.split(":")[0], sym, ours[sym])

    # Stock behaviour: the overlay's schema module is empty, and the HMP
    # entry has no handler ("not available") until one is registered.
    with open(os.path.join(build, "qapi", "qapi-commands-overlay.h")) as f:
        assert "qmp_" not in f.read(), "overlay QAPI module defines commands"
    with open(os.path.join(build, "hmp-commands-info.h")) as f:
        table = f.read()
    entry = table[table.index('"memory-layout"'):]
    entry = entry[:entry.index("},")]
    assert ".cmd" not in entry, entry
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    tap.main([("patches/pristine-tree-without-overlay-builds",
               test_pristine_tree_builds)])
