"""engine.volumes: named volumes, and the containers that hold them."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from pyctr.engine.reports import Report
from pyctr.errors import InvalidArgument, PyctrError, VolumeNotFound

if TYPE_CHECKING:
    from pyctr.container.volumes import Volume
    from pyctr.engine.services import Services


class Volumes:
    def __init__(self, services: "Services"):
        self._s = services

    def create(self, name: str | None = None, *, labels: dict[str, str] | None = None, ignore: bool = False,
               driver: str = "local", options: dict[str, str] | None = None) -> "Volume":
        """A new volume (a random name when None); `ignore`: an existing one of that name is returned.
        `options`: the local driver's type, device and o (a tmpfs or device mounted at use;
        o=uid=N,gid=N owns its directory)."""
        volume = self._s.volumes.create(name, labels=labels, exist_ok=ignore, driver=driver, options=options)
        self._event("create", volume.name)
        return volume

    def _event(self, status: str, name: str) -> None:
        from pyctr import events

        events.emit(self._s.config, "volume", status, name=name)

    def list(self, *, filters: list[str] | None = None) -> list["Volume"]:
        """Every volume, or those that match every `--filter KEY=VALUE` (podman's volume ls keys:
        name, driver, label, opt, scope, until, dangling)."""
        volumes = self._s.volumes.list()
        for key, values in _parse_filters(filters, _LS_KEYS).items():
            for value in values:
                keep = self._volume_filter(key, value)
                volumes = [v for v in volumes if keep(v)]
        return volumes

    def _volume_filter(self, key: str, value: str):
        import re

        from pyctr import filters

        if key == "name":
            return lambda v: re.search(value, v.name) is not None
        if key == "driver":
            return lambda v: v.driver == value
        if key == "scope":
            return lambda v: value == "local"
        if key == "label":
            return lambda v: filters.label_matches(v.labels, value)
        if key == "opt":
            return lambda v: filters.label_matches(v.options, value)
        if key == "until":
            limit = filters.until_time(value)
            return lambda v: v.created < limit
        # dangling: no container uses it
        if value not in ("true", "false"):
            raise InvalidArgument(f"failed to parse dangling filter {value}: invalid syntax")
        used = {m.get("source") for r in self._s.containers.all() for m in r.mounts}
        return lambda v: (v.mountpoint not in used) == (value == "true")

    def get(self, name: str) -> "Volume":
        return self._s.volumes.get(name)

    def inspect(self, names: list[str] | None = None, *, all_volumes: bool = False) -> tuple[list[dict], list[PyctrError]]:
        """podman's `volume inspect` documents of the volumes found (every one with all_volumes),
        and an error per name not found (the front end shows both, as podman)."""
        if all_volumes == bool(names):
            raise InvalidArgument("provide one or more volume names or use --all")
        service = self._s.volumes
        found, errors = (self.list(), []) if all_volumes else ([], [])
        for name in names or []:
            try:
                found.append(self.get(name))
            except VolumeNotFound:
                errors.append(VolumeNotFound(f"inspecting object: no such volume {name}"))
        return [volume.inspect(service.mount_count(volume)) for volume in found], errors

    def documents(self, volumes: list["Volume"]) -> list[dict]:
        """The inspect documents of `volumes` (ls --format's fields)."""
        return [volume.inspect(self._s.volumes.mount_count(volume)) for volume in volumes]

    def exists(self, name: str) -> bool:
        try:
            self.get(name)
        except VolumeNotFound:
            return False
        return True

    def users(self, volume: "Volume") -> list[str]:
        """Names of the containers that mount the volume."""
        return [r.name for r in self._s.containers.all() if any(m.get("source") == volume.mountpoint for m in r.mounts)]

    def _named(self, name: str) -> "Volume":
        try:
            return self.get(name)
        except VolumeNotFound:
            raise VolumeNotFound(f"no such volume {name}") from None  # podman's words in export/import

    def export(self, name: str, out) -> None:
        """The volume's contents as a tar stream on the binary file `out`."""
        from pyctr.container import copy

        with self._held(name) as volume:
            copy.export(volume.mountpoint, out)

    def import_(self, name: str, source) -> None:
        """A tar stream (binary file `source`) unpacked into the volume."""
        from pyctr.container import copy

        with self._held(name) as volume:
            copy.import_dir(source, volume.mountpoint, rootless=self._s.config.rootless)

    @contextlib.contextmanager
    def _held(self, name: str):
        """The volume, a tmpfs or device one mounted for the block (and unmounted after, unless
        another user holds it)."""
        import os

        volume, holder = self._named(name), f"copy-{os.getpid()}"
        self._s.volumes.hold(name, holder)
        try:
            yield volume
        finally:
            self._s.volumes.release(name, holder)

    def mount(self, name: str) -> str:
        """Where the volume is on the host (a tmpfs or device volume is mounted there first)."""
        return self._s.volumes.mount(name).mountpoint

    def unmount(self, name: str) -> None:
        self._s.volumes.unmount(name)

    def remove(self, names: list[str] | None = None, *, force: bool = False, all_volumes: bool = False,
               timeout: int | None = None) -> list[Report]:
        """Remove volumes; `force` removes the containers using them first; with all_volumes,
        those in use are skipped. A volume in use fails with Conflict. podman's exit code for the
        reports: pyctr.engine.reports.removal_exit_code."""
        if not names and not all_volumes:
            raise InvalidArgument("choose either one or more volumes or all")
        targets = [v.name for v in self.list()] if all_volumes else list(names)
        reports = []
        for name in targets:
            report = Report(name, name)
            try:
                volume = self.get(name)
                users = self.users(volume)
                if users and force:
                    for user in users:
                        self._s.tasks.remove(self._s.containers.resolve(user), force=True, timeout=timeout)
                    users = []
                if users and all_volumes:
                    continue
                self._s.volumes.remove(name, users=users)
                self._event("remove", name)
            except PyctrError as exc:
                report.error = exc
            reports.append(report)
        return reports

    def prunable(self, *, filters: list[str] | None = None) -> list["Volume"]:
        """What prune() would remove now: the volumes no container uses that match `filters` (label, until)."""
        keep = [self._volume_filter(key, value) for key, values in _parse_filters(filters, _PRUNE_KEYS).items()
                for value in values]
        return [v for v in self.list() if all(k(v) for k in keep) and not self.users(v)]

    def prune(self, *, filters: list[str] | None = None) -> list[str]:
        """Remove every volume no container uses (that matches `filters`: label, until); their names."""
        removed = []
        for volume in self.prunable(filters=filters):
            self._s.volumes.remove(volume.name, users=[])
            self._event("remove", volume.name)
            removed.append(volume.name)
        return removed


_LS_KEYS = ("name", "driver", "label", "opt", "scope", "until", "dangling")
_PRUNE_KEYS = ("label", "until")


def _parse_filters(items: list[str] | None, keys: tuple[str, ...]) -> dict[str, list[str]]:
    """podman's words for a malformed or unknown volume filter."""
    from pyctr import filters

    return filters.parse(items, keys, unknown='"{key}" is an invalid volume filter',
                         malformed='invalid volume filter "{item}": must be in the format "filter=value"')
