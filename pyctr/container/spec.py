"""The container spec: everything a container is asked to be, in one typed value.

Grouped as podman's SpecGenerator groups it (image, process, storage, security,
resources, network, lifecycle). Every front end builds one (the command line
from podman's flags through pyctr.container.flags, a later API service from
JSON), the engine validates it once (`validate`), stores it as is in the
container record, and pyctr.container.ocimap turns it into the OCI spec.

Adding an option: a field here (with its check in `validate` if it needs one),
its flag in the command line, and its line in the OCI mapping.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, field, fields, is_dataclass
from functools import cache, partial
TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)
if TYPE_CHECKING:
    from typing import Any

from pyctr.errors import InvalidArgument
from pyctr.values import value

PULL_POLICIES = ("always", "missing", "never", "newer")
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
NETWORK_MODES = ("bridge", "private", "none", "host", "slirp4netns")
MOUNT_TYPES = ("bind", "volume", "tmpfs")
MIN_MEMORY = 6 << 20  # podman's floor: less cannot even start a shell
PID_MAX_LIMIT = 4194304  # the kernel's ceiling for pids.max
DEVICE_PERMISSIONS = "rwm"  # read, write, mknod


@value
class ImageSpec:
    """What to run, and how to get it."""

    name: str  # a reference or an image ID, as the user wrote it
    pull: str = "missing"  # always, missing, never or newer
    platform: str | None = None  # OS/ARCH[/VARIANT] to pull
    tls_verify: bool | None = None  # None: HTTPS, except for loopback and insecure registries
    authfile: str | None = None
    rootfs: bool = False  # --rootfs: `name` is a directory to run as the root filesystem, not an image


@value
class ProcessSpec:
    """The container's process."""

    command: list[str] = field(default_factory=list)  # replaces the image's CMD when given
    entrypoint: list[str] | None = None  # None: the image's; [] clears it (and its CMD)
    env: dict[str, str] = field(default_factory=dict)  # over the image's environment
    workdir: str | None = None  # None: the image's, else /
    user: str | None = None  # USER[:GROUP], names or IDs; None: the image's
    tty: bool = False
    stdin: bool = False  # keep stdin open (-i)
    init: bool = False  # tini as PID 1
    stop_signal: str | None = None  # None: the image's STOPSIGNAL, else SIGTERM
    stop_timeout: int | None = None  # seconds before SIGKILL; None: 10
    init_path: str | None = None  # --init-path: the init binary on the host; None: tini
    env_host: bool = False  # the caller's whole environment under the image's and -e's
    http_proxy: bool = True  # copy the caller's *_proxy variables (podman's default)
    env_merge: list[str] = field(default_factory=list)  # KEY=VALUE with ${VAR} of the image's environment
    unsetenv: list[str] = field(default_factory=list)  # removed from the final environment (defaults too)
    unsetenv_all: bool = False  # no default variables (PATH, container, TERM, HOSTNAME, HOME)
    umask: str | None = None  # octal, e.g. 0027; None: 0022
    personality: str | None = None  # LINUX or LINUX32 execution domain
    oom_score_adj: int | None = None
    timeout: int = 0  # seconds until the container is killed (exit code 255); 0: none
    tz: str | None = None  # --tz: local or a zone under /usr/share/zoneinfo
    systemd: str = "true"  # true (when the command is init or systemd), false, always


@value
class Mount:
    """A bind mount, a named or anonymous volume, or a tmpfs."""

    type: str  # bind, volume or tmpfs
    destination: str
    source: str = ""  # bind: a host path; volume: its name ("" for an anonymous one)
    options: list[str] = field(default_factory=list)  # ro, nosuid, rprivate, size=64m, ...


@value
class Device:
    """A host device node made usable in the container (--device)."""

    source: str  # the host's path (a symlink is followed; a directory gives every device under it)
    destination: str = ""  # "": the host's path
    permissions: str = DEVICE_PERMISSIONS  # the cgroup's access: some of r, w and m (rootless: ro without w)


@value
class SecretRef:
    """A secret given to the container (--secret): a read-only file, or an environment variable."""

    name: str  # the secret's name (or ID) in pyctr's secret store
    type: str = "mount"  # mount or env
    target: str = ""  # mount: a path (relative: under /run/secrets); env: the variable; "": the name
    uid: int = 0  # mount only: the file's owner and mode in the container
    gid: int = 0
    mode: int = 0o444
    id: str = ""  # the secret's ID, noted at create (inspect's Config.Secrets)


@value
class StorageSpec:
    """The root filesystem and what is mounted into it."""

    mounts: list[Mount] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    secrets: list[SecretRef] = field(default_factory=list)  # copied into the container at create
    read_only: bool = False  # read-only root filesystem (with tmpfs on /tmp, /var/tmp, /run)
    shm_size: int | None = None  # bytes of /dev/shm; None: 64 MiB
    read_only_tmpfs: bool = True  # with read_only: tmpfs on /tmp, /var/tmp, /run
    volumes_from: list[str] = field(default_factory=list)  # CONTAINER[:ro|rw] (IDs once created)
    image_volume: str = "bind"  # the image's VOLUMEs: bind (anonymous volumes), tmpfs or ignore
    no_hosts: bool = False  # leave /etc/hosts as the image has it
    passwd: bool = True  # add the user to /etc/passwd when the image lacks it
    passwd_entry: str | None = None  # the /etc/passwd line template ($USERNAME, $UID, $GID, $NAME, $HOME)
    hostusers: list[str] = field(default_factory=list)  # host users copied into /etc/passwd
    chrootdirs: list[str] = field(default_factory=list)  # where the container will chroot (for its /etc files)


@value
class SecuritySpec:
    """Privileges: capabilities, seccomp, groups, and the rest of --security-opt."""

    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    no_new_privileges: bool = False
    # default, unconfined, or the absolute path of a profile (whose content create keeps with the container)
    seccomp: str = "default"
    groups: list[str] = field(default_factory=list)  # --group-add: GIDs, names (the image's /etc/group) or keep-groups
    seccomp_policy: str = "default"  # default, or image (not supported: no image carries one here)
    mask: list[str] = field(default_factory=list)  # more masked paths (mask=)
    unmask: list[str] = field(default_factory=list)  # masked/read-only paths (globs) left open, or ALL (unmask=)
    proc_opts: list[str] = field(default_factory=list)  # more options of the /proc mount (proc-opts=)
    apparmor: str = ""  # the AppArmor profile (apparmor=); "" or unconfined: none
    labels: list[str] = field(default_factory=list)  # SELinux options (label=): without SELinux, no effect


@value
class ResourceSpec:
    """Limits."""

    memory: int | None = None  # bytes
    cpus: float | None = None
    ulimits: list[str] = field(default_factory=list)  # NAME=SOFT[:HARD], as --ulimit
    pids_limit: int | None = None  # most processes at once; 0 or -1: no limit; None: the configured default (2048)
    cpu_shares: int | None = None  # relative weight (cgroup cpu.shares)
    cpu_period: int | None = None  # CFS period, microseconds
    cpu_quota: int | None = None  # CFS quota, microseconds per period
    cpu_rt_period: int | None = None
    cpu_rt_runtime: int | None = None
    cpuset_cpus: str | None = None  # e.g. 0-2,4
    cpuset_mems: str | None = None
    memory_reservation: int | None = None  # bytes (soft limit)
    memory_swap: int | None = None  # bytes of memory + swap; -1: unlimited
    memory_swappiness: int | None = None  # 0 to 100
    oom_kill_disable: bool = False
    blkio_weight: int | None = None  # 10 to 1000
    blkio_weight_devices: list[str] = field(default_factory=list)  # DEVICE:WEIGHT
    device_read_bps: list[str] = field(default_factory=list)  # DEVICE:RATE (rates as bytes)
    device_write_bps: list[str] = field(default_factory=list)
    device_read_iops: list[str] = field(default_factory=list)  # DEVICE:IOPS
    device_write_iops: list[str] = field(default_factory=list)
    device_cgroup_rules: list[str] = field(default_factory=list)  # "c 1:3 rwm"
    cgroup_conf: dict[str, str] = field(default_factory=dict)  # cgroup v2 only
    cgroup_parent: str | None = None
    cgroups: str = "enabled"  # enabled, disabled, no-conmon or split


@value
class PortMapping:
    """A container port published on the host."""

    host_port: int
    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""  # "" for every address


@value
class NetworkAttachment:
    """A bridge network the container joins, and how (podman's per-network options)."""

    name: str = ""  # "": the default network
    aliases: list[str] = field(default_factory=list)  # more names it answers to in the network's DNS
    ips: list[str] = field(default_factory=list)  # static addresses (else handed out at each start)
    mac: str = ""
    interface: str = ""  # in the container: eth0, eth1, ... in order when not given


@value
class NetworkSpec:
    """The network namespace and what the container sees of names."""

    # bridge, private (loopback only), none, host, slirp4netns, ns:PATH or container:ID; None: the
    # default for the user (bridge as root, slirp4netns rootless)
    mode: str | None = None
    networks: list[NetworkAttachment] = field(default_factory=list)  # with mode bridge (or None)
    hostname: str | None = None  # None: the container's short ID
    ports: list[PortMapping] = field(default_factory=list)
    add_hosts: list[str] = field(default_factory=list)  # HOST:IP lines for /etc/hosts
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)  # PORT/PROTO, over the image's EXPOSE
    publish_all: bool = False  # -P: every exposed port on a free host port (chosen at create)


@value
class RestartPolicy:
    """What happens when the container exits."""

    name: str = "no"  # no, on-failure, always or unless-stopped
    max_retries: int = 0  # on-failure only; 0 is no limit


@value
class LifecycleSpec:
    """Name, removal, restarts, labels."""

    name: str | None = None  # None: a generated adjective_noun
    remove: bool = False  # --rm: removed once it exits
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    labels: dict[str, str] = field(default_factory=dict)  # over the image's labels
    annotations: dict[str, str] = field(default_factory=dict)
    # --log-opt max-size: once the log would grow past it, it starts again empty (podman's
    # k8s-file); None or -1: no limit.
    log_max_size: int | None = None
    log_driver: str = "k8s-file"  # k8s-file (json-file is the same file, as in podman 4), none, passthrough
    log_path: str | None = None  # --log-opt path: where the log is written; None: the container's directory
    log_tag: str | None = None  # --log-opt tag (journald only, as podman)
    create_command: list[str] = field(default_factory=list)  # how it was made, for inspect and units
    requires: list[str] = field(default_factory=list)  # containers started before this one (IDs once created)
    pidfile: str | None = None  # where the container's pid is written at each start
    conmon_pidfile: str | None = None  # where the shim's pid is written at each start
    sdnotify: str = "container"  # container, conmon or ignore
    pod: str = ""  # --pod: the pod's name, or new:NAME (a pod made for it); its ID once created


@value
class NamespaceSpec:
    """Which namespaces the container shares: "" (its own), host, container:ID, ns:PATH, ...;
    podman's modes per kind (see pyctr.container.specrules)."""

    pid: str = ""
    ipc: str = ""  # also shareable, none
    uts: str = ""
    cgroupns: str = ""  # host or private
    userns: str = ""  # host, keep-id, nomap, auto, ns:PATH, private
    uidmap: list[str] = field(default_factory=list)  # CONTAINER:HOST:SIZE
    gidmap: list[str] = field(default_factory=list)
    subuidname: str | None = None
    subgidname: str | None = None
    sysctls: dict[str, str] = field(default_factory=dict)  # namespaced sysctls only


@value
class HealthSpec:
    """The health check (--health-*, as podman's HealthConfig); pyctr.container.health has its rules."""

    # podman's Test form: ["CMD-SHELL", "cmd"], ["CMD", arg, ...], ["NONE"] (none, not even the
    # image's); None: the image's HEALTHCHECK, if it has one.
    test: list[str] | None = None
    interval: float | None = None  # seconds between checks, 0: none on schedule; None: 30
    timeout: float | None = None  # seconds; None: 30
    start_period: float | None = None  # seconds after the start when failures do not count; None: 0
    retries: int | None = None  # failures in a row that make it unhealthy; None: 3
    on_failure: str = "none"  # once unhealthy: none, kill, restart or stop


@value
class ContainerSpec:
    """Everything a container is asked to be (see the module's docstring)."""

    image: ImageSpec
    process: ProcessSpec = field(default_factory=ProcessSpec)
    storage: StorageSpec = field(default_factory=StorageSpec)
    security: SecuritySpec = field(default_factory=SecuritySpec)
    resources: ResourceSpec = field(default_factory=ResourceSpec)
    network: NetworkSpec = field(default_factory=NetworkSpec)
    lifecycle: LifecycleSpec = field(default_factory=LifecycleSpec)
    namespaces: NamespaceSpec = field(default_factory=NamespaceSpec)
    health: HealthSpec = field(default_factory=HealthSpec)

    @classmethod
    def for_image(cls, image: str, command: list[str] | None = None, **groups: Any) -> "ContainerSpec":
        """The short way: `ContainerSpec.for_image("busybox", ["echo", "hi"])`."""
        spec = cls(ImageSpec(image), **groups)
        if command is not None:
            spec.process.command = list(command)
        return spec

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ContainerSpec":
        return _from_json(cls, data)

    def validate(self) -> None:
        """Every check that needs no image and no store; raises InvalidArgument."""
        _validate(self)


def _from_json(kind: type, data: dict) -> Any:
    """Rebuild nested dataclasses from their asdict() form (unknown keys are ignored)."""
    values = {}
    for name, convert in _decoding_plan(kind):
        if name in data:
            values[name] = data[name] if convert is None else convert(data[name])
    return kind(**values)


@cache
def _decoding_plan(kind: type) -> list[tuple[str, Any]]:
    """(field, converter or None) for each field of `kind`, worked out once per class: `ps` decodes
    a spec per container, and reading the type hints every time would cost more than the JSON."""
    plan = []
    for f in fields(kind):
        # The annotations are strings (postponed evaluation): a nested group is written `Group`
        # or `list[Group]`, a name in its class's module (not typing.get_type_hints: importing
        # typing costs `ps` and `inspect` ~2 ms).
        owner = next(c for c in kind.__mro__ if f.name in c.__dict__.get("__annotations__", {}))
        names = vars(sys.modules[owner.__module__])
        hint = f.type.replace(" ", "") if isinstance(f.type, str) else ""
        listed = hint[len("list["):-1] if hint.startswith("list[") and hint.endswith("]") else ""
        if is_dataclass(names.get(hint)) and isinstance(names[hint], type):
            plan.append((f.name, partial(_from_json, names[hint])))
        elif is_dataclass(names.get(listed)) and isinstance(names[listed], type):
            plan.append((f.name, partial(_list_from_json, names[listed])))
        else:
            plan.append((f.name, None))
    return plan


def _list_from_json(kind: type, items: list) -> list:
    return [_from_json(kind, item) for item in items]


def _validate(spec: ContainerSpec) -> None:
    from pyctr.signals import parse_signal

    if not spec.image.name:
        raise InvalidArgument("an image is required")
    if spec.image.pull not in PULL_POLICIES:
        raise InvalidArgument(f"invalid --pull {spec.image.pull!r}: expected one of {', '.join(PULL_POLICIES)}")
    process = spec.process
    if process.stop_timeout is not None and process.stop_timeout < -1:
        raise InvalidArgument("--stop-timeout must be 0 or more")
    if process.stop_signal:
        parse_signal(process.stop_signal)
    for mount in spec.storage.mounts:
        _validate_mount(mount)
    for device in spec.storage.devices:
        _validate_device(device)
    for secret in spec.storage.secrets:
        _validate_secret(secret)
    from pyctr.container import securityopts

    securityopts.validate(spec.security)
    resources = spec.resources
    if resources.memory is not None and resources.memory < MIN_MEMORY:
        raise InvalidArgument("minimum memory limit allowed is 6MB")
    cpus = os.cpu_count() or 1
    if resources.cpus is not None and not 0 < resources.cpus <= cpus:
        raise InvalidArgument(f"range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available")
    if resources.pids_limit is not None and not -1 <= resources.pids_limit <= PID_MAX_LIMIT:
        raise InvalidArgument(f"invalid --pids-limit {resources.pids_limit}: -1 (or 0) for no limit, else 1 to {PID_MAX_LIMIT}")
    _validate_network(spec.network)
    from pyctr.container import specrules

    specrules.validate(spec)
    from pyctr.container import health

    health.validate(asdict(spec.health))
    from pyctr.container.logdriver import validate_log_options

    validate_log_options(spec.lifecycle, spec.process.tty)
    if spec.lifecycle.log_max_size is not None and spec.lifecycle.log_max_size < -1:
        raise InvalidArgument(f"invalid log size {spec.lifecycle.log_max_size}: -1 for no limit, else a size in bytes")
    restart = spec.lifecycle.restart
    if restart.name not in RESTART_POLICIES or (restart.max_retries and restart.name != "on-failure"):
        raise InvalidArgument(f"invalid restart policy {restart.name!r}: expected no, on-failure[:MAX], always or unless-stopped")
    if restart.name != "no" and spec.lifecycle.remove:
        raise InvalidArgument("the --rm option conflicts with --restart, when the restartPolicy is not \"no\"")


def _validate_mount(mount: Mount) -> None:
    if mount.type not in MOUNT_TYPES:
        raise InvalidArgument(f"unknown mount type {mount.type!r} (bind, volume or tmpfs)")
    if not mount.destination.startswith("/"):
        raise InvalidArgument(f"invalid container path {mount.destination!r}: must be absolute")
    if mount.type == "bind" and not os.path.exists(mount.source):
        raise InvalidArgument(f"statfs {mount.source}: no such file or directory")


def _validate_secret(secret: SecretRef) -> None:
    if secret.type not in ("mount", "env"):
        raise InvalidArgument(f"type {secret.type} is invalid: parsing secret")
    if secret.type == "env" and (secret.uid or secret.gid or secret.mode != 0o444):
        raise InvalidArgument("UID, GID, Mode options cannot be set with secret type env: parsing secret")
    if not 0 <= secret.mode <= 0o777 or secret.uid < 0 or secret.gid < 0:
        raise InvalidArgument(f"invalid secret {secret.name}: mode 0 to 0777, uid and gid 0 or more")


def valid_device_permissions(text: str) -> bool:
    """Some of r, w and m, each at most once (podman's rule)."""
    return bool(text) and len(set(text)) == len(text) and set(text) <= set(DEVICE_PERMISSIONS)


def _validate_device(device: Device) -> None:
    from pyctr.runtime.spec import host_devices

    if not valid_device_permissions(device.permissions):
        raise InvalidArgument(f"invalid device mode: {device.permissions} (some of r, w and m)")
    if device.destination and not device.destination.startswith("/"):
        raise InvalidArgument(f"invalid device path {device.destination!r} in the container: must be absolute")
    host_devices(device.source, device.destination or device.source)  # there, and a device (or a directory)


def _validate_attachment(attachment: NetworkAttachment) -> None:
    import ipaddress

    for address in attachment.ips:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise InvalidArgument(f"{address} is not an ip address") from None
    if attachment.mac:
        import re

        if not re.fullmatch(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}", attachment.mac):
            raise InvalidArgument(f"invalid MAC address {attachment.mac}")


def _validate_network(network: NetworkSpec) -> None:
    mode = network.mode
    if mode is not None and mode not in NETWORK_MODES and not mode.startswith(("ns:", "container:")):
        raise InvalidArgument(f"invalid --network {mode!r}: expected bridge, a network's name, none, host, private, "
                              "slirp4netns, container:NAME or ns:PATH")
    if network.networks and mode not in (None, "bridge"):
        raise InvalidArgument(f"cannot set multiple networks without bridge network mode, selected mode {mode}: invalid argument")
    for attachment in network.networks:
        _validate_attachment(attachment)
    for port in network.ports:
        # host port 0: a free one, chosen at create
        for number, lowest in ((port.host_port, 0), (port.container_port, 1)):
            if not lowest <= number < 65536:
                raise InvalidArgument(f"invalid port {number}: not a port number")
        if port.protocol not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid protocol {port.protocol!r}: tcp, udp or sctp")
    if network.dns:
        import ipaddress

        for server in network.dns:
            try:
                ipaddress.ip_address(server)
            except ValueError:
                raise InvalidArgument(f"{server} is not an ip address") from None
