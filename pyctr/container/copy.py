"""`cp` and `export`: files in and out of a container, as the container sees them.

Container paths are resolved through the container's volumes and bind mounts (ctrpath), with
symlinks resolved inside the container. Every copy is a tar stream: the source side walks its
tree through directory fds, opening files with O_NOFOLLOW and reading only regular files (a
device node in a hostile image is never opened); the destination side goes through the layer
unpacker, whose every write is resolved under the destination directory. Docker's and
podman's rules: into DEST when it is a directory, as DEST when its parent is one; `SRC/.`
copies the contents; ownership is the container user's (`--archive`) or the caller's (out).
"""

from __future__ import annotations

import json
import os
import posixpath
import stat
import tarfile
import tempfile
from pathlib import Path
from typing import BinaryIO

from pyctr.container.ctrpath import ContainerFS
from pyctr.errors import InvalidArgument, NotFound

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def container_fs(rootfs: str, record, bundle: Path) -> ContainerFS:
    """The container's rootfs with the mounts of its OCI config once it has one (its /etc/hosts
    and the like too), else those of its record (volumes and binds)."""
    try:
        mounts = json.loads((bundle / "config.json").read_text())["mounts"]
    except (OSError, ValueError, KeyError):
        mounts = record.mounts
    return ContainerFS(rootfs, mounts)


def in_workdir(workdir: str, path: str) -> str:
    """A container path as cp reads it: a relative one is under the container's working directory."""
    if path.startswith("/"):
        return path
    joined = posixpath.join(workdir or "/", path)
    return joined + "/" if path.endswith("/") and not joined.endswith("/") else joined


def _not_found(path: str, where: str) -> NotFound:
    return NotFound(f"\"{path}\" could not be found on {where}: no such file or directory")


# -- container -> host ---------------------------------------------------------------------------

def copy_out(fs: ContainerFS, src: str, dest: str | BinaryIO, *, container: str, overwrite: bool = False,
             rootless: bool = False) -> None:
    """Container `src` to the host path `dest`, or as a tar stream to the binary file `dest`."""
    path = fs.canonical(src)
    try:
        fd = fs.open(path)
    except OSError:
        raise _not_found(src, f"container {container}") from None
    try:
        contents = src.endswith("/.")
        arcname = "" if contents else (os.path.basename(path) or ".")
        if not isinstance(dest, str):
            with tarfile.open(fileobj=dest, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                _write_tree(tar, fd, arcname, fs=fs, path=path)
            return
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        target_dir, name = _host_destination(dest, is_dir, "" if contents else arcname)
        with tempfile.TemporaryFile() as spool:
            with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
                dir_fd = os.open(target_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    check = None if overwrite else _Conflicts(dir_fd, target_dir)
                    # Files out are the caller's; device nodes never land on the host.
                    _write_tree(tar, fd, name, fs=fs, path=path, owner=(os.getuid(), os.getgid()),
                                nodes=False, check=check)
                finally:
                    os.close(dir_fd)
            _unpack(spool, target_dir, rootless)
    finally:
        os.close(fd)


def _host_destination(dest: str, src_is_dir: bool, own_name: str) -> tuple[str, str]:
    """(directory to unpack into, name of the copy there; "" for the contents) on the host;
    `own_name`: the source's name ("" to copy its contents)."""
    if os.path.isdir(dest):
        return dest, own_name
    if os.path.exists(dest):
        if src_is_dir:
            raise InvalidArgument("destination must be a directory when copying a directory")
        return os.path.dirname(os.path.abspath(dest)), os.path.basename(dest)
    parent = os.path.dirname(os.path.abspath(dest))
    if dest.endswith("/") or not os.path.isdir(parent):
        raise _not_found(dest, "the host")
    return parent, os.path.basename(dest)


# -- host or stream -> container -----------------------------------------------------------------

def copy_in(fs: ContainerFS, src: str | BinaryIO, dest: str, *, container: str, owner: tuple[int, int] | None,
            overwrite: bool = False, rootless: bool = False) -> None:
    """Host `src` (a path, or a binary file holding a tar stream) to container `dest`.
    `owner`: the uid/gid every copied file gets (podman's --archive), None to keep the source's."""
    streamed = not isinstance(src, str)
    if not streamed and not os.path.lexists(src):
        raise _not_found(src, "the host")
    path = fs.canonical(dest)
    dest_fd = _open_or_none(fs, path)
    src_is_dir = not streamed and os.path.isdir(src)
    try:
        if dest_fd is not None and stat.S_ISDIR(os.fstat(dest_fd).st_mode):
            dir_fd, dir_path = dest_fd, path
            name = "" if streamed or src.endswith("/.") else os.path.basename(os.path.abspath(src))
            dest_fd = None
        elif streamed:
            raise InvalidArgument("destination must be a directory when copying from stdin")
        elif dest_fd is not None and src_is_dir:
            raise InvalidArgument("destination must be a directory when copying a directory")
        elif dest_fd is not None and fs.mount_source(path):
            _write_in_place(src, fs.mount_source(path))  # a file mounted there (/etc/hosts): keep the mount
            return
        else:
            found = None if dest.endswith("/") and dest_fd is None else fs.parent(path)
            if found is None:
                raise _not_found(dest, f"container {container}")
            (dir_fd, name), dir_path = found, os.path.dirname(path)
    finally:
        if dest_fd is not None:
            os.close(dest_fd)
    try:
        check = None if overwrite else _Conflicts(dir_fd, dir_path)
        with tempfile.TemporaryFile() as spool:
            with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
                if streamed:
                    _retar(src, tar, owner, check)
                else:
                    fd = os.open(src, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                    try:
                        _write_tree(tar, fd, name, owner=owner, check=check)
                    finally:
                        os.close(fd)
            _unpack(spool, f"/proc/self/fd/{dir_fd}", rootless)
    finally:
        os.close(dir_fd)


def _write_in_place(src: str, target: str) -> None:
    with open(src, "rb") as source, open(target, "r+b") as out:
        out.truncate(0)
        while chunk := source.read(1 << 20):
            out.write(chunk)


def _open_or_none(fs: ContainerFS, path: str) -> int | None:
    try:
        return fs.open(path)
    except OSError:
        return None


def _retar(stream: BinaryIO, out: tarfile.TarFile, owner: tuple[int, int] | None, check) -> None:
    """A (compressed) tar from stdin as a plain one, with `owner` applied and conflicts checked."""
    try:
        source = tarfile.open(fileobj=stream, mode="r|*")
    except tarfile.TarError:
        raise InvalidArgument("source must be a (compressed) tar archive when copying from stdin") from None
    with source:
        for member in source:
            if owner:
                member.uid, member.gid = owner
                member.uname = member.gname = ""
            if check:
                check(member.name, member.isdir())
            out.addfile(member, source.extractfile(member) if member.isreg() else None)


def _unpack(spool, dest_dir: str, rootless: bool) -> None:
    from pyctr.snapshot import archive

    spool.flush()
    archive.unpack_layer(f"/proc/self/fd/{spool.fileno()}", "none", dest_dir, rootless=rootless)


class _Conflicts:
    """Refuses (as podman without --overwrite) to replace a directory by a non-directory or back."""

    def __init__(self, dir_fd: int, dir_path: str):
        self.dir_fd, self.dir_path = dir_fd, dir_path

    def __call__(self, name: str, is_dir: bool) -> None:
        from pyctr.container import userdb

        parent, _, base = name.strip("/").rpartition("/")
        if not base or base == ".":
            return
        try:
            fd = userdb.open_in_root(self.dir_fd, parent)
        except OSError:
            return
        try:
            info = os.stat(base, dir_fd=fd, follow_symlinks=False)
        except OSError:
            return
        finally:
            os.close(fd)
        if stat.S_ISDIR(info.st_mode) != is_dir:
            where = os.path.join(self.dir_path, name.strip("/"))
            how = "mkdir" if is_dir else "open"
            raise InvalidArgument(f"copier: put: error creating \"{where}\": {how} {where}: file exists")


# -- the tar writer ------------------------------------------------------------------------------

def _write_tree(tar: tarfile.TarFile, fd: int, arcname: str, *, fs: ContainerFS | None = None, path: str = "",
                owner: tuple[int, int] | None = None, nodes: bool = True, check=None) -> None:
    """The file or tree open at `fd` as `arcname` ("" : only what a directory holds). Under a
    container (`fs`, `path` its container path), a directory where a volume is mounted is read
    from the volume."""
    info = os.fstat(fd)
    is_dir = stat.S_ISDIR(info.st_mode)
    if arcname:
        if check:
            check(arcname, is_dir)
        _add(tar, arcname, info, fd=fd, owner=owner, nodes=nodes)
    if not is_dir:
        return
    for name in sorted(os.listdir(fd)):
        child_arc = f"{arcname}/{name}" if arcname else name
        child_path = f"{path.rstrip('/')}/{name}"
        try:
            child = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # gone meanwhile (a running container)
        if stat.S_ISDIR(child.st_mode):
            source = fs.mount_source(child_path) if fs else None
            sub = os.open(source, _DIR & ~os.O_NOFOLLOW) if source else os.open(name, _DIR, dir_fd=fd)
            try:
                _write_tree(tar, sub, child_arc, fs=fs, path=child_path, owner=owner, nodes=nodes, check=check)
            finally:
                os.close(sub)
            continue
        if check:
            check(child_arc, False)
        source = fs.mount_source(child_path) if fs else None
        if source:  # a file mounted there (/etc/hosts): what the container reads
            sub = os.open(source, _READ & ~os.O_NOFOLLOW)
            try:
                _add(tar, child_arc, os.fstat(sub), fd=sub, owner=owner, nodes=nodes)
            finally:
                os.close(sub)
        elif stat.S_ISREG(child.st_mode):
            sub = os.open(name, _READ, dir_fd=fd)
            try:
                _add(tar, child_arc, os.fstat(sub), fd=sub, owner=owner, nodes=nodes)
            finally:
                os.close(sub)
        else:
            link = os.readlink(name, dir_fd=fd) if stat.S_ISLNK(child.st_mode) else ""
            _add(tar, child_arc, child, link=link, owner=owner, nodes=nodes)


def _add(tar: tarfile.TarFile, arcname: str, info: os.stat_result, *, fd: int | None = None, link: str = "",
         owner: tuple[int, int] | None = None, nodes: bool = True) -> None:
    entry = tarfile.TarInfo(arcname)
    entry.mode, entry.mtime = stat.S_IMODE(info.st_mode), info.st_mtime
    entry.uid, entry.gid = owner or (info.st_uid, info.st_gid)
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        entry.type = tarfile.DIRTYPE
        tar.addfile(entry)
    elif stat.S_ISLNK(mode):
        entry.type, entry.linkname = tarfile.SYMTYPE, link
        tar.addfile(entry)
    elif stat.S_ISREG(mode):
        entry.size = info.st_size
        with os.fdopen(os.dup(fd), "rb") as f:
            tar.addfile(entry, f)
    elif (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and nodes:
        entry.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        entry.devmajor, entry.devminor = os.major(info.st_rdev), os.minor(info.st_rdev)
        tar.addfile(entry)  # the node itself, never its contents
    elif stat.S_ISFIFO(mode):
        entry.type = tarfile.FIFOTYPE
        tar.addfile(entry)
    # Sockets are skipped, as tar does.


# -- volumes -------------------------------------------------------------------------------------

def export_dir(directory: str, out: BinaryIO) -> None:
    """What `directory` holds as a tar stream on `out` (volume export)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _write_tree(tar, fd, "")
    finally:
        os.close(fd)


def import_dir(stream: BinaryIO, directory: str, *, rootless: bool = False) -> None:
    """A (compressed) tar stream unpacked into `directory` (volume import)."""
    with tempfile.TemporaryFile() as spool:
        with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
            _retar(stream, tar, None, None)
        _unpack(spool, directory, rootless)


# -- export --------------------------------------------------------------------------------------

def export(rootfs: str, out) -> None:
    """The whole root filesystem as a tar stream on `out` (a binary file object)."""
    fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _write_tree(tar, fd, "")
    finally:
        os.close(fd)
