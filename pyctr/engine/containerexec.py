"""engine.containers, the process half: exec sessions, health checks, copies and export."""

from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.engine.containertypes import AttachSession, _container
from pyctr.errors import ContainerNotFound, InvalidArgument, PyctrError

if TYPE_CHECKING:
    from typing import Callable
    from pyctr.container.execs import ExecSession
    from pyctr.container.store import ContainerRecord


class ContainerProcesses:
    """Part of engine.containers.Containers (its lookups: _record, _latest, _event)."""

    # -- health checks -----------------------------------------------------------------------

    def healthcheck_run(self, name: str) -> bool:
        """Run the container's health check now, as podman's `healthcheck run`: whether it passed.
        The status moves by podman's rules (pyctr.container.health), and once it is unhealthy the
        container's --health-on-failure action runs (kill, stop, or restart)."""
        from pyctr.container import health

        try:
            record = self._record(name)
        except ContainerNotFound as exc:
            raise ContainerNotFound(f"unable to look up {name} to perform a health check: {exc}") from None
        passed, status = health.run_once(self._s.tasks, record)
        self._event("health_status", record, health_status=status)
        if status == health.UNHEALTHY:
            self.health_on_failure(record.id)
        return passed

    def health_on_failure(self, name: str) -> None:
        """The container's --health-on-failure action, now that it is unhealthy (podman's: kill and
        stop keep it stopped; restart stops it and starts it again)."""
        from pyctr.container import health

        record = self._record(name)
        action = health.on_failure_of(record)
        act = {"kill": self.kill, "stop": self.stop, "restart": self.restart}.get(action)
        if act is None:
            return
        for report in act([record.id]):
            if report.error is not None:
                raise report.error

    def exec(self, name: str | None, command: list[str], *, interactive: bool = False, tty: bool = False,
             detach: bool = False, env: dict[str, str] | None = None, workdir: str | None = None,
             user: str | None = None, privileged: bool = False, preserve_fds: int = 0, latest: bool = False,
             attach: "Callable[[AttachSession], int | None] | None" = None, shim=None,
             on_started: "Callable[[str], None] | None" = None) -> int | None:
        """Run a command in a running container as an exec session under its own shim (as podman's
        under conmon): it outlives the caller, and so does its exit code (exec_inspect).
        `on_started(session_id)` once it runs. Detached: returns 0 at once. Else `attach(session)`
        proxies its stdio and returns its exit code (None: the user detached); without `attach`,
        its output goes to our fds 1 and 2. `preserve_fds`: our fds 3..3+N-1 reach the process.
        `latest`: the container created last instead of `name`. `shim`: a ShimLauncher started early
        (not with `preserve_fds`: its own fds could pass for the caller's)."""
        try:
            return self._exec(name, command, interactive=interactive, tty=tty, detach=detach, env=env,
                              workdir=workdir, user=user, privileged=privileged, preserve_fds=preserve_fds,
                              latest=latest, attach=attach, shim=shim, on_started=on_started)
        except BaseException:
            if shim is not None and shim.config_w >= 0:
                shim.abandon()
            raise

    def _exec(self, name, command, *, interactive, tty, detach, env, workdir, user, privileged, preserve_fds,
              latest, attach, shim, on_started) -> int | None:
        import os

        from pyctr.container.execs import ExecStore
        from pyctr.container.tasks import EXIT_EXEC_FAILED

        if not name and not latest:
            raise InvalidArgument("exec requires the name or ID of a container or the --latest flag")
        if not command:
            error = InvalidArgument("must provide a non-empty command to start an exec session: invalid argument")
            error.exit_code = EXIT_EXEC_FAILED  # as podman 4.3.1
            raise error
        if preserve_fds < 0:
            raise InvalidArgument(f"invalid --preserve-fds {preserve_fds}: must not be negative")
        pass_fds = list(range(3, 3 + preserve_fds))
        for fd in pass_fds:
            try:
                os.fstat(fd)
            except OSError:
                raise InvalidArgument(f"file descriptor {fd} is not available - the preserve-fds option "
                                      "requires that file descriptors must be passed") from None
        record = self._record(self.latest().id if latest else name)
        tasks, execs = self._s.tasks, ExecStore(self._s.containers)
        try:
            tasks.require_exec_state(record)
            session_id, path = execs.new(record.id, command, tty=tty, open_stdin=interactive, privileged=privileged,
                                         user=user or "", workdir=workdir or "", detached=detach)
            try:
                env_list = [f"{k}={v}" for k, v in (env or {}).items()]
                process_file = tasks.exec_process(record, list(command), tty=tty, env=env_list, workdir=workdir,
                                                  user=user, privileged=privileged, path=path / "process.json")
                started = tasks.start_exec(record, path, process_file, tty=tty, stdin=interactive and not detach,
                                           attach=not detach, shim=shim, pass_fds=pass_fds)
            except BaseException:
                execs.discard(record.id, session_id)
                raise
        except PyctrError as exc:
            if exc.exit_code == 125:
                exc.exit_code = EXIT_EXEC_FAILED  # as podman 4.3.1: a session that never ran is -1
            raise
        self._event("exec", record)
        if on_started is not None:
            on_started(session_id)
        if detach:
            return 0
        from pyctr.runtime import attach as attachmod

        session = AttachSession(_container(record), attachmod.AttachClient(started.client), started.pid, tty,
                                interactive, exec_id=session_id)
        code = attach(session) if attach is not None else _relay_output(session.client)
        if code is None and attach is None:
            code = self.exec_exit_code(session_id)
        return code  # (its exec_died event: the session's shim records it)

    def exec_exit_code(self, session_id: str) -> int:
        """Wait for an exec session's process to end; its exit code (-1 if nobody saw how it ended)."""
        from pyctr.container.execs import ExecStore

        execs = ExecStore(self._s.containers)
        session = execs.wait(*execs.find(session_id))
        return session.exit_code if session.exit_code is not None else -1

    def exec_inspect(self, session_id: str) -> "ExecSession":
        """An exec session (podman's /exec/{id}/json): ID or a unique prefix of it."""
        from pyctr.container.execs import ExecStore

        execs = ExecStore(self._s.containers)
        return execs.get(*execs.find(session_id))

    def exec_ids(self, name: str) -> list[str]:
        """The container's exec sessions (running, and the last finished ones), oldest first."""
        from pyctr.container.execs import ExecStore

        return ExecStore(self._s.containers).ids(self._record(name).id)

    def copy_from(self, name: str, path: str, host_path: str | None = None, *, out=None, overwrite: bool = False) -> None:
        """Container `path` to `host_path`, or as a tar stream to the binary file `out`; the
        path is seen as the container sees it (its volumes and bind mounts included; a relative
        one under its working directory)."""
        from pyctr.container import copy

        record = self._copy_record(name)
        with self._s.tasks.rootfs(record) as rootfs:
            fs = copy.container_fs(rootfs, record, self._s.containers.bundle(record.id), self._copy_pid(record))
            copy.copy_out(fs, copy.in_workdir(record.workdir, path), out if host_path is None else host_path,
                          container=name, overwrite=overwrite, rootless=self._s.config.rootless)

    def copy_to(self, name: str, host_path: str | None, path: str, *, stream=None, archive: bool = True,
                overwrite: bool = False) -> None:
        """`host_path` (or the tar stream `stream`) to container `path`. `archive`: the copies
        belong to the container's user, as podman's --archive; else they keep their owners."""
        from pyctr.container import copy, userdb

        record = self._copy_record(name)
        with self._s.tasks.rootfs(record) as rootfs:
            owner = tuple(userdb.resolve_user(rootfs, record.user)[:2]) if archive else None
            fs = copy.container_fs(rootfs, record, self._s.containers.bundle(record.id), self._copy_pid(record))
            copy.copy_in(fs, stream if host_path is None else host_path, copy.in_workdir(record.workdir, path),
                         container=name, owner=owner, overwrite=overwrite, rootless=self._s.config.rootless)

    def copy_between(self, src_name: str, src_path: str, dest_name: str, dest_path: str, *, archive: bool = True,
                     overwrite: bool = False) -> None:
        """From one container to another, through a private directory on the host."""
        import os
        import tempfile

        with tempfile.TemporaryDirectory(prefix="pyctr-cp-") as spool:
            self.copy_from(src_name, src_path, spool)
            copied = spool + "/." if src_path.endswith("/.") else os.path.join(spool, os.listdir(spool)[0])
            self.copy_to(dest_name, copied, dest_path, archive=archive, overwrite=overwrite)

    def _copy_pid(self, record: "ContainerRecord") -> int:
        """The container's init while its mounts exist (cp then sees them as the container does), else 0."""
        status = self._s.containers.status(record.id)
        return (status.pid or 0) if status.state in ("running", "paused", "stopping", "initialized") else 0

    def _copy_record(self, name: str) -> "ContainerRecord":
        try:
            return self._record(name)
        except ContainerNotFound:
            raise ContainerNotFound(f"container \"{name}\" does not exist") from None  # podman's words in cp

    def export(self, name: str, out) -> None:
        """Write the container's filesystem to the binary file `out` as a tar archive."""
        from pyctr.container import copy

        with self._s.tasks.rootfs(self._record(name)) as rootfs:
            copy.export(rootfs, out)


def _relay_output(client) -> int | None:
    """Without a front end: the session's output to our fds 1 and 2; its exit code
    (None if the shim went away without one)."""
    import json
    import os

    from pyctr.runtime import attach

    client.close_stdin()
    for kind, payload in client.frames():
        if kind in (attach.STDOUT, attach.STDERR):
            view = memoryview(payload)
            while view:
                view = view[os.write(kind, view):]  # fd 1 or 2
        elif kind == attach.EXIT:
            client.close()
            return int(json.loads(payload).get("exit_code", 0))
    client.close()
    return None


def _passing_fds(shim, count: int):
    """The shim, told to hand fds 3..3+count-1 to the container (run --preserve-fds, as podman checks them)."""
    import os

    if count < 0:
        raise InvalidArgument(f"invalid --preserve-fds {count}: must not be negative")
    for fd in range(3, 3 + count):
        try:
            os.fstat(fd)
        except OSError:
            raise InvalidArgument(f"file descriptor {fd} is not available - the preserve-fds option "
                                  "requires that file descriptors must be passed") from None
    if shim is None:
        from pyctr.runtime.shimlauncher import ShimLauncher

        shim = ShimLauncher()
    shim.pass_fds = list(range(3, 3 + count))
    return shim
