"""A built image as tests compare it with podman's build of the same Containerfile: its config
without dates, IDs and digests, and the entries of the layers the build added (name, type, mode,
owner, size, content digest or link target; no times). Read from an OCI layout directory (what
`save --format oci-dir` writes, for pyctr and podman alike)."""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from pathlib import Path

_HEX = re.compile(r"\b(file|dir|multi):[0-9a-f]{64}\b")
_SHORT_ID = re.compile(r"^FROM [0-9a-f]{12}$")
_TYPES = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink",
          tarfile.LNKTYPE: "hardlink", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo"}


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":", 1)[1]


def view(layout: Path, *, base_layers: int, base_name: str) -> dict:
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(_blob(layout, index["manifests"][0]["digest"]).read_text())
    config = json.loads(_blob(layout, manifest["config"]["digest"]).read_text())
    section = dict(config.get("config") or {})
    labels = {k: v for k, v in (section.get("Labels") or {}).items() if k != "io.buildah.version"}
    if labels:
        section["Labels"] = labels
    else:
        section.pop("Labels", None)
    history = []
    for entry in config.get("history", []):
        item = {k: v for k, v in entry.items() if k != "created"}
        item["created_by"] = _HEX.sub(r"\1:<digest>", item.get("created_by", ""))
        comment = item.get("comment", "")
        if _SHORT_ID.match(comment):
            item["comment"] = "FROM <id>"
        elif comment == f"FROM {base_name}":
            item["comment"] = "FROM <base>"
        history.append(item)
    layers = []
    for layer in manifest["layers"][base_layers:]:
        entries = []
        with tarfile.open(_blob(layout, layer["digest"]), mode="r:*") as tar:
            for member in tar:
                line = f"{member.name.rstrip('/')} {_TYPES.get(member.type, member.type)} {member.mode & 0o7777:04o} " \
                       f"{member.uid}:{member.gid}"
                if member.isreg():
                    data = tar.extractfile(member).read()
                    line += f" {len(data)} {hashlib.sha256(data).hexdigest()[:16]}"
                elif member.issym() or member.islnk():
                    line += f" -> {member.linkname}"
                entries.append(line)
        layers.append(sorted(entries))
    keep = {k: v for k, v in config.items() if k in ("architecture", "os", "variant", "author")}
    return {**keep, "config": section, "history": history, "layers": layers}
