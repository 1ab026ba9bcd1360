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
#     elapsed_ns=.. uncertainty_ns=.. qmode=.. kvmclock_move_ns=..
# and VHM-FAIL / VHM-TRACE / VHM-LOG lines for the host-side script.
#
# usage: measure.sh ROUNDS DOWNTIME_S "CASES"
#
# A case is MODE (on or off) or MODE@PPM: the L2 guest then gets
# -cpu qemu64,tsc-frequency= PPM parts per million above this host's TSC
# frequency.  Within KVM's tsc_tolerance_ppm KVM does not scale: the guest
# TSC runs at the host's rate, and a perfect restore still leaves the
# offsets unchanged.  MODE+leap inserts a leap second during the pause
# (/bin/leap: CLOCK_REALTIME one second back, the TAI offset one up); the
# true pause is unchanged.  Results carry mode=CASE.
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

record() {  # record FIELD LOGFILE first|last: a field of a kvm_tsc_record trace
    sed -n "s/.*kvm_tsc_record .* $1 \([0-9]*\).*/\1/p" "$2" |
        if [ "$3" = first ]; then head -n 1; else tail -n 1; fi
}

# How far the relationship between kvmclock and vCPU 0's TSC moved across
# the migration, in ns.  KVM_GET_CLOCK's own (realtime, host TSC, kvmclock)
# triples, recorded by each QEMU when its VM stops (the source before the
# migration, the destination when it is killed), and the debugfs offsets
# give kvmclock and the guest TSC at two instants; the TSC's rate comes
# from the same two triples (one host, no NTP in L1):
#   move = dkvmclock - dguest_tsc * drealtime / dhost_tsc
# (drealtime plus the leap second that stepped CLOCK_REALTIME back)
kvmclock_move() {   # kvmclock_move DIR SRC_OFFSET DST_OFFSET [LEAP_NS]
    ks=$(record kvmclock $1/src.log first); kd=$(record kvmclock $1/dst.log last)
    hs=$(record host_tsc $1/src.log first); hd=$(record host_tsc $1/dst.log last)
    rs=$(record realtime $1/src.log first); rd=$(record realtime $1/dst.log last)
    if [ -z "$ks" ] || [ -z "$kd" ] || [ "$hs" = "$hd" ]; then
        echo none; return
    fi
    # integers first (exact in 64 bits), the one product in floating point
    dk=$((kd - ks)); dh=$((hd - hs)); dr=$((rd - rs + ${4:-0}))
    dg=$(( (hd + $3) - (hs + $2) ))
    awk -v dk=$dk -v dg=$dg -v dr=$dr -v dh=$dh \
        'BEGIN { printf "%d", dk - dg * dr / dh }'
}

run_one() { # run_one ROUND CASE
    r=$1; mode=$2
    precise=${mode%%[@+]*}
    cpu=
    leap=
    ppm=
    case $mode in
    *+leap) leap=1 ;;
    esac
    case $mode in
    *@*)
        ppm=${mode#*@}
        cpu="-cpu qemu64,tsc-frequency=$(( khz * (1000000 + ppm) / 1000000 * 1000 ))"
        ;;
    esac
    dir=/tmp/r$r-$precise-${ppm:-0}-${leap:-0}
    rm -rf "$dir"; mkdir -p "$dir"
    common="-M pc -accel kvm,precise-tsc=$precise $cpu -smp 2 -m 16 -nodefaults
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
    if [ -n "$leap" ]; then
        echo "VHM-INFO $(/bin/leap 2>&1)"
    fi
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
    # CLOCK_REALTIME stepped back by the leap second; the pause did not
    [ -n "$leap" ] && downtime_ns=$((downtime_ns + 1000000000))
    elapsed=$(field elapsed-ns "$q"); [ -n "$elapsed" ] || elapsed=none
    unc=$(field uncertainty-ns "$q"); [ -n "$unc" ] || unc=none
    qmode=$(field mode "$q"); [ -n "$qmode" ] || qmode=none
    set -- $src; s0=$1; s1=$2
    set -- $dst; d0=$1; d1=$2
    skew=$(( (d1 - d0) - (s1 - s0) ))
    kvmclock_move=$(kvmclock_move $dir $s0 $d0 ${leap:+1000000000})
    v=0
    for pair in "$s0 $d0" "$s1 $d1"; do
        set -- $pair
        err=$(( $2 - $1 ))
        echo "VHM-RESULT round=$r mode=$mode vcpu=$v src_offset=$1 dst_offset=$2 error_cycles=$err error_ns=$(( err * 1000000 / khz )) skew_cycles=$skew downtime_ns=$downtime_ns khz=$khz elapsed_ns=$elapsed uncertainty_ns=$unc qmode=$qmode kvmclock_move_ns=$kvmclock_move"
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
