"""engine.containers: create and run from a spec, and every operation on containers, with podman's policies.

Operations on several containers return one Report each (podman's domain
layer does the same), so that a front end prints successes and failures as it
likes; nothing here prints.
"""

from __future__ import annotations

import time
TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.container.store import ACTIVE
from pyctr.engine.containerexec import ContainerProcesses, _passing_fds
from pyctr.engine.containerreads import ContainerReading
from pyctr.engine.containertypes import (  # noqa: F401  (the API's result types live here too)
    AttachSession, Container, ContainerInfo, ContainerSummary, RunResult, _container, _health_status, _summary,
)
from pyctr.engine.reports import Report
from pyctr.errors import (
    EXIT_CANNOT_INVOKE, ContainerNotFound, ContainerStateError, InvalidArgument, PyctrError, RuntimeFailure,
)

if TYPE_CHECKING:
    from typing import Callable
    from pyctr.container.spec import ContainerSpec
    from pyctr.container.store import ContainerRecord
    from pyctr.engine.services import Services

# podman 4.3.1's `wait --condition` states ("configured" is not one it accepts).
PARALLEL_ACTIONS = 16  # threads for rm/stop of many containers: each mostly waits (runc, the shim)
WAIT_CONDITIONS = ("created", "exited", "healthy", "initialized", "paused", "removing", "running", "stopped",
                   "stopping", "unhealthy")


class Containers(ContainerReading, ContainerProcesses):
    """Every operation on containers (reading ones: engine.containerreads; exec, health and
    copies: engine.containerexec)."""

    def __init__(self, services: "Services"):
        self._s = services

    # -- lookup ------------------------------------------------------------------------------

    def _record(self, name: str) -> "ContainerRecord":
        return self._s.containers.resolve(name)

    def _event(self, status: str, record: "ContainerRecord", **extra) -> None:
        from pyctr import events

        events.container(self._s.config, status, record, **extra)

    def _latest(self) -> "ContainerRecord":
        return self._record(self.latest().id)

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
        if filters:  # (as podman: the filter chooses, whatever else was given)
            return [row.id for row in self.list(all_containers=True, filters=filters)
                    if not states or row.state in states]
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
              ignore_missing: bool = False, parallel: bool = False) -> list[Report]:
        """`action` on each container, a report each (in the order of `names`). `parallel`: the
        containers that no other depends on and that depend on none (nor are in a pod) at once, in
        threads (each container's own lock keeps that safe); then the others one by one, in order."""
        def one(name: str) -> Report | None:
            report = Report(name)
            try:
                record = self._record(name)
                report.id = record.id
                report.exit_code = action(record)
            except ContainerNotFound as exc:
                if ignore_missing:
                    return None
                report.error = exc
            except PyctrError as exc:
                report.error = exc
            return report

        done: dict[int, Report | None] = {}
        alone = self._independent(names) if parallel and len(names) > 1 else []
        if len(alone) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(len(alone), PARALLEL_ACTIONS)) as pool:
                done.update(zip(alone, pool.map(lambda n: one(names[n]), alone)))
        for n, name in enumerate(names):
            if n not in done:
                done[n] = one(name)
        return [report for _, report in sorted(done.items()) if report is not None]

    def _independent(self, names: list[str]) -> list[int]:
        """The positions in `names` of the containers that can be acted on in any order: none
        depends on them, they depend on none (their IDs are in no other's dependents directory)
        and they are in no pod."""
        from pyctr.container.create import dependents

        store = self._s.containers
        records, related = {}, set()
        for n, name in enumerate(names):
            try:
                record = records[n] = self._record(name)
            except PyctrError:
                continue
            found = dependents(store, record.id)
            if found:
                related.update(found)
                related.add(record.id)
        alone = []
        for n, record in records.items():
            if record.id not in related and not record.spec_data["lifecycle"].get("pod"):
                alone.append(n)
        return alone

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
        if spec.lifecycle.log_driver == "passthrough":  # this process's fds 0-2 will be the container's
            from pyctr.container import logdriver

            logdriver.refuse_terminal_stdio()

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

        if spec.lifecycle.pod:
            spec = self._join_pod(spec)
        make_room = remove_namesake if replace and spec.lifecycle.name else None
        for ref in spec.storage.secrets:  # each must exist before anything is made
            ref.id = s.secrets.get(ref.name).id
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

    def _join_pod(self, spec: "ContainerSpec") -> "ContainerSpec":
        """A copy of the spec as a member of its pod (new:NAME: a pod made for it, with its network options)."""
        from pyctr.container.spec import ContainerSpec
        from pyctr.engine.pods import Pods
        from pyctr.pod import members

        spec = ContainerSpec.from_json(spec.to_json())
        pods = Pods(self._s, self)
        if spec.lifecycle.pod.startswith("new:"):
            pod = pods.create(members.pod_spec_for(spec, spec.lifecycle.pod[4:]))
        else:
            pod = pods.get(spec.lifecycle.pod)
        members.join(spec, pod)
        return spec

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
        except PyctrError as exc:
            if record.remove:  # a container that could not start stays (as podman), unless --rm
                self._remove_quietly(record)
            if type(exc) is RuntimeFailure:  # podman's run exits 126 for any OCI runtime error (start: 125)
                exc.exit_code = EXIT_CANNOT_INVOKE
            raise
        result = RunResult(container, code, warnings)
        if code is not None and (record.remove or remove_image):
            # As podman: what goes wrong in the clean-up is reported, and the exit code stays the container's.
            # --rmi without --rm tries too (and says the image is in use by this very container).
            try:
                if record.remove:
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
        from pyctr.engine import selection

        selection.check_start_targets(list(names or []), all_containers=all_containers, latest=latest, filters=filters)
        # As podman: the filter chooses (whatever else was given); only those not running.
        if filters or (all_containers and not names and not latest):
            targets = self.resolve(all_containers=all_containers, filters=filters, states=("created", "exited"))
        else:
            targets = self.resolve(names, latest=latest)
        return self._each(targets, self._start_one)

    def attach_target(self, names: list[str] | None = None, *, all_containers: bool = False, latest: bool = False,
                      filters: list[str] | None = None) -> str:
        """The one container `start --attach` starts, with start's checks of its arguments."""
        from pyctr.engine import selection

        names = list(names or [])
        selection.check_start_targets(names, all_containers=all_containers, latest=latest, filters=filters, attach=True)
        if latest:
            return self.latest().id
        if len(names) != 1:
            raise InvalidArgument("you cannot start and attach multiple containers at once")
        return names[0]

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
        if record.spec.lifecycle.log_driver == "passthrough":  # its stdio is its starter's
            from pyctr.container import logdriver

            raise logdriver.not_attachable(record.id)
        client = attach.AttachClient(attach.connect(str(self._s.containers.state_dir(record.id))))
        self._event("attach", record)
        return AttachSession(_container(record), client, status.pid, record.tty, record.stdin)

    def _attach_started(self, record: "ContainerRecord", *, console_size=None, shim=None) -> AttachSession:
        from pyctr.runtime import attach

        started = self._s.tasks.start(record, attach=True, shim=shim, console_size=console_size)
        sock = started.client if started.client is not None else attach.connect(str(started.state_dir))
        self._event("attach", record)
        # passthrough: the container reads our stdin itself; only its exit comes through the socket.
        stdin = record.stdin and record.spec.lifecycle.log_driver != "passthrough"
        return AttachSession(_container(record), attach.AttachClient(sock), started.pid, record.tty, stdin)

    # -- stopping and signals ----------------------------------------------------------------

    def stop(self, names: list[str] | None = None, *, all_containers: bool = False, ignore: bool = False,
             timeout: int | None = None, latest: bool = False, cidfiles: list[str] | None = None,
             filters: list[str] | None = None) -> list[Report]:
        """The stop signal, then SIGKILL after `timeout` (default: the container's stop timeout).
        --all: the running ones; --filter: every match (a stopped one stays stopped)."""
        targets = self._select(names, all_containers, running_only=all_containers and not filters, latest=latest,
                               cidfiles=cidfiles, filters=filters)
        return self._each(targets, lambda r: self._s.tasks.stop(r, timeout=timeout), ignore_missing=ignore,
                          parallel=len(targets) > 1)

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
        # `run` and `start` pass through initialized at once (only `init` stops there): running counts.
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
            if record.spec_data["lifecycle"].get("pod"):
                from pyctr.engine.pods import check_removable

                check_removable(self._s, record)
            self._s.tasks.remove(record, force=force, timeout=timeout if timeout is not None else (0 if force else None))
            if volumes:
                self._s.tasks.remove_anonymous_volumes(record)

        ignore = ignore or force  # as podman: rm -f of what is not there says nothing
        targets = self._select(names, all_containers, latest=latest, cidfiles=cidfiles, filters=filters)
        if all_containers:  # newest first: a container that depends on another was made after it
            targets = list(reversed(targets))
        if not depend:
            return self._each(targets, remove_one, ignore_missing=ignore, parallel=len(targets) > 1)
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
                    if record.spec_data["lifecycle"].get("pod"):  # a pod's infra container goes with its pod
                        from pyctr.engine.pods import check_removable

                        check_removable(self._s, record)
                    self._s.tasks.remove(record)  # never forced: one started meanwhile stays
                except PyctrError:  # started meanwhile, or others depend on it: not prunable
                    continue
                removed.append(record.id)
        return removed

    def rename(self, name: str, new_name: str) -> None:
        record = self._record(name)
        self._s.containers.rename(record, new_name)
        self._event("rename", self._s.containers.resolve(record.id))

    def init(self, names: list[str] | None = None, *, all_containers: bool = False, latest: bool = False) -> list[Report]:
        """Create containers in the runtime without starting them (podman's `init`)."""
        from pyctr.engine import inspection

        targets = self._select(names, all_containers, latest=latest)
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
