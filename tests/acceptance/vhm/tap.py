#
# TAP output for the acceptance tests: tests/run-tests.py counts these lines.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import subprocess
import sys
import time
import traceback


class Skip(Exception):
    """Raise with the reason to skip the current test."""


def build_under_test_tests():
    """With VIRT_HOTMEM_TEST_BUILD set (vhm/guest.py), one test first: the
    emulators the harness runs report, with --version, the QEMU version
    that build directory was configured from (its config-host.h, read
    here, not through the harness), so that a program run against another
    base really ran that base's QEMU and not the main build's.  Without
    it, none: the main build is the one under test."""
    from . import bases, guest
    requested = os.environ.get(guest.TEST_BUILD_ENV)
    if not requested:
        return []

    def check():
        want = bases.qemu_version(requested)
        assert want, "%s=%s is no configured QEMU build" % (
            guest.TEST_BUILD_ENV, requested)
        for binary in (guest.QEMU_AARCH64, guest.QEMU_X86_64):
            out = subprocess.run([binary, "--version"], check=True,
                                 stdout=subprocess.PIPE, timeout=30,
                                 ).stdout.decode()
            print("# %s: %s" % (binary, out.splitlines()[0]), flush=True)
            m = re.search(r"version (\S+)", out)
            assert m and m.group(1) == want, \
                "%s is QEMU %s, not the %s of %s=%s" % (
                    binary, m.group(1) if m else "?", want,
                    guest.TEST_BUILD_ENV, requested)
    return [("build-under-test", check)]


# A Python exception's last line in a TAP diagnostic (run() prints the
# traceback as "# " lines): "# vhm.guest.GuestError: ...",
# "# AssertionError: ...".
EXCEPTION_LINE = re.compile(r"^# (?:[A-Za-z_][\w.]*)?(?:Error|Exception|"
                            r"Interrupt|Exit)\b(?::.*)?$")


def failure_reason(block):
    """Why a test failed, in one line, from @block, the lines its program
    printed since the previous TAP result: the exception a Python test
    raised (the last one, where one was raised while handling another),
    else the last diagnostic line (a glib test's "# ERROR:..." or "Bail
    out!").  make check's log may be cut in the middle (CI shows its
    head and tail): tests/run-tests.py lists these at its end."""
    lines = [line.strip() for line in block if line.strip()]
    found = [line for line in lines if EXCEPTION_LINE.match(line)]
    reason = found[-1] if found else (lines[-1] if lines else "no output")
    reason = reason[2:] if reason.startswith("# ") else reason
    return reason if len(reason) <= 300 else reason[:297] + "..."


def run(tests):
    """tests: list of (name, function).  Prints a TAP stream; returns the
    process exit status (1 if any test failed)."""
    tests = build_under_test_tests() + list(tests)
    print("1..%d" % len(tests), flush=True)
    failed = 0
    for n, (name, fn) in enumerate(tests, 1):
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            print("ok %d %s # SKIP %s" % (n, name, e), flush=True)
            continue
        except Exception:  # noqa: B902 - report every failure as TAP
            failed += 1
            for line in traceback.format_exc().splitlines():
                print("# " + line)
            print("not ok %d %s" % (n, name), flush=True)
            continue
        print("ok %d %s (%.1f s)" % (n, name, time.monotonic() - t0),
              flush=True)
    return 1 if failed else 0


def main(tests):
    """Run @tests, or those whose name holds one of the arguments."""
    only = sys.argv[1:]
    if only:
        tests = [t for t in tests if any(o in t[0] for o in only)]
    sys.exit(run(tests))
