"""-v, --mount and --tmpfs as users write them (to spec Mounts), and spec Mounts as OCI mounts.

Parsing keeps what the user asked for (a volume by name, a bind by path);
`to_oci` resolves it when the container is created: volumes are made on
first use, bind sources must exist (as podman).
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # (not typing's: ~2 ms at every start)
if TYPE_CHECKING:
    from typing import Callable

from pyctr.container.spec import Mount
from pyctr.errors import InvalidArgument

BIND_OPTIONS = {"ro", "rw", "z", "Z", "shared", "rshared", "slave", "rslave", "private", "rprivate", "nosuid", "nodev", "noexec", "suid", "dev", "exec", "U", "O", "copy", "nocopy"}
PROPAGATIONS = ("shared", "rshared", "slave", "rslave", "private", "rprivate")


def _check_destination(dest: str, what: str) -> str:
    if not dest.startswith("/"):
        raise InvalidArgument(f"invalid container path {dest!r} in {what}: must be absolute")
    return os.path.normpath(dest)


def parse_volume(text: str) -> Mount:
    """`-v SRC:DEST[:OPTS]`; SRC a host path (absolute or ./relative) or a volume name; `-v DEST` an anonymous volume."""
    parts = text.split(":")
    if len(parts) == 1:
        return Mount("volume", _check_destination(parts[0], f"-v {text}"))
    if len(parts) > 3:
        raise InvalidArgument(f"invalid volume specification {text!r}: too many colons")
    source, dest = parts[0], _check_destination(parts[1], f"-v {text}")
    options = parts[2].split(",") if len(parts) == 3 and parts[2] else []
    bad = [o for o in options if o not in BIND_OPTIONS]
    if bad:
        raise InvalidArgument(f"invalid option {bad[0]!r} in volume specification {text!r}")
    if source.startswith(("/", "./", "../")) or source in (".", ".."):
        return Mount("bind", dest, os.path.abspath(source), options)
    return Mount("volume", dest, source, options)


def parse_mount(text: str) -> Mount:
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
        return Mount("bind", dest, os.path.abspath(source), options + [fields.get("bind-propagation", "rprivate")])
    if kind == "volume":
        return Mount("volume", dest, source or "", options)
    if kind == "tmpfs":
        size = fields.get("tmpfs-size")
        mode = fields.get("tmpfs-mode", "1777")
        return Mount("tmpfs", dest, "tmpfs", ([f"size={size}"] if size else []) + [f"mode={mode}"] + options)
    raise InvalidArgument(f"--mount {text!r}: unknown mount type {kind!r} (bind, volume or tmpfs)")


def parse_tmpfs(text: str) -> Mount:
    """`--tmpfs /run[:size=64m,mode=755]`."""
    dest, _, opts = text.partition(":")
    return Mount("tmpfs", _check_destination(dest, f"--tmpfs {text}"), "tmpfs", [o for o in opts.split(",") if o])


def to_oci(mount: Mount, volume_path: Callable[[str], str]) -> dict:
    """The OCI mount for a spec Mount; `volume_path(name)` gives a volume's directory ("" makes an anonymous one).

    Volume mounts keep `volume_name` (named) or `volume: True` (anonymous) for inspect and `rm -v`.
    """
    if mount.type == "tmpfs":
        return {"destination": mount.destination, "type": "tmpfs", "source": "tmpfs",
                "options": ["rw", "noexec", "nosuid", "nodev", *mount.options]}
    if mount.type == "bind":
        return _bind(mount.source, mount.destination, mount.options)
    oci = _bind(volume_path(mount.source), mount.destination, mount.options)
    if mount.source:
        oci["volume_name"] = mount.source
    else:
        oci["volume"] = True
    return oci


def _bind(source: str, dest: str, options: list[str]) -> dict:
    if not os.path.exists(source):
        raise InvalidArgument(f"statfs {source}: no such file or directory")
    opts = ["rbind", "ro" if "ro" in options else "rw"]
    opts += [o for o in options if o in ("nosuid", "nodev", "noexec")]
    opts.append(next((o for o in options if o in PROPAGATIONS), "rprivate"))
    return {"destination": dest, "type": "bind", "source": os.path.realpath(source), "options": opts}
