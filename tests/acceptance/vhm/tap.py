#
# TAP output for the acceptance tests: tests/run-tests.py counts these lines.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import sys
import time
import traceback


class Skip(Exception):
    """Raise with the reason to skip the current test."""


def run(tests):
    """tests: list of (name, function).  Prints a TAP stream; returns the
    process exit status (1 if any test failed)."""
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
