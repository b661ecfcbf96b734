"""Path resolution inside a layer directory, as if that directory were `/`.

A layer is untrusted input: `normalize` makes an entry's name relative to the
layer root, and `LayerRoot` resolves the parent directories with openat2(2)
RESOLVE_IN_ROOT on a directory fd of the root (or, where the kernel lacks
openat2, by an equivalent walk one component at a time with O_NOFOLLOW), so
that `..`, absolute names and symlinks planted by earlier entries are clamped
inside it. The caller then works on a single name relative to the parent fd,
never following a symlink there.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat
from collections import deque
from collections.abc import Callable

from pyctr.linux import syscalls
from pyctr.errors import StoreError, UnsafeArchive

__all__ = ["LayerRoot", "normalize", "chmod_at", "NODE_FLAGS"]

_RESOLVE = syscalls.RESOLVE_IN_ROOT | syscalls.RESOLVE_NO_MAGICLINKS
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
NODE_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_SYMLINKS = 40  # as the kernel's MAXSYMLINKS
_MAX_DEPTH = 512  # directories held open by the fallback walk
_EAGAIN_RETRIES = 32
_MAX_PATH = 4095
_MAX_NAME = 255

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


def normalize(name: str, what: str) -> str:
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


def chmod_at(parent_fd: int, name: str, mode: int) -> None:
    """chmod `name` in `parent_fd` without following it (a symlink is left alone)."""
    try:
        os.chmod(name, mode, dir_fd=parent_fd, follow_symlinks=False)
    except (NotImplementedError, ValueError):
        fd = os.open(name, NODE_FLAGS, dir_fd=parent_fd)
        try:
            if not stat.S_ISLNK(os.fstat(fd).st_mode):
                os.chmod(f"/proc/self/fd/{fd}", mode)
        finally:
            os.close(fd)


class DirectoryRoot:
    """What pyctr.snapshot.layerwriter needs of the directory it writes into, less the lookups:
    `root` (an fd of it), a one-entry cache of the last parent directory, and removal.
    Subclasses open `root` and resolve directories (`resolve_dir`): LayerRoot clamps them
    inside the layer, ctrpath.CopyRoot resolves them from a container's `/`.
    `on_dir_removed(rel)` is called when `remove` took away a whole directory tree, so that
    the writer can drop what it keeps about it."""

    root = -1
    on_dir_removed: Callable[[str], None] | None = None
    _pkey: str | None = None  # the cached parent directory (one entry)
    _pfd = -1

    def resolve_dir(self, rel: str, *, create: bool) -> int:
        raise NotImplementedError

    def close(self) -> None:
        for fd in (self._pfd, self.root):
            if fd >= 0:
                os.close(fd)
        self._pfd = self.root = -1

    def parent(self, rel: str) -> int:
        """An fd of directory `rel` (created if missing); owned by the one-entry cache."""
        if rel == self._pkey:
            return self._pfd
        if self._pfd >= 0:
            os.close(self._pfd)
            self._pfd = -1
        self._pkey = None
        self._pfd = self.resolve_dir(rel, create=True)
        self._pkey = rel
        return self._pfd

    def forget(self, rel: str, was_dir: bool) -> None:
        """Something at `rel` was removed: cached resolutions through it are stale."""
        self._pkey = None  # the fd stays open (maybe in use) until the next parent() call
        if was_dir and self.on_dir_removed is not None:
            self.on_dir_removed(rel)

    def remove(self, parent_fd: int, name: str, rel: str) -> None:
        """Remove whatever is at `name` (a directory with its whole tree); no-op if nothing is."""
        try:
            st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=parent_fd)
            self.forget(rel, True)
        else:
            os.unlink(name, dir_fd=parent_fd)
            self.forget(rel, False)

    def create(self, parent_fd: int, name: str, rel: str, make):
        """Run `make()` (which creates `name`); if something is in the way, remove it and retry once."""
        try:
            return make()
        except FileExistsError:
            self.remove(parent_fd, name, rel)
            return make()


class LayerRoot(DirectoryRoot):
    """The open destination directory (a layer's), and directory lookups clamped inside it."""

    def __init__(
        self, dest: str, *, rootless: bool, what: str, on_dir_removed: Callable[[str], None] | None = None
    ):
        self.rootless = rootless
        self.on_dir_removed = on_dir_removed
        try:
            self.root = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise StoreError(f"{what}: cannot open the destination {dest!r}: {e.strerror}") from None
        try:
            self.openat2 = _openat2_available(self.root)
        except BaseException:
            os.close(self.root)
            raise

    def resolve_dir(self, rel: str, *, create: bool) -> int:
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
                    fd = os.open(comp, NODE_FLAGS, dir_fd=cur)
                except FileNotFoundError:
                    if not create:
                        raise
                    self._mkdir_implicit(cur, comp)
                    fd = os.open(comp, NODE_FLAGS, dir_fd=cur)
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
        chmod_at(parent_fd, name, 0o755)
