#!/bin/sh
# Install what building, testing and demoing virt-hotmem needs on Debian 12/13.
#
# The archive URI is read from the machine's own apt configuration (the
# debian.sources entry that carries the main suite), never written here.
# Only entries the machine lacks are added (apt warns about an entry
# configured twice); apt's own configuration says where its sources are
# (APT_CONFIG is honoured).
#
# usage: scripts/install-deps.sh [build|guest|cross|all]
#   build: toolchain + QEMU build deps + the trixie deb-src entry (QEMU
#          10.0.13), the sid one unless another lists QEMU 10.2.2
#          (./configure --qemu-base=10.2), and what the UEFI firmware build
#          needs (uuid-dev, gcc-aarch64-linux-gnu)
#   guest: arm64 architecture, firmware (AAVMF, SeaBIOS, qemu-system-data, iPXE),
#          and the tests' witnesses (qemu-utils, certtool, libvirt, virt-install,
#          swtpm)
#   cross: arm64 cross toolchain and :arm64 libraries (make build-arm64)
#   all:   all three (default)
set -eu

what=${1:-all}
stamp_dir=${VIRT_HOTMEM_STAMP_DIR:-/var/lib/virt-hotmem}

die() { echo "install-deps: $*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
    die "must run as root to install packages (or install them yourself: see README.md)"
fi

. /etc/os-release
codename=${VERSION_CODENAME:-}
case "$codename" in
bookworm|trixie) ;;
*) die "unsupported distribution '$PRETTY_NAME' (need Debian 12 or 13)" ;;
esac

# Where apt reads its sources: the one-line file and the parts directory.
sources_list=/etc/apt/sources.list sources_parts=/etc/apt/sources.list.d
eval "$(apt-config shell sources_list Dir::Etc::sourcelist/f \
                         sources_parts Dir::Etc::sourceparts/d)"
sources_parts=${sources_parts%/}
list=$sources_parts/virt-hotmem.sources

# Find the archive URI and keyring of the machine's main Debian entry.
archive_uri() {
    for f in "$sources_parts"/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$codename" '
            BEGIN { RS = ""; FS = "\n" }
            {
                uri = ""; suites = ""; key = ""
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/)      { uri = $i; sub(/^URIs:[ \t]*/, "", uri) }
                    if ($i ~ /^Suites:/)    { suites = $i }
                    if ($i ~ /^Signed-By:/) { key = $i; sub(/^Signed-By:[ \t]*/, "", key) }
                }
                if (uri != "" && suites ~ ("[ \t]" suite "([ \t]|$)")) {
                    split(uri, u, " "); print u[1] " " key; exit
                }
            }' "$f"
    done | head -n 1
    if [ -f "$sources_list" ]; then
        awk -v suite="$codename" '$1 == "deb" && $3 == suite { print $2; exit }' \
            "$sources_list"
    fi
}

# Every enabled entry of the machine's apt sources except ours, one
# "TYPE URI SUITE COMPONENT" line each, the URI without a trailing slash.
# One-line files: "deb [options] URI SUITE COMPONENT..."; deb822 files:
# the product of each stanza's Types, URIs, Suites and Components.
apt_entries() {
    for f in "$sources_list" "$sources_parts"/*.list; do
        [ -f "$f" ] || continue
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '
            $1 == "deb" || $1 == "deb-src" {
                uri = $2; sub(/\/+$/, "", uri)
                for (i = 4; i <= NF; i++) print $1, uri, $3, $i
            }'
    done
    for f in "$sources_parts"/*.sources; do
        if [ ! -f "$f" ] || [ "$f" = "$list" ]; then
            continue
        fi
        awk '
            BEGIN { RS = ""; FS = "\n" }
            {
                split("", v)
                for (i = 1; i <= NF; i++) {
                    if ($i !~ /^[A-Za-z-]+:/) continue     # comment, continuation
                    key = tolower(substr($i, 1, index($i, ":") - 1))
                    v[key] = substr($i, index($i, ":") + 1)
                }
                if (tolower(v["enabled"]) ~ /no/) next
                nt = split(v["types"], t, " "); nu = split(v["uris"], u, " ")
                ns = split(v["suites"], s, " "); nc = split(v["components"], c, " ")
                for (a = 1; a <= nt; a++) for (b = 1; b <= nu; b++) {
                    uri = u[b]; sub(/\/+$/, "", uri)
                    for (d = 1; d <= ns; d++) for (e = 1; e <= nc; e++)
                        print t[a], uri, s[d], c[e]
                }
            }' "$f"
    done
}

# Of the suites given, those of type $1 (deb, deb-src) at $uri, component
# main, that the machine's sources lack.
missing_suites() {
    entry_type=$1; shift
    for suite in "$@"; do
        printf '%s\n' "$apt_have" |
            grep -qxF "$entry_type ${uri%/} $suite main" || printf ' %s' "$suite"
    done
}

# The Debian source package of QEMU 10.2 (./configure --qemu-base=10.2).
qemu_102=1:10.2.2+ds-1

# Whether one of the machine's own deb-src entries (not ours) lists
# $qemu_102, as apt's last update saw it.
own_entry_lists_qemu_102() {
    apt-cache madison qemu 2>/dev/null | awk -F' *[|] *' -v v="$qemu_102" '
        $2 == v && $3 ~ / Sources$/ {
            split($3, a, " "); uri = a[1]; sub(/\/+$/, "", uri)
            split(a[2], sc, "/"); print "deb-src", uri, sc[1], sc[2]
        }' | {
            while read -r entry; do
                printf '%s\n' "$apt_have" | grep -qxF "$entry" && exit 0
            done
            exit 1
        }
}

# A deb822 stanza of type $1 for the suites $2, if there are any.
stanza() {
    entry_type=$1; suites=$2
    [ -n "$suites" ] || return 0
    echo
    echo "Types: $entry_type"
    echo "URIs: $uri"
    echo "Suites:$suites"
    echo "Components: main"
    echo "Signed-By: $key"
}

setup_sources() {
    set -- $(archive_uri | head -n 1)
    uri=${1:-}
    key=${2:-/usr/share/keyrings/debian-archive-keyring.gpg}
    [ -n "$uri" ] || die "no apt entry for suite '$codename' found in $sources_parts or $sources_list"
    apt_have=$(apt_entries)
    src=$(missing_suites deb-src trixie trixie-updates)
    # QEMU 10.2.2: sid lists it (beside newer ones) where no own entry does.
    if ! own_entry_lists_qemu_102; then
        src="$src$(missing_suites deb-src sid)"
    fi
    bpo=
    if [ "$codename" = bookworm ]; then
        bpo=$(missing_suites deb bookworm-backports)
    fi
    if [ -z "$src$bpo" ]; then
        # Everything is there already; an older run's file would repeat it.
        if [ -f "$list" ]; then
            rm -f "$list" "$stamp_dir/apt-updated"
        fi
        return 0
    fi
    new=$(
        echo "# Added by virt-hotmem scripts/install-deps.sh: what the machine's"
        echo "# own entries lack (rewritten on each run)"
        stanza deb-src "$src"
        stanza deb "$bpo"
    )
    if [ -f "$list" ] && [ "$(cat "$list")" = "$new" ]; then
        return 0
    fi
    echo "install-deps: apt lacks${src:+ deb-src$src}${bpo:+ deb$bpo} of $uri: adding them in $list"
    printf '%s\n' "$new" > "$list"
    rm -f "$stamp_dir/apt-updated"
}

apt_update_once() {
    mkdir -p "$stamp_dir"
    if [ ! -f "$stamp_dir/apt-updated" ]; then
        apt-get update -q >/dev/null
        touch "$stamp_dir/apt-updated"
    fi
}

install_missing() {
    missing=
    for p in "$@"; do
        pkg=${p%%/*}
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q "ok installed" \
            || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "install-deps: installing$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${apt_extra:-} $missing >/dev/null
}

bpo() {
    # meson >= 1.5, pycotap, qemu-system-data and SeaBIOS 1.16.3 come from
    # backports on bookworm.
    if [ "$codename" = bookworm ]; then echo "$1/bookworm-backports"; else echo "$1"; fi
}

setup_sources
if [ "$what" = guest ] || [ "$what" = cross ] || [ "$what" = all ]; then
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        dpkg --add-architecture arm64
        rm -f "$stamp_dir/apt-updated"
    fi
fi
apt_update_once

case "$what" in
build|all)
    install_missing build-essential ninja-build libglib2.0-dev libpixman-1-dev \
        libfdt-dev python3-venv flex bison pkg-config ccache acpica-tools \
        libslirp-dev \
        libseccomp-dev libcap-ng-dev libattr1-dev libnuma-dev libpmem-dev \
        libgnutls28-dev nettle-dev libzstd-dev liburing-dev libaio-dev \
        libpng-dev libjpeg-dev python3-sphinx python3-sphinx-rtd-theme \
        device-tree-compiler xz-utils dpkg-dev "$(bpo meson)" "$(bpo python3-pycotap)" \
        clang libclang-rt-dev
    # EDK II's ArmVirtQemuKernel (scripts/build-firmware.sh): its BaseTools
    # need libuuid's header; the firmware is cross-compiled.
    install_missing uuid-dev gcc-aarch64-linux-gnu
    ;;
esac
# An older meson from the main suite hides the backported one.
if [ "$codename" = bookworm ] && command -v meson >/dev/null 2>&1 &&
   ! printf '%s\n%s\n' 1.5 "$(meson --version)" | sort -V -C; then
    echo "install-deps: upgrading meson from bookworm-backports"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -t bookworm-backports \
        meson >/dev/null
fi
case "$what" in
guest|all)
    install_missing qemu-efi-aarch64 "$(bpo seabios)" "$(bpo qemu-system-data)" ipxe-qemu \
        cpio socat
    # QEMU 10.0 bundles SeaBIOS 1.16.3; bookworm's 1.16.2 hangs scanning an
    # am53c974 (esp) SCSI controller, so no guest boots from a CD on one
    # (QEMU's cdrom-test).  Debian 13 has 1.16.3, bookworm-backports too.
    if ! dpkg --compare-versions \
        "$(dpkg-query -W -f='${Version}' seabios 2>/dev/null)" ge 1.16.3; then
        echo "install-deps: upgrading seabios to 1.16.3 (bookworm-backports)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q -t bookworm-backports \
            seabios >/dev/null
    fi
    # QEMU's TPM qtests (tpm-*-swtpm-test) talk to a real software TPM.
    apt_extra=--no-install-recommends install_missing swtpm swtpm-tools
    # The acceptance tests' witnesses: Debian's qemu-img/qemu-io and
    # qemu-storage-daemon (10.0 from backports on bookworm), certtool, man,
    # and libvirt with virt-install.  Without recommends: libvirt's would
    # pull in Debian's own qemu-system-* and dnsmasq.
    # The UEFI test's disk (tests/acceptance/vhm/uefi_disk.py): GPT,
    # FAT and ext4 made without root, GRUB's image tool (its arm64
    # modules are downloaded by the test).
    apt_extra=--no-install-recommends install_missing gdisk dosfstools mtools \
        e2fsprogs grub-common
    apt_extra=--no-install-recommends install_missing "$(bpo qemu-utils)" \
        gnutls-bin man-db libvirt-daemon-system libvirt-daemon-driver-qemu \
        libvirt-clients virtinst
    # bookworm's own qemu-utils (7.2) has no qemu-storage-daemon.
    if ! command -v qemu-storage-daemon >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends "$(bpo qemu-utils)" >/dev/null
    fi
    ;;
esac
case "$what" in
cross|all)
    # libfdt-dev:arm64 is not among them: it cannot be installed beside
    # libfdt-dev (both own /usr/include/libfdt.h); scripts/build-arm64.sh
    # takes its static library from the package with apt-get download.
    install_missing gcc-aarch64-linux-gnu libglib2.0-dev:arm64 \
        libpixman-1-dev:arm64 zlib1g-dev:arm64
    ;;
esac
