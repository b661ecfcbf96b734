"""Host ports of bridge containers, held host-wide (ports.json in the network state directory).

As root a published port is a firewall rule, which never fails on a port in use: the port is
checked here against the other containers (ports.json: port -> the container's directory) and
against the host's own listeners. Callers hold the network lock (pyctr.network.bridge).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pyctr.linux.fsutil import atomic_write_json, read_json
from pyctr.network import ipam
from pyctr.network.netns import NetworkError


def _key(port) -> str:
    return f"{port.protocol}/{port.host_ip or '0.0.0.0'}:{port.host_port}"


def reserve(state: Path, owner: str, ports: list) -> None:
    """Hold `ports` (PortMappings) for the container `owner`, or raise NetworkError naming who has one."""
    held = {k: v for k, v in (read_json(state / "ports.json") or {}).items() if v != owner and ipam.has_network(v)}
    for port in ports:
        key = _key(port)
        clash = [k for k in held if k.split("/")[0] == port.protocol and k.rsplit(":", 1)[1] == str(port.host_port)
                 and (k == key or "0.0.0.0" in (k.split("/")[1].rsplit(":", 1)[0], port.host_ip or "0.0.0.0"))]
        if clash:
            raise NetworkError(f"cannot listen on the {port.protocol.upper()} port: {key}: "
                               f"address already in use by container {os.path.basename(held[clash[0]])[:12]}")
        family = socket.AF_INET6 if ":" in port.host_ip else socket.AF_INET
        kind = socket.SOCK_STREAM if port.protocol == "tcp" else socket.SOCK_DGRAM
        with socket.socket(family, kind) as probe:
            try:
                probe.bind((port.host_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port.host_port))
            except OSError as exc:
                raise NetworkError(f"cannot listen on the {port.protocol.upper()} port: listen {port.protocol}4 "
                                   f"{port.host_ip}:{port.host_port}: bind: {exc.strerror.lower()}") from None
        held[key] = owner
    if ports:
        atomic_write_json(state / "ports.json", held)


def release(state: Path, owner: str) -> None:
    held = read_json(state / "ports.json") or {}
    kept = {k: v for k, v in held.items() if v != owner}
    if kept != held:
        atomic_write_json(state / "ports.json", kept)
