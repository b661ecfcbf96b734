"""create, run and start: the container flags podman users know, and the attached session."""


import inspect
import os
import sys
from typing import List, Optional

import typer

from pyctr.cli.common import authfile_option, engine, parse_bool, tls_verify_option
from pyctr.errors import PyctrError

RUN_ONLY = ("detach", "sig_proxy", "detach_keys", "rmi")


def _run_signature(
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
    pull: str = typer.Option("missing", "--pull", metavar="POLICY", help="Pull policy: always, missing, never or newer."),
    network: Optional[str] = typer.Option(None, "--network", "--net", metavar="MODE", help="none, host, private (loopback only) or slirp4netns (default rootless, and with -p)."),
    publish: List[str] = typer.Option([], "--publish", "-p", metavar="[IP:]HOSTPORT:PORT[/PROTO]", help="Publish a container port on the host."),
    add_host: List[str] = typer.Option([], "--add-host", metavar="HOST:IP", help="Add a line to /etc/hosts."),
    shm_size: Optional[str] = typer.Option(None, "--shm-size", metavar="SIZE", help="Size of /dev/shm (default 64m)."),
    memory: Optional[str] = typer.Option(None, "--memory", "-m", metavar="SIZE", help="Memory limit, e.g. 256m (not applied rootless)."),
    cpus: Optional[float] = typer.Option(None, "--cpus", metavar="N", help="CPU limit, e.g. 1.5 (not applied rootless)."),
    dns: List[str] = typer.Option([], "--dns", metavar="IP", help="DNS server for the container."),
    dns_search: List[str] = typer.Option([], "--dns-search", metavar="DOMAIN", help="DNS search domain."),
    dns_option: List[str] = typer.Option([], "--dns-option", metavar="OPT", help="DNS resolver option."),
    group_add: List[str] = typer.Option([], "--group-add", metavar="GID", help="Add a supplementary group."),
    restart: str = typer.Option("no", "--restart", metavar="POLICY", help="no, on-failure[:MAX], always or unless-stopped."),
    platform: Optional[str] = typer.Option(None, "--platform", metavar="OS/ARCH", help="Platform to pull."),
    tls_verify: Optional[str] = tls_verify_option(),
    authfile: Optional[str] = authfile_option(),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not show pull progress."),
    sig_proxy: bool = typer.Option(True, "--sig-proxy", help="Forward signals received by pyctr to the container (default true)."),
    detach_keys: str = typer.Option("ctrl-p,ctrl-q", "--detach-keys", metavar="KEYS", help="Keys that detach from the container."),
    rmi: bool = typer.Option(False, "--rmi", help="Remove the image after the container exits (with --rm)."),
):
    """(signature only: see run and create)"""


def _options(params: dict):
    from pyctr.container.create import CreateOptions

    return CreateOptions(
        image=params["image"],
        command=list(params["command"] or []),
        name=params["name"],
        entrypoint=params["entrypoint"],
        env=list(params["env"]),
        env_files=list(params["env_file"]),
        workdir=params["workdir"],
        user=params["user"],
        hostname=params["hostname"],
        tty=params["tty"],
        stdin=params["interactive"],
        remove=params["rm"],
        labels=list(params["label"]),
        annotations=list(params["annotation"]),
        volumes=list(params["volume"]),
        mounts=list(params["mount"]),
        tmpfs=list(params["tmpfs"]),
        read_only=params["read_only"],
        cap_add=list(params["cap_add"]),
        cap_drop=list(params["cap_drop"]),
        privileged=params["privileged"],
        security_opt=list(params["security_opt"]),
        ulimits=list(params["ulimit"]),
        init=params["init"],
        stop_signal=params["stop_signal"],
        stop_timeout=params["stop_timeout"],
        network=params["network"],
        add_hosts=list(params["add_host"]),
        publish=list(params["publish"]),
        pull=params["pull"],
        platform=params["platform"],
        tls_verify=parse_bool(params["tls_verify"], "--tls-verify"),
        authfile=params["authfile"],
        shm_size=params["shm_size"],
        memory=params["memory"],
        cpus=params["cpus"],
        dns=list(params["dns"]),
        dns_search=list(params["dns_search"]),
        dns_options=list(params["dns_option"]),
        group_add=list(params["group_add"]),
        restart=params["restart"],
        create_command=["pyctr", *sys.argv[1:]],
    )


def _create(params: dict):
    from pyctr.cli.progress import for_stream

    eng = engine(params["ctx"])
    if params["replace"] and params["name"]:
        _remove_existing(eng, params["name"])
    if eng.config.rootless and (params["memory"] or params["cpus"]):
        # As podman on cgroup v1: rootless containers get no cgroup, so limits cannot hold.
        sys.stderr.write("WARNING: resource limits (--memory, --cpus) are not applied to rootless containers on this host (cgroup v1)\n")
    record = eng.create(_options(params), progress=for_stream(params["quiet"]))
    if params["cidfile"]:
        _write_cidfile(params["cidfile"], record.id)
    return eng, record


def _remove_existing(eng, name: str) -> None:
    from pyctr.errors import ContainerNotFound

    try:
        old = eng.containers.resolve(name)
    except ContainerNotFound:
        return
    eng.tasks.remove(old, force=True)


def _write_cidfile(path: str, container_id: str) -> None:
    from pyctr.errors import InvalidArgument

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise InvalidArgument(f"container id file {path} exists: remove it first") from None
    with os.fdopen(fd, "w") as f:
        f.write(container_id)


def create(**params) -> None:
    """Create a container without starting it; prints its ID."""
    _, record = _create(params)
    typer.echo(record.id)


def run(**params) -> None:
    """Run a command in a new container."""
    from pyctr.runtime.shimlauncher import take_prestarted

    # Started by main() before the options were even parsed: it boots while we work.
    shim = take_prestarted()
    try:
        eng, record = _create(params)
    except BaseException:
        shim.abandon()
        raise
    if params["detach"]:
        try:
            eng.tasks.start(record, shim=shim)
        except PyctrError:
            _cleanup_failed(eng, record)
            raise
        typer.echo(record.id)
        return
    from pyctr.cli.attached import run_attached

    try:
        code = run_attached(eng, record, sig_proxy=params["sig_proxy"], detach_keys=params["detach_keys"], start=True, shim=shim)
    except PyctrError:
        _cleanup_failed(eng, record)
        raise
    if params["rm"] and code is not None:
        # As podman: when `run --rm` returns, the container is gone (its name is free again).
        try:
            eng.tasks.cleanup(record)
        except PyctrError as exc:
            sys.stderr.write(f"Error: {exc}\n")
    if params["rmi"] and params["rm"] and code is not None:
        try:
            eng.images.remove(record.image_id)
        except PyctrError as exc:
            sys.stderr.write(f"Error: {exc}\n")
    raise typer.Exit(code if code is not None else 0)


def _cleanup_failed(eng, record) -> None:
    """A container that could not start is still there (as podman keeps it), unless --rm."""
    if record.remove:
        try:
            eng.tasks.remove(record, force=True)
        except PyctrError:
            pass


def _with_signature(func, drop: tuple[str, ...] = ()):
    sig = inspect.signature(_run_signature)
    func.__signature__ = sig.replace(parameters=[p for name, p in sig.parameters.items() if name not in drop])
    # typer reads the parameter types from __annotations__.
    func.__annotations__ = {k: v for k, v in _run_signature.__annotations__.items() if k not in drop}
    return func


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
        from pyctr.cli.attached import run_attached

        record = eng.containers.resolve(containers[0])
        code = run_attached(eng, record, sig_proxy=sig_proxy, detach_keys=detach_keys, start=True, stdin=interactive or record.stdin)
        raise typer.Exit(code if code is not None else 0)
    failed = None
    for name in containers:
        try:
            eng.tasks.start(eng.containers.resolve(name))
            typer.echo(name)
        except PyctrError as exc:
            sys.stderr.write(f"Error: {exc}\n")
            failed = exc
    if failed:
        raise typer.Exit(failed.exit_code)


def register(app: typer.Typer, container_app: typer.Typer | None = None) -> None:
    # -h is --hostname, as in podman; options end at the image, the rest is the container's command.
    settings = {"help_option_names": ["--help"], "allow_interspersed_args": False}
    run_cmd = _with_signature(run)
    create_cmd = _with_signature(create, drop=RUN_ONLY)
    for target in filter(None, (app, container_app)):
        target.command("run", context_settings=settings)(run_cmd)
        target.command("create", context_settings=settings)(create_cmd)
        target.command("start")(start)
