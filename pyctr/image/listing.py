"""`images --filter/--sort` as podman 4.3.1 (libimage) reads them, and its rows: pure functions over the records."""

from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.errors import InvalidArgument
from pyctr.values import value

if TYPE_CHECKING:
    from typing import Callable
    from pyctr.image.index import ImageRecord

FILTER_KEYS = ("after", "since", "before", "containers", "dangling", "id", "intermediate", "label", "readonly",
               "reference", "until")
SORT_KEYS = ("created", "id", "repository", "size", "tag")


def parse_filters(items: list[str] | None) -> list[tuple[str, str, bool]]:
    """(key, value, negated) per `--filter KEY=VALUE` or `KEY!=VALUE` (any key may be negated, as
    podman 4.3.1's libimage); podman's words for a malformed or unknown filter."""
    from pyctr import filters

    parsed = filters.parse(items, FILTER_KEYS, negatable=True, unknown='unsupported image filter "{key}"',
                           malformed='invalid image filter "{item}": must be in the format "filter=value or filter!=value"')
    return [(key.rstrip("!"), value, key.endswith("!")) for key, values in parsed.items() for value in values]


def boolean(key: str, value: str) -> bool:
    """Go's strconv.ParseBool, with podman 4.3.1's (swapped) error text."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise InvalidArgument(f"non-boolean value \"{key}\" for {value} filter: strconv.ParseBool: parsing \"{value}\": invalid syntax")


def reference_matches(pattern: str, name: str) -> bool:
    """`reference=` as podman 4.3.1 matches it against `name` (REPO:TAG or REPO@DIGEST): a glob
    on the repository or on any of its trailing path parts (`busybox`, `test/busybox`,
    `localhost:5050/test/busybox`), with the tag too when the pattern has one."""
    from pyctr.pathmatch import compile_pattern  # (here: `images` without filters never needs it)

    if "@" in pattern:  # a digest pattern matches only names given by digest
        if "@" not in name:
            return False
        glob, parts = compile_pattern(pattern), name.split("/")
        return any(glob.match("/".join(parts[i:])) for i in range(len(parts)))
    repo, tag = _split(name)
    wanted_repo, wanted_tag = _split(pattern)
    if wanted_tag is not None and (tag is None or not compile_pattern(wanted_tag).match(tag)):
        return False
    glob = compile_pattern(wanted_repo)
    parts = repo.split("/")
    return any(glob.match("/".join(parts[i:])) for i in range(len(parts)))


def _split(name: str) -> tuple[str, str | None]:
    if "@" in name:
        return name.split("@", 1)[0], None
    slash = name.rfind("/")
    colon = name.rfind(":")
    return (name[:colon], name[colon + 1:]) if colon > slash else (name, None)


@value
class ImageRow:
    """One row of `images`: an image under one of its names (podman lists an image once per
    repository:tag; one known only by digest is `REPO <none>`, one without any name `<none> <none>`)."""

    record: "ImageRecord"
    repository: str
    tag: str


def rows(records: "list[ImageRecord]") -> list[ImageRow]:
    out = []
    for rec in records:
        if rec.names:
            names = [tuple(name.rpartition(":")[::2]) for name in rec.names]
        elif rec.digest_names:
            names = list(dict.fromkeys((name.split("@")[0], "<none>") for name in rec.digest_names))
        else:
            names = [("<none>", "<none>")]
        out.extend(ImageRow(rec, repo, tag) for repo, tag in names)
    return out


def _created(record: "ImageRecord") -> float:
    from pyctr import units

    return units.parse_created(record.created) or 0.0


def sort_key(key: str) -> Callable[[ImageRow], object]:
    """A key over ImageRows; `created` is newest first, the others ascending, as podman."""
    if key not in SORT_KEYS:
        raise InvalidArgument(f"\"{key}\" is not a valid field for sorting. Choose from: {', '.join(SORT_KEYS)}")
    return {
        "created": lambda row: -_created(row.record),
        "id": lambda row: row.record.id,
        "repository": lambda row: row.repository,
        "size": lambda row: row.record.size,
        "tag": lambda row: row.tag,
    }[key]


def summary_document(rec: "ImageRecord", labels: dict, containers: int) -> dict:
    """An entry of `images --format json`, with podman's field names (RepoTags is null in podman 4.3.1)."""
    created = _created(rec)
    return {
        "Id": rec.id,
        "ParentId": "",
        "RepoTags": None,
        "RepoDigests": list(rec.repo_digests),
        "Size": rec.size,
        "SharedSize": 0,
        "VirtualSize": rec.size,
        "Labels": labels or None,  # null without labels, as podman
        "Containers": containers,
        "Names": list(rec.names) + list(rec.digest_names),
        "Digest": rec.manifest_digest,
        "History": list(rec.names_history or rec.names),
        "Created": int(created),
        "CreatedAt": rec.created,
    }
