"""`pyctr`: global options, command registration, and the one place errors become exit codes."""


import os
import sys
from typing import List

import click
import typer

from pyctr import __version__
from pyctr.cli.common import Session, session
from pyctr.cli.parsing import PyctrTyper
from pyctr.errors import EXIT_ENGINE, PyctrError

app = PyctrTyper(
    name="pyctr",
    help="Manage containers, pods, images, networks and volumes, without a daemon.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: our help texts are plain text, where "[...]" is no markup.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "fatal", "panic")
_to_syslog = False  # --syslog: error messages go to syslog too


class _LogLevelError(PyctrError):
    exit_code = 1  # podman's (cobra's) for a bad --log-level


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pyctr version {__version__}")
        raise typer.Exit()


def _log_level(value: str) -> str:
    if value not in LOG_LEVELS:
        # podman's words, and its exit code (1: cobra's, before podman's own checks).
        raise _LogLevelError(f'Log Level "{value}" is not supported, choose from: {", ".join(LOG_LEVELS)}')
    return value


class _NoOutput:
    """--noout: pyctr's own output goes nowhere; what an attached container writes (to the
    binary `buffer`) still reaches the real stdout, as with podman."""

    closed = False

    def __init__(self, real):
        self.buffer, self.encoding, self.errors, self._real = real.buffer, real.encoding, real.errors, real

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # so that click takes us for the text stream we are
            raise TypeError("write() argument must be str")
        return len(text)

    def flush(self) -> None:
        self.buffer.flush()

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._real.fileno()

    def isatty(self) -> bool:
        return self._real.isatty()


def _opt(*names: str, help: str, metavar: str = "VALUE", multiple: bool = False):
    return typer.Option([] if multiple else None, *names, metavar=metavar, help=help, show_default=False)


def _flag(*names: str, help: str):
    return typer.Option(False, *names, help=help)


@app.callback()
def global_options(
    ctx: typer.Context,
    root: str = typer.Option(None, "--root", metavar="PATH", help="Path to the storage root directory.", envvar="PYCTR_ROOT"),
    runroot: str = typer.Option(None, "--runroot", metavar="PATH", help="Path to the runtime state directory.", envvar="PYCTR_RUNROOT"),
    log_level: str = typer.Option("warn", "--log-level", metavar="LEVEL", callback=_log_level,
                                  help=f"Log messages at and above this level ({', '.join(LOG_LEVELS)}; debug shows tracebacks)."),
    version: bool = typer.Option(False, "--version", "-v", callback=_version, is_eager=True, help="Print the version."),
    noout: bool = _flag("--noout", help="Do not write pyctr's own output to stdout (an attached container's still shows)."),
    syslog: bool = _flag("--syslog", help="Send error messages to syslog too."),
    storage_driver: str = _opt("--storage-driver", metavar="DRIVER", help="Storage driver: overlay (the only one pyctr has)."),
    storage_opt: List[str] = _opt("--storage-opt", metavar="OPT", multiple=True,
                                  help="Storage option: overlay.mount_program=PATH (rootless: the fuse-overlayfs to use)."),
    runtime: str = _opt("--runtime", metavar="PATH", help="The runc to run containers with: a path, or a name found on PATH."),
    runtime_flag: List[str] = _opt("--runtime-flag", metavar="FLAG", multiple=True, help="A global flag for runc, without its -- (e.g. debug)."),
    tmpdir: str = _opt("--tmpdir", metavar="PATH", help="Directory for pyctr's temporary files."),
    cgroup_manager: str = _opt("--cgroup-manager", metavar="MANAGER", help="Cgroup manager: cgroupfs (systemd is not supported)."),
    events_backend: str = _opt("--events-backend", metavar="BACKEND", help="Where events go: file (default) or none."),
    url: str = _opt("--url", metavar="URL", help="Remote service URL (not supported yet: pyctr has no service)."),
    remote: bool = _flag("--remote", "-r", help="Use the remote service (not supported yet)."),
    connection: str = _opt("--connection", "-c", metavar="NAME", help="Remote connection (not supported yet)."),
    identity: str = _opt("--identity", metavar="PATH", help="SSH identity for the remote service (not supported yet)."),
    ssh: str = _opt("--ssh", metavar="MODE", help="SSH mode for the remote service (not supported yet)."),
    conmon: str = _opt("--conmon", metavar="PATH", help="Not supported: pyctr runs its own shim, not conmon."),
    hooks_dir: List[str] = _opt("--hooks-dir", metavar="PATH", multiple=True, help="OCI hooks directory (not supported yet)."),
    namespace: str = _opt("--namespace", metavar="NAME", help="libpod namespace (not supported)."),
    network_cmd_path: str = _opt("--network-cmd-path", metavar="PATH", help="Network command path (not supported yet)."),
    network_config_dir: str = _opt("--network-config-dir", metavar="PATH", help="Where network definitions are (default: /etc/pyctr/networks as root, ~/.config/pyctr/networks rootless)."),
    volumepath: str = _opt("--volumepath", metavar="PATH", help="Volume directory (not supported: volumes live under --root)."),
) -> None:
    from pyctr.engine.options import EngineOptions

    os.environ["PYCTR_LOG_LEVEL"] = log_level
    if log_level in ("info", "debug", "trace"):
        from pyctr import log

        log.info(f"pyctr filtering at log level {log_level}")
    current = session(ctx)  # the engine is built later, when the command runs (see Session)
    current.root, current.runroot, current.log_level = root, runroot, log_level
    global _to_syslog
    _to_syslog = syslog
    current.options = EngineOptions(
        storage_driver=storage_driver, storage_opts=list(storage_opt), runtime=runtime, runtime_flags=list(runtime_flag),
        cgroup_manager=cgroup_manager, events_backend=events_backend, tmpdir=tmpdir, network_config_dir=network_config_dir,
        refused={"--url": url, "--remote": remote, "--connection": connection, "--identity": identity, "--ssh": ssh,
                 "--conmon": conmon, "--hooks-dir": list(hooks_dir), "--namespace": namespace,
                 "--network-cmd-path": network_cmd_path,
                 "--volumepath": volumepath})
    current.options.check()  # now, also for commands that never build the engine
    if noout:
        sys.stdout = _NoOutput(sys.stdout)


# The command modules each top-level word needs. typer builds the parameters of
# every registered command at start-up (about 1 ms each), so a command registers
# only its own module; help, completion and unknown words get them all.
COMMAND_MODULES = {
    **dict.fromkeys(("pull", "images", "tag", "untag", "rmi", "image"), ("images",)),
    **dict.fromkeys(("run", "create", "start"), ("run",)),
    **dict.fromkeys(("ps", "logs", "stop", "kill", "rm", "wait", "rename", "pause", "unpause", "restart",
                     "exec", "attach", "inspect", "cp", "export"), ("containers",)),
    **dict.fromkeys(("port", "diff", "history", "mount", "unmount", "umount", "init", "update", "top"), ("inspection",)),
    "image": ("images", "inspection", "imagetransfer", "build"),
    **dict.fromkeys(("push", "save", "load", "import", "commit"), ("imagetransfer",)),
    "build": ("build",),
    "manifest": ("manifest",),
    "container": ("containers", "run", "stats", "inspection", "imagetransfer"),
    "events": ("events",),
    "stats": ("stats",),
    "volume": ("volumes",),
    "network": ("networks",),
    "pod": ("pods",),
    "secret": ("secrets",),
    "healthcheck": ("healthcheck",),
    "auto-update": ("autoupdate",),
    "quadlet": ("quadlet",),
    "generate": ("generate",),
    **dict.fromkeys(("kube", "play"), ("kube",)),
    **dict.fromkeys(("login", "logout"), ("login",)),
    **dict.fromkeys(("version", "info", "unshare", "system"), ("system",)),
}
ALL_MODULES = ("images", "containers", "run", "volumes", "networks", "pods", "login", "system", "events", "stats", "secrets", "inspection", "healthcheck", "autoupdate", "kube", "quadlet", "generate", "imagetransfer", "manifest", "build")
GLOBAL_OPTIONS_WITH_VALUE = {
    "--root", "--runroot", "--log-level", "--storage-driver", "--storage-opt", "--runtime", "--runtime-flag", "--tmpdir",
    "--cgroup-manager", "--events-backend", "--url", "--connection", "-c", "--identity", "--ssh", "--conmon",
    "--hooks-dir", "--namespace", "--network-cmd-path", "--network-config-dir", "--volumepath",
}
GLOBAL_FLAGS = {"--noout", "--syslog", "--remote", "-r"}  # global options without a value (not --help, --version)


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
    """`pyctr [global options but --help/--version] [container] run ...` where no word could ask for help.

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
        elif arg.partition("=")[0] not in GLOBAL_OPTIONS_WITH_VALUE and arg not in GLOBAL_FLAGS:
            return False
    if rest[:2] in (["container", "run"], ["container", "exec"]):
        rest = rest[1:]
    if rest[:1] == ["exec"]:  # an exec session has a shim of its own too; not with --preserve-fds,
        # whose fds 3.. must be the caller's, not the shim's pipes
        return not any(arg.startswith(("--help", "--preserve-fds")) or arg == "-h" for arg in rest)
    # run's only help option is --help (-h is --hostname); --preserve-fds as for exec.
    return rest[:1] == ["run"] and not any(arg.startswith(("--help", "--preserve-fds")) for arg in rest)


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
        if name in ("run", "stats"):
            module.register(app, container_app)
        elif name == "images":
            module.register(app, group=groups)
        elif name == "inspection":  # also into the container and image groups, when they are built
            module.register(app, container_app, loaded["images"].image_app if groups and "images" in loaded else None)
        elif name == "imagetransfer":  # also into the image group, when it is built
            module.register(app, loaded["images"].image_app if groups and "images" in loaded else None, container_app)
        elif name == "build":  # also into the image group, when it is built
            module.register(app, loaded["images"].image_app if groups and "images" in loaded else None)
        elif name != "containers":
            module.register(app)


def _prestart_shim() -> None:
    from pyctr.cli.fast import prestart_shim

    prestart_shim()


def _fail(message: str, hint: str | None = None, code: int = EXIT_ENGINE) -> int:
    sys.stderr.write(f"Error: {message}\n")
    if _to_syslog:
        import syslog

        syslog.openlog("pyctr", syslog.LOG_PID, syslog.LOG_USER)
        syslog.syslog(syslog.LOG_ERR, message)
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
