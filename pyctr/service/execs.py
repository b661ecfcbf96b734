"""exec: create (kept here until it starts: the engine makes a session when it runs one),
start (hijacked, or detached), inspect, resize."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from aiohttp import web

from pyctr.errors import InvalidArgument, NotFound
from pyctr.service.app import call, call_long, engine, reply
from pyctr.service.streams import hijack, relay, release


@dataclass
class Pending:
    """An exec created through the API: its request, then the engine's session once started."""

    container_id: str
    body: dict
    session_id: str = ""
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    sessions: list = field(default_factory=list)  # the attach session while it runs (resize)


def _pending(request: web.Request) -> tuple[str, Pending]:
    exec_id = request.match_info["id"]
    found = request.app["execs"].get(exec_id)
    if found is None:
        raise NotFound(f"No such exec instance: {exec_id}")
    return exec_id, found


async def create(request: web.Request) -> web.Response:
    body = await request.json()
    if not body.get("Cmd"):
        raise InvalidArgument("No exec command specified")
    container = await call(engine(request).containers.get, request.match_info["id"])
    info = await call(engine(request).containers.inspect, container.id)
    if info.status.state not in ("running",):
        from pyctr.errors import ContainerStateError

        raise ContainerStateError(f"Container {container.id} is not running")
    exec_id = secrets.token_hex(32)
    known = request.app["execs"]
    if len(known) >= 256:  # forget the oldest finished ones (the engine keeps their sessions)
        for old in [i for i, p in known.items() if not p.running][:len(known) - 255]:
            del known[old]
    known[exec_id] = Pending(container.id, body)
    return reply({"Id": exec_id}, status=201)


async def start(request: web.Request) -> web.StreamResponse:
    exec_id, pending = _pending(request)
    if pending.running or pending.session_id:
        from pyctr.errors import ContainerStateError

        raise ContainerStateError(f"exec session {exec_id} has already been started")
    options = await request.json() if request.can_read_body else {}
    body, eng = pending.body, engine(request)
    detach = bool(options.get("Detach"))
    tty = bool(options.get("Tty", body.get("Tty")))
    env = dict(item.split("=", 1) for item in body.get("Env") or [] if "=" in item)
    stdin = bool(body.get("AttachStdin"))
    pending.running = True

    def started(session_id: str) -> None:
        pending.session_id = session_id

    def run(conn):
        def attached(session) -> int | None:
            pending.pid = session.pid
            pending.sessions.append(session)
            return relay(conn, session, stdin=stdin, stdout=bool(body.get("AttachStdout", True)),
                         stderr=bool(body.get("AttachStderr", True)))

        return eng.containers.exec(pending.container_id, list(body["Cmd"]), interactive=stdin, tty=tty,
                                   detach=detach, env=env, workdir=body.get("WorkingDir") or None,
                                   user=body.get("User") or None, privileged=bool(body.get("Privileged")),
                                   attach=None if detach else attached, on_started=started)

    if detach:
        try:
            await call(run, None)
        finally:
            pending.running = False
        return web.Response(status=200)
    conn = await hijack(request, tty)
    try:
        pending.exit_code = await call_long(run, conn)  # (None: the client went away; inspect asks the engine)
    finally:
        pending.running = False
        pending.sessions.clear()
    return release(request, conn)


async def inspect(request: web.Request) -> web.Response:
    exec_id, pending = _pending(request)
    body = pending.body
    running, code, pid = pending.running, pending.exit_code, pending.pid
    if pending.session_id:  # what the engine recorded (a detached session's end, too)
        try:
            session = await call(engine(request).containers.exec_inspect, pending.session_id)
            running, pid = session.running, session.pid or pid
            code = session.exit_code if session.exit_code is not None else code
        except NotFound:
            pass
    command = list(body.get("Cmd") or [])
    return reply({"ID": exec_id, "Running": running, "ExitCode": code, "ProcessConfig": {
        "tty": bool(body.get("Tty")), "entrypoint": command[0] if command else "", "arguments": command[1:],
        "privileged": bool(body.get("Privileged")), "user": body.get("User") or ""},
        "OpenStdin": bool(body.get("AttachStdin")), "OpenStderr": bool(body.get("AttachStderr")),
        "OpenStdout": bool(body.get("AttachStdout")), "CanRemove": not running, "ContainerID": pending.container_id,
        "DetachKeys": "", "Pid": pid})


async def resize(request: web.Request) -> web.Response:
    _, pending = _pending(request)
    height, width = int(request.query.get("h") or 0), int(request.query.get("w") or 0)
    for session in list(pending.sessions):
        if session.tty and height and width:
            await call(session.client.resize, height, width)
    return web.Response(status=201)


ROUTES = [
    ("POST", "/containers/{id}/exec", create), ("POST", "/exec/{id}/start", start),
    ("GET", "/exec/{id}/json", inspect), ("POST", "/exec/{id}/resize", resize),
]
