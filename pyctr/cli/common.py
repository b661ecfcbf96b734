"""Options and helpers shared by several commands."""

from __future__ import annotations

import typer

from pyctr.errors import InvalidArgument

TRUE_WORDS = {"true", "1", "yes", "t"}
FALSE_WORDS = {"false", "0", "no", "f"}


def engine(ctx: typer.Context):
    return ctx.find_root().obj


def parse_bool(value: str | None, flag: str) -> bool | None:
    """podman's `--flag`, `--flag=true` and `--flag=false`; None when the flag is absent."""
    if value is None:
        return None
    lowered = value.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise InvalidArgument(f"invalid value {value!r} for {flag}: expected true or false")


def tls_verify_option():
    return typer.Option(
        None,
        "--tls-verify",
        flag_value="true",
        is_flag=False,
        metavar="BOOL",
        help="Require HTTPS and verify certificates (default: true, except for registries on loopback).",
    )


def authfile_option():
    return typer.Option(None, "--authfile", help="Path of the authentication file.", envvar="REGISTRY_AUTH_FILE")
