"""Running `runc create` for the shim, with the container's stdio wired to the shim.

Without a terminal the container inherits runc's own stdio: stdin is a pipe
(or /dev/null) and stdout/stderr are pipes the shim keeps reading. With a
terminal, runc sends the pty master over a console socket, and its own
stdout/stderr are a pipe of their own. With --log-driver passthrough, runc's
stdio (and so the container's) is the engine's caller's own fds 0-2, which the
shim closes once runc has them: nothing to read, log or attach to. Either way runc's log (warnings, the
error) goes to a file in state_dir, so it stays out of the container's log.
runc's command line and its log format belong to pyctr.runtime.runc.
"""

from __future__ import annotations

import fcntl
import os
import selectors
import socket
import subprocess
import time

from pyctr.runtime.runc import Runc, error_message

CREATE_TIMEOUT = 300.0  # createRuntime hooks may be slow, but not forever
CONSOLE_SOCKET = "console.sock"
RUNC_LOG = "runc-create.log"


class CreateFailed(Exception):
    """`runc create` failed; the message is runc's own, fit for the user."""


class Created:
    """The container after a successful `runc create`: its init pid and the shim's ends of its stdio."""

    def __init__(self, pid: int, outputs: list[tuple[int, str]], stdin_fd: int | None,
                 master_fd: int | None, early: list[tuple[str, bytes]]):
        self.pid = pid
        self.outputs = outputs      # (fd to read, "stdout" | "stderr")
        self.stdin_fd = stdin_fd    # write end of the stdin pipe, or a dup of the pty master
        self.master_fd = master_fd  # pty master (terminal mode)
        self.early = early          # what runc itself printed on the container's streams


class _Stdio:
    """The fds of one `runc create`: the ends runc inherits, and the shim's."""

    def __init__(self, config, caller_stdio: list[int] = ()):
        self.theirs: list[int] = []          # closed in the shim once runc runs
        self.streams: dict[int, str] = {}    # our read ends: "stdout"/"stderr", or "runc"
        self.stdin_w: int | None = None
        if config.passthrough:
            self.theirs = list(caller_stdio)
            self.argv_stdio = tuple(caller_stdio)
            return
        if config.terminal:
            out_r, out_w = self._pipe()
            self.streams[out_r] = "runc"
            self.argv_stdio = (subprocess.DEVNULL, out_w, out_w)
            return
        stdin_r = subprocess.DEVNULL
        if config.stdin:
            stdin_r, self.stdin_w = self._pipe(ours=1)
        out_r, out_w = self._pipe()
        err_r, err_w = self._pipe()
        self.streams.update({out_r: "stdout", err_r: "stderr"})
        self.argv_stdio = (stdin_r, out_w, err_w)

    def _pipe(self, ours: int = 0) -> tuple[int, int]:
        pipe = os.pipe()
        self.theirs.append(pipe[1 - ours])
        return pipe

    def close_theirs(self) -> None:
        for fd in self.theirs:
            os.close(fd)
        self.theirs.clear()

    def close_all(self) -> None:
        self.close_theirs()
        for fd in [*self.streams, *([self.stdin_w] if self.stdin_w is not None else [])]:
            os.close(fd)
        self.streams.clear()
        self.stdin_w = None


def create(config, dir_fd: int, wakeup_fd: int, passed_fds: list[int] = ()) -> Created:
    """Run `runc create` (with config.exec_process: `runc exec --detach`) and wait for it,
    reading its output meanwhile.

    `dir_fd` is an fd of config.state_dir; `wakeup_fd` becomes readable on SIGCHLD;
    `passed_fds` (exec --preserve-fds) become fds 3.. of the process; they are closed here.
    With config.passthrough, the first three of `passed_fds` are the caller's stdio.
    """
    caller_stdio, passed_fds = _split_stdio(config, list(passed_fds))
    runc_log = os.path.join(config.state_dir, RUNC_LOG)
    pid_file = os.path.join(config.state_dir, "pid")
    # The engine's runc_extra_args come after our --log, so they may override it.
    runc = Runc(config.runc_root, config.runc, extra_args=config.runc_extra_args)
    console = master_fd = None
    console_path = None
    stdio = _Stdio(config, caller_stdio)
    try:
        if config.terminal:
            console = _console_listener(dir_fd)
            # runc chdirs to the bundle, and socket paths stop at 108 bytes: reach the
            # socket through our own fd of state_dir, whatever its length.
            console_path = f"/proc/{os.getpid()}/fd/{dir_fd}/{CONSOLE_SOCKET}"
        open(runc_log, "wb").close()  # only this run's messages
        try:
            if config.exec_process:
                proc = _spawn_exec(runc, config, pid_file, runc_log, console_path, stdio, passed_fds)
            else:
                proc = _with_fds(passed_fds, lambda count, place: runc.spawn_create(
                    config.id, config.bundle, pid_file=pid_file, log=runc_log,
                    console_socket=console_path, start=config.start, create_args=config.runc_create_args,
                    stdin=stdio.argv_stdio[0], stdout=stdio.argv_stdio[1], stderr=stdio.argv_stdio[2],
                    preserve_fds=count, preexec_fn=place))
        except OSError as exc:
            raise CreateFailed(f"running {config.runc}: {exc.strerror or exc}") from exc
        finally:
            for fd in passed_fds:  # runc has its copies (or failed): ours would keep pipes open
                os.close(fd)
        stdio.close_theirs()
        output, master_fd = _wait(proc, stdio.streams, console, wakeup_fd)
        if proc.returncode != 0:
            said = error_message(_read_log(runc_log), b"".join(data for _, data in output))
            raise CreateFailed(said or f"runc create failed with exit status {proc.returncode}")
        if config.terminal and master_fd is None:
            raise CreateFailed("runc did not send the pty master on the console socket")
        pid = _read_pid(pid_file)
    except BaseException:
        stdio.close_all()
        if master_fd is not None:
            os.close(master_fd)
        raise
    finally:
        if console is not None:
            console.close()
            try:
                os.unlink(CONSOLE_SOCKET, dir_fd=dir_fd)
            except OSError:
                pass
    early = [(stream, data) for stream, data in output if stream != "runc"]
    if not config.terminal:
        return Created(pid, list(stdio.streams.items()), stdio.stdin_w, None, early)
    stdio.close_all()  # runc's own output pipe
    # A second fd on the master for stdin, so the event loop can watch both directions.
    stdin_fd = os.dup(master_fd) if config.stdin else None
    return Created(pid, [(master_fd, "stdout")], stdin_fd, master_fd, early)


def _split_stdio(config, fds: list[int]) -> tuple[list[int], list[int]]:
    """passthrough: (the caller's fds 0-2, the preserved ones); refused on a terminal, as conmon
    refuses it (a process given a terminal can type into it: TIOCSTI)."""
    if not config.passthrough:
        return [], fds
    problem = None
    if len(fds) < 3:
        problem = "the caller's stdio did not reach the shim (--log-driver passthrough)"
    elif config.terminal:
        problem = "the '--log-driver passthrough' option cannot be used with --tty"
    elif any(os.isatty(fd) for fd in fds[:3]):
        problem = "cannot use a tty with passthrough logging mode to prevent attacks via TIOCSTI"
    if problem:
        for fd in fds:
            os.close(fd)
        raise CreateFailed(problem)
    return fds[:3], fds[3:]


def _spawn_exec(runc: Runc, config, pid_file: str, runc_log: str, console_path: str | None,
                stdio: "_Stdio", passed_fds) -> subprocess.Popen:
    """`runc exec --detach`; its process is re-parented to us (the subreaper) when runc exits."""
    return _with_fds(passed_fds, lambda count, place: runc.spawn_exec(
        config.id, config.exec_process, pid_file=pid_file, tty=config.terminal, log=runc_log,
        console_socket=console_path, preserve_fds=count,
        stdin=stdio.argv_stdio[0], stdout=stdio.argv_stdio[1], stderr=stdio.argv_stdio[2], preexec_fn=place))


def _with_fds(passed_fds, spawn) -> subprocess.Popen:
    """spawn(count, preexec_fn or None), with `passed_fds` placed at 3.. in the child (exec and
    run --preserve-fds)."""
    count = len(passed_fds)
    # The fds go to 3..3+count-1 in the child: first out of that range here, so that no
    # dup2 there overwrites a source; and that range must be open here (subprocess keeps it).
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3 + count + 16) for fd in passed_fds]
    fillers = []
    try:
        for target in range(3, 3 + count):
            try:
                os.fstat(target)
            except OSError:
                fillers.append(os.open(os.devnull, os.O_RDONLY))  # lowest free number: `target`

        def place() -> None:
            for target, fd in enumerate(high, start=3):
                os.dup2(fd, target)  # inheritable

        return spawn(count, place if count else None)
    finally:
        for fd in high + fillers:
            os.close(fd)


def _console_listener(dir_fd: int) -> socket.socket:
    try:
        os.unlink(CONSOLE_SOCKET, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(f"/proc/self/fd/{dir_fd}/{CONSOLE_SOCKET}")
    sock.listen(1)
    sock.setblocking(False)
    return sock


def _wait(proc: subprocess.Popen, streams: dict[int, str], console, wakeup_fd: int):
    """Wait for runc to exit, collecting its output and the pty master. -> (output, master_fd)"""
    output: list[tuple[str, bytes]] = []
    master_fd = None
    deadline = time.monotonic() + CREATE_TIMEOUT
    with selectors.DefaultSelector() as sel:
        for fd in streams:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        sel.register(wakeup_fd, selectors.EVENT_READ)
        if console is not None:
            sel.register(console, selectors.EVENT_READ)
        while proc.poll() is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                proc.kill()
                proc.wait()
                raise CreateFailed(f"runc create did not finish within {CREATE_TIMEOUT:.0f} s")
            for key, _ in sel.select(min(remaining, 1.0)):
                if key.fileobj is console:
                    master_fd = _receive_master(console) if master_fd is None else master_fd
                elif key.fd == wakeup_fd:
                    _drain(wakeup_fd)
                elif not _read_into(key.fd, streams[key.fd], output):
                    sel.unregister(key.fd)
    for fd, stream in streams.items():
        _read_into(fd, stream, output)  # what runc wrote just before exiting
    if console is not None and master_fd is None:
        master_fd = _receive_master(console)
    return output, master_fd


def _read_into(fd: int, stream: str, output: list) -> bool:
    """Read what is there now; False at EOF."""
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not data:
            return False
        output.append((stream, data))


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _receive_master(console: socket.socket) -> int | None:
    try:
        conn, _ = console.accept()
    except BlockingIOError:
        return None
    with conn:
        conn.settimeout(5)
        _, fds, _, _ = socket.recv_fds(conn, 4096, 4)
    for extra in fds[1:]:
        os.close(extra)
    if not fds:
        return None
    os.set_inheritable(fds[0], False)
    return fds[0]


def _read_pid(pid_file: str) -> int:
    try:
        with open(pid_file) as f:
            return int(f.read().strip())
    except (OSError, ValueError) as exc:
        raise CreateFailed(f"reading runc's pid file {pid_file}: {exc}") from exc


def _read_log(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""
