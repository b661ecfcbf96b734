"""Container records: creation, names, lookup, status and removal (no processes here).

Layout under the store root:
    containers/<id>/container.json   the record (what was asked for at create)
    containers/<id>/bundle/          the OCI bundle (config.json) runc runs
    containers/<id>/userdata/        /etc/hosts, /etc/hostname, /etc/resolv.conf
    containers/<id>/overlay/         upper and work directories; merged/ is the rootfs mount point
    containers/<id>/ctr.log          the container's output (k8s-file format, written by the shim)
    containers/<id>/exit.json        how the last run ended (written by the shim)
    containers/<id>/state.json       the run's pids and start times (shim, init) and started_at,
                                     written by its shim before it answers (a killed `run` loses
                                     nothing); paused, stopping, restart count, by the engine
    containers/<id>/lock             the container's lock: it goes with the container (see lock())
    containers/names/<name>          holds the ID; created with O_EXCL, so a name is taken exactly once
    containers/.removing-<id>.<pid>  a container being deleted by process <pid>; swept by the next
                                     removal once that process is gone (killed half-way)
Runtime state (lost at reboot, as it should be): <runroot>/containers/<id>/ (shim pid, attach socket).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from dataclasses import asdict, field
from functools import cached_property
from pathlib import Path
TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.config import Config
from pyctr.errors import Ambiguous, ContainerNotFound, InvalidArgument, NameInUse
from pyctr.linux.proc import process_start
from pyctr.linux.fsutil import atomic_write, atomic_write_json, locked, makedirs, read_json, store_error, update_json
from pyctr.values import value

if TYPE_CHECKING:
    from typing import Iterator
    from pyctr.container.spec import ContainerSpec, PortMapping

_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


@value
class ContainerRecord:
    """A container as created: the spec it was asked for, and what creation resolved from it."""

    id: str
    name: str
    created: float
    # The ContainerSpec as asked and validated (never changed after create), as stored: `spec`
    # decodes it on first use, so that listing many containers (ps) decodes none.
    spec_data: dict
    image_id: str
    image_name: str
    args: list[str]  # the command the container runs (entrypoint + cmd)
    env: list[str] = field(default_factory=list)  # the image's environment, then the spec's
    workdir: str = "/"
    user: str = ""
    hostname: str = ""
    labels: dict[str, str] = field(default_factory=dict)  # the image's labels, then the spec's
    stop_signal: str = "SIGTERM"
    stop_timeout: int = 10
    pids_limit: int = 0  # the spec's, or the configured default at creation; 0: none (also a record made before it)
    log_size_max: int = -1  # --log-opt max-size, or containers.conf's log_size_max at creation; -1: none
    network: str = "private"  # the mode chosen: bridge, private, none, host, slirp4netns, ns:PATH or container:ID
    # With bridge: the networks it is connected to, name -> netavark's per-network options
    # (aliases, static_ips, static_mac, interface_name); network connect and disconnect change it.
    networks: dict[str, dict] = field(default_factory=dict)
    mounts: list[dict] = field(default_factory=list)  # OCI mounts, volumes resolved to host paths
    image_config: dict = field(default_factory=dict)  # the image's config, for inspect

    @cached_property
    def spec(self) -> "ContainerSpec":
        from pyctr.container.spec import ContainerSpec

        return ContainerSpec.from_json(self.spec_data)

    @property
    def tty(self) -> bool:
        return self.spec.process.tty

    @property
    def stdin(self) -> bool:
        return self.spec.process.stdin

    @property
    def remove(self) -> bool:
        return bool(self.spec_data["lifecycle"]["remove"])  # (ps asks each container: no decoding)

    @property
    def ports(self) -> list["PortMapping"]:
        """The published ports (ps asks each container: only they are decoded)."""
        ports = self.spec_data["network"]["ports"]
        if not ports:
            return []
        from pyctr.container.spec import PortMapping

        return [PortMapping(**port) for port in ports]

    @classmethod
    def from_json(cls, obj: dict) -> "ContainerRecord":
        obj = dict(obj)
        obj["spec_data"] = obj.pop("spec") if "spec" in obj else _legacy_spec(obj).to_json()
        return cls(**{k: obj[k] for k in cls.__dataclass_fields__ if k in obj})

    def to_json(self) -> dict:
        data = asdict(self)
        data["spec"] = data.pop("spec_data")
        return data


def _legacy_spec(obj: dict) -> "ContainerSpec":
    """The spec of a record written before specs existed (pyctr 0.1: flat fields and an `options` dict)."""
    from pyctr.container.spec import ContainerSpec, PortMapping, RestartPolicy

    options = obj.get("options") or {}
    spec = ContainerSpec.for_image(obj.get("image_name", ""))
    spec.process.tty, spec.process.stdin = bool(obj.get("tty")), bool(obj.get("stdin"))
    spec.process.init = bool(options.get("init"))
    spec.storage.read_only = bool(options.get("read_only"))
    spec.storage.shm_size = options.get("shm_size")
    security = options.get("security") or {}
    spec.security.privileged = bool(options.get("privileged"))
    spec.security.cap_add, spec.security.cap_drop = list(options.get("cap_add") or []), list(options.get("cap_drop") or [])
    spec.security.no_new_privileges = bool(security.get("no_new_privileges"))
    spec.security.seccomp = security.get("seccomp") or "default"
    spec.security.groups = [str(g) for g in options.get("group_add") or []]
    spec.resources.memory, spec.resources.cpus = options.get("memory"), options.get("cpus")
    spec.resources.ulimits = list(options.get("ulimits") or [])
    spec.network.ports = [PortMapping(p["host_port"], p["container_port"], p["protocol"], p["host_ip"]) for p in options.get("ports") or []]
    spec.network.add_hosts = list(options.get("add_hosts") or [])
    spec.network.dns, spec.network.dns_search = list(options.get("dns") or []), list(options.get("dns_search") or [])
    spec.network.dns_options = list(options.get("dns_options") or [])
    restart = options.get("restart") or {}
    spec.lifecycle.restart = RestartPolicy(restart.get("policy", "no"), int(restart.get("max", 0)))
    spec.lifecycle.remove = bool(obj.get("remove"))
    spec.lifecycle.annotations = dict(obj.get("annotations") or {})
    spec.lifecycle.create_command = list(obj.get("create_command") or [])
    return spec


_REMOVING = ".removing-"  # + ID + "." + the remover's pid: a container directory being deleted

# The states in which a container has processes (its shim is up).
ACTIVE = ("running", "paused", "stopping")
# ACTIVE, or created in the runtime by `init` and waiting for `start`: runc holds it and its shim
# is up, so stop, rm -f and update act on it.
LIVE = (*ACTIVE, "initialized")


@value
class Status:
    """What `ps` and `inspect` show; derived from files, never by running runc (fast for 200
    containers); /proc only tells whether the shim, or without it the container, still runs."""

    state: str  # created, initialized, running, paused, stopping, exited
    pid: int = 0
    exit_code: int = 0
    signal: int | None = None
    oom: bool = False
    started_at: float = 0.0
    finished_at: float = 0.0
    restart_count: int = 0


def _is_process(pid: int, recorded_start: int | None) -> bool:
    """Whether `pid` lives and, if its start time was recorded, is still the process it names."""
    start = process_start(pid)
    return start is not None and (recorded_start is None or start == recorded_start)


def _started_at(state_name: str, state: dict, pid: int) -> float:
    """When the running container started: as recorded (by its shim), else (nothing recorded:
    a full disk) when its process started; never "never" for a container that runs."""
    recorded = float(state.get("started_at") or 0)
    if recorded or state_name == "initialized":
        return recorded
    return _process_started_at(pid) or 0.0


def _process_started_at(pid: int) -> float | None:
    """The wall-clock time process `pid` started, from /proc (ticks since boot + boot time)."""
    ticks = process_start(pid)
    if ticks is None:
        return None
    try:
        with open("/proc/stat", "rb") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith(b"btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError, IndexError):
        return None


class ContainerStore:
    def __init__(self, config: Config):
        self.config = config
        self.dir = config.root / "containers"
        self.names_dir = self.dir / "names"
        self.run_dir = config.runroot / "containers"
        self.runc_root = config.runroot / "runc"  # runc's own state (--root), which tasks' runc keeps

    # -- paths -------------------------------------------------------------------------------

    def path(self, container_id: str) -> Path:
        return self.dir / container_id

    def state_dir(self, container_id: str) -> Path:
        return self.run_dir / container_id

    def bundle(self, container_id: str) -> Path:
        return self.path(container_id) / "bundle"

    def rootfs(self, container_id: str) -> Path:
        return self.path(container_id) / "merged"

    def log_path(self, container_id: str) -> Path:
        return self.path(container_id) / "ctr.log"

    def exit_file(self, container_id: str) -> Path:
        return self.path(container_id) / "exit.json"

    # -- records -----------------------------------------------------------------------------

    @staticmethod
    def new_id() -> str:
        return os.urandom(32).hex()

    def create(self, record_fields: dict, name: str | None, container_id: str | None = None) -> ContainerRecord:
        """Reserve a name and write the record; the caller fills the bundle afterwards."""
        makedirs(self.names_dir)
        container_id = container_id or self.new_id()
        # Under the names lock a name and its record appear together, so a name whose record
        # is missing was left by a crash and may be taken over (see _claim).
        with locked(self.names_dir / ".lock"):
            name = self._reserve_name(name, container_id)
            try:
                makedirs(self.path(container_id))
                self._make_lock_file(container_id)
                record = ContainerRecord(id=container_id, name=name, created=time.time(), **record_fields)
                self.save(record)
            except BaseException:
                import shutil

                self._release_name(name, container_id)
                shutil.rmtree(self.path(container_id), ignore_errors=True)
                raise
        return record

    def _make_lock_file(self, container_id: str) -> None:
        """Made with the record, so that taking the lock never needs space (rm on a full disk)."""
        path = self.path(container_id) / "lock"
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        except OSError as exc:
            raise store_error(f"creating {path}", exc) from exc

    def save(self, record: ContainerRecord) -> None:
        atomic_write_json(self.path(record.id) / "container.json", record.to_json())

    def _reserve_name(self, name: str | None, container_id: str) -> str:
        if name is not None:
            if not _NAME_RE.match(name) or len(name) > 253:
                raise InvalidArgument(f"container name {name!r} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
            self._claim(name, container_id)
            return name
        from pyctr.container import names as namegen  # (random: only when a name is made)

        for _ in range(100):
            candidate = namegen.generate()
            try:
                self._claim(candidate, container_id)
                return candidate
            except NameInUse:
                continue
        candidate = f"{namegen.generate()}_{container_id[:6]}"
        self._claim(candidate, container_id)
        return candidate

    def _claim(self, name: str, container_id: str) -> None:
        """Take `name` for `container_id` (the caller holds the names lock).

        The name file appears whole (written aside, then linked into place), so a crash
        never leaves a name that is taken by nobody."""
        claim = self.names_dir / f".claim-{container_id}"
        atomic_write(claim, container_id.encode())
        try:
            os.link(claim, self.names_dir / name)
        except FileExistsError:
            owner = self._name_owner(name)
            if not owner or not (self.path(owner) / "container.json").exists():
                atomic_write(self.names_dir / name, container_id.encode())  # left by a crash
                return
            raise NameInUse(
                f'the container name "{name}" is already in use by {owner}. '
                "You have to remove that container to be able to reuse that name: that name is already in use",
            ) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(claim)

    def _name_owner(self, name: str) -> str | None:
        try:
            return (self.names_dir / name).read_text().strip() or None
        except OSError:
            return None

    def _release_name(self, name: str, container_id: str) -> None:
        if self._name_owner(name) == container_id:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.names_dir / name)

    def rename(self, record: ContainerRecord, new_name: str) -> None:
        makedirs(self.names_dir)
        with locked(self.names_dir / ".lock"):
            self._reserve_name(new_name, record.id)
            old = record.name
            record.name = new_name
            self.save(record)
            self._release_name(old, record.id)

    def load(self, container_id: str) -> ContainerRecord | None:
        # os.path.join, not Path's `/`: ps reads these files for every container
        data = read_json(os.path.join(self.dir, container_id, "container.json"))
        return ContainerRecord.from_json(data) if data else None

    def ids(self) -> list[str]:
        try:
            return [n for n in os.listdir(self.dir) if len(n) == 64]
        except FileNotFoundError:
            return []

    def all(self) -> list[ContainerRecord]:
        records = [r for r in (self.load(i) for i in self.ids()) if r]
        return sorted(records, key=lambda r: r.created)

    def resolve(self, name_or_id: str) -> ContainerRecord:
        """By exact name, full ID, or unique ID prefix (podman's rules)."""
        owner = self._name_owner(name_or_id) if _NAME_RE.match(name_or_id) else None
        if owner:
            record = self.load(owner)
            if record:
                return record
        if re.fullmatch(r"[a-f0-9]{1,64}", name_or_id):
            matches = [i for i in self.ids() if i.startswith(name_or_id)]
            if len(matches) == 1:
                record = self.load(matches[0])
                if record:
                    return record
            if len(matches) > 1:
                raise Ambiguous(f"more than one result for container {name_or_id!r}: use a longer ID")
        raise self._not_found(name_or_id)

    def remove(self, record: ContainerRecord, *, sweeper: int | None = None) -> None:
        """Delete the record and release its name; the caller has stopped and unmounted it.
        `sweeper`: a live process that deletes the container's files next (its shim, whose
        cleanup command comes after: pyctr.cleanup), so that the caller need not wait for that."""
        import shutil  # (here: ps and inspect never need it)

        path = self.path(record.id)
        gone = self.dir / f"{_REMOVING}{record.id}.{sweeper or os.getpid()}"
        # Under the names lock: a create that takes the name over must not lose it to us.
        with locked(self.names_dir / ".lock"):
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, gone)
            self._release_name(record.name, record.id)
            left = self._claim_leftovers()
        if sweeper is None:
            shutil.rmtree(gone, ignore_errors=True)
        shutil.rmtree(self.state_dir(record.id), ignore_errors=True)
        with contextlib.suppress(OSError):  # where earlier versions kept the lock
            os.unlink(self.run_dir / f"{record.id}.lock")
        for directory in left:
            shutil.rmtree(directory, ignore_errors=True)

    def _claim_leftovers(self) -> list[Path]:
        """What removals killed half-way left (the caller holds the names lock): directories
        renamed away whose remover is gone, and runtime state of containers that no longer
        exist. Each is renamed to a name of ours first, so that one sweeper alone deletes it."""
        claimed = []
        with contextlib.suppress(OSError):
            for name in os.listdir(self.dir):
                if not name.startswith(_REMOVING):
                    continue
                owner = name.rpartition(".")[2]
                if owner.isdigit() and (int(owner) == os.getpid() or process_start(int(owner)) is not None):
                    continue  # its remover is still at it
                mine = self.dir / f"{_REMOVING}{name[len(_REMOVING):].partition('.')[0]}.{os.getpid()}"
                with contextlib.suppress(OSError):
                    os.rename(self.dir / name, mine)
                    claimed.append(mine)
        with contextlib.suppress(OSError):
            for name in os.listdir(self.run_dir):
                if len(name) == 64 and not self.path(name).exists():
                    claimed.append(self.run_dir / name)
        return claimed

    @contextlib.contextmanager
    def lock(self, container_id: str) -> Iterator[None]:
        """Hold the container's lock; ContainerNotFound if the container is gone.

        The lock file lives in the container's directory, so that it goes with it. rm holds
        this lock while it renames the directory away (then deletes it): a process that
        waited for the lock meanwhile gets it on a file that is no longer the container's,
        sees that, and finds the container gone, as one that came later would."""
        path = self.path(container_id) / "lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            raise self._not_found(container_id) from None
        except OSError as exc:
            raise store_error(f"opening lock {path}", exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                ours = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                ours = False
            if not ours:
                raise self._not_found(container_id)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    @staticmethod
    def _not_found(name_or_id: str) -> ContainerNotFound:
        return ContainerNotFound(f"no container with name or ID \"{name_or_id}\" found: no such container")

    def using_image(self, image_id: str) -> list[ContainerRecord]:
        return [r for r in self.all() if r.image_id == image_id]

    # -- status ------------------------------------------------------------------------------

    def read_state(self, container_id: str) -> dict:
        return read_json(os.path.join(self.dir, container_id, "state.json"), {}) or {}

    def write_state(self, container_id: str, **changes) -> dict:
        """Merge `changes` into state.json. Its own lock (not lock(): callers may hold that one),
        so that concurrent writers (pause, a restart policy, start) never lose each other's update."""
        return update_json(self.path(container_id) / "state.json", changes, self.path(container_id) / "state.lock")

    def shim_pid(self, container_id: str) -> int:
        try:
            with open(os.path.join(self.run_dir, container_id, "shim.pid")) as f:  # (ps: once per container)
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def container_pid(self, container_id: str) -> int:
        try:
            with open(os.path.join(self.run_dir, container_id, "pid")) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _init_alive(self, container_id: str, pid: int, state: dict) -> bool:
        """Whether the container's init `pid` (from runc's pid file) still runs: it lives and
        started when it started at the container's start, as start recorded it, or else as
        runc recorded it (state.json in runc's root: read, not run)."""
        if pid <= 0:
            return False
        recorded = state.get("pid_start") if state.get("pid") == pid else None
        if recorded is None:
            from pyctr.runtime.runc import recorded_init

            init = recorded_init(self.runc_root, container_id)
            if init is None or init[0] != pid:
                return False  # runc forgot it (deleted): it does not run
            recorded = init[1]
        return process_start(pid) == recorded

    def status(self, container_id: str) -> Status:
        """From files while the shim lives (ps on 200 containers runs nothing); when it is
        gone (killed, OOM), from the container's init itself, which may still run."""
        state = self.read_state(container_id)
        exit_record = read_json(os.path.join(self.dir, container_id, "exit.json"))  # (exit_file, as a str: cheaper)
        restarts = int(state.get("restart_count", 0))
        if not exit_record:
            shim = self.shim_pid(container_id)
            active = "paused" if state.get("paused") else ("stopping" if state.get("stopping") else "running")
            if state.get("initialized"):  # `init`: runc created it, its process waits for `start`
                active = "initialized"
            # A live shim means the container runs, even if the command that started it died
            # before it could record the start.
            if _is_process(shim, state.get("shim_start") if state.get("shim_pid") == shim else None):
                pid = self.container_pid(container_id)
                return Status(active, pid=pid, started_at=_started_at(active, state, pid), restart_count=restarts)
            # No shim: it was killed, or it wrote the exit record and ended since we read it.
            pid = self.container_pid(container_id)
            if self._init_alive(container_id, pid, state):
                return Status(active, pid=pid, started_at=_started_at(active, state, pid), restart_count=restarts)
            if shim:
                exit_record = read_json(self.exit_file(container_id))
        if exit_record:
            return Status(
                "exited",
                exit_code=int(exit_record.get("exit_code", 0)),
                signal=exit_record.get("signal"),
                oom=bool(exit_record.get("oom")),
                started_at=float(state.get("started_at") or exit_record.get("started_at") or 0),
                finished_at=float(exit_record.get("finished_at") or 0),
                restart_count=restarts,
            )
        if not state.get("started_at"):
            return Status("created", restart_count=restarts)
        # Started, and neither a shim nor the process nor an exit record: it ended with nobody
        # to see how (the shim was killed, or the host rebooted). podman's only -1.
        return Status("exited", exit_code=-1, started_at=float(state["started_at"]), restart_count=restarts)
