#!/usr/bin/env python3
#
# Acceptance: networking as a user expects it.
# - A plain start of -M virt-hotmem, -M q35 and -M pc (default NIC, no
#   -nodefaults) prints nothing on stderr: the boards' default NICs are built.
# - -nic user (slirp) works in the Debian arm64 guest on virt-hotmem: the
#   guest's virtio-net gets a DHCP lease from the network and start address
#   this test chose.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

NET_MODULES = guest.VIRTIO_NET_MODULES


def check_plain_start_is_quiet(binary, machine):
    tmp = tempfile.mkdtemp(prefix="vhm-net-")
    sock = os.path.join(tmp, "qmp.sock")
    argv = [binary, "-M", machine, "-accel", "tcg", "-display", "none",
            "-monitor", "none", "-serial", "none", "-S",
            "-qmp", "unix:%s,server=on,wait=off" % sock]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        qmp = guest.QMP(sock)
        network = qmp.cmd("human-monitor-command",
                          **{"command-line": "info network"})
        qmp.execute("quit")
        qmp.close()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    assert err.decode().strip() == "", "%s -M %s: %s" % (
        os.path.basename(binary), machine, err.decode().strip())
    # The board's default NIC is there, on the default user network.
    assert "type=nic" in network and "type=user" in network, network


def test_quiet_virt_hotmem():
    check_plain_start_is_quiet(guest.QEMU_AARCH64, "virt-hotmem")


def test_quiet_q35():
    check_plain_start_is_quiet(guest.QEMU_X86_64, "q35")


def test_quiet_pc():
    check_plain_start_is_quiet(guest.QEMU_X86_64, "pc")


def test_nic_user_dhcp():
    with guest.arm64_guest(
            modules=NET_MODULES, name="net",
            extra=["-nic", "user,model=virtio-net-pci,net=10.77.3.0/24,"
                   "dhcpstart=10.77.3.40"]) as vm:
        vm.wait_shell()
        for m in NET_MODULES:
            vm.check("insmod /modules/" + os.path.basename(m))
        vm.check("ip link set eth0 up")
        out = vm.check("udhcpc -i eth0 -n -q -t 5 -T 2 -s /bin/true 2>&1",
                       timeout=60)
    # slirp's DHCP server is the network's .2, the first lease dhcpstart.
    assert "lease of 10.77.3.40 obtained" in out, out
    assert "from 10.77.3.2" in out, out


if __name__ == "__main__":
    tap.main([("net/plain-start-quiet/virt-hotmem", test_quiet_virt_hotmem),
              ("net/plain-start-quiet/q35", test_quiet_q35),
              ("net/plain-start-quiet/pc", test_quiet_pc),
              ("net/nic-user-dhcp-in-arm64-guest", test_nic_user_dhcp)])
