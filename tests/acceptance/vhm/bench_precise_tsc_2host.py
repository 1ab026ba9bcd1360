"""precise-tsc between two hosts: an L2 guest migrated over a network
between two emulated AMD-V hosts whose TSCs differ.

Two L1 VMs (our qemu-system-x86_64 under TCG, -cpu EPYC,+svm,+npt, Debian's
cloud kernel, KVM loaded in the initramfs, as in bench-precise-tsc.py) are
started STAGGER seconds apart, so that their TSCs differ by that much plus
the first one's boot; each calibrates its own TSC.  This script creates
their network: a QEMU stream netdev over a unix socket in its own work
directory, virtio-net in each L1 (10.0.0.1 and 10.0.0.2); nothing leaves
this machine.  It drives both hosts over their serial consoles
(tests/e2e/precise-tsc/host.sh): per round and case, the destination QEMU
waits on host B with -incoming tcp:, the source runs on host A, is stopped,
waits DOWNTIME, migrates over TCP to B and B continues it.

Ground truth, independent of the network and of the hosts' clocks:
  - each host's KVM debugfs: the TSC offset it applied to each vCPU;
  - a common clock: under TCG an L1's TSC is this machine's TSC minus a
    constant (QEMU's TCG RDTSC; guest IA32_TSC writes are ignored).  Each
    L1's RAM is a shared file here; tests/e2e/precise-tsc/tscdiff.c reads
    the TSC each L1 keeps storing into a page (hostclock probe) next to
    this machine's own, which gives each constant B_x within a fraction of
    a microsecond while the L1 runs (probed until two probes agree within
    1 us: on a loaded machine an L1 may not run while tscdiff reads), and
    the hosts' TSC difference H_B - H_A = B_A - B_B.
A perfect restore continues the guest TSC as if the guest had run on
through the pause:
    error of vCPU i = (H_B + dst offset_i) - (H_A + src offset_i)
                    = B_A - B_B + dst offset_i - src offset_i    (cycles)
    skew            = (dst off_1 - dst off_0) - (src off_1 - src off_0)
precise-tsc measures the pause on the two hosts' clocks, so its error can
only be as small as their disagreement.  Before each migration host B's
CLOCK_REALTIME is set from host A's (hostclock pair on A, hostclock set on
B at the instant the common clock says A's pair was taken: what a perfect
NTP would do); the clocks then drift apart at the difference of the
hosts' TSC calibrations.  The script reports that disagreement at the
migration (B's clock minus A's, from a pair on each side and the common
clock) as "clock offset"; precise-tsc=on should be wrong by exactly that:
"error - clock offset" is precise-tsc's own error.  Stock QEMU (off):
error ~ -downtime.  The L2 guest's own kvmclock-to-TSC relationship is
measured as in bench-precise-tsc.py.

Cases: on, off, on@200 and off@200 (the L2 guest 200 ppm above host A's
TSC frequency, inside KVM's tolerance, so KVM does not scale: an offset
computed with guest kHz / host kHz is then wrong by 200 ppm of the hosts'
TSC difference).

usage: scripts/bench-precise-tsc-2host.py [ROUNDS] [--cases "on off"]
           [--stagger S] [--downtime S] [--keep] [-v]

Exits non-zero only when the measurement could not be done.  Python 3
standard library only; as root it installs missing tools.
"""
import os
import queue
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

from . import bench_precise_tsc as bench

CASES = ("on", "off", "on@200", "off@200")
ADDR = {"A": "10.0.0.1", "B": "10.0.0.2"}
L1_BOOT_TIMEOUT = 240       # seconds to "host ready" (TCG, 2 cores shared)
PROBE_S = 3                 # how long each L1 stores its TSC for tscdiff


def log(msg):
    print("bench-precise-tsc-2host: " + msg, flush=True)


class HostError(Exception):
    pass


class Host:
    """One emulated AMD-V host (L1), driven over its serial console."""

    def __init__(self, name, cmd, logpath, verbose, cpu):
        self.name = name
        self.verbose = verbose
        self.lines = queue.Queue()
        self.log = open(logpath, "w")
        self.start = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\r\n")
            self.log.write(line + "\n")
            self.log.flush()
            if self.verbose or line.startswith(("VHM-INFO", "VHM-FAIL",
                                                  "VHM-LOG")):
                print("  %s %6.1fs| %s" % (self.name,
                                           time.monotonic() - self.start,
                                           line), flush=True)
            self.lines.put(line)
        self.lines.put(None)

    def expect(self, prefixes, timeout):
        """Lines up to and including the first one starting with one of
        PREFIXES; HostError on timeout, VHM-FAIL or the end of the host."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline -
                                                  time.monotonic()))
            except queue.Empty:
                line = ""
                if time.monotonic() >= deadline:
                    raise HostError("host %s: no %s within %d s"
                                    % (self.name, prefixes[0], timeout))
            if line is None:
                raise HostError("host %s ended: %s" % (self.name, got[-5:]))
            got.append(line)
            if line.startswith("VHM-FAIL"):
                raise HostError("host %s: %s" % (self.name, line))
            if line.startswith(prefixes):
                return got

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def cmd(self, line, timeout=60):
        self.send(line)
        return self.expect(("VHM-OK " + line.split()[0],), timeout)

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.send("exit")
                self.proc.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def fields(lines, prefix):
    """key=value fields of the first line starting with PREFIX."""
    for line in lines:
        if line.startswith(prefix + " "):
            return dict(kv.split("=", 1) for kv in line.split()[1:]
                        if "=" in kv)
    raise HostError("no %s line in %s" % (prefix, lines[-5:]))


def signed64(x):
    x &= (1 << 64) - 1
    return x - (1 << 64) if x >> 63 else x


class TwoHosts:
    def __init__(self, work, assets, initrd, verbose):
        """@initrd: the L1 initramfs of both hosts, or {host: initrd}
        when their QEMUs differ."""
        self.work = work
        self.assets = assets
        self.initrd = initrd if isinstance(initrd, dict) else \
            {"A": initrd, "B": initrd}
        self.verbose = verbose
        self.hosts = {}
        self.ramfiles = {}
        self.khz = {}
        self.base = {}
        self.sock = os.path.join(work, "net.sock")

    def start(self, name, server):
        ram = os.path.join("/dev/shm", "vhm-2host-%d-%s" % (os.getpid(),
                                                            name))
        self.ramfiles[name] = ram
        cmd = bench.l1_command(self.assets["kernel"], self.initrd[name],
                               "q35,memory-backend=ram")
        cmd += ["-object", "memory-backend-file,id=ram,size=2G,share=on,"
                "mem-path=" + ram,
                "-netdev", "stream,id=net0,server=%s,addr.type=unix,"
                "addr.path=%s" % ("on" if server else "off", self.sock),
                "-device", "virtio-net-pci,netdev=net0,mac=52:54:00:00:00:%02x"
                % (1 + len(self.hosts))]
        # Each L1 runs on one CPU of this machine.  TCG's TSC is this
        # machine's TSC plus an offset that QEMU (cpu_get_ticks()) moves
        # forward whenever a reading is lower than the last one handed out.
        # With an L1's threads spread over several CPUs its TSC gained
        # cycles now and then (the precise cause, unordered RDTSC or a
        # momentary skew between CPUs, was not found: a ping-pong between
        # two pinned threads saw none), and that moves the hosts' TSC
        # difference the ground truth rests on.  Measured on a 2-core
        # Firecracker VM under load: the difference moved by 3066, -5019
        # and -1491 cycles in three runs unpinned, by -21, 0 and 0 pinned.
        cpus = sorted(os.sched_getaffinity(0))
        host = Host(name, cmd, os.path.join(self.work, "l1-%s.log" % name),
                    self.verbose, cpus[len(self.hosts) % len(cpus)])
        self.hosts[name] = host
        ready = host.expect(("VHM-INFO host ready",), L1_BOOT_TIMEOUT)
        self.khz[name] = int(fields(ready, "VHM-INFO host")["khz"])
        host.cmd("net " + ADDR[name])
        return host

    def stop(self):
        for host in self.hosts.values():
            host.stop()
        for ram in self.ramfiles.values():
            if os.path.exists(ram):
                os.unlink(ram)

    def probe(self):
        """Each L1's constant: this machine's TSC = the L1's TSC + base."""
        for name, host in self.hosts.items():
            host.send("probe %d" % PROBE_S)
        args = []
        for name, host in self.hosts.items():
            pfn = fields(host.expect(("VHM-PROBE pfn",), 60),
                         "VHM-PROBE")["pfn"]
            args.append("%s:%s" % (self.ramfiles[name], pfn))
        out = subprocess.run([self.tscdiff, str(PROBE_S - 1)] + args,
                             capture_output=True, text=True, timeout=60)
        for host in self.hosts.values():
            host.expect(("VHM-OK probe",), 60)
        if out.returncode != 0:
            raise HostError("tscdiff: " + (out.stderr + out.stdout).strip())
        base = {}
        for name, line in zip(self.hosts, out.stdout.splitlines()):
            base[name] = int(fields([line], "VHM-BASE")["base"])
        return base

    def steady_base(self, tries=5):
        """probe() until two probes in a row agree within 1 us for both
        hosts (a probe whose L1 was not running while tscdiff read is
        late, never early), at most TRIES times; the smallest of each."""
        best = self.probe()
        for _ in range(tries - 1):
            again = self.probe()
            steady = all(abs(again[n] - best[n]) <= self.khz[n] // 1000
                         for n in best)
            best = {n: min(best[n], again[n]) for n in best}
            if steady:
                break
        return best

    def pair(self, name):
        f = fields(self.hosts[name].cmd("pair"), "VHM-PAIR")
        return int(f["tsc"]), int(f["realtime_ns"]), int(f["tai"])

    def tsc_b_minus_a(self):
        return self.base["A"] - self.base["B"]

    def sync_clocks(self):
        """Host B's CLOCK_REALTIME := host A's, through the common clock."""
        tsc_a, realtime_a, _ = self.pair("A")
        tsc_b = tsc_a + self.tsc_b_minus_a()
        self.hosts["B"].cmd("settime %d %d %d" % (tsc_b, realtime_a,
                                                  self.khz["A"]))

    def tsc_on(self, name, tsc, other):
        """Host @other's TSC at the instant host @name's reads @tsc."""
        diff = self.tsc_b_minus_a()
        return tsc + (diff if (name, other) == ("A", "B") else -diff)

    def clock_offset_ns(self, src_name, pair_src, dst_name, pair_dst):
        """Host @dst_name's TAI minus host @src_name's, at the instant of
        the destination's pair, and at the instant of the source's.
        Each host's CLOCK_REALTIME runs at its TSC over its own calibrated
        kHz (no NTP in the hosts), so two hosts whose calibrations differ
        drift apart: 18 kHz of 2.6 GHz is 6.9 ppm, 16 us over a 2.3 s
        pause.  A restore advances the guest TSC by the destination's TAI
        at its pair minus the source's at its pair, so its error is the
        offset at the destination's instant: the source's clock is carried
        to it at the source's rate.  The offset at the source's instant
        (the destination's clock carried back at its rate), which the way
        back was once compared with, misses the drift during the pause; it
        is returned for the report."""
        tsc_s, rt_s, tai_s = pair_src
        tsc_d, rt_d, tai_d = pair_dst
        src_at_dst = rt_s + (self.tsc_on(dst_name, tsc_d, src_name) -
                             tsc_s) * 1e6 / self.khz[src_name]
        dst_at_src = rt_d - (tsc_d - self.tsc_on(src_name, tsc_s,
                                                 dst_name)) * \
            1e6 / self.khz[dst_name]
        return ((rt_d + tai_d * 1e9) - (src_at_dst + tai_s * 1e9),
                (dst_at_src + tai_d * 1e9) - (rt_s + tai_s * 1e9))

    def migrate(self, rnd, case, downtime, src_name="A", dst_name="B",
                received=False, back=False):
        """One L2 guest from host @src_name to host @dst_name; the error
        and the clock offset are the destination's minus the source's.
        A new guest, or with @received the one @src_name received in the
        previous migration (its QEMUs still there).  With @back the guest
        stays on @dst_name for the migration back: only @src_name's QEMU
        is ended (unless this migration failed)."""
        a, b = self.hosts[src_name], self.hosts[dst_name]
        self.sync_clocks()
        done = False
        try:
            if received:
                # the source of the previous migration, postmigrate
                b.cmd("quit")
            # one -cpu tsc-frequency= for both: host A's kHz plus PPM
            b.cmd("dst %d %s %d" % (rnd, case, self.khz["A"]))
            if received:
                a.cmd("resume")
            else:
                a.cmd("src %d %s %d" % (rnd, case, self.khz["A"]))
            out = a.cmd("stop")
            src = fields(out, "VHM-SRC")
            pair_a = tuple(int(v) for v in (
                fields(out, "VHM-PAIR")[k] for k in ("tsc", "realtime_ns",
                                                     "tai")))
            time.sleep(downtime)
            a.cmd("migrate " + ADDR[dst_name], 90)
            out = b.cmd("cont " + src["sample"].replace(",", " "), 90)
            dst = fields(out, "VHM-DST")
            pair_b = tuple(int(v) for v in (
                fields(out, "VHM-PAIR")[k] for k in ("tsc", "realtime_ns",
                                                     "tai")))
            done = True
        finally:
            traces = []
            for host in (a, b) if not (back and done) else (a,):
                try:
                    traces += [l for l in host.cmd("quit")
                               if l.startswith("VHM-TRACE")]
                except HostError as e:
                    # the error that brought us here says more
                    log("quitting host %s's QEMUs: %s" % (host.name, e))
        khz = self.khz["A"]
        so = [int(x) for x in src["offsets"].split(",")]
        do = [int(x) for x in dst["offsets"].split(",")]
        err = [signed64(self.base[src_name] - self.base[dst_name] + do[i] -
                        so[i]) for i in (0, 1)]
        offset, offset_at_stop = self.clock_offset_ns(src_name, pair_a,
                                                      dst_name, pair_b)
        move = dst.get("guest_kvmclock_move_ns", "none")
        return {
            "error_ns": [e * 1e6 / khz for e in err],
            "skew": signed64((do[1] - do[0]) - (so[1] - so[0])),
            "clock_offset_ns": offset,
            "clock_offset_at_stop_ns": offset_at_stop,
            "downtime_ns": int(dst["t_cont"]) - int(src["t_stop"]),
            "elapsed_ns": dst.get("elapsed_ns") or "none",
            "qmode": dst.get("qmode") or "none",
            "restored": dst.get("restored") or "none",
            "kvmclock_move_ns": None if move in ("", "none") else int(move),
            "traces": traces,
        }


def measure(rounds, cases, stagger, downtime, verbose, keep=False,
            report=print, qemu=None, l2_machine="pc", back=False):
    """Boot two hosts, migrate ROUNDS x CASES from host A to host B (and
    with @back the same guest of each case on from B back to A, its
    results keyed (round, case + "<-")); returns the results and the
    hosts' facts, or raises HostError.  @qemu: {host:
    qemu-system-x86_64} when the hosts' QEMUs differ (then @l2_machine
    should be a versioned machine type)."""
    bench.ensure_tools()
    assets = bench.fetch_assets()
    work = tempfile.mkdtemp(prefix="vhm-2host-tsc-")
    hosts = None
    t0 = time.monotonic()
    try:
        if qemu:
            initrd = {h: bench.build_parts(work, assets, 1, downtime, cases,
                                           role="host", qemu=qemu[h],
                                           l2_machine=l2_machine,
                                           name="initrd-" + h)
                      for h in ("A", "B")}
        else:
            initrd = bench.build_parts(work, assets, 1, downtime, cases,
                                       role="host", l2_machine=l2_machine)
        tscdiff = os.path.join(work, "tscdiff")
        bench.run(["gcc", "-O2", "-o", tscdiff,
                   os.path.join(bench.E2E, "tscdiff.c")])
        hosts = TwoHosts(work, assets, initrd, verbose)
        hosts.tscdiff = tscdiff
        hosts.start("A", server=True)
        log("host A up after %.1f s; host B starts in %g s"
            % (time.monotonic() - t0, stagger))
        time.sleep(stagger)
        hosts.start("B", server=False)
        hosts.base = hosts.steady_base()
        diff = hosts.tsc_b_minus_a()
        facts = {"khz": dict(hosts.khz), "tsc_diff": diff,
                 "boot_s": time.monotonic() - t0}
        log("both hosts up after %.1f s: host A %d kHz, host B %d kHz; "
            "host B's TSC - host A's = %d cycles (%.3f s)"
            % (facts["boot_s"], hosts.khz["A"], hosts.khz["B"], diff,
               diff / hosts.khz["A"] / 1e3))
        results = {}
        # With @back the guest that went from A to B comes back: the same
        # L2 guest, across both hops.
        ways = [("A", "B", "")] + ([("B", "A", "<-")] if back else [])
        for rnd in range(1, rounds + 1):
            for case, (src, dst, way) in [(c, w) for c in cases
                                          for w in ways]:
                t = time.monotonic()
                r = hosts.migrate(rnd, case, downtime, src, dst,
                                  received=bool(way), back=back and not way)
                results[(rnd, case + way)] = r
                report("round %d %s->%s precise-tsc=%-7s error vcpu0 "
                       "%+.6f ms, "
                       "vcpu1 %+.6f ms, skew %d cycles, clock offset "
                       "%+.6f ms (%+.6f ms at the stop), error - clock "
                       "offset %+.6f ms, guest's "
                       "kvmclock/TSC moved %s ns (downtime %.1f ms, "
                       "elapsed-ns %s, mode %s, restored %s; %.1f s)"
                       % (rnd, src, dst, case, r["error_ns"][0] / 1e6,
                          r["error_ns"][1] / 1e6, r["skew"],
                          r["clock_offset_ns"] / 1e6,
                          r["clock_offset_at_stop_ns"] / 1e6,
                          (r["error_ns"][0] - r["clock_offset_ns"]) / 1e6,
                          r["kvmclock_move_ns"], r["downtime_ns"] / 1e6,
                          r["elapsed_ns"], r["qmode"], r["restored"],
                          time.monotonic() - t))
                if rnd == 1 and verbose:
                    for line in r["traces"]:
                        report("  " + line)
        again = hosts.steady_base()
        facts["tsc_diff_drift"] = (again["A"] - again["B"]) - diff
        log("the hosts' TSC difference moved by %d cycles during the "
            "measurement (ground truth check: a few hundred at most)"
            % facts["tsc_diff_drift"])
        facts["total_s"] = time.monotonic() - t0
        return results, facts
    finally:
        if hosts:
            hosts.stop()
        if keep:
            log("work directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def summary(results, facts, rounds, cases):
    def med(xs):
        return statistics.median(xs) if xs else float("nan")

    print("medians over %d round(s); hosts' TSC difference %.3f s "
          "(%d cycles):" % (rounds, facts["tsc_diff"] / facts["khz"]["A"]
                            / 1e3, facts["tsc_diff"]))
    for case in cases:
        rs = [results[(r, case)] for r in range(1, rounds + 1)
              if (r, case) in results]
        errs = [e for r in rs for e in r["error_ns"]]
        beyond = [e - r["clock_offset_ns"] for r in rs for e in r["error_ns"]]
        moves = [r["kvmclock_move_ns"] for r in rs
                 if r["kvmclock_move_ns"] is not None]
        print("  precise-tsc=%-7s error %+.6f ms, |error| %.6f ms, skew %.0f "
              "cycles, clock offset %+.6f ms, error - clock offset %+.6f ms, "
              "guest's kvmclock/TSC moved %s"
              % (case, med(errs) / 1e6, med([abs(e) for e in errs]) / 1e6,
                 med([r["skew"] for r in rs]),
                 med([r["clock_offset_ns"] for r in rs]) / 1e6,
                 med(beyond) / 1e6,
                 "%.0f ns" % med(moves) if moves else "n/a"))


def main():
    ap = bench.argument_parser(__doc__.splitlines()[0], CASES)
    ap.add_argument("--stagger", type=float, default=5.0,
                    help="seconds between host A being up and host B "
                    "starting (default 5)")
    args = ap.parse_args()
    cases = args.cases.split()
    if args.rounds < 1 or not cases or \
            any(c.split("@")[0] not in ("on", "off") for c in cases):
        bench.die("ROUNDS must be at least 1 and each case on, off, on@PPM "
                  "or off@PPM")
    try:
        results, facts = measure(args.rounds, cases, args.stagger,
                                 args.downtime, args.verbose, args.keep)
    except (HostError, subprocess.SubprocessError) as e:
        log("the measurement could not be done: %s" % e)
        return 1
    summary(results, facts, args.rounds, cases)
    log("took %.1f s (hosts up in %.1f s)" % (facts["total_s"],
                                              facts["boot_s"]))
    return 0

