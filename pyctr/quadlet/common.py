"""What the converters share: the command line they build, the checks of keys and values, and
the rules for references to other Quadlet files (`x.volume`, `x.network`)."""

from __future__ import annotations

import os
import re

from pyctr.quadlet.unitfile import Entry, UnitFile, UnitFileError, join_words, split_words

UNIT, SERVICE, INSTALL = "Unit", "Service", "Install"
CIDFILE = "%t/%N.cid"
PORT_RANGE = re.compile(r"^\d+(-\d+)?(/udp|/tcp|/sctp)?$")


class Context:
    """What a conversion needs beyond the file: the pyctr command to write into units, whether
    these are user units, and the names given to the volumes and networks of other files."""

    def __init__(self, pyctr: list[str], user: bool, resource_names: dict[str, str] | None = None):
        self.pyctr, self.user = pyctr, user
        self.resource_names = resource_names if resource_names is not None else {}


def check_keys(unit: UnitFile, group: str, supported: frozenset[str]) -> None:
    for entry in unit.entries(group):
        if entry.key not in supported:
            raise entry.error(f'unsupported key "{entry.key}" in group "{group}"')


def file_error(unit: UnitFile, message: str) -> UnitFileError:
    return UnitFileError(message, unit.path or unit.filename)


def base_name(filename: str) -> str:
    """`web.container` -> `web`."""
    stem, dot, _ = filename.rpartition(".")
    return stem if dot and stem else filename


def words(entry: Entry, unescape: bool = True) -> list[str]:
    try:
        return split_words(entry.value, unescape)
    except ValueError as exc:
        raise entry.error(str(exc)) from None


def all_words(unit: UnitFile, group: str, key: str, unescape: bool = True) -> list[str]:
    """A list key whose values are words (`AddCapability=CHOWN NET_RAW`, `PodmanArgs=...`)."""
    return [w for entry in unit.values(group, key) for w in words(entry, unescape)]


def key_values(unit: UnitFile, group: str, key: str) -> list[str]:
    """`Environment=A=1 "B=two words"` lines as KEY=VALUE words, sorted by key (the last one of a
    key wins), as quadlet does."""
    found: dict[str, str] = {}
    for entry in unit.values(group, key):
        for word in words(entry):
            name, _, value = word.partition("=")
            if not name:
                raise entry.error(f"invalid {key}: {word!r} (KEY=VALUE)")
            found[name] = value
    return [f"{name}={found[name]}" for name in sorted(found)]


def absolute(unit: UnitFile, path: str) -> str:
    """A path relative to the Quadlet file's directory."""
    if os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(os.path.dirname(unit.path) if unit.path else os.getcwd(), path))


def check_kill_mode(unit: UnitFile, service: UnitFile) -> None:
    """Only mixed (the default) or control-group: any other lets systemd kill the shim alone."""
    entry = unit.last(SERVICE, "KillMode")
    if entry is None:
        service.set(SERVICE, "KillMode", "mixed")
    elif entry.value not in ("mixed", "control-group"):
        raise entry.error(f'invalid KillMode "{entry.value}"')


def set_default(unit: UnitFile, service: UnitFile, key: str, value: str) -> None:
    if not unit.has(SERVICE, key):
        service.set(SERVICE, key, value)


def exec_line(ctx: Context, args: list[str], global_args: list[str] = ()) -> str:
    return join_words([*ctx.pyctr, *global_args, *args])


def reference(ctx: Context, unit: UnitFile, service: UnitFile, name: str, kind: str) -> str:
    """`x.volume` / `x.network`: the resource's name, and a dependency on the unit that makes it."""
    if not name.endswith(f".{kind}"):
        return name
    stem = base_name(name)
    unit_name = f"{stem}-{kind}.service"
    service.add(UNIT, "Requires", unit_name)
    service.add(UNIT, "After", unit_name)
    return ctx.resource_names.get(name, f"systemd-{stem}")


def add_networks(ctx: Context, unit: UnitFile, group: str, service: UnitFile, args: list[str]) -> None:
    for entry in unit.values(group, "Network"):
        name, colon, options = entry.value.partition(":")
        args.append(f"--network={reference(ctx, unit, service, name, 'network')}{colon}{options}")


def _split_port(spec: str) -> list[str]:
    """ip:host:container with an IPv6 ip in brackets kept whole."""
    parts, current, depth = [], [], 0
    for c in spec:
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
        if c == ":" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return parts


def add_published_ports(unit: UnitFile, group: str, args: list[str]) -> None:
    for entry in unit.values(group, "PublishPort"):
        parts = _split_port(entry.value.strip())
        if len(parts) > 3:
            raise entry.error(f'invalid published port "{entry.value}"')
        ip, host, container = ([""] * (3 - len(parts)) + parts)
        ip = "" if ip == "0.0.0.0" else ip
        for port in (host, container):
            if port and not PORT_RANGE.match(port):
                raise entry.error(f'invalid port format "{port}"')
        if not container:
            raise entry.error(f'invalid published port "{entry.value}"')
        args += ["--publish", f"{ip}:{host}:{container}" if ip else (f"{host}:{container}" if host else container)]


def add_user_remap(ctx: Context, unit: UnitFile, group: str, args: list[str], manual: bool) -> None:
    """RemapUsers= (podman 4.4's keys; UserNS= is the later, plainer way)."""
    entry = unit.last(group, "RemapUsers")
    uid_maps = all_words(unit, group, "RemapUid")
    gid_maps = all_words(unit, group, "RemapGid")
    mode = entry.value if entry is not None else ""
    if mode == "":
        for key, maps in (("RemapUid", uid_maps), ("RemapGid", gid_maps)):
            if maps:
                raise unit.last(group, key).error(f"{key} set without RemapUsers")
    elif mode == "manual" and manual:
        args += [f"--uidmap={m}" for m in uid_maps] + [f"--gidmap={m}" for m in gid_maps]
    elif mode == "keep-id":
        if not ctx.user:
            raise entry.error("RemapUsers=keep-id is unsupported for system units")
        args.append("--userns=keep-id")
    elif mode == "auto":
        raise entry.error("RemapUsers=auto needs --userns=auto, which pyctr has not built yet")
    else:
        raise entry.error(f'unsupported RemapUsers option "{mode}"')
    userns = unit.last(group, "UserNS")
    if userns is not None and userns.value:
        if mode:
            raise userns.error("UserNS and RemapUsers cannot be used together")
        args.append(f"--userns={userns.value}")


def service_for(unit: UnitFile, group: str, keys: frozenset[str], name: str) -> UnitFile:
    """The unit `name` that a Quadlet file becomes: its keys checked, its own groups passed on, its
    Quadlet group kept as X-GROUP (systemd ignores X- groups; the source stays readable), SourcePath,
    and the runtime state (%t/pyctr) mounted before it runs."""
    check_keys(unit, group, keys)
    service = unit.copy(name)
    service.rename_group(group, f"X-{group}")
    if unit.path:
        service.add(UNIT, "SourcePath", unit.path)
    service.add(UNIT, "RequiresMountsFor", "%t/pyctr")
    return service


def resource_unit(unit: UnitFile, group: str, service: UnitFile, ctx: "Context", args: list[str], name: str) -> UnitFile:
    """A .volume's or .network's unit: `args` with the file's labels, its PodmanArgs and the resource's
    name, run once (GlobalArgs before the command)."""
    for pair in key_values(unit, group, "Label"):
        args += ["--label", pair]
    args += all_words(unit, group, "PodmanArgs")
    args.append(name)
    service.add(SERVICE, "ExecStart", exec_line(ctx, args, all_words(unit, group, "GlobalArgs")))
    oneshot(unit, service)
    return service


def oneshot(unit: UnitFile, service: UnitFile) -> None:
    """A unit that makes a resource and is done: it stays active after its command exits."""
    service.set(SERVICE, "Type", "oneshot")
    service.set(SERVICE, "RemainAfterExit", "yes")
    # The default identifier would be the program's name (python): the unit's name says more.
    set_default(unit, service, "SyslogIdentifier", "%N")
