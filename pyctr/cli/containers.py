"""Container commands: ps, logs, stop, kill, rm, wait, inspect, rename, pause, unpause, prune, top, exec, attach."""


import os
import subprocess
import sys
import time
from typing import Callable, List, Optional

import typer

from pyctr.cli import output
from pyctr.cli.common import engine
from pyctr.errors import ContainerNotFound, InvalidArgument, PyctrError

container_app = typer.Typer(help="Manage containers.", no_args_is_help=True)

PS_HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND", "CreatedHuman": "CREATED", "Status": "STATUS", "Ports": "PORTS"}


def _for_each(names: list[str], action: Callable[[str], None], *, ignore: bool = False) -> None:
    """Apply to every container, reporting each failure on its own line (podman's behaviour)."""
    failed: PyctrError | None = None
    for name in names:
        try:
            action(name)
        except ContainerNotFound as exc:
            if ignore:
                continue
            sys.stderr.write(f"Error: {exc}\n")
            failed = exc
        except PyctrError as exc:
            sys.stderr.write(f"Error: {exc}\n")
            failed = exc
    if failed:
        raise typer.Exit(failed.exit_code)


def _filter_match(row: dict, filters: list[str]) -> bool:
    for item in filters:
        key, _, value = item.partition("=")
        if key == "status" and row["State"] != value:
            return False
        if key == "name" and value not in row["Names"]:
            return False
        if key == "id" and not row["Id"].startswith(value):
            return False
        if key == "ancestor" and value not in (row["Image"], row["ImageID"], row["ImageID"][:12]):
            return False
        if key == "label":
            lkey, eq, lvalue = value.partition("=")
            if lkey not in row["Labels"] or (eq and row["Labels"][lkey] != lvalue):
                return False
        if key == "exited" and (row["State"] != "exited" or str(row["ExitCode"]) != value):
            return False
        if key not in ("status", "name", "id", "ancestor", "label", "exited"):
            raise InvalidArgument(f"invalid filter {item!r}: supported are status, name, id, ancestor, label, exited")
    return True


def ps(
    ctx: typer.Context,
    all_containers: bool = typer.Option(False, "--all", "-a", help="Show all containers (default: running only)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only container IDs."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate IDs and commands."),
    filters: List[str] = typer.Option([], "--filter", "-f", metavar="KEY=VALUE", help="Filter: status, name, id, ancestor, label, exited."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.Names}}'."),
    last: int = typer.Option(-1, "--last", "-n", metavar="N", help="Show the N most recently created containers."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Show only the latest container."),
    external: bool = typer.Option(False, "--external", help="Also containers not created by pyctr (none exist)."),
    noheading: bool = typer.Option(False, "--noheading", help="Do not print column headings."),
) -> None:
    """List containers."""
    from pyctr.container import views as containerinfo
    from pyctr.units import since

    store = engine(ctx).containers
    rows = [containerinfo.ps_row(store, r, no_trunc=no_trunc) for r in store.all()]
    for row in rows:
        row["CreatedHuman"] = since(row["Created"])
    if not all_containers and not filters:
        rows = [r for r in rows if r["State"] in ("running", "paused", "stopping")]
    rows = [r for r in rows if _filter_match(r, filters)]
    rows.sort(key=lambda r: r["Created"], reverse=True)
    if latest:
        last = 1
    if last >= 0:
        rows = rows[:last]
    if quiet:
        if rows:
            typer.echo("\n".join(r["ID"] for r in rows))
        return
    if fmt:
        if fmt.strip() == "json":
            output.print_json(rows)
        else:
            output.print_formatted(fmt, rows, headers=PS_HEADERS)
        return
    headers = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    table = [[r["ID"], r["Image"], r["Command"], r["CreatedHuman"], r["Status"], r["Ports"], r["Names"]] for r in rows]
    output.print_table(headers, table, heading=not noheading)


def logs(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER", help="Container whose output to show."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep following the output."),
    tail: int = typer.Option(-1, "--tail", metavar="N", help="Show only the last N lines."),
    since: Optional[str] = typer.Option(None, "--since", metavar="TIME", help="Only lines after TIME (RFC 3339, UNIX time, or a duration like 10m)."),
    until: Optional[str] = typer.Option(None, "--until", metavar="TIME", help="Only lines before TIME."),
    timestamps: bool = typer.Option(False, "--timestamps", "-t", help="Show timestamps."),
) -> None:
    """Show a container's output."""
    from pyctr.runtime import logs as logsmod

    eng = engine(ctx)
    record = eng.containers.resolve(container)
    path = str(eng.containers.log_path(record.id))
    since_ts = _parse_time(since) if since else None
    until_ts = _parse_time(until) if until else None
    tail_n = tail if tail >= 0 else None
    if follow:
        lines = logsmod.follow_log(
            path, is_finished=lambda: eng.containers.status(record.id).state not in ("running", "paused", "stopping", "created"),
            tail=tail_n, since=since_ts,
        )
    else:
        lines = logsmod.read_log(path, tail=tail_n, since=since_ts, until=until_ts)
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for line in lines:
        if until_ts and line.time > until_ts:
            break
        (err if line.stream == "stderr" else out).write(logsmod.format_line(line, timestamps))
        (err if line.stream == "stderr" else out).flush()


def _parse_time(text: str) -> float:
    """RFC 3339, UNIX seconds, or a Go-style duration back from now (10s, 5m, 1h30m)."""
    import re

    from pyctr.units import parse_time

    parsed = parse_time(text)
    if parsed is not None:
        return parsed
    try:
        return float(text)
    except ValueError:
        pass
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", text)
    if match and text:
        hours, minutes, seconds = match.groups()
        return time.time() - (int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0))
    raise InvalidArgument(f"invalid time {text!r}: expected RFC 3339, UNIX time or a duration like 10m")


def stop(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to stop."),
    time_: Optional[int] = typer.Option(None, "--time", "-t", metavar="SECONDS", help="Seconds to wait before killing (default: the container's stop timeout)."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Stop all running containers."),
    ignore: bool = typer.Option(False, "--ignore", "-i", help="Ignore containers that do not exist."),
) -> None:
    """Stop containers: the stop signal, then SIGKILL after the timeout."""
    eng = engine(ctx)
    names = _targets(eng, containers, all_containers, running_only=True)

    def action(name: str) -> None:
        eng.tasks.stop(eng.containers.resolve(name), timeout=time_)
        typer.echo(name)

    _for_each(names, action, ignore=ignore)


def _targets(eng, names: list[str] | None, all_containers: bool, *, running_only: bool = False) -> list[str]:
    if all_containers:
        records = eng.containers.all()
        if running_only:
            records = [r for r in records if eng.containers.status(r.id).state in ("running", "paused", "stopping")]
        return [r.id for r in records]
    if not names:
        raise InvalidArgument("you must provide at least one container name or ID")
    return list(names)


def kill(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to signal."),
    signal: str = typer.Option("KILL", "--signal", "-s", metavar="SIGNAL", help="Signal to send (default KILL)."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Signal all running containers."),
) -> None:
    """Send a signal to containers' main process."""
    from pyctr.signals import parse_signal

    parse_signal(signal)
    eng = engine(ctx)

    def action(name: str) -> None:
        eng.tasks.kill(eng.containers.resolve(name), signal)
        typer.echo(name)

    _for_each(_targets(eng, containers, all_containers, running_only=True), action)


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
    eng = engine(ctx)

    def action(name: str) -> None:
        record = eng.containers.resolve(name)
        eng.tasks.remove(record, force=force, timeout=time_ if time_ is not None else (0 if force else None))
        if volumes:
            for mount in record.mounts:
                vol = mount.get("volume_name")
                if mount.get("volume") and not vol:
                    _remove_anonymous_volume(eng, mount["source"])
        typer.echo(record.id if name == record.id else name)

    _for_each(_targets(eng, containers, all_containers), action, ignore=ignore)


def _remove_anonymous_volume(eng, source: str) -> None:
    for volume in eng.volumes.list():
        if volume.anonymous and volume.mountpoint == source:
            eng.volumes.remove(volume.name, users=[])


def wait(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(..., metavar="CONTAINER", help="Containers to wait for."),
    condition: str = typer.Option("stopped", "--condition", metavar="STATE", help="Wait until stopped (exited); running is also accepted."),
) -> None:
    """Wait for containers to exit and print their exit codes."""
    eng = engine(ctx)

    def action(name: str) -> None:
        record = eng.containers.resolve(name)
        if condition == "running":
            while eng.containers.status(record.id).state not in ("running", "exited"):
                time.sleep(0.05)
            typer.echo("-1")
            return
        status = eng.tasks.wait(record)
        typer.echo(str(status.exit_code if status else 0))

    _for_each(containers, action)


def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., metavar="NAME", help="Containers (or images) to inspect."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json (default), or a Go template such as '{{.State.Status}}'."),
    kind: str = typer.Option("all", "--type", metavar="TYPE", help="container, image or all."),
) -> None:
    """Show the configuration and state of containers (or images)."""
    from pyctr.container import views as containerinfo

    eng = engine(ctx)
    results, errors = [], []
    for name in names:
        try:
            if kind in ("all", "container"):
                try:
                    results.append(containerinfo.inspect(eng.containers, eng.containers.resolve(name)))
                    continue
                except ContainerNotFound:
                    if kind == "container":
                        raise
            results.append(eng.images.inspect(name))
        except ContainerNotFound as exc:
            errors.append(exc)
        except PyctrError as exc:
            errors.append(exc if kind != "all" else InvalidArgument(f'no such object: "{name}"'))
    output.print_inspect(fmt, results, errors)


def rename(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER", help="Container to rename."),
    new_name: str = typer.Argument(..., metavar="NAME", help="Its new name."),
) -> None:
    """Rename a container."""
    eng = engine(ctx)
    eng.containers.rename(eng.containers.resolve(container), new_name)


def pause(ctx: typer.Context, containers: List[str] = typer.Argument(..., metavar="CONTAINER", help="Containers to pause.")) -> None:
    """Pause all processes in containers."""
    eng = engine(ctx)

    def action(name: str) -> None:
        eng.tasks.pause(eng.containers.resolve(name))
        typer.echo(name)

    _for_each(containers, action)


def unpause(ctx: typer.Context, containers: List[str] = typer.Argument(..., metavar="CONTAINER", help="Containers to unpause.")) -> None:
    """Resume paused containers."""
    eng = engine(ctx)

    def action(name: str) -> None:
        eng.tasks.unpause(eng.containers.resolve(name))
        typer.echo(name)

    _for_each(containers, action)


def restart(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(..., metavar="CONTAINER", help="Containers to restart."),
    time_: Optional[int] = typer.Option(None, "--time", "-t", metavar="SECONDS", help="Seconds to wait before killing."),
) -> None:
    """Stop and start containers again."""
    eng = engine(ctx)

    def action(name: str) -> None:
        record = eng.containers.resolve(name)
        eng.tasks.stop(record, timeout=time_)
        eng.tasks.wait(record, timeout=30)
        eng.tasks.start(record)
        typer.echo(name)

    _for_each(containers, action)


def prune(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", "-f", help="Do not ask for confirmation."),
) -> None:
    """Remove all stopped containers."""
    eng = engine(ctx)
    for record in eng.containers.all():
        if eng.containers.status(record.id).state in ("exited", "created"):
            eng.tasks.remove(record)
            typer.echo(record.id)


def top(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER", help="Container whose processes to show."),
    ps_args: Optional[List[str]] = typer.Argument(None, metavar="PS_OPTIONS", help="Options for ps (default -ef)."),
) -> None:
    """Show the processes running in a container (host ps filtered to its PIDs)."""
    eng = engine(ctx)
    record = eng.containers.resolve(container)
    pids = set(eng.tasks.pids(record))
    args = list(ps_args or ["-ef"])
    result = subprocess.run(["ps", *args], capture_output=True, text=True, close_fds=True)
    lines = result.stdout.splitlines()
    if not lines:
        raise InvalidArgument(f"ps {' '.join(args)} failed: {result.stderr.strip()}")
    header = lines[0].split()
    pid_col = header.index("PID") if "PID" in header else 1
    typer.echo(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in pids:
            typer.echo(line)


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
    from pyctr.container.create import merge_env

    eng = engine(ctx)
    record = eng.containers.resolve(container)
    process_file = eng.tasks.exec_process(record, list(command), tty=tty, env=merge_env([], list(env)), workdir=workdir, user=user)
    argv = eng.tasks.runc.exec_argv(record.id, str(process_file), tty=tty, detach=detach)
    try:
        # Detached: the process must not hold our stdout (`$(pyctr exec -d ...)` would wait for it).
        stdio = subprocess.DEVNULL if detach else None
        result = subprocess.run(argv, stdin=None if (interactive or tty) and not detach else subprocess.DEVNULL,
                                stdout=stdio, stderr=stdio, close_fds=True)
    finally:
        try:
            os.unlink(process_file)
        except OSError:
            pass
    raise typer.Exit(result.returncode)


def attach(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER", help="Running container."),
    no_stdin: bool = typer.Option(False, "--no-stdin", help="Do not attach stdin."),
    sig_proxy: bool = typer.Option(True, "--sig-proxy", help="Forward signals to the container."),
    detach_keys: str = typer.Option("ctrl-p,ctrl-q", "--detach-keys", metavar="KEYS", help="Keys that detach."),
) -> None:
    """Attach to a running container's stdio."""
    from pyctr.cli.attached import run_attached

    eng = engine(ctx)
    record = eng.containers.resolve(container)
    code = run_attached(eng, record, sig_proxy=sig_proxy, detach_keys=detach_keys, start=False, stdin=record.stdin and not no_stdin)
    raise typer.Exit(code if code is not None else 0)


def cp(
    ctx: typer.Context,
    src: str = typer.Argument(..., metavar="SRC", help="CONTAINER:PATH or a host path."),
    dest: str = typer.Argument(..., metavar="DEST", help="CONTAINER:PATH or a host path."),
) -> None:
    """Copy files between a container and the host."""
    from pyctr.container import copy

    eng = engine(ctx)
    src_ctr, src_path = _split_container_path(src)
    dest_ctr, dest_path = _split_container_path(dest)
    if bool(src_ctr) == bool(dest_ctr):
        raise InvalidArgument("copying between containers or between host paths is not supported: one side must be CONTAINER:PATH")
    record = eng.containers.resolve(src_ctr or dest_ctr)
    with eng.tasks.rootfs(record) as rootfs:
        if src_ctr:
            copy.copy_out(rootfs, src_path, dest_path)
        else:
            copy.copy_in(rootfs, src_path, dest_path)


def _split_container_path(text: str) -> tuple[str, str]:
    """`name:/path` -> ("name", "/path"); host paths (absolute, ./, or no colon) -> ("", text)."""
    if text.startswith(("/", ".")) or ":" not in text:
        return "", text
    name, _, path = text.partition(":")
    return name, path if path.startswith("/") else "/" + path


def export(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER", help="Container to export."),
    output_file: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write to a file instead of stdout."),
) -> None:
    """Export a container's filesystem as a tar archive."""
    from pyctr.container import copy

    if output_file is None and sys.stdout.isatty():
        raise InvalidArgument("refusing to export to terminal. Use -o flag or redirect")
    eng = engine(ctx)
    record = eng.containers.resolve(container)
    with eng.tasks.rootfs(record) as rootfs:
        if output_file:
            with open(output_file, "wb") as out:
                copy.export(rootfs, out)
        else:
            copy.export(rootfs, sys.stdout.buffer)
            sys.stdout.buffer.flush()


def register(app: typer.Typer) -> typer.Typer:
    common = [("ps", ps), ("logs", logs), ("stop", stop), ("kill", kill), ("rm", rm), ("wait", wait),
              ("rename", rename), ("pause", pause), ("unpause", unpause), ("restart", restart), ("top", top),
              ("exec", exec_), ("attach", attach), ("cp", cp), ("export", export)]
    for name, func in common:
        # exec: options end at the container name; what follows is the command's.
        settings = {"allow_interspersed_args": False} if name == "exec" else {}
        app.command(name, context_settings=settings)(func)
        container_app.command(name, context_settings=settings)(func)
    app.command("inspect")(inspect)
    container_app.command("inspect")(_container_inspect)
    container_app.command("list")(ps)
    container_app.command("ls")(ps)
    container_app.command("prune")(prune)
    app.add_typer(container_app, name="container")
    return container_app


def _container_inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., metavar="CONTAINER", help="Containers to inspect."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json (default), or a Go template."),
) -> None:
    """Show the configuration and state of containers."""
    inspect(ctx, names, fmt, "container")
