"""The one module that performs mount(2) and umount2(2).

The snapshotter (pyctr.snapshot.layers.LayerStore.rootfs_mount) describes a root
filesystem as a Mount; mount_at() puts it on a target.
"""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
from functools import cache

from pyctr.errors import StoreError
from pyctr.values import value

MS_RDONLY = 1
MS_BIND = 4096
MS_REC = 16384
MNT_DETACH = 2
MS_REMOUNT = 32
# statvfs f_flag bits -> mount flags that a bind remount must keep.
_ST_TO_MS = {2: 2, 4: 4, 8: 8, 1024: 1024, 2048: 2048, 4096: 1 << 21}  # nosuid nodev noexec noatime nodiratime relatime


def _locked_flags(path: str) -> int:
    flags = os.statvfs(path).f_flag
    return sum(ms for st, ms in _ST_TO_MS.items() if flags & st)


@cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


class MountError(StoreError):
    def __init__(self, message: str, err: int, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.errno = err


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise MountError(f"{what}: {os.strerror(err)}", err,
                         hint="overlay mounts need root (or a user namespace)" if err == errno.EPERM else None)


def mount(source: str, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    _check(
        _libc().mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags, data.encode() if data else None),
        f"mounting {fstype or source} on {target}",
    )


def unmount(target: str, *, lazy: bool = False) -> None:
    if _libc().umount2(target.encode(), MNT_DETACH if lazy else 0) != 0:
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOENT):  # not mounted (any more)
            return
        raise StoreError(f"unmounting {target}: {os.strerror(err)}")


# "fuse" makes rootless mounts use fuse-overlayfs even where the kernel could do it.
OVERLAY_ENV = "PYCTR_OVERLAY"
OVERLAY_PROGRAM_ENV = "PYCTR_OVERLAY_PROGRAM"  # the fuse-overlayfs to run (--storage-opt overlay.mount_program)
USERXATTR = "userxattr"  # an overlay made in a user namespace (Linux 5.11+): fuse-overlayfs may stand in


@value(frozen=True)
class Mount:
    """A mount, described without its target (after containerd's mount.Mount).

    type "overlay": `lowerdirs` stacked, topmost first (kept short: the snapshotter gives
    links that share one directory, which mount_at passes relative to it); with `upperdir`
    and `workdir` it is writable, without them read-only. type "bind": `source` itself; "ro" in
    `options` makes it read-only. Other `options` are the filesystem's own (userxattr).
    """

    type: str
    source: str
    options: tuple[str, ...] = ()
    lowerdirs: tuple[str, ...] = ()
    upperdir: str | None = None
    workdir: str | None = None

    @property
    def readonly(self) -> bool:
        return self.upperdir is None if self.type == "overlay" else "ro" in self.options


def mount_at(m: Mount, target: str) -> None:
    """Mount `m` on `target`. An overlay with the userxattr option (rootless) uses the
    kernel's overlay where it allows it, fuse-overlayfs otherwise (or when PYCTR_OVERLAY=fuse)."""
    if m.type == "bind":
        _bind(m.source, target, readonly="ro" in m.options)
        return
    if m.type != "overlay":
        raise StoreError(f"mounting {m.type} on {target}: unknown mount type")
    if not m.lowerdirs or (m.upperdir is None) != (m.workdir is None):
        raise StoreError(f"mounting overlay on {target}: needs lower directories, and an upper with a work directory")
    lowers, upper, work = list(m.lowerdirs), m.upperdir, m.workdir
    rootless = USERXATTR in m.options
    if rootless and os.environ.get(OVERLAY_ENV) == "fuse":
        return _fuse_overlay(lowers, target, upper, work)
    try:
        _kernel_overlay(lowers, target, upper, work, m.options)
    except MountError as exc:
        import shutil  # (here: shutil imports bz2 and lzma, ~1 ms, and a start rarely needs it)

        if not rootless or exc.errno not in (errno.EPERM, errno.EINVAL, errno.ENODEV) or not shutil.which("fuse-overlayfs"):
            raise
        _fuse_overlay(lowers, target, upper, work)


def _bind(source: str, target: str, *, readonly: bool) -> None:
    mount(source, target, None, MS_BIND)
    if not readonly:
        return
    try:
        # In a user namespace the source's nosuid/nodev/noexec/atime flags are locked:
        # the remount must repeat them or it is refused.
        mount("none", target, None, MS_BIND | MS_RDONLY | MS_REMOUNT | _locked_flags(source))
    except BaseException:
        unmount(target, lazy=True)  # never leave a writable view of a shared layer
        raise


def _fuse_overlay(lowers: list[str], target: str, upper: str | None, work: str | None) -> None:
    opts = ["lowerdir=" + ":".join(lowers)]
    if upper:
        opts += [f"upperdir={upper}", f"workdir={work}"]
    try:
        program = os.environ.get(OVERLAY_PROGRAM_ENV) or "fuse-overlayfs"
        result = subprocess.run([program, "-o", ",".join(opts), target], capture_output=True, text=True,
                                close_fds=True, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise StoreError("fuse-overlayfs not found", hint="install the Debian package fuse-overlayfs") from None
    if result.returncode != 0:
        why = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        hint = "the user needs read and write access to /dev/fuse" if "fuse" in why.lower() else None
        raise StoreError(f"mounting fuse-overlayfs on {target}: {why}", hint=hint)


_PAGE = os.sysconf("SC_PAGE_SIZE")  # what mount(2) copies of its data, with the final NUL


def _overlay_data(lowers: list[str], upper: str | None, work: str | None, options: tuple[str, ...]) -> tuple[str, str]:
    """(directory to work in, mount data). The lower paths are given relative to their common
    parent (the snapshotter's short links share one), and so are the upper and work paths
    when, given in full, they would not fit: mount(2) copies at most a page of options."""
    parent = os.path.commonpath([os.path.dirname(p) for p in lowers])

    def data(upper: str | None, work: str | None) -> str:
        opts = ["lowerdir=" + ":".join(os.path.relpath(p, parent) for p in lowers)]
        if upper:
            opts += [f"upperdir={upper}", f"workdir={work}"]
        return ",".join(opts + list(options))

    full = data(upper, work)
    if len(full) < _PAGE or not upper:
        return parent, full
    # Resolved first, so that each `..` climbs out of a real directory, not a symlink.
    real = os.path.realpath(parent)
    return parent, data(os.path.relpath(os.path.realpath(upper), real), os.path.relpath(os.path.realpath(work), real))


def _plain_upper_options() -> tuple[str, ...]:
    """redirect_dir and metacopy off, where the kernel knows them: a host that turns them on
    would leave a renamed directory's children (or a chowned file's data) in the lower layers,
    and commits and build steps read the upper directory as the whole change. (A userxattr overlay,
    rootless, has both off whatever the host says, and refuses them as options.)"""
    return tuple(f"{name}=off" for name in ("redirect_dir", "metacopy")
                 if os.path.exists(f"/sys/module/overlay/parameters/{name}"))


def _kernel_overlay(lowers: list[str], target: str, upper: str | None, work: str | None, options: tuple[str, ...]) -> None:
    """Mount with our working directory in the lower paths' common parent (see _overlay_data)."""
    if len(lowers) == 1 and upper is None:
        # overlayfs wants two layers when there is no upper; a read-only bind mount is equivalent.
        return _bind(lowers[0], target, readonly=True)
    if upper is not None and USERXATTR not in options:  # userxattr turns both off itself (and refuses them)
        options = tuple(options) + _plain_upper_options()
    parent, data = _overlay_data(lowers, upper, work, options)
    if len(data) >= _PAGE:
        raise StoreError(f"mounting overlay on {target}: too many layers ({len(lowers)}): "
                         f"their paths exceed the {_PAGE} bytes of mount options")
    cwd = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)  # O_PATH: a cwd we may not read
    try:
        os.chdir(parent)
        mount("overlay", target, "overlay", MS_RDONLY if upper is None else 0, data)
    finally:
        os.fchdir(cwd)
        os.close(cwd)


def mountpoints() -> set[str]:
    """Every mount point of this mount namespace."""
    import re

    points = set()
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            # Only space, tab, newline and backslash are escaped (as \ooo); the rest is raw bytes.
            raw = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), line.split(b" ")[4])
            points.add(os.fsdecode(raw))
    return points


def is_mountpoint(path: str) -> bool:
    return os.path.realpath(path) in mountpoints()
