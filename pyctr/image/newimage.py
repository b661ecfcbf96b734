"""Making images that no registry sent: a new layer from a tar stream (commit: a container's
upper directory through pyctr.image.layertar; import: a tarball), stored as a gzip blob, unpacked
by the pull's unpacker, then a config and a manifest written and the image recorded.

The layer is written once: the uncompressed stream is hashed (its diff_id) on its way into gzip,
whose output is hashed (the blob's digest) on its way into a temporary file, then moved into the
content store through its verified writer.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import time
from typing import BinaryIO, Callable

from pyctr import digest as digestmod
from pyctr.image import oci
from pyctr.image.content import ContentStore
from pyctr.image.index import ImageIndex, ImageRecord
from pyctr.image.layersource import write_compressed
from pyctr.image.push import manifest_bytes
from pyctr.snapshot.layers import LayerStore


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ImageMaker:
    def __init__(self, content: ContentStore, layers: LayerStore, index: ImageIndex, *, rootless: bool):
        self.content, self.layers, self.index, self.rootless = content, layers, index, rootless

    def layer(self, write_tar: Callable[[BinaryIO], None], parent_chain: str | None, *,
              unpacked: str | None = None) -> tuple[dict, str, str]:
        """Store and unpack a new layer whose uncompressed tar `write_tar` writes to the file it is
        given -> (its descriptor, diff_id, chain_id). `unpacked`: the layer's files as overlay keeps
        them (a build step's upper directory), moved into the layer store instead of unpacking."""
        self.content.ingest_dir.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="newlayer-", dir=self.content.ingest_dir)
        try:
            with os.fdopen(fd, "wb") as raw:
                diff_id, digest, size = write_compressed(write_tar, raw, "gzip")
            with self.content.writer(digest, size) as w:
                if not w.committed:
                    w.restart()
                    with open(path, "rb") as f:
                        while chunk := f.read(1 << 20):
                            w.write(chunk)
                    w.commit()
        finally:
            os.unlink(path)
        chain_id = diff_id if parent_chain is None else digestmod.of_bytes(f"{parent_chain} {diff_id}".encode())
        if not self.layers.exists(chain_id) and not (unpacked and self.layers.adopt(chain_id, diff_id, unpacked)):
            self.layers.unpack(chain_id, diff_id, self.content.path(digest), "gzip", rootless=self.rootless)
        return {"mediaType": oci.OCI_LAYER_GZIP, "digest": digest, "size": size}, diff_id, chain_id

    def image(self, config: dict, layers: list[dict], diff_ids: list[str], chain_ids: list[str], *,
              oci_format: bool = True, annotations: dict[str, str] | None = None) -> ImageRecord:
        """Write the config and manifest (with `annotations`, OCI only) of an image made of these
        layers (config's rootfs is set here)."""
        config["rootfs"] = {"type": "layers", "diff_ids": list(diff_ids)}
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        config_digest = digestmod.of_bytes(config_bytes)
        self.content.put(config_digest, config_bytes)
        media_type = oci.OCI_MANIFEST if oci_format else oci.DOCKER_MANIFEST
        layer_type = oci.OCI_LAYER_GZIP if oci_format else oci.DOCKER_LAYER_GZIP
        descriptors = [{**layer, "mediaType": layer_type if oci.LAYER_COMPRESSION.get(layer["mediaType"]) == "gzip"
                        else layer["mediaType"]} for layer in layers]
        body = manifest_bytes(media_type, config_digest, len(config_bytes), descriptors, annotations)
        manifest_digest = digestmod.of_bytes(body)
        self.content.put(manifest_digest, body)
        return ImageRecord(
            id=digestmod.hex_of(config_digest), manifest_digest=manifest_digest, config_digest=config_digest,
            manifest_media_type=media_type, layers=descriptors, diff_ids=list(diff_ids), chain_ids=list(chain_ids),
            created=str(config.get("created") or ""), pulled=time.time(),
            size=sum(self.layers.info(c).get("size", 0) for c in chain_ids) + len(config_bytes))
