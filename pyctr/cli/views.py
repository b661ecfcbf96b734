"""The engine's results as podman shows them: `inspect` documents of containers and images, `ps` rows.

The command line's formats (JSON, templates, tables) are made from these; no printing here.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.container.store import Status

if TYPE_CHECKING:
    from pyctr.engine.containers import ContainerInfo, ContainerSummary
    from pyctr.engine.images import ImageInfo


def _rfc3339(ts: float) -> str:
    """A time in JSON as Go writes it; Go's zero time for "never"."""
    from pyctr.units import rfc3339_nano

    return rfc3339_nano(ts) if ts else "0001-01-01T00:00:00Z"


def container_document(info: "ContainerInfo") -> dict:
    """podman 4.3.1's InspectContainerData, key for key (pyctr.cli.inspectfields lists them)."""
    from pyctr.cli import runviews

    record, status = info.record, info.status
    spec = record.spec
    entrypoint, cmd = runviews.entrypoint_and_cmd(record)
    effective, bounding = runviews.capabilities(record)
    document = {
        "Id": record.id,
        "Created": _rfc3339(record.created),
        "Path": record.args[0] if record.args else "",
        "Args": record.args[1:],
        "State": {
            "OciVersion": _OCI_VERSION,
            "Status": status.state,
            "Running": status.state in ("running", "paused", "stopping"),
            "Paused": status.state == "paused",
            "Restarting": False,
            "OOMKilled": status.oom,
            "Dead": False,
            "Pid": status.pid,
            **({"ConmonPid": info.shim_pid} if info.shim_pid else {}),
            "ExitCode": status.exit_code,
            "Error": "",
            "StartedAt": _rfc3339(status.started_at),
            "FinishedAt": _rfc3339(status.finished_at),
            "Health": _health_view(info.health),
            **({"CgroupPath": info.cgroup_path} if info.cgroup_path else {}),
            "CheckpointedAt": _rfc3339(0),
            "RestoredAt": _rfc3339(0),
        },
        "Image": record.image_id,
        "ImageDigest": info.image_digest,
        "ImageName": record.image_name,
        "Rootfs": spec.image.name if spec.image.rootfs else "",
        "Pod": spec.lifecycle.pod,
        # podman shows these once the container has been started (the files exist)
        **{key: _existing(f"{info.userdata_dir}/{name}") for key, name in (
            ("ResolvConfPath", "resolv.conf"), ("HostnamePath", "hostname"), ("HostsPath", "hosts"))},
        "StaticDir": info.userdata_dir,
        **({"OCIConfigPath": info.oci_config_path} if info.oci_config_path else {}),
        "OCIRuntime": info.runtime,
        **runviews.pid_files(spec),
        "Name": record.name,
        "RestartCount": status.restart_count,
        "Driver": "overlay",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "EffectiveCaps": effective,
        "BoundingCaps": bounding,
        "ExecIDs": list(info.exec_ids),
        "GraphDriver": runviews.graph_driver(info),
        "Mounts": runviews.mounts(record),
        "Dependencies": runviews.dependencies(spec),
        "NetworkSettings": runviews.network_settings(record, info),
        "Namespace": "",
        "IsInfra": False,
        "IsService": False,
        "Config": {
            "Hostname": record.hostname,
            "Domainname": "",
            "User": record.user,
            "AttachStdin": False,
            "AttachStdout": False,
            "AttachStderr": False,
            "Tty": record.tty,
            "OpenStdin": record.stdin,
            "StdinOnce": False,
            "Env": runviews.process_env(record),
            "Cmd": cmd,
            "Image": record.image_name,
            "Volumes": None,
            "WorkingDir": record.workdir,
            "Entrypoint": entrypoint,
            "OnBuild": None,
            "Labels": dict(record.labels) or None,
            "Annotations": runviews.annotations(record),
            "StopSignal": runviews.stop_signal_number(record.stop_signal),
            **_healthcheck_config(record),
            "CreateCommand": list(spec.lifecycle.create_command),
            **runviews.config_extras(spec),
            "StopTimeout": record.stop_timeout,
            **runviews.config_tail(spec),
        },
        "HostConfig": runviews.host_config(info, {
            "Type": spec.lifecycle.log_driver, "Config": None, "Path": info.log_path,
            "Tag": spec.lifecycle.log_tag or "", "Size": _log_size(record.log_size_max)}),
    }
    if info.rw_size >= 0:  # inspect --size
        document["SizeRw"], document["SizeRootFs"] = info.rw_size, info.root_size
    _add_secrets(document["Config"], spec)
    return document


_OCI_VERSION = "1.0.2"  # the runtime spec version pyctr writes (pyctr.runtime.spec.OCI_VERSION)


def _existing(path: str) -> str:
    import os

    return path if os.path.exists(path) else ""


def _add_secrets(config: dict, spec) -> None:
    """Config.Secrets as podman's: the file secrets (env ones are not listed), after Umask; none: no key."""
    secrets = [{"Name": ref.name, "ID": ref.id, "UID": ref.uid, "GID": ref.gid, "Mode": ref.mode}
               for ref in spec.storage.secrets if ref.type == "mount"]
    if not secrets:
        return
    keys = list(config)
    at = keys.index("Umask") + 1 if "Umask" in keys else len(keys)
    rest = {key: config.pop(key) for key in keys[at:]}
    config["Secrets"] = secrets
    config.update(rest)


def _health_view(health: dict | None) -> dict:
    """State.Health as podman shows it: always there, empty without a check."""
    health = health or {"Status": "", "FailingStreak": 0, "Log": []}
    return {"Status": health["Status"], "FailingStreak": health["FailingStreak"], "Log": health["Log"] or None}


def _healthcheck_config(record) -> dict:
    """Config.Healthcheck (when there is one) and Config.HealthcheckOnFailureAction."""
    from pyctr.container import health

    check = health.inspect_config(health.of_record(record))
    shown = {"Healthcheck": check} if check is not None else {}
    return {**shown, "HealthcheckOnFailureAction": health.on_failure_of(record)}


def _log_size(size: int) -> str:
    """HostConfig.LogConfig.Size as podman prints it: `10MB`, `0B` for no limit."""
    from pyctr.units import human_size

    return human_size(size).replace(" ", "") if size > 0 else "0B"


def status_text(status: Status, now: float | None = None, health: str = "") -> str:
    """podman 4.3.1's STATUS column: `Up 5 seconds ago`, `Exited (3) 2 minutes ago`, `Created`,
    `Paused`, with the health in brackets (`Up 3 seconds ago (healthy)`)."""
    from pyctr.units import human_duration

    now = now or time.time()
    if status.state == "running":
        text = f"Up {human_duration(now - status.started_at)} ago"
    elif status.state == "exited":
        text = (f"Exited ({status.exit_code}) {human_duration(now - status.finished_at)} ago" if status.finished_at
                else f"Exited ({status.exit_code})")
    else:
        text = status.state.capitalize()
    return f"{text} ({health})" if health else text


def ports_text(ports) -> str:
    """`0.0.0.0:8080->80/tcp, ...`, as ps shows published ports (spec PortMappings); consecutive
    ports as one range (`0.0.0.0:8000-8005->80-85/tcp`), as podman."""
    runs: list[list] = []
    for p in ports:
        last = runs[-1][-1] if runs else None
        if last and (last.host_ip, last.protocol) == (p.host_ip, p.protocol) and \
                (last.host_port + 1, last.container_port + 1) == (p.host_port, p.container_port):
            runs[-1].append(p)
        else:
            runs.append([p])

    def span(first: int, last: int) -> str:
        return f"{first}-{last}" if last != first else str(first)

    return ", ".join(f"{r[0].host_ip or '0.0.0.0'}:{span(r[0].host_port, r[-1].host_port)}->"
                     f"{span(r[0].container_port, r[-1].container_port)}/{r[0].protocol}" for r in runs)


def go_time(ts: float) -> str:
    """A time as Go prints a time.Time in a template: `2026-12-05 11:21:41.716474343 +0000 UTC`."""
    from pyctr.units import go_time as of_seconds

    return of_seconds(ts)


def size_text(rw_size: int, root_size: int) -> str:
    """ps --size: `12B (virtual 1.98MB)` (decimal units, three digits, no space, as podman)."""
    def short(n: int) -> str:
        units, value, unit = ["B", "kB", "MB", "GB", "TB"], float(n), 0
        while value >= 1000 and unit < len(units) - 1:
            value, unit = value / 1000, unit + 1
        return f"{value:.3g}{units[unit]}"

    return f"{short(rw_size)} (virtual {short(root_size)})"


_ZERO_TIME = -62135596800  # Go's zero time as a UNIX time, which podman prints for "never"
# ps --ns: the template's columns and the namespace each shows.
NS_FIELDS = {"CGROUPNS": "Cgroup", "IPC": "Ipc", "MNT": "Mnt", "NET": "Net", "PIDNS": "Pidns", "USERNS": "User", "UTS": "Uts"}


def _status(row: "ContainerSummary") -> Status:
    return Status(row.state, pid=row.pid, exit_code=row.exit_code, started_at=row.started_at,
                  finished_at=row.finished_at)


def ps_row(row: "ContainerSummary", *, no_trunc: bool = False, now: float | None = None) -> dict:
    """A `ps` line as podman's `ps --format` templates name its fields (psReporter)."""
    from pyctr.units import human_duration

    now = now or time.time()
    command = " ".join(row.command)
    status = status_text(_status(row), now, row.health)
    created_human = human_duration(now - row.created) + " ago"
    fields = {
        "ID": row.id if no_trunc else row.id[:12],
        "Image": row.image,
        "ImageID": row.image_id if no_trunc else row.image_id[:12],
        "Command": command if no_trunc or len(command) <= 17 else command[:17] + "...",
        "Created": go_time(row.created),
        "CreatedAt": go_time(row.created),
        "CreatedHuman": created_human,
        "RunningFor": created_human,
        "Status": status,
        "State": status,
        "ExitCode": row.exit_code,
        "Exited": row.state == "exited",
        "ExitedAt": int(row.finished_at) if row.finished_at else _ZERO_TIME,
        "StartedAt": int(row.started_at) if row.started_at else _ZERO_TIME,
        "Names": row.name,
        "Pid": row.pid,
        "Pod": row.pod if no_trunc else row.pod[:12],
        "PodName": row.pod_name,
        "Labels": dict(row.labels),
        "Ports": ports_text(row.ports),
        "Mounts": list(row.mounts),
        "Networks": ",".join(row.networks),
        "Size": size_text(row.rw_size, row.root_size) if row.rw_size >= 0 else "",
        "AutoRemove": row.auto_remove,
        "IsInfra": row.is_infra,
        "Namespaces": _namespaces(row.namespaces),
    }
    fields.update({column: row.namespaces.get(key, "") for column, key in NS_FIELDS.items()})
    fields["Cgroup"], fields["User"] = fields["CGROUPNS"], fields["USERNS"]
    return fields


def _namespaces(namespaces: dict):
    """ps's .Namespaces: a Go struct (ListContainerNamespaces, fields in its order)."""
    from pyctr.cli.gotemplate import Struct

    return Struct({field: namespaces.get(key, "") for field, key in (
        ("MNT", "Mnt"), ("Cgroup", "Cgroup"), ("IPC", "Ipc"), ("NET", "Net"), ("PIDNS", "Pidns"), ("UTS", "Uts"),
        ("User", "User"))}, "entities.ListContainerNamespaces")


def ps_row_json(row: "ContainerSummary", now: float | None = None) -> dict:
    """What `{{json .}}` prints for a ps row: podman marshals the listed container itself, where
    Created is a time, and CreatedAt and Status are empty."""
    document = ps_json(row, now)
    del document["Created"]
    document = {"AutoRemove": document.pop("AutoRemove"), "Command": document.pop("Command"),
                "Created": _rfc3339(row.created), **document}
    document["CreatedAt"], document["Status"] = "", ""
    return document


def ps_json(row: "ContainerSummary", now: float | None = None) -> dict:
    """A `ps --format json` element, with podman's keys and types."""
    from pyctr.units import human_duration

    now = now or time.time()
    return {
        "AutoRemove": row.auto_remove,
        "Command": list(row.command),
        "CreatedAt": human_duration(now - row.created) + " ago",
        "Exited": row.state == "exited",
        "ExitedAt": int(row.finished_at) if row.finished_at else _ZERO_TIME,
        "ExitCode": row.exit_code,
        "Id": row.id,
        "Image": row.image,
        "ImageID": row.image_id,
        "IsInfra": row.is_infra,
        "Labels": dict(row.labels) or None,
        "Mounts": list(row.mounts),
        "Names": [row.name],
        "Namespaces": dict(row.namespaces),
        "Networks": list(row.networks),
        "Pid": row.pid,
        "Pod": row.pod,
        "PodName": row.pod_name,
        "Ports": [{"host_ip": p.host_ip, "container_port": p.container_port, "host_port": p.host_port, "range": 1,
                   "protocol": p.protocol} for p in row.ports] or None,
        "Size": {"RwSize": row.rw_size, "RootFsSize": row.root_size} if row.rw_size >= 0 else None,
        "StartedAt": int(row.started_at) if row.started_at else _ZERO_TIME,
        "State": row.state,
        "Status": status_text(_status(row), now, row.health),
        "Created": int(row.created),
    }


def image_document(info: "ImageInfo") -> dict:
    record, cfg = info.record, info.config
    container_config = cfg.get("config") or {}
    return {
        "Id": record.id,
        "Digest": record.manifest_digest,
        "RepoTags": list(record.names),
        "RepoDigests": list(record.repo_digests),
        "Parent": "",
        "Comment": cfg.get("comment", ""),
        "Created": record.created,
        "Config": container_config,
        "Version": cfg.get("docker_version", ""),
        "Author": cfg.get("author", ""),
        "Architecture": cfg.get("architecture", ""),
        "Os": cfg.get("os", ""),
        "Variant": cfg.get("variant", ""),
        "Size": record.size,
        "VirtualSize": record.size,
        "Labels": container_config.get("Labels") or {},
        "Annotations": dict(info.annotations),
        "ManifestType": record.manifest_media_type,
        "User": container_config.get("User", ""),
        "History": cfg.get("history") or [],
        "NamesHistory": list(record.names),
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": ":".join(info.lower_dirs)}},
        "RootFS": {"Type": "layers", "Layers": list(record.diff_ids)},
    }


def volume_row(document: dict) -> dict:
    """A `volume ls` row as podman's templates see it (VolumeListReport): the inspect fields, the
    creation a Go time."""
    from pyctr.units import parse_created

    return {"Name": document["Name"], "Driver": document["Driver"], "Mountpoint": document["Mountpoint"],
            "CreatedAt": go_time(parse_created(document["CreatedAt"]) or 0), "Labels": document["Labels"],
            "Scope": document["Scope"], "Options": document["Options"], "MountCount": document.get("MountCount", 0),
            "NeedsCopyUp": True, "NeedsChown": True, "UID": document.get("UID", 0), "GID": document.get("GID", 0),
            "Anonymous": document.get("Anonymous", False), "Status": {}, "Timeout": 0}


def volume_json(document: dict) -> dict:
    """A volume as `volume ls --format json` (and {{json .}}) print it: podman's volume config,
    whose empty owner and anonymity are left out."""
    shown = {k: document[k] for k in ("Name", "Driver", "Mountpoint", "CreatedAt", "Labels", "Scope", "Options")}
    shown.update({k: document[k] for k in ("UID", "GID", "Anonymous") if document.get(k)})
    return {**shown, "MountCount": document.get("MountCount", 0), "NeedsCopyUp": True, "NeedsChown": True}


def network_fields(doc: dict) -> dict:
    """A network (its JSON, Network.to_json) as podman's templates see types.Network: Go field
    names, the creation a Go time, each subnet a struct (that {{json}} prints as in the file)."""
    from pyctr.cli.gotemplate.values import Struct
    from pyctr.units import parse_created

    created = doc.get("created", "")
    if created.endswith("Z") and "T" in created:  # Go's time.Time as text, nanoseconds kept
        created = created[:-1].replace("T", " ", 1) + " +0000 UTC"
    else:
        created = go_time(parse_created(created) or 0)
    subnets = []
    for subnet in doc.get("subnets") or []:
        lease = subnet.get("lease_range")
        lease = Struct({"StartIP": lease.get("start_ip", ""), "EndIP": lease.get("end_ip", "")}, "*types.LeaseRange",
                       lease) if lease else None
        subnets.append(Struct({"Subnet": subnet["subnet"], "Gateway": subnet.get("gateway", ""), "LeaseRange": lease},
                              "types.Subnet", subnet))
    return {"Name": doc["name"], "ID": doc["id"], "Driver": doc["driver"],
            "NetworkInterface": doc.get("network_interface", ""), "Created": created, "Subnets": subnets,
            "IPv6Enabled": doc.get("ipv6_enabled", False), "Internal": doc.get("internal", False),
            "DNSEnabled": doc.get("dns_enabled", False), "Labels": dict(doc.get("labels") or {}),
            "Options": dict(doc.get("options") or {}), "IPAMOptions": dict(doc.get("ipam_options") or {})}


def network_row(doc: dict, *, no_trunc: bool = False) -> dict:
    """A `network ls` row (podman's ListPrintReports): the ID cut to 12 unless no_trunc, the
    labels one "k=v,k2=v2" string (a method there)."""
    row = network_fields(doc)
    if not no_trunc:
        row["ID"] = row["ID"][:12]
    row["Labels"] = ",".join(f"{k}={v}" for k, v in sorted(row["Labels"].items()))
    return row
