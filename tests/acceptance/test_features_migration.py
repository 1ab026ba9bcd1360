#!/usr/bin/env python3
#
# Acceptance: migration as Debian's qemu does it, between two real QEMU
# processes of our aarch64 binary on loopback:
# - multifd with zstd compression: the destination's RAM equals the
#   source's byte for byte, and the multifd channels carried fewer bytes
#   than the RAM pages they moved (so the stream really was compressed);
# - TLS (gnutls) with x509 certificates made here with GnuTLS's certtool:
#   with the right CA the migration completes and RAM matches; a
#   destination whose certificate another CA signed is refused by the
#   source, which keeps its VM.
#
# The source holds the Debian kernel in RAM (loaded by -kernel, never run:
# -S); the destination is started without it, so matching RAM can only
# come through the stream.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vhm import dimm, guest, tap  # noqa: E402

RAM = 256 * guest.MiB
COMMON = ["-M", "virt-hotmem", "-accel", "tcg", "-cpu", "max",
          "-m", "256M", "-S"]


def source(extra=(), name="mig-src"):
    kernel = os.path.join(guest.guest_assets(), "vmlinuz")
    return guest.VM(COMMON + ["-kernel", kernel] + list(extra), name=name)


def destination(extra=(), name="mig-dst"):
    return guest.VM(COMMON + ["-incoming", "defer"] + list(extra), name=name)


def ram_digest(vm):
    path = os.path.join(vm.tmp, "ram.bin")
    vm.qmp.cmd("pmemsave", val=dimm.RAM_BASE, size=RAM, filename=path)
    h = hashlib.sha256()
    zero = True
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            zero = zero and not chunk.strip(b"\0")
    os.unlink(path)
    return h.hexdigest(), zero


def tcp_incoming(dst):
    """Let @dst listen on an ephemeral loopback port; return the URI."""
    dst.qmp.cmd("migrate-incoming", uri="tcp:127.0.0.1:0")
    addr = dst.qmp.cmd("query-migrate")["socket-address"][0]
    return "tcp:%s:%s" % (addr["host"], addr["port"])


def set_caps(vm, **caps):
    vm.qmp.cmd("migrate-set-capabilities", capabilities=[
        {"capability": k.replace("_", "-"), "state": v}
        for k, v in caps.items()])


def test_multifd_zstd():
    with source() as src, destination() as dst:
        for vm in (src, dst):
            set_caps(vm, multifd=True)
            vm.qmp.cmd("migrate-set-parameters", **{
                "multifd-channels": 2, "multifd-compression": "zstd"})
        uri = tcp_incoming(dst)
        want, zero = ram_digest(src)
        src.qmp.cmd("migrate", uri=uri)
        assert guest.wait_migration(src) == "completed", \
            src.qmp.cmd("query-migrate")
        ram = src.qmp.cmd("query-migrate")["ram"]
        got, _ = ram_digest(dst)
    assert not zero, "the source's RAM is empty: no kernel was loaded"
    assert got == want, "RAM differs after the zstd multifd migration"
    assert ram["normal"] > 0, ram
    assert ram["multifd-bytes"] < ram["normal-bytes"] // 2, (
        "multifd carried %d bytes for %d bytes of pages: not compressed" %
        (ram["multifd-bytes"], ram["normal-bytes"]))


def certtool(*args):
    subprocess.run(["certtool"] + list(args), check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name):
    os.makedirs(d)
    key, cert = os.path.join(d, "ca-key.pem"), os.path.join(d, "ca-cert.pem")
    tmpl = os.path.join(d, "ca.info")
    with open(tmpl, "w") as f:
        f.write("cn = %s\nca\ncert_signing_key\nexpiration_days = 2\n" % name)
    certtool("--generate-privkey", "--outfile", key)
    certtool("--generate-self-signed", "--load-privkey", key,
             "--template", tmpl, "--outfile", cert)
    return key, cert


def make_cert(d, ca, role):
    """server-cert.pem/-key.pem or client-... in @d, signed by @ca, in the
    file names tls-creds-x509 expects (docs/system/tls.rst)."""
    os.makedirs(d, exist_ok=True)
    shutil.copy(ca[1], os.path.join(d, "ca-cert.pem"))
    key = os.path.join(d, "%s-key.pem" % role)
    tmpl = os.path.join(d, "%s.info" % role)
    with open(tmpl, "w") as f:
        f.write("cn = vhm-%s\nip_address = 127.0.0.1\n"
                "tls_www_%s\nencryption_key\nsigning_key\n"
                "expiration_days = 2\n" % (role, role))
    certtool("--generate-privkey", "--outfile", key)
    certtool("--generate-certificate", "--load-privkey", key,
             "--load-ca-certificate", ca[1], "--load-ca-privkey", ca[0],
             "--template", tmpl,
             "--outfile", os.path.join(d, "%s-cert.pem" % role))
    return d


def tls_creds(d, endpoint):
    return ["-object", "tls-creds-x509,id=tls0,endpoint=%s,dir=%s,"
            "verify-peer=on" % (endpoint, d)]


def tls_migration(server_ca_name):
    """Migrate over TLS from a source whose client certificate and
    trusted CA come from one CA to a destination whose server
    certificate @server_ca_name signed (the same CA when it is that
    CA's name).  Returns (final status, query-migrate, the source's
    run state, the source's RAM digest, the destination's or None)."""
    if not shutil.which("certtool"):
        raise tap.Skip("no certtool (Debian package gnutls-bin)")
    tmp = tempfile.mkdtemp(prefix="vhm-tls-")
    try:
        ca = make_ca(os.path.join(tmp, "ca"), "vhm test CA")
        server_ca = ca
        if server_ca_name != "vhm test CA":
            server_ca = make_ca(os.path.join(tmp, "other"), server_ca_name)
        client = make_cert(os.path.join(tmp, "client"), ca, "client")
        server = make_cert(os.path.join(tmp, "server"), server_ca, "server")
        with source(tls_creds(client, "client")) as src, \
                destination(tls_creds(server, "server")) as dst:
            for vm in (src, dst):
                vm.qmp.cmd("migrate-set-parameters", **{"tls-creds": "tls0"})
            uri = tcp_incoming(dst)
            want, _ = ram_digest(src)
            src.qmp.cmd("migrate", uri=uri)
            st = guest.wait_migration(src)
            info = src.qmp.cmd("query-migrate")
            state = src.qmp.cmd("query-status")["status"]
            got = ram_digest(dst)[0] if st == "completed" else None
        return st, info, state, want, got
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_tls_migration():
    st, info, _, want, got = tls_migration("vhm test CA")
    assert st == "completed", info
    assert got == want, "RAM differs after the TLS migration"


def test_tls_untrusted_destination_refused():
    # The destination's certificate comes from a CA the source does not
    # trust.
    st, info, state, _, _ = tls_migration("another CA")
    assert st == "failed", info
    assert "certificate" in info.get("error-desc", "").lower(), info
    # The source keeps its (paused) VM.
    assert state in ("prelaunch", "paused"), state


if __name__ == "__main__":
    tap.main([("migration/multifd-zstd", test_multifd_zstd),
              ("migration/tls-x509-certtool", test_tls_migration),
              ("migration/tls-untrusted-destination-refused",
               test_tls_untrusted_destination_refused)])
