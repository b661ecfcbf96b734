"""Writes the entries of a layer's tar stream into the layer directory.

`LayerWriter.entry` creates one entry (file, directory, symlink, hardlink,
fifo, device or whiteout) with its owner, mode, xattrs and times, on a single
name relative to a parent directory that `pyctr.snapshot.layerfs` resolved inside the
layer root; `finish` sets the directory times (and rootless, the modes) that
had to wait until nothing more was created in them. Whiteouts become what
overlayfs understands (see `pyctr.snapshot.archive`).
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from collections.abc import Callable

from pyctr.config import in_user_namespace
from pyctr.errors import StoreError, UnsafeArchive
from pyctr.snapshot.layerfs import LayerRoot, chmod_at, normalize
from pyctr.snapshot.tarstream import CHUNK, TAR_ERRORS, entry_times

__all__ = ["LayerWriter", "Notes", "WHITEOUT_PREFIX", "WHITEOUT_META_PREFIX", "WHITEOUT_OPAQUE"]

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_ID = 2**32 - 2  # (uid_t)-1 means "unchanged" to chown

# errno values for which an xattr from the layer is skipped with a note.
_XATTR_SKIP_ERRNOS = frozenset(
    {errno.EPERM, errno.EOPNOTSUPP, errno.EACCES, errno.EINVAL, errno.ERANGE, errno.E2BIG}
)
_OVERLAY_XATTRS = ("trusted.overlay.", "user.overlay.")

_REG_TYPES = frozenset(tarfile.REGULAR_TYPES)
_DEV_TYPES = {tarfile.CHRTYPE: stat.S_IFCHR, tarfile.BLKTYPE: stat.S_IFBLK}

Note = Callable[[str], None]


class Notes:
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


class LayerWriter:
    """Creates tar entries in the directory `dest`; raises OSError as the kernel does (the caller words it).

    Copy mode (`whiteouts=False`, for cp and volume import): `.wh.` names are plain names, never
    whiteouts or opaque markers, since a copy is not a layer. `root` then replaces the LayerRoot
    of `dest`: an object with its methods (parent, resolve_dir, create, remove, forget, root,
    close) that resolves paths some other way (a container's root), and may have
    `before_entry(parent, base, rel, ti) -> bool` (False: skip the entry; raises to refuse it).
    """

    def __init__(self, dest: str, *, rootless: bool, notes: Notes, what: str, whiteouts: bool = True, root=None):
        self.rootless = rootless
        self.notes = notes
        self.what = what
        self.whiteouts = whiteouts
        if root is None:
            self.fs = LayerRoot(dest, rootless=rootless, what=what, on_dir_removed=self._drop_deferred)
        else:
            self.fs = root
            root.on_dir_removed = self._drop_deferred
        self.before_entry = getattr(root, "before_entry", None)
        self.opaque_xattr = "user.overlay.opaque" if rootless else "trusted.overlay.opaque"
        self._dir_times: dict[str, tuple[int, int]] = {}
        self._dir_modes: dict[str, int] = {}  # rootless: modes that would lock us out, set at the end

    def close(self) -> None:
        self.fs.close()

    def entry(self, tar: tarfile.TarFile, ti: tarfile.TarInfo) -> None:
        """Create the entry `ti`; its data (for a file) is read from `tar`."""
        rel = normalize(ti.name, self.what)
        parent, _, base = rel.rpartition("/")
        if self.whiteouts and (parent.startswith(WHITEOUT_META_PREFIX) or "/" + WHITEOUT_META_PREFIX in parent):
            return  # inside an aufs bookkeeping directory
        if not (0 <= ti.uid <= _MAX_ID and 0 <= ti.gid <= _MAX_ID):
            raise UnsafeArchive(f"{self.what}: entry {ti.name!r} has an invalid owner {ti.uid}:{ti.gid}")
        if self.whiteouts and base.startswith(WHITEOUT_PREFIX):
            self._whiteout(parent, base, rel, ti)
            return
        if self.before_entry is not None and not self.before_entry(parent, base, rel, ti):
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

    # -- metadata --

    def _chown(self, call, rel: str, ids: tuple[int, int] | None = None) -> None:
        try:
            call()
        except OSError as e:
            if self.rootless and e.errno == errno.EINVAL and ids and in_user_namespace():
                # Inside a user namespace EINVAL means the id is not mapped: the user's
                # subordinate range is too small for this image. Losing owners silently
                # would make the image misbehave, so say what to fix.
                raise StoreError(
                    f"{self.what}: {rel!r} belongs to {ids[0]}:{ids[1]}, beyond the ids this user namespace maps",
                    hint="give the user a larger range in /etc/subuid and /etc/subgid (65536 ids cover most images)",
                ) from None
            if self.rootless and e.errno in (errno.EPERM, errno.EINVAL):
                self.notes.add(
                    "owner not kept", rel, f"cannot set the owner of {rel!r} ({e.strerror}): kept as the current user"
                )
                return
            raise

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

    def _set_times(self, call, rel: str) -> None:
        """Run `call()`, which sets times; a time the kernel cannot store is skipped with a note."""
        where = rel or "."
        try:
            call()
        except (OverflowError, ValueError) as e:
            self.notes.add("mtime skipped", where, f"cannot set the time of {where!r} ({e})")
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ERANGE, errno.EOVERFLOW):
                raise
            self.notes.add("mtime skipped", where, f"cannot set the time of {where!r} ({e.strerror})")

    def _meta_at(self, parent_fd: int, name: str, rel: str, ti: tarfile.TarInfo, *, mode: int | None, times: bool):
        """Owner, then mode (chown clears setuid; None: a symlink's), xattrs and times of `name`, never following it."""
        self._chown(lambda: os.chown(name, ti.uid, ti.gid, dir_fd=parent_fd, follow_symlinks=False), rel, (ti.uid, ti.gid))
        if mode is not None:
            chmod_at(parent_fd, name, mode)
        if ti.pax_headers:
            self._xattrs(ti, rel, f"/proc/self/fd/{parent_fd}/{name}")
        if times:
            self._set_times(lambda: os.utime(name, ns=entry_times(ti), dir_fd=parent_fd, follow_symlinks=False), rel)

    # -- entry kinds --

    def _create_file(self, pfd: int, base: str, rel: str) -> int:
        """A new empty file `base` (replacing what is in the way), open for writing."""
        return self.fs.create(pfd, base, rel, lambda: os.open(base, _FILE_FLAGS, 0o600, dir_fd=pfd))

    def _file(self, tar: tarfile.TarFile, ti: tarfile.TarInfo, parent: str, base: str, rel: str) -> None:
        fd = self._create_file(self.fs.parent(parent), base, rel)
        try:
            if ti.size:
                self._copy(tar, ti, fd)
            self._chown(lambda: os.fchown(fd, ti.uid, ti.gid), rel, (ti.uid, ti.gid))
            os.fchmod(fd, ti.mode & 0o7777)
            if ti.pax_headers:
                self._xattrs(ti, rel, fd)  # after chown, which drops security.capability
            self._set_times(lambda: os.utime(fd, ns=entry_times(ti)), rel)
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
        except TAR_ERRORS as e:
            raise UnsafeArchive(f"{self.what}: truncated or corrupt data in {ti.name!r} ({e})") from None

    def _dir_mode(self, ti: tarfile.TarInfo, rel: str) -> int:
        """The mode to give directory `rel` now; rootless, one that would lock us out waits for `finish`."""
        mode = ti.mode & 0o7777
        if self.rootless and mode & 0o300 != 0o300:
            # Without CAP_DAC_OVERRIDE we could not create the children: keep u+wx until the end.
            self._dir_modes[rel] = mode
            return mode | 0o300
        self._dir_modes.pop(rel, None)
        return mode

    def _dir(self, ti: tarfile.TarInfo, parent: str, base: str, rel: str) -> None:
        pfd = self.fs.parent(parent)
        try:
            os.mkdir(base, 0o700, dir_fd=pfd)
        except FileExistsError:
            st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):  # a symlink or file: tar order wins, never follow it
                os.unlink(base, dir_fd=pfd)
                self.fs.forget(rel, False)
                os.mkdir(base, 0o700, dir_fd=pfd)
        self._meta_at(pfd, base, rel, ti, mode=self._dir_mode(ti, rel), times=False)
        self._dir_times[rel] = entry_times(ti)  # set at the end: creating children changes it

    def _root_dir(self, ti: tarfile.TarInfo) -> None:
        root = self.fs.root
        self._chown(lambda: os.fchown(root, ti.uid, ti.gid), ".", (ti.uid, ti.gid))
        os.fchmod(root, self._dir_mode(ti, ""))
        if ti.pax_headers:
            self._xattrs(ti, ".", root)
        self._dir_times[""] = entry_times(ti)

    def _symlink(self, ti: tarfile.TarInfo, parent: str, base: str, rel: str) -> None:
        target = ti.linkname  # verbatim: resolved later, inside the container
        if "\x00" in target:
            raise UnsafeArchive(f"{self.what}: symlink {ti.name!r} has a NUL byte in its target")
        pfd = self.fs.parent(parent)
        self.fs.create(pfd, base, rel, lambda: os.symlink(target, base, dir_fd=pfd))
        self._meta_at(pfd, base, rel, ti, mode=None, times=True)

    def _hardlink(self, ti: tarfile.TarInfo, parent: str, base: str, rel: str) -> None:
        target = normalize(ti.linkname, self.what)
        if target == rel:
            return
        if target == "":
            raise UnsafeArchive(f"{self.what}: hardlink {ti.name!r} points at the layer root")
        tparent, _, tbase = target.rpartition("/")
        missing = UnsafeArchive(f"{self.what}: hardlink {ti.name!r} -> {ti.linkname!r}: no such entry in the layer")
        pfd = self.fs.parent(parent)
        try:
            tfd = self.fs.resolve_dir(tparent, create=False)
        except (FileNotFoundError, NotADirectoryError):
            raise missing from None
        try:
            make = lambda: os.link(tbase, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)  # noqa: E731
            try:
                self.fs.create(pfd, base, rel, make)
            except FileNotFoundError:
                raise missing from None
        finally:
            os.close(tfd)

    def _fifo(self, ti: tarfile.TarInfo, parent: str, base: str, rel: str) -> None:
        pfd = self.fs.parent(parent)
        self.fs.create(pfd, base, rel, lambda: os.mkfifo(base, 0o600, dir_fd=pfd))
        self._meta_at(pfd, base, rel, ti, mode=ti.mode & 0o7777, times=True)

    def _device(self, ti: tarfile.TarInfo, parent: str, base: str, rel: str) -> None:
        if self.rootless:
            self.notes.add("device skipped", rel, f"skipped the device node {rel!r}: not possible rootless")
            return
        pfd = self.fs.parent(parent)
        mode = _DEV_TYPES[ti.type] | 0o600
        device = os.makedev(ti.devmajor, ti.devminor)
        try:
            self.fs.create(pfd, base, rel, lambda: os.mknod(base, mode, device, dir_fd=pfd))
        except PermissionError as e:
            self.notes.add("device skipped", rel, f"skipped the device node {rel!r} ({e.strerror})")
            return
        self._meta_at(pfd, base, rel, ti, mode=ti.mode & 0o7777, times=True)

    def _whiteout(self, parent: str, base: str, rel: str, ti: tarfile.TarInfo) -> None:
        if base == WHITEOUT_OPAQUE:
            self._opaque(parent, rel)
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs)
        name = base[len(WHITEOUT_PREFIX) :]
        if name in ("", ".", ".."):
            raise UnsafeArchive(f"{self.what}: invalid whiteout {ti.name!r}")
        pfd = self.fs.parent(parent)
        target_rel = f"{parent}/{name}" if parent else name
        self.fs.remove(pfd, name, target_rel)
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
            os.close(self._create_file(pfd, base, rel))
            return
        self._chown(lambda: os.chown(name, ti.uid, ti.gid, dir_fd=pfd, follow_symlinks=False), target_rel, (ti.uid, ti.gid))
        # Its time too: a layer tarred again from its directory (push or save of a layer whose
        # blob is gone) must give back the same diff_id, .wh. entries included.
        self._set_times(lambda: os.utime(name, ns=entry_times(ti), dir_fd=pfd, follow_symlinks=False), target_rel)

    def _opaque(self, parent: str, rel: str) -> None:
        pfd = self.fs.parent(parent)
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
            os.close(self._create_file(pfd, WHITEOUT_OPAQUE, rel))

    # -- deferred directory metadata --

    def _drop_deferred(self, rel: str) -> None:
        """The directory `rel` was removed with its tree: nothing is left to set there."""
        prefix = rel + "/"
        for deferred in (self._dir_times, self._dir_modes):
            for key in [k for k in deferred if k == rel or k.startswith(prefix)]:
                del deferred[key]

    def finish(self) -> None:
        """Directory times (and deferred modes), deepest first, once nothing more is created in them."""
        modes = self._dir_modes
        order = sorted(self._dir_times, key=lambda r: (-(r.count("/") + (r != "")), r))
        pkey, pfd = None, -1
        try:
            for rel in order:
                times = self._dir_times[rel]
                if rel == "":
                    if rel in modes:
                        os.fchmod(self.fs.root, modes[rel])
                    self._set_times(lambda: os.utime(self.fs.root, ns=times), rel)
                    continue
                parent, _, base = rel.rpartition("/")
                if parent != pkey:
                    if pfd >= 0:
                        os.close(pfd)
                        pfd = -1
                    pkey = parent
                    try:
                        pfd = self.fs.resolve_dir(parent, create=False)
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
                        chmod_at(fd, base, modes[rel])
                    self._set_times(lambda: os.utime(base, ns=times, dir_fd=fd, follow_symlinks=False), rel)
        finally:
            if pfd >= 0:
                os.close(pfd)
