"""Containers as the Docker API shows them: list entries and inspect documents (from podman's
inspect document, which follows Docker's; the differences Docker clients rely on are made here)."""

from __future__ import annotations

import time

# podman's states -> Docker's (created, running, paused, restarting, removing, exited, dead)
_STATES = {"configured": "created", "initialized": "created", "stopping": "running", "stopped": "exited"}


def state(name: str) -> str:
    return _STATES.get(name, name)


def _ago(seconds: float) -> str:
    from pyctr.units import human_duration

    return human_duration(max(seconds, 0))


def status_text(row) -> str:
    """Docker's Status column: `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`."""
    now = time.time()
    if row.state in ("running", "stopping"):
        return f"Up {_ago(now - row.started_at)}" + (f" ({row.health})" if row.health else "")
    if row.state == "paused":
        return f"Up {_ago(now - row.started_at)} (Paused)"
    if row.state in ("exited", "stopped"):
        return f"Exited ({row.exit_code}) {_ago(now - row.finished_at)} ago" if row.finished_at else f"Exited ({row.exit_code})"
    return "Created"


def list_entry(row) -> dict:
    """An entry of GET /containers/json (an engine ContainerSummary)."""
    ports = [{"IP": p.host_ip or "0.0.0.0", "PrivatePort": p.container_port, "PublicPort": p.host_port,
              "Type": p.protocol} for p in row.ports]
    return {"Id": row.id, "Names": ["/" + row.name], "Image": row.image, "ImageID": "sha256:" + row.image_id,
            "Command": " ".join(row.command), "Created": int(row.created), "Ports": ports,
            "Labels": dict(row.labels), "State": state(row.state), "Status": status_text(row),
            "HostConfig": {"NetworkMode": "bridge" if row.networks else "default"},
            "NetworkSettings": {"Networks": {_docker_network(name): {"NetworkID": name} for name in row.networks}},
            "Mounts": [{"Destination": d} for d in row.mounts]}


def _docker_network(name: str) -> str:
    from pyctr.network.config import DEFAULT_NAME

    return "bridge" if name == DEFAULT_NAME else name


def inspect_document(info) -> dict:
    """GET /containers/{id}/json: podman's document with Docker's name, state, image ID and log type."""
    from pyctr.cli.views import container_document  # (front-end neutral: it imports no typer)

    doc = container_document(info)
    doc["Name"] = "/" + doc["Name"]
    doc["Image"] = "sha256:" + info.record.image_id
    doc["State"]["Status"] = state(doc["State"]["Status"])
    if not (doc["State"].get("Health") or {}).get("Status"):  # Docker: no Health without a healthcheck
        doc["State"].pop("Health", None)  # (docker-compose's ps would show "Up ()")
    # docker-py reads the output of `run` (not detached) from the logs of a json-file container.
    log = doc["HostConfig"].get("LogConfig") or {}
    doc["HostConfig"]["LogConfig"] = {"Type": "json-file" if log.get("Type") == "k8s-file" else log.get("Type", ""),
                                      "Config": {}}
    if doc["HostConfig"].get("NetworkMode") in ("bridge", "private"):
        doc["HostConfig"]["NetworkMode"] = "bridge" if info.record.networks else "default"
    networks = (doc.get("NetworkSettings") or {}).get("Networks")
    if networks:  # Docker's default network is "bridge" (testcontainers reads its Gateway there)
        doc["NetworkSettings"]["Networks"] = {_docker_network(k): v for k, v in networks.items()}
    for bindings in (doc.get("NetworkSettings") or {}).get("Ports", {}).values():
        for binding in bindings or []:  # Docker names every address
            binding["HostIp"] = binding.get("HostIp") or "0.0.0.0"
    config = doc["Config"]
    config["StopSignal"] = info.record.stop_signal  # (Docker's is the name; podman's a number)
    config["ExposedPorts"] = {f"{p.container_port}/{p.protocol}": {} for p in info.record.ports} or None
    config["Labels"] = config.get("Labels") or {}
    return doc
