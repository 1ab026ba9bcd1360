#!/bin/sh
# Apply patches/*.patch, in order, to the QEMU tree DIR.
#
# usage: scripts/apply-patches.sh DIR
#
# One stack for every base: where a hook must differ on QEMU X.Y (its
# context or the code it fixes moved), patches/X.Y/NNNN-*.patch, with the
# number of the patch it stands for, replaces patches/NNNN-*.patch on a
# tree whose VERSION is X.Y.z.  A patches/X.Y/NNNN-*.patch whose number no
# patches/NNNN-*.patch has is a hook that only QEMU X.Y needs (upstream
# X.Y changed something our older machine types must keep); it applies
# there in number order.  README.md's patch table says which and why.
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

series=$(echo "$version" | cut -d. -f1,2)

# The variant of patch $1 for this tree's series, if there is one.
variant() {
    num=$(basename "$1" | cut -d- -f1)
    set -- "$src_dir/patches/$series/$num"-*.patch
    [ -f "$1" ] || return 0
    [ $# = 1 ] || { echo "apply-patches: more than one patches/$series/$num-*.patch" >&2; exit 1; }
    echo "$1"
}

# A variant carries the name of the patch it stands for: one whose number
# matches but whose name does not is a mistake, not a base-only patch.
for v in "$src_dir/patches/$series"/*.patch; do
    [ -f "$v" ] || continue
    num=$(basename "$v" | cut -d- -f1)
    set -- "$src_dir/patches/$num"-*.patch
    [ -f "$1" ] || continue
    [ "$(basename "$1")" = "$(basename "$v")" ] || {
        echo "apply-patches: patches/$series/$(basename "$v") has the number of patches/$(basename "$1") but not its name" >&2
        exit 1
    }
done

GIT_CEILING_DIRECTORIES=$(dirname "$tree")
export GIT_CEILING_DIRECTORIES
# The stack's patches and this base's own, in number order
stack=$(for p in "$src_dir"/patches/*.patch "$src_dir/patches/$series"/*.patch; do
            [ -f "$p" ] && basename "$p"
        done | sort -u)
for p in $stack; do
    p=$src_dir/patches/$p
    if [ ! -f "$p" ]; then
        p=$src_dir/patches/$series/$(basename "$p")
    else
        v=$(variant "$p")
        p=${v:-$p}
    fi
    name=${p#"$src_dir"/patches/}
    if ! (cd "$tree" && git apply --check "$p") >/dev/null 2>&1; then
        echo "apply-patches: patch $name does not apply to QEMU $version" >&2
        exit 1
    fi
    (cd "$tree" && git apply "$p")
done
