"""Preparing a container's run: its rootfs mount, network, OCI bundle; exec sessions' process files.

A mixin of TaskService (pyctr.container.tasks), which holds config, store, images and runc.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
TYPE_CHECKING = False  # (not typing's: ~2 ms at every start)
if TYPE_CHECKING:
    import socket

    from pyctr.config import Config

from pyctr.container.store import ContainerRecord
from pyctr.errors import ContainerStateError
from pyctr.linux import mount as mountmod
from pyctr.linux.fsutil import atomic_write, atomic_write_json, makedirs
from pyctr.runtime.runc import error_from_runc
from pyctr.runtime.shimlauncher import ShimLauncher
from pyctr.values import value

# podman 4.3.1 exits 255 (-1) when an exec session fails before its process could run.
EXIT_EXEC_FAILED = 255


@value
class Started:
    pid: int
    state_dir: Path
    client: "socket.socket | None" = None  # with start(attach=True)


class TaskSetup:
    # -- rootfs ------------------------------------------------------------------------------

    def _mount_rootfs(self, record: ContainerRecord) -> Path:
        from pyctr.container import volumes

        volumes.hold_for(self.config.root, record)  # tmpfs/device volumes: mounted while it runs
        if record.spec.image.rootfs:  # --rootfs: the directory itself, nothing to mount
            return Path(record.spec.image.name)
        base = self.store.path(record.id)
        merged = self.store.rootfs(record.id)
        if mountmod.is_mountpoint(str(merged)):
            return merged
        image = self.images.get(record.image_id)
        upper, work = base / "overlay" / "upper", base / "overlay" / "work"
        for directory in (upper, work, merged):
            makedirs(directory, 0o755)
        # --rm: volatile, as podman's (its unmount then syncs nothing, ~10 ms less on ext4).
        volatile = record.remove
        if volatile:
            from pyctr.snapshot.layers import clear_volatile

            clear_volatile(work)  # mounted before (cp, mount before its start)
        mountmod.mount_at(self.images.layers.rootfs_mount(image.chain_ids, upper=upper, work=work,
                                                          rootless=self.config.rootless, volatile=volatile),
                          str(merged))
        return merged

    def _unmount_rootfs(self, record: ContainerRecord) -> None:
        """What a run of the container mounted (not while it runs): its /dev/shm, the volumes it
        holds, and its root filesystem unless the user's `pyctr mount` keeps it."""
        from pyctr.container import shm, usermounts

        shm.unmount_for(str(self.store.path(record.id)))  # a failed start's too

        if usermounts.held(self.store, record.id):
            return  # the user's `pyctr mount` keeps it until their unmount
        from pyctr.container import volumes

        volumes.release_for(self.config.root, record)  # the last user unmounts a tmpfs/device volume
        # (not mounted, or no such directory: unmount says nothing; no need to read the mount table first)
        mountmod.unmount(str(self.store.rootfs(record.id)), lazy=True)

    # -- the spec ----------------------------------------------------------------------------

    def _setup_network(self, record: ContainerRecord) -> tuple[str | None, list]:
        """The namespace path runc joins (bridge networks, slirp4netns; None for the other modes),
        and the published ports' host sockets that the container's shim is to hold."""
        if record.network == "slirp4netns":
            from pyctr.network import slirp

            return str(slirp.setup(self.config.runroot, record.id, record.spec.network.ports)), []
        if record.network == "bridge":
            from pyctr.network import bridge
            from pyctr.network.store import NetworkStore

            definitions = NetworkStore(self.config.networks_dir)
            networks = {name: definitions.get(name) for name in record.networks}
            path, _, held = bridge.setup(self.store.path(record.id), self.config.runroot, container_id=record.id,
                                         name=record.name, attachments=record.networks, networks=networks,
                                         ports=record.spec.network.ports, rootless=self.config.rootless)
            return path, held
        return None, []

    def _teardown_network(self, record: ContainerRecord) -> None:
        if record.network == "slirp4netns":
            from pyctr.network import slirp

            slirp.teardown(self.config.runroot, record.id)
        elif record.network == "bridge":
            from pyctr.network import bridge

            bridge.teardown(self.store.path(record.id), self.config.runroot, container_id=record.id,
                            rootless=self.config.rootless)
        elif record.network.startswith("container:"):
            from pyctr.pod.members import remove_from_hosts

            remove_from_hosts(self.store.path(record.network[10:]) / "userdata" / "hosts", record.name)

    def refresh_resolv_conf(self, record: ContainerRecord) -> None:
        """After network connect or disconnect of a running container: its resolv.conf names the
        DNS servers of the networks it has now."""
        from pyctr.container import etcfiles

        path = self.store.path(record.id) / "userdata" / "resolv.conf"
        if record.network != "bridge" or not path.exists():
            return
        network = record.spec.network
        etcfiles.rewrite_in_place(str(path), etcfiles.resolv_conf_for(
            "private", list(network.dns), network.dns_search, network.dns_options,
            self._etc_names(record, newest_first=True)))

    def _etc_names(self, record: ContainerRecord, *, newest_first: bool = False):
        """What /etc/hosts and /etc/resolv.conf say of the container's bridge networks (set up: see
        bridge.status); None for other modes. `newest_first`: the network connected last gives the
        first DNS server (as podman's connect)."""
        if record.network != "bridge":
            return None
        from pyctr.container.etcfiles import BridgeNames
        from pyctr.network import bridge

        order = list(record.networks)
        return BridgeNames(record.name, **bridge.etc_names(self.store.path(record.id),
                                                           order[::-1] if newest_first else order))

    def _write_bundle(self, record: ContainerRecord, rootfs: Path, netns: str | None = None,
                      console_size: tuple[int, int] | None = None) -> None:
        from pyctr.container import etcfiles, ocimap, userdb
        from pyctr.runtime import spec

        uid, gid, groups, home = userdb.resolve_user(str(rootfs), record.user or None)
        network = record.spec.network
        etc = etcfiles.write_etc_files(
            str(self.store.path(record.id) / "userdata"), record.hostname, "private" if netns else record.network,
            network.add_hosts, dns_servers=ocimap.dns_servers(record, netns), dns_search=network.dns_search,
            dns_options=network.dns_options, bridge=self._etc_names(record) if netns else None,
        )
        if record.network.startswith("container:"):  # its hosts and resolv.conf are the other's, as podman
            donor = self.store.path(record.network[10:]) / "userdata"
            etc.update({f"/etc/{n}": str(donor / n) for n in ("hosts", "resolv.conf") if (donor / n).exists()})
            from pyctr.pod.members import add_to_hosts

            add_to_hosts(donor / "hosts", record.name)  # the members of a pod know each other's names
        from pyctr.container import passwd

        etc.update(passwd.write_files(str(self.store.path(record.id) / "userdata"), str(rootfs), record, uid, gid))
        from pyctr.container import shm

        shm.mount_for(str(self.store.path(record.id)), record.spec, ocimap.DEFAULT_SHM_SIZE)  # shareable /dev/shm
        # runc wants the rootfs free of symlinks (a --root under a symlinked directory).
        spec_options = ocimap.spec_options(record, rootfs=os.path.realpath(rootfs), uid=uid, gid=gid, groups=groups,
                                           home=home, etc_files=etc, netns=netns, rootless=self.config.rootless,
                                           container_dir=str(self.store.path(record.id)),
                                           namespace_path=self._namespace_path,
                                           notify_proxy=_notify_proxy(record, self.store.state_dir(record.id)))
        bundle = self.store.bundle(record.id)
        makedirs(bundle)
        generated = spec.generate(spec_options)
        if record.tty and console_size:
            # The terminal's size from the first instruction (a resize only follows the start).
            generated["process"]["consoleSize"] = {"height": console_size[0], "width": console_size[1]}
        # Compact: json's C encoder (indent= takes the pure-Python one, ~1.5 ms here); runc reads it.
        atomic_write(bundle / "config.json", json.dumps(generated, separators=(",", ":")).encode(),
                     durable=False)  # written again at every start

    def _namespace_path(self, container_id: str, kind: str) -> str:
        status = self.store.status(container_id)
        if status.state not in ("running", "paused") or not status.pid:
            raise ContainerStateError(f"cannot join the {kind} namespace of container {container_id[:12]}: it is {status.state}")
        return f"/proc/{status.pid}/ns/{kind}"


    @contextlib.contextmanager
    def rootfs(self, record: ContainerRecord):
        """The container's root filesystem, mounted for the block if it is not running."""
        with self.store.lock(record.id):
            merged = self.store.rootfs(record.id)
            was_mounted = merged.exists() and mountmod.is_mountpoint(str(merged))
            path = self._mount_rootfs(record)
            try:
                yield str(path)
            finally:
                if not was_mounted:
                    self._unmount_rootfs(record)


    # -- exec --------------------------------------------------------------------------------

    def exec_process(self, record: ContainerRecord, args: list[str], *, tty: bool, env: list[str], workdir: str | None,
                     user: str | None, privileged: bool = False, path: Path | None = None) -> Path:
        """Write the process.json for `runc exec` (to `path`): the container's process with
        these changes. Whether the command exists is runc's to say (podman's words, then)."""
        from pyctr.container import execs

        self._require_running(record, "exec into")  # (exec sessions check require_exec_state first)
        spec = json.loads((self.store.bundle(record.id) / "config.json").read_text())
        process = execs.exec_process(spec["process"], str(self.store.rootfs(record.id)), args, tty=tty, env=env,
                                     workdir=workdir, user=user, privileged=privileged)
        path = path or self.store.state_dir(record.id) / f"exec-{os.getpid()}-{time.monotonic_ns()}.json"
        atomic_write_json(path, process)
        return path

    def require_exec_state(self, record: ContainerRecord) -> None:
        status = self.store.status(record.id)
        if status.state != "running":
            self._settle(record, status)
            error = ContainerStateError("can only create exec sessions on running containers: container state improper")
            error.exit_code = EXIT_EXEC_FAILED
            raise error

    def start_exec(self, record: ContainerRecord, session_dir: Path, process_file: Path, *, tty: bool, stdin: bool,
                   attach: bool, shim: ShimLauncher | None = None, pass_fds: list[int] = ()) -> Started:
        """Start an exec session under its own shim (`runc exec --detach`): the process, its
        stdio and its exit record outlive the caller. Started.client as with start()."""
        from pyctr.container.execs import shim_config

        shim = shim or ShimLauncher()
        config = shim_config(record.id, self.store.bundle(record.id), session_dir, process_file, self.runc,
                             tty=tty, stdin=stdin, preserve_fds=len(pass_fds))
        config["events"] = _events_for_shim(record, self.config)  # the shim records exec_died, whoever waits
        report = shim.go(config,
                         attach=attach, pass_fds=pass_fds)
        if "error" in report:
            shim.client.close()
            raise error_from_runc(str(report["error"]))
        return Started(int(report["pid"]), session_dir, shim.client if attach else None)


def _notify_proxy(record: ContainerRecord, state_dir) -> str:
    """--sdnotify container under NOTIFY_SOCKET: the shim's socket that the container gets."""
    from pyctr.systemd import notify

    return notify.proxy_path(record.spec.lifecycle.sdnotify, state_dir)


def _events_for_shim(record: ContainerRecord, config: Config) -> dict:
    """What the shim's events of the container carry; {} when events are off."""
    from pyctr import events

    if not events.enabled(getattr(config, "events_backend", None)):
        return {}
    return {"runroot": str(config.runroot), "id": record.id, "name": record.name, "image": record.image_name,
            "attributes": dict(record.labels)}
