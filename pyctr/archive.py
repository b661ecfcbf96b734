"""Unpack an image layer (a tar stream, maybe compressed) into an overlay lower directory.

The one entry point is `unpack_layer`. A layer is untrusted input: every path
in it is resolved relative to the destination directory as if that directory
were `/` (which is what docker and containerd amount to), so that `..`,
absolute names and symlinks planted by earlier entries are clamped inside it.
Parents are resolved with openat2(2) RESOLVE_IN_ROOT on a directory fd of the
destination (or, where the kernel lacks openat2, by an equivalent walk one
component at a time with O_NOFOLLOW); the final operation is then done on a
single name relative to that parent fd, never following a symlink there.

The layer format (OCI image spec, "layer changesets"):
- `DIR/.wh.NAME` deletes NAME from the layers below: it becomes the overlayfs
  whiteout, a character device 0:0 named NAME;
- `DIR/.wh..wh..opq` hides everything below DIR: it becomes the xattr
  `trusted.overlay.opaque=y` (`user.overlay.opaque` rootless) on DIR;
- other `.wh..wh.*` names are aufs bookkeeping and are skipped.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import posixpath
import shutil
import stat
import tarfile
import zlib
from collections import deque
from typing import Callable

from pyctr import syscalls
from pyctr.digest import validate
from pyctr.errors import DigestMismatch, PyctrError, StoreError, UnsafeArchive, UnsupportedMediaType

__all__ = ["unpack_layer", "COMPRESSIONS"]

COMPRESSIONS = ("gzip", "zstd", "none", "auto")

CHUNK = 1 << 20  # decompressed bytes per read, and the file copy buffer
_TAR_BUFSIZE = 64 << 10  # tarfile's own stream buffer (it re-slices it on every read)
_ZSTD_READ_SIZE = 256 << 10

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_OTHER_MAGICS = {b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x5d\x00\x00": "lzma"}

_RESOLVE = syscalls.RESOLVE_IN_ROOT | syscalls.RESOLVE_NO_MAGICLINKS
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_NODE_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_SYMLINKS = 40  # as the kernel's MAXSYMLINKS
_MAX_DEPTH = 512  # directories held open by the fallback walk
_EAGAIN_RETRIES = 32
_MAX_PATH = 4095
_MAX_NAME = 255
_MAX_ID = 2**32 - 2  # (uid_t)-1 means "unchanged" to chown

# errno values that say "the store is unwell", not "the layer is bad".
_STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EMFILE, errno.ENFILE, errno.ENOMEM}
)
# errno values for which an xattr from the layer is skipped with a note.
_XATTR_SKIP_ERRNOS = frozenset(
    {errno.EPERM, errno.EOPNOTSUPP, errno.EACCES, errno.EINVAL, errno.ERANGE, errno.E2BIG}
)
_OVERLAY_XATTRS = ("trusted.overlay.", "user.overlay.")

_REG_TYPES = frozenset(tarfile.REGULAR_TYPES)
_DEV_TYPES = {tarfile.CHRTYPE: stat.S_IFCHR, tarfile.BLKTYPE: stat.S_IFBLK}

Note = Callable[[str], None]


def unpack_layer(
    blob_path: str,
    compression: str,
    dest: str,
    *,
    expected_diff_id: str | None = None,
    rootless: bool = False,
    on_note: Note | None = None,
) -> str:
    """Unpack one image layer blob into the existing empty directory `dest`; return its diff_id.

    `compression` is "gzip", "zstd", "none" or "auto" (sniffed from the magic
    bytes; neither gzip nor zstd means an uncompressed tar). The diff_id is the
    sha256 of the whole uncompressed stream, checked against `expected_diff_id`
    when given (DigestMismatch). A malformed or hostile layer raises
    UnsafeArchive; a failing store (disk full, read-only) raises StoreError.
    On any error `dest` is left as it is, half written: the caller unpacks into
    a temporary directory and removes it on failure.

    `rootless`: ownership that cannot be set, device nodes, and xattrs the
    kernel refuses are skipped with a note; whiteouts fall back to `.wh.`
    files where mknod is refused, and opaque directories use
    `user.overlay.opaque` (mount the overlay with `userxattr`).
    `on_note` receives one line per kind of thing skipped (and a count at the end).
    """
    if expected_diff_id is not None:
        validate(expected_diff_id)
    if compression not in COMPRESSIONS:
        raise UnsupportedMediaType(f"unknown layer compression {compression!r}")
    what = f"layer {os.path.basename(blob_path)}"
    notes = _Notes(on_note)
    try:
        fh = open(blob_path, "rb")
    except OSError as e:
        raise StoreError(f"{what}: cannot open the blob: {e.strerror}") from None
    with fh:
        try:
            source = _open_source(fh, compression, what)
        except OSError as e:
            raise StoreError(f"{what}: cannot read the blob: {e.strerror}") from None
        try:
            unpacker = _Unpacker(dest, rootless=rootless, notes=notes, what=what)
            try:
                unpacker.run(source)
            finally:
                unpacker.close()
            source.drain()
        finally:
            source.close()
    diff_id = source.digest
    if expected_diff_id is not None and diff_id != expected_diff_id:
        raise DigestMismatch(f"{what}: uncompressed digest {diff_id} does not match the diff_id {expected_diff_id}")
    notes.finish()
    return diff_id


# --- the uncompressed stream ------------------------------------------------


class _Source:
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


def _open_source(fh, compression: str, what: str) -> _Source:
    if compression == "auto":
        head = fh.read(8)
        fh.seek(0)
        if head.startswith(_GZIP_MAGIC):
            compression = "gzip"
        elif head.startswith(_ZSTD_MAGIC) or (len(head) >= 4 and int.from_bytes(head[:4], "little") >> 4 == 0x184D2A5):
            compression = "zstd"  # a zstd frame, or a zstd skippable frame
        else:
            for magic, name in _OTHER_MAGICS.items():
                if head.startswith(magic):
                    raise UnsupportedMediaType(f"{what}: {name} compressed layers are not supported")
            compression = "none"
    if compression == "none":
        return _Source(fh.read, None, (), what)
    if compression == "gzip":
        gz = gzip.GzipFile(fileobj=fh, mode="rb")
        return _Source(gz.read, gz.close, (EOFError, zlib.error, gzip.BadGzipFile), what)
    import zstandard  # lazily: most layers are gzip

    # python-zstandard's stream reader ends quietly on a truncated frame, so
    # check the frame structure first (a jump from block header to block header).
    _check_zstd_frames(fh, what)
    fh.seek(0)
    reader = zstandard.ZstdDecompressor().stream_reader(fh, read_size=_ZSTD_READ_SIZE, read_across_frames=True)
    return _Source(reader.read, reader.close, (zstandard.ZstdError,), what)


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
        if magic & 0xFFFFFFF0 == 0x184D2A50:  # skippable frame
            pos += 8 + int.from_bytes(need(4), "little")
            continue
        if magic != 0xFD2FB528:
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


_TAR_ERRORS = (tarfile.TarError, ValueError, UnicodeError, OverflowError, EOFError, zlib.error)


class _Notes:
    """Passes the first note of each kind to the callback, and a count at the end."""

    def __init__(self, callback: Note | None):
        self._callback = callback
        self._counts: dict[str, int] = {}
        self._first: dict[str, str] = {}

    def add(self, kind: str, rel: str, message: str) -> None:
        n = self._counts.get(kind, 0)
        self._counts[kind] = n + 1
        if n == 0:
            self._first[kind] = rel
            if self._callback is not None:
                self._callback(message)

    def finish(self) -> None:
        if self._callback is None:
            return
        for kind, n in self._counts.items():
            if n > 1:
                self._callback(f"{kind}: {n - 1} more entries like {self._first[kind]!r}")


_openat2_state: bool | None = None


def _openat2_available(root_fd: int) -> bool:
    global _openat2_state
    if _openat2_state is None:
        try:
            os.close(syscalls.openat2(root_fd, ".", _DIR_FLAGS, 0, _RESOLVE))
            _openat2_state = True
        except OSError as e:
            # ENOSYS: old kernel or unknown arch; EPERM: a seccomp filter; EINVAL/E2BIG: old flag set.
            if e.errno not in (errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG):
                raise
            _openat2_state = False
    return _openat2_state


def _normalize(name: str, what: str) -> str:
    """The entry's path relative to the layer root: '' for the root itself."""
    if "\x00" in name:
        raise UnsafeArchive(f"{what}: entry name {name!r} contains a NUL byte")
    rel = posixpath.normpath("/" + name.lstrip("/")).lstrip("/")
    if len(rel) > 63:
        try:
            raw = os.fsencode(rel)
        except UnicodeError:
            raise UnsafeArchive(f"{what}: entry name {name!r} cannot be encoded") from None
        if len(raw) > _MAX_PATH or any(len(c) > _MAX_NAME for c in raw.split(b"/")):
            raise UnsafeArchive(f"{what}: entry name {name[:80]!r}... is too long")
    return rel


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


def _times(ti: tarfile.TarInfo) -> tuple[int, int]:
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


def _entry_error(e: OSError, name: str, what: str) -> PyctrError:
    message = f"{what}: entry {name!r}: {e.strerror or e}"
    if e.errno in _STORAGE_ERRNOS:
        return StoreError(message)
    return UnsafeArchive(message)


class _Unpacker:
    def __init__(self, dest: str, *, rootless: bool, notes: _Notes, what: str):
        self.rootless = rootless
        self.notes = notes
        self.what = what
        try:
            self.root = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise StoreError(f"{what}: cannot open the destination {dest!r}: {e.strerror}") from None
        try:
            self.openat2 = _openat2_available(self.root)
        except BaseException:
            os.close(self.root)
            raise
        self.opaque_xattr = "user.overlay.opaque" if rootless else "trusted.overlay.opaque"
        self._pkey: str | None = None  # the cached parent directory (one entry)
        self._pfd = -1
        self._dir_times: dict[str, tuple[int, int]] = {}
        self._dir_modes: dict[str, int] = {}  # rootless: modes that would lock us out, set at the end
        self._last = "(start of the archive)"

    def close(self) -> None:
        if self._pfd >= 0:
            os.close(self._pfd)
            self._pfd = -1
        if self.root >= 0:
            os.close(self.root)
            self.root = -1

    # -- the loop --

    def run(self, source: _Source) -> None:
        try:
            tar = tarfile.open(
                fileobj=source,
                mode="r|",
                bufsize=_TAR_BUFSIZE,
                tarinfo=_TarInfo,
                encoding="utf-8",
                errors="surrogateescape",
            )
        except _TAR_ERRORS as e:
            raise UnsafeArchive(f"{self.what}: not a valid tar stream ({e})") from None
        try:
            while True:
                try:
                    ti = tar.next()
                except _TAR_ERRORS as e:
                    raise UnsafeArchive(f"{self.what}: corrupt or truncated tar after {self._last!r} ({e})") from None
                if ti is None:
                    break
                tar.members.clear()  # streaming: do not keep every header
                try:
                    self._entry(tar, ti)
                except OSError as e:
                    raise _entry_error(e, ti.name, self.what) from None
                except ValueError as e:
                    raise UnsafeArchive(f"{self.what}: entry {ti.name!r}: {e}") from None
                self._last = ti.name
            stop = getattr(tar, "_pyctr_stop", None)
            if not isinstance(stop, tarfile.EOFHeaderError):
                reason = "no end-of-archive marker" if isinstance(stop, tarfile.EmptyHeaderError) else stop
                raise UnsafeArchive(f"{self.what}: truncated or corrupt tar after {self._last!r} ({reason})")
        finally:
            tar.close()
        try:
            self._apply_dir_times()
        except OSError as e:
            raise _entry_error(e, "(directory times)", self.what) from None

    def _entry(self, tar: tarfile.TarFile, ti: tarfile.TarInfo) -> None:
        rel = _normalize(ti.name, self.what)
        parent, _, base = rel.rpartition("/")
        if parent.startswith(WHITEOUT_META_PREFIX) or "/" + WHITEOUT_META_PREFIX in parent:
            return  # inside an aufs bookkeeping directory
        if not (0 <= ti.uid <= _MAX_ID and 0 <= ti.gid <= _MAX_ID):
            raise UnsafeArchive(f"{self.what}: entry {ti.name!r} has an invalid owner {ti.uid}:{ti.gid}")
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(parent, base, rel, ti)
            return
        kind = ti.type
        if rel == "":
            if kind != tarfile.DIRTYPE:
                raise UnsafeArchive(f"{self.what}: entry {ti.name!r} names the layer root but is not a directory")
            self._root_dir(ti)
        elif kind in _REG_TYPES:
            self._file(tar, ti, parent, base, rel)
        elif kind == tarfile.DIRTYPE:
            self._dir(ti, parent, base, rel)
        elif kind == tarfile.SYMTYPE:
            self._symlink(ti, parent, base, rel)
        elif kind == tarfile.LNKTYPE:
            self._hardlink(ti, parent, base, rel)
        elif kind == tarfile.FIFOTYPE:
            self._fifo(ti, parent, base, rel)
        elif kind in _DEV_TYPES:
            self._device(ti, parent, base, rel)
        else:
            raise UnsafeArchive(f"{self.what}: entry {ti.name!r} has an unsupported tar type {kind!r}")

    # -- path resolution --

    def _parent(self, rel: str) -> int:
        """An O_PATH fd of directory `rel` (created if missing); owned by the one-entry cache."""
        if rel == self._pkey:
            return self._pfd
        if self._pfd >= 0:
            os.close(self._pfd)
            self._pfd = -1
        self._pkey = None
        self._pfd = self._resolve_dir(rel, create=True)
        self._pkey = rel
        return self._pfd

    def _resolve_dir(self, rel: str, *, create: bool) -> int:
        """A new O_PATH fd of directory `rel`, resolved inside the root (the caller closes it)."""
        if rel == "":
            return os.open(".", _DIR_FLAGS, dir_fd=self.root)
        if self.openat2:
            for _ in range(_EAGAIN_RETRIES):
                try:
                    return syscalls.openat2(self.root, rel, _DIR_FLAGS, 0, _RESOLVE)
                except BlockingIOError:  # EAGAIN: a rename raced with a `..`; retry
                    continue
                except FileNotFoundError:
                    if not create:
                        raise
                    break
        return self._walk(rel, create)

    def _walk(self, rel: str, create: bool) -> int:
        """Resolve `rel` one component at a time, as RESOLVE_IN_ROOT does, creating missing directories.

        Symlinks are read and their text spliced into the path; `..` pops the
        stack of directories walked, never past the root; each step opens a
        single name with O_NOFOLLOW, so nothing outside the root is reached.
        """
        stack = [os.open(".", _DIR_FLAGS, dir_fd=self.root)]
        parts = deque(rel.split("/"))
        links = 0
        try:
            while parts:
                comp = parts.popleft()
                if comp in ("", "."):
                    continue
                if comp == "..":
                    if len(stack) > 1:
                        os.close(stack.pop())
                    continue
                cur = stack[-1]
                try:
                    fd = os.open(comp, _NODE_FLAGS, dir_fd=cur)
                except FileNotFoundError:
                    if not create:
                        raise
                    self._mkdir_implicit(cur, comp)
                    fd = os.open(comp, _NODE_FLAGS, dir_fd=cur)
                try:
                    mode = os.fstat(fd).st_mode
                except BaseException:
                    os.close(fd)
                    raise
                if stat.S_ISDIR(mode):
                    stack.append(fd)
                    if len(stack) > _MAX_DEPTH:
                        raise OSError(errno.ENAMETOOLONG, "too many nested directories", rel)
                    continue
                os.close(fd)
                if not stat.S_ISLNK(mode):
                    raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), rel)
                links += 1
                if links > _MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), rel)
                target = os.readlink(comp, dir_fd=cur)
                if not target:
                    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), rel)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts.extendleft(reversed(target.split("/")))
            return stack.pop()
        finally:
            for fd in stack:
                os.close(fd)

    def _mkdir_implicit(self, parent_fd: int, name: str) -> None:
        """A parent directory the tar does not list: 0755, owned by root."""
        os.mkdir(name, 0o755, dir_fd=parent_fd)
        if not self.rootless:
            os.chown(name, 0, 0, dir_fd=parent_fd, follow_symlinks=False)
        self._chmod_at(parent_fd, name, 0o755)

    def _forget(self, rel: str, was_dir: bool) -> None:
        """Something at `rel` was removed: cached resolutions through it are stale."""
        self._pkey = None  # the fd stays open (maybe in use) until the next _parent call
        if was_dir:
            prefix = rel + "/"
            for deferred in (self._dir_times, self._dir_modes):
                for key in [k for k in deferred if k == rel or k.startswith(prefix)]:
                    del deferred[key]

    def _remove(self, parent_fd: int, name: str, rel: str) -> None:
        """Remove whatever is at `name` (a directory with its whole tree); no-op if nothing is."""
        try:
            st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=parent_fd)
            self._forget(rel, True)
        else:
            os.unlink(name, dir_fd=parent_fd)
            self._forget(rel, False)

    def _create(self, parent_fd: int, name: str, rel: str, make):
        """Run `make()` (which creates `name`); if something is in the way, remove it and retry once."""
        try:
            return make()
        except FileExistsError:
            self._remove(parent_fd, name, rel)
            return make()

    # -- metadata --

    def _chown(self, call, rel: str) -> None:
        try:
            call()
        except OSError as e:
            if self.rootless and e.errno in (errno.EPERM, errno.EINVAL):
                self.notes.add(
                    "owner not kept", rel, f"cannot set the owner of {rel!r} ({e.strerror}): kept as the current user"
                )
                return
            raise

    def _chmod_at(self, parent_fd: int, name: str, mode: int) -> None:
        try:
            os.chmod(name, mode, dir_fd=parent_fd, follow_symlinks=False)
        except (NotImplementedError, ValueError):
            fd = os.open(name, _NODE_FLAGS, dir_fd=parent_fd)
            try:
                if not stat.S_ISLNK(os.fstat(fd).st_mode):
                    os.chmod(f"/proc/self/fd/{fd}", mode)
            finally:
                os.close(fd)

    def _xattrs(self, ti: tarfile.TarInfo, rel: str, target: int | str) -> None:
        """PAX SCHILY.xattr.* onto `target`: an fd, or a /proc/self/fd/N/name path (not followed)."""
        pax = ti.pax_headers
        if not pax:
            return
        for key, value in pax.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            name = key[13:]
            if name.startswith(_OVERLAY_XATTRS):
                self.notes.add("overlay xattr skipped", rel, f"skipped the overlay xattr {name} on {rel!r}")
                continue
            data = value.encode("utf-8", "surrogateescape")
            try:
                if isinstance(target, int):
                    os.setxattr(target, name, data)
                else:
                    os.setxattr(target, name, data, follow_symlinks=False)
            except OSError as e:
                if e.errno not in _XATTR_SKIP_ERRNOS:
                    raise
                self.notes.add("xattr skipped", rel, f"skipped the xattr {name} on {rel!r} ({e.strerror})")
            except (ValueError, UnicodeError):
                self.notes.add("xattr skipped", rel, f"skipped the invalid xattr {name!r} on {rel!r}")

    def _utime(self, call, ti: tarfile.TarInfo, rel: str) -> None:
        try:
            call(_times(ti))
        except (OverflowError, ValueError) as e:
            self.notes.add("mtime skipped", rel, f"cannot set the time of {rel!r} ({e})")
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ERANGE, errno.EOVERFLOW):
                raise
            self.notes.add("mtime skipped", rel, f"cannot set the time of {rel!r} ({e.strerror})")

    def _meta_at(self, parent_fd: int, name: str, rel: str, ti: tarfile.TarInfo, *, symlink: bool, times: bool):
        """Owner, then mode (chown clears setuid), xattrs and times of `name`, never following it."""
        self._chown(lambda: os.chown(name, ti.uid, ti.gid, dir_fd=parent_fd, follow_symlinks=False), rel)
        if not symlink:
            self._chmod_at(parent_fd, name, ti.mode & 0o7777)
        if ti.pax_headers:
            self._xattrs(ti, rel, f"/proc/self/fd/{parent_fd}/{name}")
        if times:
            self._utime(lambda t: os.utime(name, ns=t, dir_fd=parent_fd, follow_symlinks=False), ti, rel)

    # -- entry kinds --

    def _file(self, tar: tarfile.TarFile, ti: tarfile.TarInfo, parent: str, base: str, rel: str) -> None:
        pfd = self._parent(parent)
        fd = self._create(pfd, base, rel, lambda: os.open(base, _FILE_FLAGS, 0o600, dir_fd=pfd))
        try:
            if ti.size:
                self._copy(tar, ti, fd)
            self._chown(lambda: os.fchown(fd, ti.uid, ti.gid), rel)
            os.fchmod(fd, ti.mode & 0o7777)
            if ti.pax_headers:
                self._xattrs(ti, rel, fd)  # after chown, which drops security.capability
            self._utime(lambda t: os.utime(fd, ns=t), ti, rel)
        finally:
            os.close(fd)

    def _copy(self, tar: tarfile.TarFile, ti: tarfile.TarInfo, fd: int) -> None:
        try:
            stream = tar.fileobj
            if ti.sparse is None and stream.tell() == ti.offset_data:
                read = stream.read  # the data follows the header: skip extractfile's layers
            else:
                read = tar.extractfile(ti).read  # GNU/PAX sparse files: holes come back as zeros
            remaining = ti.size
            while remaining > 0:
                chunk = read(remaining if remaining < CHUNK else CHUNK)
                if not chunk:
                    raise tarfile.ReadError("unexpected end of data")
                n = os.write(fd, chunk)
                while n < len(chunk):
                    n += os.write(fd, memoryview(chunk)[n:])
                remaining -= len(chunk)
        except _TAR_ERRORS as e:
            raise UnsafeArchive(f"{self.what}: truncated or corrupt data in {ti.name!r} ({e})") from None

    def _dir(self, ti: tarfile.TarInfo, parent: str, base: str, rel: str) -> None:
        pfd = self._parent(parent)
        try:
            os.mkdir(base, 0o700, dir_fd=pfd)
        except FileExistsError:
            st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):  # a symlink or file: tar order wins, never follow it
                os.unlink(base, dir_fd=pfd)
                self._forget(rel, False)
                os.mkdir(base, 0o700, dir_fd=pfd)
        mode = ti.mode & 0o7777
        if self.rootless and mode & 0o300 != 0o300:
            # Without CAP_DAC_OVERRIDE we could not create the children: keep u+wx until the end.
            self._dir_modes[rel] = mode
            ti.mode = mode | 0o300
        else:
            self._dir_modes.pop(rel, None)
        self._meta_at(pfd, base, rel, ti, symlink=False, times=False)
        self._dir_times[rel] = _times(ti)  # set at the end: creating children changes it

    def _root_dir(self, ti: tarfile.TarInfo) -> None:
        self._chown(lambda: os.fchown(self.root, ti.uid, ti.gid), ".")
        mode = ti.mode & 0o7777
        if self.rootless and mode & 0o300 != 0o300:
            self._dir_modes[""] = mode
            mode |= 0o300
        else:
            self._dir_modes.pop("", None)
        os.fchmod(self.root, mode)
        if ti.pax_headers:
            self._xattrs(ti, ".", self.root)
        self._dir_times[""] = _times(ti)

    def _symlink(self, ti: tarfile.TarInfo, parent: str, base: str, rel: str) -> None:
        target = ti.linkname  # verbatim: resolved later, inside the container
        if "\x00" in target:
            raise UnsafeArchive(f"{self.what}: symlink {ti.name!r} has a NUL byte in its target")
        pfd = self._parent(parent)
        self._create(pfd, base, rel, lambda: os.symlink(target, base, dir_fd=pfd))
        self._meta_at(pfd, base, rel, ti, symlink=True, times=True)

    def _hardlink(self, ti: tarfile.TarInfo, parent: str, base: str, rel: str) -> None:
        target = _normalize(ti.linkname, self.what)
        if target == rel:
            return
        if target == "":
            raise UnsafeArchive(f"{self.what}: hardlink {ti.name!r} points at the layer root")
        tparent, _, tbase = target.rpartition("/")
        missing = UnsafeArchive(f"{self.what}: hardlink {ti.name!r} -> {ti.linkname!r}: no such entry in the layer")
        pfd = self._parent(parent)
        try:
            tfd = self._resolve_dir(tparent, create=False)
        except (FileNotFoundError, NotADirectoryError):
            raise missing from None
        try:
            make = lambda: os.link(tbase, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)  # noqa: E731
            try:
                self._create(pfd, base, rel, make)
            except FileNotFoundError:
                raise missing from None
        finally:
            os.close(tfd)

    def _fifo(self, ti: tarfile.TarInfo, parent: str, base: str, rel: str) -> None:
        pfd = self._parent(parent)
        self._create(pfd, base, rel, lambda: os.mkfifo(base, 0o600, dir_fd=pfd))
        self._meta_at(pfd, base, rel, ti, symlink=False, times=True)

    def _device(self, ti: tarfile.TarInfo, parent: str, base: str, rel: str) -> None:
        if self.rootless:
            self.notes.add("device skipped", rel, f"skipped the device node {rel!r}: not possible rootless")
            return
        pfd = self._parent(parent)
        mode = _DEV_TYPES[ti.type] | 0o600
        device = os.makedev(ti.devmajor, ti.devminor)
        try:
            self._create(pfd, base, rel, lambda: os.mknod(base, mode, device, dir_fd=pfd))
        except PermissionError as e:
            self.notes.add("device skipped", rel, f"skipped the device node {rel!r} ({e.strerror})")
            return
        self._meta_at(pfd, base, rel, ti, symlink=False, times=True)

    def _whiteout(self, parent: str, base: str, rel: str, ti: tarfile.TarInfo) -> None:
        if base == WHITEOUT_OPAQUE:
            self._opaque(parent, rel)
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs)
        name = base[len(WHITEOUT_PREFIX) :]
        if name in ("", ".", ".."):
            raise UnsafeArchive(f"{self.what}: invalid whiteout {ti.name!r}")
        pfd = self._parent(parent)
        target_rel = f"{parent}/{name}" if parent else name
        self._remove(pfd, name, target_rel)
        try:
            os.mknod(name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=pfd)
        except PermissionError as e:
            if not self.rootless:
                raise
            # No mknod here: keep the `.wh.` file, which fuse-overlayfs understands.
            self.notes.add(
                "whiteout kept as a file",
                target_rel,
                f"cannot create the whiteout device for {target_rel!r} ({e.strerror}): kept as {base!r}",
            )
            os.close(self._create(pfd, base, rel, lambda: os.open(base, _FILE_FLAGS, 0o600, dir_fd=pfd)))
            return
        self._chown(lambda: os.chown(name, ti.uid, ti.gid, dir_fd=pfd, follow_symlinks=False), target_rel)

    def _opaque(self, parent: str, rel: str) -> None:
        pfd = self._parent(parent)
        try:
            os.setxattr(f"/proc/self/fd/{pfd}", self.opaque_xattr, b"y")
        except OSError as e:
            if not (self.rootless and e.errno in (errno.EPERM, errno.EOPNOTSUPP)):
                raise
            where = parent or "."
            self.notes.add(
                "opaque kept as a file",
                where,
                f"cannot set {self.opaque_xattr} on {where!r} ({e.strerror}): kept the {WHITEOUT_OPAQUE} file",
            )
            base = WHITEOUT_OPAQUE
            os.close(self._create(pfd, base, rel, lambda: os.open(base, _FILE_FLAGS, 0o600, dir_fd=pfd)))

    def _apply_dir_times(self) -> None:
        """Directory times (and deferred modes), deepest first, once nothing more is created in them."""
        modes = self._dir_modes
        order = sorted(self._dir_times, key=lambda r: (-(r.count("/") + (r != "")), r))
        pkey, pfd = None, -1
        try:
            for rel in order:
                times = self._dir_times[rel]
                if rel == "":
                    if rel in modes:
                        os.fchmod(self.root, modes[rel])
                    self._set_dir_time(lambda: os.utime(self.root, ns=times), rel)
                    continue
                parent, _, base = rel.rpartition("/")
                if parent != pkey:
                    if pfd >= 0:
                        os.close(pfd)
                        pfd = -1
                    pkey = parent
                    try:
                        pfd = self._resolve_dir(parent, create=False)
                    except (FileNotFoundError, NotADirectoryError):
                        continue
                if pfd < 0:
                    continue
                try:
                    st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    fd = pfd
                    if rel in modes:
                        self._chmod_at(fd, base, modes[rel])
                    self._set_dir_time(lambda: os.utime(base, ns=times, dir_fd=fd, follow_symlinks=False), rel)
        finally:
            if pfd >= 0:
                os.close(pfd)

    def _set_dir_time(self, call, rel: str) -> None:
        try:
            call()
        except (OverflowError, ValueError) as e:
            self.notes.add("mtime skipped", rel or ".", f"cannot set the time of {rel or '.'!r} ({e})")
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ERANGE, errno.EOVERFLOW):
                raise
            self.notes.add("mtime skipped", rel or ".", f"cannot set the time of {rel or '.'!r} ({e.strerror})")
