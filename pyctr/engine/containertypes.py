"""The results of engine.containers (what a front end gets back), and how a record becomes one."""

from __future__ import annotations

from dataclasses import field
TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.container.spec import PortMapping
    from pyctr.container.store import ContainerRecord, Status
    from pyctr.errors import PyctrError


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
    restart_policy: str = "no"  # no, on-failure, always or unless-stopped
    networks: list[str] = field(default_factory=list)  # the bridge networks it is connected to, by name
    pod: str = ""  # the ID of its pod ("" for none)
    pod_name: str = ""
    is_infra: bool = False  # the infra container of its pod


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
    image_digest: str = ""  # the image's manifest digest
    graph_driver: dict = field(default_factory=dict)  # the overlay's LowerDir, UpperDir, WorkDir (MergedDir when mounted)
    runtime: str = "runc"  # the OCI runtime that runs it
    shim_pid: int = 0  # while it runs: its shim's pid (podman's ConmonPid)
    cgroup_path: str = ""  # while it runs: its cgroup (as /proc/PID/cgroup names it)
    oci_config_path: str = ""  # once started: the OCI config.json runc was given
    # While it runs on bridge networks: netavark's answer per network (interfaces: addresses, MAC;
    # DNS servers) and the network namespace's path (podman's SandboxKey).
    network_status: dict = field(default_factory=dict)
    netns_path: str = ""


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
        restart_policy=(record.spec_data["lifecycle"].get("restart") or {}).get("name") or "no",
        networks=sorted(record.networks), pod=(record.spec_data["lifecycle"].get("pod") or ""),
    )


def _health_status(record: "ContainerRecord", store) -> dict | None:
    """The health check's status file; None without a check (the file is read only for those)."""
    if not ((record.spec_data.get("health") or {}).get("test") or record.image_config.get("Healthcheck")):
        return None
    from pyctr.container import health

    if health.command_of(health.of_record(record)) is None:
        return None
    return health.read_status(health.status_path(store.path(record.id)))
