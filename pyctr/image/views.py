"""Images as podman shows them: the `image inspect` document (no printing here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyctr.engine.images import ImageInfo


def inspect(info: "ImageInfo") -> dict:
    record, cfg = info.record, info.config
    container_config = cfg.get("config") or {}
    return {
        "Id": record.id,
        "Digest": record.manifest_digest,
        "RepoTags": list(record.names),
        "RepoDigests": list(record.repo_digests),
        "Parent": "",
        "Comment": cfg.get("comment", ""),
        "Created": record.created,
        "Config": container_config,
        "Version": cfg.get("docker_version", ""),
        "Author": cfg.get("author", ""),
        "Architecture": cfg.get("architecture", ""),
        "Os": cfg.get("os", ""),
        "Variant": cfg.get("variant", ""),
        "Size": record.size,
        "VirtualSize": record.size,
        "Labels": container_config.get("Labels") or {},
        "Annotations": {},
        "ManifestType": record.manifest_media_type,
        "User": container_config.get("User", ""),
        "History": cfg.get("history") or [],
        "NamesHistory": list(record.names),
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": ":".join(info.lower_dirs)}},
        "RootFS": {"Type": "layers", "Layers": list(record.diff_ids)},
    }
