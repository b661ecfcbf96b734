"""Where the bytes of an image's layer come from when it leaves the store (push, save).

A layer goes out as stored (the compressed blob of its pull) when that blob is in the content
store and the compression asked for is its own. Otherwise it is made: the uncompressed tar from
the stored blob (decompressed) or, for a layer that exists only unpacked (commit, build), from
its directory (pyctr.image.layertar), then compressed as asked into a temporary file next to
the store's ingest area. The diff_id never changes: only the blob does.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import BinaryIO, Callable

from pyctr.errors import InvalidArgument, StoreError
from pyctr.image import oci
from pyctr.image.content import ContentStore
from pyctr.snapshot.layers import LayerStore

COMPRESSIONS = ("gzip", "zstd", "none")


@dataclass
class LayerBlob:
    media_type: str
    digest: str
    size: int
    path: str
    compression: str
    stored: bool  # the content store's own blob (not a temporary file, which close() removes)

    def close(self) -> None:
        if not self.stored:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def descriptor(self) -> dict:
        return {"mediaType": self.media_type, "size": self.size, "digest": self.digest}


def media_type(compression: str, oci_format: bool) -> str:
    if oci_format:
        return {"gzip": oci.OCI_LAYER_GZIP, "zstd": oci.OCI_LAYER_ZSTD, "none": oci.OCI_LAYER}[compression]
    if compression == "zstd":
        raise InvalidArgument("zstd compression is not supported by the v2s2 format: use --format oci")
    return {"gzip": oci.DOCKER_LAYER_GZIP, "none": "application/vnd.docker.image.rootfs.diff.tar"}[compression]


class LayerSource:
    def __init__(self, content: ContentStore, layers: LayerStore):
        self.content = content
        self.layers = layers

    def blob(self, stored: dict | None, chain_id: str, *, compression: str | None, oci_format: bool,
             diff_id: str | None = None) -> LayerBlob:
        """The layer (its stored descriptor, maybe None, and its chain ID) compressed as asked
        (None: as stored, gzip when nothing is stored), with its media type for the format.
        A layer made anew must hash to `diff_id` (the image's config names it), or it is refused."""
        have = stored is not None and self.content.exists(stored.get("digest", ""))
        current = oci.LAYER_COMPRESSION.get(stored.get("mediaType", ""), "gzip") if stored else None
        wanted = compression or current or "gzip"
        if wanted == "zstd" and not oci_format and compression is None:
            wanted = "gzip"  # a Docker manifest has no zstd layers: converting to it recompresses them
        if have and wanted == current:
            return LayerBlob(media_type(wanted, oci_format), stored["digest"], int(stored["size"]),
                             str(self.content.path(stored["digest"])), wanted, True)
        return self._make(stored if have else None, chain_id, wanted, oci_format, diff_id)

    def uncompressed(self, stored: dict | None, chain_id: str, out: BinaryIO) -> None:
        """Write the layer's tar (uncompressed) to `out`: from its blob when stored, else from its directory."""
        if stored is not None and self.content.exists(stored.get("digest", "")):
            compression = oci.LAYER_COMPRESSION.get(stored.get("mediaType", ""), "gzip")
            with open(self.content.path(stored["digest"]), "rb") as raw:
                reader = _decompressor(raw, compression)
                shutil.copyfileobj(reader, out, 1 << 20)
            return
        from pyctr.image import layertar

        layertar.write_layer(str(self.layers.path(chain_id)), out)

    def _make(self, stored: dict | None, chain_id: str, wanted: str, oci_format: bool, diff_id: str | None) -> LayerBlob:
        self.content.ingest_dir.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="layer-", suffix=".out", dir=self.content.ingest_dir)
        try:
            with os.fdopen(fd, "wb") as raw:
                made, digest, size = write_compressed(lambda out: self.uncompressed(stored, chain_id, out), raw, wanted)
            if diff_id and made != diff_id:
                raise StoreError(f"layer {diff_id}: its blob is not in the store and its directory gives {made}",
                                 hint="remove the image and pull it again")
            return LayerBlob(media_type(wanted, oci_format), digest, size, path, wanted, False)
        except BaseException:
            os.unlink(path)
            raise


def write_compressed(write_tar: Callable[[BinaryIO], None], raw: BinaryIO, compression: str) -> tuple[str, str, int]:
    """Write the tar that `write_tar` writes, compressed, to `raw`, in one pass: the uncompressed stream
    is hashed on its way into the compressor, whose output is hashed on its way out.
    -> (diff_id, the blob's digest, the blob's size)."""
    hashing = _Hashing(raw)
    with _compressor(hashing, compression) as sink:
        plain = _Hashing(sink)
        write_tar(plain)
    return "sha256:" + plain.hash.hexdigest(), "sha256:" + hashing.hash.hexdigest(), hashing.size


class _Hashing:
    """A write-only file that hashes what passes to the real one."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()


class _Plain:
    def __init__(self, out):
        self.out = out

    def write(self, data) -> int:
        return self.out.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def _compressor(out, compression: str):
    if compression == "gzip":
        # mtime 0 and no file name: the same tree gives the same blob every time.
        return gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=3).stream_writer(out, closefd=False)
    if compression == "none":
        return _Plain(out)
    raise InvalidArgument(f"unsupported compression format {compression!r}: use gzip or zstd")


def _decompressor(raw: BinaryIO, compression: str):
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return raw
