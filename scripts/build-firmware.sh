#!/bin/sh
# Build the UEFI firmware for virt-hotmem's moved memory maps: EDK II's
# ArmVirtQemuKernel (AARCH64, RELEASE) from Debian's 'edk2' source package
# (trixie), with Debian's cross toolchain.
#
# Why this flavour: stock AAVMF (ArmVirtQemu, Debian's qemu-efi-aarch64) is
# built with its RAM base fixed at 1 GiB (PcdSystemMemoryBase), so a map
# with no RAM at 1 GiB (ram-base=, memory-layout=arm-den0001, a reserved
# region over 1 GiB) leaves it silent.  ArmVirtQemuKernel is loaded with
# -kernel, runs from RAM and takes the memory base from the device tree QEMU
# hands it, so it boots with RAM wherever the map puts it.
#
# usage: scripts/build-firmware.sh OUTPUT.fd [WORKDIR]
#   The source package is downloaded with apt-get into the cache directory
#   (VIRT_HOTMEM_CACHE, default cache/) once, checked against the sha256
#   sums of the machine's apt source index; the tree is unpacked, patched
#   with Debian's patch series and built in WORKDIR (default build-edk2/).
#   The image is kept in the cache directory too, named after the source
#   version and this script's hash: 'make clean' or a new configure does
#   not build it again.  Compilations go through ccache when it is
#   installed (a masquerade directory of aarch64-linux-gnu-* links).
set -eu

die() { echo "build-firmware: $*" >&2; exit 1; }
say() { echo "build-firmware: $*" >&2; }

[ $# = 1 ] || [ $# = 2 ] || die "usage: $0 OUTPUT.fd [WORKDIR]"
mkdir -p "$(dirname "$1")"
out=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src_dir=$(cd "$(dirname "$0")/.." && pwd)
cache_dir=${VIRT_HOTMEM_CACHE:-$src_dir/cache}/edk2
work=${2:-$src_dir/build-edk2}
mkdir -p "$cache_dir" "$work"
work=$(cd "$work" && pwd)

for tool in aarch64-linux-gnu-gcc make python3; do
    command -v "$tool" >/dev/null 2>&1 || \
        die "no $tool; as root run: $src_dir/scripts/install-deps.sh build"
done
[ -f /usr/include/uuid/uuid.h ] || \
    die "no uuid/uuid.h (uuid-dev) for EDK II's BaseTools; as root run: $src_dir/scripts/install-deps.sh build"

# --- the source package ---------------------------------------------------

# The version of trixie's edk2 source package: the one EDK II build this
# script is written for.  Not apt's newest: install-deps adds sid's deb-src
# for QEMU 10.2, and sid's edk2 is listed there without being served.
trixie_version() {
    apt-cache madison edk2 2>/dev/null | awk -F'|' '
        $3 ~ / trixie(-updates|-security)?\/main Sources/ {
            gsub(/ /, "", $2); print $2; exit }'
}

# "SHA256 SIZE NAME" of the orig and debian tarballs of edk2 version $1 (its
# index is signed; the .dsc itself is not needed, and some mirrors lack it).
source_sums() {
    apt-cache showsrc edk2 2>/dev/null | awk -v want="$1" '
        /^Version: / { mine = ($2 == want) }
        /^Checksums-Sha256:/ { on = mine; next }
        /^[^ ]/ { on = 0 }
        on && $3 ~ /\.(orig\.tar|debian\.tar)\./ { print $1, $2, $3 }'
}

sums_ok() {
    [ -n "$1" ] || return 1
    printf '%s\n' "$1" | while read -r sum size name; do
        [ -f "$cache_dir/$name" ] || exit 1
        echo "$sum  $cache_dir/$name"
    done > "$cache_dir/sha256.tmp" || return 1
    sha256sum --quiet -c "$cache_dir/sha256.tmp" >/dev/null 2>&1
}

want=$(trixie_version)
if [ -z "$want" ]; then
    if [ "$(id -u)" = 0 ]; then
        "$src_dir/scripts/install-deps.sh" build >&2 || die "apt source setup failed"
        want=$(trixie_version)
    fi
    [ -n "$want" ] || die "apt knows no 'edk2' source package of trixie; as root run: $src_dir/scripts/install-deps.sh build"
fi
sums=$(source_sums "$want")
[ -n "$sums" ] || die "apt-cache showsrc edk2 lists no tarballs of edk2 $want"
if ! sums_ok "$sums"; then
    say "downloading EDK II's source: apt-get source edk2=$want"
    # apt-get fails when a mirror lacks the .dsc even though both tarballs
    # arrived: the sums below decide.
    (cd "$cache_dir" && apt-get source -q --download-only "edk2=$want" \
        > "$cache_dir/apt-get-source.log" 2>&1) || true
    sums_ok "$sums" || \
        die "apt-get source edk2=$want gave no tarballs matching apt's sums (see $cache_dir/apt-get-source.log)"
fi
orig=$cache_dir/$(printf '%s\n' "$sums" | awk '$3 ~ /orig/ { print $3 }')
debian=$cache_dir/$(printf '%s\n' "$sums" | awk '$3 ~ /debian/ { print $3 }')
version=$(basename "$debian" .debian.tar.xz)
version=${version#edk2_}

# --- a cached image of this source and this script --------------------------

key=$(sha256sum "$0" | cut -c1-12)
cached=$cache_dir/virt-hotmem-efi-aarch64-$version-$key.fd
if [ -f "$cached" ]; then
    cp "$cached" "$out.tmp"
    mv "$out.tmp" "$out"
    say "$out: from $cached (built before)"
    exit 0
fi

# --- unpack and patch, once per version -------------------------------------

tree=$work/edk2-$version
if [ ! -f "$tree/.virt-hotmem-patched" ]; then
    say "unpacking and patching edk2 $version"
    rm -rf "$tree" "$tree.tmp"
    mkdir -p "$tree.tmp"
    tar -xf "$orig" -C "$tree.tmp" --strip-components=1
    tar -xf "$debian" -C "$tree.tmp"
    grep -v '^#' "$tree.tmp/debian/patches/series" | while read -r p _; do
        [ -n "$p" ] || continue
        patch -s -p1 -d "$tree.tmp" < "$tree.tmp/debian/patches/$p" || \
            die "Debian's patch $p does not apply"
    done
    touch "$tree.tmp/.virt-hotmem-patched"
    mv "$tree.tmp" "$tree"
fi

# --- toolchain: ccache masquerade -------------------------------------------

bin=$work/bin
rm -rf "$bin"
mkdir -p "$bin"
for t in gcc-ar objcopy objdump nm ar ld; do
    ln -s "$(command -v aarch64-linux-gnu-$t)" "$bin/aarch64-linux-gnu-$t"
done
if command -v ccache >/dev/null 2>&1; then
    ccache=$(command -v ccache)
    # ccache finds the real compiler further down PATH under the same name.
    for t in aarch64-linux-gnu-gcc gcc g++; do ln -s "$ccache" "$bin/$t"; done
    # Paths are hashed relative to the tree, so another clone hits too.
    export CCACHE_BASEDIR="$tree" CCACHE_NOHASHDIR=1
    # EDK II's AutoGen files are regenerated with new mtimes each build.
    export CCACHE_SLOPPINESS=include_file_mtime,include_file_ctime,time_macros
else
    for t in aarch64-linux-gnu-gcc; do ln -s "$(command -v $t)" "$bin/$t"; done
fi
export PATH="$bin:$PATH"
export GCC5_AARCH64_PREFIX=aarch64-linux-gnu-
export PYTHON3_ENABLE=TRUE PYTHON_COMMAND=python3
unset ELF_PACKAGE_METADATA || true

cd "$tree"
if [ ! -f BaseTools/.virt-hotmem-built ]; then
    say "building EDK II's BaseTools"
    make -s -C BaseTools -j"${JOBS:-2}" > "$work/basetools.log" 2>&1 || {
        tail -n 20 "$work/basetools.log" >&2; die "BaseTools failed (see $work/basetools.log)"; }
    touch BaseTools/.virt-hotmem-built
fi
# Debian ships the LTO helper library's source only (debian/rules).
if [ ! -f BaseTools/Bin/GccLto/liblto-aarch64.a ]; then
    aarch64-linux-gnu-gcc -c -fpic BaseTools/Bin/GccLto/liblto-aarch64.s \
        -o BaseTools/Bin/GccLto/liblto-aarch64.a
fi

say "building ArmVirtPkg/ArmVirtQemuKernel.dsc (AARCH64 RELEASE)"
# The vendor string names this build: QEMU and the guest can tell it from
# Debian's AAVMF ("Debian distribution of EDK II").
# edksetup.sh is bash, reads the positional parameters as its own
# options, and fails on a first run's probes: source it with none.
bash -c 'a=("$@"); set --; . ./edksetup.sh >/dev/null; exec build "${a[@]}"' build \
    -a AARCH64 -t GCC5 -b RELEASE -n "${JOBS:-2}" \
    -p ArmVirtPkg/ArmVirtQemuKernel.dsc \
    --pcd PcdFirmwareVendor=L"virt-hotmem build of EDK II\\0" \
    --pcd PcdFirmwareVersionString=L"$version\\0" \
    > "$work/build.log" 2>&1 || {
        tail -n 30 "$work/build.log" >&2; die "EDK II build failed (see $work/build.log)"; }

fd=Build/ArmVirtQemuKernel-AARCH64/RELEASE_GCC5/FV/QEMU_EFI.fd
[ -f "$fd" ] || die "the build made no $fd"
cp "$fd" "$cached.tmp"
mv "$cached.tmp" "$cached"
cp "$cached" "$out.tmp"
mv "$out.tmp" "$out"
say "built $out ($(stat -c %s "$out") bytes)"
