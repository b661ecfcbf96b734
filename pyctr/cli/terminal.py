"""The user's side of an attached container: stdio proxy, raw terminal, resize, detach keys, signals."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import sys
import termios
import tty as ttymod
from typing import Callable

from pyctr.errors import InvalidArgument

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def parse_detach_keys(text: str) -> bytes:
    """`ctrl-p,ctrl-q` -> b"\\x10\\x11"; "" disables detaching."""
    if not text:
        return b""
    keys = []
    for part in text.split(","):
        part = part.strip().lower()
        if part.startswith("ctrl-") and len(part) == 6 and ("a" <= part[5] <= "z" or part[5] in "@[\\]^_"):
            keys.append(ord(part[5].upper()) & 0x1F)
        elif len(part) == 1:
            keys.append(ord(part))
        else:
            raise InvalidArgument(f"invalid detach keys {text!r}: expected e.g. ctrl-p,ctrl-q")
    return bytes(keys)


class DetachMatcher:
    """Watches typed bytes for the detach sequence; holds back a partial match."""

    def __init__(self, keys: bytes):
        self.keys = keys
        self.matched = 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """Returns (bytes to forward, detach requested)."""
        if not self.keys:
            return data, False
        out = bytearray()
        for byte in data:
            if byte == self.keys[self.matched]:
                self.matched += 1
                if self.matched == len(self.keys):
                    self.matched = 0
                    return bytes(out), True
                continue
            out += self.keys[: self.matched]
            self.matched = 0
            if byte == self.keys[0]:
                self.matched = 1
            else:
                out.append(byte)
        return bytes(out), False


@contextlib.contextmanager
def raw_terminal(fd: int):
    """Raw mode on a terminal, restored however we leave."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        ttymod.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def terminal_size(fd: int) -> tuple[int, int] | None:
    try:
        size = os.get_terminal_size(fd)
        return size.lines, size.columns
    except OSError:
        return None


@contextlib.contextmanager
def forwarding_signals(forward: Callable[[int], None]):
    """While attached, signals to pyctr go to the container (--sig-proxy)."""
    previous = {}
    for sig in FORWARDED_SIGNALS:
        previous[sig] = signal.signal(sig, lambda signum, frame: forward(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Detached(Exception):
    pass


def proxy(client, *, stdin: bool, tty: bool, detach_keys: bytes, on_resize: Callable[[], None] | None = None) -> dict | None:
    """Copy stdin to the container and its output to ours until it exits (returns the exit frame) or we detach."""
    from pyctr.runtime.attach import FRAME_EXIT, FRAME_STDERR, FRAME_STDOUT

    sel = selectors.DefaultSelector()
    sock = client.sock
    sel.register(sock, selectors.EVENT_READ, "container")
    in_fd = sys.stdin.fileno() if stdin else None
    if in_fd is not None:
        os.set_blocking(in_fd, True)
        sel.register(in_fd, selectors.EVENT_READ, "stdin")
    matcher = DetachMatcher(detach_keys if tty or stdin else b"")
    out, err = sys.stdout.buffer, sys.stderr.buffer
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    sel.register(wake_r, selectors.EVENT_READ, "resize")
    previous_winch = None
    if tty and on_resize:
        previous_winch = signal.signal(signal.SIGWINCH, lambda s, f: os.write(wake_w, b"."))
    try:
        while True:
            for key, _ in sel.select():
                if key.data == "container":
                    frame = client.read_frame()
                    if frame is None:
                        return None
                    kind, payload = frame
                    if kind == FRAME_STDOUT:
                        out.write(payload)
                        out.flush()
                    elif kind == FRAME_STDERR:
                        (out if tty else err).write(payload)
                        (out if tty else err).flush()
                    elif kind == FRAME_EXIT:
                        return client.decode_exit(payload)
                elif key.data == "stdin":
                    data = os.read(in_fd, 65536)
                    if not data:
                        sel.unregister(in_fd)
                        client.close_stdin()
                        continue
                    data, detach = matcher.feed(data)
                    if data:
                        client.send_stdin(data)
                    if detach:
                        client.detach()
                        raise Detached()
                else:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
                    on_resize()
    finally:
        if previous_winch is not None:
            signal.signal(signal.SIGWINCH, previous_winch)
        sel.close()
        os.close(wake_r)
        os.close(wake_w)
