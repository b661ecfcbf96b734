"""The image records: which images are complete in the store, and their names.

All records live in one file, images.json, replaced atomically under
images.lock. A record is written only after every layer of its image is
unpacked, so a reader never sees an image that is not usable.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import asdict, field
from pathlib import Path
TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)
if TYPE_CHECKING:
    from typing import Iterator

    from pyctr.image import reference

from pyctr.errors import ImageNotFound, InvalidReference
from pyctr.linux.fsutil import atomic_write_json, locked, makedirs, read_json
from pyctr.values import value

_HEX_PREFIX = re.compile(r"^(?:sha256:)?([a-f0-9]{3,64})$")


@value
class ImageRecord:
    id: str  # hex of the config digest
    manifest_digest: str
    config_digest: str
    manifest_media_type: str
    layers: list[dict]  # descriptors: mediaType, digest, size
    diff_ids: list[str]
    chain_ids: list[str]
    names: list[str] = field(default_factory=list)  # registry/repo:tag
    repo_digests: list[str] = field(default_factory=list)  # registry/repo@sha256:...
    digest_names: list[str] = field(default_factory=list)  # registry/repo@sha256:... it was pulled by (podman lists REPO <none>)
    names_history: list[str] = field(default_factory=list)  # every name it has had, newest first (images --history)
    created: str = ""
    pulled: float = 0.0
    size: int = 0

    @classmethod
    def from_json(cls, obj: dict) -> "ImageRecord":
        return cls(**{k: obj[k] for k in cls.__dataclass_fields__ if k in obj})

    def to_json(self) -> dict:
        return asdict(self)


class ImageIndex:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.file = self.root / "images.json"

    def load(self) -> dict[str, ImageRecord]:
        data = read_json(self.file, {}) or {}
        return {k: ImageRecord.from_json(v) for k, v in (data.get("images") or {}).items()}

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, ImageRecord]]:
        """Load the records under the lock; what the block leaves in the dict is saved."""
        makedirs(self.root)
        with locked(self.root / "images.lock"):
            images = self.load()
            yield images
            atomic_write_json(self.file, {"images": {k: v.to_json() for k, v in images.items()}})

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, ImageRecord]]:
        """The records, held unchanged for the block (e.g. while a container is made from one)."""
        makedirs(self.root)
        with locked(self.root / "images.lock"):
            yield self.load()

    def resolve(self, name: str, images: dict[str, ImageRecord] | None = None) -> ImageRecord:
        found = find(name, self.load() if images is None else images)
        if found is None:
            raise ImageNotFound(f"{name}: image not known")
        return found


def _short_name_matches(wanted: reference.Reference, candidate: str) -> bool:
    """`busybox` matches any local `REGISTRY/.../busybox:latest`, as podman matches short names."""
    from pyctr.image import reference

    try:
        ref = reference.parse(candidate)
    except InvalidReference:
        return False
    path = wanted.repository.removeprefix("library/")
    return (ref.tag == wanted.tag and ref.digest == wanted.digest) and (
        ref.repository == path or ref.repository.endswith("/" + path) or ref.repository == wanted.repository
    )


def find(name: str, images: dict[str, ImageRecord]) -> ImageRecord | None:
    """Look an image up by ID, unique ID prefix, full name, digest name or short name."""
    if m := _HEX_PREFIX.match(name):
        prefix = m.group(1)
        if prefix in images:
            return images[prefix]
        matches = [rec for key, rec in images.items() if key.startswith(prefix)]
        if len(matches) == 1:
            return matches[0]
    from pyctr.image import reference  # (here: an image ID, as containers name theirs, needs none of it)

    try:
        ref = reference.parse(name)
    except InvalidReference:
        return None
    explicit_registry = reference.split_domain(name.split("@")[0])[0] != reference.DEFAULT_REGISTRY or name.startswith("docker.io/")
    if not explicit_registry and not ref.digest:  # as podman: localhost/NAME before any registry's NAME
        local = str(reference.local_name(name))
        for rec in images.values():
            if local in rec.names:
                return rec
    full = str(ref)
    for rec in images.values():
        if full in rec.names or full in rec.repo_digests:
            return rec
        if ref.digest and ref.digest == rec.manifest_digest and any(n.startswith(ref.name + ":") or n.startswith(ref.name + "@") for n in rec.names + rec.repo_digests):
            return rec
    if not explicit_registry:
        for rec in sorted(images.values(), key=lambda r: -r.pulled):
            if any(_short_name_matches(ref, n) for n in rec.names + rec.repo_digests):
                return rec
    return None
