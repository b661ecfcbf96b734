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


# Options that take a BOOL value but which podman users also write bare (meaning true).
BARE_BOOL_FLAGS = {"--tls-verify"}
# Boolean flags that podman users also write as --flag=true / --flag=false.
VALUED_BOOL_FLAGS = {"--sig-proxy", "--rm", "--detach", "--interactive", "--tty", "--read-only", "--privileged",
                     "--init", "--replace", "--quiet", "--force", "--all", "--follow", "--timestamps", "--no-trunc"}
NEGATABLE = {"--sig-proxy"}  # these have a --no- form; the others are just dropped when false


def normalise_bare_flags(argv: list[str]) -> list[str]:
    """`--tls-verify` -> `--tls-verify=true`; `--rm=false` -> nothing; `--sig-proxy=false` -> `--no-sig-proxy`.

    Stops at `--`. (A container command's own `--rm=false`-style arguments after
    the image would be rewritten too; write `--` before such a command.)
    """
    result = []
    for i, arg in enumerate(argv):
        if arg == "--":
            return result + argv[i:]
        following = argv[i + 1].lower() if i + 1 < len(argv) else None
        flag, eq, value = arg.partition("=")
        if arg in BARE_BOOL_FLAGS and following not in TRUE_WORDS | FALSE_WORDS:
            arg += "=true"
        elif eq and flag in VALUED_BOOL_FLAGS and value.lower() in TRUE_WORDS | FALSE_WORDS:
            if value.lower() in TRUE_WORDS:
                arg = flag
            elif flag in NEGATABLE:
                arg = "--no-" + flag[2:]
            else:
                continue
        result.append(arg)
    return result
