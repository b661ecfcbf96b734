"""engine.pods: pods (podman's), each a set of containers sharing the namespaces of an infra container.

The infra container is an ordinary container made through the containers' own create path, from a
root filesystem pyctr prepares once (catatonit, never pulled); the pod's network options are its.
Members name their pod in their spec (lifecycle.pod); nothing else keeps the membership.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from pyctr.engine.podreads import PodReading
from pyctr.engine.reports import Report
from pyctr.errors import ContainerStateError, InvalidArgument, NotFound, PyctrError
from pyctr.pod.store import DEFAULT_SHARE, SHAREABLE, PodNotFound, PodSpec
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.container.store import ContainerRecord
    from pyctr.engine.services import Services
    from pyctr.pod.store import PodRecord

SORT_KEYS = ("created", "id", "name", "number", "status")
PS_KEYS = ("id", "name", "label", "status", "ctr-names", "ctr-ids", "ctr-status", "ctr-number", "network", "until")
POD_STATES = ("stopped", "running", "paused", "exited", "dead", "created", "degraded")


@value
class PodMember:
    id: str
    name: str
    state: str  # podman's container state words (created, running, paused, exited, ...)


@value
class PodInfo:
    """A pod as `pod ps` and `pod inspect` show it."""

    id: str
    name: str
    created: float
    status: str  # Created, Running, Degraded, Paused, Stopped, Exited (podman's words)
    infra_id: str
    hostname: str
    labels: dict
    share: list
    containers: list  # [PodMember], creation order (the infra container first)
    spec: dict  # the PodSpec as asked
    networks: list  # the infra container's networks, by name
    cgroup: str = ""  # the pod's own cgroup ("": none)


def pod_status(states: list[str]) -> str:
    """podman's pod status from its containers' states."""
    if not states:
        return "Created"
    running = sum(s in ("running", "stopping") for s in states)
    stopped = sum(s in ("exited", "stopped") for s in states)
    if running:
        return "Running" if running == len(states) else "Degraded"
    if all(s == "paused" for s in states):
        return "Paused"
    if stopped == len(states):
        return "Exited"
    if stopped:
        return "Stopped"
    return "Created"


class Pods(PodReading):
    def __init__(self, services: "Services", containers=None):
        self._s = services
        self._containers = containers  # engine.containers.Containers (its create path, with events)

    @property
    def store(self):
        from pyctr.pod.store import PodStore

        return PodStore(self._s.config.root)

    def _event(self, status: str, pod: "PodRecord") -> None:
        from pyctr import events

        events.emit(self._s.config, "pod", status, id=pod.id, name=pod.name)

    # -- creating ----------------------------------------------------------------------------

    def create(self, spec: PodSpec, *, replace: bool = False) -> "PodRecord":
        """A new pod and (unless spec.infra is false) its infra container, created, not started."""
        _validate(spec)
        if replace and spec.name:
            try:
                self.remove([spec.name], force=True)
            except PyctrError:
                pass
        from dataclasses import asdict

        store = self.store
        rootfs = store.infra_rootfs() if spec.infra and not spec.infra_image else None
        record = store.create(spec.name, asdict(spec), spec.hostname)
        try:
            from pyctr.pod import cgroup

            if cgroup.wanted(spec):
                record.cgroup = cgroup.path_for(record.id, spec.cgroup_parent)
                store.save(record)
                cgroup.create(record.cgroup, spec, rootless=self._s.config.rootless)
            if spec.infra:
                record.infra_id = self._create_infra(record, spec, str(rootfs) if rootfs else None).id
                store.save(record)
        except BaseException:
            store.remove(record)
            _remove_cgroup(record)
            raise
        self._event("create", record)
        return record

    def _create_infra(self, pod: "PodRecord", spec: PodSpec, rootfs: str | None) -> "ContainerRecord":
        """From pyctr's catatonit root filesystem, or from --infra-image (its entrypoint and command
        unless --infra-command, which replaces the entrypoint, as podman's)."""
        from pyctr.container import flags, mountopts
        from pyctr.container.spec import ContainerSpec, ImageSpec, NetworkAttachment, PortMapping

        if spec.infra_image:
            infra = ContainerSpec(ImageSpec(spec.infra_image))
            if spec.infra_command:
                infra.process.entrypoint = list(spec.infra_command)
        else:
            infra = ContainerSpec(ImageSpec(rootfs, rootfs=True))
            infra.process.command = list(spec.infra_command or ["/catatonit", "-P"])
        infra.resources.cgroup_parent = pod.cgroup or spec.cgroup_parent
        # what the members get through it: volumes (--volumes-from), /dev/shm, sysctls, namespaces
        infra.storage.mounts = [mountopts.parse_volume(v) for v in spec.volumes]
        infra.storage.volumes_from = list(spec.volumes_from)
        infra.storage.shm_size = spec.shm_size
        infra.namespaces.sysctls = dict(spec.sysctls)
        infra.storage.devices = [flags.device(d) for d in spec.devices]
        infra.namespaces.pid, infra.namespaces.uts = spec.pid or "", spec.uts or ""
        flags.security_options(list(spec.security_opt), infra.security)
        infra.lifecycle.name = spec.infra_name or f"{pod.id[:12]}-infra"
        infra.lifecycle.pod = pod.id
        infra.lifecycle.create_command = list(spec.create_command)
        infra.lifecycle.conmon_pidfile = spec.infra_conmon_pidfile
        network = infra.network
        if "net" in spec.share:
            network.mode = spec.network_mode
            network.networks = [n if isinstance(n, NetworkAttachment) else NetworkAttachment(**n) for n in spec.networks]
            for attachment in network.networks:  # the pod answers to its name in its networks' DNS (podman's)
                attachment.aliases = [*attachment.aliases, pod.name]
            network.ports = [p if isinstance(p, PortMapping) else PortMapping(**p) for p in spec.ports]
            network.add_hosts, network.dns = list(spec.add_hosts), list(spec.dns)
            network.dns_search, network.dns_options = list(spec.dns_search), list(spec.dns_options)
            infra.storage.no_hosts = spec.no_hosts
        if "uts" in spec.share and spec.uts != "host":
            network.hostname = pod.hostname
        if "ipc" in spec.share:
            infra.namespaces.ipc = "shareable"
        return self._containers._create(infra, replace=False, progress=None)

    # -- reading -----------------------------------------------------------------------------

    def get(self, name: str) -> "PodRecord":
        return self.store.resolve(name)

    def exists(self, name: str) -> bool:
        try:
            self.get(name)
        except NotFound:
            return False
        return True

    def latest(self) -> "PodRecord":
        pods = self.store.all()
        if not pods:
            raise PodNotFound("no pods to act on: no such pod")  # (podman's text for an empty --latest)
        return pods[-1]

    def _members(self, pod_id: str, records=None) -> list["ContainerRecord"]:
        from pyctr.pod.members import members

        return members(records if records is not None else self._s.containers.all(), pod_id)

    def _info(self, pod: "PodRecord", records=None) -> PodInfo:
        store = self._s.containers
        found = self._members(pod.id, records)
        found.sort(key=lambda r: (r.id != pod.infra_id, r.created))
        members = [PodMember(r.id, r.name, store.status(r.id).state) for r in found]
        infra = next((r for r in found if r.id == pod.infra_id), None)
        return PodInfo(pod.id, pod.name, pod.created, pod_status([m.state for m in members]), pod.infra_id,
                       pod.hostname, pod.labels, pod.share, members, pod.spec, list(infra.networks) if infra else [],
                       pod.cgroup)

    def inspect(self, names: list[str], *, latest: bool = False) -> tuple[list[PodInfo], list[PyctrError]]:
        if not names and not latest:
            raise InvalidArgument("no names or ids specified")
        if names and latest:
            raise InvalidArgument("--latest and containers cannot be used together")
        if latest:
            names = [self.latest().id]
        found, errors = [], []
        for name in names:
            try:
                found.append(self._info(self.get(name)))
            except NotFound:
                errors.append(PodNotFound(f"no such pod {name}"))
        return found, errors

    def list(self, *, filters: list[str] | None = None, latest: bool = False, sort: str = "created") -> list[PodInfo]:
        """Every pod (or the latest), those that match every filter key (one of its values), newest
        first unless `sort` (created, id, name, number or status) says otherwise."""
        if sort not in SORT_KEYS:
            raise InvalidArgument("invalid option for --sort, options are: id, names, or number")
        records = self._s.containers.all()
        pods = self.store.all()
        if latest:
            pods = pods[-1:]
        infos = [self._info(p, records) for p in pods]
        from pyctr import filters as filtering

        for key, values in filtering.parse(filters, PS_KEYS, unknown="{key} is an invalid filter").items():
            tests = [_filter(key, v) for v in values]
            infos = [i for i in infos if any(t(i) for t in tests)]
        infos.reverse()  # podman: the newest first
        if sort != "created":
            infos.sort(key={"id": lambda p: p.id, "name": lambda p: p.name, "number": lambda p: len(p.containers),
                            "status": lambda p: p.status}[sort])
        return infos

    @staticmethod
    def read_id_files(paths: list[str]) -> list[str]:
        """The pod IDs written by `pod create --pod-id-file` (podman's --pod-id-file of the bulk commands)."""
        from pyctr.engine.selection import read_cidfiles

        return read_cidfiles(paths, "pod ID file")

    # -- operations --------------------------------------------------------------------------

    def select(self, names: list[str] | None, *, all_pods: bool = False, latest: bool = False) -> list[str]:
        names = list(names or [])
        if all_pods and latest:
            raise InvalidArgument("--all and --latest cannot be used together")
        if names and (all_pods or latest):
            raise InvalidArgument("no arguments are needed with --all" if all_pods else
                                  "--latest and pods cannot be used together")
        if not (names or all_pods or latest):
            raise InvalidArgument("you must provide at least one name or id")
        if latest:
            return [self.latest().id]
        return names or [p.id for p in self.store.all()]

    def _each(self, names: list[str], action: Callable[["PodRecord"], None], *, ignore: bool = False) -> list[Report]:
        reports = []
        for name in names:
            report = Report(name)
            try:
                pod = self.get(name)
                report.id = pod.id
                with self.store.lock(pod.id):
                    action(pod)
            except _Unreported:
                continue
            except NotFound as exc:
                if ignore and isinstance(exc, PodNotFound):
                    continue
                report.error = exc
            except PyctrError as exc:
                report.error = exc
            reports.append(report)
        return reports

    def _ordered(self, pod: "PodRecord", *, infra_last: bool = False) -> list["ContainerRecord"]:
        found = sorted(self._members(pod.id), key=lambda r: (r.id != pod.infra_id, r.created))
        return found[::-1] if infra_last else found

    def _on_members(self, pod: "PodRecord", act: Callable[["ContainerRecord"], None], *, infra_last: bool = False,
                    verb: str) -> None:
        """`act` on each container (infra first, else last); the failures as one error (podman's)."""
        errors = []
        for record in self._ordered(pod, infra_last=infra_last):
            try:
                act(record)
            except PyctrError as exc:
                errors.append(f"{verb} container {record.id}: {exc}")
        if errors:
            raise _many(errors)

    def start(self, names=None, *, all_pods=False, latest=False) -> list[Report]:
        """The infra container first, then the others (a running one is left as it is)."""
        tasks, store = self._s.tasks, self._s.containers

        def start(record):
            if store.status(record.id).state not in ("running", "paused", "stopping"):
                tasks.start(record)

        return self._each(self.select(names, all_pods=all_pods, latest=latest),
                          lambda pod: (self._on_members(pod, start, verb="starting"), self._event("start", pod)))

    def stop(self, names=None, *, all_pods=False, latest=False, ignore=False, timeout=None) -> list[Report]:
        """The members first, the infra container last; `timeout`: before SIGKILL (default: each one's)."""
        tasks = self._s.tasks
        return self._each(self.select(names, all_pods=all_pods, latest=latest),
                          lambda pod: (self._on_members(pod, lambda r: tasks.stop(r, timeout=timeout), infra_last=True,
                                                        verb="stopping"), self._event("stop", pod)), ignore=ignore)

    def restart(self, names=None, *, all_pods=False, latest=False) -> list[Report]:
        tasks = self._s.tasks

        def restart(pod):
            self._on_members(pod, lambda r: (tasks.stop(r), tasks.wait(r, timeout=30)), infra_last=True, verb="stopping")
            self._on_members(pod, tasks.start, verb="restarting")
            self._event("restart", pod)

        return self._each(self.select(names, all_pods=all_pods, latest=latest), restart)

    def kill(self, names=None, *, all_pods=False, latest=False, signal: str | int = "KILL") -> list[Report]:
        from pyctr.signals import parse_signal

        parse_signal(signal)
        tasks, store = self._s.tasks, self._s.containers

        def kill(pod):
            running = [r for r in self._ordered(pod, infra_last=True) if store.status(r.id).state in ("running", "paused")]
            for record in running:  # (none running: nothing to do, and no error, as podman's)
                tasks.kill(record, signal)
            self._event("kill", pod)

        return self._each(self.select(names, all_pods=all_pods, latest=latest), kill)

    def pause(self, names=None, *, all_pods=False, latest=False) -> list[Report]:
        return self._in_state(names, all_pods, latest, "running", self._s.tasks.pause, "pause")

    def unpause(self, names=None, *, all_pods=False, latest=False) -> list[Report]:
        return self._in_state(names, all_pods, latest, "paused", self._s.tasks.unpause, "unpause")

    def _in_state(self, names, all_pods, latest, state, act, event) -> list[Report]:
        store = self._s.containers

        def each(pod):
            if event == "unpause" and not any(store.status(r.id).state == state for r in self._ordered(pod)):
                raise _Unreported()  # podman's unpause passes over a pod with nothing paused, silently
            self._on_members(pod, lambda r: act(r) if store.status(r.id).state == state else None, verb=event[:-1] + "ing")
            self._event(event, pod)

        return self._each(self.select(names, all_pods=all_pods, latest=latest), each)

    def remove(self, names=None, *, all_pods=False, latest=False, force=False, ignore=False, timeout=None) -> list[Report]:
        """Remove pods with their containers; `force` stops running ones first. Without it, a pod
        with a running or paused container stays whole (podman's error, one line per container)."""
        tasks, store = self._s.tasks, self._s.containers

        def remove(pod):
            members = self._ordered(pod, infra_last=True)
            if not force:
                # (a running infra container alone is stopped, as podman's)
                busy = [r for r in members if r.id != pod.infra_id
                        and store.status(r.id).state in ("running", "paused", "stopping")]
                if busy:
                    errors = [f"removing container {r.id} from pod {pod.id}: cannot remove container {r.id} as it is "
                              f"{store.status(r.id).state} - running or paused containers cannot be removed without force: "
                              "container state improper" for r in busy]
                    if pod.infra_id:
                        errors.append(f"removing container {pod.infra_id} from pod {pod.id}: a container that depends on "
                                      f"container {pod.infra_id} could not be removed: container state improper")
                    raise _many(errors, ContainerStateError)
            self._on_members(pod, lambda r: tasks.remove(r, force=True, timeout=timeout if timeout is not None else
                                                         (0 if force else None)), infra_last=True, verb="removing")
            self.store.remove(pod)
            _remove_cgroup(pod)
            self._event("remove", pod)

        return self._each(self.select(names, all_pods=all_pods, latest=latest), remove, ignore=ignore or force or all_pods)

    def clone(self, name: str, *, new_name: str | None = None, labels: dict | None = None, changes: dict | None = None,
              destroy: bool = False, start: bool = False) -> "PodRecord":
        """A copy of the pod and its containers (pyctr.engine.podclone)."""
        from pyctr.engine import podclone

        return podclone.clone(self, name, new_name=new_name, labels=labels, changes=changes, destroy=destroy, start=start)

    def prune(self) -> list[str]:
        """Remove every pod none of whose containers runs (podman's: stopped, exited or created ones). -> IDs."""
        removed = []
        for info in reversed(self.list()):  # oldest first
            if info.status in ("Exited", "Stopped", "Created"):
                if all(r.ok for r in self.remove([info.id])):
                    removed.append(info.id)
        return removed


def _remove_cgroup(pod: "PodRecord") -> None:
    if pod.cgroup:
        from pyctr.pod import cgroup

        cgroup.remove(pod.cgroup)


class _Unreported(Exception):
    """An operation that has nothing to do on this pod, and reports nothing (podman's unpause)."""


def _many(errors: list[str], kind=None) -> PyctrError:
    """podman's multi-error text: "N errors occurred:" and a line per error."""
    if len(errors) == 1:
        return (kind or PyctrError)(errors[0])
    body = "".join(f"\n\t* {e}" for e in errors)
    return (kind or PyctrError)(f"{len(errors)} errors occurred:{body}\n\n")


# pod create's options pyctr has no machinery for, by what is missing (each refused in one line, never ignored)
NAMESPACE_OPTIONS = ("--userns", "--uidmap", "--gidmap", "--subuidname", "--subgidname")


def _refuse_not_built(spec: PodSpec) -> None:
    for option, shown in spec.not_built.items():
        what = ("a pod-level user namespace" if option in NAMESPACE_OPTIONS
                else "a pod-level block I/O weight")
        raise InvalidArgument(f"{option} {shown}: {what} is not built yet; set it on the pod's containers")
    if spec.exit_policy not in ("continue", "stop"):
        raise InvalidArgument(f'running pod create option: invalid pod exit policy: "{spec.exit_policy}"')


def _validate(spec: PodSpec) -> None:
    """podman 4.3.1's checks of pod create's options, its texts."""
    _refuse_not_built(spec)  # (the --infra-* options without an infra container are ignored, as podman's)
    if any(k.startswith("+") for k in spec.share):  # --share +pid: the default ones and these (podman's)
        spec.share = list(dict.fromkeys([*DEFAULT_SHARE, *(k.lstrip("+") for k in spec.share)]))
    for kind in spec.share:
        if kind == "user":
            raise InvalidArgument("--share user: sharing a user namespace in a pod is not built yet")
        if kind not in SHAREABLE:
            raise InvalidArgument(f"invalid kernel namespace to share: {kind}. Options are: cgroup, ipc, net, pid, uts "
                                  "or none")
    if "none" in spec.share:
        spec.share = []
    if not spec.infra:
        if spec.ports:
            raise InvalidArgument("you must have an infra container to publish port bindings to the host")
        if spec.share and list(spec.share) != list(DEFAULT_SHARE):
            raise InvalidArgument(f"cannot set share({','.join(spec.share)}) namespaces without an infra container")
        if spec.networks or spec.network_mode:
            raise InvalidArgument("cannot set a network without an infra container")
        spec.share = []
        if spec.volumes or spec.volumes_from or spec.shm_size or spec.sysctls or spec.security_opt or spec.pid or spec.uts:
            raise InvalidArgument("pod volumes, --volumes-from, --shm-size, --sysctl and --security-opt are the infra "
                                  "container's (as are --pid and --uts): they need one")
    if spec.cpus is not None:
        import os

        count = os.cpu_count() or 1
        if not 0 < spec.cpus <= count:
            raise InvalidArgument(f"range of CPUs is from 0.01 to {count}.00, as there are only {count} CPUs available")
    if spec.memory is not None and spec.memory < 6 * 1024 * 1024:
        raise InvalidArgument("minimum memory limit allowed is 6MB")
    if spec.memory_swap not in (None, -1) and (not spec.memory or spec.memory_swap < spec.memory):
        raise InvalidArgument("you must provide a memory limit not above --memory-swap (or -1 for unlimited swap)"
                              if spec.memory else "you must provide a memory limit when specifying a memory swap limit")
    if spec.cpu_shares is not None and spec.cpu_shares < 2:
        raise InvalidArgument("the minimum allowed cpu-shares is 2")
    if spec.ports and spec.network_mode not in (None, "bridge", "slirp4netns"):
        raise InvalidArgument("PortMappings can only be used with Bridge or slirp4netns networking")


def _filter(key: str, wanted: str):
    import re

    from pyctr import filters

    if key == "id":
        return lambda i: re.search(wanted, i.id) is not None
    if key == "name":
        return lambda i: re.search(wanted, i.name) is not None
    if key == "label":
        return lambda i: filters.label_matches(i.labels, wanted)
    if key == "status":
        if wanted not in POD_STATES:
            raise InvalidArgument(f"{wanted} is not a valid pod status")
        return lambda i: i.status.lower() == wanted
    if key == "ctr-names":
        return lambda i: any(m.name == wanted for m in i.containers)
    if key == "ctr-ids":
        return lambda i: any(m.id.startswith(wanted) for m in i.containers)
    if key == "ctr-status":
        return lambda i: any(m.state == wanted for m in i.containers)
    if key == "ctr-number":
        try:
            number = int(wanted)
        except ValueError:  # (podman: matches nothing)
            return lambda i: False
        return lambda i: len(i.containers) == number
    if key == "network":
        return lambda i: wanted in i.networks
    limit = filters.until_time(wanted)  # until

    return lambda i: i.created < limit


def check_removable(services: "Services", record: "ContainerRecord") -> None:
    """`rm` of a pod's infra container: only with its pod (podman's error)."""
    from pyctr.pod.store import PodStore

    pod = PodStore(services.config.root).load(record.spec_data["lifecycle"]["pod"])
    if pod is not None and pod.infra_id == record.id:
        raise PyctrError(f"container {record.id} is the infra container of pod {pod.id} and cannot be removed "
                         "without removing the pod")
