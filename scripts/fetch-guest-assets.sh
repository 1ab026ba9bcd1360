#!/bin/sh
# Fetch the unmodified Debian arm64 guest used by the acceptance tests and
# 'make demo': the cloud kernel (+ its modules) and busybox-static, with
# apt-get download into a cache directory.  Prints nothing but errors; the
# files land in DIR/arm64/{vmlinuz,modules/,busybox}.
#
# usage: scripts/fetch-guest-assets.sh DIR
set -eu

dir=${1:?usage: fetch-guest-assets.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
out=$dir/arm64

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

rm -rf "$out.tmp"
mkdir -p "$out.tmp/debs" "$out.tmp/root"
(cd "$out.tmp/debs" && apt-get download -q "$kpkg:arm64" busybox-static:arm64 >/dev/null 2>&1) || \
    die "apt-get download $kpkg:arm64 busybox-static:arm64 failed"
for d in "$out.tmp"/debs/*.deb; do
    dpkg-deb -x "$d" "$out.tmp/root" || die "cannot unpack $(basename "$d")"
done
cp "$out.tmp"/root/boot/vmlinuz-* "$out.tmp/vmlinuz"
cp "$out.tmp/root/bin/busybox" "$out.tmp/busybox"
mv "$out.tmp"/root/lib/modules/* "$out.tmp/modules"
echo "$kpkg" > "$out.tmp/kernel-package"
rm -rf "$out.tmp/debs" "$out.tmp/root"
touch "$out.tmp/.complete"
rm -rf "$out"
mv "$out.tmp" "$out"
