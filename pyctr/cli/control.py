"""Container lifecycle commands: stop, kill, rm, wait, pause, unpause, restart, exec, attach."""


from typing import List, Optional

import typer

from pyctr.cli.common import engine
from pyctr.cli.output import print_reports


def stop(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to stop."),
    time_: Optional[int] = typer.Option(None, "--time", "-t", metavar="SECONDS", help="Seconds to wait before killing (default: the container's stop timeout)."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Stop all running containers."),
    ignore: bool = typer.Option(False, "--ignore", "-i", help="Ignore containers that do not exist."),
) -> None:
    """Stop containers: the stop signal, then SIGKILL after the timeout."""
    reports = engine(ctx).containers.stop(containers, all_containers=all_containers, ignore=ignore, timeout=time_)
    print_reports(reports)


def kill(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to signal."),
    signal: str = typer.Option("KILL", "--signal", "-s", metavar="SIGNAL", help="Signal to send (default KILL)."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Signal all running containers."),
) -> None:
    """Send a signal to containers' main process."""
    print_reports(engine(ctx).containers.kill(containers, signal=signal, all_containers=all_containers))


def rm(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to remove."),
    force: bool = typer.Option(False, "--force", "-f", help="Stop running containers first."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Remove all containers."),
    ignore: bool = typer.Option(False, "--ignore", "-i", help="Ignore containers that do not exist."),
    volumes: bool = typer.Option(False, "--volumes", "-v", help="Also remove anonymous volumes."),
    time_: Optional[int] = typer.Option(None, "--time", "-t", metavar="SECONDS", help="Seconds to wait before killing (with --force)."),
) -> None:
    """Remove containers."""
    from pyctr.engine.reports import removal_exit_code

    reports = engine(ctx).containers.remove(containers, force=force, all_containers=all_containers, ignore=ignore,
                                            volumes=volumes, timeout=time_)
    print_reports(reports, lambda r: r.id if r.name == r.id else r.name, exit_code=removal_exit_code(reports))


def wait(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(..., metavar="CONTAINER", help="Containers to wait for."),
    condition: str = typer.Option("stopped", "--condition", metavar="STATE", help="Wait until stopped (exited); running is also accepted."),
) -> None:
    """Wait for containers to exit and print their exit codes."""
    print_reports(engine(ctx).containers.wait(containers, condition=condition), lambda r: str(r.exit_code))


def pause(ctx: typer.Context, containers: List[str] = typer.Argument(..., metavar="CONTAINER", help="Containers to pause.")) -> None:
    """Pause all processes in containers."""
    print_reports(engine(ctx).containers.pause(containers))


def unpause(ctx: typer.Context, containers: List[str] = typer.Argument(..., metavar="CONTAINER", help="Containers to unpause.")) -> None:
    """Resume paused containers."""
    print_reports(engine(ctx).containers.unpause(containers))


def restart(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(..., metavar="CONTAINER", help="Containers to restart."),
    time_: Optional[int] = typer.Option(None, "--time", "-t", metavar="SECONDS", help="Seconds to wait before killing."),
) -> None:
    """Stop and start containers again."""
    print_reports(engine(ctx).containers.restart(containers, timeout=time_))


def exec_(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER", help="Running container."),
    command: List[str] = typer.Argument(..., metavar="COMMAND", help="Command and arguments."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Keep stdin open."),
    tty: bool = typer.Option(False, "--tty", "-t", help="Allocate a pseudo-terminal."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Run the command in the background."),
    env: List[str] = typer.Option([], "--env", "-e", metavar="KEY=VALUE", help="Set an environment variable."),
    workdir: Optional[str] = typer.Option(None, "--workdir", "-w", metavar="DIR", help="Working directory."),
    user: Optional[str] = typer.Option(None, "--user", "-u", metavar="USER[:GROUP]", help="User to run as."),
) -> None:
    """Run a command in a running container."""
    from pyctr.container import flags

    code = engine(ctx).containers.exec(container, list(command), interactive=interactive, tty=tty, detach=detach,
                                       env=flags.environment(list(env)), workdir=workdir, user=user)
    raise typer.Exit(code)


def attach(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER", help="Running container."),
    no_stdin: bool = typer.Option(False, "--no-stdin", help="Do not attach stdin."),
    sig_proxy: bool = typer.Option(True, "--sig-proxy", help="Forward signals to the container."),
    detach_keys: str = typer.Option("ctrl-p,ctrl-q", "--detach-keys", metavar="KEYS", help="Keys that detach (only from a terminal, with -t; \"\" turns detaching off)."),
) -> None:
    """Attach to a running container's stdio."""
    from pyctr.cli.attached import proxy_session

    session = engine(ctx).containers.attach(container)
    code = proxy_session(engine(ctx), session, sig_proxy=sig_proxy, detach_keys=detach_keys,
                         stdin=session.stdin and not no_stdin)
    raise typer.Exit(code if code is not None else 0)
