"""info and unshare."""

import os
import sys
from typing import List, Optional

import typer

from pyctr.cli import output
from pyctr.cli.common import engine


def info(
    ctx: typer.Context,
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json, or a Go template such as '{{.Host.Rootless}}'."),
) -> None:
    """Show how pyctr runs here: rootless or not, storage, runtime, id mappings."""
    from pyctr import __version__
    from pyctr.linux import userns
    from pyctr.runtime.runc import find_runc

    eng = engine(ctx)
    config = eng.config
    runc = find_runc()
    runc_version = _first_line([runc, "--version"])
    maps = userns.mappings()
    data = {
        "Host": {
            "Rootless": config.rootless,
            "Kernel": os.uname().release,
            "Arch": os.uname().machine,
            "OCIRuntime": {"Name": "runc", "Path": runc, "Version": runc_version},
            "IDMappings": {"UIDMap": maps["uid"], "GIDMap": maps["gid"]} if config.rootless else {},
            "NetworkBackend": "none (own network namespace with loopback)",
        },
        "Store": {
            "GraphRoot": str(config.root),
            "RunRoot": str(config.runroot),
            "GraphDriverName": "overlay",
            "GraphOptions": {"overlay.userxattr": "true"} if config.rootless else {},
            "ImageStore": {"number": len(eng.images.list())},
            "ContainerStore": {"number": len(eng.containers.ids())},
        },
        "Version": {"Version": __version__},
    }
    if fmt and fmt.strip() != "json":
        output.print_each(fmt, [data])
        return
    if fmt:
        output.print_json(data)
        return
    _print_yaml(data)


def _first_line(argv: list[str]) -> str:
    import subprocess

    try:
        return subprocess.run(argv, capture_output=True, text=True, close_fds=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return ""


def _print_yaml(value, indent: int = 0) -> None:
    """podman prints info as YAML; a small writer for our plain dicts and lists."""
    pad = "  " * indent
    for key, item in value.items():
        if isinstance(item, dict):
            sys.stdout.write(f"{pad}{key}:" + (" {}\n" if not item else "\n"))
            _print_yaml(item, indent + 1)
        elif isinstance(item, list):
            sys.stdout.write(f"{pad}{key}:" + (" []\n" if not item else "\n"))
            for entry in item:
                fields = ", ".join(f"{k}: {v}" for k, v in entry.items()) if isinstance(entry, dict) else str(entry)
                sys.stdout.write(f"{pad}- {fields}\n")
        else:
            sys.stdout.write(f"{pad}{key}: {str(item).lower() if isinstance(item, bool) else item}\n")


def unshare(
    command: Optional[List[str]] = typer.Argument(None, metavar="COMMAND", help="Command to run (default: $SHELL)."),
) -> None:
    """Run a command inside pyctr's user namespace (uid 0 there is you)."""
    argv = list(command or [os.environ.get("SHELL", "/bin/sh")])
    sys.stdout.flush()
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        from pyctr.errors import CommandNotFound, CommandNotInvokable

        cls = CommandNotFound if isinstance(exc, FileNotFoundError) else CommandNotInvokable
        raise cls(f"{argv[0]}: {exc.strerror}") from exc


def register(app: typer.Typer) -> None:
    app.command("info")(info)
    app.command("unshare", context_settings={"allow_interspersed_args": False})(unshare)
