"""`--filter KEY=VALUE` as podman reads it: values of one key are alternatives (OR), different keys
must all match (AND). Shared by ps, images, volume ls, the prune commands and events."""

from __future__ import annotations

from pyctr.errors import InvalidArgument


def parse(items: list[str] | None, keys: tuple[str, ...] | frozenset[str]) -> dict[str, list[str]]:
    """{"name": ["web", "db"], "label": ["a=1"]} from ["name=web", "name=db", "label=a=1"];
    an unknown key or an item without "=" is an InvalidArgument (exit 125), as in podman."""
    parsed: dict[str, list[str]] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgument(f"invalid filter {item!r}: expected KEY=VALUE")
        if key not in keys:
            raise InvalidArgument(f"invalid filter {key!r}")
        parsed.setdefault(key, []).append(value)
    return parsed


def label_matches(labels: dict[str, str], wanted: str) -> bool:
    """`label=KEY` (present) or `label=KEY=VALUE` (equal)."""
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)


def until_time(value: str) -> float:
    """The UNIX time of an `until=`/`since=` value: a timestamp, an RFC 3339 time or a duration back from now."""
    from pyctr.units import parse_time

    return parse_time(value)
