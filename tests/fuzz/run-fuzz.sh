#!/bin/sh
# Build the memory-map planner's libFuzzer target and run it for a bounded
# time; print the result as TAP for tests/run-tests.py.
#
# usage: tests/fuzz/run-fuzz.sh BUILD_DIR SECONDS
#
# A crash, a hang (> 5 s on one input), a leak or a broken invariant fails
# and leaves the reproducer in BUILD_DIR/fuzz/ (replay it by passing the
# file to BUILD_DIR/fuzz/virt-hotmem-layout-fuzz).
set -u
build=${1:?usage: run-fuzz.sh BUILD_DIR SECONDS}
seconds=${2:?usage: run-fuzz.sh BUILD_DIR SECONDS}
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$build/fuzz
name=virt-hotmem-layout

echo "1..1"
if ! command -v clang >/dev/null 2>&1; then
    echo "ok 1 fuzz/$name # SKIP clang is not installed (scripts/install-deps.sh build installs it)"
    exit 0
fi
mkdir -p "$out/$name-corpus"
if [ ! -f "$build/libqemuutil.a" ]; then
    echo "not ok 1 fuzz/$name: $build/libqemuutil.a is missing (run make build first)"
    exit 1
fi
# The planner is built as QEMU builds it (osdep.h, the configured
# config-host.h) and linked with QEMU's util library, like the unit tests.
qemu=$src/assembled/qemu
[ -d "$qemu" ] || qemu=$(cd "$build/.." && pwd)/assembled/qemu
if ! clang -g -O1 -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
        -Wno-sign-compare -Wno-missing-field-initializers -Werror \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -D_LARGEFILE_SOURCE \
        -I "$src/include" -iquote "$build" -iquote "$qemu" \
        -iquote "$qemu/include" -iquote "$qemu/host/include/$(uname -m)" \
        -iquote "$qemu/host/include/generic" -isystem "$qemu/linux-headers" \
        $(pkg-config --cflags glib-2.0) \
        "$src/tests/fuzz/$name-fuzz.c" "$src/hw/arm/$name.c" "$src/hw/arm/virt-hotmem-reserved.c" \
        "$build/libqemuutil.a" $(pkg-config --libs glib-2.0) -lm -lrt -pthread \
        -o "$out/$name-fuzz" 2>"$out/build.log"; then
    sed 's/^/# /' "$out/build.log"
    echo "not ok 1 fuzz/$name: building with clang -fsanitize=fuzzer failed"
    exit 1
fi
"$out/$name-fuzz" -max_total_time="$seconds" -timeout=5 -print_final_stats=1 \
    -artifact_prefix="$out/" "$out/$name-corpus" >"$out/run.log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/run.log")
if [ $rc -eq 0 ]; then
    echo "ok 1 fuzz/$name: ${execs:-?} inputs in $seconds s, no crash, hang, leak or broken invariant"
else
    tail -n 40 "$out/run.log" | sed 's/^/# /'
    echo "not ok 1 fuzz/$name: exit $rc (reproducer in $out/)"
fi
exit $rc
