"""The finer parts of the OCI spec: shared namespaces, sysctls, cgroup tuning, the process's umask,
personality and OOM score, a user namespace with mappings. Steps of pyctr.runtime.spec.generate,
each `(spec, opts) -> None`, after the defaults and the main steps have run.
"""

from __future__ import annotations

import os
import posixpath

from pyctr.errors import InvalidArgument

# The OCI name of each namespace kind that may be shared.
KINDS = ("pid", "ipc", "uts", "cgroup", "user")


def with_shared_namespaces(spec: dict, opts) -> None:
    """opts.namespaces: kind -> "host" (none of its own: the host's), "new", or a path to join.
    A kind not named keeps what with_namespaces gave it (its own, except cgroup and user)."""
    linux = spec["linux"]
    namespaces = linux["namespaces"]
    for kind, mode in opts.namespaces.items():
        if kind not in KINDS:
            raise InvalidArgument(f"unknown namespace kind {kind!r}")
        namespaces[:] = [n for n in namespaces if n["type"] != kind]
        if mode == "host":
            continue
        if mode == "new":
            namespaces.append({"type": kind})
        elif posixpath.isabs(mode):
            namespaces.append({"type": kind, "path": mode})
        else:
            raise InvalidArgument(f"invalid {kind} namespace {mode!r}: host, new or an absolute path")
    kinds = {n["type"] for n in namespaces}
    if "uts" not in kinds or any(n["type"] == "uts" and "path" in n for n in namespaces):
        spec.pop("hostname", None)  # runc can only set the host name of a namespace of its own
    mounts = spec["mounts"]
    if "ipc" not in kinds:
        # The host's IPC: its /dev/shm, as podman does (mqueue is mounted from the host's IPC namespace itself).
        for m in mounts:
            if m["destination"] == "/dev/shm":
                m.update(type="bind", source="/dev/shm", options=["bind", "rprivate", "nosuid", "noexec", "nodev"])
        if opts.rootless:  # mqueue of an IPC namespace our user namespace does not own: the host's, if mounted
            mqueue = os.path.isdir("/dev/mqueue") and os.path.ismount("/dev/mqueue")
            mounts[:] = [dict(m, type="bind", source="/dev/mqueue", options=["rbind", "nosuid", "noexec", "nodev"])
                         if m["destination"] == "/dev/mqueue" else m
                         for m in mounts if mqueue or m["destination"] != "/dev/mqueue"]
    if opts.ipc_none:
        mounts[:] = [m for m in mounts if m["destination"] != "/dev/shm"]
    elif opts.shm_source and "ipc" in kinds:
        # The container's own (or the joined container's) host-side tmpfs, as podman's userdata/shm.
        for m in mounts:
            if m["destination"] == "/dev/shm":
                m.update(type="bind", source=opts.shm_source, options=["rbind", "rprivate", "nosuid", "noexec", "nodev"])
    if "pid" not in kinds and opts.rootless:
        # proc of a pid namespace we do not own cannot be mounted from our user namespace: bind the host's.
        for m in mounts:
            if m["destination"] == "/proc" and m["type"] == "proc":
                m.update(type="bind", source="/proc", options=["rbind", "nosuid", "noexec", "nodev"])


def with_extra_sysctls(spec: dict, opts) -> None:
    if opts.sysctls:
        spec["linux"].setdefault("sysctl", {}).update(opts.sysctls)


def with_process_extras(spec: dict, opts) -> None:
    process = spec["process"]
    if opts.umask is not None:
        process["user"]["umask"] = opts.umask
    if opts.oom_score_adj is not None:
        process["oomScoreAdj"] = opts.oom_score_adj
    if opts.personality:
        spec["linux"]["personality"] = {"domain": opts.personality.upper()}


def with_resource_tuning(spec: dict, opts) -> None:
    """opts.resources (OCI linux.resources parts) over what with_limits set: cpu and memory merge,
    device rules add to the defaults, the rest replaces. cgroupsPath for --cgroup-parent."""
    resources = spec["linux"].setdefault("resources", {})
    for key, value in opts.resources.items():
        if key in ("cpu", "memory") and isinstance(value, dict):
            resources.setdefault(key, {}).update(value)
        elif key == "devices":
            resources.setdefault("devices", []).extend(value)
        else:
            resources[key] = value
    if opts.cgroups_path:
        spec["linux"]["cgroupsPath"] = opts.cgroups_path


def with_user_namespace(spec: dict, opts) -> None:
    """A rootful container with --uidmap/--gidmap: a new user namespace with those mappings (a rootless
    one gets its own in with_rootless). pyctr.container.create refuses these until the root filesystem
    can be owned by the mapped IDs; the mapping itself is ready."""
    if opts.rootless or not opts.uid_mappings:
        return
    if not opts.gid_mappings:
        raise InvalidArgument("a user namespace needs both uid and gid mappings")
    linux = spec["linux"]
    linux["namespaces"] = [n for n in linux["namespaces"] if n["type"] != "user"] + [{"type": "user"}]
    linux["uidMappings"] = [dict(m) for m in opts.uid_mappings]
    linux["gidMappings"] = [dict(m) for m in opts.gid_mappings]
    # sysfs cannot be mounted from a user namespace that does not own the network namespace's: bind it.
    for m in spec["mounts"]:
        if m["destination"] == "/sys" and m["type"] == "sysfs":
            m.update(type="bind", source="/sys", options=["rbind", "nosuid", "noexec", "nodev", "ro"])
    spec["mounts"] = [m for m in spec["mounts"] if not (m["destination"] == "/sys/fs/cgroup" and m["type"] == "cgroup")]
    if not any(m["containerID"] <= 5 < m["containerID"] + m["size"] for m in opts.gid_mappings):
        for m in spec["mounts"]:  # devpts takes only a gid that the namespace maps
            if m["type"] == "devpts":
                m["options"] = [o for o in m["options"] if not o.startswith("gid=")]
