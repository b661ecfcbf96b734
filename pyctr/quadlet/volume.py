"""`data.volume` -> `data-volume.service`: a oneshot unit that makes the volume `systemd-data`
(`pyctr volume create --ignore`), which containers that name `data.volume` require."""

from __future__ import annotations

from pyctr.quadlet.common import Context, base_name, resource_unit, service_for
from pyctr.quadlet.unitfile import UnitFile

GROUP = "Volume"
KEYS_4_4 = frozenset({"User", "Group", "Label"})
KEYS = KEYS_4_4 | {"Device", "Type", "Options", "VolumeName", "GlobalArgs", "PodmanArgs"}


def resource_name(unit: UnitFile) -> str:
    return unit.value(GROUP, "VolumeName") or f"systemd-{base_name(unit.filename)}"


def convert(unit: UnitFile, ctx: Context) -> UnitFile:
    service = service_for(unit, GROUP, KEYS, f"{base_name(unit.filename)}-volume.service")

    args = ["volume", "create", "--ignore"]
    mount_options = []
    for key, option in (("User", "uid"), ("Group", "gid")):
        entry = unit.last(GROUP, key)
        if entry is not None:
            if not entry.value.isdigit():
                raise entry.error(f"{key} must be a numeric ID: {entry.value!r}")
            mount_options.append(f"{option}={entry.value}")
    device, kind, options = (unit.value(GROUP, k) for k in ("Device", "Type", "Options"))
    if device:
        args += ["--opt", f"device={device}"]
        if kind:
            args += ["--opt", f"type={kind}"]
    elif kind:
        raise unit.last(GROUP, "Type").error("Type is only for a volume with a Device")
    if options:
        mount_options.append(options)
    if mount_options:
        args += ["--opt", "o=" + ",".join(mount_options)]
    return resource_unit(unit, GROUP, service, ctx, args, resource_name(unit))
