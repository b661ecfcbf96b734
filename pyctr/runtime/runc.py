"""runc, driven through its command line: the one module that knows runc's argv, its
log and error formats, and runs it, for the engine and for the shim alike.

Every run closes our file descriptors (close_fds) and gives runc /dev/null as stdin
unless the caller hands it another, so nothing of pyctr leaks into runc or the container.

The shim imports this module: it may import only the standard library and pyctr.errors
(shutil, for one, pulls in the compression modules, so it is imported where it is used).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
TYPE_CHECKING = False  # (typing's costs ~2 ms at every start: annotations only, as strings)
if TYPE_CHECKING:
    from typing import IO, Protocol, Sequence, Union
else:
    Protocol = object  # OciRuntime below is a typing.Protocol to type checkers, a plain class at run time

from pyctr import log
from pyctr.errors import CommandNotFound, CommandNotInvokable, PyctrError, RuntimeFailure

CALL_TIMEOUT = 60.0  # for the short subcommands (state, kill, delete, ...)

if TYPE_CHECKING:
    # What subprocess takes for a stream: None (inherit), an fd, a file, or subprocess.DEVNULL/PIPE.
    Stream = Union[None, int, IO]


def find_runc() -> str:
    path = _which("runc") or ("/usr/sbin/runc" if Path("/usr/sbin/runc").exists() else None)
    if not path:
        raise PyctrError("runc not found", hint="install the Debian package runc")
    return path


def _which(name: str) -> str | None:
    """shutil.which(name), without importing shutil (~1.5 ms: bz2, lzma) at every start."""
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory or ".", name)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return None


# -- runc's log and error formats -------------------------------------------------------------

def parse_log_line(line: str) -> tuple[str | None, str | None]:
    """(level, msg) of one runc log line: JSON (`--log-format json`), logrus text
    (`time=".." level=error msg=".."`, runc's stderr), or (None, None) for neither."""
    line = line.strip()
    if line.startswith("{"):
        try:
            entry = json.loads(line)
        except ValueError:
            return None, None
        if isinstance(entry, dict):
            level, msg = entry.get("level"), entry.get("msg")
            return (level if isinstance(level, str) else None), (str(msg) if msg is not None else None)
        return None, None
    return _logfmt_value(line, "level"), _logfmt_value(line, "msg")


def _logfmt_value(line: str, key: str) -> str | None:
    """The value of `key=value` or `key="quoted \\"value\\""` in a logfmt line."""
    start = 0
    while True:
        at = line.find(key + "=", start)
        if at < 0:
            return None
        if at == 0 or line[at - 1] == " ":
            break
        start = at + 1
    rest = line[at + len(key) + 1:]
    if not rest.startswith('"'):
        return rest.split(" ", 1)[0]
    i = 1
    while i < len(rest):
        if rest[i] == "\\":
            i += 2
            continue
        if rest[i] == '"':
            break
        i += 1
    quoted = rest[:i + 1]
    try:
        return json.loads(quoted)  # Go's strconv.Quote escapes are JSON's, short of \x..
    except ValueError:
        return quoted[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def _text(source: bytes | str) -> str:
    return source.decode(errors="replace") if isinstance(source, bytes) else source


def error_message(*sources: bytes | str) -> str:
    """What runc said when it failed, fit for the user: the `msg` of the last error entry
    (level error, fatal or panic) of the first source that has one (say its --log file,
    then its stderr), else the last non-empty line of the last source (its `msg` if it is
    a log entry); "" if runc said nothing."""
    for source in sources:
        for line in reversed(_text(source).splitlines()):
            level, msg = parse_log_line(line)
            if level in ("error", "fatal", "panic") and msg:
                return msg
    for source in reversed(sources):
        lines = [line.strip() for line in _text(source).splitlines() if line.strip()]
        if lines:
            return parse_log_line(lines[-1])[1] or lines[-1]
    return ""


def error_from_runc(text: bytes | str) -> PyctrError:
    """Map runc's failure text to podman's errors and exit codes. A process that could not
    be started (`runc create`/`run`/`exec`): 127 when its command or a path is missing,
    126 when it cannot be invoked, worded as podman words them (`runc: <runc's line>: OCI
    ...`); anything else is a RuntimeFailure (125) with runc's own line."""
    line = error_message(text)
    if "unable to start container process" in line:
        # podman runs `runc create` where the shim runs `runc run --detach`: podman's words.
        line = re.sub(r"^runc run failed:", "runc create failed:", line)
        if re.search(r"(?i)permission denied|operation not permitted", line):
            return CommandNotInvokable(f"runc: {line}: OCI permission denied")
        if re.search(r"(?i)executable file not found in|no such file or directory", line):
            return CommandNotFound(f"runc: {line}: OCI runtime attempted to invoke a command that was not found")
    return RuntimeFailure(line or "runc failed")


def recorded_init(root: Path | str, container_id: str) -> tuple[int, int] | None:
    """(pid, start time in clock ticks since boot) of the container's init as runc recorded
    it at create, in its state.json under `root`: read, not run, so that a check stays
    cheap. None if runc has no state for the container (never created, or deleted)."""
    try:
        with open(Path(root) / container_id / "state.json", "rb") as f:
            state = json.load(f)
        return int(state["init_process_pid"]), int(state["init_process_start"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# -- the interface the engine uses ------------------------------------------------------------

class OciRuntime(Protocol):
    """What the engine (pyctr.container.tasks) asks of runc. Runc implements it with the
    real binary; tests/fakes.py's RecordingRunc records the calls instead, for unit tests
    of the engine's policies. Errors are pyctr.errors types (RuntimeFailure, ...).

    `binary`, `root` and `extra_args` go into the shim's config, which runs `runc create`
    with them (Runc.create_argv).
    """

    binary: str
    root: Path
    extra_args: list[str]

    def exists(self, container_id: str) -> bool:
        """Whether runc has state for the container (it was created and not deleted)."""
        ...

    def start(self, container_id: str) -> None: ...

    def kill(self, container_id: str, signal: int | str, *, all_processes: bool = False) -> None: ...

    def delete(self, container_id: str, *, force: bool = False) -> None:
        """Delete the container's runc state; a container runc does not know is not an error."""
        ...

    def state(self, container_id: str) -> dict | None:
        """`runc state` as a dict, None when runc does not know the container."""
        ...

    def pause(self, container_id: str) -> None: ...

    def resume(self, container_id: str) -> None: ...

    def ps(self, container_id: str) -> list[int]:
        """Host pids of the container's processes."""
        ...

    def exec(self, container_id: str, process_file: str, *, tty: bool, detach: bool,
             stdin: Stream = None, stdout: Stream = None, stderr: Stream = None) -> int:
        """Run `runc exec` with the process of `process_file` (an OCI process JSON) and wait;
        -> its exit status (the process's own unless detached). stdin is /dev/null unless
        given (0 for the caller's own); stdout/stderr are the caller's unless given, and
        /dev/null when detached."""
        ...

    def version(self) -> str:
        """The first line of `runc --version`; "" when it cannot be read."""
        ...


class Runc:
    """runc at `binary` (found on PATH by default) with its state under `root`.
    `extra_args` are global options placed before every subcommand (--systemd-cgroup, ...)."""

    def __init__(self, root: Path | str, binary: str | None = None, *, extra_args: Sequence[str] = ()):
        self.root = Path(root)
        self.binary = binary or find_runc()
        self.extra_args = list(extra_args)

    # -- argv builders (the only place that spells runc's options) ----------------------------

    def argv(self, *args: str, log: str | None = None, log_format: str = "json") -> list[str]:
        """runc's global options, then `args`. With `log`, runc writes its own messages to that
        file; `extra_args` come after it, so that they may override it."""
        logging = ["--log", log, "--log-format", log_format] if log else []
        return [self.binary, "--root", str(self.root), *logging, *self.extra_args, *args]

    def create_argv(self, container_id: str, bundle: str, *, pid_file: str, log: str | None = None,
                    console_socket: str | None = None, start: bool = False,
                    create_args: Sequence[str] = ()) -> list[str]:
        """`runc create` (or with `start`, `runc run --detach`: create and start at once).
        `console_socket` receives the pty master of a terminal container; `create_args` are
        options of create itself (--no-pivot, ...)."""
        args = ["run", "--detach"] if start else ["create"]
        args += ["--bundle", bundle, "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        return self.argv(*args, *create_args, container_id, log=log)

    def exec_argv(self, container_id: str, process_file: str, *, tty: bool, detach: bool,
                  pid_file: str | None = None, console_socket: str | None = None,
                  preserve_fds: int = 0, log: str | None = None) -> list[str]:
        """`runc exec`; `console_socket` receives the pty master with `tty` and `detach`;
        `preserve_fds` passes fds 3..3+N-1 on to the process."""
        args = ["exec", "--process", process_file]
        if tty:
            args.append("--tty")
        if detach:
            args.append("--detach")
        if pid_file:
            args += ["--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        if preserve_fds:
            args += ["--preserve-fds", str(preserve_fds)]
        return self.argv(*args, container_id, log=log)

    def run_argv(self, container_id: str, bundle: str) -> list[str]:
        """`runc run` in the foreground, the caller's stdio the container's (a build's RUN step)."""
        return self.argv("run", "--bundle", bundle, container_id)

    def kill_argv(self, container_id: str, signal: int | str, *, all_processes: bool = False) -> list[str]:
        return self.argv("kill", *(["--all"] if all_processes else []), container_id, str(signal))

    def delete_argv(self, container_id: str, *, force: bool = False) -> list[str]:
        return self.argv("delete", *(["--force"] if force else []), container_id)

    def state_argv(self, container_id: str) -> list[str]:
        return self.argv("state", container_id)

    def ps_argv(self, container_id: str) -> list[str]:
        return self.argv("ps", "--format", "json", container_id)

    # -- running it ----------------------------------------------------------------------------

    def _run(self, argv: list[str], *, check: bool = True, timeout: float = CALL_TIMEOUT,
             env: dict | None = None) -> subprocess.CompletedProcess:
        log.debug(f"running {' '.join(argv)}")
        try:
            result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                    close_fds=True, timeout=timeout, env=env)
        except OSError as exc:
            raise RuntimeFailure(f"running {self.binary}: {exc.strerror or exc}") from exc
        except subprocess.TimeoutExpired as exc:
            raise RuntimeFailure(f"{' '.join(argv[1:])}: runc did not finish within {timeout:.0f} s") from exc
        if check and result.returncode != 0:
            raise error_from_runc(result.stderr or result.stdout)
        return result

    def exists(self, container_id: str) -> bool:
        return (self.root / container_id).exists()

    def start(self, container_id: str) -> None:
        # Under a unit's NOTIFY_SOCKET, runc start would bind a socket of its own (which `create`,
        # run by the shim without it, never made) and wait for the container's READY=1: only the
        # shim speaks to systemd (pyctr.systemd.notify).
        import os

        env = None
        if "NOTIFY_SOCKET" in os.environ:
            env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        self._run(self.argv("start", container_id), env=env)

    def kill(self, container_id: str, signal: int | str, *, all_processes: bool = False) -> None:
        self._run(self.kill_argv(container_id, signal, all_processes=all_processes))

    def delete(self, container_id: str, *, force: bool = False) -> None:
        result = self._run(self.delete_argv(container_id, force=force), check=False)
        if result.returncode != 0 and "not exist" not in result.stderr:
            raise error_from_runc(result.stderr)

    def state(self, container_id: str) -> dict | None:
        result = self._run(self.state_argv(container_id), check=False)
        if result.returncode != 0:
            return None
        return json.loads(result.stdout)

    def pause(self, container_id: str) -> None:
        self._run(self.argv("pause", container_id))

    def resume(self, container_id: str) -> None:
        self._run(self.argv("resume", container_id))

    def ps(self, container_id: str) -> list[int]:
        return json.loads(self._run(self.ps_argv(container_id)).stdout or "[]") or []

    def exec(self, container_id: str, process_file: str, *, tty: bool, detach: bool,
             stdin: Stream = None, stdout: Stream = None, stderr: Stream = None) -> int:
        """`runc exec`, waited for. stdin is /dev/null unless given; stdout and stderr are
        inherited unless given, except when detached: then /dev/null, so that the process
        does not hold the caller's output open (`$(pyctr exec -d ...)` would wait for it)."""
        quiet = subprocess.DEVNULL if detach else None
        argv = self.exec_argv(container_id, process_file, tty=tty, detach=detach)
        try:
            return subprocess.run(
                argv, stdin=subprocess.DEVNULL if stdin is None else stdin,
                stdout=quiet if stdout is None else stdout, stderr=quiet if stderr is None else stderr,
                close_fds=True,
            ).returncode
        except OSError as exc:
            raise RuntimeFailure(f"running {self.binary}: {exc.strerror or exc}") from exc

    def version(self) -> str:
        try:
            result = self._run([self.binary, "--version"], check=False, timeout=10)
        except RuntimeFailure:
            return ""
        lines = result.stdout.splitlines() if result.returncode == 0 else []
        return lines[0].strip() if lines else ""

    def spawn_create(self, container_id: str, bundle: str, *, pid_file: str, log: str | None = None,
                     console_socket: str | None = None, start: bool = False, create_args: Sequence[str] = (),
                     stdin: Stream = None, stdout: Stream = None, stderr: Stream = None,
                     preserve_fds: int = 0, preexec_fn=None) -> subprocess.Popen:
        """Start `runc create` (the shim's job) with the container's stdio and return at once;
        the caller waits for it and reads its error with `error_message(log, stderr)`.
        Raises OSError if runc cannot be run. With `preserve_fds` (run --preserve-fds),
        `preexec_fn` must place those fds at 3.. in the child, as for spawn_exec."""
        if preserve_fds:
            create_args = [*create_args, "--preserve-fds", str(preserve_fds)]
        argv = self.create_argv(container_id, bundle, pid_file=pid_file, log=log,
                                console_socket=console_socket, start=start, create_args=create_args)
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL if stdin is None else stdin,
                                stdout=stdout, stderr=stderr, close_fds=True, cwd="/",
                                pass_fds=tuple(range(3, 3 + preserve_fds)), preexec_fn=preexec_fn)

    def spawn_exec(self, container_id: str, process_file: str, *, pid_file: str, tty: bool,
                   log: str | None = None, console_socket: str | None = None, preserve_fds: int = 0,
                   stdin: Stream = None, stdout: Stream = None, stderr: Stream = None,
                   preexec_fn=None) -> subprocess.Popen:
        """Start `runc exec --detach` (an exec session's shim) and return at once, as
        spawn_create. With `preserve_fds`, `preexec_fn` must place those fds at 3.. in the child."""
        argv = self.exec_argv(container_id, process_file, tty=tty, detach=True, pid_file=pid_file,
                              console_socket=console_socket, preserve_fds=preserve_fds, log=log)
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL if stdin is None else stdin,
                                stdout=stdout, stderr=stderr, close_fds=True, cwd="/",
                                pass_fds=tuple(range(3, 3 + preserve_fds)), preexec_fn=preexec_fn)
