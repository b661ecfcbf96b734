"""`top` with podman's descriptors (its psgo library): each column computed from /proc of the
container's processes, user and group names from the container's own /etc/passwd and /etc/group.
Arguments that are not descriptors (`-ef`, `aux`) are ps options: the caller then runs the
container's own ps (see is_descriptors)."""

from __future__ import annotations

import os
import time

from pyctr.units import go_duration

DEFAULT = ("user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args")

HEADERS = {
    "args": "COMMAND", "capamb": "AMBIENT CAPS", "capbnd": "BOUNDING CAPS", "capeff": "EFFECTIVE CAPS",
    "capinh": "INHERITED CAPS", "capprm": "PERMITTED CAPS", "comm": "COMMAND", "etime": "ELAPSED",
    "group": "GROUP", "hgroup": "HGROUP", "hpid": "HPID", "huser": "HUSER", "label": "LABEL", "nice": "NI",
    "pcpu": "%CPU", "pgid": "PGID", "pid": "PID", "ppid": "PPID", "rgroup": "RGROUP", "ruser": "RUSER",
    "rss": "RSS", "seccomp": "SECCOMP", "state": "STATE", "stime": "STIME", "time": "TIME", "tty": "TTY",
    "user": "USER", "vsz": "VSZ",
}
# ps's AIX format descriptors, as psgo reads them.
AIX = {"%C": "pcpu", "%G": "group", "%P": "ppid", "%U": "user", "%a": "args", "%c": "comm", "%g": "rgroup",
       "%n": "nice", "%p": "pid", "%r": "pgid", "%t": "etime", "%u": "ruser", "%x": "time", "%y": "tty", "%z": "vsz"}

CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
)


def descriptors(args: list[str]) -> list[str] | None:
    """The descriptors the arguments name (commas separate them too; none: the default), or
    None when one of them is not a descriptor (then they are ps options)."""
    names = [name for arg in args for name in arg.split(",") if name]
    if not names:
        return list(DEFAULT)
    result = []
    for name in names:
        name = AIX.get(name, name)
        if name not in HEADERS:
            return None
        result.append(name)
    return result


class _Names:
    """uid/gid -> name from a passwd/group text; the number itself when absent."""

    def __init__(self, passwd: str, group: str):
        self.users = _table(passwd)
        self.groups = _table(group)

    def user(self, uid: int) -> str:
        return self.users.get(uid, str(uid))

    def group(self, gid: int) -> str:
        return self.groups.get(gid, str(gid))


def _table(text: str) -> dict[int, str]:
    table: dict[int, str] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            table.setdefault(int(parts[2]), parts[0])
    return table


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


class _Process:
    def __init__(self, host_pid: int):
        self.hpid = host_pid
        base = f"/proc/{host_pid}"
        stat = _read(f"{base}/stat")
        self.gone = not stat  # it exited before it could be read
        # The command name sits in parentheses and may itself hold spaces or parentheses.
        self.comm = stat[stat.find("(") + 1:stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2:].split()
        self.state = fields[0] if fields else "?"
        self.host_ppid = int(fields[1]) if len(fields) > 1 else 0
        self.pgrp = int(fields[2]) if len(fields) > 2 else 0
        self.tty_nr = int(fields[4]) if len(fields) > 4 else 0
        self.utime, self.stime = (int(fields[11]), int(fields[12])) if len(fields) > 12 else (0, 0)
        self.nice = int(fields[16]) if len(fields) > 16 else 0
        self.start_ticks = int(fields[19]) if len(fields) > 19 else 0
        self.vsize = int(fields[20]) if len(fields) > 20 else 0
        self.status = {}
        for line in _read(f"{base}/status").splitlines():
            key, _, val = line.partition(":")
            self.status[key] = val.strip()
        self.cmdline = _read(f"{base}/cmdline")
        # Read last: a process that exited while it was read has lost its status by now.
        self.gone = self.gone or not self.status or not os.path.exists(base)

    def ids(self, key: str) -> list[int]:
        return [int(x) for x in self.status.get(key, "0 0 0 0").split()]

    def nspid(self) -> int:
        values = self.status.get("NSpid", "").split()
        return int(values[-1]) if values else self.hpid


def rows(host_pids: list[int], names: list[str], rootfs: str, *, read_file) -> list[list[str]]:
    """One row per process (by host pid, in order); `read_file(rootfs, path)` reads the container's files."""
    def container_file(path: str) -> str:
        try:
            return read_file(rootfs, path)
        except Exception:  # noqa: BLE001 - an unreadable rootfs: numbers instead of names
            return ""

    container_names = _Names(container_file("/etc/passwd"), container_file("/etc/group"))
    host_names = _Names(_read("/etc/passwd"), _read("/etc/group"))
    ticks = os.sysconf("SC_CLK_TCK")
    boot = _boot_time()
    now = time.time()
    processes = [p for p in (_Process(pid) for pid in host_pids) if not p.gone]
    ns_of = {p.hpid: p.nspid() for p in processes}
    uid_map, gid_map = _id_map("uid"), _id_map("gid")
    table = []
    for proc in processes:
        started = boot + proc.start_ticks / ticks
        elapsed = max(now - started, 0.0)
        cpu = (proc.utime + proc.stime) / ticks
        uids, gids = proc.ids("Uid"), proc.ids("Gid")
        values = {
            "pid": str(ns_of[proc.hpid]),
            "hpid": str(proc.hpid),
            "ppid": str(ns_of.get(proc.host_ppid, 0)),
            "pgid": str(ns_of.get(proc.pgrp, 0)),
            "user": container_names.user(uids[1]),
            "ruser": container_names.user(uids[0]),
            "huser": host_names.user(_to_host(uid_map, uids[1])),
            "group": container_names.group(gids[1]),
            "rgroup": container_names.group(gids[0]),
            "hgroup": host_names.group(_to_host(gid_map, gids[1])),
            "args": proc.cmdline.replace("\0", " ") if proc.cmdline else f"[{proc.comm}]",
            "comm": proc.comm,
            "etime": go_duration(int(round(elapsed * 1e9))),
            "time": go_duration(int(cpu) * 10**9),
            "pcpu": f"{(cpu / elapsed * 100) if elapsed else 0:.3f}",
            "nice": str(proc.nice),
            "state": proc.state,
            "stime": time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(int(started))),
            "tty": _tty(proc.tty_nr),
            "vsz": str(proc.vsize // 1024),
            "rss": proc.status.get("VmRSS", "0").split()[0],
            "label": _label(proc.hpid),
            "seccomp": {"0": "disabled", "1": "strict", "2": "filter"}.get(proc.status.get("Seccomp", ""), "?"),
            "capamb": _caps(proc.status.get("CapAmb")),
            "capbnd": _caps(proc.status.get("CapBnd")),
            "capeff": _caps(proc.status.get("CapEff")),
            "capinh": _caps(proc.status.get("CapInh")),
            "capprm": _caps(proc.status.get("CapPrm")),
        }
        table.append([values[name] for name in names])
    return table


def _boot_time() -> float:
    for line in _read("/proc/stat").splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def _id_map(kind: str) -> list[tuple[int, int, int]]:
    result = []
    for line in _read(f"/proc/self/{kind}_map").splitlines():
        parts = line.split()
        if len(parts) == 3:
            result.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return result


def _to_host(mapping: list[tuple[int, int, int]], ident: int) -> int:
    """An id as our namespace sees it -> as the host sees it (the same when we are not in one)."""
    for inside, outside, size in mapping:
        if inside <= ident < inside + size:
            return outside + ident - inside
    return ident


def _tty(tty_nr: int) -> str:
    if tty_nr == 0:
        return "?"
    major, minor = os.major(tty_nr), os.minor(tty_nr)
    if 136 <= major <= 143:
        return f"pts/{minor + (major - 136) * 256}"
    if major == 4:
        return f"tty{minor}"
    return "?"


def _label(pid: int) -> str:
    text = _read(f"/proc/{pid}/attr/current").strip("\0\n ")
    return text if text and text != "unconfined" else "?"


def _caps(mask: str | None) -> str:
    try:
        value = int(mask or "0", 16)
    except ValueError:
        return "none"
    if value == 0:
        return "none"
    known = (1 << len(CAPABILITIES)) - 1
    if value & known == known:
        return "full"
    return ",".join(sorted(name for bit, name in enumerate(CAPABILITIES) if value & (1 << bit)))


def header(names: list[str]) -> list[str]:
    return [HEADERS[name] for name in names]
