"""The instructions that only change an image's config (ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME,
CMD, ENTRYPOINT, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER), as buildah applies them:
in the OCI format, HEALTHCHECK, SHELL and ONBUILD are left out with a warning. Pure."""

from __future__ import annotations

import posixpath
import re

from pyctr.build import words
from pyctr.build.parser import Instruction
from pyctr.errors import InvalidArgument

DOCKER_ONLY = ("HEALTHCHECK", "SHELL", "ONBUILD")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1000, "µs": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def duration_ns(text: str, what: str) -> int:
    if text in ("0", ""):
        return 0
    pos, total = 0, 0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += int(float(match.group(1)) * _UNITS[match.group(2)])
        pos = match.end()
    if pos != len(text):
        raise InvalidArgument(f"HEALTHCHECK: invalid {what} {text!r}")
    return total


def shell_form(ins: Instruction, shell: list[str]) -> list[str]:
    return list(ins.json) if ins.json is not None else list(shell) + [ins.rest]


def warning_for(ins: Instruction, oci: bool) -> str:
    if not oci or ins.command not in DOCKER_ONLY:
        return ""
    if ins.command == "HEALTHCHECK":
        return "HEALTHCHECK is not supported for OCI image format and will be ignored. Must use `docker` format"
    if ins.command == "SHELL":
        shown = "[" + " ".join(ins.json or [ins.rest]) + "]"
        return f"SHELL is not supported for OCI image format, {shown} will be ignored. Must use `docker` format"
    return f"ONBUILD is not supported for OCI image format, {ins.rest} will be ignored. Must use `docker` format"


def apply(ins: Instruction, image: dict, env: dict[str, str], escape: str, *, oci: bool,
          cmd_set: bool) -> None:
    """Change `image` (a whole image config; its `config` section mostly) as `ins` says. `env`:
    the variables for expansion (ARGs and the config's Env); `cmd_set`: CMD was given in this stage."""
    section = image.setdefault("config", {})
    command, rest = ins.command, ins.rest
    if command == "ENV":
        current = list(section.get("Env") or [])
        local = dict(env)
        for key, val in words.pairs(rest, local, escape, what="ENV"):
            current = [e for e in current if e.partition("=")[0] != key] + [f"{key}={val}"]
            local[key] = val
        section["Env"] = current
    elif command == "LABEL":
        labels = dict(section.get("Labels") or {})
        labels.update(words.pairs(rest, env, escape, what="LABEL"))
        section["Labels"] = labels
    elif command == "MAINTAINER":
        image["author"] = words.expand(rest, env, escape)
    elif command == "WORKDIR":
        path = words.expand(rest, env, escape)
        if not path:
            raise InvalidArgument("WORKDIR requires exactly one argument")
        section["WorkingDir"] = posixpath.normpath(posixpath.join(section.get("WorkingDir") or "/", path))
    elif command == "USER":
        user = words.expand(rest, env, escape)
        if not user:
            raise InvalidArgument("USER requires exactly one argument")
        section["User"] = user
    elif command == "EXPOSE":
        ports = dict(section.get("ExposedPorts") or {})
        for port in words.words(rest, env, escape):
            number, _, proto = port.partition("/")
            low, _, high = number.partition("-")
            if not low.isdigit() or (high and not high.isdigit()):
                raise InvalidArgument(f"EXPOSE: invalid port {port!r}")
            ports[f"{number}/{(proto or 'tcp').lower()}"] = {}
        section["ExposedPorts"] = ports
    elif command == "VOLUME":
        volumes = dict(section.get("Volumes") or {})
        for path in (ins.json if ins.json is not None else words.words(rest, env, escape)):
            if not path:
                raise InvalidArgument("VOLUME specified can not be an empty string")
            volumes[path] = {}
        section["Volumes"] = volumes
    elif command == "CMD":
        section["Cmd"] = shell_form(ins, ["/bin/sh", "-c"])
    elif command == "ENTRYPOINT":
        section["Entrypoint"] = shell_form(ins, ["/bin/sh", "-c"]) if (ins.json or rest) else None
        if not cmd_set:
            section.pop("Cmd", None)  # Docker's rule: an ENTRYPOINT resets an inherited CMD
        if section["Entrypoint"] is None:
            section.pop("Entrypoint")
    elif command == "STOPSIGNAL":
        section["StopSignal"] = words.expand(rest, env, escape)
    elif command in DOCKER_ONLY and oci:
        return
    elif command == "SHELL":
        if ins.json is None:
            raise InvalidArgument("SHELL requires the arguments to be in JSON form")
        section["Shell"] = list(ins.json)
    elif command == "ONBUILD":
        trigger = rest.split(None, 1)[0].upper() if rest else ""
        if trigger in ("ONBUILD", "FROM", "MAINTAINER", ""):
            raise InvalidArgument(f"{trigger or 'ONBUILD'} isn't allowed as an ONBUILD trigger")
        section["OnBuild"] = list(section.get("OnBuild") or []) + [rest]
    elif command == "HEALTHCHECK":
        section["Healthcheck"] = healthcheck(ins)


def healthcheck(ins: Instruction) -> dict:
    rest = ins.rest
    kind, _, body = rest.partition(" ")
    if kind.upper() == "NONE":
        return {"Test": ["NONE"]}
    if kind.upper() != "CMD" or not body.strip():
        raise InvalidArgument("HEALTHCHECK: expected NONE or CMD COMMAND")
    from pyctr.build.parser import json_array

    exec_form = json_array(body.strip())
    out: dict = {"Test": ["CMD"] + exec_form if exec_form is not None else ["CMD-SHELL", body.strip()]}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod")):
        value = ins.flag(flag)
        if value is not None:
            out[key] = duration_ns(value, flag)
    retries = ins.flag("retries")
    if retries is not None:
        if not retries.isdigit():
            raise InvalidArgument(f"HEALTHCHECK: invalid retries {retries!r}")
        out["Retries"] = int(retries)
    return out
