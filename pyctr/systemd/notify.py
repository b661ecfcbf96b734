"""A tiny sd_notify client and the plan for `--sdnotify` (conmon, container, ignore).

Under a `Type=notify` unit systemd puts the socket in $NOTIFY_SOCKET. With `conmon` the shim
says `MAINPID=<shim>` and `READY=1` once the container runs; with `container` the shim says
`MAINPID=<shim>` and passes on what the container says through a socket of its own, bind-mounted
into the container at CONTAINER_SOCKET (the shim is in the unit's cgroup, the container's
processes may not be, and an abstract host socket cannot be mounted at all); with `ignore`,
or without NOTIFY_SOCKET, nothing. Standard library only (the shim imports it).
"""

from __future__ import annotations

import os
import socket

ENV = "NOTIFY_SOCKET"
CONTAINER_SOCKET = "/run/notify/notify.sock"  # where the container finds the shim's socket (as podman's)
PROXY_NAME = "notify.sock"  # the shim's socket, in the container's state directory
MODES = ("conmon", "container", "ignore")


def address(path: str) -> str | bytes:
    """The socket address of a NOTIFY_SOCKET value: a path, or an abstract name written `@name`."""
    return b"\0" + path[1:].encode() if path.startswith("@") else path


def send(path: str, message: str) -> None:
    """One datagram to the socket (raises OSError when nobody listens)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address(path))
        sock.sendall(message.encode())


def host_socket(mode: str, environ=None) -> str:
    """The socket the shim notifies for a container run with --sdnotify `mode`; "" for none."""
    environ = os.environ if environ is None else environ
    return environ.get(ENV, "") if mode in ("conmon", "container") else ""


def proxy_path(mode: str, state_dir, environ=None) -> str:
    """The shim's socket that the container gets (--sdnotify container under NOTIFY_SOCKET); "" for none."""
    if mode != "container" or not host_socket(mode, environ):
        return ""
    return os.path.join(str(state_dir), PROXY_NAME)


def relay(message: bytes) -> str:
    """What the shim passes on of a container's message: every assignment but MAINPID (the
    container's pid means nothing to systemd: the shim is the unit's main process)."""
    lines = message.decode(errors="replace").split("\n")
    kept = [line for line in lines if line and not line.startswith("MAINPID=")]
    return "\n".join(kept)
