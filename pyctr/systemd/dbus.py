"""Just enough D-Bus to call one method of systemd's manager, peer to peer.

systemd's manager listens on a private socket (`$XDG_RUNTIME_DIR/systemd/private` for a user's,
`/run/systemd/private` for the system's) that speaks D-Bus without a bus: no Hello, no names,
and no dbus-daemon needed (there often is none for a user). `busctl --address=` cannot use it
(it always says Hello, which the manager refuses), hence this. Standard library only.

Authentication is EXTERNAL with the caller's uid *as the manager sees it*: a process in a user
namespace (rootless pyctr after it joined the user's) is uid 0 inside, but the kernel shows the
manager its host uid, and the two must agree, so callers pass the host uid.
"""

from __future__ import annotations

import socket
import struct

_ALIGN = {"y": 1, "b": 4, "n": 2, "q": 2, "i": 4, "u": 4, "x": 8, "t": 8, "d": 8, "s": 4, "o": 4, "g": 1,
          "a": 4, "(": 8, "{": 8, "v": 1, "h": 4}
_FIXED = {"y": "B", "b": "I", "n": "h", "q": "H", "i": "i", "u": "I", "x": "q", "t": "Q", "d": "d", "h": "I"}
METHOD_CALL, METHOD_RETURN, ERROR = 1, 2, 3
_PATH, _INTERFACE, _MEMBER, _ERROR_NAME, _REPLY_SERIAL, _DESTINATION, _SIGNATURE = 1, 2, 3, 4, 5, 6, 8


class DBusError(Exception):
    """The manager answered with an error (`name`: e.g. org.freedesktop.systemd1.UnitExists), or
    the conversation failed (`name` "")."""

    def __init__(self, name: str, message: str):
        super().__init__(message or name)
        self.name = name


class Variant:
    """A value with its D-Bus signature, for `v` (systemd's unit properties)."""

    def __init__(self, signature: str, value):
        self.signature = signature
        self.value = value


def _split(signature: str) -> list[str]:
    """The complete types of a signature: "sa(sv)" -> ["s", "a(sv)"]."""
    types, i = [], 0
    while i < len(signature):
        j = _end(signature, i)
        types.append(signature[i:j])
        i = j
    return types


def _end(signature: str, i: int) -> int:
    if signature[i] == "a":
        return _end(signature, i + 1)
    if signature[i] in "({":
        depth, j = 0, i
        while True:
            depth += {"(": 1, "{": 1, ")": -1, "}": -1}.get(signature[j], 0)
            j += 1
            if depth == 0:
                return j
    return i + 1


class _Writer:
    def __init__(self):
        self.buf = bytearray()

    def pad(self, n: int) -> None:
        self.buf += b"\0" * (-len(self.buf) % n)

    def write(self, type_: str, value) -> None:
        code = type_[0]
        self.pad(_ALIGN[code])
        if code in _FIXED:
            self.buf += struct.pack("<" + _FIXED[code], value)
        elif code in "so":
            data = value.encode()
            self.buf += struct.pack("<I", len(data)) + data + b"\0"
        elif code == "g":
            data = value.encode()
            self.buf += bytes([len(data)]) + data + b"\0"
        elif code == "v":
            self.write("g", value.signature)
            self.write(value.signature, value.value)
        elif code == "a":
            element = type_[1:]
            at = len(self.buf)
            self.buf += b"\0\0\0\0"
            self.pad(_ALIGN[element[0]])  # the length counts from the first element, after its padding
            start = len(self.buf)
            for item in (value.items() if element[0] == "{" else value):
                self.write(element, item)
            self.buf[at:at + 4] = struct.pack("<I", len(self.buf) - start)
        elif code in "({":
            for member, item in zip(_split(type_[1:-1]), value):
                self.write(member, item)
        else:
            raise ValueError(f"D-Bus type {type_!r} is not supported")


class _Reader:
    def __init__(self, buf: bytes, pos: int = 0):
        self.buf = buf
        self.pos = pos

    def align(self, n: int) -> None:
        self.pos += -self.pos % n

    def read(self, type_: str):
        code = type_[0]
        self.align(_ALIGN[code])
        if code in _FIXED:
            fmt = "<" + _FIXED[code]
            (value,) = struct.unpack_from(fmt, self.buf, self.pos)
            self.pos += struct.calcsize(fmt)
            return value
        if code in "so":
            (length,) = struct.unpack_from("<I", self.buf, self.pos)
            value = self.buf[self.pos + 4:self.pos + 4 + length].decode(errors="replace")
            self.pos += 4 + length + 1
            return value
        if code == "g":
            length = self.buf[self.pos]
            value = self.buf[self.pos + 1:self.pos + 1 + length].decode()
            self.pos += 1 + length + 1
            return value
        if code == "v":
            signature = self.read("g")
            return Variant(signature, self.read(signature))
        if code == "a":
            (length,) = struct.unpack_from("<I", self.buf, self.pos)
            self.pos += 4
            self.align(_ALIGN[type_[1]])
            end, items = self.pos + length, []
            while self.pos < end:
                items.append(self.read(type_[1:]))
            return items
        if code in "({":
            return tuple(self.read(member) for member in _split(type_[1:-1]))
        raise ValueError(f"D-Bus type {type_!r} is not supported")


def _message(serial: int, path: str, interface: str, member: str, signature: str, args: tuple,
             destination: str | None) -> bytes:
    body = _Writer()
    for type_, value in zip(_split(signature), args):
        body.write(type_, value)
    fields = [(_PATH, Variant("o", path)), (_INTERFACE, Variant("s", interface)), (_MEMBER, Variant("s", member))]
    if destination:
        fields.append((_DESTINATION, Variant("s", destination)))
    if signature:
        fields.append((_SIGNATURE, Variant("g", signature)))
    header = _Writer()
    header.buf += struct.pack("<cBBBII", b"l", METHOD_CALL, 0, 1, len(body.buf), serial)
    header.write("a(yv)", fields)
    header.pad(8)
    return bytes(header.buf + body.buf)


class Connection:
    """One authenticated connection to a D-Bus peer (or bus) on a unix socket."""

    def __init__(self, path: str, uid: int, timeout: float = 5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.settimeout(timeout)
        self.serial = 0
        self._pending = b""
        try:
            self.sock.connect(path)
            # EXTERNAL: the uid in ASCII decimal, hex-encoded (the manager checks it against SO_PEERCRED).
            self.sock.sendall(b"\0AUTH EXTERNAL " + str(uid).encode().hex().encode() + b"\r\n")
            line = self._line()
            if not line.startswith(b"OK "):
                raise DBusError("", f"authentication refused: {line.decode(errors='replace').strip()}")
            self.sock.sendall(b"BEGIN\r\n")
        except BaseException:
            self.sock.close()
            raise

    def _line(self) -> bytes:
        while b"\r\n" not in self._pending:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise DBusError("", "connection closed during authentication")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\r\n")
        return line

    def _recv(self, n: int) -> bytes:
        while len(self._pending) < n:
            chunk = self.sock.recv(max(4096, n - len(self._pending)))
            if not chunk:
                raise DBusError("", "connection closed")
            self._pending += chunk
        data, self._pending = self._pending[:n], self._pending[n:]
        return data

    def call(self, path: str, interface: str, member: str, signature: str = "", *args,
             destination: str | None = None) -> list:
        """Call a method and return its reply's values; raises DBusError for an error reply."""
        self.serial += 1
        self.sock.sendall(_message(self.serial, path, interface, member, signature, args, destination))
        while True:
            fixed = self._recv(16)
            if fixed[:1] != b"l":
                raise DBusError("", "big-endian replies are not supported")
            kind = fixed[1]
            body_length, _, fields_length = struct.unpack_from("<III", fixed, 4)
            header_length = 16 + fields_length + (-(16 + fields_length) % 8)
            rest = self._recv(header_length - 16 + body_length)
            message = fixed + rest
            fields = dict(_Reader(message, 12).read("a(yv)"))
            if kind not in (METHOD_RETURN, ERROR) or fields.get(_REPLY_SERIAL, Variant("u", 0)).value != self.serial:
                continue  # a signal, or someone else's reply
            reply_signature = fields[_SIGNATURE].value if _SIGNATURE in fields else ""
            body = _Reader(message, header_length)
            values = [body.read(t) for t in _split(reply_signature)]
            if kind == ERROR:
                name = fields[_ERROR_NAME].value if _ERROR_NAME in fields else "error"
                raise DBusError(name, values[0] if values and isinstance(values[0], str) else "")
            return values

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
