"""Reading a layer blob: decompression, the diff_id hash, and the tar stream inside.

`open_source` sniffs or takes the compression (gzip, zstd or none) and gives
the uncompressed layer as a file-like `Source` that hashes every byte (the
diff_id). `open_tar` reads that as a tar stream which remembers why it stopped,
so that `check_end` can tell a proper end-of-archive from a truncated or
corrupt one; `entry_times` reads an entry's times with PAX precision.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import zlib

from pyctr.errors import StoreError, UnsafeArchive, UnsupportedMediaType

COMPRESSIONS = ("gzip", "zstd", "none", "auto")

CHUNK = 1 << 20  # decompressed bytes per read, and the file copy buffer
_TAR_BUFSIZE = 64 << 10  # tarfile's own stream buffer (it re-slices it on every read)
_ZSTD_READ_SIZE = 256 << 10

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_FRAME_MAGIC = 0xFD2FB528  # little-endian words (RFC 8878)
_ZSTD_SKIPPABLE_MAGIC = 0x184D2A50  # the low 4 bits are free
_OTHER_MAGICS = {b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x5d\x00\x00": "lzma"}

# What tarfile (and the decompressors under it) raise on a corrupt stream.
TAR_ERRORS = (tarfile.TarError, ValueError, UnicodeError, OverflowError, EOFError, zlib.error)


# --- the uncompressed stream ------------------------------------------------


class Source:
    """The uncompressed layer as a file-like `read(n)`, hashing everything that passes."""

    def __init__(self, read_raw, close_raw, errors: tuple, what: str):
        self._read_raw = read_raw
        self._close_raw = close_raw
        self._errors = errors
        self._what = what
        self._hash = hashlib.sha256()
        self._buf = b""
        self._pos = 0
        self.size = 0

    def _fill(self) -> bytes:
        try:
            data = self._read_raw(CHUNK)
        except self._errors as e:
            raise UnsafeArchive(f"{self._what}: corrupt or truncated compressed data ({e})") from None
        except OSError as e:
            raise StoreError(f"{self._what}: cannot read the blob: {e.strerror}") from None
        if data:
            self._hash.update(data)
            self.size += len(data)
        return data

    def read(self, n: int = -1) -> bytes:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            buf = self._fill()
            if not buf:
                return b""
            self._buf, pos = buf, 0
        end = len(buf) if n is None or n < 0 else min(len(buf), pos + n)
        self._pos = end
        if pos == 0 and end == len(buf):
            return buf
        return buf[pos:end]

    def drain(self) -> None:
        """Read (and hash) the rest of the stream, past the tar's end-of-archive blocks."""
        self._buf, self._pos = b"", 0
        while self._fill():
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def close(self) -> None:
        if self._close_raw is not None:
            self._close_raw()


def _is_zstd_magic(word: int) -> bool:
    """A zstd frame, or a zstd skippable frame."""
    return word == _ZSTD_FRAME_MAGIC or word & 0xFFFFFFF0 == _ZSTD_SKIPPABLE_MAGIC


def open_source(fh, compression: str, what: str) -> Source:
    """The uncompressed stream of the blob open as `fh` (seekable, at offset 0)."""
    if compression == "auto":
        head = fh.read(8)
        fh.seek(0)
        if head.startswith(_GZIP_MAGIC):
            compression = "gzip"
        elif len(head) >= 4 and _is_zstd_magic(int.from_bytes(head[:4], "little")):
            compression = "zstd"
        else:
            for magic, name in _OTHER_MAGICS.items():
                if head.startswith(magic):
                    raise UnsupportedMediaType(f"{what}: {name} compressed layers are not supported")
            compression = "none"
    if compression == "none":
        return Source(fh.read, None, (), what)
    if compression == "gzip":
        gz = gzip.GzipFile(fileobj=fh, mode="rb")
        return Source(gz.read, gz.close, (EOFError, zlib.error, gzip.BadGzipFile), what)
    import zstandard  # lazily: most layers are gzip

    # python-zstandard's stream reader ends quietly on a truncated frame, so
    # check the frame structure first (a jump from block header to block header).
    _check_zstd_frames(fh, what)
    fh.seek(0)
    reader = zstandard.ZstdDecompressor().stream_reader(fh, read_size=_ZSTD_READ_SIZE, read_across_frames=True)
    return Source(reader.read, reader.close, (zstandard.ZstdError,), what)


def _check_zstd_frames(fh, what: str) -> None:
    """Raise UnsafeArchive unless the file is a complete sequence of zstd frames (RFC 8878)."""

    def need(n: int) -> bytes:
        data = fh.read(n)
        if len(data) != n:
            raise UnsafeArchive(f"{what}: truncated zstd data")
        return data

    size = fh.seek(0, os.SEEK_END)
    if size == 0:
        raise UnsafeArchive(f"{what}: empty zstd data")
    pos = 0
    while pos < size:
        fh.seek(pos)
        magic = int.from_bytes(need(4), "little")
        if magic & 0xFFFFFFF0 == _ZSTD_SKIPPABLE_MAGIC:
            pos += 8 + int.from_bytes(need(4), "little")
            continue
        if magic != _ZSTD_FRAME_MAGIC:
            raise UnsafeArchive(f"{what}: not zstd data at offset {pos}")
        fhd = need(1)[0]
        if fhd & 0x08:
            raise UnsafeArchive(f"{what}: corrupt zstd frame header at offset {pos}")
        single_segment = fhd >> 5 & 1
        header = 1 + (0 if single_segment else 1) + (0, 1, 2, 4)[fhd & 3] + (single_segment, 2, 4, 8)[fhd >> 6]
        pos += 4 + header
        while True:
            fh.seek(pos)
            block = int.from_bytes(need(3), "little")
            kind = block >> 1 & 3
            if kind == 3:
                raise UnsafeArchive(f"{what}: corrupt zstd block at offset {pos}")
            pos += 3 + (1 if kind == 1 else block >> 3)
            if block & 1:
                break
        if fhd & 0x04:
            pos += 4  # content checksum
    if pos > size:
        raise UnsafeArchive(f"{what}: truncated zstd data")


# --- the tar stream ---------------------------------------------------------


class _TarInfo(tarfile.TarInfo):
    """Records why tarfile stopped reading headers.

    In stream mode tarfile ends the archive quietly on a truncated or invalid
    header after the first one; only an all-zero block is a proper end.
    """

    @classmethod
    def fromtarfile(cls, tf):
        try:
            info = super().fromtarfile(tf)
        except tarfile.HeaderError as e:
            tf._pyctr_stop = e
            raise
        tf._pyctr_stop = None
        return info


def open_tar(source: Source, what: str) -> tarfile.TarFile:
    """`source` as a tar stream (mode "r|"); read it with `next()`, then call `check_end`."""
    try:
        return tarfile.open(
            fileobj=source,
            mode="r|",
            bufsize=_TAR_BUFSIZE,
            tarinfo=_TarInfo,
            encoding="utf-8",
            errors="surrogateescape",
        )
    except TAR_ERRORS as e:
        raise UnsafeArchive(f"{what}: not a valid tar stream ({e})") from None


def check_end(tar: tarfile.TarFile, what: str, last: str) -> None:
    """Once `tar.next()` returned None: raise UnsafeArchive unless the archive really ended."""
    stop = getattr(tar, "_pyctr_stop", None)
    if not isinstance(stop, tarfile.EOFHeaderError):
        reason = "no end-of-archive marker" if isinstance(stop, tarfile.EmptyHeaderError) else stop
        raise UnsafeArchive(f"{what}: truncated or corrupt tar after {last!r} ({reason})")


def _parse_ns(value: str) -> int | None:
    """A PAX time ("1700000000.123456789", maybe negative) in nanoseconds, exactly."""
    text = value.strip()
    sign = 1
    if text.startswith("-"):
        sign, text = -1, text[1:]
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        return None
    return sign * (int(whole) * 1_000_000_000 + int((frac[:9]).ljust(9, "0") or 0))


def entry_times(ti: tarfile.TarInfo) -> tuple[int, int]:
    """(atime, mtime) of an entry in nanoseconds, for os.utime(ns=...); atime defaults to mtime."""
    mtime = atime = None
    pax = ti.pax_headers
    if pax:
        if "mtime" in pax:
            mtime = _parse_ns(pax["mtime"])
        if "atime" in pax:
            atime = _parse_ns(pax["atime"])
    if mtime is None:
        mtime = int(ti.mtime) * 1_000_000_000 if isinstance(ti.mtime, int) else round(ti.mtime * 1e9)
    return (mtime if atime is None else atime), mtime
