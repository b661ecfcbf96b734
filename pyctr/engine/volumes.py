"""engine.volumes: named volumes, and the containers that hold them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyctr.engine.reports import Report
from pyctr.errors import InvalidArgument, PyctrError, VolumeNotFound

if TYPE_CHECKING:
    from pyctr.container.volumes import Volume
    from pyctr.engine.services import Services


class Volumes:
    def __init__(self, services: "Services"):
        self._s = services

    def create(self, name: str | None = None, *, labels: dict[str, str] | None = None, ignore: bool = False) -> "Volume":
        """A new volume (a random name when None); `ignore`: an existing one of that name is returned."""
        return self._s.volumes.create(name, labels=labels, exist_ok=ignore)

    def list(self) -> list["Volume"]:
        return self._s.volumes.list()

    def get(self, name: str) -> "Volume":
        return self._s.volumes.get(name)

    def exists(self, name: str) -> bool:
        try:
            self.get(name)
        except VolumeNotFound:
            return False
        return True

    def users(self, volume: "Volume") -> list[str]:
        """Names of the containers that mount the volume."""
        return [r.name for r in self._s.containers.all() if any(m.get("source") == volume.mountpoint for m in r.mounts)]

    def remove(self, names: list[str] | None = None, *, force: bool = False, all_volumes: bool = False) -> list[Report]:
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
                        self._s.tasks.remove(self._s.containers.resolve(user), force=True)
                    users = []
                if users and all_volumes:
                    continue
                self._s.volumes.remove(name, users=users)
            except PyctrError as exc:
                report.error = exc
            reports.append(report)
        return reports

    def prune(self) -> list[str]:
        """Remove every volume no container uses; their names."""
        removed = []
        for volume in self.list():
            if not self.users(volume):
                self._s.volumes.remove(volume.name, users=[])
                removed.append(volume.name)
        return removed
