"""A network's definition, in the JSON that podman and netavark both read.

A network file (podman's /etc/containers/networks/NAME.json, pyctr's <root>/networks/NAME.json)
is also the `network_info` entry netavark takes when it sets a container up, so the definition
is kept exactly in that shape and passed through as it is.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time

from pyctr.errors import InvalidArgument
from pyctr.values import value

DEFAULT_NAME = "pyctr"
DEFAULT_INTERFACE = "pyctr0"
DEFAULT_SUBNET = "10.88.0.0/16"
INTERFACE_PREFIX = "pyctr"
# New networks take the first free /24 of this pool, as podman's default_subnet_pools.
SUBNET_POOL = ("10.89.0.0/16", 24)
DRIVERS = ("bridge",)
BRIDGE_OPTIONS = ("mtu", "vlan", "isolate", "metric", "vrf")
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
# --network words that are modes, not networks (pyctr.container.flags.MODE_WORDS; bridge: the default one)
RESERVED_NAMES = ("bridge", "host", "none", "private", "slirp4netns", "pasta", "ns", "container")


@value
class Subnet:
    subnet: str
    gateway: str = ""
    lease_range: dict | None = None  # {"start_ip": .., "end_ip": ..}: where addresses are handed out

    def to_json(self) -> dict:
        out = {"subnet": self.subnet}
        if self.gateway:
            out["gateway"] = self.gateway
        if self.lease_range:  # in podman's order (the file on disk has sorted keys)
            out["lease_range"] = {"start_ip": self.lease_range["start_ip"], "end_ip": self.lease_range["end_ip"]}
        return out

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.subnet)


@value
class Network:
    name: str
    id: str
    driver: str
    interface: str
    created: str  # RFC 3339 with nanoseconds, as podman writes it
    subnets: list[Subnet]
    ipv6_enabled: bool = False
    internal: bool = False
    dns_enabled: bool = True
    labels: dict[str, str] | None = None
    options: dict[str, str] | None = None

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_NAME

    def to_json(self) -> dict:
        """podman's network file, which is also netavark's network_info."""
        out = {"name": self.name, "id": self.id, "driver": self.driver, "network_interface": self.interface,
               "created": self.created, "subnets": [s.to_json() for s in self.subnets],
               "ipv6_enabled": self.ipv6_enabled, "internal": self.internal, "dns_enabled": self.dns_enabled}
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.options:
            out["options"] = dict(self.options)
        out["ipam_options"] = {"driver": "host-local"}
        return out

    @classmethod
    def from_json(cls, obj: dict) -> "Network":
        return cls(name=obj["name"], id=obj["id"], driver=obj.get("driver", "bridge"),
                   interface=obj.get("network_interface", ""), created=obj.get("created", ""),
                   subnets=[Subnet(s["subnet"], s.get("gateway", ""), s.get("lease_range")) for s in obj.get("subnets") or []],
                   ipv6_enabled=bool(obj.get("ipv6_enabled")), internal=bool(obj.get("internal")),
                   dns_enabled=bool(obj.get("dns_enabled")), labels=obj.get("labels") or None,
                   options=obj.get("options") or None)


def network_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def created_now() -> str:
    from pyctr.units import rfc3339_nano

    return rfc3339_nano(ns=time.time_ns())


def default_network() -> Network:
    """The network of root containers that name none (podman's `podman` network): no DNS, as podman's."""
    return Network(DEFAULT_NAME, network_id(DEFAULT_NAME), "bridge", DEFAULT_INTERFACE, created_now(),
                   [Subnet(DEFAULT_SUBNET, "10.88.0.1")], dns_enabled=False)


@value
class CreateRequest:
    """What `network create` asks for (podman's options)."""

    name: str
    driver: str = "bridge"
    subnets: list[str] = None
    gateways: list[str] = None
    ip_ranges: list[str] = None
    internal: bool = False
    disable_dns: bool = False
    ipv6: bool = False
    labels: dict[str, str] = None
    options: dict[str, str] = None
    ipam_driver: str = ""


def build(request: CreateRequest, taken_subnets: list, taken_interfaces: set[str]) -> Network:
    """The new network's definition, checked: `taken_*` are what other networks and the host use."""
    name = request.name
    if not NAME_RE.match(name):
        raise InvalidArgument(f"network name {name} invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument")
    if name in RESERVED_NAMES:
        raise InvalidArgument(f'cannot create network with name "{name}" because it conflicts with a valid network mode')
    if request.driver not in DRIVERS:
        raise InvalidArgument(f"unsupported driver {request.driver}: invalid argument")
    if request.ipam_driver not in ("", "host-local"):
        raise InvalidArgument(f"unsupported ipam driver {request.ipam_driver!r}: pyctr assigns addresses itself (host-local)")
    options = dict(request.options or {})
    for key, val in options.items():
        if key not in BRIDGE_OPTIONS:
            raise InvalidArgument(f"unsupported bridge network option {key}")
        if key in ("mtu", "vlan", "metric") and not val.isdigit():
            raise InvalidArgument(f"invalid {key} value {val!r}: not a number")
    subnets = _subnets(request, taken_subnets)
    interface = next(f"{INTERFACE_PREFIX}{n}" for n in range(1, 1 << 16) if f"{INTERFACE_PREFIX}{n}" not in taken_interfaces)
    return Network(name, network_id(name + created_now()), request.driver, interface, created_now(), subnets,
                   ipv6_enabled=request.ipv6 or any(s.network.version == 6 for s in subnets),
                   internal=request.internal, dns_enabled=not request.disable_dns,
                   labels=dict(request.labels or {}) or None, options=options or None)


def _subnets(request: CreateRequest, taken: list) -> list[Subnet]:
    wanted, gateways, ranges = list(request.subnets or []), list(request.gateways or []), list(request.ip_ranges or [])
    if gateways and len(gateways) > len(wanted):
        raise InvalidArgument("cannot set more gateways than subnets")
    if ranges and len(ranges) > len(wanted):
        raise InvalidArgument("cannot set more ranges than subnets")
    result = []
    for index, text in enumerate(wanted):
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InvalidArgument(f'invalid CIDR address: {text}') from None
        if any(net.overlaps(other) for other in taken) or any(net.overlaps(s.network) for s in result):
            raise InvalidArgument(f"subnet {net} is already used on the host or by another config")
        gateway = gateways[index] if index < len(gateways) else ""
        if gateway:
            try:
                gw = ipaddress.ip_address(gateway)
            except ValueError:
                raise InvalidArgument(f"invalid gateway address {gateway!r}") from None
            if gw not in net:
                raise InvalidArgument(f"gateway {gateway} not in subnet {net}")
        else:
            gateway = str(next(net.hosts()))
        lease = _lease_range(ranges[index], net) if index < len(ranges) else None
        result.append(Subnet(str(net), gateway, lease))
    if not result:
        pool, prefix = SUBNET_POOL
        for candidate in ipaddress.ip_network(pool).subnets(new_prefix=prefix):
            if not any(candidate.overlaps(other) for other in taken):
                result.append(Subnet(str(candidate), str(next(candidate.hosts()))))
                break
        else:
            raise InvalidArgument(f"could not find a free subnet in {pool}: every /{prefix} is used")
    if request.ipv6 and not any(s.network.version == 6 for s in result):
        # As podman: a random unique local /64 (fd00::/8), the first address its gateway.
        import os

        candidate = ipaddress.ip_network((int.from_bytes(b"\xfd" + os.urandom(7), "big") << 64, 64))
        result.append(Subnet(str(candidate), str(candidate.network_address + 1)))
    return result


def _lease_range(text: str, net) -> dict:
    try:
        lease = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid CIDR address: {text}") from None
    if not lease.subnet_of(net):
        raise InvalidArgument(f"ip range {text} is not in subnet {net}")
    return {"start_ip": str(lease.network_address + 1), "end_ip": str(lease.broadcast_address)}
