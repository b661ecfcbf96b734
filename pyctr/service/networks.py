"""networks: create, list, inspect, connect, disconnect, DELETE, prune (Docker's shapes)."""

from __future__ import annotations

from aiohttp import web

from pyctr.errors import InvalidArgument
from pyctr.service.app import call, engine, filters, raise_first, reply


def document(eng, network, containers: bool = True) -> dict:
    """Docker's network resource for an engine network (a blocking call: its users are read)."""
    config = [{"Subnet": s.subnet, **({"Gateway": s.gateway} if s.gateway else {})} for s in network.subnets]
    users = {}
    if containers:
        for record in eng.networks.users(network):
            users[record.id] = {"Name": record.name, "EndpointID": "", "MacAddress": "", "IPv4Address": "",
                                "IPv6Address": ""}
    return {"Name": "bridge" if network.is_default else network.name, "Id": network.id, "Created": network.created,
            "Scope": "local", "Driver": network.driver, "EnableIPv6": network.ipv6_enabled,
            "IPAM": {"Driver": "default", "Options": None, "Config": config}, "Internal": network.internal,
            "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
            "Containers": users, "Options": dict(network.options or {}), "Labels": dict(network.labels or {})}


def _name(text: str) -> str:
    """Docker's default network is "bridge"; ours is podman's."""
    from pyctr.network.config import DEFAULT_NAME

    return DEFAULT_NAME if text == "bridge" else text


async def list_networks(request: web.Request) -> web.Response:
    eng = engine(request)

    def rows():
        return [document(eng, n, containers=False) for n in eng.networks.list(filters=filters(request) or None)]

    return reply(await call(rows))


async def inspect(request: web.Request) -> web.Response:
    eng = engine(request)

    def one():
        return document(eng, eng.networks.get(_name(request.match_info["id"])))

    return reply(await call(one))


async def create(request: web.Request) -> web.Response:
    from pyctr.network.config import CreateRequest

    body = await request.json()
    if not body.get("Name"):
        raise InvalidArgument("network name is required")
    config = (body.get("IPAM") or {}).get("Config") or []
    driver = body.get("Driver") or "bridge"
    if driver != "bridge":
        raise InvalidArgument(f"network driver {driver!r} is not supported: bridge only")
    wanted = CreateRequest(body["Name"], subnets=[c["Subnet"] for c in config if c.get("Subnet")] or None,
                           gateways=[c["Gateway"] for c in config if c.get("Gateway")] or None,
                           ip_ranges=[c["IPRange"] for c in config if c.get("IPRange")] or None,
                           internal=bool(body.get("Internal")), ipv6=bool(body.get("EnableIPv6")),
                           labels=dict(body.get("Labels") or {}) or None, options=dict(body.get("Options") or {}) or None)
    network = await call(engine(request).networks.create, wanted, ignore=not body.get("CheckDuplicate", True))
    return reply({"Id": network.id, "Warning": ""}, status=201)


async def remove(request: web.Request) -> web.Response:
    raise_first(await call(engine(request).networks.remove, [_name(request.match_info["id"])]))
    return web.Response(status=204)


async def connect(request: web.Request) -> web.Response:
    body = await request.json()
    endpoint = body.get("EndpointConfig") or {}
    ipam = endpoint.get("IPAMConfig") or {}
    await call(engine(request).networks.connect, _name(request.match_info["id"]), body.get("Container", ""),
               aliases=list(endpoint.get("Aliases") or []),
               ips=[ip for ip in (ipam.get("IPv4Address"), ipam.get("IPv6Address")) if ip])
    return web.Response(status=200)


async def disconnect(request: web.Request) -> web.Response:
    body = await request.json()
    await call(engine(request).networks.disconnect, _name(request.match_info["id"]), body.get("Container", ""),
               force=bool(body.get("Force")))
    return web.Response(status=200)


async def prune(request: web.Request) -> web.Response:
    removed = await call(engine(request).networks.prune, filters=filters(request) or None)
    return reply({"NetworksDeleted": removed or None})


ROUTES = [
    ("GET", "/networks", list_networks), ("GET", "/networks/json", list_networks),
    ("POST", "/networks/create", create), ("POST", "/networks/prune", prune),
    ("GET", "/networks/{id}", inspect), ("DELETE", "/networks/{id}", remove),
    ("POST", "/networks/{id}/connect", connect), ("POST", "/networks/{id}/disconnect", disconnect),
]
