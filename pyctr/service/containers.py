"""containers: create, json, {id}/json, start, stop, restart, kill, pause, unpause, wait, logs,
attach (hijacked), top, rename, DELETE, prune."""

from __future__ import annotations

import json
import threading
import time

from aiohttp import web

from pyctr.errors import ContainerNotFound, ContainerStateError, ImageNotFound, InvalidArgument, PyctrError
from pyctr.service.app import call, call_long, engine, filters, flag, raise_first, reply
from pyctr.service.streams import STDERR, STDOUT, frame, from_thread, hijack, relay, release

_LIVE = ("running", "paused", "stopping")


async def _id(request: web.Request) -> str:
    container = await call(engine(request).containers.get, request.match_info["id"])
    return container.id


async def create(request: web.Request) -> web.Response:
    from pyctr.service.createbody import spec_from_body

    eng = engine(request)
    spec = spec_from_body(await request.json(), request.query.get("name"))
    try:
        container = await call(eng.containers.create, spec)
    except ImageNotFound:  # Docker's words, which clients look for before they pull
        raise ImageNotFound(f"No such image: {spec.image.name}") from None
    return reply({"Id": container.id, "Warnings": await call(eng.containers.warnings, spec)}, status=201)


async def list_containers(request: web.Request) -> web.Response:
    from pyctr.service.containerdocs import list_entry

    wanted = [("status=" + {"created": "created", "restarting": "running", "dead": "exited"}.get(f[7:], f[7:]))
              if f.startswith("status=") else f for f in filters(request)]
    limit = int(request.query.get("limit") or -1)
    eng = engine(request)

    def entries():
        rows = eng.containers.list(all_containers=flag(request, "all"), filters=wanted or None,
                                   last=limit if limit > 0 else -1, size=flag(request, "size"))
        return [_with_endpoints(eng, list_entry(r)) if r.networks and r.state == "running" else list_entry(r)
                for r in reversed(rows)]  # newest first, as Docker

    return reply(await call(entries))


def _with_endpoints(eng, entry: dict) -> dict:
    """A running container's networks with their addresses and gateways, as Docker's list has them
    (testcontainers reads the Gateway there); from its inspect document (a blocking call)."""
    from pyctr.errors import ContainerNotFound
    from pyctr.service.containerdocs import inspect_document

    try:
        document = inspect_document(eng.containers.inspect(entry["Id"]))
    except ContainerNotFound:  # removed since the list was read
        return entry
    entry["NetworkSettings"]["Networks"] = document["NetworkSettings"]["Networks"]
    return entry


async def inspect(request: web.Request) -> web.Response:
    from pyctr.service.containerdocs import inspect_document

    info = await call(engine(request).containers.inspect, request.match_info["id"], size=flag(request, "size"))
    return reply(inspect_document(info))


async def start(request: web.Request) -> web.Response:
    """Start; an attach that waits for this start gets the container's stdio from its first byte."""
    eng = engine(request)
    container_id = await _id(request)
    waiting = request.app["attachments"].take(container_id)
    if waiting:
        try:
            session = await call(eng.containers.attach, container_id, start=True)
        except PyctrError as exc:  # the attaches end with it; an AutoRemove container goes (Docker's)
            for future in waiting:
                future.set_exception(exc)
            await call(_remove_if_auto, eng, container_id)
            raise
        # (known before the client hears of the start: its first resize follows at once)
        request.app["attachments"].sessions.setdefault(container_id, []).append(session)
        waiting[0].set_result(session)
        for future in waiting[1:]:  # (more than one attach before the start: the others join it running)
            future.set_result(await call(eng.containers.attach, container_id))
        return web.Response(status=204)
    info = await call(eng.containers.inspect, container_id)
    if info.status.state in _LIVE:
        return web.Response(status=304)
    try:
        raise_first(await call(eng.containers.start, [container_id]))
    except PyctrError:
        await call(_remove_if_auto, eng, container_id)
        raise
    return web.Response(status=204)


def _remove_if_auto(eng, container_id: str) -> None:
    """A container with AutoRemove that failed to start is removed, as Docker does (and `run --rm`)."""
    try:
        if eng.containers.inspect(container_id).record.remove:
            eng.containers.remove([container_id], force=True)
    except PyctrError:
        pass


def _timeout(request: web.Request) -> int | None:
    value = request.query.get("t") or request.query.get("timeout")
    return int(value) if value not in (None, "") else None


async def stop(request: web.Request) -> web.Response:
    eng = engine(request)
    info = await call(eng.containers.inspect, request.match_info["id"])
    if info.status.state not in _LIVE:
        return web.Response(status=304)
    raise_first(await call(eng.containers.stop, [info.record.id], timeout=_timeout(request)))
    return web.Response(status=204)


async def restart(request: web.Request) -> web.Response:
    raise_first(await call(engine(request).containers.restart, [request.match_info["id"]], timeout=_timeout(request)))
    return web.Response(status=204)


async def kill(request: web.Request) -> web.Response:
    eng = engine(request)
    info = await call(eng.containers.inspect, request.match_info["id"])
    if info.status.state not in _LIVE:
        raise ContainerStateError(f"Cannot kill container: {request.match_info['id']}: container is not running")
    raise_first(await call(eng.containers.kill, [info.record.id], signal=request.query.get("signal") or "KILL"))
    return web.Response(status=204)


async def pause(request: web.Request) -> web.Response:
    raise_first(await call(engine(request).containers.pause, [request.match_info["id"]]))
    return web.Response(status=204)


async def unpause(request: web.Request) -> web.Response:
    raise_first(await call(engine(request).containers.unpause, [request.match_info["id"]]))
    return web.Response(status=204)


async def remove(request: web.Request) -> web.Response:
    eng = engine(request)
    container_id = await _id(request)
    if not flag(request, "force"):
        info = await call(eng.containers.inspect, container_id)
        if info.status.state in _LIVE:
            raise ContainerStateError(f"You cannot remove a running container {container_id}. "
                                      "Stop the container before attempting removal or force remove")
    raise_first(await call(eng.containers.remove, [container_id], force=flag(request, "force"),
                           volumes=flag(request, "v")))
    return web.Response(status=204)


async def rename(request: web.Request) -> web.Response:
    new_name = request.query.get("name")
    if not new_name:
        raise InvalidArgument("name is required")
    await call(engine(request).containers.rename, request.match_info["id"], new_name)
    return web.Response(status=204)


async def top(request: web.Request) -> web.Response:
    args = (request.query.get("ps_args") or "").split()
    found = await call(engine(request).containers.top, request.match_info["id"], args)
    if found.text:
        lines = found.text.splitlines()
        titles = lines[0].split() if lines else []
        rows = [line.split(None, len(titles) - 1) for line in lines[1:]] if titles else []
        return reply({"Titles": titles, "Processes": rows})
    return reply({"Titles": list(found.headers), "Processes": [list(r) for r in found.rows]})


async def changes(request: web.Request) -> web.Response:
    found = await call(engine(request).containers.diff, request.match_info["id"])
    return reply([{"Path": c.path, "Kind": {"C": 0, "A": 1, "D": 2}[c.kind]} for c in found] or None)


# Docker's names of the resources `update` changes -> the spec's (pyctr.container.update.UPDATABLE)
_UPDATABLE = {"CpuShares": "cpu_shares", "CpuPeriod": "cpu_period", "CpuQuota": "cpu_quota",
              "CpuRealtimePeriod": "cpu_rt_period", "CpuRealtimeRuntime": "cpu_rt_runtime", "CpusetCpus": "cpuset_cpus",
              "CpusetMems": "cpuset_mems", "Memory": "memory", "MemoryReservation": "memory_reservation",
              "MemorySwap": "memory_swap", "MemorySwappiness": "memory_swappiness", "BlkioWeight": "blkio_weight"}


async def update(request: web.Request) -> web.Response:
    body = await request.json()
    wanted = {_UPDATABLE[k]: v for k, v in body.items() if k in _UPDATABLE and v}
    if body.get("NanoCpus"):
        wanted["cpus"] = body["NanoCpus"] / 1e9
    def given(v) -> bool:  # (clients send every field: a dict of zero values is not a change)
        return any(map(given, v.values())) if isinstance(v, dict) else bool(v)

    refused = [k for k, v in body.items() if given(v) and k not in _UPDATABLE and k != "NanoCpus"]
    if refused:
        raise InvalidArgument(f"cannot update {', '.join(sorted(refused))} (pyctr updates cgroup resources only)")
    await call(engine(request).containers.update, request.match_info["id"], **wanted)
    return reply({"Warnings": []})


async def prune(request: web.Request) -> web.Response:
    removed = await call(engine(request).containers.prune, filters(request) or None)
    return reply({"ContainersDeleted": removed or None, "SpaceReclaimed": 0})


# -- wait ------------------------------------------------------------------------------------

def _died_code(eng, container_id: str) -> int | None:
    """The exit code the journal recorded for the container's last death (a removed --rm container)."""
    code = None
    try:
        for event in eng.events.list(filters=[f"container={container_id}", "event=died"]):
            code = event.exit_code
    except Exception:  # (an events backend of "none")
        return None
    return code


def _wait(eng, container_id: str, condition: str, attachments, gone) -> int:
    """Docker's conditions: not-running (now if it does not run), next-exit (the end of its next
    run), removed (once it is gone); the exit code."""
    code, first_start, seen_running = None, None, False
    while not gone():
        try:
            info = eng.containers.inspect(container_id)
        except ContainerNotFound:
            if code is None:
                code = attachments.exit_codes.get(container_id)
            if code is None:
                code = _died_code(eng, container_id)
            return code or 0
        status = info.status
        if first_start is None:
            first_start = status.started_at
        if status.state in _LIVE:
            seen_running = True
        elif status.state in ("exited", "stopped"):
            code = status.exit_code
            if condition == "not-running":
                return code
            if condition == "next-exit" and (seen_running or status.started_at != first_start):
                return code
        elif condition == "not-running":  # created: not running
            return status.exit_code
        time.sleep(0.1)
    return code or 0


async def wait(request: web.Request) -> web.Response:
    condition = request.query.get("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise InvalidArgument(f"invalid condition: {condition!r}")
    container_id = await _id(request)
    transport = request.transport

    def gone() -> bool:
        return transport is None or transport.is_closing()

    # The headers go at once, the body once the condition is met: `docker run` waits for the
    # headers before it starts the container.
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    try:
        answer = {"StatusCode": await call_long(_wait, engine(request), container_id, condition,
                                           request.app["attachments"], gone), "Error": None}
    except PyctrError as exc:
        answer = {"StatusCode": -1, "Error": {"Message": str(exc)}}
    await response.write(json.dumps(answer).encode() + b"\n")
    await response.write_eof()
    return response


# -- output ----------------------------------------------------------------------------------

def _since(text: str | None) -> float | None:
    return float(text) if text and float(text) > 0 else None


async def logs(request: web.Request) -> web.StreamResponse:
    eng = engine(request)
    info = await call(eng.containers.inspect, request.match_info["id"])
    out, err = flag(request, "stdout"), flag(request, "stderr")
    if not (out or err):
        raise InvalidArgument("you must choose at least one stream")
    tail = request.query.get("tail", "all")
    tail_count = None if tail in ("all", "") else int(tail)
    follow, stamps, tty = flag(request, "follow"), flag(request, "timestamps"), info.record.tty
    since, until = _since(request.query.get("since")), _since(request.query.get("until"))
    kind = "raw-stream" if tty else "multiplexed-stream"
    response = web.StreamResponse(headers={"Content-Type": f"application/vnd.docker.{kind}"})
    await response.prepare(request)
    stop = threading.Event()

    def produce():
        return eng.containers.logs(info.record.id, follow=follow, tail=tail_count, since=since, until=until)

    async for line in from_thread(produce, stop):
        if not (out if line.stream == "stdout" else err):
            continue
        data = (line.timestamp_text.encode() + b" " if stamps else b"") + line.text + (b"" if line.partial else b"\n")
        await response.write(data if tty else frame(STDOUT if line.stream == "stdout" else STDERR, data))
    await response.write_eof()
    return response


async def attach(request: web.Request) -> web.StreamResponse:
    """Hijack the connection and proxy the container's stdio; a container that does not run yet is
    attached when it starts (POST start), so that none of its output is lost."""
    eng = engine(request)
    info = await call(eng.containers.inspect, request.match_info["id"])
    container_id, tty = info.record.id, info.record.tty
    stdin, out, err = flag(request, "stdin"), flag(request, "stdout"), flag(request, "stderr")
    if not flag(request, "stream"):  # logs=1 only: what it wrote so far, then the end
        conn = await hijack(request, tty)
        if flag(request, "logs"):
            lines = await call(lambda: list(eng.containers.logs(container_id)))
            data = b"".join((line.text + (b"" if line.partial else b"\n")) if tty else
                            frame(STDOUT if line.stream == "stdout" else STDERR, line.text + b"\n")
                            for line in lines if (out if line.stream == "stdout" else err))
            await call(conn.sendall, data)
        return release(request, conn)
    attachments = request.app["attachments"]
    if info.status.state in _LIVE:
        session = await call(eng.containers.attach, container_id)
        conn = await hijack(request, tty)
    else:
        conn = await hijack(request, tty)
        try:
            session = await attachments.wait_for_start(container_id)
        except PyctrError:  # the start failed (its request answers why): the stream just ends
            return release(request, conn)
    relayed = attachments.sessions.setdefault(container_id, [])
    if session not in relayed:
        relayed.append(session)
    try:
        code = await call_long(relay, conn, session, stdin=stdin, stdout=out, stderr=err)
    finally:
        attachments.sessions[container_id].remove(session)
    if code is not None:
        attachments.exit_codes[container_id] = code
    return release(request, conn)


async def resize(request: web.Request) -> web.Response:
    """A terminal's new size, through the sessions attached here (the shim resizes the pty)."""
    container_id = await _id(request)
    height, width = int(request.query.get("h") or 0), int(request.query.get("w") or 0)
    sessions = [s for s in request.app["attachments"].sessions.get(container_id, []) if s.tty]
    if height and width and sessions:
        await call(sessions[0].client.resize, height, width)
    elif height and width:
        from pyctr.errors import ContainerStateError

        raise ContainerStateError(f"container {container_id} has no terminal attached through this service to resize")
    return web.Response(status=200)


ROUTES = [
    ("POST", "/containers/create", create), ("GET", "/containers/json", list_containers),
    ("POST", "/containers/prune", prune),
    ("GET", "/containers/{id}/json", inspect), ("POST", "/containers/{id}/start", start),
    ("POST", "/containers/{id}/stop", stop), ("POST", "/containers/{id}/restart", restart),
    ("POST", "/containers/{id}/kill", kill), ("POST", "/containers/{id}/pause", pause),
    ("POST", "/containers/{id}/unpause", unpause), ("POST", "/containers/{id}/wait", wait),
    ("GET", "/containers/{id}/logs", logs), ("POST", "/containers/{id}/attach", attach),
    ("POST", "/containers/{id}/resize", resize), ("GET", "/containers/{id}/top", top),
    ("POST", "/containers/{id}/rename", rename), ("DELETE", "/containers/{id}", remove),
    ("GET", "/containers/{id}/changes", changes), ("POST", "/containers/{id}/update", update),
]
