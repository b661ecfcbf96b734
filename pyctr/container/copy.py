"""`cp` and `export`: files in and out of a container's root filesystem.

Paths inside the container are resolved as the container would see them
(symlinks never leave its rootfs, see userdb.open_in_root). Trees are walked
through directory fds (os.fwalk) and files opened with O_NOFOLLOW, so a
running container that swaps a directory for a symlink mid-copy cannot make
pyctr read the host's files; only regular files are read (a device node in a
hostile image is never opened). Files copied in go through the layer
unpacker, whose every write is resolved in the same way.
"""

from __future__ import annotations

import os
import stat
import tarfile
import tempfile
from pathlib import Path

from pyctr.errors import InvalidArgument

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _open(rootfs: str, path: str) -> int | None:
    """An fd of `path` inside `rootfs`, or None when it does not exist."""
    from pyctr.container import userdb

    try:
        return userdb.open_in_rootfs(rootfs, path)
    except FileNotFoundError:
        return None


def _copy_regular(src_fd: int, dest: Path, mode: int) -> None:
    with open(dest, "wb") as out:
        while chunk := os.read(src_fd, 1 << 20):
            out.write(chunk)
    os.chmod(dest, stat.S_IMODE(mode))


def copy_out(rootfs: str, src: str, dest: str) -> None:
    """Container `src` to host `dest` (docker's rules: into `dest` if it is a directory)."""
    fd = _open(rootfs, src)
    if fd is None:
        raise InvalidArgument(f"copying from container: {src}: no such file or directory")
    try:
        info = os.fstat(fd)
        target = Path(dest)
        if target.is_dir() and not src.endswith("/."):
            target = target / (os.path.basename(src.rstrip("/")) or "root")
        if stat.S_ISDIR(info.st_mode):
            _copy_tree(fd, target)
        elif stat.S_ISREG(info.st_mode):
            _copy_regular(fd, target, info.st_mode)
        else:
            raise InvalidArgument(f"copying from container: {src}: not a regular file or directory")
    finally:
        os.close(fd)


def _copy_tree(top_fd: int, target: Path) -> None:
    target.mkdir(exist_ok=True)
    for dirpath, dirnames, filenames, dir_fd in os.fwalk(".", dir_fd=top_fd, follow_symlinks=False):
        here = target / dirpath
        for name in list(dirnames) + filenames:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                (here / name).mkdir(exist_ok=True)
            elif stat.S_ISLNK(info.st_mode):
                if name in dirnames:
                    dirnames.remove(name)  # a link, never walked into
                os.symlink(os.readlink(name, dir_fd=dir_fd), here / name)
            elif stat.S_ISREG(info.st_mode):
                fd = os.open(name, _READ, dir_fd=dir_fd)
                try:
                    _copy_regular(fd, here / name, info.st_mode)
                finally:
                    os.close(fd)
            # Devices, FIFOs and sockets are skipped: reading them means reading the host.


def copy_in(rootfs: str, src: str, dest: str) -> None:
    """Host `src` to container `dest`, owned by the container's root."""
    from pyctr.snapshot import archive

    if not os.path.lexists(src):
        raise InvalidArgument(f"copying to container: {src}: no such file or directory")
    fd = _open(rootfs, dest)
    if fd is not None and stat.S_ISDIR(os.fstat(fd).st_mode):
        directory_fd, name = fd, os.path.basename(os.path.abspath(src))
    else:
        if fd is not None:
            os.close(fd)
        parent = os.path.dirname(dest.rstrip("/")) or "/"
        directory_fd = _open(rootfs, parent)
        if directory_fd is None or not stat.S_ISDIR(os.fstat(directory_fd).st_mode):
            raise InvalidArgument(f"copying to container: {parent}: no such directory")
        name = os.path.basename(dest.rstrip("/"))
    try:
        with tempfile.TemporaryFile() as tar_file:
            with tarfile.open(fileobj=tar_file, mode="w", format=tarfile.PAX_FORMAT) as tar:
                tar.add(src, arcname=name, filter=_as_root)
            tar_file.flush()
            archive.unpack_layer(f"/proc/self/fd/{tar_file.fileno()}", "none", f"/proc/self/fd/{directory_fd}")
    finally:
        os.close(directory_fd)


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def export(rootfs: str, out) -> None:
    """The whole root filesystem as a tar stream on `out` (a binary file object)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames, dir_fd in os.fwalk(rootfs, follow_symlinks=False):
            rel = os.path.relpath(dirpath, rootfs)
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                arcname = name if rel == "." else f"{rel}/{name}"
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                _add(tar, arcname, name, dir_fd, info)


def _add(tar: tarfile.TarFile, arcname: str, name: str, dir_fd: int, info: os.stat_result) -> None:
    entry = tarfile.TarInfo(arcname)
    entry.mode, entry.uid, entry.gid, entry.mtime = stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, info.st_mtime
    if stat.S_ISDIR(info.st_mode):
        entry.type = tarfile.DIRTYPE
        tar.addfile(entry)
    elif stat.S_ISLNK(info.st_mode):
        entry.type, entry.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=dir_fd)
        tar.addfile(entry)
    elif stat.S_ISREG(info.st_mode):
        fd = os.open(name, _READ, dir_fd=dir_fd)
        with os.fdopen(fd, "rb") as f:
            entry.size = os.fstat(fd).st_size
            tar.addfile(entry, f)
    elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
        entry.type = tarfile.CHRTYPE if stat.S_ISCHR(info.st_mode) else tarfile.BLKTYPE
        entry.devmajor, entry.devminor = os.major(info.st_rdev), os.minor(info.st_rdev)
        tar.addfile(entry)  # the node itself, never its contents
    elif stat.S_ISFIFO(info.st_mode):
        entry.type = tarfile.FIFOTYPE
        tar.addfile(entry)
