"""The aiohttp application: routes (each under any /vX.Y prefix and unversioned), the engine's
errors as the Docker API's {"message": ...} answers, and the activity that --time watches."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING, Any, Callable

from aiohttp import web

from pyctr.errors import PyctrError

if TYPE_CHECKING:
    from pyctr.engine import Engine

API_VERSION = "1.41"  # as podman 4.3.1's compat API; clients ask under any /vX.Y prefix
MIN_API_VERSION = "1.24"


class Activity:
    """Requests in flight (streams and hijacked connections count until they end), and when the
    last one ended: the service stops once idle for --time."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.last = time.monotonic()

    def begin(self) -> None:
        self.in_flight += 1

    def end(self) -> None:
        self.in_flight -= 1
        self.last = time.monotonic()


def engine(request: web.Request) -> "Engine":
    return request.app["engine"]


async def call(fn: Callable, *args, **kwargs) -> Any:
    """Run a blocking engine call in the thread pool (the event loop must never wait on it)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def call_long(fn: Callable, *args, **kwargs) -> Any:
    """Run a call that may last as long as a container (attach, wait, exec) in a thread of its own,
    a daemon: the service can stop (idle, SIGTERM) without waiting for it."""
    import threading

    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(outcome: Any, failed: bool) -> None:
        if not future.done():
            (future.set_exception if failed else future.set_result)(outcome)

    def work() -> None:
        try:
            outcome, failed = fn(*args, **kwargs), False
        except BaseException as exc:
            outcome, failed = exc, True
        try:
            loop.call_soon_threadsafe(settle, outcome, failed)
        except RuntimeError:  # the loop is gone: nobody waits any more
            pass

    threading.Thread(target=work, daemon=True, name=getattr(fn, "__name__", "call")).start()
    return await future


def reply(data: Any, status: int = 200) -> web.Response:
    # Exactly "application/json" (no charset): the docker CLI reads error messages only then.
    return web.Response(body=json.dumps(data, separators=(",", ":")).encode() + b"\n", status=status,
                        headers={"Content-Type": "application/json"})


def error(status: int, message: str) -> web.Response:
    return reply({"message": message}, status=status)


def raise_first(reports) -> None:
    """An engine operation's per-container reports: the first error, raised."""
    for report in reports:
        if report.error is not None:
            raise report.error


def flag(request: web.Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter as Docker reads them (1, true, True; 0, false, "")."""
    value = request.query.get(name)
    if value is None:
        return default
    return value.lower() not in ("", "0", "false", "no")


def filters(request: web.Request) -> list[str]:
    """The `filters` query parameter ({"key": ["v"]} or {"key": {"v": true}}) as KEY=VALUE items."""
    from pyctr.errors import InvalidArgument

    text = request.query.get("filters")
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidArgument(f"invalid filters: {text}") from None
    items = []
    for key, values in (data or {}).items():
        if isinstance(values, dict):
            values = [v for v, on in values.items() if on]
        items += [f"{key}={v}" for v in values]
    return items


@web.middleware
async def _errors(request: web.Request, handler):
    activity: Activity = request.app["activity"]
    activity.begin()
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return error(404, f"page not found: {request.method} {request.path}")
    except web.HTTPMethodNotAllowed:
        return error(405, f"method not allowed: {request.method} {request.path}")
    except web.HTTPException:
        raise
    except PyctrError as exc:
        return error(exc.http_status, str(exc))
    except ConnectionError:  # the client went away mid-stream: nothing to answer, nothing to log
        return web.Response(status=499)
    except asyncio.CancelledError:  # (handler_cancellation: the client went away)
        raise
    except Exception as exc:  # never a traceback to the client; one line in our log
        print(f"pyctr service: {request.method} {request.path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return error(500, f"{type(exc).__name__}: {exc}")
    finally:
        activity.end()


def make_app(eng: "Engine") -> web.Application:
    from pyctr.service import (archive, builds, containers, execs, images, imagetransfer, networks, stats,
                               system, volumes, websocket)
    from pyctr.service.streams import Attachments

    app = web.Application(middlewares=[_errors], client_max_size=1 << 30)
    app["engine"] = eng
    app["activity"] = Activity()
    app["attachments"] = Attachments()
    app["execs"] = {}  # exec ID -> execs.Pending (created, not started yet)
    # (imagetransfer before images: /images/get and /images/NAME/get before /images/NAME)
    for module in (system, imagetransfer, images, builds, containers, websocket, archive, stats, execs, networks,
                   volumes):
        for method, path, handler in module.ROUTES:
            app.router.add_route(method, path, handler)
            app.router.add_route(method, "/v{version:[0-9.]+}" + path, handler)
    return app
