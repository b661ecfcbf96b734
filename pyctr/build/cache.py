"""The build cache: a step's key (its parent's ID, its instruction, the digest of its inputs and the
build arguments it uses) -> the state after it (config, layers). One small JSON file per key under
<root>/build-cache/, written atomically; an entry whose layers or blobs are gone (an rmi collected
them) is a miss."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pyctr.linux.fsutil import atomic_write_json, makedirs, read_json


def key(parent_id: str, instruction: str, inputs: str = "", args: dict[str, str] | None = None) -> str:
    text = json.dumps([parent_id, instruction, inputs, sorted((args or {}).items())], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class BuildCache:
    def __init__(self, root: Path, layers, content):
        self.dir = Path(root) / "build-cache"
        self.layers, self.content = layers, content

    def get(self, cache_key: str) -> dict | None:
        entry = read_json(self.dir / f"{cache_key}.json", None)
        if not isinstance(entry, dict):
            return None
        try:
            if not all(self.layers.exists(c) for c in entry["chain_ids"]):
                return None
            if not all(self.content.path(layer["digest"]).exists() for layer in entry["layers"]):
                return None
        except (KeyError, TypeError):
            return None
        return entry

    def put(self, cache_key: str, entry: dict) -> None:
        makedirs(self.dir, 0o700)
        atomic_write_json(self.dir / f"{cache_key}.json", entry)
