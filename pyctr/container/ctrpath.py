"""Paths inside a container as the container sees them: its root filesystem with its volumes
and bind mounts on top (what `cp` reads and writes, running or not).

A path is resolved one component at a time: each component is looked up (never followed) in
the host directory that holds it (the rootfs, or the source of the mount it lies under), and a
symlink is read and resolved again from the container's `/`, so no link can lead out of the
container. The result is a canonical container path, opened under its host base with
RESOLVE_IN_ROOT (userdb.open_in_root), so that a link swapped in meanwhile stays inside too.

Writes (`CopyRoot`) keep the container's rules, which the host's view of the same files does
not: a read-only mount (`:ro`, a secret) or root filesystem (`--read-only`, while it runs) is
never written, and a mount point that is a file (a secret, /etc/hosts, a one-file bind) is
never replaced, as podman, which writes from inside the container's mounts, is refused.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import tarfile

from pyctr.errors import Conflict
from pyctr.snapshot.layerfs import DirectoryRoot
from pyctr.values import value

MAX_LINKS = 40
# Kernel views mounted by the runtime: never read (their host-side mount point is empty), never written.
_PSEUDO = frozenset({"proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"})


@value
class Place:
    """A canonical container path and where it is on the host: `rel` under the directory `base`."""

    path: str  # canonical, absolute, in the container
    base: str  # host directory: the rootfs or a mount's source
    rel: str  # relative to base ("" for base itself)


@value
class Mount:
    """A mount of the container, as cp sees it."""

    source: str  # "bind": its host path (a directory or a file); "live": the running container's root
    read_only: bool
    kind: str = "bind"  # "bind", "live" (a tmpfs: only the running container holds it), "pseudo" (proc, sysfs...)


class ContainerFS:
    """A container's root filesystem plus its mounts (named volumes are binds of their _data).
    `read_only_root`: the root filesystem refuses writes (a running --read-only container);
    `pid`: the running container's init, through which its tmpfs mounts are reached."""

    def __init__(self, rootfs: str, mounts: list[dict], *, read_only_root: bool = False, pid: int = 0):
        self.rootfs = rootfs
        self.read_only_root = read_only_root
        self.mounts: dict[str, Mount] = {}  # canonical destination -> the mount
        live = self._live_root(pid) if pid else None
        for mount in mounts:  # in order: a later mount may lie under an earlier one
            kind, options = mount.get("type", ""), mount.get("options") or []
            read_only = "ro" in options
            if kind == "bind" or "bind" in options or "rbind" in options:
                source = mount.get("source", "")
                if not os.path.exists(source):  # a directory, or a file (/etc/hosts)
                    continue
                entry = Mount(source, read_only)
            elif kind in _PSEUDO:
                entry = Mount("", True, "pseudo")
            elif live:
                entry = Mount(live, read_only, "live")
            else:
                continue  # a tmpfs of a container that does not run: writes go to the rootfs, as podman's
            self.mounts[self.canonical(mount["destination"])] = entry

    def _live_root(self, pid: int) -> str | None:
        """The running container's root as its processes see it (with its tmpfs mounts), held open
        (a path to the fd), if we may reach it and it is this container's: a pid reused by a host
        process must not lead to the host's root."""
        import weakref

        try:
            fd = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return None  # gone, or not ours to see
        try:
            theirs, ours = os.fstat(fd), os.stat(self.rootfs)
        except OSError:
            theirs = ours = None
        if theirs is None or (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino):
            os.close(fd)
            return None
        weakref.finalize(self, os.close, fd)
        return f"/proc/self/fd/{fd}"

    def _mount_for(self, path: str) -> str:
        """The destination of the deepest mount holding the canonical path `path` ("" : none)."""
        best = ""
        for destination in self.mounts:
            if (path == destination or path.startswith(destination.rstrip("/") + "/")) and len(destination) > len(best):
                best = destination
        return best

    def place(self, path: str) -> Place:
        """Where the canonical container path `path` is on the host (the deepest mount wins)."""
        best = self._mount_for(path)
        if best:
            mount = self.mounts[best]
            if mount.kind == "live":
                return Place(path, mount.source, path.strip("/"))
            if mount.kind == "bind":
                if path == best and not os.path.isdir(mount.source):
                    return Place(path, os.path.dirname(mount.source), os.path.basename(mount.source))
                return Place(path, mount.source, path[len(best):].strip("/"))
        return Place(path, self.rootfs, path.strip("/"))

    def mount_at(self, path: str) -> Mount | None:
        """The mount exactly at the canonical container path `path`, if any."""
        return self.mounts.get(path)

    def read_only(self, path: str) -> bool:
        """Whether the canonical container path `path` lies on a read-only filesystem."""
        best = self._mount_for(path)
        return self.mounts[best].read_only if best else self.read_only_root

    def holds_mounts(self, path: str) -> bool:
        """Whether a mount lies strictly under the canonical container path `path`."""
        prefix = path.rstrip("/") + "/"
        return any(destination.startswith(prefix) for destination in self.mounts)

    def canonical(self, path: str) -> str:
        """`path` with every symlink resolved inside the container; components that do not
        exist are kept as they are (a destination to create)."""
        pending = [c for c in path.split("/") if c not in ("", ".")]
        done: list[str] = []
        links = 0
        while pending:
            name = pending.pop(0)
            if name == "..":
                if done:
                    done.pop()
                continue
            here = self.place("/" + "/".join(done + [name]))
            info = self._lstat(here)
            if info is None or not stat.S_ISLNK(info.st_mode):
                done.append(name)
                if info is None:  # missing: the rest cannot be resolved further
                    done += [c for c in pending if c not in ("", ".")]
                    break
                continue
            links += 1
            if links > MAX_LINKS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
            target = self._readlink(here)
            if target.startswith("/"):
                done = []
            pending[:0] = [c for c in target.split("/") if c not in ("", ".")]
        return "/" + "/".join(done)

    def open(self, path: str) -> int:
        """An fd (O_RDONLY) of the canonical container path; OSError as the kernel says."""
        from pyctr.container import userdb

        here = self.place(path)
        return userdb.open_in_rootfs(here.base, here.rel)

    def open_dir(self, path: str) -> int:
        """open() of a directory; NotADirectoryError if it is something else."""
        fd = self.open(path)
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        return fd

    def lstat(self, path: str) -> os.stat_result | None:
        """The canonical container path's own status (None: nothing there)."""
        return self._lstat(self.place(path))

    def parent(self, path: str) -> tuple[int, str] | None:
        """(an fd of the host directory that holds the canonical container path, its name
        there), or None when that directory does not exist."""
        here = self.place(path)
        if not here.rel:
            return None  # `/` or a mount point: never replaced
        found = self._parent_fd(here)
        if found is None or not stat.S_ISDIR(os.fstat(found[0]).st_mode):
            if found:
                os.close(found[0])
            return None
        return found

    def _parent_fd(self, here: Place) -> tuple[int, str] | None:
        from pyctr.container import userdb

        parent, _, name = here.rel.rpartition("/")
        if not name:
            return None  # the base itself: a directory, never a link
        try:
            return userdb.open_in_rootfs(here.base, parent), name
        except OSError:
            return None

    def _lstat(self, here: Place) -> os.stat_result | None:
        if not here.rel:
            try:
                return os.stat(here.base)
            except OSError:
                return None
        found = self._parent_fd(here)
        if found is None:
            return None
        fd, name = found
        try:
            return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError:
            return None
        finally:
            os.close(fd)

    def _readlink(self, here: Place) -> str:
        fd, name = self._parent_fd(here)
        try:
            return os.readlink(name, dir_fd=fd)
        finally:
            os.close(fd)


def _owner_error(path: str, ti: tarfile.TarInfo) -> str:
    """podman's copier's words when an existing directory on a read-only filesystem is merged into."""
    return (f"copier: put: error setting ownership of \"{path}\" to {ti.uid}:{ti.gid}: "
            f"lchown {path}: read-only file system")


class CopyRoot(DirectoryRoot):
    """The container directory `dest` (canonical) as the root a copy is unpacked into: what
    pyctr.snapshot.layerwriter needs of a root, with every entry's parent resolved from the
    container's `/` (a symlink in the archive or the container never leads out of it, nor to
    the host), and `before_entry` refusing, in podman's words, what the container's mounts forbid."""

    def __init__(self, fs: ContainerFS, dest: str, *, rootless: bool):
        self.fs, self.dest, self.rootless = fs, dest, rootless
        self.root = fs.open_dir(dest)  # (on_dir_removed: set by the LayerWriter)

    def _path(self, rel: str) -> str:
        return posixpath.join(self.dest, rel) if rel else self.dest

    def before_entry(self, parent: str, base: str, rel: str, ti: tarfile.TarInfo) -> bool:
        """Refuse (Conflict) an entry that would write where the container may not, in the order
        the kernel checks (the directory written in is read-only; the name is a mount point);
        False: skip it (a directory mounted there keeps its own owner and mode)."""
        from pyctr.snapshot.archive import copy_error

        if not rel:  # the destination directory itself (a "." entry)
            if self.fs.read_only(self.dest):
                raise Conflict(_owner_error(self.dest, ti))
            return True
        where = self.fs.canonical(self._path(parent))
        path = posixpath.join(where, base)
        shown = self._path(rel)
        existing = self.fs.lstat(path)
        mount = self.fs.mount_at(path)
        if ti.type == tarfile.DIRTYPE and existing is not None and stat.S_ISDIR(existing.st_mode):
            if self.fs.read_only(path):  # merged into: only its owner, mode and times would change
                raise Conflict(_owner_error(shown, ti))
            return mount is None
        if self.fs.read_only(where):
            raise Conflict(copy_error(shown, errno.EROFS, ti, removing=existing is not None))
        if mount is not None or (existing is not None and stat.S_ISDIR(existing.st_mode) and self.fs.holds_mounts(path)):
            raise Conflict(copy_error(shown, errno.EBUSY, ti, removing=True))  # unlinking a mount point
        return True

    def resolve_dir(self, rel: str, *, create: bool) -> int:
        """A new fd of directory `rel`, resolved in the container (the caller closes it)."""
        try:
            return self.fs.open_dir(self.fs.canonical(self._path(rel)))
        except FileNotFoundError:
            if not create:
                raise
        here = self.dest
        for name in [c for c in rel.split("/") if c]:  # each missing one made where the container has it
            asked = posixpath.join(here, name)
            here = self.fs.canonical(asked)
            if self.fs.lstat(here) is not None:
                continue
            found = self.fs.parent(here) if here == asked else None  # never through a dangling link, as podman
            if found is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), here)
            pfd, base = found
            try:
                if self.fs.read_only(here):
                    raise OSError(errno.EROFS, os.strerror(errno.EROFS), here)
                os.mkdir(base, 0o755, dir_fd=pfd)
                if not self.rootless:
                    os.chown(base, 0, 0, dir_fd=pfd, follow_symlinks=False)
            finally:
                os.close(pfd)
        return self.fs.open_dir(self.fs.canonical(self._path(rel)))
