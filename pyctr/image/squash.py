"""Squashing: one layer that takes a tree from `base` to `top` (both whole root filesystems,
e.g. read-only overlay mounts), for `build --squash` (base: the FROM image), `build --squash-all`
and `commit --squash` (no base: the whole tree).

An entry of `top` is written when `base` has nothing like it (another type, mode, owner, size,
mtime, link target, device or xattrs: a cheap comparison, as rsync's, not of the bytes), and a
directory also when something below it is; a name `base` has and `top` has not becomes a whiteout
(`.wh.NAME`). The entries are written as pyctr.image.layertar writes them.
"""

from __future__ import annotations

import os
import stat
import tarfile
from typing import BinaryIO

from pyctr.image import layertar


def write_diff(top: str, base: str | None, out: BinaryIO, *, mtime: int | None = None) -> None:
    """Write the layer from `base` (None: nothing) to `top` as a tar to `out`; `mtime` for every entry
    (--timestamp) if given."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as tar:
        walker = _DiffWalker(tar, mtime)
        for path, ti in walker.entries(top, base, ""):
            if ti.type == tarfile.REGTYPE and ti.size and path is not None:
                with open(path, "rb") as f:
                    walker.add(ti, f)
            else:
                walker.add(ti)


class _DiffWalker(layertar._Walker):
    def add(self, ti: tarfile.TarInfo, fileobj=None) -> None:
        self._add(ti, fileobj)

    def entries(self, top: str, base: str | None, prefix: str) -> list[tuple[str | None, tarfile.TarInfo]]:
        """(path or None, entry) for what differs under the directory `top` from `base`, in order."""
        out: list[tuple[str | None, tarfile.TarInfo]] = []
        names = sorted(os.listdir(top))
        if base is not None and os.path.isdir(base) and not os.path.islink(base):
            dir_info = os.lstat(top)
            for gone in sorted(set(os.listdir(base)) - set(names)):
                ti = tarfile.TarInfo(f"{prefix}{layertar.WHITEOUT_PREFIX}{gone}")
                ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "", ""
                ti.mtime = int(dir_info.st_mtime)
                out.append((None, ti))
        for name in names:
            path, rel = os.path.join(top, name), prefix + name
            info = os.lstat(path)
            other = os.path.join(base, name) if base is not None else None
            try:
                other_info = os.lstat(other) if other is not None else None
            except FileNotFoundError:
                other_info = None
            if other_info is not None and not stat.S_ISDIR(info.st_mode) and _same(path, info, other, other_info):
                continue
            ti = self._info(path, rel, info)
            if stat.S_ISDIR(info.st_mode):
                below_base = other if other_info is not None and stat.S_ISDIR(other_info.st_mode) else None
                below = self.entries(path, below_base, rel + "/")
                if below or below_base is None or not _same(path, info, other, other_info):
                    out.append((path, ti))
                    out += below
                continue
            out.append((path, ti))
        return out


def _same(path: str, info: os.stat_result, other: str, other_info: os.stat_result) -> bool:
    if stat.S_IFMT(info.st_mode) != stat.S_IFMT(other_info.st_mode):
        return False
    if (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, int(info.st_mtime)) != \
            (stat.S_IMODE(other_info.st_mode), other_info.st_uid, other_info.st_gid, int(other_info.st_mtime)):
        return False
    if stat.S_ISREG(info.st_mode) and info.st_size != other_info.st_size:
        return False
    if stat.S_ISLNK(info.st_mode) and os.readlink(path) != os.readlink(other):
        return False
    if (stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)) and info.st_rdev != other_info.st_rdev:
        return False
    return layertar._xattrs(path) == layertar._xattrs(other)
