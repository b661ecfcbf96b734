"""version, info, unshare, and the `system` group: info, df, prune, reset."""

import sys
import time
from typing import List, Optional

import typer

from pyctr.cli import output
from pyctr.cli.common import engine


def version(
    ctx: typer.Context,
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json, or a Go template such as '{{.Client.Version}}'."),
) -> None:
    """Show pyctr's version."""
    output.print_version(engine(ctx).system.version(), fmt)


def info(
    ctx: typer.Context,
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json, or a Go template such as '{{.Host.Rootless}}'."),
) -> None:
    """Show how pyctr runs here: rootless or not, storage, runtime, id mappings."""
    data = _info_document(engine(ctx).system.info())
    if fmt and fmt.strip() != "json":
        from pyctr.cli import reporters

        output.print_report(reporters.INFO, fmt, [reporters.typed(data, reporters.INFO_TYPES)], ranged=False)
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
    rootless_netns: bool = typer.Option(False, "--rootless-netns", help="Join the rootless network namespace (not supported yet: no user-defined networks)."),
) -> None:
    """Run a command inside pyctr's user namespace (uid 0 there is you)."""
    sys.stdout.flush()
    code = engine(ctx).system.unshare(list(command or []), rootless_netns=rootless_netns)
    if code:
        raise typer.Exit(code)


def _df_size(size: int) -> str:
    """podman's df sizes: four significant digits, decimal units, no space (2.029MB, 96B)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    value, unit = float(size), 0
    while value >= 1000 and unit < len(units) - 1:
        value /= 1000
        unit += 1
    return f"{value:.4g}{units[unit]}"


def df(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show each image, container and volume."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.Type}} {{.Size}}'."),
) -> None:
    """Show the disk space images, containers and volumes use."""
    usage = engine(ctx).system.df()
    if verbose:  # as podman, --verbose has its own tables and ignores --format
        _df_verbose(usage)
        return
    rows = []
    for line in usage.summary():
        percent = int(line.reclaimable * 100 / line.size) if line.size else 0
        rows.append({"Type": line.kind, "Total": line.total, "Active": line.active, "Size": _df_size(line.size),
                     "Reclaimable": f"{_df_size(line.reclaimable)} ({percent}%)", "RawSize": line.size,
                     "RawReclaimable": line.reclaimable})
    from pyctr.cli import reporters

    # podman 4.3.1 knows no "json" here: a template like any other; {{json .}} shows the bytes
    json_views = [{"Type": r["Type"], "Total": r["Total"], "Active": r["Active"], "Size": r["RawSize"],
                   "Reclaimable": r["RawReclaimable"]} for r in rows]
    output.print_report(reporters.DF, fmt or "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
                        reporters.DF.rows(rows, json_views))


def _df_verbose(usage) -> None:
    from pyctr import units
    from pyctr.cli import tabwriter

    images = []
    for image in usage.images:
        repo, tag = "<none>", "<none>"
        if image.names:
            repo, _, tag = image.names[0].rpartition(":")
        created = units.parse_created(image.created)
        images.append({"Repository": repo, "Tag": tag, "ImageID": image.id[:12], "Created": units.human_duration(time.time() - created) if created else "",
                       "Size": _df_size(image.size), "SharedSize": _df_size(image.shared_size),
                       "UniqueSize": _df_size(image.size - image.shared_size), "Containers": image.containers})
    containers = [{"ContainerID": c.id[:12], "Image": c.image_id[:12], "Command": " ".join(c.command),
                   "LocalVolumes": c.local_volumes, "Size": _df_size(c.size),
                   "RunningFor": units.human_duration(time.time() - c.created), "Status": c.state, "Names": c.name}
                  for c in sorted(usage.containers, key=lambda c: c.id)]
    volumes = [{"VolumeName": v.name, "Links": v.links, "Size": _df_size(v.size)} for v in usage.volumes]
    sys.stdout.write("Images space usage:\n\n")
    tabwriter.write(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"],
                       [[i["Repository"], i["Tag"], i["ImageID"], i["Created"], i["Size"], i["SharedSize"], i["UniqueSize"],
                         str(i["Containers"])] for i in images])
    sys.stdout.write("\nContainers space usage:\n\n")
    tabwriter.write(["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"],
                       [[c["ContainerID"], c["Image"], c["Command"], str(c["LocalVolumes"]), c["Size"], c["RunningFor"],
                         c["Status"], c["Names"]] for c in containers])
    sys.stdout.write("\nLocal Volumes space usage:\n\n")
    tabwriter.write(["VOLUME NAME", "LINKS", "SIZE"], [[v["VolumeName"], str(v["Links"]), v["Size"]] for v in volumes])


def _confirm(warning: str) -> bool:
    """podman's question; only y or Y (on stdin) goes on."""
    sys.stdout.write(warning + "Are you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() == "y"


PRUNE_WARNING = """WARNING! This command removes:
\t- all stopped containers
\t- all networks not used by at least one container
{volumes}\t- all {images}
\t- all dangling build cache

"""


def prune(
    ctx: typer.Context,
    all_images: bool = typer.Option(False, "--all", "-a", help="Remove all unused images, not only dangling ones."),
    volumes: bool = typer.Option(False, "--volumes", help="Remove unused volumes too."),
    force: bool = typer.Option(False, "--force", "-f", help="Do not ask for confirmation."),
    filters: List[str] = typer.Option([], "--filter", metavar="KEY=VALUE", help="label=KEY[=VALUE], label!=..., until=TIME."),
) -> None:
    """Remove stopped containers, unused images and (with --volumes) unused volumes."""
    eng = engine(ctx)
    eng.system.check_prune_filters(filters)  # a bad filter fails before the question
    if not force:
        from pyctr.cli.confirm import confirm  # the question all the prune commands share

        warning = PRUNE_WARNING.format(
            volumes="\t- all volumes not used by at least one container\n" if volumes else "",
            images="images without at least one container associated with them" if all_images else "dangling images")
        if not confirm(warning):
            return
    report = eng.system.prune(all_images=all_images, volumes=volumes, filters=filters)
    for title, items in (("Deleted Containers", report.containers), ("Deleted Networks", report.networks),
                         ("Deleted Volumes", report.volumes), ("Deleted Images", report.images)):
        if items:
            typer.echo(title)
            typer.echo("\n".join(items))
    typer.echo(f"Total reclaimed space: {_df_size(report.reclaimed)}")


def reset(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", "-f", help="Do not ask for confirmation."),
) -> None:
    """Remove all containers, images and volumes, and empty the store and the runtime state."""
    eng = engine(ctx)
    if not force:
        config = eng.config
        warning = ("WARNING! This will remove:\n"
                   + "".join(f"        - all {what}\n" for what in ("containers", "pods", "images", "networks", "build cache",
                                                                      "machines", "volumes"))
                   + f'        - the graphRoot directory: "{config.root}"\n'
                   + f'        - the runRoot directory: "{config.runroot}"\n')
        if not _confirm(warning):
            return
    eng.system.reset()


system_app = None


def register(app: typer.Typer) -> None:
    from pyctr.cli.parsing import PyctrTyper

    global system_app
    app.command("version")(version)
    app.command("info")(info)
    app.command("unshare", context_settings={"allow_interspersed_args": False})(unshare)
    system_app = PyctrTyper(help="Manage pyctr: disk usage, prune, reset, info.", no_args_is_help=True)
    system_app.command("info")(info)
    system_app.command("df")(df)
    system_app.command("prune")(prune)
    system_app.command("reset")(reset)
    from pyctr.cli.service import service  # (aiohttp only once the command runs)

    system_app.command("service")(service)
    app.add_typer(system_app, name="system")
