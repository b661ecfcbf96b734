"""containers/{id}/archive: HEAD (a path's stat), GET (a tar of it), PUT (a tar unpacked into a
directory): what `docker cp` uses. The tar goes through a spool file, off the event loop."""

from __future__ import annotations

import base64
import json
import tarfile
import tempfile

from aiohttp import web

from pyctr.errors import InvalidArgument
from pyctr.service.app import call, engine, flag
from pyctr.service.streams import receive_file, send_file

_GO_DIR, _GO_SYMLINK = 1 << 31, 1 << 27  # Go's os.FileMode bits, which Docker's stat header carries


def _path(request: web.Request) -> str:
    path = request.query.get("path")
    if not path:
        raise InvalidArgument("path is required")
    return path


def _copy_out(eng, name: str, path: str):
    """The tar of `path` in a spool file, and Docker's stat of it (its first member)."""
    from pyctr.units import rfc3339_nano

    spool = tempfile.TemporaryFile()
    try:
        eng.containers.copy_from(name, path, out=spool)
        spool.seek(0)
        with tarfile.open(fileobj=spool, mode="r|") as tar:
            first = tar.next()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    mode = (first.mode & 0o7777) | (_GO_DIR if first.isdir() else 0) | (_GO_SYMLINK if first.issym() else 0)
    stat = {"name": first.name.rstrip("/").rpartition("/")[2] or first.name, "size": first.size, "mode": mode,
            "mtime": rfc3339_nano(first.mtime), "linkTarget": first.linkname}
    return spool, stat


def _stat_header(stat: dict) -> dict:
    return {"X-Docker-Container-Path-Stat": base64.b64encode(json.dumps(stat).encode()).decode()}


async def head(request: web.Request) -> web.Response:
    spool, stat = await call(_copy_out, engine(request), request.match_info["id"], _path(request))
    spool.close()
    return web.Response(headers=_stat_header(stat))


async def get(request: web.Request) -> web.StreamResponse:
    spool, stat = await call(_copy_out, engine(request), request.match_info["id"], _path(request))
    with spool:
        return await send_file(request, spool, {**_stat_header(stat), "Content-Type": "application/x-tar"})


async def put(request: web.Request) -> web.Response:
    path = _path(request)
    with tempfile.TemporaryFile() as spool:
        await receive_file(request, spool)
        await call(engine(request).containers.copy_to, request.match_info["id"], None, path, stream=spool,
                   overwrite=not flag(request, "noOverwriteDirNonDir"))
    return web.Response(status=200)


async def export(request: web.Request) -> web.StreamResponse:
    eng = engine(request)
    with tempfile.TemporaryFile() as spool:
        await call(eng.containers.export, request.match_info["id"], spool)
        spool.seek(0)
        return await send_file(request, spool, {"Content-Type": "application/x-tar"})


ROUTES = [
    ("HEAD", "/containers/{id}/archive", head), ("GET", "/containers/{id}/archive", get),
    ("PUT", "/containers/{id}/archive", put), ("GET", "/containers/{id}/export", export),
]
