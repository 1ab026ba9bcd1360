#!/bin/sh
# Cross-build build-arm64/qemu-system-aarch64: the virt-hotmem fork for an
# arm64 KVM host, statically linked so that it runs from a busybox
# initramfs.  It is a test artifact (tests/acceptance/test_arm_kvm.py runs it
# in an emulated Armv8 host with EL2), so it is built with KVM only, no TCG,
# and the devices of configs/devices/aarch64-softmmu/virt-hotmem-kvm.mak.
#
# It reuses the tree that ./configure assembled (assembled/qemu) and
# Debian's cross toolchain and :arm64 libraries (scripts/install-deps.sh
# cross).  libfdt-dev:arm64 cannot be installed beside libfdt-dev:amd64
# (both own /usr/include/libfdt.h), so its static library is taken from the
# package with apt-get download instead.
#
# usage: scripts/build-arm64.sh BUILD-DIR [NINJA]
set -eu

src_dir=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: build-arm64.sh BUILD-DIR [NINJA]}
ninja=${2:-ninja}
assembled=$src_dir/assembled/qemu
cross=aarch64-linux-gnu-

die() { echo "build-arm64: $*" >&2; exit 1; }

[ -f "$assembled/.virt-hotmem-origin" ] || \
    die "no assembled QEMU tree in assembled/qemu; run ./configure (or make build) first"

missing=
command -v ${cross}gcc >/dev/null 2>&1 || missing="$missing gcc-aarch64-linux-gnu"
for p in glib-2.0 pixman-1 zlib; do
    ${cross}pkg-config --static --exists "$p" 2>/dev/null || missing="$missing $p:arm64"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        "$src_dir/scripts/install-deps.sh" cross || die "installing the cross toolchain failed"
    else
        die "missing$missing; as root run: $src_dir/scripts/install-deps.sh cross"
    fi
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)

# libfdt.a for arm64, from Debian's package, unpacked under the build dir.
fdt_dir=$out/libfdt-arm64
if [ ! -f "$fdt_dir/libfdt.a" ]; then
    rm -rf "$fdt_dir.tmp"
    mkdir -p "$fdt_dir.tmp"
    (cd "$fdt_dir.tmp" && apt-get download -q libfdt-dev:arm64 >/dev/null 2>&1) || \
        die "apt-get download libfdt-dev:arm64 failed (is arm64 an apt architecture? scripts/install-deps.sh cross)"
    dpkg-deb -x "$fdt_dir.tmp"/libfdt-dev_*_arm64.deb "$fdt_dir.tmp/root"
    mv "$fdt_dir.tmp"/root/usr/lib/aarch64-linux-gnu/libfdt.a "$fdt_dir.tmp/libfdt.a"
    rm -rf "$fdt_dir.tmp/root" "$fdt_dir.tmp"/*.deb
    rm -rf "$fdt_dir"
    mv "$fdt_dir.tmp" "$fdt_dir"
fi

stamp=$out/.virt-hotmem-configured
# Reconfigure after ./configure assembled the tree anew.
if [ ! -f "$stamp" ] || [ -n "$(find "$assembled/.virt-hotmem-origin" -newer "$stamp")" ]; then
    find "$out" -mindepth 1 -maxdepth 1 ! -name libfdt-arm64 -exec rm -rf {} +
    # meson finds libraries only in the compiler's own search path, which
    # a cross gcc extends with -B (not with LIBRARY_PATH or -L).
    cc="${cross}gcc -B$fdt_dir/"
    if command -v ccache >/dev/null 2>&1; then
        cc="ccache $cc"
    fi
    echo "build-arm64: configuring QEMU for arm64 in $out"
    (cd "$out" && "$assembled/configure" \
        --cross-prefix=$cross --cc="$cc" \
        --python=/usr/bin/python3 \
        --static \
        --target-list=aarch64-softmmu \
        --without-default-features --without-default-devices \
        --with-devices-aarch64=virt-hotmem-kvm \
        --enable-kvm --disable-tcg --enable-fdt=system --enable-vhost-kernel \
        --disable-docs --disable-install-blobs --disable-tools \
        > "$out/configure.log" 2>&1) || {
        tail -n 20 "$out/configure.log" >&2
        die "QEMU's configure failed (full log: $out/configure.log)"
    }
    touch "$stamp"
fi
$ninja -C "$out" qemu-system-aarch64 > "$out/ninja.log" 2>&1 || {
    grep -v '^\[' "$out/ninja.log" | tail -n 30 >&2
    die "building $out/qemu-system-aarch64 failed (full log: $out/ninja.log)"
}
# Static: no program interpreter (it must run from any initramfs).
if ${cross}readelf -l "$out/qemu-system-aarch64" | grep -q "Requesting program interpreter"; then
    die "$out/qemu-system-aarch64 is dynamically linked"
fi
