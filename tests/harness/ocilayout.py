"""Write an Image (or Index) as an OCI image layout directory.

    write_oci_layout(image, tmp_path / "layout", tag="latest")
    # umoci unpack --image layout:latest bundle      (a reference unpacker)

Layout: `oci-layout`, `index.json` (one descriptor per tag, annotated with
org.opencontainers.image.ref.name) and `blobs/sha256/<hex>` for every manifest,
config and layer. Writing several tags into one directory adds to index.json.

umoci 0.4.7 (Debian 12) cannot decompress zstd layers ("blob is not correct mediatype"):
write `umoci_compatible(image)` when umoci is to read the layout.
"""

from __future__ import annotations

import json
from pathlib import Path

from .images import Image, Index, MediaType, sha256_digest

REF_NAME = "org.opencontainers.image.ref.name"


def write_oci_layout(item: Image | Index, directory: Path, tag: str = "latest") -> Path:
    directory = Path(directory)
    (directory / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    _write_manifest_tree(item, directory)
    descriptor = {"mediaType": item.media_type, "digest": item.manifest_digest,
                  "size": len(item.manifest_bytes), "annotations": {REF_NAME: tag}}
    index_path = directory / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {
        "schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": []}
    index["manifests"] = [m for m in index["manifests"]
                          if m.get("annotations", {}).get(REF_NAME) != tag] + [descriptor]
    index_path.write_text(json.dumps(index, indent=2))
    return directory


def umoci_compatible(image: Image) -> Image:
    """`image` with zstd layers re-encoded as gzip: same tarballs, same config, same
    diff_ids, so the unpacked tree is the one the original image describes."""
    layers = [layer.recompressed("gzip") if layer.compression == "zstd" else layer
              for layer in image.layers]
    return Image(layers, oci=True, config=image.config)


def _write_manifest_tree(item: Image | Index, directory: Path) -> None:
    for child in item.children():
        _write_manifest_tree(child, directory)
    for blob in [*item.blobs(), item.manifest_bytes]:
        _write_blob(directory, blob)


def _write_blob(directory: Path, data: bytes) -> None:
    path = directory / "blobs" / "sha256" / sha256_digest(data).removeprefix("sha256:")
    if not path.exists():
        path.write_bytes(data)
