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
        metavar="BOOL",
        help="Require HTTPS and verify certificates (default: true, except for registries on loopback).",
    )


def authfile_option():
    return typer.Option(None, "--authfile", metavar="PATH", help="Path of the authentication file.", envvar="REGISTRY_AUTH_FILE")


# Flags that podman accepts both bare (meaning true) and as --flag=BOOL.
BARE_BOOL_FLAGS = {"--tls-verify"}


def normalise_bare_flags(argv: list[str]) -> list[str]:
    """Turn a bare `--tls-verify` into `--tls-verify=true`, since typer options take a value."""
    result = []
    for i, arg in enumerate(argv):
        following = argv[i + 1].lower() if i + 1 < len(argv) else None
        if arg in BARE_BOOL_FLAGS and following not in TRUE_WORDS | FALSE_WORDS:
            arg += "=true"
        result.append(arg)
    return result
