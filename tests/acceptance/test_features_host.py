#!/usr/bin/env python3
#
# Acceptance: the host-side features of Debian's qemu-system-* work in our
# binaries, each checked through something QEMU does not report itself:
# - VNC: the server on a loopback port completes the RFB 3.8 handshake
#   (RFC 6143) with the desktop name given by -name, and sends a
#   framebuffer update;
# - seccomp: with -sandbox on the kernel reports a seccomp filter on the
#   QEMU process (/proc/PID/status);
# - libnuma: memory-backend-ram with host-nodes=0,policy=bind is bound to
#   node 0 in the kernel's /proc/PID/numa_maps;
# - liburing: a file blockdev with aio=io_uring owns an io_uring
#   (/proc/PID/fd) and a write through it lands in the file;
# - libpmem: memory-backend-file,pmem=on backs an nvdimm.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import shutil
import socket
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

MiB = guest.MiB


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise AssertionError("VNC server closed after %r" % data)
        data += chunk
    return data


def test_vnc_rfb_handshake():
    name = "vhm-vnc-test"
    # to=99: QEMU takes the first free display from 0, so a parallel run
    # or a user's VNC server on :0 does not make the test fail.
    with guest.VM(["-M", "virt-hotmem", "-accel", "tcg", "-m", "256M",
                   "-name", name, "-device", "virtio-gpu-pci",
                   "-vnc", "127.0.0.1:0,to=99"], name="vnc") as vm:
        port = int(vm.qmp.cmd("query-vnc")["service"])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            # RFC 6143 7.1.1: ProtocolVersion, both ways.
            assert recv_exact(s, 12) == b"RFB 003.008\n"
            s.sendall(b"RFB 003.008\n")
            # 7.1.2: the security types; we ask for None (1).
            n = recv_exact(s, 1)[0]
            types = recv_exact(s, n)
            assert 1 in types, "no security type None in %r" % types
            s.sendall(b"\x01")
            # 7.1.3: SecurityResult OK.
            assert struct.unpack(">I", recv_exact(s, 4))[0] == 0
            # 7.3.1 ClientInit (shared), 7.3.2 ServerInit.
            s.sendall(b"\x01")
            width, height = struct.unpack(">HH", recv_exact(s, 4))
            pixel_format = recv_exact(s, 16)
            desktop = recv_exact(s, struct.unpack(">I", recv_exact(s, 4))[0])
            # QEMU names the desktop "QEMU (NAME)"
            assert name in desktop.decode(), desktop
            assert width > 0 and height > 0, (width, height)
            assert pixel_format[0] in (8, 16, 32), pixel_format
            # 7.5.3 FramebufferUpdateRequest (full) -> 7.6.1 FramebufferUpdate.
            s.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
            msg_type, _, rects = struct.unpack(">BBH", recv_exact(s, 4))
            assert msg_type == 0 and rects >= 1, (msg_type, rects)


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^%s:\s*(\S+)" % key, f.read(), re.M)
    return m.group(1) if m else None


def test_seccomp_sandbox():
    with guest.VM(["-M", "virt-hotmem", "-accel", "tcg", "-m", "128M",
                   "-sandbox", "on,obsolete=deny,elevateprivileges=deny,"
                   "spawn=deny,resourcecontrol=deny"], name="seccomp") as vm:
        status = vm.qmp.cmd("query-status")["status"]
        mode = proc_status(vm.proc.pid, "Seccomp")
        filters = proc_status(vm.proc.pid, "Seccomp_filters")
    assert status == "running", status
    # 2 = SECCOMP_MODE_FILTER (Documentation/filesystems/proc.rst)
    assert mode == "2", "Seccomp: %s" % mode
    assert filters is None or int(filters) >= 1, filters


def numa_maps_pages(pid, policy):
    """Bytes mapped under mempolicy @policy in /proc/PID/numa_maps, per
    node: {node: bytes}."""
    out = {}
    with open("/proc/%d/numa_maps" % pid) as f:
        for line in f:
            fields = line.split()
            if len(fields) < 2 or fields[1] != policy:
                continue
            page = 4096
            for fl in fields:
                if fl.startswith("kernelpagesize_kB="):
                    page = int(fl.split("=")[1]) * 1024
            for fl in fields:
                m = re.match(r"N(\d+)=(\d+)$", fl)
                if m:
                    node = int(m.group(1))
                    out[node] = out.get(node, 0) + int(m.group(2)) * page
    return out


def test_numa_host_nodes_bind():
    size = 64 * MiB
    with guest.VM(["-M", "virt-hotmem", "-accel", "tcg", "-m", "64M",
                   "-object", "memory-backend-ram,id=m0,size=64M,"
                   "host-nodes=0,policy=bind,prealloc=on",
                   "-numa", "node,memdev=m0", "-S"], name="numa") as vm:
        bound = numa_maps_pages(vm.proc.pid, "bind:0")
    # prealloc=on touched every page, so all of it is resident on node 0.
    assert bound.get(0, 0) >= size, "bind:0 mappings: %s" % bound


def test_io_uring_blockdev():
    tmp = tempfile.mkdtemp(prefix="vhm-uring-")
    img = os.path.join(tmp, "disk.raw")
    try:
        with open(img, "wb") as f:
            f.truncate(MiB)
        with guest.VM(["-M", "virt-hotmem", "-accel", "tcg", "-m", "128M",
                       "-blockdev", "driver=file,filename=%s,aio=io_uring,"
                       "node-name=d0" % img],
                      name="uring") as vm:
            out = vm.qmp.hmp('qemu-io d0 "write -P 0x5a 4096 4096"')
            # qemu-io prints nothing through QMP; the effect is checked
            # below.
            assert "error" not in out.lower(), out
            fds = os.path.join("/proc", str(vm.proc.pid), "fd")
            links = [os.readlink(os.path.join(fds, fd))
                     for fd in os.listdir(fds)]
        assert "anon_inode:[io_uring]" in links, links
        with open(img, "rb") as f:
            data = f.read()
        assert data[4096:8192] == b"\x5a" * 4096, "pattern not in the file"
        assert data[:4096] == b"\0" * 4096
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_pmem_backend():
    tmp = tempfile.mkdtemp(prefix="vhm-pmem-")
    path = os.path.join(tmp, "nvdimm.img")
    try:
        with open(path, "wb") as f:
            f.truncate(128 * MiB)
        with guest.VM(["-M", "virt-hotmem,nvdimm=on", "-accel", "tcg",
                       "-m", "256M,slots=2,maxmem=1G",
                       "-object", "memory-backend-file,id=p0,share=on,"
                       "mem-path=%s,size=128M,pmem=on" % path,
                       "-device", "nvdimm,id=nv0,memdev=p0", "-S"],
                      name="pmem") as vm:
            pmem = vm.qmp.cmd("qom-get", path="/objects/p0", property="pmem")
            devices = vm.qmp.cmd("query-memory-devices")
            with open("/proc/%d/maps" % vm.proc.pid) as f:
                maps = f.read()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert pmem is True, pmem
    assert [d["type"] for d in devices] == ["nvdimm"], devices
    # The file is mapped shared into QEMU (the guest's persistent memory).
    assert re.search(r" rw-s .*nvdimm\.img", maps), maps


if __name__ == "__main__":
    tap.main([("host/vnc-rfb-handshake-on-loopback", test_vnc_rfb_handshake),
              ("host/seccomp-sandbox-on", test_seccomp_sandbox),
              ("host/numa-host-nodes-policy-bind", test_numa_host_nodes_bind),
              ("host/io-uring-blockdev-writes", test_io_uring_blockdev),
              ("host/pmem-on-nvdimm-backend", test_pmem_backend)])
