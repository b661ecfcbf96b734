"""The terminal end of an attached session: proxy the user's stdio to the container until it exits or we detach."""

from __future__ import annotations

import contextlib
import os
import sys

from pyctr.cli import terminal


def proxy_session(eng, session, *, sig_proxy: bool, detach_keys: str, stdin: bool | None = None,
                  streams: tuple[str, ...] = ("stdout", "stderr")) -> int | None:
    """Returns the container's exit code, or None when the user detached. `streams`: the output
    streams shown (run -a)."""
    keys = terminal.parse_detach_keys(detach_keys)
    stdin = session.stdin if stdin is None else stdin
    client, tty = session.client, session.tty
    client.start_buffering()  # nothing we send may block, nor fail because the container has already ended
    send_size(client, tty)

    def forward(signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(session.pid, signum)

    in_fd = terminal.stdin_fd()
    with contextlib.ExitStack() as stack:
        if stdin and terminal.detach_keys_apply(tty, in_fd):  # typing into a terminal container
            stack.enter_context(terminal.raw_terminal(in_fd))
        if sig_proxy and not tty:
            stack.enter_context(terminal.forwarding_signals(forward))
        try:
            exit_frame = terminal.proxy(client, stdin=stdin, tty=tty, detach_keys=keys,
                                        on_resize=lambda: send_size(client, tty), streams=streams)
        except terminal.Detached:
            client.close()
            return None
    client.close()
    if exit_frame is not None:
        return int(exit_frame.get("exit_code", 0))
    if getattr(session, "exec_id", ""):
        return eng.containers.exec_exit_code(session.exec_id)
    return eng.containers.exit_code(session.container.id)


def user_terminal_size() -> tuple[int, int] | None:
    in_fd = terminal.stdin_fd()
    return terminal.terminal_size(sys.stdout.fileno()) or (terminal.terminal_size(in_fd) if in_fd is not None else None)


def send_size(client, tty: bool) -> None:
    size = user_terminal_size() if tty else None
    if size:
        client.resize(*size)
