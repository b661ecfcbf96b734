"""create, run and start: the container flags podman users know, and the attached session."""


import os
import sys
from typing import List, Optional

import typer

from pyctr.cli.common import authfile_option, engine, tls_verify_option
from pyctr.cli.output import print_reports
from pyctr.cli.parsing import PyctrCommand


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
    storage.devices = [flags.device(d) for d in params["device"]]
    security = spec.security
    security.privileged, security.cap_add, security.cap_drop = params["privileged"], list(params["cap_add"]), list(params["cap_drop"])
    security.no_new_privileges, security.seccomp = flags.security_options(list(params["security_opt"]))
    security.groups = flags.group_ids(list(params["group_add"]))
    resources = spec.resources
    resources.memory, resources.cpus, resources.ulimits = flags.size(params["memory"]), params["cpus"], list(params["ulimit"])
    resources.pids_limit = params["pids_limit"]
    network = spec.network
    network.mode, network.hostname = flags.network_mode(params["network"]), params["hostname"]
    network.ports = [flags.publish(p) for p in params["publish"]]
    network.add_hosts = list(params["add_host"])
    network.dns, network.dns_search, network.dns_options = list(params["dns"]), list(params["dns_search"]), list(params["dns_option"])
    lifecycle = spec.lifecycle
    lifecycle.name, lifecycle.remove, lifecycle.restart = params["name"], params["rm"], flags.restart_policy(params["restart"])
    lifecycle.labels = flags.key_values(list(params["label"]), "label")
    lifecycle.annotations = flags.key_values(list(params["annotation"]), "annotation")
    lifecycle.log_max_size = flags.log_max_size(list(params["log_opt"]))
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
    for error in result.errors:
        sys.stderr.write(f"Error: {error}\n")
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
    detach_keys: str = typer.Option("ctrl-p,ctrl-q", "--detach-keys", metavar="KEYS", help="Keys that detach (only from a terminal, with -t; \"\" turns detaching off)."),
) -> None:
    """Start one or more created or stopped containers."""
    from pyctr.errors import InvalidArgument

    eng = engine(ctx)
    if attach or interactive:
        if len(containers) != 1:
            raise InvalidArgument("you cannot start and attach multiple containers at once")
        from pyctr.cli.attached import proxy_session, user_terminal_size

        # The terminal's size from the start (used only by a -t container): a resize comes too late for its first command.
        session = eng.containers.attach(containers[0], start=True, console_size=user_terminal_size())
        code = proxy_session(eng, session, sig_proxy=sig_proxy, detach_keys=detach_keys, stdin=interactive or session.stdin)
        raise typer.Exit(code if code is not None else 0)
    print_reports(eng.containers.start(containers))


# Flags that only `run` has (create drops them from the command it builds: see CreateCommand).
RUN_ONLY = ("detach", "sig_proxy", "detach_keys", "rmi")
CREATE_HELP = "Create a container without starting it; prints its ID."


def run(
    ctx: typer.Context,
    image: str = typer.Argument(..., metavar="IMAGE", help="Image to run."),
    command: Optional[List[str]] = typer.Argument(None, metavar="COMMAND", help="Command and arguments (default: the image's)."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background and print the container ID."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Keep stdin open."),
    tty: bool = typer.Option(False, "--tty", "-t", help="Allocate a pseudo-terminal."),
    rm: bool = typer.Option(False, "--rm", help="Remove the container when it exits."),
    name: Optional[str] = typer.Option(None, "--name", metavar="NAME", help="Name of the container."),
    env: List[str] = typer.Option([], "--env", "-e", metavar="KEY=VALUE", help="Set an environment variable (KEY alone copies pyctr's)."),
    env_file: List[str] = typer.Option([], "--env-file", metavar="PATH", help="Read environment variables from a file."),
    workdir: Optional[str] = typer.Option(None, "--workdir", "-w", metavar="DIR", help="Working directory inside the container."),
    user: Optional[str] = typer.Option(None, "--user", "-u", metavar="USER[:GROUP]", help="User (name or UID) and group to run as."),
    entrypoint: Optional[str] = typer.Option(None, "--entrypoint", metavar="CMD", help="Override the image's entrypoint (a JSON list for several words)."),
    hostname: Optional[str] = typer.Option(None, "--hostname", "-h", metavar="NAME", help="Container host name (default: the short ID)."),
    volume: List[str] = typer.Option([], "--volume", "-v", metavar="SRC:DEST[:OPTS]", help="Bind mount a host path or a named volume."),
    mount: List[str] = typer.Option([], "--mount", metavar="type=TYPE,...", help="Attach a bind, volume or tmpfs mount."),
    tmpfs: List[str] = typer.Option([], "--tmpfs", metavar="DEST[:OPTS]", help="Mount a tmpfs."),
    read_only: bool = typer.Option(False, "--read-only", help="Mount the root filesystem read-only."),
    cap_add: List[str] = typer.Option([], "--cap-add", metavar="CAP", help="Add a capability."),
    cap_drop: List[str] = typer.Option([], "--cap-drop", metavar="CAP", help="Drop a capability."),
    privileged: bool = typer.Option(False, "--privileged", help="All capabilities, no seccomp, no masked paths."),
    security_opt: List[str] = typer.Option([], "--security-opt", metavar="OPT", help="no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json."),
    ulimit: List[str] = typer.Option([], "--ulimit", metavar="NAME=SOFT[:HARD]", help="Resource limit, e.g. nofile=1024:2048."),
    init: bool = typer.Option(False, "--init", help="Run an init (tini) as PID 1 that reaps zombies and forwards signals."),
    stop_signal: Optional[str] = typer.Option(None, "--stop-signal", metavar="SIGNAL", help="Signal that stops the container (default SIGTERM)."),
    stop_timeout: Optional[int] = typer.Option(None, "--stop-timeout", metavar="SECONDS", help="Seconds to wait before killing on stop (default 10)."),
    cidfile: Optional[str] = typer.Option(None, "--cidfile", metavar="PATH", help="Write the container ID to this file."),
    replace: bool = typer.Option(False, "--replace", help="Replace a container with the same name."),
    label: List[str] = typer.Option([], "--label", "-l", metavar="KEY=VALUE", help="Add a label."),
    annotation: List[str] = typer.Option([], "--annotation", metavar="KEY=VALUE", help="Add an OCI annotation."),
    log_opt: List[str] = typer.Option([], "--log-opt", metavar="NAME=VALUE", help="Logging option: max-size=SIZE starts the log again empty once it would grow past SIZE."),
    pull: str = typer.Option("missing", "--pull", metavar="POLICY", help="Pull policy: always, missing, never or newer."),
    network: Optional[str] = typer.Option(None, "--network", "--net", metavar="MODE", help="none, host, private (loopback only) or slirp4netns (default rootless, and with -p)."),
    publish: List[str] = typer.Option([], "--publish", "-p", metavar="[IP:]HOSTPORT:PORT[/PROTO]", help="Publish a container port on the host."),
    add_host: List[str] = typer.Option([], "--add-host", metavar="HOST:IP", help="Add a line to /etc/hosts."),
    shm_size: Optional[str] = typer.Option(None, "--shm-size", metavar="SIZE", help="Size of /dev/shm (default 64m)."),
    memory: Optional[str] = typer.Option(None, "--memory", "-m", metavar="SIZE", help="Memory limit, e.g. 256m (not applied rootless)."),
    cpus: Optional[float] = typer.Option(None, "--cpus", metavar="N", help="CPU limit, e.g. 1.5 (not applied rootless)."),
    pids_limit: Optional[int] = typer.Option(None, "--pids-limit", metavar="N", help="Tune the container's pids limit; -1 for unlimited (default 2048, or pids_limit in containers.conf; not applied rootless)."),
    device: List[str] = typer.Option([], "--device", metavar="HOST[:CONTAINER][:PERMS]", help="Add a host device; permissions combine r, w and m (default rwm)."),
    dns: List[str] = typer.Option([], "--dns", metavar="IP", help="DNS server for the container."),
    dns_search: List[str] = typer.Option([], "--dns-search", metavar="DOMAIN", help="DNS search domain."),
    dns_option: List[str] = typer.Option([], "--dns-option", metavar="OPT", help="DNS resolver option."),
    group_add: List[str] = typer.Option([], "--group-add", metavar="GID", help="Add a supplementary group."),
    restart: str = typer.Option("no", "--restart", metavar="POLICY", help="no, on-failure[:MAX], always or unless-stopped."),
    platform: Optional[str] = typer.Option(None, "--platform", metavar="OS/ARCH", help="Platform to pull."),
    tls_verify: Optional[bool] = tls_verify_option(),
    authfile: Optional[str] = authfile_option(),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not show pull progress."),
    sig_proxy: bool = typer.Option(True, "--sig-proxy", help="Forward signals received by pyctr to the container (default true)."),
    detach_keys: str = typer.Option("ctrl-p,ctrl-q", "--detach-keys", metavar="KEYS", help="Keys that detach from the container (only from a terminal, with -t; \"\" turns detaching off)."),
    rmi: bool = typer.Option(False, "--rmi", help="Remove the image after the container exits (with --rm)."),
) -> None:
    """Run a command in a new container."""
    if ctx.command.name == "create":
        _create(locals())  # every parameter by name, ctx too
    else:
        _run(locals())


class CreateCommand(PyctrCommand):
    """`create`: run's declaration, less the flags that only make sense for a container that runs now.
    (One declaration for both, so a flag is written once; its value reaches run() as None.)"""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.params = [param for param in self.params if param.name not in RUN_ONLY]


def register(app: typer.Typer, container_app: typer.Typer | None = None) -> None:
    # -h is --hostname, as in podman; options end at the image: the rest is the container's command.
    settings = {"help_option_names": ["--help"], "allow_interspersed_args": False}
    for target in filter(None, (app, container_app)):
        target.command("run", context_settings=settings)(run)
        target.command("create", cls=CreateCommand, help=CREATE_HELP, context_settings=settings)(run)
        target.command("start")(start)
