"""The work behind engine.Containers' port, diff, top, mount/unmount and update: each reads or
changes one container, with podman's errors; the Containers methods only look the container up."""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING

from pyctr.container.store import ACTIVE
from pyctr.errors import ContainerStateError, InvalidArgument, NotFound, PyctrError
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.container.spec import PortMapping
    from pyctr.container.store import ContainerRecord
    from pyctr.engine.services import Services
    from pyctr.snapshot.diff import Change



@value
class Top:
    """The container's processes: a table of podman's descriptors, or (for ps options) the text
    the container's own ps printed."""

    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    text: str = ""


@value
class MountedContainer:
    id: str
    names: list[str]
    mountpoint: str


def ports(record: "ContainerRecord", private: str | None = None) -> list["PortMapping"]:
    """The published ports; with `private` (PORT[/PROTO]), those of that container port only,
    NotFound (podman's text) when it is not published."""
    mappings = record.ports
    if private is None:
        return mappings
    port, _, proto = private.partition("/")
    proto = proto or "tcp"
    if not port.isdigit():
        raise InvalidArgument(f'invalid port "{private}"')
    found = [m for m in mappings if m.container_port == int(port) and m.protocol == proto]
    if not found:
        raise NotFound(f'failed to find published port "{private}"')
    return found


def container_diff(s: "Services", record: "ContainerRecord") -> list["Change"]:
    from pyctr.snapshot.diff import CONTAINER_MOUNTS, changes

    image = s.images.get(record.image_id)
    upper = s.containers.path(record.id) / "overlay" / "upper"
    return changes(str(upper), s.images.layers.lowerdirs(image.chain_ids), skip=CONTAINER_MOUNTS)


def top(s: "Services", record: "ContainerRecord", args: list[str]) -> Top:
    """podman's descriptors from /proc; other arguments are ps options for the container's own ps."""
    from pyctr.container import top as topmod
    from pyctr.container import userdb

    if s.containers.status(record.id).state not in ACTIVE:
        raise ContainerStateError("top can only be used on running containers")
    names = topmod.descriptors(args)
    if names is None:
        return Top(text=_container_ps(s, record, args))
    try:
        pids = s.tasks.runc.ps(record.id)
    except PyctrError:
        # runc finds them by cgroup; rootless on cgroup v1 there is none: by pid namespace then.
        pids = _pids_in_namespace(s.containers.status(record.id).pid)
    rootfs = str(s.containers.rootfs(record.id))
    return Top(topmod.header(names), topmod.rows(pids, names, rootfs, read_file=userdb.read_file))


def _pids_in_namespace(init_pid: int) -> list[int]:
    import os

    try:
        namespace = os.readlink(f"/proc/{init_pid}/ns/pid")
    except OSError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                    pids.append(int(entry))
            except OSError:
                continue
    return sorted(pids)


def _container_ps(s: "Services", record: "ContainerRecord", args: list[str]) -> str:
    """`ps ARGS` run inside the container (as podman does when the arguments are not descriptors)."""
    import os
    import subprocess

    from pyctr.errors import RuntimeFailure
    from pyctr.runtime.runc import error_message

    tasks = s.tasks
    process_file = tasks.exec_process(record, ["ps", *args], tty=False, env=[], workdir=None, user=None)
    try:
        argv = tasks.runc.exec_argv(record.id, str(process_file), tty=False, detach=False)
        result = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, close_fds=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeFailure(f"running ps in the container: {exc}") from exc
    finally:
        try:
            os.unlink(process_file)
        except OSError:
            pass
    if result.returncode != 0:
        said = error_message(result.stderr) or result.stdout.decode(errors="replace").strip()
        raise RuntimeFailure(f"ps({' '.join(args)}) failed: {said or f'exit status {result.returncode}'}")
    return result.stdout.decode(errors="replace")


def mount(s: "Services", record: "ContainerRecord") -> str:
    from pyctr.container import usermounts

    usermounts.check_rootless(s.config.rootless, "pyctr mount")
    point = usermounts.mount(s.tasks, record)
    from pyctr import events

    events.container(s.config, "mount", record)
    return point


def unmount(s: "Services", record: "ContainerRecord", *, force: bool = False) -> None:
    from pyctr.container import usermounts

    usermounts.check_rootless(s.config.rootless, "pyctr unmount")
    usermounts.unmount(s.tasks, record, force=force)
    from pyctr import events

    events.container(s.config, "unmount", record)


def mounted(s: "Services") -> list[MountedContainer]:
    from pyctr.container import usermounts

    usermounts.check_rootless(s.config.rootless, "pyctr mount")
    return [MountedContainer(r.id, [r.name], point) for r, point in usermounts.mounted(s.containers, s.containers.all())]


def update(s: "Services", record: "ContainerRecord", changes: dict) -> None:
    from pyctr.container import update as updatemod

    updatemod.update(s.tasks, record, changes)


def init(s: "Services", record: "ContainerRecord") -> None:
    """podman's `init`: create the container in the runtime without starting its process."""
    s.tasks.init(record)
