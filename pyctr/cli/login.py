"""login and logout: credentials in the auth file podman users know."""


import sys
from typing import Optional

import typer

from pyctr.cli.common import authfile_option, parse_bool, tls_verify_option
from pyctr.errors import InvalidArgument


def _registry_of(text: str) -> str:
    """Accept `host:port`, `https://host/`, or `host/repo` (podman scopes the latter; we key by host)."""
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    return text.rstrip("/").split("/")[0]


def login(
    registry: str = typer.Argument(..., metavar="REGISTRY", help="Registry to log in to, e.g. localhost:5000."),
    username: Optional[str] = typer.Option(None, "--username", "-u", help="User name."),
    password: Optional[str] = typer.Option(None, "--password", "-p", help="Password (prefer --password-stdin)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    authfile: Optional[str] = authfile_option(),
    tls_verify: Optional[str] = tls_verify_option(),
    get_login: bool = typer.Option(False, "--get-login", help="Print the user name stored for the registry."),
) -> None:
    """Log in to a container registry."""
    from pyctr.image import auth

    host = _registry_of(registry)
    if get_login:
        found = auth.lookup(host, None, authfile)
        if not found:
            raise InvalidArgument(f"not logged into {host}")
        typer.echo(found[0])
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
    _check_credentials(host, username, password, parse_bool(tls_verify, "--tls-verify"))
    auth.store(host, username, password, authfile)
    typer.echo("Login Succeeded!")


def _check_credentials(host: str, username: str, password: str, tls_verify: bool | None) -> None:
    from pyctr.config import RegistriesConf
    from pyctr.image.reference import Reference
    from pyctr.image.registry import RegistryClient

    ref = Reference(host, "library/login-check", tag="latest")
    with RegistryClient(ref, credentials=(username, password), tls_verify=tls_verify, conf=RegistriesConf.load()) as client:
        client.ping_with_auth()


def logout(
    registry: Optional[str] = typer.Argument(None, metavar="REGISTRY", help="Registry to log out of."),
    all_registries: bool = typer.Option(False, "--all", "-a", help="Remove the credentials of every registry."),
    authfile: Optional[str] = authfile_option(),
) -> None:
    """Remove the stored credentials of a registry."""
    from pyctr.image import auth

    if all_registries:
        auth.remove(None, authfile)
        typer.echo("Removed login credentials for all registries")
        return
    if not registry:
        raise InvalidArgument("registry must be given (or --all)")
    host = _registry_of(registry)
    if not auth.remove(host, authfile):
        raise InvalidArgument(f"not logged into {host}")
    typer.echo(f"Removed login credentials for {host}")


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)
