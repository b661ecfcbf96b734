"""Loading images from an archive (see pyctr.image.archive for the formats and the rules of
distrust): find the images in what was extracted, verify every blob against its digest, copy them
into the content store, unpack the layers as a pull does, then record the images with their names.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from pyctr import digest as digestmod
from pyctr.errors import DigestMismatch, InvalidReference, UnsafeArchive, UnsupportedMediaType
from pyctr.image import oci, reference
from pyctr.image.archive import REF_NAME, Extracted, _Blob
from pyctr.image.content import ContentStore
from pyctr.image.index import ImageIndex, ImageRecord
from pyctr.image.push import manifest_bytes
from pyctr.snapshot.layers import LayerStore

_SNIFF = {b"\x1f\x8b": "gzip", b"\x28\xb5": "zstd"}
_DOCKER_TYPES = {"gzip": oci.DOCKER_LAYER_GZIP, "zstd": "application/vnd.docker.image.rootfs.diff.tar.zstd",
                 "none": "application/vnd.docker.image.rootfs.diff.tar"}


@dataclass
class Loadable:
    config: _Blob
    layers: list[tuple[dict, _Blob]]  # descriptor (mediaType, digest, size) and its file
    manifest: bytes | None = None  # the archive's own manifest, kept when it has one
    media_type: str = oci.DOCKER_MANIFEST
    names: list[str] = field(default_factory=list)


def find_images(found: Extracted, what: str) -> list[Loadable]:
    if found.has("index.json") and found.has("oci-layout"):
        return _oci(found, what)
    if found.has("manifest.json") and found.has("version"):
        return [_docker_dir(found, what)]
    if found.has("manifest.json"):
        return _docker_archive(found, what)
    raise UnsupportedMediaType(f"{what}: payload does not match any of the supported image formats "
                               "(docker-archive, oci-archive, oci-dir, docker-dir)")


def _sniffed(blob: _Blob) -> str:
    with open(blob.path, "rb") as f:
        return _SNIFF.get(f.read(2), "none")


def _docker_archive(found: Extracted, what: str) -> list[Loadable]:
    entries = found.json_of("manifest.json", what)
    if not isinstance(entries, list) or not entries:
        raise UnsafeArchive(f"{what}: manifest.json lists no images")
    images = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) or not isinstance(entry.get("Layers"), list):
            raise UnsafeArchive(f"{what}: malformed manifest.json entry")
        config = found.blob(entry["Config"], what)
        layers = []
        for name in entry["Layers"]:
            if not isinstance(name, str):
                raise UnsafeArchive(f"{what}: malformed manifest.json entry")
            blob = found.blob(name, what)
            layers.append(({"mediaType": _DOCKER_TYPES[_sniffed(blob)], "digest": blob.digest, "size": blob.size}, blob))
        tags = entry.get("RepoTags") or []
        images.append(Loadable(config, layers, names=[t for t in tags if isinstance(t, str)]))
    return images


def _verified(found: Extracted, desc: oci.Descriptor, what: str, name: str | None = None) -> _Blob:
    blob = found.blob(name or f"blobs/sha256/{digestmod.hex_of(desc.digest)}", what)
    if blob.digest != desc.digest or blob.size != desc.size:
        raise DigestMismatch(f"{what}: blob {desc.digest} has digest {blob.digest} ({blob.size} bytes, expected {desc.size})")
    return blob


def _from_manifest(found: Extracted, body: bytes, what: str, name_of=None) -> Loadable:
    try:
        manifest = json.loads(body)
    except ValueError:
        raise UnsafeArchive(f"{what}: a manifest is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise UnsafeArchive(f"{what}: a manifest is not a JSON object")
    media_type = manifest.get("mediaType") or oci.OCI_MANIFEST
    if media_type not in oci.MANIFEST_TYPES:
        raise UnsupportedMediaType(f"{what}: unsupported manifest type {media_type!r}")
    config_desc = oci.Descriptor.from_json(manifest.get("config"))
    config = _verified(found, config_desc, what, name_of(config_desc) if name_of else None)
    layers = []
    for item in manifest.get("layers") or []:
        desc = oci.Descriptor.from_json(item)
        if desc.media_type not in oci.LAYER_COMPRESSION:
            raise UnsupportedMediaType(f"{what}: layer {desc.digest}: unsupported media type {desc.media_type!r}")
        blob = _verified(found, desc, what, name_of(desc) if name_of else None)
        layers.append(({"mediaType": desc.media_type, "digest": desc.digest, "size": desc.size}, blob))
    return Loadable(config, layers, manifest=body, media_type=media_type)


def _oci(found: Extracted, what: str) -> list[Loadable]:
    index = found.json_of("index.json", what)
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list) or not index["manifests"]:
        raise UnsafeArchive(f"{what}: index.json lists no images")
    images = []
    for item in index["manifests"]:
        desc = oci.Descriptor.from_json(item)
        body = found.bytes_of(f"blobs/sha256/{digestmod.hex_of(_verified(found, desc, what).digest)}", what)
        if desc.media_type in oci.INDEX_TYPES:
            inner = oci.select_manifest(json.loads(body), oci.Platform.host())
            body = found.bytes_of(f"blobs/sha256/{digestmod.hex_of(_verified(found, inner, what).digest)}", what)
        image = _from_manifest(found, body, what)
        name = ((item.get("annotations") or {}).get(REF_NAME) or "") if isinstance(item, dict) else ""
        if "/" in name or ":" in name:  # a full reference (as podman writes); a bare tag names nothing here
            image.names.append(name)
        images.append(image)
    return images


def _docker_dir(found: Extracted, what: str) -> Loadable:
    return _from_manifest(found, found.bytes_of("manifest.json", what), what,
                          name_of=lambda desc: digestmod.hex_of(desc.digest))


class Loader:
    def __init__(self, content: ContentStore, layers: LayerStore, index: ImageIndex, *, rootless: bool):
        self.content, self.layers, self.index, self.rootless = content, layers, index, rootless

    def store(self, image: Loadable, what: str, emit=None) -> ImageRecord:
        """Put the image's blobs and layers in the store (not yet its record); `emit` gets podman's
        progress lines as TransferEvents."""
        from pyctr.image.push import TransferEvent

        emit = emit or (lambda event: None)
        emit(TransferEvent("start"))
        config_bytes = _read(image.config.path)
        try:
            config = json.loads(config_bytes)
        except ValueError:
            raise UnsafeArchive(f"{what}: the image config is not valid JSON") from None
        diff_ids = ((config.get("rootfs") or {}).get("diff_ids") or []) if isinstance(config, dict) else None
        if not isinstance(diff_ids, list) or len(diff_ids) != len(image.layers):
            raise UnsafeArchive(f"{what}: the image config lists {len(diff_ids or [])} layers, the archive has {len(image.layers)}")
        diff_ids = [digestmod.validate(d) for d in diff_ids]
        chain_ids = digestmod.chain_ids(diff_ids)
        for (desc, blob), diff_id, chain_id in zip(image.layers, diff_ids, chain_ids):
            emit(TransferEvent("blob", digest=blob.digest))
            self._put(blob)
            if not self.layers.exists(chain_id):
                self.layers.unpack(chain_id, diff_id, self.content.path(blob.digest),
                                   oci.LAYER_COMPRESSION.get(desc["mediaType"], "auto"), rootless=self.rootless)
        emit(TransferEvent("config", digest=image.config.digest))
        self._put(image.config)
        emit(TransferEvent("manifest"))
        descriptors = [desc for desc, _ in image.layers]
        body = image.manifest or manifest_bytes(image.media_type, image.config.digest, image.config.size, descriptors)
        manifest_digest = digestmod.of_bytes(body)
        self.content.put(manifest_digest, body)
        emit(TransferEvent("signatures"))
        return ImageRecord(
            id=digestmod.hex_of(image.config.digest), manifest_digest=manifest_digest, config_digest=image.config.digest,
            manifest_media_type=image.media_type, layers=descriptors, diff_ids=diff_ids, chain_ids=chain_ids,
            created=str(config.get("created") or ""), pulled=time.time(),
            size=sum(self.layers.info(c).get("size", 0) for c in chain_ids) + image.config.size)

    def _put(self, blob: _Blob) -> None:
        with self.content.writer(blob.digest, blob.size) as w:
            if w.committed:
                return
            w.restart()
            with open(blob.path, "rb") as f:
                while chunk := f.read(1 << 20):
                    w.write(chunk)
            w.commit()

    def register(self, record: ImageRecord, names: list[str]) -> list[str]:
        """Record the image with `names` (taken from any other image); -> the full names given."""
        full = []
        for name in names:
            try:
                ref = reference.parse(name)
            except InvalidReference:
                continue
            if not ref.digest:
                full.append(str(ref))
        with self.index.edit() as images:
            existing = images.get(record.id)
            if existing:
                record.names, record.repo_digests = existing.names, existing.repo_digests
                record.digest_names, record.names_history = existing.digest_names, existing.names_history
                record.manifest_digest, record.layers = existing.manifest_digest, existing.layers
                record.manifest_media_type = existing.manifest_media_type
            for name in full:
                for other in images.values():
                    if other.id != record.id and name in other.names:
                        other.names.remove(name)
                if name not in record.names:
                    record.names.append(name)
                record.names_history = [name] + [n for n in record.names_history if n != name]
            images[record.id] = record
        return full


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read((8 << 20) + 1)
    if len(data) > 8 << 20:
        raise UnsafeArchive("the image config is too large")
    return data
