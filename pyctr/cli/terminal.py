"""The user's side of an attached container: stdio proxy, raw terminal, resize, detach keys, signals."""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import signal
import sys
import termios
import time
import tty as ttymod
TYPE_CHECKING = False  # (typing's costs ~2 ms at every attached run)
if TYPE_CHECKING:
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
        if not self.keys or (not self.matched and self.keys[0] not in data):
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

    def flush(self) -> bytes:
        """At the end of input: the partial match held back, which was no detach after all."""
        held, self.matched = self.keys[: self.matched], 0
        return held


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


STDIN_CHUNK = 1 << 18
SEND_LIMIT = 1 << 20  # stdin queued for the shim before we stop reading ours
LEAVING_GRACE = 2.0  # seconds to tell the shim to close the container's stdin when we leave early


def stdin_fd() -> int | None:
    """Our stdin's fd; None when we were started with it closed (fd 0 may then be some file of ours)."""
    return None if sys.stdin is None else sys.stdin.fileno()


def detach_keys_apply(tty: bool, in_fd: int | None) -> bool:
    """Detach keys are typed: only a terminal container with a terminal on our stdin has them
    (as podman); from a pipe or a file, every byte is the container's."""
    return tty and in_fd is not None and os.isatty(in_fd)


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass


def proxy(client, *, stdin: bool, tty: bool, detach_keys: bytes, on_resize: Callable[[], None] | None = None,
          streams: tuple[str, ...] = ("stdout", "stderr")) -> dict | None:
    """Copy stdin to the container and its output to ours until it exits (returns the exit frame) or we detach.

    Our stdin may be anything: a terminal, pipe or socket is watched; a regular file or
    /dev/null, which epoll refuses, never makes a read wait, so it counts as always ready.
    Nothing here waits on the shim: stdin goes out as the socket takes it, and is read
    only while little of it is queued."""
    from pyctr.runtime.attach import FRAME_EXIT, FRAME_STDERR, FRAME_STDOUT

    sel = selectors.DefaultSelector()
    sock = client.fileno()
    client.start_buffering()
    sel.register(sock, selectors.EVENT_READ, "container")
    sock_events = selectors.EVENT_READ
    in_fd = stdin_fd() if stdin else None
    watched = False  # in_fd is in the selector (else, when open, it is always ready)
    if in_fd is not None:
        with contextlib.suppress(OSError):
            os.set_blocking(in_fd, True)
        try:
            sel.register(in_fd, selectors.EVENT_READ, "stdin")
            watched = True
        except PermissionError:
            pass
    elif stdin:
        client.close_stdin()
    matcher = DetachMatcher(detach_keys if detach_keys_apply(tty, in_fd) else b"")
    out = sys.stdout.buffer if "stdout" in streams else _Discard()  # run -a: the streams not asked for go nowhere
    err = sys.stderr.buffer if "stderr" in streams else _Discard()
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    sel.register(wake_r, selectors.EVENT_READ, "resize")
    previous_winch = None
    if tty and on_resize:
        previous_winch = signal.signal(signal.SIGWINCH, lambda s, f: os.write(wake_w, b"."))

    def read_stdin() -> None:
        nonlocal in_fd, watched
        try:
            data = os.read(in_fd, STDIN_CHUNK)
        except BlockingIOError:  # a non-blocking fd we could not switch
            return
        except OSError:  # EIO: our terminal hung up; anything else ends our input too
            data = b""
        if not data:
            if watched:
                sel.unregister(in_fd)
            in_fd, watched = None, False
            client.send_stdin(matcher.flush())
            client.close_stdin()
            return
        data, detach = matcher.feed(data)
        if data:
            client.send_stdin(data)
        if detach:
            client.detach()
            raise Detached()

    try:
        while True:
            want_stdin = in_fd is not None and client.pending < SEND_LIMIT
            if watched and want_stdin != (in_fd in sel.get_map()):
                if want_stdin:
                    sel.register(in_fd, selectors.EVENT_READ, "stdin")
                else:
                    sel.unregister(in_fd)
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.pending else 0)
            if events != sock_events:
                sel.modify(sock, events, "container")
                sock_events = events
            always_ready = want_stdin and not watched
            for key, mask in sel.select(0 if always_ready else None):
                if key.data == "container":
                    if mask & selectors.EVENT_WRITE:
                        client.flush()
                    if not mask & selectors.EVENT_READ:
                        continue
                    frames = client.read_ready()
                    if frames is None:
                        return None
                    for kind, payload in frames:
                        if kind == FRAME_STDOUT:
                            out.write(payload)
                        elif kind == FRAME_STDERR:
                            (out if tty else err).write(payload)
                        elif kind == FRAME_EXIT:
                            out.flush()
                            err.flush()
                            return client.decode_exit(payload)
                    out.flush()
                    err.flush()
                elif key.data == "stdin":
                    read_stdin()
                else:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
                    on_resize()
            if always_ready:
                read_stdin()
    except Detached:
        raise
    except BaseException:
        if stdin and not tty:
            _leaving(client, close_stdin=in_fd is not None)
        raise
    finally:
        if previous_winch is not None:
            signal.signal(signal.SIGWINCH, previous_winch)
        sel.close()
        os.close(wake_r)
        os.close(wake_w)


def _leaving(client, *, close_stdin: bool) -> None:
    """We leave before the container (our stdout is gone, an interrupt): close its stdin as
    podman does, so that a `cat` ends instead of waiting for us forever. Its output is read
    and dropped meanwhile, as the shim holds it for us and the container may wait for that."""
    deadline = time.monotonic() + LEAVING_GRACE
    with contextlib.suppress(Exception):
        if close_stdin:
            client.close_stdin()
        while client.pending and (remaining := deadline - time.monotonic()) > 0:
            readable, writable, _ = select.select([client.sock], [client.sock], [], remaining)
            if writable:
                client.flush()
            if readable and client.read_ready() is None:
                return
