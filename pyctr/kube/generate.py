"""Container records to Kubernetes documents (plain dicts), as podman 4.3.1's `generate kube` writes them.

Only what differs from the image goes in (command, environment, working directory), so that a cluster
running the same image runs the same thing. Pure functions: the engine (pyctr.engine.kube) finds the
records and turns the documents into YAML.
"""

from __future__ import annotations

import os
import random
import re
import time
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from pyctr.container.store import ContainerRecord

HEADER = ("# Save the output of this file and use kubectl create -f to import\n# it into Kubernetes.\n#\n"
          "# Created with pyctr-{version}\n")
RESTART_POLICIES = {"no": "Never", "on-failure": "OnFailure", "always": "Always", "unless-stopped": "Always"}
NODE_PORTS = (30000, 32767)  # Kubernetes' default NodePort range
_LABEL_BAD = re.compile(r"[^a-z0-9-]+")


def dns_label(text: str, limit: int = 63) -> str:
    """A DNS-1123 label (what Kubernetes takes as a container, volume or port name): lowercase
    letters, digits and '-', starting and ending alphanumeric, at most 63 characters."""
    label = _LABEL_BAD.sub("-", text.lower().replace("_", "")).strip("-")[:limit].strip("-")
    return label or "x"


def timestamp(seconds: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if seconds is None else seconds))


def memory_quantity(size: int) -> str:
    """Bytes as Kubernetes writes them (binary suffixes when they divide evenly, as podman's)."""
    for suffix, unit in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def cpu_quantity(cpus: float) -> str:
    milli = round(cpus * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def container_name(record: "ContainerRecord", pod_name: str | None) -> str:
    """The container's name in the pod: `kube play` named it <pod>-<name>, which goes again."""
    name = record.name
    if pod_name and name.startswith(f"{pod_name}-") and len(name) > len(pod_name) + 1:
        name = name[len(pod_name) + 1:]
    return dns_label(name)


def _command(record: "ContainerRecord") -> tuple[list[str] | None, list[str] | None]:
    """(command, args): Kubernetes' command is the entrypoint, args the CMD; what equals the image's goes."""
    spec, image = record.spec.process, record.image_config
    image_entrypoint, image_cmd = list(image.get("Entrypoint") or []), list(image.get("Cmd") or [])
    entrypoint = image_entrypoint if spec.entrypoint is None else list(spec.entrypoint)
    cmd = list(spec.command) or (image_cmd if spec.entrypoint is None else [])
    if entrypoint:
        command, args = entrypoint, cmd
        if entrypoint == image_entrypoint:
            command = None
            if cmd == image_cmd:
                args = None
    else:
        command, args = cmd, None
        if cmd == image_cmd:
            command = None
    return command or None, args or None


def _env(record: "ContainerRecord") -> list[dict]:
    image_env = dict(item.partition("=")[::2] for item in record.image_config.get("Env") or [])
    return [{"name": k, "value": v} for k, v in record.spec.process.env.items() if image_env.get(k) != v]


def port_entries(ports: Iterable) -> list[dict]:
    """PortMappings (or their dicts) as containerPort/hostPort entries."""
    entries = []
    for port in ports:
        port = port if isinstance(port, dict) else vars(port)
        entry = {"containerPort": int(port["container_port"]), "hostPort": int(port["host_port"])}
        if port.get("host_ip"):
            entry["hostIP"] = port["host_ip"]
        if (port.get("protocol") or "tcp") != "tcp":
            entry["protocol"] = port["protocol"].upper()
        entries.append(entry)
    return sorted(entries, key=lambda e: (e["containerPort"], e.get("protocol", "TCP")))


def _security(record: "ContainerRecord") -> dict:
    security, spec = record.spec.security, record.spec
    caps = {}
    if security.cap_add:
        caps["add"] = [_cap(c) for c in security.cap_add]
    if security.cap_drop:
        caps["drop"] = [_cap(c) for c in security.cap_drop]
    context: dict = {"capabilities": caps}
    if security.privileged:
        context["privileged"] = True
    if security.no_new_privileges:
        context["allowPrivilegeEscalation"] = False
    if spec.storage.read_only:
        context["readOnlyRootFilesystem"] = True
    user = spec.process.user
    if user is not None and user != (record.image_config.get("User") or ""):
        uid, _, gid = user.partition(":")
        if uid.isdigit():
            context["runAsUser"] = int(uid)
        if gid.isdigit():
            context["runAsGroup"] = int(gid)
    return context


def _cap(name: str) -> str:
    name = name.upper()
    return name if name.startswith("CAP_") or name == "ALL" else f"CAP_{name}"


def _resources(record: "ContainerRecord") -> dict:
    resources = record.spec.resources
    limits = {}
    if resources.cpus:
        limits["cpu"] = cpu_quantity(resources.cpus)
    if resources.memory:
        limits["memory"] = memory_quantity(resources.memory)
    return {"limits": limits} if limits else {}


def _volumes(record: "ContainerRecord", volumes: dict[str, dict], empty_dirs: dict[str, str]) -> list[dict]:
    """The container's mounts as volumeMounts; the pod's volumes go into `volumes` (by name, shared).
    `empty_dirs`: volumes kube play made for emptyDir volumes -> their names in the pod."""
    found = []
    for mount in record.spec.storage.mounts:
        read_only = "ro" in mount.options
        if mount.type == "bind":
            kind = "Directory" if os.path.isdir(mount.source) else "File"
            name = dns_label(f"{mount.source.strip('/')}-host", 57)
            volume = {"name": name, "hostPath": {"path": mount.source, "type": kind}}
        elif mount.type == "volume" and mount.source in empty_dirs:  # made by kube play for an emptyDir
            name = dns_label(empty_dirs[mount.source])
            volume = {"name": name, "emptyDir": {}}
        elif mount.type == "volume" and mount.source:
            name = dns_label(f"{mount.source}-pvc")
            volume = {"name": name, "persistentVolumeClaim": {"claimName": mount.source}}
        else:  # an anonymous volume or a tmpfs: scratch space of the pod
            name = dns_label(f"{mount.destination.strip('/')}-{'tmpfs' if mount.type == 'tmpfs' else 'empty'}", 57)
            volume = {"name": name, "emptyDir": {"medium": "Memory"} if mount.type == "tmpfs" else {}}
        if name in volumes and volumes[name] != volume:  # another source under the same name
            name = f"{name}-{len(volumes)}"
            volume = {**volume, "name": name}
        volumes.setdefault(name, volume)
        entry = {"mountPath": mount.destination, "name": name}
        if read_only:
            entry["readOnly"] = True
        found.append(entry)
    return found


def container_entry(record: "ContainerRecord", pod_name: str | None, volumes: dict[str, dict], ports=(),
                    empty_dirs: dict[str, str] | None = None) -> dict:
    """One container of the pod's spec; its volumes are added to `volumes`."""
    entry: dict = {"name": container_name(record, pod_name), "image": record.image_name or record.image_id}
    command, args = _command(record)
    if command:
        entry["command"] = command
    if args:
        entry["args"] = args
    env = _env(record)
    if env:
        entry["env"] = env
    ports = port_entries(ports)
    if ports:
        entry["ports"] = ports
    entry["resources"] = _resources(record)
    entry["securityContext"] = _security(record)
    if record.spec.process.tty:
        entry["tty"] = True
    if record.spec.process.stdin:
        entry["stdin"] = True
    mounts = _volumes(record, volumes, empty_dirs or {})
    if mounts:
        entry["volumeMounts"] = mounts
    image_workdir = record.image_config.get("WorkingDir") or "/"
    if record.workdir not in ("/", image_workdir):
        entry["workingDir"] = record.workdir
    return entry


def _annotations(records: list["ContainerRecord"], pod_id: str, pod_name: str | None) -> dict[str, str]:
    """podman's per-container annotations (kube play reads some of them back), and the containers' own."""
    found: dict[str, str] = {}
    for record in records:
        name, spec = container_name(record, pod_name), record.spec
        if pod_id:
            found[f"io.kubernetes.cri-o.ContainerType/{name}"] = "container"
            found[f"io.kubernetes.cri-o.SandboxID/{name}"] = pod_id[:63]  # (values are cut there, as podman's)
        found[f"io.kubernetes.cri-o.TTY/{name}"] = str(spec.process.tty).lower()
        found[f"io.podman.annotations.autoremove/{name}"] = str(spec.lifecycle.remove).upper()
        found[f"io.podman.annotations.init/{name}"] = str(spec.process.init).upper()
        found[f"io.podman.annotations.privileged/{name}"] = str(spec.security.privileged).upper()
        found[f"io.podman.annotations.publish-all/{name}"] = str(spec.network.publish_all).upper()
        found.update(spec.lifecycle.annotations)
    return dict(sorted(found.items()))


def pod_document(name: str, records: list["ContainerRecord"], *, pod_id: str = "", ports=(), hostname: str = "",
                 labels: dict[str, str] | None = None, created: float | None = None,
                 empty_dirs: dict[str, str] | None = None, host_network: bool = False) -> dict:
    """A Pod of these containers (a pod's members, or containers alone). `ports`: the pod's published
    ports (its infra container's), given to its first container as podman does; `empty_dirs`: as _volumes'."""
    volumes: dict[str, dict] = {}
    pod_name = name if pod_id else None
    containers = [container_entry(r, pod_name, volumes, (ports if i == 0 else ()) if pod_id else r.spec.network.ports,
                                  empty_dirs) for i, r in enumerate(records)]
    metadata: dict = {"annotations": _annotations(records, pod_id, pod_name), "creationTimestamp": timestamp(created),
                      "labels": {"app": dns_label(name), **(labels or {})}, "name": dns_label(name)}
    spec: dict = {"automountServiceAccountToken": False, "containers": containers, "enableServiceLinks": False}
    if hostname:
        spec["hostname"] = hostname
    if host_network:
        spec["hostNetwork"] = True
    policies = {r.spec.lifecycle.restart.name for r in records}
    spec["restartPolicy"] = RESTART_POLICIES[policies.pop()] if len(policies) == 1 else "Always"
    timeouts = [r.spec.process.stop_timeout for r in records]
    if None not in timeouts:  # every one asked for its wait before SIGKILL (--stop-timeout): Kubernetes' grace
        spec["terminationGracePeriodSeconds"] = max(max(timeouts), 0)
    if volumes:
        spec["volumes"] = list(volumes.values())
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": {}}


def deployment_document(pod: dict, replicas: int = 1) -> dict:
    """The pod as the template of a Deployment (a Deployment's pods restart Always, Kubernetes' rule)."""
    metadata = pod["metadata"]
    template_spec = {**pod["spec"], "restartPolicy": "Always"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"creationTimestamp": metadata["creationTimestamp"], "labels": {"app": metadata["labels"]["app"]},
                     "name": f"{metadata['name']}-deployment"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": metadata["labels"]["app"]}},
                 "template": {"metadata": metadata, "spec": template_spec}},
        "status": {},
    }


def service_document(pod: dict, rng: random.Random | None = None) -> dict | None:
    """A NodePort Service for the pod's published ports (None when it publishes none)."""
    rng = rng or random.Random()
    spec = pod["spec"] if pod["kind"] == "Pod" else pod["spec"]["template"]["spec"]
    ports, seen = [], set()
    for container in spec["containers"]:
        for port in container.get("ports", ()):
            key = (port["containerPort"], port.get("protocol", "TCP"))
            if key in seen:
                continue
            seen.add(key)
            entry = {"name": str(port["containerPort"]) if key[1] == "TCP" else f"{port['containerPort']}-{key[1].lower()}",
                     "nodePort": rng.randint(*NODE_PORTS), "port": port["containerPort"], "targetPort": port["containerPort"]}
            if key[1] != "TCP":
                entry["protocol"] = key[1]
            ports.append(entry)
    if not ports:
        return None
    metadata = pod["metadata"]
    app = metadata["labels"]["app"]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"creationTimestamp": metadata["creationTimestamp"], "labels": {"app": app}, "name": app},
            "spec": {"ports": ports, "selector": {"app": app}, "type": "NodePort"}}
