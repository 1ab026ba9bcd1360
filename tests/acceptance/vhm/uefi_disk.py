#
# A distribution-style UEFI disk for the arm64 guest, made from Debian
# packages without root or loop mounts: a GPT disk whose EFI system
# partition holds GRUB (grub-efi-arm64, as EFI/BOOT/BOOTAA64.EFI, the path
# firmware boots from removable media) and whose second partition, ext4,
# holds /boot: Debian's arm64 kernel, an initrd, and GRUB's grub.cfg.
# The firmware boots it from the disk; GRUB loads the kernel through the
# EFI stub, as it does on an installed Debian.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import shutil
import subprocess

from . import guest, tap

MiB = guest.MiB
# The label GRUB's embedded configuration searches for
BOOT_LABEL = "vhm-boot"
ESP_SIZE = 32 * MiB
BOOT_SIZE = 96 * MiB
# GPT partition type GUIDs (sgdisk's short codes)
ESP_TYPE = "EF00"
LINUX_TYPE = "8300"
# What GRUB needs to find /boot and boot Linux from it
GRUB_MODULES = ("part_gpt", "fat", "ext2", "search", "search_label", "normal",
                "configfile", "linux", "gzio", "echo", "test")
TOOLS = ("grub-mkimage", "sgdisk", "mkfs.vfat", "mcopy", "mke2fs")

EMBEDDED_CFG = """search --no-floppy --label %s --set=root
configfile /grub/grub.cfg
""" % BOOT_LABEL

GRUB_CFG = """set timeout=0
echo 'vhm: GRUB loading the kernel from /boot'
linux /vmlinuz %s
initrd /initrd.img
boot
"""


def _run(argv, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       **kw)
    if r.returncode != 0:
        raise guest.GuestError("%s failed (%d): %s" % (
            " ".join(argv), r.returncode, r.stdout.decode(errors="replace")))
    return r.stdout.decode(errors="replace")


def check_tools():
    """Skip the test unless the image tools are there (install-deps.sh
    guest installs them)."""
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        raise tap.Skip("no %s (scripts/install-deps.sh guest)" %
                       ", ".join(missing))


def grub_arm64_modules():
    """GRUB's arm64-efi module directory, from Debian's
    grub-efi-arm64-bin:arm64 (downloaded and unpacked once into the
    assets directory: installing it would need the arm64 grub-common)."""
    out = os.path.join(guest.ASSETS, "grub-arm64")
    mods = os.path.join(out, "usr", "lib", "grub", "arm64-efi")
    if os.path.exists(os.path.join(out, ".complete")):
        return mods
    guest.guest_assets()          # sets apt up for arm64 where needed
    shutil.rmtree(out + ".tmp", ignore_errors=True)
    os.makedirs(out + ".tmp")
    r = subprocess.run(["apt-get", "download", "-q",
                        "grub-efi-arm64-bin:arm64"], cwd=out + ".tmp",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    debs = [f for f in os.listdir(out + ".tmp") if f.endswith(".deb")]
    if r.returncode != 0 or not debs:
        raise guest.GuestError("apt-get download grub-efi-arm64-bin:arm64 "
                               "failed: %s" % r.stdout.decode(errors="replace"))
    _run(["dpkg-deb", "-x", os.path.join(out + ".tmp", debs[0]),
          out + ".tmp"])
    open(os.path.join(out + ".tmp", ".complete"), "w").close()
    shutil.rmtree(out, ignore_errors=True)
    os.rename(out + ".tmp", out)
    return mods


def make_disk(path, kernel, initrd, cmdline, esp=True):
    """Write a raw GPT disk image at @path that boots @kernel with
    @initrd and @cmdline through GRUB; return @path.  With @esp False the disk has
    /boot alone, no EFI system partition: nothing firmware can boot."""
    check_tools()
    mods = grub_arm64_modules()
    tmp = path + ".parts"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "boot", "grub"))
    cfg = os.path.join(tmp, "embedded.cfg")
    with open(cfg, "w") as f:
        f.write(EMBEDDED_CFG)
    efi = os.path.join(tmp, "BOOTAA64.EFI")
    _run(["grub-mkimage", "-O", "arm64-efi", "-d", mods, "-p", "/grub",
          "-c", cfg, "-o", efi] + list(GRUB_MODULES))

    # /boot: ext4, filled from a directory (mke2fs -d), no mount
    boot = os.path.join(tmp, "boot")
    shutil.copy(kernel, os.path.join(boot, "vmlinuz"))
    shutil.copy(initrd, os.path.join(boot, "initrd.img"))
    with open(os.path.join(boot, "grub", "grub.cfg"), "w") as f:
        f.write(GRUB_CFG % cmdline)
    boot_img = os.path.join(tmp, "boot.img")
    _run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", BOOT_LABEL, "-d", boot,
          boot_img, "%dk" % (BOOT_SIZE // 1024)])

    # The ESP: FAT, filled with mtools, no mount
    esp_img = os.path.join(tmp, "esp.img")
    with open(esp_img, "wb") as f:
        f.truncate(ESP_SIZE)
    _run(["mkfs.vfat", "-F", "16", "-n", "VHM-ESP", esp_img])
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    _run(["mmd", "-i", esp_img, "::EFI", "::EFI/BOOT"], env=env)
    _run(["mcopy", "-i", esp_img, efi, "::EFI/BOOT/BOOTAA64.EFI"], env=env)

    # GPT: 1 MiB for the table, the ESP, /boot, 1 MiB for the backup
    start = 1 * MiB
    with open(path, "wb") as f:
        f.truncate(start + ESP_SIZE + BOOT_SIZE + 1 * MiB)
    sector = 512
    p1 = (start // sector, (start + ESP_SIZE) // sector - 1)
    p2 = (p1[1] + 1, p1[1] + BOOT_SIZE // sector)
    parts = [(esp_img, p1, ESP_TYPE, "EFI system partition"),
             (boot_img, p2, LINUX_TYPE, "boot")][0 if esp else 1:]
    argv = ["sgdisk"]
    for n, (_, (first, last), code, name) in enumerate(parts, 1):
        argv += ["-n", "%d:%d:%d" % (n, first, last), "-t",
                 "%d:%s" % (n, code), "-c", "%d:%s" % (n, name)]
    _run(argv + [path])
    with open(path, "r+b") as f:
        for img, (first, _), _, _ in parts:
            f.seek(first * sector)
            with open(img, "rb") as src:
                shutil.copyfileobj(src, f)
    shutil.rmtree(tmp, ignore_errors=True)
    return path
