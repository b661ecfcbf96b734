"""runc, driven through its command line (the only module that runs runc directly).

Every call closes our file descriptors (close_fds) and gives runc /dev/null as
stdin, so nothing of pyctr leaks into runc or the container.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from pyctr.errors import CommandNotFound, CommandNotInvokable, PyctrError, RuntimeFailure


def find_runc() -> str:
    path = shutil.which("runc") or ("/usr/sbin/runc" if Path("/usr/sbin/runc").exists() else None)
    if not path:
        raise PyctrError("runc not found", hint="install the Debian package runc")
    return path


def error_from_runc(text: str) -> PyctrError:
    """Map runc's failure text to podman's exit codes: 127 not found, 126 not invokable."""
    line = last_meaningful_line(text)
    if re.search(r'executable file not found|no such file or directory', line) and "exec:" in line:
        return CommandNotFound(_short_exec_error(line))
    if "permission denied" in line and "exec:" in line:
        return CommandNotInvokable(_short_exec_error(line))
    return RuntimeFailure(line or "runc failed")


def _short_exec_error(line: str) -> str:
    """podman's wording: `NAME: executable file not found in $PATH: OCI runtime attempted to invoke a command that was not found`."""
    match = re.search(r'exec: "([^"]*)": (.*)', line)
    if not match:
        return line
    name, why = match.groups()
    if "permission denied" in why:
        return f"{name}: {why}: OCI permission denied"
    return f"{name}: {why}: OCI runtime attempted to invoke a command that was not found"


def last_meaningful_line(text: str) -> str:
    """runc logs as logrus lines (level=error msg="...") or plain text; keep the message."""
    for raw in reversed(text.strip().splitlines()):
        raw = raw.strip()
        if not raw:
            continue
        match = re.search(r'msg="((?:[^"\\]|\\.)*)"', raw)
        if match:
            return match.group(1).encode().decode("unicode_escape")
        try:
            obj = json.loads(raw)
            if isinstance(obj, dict) and obj.get("msg"):
                return str(obj["msg"])
        except ValueError:
            pass
        return raw
    return ""


class Runc:
    def __init__(self, root: Path, binary: str | None = None):
        self.root = Path(root)
        self.binary = binary or find_runc()

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "--root", str(self.root), *args]

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        result = subprocess.run(
            self.argv(*args), stdin=subprocess.DEVNULL, capture_output=True, text=True, close_fds=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise error_from_runc(result.stderr or result.stdout)
        return result

    def start(self, container_id: str) -> None:
        self._run("start", container_id)

    def kill(self, container_id: str, signal: int | str, *, all_processes: bool = False) -> None:
        args = ["kill"] + (["--all"] if all_processes else []) + [container_id, str(signal)]
        self._run(*args)

    def delete(self, container_id: str, *, force: bool = False) -> None:
        result = self._run("delete", *(["--force"] if force else []), container_id, check=False)
        if result.returncode != 0 and "does not exist" not in result.stderr and "not exist" not in result.stderr:
            raise error_from_runc(result.stderr)

    def state(self, container_id: str) -> dict | None:
        result = self._run("state", container_id, check=False)
        if result.returncode != 0:
            return None
        return json.loads(result.stdout)

    def pause(self, container_id: str) -> None:
        self._run("pause", container_id)

    def resume(self, container_id: str) -> None:
        self._run("resume", container_id)

    def ps(self, container_id: str) -> list[int]:
        return json.loads(self._run("ps", "--format", "json", container_id).stdout or "[]") or []

    def exec_argv(self, container_id: str, process_file: str, *, tty: bool, detach: bool, pid_file: str | None = None) -> list[str]:
        """The argv of `runc exec`; the caller runs it with the user's stdio."""
        args = ["exec", "--process", process_file]
        if tty:
            args.append("--tty")
        if detach:
            args.append("--detach")
        if pid_file:
            args += ["--pid-file", pid_file]
        return self.argv(*args, container_id)
