"""create, run and start: the container flags podman users know, and the attached session."""


import os
import sys
from typing import List, Optional

import typer

from pyctr.cli.common import authfile_option, engine, tls_verify_option
from pyctr.cli.output import print_reports
from pyctr.cli.parsing import PyctrCommand


def _spec(params: dict):
    """The container spec from run/create's flags (see pyctr.cli.runspec)."""
    from pyctr.cli.runspec import spec_from_params

    return spec_from_params(params)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        sys.stderr.write(f"WARNING: {warning}\n")


def _write_cidfile(path: str, container_id: str) -> None:
    from pyctr.errors import InvalidArgument

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise InvalidArgument(f"container id file {path} exists: remove it first") from None
    with os.fdopen(fd, "w") as f:
        f.write(container_id)


def _create(params: dict) -> None:
    from pyctr.cli.progress import for_stream

    from pyctr.container import flags

    flags.attach_streams(list(params["attach_streams"]))
    eng, spec = engine(params["ctx"]), _spec(params)
    container = eng.containers.create(spec, replace=params["replace"], progress=for_stream(params["quiet"]))
    _warn(eng.containers.warnings(spec))
    if params["cidfile"]:
        _write_cidfile(params["cidfile"], container.id)
    if spec.lifecycle.log_driver != "passthrough":  # as podman: our stdout will be the container's
        typer.echo(container.id)


def _run(params: dict) -> None:
    from pyctr.cli.attached import proxy_session, user_terminal_size
    from pyctr.cli.progress import for_stream
    from pyctr.runtime.shimlauncher import take_prestarted

    # Usually started by main() before the options were parsed (see runs_a_container): it boots while we work.
    shim = None if params["preserve_fds"] else take_prestarted()  # its pipes must not pass for our fds 3..
    try:
        from pyctr.container import flags

        streams = flags.attach_streams(list(params["attach_streams"])) or ("stdout", "stderr")
        eng, spec = engine(params["ctx"]), _spec(params)
    except BaseException:
        if shim is not None:
            shim.abandon()
        raise

    def attach(session) -> int | None:
        return proxy_session(eng, session, sig_proxy=params["sig_proxy"], detach_keys=params["detach_keys"], streams=streams)

    detach = params["detach"]
    result = eng.containers.run(
        spec, replace=params["replace"], remove_image=params["rmi"], progress=for_stream(params["quiet"]), shim=shim,
        attach=None if detach else attach, console_size=user_terminal_size() if spec.process.tty and not detach else None,
        on_created=lambda container: _write_cidfile(params["cidfile"], container.id) if params["cidfile"] else None,
        preserve_fds=params["preserve_fds"],
    )
    _warn(result.warnings)
    for error in result.errors:
        sys.stderr.write(f"Error: {error}\n")
    if detach:
        if spec.lifecycle.log_driver != "passthrough":  # as podman: our stdout is the container's
            typer.echo(result.container.id)
        return
    raise typer.Exit(result.exit_code if result.exit_code is not None else 0)


def start(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(None, metavar="CONTAINER", help="Containers to start."),
    attach: bool = typer.Option(False, "--attach", "-a", help="Attach to the container's output (one container)."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Attach stdin too."),
    sig_proxy: bool = typer.Option(True, "--sig-proxy", help="Forward signals to the container when attached."),
    detach_keys: str = typer.Option("ctrl-p,ctrl-q", "--detach-keys", metavar="KEYS", help="Keys that detach (only from a terminal, with -t; \"\" turns detaching off)."),
    all_containers: bool = typer.Option(False, "--all", help="Start all containers that are not running."),
    filters: List[str] = typer.Option([], "--filter", "-f", metavar="KEY=VALUE", help="Start the containers that match (ps's filters)."),
    latest: bool = typer.Option(False, "--latest", "-l", help="Start the latest container created."),
) -> None:
    """Start one or more created or stopped containers."""
    eng = engine(ctx)
    containers = list(containers or [])
    if attach or interactive:
        from pyctr.cli.attached import proxy_session, user_terminal_size

        target = eng.containers.attach_target(containers, all_containers=all_containers, latest=latest,
                                              filters=list(filters))
        # The terminal's size from the start (used only by a -t container): a resize comes too late for its first command.
        session = eng.containers.attach(target, start=True, console_size=user_terminal_size())
        code = proxy_session(eng, session, sig_proxy=sig_proxy, detach_keys=detach_keys, stdin=interactive or session.stdin)
        raise typer.Exit(code if code is not None else 0)
    print_reports(eng.containers.start(containers, all_containers=all_containers, latest=latest, filters=list(filters)))


# Flags that only `run` has (create drops them from the command it builds: see CreateCommand).
RUN_ONLY = ("detach", "sig_proxy", "detach_keys", "rmi", "passwd", "preserve_fds")
CREATE_ONLY = ("init_ctr",)
CREATE_HELP = "Create a container without starting it; prints its ID."


def run(
    ctx: typer.Context,
    image: str = typer.Argument(..., metavar="IMAGE", help="Image to run."),
    command: Optional[List[str]] = typer.Argument(None, metavar="COMMAND", help="Command and arguments (default: the image's)."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background and print the container ID."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Keep stdin open."),
    tty: bool = typer.Option(False, "--tty", "-t", help="Allocate a pseudo-terminal."),
    rm: bool = typer.Option(False, "--rm", help="Remove the container when it exits."),
    name: Optional[str] = typer.Option(None, "--name", metavar="NAME", help="Name of the container."),
    env: List[str] = typer.Option([], "--env", "-e", metavar="KEY=VALUE", help="Set an environment variable (KEY alone copies pyctr's)."),
    env_file: List[str] = typer.Option([], "--env-file", metavar="PATH", help="Read environment variables from a file."),
    workdir: Optional[str] = typer.Option(None, "--workdir", "-w", metavar="DIR", help="Working directory inside the container."),
    user: Optional[str] = typer.Option(None, "--user", "-u", metavar="USER[:GROUP]", help="User (name or UID) and group to run as."),
    entrypoint: Optional[str] = typer.Option(None, "--entrypoint", metavar="CMD", help="Override the image's entrypoint (a JSON list for several words)."),
    hostname: Optional[str] = typer.Option(None, "--hostname", "-h", metavar="NAME", help="Container host name (default: the short ID)."),
    volume: List[str] = typer.Option([], "--volume", "-v", metavar="SRC:DEST[:OPTS]", help="Bind mount a host path or a named volume."),
    mount: List[str] = typer.Option([], "--mount", metavar="type=TYPE,...", help="Attach a bind, volume or tmpfs mount."),
    tmpfs: List[str] = typer.Option([], "--tmpfs", metavar="DEST[:OPTS]", help="Mount a tmpfs."),
    read_only: bool = typer.Option(False, "--read-only", help="Mount the root filesystem read-only."),
    cap_add: List[str] = typer.Option([], "--cap-add", metavar="CAP", help="Add a capability."),
    cap_drop: List[str] = typer.Option([], "--cap-drop", metavar="CAP", help="Drop a capability."),
    privileged: bool = typer.Option(False, "--privileged", help="All capabilities, no seccomp, no masked paths."),
    security_opt: List[str] = typer.Option([], "--security-opt", metavar="OPT", help="no-new-privileges, seccomp=unconfined|PROFILE.json, mask=PATHS, unmask=PATHS|ALL, proc-opts=OPTS, apparmor=, label=."),
    ulimit: List[str] = typer.Option([], "--ulimit", metavar="NAME=SOFT[:HARD]", help="Resource limit, e.g. nofile=1024:2048."),
    init: bool = typer.Option(False, "--init", help="Run an init (tini) as PID 1 that reaps zombies and forwards signals."),
    stop_signal: Optional[str] = typer.Option(None, "--stop-signal", metavar="SIGNAL", help="Signal that stops the container (default SIGTERM)."),
    stop_timeout: Optional[int] = typer.Option(None, "--stop-timeout", metavar="SECONDS", help="Seconds to wait before killing on stop (default 10)."),
    cidfile: Optional[str] = typer.Option(None, "--cidfile", metavar="PATH", help="Write the container ID to this file."),
    replace: bool = typer.Option(False, "--replace", help="Replace a container with the same name."),
    label: List[str] = typer.Option([], "--label", "-l", metavar="KEY=VALUE", help="Add a label."),
    annotation: List[str] = typer.Option([], "--annotation", metavar="KEY=VALUE", help="Add an OCI annotation."),
    log_opt: List[str] = typer.Option([], "--log-opt", metavar="NAME=VALUE", help="Logging option: path=FILE writes the log there; max-size=SIZE starts the log again empty once it would grow past SIZE."),
    log_driver: str = typer.Option("k8s-file", "--log-driver", metavar="DRIVER", help="k8s-file (default), json-file (the same file, as in podman 4), none, or passthrough (the container uses our stdio; not on a terminal)."),
    pull: str = typer.Option("missing", "--pull", metavar="POLICY", help="Pull policy: always, missing, never or newer."),
    network: List[str] = typer.Option([], "--network", "--net", metavar="NETWORK", help="A network to join (repeat for several; NAME[:ip=IP,alias=NAME,mac=MAC]), or bridge (the default network), private (the default mode), none, host, slirp4netns (the rootless default), container:NAME or ns:PATH."),
    publish: List[str] = typer.Option([], "--publish", "-p", metavar="[IP:]HOSTPORT:PORT[/PROTO]", help="Publish a container port on the host."),
    add_host: List[str] = typer.Option([], "--add-host", metavar="HOST:IP", help="Add a line to /etc/hosts."),
    shm_size: Optional[str] = typer.Option(None, "--shm-size", metavar="SIZE", help="Size of /dev/shm (default 64m)."),
    memory: Optional[str] = typer.Option(None, "--memory", "-m", metavar="SIZE", help="Memory limit, e.g. 256m (not applied rootless)."),
    cpus: Optional[float] = typer.Option(None, "--cpus", metavar="N", help="CPU limit, e.g. 1.5 (not applied rootless)."),
    pids_limit: Optional[int] = typer.Option(None, "--pids-limit", metavar="N", help="Tune the container's pids limit; -1 for unlimited (default 2048, or pids_limit in containers.conf; not applied rootless)."),
    device: List[str] = typer.Option([], "--device", metavar="HOST[:CONTAINER][:PERMS]", help="Add a host device; permissions combine r, w and m (default rwm)."),
    secret: List[str] = typer.Option([], "--secret", metavar="NAME[,type=mount|env][,target=T][,uid=,gid=,mode=]", help="Give the container a secret: a read-only file under /run/secrets, or (type=env) a variable."),
    dns: List[str] = typer.Option([], "--dns", metavar="IP", help="DNS server for the container."),
    dns_search: List[str] = typer.Option([], "--dns-search", metavar="DOMAIN", help="DNS search domain."),
    dns_option: List[str] = typer.Option([], "--dns-option", metavar="OPT", help="DNS resolver option."),
    group_add: List[str] = typer.Option([], "--group-add", metavar="GROUP", help="Add a supplementary group: a GID, a name from the image's /etc/group, or keep-groups (rootful)."),
    restart: str = typer.Option("no", "--restart", metavar="POLICY", help="no, on-failure[:MAX], always or unless-stopped."),
    platform: Optional[str] = typer.Option(None, "--platform", metavar="OS/ARCH", help="Platform to pull."),
    arch: Optional[str] = typer.Option(None, "--arch", metavar="ARCH", help="Architecture of the image to pull (instead of the host's)."),
    os_: Optional[str] = typer.Option(None, "--os", metavar="OS", help="Operating system of the image to pull (instead of linux)."),
    variant: Optional[str] = typer.Option(None, "--variant", metavar="VARIANT", help="Variant of the architecture to pull, e.g. v8."),
    attach_streams: List[str] = typer.Option([], "--attach", "-a", metavar="STREAM", help="Attach stdin, stdout or stderr (default: stdout and stderr, stdin with -i)."),
    timeout: int = typer.Option(0, "--timeout", metavar="SECONDS", help="Kill the container after this many seconds (0: never)."),
    expose: List[str] = typer.Option([], "--expose", metavar="PORT[-PORT][/PROTO]", help="Expose a port or a range of ports (published by -P)."),
    publish_all: bool = typer.Option(False, "--publish-all", "-P", help="Publish every exposed port on a free host port."),
    pid: Optional[str] = typer.Option(None, "--pid", metavar="MODE", help="PID namespace: host, private, container:NAME or ns:PATH."),
    ipc: Optional[str] = typer.Option(None, "--ipc", metavar="MODE", help="IPC namespace: host, private, shareable, none, container:NAME or ns:PATH."),
    uts: Optional[str] = typer.Option(None, "--uts", metavar="MODE", help="UTS namespace: host, private, container:NAME or ns:PATH."),
    cgroupns: Optional[str] = typer.Option(None, "--cgroupns", metavar="MODE", help="cgroup namespace: host, private, container:NAME or ns:PATH."),
    userns: Optional[str] = typer.Option(None, "--userns", metavar="MODE", help="User namespace: host, private, keep-id, nomap, container:NAME or ns:PATH."),
    uidmap: List[str] = typer.Option([], "--uidmap", metavar="CONTAINER:HOST:SIZE", help="Map container UIDs to host UIDs in a new user namespace."),
    gidmap: List[str] = typer.Option([], "--gidmap", metavar="CONTAINER:HOST:SIZE", help="Map container GIDs to host GIDs in a new user namespace."),
    subuidname: Optional[str] = typer.Option(None, "--subuidname", metavar="NAME", help="Map UIDs from NAME's range in /etc/subuid."),
    subgidname: Optional[str] = typer.Option(None, "--subgidname", metavar="NAME", help="Map GIDs from NAME's range in /etc/subgid."),
    sysctl: List[str] = typer.Option([], "--sysctl", metavar="KEY=VALUE", help="Set a namespaced kernel parameter."),
    cpu_shares: Optional[int] = typer.Option(None, "--cpu-shares", "-c", metavar="N", help="CPU shares (relative weight)."),
    cpu_period: Optional[int] = typer.Option(None, "--cpu-period", metavar="MICROSECONDS", help="CFS scheduler period."),
    cpu_quota: Optional[int] = typer.Option(None, "--cpu-quota", metavar="MICROSECONDS", help="CFS scheduler quota per period."),
    cpu_rt_period: Optional[int] = typer.Option(None, "--cpu-rt-period", metavar="MICROSECONDS", help="Real-time scheduler period."),
    cpu_rt_runtime: Optional[int] = typer.Option(None, "--cpu-rt-runtime", metavar="MICROSECONDS", help="Real-time scheduler runtime per period."),
    cpuset_cpus: Optional[str] = typer.Option(None, "--cpuset-cpus", metavar="CPUS", help="CPUs the container may use (0-3, 0,1)."),
    cpuset_mems: Optional[str] = typer.Option(None, "--cpuset-mems", metavar="NODES", help="Memory nodes the container may use (NUMA)."),
    memory_reservation: Optional[str] = typer.Option(None, "--memory-reservation", metavar="SIZE", help="Memory soft limit."),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap", metavar="SIZE", help="Memory plus swap limit; -1 for unlimited swap."),
    memory_swappiness: Optional[int] = typer.Option(None, "--memory-swappiness", metavar="0-100", help="How much the container's memory may be swapped."),
    oom_kill_disable: bool = typer.Option(False, "--oom-kill-disable", help="Do not let the OOM killer kill the container."),
    oom_score_adj: Optional[int] = typer.Option(None, "--oom-score-adj", metavar="N", help="The container's OOM score adjustment (-1000 to 1000)."),
    blkio_weight: Optional[int] = typer.Option(None, "--blkio-weight", metavar="10-1000", help="Block IO weight."),
    blkio_weight_device: List[str] = typer.Option([], "--blkio-weight-device", metavar="DEVICE:WEIGHT", help="Block IO weight of a device."),
    device_read_bps: List[str] = typer.Option([], "--device-read-bps", metavar="DEVICE:RATE", help="Limit reads from a device (bytes per second, e.g. 1mb)."),
    device_write_bps: List[str] = typer.Option([], "--device-write-bps", metavar="DEVICE:RATE", help="Limit writes to a device (bytes per second)."),
    device_read_iops: List[str] = typer.Option([], "--device-read-iops", metavar="DEVICE:N", help="Limit reads from a device (operations per second)."),
    device_write_iops: List[str] = typer.Option([], "--device-write-iops", metavar="DEVICE:N", help="Limit writes to a device (operations per second)."),
    device_cgroup_rule: List[str] = typer.Option([], "--device-cgroup-rule", metavar="RULE", help="Allow devices by cgroup rule, e.g. 'c 1:3 rwm'."),
    cgroup_conf: List[str] = typer.Option([], "--cgroup-conf", metavar="KEY=VALUE", help="A cgroup v2 setting."),
    cgroup_parent: Optional[str] = typer.Option(None, "--cgroup-parent", metavar="PATH", help="The cgroup the container's cgroup is made in."),
    cgroups: str = typer.Option("enabled", "--cgroups", metavar="MODE", help="enabled, disabled, no-conmon or split."),
    umask: Optional[str] = typer.Option(None, "--umask", metavar="MASK", help="The container process's umask (default 0022)."),
    tz: Optional[str] = typer.Option(None, "--tz", metavar="ZONE", help="Time zone of the container: local, or a zone such as Europe/Berlin."),
    env_host: bool = typer.Option(False, "--env-host", help="Use pyctr's own environment in the container."),
    env_merge: List[str] = typer.Option([], "--env-merge", metavar="KEY=VALUE", help="Set a variable from the image's, e.g. PATH=/x:${PATH}."),
    http_proxy: bool = typer.Option(True, "--http-proxy", help="Copy the proxy variables (http_proxy, ...) into the container (default true)."),
    unsetenv: List[str] = typer.Option([], "--unsetenv", metavar="KEY", help="Remove a variable, default ones and the image's too."),
    unsetenv_all: bool = typer.Option(False, "--unsetenv-all", help="Remove every default variable (PATH, container, TERM, HOSTNAME, HOME)."),
    label_file: List[str] = typer.Option([], "--label-file", metavar="PATH", help="Read labels from a file of KEY=VALUE lines."),
    volumes_from: List[str] = typer.Option([], "--volumes-from", metavar="CONTAINER[:ro|rw]", help="Mount the volumes of another container."),
    image_volume: str = typer.Option("bind", "--image-volume", metavar="MODE", help="The image's VOLUMEs: bind (anonymous volumes), tmpfs or ignore."),
    read_only_tmpfs: bool = typer.Option(True, "--read-only-tmpfs", help="With --read-only, mount tmpfs on /run, /tmp and /var/tmp (default true)."),
    requires: List[str] = typer.Option([], "--requires", metavar="CONTAINER", help="Containers to start before this one."),
    pidfile: Optional[str] = typer.Option(None, "--pidfile", metavar="PATH", help="Write the container's pid to this file."),
    conmon_pidfile: Optional[str] = typer.Option(None, "--conmon-pidfile", metavar="PATH", help="Write the container's monitor (shim) pid to this file."),
    rootfs: bool = typer.Option(False, "--rootfs", help="IMAGE is a directory to use as the root filesystem."),
    systemd: str = typer.Option("true", "--systemd", metavar="MODE", help="true (when the command is init or systemd), false or always: systemd's mounts."),
    sdnotify: str = typer.Option("container", "--sdnotify", metavar="MODE", help="container, conmon or ignore."),
    seccomp_policy: str = typer.Option("default", "--seccomp-policy", metavar="POLICY", help="default or image."),
    personality: Optional[str] = typer.Option(None, "--personality", metavar="DOMAIN", help="Execution domain: LINUX or LINUX32."),
    init_path: Optional[str] = typer.Option(None, "--init-path", metavar="PATH", help="The init binary for --init."),
    no_hosts: bool = typer.Option(False, "--no-hosts", help="Leave /etc/hosts as the image has it."),
    passwd: bool = typer.Option(True, "--passwd", help="Add the user to /etc/passwd when the image lacks it (default true)."),
    passwd_entry: Optional[str] = typer.Option(None, "--passwd-entry", metavar="ENTRY", help="The /etc/passwd line to add ($USERNAME, $UID, $GID, $NAME, $HOME)."),
    hostuser: List[str] = typer.Option([], "--hostuser", metavar="NAME", help="Copy a host user into the container's /etc/passwd."),
    chrootdirs: List[str] = typer.Option([], "--chrootdirs", metavar="DIR", help="A chroot inside the container that gets /etc/hosts, resolv.conf and hostname too."),
    preserve_fds: int = typer.Option(0, "--preserve-fds", metavar="N", help="Pass N more file descriptors (3 and up) to the container."),
    disable_content_trust: bool = typer.Option(False, "--disable-content-trust", help="Accepted for Docker compatibility; no effect."),
    pod: Optional[str] = typer.Option(None, "--pod", metavar="POD", help="Run in a pod: NAME, ID, or new:NAME (a pod made for it)."),
    pod_id_file: Optional[str] = typer.Option(None, "--pod-id-file", metavar="PATH", help="Run in the pod whose ID is in this file."),
    init_ctr: Optional[str] = typer.Option(None, "--init-ctr", metavar="MODE", help="Make an init container of a pod (init containers are not built yet)."),
    ip: Optional[str] = typer.Option(None, "--ip", metavar="IPV4", help="The container's IPv4 address on its network."),
    ip6: Optional[str] = typer.Option(None, "--ip6", metavar="IPV6", help="The container's IPv6 address on its network."),
    mac_address: Optional[str] = typer.Option(None, "--mac-address", metavar="MAC", help="The container's MAC address on its network."),
    network_alias: List[str] = typer.Option([], "--network-alias", metavar="NAME", help="Another name of the container in its networks' DNS."),
    health_cmd: Optional[str] = typer.Option(None, "--health-cmd", metavar="CMD", help="Health check command: a shell line, or a JSON list ('none' disables the image's)."),
    health_interval: str = typer.Option("30s", "--health-interval", metavar="DURATION", help="Time between health checks; 'disable': none on schedule."),
    health_retries: int = typer.Option(3, "--health-retries", metavar="N", help="Failures in a row that make the container unhealthy."),
    health_timeout: str = typer.Option("30s", "--health-timeout", metavar="DURATION", help="Time a health check may take before it counts as failed."),
    health_start_period: str = typer.Option("0s", "--health-start-period", metavar="DURATION", help="Time after the start when failed checks do not count."),
    health_on_failure: str = typer.Option("none", "--health-on-failure", metavar="ACTION", help="Once unhealthy: none, kill, restart or stop."),
    no_healthcheck: bool = typer.Option(False, "--no-healthcheck", help="No health check, not even the image's."),
    tls_verify: Optional[bool] = tls_verify_option(),
    authfile: Optional[str] = authfile_option(),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not show pull progress."),
    sig_proxy: bool = typer.Option(True, "--sig-proxy", help="Forward signals received by pyctr to the container (default true)."),
    detach_keys: str = typer.Option("ctrl-p,ctrl-q", "--detach-keys", metavar="KEYS", help="Keys that detach from the container (only from a terminal, with -t; \"\" turns detaching off)."),
    rmi: bool = typer.Option(False, "--rmi", help="Remove the image after the container exits (with --rm)."),
) -> None:
    """Run a command in a new container."""
    if ctx.command.name == "create":
        _create(locals())  # every parameter by name, ctx too
    else:
        _run(locals())


class RunCommand(PyctrCommand):
    """`run`: the declaration less the flags that only `create` has."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.params = [param for param in self.params if param.name not in CREATE_ONLY]


class CreateCommand(PyctrCommand):
    """`create`: run's declaration, less the flags that only make sense for a container that runs now.
    (One declaration for both, so a flag is written once; its value reaches run() as None.)"""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.params = [param for param in self.params if param.name not in RUN_ONLY]


def register(app: typer.Typer, container_app: typer.Typer | None = None) -> None:
    # -h is --hostname, as in podman; options end at the image: the rest is the container's command.
    settings = {"help_option_names": ["--help"], "allow_interspersed_args": False}
    for target in filter(None, (app, container_app)):
        target.command("run", cls=RunCommand, context_settings=settings)(run)
        target.command("create", cls=CreateCommand, help=CREATE_HELP, context_settings=settings)(run)
        target.command("start")(start)
