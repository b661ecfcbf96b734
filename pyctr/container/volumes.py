"""Named volumes: directories under <root>/volumes/<name>/_data, with a small record each."""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import asdict, field
from pathlib import Path

from pyctr.errors import Conflict, InvalidArgument, NameInUse, VolumeNotFound
from pyctr.linux.fsutil import atomic_write_json, locked, makedirs, read_json
from pyctr.values import value

_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


# Flags of `-o o=...` that are mount(2) flags; the other words are the filesystem's data.
_MOUNT_FLAGS = {"ro": 1, "rw": 0, "nosuid": 2, "nodev": 4, "noexec": 8, "sync": 16, "noatime": 1024,
                "nodiratime": 2048, "relatime": 1 << 21, "bind": 4096, "rbind": 4096 | 16384}
_OPTION_KEYS = ("type", "device", "o")  # podman's local driver; size/inodes need quota support


@value
class Volume:
    name: str
    mountpoint: str
    created: float
    labels: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False
    options: dict[str, str] = field(default_factory=dict)  # -o as given: type, device, o
    driver: str = "local"

    @property
    def uid(self) -> int | None:
        return _owner(self.options, "uid")

    @property
    def gid(self) -> int | None:
        return _owner(self.options, "gid")

    @property
    def mounted_at_use(self) -> bool:
        """A tmpfs or device volume: mounted on its directory when a container uses it."""
        return bool(self.options.get("type") or self.options.get("device"))

    def inspect(self, mount_count: int = 0) -> dict:
        """podman's `volume inspect` fields; `mount_count`: VolumeService.mount_count."""
        options = dict(self.options)
        doc = {
            "Name": self.name,
            "Driver": self.driver,
            "Mountpoint": self.mountpoint,
            "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created)),
            "Labels": self.labels,
            "Scope": "local",
            "Options": options,
        }
        if self.uid is not None:
            options["UID"] = str(self.uid)
            doc["UID"] = self.uid
        if self.gid is not None:
            options["GID"] = str(self.gid)
            doc["GID"] = self.gid
        doc["Options"] = dict(sorted(options.items()))  # as podman prints a map
        doc["Anonymous"] = self.anonymous
        doc["MountCount"] = mount_count
        return doc


def _owner(options: dict[str, str], key: str) -> int | None:
    for word in options.get("o", "").split(","):
        name, eq, value = word.partition("=")
        if name == key and eq:
            return int(value)
    return None


def check_options(name: str, driver: str, options: dict[str, str]) -> None:
    """podman 4.3.1's checks of `volume create --driver/--opt`."""
    if driver != "local":
        raise InvalidArgument(f"volume {name} uses volume plugin {driver} but it could not be retrieved: "
                              f"no volume plugin with name {driver} available: required plugin missing")
    for key in options:
        if key.lower() not in _OPTION_KEYS:
            raise InvalidArgument(f"invalid mount option {key} for driver 'local': invalid argument")
    for key in ("uid", "gid"):
        for word in options.get("o", "").split(","):
            name, _, value = word.partition("=")
            if name == key and not value.isdigit():
                raise InvalidArgument(f"cannot convert {key} {value} to integer: invalid argument")
    if options.get("o") and not options.get("type") and not options.get("device"):
        extra = [w for w in options["o"].split(",") if w.partition("=")[0] not in ("uid", "gid", "")]
        if extra:
            raise InvalidArgument(f"invalid mount option {extra[0]} for driver 'local': only uid and gid are valid without type or device")


class VolumeService:
    def __init__(self, root: Path):
        self.dir = Path(root) / "volumes"

    def _record(self, name: str) -> Path:
        return self.dir / name / "volume.json"

    def create(self, name: str | None = None, *, labels: dict[str, str] | None = None, exist_ok: bool = False,
               anonymous: bool = False, options: dict[str, str] | None = None, driver: str = "local") -> Volume:
        options = dict(options or {})
        name = name or os.urandom(32).hex()  # not `secrets`: hashlib and OpenSSL cost ~2 ms to load
        check_options(name, driver, options)
        if not _NAME_RE.match(name):
            raise InvalidArgument(f"volume name {name!r} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
        makedirs(self.dir)
        with locked(self.dir / ".lock"):
            self._sweep()
            existing = self._load(name)
            if existing:
                if exist_ok:
                    return existing
                raise NameInUse(f"volume with name {name} already exists: volume already exists")
            data = self.dir / name / "_data"
            makedirs(data, 0o755)
            volume = Volume(name, str(data), time.time(), labels or {}, anonymous, options, driver)
            if not volume.mounted_at_use and (volume.uid is not None or volume.gid is not None):
                os.chown(data, -1 if volume.uid is None else volume.uid, -1 if volume.gid is None else volume.gid)
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

    def use(self, name: str | None, *, anonymous: bool = False) -> Volume:
        """The volume a container is made with (made on first use); a tmpfs or device volume is
        mounted only while a container runs with it (hold)."""
        return self.create(name, exist_ok=True, anonymous=anonymous)

    def _holders_file(self, volume: Volume) -> Path:
        return self.dir / volume.name / "holders.json"

    def mount_count(self, volume: Volume) -> int:
        """podman's MountCount: how many users hold a tmpfs or device volume mounted."""
        if not volume.mounted_at_use:
            return 0
        return len((read_json(self._holders_file(volume)) or {}).get("holders") or [])

    def hold(self, name: str, holder: str) -> Volume:
        """Count `holder` (a container ID, once; or "" once per `volume mount`) among the users of
        a tmpfs or device volume, mounting it for the first (podman's MountCount)."""
        from pyctr.linux import mount

        volume = self.get(name)
        if volume.mounted_at_use:
            with locked(self.dir / ".lock"):
                mounted = mount.is_mountpoint(volume.mountpoint)
                holders = ((read_json(self._holders_file(volume)) or {}).get("holders") or []) if mounted else []
                if not mounted:
                    _mount(volume)  # users counted before a reboot are gone with the mount
                if holder == "" or holder not in holders:
                    holders.append(holder)
                atomic_write_json(self._holders_file(volume), {"holders": holders})
        return volume

    def release(self, name: str, holder: str) -> Volume | None:
        """`holder` no longer uses the volume; the last user's release unmounts a tmpfs or device volume."""
        try:
            volume = self.get(name)
        except VolumeNotFound:
            return None
        if volume.mounted_at_use:
            with locked(self.dir / ".lock"):
                holders = (read_json(self._holders_file(volume)) or {}).get("holders") or []
                if holder in holders:
                    holders.remove(holder)
                if not holders:
                    _unmount(volume)
                if self._holders_file(volume).parent.exists():
                    atomic_write_json(self._holders_file(volume), {"holders": holders})
        return volume

    def mount(self, name: str) -> Volume:
        """`volume mount`: one more user of a tmpfs or device volume (others need no mount)."""
        return self.hold(name, "")

    def unmount(self, name: str) -> Volume:
        """`volume unmount`: one user fewer; unmounted by the last (no user: nothing to do, as podman)."""
        volume = self.release(name, "")
        if volume is None:
            raise VolumeNotFound(f"no volume with name \"{name}\" found: no such volume")
        return volume

    def remove(self, name: str, *, users: list[str]) -> None:
        """Remove a volume; `users` are the containers that still mount it."""
        volume = self.get(name)
        if users:
            raise Conflict(
                f"volume {name} is being used by the following container(s): {', '.join(users)}: volume is being used"
            )
        with locked(self.dir / ".lock"):
            self._sweep()
            _unmount(volume)  # never delete what a device or bind volume holds
            gone = self.dir / f".removing-{volume.name}-{os.getpid()}"
            os.rename(self.dir / volume.name, gone)
            import shutil  # (here: bz2 and lzma with it, ~1.5 ms; a start removes no volume)

            shutil.rmtree(gone, ignore_errors=True)

    def _sweep(self) -> None:
        """What a killed `volume rm` left (its renamed directory); under the lock, so no remove is running."""
        try:
            leftovers = [n for n in os.listdir(self.dir) if n.startswith(".removing-")]
        except FileNotFoundError:
            return
        from pyctr.linux import mount

        for name in leftovers:
            data = str(self.dir / name / "_data")
            if mount.is_mountpoint(data):  # killed before its unmount finished: never delete a device's files
                mount.unmount(data, lazy=True)
                if mount.is_mountpoint(data):
                    continue
            import shutil  # (here: bz2 and lzma with it, ~1.5 ms; a start removes no volume)

            shutil.rmtree(self.dir / name, ignore_errors=True)


def hold_for(root: Path, record) -> None:
    """A container about to run: its tmpfs and device volumes mounted and counted (podman mounts
    them at start, not at create)."""
    names = [m["volume_name"] for m in record.mounts if m.get("volume_name")]
    if names:
        service = VolumeService(root)
        for name in names:
            with contextlib.suppress(VolumeNotFound):  # removed meanwhile: runc will say what is missing
                service.hold(name, record.id)


def release_for(root: Path, record) -> None:
    """A container that ended: it no longer holds its volumes (the last user unmounts them)."""
    names = [m["volume_name"] for m in record.mounts if m.get("volume_name")]
    if names:
        service = VolumeService(root)
        for name in names:
            service.release(name, record.id)


def _mount(volume: Volume) -> None:
    from pyctr.linux import mount

    if mount.is_mountpoint(volume.mountpoint):
        return
    flags, data = 0, []
    for word in volume.options.get("o", "").split(","):
        if word in _MOUNT_FLAGS:
            flags |= _MOUNT_FLAGS[word]
        elif word:
            data.append(word)
    kind = volume.options.get("type") or None
    if kind == "bind":
        flags |= _MOUNT_FLAGS["bind"]
    source = volume.options.get("device") or kind or "none"
    mount.mount(source, volume.mountpoint, None if flags & _MOUNT_FLAGS["bind"] else kind, flags, ",".join(data) or None)


def _unmount(volume: Volume) -> None:
    from pyctr.linux import mount

    for _ in range(8):  # stacked mounts, one at a time
        if not mount.is_mountpoint(volume.mountpoint):
            return
        mount.unmount(volume.mountpoint, lazy=True)
    raise Conflict(f"volume {volume.name}: {volume.mountpoint} is still mounted")
