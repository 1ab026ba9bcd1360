#!/usr/bin/env python3
#
# precise-tsc between two emulated AMD-V hosts whose TSCs differ.
# The code is the vhm package's bench_precise_tsc_2host module
# (tests/acceptance/vhm), which the acceptance tests import too; its
# docstring says what is measured and how.
#
# usage: scripts/bench-precise-tsc-2host.py [ROUNDS] [--cases "on off"]
#            [--stagger S] [--downtime S] [--keep] [-v]
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "acceptance"))
from vhm import bench_precise_tsc_2host  # noqa: E402

if __name__ == "__main__":
    sys.exit(bench_precise_tsc_2host.main())
