"""Running containers: start, init, the shim; TaskService, the engine's one handle on tasks.

TaskService is assembled from mixins by purpose: TaskSetup (pyctr.container.tasksetup: rootfs,
network, OCI bundle, exec process files) and TaskEnding (pyctr.container.taskend: stop, kill,
pause, wait, remove, cleanup).

start() holds the container's lock from mounting to `runc start`, and the
shim's cleanup takes the same lock, so a container that exits at once is
never cleaned up before it was fully started.

A container whose shim is gone (killed, OOM) while its process runs is an
orphan: it still counts as running (store.status checks its process), and
stop, kill and rm act on it through runc, which needs no shim. Once its
process has ended, nobody saw how: the next command here that meets it
settles it (_settle: runc delete, unmount, --rm, an exit record of -1).
"""

from __future__ import annotations

import contextlib
import os
TYPE_CHECKING = False  # (not typing's: ~2 ms at every start)
if TYPE_CHECKING:
    from typing import Callable

    from pyctr.container.volumes import VolumeService

from pyctr.config import Config
from pyctr.container.store import ACTIVE, LIVE, ContainerRecord, ContainerStore, Status
from pyctr.container.taskend import POLL, TaskEnding  # noqa: F401 - POLL: part of this module's API
from pyctr.container.tasksetup import EXIT_EXEC_FAILED, Started, TaskSetup, _events_for_shim  # noqa: F401 - re-exported
from pyctr.errors import ContainerNotFound, ContainerStateError, PyctrError
from pyctr.linux.fsutil import makedirs
from pyctr.runtime.runc import OciRuntime, Runc, error_from_runc
from pyctr.runtime.shimlauncher import ShimLauncher


class TaskService(TaskSetup, TaskEnding):
    def __init__(self, config: Config, store: ContainerStore, images, runc: OciRuntime | None = None,
                 volumes: "Callable[[], VolumeService] | None" = None):
        """`volumes`: gives the volume service, built only when a removed container had anonymous volumes."""
        self.config = config
        self.store = store
        self.images = images
        self.runc = runc or Runc(store.runc_root, config.runtime, extra_args=config.runtime_flags)
        self._volumes = volumes

    # -- starting ----------------------------------------------------------------------------

    def start(self, record: ContainerRecord, *, attach: bool = False, shim: ShimLauncher | None = None,
              console_size: tuple[int, int] | None = None, by_policy: bool = False) -> Started | None:
        """Start a created or exited container. With `attach`, Started.client is a socket
        that receives the container's output from its first byte (pyctr.runtime.attach frames).
        `by_policy`: a restart policy's start, which a stop or rm since the exit cancels."""
        try:
            self._start_dependencies(record)
            return self._start(record, attach=attach, shim=shim, console_size=console_size, by_policy=by_policy)
        except ContainerNotFound:  # removed meanwhile (its lock went with it)
            if shim:
                shim.abandon()
            if by_policy:
                return None
            raise

    def _start(self, record: ContainerRecord, *, attach: bool, shim: ShimLauncher | None,
               console_size: tuple[int, int] | None, by_policy: bool) -> Started | None:
        with self.store.lock(record.id):
            if by_policy and self.store.read_state(record.id).get("stopping"):
                return None
            status = self.store.status(record.id)
            if status.state in ACTIVE:
                if shim:
                    shim.abandon()
                return Started(status.pid, self.store.state_dir(record.id))
            if status.state == "initialized":  # `init` created it: only runc start is left
                if shim:
                    shim.abandon()
                return self._start_initialized(record, status)
            # The shim's interpreter boots while we mount and write the bundle.
            return self._launch(record, shim or ShimLauncher(), attach=attach, console_size=console_size)

    def _launch(self, record: ContainerRecord, shim: ShimLauncher, *, attach: bool = False,
                console_size: tuple[int, int] | None = None, start: bool = True) -> Started:
        """Mount, write the bundle, and have the shim run runc (create, and start unless `start`
        is false: `init`). The caller holds the container's lock."""
        try:
            _check_pid_files(record)
        except BaseException:
            shim.abandon()
            raise
        self._reset_for_start(record)
        held: list = []  # published ports' host sockets: the shim holds them while the container runs
        try:
            rootfs = self._mount_rootfs(record)
            netns, held = self._setup_network(record)
            self._write_bundle(record, rootfs, netns, console_size)
        except BaseException:
            for sock in held:
                sock.close()
            shim.abandon()
            self._teardown_network(record)
            self._unmount_rootfs(record)
            raise
        # The last run's exit record goes only now: a start that failed before (a full disk)
        # leaves the container as it was.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.store.exit_file(record.id))
        try:
            if not start:
                # Before the shim runs: whatever happens to this process from here on, the
                # container never reads as running before `start` (the shim records the rest).
                self.store.write_state(record.id, initialized=True, started_at=0, stopping=False, paused=False)
            # The shim records the start (state.json: pids, start times, started_at; the
            # init and start events; the pid files) before it answers: this process may be
            # killed from here on and the container's status stays whole.
            return self._go(shim, record, attach, start=start, held=[sock.fileno() for sock in held])
        except BaseException:
            self._teardown_network(record)
            self._unmount_rootfs(record)
            raise
        finally:
            for sock in held:  # the shim has its copies
                sock.close()

    def _start_dependencies(self, record: ContainerRecord, seen: frozenset = frozenset()) -> None:
        """--requires and container:NAME namespaces: those containers run first (started if need be, as podman)."""
        from pyctr.container.ocimap import dependencies

        for container_id in dependencies(record.spec):
            if container_id in seen or container_id == record.id:
                continue
            try:
                other = self.store.resolve(container_id)
            except ContainerNotFound:
                raise ContainerNotFound(f"container {container_id} that {record.name} depends on was removed") from None
            if self.store.status(other.id).state not in ACTIVE:
                self._start_dependencies(other, seen | {record.id})
                self._start(other, attach=False, shim=None, console_size=None, by_policy=False)

    def _reset_for_start(self, record: ContainerRecord) -> None:
        """Forget the previous run: its runc state and shim directory (its exit record: see _start)."""
        if self.runc.exists(record.id):  # only a container that ran before has runc state
            self.runc.delete(record.id, force=True)
        state_dir = self.store.state_dir(record.id)
        if state_dir.exists():
            for name in os.listdir(state_dir):
                with contextlib.suppress(OSError):
                    os.unlink(state_dir / name)

    def init(self, record: ContainerRecord) -> Started:
        """podman's `init`: the shim runs `runc create` (mounts, bundle, namespaces, the process
        waiting in runc init) and a later start only runs `runc start` (_start_initialized)."""
        with self.store.lock(record.id):
            status = self.store.status(record.id)
            if status.state in LIVE:
                raise ContainerStateError(f"container {record.id} has already been created in runtime: "
                                          "container state improper")
            return self._launch(record, ShimLauncher(), start=False)

    def _start_initialized(self, record: ContainerRecord, status: Status) -> Started:
        """`runc start` of an `init`ed container. A stop or pause tried while it waited is
        forgotten: this run starts afresh (its restart policy included)."""
        self.runc.start(record.id)
        _notify_initialized_started(record, self.store.shim_pid(record.id))
        # (started_at: the shim's, taken when runc start let the process run; not a second clock here)
        self.store.write_state(record.id, initialized=False, stopping=False, paused=False)
        self._event("start", record)
        return Started(status.pid, self.store.state_dir(record.id))

    def _go(self, shim: ShimLauncher, record: ContainerRecord, attach: bool, *, start: bool = True,
            held: list[int] = ()) -> Started:
        from pyctr.container import logdriver

        state_dir = makedirs(self.store.state_dir(record.id))
        makedirs(self.runc.root)
        # --log-driver passthrough: our own fds 0-2 become the container's (as conmon hands podman's to runc).
        stdio, opened = logdriver.caller_stdio() if logdriver.passes_stdio(record.spec.lifecycle) else ([], [])
        report = shim.go({
            "id": record.id,
            "bundle": str(self.store.bundle(record.id)),
            "state_dir": str(state_dir),
            "runc": self.runc.binary,
            "runc_root": str(self.runc.root),
            "log_path": logdriver.log_file(record.spec.lifecycle, str(self.store.log_path(record.id))),
            "log_size_max": record.log_size_max,
            "exit_file": str(self.store.exit_file(record.id)),
            "terminal": record.tty,
            "stdin": record.stdin,
            "cleanup_argv": self.cleanup_argv(record.id),
            "runc_extra_args": list(self.runc.extra_args),
            "health": _health_for_shim(record, self.store, self.config),
            "timeout": record.spec.process.timeout,
            "start": start,
            "state_file": str(self.store.path(record.id) / "state.json"),
            "pidfile": _absolute(record.spec.lifecycle.pidfile),
            "conmon_pidfile": _absolute(record.spec.lifecycle.conmon_pidfile),
            "events": _events_for_shim(record, self.config),
            **_sdnotify_for_shim(record, state_dir),
        }, attach=attach, stdio_fds=stdio, held_fds=held)
        for fd in opened:  # /dev/null in place of a closed fd 0-2: the shim has its copy
            os.close(fd)
        if "error" in report:
            shim.client.close()
            raise error_from_runc(str(report["error"]))
        return Started(int(report["pid"]), state_dir, shim.client if attach else None)

    def cleanup_argv(self, container_id: str) -> list[str]:
        from pyctr import dist
        from pyctr.engine.options import config_argv

        return [*dist.module_argv("pyctr.cleanup"), "--root", str(self.config.root),
                "--runroot", str(self.config.runroot), *config_argv(self.config), container_id]


def _health_for_shim(record: ContainerRecord, store: ContainerStore, config: Config) -> dict:
    from pyctr.container import health

    return health.for_shim(record, store, config)


def _sdnotify_for_shim(record: ContainerRecord, state_dir) -> dict:
    """--sdnotify under a unit's NOTIFY_SOCKET: what the shim tells systemd (pyctr.systemd.notify)."""
    from pyctr.systemd import notify

    mode = record.spec.lifecycle.sdnotify
    socket_path = notify.host_socket(mode)
    if not socket_path:
        return {}
    return {"sdnotify": mode, "notify_socket": socket_path, "notify_proxy": notify.proxy_path(mode, state_dir)}


def _notify_initialized_started(record: ContainerRecord, shim_pid: int) -> None:
    """`start` of an `init`ed container under a unit's NOTIFY_SOCKET: its shim, made by `init`,
    never speaks to systemd, so we say what podman's start says: MAINPID is the shim (and
    READY=1 with --sdnotify conmon)."""
    from pyctr.systemd import notify

    mode = record.spec.lifecycle.sdnotify
    socket_path = notify.host_socket(mode)
    if socket_path and shim_pid:
        with contextlib.suppress(OSError):
            notify.send(socket_path, f"MAINPID={shim_pid}" + ("\nREADY=1" if mode == "conmon" else ""))


def _check_pid_files(record: ContainerRecord) -> None:
    """Where --pidfile and --conmon-pidfile go must be a writable directory before anything runs
    (`runc run` starts the process before the shim writes them; podman fails first)."""
    import errno

    for path in (record.spec.lifecycle.pidfile, record.spec.lifecycle.conmon_pidfile):
        if not path:
            continue
        directory = os.path.dirname(_absolute(path))
        if not os.path.isdir(directory):
            code = errno.ENOTDIR if os.path.exists(directory) else errno.ENOENT
        elif not os.access(directory, os.W_OK | os.X_OK):
            code = errno.EACCES
        else:
            continue
        raise PyctrError(f"writing pid file {path}: {os.strerror(code)}")


def _absolute(path: str | None) -> str:
    """A --pidfile as the user meant it (relative to this command's directory), for the shim in /."""
    return os.path.abspath(path) if path else ""
