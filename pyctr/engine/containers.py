"""engine.containers: create and run from a spec, and every operation on containers, with podman's policies.

Operations on several containers return one Report each (podman's domain
layer does the same), so that a front end prints successes and failures as it
likes; nothing here prints.
"""

from __future__ import annotations

import time
from dataclasses import field
from typing import TYPE_CHECKING, Callable, Iterator

from pyctr.engine.reports import Report
from pyctr.errors import ContainerNotFound, ContainerStateError, InvalidArgument, PyctrError
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.engine.inspection import MountedContainer, Top
    from pyctr.snapshot.diff import Change
    from pyctr.container.execs import ExecSession
    from pyctr.container.spec import ContainerSpec, PortMapping
    from pyctr.container.store import ContainerRecord, Status
    from pyctr.engine.services import Services
    from pyctr.runtime.logs import LogLine

ACTIVE = ("running", "paused", "stopping")
# podman 4.3.1's `wait --condition` states ("configured" is not one it accepts).
WAIT_CONDITIONS = ("created", "exited", "healthy", "initialized", "paused", "removing", "running", "stopped",
                   "stopping", "unhealthy")


@value
class Container:
    """A container just created (or the one an operation acted on)."""

    id: str
    name: str
    image: str  # the image's name (or ID when it has none)
    image_id: str


@value
class ContainerSummary:
    """One line of `ps`: the container and its current state."""

    id: str
    name: str
    image: str
    image_id: str
    command: list[str]
    created: float
    state: str  # created, running, paused, stopping, exited
    exit_code: int
    pid: int
    started_at: float
    finished_at: float
    labels: dict[str, str]
    ports: list["PortMapping"]
    mounts: list[str]  # destinations
    auto_remove: bool
    volumes: list[str] = field(default_factory=list)  # names of the volumes it mounts
    health: str = ""  # starting, healthy, unhealthy; "" without a health check
    restarts: int = 0
    rw_size: int = -1  # list(size=True): bytes written in the container's upper directory
    root_size: int = -1  # list(size=True): the image's size plus rw_size (podman's "virtual")
    namespaces: dict[str, str] = field(default_factory=dict)  # list(namespaces=True): {"Mnt": inode, ...}


@value
class ContainerInfo:
    """Everything `inspect` shows: the record (spec and what creation resolved), the state and the paths."""

    record: "ContainerRecord"
    status: "Status"
    log_path: str  # "" when the container keeps no log (the none driver)
    userdata_dir: str  # hosts, hostname, resolv.conf
    rw_size: int = -1  # inspect --size: what the container wrote; -1 when not asked
    root_size: int = -1  # inspect --size: that plus the image
    exec_ids: list[str] = field(default_factory=list)  # its exec sessions, oldest first
    health: dict | None = None  # the health check's status file (Status, FailingStreak, Log); None without a check


@value
class AttachSession:
    """A front end's connection to a container's stdio (pyctr.runtime.attach frames)."""

    container: Container
    client: object  # pyctr.runtime.attach.AttachClient
    pid: int
    tty: bool
    stdin: bool  # the container keeps stdin open
    exec_id: str = ""  # an exec session's (its exit code: Containers.exec_exit_code)


@value
class RunResult:
    container: Container
    exit_code: int | None  # None: detached (or the front end detached from it)
    warnings: list[str]  # what this host will not do of the spec
    errors: list["PyctrError"] = field(default_factory=list)  # what failed after the exit (--rm, --rmi)


class Containers:
    def __init__(self, services: "Services"):
        self._s = services

    # -- lookup ------------------------------------------------------------------------------

    def _record(self, name: str) -> "ContainerRecord":
        return self._s.containers.resolve(name)

    def _event(self, status: str, record: "ContainerRecord", **extra) -> None:
        from pyctr import events

        events.container(self._s.config, status, record, **extra)

    def get(self, name: str) -> Container:
        return _container(self._record(name))

    def latest(self) -> Container:
        """The container created last (podman's --latest); ContainerNotFound when there is none."""
        records = self._s.containers.all()
        if not records:
            raise ContainerNotFound("no such container")
        return _container(max(records, key=lambda r: r.created))

    def resolve(self, names: list[str] | None = None, *, all_containers: bool = False, latest: bool = False,
                cidfiles: list[str] | None = None, filters: list[str] | None = None,
                states: tuple[str, ...] = ()) -> list[str]:
        """The containers a bulk command acts on, with podman's checks of its arguments: the names
        given, those in --cidfile files, the latest, or every container (all_containers, filters)
        whose state is in `states` (when given) and that matches `filters`. Names as given, else IDs."""
        from pyctr.engine import selection

        selection.check_targets(list(names or []), all_containers=all_containers, latest=latest,
                                cidfiles=cidfiles, filters=filters)
        if names:
            return list(names)
        if cidfiles:  # (a missing file is an error even with --ignore, as podman; a missing container is not)
            return selection.read_cidfiles(cidfiles)
        if latest:
            return [self.latest().id]
        return [row.id for row in self.list(all_containers=True, filters=filters)
                if not states or row.state in states]

    def exists(self, name: str) -> bool:
        try:
            self._record(name)
        except ContainerNotFound:
            return False
        return True

    def _select(self, names: list[str] | None, all_containers: bool, *, running_only: bool = False,
                states: tuple[str, ...] = (), **how) -> list[str]:
        """The targets of a bulk operation (see resolve): with all_containers every container, or every
        running one; `how`: latest, cidfiles, filters."""
        return self.resolve(names, all_containers=all_containers, states=ACTIVE if running_only else states, **how)

    def _each(self, names: list[str], action: Callable[["ContainerRecord"], int | None], *,
              ignore_missing: bool = False) -> list[Report]:
        reports = []
        for name in names:
            report = Report(name)
            try:
                record = self._record(name)
                report.id = record.id
                report.exit_code = action(record)
            except ContainerNotFound as exc:
                if ignore_missing:
                    continue
                report.error = exc
            except PyctrError as exc:
                report.error = exc
            reports.append(report)
        return reports

    # -- creating and running ----------------------------------------------------------------

    def create(self, spec: "ContainerSpec", *, replace: bool = False, progress=None) -> Container:
        """Validate the spec, pull the image if the pull policy says so, and write the container.
        `replace`: a container of the same name is removed first (stopped if it runs)."""
        return _container(self._create(spec, replace=replace, progress=progress))

    def warnings(self, spec: "ContainerSpec") -> list[str]:
        """What the spec asks for that this host will not do (the container still runs)."""
        from pyctr.container import specrules

        return specrules.warnings(spec, self._s.config.rootless)

    def _create(self, spec: "ContainerSpec", *, replace: bool, progress) -> "ContainerRecord":
        from pyctr.container.create import create_container

        s = self._s

        def volume_path(name: str) -> str:  # the volume service only for containers that mount volumes
            volume = s.volumes.use(name or None, anonymous=not name)  # (mounts a tmpfs/device volume)
            if not name:  # an anonymous volume is always new (as podman, an event)
                from pyctr import events

                events.emit(s.config, "volume", "create", name=volume.name)
            return volume.mountpoint

        def remove_namesake() -> None:  # --replace, once the new container is known to be possible
            try:
                old = self._record(spec.lifecycle.name)
            except ContainerNotFound:
                return
            s.tasks.remove(old, force=True)

        make_room = remove_namesake if replace and spec.lifecycle.name else None
        for ref in spec.storage.secrets:  # each must exist before anything is made
            s.secrets.get(ref.name)
        record = create_container(s.containers, s.images, volume_path, spec, progress, make_room)
        if spec.storage.secrets:
            from pyctr.container.secrets import copy_for_container

            try:
                copy_for_container(s.secrets, s.containers.path(record.id), spec.storage.secrets)
            except BaseException:
                s.tasks.remove(record, force=True)
                raise
        self._event("create", record)
        return record

    def run(self, spec: "ContainerSpec", *, replace: bool = False, remove_image: bool = False, progress=None,
            attach: "Callable[[AttachSession], int | None] | None" = None, console_size=None, shim=None,
            on_created: "Callable[[Container], None] | None" = None, preserve_fds: int = 0) -> RunResult:
        """create + start. Without `attach`, the container runs detached. With it, `attach(session)` proxies
        the container's stdio and returns its exit code (None if the user detached); then `--rm` removes the
        container before this returns (as podman), and `remove_image` (--rmi) its image too.
        `shim`: a ShimLauncher started early by the caller, so that its boot overlaps our work.
        `on_created(container)` runs between create and start (e.g. to write a --cidfile).
        `preserve_fds`: our fds 3..3+N-1 become the container process's (its first start only)."""
        try:
            if preserve_fds:
                shim = _passing_fds(shim, preserve_fds)
            record = self._create(spec, replace=replace, progress=progress)
        except BaseException:
            if shim is not None:
                shim.abandon()
            raise
        warnings = self.warnings(spec)
        container = _container(record)
        try:
            if on_created is not None:
                on_created(container)
        except BaseException:
            if shim is not None:
                shim.abandon()
            self._remove_quietly(record)
            raise
        try:
            if attach is None:
                self._s.tasks.start(record, shim=shim)
                return RunResult(container, None, warnings)
            code = attach(self._attach_started(record, console_size=console_size, shim=shim))
        except PyctrError:
            if record.remove:  # a container that could not start stays (as podman), unless --rm
                self._remove_quietly(record)
            raise
        result = RunResult(container, code, warnings)
        if code is not None and record.remove:
            # As podman: what goes wrong in the clean-up is reported, and the exit code stays the container's.
            try:
                self._s.tasks.cleanup(record)
                if remove_image:
                    self._s.images.remove(record.image_id)
            except PyctrError as exc:
                result.errors.append(exc)
        return result

    def _remove_quietly(self, record: "ContainerRecord") -> None:
        try:
            self._s.tasks.remove(record, force=True)
        except PyctrError:
            pass

    def start(self, names: list[str] | None = None, *, all_containers: bool = False, latest: bool = False,
              filters: list[str] | None = None) -> list[Report]:
        """Start created or exited containers (one that runs already is left as it is)."""
        if not names and not latest and (all_containers or filters):  # as podman: only those not running
            targets = self.resolve(all_containers=all_containers, filters=filters, states=("created", "exited"))
        else:
            targets = self.resolve(names, latest=latest)
        return self._each(targets, self._start_one)

    def _start_one(self, record: "ContainerRecord") -> None:
        if self._s.containers.status(record.id).state not in ACTIVE:
            self._s.tasks.start(record)

    # -- attaching ---------------------------------------------------------------------------

    def attach(self, name: str, *, start: bool = False, console_size=None) -> AttachSession:
        """Connect to a running container's stdio; with `start`, start it first (output from its first byte)."""
        record = self._record(name)
        if start:
            return self._attach_started(record, console_size=console_size)
        from pyctr.runtime import attach

        status = self._s.containers.status(record.id)
        if status.state not in ("running", "paused"):
            raise ContainerStateError(f"you can only attach to running containers: {record.name} is {status.state}")
        client = attach.AttachClient(attach.connect(str(self._s.containers.state_dir(record.id))))
        self._event("attach", record)
        return AttachSession(_container(record), client, status.pid, record.tty, record.stdin)

    def _attach_started(self, record: "ContainerRecord", *, console_size=None, shim=None) -> AttachSession:
        from pyctr.runtime import attach

        started = self._s.tasks.start(record, attach=True, shim=shim, console_size=console_size)
        sock = started.client if started.client is not None else attach.connect(str(started.state_dir))
        self._event("attach", record)
        return AttachSession(_container(record), attach.AttachClient(sock), started.pid, record.tty, record.stdin)

    # -- stopping and signals ----------------------------------------------------------------

    def stop(self, names: list[str] | None = None, *, all_containers: bool = False, ignore: bool = False,
             timeout: int | None = None, latest: bool = False, cidfiles: list[str] | None = None,
             filters: list[str] | None = None) -> list[Report]:
        """The stop signal, then SIGKILL after `timeout` (default: the container's stop timeout).
        --all: the running ones; --filter: every match (a stopped one stays stopped)."""
        targets = self._select(names, all_containers, running_only=all_containers and not filters, latest=latest,
                               cidfiles=cidfiles, filters=filters)
        return self._each(targets, lambda r: self._s.tasks.stop(r, timeout=timeout), ignore_missing=ignore)

    def kill(self, names: list[str] | None = None, *, signal: str | int = "KILL", all_containers: bool = False,
             latest: bool = False, cidfiles: list[str] | None = None) -> list[Report]:
        from pyctr.signals import parse_signal

        parse_signal(signal)  # a bad signal is one error, not one per container
        targets = self._select(names, all_containers, running_only=True, latest=latest, cidfiles=cidfiles)
        return self._each(targets, lambda r: self._s.tasks.kill(r, signal))

    def restart(self, names: list[str] | None = None, *, all_containers: bool = False, timeout: int | None = None,
                running: bool = False, latest: bool = False, cidfiles: list[str] | None = None,
                filters: list[str] | None = None) -> list[Report]:
        """Stop (when running), wait for the exit, start again. `running`: with all_containers
        or filters, only the containers that run."""
        def restart_one(record):
            self._s.tasks.stop(record, timeout=timeout)
            self._s.tasks.wait(record, timeout=30)
            self._event("restart", record)
            self._s.tasks.start(record)

        targets = self._select(names, all_containers, running_only=running, latest=latest, cidfiles=cidfiles,
                               filters=filters)
        return self._each(targets, restart_one)

    def pause(self, names: list[str] | None = None, *, all_containers: bool = False, latest: bool = False,
              cidfiles: list[str] | None = None, filters: list[str] | None = None) -> list[Report]:
        """--all: the running containers."""
        targets = self._select(names, all_containers, states=("running",), latest=latest, cidfiles=cidfiles,
                               filters=filters)
        return self._each(targets, self._s.tasks.pause)

    def unpause(self, names: list[str] | None = None, *, all_containers: bool = False, latest: bool = False,
                cidfiles: list[str] | None = None, filters: list[str] | None = None) -> list[Report]:
        """--all: the paused containers."""
        targets = self._select(names, all_containers, states=("paused",), latest=latest, cidfiles=cidfiles,
                               filters=filters)
        return self._each(targets, self._s.tasks.unpause)

    def wait(self, names: list[str] | None = None, *, condition: str | list[str] = "stopped", interval: float = 0.25,
             latest: bool = False) -> list[Report]:
        """Block until each container is in one of the `condition` states (podman's names); the exit code
        (Report.exit_code) when that is stopped or exited, else -1. `interval`: seconds between looks."""
        conditions = [condition] if isinstance(condition, str) else list(condition or ["stopped"])
        for word in conditions:
            if word not in WAIT_CONDITIONS:
                raise InvalidArgument(f"unknown container state: {word}: invalid argument")
        if not names and not latest:
            raise InvalidArgument('"pyctr wait" requires a name, id, or the "--latest" flag')
        if names and latest:
            raise InvalidArgument("--latest and containers cannot be used together")
        targets = [self.latest().id] if latest else list(names)
        exits = {"stopped", "exited"} & set(conditions)

        def wait_one(record) -> int:
            others = [c for c in conditions if c not in exits]
            while others:
                if self._in_state(record, others):
                    return -1
                if exits and self._s.containers.status(record.id).state == "exited":
                    break
                time.sleep(interval)
            status = self._s.tasks.wait(record)
            return status.exit_code if status else 0

        return self._each(targets, wait_one)

    def _in_state(self, record: "ContainerRecord", conditions: list[str]) -> bool:
        """Whether the container is in one of the wait conditions that are not its exit."""
        if "removing" in conditions and not self._s.containers.load(record.id):
            return True
        status = self._s.containers.status(record.id)
        # pyctr's containers go from created to running at once: initialized is running.
        if status.state in conditions or (status.state == "running" and "initialized" in conditions):
            return True
        if {"healthy", "unhealthy"} & set(conditions):
            return (_health_status(record, self._s.containers) or {}).get("Status", "") in conditions
        return False

    def exit_code(self, container_id: str) -> int:
        """Wait for the container to exit; its exit code. A --rm container may be removed as soon as
        it exits, and its code with it (then 0): an attached front end reads the EXIT frame instead."""
        status = self._s.tasks.wait(self._record(container_id))
        return status.exit_code if status else 0

    # -- removing ----------------------------------------------------------------------------

    def remove(self, names: list[str] | None = None, *, force: bool = False, all_containers: bool = False,
               ignore: bool = False, volumes: bool = False, timeout: int | None = None, latest: bool = False,
               cidfiles: list[str] | None = None, filters: list[str] | None = None, depend: bool = False) -> list[Report]:
        """Remove containers; `force` stops running ones first (SIGKILL at once unless `timeout`);
        `volumes` removes their anonymous volumes too; `depend` removes first the containers that
        depend on each (--requires, or sharing its namespaces), named by ID."""
        def remove_one(record) -> None:
            self._s.tasks.remove(record, force=force, timeout=timeout if timeout is not None else (0 if force else None))
            if volumes:
                self._s.tasks.remove_anonymous_volumes(record)

        ignore = ignore or force  # as podman: rm -f of what is not there says nothing
        targets = self._select(names, all_containers, latest=latest, cidfiles=cidfiles, filters=filters)
        if all_containers:  # newest first: a container that depends on another was made after it
            targets = list(reversed(targets))
        if not depend:
            return self._each(targets, remove_one, ignore_missing=ignore)
        reports = []
        for name in targets:
            try:
                order = self._dependents_first(self._record(name))
            except ContainerNotFound as exc:
                if not ignore:
                    reports.append(Report(name, error=exc))
                continue
            reports += self._each(order, remove_one, ignore_missing=True)
        return reports

    def _dependents_first(self, record: "ContainerRecord") -> list[str]:
        """The IDs of the containers that depend on `record` (transitively), then its own."""
        from pyctr.container.create import dependents

        order: list[str] = []

        def visit(container_id: str) -> None:
            for other in dependents(self._s.containers, container_id):
                if other not in order:
                    visit(other)
            if container_id not in order:
                order.append(container_id)

        visit(record.id)
        return order

    def prune(self, filters: list[str] | None = None) -> list[str]:
        """Remove every container that is not running and matches `filters` (until=, label=, label!=); their IDs."""
        from pyctr import filters as filtering

        for item in filters or []:
            if item.partition("=")[0] not in ("until", "label", "label!"):
                raise InvalidArgument(f"{item.partition('=')[0]} is an invalid filter")
        wanted = filtering.parse(filters, ("until", "label", "label!"))
        until = [filtering.until_time(v) for v in wanted.get("until", [])]
        removed = []
        for record in self._s.containers.all():
            if until and not any(record.created < t for t in until):
                continue
            if not all(filtering.label_matches(record.labels, v) for v in wanted.get("label", [])):
                continue
            if any(filtering.label_matches(record.labels, v) for v in wanted.get("label!", [])):
                continue
            if self._s.containers.status(record.id).state in ("exited", "created"):
                try:
                    self._s.tasks.remove(record)
                except ContainerStateError:  # started meanwhile
                    continue
                removed.append(record.id)
        return removed

    def rename(self, name: str, new_name: str) -> None:
        record = self._record(name)
        self._s.containers.rename(record, new_name)
        self._event("rename", self._s.containers.resolve(record.id))

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
        return ContainerInfo(record, store.status(record.id), self._log_path(record),
                             str(store.path(record.id) / "userdata"), rw_size, root_size,
                             health=_health_status(record, store), exec_ids=ExecStore(store).ids(record.id))

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

    def _latest(self) -> "ContainerRecord":
        return self._record(self.latest().id)

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

    def init(self, names: list[str] | None = None, *, all_containers: bool = False, latest: bool = False) -> list[Report]:
        """Create containers in the runtime without starting them (podman's `init`)."""
        from pyctr.engine import inspection

        targets = [self._latest().id] if latest else self._select(names, all_containers)
        if all_containers:  # as podman: --all passes over those already created in the runtime
            store = self._s.containers
            targets = [t for t in targets if store.status(t).state in ("created", "exited")]
        return self._each(targets, lambda r: inspection.init(self._s, r))

    def update(self, name: str, **changes) -> Container:
        """New resource limits (pyctr.container.update.UPDATABLE fields of the spec's resources): applied
        to the running container's cgroup now, and recorded for its next start."""
        from pyctr.engine import inspection

        record = self._record(name)
        inspection.update(self._s, record, changes)
        return _container(record)

    # -- exec, copies ------------------------------------------------------------------------

    # -- health checks -----------------------------------------------------------------------

    def healthcheck_run(self, name: str) -> bool:
        """Run the container's health check now, as podman's `healthcheck run`: whether it passed.
        The status moves by podman's rules (pyctr.container.health), and once it is unhealthy the
        container's --health-on-failure action runs (kill, stop, or restart)."""
        from pyctr.container import health

        try:
            record = self._record(name)
        except ContainerNotFound as exc:
            raise ContainerNotFound(f"unable to look up {name} to perform a health check: {exc}") from None
        passed, status = health.run_once(self._s.tasks, record)
        self._event("health_status", record, health_status=status)
        if status == health.UNHEALTHY:
            self.health_on_failure(record.id)
        return passed

    def health_on_failure(self, name: str) -> None:
        """The container's --health-on-failure action, now that it is unhealthy (podman's: kill and
        stop keep it stopped; restart stops it and starts it again)."""
        from pyctr.container import health

        record = self._record(name)
        action = health.on_failure_of(record)
        act = {"kill": self.kill, "stop": self.stop, "restart": self.restart}.get(action)
        if act is None:
            return
        for report in act([record.id]):
            if report.error is not None:
                raise report.error

    def exec(self, name: str | None, command: list[str], *, interactive: bool = False, tty: bool = False,
             detach: bool = False, env: dict[str, str] | None = None, workdir: str | None = None,
             user: str | None = None, privileged: bool = False, preserve_fds: int = 0, latest: bool = False,
             attach: "Callable[[AttachSession], int | None] | None" = None, shim=None,
             on_started: "Callable[[str], None] | None" = None) -> int | None:
        """Run a command in a running container as an exec session under its own shim (as podman's
        under conmon): it outlives the caller, and so does its exit code (exec_inspect).
        `on_started(session_id)` once it runs. Detached: returns 0 at once. Else `attach(session)`
        proxies its stdio and returns its exit code (None: the user detached); without `attach`,
        its output goes to our fds 1 and 2. `preserve_fds`: our fds 3..3+N-1 reach the process.
        `latest`: the container created last instead of `name`. `shim`: a ShimLauncher started early
        (not with `preserve_fds`: its own fds could pass for the caller's)."""
        try:
            return self._exec(name, command, interactive=interactive, tty=tty, detach=detach, env=env,
                              workdir=workdir, user=user, privileged=privileged, preserve_fds=preserve_fds,
                              latest=latest, attach=attach, shim=shim, on_started=on_started)
        except BaseException:
            if shim is not None and shim.config_w >= 0:
                shim.abandon()
            raise

    def _exec(self, name, command, *, interactive, tty, detach, env, workdir, user, privileged, preserve_fds,
              latest, attach, shim, on_started) -> int | None:
        import os

        from pyctr.container.execs import ExecStore
        from pyctr.container.tasks import EXIT_EXEC_FAILED

        if not name and not latest:
            raise InvalidArgument("exec requires the name or ID of a container or the --latest flag")
        if not command:
            error = InvalidArgument("must provide a non-empty command to start an exec session: invalid argument")
            error.exit_code = EXIT_EXEC_FAILED  # as podman 4.3.1
            raise error
        if preserve_fds < 0:
            raise InvalidArgument(f"invalid --preserve-fds {preserve_fds}: must not be negative")
        pass_fds = list(range(3, 3 + preserve_fds))
        for fd in pass_fds:
            try:
                os.fstat(fd)
            except OSError:
                raise InvalidArgument(f"file descriptor {fd} is not available - the preserve-fds option "
                                      "requires that file descriptors must be passed") from None
        record = self._record(self.latest().id if latest else name)
        tasks, execs = self._s.tasks, ExecStore(self._s.containers)
        try:
            tasks.require_exec_state(record)
            session_id, path = execs.new(record.id, command, tty=tty, open_stdin=interactive, privileged=privileged,
                                         user=user or "", workdir=workdir or "", detached=detach)
            try:
                env_list = [f"{k}={v}" for k, v in (env or {}).items()]
                process_file = tasks.exec_process(record, list(command), tty=tty, env=env_list, workdir=workdir,
                                                  user=user, privileged=privileged, path=path / "process.json")
                started = tasks.start_exec(record, path, process_file, tty=tty, stdin=interactive and not detach,
                                           attach=not detach, shim=shim, pass_fds=pass_fds)
            except BaseException:
                execs.discard(record.id, session_id)
                raise
        except PyctrError as exc:
            if exc.exit_code == 125:
                exc.exit_code = EXIT_EXEC_FAILED  # as podman 4.3.1: a session that never ran is -1
            raise
        self._event("exec", record)
        if on_started is not None:
            on_started(session_id)
        if detach:
            return 0
        from pyctr.runtime import attach as attachmod

        session = AttachSession(_container(record), attachmod.AttachClient(started.client), started.pid, tty,
                                interactive, exec_id=session_id)
        code = attach(session) if attach is not None else _relay_output(session.client)
        if code is None and attach is None:
            code = self.exec_exit_code(session_id)
        if code is not None:
            self._event("exec_died", record, exit_code=code)
        return code

    def exec_exit_code(self, session_id: str) -> int:
        """Wait for an exec session's process to end; its exit code (-1 if nobody saw how it ended)."""
        from pyctr.container.execs import ExecStore

        execs = ExecStore(self._s.containers)
        session = execs.wait(*execs.find(session_id))
        return session.exit_code if session.exit_code is not None else -1

    def exec_inspect(self, session_id: str) -> "ExecSession":
        """An exec session (podman's /exec/{id}/json): ID or a unique prefix of it."""
        from pyctr.container.execs import ExecStore

        execs = ExecStore(self._s.containers)
        return execs.get(*execs.find(session_id))

    def exec_ids(self, name: str) -> list[str]:
        """The container's exec sessions (running, and the last finished ones), oldest first."""
        from pyctr.container.execs import ExecStore

        return ExecStore(self._s.containers).ids(self._record(name).id)

    def copy_from(self, name: str, path: str, host_path: str | None = None, *, out=None, overwrite: bool = False) -> None:
        """Container `path` to `host_path`, or as a tar stream to the binary file `out`; the
        path is seen as the container sees it (its volumes and bind mounts included; a relative
        one under its working directory)."""
        from pyctr.container import copy

        record = self._copy_record(name)
        with self._s.tasks.rootfs(record) as rootfs:
            fs = copy.container_fs(rootfs, record, self._s.containers.bundle(record.id))
            copy.copy_out(fs, copy.in_workdir(record.workdir, path), out if host_path is None else host_path,
                          container=name, overwrite=overwrite, rootless=self._s.config.rootless)

    def copy_to(self, name: str, host_path: str | None, path: str, *, stream=None, archive: bool = True,
                overwrite: bool = False) -> None:
        """`host_path` (or the tar stream `stream`) to container `path`. `archive`: the copies
        belong to the container's user, as podman's --archive; else they keep their owners."""
        from pyctr.container import copy, userdb

        record = self._copy_record(name)
        with self._s.tasks.rootfs(record) as rootfs:
            owner = tuple(userdb.resolve_user(rootfs, record.user)[:2]) if archive else None
            fs = copy.container_fs(rootfs, record, self._s.containers.bundle(record.id))
            copy.copy_in(fs, stream if host_path is None else host_path, copy.in_workdir(record.workdir, path),
                         container=name, owner=owner, overwrite=overwrite, rootless=self._s.config.rootless)

    def copy_between(self, src_name: str, src_path: str, dest_name: str, dest_path: str, *, archive: bool = True,
                     overwrite: bool = False) -> None:
        """From one container to another, through a private directory on the host."""
        import os
        import tempfile

        with tempfile.TemporaryDirectory(prefix="pyctr-cp-") as spool:
            self.copy_from(src_name, src_path, spool)
            copied = spool + "/." if src_path.endswith("/.") else os.path.join(spool, os.listdir(spool)[0])
            self.copy_to(dest_name, copied, dest_path, archive=archive, overwrite=overwrite)

    def _copy_record(self, name: str) -> "ContainerRecord":
        try:
            return self._record(name)
        except ContainerNotFound:
            raise ContainerNotFound(f"container \"{name}\" does not exist") from None  # podman's words in cp

    def export(self, name: str, out) -> None:
        """Write the container's filesystem to the binary file `out` as a tar archive."""
        from pyctr.container import copy

        with self._s.tasks.rootfs(self._record(name)) as rootfs:
            copy.export(rootfs, out)


def _relay_output(client) -> int | None:
    """Without a front end: the session's output to our fds 1 and 2; its exit code
    (None if the shim went away without one)."""
    import json
    import os

    from pyctr.runtime import attach

    client.close_stdin()
    for kind, payload in client.frames():
        if kind in (attach.STDOUT, attach.STDERR):
            view = memoryview(payload)
            while view:
                view = view[os.write(kind, view):]  # fd 1 or 2
        elif kind == attach.EXIT:
            client.close()
            return int(json.loads(payload).get("exit_code", 0))
    client.close()
    return None


def _passing_fds(shim, count: int):
    """The shim, told to hand fds 3..3+count-1 to the container (run --preserve-fds, as podman checks them)."""
    import os

    if count < 0:
        raise InvalidArgument(f"invalid --preserve-fds {count}: must not be negative")
    for fd in range(3, 3 + count):
        try:
            os.fstat(fd)
        except OSError:
            raise InvalidArgument(f"file descriptor {fd} is not available - the preserve-fds option "
                                  "requires that file descriptors must be passed") from None
    if shim is None:
        from pyctr.runtime.shimlauncher import ShimLauncher

        shim = ShimLauncher()
    shim.pass_fds = list(range(3, 3 + count))
    return shim


def _container(record: "ContainerRecord") -> Container:
    return Container(record.id, record.name, record.image_name, record.image_id)


def _summary(record: "ContainerRecord", status) -> ContainerSummary:
    """A ps row; `status` None when only the record's fields are wanted (before=, since=)."""
    from pyctr.container.store import Status

    status = status or Status("created")
    return ContainerSummary(
        id=record.id, name=record.name, image=record.image_name, image_id=record.image_id, command=list(record.args),
        created=record.created, state=status.state, exit_code=status.exit_code, pid=status.pid,
        started_at=status.started_at, finished_at=status.finished_at, labels=dict(record.labels),
        ports=record.ports, mounts=[m.get("destination", "") for m in record.mounts],
        auto_remove=record.remove, volumes=[m["volume_name"] for m in record.mounts if m.get("volume_name")],
        health=getattr(status, "health", "") or "", restarts=status.restart_count,
    )


def _health_status(record: "ContainerRecord", store) -> dict | None:
    """The health check's status file; None without a check (the file is read only for those)."""
    if not ((record.spec_data.get("health") or {}).get("test") or record.image_config.get("Healthcheck")):
        return None
    from pyctr.container import health

    if health.command_of(health.of_record(record)) is None:
        return None
    return health.read_status(health.status_path(store.path(record.id)))
