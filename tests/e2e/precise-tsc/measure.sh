#!/bin/sh
# The precise-tsc measurement, run by busybox sh inside the emulated AMD-V
# host (L1).  For each round and each mode it starts two of our QEMUs
# (-accel kvm,precise-tsc=MODE, 2 vCPUs, the real-mode L2 guest), lets the
# source run, stops it, waits DOWNTIME seconds, migrates it over a unix
# socket to the destination (started with -S) and continues the
# destination.  Ground truth is KVM's debugfs: the TSC offsets KVM really
# applies, read on the stopped source and on the running destination.  On
# one host a perfect restore leaves every offset unchanged.
#
# Output, one line per vCPU and measurement, on the serial console:
#   VHM-RESULT round=R mode=on|off vcpu=N src_offset=.. dst_offset=..
#     error_cycles=.. error_ns=.. skew_cycles=.. downtime_ns=.. khz=..
#     elapsed_ns=.. uncertainty_ns=.. qmode=..
# and VHM-FAIL / VHM-TRACE / VHM-LOG lines for the host-side script.
#
# usage: measure.sh ROUNDS DOWNTIME_S "MODES"
#
# SPDX-License-Identifier: GPL-2.0-or-later

rounds=${1:-3}
downtime=${2:-2}
modes=${3:-on off}
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

run_one() { # run_one ROUND MODE
    r=$1; mode=$2
    dir=/tmp/r$r-$mode
    rm -rf "$dir"; mkdir -p "$dir"
    common="-M pc -accel kvm,precise-tsc=$mode -smp 2 -m 16 -nodefaults
            -display none -bios $L2 -L /usr/share/qemu -trace kvm_tsc_*"

    $QEMU $common -qmp unix:$dir/dst.qmp,server=on,wait=off \
        -incoming unix:$dir/mig.sock -S -D $dir/dst.log 2>$dir/dst.err &
    dpid=$!
    $QEMU $common -qmp unix:$dir/src.qmp,server=on,wait=off \
        -D $dir/src.log 2>$dir/src.err &
    spid=$!

    if ! $QMP -w 60 $dir/src.qmp '{"execute":"query-status"}' >/dev/null ||
       ! $QMP -w 60 $dir/dst.qmp '{"execute":"query-status"}' >/dev/null; then
        echo "VHM-FAIL round=$r mode=$mode QEMU did not start"
        cat $dir/src.err $dir/dst.err | sed 's/^/VHM-LOG stderr: /'
        stop_qemus $spid $dpid; return 1
    fi
    sleep 1     # let the source's guest run

    out=$($QMP -t $dir/src.qmp '{"execute":"stop"}')
    t_stop=$(echo "$out" | sed -n 's/^TS //p')
    src=$(offsets $spid) || { echo "VHM-FAIL round=$r mode=$mode no debugfs for source"; stop_qemus $spid $dpid; return 1; }
    sleep "$downtime"
    $QMP $dir/src.qmp '{"execute":"migrate","arguments":{"uri":"unix:'$dir/mig.sock'"}}' >/dev/null
    st=
    i=0
    while [ $i -lt 600 ]; do
        st=$(field status "$($QMP $dir/dst.qmp '{"execute":"query-status"}')")
        [ "$st" != inmigrate ] && break
        usleep 50000; i=$((i + 1))
    done
    if [ "$st" != paused ]; then
        echo "VHM-FAIL round=$r mode=$mode destination status '$st' after migration"
        $QMP $dir/src.qmp '{"execute":"query-migrate"}' | sed 's/^/VHM-LOG query-migrate: /'
        cat $dir/src.err $dir/dst.err | sed 's/^/VHM-LOG stderr: /'
        stop_qemus $spid $dpid; return 1
    fi
    out=$($QMP -t $dir/dst.qmp '{"execute":"cont"}')
    t_cont=$(echo "$out" | sed -n 's/^TS //p')
    dst=$(offsets $dpid) || { echo "VHM-FAIL round=$r mode=$mode no debugfs for destination"; stop_qemus $spid $dpid; return 1; }
    q=$($QMP $dir/dst.qmp '{"execute":"query-precise-tsc"}')
    echo "VHM-QUERY round=$r mode=$mode $q"
    stop_qemus $spid $dpid

    downtime_ns=$((t_cont - t_stop))
    elapsed=$(field elapsed-ns "$q"); [ -n "$elapsed" ] || elapsed=none
    unc=$(field uncertainty-ns "$q"); [ -n "$unc" ] || unc=none
    qmode=$(field mode "$q"); [ -n "$qmode" ] || qmode=none
    set -- $src; s0=$1; s1=$2
    set -- $dst; d0=$1; d1=$2
    skew=$(( (d1 - d0) - (s1 - s0) ))
    v=0
    for pair in "$s0 $d0" "$s1 $d1"; do
        set -- $pair
        err=$(( $2 - $1 ))
        echo "VHM-RESULT round=$r mode=$mode vcpu=$v src_offset=$1 dst_offset=$2 error_cycles=$err error_ns=$(( err * 1000000 / khz )) skew_cycles=$skew downtime_ns=$downtime_ns khz=$khz elapsed_ns=$elapsed uncertainty_ns=$unc qmode=$qmode"
        v=$((v + 1))
    done
    for side in src dst; do
        sed "s|^|VHM-TRACE round=$r mode=$mode $side: |" $dir/$side.log
        sed "s|^|VHM-LOG round=$r mode=$mode $side stderr: |" $dir/$side.err
    done
    return 0
}

echo "VHM-INFO khz=$khz clocksource=$(cat /sys/devices/system/clock*/clock*/current_clocksource 2>/dev/null)"
fails=0
r=1
while [ $r -le "$rounds" ]; do
    for mode in $modes; do
        echo "VHM-INFO starting round=$r mode=$mode"
        run_one $r $mode || fails=$((fails + 1))
    done
    r=$((r + 1))
done
echo "VHM-DONE fails=$fails"
