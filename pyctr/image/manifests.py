"""Manifest lists in the local store (`manifest create/add/annotate/remove`), as podman keeps them.

A list is an image record whose manifest is an index: `manifest_media_type` is an index type
(OCI image index or Docker manifest list) and `manifest_digest` names the serialized list in the
content store, the one a push sends. Its `config_digest` names pyctr's own state of the list (a
small JSON blob: each instance's descriptor, platform, annotations and where it comes from), so
that garbage collection keeps both blobs as it keeps any image's, and one index edit (under the
images lock, with a shared gc lease) changes a list atomically. The record's ID is random and
stays as the list changes (as podman's); it has no layers.

The list is written as buildah writes it: in OCI form when an entry has what only OCI can say
(annotations, URLs), in Docker form when an entry has what only Docker can say (features), and
when the list is empty; else in OCI form.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import field
from typing import TYPE_CHECKING

from pyctr import digest as digestmod
from pyctr.errors import ImageNotFound, InvalidArgument, NotFound
from pyctr.image import oci
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.image.content import ContentStore
    from pyctr.image.index import ImageRecord

STATE_TYPE = "application/vnd.pyctr.manifest-list.v1+json"  # the state blob's own marker
LOCAL = "containers-storage:"
REMOTE = "docker://"
# Platform fields in the order Go's structs marshal them (image-spec's Platform, then Docker's extra).
_PLATFORM_FIELDS = ("architecture", "os", "os.version", "os.features", "variant", "features")


class NotAManifestList(InvalidArgument):
    """A local image that is not a list, where a list is needed (podman's words)."""


@value
class Instance:
    """One entry of a list: the manifest it names, its platform, and where its content is
    (`source`: containers-storage:IMAGE-ID for a local image, docker://REPO@DIGEST for a remote one)."""

    digest: str
    size: int
    media_type: str
    platform: dict = field(default_factory=dict)  # architecture, os, os.version, os.features, variant, features
    annotations: dict = field(default_factory=dict)
    urls: list = field(default_factory=list)
    source: str = ""

    def to_json(self) -> dict:
        return {"digest": self.digest, "size": self.size, "mediaType": self.media_type, "platform": self.platform,
                "annotations": self.annotations, "urls": self.urls, "source": self.source}

    @classmethod
    def from_json(cls, obj: dict) -> "Instance":
        return cls(digest=obj["digest"], size=int(obj["size"]), media_type=obj.get("mediaType", ""),
                   platform=dict(obj.get("platform") or {}), annotations=dict(obj.get("annotations") or {}),
                   urls=list(obj.get("urls") or []), source=obj.get("source", ""))


def is_list(record: "ImageRecord") -> bool:
    return record.manifest_media_type in oci.INDEX_TYPES


# -- platforms -------------------------------------------------------------------------------

def platform_of_config(config: dict) -> dict:
    """An image config's platform, as a list entry records it."""
    platform = {"architecture": str(config.get("architecture") or ""), "os": str(config.get("os") or "")}
    if config.get("os.version"):
        platform["os.version"] = str(config["os.version"])
    if config.get("os.features"):
        platform["os.features"] = list(config["os.features"])
    if config.get("variant"):
        platform["variant"] = str(config["variant"])
    return platform


def platform_of_entry(entry: dict) -> dict:
    """An index entry's platform, as a list entry records it."""
    given = entry.get("platform") if isinstance(entry.get("platform"), dict) else {}
    return {key: given[key] for key in _PLATFORM_FIELDS if given.get(key)}


def override(instance: Instance, *, arch: str | None = None, os_name: str | None = None, variant: str | None = None,
             os_version: str | None = None, os_features: list[str] | None = None, features: list[str] | None = None,
             annotations: list[str] | None = None) -> None:
    """--arch, --os, ... of `manifest add` and `manifest annotate` (annotations replace the old ones, as podman)."""
    for key, given in (("architecture", arch), ("os", os_name), ("variant", variant), ("os.version", os_version)):
        if given:
            instance.platform[key] = given
    for key, given in (("os.features", os_features), ("features", features)):
        if given:
            instance.platform[key] = [part for item in given for part in item.split(",") if part]
    if annotations:
        instance.annotations = parse_annotations(annotations)
    instance.platform = {key: instance.platform[key] for key in _PLATFORM_FIELDS if instance.platform.get(key)}


def parse_annotations(items: list[str]) -> dict[str, str]:
    found = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep:
            raise InvalidArgument(f'no value given for annotation "{key}"')
        found[key] = val
    return found


# -- documents -------------------------------------------------------------------------------

def preferred_type(instances: list[Instance]) -> str:
    """The list type buildah writes (see the module doc)."""
    if any(i.urls or i.annotations for i in instances):
        return oci.OCI_INDEX
    if any(i.platform.get("features") for i in instances) or not instances:
        return oci.DOCKER_LIST
    return oci.OCI_INDEX


def document(instances: list[Instance], media_type: str) -> dict:
    """The list as a registry gets it, in the field order of Go's structs (as podman writes it)."""
    if media_type not in oci.INDEX_TYPES:
        raise InvalidArgument(f"unsupported manifest list type {media_type!r}")
    entries = []
    for inst in instances:
        platform = {k: inst.platform[k] for k in _PLATFORM_FIELDS if inst.platform.get(k)}
        platform.setdefault("architecture", "")
        platform.setdefault("os", "")
        platform = {k: platform[k] for k in _PLATFORM_FIELDS if k in platform}
        if media_type == oci.OCI_INDEX:
            platform.pop("features", None)  # the OCI platform has no features
            entry = {"mediaType": inst.media_type, "digest": inst.digest, "size": inst.size}
            if inst.urls:
                entry["urls"] = inst.urls
            if inst.annotations:
                entry["annotations"] = inst.annotations
        else:
            entry = {"mediaType": inst.media_type, "size": inst.size, "digest": inst.digest}
            if inst.urls:
                entry["urls"] = inst.urls
        entry["platform"] = platform
        entries.append(entry)
    return {"schemaVersion": 2, "mediaType": media_type, "manifests": entries or None}  # Go's nil slice: null


def serialize(instances: list[Instance], media_type: str | None = None) -> tuple[bytes, str]:
    """(the list's bytes, its media type): compact JSON, in `media_type` or the preferred one."""
    media_type = media_type or preferred_type(instances)
    return json.dumps(document(instances, media_type), separators=(",", ":")).encode(), media_type


def inspect_view(instances: list[Instance]) -> dict:
    """What podman 4.3.1's `manifest inspect` prints for a local list: the Docker form, with each
    entry's annotations (features and OS features are not shown), `null` when empty."""
    entries = []
    for inst in instances:
        platform = {"architecture": inst.platform.get("architecture", ""), "os": inst.platform.get("os", "")}
        for key in ("os.version", "variant"):
            if inst.platform.get(key):
                platform[key] = inst.platform[key]
        entry = {"mediaType": inst.media_type, "size": inst.size, "digest": inst.digest}
        if inst.urls:
            entry["urls"] = inst.urls
        entry["platform"] = platform
        if inst.annotations:
            entry["annotations"] = inst.annotations
        entries.append(entry)
    return {"schemaVersion": 2, "mediaType": oci.DOCKER_LIST, "manifests": entries or None}


def remote_view(body: dict, media_type: str) -> dict:
    """What podman 4.3.1's `manifest inspect` prints for a registry's manifest: an index in the
    Docker list form (annotations dropped), a single manifest in the schema 2 form."""
    if media_type in oci.INDEX_TYPES:
        instances = [Instance(digest=e.get("digest", ""), size=int(e.get("size") or 0), media_type=e.get("mediaType", ""),
                              platform=platform_of_entry(e), urls=list(e.get("urls") or []))
                     for e in body.get("manifests") or [] if isinstance(e, dict)]
        return inspect_view(instances)

    def descriptor(d: dict) -> dict:
        out = {"mediaType": d.get("mediaType", ""), "size": d.get("size", 0), "digest": d.get("digest", "")}
        if d.get("urls"):
            out["urls"] = d["urls"]
        return out

    return {"schemaVersion": body.get("schemaVersion", 2), "mediaType": body.get("mediaType", media_type),
            "config": descriptor(body.get("config") or {}), "layers": [descriptor(d) for d in body.get("layers") or []]}


# -- the record --------------------------------------------------------------------------------

def instances_of(content: "ContentStore", record: "ImageRecord") -> list[Instance]:
    if not is_list(record):
        raise NotAManifestList(f"{record.names[0] if record.names else record.id}: image is not a manifest list")
    try:
        state = json.loads(content.read(record.config_digest))
    except (OSError, ValueError):
        # A list that came from elsewhere (no state of ours): its own entries, sources unknown.
        body = json.loads(content.read(record.manifest_digest))
        return [Instance(digest=e["digest"], size=int(e.get("size") or 0), media_type=e.get("mediaType", ""),
                         platform=platform_of_entry(e), annotations=dict(e.get("annotations") or {}))
                for e in body.get("manifests") or []]
    return [Instance.from_json(obj) for obj in state.get("instances") or []]


def store(content: "ContentStore", record: "ImageRecord", instances: list[Instance]) -> None:
    """Write the list's blobs and point `record` at them (the caller holds the index lock and a gc lease)."""
    body, media_type = serialize(instances)
    state = json.dumps({"mediaType": STATE_TYPE, "instances": [i.to_json() for i in instances]},
                       separators=(",", ":"), sort_keys=True).encode()
    manifest_digest, state_digest = digestmod.of_bytes(body), digestmod.of_bytes(state)
    content.put(manifest_digest, body)
    content.put(state_digest, state)
    record.manifest_digest, record.manifest_media_type, record.config_digest = manifest_digest, media_type, state_digest
    # As podman counts a list's size: its manifest and its map of instance sources.
    sources = {i.digest: i.source for i in instances}
    record.size = len(body) + len(json.dumps(sources, separators=(",", ":")))
    record.repo_digests = [f"{name.rpartition(':')[0]}@{manifest_digest}" for name in record.names]


def new_record(name: str) -> "ImageRecord":
    """An empty list's record, named `name` (already normalised); store() fills in its blobs."""
    from pyctr.image.index import ImageRecord

    now = time.time()
    return ImageRecord(id=os.urandom(32).hex(), manifest_digest="", config_digest="", manifest_media_type=oci.DOCKER_LIST,
                       layers=[], diff_ids=[], chain_ids=[], names=[name], names_history=[name],
                       created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), pulled=now)


def find_instance(instances: list[Instance], digest: str) -> Instance:
    """The entry of `digest` (podman's words when it is malformed or not in the list)."""
    try:
        digestmod.validate(digest)
    except InvalidArgument:
        raise InvalidArgument(f'invalid image digest "{digest}": invalid checksum digest format') from None
    for inst in instances:
        if inst.digest == digest:
            return inst
    raise NotFound(f'no instance matching digest "{digest}" found in manifest list: file does not exist')


def host_instance(instances: list[Instance], record: "ImageRecord", images: dict) -> "ImageRecord":
    """The local image a list stands for on this host (as podman resolves a list given where an
    image is wanted: `inspect`, `run`, ...)."""
    host = oci.Platform.host()
    for inst in instances:
        platform = oci.Platform(inst.platform.get("os", ""), inst.platform.get("architecture", ""),
                                inst.platform.get("variant") or None)
        if not host.matches(platform):
            continue
        for image in images.values():
            if image.manifest_digest == inst.digest and not is_list(image):
                return image
        raise ImageNotFound(f"could not find image instance {inst.digest} of manifest list {record.id} in local "
                            "containers storage: image not known: image not known")
    variant = f'"{host.variant}"' if host.variant else '""'
    raise ImageNotFound(f"no image found in manifest list for architecture {host.architecture}, variant {variant}, "
                        f"OS {host.os}: image not known")
