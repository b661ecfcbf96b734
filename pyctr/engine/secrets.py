"""engine.secrets: create, list, inspect and remove secrets (podman's file driver).

The data is never part of what this namespace returns, except through `data()`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pyctr.engine.reports import Report
from pyctr.errors import InvalidArgument, PyctrError

if TYPE_CHECKING:
    from pyctr.container.secrets import Secret
    from pyctr.engine.services import Services

FILTER_KEYS = ("name", "id")


def go_time(timestamp: float, *, pretty: bool = False) -> str:
    """A time as Go prints it: RFC 3339 with nanoseconds ("2006-01-02T15:04:05.999999999Z"), or
    with `pretty` as time.Time's String() ("2006-01-02 15:04:05.999999999 +0000 UTC")."""
    from pyctr.units import go_time as time_string, rfc3339_nano

    return time_string(timestamp, utc=True) if pretty else rfc3339_nano(timestamp)


class Secrets:
    def __init__(self, services: "Services"):
        self._s = services

    @property
    def _store(self):
        return self._s.secrets

    def create(self, name: str, data: bytes, *, driver: str = "file", labels: dict[str, str] | None = None,
               driver_options: dict[str, str] | None = None) -> "Secret":
        """A new secret holding `data` (stored 0600 under the store root)."""
        if driver_options:
            # The file driver has one option, its directory, which is pyctr's to choose.
            raise InvalidArgument(f"invalid driver option {next(iter(driver_options))!r}: the file driver takes none")
        return self._store.create(name, data, driver=driver, labels=labels)

    def list(self, filters: list[str] | None = None) -> list["Secret"]:
        """Oldest first; `filters` as podman's: name=REGEX, id=PREFIX (one key's values: any; keys: all)."""
        wanted: dict[str, list[str]] = {}
        for item in filters or []:
            key, eq, value = item.partition("=")
            if not eq or key not in FILTER_KEYS:
                raise InvalidArgument(f'invalid filter "{key}"')
            wanted.setdefault(key, []).append(value)

        def matches(secret: "Secret") -> bool:
            if "name" in wanted and not any(_search(pattern, secret.name) for pattern in wanted["name"]):
                return False
            return "id" not in wanted or any(secret.id.startswith(prefix) for prefix in wanted["id"])

        return [s for s in self._store.list() if matches(s)]

    def get(self, name_or_id: str) -> "Secret":
        return self._store.get(name_or_id)

    def exists(self, name_or_id: str) -> bool:
        from pyctr.container.secrets import SecretNotFound

        try:
            self.get(name_or_id)
        except SecretNotFound:
            return False
        return True

    def inspect(self, name_or_id: str) -> dict:
        """podman's `secret inspect` fields (no data)."""
        secret = self.get(name_or_id)
        return {
            "ID": secret.id,
            "CreatedAt": go_time(secret.created),
            "UpdatedAt": go_time(secret.updated),
            "Spec": {
                "Name": secret.name,
                "Driver": {"Name": secret.driver, "Options": {"path": str(self._store.data_dir)}},
                "Labels": dict(secret.labels),
            },
        }

    def data(self, name_or_id: str) -> bytes:
        return self._store.data(name_or_id)

    def remove(self, names: list[str] | None = None, *, all_secrets: bool = False) -> list[Report]:
        """Remove secrets (those containers use too: each container keeps its own copy, as in podman).
        A report per secret; Report.id is the removed secret's ID."""
        if bool(names) == all_secrets:
            raise InvalidArgument("`pyctr secret rm` requires one argument, or the --all flag")  # podman's words
        targets = [s.id for s in self._store.list()] if all_secrets else list(names or [])
        reports = []
        for name in targets:
            report = Report(name)
            try:
                report.id = self._store.remove(name).id
            except PyctrError as exc:
                report.error = exc
            reports.append(report)
        return reports


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return pattern in text
