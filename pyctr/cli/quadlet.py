"""quadlet: Quadlet files (`*.container`, `*.volume`, `*.network`, `*.kube`) as systemd units.

`--dryrun [--user]` prints the units the generator would write (as podman's `quadlet -dryrun`);
`--install` / `--uninstall` put pyctr's generator into /etc/systemd/{system,user}-generators.
The work is pyctr.quadlet's; this only parses and prints.
"""

import click
import typer

from pyctr.cli.parsing import PyctrCommand


class _WithoutEngine(PyctrCommand):
    """Quadlet needs no engine, and must not enter a rootless user's namespace: there the user's
    own uid (for /etc/containers/systemd/users/UID) and root's /etc/systemd would be out of sight."""

    def invoke(self, ctx: click.Context):
        return super(PyctrCommand, self).invoke(ctx)


def quadlet(
    dryrun: bool = typer.Option(False, "--dryrun", help="Print the units generated from the Quadlet files, write nothing."),
    user: bool = typer.Option(False, "--user", help="With --dryrun: the user's files (~/.config/containers/systemd ...), not the system's."),
    install: bool = typer.Option(False, "--install", help="Install pyctr's systemd generator for system and user units (root)."),
    uninstall: bool = typer.Option(False, "--uninstall", help="Remove pyctr's systemd generators (root)."),
) -> None:
    """Turn Quadlet files into systemd units (podman 4.4's Quadlet keys).

    Files: /etc/containers/systemd (system) and ~/.config/containers/systemd (user; $XDG_CONFIG_HOME
    too). Once the generator is installed, `systemctl [--user] daemon-reload` makes web.container
    the unit web.service. A file with errors is reported as PATH:LINE and skipped."""
    import sys

    from pyctr.errors import InvalidArgument

    chosen = [name for name, on in (("--dryrun", dryrun), ("--install", install), ("--uninstall", uninstall)) if on]
    if len(chosen) != 1:
        raise InvalidArgument("quadlet needs one of --dryrun, --install or --uninstall" if not chosen
                              else f"{' and '.join(chosen)} cannot be used together")
    if user and not dryrun:
        raise InvalidArgument("--user is for --dryrun (the installed generator serves both system and user units)")
    if dryrun:
        from pyctr.quadlet import generator

        result = generator.generate(user)
        sys.stdout.write(generator.dryrun_text(result, "pyctr quadlet"))
        for error in result.errors:
            sys.stderr.write(f"Error: {error}\n")
        if result.errors:
            raise typer.Exit(1)  # as quadlet -dryrun; the good files' units are printed all the same
        return
    from pyctr.quadlet import generator, install as setup

    paths = setup.install(generator.default_pyctr()) if install else setup.uninstall()
    for path in paths:
        typer.echo(path)


def register(app: typer.Typer) -> None:
    app.command("quadlet", cls=_WithoutEngine)(quadlet)
