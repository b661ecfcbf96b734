"""secret create, ls, inspect, rm, exists."""


import sys
from typing import List, Optional

import typer

from pyctr.cli import output
from pyctr.cli.common import engine
from pyctr.cli.parsing import PyctrTyper

secret_app = PyctrTyper(help="Manage secrets.", no_args_is_help=True)

TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}"
# podman's --pretty layout, spaces and all.
PRETTY = ("ID:              {ID}\nName:              {Name}\nDriver:            {Driver}\n"
          "Created at:        {Created}\nUpdated at:        {Updated}\n")


@secret_app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Name of the secret."),
    source: str = typer.Argument(..., metavar="FILE|-", help="File with the secret's data, - for stdin (with --env: a variable's name)."),
    driver: str = typer.Option("file", "--driver", "-d", metavar="DRIVER", help="Secret driver (file)."),
    driver_opts: List[str] = typer.Option([], "--driver-opts", metavar="KEY=VALUE", help="Driver options (the file driver takes none)."),
    env: bool = typer.Option(False, "--env", help="Read the data from the environment variable named by the second argument."),
    label: List[str] = typer.Option([], "--label", "-l", metavar="KEY=VALUE", help="Add a label."),
) -> None:
    """Create a secret from a file, stdin or an environment variable."""
    import os

    from pyctr.container.flags import key_values
    from pyctr.errors import InvalidArgument

    if env:
        if source not in os.environ:
            raise InvalidArgument(f"cannot create store secret data: environment variable {source} is not set")
        data = os.environ[source].encode()
    elif source == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            with open(source, "rb") as f:
                data = f.read()
        except OSError as exc:  # podman's words: Go's "open PATH: no such file or directory"
            raise InvalidArgument(f"open {source}: {(exc.strerror or str(exc)).lower()}") from None
    secret = engine(ctx).secrets.create(name, data, driver=driver, labels=key_values(label, "label"),
                                        driver_options=key_values(driver_opts, "driver option"))
    typer.echo(secret.id)


@secret_app.command("ls")
def ls(
    ctx: typer.Context,
    filters: List[str] = typer.Option([], "--filter", "-f", metavar="KEY=VALUE", help="Filter: name=REGEX, id=PREFIX."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.Name}}'."),
    noheading: bool = typer.Option(False, "--noheading", help="Do not print column headings."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only secret IDs."),
) -> None:
    """List secrets."""
    from pyctr import units

    secrets = engine(ctx).secrets.list(filters)
    if quiet:
        if secrets:
            typer.echo("\n".join(s.id for s in secrets))
        return
    rows = [{"ID": s.id, "Name": s.name, "Driver": s.driver, "CreatedAt": units.since(s.created),
             "UpdatedAt": units.since(s.updated)} for s in secrets]
    from pyctr.cli import reporters

    # podman 4.3.1's secret ls knows no "json" format: a template like any other (it prints "json")
    output.print_report(reporters.SECRETS, fmt or TABLE, reporters.SECRETS.rows(rows), heading=not noheading)


secret_app.command("list", hidden=True)(ls)


@secret_app.command("inspect")
def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., metavar="NAME", help="Secrets to inspect."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json (default), or a Go template."),
    pretty: bool = typer.Option(False, "--pretty", help="Print in a human readable form."),
) -> None:
    """Show secrets' details (never their data)."""
    from pyctr.engine.secrets import go_time
    from pyctr.errors import NotFound

    api = engine(ctx).secrets
    found, errors = [], []
    for name in names:
        try:
            found.append(api.inspect(name))
        except NotFound as exc:
            errors.append(type(exc)(f"inspecting secret: {exc}"))
    if pretty and not fmt:
        for item in found:
            secret = api.get(item["ID"])
            sys.stdout.write(PRETTY.format(ID=secret.id, Name=secret.name, Driver=secret.driver,
                                           Created=go_time(secret.created, pretty=True),
                                           Updated=go_time(secret.updated, pretty=True)))
        if errors:
            raise errors[-1]
        return
    from pyctr.cli import reporters

    output.print_inspect(fmt, found, errors, types=reporters.SECRET_TYPES, prefix="", indent=4)


@secret_app.command("rm")
def rm(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="NAME", help="Secrets to remove."),
    all_secrets: bool = typer.Option(False, "--all", "-a", help="Remove all secrets."),
) -> None:
    """Remove secrets (containers that use them keep their own copy)."""
    reports = engine(ctx).secrets.remove(names, all_secrets=all_secrets)
    output.print_reports(reports, label=lambda report: report.id)


@secret_app.command("exists")
def exists(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Secret name or ID."),
) -> None:
    """Exit 0 if the secret exists, 1 if not; print nothing."""
    raise typer.Exit(0 if engine(ctx).secrets.exists(name) else 1)


def register(app: typer.Typer) -> None:
    app.add_typer(secret_app, name="secret")
