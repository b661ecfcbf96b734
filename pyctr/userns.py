"""Rootless: one user namespace (and mount namespace) per user, shared by every command.

The first rootless command forks a pause process that unshares a user and a
mount namespace, maps them with newuidmap/newgidmap (uid 0 inside is the user,
1..N the subordinate range from /etc/subuid), and then just sleeps. Every
command joins that pause process's namespaces before doing anything else, so
all of them see the same mounts and the same ids (podman's pause process).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from pyctr.config import USERNS_ENV, in_user_namespace
from pyctr.errors import PyctrError
from pyctr.fsutil import makedirs

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_REC = 16384
MS_PRIVATE = 1 << 18


class UserNamespaceError(PyctrError):
    """The user namespace cannot be set up (no subordinate ids, no newuidmap, ...)."""


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise UserNamespaceError(f"{what}: {os.strerror(err)}")


def subordinate_range(path: str, user: str, uid: int) -> tuple[int, int]:
    """(start, count) of the first range of `user` (by name or number) in /etc/subuid or /etc/subgid."""
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[0] in (user, str(uid)) and parts[1].isdigit() and parts[2].isdigit():
                    return int(parts[1]), int(parts[2])
    except FileNotFoundError:
        pass
    raise UserNamespaceError(
        f"no subordinate ids for {user} in {path}",
        hint=f"as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}",
    )


def _pause_pid_file(runtime_dir: Path) -> Path:
    return runtime_dir / "pause.pid"


def _alive_pause(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        # Ours, and really in another user namespace (not a recycled pid).
        if os.stat(f"/proc/{pid}").st_uid == os.getuid() and os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user"):
            return pid
    except (OSError, ValueError):
        pass
    return None


def enter(runtime_dir: Path) -> None:
    """Join the user's namespaces, creating them (and the pause process) the first time."""
    if os.environ.get(USERNS_ENV) and in_user_namespace():
        return
    uid = os.getuid()
    makedirs(runtime_dir, 0o700)
    pid_file = _pause_pid_file(runtime_dir)
    lock_fd = os.open(runtime_dir / "pause.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        pid = _alive_pause(pid_file)
        if pid is None:
            pid = _start_pause()
            tmp = pid_file.with_suffix(".tmp")
            tmp.write_text(f"{pid}\n")
            os.rename(tmp, pid_file)
    finally:
        os.close(lock_fd)
    _join(pid)
    os.environ[USERNS_ENV] = str(uid)  # children (shims, cleanups) know they are inside


def _join(pid: int) -> None:
    libc = _libc()
    for kind, flag in (("user", CLONE_NEWUSER), ("mnt", CLONE_NEWNS)):
        fd = os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(libc.setns(fd, flag), f"joining the user namespace of pid {pid} ({kind})")
        finally:
            os.close(fd)
    # Our uid maps to 0 inside, but the credentials only change once we ask.
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def _start_pause() -> int:
    """Fork the pause process, map its namespaces, and return its pid."""
    user = pwd.getpwuid(os.getuid()).pw_name
    uid_range = subordinate_range("/etc/subuid", user, os.getuid())
    gid_range = subordinate_range("/etc/subgid", user, os.getuid())
    for tool in ("newuidmap", "newgidmap"):
        if not shutil.which(tool):
            raise UserNamespaceError(f"{tool} not found", hint="install the Debian package uidmap")
    unshared_r, unshared_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the pause process
        try:
            os.close(unshared_r)
            os.close(mapped_w)
            os.setsid()
            if _libc().unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
                os._exit(1)
            os.write(unshared_w, b"u")
            if os.read(mapped_r, 1) != b"m":
                os._exit(1)
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
            # Our mounts must not propagate back to the host's namespace.
            _libc().mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 65536)
            os.chdir("/")
            os.execv("/bin/sleep", ["sleep", "infinity"])
        finally:
            os._exit(1)
    os.close(unshared_w)
    os.close(mapped_r)
    try:
        if os.read(unshared_r, 1) != b"u":
            raise UserNamespaceError("creating a user namespace failed", hint="check /proc/sys/user/max_user_namespaces")
        _map("newuidmap", pid, os.getuid(), uid_range)
        _map("newgidmap", pid, os.getgid(), gid_range)
        os.write(mapped_w, b"m")
    except BaseException:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(unshared_r)
        os.close(mapped_w)
    return pid


def _map(tool: str, pid: int, own: int, sub: tuple[int, int]) -> None:
    argv = [tool, str(pid), "0", str(own), "1", "1", str(sub[0]), str(sub[1])]
    result = subprocess.run(argv, capture_output=True, text=True, close_fds=True)
    if result.returncode != 0:
        raise UserNamespaceError(f"{tool} failed: {result.stderr.strip() or result.returncode}",
                                 hint="check the ranges in /etc/subuid and /etc/subgid")


def mappings() -> dict[str, list[dict]]:
    """The id mappings of the current user namespace, as `pyctr info` shows them."""
    result = {}
    for kind in ("uid", "gid"):
        entries = []
        try:
            with open(f"/proc/self/{kind}_map") as f:
                for line in f:
                    inside, outside, size = map(int, line.split())
                    entries.append({"container_id": inside, "host_id": outside, "size": size})
        except OSError:
            pass
        result[kind] = entries
    return result


