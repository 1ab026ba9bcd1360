#!/usr/bin/env python3
#
# Boot time of a distribution-style UEFI disk to userspace: virt-hotmem
# with its EDK II against stock virt with AAVMF.  The code is the vhm
# package's bench_uefi_boot module (tests/acceptance/vhm); its docstring
# says what is measured.
#
# usage: scripts/bench-uefi-boot.py [ROUNDS]
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "acceptance"))
from vhm import bench_uefi_boot  # noqa: E402

if __name__ == "__main__":
    sys.exit(bench_uefi_boot.main())
