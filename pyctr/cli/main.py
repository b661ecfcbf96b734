"""`pyctr`: global options, command registration, and the one place errors become exit codes."""


import enum
import os
import sys

import click
import typer

from pyctr import __version__
from pyctr.cli.common import Session, session
from pyctr.cli.parsing import PyctrTyper
from pyctr.errors import EXIT_ENGINE, PyctrError

app = PyctrTyper(
    name="pyctr",
    help="Manage containers, images and volumes, without a daemon.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: our help texts are plain text, where "[...]" is no markup.
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
    log_level: LogLevel = typer.Option(LogLevel.warn.value, "--log-level", help="Log messages at and above this level (debug shows tracebacks)."),
    version: bool = typer.Option(False, "--version", "-v", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    os.environ["PYCTR_LOG_LEVEL"] = log_level.value
    current = session(ctx)  # the engine is built later, when the command runs (see Session)
    current.root, current.runroot, current.log_level = root, runroot, log_level.value


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
    **dict.fromkeys(("version", "info", "unshare"), ("system",)),
}
ALL_MODULES = ("images", "containers", "run", "volumes", "login", "system")
GLOBAL_OPTIONS_WITH_VALUE = {"--root", "--runroot", "--log-level"}


def split_global_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the global options with their values, the command word and all that follows)."""
    skip = False
    for n, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg in GLOBAL_OPTIONS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return argv[:n], argv[n:]
    return argv, []


def command_word(argv: list[str]) -> str | None:
    """The first word that is not a global option (or its value)."""
    rest = split_global_options(argv)[1]
    return rest[0] if rest else None


def runs_a_container(argv: list[str]) -> bool:
    """`pyctr [--root/--runroot/--log-level ...] [container] run ...` where no word could ask for help.

    A shortcut only: then the user namespace and the container's shim can be started before the
    command line is parsed. Any other `run` (`run IMG ls --help` too: the container's own --help
    counts here) goes the ordinary way, where the engine enters the namespace once the command
    line has been parsed (PyctrCommand.invoke) and `run` starts its shim itself.
    """
    global_part, rest = split_global_options(argv)
    values = False
    for arg in global_part:  # only options that set a value: no --help, -h, --version, -v
        if values:
            values = False
        elif arg in GLOBAL_OPTIONS_WITH_VALUE:
            values = True
        elif arg.partition("=")[0] not in GLOBAL_OPTIONS_WITH_VALUE:
            return False
    if rest[:2] == ["container", "run"]:
        rest = rest[1:]
    # run's only help option is --help (-h is --hostname).
    return rest[:1] == ["run"] and not any(arg.startswith("--help") for arg in rest)


def _register_commands(argv: list[str] | None = None) -> None:
    from importlib import import_module

    word = command_word(argv) if argv is not None else None
    modules = COMMAND_MODULES.get(word or "", ALL_MODULES)
    if any(a in ("--help", "-h") for a in (argv or [])[:1]):
        modules = ALL_MODULES
    # The `container` and `image` groups only when their word is used (or for help and completion).
    groups = modules is ALL_MODULES or word in ("container", "image")
    loaded = {name: import_module(f"pyctr.cli.{name}") for name in modules}
    container_app = loaded["containers"].register(app, group=groups) if "containers" in loaded else None
    for name, module in loaded.items():
        if name == "run":
            module.register(app, container_app)
        elif name == "images":
            module.register(app, group=groups)
        elif name != "containers":
            module.register(app)


def _prestart_shim() -> None:
    """A container's shim takes ~40 ms to boot: start it now, and let it boot while we parse
    options, find the image and write the bundle (see pyctr.runtime.shimlauncher). Rootless, it
    must be in the user namespace, so we enter it first (the engine finds us there)."""
    from pyctr.runtime import shimlauncher

    if os.geteuid() != 0:
        from pyctr import config
        from pyctr.linux import userns

        try:
            userns.enter(config.runtime_dir() / "pyctr")
        except OSError as exc:
            raise PyctrError(f"setting up the user namespace: {exc.strerror or exc}") from exc
    shimlauncher.prestarted = shimlauncher.ShimLauncher()


def _fail(message: str, hint: str | None = None, code: int = EXIT_ENGINE) -> int:
    sys.stderr.write(f"Error: {message}\n")
    if hint:
        sys.stderr.write(f"Hint: {hint}\n")
    return code


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    current = Session()  # filled in by global_options, once they are parsed
    if split_global_options(argv)[0][-1:] in (["--version"], ["-v"]) and not command_word(argv):  # nothing to build
        sys.stdout.write(f"pyctr version {__version__}\n")
        sys.stdout.flush()
        os._exit(0)
    try:
        if runs_a_container(argv):
            _prestart_shim()
        _register_commands(argv)
        code = app(args=argv, prog_name="pyctr", standalone_mode=False, obj=current)
    except PyctrError as exc:
        if current.debug:
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
        if current.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        code = _fail(f"{where}{exc.strerror or exc}")
    except Exception as exc:  # a bug: still one line (and the traceback with --log-level debug)
        if current.debug:
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
