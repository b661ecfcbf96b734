"""pyctr's entry point, and a fast path for the commands scripts call most, without typer.

Importing typer and click and building even one typer command costs ~45 ms: more than all the
rest of `pyctr ps -a`. So `ps`, `images`, `version`, `inspect` and `container exists`, with
their common options only (`PLANS` lists them), are parsed here by hand and printed with the
same helpers as the typer commands (pyctr.cli.output, views, reporters), with the same errors
and exit codes. So is `run` with its most common flags (RUN_FLAGS, RUN_VALUED): the same spec
builder (pyctr.cli.runspec) from typer's defaults, and its shim started first thing.
Anything else — `--help`, another option, a global option other than `--root` and
`--runroot`, a malformed line — goes to the typer front end (pyctr.cli.main) unchanged.
`pyctr --version` is answered here too. The commands taken here first defer the standard
modules that they import but never use (DEFERRED: ~5 ms of their ~20 ms of start-up).
tests/test_fast_path.py holds the two paths' outputs equal. PYCTR_FAST=0 turns this off.
"""

from __future__ import annotations

import os
import sys

# For each command: its flags (option -> parameter), the options that take a value, and how
# many positional arguments it takes (min, max).
PLANS = {
    "ps": ({"-a": "all", "--all": "all", "-q": "quiet", "--quiet": "quiet", "--no-trunc": "no_trunc",
            "--noheading": "noheading"}, {"--format": "format"}, (0, 0)),
    "images": ({"-a": "all", "--all": "all", "-q": "quiet", "--quiet": "quiet", "--no-trunc": "no_trunc",
                "--noheading": "noheading", "-n": "noheading", "--digests": "digests"}, {"--format": "format"}, (0, 0)),
    "version": ({}, {"--format": "format", "-f": "format"}, (0, 0)),
    "inspect": ({}, {"--format": "format", "-f": "format"}, (1, None)),
    "container exists": ({}, {}, (1, 1)),
}
GLOBALS = {"--root": "root", "--runroot": "runroot"}
PS_TABLE = "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"  # cli/containers.py's


def plan(argv: list[str]) -> tuple[str, dict, dict, list[str]] | None:
    """(command, global options, options, arguments) when the fast path can run this command line, else None."""
    glob, n = _globals(argv)
    if glob is None:
        return None
    rest = argv[n:]
    if rest[:2] == ["container", "exists"]:
        command, rest = "container exists", rest[2:]
    elif rest[:1] and rest[0] in PLANS and rest[0] != "container exists":
        command, rest = rest[0], rest[1:]
    else:
        return None
    flags, valued, (least, most) = PLANS[command]
    opts: dict = {}
    args: list[str] = []
    n = 0
    while n < len(rest):
        arg = rest[n]
        if arg == "-" or not arg.startswith("-"):
            args.append(arg)
        elif arg in flags:
            opts[flags[arg]] = True
        elif arg.partition("=")[0] in valued:
            name, eq, given = arg.partition("=")
            if not eq:
                if n + 1 >= len(rest) or rest[n + 1].startswith("-"):
                    return None
                n, given = n + 1, rest[n + 1]
            opts[valued[name]] = given
        elif len(arg) > 2 and arg[1] != "-" and all(f"-{c}" in flags for c in arg[1:]):  # -aq
            opts.update((flags[f"-{c}"], True) for c in arg[1:])
        else:  # --help, --, another option: typer's
            return None
        n += 1
    if len(args) < least or (most is not None and len(args) > most):
        return None
    return command, glob, opts, args


# `run`'s common flags (flag -> parameter, and the options that take a value), parsed up to the
# image as typer's run does (the rest is the container's command); anything else goes to typer.
RUN_FLAGS = {"--rm": "rm", "-d": "detach", "--detach": "detach", "--replace": "replace", "-q": "quiet", "--quiet": "quiet"}
RUN_VALUED = {"--name": "name", "--network": "network", "--net": "network", "-e": "env", "--env": "env"}
RUN_LISTS = ("network", "env")


def plan_run(argv: list[str]) -> tuple[dict, dict] | None:
    """(global options, run's parameters) for `[--root R] [--runroot RR] run FLAGS IMAGE [COMMAND...]`, else None."""
    glob, n = _globals(argv)
    if glob is None or argv[n:n + 1] != ["run"]:
        return None
    rest = argv[n + 1:]
    params: dict = {"network": [], "env": []}
    n = 0
    while n < len(rest) and rest[n].startswith("-"):  # ("-", "--": typer's)
        name, eq, given = rest[n].partition("=")
        if name in RUN_FLAGS and not eq:
            params[RUN_FLAGS[name]] = True
        elif name in RUN_VALUED:
            if not eq:
                if n + 1 >= len(rest):
                    return None
                n, given = n + 1, rest[n + 1]
            key = RUN_VALUED[name]
            if key in RUN_LISTS:
                params[key].append(given)
            elif key in params:  # given twice: typer's rules
                return None
            else:
                params[key] = given
        else:
            return None
        n += 1
    if n >= len(rest):
        return None
    params.update(image=rest[n], command=tuple(rest[n + 1:]))
    return glob, params


def _globals(argv: list[str]) -> tuple[dict | None, int]:
    """The leading --root/--runroot options, and where the command word is (None: other global options)."""
    glob: dict = {}
    n = 0
    while n < len(argv) and argv[n].startswith("-"):
        name, eq, given = argv[n].partition("=")
        if name not in GLOBALS:
            return None, n
        if not eq:
            if n + 1 >= len(argv):
                return None, n
            n, given = n + 1, argv[n + 1]
        glob[GLOBALS[name]] = given
        n += 1
    return glob, n


# Standard modules that modules these commands import import, but that these commands never use:
# each is loaded on the first use of one of its attributes instead. `inspect` (~4 ms: ast, dis,
# tokenize) is @dataclass's, for docstrings (pyctr.values makes them itself); `copy` is @dataclass's,
# for asdict; `urllib.parse` (~0.8 ms), `ntpath` and `ipaddress` are pathlib's, for as_uri() and
# Windows paths. Each name maps to the functions that modules take from it at their import
# (`from urllib.parse import quote_from_bytes`): those call the real one.
DEFERRED = {"inspect": (), "copy": (), "ipaddress": (), "ntpath": (), "urllib.parse": ("quote_from_bytes",)}


class _Deferred(type(sys)):
    """Stands in sys.modules for a module not imported yet: an `import` of it gets this (its
    attributes but __name__, __spec__... are missing), and the first attribute asked for imports
    the real module (which then replaces this in sys.modules) and is read there, as every later one.
    (importlib's LazyLoader would not do: an `import` statement of the module loads it.)"""

    def __getattr__(self, attr):
        if attr == "__path__":  # (what `from M import x` asks first: none of them is a package)
            raise AttributeError(attr)
        return getattr(_load(self), attr)


def _load(stand_in: _Deferred):
    name = stand_in.__name__
    if sys.modules.get(name) is stand_in:
        del sys.modules[name]
    __import__(name)  # (a submodule's parent package then holds the real one)
    return sys.modules[name]


def _forward(stand_in: _Deferred, attr: str):
    def forward(*args, **kwargs):
        return getattr(_load(stand_in), attr)(*args, **kwargs)

    forward.__name__ = forward.__qualname__ = attr
    return forward


def defer_imports(names: dict = DEFERRED) -> None:
    for name, functions in names.items():
        if name in sys.modules:
            continue
        stand_in = _Deferred(name)
        for attr in functions:
            setattr(stand_in, attr, _forward(stand_in, attr))
        parent, _, child = name.rpartition(".")
        if parent:
            __import__(parent)
            setattr(sys.modules[parent], child, stand_in)
        sys.modules[name] = stand_in


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    fast = os.environ.get("PYCTR_FAST", "1") != "0"
    if fast:
        glob, n = _globals(argv[:-1])
        if argv[-1:] in (["--version"], ["-v"]) and glob is not None and n == len(argv) - 1:  # (pyctr.cli.main's)
            os._exit(print_version())
        planned_run = plan_run(argv) if "run" in argv else None
        if planned_run is not None:
            defer_imports()
            os._exit(run_container(*planned_run))
        planned = plan(argv)
        if planned is not None:
            defer_imports()
            os._exit(run(*planned))
    from pyctr.cli.main import main as full

    full(argv)


def print_version() -> int:
    """`pyctr --version`."""
    from pyctr import __version__

    try:
        sys.stdout.write(f"pyctr version {__version__}\n")
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return 0


def run_container(glob: dict, given: dict) -> int:
    """`run` with the flags of RUN_FLAGS/RUN_VALUED: cli/run.py's _run, without typer."""
    return run("run", glob, given, [], first=prestart_shim)


def prestart_shim() -> None:
    """A container's shim takes ~40 ms to boot: start it now, and let it boot while we parse
    options, find the image and write the bundle (see pyctr.runtime.shimlauncher). Rootless, it
    must be in the user namespace, so we enter it first (the engine finds us there)."""
    from pyctr.runtime import shimlauncher

    if os.geteuid() != 0:
        from pyctr import config
        from pyctr.errors import PyctrError
        from pyctr.linux import userns

        try:
            userns.enter(config.runtime_dir() / "pyctr")
        except OSError as exc:
            raise PyctrError(f"setting up the user namespace: {exc.strerror or exc}") from exc
    shimlauncher.prestarted = shimlauncher.ShimLauncher()


def run(command: str, glob: dict, opts: dict, args: list[str], first=None) -> int:
    """Run a planned command (after `first()`, if given); its exit code, as pyctr.cli.main's would be."""
    from pyctr.errors import EXIT_ENGINE, PyctrError

    code = 0
    try:
        if first is not None:
            first()
        code = COMMANDS[command](_engine(glob), opts, args) or 0
    except PyctrError as exc:
        code = _fail(str(exc), exc.hint, exc.exit_code)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        code = _fail(f"{where}{exc.strerror or exc}", code=EXIT_ENGINE)
    except Exception as exc:  # a bug: still one line
        code = _fail(f"internal error: {type(exc).__name__}: {exc}", "run again with --log-level debug to see where", EXIT_ENGINE)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    return code


def _fail(message: str, hint: str | None = None, code: int = 125) -> int:
    sys.stderr.write(f"Error: {message}\n")
    if hint:
        sys.stderr.write(f"Hint: {hint}\n")
    return code


def _engine(glob: dict):
    """The engine as pyctr.cli.main's global options build it (their defaults, PYCTR_ROOT/PYCTR_RUNROOT)."""
    from pyctr.engine import Engine
    from pyctr.engine.options import EngineOptions

    os.environ["PYCTR_LOG_LEVEL"] = "warn"
    root = glob.get("root", os.environ.get("PYCTR_ROOT") or None)
    runroot = glob.get("runroot", os.environ.get("PYCTR_RUNROOT") or None)
    options = EngineOptions(
        storage_driver=None, storage_opts=[], runtime=None, runtime_flags=[], cgroup_manager=None, events_backend=None,
        tmpdir=None, network_config_dir=None,
        refused={"--url": None, "--remote": False, "--connection": None, "--identity": None, "--ssh": None,
                 "--conmon": None, "--hooks-dir": [], "--namespace": None, "--network-cmd-path": None, "--volumepath": None})
    options.check()
    return Engine(root, runroot, options=options)


# The commands: the bodies of the typer commands of the same name (cli/containers.py, cli/images.py,
# cli/system.py) for the options above.

def _ps(eng, opts: dict, args: list[str]) -> None:
    from pyctr.cli import gotemplate, output, views

    found = eng.containers.list(all_containers=opts.get("all", False), filters=[], last=-1, latest=False,
                                sort="created", size=False, namespaces=False)
    fmt = opts.get("format")
    if fmt and gotemplate.is_json_format(fmt):
        output.print_json([views.ps_json(row) for row in found], 2, empty_quirk=True)
        return
    rows = [views.ps_row(row, no_trunc=opts.get("no_trunc", False)) for row in found]
    if opts.get("quiet") and not fmt:
        if rows:
            sys.stdout.write("\n".join(r["ID"] for r in rows) + "\n")
        return
    from pyctr.cli import reporters

    fmt = fmt or "table " + PS_TABLE
    json_views = [views.ps_row_json(row) for row in found] if "json" in fmt else None
    output.print_report(reporters.PS, fmt, reporters.PS.rows(rows, json_views), heading=not opts.get("noheading"))


def _version(eng, opts: dict, args: list[str]) -> None:
    from pyctr.cli import output

    output.print_version(eng.system.version(), opts.get("format"))


def _exists(eng, opts: dict, args: list[str]) -> int:
    return 0 if eng.containers.exists(args[0]) else 1


def _images(eng, opts: dict, args: list[str]) -> None:
    from pyctr.cli import output
    from pyctr.cli.imagerows import display_rows

    images_api = eng.images
    image_rows = images_api.rows(None, filters=[], sort="created")
    rows = display_rows(image_rows, no_trunc=opts.get("no_trunc", False))
    if opts.get("quiet"):
        ids = list(dict.fromkeys(row["ID"] for row in rows))
        if ids:
            sys.stdout.write("\n".join(ids) + "\n")
        return
    from pyctr.cli import gotemplate, reporters

    fmt = opts.get("format")
    if fmt and gotemplate.is_json_format(fmt):
        output.print_json(images_api.summaries(image_rows))
        return
    if fmt:
        if "Labels" in fmt or "Containers" in fmt or "json" in fmt or "{{." not in fmt:
            counts = images_api.container_counts()
            for row, image_row in zip(rows, image_rows):
                row["Labels"], row["Containers"] = images_api.labels(image_row.record), counts.get(row["Id"], 0)
    else:
        fmt = ("table {{.Repository}}\t{{.Tag}}\t" + ("{{.Digest}}\t" if opts.get("digests") else "")
               + "{{.ID}}\t{{.Created}}\t{{.Size}}")
    output.print_report(reporters.IMAGES, fmt, reporters.IMAGES.rows(rows), heading=not opts.get("noheading"))


def _inspect(eng, opts: dict, args: list[str]) -> None:
    from pyctr.cli import output, views
    from pyctr.engine.containers import ContainerInfo
    from pyctr.errors import PyctrError

    results, errors = [], []
    for name in args:
        try:
            info = eng.inspect(name, kind="all")
        except PyctrError as exc:
            errors.append(exc)
            continue
        if isinstance(info, ContainerInfo):
            results.append(views.container_document(info))
        elif type(info).__name__ == "ExecSession":
            from pyctr.cli import execviews

            results.append(execviews.exec_document(info))
        elif type(info).__name__ == "PodInfo":
            from pyctr.cli import podviews

            results.append(podviews.inspect_document(info))
        else:
            results.append(views.image_document(info))
    output.print_inspect(opts.get("format"), results, errors)


def _run(eng, given: dict, args: list[str]) -> int:
    from pyctr.cli.attached import proxy_session
    from pyctr.cli.progress import for_stream
    from pyctr.cli.runspec import RUN_DEFAULTS, spec_from_params
    from pyctr.runtime.shimlauncher import take_prestarted

    params = {**RUN_DEFAULTS, **given}
    shim = take_prestarted()
    try:
        spec = spec_from_params(params)
    except BaseException:
        shim.abandon()
        raise

    def attach(session) -> int | None:
        return proxy_session(eng, session, sig_proxy=True, detach_keys=params["detach_keys"], streams=("stdout", "stderr"))

    detach = params["detach"]
    result = eng.containers.run(spec, replace=params["replace"], progress=for_stream(params["quiet"]), shim=shim,
                                attach=None if detach else attach)
    for warning in result.warnings:
        sys.stderr.write(f"WARNING: {warning}\n")
    for error in result.errors:
        sys.stderr.write(f"Error: {error}\n")
    if detach:
        sys.stdout.write(result.container.id + "\n")
        return 0
    return result.exit_code if result.exit_code is not None else 0


COMMANDS = {"run": _run, "ps": _ps, "images": _images, "version": _version, "inspect": _inspect, "container exists": _exists}
