"""The shim's event loop: container output to the log and to attach clients,
client input to the container, child reaping, and the start of the container.

Single-threaded on a selector. Nothing in here ever blocks on a client: each
has a bounded output buffer and is dropped when it cannot keep up, so a slow
or dead client never stalls the container, and output is logged whether or
not anyone is attached.
"""

from __future__ import annotations

import json
import os
import select
import selectors
import socket
import time

from pyctr.shim import linux, protocol
from pyctr.shim.klog import LogWriter

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
CLIENT_BUFFER_LIMIT = 1 << 20  # output queued for one client before we give up on it
STDIN_BUFFER_LIMIT = 256 << 10  # input queued for the container before clients are paused
MAX_CLIENTS = 64
DRAIN_TIMEOUT = 3.0  # after init exits: how long leftover writers may hold the pipes open
IDLE_TRIM_DELAY = 1.0  # quiet seconds after output before giving memory back
_KIND = {"stdout": protocol.STDOUT, "stderr": protocol.STDERR}


class Client:
    __slots__ = ("sock", "out", "decoder", "reading", "closing", "handler", "owner")

    def __init__(self, sock: socket.socket, owner: bool = False):
        self.sock = sock
        # The command that started the container (`pyctr run`): never dropped for being
        # slow; the container's output waits for it instead (its stdout may be a slow pipe).
        self.owner = owner
        self.out = bytearray()
        self.decoder = protocol.Decoder()
        self.reading = True   # False once the client shut down its sending side
        self.closing = False  # close once `out` is flushed (after the exit frame)
        self.handler = None


class Pump:
    def __init__(self, *, created, log: LogWriter, listener: socket.socket, wakeup_fd: int,
                 terminal: bool, start_watch_fd: int | None, client_fd: int = -1):
        self.sel = selectors.DefaultSelector()
        self._events: dict[int, int] = {}
        self._handlers: dict[int, object] = {}
        self.log = log
        self.listener = listener
        self.terminal = terminal
        self.container_pid = created.pid
        self.master_fd = created.master_fd
        self.exit_status: int | None = None   # raw waitpid status of the container's init
        self.finished_at: float | None = None
        self.started_at: float | None = None  # when `runc start` removed exec.fifo
        self.on_started = None  # called once then (the shim records the start of an `init`ed container)
        self.first_output_at: float | None = None
        self.cleanup_pid: int | None = None
        self.cleanup_status: int | None = None
        self.exit_frame: bytes | None = None
        self.clients: dict[int, Client] = {}
        self.outputs: dict[int, str] = {}
        self.stdin_fd = created.stdin_fd
        self.stdin_buf = bytearray()
        self.stdin_eof = False  # a client asked to close stdin once stdin_buf is written
        self._paused = False    # clients not read while stdin_buf is full
        self._busy = False      # data flowed since the last malloc_trim
        self._held = False      # outputs not read while the owner client catches up
        # Other work of the shim (the health check): timers as [monotonic deadline, callback],
        # and the processes it runs besides the container, pid -> callback(wait status).
        self.timers: list[list] = []
        self.children: dict[int, object] = {}
        # Called once the pump has had nothing but output to serve for idle_delay seconds (the
        # shim exec()s its idle pump then, pyctr.shim.handoff); None: never.
        self.on_idle = None
        self.idle_delay = 1.0
        self._stirred = time.monotonic()  # when something other than output last happened

        listener.setblocking(False)
        self._watch(listener.fileno(), READ, self._on_accept)
        self._watch(wakeup_fd, READ, lambda mask: self._on_wakeup(wakeup_fd))
        self.start_watch_fd = start_watch_fd
        if start_watch_fd is not None:
            self._watch(start_watch_fd, READ, self._on_start_watch)
        for fd, stream in created.outputs:
            os.set_blocking(fd, False)
            self.outputs[fd] = stream
            self._watch(fd, READ, lambda mask, fd=fd, stream=stream: self._on_output(fd, stream))
        if self.stdin_fd is not None:
            os.set_blocking(self.stdin_fd, False)
            self._stdin_handler = lambda mask: self._on_stdin_writable()
        if client_fd >= 0:
            self._add_client(socket.socket(fileno=client_fd), owner=True)
        for stream, data in created.early:
            self._output(stream, data)
        self._reap()  # the container may have died before we started listening

    # -- selector bookkeeping --------------------------------------------------------------

    def _watch(self, fd: int, events: int, handler=None) -> None:
        """Set the events wanted on `fd` (0: none), registering or unregistering it as needed."""
        old = self._events.get(fd, 0)
        if handler is not None:
            self._handlers[fd] = handler
        if events == old:
            return
        if not events:
            self.sel.unregister(fd)
            del self._events[fd]
        elif not old:
            self.sel.register(fd, events, self._handlers[fd])
            self._events[fd] = events
        else:
            self.sel.modify(fd, events, self._handlers[fd])
            self._events[fd] = events

    def _forget(self, fd: int) -> None:
        self._watch(fd, 0)
        self._handlers.pop(fd, None)

    def watch_reader(self, fd: int, callback) -> None:
        """Call callback() whenever `fd` is readable (other work of the shim: a health check's output)."""
        self._watch(fd, READ, lambda mask: callback())

    def unwatch(self, fd: int) -> None:
        self._forget(fd)

    def call_at(self, deadline: float, callback) -> list:
        """Run callback() once time.monotonic() reaches `deadline`; the timer, for cancel()."""
        timer = [deadline, callback]
        self.timers.append(timer)
        return timer

    def cancel(self, timer: list) -> None:
        self.timers = [t for t in self.timers if t is not timer]

    def _run_timers(self) -> None:
        now = time.monotonic()
        for timer in [t for t in self.timers if t[0] <= now]:
            self.cancel(timer)
            timer[1]()

    def _quiet(self) -> bool:
        """Nothing to serve but the container's output: no client, nothing queued or awaited."""
        return (self.exit_status is None and not self.clients and not self.timers and not self.children
                and self.cleanup_pid is None and not self.stdin_buf and not self._held
                and self.start_watch_fd is None)

    def _until_idle(self) -> float | None:
        """Seconds before on_idle is due (0: now); None while it is not (or never)."""
        if self.on_idle is None or not self._quiet():
            return None
        return max(0.0, self._stirred + self.idle_delay - time.monotonic())

    def _step(self, timeout: float | None) -> None:
        if self._busy and timeout is None:
            timeout = IDLE_TRIM_DELAY
        if self.timers:
            due = max(0.0, min(t[0] for t in self.timers) - time.monotonic())
            timeout = due if timeout is None else min(timeout, due)
        ready = self.sel.select(timeout)
        if not ready and self._busy:
            # Quiet again after a burst: hand freed buffers back to the system, so a
            # shim that once passed megabytes of output idles as small as a new one.
            self._busy = False
            linux.malloc_trim()
        # New clients first: one that connected before `runc start` gets the first byte.
        ready.sort(key=lambda item: item[0].fd != self.listener.fileno())
        for key, mask in ready:
            if key.fd not in self.outputs:
                self._stirred = time.monotonic()
            if self._handlers.get(key.fd) is key.data:  # not closed by an earlier handler
                key.data(mask)
        if self.timers:
            self._run_timers()

    # -- phases driven by pyctr.shim.main ----------------------------------------------------

    def wait_for_exit(self) -> None:
        """Run until the container's init has exited and its output is drained."""
        while self.exit_status is None:
            self._step(self._until_idle())
            if self.on_idle is not None and self._until_idle() == 0:
                self.on_idle()  # (returns only if the shim could not go idle)
        self._close_stdin()
        deadline = time.monotonic() + DRAIN_TIMEOUT
        # While the owner client is catching up, the outputs wait for it, however long.
        while self.outputs and (self._held or (remaining := deadline - time.monotonic()) > 0):
            self._step(None if self._held else remaining)
        for fd in list(self.outputs):
            self._close_output(fd)

    def finish(self, exit_code: int, signal: int | None) -> None:
        """Send the exit frame to every client (and to any that connects from now on)."""
        self.exit_frame = protocol.encode_json(protocol.EXIT, {"exit_code": exit_code, "signal": signal})
        for client in list(self.clients.values()):
            self._send(client, self.exit_frame, closing=True)

    def serve_until(self, done, timeout: float) -> bool:
        """Keep serving (late clients get the exit frame) until done() or timeout; -> done()."""
        deadline = time.monotonic() + timeout
        while not done() and (remaining := deadline - time.monotonic()) > 0:
            self._step(remaining)
        return done()

    def close(self) -> None:
        for client in list(self.clients.values()):
            self._drop(client)
        self._forget(self.listener.fileno())
        self.listener.close()
        if self.start_watch_fd is not None:
            self._close_start_watch()
        self.sel.close()

    # -- container output ------------------------------------------------------------------

    def _on_output(self, fd: int, stream: str) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the pty has no slave left, i.e. EOF; anything else ends it too
            data = b""
        if not data:
            self._close_output(fd)
            return
        self._output(stream, data)

    def _output(self, stream: str, data: bytes) -> None:
        """To the log and to every attached client."""
        if self.first_output_at is None:
            self.first_output_at = time.time()
        self._busy = True
        self.log.write(stream, data)
        frame = protocol.encode(_KIND[stream], data)
        for client in list(self.clients.values()):
            if not client.closing:
                self._send(client, frame)

    def _close_output(self, fd: int) -> None:
        self._forget(fd)
        del self.outputs[fd]
        os.close(fd)
        if fd == self.master_fd:
            self.master_fd = None  # no more resizing

    # -- container input -------------------------------------------------------------------

    def _queue_stdin(self, data: bytes) -> None:
        if self.stdin_fd is None or self.stdin_eof or not data:
            return
        self.stdin_buf += data
        self._busy = True
        self._watch(self.stdin_fd, WRITE, self._stdin_handler)
        if len(self.stdin_buf) >= STDIN_BUFFER_LIMIT and not self._paused:
            self._paused = True
            for client in self.clients.values():
                self._update(client)

    def _on_stdin_writable(self) -> None:
        try:
            written = os.write(self.stdin_fd, self.stdin_buf[:65536])
        except BlockingIOError:
            return
        except OSError:  # EPIPE: the container closed its stdin; EIO: the pty is gone
            self._close_stdin()
            return
        del self.stdin_buf[:written]
        if not self.stdin_buf:
            if self.stdin_eof:
                self._close_stdin()
            else:
                self._watch(self.stdin_fd, 0)
        self._maybe_resume()

    def _close_stdin(self) -> None:
        if self.stdin_fd is not None:
            self._forget(self.stdin_fd)
            os.close(self.stdin_fd)
            self.stdin_fd = None
        self.stdin_buf.clear()
        self._maybe_resume()

    def _maybe_resume(self) -> None:
        if self._paused and len(self.stdin_buf) < STDIN_BUFFER_LIMIT // 2:
            self._paused = False
            for client in list(self.clients.values()):
                self._update(client)

    # -- attach clients --------------------------------------------------------------------

    def _on_accept(self, mask: int) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # EMFILE and the like: try again on the next event
                return
            if len(self.clients) >= MAX_CLIENTS:
                sock.close()
                continue
            self._add_client(sock)

    def _hold_outputs(self, hold: bool) -> None:
        if hold != self._held:
            self._held = hold
            for fd in self.outputs:
                self._watch(fd, 0 if hold else READ)

    def _add_client(self, sock: socket.socket, owner: bool = False) -> None:
        sock.setblocking(False)
        client = Client(sock, owner)
        client.handler = lambda mask, client=client: self._on_client(client, mask)
        self.clients[sock.fileno()] = client
        self._update(client)
        if self.exit_frame is not None:
            self._send(client, self.exit_frame, closing=True)

    def _update(self, client: Client) -> None:
        events = (READ if client.reading and not self._paused and not client.closing else 0)
        events |= WRITE if client.out else 0
        self._watch(client.sock.fileno(), events, client.handler)

    def _send(self, client: Client, frame: bytes, closing: bool = False) -> None:
        """Queue `frame` for `client`; drop the client if it has fallen too far behind."""
        client.closing = client.closing or closing
        if not client.out:
            try:
                sent = client.sock.send(frame)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._drop_gone(client)
                return
            frame = frame[sent:]
        client.out += frame
        if len(client.out) > CLIENT_BUFFER_LIMIT and client.owner:
            self._hold_outputs(True)
            self._update(client)
        elif len(client.out) > CLIENT_BUFFER_LIMIT:
            self._drop(client)
        elif not client.out and client.closing:
            self._drop(client)
        else:
            self._update(client)

    def _on_client(self, client: Client, mask: int) -> None:
        if mask & WRITE:
            try:
                sent = client.sock.send(client.out)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._drop_gone(client)
                return
            del client.out[:sent]
            if client.owner and self._held and len(client.out) < CLIENT_BUFFER_LIMIT // 2:
                self._hold_outputs(False)
            if not client.out and client.closing:
                self._drop(client)
                return
        if mask & READ and client.reading:
            try:
                data = client.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                self._drop(client)
                return
            if not data:  # it shut down its sending side; it may still read, unless it is gone
                client.reading = False
                if _hung_up(client.sock):
                    self._drop(client)  # (`run -d` closes its end at once)
                    return
            else:
                try:
                    frames = client.decoder.feed(data)
                except protocol.ProtocolError:
                    self._drop(client)
                    return
                for kind, payload in frames:
                    if not self._on_frame(client, kind, payload):
                        return
        self._update(client)

    def _on_frame(self, client: Client, kind: int, payload: bytes) -> bool:
        """Act on one client frame; False when the client is gone."""
        if kind == protocol.STDIN:
            self._queue_stdin(payload)
        elif kind == protocol.STDIN_EOF:
            if not self.terminal and self.stdin_fd is not None:
                self.stdin_eof = True
                if not self.stdin_buf:
                    self._close_stdin()
        elif kind == protocol.RESIZE:
            self._resize(payload)
        elif kind == protocol.DETACH:
            self._drop(client)
            return False
        return True  # unknown kinds are ignored, for newer clients

    def _resize(self, payload: bytes) -> None:
        if self.master_fd is None:
            return
        try:
            size = json.loads(payload)
            rows, cols = int(size["rows"]), int(size["cols"])
            if 0 <= rows < 65536 and 0 <= cols < 65536:
                linux.set_window_size(self.master_fd, rows, cols)
        except (ValueError, TypeError, KeyError, OSError):
            pass  # a bad size or a closed pty: nothing to resize

    def _drop_gone(self, client: Client) -> None:
        """Drop a client whose connection broke. What it sent before it went still counts:
        `pyctr run -i` leaving early sends STDIN_EOF last, so that the container does not wait
        on its stdin forever; the kernel keeps those bytes for us after the peer's close."""
        for _ in range(16):  # bounded by the socket's buffer anyway
            if not client.reading:
                break
            try:
                data = client.sock.recv(65536)
                frames = client.decoder.feed(data)
            except (OSError, protocol.ProtocolError):
                break
            if not data:
                break
            for kind, payload in frames:
                if kind in (protocol.STDIN, protocol.STDIN_EOF):
                    self._on_frame(client, kind, payload)
        self._drop(client)

    def _drop(self, client: Client) -> None:
        if client.owner:
            self._hold_outputs(False)  # nobody to wait for any more
        fd = client.sock.fileno()
        if self.clients.get(fd) is client:
            self._forget(fd)
            del self.clients[fd]
        client.sock.close()

    # -- children and the start of the container ---------------------------------------------

    def _on_wakeup(self, fd: int) -> None:
        try:
            while os.read(fd, 4096):
                pass
        except BlockingIOError:
            pass
        self._reap()

    def _reap(self) -> None:
        """Reap every child that has exited: the container's init, the cleanup command,
        and orphans re-parented to us as subreaper (ignored)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.container_pid and self.exit_status is None:
                self.exit_status = status
                self.finished_at = time.time()
            elif pid == self.cleanup_pid:
                self.cleanup_status = status
            elif pid in self.children:
                self.children.pop(pid)(status)

    def _on_start_watch(self, mask: int) -> None:
        # `runc start` deletes exec.fifo right after letting init exec the process.
        if b"exec.fifo" in linux.read_deleted_names(self.start_watch_fd):
            if self.started_at is None:
                self.started_at = time.time()
                if self.on_started is not None:
                    self.on_started()
            self._close_start_watch()

    def _close_start_watch(self) -> None:
        self._forget(self.start_watch_fd)
        os.close(self.start_watch_fd)
        self.start_watch_fd = None


def _hung_up(sock: socket.socket) -> bool:
    """Whether the peer closed the connection both ways (POLLHUP), not only its sending side."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return any(events & select.POLLHUP for _, events in poller.poll(0))
