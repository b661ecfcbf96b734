"""healthcheck run: the container's health check, once, now."""


from typing import List

import typer

from pyctr.cli.common import engine
from pyctr.cli.parsing import PyctrTyper

healthcheck_app = PyctrTyper(help="Manage health checks on containers.", no_args_is_help=True)


@healthcheck_app.command("run")
def run(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="The container whose check runs."),
) -> None:
    """Run the health check of a container.

    Exit 0 when it passes; it prints `unhealthy` and exits 1 when it fails."""
    from pyctr.errors import InvalidArgument

    if len(containers or []) != 1:  # podman's words for a wrong count
        raise InvalidArgument(f"accepts 1 arg(s), received {len(containers or [])}")
    if not engine(ctx).containers.healthcheck_run(containers[0]):
        typer.echo("unhealthy")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(healthcheck_app, name="healthcheck")
