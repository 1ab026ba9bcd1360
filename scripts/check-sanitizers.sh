#!/bin/bash
#
# make check-sanitizers: 1000 memory hotplug/unplug cycles (scripts/
# hotplug-cycles.py) on a qemu-system-aarch64 built with ASan and UBSan in
# its own build directory, then the same cycles on the normal build with
# its RSS printed before and after.  Not part of make check: the sanitizer
# build alone takes many minutes.
#
# The sanitizer build reuses the normal build's configuration (the
# command line build/config.status records) with one target and
# --enable-asan --enable-ubsan appended.
#
# usage: scripts/check-sanitizers.sh [BUILD [SANITIZER-BUILD [NINJA]]]
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -e -o pipefail

build=${1:-build}
san=${2:-build-sanitizers}
cycles=${CYCLES:-1000}
ninja=${3:-ninja}
root=$(cd "$(dirname "$0")/.." && pwd)

timed() {
    local what=$1 t0 rc=0
    shift
    t0=$(date +%s.%N)
    "$@" || rc=$?
    awk -v a="$t0" -v b="$(date +%s.%N)" -v w="$what" \
        'BEGIN { printf "check-sanitizers: %s took %.1f s\n", w, b - a }'
    return $rc
}

[ -x "$build/config.status" ] || {
    echo "check-sanitizers: $build/config.status missing: run make build" >&2
    exit 1
}
config_status=$(cd "$build" && pwd)/config.status
if [ ! -f "$san/build.ninja" ]; then
    mkdir -p "$san"
    (cd "$san" && timed configure "$config_status" \
        --target-list=aarch64-softmmu --enable-asan --enable-ubsan \
        > configure.log 2>&1) || {
        tail -n 20 "$san/configure.log" >&2
        exit 1
    }
fi
timed "sanitizer build" $ninja -C "$san" qemu-system-aarch64 | grep -v '^\['

# Any report fails the run: UBSan aborts on its first finding, ASan always
# does; leaks are reported when QEMU exits.
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
timed "$cycles cycles under ASan+UBSan" python3 \
    "$root/scripts/hotplug-cycles.py" "$san/qemu-system-aarch64" "$cycles"
unset UBSAN_OPTIONS ASAN_OPTIONS
timed "$cycles cycles, normal build" python3 \
    "$root/scripts/hotplug-cycles.py" "$build/qemu-system-aarch64" "$cycles"
