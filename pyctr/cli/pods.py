"""pod create, ps, inspect, start, stop, restart, kill, pause, unpause, rm, prune, exists, top, logs, stats,
clone (podman 4.3.1's)."""


import sys
from typing import List, Optional

import typer

from pyctr.cli import output
from pyctr.cli.common import engine
from pyctr.cli.parsing import PyctrTyper, arity

pod_app = PyctrTyper(help="Manage pods.", no_args_is_help=True)

PRUNE_WARNING = "WARNING! This will remove all stopped/exited pods..\n"
# pod create's options that pyctr's pods have no machinery for: given, they go to the engine, which
# refuses them in one line (never ignored).
NOT_BUILT = {
    "blkio_weight": "--blkio-weight", "blkio_weight_device": "--blkio-weight-device", "userns": "--userns",
    "uidmap": "--uidmap", "gidmap": "--gidmap", "subuidname": "--subuidname", "subgidname": "--subgidname",
}


def _invalid(text: str):
    from pyctr.errors import InvalidArgument

    return InvalidArgument(text)


def _not_built(params: dict) -> dict[str, str]:
    """{option: its value(s) as given} of the NOT_BUILT options that were given."""
    given = {}
    for key, option in NOT_BUILT.items():
        value = params.get(key)
        if value not in (None, [], (), False):
            given[option] = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return given


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
    exit_policy: str = typer.Option("continue", "--exit-policy", metavar="POLICY", help="continue, or stop: stop the pod when its last container exits."),
    share_parent: bool = typer.Option(True, "--share-parent", help="The containers' cgroups in the pod's (default true)."),
    infra_image: Optional[str] = typer.Option(None, "--infra-image", metavar="IMAGE", help="The infra container's image (default: the host's catatonit, in a root filesystem pyctr makes)."),
    blkio_weight: Optional[str] = typer.Option(None, "--blkio-weight", metavar="WEIGHT", help="(Not built yet.)"),
    blkio_weight_device: List[str] = typer.Option([], "--blkio-weight-device", metavar="DEVICE:WEIGHT", help="(Not built yet.)"),
    cgroup_parent: Optional[str] = typer.Option(None, "--cgroup-parent", metavar="PATH", help="The cgroup parent of the pod's containers (unless they set theirs)."),
    cpu_shares: Optional[int] = typer.Option(None, "--cpu-shares", "-c", metavar="SHARES", help="CPU shares of the pod's containers together (a pod cgroup)."),
    cpus: Optional[float] = typer.Option(None, "--cpus", metavar="N", help="CPU limit of the pod's containers together (a pod cgroup; root only)."),
    cpuset_cpus: Optional[str] = typer.Option(None, "--cpuset-cpus", metavar="CPUS", help="CPUs the pod's containers may use (0-3, 0,1; a pod cgroup)."),
    cpuset_mems: Optional[str] = typer.Option(None, "--cpuset-mems", metavar="NODES", help="Memory nodes the pod's containers may use (a pod cgroup)."),
    device: List[str] = typer.Option([], "--device", metavar="HOST[:CONTAINER][:PERMS]", help="A host device for every container of the pod."),
    device_read_bps: List[str] = typer.Option([], "--device-read-bps", metavar="DEVICE:RATE", help="A rate limit of the pod's containers together (a pod cgroup)."),
    device_write_bps: List[str] = typer.Option([], "--device-write-bps", metavar="DEVICE:RATE", help="A rate limit of the pod's containers together (a pod cgroup)."),
    memory: Optional[str] = typer.Option(None, "--memory", "-m", metavar="SIZE", help="Memory limit of the pod's containers together, e.g. 256m (a pod cgroup; root only)."),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap", metavar="SIZE", help="Memory plus swap of the pod's containers together; -1: unlimited swap."),
    shm_size: Optional[str] = typer.Option(None, "--shm-size", metavar="SIZE", help="Size of the pod's /dev/shm (default 64m)."),
    security_opt: List[str] = typer.Option([], "--security-opt", metavar="OPTION", help="Security options of the infra container."),
    sysctl: List[str] = typer.Option([], "--sysctl", metavar="NAME=VALUE", help="A namespaced kernel parameter of the pod's shared namespaces."),
    volume: List[str] = typer.Option([], "--volume", "-v", metavar="SRC:DEST[:OPTS]", help="A volume of the pod: every container gets it."),
    volumes_from: List[str] = typer.Option([], "--volumes-from", metavar="CONTAINER[:ro|rw]", help="Another container's volumes, for the pod's containers."),
    pid: Optional[str] = typer.Option(None, "--pid", metavar="MODE", help="The pod's PID namespace (host, ns:PATH); its containers' with --share pid."),
    uts: Optional[str] = typer.Option(None, "--uts", metavar="MODE", help="The pod's UTS namespace (host, ns:PATH)."),
    userns: Optional[str] = typer.Option(None, "--userns", metavar="MODE", help="(Not built yet.)"),
    uidmap: List[str] = typer.Option([], "--uidmap", metavar="MAP", help="(Not built yet.)"),
    gidmap: List[str] = typer.Option([], "--gidmap", metavar="MAP", help="(Not built yet.)"),
    subuidname: Optional[str] = typer.Option(None, "--subuidname", metavar="NAME", help="(Not built yet.)"),
    subgidname: Optional[str] = typer.Option(None, "--subgidname", metavar="NAME", help="(Not built yet.)"),
) -> None:
    """Create a new empty pod."""
    from pyctr.container import flags
    from pyctr.pod.store import DEFAULT_SHARE, PodSpec

    not_built = _not_built(dict(locals()))
    arity(names or [], 0, 1)
    if names and name:
        raise _invalid("cannot specify --name and NAME at the same time")  # (podman: the argument is the name)
    mode, attachments = flags.networks(list(network), ip=ip, ip6=ip6, mac=mac_address, aliases=list(network_alias))
    label_lines = [line for path in label_file for line in flags.label_file_lines(path)]
    spec = PodSpec(
        name=(names or [name])[0], labels=flags.key_values(label_lines + list(labels), "label"), hostname=hostname,
        infra=infra, infra_command=infra_command.split(" ") if infra_command else None, infra_name=infra_name,
        infra_image=infra_image, exit_policy=exit_policy, share_parent=share_parent, cgroup_parent=cgroup_parent,
        not_built=not_built, cpus=cpus, memory=flags.size(memory, "memory"), volumes=list(volume),
        volumes_from=list(volumes_from), shm_size=flags.size(shm_size), sysctls=flags.sysctls(list(sysctl)),
        cpu_shares=cpu_shares, cpuset_cpus=cpuset_cpus, cpuset_mems=cpuset_mems, devices=list(device),
        security_opt=list(security_opt), pid=pid, uts=uts, memory_swap=flags.size(memory_swap, "memory"),
        device_read_bps=[flags.throttle_rate(t) for t in device_read_bps],
        device_write_bps=[flags.throttle_rate(t) for t in device_write_bps],
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
        output.print_inspect(fmt, [podviews.template_view(d) for d in docs], [])
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


@pod_app.command("top", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
def top(
    ctx: typer.Context,
    pod: Optional[str] = typer.Argument(None, metavar="POD", help="The pod whose processes to show."),
    descriptors: Optional[List[str]] = typer.Argument(None, metavar="DESCRIPTORS",
                                                      help="Columns (pid user args etime comm ...)."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Act on the pod created last."),
) -> None:
    """Show the processes of a pod's containers."""
    from pyctr.cli import tabwriter

    args = list(descriptors or [])
    if latest and pod:  # (podman: with --latest every argument is a descriptor)
        args.insert(0, pod)
        pod = None
    result = engine(ctx).pods.top(pod, args, latest=latest)
    if result.rows:  # (no running container: nothing, not even the heading, as podman's)
        tabwriter.write(result.headers, result.rows)


@pod_app.command("logs")
def logs(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="POD", help="The pod whose containers' output to show."),
    container: Optional[str] = typer.Option(None, "--container", "-c", metavar="CONTAINER", help="Only this container of the pod."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep following the output."),
    tail: int = typer.Option(-1, "--tail", metavar="N", help="Show only the last N lines of each container."),
    since: Optional[str] = typer.Option(None, "--since", metavar="TIME", help="Only lines after TIME (RFC 3339, UNIX time, or a duration like 10m)."),
    until: Optional[str] = typer.Option(None, "--until", metavar="TIME", help="Only lines before TIME."),
    timestamps: bool = typer.Option(False, "--timestamps", "-t", help="Show timestamps."),
    show_names: bool = typer.Option(False, "--names", "-n", help="Prefix the lines with the containers' names (else their IDs)."),
    color: bool = typer.Option(False, "--color", help="Colour each container's lines."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Act on the pod created last."),
) -> None:
    """Show the output of a pod's containers."""
    from pyctr.cli.containers import write_log_lines
    from pyctr.units import parse_time

    arity(names or [], 0, 1)
    count, lines = engine(ctx).pods.logs((names or [None])[0], container=container, latest=latest, follow=follow,
                                         tail=tail if tail >= 0 else None, since=parse_time(since) if since else None,
                                         until=parse_time(until) if until else None)
    write_log_lines(lines, several=count > 1, names=show_names, color=color, timestamps=timestamps)


@pod_app.command("stats")
def stats(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="[POD...]", help="Pods to show (default: all)."),
    all_pods: bool = typer.Option(False, "--all", "-a", help="Show all pods (as without names)."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="FORMAT", help="json, or a Go template such as '{{.Name}} {{.CPU}}'."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Show the pod created last."),
    no_reset: bool = typer.Option(False, "--no-reset", help="Do not clear the terminal between samples."),
    no_stream: bool = typer.Option(False, "--no-stream", help="Print one sample and exit."),
) -> None:
    """Display a live stream of the resource use of pods' containers."""
    import time

    from pyctr.cli import gotemplate, podviews

    pods = engine(ctx).pods
    previous: dict = {}
    clear = not no_reset and sys.stdout.isatty()  # (podman clears a terminal only)
    while True:
        samples = pods.stats(list(names or []), all_pods=all_pods, latest=latest, previous=previous)
        if not no_stream and clear:
            sys.stdout.write("\033[2J\033[1;1H")
        rows = [podviews.stats_row(p.pod_id, p.stats) for p in samples]
        if fmt and gotemplate.is_json_format(fmt):
            output.print_json(rows, 5)
        elif fmt and not fmt.startswith("table "):  # (podman's pod stats: a heading with any template)
            headers = dict(podviews.POD_STATS.headers)
            output.print_report(podviews.POD_STATS, fmt, [headers, *podviews.POD_STATS.rows(rows)], aligned=True)
        else:
            output.print_report(podviews.POD_STATS, fmt or podviews.STATS_FORMAT, podviews.POD_STATS.rows(rows))
        sys.stdout.flush()
        if no_stream:
            return
        previous = {p.stats.id: p.stats for p in samples}
        time.sleep(1)


@pod_app.command("clone", context_settings={"help_option_names": ["--help"]})  # -h is --hostname, as podman's
def clone(
    ctx: typer.Context,
    names: List[str] = typer.Argument(None, metavar="POD [NAME]", help="The pod to copy, and the copy's name."),
    name: Optional[str] = typer.Option(None, "--name", "-n", metavar="NAME", help="The new pod's name (default: POD-clone)."),
    destroy: bool = typer.Option(False, "--destroy", help="Remove the original pod."),
    start: bool = typer.Option(False, "--start", help="Start the new pod."),
    hostname: Optional[str] = typer.Option(None, "--hostname", "-h", metavar="NAME", help="The new pod's hostname."),
    labels: List[str] = typer.Option([], "--label", "-l", metavar="KEY=VALUE", help="More metadata on the new pod."),
    label_file: List[str] = typer.Option([], "--label-file", metavar="PATH", help="Read a file of labels (KEY=VALUE lines)."),
    infra_command: Optional[str] = typer.Option(None, "--infra-command", metavar="COMMAND", help="The new infra container's command."),
    infra_conmon_pidfile: Optional[str] = typer.Option(None, "--infra-conmon-pidfile", metavar="PATH", help="Write the new infra container's shim pid here."),
    infra_name: Optional[str] = typer.Option(None, "--infra-name", metavar="NAME", help="The new infra container's name."),
    cgroup_parent: Optional[str] = typer.Option(None, "--cgroup-parent", metavar="PATH", help="The cgroup parent of the new pod's containers."),
    blkio_weight: Optional[str] = typer.Option(None, "--blkio-weight", metavar="WEIGHT", help="(Not built yet.)"),
    blkio_weight_device: List[str] = typer.Option([], "--blkio-weight-device", metavar="DEVICE:WEIGHT", help="(Not built yet.)"),
    cpu_shares: Optional[int] = typer.Option(None, "--cpu-shares", "-c", metavar="SHARES", help="CPU shares of the new pod."),
    cpus: Optional[float] = typer.Option(None, "--cpus", metavar="N", help="CPU limit of the new pod's containers together."),
    cpuset_cpus: Optional[str] = typer.Option(None, "--cpuset-cpus", metavar="CPUS", help="CPUs the new pod's containers may use."),
    cpuset_mems: Optional[str] = typer.Option(None, "--cpuset-mems", metavar="NODES", help="Memory nodes the new pod's containers may use."),
    device: List[str] = typer.Option([], "--device", metavar="HOST[:CONTAINER][:PERMS]", help="More host devices for the new pod."),
    device_read_bps: List[str] = typer.Option([], "--device-read-bps", metavar="DEVICE:RATE", help="A rate limit of the new pod."),
    device_write_bps: List[str] = typer.Option([], "--device-write-bps", metavar="DEVICE:RATE", help="A rate limit of the new pod."),
    memory: Optional[str] = typer.Option(None, "--memory", "-m", metavar="SIZE", help="Memory limit of the new pod's containers together."),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap", metavar="SIZE", help="Memory plus swap of the new pod."),
    shm_size: Optional[str] = typer.Option(None, "--shm-size", metavar="SIZE", help="Size of the new pod's /dev/shm."),
    security_opt: List[str] = typer.Option([], "--security-opt", metavar="OPTION", help="More security options of the new infra container."),
    sysctl: List[str] = typer.Option([], "--sysctl", metavar="NAME=VALUE", help="More namespaced kernel parameters of the new pod."),
    volume: List[str] = typer.Option([], "--volume", "-v", metavar="SRC:DEST[:OPTS]", help="More volumes of the new pod."),
    volumes_from: List[str] = typer.Option([], "--volumes-from", metavar="CONTAINER[:ro|rw]", help="More containers whose volumes the new pod gets."),
    pid: Optional[str] = typer.Option(None, "--pid", metavar="MODE", help="The new pod's PID namespace."),
    uts: Optional[str] = typer.Option(None, "--uts", metavar="MODE", help="The new pod's UTS namespace."),
    userns: Optional[str] = typer.Option(None, "--userns", metavar="MODE", help="(Not built yet.)"),
    uidmap: List[str] = typer.Option([], "--uidmap", metavar="MAP", help="(Not built yet.)"),
    gidmap: List[str] = typer.Option([], "--gidmap", metavar="MAP", help="(Not built yet.)"),
    subuidname: Optional[str] = typer.Option(None, "--subuidname", metavar="NAME", help="(Not built yet.)"),
    subgidname: Optional[str] = typer.Option(None, "--subgidname", metavar="NAME", help="(Not built yet.)"),
) -> None:
    """Create a copy of a pod and its containers."""
    from pyctr.container import flags

    not_built = _not_built(dict(locals()))
    names = list(names or [])
    if not 1 <= len(names) <= 2:  # (cobra's RangeArgs, podman's words)
        raise _invalid(f"accepts between 1 and 2 arg(s), received {len(names)}")
    label_lines = [line for path in label_file for line in flags.label_file_lines(path)]
    changes = dict(hostname=hostname, infra_command=infra_command.split(" ") if infra_command else None,
                   infra_conmon_pidfile=infra_conmon_pidfile, infra_name=infra_name, cgroup_parent=cgroup_parent,
                   cpus=cpus, memory=flags.size(memory, "memory"), not_built=not_built, volumes=list(volume),
                   volumes_from=list(volumes_from), shm_size=flags.size(shm_size), sysctls=flags.sysctls(list(sysctl)),
                   cpu_shares=cpu_shares, cpuset_cpus=cpuset_cpus, cpuset_mems=cpuset_mems, devices=list(device),
                   security_opt=list(security_opt), pid=pid, uts=uts,
                   memory_swap=flags.size(memory_swap, "memory"),
                   device_read_bps=[flags.throttle_rate(t) for t in device_read_bps],
                   device_write_bps=[flags.throttle_rate(t) for t in device_write_bps], create_command=["pyctr", *sys.argv[1:]])
    pod = engine(ctx).pods.clone(names[0], new_name=name or (names[1] if len(names) > 1 else None),
                                 labels=flags.key_values(label_lines + list(labels), "label"), changes=changes,
                                 destroy=destroy, start=start)
    typer.echo(pod.id)


def register(app: typer.Typer) -> None:
    app.add_typer(pod_app, name="pod")
