"""The reading side of engine.containers: `ps` rows (filters, sizes, namespaces) and the logs of
one or several containers. Functions of the Containers namespace, kept here so that it stays small."""

from __future__ import annotations

import os
TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.errors import InvalidArgument

if TYPE_CHECKING:
    from typing import Iterator
    from pyctr.container.store import ContainerRecord
    from pyctr.engine.containers import Container, Containers, ContainerSummary
    from pyctr.runtime.logs import LogLine


def list_containers(ctrs: "Containers", *, all_containers: bool, filters: list[str] | None, last: int, latest: bool,
                    sort: str, size: bool, namespaces: bool) -> list["ContainerSummary"]:
    """See Containers.list."""
    from pyctr.engine import selection
    from pyctr.container.store import ACTIVE
    from pyctr.engine.containertypes import _health_status, _summary

    store = ctrs._s.containers
    records = store.all()
    by_name: dict[str, "ContainerSummary"] = {}

    def lookup(name: str) -> "ContainerSummary":  # before=, since=
        if name not in by_name:
            by_name[name] = _summary(ctrs._record(name), None)
        return by_name[name]

    wanted = selection.parse_filters(_network_names(store.config, filters), lookup)
    rows = [_summary(r, store.status(r.id)) for r in records]
    by_id = {r.id: r for r in records}
    for row, record in zip(rows, records):  # a container in another's network shows its ports (podman's)
        donor = by_id.get(record.network[10:]) if record.network.startswith("container:") else None
        if donor is not None:
            row.ports = donor.ports
    if any(r.pod for r in rows):  # (their names: one read per pod)
        from pyctr.pod.store import PodStore

        pods = PodStore(store.config.root)
        found = {i: pods.load(i) for i in {r.pod for r in rows if r.pod}}
        for row in rows:
            pod = found.get(row.pod)
            row.pod_name, row.is_infra = (pod.name, pod.infra_id == row.id) if pod else ("", False)
    for row, record in zip(rows, records):
        row.health = (_health_status(record, store) or {}).get("Status", "")
    if not (all_containers or filters or last >= 0 or latest):
        rows = [r for r in rows if r.state in ACTIVE]
    rows = [r for r in rows if wanted(r)]
    rows.sort(key=lambda r: r.created)
    if latest:
        rows = rows[-1:]
    elif last >= 0:
        rows = rows[len(rows) - last:] if last else []
    if size:
        rows = [with_size(ctrs, r) for r in rows]
    if namespaces:
        for row in rows:
            row.namespaces = namespaces_of(row.pid) if row.state in ACTIVE else {}
    return selection.sort_rows(rows, sort) if sort != "created" else rows


def with_size(ctrs: "Containers", row: "ContainerSummary") -> "ContainerSummary":
    """podman's ps --size: what the container wrote (its upper directory) and that plus the image."""
    from pyctr.errors import NotFound
    from pyctr.linux.fsutil import tree_size

    row.rw_size = tree_size(ctrs._s.containers.path(row.id) / "overlay" / "upper")
    try:
        image_size = ctrs._s.images.get(row.image_id).size
    except NotFound:
        image_size = 0
    row.root_size = image_size + row.rw_size
    return row


_NAMESPACES = (("Mnt", "mnt"), ("Cgroup", "cgroup"), ("Ipc", "ipc"), ("Net", "net"), ("Pidns", "pid"),
               ("Uts", "uts"), ("User", "user"))  # podman's keys and order


def namespaces_of(pid: int) -> dict[str, str]:
    """The inode numbers of a process's namespaces, as podman's ps --ns shows them."""
    found = {}
    for key, ns in _NAMESPACES:
        try:
            found[key] = os.readlink(f"/proc/{pid}/ns/{ns}").rpartition("[")[2].rstrip("]")
        except OSError:
            found[key] = ""
    return found


# -- logs --------------------------------------------------------------------------------------

def log_path(ctrs: "Containers", record: "ContainerRecord") -> str:
    """Where the container's log is: --log-opt path, or its own file; "" for the none driver."""
    from pyctr.container import logdriver

    lifecycle = record.spec.lifecycle
    if not logdriver.keeps_log(lifecycle):
        return ""
    return lifecycle.log_path or str(ctrs._s.containers.log_path(record.id))


def log_lines(ctrs: "Containers", record: "ContainerRecord", *, follow: bool, tail: int | None,
              since: float | None, until: float | None) -> Iterator["LogLine"]:
    from pyctr.container import logdriver
    from pyctr.container.store import ACTIVE
    from pyctr.runtime import logs

    path = log_path(ctrs, record)
    if not path:
        raise logdriver.not_logging(record.spec.lifecycle.log_driver)
    store = ctrs._s.containers

    def finished() -> bool:
        # A container removed meanwhile (--rm, or rm -f by another command) has no state left to
        # say it ended: its status would read "created" for ever.
        return not store.path(record.id).exists() or store.status(record.id).state not in (*ACTIVE, "created")

    if follow:
        lines = logs.follow_log(path, is_finished=finished, tail=tail, since=since)
    else:
        lines = logs.read_log(path, tail=tail, since=since, until=until)
    return logs.until(lines, until) if until is not None else lines


def logs_of(ctrs: "Containers", names: list[str] | None, *, latest: bool, follow: bool, tail: int | None,
            since: float | None, until: float | None) -> Iterator[tuple["Container", "LogLine"]]:
    """See Containers.logs_of."""
    from pyctr.engine.containers import _container
    from pyctr.runtime import logs

    if latest and names:
        raise InvalidArgument("--latest and containers cannot be used together")
    if not latest and not names:
        raise InvalidArgument("specify at least one container name or ID to log")
    records = [ctrs._record(ctrs.latest().id)] if latest else [ctrs._record(n) for n in names or []]

    def tagged(record, lines):
        container = _container(record)
        return ((container, line) for line in lines)

    streams = [tagged(r, log_lines(ctrs, r, follow=follow, tail=tail, since=since, until=until)) for r in records]
    if len(streams) == 1:
        return streams[0]
    return logs.merge(streams, follow=follow)


def _network_names(config, filters: list[str] | None) -> list[str] | None:
    """network=ID (or a unique ID prefix) as the network's name: podman matches either."""
    if not any(f.startswith("network=") for f in filters or []):
        return filters
    from pyctr.errors import PyctrError
    from pyctr.network.store import NetworkStore

    networks, result = NetworkStore(config.networks_dir), []
    for item in filters:
        key, _, value = item.partition("=")
        if key == "network":
            try:
                value = networks.get(value).name
            except PyctrError:
                pass  # (no such network: it matches no container)
        result.append(f"{key}={value}" if key == "network" else item)
    return result
