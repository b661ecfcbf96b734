"""OCI runtime spec (runc's config.json) for a container.

`generate` starts from `default_spec()` and applies small functions in order,
each `(spec, opts) -> None` changing its own part of the spec, so that each can
be tested alone. The defaults follow podman 4 for a rootful container.
"""

from __future__ import annotations

import copy
import os
import posixpath
import resource
import stat
from dataclasses import field
from functools import partial

from pyctr.runtime import linuxspec
from pyctr.errors import InvalidArgument
from pyctr.values import value

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RLIM_INFINITY = 2**64 - 1  # as the spec writes "unlimited"

# Every capability of Linux 6.x, by number (CapEff bit N is CAPS[N]).
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]
DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
                "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
                "CAP_SYS_CHROOT"]

MASKED_PATHS = ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/sys/firmware", "/sys/fs/selinux", "/sys/dev/block"]
READONLY_PATHS = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                  "/proc/sysrq-trigger"]

# Character devices a container may use (runc creates the nodes itself): (major, minor).
ALLOWED_DEVICES = [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (136, None)]

# Default rlimits, soft = hard, capped at this process's own hard limits.
DEFAULT_RLIMITS = {"RLIMIT_NOFILE": 1048576, "RLIMIT_NPROC": 4194304}
ULIMIT_NAMES = {"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
                "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}

NETWORK_MODES = ("private", "none", "host")
STOP_SIGNAL_ANNOTATION = "org.opencontainers.image.stopSignal"
READ_ONLY_TMPFS = ("/tmp", "/var/tmp", "/run")


@value
class SpecOptions:
    rootfs: str
    args: list[str]
    env: list[str] = field(default_factory=list)
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    home: str = ""  # HOME when env lacks it (from userdb.resolve_user)
    hostname: str = ""
    terminal: bool = False
    readonly_rootfs: bool = False
    read_only_tmpfs: bool = True  # with readonly_rootfs: tmpfs on /tmp, /var/tmp, /run
    network: str = "private"  # "private", "none", "host" or "ns:/path"
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    no_new_privileges: bool = False
    seccomp: str = "default"  # "default", "unconfined" or a profile file
    mask: list[str] = field(default_factory=list)  # more masked paths (after unmask, kept when privileged)
    unmask: list[str] = field(default_factory=list)  # default masked/read-only paths left open (globs), or "ALL"
    proc_opts: list[str] = field(default_factory=list)  # more options of the /proc mount
    apparmor_profile: str = ""  # "": none set (runc's own default)
    ulimits: list[str] = field(default_factory=list)
    mounts: list[dict] = field(default_factory=list)
    etc_files: dict[str, str] = field(default_factory=dict)
    init: bool = False
    stop_signal: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    rootless: bool = False
    uid_mappings: list[dict] = field(default_factory=list)
    gid_mappings: list[dict] = field(default_factory=list)
    shm_size: int = 64 << 20
    memory: int | None = None  # bytes (--memory)
    cpus: float | None = None  # CPUs' worth of time (--cpus)
    pids_limit: int = 0  # most processes at once (--pids-limit); 0 or -1: no limit
    devices: list[dict] = field(default_factory=list)  # {"source", "destination", "permissions"} (--device)
    # pid, ipc, uts, cgroup, user -> "host", "new" or a path to join (see linuxspec.with_shared_namespaces)
    namespaces: dict[str, str] = field(default_factory=dict)
    ipc_none: bool = False  # --ipc none: no /dev/shm
    shm_source: str = ""  # a host-side tmpfs to bind on /dev/shm (shared with --ipc container:); "": runc's own
    sysctls: dict[str, str] = field(default_factory=dict)
    umask: int | None = None
    oom_score_adj: int | None = None
    personality: str | None = None  # LINUX or LINUX32
    resources: dict = field(default_factory=dict)  # more of linux.resources, in OCI form (cpu, memory, blockIO, devices)
    cgroups_path: str = ""
    unset_env: list[str] = field(default_factory=list)  # defaults (PATH, container, TERM) not to add
    unset_all_env: bool = False  # none of PATH, container, TERM


def default_spec() -> dict:
    """A rootful container with nothing to run yet."""
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0, "umask": 0o022},
            "args": [],
            "env": [],
            "cwd": "/",
            "capabilities": {key: list(DEFAULT_CAPS) if key in ("bounding", "effective", "permitted") else []
                             for key in ("bounding", "effective", "inheritable", "permitted", "ambient")},
            "rlimits": [],
            "noNewPrivileges": False,
        },
        "root": {"path": "", "readonly": False},
        "hostname": "",
        "mounts": [
            _mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
            _mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            _mount("/dev/pts", "devpts", "devpts",
                   ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            _mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
            _mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            _mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
            _mount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "ro"]),
        ],
        "annotations": {},
        "linux": {
            "sysctl": {},
            "resources": {"devices": [{"allow": False, "access": "rwm"}] + [
                {"allow": True, "type": "c", "major": major, **({} if minor is None else {"minor": minor}),
                 "access": "rwm"} for major, minor in ALLOWED_DEVICES]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }


def _mount(destination: str, type_: str, source: str, options: list[str]) -> dict:
    return {"destination": destination, "type": type_, "source": source, "options": options}


def generate(opts: SpecOptions, *, hard_limits: dict[str, int] | None = None,
             machine: str | None = None, host_caps: set[str] | None = None) -> dict:
    """The spec for `opts`. For tests, these replace what is read from this process:
    `hard_limits` ({"RLIMIT_NOFILE": n, ...}) its hard rlimits, `machine` the architecture
    (for the seccomp profile) and `host_caps` its capability bounding set."""
    spec = default_spec()
    for step in (with_process, with_user, with_env, with_hostname,
                 partial(with_capabilities, available=host_caps),
                 partial(with_seccomp, machine=machine), partial(with_rlimits, hard_limits=hard_limits),
                 with_namespaces, with_sysctls, with_mounts, with_devices, with_limits,
                 linuxspec.with_shared_namespaces, linuxspec.with_extra_sysctls, linuxspec.with_process_extras,
                 linuxspec.with_resource_tuning, linuxspec.with_user_namespace, with_masked_paths,
                 with_readonly_rootfs, with_rootless, with_annotations):
        step(spec, opts)
    return spec


# -- process ---------------------------------------------------------------------------------

def with_process(spec: dict, opts: SpecOptions) -> None:
    if not opts.args:
        raise InvalidArgument("no command specified: the image has no entrypoint or cmd")
    if not posixpath.isabs(opts.cwd):
        raise InvalidArgument(f"working directory {opts.cwd!r} must be an absolute path")
    proc = spec["process"]
    proc.update(args=list(opts.args), cwd=opts.cwd, terminal=opts.terminal,
                noNewPrivileges=opts.no_new_privileges)
    if opts.apparmor_profile:
        proc["apparmorProfile"] = opts.apparmor_profile


def with_user(spec: dict, opts: SpecOptions) -> None:
    user = spec["process"]["user"]
    user.update(uid=opts.uid, gid=opts.gid)
    gids = [g for g in dict.fromkeys(opts.additional_gids) if g != opts.gid]
    if gids:
        user["additionalGids"] = gids


def with_env(spec: dict, opts: SpecOptions) -> None:
    """The caller's env, after the defaults it does not set itself (as podman does)."""
    defaults = [("PATH", DEFAULT_PATH), ("container", "pyctr")]
    if opts.terminal:
        defaults.append(("TERM", "xterm"))
    defaults = [] if opts.unset_all_env else [(k, v) for k, v in defaults if k not in opts.unset_env]
    if opts.hostname:
        defaults.append(("HOSTNAME", opts.hostname))
    if opts.home:
        defaults.append(("HOME", opts.home))
    present = {item.partition("=")[0] for item in opts.env}
    spec["process"]["env"] = [f"{k}={v}" for k, v in defaults if k not in present] + list(opts.env)


def with_hostname(spec: dict, opts: SpecOptions) -> None:
    spec["hostname"] = opts.hostname


# -- capabilities, seccomp, rlimits ----------------------------------------------------------

def parse_cap(name: str) -> str:
    """"net_admin", "CAP_NET_ADMIN" -> "CAP_NET_ADMIN"; "all" -> "ALL"."""
    upper = name.strip().upper()
    if upper == "ALL":
        return "ALL"
    full = upper if upper.startswith("CAP_") else "CAP_" + upper
    if full not in CAPS:
        raise InvalidArgument(f"unknown capability {name!r}", hint="see capabilities(7) for the names")
    return full


def host_capabilities() -> set[str]:
    """The capabilities in this process's bounding set: runc fails on any other."""
    try:
        with open("/proc/self/status") as f:
            line = next(line for line in f if line.startswith("CapBnd:"))
    except (OSError, StopIteration):
        return set(CAPS)
    mask = int(line.split()[1], 16)
    return {name for bit, name in enumerate(CAPS) if mask & (1 << bit)}


def capability_set(cap_add: list[str], cap_drop: list[str], privileged: bool = False,
                   available: set[str] | None = None) -> tuple[list[str], list[str]]:
    """(the container's capabilities, the ones the user added explicitly), sorted by name.

    Drops apply first, then adds: `--cap-drop all --cap-add X` gives X alone;
    `--cap-add all --cap-drop X` gives all but X. "All" (and the defaults) mean those
    `available` to us (default: our bounding set); adding another one by name fails.
    """
    available = host_capabilities() if available is None else set(available)
    add = {parse_cap(c) for c in cap_add}
    drop = {parse_cap(c) for c in cap_drop}
    missing = sorted(add - available - {"ALL"})
    if missing:
        raise InvalidArgument(f"cannot add {', '.join(missing)}: not in pyctr's own capability bounding set")
    if privileged or "ALL" in add:
        caps = available - (drop - {"ALL"})
    else:
        caps = set() if "ALL" in drop else (set(DEFAULT_CAPS) & available) - drop
        caps |= add
    explicit = caps if "ALL" in add else add & caps
    return sorted(caps), sorted(explicit)


def with_capabilities(spec: dict, opts: SpecOptions, available: set[str] | None = None) -> None:
    """Root gets the set in bounding, effective and permitted. Another user gets it as
    the bounding set only, plus the --cap-add ones in every set (ambient included) so
    that they survive the switch to that user, as in podman 4."""
    caps, explicit = capability_set(opts.cap_add, opts.cap_drop, opts.privileged, available)
    if opts.uid == 0:
        held, passed = caps, []
    else:
        held = passed = explicit
    spec["process"]["capabilities"] = {"bounding": caps, "effective": list(held), "inheritable": list(passed),
                                       "permitted": list(held), "ambient": list(passed)}


def with_seccomp(spec: dict, opts: SpecOptions, machine: str | None = None) -> None:
    """After with_capabilities: the default profile opens the calls the caps allow. --privileged
    drops the default profile, not one given by the user (as podman)."""
    from pyctr.runtime import seccomp  # its tables only when a spec is made (not for inspect's capability_set)

    caps = set(spec["process"]["capabilities"]["bounding"])
    if opts.seccomp == "unconfined" or (opts.privileged and opts.seccomp in ("", "default")):
        spec["linux"].pop("seccomp", None)
    elif opts.seccomp in ("", "default"):
        spec["linux"]["seccomp"] = seccomp.default_profile(caps, machine)
    else:
        spec["linux"]["seccomp"] = seccomp.load_profile(opts.seccomp, caps, machine)


def current_hard_limit(rtype: str) -> int:
    hard = resource.getrlimit(getattr(resource, rtype))[1]
    return RLIM_INFINITY if hard == resource.RLIM_INFINITY else hard


def _limit_value(text: str, spec_text: str) -> int:
    if text in ("-1", "unlimited"):
        return RLIM_INFINITY
    if not text.isdigit():
        raise InvalidArgument(f"invalid ulimit {spec_text!r}: {text!r} is not a number")
    return int(text)


def parse_ulimit(text: str) -> tuple[str, int, int]:
    """Docker's "name=soft[:hard]" -> ("RLIMIT_NAME", soft, hard)."""
    name, sep, values = text.partition("=")
    name = name.strip().lower()
    if not sep or name not in ULIMIT_NAMES:
        raise InvalidArgument(f"invalid ulimit {text!r}: expected NAME=SOFT[:HARD] with NAME one of "
                              + ", ".join(sorted(ULIMIT_NAMES)))
    soft_text, _, hard_text = values.partition(":")
    soft = _limit_value(soft_text.strip(), text)
    hard = _limit_value(hard_text.strip(), text) if hard_text else soft
    if soft > hard:
        raise InvalidArgument(f"invalid ulimit {text!r}: the soft limit exceeds the hard limit")
    return "RLIMIT_" + name.upper(), soft, hard


def host_rlimits(hard_limits: dict[str, int] | None = None) -> list[dict]:
    """This process's own limits in OCI form; `hard_limits` (tests) replaces its hard ones (soft capped to them)."""
    result = []
    for name in sorted(ULIMIT_NAMES):
        rtype = "RLIMIT_" + name.upper()
        if not hasattr(resource, rtype):
            continue
        soft, hard = (RLIM_INFINITY if v == resource.RLIM_INFINITY else v for v in resource.getrlimit(getattr(resource, rtype)))
        if hard_limits is not None and rtype in hard_limits:
            hard = hard_limits[rtype]
            soft = min(soft, hard)
        result.append({"type": rtype, "hard": hard, "soft": soft})
    return result


def with_rlimits(spec: dict, opts: SpecOptions, hard_limits: dict[str, int] | None = None) -> None:
    """NOFILE and NPROC as high as allowed, then --ulimit values, never above our own
    hard limits (runc could not raise them without CAP_SYS_RESOURCE, and fails late)."""
    def ceiling(rtype: str) -> int:
        if hard_limits is not None and rtype in hard_limits:
            return hard_limits[rtype]
        return current_hard_limit(rtype)

    if "host" in opts.ulimits:
        # --ulimit host (wins over the others, as podman's): the limits pyctr runs with, every one of them.
        spec["process"]["rlimits"] = host_rlimits(hard_limits)
        return
    limits = {rtype: min(value, ceiling(rtype)) for rtype, value in DEFAULT_RLIMITS.items()}
    limits = {rtype: (value, value) for rtype, value in limits.items()}
    for text in opts.ulimits:
        rtype, soft, hard = parse_ulimit(text)
        top = ceiling(rtype)
        if hard > top:
            shown = "unlimited" if top == RLIM_INFINITY else top
            raise InvalidArgument(f"ulimit {text!r} exceeds the hard limit of {shown} for {rtype[7:].lower()}",
                                  hint=f"use a value of at most {shown}")
        limits[rtype] = (soft, hard)
    spec["process"]["rlimits"] = [{"type": rtype, "hard": hard, "soft": soft}
                                  for rtype, (soft, hard) in limits.items()]


# -- namespaces, mounts, devices -----------------------------------------------------------

def with_namespaces(spec: dict, opts: SpecOptions) -> None:
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    if opts.network.startswith("ns:"):
        path = opts.network[3:]
        if not posixpath.isabs(path):
            raise InvalidArgument(f"network namespace path {path!r} must be absolute")
        namespaces.insert(1, {"type": "network", "path": path})
    elif opts.network in ("private", "none"):
        namespaces.insert(1, {"type": "network"})
    elif opts.network != "host":
        raise InvalidArgument(f"invalid network mode {opts.network!r}: expected private, none, host or ns:PATH")
    spec["linux"]["namespaces"] = namespaces


def with_sysctls(spec: dict, opts: SpecOptions) -> None:
    """Let root in the container ping without CAP_NET_RAW (podman's default); a sysctl
    of the network namespace, so not with network=host."""
    if opts.network != "host":
        spec["linux"]["sysctl"]["net.ipv4.ping_group_range"] = "0 0"
    if not spec["linux"]["sysctl"]:
        del spec["linux"]["sysctl"]


def _depth(destination: str) -> int:
    return 0 if destination == "/" else destination.count("/")


def _beneath(path: str, parent: str) -> bool:
    return path != parent and path.startswith(parent.rstrip("/") + "/")


def _parents_first(mounts: list[dict]) -> list[dict]:
    """`mounts` in their order, except that none comes before a mount of a parent
    directory (a user mount on /dev moves the default /dev/pts after it)."""
    pending, result = list(mounts), []
    while pending:
        index = next(i for i, m in enumerate(pending)
                     if not any(_beneath(m["destination"], o["destination"]) for o in pending))
        result.append(pending.pop(index))
    return result


def with_mounts(spec: dict, opts: SpecOptions) -> None:
    """Defaults, the /etc files, then the caller's mounts; a later mount on the same
    destination replaces an earlier one, and parents come before children."""
    if opts.shm_size <= 0:
        raise InvalidArgument(f"invalid shm size {opts.shm_size}: must be more than 0")
    shm = f"size={opts.shm_size // 1024}k" if opts.shm_size % 1024 == 0 else f"size={opts.shm_size}"
    mounts = copy.deepcopy(spec["mounts"])
    for m in mounts:
        if m["destination"] == "/dev/shm":
            m["options"] = [shm if o.startswith("size=") else o for o in m["options"]]
        if opts.privileged and m["destination"] in ("/sys", "/sys/fs/cgroup"):
            m["options"] = ["rw" if o == "ro" else o for o in m["options"]]
        if opts.proc_opts and m["destination"] == "/proc":
            m["options"] = list(dict.fromkeys(m["options"] + opts.proc_opts))
    for destination, source in sorted(opts.etc_files.items()):
        mounts.append(_mount(destination, "bind", source, ["rbind", "rprivate"]))
    if opts.readonly_rootfs and opts.read_only_tmpfs:
        mounts += [_mount(d, "tmpfs", "tmpfs", ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"])
                   for d in READ_ONLY_TMPFS]
    user_mounts = []
    for user_mount in opts.mounts:
        destination = user_mount.get("destination", "")
        if not posixpath.isabs(destination):
            raise InvalidArgument(f"mount destination {destination!r} must be an absolute path")
        user_mounts.append({**user_mount, "destination": posixpath.normpath(destination)})
    by_destination: dict[str, dict] = {}
    for m in mounts + sorted(user_mounts, key=lambda m: _depth(m["destination"])):
        by_destination.pop(m["destination"], None)  # the later one wins, in its own place
        by_destination[m["destination"]] = m
    spec["mounts"] = _parents_first(list(by_destination.values()))


def host_devices(source: str, destination: str) -> list[tuple[str, str, os.stat_result]]:
    """(host path, container path, its stat) of the device node at `source` (a symlink is followed),
    or of every device node under it when it is a directory (--device /dev/dri)."""
    real = os.path.realpath(source)
    try:
        info = os.stat(real)
    except OSError as exc:
        raise InvalidArgument(f"stat {source}: {exc.strerror.lower()}") from None
    if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
        return [(real, destination, info)]
    if not stat.S_ISDIR(info.st_mode):
        raise InvalidArgument(f"{source} is not a valid device: not a device node")
    found = []
    for directory, _, names in sorted(os.walk(real)):
        for name in sorted(names):
            path = posixpath.join(directory, name)
            info = os.lstat(path)  # a symlink in there is not a device
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                found.append((path, posixpath.join(destination, posixpath.relpath(path, real)), info))
    return found


def with_devices(spec: dict, opts: SpecOptions) -> None:
    """--device: as root, a node that runc makes and a cgroup rule that allows it; rootless (no
    mknod, no cgroup), a bind mount of the host's node, read-only unless `w` is given (as podman)."""
    linux = spec["linux"]
    if opts.privileged:
        linux["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
    nodes: dict[str, dict] = {}
    rules, mounts = [], []
    for device in opts.devices:
        destination = device.get("destination") or device["source"]
        if not posixpath.isabs(destination):
            raise InvalidArgument(f"device path {destination!r} in the container must be absolute")
        permissions = device.get("permissions") or "rwm"
        for host, path, info in host_devices(device["source"], posixpath.normpath(destination)):
            if opts.rootless:
                mode = "rw" if "w" in permissions else "ro"
                mounts.append(_mount(path, "bind", host, ["rbind", "nosuid", "noexec", mode]))
                continue
            kind = "c" if stat.S_ISCHR(info.st_mode) else "b"
            major, minor = os.major(info.st_rdev), os.minor(info.st_rdev)
            nodes.pop(path, None)  # the later one for a path wins
            nodes[path] = {"path": path, "type": kind, "major": major, "minor": minor,
                           "fileMode": stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid}
            rules.append({"allow": True, "type": kind, "major": major, "minor": minor, "access": permissions})
    if nodes:
        linux["devices"] = list(nodes.values())
    if rules and not opts.privileged:
        linux["resources"]["devices"] += rules
    if mounts:
        spec["mounts"] = _parents_first(spec["mounts"] + mounts)


def with_masked_paths(spec: dict, opts: SpecOptions) -> None:
    """podman's order: the defaults, less what --security-opt unmask opens (all of them with
    ALL or --privileged), then the paths --security-opt mask adds."""
    linux = spec["linux"]
    if opts.privileged or "ALL" in opts.unmask:
        linux.pop("maskedPaths", None)
        linux.pop("readonlyPaths", None)
    elif opts.unmask:
        from pyctr.pathmatch import compile_pattern

        patterns = [compile_pattern(p) for p in opts.unmask]
        for key in ("maskedPaths", "readonlyPaths"):
            kept = [p for p in linux.get(key, []) if not any(pattern.match(p) for pattern in patterns)]
            if kept:
                linux[key] = kept
            else:
                linux.pop(key, None)
    added = [p for p in dict.fromkeys(opts.mask) if p not in linux.get("maskedPaths", [])]
    if added:
        linux["maskedPaths"] = linux.get("maskedPaths", []) + added


def with_readonly_rootfs(spec: dict, opts: SpecOptions) -> None:
    if not posixpath.isabs(opts.rootfs):
        raise InvalidArgument(f"rootfs {opts.rootfs!r} must be an absolute path")
    spec["root"] = {"path": opts.rootfs, "readonly": opts.readonly_rootfs}


# -- rootless, annotations -------------------------------------------------------------------

def _mapped(gid: int, mappings: list[dict]) -> bool:
    return any(m["containerID"] <= gid < m["containerID"] + m["size"] for m in mappings)


CPU_PERIOD = 100_000  # microseconds, the CFS default


def with_limits(spec: dict, opts: SpecOptions) -> None:
    """--memory, --cpus and --pids-limit as cgroup limits (a rootless spec drops them: no cgroups there)."""
    resources = spec["linux"].setdefault("resources", {})
    if opts.memory is not None:
        resources["memory"] = {"limit": opts.memory}
    if opts.cpus is not None:
        resources["cpu"] = {"quota": int(opts.cpus * CPU_PERIOD), "period": CPU_PERIOD}
    if opts.pids_limit > 0:  # none (0 or -1): runc leaves pids.max at "max"
        resources["pids"] = {"limit": opts.pids_limit}


def with_rootless(spec: dict, opts: SpecOptions) -> None:
    """A user namespace with the caller's mappings, or none when runc already runs inside
    pyctr's own (no mappings given). sysfs needs the host's /sys bound in, cgroups cannot
    be set, and devpts only takes a gid that the namespace maps."""
    if not opts.rootless:
        return
    if bool(opts.uid_mappings) != bool(opts.gid_mappings):
        raise InvalidArgument("a rootless container needs both uid and gid mappings, or neither")
    linux = spec["linux"]
    if opts.uid_mappings:
        linux["namespaces"].append({"type": "user"})
        linux["uidMappings"] = [dict(m) for m in opts.uid_mappings]
        linux["gidMappings"] = [dict(m) for m in opts.gid_mappings]
    linux.pop("resources", None)
    linux.pop("cgroupsPath", None)  # no cgroup of its own either (see the engine's warning)
    mounts = []
    for m in spec["mounts"]:
        if m["destination"] == "/sys" and m["type"] == "sysfs":
            ro = [] if opts.privileged else ["ro"]
            m = _mount("/sys", "bind", "/sys", ["rbind", "nosuid", "noexec", "nodev", *ro])
        elif m["destination"] == "/sys/fs/cgroup" and m["type"] == "cgroup":
            continue  # the host's cgroup tree comes with the /sys bind mount
        elif m["type"] == "devpts" and opts.gid_mappings and not _mapped(5, opts.gid_mappings):
            m = {**m, "options": [o for o in m["options"] if not o.startswith("gid=")]}
        mounts.append(m)
    spec["mounts"] = mounts


def with_annotations(spec: dict, opts: SpecOptions) -> None:
    annotations = {"io.container.manager": "pyctr"}
    if opts.stop_signal:
        annotations[STOP_SIGNAL_ANNOTATION] = opts.stop_signal
    annotations.update(opts.annotations)
    spec["annotations"] = annotations


def cap_mask(caps: list[str]) -> int:
    """The /proc/PID/status bit mask (CapEff and friends) of `caps`."""
    return sum(1 << CAPS.index(c) for c in caps)
