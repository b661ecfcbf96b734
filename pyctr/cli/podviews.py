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
        "Labels": dict(info.labels), "Networks": ",".join(info.networks), "Cgroup": info.cgroup, "Namespace": "",
        "Containers": [{"Id": m.id, "Names": m.name, "Status": m.state} for m in info.containers],
    }


def ps_json(info: "PodInfo") -> dict:
    """A `pod ps --format json` element (podman's ListPodsReport)."""
    from pyctr.cli.views import _rfc3339

    return {
        "Cgroup": info.cgroup,
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


def _limits(spec: dict) -> dict:
    """pod inspect's limits of the pod's cgroup (podman's keys and order)."""
    limits: dict = {}
    if spec.get("cpus"):
        limits.update(cpu_period=100000, cpu_quota=int(spec["cpus"] * 100000))
    for key in ("cpu_shares", "cpuset_cpus", "cpuset_mems"):
        if spec.get(key):
            limits[key] = spec[key]
    for key in ("device_read_bps", "device_write_bps"):
        if spec.get(key):
            limits[key] = [{"Path": item.rpartition(":")[0], "Rate": int(item.rpartition(":")[2])} for item in spec[key]]
    for key in ("volumes_from", "security_opt"):
        if spec.get(key):
            limits[key] = list(spec[key])
    if spec.get("memory"):
        limits["memory_limit"] = spec["memory"]
    if spec.get("memory") or spec.get("memory_swap"):  # (podman's default swap: twice the memory)
        limits["memory_swap"] = spec.get("memory_swap") or 2 * spec["memory"]
    return limits


# podman's InspectPodData field names where its JSON names differ: what a --format template sees
TEMPLATE_NAMES = {
    "cpu_period": "CPUPeriod", "cpu_quota": "CPUQuota", "cpu_shares": "CPUShares", "cpuset_cpus": "CPUSetCPUs",
    "cpuset_mems": "CPUSetMems", "device_read_bps": "BlkioDeviceReadBps", "device_write_bps": "BlkioDeviceWriteBps",
    "volumes_from": "VolumesFrom", "security_opt": "SecurityOpts", "memory_limit": "MemoryLimit",
    "memory_swap": "MemorySwap", "pid_ns": "PidNS", "userns": "UserNS", "uts_ns": "UtsNS",
}


def template_view(document: dict) -> dict:
    """The inspect document under podman's Go field names (for --format templates)."""
    view = {TEMPLATE_NAMES.get(k, k): v for k, v in document.items()}
    if isinstance(view.get("InfraConfig"), dict):
        view["InfraConfig"] = {TEMPLATE_NAMES.get(k, k): v for k, v in view["InfraConfig"].items()}
    return view


def inspect_document(info: "PodInfo") -> dict:
    """podman's InspectPodData, key for key (no pod cgroup: pyctr makes none)."""
    from pyctr.cli.views import _rfc3339

    spec = info.spec
    document = {
        "Id": info.id,
        "Name": info.name,
        "Created": _rfc3339(info.created),
        "CreateCommand": list(spec.get("create_command") or []),
        "ExitPolicy": spec.get("exit_policy") or "continue",
        "State": info.status,
        "Hostname": spec.get("hostname") or "",
        "Labels": dict(info.labels) or None,
        "CreateCgroup": bool(info.cgroup),
        "CreateInfra": bool(info.infra_id),
    }
    if info.cgroup:  # (podman's keys, in its order)
        del document["CreateInfra"]
        document.update(CgroupParent=info.cgroup.rsplit("/", 1)[0] or "/", CgroupPath=info.cgroup, CreateInfra=bool(info.infra_id))
    limits = _limits(spec)
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
            **{k: v for k, v in limits.items() if k in ("cpu_period", "cpu_quota", "cpuset_cpus")},
            "pid_ns": spec.get("pid") or "private",
            "userns": "host",
            "uts_ns": spec.get("uts") or "private",
        }
    document["SharedNamespaces"] = sorted(info.share)
    document["NumContainers"] = len(info.containers)
    document["Containers"] = [{"Id": m.id, "Name": m.name, "State": m.state} for m in info.containers]
    document.update(limits)
    return document


# -- pod stats (podman's PodStatsReport: zeros are "--", as its pod stats prints them) -------------

POD_STATS = Reporter("stats", "*entities.PodStatsReport", {
    "Pod": "POD", "CID": "CID", "Name": "NAME", "CPU": "CPU %", "MemUsage": "MEM USAGE/ LIMIT",
    "MemUsageBytes": "MEM USAGE/ LIMIT", "Mem": "MEM %", "NetIO": "NET IO", "BlockIO": "BLOCK IO", "PIDS": "PIDS"})
STATS_FORMAT = "table {{.Pod}}\t{{.CID}}\t{{.Name}}\t{{.CPU}}\t{{.MemUsage}}\t{{.Mem}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDS}}"


def stats_row(pod_id: str, s) -> dict:
    """A `pod stats` row (and --format json element) of a member's sample (container.stats.ContainerStats)."""
    from pyctr.cli.stats import bytes_size, human_size

    def pair(a: int, b: int, fmt=human_size) -> str:
        return "-- / --" if not (a or b) else f"{fmt(a)} / {fmt(b)}"

    def percent(value: float) -> str:
        return f"{value:.2f}%" if value else "--"

    return {
        "CPU": percent(s.cpu_percent), "MemUsage": pair(s.mem_usage, s.mem_limit),
        "MemUsageBytes": pair(s.mem_usage, s.mem_limit, bytes_size), "Mem": percent(s.mem_percent),
        "NetIO": pair(s.net_input, s.net_output), "BlockIO": pair(s.block_input, s.block_output),
        "PIDS": str(s.pids) if s.pids else "--", "Pod": pod_id[:12], "CID": s.id[:12], "Name": s.name,
    }
