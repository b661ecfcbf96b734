"""An image's history as podman shows it: the config's history entries, newest first, each
matched to the layer it made (entries marked empty_layer made none)."""

from __future__ import annotations

from dataclasses import field
from typing import Callable

from pyctr.values import value


@value
class HistoryEntry:
    id: str  # the image that ends with this entry's layer, if there is one here ("" : podman's <missing>)
    created: str  # RFC 3339, as the config says ("" when it does not)
    created_by: str
    size: int  # bytes of the layer this entry made, unpacked (0 for an empty layer)
    comment: str = ""
    tags: list[str] = field(default_factory=list)


def history(image_id: str, config: dict, chain_ids: list[str], layer_size: Callable[[str], int],
            top_of: dict[str, tuple[str, list[str]]]) -> list[HistoryEntry]:
    """`top_of`: chain ID of an image's topmost layer -> (that image's ID, its names)."""
    entries = list(config.get("history") or [])
    if not entries:  # a config without history: one entry per layer, as podman shows it
        entries = [{"created": config.get("created", "")} for _ in chain_ids] or [{"created": config.get("created", "")}]
    matched: list[tuple[dict, str | None]] = []
    layer = 0
    for entry in entries:
        if entry.get("empty_layer") or layer >= len(chain_ids):
            matched.append((entry, None))
        else:
            matched.append((entry, chain_ids[layer]))
            layer += 1
    result = []
    for n, (entry, chain_id) in enumerate(reversed(matched)):
        entry_id, tags = "", []
        if n == 0:
            entry_id, tags = image_id, list(top_of.get(chain_ids[-1], ("", []))[1]) if chain_ids else []
        elif chain_id is not None and chain_id in top_of and _first_for(matched, chain_id) is entry:
            entry_id, tags = top_of[chain_id][0], list(top_of[chain_id][1])
        result.append(HistoryEntry(
            id=entry_id, created=str(entry.get("created") or ""), created_by=str(entry.get("created_by") or ""),
            size=layer_size(chain_id) if chain_id else 0, comment=str(entry.get("comment") or ""), tags=tags))
    return result


def _first_for(matched: list[tuple[dict, str | None]], chain_id: str) -> dict | None:
    """The newest entry that is no later than the layer: an image whose top layer this is ends there."""
    last = None
    for entry, cid in matched:
        if cid == chain_id:
            last = entry
        elif last is not None:
            break
    return last
