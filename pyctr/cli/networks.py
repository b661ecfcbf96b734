"""network create, ls, inspect, rm, prune, exists, connect, disconnect, reload (podman 4.3.1's)."""


from typing import List, Optional

import typer

from pyctr.cli import output
from pyctr.cli.common import engine
from pyctr.cli.parsing import PyctrTyper, arity

network_app = PyctrTyper(help="Manage networks.", no_args_is_help=True)

PRUNE_WARNING = "WARNING! This will remove all networks not used by at least one container.\n"


@network_app.command("create")
def create(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="[NAME]", help="Network name (default: the next free pyctrN)."),
    driver: str = typer.Option("bridge", "--driver", "-d", metavar="DRIVER", help="Driver to manage the network (only \"bridge\")."),
    subnets: List[str] = typer.Option([], "--subnet", metavar="SUBNET", help="Subnet in CIDR format (repeatable)."),
    gateways: List[str] = typer.Option([], "--gateway", metavar="IP", help="IPv4 or IPv6 gateway for the subnet (one per --subnet)."),
    ip_ranges: List[str] = typer.Option([], "--ip-range", metavar="RANGE", help="Allocate container IPs from a CIDR range of the subnet."),
    internal: bool = typer.Option(False, "--internal", help="Restrict external access from this network."),
    labels: List[str] = typer.Option([], "--label", metavar="KEY=VALUE", help="Set metadata on a network."),
    opts: List[str] = typer.Option([], "--opt", "-o", metavar="KEY=VALUE",
                                   help="Driver options: mtu, vlan, isolate, metric, vrf."),
    disable_dns: bool = typer.Option(False, "--disable-dns", help="Disable DNS plugin."),
    ipv6: bool = typer.Option(False, "--ipv6", help="Enable IPv6 networking (needs an IPv6 --subnet)."),
    ipam_driver: Optional[str] = typer.Option(None, "--ipam-driver", metavar="DRIVER", help="IP address management driver (only host-local)."),
    ignore: bool = typer.Option(False, "--ignore", help="Do nothing if the network exists (podman 4.4's; Quadlet units use it)."),
) -> None:
    """Create a network."""
    from pyctr.container.flags import key_values
    from pyctr.network.config import CreateRequest

    arity(names or [], 0, 1)
    request = CreateRequest((names or [""])[0], driver=driver, subnets=list(subnets), gateways=list(gateways),
                            ip_ranges=list(ip_ranges), internal=internal, disable_dns=disable_dns, ipv6=ipv6,
                            labels=key_values(labels, "label"), options=key_values(opts, "opt"),
                            ipam_driver=ipam_driver or "")
    typer.echo(engine(ctx).networks.create(request, ignore=ignore).name)


@network_app.command("ls")
def ls(
    ctx: typer.Context,
    filters: List[str] = typer.Option([], "--filter", "-f", metavar="KEY=VALUE",
                                      help="Filter: name, id, driver, label, until, dangling."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.Name}}'."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate the network ID."),
    noheading: bool = typer.Option(False, "--noheading", help="Do not print headers."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Display only names."),
) -> None:
    """List networks."""
    networks = engine(ctx).networks.list(filters=filters)
    if quiet:  # as podman 4.3.1: names, not IDs
        if networks:
            typer.echo("\n".join(n.name for n in networks))
        return
    from pyctr.cli import gotemplate, reporters, views

    docs = [n.to_json() for n in networks]
    if fmt and gotemplate.is_json_format(fmt):
        output.print_json(docs, 2)
        return
    # Unlike volume ls, an empty list still has its heading.
    output.print_report(reporters.NETWORKS, fmt or "table {{.ID}}\t{{.Name}}\t{{.Driver}}",
                        reporters.NETWORKS.rows([views.network_row(d, no_trunc=no_trunc) for d in docs], docs),
                        heading=not noheading)


network_app.command("list", hidden=True)(ls)


@network_app.command("inspect")
def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="NETWORK", help="Networks to inspect."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json (default), or a Go template."),
) -> None:
    """Show networks' details."""
    import sys

    from pyctr.cli import gotemplate, reporters, views

    arity(names or [], 1)
    found, errors = engine(ctx).networks.inspect(names)
    docs = [n.to_json() for n in found]
    if fmt and not gotemplate.is_json_format(fmt):
        # Each network is podman's types.Network seen through interface{}: Go field names.
        rows = reporters.NETWORK_INSPECT.rows([views.network_fields(d) for d in docs], docs)
        output.print_report(reporters.NETWORK_INSPECT, fmt, rows, prefix=reporters.INSPECT_PREFIX)
    else:
        output.print_json(docs, 5)
    if errors:
        # podman: the later failures as lines of their own, the first one as the error.
        for exc in errors[1:]:
            sys.stderr.write(f"error inspecting object: {exc}\n")
        raise type(errors[0])(f"inspecting object: {errors[0]}") from None


@network_app.command("rm")
def rm(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="NETWORK", help="Networks to remove."),
    force: bool = typer.Option(False, "--force", "-f", help="Remove the containers using them too."),
    timeout: Optional[int] = typer.Option(None, "--time", "-t", metavar="SECONDS",
                                          help="Seconds to wait for running containers to stop before killing them."),
) -> None:
    """Remove networks."""
    from pyctr.engine.reports import removal_exit_code

    arity(names or [], 1)
    reports = engine(ctx).networks.remove(names, force=force, timeout=timeout)
    output.print_reports(reports, exit_code=removal_exit_code(reports))


network_app.command("remove", hidden=True)(rm)


@network_app.command("prune")
def prune(
    ctx: typer.Context,
    filters: List[str] = typer.Option([], "--filter", metavar="KEY=VALUE", help="Provide filter values (label, until)."),
    force: bool = typer.Option(False, "--force", "-f", help="Do not ask for confirmation."),
) -> None:
    """Remove networks no container uses."""
    if not force:
        from pyctr.cli.confirm import confirm

        # As podman: the question first (no list of what would go), the filters checked after it.
        if not confirm(PRUNE_WARNING):
            return
    for name in engine(ctx).networks.prune(filters=filters):
        typer.echo(name)


@network_app.command("exists")
def exists(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="NETWORK", help="Network name or ID."),
) -> None:
    """Exit 0 if the network exists, 1 if not; print nothing."""
    arity(names or [], 1, 1)
    raise typer.Exit(0 if engine(ctx).networks.exists(names[0]) else 1)


@network_app.command("connect")
def connect(
    ctx: typer.Context,
    args: List[str] = typer.Argument(None, metavar="NETWORK CONTAINER", help="The network, then the container."),
    aliases: List[str] = typer.Option([], "--alias", metavar="NAME", help="Network-scoped alias for the container."),
    ip: Optional[str] = typer.Option(None, "--ip", metavar="IPv4", help="Static IPv4 address on the network."),
    ip6: Optional[str] = typer.Option(None, "--ip6", metavar="IPv6", help="Static IPv6 address on the network."),
    mac: Optional[str] = typer.Option(None, "--mac-address", metavar="MAC", help="Static MAC address on the network."),
) -> None:
    """Connect a container to a network (a running one at once)."""
    arity(args or [], 2, 2)
    engine(ctx).networks.connect(args[0], args[1], aliases=list(aliases), ips=[a for a in (ip, ip6) if a],
                                 mac=mac or "")


@network_app.command("disconnect")
def disconnect(
    ctx: typer.Context,
    args: List[str] = typer.Argument(None, metavar="NETWORK CONTAINER", help="The network, then the container."),
    force: bool = typer.Option(False, "--force", "-f", help="Force the container to disconnect from a network."),
) -> None:
    """Disconnect a container from a network."""
    arity(args or [], 2, 2)
    engine(ctx).networks.disconnect(args[0], args[1], force=force)


@network_app.command("reload")
def reload(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers whose networks to set up again."),
    all_containers: bool = typer.Option(False, "--all", "-a", help="Reload the networks of all running containers."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Act on the latest container pyctr is aware of."),
) -> None:
    """Set up containers' networks again (their firewall rules, after a firewall reload)."""
    reports = engine(ctx).networks.reload(list(containers or []), all_containers=all_containers, latest=latest)
    output.print_reports(reports, label=lambda report: report.id, exit_code=125)


def register(app: typer.Typer) -> None:
    app.add_typer(network_app, name="network")
