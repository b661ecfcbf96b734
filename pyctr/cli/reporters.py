"""podman's reporter types for --format: for each listing command, the name its templates carry
(Go's messages show it: "template: ps:1:13: ..."), the Go type a row is (an unknown field is an
error naming it) and the column titles of a "table" format.

The titles are what podman's report.Headers gives: one per struct field (the name split at capitals,
upper-cased) plus podman's overrides; fields that are methods have none, and print <no value> in the
heading, as in podman. Recorded from podman 4.3.1.
"""

from __future__ import annotations

from pyctr.cli.gotemplate.values import Struct


class Reporter:
    """One command's row type: template name, Go type name, titles."""

    __slots__ = ("name", "type_name", "headers")

    def __init__(self, name: str, type_name: str, headers: dict[str, str]):
        self.name, self.type_name, self.headers = name, type_name, headers

    def rows(self, dicts, json_views=None) -> list[Struct]:
        """The rows as Go structs of this type (json_views: what {{json .}} prints for each)."""
        views = json_views or [None] * len(dicts)
        return [Struct(d, self.type_name, v) for d, v in zip(dicts, views)]


def _titles(*names: str, **overrides: str) -> dict[str, str]:
    """report.Headers: each field split at capitals and upper-cased, then the overrides."""
    from pyctr.cli.gotemplate.table import camel_title

    return {**{n: camel_title(n) for n in names}, **overrides}


PS = Reporter("ps", "containers.psReporter", _titles(
    "AutoRemove", "Command", "Created", "CreatedAt", "Exited", "ExitedAt", "ExitCode", "Image", "ImageID", "IsInfra",
    "Labels", "Mounts", "Names", "Namespaces", "Networks", "Pid", "Ports", "Size", "StartedAt", "State", "Status",
    ID="CONTAINER ID", CreatedHuman="CREATED", Pod="POD ID", PodName="PODNAME", RunningFor="RUNNING FOR",
    Cgroup="CGROUPNS", User="USERNS", IPC="IPC", MNT="MNT", NET="NET", PIDNS="PIDNS", UTS="UTS"))
# Fields that are methods of psReporter, with no title of their own: valid, <no value> in a heading.
PS_UNTITLED = ("CGROUPNS", "USERNS")

IMAGES = Reporter("images", "images.imageReporter", _titles(
    "Digest", "Created", "Size", "VirtualSize", "Names", "RepoTags", "RepoDigests", "History", "Dangling",
    "Repository", "Tag", "Labels", "Containers", "SharedSize", "ParentId",
    ID="IMAGE ID", ReadOnly="R/O"))

VOLUMES = Reporter("ls", "*entities.VolumeListReport", _titles(
    "Driver", "Mountpoint", "CreatedAt", "Labels", "Scope", "Options", "MountCount", "NeedsCopyUp", "NeedsChown",
    "Anonymous", "Status", "Timeout", Name="VOLUME NAME", UID="UID", GID="GID"))

# network ls: podman's ListPrintReports (types.Network plus its Labels method); inspect --format
# sees types.Network through interface{}, with the same titles in a "table".
NETWORKS = Reporter("ls", "network.ListPrintReports", _titles(
    "Name", "Driver", "NetworkInterface", "Created", "Subnets", "IPv6Enabled", "Internal", "DNSEnabled", "Labels",
    "Options", "IPAMOptions", ID="NETWORK ID"))
NETWORK_INSPECT = Reporter("inspect", "interface {}", NETWORKS.headers)

SECRETS = Reporter("ls", "*entities.SecretListReport", _titles(
    "ID", "Name", "Driver", CreatedAt="CREATED", UpdatedAt="UPDATED"))

HISTORY = Reporter("history", "images.historyReporter", _titles(
    "Created", "Size", "Comment", "Tags", ID="ID", CreatedBy="CREATED BY"))

DF = Reporter("df", "*system.dfSummary", _titles("Type", "Total", "Active", "Size", "Reclaimable", "RawSize",
                                                 "RawReclaimable"))

STATS = Reporter("stats", "containers.containerStats", _titles(
    "Name", "MemUsage", "NetIO", "BlockIO", "CPU", "AvgCPU", "Duration", "ContainerID", "MemLimit", "CPUNano",
    "PerCPU", "SystemNano", "NetInput", "NetOutput", "BlockInput", "BlockOutput", "CPUSystemNano", "MemPerc",
    ID="ID", CPUPerc="CPU %", MemPerc="MEM %", NetIO="NET IO", BlockIO="BLOCK IO", PIDs="PI DS", PIDS="PIDS",
    UpTime="CPU TIME", MemUsage="MEM USAGE / LIMIT", MemUsageBytes="MEM USAGE / LIMIT", AVGCPU="AVG CPU %"))

EVENTS = Reporter("events", "*events.Event", _titles(
    "ID", "Image", "Name", "Status", "Time", "Type", "Attributes", "ContainerExitCode", "Details", "PodID",
    "Network", "HealthStatus"))

# inspect: each document is a Go value seen through interface{}; its parts are typed structs
# (a typo in a field name fails naming the type), the rest are maps (a missing key prints <no value>).
INSPECT_PREFIX = "inspecting object: printing inspect output: "
CONTAINER_TYPES = {
    "": "interface {}", "State": "*define.InspectContainerState", "State.Health": "define.HealthCheckResults",
    "Config": "*define.InspectContainerConfig", "HostConfig": "*define.InspectContainerHostConfig",
    "HostConfig.LogConfig": "*define.InspectLogConfig", "HostConfig.RestartPolicy": "*define.InspectRestartPolicy",
    "GraphDriver": "*define.DriverData", "NetworkSettings": "*define.InspectNetworkSettings",
    "Config.Healthcheck": "*manifest.Schema2HealthConfig",
}
IMAGE_TYPES = {"": "interface {}", "Config": "*v1.ImageConfig", "RootFS": "*inspect.RootFS",
               "GraphDriver": "*define.DriverData"}
VOLUME_TYPES = {"": "interface {}"}
SECRET_TYPES = {"": "*entities.SecretInfoReport", "Spec": "entities.SecretSpec", "Spec.Driver": "entities.SecretDriverSpec"}
INFO_TYPES = {"": "*define.Info", "Host": "*define.HostInfo", "Store": "*define.StoreInfo",
              "Version": "define.Version", "Plugins": "define.Plugins", "Host.Security": "define.SecurityInfo"}
INFO = Reporter("info", "*define.Info", {})
VERSION = Reporter("version", "*define.Version", {})
DF_ROWS = Reporter("df", "*system.dfSummary", {})


def types_of(doc: dict) -> tuple[dict[str, str], dict]:
    """The struct types of an inspect document and their podman fields: a container's, an image's,
    or (volumes, exec sessions) only the top level, with the document's own fields."""
    from pyctr.cli import inspectfields

    if "HostConfig" in doc and "State" in doc:
        return CONTAINER_TYPES, inspectfields.CONTAINER
    if "RootFS" in doc:
        return IMAGE_TYPES, inspectfields.IMAGE
    if "Mountpoint" in doc and "Scope" in doc:
        return VOLUME_TYPES, inspectfields.VOLUME
    return VOLUME_TYPES, {}


def typed(doc, types: dict[str, str], fields: dict | None = None, path: str = ""):
    """`doc` with the dicts at the paths of `types` turned into Structs of those Go types; podman's
    fields that the document lacks (`fields`, by path: see cli.inspectfields) hold their zero value."""
    if isinstance(doc, dict):
        inner = {k: typed(v, types, fields, f"{path}.{k}" if path else k) for k, v in doc.items()}
        if path not in types:
            return inner
        for name, zero in (fields or {}).get(path, {}).items():
            if name not in inner:
                struct = type(zero) is object  # inspectfields.STRUCT
                inner[name] = typed({}, types, fields, f"{path}.{name}" if path else name) if struct else _copy(zero)
        return Struct(inner, types[path])
    return doc


def _copy(zero):
    """A zero value of inspectfields (None, False, 0, "", [] or {}) that its document may change."""
    return zero.copy() if isinstance(zero, (list, dict)) else zero
