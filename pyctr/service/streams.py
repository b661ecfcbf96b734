"""Long answers: hijacked connections (attach, exec start), Docker's multiplexed frames, and
blocking iterators (logs, pull progress, events) streamed without blocking the event loop."""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import struct
import threading
from typing import TYPE_CHECKING, AsyncIterator, Callable, Iterator

from aiohttp import web

if TYPE_CHECKING:
    from pyctr.engine.containertypes import AttachSession

STDOUT, STDERR = 1, 2  # Docker's stream numbers in a frame header
_FRAME = struct.Struct(">BxxxL")


def frame(stream: int, data: bytes) -> bytes:
    """One frame of a multiplexed stream (a container without a tty): stream, 3 zero bytes, length."""
    return _FRAME.pack(stream, len(data)) + data


class Attachments:
    """Attaches that wait for their container's start (`docker run` attaches before it starts the
    container, so that no output is lost), and exit codes seen through attaches: a --rm container's
    is gone with the container, and `wait?condition=removed` answers with it."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[asyncio.Future]] = {}
        self.exit_codes: dict[str, int] = {}
        self.sessions: dict[str, list] = {}  # container ID -> its attach sessions now relayed (resize)

    def wait_for_start(self, container_id: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(container_id, []).append(future)
        return future

    def take(self, container_id: str) -> list[asyncio.Future]:
        return [f for f in self.waiting.pop(container_id, []) if not f.done()]


async def hijack(request: web.Request, tty: bool) -> socket.socket:
    """Answer 101 (or 200 for a client that did not ask to upgrade) and take the connection over:
    a blocking-capable socket of our own on the client's connection."""
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("the client went away")
    transport.pause_reading()  # from here on the bytes the client sends are the container's stdin
    upgrade = request.headers.get("Upgrade", "").lower() == "tcp"
    kind = "raw-stream" if tty else "multiplexed-stream"
    head = ("HTTP/1.1 101 UPGRADED\r\n" if upgrade else "HTTP/1.1 200 OK\r\n") + \
        f"Content-Type: application/vnd.docker.{kind}\r\n" + \
        ("Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else "") + "\r\n"
    transport.write(head.encode())
    while transport.get_write_buffer_size():
        await asyncio.sleep(0.01)
    own = socket.socket(fileno=os.dup(transport.get_extra_info("socket").fileno()))
    own.settimeout(60)  # (the fd stays non-blocking for aiohttp's transport; sends wait up to this)
    return own


def release(request: web.Request, conn: socket.socket) -> web.Response:
    """End a hijacked connection: the client sees EOF; aiohttp's copy is closed too."""
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()
    if request.transport is not None:
        request.transport.close()
    return web.Response()  # (not sent: the connection is closed)


def relay(conn: socket.socket, session: "AttachSession", *, stdin: bool, stdout: bool = True,
          stderr: bool = True) -> int | None:
    """Proxy a container's (or exec session's) stdio over a hijacked connection until it exits:
    its exit code; None when the client went away (the container is left running)."""
    from pyctr.runtime import attach

    client = session.client
    reading = stdin and session.stdin
    poller = select.poll()
    poller.register(client.sock, select.POLLIN)
    try:
        while True:
            # The client's connection is always watched: POLLHUP says it is gone altogether (a
            # half-close, the end of its stdin, is not), even while it sends nothing.
            poller.register(conn, select.POLLIN if reading else 0)
            events = dict(poller.poll(1000))
            ready = [s for s in (client.sock, conn) if events.get(s.fileno(), 0) & (select.POLLIN | select.POLLHUP)]
            if conn.fileno() in events and not reading and events[conn.fileno()] & (select.POLLHUP | select.POLLERR):
                raise ConnectionResetError("the client went away")
            if conn in ready:
                try:
                    data = conn.recv(65536)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    data = b""
                if data == b"":  # the client closed its side: the container's stdin ends
                    reading = False
                    client.close_stdin()
                elif data:
                    client.send_stdin(data)
            if client.sock not in ready:
                continue
            got = client.read_frame()
            if got is None:
                return None
            kind, payload = got
            if kind == attach.EXIT:
                return int(json.loads(payload or b"{}").get("exit_code") or 0)
            wanted = stdout if kind == attach.STDOUT else stderr if kind == attach.STDERR else False
            if wanted and payload:
                conn.sendall(payload if session.tty else frame(STDOUT if kind == attach.STDOUT else STDERR, payload))
    except OSError:  # the client is gone: leave the container running
        try:
            client.detach()
        except OSError:
            pass
        return None
    finally:
        client.close()


async def from_thread(produce: Callable[[], Iterator], stop: threading.Event) -> AsyncIterator:
    """The items of a blocking iterator made and read in a thread, as they come. `stop` is set when
    the consumer leaves; the thread ends at its next item."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue(maxsize=256)
    done = object()

    def put(item) -> None:
        try:
            asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
        except RuntimeError:  # the loop has closed: the service stops
            stop.set()

    def work() -> None:
        try:
            for item in produce():
                if stop.is_set():
                    break
                put(item)
        except BaseException as exc:  # handed to the consumer
            if not stop.is_set():
                put(exc)
        finally:
            if not stop.is_set():
                put(done)

    thread = threading.Thread(target=work, daemon=True)  # (not the pool: a follow may last for ever)
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while not queue.empty():  # unblock a put waiting for room
            queue.get_nowait()


def with_progress(work: Callable[[Callable], object]) -> Callable[[], Iterator]:
    """A blocking call that reports progress through a callback (`work(progress)`), as an iterator
    for from_thread: ("event", e) for each report, then ("done", result) or ("error", exc)."""
    import queue

    def produce():
        reports: queue.Queue = queue.Queue()

        def run() -> None:
            try:
                reports.put(("done", work(lambda event: reports.put(("event", event)))))
            except BaseException as exc:
                reports.put(("error", exc))

        threading.Thread(target=run, daemon=True).start()
        while True:
            kind, item = reports.get()
            yield kind, item
            if kind != "event":
                return

    return produce


async def receive_file(request: web.Request, spool) -> None:
    """The request's body into `spool` (a file), rewound: written in the thread pool a MiB at a
    time, as send_file reads (uploaded archives are taken whole before the engine reads them)."""
    from pyctr.service.app import call

    async for chunk in request.content.iter_chunked(1 << 20):
        await call(spool.write, chunk)
    spool.seek(0)


async def send_file(request: web.Request, spool, headers: dict) -> web.StreamResponse:
    """`spool` (a file, read from where it stands) as the response body, read in the thread pool a
    MiB at a time: archives (container copies, saved images) are built into a spool first."""
    from pyctr.service.app import call

    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    while chunk := await call(spool.read, 1 << 20):
        await response.write(chunk)
    await response.write_eof()
    return response
