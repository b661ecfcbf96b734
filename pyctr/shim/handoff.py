"""Handing a running container between the full shim and the idle pump (pyctr.shim.idle) by exec().

go_idle(): once nothing but output is left to serve, the full shim writes what it knows (its
config, its fds, the container's pid and times) into a memfd and exec()s the idle pump, every
fd of the container's passed on. The pump exec()s `python -m pyctr.shim --resume FD` when
anything else happens; resume() builds the Shim and its Pump again from that state (no
`runc create`, no sync, no start record: all done) and serves on, until the exit and cleanup
or the next idle spell. Same process throughout: pid, parent, children, pid file, start time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

from pyctr.shim import config as shim_config
from pyctr.shim import idle

# Where the pump's module is: beside this one (in the one-file build too, whose payload is
# unpacked into a plain directory of modules and their .pyc, pyctr.dist.boot).
HERE = os.path.dirname(os.path.abspath(__file__))


def idle_argv(shim, pump, state_fd: int) -> list[str]:
    from pyctr import dist

    argv = [sys.executable, "-I", "-S", "-c", idle.BOOT, HERE, f"pid={pump.container_pid}", f"state={state_fd}",
            f"wakeup={shim.wakeup_r},{shim.wakeup_w}", f"listener={pump.listener.fileno()}",
            f"dir={shim.dir_fd}", f"log={shim.log.fd},{shim.log.max_size or -1}"]
    argv += [f"out={fd}:{stream}" for fd, stream in pump.outputs.items()]
    return [*argv, "--", *dist.module_argv("pyctr.shim"), "--resume", str(state_fd)]


def state_of(shim, pump) -> dict:
    cfg = shim.config
    return {
        "config": {name: getattr(cfg, name) for name in shim_config.FIELDS},
        "dir_fd": shim.dir_fd, "socket_ino": shim.socket_ino, "wakeup": [shim.wakeup_r, shim.wakeup_w],
        "held": shim.held_fds, "oom_before": shim.oom_before,
        "oom_counter": [shim.oom_counter[0], shim.oom_counter[1].decode("latin-1")] if shim.oom_counter else None,
        "log": [shim.log.fd, cfg.log_size_max], "listener": pump.listener.fileno(),
        "container_pid": pump.container_pid, "outputs": [[fd, stream] for fd, stream in pump.outputs.items()],
        "stdin_fd": pump.stdin_fd, "master_fd": pump.master_fd,
        "started_at": pump.started_at, "first_output_at": pump.first_output_at,
    }


def _fds(state: dict) -> list[int]:
    """Every fd the shim holds for the container, as the state names them, and its stdio (/dev/null,
    but close-on-exec as python-daemon left it: an exec without them would give the next file opened fd 0)."""
    fds = [0, 1, 2, state["dir_fd"], *state["wakeup"], *state["held"], state["log"][0], state["listener"],
           *(fd for fd, _ in state["outputs"]), state["stdin_fd"], state["master_fd"]]
    return [fd for fd in fds if fd is not None and fd >= 0]


def go_idle(shim, pump) -> None:
    """exec the idle pump; returns only if that failed (OSError), everything as it was."""
    state = state_of(shim, pump)
    fds = _fds(state)
    state_fd = os.memfd_create("pyctr-shim-state", 0)
    try:
        os.write(state_fd, json.dumps(state).encode())
        os.lseek(state_fd, 0, os.SEEK_SET)
        for fd in [*fds, state_fd]:
            os.set_inheritable(fd, True)
        idle.exec_blocked(idle_argv(shim, pump, state_fd))
    finally:  # (only after a failed exec)
        for fd in fds:
            os.set_inheritable(fd, False)
        os.close(state_fd)


def resume(state_fd: int):
    """The Shim and its Pump again, from the state the pump passed back; -> (shim, pump)."""
    from pyctr.shim.klog import LogWriter
    from pyctr.shim.main import Shim
    from pyctr.shim.pump import Pump
    from pyctr.shim.runc import Created

    with os.fdopen(state_fd, "rb") as f:
        state = json.load(f)
    for fd in _fds(state):
        os.set_inheritable(fd, False)  # neither the cleanup command nor a health check's runc gets them
    cfg = shim_config.ShimConfig.from_raw(state["config"], "the handed-over state")
    shim = Shim(cfg, (), state["held"])
    shim.sync_fd = None  # reported long ago
    shim.dir_fd = state["dir_fd"]
    shim.socket_ino = state["socket_ino"]
    shim.wakeup_r, shim.wakeup_w = state["wakeup"]
    shim.oom_before = state["oom_before"]
    counter = state["oom_counter"]
    shim.oom_counter = (counter[0], counter[1].encode("latin-1")) if counter else None
    shim.log = LogWriter(None, state["log"][1], fd=state["log"][0])
    shim.listener = socket.socket(fileno=state["listener"])
    outputs = [(fd, stream) for fd, stream in state["outputs"]]
    created = Created(state["container_pid"], outputs, state["stdin_fd"], state["master_fd"], early=[])
    _restore_signals(shim.wakeup_w)
    pump = Pump(created=created, log=shim.log, listener=shim.listener, wakeup_fd=shim.wakeup_r,
                terminal=cfg.terminal, start_watch_fd=None)
    pump.started_at = state["started_at"]
    pump.first_output_at = state["first_output_at"]
    return shim, pump


def _restore_signals(wakeup_w: int) -> None:
    """The handlers of a detached shim (exec reset them), then let in what waited meanwhile."""
    from pyctr.shim.main import signal_map

    for signum, handler in signal_map().items():
        signal.signal(signum, signal.SIG_IGN if handler is None else handler)
    signal.set_wakeup_fd(wakeup_w, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, idle.crossing_signals())
