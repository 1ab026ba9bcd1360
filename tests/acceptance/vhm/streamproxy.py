# A migration stream forwarded from one Unix socket to another, the
# source's bytes edited on the way: how the tests make the streams a
# destination must refuse (another machine type, a newer section version,
# a truncated or inconsistent section).  The destination's return path
# comes back unchanged, so that the source can still read its reason.
#
# Copyright (c) 2026 The virt-hotmem developers
#
# SPDX-License-Identifier: GPL-2.0-or-later

import socket
import threading

CHUNK = 1 << 16


class StreamProxy(threading.Thread):
    """Listen on @listen; forward its first connection to @target, both
    ways, until each side has ended; started at once.

    @edit(pending, eof) gets the source's bytes not sent yet and whether
    the source has ended its stream; it returns (bytes to send now, bytes
    to hold back until more come, whether to end the stream to the
    destination after these)."""

    def __init__(self, listen, target, edit, timeout=30):
        super().__init__(daemon=True)
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(listen)
        self.srv.listen(1)
        self.srv.settimeout(timeout)
        self.target = target
        self.edit = edit
        self.timeout = timeout
        self.start()

    @staticmethod
    def _pump(a, b, edit):
        pending = b""
        try:
            while True:
                data = a.recv(CHUNK)
                if edit is None:
                    send, stop = data, False
                else:
                    send, pending, stop = edit(pending + data, not data)
                if send:
                    b.sendall(send)
                if stop or not data:
                    break
        except OSError:
            pass
        finally:
            # Only this direction ends, as on a direct connection: @b's
            # reader sees the end, @a's writer a closed peer.  The other
            # direction goes on: the return path still carries the
            # destination's reason after the stream broke (ending both
            # here dropped it: "Channel error" on the source).
            for s, how in ((b, socket.SHUT_WR), (a, socket.SHUT_RD)):
                try:
                    s.shutdown(how)
                except OSError:
                    pass

    def run(self):
        try:
            src, _ = self.srv.accept()
        except OSError:
            return
        finally:
            self.srv.close()
        dst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dst.connect(self.target)
        back = threading.Thread(target=self._pump, args=(dst, src, None),
                                daemon=True)
        back.start()
        self._pump(src, dst, self.edit)
        back.join(self.timeout)
        dst.close()
        src.close()


def edit_head(rewrite, size=CHUNK):
    """An edit for StreamProxy: the stream's first @size bytes (its header
    and early sections), or all of it if shorter, passed through
    @rewrite at once, the rest unchanged."""
    done = False

    def edit(pending, eof):
        nonlocal done
        if done:
            return pending, b"", False
        if len(pending) < size and not eof:
            return b"", pending, False
        done = True
        return rewrite(pending), b"", False
    return edit
