"""Pods as podman 4.3.1 shows them: `pod ps` rows (ListPodReporter) and JSON, `pod inspect` documents."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pyctr.cli.reporters import Reporter, _titles

if TYPE_CHECKING:
    from pyctr.engine.pods import PodInfo

POD_PS = Reporter("ps", "pods.ListPodReporter", _titles(
    "Name", "Status", "Labels", "Created", "Containers", "Id", "InfraId", "Namespace",
    ID="POD ID", InfraID="INFRA ID", NumberOfContainers="# OF CONTAINERS", ContainerIds="IDS", ContainerNames="NAMES",
    ContainerStatuses="STATUS", Cgroup="CGROUP", Networks="NETWORKS"))
# Namespace's title is podman's: NAMESPACES
POD_PS.headers["Namespace"] = "NAMESPACES"


def table_format(*, ctr_ids: bool, ctr_names: bool, ctr_status: bool, namespaces: bool, labels: bool = False) -> str:
    """podman's default `pod ps` columns for its flags."""
    columns = ["{{.ID}}", "{{.Name}}", "{{.Status}}", "{{.Created}}", "{{.InfraID}}"]
    if namespaces:
        columns += ["{{.Cgroup}}", "{{.Namespace}}"]
    if ctr_ids:
        columns.append("{{.ContainerIds}}")
    if ctr_names:
        columns.append("{{.ContainerNames}}")
    if ctr_status:
        columns.append("{{.ContainerStatuses}}")
    if not (ctr_ids or ctr_names or ctr_status):
        columns.append("{{.NumberOfContainers}}")
    return "table " + "\t".join(columns)


def ps_row(info: "PodInfo", *, no_trunc: bool = False, now: float | None = None) -> dict:
    from pyctr.units import human_duration

    now = now or time.time()
    cut = (lambda s: s) if no_trunc else (lambda s: s[:12])
    return {
        "ID": cut(info.id), "Id": info.id, "Name": info.name, "Status": info.status,
        "Created": human_duration(now - info.created) + " ago",
        "InfraID": cut(info.infra_id), "InfraId": info.infra_id,
        "NumberOfContainers": len(info.containers),
        "ContainerIds": ",".join(cut(m.id) for m in info.containers),
        "ContainerNames": ",".join(m.name for m in info.containers),
        "ContainerStatuses": ",".join(m.state for m in info.containers),
        "Labels": dict(info.labels), "Networks": ",".join(info.networks), "Cgroup": "", "Namespace": "",
        "Containers": [{"Id": m.id, "Names": m.name, "Status": m.state} for m in info.containers],
    }


def ps_json(info: "PodInfo") -> dict:
    """A `pod ps --format json` element (podman's ListPodsReport)."""
    from pyctr.cli.views import _rfc3339

    return {
        "Cgroup": "",
        "Containers": [{"Id": m.id, "Names": m.name, "Status": m.state} for m in info.containers],
        "Created": _rfc3339(info.created),
        "Id": info.id,
        "InfraId": info.infra_id,
        "Name": info.name,
        "Namespace": "",
        "Networks": list(info.networks),
        "Status": info.status,
        "Labels": dict(info.labels),
    }


def inspect_document(info: "PodInfo") -> dict:
    """podman's InspectPodData, key for key (no pod cgroup: pyctr makes none)."""
    from pyctr.cli.views import _rfc3339

    spec = info.spec
    document = {
        "Id": info.id,
        "Name": info.name,
        "Created": _rfc3339(info.created),
        "CreateCommand": list(spec.get("create_command") or []),
        "ExitPolicy": "continue",
        "State": info.status,
        "Hostname": spec.get("hostname") or "",
        "Labels": dict(info.labels) or None,
        "CreateCgroup": False,
        "CreateInfra": bool(info.infra_id),
    }
    if not document["Labels"]:
        del document["Labels"]
    if info.infra_id:
        bindings: dict[str, list] = {}
        for port in spec.get("ports") or []:
            bindings.setdefault(f"{port['container_port']}/{port['protocol']}", []).append(
                {"HostIp": port.get("host_ip", ""), "HostPort": str(port["host_port"])})
        attachments = spec.get("networks") or []
        first = attachments[0] if attachments else {}
        document["InfraContainerID"] = info.infra_id
        document["InfraConfig"] = {
            "PortBindings": bindings,
            "HostNetwork": spec.get("network_mode") == "host",
            "StaticIP": ",".join(first.get("ips") or []) if first else "",
            "StaticMAC": first.get("mac", "") if first else "",
            "NoManageResolvConf": False,
            "DNSServer": list(spec.get("dns") or []) or None,
            "DNSSearch": list(spec.get("dns_search") or []) or None,
            "DNSOption": list(spec.get("dns_options") or []) or None,
            "NoManageHosts": bool(spec.get("no_hosts")),
            "HostAdd": list(spec.get("add_hosts") or []) or None,
            "Networks": list(info.networks) if spec.get("network_mode") in (None, "bridge") else [],
            "NetworkOptions": None,
            "pid_ns": "private",
            "userns": "host",
            "uts_ns": "private",
        }
    document["SharedNamespaces"] = sorted(info.share)
    document["NumContainers"] = len(info.containers)
    document["Containers"] = [{"Id": m.id, "Name": m.name, "State": m.state} for m in info.containers]
    return document
