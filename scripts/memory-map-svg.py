#!/usr/bin/env python3
#
# Draw a running QEMU's guest-physical memory map as an SVG picture: the
# planned layout from QMP query-memory-layout (RAM banks, device memory,
# MMIO, high MMIO, reserved) on a log-scale address axis, with the memory
# devices from query-memory-devices (hot-added DIMMs, NVDIMMs, virtio-mem)
# drawn in colour over the device-memory window.  The code is the vhm
# package's memory_map_svg module (tests/acceptance/vhm), which
# scripts/demo.py and the tests use too.
#
# usage: scripts/memory-map-svg.py QMP-SOCKET OUTPUT.svg
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "acceptance"))
from vhm import memory_map_svg  # noqa: E402

if __name__ == "__main__":
    sys.exit(memory_map_svg.main(sys.argv))
