"""engine.events: what happened (pyctr.events journal), filtered as podman's `events` filters.

Filters: values of one key are alternatives, different keys must all match. Keys (any case, as
podman): container (ID prefix or name), event/status, image (ID prefix or name, image events),
label (KEY or KEY=VALUE of a container's labels), pod, type, volume (name prefix), network,
since, until.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Iterator

from pyctr.errors import InvalidArgument
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.engine.services import Services

FILTER_KEYS = ("container", "event", "status", "image", "label", "pod", "type", "volume", "network", "since", "until")
TYPES = ("container", "image", "machine", "network", "pod", "system", "volume")
STATUSES = (
    "attach", "auto-update", "build", "checkpoint", "cleanup", "commit", "connect", "create", "died", "disconnect",
    "exec", "exec_died", "exited", "export", "health_status", "history", "import", "init", "kill", "loadfromarchive",
    "mount", "pause", "prune", "pull", "push", "refresh", "remove", "rename", "renumber", "restart", "restore", "save",
    "start", "stop", "sync", "tag", "unmount", "unpause", "untag",
)


@value
class Event:
    type: str  # container, image, volume, ...
    status: str  # create, start, died, pull, ...
    time: str  # RFC 3339 with nanoseconds, UTC, as recorded
    timestamp: float  # the same, as UNIX time
    id: str = ""
    name: str = ""
    image: str = ""
    attributes: dict | None = None  # a container's labels
    exit_code: int = 0  # died
    health_status: str = ""
    network: str = ""


def from_journal(raw: dict) -> Event | None:
    from pyctr.units import parse_rfc3339

    try:
        stamp = parse_rfc3339(raw["Time"])
    except (ValueError, TypeError):
        return None
    return Event(type=str(raw.get("Type", "")), status=str(raw.get("Status", "")), time=raw["Time"], timestamp=stamp,
                 id=raw.get("ID", ""), name=raw.get("Name", ""), image=raw.get("Image", ""),
                 attributes=raw.get("Attributes"), exit_code=int(raw.get("ContainerExitCode") or 0),
                 health_status=raw.get("health_status", ""), network=raw.get("Network", ""))


def parse_filters(items: list[str] | None) -> dict[str, list[str]]:
    """podman reads filter keys in any case; type= and event= must name a known type or status."""
    from pyctr import filters

    normalized = []
    for item in items or []:
        key, eq, rest = item.partition("=")
        normalized.append(f"{key.lower()}{eq}{rest}")
    parsed = filters.parse(normalized, FILTER_KEYS)
    for wanted in parsed.get("type", []):
        if wanted not in TYPES:
            raise InvalidArgument(f'unknown event type "{wanted}"')
    for key in ("event", "status"):
        for wanted in parsed.get(key, []):
            if wanted not in STATUSES:
                raise InvalidArgument(f'unknown event status "{wanted}"')
    return parsed


def matches(event: Event, parsed: dict[str, list[str]]) -> bool:
    return all(any(_match(event, key, wanted) for wanted in values) for key, values in parsed.items())


def _match(event: Event, key: str, wanted: str) -> bool:
    if key == "container":
        return event.type == "container" and (event.name == wanted or event.id.startswith(wanted))
    if key in ("event", "status"):
        return event.status == wanted
    if key == "image":
        return event.type == "image" and (event.name == wanted or event.id.startswith(wanted)
                                          or event.name.rpartition("/")[2] == wanted)
    if key == "label":
        from pyctr.filters import label_matches

        return label_matches(event.attributes or {}, wanted)
    if key == "pod":
        return event.type == "pod" and (event.name == wanted or event.id.startswith(wanted))
    if key == "type":
        return event.type == wanted
    if key == "volume":
        return event.type == "volume" and event.name.startswith(wanted)
    if key == "network":
        return event.type == "network" and (event.network == wanted or event.name == wanted or event.id.startswith(wanted))
    from pyctr.units import parse_time

    if key == "since":
        return event.timestamp >= parse_time(wanted)
    return event.timestamp <= parse_time(wanted)  # until


class Events:
    def __init__(self, services: "Services"):
        self._s = services

    def list(self, *, filters: list[str] | None = None, since: str | None = None, until: str | None = None,
             stream: bool = False, stop: Callable[[], bool] | None = None) -> Iterator[Event]:
        """The recorded events that match, oldest first. `since`/`until`: as `logs --since` (RFC 3339,
        UNIX time or a duration back from now). With `stream`, keep following the journal for new
        events (from `since` on; without it, from now) until `until` has passed or `stop()` is true."""
        from pyctr import events
        from pyctr.units import parse_time

        if not events.enabled(getattr(self._s.config, "events_backend", None)):
            raise InvalidArgument('cannot read events with the "none" backend')
        parsed = parse_filters(filters)
        # Times are read once: a duration ("5m") counts back from when the command started.
        for key in ("since", "until"):
            if key in parsed:
                parsed[key] = [str(parse_time(v)) for v in parsed[key]]
        start = parse_time(since) if since else None
        end = parse_time(until) if until else None
        runroot = self._s.config.runroot
        if not stream:
            raw_events = events.read(runroot)
        else:
            def done() -> bool:
                return (stop is not None and stop()) or (end is not None and time.time() > end)

            raw_events = events.follow(runroot, from_start=start is not None, stop=done)
        for raw in raw_events:
            event = from_journal(raw)
            if event is None or (start is not None and event.timestamp < start):
                continue
            if end is not None and event.timestamp > end:
                if stream:
                    return
                continue
            if matches(event, parsed):
                yield event
