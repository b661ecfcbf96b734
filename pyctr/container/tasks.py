"""Running containers: the rootfs mount, the shim, runc start/kill/delete, waiting, cleanup.

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
import errno
import json
import os
import sys
import time
from pyctr.values import value
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import socket

    from pyctr.container.volumes import VolumeService

from pyctr.linux import mount as mountmod
from pyctr.config import Config
from pyctr.container.store import ACTIVE, ContainerRecord, ContainerStore, Status
from pyctr.errors import ContainerNotFound, ContainerStateError, PyctrError, RuntimeFailure, StoreError
from pyctr.linux.fsutil import atomic_write_json, makedirs
from pyctr.runtime.runc import OciRuntime, Runc, error_from_runc
from pyctr.runtime.shimlauncher import ShimLauncher
from pyctr.signals import parse_signal

POLL = 0.05
# podman 4.3.1 exits 255 (-1) when an exec session fails before its process could run.
EXIT_EXEC_FAILED = 255


@value
class Started:
    pid: int
    state_dir: Path
    client: "socket.socket | None" = None  # with start(attach=True)


class TaskService:
    def __init__(self, config: Config, store: ContainerStore, images, runc: OciRuntime | None = None,
                 volumes: "Callable[[], VolumeService] | None" = None):
        """`volumes`: gives the volume service, built only when a removed container had anonymous volumes."""
        self.config = config
        self.store = store
        self.images = images
        self.runc = runc or Runc(store.runc_root, config.runtime, extra_args=config.runtime_flags)
        self._volumes = volumes

    # -- rootfs ------------------------------------------------------------------------------

    def _mount_rootfs(self, record: ContainerRecord) -> Path:
        if record.spec.image.rootfs:  # --rootfs: the directory itself, nothing to mount
            return Path(record.spec.image.name)
        base = self.store.path(record.id)
        merged = self.store.rootfs(record.id)
        if mountmod.is_mountpoint(str(merged)):
            return merged
        image = self.images.get(record.image_id)
        upper, work = base / "overlay" / "upper", base / "overlay" / "work"
        for directory in (upper, work, merged):
            makedirs(directory, 0o755)
        mountmod.mount_at(self.images.layers.rootfs_mount(image.chain_ids, upper=upper, work=work,
                                                          rootless=self.config.rootless), str(merged))
        return merged

    def _unmount_rootfs(self, record: ContainerRecord) -> None:
        from pyctr.container import usermounts

        if usermounts.held(self.store, record.id):
            return  # the user's `pyctr mount` keeps it until their unmount
        merged = self.store.rootfs(record.id)
        if merged.exists() and mountmod.is_mountpoint(str(merged)):
            mountmod.unmount(str(merged), lazy=True)

    # -- the spec ----------------------------------------------------------------------------

    def _setup_network(self, record: ContainerRecord) -> str | None:
        """slirp4netns: the namespace path runc joins; None for the other modes."""
        if record.network != "slirp4netns":
            return None
        from pyctr.network import slirp

        return str(slirp.setup(self.config.runroot, record.id, record.spec.network.ports))

    def _teardown_network(self, record: ContainerRecord) -> None:
        if record.network == "slirp4netns":
            from pyctr.network import slirp

            slirp.teardown(self.config.runroot, record.id)

    def _write_bundle(self, record: ContainerRecord, rootfs: Path, netns: str | None = None,
                      console_size: tuple[int, int] | None = None) -> None:
        from pyctr.container import etcfiles, ocimap, userdb
        from pyctr.runtime import spec

        uid, gid, groups, home = userdb.resolve_user(str(rootfs), record.user or None)
        network = record.spec.network
        etc = etcfiles.write_etc_files(
            str(self.store.path(record.id) / "userdata"), record.hostname, "private" if netns else record.network,
            network.add_hosts, dns_servers=ocimap.dns_servers(record, netns), dns_search=network.dns_search,
            dns_options=network.dns_options,
        )
        from pyctr.container import passwd

        etc.update(passwd.write_files(str(self.store.path(record.id) / "userdata"), str(rootfs), record, uid, gid))
        spec_options = ocimap.spec_options(record, rootfs=str(rootfs), uid=uid, gid=gid, groups=groups, home=home,
                                           etc_files=etc, netns=netns, rootless=self.config.rootless,
                                           container_dir=str(self.store.path(record.id)),
                                           namespace_path=self._namespace_path)
        bundle = self.store.bundle(record.id)
        makedirs(bundle)
        generated = spec.generate(spec_options)
        if record.tty and console_size:
            # The terminal's size from the first instruction (a resize only follows the start).
            generated["process"]["consoleSize"] = {"height": console_size[0], "width": console_size[1]}
        atomic_write_json(bundle / "config.json", generated)

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
            shim = shim or ShimLauncher()
            self._reset_for_start(record)
            try:
                rootfs = self._mount_rootfs(record)
                netns = self._setup_network(record)
                self._write_bundle(record, rootfs, netns, console_size)
            except BaseException:
                shim.abandon()
                self._teardown_network(record)
                self._unmount_rootfs(record)
                raise
            # The last run's exit record goes only now: a start that failed before (a full disk)
            # leaves the container as it was.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.store.exit_file(record.id))
            try:
                started = self._go(shim, record, attach)
            except BaseException:
                self._teardown_network(record)
                self._unmount_rootfs(record)
                raise
            self._event("init", record)  # runc creates and starts in one step
            self._event("start", record)
            # With the pids and start times of this run's processes: should its shim die, they
            # tell whether the container still runs (store.status).
            try:
                self.store.write_state(record.id, started_at=time.time(), paused=False, stopping=False,
                                       **self.store.processes(record.id, started.pid))
            except StoreError as exc:
                # It runs whatever we failed to note: failing here would leave a running container
                # behind an error. Without the record its live shim still says running, and its
                # exit record when it started; only a full disk gets here (its log may fill it at once).
                if not _no_space(exc):
                    raise
            _write_pidfiles(record, started.pid, self.store.shim_pid(record.id))
        return started

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

    def _refuse_if_depended_on(self, record: ContainerRecord) -> None:
        """podman's rule: a container others require (--requires, container:NAME) goes after them, even with -f."""
        from pyctr.container.create import dependents as dependents_of

        dependents = dependents_of(self.store, record.id)
        if dependents:  # a PyctrError (125), not a Conflict: rm's exit code is podman's 125 here
            raise PyctrError(f"container {record.id} has dependent containers which must be removed before it: "
                           f"{', '.join(dependents)}: container already exists")

    def _namespace_path(self, container_id: str, kind: str) -> str:
        status = self.store.status(container_id)
        if status.state not in ("running", "paused") or not status.pid:
            raise ContainerStateError(f"cannot join the {kind} namespace of container {container_id[:12]}: it is {status.state}")
        return f"/proc/{status.pid}/ns/{kind}"

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
            if status.state in (*ACTIVE, "initialized"):
                raise ContainerStateError(f"container {record.id} has already been created in runtime: "
                                          "container state improper")
            shim = ShimLauncher()
            self._reset_for_start(record)
            try:
                rootfs = self._mount_rootfs(record)
                netns = self._setup_network(record)
                self._write_bundle(record, rootfs, netns)
            except BaseException:
                shim.abandon()
                self._teardown_network(record)
                self._unmount_rootfs(record)
                raise
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.store.exit_file(record.id))
            try:
                started = self._go(shim, record, False, start=False)
            except BaseException:
                self._teardown_network(record)
                self._unmount_rootfs(record)
                raise
            self.store.write_state(record.id, initialized=True, started_at=0, paused=False, stopping=False,
                                   **self.store.processes(record.id, started.pid))
            self._event("init", record)
        return started

    def _start_initialized(self, record: ContainerRecord, status: Status) -> Started:
        self.runc.start(record.id)
        self.store.write_state(record.id, initialized=False, started_at=time.time())
        self._event("start", record)
        return Started(status.pid, self.store.state_dir(record.id))

    def _go(self, shim: ShimLauncher, record: ContainerRecord, attach: bool, *, start: bool = True) -> Started:
        from pyctr.container import logdriver

        state_dir = makedirs(self.store.state_dir(record.id))
        makedirs(self.runc.root)
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
        }, attach=attach)
        if "error" in report:
            shim.client.close()
            raise error_from_runc(str(report["error"]))
        return Started(int(report["pid"]), state_dir, shim.client if attach else None)

    def cleanup_argv(self, container_id: str) -> list[str]:
        from pyctr.engine.options import config_argv

        return [sys.executable, "-P", "-m", "pyctr.cleanup", "--root", str(self.config.root),
                "--runroot", str(self.config.runroot), *config_argv(self.config), container_id]

    # -- signals, stop, wait -----------------------------------------------------------------

    def _require_running(self, record: ContainerRecord, verb: str) -> Status:
        status = self.store.status(record.id)
        if status.state not in ACTIVE:
            self._settle(record, status)
            raise ContainerStateError(
                f"can only {verb} running containers. {record.id[:12]} is in state {status.state}: container state improper"
            )
        return status

    def pids(self, record: ContainerRecord) -> list[int]:
        """Host pids of the container's processes (for top)."""
        self._require_running(record, "show processes of")
        return self.runc.ps(record.id)

    def kill(self, record: ContainerRecord, signal: str | int = "KILL") -> None:
        self._require_running(record, "kill")
        number = parse_signal(signal)
        if number in (9, 15):  # a kill meant to end it: no restart policy brings it back
            self._mark_stopped_by_user(record)
        self.runc.kill(record.id, number)
        self._event("kill", record)

    def _mark_stopped_by_user(self, record: ContainerRecord, *, removing: bool = False) -> None:
        """The restart policy must not bring it back (also between two restarts). On a full
        disk the mark is skipped where nothing needs it (rm, or no restart policy), so that
        stopping and removing never need space."""
        try:
            with contextlib.suppress(ContainerNotFound), self.store.lock(record.id):
                self.store.write_state(record.id, stopping=True)
        except StoreError as exc:
            if not (_no_space(exc) and (removing or record.spec.lifecycle.restart.name == "no")):
                raise

    def stop(self, record: ContainerRecord, timeout: int | None = None) -> None:
        """The stop signal, then SIGKILL after the timeout (podman's default: 10 s)."""
        was_running = self.store.status(record.id).state in ACTIVE
        self._stop(record, timeout)
        self._settle(record)
        if was_running:
            self._event("stop", record)

    def _stop(self, record: ContainerRecord, timeout: int | None, *, removing: bool = False) -> None:
        self._mark_stopped_by_user(record, removing=removing)
        status = self.store.status(record.id)
        if status.state not in ACTIVE:
            return
        timeout = record.stop_timeout if timeout is None else timeout
        if status.state == "paused":
            with contextlib.suppress(PyctrError):
                self.runc.resume(record.id)
        with contextlib.suppress(RuntimeFailure):
            self.runc.kill(record.id, parse_signal(record.stop_signal or "TERM"))
        if self._wait(record, timeout=max(timeout, 0)) is None:
            # SIGKILL to the container's init ends its whole pid namespace. (`kill --all`
            # needs cgroups, which rootless containers on cgroup v1 do not have.)
            with contextlib.suppress(RuntimeFailure):
                self.runc.kill(record.id, 9)
            if self._wait(record, timeout=30) is None:
                raise ContainerStateError(f"container {record.name} did not stop after SIGKILL")

    def wait(self, record: ContainerRecord, timeout: float | None = None) -> Status | None:
        """Block until the container has exited (None on timeout); a removed container counts as exited."""
        status = self._wait(record, timeout)
        if status is not None and status.state == "exited":
            status = self._settle(record, status)
        return status

    def _wait(self, record: ContainerRecord, timeout: float | None = None) -> Status | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if not self.store.path(record.id).exists():
                return Status("exited")
            status = self.store.status(record.id)
            if status.state == "exited":
                return status
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(POLL)

    def pause(self, record: ContainerRecord) -> None:
        status = self._require_running(record, "pause")
        if status.state == "paused":
            raise ContainerStateError(f"{record.id[:12]} is already paused: container state improper")
        self.runc.pause(record.id)
        self._note_paused(record, True)
        self._event("pause", record)

    def unpause(self, record: ContainerRecord) -> None:
        status = self._require_running(record, "unpause")
        if status.state != "paused":
            raise ContainerStateError(f"{record.id[:12]} is not paused, can't unpause: container state improper")
        self.runc.resume(record.id)
        self._note_paused(record, False)
        self._event("unpause", record)

    def _note_paused(self, record: ContainerRecord, paused: bool) -> None:
        """Record what runc just did; if that fails (a full disk), undo it: the state stays true."""
        try:
            self.store.write_state(record.id, paused=paused)
        except StoreError:
            with contextlib.suppress(PyctrError):
                (self.runc.resume if paused else self.runc.pause)(record.id)
            raise

    # -- removal and cleanup -----------------------------------------------------------------

    def _settle(self, record: ContainerRecord, status: Status | None = None) -> Status:
        """An orphan (its shim gone) whose process has ended: nobody saw how, and nobody
        cleaned up. Clean up as the shim would have (runc delete, unmount, --rm), then record
        the exit as unknown (-1): removal first, as it needs no space. -> the status after."""
        status = status or self.store.status(record.id)
        if not self._unsettled(record, status):
            return status
        try:
            with self.store.lock(record.id):
                status = self.store.status(record.id)  # again, under the lock: a start may have won
                if not self._unsettled(record, status):
                    return status
                self._release_and_report(record, status)
                if record.remove:
                    self._forget(record)
                    return status
                with contextlib.suppress(PyctrError, OSError):  # unrecorded, it still reads as -1
                    atomic_write_json(self.store.exit_file(record.id), {
                        "exit_code": -1, "signal": None, "oom": False,
                        "started_at": status.started_at or None, "finished_at": time.time(),
                    })
        except ContainerNotFound:
            return Status("exited", exit_code=status.exit_code)
        return self.store.status(record.id)

    def _unsettled(self, record: ContainerRecord, status: Status) -> bool:
        """Exited with no exit record: neither the shim nor _settle has seen it end. (With the
        shim alive, status says running until the record is written.)"""
        return status.state == "exited" and not self.store.exit_file(record.id).exists()

    def cleanup(self, record: ContainerRecord, *, shim_pid: int | None = None) -> bool:
        """After the container's process ended (the shim calls this): runc delete, unmount, --rm.
        Returns whether the restart policy asks for the container to run again.

        `shim_pid` is the shim that asks: if the container was started again meanwhile (its
        state now names another shim), this run's cleanup must not touch the new one.
        """
        try:
            return self._cleanup(record, shim_pid)
        except ContainerNotFound:  # removed meanwhile (rm -f, or --rm from the other side)
            return False

    def _cleanup(self, record: ContainerRecord, shim_pid: int | None) -> bool:
        with self.store.lock(record.id):
            current = self.store.shim_pid(record.id)
            if shim_pid is not None and current not in (0, shim_pid):
                return False
            status = self.store.status(record.id)
            if status.state in ACTIVE and shim_pid is None:
                return False  # a newer run is going on: not ours to clean
            self._release_and_report(record, status)
            if record.remove:
                self._forget(record)
                return False
            return shim_pid is not None and self._should_restart(record, status)

    def _event(self, status: str, record: ContainerRecord, **extra) -> None:
        from pyctr import events

        events.container(self.config, status, record, **extra)

    def _release_and_report(self, record: ContainerRecord, status: Status) -> None:
        """_release; the first time after a run (runc still has its state), the events of its end."""
        ended = self.runc.exists(record.id)
        self._release(record)
        if ended:
            self._event("died", record, exit_code=status.exit_code)
            self._event("cleanup", record)

    def _release(self, record: ContainerRecord) -> None:
        """What an ended container holds: runc's state of it, its network, its rootfs mount."""
        self.runc.delete(record.id, force=True)
        self._teardown_network(record)
        self._unmount_rootfs(record)

    def _forget(self, record: ContainerRecord) -> None:
        """--rm, once it has ended: its anonymous volumes (as podman's --rm), then its record.
        Volumes first: once the record is renamed away, a waiter for the lock (run --rm's own
        cleanup) sees the container gone and returns."""
        self.remove_anonymous_volumes(record)
        self.store.remove(record)
        self._event("remove", record)

    def _should_restart(self, record: ContainerRecord, status: Status) -> bool:
        policy = record.spec.lifecycle.restart
        if policy.name == "no" or self.store.read_state(record.id).get("stopping"):
            return False  # stopped on purpose (stop, kill through stop, rm -f): stays stopped
        if policy.name == "on-failure" and (status.exit_code == 0 or (policy.max_retries and status.restart_count >= policy.max_retries)):
            return False
        return True

    def restart_after_exit(self, record: ContainerRecord) -> None:
        """The restart policy's restart, with a growing pause so that a crash loop stays cheap."""
        count = self.store.status(record.id).restart_count
        time.sleep(min(0.1 * 2 ** count, 5.0))
        try:
            with self.store.lock(record.id):
                if self.store.read_state(record.id).get("stopping"):
                    return
                self.store.write_state(record.id, restart_count=count + 1)
        except ContainerNotFound:
            return
        self.start(record, by_policy=True)

    def remove(self, record: ContainerRecord, *, force: bool = False, timeout: int | None = None) -> None:
        self._refuse_if_depended_on(record)
        status = self.store.status(record.id)
        if status.state == "initialized":  # its process never ran: ended at once, as podman's rm does
            with contextlib.suppress(RuntimeFailure):
                self.runc.kill(record.id, 9)
            self._wait(record, timeout=30)
        if status.state in ACTIVE:
            if not force:
                raise ContainerStateError(
                    f"cannot remove container {record.id} as it is {status.state} - running or paused containers "
                    "cannot be removed without force: container state improper"
                )
            self._stop(record, timeout=0 if timeout is None else timeout, removing=True)
        try:
            with self.store.lock(record.id):
                # Checked again under the lock: a concurrent start may have won the race.
                if self.store.status(record.id).state in ACTIVE:
                    raise ContainerStateError(f"container {record.name} was started again while being removed")
                from pyctr.container import usermounts

                usermounts.forget(self.store, record.id)  # rm unmounts whoever mounted it
                self._release_and_report(record, self.store.status(record.id))
                self.store.remove(record)  # last: the lock goes with it
                self._event("remove", record)
        except ContainerNotFound:
            return  # removed meanwhile (its --rm cleanup, another rm): what we were asked for

    def remove_anonymous_volumes(self, record: ContainerRecord) -> None:
        """The volumes made for this container alone (`-v /path`), once it is removed (--rm, rm -v)."""
        sources = {m["source"] for m in record.mounts if m.get("volume") and not m.get("volume_name")}
        if not sources or self._volumes is None:
            return
        volumes = self._volumes()
        for volume in volumes.list():
            if volume.anonymous and volume.mountpoint in sources:
                volumes.remove(volume.name, users=[])
                from pyctr import events

                events.emit(self.config, "volume", "remove", name=volume.name)

    @contextlib.contextmanager
    def rootfs(self, record: ContainerRecord):
        """The container's root filesystem, mounted for the block if it is not running."""
        with self.store.lock(record.id):
            merged = self.store.rootfs(record.id)
            was_mounted = merged.exists() and mountmod.is_mountpoint(str(merged))
            path = self._mount_rootfs(record)
            try:
                yield str(path)
            finally:
                if not was_mounted:
                    self._unmount_rootfs(record)

    # -- exec --------------------------------------------------------------------------------

    def exec_process(self, record: ContainerRecord, args: list[str], *, tty: bool, env: list[str], workdir: str | None,
                     user: str | None, privileged: bool = False, path: Path | None = None) -> Path:
        """Write the process.json for `runc exec` (to `path`): the container's process with
        these changes. Whether the command exists is runc's to say (podman's words, then)."""
        from pyctr.container import execs

        self._require_running(record, "exec into")  # (exec sessions check require_exec_state first)
        spec = json.loads((self.store.bundle(record.id) / "config.json").read_text())
        process = execs.exec_process(spec["process"], str(self.store.rootfs(record.id)), args, tty=tty, env=env,
                                     workdir=workdir, user=user, privileged=privileged)
        path = path or self.store.state_dir(record.id) / f"exec-{os.getpid()}-{time.monotonic_ns()}.json"
        atomic_write_json(path, process)
        return path

    def require_exec_state(self, record: ContainerRecord) -> None:
        status = self.store.status(record.id)
        if status.state != "running":
            self._settle(record, status)
            error = ContainerStateError("can only create exec sessions on running containers: container state improper")
            error.exit_code = EXIT_EXEC_FAILED
            raise error

    def start_exec(self, record: ContainerRecord, session_dir: Path, process_file: Path, *, tty: bool, stdin: bool,
                   attach: bool, shim: ShimLauncher | None = None, pass_fds: list[int] = ()) -> Started:
        """Start an exec session under its own shim (`runc exec --detach`): the process, its
        stdio and its exit record outlive the caller. Started.client as with start()."""
        from pyctr.container.execs import shim_config

        shim = shim or ShimLauncher()
        report = shim.go(shim_config(record.id, self.store.bundle(record.id), session_dir, process_file, self.runc,
                                     tty=tty, stdin=stdin, preserve_fds=len(pass_fds)),
                         attach=attach, pass_fds=pass_fds)
        if "error" in report:
            shim.client.close()
            raise error_from_runc(str(report["error"]))
        return Started(int(report["pid"]), session_dir, shim.client if attach else None)


def _health_for_shim(record: ContainerRecord, store: ContainerStore, config: Config) -> dict:
    from pyctr.container import health

    return health.for_shim(record, store, config)


def _write_pidfiles(record: ContainerRecord, pid: int, shim_pid: int) -> None:
    """--pidfile and --conmon-pidfile, at each start."""
    lifecycle = record.spec.lifecycle
    for path, number in ((lifecycle.pidfile, pid), (lifecycle.conmon_pidfile, shim_pid)):
        if path:
            try:
                with open(path, "w") as f:
                    f.write(str(number))
            except OSError as exc:
                raise StoreError(f"writing pid file {path}: {exc.strerror}") from exc


def _no_space(exc: StoreError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT)
