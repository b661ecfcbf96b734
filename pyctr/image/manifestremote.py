"""Manifest lists and registries: the entries a remote image gives a list (its manifest, and its
index with --all, read without pulling a layer), `manifest inspect` of a remote reference, and
the copy of a remote entry to where a list is pushed (blobs the destination has are skipped,
blobs in another repository of the same registry are mounted, others go through the store)."""

from __future__ import annotations

import json

from pyctr import digest as digestmod
from pyctr.errors import DigestMismatch, UnsupportedMediaType
from pyctr.image import auth, oci
from pyctr.image.content import ContentStore
from pyctr.image.manifests import REMOTE, Instance, platform_of_config, platform_of_entry
from pyctr.image.reference import Reference
from pyctr.image.registries import RegistriesConf


def client(ref: Reference, *, tls_verify: bool | None = None, authfile: str | None = None,
           credentials: tuple[str, str] | None = None, cert_dir: str | None = None):
    from pyctr.image.registry import RegistryClient  # httpx only for commands that talk to a registry

    credentials = credentials or auth.lookup(ref.registry, ref.repository, authfile)
    return RegistryClient(ref, credentials=credentials, tls_verify=tls_verify, conf=RegistriesConf.load(), cert_dir=cert_dir)


def _media_type(body: dict, header: str) -> str:
    from pyctr.image.pull import _media_type as pulled_type

    return pulled_type(body, header)


def fetch(ref: Reference, **options) -> tuple[bytes, dict, str]:
    """(bytes, parsed document, media type) of the manifest or index `ref` names."""
    with client(ref, **options) as registry:
        body, header = registry.get_manifest(ref.digest or ref.tag)
    if ref.digest and digestmod.of_bytes(body) != ref.digest:
        raise DigestMismatch(f"manifest {ref}: registry sent content with digest {digestmod.of_bytes(body)}")
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise UnsupportedMediaType(f"manifest {ref}: malformed JSON") from exc
    if not isinstance(parsed, dict):
        raise UnsupportedMediaType(f"manifest {ref}: not a JSON object")
    return body, parsed, _media_type(parsed, header)


def instances(ref: Reference, *, all_instances: bool, **options) -> list[Instance]:
    """The entries `ref` gives a list: its manifest (for an index, the host platform's entry; with
    `all_instances`, every entry); a single manifest's platform comes from its config."""
    with client(ref, **options) as registry:
        body, header = registry.get_manifest(ref.digest or ref.tag)
        digest = digestmod.of_bytes(body)
        if ref.digest and digest != ref.digest:
            raise DigestMismatch(f"manifest {ref}: registry sent content with digest {digest}")
        parsed = json.loads(body)
        media_type = _media_type(parsed, header)
        if media_type in oci.INDEX_TYPES:
            entries = [e for e in parsed.get("manifests") or [] if isinstance(e, dict)]
            if not all_instances:
                chosen = oci.select_manifest(parsed, oci.Platform.host())
                entries = [e for e in entries if e.get("digest") == chosen.digest][:1]
            return [Instance(digest=digestmod.validate(e.get("digest")), size=int(e.get("size") or 0),
                             media_type=str(e.get("mediaType") or oci.OCI_MANIFEST), platform=platform_of_entry(e),
                             urls=list(e.get("urls") or []), source=f"{REMOTE}{ref.name}@{e['digest']}")
                    for e in entries]
        if media_type not in oci.MANIFEST_TYPES:
            raise UnsupportedMediaType(f"{ref}: unsupported manifest type {media_type!r}")
        config = _config(registry, parsed)
    return [Instance(digest=digest, size=len(body), media_type=media_type, platform=platform_of_config(config),
                     source=f"{REMOTE}{ref.name}@{digest}")]


def _config(registry, manifest: dict) -> dict:
    """The image config a manifest names, read into memory (small: never stored)."""
    import io

    desc = oci.Descriptor.from_json(manifest.get("config"))
    if desc.size > 8 << 20:
        raise UnsupportedMediaType(f"image config {desc.digest} is too large ({desc.size} bytes)")

    class _Memory:  # the part of BlobWriter fetch_blob uses
        def __init__(self):
            self.buffer, self.offset = io.BytesIO(), 0

        def write(self, chunk: bytes) -> None:
            self.buffer.write(chunk)
            self.offset += len(chunk)

        def restart(self) -> None:
            self.buffer, self.offset = io.BytesIO(), 0

        def commit(self) -> None:
            if digestmod.of_bytes(self.buffer.getvalue()) != desc.digest:
                raise DigestMismatch(f"image config {desc.digest}: registry sent other content")

    sink = _Memory()
    registry.fetch_blob(desc, sink)
    return json.loads(sink.buffer.getvalue())


def copy_instance(content: ContentStore, source: Reference, dest: Reference, emit, **options) -> None:
    """Copy the manifest `source` (REPO@DIGEST) and its blobs to the repository of `dest`, under its
    digest. A blob neither there nor mountable passes through the content store."""
    from pyctr.image.push import TransferEvent

    with client(source, tls_verify=options.get("tls_verify"), cert_dir=options.get("cert_dir"),
                authfile=options.get("authfile")) as src, client(dest, **options) as dst:
        body, header = src.get_manifest(source.digest)
        if digestmod.of_bytes(body) != source.digest:
            raise DigestMismatch(f"manifest {source}: registry sent other content")
        manifest = json.loads(body)
        media_type = _media_type(manifest, header)
        if media_type not in oci.MANIFEST_TYPES:
            raise UnsupportedMediaType(f"{source}: unsupported manifest type {media_type!r}")
        same_registry = source.registry == dest.registry and source.repository != dest.repository
        dst.want_push([source.repository] if same_registry else [])
        emit(TransferEvent("start"))
        descs = [oci.Descriptor.from_json(layer) for layer in manifest.get("layers") or []]
        config = oci.Descriptor.from_json(manifest.get("config"))
        for desc in descs + [config]:
            state = _copy_blob(content, src, dst, desc, source.repository if same_registry else None)
            emit(TransferEvent("config" if desc is config else "blob", digest=desc.digest, state=state))
        emit(TransferEvent("manifest"))
        dst.put_manifest(source.digest, body, media_type)
        emit(TransferEvent("signatures"))


def _copy_blob(content: ContentStore, src, dst, desc: oci.Descriptor, mount_from: str | None) -> str:
    from pyctr.image.registry import UPLOAD_CHUNK

    if dst.blob_exists(desc.digest):
        return "exists"
    if mount_from and dst.mount_blob(desc.digest, mount_from):
        return "mounted"
    # Through the store (the next garbage collection drops it: no image names it).
    with content.writer(desc.digest, desc.size) as w:
        if not w.committed:
            src.fetch_blob(desc, w)
    dst.upload_blob(desc.digest, desc.size, str(content.path(desc.digest)), chunk_size=UPLOAD_CHUNK)
    return ""
