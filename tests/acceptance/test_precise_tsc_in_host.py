#!/usr/bin/env python3
#
# Acceptance: our KVM tests of precise-tsc, run inside the emulated AMD-V
# host (L1) whose /dev/kvm applies TSC offsets, so that they run, and can
# fail, on every machine.  Run directly, the precise-tsc qtest and
# test_precise_tsc_migration.py only see what the host's /dev/kvm allows:
# nothing without one, the "offsets ignored" path on PVM (as on the
# project's machines).  They keep running directly too (make check); here
# they run a second time, in L1.
#
# L1 is the host of test_precise_tsc_e2e.py and scripts/bench-precise-tsc.py
# (our qemu-system-x86_64 under TCG, -cpu EPYC,+svm,+npt, Debian's cloud
# kernel with kvm-amd), booted once with an initramfs that also holds the
# qtest binary (build/overlay/tests/qtest/precise-tsc-test), Debian's
# Python with the standard library files the migration test loads (about
# 10 MB; the test runs unchanged, with the vhm package), and
# tests/e2e/precise-tsc/in-host.sh, which runs them: the qtest one process
# per GLib test path, so that a failed assertion (an abort) loses no other
# path's result.  Each of their TAP results is one result here:
#   in-host/qtest/PATH          a GLib test of the qtest binary
#   in-host/migration/NAME      a case of test_precise_tsc_migration.py
# A result passes only if it passed in L1, and then not when it said that
# the host ignores TSC offsets (or has no /dev/kvm): in L1 that is a
# failure, L1's KVM applies them.  A skip in L1 is a skip here, with L1's
# reason; a result missing from L1's output is a failure, with what the
# program printed.  One more, in-host/l1-kvm-applies-tsc-offsets: the
# qtest's own probe of L1's KVM said it applies them.  Without Debian's
# /usr/bin/python3 the migration cases are skipped.
#
# These tests check what QEMU reports (query-precise-tsc, error lines,
# streams), not the offsets KVM applied: test_precise_tsc_e2e.py measures
# those in the same L1.
#
# Bounded: L1 has LIMIT_S in all (each program in it has its own limit,
# in-host.sh), and is killed at the end.  About 30-60 s on 2 cores.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import ast
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import bench_precise_tsc as bench, guest, tap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(guest.ROOT, "tests", "e2e", "precise-tsc")
QTEST = os.path.join(guest.BUILD, "overlay", "tests", "qtest",
                     "precise-tsc-test")
MIGRATION_TEST = os.path.join(HERE, "test_precise_tsc_migration.py")
# Debian's interpreter: its standard library is at system paths that the
# initramfs can reproduce (a pyenv or venv one is not)
PYTHON = "/usr/bin/python3"
LIMIT_S = 400
# What L1 says when its KVM does not do what this test is for
NO_OFFSETS = re.compile(r"ignores TSC offsets|TSC offsets ignored|"
                        r"does not apply them|"
                        r"no usable /dev/kvm|no KVM_VCPU_TSC_OFFSET")



def qtest_paths():
    """The GLib test paths of the qtest binary, as it lists them."""
    env = dict(os.environ, QTEST_QEMU_BINARY=guest.QEMU_X86_64)
    out = subprocess.run([QTEST, "-l"], capture_output=True, text=True,
                         timeout=60, env=env)
    paths = [line for line in out.stdout.split() if line.startswith("/")]
    assert paths, "%s -l listed no tests: %s" % (QTEST, out.stdout)
    return paths


def migration_cases():
    """The case names of test_precise_tsc_migration.py, from its tap.main()
    call (its module is not run here)."""
    with open(MIGRATION_TEST) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and
                isinstance(node.func, ast.Attribute) and
                node.func.attr == "main" and node.args and
                isinstance(node.args[0], ast.List)):
            return [ast.literal_eval(e.elts[0]) for e in node.args[0].elts]
    raise AssertionError("no tap.main() list in " + MIGRATION_TEST)


# Run in the interpreter that goes into L1: imports the test (not its
# main), plus what a failure's traceback loads, and prints every file of
# the standard library then loaded, with its cached bytecode.
COLLECT = r"""
import importlib.util, os, sys
sys.path.insert(0, os.path.dirname(sys.argv[1]))
spec = importlib.util.spec_from_file_location("t", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
import traceback, linecache, tokenize  # noqa: F401 (a failure's report)
try:
    raise AssertionError
except AssertionError:
    traceback.format_exc()
lib = os.path.dirname(os.__file__)
for m in list(sys.modules.values()):
    for f in (getattr(m, "__file__", None), getattr(m, "__cached__", None)):
        if f and f.startswith(lib + "/") and os.path.exists(f):
            print(f)
"""


def python_files(work):
    """A file listing what the migration test needs of PYTHON's library;
    its size in bytes."""
    out = subprocess.run([PYTHON, "-c", COLLECT, MIGRATION_TEST],
                         capture_output=True, text=True, timeout=60,
                         check=True).stdout.split()
    files = sorted(set(out))
    path = os.path.join(work, "python-files")
    with open(path, "w") as f:
        f.write("\n".join(files) + "\n")
    size = os.path.getsize(os.path.realpath(PYTHON)) + sum(
        os.path.getsize(p) for p in files)
    return path, len(files), size


def build_initrd(work, assets):
    initrd = os.path.join(work, "initrd.cpio")
    cmd = [sys.executable, os.path.join(E2E, "build_initramfs.py"),
           "--out", initrd, "--busybox", assets["busybox"],
           "--modules", assets["modules"], "--qemu", guest.QEMU_X86_64,
           "--role", "in-host", "--qtest", QTEST]
    if os.path.exists(PYTHON):
        files, n, size = python_files(work)
        print("# Python in L1: %s and %d standard library files, %.1f MB"
              % (os.path.realpath(PYTHON), n, size / 1e6))
        cmd += ["--python", os.path.realpath(PYTHON), "--python-files", files,
                "--acceptance", MIGRATION_TEST]
    subprocess.run(cmd, check=True, timeout=120)
    return initrd


def run_l1(kernel, initrd, logpath):
    """Boot L1, return its console lines; LIMIT_S in all, killed at the
    end whatever happened."""
    lines = []
    start = time.monotonic()
    deadline = start + LIMIT_S
    p = subprocess.Popen(bench.l1_command(kernel, initrd),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    buf = b""
    try:
        with open(logpath, "w") as log:
            while time.monotonic() < deadline:
                r, _, _ = select.select([p.stdout], [], [],
                                        max(0, deadline - time.monotonic()))
                if not r:
                    break
                data = os.read(p.stdout.fileno(), 65536)
                if not data:
                    break
                buf += data
                *done, buf = buf.split(b"\n")
                for raw in done:
                    line = raw.decode(errors="replace").rstrip("\r")
                    log.write(line + "\n")
                    lines.append(line)
                    if line.startswith(("VHM-INFO", "VHM-FAIL", "VHM-EXIT")):
                        print("# L1 %6.1f s| %s" % (time.monotonic() - start,
                                                   line), flush=True)
                if lines and lines[-1].startswith("VHM-END"):
                    break
            else:
                lines.append("VHM-FAIL L1 killed after %d s" % LIMIT_S)
    finally:
        try:
            p.wait(timeout=20)      # init powers L1 off after VHM-END
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    print("# L1 ran for %.1f s" % (time.monotonic() - start), flush=True)
    return lines


INNER = re.compile(r"^VHM-TAP (\S+) (.*)$")
# GLib's and vhm.tap's result lines (the latter add the time a case took)
RESULT = re.compile(r"^(not ok|ok)\s+\d+\s+(\S+)(?:\s+\([0-9.]+ s\))?"
                    r"(?:\s+#\s*SKIP\b\s*(.*))?$")


def parse(lines):
    """{program: {"results": {name: (ok, skip reason, its lines: what the
    program printed since its previous result, and the result)},
    "lines": all it printed, "exit": its status}}"""
    programs = {}
    for line in lines:
        if line.startswith("VHM-EXIT "):
            _, name, status = line.split(None, 2)
            programs.setdefault(name, {"results": {}, "lines": []})[
                "exit"] = status
            continue
        m = INNER.match(line)
        if not m:
            continue
        prog = programs.setdefault(m.group(1), {"results": {}, "lines": []})
        text = m.group(2)
        prog["lines"].append(text)
        r = RESULT.match(text)
        if r:
            prog["results"][r.group(2)] = (r.group(1) == "ok", r.group(3),
                                           prog.pop("since", []) + [text])
        else:
            prog.setdefault("since", []).append(text)
    return programs


_l1 = {}


def l1():
    """The one L1 run, shared by every result (a run that could not be
    done fails each of them, and is not tried again)."""
    if not _l1:
        _l1["error"] = "the L1 run stopped short"
        try:
            _run_l1()
            del _l1["error"]
        except SystemExit as e:
            # bench's die() already said why
            _l1["error"] = "the L1 run could not be done (exit %s)" % e.code
        except (OSError, subprocess.SubprocessError) as e:
            _l1["error"] = "the L1 run could not be done: %s" % e
    if "error" in _l1:
        raise AssertionError(_l1["error"])
    return _l1


def _run_l1():
    bench.ensure_tools()
    assets = bench.fetch_assets()
    work = tempfile.mkdtemp(prefix="vhm-in-host-")
    try:
        t0 = time.monotonic()
        initrd = build_initrd(work, assets)
        print("# initramfs %.0f MB built in %.1f s"
              % (os.path.getsize(initrd) / 1e6, time.monotonic() - t0))
        lines = run_l1(assets["kernel"], initrd,
                       os.path.join(work, "l1.log"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _l1["lines"] = lines
    _l1["programs"] = parse(lines)
    if not any(line.startswith("VHM-DONE") for line in lines):
        print("\n".join("# L1| " + line for line in lines[-40:]))


def program(name):
    prog = l1()["programs"].get(name)
    fails = [line for line in l1()["lines"]
             if line.startswith("VHM-FAIL")]
    assert prog, "L1 ran no %s (%s)" % (name, "; ".join(fails) or
                                         "no failure reported")
    return prog


def check_result(prog_name, inner_name, extra_lines=()):
    prog = program(prog_name)
    res = prog["results"].get(inner_name)
    if not res:
        for line in prog.get("since", []):
            print("# L1| " + line)
        raise AssertionError("no result for %s from L1 (%s exited %s)" % (
            inner_name, prog_name, prog.get("exit", "never")))
    ok, skip, lines = res
    for line in lines:
        print("# L1| " + line)
    if skip is not None:
        if NO_OFFSETS.search(skip):
            raise AssertionError("skipped in L1, whose KVM applies TSC "
                                 "offsets: " + skip)
        raise tap.Skip("in L1: " + skip)
    # L1's own reason, for make check's list of failures
    assert ok, "failed in L1: " + tap.failure_reason(lines)
    said = [line for line in list(lines) + list(extra_lines)
            if NO_OFFSETS.search(line)]
    assert not said, "passed in L1 by the path of a host that ignores " \
        "TSC offsets: %s" % said


def qtest_host_lines():
    """What each qtest process in L1 said of L1's KVM."""
    return [line for name, prog in l1()["programs"].items()
            if name.startswith("qtest/") for line in prog["lines"]
            if line.startswith("# host: ")]


def test_l1_kvm_applies_offsets():
    hosts = qtest_host_lines()
    print("# L1| qtest: %s" % (", ".join(sorted(set(hosts))) or
                               "(no host line)"))
    assert hosts and set(hosts) == {"# host: TSC offsets applied"}, hosts


def qtest_case(path):
    # One process a path; its host line comes before the plan.
    return lambda: check_result("qtest" + path, path,
                                program("qtest" + path)["lines"])


def migration_case(name):
    def fn():
        if not os.path.exists(PYTHON):
            raise tap.Skip("no %s on this machine to put in L1" % PYTHON)
        check_result("test_precise_tsc_migration", name)
    return fn


def cases():
    """(name, function) of each result; the qtest's paths as the binary
    lists them, the migration test's cases as its tap.main() names them."""
    tests = [("in-host/l1-kvm-applies-tsc-offsets",
              test_l1_kvm_applies_offsets)]
    try:
        tests += [("in-host/qtest" + p, qtest_case(p)) for p in qtest_paths()]
    except (OSError, subprocess.SubprocessError, AssertionError) as e:
        def unlisted(why=str(e)):
            raise AssertionError("the qtest's paths: %s (make build?)" % why)
        tests.append(("in-host/qtest", unlisted))
    tests += [("in-host/migration/" + n, migration_case(n))
              for n in migration_cases()]
    return tests


if __name__ == "__main__":
    t_start = time.monotonic()
    tests = cases()
    only = sys.argv[1:]
    if only:
        tests = [t for t in tests if any(o in t[0] for o in only)]
    status = tap.run(tests)
    print("# took %.1f s" % (time.monotonic() - t_start))
    sys.exit(status)
