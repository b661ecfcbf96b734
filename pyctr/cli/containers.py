"""Container commands that read or copy: ps, logs, inspect, rename, prune, cp, export; and registration (top: cli/inspection)."""


import sys
from typing import List, Optional

import typer

from pyctr.cli import control, output
from pyctr.cli.common import engine
from pyctr.cli.parsing import PyctrTyper
from pyctr.errors import InvalidArgument, PyctrError

container_app = PyctrTyper(help="Manage containers.", no_args_is_help=True)

PS_TABLE = "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
PS_NS_TABLE = "{{.ID}}\t{{.Names}}\t{{.Pid}}\t{{.Cgroup}}\t{{.IPC}}\t{{.MNT}}\t{{.NET}}\t{{.PIDNS}}\t{{.User}}\t{{.UTS}}"


def ps(
    ctx: typer.Context,
    all_containers: bool = typer.Option(False, "--all", "-a", help="Show all containers (default: running only)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only container IDs."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate IDs and commands."),
    filters: List[str] = typer.Option([], "--filter", "-f", metavar="KEY=VALUE", help="Filter: id, name (a regular expression), label, status, ancestor, before, since, exited, volume, health, until, restart-policy."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.Names}}' ('table ...' for columns)."),
    last: int = typer.Option(-1, "--last", "-n", metavar="N", help="Show the N most recently created containers (all states)."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Show only the latest container (all states)."),
    external: bool = typer.Option(False, "--external", help="Also containers not created by pyctr (none exist)."),
    noheading: bool = typer.Option(False, "--noheading", help="Do not print column headings."),
    namespaces: bool = typer.Option(False, "--ns", help="Show the container's namespaces (inode numbers)."),
    pod: bool = typer.Option(False, "--pod", "-p", help="Show the pod ID and name of each container."),
    size: bool = typer.Option(False, "--size", "-s", help="Show the size written by each container, and with its image."),
    sort: str = typer.Option("created", "--sort", metavar="KEY", help="Sort by command, created, id, image, names, runningfor, size or status."),
    sync: bool = typer.Option(False, "--sync", help="Sync the state with the runtime (always so: the state is read afresh)."),
    watch: int = typer.Option(0, "--watch", "-w", metavar="SECONDS", help="Print again every SECONDS seconds."),
) -> None:
    """List containers."""
    import time

    # --sync: podman asks the OCI runtime for each container's state; ours is read from the shim's
    # files and /proc on every call, so it is always in sync.
    if watch and latest:
        raise InvalidArgument("the watch and latest flags cannot be used together")
    if latest and last >= 0:
        raise InvalidArgument("last and latest are mutually exclusive")
    if size and namespaces:
        raise InvalidArgument("size and namespace options conflict")
    if watch < 0:
        raise InvalidArgument("--watch: the interval must be positive")
    eng = engine(ctx)
    while True:
        found = eng.containers.list(all_containers=all_containers, filters=filters, last=last, latest=latest,
                                    sort=sort, size=size, namespaces=namespaces)
        if watch:
            sys.stdout.write("\033[2J\033[1;1H")  # as podman: clear the screen, cursor home
        _print_ps(found, fmt=fmt, quiet=quiet, no_trunc=no_trunc, noheading=noheading, namespaces=namespaces,
                  pod=pod, size=size)
        if not watch:
            return
        sys.stdout.flush()
        time.sleep(watch)


def _print_ps(found, *, fmt, quiet, no_trunc, noheading, namespaces, pod, size) -> None:
    from pyctr.cli import gotemplate, views

    if fmt and gotemplate.is_json_format(fmt):
        output.print_json([views.ps_json(row) for row in found], 2, empty_quirk=True)
        return
    rows = [views.ps_row(row, no_trunc=no_trunc) for row in found]
    if quiet and not fmt:
        if rows:
            typer.echo("\n".join(r["ID"] for r in rows))
        return
    if not fmt:
        fmt = "table " + (PS_NS_TABLE if namespaces else PS_TABLE + ("\t{{.Size}}" if size else "")
                          + ("\t{{.Pod}}\t{{.PodName}}" if pod else ""))
    from pyctr.cli import reporters

    json_views = [views.ps_row_json(row) for row in found] if "json" in fmt else None
    output.print_report(reporters.PS, fmt, reporters.PS.rows(rows, json_views), heading=not noheading)


# podman's colours for `logs --color`, given to the containers in the order they are named.
LOG_COLORS = (b"\033[37m", b"\033[31m", b"\033[33m", b"\033[34m", b"\033[35m", b"\033[36m", b"\033[32m")


def logs(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers whose output to show."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep following the output."),
    tail: int = typer.Option(-1, "--tail", metavar="N", help="Show only the last N lines."),
    since: Optional[str] = typer.Option(None, "--since", metavar="TIME", help="Only lines after TIME (RFC 3339, UNIX time, or a duration like 10m)."),
    until: Optional[str] = typer.Option(None, "--until", metavar="TIME", help="Only lines before TIME."),
    timestamps: bool = typer.Option(False, "--timestamps", "-t", help="Show timestamps."),
    names: bool = typer.Option(False, "--names", "-n", help="Prefix the lines of several containers with their names (else their IDs)."),
    color: bool = typer.Option(False, "--color", help="Colour each container's lines."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Show the latest container's output."),
) -> None:
    """Show the output of one or more containers."""
    from pyctr.units import parse_time

    lines = engine(ctx).containers.logs_of(
        list(containers or []), latest=latest, follow=follow, tail=tail if tail >= 0 else None,
        since=parse_time(since) if since else None, until=parse_time(until) if until else None,
    )
    write_log_lines(lines, several=len(containers or []) > 1, names=names, color=color, timestamps=timestamps)


def write_log_lines(lines, *, several: bool, names: bool, color: bool, timestamps: bool) -> None:
    """(container, line) pairs to stdout and stderr as podman's logs and pod logs print them."""
    from pyctr.runtime.logs import format_line

    colors: dict[str, bytes] = {}
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for container, line in lines:
        stream = err if line.stream == "stderr" else out
        text = format_line(line, timestamps)
        if several:  # as podman: a prefix only when several containers are shown
            text = (container.name if names else container.id[:12]).encode() + b" " + text
        if color:
            code = colors.setdefault(container.id, LOG_COLORS[len(colors) % len(LOG_COLORS)])
            body = text[:-1] if text.endswith(b"\n") else text
            text = code + body + b"\033[0m" + text[len(body):]
        stream.write(text)
        stream.flush()


def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="NAME", help="Containers (or images) to inspect."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json (default), or a Go template such as '{{.State.Status}}'."),
    kind: str = typer.Option("all", "--type", "-t", metavar="TYPE", help="container, image, exec (an exec session), pod or all."),
    size: bool = typer.Option(False, "--size", "-s", help="Show the container's size (SizeRw, SizeRootFs)."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Inspect the latest container."),
) -> None:
    """Show the configuration and state of containers (or images)."""
    _inspect(ctx, list(names or []), fmt, kind, size, latest)


def _inspect(ctx: typer.Context, names: list[str], fmt: str | None, kind: str, size: bool, latest: bool) -> None:
    from pyctr.cli import execviews, views
    from pyctr.container.execs import ExecSession
    from pyctr.engine.containers import ContainerInfo

    eng = engine(ctx)
    if latest:
        if names:
            raise InvalidArgument("--latest and containers cannot be used together")
        names, kind = [eng.containers.latest().id], "container"
    elif not names:
        raise InvalidArgument("no names or ids specified")
    results, errors = [], []
    for name in names:
        try:
            info = eng.inspect(name, kind=kind)
            if size and isinstance(info, ContainerInfo):
                info = eng.containers.inspect(info.record.id, size=True)
        except PyctrError as exc:
            errors.append(exc)
            continue
        if isinstance(info, ContainerInfo):
            results.append(views.container_document(info))
        elif isinstance(info, ExecSession):  # pyctr inspect [--type exec] EXEC_ID
            results.append(execviews.exec_document(info))
        elif type(info).__name__ == "PodInfo":  # pyctr inspect [--type pod] POD
            from pyctr.cli import podviews

            results.append(podviews.inspect_document(info))
        else:
            results.append(views.image_document(info))
    output.print_inspect(fmt, results, errors)


def rename(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER", help="Container to rename."),
    new_name: str = typer.Argument(..., metavar="NAME", help="Its new name."),
) -> None:
    """Rename a container."""
    engine(ctx).containers.rename(container, new_name)


def prune(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", "-f", help="Do not ask for confirmation."),
    filters: List[str] = typer.Option([], "--filter", metavar="KEY=VALUE", help="Only containers created before until=TIME, or with (label=) or without (label!=) a label."),
) -> None:
    """Remove all stopped containers."""
    from pyctr.cli.confirm import confirm

    if not force and not confirm("WARNING! This will remove all non running containers.\n"):
        return
    for container_id in engine(ctx).containers.prune(list(filters)):
        typer.echo(container_id)


def cp(
    ctx: typer.Context,
    src: str = typer.Argument(..., metavar="[CONTAINER:]SRC_PATH", help="CONTAINER:PATH, a host path, or - (a tar stream on stdin)."),
    dest: str = typer.Argument(..., metavar="[CONTAINER:]DEST_PATH", help="CONTAINER:PATH, a host path, or - (a tar stream to stdout)."),
    archive: bool = typer.Option(True, "--archive", "-a", help="Chown copied files to the primary uid/gid of the destination container."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Allow to overwrite directories with non-directories and vice versa."),
) -> None:
    """Copy files/folders between a container and the local filesystem."""
    src_ctr, src_path = _split_container_path(src)
    dest_ctr, dest_path = _split_container_path(dest)
    containers = engine(ctx).containers
    if src_ctr and dest_ctr:
        containers.copy_between(src_ctr, src_path, dest_ctr, dest_path, archive=archive, overwrite=overwrite)
    elif src_ctr:
        if dest == "-":
            containers.copy_from(src_ctr, src_path, out=sys.stdout.buffer, overwrite=overwrite)
            sys.stdout.buffer.flush()
        else:
            containers.copy_from(src_ctr, src_path, dest_path, overwrite=overwrite)
    elif dest_ctr:
        stream = sys.stdin.buffer if src == "-" else None
        containers.copy_to(dest_ctr, None if stream else src_path, dest_path, stream=stream, archive=archive,
                           overwrite=overwrite)
    else:
        raise InvalidArgument("name or ID cannot be empty")  # podman 4.3.1's words for two host paths


def _split_container_path(text: str) -> tuple[str, str]:
    """`name:/path` -> ("name", "/path"); host paths (absolute, ./, -, or no colon) -> ("", text).
    A relative container path stays relative: the engine takes it from the container's workdir."""
    if text.startswith(("/", ".")) or ":" not in text:
        return "", text
    name, _, path = text.partition(":")
    return name, path


def export(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER", help="Container to export."),
    output_file: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write to a file instead of stdout."),
) -> None:
    """Export a container's filesystem as a tar archive."""
    if output_file is None and sys.stdout.isatty():
        raise InvalidArgument("refusing to export to terminal. Use -o flag or redirect")
    if output_file:
        with open(output_file, "wb") as out:
            engine(ctx).containers.export(container, out)
    else:
        engine(ctx).containers.export(container, sys.stdout.buffer)
        sys.stdout.buffer.flush()


def exists(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER", help="Container name or ID."),
    external: bool = typer.Option(False, "--external", help="Also containers not created by pyctr (there are none)."),
) -> None:
    """Exit 0 if the container exists, 1 if not; print nothing."""
    raise typer.Exit(0 if engine(ctx).containers.exists(container) else 1)


def register(app: typer.Typer, *, group: bool = True) -> typer.Typer | None:
    """The container commands at the top (`pyctr ps`) and, with `group`, under `pyctr container`
    (typer builds every registered command at start-up, so `pyctr ps` builds only its own words)."""
    common = [("ps", ps), ("logs", logs), ("stop", control.stop), ("kill", control.kill), ("rm", control.rm),
              ("wait", control.wait), ("rename", rename), ("pause", control.pause), ("unpause", control.unpause),
              ("restart", control.restart), ("exec", control.exec_), ("attach", control.attach),
              ("cp", cp), ("export", export)]
    targets = (app, container_app) if group else (app,)
    for name, func in common:
        # exec: options end at the container name; what follows is the command's.
        settings = {"allow_interspersed_args": False} if name == "exec" else {}
        for target in targets:
            target.command(name, context_settings=settings)(func)
    app.command("inspect")(inspect)
    if not group:
        return None
    container_app.command("inspect")(_container_inspect)
    container_app.command("list")(ps)
    container_app.command("ls")(ps)
    container_app.command("prune")(prune)
    container_app.command("exists")(exists)
    app.add_typer(container_app, name="container")
    return container_app


def _container_inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to inspect."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json (default), or a Go template."),
    size: bool = typer.Option(False, "--size", "-s", help="Show the container's size (SizeRw, SizeRootFs)."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Inspect the latest container."),
) -> None:
    """Show the configuration and state of containers."""
    _inspect(ctx, list(names or []), fmt, "container", size, latest)
