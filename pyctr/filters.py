"""`--filter KEY=VALUE` as podman reads it: values of one key are alternatives (OR), different keys
must all match (AND). Shared by ps, images, volume ls, the prune commands and events."""

from __future__ import annotations

from pyctr.errors import InvalidArgument


def parse(items: list[str] | None, keys: tuple[str, ...] | frozenset[str], *,
          malformed: str = "invalid filter {item!r}: expected KEY=VALUE", unknown: str = "invalid filter {key!r}",
          negatable: bool = False) -> dict[str, list[str]]:
    """{"name": ["web", "db"], "label": ["a=1"]} from ["name=web", "name=db", "label=a=1"].

    An item without "=" is InvalidArgument(malformed), a key not in `keys` InvalidArgument(unknown):
    each command passes podman's texts for them (str.format fields {item} and {key}). `negatable`:
    KEY!=VALUE too, kept under "KEY!"."""
    parsed: dict[str, list[str]] = {}
    for item in items or []:
        key, neq, value = item.partition("!=") if negatable else ("", "", "")
        if not neq:
            key, eq, value = item.partition("=")
            if not eq:
                raise InvalidArgument(malformed.format(item=item))
        if key not in keys:
            raise InvalidArgument(unknown.format(key=key))
        parsed.setdefault(key + "!" * bool(neq), []).append(value)
    return parsed


def label_matches(labels: dict[str, str], wanted: str) -> bool:
    """`label=KEY` (present) or `label=KEY=VALUE` (equal)."""
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)


def until_time(value: str) -> float:
    """The UNIX time of an `until=`/`since=` value: a timestamp, an RFC 3339 time or a duration back from now."""
    from pyctr.units import parse_time

    return parse_time(value)
