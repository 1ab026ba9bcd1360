#!/bin/sh
# Fetch the unmodified Debian arm64 guest used by the acceptance tests and
# 'make demo': the cloud kernel (+ its modules) and busybox-static, with
# apt-get download into a cache directory.  Prints nothing but errors; the
# files land in DIR/arm64/{vmlinuz,config,modules/,busybox}.
#
# With 'generic', the generic flavour of the same kernel version instead
# (the package the cloud one's name gives without '-cloud'), into
# DIR/arm64-generic/{vmlinuz,config,modules/}.  Its package holds every
# module of the flavour (60 MB, 350 MB unpacked); only the kernel, its
# config, the modules.* lists and the module directories the tests load
# from (virtio, virtio-blk, virtio-net, nvdimm, NFIT, dax) are kept.
#
# usage: scripts/fetch-guest-assets.sh DIR [generic]
set -eu

dir=${1:?usage: fetch-guest-assets.sh DIR [generic]}
flavour=${2:-cloud}
here=$(cd "$(dirname "$0")" && pwd)
case $flavour in
cloud) out=$dir/arm64 ;;
generic) out=$dir/arm64-generic ;;
*) echo "fetch-guest-assets: unknown flavour '$flavour' (cloud, generic)" >&2
   exit 1 ;;
esac

die() { echo "fetch-guest-assets: $*" >&2; exit 1; }

if [ -f "$out/.complete" ]; then
    exit 0
fi

if ! dpkg --print-foreign-architectures | grep -qx arm64 || \
   ! apt-cache show busybox-static:arm64 >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        "$here/install-deps.sh" guest || die "setting up apt for arm64 failed"
    else
        die "apt has no arm64 packages; as root run: $here/install-deps.sh guest"
    fi
fi

# The cloud flavour: it has ACPI_HOTPLUG_MEMORY, which the generic one lacks.
kpkg=$(apt-cache depends linux-image-cloud-arm64:arm64 2>/dev/null |
       awk '/Depends: linux-image-[0-9]/ { sub(/:arm64$/, "", $2); print $2; exit }')
[ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-arm64:arm64 with apt-cache"

if [ "$flavour" = generic ]; then
    kpkg=$(echo "$kpkg" | sed 's/-cloud-arm64$/-arm64/')
    apt-cache show "$kpkg:arm64" >/dev/null 2>&1 || \
        die "apt has no $kpkg:arm64 (the generic flavour of the cloud kernel)"
    pkgs="$kpkg:arm64"
else
    pkgs="$kpkg:arm64 busybox-static:arm64"
fi
ver=${kpkg#linux-image-}
m=./lib/modules/$ver

rm -rf "$out.tmp"
mkdir -p "$out.tmp/debs" "$out.tmp/root"
# ($pkgs unquoted: it is a list of packages)
(cd "$out.tmp/debs" && apt-get download -q $pkgs >/dev/null 2>&1) || \
    die "apt-get download $pkgs failed"
for d in "$out.tmp"/debs/*.deb; do
    if [ "$flavour" = generic ]; then
        dpkg-deb --fsys-tarfile "$d" |
            tar -x -C "$out.tmp/root" --wildcards --no-wildcards-match-slash \
                "./boot/vmlinuz-$ver" "./boot/config-$ver" "$m/modules.*" \
                "$m/kernel/drivers/virtio" \
                "$m/kernel/drivers/block/virtio_blk.ko" \
                "$m/kernel/drivers/net/*.ko" "$m/kernel/net/core" \
                "$m/kernel/drivers/nvdimm" "$m/kernel/drivers/acpi/nfit" \
                "$m/kernel/drivers/dax" || die "cannot unpack $kpkg"
    else
        dpkg-deb -x "$d" "$out.tmp/root" || die "cannot unpack $(basename "$d")"
    fi
done
cp "$out.tmp/root/boot/vmlinuz-$ver" "$out.tmp/vmlinuz"
cp "$out.tmp/root/boot/config-$ver" "$out.tmp/config"
if [ "$flavour" = cloud ]; then
    cp "$out.tmp/root/bin/busybox" "$out.tmp/busybox"
fi
mv "$out.tmp/root/$m" "$out.tmp/modules"
echo "$kpkg" > "$out.tmp/kernel-package"
rm -rf "$out.tmp/debs" "$out.tmp/root"
touch "$out.tmp/.complete"
rm -rf "$out"
mv "$out.tmp" "$out"
