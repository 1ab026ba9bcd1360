#!/bin/sh
# Run a command in a private mount namespace whose /dev has no kvm node.
#
# usage: unshare --mount --propagation private scripts/without-dev-kvm.sh CMD [ARG]...
#
# QEMU's tests decide whether to use KVM by whether /dev/kvm can be opened
# (libqtest's qtest_has_accel()).  A /dev/kvm that cannot run an ordinary
# guest, such as PVM's (kvm_pvm, on a CPU without VMX or SVM), makes them
# pick KVM and then fail for reasons that have nothing to do with the code
# under test (no SMM, so q35's FACP loses its SMI port).  Upstream's CI runs
# them on hosts without /dev/kvm; this gives them such a host: a tmpfs on
# /dev holding every entry of the real /dev but kvm, bound from the
# original, so nothing outside the namespace changes.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -eu

die() { echo "without-dev-kvm: $*" >&2; exit 1; }

[ $# -gt 0 ] || die "usage: unshare --mount --propagation private $0 CMD [ARG]..."
# A private namespace has its own mount table: refuse to touch the host's.
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || \
    die "not in a private mount namespace (run it under unshare --mount)"

real=$(mktemp -d /tmp/without-dev-kvm.XXXXXX)
mount --rbind /dev "$real"
mount -t tmpfs -o mode=755,nosuid tmpfs /dev
for entry in "$real"/* "$real"/.[!.]*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    name=${entry##*/}
    [ "$name" != kvm ] || continue
    if [ -L "$entry" ]; then
        ln -s "$(readlink "$entry")" "/dev/$name"
    elif [ -d "$entry" ]; then
        mkdir "/dev/$name"
        mount --rbind "$entry" "/dev/$name"
    else
        : > "/dev/$name"
        mount --bind "$entry" "/dev/$name"
    fi
done
umount -l "$real"
rmdir "$real"
exec "$@"
