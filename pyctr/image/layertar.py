"""A layer directory as a tar stream (the reverse of pyctr.snapshot.archive), byte for byte the same
every time for the same tree: for layers that exist only unpacked (commit, build) and for pushes
or saves that want another compression than the stored blob's.

Entries come in sorted order (a directory before what it holds), in PAX format, with the
owner, mode, whole-second mtime, xattrs (not overlay's own) and no user or group names.
Overlay's marks become the OCI layer format again: a whiteout device (char 0:0) is an
empty `.wh.NAME` file, an opaque directory (xattr `*.overlay.opaque=y`) gets a `.wh..wh..opq`
entry; a file with several links is stored once and then as hard links to its first name.
"""

from __future__ import annotations

import os
import stat
import tarfile
from typing import BinaryIO

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
_OVERLAY_XATTRS = ("trusted.overlay.", "user.overlay.")
_COPY_CHUNK = 1 << 20


def write_layer(root: str, out: BinaryIO, *, mtime: int | None = None) -> None:
    """Write the tree under `root` (an overlay lower or upper directory) as a layer tar to `out`;
    `mtime`: every entry's (build --timestamp), else each file's own."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as tar:
        _Walker(tar, mtime).walk(root, "")


class _Walker:
    def __init__(self, tar: tarfile.TarFile, mtime: int | None = None):
        self.tar = tar
        self.mtime = mtime
        self.links: dict[tuple[int, int], str] = {}  # (dev, ino) -> the first name of a multi-link file

    def walk(self, directory: str, prefix: str) -> None:
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            rel = prefix + name
            info = os.lstat(path)
            if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                self._add(_base(f"{prefix}{WHITEOUT_PREFIX}{name}", tarfile.REGTYPE, info, 0))
                continue
            if stat.S_ISDIR(info.st_mode):
                self._add(self._info(path, rel, info))
                if _opaque(path):
                    self._add(_base(f"{rel}/{OPAQUE}", tarfile.REGTYPE, info, 0))
                self.walk(path, rel + "/")
                continue
            ti = self._info(path, rel, info)
            if ti.type == tarfile.REGTYPE and ti.size:
                with open(path, "rb") as f:
                    self._add(ti, f)
            else:
                self._add(ti)

    def _add(self, ti: tarfile.TarInfo, fileobj=None) -> None:
        if self.mtime is not None:
            ti.mtime = self.mtime
        self.tar.addfile(ti, fileobj)

    def _info(self, path: str, rel: str, info: os.stat_result) -> tarfile.TarInfo:
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            ti = _base(rel, tarfile.DIRTYPE, info)
        elif stat.S_ISLNK(mode):
            ti = _base(rel, tarfile.SYMTYPE, info)
            ti.linkname = os.readlink(path)
        elif stat.S_ISREG(mode):
            key = (info.st_dev, info.st_ino)
            if info.st_nlink > 1 and key in self.links:
                ti = _base(rel, tarfile.LNKTYPE, info)
                ti.linkname = self.links[key]
            else:
                if info.st_nlink > 1:
                    self.links[key] = rel
                ti = _base(rel, tarfile.REGTYPE, info)
                ti.size = info.st_size
        elif stat.S_ISFIFO(mode):
            ti = _base(rel, tarfile.FIFOTYPE, info)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            ti = _base(rel, tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE, info)
            ti.devmajor, ti.devminor = os.major(info.st_rdev), os.minor(info.st_rdev)
        else:  # a socket: not part of an image
            raise OSError(f"{path}: cannot put a socket in a layer")
        xattrs = _xattrs(path)
        if xattrs:
            ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
        return ti


def _base(name: str, kind: bytes, info: os.stat_result, mode: int | None = None) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = stat.S_IMODE(info.st_mode) if mode is None else mode
    ti.uid, ti.gid = info.st_uid, info.st_gid
    ti.uname = ti.gname = ""
    ti.mtime = int(info.st_mtime)
    return ti


def _opaque(path: str) -> bool:
    for name in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _xattrs(path: str) -> dict[str, str]:
    """The entry's own xattrs, as PAX values (bytes kept through surrogateescape)."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for name in sorted(names):
        if name.startswith(_OVERLAY_XATTRS):
            continue
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False).decode("utf-8", "surrogateescape")
        except OSError:
            continue
    return out
