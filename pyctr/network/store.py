"""Network definitions: one JSON file per network in the network config directory (host-wide as
root: pyctr.config.network_config_dir), changed under one lock.

The default network is not a file: it is the same on every host (as podman's `podman` network),
so it is made up when asked for and cannot be removed.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pyctr.errors import Ambiguous, Conflict, NotFound
from pyctr.linux.fsutil import atomic_write_json, locked, makedirs, read_json
from pyctr.network.config import DEFAULT_NAME, CreateRequest, Network, build, default_network


class NetworkNotFound(NotFound):
    pass


class NetworkStore:
    def __init__(self, directory: Path):
        self.dir = Path(directory)

    def _path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def list(self) -> list[Network]:
        """Every network, the default one included, by name."""
        found = {DEFAULT_NAME: default_network()}
        try:
            names = sorted(os.listdir(self.dir))
        except FileNotFoundError:
            names = []
        for entry in names:
            if entry.endswith(".json") and not entry.startswith("."):
                data = read_json(self.dir / entry)
                if data and data.get("name") == entry[:-5]:
                    found[data["name"]] = Network.from_json(data)
        return sorted(found.values(), key=lambda n: n.name)

    def get(self, name_or_id: str) -> Network:
        """By name, full ID or a unique ID prefix (podman's lookup)."""
        if name_or_id == DEFAULT_NAME:
            return default_network()
        data = read_json(self._path(name_or_id)) if "/" not in name_or_id and name_or_id else None
        if data:
            return Network.from_json(data)
        matches = [n for n in self.list() if n.id.startswith(name_or_id)] if name_or_id else []
        if len(matches) > 1:
            raise Ambiguous(f"more than one result for network ID {name_or_id}")
        if not matches:
            raise NetworkNotFound(f"unable to find network with name or ID {name_or_id}: network not found")
        return matches[0]

    def create(self, request: CreateRequest, *, exist_ok: bool = False, busy_interfaces: set[str] = frozenset()) -> Network:
        """`busy_interfaces`: bridge names in use that no definition here names (another config dir's)."""
        makedirs(self.dir, 0o755)
        with locked(self.dir / ".lock"):
            existing = {n.name: n for n in self.list()}
            if request.name in existing:
                if exist_ok:
                    return existing[request.name]
                raise Conflict(f"network name {request.name} already used: network already exists")
            taken_subnets = [s.network for n in existing.values() for s in n.subnets] + host_subnets()
            taken_interfaces = {n.interface for n in existing.values()} | host_interfaces() | set(busy_interfaces)
            network = build(request, taken_subnets, taken_interfaces)
            atomic_write_json(self._path(network.name), network.to_json())
        return network

    def remove(self, network: Network) -> None:
        with locked(self.dir / ".lock"):
            self._path(network.name).unlink(missing_ok=True)


def host_interfaces() -> set[str]:
    try:
        return set(os.listdir("/sys/class/net"))
    except OSError:
        return set()


def host_subnets() -> list:
    """The IPv4 destinations of the host's routes other than the default one."""
    return [subnet for subnet, _ in host_routes()]


def host_routes() -> list[tuple]:
    """(destination network, interface) of the host's IPv4 routes other than the default one (/proc/net/route)."""
    found = []
    try:
        with open("/proc/net/route") as f:
            next(f)
            for line in f:
                fields = line.split()
                destination, mask = int(fields[1], 16), int(fields[7], 16)
                if mask == 0:
                    continue
                # little-endian words: the bytes of the address in order
                address = ipaddress.IPv4Address(destination.to_bytes(4, "little"))
                prefix = bin(mask).count("1")
                found.append((ipaddress.ip_network(f"{address}/{prefix}", strict=False), fields[0]))
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    return found
