"""Crash-safe file writes and inter-process locks.

There is no daemon to serialise pyctr processes, so every change to shared
state is a whole-file replace (temp file, fsync, rename) made under a lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from pathlib import Path
TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)
if TYPE_CHECKING:
    from typing import Any, Iterator

from pyctr.errors import StoreError


def fsync_dir(path: str | os.PathLike) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_durable(path: str | os.PathLike) -> None:
    """fsync a file written with durable=False, and its directory (the rename)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(os.path.dirname(os.fspath(path)) or ".")


def atomic_write(path: str | os.PathLike, data: bytes, mode: int = 0o644, *, durable: bool = True) -> None:
    """Replace `path` with `data` so that readers see the old or the new file, never a part.

    The temporary file is new (O_EXCL, a name no one else uses) and gets exactly `mode`:
    a leftover of a crash under the same name never lends its mode (0644) to secret data.
    `durable=False`: no fsyncs (still atomic for every process, killed or not), for files
    made again before each use (a container's bundle and /etc files, at every start)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode & 0o600)
        try:
            os.fchmod(fd, mode)  # the umask does not decide it
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
        if durable:
            fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise store_error(f"writing {path}", exc) from exc


def atomic_write_json(path: str | os.PathLike, obj: Any, mode: int = 0o644, *, durable: bool = True) -> None:
    atomic_write(path, json.dumps(obj, indent=1, sort_keys=True).encode() + b"\n", mode, durable=durable)


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        raise StoreError(f"reading {path}: {exc}") from exc


def update_json(path: str | os.PathLike, changes: dict, lock: str | os.PathLike, *, durable: bool = True) -> dict:
    """Merge `changes` into the JSON object in `path` (replaced atomically) under the flock
    `lock`, so that concurrent writers never lose each other's update. -> the new object.
    `durable=False`: see atomic_write (the caller makes it durable later: make_durable)."""
    with locked(lock):
        obj = read_json(path, {}) or {}
        obj.update(changes)
        atomic_write_json(path, obj, durable=durable)
    return obj


@contextlib.contextmanager
def locked(path: str | os.PathLike, *, shared: bool = False) -> Iterator[None]:
    """Hold an flock on `path` (created if needed) for the block's duration."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise store_error(f"opening lock {path}", exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def try_locked(path: str | os.PathLike) -> Iterator[bool]:
    """Take an exclusive flock without waiting; yields whether we got it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def store_error(what: str, exc: OSError) -> StoreError:
    """A one-line StoreError, with a hint for the failures users can fix."""
    hint = None
    if exc.errno == errno.ENOSPC:
        hint = "the disk holding the store is full; free space and try again"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        hint = "check the permissions of --root and --runroot"
    return StoreError(f"{what}: {exc.strerror or exc}", hint=hint)


def makedirs(path: str | os.PathLike, mode: int = 0o700) -> Path:
    try:
        os.makedirs(path, mode=mode, exist_ok=True)
    except OSError as exc:
        raise store_error(f"creating {path}", exc) from exc
    return Path(path)


def tree_size(path: str | os.PathLike) -> int:
    """Bytes of the files and symbolic links under `path`, links not followed, as containers/storage
    counts a directory's usage; what vanishes meanwhile counts 0 (0 for a missing tree)."""
    total = 0
    stack = [os.fspath(path)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False) or entry.is_symlink():
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total
