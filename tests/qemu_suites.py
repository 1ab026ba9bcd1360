#
# QEMU's own test suites, run on our build of the patched tree.
#
# The tests and how to run each (command, environment, working directory,
# timeout) come from QEMU's meson build itself (`meson introspect --tests`),
# so they run as `meson test` would run them from build/; tests/run-tests.py
# counts their TAP lines into the one summary line.  What we run differently
# from upstream is listed here, each with its reason, and printed when the
# suite starts (README.md, "QEMU's own tests").
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import functools
import json
import os
import random
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Our suite name -> QEMU's meson suites
SUITES = {
    "qemu-unit": ("qemu:unit",),
    "qemu-qtest": ("qemu:qtest-aarch64", "qemu:qtest-x86_64"),
}

# Arguments dropped from a test's command line, with the reason.
DROPPED_ARGS = {
    # QEMU's meson.build adds --full where the build has KVM; make check
    # runs migration-test's default set on both targets (the full set of
    # x86_64 alone runs for longer than CI's whole budget on two cores).
    "qtest-x86_64/migration-test": (["--full"], "default set, not --full"),
}

# Tests not run, with the reason.
NOT_RUN = {
    # meson.build builds it wherever CONFIG_TPM_TIS_I2C is set, but it
    # drives the device on an Aspeed board's I2C bus (-machine rainier-bmc);
    # our aarch64 build has the virt board only (configs/devices/).
    "qtest-aarch64/tpm-tis-i2c-test":
        "needs the Aspeed rainier-bmc board, which this build leaves out",
}


# QEMU's qtests that exercise what patches/ change: physmem (0007),
# memory-device (0009), aml-build and the virt/pc ACPI tables (0006,
# 0010, 0011, 0013), the virt board (0003, 0008), vl.c and
# qdev-properties (0012), x86 KVM (0005), the QAPI schema and the HMP
# tables (0004), and the NUMA, DIMM and ACPI hotplug paths around them.
# The pristine check (tests/acceptance/test_patches_pristine.py) runs
# these, with check-unit, on a tree without the overlay.
HOOK_QTESTS = (
    "arm-cpu-features", "bios-tables-test", "boot-serial-test",
    "cpu-plug-test", "cxl-test", "device-introspect-test",
    "device-plug-test", "erst-test", "migration-test", "numa-test",
    "qmp-cmd-test", "qom-test", "test-hmp", "vmgenid-test",
)


def _meson(build):
    venv = os.path.join(build, "pyvenv", "bin", "meson")
    return venv if os.access(venv, os.X_OK) else "meson"


@functools.lru_cache(maxsize=None)
def introspect(build):
    """Every test QEMU's meson build declares."""
    build = os.path.abspath(build)
    out = subprocess.run([_meson(build), "introspect", "--tests"], cwd=build,
                         check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout
    return json.loads(out)


def _selected(build, suite, only=None):
    tests = []
    for w in SUITES[suite]:
        tests += [t for t in introspect(build) if w in t["suite"]]
    if only is not None:
        tests = [t for t in tests if t["name"].split("/")[-1] in only]
    return tests


def executables(build):
    """Paths (relative to @build) of every program the suites run, for
    ninja to build."""
    build = os.path.abspath(build)
    exes = set()
    tests_dir = os.path.join(build, "tests") + os.sep
    for suite in SUITES:
        for t in _selected(build, suite):
            # Not the Python scripts some unit tests are (xml-preprocess)
            if t["cmd"][0].startswith(tests_dir):
                exes.add(os.path.relpath(t["cmd"][0], build))
    return sorted(exes)


def kvm_runs_ordinary_guests():
    """Whether /dev/kvm, if any, is hardware-assisted KVM.  PVM (kvm_pvm)
    provides /dev/kvm on CPUs without VMX or SVM and runs only PVM guest
    kernels; QEMU's tests would take it for KVM and fail."""
    if not os.path.exists("/dev/kvm"):
        return True
    with open("/proc/cpuinfo") as f:
        flags = set()
        for line in f:
            if line.startswith("flags"):
                flags.update(line.split(":", 1)[1].split())
    return bool(flags & {"vmx", "svm"})


def qemu_img(build):
    """The qemu-img QEMU's tests create their disk images with.  Upstream
    builds it (meson sets QTEST_QEMU_IMG=./qemu-img); our build has no
    tools, so Debian's (qemu-utils, which make check installs) stands in.
    Without one, the tests that need it skip and say so."""
    own = os.path.join(build, "qemu-img")
    return own if os.access(own, os.X_OK) else shutil.which("qemu-img")


def programs(build, suite, only=None):
    """(name, argv, env, cwd, timeout, why_not) of each test of @suite
    (of those named in @only, e.g. HOOK_QTESTS, if given); tests in
    NOT_RUN come with argv None and the reason in why_not.  What
    DROPPED_ARGS takes away is said once, by describe()."""
    build = os.path.abspath(build)
    hide_kvm = not kvm_runs_ordinary_guests()
    img = qemu_img(build)
    progs = []
    # The slow ones first, as meson test starts them (QEMU's meson.build
    # gives each the priority of its slow_qtests/slow_tests entry), so
    # that several at a time do not end with one long program alone
    tests = sorted(_selected(build, suite, only), key=lambda t: -t["priority"])
    for t in tests:
        name = t["name"]
        if name in NOT_RUN:
            progs.append((name, None, None, None, 0, NOT_RUN[name]))
            continue
        argv = list(t["cmd"])
        if name in DROPPED_ARGS:
            argv = [a for a in argv if a not in DROPPED_ARGS[name][0]]
        if hide_kvm:
            argv = ["unshare", "--mount", "--propagation", "private",
                    os.path.join(ROOT, "scripts", "without-dev-kvm.sh")] + argv
        env = dict(os.environ)
        env.update(t["env"])
        if "QTEST_QEMU_IMG" not in env and img:
            env["QTEST_QEMU_IMG"] = img
        # As meson test does, unless the caller chose a value
        env.setdefault("MALLOC_PERTURB_", str(random.randint(1, 255)))
        progs.append((name, argv, env, t["workdir"] or build,
                      t["timeout"], None))
    return progs


def describe(build):
    """Lines saying what differs from upstream's run."""
    lines = []
    for name, (dropped, why) in sorted(DROPPED_ARGS.items()):
        lines.append("%s: without %s (%s)" % (name, " ".join(dropped), why))
    for name, why in sorted(NOT_RUN.items()):
        lines.append("%s: not run (%s)" % (name, why))
    img = qemu_img(os.path.abspath(build))
    lines.append("QTEST_QEMU_IMG=%s" % img if img else
                 "no qemu-img: the qtests that create disk images skip")
    if not kvm_runs_ordinary_guests():
        lines.append("/dev/kvm here is not hardware KVM (no vmx/svm in "
                     "/proc/cpuinfo): QEMU's tests run with it hidden, "
                     "as on upstream's CI (scripts/without-dev-kvm.sh)")
    return lines
