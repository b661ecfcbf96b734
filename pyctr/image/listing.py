"""`images --filter/--sort` as podman 4.3.1 (libimage) reads them: pure functions over the records."""

from __future__ import annotations

import re
from typing import Callable

from pyctr.errors import InvalidArgument

FILTER_KEYS = ("after", "since", "before", "containers", "dangling", "id", "intermediate", "label", "readonly",
               "reference", "until")
SORT_KEYS = ("created", "id", "repository", "size", "tag")


def parse_filters(items: list[str] | None) -> dict[str, list[str]]:
    """podman's words for a malformed or unknown filter."""
    parsed: dict[str, list[str]] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgument(f"invalid image filter \"{item}\": must be in the format \"filter=value or filter!=value\"")
        if key not in FILTER_KEYS:
            raise InvalidArgument(f"unsupported image filter \"{key}\"")
        parsed.setdefault(key, []).append(value)
    return parsed


def boolean(key: str, value: str) -> bool:
    """Go's strconv.ParseBool, with podman 4.3.1's (swapped) error text."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise InvalidArgument(f"non-boolean value \"{key}\" for {value} filter: strconv.ParseBool: parsing \"{value}\": invalid syntax")


def _glob(pattern: str) -> re.Pattern:
    """Go's path.Match: `*` and `?` never match `/`; [...] classes as written."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith(("!", "^")) else body) + "]")
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def reference_matches(pattern: str, name: str) -> bool:
    """`reference=` as podman 4.3.1 matches it against `name` (REPO:TAG or REPO@DIGEST): a glob
    on the repository or on any of its trailing path parts (`busybox`, `test/busybox`,
    `localhost:5050/test/busybox`), with the tag too when the pattern has one."""
    if "@" in pattern:  # a digest pattern matches only names given by digest
        if "@" not in name:
            return False
        glob, parts = _glob(pattern), name.split("/")
        return any(glob.match("/".join(parts[i:])) for i in range(len(parts)))
    repo, tag = _split(name)
    wanted_repo, wanted_tag = _split(pattern)
    if wanted_tag is not None and (tag is None or not _glob(wanted_tag).match(tag)):
        return False
    glob = _glob(wanted_repo)
    parts = repo.split("/")
    return any(glob.match("/".join(parts[i:])) for i in range(len(parts)))


def _split(name: str) -> tuple[str, str | None]:
    if "@" in name:
        return name.split("@", 1)[0], None
    slash = name.rfind("/")
    colon = name.rfind(":")
    return (name[:colon], name[colon + 1:]) if colon > slash else (name, None)


def sort_key(key: str) -> Callable:
    """A key over image rows ({"Repository", "Tag", "Id", "VirtualSize", "Created"}); `created`
    is newest first, the others ascending, as podman."""
    if key not in SORT_KEYS:
        raise InvalidArgument(f"\"{key}\" is not a valid field for sorting. Choose from: {', '.join(SORT_KEYS)}")
    return {
        "created": lambda row: -row["Created"],
        "id": lambda row: row["Id"],
        "repository": lambda row: row["Repository"],
        "size": lambda row: row["VirtualSize"],
        "tag": lambda row: row["Tag"],
    }[key]
