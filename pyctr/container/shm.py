"""A container's /dev/shm as a tmpfs on the host side (`<container>/userdata/shm`), as podman's, so
that a container joining its IPC namespace (--ipc container:NAME) can see the same files: a tmpfs
that runc mounts inside the container's own mount namespace cannot be bound into another one.

Mounted with the container's root filesystem (pyctr.container.tasks), unmounted when it ends.
"""

from __future__ import annotations

import os

SHM_DIR = ("userdata", "shm")


def path(container_dir: str) -> str:
    return os.path.join(container_dir, *SHM_DIR)


def own(spec) -> bool:
    """The container has an IPC namespace of its own that others may join (podman's shareable, the default)."""
    return spec.namespaces.ipc in ("", "shareable")


def mount_for(container_dir: str, spec, default_size: int) -> None:
    """The tmpfs of a container with an IPC namespace of its own (nothing otherwise); each run gets
    a fresh one (unmounted when the run ends, as the rest of what the run mounted)."""
    if not own(spec):
        return
    from pyctr.linux import mount as mountmod

    target = path(container_dir)
    os.makedirs(target, mode=0o700, exist_ok=True)
    if mountmod.is_mountpoint(target):
        return
    size = spec.storage.shm_size or default_size
    data = f"mode=1777,size={size // 1024}k" if size % 1024 == 0 else f"mode=1777,size={size}"
    mountmod.mount("shm", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, data)


def unmount_for(container_dir: str) -> None:
    from pyctr.linux import mount as mountmod

    target = path(container_dir)
    if os.path.isdir(target) and mountmod.is_mountpoint(target):
        mountmod.unmount(target, lazy=True)


def source(spec, container_dir: str) -> str:
    """What the container's /dev/shm binds: its own host-side tmpfs, or that of the container whose IPC
    namespace it joins; "" for runc's own tmpfs (one mounted before this existed, or not mounted)."""
    ipc = spec.namespaces.ipc
    if ipc.startswith("container:"):
        directory = path(os.path.join(os.path.dirname(container_dir.rstrip("/")), ipc[10:]))
    elif own(spec):
        directory = path(container_dir)
    else:
        return ""
    from pyctr.linux import mount as mountmod

    return directory if os.path.isdir(directory) and mountmod.is_mountpoint(directory) else ""


MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
