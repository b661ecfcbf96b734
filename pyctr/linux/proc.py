"""What /proc says of a process (standard library only: the container store and the rootless namespace use it)."""

from __future__ import annotations


def process_start(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, /proc/PID/stat field 22); None if
    there is no such process or it is a zombie. With the pid, it names one process: pids are
    reused, start times of a pid are not."""
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()  # (the name may hold any byte)
        if fields[0] in (b"Z", b"X"):  # a zombie or dead: it has ended, only not been reaped yet
            return None
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None
