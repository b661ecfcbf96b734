"""`system service`: serve the Docker Engine API (pyctr.service) until idle. Needs pyctr[service]."""

from typing import Optional

import typer

from pyctr.cli.common import engine


def service(
    ctx: typer.Context,
    uri: Optional[str] = typer.Argument(None, metavar="[URI]", help="unix:///PATH or tcp://127.0.0.1:PORT (default: /run/pyctr/pyctr.sock as root, $XDG_RUNTIME_DIR/pyctr/pyctr.sock rootless)."),
    time: int = typer.Option(5, "--time", "-t", metavar="SECONDS", help="Stop after this many seconds without a request (0: never)."),
    cors: Optional[str] = typer.Option(None, "--cors", metavar="ORIGINS", help="Allow cross-origin requests (not supported)."),
) -> None:
    """Serve the Docker Engine API on a socket, over the same store as the command line."""
    from pyctr.errors import InvalidArgument

    if cors:
        raise InvalidArgument("--cors is not supported: the service answers local clients on its socket only")
    if time < 0:
        raise InvalidArgument(f"invalid --time {time}: must not be negative")
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        raise InvalidArgument("the service needs the optional extra pyctr[service] (aiohttp): pip install 'pyctr[service]'") from None
    from pyctr.service import server

    server.serve(lambda: engine(ctx), uri, time)
