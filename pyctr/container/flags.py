"""podman's flag syntaxes (`-p 8080:80`, `--restart on-failure:3`, `-e KEY`, ...) turned into spec values.

Shared by every front end that takes podman-style strings; a front end with
structured input (JSON) builds the spec directly. Pure: no store, no image.
"""

from __future__ import annotations

import os
import re

from pyctr.container.spec import Device, PortMapping, RestartPolicy, valid_device_permissions
from pyctr.errors import InvalidArgument

SIZE_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def key_values(items: list[str], what: str) -> dict[str, str]:
    """`KEY=VALUE` items (labels, annotations); a bare KEY has an empty value."""
    result = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what} {item!r}: expected KEY=VALUE")
        result[key] = value
    return result


def env_file_lines(path: str) -> list[str]:
    """The `KEY=VALUE` (or `KEY`) lines of an --env-file, without blanks and comments."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise InvalidArgument(f"reading env file {path}: {exc.strerror}") from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def environment(items: list[str], caller_env: dict[str, str] | None = None) -> dict[str, str]:
    """`-e KEY=VALUE`; `-e KEY` copies KEY from the caller's environment (skipped when unset); `-e PREFIX*` copies all of those."""
    caller_env = os.environ if caller_env is None else caller_env
    result: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid environment variable {item!r}")
        if eq:
            result[key] = value
        elif key.endswith("*"):
            result.update({k: v for k, v in caller_env.items() if k.startswith(key[:-1])})
        elif key in caller_env:
            result[key] = caller_env[key]
    return result


def entrypoint(text: str | None) -> list[str] | None:
    """--entrypoint as podman reads it: a JSON list gives several words, any other string one word, "" clears."""
    if text is None:
        return None
    if not text.lstrip().startswith("["):
        return [text] if text else []
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"invalid --entrypoint {text!r}: {exc}") from exc
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"invalid --entrypoint {text!r}: expected a JSON list of strings")
    return value


def security_options(items: list[str]) -> tuple[bool, str]:
    """--security-opt no-new-privileges[:true|false], seccomp=unconfined|FILE -> (no_new_privileges, seccomp)."""
    no_new_privileges, seccomp = False, "default"
    for item in items:
        if item.startswith("no-new-privileges"):
            key, sep, value = item.replace(":", "=", 1).partition("=")
        else:
            key, sep, value = item.partition("=")
        if key == "no-new-privileges":
            no_new_privileges = value.lower() != "false" if sep else True
        elif key == "seccomp":
            if not value:
                raise InvalidArgument("--security-opt seccomp needs a value: unconfined or a profile file")
            seccomp = value if value == "unconfined" else os.path.abspath(value)
        elif key in ("label", "apparmor", "mask", "unmask", "proc-opts"):
            continue  # accepted for podman compatibility; nothing to do on this host
        else:
            raise InvalidArgument(f"invalid --security-opt {item!r}")
    return no_new_privileges, seccomp


def restart_policy(text: str | None) -> RestartPolicy:
    """--restart no|on-failure[:MAX]|always|unless-stopped."""
    name, _, count = (text or "no").partition(":")
    if count and (name != "on-failure" or not count.isdigit()):
        raise InvalidArgument(f"invalid restart policy {text!r}: expected no, on-failure[:MAX], always or unless-stopped")
    return RestartPolicy(name, int(count) if count else 0)


def size(text: str | None) -> int | None:
    """`64m`, `1g`, `512k`, `1048576` -> bytes."""
    if text is None:
        return None
    text = text.strip().lower()
    try:
        if text and text[-1] in SIZE_UNITS:
            return int(float(text[:-1]) * SIZE_UNITS[text[-1]])
        return int(text)
    except ValueError:
        raise InvalidArgument(f"invalid size {text!r}") from None


def log_max_size(options: list[str]) -> int | None:
    """The max-size of `--log-opt NAME=VALUE` options (podman's units: 10k is 10000, 1Ki 1024);
    podman takes other names (tag, path) and so do we, without effect."""
    result = None
    for option in options:
        name, sep, text = option.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid log option {option!r}: expected NAME=VALUE")
        if name.strip() != "max-size":
            continue
        if text.strip() == "-1":
            result = -1
            continue
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:([kmgtp])(i?))?b?\s*", text, re.IGNORECASE)
        if not match:
            raise InvalidArgument(f"invalid size: {text!r}")
        power = "kmgtp".index(match.group(2).lower()) + 1 if match.group(2) else 0
        result = int(float(match.group(1)) * (1024 if match.group(3) else 1000) ** power)
    return result


def group_ids(items: list[str]) -> list[int]:
    for group in items:
        if not group.isdigit():
            raise InvalidArgument(f"--group-add {group!r}: give a numeric group ID")
    return [int(g) for g in items]


def publish(text: str) -> PortMapping:
    """`-p [IP:]HOSTPORT:CONTAINERPORT[/PROTO]`."""
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
    return PortMapping(_port(host_port, text), _port(ctr_port, text), proto, host_ip)


def _port(value: str, text: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise InvalidArgument(f"invalid port {text!r}: {value!r} is not a port number")
    return int(value)


def network_mode(text: str | None) -> str | None:
    """--network as podman users write it; `bridge` is loopback only until bridge networks exist, `pasta` is slirp4netns."""
    return {"bridge": "private", "pasta": "slirp4netns"}.get(text, text) if text is not None else None


def device(text: str) -> Device:
    """`--device HOST[:CONTAINER][:PERMISSIONS]`: a lone second part is the permissions when it reads as
    such (`/dev/zero:r`), else the container's path; a relative host path is taken from here."""
    parts = text.split(":")
    if len(parts) > 3 or not parts[0]:
        raise InvalidArgument(f"invalid device specification: {text} (expected HOST[:CONTAINER][:PERMISSIONS])")
    source, destination, permissions = os.path.abspath(parts[0]), "", "rwm"
    if len(parts) == 2 and valid_device_permissions(parts[1]):
        permissions = parts[1]
    elif len(parts) >= 2:
        destination = parts[1]
        if not destination.startswith("/"):
            raise InvalidArgument(f"invalid device mode: {destination} (some of r, w and m)" if len(parts) == 2 else
                                  f"invalid device specification: {text} (the container's path must be absolute)")
        if len(parts) == 3:
            permissions = parts[2]
            if not valid_device_permissions(permissions):
                raise InvalidArgument(f"invalid device mode: {permissions} (some of r, w and m)")
    return Device(source, destination, permissions)
