"""What a writable (or image) layer changed against the layers below it: podman's `diff` lines.

An overlay upper directory holds what was added or changed, a whiteout for what was deleted
(a 0/0 character device, or a `.wh.NAME` file as fuse-overlayfs and image layers write them),
and an opaque mark on a directory that replaced the one below (its lower contents are gone).
"""

from __future__ import annotations

import os
import stat
from typing import Iterable

from pyctr.values import value

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARK = ".wh..wh..opq"
OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
# What the runtime puts in every container (as podman's diff leaves them out): not the user's change.
CONTAINER_MOUNTS = frozenset(("/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/proc", "/run",
                              "/run/.containerenv", "/run/secrets", "/sys", "/etc/mtab"))


@value
class Change:
    kind: str  # "A" added, "C" changed, "D" deleted
    path: str  # absolute, as the container sees it


def _is_whiteout_device(info: os.stat_result) -> bool:
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == 0


def _is_opaque(path: str) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return os.path.lexists(os.path.join(path, OPAQUE_MARK))


def _in_lower(lowers: list[str], rel: str) -> bool:
    """Whether `rel` exists below, seen through the lower layers (topmost first) as overlay sees them."""
    parts = rel.strip("/").split("/")
    for lower in lowers:
        # A whiteout or an opaque directory on the way down hides what lies beneath it.
        hidden = False
        for depth in range(1, len(parts)):
            prefix = os.path.join(lower, *parts[:depth])
            if os.path.lexists(os.path.join(lower, *parts[:depth - 1], WHITEOUT_PREFIX + parts[depth - 1])):
                hidden = True
                break
            if os.path.isdir(prefix) and not os.path.islink(prefix) and _is_opaque(prefix) and depth < len(parts):
                if os.path.lexists(os.path.join(lower, *parts)):
                    return True
                hidden = True
                break
        target = os.path.join(lower, *parts)
        if os.path.lexists(target):
            try:
                if not _is_whiteout_device(os.lstat(target)):
                    return True
            except OSError:
                pass
            return False
        if hidden or os.path.lexists(os.path.join(lower, *parts[:-1], WHITEOUT_PREFIX + parts[-1])):
            return False
    return False


def changes(upper: str, lowers: Iterable[str], *, skip: frozenset[str] = frozenset()) -> list[Change]:
    """The changes `upper` makes over `lowers` (topmost first), sorted by path."""
    lowers = [str(p) for p in lowers]
    found: dict[str, str] = {}
    if not os.path.isdir(upper):
        return []
    for dirpath, dirnames, filenames in os.walk(upper):
        rel_dir = "/" + os.path.relpath(dirpath, upper).lstrip(".").lstrip("/")
        rel_dir = "/" if rel_dir == "/" else rel_dir.rstrip("/")
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            if name == OPAQUE_MARK:
                continue
            if name.startswith(WHITEOUT_PREFIX):
                path = os.path.join(rel_dir, name[len(WHITEOUT_PREFIX):])
                found[path] = "D"
                continue
            path = os.path.join(rel_dir, name)
            try:
                info = os.lstat(full)
            except OSError:
                continue
            if _is_whiteout_device(info):
                found[path] = "D"
                continue
            found[path] = "C" if _in_lower(lowers, path) else "A"
            if stat.S_ISDIR(info.st_mode) and _is_opaque(full):
                # Replaced wholesale: whatever lay below it and is not here again is deleted.
                for gone in _lower_children(lowers, path):
                    if not os.path.lexists(os.path.join(full, os.path.basename(gone))):
                        found[gone] = "D"
    return [Change(kind, path) for path, kind in sorted(found.items())
            if path not in skip and not any(path.startswith(s + "/") for s in skip if s in ("/proc", "/sys", "/dev"))]


def _lower_children(lowers: list[str], path: str) -> list[str]:
    names = set()
    for lower in lowers:
        try:
            names.update(n for n in os.listdir(os.path.join(lower, path.lstrip("/"))) if not n.startswith(WHITEOUT_PREFIX))
        except OSError:
            continue
    return [os.path.join(path, n) for n in sorted(names)]
