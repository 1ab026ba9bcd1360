#!/usr/bin/env python3
#
# Acceptance: configure's answer to bad input.  Each case runs a copy of
# configure (with qemu.sha256, scripts/ and patches/) in a temporary
# directory, so that whatever it does cannot touch this tree's build/:
# exit status non-zero, one line naming the input and the reason, and no
# assembled tree left behind that a later run would trust.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import guest, tap  # noqa: E402

ROOT = guest.ROOT


def sandbox():
    d = tempfile.mkdtemp(prefix="vhm-configure-")
    for f in ("configure", "qemu.sha256"):
        shutil.copy2(os.path.join(ROOT, f), d)
    for sub in ("scripts", "patches"):
        shutil.copytree(os.path.join(ROOT, sub), os.path.join(d, sub))
    return d


def fake_tree(parent, version):
    """The files configure looks at to recognise a QEMU tree."""
    t = os.path.join(parent, "qemu-%s" % version)
    os.makedirs(os.path.join(t, "hw", "arm"))
    for f, text in (("VERSION", version + "\n"), ("meson.build", "# fake\n"),
                    ("hw/arm/virt.c", "/* fake */\n")):
        with open(os.path.join(t, f), "w") as fh:
            fh.write(text)
    return t


def run_configure(box, *args):
    p = subprocess.run([os.path.join(box, "configure")] + list(args),
                       cwd=box, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    err = [l for l in p.stderr.decode().splitlines() if l.strip()]
    return p.returncode, err


def expect_refusal(args, expect, prepare=None):
    box = sandbox()
    try:
        if prepare:
            args = prepare(box, args)
        rc, err = run_configure(box, *args)
        assert rc != 0, "configure accepted %s" % (args,)
        assert len(err) == 1, "expected one error line, got %s" % err
        assert expect in err[0], err[0]
        # Nothing half-assembled, no build directory to trust.
        assert not os.path.exists(os.path.join(box, "assembled", "qemu")), \
            "an assembled tree was left behind"
        assert not os.path.exists(os.path.join(box, "build",
                                               ".virt-hotmem-configured"))
        leftovers = os.listdir(os.path.join(box, "assembled")) \
            if os.path.isdir(os.path.join(box, "assembled")) else []
        assert leftovers == [], leftovers
    finally:
        shutil.rmtree(box, ignore_errors=True)


def test_unknown_option():
    expect_refusal(["--enable-everything"],
                   "configure: unknown option '--enable-everything'")


def test_src_not_a_directory():
    expect_refusal(["--qemu-src=/nonexistent/qemu"],
                   "--qemu-src=/nonexistent/qemu: not a directory")


def test_src_not_a_qemu_tree():
    def prepare(box, args):
        os.makedirs(os.path.join(box, "empty"))
        return ["--qemu-src=" + os.path.join(box, "empty")]
    expect_refusal([], "not a QEMU source tree", prepare)


def test_src_wrong_version():
    def prepare(box, args):
        return ["--qemu-src=" + fake_tree(box, "9.2.4")]
    expect_refusal([], "QEMU version 9.2.4, need 10.0.x", prepare)


def test_tarball_wrong_checksum():
    def prepare(box, args):
        bad = os.path.join(box, "qemu-10.0.13.tar.xz")
        with open(bad, "wb") as f:
            f.write(b"not a tarball\n")
        return ["--qemu-tarball=" + bad]
    expect_refusal([], "is not listed in qemu.sha256", prepare)


def test_tarball_missing():
    expect_refusal(["--qemu-tarball=/nonexistent.tar.xz"],
                   "--qemu-tarball=/nonexistent.tar.xz: no such file")


def test_patch_does_not_apply():
    # A 10.0.x tree that lacks what the patches change: the first patch
    # must be named.
    def prepare(box, args):
        return ["--qemu-src=" + fake_tree(box, "10.0.13")]
    first = sorted(p for p in os.listdir(os.path.join(ROOT, "patches"))
                   if p.endswith(".patch"))[0]
    expect_refusal([], "patch %s does not apply to QEMU 10.0.13" % first,
                   prepare)


def test_unsupported_base():
    expect_refusal(["--qemu-base=10.1"],
                   "configure: --qemu-base=10.1: not a supported base "
                   "(supported: 10.0, 10.2)")


def test_src_of_the_other_base():
    def prepare(box, args):
        return ["--qemu-src=" + fake_tree(box, "10.2.2")]
    expect_refusal([], "QEMU version 10.2.2, need 10.0.x (or --qemu-base=10.2)",
                   prepare)


def test_tarball_of_the_other_base():
    # qemu.sha256 names the file it pins, and so its version: a 10.2
    # tarball is refused for the 10.0 base before it is unpacked.
    def prepare(box, args):
        t = os.path.join(box, "qemu-10.2.9.tar.xz")
        with open(t, "wb") as f:
            f.write(b"a 10.2 tarball\n")
        sha = subprocess.run(["sha256sum", t], check=True,
                             stdout=subprocess.PIPE).stdout.split()[0]
        with open(os.path.join(box, "qemu.sha256"), "a") as f:
            f.write("%s qemu_10.2.9+ds.orig.tar.xz\n" % sha.decode())
        return ["--qemu-base=10.0", "--qemu-tarball=" + t]
    expect_refusal([], "qemu_10.2.9+ds.orig.tar.xz in qemu.sha256, need QEMU "
                   "10.0.x (or --qemu-base=10.2)", prepare)


def test_variant_replaces_patch():
    # On a 10.2 tree the first patch's variant in patches/10.2/ is the
    # one applied, and the one named when it does not apply.
    patches = os.path.join(ROOT, "patches")
    first = sorted(p for p in os.listdir(patches) if p.endswith(".patch"))[0]

    def prepare(box, args):
        shutil.copy2(os.path.join(patches, first),
                     os.path.join(box, "patches", "10.2", first))
        return ["--qemu-base=10.2", "--qemu-src=" + fake_tree(box, "10.2.2")]
    expect_refusal([], "patch 10.2/%s does not apply to QEMU 10.2.2" % first,
                   prepare)


def test_patch_of_one_base():
    # A patches/10.2/ patch whose number no patches/NNNN-*.patch has is a
    # hook only 10.2 needs: applied on 10.2 in number order (0000: before
    # the stack's first, which the fake tree would refuse first).
    def prepare(box, args):
        with open(os.path.join(box, "patches", "10.2", "0000-only.patch"),
                  "w") as f:
            f.write("")
        return ["--qemu-base=10.2", "--qemu-src=" + fake_tree(box, "10.2.2")]
    expect_refusal([], "patch 10.2/0000-only.patch does not apply to QEMU "
                   "10.2.2", prepare)


def test_variant_with_another_name():
    # A variant carries the name of the patch it stands for
    patches = os.path.join(ROOT, "patches")
    first = sorted(p for p in os.listdir(patches) if p.endswith(".patch"))[0]
    other = first.split("-")[0] + "-another-name.patch"

    def prepare(box, args):
        shutil.copy2(os.path.join(patches, first),
                     os.path.join(box, "patches", "10.2", other))
        return ["--qemu-base=10.2", "--qemu-src=" + fake_tree(box, "10.2.2")]
    expect_refusal([], "patches/10.2/%s has the number of patches/%s but "
                   "not its name" % (other, first), prepare)


if __name__ == "__main__":
    tap.main([("configure/unknown-option", test_unknown_option),
              ("configure/qemu-src-not-a-directory", test_src_not_a_directory),
              ("configure/qemu-src-not-a-qemu-tree", test_src_not_a_qemu_tree),
              ("configure/qemu-src-wrong-version", test_src_wrong_version),
              ("configure/qemu-tarball-wrong-checksum",
               test_tarball_wrong_checksum),
              ("configure/qemu-tarball-missing", test_tarball_missing),
              ("configure/patch-does-not-apply", test_patch_does_not_apply),
              ("configure/unsupported-base", test_unsupported_base),
              ("configure/qemu-src-of-the-other-base",
               test_src_of_the_other_base),
              ("configure/qemu-tarball-of-the-other-base",
               test_tarball_of_the_other_base),
              ("configure/variant-replaces-patch", test_variant_replaces_patch),
              ("configure/patch-of-one-base", test_patch_of_one_base),
              ("configure/variant-with-another-name",
               test_variant_with_another_name)])
