"""Client side of a shim's attach socket (protocol: pyctr.shim.protocol).

    client = AttachClient.open(state_dir)     # before `runc start` to get every byte
    client.send_stdin(b"..."); client.close_stdin(); client.resize(rows, cols)
    for kind, payload in client.frames():      # STDOUT / STDERR ..., then EXIT
        ...
read_frame() reads exactly one frame, so it also fits a caller's select() loop.
For a caller's own event loop that must never block (pyctr.cli.terminal.proxy):
start_buffering(), then flush() when the socket is writable while `pending`, and
read_ready() when it is readable (not to be mixed with read_frame()).
The shim sends EXIT ({"exit_code": N, "signal": S|null}) once the container
has exited and its output is flushed, then closes the connection.
"""

from __future__ import annotations

import json
import os
import select
import socket
import time
TYPE_CHECKING = False  # (not typing's: ~2 ms at every start)
if TYPE_CHECKING:
    from typing import Iterator

from pyctr.errors import PyctrError
from pyctr.shim import protocol
from pyctr.shim.protocol import DETACH, EXIT, RESIZE, STDERR, STDIN, STDIN_EOF, STDOUT  # noqa: F401

# The frame types under longer names, for callers that import them unqualified.
FRAME_STDIN, FRAME_STDOUT, FRAME_STDERR, FRAME_EXIT = STDIN, STDOUT, STDERR, EXIT
FRAME_STDIN_EOF, FRAME_RESIZE, FRAME_DETACH = STDIN_EOF, RESIZE, DETACH

_SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes with its terminating NUL


class AttachError(PyctrError):
    """The container's shim cannot be reached, or went away mid-conversation."""


def socket_path(state_dir: str) -> str:
    return os.path.join(state_dir, protocol.SOCKET_NAME)


def connect(state_dir: str) -> socket.socket:
    """Connect to the shim's attach socket in `state_dir`, however long its path."""
    path = socket_path(state_dir)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        if len(os.fsencode(path)) <= _SUN_PATH_MAX:
            sock.connect(path)
        else:
            # Too long for sun_path: go through our own fd of the directory.
            dir_fd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                sock.connect(f"/proc/self/fd/{dir_fd}/{protocol.SOCKET_NAME}")
            finally:
                os.close(dir_fd)
    except OSError as exc:
        sock.close()
        raise AttachError(f"attaching to the container: {path}: {exc.strerror or exc}",
                          hint="is the container running? (its shim may have exited)") from exc
    return sock


class AttachClient:
    """Frames over a connected attach socket; blocking sends, optionally timed reads."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._out = bytearray()    # frames not sent yet
        self._buffering = False    # sends queue up instead of blocking
        self._shim_gone = False    # buffered sends failed: the shim closed the connection
        self._decoder = protocol.Decoder()  # for read_ready()

    @classmethod
    def open(cls, state_dir: str) -> "AttachClient":
        return cls(connect(state_dir))

    def fileno(self) -> int:
        return self.sock.fileno()

    def __enter__(self) -> "AttachClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    # -- client -> shim ----------------------------------------------------------------------

    def _send(self, frame: bytes) -> None:
        if self._shim_gone:
            return
        self._out += frame
        if self._buffering:
            self.flush()
            return
        try:
            self.sock.sendall(self._out)
        except OSError as exc:
            raise AttachError(f"writing to the container's shim: {exc.strerror or exc}") from exc
        finally:
            self._out.clear()

    def start_buffering(self) -> None:
        """From now on no send blocks: frames wait in a buffer, and flush() sends what the
        socket takes; once the shim has closed the connection, sends are dropped. (A blocking
        send could deadlock: the shim stops reading us while the container's stdin is full,
        and the container stops reading it while we do not read its output.)"""
        self._buffering = True

    @property
    def pending(self) -> int:
        """Bytes of frames queued and not sent yet."""
        return len(self._out)

    def flush(self) -> None:
        """Send queued frames as far as the socket takes them without waiting."""
        while self._out:
            try:
                sent = self.sock.send(self._out, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except (BrokenPipeError, ConnectionResetError):
                # The shim closes once the container has exited: its exit frame, if any,
                # still waits to be read, and what we had to send no longer matters.
                self._shim_gone = True
                self._out.clear()
                return
            except OSError as exc:
                raise AttachError(f"writing to the container's shim: {exc.strerror or exc}") from exc
            del self._out[:sent]

    def send_stdin(self, data: bytes) -> None:
        for start in range(0, len(data), protocol.MAX_PAYLOAD):
            self._send(protocol.encode(STDIN, data[start:start + protocol.MAX_PAYLOAD]))

    def close_stdin(self) -> None:
        """Close the container's stdin pipe once what was sent is written (ignored with a tty)."""
        self._send(protocol.encode(STDIN_EOF))

    def resize(self, rows: int, cols: int) -> None:
        self._send(protocol.encode_json(RESIZE, {"rows": rows, "cols": cols}))

    def detach(self) -> None:
        """Leave the container running; the shim closes this connection.
        What is queued goes first (waiting for it, if need be)."""
        self._buffering = False
        try:
            self._send(protocol.encode(DETACH))
        finally:
            self.close()

    # -- shim -> client ----------------------------------------------------------------------

    def read_frame(self, timeout: float | None = None) -> tuple[int, bytes] | None:
        """The next frame, or None once the shim has closed the connection.

        Reads exactly one frame from the socket and nothing beyond it, so a caller's
        select() on the socket still sees the frames that follow. Raises TimeoutError
        if no whole frame arrives within `timeout` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        header = self._recv_exactly(protocol.HEADER.size, deadline)
        if header is None:
            return None
        kind, length = protocol.HEADER.unpack(header)
        if length > protocol.MAX_PAYLOAD:
            raise AttachError(f"the container's shim sent a frame of {length} bytes")
        payload = self._recv_exactly(length, deadline) if length else b""
        if payload is None:
            raise AttachError("the container's shim closed the connection mid-frame")
        return kind, payload

    def _recv_exactly(self, size: int, deadline: float | None) -> bytes | None:
        """`size` bytes, or None at a clean EOF before the first one."""
        data = bytearray()
        while len(data) < size:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError("no frame from the container's shim in time")
            if not select.select([self.sock], [], [], remaining)[0]:
                continue
            try:
                chunk = self.sock.recv(size - len(data))
            except BlockingIOError:
                continue
            except OSError as exc:
                raise AttachError(f"reading from the container's shim: {exc.strerror or exc}") from exc
            if not chunk:
                if data:
                    raise AttachError("the container's shim closed the connection mid-frame")
                return None
            data += chunk
        return bytes(data)

    def read_ready(self) -> list[tuple[int, bytes]] | None:
        """The frames that have arrived whole, from what can be read without waiting
        ([] if none yet); None once the shim has closed the connection."""
        try:
            data = self.sock.recv(1 << 18, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return []
        except ConnectionResetError:  # it closed with some of our stdin unread: a close all the same
            data = b""
        except OSError as exc:
            raise AttachError(f"reading from the container's shim: {exc.strerror or exc}") from exc
        if not data:
            if self._decoder.pending:
                raise AttachError("the container's shim closed the connection mid-frame")
            return None
        try:
            return self._decoder.feed(data)
        except protocol.ProtocolError as exc:
            raise AttachError(f"the container's shim sent garbage: {exc}") from exc

    def frames(self, timeout: float | None = None) -> Iterator[tuple[int, bytes]]:
        """Frames until the shim closes; `timeout` applies to each frame."""
        while (frame := self.read_frame(timeout)) is not None:
            yield frame

    @staticmethod
    def decode_exit(payload: bytes) -> dict:
        """The payload of an EXIT frame: {"exit_code": N, "signal": S or None}."""
        return json.loads(payload)

    def collect(self, timeout: float | None = None) -> tuple[bytes, bytes, dict | None]:
        """Read to the end: (stdout, stderr, exit status or None if the shim closed without one)."""
        out, err, status = bytearray(), bytearray(), None
        for kind, payload in self.frames(timeout):
            if kind == STDOUT:
                out += payload
            elif kind == STDERR:
                err += payload
            elif kind == EXIT:
                status = self.decode_exit(payload)
        return bytes(out), bytes(err), status


def wait_for_exit_record(exit_file: str, timeout: float | None = None) -> dict | None:
    """Poll (every 50 ms) for the shim's exit record; None if it is not there in time."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            with open(exit_file, "rb") as f:
                record = json.load(f)
            if isinstance(record, dict):
                return record
        except FileNotFoundError:
            pass
        except (OSError, ValueError):
            pass  # written atomically, so only a foreign file gets here; keep waiting
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(0.05)
