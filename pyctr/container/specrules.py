"""The checks of the container spec's finer options (namespaces, sysctls, cgroup tuning, environment,
lifecycle extras), with podman 4.3.1's error texts; pyctr.container.spec calls `validate`.

Checks that need the store (a container named in container:NAME, --volumes-from, --requires) or
the user's identity (keep-id) are create's (pyctr.container.create).
"""

from __future__ import annotations

import os
import re

from pyctr.errors import InvalidArgument

# Namespace modes per kind, besides container:NAME and ns:PATH.
NAMESPACE_MODES = {
    "pid": ("host", "private"),
    "ipc": ("host", "private", "shareable", "none"),
    "uts": ("host", "private"),
    "cgroupns": ("host", "private"),
    "userns": ("host", "private", "keep-id", "nomap", "auto"),
}
# Sysctls of a namespace (podman's list): the IPC ones, fs.mqueue.* and net.*.
IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
               "kernel.shmmni", "kernel.shm_rmid_forced")
ZONEINFO = "/usr/share/zoneinfo"
CGROUP_MODES = ("enabled", "disabled", "no-conmon", "split")
IMAGE_VOLUME_MODES = ("bind", "tmpfs", "ignore")
SYSTEMD_MODES = ("true", "false", "always")
SDNOTIFY_MODES = ("container", "conmon", "ignore")
CGROUP_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")
CPUSET = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")
ID_MAP = re.compile(r"^\+?\d+:@?\d+:\d+$")


def namespace_mode(kind: str, mode: str) -> None:
    if not mode or mode in NAMESPACE_MODES[kind]:
        return
    if kind == "userns" and (mode.startswith("keep-id:") or mode.startswith("auto:")):
        return
    if mode.startswith("ns:") and len(mode) > 3:
        if not os.path.isabs(mode[3:]):
            raise InvalidArgument(f"invalid namespace path {mode[3:]!r}: must be absolute")
        return
    if mode.startswith("container:") and len(mode) > 10:
        return
    raise InvalidArgument(f"unrecognized namespace mode {mode} passed")


def validate(spec) -> None:
    """Every check of the options this module knows that needs no store; raises InvalidArgument."""
    _validate_namespaces(spec)
    _validate_resources(spec.resources)
    _validate_process(spec)
    if spec.image.rootfs:
        path = spec.image.name
        if path.endswith(":O"):
            raise InvalidArgument(f"--rootfs {path}: an overlay over the directory (:O) is not built yet")
        if not os.path.isdir(path):
            raise InvalidArgument(f"running container create option: stat {path}: no such file or directory")
    storage = spec.storage
    if storage.image_volume not in IMAGE_VOLUME_MODES:
        raise InvalidArgument(f"invalid image volume mode \"{storage.image_volume}\" required value: bind, tmpfs, ignore")
    if storage.no_hosts and spec.network.add_hosts:
        raise InvalidArgument("--no-hosts and --add-host cannot be set together")
    if "keep-groups" in spec.security.groups and len(spec.security.groups) > 1:
        raise InvalidArgument("the '--group-add keep-groups' option is not allowed with any other --group-add options")
    if spec.security.seccomp_policy == "image":
        raise InvalidArgument("no seccomp policy defined by image")
    if spec.security.seccomp_policy != "default":
        raise InvalidArgument(f"invalid seccomp policy \"{spec.security.seccomp_policy}\": valid policies are [\"default\" \"image\"]")
    lifecycle = spec.lifecycle
    if lifecycle.sdnotify not in SDNOTIFY_MODES:
        raise InvalidArgument(f"invalid config provided: invalid argument: invalid sdnotify value \"{lifecycle.sdnotify}\": "
                              "must be container, conmon or ignore")
    for port in spec.network.expose:
        number, _, proto = port.partition("/")
        if not number.isdigit() or not 0 < int(number) < 65536 or proto not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid exposed port {port!r}: PORT[/tcp|udp|sctp]")
    network = spec.network
    if network.mode and (network.mode.startswith("container:") or network.mode.startswith("ns:")):
        if network.add_hosts:  # the other's /etc/hosts is the container's
            raise InvalidArgument("cannot set extra host entries when the container is joined to another "
                                  "containers network namespace: invalid configuration")
        if network.dns or network.dns_search or network.dns_options:
            raise InvalidArgument("conflicting options: dns and the network mode: container")


def _validate_namespaces(spec) -> None:
    ns = spec.namespaces
    for kind in NAMESPACE_MODES:
        namespace_mode(kind, getattr(ns, kind))
    _validate_shared(spec)
    if ns.userns and (ns.uidmap or ns.gidmap or ns.subuidname or ns.subgidname):
        raise InvalidArgument("--userns and --uidmap/--gidmap/--subuidname/--subgidname are mutually exclusive")
    if ns.userns == "auto" or ns.userns.startswith("auto:"):
        raise InvalidArgument("--userns auto is not supported yet: it needs a pool of subordinate IDs set aside for pyctr; "
                              "use --uidmap/--gidmap")
    for items, what in ((ns.uidmap, "UID"), (ns.gidmap, "GID")):
        for item in items:
            if not ID_MAP.match(item):
                raise InvalidArgument(f"initializing ID mappings: {what} setting is malformed expected "
                                      f"[\"uint32:uint32:uint32\"]: [\"{item}\"]")
    for kind, name in (("subuid", ns.subuidname), ("subgid", ns.subgidname)):
        path = f"/etc/{kind}"
        if name is not None and not subordinate_ranges(path, name):
            raise InvalidArgument(f"no {kind} ranges found for user \"{name}\" in {path}")
    for key, value_ in ns.sysctls.items():
        _validate_sysctl(spec, key, value_)


def _validate_shared(spec) -> None:
    """Options that need a namespace of the container's own, refused when it shares one (podman's texts)."""
    ns, network = spec.namespaces, spec.network
    if network.hostname and ns.uts not in ("", "private"):
        raise InvalidArgument("invalid config provided: cannot set hostname when running in the host UTS namespace: "
                              "invalid configuration")
    if spec.storage.shm_size is not None and ns.ipc in ("host", "none"):
        # podman prints its Go struct: {host } or {none }
        raise InvalidArgument(f"invalid config provided: cannot set shmsize when running in the {{{ns.ipc} }} IPC Namespace")
    if spec.process.init and ns.pid not in ("", "private"):
        raise InvalidArgument("cannot add init binary as PID 1 (PID namespace isn't private)")
    if (network.dns or network.dns_search or network.dns_options) and network.mode == "none":
        raise InvalidArgument("conflicting options: dns and the network mode: none")


def _validate_sysctl(spec, key: str, value_: str) -> None:
    ns = spec.namespaces
    if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
        if ns.ipc == "host" or host_namespace("ipc", ns.ipc):
            raise InvalidArgument(f"sysctl {key}={value_} can't be set since IPC Namespace set to host: invalid argument")
    elif key.startswith("net."):
        if spec.network.mode == "host" or host_namespace("net", spec.network.mode or ""):
            raise InvalidArgument(f"sysctl {key}={value_} can't be set since Network Namespace set to host: invalid argument")
    else:  # podman 4.3.1 refuses the UTS ones too (kernel.hostname, kernel.domainname), whatever --uts says
        raise InvalidArgument(f"sysctl '{key}' is not allowed")


def host_namespace(kind: str, mode: str) -> bool:
    """ns:PATH naming the host's namespace of `kind` (pyctr's own, or init's where we may look): a sysctl
    set there would change the host's value (podman 4.3.1 does; pyctr refuses, as for host)."""
    if not mode.startswith("ns:"):
        return False
    try:
        wanted = os.stat(mode[3:])
    except OSError:
        return False  # the runtime reports a missing path
    for pid in ("self", "1"):
        try:
            own = os.stat(f"/proc/{pid}/ns/{kind}")
        except OSError:
            continue
        if (own.st_dev, own.st_ino) == (wanted.st_dev, wanted.st_ino):
            return True
    return False


def subordinate_ranges(path: str, name: str) -> list[tuple[int, int]]:
    """(start, count) of `name`'s lines in /etc/subuid or /etc/subgid (by name or UID)."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    ranges = []
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] == name and parts[1].isdigit() and parts[2].isdigit():
            ranges.append((int(parts[1]), int(parts[2])))
    return ranges


def _validate_resources(r) -> None:
    if r.cpu_quota is not None and 0 < r.cpu_quota < 1000:
        raise InvalidArgument("CPU cfs quota cannot be less than 1ms (i.e. 1000)")
    if r.cpu_period is not None and r.cpu_period and not 1000 <= r.cpu_period <= 1000000:
        raise InvalidArgument("CPU cfs period cannot be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    for option, given in (("--cpu-period", r.cpu_period), ("--cpu-quota", r.cpu_quota)):
        if r.cpus is not None and given:
            raise InvalidArgument(f"{option} and --cpus cannot be set together")
    if r.cpu_shares is not None and r.cpu_shares < 0:
        raise InvalidArgument(f"invalid --cpu-shares {r.cpu_shares}: must be 0 or more")
    for name, text in (("cpus", r.cpuset_cpus), ("mems", r.cpuset_mems)):
        if text is not None and text != "" and not CPUSET.match(text):
            raise InvalidArgument(f"invalid value {text} for cpuset {name}")
    if r.memory_swap is not None and r.memory_swap != -1:
        if r.memory is None:
            raise InvalidArgument("you should always set a memory limit when using a memoryswap limit, see usage")
        if r.memory_swap < r.memory:
            raise InvalidArgument("minimum memoryswap limit should be larger than memory limit, see usage")
    if r.memory_swappiness is not None and r.memory_swappiness != -1 and not 0 <= r.memory_swappiness <= 100:
        raise InvalidArgument(f"invalid value: {r.memory_swappiness}, valid memory swappiness range is 0-100")
    if r.memory is not None and r.memory_reservation is not None and r.memory_reservation > r.memory:
        raise InvalidArgument("minimum memory limit cannot be less than memory reservation limit, see usage")
    if r.blkio_weight and blkio_weight_supported() and not 10 <= r.blkio_weight <= 1000:
        raise InvalidArgument(f"invalid --blkio-weight {r.blkio_weight}: range is from 10 to 1000")
    for option, items in (("--blkio-weight-device", r.blkio_weight_devices), ("--device-read-bps", r.device_read_bps),
                          ("--device-write-bps", r.device_write_bps), ("--device-read-iops", r.device_read_iops),
                          ("--device-write-iops", r.device_write_iops)):
        for item in items:
            throttle_device(option, item)
    for rule in r.device_cgroup_rules:
        if not CGROUP_RULE.match(rule):
            raise InvalidArgument(f"invalid device cgroup rule requires type, major:Minor, and access rules: \"{rule}\"")
    if r.cgroup_conf and not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        raise InvalidArgument("cannot use --cgroup-conf without cgroup v2")
    if r.cgroups not in CGROUP_MODES:
        raise InvalidArgument(f"running container create option: invalid cgroup mode \"{r.cgroups}\": invalid argument")
    if r.cgroups == "disabled":
        raise InvalidArgument("requested OCI runtime runc is not compatible with NoCgroups: invalid argument")
    if r.cgroups == "split":
        # podman 4.3.1 here fails late ("could not find cgroup mount"); pyctr says what is missing.
        raise InvalidArgument("--cgroups split is not built yet: a container's cgroup under the caller's own; "
                              "use --cgroups enabled or no-conmon")
    # pyctr drives runc with cgroupfs only (no --cgroup-manager systemd): a slice cannot be a parent.
    if r.cgroup_parent and os.path.basename(r.cgroup_parent.rstrip("/")).endswith(".slice"):
        raise InvalidArgument("systemd slice received as cgroup parent when using cgroupfs: invalid argument")


def blkio_weight_supported() -> bool:
    """podman's test: without it the weight is dropped with a warning (see `warnings`)."""
    return os.path.exists("/sys/fs/cgroup/blkio/blkio.weight")


def throttle_device(option: str, item: str) -> tuple[int, int, int]:
    """DEVICE:VALUE of --device-*-bps/iops and --blkio-weight-device -> (major, minor, value)."""
    import stat

    path, sep, text = item.rpartition(":")
    if not sep or not path or not text.isdigit():
        raise InvalidArgument(f"bad format: {item}")
    try:
        info = os.stat(path)
    except OSError as exc:
        if option == "--blkio-weight-device":
            raise InvalidArgument(f"failed to inspect '{path}' in --blkio-weight-device: {exc.strerror.lower()}") from None
        raise InvalidArgument(f"could not parse throttle device at {path}: {exc.strerror.lower()}") from None
    if not stat.S_ISBLK(info.st_mode):
        raise InvalidArgument(f"{path} is not a block device")
    return os.major(info.st_rdev), os.minor(info.st_rdev), int(text)


def _validate_process(spec) -> None:
    process = spec.process
    if process.umask is not None and not re.fullmatch(r"[0-7]{1,4}", process.umask):
        raise InvalidArgument(f"running container create option: invalid umask string {process.umask}: invalid argument")
    if process.tz and process.tz != "local":
        zone = os.path.join(ZONEINFO, process.tz)
        if not os.path.isfile(zone) or not os.path.realpath(zone).startswith(ZONEINFO + "/"):
            raise InvalidArgument(f"running container create option: stat {zone}: no such file or directory")
    if process.timeout < 0:
        raise InvalidArgument(f"invalid --timeout {process.timeout}: must be 0 or more")
    if process.systemd not in SYSTEMD_MODES:
        raise InvalidArgument("invalid config provided: --systemd values must be one of \"true, false, always\": invalid configuration")
    if process.init and process.init_path is not None and not os.path.isfile(process.init_path):
        raise InvalidArgument(f"container-init binary not found on the host: stat {process.init_path}: no such file or directory")
    for name in process.unsetenv:
        if not name or "=" in name:
            raise InvalidArgument(f"invalid --unsetenv {name!r}: a variable's name")


PORTS_DISCARDED = ("Port mappings have been discarded as one of the Host, Container, Pod, and None "
                   "network modes are in use")


def ports_discarded(network) -> bool:
    """podman's rule: -p and -P mean nothing without a network of the container's own."""
    mode = network.mode or ""
    return bool(network.ports or network.publish_all) and (mode in ("host", "none") or mode.startswith(("container:", "ns:")))


def warnings(spec, rootless: bool) -> list[str]:
    """What this host will not do of these options (the container still runs), as podman says it."""
    result = [PORTS_DISCARDED] if ports_discarded(spec.network) else []
    r = spec.resources
    if r.blkio_weight and not blkio_weight_supported():
        result.append("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.")
    # As podman on cgroup v1: rootless containers get no cgroup, so limits cannot hold.
    asked = [flag for flag, given in (
        ("--memory", r.memory), ("--cpus", r.cpus), ("--pids-limit", (r.pids_limit or 0) > 0),
        ("--cpu-shares", r.cpu_shares), ("--cpu-period", r.cpu_period), ("--cpu-quota", r.cpu_quota),
        ("--cpu-rt-period", r.cpu_rt_period), ("--cpu-rt-runtime", r.cpu_rt_runtime), ("--cpuset-cpus", r.cpuset_cpus),
        ("--cpuset-mems", r.cpuset_mems), ("--memory-reservation", r.memory_reservation), ("--memory-swap", r.memory_swap),
        ("--memory-swappiness", r.memory_swappiness is not None), ("--oom-kill-disable", r.oom_kill_disable),
        ("--blkio-weight-device", r.blkio_weight_devices), ("--device-read-bps", r.device_read_bps),
        ("--device-write-bps", r.device_write_bps), ("--device-read-iops", r.device_read_iops),
        ("--device-write-iops", r.device_write_iops), ("--device-cgroup-rule", r.device_cgroup_rules),
        ("--cgroup-parent", r.cgroup_parent)) if given]
    if rootless and asked:
        result.append(f"resource limits ({', '.join(asked)}) are not applied to rootless containers on this host (cgroup v1)")
    return result
