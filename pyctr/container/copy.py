"""`cp` and `export`: files in and out of a container, as the container sees them.

Container paths are resolved through the container's volumes and bind mounts (ctrpath), with
symlinks resolved inside the container. Every copy is a tar stream: the source side walks its
tree through directory fds, opening files with O_NOFOLLOW and reading only regular files (a
device node in a hostile image is never opened); the destination side goes through the
unpacker's copy mode (a copy is not a layer: `.wh.` names are plain files, as docker and
podman copy them), whose every write is resolved under the destination directory on the host,
or from the container's `/` in a container (ctrpath.CopyRoot, which also keeps read-only mounts
and mounted files as the container has them). Docker's and podman's rules: into DEST when it is
a directory, as DEST when its parent is one; `SRC/.` copies the contents; ownership is the
container user's (`--archive`) or the caller's (out).
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

from pyctr.container.ctrpath import ContainerFS, CopyRoot
from pyctr.errors import InvalidArgument, NotFound

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def container_fs(rootfs: str, record, bundle: Path, pid: int = 0) -> ContainerFS:
    """The container's rootfs with the mounts of its OCI config once it has one (its /etc/hosts
    and the like too), else those of its record (volumes and binds). `pid`: its init while it
    runs (then a read-only root filesystem refuses writes, and its tmpfs mounts are seen)."""
    try:
        config = json.loads((bundle / "config.json").read_text())
        mounts, read_only = config["mounts"], bool(config.get("root", {}).get("readonly"))
    except (OSError, ValueError, KeyError, AttributeError):
        mounts, read_only = record.mounts, False
    return ContainerFS(rootfs, mounts, read_only_root=read_only and pid > 0, pid=pid)


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
            _unpack(spool, target_dir, rootless, shown=target_dir)
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
    found = fs.lstat(path)
    src_is_dir = not streamed and os.path.isdir(src)
    if found is not None and stat.S_ISDIR(found.st_mode):
        dir_path = path
        name = "" if streamed or src.endswith("/.") else os.path.basename(os.path.abspath(src))
    elif streamed:
        raise InvalidArgument("destination must be a directory when copying from stdin")
    elif found is not None and src_is_dir:
        raise InvalidArgument("destination must be a directory when copying a directory")
    else:  # a file to replace (a mounted one is refused by CopyRoot, as podman is), or a new name
        dir_path, name = posixpath.split(path)
        parent = fs.lstat(dir_path)
        if (dest.endswith("/") and found is None) or parent is None or not stat.S_ISDIR(parent.st_mode):
            raise _not_found(dest, f"container {container}")
    try:
        root = CopyRoot(fs, dir_path, rootless=rootless)
    except OSError:
        raise _not_found(dest, f"container {container}") from None
    try:
        check = None if overwrite else _Conflicts(root.root, dir_path, fs)
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
            _unpack(spool, dir_path, rootless, shown=dir_path, root=root)
    finally:
        root.close()


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


def _unpack(spool, dest_dir: str, rootless: bool, *, shown: str, root: CopyRoot | None = None) -> None:
    """The spooled tar as a copy (never as a layer: no whiteouts) into `dest_dir`, or through `root`."""
    from pyctr.snapshot import archive

    spool.flush()
    archive.unpack_copy(f"/proc/self/fd/{spool.fileno()}", dest_dir, shown=shown, rootless=rootless, root=root)


class _Conflicts:
    """Refuses (as podman without --overwrite) to replace a directory by a non-directory or back."""

    def __init__(self, dir_fd: int, dir_path: str, fs: ContainerFS | None = None):
        self.dir_fd, self.dir_path, self.fs = dir_fd, dir_path, fs  # `fs`: paths are in that container

    def __call__(self, name: str, is_dir: bool) -> None:
        parent, _, base = posixpath.normpath("/" + name).strip("/").rpartition("/")
        if not base:
            return
        info = self._lstat(parent, base)
        if info is not None and stat.S_ISDIR(info.st_mode) != is_dir:
            where = os.path.join(self.dir_path, name.strip("/"))
            how = "mkdir" if is_dir else "open"
            raise InvalidArgument(f"copier: put: error creating \"{where}\": {how} {where}: file exists")

    def _lstat(self, parent: str, base: str) -> os.stat_result | None:
        from pyctr.container import userdb

        if self.fs is not None:
            where = self.fs.canonical(posixpath.join(self.dir_path, parent))
            return self.fs.lstat(posixpath.join(where, base))
        try:
            fd = userdb.open_in_root(self.dir_fd, parent)
        except OSError:
            return None
        try:
            return os.stat(base, dir_fd=fd, follow_symlinks=False)
        except OSError:
            return None
        finally:
            os.close(fd)


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
        mount = fs.mount_at(child_path) if fs else None
        if mount is not None and mount.kind != "pseudo":  # what the container sees there: the mount
            try:
                sub = fs.open(child_path)
            except OSError:
                continue
            try:
                _write_tree(tar, sub, child_arc, fs=fs, path=child_path, owner=owner, nodes=nodes, check=check)
            finally:
                os.close(sub)
            continue
        try:
            child = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # gone meanwhile (a running container)
        if stat.S_ISDIR(child.st_mode):
            if mount is not None:  # /proc, /sys: the kernel's views are not copied, only their place
                if check:
                    check(child_arc, True)
                _add(tar, child_arc, child, owner=owner, nodes=nodes)
                continue
            sub = os.open(name, _DIR, dir_fd=fd)
            try:
                _write_tree(tar, sub, child_arc, fs=fs, path=child_path, owner=owner, nodes=nodes, check=check)
            finally:
                os.close(sub)
            continue
        if check:
            check(child_arc, False)
        if stat.S_ISREG(child.st_mode):
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

def import_dir(stream: BinaryIO, directory: str, *, rootless: bool = False) -> None:
    """A (compressed) tar stream unpacked into `directory` (volume import)."""
    with tempfile.TemporaryFile() as spool:
        with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
            _retar(stream, tar, None, None)
        _unpack(spool, directory, rootless, shown=directory)


# -- export --------------------------------------------------------------------------------------

def export(directory: str, out: BinaryIO) -> None:
    """All that `directory` holds (a container's root filesystem, a volume) as a tar stream on `out`."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _write_tree(tar, fd, "")
    finally:
        os.close(fd)
