"""Pod records: creation, names, lookup and removal (no processes here).

Layout under the store root:
    pods/<id>/pod.json      the record (what was asked for at create, and the infra container's ID)
    pods/<id>/lock          the pod's lock: start, stop and rm of a pod take it
    pods/names/<name>       holds the ID; linked into place under the names lock, so a name is taken once
    pods/infra-rootfs/      the infra containers' root filesystem (catatonit), made once
Members are not listed here: a container names its pod in its spec (lifecycle.pod).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from dataclasses import asdict, field
from pathlib import Path
from typing import Iterator

from pyctr.errors import Ambiguous, NameInUse, NotFound
from pyctr.linux.fsutil import atomic_write, atomic_write_json, locked, makedirs, read_json
from pyctr.values import value

_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
SHAREABLE = ("cgroup", "ipc", "net", "pid", "uts", "none")  # podman's --share kinds (user is refused there too)
DEFAULT_SHARE = ("ipc", "net", "uts")


class PodNotFound(NotFound):
    """No pod matches the name or ID."""


@value
class PodSpec:
    """What a pod is asked to be (podman's `pod create` options that pyctr builds)."""

    name: str | None = None  # None: a generated adjective_noun
    labels: dict[str, str] = field(default_factory=dict)
    hostname: str | None = None  # None: the pod's name
    infra: bool = True  # an infra container holds the shared namespaces
    infra_command: list[str] | None = None  # None: /catatonit -P
    infra_name: str | None = None  # None: <pod ID[:12]>-infra
    infra_conmon_pidfile: str | None = None  # where the infra container's shim pid is written
    infra_image: str | None = None  # None: catatonit in a root filesystem pyctr makes
    share: list[str] = field(default_factory=lambda: list(DEFAULT_SHARE))
    # The network options are the infra container's: the members join its network namespace.
    ports: list = field(default_factory=list)  # pyctr.container.spec.PortMapping
    network_mode: str | None = None  # as NetworkSpec.mode
    networks: list = field(default_factory=list)  # pyctr.container.spec.NetworkAttachment
    add_hosts: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    no_hosts: bool = False
    create_command: list[str] = field(default_factory=list)
    exit_policy: str = "continue"  # or stop: the infra container stops after the last member (pyctr.pod.exitpolicy)
    share_parent: bool = True  # the members' cgroups in the pod's own cgroup (when it has one: limits below)
    cgroup_parent: str | None = None  # the members' cgroup parent (their default, as podman's)
    # Limits of the pod's own cgroup (pyctr.pod.cgroup), which its containers share:
    cpus: float | None = None
    memory: int | None = None  # bytes
    memory_swap: int | None = None  # bytes of memory + swap; -1: unlimited
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    device_read_bps: list[str] = field(default_factory=list)  # DEVICE:BYTES
    device_write_bps: list[str] = field(default_factory=list)
    # The infra container's, and through it the members': its volumes (they get --volumes-from it),
    # /dev/shm (in the shared IPC namespace) and namespaced sysctls (of the shared namespaces).
    volumes: list[str] = field(default_factory=list)  # -v SRC:DEST[:OPTS] as given
    volumes_from: list[str] = field(default_factory=list)  # CONTAINER[:ro|rw]
    shm_size: int | None = None  # bytes
    sysctls: dict[str, str] = field(default_factory=dict)
    devices: list[str] = field(default_factory=list)  # HOST[:CONTAINER][:PERMISSIONS]: the members' too (podman's)
    pid: str | None = None  # the infra container's PID namespace (host, ns:PATH, ...); the members' with --share pid
    uts: str | None = None  # the infra container's UTS namespace; the members' (shared by default)
    security_opt: list[str] = field(default_factory=list)  # the infra container's
    # Options of `pod create` whose machinery pyctr has not, as given ({"--userns": "auto"}): the
    # engine refuses each with one line naming what is missing.
    not_built: dict[str, str] = field(default_factory=dict)


@value
class PodRecord:
    id: str
    name: str
    created: float
    spec: dict  # the PodSpec as asked (asdict)
    infra_id: str = ""  # "" when the pod has no infra container
    hostname: str = ""
    cgroup: str = ""  # the pod's own cgroup (only with resource limits), its containers' cgroup parent

    @property
    def share(self) -> list[str]:
        return list(self.spec.get("share") or [])

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.spec.get("labels") or {})

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "PodRecord":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class PodStore:
    def __init__(self, root: Path):
        self.dir = Path(root) / "pods"
        self.names_dir = self.dir / "names"

    def path(self, pod_id: str) -> Path:
        return self.dir / pod_id

    def create(self, name: str | None, spec: dict, hostname: str | None) -> PodRecord:
        """Reserve the name and write the record (its infra container is the caller's)."""
        from pyctr.container import names as namegen

        makedirs(self.names_dir)
        pod_id = os.urandom(32).hex()
        with locked(self.names_dir / ".lock"):
            if name is None:
                name = next((n for n in (namegen.generate() for _ in range(100)) if not self._owner(n)),
                            f"{namegen.generate()}_{pod_id[:6]}")
            elif not _NAME_RE.match(name) or len(name) > 253:
                raise _invalid_name(name)
            self._claim(name, pod_id)
            try:
                makedirs(self.path(pod_id))
                os.close(os.open(self.path(pod_id) / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
                record = PodRecord(pod_id, name, time.time(), spec, hostname=hostname or name)
                self.save(record)
            except BaseException:
                self._release(name, pod_id)
                shutil.rmtree(self.path(pod_id), ignore_errors=True)
                raise
        return record

    def _claim(self, name: str, pod_id: str) -> None:
        claim = self.names_dir / f".claim-{pod_id}"
        atomic_write(claim, pod_id.encode())
        try:
            os.link(claim, self.names_dir / name)
        except FileExistsError:
            owner = self._owner(name)
            if owner and (self.path(owner) / "pod.json").exists():
                raise NameInUse(f'adding pod to state: name "{name}" is in use: pod already exists') from None
            atomic_write(self.names_dir / name, pod_id.encode())  # left by a crash
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(claim)

    def _owner(self, name: str) -> str | None:
        try:
            return (self.names_dir / name).read_text().strip() or None
        except OSError:
            return None

    def _release(self, name: str, pod_id: str) -> None:
        if self._owner(name) == pod_id:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.names_dir / name)

    def save(self, record: PodRecord) -> None:
        atomic_write_json(self.path(record.id) / "pod.json", record.to_json())

    def load(self, pod_id: str) -> PodRecord | None:
        data = read_json(self.path(pod_id) / "pod.json")
        return PodRecord.from_json(data) if data else None

    def ids(self) -> list[str]:
        try:
            return [n for n in os.listdir(self.dir) if len(n) == 64]
        except FileNotFoundError:
            return []

    def all(self) -> list[PodRecord]:
        return sorted(filter(None, (self.load(i) for i in self.ids())), key=lambda r: r.created)

    def resolve(self, name_or_id: str) -> PodRecord:
        """By exact name, full ID, or unique ID prefix (podman's rules)."""
        owner = self._owner(name_or_id) if _NAME_RE.match(name_or_id or "") else None
        if owner:
            record = self.load(owner)
            if record:
                return record
        if re.fullmatch(r"[a-f0-9]{1,64}", name_or_id or ""):
            matches = [i for i in self.ids() if i.startswith(name_or_id)]
            if len(matches) > 1:
                raise Ambiguous(f"more than one result for pod ID {name_or_id}")
            if matches:
                record = self.load(matches[0])
                if record:
                    return record
        raise PodNotFound(f"no pod with name or ID {name_or_id} found: no such pod")

    def remove(self, record: PodRecord) -> None:
        with locked(self.names_dir / ".lock"):
            gone = self.dir / f".removing-{record.id}"
            with contextlib.suppress(FileNotFoundError):
                os.rename(self.path(record.id), gone)
            self._release(record.name, record.id)
        shutil.rmtree(gone, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, pod_id: str) -> Iterator[None]:
        """The pod's lock (PodNotFound once the pod is gone)."""
        if not (self.path(pod_id) / "lock").exists():
            raise PodNotFound(f"no pod with name or ID {pod_id} found: no such pod")
        with locked(self.path(pod_id) / "lock"):
            yield

    # -- the infra containers' root filesystem ------------------------------------------------

    def infra_rootfs(self) -> Path:
        """A directory holding a copy of the host's catatonit as /catatonit and the empty
        directories runc mounts over; made once (atomically: a rename), never pulled."""
        target = self.dir / "infra-rootfs"
        if (target / "catatonit").exists():
            return target
        source = shutil.which("catatonit") or next((p for p in CATATONIT_PATHS if os.path.exists(p)), None)
        if source is None:
            from pyctr.errors import ConfigError

            raise ConfigError("the infra container needs catatonit (Debian's catatonit package): not found",
                              hint="apt-get install catatonit, or create the pod with --infra=false")
        makedirs(self.dir, 0o755)
        work = Path(f"{target}.{os.getpid()}")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work, 0o755)
        for name in ("proc", "sys", "dev", "etc", "tmp", "run"):
            os.makedirs(work / name, 0o755)
        for name in ("hosts", "hostname", "resolv.conf", "passwd", "group"):
            (work / "etc" / name).touch()
        shutil.copy2(source, work / "catatonit")
        os.chmod(work / "catatonit", 0o755)
        os.chmod(work, 0o755)
        try:
            os.rename(work, target)
        except OSError:  # another process made it meanwhile
            shutil.rmtree(work, ignore_errors=True)
        return target


CATATONIT_PATHS = ("/usr/bin/catatonit", "/usr/libexec/podman/catatonit", "/usr/libexec/catatonit/catatonit")


def _invalid_name(name: str):
    from pyctr.errors import InvalidArgument

    return InvalidArgument(f"pod name {name!r} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
