"""login and logout: credentials in the auth file podman users know."""


import sys
from typing import Optional

import typer

from pyctr.cli.common import authfile_option, engine, tls_verify_option
from pyctr.errors import InvalidArgument


def login(
    ctx: typer.Context,
    registry: str = typer.Argument(..., metavar="REGISTRY", help="Registry to log in to, e.g. localhost:5000."),
    username: Optional[str] = typer.Option(None, "--username", "-u", help="User name."),
    password: Optional[str] = typer.Option(None, "--password", "-p", help="Password (prefer --password-stdin)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    authfile: Optional[str] = authfile_option(),
    tls_verify: Optional[bool] = tls_verify_option(),
    get_login: bool = typer.Option(False, "--get-login", help="Print the user name stored for the registry."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", metavar="PATH", help="Directory of TLS certificates and keys (*.crt, *.cert, *.key)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Write more detailed information to stdout."),
) -> None:
    """Log in to a container registry."""
    images = engine(ctx).images
    if get_login:
        typer.echo(images.login_user(registry, authfile=authfile))
        return
    if password_stdin:
        if password:
            raise InvalidArgument("--password and --password-stdin cannot be used together")
        password = sys.stdin.readline().rstrip("\n")
    if not username:
        if not sys.stdin.isatty():
            raise InvalidArgument("no username given: use --username")
        username = typer.prompt("Username")
    if password is None:
        if not sys.stdin.isatty():
            raise InvalidArgument("no password given: use --password-stdin")
        password = typer.prompt("Password", hide_input=True)
    used = images.login(registry, username, password, tls_verify=tls_verify, authfile=authfile, cert_dir=cert_dir)
    if verbose:
        typer.echo(f"Used:  {used}")  # (two spaces, as podman)
    typer.echo("Login Succeeded!")


def logout(
    ctx: typer.Context,
    registry: Optional[str] = typer.Argument(None, metavar="REGISTRY", help="Registry to log out of."),
    all_registries: bool = typer.Option(False, "--all", "-a", help="Remove the credentials of every registry."),
    authfile: Optional[str] = authfile_option(),
) -> None:
    """Remove the stored credentials of a registry."""
    images = engine(ctx).images
    if all_registries:
        images.logout(None, authfile=authfile)
        typer.echo("Removed login credentials for all registries")
        return
    if not registry:
        raise InvalidArgument("registry must be given (or --all)")
    host = images.logout(registry, authfile=authfile)
    typer.echo(f"Removed login credentials for {host}")


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)
