#
# Draw a running QEMU's guest-physical memory map as an SVG picture: the
# planned layout from QMP query-memory-layout (RAM banks, device memory,
# MMIO, high MMIO, reserved) on a log-scale address axis, with the memory
# devices from query-memory-devices (hot-added DIMMs, NVDIMMs, virtio-mem)
# drawn in colour over the device-memory window.
#
# The command is scripts/memory-map-svg.py QMP-SOCKET OUTPUT.svg; scripts/
# demo.py calls write_svg() directly.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import math
import os
import sys
from xml.sax.saxutils import escape

from . import guest

COLOURS = {"ram": "#4caf50", "device-memory": "#bbdefb", "mmio": "#ffb74d",
           "high-mmio": "#ff8a65", "reserved": "#bdbdbd",
           "dimm": "#1e88e5", "nvdimm": "#8e24aa", "virtio-mem": "#00897b"}
WIDTH, HEIGHT, TOP, AXIS_X, BAR_X, BAR_W = 900, 640, 40, 150, 170, 260
# Addresses below 64 KiB are drawn at 64 KiB: a log axis has no zero.
LOW = 1 << 16


def human(n):
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            if n % (1 << shift) == 0:
                return "%d %s" % (n >> shift, unit)
            return "%.1f %s" % (n / (1 << shift), unit)
    return "%d B" % n


def memory_devices(devices):
    """(name, kind, base, size) of each memory device QEMU reports."""
    out = []
    for d in devices:
        data, kind = d.get("data", {}), d.get("type")
        if kind == "virtio-mem":
            # The window it occupies, whatever the guest has plugged so far.
            base, size = data.get("memaddr"), data.get("max-size")
        else:
            base, size = data.get("addr"), data.get("size")
        if base is not None and size:
            out.append((data.get("id") or kind, kind, base, size))
    return out


def render(layout, devices):
    """The SVG text for a query-memory-layout result and the
    memory_devices() list."""
    regions = layout["regions"]
    top = max([layout["highest-gpa"] + 1] +
              [r["base"] + r["size"] for r in regions] +
              [b + s for _, _, b, s in devices])
    lo, hi = math.log2(LOW), math.log2(max(top, LOW * 2))
    span = HEIGHT - TOP - 20

    def y(addr):
        # Low addresses at the bottom, as in a memory-map diagram.
        return TOP + span - (math.log2(max(addr, LOW)) - lo) / (hi - lo) * span

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (WIDTH, HEIGHT),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="20" font-size="14">guest-physical memory map '
           '(log scale), %d-bit IPA, highest GPA %#x</text>' %
           (layout["ipa-bits"], layout["highest-gpa"])]
    # Axis: one tick per power of 4 from 64 KiB to the top.
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' %
               (AXIS_X, TOP, AXIS_X, TOP + span))
    p = int(lo)
    while p <= hi:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black"/>'
                   '<text x="%d" y="%.1f" text-anchor="end">%s</text>' %
                   (AXIS_X - 4, y(1 << p), AXIS_X, y(1 << p),
                    AXIS_X - 8, y(1 << p) + 4, human(1 << p)))
        p += 2

    def box(name, kind, base, size, x, w):
        y0, y1 = y(base + size), y(base)
        out.append('<rect x="%d" y="%.1f" width="%d" height="%.1f" '
                   'fill="%s" stroke="black" stroke-width="0.5">'
                   '<title>%s</title></rect>' %
                   (x, y0, w, max(y1 - y0, 1.0), COLOURS.get(kind, "#eeeeee"),
                    escape("%s (%s): %#x-%#x, %s" % (name, kind, base,
                                                     base + size - 1,
                                                     human(size)))))
        return y0, y1

    labels = []
    for r in sorted(regions, key=lambda r: r["base"]):
        y0, y1 = box(r["name"], r["kind"], r["base"], r["size"], BAR_X, BAR_W)
        labels.append(((y0 + y1) / 2, "%s %s: %#x, %s" % (
            r["kind"], r["name"], r["base"], human(r["size"]))))
    for name, kind, base, size in devices:
        y0, y1 = box(name, kind, base, size, BAR_X + 20, BAR_W - 40)
        labels.append(((y0 + y1) / 2, "%s %s: %#x, %s" % (
            kind, name, base, human(size))))
    # Labels on the right, pushed apart so that none overlap.
    last = -1e9
    for ly, text in sorted(labels):
        ly = max(ly, last + 13)
        last = ly
        out.append('<text x="%d" y="%.1f">%s</text>' %
                   (BAR_X + BAR_W + 20, ly + 4, escape(text)))
    out.append("</svg>")
    # Many small regions push the labels below the axis: grow the picture.
    out[0] = out[0].replace('height="%d"' % HEIGHT,
                            'height="%d"' % max(HEIGHT, last + 20))
    return "\n".join(out) + "\n"


def write_svg(qmp, path):
    """Query @qmp (a guest.QMP) and write the picture to @path."""
    svg = render(qmp.cmd("query-memory-layout"),
                 memory_devices(qmp.cmd("query-memory-devices")))
    with open(path, "w") as f:
        f.write(svg)


def main(argv):
    if len(argv) != 3:
        print("usage: %s QMP-SOCKET OUTPUT.svg" % argv[0], file=sys.stderr)
        return 2
    if not os.path.exists(argv[1]):
        print("memory-map-svg: %s: no such QMP socket" % argv[1],
              file=sys.stderr)
        return 1
    try:
        qmp = guest.QMP(argv[1], timeout=10)
    except (guest.GuestError, OSError) as e:
        print("memory-map-svg: %s: %s" % (argv[1], e), file=sys.stderr)
        return 1
    try:
        write_svg(qmp, argv[2])
    except (guest.GuestError, OSError) as e:
        print("memory-map-svg: %s" % e, file=sys.stderr)
        return 1
    finally:
        qmp.close()
    print("memory-map-svg: wrote %s" % argv[2])
    return 0

