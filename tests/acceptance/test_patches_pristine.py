#!/usr/bin/env python3
#
# Every hook in patches/ stands alone: unpack the same QEMU tarball again,
# apply patches/ only (scripts/apply-patches.sh, as configure does),
# configure it with no overlay/ directory and QEMU's default devices for
# both targets, build the whole tree (both emulators and QEMU's test
# programs, the manual) and run QEMU's check-unit and the qtests that exercise what the
# hooks change (tests/qemu_suites.py, HOOK_QTESTS) on it, one per CPU at a
# time as make check runs QEMU's suites.  A check-unit program with the same
# code and data as our build's is not run again (same_program()): make
# check's qemu-unit runs it.  Each QEMU test program prints one line with
# its counts.
#
# The features are those of our build (read from build/config.status)
# rather than a minimal set: config-host.h is then the same, and the tree
# is laid out as ours (WORK/assembled/qemu, WORK/build, CCACHE_BASEDIR=WORK),
# so every object that the two builds compile with the same command comes
# from ccache.  About half do not: every object of system_ss and of the
# targets' source sets gets -I overlay/include in our build (our
# meson.build adds overlay_inc to those source sets), and our device set
# leaves out the other Arm boards.  The work directory,
# build/pristine-check/, is removed when everything passed.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import glob
import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

ROOT = guest.ROOT
sys.path.insert(0, os.path.join(ROOT, "tests"))
import qemu_suites  # noqa: E402

# The runner's run_tap(): the same per-program line and TAP counting as
# make check's own run of QEMU's suites
_spec = importlib.util.spec_from_file_location(
    "run_tests", os.path.join(ROOT, "tests", "run-tests.py"))
run_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_tests)

WORK = os.path.join(guest.BUILD, "pristine-check")
SRC = os.path.join(WORK, "assembled", "qemu")
BUILD = os.path.join(WORK, "build")
# Our configure's options that the pristine build does not take: our
# device sets (configs/devices/, linked in by our configure only).  The
# manual is built: its QMP reference is generated from the schema that
# includes 0004's empty qapi/overlay.json.
NOT_PASSED = ("--with-devices-",)
NINJA_TIMEOUT = 4 * 3600
state = {"built": False, "failed": False}


def run(argv, cwd, timeout, env=None):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout, env=env)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, "%s failed (%d):\n%s" % (
        " ".join(argv[:3]), p.returncode, out[-3000:])
    return out


def tarball():
    cache = os.environ.get("VIRT_HOTMEM_CACHE", os.path.join(ROOT, "cache"))
    found = sorted(glob.glob(os.path.join(cache, "qemu_10.0.*.orig.tar.xz")))
    if not found:
        raise tap.Skip("no QEMU tarball in %s (run make build first)" % cache)
    return found[-1]


def our_configure_options():
    """The options our configure gave QEMU's (build/config.status), less
    NOT_PASSED."""
    status = os.path.join(guest.BUILD, "config.status")
    if not os.path.exists(status):
        raise tap.Skip("build/ is not configured (run make build)")
    with open(status) as f:
        line = [ln for ln in f if ln.startswith("exec ")][-1]
    argv = shlex.split(line)[2:]
    assert argv[-1] == "$@", line
    return [a for a in argv[:-1] if not a.startswith(NOT_PASSED)]


def link_firmware():
    """The links to Debian's firmware that our configure made in build/
    (pc-bios/ for bios-tables-test's edk2 images, qemu-bundle/ for the
    firmware path), made again in the pristine build.  Links into our
    own tree (meson's, to the source's pc-bios/) are the pristine
    build's own already."""
    made = 0
    for top in ("pc-bios", "qemu-bundle"):
        for d, dirs, files in os.walk(os.path.join(guest.BUILD, top)):
            for n in dirs + files:
                path = os.path.join(d, n)
                if not os.path.islink(path):
                    continue
                target = os.readlink(path)
                if not os.path.isabs(target) or \
                        target.startswith(ROOT + os.sep):
                    continue
                mine = os.path.join(BUILD, os.path.relpath(path, guest.BUILD))
                os.makedirs(os.path.dirname(mine), exist_ok=True)
                if os.path.lexists(mine):
                    os.unlink(mine)
                os.symlink(target, mine)
                made += 1
    return made


def ccache_env():
    env = dict(os.environ)
    # The Makefile's CCACHE_BASEDIR is our clone; here it is WORK, whose
    # assembled/qemu and build/ stand where ours do, so that ccache sees
    # the same relative paths and command lines.
    env["CCACHE_BASEDIR"] = WORK
    env["CCACHE_NOHASHDIR"] = "1"
    return env


def test_pristine_tree_builds():
    options = our_configure_options()
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(SRC)
    os.makedirs(BUILD)
    t0 = time.monotonic()
    run(["tar", "-xf", tarball(), "-C", SRC, "--strip-components=1"],
        WORK, 300)
    # The same application as configure's (git apply, for binary files)
    run([os.path.join(ROOT, "scripts", "apply-patches.sh"), SRC], WORK, 120)
    assert not os.path.exists(os.path.join(SRC, "overlay"))
    env = ccache_env()
    run([os.path.join(SRC, "configure")] + options, BUILD, 600, env)
    print("# configure %s (%.0f s)" % (" ".join(options), time.monotonic() - t0))
    print("# firmware links from build/: %d" % link_firmware())
    # QEMU's default devices, not ours: the Arm boards that our
    # configs/devices/aarch64-softmmu/virt-hotmem.mak leaves out are in
    with open(os.path.join(BUILD, "aarch64-softmmu-config-devices.mak")) as f:
        devices = f.read().split()
    assert "CONFIG_RASPI=y" in devices and "CONFIG_SBSA_REF=y" in devices

    steps = len(run(["ninja", "-n", "all"], BUILD, 600, env).splitlines())
    t1 = time.monotonic()
    before = ccache_stats()
    run(["ninja", "-j%d" % (os.cpu_count() or 2), "all"], BUILD,
        NINJA_TIMEOUT, env)
    after = ccache_stats()
    print("# ninja all: %d steps in %.0f s; ccache (all users of this cache "
          "meanwhile): %s hits, %s misses" %
          (steps, time.monotonic() - t1,
           after.get("hits", 0) - before.get("hits", 0),
           after.get("misses", 0) - before.get("misses", 0)))
    for emulator in ("qemu-system-aarch64", "qemu-system-x86_64"):
        assert os.access(os.path.join(BUILD, emulator), os.X_OK), emulator

    check_stock_commands(BUILD)
    state["built"] = True


def check_stock_commands(build):
    """Without the overlay, QEMU has none of its commands: the overlay's
    QAPI module is empty and 'help info' lists no 'info memory-layout'
    (patches/0004 adds hooks only)."""
    with open(os.path.join(build, "qapi", "qapi-commands-overlay.h")) as f:
        assert "qmp_" not in f.read(), "overlay QAPI module defines commands"
    for arch in ("aarch64", "x86_64"):
        p = subprocess.run(
            [os.path.join(build, "qemu-system-" + arch), "-M", "none",
             "-display", "none", "-nodefaults", "-monitor", "stdio"],
            input=b"help info\nquit\n", stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode(errors="replace")
        assert "info mtree" in out, out[-2000:]
        assert "memory-layout" not in out, \
            "qemu-system-%s without the overlay has 'info memory-layout'" % arch


def ccache_stats():
    """Hits and misses so far (ccache's own counters, of everyone using
    this cache), or {} without ccache."""
    if not shutil.which("ccache"):
        return {}
    out = subprocess.run(["ccache", "--print-stats"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout.decode()
    stats = dict(line.split(None, 1) for line in out.splitlines()
                 if len(line.split()) == 2)
    hits = sum(int(stats.get(k, 0)) for k in
               ("direct_cache_hit", "preprocessed_cache_hit"))
    return {"hits": hits, "misses": int(stats.get("cache_miss", 0))}


def same_program(a, b):
    """Whether executables @a and @b hold the same code and data: the same
    bytes once their debug information and build ID are left out.  Those
    differ between two builds of the same objects by the build directory
    (DW_AT_comp_dir) alone."""
    if not os.path.isfile(b):
        return False
    digests = []
    with tempfile.TemporaryDirectory(prefix="vhm-pristine-") as tmp:
        for i, path in enumerate((a, b)):
            stripped = os.path.join(tmp, str(i))
            subprocess.run(["objcopy", "--strip-debug",
                            "--remove-section=.note.gnu.build-id",
                            path, stripped], check=True)
            with open(stripped, "rb") as f:
                digests.append(hashlib.file_digest(f, "sha256").digest())
    return digests[0] == digests[1]


def run_suite(suite, only=None, skip_identical=False):
    """Run QEMU's @suite (of the programs named in @only, if given) on the
    pristine build, as make check runs it on ours.  With @skip_identical,
    a program with the same code and data as our build's (same_program())
    is not run again: QEMU's suite of the same name runs it on build/ (for
    check-unit, whose programs link nothing of the overlay)."""
    if not state["built"]:
        raise tap.Skip("the pristine tree did not build")
    for line in qemu_suites.describe(BUILD):
        # Not the notes about tests that are not run here
        about = re.match(r"qtest-[\w-]+/([\w-]+): ", line)
        if only is None or not about or about.group(1) in only:
            print("# note: " + line)
    total = run_tests.Counts()
    progs = []
    identical = []
    for name, argv, env, cwd, timeout, why_not in \
            qemu_suites.programs(BUILD, suite, only):
        if argv is None:
            print("    SKIP %s: %s" % (name, why_not))
            total.skipped += 1
            continue
        # The program, after what may wrap it (without-dev-kvm.sh)
        exe = next((a for a in argv if a.startswith(BUILD + os.sep)), None)
        if skip_identical and exe and same_program(
                exe, os.path.join(guest.BUILD, os.path.relpath(exe, BUILD))):
            identical.append(name)
            continue
        progs.append((name, argv, env, timeout, cwd))
    if skip_identical:
        print("# %d of %d %s programs have the same code and data as build/'s, "
              "which make check's %s suite runs: not run again" %
              (len(identical), len(identical) + len(progs), suite, suite))
    failed = []
    for name, c in run_tests.run_taps(progs, os.cpu_count() or 1, False):
        total.add(c)
        if c.failed:
            failed.append(name)
    print("# %s without the overlay: %d passed, %d failed, %d skipped" %
          (suite, total.passed, total.failed, total.skipped))
    if failed:
        state["failed"] = True
    assert not failed, "failed: " + ", ".join(failed)
    assert total.passed or (identical and not progs), \
        "no test of %s ran" % suite


def test_check_unit():
    run_suite("qemu-unit", skip_identical=True)


def test_hook_qtests():
    run_suite("qemu-qtest", qemu_suites.HOOK_QTESTS)
    if not state["failed"]:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    tap.main([("patches/pristine-tree-builds-with-default-devices",
               test_pristine_tree_builds),
              ("patches/pristine-tree-check-unit", test_check_unit),
              ("patches/pristine-tree-hook-qtests", test_hook_qtests)])
