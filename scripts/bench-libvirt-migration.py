#!/usr/bin/env python3
#
# virsh migrate between two libvirt hosts, stock virt against
# virt-hotmem.  The code is the vhm package's bench_libvirt_migration
# module (tests/acceptance/vhm); its docstring says what is measured.
#
# usage: scripts/bench-libvirt-migration.py [ROUNDS]
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "acceptance"))
from vhm import bench_libvirt_migration  # noqa: E402

if __name__ == "__main__":
    sys.exit(bench_libvirt_migration.main())
