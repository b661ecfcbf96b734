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
    from pyctr.container.spec import ContainerSpec, PortMapping
    from pyctr.container.store import ContainerRecord, Status
    from pyctr.engine.services import Services
    from pyctr.runtime.logs import LogLine

ACTIVE = ("running", "paused", "stopping")
FILTER_KEYS = ("status", "name", "id", "ancestor", "label", "exited")


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


@value
class ContainerInfo:
    """Everything `inspect` shows: the record (spec and what creation resolved), the state and the paths."""

    record: "ContainerRecord"
    status: "Status"
    log_path: str
    userdata_dir: str  # hosts, hostname, resolv.conf


@value
class Top:
    """`ps` output of the host, cut to the container's processes."""

    header: str
    lines: list[str] = field(default_factory=list)


@value
class AttachSession:
    """A front end's connection to a container's stdio (pyctr.runtime.attach frames)."""

    container: Container
    client: object  # pyctr.runtime.attach.AttachClient
    pid: int
    tty: bool
    stdin: bool  # the container keeps stdin open


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

    def get(self, name: str) -> Container:
        return _container(self._record(name))

    def exists(self, name: str) -> bool:
        try:
            self._record(name)
        except ContainerNotFound:
            return False
        return True

    def _select(self, names: list[str] | None, all_containers: bool, *, running_only: bool = False) -> list[str]:
        """The targets of a bulk operation: the names given, or with all_containers every (running) container."""
        if all_containers:
            store = self._s.containers
            records = store.all()
            if running_only:
                records = [r for r in records if store.status(r.id).state in ACTIVE]
            return [r.id for r in records]
        if not names:
            raise InvalidArgument("you must provide at least one container name or ID")
        return list(names)

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
        resources = spec.resources
        asked = [flag for flag, given in (("--memory", resources.memory), ("--cpus", resources.cpus),
                                          ("--pids-limit", (resources.pids_limit or 0) > 0)) if given]
        if self._s.config.rootless and asked:
            # As podman on cgroup v1: rootless containers get no cgroup, so limits cannot hold.
            return [f"resource limits ({', '.join(asked)}) are not applied to rootless containers on this host (cgroup v1)"]
        return []

    def _create(self, spec: "ContainerSpec", *, replace: bool, progress) -> "ContainerRecord":
        from pyctr.container.create import create_container

        s = self._s

        def volume_path(name: str) -> str:  # the volume service only for containers that mount volumes
            return s.volumes.create(name or None, exist_ok=True, anonymous=not name).mountpoint

        def remove_namesake() -> None:  # --replace, once the new container is known to be possible
            try:
                old = self._record(spec.lifecycle.name)
            except ContainerNotFound:
                return
            s.tasks.remove(old, force=True)

        make_room = remove_namesake if replace and spec.lifecycle.name else None
        return create_container(s.containers, s.images, volume_path, spec, progress, make_room)

    def run(self, spec: "ContainerSpec", *, replace: bool = False, remove_image: bool = False, progress=None,
            attach: "Callable[[AttachSession], int | None] | None" = None, console_size=None, shim=None,
            on_created: "Callable[[Container], None] | None" = None) -> RunResult:
        """create + start. Without `attach`, the container runs detached. With it, `attach(session)` proxies
        the container's stdio and returns its exit code (None if the user detached); then `--rm` removes the
        container before this returns (as podman), and `remove_image` (--rmi) its image too.
        `shim`: a ShimLauncher started early by the caller, so that its boot overlaps our work.
        `on_created(container)` runs between create and start (e.g. to write a --cidfile)."""
        try:
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

    def start(self, names: list[str]) -> list[Report]:
        return self._each(names, lambda r: self._s.tasks.start(r) and None)

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
        return AttachSession(_container(record), client, status.pid, record.tty, record.stdin)

    def _attach_started(self, record: "ContainerRecord", *, console_size=None, shim=None) -> AttachSession:
        from pyctr.runtime import attach

        started = self._s.tasks.start(record, attach=True, shim=shim, console_size=console_size)
        sock = started.client if started.client is not None else attach.connect(str(started.state_dir))
        return AttachSession(_container(record), attach.AttachClient(sock), started.pid, record.tty, record.stdin)

    # -- stopping and signals ----------------------------------------------------------------

    def stop(self, names: list[str] | None = None, *, all_containers: bool = False, ignore: bool = False,
             timeout: int | None = None) -> list[Report]:
        """The stop signal, then SIGKILL after `timeout` (default: the container's stop timeout)."""
        targets = self._select(names, all_containers, running_only=True)
        return self._each(targets, lambda r: self._s.tasks.stop(r, timeout=timeout), ignore_missing=ignore)

    def kill(self, names: list[str] | None = None, *, signal: str | int = "KILL", all_containers: bool = False) -> list[Report]:
        from pyctr.signals import parse_signal

        parse_signal(signal)  # a bad signal is one error, not one per container
        targets = self._select(names, all_containers, running_only=True)
        return self._each(targets, lambda r: self._s.tasks.kill(r, signal))

    def restart(self, names: list[str] | None = None, *, all_containers: bool = False, timeout: int | None = None) -> list[Report]:
        """Stop (when running), wait for the exit, start again."""
        def restart_one(record):
            self._s.tasks.stop(record, timeout=timeout)
            self._s.tasks.wait(record, timeout=30)
            self._s.tasks.start(record)

        return self._each(self._select(names, all_containers), restart_one)

    def pause(self, names: list[str]) -> list[Report]:
        return self._each(names, self._s.tasks.pause)

    def unpause(self, names: list[str]) -> list[Report]:
        return self._each(names, self._s.tasks.unpause)

    def wait(self, names: list[str], *, condition: str = "stopped") -> list[Report]:
        """Block until each container has exited (Report.exit_code), or with condition="running" until it runs (-1)."""
        if condition not in ("stopped", "exited", "running"):
            raise InvalidArgument(f"invalid --condition {condition!r}: stopped, exited or running")

        def wait_one(record) -> int:
            if condition == "running":
                while self._s.containers.status(record.id).state not in ("running", "exited"):
                    time.sleep(0.05)
                return -1
            status = self._s.tasks.wait(record)
            return status.exit_code if status else 0

        return self._each(names, wait_one)

    def exit_code(self, container_id: str) -> int:
        """Wait for the container to exit; its exit code. A --rm container may be removed as soon as
        it exits, and its code with it (then 0): an attached front end reads the EXIT frame instead."""
        status = self._s.tasks.wait(self._record(container_id))
        return status.exit_code if status else 0

    # -- removing ----------------------------------------------------------------------------

    def remove(self, names: list[str] | None = None, *, force: bool = False, all_containers: bool = False,
               ignore: bool = False, volumes: bool = False, timeout: int | None = None) -> list[Report]:
        """Remove containers; `force` stops running ones first (SIGKILL at once unless `timeout`);
        `volumes` removes their anonymous volumes too."""
        def remove_one(record) -> None:
            self._s.tasks.remove(record, force=force, timeout=timeout if timeout is not None else (0 if force else None))
            if volumes:
                self._s.tasks.remove_anonymous_volumes(record)

        return self._each(self._select(names, all_containers), remove_one, ignore_missing=ignore)

    def prune(self) -> list[str]:
        """Remove every container that is not running; their IDs."""
        removed = []
        for record in self._s.containers.all():
            if self._s.containers.status(record.id).state in ("exited", "created"):
                self._s.tasks.remove(record)
                removed.append(record.id)
        return removed

    def rename(self, name: str, new_name: str) -> None:
        self._s.containers.rename(self._record(name), new_name)

    # -- reading -----------------------------------------------------------------------------

    def list(self, *, all_containers: bool = False, filters: list[str] | None = None, last: int = -1) -> list[ContainerSummary]:
        """Newest first; running ones only unless all_containers or filters are given (as podman).
        `filters`: KEY=VALUE with KEY one of status, name, id, ancestor, label, exited."""
        filters = list(filters or [])
        for item in filters:
            if item.partition("=")[0] not in FILTER_KEYS:
                raise InvalidArgument(f"invalid filter {item!r}: supported are {', '.join(FILTER_KEYS)}")
        store = self._s.containers
        rows = [_summary(r, store.status(r.id)) for r in store.all()]
        if not all_containers and not filters:
            rows = [r for r in rows if r.state in ACTIVE]
        rows = [r for r in rows if all(_matches(r, f) for f in filters)]
        rows.sort(key=lambda r: r.created, reverse=True)
        return rows[:last] if last >= 0 else rows

    def inspect(self, name: str) -> ContainerInfo:
        record = self._record(name)
        store = self._s.containers
        return ContainerInfo(record, store.status(record.id), str(store.log_path(record.id)),
                             str(store.path(record.id) / "userdata"))

    def logs(self, name: str, *, follow: bool = False, tail: int | None = None, since: float | None = None,
             until: float | None = None) -> Iterator["LogLine"]:
        """The container's output lines (k8s-file log); `follow` keeps reading until the container exits."""
        from pyctr.runtime import logs

        record = self._record(name)
        store = self._s.containers
        path = str(store.log_path(record.id))
        if follow:
            lines = logs.follow_log(path, is_finished=lambda: store.status(record.id).state not in (*ACTIVE, "created"),
                                    tail=tail, since=since)
        else:
            lines = logs.read_log(path, tail=tail, since=since, until=until)
        for line in lines:
            if until is not None and line.time > until:
                return
            yield line

    def top(self, name: str, ps_args: list[str] | None = None) -> Top:
        """The host's `ps` (default -ef), cut to the container's processes."""
        import subprocess

        pids = set(self._s.tasks.pids(self._record(name)))
        args = list(ps_args or ["-ef"])
        result = subprocess.run(["ps", *args], capture_output=True, text=True, close_fds=True, stdin=subprocess.DEVNULL)
        lines = result.stdout.splitlines()
        if not lines:
            raise InvalidArgument(f"ps {' '.join(args)} failed: {result.stderr.strip()}")
        header = lines[0].split()
        pid_col = header.index("PID") if "PID" in header else 1

        def ours(line: str) -> bool:
            fields = line.split()
            return len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in pids

        return Top(lines[0], [line for line in lines[1:] if ours(line)])

    # -- exec, copies ------------------------------------------------------------------------

    def exec(self, name: str, command: list[str], *, interactive: bool = False, tty: bool = False, detach: bool = False,
             env: dict[str, str] | None = None, workdir: str | None = None, user: str | None = None) -> int:
        """Run a command in a running container with the caller's stdio (stdin only when interactive);
        returns its exit code (0 once started, when detached)."""
        import os

        record = self._record(name)
        tasks = self._s.tasks
        env_list = [f"{k}={v}" for k, v in (env or {}).items()]
        process_file = tasks.exec_process(record, list(command), tty=tty, env=env_list, workdir=workdir, user=user)
        try:
            # Our stdin (fd 0) only when asked for; runc.exec keeps a detached process off our stdout.
            return tasks.runc.exec(record.id, str(process_file), tty=tty, detach=detach,
                                   stdin=0 if (interactive or tty) and not detach else None)
        finally:
            try:
                os.unlink(process_file)
            except OSError:
                pass

    def copy_from(self, name: str, path: str, host_path: str) -> None:
        from pyctr.container import copy

        with self._s.tasks.rootfs(self._record(name)) as rootfs:
            copy.copy_out(rootfs, path, host_path)

    def copy_to(self, name: str, host_path: str, path: str) -> None:
        from pyctr.container import copy

        with self._s.tasks.rootfs(self._record(name)) as rootfs:
            copy.copy_in(rootfs, host_path, path)

    def export(self, name: str, out) -> None:
        """Write the container's filesystem to the binary file `out` as a tar archive."""
        from pyctr.container import copy

        with self._s.tasks.rootfs(self._record(name)) as rootfs:
            copy.export(rootfs, out)


def _container(record: "ContainerRecord") -> Container:
    return Container(record.id, record.name, record.image_name, record.image_id)


def _summary(record: "ContainerRecord", status) -> ContainerSummary:
    return ContainerSummary(
        id=record.id, name=record.name, image=record.image_name, image_id=record.image_id, command=list(record.args),
        created=record.created, state=status.state, exit_code=status.exit_code, pid=status.pid,
        started_at=status.started_at, finished_at=status.finished_at, labels=dict(record.labels),
        ports=record.ports, mounts=[m.get("destination", "") for m in record.mounts],
        auto_remove=record.remove,
    )


def _matches(row: ContainerSummary, item: str) -> bool:
    key, _, value = item.partition("=")
    if key == "status":
        return row.state == value
    if key == "name":
        return value in row.name
    if key == "id":
        return row.id.startswith(value)
    if key == "ancestor":
        return value in (row.image, row.image_id, row.image_id[:12])
    if key == "label":
        lkey, eq, lvalue = value.partition("=")
        return lkey in row.labels and (not eq or row.labels[lkey] == lvalue)
    return row.state == "exited" and str(row.exit_code) == value  # exited
