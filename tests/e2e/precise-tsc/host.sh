#!/bin/sh
# One of the two emulated AMD-V hosts (L1) of the two-host precise-tsc
# measurement, run by busybox sh.  The machine that runs both L1s (L0,
# scripts/bench-precise-tsc-2host.py) drives it over the serial console,
# one command per line; each command ends with "VHM-OK COMMAND ..." or
# "VHM-FAIL COMMAND reason".  The two hosts share a network that the
# L0 script created (a QEMU stream netdev between the two L1 processes,
# over a unix socket); the L2 guest migrates over TCP on it.
#
#   net ADDR                 bring eth0 up with ADDR/24
#   probe SECONDS            hostclock probe (the common clock, tscdiff.c)
#   pair                     hostclock pair
#   settime TSC NS KHZ       hostclock set
#   dst ROUND CASE KHZ       start the destination QEMU, -incoming tcp:0:PORT
#   src ROUND CASE KHZ       start the source QEMU, let its guest run 1 s
#   stop                     stop the source: VHM-SRC offsets, guest sample
#   migrate PEER             migrate the source to tcp:PEER:PORT
#   cont SRC_SAMPLE...       continue the destination: VHM-DST offsets, ...
#   resume                   the guest this host received (cont) becomes
#                            its source: continue it, let it run 1 s;
#                            stop and migrate then take it to another host
#   quit                     end both QEMUs, print their traces
#   exit                     leave (init powers the host off)
#
# A CASE is on or off (precise-tsc), optionally @PPM as in measure.sh, of
# KHZ: the source host's TSC frequency, so that both QEMUs get the same
# -cpu tsc-frequency= (each host calibrates its own).
#
# SPDX-License-Identifier: GPL-2.0-or-later

. /e2e/lib.sh

PORT=4444
NET_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev
             virtio_pci failover net_failover virtio_net"
dir=/tmp/l2
pid=
# The QEMU that stop and migrate act on: the one src started, or after
# resume the destination whose guest this host received.
srcside=src
round=
mode=

ok() { echo "VHM-OK $*"; }
fail() { echo "VHM-FAIL $*"; }

start_l2() {    # start_l2 SIDE ROUND CASE KHZ [QEMU OPTIONS...]
    side=$1; round=$2; mode=$3
    cpu=$(tsc_cpu $mode $4)
    shift 4
    rm -rf $dir; mkdir -p $dir
    $QEMU $(l2_args ${mode%%@*} "$cpu") \
        -qmp unix:$dir/$side.qmp,server=on,wait=off -D $dir/$side.log \
        "$@" 2>$dir/$side.err &
    pid=$!
    if ! $QMP -w 60 $dir/$side.qmp '{"execute":"query-status"}' >/dev/null
    then
        sed 's/^/VHM-LOG stderr: /' $dir/$side.err
        stop_qemus $pid; pid=
        return 1
    fi
}

wait_status() { # wait_status SIDE STATUS: poll query-status for 30 s
    i=0
    while [ $i -lt 600 ]; do
        st=$(field status "$($QMP $dir/$1.qmp '{"execute":"query-status"}')")
        [ "$st" = "$2" ] && return 0
        usleep 50000; i=$((i + 1))
    done
    return 1
}

stty -echo 2>/dev/null
echo "VHM-INFO host ready khz=$khz clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
while read -r cmd args; do
    set -- $args
    case $cmd in
    net)
        for m in $NET_MODULES; do
            insmod /lib/modules/$m.ko 2>&1 | sed "s/^/VHM-LOG insmod $m: /"
        done
        if ip link set eth0 up && ip addr add $1/24 dev eth0; then
            ok net
        else
            dmesg | tail -n 20 | sed 's/^/VHM-LOG dmesg: /'
            fail net "no eth0: $(ls /sys/class/net)"
        fi
        ;;
    probe) /bin/hostclock probe $1 && ok probe || fail probe ;;
    pair) /bin/hostclock pair && ok pair || fail pair ;;
    settime) /bin/hostclock set $1 $2 $3 && ok settime || fail settime ;;
    dst)
        if start_l2 dst $1 $2 $3 -incoming tcp:0.0.0.0:$PORT -S; then
            ok dst
        else
            fail dst "QEMU did not start"
        fi
        ;;
    src)
        srcside=src
        if start_l2 src $1 $2 $3; then
            sleep 1     # let the source's guest run
            ok src
        else
            fail src "QEMU did not start"
        fi
        ;;
    resume)
        if [ -n "$pid" ] && $QMP $dir/dst.qmp '{"execute":"cont"}' >/dev/null
        then
            srcside=dst
            sleep 1     # let the guest run here before it moves on
            ok resume
        else
            fail resume "no destination QEMU to continue"
        fi
        ;;
    stop)
        out=$($QMP -t $dir/$srcside.qmp '{"execute":"stop"}')
        t_stop=$(echo "$out" | sed -n 's/^TS //p')
        sample=$(guest_sample $dir/$srcside.qmp)
        if off=$(offsets $pid); then
            echo "VHM-SRC offsets=${off% *},${off#* } t_stop=$t_stop sample=$(echo $sample | tr ' ' ,)"
            /bin/hostclock pair
            ok stop
        else
            fail stop "no debugfs for the source"
        fi
        ;;
    migrate)
        $QMP $dir/$srcside.qmp '{"execute":"migrate","arguments":{"uri":"tcp:'$1:$PORT'"}}' >/dev/null
        st=$(wait_migration $dir/$srcside.qmp)
        if [ "$st" = completed ]; then
            ok migrate
        else
            $QMP $dir/$srcside.qmp '{"execute":"query-migrate"}' | sed 's/^/VHM-LOG query-migrate: /'
            sed 's/^/VHM-LOG source stderr: /' $dir/$srcside.err
            fail migrate "status '$st'"
        fi
        ;;
    cont)
        if ! wait_status dst paused; then
            echo "VHM-LOG destination status '$st'"
            sed 's/^/VHM-LOG stderr: /' $dir/dst.err
            fail cont "destination not paused after the migration"
            continue
        fi
        out=$($QMP -t $dir/dst.qmp '{"execute":"cont"}')
        /bin/hostclock pair
        t_cont=$(echo "$out" | sed -n 's/^TS //p')
        off=$(offsets $pid) || { fail cont "no debugfs for the destination"; continue; }
        q=$($QMP $dir/dst.qmp '{"execute":"query-precise-tsc"}')
        sleep 1     # the destination's guest samples its kvmclock and TSC
        $QMP $dir/dst.qmp '{"execute":"stop"}' >/dev/null
        sample=$(guest_sample $dir/dst.qmp)
        move=$(guest_kvmclock_move "$*" "$sample")
        echo "VHM-DST offsets=${off% *},${off#* } t_cont=$t_cont elapsed_ns=$(field elapsed-ns "$q") uncertainty_ns=$(field uncertainty-ns "$q") qmode=$(field mode "$q") restored=$(field restored "$q") guest_kvmclock_move_ns=$move"
        ok cont
        ;;
    quit)
        stop_qemus $pid; pid=
        for side in src dst; do
            [ -f $dir/$side.log ] && print_traces $round $mode $dir $side
        done
        ok quit
        ;;
    exit) ok exit; break ;;
    '') ;;
    *) fail "$cmd" "unknown command" ;;
    esac
done
