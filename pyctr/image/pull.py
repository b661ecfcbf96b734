"""Pulling an image: resolve the manifest, fetch blobs in parallel, unpack, record.

Each step is idempotent and verified, so a pull killed at any moment is
finished by the next one, and two pulls of one image share the work.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from pyctr.image import auth, oci
from pyctr import digest as digestmod
from pyctr.image.registries import RegistriesConf
from pyctr.image.content import ContentStore
from pyctr.errors import DigestMismatch, UnsupportedMediaType
from pyctr.image.index import ImageIndex, ImageRecord
from pyctr.image.reference import Reference
from pyctr.snapshot.layers import LayerStore

PARALLEL_DOWNLOADS = 3


@dataclass
class PullEvent:
    """Progress of a pull, for the command line to draw.

    kind: "trying" (ref), "blob" (digest, done, total), "blob-done" (digest),
    "blob-exists" (digest), "config" (digest), "writing-manifest", "note" (message), "warning" (message).
    """

    kind: str
    digest: str = ""
    done: int = 0
    total: int = 0
    message: str = ""


Progress = Callable[[PullEvent], None]


def _parse_json(data: bytes, what: str) -> dict:
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise UnsupportedMediaType(f"{what}: malformed JSON") from exc
    if not isinstance(obj, dict):
        raise UnsupportedMediaType(f"{what}: not a JSON object")
    return obj


def _media_type(body: dict, header: str) -> str:
    declared = body.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if header in oci.MANIFEST_TYPES + oci.INDEX_TYPES + oci.SCHEMA1_TYPES:
        return header
    if body.get("schemaVersion") == 1:
        return oci.DOCKER_SCHEMA1
    # OCI allows mediaType to be absent: tell an index from a manifest by its fields.
    return oci.OCI_INDEX if "manifests" in body else oci.OCI_MANIFEST


class Puller:
    def __init__(self, store_root, content: ContentStore, layers: LayerStore, index: ImageIndex, *, rootless: bool):
        self.content = content
        self.layers = layers
        self.index = index
        self.rootless = rootless
        self.store_root = store_root

    def pull(
        self,
        ref: Reference,
        *,
        platform: oci.Platform | None = None,
        tls_verify: bool | None = None,
        authfile: str | None = None,
        progress: Progress | None = None,
        credentials: tuple[str, str] | None = None,
        cert_dir: str | None = None,
    ) -> ImageRecord:
        """`credentials` (--creds) instead of those stored for the registry; `cert_dir`: its TLS material."""
        emit = progress or (lambda event: None)
        emit(PullEvent("trying", message=str(ref)))
        with self._client(ref, tls_verify, authfile, credentials, cert_dir) as client:
            manifest_digest, manifest, media_type = self._resolve_manifest(client, ref, platform or oci.Platform.host())
            config_desc = oci.Descriptor.from_json(manifest.get("config"))
            layer_descs = [oci.Descriptor.from_json(layer) for layer in manifest.get("layers") or []]
            for desc in layer_descs:
                if desc.media_type not in oci.LAYER_COMPRESSION:
                    raise UnsupportedMediaType(f"layer {desc.digest}: unsupported media type {desc.media_type!r}")
            config = self._fetch_config(client, config_desc, emit)
            diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
            if len(diff_ids) != len(layer_descs):
                raise UnsupportedMediaType(
                    f"image config lists {len(diff_ids)} layers but the manifest has {len(layer_descs)}"
                )
            chain_ids = digestmod.chain_ids(diff_ids)
            jobs = list(zip(layer_descs, diff_ids, chain_ids))
            with ThreadPoolExecutor(PARALLEL_DOWNLOADS) as pool:
                # list() re-raises the first failure, after the pool has finished the others.
                list(pool.map(lambda job: self._fetch_and_unpack(client, *job, emit), jobs))
        emit(PullEvent("writing-manifest"))
        record = ImageRecord(
            id=digestmod.hex_of(config_desc.digest),
            manifest_digest=manifest_digest,
            config_digest=config_desc.digest,
            manifest_media_type=media_type,
            layers=[{"mediaType": d.media_type, "digest": d.digest, "size": d.size} for d in layer_descs],
            diff_ids=diff_ids,
            chain_ids=chain_ids,
            created=str(config.get("created") or ""),
            pulled=time.time(),
            size=sum(self.layers.info(c).get("size", 0) for c in chain_ids) + config_desc.size,
        )
        self._register(record, ref)
        return record

    def tags(self, ref: Reference, *, tls_verify: bool | None = None, authfile: str | None = None,
             credentials: tuple[str, str] | None = None, cert_dir: str | None = None) -> list[str]:
        """Every tag of the repository `ref` names (pull --all-tags)."""
        with self._client(ref, tls_verify, authfile, credentials, cert_dir) as client:
            return client.list_tags()

    def remote_digest(self, ref: Reference, platform: oci.Platform, *, tls_verify: bool | None = None,
                      authfile: str | None = None) -> str:
        """The digest of the manifest a pull of `ref` would fetch for `platform` (an index is descended
        without fetching the platform's manifest). Nothing is stored."""
        with self._client(ref, tls_verify, authfile, None, None) as client:
            body, header_type = client.get_manifest(ref.digest or ref.tag)
            media_type = _media_type(_parse_json(body, f"manifest {ref}"), header_type)
            if media_type in oci.INDEX_TYPES:
                return oci.select_manifest(_parse_json(body, f"manifest {ref}"), platform).digest
            return digestmod.of_bytes(body)

    @staticmethod
    def _client(ref: Reference, tls_verify, authfile, credentials, cert_dir):
        from pyctr.image.registry import RegistryClient  # httpx is paid for only by commands that talk to a registry

        credentials = credentials or auth.lookup(ref.registry, ref.repository, authfile)
        return RegistryClient(ref, credentials=credentials, tls_verify=tls_verify, conf=RegistriesConf.load(), cert_dir=cert_dir)

    def _resolve_manifest(self, client, ref: Reference, platform: oci.Platform) -> tuple[str, dict, str]:
        """Fetch the manifest the reference names, descending through an index to `platform`."""
        wanted = ref.digest or ref.tag
        body, header_type = client.get_manifest(wanted)
        digest = digestmod.of_bytes(body)
        if ref.digest and digest != ref.digest:
            raise DigestMismatch(f"manifest {ref}: registry sent content with digest {digest}")
        manifest = _parse_json(body, f"manifest {ref}")
        media_type = _media_type(manifest, header_type)
        if media_type in oci.INDEX_TYPES:
            self.content.put(digest, body)
            desc = oci.select_manifest(manifest, platform)
            body, header_type = client.get_manifest(desc.digest)
            digest = digestmod.of_bytes(body)
            if digest != desc.digest:
                raise DigestMismatch(f"manifest {desc.digest}: registry sent content with digest {digest}")
            manifest = _parse_json(body, f"manifest {desc.digest}")
            media_type = _media_type(manifest, header_type)
        if media_type in oci.SCHEMA1_TYPES:
            raise UnsupportedMediaType(
                f"{ref}: Docker schema 1 manifests are not supported",
                hint="push the image again with a current client (schema 2 or OCI)",
            )
        if media_type not in oci.MANIFEST_TYPES:
            raise UnsupportedMediaType(f"{ref}: unsupported manifest type {media_type!r}")
        self.content.put(digest, body)
        return digest, manifest, media_type

    def _fetch_config(self, client, desc: oci.Descriptor, emit: Progress) -> dict:
        emit(PullEvent("config", digest=desc.digest, total=desc.size))
        if desc.size > 8 << 20:
            raise UnsupportedMediaType(f"image config {desc.digest} is too large ({desc.size} bytes)")
        with self.content.writer(desc.digest, desc.size) as w:
            if not w.committed:
                client.fetch_blob(desc, w)
        return _parse_json(self.content.read(desc.digest), f"image config {desc.digest}")

    def _fetch_and_unpack(self, client, desc: oci.Descriptor, diff_id: str, chain_id: str, emit: Progress) -> None:
        with self.content.writer(desc.digest, desc.size) as w:
            if w.committed:
                emit(PullEvent("blob-exists", digest=desc.digest, done=desc.size, total=desc.size))
            else:
                client.fetch_blob(desc, w, lambda done: emit(PullEvent("blob", digest=desc.digest, done=done, total=desc.size)))
                emit(PullEvent("blob-done", digest=desc.digest, done=desc.size, total=desc.size))
        if not self.layers.exists(chain_id):
            self.layers.unpack(
                chain_id,
                diff_id,
                self.content.path(desc.digest),
                oci.LAYER_COMPRESSION[desc.media_type],
                rootless=self.rootless,
                on_note=lambda msg: emit(PullEvent("note", message=msg)),
            )

    def _register(self, record: ImageRecord, ref: Reference) -> None:
        """Record the image and give it the pulled name, taking the name from any other image."""
        name = str(ref) if not ref.digest else None
        repo_digest = f"{ref.name}@{record.manifest_digest}"
        with self.index.edit() as images:
            existing = images.get(record.id)
            if existing:
                record.names = existing.names
                record.repo_digests = existing.repo_digests
                record.digest_names = existing.digest_names
                record.names_history = existing.names_history
            if ref.digest:
                if repo_digest not in record.digest_names:
                    record.digest_names.append(repo_digest)
                record.names_history = [repo_digest] + [n for n in record.names_history if n != repo_digest]
            if name:
                record.names_history = [name] + [n for n in record.names_history if n != name]
                for other in images.values():
                    if other.id != record.id and name in other.names:
                        other.names.remove(name)
                if name not in record.names:
                    record.names.insert(0, name)
            if repo_digest not in record.repo_digests:
                record.repo_digests.append(repo_digest)
            images[record.id] = record
