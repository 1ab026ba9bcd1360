#!/usr/bin/env python3
#
# Acceptance: scripts/memory-map-svg.py draws a running virt-hotmem's memory
# map from its QMP socket: one rectangle per region of query-memory-layout
# and per memory device (a virtio-mem device here), on a log-scale axis.
# The expected addresses are worked out here from the command line, not
# read from the script.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

SCRIPT = os.path.join(guest.ROOT, "scripts", "memory-map-svg.py")
SVG = "{http://www.w3.org/2000/svg}"


def rects(path):
    """{title: (y_top, y_bottom)} of the picture's rectangles."""
    out = {}
    for r in ET.parse(path).getroot().iter(SVG + "rect"):
        t = r.find(SVG + "title")
        if t is not None:
            y = float(r.get("y"))
            out[t.text] = (y, y + float(r.get("height")))
    return out


def find(boxes, pattern):
    hits = [v for k, v in boxes.items() if re.search(pattern, k)]
    assert len(hits) == 1, (pattern, sorted(boxes))
    return hits[0]


def test_svg_of_running_vm():
    tmp = tempfile.mkdtemp(prefix="vhm-svg-")
    sock = os.path.join(tmp, "qmp2.sock")
    out = os.path.join(tmp, "map.svg")
    # 2 GiB of RAM at virt's 1 GiB base; a 512 MiB virtio-mem device.
    args = ["-M", "virt-hotmem", "-accel", "tcg", "-cpu", "max",
            "-m", "2G,maxmem=4G", "-S",
            "-object", "memory-backend-ram,id=vmem-ram,size=512M",
            "-device", "virtio-mem-pci,id=vmem0,memdev=vmem-ram,"
                       "requested-size=0",
            "-qmp", "unix:%s,server=on,wait=off" % sock]
    try:
        with guest.VM(args, name="svg") as vm:
            p = subprocess.run([sys.executable, SCRIPT, sock, out],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            assert p.returncode == 0, p.stdout.decode(errors="replace")
            vmem = vm.qmp.cmd("qom-get", path="/machine/peripheral/vmem0",
                              property="memaddr")
        boxes = rects(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ram = find(boxes, r"\(ram\): 0x40000000-0xbfffffff, 2 GiB")
    dev = find(boxes, r"^vmem0 \(virtio-mem\): %#x-%#x, 512 MiB" %
               (vmem, vmem + (512 << 20) - 1))
    # Higher addresses are higher up in the picture.
    assert dev[1] <= ram[0], (dev, ram)
    # Log scale: [1 GiB, 2 GiB) and [2 GiB, 4 GiB) are equally tall, so the
    # 2 GiB bank at 1 GiB is log2(3) / 1 times as tall as the span of one
    # doubling; and any region's height depends on base and size alone.
    unit = ram[1] - ram[0]
    assert unit > 10, ram
    height = dev[1] - dev[0]
    want = unit * math.log2((vmem + (512 << 20)) / vmem) / math.log2(3)
    assert abs(height - want) < 0.5, (height, want)


def test_bad_socket():
    missing = os.path.join(tempfile.gettempdir(), "vhm-no-such-qmp.sock")
    p = subprocess.run([sys.executable, SCRIPT, missing, "/dev/null"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    err = p.stderr.decode().strip()
    assert p.returncode == 1 and len(err.splitlines()) == 1, (p.returncode, err)
    assert missing in err, err


if __name__ == "__main__":
    tap.main([("memory-map-svg/running-vm", test_svg_of_running_vm),
              ("memory-map-svg/bad-socket", test_bad_socket)])
