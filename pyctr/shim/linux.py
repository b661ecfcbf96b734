"""The few Linux facilities the shim needs beyond the os module (ctypes, no pyctr imports).

Kept apart from pyctr.linux.syscalls so that the shim does not load the rest of pyctr.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct
import termios

PR_SET_CHILD_SUBREAPER = 36
IN_DELETE = 0x200
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")  # struct inotify_event without its name

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def set_child_subreaper() -> None:
    """Orphaned descendants (the container's init once `runc create` exits) become our children."""
    _check(libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")


def watch_deletions(directory: str) -> int:
    """An inotify fd (non-blocking, close-on-exec) reporting names deleted from `directory`."""
    fd = _check(libc().inotify_init1(IN_NONBLOCK | IN_CLOEXEC), "inotify_init1")
    try:
        _check(libc().inotify_add_watch(fd, os.fsencode(directory), IN_DELETE), "inotify_add_watch")
    except OSError:
        os.close(fd)
        raise
    return fd


def read_deleted_names(fd: int) -> list[bytes]:
    """Drain an inotify fd from watch_deletions(); the names deleted since the last call."""
    names = []
    while True:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return names
        offset = 0
        while offset + _EVENT.size <= len(data):
            _, mask, _, length = _EVENT.unpack_from(data, offset)
            name = data[offset + _EVENT.size: offset + _EVENT.size + length].rstrip(b"\0")
            if mask & IN_DELETE:
                names.append(name)
            offset += _EVENT.size + length


def malloc_trim() -> None:
    """Return free heap memory to the system (glibc); a no-op elsewhere."""
    try:
        libc().malloc_trim(0)
    except AttributeError:
        pass


def set_window_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


# -- OOM kills, best effort ----------------------------------------------------------------

def oom_counter_file(pid: int) -> tuple[str, bytes] | None:
    """(file, key) of the OOM-kill counter (read by pyctr.shim.ending.read_oom_kills) of `pid`'s memory cgroup: cgroup v1
    memory.oom_control `oom_kill`, else cgroup v2 memory.events `oom_kill`."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
        with open("/proc/self/mountinfo") as f:
            mounts = [line.rstrip("\n").split(" ") for line in f]
    except OSError:
        return None
    v1 = v2 = None
    for line in lines:
        hier, controllers, path = line.split(":", 2)
        if hier == "0" and not controllers:
            v2 = path
        elif "memory" in controllers.split(","):
            v1 = path
    for fields in mounts:
        sep = fields.index("-")
        fstype, opts = fields[sep + 1], fields[sep + 3].split(",")
        root, mountpoint = fields[3], fields[4]
        if v1 is not None and fstype == "cgroup" and "memory" in opts:
            return _join(mountpoint, root, v1) + "/memory.oom_control", b"oom_kill"
        if v1 is None and v2 is not None and fstype == "cgroup2":
            return _join(mountpoint, root, v2) + "/memory.events", b"oom_kill"
    return None


def _join(mountpoint: str, root: str, path: str) -> str:
    if root != "/" and (path == root or path.startswith(root + "/")):
        path = path[len(root):]
    return mountpoint.rstrip("/") + "/" + path.lstrip("/")
