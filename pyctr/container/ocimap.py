"""The one place a container (its spec and what creation resolved) becomes the runtime's input.

Pure: the caller (pyctr.container.tasks) mounts the rootfs, resolves the user
in it, writes /etc files and the bundle; this module only decides values.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)
if TYPE_CHECKING:
    from typing import Callable

from pyctr.container.store import ContainerRecord
from pyctr.runtime.spec import SpecOptions

INIT_BINARY = "/usr/bin/tini-static"
INIT_PATH = "/run/pyctr-init"
DEFAULT_SHM_SIZE = 64 << 20


def network_mode(record: ContainerRecord, netns: str | None, namespace_path: Callable[[str, str], str] | None = None) -> str:
    """What the runtime joins or creates: a prepared namespace (bridge, slirp4netns, ns:PATH), another
    container's (container:ID), the host's, or a new one."""
    if netns:
        return f"ns:{netns}"
    if record.network.startswith("container:"):
        return "ns:" + namespace_path(record.network[10:], "net")
    return "private" if record.network in ("none", "bridge") else record.network


def spec_options(record: ContainerRecord, *, rootfs: str, uid: int, gid: int, groups: list[int], home: str,
                 etc_files: dict[str, str], netns: str | None, rootless: bool, container_dir: str = "",
                 namespace_path: Callable[[str, str], str] | None = None, notify_proxy: str = "") -> SpecOptions:
    """`container_dir`: the container's directory in the store, where its copies of secrets are.
    `namespace_path(container_id, kind)`: the namespace of a running container to join (container:ID).
    `notify_proxy`: --sdnotify container under a unit: the shim's socket, the container's NOTIFY_SOCKET."""
    spec = record.spec
    args = list(record.args)
    mounts = [{k: v for k, v in m.items() if k in ("destination", "type", "source", "options")} for m in record.mounts]
    env = list(record.env)
    if spec.storage.secrets:
        from pyctr.container import secrets

        secret_mounts, secret_env = secrets.oci_mounts_and_env(container_dir, spec.storage.secrets)
        mounts += secret_mounts
        env = [e for e in env if e.partition("=")[0] not in secret_env] + [f"{k}={v}" for k, v in secret_env.items()]
    if spec.process.init:
        args = [INIT_PATH, "--"] + args
        mounts.append({"destination": INIT_PATH, "type": "bind", "source": spec.process.init_path or INIT_BINARY,
                       "options": ["bind", "ro"]})
    mounts += extra_mounts(record, rootless)
    if notify_proxy:
        from pyctr.systemd.notify import CONTAINER_SOCKET

        mounts.append({"destination": CONTAINER_SOCKET, "type": "bind", "source": notify_proxy, "options": ["bind"]})
        env = [e for e in env if not e.startswith("NOTIFY_SOCKET=")] + [f"NOTIFY_SOCKET={CONTAINER_SOCKET}"]
    from pyctr.container import securityopts
    from pyctr.container.create import systemd_mode

    if systemd_mode(spec, list(record.args)):
        env.append(f"container_uuid={record.id[:32]}")  # as podman: systemd reads it as the machine ID
    etc_files = more_etc_files(spec, etc_files)
    uid_mappings, gid_mappings = id_mappings(spec.namespaces)
    return SpecOptions(
        rootfs=rootfs,
        args=args,
        env=env,
        cwd=record.workdir or "/",
        uid=uid,
        gid=gid,
        additional_gids=groups + added_groups(record, rootfs),
        home=home,
        hostname=record.hostname,
        terminal=spec.process.tty,
        readonly_rootfs=spec.storage.read_only,
        read_only_tmpfs=spec.storage.read_only_tmpfs,
        network=network_mode(record, netns, namespace_path),
        cap_add=list(spec.security.cap_add),
        cap_drop=list(spec.security.cap_drop),
        privileged=spec.security.privileged,
        no_new_privileges=spec.security.no_new_privileges,
        seccomp=securityopts.seccomp_for_start(container_dir, spec.security),
        mask=list(spec.security.mask) + systemd_masks(record),
        unmask=list(spec.security.unmask),
        proc_opts=list(spec.security.proc_opts),
        apparmor_profile=securityopts.apparmor_for_start(spec.security),
        ulimits=list(spec.resources.ulimits),
        mounts=mounts,
        etc_files=etc_files,
        init=spec.process.init,
        stop_signal=record.stop_signal,
        annotations=dict(spec.lifecycle.annotations),
        shm_size=spec.storage.shm_size or DEFAULT_SHM_SIZE,
        rootless=rootless,  # runc runs inside pyctr's user namespace already
        memory=spec.resources.memory,
        cpus=spec.resources.cpus,
        pids_limit=record.pids_limit,
        devices=[{"source": d.source, "destination": d.destination or d.source, "permissions": d.permissions}
                 for d in spec.storage.devices],
        namespaces=namespaces(spec.namespaces, namespace_path),
        ipc_none=spec.namespaces.ipc == "none",
        shm_source=shm_source(spec, container_dir),
        sysctls=dict(spec.namespaces.sysctls),
        umask=int(spec.process.umask, 8) if spec.process.umask else None,
        oom_score_adj=spec.process.oom_score_adj,
        personality=spec.process.personality,
        resources=resources(spec.resources),
        cgroups_path=f"{spec.resources.cgroup_parent.rstrip('/')}/pyctr-{record.id}" if spec.resources.cgroup_parent else "",
        unset_env=list(spec.process.unsetenv),
        unset_all_env=spec.process.unsetenv_all,
        uid_mappings=uid_mappings,
        gid_mappings=gid_mappings,
    )


def added_groups(record: ContainerRecord, rootfs: str) -> list[int]:
    """--group-add: GIDs, names from the image's /etc/group, or keep-groups (the caller's own groups,
    as crun leaves them; rootful only, see pyctr.container.create)."""
    wanted = [str(g) for g in record.spec.security.groups]
    if wanted == ["keep-groups"]:
        import os

        return os.getgroups()
    from pyctr.container import userdb

    try:
        return userdb.group_ids(rootfs, wanted)
    except LookupError as exc:
        from pyctr.errors import CommandNotInvokable

        raise CommandNotInvokable(f"looking up supplemental groups for container {record.id}: Unable to find group "
                                  f"{exc.args[0]}: no matching entries in group file") from None


def shm_source(spec, container_dir: str) -> str:
    if not container_dir:
        return ""
    from pyctr.container import shm

    return shm.source(spec, container_dir)


# podman's namespace flags and the OCI kinds they set.
NAMESPACE_KINDS = (("pid", "pid"), ("ipc", "ipc"), ("uts", "uts"), ("cgroupns", "cgroup"), ("userns", "user"))


def namespaces(ns, namespace_path: Callable[[str, str], str] | None) -> dict[str, str]:
    """kind -> "host", "new" or a path to join (see pyctr.runtime.linuxspec); kinds left as they are are absent.
    A user namespace of its own comes from --uidmap/--gidmap (id_mappings), not from here."""
    result = {}
    for flag, kind in NAMESPACE_KINDS:
        mode = getattr(ns, flag)
        if not mode or (kind == "user" and mode in ("host", "private")):
            continue
        if mode == "host":
            result[kind] = "host"
        elif mode in ("private", "shareable", "none"):
            result[kind] = "new"
        elif mode.startswith("ns:"):
            result[kind] = mode[3:]
        elif mode.startswith("container:"):
            if namespace_path is None:
                raise ValueError("namespace_path is needed to join another container's namespace")
            result[kind] = namespace_path(mode[10:], kind)
    return result


def id_mappings(ns) -> tuple[list[dict], list[dict]]:
    """--uidmap/--gidmap (CONTAINER:HOST:SIZE; --uidmap alone serves for both, as podman) or
    --subuidname/--subgidname (the user's first range, mapped from 0)."""
    def parse(items: list[str]) -> list[dict]:
        result = []
        for item in items:
            container_id, host_id, size = (int(part.lstrip("+@")) for part in item.split(":"))
            result.append({"containerID": container_id, "hostID": host_id, "size": size})
        return result

    uids, gids = parse(ns.uidmap), parse(ns.gidmap)
    if ns.subuidname or ns.subgidname:
        from pyctr.container.specrules import subordinate_ranges

        if ns.subuidname:
            start, count = subordinate_ranges("/etc/subuid", ns.subuidname)[0]
            uids = [{"containerID": 0, "hostID": start, "size": count}]
        if ns.subgidname:
            start, count = subordinate_ranges("/etc/subgid", ns.subgidname)[0]
            gids = [{"containerID": 0, "hostID": start, "size": count}]
    if uids and not gids:
        gids = [dict(m) for m in uids]
    elif gids and not uids:
        uids = [dict(m) for m in gids]
    return uids, gids


def resources(r) -> dict:
    """The cgroup tuning flags in OCI linux.resources form (the rootless spec drops them all)."""
    from pyctr.container.specrules import blkio_weight_supported, throttle_device

    result: dict = {}
    cpu = {key: value for key, value in (
        ("shares", r.cpu_shares), ("quota", r.cpu_quota), ("period", r.cpu_period), ("realtimePeriod", r.cpu_rt_period),
        ("realtimeRuntime", r.cpu_rt_runtime), ("cpus", r.cpuset_cpus), ("mems", r.cpuset_mems)) if value is not None}
    memory = {key: value for key, value in (
        ("reservation", r.memory_reservation), ("swap", r.memory_swap),
        ("swappiness", r.memory_swappiness if r.memory_swappiness != -1 else None),
        ("disableOOMKiller", True if r.oom_kill_disable else None)) if value is not None}
    block: dict = {}
    if r.blkio_weight and blkio_weight_supported():  # else discarded (podman's warning)
        block["weight"] = r.blkio_weight
    for key, items, field_name in (("weightDevice", r.blkio_weight_devices, "weight"),
                                   ("throttleReadBpsDevice", r.device_read_bps, "rate"),
                                   ("throttleWriteBpsDevice", r.device_write_bps, "rate"),
                                   ("throttleReadIOPSDevice", r.device_read_iops, "rate"),
                                   ("throttleWriteIOPSDevice", r.device_write_iops, "rate")):
        entries = []
        for item in items:
            major, minor, value = throttle_device("--blkio-weight-device" if field_name == "weight" else "--device-read-bps", item)
            entries.append({"major": major, "minor": minor, field_name: value})
        if entries:
            block[key] = entries
    devices = []
    for rule in r.device_cgroup_rules:
        kind, numbers, access = rule.split(" ")
        major, minor = numbers.split(":")
        entry = {"allow": True, "type": kind, "access": access}
        if major != "*":
            entry["major"] = int(major)
        if minor != "*":
            entry["minor"] = int(minor)
        devices.append(entry)
    for key, value in (("cpu", cpu), ("memory", memory), ("blockIO", block), ("devices", devices)):
        if value:
            result[key] = value
    if r.cgroup_conf:
        result["unified"] = dict(r.cgroup_conf)
    return result


SYSTEMD_TMPFS = ("/run", "/run/lock", "/tmp", "/var/log/journal")
SYSTEMD_CGROUP = "/sys/fs/cgroup/systemd"  # cgroup v1's named hierarchy
ZONEINFO = "/usr/share/zoneinfo"


def extra_mounts(record: ContainerRecord, rootless: bool = False) -> list[dict]:
    """--tz's /etc/localtime, and systemd's mounts (--systemd): tmpfs where it writes, and (root, cgroup v1)
    its cgroup hierarchy writable."""
    import os

    spec = record.spec
    mounts = []
    if spec.process.tz:
        zone = "/etc/localtime" if spec.process.tz == "local" else os.path.join(ZONEINFO, spec.process.tz)
        mounts.append({"destination": "/etc/localtime", "type": "bind", "source": os.path.realpath(zone),
                       "options": ["rbind", "ro", "rprivate"]})
    from pyctr.container.create import systemd_mode

    if systemd_mode(spec, list(record.args)):
        taken = {m["destination"] for m in record.mounts}
        mounts += [{"destination": d, "type": "tmpfs", "source": "tmpfs", "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]}
                   for d in SYSTEMD_TMPFS if d not in taken]
        if not rootless and os.path.isdir(SYSTEMD_CGROUP) and SYSTEMD_CGROUP not in taken:
            mounts.append({"destination": SYSTEMD_CGROUP, "type": "bind", "source": SYSTEMD_CGROUP,
                           "options": ["bind", "rprivate"]})
    return mounts


def systemd_masks(record: ContainerRecord) -> list[str]:
    """--systemd on cgroup v1: the release_agent of the host's systemd hierarchy (bound writable for root,
    seen through /sys rootless) masked, as podman: with CAP_SYS_ADMIN a process could otherwise make the
    host run a program of its choice."""
    import os

    from pyctr.container.create import systemd_mode

    if systemd_mode(record.spec, list(record.args)) and os.path.isdir(SYSTEMD_CGROUP):
        return [SYSTEMD_CGROUP + "/release_agent"]
    return []


def more_etc_files(spec, etc_files: dict[str, str]) -> dict[str, str]:
    """--no-hosts drops /etc/hosts; --chrootdirs gets each file in every chroot too."""
    files = {dest: src for dest, src in etc_files.items() if not (spec.storage.no_hosts and dest == "/etc/hosts")}
    for directory in spec.storage.chrootdirs:
        files.update({"/" + directory.strip("/") + dest: src for dest, src in list(files.items()) if dest.startswith("/etc/")})
    return files


def dns_servers(record: ContainerRecord, netns: str | None) -> list[str]:
    """The spec's servers; with slirp4netns, its own DNS forwarder when none are given."""
    if record.spec.network.dns or not netns or record.network != "slirp4netns":
        return list(record.spec.network.dns)
    from pyctr.network.slirp import DNS_ADDRESS

    return [DNS_ADDRESS]


def dependencies(spec) -> list[str]:
    """IDs of the containers that must run before this one: --requires and container:ID namespaces."""
    ids = list(spec.lifecycle.requires)
    ids += [getattr(spec.namespaces, flag)[10:] for flag, _ in NAMESPACE_KINDS
            if getattr(spec.namespaces, flag).startswith("container:")]
    if (spec.network.mode or "").startswith("container:"):
        ids.append(spec.network.mode[10:])
    return list(dict.fromkeys(ids))

