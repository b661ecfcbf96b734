"""images: create (pull, with streamed JSON progress), json, {name}/json, history, tag, DELETE, prune."""

from __future__ import annotations

import json
import threading

from aiohttp import web

from pyctr.errors import InvalidArgument
from pyctr.service.app import call, engine, error, filters, flag, reply
from pyctr.service.streams import from_thread, with_progress


def _created(text: str) -> int:
    from pyctr.units import parse_created

    return int(parse_created(text) or 0)


def summary(record, containers: int = 0) -> dict:
    return {"Id": "sha256:" + record.id, "ParentId": "", "RepoTags": list(record.names) or None,
            "RepoDigests": list(record.repo_digests), "Created": _created(record.created), "Size": record.size,
            "SharedSize": -1, "VirtualSize": record.size, "Labels": None, "Containers": containers}


async def list_images(request: web.Request) -> web.Response:
    eng = engine(request)

    def rows():
        counts = eng.images.container_counts()
        return [dict(summary(r, counts.get(r.id, 0)), Labels=eng.images.labels(r) or None)
                for r in eng.images.list(filters=filters(request) or None)]

    return reply(await call(rows))


def document(info) -> dict:
    """Docker's ImageInspect of an engine ImageInfo."""
    record, cfg = info.record, info.config
    return {
        "Id": "sha256:" + record.id, "RepoTags": list(record.names), "RepoDigests": list(record.repo_digests),
        "Parent": "", "Comment": cfg.get("comment", ""), "Created": record.created, "Container": "",
        "ContainerConfig": None, "DockerVersion": cfg.get("docker_version", ""), "Author": cfg.get("author", ""),
        "Config": cfg.get("config") or {}, "Architecture": cfg.get("architecture", ""),
        "Variant": cfg.get("variant", ""), "Os": cfg.get("os", ""), "Size": record.size, "VirtualSize": record.size,
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": ":".join(info.lower_dirs)}},
        "RootFS": {"Type": "layers", "Layers": list(record.diff_ids)},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


async def inspect(request: web.Request) -> web.Response:
    info = await call(engine(request).images.inspect, request.match_info["name"])
    return reply(document(info))


async def history(request: web.Request) -> web.Response:
    entries = await call(engine(request).images.history, request.match_info["name"])
    return reply([{"Id": ("sha256:" + e.id) if e.id else "<missing>", "Created": _created(e.created),
                   "CreatedBy": e.created_by, "Tags": list(e.tags) or None, "Size": e.size, "Comment": e.comment}
                  for e in entries])


def registry_credentials(request: web.Request) -> str | None:
    """USER:PASSWORD of the X-Registry-Auth header (base64url JSON), if it names a user."""
    import base64

    header = request.headers.get("X-Registry-Auth")
    if not header:
        return None
    try:
        auth = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except ValueError:
        raise InvalidArgument("invalid X-Registry-Auth header") from None
    if not isinstance(auth, dict) or not auth.get("username"):
        return None
    return f"{auth['username']}:{auth.get('password', '')}"


def _progress_message(event) -> dict | None:
    short = event.digest.split(":")[-1][:12]
    if event.kind == "trying":
        return None
    if event.kind == "blob":
        return {"status": "Downloading", "progressDetail": {"current": event.done, "total": event.total}, "id": short}
    if event.kind == "blob-done":
        return {"status": "Pull complete", "progressDetail": {}, "id": short}
    if event.kind == "blob-exists":
        return {"status": "Already exists", "progressDetail": {}, "id": short}
    if event.kind in ("note", "warning"):
        return {"status": event.message}
    return None


async def create(request: web.Request) -> web.StreamResponse:
    """Pull `fromImage` (with `tag`), streaming Docker's progress messages; an error after the
    stream started is an {"error": ...} message, as Docker's."""
    eng = engine(request)
    name, tag = request.query.get("fromImage", ""), request.query.get("tag", "")
    if request.query.get("fromSrc"):
        raise InvalidArgument("importing a tarball (fromSrc) is not supported yet")
    if not name:
        raise InvalidArgument("fromImage is required")
    if tag and "@" not in name and ":" not in name.rpartition("/")[2]:
        name = f"{name}{'@' if tag.startswith('sha256:') else ':'}{tag}"
    platform = request.query.get("platform") or None
    stop = threading.Event()
    credentials = registry_credentials(request)
    produce = with_progress(lambda progress: eng.images.pull(name, platform=platform, progress=progress,
                                                             credentials=credentials))

    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    repo = name.split("@")[0].rpartition(":")[0] if ":" in name.rpartition("/")[2] else name.split("@")[0]
    await response.write(json.dumps({"status": f"Pulling from {repo}", "id": tag or "latest"}).encode() + b"\n")
    async for kind, item in from_thread(produce, stop):
        if kind == "event":
            message = _progress_message(item)
        elif kind == "error":
            message = {"errorDetail": {"message": str(item)}, "error": str(item)}
        else:
            message = {"status": f"Digest: {item.manifest_digest}"}
            await response.write(json.dumps(message).encode() + b"\n")
            message = {"status": f"Status: Downloaded newer image for {name}"}
        if message:
            await response.write(json.dumps(message).encode() + b"\n")
    await response.write_eof()
    return response


async def tag(request: web.Request) -> web.Response:
    repo, label = request.query.get("repo", ""), request.query.get("tag", "") or "latest"
    if not repo:
        raise InvalidArgument("repo is required")
    await call(engine(request).images.tag, request.match_info["name"], [f"{repo}:{label}"])
    return web.Response(status=201)


async def remove(request: web.Request) -> web.Response:
    result = await call(engine(request).images.remove, [request.match_info["name"]], force=flag(request, "force"))
    if result.errors:
        raise result.errors[0]
    return reply([{"Untagged": n} for n in result.untagged] + [{"Deleted": "sha256:" + d} for d in result.deleted])


async def prune(request: web.Request) -> web.Response:
    wanted = filters(request)
    dangling = [f for f in wanted if f.startswith("dangling=")]
    all_images = any(f.split("=", 1)[1].lower() in ("false", "0") for f in dangling)
    removed = await call(engine(request).images.prune, all_images=all_images,
                         filters=[f for f in wanted if f not in dangling] or None)
    return reply({"ImagesDeleted": [{"Deleted": "sha256:" + i} for i in removed] or None, "SpaceReclaimed": 0})


async def search(request: web.Request) -> web.Response:
    """Not offered: pyctr has no search of registries (the command line has none either)."""
    term = request.query.get("term", "")
    return error(501, f"searching registries for {term!r} is not supported by pyctr: pull by name instead")


ROUTES = [
    ("GET", "/images/json", list_images), ("GET", "/images/search", search), ("POST", "/images/create", create),
    ("POST", "/images/prune", prune),
    ("GET", "/images/{name:.+}/json", inspect), ("GET", "/images/{name:.+}/history", history),
    ("POST", "/images/{name:.+}/tag", tag), ("DELETE", "/images/{name:.+}", remove),
]
