"""GET /containers/{id}/attach/ws: a running container's stdio over a WebSocket (Docker's: the
client's messages are its stdin, its output comes as binary messages, never multiplexed)."""

from __future__ import annotations

import asyncio
import select
import threading

from aiohttp import WSMsgType, web

from pyctr.errors import ContainerStateError
from pyctr.service.app import call, engine, flag

_LIVE = ("running", "paused")


def _pump(session, ws: web.WebSocketResponse, loop, gone: threading.Event, *, stdout: bool, stderr: bool) -> None:
    """The container's output to the WebSocket until it exits or the client leaves (a thread)."""
    from pyctr.runtime import attach

    client = session.client
    try:
        while not gone.is_set():
            if not select.select([client.sock], [], [], 0.5)[0]:
                continue
            got = client.read_frame()
            if got is None or got[0] == attach.EXIT:
                return
            kind, payload = got
            if payload and (stdout if kind == attach.STDOUT else stderr if kind == attach.STDERR else False):
                asyncio.run_coroutine_threadsafe(ws.send_bytes(payload), loop).result()
    except (OSError, RuntimeError, ConnectionError):  # the client or the loop went away
        pass
    finally:
        if not gone.is_set():  # the container ended: so does the socket
            try:
                asyncio.run_coroutine_threadsafe(ws.close(), loop)
            except RuntimeError:
                pass


async def attach_ws(request: web.Request) -> web.WebSocketResponse:
    eng = engine(request)
    info = await call(eng.containers.inspect, request.match_info["id"])
    if info.status.state not in _LIVE:
        raise ContainerStateError(f"can only attach to running containers: {info.record.name} is {info.status.state}")
    session = await call(eng.containers.attach, info.record.id)
    ws = web.WebSocketResponse()
    try:
        await ws.prepare(request)
    except BaseException:
        session.client.close()
        raise
    stdin = flag(request, "stdin") and session.stdin
    gone = threading.Event()
    loop = asyncio.get_running_loop()
    out = threading.Thread(target=_pump, args=(session, ws, loop, gone),
                           kwargs={"stdout": flag(request, "stdout", True), "stderr": flag(request, "stderr", True)},
                           daemon=True, name="attach-ws")
    out.start()
    try:
        async for message in ws:
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY) and stdin:
                data = message.data.encode() if message.type == WSMsgType.TEXT else message.data
                await call(session.client.send_stdin, data)
    finally:
        gone.set()
        await call(out.join)
        try:
            session.client.detach()  # the container keeps running
        except Exception:  # (the shim has closed already: the container ended)
            pass
    return ws


ROUTES = [("GET", "/containers/{id}/attach/ws", attach_ws)]
