"""COPY and ADD into a step's mounted root: Docker's rules for where things land (a directory's
contents go into DEST; a file goes into DEST when DEST ends in `/` or is a directory, else becomes
DEST; several sources need a directory), owners 0:0 unless --chown, modes as the source's unless
--chmod, times kept. ADD also extracts a local tar archive and fetches a URL.

Everything is written as one tar stream through the unpacker's copy mode
(pyctr.snapshot.archive.unpack_copy), which resolves every path inside the root.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import tempfile
import time
from typing import BinaryIO, Iterator

from pyctr.errors import InvalidArgument


class Source:
    """Something to copy: `rel` under `root` (the build context, or another stage's root)."""

    def __init__(self, root: str, rel: str, walker):
        self.root, self.rel, self.walker = root, rel, walker

    def path(self, rel: str | None = None) -> str:
        rel = self.rel if rel is None else rel
        return os.path.join(self.root, rel) if rel else self.root

    def walk(self) -> Iterator[tuple[str, os.stat_result]]:
        return self.walker(self.rel)


def walk_plain(root: str):
    """A walker of a directory tree with nothing excluded (another stage's root)."""
    def walk(rel: str):
        path = os.path.join(root, rel) if rel else root
        info = os.lstat(path)
        yield rel, info
        if stat.S_ISDIR(info.st_mode):
            for name in sorted(os.listdir(path)):
                yield from walk(f"{rel}/{name}" if rel else name)
    return walk


def resolve_in(root: str, path: str, *, follow_last: bool = False) -> str:
    """`path` (absolute, inside `root`) with its symlinks resolved as if `root` were `/` -> relative."""
    parts = [p for p in path.split("/") if p and p != "."]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = os.path.join(root, *done, part)
        if os.path.islink(candidate) and (parts or follow_last):  # a last component is copied as the link it is
            hops += 1
            if hops > 40:
                raise InvalidArgument(f"{path}: too many levels of symbolic links")
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        done.append(part)
    return "/".join(done)


def chown_ids(rootfs: str, chown: str | None) -> tuple[int, int]:
    if not chown:
        return 0, 0
    from pyctr.container import userdb

    user, _, group = chown.partition(":")
    found = userdb.resolve_user(rootfs, chown)
    if not group and user.isdigit():
        return found.uid, found.uid  # a bare UID: its GID is the same number, as Docker's
    return found.uid, found.gid


def parse_chmod(text: str | None) -> int | None:
    if not text:
        return None
    try:
        mode = int(text, 8)
    except ValueError:
        raise InvalidArgument(f"invalid --chmod {text!r}: an octal mode is expected") from None
    if mode > 0o7777:
        raise InvalidArgument(f"invalid --chmod {text!r}")
    return mode


class Plan:
    """Entries to write (names relative to the destination root), then written by `apply`."""

    def __init__(self, rootfs: str, owner: tuple[int, int], chmod: int | None):
        self.rootfs, self.owner, self.chmod = rootfs, owner, chmod
        self.spool = tempfile.TemporaryFile()
        self.tar = tarfile.open(fileobj=self.spool, mode="w", format=tarfile.PAX_FORMAT)
        self.made: set[str] = set()

    def exists_dir(self, rel: str) -> bool:
        if rel in self.made or rel == "":
            return True
        found = os.lstat(os.path.join(self.rootfs, resolve_in(self.rootfs, "/" + rel, follow_last=True))) \
            if os.path.lexists(os.path.join(self.rootfs, resolve_in(self.rootfs, "/" + rel, follow_last=True))) else None
        return found is not None and stat.S_ISDIR(found.st_mode)

    def ensure_dir(self, rel: str, *, owned: bool = False) -> None:
        """Directory `rel` and its missing parents (root's, 0755; `owned`: the copy's owner for `rel`)."""
        if rel == "" or self.exists_dir(rel):
            return
        parent = posixpath.dirname(rel)
        self.ensure_dir(parent)
        ti = tarfile.TarInfo(rel)
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        ti.uid, ti.gid = self.owner if owned else (0, 0)
        ti.mtime = int(time.time())
        self.tar.addfile(ti)
        self.made.add(rel)

    def add_tree(self, source: Source, dest_rel: str) -> None:
        """`source` (a file, link or directory) as `dest_rel`; a directory's contents under it."""
        base = source.rel
        for rel, info in source.walk():
            sub = rel[len(base):].lstrip("/") if base else rel
            name = posixpath.join(dest_rel, sub) if sub else dest_rel
            if not sub and stat.S_ISDIR(info.st_mode):
                self.ensure_dir(dest_rel, owned=True)
                continue
            self._add(source.path(rel), name, info)

    def _add(self, path: str, name: str, info: os.stat_result) -> None:
        mode = info.st_mode
        ti = tarfile.TarInfo(name)
        ti.uid, ti.gid = self.owner
        ti.mtime = int(info.st_mtime)
        ti.mode = stat.S_IMODE(mode) if self.chmod is None else self.chmod
        if stat.S_ISDIR(mode):
            ti.type = tarfile.DIRTYPE
            self.made.add(name)
            self.tar.addfile(ti)
        elif stat.S_ISLNK(mode):
            ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(path)
            ti.mode = stat.S_IMODE(mode)
            self.tar.addfile(ti)
        elif stat.S_ISREG(mode):
            ti.size = info.st_size
            with open(path, "rb") as f:
                self.tar.addfile(ti, f)
        # devices, fifos and sockets of a context are not copied (as Docker's)

    def add_stream(self, name: str, stream: BinaryIO, size: int, mode: int, mtime: int) -> None:
        ti = tarfile.TarInfo(name)
        ti.uid, ti.gid = self.owner
        ti.size, ti.mtime = size, mtime
        ti.mode = mode if self.chmod is None else self.chmod
        self.tar.addfile(ti, stream)

    def add_archive(self, path: str, dest_rel: str) -> None:
        """ADD of a local archive: its entries under `dest_rel`, owners as the archive has them."""
        with tarfile.open(path, mode="r:*") as archive:
            for member in archive:
                rel = posixpath.normpath("/" + member.name).lstrip("/")
                member.name = posixpath.join(dest_rel, rel) if rel else dest_rel
                if member.islnk():
                    member.linkname = posixpath.join(dest_rel, posixpath.normpath("/" + member.linkname).lstrip("/"))
                if not rel and member.isdir():
                    self.ensure_dir(dest_rel)
                    continue
                self.tar.addfile(member, archive.extractfile(member) if member.isreg() else None)

    def apply(self, *, rootless: bool, shown: str) -> None:
        from pyctr.snapshot import archive

        self.tar.close()
        self.spool.flush()
        try:
            archive.unpack_copy(f"/proc/self/fd/{self.spool.fileno()}", self.rootfs, shown=shown, rootless=rootless)
        finally:
            self.spool.close()


def is_archive(path: str) -> bool:
    """ADD extracts what is a tar, plain or gzip/bzip2/xz compressed."""
    try:
        with open(path, "rb") as f:
            head = f.read(262)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return tarfile.is_tarfile(path)
    return len(head) >= 262 and head[257:262] == b"ustar"


def destination(dest: str, workdir: str) -> tuple[str, bool]:
    """DEST as an absolute container path, and whether it names a directory (a trailing `/`)."""
    is_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith(("/.", "/.."))
    if not dest.startswith("/"):
        dest = posixpath.join(workdir or "/", dest)
    return posixpath.normpath(dest), is_dir
