"""A loopback HTTP proxy in front of a test registry that cuts chosen requests off.

    proxy = FlakyProxy("127.0.0.1:5000", drop=lambda method, path, n: method == "PATCH" and n == 2).start()
    ... push to f"{proxy.host}/repo" ...
    proxy.stop()

Each request gets its own upstream connection (the proxy asks both sides for `Connection: close`),
so that a request can be dropped on its own: `drop(method, path, n)` (n counts the requests of
that method from 1) decides, once the request's head has arrived; a dropped request's connection
is closed before any of it reaches the registry, as a network that fails mid-upload would.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from typing import Callable


class FlakyProxy:
    def __init__(self, upstream: str, drop: Callable[[str, str, int], bool]):
        host, _, port = upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.drop = drop
        self.counts: Counter = Counter()
        self.dropped: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self.host = f"127.0.0.1:{self._server.getsockname()[1]}"
        self._stopped = False

    def start(self) -> "FlakyProxy":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped = True
        self._server.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk or chunk[:1] == b"\x16":  # gone, or a TLS hello (a client trying HTTPS first)
                    return
                head += chunk
            head, _, body = head.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            with self._lock:
                self.counts[method] += 1
                n = self.counts[method]
                if self.drop(method, path, n):
                    self.dropped.append((method, path))
                    client.shutdown(socket.SHUT_RDWR)
                    return
            length = 0
            kept = [lines[0]]
            for line in lines[1:]:
                name = line.partition(":")[0].strip().lower()
                if name == "content-length":
                    length = int(line.partition(":")[2])
                if name not in ("connection", "keep-alive"):
                    kept.append(line)
            kept.append("Connection: close")
            while len(body) < length:
                chunk = client.recv(min(65536, length - len(body)))
                if not chunk:
                    return
                body += chunk
            with socket.create_connection(self.upstream) as upstream:
                upstream.sendall("\r\n".join(kept).encode("latin-1") + b"\r\n\r\n" + body)
                while chunk := upstream.recv(65536):
                    client.sendall(chunk)
