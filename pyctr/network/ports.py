"""`-p [IP:]HOSTPORT:CONTAINERPORT[/PROTO]` as docker and podman users write it."""

from __future__ import annotations

from pyctr.errors import InvalidArgument


def parse_publish(text: str) -> dict:
    spec, _, proto = text.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp"):
        raise InvalidArgument(f"invalid port {text!r}: protocol must be tcp or udp")
    parts = spec.rsplit(":", 2)
    if len(parts) == 3:
        host_ip, host_port, ctr_port = parts
        host_ip = host_ip.strip("[]")
        import ipaddress

        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise InvalidArgument(f"invalid port {text!r}: {host_ip!r} is not an IP address") from None
    elif len(parts) == 2:
        host_ip, (host_port, ctr_port) = "", parts
    else:
        raise InvalidArgument(f"invalid port {text!r}: expected HOSTPORT:CONTAINERPORT (a host port is required)")
    return {"host_ip": host_ip, "host_port": _port(host_port, text), "container_port": _port(ctr_port, text), "protocol": proto}


def _port(value: str, text: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise InvalidArgument(f"invalid port {text!r}: {value!r} is not a port number")
    return int(value)


def describe(ports: list[dict]) -> str:
    """`0.0.0.0:8080->80/tcp`, as ps shows published ports."""
    return ", ".join(f"{p['host_ip'] or '0.0.0.0'}:{p['host_port']}->{p['container_port']}/{p['protocol']}" for p in ports)
