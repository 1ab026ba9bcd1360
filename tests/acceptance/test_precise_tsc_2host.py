#!/usr/bin/env python3
#
# Acceptance, end to end: precise-tsc between two hosts whose TSCs differ.
# Two emulated AMD-V hosts (L1 VMs started seconds apart, each calibrating
# its own TSC) and a network between them that the test creates (a QEMU
# stream netdev over a unix socket); the L2 guest migrates over TCP from
# host A to host B.  Method and ground truth: vhm/bench_precise_tsc_2host.py,
# the code of scripts/bench-precise-tsc-2host.py (KVM's debugfs offsets on
# each host, the hosts' TSC difference from this machine's TSC, their clock
# offset from a pair on each side).
# One round of two cases, with the targets as assertions:
#   the premise: the hosts' TSCs differ by more than a second, and the
#   ground truth (their difference, measured before and after) held to
#   within 1 us
#   precise-tsc=on, guest 200 ppm above host A's TSC frequency (inside
#   KVM's tolerance, so KVM does not scale; a ratio of guest kHz / host kHz
#   is then wrong by 200 ppm of the hosts' TSC difference, milliseconds):
#   |error - clock offset| <= 0.01 ms for each vCPU, skew 0, and |error|
#   <= 1 ms (the hosts' clocks were set together before the migration)
#   precise-tsc=off: error ~ -downtime (stock QEMU: the TSC stands still)
# Two L1 boots and two migrations: about 70 s on 2 cores (more when a
# round's ground truth did not hold and it is measured again).
#
# Across the upgrade: host A runs the QEMU 10.0 build, host B the QEMU
# 10.2 build (bases/10.2/build, `make other-base`), the L2 guest on
# -M pc-i440fx-10.0 (the newest machine type both have), precise-tsc=on
# at +200 ppm: one L2 guest from A to B, where it runs on, and the same
# guest from B back to A (the 10.2 build's stream into the 10.0 build):
# each hop against the same targets as within one build.  Two more L1
# boots and two migrations; skipped without the 10.2 build
# (VHM_UPGRADE_SAME_BUILD=1: the main build on both hosts).
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import bench_precise_tsc_2host as bench2  # noqa: E402
from vhm import bases, tap, upgrade  # noqa: E402

DOWNTIME_S = 2.0
# The L2 guest's machine type across the upgrade: "pc" is each build's own
# newest, which the other does not have.
UPGRADE_MACHINE = "pc-i440fx-10.0"
STAGGER_S = 2.0
CASES = ("on@200", "off")

_measured = {}
# The ground truth (the hosts' TSC difference, read from this machine's
# TSC before and after) holds only while both emulated hosts' TSCs run
# undisturbed.  On a Firecracker VM with kvm-clock they moved against
# each other by 1,500 to 230,000 cycles in most runs until each emulated
# host was pinned to one CPU (see TwoHosts.start() in the bench script).
# Should it move all the same, a round whose ground truth moved proves
# nothing either way about precise-tsc, so it is measured again, ATTEMPTS
# times at most; if none held, the cases that need the ground truth are
# skipped with the figure, never passed.  Nothing the L2 guest's QEMU does
# can move the L1 hosts' TSCs: the premise checks the test bed only.
ATTEMPTS = 2


def ground_truth_held(facts):
    return abs(facts["tsc_diff_drift"]) <= facts["khz"]["A"] // 1000


def measure(what="one-build"):
    """Two L1 boots, one round of each case, once for every test (a
    failure too: it is reported by each test, not measured again).
    @what "upgrade": host A on the 10.0 build, host B on the 10.2 build,
    precise-tsc=on@200, one guest there and back."""
    if what not in _measured:
        kw = {}
        cases = CASES
        if what == "upgrade":
            old, new = upgrade.old_and_new()
            kw = {"qemu": {"A": bases.emulator(old, "x86_64"),
                           "B": bases.emulator(new, "x86_64")},
                  "l2_machine": UPGRADE_MACHINE, "back": True}
            cases = ("on@200",)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                m = bench2.measure(
                    1, cases, STAGGER_S, DOWNTIME_S, False,
                    report=lambda s: print("# " + s, flush=True), **kw)
            except (bench2.HostError, SystemExit, OSError,
                    subprocess.SubprocessError) as e:
                # each says what; bench's die() (SystemExit) already said
                # why
                m = "the measurement could not be done: %r" % e
                break
            if ground_truth_held(m[1]) or attempt == ATTEMPTS:
                break
            print("# attempt %d discarded: the hosts' TSC difference moved "
                  "by %d cycles while it was measured; measuring again"
                  % (attempt, m[1]["tsc_diff_drift"]), flush=True)
        _measured[what] = m
    if isinstance(_measured[what], str):
        raise AssertionError(_measured[what])
    return _measured[what]


def skip_without_ground_truth(facts):
    if not ground_truth_held(facts):
        raise tap.Skip("this machine moved the emulated hosts' TSCs against "
                       "each other by %d cycles (more than 1 us) in each of "
                       "%d attempts: no ground truth here"
                       % (facts["tsc_diff_drift"], ATTEMPTS))


def result(case, what="one-build"):
    results, _ = measure(what)
    assert (1, case) in results, "no precise-tsc=%s result" % case
    return results[(1, case)]


def test_premise():
    _, facts = measure()
    khz = facts["khz"]["A"]
    print("# hosts' TSC difference %d cycles (%.3f s), moved by %d cycles "
          "during the measurement; host A %d kHz, host B %d kHz"
          % (facts["tsc_diff"], facts["tsc_diff"] / khz / 1e3,
             facts["tsc_diff_drift"], khz, facts["khz"]["B"]))
    assert abs(facts["tsc_diff"]) > khz * 1000, facts
    skip_without_ground_truth(facts)


def check_200ppm_on(r, label=""):
    for i in (0, 1):
        err = r["error_ns"][i]
        print("# %sprecise-tsc=on, guest +200 ppm, vcpu%d: error %.0f ns, "
              "clock offset %.0f ns (%.0f ns at the stop), skew %d cycles, "
              "kvmclock/TSC moved %s ns"
              % (label, i, err, r["clock_offset_ns"],
                 r["clock_offset_at_stop_ns"], r["skew"],
                 r["kvmclock_move_ns"]))
        assert abs(err - r["clock_offset_ns"]) <= 10000, \
            "vcpu%d error %.0f ns is %.0f ns off the clock offset" % (
                i, err, err - r["clock_offset_ns"])
        assert abs(err) <= 1000000, "vcpu%d error %.0f ns > 1 ms" % (i, err)
    assert r["skew"] == 0, r["skew"]
    assert r["restored"] == "true", r["restored"]


def test_200ppm_on_precise():
    r = result("on@200")
    skip_without_ground_truth(measure()[1])
    check_200ppm_on(r)


def test_upgrade():
    """Host A's QEMU 10.0 build to host B's 10.2 build, and the same
    guest back."""
    _, facts = measure("upgrade")
    print("# upgrade: hosts' TSC difference %d cycles, moved by %d; host A "
          "%d kHz, host B %d kHz" % (facts["tsc_diff"],
                                     facts["tsc_diff_drift"],
                                     facts["khz"]["A"], facts["khz"]["B"]),
          flush=True)
    assert abs(facts["tsc_diff"]) > facts["khz"]["A"] * 1000, facts
    skip_without_ground_truth(facts)
    versions = [upgrade.build_version(b) for b in upgrade.old_and_new()]
    check_200ppm_on(result("on@200", "upgrade"), "%s -> %s: " % (
        versions[0], versions[1]))
    check_200ppm_on(result("on@200<-", "upgrade"), "%s -> %s: " % (
        versions[1], versions[0]))


def test_off_stands_still():
    r = result("off")
    down = r["downtime_ns"]
    assert down >= DOWNTIME_S * 1e9, down
    for i in (0, 1):
        err = r["error_ns"][i]
        print("# precise-tsc=off vcpu%d: error %.0f ns for a downtime of %d "
              "ns, skew %d cycles" % (i, err, down, r["skew"]))
        assert -1.5 * down < err < -0.5 * down, (err, down)


if __name__ == "__main__":
    tap.main([("precise-tsc-2host/tsc-differ-ground-truth-holds",
               test_premise),
              ("precise-tsc-2host/200ppm-on-error-is-clock-offset-skew-0",
               test_200ppm_on_precise),
              ("precise-tsc-2host/off-error-is-minus-downtime",
               test_off_stands_still),
              ("precise-tsc-2host/upgrade-10.0-10.2-and-back-200ppm-on",
               test_upgrade)])
