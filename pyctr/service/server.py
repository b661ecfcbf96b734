"""Where the service listens (a unix socket, 127.0.0.1:PORT, or a socket systemd passed us) and
when it stops (after `idle` seconds without a request in flight; 0: never)."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from pyctr.errors import InvalidArgument

if TYPE_CHECKING:
    from pyctr.engine import Engine

SD_LISTEN_FDS_START = 3


def default_uri() -> str:
    """podman's places: /run/pyctr/pyctr.sock as root, $XDG_RUNTIME_DIR/pyctr/pyctr.sock rootless
    (not derived from --runroot: clients find the socket where they expect it)."""
    from pyctr import config

    if not config.is_rootless():  # (uid 0 in the user's namespace is rootless)
        return "unix:///run/pyctr/pyctr.sock"
    return f"unix://{config.runtime_dir() / 'pyctr' / 'pyctr.sock'}"


def parse_uri(uri: str) -> tuple[str, str | tuple[str, int]]:
    """("unix", path) or ("tcp", (host, port))."""
    if uri.startswith("unix://"):
        path = uri[len("unix://"):]
        if not path.startswith("/"):
            raise InvalidArgument(f"{uri}: the socket path must be absolute (unix:///PATH)")
        return "unix", path
    if uri.startswith("tcp://"):
        host, _, port = uri[len("tcp://"):].rstrip("/").rpartition(":")
        if not host or not port.isdigit():
            raise InvalidArgument(f"{uri}: expected tcp://HOST:PORT")
        return "tcp", (host.strip("[]"), int(port))
    scheme = uri.partition("://")[0] if "://" in uri else ""
    raise InvalidArgument(f'API Service endpoint scheme "{scheme}" is not supported. Try tcp://{uri} or unix:/{uri}')


def activated_socket() -> socket.socket | None:
    """The first socket systemd passed us (LISTEN_FDS, LISTEN_PID), if any."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or int(os.environ.get("LISTEN_FDS") or 0) < 1:
        return None
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):  # not for our children
        os.environ.pop(name, None)
    os.set_inheritable(SD_LISTEN_FDS_START, False)
    return socket.socket(fileno=SD_LISTEN_FDS_START)


def _unix_listener(path: str) -> socket.socket:
    """A fresh socket at `path` (a stale one left by a dead service is replaced), mode 0660."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o117)  # never reachable by others, not even between bind and chmod
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, 0o660)
    return sock


def listener(uri: str | None) -> tuple[socket.socket, str]:
    """The listening socket, and what it is (for the log); systemd's wins over `uri`."""
    sock = activated_socket()
    if sock is not None:
        return sock, "the socket systemd passed"
    uri = uri or default_uri()
    kind, where = parse_uri(uri)
    if kind == "unix":
        sock = _unix_listener(where)
    else:
        sock = socket.socket(socket.AF_INET6 if ":" in where[0] else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(where)
    sock.listen(128)
    return sock, uri


def serve(make_engine: "Callable[[], Engine]", uri: str | None, idle: float) -> None:
    """Serve until idle for `idle` seconds (0: until killed); `make_engine()` once the socket
    listens (a socket that cannot be made fails first)."""
    sock, where = listener(uri)
    from aiohttp.web import GracefulExit

    try:
        engine = make_engine()
        asyncio.run(_serve(engine, sock, idle))
    except (GracefulExit, KeyboardInterrupt):  # SIGTERM, SIGINT: a clean stop
        pass
    finally:
        if where.startswith("unix://"):
            try:
                os.unlink(where[len("unix://"):])
            except OSError:
                pass


async def _serve(engine: "Engine", sock: socket.socket, idle: float) -> None:
    from aiohttp import web

    from pyctr.service.app import make_app

    for namespace in ("images", "containers", "volumes", "networks", "events", "system"):
        getattr(engine, namespace)  # built now: the handlers' threads only read them
    app = make_app(engine)
    activity = app["activity"]
    # handler_cancellation: a client that goes away ends its handler (a silent `logs -f`, too)
    runner = web.AppRunner(app, handle_signals=True, access_log=None, handler_cancellation=True)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        while True:
            if idle > 0 and activity.in_flight == 0 and time.monotonic() - activity.last >= idle:
                return
            await asyncio.sleep(min(idle, 0.5) if idle > 0 else 3600)
    finally:
        await runner.cleanup()
