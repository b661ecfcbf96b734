"""Container lifecycle commands: stop, kill, rm, wait, pause, unpause, restart, exec, attach."""


from typing import List, Optional

import typer

from pyctr.cli.common import engine
from pyctr.cli.output import print_reports


def _latest():
    return typer.Option(False, "--latest", "-l", help="Act on the latest container created.")


def _cidfile():
    return typer.Option([], "--cidfile", metavar="FILE", help="Read the container ID from FILE (written by --cidfile of run or create).")


def _filter():
    return typer.Option([], "--filter", "-f", metavar="KEY=VALUE", help="Act on the containers that match (ps's filters).")


def stop(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to stop."),
    time_: Optional[int] = typer.Option(None, "--time", "-t", metavar="SECONDS", help="Seconds to wait before killing (default: the container's stop timeout)."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Stop all running containers."),
    ignore: bool = typer.Option(False, "--ignore", "-i", help="Ignore containers that do not exist."),
    latest: bool = _latest(),
    cidfile: List[str] = _cidfile(),
    filters: List[str] = _filter(),
) -> None:
    """Stop containers: the stop signal, then SIGKILL after the timeout."""
    reports = engine(ctx).containers.stop(containers, all_containers=all_containers, ignore=ignore, timeout=time_,
                                          latest=latest, cidfiles=cidfile, filters=filters)
    print_reports(reports)


def kill(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to signal."),
    signal: str = typer.Option("KILL", "--signal", "-s", metavar="SIGNAL", help="Signal to send (default KILL)."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Signal all running containers."),
    latest: bool = _latest(),
    cidfile: List[str] = _cidfile(),
) -> None:
    """Send a signal to containers' main process."""
    print_reports(engine(ctx).containers.kill(containers, signal=signal, all_containers=all_containers, latest=latest,
                                              cidfiles=cidfile))


def rm(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to remove."),
    force: bool = typer.Option(False, "--force", "-f", help="Stop running containers first."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Remove all containers."),
    ignore: bool = typer.Option(False, "--ignore", "-i", help="Ignore containers that do not exist."),
    volumes: bool = typer.Option(False, "--volumes", "-v", help="Also remove anonymous volumes."),
    time_: Optional[int] = typer.Option(None, "--time", "-t", metavar="SECONDS", help="Seconds to wait before killing (with --force)."),
    latest: bool = _latest(),
    cidfile: List[str] = _cidfile(),
    filters: List[str] = typer.Option([], "--filter", metavar="KEY=VALUE", help="Remove the containers that match (ps's filters)."),
    depend: bool = typer.Option(False, "--depend", help="Remove the containers that depend on each first (printed by ID)."),
) -> None:
    """Remove containers."""
    from pyctr.engine.reports import removal_exit_code

    reports = engine(ctx).containers.remove(containers, force=force, all_containers=all_containers, ignore=ignore,
                                            volumes=volumes, timeout=time_, latest=latest, cidfiles=cidfile,
                                            filters=filters, depend=depend)
    print_reports(reports, lambda r: r.id if r.name == r.id else r.name, exit_code=removal_exit_code(reports))


def wait(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to wait for."),
    condition: List[str] = typer.Option([], "--condition", metavar="STATE", help="Wait until the container is in STATE (default stopped): created, exited, healthy, initialized, paused, removing, running, stopped, stopping, unhealthy."),
    interval: str = typer.Option("250ms", "--interval", "-i", metavar="DURATION", help="How often to look at the state (a duration, e.g. 250ms, or milliseconds)."),
    latest: bool = _latest(),
) -> None:
    """Wait for containers to reach a state (by default to exit) and print their exit codes (-1 for other states)."""
    from pyctr.engine import selection

    seconds = selection.wait_interval(interval)
    reports = engine(ctx).containers.wait(containers, condition=list(condition) or "stopped", interval=seconds,
                                          latest=latest)
    print_reports(reports, lambda r: str(r.exit_code))


def pause(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to pause."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Pause all running containers."),
    latest: bool = _latest(),
    cidfile: List[str] = _cidfile(),
    filters: List[str] = _filter(),
) -> None:
    """Pause all processes in containers."""
    print_reports(engine(ctx).containers.pause(containers, all_containers=all_containers, latest=latest,
                                               cidfiles=cidfile, filters=filters))


def unpause(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to unpause."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Unpause all paused containers."),
    latest: bool = _latest(),
    cidfile: List[str] = _cidfile(),
    filters: List[str] = _filter(),
) -> None:
    """Resume paused containers."""
    print_reports(engine(ctx).containers.unpause(containers, all_containers=all_containers, latest=latest,
                                                 cidfiles=cidfile, filters=filters))


def restart(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to restart."),
    time_: Optional[int] = typer.Option(None, "--time", "-t", metavar="SECONDS", help="Seconds to wait before killing."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Restart all containers."),
    running: bool = typer.Option(False, "--running", help="With --all or --filter: only the running containers."),
    latest: bool = _latest(),
    cidfile: List[str] = _cidfile(),
    filters: List[str] = _filter(),
) -> None:
    """Stop and start containers again."""
    print_reports(engine(ctx).containers.restart(containers, timeout=time_, all_containers=all_containers,
                                                 running=running, latest=latest, cidfiles=cidfile, filters=filters))


def exec_(
    ctx: typer.Context,
    container: Optional[str] = typer.Argument(None, metavar="CONTAINER", help="Running container (none with --latest: then the command starts here)."),
    command: List[str] = typer.Argument(None, metavar="COMMAND", help="Command and arguments."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Keep stdin open."),
    tty: bool = typer.Option(False, "--tty", "-t", help="Allocate a pseudo-terminal."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Run the exec session in the background; print its ID."),
    detach_keys: str = typer.Option("ctrl-p,ctrl-q", "--detach-keys", metavar="KEYS", help="Keys that detach (only from a terminal, with -t; \"\" turns detaching off)."),
    env: List[str] = typer.Option([], "--env", "-e", metavar="KEY[=VALUE]", help="Set an environment variable (KEY alone: the caller's value)."),
    env_file: List[str] = typer.Option([], "--env-file", metavar="FILE", help="Read environment variables from a file."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Act on the container created last."),
    preserve_fds: int = typer.Option(0, "--preserve-fds", metavar="N", min=0, help="Pass N more file descriptors (3 and up) to the process."),
    privileged: bool = typer.Option(False, "--privileged", help="Give the process every capability."),
    workdir: Optional[str] = typer.Option(None, "--workdir", "-w", metavar="DIR", help="Working directory."),
    user: Optional[str] = typer.Option(None, "--user", "-u", metavar="USER[:GROUP]", help="User to run as."),
) -> None:
    """Run a command in a running container (an exec session: it outlives this command)."""
    from pyctr.cli import terminal
    from pyctr.cli.attached import proxy_session
    from pyctr.container import flags
    from pyctr.runtime.shimlauncher import take_prestarted

    command = list(command or [])
    if latest and container is not None:  # `exec -l CMD ...`: no container name
        command.insert(0, container)
        container = None
    terminal.parse_detach_keys(detach_keys)  # a bad value fails before anything runs
    environment = flags.environment([line for path in env_file for line in flags.env_file_lines(path)])
    environment.update(flags.environment(list(env)))
    eng = engine(ctx)
    code = eng.containers.exec(
        container, command, interactive=interactive, tty=tty, detach=detach, env=environment, workdir=workdir,
        user=user, privileged=privileged, preserve_fds=preserve_fds, latest=latest,
        shim=None if preserve_fds else take_prestarted(),  # its fds must not pass for ours
        on_started=lambda session_id: typer.echo(session_id) if detach else None,
        attach=lambda session: proxy_session(eng, session, sig_proxy=True, detach_keys=detach_keys))
    raise typer.Exit(code if code is not None else 0)


def attach(
    ctx: typer.Context,
    container: Optional[str] = typer.Argument(None, metavar="CONTAINER", help="Running container."),
    no_stdin: bool = typer.Option(False, "--no-stdin", help="Do not attach stdin."),
    sig_proxy: bool = typer.Option(True, "--sig-proxy", help="Forward signals to the container."),
    detach_keys: str = typer.Option("ctrl-p,ctrl-q", "--detach-keys", metavar="KEYS", help="Keys that detach (only from a terminal, with -t; \"\" turns detaching off)."),
    latest: bool = _latest(),
) -> None:
    """Attach to a running container's stdio."""
    from pyctr.cli.attached import proxy_session
    from pyctr.errors import InvalidArgument

    if latest and container:
        raise InvalidArgument("--latest and containers cannot be used together")
    if not latest and not container:
        raise InvalidArgument('"pyctr attach" requires a name, id, or the "--latest" flag')
    eng = engine(ctx)
    session = eng.containers.attach(eng.containers.latest().id if latest else container)
    code = proxy_session(engine(ctx), session, sig_proxy=sig_proxy, detach_keys=detach_keys,
                         stdin=session.stdin and not no_stdin)
    raise typer.Exit(code if code is not None else 0)
