"""Writing container output in podman's k8s-file log format.

One record per line of output:
    <RFC3339 UTC timestamp with nanoseconds> <stdout|stderr> <F|P> <text>\\n
F closes a line; P is a piece of a line that was flushed without a newline
(a prompt, or a line split across reads), continued by the next record of
the same stream. Records are written as soon as output is read, never held
back, so nothing is lost if the shim dies. pyctr.runtime.logs reads them back.

The idle pump (pyctr.shim.idle) loads this module too, in an interpreter that has only its
built-in modules: posix, not os (which would cost it a tenth of its memory), and no imports
beyond these two.
"""

import posix
import time


def timestamp(ns: int | None = None) -> str:
    """RFC 3339 in UTC with nanoseconds, e.g. 2026-11-30T06:16:20.123456789Z."""
    secs, frac = divmod(time.time_ns() if ns is None else ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def records(stream: str, data: bytes, stamp: str) -> bytes:
    """The log records for one chunk of output read from `stream`."""
    full = f"{stamp} {stream} F ".encode()
    lines = data.split(b"\n")
    out = [full + line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(f"{stamp} {stream} P ".encode() + lines[-1] + b"\n")
    return b"".join(out)


class LogWriter:
    """Appends records to the log file; a failing disk never stops the container."""

    def __init__(self, path: str | None, max_size: int = -1, fd: int = -1) -> None:
        """Opens `path`; or takes `fd`, the log already open (the shim handed over by exec)."""
        # O_APPEND: readers (and a later shim after a restart) see whole records.
        self.fd = fd if fd >= 0 else posix.open(path, posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT | posix.O_CLOEXEC, 0o600)
        self.error: OSError | None = None  # the first write error, reported once
        self.max_size = max_size if max_size > 0 else 0  # 0: no limit
        self.size = posix.fstat(self.fd).st_size if self.max_size else 0

    def write(self, stream: str, data: bytes) -> None:
        if not data:
            return
        chunk = records(stream, data, timestamp())
        if self.max_size and self.size + len(chunk) > self.max_size:
            chunk = self._start_again(chunk)
        elif self.max_size:
            self.size += len(chunk)
        view = memoryview(chunk)
        try:
            while view:
                view = view[posix.write(self.fd, view):]
        except OSError as exc:  # ENOSPC, EIO: keep serving clients, drop the log record
            if self.error is None:
                self.error = exc

    def _start_again(self, chunk: bytes) -> bytes:
        """As conmon does: a log that would grow past its size starts again empty (followers
        see it shrink and read from the start), then holds the last whole records that fit
        (the last one alone if it is bigger)."""
        try:
            posix.ftruncate(self.fd, 0)
            self.size = 0
        except OSError as exc:
            if self.error is None:
                self.error = exc
        if len(chunk) > self.max_size:
            start = chunk.find(b"\n", len(chunk) - self.max_size - 1) + 1
            if start >= len(chunk):
                start = chunk.rfind(b"\n", 0, len(chunk) - 1) + 1
            chunk = chunk[start:]
        self.size += len(chunk)
        return chunk

    def close(self) -> None:
        try:
            posix.fsync(self.fd)
        except OSError:
            pass
        posix.close(self.fd)
