"""`--change` of commit and import: Dockerfile instructions applied to an image config's `config`
section (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)."""

from __future__ import annotations

import json
import shlex

from pyctr.errors import InvalidArgument

INSTRUCTIONS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")


def _json_or_shell(value: str) -> list[str]:
    """Exec form (a JSON array) as is; shell form through /bin/sh -c."""
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            return parsed
    return ["/bin/sh", "-c", value]


def _pairs(value: str, change: str) -> list[tuple[str, str]]:
    """KEY=VALUE pairs (quotes allowed), or the old `KEY VALUE` form."""
    words = shlex.split(value)
    if words and "=" not in words[0]:
        key, _, rest = value.partition(" ")
        return [(key, rest.strip())]
    pairs = []
    for word in words:
        key, sep, val = word.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"invalid change {change!r}: expected KEY=VALUE")
        pairs.append((key, val))
    return pairs


def apply(config: dict, changes: list[str]) -> dict:
    """`config` (the image config's `config` object) with `changes` applied; a new dict."""
    out = json.loads(json.dumps(config or {}))
    for change in changes:
        instruction, _, value = change.strip().partition(" ")
        if "=" in instruction and instruction.partition("=")[0].upper() in INSTRUCTIONS:  # podman also takes INSTRUCTION=VALUE
            instruction, _, value = change.strip().partition("=")
        instruction, value = instruction.upper(), value.strip()
        if instruction not in INSTRUCTIONS:
            raise InvalidArgument(f"invalid change {change!r}: {instruction or 'empty'} is not one of {', '.join(INSTRUCTIONS)}")
        if not value:
            raise InvalidArgument(f"invalid change {change!r}: {instruction} needs a value")
        if instruction == "CMD":
            out["Cmd"] = _json_or_shell(value)
        elif instruction == "ENTRYPOINT":
            out["Entrypoint"] = _json_or_shell(value)
        elif instruction == "ENV":
            env = [e for e in out.get("Env") or []]
            for key, val in _pairs(value, change):
                env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={val}"]
            out["Env"] = env
        elif instruction == "LABEL":
            labels = dict(out.get("Labels") or {})
            labels.update(_pairs(value, change))
            out["Labels"] = labels
        elif instruction == "EXPOSE":
            ports = dict(out.get("ExposedPorts") or {})
            for port in value.split():
                number, _, proto = port.partition("/")
                if not number.isdigit():
                    raise InvalidArgument(f"invalid change {change!r}: bad port {port!r}")
                ports[f"{number}/{proto or 'tcp'}"] = {}
            out["ExposedPorts"] = ports
        elif instruction == "VOLUME":
            volumes = dict(out.get("Volumes") or {})
            exec_form = _json_or_shell(value)
            for path in value.split() if exec_form[:2] == ["/bin/sh", "-c"] else exec_form:
                volumes[path] = {}
            out["Volumes"] = volumes
        elif instruction == "ONBUILD":
            out["OnBuild"] = list(out.get("OnBuild") or []) + [value]
        elif instruction == "STOPSIGNAL":
            out["StopSignal"] = value
        elif instruction == "USER":
            out["User"] = value
        elif instruction == "WORKDIR":
            out["WorkingDir"] = value
    return out
