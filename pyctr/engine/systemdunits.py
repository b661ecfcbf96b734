"""`generate systemd`: the units that run a container or a pod as a systemd service, as podman 4.3.1's.

    units = engine.systemd.generate("web", UnitOptions(new=True, use_name=True))   # {"container-web": text}
    paths = engine.systemd.write_files(units, os.getcwd())

The units run this very pyctr (the path it was started from: `executable()`) on the same store
(the global options in use). A container's `--new` unit re-runs its recorded create command
(pyctr.systemd.cmdline); without `--new` it starts the existing container and follows its shim
through the shim's pid file.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from pyctr.errors import InvalidArgument, NotFound
from pyctr.systemd import cmdline
from pyctr.systemd.units import RESTART_POLICIES, ContainerUnit, PodUnit, UnitOptions, container_unit, pod_unit

if TYPE_CHECKING:
    from pyctr.container.store import ContainerRecord
    from pyctr.engine import Engine
    from pyctr.pod.store import PodRecord

ENV_EXECUTABLE = "PYCTR_SYSTEMD_EXECUTABLE"  # another pyctr for the units to run (a one-file build's path)


def executable() -> list[str]:
    """How a unit runs this pyctr: the absolute path it was started as, or (`python -m pyctr`) this
    interpreter with -m; $PYCTR_SYSTEMD_EXECUTABLE overrides (a path)."""
    override = os.environ.get(ENV_EXECUTABLE)
    if override:
        return [os.path.abspath(override)]
    from pyctr import dist

    one_file = dist.file_argv()  # the one-file build: that file
    if one_file:
        return one_file
    argv0 = sys.argv[0] if sys.argv else ""
    name = os.path.basename(argv0)
    if argv0 and not name.endswith(".py") and name not in ("-m", "-c") and os.access(argv0, os.X_OK):
        return [os.path.abspath(argv0)]
    return [sys.executable, "-m", "pyctr"]


class Systemd:
    def __init__(self, engine: "Engine"):
        self._engine = engine
        self._services = engine.services

    def generate(self, name: str, options: UnitOptions, *, exe: list[str] | None = None) -> dict[str, str]:
        """The units for a container or a pod: {unit name without .service: text}, a pod's first."""
        from pyctr import __version__

        if options.restart_policy is not None and options.restart_policy not in RESTART_POLICIES:
            raise InvalidArgument(f"{options.restart_policy} is not a valid restart policy")
        if options.template:
            options = _with(options, new=True)  # a template always creates its containers
        # --env NAME: the value this command has (none: left out), as podman
        env = [e if "=" in e else f"{e}={os.environ[e]}" for e in options.env if "=" in e or e in os.environ]
        options = _with(options, env=env)
        words = cmdline_escape(exe or executable())
        record, pod = self._find(name)
        if record is not None:
            return {unit.service: container_unit(unit, options, __version__)
                    for unit in [self._container(record, options, words)]}
        if options.template:
            raise InvalidArgument("--template is not supported for pods")
        return self._pod(pod, options, words, __version__)

    def write_files(self, units: dict[str, str], directory: str) -> list[str]:
        """--files: each unit as NAME.service in `directory` (template units as NAME@.service)."""
        from pyctr.linux.fsutil import atomic_write

        paths = []
        for service, text in units.items():
            first = text.partition("\n")[0]  # "# NAME.service": the file's name, @ included
            filename = first[2:] if first.startswith("# ") and first.endswith(".service") else f"{service}.service"
            path = os.path.join(os.path.abspath(directory), filename)
            atomic_write(path, text.encode(), mode=0o644)
            paths.append(path)
        return paths

    # -- what goes in ----------------------------------------------------------------------

    def _find(self, name: str) -> tuple["ContainerRecord | None", "PodRecord | None"]:
        from pyctr.errors import ContainerNotFound

        try:
            record = self._services.containers.resolve(name)
        except ContainerNotFound:
            record = None
        else:
            return record, None  # (an infra container too: a unit of its own, as podman's)
        try:
            return None, self._engine.pods.get(name)
        except NotFound:
            raise NotFound(f"{name} does not refer to a container or pod: no pod with name or ID {name} found: "
                           f'no such pod: no container with name or ID "{name}" found: no such container') from None

    def _service(self, prefix: str, name: str, options: UnitOptions) -> str:
        return f"{prefix}{options.separator}{name}"

    def _store_args(self) -> list[str]:
        """The global options that name this store, unless it is the default one, and the others in use."""
        from pyctr.config import default_root, default_runroot
        from pyctr.engine.options import config_argv

        config = self._services.config
        args = []
        if os.path.abspath(config.root) != os.path.abspath(default_root()):
            args += ["--root", str(config.root)]
        if os.path.abspath(config.runroot) != os.path.abspath(default_runroot()):
            args += ["--runroot", str(config.runroot)]
        return args + config_argv(config)

    def _recorded_globals(self, create_command: list[str], index: int) -> list[str]:
        """The create command's global options (escaped), with the store's added where it lacks them."""
        recorded = create_command[1:index]
        extra = []
        store = self._store_args()
        for flag in ("--root", "--runroot"):
            if flag in store and not any(arg == flag or arg.startswith(flag + "=") for arg in recorded):
                extra += [flag, store[store.index(flag) + 1]]
        return [*map(cmdline.escape, extra)] + [*map(cmdline.escape, recorded)]

    def _container(self, record: "ContainerRecord", options: UnitOptions, exe: list[str],
                   pod_service: str = "", pod_id_file: str | None = None) -> ContainerUnit:
        stop_timeout = options.stop_timeout if options.stop_timeout is not None else record.stop_timeout
        unit = ContainerUnit(
            service=self._service(options.container_prefix, record.name if options.use_name else record.id, options),
            executable=exe, global_args=[*map(cmdline.escape, self._store_args())],
            name_or_id=record.name if options.use_name else record.id,
            runroot=str(self._services.config.runroot),
            pid_file=str(self._services.containers.state_dir(record.id) / "shim.pid"),
            stop_timeout=stop_timeout, restart=options.restart_policy or "on-failure", bound_to=pod_service)
        if not options.new:
            return unit
        create_command = list(record.spec.lifecycle.create_command)
        try:
            new = cmdline.container_command(create_command, pod_id_file=pod_id_file, template=options.template)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        index = cmdline.split_subcommand(create_command, ("run", "create"))
        recorded = self._recorded_globals(create_command, index)
        run_argv = [*recorded, *new.argv[index - 1:]]
        env = dict(e.partition("=")[::2] for e in record.env)
        extra_env = [f"{name}={env[name]}" for name in new.env_names if name in env]
        restart = options.restart_policy or new.restart or "on-failure"
        burst = new.retries if options.restart_policy is None else ""
        stop_globals = recorded[:-1] if recorded[-1:] == ["container"] else recorded  # `container create`
        return _with(unit, run_argv=run_argv, extra_env=extra_env, restart=restart, global_args=stop_globals,
                     start_limit_burst=burst)

    def _pod(self, pod: "PodRecord", options: UnitOptions, exe: list[str], version: str) -> dict[str, str]:
        from pyctr.pod.members import members

        config = self._services.config
        service = self._service(options.pod_prefix, pod.name if options.use_name else pod.id, options)
        store = self._services.containers
        records = [r for r in members(store.all(), pod.id) if r.id != pod.infra_id]
        if not pod.infra_id:
            raise InvalidArgument(f'generating systemd unit files: Pod "{pod.name}" has no infra container')
        infra = store.load(pod.infra_id)
        pod_id_file = f"%t/{service}.pod-id"
        units = [self._container(r, options, exe, service, pod_id_file if options.new else None) for r in records]
        stop_timeout = options.stop_timeout if options.stop_timeout is not None else 10
        unit = PodUnit(
            service=service, executable=exe, global_args=[*map(cmdline.escape, self._store_args())],
            infra_name=infra.name if infra else pod.infra_id, runroot=str(config.runroot),
            pid_file=str(store.state_dir(pod.infra_id) / "shim.pid"), stop_timeout=stop_timeout,
            restart=options.restart_policy or "on-failure", members=sorted(u.service for u in units))
        if options.new:
            create_command = list(pod.spec.get("create_command") or [])
            pid_file = f"%t/{service}.pid"
            try:
                argv = cmdline.pod_command(create_command, pid_file=pid_file, pod_id_file=pod_id_file)
            except ValueError as exc:
                raise InvalidArgument(str(exc)) from None
            index = create_command.index("pod", 1)
            recorded = self._recorded_globals(create_command, index)
            unit = _with(unit, create_argv=[*recorded, *argv[index - 1:]], pid_file=pid_file, pod_id_file=pod_id_file,
                         global_args=recorded)
        out = {service: pod_unit(unit, options, version)}
        for member in sorted(units, key=lambda u: u.service):
            out[member.service] = container_unit(member, options, version)
        return out


def _with(obj, **changes):
    from dataclasses import replace

    return replace(obj, **changes)


def cmdline_escape(words: list[str]) -> list[str]:
    return [cmdline.escape(word) for word in words]
