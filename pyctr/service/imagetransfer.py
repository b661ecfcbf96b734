"""images: push (streamed progress), get (a docker-archive of images), load; commit."""

from __future__ import annotations

import json
import tempfile
import threading

from aiohttp import web

from pyctr.errors import InvalidArgument
from pyctr.service.app import call, engine, flag, reply
from pyctr.service.images import registry_credentials
from pyctr.service.streams import from_thread, receive_file, send_file, with_progress


async def push(request: web.Request) -> web.StreamResponse:
    eng, name = engine(request), request.match_info["name"]
    tag = request.query.get("tag")
    if tag and ":" not in name.rpartition("/")[2]:
        name = f"{name}:{tag}"
    credentials = registry_credentials(request)
    produce = with_progress(lambda progress: eng.images.push(name, progress=progress, credentials=credentials))
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(json.dumps({"status": f"The push refers to repository [{name.rpartition(':')[0] or name}]"}).encode() + b"\n")
    async for kind, item in from_thread(produce, threading.Event()):
        if kind == "event":
            if item.kind != "blob":
                continue
            status = {"exists": "Layer already exists", "mounted": "Mounted from another repository"}.get(item.state, "Pushed")
            message = {"status": status, "progressDetail": {}, "id": item.digest.split(":")[-1][:12]}
        elif kind == "error":
            message = {"errorDetail": {"message": str(item)}, "error": str(item)}
        else:  # (the docker CLI shows a message with "aux" as data only: the status goes alone first)
            label = tag or name.rpartition(":")[2] or "latest"
            await response.write(json.dumps({"status": f"{label}: digest: {item.digest}"}).encode() + b"\n")
            message = {"progressDetail": {}, "aux": {"Tag": label, "Digest": item.digest}}
        await response.write(json.dumps(message).encode() + b"\n")
    await response.write_eof()
    return response


async def _send_archive(request: web.Request, names: list[str]) -> web.StreamResponse:
    eng = engine(request)
    with tempfile.TemporaryFile() as spool:
        await call(eng.images.save, names, spool, fmt="docker-archive", multi_image=len(names) > 1)
        spool.seek(0)
        return await send_file(request, spool, {"Content-Type": "application/x-tar"})


async def get_one(request: web.Request) -> web.StreamResponse:
    return await _send_archive(request, [request.match_info["name"]])


async def get_many(request: web.Request) -> web.StreamResponse:
    names = request.query.getall("names", [])
    if not names:
        raise InvalidArgument("names is required")
    return await _send_archive(request, names)


async def load(request: web.Request) -> web.Response:
    eng = engine(request)
    with tempfile.TemporaryFile() as spool:
        await receive_file(request, spool)
        loaded = await call(eng.images.load, spool)
    # (`quiet` hides progress only, as Docker's: what was loaded is always said)
    text = "".join(json.dumps({"stream": f"Loaded image: {name}\n"}) + "\n" for name in loaded)
    return web.Response(body=text.encode(), headers={"Content-Type": "application/json"})


async def commit(request: web.Request) -> web.Response:
    container = request.query.get("container")
    if not container:
        raise InvalidArgument("container is required")
    repo, tag = request.query.get("repo"), request.query.get("tag")
    image = f"{repo}:{tag or 'latest'}" if repo else None
    changes = request.query.getall("changes", [])
    image_id = await call(engine(request).images.commit, container, image, changes=[c for c in changes if c] or None,
                          message=request.query.get("comment") or None, author=request.query.get("author") or None,
                          pause=flag(request, "pause", True))
    return reply({"Id": "sha256:" + image_id.removeprefix("sha256:")}, status=201)


ROUTES = [
    ("GET", "/images/get", get_many), ("POST", "/images/load", load), ("POST", "/commit", commit),
    ("POST", "/images/{name:.+}/push", push), ("GET", "/images/{name:.+}/get", get_one),
]
