"""--userns keep-id for a rootless pyctr: the mappings of a user namespace nested in the one
pyctr runs in (where 0 is the user and 1..N their subordinate IDs), as podman computes them."""

from __future__ import annotations

import re

from pyctr.errors import InvalidArgument


def _outer(kind: str) -> tuple[int, int]:
    """(the user's host ID, N: how many subordinate IDs follow it) in pyctr's namespace."""
    with open(f"/proc/self/{kind}_map") as f:
        entries = [tuple(map(int, line.split())) for line in f]
    host = next((outside for inside, outside, size in entries if inside == 0), None)
    extra = sum(size for inside, _, size in entries if inside > 0)
    if host is None:
        raise InvalidArgument("--userns: pyctr's user namespace maps no root")
    return host, extra


def keep_id_maps(own: int, extra: int) -> list[str]:
    """CONTAINER:PARENT:SIZE lines: `own` is the user (parent 0), the rest fill around it from 1."""
    maps = [f"{own}:0:1"]
    below = min(own, extra)
    if below:
        maps.append(f"0:1:{below}")
    if extra > own:
        maps.append(f"{own + 1}:{own + 1}:{extra - own}")
    return maps


def keep_id(options: str) -> tuple[list[str], list[str], str]:
    """--userns keep-id[:uid=U,gid=G] -> (uidmap, gidmap, the process's user U:G)."""
    host_uid, extra_uids = _outer("uid")
    host_gid, extra_gids = _outer("gid")
    uid, gid = host_uid, host_gid
    for option in filter(None, options.split(",")):
        match = re.fullmatch(r"(uid|gid)=(\d+)", option)
        if not match:
            raise InvalidArgument(f"unknown option {option!r} for --userns keep-id: uid=UID or gid=GID")
        if match.group(1) == "uid":
            uid = int(match.group(2))
        else:
            gid = int(match.group(2))
    return keep_id_maps(uid, extra_uids), keep_id_maps(gid, extra_gids), f"{uid}:{gid}"

