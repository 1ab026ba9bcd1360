#!/bin/sh
# Shared by measure.sh (one host) and host.sh (one of two hosts): sourced by
# busybox sh inside the emulated AMD-V host (L1).  Sets khz, this host's
# TSC frequency as its kernel calibrated it, and DBG; defines the helpers
# that read KVM's debugfs and the L2 guest's kvmclock samples.
#
# SPDX-License-Identifier: GPL-2.0-or-later

QEMU=${QEMU:?QEMU must name our qemu-system-x86_64 (init sets it)}
L2=${L2:-/l2/l2guest.bin}
QMP=${QMP:-/bin/qmp}
DBG=/sys/kernel/debug/kvm

# The guest TSC rate: KVM's default for a guest is the host's tsc_khz.
khz=$(dmesg | sed -n 's/.*tsc: Refined TSC clocksource calibration: \([0-9]*\)\.\([0-9]*\) MHz.*/\1\2/p' | tail -n 1)
[ -n "$khz" ] || khz=$(dmesg | sed -n 's/.*tsc: Detected \([0-9]*\)\.\([0-9]*\) MHz.*/\1\2/p' | tail -n 1)
[ -n "$khz" ] || { echo "VHM-FAIL no TSC frequency in dmesg"; exit 1; }

field() {   # field NAME JSON: a number or bare string value of "NAME"
    echo "$2" | sed -n "s/.*\"$1\": *\"\{0,1\}\([-a-z0-9]*\).*/\1/p" | head -n 1
}

vm_dir() {  # the debugfs directory of the VM of process $1
    for d in $DBG/$1-*; do
        [ -d "$d" ] && { echo "$d"; return 0; }
    done
    return 1
}

offsets() { # offsets PID: "off0 off1"
    d=$(vm_dir "$1") || return 1
    echo "$(cat $d/vcpu0/tsc-offset) $(cat $d/vcpu1/tsc-offset)"
}

dump_logs() {
    for f in "$1"/*.log; do
        [ -f "$f" ] && sed "s|^|VHM-LOG $(basename $f): |" "$f"
    done
}

stop_qemus() {
    for p in "$@"; do
        kill "$p" 2>/dev/null
    done
    for p in "$@"; do
        wait "$p" 2>/dev/null
    done
}

guest_sample() {    # guest_sample QMP_SOCKET: "tsc version tsc_timestamp system_time mul shift"
    out=$($QMP $1 '{"execute":"human-monitor-command","arguments":{"command-line":"xp /5gx 0x1100"}}')
    set -- $(echo "$out" | grep -o '0x[0-9a-f]\{16\}')
    [ $# -eq 5 ] || { echo none; return; }
    shift8=$(( ($5 >> 32) & 0xff ))
    [ $shift8 -gt 127 ] && shift8=$((shift8 - 256))
    echo "$(($1)) $(($2 & 0xffffffff)) $(($3)) $(($4)) $(($5 & 0xffffffff)) $shift8"
}

# How far the guest's own kvmclock-to-TSC relationship moved: the kvmclock
# the destination's pvclock structure gives for the destination's TSC
# sample, minus what the source's pvclock structure gives for it (the
# source's clock run on over the TSC's advance).  0 when kvmclock and the
# TSC advanced alike.  Read by the guest itself (l2guest.S), on vCPU 0.
guest_kvmclock_move() { # guest_kvmclock_move SRC_SAMPLE DST_SAMPLE
    [ "$1" = none ] || [ "$2" = none ] && { echo none; return; }
    echo "$1 $2" | awk '
        function kvmclock(tsc, ts, st, mul, sh,    d) {
            d = tsc - ts    # busybox awk has no ^
            for (; sh > 0; sh--) d = d * 2
            for (; sh < 0; sh++) d = d / 2
            return st + d * mul / 4294967296
        }
        {
            if ($2 == 0 || $8 == 0 || $2 % 2 || $8 % 2) { print "none"; exit }
            printf "%d", kvmclock($7, $9, $10, $11, $12) - \
                         kvmclock($7, $3, $4, $5, $6)
        }'
}

# tsc_cpu CASE [KHZ]: the -cpu option of the L2 guest for CASE (MODE@PPM:
# PPM parts per million above KHZ, by default this host's TSC frequency),
# empty otherwise.
tsc_cpu() {
    case $1 in
    *@*)
        ppm=${1#*@}
        ppm=${ppm%%+*}
        echo "-cpu qemu64,tsc-frequency=$(( ${2:-$khz} * (1000000 + ppm) / 1000000 * 1000 ))"
        ;;
    esac
}

# l2_args PRECISE CPU: the options both L2 QEMUs of a migration share;
# PRECISE is on, off or catchup (on, with precise-tsc-catch-up=on).
# L2_MACHINE (init sets it) is a versioned machine type when the two L2
# QEMUs are of two QEMU versions: "pc" is each one's newest.
l2_args() {
    accel=precise-tsc=$1
    [ "$1" = catchup ] && accel=precise-tsc=on,precise-tsc-catch-up=on
    echo "-M ${L2_MACHINE:-pc} -accel kvm,$accel $2 -smp 2 -m 16 -nodefaults
          -display none -bios $L2 -L /usr/share/qemu -trace kvm_tsc_*"
}

# print_traces ROUND CASE DIR SIDE...: each side's kvm_tsc_* traces and stderr
print_traces() {
    r=$1; m=$2; d=$3; shift 3
    for side in "$@"; do
        sed "s|^|VHM-TRACE round=$r mode=$m $side: |" $d/$side.log
        sed "s|^|VHM-LOG round=$r mode=$m $side stderr: |" $d/$side.err
    done
}

# wait_migration QMP_SOCKET: poll the source's query-migrate for up to
# 30 s, until the migration ended; prints its last status.
wait_migration() {
    i=0; st=
    while [ $i -lt 600 ]; do
        st=$(field status "$($QMP $1 '{"execute":"query-migrate"}')")
        case $st in completed|failed|cancelled) break ;; esac
        usleep 50000; i=$((i + 1))
    done
    echo "$st"
}
