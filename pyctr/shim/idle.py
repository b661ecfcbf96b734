"""The idle pump: what a container's shim becomes while nothing but the container's output is
left to serve (started by pyctr.shim.handoff; DESIGN.md, "The shim contract").

A full shim holds about 7 MiB (json, socket, subprocess, python-daemon, ...). Once the
container runs, no client is attached and nothing is pending, the shim exec()s this module in
the same process: the same pid, so it stays the container's parent (the subreaper), and its
pid file, the engine's record of it and a unit's MAINPID stay true. It runs as
`python -I -S -c BOOT DIR ...`, with only built-in modules (posix, select, time, _signal) and
pyctr.shim.klog loaded from beside it: about 2.5 MiB.

It does the idle shim's job: the container's output to the k8s-file log (klog's records and
size limit), and the container's end (pyctr.shim.ending: exit record, cleanup command, exit
frame for late clients). Anything else (an attach client connecting) makes it exec the full
shim again, `python -m pyctr.shim --resume FD`, every fd passed on: the full
shim takes over where it left off, with the state the memfd FD holds (pyctr.shim.handoff).

Imported by the shim only for its constants and exec_blocked(); in the pump, as a top-level
module: no os, no pyctr imports. Its arguments:
    pid=N state=FD wakeup=R,W listener=FD dir=FD log=FD,MAX [out=FD:STREAM ...] -- FULL_SHIM_ARGV...
"""

import _signal
import posix
import select
import sys
import time

# Handled by a shim rather than fatal to it (pyctr.shim.main.signal_map), and SIGCHLD, which
# wakes it. Blocked across each exec between the two shims: a handler does not survive exec,
# a mask does, so a SIGTERM meanwhile waits for the next handler instead of killing the shim.
HANDLED = ("SIGINT", "SIGHUP", "SIGTERM", "SIGQUIT", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGUSR1", "SIGUSR2")
# `python -I -S -c BOOT DIR ARGS...`: imported from DIR rather than run as a script, so that it
# comes from its cached .pyc; compiling the source would cost the pump a fifth of its memory.
BOOT = "import sys; sys.path[:0] = [sys.argv.pop(1)]; import idle; idle.main(sys.argv[1:])"
RETRY_DELAY = 1.0  # the full shim could not be exec'd (pyctr removed meanwhile?): go on, try again
READ_SIZE = 65536


def crossing_signals() -> set:
    return {getattr(_signal, name) for name in HANDLED} | {_signal.SIGCHLD}


def exec_blocked(argv: list) -> None:
    """exec argv with crossing_signals() blocked; returns (signals unblocked) only if exec failed."""
    signals = crossing_signals()
    _signal.pthread_sigmask(_signal.SIG_BLOCK, signals)
    try:
        posix.execv(argv[0], argv)
    finally:
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, signals)


def _ignore(signum, frame) -> None:
    pass


def parse(argv: list) -> dict:
    """The arguments -> {"pid", "state", "wakeup": (r, w), "listener", "dir", "log": (fd, max),
    "out": {fd: stream}, "full"}."""
    split = argv.index("--")
    args = {"out": {}, "full": argv[split + 1:]}
    for arg in argv[:split]:
        key, _, value = arg.partition("=")
        if key == "out":
            fd, _, stream = value.partition(":")
            args["out"][int(fd)] = stream
        elif key in ("wakeup", "log"):
            args[key] = tuple(int(part) for part in value.split(","))
        else:
            args[key] = int(value)
    return args


class IdlePump:
    def __init__(self, args: dict, log) -> None:
        self.pid = args["pid"]
        self.state_fd = args["state"]
        self.wakeup_r = args["wakeup"][0]
        self.listener = args["listener"]
        self.dir_fd = args["dir"]
        self.outputs = args["out"]
        self.full = args["full"]
        self.log = log
        self.failed = False  # exec of the full shim failed once (noted in shim.log)
        self.poller = select.poll()
        for fd in (*self.outputs, self.listener, self.wakeup_r):
            self.poller.register(fd, select.POLLIN)

    def run(self) -> None:
        """Log output until something else happens, then hand over to the full shim (exec)."""
        pending = None
        if self._child_ended():  # (before we were listening)
            self.end()
            pending = "a child ended"
        while True:
            if pending is not None:
                self.hand_over(pending)  # returns only if exec failed: the event stays pending
            for fd, events in self.poller.poll(None if pending is None else RETRY_DELAY * 1000):
                if fd in self.outputs:
                    if not self.log_output(fd):
                        # Its writers are gone (the container is ending, or closed it): no more
                        # polling it. Left open: the full shim or the ending reads its end again.
                        self.poller.unregister(fd)
                elif fd == self.wakeup_r:
                    self.drain_wakeup()
                    if self._child_ended():
                        self.end()  # (returns only if the full shim is to end it)
                        pending = "a child ended"
                else:
                    pending = "a client connected"  # on the listener: the full shim accepts it

    def log_output(self, fd: int) -> bool:
        """Log what there is to read on `fd`; False at its end."""
        try:
            data = posix.read(fd, READ_SIZE)
        except BlockingIOError:
            return True
        except OSError:  # EIO: the pty has no slave left, i.e. end of file
            return False
        if data:
            self.log.write(self.outputs[fd], data)
        return bool(data)

    def drain_wakeup(self) -> None:
        try:
            while posix.read(self.wakeup_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _child_ended(self) -> bool:
        """Whether the container has exited (left unreaped for the full shim); other children
        (orphans adopted as subreaper) are reaped here, as the full shim does."""
        while True:
            try:
                info = posix.waitid(posix.P_ALL, 0, posix.WEXITED | posix.WNOHANG | posix.WNOWAIT)
            except ChildProcessError:
                return True  # not even the container: let the full shim make sense of it
            if info is None or info.si_pid == 0:
                return False
            if info.si_pid == self.pid:
                return True
            try:
                posix.waitpid(info.si_pid, posix.WNOHANG)
            except ChildProcessError:
                pass

    def end(self) -> None:
        """The container has exited: end it here (pyctr.shim.ending; never returns), or return to
        leave it to the full shim (an exec session; a state that does not read)."""
        try:
            import json

            import ending  # beside this file, as klog

            state = json.loads(_read_all(self.state_fd))
            if state["config"]["exec_process"]:
                return
        except Exception as exc:  # noqa: BLE001 - the full shim ends it then
            self.note(f"idle shim: reading the handed-over state: {exc!r}")
            return
        try:
            _, status = posix.waitpid(self.pid, 0)
        except ChildProcessError:
            return
        try:
            ending.Ending(self, state, status).run()
        except Exception as exc:  # noqa: BLE001 - a bug: the exit status is lost with the process
            self.note(f"idle shim: ending the container: {exc!r}")
            raise SystemExit(255) from None

    def hand_over(self, why: str) -> None:
        """exec the full shim; if that fails, note it (once) and wait a little before the caller
        pumps on and tries again: output is never left unlogged for long."""
        try:
            exec_blocked(self.full)
        except OSError as exc:
            if not self.failed:
                self.failed = True
                self.note(f"idle shim: {why}, but running the full shim {self.full[0]} failed: {exc}")
            time.sleep(RETRY_DELAY)

    def note(self, message: str) -> None:
        """A line in state_dir/shim.log (as the full shim's notes)."""
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} pid {posix.getpid()}: {message}\n"
        try:
            fd = posix.open("shim.log", posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT | posix.O_CLOEXEC,
                            0o600, dir_fd=self.dir_fd)
            try:
                posix.write(fd, line.encode(errors="replace"))
            finally:
                posix.close(fd)
        except OSError:
            pass


def _read_all(fd: int) -> bytes:
    """The whole file `fd`, without moving its offset (the full shim reads it from the start)."""
    chunks = []
    while chunk := posix.pread(fd, 1 << 16, sum(map(len, chunks))):
        chunks.append(chunk)
    return b"".join(chunks)


def main(argv: list) -> None:
    args = parse(argv)
    import klog  # beside this file (BOOT put its directory first on sys.path)

    for name in HANDLED:
        _signal.signal(getattr(_signal, name), _ignore)
    _signal.signal(_signal.SIGCHLD, _ignore)
    _signal.set_wakeup_fd(args["wakeup"][1], warn_on_full_buffer=False)
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, crossing_signals())  # blocked by the shim that exec'd us
    log_fd, log_max = args["log"]
    IdlePump(args, klog.LogWriter(None, log_max, fd=log_fd)).run()


if __name__ == "__main__":  # (by hand: `python -I -S idle.py ARGS`)
    sys.path.insert(0, __file__.rpartition("/")[0])
    main(sys.argv[1:])
