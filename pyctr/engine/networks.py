"""engine.networks: bridge networks (netavark), and the containers connected to them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pyctr.engine.reports import Report
from pyctr.errors import Conflict, ContainerNotFound, InvalidArgument, NotFound, PyctrError

if TYPE_CHECKING:
    from pyctr.container.store import ContainerRecord
    from pyctr.engine.services import Services
    from pyctr.network.config import CreateRequest, Network

LS_KEYS = ("name", "id", "driver", "label", "until", "dangling")
PRUNE_KEYS = ("label", "until")


class Networks:
    def __init__(self, services: "Services"):
        self._s = services

    @property
    def _store(self):
        from pyctr.network.store import NetworkStore

        return NetworkStore(self._s.config.networks_dir)

    def create(self, request: "CreateRequest", *, ignore: bool = False) -> "Network":
        """A new network; `ignore`: an existing one of that name is returned as it is."""
        from pyctr.network import bridge

        # Bridges with addresses handed out since boot, whichever config dir named them.
        tables = bridge.run_dir(self._s.config.rootless) / "ipam"
        busy = {p.stem for p in tables.glob("*.json")} if tables.is_dir() else set()
        if not request.name:
            request = self._named(request, busy)
        return self._store.create(request, exist_ok=ignore, busy_interfaces=busy)

    def _named(self, request: "CreateRequest", busy: set[str]) -> "CreateRequest":
        """A request without a name takes the first pyctrN that no network nor host interface has
        (podman's podmanN): the name of the bridge it will get, too."""
        from dataclasses import replace

        from pyctr.network.config import INTERFACE_PREFIX
        from pyctr.network.store import host_interfaces

        taken = {n.name for n in self._store.list()} | {n.interface for n in self._store.list()} | host_interfaces() | busy
        return replace(request, name=next(f"{INTERFACE_PREFIX}{n}" for n in range(1, 1 << 16)
                                          if f"{INTERFACE_PREFIX}{n}" not in taken))

    def _event(self, status: str, network: "Network", container: "ContainerRecord | None" = None) -> None:
        """create and remove name the network; connect and disconnect the container (as podman's)."""
        from pyctr import events

        who = (container.id, container.name) if container else (network.id, network.name)
        events.emit(self._s.config, "network", status, id=who[0], name=who[1], network=network.name)

    def get(self, name_or_id: str) -> "Network":
        return self._store.get(name_or_id)

    def exists(self, name_or_id: str) -> bool:
        try:
            self.get(name_or_id)
        except NotFound:
            return False
        return True

    def list(self, *, filters: list[str] | None = None) -> list["Network"]:
        """Every network (the default one too), or those that match every filter (podman's keys:
        name and id (regular expressions), driver, label, until, dangling)."""
        networks = self._store.list()
        for key, values in _parse_filters(filters, LS_KEYS).items():
            keep = [self._filter(key, v) for v in values]
            # one key's values: any of them, but labels all (as podman)
            match = all if key.startswith("label") else any
            networks = [n for n in networks if match(k(n) for k in keep)]
        return networks

    def _filter(self, key: str, wanted: str):
        import re

        from pyctr import filters

        if key == "name":
            return lambda n: re.search(wanted, n.name) is not None
        if key == "id":
            return lambda n: re.search(wanted, n.id) is not None
        if key == "driver":
            return lambda n: n.driver == wanted
        if key == "label":
            return lambda n: filters.label_matches(n.labels or {}, wanted)
        if key == "label!":
            return lambda n: not filters.label_matches(n.labels or {}, wanted)
        if key == "until":
            from pyctr.units import parse_rfc3339

            try:
                limit = filters.until_time(wanted)
            except InvalidArgument:
                raise InvalidArgument(f'failed to parse value as time or duration: "{wanted}"') from None
            return lambda n: parse_rfc3339(n.created) < limit
        if wanted not in ("true", "false"):
            raise InvalidArgument(f"invalid dangling filter value \"{wanted}\"")
        used = self._used()
        return lambda n: (n.name not in used and not n.is_default) == (wanted == "true")  # podman: the default is in use

    def _used(self) -> set[str]:
        """Networks a container of this store is connected to, or that a running container of any
        store holds an address on (definitions are host-wide as root: another store's count too)."""
        from pyctr.network import bridge, ipam

        used = {name for record in self._s.containers.all() for name in record.networks}
        state = bridge.run_dir(self._s.config.rootless)
        for network in self._store.list():
            # (a bridge's addresses may be another config dir's network of the same interface name)
            if any(network.id in bridge.network_ids(Path(owner)) for owner in ipam.owners(state, network, live=True)):
                used.add(network.name)
        return used

    def users(self, network: "Network") -> list["ContainerRecord"]:
        return [r for r in self._s.containers.all() if network.name in r.networks]

    def inspect(self, names: list[str]) -> tuple[list["Network"], list[PyctrError]]:
        found, errors = [], []
        for name in names:
            try:
                found.append(self.get(name))
            except NotFound as exc:
                errors.append(NotFound(f"network {name}: {exc}"))
        return found, errors

    def remove(self, names: list[str], *, force: bool = False, timeout: int | None = None) -> list[Report]:
        """Remove networks; `force` removes the containers connected to them first. A network in
        use fails with Conflict; the default network cannot go."""
        reports = []
        for name in names:
            report = Report(name, name)
            try:
                network = self.get(name)
                report.id = network.id
                if network.is_default:
                    raise InvalidArgument(f"default network {network.name} cannot be removed")
                users = self.users(network)
                if (users or network.name in self._used()) and not force:
                    raise Conflict(f'"{network.name}" has associated containers with it. Use -f to forcibly delete '
                                   "containers and pods: network is being used")
                for record in users:
                    self._s.tasks.remove(record, force=True, timeout=0 if timeout is None else timeout)
                if network.name in self._used():  # another store's containers, which -f cannot remove
                    raise Conflict(f'"{network.name}" is used by containers of another store: network is being used')
                self._forget(network)
            except PyctrError as exc:
                report.error = exc
            reports.append(report)
        return reports

    def prunable(self, *, filters: list[str] | None = None) -> list["Network"]:
        """What prune() would remove: networks no container uses (never the default one), that match `filters`."""
        keep = [self._filter(key, v) for key, values in _parse_filters(filters, PRUNE_KEYS).items() for v in values]
        used = self._used()
        return [n for n in self._store.list()
                if not n.is_default and n.name not in used and all(k(n) for k in keep)]

    def prune(self, *, filters: list[str] | None = None) -> list[str]:
        return self.remove_unused(self.prunable(filters=filters))

    def remove_unused(self, networks: list["Network"]) -> list[str]:
        """Remove those of `networks` that no container uses (now: one may have been connected since); their names."""
        used, removed = self._used(), []
        for network in networks:
            if network.name not in used and not network.is_default:
                self._forget(network)
                removed.append(network.name)
        return removed

    # -- containers ---------------------------------------------------------------------------

    def connect(self, network_name: str, container: str, *, aliases: list[str] = (), ips: list[str] = (),
                mac: str = "") -> None:
        """Connect a container to a network: at once when it runs, else from its next start."""
        from pyctr.container.spec import NetworkAttachment, _validate_attachment

        _validate_attachment(NetworkAttachment(network_name, list(aliases), list(ips), mac))
        network = self.get(network_name)
        store = self._s.containers
        record = self._record(container)
        with store.lock(record.id):
            record = store.load(record.id)
            if record.network != "bridge":
                raise InvalidArgument(f'"{record.network}" is not supported: invalid network mode')
            if network.name in record.networks:
                raise Conflict(f'container {record.id} is already connected to network "{network.name}": '
                               "network is already connected")
            taken = {a.get("interface_name") for a in record.networks.values()}
            attachment = {"aliases": list(aliases), "static_ips": list(ips), "static_mac": mac,
                          "interface_name": next(f"eth{n}" for n in range(len(taken) + 1) if f"eth{n}" not in taken)}
            if self._running(record):
                from pyctr.network import bridge

                bridge.connect(store.path(record.id), container_id=record.id, network_name=network.name,
                               attachment=attachment, network=network, rootless=self._s.config.rootless)
            record.networks[network.name] = attachment
            store.save(record)
            if self._running(record):
                self._s.tasks.refresh_resolv_conf(record)
        self._event("connect", network, record)

    def disconnect(self, network_name: str, container: str, *, force: bool = False) -> None:
        network = self.get(network_name)
        store = self._s.containers
        record = self._record(container)
        with store.lock(record.id):
            record = store.load(record.id)
            if network.name not in record.networks:
                raise NotFound(f"container {container} is not connected to network {network.name}")
            if self._running(record):
                from pyctr.network import bridge

                bridge.disconnect(store.path(record.id), container_id=record.id, network_name=network.name,
                                  rootless=self._s.config.rootless)
            del record.networks[network.name]
            store.save(record)
            if self._running(record):
                self._s.tasks.refresh_resolv_conf(record)
        self._event("disconnect", network, record)

    def reload(self, containers: list[str] | None = None, *, all_containers: bool = False,
               latest: bool = False) -> list[Report]:
        """Set the networks of running containers up again (their firewall rules after a flush)."""
        from pyctr.engine.selection import check_targets
        from pyctr.network import bridge

        check_targets(list(containers or []), all_containers=all_containers, latest=latest)  # podman's texts
        store = self._s.containers
        if all_containers:
            containers = [r.id for r in store.all() if self._running(r) and r.network == "bridge"]
        elif latest:
            records = store.all()
            if not records:
                raise ContainerNotFound("no such container")
            containers = [max(records, key=lambda r: r.created).id]
        reports = []
        for name in containers:
            report = Report(name)
            try:
                record = self._record(name)
                report.id = record.id
                with store.lock(record.id):
                    if not self._running(record):
                        raise Conflict("cannot reload network unless container network has been configured: "
                                       "container state improper")
                    if record.network != "bridge":
                        raise InvalidArgument("network is not configured, refusing to reload")
                    bridge.reload(store.path(record.id), rootless=self._s.config.rootless)
            except PyctrError as exc:
                report.error = exc
            reports.append(report)
        return reports

    def _forget(self, network: "Network") -> None:
        """Remove the definition, and the bridge's address table (a `last` is state left behind)."""
        from pyctr.linux.fsutil import locked
        from pyctr.network import bridge, ipam

        self._store.remove(network)
        state = bridge.run_dir(self._s.config.rootless)
        if state.is_dir():
            with locked(state / "lock"):
                ipam.forget(state, network)

    def _record(self, name: str) -> "ContainerRecord":
        return self._s.containers.resolve(name)

    def _running(self, record: "ContainerRecord") -> bool:
        from pyctr.container.store import LIVE

        return self._s.containers.status(record.id).state in LIVE


def _parse_filters(items: list[str] | None, keys: tuple[str, ...]) -> dict[str, list[str]]:
    from pyctr import filters

    parsed = filters.parse(items, keys, unknown='invalid filter "{key}"', negatable=True,
                           malformed="filter input must be in the form of filter=value: {item} is invalid")
    for key in parsed:
        if key.endswith("!") and key != "label!":  # podman negates labels only
            raise InvalidArgument(f'invalid filter "{key}"')
    return parsed
