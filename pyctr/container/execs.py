"""Exec sessions on disk: one directory per `exec`, under the container's directory.

    <container dir>/exec/<session id>/
        session.json   what was asked (written here, before the shim starts)
        process.json   the OCI process for `runc exec --process`
        shim.pid, pid  the session's shim and the exec'd process (runc's --pid-file)
        attach         the shim's attach socket while the process runs
        exec.log       its output (k8s-file, bounded)
        exit.json      written by the shim when the process has ended

The shim keeps the session (pyctr.shim, exec mode), so that neither the process nor
its exit code depends on the `pyctr exec` command staying alive. The directories go
with the container; finished ones beyond the newest MAX_FINISHED are pruned at the
next exec.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pyctr.container.store import ContainerStore
from pyctr.errors import Ambiguous, NotFound
from pyctr.linux.fsutil import atomic_write_json, makedirs
from pyctr.values import value

MAX_FINISHED = 16  # finished sessions kept per container, for inspect
EXEC_LOG_MAX = 1 << 20  # bytes of a session's log before it starts again empty


class ExecSessionNotFound(NotFound):
    """No exec session has that ID."""


@value
class ExecSession:
    """One exec session, as the Docker API's `GET /exec/{id}/json` describes it."""

    id: str
    container_id: str
    command: list[str]
    tty: bool
    open_stdin: bool
    privileged: bool
    user: str
    workdir: str
    detached: bool
    created: float
    running: bool
    pid: int  # 0 until runc has started it
    exit_code: int | None  # None while running (or if it never ran)
    started_at: float | None
    finished_at: float | None

    @property
    def can_remove(self) -> bool:
        return not self.running


class ExecStore:
    def __init__(self, store: ContainerStore):
        self.store = store

    def dir(self, container_id: str) -> Path:
        # Under the runroot, as podman keeps exec sessions' exit files: runtime state that a
        # reboot ends anyway, and an exec still works when the disk holding the store is full.
        return self.store.run_dir / container_id / "exec"

    def session_dir(self, container_id: str, session_id: str) -> Path:
        return self.dir(container_id) / session_id

    def new(self, container_id: str, command: list[str], *, tty: bool, open_stdin: bool, privileged: bool,
            user: str, workdir: str, detached: bool) -> tuple[str, Path]:
        """Reserve a session: its ID and directory, with session.json written."""
        self.prune(container_id)
        session_id = os.urandom(32).hex()  # not `secrets`: 4 ms to import
        path = makedirs(self.session_dir(container_id, session_id), 0o700)
        atomic_write_json(path / "session.json", {
            "id": session_id, "container_id": container_id, "command": list(command), "tty": tty,
            "open_stdin": open_stdin, "privileged": privileged, "user": user, "workdir": workdir,
            "detached": detached, "created": time.time(),
        })
        return session_id, path

    def discard(self, container_id: str, session_id: str) -> None:
        """A session that never started (its shim reported an error)."""
        import shutil  # (only here: inspect lists sessions)

        shutil.rmtree(self.session_dir(container_id, session_id), ignore_errors=True)

    def ids(self, container_id: str) -> list[str]:
        """The container's sessions, oldest first."""
        sessions = [s for s in (self._read(container_id, name) for name in self._names(container_id)) if s]
        return [s["id"] for s in sorted(sessions, key=lambda s: s.get("created", 0))]

    def get(self, container_id: str, session_id: str) -> ExecSession:
        raw = self._read(container_id, session_id)
        if raw is None:
            raise ExecSessionNotFound(f"no exec session with ID {session_id} found: no such exec session")
        return _session(raw, self.session_dir(container_id, session_id))

    def find(self, name: str) -> tuple[str, str]:
        """(container ID, session ID) of the session whose ID is or starts with `name`."""
        if len(name) < 3 or not all(c in "0123456789abcdef" for c in name):
            raise ExecSessionNotFound(f"no exec session with ID {name} found: no such exec session")
        matches = []
        try:
            container_ids = os.listdir(self.store.run_dir)
        except OSError:
            container_ids = []
        for container_id in container_ids:
            matches += [(container_id, sid) for sid in self._names(container_id) if sid.startswith(name)]
        if len(matches) > 1:
            raise Ambiguous(f"more than one result for exec session {name!r}: use a longer ID")
        if not matches:
            raise ExecSessionNotFound(f"no exec session with ID {name} found: no such exec session")
        return matches[0]

    def wait(self, container_id: str, session_id: str, timeout: float | None = None) -> ExecSession:
        """Until the session's process has ended (or nothing keeps it any more)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            session = self.get(container_id, session_id)
            if not session.running or (deadline is not None and time.monotonic() >= deadline):
                return session
            time.sleep(0.05)

    def prune(self, container_id: str) -> None:
        """Forget finished sessions beyond the newest MAX_FINISHED."""
        import shutil

        finished = [sid for sid in self.ids(container_id) if not self.get(container_id, sid).running]
        for sid in finished[:-MAX_FINISHED] if len(finished) > MAX_FINISHED else []:
            shutil.rmtree(self.session_dir(container_id, sid), ignore_errors=True)

    def _names(self, container_id: str) -> list[str]:
        try:
            return os.listdir(self.dir(container_id))
        except OSError:
            return []

    def _read(self, container_id: str, session_id: str) -> dict | None:
        if "/" in session_id or session_id.startswith("."):
            return None
        try:
            with open(self.session_dir(container_id, session_id) / "session.json", "rb") as f:
                raw = json.load(f)
        except (OSError, ValueError):
            return None
        return raw if isinstance(raw, dict) else None


def exec_process(process: dict, rootfs: str, args: list[str], *, tty: bool, env: list[str], workdir: str | None,
                 user: str | None, privileged: bool = False) -> dict:
    """The OCI process of an exec: the container's `process` with these changes. Whether the
    command exists is runc's to say (podman's words then, see pyctr.runtime.runc)."""
    from pyctr.container import userdb
    from pyctr.runtime import spec as ocispec

    process = dict(process, args=list(args), terminal=tty)
    if env:
        keys = {e.partition("=")[0] for e in env}
        process["env"] = [e for e in process.get("env", []) if e.partition("=")[0] not in keys] + list(env)
    if workdir:
        process["cwd"] = workdir
    if user:
        uid, gid, groups, _ = userdb.resolve_user(rootfs, user)
        process["user"] = {"uid": uid, "gid": gid, "additionalGids": groups}
    if privileged:  # every capability we hold, as `run --privileged` gives them
        caps = sorted(ocispec.host_capabilities())
        held = caps if process.get("user", {}).get("uid", 0) == 0 else []
        process["capabilities"] = {"bounding": caps, "effective": held, "inheritable": [],
                                   "permitted": held, "ambient": []}
    process.pop("consoleSize", None)
    return process


def shim_config(container_id: str, bundle: Path, session_dir: Path, process_file: Path, runc, *, tty: bool,
                stdin: bool, preserve_fds: int) -> dict:
    """The config of an exec session's shim (pyctr.shim.config, exec mode); no cleanup command:
    `runc exec` leaves nothing behind."""
    return {
        "id": container_id,
        "bundle": str(bundle),
        "state_dir": str(session_dir),
        "runc": runc.binary,
        "runc_root": str(runc.root),
        "log_path": str(session_dir / "exec.log"),
        "log_size_max": EXEC_LOG_MAX,
        "exit_file": str(session_dir / "exit.json"),
        "terminal": tty,
        "stdin": stdin,
        "runc_extra_args": list(runc.extra_args),
        "exec_process": str(process_file),
        "preserve_fds": preserve_fds,
    }


def _session(raw: dict, path: Path) -> ExecSession:
    exit_record = _read_json(path / "exit.json")
    pid = _read_int(path / "pid")
    running = exit_record is None and (_alive(_read_int(path / "shim.pid")) or _alive(pid))
    exit_code = exit_record.get("exit_code") if exit_record else None
    if exit_record is None and not running and pid:
        exit_code = -1  # it ran, and nobody saw how it ended (its shim was killed)
    return ExecSession(
        id=raw["id"], container_id=raw.get("container_id", ""), command=list(raw.get("command", [])),
        tty=bool(raw.get("tty")), open_stdin=bool(raw.get("open_stdin")), privileged=bool(raw.get("privileged")),
        user=raw.get("user", ""), workdir=raw.get("workdir", ""), detached=bool(raw.get("detached")),
        created=float(raw.get("created", 0)), running=running, pid=pid, exit_code=exit_code,
        started_at=(exit_record or {}).get("started_at") or (raw.get("created") if pid else None),
        finished_at=(exit_record or {}).get("finished_at"),
    )


def _read_json(path: Path) -> dict | None:
    try:
        with open(path, "rb") as f:
            raw = json.load(f)
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return False
