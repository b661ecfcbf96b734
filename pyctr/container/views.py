"""Container data as podman shows it: `inspect` documents and `ps` rows (no printing here)."""

from __future__ import annotations

import time

from pyctr.container.store import ContainerRecord, ContainerStore, Status


def _rfc3339(ts: float) -> str:
    if not ts:
        return "0001-01-01T00:00:00Z"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1e9):09d}Z"


def inspect(store: ContainerStore, record: ContainerRecord) -> dict:
    status = store.status(record.id)
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
        "ResolvConfPath": str(store.path(record.id) / "userdata" / "resolv.conf"),
        "HostnamePath": str(store.path(record.id) / "userdata" / "hostname"),
        "HostsPath": str(store.path(record.id) / "userdata" / "hosts"),
        "LogPath": str(store.log_path(record.id)),
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
            "Annotations": dict(record.annotations),
            "StopSignal": record.stop_signal,
            "StopTimeout": record.stop_timeout,
            "Tty": record.tty,
            "OpenStdin": record.stdin,
            "CreateCommand": list(record.create_command),
        },
        "HostConfig": {
            "AutoRemove": record.remove,
            "NetworkMode": record.network,
            "Privileged": bool(record.options.get("privileged")),
            "ReadonlyRootfs": bool(record.options.get("read_only")),
            "CapAdd": list(record.options.get("cap_add") or []),
            "CapDrop": list(record.options.get("cap_drop") or []),
            "Init": bool(record.options.get("init")),
            "RestartPolicy": {"Name": (record.options.get("restart") or {}).get("policy", "no"),
                              "MaximumRetryCount": (record.options.get("restart") or {}).get("max", 0)},
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


def _ports(record: ContainerRecord) -> str:
    from pyctr.network.ports import describe

    return describe(record.options.get("ports") or [])


def ps_row(store: ContainerStore, record: ContainerRecord, *, no_trunc: bool) -> dict:
    status = store.status(record.id)
    command = " ".join(record.args)
    return {
        "ID": record.id if no_trunc else record.id[:12],
        "Id": record.id,
        "Image": record.image_name,
        "ImageID": record.image_id,
        "Command": command if no_trunc or len(command) <= 20 else command[:17] + "...",
        "Created": int(record.created),
        "CreatedAt": _rfc3339(record.created),
        "CreatedHuman": "",
        "Status": status_text(status),
        "State": status.state,
        "ExitCode": status.exit_code,
        "Exited": status.state == "exited",
        "Names": record.name,
        "Pid": status.pid,
        "Labels": dict(record.labels),
        "Ports": _ports(record),
        "Mounts": [m.get("destination", "") for m in record.mounts],
        "StartedAt": int(status.started_at),
        "AutoRemove": record.remove,
    }
