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


MAX_HELD = 200  # sockets a shim holds (one SCM_RIGHTS message carries at most 253 fds)


def reserve(state: Path, owner: str, ports: list, *, hold: bool = False) -> list[socket.socket]:
    """Claim `ports` (PortMappings) for the container `owner`, or raise NetworkError naming who has one.
    `hold`: the host sockets, bound (and listening, for TCP), for the container's shim to keep
    (as root, where a published port is only a firewall rule); else they are only probed."""
    held = {k: v for k, v in (read_json(state / "ports.json") or {}).items() if v != owner and ipam.has_network(v)}
    sockets: list[socket.socket] = []
    hold = hold and len(ports) <= MAX_HELD
    try:
        for port in ports:
            _claim(port, owner, held, sockets, hold)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    if ports:
        atomic_write_json(state / "ports.json", held)
    return sockets


def _claim(port, owner: str, held: dict, sockets: list, hold: bool) -> None:
    key = _key(port)
    clash = [k for k in held if k.split("/")[0] == port.protocol and k.rsplit(":", 1)[1] == str(port.host_port)
             and (k == key or "0.0.0.0" in (k.split("/")[1].rsplit(":", 1)[0], port.host_ip or "0.0.0.0"))]
    if clash:  # podman's words (its conmon holds the port), and which container has it
        raise NetworkError(f"cannot listen on the {port.protocol.upper()} port: listen {port.protocol}4 "
                           f"{port.host_ip}:{port.host_port}: bind: address already in use",
                           hint=f"container {os.path.basename(held[clash[0]])[:12]} publishes it")
    held[key] = owner
    if port.protocol == "sctp":
        return  # (the kernel's sctp may not be loaded: neither probed nor held)
    family = socket.AF_INET6 if ":" in port.host_ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM if port.protocol == "tcp" else socket.SOCK_DGRAM)
    try:
        if port.protocol == "tcp":  # as Go's listeners: a port in TIME_WAIT is free
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((port.host_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port.host_port))
        if port.protocol == "tcp":
            sock.listen(1)
    except OSError as exc:
        sock.close()
        raise NetworkError(f"cannot listen on the {port.protocol.upper()} port: listen {port.protocol}4 "
                           f"{port.host_ip}:{port.host_port}: bind: {exc.strerror.lower()}") from None
    if hold:
        sockets.append(sock)
    else:
        sock.close()


def release(state: Path, owner: str) -> None:
    held = read_json(state / "ports.json") or {}
    kept = {k: v for k, v in held.items() if v != owner}
    if kept != held:
        atomic_write_json(state / "ports.json", kept)


def held(state: Path) -> list:
    """The ports held for containers that still have their network (PortMappings)."""
    from pyctr.container.spec import PortMapping

    result = []
    for key, owner in (read_json(state / "ports.json") or {}).items():
        if ipam.has_network(owner):
            protocol, _, address = key.partition("/")
            host_ip, _, port = address.rpartition(":")
            result.append(PortMapping(int(port), int(port), protocol, "" if host_ip == "0.0.0.0" else host_ip))
    return result
