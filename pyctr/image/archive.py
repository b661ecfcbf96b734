"""Image archives: docker-archive (`docker save`'s manifest.json, repositories, config and layer
tars), OCI image layouts (oci-archive, oci-dir) and docker-dir (the `dir:` transport), written by
save and read by load.

Writing is deterministic (owner 0, mode 0444, mtime 0, as podman writes them; save prints no
"Getting image source signatures", as podman's does not).
Reading treats the archive as hostile: member names are only keys in a table (never paths to
create), only regular files (and the legacy layer.tar symlinks, ignored) are accepted, JSON
members have a size limit, every blob is hashed as it is copied into the store's ingest area and
checked against its digest, and layers go through the same unpacker as pulls (which checks
each diff_id). The image is recorded only once all of it is in the store.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import shutil
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Callable

from pyctr import digest as digestmod
from pyctr.errors import UnsafeArchive
from pyctr.image import oci, reference
from pyctr.image.content import ContentStore
from pyctr.image.index import ImageRecord
from pyctr.image.layersource import LayerSource
from pyctr.image.push import TransferEvent, manifest_bytes
from pyctr.snapshot.layers import LayerStore

MAX_JSON = 8 << 20
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
REF_NAME = "org.opencontainers.image.ref.name"
_COPY = 1 << 20


@dataclass
class SavedImage:
    record: ImageRecord
    names: list[str]  # the RepoTags / ref names to write


# -- writing -------------------------------------------------------------------------------------

class Writer:
    def __init__(self, content: ContentStore, layers: LayerStore, emit: Callable[[TransferEvent], None]):
        self.content = content
        self.source = LayerSource(content, layers)
        self.emit = emit

    def docker_archive(self, images: list[SavedImage], out: BinaryIO) -> None:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            manifest, repositories, written = [], {}, set()
            for image in images:
                record = image.record
                layer_names = []
                for n, chain_id in enumerate(record.chain_ids):
                    name = f"{digestmod.hex_of(record.diff_ids[n])}.tar"
                    layer_names.append(name)
                    if name not in written:
                        written.add(name)
                        self._add_layer(tar, name, record, n, chain_id, "none")
                    self.emit(TransferEvent("blob", digest=record.diff_ids[n]))
                config = self.content.read(record.config_digest)
                config_name = f"{record.id}.json"
                if config_name not in written:
                    written.add(config_name)
                    _add_bytes(tar, config_name, config)
                self.emit(TransferEvent("config", digest=record.config_digest))
                parent = ""
                for n, chain_id in enumerate(record.chain_ids):
                    # Legacy per-layer directories for old loaders: an ID from the chain and the config.
                    v1 = digestmod.hex_of(digestmod.of_bytes(f"{chain_id} {record.config_digest}".encode()))
                    if v1 not in written:
                        written.add(v1)
                        _add_link(tar, f"{v1}/layer.tar", f"../{layer_names[n]}")
                        _add_bytes(tar, f"{v1}/VERSION", b"1.0")
                        _add_bytes(tar, f"{v1}/json", _legacy_json(v1, parent, config if n == len(record.chain_ids) - 1 else None))
                    parent = v1
                manifest.append({"Config": config_name, "RepoTags": image.names, "Layers": layer_names})
                for name in image.names:
                    ref = reference.parse(name)
                    repositories.setdefault(ref.name, {})[ref.tag] = parent
                self.emit(TransferEvent("manifest"))
                self.emit(TransferEvent("signatures"))
            _add_bytes(tar, "manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
            if repositories:
                _add_bytes(tar, "repositories", json.dumps(repositories, separators=(",", ":")).encode())

    def _add_layer(self, tar: tarfile.TarFile, name: str, record: ImageRecord, n: int, chain_id: str,
                   compression: str | None, oci_format: bool = False):
        stored = record.layers[n] if n < len(record.layers) else None
        blob = self.source.blob(stored, chain_id, compression=compression, oci_format=oci_format,
                                diff_id=record.diff_ids[n])
        try:
            with open(blob.path, "rb") as f:
                _add_file(tar, name or f"blobs/sha256/{digestmod.hex_of(blob.digest)}", f, blob.size)
            return blob.descriptor()
        finally:
            blob.close()

    def oci_layout(self, images: list[SavedImage], sink: "_Sink", *, uncompressed: bool) -> None:
        index, written = [], set()
        sink.add("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        for image in images:
            record = image.record
            descriptors = []
            for n, chain_id in enumerate(record.chain_ids):
                stored = record.layers[n] if n < len(record.layers) else None
                blob = self.source.blob(stored, chain_id, compression="none" if uncompressed else None, oci_format=True,
                                        diff_id=record.diff_ids[n])
                try:
                    if blob.digest not in written:
                        written.add(blob.digest)
                        with open(blob.path, "rb") as f:
                            sink.add_file(f"blobs/sha256/{digestmod.hex_of(blob.digest)}", f, blob.size)
                    descriptors.append(blob.descriptor())
                finally:
                    blob.close()
                self.emit(TransferEvent("blob", digest=descriptors[-1]["digest"]))
            config = self.content.read(record.config_digest)
            if record.config_digest not in written:
                written.add(record.config_digest)
                sink.add(f"blobs/sha256/{record.id}", config)
            self.emit(TransferEvent("config", digest=record.config_digest))
            keep = (record.manifest_media_type == oci.OCI_MANIFEST and self.content.exists(record.manifest_digest)
                    and [d["digest"] for d in descriptors] == [layer.get("digest") for layer in record.layers])
            body = self.content.read(record.manifest_digest) if keep else \
                manifest_bytes(oci.OCI_MANIFEST, record.config_digest, len(config), descriptors)
            digest = digestmod.of_bytes(body)
            if digest not in written:
                written.add(digest)
                sink.add(f"blobs/sha256/{digestmod.hex_of(digest)}", body)
            for name in image.names or [None]:
                entry = {"mediaType": oci.OCI_MANIFEST, "digest": digest, "size": len(body)}
                if name:
                    entry["annotations"] = {REF_NAME: name}
                index.append(entry)
            self.emit(TransferEvent("manifest"))
            self.emit(TransferEvent("signatures"))
        sink.add("index.json", json.dumps({"schemaVersion": 2, "manifests": index}, separators=(",", ":")).encode())

    def docker_dir(self, image: SavedImage, directory: str, *, compress: bool) -> None:
        os.makedirs(directory, exist_ok=True)
        sink = _DirSink(directory)
        record = image.record
        descriptors = []
        for n, chain_id in enumerate(record.chain_ids):
            stored = record.layers[n] if n < len(record.layers) else None
            blob = self.source.blob(stored, chain_id, compression="gzip" if compress else "none", oci_format=False,
                                    diff_id=record.diff_ids[n])
            try:
                with open(blob.path, "rb") as f:
                    sink.add_file(digestmod.hex_of(blob.digest), f, blob.size)
                descriptors.append(blob.descriptor())
            finally:
                blob.close()
            self.emit(TransferEvent("blob", digest=blob.digest))
        config = self.content.read(record.config_digest)
        sink.add(record.id, config)
        self.emit(TransferEvent("config", digest=record.config_digest))
        sink.add("manifest.json", manifest_bytes(oci.DOCKER_MANIFEST, record.config_digest, len(config), descriptors))
        sink.add("version", b"Directory Transport Version: 1.1\n")
        self.emit(TransferEvent("manifest"))
        self.emit(TransferEvent("signatures"))


class _TarSink:
    def __init__(self, tar: tarfile.TarFile):
        self.tar = tar

    def add(self, name: str, data: bytes) -> None:
        _add_bytes(self.tar, name, data)

    def add_file(self, name: str, f: BinaryIO, size: int) -> None:
        _add_file(self.tar, name, f, size)


class _DirSink:
    def __init__(self, directory: str):
        self.directory = directory

    def _path(self, name: str) -> str:
        path = os.path.join(self.directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def add(self, name: str, data: bytes) -> None:
        with open(self._path(name), "wb") as f:
            f.write(data)

    def add_file(self, name: str, src: BinaryIO, size: int) -> None:
        with open(self._path(name), "wb") as f:
            shutil.copyfileobj(src, f, _COPY)


_Sink = _TarSink | _DirSink


def oci_archive(writer: Writer, images: list[SavedImage], out: BinaryIO, *, uncompressed: bool) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        writer.oci_layout(images, _TarSink(tar), uncompressed=uncompressed)


def oci_dir(writer: Writer, images: list[SavedImage], directory: str, *, uncompressed: bool) -> None:
    os.makedirs(directory, exist_ok=True)
    writer.oci_layout(images, _DirSink(directory), uncompressed=uncompressed)


def _member(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mode, ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = kind, size, 0o444, 0, 0, 0, "", ""
    return ti


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_member(name, len(data)), io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, name: str, f: BinaryIO, size: int) -> None:
    tar.addfile(_member(name, size), f)


def _add_link(tar: tarfile.TarFile, name: str, target: str) -> None:
    ti = _member(name, 0, tarfile.SYMTYPE)
    ti.mode, ti.linkname = 0o777, target
    tar.addfile(ti)


def _legacy_json(v1: str, parent: str, config: bytes | None) -> bytes:
    doc: dict = {"id": v1}
    if parent:
        doc["parent"] = parent
    if config is not None:
        full = json.loads(config)
        for key in ("architecture", "config", "container", "container_config", "created", "docker_version", "os"):
            doc[key] = full.get(key)
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


# -- reading -------------------------------------------------------------------------------------

@dataclass
class _Blob:
    path: str
    digest: str
    size: int


class Extracted:
    """The members of an archive (or the files of a directory): small JSON ones in memory, the rest
    as files in a private temporary directory under the store, each with its digest."""

    def __init__(self, tmp: str):
        self.tmp = tmp
        self.small: dict[str, bytes] = {}
        self.blobs: dict[str, _Blob] = {}
        self._n = 0

    def bytes_of(self, name: str, what: str) -> bytes:
        name = _clean(name, what)
        if name in self.small:
            return self.small[name]
        blob = self.blobs.get(name)
        if blob is None:
            raise UnsafeArchive(f"{what}: the archive has no {name!r}")
        if blob.size > MAX_JSON:
            raise UnsafeArchive(f"{what}: {name!r} is too large ({blob.size} bytes)")
        with open(blob.path, "rb") as f:
            return f.read()

    def json_of(self, name: str, what: str):
        try:
            return json.loads(self.bytes_of(name, what))
        except ValueError:
            raise UnsafeArchive(f"{what}: {name!r} is not valid JSON") from None

    def blob(self, name: str, what: str) -> _Blob:
        name = _clean(name, what)
        if name in self.small:
            self.blobs[name] = self._store(name, io.BytesIO(self.small[name]))
        if name not in self.blobs:
            raise UnsafeArchive(f"{what}: the archive has no {name!r}")
        return self.blobs[name]

    def has(self, name: str) -> bool:
        return name in self.small or name in self.blobs

    def add(self, name: str, f: BinaryIO, size: int) -> None:
        if name in self.small or name in self.blobs:
            raise UnsafeArchive(f"the archive holds {name!r} twice")
        if size <= 64 << 10 and not name.startswith("blobs/"):
            self.small[name] = f.read(size)
        else:
            self.blobs[name] = self._store(name, f)

    def _store(self, name: str, f: BinaryIO) -> _Blob:
        self._n += 1
        path = os.path.join(self.tmp, str(self._n))
        h, size = hashlib.sha256(), 0
        with open(path, "wb") as out:
            while chunk := f.read(_COPY):
                h.update(chunk)
                size += len(chunk)
                out.write(chunk)
        return _Blob(path, "sha256:" + h.hexdigest(), size)


def _clean(name: str, what: str) -> str:
    """A member name as a key: relative, normalised, never leaving the archive."""
    if "\x00" in name or name.startswith("/"):
        raise UnsafeArchive(f"{what}: unsafe member name {name!r}")
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../"):
        raise UnsafeArchive(f"{what}: unsafe member name {name!r}")
    return norm.removeprefix("./")


def extract(source: str | BinaryIO, tmp: str, what: str) -> Extracted:
    """Read an archive file or stream (maybe gzip- or zstd-compressed), or a directory."""
    found = Extracted(tmp)
    if isinstance(source, str) and os.path.isdir(source):
        for top, dirs, files in os.walk(source):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(top, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    found.add(_clean(os.path.relpath(path, source), what), f, os.fstat(f.fileno()).st_size)
        return found
    raw = open(source, "rb") if isinstance(source, str) else source
    try:
        stream = _decompressed(raw)
        try:
            tar = tarfile.open(fileobj=stream, mode="r|", encoding="utf-8", errors="surrogateescape")
            for ti in tar:
                name = _clean(ti.name, what)
                if ti.isdir() or (ti.issym() and name.endswith("/layer.tar")):
                    continue  # directories and the legacy layout's links carry nothing we read
                if not ti.isreg():
                    raise UnsafeArchive(f"{what}: unexpected member {ti.name!r} (only regular files are accepted)")
                member = tar.extractfile(ti)
                found.add(name, member, ti.size)
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:
                raise
            raise UnsafeArchive(f"{what}: not a valid image archive ({exc})") from None
    finally:
        if isinstance(source, str):
            raw.close()
    if not found.small and not found.blobs:
        raise UnsafeArchive(f"{what}: the archive is empty")
    return found


def _decompressed(raw: BinaryIO):
    """The archive stream, through gzip or zstd when its first bytes say so."""
    import gzip

    head = raw.read(4)
    rest = _Prefixed(head, raw)
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=rest, mode="rb")
    if head == b"\x28\xb5\x2f\xfd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(rest, read_across_frames=True)
    return rest


class _Prefixed:
    """A stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, raw: BinaryIO):
        self.head, self.raw = head, raw

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n is None or n < 0:
                data, self.head = self.head + self.raw.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            if len(data) < n:
                data += self.raw.read(n - len(data))
            return data
        return self.raw.read(n)
