"""The engine's results as podman shows them: `inspect` documents of containers and images, `ps` rows.

The command line's formats (JSON, templates, tables) are made from these; no printing here.
"""

from __future__ import annotations

import time

from typing import TYPE_CHECKING

from pyctr.container.store import Status

if TYPE_CHECKING:
    from pyctr.engine.containers import ContainerInfo, ContainerSummary
    from pyctr.engine.images import ImageInfo


def _rfc3339(ts: float) -> str:
    if not ts:
        return "0001-01-01T00:00:00Z"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1e9):09d}Z"


def container_document(info: "ContainerInfo") -> dict:
    record, status, userdata = info.record, info.status, info.userdata_dir
    spec = record.spec
    return {
        "Id": record.id,
        "Created": _rfc3339(record.created),
        "Path": record.args[0] if record.args else "",
        "Args": record.args[1:],
        "State": {
            "Status": status.state,
            "Running": status.state in ("running", "paused", "stopping"),
            "Paused": status.state == "paused",
            "Restarting": False,
            "OOMKilled": status.oom,
            "Dead": False,
            "Pid": status.pid,
            "ExitCode": status.exit_code,
            "Error": "",
            "StartedAt": _rfc3339(status.started_at),
            "FinishedAt": _rfc3339(status.finished_at),
        },
        "Image": record.image_id,
        "ImageName": record.image_name,
        "Rootfs": "",
        "ResolvConfPath": f"{userdata}/resolv.conf",
        "HostnamePath": f"{userdata}/hostname",
        "HostsPath": f"{userdata}/hosts",
        "LogPath": info.log_path,
        "Name": record.name,
        "RestartCount": status.restart_count,
        "Driver": "overlay",
        "MountLabel": "",
        "ProcessLabel": "",
        "Mounts": [
            {
                "Type": "volume" if m.get("volume_name") else m.get("type", "bind"),
                "Name": m.get("volume_name", ""),
                "Source": m.get("source", ""),
                "Destination": m.get("destination", ""),
                "RW": "ro" not in (m.get("options") or []),
                "Options": m.get("options") or [],
            }
            for m in record.mounts
        ],
        "Config": {
            "Hostname": record.hostname,
            "User": record.user,
            "Env": list(record.env),
            "Cmd": list(record.args),
            "Image": record.image_name,
            "WorkingDir": record.workdir,
            "Entrypoint": list(record.image_config.get("Entrypoint") or []),
            "Labels": dict(record.labels),
            "Annotations": dict(record.spec.lifecycle.annotations),
            "StopSignal": record.stop_signal,
            "StopTimeout": record.stop_timeout,
            "Tty": record.tty,
            "OpenStdin": record.stdin,
            "CreateCommand": list(record.spec.lifecycle.create_command),
        },
        "HostConfig": {
            "AutoRemove": record.remove,
            "NetworkMode": record.network,
            "Privileged": spec.security.privileged,
            "ReadonlyRootfs": spec.storage.read_only,
            "CapAdd": list(spec.security.cap_add),
            "CapDrop": list(spec.security.cap_drop),
            "Init": spec.process.init,
            "RestartPolicy": {"Name": spec.lifecycle.restart.name, "MaximumRetryCount": spec.lifecycle.restart.max_retries},
            "PidsLimit": record.pids_limit,
            "Devices": [{"PathOnHost": d.source, "PathInContainer": d.destination or d.source,
                         "CgroupPermissions": d.permissions} for d in spec.storage.devices],
        },
    }


def status_text(status: Status, now: float | None = None) -> str:
    """`Up 5 seconds`, `Exited (3) 2 minutes ago`, `Created` — podman's STATUS column."""
    from pyctr.units import human_duration

    now = now or time.time()
    if status.state in ("running", "stopping"):
        return f"Up {human_duration(now - status.started_at)}"
    if status.state == "paused":
        return f"Up {human_duration(now - status.started_at)} (Paused)"
    if status.state == "exited":
        if not status.finished_at:
            return f"Exited ({status.exit_code})"
        return f"Exited ({status.exit_code}) {human_duration(now - status.finished_at)} ago"
    return status.state.capitalize()


def ports_text(ports) -> str:
    """`0.0.0.0:8080->80/tcp, ...`, as ps shows published ports (spec PortMappings)."""
    return ", ".join(f"{p.host_ip or '0.0.0.0'}:{p.host_port}->{p.container_port}/{p.protocol}" for p in ports)


def ps_row(row: "ContainerSummary", *, no_trunc: bool) -> dict:
    """A `ps` line as podman's `ps --format json` and templates name its fields."""
    command = " ".join(row.command)
    status = Status(row.state, pid=row.pid, exit_code=row.exit_code, started_at=row.started_at, finished_at=row.finished_at)
    return {
        "ID": row.id if no_trunc else row.id[:12],
        "Id": row.id,
        "Image": row.image,
        "ImageID": row.image_id,
        "Command": command if no_trunc or len(command) <= 20 else command[:17] + "...",
        "Created": int(row.created),
        "CreatedAt": _rfc3339(row.created),
        "CreatedHuman": "",
        "Status": status_text(status),
        "State": row.state,
        "ExitCode": row.exit_code,
        "Exited": row.state == "exited",
        "Names": row.name,
        "Pid": row.pid,
        "Labels": dict(row.labels),
        "Ports": ports_text(row.ports),
        "Mounts": list(row.mounts),
        "StartedAt": int(row.started_at),
        "AutoRemove": row.auto_remove,
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
        "Annotations": {},
        "ManifestType": record.manifest_media_type,
        "User": container_config.get("User", ""),
        "History": cfg.get("history") or [],
        "NamesHistory": list(record.names),
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": ":".join(info.lower_dirs)}},
        "RootFS": {"Type": "layers", "Layers": list(record.diff_ids)},
    }
