"""POST /build: the legacy builder's endpoint. The context tar (the request's body, maybe gzipped)
is unpacked as untrusted input (pyctr's copy unpacking: `..`, absolute names and symlinks stay
inside) into a temporary directory, built by engine.builds, and the output streamed as Docker's
JSON messages: {"stream": ...} lines, {"aux": {"ID": ...}}, and {"error", "errorDetail"} once the
stream has started."""

from __future__ import annotations

import json
import os
import queue
import shutil
import tempfile
import threading

from aiohttp import web

from pyctr.errors import InvalidArgument
from pyctr.service.app import call, engine, flag
from pyctr.service.streams import from_thread

CHUNK = 1 << 16
# Docker's per-build resource limits and the like: the builder has no way to apply them yet
_UNSUPPORTED = ("squash", "memory", "memswap", "cpushares", "cpusetcpus", "cpuperiod", "cpuquota", "shmsize",
                "ulimits", "isolation", "cgroupparent", "extrahosts")

def _json_param(request: web.Request, name: str) -> dict[str, str]:
    text = request.query.get(name)
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidArgument(f"invalid {name}: {text}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"invalid {name}: {text}")
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


def options_of(request: web.Request, context: str):
    """engine BuildOptions of the query (the Dockerfile's path checked to stay in the context)."""
    from pyctr.engine.builds import BuildOptions

    query = request.query
    if query.get("remote"):
        raise InvalidArgument("building from a remote context (remote=) is not supported: send the context as a tar")
    if query.get("version") == "2":
        raise InvalidArgument("BuildKit (version=2) is not supported: use the legacy builder (DOCKER_BUILDKIT=0)")
    if query.get("outputs"):
        raise InvalidArgument("build outputs (outputs=) are not supported")
    unknown = [k for k in _UNSUPPORTED if query.get(k, "").lower() not in ("", "0", "false", "null", "[]", "{}")]
    if unknown:
        raise InvalidArgument(f"build parameters not supported by pyctr's service: {', '.join(unknown)}")
    files = []
    dockerfile = query.get("dockerfile")
    if dockerfile:
        path = os.path.realpath(os.path.join(context, dockerfile))
        if not path.startswith(context + os.sep):
            raise InvalidArgument(f"the Dockerfile {dockerfile!r} is outside the build context")
        if not os.path.isfile(path):
            raise InvalidArgument(f"Cannot locate specified Dockerfile: {dockerfile}")
        files = [path]
    network = query.get("networkmode") or ""
    return BuildOptions(context=context, files=files, tags=query.getall("t", []),
                        build_args=_json_param(request, "buildargs"), target=query.get("target") or None,
                        no_cache=flag(request, "nocache"),
                        pull="always" if flag(request, "pull") else "missing",
                        labels=_json_param(request, "labels"), platform=query.get("platform") or None,
                        network="" if network == "default" else network)


def unpack_context(tar_path: str, context: str) -> None:
    """The body (a tar, maybe gzipped) unpacked into `context` as a copy (never a layer's whiteouts)."""
    import gzip

    from pyctr import config
    from pyctr.snapshot import archive

    with open(tar_path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    if gzipped:
        plain = tar_path + ".tar"
        with gzip.open(tar_path, "rb") as source, open(plain, "wb") as sink:
            shutil.copyfileobj(source, sink, CHUNK)
        tar_path = plain
    archive.unpack_copy(tar_path, context, shown="/", rootless=config.is_rootless())


class _Output:
    """RUN steps' output (a pipe) and the builder's events in one queue, in the order they
    happened: an event first takes what the pipe holds (the step that wrote it has ended)."""

    def __init__(self, sink: queue.Queue):
        self.sink = sink
        self.lock = threading.Lock()
        read, write = os.pipe()
        os.set_blocking(read, False)
        self.read_fd = read
        self.writer = os.fdopen(write, "wb")
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()

    def _drain(self) -> bool:
        """What the pipe holds now, queued (under the lock); False at its end."""
        while True:
            try:
                data = os.read(self.read_fd, CHUNK)
            except BlockingIOError:
                return True
            if not data:
                return False
            self.sink.put(("stream", data.decode(errors="replace")))

    def _pump(self) -> None:
        import select

        while True:
            select.select([self.read_fd], [], [])
            with self.lock:
                if not self._drain():
                    return

    def line(self, text: str) -> None:
        with self.lock:
            self._drain()
            self.sink.put(("stream", text + "\n"))

    def close(self) -> None:
        self.writer.close()
        self.reader.join()
        os.close(self.read_fd)


def _event_line(event, quiet: bool) -> str | None:
    """A builder event as the CLI's `build` shows it (pyctr.cli.build._Printer's words)."""
    if event.kind == "warning":
        return f"WARNING: {event.text}"
    if quiet:
        return None
    line = {"step": event.text, "cached": f"--> Using cache {event.text}", "id": f"--> {event.text}",
            "commit": f"{event.stage}COMMIT {event.text}".rstrip(), "tagged": f"Successfully tagged {event.text}"
            }.get(event.kind)
    if line is not None and event.platform and event.kind in ("step", "commit"):
        line = f"[{event.platform}] {line}"
    return line


def _produce(eng, options, quiet: bool, workdir: str):
    """The build's messages, made in threads: ("stream", text), ("done", result) or ("error", exc)."""
    messages: queue.Queue = queue.Queue()

    def run() -> None:
        output = _Output(messages)
        try:
            sink = open(os.devnull, "wb") if quiet else output.writer

            def report(event) -> None:
                line = _event_line(event, quiet)
                if line is not None:
                    output.line(line)

            try:
                result = eng.builds.build(options, report=report, stdout=sink, stderr=sink)
            finally:
                if quiet:
                    sink.close()
                output.close()
            messages.put(("done", result))
        except BaseException as exc:
            messages.put(("error", exc))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def produce():
        threading.Thread(target=run, daemon=True, name="build").start()
        while True:
            kind, item = messages.get()
            yield kind, item
            if kind != "stream":
                return

    return produce


async def build(request: web.Request) -> web.StreamResponse:
    eng = engine(request)
    workdir = tempfile.mkdtemp(prefix="pyctr-build-")
    try:
        tar_path = os.path.join(workdir, "context.tar")
        with open(tar_path, "wb") as sink:
            while chunk := await request.content.read(CHUNK):
                sink.write(chunk)
        context = os.path.join(workdir, "context")
        os.mkdir(context, 0o755)
        await call(unpack_context, tar_path, context)
        os.unlink(tar_path)
        options = options_of(request, context)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    quiet = flag(request, "q")
    produce = _produce(eng, options, quiet, workdir)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    try:
        await response.prepare(request)
    except BaseException:  # the client left before the build began
        shutil.rmtree(workdir, ignore_errors=True)
        raise

    async def send(message: dict) -> None:
        await response.write(json.dumps(message).encode() + b"\n")

    async for kind, item in from_thread(produce, threading.Event()):
        if kind == "stream":
            await send({"stream": item})
        elif kind == "error":
            await send({"errorDetail": {"message": str(item)}, "error": str(item)})
        elif quiet:  # (podman's is the bare ID; Docker's, which docker-py reads, has the prefix)
            await send({"stream": f"sha256:{item.id}\n"})
        else:  # as podman's compat API ends a build
            await send({"stream": item.id + "\n"})
            await send({"aux": {"ID": "sha256:" + item.id}})
            await send({"stream": f"Successfully built {item.id[:12]}\n"})
            for name in options.tags:
                await send({"stream": f"Successfully tagged {name}\n"})
    await response.write_eof()
    return response


ROUTES = [("POST", "/build", build)]
