"""An attached session: start (or join) a container and proxy its stdio until it exits or we detach."""

from __future__ import annotations

import contextlib
import os
import sys

from pyctr.cli import terminal


def run_attached(eng, record, *, sig_proxy: bool, detach_keys: str, start: bool, stdin: bool | None = None, shim=None) -> int | None:
    """Returns the container's exit code, or None when the user detached."""
    from pyctr.runtime import attach

    keys = terminal.parse_detach_keys(detach_keys)
    stdin = record.stdin if stdin is None else stdin
    holder: dict = {}

    def connect(state_dir) -> None:
        holder["client"] = attach.AttachClient(attach.connect(str(state_dir)))
        _send_size(holder["client"], record.tty)

    if start:
        size = _user_terminal_size() if record.tty else None
        started = eng.tasks.start(record, attach=True, shim=shim, console_size=size)
        pid = started.pid
        if started.client is not None:
            holder["client"] = attach.AttachClient(started.client)
            _send_size(holder["client"], record.tty)
        else:  # it was already running: join it
            connect(started.state_dir)
    else:
        status = eng.containers.status(record.id)
        if status.state not in ("running", "paused"):
            from pyctr.errors import ContainerStateError

            raise ContainerStateError(f"you can only attach to running containers: {record.name} is {status.state}")
        pid = status.pid
        connect(eng.containers.state_dir(record.id))
    client = holder["client"]

    def forward(signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)

    interactive_tty = record.tty and stdin and os.isatty(sys.stdin.fileno())
    with contextlib.ExitStack() as stack:
        if interactive_tty:
            stack.enter_context(terminal.raw_terminal(sys.stdin.fileno()))
        if sig_proxy and not record.tty:
            stack.enter_context(terminal.forwarding_signals(forward))
        try:
            exit_frame = terminal.proxy(
                client, stdin=stdin, tty=record.tty, detach_keys=keys,
                on_resize=lambda: _send_size(client, record.tty),
            )
        except terminal.Detached:
            client.close()
            return None
    client.close()
    if exit_frame is not None:
        return int(exit_frame.get("exit_code", 0))
    status = eng.tasks.wait(record)
    return status.exit_code if status else 0


def _user_terminal_size() -> tuple[int, int] | None:
    return terminal.terminal_size(sys.stdout.fileno()) or terminal.terminal_size(sys.stdin.fileno())


def _send_size(client, tty: bool) -> None:
    size = _user_terminal_size() if tty else None
    if size:
        client.resize(*size)
