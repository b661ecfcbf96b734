"""Container commands that read or copy: ps, logs, inspect, rename, prune, top, cp, export; and registration."""


import sys
from typing import List, Optional

import typer

from pyctr.cli import control, output
from pyctr.cli.common import engine
from pyctr.cli.parsing import PyctrTyper
from pyctr.errors import InvalidArgument, PyctrError

container_app = PyctrTyper(help="Manage containers.", no_args_is_help=True)

PS_HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND", "CreatedHuman": "CREATED", "Status": "STATUS", "Ports": "PORTS"}


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
    from pyctr.cli import views
    from pyctr.units import since

    found = engine(ctx).containers.list(all_containers=all_containers, filters=filters, last=1 if latest else last)
    rows = [views.ps_row(summary, no_trunc=no_trunc) for summary in found]
    if quiet:
        if rows:
            typer.echo("\n".join(r["ID"] for r in rows))
        return
    for row in rows:
        row["CreatedHuman"] = since(row["Created"])
    if fmt:
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
    from pyctr.runtime.logs import format_line
    from pyctr.units import parse_time

    lines = engine(ctx).containers.logs(
        container, follow=follow, tail=tail if tail >= 0 else None,
        since=parse_time(since) if since else None, until=parse_time(until) if until else None,
    )
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for line in lines:
        stream = err if line.stream == "stderr" else out
        stream.write(format_line(line, timestamps))
        stream.flush()


def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., metavar="NAME", help="Containers (or images) to inspect."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json (default), or a Go template such as '{{.State.Status}}'."),
    kind: str = typer.Option("all", "--type", metavar="TYPE", help="container, image or all."),
) -> None:
    """Show the configuration and state of containers (or images)."""
    from pyctr.cli import views
    from pyctr.engine.containers import ContainerInfo

    eng = engine(ctx)
    results, errors = [], []
    for name in names:
        try:
            info = eng.inspect(name, kind=kind)
        except PyctrError as exc:
            errors.append(exc)
            continue
        results.append(views.container_document(info) if isinstance(info, ContainerInfo) else views.image_document(info))
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
) -> None:
    """Remove all stopped containers."""
    for container_id in engine(ctx).containers.prune():
        typer.echo(container_id)


def top(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER", help="Container whose processes to show."),
    ps_args: Optional[List[str]] = typer.Argument(None, metavar="PS_OPTIONS", help="Options for ps (default -ef)."),
) -> None:
    """Show the processes running in a container (host ps filtered to its PIDs)."""
    top = engine(ctx).containers.top(container, list(ps_args or []))
    typer.echo(top.header)
    for line in top.lines:
        typer.echo(line)


def cp(
    ctx: typer.Context,
    src: str = typer.Argument(..., metavar="SRC", help="CONTAINER:PATH or a host path."),
    dest: str = typer.Argument(..., metavar="DEST", help="CONTAINER:PATH or a host path."),
) -> None:
    """Copy files between a container and the host."""
    src_ctr, src_path = _split_container_path(src)
    dest_ctr, dest_path = _split_container_path(dest)
    if bool(src_ctr) == bool(dest_ctr):
        raise InvalidArgument("copying between containers or between host paths is not supported: one side must be CONTAINER:PATH")
    if src_ctr:
        engine(ctx).containers.copy_from(src_ctr, src_path, dest_path)
    else:
        engine(ctx).containers.copy_to(dest_ctr, src_path, dest_path)


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
              ("restart", control.restart), ("top", top), ("exec", control.exec_), ("attach", control.attach),
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
    names: List[str] = typer.Argument(..., metavar="CONTAINER", help="Containers to inspect."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json (default), or a Go template."),
) -> None:
    """Show the configuration and state of containers."""
    inspect(ctx, names, fmt, "container")
