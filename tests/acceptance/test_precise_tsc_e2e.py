#!/usr/bin/env python3
#
# Acceptance, end to end: precise-tsc on a KVM that applies TSC offsets.
# This machine's /dev/kvm may ignore them (PVM), so the measurement runs in
# an emulated AMD-V host, exactly as scripts/bench-precise-tsc.py does (see
# vhm/bench_precise_tsc.py, its code, for the method); here one round,
# with the targets as assertions:
#   precise-tsc=on:  |error| <= 1 ms for each vCPU, skew 0 cycles
#   precise-tsc=off: error ~ -downtime (stock QEMU: the TSC stands still)
#   precise-tsc=on with the guest 200 ppm above the host's TSC frequency
#   (inside KVM's tolerance, so KVM does not scale): |error| <= 0.01 ms,
#   skew 0 -- 200 ppm of the pause would be 0.4 ms
#   precise-tsc=on with a leap second inserted in L1 during the pause
#   (CLOCK_REALTIME one second back, the TAI offset one up): |error| <=
#   0.01 ms, skew 0 -- counting on UTC would lose the second
#   precise-tsc=on, migrated through a file (migrate file:): the section
#   is left out, no precise restore is reported, the TSC stands still as
#   with stock QEMU (error between -1.5 x downtime and -1 ms)
#   precise-tsc=on,precise-tsc-catch-up=on through a file: |error| <=
#   0.01 ms, skew 0, restored
#   precise-tsc=on with an L2 guest that leaves its TSC alone (equal vCPU
#   offsets, so KVM keeps its master clock; the destination reports mode
#   kvm-clock-realtime): |error| <= 0.01 ms, skew 0, and the guest's own
#   kvmclock-to-TSC relationship moved by at most 100 ns (issue goal 1 us)
# Each other result also carries how far that relationship moved (printed
# only: with unequal vCPU offsets KVM drops its master clock, see the
# docs).  One L1 boot and seven migrations: about 90 s on 2 cores.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import bench_precise_tsc as bench, tap  # noqa: E402

DOWNTIME_S = 2.0
CASES = ("on", "off", "on@200", "on+leap", "on+file", "catchup+file",
         "on+nostep")

_results = {}


def measure():
    """One L1 boot, one round of each mode; cached for both tests."""
    if not _results:
        try:
            _measure()
        except SystemExit as e:
            # bench's die() already said why on stderr
            raise AssertionError("the measurement could not be done "
                                 "(exit %s)" % e.code)
    return _results


def _measure():
    bench.ensure_tools()
    assets = bench.fetch_assets()
    work = tempfile.mkdtemp(prefix="vhm-e2e-tsc-")
    try:
        initrd = bench.build_parts(work, assets, 1, DOWNTIME_S, CASES)
        lines, _ = bench.run_l1(assets["kernel"], initrd,
                                os.path.join(work, "l1.log"), 420, False)
        results, _ = bench.parse(lines)
        if not results:
            print("\n".join("# L1| " + l for l in lines[-30:]))
        _results.update(results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def vcpus(mode):
    r = measure().get((1, mode))
    assert r and 0 in r and 1 in r, "no precise-tsc=%s result from L1" % mode
    return r


def assert_precise(mode, label, bound_ns):
    """Each vCPU of MODE within BOUND_NS, skew 0; returns the result."""
    r = vcpus(mode)
    for i in (0, 1):
        err = int(r[i]["error_ns"])
        print("# %s, vcpu%d: error %d ns, skew %s cycles, downtime %s ns, "
              "guest's kvmclock/TSC moved %s ns, restored %s"
              % (label, i, err, r[i]["skew_cycles"], r[i]["downtime_ns"],
                 r[i].get("guest_kvmclock_move_ns"), r[i].get("restored")))
        assert abs(err) <= bound_ns, "vcpu%d error %d ns > %d ns" % (
            i, err, bound_ns)
    assert int(r[0]["skew_cycles"]) == 0, r[0]
    return r


def test_on_precise():
    assert_precise("on", "precise-tsc=on", 1000000)


def test_200ppm_precise():
    assert_precise("on@200", "precise-tsc=on, guest +200 ppm", 10000)


def test_leap_second_precise():
    assert_precise("on+leap", "precise-tsc=on, leap second in the pause",
                   10000)


def assert_stood_still(mode, label, most_ns):
    """Each vCPU of MODE behind by at most 1.5 x the downtime and by at
    least MOST_NS(downtime): stock QEMU's TSC stands still for the pause
    (or for part of it, when KVM's write matching takes the write for a
    synchronisation).  Returns the result."""
    r = vcpus(mode)
    down = int(r[0]["downtime_ns"])
    assert down >= DOWNTIME_S * 1e9, down
    for i in (0, 1):
        err = int(r[i]["error_ns"])
        print("# %s, vcpu%d: error %d ns for a downtime of %d ns, guest's "
              "kvmclock/TSC moved %s ns, restored %s"
              % (label, i, err, down, r[i].get("guest_kvmclock_move_ns"),
                 r[i].get("restored")))
        assert -1.5 * down < err < -most_ns(down), (err, down)
    return r


def test_off_stands_still():
    assert_stood_still("off", "precise-tsc=off", lambda down: 0.5 * down)


def test_file_stock():
    # behind by far more than any precise restore, never ahead
    r = assert_stood_still("on+file", "precise-tsc=on through a file",
                           lambda down: 1000000)
    assert r[0].get("restored") == "none", r[0]


def test_file_catch_up():
    r = assert_precise("catchup+file", "precise-tsc=on,precise-tsc-catch-up"
                       "=on through a file", 10000)
    assert r[0].get("restored") == "true", r[0]


def test_kvmclock_relationship_kept():
    r = assert_precise("on+nostep", "precise-tsc=on, equal vCPU offsets",
                       10000)
    move = r[0].get("guest_kvmclock_move_ns")
    print("# destination mode %s" % r[0]["qmode"])
    assert r[0]["qmode"] == "kvm-clock-realtime", r[0]
    assert move not in (None, "none"), "the guest gave no kvmclock sample"
    assert abs(int(move)) <= 100, "kvmclock/TSC moved %s ns" % move


if __name__ == "__main__":
    tap.main([("precise-tsc-e2e/on-error-under-1ms-skew-0", test_on_precise),
              ("precise-tsc-e2e/off-error-is-minus-downtime",
               test_off_stands_still),
              ("precise-tsc-e2e/200ppm-on-error-under-0.01ms-skew-0",
               test_200ppm_precise),
              ("precise-tsc-e2e/leap-second-on-error-under-0.01ms-skew-0",
               test_leap_second_precise),
              ("precise-tsc-e2e/file-on-stock-error-is-minus-downtime",
               test_file_stock),
              ("precise-tsc-e2e/file-catch-up-error-under-0.01ms-skew-0",
               test_file_catch_up),
              ("precise-tsc-e2e/equal-offsets-kvmclock-tsc-moved-under-100ns",
               test_kvmclock_relationship_kept)])
