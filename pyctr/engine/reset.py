"""`system reset`: remove everything pyctr keeps, and its store and runtime directories, safely.

Deleting a whole tree as root is where an engine can do the most harm: a --root that is a
symlink, a volume bound to a host directory and still mounted, a --root that is the user's
home. So: paths are resolved first; containers and volumes go through their services (a
bind or device volume's files are never deleted); nothing is deleted while anything below
is still mounted, nor across filesystems; and a directory that does not look like a pyctr
store (unknown top-level entries, or $HOME, an XDG directory, /) is refused whole.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from pyctr.errors import PyctrError

if TYPE_CHECKING:
    from pyctr.engine.services import Services

# What pyctr writes at the top of its store (--root) and runtime directory (--runroot); names
# starting with "." (locks, temporary files) are pyctr's too.
STORE_ENTRIES = frozenset({"containers", "volumes", "secrets", "layers", "blobs", "ingest", "images.json",
                           "images.lock", "gc.lock"})
RUNTIME_ENTRIES = frozenset({"containers", "runc", "events", "image-mounts", "netns"})


def reset(s: "Services") -> None:
    """Remove every container (running ones stopped first), volume and image, then the store
    and the runtime directory themselves. Refused (PyctrError, nothing removed) for a root that
    is not a pyctr store."""
    config = s.config
    tops = [os.path.realpath(config.runroot), os.path.realpath(config.root)]
    for top in tops:
        check_resettable(top, inner=[t for t in tops if t != top])
    for record in s.containers.all():
        try:
            s.tasks.remove(record, force=True, timeout=0)
        except PyctrError:
            pass  # whatever is left goes with the directories below
    for volume in s.volumes.list():
        try:
            s.volumes.remove(volume.name, users=[])  # unmounts first: a bind volume's files stay
        except PyctrError:
            pass  # (still mounted: refused below)
    for record, _point in s.images.mounted():
        s.images.unmount(record.id)
    for top in tops:
        _unmount_below(top)
    for top in tops:
        left = mounts_below(top)
        if left:
            raise PyctrError(f"not resetting {top}: {left[0]} is still mounted",
                             hint="unmount it (umount -l) and run the reset again")
    for top in tops:
        left = remove_tree(top)
        if left:
            raise PyctrError(f"resetting {top}: {left[0]}; left in place")


def check_resettable(top: str, inner: list[str] = ()) -> None:
    """PyctrError unless `top` (a resolved path) may be deleted whole: not /, nor $HOME, nor an XDG
    directory or a directory above one, and holding only what pyctr writes there (and `inner`,
    the other of --root and --runroot, when it lies right inside)."""
    home = os.path.realpath(os.path.expanduser("~"))
    precious = {"/", home}
    for variable, default in (("XDG_DATA_HOME", "~/.local/share"), ("XDG_CONFIG_HOME", "~/.config"),
                              ("XDG_CACHE_HOME", "~/.cache"), ("XDG_STATE_HOME", "~/.local/state"),
                              ("XDG_RUNTIME_DIR", None)):
        value = os.environ.get(variable) or (os.path.expanduser(default) if default else None)
        if value:
            precious.add(os.path.realpath(value))
    above = sorted(p for p in precious if p.startswith(top.rstrip("/") + "/"))
    if top in precious or above:
        what = top if top in precious else f"a directory above {above[0]}"
        raise PyctrError(f"refusing to reset {top}: it is {what}, not a pyctr store",
                         hint="give --root and --runroot directories of pyctr's own")
    try:
        names = os.listdir(top)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        raise PyctrError(f"refusing to reset {top}: it is not a directory") from None
    except OSError as exc:
        raise PyctrError(f"reading {top}: {exc.strerror}") from None
    known = STORE_ENTRIES | RUNTIME_ENTRIES | {os.path.basename(p) for p in inner if os.path.dirname(p) == top}
    unknown = sorted(n for n in names if not n.startswith(".") and n not in known)
    if unknown:
        raise PyctrError(f"refusing to reset {top}: it does not look like a pyctr store (it holds {unknown[0]!r})",
                         hint="give --root and --runroot directories of pyctr's own")


def mounts_below(top: str) -> list[str]:
    """The mount points at or below `top` (a resolved path), deepest first."""
    from pyctr.linux import mount as mountmod

    prefix = top.rstrip("/") + "/"
    return sorted((p for p in mountmod.mountpoints() if p == top or p.startswith(prefix)), key=len, reverse=True)


def _unmount_below(top: str) -> None:
    from pyctr.linux import mount as mountmod

    for _ in range(8):  # stacked mounts come off one at a time
        points = mounts_below(top)
        if not points:
            return
        for point in points:
            try:
                mountmod.unmount(point, lazy=True)
            except PyctrError:
                pass  # (what stays is refused by the caller)


def remove_tree(top: str) -> list[str]:
    """Delete `top` and everything below it on its own filesystem, never following a symlink
    nor entering another filesystem; -> what was left, and why ("PATH: on another filesystem")."""
    try:
        dev = os.lstat(top).st_dev
    except FileNotFoundError:
        return []
    left: list[str] = []
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        _remove_below(fd, dev, Path(top), left)
    finally:
        os.close(fd)
    if not left:
        try:
            os.rmdir(top)
        except FileNotFoundError:
            pass
    return left


def _remove_below(dir_fd: int, dev: int, path: Path, left: list[str]) -> None:
    for name in os.listdir(dir_fd):
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if info.st_dev != dev:
            left.append(f"{path / name}: on another filesystem")
            continue
        if not stat.S_ISDIR(info.st_mode):
            _remove(os.unlink, name, dir_fd, path, left)
            continue
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except FileNotFoundError:
            continue
        except OSError as exc:
            left.append(f"{path / name}: {exc.strerror}")
            continue
        try:
            if os.fstat(fd).st_dev != dev:  # mounted there since we looked
                left.append(f"{path / name}: on another filesystem")
                continue
            before = len(left)
            _remove_below(fd, dev, path / name, left)
        finally:
            os.close(fd)
        if len(left) == before:
            _remove(os.rmdir, name, dir_fd, path, left)


def _remove(how, name: str, dir_fd: int, path: Path, left: list[str]) -> None:
    try:
        how(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except OSError as exc:
        left.append(f"{path / name}: {exc.strerror}")
