"""A container on bridge networks: its namespace, its addresses, and netavark's setup and teardown.

What was set up is recorded in the container's directory of the store (`network.json`: the netns,
netavark's options and its answer) before netavark runs and removed after teardown, so that a
crash at any point, or a reboot that emptied the runtime directory, still leaves enough behind to
undo it: after a reboot the namespace is gone, and teardown runs against a fresh one that is set up
again first, so that netavark finds what it deletes and then drops the bridge and its rules.
Every setup and teardown on the host runs under one lock (addresses are handed out under it, and
netavark's firewall changes are not safe against each other).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

from pyctr.linux.fsutil import atomic_write_json, locked, makedirs, read_json
from pyctr.network import hostports, ipam, linger, netavark, netns, rootlessns
from pyctr.network.config import DEFAULT_NAME, Network

RECORD = "network.json"


def run_dir(rootless: bool) -> Path:
    """Host-wide network state (addresses, aardvark-dns): a bridge is shared by every store on the host."""
    if not rootless:
        return Path("/run/pyctr/networks")
    from pyctr import config

    return config.runtime_dir() / "pyctr" / "networks"


def options(container_id: str, name: str, attachments: dict[str, dict], networks: dict[str, Network],
            addresses: dict[str, list[str]], ports: list) -> dict:
    """netavark's input: `attachments` name -> {aliases, interface_name, static_mac}; `ports`: PortMappings."""
    return {
        "container_id": container_id,
        "container_name": name,
        "port_mappings": [{"host_ip": p.host_ip, "container_port": p.container_port, "host_port": p.host_port,
                           "range": 1, "protocol": p.protocol} for p in ports],
        "networks": {net: {**{k: v for k, v in attachment.items() if v}, "static_ips": addresses[net],
                           # as podman: the short ID is a name too (on networks with DNS)
                           "aliases": list(dict.fromkeys([*attachment.get("aliases", []), container_id[:12]]))}
                     for net, attachment in attachments.items()},
        "network_info": {net: networks[net].to_json() for net in attachments},
    }


def setup(container_dir: Path, runroot: Path, *, container_id: str, name: str, attachments: dict[str, dict],
          networks: dict[str, Network], ports: list, rootless: bool) -> tuple[str, dict, list]:
    """Create the namespace and connect it: -> (netns path, netavark's status per network, the
    published ports' host sockets for the container's shim to hold (as root))."""
    if not rootless:  # rootless bridges live in the user's own namespace: the host's routes do not matter
        _check_routes(networks.values())
    if (container_dir / RECORD).exists():  # the last run's, never undone (a crash, a killed start)
        teardown(container_dir, runroot, container_id=container_id, rootless=rootless)
    state = run_dir(rootless)
    makedirs(state, 0o755)
    path = netns.create(netns.path_for(runroot, container_id))
    held = []
    try:
        with locked(state / "lock"):
            linger.sweep(state)
            owner = str(container_dir)
            held = hostports.reserve(state, owner, ports, hold=not rootless)  # rootless: slirp4netns binds them
            addresses = {net: ipam.allocate(state, networks[net], owner, attachments[net].get("static_ips", []))
                         for net in attachments}
            inside = rootlessns.ensure(state) if rootless else None
            # Rootless, a published port arrives at the rootless namespace's own address.
            forwarded = [replace(p, host_ip="") for p in ports] if rootless else ports
            record = {"netns": str(path), "options": options(container_id, name, attachments, networks, addresses,
                                                             forwarded), "boot": boot_id()}
            # Recorded first: whatever happens next, teardown knows what to undo.
            atomic_write_json(container_dir / RECORD, record)
            record["status"] = netavark.run("setup", str(path), record["options"], config_dir=state,
                                            rootless=rootless, inside=inside)
            if DEFAULT_NAME in networks and not rootless:
                linger.keep(networks[DEFAULT_NAME].interface)
            atomic_write_json(container_dir / RECORD, record)
            for port in ports if rootless else ():
                rootlessns.publish(state, port)
    except BaseException:
        for sock in held:
            sock.close()
        teardown(container_dir, runroot, container_id=container_id, rootless=rootless)
        raise
    return str(path), record["status"], held


def _check_routes(networks) -> None:
    """A subnet that the host already routes to another interface (another tool's bridge) would
    leave the container unreachable: say so instead."""
    from pyctr.network.store import host_routes

    routes = host_routes()
    for network in networks:
        for subnet in network.subnets:
            for destination, interface in routes:
                if interface != network.interface and destination.version == subnet.network.version \
                        and destination.overlaps(subnet.network):
                    raise netns.NetworkError(
                        f"subnet {subnet.subnet} of network {network.name} is already routed to {interface} on the host",
                        hint=f"remove {interface} if nothing uses it, or use a network with another --subnet")


def teardown(container_dir: Path, runroot: Path, *, container_id: str, rootless: bool) -> None:
    """Undo setup (whatever part of it happened); safe to call twice, and after a reboot."""
    record = read_json(container_dir / RECORD)
    path = netns.path_for(runroot, container_id)
    if record:
        state = run_dir(rootless)
        makedirs(state, 0o755)
        with locked(state / "lock"):
            opts = record["options"]
            # Rootless after a reboot, the user's namespace is gone with all that was in it.
            inside = rootlessns.current(state) if rootless else None
            for port in opts["port_mappings"] if inside else ():
                rootlessns.unpublish(state, port["protocol"], port["host_port"])
            # After a reboot nothing of the setup is left on the host (and its addresses and ports
            # may be another container's by now): only the record goes.
            rebooted = record.get("boot", boot_id()) != boot_id()
            if (inside or not rootless) and not rebooted:
                target = str(path) if netns.exists(path) else None
                with stand_in(opts, runroot, state, rootless, inside) if target is None \
                        else contextlib.nullcontext(target) as ns:
                    with contextlib.suppress(netns.NetworkError):  # partly set up: what is there goes
                        netavark.run("teardown", ns, opts, config_dir=state, rootless=rootless, inside=inside)
            for info in opts["network_info"].values():
                ipam.release(state, Network.from_json(info), str(container_dir))
            hostports.release(state, str(container_dir))
            (container_dir / RECORD).unlink(missing_ok=True)
            if rootless:
                rootlessns.release_if_unused(state)
            elif DEFAULT_NAME in opts["network_info"]:
                default = Network.from_json(opts["network_info"][DEFAULT_NAME])
                if not ipam.owners(state, default, live=True):
                    linger.idle(state, default)
    netns.remove(path)


def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def recorded(container_dir: Path) -> dict:
    """What is set up: {"netns": path, "options": netavark's input, "status": its answer per network
    (interfaces, dns_server_ips, ...)}; {} when nothing is."""
    return read_json(container_dir / RECORD) or {}


def network_ids(container_dir: Path) -> set[str]:
    """The IDs of the networks the container's setup connects it to."""
    return {info.get("id") for info in (recorded(container_dir).get("options") or {}).get("network_info", {}).values()}


def status(container_dir: Path) -> dict:
    return recorded(container_dir).get("status") or {}


def etc_names(container_dir: Path, order: list[str]) -> dict:
    """From netavark's answer: the IPv4 address on each network (in `order`), the first one's
    gateway, and the DNS servers and search domains of the networks with DNS."""
    answer = status(container_dir)
    result = {"addresses": [], "gateway": "", "dns_servers": [], "dns_search": []}
    for name in order:
        network = answer.get(name) or {}
        for interface in (network.get("interfaces") or {}).values():
            for subnet in interface.get("subnets") or []:
                address = subnet.get("ipnet", "").split("/")[0]
                if address and ":" not in address:
                    result["addresses"].append(address)
                    result["gateway"] = result["gateway"] or subnet.get("gateway", "")
        result["dns_servers"] += [s for s in network.get("dns_server_ips") or [] if s not in result["dns_servers"]]
        result["dns_search"] += [s for s in network.get("dns_search_domains") or [] if s not in result["dns_search"]]
    return result


@contextlib.contextmanager
def stand_in(opts: dict, runroot: Path, state: Path, rootless: bool, inside: str | None):
    """The container's namespace is gone (a reboot, a kill half-way): a fresh one, set up again
    with the same options, so that the teardown that follows finds everything it removes. A
    setup is idempotent on the host's side, and recreates a bridge that is gone, whose rules
    netavark would otherwise never remove."""
    path = netns.create(netns.path_for(runroot, opts["container_id"] + ".teardown"))
    try:
        with contextlib.suppress(netns.NetworkError):
            netavark.run("setup", str(path), opts, config_dir=state, rootless=rootless, inside=inside)
        yield str(path)
    finally:
        netns.remove(path)


def connect(container_dir: Path, *, container_id: str, network_name: str, attachment: dict, network: Network,
            rootless: bool) -> dict:
    """Connect a running container's namespace to one more network; -> netavark's status of it."""
    record = read_json(container_dir / RECORD)
    state = run_dir(rootless)
    with locked(state / "lock"):
        inside = rootlessns.current(state) if rootless else None
        addresses = ipam.allocate(state, network, str(container_dir), attachment.get("static_ips", []))
        opts = record["options"]
        one = options(container_id, opts["container_name"], {network_name: attachment}, {network_name: network},
                      {network_name: addresses}, [])
        one["port_mappings"] = opts["port_mappings"]  # the container's ports reach it on this network too
        opts["networks"].update(one["networks"])
        opts["network_info"].update(one["network_info"])
        atomic_write_json(container_dir / RECORD, record)
        try:
            answer = netavark.run("setup", record["netns"], one, config_dir=state, rootless=rootless, inside=inside)
        except BaseException:
            with contextlib.suppress(netns.NetworkError):
                netavark.run("teardown", record["netns"], one, config_dir=state, rootless=rootless, inside=inside)
            ipam.release(state, network, str(container_dir))
            _forget_network(record, network_name)
            atomic_write_json(container_dir / RECORD, record)
            raise
        record.setdefault("status", {}).update(answer)
        atomic_write_json(container_dir / RECORD, record)
    return answer


def disconnect(container_dir: Path, *, container_id: str, network_name: str, rootless: bool) -> None:
    """Take one network away from a running container (its interface, address and DNS names)."""
    record = read_json(container_dir / RECORD)
    if not record or network_name not in record["options"]["networks"]:
        return
    state = run_dir(rootless)
    with locked(state / "lock"):
        opts = record["options"]
        one = {"container_id": container_id, "container_name": opts["container_name"],
               "port_mappings": opts["port_mappings"],  # its forwards to the address that goes
               "networks": {network_name: opts["networks"][network_name]},
               "network_info": {network_name: opts["network_info"][network_name]}}
        with contextlib.suppress(netns.NetworkError):
            netavark.run("teardown", record["netns"], one, config_dir=state, rootless=rootless,
                         inside=rootlessns.current(state) if rootless else None)
        network = Network.from_json(opts["network_info"][network_name])
        ipam.release(state, network, str(container_dir))
        _forget_network(record, network_name)
        atomic_write_json(container_dir / RECORD, record)
        if network.is_default and not rootless and not ipam.owners(state, network, live=True):
            linger.idle(state, network)


def _forget_network(record: dict, name: str) -> None:
    for key in ("networks", "network_info"):
        record["options"][key].pop(name, None)
    (record.get("status") or {}).pop(name, None)


def reload(container_dir: Path, *, rootless: bool) -> None:
    """Set a running container's networks up again (its firewall rules after a flush): teardown
    and setup with the same addresses and MACs."""
    record = read_json(container_dir / RECORD)
    if not record or "status" not in record:
        return
    state = run_dir(rootless)
    opts = record["options"]
    for name, answer in record["status"].items():
        for interface in (answer.get("interfaces") or {}).values():
            if interface.get("mac_address") and name in opts["networks"]:
                opts["networks"][name].setdefault("static_mac", interface["mac_address"])
    with locked(state / "lock"):
        inside = rootlessns.current(state) if rootless else None
        with contextlib.suppress(netns.NetworkError):
            netavark.run("teardown", record["netns"], opts, config_dir=state, rootless=rootless, inside=inside)
        record["status"] = netavark.run("setup", record["netns"], opts, config_dir=state, rootless=rootless,
                                        inside=inside)
        atomic_write_json(container_dir / RECORD, record)
