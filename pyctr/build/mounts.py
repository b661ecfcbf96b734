"""RUN --mount=type=bind|cache|secret|tmpfs: parsed, and turned into the step container's OCI mounts.

bind: a context path (or another stage's or image's, `from=`), read-only unless `rw` (then a copy:
writes never reach the context). cache: a directory kept under <root>/build-cache/mounts/ between
builds (by `id`, else by target). secret: a file given with `--secret id=ID,src=PATH`. tmpfs: a tmpfs.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil

from pyctr.build import words
from pyctr.errors import InvalidArgument, NotFound

_KEYS = {"type", "target", "dst", "destination", "source", "src", "from", "id", "ro", "readonly", "rw",
         "readwrite", "sharing", "mode", "uid", "gid", "required", "size", "bind-propagation", "z", "Z",
         "relabel", "env"}


def parse(text: str, env: dict[str, str], escape: str) -> dict:
    text = words.expand(text, env, escape)
    out: dict = {"type": "bind"}
    for part in text.split(","):
        key, sep, val = part.partition("=")
        key = key.strip()
        if key not in _KEYS:
            raise InvalidArgument(f"RUN --mount: unknown option {key!r}")
        if key in ("dst", "destination"):
            key = "target"
        elif key == "src":
            key = "source"
        elif key == "readonly":
            key = "ro"
        elif key == "readwrite":
            key = "rw"
        out[key] = val if sep else "true"
    if out["type"] not in ("bind", "cache", "secret", "tmpfs"):
        raise InvalidArgument(f"RUN --mount: unsupported type {out['type']!r}: use bind, cache, secret or tmpfs")
    if out["type"] == "secret":
        if "id" not in out and "target" in out:
            out["id"] = posixpath.basename(out["target"])
        if "id" not in out:
            raise InvalidArgument("RUN --mount=type=secret needs an id")
        out.setdefault("target", f"/run/secrets/{out['id']}")
    if "target" not in out:
        raise InvalidArgument(f"RUN --mount=type={out['type']} needs a target")
    return out


def cache_input(m: dict, run) -> str:
    """What a mount adds to its step's cache key: a bind's content (or the stage it comes from)."""
    if m["type"] != "bind":
        return f"{m['type']}:{m['target']}"
    if m.get("from"):
        from pyctr.build.filesteps import state_of_source

        return f"bind:{state_of_source(run, m['from']).id}:{m.get('source', '')}:{m['target']}"
    from pyctr.build.context import digest_tree

    ctx = run.b.context
    rel = posixpath.normpath("/" + m.get("source", "")).lstrip("/")
    if not os.path.lexists(ctx.path(rel)):
        raise NotFound(f"RUN --mount: no such file in the context: {m.get('source', '')}")
    return "bind:" + digest_tree(ctx, [rel], m["target"])


def to_oci(m: dict, run, step) -> dict:
    kind, target = m["type"], m["target"]
    if not target.startswith("/"):
        target = posixpath.join(run.state.config.get("config", {}).get("WorkingDir") or "/", target)
    if kind == "tmpfs":
        options = ["nosuid", "nodev"] + ([f"size={m['size']}"] if m.get("size") else [])
        return {"destination": target, "type": "tmpfs", "source": "tmpfs", "options": options}
    if kind == "secret":
        source = run.b.secrets.get(m["id"])
        if source is None:
            if m.get("required") == "true":
                raise NotFound(f"RUN --mount: no secret {m['id']!r} was given (--secret id={m['id']},src=PATH)")
            source = os.devnull
        return {"destination": target, "type": "bind", "source": source, "options": ["bind", "ro"]}
    if kind == "cache":
        name = m.get("id") or target
        directory = os.path.join(run.b.services.config.root, "build-cache", "mounts",
                                 hashlib.sha256(name.encode()).hexdigest()[:32])
        if not os.path.isdir(directory):
            os.makedirs(directory, exist_ok=True)
            os.chmod(directory, int(m.get("mode", "755"), 8))
            os.chown(directory, int(m.get("uid", "0")), int(m.get("gid", "0")))
        return {"destination": target, "type": "bind", "source": directory, "options": ["rbind", "rw"]}
    # bind
    if m.get("from"):
        from pyctr.build.copystep import resolve_in
        from pyctr.build.filesteps import state_of_source

        root = step.build.image_root(state_of_source(run, m["from"]).chain_ids)
        source = os.path.join(root, resolve_in(root, "/" + m.get("source", ""), follow_last=True))
    else:
        ctx = run.b.context
        source = ctx.path(posixpath.normpath("/" + m.get("source", "")).lstrip("/"))
    if m.get("rw") == "true":  # writes go to a copy, never to the context or another image
        copy = str(step.path / f"rw-{len(os.listdir(step.path))}")
        if os.path.isdir(source):
            shutil.copytree(source, copy, symlinks=True)
        else:
            shutil.copy2(source, copy)
        return {"destination": target, "type": "bind", "source": copy, "options": ["rbind", "rw"]}
    return {"destination": target, "type": "bind", "source": source, "options": ["rbind", "ro"]}
