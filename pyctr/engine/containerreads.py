"""engine.containers, the reading half: ps, inspect, logs, stats, top, port, diff, mount."""

from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.container.store import LIVE
from pyctr.engine.containertypes import Container, ContainerInfo, ContainerSummary, _container, _health_status, _summary
from pyctr.engine.reports import Report
from pyctr.errors import ContainerNotFound, InvalidArgument

if TYPE_CHECKING:
    from typing import Iterator
    from pyctr.container.spec import PortMapping
    from pyctr.container.store import ContainerRecord
    from pyctr.engine.inspection import MountedContainer, Top
    from pyctr.runtime.logs import LogLine
    from pyctr.snapshot.diff import Change


class ContainerReading:
    """Part of engine.containers.Containers (its lookups: _record, _latest, _each)."""

    # -- reading -----------------------------------------------------------------------------

    def list(self, *, all_containers: bool = False, filters: list[str] | None = None, last: int = -1,
             latest: bool = False, sort: str = "created", size: bool = False,
             namespaces: bool = False) -> list[ContainerSummary]:
        """As podman's ps: oldest first (or by `sort`); running ones only unless all_containers, filters,
        `last` (the N created last) or `latest` (the one created last). `filters`: podman's ps keys
        (pyctr.engine.selection). `size`: rw_size and root_size; `namespaces`: the /proc namespaces."""
        from pyctr.engine import listing

        return listing.list_containers(self, all_containers=all_containers, filters=filters, last=last, latest=latest,
                                       sort=sort, size=size, namespaces=namespaces)

    def inspect(self, name: str, *, size: bool = False) -> ContainerInfo:
        """`size`: also what the container wrote (rw_size) and that plus its image (root_size)."""
        from pyctr.container.execs import ExecStore

        record = self._record(name)
        store = self._s.containers
        rw_size = root_size = -1
        if size:
            from pyctr.engine import listing

            sized = listing.with_size(self, _summary(record, None))
            rw_size, root_size = sized.rw_size, sized.root_size
        digest, graph = _storage_view(self._s, record)
        status = store.status(record.id)
        running = status.state in LIVE  # an initialized container has its shim and cgroup too
        return ContainerInfo(record, status, self._log_path(record),
                             str(store.path(record.id) / "userdata"), rw_size, root_size,
                             health=_health_status(record, store), exec_ids=ExecStore(store).ids(record.id),
                             image_digest=digest, graph_driver=graph, runtime=self._s.config.runtime or "runc",
                             shim_pid=store.shim_pid(record.id) if running else 0,
                             cgroup_path=_cgroup_of(status.pid) if running else "",
                             oci_config_path=_existing(store.bundle(record.id) / "config.json"),
                             **_network_view(store, record, running))

    def _log_path(self, record: "ContainerRecord") -> str:
        from pyctr.engine import listing

        return listing.log_path(self, record)

    def logs(self, name: str, *, follow: bool = False, tail: int | None = None, since: float | None = None,
             until: float | None = None) -> Iterator["LogLine"]:
        """The container's output lines (k8s-file log); `follow` keeps reading until the container exits."""
        from pyctr.engine import listing

        return listing.log_lines(self, self._record(name), follow=follow, tail=tail, since=since, until=until)

    def logs_of(self, names: list[str] | None = None, *, latest: bool = False, follow: bool = False,
                tail: int | None = None, since: float | None = None,
                until: float | None = None) -> Iterator[tuple[Container, "LogLine"]]:
        """The lines of several containers, each with its container, merged by time (also when following).
        Every name is looked up (and a container without a log refused) before any line is read."""
        from pyctr.engine import listing

        return listing.logs_of(self, names, latest=latest, follow=follow, tail=tail, since=since, until=until)

    def stats(self, names: list[str] | None = None, *, all_containers: bool = False, latest: bool = False,
              previous: dict | None = None) -> list:
        """One resource sample per container (pyctr.container.stats.ContainerStats), by ID. Without
        names every container, as podman 4.3 (those not running with zeros); `latest`: the newest.
        `previous` ({id: the last sample}) makes CPU % the use since then."""
        from pyctr.container import stats
        from pyctr.linux import cgroupstats

        stats.check_options(names, all_containers, latest)
        stats.check_supported(self._s.config.rootless)
        store = self._s.containers
        if names:
            records = []
            for name in names:
                try:
                    records.append(self._record(name))
                except ContainerNotFound as exc:
                    raise ContainerNotFound(f"unable to get list of containers: unable to look up container {name}: {exc}") from None
        else:
            records = sorted(store.all(), key=lambda r: r.created, reverse=True)[:1 if latest else None]
        mounts = cgroupstats.cgroup_mounts()
        previous = previous or {}
        found = [stats.sample(store, r, previous.get(r.id), mounts) for r in records]
        return sorted(found, key=lambda s: s.id)

    # -- port, diff, top, mount, init, update (pyctr.engine.inspection does the work) ---------

    def top(self, name: str | None, args: list[str] | None = None, *, latest: bool = False) -> "Top":
        """podman's descriptors (`pid user args etime ...`, default: user pid ppid pcpu etime tty time
        args) from /proc; arguments that are not descriptors (`-ef`, `aux`) run the container's ps."""
        from pyctr.engine import inspection

        try:
            record = self._latest() if latest else self._record(name or "")
        except ContainerNotFound as exc:
            raise ContainerNotFound(f"unable to look up requested container: {exc}") from None
        return inspection.top(self._s, record, list(args or []))

    def port(self, name: str | None = None, private: str | None = None, *, all_containers: bool = False,
             latest: bool = False) -> list[tuple["Container", list["PortMapping"]]]:
        """Published ports: of one container (only those of container port `private`, PORT[/PROTO]),
        or of every container with published ports (`all_containers`), or of the latest one."""
        from pyctr.engine import inspection

        if all_containers and (name or private):
            raise InvalidArgument("no arguments are needed with --all")
        if not (all_containers or latest or name):
            raise InvalidArgument("you must supply a running container name or id")
        if all_containers:
            records = [r for r in self._s.containers.all() if r.ports]
            return [(_container(r), r.ports) for r in sorted(records, key=lambda r: r.id)]
        record = self._latest() if latest else self._record(name)
        return [(_container(record), inspection.ports(record, private))]

    def diff(self, name: str | None = None, *, latest: bool = False) -> list["Change"]:
        """What the container changed in its filesystem (A added, C changed, D deleted), as podman's diff."""
        from pyctr.engine import inspection

        return inspection.container_diff(self._s, self._latest() if latest else self._record(name))

    def mount(self, names: list[str] | None = None, *, all_containers: bool = False, latest: bool = False) -> list[tuple["Container", str]]:
        """Mount containers' root filesystems (counted: each needs its unmount); where each is."""
        from pyctr.engine import inspection

        records = [self._latest()] if latest else (self._s.containers.all() if all_containers else [self._record(n) for n in names or []])
        return [(_container(r), inspection.mount(self._s, r)) for r in records]

    def mounted(self) -> list["MountedContainer"]:
        """Containers whose root filesystem is mounted now."""
        from pyctr.engine import inspection

        return inspection.mounted(self._s)

    def unmount(self, names: list[str] | None = None, *, all_containers: bool = False, force: bool = False,
                latest: bool = False) -> list[Report]:
        """One mount less each (every one with `force`); the last unmounts unless the container runs."""
        from pyctr.engine import inspection

        if latest:
            names = [self._latest().id]
        elif all_containers:
            names = [m.id for m in inspection.mounted(self._s)]
        elif not names:
            raise InvalidArgument("you must provide at least one name or id")
        return self._each(list(names), lambda r: inspection.unmount(self._s, r, force=force))


def _existing(path) -> str:
    return str(path) if path.exists() else ""


def _cgroup_of(pid: int) -> str:
    """A process's cgroup: the unified hierarchy's path, else (cgroup v1) the pids controller's."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = [line.rstrip("\n").split(":", 2) for line in f if line.count(":") >= 2]
    except OSError:
        return ""
    paths = {controllers: path for _, controllers, path in lines}
    unified = paths.get("", "")
    return unified if unified not in ("", "/") else paths.get("pids", unified)


def _storage_view(s, record) -> tuple[str, dict]:
    """(the image's manifest digest, inspect's GraphDriver.Data) of a container."""
    import os

    from pyctr.errors import PyctrError

    if record.spec.image.rootfs:  # --rootfs: a directory, no overlay
        return "", {}
    try:
        image = s.images.get(record.image_id)
    except PyctrError:  # its image is gone
        return "", {}
    base = s.containers.path(record.id)
    data = {"LowerDir": ":".join(str(d) for d in s.images.layers.lowerdirs(image.chain_ids))}
    merged = s.containers.rootfs(record.id)
    if os.path.ismount(merged):  # an overlay has a device of its own (pyctr.linux.mount, with ctypes, costs more)
        data["MergedDir"] = str(merged)
    data.update(UpperDir=str(base / "overlay" / "upper"), WorkDir=str(base / "overlay" / "work"))
    return image.manifest_digest, data


def _network_view(store, record: "ContainerRecord", running: bool) -> dict:
    """ContainerInfo's network_status and netns_path while the container runs on bridge networks."""
    if not running or record.network != "bridge":
        return {}
    from pyctr.network import bridge

    answer = bridge.recorded(store.path(record.id))
    return {"network_status": answer.get("status") or {}, "netns_path": answer.get("netns", "")}
