"""pod create, ps, inspect, start, stop, restart, kill, pause, unpause, rm, prune, exists (podman 4.3.1's)."""


import sys
from typing import List, Optional

import typer

from pyctr.cli import output
from pyctr.cli.common import engine
from pyctr.cli.parsing import PyctrGroup, PyctrTyper, arity

LATER = ("top", "logs", "stats", "clone")  # podman's pod commands not built yet


class PodGroup(PyctrGroup):
    """`pod top|logs|stats|clone`: one line saying they are not built yet (not "No such command")."""

    def resolve_command(self, ctx, args):
        if args and args[0] in LATER:
            raise _invalid(f"pod {args[0]} is not built yet (pods' first part is: create, ps, inspect, start, stop, "
                           "restart, kill, pause, unpause, rm, prune, exists)")
        return super().resolve_command(ctx, args)


pod_app = PyctrTyper(help="Manage pods.", no_args_is_help=True, cls=PodGroup)

PRUNE_WARNING = "WARNING! This will remove all stopped/exited pods..\n"
# pod create's options whose machinery pyctr has not (pod-level cgroups, an infra container from an
# image, namespaces other than ipc/net/uts...): each refused in one line, never ignored.
NOT_BUILT = {
    "blkio_weight": "--blkio-weight", "blkio_weight_device": "--blkio-weight-device", "cgroup_parent": "--cgroup-parent",
    "cpu_shares": "--cpu-shares", "cpus": "--cpus", "cpuset_cpus": "--cpuset-cpus", "cpuset_mems": "--cpuset-mems",
    "device": "--device", "device_read_bps": "--device-read-bps", "device_write_bps": "--device-write-bps",
    "memory": "--memory", "memory_swap": "--memory-swap", "shm_size": "--shm-size", "security_opt": "--security-opt",
    "sysctl": "--sysctl", "volume": "--volume", "volumes_from": "--volumes-from", "pid": "--pid", "uts": "--uts",
    "userns": "--userns", "uidmap": "--uidmap", "gidmap": "--gidmap", "subuidname": "--subuidname",
    "subgidname": "--subgidname", "infra_image": "--infra-image",
}


def _invalid(text: str):
    from pyctr.errors import InvalidArgument

    return InvalidArgument(text)


def _not_built(params: dict) -> None:
    for key, option in NOT_BUILT.items():
        value = params.get(key)
        if value not in (None, [], (), False):
            shown = value if isinstance(value, str) else ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            what = ("an infra container from an image (pyctr's runs the host's catatonit)" if key == "infra_image"
                    else "pod-level namespaces other than ipc, net and uts" if key in ("pid", "uts", "userns", "uidmap", "gidmap",
                                                                                         "subuidname", "subgidname")
                    else "pod-level resources and mounts (a pod cgroup)")
            raise _invalid(f"pod create {option} {shown}: {what} is not built yet; set it on the pod's containers")
    if params["exit_policy"] not in ("continue", "stop"):
        raise _invalid(f'invalid pod exit policy: "{params["exit_policy"]}"')
    if params["exit_policy"] == "stop":
        raise _invalid("pod create --exit-policy stop: stopping the pod when its last container exits is not built yet")
    if params["share_parent"] is False:
        raise _invalid("pod create --share-parent=false: pod cgroups are not built yet")


@pod_app.command("create", context_settings={"help_option_names": ["--help"]})  # -h is --hostname, as podman's
def create(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="[NAME]", help="The pod's name (as --name)."),
    name: Optional[str] = typer.Option(None, "--name", "-n", metavar="NAME", help="Assign a name to the pod."),
    labels: List[str] = typer.Option([], "--label", "-l", metavar="KEY=VALUE", help="Set metadata on the pod."),
    label_file: List[str] = typer.Option([], "--label-file", metavar="PATH", help="Read a file of labels (KEY=VALUE lines)."),
    hostname: Optional[str] = typer.Option(None, "--hostname", "-h", metavar="NAME", help="The pod's hostname (default: its name)."),
    infra: bool = typer.Option(True, "--infra", help="Create an infra container holding the shared namespaces (default true)."),
    infra_command: Optional[str] = typer.Option(None, "--infra-command", metavar="COMMAND", help="The infra container's command (default: /catatonit -P)."),
    infra_name: Optional[str] = typer.Option(None, "--infra-name", metavar="NAME", help="The infra container's name (default: <pod ID>-infra)."),
    infra_conmon_pidfile: Optional[str] = typer.Option(None, "--infra-conmon-pidfile", metavar="PATH", help="Write the infra container's shim pid here."),
    share: Optional[str] = typer.Option(None, "--share", metavar="KINDS", help="Namespaces the containers share: ipc,net,uts (default), cgroup, pid, or none."),
    publish: List[str] = typer.Option([], "--publish", "-p", metavar="PORT", help="Publish a port of the pod (the infra container's)."),
    network: List[str] = typer.Option([], "--network", metavar="NETWORK", help="The pod's network(s), or a mode (host, none, private, slirp4netns)."),
    network_alias: List[str] = typer.Option([], "--network-alias", metavar="NAME", help="More names of the pod in its network's DNS."),
    ip: Optional[str] = typer.Option(None, "--ip", metavar="IPv4", help="A static IPv4 address."),
    ip6: Optional[str] = typer.Option(None, "--ip6", metavar="IPv6", help="A static IPv6 address."),
    mac_address: Optional[str] = typer.Option(None, "--mac-address", metavar="MAC", help="A static MAC address."),
    add_host: List[str] = typer.Option([], "--add-host", metavar="HOST:IP", help="Add a line to the pod's /etc/hosts."),
    dns: List[str] = typer.Option([], "--dns", metavar="IP", help="A DNS server of the pod."),
    dns_option: List[str] = typer.Option([], "--dns-option", metavar="OPTION", help="A resolv.conf option."),
    dns_search: List[str] = typer.Option([], "--dns-search", metavar="DOMAIN", help="A DNS search domain."),
    no_hosts: bool = typer.Option(False, "--no-hosts", help="Do not write /etc/hosts."),
    pod_id_file: Optional[str] = typer.Option(None, "--pod-id-file", metavar="PATH", help="Write the pod's ID to this file."),
    replace: bool = typer.Option(False, "--replace", help="Remove a pod of the same name first."),
    exit_policy: str = typer.Option("continue", "--exit-policy", metavar="POLICY", help="continue (stop is not built yet)."),
    share_parent: bool = typer.Option(True, "--share-parent", help="(Pod cgroups are not built: only true.)"),
    infra_image: Optional[str] = typer.Option(None, "--infra-image", metavar="IMAGE", help="(Not built: the infra container runs the host's catatonit.)"),
    blkio_weight: Optional[str] = typer.Option(None, "--blkio-weight", metavar="WEIGHT", help="(Not built yet.)"),
    blkio_weight_device: List[str] = typer.Option([], "--blkio-weight-device", metavar="DEVICE:WEIGHT", help="(Not built yet.)"),
    cgroup_parent: Optional[str] = typer.Option(None, "--cgroup-parent", metavar="PATH", help="(Not built yet.)"),
    cpu_shares: Optional[str] = typer.Option(None, "--cpu-shares", "-c", metavar="SHARES", help="(Not built yet.)"),
    cpus: Optional[str] = typer.Option(None, "--cpus", metavar="N", help="(Not built yet.)"),
    cpuset_cpus: Optional[str] = typer.Option(None, "--cpuset-cpus", metavar="CPUS", help="(Not built yet.)"),
    cpuset_mems: Optional[str] = typer.Option(None, "--cpuset-mems", metavar="NODES", help="(Not built yet.)"),
    device: List[str] = typer.Option([], "--device", metavar="DEVICE", help="(Not built yet.)"),
    device_read_bps: List[str] = typer.Option([], "--device-read-bps", metavar="DEVICE:RATE", help="(Not built yet.)"),
    device_write_bps: List[str] = typer.Option([], "--device-write-bps", metavar="DEVICE:RATE", help="(Not built yet.)"),
    memory: Optional[str] = typer.Option(None, "--memory", "-m", metavar="SIZE", help="(Not built yet.)"),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap", metavar="SIZE", help="(Not built yet.)"),
    shm_size: Optional[str] = typer.Option(None, "--shm-size", metavar="SIZE", help="(Not built yet.)"),
    security_opt: List[str] = typer.Option([], "--security-opt", metavar="OPTION", help="(Not built yet.)"),
    sysctl: List[str] = typer.Option([], "--sysctl", metavar="NAME=VALUE", help="(Not built yet.)"),
    volume: List[str] = typer.Option([], "--volume", "-v", metavar="VOLUME", help="(Not built yet.)"),
    volumes_from: List[str] = typer.Option([], "--volumes-from", metavar="CONTAINER", help="(Not built yet.)"),
    pid: Optional[str] = typer.Option(None, "--pid", metavar="MODE", help="(Not built yet.)"),
    uts: Optional[str] = typer.Option(None, "--uts", metavar="MODE", help="(Not built yet.)"),
    userns: Optional[str] = typer.Option(None, "--userns", metavar="MODE", help="(Not built yet.)"),
    uidmap: List[str] = typer.Option([], "--uidmap", metavar="MAP", help="(Not built yet.)"),
    gidmap: List[str] = typer.Option([], "--gidmap", metavar="MAP", help="(Not built yet.)"),
    subuidname: Optional[str] = typer.Option(None, "--subuidname", metavar="NAME", help="(Not built yet.)"),
    subgidname: Optional[str] = typer.Option(None, "--subgidname", metavar="NAME", help="(Not built yet.)"),
) -> None:
    """Create a new empty pod."""
    from pyctr.container import flags
    from pyctr.pod.store import DEFAULT_SHARE, PodSpec

    params = dict(locals())
    _not_built(params)
    arity(names or [], 0, 1)
    if names and name:
        raise _invalid("cannot specify --name and NAME at the same time")  # (podman: the argument is the name)
    mode, attachments = flags.networks(list(network), ip=ip, ip6=ip6, mac=mac_address, aliases=list(network_alias))
    label_lines = [line for path in label_file for line in flags.label_file_lines(path)]
    spec = PodSpec(
        name=(names or [name])[0], labels=flags.key_values(label_lines + list(labels), "label"), hostname=hostname,
        infra=infra, infra_command=[infra_command] if infra_command else None, infra_name=infra_name,
        share=[k for k in (share.split(",") if share is not None else DEFAULT_SHARE) if k],
        ports=[port for text in publish for port in flags.publish(text)], network_mode=mode, networks=attachments,
        add_hosts=list(add_host), dns=list(dns), dns_search=list(dns_search), dns_options=list(dns_option),
        no_hosts=no_hosts, infra_conmon_pidfile=infra_conmon_pidfile, create_command=["pyctr", *sys.argv[1:]],
    )
    pod = engine(ctx).pods.create(spec, replace=replace)
    if pod_id_file:
        with open(pod_id_file, "w") as f:
            f.write(pod.id)
    typer.echo(pod.id)


@pod_app.command("ps")
def ps(
    ctx: typer.Context,
    ctr_ids: bool = typer.Option(False, "--ctr-ids", help="Display the IDs of the pod's containers."),
    ctr_names: bool = typer.Option(False, "--ctr-names", help="Display the names of the pod's containers."),
    ctr_status: bool = typer.Option(False, "--ctr-status", help="Display the states of the pod's containers."),
    filters: List[str] = typer.Option([], "--filter", "-f", metavar="KEY=VALUE",
                                      help="Filter: id, name, label, status, ctr-names, ctr-ids, ctr-status, ctr-number, network, until."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.Name}}'."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Show the pod created last."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate pod and container IDs."),
    noheading: bool = typer.Option(False, "--noheading", help="Do not print headers."),
    namespaces: bool = typer.Option(False, "--ns", help="Display the pod's cgroup and namespaces."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only pod IDs."),
    sort: str = typer.Option("created", "--sort", metavar="KEY", help="Sort by created, id, name, number or status."),
) -> None:
    """List pods."""
    from pyctr.cli import gotemplate, podviews

    pods = engine(ctx).pods.list(filters=filters, latest=latest, sort=sort)
    if quiet:
        if pods:
            typer.echo("\n".join(p.id for p in pods))
        return
    if fmt and gotemplate.is_json_format(fmt):
        output.print_json([podviews.ps_json(p) for p in pods], 2)
        return
    fmt = fmt or podviews.table_format(ctr_ids=ctr_ids, ctr_names=ctr_names, ctr_status=ctr_status, namespaces=namespaces)
    rows = podviews.POD_PS.rows([podviews.ps_row(p, no_trunc=no_trunc) for p in pods], [podviews.ps_json(p) for p in pods])
    output.print_report(podviews.POD_PS, fmt, rows, heading=not noheading)


pod_app.command("ls", hidden=True)(ps)
pod_app.command("list", hidden=True)(ps)


@pod_app.command("inspect")
def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="POD", help="Pods to inspect."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json (default), or a Go template."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Act on the pod created last."),
) -> None:
    """Show pods' details."""
    from pyctr.cli import podviews

    found, errors = engine(ctx).pods.inspect(list(names or []), latest=latest)
    docs = [podviews.inspect_document(info) for info in found]
    if len(docs) == 1 and not errors and not fmt:  # podman 4.3.1 prints one pod as an object, not a list
        output.print_json(docs[0], 5)
        return
    if fmt and fmt.strip() != "json":
        output.print_inspect(fmt, docs, [])
    else:
        output.print_json(docs, 5)
    if errors:  # podman: the later failures as lines of their own, the first one as the error
        for exc in errors[1:]:
            sys.stderr.write(f"error inspecting object: {exc}\n")
        raise type(errors[0])(f"inspecting object: {errors[0]}")


def _print(reports, exit_code=None) -> None:
    output.print_reports(reports, label=lambda r: r.id or r.name, exit_code=exit_code)


@pod_app.command("start")
def start(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="POD", help="Pods to start."),
    all_pods: bool = typer.Option(False, "--all", "-a", help="Start all pods."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Act on the pod created last."),
    pod_id_file: List[str] = typer.Option([], "--pod-id-file", metavar="PATH", help="Read the pod ID from the file."),
) -> None:
    """Start pods: their infra container, then the others."""
    _print(engine(ctx).pods.start(_with_id_files(ctx, names, pod_id_file), all_pods=all_pods, latest=latest))


def _with_id_files(ctx, names, files) -> list[str]:
    return list(names or []) + engine(ctx).pods.read_id_files(files or [])


@pod_app.command("stop")
def stop(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="POD", help="Pods to stop."),
    all_pods: bool = typer.Option(False, "--all", "-a", help="Stop all running pods."),
    ignore: bool = typer.Option(False, "--ignore", "-i", help="Ignore pods that do not exist."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Act on the pod created last."),
    pod_id_file: List[str] = typer.Option([], "--pod-id-file", metavar="PATH", help="Read the pod ID from the file."),
    timeout: Optional[int] = typer.Option(None, "--time", "-t", metavar="SECONDS", help="Seconds to wait before killing the containers."),
) -> None:
    """Stop pods: their containers, the infra container last."""
    _print(engine(ctx).pods.stop(_with_id_files(ctx, names, pod_id_file), all_pods=all_pods, latest=latest, ignore=ignore,
                                 timeout=timeout))


@pod_app.command("restart")
def restart(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="POD", help="Pods to restart."),
    all_pods: bool = typer.Option(False, "--all", "-a", help="Restart all pods."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Act on the pod created last."),
) -> None:
    """Restart pods."""
    _print(engine(ctx).pods.restart(list(names or []), all_pods=all_pods, latest=latest))


@pod_app.command("kill")
def kill(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="POD", help="Pods to kill."),
    all_pods: bool = typer.Option(False, "--all", "-a", help="Kill all pods."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Act on the pod created last."),
    signal: str = typer.Option("KILL", "--signal", "-s", metavar="SIGNAL", help="The signal to send (default KILL)."),
) -> None:
    """Send a signal to the pods' containers."""
    _print(engine(ctx).pods.kill(list(names or []), all_pods=all_pods, latest=latest, signal=signal))


@pod_app.command("pause")
def pause(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="POD", help="Pods to pause."),
    all_pods: bool = typer.Option(False, "--all", "-a", help="Pause all pods."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Act on the pod created last."),
) -> None:
    """Pause the pods' running containers."""
    _print(engine(ctx).pods.pause(list(names or []), all_pods=all_pods, latest=latest))


@pod_app.command("unpause")
def unpause(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="POD", help="Pods to unpause."),
    all_pods: bool = typer.Option(False, "--all", "-a", help="Unpause all pods."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Act on the pod created last."),
) -> None:
    """Unpause the pods' paused containers."""
    _print(engine(ctx).pods.unpause(list(names or []), all_pods=all_pods, latest=latest))


@pod_app.command("rm")
def rm(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="POD", help="Pods to remove."),
    all_pods: bool = typer.Option(False, "--all", "-a", help="Remove all pods."),
    force: bool = typer.Option(False, "--force", "-f", help="Stop and remove running containers too."),
    ignore: bool = typer.Option(False, "--ignore", "-i", help="Ignore pods that do not exist."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Act on the pod created last."),
    pod_id_file: List[str] = typer.Option([], "--pod-id-file", metavar="PATH", help="Read the pod ID from the file."),
    timeout: Optional[int] = typer.Option(None, "--time", "-t", metavar="SECONDS", help="Seconds to wait before killing running containers."),
) -> None:
    """Remove pods and their containers."""
    from pyctr.errors import NotFound

    reports = engine(ctx).pods.remove(_with_id_files(ctx, names, pod_id_file), all_pods=all_pods, latest=latest, force=force,
                                      ignore=ignore, timeout=timeout)
    failed = [r.error for r in reports if r.error is not None]
    # podman: 1 when a pod is not there, else the error's (125)
    _print(reports, exit_code=(1 if isinstance(failed[-1], NotFound) else failed[-1].exit_code) if failed else None)


@pod_app.command("prune")
def prune(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", "-f", help="Do not ask for confirmation."),
) -> None:
    """Remove every pod none of whose containers runs."""
    if not force:
        from pyctr.cli.confirm import confirm

        if not confirm(PRUNE_WARNING):
            return
    for pod_id in engine(ctx).pods.prune():
        typer.echo(pod_id)


@pod_app.command("exists")
def exists(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="POD", help="Pod name or ID."),
) -> None:
    """Exit 0 if the pod exists, 1 if not; print nothing."""
    arity(names or [], 1, 1)
    raise typer.Exit(0 if engine(ctx).pods.exists(names[0]) else 1)


def register(app: typer.Typer) -> None:
    app.add_typer(pod_app, name="pod")
