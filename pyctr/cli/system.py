"""version, info and unshare."""

import sys
from typing import List, Optional

import typer

from pyctr.cli import output
from pyctr.cli.common import engine


def version(
    ctx: typer.Context,
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json, or a Go template such as '{{.Client.Version}}'."),
) -> None:
    """Show pyctr's version."""
    import json

    info = engine(ctx).system.version()
    client = {"APIVersion": info.api_version, "Version": info.version, "PythonVersion": info.python_version,
              "OsArch": f"{info.os}/{info.arch}", "Os": info.os}
    if fmt and fmt.strip() == "json":
        typer.echo(json.dumps({"Client": client}, separators=(",", ":")))  # one line, as podman's
    elif fmt:
        output.print_each(fmt, [{"Client": client}])
    else:
        rows = [["Client:", "pyctr"], ["Version:", info.version], ["API Version:", info.api_version],
                ["Python Version:", info.python_version], ["OS/Arch:", client["OsArch"]]]
        output.print_table(["", ""], rows, heading=False)


def info(
    ctx: typer.Context,
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json, or a Go template such as '{{.Host.Rootless}}'."),
) -> None:
    """Show how pyctr runs here: rootless or not, storage, runtime, id mappings."""
    data = _info_document(engine(ctx).system.info())
    if fmt and fmt.strip() != "json":
        output.print_each(fmt, [data])
        return
    if fmt:
        output.print_json(data)
        return
    _print_yaml(data)


def _info_document(info) -> dict:
    """podman's layout and field names for an engine.system.Info."""
    from dataclasses import asdict

    return {
        "Host": {
            "Rootless": info.rootless,
            "Kernel": info.kernel,
            "Arch": info.arch,
            "OCIRuntime": {"Name": info.oci_runtime.name, "Path": info.oci_runtime.path, "Version": info.oci_runtime.version},
            "IDMappings": ({"UIDMap": [asdict(m) for m in info.uid_map], "GIDMap": [asdict(m) for m in info.gid_map]}
                           if info.rootless else {}),
            "NetworkBackend": info.network_backend,
        },
        "Store": {
            "GraphRoot": info.graph_root,
            "RunRoot": info.run_root,
            "GraphDriverName": info.graph_driver,
            "GraphOptions": dict(info.graph_options),
            "ImageStore": {"number": info.image_count},
            "ContainerStore": {"number": info.container_count},
        },
        "Version": {"Version": info.version},
    }


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
    ctx: typer.Context,
    command: Optional[List[str]] = typer.Argument(None, metavar="COMMAND", help="Command to run (default: $SHELL)."),
) -> None:
    """Run a command inside pyctr's user namespace (uid 0 there is you)."""
    sys.stdout.flush()
    code = engine(ctx).system.unshare(list(command or []))
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("version")(version)
    app.command("info")(info)
    app.command("unshare", context_settings={"allow_interspersed_args": False})(unshare)
