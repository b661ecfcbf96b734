"""Resolve `--user` against an image's /etc/passwd and /etc/group.

The image is untrusted: its /etc/passwd may be a symlink to the host's
/etc/shadow, absolute or through `..`. Every path is resolved as if the rootfs
were `/` (openat2 with RESOLVE_IN_ROOT, or the same walk done by hand where the
kernel lacks openat2), and only regular files of reasonable size are read.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import namedtuple

from pyctr.linux import syscalls
from pyctr.errors import InvalidArgument

MAX_FILE = 16 << 20  # larger account databases are not worth reading
MAX_SYMLINKS = 40  # as the kernel's own limit
MAX_ID = 2**32 - 2  # (uid_t)-1 means "no change" to the kernel


# (collections' namedtuple rather than typing's NamedTuple: typing costs ~2 ms at every start)
ExecUser = namedtuple("ExecUser", "uid gid additional_gids home")  # int, int, list[int], str
_Passwd = namedtuple("_Passwd", "name uid gid home")  # str, int, int, str
_Group = namedtuple("_Group", "name gid members")  # str, int, list[str]


def resolve_user(rootfs: str, user: str | None) -> ExecUser:
    """(uid, gid, additional gids, home) for `user`: "", "name", "uid", and either
    with ":group" or ":gid" after it. Raises InvalidArgument for unknown names."""
    user = (user or "").strip()
    if user.count(":") > 1:
        raise InvalidArgument(f"invalid user {user!r}: expected USER[:GROUP]")
    user_part, _, group_part = user.partition(":")
    user_part = user_part or "0"
    passwd = _parse_passwd(read_file(rootfs, "/etc/passwd"))
    wanted_uid = _numeric(user_part)
    entry = next((p for p in passwd if p.name == user_part or p.uid == wanted_uid), None)
    if entry is None:
        if wanted_uid is None:
            raise InvalidArgument(f"unable to find user {user_part}: no matching entries in passwd file")
        entry = _Passwd("", wanted_uid, 0, "/")

    groups = _parse_group(read_file(rootfs, "/etc/group")) if (entry.name or group_part) else []
    gid = entry.gid
    if group_part:
        wanted_gid = _numeric(group_part)
        match = next((g for g in groups if g.name == group_part or g.gid == wanted_gid), None)
        gid = match.gid if match else wanted_gid
        if gid is None:
            raise InvalidArgument(f"unable to find group {group_part}: no matching entries in group file")
    additional: list[int] = []
    if entry.name:
        for group in groups:
            if entry.name in group.members and group.gid != gid and group.gid not in additional:
                additional.append(group.gid)
    return ExecUser(entry.uid, gid, additional, entry.home or "/")


def group_ids(rootfs: str, groups: list[str]) -> list[int]:
    """--group-add's GIDs and group names, the names looked up in the image's /etc/group.
    Raises LookupError(name) for a name it lacks."""
    result, entries = [], None
    for group in groups:
        gid = _numeric(group)
        if gid is None:
            if entries is None:
                entries = _parse_group(read_file(rootfs, "/etc/group"))
            gid = next((g.gid for g in entries if g.name == group), None)
            if gid is None:
                raise LookupError(group)
        result.append(gid)
    return result


def _numeric(text: str) -> int | None:
    if text.isdigit() and int(text) <= MAX_ID:
        return int(text)
    return None


def _fields(text: str, count: int):
    for line in text.splitlines():
        if not line.strip() or line.startswith(("#", "+", "-")):
            continue
        parts = line.split(":")
        if len(parts) >= count:
            yield parts


def _parse_passwd(text: str) -> list[_Passwd]:
    entries = []
    for parts in _fields(text, 4):  # name:password:uid:gid[:gecos:home:shell]
        uid, gid = _numeric(parts[2]), _numeric(parts[3])
        if uid is not None and gid is not None:
            entries.append(_Passwd(parts[0], uid, gid, parts[5] if len(parts) > 5 else ""))
    return entries


def _parse_group(text: str) -> list[_Group]:
    entries = []
    for parts in _fields(text, 3):  # name:password:gid[:member,member]
        gid = _numeric(parts[2])
        if gid is not None:
            members = [m.strip() for m in parts[3].split(",")] if len(parts) > 3 else []
            entries.append(_Group(parts[0], gid, [m for m in members if m]))
    return entries


# -- reading files inside the rootfs ---------------------------------------------------------

def read_file(rootfs: str, path: str) -> str:
    """The text of `path` inside `rootfs`, or "" when it is missing or not a regular file.
    Symlinks are followed as the container would see them: never out of `rootfs`."""
    try:
        root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise InvalidArgument(f"rootfs {rootfs}: {exc.strerror}") from exc
    try:
        try:
            fd = open_in_root(root, path)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EACCES, errno.ENXIO,
                             errno.EXDEV, errno.EAGAIN):
                return ""
            raise InvalidArgument(f"reading {path} in the image: {exc.strerror}") from exc
    finally:
        os.close(root)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE:
            return ""
        chunks, left = [], MAX_FILE
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 16))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks).decode("utf-8", errors="replace")
    finally:
        os.close(fd)


_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK  # a FIFO must not block us


def open_in_rootfs(rootfs: str, path: str) -> int:
    """open_in_root() with `rootfs` given as a path; OSError as the kernel says."""
    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return open_in_root(root, path)
    finally:
        os.close(root)


def open_in_root(root_fd: int, path: str) -> int:
    """Open `path` for reading with `root_fd` as its `/`."""
    try:
        return syscalls.openat2(root_fd, path.lstrip("/") or ".", _FLAGS,
                                resolve=syscalls.RESOLVE_IN_ROOT | syscalls.RESOLVE_NO_MAGICLINKS)
    except OSError as exc:
        if exc.errno not in (errno.ENOSYS, errno.EPERM):  # EPERM: a seccomp filter hides openat2
            raise
    return _open_in_root_by_hand(root_fd, path)


def _open_in_root_by_hand(root_fd: int, path: str) -> int:
    """What RESOLVE_IN_ROOT does, in user space: walk one component at a time with
    O_NOFOLLOW, restarting absolute symlinks at the root and stopping `..` there."""
    stack: list[int] = []  # fds of the directories from the root down to the current one
    pending = [c for c in path.split("/") if c not in ("", ".")]
    links = 0
    try:
        while pending:
            name = pending.pop(0)
            current = stack[-1] if stack else root_fd
            if name == "..":
                if stack:
                    os.close(stack.pop())
                continue
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=current)
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                os.close(fd)
                links += 1
                if links > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                target = os.readlink(name, dir_fd=current)
                if target.startswith("/"):
                    while stack:
                        os.close(stack.pop())
                pending[:0] = [c for c in target.split("/") if c not in ("", ".")]
                continue
            stack.append(fd)
        if not stack:
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        return os.open(f"/proc/self/fd/{stack[-1]}", _FLAGS)
    finally:
        for fd in stack:
            os.close(fd)
