"""volume create, ls, inspect, rm, prune."""


from typing import List, Optional

import typer

from pyctr.cli import output
from pyctr.cli.common import engine
from pyctr.cli.parsing import PyctrTyper

volume_app = PyctrTyper(help="Manage volumes.", no_args_is_help=True)


@volume_app.command("create")
def create(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, metavar="NAME", help="Volume name (default: a random ID)."),
    driver: str = typer.Option("local", "--driver", metavar="DRIVER", help="Volume driver (only \"local\")."),
    label: List[str] = typer.Option([], "--label", "-l", metavar="KEY=VALUE", help="Set metadata for a volume."),
    opts: List[str] = typer.Option([], "--opt", "-o", metavar="KEY=VALUE",
                                   help="Driver options: type=tmpfs|bind|FSTYPE, device=DEV, o=MOUNT_OPTIONS (uid=N,gid=N too)."),
    ignore: bool = typer.Option(False, "--ignore", help="Do nothing if the volume exists."),
) -> None:
    """Create a new volume."""
    from pyctr.container.flags import key_values

    volume = engine(ctx).volumes.create(name, labels=key_values(label, "label"), ignore=ignore, driver=driver,
                                        options=key_values(opts, "opt"))
    typer.echo(volume.name)


@volume_app.command("ls")
def ls(
    ctx: typer.Context,
    filters: List[str] = typer.Option([], "--filter", "-f", metavar="KEY=VALUE",
                                      help="Filter: name, driver, label, opt, scope, until, dangling."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.Name}}'."),
    noheading: bool = typer.Option(False, "--noheading", help="Do not print headers."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print volume output in quiet mode."),
) -> None:
    """List volumes."""
    volumes = engine(ctx).volumes.list(filters=filters)
    if quiet:
        if volumes:
            typer.echo("\n".join(v.name for v in volumes))
        return
    from pyctr.cli import gotemplate, reporters, views

    rows = engine(ctx).volumes.documents(volumes)
    if fmt and gotemplate.is_json_format(fmt):
        output.print_json([views.volume_json(r) for r in rows], 2, empty_quirk=True)
        return
    if not rows:  # as podman: nothing at all, not even a heading, when no volume is listed
        return
    output.print_report(reporters.VOLUMES, fmt or "table {{.Driver}}\t{{.Name}}",
                        reporters.VOLUMES.rows([views.volume_row(r) for r in rows], [views.volume_json(r) for r in rows]),
                        heading=not noheading)


volume_app.command("list", hidden=True)(ls)


@volume_app.command("inspect")
def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="NAME", help="Volumes to inspect."),
    all_volumes: bool = typer.Option(False, "--all", "-a", help="Inspect all volumes."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json (default), or a Go template."),
) -> None:
    """Show volumes' details."""
    from pyctr.cli import views

    results, errors = engine(ctx).volumes.inspect(names, all_volumes=all_volumes)
    output.print_inspect(fmt, [views.volume_json(r) for r in results], errors)


@volume_app.command("rm")
def rm(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="NAME", help="Volumes to remove."),
    force: bool = typer.Option(False, "--force", "-f", help="Remove the containers using them too."),
    all_volumes: bool = typer.Option(False, "--all", "-a", help="Remove all volumes not in use."),
    timeout: Optional[int] = typer.Option(None, "--time", "-t", metavar="SECONDS",
                                          help="Seconds to wait for running containers to stop before killing them (default 10)."),
) -> None:
    """Remove volumes."""
    from pyctr.engine.reports import removal_exit_code

    reports = engine(ctx).volumes.remove(names, force=force, all_volumes=all_volumes, timeout=timeout)
    output.print_reports(reports, exit_code=removal_exit_code(reports))


@volume_app.command("prune")
def prune(
    ctx: typer.Context,
    filters: List[str] = typer.Option([], "--filter", metavar="KEY=VALUE", help="Provide filter values (label, until)."),
    force: bool = typer.Option(False, "--force", "-f", help="Do not ask for confirmation."),
) -> None:
    """Remove volumes no container uses."""
    volumes_api = engine(ctx).volumes
    if not force:
        from pyctr.cli.confirm import confirm

        # As podman: the volumes that would go, then the question (none: no question).
        typer.echo("WARNING! This will remove all volumes not used by at least one container. "
                   "The following volumes will be removed:")
        names = [volume.name for volume in volumes_api.prunable(filters=filters)]
        if not names:
            typer.echo("No dangling volumes found")
            return
        if not confirm("\n".join(names) + "\n"):
            return
    for name in volumes_api.prune(filters=filters):
        typer.echo(name)


@volume_app.command("export")
def export(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="VOLUME", help="Volume to export."),
    output_file: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write to a specified file (default: stdout, which must be redirected)."),
) -> None:
    """Export the contents of a volume as a tar archive."""
    import sys

    from pyctr.errors import InvalidArgument

    if output_file is None and sys.stdout.isatty():
        raise InvalidArgument("refusing to export to terminal. Use -o flag or redirect")
    if output_file:
        with open(output_file, "wb") as out:
            engine(ctx).volumes.export(name, out)
    else:
        engine(ctx).volumes.export(name, sys.stdout.buffer)
        sys.stdout.buffer.flush()


@volume_app.command("import")
def import_(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="VOLUME", help="Volume to import into."),
    source: str = typer.Argument("-", metavar="SOURCE", help="A tar archive, or - for standard input."),
) -> None:
    """Import a tar archive into a volume."""
    import sys

    from pyctr.errors import NotFound

    if source == "-":
        engine(ctx).volumes.import_(name, sys.stdin.buffer)
        return
    try:
        stream = open(source, "rb")
    except FileNotFoundError:
        raise NotFound(f"open {source}: no such file or directory") from None
    with stream:
        engine(ctx).volumes.import_(name, stream)


@volume_app.command("mount")
def mount(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Volume to mount."),
) -> None:
    """Mount a volume (a tmpfs or device volume) and print where it is on the host."""
    typer.echo(engine(ctx).volumes.mount(name))


@volume_app.command("unmount")
def unmount(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Volume to unmount."),
) -> None:
    """Unmount a volume mounted with `volume mount`."""
    engine(ctx).volumes.unmount(name)
    typer.echo(name)


volume_app.command("umount", hidden=True)(unmount)


@volume_app.command("exists")
def exists(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Volume name."),
) -> None:
    """Exit 0 if the volume exists, 1 if not; print nothing."""
    raise typer.Exit(0 if engine(ctx).volumes.exists(name) else 1)


def register(app: typer.Typer) -> None:
    app.add_typer(volume_app, name="volume")
