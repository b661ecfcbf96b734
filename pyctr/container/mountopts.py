"""-v, --mount and --tmpfs as users write them, turned into OCI mounts.

Bind sources must exist (as podman); a `-v NAME:/path` whose source is not a
path is a named volume, created on first use.
"""

from __future__ import annotations

import os
from typing import Callable

from pyctr.errors import InvalidArgument

BIND_OPTIONS = {"ro", "rw", "z", "Z", "shared", "rshared", "slave", "rslave", "private", "rprivate", "nosuid", "nodev", "noexec", "suid", "dev", "exec", "U", "O", "copy", "nocopy"}


def _check_destination(dest: str, what: str) -> str:
    if not dest.startswith("/"):
        raise InvalidArgument(f"invalid container path {dest!r} in {what}: must be absolute")
    return os.path.normpath(dest)


def _bind(source: str, dest: str, options: list[str]) -> dict:
    if not os.path.exists(source):
        raise InvalidArgument(f"statfs {source}: no such file or directory")
    opts = ["rbind"]
    opts.append("ro" if "ro" in options else "rw")
    opts += [o for o in options if o in ("nosuid", "nodev", "noexec")]
    propagation = next((o for o in options if o in ("shared", "rshared", "slave", "rslave", "private", "rprivate")), "rprivate")
    opts.append(propagation)
    return {"destination": dest, "type": "bind", "source": os.path.realpath(source), "options": opts}


def parse_volume(text: str, volume_path: Callable[[str], str]) -> dict:
    """`-v SRC:DEST[:OPTS]`; SRC a host path (absolute or ./relative) or a volume name."""
    parts = text.split(":")
    if len(parts) == 1:
        # `-v /data`: an anonymous volume at /data.
        dest = _check_destination(parts[0], f"-v {text}")
        return {**_bind(volume_path(""), dest, []), "volume": True}
    if len(parts) > 3:
        raise InvalidArgument(f"invalid volume specification {text!r}: too many colons")
    source, dest = parts[0], _check_destination(parts[1], f"-v {text}")
    options = parts[2].split(",") if len(parts) == 3 and parts[2] else []
    bad = [o for o in options if o not in BIND_OPTIONS]
    if bad:
        raise InvalidArgument(f"invalid option {bad[0]!r} in volume specification {text!r}")
    if source.startswith(("/", "./", "../")) or source in (".", ".."):
        return _bind(os.path.abspath(source), dest, options)
    mount = _bind(volume_path(source), dest, options)
    mount["volume_name"] = source
    return mount


def parse_mount(text: str, volume_path: Callable[[str], str]) -> dict:
    """`--mount type=bind|volume|tmpfs,source=...,destination=...,ro,...`."""
    fields: dict[str, str] = {}
    flags: list[str] = []
    for item in text.split(","):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq:
            flags.append(key)
        else:
            fields[key] = value
    kind = fields.pop("type", "volume")
    dest = fields.pop("destination", None) or fields.pop("dst", None) or fields.pop("target", None)
    if not dest:
        raise InvalidArgument(f"--mount {text!r}: destination (target) is required")
    dest = _check_destination(dest, f"--mount {text}")
    source = fields.pop("source", None) or fields.pop("src", None)
    readonly = "ro" in flags or "readonly" in flags or fields.get("readonly", fields.get("ro", "false")).lower() == "true"
    options = ["ro"] if readonly else []
    if kind == "bind":
        if not source:
            raise InvalidArgument(f"--mount {text!r}: source is required for a bind mount")
        return _bind(source, dest, options + [fields.get("bind-propagation", "rprivate")])
    if kind == "volume":
        mount = _bind(volume_path(source or ""), dest, options)
        if source:
            mount["volume_name"] = source
        return mount
    if kind == "tmpfs":
        size = fields.get("tmpfs-size")
        mode = fields.get("tmpfs-mode", "1777")
        return tmpfs(dest, ([f"size={size}"] if size else []) + [f"mode={mode}"] + (["ro"] if readonly else []))
    raise InvalidArgument(f"--mount {text!r}: unknown mount type {kind!r} (bind, volume or tmpfs)")


def parse_tmpfs(text: str) -> dict:
    """`--tmpfs /run[:size=64m,mode=755]`."""
    dest, _, opts = text.partition(":")
    return tmpfs(_check_destination(dest, f"--tmpfs {text}"), [o for o in opts.split(",") if o])


def tmpfs(dest: str, options: list[str]) -> dict:
    base = ["rw", "noexec", "nosuid", "nodev"]
    return {"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": base + options}
