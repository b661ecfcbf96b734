"""`mount`/`unmount` of a container's root filesystem by the user, counted as podman counts them:
each mount adds one, each unmount takes one; while the count is above zero the container's own
stop leaves the mount in place (TaskService._unmount_rootfs asks `held`)."""

from __future__ import annotations

import os
TYPE_CHECKING = False  # (not typing's: ~2 ms at every start)

from pyctr.container.store import ACTIVE
from pyctr.errors import ContainerStateError, InvalidArgument
from pyctr.linux.fsutil import atomic_write_json

if TYPE_CHECKING:
    from pyctr.container.store import ContainerRecord, ContainerStore
    from pyctr.container.tasks import TaskService

COUNT_FILE = "user-mounts.json"


def _path(store: "ContainerStore", container_id: str) -> str:
    return str(store.path(container_id) / COUNT_FILE)


def count(store: "ContainerStore", container_id: str) -> int:
    import json

    try:
        with open(_path(store, container_id)) as f:
            return int(json.load(f).get("count", 0))
    except (OSError, ValueError, AttributeError):
        return 0


def held(store: "ContainerStore", container_id: str) -> bool:
    return count(store, container_id) > 0


def forget(store: "ContainerStore", container_id: str) -> None:
    """The container goes (rm): its user mounts go with it."""
    try:
        os.unlink(_path(store, container_id))
    except OSError:
        pass


def check_rootless(rootless: bool, command: str) -> None:
    """As podman: rootless, the mount exists only inside the user namespace, so it must be asked
    for from inside it (`pyctr unshare`), where the printed path means something."""
    if rootless and not _started_inside_namespace():
        raise InvalidArgument(f'cannot run command "{command}" in rootless mode, must execute `pyctr unshare` first')


def _started_inside_namespace() -> bool:
    try:
        return os.readlink(f"/proc/{os.getppid()}/ns/user") == os.readlink("/proc/self/ns/user")
    except OSError:
        return False


def mount(tasks: "TaskService", record: "ContainerRecord") -> str:
    """Mount (or count one more mount of) the container's root filesystem; its path."""
    store = tasks.store
    with store.lock(record.id):
        path = tasks._mount_rootfs(record)  # the one place that mounts a container's rootfs
        atomic_write_json(_path(store, record.id), {"count": count(store, record.id) + 1})
    return str(path)


def unmount(tasks: "TaskService", record: "ContainerRecord", *, force: bool = False) -> None:
    """One mount less (all of them with `force`); the last one unmounts, unless the container runs."""
    store = tasks.store
    with store.lock(record.id):
        left = 0 if force else max(count(store, record.id) - 1, 0)
        running = store.status(record.id).state in ACTIVE
        if running and (force or count(store, record.id) == 0):
            raise ContainerStateError(f"cannot unmount storage for container {record.id} as it is running or paused: "
                                      "container state improper")
        if left:
            atomic_write_json(_path(store, record.id), {"count": left})
            return
        forget(store, record.id)
        if not running:
            tasks._unmount_rootfs(record)


def mounted(store: "ContainerStore", records: list["ContainerRecord"]) -> list[tuple["ContainerRecord", str]]:
    """Containers whose root filesystem is mounted now (by the user or because they run)."""
    from pyctr.linux import mount as mountmod

    result = []
    for record in records:
        merged = store.rootfs(record.id)
        if merged.exists() and mountmod.is_mountpoint(str(merged)):
            result.append((record, str(merged)))
    return result
