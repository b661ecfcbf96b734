"""`cp` and `export`: files in and out of a container's root filesystem.

Paths inside the container are resolved as the container would see them
(symlinks never leave its rootfs, see userdb.open_in_root); files copied in
go through the layer unpacker, whose every write is resolved in the same way.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path

from pyctr.errors import InvalidArgument


def _open(rootfs: str, path: str) -> int | None:
    """An fd of `path` inside `rootfs`, or None when it does not exist."""
    from pyctr import userdb

    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return userdb.open_in_root(root, path)
    except FileNotFoundError:
        return None
    finally:
        os.close(root)


def copy_out(rootfs: str, src: str, dest: str) -> None:
    """Container `src` to host `dest` (docker's rules: into `dest` if it is a directory)."""
    fd = _open(rootfs, src)
    if fd is None:
        raise InvalidArgument(f"copying from container: {src}: no such file or directory")
    try:
        source = f"/proc/self/fd/{fd}"
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        target = Path(dest)
        if target.is_dir() and not src.endswith("/."):
            target = target / (os.path.basename(src.rstrip("/")) or "root")
        if is_dir:
            # Symlinks inside the tree are copied as links, never followed out of the rootfs.
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
            shutil.copymode(source, target)
    finally:
        os.close(fd)


def copy_in(rootfs: str, src: str, dest: str) -> None:
    """Host `src` to container `dest`, owned by the container's root."""
    from pyctr import archive

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
        for entry in sorted(os.listdir(rootfs)):
            tar.add(os.path.join(rootfs, entry), arcname=entry)
