"""`pyctr`: global options, command registration, and the one place errors become exit codes."""


import enum
import os
import sys

import click
import typer
import typer.core

from pyctr import __version__
from pyctr.errors import EXIT_ENGINE, PyctrError

# Plain click help: typer's rich help reads "[...]" in help texts as markup
# (and escapes it in plain mode); our help texts are plain text.
typer.core.HAS_RICH = False

app = typer.Typer(
    name="pyctr",
    help="Manage pods, containers and images, without a daemon.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

class LogLevel(str, enum.Enum):
    debug = "debug"
    info = "info"
    warn = "warn"
    error = "error"
    fatal = "fatal"
    panic = "panic"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pyctr version {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    ctx: typer.Context,
    root: str = typer.Option(None, "--root", metavar="PATH", help="Path to the storage root directory.", envvar="PYCTR_ROOT"),
    runroot: str = typer.Option(None, "--runroot", metavar="PATH", help="Path to the runtime state directory.", envvar="PYCTR_RUNROOT"),
    log_level: LogLevel = typer.Option(LogLevel.warn, "--log-level", help="Log messages at and above this level (debug shows tracebacks)."),
    version: bool = typer.Option(False, "--version", "-v", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    from pyctr.config import Config
    from pyctr.engine import Engine

    os.environ["PYCTR_LOG_LEVEL"] = log_level.value
    ctx.obj = Engine(Config.create(root, runroot))


# The command modules each top-level word needs. typer builds the parameters of
# every registered command at start-up (about 1 ms each), so a command registers
# only its own module; help, completion and unknown words get them all.
COMMAND_MODULES = {
    **dict.fromkeys(("pull", "images", "tag", "untag", "rmi", "image"), ("images",)),
    **dict.fromkeys(("run", "create", "start"), ("run",)),
    **dict.fromkeys(("ps", "logs", "stop", "kill", "rm", "wait", "rename", "pause", "unpause", "restart", "top",
                     "exec", "attach", "inspect", "cp", "export"), ("containers",)),
    "container": ("containers", "run"),
    "volume": ("volumes",),
    **dict.fromkeys(("login", "logout"), ("login",)),
    **dict.fromkeys(("info", "unshare"), ("system",)),
}
ALL_MODULES = ("images", "containers", "run", "volumes", "login", "system")
GLOBAL_OPTIONS_WITH_VALUE = {"--root", "--runroot", "--log-level"}


def command_word(argv: list[str]) -> str | None:
    """The first word that is not a global option (or its value)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in GLOBAL_OPTIONS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _register_commands(argv: list[str] | None = None) -> None:
    from importlib import import_module

    word = command_word(argv) if argv is not None else None
    modules = COMMAND_MODULES.get(word or "", ALL_MODULES)
    if any(a in ("--help", "-h") for a in (argv or [])[:1]):
        modules = ALL_MODULES
    loaded = {name: import_module(f"pyctr.cli.{name}") for name in modules}
    container_app = loaded["containers"].register(app) if "containers" in loaded else None
    for name, module in loaded.items():
        if name == "run":
            module.register(app, container_app)
        elif name != "containers":
            module.register(app)


def _enter_user_namespace() -> int:
    """Rootless: every command runs inside the user's shared user and mount namespace."""
    from pyctr import config
    from pyctr.linux import userns

    try:
        userns.enter(config.runtime_dir() / "pyctr")
    except PyctrError as exc:
        return _fail(str(exc), exc.hint, exc.exit_code)
    except OSError as exc:
        return _fail(f"setting up the user namespace: {exc.strerror or exc}")
    return 0


def _fail(message: str, hint: str | None = None, code: int = EXIT_ENGINE) -> int:
    sys.stderr.write(f"Error: {message}\n")
    if hint:
        sys.stderr.write(f"Hint: {hint}\n")
    return code


def main(argv: list[str] | None = None) -> None:
    from pyctr.cli.common import normalise_bare_flags

    argv = normalise_bare_flags(sys.argv[1:] if argv is None else argv)
    # (Help and version need no namespace; -h and -v mean other things after a command word.)
    if os.geteuid() != 0 and not (not argv or argv[0] in ("--version", "-v", "--help", "-h") or "--help" in argv):
        code = _enter_user_namespace()
        if code:
            os._exit(code)
    if command_word(argv) == "run" and "--help" not in argv:
        # A container's shim takes ~40 ms to boot: start it now, and let it boot while we
        # parse options, find the image and write the bundle (see pyctr.runtime.shimlauncher).
        from pyctr.runtime import shimlauncher

        shimlauncher.prestarted = shimlauncher.ShimLauncher()
    _register_commands(argv)
    debug = "--log-level=debug" in sys.argv or ("--log-level" in sys.argv and "debug" in sys.argv)
    try:
        code = app(args=argv, prog_name="pyctr", standalone_mode=False)
    except PyctrError as exc:
        if debug:
            raise
        code = _fail(str(exc), exc.hint, exc.exit_code)
    except click.ClickException as exc:  # bad flags and arguments
        code = _fail(exc.format_message(), code=EXIT_ENGINE)
    except typer.Abort:
        code = 130
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (`pyctr images | head`); not an error worth a message.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except OSError as exc:  # a path the user gave that cannot be used, a full disk, ...
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        code = _fail(f"{where}{exc.strerror or exc}")
    except Exception as exc:  # a bug: still one line (and the traceback with --log-level debug)
        if debug:
            raise
        code = _fail(f"internal error: {type(exc).__name__}: {exc}", "run again with --log-level debug to see where")
    code = code if isinstance(code, int) else 0
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    # Skip the interpreter's teardown (module cleanup, GC): ~10 ms on every command,
    # and nothing of ours runs at exit.
    os._exit(code)
