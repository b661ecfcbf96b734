"""One build step's root filesystem and, for RUN, its process.

A step works in a directory of its own under `<root>/build/` (held by a lock while the build
lives, so that a later build can clean up after one that was killed): an overlay of the image
so far with a fresh upper directory, which afterwards holds exactly the step's changes.

RUN goes through the container path (a ContainerSpec, a ContainerRecord that is never stored,
pyctr.container.ocimap and pyctr.runtime.spec: the same capabilities, seccomp profile, masked
paths and /etc files as `pyctr run`), and runc runs it in the foreground with no shim: a build
step is not a container anyone manages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from pyctr.linux import mount as mountmod
from pyctr.linux.fsutil import makedirs

BUILD_DIR = "build"


def _lock(path: Path):
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def clean_stale(config, runc) -> None:
    """Remove what builds that died left behind: their runc containers, mounts and directories."""
    import fcntl

    base = Path(config.root) / BUILD_DIR
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return
    for name in names:
        directory = base / name
        if not name.startswith("b-") or not directory.is_dir():
            continue
        try:
            fd = os.open(directory / "lock", os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            fd = None
            try:
                if time.time() - os.stat(directory).st_mtime < 60:
                    continue  # a build that is just taking its lock
            except FileNotFoundError:
                continue
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # a live build
        try:
            _remove_step_dir(directory, runc, name, config)
        finally:
            if fd is not None:
                os.close(fd)


def _remove_step_dir(directory: Path, runc, name: str, config=None) -> None:
    for step in sorted(directory.glob("s*")):
        _teardown(step, runc, f"{name}-{step.name}", config)
    shutil.rmtree(directory, ignore_errors=True)


def _teardown(step: Path, runc, container_id: str, config=None) -> None:
    if runc is not None and runc.exists(container_id):
        subprocess.run(runc.delete_argv(container_id, force=True), stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if config is not None:
        _teardown_network(step, config, container_id)
    from pyctr.container import shm

    shm.unmount_for(str(step))
    merged = step / "merged"
    if merged.is_dir() and mountmod.is_mountpoint(str(merged)):
        mountmod.unmount(str(merged), lazy=True)


class BuildDir:
    """The directory of one build under <root>/build/, locked while it lives; removed at the end."""

    def __init__(self, config, runc, layers):
        self.config, self.runc, self.layers = config, runc, layers
        self.roots: dict[tuple, str] = {}
        self.id = f"b-{os.getpid()}-{time.monotonic_ns() % 10**9}"
        self.path = Path(config.root) / BUILD_DIR / self.id
        self.count = 0
        makedirs(self.path, 0o700)
        self._fd = _lock(self.path / "lock")

    def step(self) -> "StepRoot":
        self.count += 1
        return StepRoot(self, self.path / f"s{self.count}", f"{self.id}-s{self.count}")

    def image_root(self, chain_ids: list[str]) -> str:
        """A read-only mount of these layers (another stage or image, for COPY --from or a bind
        mount), kept until the build ends."""
        key = tuple(chain_ids)
        if key in self.roots:
            return self.roots[key]
        self.count += 1
        path = self.path / f"s{self.count}"
        merged = path / "merged"
        makedirs(merged, 0o755)
        if chain_ids:
            mountmod.mount_at(self.layers.rootfs_mount(chain_ids, rootless=self.config.rootless), str(merged))
        self.roots[key] = str(merged)
        return str(merged)

    def close(self) -> None:
        try:
            _remove_step_dir(self.path, self.runc, self.id, self.config)
        finally:
            os.close(self._fd)


class StepRoot:
    """An overlay of `chain_ids` with a fresh upper directory, mounted at `merged` for the block."""

    def __init__(self, build: BuildDir, path: Path, container_id: str):
        self.build, self.path, self.container_id = build, path, container_id
        self.upper, self.work, self.merged = path / "upper", path / "work", path / "merged"

    def mount(self, layers, chain_ids: list[str]) -> None:
        for directory in (self.upper, self.work, self.merged):
            makedirs(directory, 0o755)
        mountmod.mount_at(layers.rootfs_mount(chain_ids, upper=self.upper, work=self.work,
                                              rootless=self.build.config.rootless), str(self.merged))

    def unmount(self) -> None:
        _teardown(self.path, self.build.runc, self.container_id, self.build.config)

    def discard(self) -> None:
        self.unmount()
        shutil.rmtree(self.path, ignore_errors=True)

    def run(self, *, args: list[str], env: list[str], workdir: str, user: str, hostname: str, network: str,
            mounts: list[dict], image_name: str, stdout=None, stderr=None, etc: dict | None = None,
            template: dict | None = None) -> int:
        """Run `args` in the mounted root (runc in the foreground) -> its exit status (128+N if killed)."""
        from pyctr.container import etcfiles, ocimap, passwd, shm, userdb
        from pyctr.container.spec import ContainerSpec
        from pyctr.container.store import ContainerRecord
        from pyctr.linux.fsutil import atomic_write_json
        from pyctr.runtime import spec as runtimespec

        config = self.build.config
        spec = ContainerSpec.from_json(template) if template else ContainerSpec.for_image(image_name)
        spec.image.name, spec.process.command = image_name, list(args)
        spec.network.mode = network or None
        spec.storage.no_hosts = bool((etc or {}).get("no_hosts"))  # --no-hosts: the image's /etc/hosts
        spec.validate()
        from pyctr.container.create import default_network

        network = default_network(spec, config.rootless)  # as a container's: bridge, or slirp4netns rootless
        record = ContainerRecord(id=self.container_id, name=self.container_id, created=time.time(),
                                 spec_data=spec.to_json(), image_id="", image_name=image_name, args=list(args),
                                 env=list(env), workdir=workdir or "/", user=user, hostname=hostname,
                                 network=network, mounts=list(mounts))
        rootfs = os.path.realpath(self.merged)
        uid, gid, groups, home = userdb.resolve_user(rootfs, user or None)
        userdata = str(self.path / "userdata")
        netns, names = _setup_network(self.path, config, record, spec)
        wanted = etc or {}
        etc = etcfiles.write_etc_files(userdata, hostname, "private" if netns else network,
                                       list(wanted.get("add_hosts") or []), dns_servers=list(wanted.get("dns_servers") or []),
                                       dns_search=list(wanted.get("dns_search") or []),
                                       dns_options=list(wanted.get("dns_options") or []), bridge=names)
        etc.update(passwd.write_files(userdata, rootfs, record, uid, gid))
        shm.mount_for(str(self.path), spec, ocimap.DEFAULT_SHM_SIZE)
        options = ocimap.spec_options(record, rootfs=rootfs, uid=uid, gid=gid, groups=groups, home=home,
                                      etc_files=etc, netns=netns, rootless=config.rootless,
                                      container_dir=str(self.path))
        generated = runtimespec.generate(options)
        bundle = self.path / "bundle"
        makedirs(bundle)
        atomic_write_json(bundle / "config.json", generated)
        runc = self.build.runc
        argv = runc.run_argv(self.container_id, str(bundle))
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, close_fds=True)
        try:
            status = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            if runc.exists(self.container_id):
                subprocess.run(runc.delete_argv(self.container_id, force=True), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return 128 - status if status < 0 else status


def _setup_network(step: Path, config, record, spec):
    """The step's network namespace, as a container's (a bridge network, slirp4netns rootless):
    -> (its path or None for the other modes, what /etc/hosts and resolv.conf say of it)."""
    if record.network == "slirp4netns":
        from pyctr.network import slirp

        return str(slirp.setup(config.runroot, record.id, [])), None
    if record.network != "bridge":
        return None, None
    from pyctr.container.create import network_attachments
    from pyctr.container.etcfiles import BridgeNames
    from pyctr.network import bridge
    from pyctr.network.store import NetworkStore

    attachments = network_attachments(config.networks_dir, spec, "bridge")
    definitions = NetworkStore(config.networks_dir)
    networks = {name: definitions.get(name) for name in attachments}
    path, _, held = bridge.setup(step, config.runroot, container_id=record.id, name=record.name,
                                 attachments=attachments, networks=networks, ports=[], rootless=config.rootless)
    for sock in held:  # no published ports: nothing to hold
        sock.close()
    return path, BridgeNames(record.name, **bridge.etc_names(step, list(attachments)))


def _teardown_network(step: Path, config, container_id: str) -> None:
    from pyctr.network import bridge, slirp

    if (step / bridge.RECORD).exists():
        bridge.teardown(step, config.runroot, container_id=container_id, rootless=config.rootless)
    slirp.teardown(config.runroot, container_id)
