"""Ending containers: stop, kill, pause, wait, remove, and the cleanup after an exit.

A mixin of TaskService (pyctr.container.tasks). A container whose shim is gone while its
process runs is an orphan: stop, kill and rm act on it through runc; once its process has
ended, _settle cleans up as its shim would have (see the module docstring of tasks).
"""

from __future__ import annotations

import contextlib
import errno
import os
import time

from pyctr.cleanup import cleaned, mark_cleaned
from pyctr.container.store import ACTIVE, LIVE, ContainerRecord, Status
from pyctr.errors import ContainerNotFound, ContainerStateError, PyctrError, RuntimeFailure, StoreError
from pyctr.linux.fsutil import atomic_write_json
from pyctr.signals import parse_signal

POLL = 0.05
CLEANUP_WAIT = 30.0  # seconds a stop waits for the shim's cleanup after the exit


class TaskEnding:
    # -- signals, stop, wait -----------------------------------------------------------------

    def _require_running(self, record: ContainerRecord, verb: str) -> Status:
        status = self.store.status(record.id)
        if status.state not in ACTIVE:
            self._settle(record, status)
            raise ContainerStateError(
                f"can only {verb} running containers. {record.id} is in state {status.state}: container state improper"
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
        stopping and removing never need space. rm of one without a restart policy needs no
        mark at all (nothing reads it before the container is gone): rm -fa of many writes none."""
        if removing and record.spec.lifecycle.restart.name == "no":
            return
        try:
            with contextlib.suppress(ContainerNotFound), self.store.lock(record.id):
                self.store.write_state(record.id, stopping=True)
        except StoreError as exc:
            if not (_no_space(exc) and (removing or record.spec.lifecycle.restart.name == "no")):
                raise

    def stop(self, record: ContainerRecord, timeout: int | None = None) -> None:
        """The stop signal, then SIGKILL after the timeout (podman's default: 10 s). An `init`ed
        container too: its process, still waiting in runc init, ends (as podman's). Returns once
        the ended run is cleaned up (see _clean_up_stopped)."""
        was_running = self.store.status(record.id).state in LIVE
        shim = self.store.shim_pid(record.id) if was_running else 0
        state = self.store.read_state(record.id) if shim else {}
        shim_start = state.get("shim_start") if state.get("shim_pid") == shim else None
        self._stop(record, timeout)
        self._settle(record)
        if shim and not self._clean_up_stopped(record, shim):
            _wait_for_process(shim, shim_start, CLEANUP_WAIT)
        if was_running:
            self._event("stop", record)

    def _clean_up_stopped(self, record: ContainerRecord, shim: int) -> bool:
        """As podman's stop, which cleans up itself rather than wait for conmon's cleanup command:
        a script's next command finds the mounts and addresses released. What the run holds is
        released here (runc's state, network, rootfs; --rm: the container), then the mark that
        tells the shim's cleanup command (pyctr.cleanup) that nothing is left for it: with many
        containers stopped at once, 20 interpreters that load the engine cost more than the stop.
        False when the shim's cleanup has more to decide (a pod's exit policy, a restart policy,
        another run meanwhile): the caller then waits for the shim, which exits after it."""
        if record.spec_data["lifecycle"].get("pod"):
            return False
        try:
            with self.store.lock(record.id):
                if self.store.shim_pid(record.id) != shim:
                    return False
                status = self.store.status(record.id)
                if status.state != "exited" or not self.store.exit_file(record.id).exists() \
                        or self._should_restart(record, status):
                    return False
                ended = self._release_and_report(record, status)
                if record.remove:
                    self._forget(record, sweeper=self._sweeper(record) if ended else None)
                else:
                    mark_cleaned(self.store.state_dir(record.id), shim)
        except ContainerNotFound:
            pass  # removed meanwhile: nothing left of it
        return True

    def _stop(self, record: ContainerRecord, timeout: int | None, *, removing: bool = False) -> None:
        self._mark_stopped_by_user(record, removing=removing)
        status = self.store.status(record.id)
        if status.state not in LIVE:
            return
        timeout = record.stop_timeout if timeout is None else timeout
        if status.state == "paused":
            with contextlib.suppress(PyctrError):
                self.runc.resume(record.id)
        # As podman: a timeout of 0 skips the stop signal (stop -t0 reads Exited (137)).
        if timeout > 0:
            with contextlib.suppress(RuntimeFailure):
                self.runc.kill(record.id, parse_signal(record.stop_signal or "TERM"))
        if timeout <= 0 or self._wait(record, timeout=timeout) is None:
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
        """Until the exit record is there (None after `timeout`). While the container's init runs,
        its pidfd says when it ends (no polling: stop -a and rm -fa wait for many at once); then
        its shim writes the exit record within moments."""
        deadline = None if timeout is None else time.monotonic() + timeout
        watched, pidfd, pause = 0, -1, 0.001
        try:
            while True:
                if not self.store.path(record.id).exists():
                    return Status("exited")
                status = self.store.status(record.id)
                if status.state == "exited":
                    return status
                left = POLL if deadline is None else min(POLL, deadline - time.monotonic())
                if left <= 0:
                    return None
                if status.pid != watched:
                    if pidfd >= 0:
                        os.close(pidfd)
                    watched, pidfd = status.pid, _pidfd(status.pid)
                if pidfd >= 0 and not _ended(pidfd, left):
                    continue  # still running (or pause, or reused pid: checked again)
                # Ended (or not watchable): the shim records the exit next.
                time.sleep(min(pause, left))
                pause = min(pause * 2, POLL)
        finally:
            if pidfd >= 0:
                os.close(pidfd)

    def pause(self, record: ContainerRecord) -> None:
        status = self.store.status(record.id)
        if status.state == "paused":  # (podman's texts, quotes included)
            raise ContainerStateError(f'"{record.id}" is already paused: container state improper')
        if status.state not in ACTIVE:
            self._settle(record, status)
            raise ContainerStateError(f'"{status.state}" is not running, can\'t pause: container state improper')
        self.runc.pause(record.id)
        self._note_paused(record, True)
        self._event("pause", record)

    def unpause(self, record: ContainerRecord) -> None:
        status = self.store.status(record.id)
        if status.state != "paused":
            self._settle(record, status)
            raise ContainerStateError(f'"{record.id}" is not paused, can\'t unpause: container state improper')
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
            if shim_pid is not None and (current not in (0, shim_pid) or cleaned(self.store.state_dir(record.id), shim_pid)):
                return False
            status = self.store.status(record.id)
            if status.state in LIVE and shim_pid is None:
                return False  # a newer run is going on: not ours to clean
            ended = self._release_and_report(record, status)
            if record.remove:
                self._forget(record, sweeper=self._sweeper(record) if ended and shim_pid is None else None)
                return False
            return shim_pid is not None and self._should_restart(record, status)

    def _event(self, status: str, record: ContainerRecord, **extra) -> None:
        from pyctr import events

        events.container(self.config, status, record, **extra)

    def _release_and_report(self, record: ContainerRecord, status: Status) -> bool:
        """_release; the first time after a run (runc still has its state), the events of its end.
        -> whether it was that first time: then the shim's cleanup command has not run yet."""
        ended = self.runc.exists(record.id)
        self._release(record)
        if ended:
            self._event("died", record, exit_code=status.exit_code)
            self._event("cleanup", record)
        return ended

    def _sweeper(self, record: ContainerRecord) -> int | None:
        """The container's shim, if it lives: its cleanup command, which runs after ours (it waits
        for the container's lock), deletes the removed container's files (pyctr.cleanup), so that
        rm and run --rm need not wait for that. A shim killed meanwhile leaves them to the next
        removal's sweep (store.remove), as a killed removal does."""
        from pyctr.container.store import _is_process

        shim = self.store.shim_pid(record.id)
        state = self.store.read_state(record.id) if shim else {}
        start = state.get("shim_start") if state.get("shim_pid") == shim else None
        return shim if shim and _is_process(shim, start) else None

    def _release(self, record: ContainerRecord) -> None:
        """What an ended container holds: runc's state of it, its network, its rootfs mount.
        `runc delete` (~10 ms, mostly runc's start-up) runs in a thread meanwhile: it touches
        neither the network namespace we hold nor the rootfs (its processes are gone)."""
        import threading

        failed: list[BaseException] = []

        def delete() -> None:
            try:
                self.runc.delete(record.id, force=True)
            except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
                failed.append(exc)

        deleting = threading.Thread(target=delete, name="runc-delete")
        deleting.start()
        try:
            try:
                self._teardown_network(record)
            finally:  # a network that cannot be undone now (retried at the next cleanup) keeps no mount
                self._unmount_rootfs(record)
        finally:
            deleting.join()
        if failed:
            # runc never created it (a start that failed, say on a bad --runtime-flag, which
            # fails delete as well): nothing of runc's to release, and rm must still go on.
            if not isinstance(failed[0], RuntimeFailure) or self.runc.exists(record.id):
                raise failed[0]

    def _forget(self, record: ContainerRecord, *, sweeper: int | None = None) -> None:
        """--rm, once it has ended: its anonymous volumes (as podman's --rm), then its record.
        Volumes first: once the record is renamed away, a waiter for the lock (run --rm's own
        cleanup) sees the container gone and returns. `sweeper`: see store.remove."""
        self.remove_anonymous_volumes(record)
        self.store.remove(record, sweeper=sweeper)
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
            status = self._wait(record, timeout=30) or self.store.status(record.id)
        if status.state in LIVE:
            if not force:
                raise ContainerStateError(
                    f"cannot remove container {record.id} as it is {status.state} - running or paused containers "
                    "cannot be removed without force: container state improper"
                )
            self._stop(record, timeout=0 if timeout is None else timeout, removing=True)
        try:
            with self.store.lock(record.id):
                # Checked again under the lock: a concurrent start may have won the race.
                if self.store.status(record.id).state in LIVE:
                    raise ContainerStateError(f"container {record.name} was started again while being removed")
                from pyctr.container import usermounts

                usermounts.forget(self.store, record.id)  # rm unmounts whoever mounted it
                ended = self._release_and_report(record, self.store.status(record.id))
                self.store.remove(record, sweeper=self._sweeper(record) if ended else None)  # last: the lock goes with it
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

    def _refuse_if_depended_on(self, record: ContainerRecord) -> None:
        """podman's rule: a container others require (--requires, container:NAME) goes after them, even with -f."""
        from pyctr.container.create import dependents as dependents_of

        dependents = dependents_of(self.store, record.id)
        if dependents:  # a PyctrError (125), not a Conflict: rm's exit code is podman's 125 here
            raise PyctrError(f"container {record.id} has dependent containers which must be removed before it: "
                           f"{', '.join(dependents)}: container already exists")


def _pidfd(pid: int) -> int:
    """A pidfd of `pid` (readable once it has ended), or -1."""
    if pid <= 0:
        return -1
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return -1


def _ended(pidfd: int, timeout: float) -> bool:
    """Whether the process of `pidfd` ends within `timeout` seconds. (poll, not select: a
    long-lived process, the API service, may hold fds beyond select's 1024.)"""
    import select

    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(max(timeout, 0) * 1000))


def _wait_for_process(pid: int, start: int | None, timeout: float) -> None:
    """Until process `pid` (that started at `start`, if known) has ended, at most `timeout`."""
    from pyctr.container.store import _is_process

    pidfd = _pidfd(pid)
    try:
        # Checked after the pidfd is open: it then names the process the start time was taken of.
        if pidfd >= 0 and _is_process(pid, start):
            _ended(pidfd, timeout)
            return
    finally:
        if pidfd >= 0:
            os.close(pidfd)
    deadline = time.monotonic() + timeout
    while _is_process(pid, start) and time.monotonic() < deadline:
        time.sleep(POLL)


def _no_space(exc: StoreError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT)
