#
# libvirt's everyday domain for virt-hotmem's acceptance tests: Debian's
# libvirtd started by the test as a daemon of its own, beside any libvirtd
# the machine runs and beside another test run (see Libvirtd), the
# guest's serial console on a unix socket, and the steps every
# architecture's domain goes through once virt-install started it
# (everyday()).
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from . import dimm, guest, tap

KiB = 1024

QEMU_CONF = """\
# A private libvirtd for virt-hotmem's acceptance test.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
namespaces = [ ]
cgroup_controllers = [ ]
"""
# host_uuid: the machine's own (SMBIOS) is that of every other libvirtd
# here.
LIBVIRTD_CONF = """\
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = "%s"
"""
# What a daemon that peer-to-peer migration reaches adds: libvirt's TCP
# port, without authentication, on the addresses of its own network
# namespace.
LIBVIRTD_TCP_CONF = """\
listen_tls = 0
listen_tcp = 1
auth_tcp = "none"
"""
# The daemon's view: these directories of the test replace the machine's.
# /run/dbus hides the system bus: no polkit, systemd-machined or firewalld
# of the machine's is asked or told anything.
PRIVATE_DIRS = (("etc", "/etc/libvirt"), ("run", "/run/libvirt"),
                ("lib", "/var/lib/libvirt"), ("cache", "/var/cache/libvirt"),
                ("log", "/var/log/libvirt"), ("dbus", "/run/dbus"))


MANUAL = os.path.join(guest.ROOT, "docs", "system", "arm", "virt-hotmem.rst")
# The file names the manual's domain XML uses, replaced by a test run's.
DOC_EMULATOR = "/usr/local/bin/qemu-system-aarch64"
DOC_KERNEL = "/var/lib/libvirt/boot/vmlinuz-arm64"
DOC_INITRD = "/var/lib/libvirt/boot/initrd.img-arm64"
DOC_NVDIMM = "/var/lib/libvirt/images/nvdimm0.img"
DOC_SERIAL = "<serial type='pty'/>"


def manual_xml(name):
    """The XML of the manual's code-block with :name: @name."""
    with open(MANUAL) as f:
        lines = f.read().splitlines()
    starts = [i for i, line in enumerate(lines)
              if line == "  :name: " + name]
    assert len(starts) == 1, "%s has %d blocks named %s" % (
        MANUAL, len(starts), name)
    assert lines[starts[0] - 1] == ".. code-block:: xml", name
    block = []
    for line in lines[starts[0] + 2:]:
        if line and not line.startswith("  "):
            break
        block.append(line[2:])
    return "\n".join(block).strip() + "\n"


def substitute(xml, replacements):
    """@xml with each (old, new) of @replacements done; each old must be
    there."""
    for old, new in replacements:
        assert old in xml, "the manual's XML lacks %s" % old
        xml = xml.replace(old, new)
    return xml


def manual_domain_xml(name, domain, kernel, initrd, console, extra=()):
    """The manual's domain XML @name as a test starts it: named @domain,
    booting @kernel and @initrd (if it boots a kernel) with our aarch64
    emulator, its serial console bound to the unix socket @console, and
    the (old, new) replacements of @extra done."""
    xml = re.sub(r"<name>[^<]*</name>", "<name>%s</name>" % domain,
                 manual_xml(name), count=1)
    boot = [(DOC_KERNEL, kernel), (DOC_INITRD, initrd)]
    if DOC_KERNEL not in xml:
        boot = []
    return substitute(xml, [
        (DOC_EMULATOR, guest.QEMU_AARCH64),
        (DOC_SERIAL, "<serial type='unix'><source mode='bind' "
         "path='%s'/></serial>" % console)] + boot + list(extra))


def why_no_libvirt():
    """Why libvirt cannot run here, or None."""
    if os.geteuid() != 0:
        return "not root: the private libvirtd needs a mount namespace"
    for tool in ("libvirtd", "virsh", "virt-install", "unshare", "nsenter",
                 "ip", "qemu-img"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") +
                            ":/usr/sbin:/sbin"):
            return ("no %s (Debian packages libvirt-daemon-system, virtinst, "
                    "qemu-utils; scripts/install-deps.sh guest)" % tool)
    return None


class Libvirtd:
    """Debian's libvirtd as a daemon of this test run alone: in mount and
    network namespaces of its own, with its configuration, sockets, pid
    file and state in @tmp (a directory of this run), so that it neither
    sees nor disturbs the machine's libvirtd (which holds
    /run/libvirtd.pid and /run/libvirt/libvirt-sock) nor another run's.
    Its QEMUs share its network namespace, so two runs' VNC ports (5900
    and up, picked by each daemon) cannot collide; its domain's name ends
    in @tmp's unique suffix, as host-wide names (cgroups) come from it."""

    def __init__(self, tmp, domain, listen_tcp=False, descriptors=()):
        self.tmp = tmp
        self.listen_tcp = listen_tcp
        self.descriptors = descriptors
        self.domain = "%s-%s" % (domain, os.path.basename(tmp).split("-")[-1])
        for sub, _ in PRIVATE_DIRS:
            os.makedirs(os.path.join(tmp, sub))
        # Our configuration only: nothing of the machine's /etc/libvirt
        # (its autostarted networks and domains, its own settings).
        etc = os.path.join(tmp, "etc")
        with open(os.path.join(etc, "qemu.conf"), "w") as f:
            f.write(QEMU_CONF)
        with open(os.path.join(etc, "libvirtd.conf"), "w") as f:
            f.write(LIBVIRTD_CONF % uuid.uuid4())
            if listen_tcp:
                # Reached only inside its network namespace.
                f.write(LIBVIRTD_TCP_CONF)
        # libvirt finds the emulators of its capabilities on $PATH.
        self.bin = os.path.join(tmp, "bin")
        os.makedirs(self.bin)
        for e in (guest.QEMU_AARCH64, guest.QEMU_X86_64):
            os.symlink(e, os.path.join(self.bin, os.path.basename(e)))
        self.uri = "qemu:///system?socket=%s/run/libvirt-sock" % tmp
        self.proc = None

    def firmware_dir(self):
        """With @descriptors ((file name, JSON text) of firmware
        descriptors, as `make install` would add them), a directory of
        Debian's descriptors and these that replaces
        /usr/share/qemu/firmware in the daemon's view: what a machine with
        them installed shows libvirt, and nothing written to this one."""
        fw = os.path.join(self.tmp, "qemu-firmware")
        os.makedirs(fw)
        system = "/usr/share/qemu/firmware"
        # Copies: in the daemon's view, links into @system would point
        # back into this directory.
        for name in (os.listdir(system) if os.path.isdir(system) else ()):
            shutil.copyfile(os.path.join(system, name), os.path.join(fw, name))
        for name, text in self.descriptors:
            with open(os.path.join(fw, name), "w") as f:
                f.write(text)
        return fw

    def start(self):
        dirs = [(os.path.join(self.tmp, sub), path)
                for sub, path in PRIVATE_DIRS]
        if self.descriptors:
            dirs.append((self.firmware_dir(), "/usr/share/qemu/firmware"))
        mounts = "".join("mkdir -p %s && mount --bind %s %s && " %
                         (path, src, path) for src, path in dirs)
        env = dict(os.environ,
                   PATH=self.bin + ":/usr/sbin:/usr/bin:/sbin:/bin")
        self.log = open(os.path.join(self.tmp, "libvirtd.log"), "wb")
        # unshare execs sh, which execs libvirtd: self.proc.pid is the
        # daemon's, and names its namespaces for nsenter.
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--net", "--propagation", "private",
             "sh", "-c", "ip link set lo up && " + mounts +
             "exec libvirtd --pid-file %s/libvirtd.pid%s" %
             (self.tmp, " --listen" if self.listen_tcp else "")],
            env=env, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)
        sock = os.path.join(self.tmp, "run", "libvirt-sock")
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("libvirtd exited: %s" % self.daemon_log())
            if (os.path.exists(sock) and
                    self.virsh("list", check=False)[0] == 0):
                return self
            if time.monotonic() > deadline:
                raise AssertionError("libvirtd did not answer in 60 s: %s" %
                                     self.daemon_log())
            time.sleep(0.2)

    def in_netns(self, argv):
        """@argv as a command in the daemon's network namespace."""
        return ["nsenter", "--net=/proc/%d/ns/net" % self.proc.pid] + argv

    def link(self, peer, name, prefix):
        """Join this daemon's network namespace and @peer's with a veth
        pair (@name + "a" here, @name + "b" there) and give them
        @prefix.1/24 and @prefix.2/24: two hosts on one link, with
        addresses that exist only inside these namespaces."""
        a, b = name + "a", name + "b"
        subprocess.run(["ip", "link", "add", a, "netns", str(self.proc.pid),
                        "type", "veth", "peer", "name", b, "netns",
                        str(peer.proc.pid)], check=True, timeout=30)
        for lv, dev, host in ((self, a, 1), (peer, b, 2)):
            for cmd in (["ip", "addr", "add", "%s.%d/24" % (prefix, host),
                         "dev", dev], ["ip", "link", "set", dev, "up"]):
                subprocess.run(lv.in_netns(cmd), check=True, timeout=30)

    def qemu_argv(self):
        """The command line of our domain's QEMU, as the kernel has it."""
        pidfile = os.path.join(self.tmp, "run", "qemu",
                               self.domain + ".pid")
        with open(pidfile) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().decode().split("\0")[:-1]

    def daemon_log(self):
        with open(os.path.join(self.tmp, "libvirtd.log"), "rb") as f:
            return f.read()[-3000:].decode(errors="replace")

    def run(self, argv, check=True, timeout=120):
        p = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        out = p.stdout.decode(errors="replace")
        if check and p.returncode != 0:
            raise AssertionError("%s failed (%d): %s" %
                                 (" ".join(argv[:4]), p.returncode, out))
        return p.returncode, out

    def virsh(self, *args, check=True, timeout=120):
        return self.run(["virsh", "-c", self.uri] + list(args), check,
                        timeout)

    def stop(self):
        """Destroy what is left of our domain, then the daemon, then any
        QEMU the daemon left behind (by the pid files in its run dir)."""
        if self.proc and self.proc.poll() is None:
            self.virsh("destroy", self.domain, check=False, timeout=60)
            self.virsh("undefine", self.domain, "--nvram", "--managed-save",
                       "--remove-all-storage", check=False, timeout=60)
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        qemu_run = os.path.join(self.tmp, "run", "qemu")
        for pidfile in (os.listdir(qemu_run) if os.path.isdir(qemu_run)
                        else ()):
            if pidfile.endswith(".pid"):
                try:
                    with open(os.path.join(qemu_run, pidfile)) as f:
                        os.kill(int(f.read().strip()), 9)
                except (OSError, ValueError):
                    pass


class SerialConsole(guest.VM):
    """The guest's serial port, a unix socket libvirt's QEMU listens on,
    driven with the harness's shell protocol (guest.VM)."""

    class _Proc:
        def __init__(self, sock):
            self.sock = sock
            self.stdin = sock.makefile("wb")
            self.stdout = sock.makefile("rb", buffering=0)
            self.returncode = None

        def poll(self):
            return None

    def __init__(self, path, timeout=30):  # noqa: super().__init__ not needed
        deadline = time.monotonic() + timeout
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        s.setblocking(False)
        self.proc = self._Proc(s)
        self.console = b""
        self.log_path = os.devnull

    def close(self):
        self.proc.sock.close()


def dominfo_max_kib(lv):
    out = lv.virsh("dominfo", lv.domain)[1]
    m = re.search(r"^Max memory:\s+(\d+) KiB", out, re.M)
    assert m, out
    return int(m.group(1))


def domstats_balloon_max_kib(lv):
    out = lv.virsh("domstats", "--balloon", lv.domain)[1]
    m = re.search(r"balloon\.maximum=(\d+)", out)
    assert m, out
    return int(m.group(1))


def probe_shell(con, timeout=300):
    """Wait until the shell of a guest that already runs (a restored
    domain) answers on the console: ask until it does.  Never used while
    firmware may run: UEFI takes keystrokes as menu input."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            con.shell("true", timeout=5)
            return con
        except guest.GuestError:
            if time.monotonic() > deadline:
                raise


def connect_console(path, booting):
    """The console of a domain that is booting (connected while UEFI
    runs, long before the kernel: wait for the initramfs' banner) or one
    that was restored with its shell running."""
    con = SerialConsole(path)
    if booting:
        con.wait_shell(timeout=300)
        return con
    return probe_shell(con)


def vnc_banner(lv):
    """The first bytes the domain's VNC server sends, read in the
    daemon's network namespace, where its QEMU listens."""
    out = lv.virsh("domdisplay", "--type", "vnc", lv.domain)[1].strip()
    m = re.match(r"vnc://([0-9.]+):(\d+)", out)
    assert m, out
    read = ("import socket, sys\n"
            "with socket.create_connection((sys.argv[1], int(sys.argv[2])),"
            " timeout=10) as s:\n"
            "    sys.stdout.buffer.write(s.recv(12))\n")
    return subprocess.run(
        lv.in_netns([sys.executable, "-c", read, m.group(1),
                     str(5900 + int(m.group(2)))]),
        stdout=subprocess.PIPE, check=True, timeout=30).stdout


def iomem_ram(console):
    """Top-level System RAM ranges in the guest's /proc/iomem (reading
    it needs root, which the initramfs' shell is) and their bytes."""
    ranges = dimm.iomem_ram(console)
    return ranges, sum(e - s + 1 for s, e in ranges)


def everyday(lv, tmp, console_path, modules, base_mib, dimm_mib):
    """What virt-install's domain @lv.domain (running, booting the
    initramfs with @modules, its serial console bound at @console_path,
    @base_mib of RAM, a 2 GiB disk, user networking and VNC) goes
    through, each step checked in the guest and in libvirt: attach and
    detach of a @dimm_mib <memory model='dimm'>, managedsave + start."""
    dom = lv.domain
    assert lv.virsh("domstate", dom)[1].strip() == "running"
    con = connect_console(console_path, booting=True)
    try:
        # What the guest sees: its RAM, the 2 GiB disk, the user network.
        base_kib = guest.mem_total_kib(con)
        base_ranges, base_iomem = iomem_ram(con)
        for m in modules:
            con.check("insmod /modules/" + os.path.basename(m))
        con.check("for i in $(seq 100); do [ -b /dev/vda ] && break; "
                  "sleep 0.1; done; [ -b /dev/vda ]", timeout=30)
        disk = int(con.check("cat /sys/block/vda/size").strip()) * 512
        assert disk == 2 * guest.GiB, "the guest's disk has %d bytes" % disk
        con.check("ip link set eth0 up")
        lease = con.check("udhcpc -i eth0 -n -q -t 5 -T 2 -s /bin/true 2>&1",
                          timeout=60)
        assert "lease of" in lease, lease
        assert base_mib * KiB - 256 * KiB < base_kib <= base_mib * KiB, \
            base_kib
        assert vnc_banner(lv) == b"RFB 003.008\n"
        assert dominfo_max_kib(lv) == base_mib * KiB
        assert domstats_balloon_max_kib(lv) == base_mib * KiB

        # Hot-add a DIMM: the guest's firmware tables announce new System
        # RAM of its size; onlined, MemTotal grows by as much.
        dimm_xml = os.path.join(tmp, "dimm.xml")
        with open(dimm_xml, "w") as f:
            f.write("<memory model='dimm'><target><size unit='MiB'>%d</size>"
                    "<node>0</node></target></memory>\n" % dimm_mib)
        lv.virsh("attach-device", dom, dimm_xml, "--live")
        assert "model='dimm'" in lv.virsh("dumpxml", dom)[1]
        deadline = time.monotonic() + 30
        while True:
            dimm.online_all(con)
            grown = guest.mem_total_kib(con) - base_kib
            if grown == dimm_mib * KiB or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert grown == dimm_mib * KiB, "MemTotal grew by %d KiB" % grown
        ranges, ram = iomem_ram(con)
        assert ram - base_iomem == dimm_mib * guest.MiB, \
            "System RAM in /proc/iomem grew by %d bytes" % (ram - base_iomem)
        print("# guest: MemTotal %d KiB + %d KiB; System RAM %s -> %s" %
              (base_kib, grown, ["%#x-%#x" % r for r in base_ranges],
               ["%#x-%#x" % r for r in ranges]), flush=True)
        assert dominfo_max_kib(lv) == (base_mib + dimm_mib) * KiB
        assert domstats_balloon_max_kib(lv) == (base_mib + dimm_mib) * KiB

        # Hot-remove it: libvirt drops the device once QEMU reports it
        # deleted (DEVICE_DELETED), and the guest has given it back.
        lv.virsh("detach-device", dom, dimm_xml, "--live")
        deadline = time.monotonic() + 60
        while "model='dimm'" in lv.virsh("dumpxml", dom)[1]:
            assert time.monotonic() < deadline, \
                "the DIMM is still in the domain 60 s after detach-device"
            time.sleep(0.5)
        assert guest.mem_total_kib(con) == base_kib
        assert iomem_ram(con)[1] == base_iomem
        assert dominfo_max_kib(lv) == base_mib * KiB
        assert domstats_balloon_max_kib(lv) == base_mib * KiB

        # managedsave + start: the same guest, its shell and memory.
        con.check("echo before-save > /tmp/mark")
        con.close()
        con = None
        lv.virsh("managedsave", dom, timeout=300)
        state = lv.virsh("domstate", dom)[1].strip()
        assert state == "shut off", state
        assert re.search(r"^Managed save:\s+yes$",
                         lv.virsh("dominfo", dom)[1], re.M)
        lv.virsh("start", dom, timeout=300)
        con = connect_console(console_path, booting=False)
        assert con.check("cat /tmp/mark").strip() == "before-save"
        assert guest.mem_total_kib(con) == base_kib
        assert lv.virsh("domstate", dom)[1].strip() == "running"
        assert dominfo_max_kib(lv) == base_mib * KiB
    finally:
        if con:
            con.close()


# Two libvirt "hosts": the link between them exists only inside their
# namespaces.
PREFIX = "10.77.31"
MIGRATION_PORT = 49152


class TwoHosts:
    """Two private libvirtds joined by a veth pair; the domain @name
    has the same name on both."""

    def __init__(self, name):
        reason = why_no_libvirt()
        if reason:
            raise tap.Skip(reason)
        self.tmp = tempfile.mkdtemp(prefix="vhm-libvirt-2h-")
        self.hosts = []
        suffix = os.path.basename(self.tmp).split("-")[-1]
        for h in ("a", "b"):
            d = os.path.join(self.tmp, h)
            os.makedirs(d)
            lv = Libvirtd(os.path.join(d, "lv-" + suffix), name,
                          listen_tcp=True)
            self.hosts.append(lv)
        self.hosts[1].domain = self.hosts[0].domain
        self.domain = self.hosts[0].domain
        try:
            for lv in self.hosts:
                lv.start()
            # An interface name is at most 15 bytes; the suffix keeps two
            # runs' pairs apart while both ends are briefly on the host.
            self.hosts[0].link(self.hosts[1], "vhm" + suffix[-8:], PREFIX)
        except BaseException:
            self.close()
            raise

    def migrate(self, src, dst, *flags, p2p=False, replacements=()):
        """virsh migrate --live the domain from host @src to host @dst
        (indices), the stream to @dst's address on the link, the domain
        defined there and undefined here; with @p2p, @src's libvirtd
        drives the migration, reaching @dst's over the link; the
        (old, new) @replacements done in the destination's XML; return
        the command's status and output and the wall time."""
        # Each host's QEMU binds the guest's console at a path of its
        # own: the source's QEMU removes its socket when it quits.
        xml = self.hosts[src].virsh("dumpxml", "--migratable",
                                    self.domain)[1]
        xml = substitute(xml.replace(self.console(src), self.console(dst)),
                         replacements)
        path = os.path.join(self.tmp, "migrate-to-%d.xml" % dst)
        with open(path, "w") as f:
            f.write(xml)
        uri = self.hosts[dst].uri
        if p2p:
            uri = "qemu+tcp://%s.%d/system" % (PREFIX, dst + 1)
            flags += ("--p2p",)
        t0 = time.monotonic()
        rc, out = self.hosts[src].virsh(
            "migrate", "--live", self.domain, uri,
            "--migrateuri", "tcp://%s.%d:%d" % (PREFIX, dst + 1,
                                                MIGRATION_PORT),
            "--xml", path, "--persistent", "--undefinesource", *flags,
            check=False, timeout=600)
        return rc, out, time.monotonic() - t0

    def console(self, host):
        """Where host @host's QEMU binds the guest's serial console."""
        return os.path.join(self.tmp, "console-%d.sock" % host)

    def close(self):
        for lv in self.hosts:
            lv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def state(lv, dom):
    return lv.virsh("domstate", dom)[1].strip()


def dimm_bases(lv, dom):
    """{slot: base} of the DIMMs and NVDIMMs in @lv's live XML."""
    xml = lv.virsh("dumpxml", dom)[1]
    return {int(s): int(b, 16) for s, b in re.findall(
        r"<address type='dimm' slot='(\d+)' base='(0x[0-9a-f]+)'/>", xml)}


def boot(two, name, modules=(), extra=()):
    """Start the manual's domain @name on host 0; its console."""
    tmp = two.tmp
    initrd = guest.build_initramfs(os.path.join(tmp, "initrd.gz"), modules)
    console = two.console(0)
    xml = manual_domain_xml(
        name, two.domain, os.path.join(guest.guest_assets(), "vmlinuz"),
        initrd, console, extra)
    path = os.path.join(tmp, name + ".xml")
    with open(path, "w") as f:
        f.write(xml)
    two.hosts[0].virsh("define", path)
    two.hosts[0].virsh("start", two.domain, timeout=300)
    return connect_console(console, booting=True)


def attach(two, host, xml_name, replacements=()):
    """virsh attach-device --live the manual's device XML @xml_name (with
    the (old, new) @replacements) on host @host; the file's path."""
    path = os.path.join(two.tmp, "%s-%d.xml" % (xml_name, time.time_ns()))
    with open(path, "w") as f:
        f.write(substitute(manual_xml(xml_name), replacements))
    two.hosts[host].virsh("attach-device", two.domain, path, "--live")
    return path
