"""engine.system: pyctr's version, how it runs on this host (info), commands run in its user namespace
(unshare), and the whole store: disk usage (df), prune and reset."""

from __future__ import annotations

import os
from dataclasses import field
TYPE_CHECKING = False  # (not typing's: importing typing costs every command ~2 ms; type checkers read it as True)

from pyctr.linux.fsutil import tree_size
from pyctr.values import value

if TYPE_CHECKING:
    from pyctr.engine.services import Services


@value
class IDMap:
    """One line of /proc/self/{uid,gid}_map."""

    container_id: int
    host_id: int
    size: int


@value
class OciRuntimeInfo:
    name: str
    path: str
    version: str  # the first line of `runc --version`; empty when it cannot be read


@value
class Info:
    """What `pyctr info` shows: the host, the runtime, the store."""

    version: str  # pyctr's
    rootless: bool
    kernel: str
    arch: str
    oci_runtime: OciRuntimeInfo
    network_backend: str
    graph_root: str
    run_root: str
    graph_driver: str
    graph_options: dict[str, str]
    image_count: int
    container_count: int
    uid_map: list[IDMap] = field(default_factory=list)  # rootless only: the user namespace's mappings
    gid_map: list[IDMap] = field(default_factory=list)


@value
class VersionInfo:
    """What `pyctr version` shows."""

    version: str  # pyctr's
    api_version: str  # of the (future) service's API: pyctr's own, as podman's is podman's
    python_version: str
    os: str
    arch: str  # as OCI names it (amd64, arm64, ...)


@value
class ImageUsage:
    """One image of `system df -v`."""

    id: str
    names: list[str]
    created: str  # RFC 3339, as the image says
    size: int
    shared_size: int  # layers other images use too
    containers: int  # how many containers use it


@value
class ContainerUsage:
    """One container of `system df -v`: its writable layer."""

    id: str
    name: str
    image_id: str
    command: list[str]
    local_volumes: int
    size: int
    created: float
    state: str


@value
class VolumeUsage:
    name: str
    links: int  # containers that mount it
    size: int


@value
class UsageSummary:
    """One line of `system df`."""

    kind: str  # Images, Containers, Local Volumes
    total: int
    active: int
    size: int
    reclaimable: int


@value
class DiskUsage:
    images: list[ImageUsage]
    containers: list[ContainerUsage]
    volumes: list[VolumeUsage]

    def summary(self) -> list[UsageSummary]:
        """As podman counts: an image or volume is active while a container uses it, a container
        while it runs; what is not active could be reclaimed (an image's whole size)."""
        images = UsageSummary("Images", len(self.images), sum(1 for i in self.images if i.containers),
                              sum(i.size for i in self.images), sum(i.size for i in self.images if not i.containers))
        running = [c for c in self.containers if c.state in ("running", "paused", "stopping")]
        containers = UsageSummary("Containers", len(self.containers), len(running), sum(c.size for c in self.containers),
                                  sum(c.size for c in self.containers if c not in running))
        volumes = UsageSummary("Local Volumes", len(self.volumes), sum(1 for v in self.volumes if v.links),
                               sum(v.size for v in self.volumes), sum(v.size for v in self.volumes if not v.links))
        return [images, containers, volumes]


@value
class PruneReport:
    """What `system prune` removed, and the bytes that freed."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    reclaimed: int = 0


PRUNE_FILTERS = ("label", "label!", "until")


class System:
    def __init__(self, services: "Services"):
        self._s = services

    def version(self) -> VersionInfo:
        import sys

        from pyctr import __version__
        from pyctr.image import oci

        arch = oci.Platform.host().architecture
        # platform.python_version() without the platform module (~1 ms of `version`'s ~20 to import):
        # the first word of sys.version, with a micro version.
        parts = sys.version.split()[0].split(".")
        python = ".".join(parts + ["0"] if len(parts) == 2 else parts)
        return VersionInfo(__version__, __version__, python, "linux", arch)

    def info(self) -> Info:
        from pyctr import __version__

        config = self._s.config
        runc = self._s.tasks.runc
        uname = os.uname()
        uid_map, gid_map = _id_mappings() if config.rootless else ([], [])
        return Info(
            version=__version__,
            rootless=config.rootless,
            kernel=uname.release,
            arch=uname.machine,
            oci_runtime=OciRuntimeInfo("runc", runc.binary, runc.version()),
            network_backend="netavark",
            graph_root=str(config.root),
            run_root=str(config.runroot),
            graph_driver="overlay",
            # Rootless overlay keeps its whiteouts in user.* xattrs (trusted.* needs real root).
            graph_options={"overlay.userxattr": "true"} if config.rootless else {},
            image_count=len(self._s.images.list()),
            container_count=len(self._s.containers.ids()),
            uid_map=uid_map,
            gid_map=gid_map,
        )

    def unshare(self, argv: list[str] | None = None, *, rootless_netns: bool = False) -> int:
        """Run `argv` (default: $SHELL) with the caller's stdio, inside pyctr's user and mount
        namespace (the engine joined it when it was built); -> its exit status, 128+N when
        killed by signal N. CommandNotFound (127) / CommandNotInvokable (126) when it cannot run.
        `rootless_netns` (podman's --rootless-netns): inside the user's rootless network namespace
        too, where rootless bridge networks live (made if it is not there)."""
        import signal
        import subprocess
        import threading

        from pyctr.errors import CommandNotFound, CommandNotInvokable, InvalidArgument

        argv = list(argv or [os.environ.get("SHELL", "/bin/sh")])
        if rootless_netns:
            if not self._s.config.rootless:
                raise InvalidArgument("--rootless-netns: the rootless network namespace exists only rootless")
            from pyctr.linux.fsutil import locked, makedirs
            from pyctr.network import bridge, rootlessns

            state = makedirs(bridge.run_dir(True), 0o755)
            with locked(state / "lock"):
                argv = ["nsenter", f"--net={rootlessns.ensure(state)}", *argv]
        try:
            child = subprocess.Popen(argv, close_fds=True)
        except OSError as exc:
            cls = CommandNotFound if isinstance(exc, FileNotFoundError) else CommandNotInvokable
            raise cls(f"{argv[0]}: {exc.strerror}") from exc
        # As system(3): the terminal's ^C and ^\ reach the command (same process group) and
        # are its to handle; a TERM or HUP sent to us is passed on, as if we were the command.
        forward = lambda signum, _frame: child.send_signal(signum)  # noqa: E731
        handlers = ((signal.SIGINT, signal.SIG_IGN), (signal.SIGQUIT, signal.SIG_IGN),
                    (signal.SIGTERM, forward), (signal.SIGHUP, forward))
        # (Only the main thread may set handlers; from another one, the caller's stay.)
        in_main = threading.current_thread() is threading.main_thread()
        saved = {sig: signal.signal(sig, handler) for sig, handler in handlers} if in_main else {}
        try:
            status = child.wait()
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)
        return 128 - status if status < 0 else status


    # -- the whole store ---------------------------------------------------------------------

    def df(self) -> DiskUsage:
        """The space images, containers (their writable layers) and volumes take."""
        from collections import Counter

        s = self._s
        records = s.containers.all()
        users = Counter(r.image_id for r in records)
        images = s.images.list()
        layer_users = Counter(chain for image in images for chain in set(image.chain_ids))
        layer_size = {}
        for image in images:
            for chain in image.chain_ids:
                if chain not in layer_size:
                    layer_size[chain] = int(s.images.layers.info(chain).get("size") or 0)
        image_rows = []
        for image in images:
            shared = sum(layer_size[c] for c in set(image.chain_ids) if layer_users[c] > 1)
            image_rows.append(ImageUsage(image.id, list(image.names), image.created, image.size, shared, users[image.id]))
        volumes = s.volumes.list()
        by_path = {v.mountpoint: v for v in volumes}
        links = Counter()
        container_rows = []
        for record in records:
            mine = {m.get("source") for m in record.mounts} & by_path.keys()
            links.update(mine)
            container_rows.append(ContainerUsage(
                record.id, record.name, record.image_id, list(record.args), len(mine),
                tree_size(s.containers.path(record.id) / "overlay" / "upper"), record.created,
                s.containers.status(record.id).state))
        volume_rows = [VolumeUsage(v.name, links[v.mountpoint], tree_size(v.mountpoint)) for v in volumes]
        return DiskUsage(image_rows, container_rows, volume_rows)

    def check_prune_filters(self, filters: list[str] | None) -> None:
        """InvalidArgument for a filter prune does not know (so that a front end fails before it asks)."""
        _prune_filters(filters)

    def prune(self, *, all_images: bool = False, volumes: bool = False, filters: list[str] | None = None) -> PruneReport:
        """Remove stopped containers, networks no container uses, then with `volumes` unused volumes, then dangling images (every
        unused one with all_images); `filters`: label=, label!=, until= (as podman's). Each through
        its own prune, which never forces: what starts being used meanwhile (a `run --rm` racing
        with us) is left alone, not an error."""
        from pyctr.engine.containers import Containers
        from pyctr.engine.images import Images
        from pyctr.engine.volumes import Volumes

        wanted = _prune_filters(filters)
        s = self._s
        report = PruneReport()
        sizes = {r.id: tree_size(s.containers.path(r.id) / "overlay" / "upper") for r in s.containers.all()
                 if s.containers.status(r.id).state in ("exited", "created")}
        report.containers = Containers(s).prune(filters)
        report.reclaimed += sum(sizes.get(i, 0) for i in report.containers)
        from pyctr.engine.networks import Networks

        networks = Networks(s)
        report.networks = networks.remove_unused(networks.prunable(filters=filters))
        if volumes:
            engine_volumes = Volumes(s)
            # (label!= is system prune's, not volume prune's: applied here, the rest by prunable)
            kept = [f for f in filters or [] if not f.startswith("label!=")]
            candidates = {v.name: v for v in engine_volumes.prunable(filters=kept)
                          if not _kept(wanted, v.labels, v.created)}
            sizes = {name: tree_size(v.mountpoint) for name, v in candidates.items()}
            for result in engine_volumes.remove(list(candidates)) if candidates else []:
                if result.error is None:  # (one in use by now is left, as prune leaves it)
                    report.volumes.append(result.id)
                    report.reclaimed += sizes[result.id]
        sizes = {image.id: image.size for image in s.images.list()}
        report.images = Images(s).prune(all_images=all_images, filters=filters)
        report.reclaimed += sum(sizes.get(i, 0) for i in report.images)
        return report

    def reset(self) -> None:
        """Remove every container (running ones stopped first), volume and image, then everything
        in the store and the runtime state (their directories stay, mount points too); the next
        command starts from an empty store. Refused
        (nothing removed) for a --root or --runroot that is not a pyctr store (engine.reset)."""
        from pyctr.engine import reset

        reset.reset(self._s)


def _prune_filters(items: list[str] | None) -> dict[str, list[str]]:
    from pyctr.errors import InvalidArgument

    wanted: dict[str, list[str]] = {}
    for item in items or []:
        key, eq, val = item.partition("=")
        if key not in PRUNE_FILTERS:
            raise InvalidArgument(f"{key} is an invalid filter")
        wanted.setdefault(key, []).append(val)
    return wanted


def _kept(wanted: dict[str, list[str]], labels: dict[str, str], created: float) -> bool:
    """Whether the filters spare an object: it must match every label=, none of label!=, and be older than until=."""
    from pyctr import filters as filtermod

    if "label" in wanted and not all(filtermod.label_matches(labels, w) for w in wanted["label"]):
        return True
    if any(filtermod.label_matches(labels, w) for w in wanted.get("label!", [])):
        return True
    return any(created >= filtermod.until_time(w) for w in wanted.get("until", []))


def _id_mappings() -> tuple[list[IDMap], list[IDMap]]:
    from pyctr.linux import userns

    maps = userns.mappings()
    return [IDMap(**m) for m in maps["uid"]], [IDMap(**m) for m in maps["gid"]]
