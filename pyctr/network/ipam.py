"""Addresses handed out on a network (netavark takes them as given: it does no IPAM itself).

One file per bridge, `<network run dir>/ipam/<interface>.json`: {"allocated": {ip: owner},
"last": ip}. The bridge is the shared resource, so two stores that use the same bridge never hand
out one address twice. The owner is the container's directory in its store: an address whose
owner no longer has a network set up (its store was deleted under it) is free again. Addresses go
round from the last one handed out, as podman's do, so that a just-freed address is not reused at
once. The caller holds the network lock.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Callable

from pyctr.errors import Conflict
from pyctr.linux.fsutil import atomic_write_json, makedirs, read_json
from pyctr.network.config import Network, Subnet


def _file(run_dir: Path, network: Network) -> Path:
    return Path(run_dir) / "ipam" / f"{network.interface}.json"


def has_network(owner: str) -> bool:
    """Whether the container (its directory) still has a network set up (pyctr.network.bridge.RECORD)."""
    return os.path.exists(os.path.join(owner, "network.json"))


def allocate(run_dir: Path, network: Network, owner: str, requested: list[str] = (),
             alive: Callable[[str], bool] = has_network) -> list[str]:
    """An address in each subnet for the container `owner` (the requested ones where given)."""
    path = _file(run_dir, network)
    data = read_json(path) or {}
    last: dict[str, str] = data.get("last", {})
    # The owner's earlier addresses are its own again (a start after a crash); those of owners
    # gone are free.
    allocated = {ip: other for ip, other in data.get("allocated", {}).items() if other != owner and alive(other)}
    wanted = [ipaddress.ip_address(ip) for ip in requested]
    result = []
    for subnet in network.subnets:
        net = subnet.network
        mine = [ip for ip in wanted if ip in net]
        if mine:
            ip = mine[0]
            holder = allocated.get(str(ip))
            if holder:
                raise Conflict(f"IPAM error: requested ip address {ip} is already allocated to container ID "
                               f"{os.path.basename(holder)}")
            if str(ip) == subnet.gateway or ip in (net.network_address, net.broadcast_address):
                raise Conflict(f"IPAM error: requested ip address {ip} is not usable in subnet {net}")
        else:
            ip = _next_free(subnet, allocated, last.get(subnet.subnet))
            last[subnet.subnet] = str(ip)
        allocated[str(ip)] = owner
        result.append(str(ip))
    for ip in wanted:
        if not any(ip in s.network for s in network.subnets):
            raise Conflict(f"requested static ip {ip} not in any subnet on network {network.name}")
    makedirs(path.parent, 0o755)
    atomic_write_json(path, {"allocated": allocated, "last": last})
    return result


def _next_free(subnet: Subnet, allocated: dict, last: str | None):
    net = subnet.network
    first, end = net.network_address + 1, net.broadcast_address - (1 if net.version == 4 else 0)
    if subnet.lease_range:
        first = ipaddress.ip_address(subnet.lease_range["start_ip"])
        end = min(ipaddress.ip_address(subnet.lease_range["end_ip"]), end)
    size = int(end) - int(first) + 1
    start = ipaddress.ip_address(last) + 1 if last else first
    if not first <= start <= end:
        start = first
    for step in range(size):
        candidate = first + (int(start) - int(first) + step) % size
        if str(candidate) != subnet.gateway and str(candidate) not in allocated:
            return candidate
    raise Conflict(f"IPAM error: failed to find free IP in range: {first} - {end}")


def release(run_dir: Path, network: Network, owner: str) -> None:
    path = _file(run_dir, network)
    data = read_json(path)
    if not data:
        return
    allocated = {ip: other for ip, other in data.get("allocated", {}).items() if other != owner}
    if allocated != data.get("allocated"):
        atomic_write_json(path, {"allocated": allocated, "last": data.get("last", {})})


def forget(run_dir: Path, network: Network) -> None:
    """The network is removed: its bridge's table goes too, unless a container still holds an address."""
    path = _file(run_dir, network)
    if path.exists() and not live_owners(path):
        path.unlink(missing_ok=True)


def live_owners(table: Path, alive: Callable[[str], bool] = has_network) -> set[str]:
    """The owners in one address table that still have a network set up."""
    data = read_json(table) or {}
    return {owner for owner in data.get("allocated", {}).values() if alive(owner)}


def owners(run_dir: Path, network: Network, *, live: bool = False) -> set[str]:
    """The containers (directories) that hold addresses on the network's bridge; `live`: only
    those that still have a network set up."""
    if live:
        return live_owners(_file(run_dir, network))
    data = read_json(_file(run_dir, network)) or {}
    return set(data.get("allocated", {}).values())
