"""Attach protocol: frames on a unix stream socket, shared by shim and client.

A frame is 1 byte of type, 4 bytes of big-endian payload length, then the
payload. The shim sends STDOUT, STDERR and, once the container has exited
and its output is flushed, EXIT (JSON {"exit_code": N, "signal": S|null})
before closing. Clients send STDIN, STDIN_EOF, RESIZE (JSON {"rows", "cols"})
and DETACH.
"""

from __future__ import annotations

import json
import struct

STDIN = 0
STDOUT = 1
STDERR = 2
EXIT = 3
STDIN_EOF = 4
RESIZE = 5
DETACH = 6

HEADER = struct.Struct(">BI")
# Neither side ever needs more; a larger length means a confused peer.
MAX_PAYLOAD = 1 << 20
SOCKET_NAME = "attach"  # inside the container's state_dir


class ProtocolError(Exception):
    """The peer sent something that is not a frame of this protocol."""


def encode(kind: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def encode_json(kind: int, obj: dict) -> bytes:
    return encode(kind, json.dumps(obj, separators=(",", ":")).encode())


class Decoder:
    """Turns a byte stream into (type, payload) frames, whatever the chunking."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        frames = []
        while len(self._buf) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buf)
            if length > MAX_PAYLOAD:
                raise ProtocolError(f"frame of {length} bytes is too large")
            end = HEADER.size + length
            if len(self._buf) < end:
                break
            frames.append((kind, bytes(self._buf[HEADER.size:end])))
            del self._buf[:end]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buf)
