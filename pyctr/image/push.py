"""Pushing an image: its blobs (skipped when the registry has them, mounted from another
repository of the same registry when one of the image's names is there, else uploaded),
then its manifest.

The stored manifest goes out unchanged (so the pushed digest is the pulled one) unless
another format or compression is asked for, or the image has no manifest of its own (built
or committed): then a new one is written from the image's config and the layers as sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from pyctr import digest as digestmod
from pyctr.errors import InvalidArgument
from pyctr.image import auth, oci, reference
from pyctr.image.content import ContentStore
from pyctr.image.index import ImageRecord
from pyctr.image.layersource import LayerSource
from pyctr.image.reference import Reference
from pyctr.image.registries import RegistriesConf
from pyctr.snapshot.layers import LayerStore

FORMATS = {"oci": True, "v2s2": False, "docker": False}


@dataclass
class TransferEvent:
    """Progress of a push or save, for the command line to draw, as podman's lines:
    "start" (Getting image source signatures), "blob" (digest; state "", "exists", "mounted"),
    "config" (digest), "manifest" (Writing manifest to image destination), "signatures"."""

    kind: str
    digest: str = ""
    state: str = ""


Progress = Callable[[TransferEvent], None]


class Pusher:
    def __init__(self, content: ContentStore, layers: LayerStore):
        self.content = content
        self.source = LayerSource(content, layers)

    def push(self, record: ImageRecord, dest: Reference, *, tls_verify: bool | None = None, authfile: str | None = None,
             credentials: tuple[str, str] | None = None, cert_dir: str | None = None,
             compression: str | None = None, fmt: str | None = None, progress: Progress | None = None,
             chunk_size: int | None = None, by_digest: bool = False) -> str:
        """Push `record` to `dest`; returns the digest of the manifest the registry now has.
        `by_digest`: the manifest goes under its own digest, not a tag (an entry of a list)."""
        from pyctr.image.registry import UPLOAD_CHUNK, RegistryClient  # httpx only for commands that talk to a registry

        emit = progress or (lambda event: None)
        if fmt is not None and fmt not in FORMATS:
            raise InvalidArgument(f"unknown format {fmt!r}: use oci or v2s2")
        if compression is None and any(oci.LAYER_COMPRESSION.get(layer.get("mediaType", "")) == "none" for layer in record.layers):
            compression = "gzip"  # uncompressed layers (a loaded docker-archive) go up compressed, as podman sends them
        current_oci = record.manifest_media_type != oci.DOCKER_MANIFEST
        oci_format = FORMATS[fmt] if fmt else current_oci
        if compression == "zstd" and not oci_format:
            raise InvalidArgument("zstd compression is not supported by the v2s2 format: use --format oci")
        keep_manifest = (oci_format == current_oci and self.content.exists(record.manifest_digest)
                         and record.manifest_digest and len(record.layers) == len(record.chain_ids))
        if compression is not None:
            keep_manifest = keep_manifest and all(
                oci.LAYER_COMPRESSION.get(layer.get("mediaType", "")) == compression for layer in record.layers)
        credentials = credentials or auth.lookup(dest.registry, dest.repository, authfile)
        mount_from = _mount_sources(record, dest)
        emit(TransferEvent("start"))
        blobs = []
        try:
            with RegistryClient(dest, credentials=credentials, tls_verify=tls_verify, conf=RegistriesConf.load(),
                                cert_dir=cert_dir) as client:
                client.want_push(mount_from)
                for n, chain_id in enumerate(record.chain_ids):
                    stored = record.layers[n] if n < len(record.layers) else None
                    blob = self.source.blob(stored, chain_id, compression=compression, oci_format=oci_format,
                                            diff_id=record.diff_ids[n])
                    blobs.append(blob)
                    state = self._send(client, blob.digest, blob.size, blob.path, mount_from if blob.stored else [],
                                       chunk_size or UPLOAD_CHUNK)
                    emit(TransferEvent("blob", digest=blob.digest, state=state))
                config = self.content.read(record.config_digest)
                self._send(client, record.config_digest, len(config), str(self.content.path(record.config_digest)), [],
                           chunk_size or UPLOAD_CHUNK)
                emit(TransferEvent("config", digest=record.config_digest))
                if keep_manifest and all(blob.stored for blob in blobs):
                    body, media_type = self.content.read(record.manifest_digest), record.manifest_media_type
                else:
                    media_type = oci.OCI_MANIFEST if oci_format else oci.DOCKER_MANIFEST
                    body = manifest_bytes(media_type, record.config_digest, len(config), [b.descriptor() for b in blobs])
                emit(TransferEvent("manifest"))
                client.put_manifest(digestmod.of_bytes(body) if by_digest else dest.digest or dest.tag, body, media_type)
        finally:
            for blob in blobs:
                blob.close()
        emit(TransferEvent("signatures"))
        return digestmod.of_bytes(body)

    @staticmethod
    def _send(client, digest: str, size: int, path: str, mount_from: list[str], chunk_size: int) -> str:
        if client.blob_exists(digest):
            return "exists"
        for repository in mount_from:
            if client.mount_blob(digest, repository):
                return "mounted"
        client.upload_blob(digest, size, path, chunk_size=chunk_size)
        return ""


def manifest_bytes(media_type: str, config_digest: str, config_size: int, layers: list[dict],
                   annotations: dict[str, str] | None = None) -> bytes:
    """A schema 2 manifest (OCI or Docker; `annotations` only in an OCI one), as compact JSON."""
    config_type = oci.OCI_CONFIG if media_type == oci.OCI_MANIFEST else oci.DOCKER_CONFIG
    manifest = {"schemaVersion": 2, "mediaType": media_type,
                "config": {"mediaType": config_type, "digest": config_digest, "size": config_size},
                "layers": layers}
    if annotations and media_type == oci.OCI_MANIFEST:
        manifest["annotations"] = dict(annotations)
    return json.dumps(manifest, separators=(",", ":")).encode()


def _mount_sources(record: ImageRecord, dest: Reference) -> list[str]:
    """Other repositories of the destination's registry that the image came from (they have its blobs)."""
    repos = []
    for name in record.repo_digests + record.names:
        try:
            ref = reference.parse(name)
        except Exception:
            continue
        if ref.registry == dest.registry and ref.repository != dest.repository and ref.repository not in repos:
            repos.append(ref.repository)
    return repos
