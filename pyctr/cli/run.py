"""create, run and start: the container flags podman users know, and the attached session."""


import os
import sys
from typing import List, Optional

import typer

from pyctr.cli import runflags as flag
from pyctr.cli.common import engine
from pyctr.cli.output import print_reports


def _spec(params: dict):
    """The container spec from run/create's flags (one line per flag)."""
    from pyctr.container import flags, mountopts
    from pyctr.container.spec import ContainerSpec, ImageSpec

    spec = ContainerSpec(ImageSpec(params["image"], pull=params["pull"], platform=params["platform"],
                                   tls_verify=params["tls_verify"], authfile=params["authfile"]))
    process = spec.process
    process.command = list(params["command"] or [])
    process.entrypoint = flags.entrypoint(params["entrypoint"])
    env_lines = [line for path in params["env_file"] for line in flags.env_file_lines(path)]
    process.env = flags.environment(env_lines + list(params["env"]))
    process.workdir, process.user = params["workdir"], params["user"]
    process.tty, process.stdin, process.init = params["tty"], params["interactive"], params["init"]
    process.stop_signal, process.stop_timeout = params["stop_signal"], params["stop_timeout"]
    storage = spec.storage
    storage.mounts = ([mountopts.parse_volume(v) for v in params["volume"]] + [mountopts.parse_mount(m) for m in params["mount"]]
                      + [mountopts.parse_tmpfs(t) for t in params["tmpfs"]])
    storage.read_only, storage.shm_size = params["read_only"], flags.size(params["shm_size"])
    security = spec.security
    security.privileged, security.cap_add, security.cap_drop = params["privileged"], list(params["cap_add"]), list(params["cap_drop"])
    security.no_new_privileges, security.seccomp = flags.security_options(list(params["security_opt"]))
    security.groups = flags.group_ids(list(params["group_add"]))
    resources = spec.resources
    resources.memory, resources.cpus, resources.ulimits = flags.size(params["memory"]), params["cpus"], list(params["ulimit"])
    network = spec.network
    network.mode, network.hostname = flags.network_mode(params["network"]), params["hostname"]
    network.ports = [flags.publish(p) for p in params["publish"]]
    network.add_hosts = list(params["add_host"])
    network.dns, network.dns_search, network.dns_options = list(params["dns"]), list(params["dns_search"]), list(params["dns_option"])
    lifecycle = spec.lifecycle
    lifecycle.name, lifecycle.remove, lifecycle.restart = params["name"], params["rm"], flags.restart_policy(params["restart"])
    lifecycle.labels = flags.key_values(list(params["label"]), "label")
    lifecycle.annotations = flags.key_values(list(params["annotation"]), "annotation")
    lifecycle.create_command = ["pyctr", *sys.argv[1:]]
    return spec


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        sys.stderr.write(f"WARNING: {warning}\n")


def _write_cidfile(path: str, container_id: str) -> None:
    from pyctr.errors import InvalidArgument

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise InvalidArgument(f"container id file {path} exists: remove it first") from None
    with os.fdopen(fd, "w") as f:
        f.write(container_id)


def _create(params: dict) -> None:
    from pyctr.cli.progress import for_stream

    eng, spec = engine(params["ctx"]), _spec(params)
    container = eng.containers.create(spec, replace=params["replace"], progress=for_stream(params["quiet"]))
    _warn(eng.containers.warnings(spec))
    if params["cidfile"]:
        _write_cidfile(params["cidfile"], container.id)
    typer.echo(container.id)


def _run(params: dict) -> None:
    from pyctr.cli.attached import proxy_session, user_terminal_size
    from pyctr.cli.progress import for_stream
    from pyctr.runtime.shimlauncher import take_prestarted

    # Usually started by main() before the options were parsed (see runs_a_container): it boots while we work.
    shim = take_prestarted()
    try:
        eng, spec = engine(params["ctx"]), _spec(params)
    except BaseException:
        shim.abandon()
        raise

    def attach(session) -> int | None:
        return proxy_session(eng, session, sig_proxy=params["sig_proxy"], detach_keys=params["detach_keys"])

    detach = params["detach"]
    result = eng.containers.run(
        spec, replace=params["replace"], remove_image=params["rmi"], progress=for_stream(params["quiet"]), shim=shim,
        attach=None if detach else attach, console_size=user_terminal_size() if spec.process.tty and not detach else None,
        on_created=lambda container: _write_cidfile(params["cidfile"], container.id) if params["cidfile"] else None,
    )
    _warn(result.warnings)
    if detach:
        typer.echo(result.container.id)
        return
    raise typer.Exit(result.exit_code if result.exit_code is not None else 0)


def start(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(..., metavar="CONTAINER", help="Containers to start."),
    attach: bool = typer.Option(False, "--attach", "-a", help="Attach to the container's output (one container)."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Attach stdin too."),
    sig_proxy: bool = typer.Option(True, "--sig-proxy", help="Forward signals to the container when attached."),
    detach_keys: str = typer.Option("ctrl-p,ctrl-q", "--detach-keys", metavar="KEYS", help="Keys that detach."),
) -> None:
    """Start one or more created or stopped containers."""
    from pyctr.errors import InvalidArgument

    eng = engine(ctx)
    if attach or interactive:
        if len(containers) != 1:
            raise InvalidArgument("you cannot start and attach multiple containers at once")
        from pyctr.cli.attached import proxy_session

        session = eng.containers.attach(containers[0], start=True)
        code = proxy_session(eng, session, sig_proxy=sig_proxy, detach_keys=detach_keys, stdin=interactive or session.stdin)
        raise typer.Exit(code if code is not None else 0)
    print_reports(eng.containers.start(containers))


def run(
    ctx: typer.Context,
    image: str = flag.image,
    command: Optional[List[str]] = flag.command,
    detach: bool = flag.detach,
    interactive: bool = flag.interactive,
    tty: bool = flag.tty,
    rm: bool = flag.rm,
    name: Optional[str] = flag.name,
    env: List[str] = flag.env,
    env_file: List[str] = flag.env_file,
    workdir: Optional[str] = flag.workdir,
    user: Optional[str] = flag.user,
    entrypoint: Optional[str] = flag.entrypoint,
    hostname: Optional[str] = flag.hostname,
    volume: List[str] = flag.volume,
    mount: List[str] = flag.mount,
    tmpfs: List[str] = flag.tmpfs,
    read_only: bool = flag.read_only,
    cap_add: List[str] = flag.cap_add,
    cap_drop: List[str] = flag.cap_drop,
    privileged: bool = flag.privileged,
    security_opt: List[str] = flag.security_opt,
    ulimit: List[str] = flag.ulimit,
    init: bool = flag.init,
    stop_signal: Optional[str] = flag.stop_signal,
    stop_timeout: Optional[int] = flag.stop_timeout,
    cidfile: Optional[str] = flag.cidfile,
    replace: bool = flag.replace,
    label: List[str] = flag.label,
    annotation: List[str] = flag.annotation,
    pull: str = flag.pull,
    network: Optional[str] = flag.network,
    publish: List[str] = flag.publish,
    add_host: List[str] = flag.add_host,
    shm_size: Optional[str] = flag.shm_size,
    memory: Optional[str] = flag.memory,
    cpus: Optional[float] = flag.cpus,
    dns: List[str] = flag.dns,
    dns_search: List[str] = flag.dns_search,
    dns_option: List[str] = flag.dns_option,
    group_add: List[str] = flag.group_add,
    restart: str = flag.restart,
    platform: Optional[str] = flag.platform,
    tls_verify: Optional[bool] = flag.tls_verify,
    authfile: Optional[str] = flag.authfile,
    quiet: bool = flag.quiet,
    sig_proxy: bool = flag.sig_proxy,
    detach_keys: str = flag.detach_keys,
    rmi: bool = flag.rmi,
) -> None:
    """Run a command in a new container."""
    _run(locals())  # every parameter by name, ctx too


def create(
    ctx: typer.Context,
    image: str = flag.image,
    command: Optional[List[str]] = flag.command,
    interactive: bool = flag.interactive,
    tty: bool = flag.tty,
    rm: bool = flag.rm,
    name: Optional[str] = flag.name,
    env: List[str] = flag.env,
    env_file: List[str] = flag.env_file,
    workdir: Optional[str] = flag.workdir,
    user: Optional[str] = flag.user,
    entrypoint: Optional[str] = flag.entrypoint,
    hostname: Optional[str] = flag.hostname,
    volume: List[str] = flag.volume,
    mount: List[str] = flag.mount,
    tmpfs: List[str] = flag.tmpfs,
    read_only: bool = flag.read_only,
    cap_add: List[str] = flag.cap_add,
    cap_drop: List[str] = flag.cap_drop,
    privileged: bool = flag.privileged,
    security_opt: List[str] = flag.security_opt,
    ulimit: List[str] = flag.ulimit,
    init: bool = flag.init,
    stop_signal: Optional[str] = flag.stop_signal,
    stop_timeout: Optional[int] = flag.stop_timeout,
    cidfile: Optional[str] = flag.cidfile,
    replace: bool = flag.replace,
    label: List[str] = flag.label,
    annotation: List[str] = flag.annotation,
    pull: str = flag.pull,
    network: Optional[str] = flag.network,
    publish: List[str] = flag.publish,
    add_host: List[str] = flag.add_host,
    shm_size: Optional[str] = flag.shm_size,
    memory: Optional[str] = flag.memory,
    cpus: Optional[float] = flag.cpus,
    dns: List[str] = flag.dns,
    dns_search: List[str] = flag.dns_search,
    dns_option: List[str] = flag.dns_option,
    group_add: List[str] = flag.group_add,
    restart: str = flag.restart,
    platform: Optional[str] = flag.platform,
    tls_verify: Optional[bool] = flag.tls_verify,
    authfile: Optional[str] = flag.authfile,
    quiet: bool = flag.quiet,
) -> None:
    """Create a container without starting it; prints its ID."""
    _create(locals())  # every parameter by name, ctx too


def register(app: typer.Typer, container_app: typer.Typer | None = None) -> None:
    # -h is --hostname, as in podman; options end at the image: the rest is the container's command.
    settings = {"help_option_names": ["--help"], "allow_interspersed_args": False}
    for target in filter(None, (app, container_app)):
        target.command("run", context_settings=settings)(run)
        target.command("create", context_settings=settings)(create)
        target.command("start")(start)
