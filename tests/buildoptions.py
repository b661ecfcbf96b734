"""What tests/test_build_options.py compares of a build with podman's (and
tests/scripts/record_build_options_golden.py records of podman's): the layers a build option
changes, the history it writes, the dates and annotations. Created dates, digests and the IDs in
history comments differ from build to build and are left out."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

# buildah's RUN steps leave /run behind (from the /run/.containerenv it mounts): pyctr's do not
_NOT_COMPARED = {"run"}


def summary(layout: Path, base_layers: int) -> dict:
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(_blob(layout, index["manifests"][0]["digest"]).read_text())
    config = json.loads(_blob(layout, manifest["config"]["digest"]).read_text())
    layers = []
    times = set()
    for desc in manifest["layers"][base_layers if len(manifest["layers"]) > base_layers else 0:]:
        with tarfile.open(_blob(layout, desc["digest"])) as tar:
            members = [m for m in tar.getmembers() if m.name not in _NOT_COMPARED]
        times |= {m.mtime for m in members}
        # the base image's own files (a squash-all layer has them all): counted, not listed
        layers.append({"count": len(members), "names": sorted(m.name for m in members if not re.match(
            r"(bin|usr|etc|home|root|tmp|var)/[^/]+$", m.name) or ".wh." in m.name)})
    history = []
    for entry in config.get("history") or []:
        comment = re.sub(r"^FROM [0-9a-f]{12}$", "FROM <id>", entry.get("comment", ""))
        created_by = re.sub(r"file:[0-9a-f]{64}", "file:<digest>", entry.get("created_by", ""))
        history.append([created_by, bool(entry.get("empty_layer")), comment])
    return {"layers": len(manifest["layers"]), "new_layers": layers, "history": history,
            "times": sorted(times) if len(times) == 1 else "several",
            "created": config.get("created") if str(config.get("created", "")).startswith("2001") else "now",
            "annotations": sorted((manifest.get("annotations") or {}).keys())}


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":", 1)[1]
