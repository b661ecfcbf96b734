"""volumes: create, list, inspect, DELETE, prune (Docker's shapes)."""

from __future__ import annotations

from aiohttp import web

from pyctr.service.app import call, engine, filters, flag, raise_first, reply


def _document(doc: dict) -> dict:
    """Docker's volume of podman's inspect document."""
    return {"Name": doc["Name"], "Driver": doc.get("Driver", "local"), "Mountpoint": doc.get("Mountpoint", ""),
            "CreatedAt": doc.get("CreatedAt", ""), "Labels": doc.get("Labels") or {}, "Scope": doc.get("Scope", "local"),
            "Options": doc.get("Options") or {}, "Status": {}}


async def list_volumes(request: web.Request) -> web.Response:
    eng = engine(request)

    def docs():
        return [_document(d) for d in eng.volumes.documents(eng.volumes.list(filters=filters(request) or None))]

    return reply({"Volumes": await call(docs), "Warnings": []})


async def inspect(request: web.Request) -> web.Response:
    found, errors = await call(engine(request).volumes.inspect, [request.match_info["name"]])
    if errors:
        raise errors[0]
    return reply(_document(found[0]))


async def create(request: web.Request) -> web.Response:
    body = await request.json() if request.can_read_body else {}
    eng = engine(request)

    def make():
        volume = eng.volumes.create(body.get("Name") or None, labels=dict(body.get("Labels") or {}) or None,
                                    ignore=True, driver=body.get("Driver") or "local",
                                    options=dict(body.get("DriverOpts") or {}) or None)
        return _document(eng.volumes.documents([volume])[0])

    return reply(await call(make), status=201)


async def remove(request: web.Request) -> web.Response:
    raise_first(await call(engine(request).volumes.remove, [request.match_info["name"]], force=flag(request, "force")))
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    removed = await call(engine(request).volumes.prune, filters=filters(request) or None)
    return reply({"VolumesDeleted": removed or None, "SpaceReclaimed": 0})


ROUTES = [
    ("GET", "/volumes", list_volumes), ("POST", "/volumes/create", create), ("POST", "/volumes/prune", prune),
    ("GET", "/volumes/{name}", inspect), ("DELETE", "/volumes/{name}", remove),
]
