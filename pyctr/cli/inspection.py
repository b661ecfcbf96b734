"""port, diff, history, top, mount/unmount, init, update: at the top, and in the `container`
(and for history/diff the `image`) group."""

import sys
from typing import List, Optional

import typer

from pyctr.cli import output
from pyctr.cli.common import engine

LATEST_HELP = "Act on the latest container pyctr knows of."


def _address(mapping) -> str:
    return f"{mapping.host_ip or '0.0.0.0'}:{mapping.host_port}"


def port(
    ctx: typer.Context,
    container: Optional[str] = typer.Argument(None, metavar="CONTAINER", help="Container whose published ports to show."),
    private: Optional[str] = typer.Argument(None, metavar="PRIVATE_PORT[/PROTO]", help="Only this container port."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Show the ports of every container."),
    latest: bool = typer.Option(False, "--latest", "-l", help=LATEST_HELP),
) -> None:
    """Show a container's published ports (80/tcp -> 0.0.0.0:8080)."""
    if latest and container and private is None:
        container, private = None, container  # with --latest, the one argument is the port
    found = engine(ctx).containers.port(container, private, all_containers=all_containers, latest=latest)
    for ctr, mappings in found:
        for m in mappings:
            if private is not None:
                typer.echo(_address(m))
            elif all_containers:
                typer.echo(f"{ctr.id[:12]}\t{m.container_port}/{m.protocol} -> {_address(m)}")
            else:
                typer.echo(f"{m.container_port}/{m.protocol} -> {_address(m)}")


def _check_diff_format(fmt: Optional[str]) -> None:
    if fmt and fmt.strip() != "json":
        from pyctr.errors import InvalidArgument

        raise InvalidArgument("only supported value for '--format' is 'json'")


def _check_diff_args(command: str, name: Optional[str], fmt: Optional[str], latest: bool) -> None:
    from pyctr.errors import InvalidArgument

    if not name and not latest:
        raise InvalidArgument(f'"{command}" requires a name, id, or the "--latest" flag')
    _check_diff_format(fmt)


def _print_changes(changes, fmt: Optional[str]) -> None:
    if fmt and fmt.strip() == "json":
        import json

        groups = {"changed": "C", "added": "A", "deleted": "D"}
        doc = {key: [c.path for c in changes if c.kind == kind] for key, kind in groups.items()}
        sys.stdout.write(json.dumps({k: v for k, v in doc.items() if v}, indent=5) + "\n")
        return
    for change in changes:
        sys.stdout.write(f"{change.kind} {change.path}\n")


def diff(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, metavar="CONTAINER|IMAGE", help="Container (or image) to compare."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json."),
    latest: bool = typer.Option(False, "--latest", "-l", help=LATEST_HELP),
) -> None:
    """Show the changes in a container's (or image's) filesystem: A added, C changed, D deleted."""
    _check_diff_args("pyctr diff", name, fmt, latest)
    _print_changes(engine(ctx).diff(name, latest=latest), fmt)


def container_diff(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, metavar="CONTAINER", help="Container to compare with its image."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json."),
    latest: bool = typer.Option(False, "--latest", "-l", help=LATEST_HELP),
) -> None:
    """Show the changes in a container's filesystem: A added, C changed, D deleted."""
    _check_diff_args("pyctr container diff", name, fmt, latest)
    _print_changes(engine(ctx).containers.diff(name, latest=latest), fmt)


def image_diff(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="IMAGE", help="Image whose top layer to show."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json."),
) -> None:
    """Show what an image's top layer changes: A added, C changed, D deleted."""
    _check_diff_format(fmt)
    _print_changes(engine(ctx).images.diff(name), fmt)


def history(
    ctx: typer.Context,
    image: str = typer.Argument(..., metavar="IMAGE", help="Image whose history to show."),
    human: bool = typer.Option(True, "--human", "-H", help="Sizes and dates in human terms (--human=false: exact)."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate IDs and commands."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the IDs."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.ID}} {{.CreatedBy}}'."),
) -> None:
    """Show the history of an image: the step that made each layer."""
    import time as timemod

    from pyctr import units
    from pyctr.cli import gotemplate

    entries = engine(ctx).images.history(image)

    docs = []  # podman's history entries as json prints them
    for e in entries:
        doc = {"id": e.id or "<missing>", "created": e.created or None, "CreatedBy": e.created_by or None,
               "size": e.size, "comment": e.comment or None}
        docs.append({k: v for k, v in doc.items() if v is not None})
    if fmt and gotemplate.is_json_format(fmt):  # the whole list, where "Created" is the time again
        sys.stdout.write(__import__("json").dumps([{**d, "Created": d["created"]} if "created" in d else d
                                                   for d in docs], separators=(",", ":")) + "\n")
        return
    rows = []
    for e in entries:
        entry_id = (e.id if no_trunc else e.id[:12]) if e.id else "<missing>"
        created = units.parse_created(e.created)
        created_by = e.created_by
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:42] + "..."
        at = timemod.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", timemod.gmtime(created)) if created else ""
        rows.append({"ID": entry_id, "Created": units.since(created) if human and created else e.created,
                     "CreatedBy": created_by, "Size": units.human_size(e.size), "Comment": e.comment,
                     "CreatedSince": units.since(created) if human and created else e.created,
                     "CreatedAt": at, "Tags": list(e.tags)})
    if quiet:
        for row in rows:
            typer.echo(row["ID"])
        return
    from pyctr.cli import reporters

    output.print_report(reporters.HISTORY, fmt or "table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
                        reporters.HISTORY.rows(rows, docs))


def top(
    ctx: typer.Context,
    container: Optional[str] = typer.Argument(None, metavar="CONTAINER", help="Container whose processes to show."),
    descriptors: Optional[List[str]] = typer.Argument(None, metavar="DESCRIPTORS",
                                                      help="Columns (pid user args etime comm ...), or ps options (-ef, aux)."),
    latest: bool = typer.Option(False, "--latest", "-l", help=LATEST_HELP),
) -> None:
    """Show the processes running in a container."""
    from pyctr.cli import tabwriter
    from pyctr.errors import InvalidArgument

    args = list(descriptors or [])
    if latest and container:
        args.insert(0, container)
        container = None
    if not container and not latest:
        raise InvalidArgument("you must provide the name or id of a running container")
    result = engine(ctx).containers.top(container, args, latest=latest)
    if result.text:
        sys.stdout.write(result.text)
        return
    tabwriter.write(result.headers, result.rows)


def mount(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, metavar="CONTAINER", help="Containers to mount; none lists the mounted ones."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Mount every container."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template (the listing)."),
    latest: bool = typer.Option(False, "--latest", "-l", help=LATEST_HELP),
    no_trunc: bool = typer.Option(False, "--no-trunc", "--notruncate", help="Do not truncate IDs (the listing)."),
) -> None:
    """Mount containers' root filesystems and print where; with no container, list the mounted ones."""
    containers = engine(ctx).containers
    if names or all_containers or latest:
        for _ctr, point in containers.mount(names, all_containers=all_containers, latest=latest):
            typer.echo(point)
        return
    mounted = containers.mounted()
    if fmt and fmt.strip() == "json":
        import json

        sys.stdout.write(json.dumps([{"id": m.id, "Names": m.names, "mountpoint": m.mountpoint} for m in mounted], indent=1) + "\n")
        return
    if fmt:  # podman 4.3.1's mount has no templates
        from pyctr.errors import InvalidArgument

        raise InvalidArgument(f'unknown --format argument: "{fmt}"')
    from pyctr.cli import tabwriter

    tabwriter.write(None, [[m.id if no_trunc else m.id[:12], m.mountpoint] for m in mounted])


def unmount(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, metavar="CONTAINER", help="Containers to unmount."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Unmount every mounted container."),
    force: bool = typer.Option(False, "--force", "-f", help="Unmount even if mounted several times."),
    latest: bool = typer.Option(False, "--latest", "-l", help=LATEST_HELP),
) -> None:
    """Unmount containers' root filesystems (a running container stays mounted)."""
    reports = engine(ctx).containers.unmount(names, all_containers=all_containers, force=force, latest=latest)
    output.print_reports(reports, label=lambda r: r.name if not (all_containers or latest) else r.id)


def init(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, metavar="CONTAINER", help="Containers to initialize."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Initialize every container."),
    latest: bool = typer.Option(False, "--latest", "-l", help=LATEST_HELP),
) -> None:
    """Create containers in the runtime without starting them."""
    reports = engine(ctx).containers.init(names, all_containers=all_containers, latest=latest)
    output.print_reports(reports, label=lambda r: r.name if not (all_containers or latest) else r.id)


def update(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER", help="Container whose limits to change."),
    blkio_weight: Optional[int] = typer.Option(None, "--blkio-weight", metavar="10-1000", help="Block IO weight."),
    blkio_weight_device: List[str] = typer.Option([], "--blkio-weight-device", metavar="DEVICE:WEIGHT", help="Block IO weight of a device."),
    cpu_period: Optional[int] = typer.Option(None, "--cpu-period", metavar="MICROSECONDS", help="CFS scheduler period."),
    cpu_quota: Optional[int] = typer.Option(None, "--cpu-quota", metavar="MICROSECONDS", help="CFS scheduler quota per period."),
    cpu_rt_period: Optional[int] = typer.Option(None, "--cpu-rt-period", metavar="MICROSECONDS", help="Real-time scheduler period."),
    cpu_rt_runtime: Optional[int] = typer.Option(None, "--cpu-rt-runtime", metavar="MICROSECONDS", help="Real-time scheduler runtime per period."),
    cpu_shares: Optional[int] = typer.Option(None, "--cpu-shares", "-c", metavar="N", help="CPU shares (relative weight)."),
    cpus: Optional[float] = typer.Option(None, "--cpus", metavar="N", help="CPU limit, e.g. 1.5."),
    cpuset_cpus: Optional[str] = typer.Option(None, "--cpuset-cpus", metavar="CPUS", help="CPUs the container may use (0-3, 0,1)."),
    cpuset_mems: Optional[str] = typer.Option(None, "--cpuset-mems", metavar="NODES", help="Memory nodes the container may use."),
    device_read_bps: List[str] = typer.Option([], "--device-read-bps", metavar="DEVICE:RATE", help="Limit reads from a device (bytes per second)."),
    device_read_iops: List[str] = typer.Option([], "--device-read-iops", metavar="DEVICE:N", help="Limit reads from a device (operations per second)."),
    device_write_bps: List[str] = typer.Option([], "--device-write-bps", metavar="DEVICE:RATE", help="Limit writes to a device (bytes per second)."),
    device_write_iops: List[str] = typer.Option([], "--device-write-iops", metavar="DEVICE:N", help="Limit writes to a device (operations per second)."),
    memory: Optional[str] = typer.Option(None, "--memory", "-m", metavar="SIZE", help="Memory limit, e.g. 256m."),
    memory_reservation: Optional[str] = typer.Option(None, "--memory-reservation", metavar="SIZE", help="Memory soft limit."),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap", metavar="SIZE", help="Memory plus swap limit; -1 for unlimited swap."),
    memory_swappiness: Optional[int] = typer.Option(None, "--memory-swappiness", metavar="0-100", help="How much memory may be swapped."),
) -> None:
    """Change the resource limits of a container (at once if it runs, and for its next starts)."""
    from pyctr.container import flags

    ctr = engine(ctx).containers.update(
        container,
        blkio_weight=blkio_weight, blkio_weight_devices=list(blkio_weight_device), cpu_period=cpu_period,
        cpu_quota=cpu_quota, cpu_rt_period=cpu_rt_period, cpu_rt_runtime=cpu_rt_runtime, cpu_shares=cpu_shares,
        cpus=cpus, cpuset_cpus=cpuset_cpus, cpuset_mems=cpuset_mems,
        device_read_bps=[flags.throttle_rate(t) for t in device_read_bps], device_read_iops=list(device_read_iops),
        device_write_bps=[flags.throttle_rate(t) for t in device_write_bps], device_write_iops=list(device_write_iops),
        memory=flags.size(memory, "memory"), memory_reservation=flags.size(memory_reservation, "memory"),
        memory_swap=flags.size(memory_swap, "memory"), memory_swappiness=memory_swappiness,
    )
    typer.echo(ctr.id)


def register(app: typer.Typer, container_app: Optional[typer.Typer] = None, image_app: Optional[typer.Typer] = None) -> None:
    common = [("port", port), ("top", top), ("mount", mount), ("unmount", unmount), ("init", init), ("update", update)]
    # top: what follows the container are descriptors or ps options (-ef), never ours.
    ps_settings = {"ignore_unknown_options": True, "allow_interspersed_args": False}
    for name, func in common:
        for target in filter(None, (app, container_app)):
            target.command(name, context_settings=ps_settings if name == "top" else {})(func)
    app.command("umount", hidden=True)(unmount)
    app.command("diff")(diff)
    app.command("history")(history)
    if container_app is not None:
        container_app.command("umount", hidden=True)(unmount)
        container_app.command("diff")(container_diff)
    if image_app is not None:
        image_app.command("history")(history)
        image_app.command("diff")(image_diff)
