"""A container's end as its shim records it: the exit record (both shims), and the whole ending
as the idle pump (pyctr.shim.idle) does it without exec()ing the full shim again.

The pump ends a container itself because most containers end while their shim is idle (stop,
kill, rm -f of running containers): exec()ing the full shim only to record the exit would cost
each about 30 ms of CPU. It does what pyctr.shim.main.Shim does after the container's exit,
in the same order: drain the output (DRAIN_TIMEOUT), the exit record (atomic, then durable),
the published ports let go, the cleanup command waited for (CLEANUP_TIMEOUT), the exit frame
to any client that connects meanwhile, the attach socket removed. An exec session (its
exec_died event) is left to the full shim.

Loaded by the pump as a top-level module: posix, time and _socket only (json once it ends).
"""

import posix
import select
import time

DRAIN_TIMEOUT = 3.0  # as pyctr.shim.pump's
CLEANUP_TIMEOUT = 60.0  # as pyctr.shim.main's
EXIT = 3  # pyctr.shim.protocol.EXIT


def read_oom_kills(counter) -> int | None:
    """The OOM-kill count in a (file, key) of pyctr.shim.linux.oom_counter_file."""
    if counter is None:
        return None
    path, key = counter
    try:
        with open(path, "rb") as f:
            for line in f:
                name, _, value = line.partition(b" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        pass
    return None


def exit_record(status: int | None, *, oom: bool, started_at: float | None, finished_at: float) -> dict:
    """The exit record of a container whose init ended with wait status `status` (None: never reaped)."""
    code = posix.waitstatus_to_exitcode(status) if status is not None else 255
    sig = -code if code < 0 else None
    return {"exit_code": 128 + sig if sig else code, "signal": sig, "oom": oom,
            "started_at": started_at, "finished_at": finished_at}


def exit_frame(exit_code: int, sig: int | None) -> bytes:
    """pyctr.shim.protocol.encode_json(EXIT, ...), byte for byte."""
    payload = ('{"exit_code":%d,"signal":%s}' % (exit_code, "null" if sig is None else sig)).encode()
    return bytes([EXIT]) + len(payload).to_bytes(4, "big") + payload


class Ending:
    """The pump's ending of its container: run() never returns (the shim's exit code)."""

    def __init__(self, pump, state: dict, status: int) -> None:
        self.pump = pump
        self.state = state
        self.config = state["config"]
        self.status = status
        self.finished_at = time.time()
        self.frame = b""
        self.listener = None

    def run(self) -> None:
        pump, state = self.pump, self.state
        if state["stdin_fd"] is not None:
            _close(state["stdin_fd"])
        self._drain()
        counter = state["oom_counter"]
        counter = (counter[0], counter[1].encode("latin-1")) if counter else None
        after = read_oom_kills(counter)
        record = exit_record(self.status, oom=after is not None and after > state["oom_before"],
                             started_at=state["started_at"] or state["first_output_at"], finished_at=self.finished_at)
        pump.log.close()
        if pump.log.error is not None:
            pump.note(f"writing the log {self.config['log_path']}: {pump.log.error}")
        exit_file = self.config["exit_file"]
        directory, _, name = exit_file.rpartition("/")
        try:
            posix.unlink(f"{directory}/.{name}.reserve")  # (pyctr.shim.main's space for the record)
        except OSError:
            pass
        try:
            _write_record(exit_file, record)
        except OSError as exc:
            pump.note(f"writing the exit record {exit_file}: {exc}")
        for fd in state["held"]:  # before the cleanup: a restart by policy binds the ports again
            _close(fd)
        self.frame = exit_frame(record["exit_code"], record["signal"])
        self._make_durable(exit_file)
        self._cleanup()
        self._close_listener()
        raise SystemExit(record["exit_code"] & 0xFF)

    def _drain(self) -> None:
        """What is left in the outputs, until their writers are gone or DRAIN_TIMEOUT."""
        pump = self.pump
        poller = select.poll()
        for fd in pump.outputs:
            poller.register(fd, select.POLLIN)
        deadline = time.monotonic() + DRAIN_TIMEOUT
        open_fds = set(pump.outputs)
        while open_fds and (remaining := deadline - time.monotonic()) > 0:
            for fd, events in poller.poll(remaining * 1000):
                if not pump.log_output(fd):
                    poller.unregister(fd)
                    open_fds.discard(fd)
        for fd in pump.outputs:
            _close(fd)

    def _make_durable(self, path: str) -> None:
        try:
            for target, flags in ((path, posix.O_RDONLY), (path.rpartition("/")[0] or "/", posix.O_RDONLY | posix.O_DIRECTORY)):
                fd = posix.open(target, flags | posix.O_CLOEXEC)
                try:
                    posix.fsync(fd)
                finally:
                    posix.close(fd)
        except FileNotFoundError:
            pass  # removed meanwhile (rm -f)
        except OSError as exc:
            self.pump.note(f"syncing {path}: {exc}")

    def _cleanup(self) -> None:
        """The engine's cleanup command, waited for while late clients get the exit frame."""
        import _socket

        pump = self.pump
        self.listener = _socket.socket(fileno=pump.listener)
        self.listener.setblocking(False)
        argv = self.config["cleanup_argv"]
        cleanup = None
        if argv and self._settled(argv):
            argv = None
        if argv:
            for fd in self._our_fds():  # nothing of ours in the cleanup command (close_fds, as Popen's)
                posix.set_inheritable(fd, False)
            try:
                spawn = posix.posix_spawn if "/" in argv[0] else posix.posix_spawnp  # (Popen's search of PATH)
                cleanup = spawn(argv[0], argv, posix.environ, setsigmask=(),
                                setsigdef=(_signal_number("SIGPIPE"), _signal_number("SIGXFSZ")))
            except OSError as exc:
                pump.note(f"running the cleanup command {argv[0]}: {exc}")
        poller = select.poll()
        poller.register(pump.wakeup_r, select.POLLIN)
        poller.register(pump.listener, select.POLLIN)
        deadline = time.monotonic() + CLEANUP_TIMEOUT
        while cleanup is not None and (remaining := deadline - time.monotonic()) > 0:
            for fd, events in poller.poll(remaining * 1000):
                if fd == pump.listener:
                    self._serve_late_clients()
                else:
                    pump.drain_wakeup()
                    status = self._reap(cleanup)
                    if status is not None:
                        code = posix.waitstatus_to_exitcode(status)
                        if code != 0:
                            pump.note(f"the cleanup command exited with status {code}")
                        cleanup = None
        if cleanup is not None:  # left running: init adopts it once we exit
            pump.note(f"the cleanup command did not finish within {CLEANUP_TIMEOUT:.0f} s")
        self._serve_late_clients()

    def _settled(self, argv: list) -> bool:
        """pyctr.cleanup.settle_in_shim: whether the cleanup command has nothing left to do (the
        pump has ended, so the modules it needs no longer cost an idle shim anything)."""
        import sys

        try:
            sys.path.append(__file__.rsplit("/", 3)[0])  # the directory of the pyctr package
            from pyctr.cleanup import settle_in_shim

            return settle_in_shim(argv, posix.getpid())
        except Exception as exc:  # noqa: BLE001 - then the command decides
            self.pump.note(f"checking what is left to clean up: {exc!r}")
            return False

    def _our_fds(self) -> list:
        state = self.state
        fds = [state["dir_fd"], *state["wakeup"], self.pump.listener, self.pump.state_fd]
        return [fd for fd in fds if fd is not None and fd >= 0]

    @staticmethod
    def _reap(pid: int) -> int | None:
        """Reap every child that has ended (orphans too); the wait status of `pid` if it has."""
        found = None
        while True:
            try:
                got, status = posix.waitpid(-1, posix.WNOHANG)
            except ChildProcessError:
                return found
            if got == 0:
                return found
            if got == pid:
                found = status

    def _serve_late_clients(self) -> None:
        """Clients that connected after the exit: the exit frame at once, as the full shim does."""
        while True:
            try:
                fd, _ = self.listener._accept()
            except OSError:  # BlockingIOError: none left
                return
            try:
                posix.write(fd, self.frame)
            except OSError:
                pass
            _close(fd)

    def _close_listener(self) -> None:
        """Close the attach socket and unlink it, unless a newer shim (restart policy) has replaced it."""
        self.listener.close()
        dir_fd = self.state["dir_fd"]
        try:
            if posix.stat("attach", dir_fd=dir_fd).st_ino == self.state["socket_ino"]:
                posix.unlink("attach", dir_fd=dir_fd)
        except OSError:
            pass


def _write_record(path: str, record: dict) -> None:
    """As pyctr.linux.fsutil.atomic_write_json(path, record, durable=False)."""
    import json

    directory, _, name = path.rpartition("/")
    try:
        posix.mkdir(directory, 0o755)
    except FileExistsError:
        pass
    data = json.dumps(record, indent=1, sort_keys=True).encode() + b"\n"
    tmp = f"{directory}/.{name}.tmp-{posix.getpid()}-{posix.urandom(4).hex()}"
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC, 0o600)
    try:
        posix.fchmod(fd, 0o644)
        view = memoryview(data)
        while view:
            view = view[posix.write(fd, view):]
    finally:
        posix.close(fd)
    try:
        posix.rename(tmp, path)
    except OSError:
        posix.unlink(tmp)
        raise


def _close(fd: int) -> None:
    try:
        posix.close(fd)
    except OSError:
        pass


def _signal_number(name: str) -> int:
    import _signal

    return getattr(_signal, name)
