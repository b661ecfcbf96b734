"""From a container spec to a container record.

Everything that can be wrong with the spec is found before the record is
written (a named volume it mounts may have been made by then), so a bad spec
leaves no half-created container behind, and --replace removes the old
container only once the new one can be made.
"""

from __future__ import annotations

import os
from dataclasses import replace
TYPE_CHECKING = False  # (not typing's: ~2 ms at every start)
if TYPE_CHECKING:
    from typing import Callable

from pyctr.container.spec import ContainerSpec
from pyctr.errors import InvalidArgument


PROXY_VARIABLES = ("http_proxy", "https_proxy", "ftp_proxy", "no_proxy")
SYSTEMD_COMMANDS = ("/sbin/init", "/usr/sbin/init", "/usr/local/sbin/init")
SYSTEMD_STOP_SIGNAL = "SIGRTMIN+3"


def merge_env(image_env: list[str], env: dict[str, str], process=None, caller_env: dict[str, str] | None = None) -> list[str]:
    """podman's order, a later key winning: the image's environment (none with --unsetenv-all), the
    caller's (--env-host), its proxy variables (--http-proxy), -e, then --env-merge (${VAR} from what
    came before); --unsetenv removes keys last."""
    merged = {} if process is not None and process.unsetenv_all else dict(item.partition("=")[::2] for item in image_env)
    if process is not None:
        caller_env = dict(os.environ) if caller_env is None else caller_env
        if process.env_host:
            merged.update(caller_env)
        if process.http_proxy:
            merged.update({k: v for k, v in caller_env.items() if k.lower() in PROXY_VARIABLES})
    merged.update(env)
    if process is not None:
        import re

        for item in process.env_merge:
            key, _, text = item.partition("=")
            merged[key] = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: merged.get(m.group(1) or m.group(2), ""), text)
        for key in process.unsetenv:
            merged.pop(key, None)
    return [f"{k}={v}" for k, v in merged.items()]


def systemd_mode(spec: ContainerSpec, args: list[str]) -> bool:
    """--systemd: always, or (true) when the command is an init or systemd."""
    mode = spec.process.systemd
    return mode == "always" or (mode == "true" and bool(args) and (args[0] in SYSTEMD_COMMANDS or os.path.basename(args[0]) == "systemd"))


def container_args(image_config: dict, entrypoint: list[str] | None, command: list[str]) -> list[str]:
    """docker's rule: ENTRYPOINT + (command or CMD); an entrypoint given resets CMD."""
    if entrypoint is not None:
        args = list(entrypoint) + list(command)
    else:
        args = list(image_config.get("Entrypoint") or []) + (list(command) or list(image_config.get("Cmd") or []))
    if not args:
        raise InvalidArgument("no command or entrypoint provided, and no CMD or ENTRYPOINT from image")
    return args


def default_network(spec: ContainerSpec, rootless: bool) -> str:
    """The mode asked for; else the default network (bridge) as root; rootless, slirp4netns when
    /dev/net/tun is usable, else loopback only (private)."""
    mode = spec.network.mode
    if mode is not None:
        return mode
    if spec.network.networks or not rootless:
        return "bridge"
    # published ports need slirp4netns: without /dev/net/tun it says so at start
    return "slirp4netns" if spec.network.ports or os.access("/dev/net/tun", os.R_OK | os.W_OK) else "private"


def network_attachments(networks_dir, spec: ContainerSpec, mode: str) -> dict[str, dict]:
    """The bridge networks to join, by name, each with netavark's per-network options
    (aliases, static_ips, static_mac, interface_name: eth0, eth1, ... in order)."""
    if mode != "bridge":
        return {}
    from pyctr.container.spec import NetworkAttachment
    from pyctr.network.config import DEFAULT_NAME
    from pyctr.network.store import NetworkStore

    networks = NetworkStore(networks_dir)
    wanted = spec.network.networks or [NetworkAttachment()]
    taken = {a.interface for a in wanted if a.interface}
    free = (f"eth{n}" for n in range(1 << 16) if f"eth{n}" not in taken)
    result: dict[str, dict] = {}
    for attachment in wanted:
        network = networks.get(attachment.name or DEFAULT_NAME)
        if network.name in result:
            continue  # the same network twice is once, as podman
        result[network.name] = {"aliases": list(attachment.aliases), "static_ips": list(attachment.ips),
                                "static_mac": attachment.mac, "interface_name": attachment.interface or next(free)}
    return result


def _ensure_image(images, spec: ContainerSpec, progress):
    """The image to run, pulled according to --pull (podman's policies)."""
    from pyctr.errors import ImageNotFound, PyctrError

    def pull():
        wanted = spec.image
        record = images.pull(wanted.name, platform=wanted.platform, tls_verify=wanted.tls_verify, authfile=wanted.authfile,
                             progress=progress)
        mismatch = _platform_mismatch(images.config_of(record), wanted.platform)
        if mismatch and progress is not None:  # a single-platform image is pulled whatever its platform (podman)
            from pyctr.image.pull import PullEvent

            progress(PullEvent("warning", message=mismatch))
        return record

    policy = spec.image.pull
    if policy == "always":
        return pull()
    try:
        local = images.get(spec.image.name)
        # (the image's config is read only when a platform was asked for: every create comes here)
        if spec.image.platform and _platform_mismatch(images.config_of(local), spec.image.platform):
            # Of another platform than asked for (--platform, --arch, --os): as missing, as podman's.
            raise ImageNotFound(f"{spec.image.name}: image not known")
    except ImageNotFound:
        if policy == "never":
            raise
        return pull()
    if policy == "newer":
        try:
            return pull()
        except PyctrError:
            return local  # offline or unreachable: the local image will do
    return local


def _platform_mismatch(config: dict, wanted_text: str | None) -> str:
    """podman's warning when an image's platform is not the one asked for; "" when it is (or none was)."""
    if not wanted_text:
        return ""
    from pyctr.image import oci

    return oci.Platform.parse(wanted_text).mismatch(config)


def create_container(store, images, volume_path: Callable[[str], str], spec: ContainerSpec, progress=None,
                     make_room: Callable[[], None] | None = None):
    """Validate, find or pull the image, and write the container record.
    `volume_path(name)`: the directory of a volume, made on first use ("" makes an anonymous one).
    `make_room()`: called once everything else has worked, just before the name is taken (--replace)."""
    from pyctr.container import mountopts

    spec.validate()
    spec = ContainerSpec.from_json(spec.to_json())  # resolved below (IDs, ports): the caller's stays as asked
    sources = _resolve_references(store, spec)
    if spec.storage.hostusers:
        from pyctr.container.passwd import check_host_users

        check_host_users(spec.storage.hostusers)
    _user_namespace(spec, store.config.rootless)
    from pyctr.container import securityopts

    seccomp_profile = securityopts.read_seccomp_profile(spec.security)  # kept with the container, as podman
    pids_limit, log_size_max = spec.resources.pids_limit, spec.lifecycle.log_max_size
    if pids_limit is None or log_size_max is None:
        # The configured defaults, fixed at creation (as podman's), read once and before any pull.
        from pyctr.containersconf import ContainersConf, default_pids_limit

        conf = ContainersConf.load()
        if pids_limit is None:
            pids_limit = default_pids_limit(store.config.rootless, conf)
        if log_size_max is None:
            log_size_max = conf.log_size_max
    if spec.image.rootfs:  # a directory, run as it is: no image
        image, image_config = None, {}
    else:
        image = _ensure_image(images, spec, progress)
        image_config = images.config_of(image).get("config") or {}
    from pyctr.container import health

    health.check_with_image(vars(spec.health), image_config)
    process = spec.process
    mounts = [mountopts.to_oci(m, volume_path) for m in spec.storage.mounts]
    mounts += _volumes_from(sources, spec.storage.volumes_from, {m["destination"] for m in mounts})
    mounts += _image_volumes(image_config, spec.storage.image_volume, {m["destination"] for m in mounts}, volume_path)
    from pyctr.container.specrules import ports_discarded

    if ports_discarded(spec.network):  # (the warning is specrules.warnings')
        spec.network.ports, spec.network.publish_all = [], False
    # Duplicates go, as podman's (the same mapping twice is one).
    spec.network.ports = list({(p.host_ip, p.host_port, p.container_port, p.protocol): p
                               for p in spec.network.ports}.values())
    if any(p.host_port == 0 for p in spec.network.ports):  # -p CONTAINERPORT: a free host port
        spec.network.ports = [replace(p, host_port=_free_port(p.protocol)) if p.host_port == 0 else p
                              for p in spec.network.ports]
    if spec.network.publish_all:
        spec.network.ports += _free_ports(spec, image_config)
    args = container_args(image_config, process.entrypoint, process.command)
    stop_signal = process.stop_signal or image_config.get("StopSignal") or (SYSTEMD_STOP_SIGNAL if systemd_mode(spec, args) else "SIGTERM")
    network = default_network(spec, store.config.rootless)
    hostname = spec.network.hostname or ""
    if not hostname and spec.namespaces.uts == "host":
        import socket

        hostname = socket.gethostname()
    if not hostname and spec.namespaces.uts.startswith("container:"):  # its UTS namespace is the other's: so is its name
        donor = store.load(spec.namespaces.uts[10:])
        hostname = donor.hostname if donor else ""
    fields = dict(
        spec_data=spec.to_json(),
        image_id=image.id if image else "",
        image_name=(image.names[0] if image.names else image.id) if image else "",
        args=args,
        env=merge_env(list(image_config.get("Env") or []), process.env, process),
        workdir=process.workdir or image_config.get("WorkingDir") or "/",
        user=process.user if process.user is not None else image_config.get("User", ""),
        hostname=hostname,
        labels={**(image_config.get("Labels") or {}), **spec.lifecycle.labels, **_systemd_unit_label(spec)},
        stop_signal=stop_signal,
        stop_timeout=10 if process.stop_timeout is None else process.stop_timeout,
        pids_limit=max(pids_limit, 0),  # -1 and 0 both mean none
        log_size_max=log_size_max if log_size_max > 0 else -1,
        network=network,
        networks=network_attachments(store.config.networks_dir, spec, network),
        mounts=mounts,
        image_config=image_config,
    )
    if make_room is not None:
        make_room()
    # Under the image lock: an rmi racing with us either removes the image first (and we
    # fail, "image not known") or sees our container and refuses.
    with images.index.locked() as current:
        if image is not None and image.id not in current:
            from pyctr.errors import ImageNotFound

            raise ImageNotFound(f"{spec.image.name}: image not known (removed meanwhile)")
        container_id = store.new_id()
        # Its own name unless one was given: known before the record is written (written once).
        fields["hostname"] = fields["hostname"] or container_id[:12]
        record = store.create(fields, spec.lifecycle.name, container_id)
    if seccomp_profile is not None:
        try:
            securityopts.keep_seccomp_profile(str(store.path(record.id)), seccomp_profile)
        except BaseException:
            store.remove(record)
            raise
    _note_dependents(store, spec, record.id)
    return record


DEPENDENTS = "dependents"  # <container>/dependents/<ID>: ID depends on it (rm reads one directory, not every record)


def _note_dependents(store, spec: ContainerSpec, container_id: str) -> None:
    from pyctr.container.ocimap import dependencies

    for other in dependencies(spec):
        try:
            os.makedirs(store.path(other) / DEPENDENTS, exist_ok=True)
            open(store.path(other) / DEPENDENTS / container_id, "w").close()
        except FileNotFoundError:
            pass  # removed meanwhile: starting this one will say so


def dependents(store, container_id: str) -> list[str]:
    """The IDs of the existing containers that depend on `container_id`."""
    try:
        names = os.listdir(store.path(container_id) / DEPENDENTS)
    except OSError:
        return []
    return sorted(n for n in names if (store.path(n) / "container.json").exists())


NAMESPACE_NAMES = {"pid": "pid", "ipc": "ipc", "uts": "uts", "cgroupns": "cgroup", "userns": "user"}


def _resolve_references(store, spec: ContainerSpec) -> dict:
    """container:NAME, --requires and --volumes-from name containers, which must exist: the spec keeps
    their IDs (podman's errors). -> {ID: record} of --volumes-from's containers."""
    from pyctr.errors import ContainerNotFound

    def find(name: str, context: str):
        try:
            return store.resolve(name)
        except ContainerNotFound as exc:
            raise ContainerNotFound(f"{context}: {exc}") from None

    if (spec.network.mode or "").startswith("container:"):
        donor = find(spec.network.mode[10:], "looking up container to share net namespace with")
        spec.network.mode = "container:" + donor.id
    ns = spec.namespaces
    for kind, what in NAMESPACE_NAMES.items():
        mode = getattr(ns, kind)
        if mode.startswith("container:"):
            donor = find(mode[10:], f"looking up container to share {what} namespace with")
            if kind == "ipc" and donor.spec.namespaces.ipc == "private":
                raise InvalidArgument(f"joining IPC of container {donor.id} is not allowed: non-shareable IPC "
                                      "(hint: use IpcMode:shareable for the donor container)")
            setattr(ns, kind, "container:" + donor.id)
    lifecycle = spec.lifecycle
    lifecycle.requires = [find(name, f'"{name}" is not a valid container, cannot be used as a dependency').id
                          for name in lifecycle.requires]
    sources, resolved = {}, []
    for item in spec.storage.volumes_from:
        name, _, mode = item.partition(":")
        for option in filter(None, mode.split(",")):
            if option not in ("ro", "rw", "z"):
                raise InvalidArgument(f"invalid option \"{option}\" specified - volumes from another container can only "
                                      "use z,ro,rw options")
        record = find(name, f'looking up container "{name}" for volumes-from')
        sources[record.id] = record
        resolved.append(record.id + (":" + mode if mode else ""))
    spec.storage.volumes_from = resolved
    return sources


def _user_namespace(spec: ContainerSpec, rootless: bool) -> None:
    """--userns keep-id and nomap (rootless only) become the mappings of a user namespace nested in
    pyctr's own, written into the spec as --uidmap/--gidmap would be."""
    mode, _, options = spec.namespaces.userns.partition(":")
    if not rootless:
        _rootful_user_namespace(spec.namespaces)
    elif "keep-groups" in spec.security.groups:
        # runc in pyctr's user namespace always sets the groups: the caller's unmapped ones cannot be kept.
        raise InvalidArgument("--group-add keep-groups is not supported rootless with runc: it needs crun, "
                              "which leaves the caller's groups as they are")
    if mode in ("keep-id", "nomap"):
        if not rootless:
            raise InvalidArgument(f"{mode} is only supported in rootless mode")
        from pyctr.container.userns import keep_id

        ns = spec.namespaces
        if mode == "nomap":
            # Left out of the container, the user's own ID would own the store directories its root
            # filesystem lies under: runc could not reach it (podman re-owns its storage for this).
            raise InvalidArgument("--userns nomap is not built yet: pyctr's store is not re-owned for a namespace "
                                  "without the user; use --userns keep-id or --uidmap")
        else:
            ns.uidmap, ns.gidmap, user = keep_id(options)
            if spec.process.user is None:
                spec.process.user = user
                import pwd

                try:  # the user's own passwd entry, as podman adds it
                    spec.storage.hostusers.append(pwd.getpwuid(int(user.split(":")[0])).pw_name)
                except KeyError:
                    pass


def _rootful_user_namespace(ns) -> None:
    """As root, a user namespace of the container's own needs its root filesystem owned by the mapped IDs:
    podman re-owns a copy of the image's layers, runc 1.1 cannot idmap the root filesystem, and pyctr
    does neither yet. Refused in one line rather than failing in runc."""
    if ns.userns == "private":
        raise InvalidArgument("must provide at least one UID or GID mapping to configure a user namespace")
    given = [option for option, value in (("--uidmap", ns.uidmap), ("--gidmap", ns.gidmap), ("--subuidname", ns.subuidname),
                                          ("--subgidname", ns.subgidname)) if value]
    if ns.userns.startswith("ns:"):
        given.append(f"--userns {ns.userns}")
    if given:
        raise InvalidArgument(f"{given[0]}: a user namespace for a container run as root is not built yet "
                              "(its image layers are not re-owned for the mapped IDs); run pyctr rootless instead")


def _volumes_from(sources: dict, items: list[str], taken: set[str]) -> list[dict]:
    """The mounts of other containers (their volumes and bind mounts), :ro or :rw overriding theirs.
    The copies never count as this container's anonymous volumes (rm -v must not remove them)."""
    result = []
    for item in items:
        container_id, _, mode = item.partition(":")
        options = mode.split(",")
        for mount in sources[container_id].mounts:
            if mount["destination"] in taken or mount.get("type") != "bind":
                continue
            copy = {k: v for k, v in mount.items() if k in ("destination", "type", "source", "options", "volume_name")}
            if "ro" in options or "rw" in options:
                wanted = "ro" if "ro" in options else "rw"
                copy["options"] = [wanted if o in ("ro", "rw") else o for o in copy["options"]]
            copy["volumes_from"] = container_id
            taken.add(mount["destination"])
            result.append(copy)
    return result


def _image_volumes(image_config: dict, mode: str, taken: set[str], volume_path: Callable[[str], str]) -> list[dict]:
    """The image's VOLUMEs not mounted otherwise: anonymous volumes (bind), tmpfs, or nothing (ignore)."""
    from pyctr.container import mountopts
    from pyctr.container.spec import Mount

    result = []
    for destination in sorted(image_config.get("Volumes") or {}):
        destination = os.path.normpath(destination)
        if destination in taken or mode == "ignore":
            continue
        if mode == "tmpfs":
            result.append({"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": ["rw", "nosuid", "nodev"]})
        else:
            result.append(mountopts.to_oci(Mount("volume", destination), volume_path))
    return result


def _free_port(proto: str) -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM) as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def _free_ports(spec: ContainerSpec, image_config: dict) -> list:
    """-P: each exposed port (the image's and --expose) not published already, on a host port free now."""
    from pyctr.container.spec import PortMapping

    published = {(p.container_port, p.protocol) for p in spec.network.ports}
    wanted = list(image_config.get("ExposedPorts") or {}) + list(spec.network.expose)
    result = []
    for item in dict.fromkeys(wanted):
        number, _, proto = item.partition("/")
        proto = proto or "tcp"
        if proto not in ("tcp", "udp") or (int(number), proto) in published:
            continue
        result.append(PortMapping(_free_port(proto), int(number), proto))
        published.add((int(number), proto))
    return result


def _systemd_unit_label(spec: ContainerSpec) -> dict[str, str]:
    """As podman: a container created by a systemd unit (units set PODMAN_SYSTEMD_UNIT=%n) is labelled
    with the unit's name, which auto-update restarts. A label given on the command line wins."""
    unit = os.environ.get("PODMAN_SYSTEMD_UNIT")
    return {"PODMAN_SYSTEMD_UNIT": unit} if unit and "PODMAN_SYSTEMD_UNIT" not in spec.lifecycle.labels else {}
