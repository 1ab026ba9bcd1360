#!/bin/sh
# Our KVM tests inside the emulated AMD-V host (L1), whose /dev/kvm applies
# TSC offsets; run by busybox sh for tests/acceptance/
# test_precise_tsc_in_host.py.  First the precise-tsc qtest, one process
# per GLib test path (its output to a pipe is buffered: a failed assertion
# aborts the process and loses what it had not written yet, the other
# paths' results with it), then, if the initramfs has Python, each
# acceptance test under /opt/vhm/tree.  Every line a program prints comes
# out as "VHM-TAP NAME LINE", then "VHM-EXIT NAME STATUS" (143: killed by
# its time limit, so that one hanging program still leaves the others
# their turn); NAME is qtest/PATH or the test's file name.
#
# SPDX-License-Identifier: GPL-2.0-or-later

QEMU=${QEMU:?QEMU must name our qemu-system-x86_64 (init sets it)}
QTEST=/opt/vhm/precise-tsc-test
TREE=/opt/vhm/tree
QTEST_LIMIT=30
ACCEPTANCE_LIMIT=150

# run NAME LIMIT COMMAND...
run() {
    name=$1 limit=$2
    shift 2
    echo "VHM-INFO starting $name at $(cut -d' ' -f1 /proc/uptime) s"
    rm -f /tmp/status
    ( timeout "$limit" "$@" 2>&1; echo $? >/tmp/status ) |
        sed "s|^|VHM-TAP $name |"
    echo "VHM-EXIT $name $(cat /tmp/status 2>/dev/null || echo none)"
}

CS=/sys/devices/system/clocksource/clocksource0/current_clocksource
echo "VHM-INFO clocksource=$(cat $CS)"
if [ ! -c /dev/kvm ]; then
    echo "VHM-FAIL no /dev/kvm in L1"
    dmesg | grep -i -E 'kvm|svm' | sed 's/^/VHM-LOG dmesg: /'
fi
export HOME=/tmp TMPDIR=/tmp
export QTEST_QEMU_BINARY=$QEMU
for path in $($QTEST -l | grep '^/'); do
    run qtest$path $QTEST_LIMIT $QTEST --tap -k -p $path
done
if [ -x /usr/bin/python3 ]; then
    cd $TREE
    for t in tests/acceptance/test_*.py; do
        run "$(basename $t .py)" $ACCEPTANCE_LIMIT /usr/bin/python3 -u $t
    done
fi
echo "VHM-DONE"
