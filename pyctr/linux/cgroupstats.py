"""A process's resource counters, read from its cgroups (v1 or v2) and its network namespace.

Where runc put a container's cgroup is read from /proc/PID/cgroup, and where each hierarchy is
mounted from /proc/self/mountinfo (a cgroup mount may show a subtree: its root is stripped).
"""

from __future__ import annotations

import os

from pyctr.values import value

UNLIMITED = 1 << 62  # cgroup v1 writes ~2^63 for "no limit"


@value
class Counters:
    cpu_ns: int = 0  # CPU time used, all CPUs
    mem_usage: int = 0  # bytes, without inactive page cache (as docker and podman count)
    mem_limit: int = 0  # bytes; 0: no limit in the cgroup
    pids: int = 0
    block_read: int = 0
    block_write: int = 0


def cgroup_mounts(mountinfo: str | None = None) -> tuple[dict[str, tuple[str, str]], tuple[str, str] | None]:
    """({v1 controller: (mount point, root in the hierarchy)}, the cgroup2 mount or None)."""
    if mountinfo is None:
        with open("/proc/self/mountinfo") as f:
            mountinfo = f.read()
    v1: dict[str, tuple[str, str]] = {}
    v2 = None
    for line in mountinfo.splitlines():
        before, sep, after = line.partition(" - ")
        if not sep:
            continue
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, point = _unescape(fields[3]), _unescape(fields[4])
        if tail[0] == "cgroup2":
            v2 = v2 or (point, root)
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                if option in ("cpu", "cpuacct", "memory", "pids", "blkio") or option.startswith("name="):
                    v1.setdefault(option, (point, root))
    return v1, v2


def _unescape(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def process_cgroups(pid: int, text: str | None = None) -> dict[str, str]:
    """{controller: path} from /proc/PID/cgroup; the v2 (unified) path under the key ""."""
    if text is None:
        with open(f"/proc/{pid}/cgroup") as f:
            text = f.read()
    paths: dict[str, str] = {}
    for line in text.splitlines():
        _, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def is_v2(mounts=None) -> bool:
    """Only the unified hierarchy (no v1 controllers): cgroup v2."""
    v1, v2 = mounts or cgroup_mounts()
    return not any(c in v1 for c in ("cpuacct", "memory", "pids")) and v2 is not None


def _dir(mount: tuple[str, str] | None, path: str | None) -> str | None:
    if mount is None or path is None:
        return None
    point, root = mount
    if root != "/" and (path == root or path.startswith(root + "/")):
        path = path[len(root):]
    return os.path.join(point, path.lstrip("/"))


def read(pid: int, mounts=None) -> Counters:
    """The counters of the cgroups `pid` is in (v1 when the host has v1 controllers, else v2)."""
    mounts = mounts or cgroup_mounts()
    v1, v2 = mounts
    paths = process_cgroups(pid)
    if is_v2(mounts):
        return _read_v2(_dir(v2, paths.get("")))
    return Counters(
        cpu_ns=_int(_dir(v1.get("cpuacct"), paths.get("cpuacct")), "cpuacct.usage"),
        mem_usage=_v1_memory(_dir(v1.get("memory"), paths.get("memory"))),
        mem_limit=_limit(_int(_dir(v1.get("memory"), paths.get("memory")), "memory.limit_in_bytes")),
        pids=_int(_dir(v1.get("pids"), paths.get("pids")), "pids.current"),
        **_v1_blkio(_dir(v1.get("blkio"), paths.get("blkio"))),
    )


def _read_v2(base: str | None) -> Counters:
    if base is None:
        return Counters()
    cpu = _keyed(base, "cpu.stat").get("usage_usec", 0) * 1000
    memory = _int(base, "memory.current") - _keyed(base, "memory.stat").get("inactive_file", 0)
    limit = _text(base, "memory.max")
    read_bytes = write_bytes = 0
    for line in (_text(base, "io.stat") or "").splitlines():
        for item in line.split()[1:]:
            key, _, number = item.partition("=")
            if key == "rbytes" and number.isdigit():
                read_bytes += int(number)
            elif key == "wbytes" and number.isdigit():
                write_bytes += int(number)
    return Counters(cpu_ns=cpu, mem_usage=max(memory, 0), mem_limit=_limit(int(limit) if limit.isdigit() else 0),
                    pids=_int(base, "pids.current"), block_read=read_bytes, block_write=write_bytes)


def _v1_memory(base: str | None) -> int:
    usage = _int(base, "memory.usage_in_bytes")
    inactive = _keyed(base, "memory.stat").get("total_inactive_file", 0) if base else 0
    return max(usage - inactive, 0)


def _v1_blkio(base: str | None) -> dict[str, int]:
    totals = {"block_read": 0, "block_write": 0}
    for name in ("blkio.throttle.io_service_bytes_recursive", "blkio.io_service_bytes_recursive"):
        text = _text(base, name)
        if not text:
            continue
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[2].isdigit():
                if parts[1] == "Read":
                    totals["block_read"] += int(parts[2])
                elif parts[1] == "Write":
                    totals["block_write"] += int(parts[2])
        break
    return totals


def _limit(limit: int) -> int:
    return 0 if limit >= UNLIMITED else limit


def _text(base: str | None, name: str) -> str:
    if base is None:
        return ""
    try:
        with open(os.path.join(base, name)) as f:
            return f.read().strip()
    except OSError:
        return ""


def _int(base: str | None, name: str) -> int:
    text = _text(base, name)
    return int(text) if text.isdigit() else 0


def _keyed(base: str, name: str) -> dict[str, int]:
    found = {}
    for line in _text(base, name).splitlines():
        key, _, number = line.partition(" ")
        if number.strip().isdigit():
            found[key] = int(number)
    return found


def net_io(pid: int) -> tuple[int, int]:
    """(received, sent) bytes of the process's network namespace, loopback left out; (0, 0)
    when it shares ours (--network host: the host's traffic is not the container's)."""
    try:
        if os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino:
            return 0, 0
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return 0, 0
    received = sent = 0
    for line in lines:
        name, _, numbers = line.partition(":")
        fields = numbers.split()
        if name.strip() == "lo" or len(fields) < 9:
            continue
        received += int(fields[0])
        sent += int(fields[8])
    return received, sent


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 0
