"""Paths inside a container as the container sees them: its root filesystem with its volumes
and bind mounts on top (what `cp` reads and writes, running or not).

A path is resolved one component at a time: each component is looked up (never followed) in
the host directory that holds it (the rootfs, or the source of the mount it lies under), and a
symlink is read and resolved again from the container's `/`, so no link can lead out of the
container. The result is a canonical container path, opened under its host base with
RESOLVE_IN_ROOT (userdb.open_in_root), so that a link swapped in meanwhile stays inside too.
"""

from __future__ import annotations

import errno
import os
import stat

from pyctr.values import value

MAX_LINKS = 40


@value
class Place:
    """A canonical container path and where it is on the host: `rel` under the directory `base`."""

    path: str  # canonical, absolute, in the container
    base: str  # host directory: the rootfs or a mount's source
    rel: str  # relative to base ("" for base itself)


class ContainerFS:
    """A container's root filesystem plus its bind mounts (named volumes are binds of their _data)."""

    def __init__(self, rootfs: str, mounts: list[dict]):
        self.rootfs = rootfs
        self.mounts: dict[str, str] = {}  # canonical destination -> host source
        for mount in mounts:  # in order: a later mount may lie under an earlier one
            source = mount.get("source", "")
            if mount.get("type") == "bind" and os.path.exists(source):  # a directory, or a file (/etc/hosts)
                self.mounts[self.canonical(mount["destination"])] = source

    def place(self, path: str) -> Place:
        """Where the canonical container path `path` is on the host (the deepest mount wins)."""
        best = ""
        for destination in self.mounts:
            if (path == destination or path.startswith(destination.rstrip("/") + "/")) and len(destination) > len(best):
                best = destination
        if best:
            source = self.mounts[best]
            if path == best and not os.path.isdir(source):
                return Place(path, os.path.dirname(source), os.path.basename(source))
            return Place(path, source, path[len(best):].strip("/"))
        return Place(path, self.rootfs, path.strip("/"))

    def mount_source(self, path: str) -> str | None:
        """The host source mounted exactly at the canonical container path `path`, if any."""
        return self.mounts.get(path)

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
            return os.stat(here.base)
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
