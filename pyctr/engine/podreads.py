"""engine.pods, the reading half: `pod top`, `pod logs`, `pod stats` (podman 4.3.1's), each the
containers' own reading (engine.containerreads, container.top, container.stats) over the pod's
members: in the order of their IDs (podman's), the infra container included."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from pyctr.errors import ContainerNotFound, InvalidArgument
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.container.stats import ContainerStats
    from pyctr.container.store import ContainerRecord
    from pyctr.engine.containertypes import Container
    from pyctr.engine.inspection import Top
    from pyctr.pod.store import PodRecord
    from pyctr.runtime.logs import LogLine


@value
class PodStats:
    """One member's sample in `pod stats`."""

    pod_id: str
    stats: "ContainerStats"


class PodReading:
    """Part of engine.pods.Pods (its lookups: get, latest, _members)."""

    def _by_id(self, pod: "PodRecord") -> list["ContainerRecord"]:
        return sorted(self._members(pod.id), key=lambda r: r.id)

    def top(self, name: str | None, args: list[str] | None = None, *, latest: bool = False) -> "Top":
        """The processes of the pod's running containers, one table (podman's descriptors only: no
        ps options here, as podman's pod top)."""
        from pyctr.container import top as topmod
        from pyctr.engine import inspection
        from pyctr.engine.inspection import Top
        from pyctr.pod.store import PodNotFound

        args = list(args or [])
        if topmod.descriptors(args) is None:
            bad = next(a for a in args if topmod.descriptors([a]) is None)
            raise InvalidArgument(f"'{bad}': unknown descriptor")
        if not name and not latest:
            raise InvalidArgument("you must provide the name or id of a running pod")
        try:
            pod = self.latest() if latest else self.get(name)
        except PodNotFound as exc:
            raise PodNotFound(f"unable to look up requested container: {exc}") from None
        store = self._s.containers
        result = Top()
        for record in self._by_id(pod):
            if store.status(record.id).state not in ("running", "paused"):
                continue
            part = inspection.top(self._s, record, args)
            result.headers = part.headers
            result.rows.extend(part.rows)
        return result

    def logs(self, name: str | None, *, container: str | None = None, latest: bool = False, follow: bool = False,
             tail: int | None = None, since: float | None = None,
             until: float | None = None) -> tuple[int, Iterator[tuple["Container", "LogLine"]]]:
        """(how many containers, their lines merged by time as `logs` of several containers): the
        pod's containers, or only `container` (a member)."""
        if latest and name:
            raise InvalidArgument("--latest and pods cannot be used together")
        if not latest and not name:
            raise InvalidArgument("specify at least one pod name or ID to log")
        pod = self.latest() if latest else self.get(name)
        records = self._by_id(pod)
        if container:
            try:
                wanted = self._containers._record(container).id
            except ContainerNotFound:
                wanted = ""
            records = [r for r in records if r.id == wanted]
            if not records:
                raise ContainerNotFound(f"container {container} is not in pod {name or pod.name}: no such container")
        if not records:
            return 0, iter(())
        lines = self._containers.logs_of([r.id for r in records], follow=follow, tail=tail, since=since, until=until)
        return len(records), lines

    def stats(self, names: list[str] | None = None, *, all_pods: bool = False, latest: bool = False,
              previous: dict | None = None) -> list[PodStats]:
        """A sample of each member of the pods (every pod without names), by pod and container ID;
        `previous` ({container id: its last sample}) makes CPU % the use since then."""
        from pyctr.container import stats
        from pyctr.linux import cgroupstats
        from pyctr.pod.store import PodNotFound

        names = list(names or [])
        if sum((bool(names), all_pods, latest)) > 1:
            raise InvalidArgument("--all, --latest and arguments cannot be used together")
        stats.check_supported(self._s.config.rootless)
        if latest:
            pods = [self.latest()]
        elif names:
            pods = []
            for name in names:
                try:
                    pods.append(self.get(name))
                except PodNotFound as exc:
                    raise PodNotFound(f"unable to get list of pods: {exc}") from None
        else:
            pods = self.store.all()
        records = self._s.containers.all()
        mounts = cgroupstats.cgroup_mounts()
        previous = previous or {}
        found = []
        for pod in sorted(pods, key=lambda p: p.id):
            for record in sorted(self._members(pod.id, records), key=lambda r: r.id):
                found.append(PodStats(pod.id, stats.sample(self._s.containers, record, previous.get(record.id), mounts)))
        return found
