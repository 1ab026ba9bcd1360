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
#     elapsed_ns=.. uncertainty_ns=.. qmode=.. guest_kvmclock_move_ns=..
#     restored=true|false|none (none: no precise restore was attempted)
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
# true pause is unchanged.  MODE+file migrates through a file instead
# (migrate file:, then migrate-incoming file: on a destination started
# with -incoming defer).  MODE+nostep runs the L2 guest that leaves its
# TSC alone (equal vCPU offsets).  MODE may also be catchup: precise-tsc=on with
# precise-tsc-catch-up=on.  Results carry mode=CASE.
#
# SPDX-License-Identifier: GPL-2.0-or-later

rounds=${1:-3}
downtime=${2:-2}
modes=${3:-on off}
. /e2e/lib.sh

run_one() { # run_one ROUND CASE
    r=$1; mode=$2
    precise=${mode%%[@+]*}
    leap=
    file=
    ppm=
    L2=/l2/l2guest.bin
    case $mode in
    *+leap) leap=1 ;;
    *+file) file=1 ;;
    *+nostep) L2=/l2/l2guest-nostep.bin ;;
    esac
    case $mode in
    *@*) ppm=${mode#*@}; ppm=${ppm%%+*} ;;
    esac
    cpu=$(tsc_cpu $mode)
    dir=/tmp/r$r-$mode
    incoming=unix:$dir/mig.sock
    [ -n "$file" ] && incoming=defer
    rm -rf "$dir"; mkdir -p "$dir"
    common=$(l2_args $precise "$cpu")

    $QEMU $common -qmp unix:$dir/dst.qmp,server=on,wait=off \
        -incoming $incoming -S -D $dir/dst.log 2>$dir/dst.err &
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
    gsrc=$(guest_sample $dir/src.qmp)
    src=$(offsets $spid) || { echo "VHM-FAIL round=$r mode=$mode no debugfs for source"; stop_qemus $spid $dpid; return 1; }
    sleep "$downtime"
    if [ -n "$leap" ]; then
        echo "VHM-INFO $(/bin/leap 2>&1)"
    fi
    if [ -n "$file" ]; then
        $QMP $dir/src.qmp '{"execute":"migrate","arguments":{"uri":"file:'$dir/vm.state'"}}' >/dev/null
        st=$(wait_migration $dir/src.qmp)
        [ "$st" = completed ] || echo "VHM-LOG migrate file: status '$st'"
        $QMP $dir/dst.qmp '{"execute":"migrate-incoming","arguments":{"uri":"file:'$dir/vm.state'"}}' >/dev/null
    else
        $QMP $dir/src.qmp '{"execute":"migrate","arguments":{"uri":"unix:'$dir/mig.sock'"}}' >/dev/null
    fi
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
    sleep 1     # the destination's guest samples its kvmclock and TSC
    $QMP $dir/dst.qmp '{"execute":"stop"}' >/dev/null
    gdst=$(guest_sample $dir/dst.qmp)
    guest_move=$(guest_kvmclock_move "$gsrc" "$gdst")
    echo "VHM-QUERY round=$r mode=$mode $q"
    stop_qemus $spid $dpid

    downtime_ns=$((t_cont - t_stop))
    # CLOCK_REALTIME stepped back by the leap second; the pause did not
    [ -n "$leap" ] && downtime_ns=$((downtime_ns + 1000000000))
    elapsed=$(field elapsed-ns "$q"); [ -n "$elapsed" ] || elapsed=none
    unc=$(field uncertainty-ns "$q"); [ -n "$unc" ] || unc=none
    qmode=$(field mode "$q"); [ -n "$qmode" ] || qmode=none
    restored=$(field restored "$q"); [ -n "$restored" ] || restored=none
    set -- $src; s0=$1; s1=$2
    set -- $dst; d0=$1; d1=$2
    skew=$(( (d1 - d0) - (s1 - s0) ))
    v=0
    for pair in "$s0 $d0" "$s1 $d1"; do
        set -- $pair
        err=$(( $2 - $1 ))
        echo "VHM-RESULT round=$r mode=$mode vcpu=$v src_offset=$1 dst_offset=$2 error_cycles=$err error_ns=$(( err * 1000000 / khz )) skew_cycles=$skew downtime_ns=$downtime_ns khz=$khz elapsed_ns=$elapsed uncertainty_ns=$unc qmode=$qmode guest_kvmclock_move_ns=$guest_move restored=$restored"
        v=$((v + 1))
    done
    print_traces $r $mode $dir src dst
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
