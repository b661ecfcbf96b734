"""podman's flag syntaxes (`-p 8080:80`, `--restart on-failure:3`, `-e KEY`, ...) turned into spec values.

Shared by every front end that takes podman-style strings; a front end with
structured input (JSON) builds the spec directly. Pure: no store, no image.
"""

from __future__ import annotations

import os
import re

from pyctr.container.spec import Device, NetworkAttachment, PortMapping, RestartPolicy, valid_device_permissions
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


def _setting_lines(path: str, error: str) -> list[str]:
    """The lines of an --env-file or --label-file, without blanks and comments; `error` is podman's
    message for a file that cannot be read ({path} and {reason} filled in)."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise InvalidArgument(error.format(path=path, reason=(exc.strerror or str(exc)).lower())) from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def env_file_lines(path: str) -> list[str]:
    """The `KEY=VALUE` (or `KEY`) lines of an --env-file."""
    return _setting_lines(path, 'parsing env file "{path}": open {path}: {reason}')


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


GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
            "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def security_options(items: list[str], security) -> None:
    """--security-opt as podman 4.3.1 reads it, into `security` (a SecuritySpec): no-new-privileges[=BOOL],
    seccomp=unconfined|FILE, mask=PATHS, unmask=PATHS|ALL, systempaths=unconfined, proc-opts=OPTS,
    apparmor=PROFILE, label=OPT; docker's KEY:VALUE too. The host's part (AppArmor, SELinux) is checked
    with the spec (pyctr.container.securityopts)."""
    for item in items:
        if item == "no-new-privileges":
            security.no_new_privileges = True
            continue
        key, sep, value = (item if "=" in item else item.replace(":", "=", 1)).partition("=")
        if not sep:
            raise InvalidArgument(f'invalid --security-opt 1: "{item}"')
        if key == "no-new-privileges":
            if value not in GO_BOOLS:
                raise InvalidArgument(f'invalid --security-opt 2: "{item}"')
            security.no_new_privileges = GO_BOOLS[value]
        elif key == "seccomp":
            security.seccomp = value if value in ("unconfined", "") else os.path.abspath(value)
            security.seccomp = security.seccomp or "default"
        elif key == "mask":
            security.mask += [path for path in value.split(":") if path]
        elif key == "unmask":
            # ALL only as the whole value (podman's reading); within a list it names no path
            security.unmask += ["ALL"] if value == "ALL" else [path for path in value.split(":") if path and path != "ALL"]
        elif key == "systempaths":
            if value != "unconfined":
                raise InvalidArgument(f'invalid systempaths option "{value}", only `unconfined` is supported')
            security.unmask += ["ALL"]
        elif key == "proc-opts":
            security.proc_opts = [option for option in value.split(",") if option]  # the last one counts
        elif key == "apparmor":
            security.apparmor = value
        elif key == "label":
            security.labels += [value] if value else []
        else:
            raise InvalidArgument(f'invalid --security-opt 2: "{item}"')


def restart_policy(text: str | None) -> RestartPolicy:
    """--restart no|on-failure[:MAX]|always|unless-stopped."""
    name, _, count = (text or "no").partition(":")
    if count and (name != "on-failure" or not count.isdigit()):
        raise InvalidArgument(f"invalid restart policy {text!r}: expected no, on-failure[:MAX], always or unless-stopped")
    return RestartPolicy(name, int(count) if count else 0)


def size(text: str | None, what: str | None = None) -> int | None:
    """`64m`, `1g`, `512k`, `1048576` -> bytes; `what` names the option in the error (podman's text)."""
    if text is None:
        return None
    text = text.strip().lower()
    try:
        if text.endswith("b") and len(text) > 1 and text[-2] in SIZE_UNITS:
            text = text[:-1]  # 1mb, as docker writes it
        if text and text[-1] in SIZE_UNITS:
            return int(float(text[:-1]) * SIZE_UNITS[text[-1]])
        return int(text)
    except ValueError:
        if what:
            raise InvalidArgument(f"invalid value for {what}: invalid size: {text!r}") from None
        raise InvalidArgument(f"invalid size {text!r}") from None


def log_max_size(options: list[str]) -> int | None:
    """The max-size of `--log-opt NAME=VALUE` options (podman's units: 10k is 10000, 1Ki 1024);
    podman takes other names (tag, path) and so do we, without effect."""
    result = None
    for option in options:
        name, sep, text = option.partition("=")
        if not sep:
            raise InvalidArgument(f'invalid log option "{option}"')  # podman's words
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


def supplementary_groups(items: list[str]) -> list[str]:
    """--group-add GID|NAME|keep-groups, as given: names are looked up in the image at start."""
    for group in items:
        if not group or ":" in group or "\n" in group:
            raise InvalidArgument(f"invalid --group-add {group!r}: a group ID, a group name or keep-groups")
    return list(items)


def publish(text: str) -> list[PortMapping]:
    """`-p [[IP:][HOSTPORT]:]CONTAINERPORT[/PROTO]`, each port also a range (`8000-8005:80-85`); a host
    port left out (`80`, `127.0.0.1::80`) is 0: a free one is chosen at create, as podman's."""
    spec, _, proto = text.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid port {text!r}: protocol must be tcp, udp or sctp")
    host_ip, host_ports = "", ""
    if spec.startswith("["):  # [IPv6]:HOST:CONTAINER
        address, _, spec = spec[1:].partition("]")
        host_ip, spec = address, spec.lstrip(":")
        host_ports, _, ctr_ports = spec.rpartition(":")
    else:
        parts = spec.split(":")
        if len(parts) > 3:
            raise InvalidArgument(f"invalid port {text!r}: expected [[IP:][HOSTPORT]:]CONTAINERPORT")
        ctr_ports = parts[-1]
        host_ports = parts[-2] if len(parts) >= 2 else ""
        host_ip = parts[0] if len(parts) == 3 else ""
    if host_ip:
        import ipaddress

        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise InvalidArgument(f"invalid port {text!r}: {host_ip!r} is not an IP address") from None
    containers = _port_range(ctr_ports, text)
    hosts = _port_range(host_ports, text) if host_ports else [0] * len(containers)
    if len(hosts) != len(containers):
        raise InvalidArgument(f"invalid port {text!r}: host and container port ranges differ in size")
    return [PortMapping(h, c, proto, host_ip) for h, c in zip(hosts, containers)]


def _port_range(value: str, text: str) -> list[int]:
    first, dash, last = value.partition("-")
    start = _port(first, text)
    end = _port(last, text) if dash else start
    if end < start:
        raise InvalidArgument(f"invalid port {text!r}: the range {value} ends before it starts")
    return list(range(start, end + 1))


def _port(value: str, text: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise InvalidArgument(f"invalid port {text!r}: {value!r} is not a port number")
    return int(value)


# --network words that choose a mode rather than name a network; podman's `pasta` is slirp4netns
# here, and `private` is the default (bridge as root, slirp4netns rootless), as podman's.
MODE_WORDS = {"none": "none", "host": "host", "private": None, "slirp4netns": "slirp4netns", "pasta": "slirp4netns"}


def networks(values: list[str], *, ip: str | None = None, ip6: str | None = None, mac: str | None = None,
             aliases: list[str] = ()) -> tuple[str | None, list[NetworkAttachment]]:
    """--network (repeated: NAME[:ip=IP,mac=MAC,alias=NAME,interface_name=NAME], bridge, or one mode)
    and the per-network flags -> (mode, the networks to join)."""
    mode, attachments = None, []
    for text in values:
        word = text.split(":", 1)[0]
        if word in MODE_WORDS or word in ("ns", "container"):
            if len(values) > 1:
                raise InvalidArgument(f"cannot set multiple networks without bridge network mode, selected mode {word}: invalid argument")
            mode = MODE_WORDS.get(word, text)
            if word == "slirp4netns" and text != word:
                raise InvalidArgument(f"--network {text}: slirp4netns options are not supported")
            continue
        mode = "bridge"
        attachments.append(_attachment(text))
    if len(attachments) > 1 and (ip or ip6 or mac):
        option = "--ip" if ip else "--ip6" if ip6 else "--mac-address"
        raise InvalidArgument(f"{option} can only be set for a single network: invalid argument")
    for option, given in (("--network-alias", aliases), ("--ip", ip), ("--ip6", ip6), ("--mac-address", mac)):
        if given and mode not in (None, "bridge"):
            raise InvalidArgument(f"{option} can only be set when the network mode is bridge: invalid argument")
    if (ip or ip6 or mac or aliases) and not attachments:
        attachments.append(NetworkAttachment())
    if attachments:
        first = attachments[0]
        first.ips += [a for a in (ip, ip6) if a]
        first.mac = mac or first.mac
    for attachment in attachments:  # as podman: the aliases are the container's on every network
        attachment.aliases = list(dict.fromkeys(attachment.aliases + list(aliases)))
    return mode, attachments


def _attachment(text: str) -> NetworkAttachment:
    name, _, opts = text.partition(":")
    attachment = NetworkAttachment("" if name == "bridge" else name)
    for item in filter(None, opts.split(",")):
        key, sep, val = item.partition("=")
        if not sep or key not in ("ip", "ip6", "mac", "alias", "interface_name"):
            raise InvalidArgument(f"unknown bridge network option: {key}")
        if key in ("ip", "ip6"):
            attachment.ips.append(val)
        elif key == "mac":
            attachment.mac = val
        elif key == "alias":
            attachment.aliases.append(val)
        else:
            attachment.interface = val
    return attachment


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


def not_built(params: dict) -> None:
    """Options of podman's whose machinery pyctr does not have yet: one clear error, never ignored."""
    if params.get("init_ctr") and not pod(params.get("pod"), params.get("pod_id_file")):
        raise InvalidArgument("must specify pod value with init-ctr")
    if params.get("init_ctr"):
        raise InvalidArgument(f"--init-ctr {params['init_ctr']}: init containers of pods are not built yet")


def pod(name: str | None, id_file: str | None) -> str:
    """--pod NAME|new:NAME, or --pod-id-file (the pod's ID, written by `pod create --pod-id-file`)."""
    if name and id_file:
        raise InvalidArgument("cannot specify both --pod and --pod-id-file")
    if id_file:
        try:
            with open(id_file) as f:
                return f.read().strip()
        except OSError as exc:
            raise InvalidArgument(f"reading pod ID file: {exc}") from None
    return name or ""


def platform(text: str | None, os_: str | None, arch: str | None, variant: str | None) -> str | None:
    """--platform OS/ARCH[/VARIANT], with --os, --arch and --variant overriding its parts."""
    if not (os_ or arch or variant):
        return text
    parts = (text or "").split("/") if text else []
    import platform as host

    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(host.machine(), host.machine())
    current = (parts + ["", "", ""])[:3]
    chosen = [os_ or current[0] or "linux", arch or current[1] or machine, variant or current[2]]
    return "/".join(chosen if chosen[2] else chosen[:2])


def throttle_rate(item: str) -> str:
    """DEVICE:RATE of --device-read/write-bps, the rate in bytes (1mb -> 1048576)."""
    path, sep, rate = item.rpartition(":")
    if not sep or not path:
        raise InvalidArgument(f"bad format: {item}")
    try:
        number = size(rate)
    except InvalidArgument:
        raise InvalidArgument(f"invalid rate for device: {item}. The correct format is <device-path>:<number>[<unit>]. "
                              "Number must be a positive integer. Unit is optional and can be kb, mb, or gb") from None
    return f"{path}:{number}"


def cgroup_conf(items: list[str]) -> dict[str, str]:
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument("--cgroup-conf must be formatted KEY=VALUE")
        result[key] = value
    return result


def expose(items: list[str]) -> list[str]:
    """--expose PORT[-PORT][/PROTO] -> ["PORT/PROTO", ...]."""
    result = []
    for item in items:
        ports, _, proto = item.partition("/")
        first, dash, last = ports.partition("-")
        for number in (first, last) if dash else (first,):
            if not number.isdigit() or not 0 < int(number) < 65536:
                raise InvalidArgument(f"invalid range format for --expose: {item}: {number!r} is not a port number")
        if dash and int(last) < int(first):
            raise InvalidArgument(f"invalid range format for --expose: {item}: Invalid range specified for the Port: {ports}")
        result += [f"{n}/{proto or 'tcp'}" for n in range(int(first), int(last or first) + 1)]
    return result


def sysctls(items: list[str]) -> dict[str, str]:
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"{item} is invalid, sysctl values must be in the form of KEY=VALUE")
        result[key.strip()] = value
    return result


def label_file_lines(path: str) -> list[str]:
    """The KEY=VALUE lines of a --label-file."""
    return _setting_lines(path, "unable to process labels: open {path}: {reason}")


def requires(items: list[str]) -> list[str]:
    """--requires A,B and --requires A --requires B."""
    return [name for item in items for name in item.split(",") if name]


ATTACH_STREAMS = ("stdin", "stdout", "stderr")


def attach_streams(items: list[str]) -> tuple[str, ...]:
    """-a STREAM (repeatable): which of the container's streams an attached run shows."""
    for item in items:
        if item.lower() not in ATTACH_STREAMS:
            raise InvalidArgument(f"invalid stream \"{item}\" for --attach - must be one of stdin, stdout, or stderr: invalid argument")
    return tuple(item.lower() for item in items)
