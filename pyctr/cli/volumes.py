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
    label: List[str] = typer.Option([], "--label", "-l", metavar="KEY=VALUE", help="Add a label."),
    ignore: bool = typer.Option(False, "--ignore", help="Do nothing if the volume exists."),
) -> None:
    """Create a named volume."""
    from pyctr.container.flags import key_values

    volume = engine(ctx).volumes.create(name, labels=key_values(label, "label"), ignore=ignore)
    typer.echo(volume.name)


@volume_app.command("ls")
def ls(
    ctx: typer.Context,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only volume names."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.Name}}'."),
) -> None:
    """List volumes."""
    volumes = engine(ctx).volumes.list()
    if quiet:
        if volumes:
            typer.echo("\n".join(v.name for v in volumes))
        return
    rows = [v.inspect() for v in volumes]
    if fmt:
        output.print_formatted(fmt, rows, headers={"Name": "VOLUME NAME", "Driver": "DRIVER"})
        return
    output.print_table(["DRIVER", "VOLUME NAME"], [[r["Driver"], r["Name"]] for r in rows])


volume_app.command("list", hidden=True)(ls)


@volume_app.command("inspect")
def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., metavar="NAME", help="Volumes to inspect."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json (default), or a Go template."),
) -> None:
    """Show volumes' details."""
    volumes_api = engine(ctx).volumes
    results = [volumes_api.get(n).inspect() for n in names]
    if fmt and fmt.strip() != "json":
        output.print_each(fmt, results)
    else:
        output.print_json(results)


@volume_app.command("rm")
def rm(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="NAME", help="Volumes to remove."),
    force: bool = typer.Option(False, "--force", "-f", help="Remove the containers using them too."),
    all_volumes: bool = typer.Option(False, "--all", "-a", help="Remove all volumes not in use."),
) -> None:
    """Remove volumes."""
    from pyctr.engine.reports import removal_exit_code

    reports = engine(ctx).volumes.remove(names, force=force, all_volumes=all_volumes)
    output.print_reports(reports, exit_code=removal_exit_code(reports))


@volume_app.command("prune")
def prune(ctx: typer.Context, force: bool = typer.Option(False, "--force", "-f", help="Do not ask for confirmation.")) -> None:
    """Remove volumes no container uses."""
    for name in engine(ctx).volumes.prune():
        typer.echo(name)


@volume_app.command("exists")
def exists(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Volume name."),
) -> None:
    """Exit 0 if the volume exists, 1 if not; print nothing."""
    raise typer.Exit(0 if engine(ctx).volumes.exists(name) else 1)


def register(app: typer.Typer) -> None:
    app.add_typer(volume_app, name="volume")
