"""Options and helpers shared by several commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from pyctr.engine import Engine


class Session:
    """What the global options (`--root`, `--runroot`, `--log-level`) set for one command.

    The engine is built on first use, once the command line has been parsed: rootless, building
    it enters the user namespace, which `--help` and a command line that does not parse never need.
    """

    def __init__(self, root: str | None = None, runroot: str | None = None, log_level: str = "warn"):
        self.root, self.runroot, self.log_level = root, runroot, log_level
        self.options = None  # pyctr.engine.options.EngineOptions: the other global options, when given
        self._engine: Engine | None = None

    @property
    def debug(self) -> bool:
        """`--log-level debug` (or trace): errors come with their traceback."""
        return self.log_level in ("debug", "trace")

    @property
    def engine(self) -> "Engine":
        """Built once, on first use: rootless, building it enters the user namespace."""
        if self._engine is None:
            from pyctr.engine import Engine

            self._engine = Engine(self.root, self.runroot, options=self.options)
        return self._engine


def session(ctx: typer.Context) -> Session:
    return ctx.find_root().ensure_object(Session)


def engine(ctx: typer.Context) -> "Engine":
    return session(ctx).engine


def tls_verify_option():
    # A boolean flag: --tls-verify, --tls-verify=false (see pyctr.cli.parsing); None when not given.
    return typer.Option(
        None,
        "--tls-verify",
        help="Require HTTPS and verify certificates (default: true, except for registries on loopback).",
    )


def authfile_option():
    return typer.Option(None, "--authfile", metavar="PATH", help="Path of the authentication file.", envvar="REGISTRY_AUTH_FILE")

