"""`system reset`: remove everything pyctr keeps in its store and runtime directories, safely.

Deleting a whole tree as root is where an engine can do the most harm: a --root that is a
symlink, a volume bound to a host directory and still mounted, a --root that is the user's
home or a disk of its own. So: paths are resolved first; containers and volumes go through
their services (a bind or device volume's files are never deleted); nothing is deleted while
anything below is still mounted, nor across filesystems; a directory that does not look like a
pyctr store (an entry pyctr does not write there, or $HOME, an XDG directory, /) is refused
whole; and --root and --runroot themselves are emptied but kept, never unmounted: either may be
a filesystem of its own (a disk at /var/lib/pyctr, a tmpfs at /run/pyctr), and the next command
makes again what it needs inside.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from pyctr.errors import PyctrError

if TYPE_CHECKING:
    from pyctr.engine.services import Services

# What pyctr writes at the top of its store (--root) and runtime directory (--runroot), and of
# which kind: anything else there (a .git, a .env, a "containers" that is a file) is not pyctr's.
STORE_ENTRIES = {"containers": "dir", "volumes": "dir", "secrets": "dir", "layers": "dir", "blobs": "dir",
                 "ingest": "dir", "pods": "dir", "images.json": "file", "images.lock": "file", "gc.lock": "file"}
RUNTIME_ENTRIES = {"containers": "dir", "runc": "dir", "events": "dir", "image-mounts": "dir", "netns": "dir"}
# The only dot names there: a crash's leftover of fsutil.atomic_write of one of those files,
# ".<name>.tmp-<pid>-<8 hex digits>".
_ATOMIC_LEFTOVER = re.compile(r"\.(?P<name>[^/]+)\.tmp-[0-9]+-[0-9a-f]{8}")


def reset(s: "Services") -> None:
    """Remove every container (running ones stopped first), volume and image, then everything in
    the store and the runtime directory; the two directories stay, empty (and mounted, if they are
    mount points). Refused (PyctrError, nothing removed) for a root that is not a pyctr store."""
    config = s.config
    tops = [os.path.realpath(config.runroot), os.path.realpath(config.root)]
    for top in tops:
        check_resettable(top, inner=[t for t in tops if t != top])
    # Newest first: a container that others depend on (a pod's infra, container:NAME) goes after
    # them, and is refused before. A second round for what still failed (an older dependent).
    for _round in range(2):
        for record in sorted(s.containers.all(), key=lambda r: r.created, reverse=True):
            try:
                s.tasks.remove(record, force=True, timeout=0)
            except PyctrError:
                pass  # whatever is left goes with the directories below
    from pyctr.container.store import LIVE

    running = [r.name for r in s.containers.all() if s.containers.status(r.id).state in LIVE]
    if running:  # its processes would run on with their store gone
        raise PyctrError(f"not resetting: container {running[0]} could not be stopped",
                         hint="stop or remove it (pyctr rm -f), and run the reset again")
    for volume in s.volumes.list():
        try:
            s.volumes.remove(volume.name, users=[])  # unmounts first: a bind volume's files stay
        except PyctrError:
            pass  # (still mounted: refused below)
    _remove_networks(s)
    for record, _point in s.images.mounted():
        s.images.unmount(record.id)
    for top in tops:
        _unmount_below(top, keep=tops)
    for top in tops:
        left = [p for p in mounts_below(top) if p not in tops]
        if left:
            raise PyctrError(f"not resetting {top}: {left[0]} is still mounted",
                             hint="unmount it (umount -l) and run the reset again")
    for top in tops:
        left = empty_tree(top, spare=tops)
        if left:
            raise PyctrError(f"resetting {top}: {left[0]}; left in place")


def _remove_networks(s: "Services") -> None:
    """Every network but the default one, as podman's reset: definitions are kept beside the store
    (host-wide as root), so only those no container of any store is connected to go."""
    from pyctr.linux.fsutil import locked, makedirs
    from pyctr.network import bridge, ipam, linger
    from pyctr.network.store import NetworkStore

    definitions = NetworkStore(s.config.networks_dir)
    state = makedirs(bridge.run_dir(s.config.rootless), 0o755)
    with locked(state / "lock"):
        for network in definitions.list():
            if ipam.owners(state, network, live=True):
                continue  # another store's containers use it
            if not network.is_default:
                definitions.remove(network)
                ipam.forget(state, network)
            elif not s.config.rootless:
                linger.release(state, network)  # its bridge, kept for a while


def check_resettable(top: str, inner: list[str] = ()) -> None:
    """PyctrError unless `top` (a resolved path) may be emptied: not /, nor $HOME, nor an XDG
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
    inner_names = {os.path.basename(p) for p in inner if os.path.dirname(p) == top}
    unknown = sorted(n for n in names if n not in inner_names and not _is_pyctrs(top, n))
    if unknown:
        raise PyctrError(f"refusing to reset {top}: it does not look like a pyctr store (it holds {unknown[0]!r})",
                         hint="give --root and --runroot directories of pyctr's own")


def _is_pyctrs(top: str, name: str) -> bool:
    """Whether `name`, at the top of a store or runtime directory, is what pyctr writes there."""
    leftover = _ATOMIC_LEFTOVER.fullmatch(name)
    if leftover:  # a temporary file for one of pyctr's files
        kinds = {"file"} & {STORE_ENTRIES.get(leftover["name"]), RUNTIME_ENTRIES.get(leftover["name"])}
    else:
        kinds = {STORE_ENTRIES.get(name), RUNTIME_ENTRIES.get(name)} - {None}
    if not kinds:
        return False
    try:
        mode = os.lstat(os.path.join(top, name)).st_mode
    except FileNotFoundError:
        return True  # gone meanwhile (a temporary file renamed in)
    except OSError:
        return False
    return ("dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other") in kinds


def mounts_below(top: str) -> list[str]:
    """The mount points at or below `top` (a resolved path), deepest first."""
    from pyctr.linux import mount as mountmod

    prefix = top.rstrip("/") + "/"
    return sorted((p for p in mountmod.mountpoints() if p == top or p.startswith(prefix)), key=len, reverse=True)


def _unmount_below(top: str, keep: list[str] = ()) -> None:
    """Unmount what is mounted below `top`, but not `top` itself nor the paths in `keep`: a root
    that is a disk or tmpfs of its own stays mounted (its contents go, as podman's reset)."""
    from pyctr.linux import mount as mountmod

    for _ in range(8):  # stacked mounts come off one at a time
        points = [p for p in mounts_below(top) if p != top and p not in keep]
        if not points:
            return
        for point in points:
            try:
                mountmod.unmount(point, lazy=True)
            except PyctrError:
                pass  # (what stays is refused by the caller)


def empty_tree(top: str, spare: list[str] = ()) -> list[str]:
    """Delete everything below `top` on its own filesystem, never following a symlink nor
    entering another filesystem, and keep `top` itself (it may be a mount point, or a directory
    the administrator made) and the directories in `spare` (left whole: each is emptied on its
    own); -> what was left, and why ("PATH: on another filesystem")."""
    try:
        fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return []
    left: list[str] = []
    try:
        _remove_below(fd, os.fstat(fd).st_dev, Path(top), left, frozenset(spare))
    finally:
        os.close(fd)
    return left


def _remove_below(dir_fd: int, dev: int, path: Path, left: list[str], spare: frozenset[str]) -> None:
    for name in os.listdir(dir_fd):
        if str(path / name) in spare:
            continue
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
            _remove_below(fd, dev, path / name, left, spare)
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
