"""`web.container` -> `web.service`: a unit that runs the container with `pyctr run`, as podman 4.4's
quadlet writes it (adapted to what pyctr has):

    ExecStart=PYCTR run --name=systemd-%N --cidfile=%t/%N.cid --replace --rm --log-driver passthrough
              --sdnotify=conmon -d [options from the keys] IMAGE [Exec words]

Type=notify with NotifyAccess=all (the shim reports MAINPID and READY=1), KillMode=mixed, the
container stopped by ExecStop and removed by ExecStopPost through the cidfile, and (pyctr's addition)
SuccessExitStatus=143, so that a container that ends on its SIGTERM leaves the unit inactive, not failed. podman also writes `--runtime crun
--cgroups=split` and Delegate=yes: pyctr runs runc with cgroupfs, and has no split mode yet.
"""

from __future__ import annotations

from pyctr.quadlet.common import (
    CIDFILE, PORT_RANGE, SERVICE, UNIT, Context, absolute, add_networks, add_published_ports, add_user_remap,
    all_words, check_kill_mode, exec_line, file_error, key_values, reference, service_for, set_default, words)
from pyctr.quadlet.unitfile import UnitFile

GROUP = "Container"

# Keys with one value that become one option (podman's later Quadlet keys, for what pyctr run has).
_ONE_VALUE = {
    "HostName": "--hostname", "WorkingDir": "--workdir", "Entrypoint": "--entrypoint", "IP": "--ip", "IP6": "--ip6",
    "PidsLimit": "--pids-limit", "ShmSize": "--shm-size", "StopTimeout": "--stop-timeout", "Pull": "--pull",
    "Memory": "--memory", "HealthCmd": "--health-cmd", "HealthInterval": "--health-interval",
    "HealthRetries": "--health-retries", "HealthStartPeriod": "--health-start-period",
    "HealthTimeout": "--health-timeout", "HealthOnFailure": "--health-on-failure",
}
# Keys that may repeat, one option per value.
_EACH_VALUE = {
    "Tmpfs": "--tmpfs", "Mount": "--mount", "Secret": "--secret", "DNS": "--dns", "DNSSearch": "--dns-search",
    "DNSOption": "--dns-option", "AddHost": "--add-host", "Ulimit": "--ulimit", "NetworkAlias": "--network-alias",
    "GroupAdd": "--group-add",
}
# Keys whose values are lists of words, one option per word.
_EACH_WORD = {"Sysctl": "--sysctl"}

# podman 4.4's keys ...
KEYS_4_4 = frozenset({
    "AddCapability", "AddDevice", "Annotation", "ContainerName", "DropCapability", "Environment", "EnvironmentFile",
    "EnvironmentHost", "Exec", "ExposeHostPort", "Group", "Image", "Label", "Network", "NoNewPrivileges", "Notify",
    "PodmanArgs", "PublishPort", "ReadOnly", "RemapGid", "RemapUid", "RemapUidSize", "RemapUsers", "RunInit",
    "SeccompProfile", "Timezone", "User", "VolatileTmp", "Volume",
})
# ... and later podman's, that pyctr run can do.
KEYS_LATER = frozenset({
    *_ONE_VALUE, *_EACH_VALUE, *_EACH_WORD, "SecurityLabelDisable", "SecurityLabelType", "SecurityLabelLevel",
    "SecurityLabelFileType", "UserNS", "GlobalArgs", "LogDriver", "ReadOnlyTmpfs", "AutoUpdate", "Rootfs",
    "Mask", "Unmask",
})
KEYS = KEYS_4_4 | KEYS_LATER


def convert(unit: UnitFile, ctx: Context) -> UnitFile:
    service = service_for(unit, GROUP, KEYS, _service_name(unit.filename))

    image = unit.value(GROUP, "Image")
    rootfs = unit.value(GROUP, "Rootfs")
    if bool(image) == bool(rootfs):
        raise file_error(unit, "exactly one of Image and Rootfs must be given" if image else "no Image key specified")
    name = unit.value(GROUP, "ContainerName") or "systemd-%N"
    global_args = all_words(unit, GROUP, "GlobalArgs")

    # PODMAN_SYSTEMD_UNIT: the container is labelled with its unit, for auto-update.
    service.add(SERVICE, "Environment", "PODMAN_SYSTEMD_UNIT=%n")
    check_kill_mode(unit, service)
    # ExecStop stops the container the gentle way (its stop signal, the stop timeout, then SIGKILL; --rm
    # removes it); ExecStopPost removes what is left, also after a failed start or a shim that died,
    # and drops the cidfile so that the next start can write it.
    service.add(SERVICE, "ExecStop", exec_line(ctx, ["stop", "--ignore", f"--cidfile={CIDFILE}"], global_args))
    rm = exec_line(ctx, ["rm", "-v", "-f", "-i", f"--cidfile={CIDFILE}"], global_args)
    service.add(SERVICE, "ExecStopPost", f"-{rm}")
    service.add(SERVICE, "ExecStopPost", f"-rm -f {CIDFILE}")

    args = ["run", f"--name={name}", f"--cidfile={CIDFILE}", "--replace", "--rm"]
    log_driver = unit.value(GROUP, "LogDriver") or "passthrough"  # the container writes to the journal
    args += ["--log-driver", log_driver]
    timezone = unit.value(GROUP, "Timezone")
    if timezone:
        args.append(f"--tz={timezone}")
    add_networks(ctx, unit, GROUP, service, args)
    if unit.boolean(GROUP, "RunInit"):
        args.append("--init")

    service_type = unit.last(SERVICE, "Type")
    if service_type is not None and service_type.value not in ("notify", "oneshot"):
        raise service_type.error(f'invalid service Type "{service_type.value}"')
    if service_type is None or service_type.value != "oneshot":
        # The shim says READY=1 once the container runs (Notify=yes: the container says it itself).
        args.append("--sdnotify=container" if unit.boolean(GROUP, "Notify") else "--sdnotify=conmon")
        service.set(SERVICE, "Type", "notify")
        service.set(SERVICE, "NotifyAccess", "all")
        # The shim exits with the container's status: 143 after ExecStop's SIGTERM, which is a clean
        # stop (the unit ends inactive, not failed), as a main process killed by SIGTERM is to systemd.
        set_default(unit, service, "SuccessExitStatus", "143")
        args.append("-d")
    set_default(unit, service, "SyslogIdentifier", "%N")

    _security(unit, args)
    _filesystem(ctx, unit, service, args)
    _user(ctx, unit, args)
    _ports(unit, args)
    _environment(unit, args)
    for key, flag in _ONE_VALUE.items():
        value = unit.value(GROUP, key)
        if value:
            args.append(f"{flag}={value}")
    for key, flag in _EACH_VALUE.items():
        args += [f"{flag}={entry.value}" for entry in unit.values(GROUP, key)]
    for key, flag in _EACH_WORD.items():
        args += [f"{flag}={word}" for word in all_words(unit, GROUP, key)]
    args += all_words(unit, GROUP, "PodmanArgs")
    args += ["--rootfs", absolute(unit, rootfs)] if rootfs else [image]
    exec_entry = unit.last(GROUP, "Exec")
    if exec_entry is not None:
        args += words(exec_entry)
    service.add(SERVICE, "ExecStart", exec_line(ctx, args, global_args))
    return service


def _service_name(filename: str) -> str:
    return filename.rpartition(".")[0] + ".service"


def _security(unit: UnitFile, args: list[str]) -> None:
    if unit.boolean(GROUP, "NoNewPrivileges"):
        args.append("--security-opt=no-new-privileges")
    seccomp = unit.value(GROUP, "SeccompProfile")
    if seccomp:
        args += ["--security-opt", f"seccomp={seccomp}"]
    if unit.boolean(GROUP, "SecurityLabelDisable"):
        args += ["--security-opt", "label=disable"]
    for key, kind in (("SecurityLabelType", "type"), ("SecurityLabelLevel", "level"), ("SecurityLabelFileType", "filetype")):
        value = unit.value(GROUP, key)
        if value:
            args += ["--security-opt", f"label={kind}:{value}"]
    for key, kind in (("Mask", "mask"), ("Unmask", "unmask")):
        paths = all_words(unit, GROUP, key)
        if paths:
            args += ["--security-opt", f"{kind}={':'.join(paths)}"]
    for device in all_words(unit, GROUP, "AddDevice"):
        args.append(f"--device={device}")
    args += [f"--cap-drop={cap.lower()}" for cap in all_words(unit, GROUP, "DropCapability")]
    args += [f"--cap-add={cap.lower()}" for cap in all_words(unit, GROUP, "AddCapability")]


def _filesystem(ctx: Context, unit: UnitFile, service: UnitFile, args: list[str]) -> None:
    read_only = unit.boolean(GROUP, "ReadOnly")
    if read_only:
        args.append("--read-only")
        if unit.boolean(GROUP, "ReadOnlyTmpfs") is False:
            args.append("--read-only-tmpfs=false")
    if unit.boolean(GROUP, "VolatileTmp") and not read_only:  # --read-only has a /tmp tmpfs already
        args += ["--tmpfs", "/tmp:rw,size=512M,mode=1777"]
    for entry in unit.values(GROUP, "Volume"):
        parts = entry.value.split(":", 2)
        source, dest = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
        options = f":{parts[2]}" if len(parts) > 2 else ""
        if source.startswith("/"):
            service.add(UNIT, "RequiresMountsFor", source)
        elif source:
            source = reference(ctx, unit, service, source, "volume")
        args += ["-v", f"{source}:{dest}{options}" if source else dest]


def _user(ctx: Context, unit: UnitFile, args: list[str]) -> None:
    user, group = unit.value(GROUP, "User"), unit.value(GROUP, "Group")
    if user or group:
        args += ["--user", f"{user or 0}:{group}" if group else user]
    add_user_remap(ctx, unit, GROUP, args, manual=True)
    size = unit.last(GROUP, "RemapUidSize")
    if size is not None:
        raise size.error("RemapUidSize is for RemapUsers=auto, which pyctr has not built yet")


def _ports(unit: UnitFile, args: list[str]) -> None:
    for entry in unit.values(GROUP, "ExposeHostPort"):
        port = entry.value.strip()
        if not PORT_RANGE.match(port):
            raise entry.error(f'invalid port format "{port}"')
        args.append(f"--expose={port}")
    add_published_ports(unit, GROUP, args)


def _environment(unit: UnitFile, args: list[str]) -> None:
    for pair in key_values(unit, GROUP, "Environment"):
        args += ["--env", pair]
    labels = key_values(unit, GROUP, "Label")
    auto_update = unit.value(GROUP, "AutoUpdate")
    if auto_update:
        labels = sorted([*labels, f"io.containers.autoupdate={auto_update}"])
    for pair in labels:
        args += ["--label", pair]
    for pair in key_values(unit, GROUP, "Annotation"):
        args += ["--annotation", pair]
    for entry in unit.values(GROUP, "EnvironmentFile"):
        args += ["--env-file", absolute(unit, entry.value)]
    if unit.boolean(GROUP, "EnvironmentHost"):
        args.append("--env-host")

