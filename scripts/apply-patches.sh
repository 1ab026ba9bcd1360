#!/bin/sh
# Apply patches/*.patch, in order, to the QEMU tree DIR.
#
# usage: scripts/apply-patches.sh DIR
#
# With git apply rather than patch(1): a hook that deliberately changes what
# a stock machine's guest sees carries the new expected ACPI tables of
# QEMU's bios-tables-test (binary files), as upstream's patches do, and
# only git's binary diffs can.  DIR lies inside this repository's work
# tree (assembled/), so git must not take it for part of this repository:
# GIT_CEILING_DIRECTORIES stops its search at DIR's parent.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -eu

src_dir=$(cd "$(dirname "$0")/.." && pwd)
[ $# = 1 ] && [ -d "$1" ] || { echo "usage: $0 DIR" >&2; exit 2; }
tree=$(cd "$1" && pwd)
version=$(cat "$tree/VERSION" 2>/dev/null || echo unknown)

GIT_CEILING_DIRECTORIES=$(dirname "$tree")
export GIT_CEILING_DIRECTORIES
for p in "$src_dir"/patches/*.patch; do
    [ -f "$p" ] || continue
    if ! (cd "$tree" && git apply --check "$p") >/dev/null 2>&1; then
        echo "apply-patches: patch $(basename "$p") does not apply to QEMU $version" >&2
        exit 1
    fi
    (cd "$tree" && git apply "$p")
done
