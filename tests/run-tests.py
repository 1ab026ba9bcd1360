#!/usr/bin/env python3
#
# Run virt-hotmem's test suites and count their TAP results.
#
# Suites, in order: unit (pure C modules), fuzz (bounded fuzzer runs),
# qtest (QEMU under -accel qtest / the host's /dev/kvm), qemu-unit and
# qemu-qtest (QEMU's own check-unit and the qtests of both targets, on the
# patched tree: tests/qemu_suites.py), acceptance (real Debian guests).
# Each test program prints TAP; every "ok" counts as passed, every "not ok"
# as failed, every "# SKIP" as skipped (its reason is shown),
# and a program that exits non-zero without a "not ok", dies on a signal or
# times out counts one failure more.  The last line is
#   N passed, N failed, N skipped
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import concurrent.futures
import glob
import os
import re
import signal
import subprocess
import sys
import time

import qemu_suites

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "acceptance"))
from vhm import bases, tap  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITES = ["unit", "fuzz", "qtest", "qemu-unit", "qemu-qtest", "acceptance"]
# make check's bounded fuzzer run; make fuzz runs longer
FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS", "20"))
TAP_LINE = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*-?\s*(.*?)(?:\s+#\s*(SKIP|TODO)\b\s*(.*))?$",
                      re.I)


class Counts:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        # "program: test: why", one line per failure (tap.failure_reason())
        self.failures = []

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped
        self.failures += other.failures


def run_tap(name, argv, env, timeout, verbose, cwd=None, lines=None):
    """Run one TAP-producing program; return its Counts.  What it has to
    say is printed, or appended to @lines if given (run_taps())."""
    c = Counts()
    say = print if lines is None else lines.append
    t0 = time.monotonic()
    # In a session of its own, so that a timeout ends the program's
    # children too (a qtest's QEMU), which would otherwise keep the output
    # pipe open and the runner waiting.
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         cwd=cwd, start_new_session=True)
    try:
        raw, _ = p.communicate(timeout=timeout)
        status = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        raw, _ = p.communicate()
        status = "timeout after %d s" % timeout
    out = raw.decode(errors="replace")
    failed_lines = []
    block = []
    for line in out.splitlines():
        m = TAP_LINE.match(line.strip())
        if not m:
            block.append(line)
            continue
        diagnostic, block = block, []
        if m.group(4) and m.group(4).upper() == "SKIP":
            c.skipped += 1
            say("    SKIP %s: %s" % (m.group(3) or name, m.group(5) or "no reason given"))
        elif m.group(1).lower() == "ok":
            c.passed += 1
        else:
            c.failed += 1
            failed_lines.append(m.group(3))
            c.failures.append("%s: %s: %s" % (name, m.group(3),
                                              tap.failure_reason(diagnostic)))
    if status != 0 and not c.failed:
        c.failed += 1
        failed_lines.append("%s exited with %s" % (name, status))
        c.failures.append("%s: exited with %s: %s" % (
            name, status, tap.failure_reason(out.splitlines()[-20:])))
    dt = time.monotonic() - t0
    say("  %-44s %3d passed %3d failed %3d skipped  %6.1f s" %
        (name, c.passed, c.failed, c.skipped, dt))
    if failed_lines or verbose:
        for f in failed_lines:
            say("    FAIL %s" % f)
        for line in out.splitlines()[-60:] if failed_lines else out.splitlines():
            say("    | " + line)
    return c


def run_taps(progs, jobs, verbose):
    """Run @progs, (name, argv, env, timeout, cwd) each, @jobs at a time,
    as meson test runs QEMU's suites (every one of them is is_parallel).
    Each program's lines are printed together, in @progs' order; returns
    [(name, Counts)] in that order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        running = []
        for name, argv, env, timeout, cwd in progs:
            lines = []
            running.append((name, lines, pool.submit(
                run_tap, name, argv, env, timeout, verbose, cwd, lines)))
        results = []
        for name, lines, future in running:
            c = future.result()
            print("\n".join(lines), flush=True)
            results.append((name, c))
    return results


# Every one of our qtests also runs against the emulator of every other
# base built (make other-base), compiled against that base, whose
# expectations may differ (QEMU_BASE_AT_LEAST): the machine, its map, DIMMs,
# ACPI boot, hotplug, precise-tsc and the hooks under them are compiled
# against each base's QEMU, and 0007, 0008 and 0018 differ per base
# (patches/10.2/).  The unit tests need no emulator: the planner and the
# TSC arithmetic are the same C on both bases, so they run once.


def other_bases(build):
    """{QEMU version: build directory} of the bases built besides @build."""
    return {v: d for v, d in bases.builds().items()
            if os.path.realpath(d) != os.path.realpath(build)}


def manifest(build):
    path = os.path.join(build, "overlay", "tests", "manifest.txt")
    entries = []
    with open(path) as f:
        for line in f:
            if line.strip():
                suite, exe = line.split(None, 1)
                entries.append((suite, exe.strip()))
    return entries


# The acceptance programs whose outcome can differ between QEMU bases
# (the memory map, DIMMs, ACPI boot, the hooks, precise-tsc) run a second
# time on every other base make other-base built, against its emulators
# (VIRT_HOTMEM_TEST_BUILD, tests/acceptance/vhm/guest.py), each as
# "test_x.py (QEMU 10.2.2)"; the first test of such a run checks that the
# emulators are that base's QEMU.  Each entry: the program, and the names
# of the cases to run (tap.main's filter; none: every case), which keeps
# the second base's share of make check within CI's budget.  Run on the
# main build only:
# - test_uefi_moved_map.py's default, arm-den0001, reserved-1g-2g and
#   disk-without-esp cases (about 25 s each): on 10.2 the moved map under
#   UEFI runs at ram-base=0x8000000000, the case that also has the low RAM
#   region, both DIMMs and the migration, with the quick refusals;
# - test_migration_dimm.py's virt and network-namespace cases: the
#   reproducer of patch 0007 (a variant on 10.2) runs there on virt-hotmem;
# - test_precise_tsc_in_host.py: precise-tsc on a KVM that applies
#   offsets is measured on 10.2 by test_precise_tsc_e2e.py, and the qtest
#   it repeats in L1 already runs on the 10.2 host (the qtest suite);
# - test_arm_kvm.py: needs the arm64 cross-build (build-arm64/), made for
#   the main base only;
# - test_libvirt*.py: libvirt drives the QEMU make install put in place,
#   the main build;
# - test_configure.py, test_install.py, test_patches_pristine.py: about
#   configure, make install and the patch stack on the main base's pristine
#   tree; test_features_*.py, test_vhost_net.py: QEMU's own features our
#   configure enables, the same options on both bases, and the memory-map
#   picture of the main build;
# - test_upgrade_migration.py, test_precise_tsc_2host.py: run both builds
#   in one program already (vhm/bases.py).
ACCEPTANCE_ON_EVERY_BASE = (
    ("test_boot.py", ()),
    ("test_layout.py", ()),
    ("test_layout_iomem.py", ()),
    ("test_layout_migration.py", ()),
    ("test_layout_stock.py", ()),
    ("test_dimm_dt.py", ()),
    ("test_dimm_qmp.py", ()),
    ("test_dimm_uefi.py", ()),
    ("test_acpi_direct_boot.py", ()),
    ("test_migration_dimm.py", ("larger-than-ram (virt-hotmem)",)),
    ("test_migration_failure.py", ()),
    ("test_accel_global.py", ()),
    ("test_precise_tsc_migration.py", ()),
    ("test_precise_tsc_debugfs.py", ()),
    ("test_precise_tsc_e2e.py", ()),
    ("test_uefi_moved_map.py", ("ram-base-512g", "stock-aavmf-refused",
                                "low-ram")),
)


def suite_programs(suite, build):
    """(display name, argv, extra env) for each program of @suite."""
    progs = []
    if suite == "unit":
        for s, exe in manifest(build):
            if s == "unit":
                progs.append((os.path.basename(exe), [exe, "--tap", "-k"], {}))
    elif suite == "qtest":
        builds = [(None, build)] + sorted(other_bases(build).items())
        for version, b in builds:
            for s, exe in manifest(b):
                if not s.startswith("qtest-"):
                    continue
                arch = s[len("qtest-"):]
                env = {"QTEST_QEMU_BINARY": bases.emulator(b, arch)}
                name = os.path.basename(exe)
                if version:
                    name += " (QEMU %s)" % version
                progs.append((name, [exe, "--tap", "-k"], env))
    elif suite == "fuzz":
        progs.append(("virt-hotmem-layout-fuzz",
                      [os.path.join(ROOT, "tests", "fuzz", "run-fuzz.sh"),
                       build, str(FUZZ_SECONDS)], {}))
    elif suite == "acceptance":
        from vhm import guest
        for t in sorted(glob.glob(os.path.join(ROOT, "tests", "acceptance",
                                               "test_*.py"))):
            progs.append((os.path.basename(t), [sys.executable, t], {}))
        for version, b in sorted(other_bases(build).items()):
            for t, cases in ACCEPTANCE_ON_EVERY_BASE:
                progs.append(("%s (QEMU %s)" % (t, version),
                              [sys.executable, os.path.join(
                                  ROOT, "tests", "acceptance", t)] +
                              list(cases),
                              {guest.TEST_BUILD_ENV: b}))
    return progs


def run_qemu_suite(suite, build, verbose, jobs):
    """QEMU's own tests, run as meson test runs them (tests/qemu_suites.py),
    @jobs programs at a time.  A test we do not run counts as skipped, with
    its reason."""
    c = Counts()
    for line in qemu_suites.describe(build):
        print("  note: " + line)
    progs = []
    for name, argv, env, cwd, timeout, why_not in qemu_suites.programs(build, suite):
        if argv is None:
            print("    SKIP %s: %s" % (name, why_not))
            print("  %-44s %3d passed %3d failed %3d skipped" % (name, 0, 0, 1))
            c.skipped += 1
            continue
        progs.append((name, argv, env, timeout, cwd))
    for _, pc in run_taps(progs, jobs, verbose):
        c.add(pc)
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--suite", action="append", choices=SUITES,
                    help="run only these suites (default: all)")
    ap.add_argument("--timeout", type=int, default=900,
                    help="seconds one test program may take")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                    help="qtest programs (ours and QEMU's) and QEMU's unit "
                    "test programs run at a time (default: one per CPU, "
                    "as meson test)")
    ap.add_argument("--list-qemu-test-programs", action="store_true",
                    help="print the programs of QEMU's suites (for ninja) and exit")
    args = ap.parse_args()
    if args.list_qemu_test_programs:
        print("\n".join(qemu_suites.executables(args.build)))
        return 0

    total = Counts()
    t_start = time.monotonic()
    for suite in args.suite or SUITES:
        t0 = time.monotonic()
        if suite in qemu_suites.SUITES:
            print("%s: QEMU's %s" % (suite, ", ".join(qemu_suites.SUITES[suite])),
                  flush=True)
            sc = run_qemu_suite(suite, args.build, args.verbose, args.jobs)
        else:
            progs = suite_programs(suite, args.build)
            print("%s: %d program(s)" % (suite, len(progs)), flush=True)
            # qtests run as QEMU's do, several at a time; the acceptance
            # tests one at a time: they time migrations and the TSC,
            # share libvirtd and fetch their guests' assets on first use
            jobs = args.jobs if suite == "qtest" else 1
            sc = Counts()
            for _, pc in run_taps([(name, argv, dict(os.environ, **extra),
                                    args.timeout, None)
                                   for name, argv, extra in progs],
                                  jobs, args.verbose):
                sc.add(pc)
        print("%s: %d passed, %d failed, %d skipped in %.1f s" %
              (suite, sc.passed, sc.failed, sc.skipped, time.monotonic() - t0),
              flush=True)
        total.add(sc)
    if total.failures:
        print("failures:")
        for failure in total.failures:
            print("  " + failure)
    print("all suites took %.1f s" % (time.monotonic() - t_start))
    print("%d passed, %d failed, %d skipped" %
          (total.passed, total.failed, total.skipped))
    return 1 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main())
