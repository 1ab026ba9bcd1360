"""End-to-end measurement of -accel kvm,precise-tsc=on on a KVM that
really applies TSC offsets.

This machine's /dev/kvm (PVM) ignores TSC offsets, so the measurement runs
inside an emulated AMD-V host (L1): our qemu-system-x86_64 under TCG with
-cpu EPYC,+svm,+npt, booting Debian's cloud kernel and an initramfs
that loads kvm-amd.  Inside L1, tests/e2e/precise-tsc/measure.sh starts
two of our QEMUs per measurement (2 vCPUs, a real-mode L2 guest), stops
the source, waits a deliberate downtime (>= 2 s: KVM's TSC write matching
makes short pauses look precise by accident), migrates over a unix socket
and continues the destination.  Ground truth is KVM's debugfs in L1: each
vCPU's applied TSC offset on both sides.  Both QEMUs run on one host, so a
perfect restore leaves every offset unchanged:

    error of vCPU i = (dst offset_i - src offset_i) / guest kHz
    skew            = (dst off_1 - dst off_0) - (src off_1 - src off_0)

With precise-tsc=off (stock QEMU) the guest TSC stands still during the
pause: error ~ -downtime.  The L2 guest also samples its kvmclock (pvclock
structure) and TSC in a loop; from the source's last sample and the
destination's, the bench prints how far the guest's kvmclock-to-TSC
relationship moved.

Each mode runs in two cases: the L2 guest at the host's TSC frequency, and
(on@200, off@200) with -cpu qemu64,tsc-frequency= 200 ppm above it, inside
KVM's default tsc_tolerance_ppm of 250, where KVM does not scale and the
guest TSC runs at the host's rate; and (on+leap, off+leap) with a leap
second inserted in L1 during the pause (tests/e2e/precise-tsc/leap.c:
CLOCK_REALTIME one second back, the kernel's TAI offset one up).  Two more
migrate through a file (migrate file:, migrate-incoming file:): on+file,
where precise-tsc leaves its section out and the guest TSC stands still as
with stock QEMU, and catchup+file, where precise-tsc-catch-up=on asks for
the realtime catch-up.  The +nostep cases run an L2 guest that leaves its
TSC alone: equal vCPU offsets, under which KVM keeps its master clock.

usage: scripts/bench-precise-tsc.py [ROUNDS] [--cases "on off ..."]
           [--downtime S] [--keep] [-v]

Exits non-zero only when the measurement could not be done.  Python 3
standard library only; as root it installs missing tools.
"""
import argparse
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from .guest import ASSETS as GUEST_ASSETS, QEMU_X86_64, ROOT

E2E = os.path.join(ROOT, "tests", "e2e", "precise-tsc")
# the build under test's (VIRT_HOTMEM_TEST_BUILD, vhm/guest.py): both L1's
# emulator and the QEMU L1 runs its guest with
QEMU = QEMU_X86_64
ASSETS = os.path.join(GUEST_ASSETS, "amd64")
QBOOT = "/usr/share/qemu/qboot.rom"
FIRMWARE_DIRS = ("/usr/share/qemu", "/usr/share/seabios")
L1_CPU = "EPYC,+svm,+npt,+invtsc"
L1_APPEND = "console=ttyS0 tsc=reliable no_timer_check quiet panic=-1"


def log(msg):
    print("bench-precise-tsc: " + msg, flush=True)


def die(msg):
    log(msg)
    sys.exit(2)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


# --- what the measurement needs on this machine ---------------------------

def have_static_libc():
    r = subprocess.run(["gcc", "-print-file-name=libc.a"],
                       capture_output=True, text=True)
    return r.returncode == 0 and os.path.isabs(r.stdout.strip())


def ensure_tools():
    missing = []
    for tool, pkg in (("as", "binutils"), ("ld", "binutils"),
                      ("gcc", "gcc"), ("dpkg-deb", "dpkg"),
                      ("apt-get", "apt")):
        if not shutil.which(tool):
            missing.append(pkg)
    if shutil.which("gcc") and not have_static_libc():
        missing.append("libc6-dev")
    if missing:
        missing = sorted(set(missing))
        if os.geteuid() != 0:
            die("missing %s; as root: apt-get install %s"
                % (", ".join(missing), " ".join(missing)))
        log("installing " + " ".join(missing))
        run(["apt-get", "install", "-y", "-q"] + missing,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
            stdout=subprocess.DEVNULL)
    if not os.path.exists(QBOOT):
        if os.geteuid() != 0:
            die("%s missing (Debian's qemu-system-data); as root run "
                "scripts/install-deps.sh guest" % QBOOT)
        log("installing firmware with scripts/install-deps.sh guest")
        run([os.path.join(ROOT, "scripts", "install-deps.sh"), "guest"])
        if not os.path.exists(QBOOT):
            die("%s still missing after install-deps.sh" % QBOOT)
    if not os.access(QEMU, os.X_OK):
        die("%s not built (run make)" % QEMU)


def newest_kernel_package():
    """The cloud kernel the distribution's metapackage points to."""
    out = run(["apt-cache", "depends", "linux-image-cloud-amd64"],
              capture_output=True, text=True).stdout
    names = re.findall(r"Depends: (linux-image-[0-9]\S*-cloud-amd64)\b", out)
    if not names:
        die("apt cannot resolve linux-image-cloud-amd64 (apt-get update?)")
    return names[0]


def fetch_package(name, dest):
    """apt-get download NAME and extract it into DEST (once)."""
    stamp = os.path.join(dest, ".complete")
    if os.path.exists(stamp):
        return dest
    os.makedirs(ASSETS, exist_ok=True)
    for old in glob.glob(os.path.join(ASSETS, name + "_*.deb")):
        os.unlink(old)
    log("downloading " + name)
    run(["apt-get", "download", "-q", name], cwd=ASSETS,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    debs = glob.glob(os.path.join(ASSETS, name + "_*.deb"))
    if not debs:
        die("apt-get download %s produced no .deb" % name)
    shutil.rmtree(dest, ignore_errors=True)
    run(["dpkg-deb", "-x", debs[0], dest])
    open(stamp, "w").close()
    return dest


def fetch_assets():
    kpkg = None
    for d in sorted(glob.glob(os.path.join(ASSETS, "linux-image-*"))):
        if os.path.exists(os.path.join(d, ".complete")):
            kpkg = os.path.basename(d)
    if kpkg is None:
        kpkg = newest_kernel_package()
    kdir = fetch_package(kpkg, os.path.join(ASSETS, kpkg))
    bdir = fetch_package("busybox-static",
                         os.path.join(ASSETS, "busybox-static"))
    vmlinuz = glob.glob(os.path.join(kdir, "boot", "vmlinuz-*"))
    if not vmlinuz:
        die("no vmlinuz in " + kdir)
    return {"kernel": vmlinuz[0], "modules": os.path.join(kdir, "lib"),
            "busybox": os.path.join(bdir, "bin", "busybox"),
            "kernel_package": kpkg}


CASES = ("on", "off", "on@200", "off@200", "on+leap", "off+leap", "on+file",
         "catchup+file", "on+nostep", "off+nostep")


def precise_case(case):
    """Whether CASE restores precisely: precise-tsc=on over a socket, or
    through a file with precise-tsc-catch-up=on (a file stream without it
    is restored as stock QEMU restores it)."""
    return case.startswith("catchup") or (case.startswith("on") and
                                          not case.endswith("+file"))


def build_parts(work, assets, rounds, downtime, cases=CASES, role="measure",
                qemu=QEMU, l2_machine="pc", name="initrd"):
    """The L1 initramfs @name.cpio in @work, with @qemu as the QEMU that
    runs the L2 guests, on -M @l2_machine."""
    l2o = os.path.join(work, "l2guest.o")
    l2 = os.path.join(work, "l2guest.bin")
    l2_nostep = os.path.join(work, "l2guest-nostep.bin")
    for image, defs in ((l2, []), (l2_nostep, ["--defsym", "TSC_STEP=0"])):
        run(["as", "--32"] + defs + ["-o", l2o,
                                     os.path.join(E2E, "l2guest.S")])
        run(["ld", "-m", "elf_i386", "-Ttext=0", "--oformat", "binary",
             "-o", image, l2o])
    qmp = os.path.join(work, "qmp")
    run(["gcc", "-O2", "-static", "-o", qmp, os.path.join(E2E, "qmp.c")])
    leap = os.path.join(work, "leap")
    run(["gcc", "-O2", "-static", "-o", leap, os.path.join(E2E, "leap.c")])
    hostclock = os.path.join(work, "hostclock")
    run(["gcc", "-O2", "-static", "-o", hostclock,
         os.path.join(E2E, "hostclock.c")])
    initrd = os.path.join(work, name + ".cpio")
    run([sys.executable, os.path.join(E2E, "build_initramfs.py"),
         "--out", initrd, "--busybox", assets["busybox"],
         "--modules", assets["modules"], "--qemu", qemu, "--qmp", qmp,
         "--l2", l2, "--l2-nostep", l2_nostep, "--leap", leap, "--hostclock", hostclock,
         "--role", role, "--l2-machine", l2_machine,
         "--rounds", str(rounds), "--downtime", str(downtime),
         "--modes", " ".join(cases)])
    return initrd


# --- the L1 run -------------------------------------------------------------

def l1_command(kernel, initrd, machine="q35"):
    """The emulated AMD-V host: its console on stdio."""
    cmd = [QEMU, "-M", machine, "-accel", "tcg", "-cpu", L1_CPU, "-smp", "2",
           "-m", "2G", "-bios", QBOOT]
    for d in FIRMWARE_DIRS:
        cmd += ["-L", d]
    return cmd + ["-kernel", kernel, "-initrd", initrd, "-append", L1_APPEND,
                  "-nodefaults", "-display", "none", "-serial", "stdio",
                  "-no-reboot"]


def run_l1(kernel, initrd, logpath, timeout, verbose):
    cmd = l1_command(kernel, initrd)
    lines = []
    start = time.monotonic()
    with open(logpath, "w") as logf:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             text=True, errors="replace")
        try:
            deadline = start + timeout
            for line in p.stdout:
                line = line.rstrip("\r\n")
                logf.write(line + "\n")
                lines.append(line)
                shown = line.startswith(("VHM-INFO", "VHM-FAIL", "VHM-DONE"))
                if verbose or shown:
                    print("  L1 %6.1fs| %s" % (time.monotonic() - start, line),
                          flush=True)
                if line.startswith("VHM-END"):
                    break
                if time.monotonic() > deadline:
                    log("L1 timed out after %d s" % timeout)
                    break
        finally:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    return lines, time.monotonic() - start


def parse(lines):
    results = {}        # (round, mode) -> {vcpu: fields}
    queries = {}
    for line in lines:
        if line.startswith("VHM-RESULT "):
            f = dict(kv.split("=", 1) for kv in line.split()[1:])
            results.setdefault((int(f["round"]), f["mode"]), {})[
                int(f["vcpu"])] = f
        elif line.startswith("VHM-QUERY "):
            m = re.match(r"VHM-QUERY round=(\d+) mode=(\S+) (.*)", line)
            if m:
                queries[(int(m.group(1)), m.group(2))] = m.group(3)
    return results, queries


def ms(ns):
    return ns / 1e6


def fmt_ms(v):
    return "%+.6f ms" % v


def report(results, queries, rounds, cases=CASES):
    err = {c: [] for c in cases}          # |error| or error, per vCPU
    skews = {c: [] for c in cases}
    guest_moves = {c: [] for c in cases}  # kvmclock/TSC, read by the guest
    downtimes = []
    for r in range(1, rounds + 1):
        parts = []
        for case in cases:
            v = results.get((r, case))
            if not v or 0 not in v or 1 not in v:
                parts.append("%s: no result" % case)
                continue
            e = [ms(int(v[i]["error_ns"])) for i in (0, 1)]
            skew = int(v[0]["skew_cycles"])
            down = ms(int(v[0]["downtime_ns"]))
            downtimes.append(down)
            err[case] += e
            skews[case].append(skew)
            extra = "downtime %.1f ms" % down
            if case.startswith(("on", "catchup")):
                extra += ", restored %s" % v[0].get("restored", "none")
                extra += ", elapsed-ns %s, uncertainty-ns %s, mode %s" % (
                    v[0]["elapsed_ns"], v[0]["uncertainty_ns"],
                    v[0]["qmode"])
            gm = v[0].get("guest_kvmclock_move_ns", "none")
            extra += ", guest's kvmclock/TSC moved %s ns" % gm
            if gm != "none":
                guest_moves[case].append(int(gm))
            parts.append("precise-tsc=%s: error vcpu0 %s, vcpu1 %s, skew %d "
                         "cycles (%s)" % (case, fmt_ms(e[0]), fmt_ms(e[1]),
                                          skew, extra))
        print("round %d:\n  %s" % (r, "\n  ".join(parts)))

    def med(xs):
        return statistics.median(xs) if xs else float("nan")

    if not all(err[c] for c in cases):
        return False
    print("medians over %d round(s), downtime median %.1f ms:"
          % (rounds, med(downtimes)))
    met = True
    for case in cases:
        print("  precise-tsc=%-8s error median %+.6f ms, |error| median "
              "%.6f ms, skew median %.0f cycles%s"
              % (case, med(err[case]), med([abs(x) for x in err[case]]),
                 med(skews[case]),
                 ", guest's kvmclock/TSC moved median %.0f ns"
                 % med(guest_moves[case]) if guest_moves[case] else ""))
        if precise_case(case):
            met = met and med([abs(x) for x in err[case]]) <= 0.01 and \
                med(skews[case]) == 0
    print("targets: precise-tsc=on |error| <= 0.01 ms and skew 0 in every "
          "precise case: %s (stock, off and on+file: error ~ -downtime)"
          % ("met" if met else "NOT met"))
    return True


def argument_parser(description, cases):
    """The options this bench and bench-precise-tsc-2host.py share."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("rounds", nargs="?", type=int, default=3)
    ap.add_argument("--cases", default=" ".join(cases),
                    help="space-separated, default: " + " ".join(cases))
    ap.add_argument("--downtime", type=float, default=2.0,
                    help="seconds between stopping the source and migrating "
                    "(>= 2, default 2)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (initramfs, L1 logs)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="show the L1 consoles, kvm_tsc_* traces included")
    return ap


def main():
    args = argument_parser(__doc__.splitlines()[0], CASES).parse_args()
    if args.rounds < 1:
        die("ROUNDS must be at least 1")
    if args.downtime < 2:
        log("warning: downtimes below 2 s let KVM's write matching hide "
            "errors")

    ensure_tools()
    assets = fetch_assets()
    work = tempfile.mkdtemp(prefix="vhm-bench-tsc-")
    try:
        t0 = time.monotonic()
        cases = tuple(args.cases.split())
        initrd = build_parts(work, assets, args.rounds, args.downtime, cases)
        log("L1: %s, initramfs %.0f MB built in %.1f s; %d round(s), "
            "downtime %g s" % (assets["kernel_package"],
                               os.path.getsize(initrd) / 1e6,
                               time.monotonic() - t0, args.rounds,
                               args.downtime))
        logpath = os.path.join(work, "l1.log")
        lines, took = run_l1(assets["kernel"], initrd, logpath,
                             90 + 40 * args.rounds * len(cases),
                             args.verbose)
        log("L1 run took %.1f s" % took)
        results, queries = parse(lines)
        if not args.verbose:
            # The kvm_tsc_* traces of the first measurement of each mode.
            for line in lines:
                if line.startswith("VHM-TRACE round=1 "):
                    print("  " + line)
        ok = report(results, queries, args.rounds, cases)
        if not ok:
            for line in lines[-40:]:
                print("  L1| " + line)
            log("the measurement could not be done (L1 log: %s)" % logpath)
            args.keep = True
            return 1
        return 0
    finally:
        if args.keep:
            log("work directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)

