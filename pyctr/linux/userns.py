"""Rootless: one user namespace (and mount namespace) per user, shared by every command.

The first rootless command forks a pause process that unshares a user and a
mount namespace, maps them with newuidmap/newgidmap (uid 0 inside is the user,
1..N the subordinate range from /etc/subuid), and then just sleeps. Every
command joins that pause process's namespaces before doing anything else, so
all of them see the same mounts and the same ids (podman's pause process).
Made by a command that runs in a systemd service, it moves to a scope of its own, so that it
does not die with that service (pyctr.systemd.scope).
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
from pyctr.linux.proc import process_start
from pyctr.linux.fsutil import makedirs

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_REC = 16384
MS_SLAVE = 1 << 19


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


def _holds_namespace(pid: int) -> bool:
    """Ours, alive (not a zombie, whose namespaces are gone) and in another user namespace."""
    if process_start(pid) is None:
        return False
    try:
        return (os.stat(f"/proc/{pid}").st_uid == os.getuid()
                and os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user"))
    except OSError:
        return False


def _alive_pause(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _holds_namespace(pid) else None


def _surviving_shim(runtime_dir: Path) -> int | None:
    """A shim still running in the namespaces of a pause process that died: its containers'
    mounts live there, so that namespace, not a new one, is the one to join."""
    for pid_file in runtime_dir.glob("containers/*/shim.pid"):
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            continue
        if _holds_namespace(pid):
            return pid
    return None


def _check_private_dir(path: Path) -> None:
    """Refuse a runtime directory someone else could have prepared (e.g. under /tmp)."""
    info = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UserNamespaceError(
            f"{path} must be a directory owned by you with mode 0700",
            hint="set XDG_RUNTIME_DIR to a private directory, or remove that one",
        )


def enter(runtime_dir: Path) -> None:
    """Join the user's namespaces, creating them (and the pause process) the first time."""
    if os.environ.get(USERNS_ENV) and in_user_namespace():
        return
    uid = os.getuid()
    makedirs(runtime_dir, 0o700)
    for directory in (runtime_dir.parent, runtime_dir) if str(runtime_dir).startswith("/tmp/") else (runtime_dir,):
        _check_private_dir(directory)
    pid_file = _pause_pid_file(runtime_dir)
    lock_fd = os.open(runtime_dir / "pause.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    cwd = _cwd()
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        pid = _alive_pause(pid_file)
        if pid is None and (shim := _surviving_shim(runtime_dir)):
            _join(shim)
            pid = _new_pause_here()
            _write_pid(pid_file, pid)
            _keep_out_of_unit(pid, uid)
        elif pid is None:
            pid = _start_pause()
            _write_pid(pid_file, pid)
            _keep_out_of_unit(pid, uid)
            _join(pid)
        else:
            _join(pid)
    finally:
        os.close(lock_fd)
    if cwd:
        # Joining a mount namespace moves us to its root; relative paths the user gave
        # (-v ./data, --cidfile, cp ./file) mean the directory they were typed in.
        try:
            os.chdir(cwd)
        except OSError:
            pass
    os.environ[USERNS_ENV] = str(uid)  # children (shims, cleanups) know they are inside


def _keep_out_of_unit(pid: int, uid: int) -> None:
    """A new pause process must not die with the systemd service we may run in (pyctr.systemd.scope)."""
    from pyctr.systemd import scope

    scope.keep_out_of_unit(pid, uid)


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None


def _write_pid(pid_file: Path, pid: int) -> None:
    tmp = pid_file.with_suffix(".tmp")
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{pid}\n")
    os.rename(tmp, pid_file)


def _new_pause_here() -> int:
    """A new pause process in the namespaces we are in (after the old one died)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 65536)
            os.execv("/bin/sleep", ["sleep", "infinity"])
        finally:
            os._exit(1)
    return pid


def _join(pid: int) -> None:
    libc = _libc()
    try:
        for kind, flag in (("user", CLONE_NEWUSER), ("mnt", CLONE_NEWNS)):
            fd = os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _check(libc.setns(fd, flag), f"joining the user namespace of pid {pid} ({kind})")
            finally:
                os.close(fd)
        # Our uid maps to 0 inside, but the credentials only change once we ask.
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    except OSError as exc:
        raise UserNamespaceError(f"joining the user namespace of pid {pid}: {exc.strerror or exc}") from exc


def _start_pause() -> int:
    """Fork the pause process, map its namespaces, and return its pid."""
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = str(os.getuid())  # no passwd entry: /etc/subuid may still name the uid
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
            # Receive the host's later mounts, never send ours back.
            _libc().mount(b"none", b"/", None, MS_REC | MS_SLAVE, None)
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


