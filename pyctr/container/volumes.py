"""Named volumes: directories under <root>/volumes/<name>/_data, with a small record each."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from dataclasses import asdict, field
from pathlib import Path

from pyctr.errors import Conflict, InvalidArgument, NameInUse, VolumeNotFound
from pyctr.linux.fsutil import atomic_write_json, locked, makedirs, read_json
from pyctr.values import value

_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


@value
class Volume:
    name: str
    mountpoint: str
    created: float
    labels: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False

    def inspect(self) -> dict:
        """podman's `volume inspect` fields."""
        return {
            "Name": self.name,
            "Driver": "local",
            "Mountpoint": self.mountpoint,
            "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created)),
            "Labels": self.labels,
            "Scope": "local",
            "Options": {},
            "Anonymous": self.anonymous,
        }


class VolumeService:
    def __init__(self, root: Path):
        self.dir = Path(root) / "volumes"

    def _record(self, name: str) -> Path:
        return self.dir / name / "volume.json"

    def create(self, name: str | None = None, *, labels: dict[str, str] | None = None, exist_ok: bool = False, anonymous: bool = False) -> Volume:
        name = name or secrets.token_hex(32)
        if not _NAME_RE.match(name):
            raise InvalidArgument(f"volume name {name!r} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
        makedirs(self.dir)
        with locked(self.dir / ".lock"):
            existing = self._load(name)
            if existing:
                if exist_ok:
                    return existing
                raise NameInUse(f"volume with name {name} already exists: volume already exists")
            data = self.dir / name / "_data"
            makedirs(data, 0o755)
            volume = Volume(name, str(data), time.time(), labels or {}, anonymous)
            atomic_write_json(self._record(name), asdict(volume))
        return volume

    def _load(self, name: str) -> Volume | None:
        if not _NAME_RE.match(name):
            return None
        data = read_json(self._record(name))
        return Volume(**data) if data else None

    def get(self, name: str) -> Volume:
        volume = self._load(name)
        if not volume:
            raise VolumeNotFound(f"no volume with name \"{name}\" found: no such volume")
        return volume

    def list(self) -> list[Volume]:
        try:
            names = sorted(os.listdir(self.dir))
        except FileNotFoundError:
            return []
        return [v for v in (self._load(n) for n in names if not n.startswith(".")) if v]

    def remove(self, name: str, *, users: list[str]) -> None:
        """Remove a volume; `users` are the containers that still mount it."""
        volume = self.get(name)
        if users:
            raise Conflict(
                f"volume {name} is being used by the following container(s): {', '.join(users)}: volume is being used"
            )
        with locked(self.dir / ".lock"):
            gone = self.dir / f".removing-{volume.name}-{os.getpid()}"
            os.rename(self.dir / volume.name, gone)
            shutil.rmtree(gone, ignore_errors=True)
